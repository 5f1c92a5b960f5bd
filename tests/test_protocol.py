# SPDX-License-Identifier: GPL-2.0-or-later
"""The protocol: framing, sessions, roles, monitors and both clients.

No real time and no real sockets except for the blocking client (a
socketpair): the hub runs on a task.Clock and sessions on in-memory
transports."""
import json
import socket
import struct
import threading

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from twisted.internet import defer, task
from twisted.internet.testing import StringTransport
from twisted.test.iosim import connectedServerAndClient

from cti.auth import check_hash_format, hash_password, verify_password
from cti.protocol.bodies import MAX_INT
from cti.protocol.client import BlockingClient, ClientProtocol, RemoteError
from cti.protocol.framing import MAX_BODY, FrameError, Framer, Message, encode
from cti.protocol.server import Hub, SessionFactory, User
from cti.protocol.services import ERRORS, Field, ProtocolError, Service

PASSWORD = "s3cret"
HASH = hash_password(PASSWORD)
USERS = [User("ivr", frozenset({"flow"}), HASH),
         User("alice", frozenset({"agent"}), HASH),
         User("sue", frozenset({"agent", "supervisor"}), HASH)]


# -- helpers -----------------------------------------------------------------
def raw_frame(kind, invoke_id, body, version=1):
    """A frame built by hand from the layout in docs/protocol.md, not by
    the code under test."""
    payload = body if isinstance(body, bytes) else json.dumps(body).encode()
    return struct.pack(">IBBI", 6 + len(payload), version, kind, invoke_id) + payload


class Wire:
    """A session on an in-memory transport, reading back what it sent."""

    def __init__(self, hub):
        self.hub = hub
        self.session = SessionFactory(hub).buildProtocol(None)
        self.transport = StringTransport()
        self.session.makeConnection(self.transport)
        self.framer = Framer()

    def send(self, data):
        self.session.dataReceived(data)

    def request(self, invoke_id, service, **params):
        body = {"service": service}
        if params:
            body["params"] = params
        self.send(raw_frame(1, invoke_id, body))
        return self.read()

    def read(self):
        data = self.transport.value()
        self.transport.clear()
        return [item for _, item in self.framer.feed(data)]

    def login(self, user="alice", role="agent", invoke_id=1):
        [reply] = self.request(invoke_id, "Login", user=user, password=PASSWORD, role=role)
        assert reply.kind == "response", reply.body
        return reply.body["result"]


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture
def hub(clock):
    hub = Hub(clock, USERS, heartbeat_s=10)
    calls = {"c1": {"call": "c1", "state": "queued"}}
    hub.provide_snapshots("call", calls.get)
    hub.provide_snapshots("queue", lambda q: {"queue": q, "waiting": 0} if q == "sales" else None)
    return hub


@pytest.fixture
def wire(hub):
    return Wire(hub)


def error_of(items):
    [item] = items
    assert item.kind == "error", item
    return item.body["code"], item


# -- framing -------------------------------------------------------------------
def test_golden_frame_from_the_documentation():
    """The 33-byte Heartbeat request of docs/protocol.md, byte for byte."""
    built = encode(Message("request", 7, {"service": "Heartbeat"}))
    assert built == raw_frame(1, 7, b'{"service":"Heartbeat"}')
    assert len(built) == 33 and built[:10].hex(" ") == "00 00 00 1d 01 01 00 00 00 07"


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-MAX_INT, MAX_INT) | st.text(max_size=20)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                 max_size=4),
    max_leaves=20)
messages = st.builds(Message, st.sampled_from(["request", "response", "error", "event"]),
                     st.integers(0, 2**32 - 1), st.dictionaries(st.text(max_size=10),
                                                                json_values, max_size=5))


@settings(deadline=None, derandomize=True, max_examples=200)
@given(st.lists(messages, min_size=1, max_size=5), st.integers(1, 64))
def test_frames_survive_any_chunking(batch, chunk):
    """Any sequence of frames, cut into chunks of any size, comes out whole
    and equal to what went in."""
    data = b"".join(encode(m) for m in batch)
    framer, out = Framer(), []
    for i in range(0, len(data), chunk):
        out.extend(item for _, item in framer.feed(data[i:i + chunk]))
    assert out == batch and framer.buffered == 0


