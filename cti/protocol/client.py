# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""Clients of the cti protocol: one for Twisted programs, one for scripts.

Twisted::

    client = yield connect(reactor, "tcp:127.0.0.1:7500")
    yield client.login("flow1", "secret", "flow")
    client.on_event(lambda name, body, invoke_id: print(name, body))
    result = yield client.call("MonitorStart", object="queue", id="sales")

A blocking one for scripts and tests::

    with BlockingClient("127.0.0.1", 7500) as c:      # tls=client_context(...) for TLS
        c.login("sup", "secret", "supervisor")
        c.call("Snapshot", object="queue", id="sales")
        name, body, invoke_id = c.next_event(timeout=5)

Both raise `RemoteError` (with the protocol error `code`) when the server
refuses a request.  After login the Twisted client sends a Heartbeat every
interval the server asked for.  When the connection ends, `closed` fires;
what was still waiting for an answer, and any request made after, fails
with `ConnectionClosed`, whose message ends with the reason the server
gave in its last frame, `SessionClosed` ("server shutdown", "connection
refused: ..."), if it gave one (`close_reason`).
"""
import socket
import time
from collections import deque

from twisted.internet import defer, endpoints, protocol, task
from twisted.logger import Logger

from cti.protocol.framing import FrameError, Framer, Message, encode

log = Logger()


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


class ClientProtocol(protocol.Protocol):
    def __init__(self, clock=None):
        self.clock = clock
        self.framer = Framer()
        self._ids = InvokeIds()
        self._waiting = {}
        self._listeners = []
        self._heartbeat = None
        self.closed = defer.Deferred()
        self.session = None
        self.close_reason = None        # the reason of the server's SessionClosed, if sent

    # -- requests ----------------------------------------------------------
    def call(self, service, **params):
        """Send a request; Deferred of its result (RemoteError on refusal,
        ConnectionClosed at once when the connection has ended)."""
        if self.closed.called:
            return defer.fail(ConnectionClosed(self._closed_why("not connected: the "
                                                                "connection is closed")))
        invoke_id = self._ids.next(self._waiting)
        d = defer.Deferred()
        self._waiting[invoke_id] = d
        body = {"service": service}
        if params:
            body["params"] = params
        self.transport.write(encode(Message("request", invoke_id, body)))
        d.invoke_id = invoke_id
        return d

    @defer.inlineCallbacks
    def login(self, user, password, role, client="cti-python"):
        result = yield self.call("Login", user=user, password=password, role=role,
                                 client=client)
        self.session = result
        if self.clock is None:
            from twisted.internet import reactor
            self.clock = reactor
        self._heartbeat = task.LoopingCall(self._beat)
        self._heartbeat.clock = self.clock
        self._heartbeat.start(result["heartbeatS"], now=False)
        return result

    @defer.inlineCallbacks
    def snapshot_all(self, kind):
        """Deferred of the snapshots of every object of `kind` the session
        may see: Snapshot id "*", page after page."""
        result = yield self.call("Snapshot", object=kind, id="*")
        snaps = list(result["snapshot"])
        while result.get("next") is not None:
            result = yield self.call("Snapshot", object=kind, id="*", after=result["next"])
            snaps += result["snapshot"]
        return snaps

    def _beat(self):
        self.call("Heartbeat").addErrback(lambda f: None)

    def on_event(self, listener):
        """listener(name, body, invoke_id) for every event."""
        self._listeners.append(listener)

    def off_event(self, listener):
        """No more events for a listener of `on_event`."""
        self._listeners.remove(listener)

    # -- frames in ---------------------------------------------------------
    def dataReceived(self, data):
        try:
            frames = self.framer.feed(data)
        except FrameError as e:
            log.error("server sent a malformed frame: {e}", e=e)
            self.transport.loseConnection()
            return
        for invoke_id, item in frames:
            if isinstance(item, FrameError):
                log.error("server sent a bad frame: {e}", e=item)
                continue
            if item.kind == "event":
                name = item.body.get("event")
                if name == "SessionClosed":
                    self.close_reason = item.body.get("reason")
                for listener in list(self._listeners):
                    listener(name, item.body, invoke_id)
                continue
            d = self._waiting.pop(invoke_id, None)
            if d is None:
                if item.kind == "error":
                    log.error("server error: {body}", body=item.body)
                continue
            if item.kind == "response":
                d.callback(item.body.get("result", {}))
            else:
                d.errback(RemoteError(item.body))

    def connectionLost(self, reason=protocol.connectionDone):
        if self._heartbeat and self._heartbeat.running:
            self._heartbeat.stop()
        waiting, self._waiting = self._waiting, {}
        for d in waiting.values():
            d.errback(ConnectionClosed(self._closed_why("connection closed before the answer")))
        self.closed.callback(None)

    def _closed_why(self, what):
        return f"{what} ({self.close_reason})" if self.close_reason else what


def connect(reactor, description, clock=None, protocol_class=ClientProtocol):
    """Deferred of a connected ClientProtocol (or of protocol_class, a
    subclass); description is an endpoint string such as "tcp:127.0.0.1:7500"
    or "unix:/run/cti.sock"."""
    endpoint = endpoints.clientFromString(reactor, description)
    return endpoints.connectProtocol(endpoint, protocol_class(clock or reactor))


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

    @classmethod
    def from_socket(cls, sock, timeout=10.0):
        """A client over a socket connected some other way."""
        return cls(sock=sock, timeout=timeout)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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
        return self.call("Login", user=user, password=password, role=role, client=client)

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
