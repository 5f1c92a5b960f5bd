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

The blocking one is cti.protocol.blocking's (it imports no Twisted, so a
shell command starts fast); both raise `RemoteError` (with the protocol
error `code`) when the server refuses a request.  After login the
Twisted client sends a Heartbeat every interval the server asked for.
When the connection ends, `closed` fires; what was still waiting for an
answer, and any request made after, fails with `ConnectionClosed`, whose
message ends with the reason the server gave in its last frame,
`SessionClosed` ("server shutdown", "connection refused: ..."), if it
gave one (`close_reason`).
"""
from twisted.internet import defer, endpoints, protocol, task
from twisted.logger import Logger

from cti.protocol.blocking import BlockingClient, ConnectionClosed, InvokeIds, RemoteError
from cti.protocol.framing import FrameError, Framer, Message, encode

__all__ = ["BlockingClient", "ClientProtocol", "ConnectionClosed", "RemoteError", "connect"]

log = Logger()


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