def test_every_chunk_size_of_a_real_exchange():
    data = b"".join(encode(Message("event", i, {"event": "Delivered", "n": i}))
                    for i in range(5))
    for size in range(1, len(data) + 1):
        framer, out = Framer(), []
        for i in range(0, len(data), size):
            out.extend(framer.feed(data[i:i + size]))
        assert [m.body["n"] for _, m in out] == list(range(5))


def test_impossible_lengths_are_refused_before_the_body_arrives():
    for length in (0, 5, 6 + MAX_BODY + 1, 2**32 - 1):
        with pytest.raises(FrameError) as e:
            Framer().feed(struct.pack(">I", length))
        assert e.value.code == "malformed_frame"


def test_bad_version_kind_and_body_are_reported_per_frame():
    framer = Framer()
    items = framer.feed(raw_frame(1, 3, {}, version=2) + raw_frame(9, 4, {})
                        + raw_frame(1, 5, b"\xff\xfe") + raw_frame(1, 6, b"[1]")
                        + raw_frame(1, 7, {"ok": True}))
    codes = [(i, x.code if isinstance(x, FrameError) else x.body) for i, x in items]
    assert codes == [(3, "unsupported_version"), (4, "malformed_frame"), (5, "bad_json"),
                     (6, "bad_json"), (7, {"ok": True})]


def test_encode_refuses_what_cannot_be_sent():
    with pytest.raises(ValueError, match="kind"):
        encode(Message("chat", 1, {}))
    with pytest.raises(ValueError, match="32 bits"):
        encode(Message("event", 2**32, {}))
    with pytest.raises(ValueError, match="limit"):
        encode(Message("event", 1, {"x": "a" * (MAX_BODY + 1)}))


# -- passwords -----------------------------------------------------------------
def test_passwords_are_stored_hashed_and_checked():
    assert PASSWORD not in HASH and check_hash_format(HASH) is None
    assert verify_password(HASH, PASSWORD)
    assert not verify_password(HASH, "wrong")
    assert hash_password(PASSWORD) != HASH                     # salted
    assert "cti passwd" in check_hash_format("plaintext")
    assert not verify_password("plaintext", "plaintext")


# -- sessions --------------------------------------------------------------------
def test_login_then_heartbeat(wire):
    result = wire.login()
    assert result["role"] == "agent" and result["heartbeatS"] == 10
    assert "Heartbeat" in result["services"] and "Login" in result["services"]
    [reply] = wire.request(2, "Heartbeat")
    assert reply.kind == "response" and reply.invoke_id == 2
    assert reply.body == {"service": "Heartbeat", "result": {"time": 0.0}}


@pytest.mark.parametrize("user,password,role", [
    ("nobody", PASSWORD, "agent"), ("alice", "wrong", "agent"), ("alice", PASSWORD, "admin")])
def test_bad_credentials_are_refused_without_saying_which(wire, user, password, role):
    code, item = error_of(wire.request(1, "Login", user=user, password=password, role=role))
    assert code == "bad_credentials" and item.invoke_id == 1
    assert wire.session.user is None


def test_requests_before_login_are_refused(wire):
    code, item = error_of(wire.request(4, "MonitorStart", object="queue", id="sales"))
    assert code == "not_logged_in" and item.body["service"] == "MonitorStart"


def test_a_second_login_is_refused(wire):
    wire.login()
    code, _ = error_of(wire.request(2, "Login", user="sue", password=PASSWORD, role="agent"))
    assert code == "already_logged_in"


def test_role_is_checked_on_every_request(hub, wire):
    hub.catalogue.add(Service("ForceLogout", {"supervisor"}, {"agent": Field(str)}),
                      lambda request, params: {"done": params["agent"]})
    wire.login("sue", "agent")
    code, item = error_of(wire.request(2, "ForceLogout", agent="1001"))
    assert code == "forbidden" and "supervisor" in item.body["message"]
    sup = Wire(hub)
    sup.login("sue", "supervisor")
    [reply] = sup.request(2, "ForceLogout", agent="1001")
    assert reply.body["result"] == {"done": "1001"}


