# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""The blocking protocol client, for scripts and the shell commands (`cti
show`, `cti events`, `cti sim`, `linediag`): plain sockets and the framer,
no Twisted, so that a command that asks one thing starts in a blink::

    with BlockingClient("127.0.0.1", 7500) as c:      # tls=client_context(...) for TLS
        c.login("sup", "secret", "supervisor")
        c.call("Snapshot", object="queue", id="sales")
        name, body, invoke_id = c.next_event(timeout=5)

The errors both clients raise are here too: `RemoteError` (the server
refused: its protocol error `code`), `ConnectionClosed`.
"""
import socket
import time
from collections import deque

from cti.protocol.framing import FrameError, Framer, Message, encode


class RemoteError(Exception):
    """The server answered a request with an error."""

    def __init__(self, body):
        self.code = body.get("code", "internal_error")
        self.body = body
        super().__init__(f"{self.code}: {body.get('message', '')}")


class ConnectionClosed(Exception):
    """The connection ended before the server answered."""


class InvokeIds:
    """Invoke ids 1, 2, ... 2**32 - 1, then 1 again (0 is the events'): a
    connection of months never runs out of them; an id still waiting for
    its answer is skipped."""

    LAST = 2**32 - 1

    def __init__(self):
        self.last = 0

    def next(self, waiting=()):
        while True:
            self.last = self.last % self.LAST + 1
            if self.last not in waiting:
                return self.last


class BlockingClient:
    """A plain-socket client for scripts and tests: one request at a time,
    events queued until read.  `tls`: an `ssl.SSLContext` (such as
    cti.protocol.tls.client_context makes) to speak TLS to a "tls:"
    listener, checking its certificate for `host`."""

    def __init__(self, host=None, port=None, timeout=10.0, tls=None, sock=None):
        if sock is None:
            sock = socket.create_connection((host, port), timeout=timeout)
            if tls is not None:
                sock = tls.wrap_socket(sock, server_hostname=host)
        self.sock = sock
        self.timeout = timeout
        self.framer = Framer()
        self._ids = InvokeIds()
        self.events = deque()
        self._frames = deque()
        self.logged_in = False

    @classmethod
    def from_socket(cls, sock, timeout=10.0):
        """A client over a socket connected some other way."""
        return cls(sock=sock, timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.logout()
        self.close()

    def logout(self):
        """End the session as a client that is done does (`Logout`: the
        server says "logged out", not "connection lost"), if it is still
        there to answer."""
        if not self.logged_in:
            return
        self.logged_in = False
        try:
            self.call("Logout")
        except (OSError, ConnectionClosed, RemoteError, TimeoutError, FrameError):
            pass

    def close(self):
        self.sock.close()

    def _read_frame(self, deadline):
        while not self._frames:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError("no frame from the server in time")
            self.sock.settimeout(remaining)
            data = self.sock.recv(65536)
            if not data:
                raise ConnectionClosed("the server closed the connection")
            self._frames.extend(self.framer.feed(data))
        return self._frames.popleft()

    def call(self, service, **params):
        invoke_id = self._ids.next()
        body = {"service": service}
        if params:
            body["params"] = params
        self.sock.sendall(encode(Message("request", invoke_id, body)))
        deadline = time.monotonic() + self.timeout
        while True:
            got_id, item = self._read_frame(deadline)
            if isinstance(item, FrameError):
                raise item
            if item.kind == "event":
                self.events.append((item.body.get("event"), item.body, got_id))
            elif got_id == invoke_id:
                if item.kind == "response":
                    return item.body.get("result", {})
                raise RemoteError(item.body)

    def snapshot_all(self, kind):
        """The snapshots of every object of `kind`, page after page."""
        result = self.call("Snapshot", object=kind, id="*")
        snaps = list(result["snapshot"])
        while result.get("next") is not None:
            result = self.call("Snapshot", object=kind, id="*", after=result["next"])
            snaps += result["snapshot"]
        return snaps

    def login(self, user, password, role, client="cti-blocking"):
        result = self.call("Login", user=user, password=password, role=role, client=client)
        self.logged_in = True
        return result

    def next_event(self, timeout=None):
        """(name, body, invoke_id) of the next event, waiting up to timeout."""
        deadline = time.monotonic() + (self.timeout if timeout is None else timeout)
        while not self.events:
            got_id, item = self._read_frame(deadline)
            if isinstance(item, FrameError):
                raise item
            if item.kind == "event":
                self.events.append((item.body.get("event"), item.body, got_id))
        return self.events.popleft()