@pytest.mark.parametrize("body,code,where", [
    ({"params": {}}, "missing_field", "service"),
    ({"service": 5}, "invalid_field", "service"),
    ({"service": "Nope"}, "unknown_service", None),
    ({"service": "MonitorStart", "params": {"object": "queue"}}, "missing_field", "id"),
    ({"service": "MonitorStart", "params": {"object": "queue", "id": 7}}, "invalid_field", "id"),
    ({"service": "MonitorStart", "params": {"object": "planet", "id": "x"}}, "invalid_field",
     "object"),
    ({"service": "MonitorStart", "params": {"object": "queue", "id": "sales", "x": 1}},
     "invalid_field", "x"),
    ({"service": "MonitorStart", "params": []}, "invalid_field", "params"),
    ({"service": "Heartbeat", "extra": 1}, "invalid_field", "extra"),
])
def test_bad_requests_get_an_error_naming_the_field(wire, body, code, where):
    wire.login()
    wire.send(raw_frame(1, 9, body))
    got, item = error_of(wire.read())
    assert got == code and item.invoke_id == 9
    assert item.body.get("field") == where
    assert item.body["message"]
    [reply] = wire.request(10, "Heartbeat")             # the session is unharmed
    assert reply.kind == "response"


def test_frames_a_client_must_not_send(wire):
    wire.login()
    wire.send(raw_frame(2, 3, {"service": "Heartbeat"}))
    assert error_of(wire.read())[0] == "bad_kind"
    wire.send(raw_frame(1, 0, {"service": "Heartbeat"}))
    assert error_of(wire.read())[0] == "invalid_field"
    wire.send(raw_frame(1, 4, b"{not json"))
    assert error_of(wire.read())[0] == "bad_json"
    wire.send(raw_frame(1, 5, {"service": "Heartbeat"}, version=9))
    assert error_of(wire.read())[0] == "unsupported_version"
    assert not wire.transport.disconnecting


def test_a_malformed_length_closes_the_connection(wire):
    wire.login()
    wire.send(struct.pack(">I", 3) + b"junk")
    items = wire.read()
    assert items[0].kind == "error" and items[0].body["code"] == "malformed_frame"
    assert items[1].body["event"] == "SessionClosed"
    assert wire.transport.disconnecting and wire.session not in wire.hub.sessions


def test_duplicate_invoke_ids_while_outstanding(hub, wire):
    pending = defer.Deferred()
    hub.catalogue.add(Service("Slow", {"agent"}), lambda request, params: pending)
    wire.login()
    assert wire.request(5, "Slow") == []
    assert error_of(wire.request(5, "Heartbeat"))[0] == "duplicate_invoke_id"
    pending.callback({"finally": True})
    [reply] = wire.read()
    assert reply.invoke_id == 5 and reply.body["result"] == {"finally": True}
    assert wire.request(5, "Heartbeat")[0].kind == "response"     # free again


def test_a_handler_crash_is_an_internal_error_and_the_session_lives(hub, wire):
    hub.catalogue.add(Service("Crash", {"agent"}), lambda request, params: 1 / 0)
    wire.login()
    code, item = error_of(wire.request(2, "Crash"))
    incident = item.body["incident"]
    assert code == "internal_error" and f"incident {incident}" in item.body["message"]
    assert "division" not in item.body["message"]        # the details are in the log only
    assert wire.request(3, "Heartbeat")[0].kind == "response"


def test_silent_sessions_are_closed_after_three_heartbeats(clock, hub, wire):
    wire.login()
    clock.advance(29)
    wire.request(2, "Heartbeat")
    clock.advance(29)
    assert not wire.transport.disconnecting
    clock.advance(2)
    [closed] = wire.read()
    assert closed.body == {"event": "SessionClosed",
                           "reason": "no frame for 30 s (heartbeat every 10 s)"}
    assert wire.transport.disconnecting and wire.session not in hub.sessions


def test_a_connection_that_never_logs_in_is_closed(clock, wire):
    clock.advance(30)
    [closed] = wire.read()
    assert "no login" in closed.body["reason"] and wire.transport.disconnecting


def test_logout_closes_the_session(clock, wire):
    wire.login()
    assert wire.request(2, "Logout")[0].kind == "response"
    clock.advance(0)
    assert wire.read()[0].body["event"] == "SessionClosed"
    assert wire.transport.disconnecting


# -- monitors and events ---------------------------------------------------------
def test_monitor_start_returns_a_snapshot_and_events_follow(hub, wire):
    wire.login()
    [reply] = wire.request(2, "MonitorStart", object="queue", id="sales")
    result = reply.body["result"]
    assert result["snapshot"] == {"queue": "sales", "waiting": 0}
    hub.publish("queue", "sales", "Queued", {"call": "c1"})
    hub.publish("queue", "support", "Queued", {"call": "c2"})          # not monitored
    [event] = wire.read()
    assert event.kind == "event" and event.invoke_id == 0
    assert event.body == {"event": "Queued", "call": "c1", "monitor": result["monitor"]}


def test_monitoring_what_does_not_exist_is_refused(wire):
    wire.login()
    code, item = error_of(wire.request(2, "MonitorStart", object="queue", id="nowhere"))
    assert code == "no_such_object" and item.body["id"] == "nowhere"
    code, _ = error_of(wire.request(3, "MonitorStart", object="agent", id="1001"))
    assert code == "no_such_object"


def test_events_echo_the_invoke_id_only_to_the_session_that_asked(hub):
    a, b = Wire(hub), Wire(hub)
    a.login("alice")
    b.login("sue", "supervisor")
    a.request(2, "MonitorStart", object="call", id="c1")
    b.request(2, "MonitorStart", object="call", id="c1")

    def clear(request, params):
        hub.publish("call", "c1", "ConnectionCleared", {"call": "c1"}, cause=request.cause)
        return {}
    hub.catalogue.add(Service("ClearCall", {"agent"}, {"call": Field(str)}), clear)
    items = a.request(42, "ClearCall", call="c1")
    assert [(i.kind, i.invoke_id) for i in items] == [("event", 42), ("response", 42)]
    [other] = b.read()
    assert other.body["event"] == "ConnectionCleared" and other.invoke_id == 0


def test_wildcard_monitors_are_for_supervisors(hub):
    agent, sup = Wire(hub), Wire(hub)
    agent.login("alice")
    sup.login("sue", "supervisor")
    assert error_of(agent.request(2, "MonitorStart", object="agent", id="*"))[0] == "forbidden"
    [reply] = sup.request(2, "MonitorStart", object="agent", id="*")
    hub.publish("agent", "1001", "AgentReady", {"agent": "1001"})
    [event] = sup.read()
    assert event.body["monitor"] == reply.body["result"]["monitor"]


def test_monitor_stop_and_session_end_stop_events(hub, wire):
    closed = []
    hub.on_session_closed.append(closed.append)
    wire.login()
    [reply] = wire.request(2, "MonitorStart", object="queue", id="sales")
    monitor = reply.body["result"]["monitor"]
    assert wire.request(3, "MonitorStop", monitor=monitor)[0].kind == "response"
    hub.publish("queue", "sales", "Queued", {})
    assert wire.read() == []
    assert error_of(wire.request(4, "MonitorStop", monitor=monitor))[0] == "no_such_object"
    wire.request(5, "MonitorStart", object="queue", id="sales")
    wire.session.connectionLost()
    assert hub.monitors == {} and closed == [wire.session]


def test_snapshot_and_services(wire):
    wire.login("ivr", "flow")
    [reply] = wire.request(2, "Snapshot", object="call", id="c1")
    assert reply.body["result"]["snapshot"] == {"call": "c1", "state": "queued"}
    [reply] = wire.request(3, "GetServices")
    assert "MonitorStart" in reply.body["result"]["services"]


def test_error_codes_are_documented():
    with open("docs/protocol.md") as f:
        doc = f.read()
    for code in ERRORS:
        assert f"`{code}`" in doc, f"error code {code} is missing from docs/protocol.md"
    with pytest.raises(ValueError):
        ProtocolError("made_up", "x")


def test_a_service_declares_only_real_error_codes_of_its_own():
    """`errors` names codes of ERRORS, and none of the common ones any
    request may get (a string by mistake is caught too)."""
    assert Service("X", {"agent"}, errors=("queue_full",)).may_answer("queue_full")
    assert Service("X", {"agent"}).may_answer("invalid_field")
    assert not Service("X", {"agent"}).may_answer("queue_full")
    for errors in (("made_up",), ("forbidden",), "queue_full"):
        with pytest.raises(ValueError):
            Service("X", {"agent"}, errors=errors)


def test_core_services_are_documented(hub):
    with open("docs/protocol.md") as f:
        doc = f.read()
    for service in hub.catalogue.services():
        assert f"### {service.name}" in doc, f"{service.name} is missing from docs/protocol.md"


# -- the clients -----------------------------------------------------------------
def test_twisted_client_against_the_server(clock, hub):
    client_proto = ClientProtocol(clock)
    client, server, pump = connectedServerAndClient(
        lambda: SessionFactory(hub).buildProtocol(None), lambda: client_proto)
    events = []
    client.on_event(lambda name, body, invoke_id: events.append((name, invoke_id)))
    d = client.login("alice", PASSWORD, "agent")
    pump.flush()
    assert d.result["role"] == "agent"
    d = client.call("MonitorStart", object="queue", id="nowhere")
    pump.flush()
    failure = d.result
    assert isinstance(failure.value, RemoteError) and failure.value.code == "no_such_object"
    d.addErrback(lambda f: None)
    d = client.call("MonitorStart", object="queue", id="sales")
    pump.flush()
    hub.publish("queue", "sales", "Queued", {"call": "c1"})
    pump.flush()
    assert events == [("Queued", 0)]
    for _ in range(5):                        # the client keeps the session alive
        clock.advance(10)
        pump.flush()
    assert server in hub.sessions


def test_blocking_client_over_a_socket(hub):
    ours, theirs = socket.socketpair()

    class SocketTransport:
        disconnecting = False

        def write(self, data):
            theirs.sendall(data)

        def loseConnection(self):
            self.disconnecting = True

    session = SessionFactory(hub).buildProtocol(None)
    session.makeConnection(SocketTransport())

    def serve():
        while not session.closed:
            data = theirs.recv(65536)
            if not data:
                break
            session.dataReceived(data)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    client = BlockingClient.from_socket(ours, timeout=5)
    assert client.login("sue", PASSWORD, "supervisor")["role"] == "supervisor"
    result = client.call("MonitorStart", object="queue", id="sales")
    with pytest.raises(RemoteError) as e:
        client.call("Snapshot", object="queue", id="nowhere")
    assert e.value.code == "no_such_object"
    hub.publish("queue", "sales", "Queued", {"call": "c9"})
    name, body, invoke_id = client.next_event(timeout=5)
    assert (name, body["call"], body["monitor"]) == ("Queued", "c9", result["monitor"])
    client.close()
    thread.join(5)


def test_cti_passwd_prints_a_hash_that_verifies():
    import io

    from cti.cli import passwd

    out = io.StringIO()
    assert passwd(io.StringIO("correct horse\n"), out) == 0
    stored = out.getvalue().strip()
    assert verify_password(stored, "correct horse") and "horse" not in stored
    assert passwd(io.StringIO("\n"), io.StringIO()) == 2


def test_password_checks_run_off_the_reactor_thread(monkeypatch):
    """scrypt is slow on purpose: with a reactor that has a thread pool, a
    login's check runs there, not on the thread that serves the calls."""
    import threading

    from twisted.python.threadpool import ThreadPool

    import cti.protocol.server as server_module
    from cti.auth import hash_password
    from cti.protocol.server import Hub, User
    from tests.test_storage import ThreadedClock

    seen = []
    real = server_module.verify_password
    monkeypatch.setattr(server_module, "verify_password",
                        lambda *a: seen.append(threading.get_ident()) or real(*a))
    clock = ThreadedClock()
    pool = ThreadPool(1, 1)
    pool.start()
    clock.getThreadPool = lambda: pool
    try:
        user = User("u", frozenset({"agent"}), hash_password("pw"))
        hub = Hub(clock, [user])
        assert clock.wait(hub._verify(user.password_hash, "pw")) is True
        assert clock.wait(hub._verify(user.password_hash, "nope")) is False
    finally:
        pool.stop()
    assert seen and threading.get_ident() not in seen
