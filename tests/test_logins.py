# SPDX-License-Identifier: GPL-2.0-or-later
"""The server's door: failed logins slowed and locked out (per name and per
address, lifted by time or by an administrator, audited), the same work for
an unknown name as for a wrong password, one Login at a time per
connection, and caps on connections.  On a task.Clock and in-memory
transports."""
import pytest
from twisted.internet import task
from twisted.internet.testing import StringTransport

import cti.protocol.server as server_module
from cti.protocol.framing import Framer
from cti.protocol.gate import Gate, Limits
from cti.protocol.server import Hub, Session
from tests.test_protocol import HASH, PASSWORD, USERS, raw_frame

LIMITS = Limits(max_connections=6, max_connections_per_source=4, max_unauthenticated=5,
                max_unauthenticated_per_source=3, window_s=600, delay_after=2, delay_s=1,
                max_delay_s=8, lockout_after=5, source_lockout_after=12, lockout_s=300)


class Door:
    """A hub with the test limits, and an audit list."""

    def __init__(self, limits=LIMITS):
        self.clock = task.Clock()
        self.audit = []
        self.hub = Hub(self.clock, [*USERS, *ADMIN], gate=Gate(
            self.clock, limits, audit=lambda action, user, **d: self.audit.append(
                (action, user, d))))

    def connect(self, source="10.0.0.7"):
        return Conn(self.hub, source)


class Conn:
    def __init__(self, hub, source):
        self.session = Session(hub, source)
        self.transport = StringTransport()
        self.session.makeConnection(self.transport)
        self.framer = Framer()
        self.next_id = 1

    def send(self, service, **params):
        invoke_id, self.next_id = self.next_id, self.next_id + 1
        body = {"service": service, **({"params": params} if params else {})}
        self.session.dataReceived(raw_frame(1, invoke_id, body))
        return invoke_id

    def read(self):
        data = self.transport.value()
        self.transport.clear()
        return [item for _, item in self.framer.feed(data)]

    def login(self, user="alice", password=PASSWORD, role="agent"):
        self.send("Login", user=user, password=password, role=role)
        return self.read()

    @property
    def closed(self):
        return self.transport.disconnecting


ADMIN = [server_module.User("root", frozenset({"admin"}), HASH)]


def attempt(door, user="alice", password="guess", source="10.0.0.66"):
    """One Login on a new connection, time run until it is answered; the
    error code (or "response")."""
    c = door.connect(source)
    c.send("Login", user=user, password=password, role="agent")
    while not (items := c.read()):
        door.clock.advance(0.5)
    c.session.connectionLost()
    return codes(items)[0]


def codes(items):
    return [i.body.get("code") if i.kind == "error" else i.kind for i in items]


@pytest.fixture
def door():
    return Door()


def test_a_good_login_answers_at_once_and_clears_the_names_failures(door):
    c = door.connect()
    assert codes(c.login(password="wrong")) == ["bad_credentials"]
    assert codes(c.login()) == ["response"]
    assert door.hub.gate._names.get("alice") is None


def test_failures_beyond_the_first_few_are_answered_after_a_doubling_delay(door):
    delays = []
    for _ in range(5):
        started = door.clock.seconds()
        assert attempt(door, password="wrong") == "bad_credentials"
        delays.append(door.clock.seconds() - started)
    assert delays == [0, 0, 1, 2, 4]          # delay_after 2, then from 1 s doubling


def test_one_login_at_a_time_on_a_connection(door):
    attempt(door, password="wrong", source="10.0.0.7")
    attempt(door, password="wrong", source="10.0.0.7")
    c = door.connect()
    c.send("Login", user="alice", password="wrong", role="agent")   # delayed 1 s
    assert c.read() == []
    assert codes(c.login()) == ["invalid_state"]       # while the other is checked
    door.clock.advance(1)
    assert codes(c.read()) == ["bad_credentials"]
    assert codes(c.login()) == ["response"]


def test_a_name_is_locked_out_after_too_many_failures_right_password_or_not(door):
    for _ in range(5):
        assert attempt(door) == "bad_credentials"
    agent = door.connect("10.0.0.7")
    [locked] = agent.login()                             # the real agent, elsewhere
    assert locked.body["code"] == "locked_out"
    assert locked.body["retryAfterS"] == 300 - 4         # locked at the 5th, answered 4 s on
    assert "UnlockLogin" in locked.body["message"]
    [(action, user, detail)] = door.audit
    assert (action, user, detail["source"], detail["failures"]) == (
        "LoginLockout", "alice", "10.0.0.66", 5)
    door.clock.advance(295)
    assert attempt(door, password=PASSWORD, source="10.0.0.7") == "locked_out"
    door.clock.advance(1)                                # lifted by time
    assert attempt(door, password=PASSWORD, source="10.0.0.7") == "response"


def test_an_unknown_name_locks_out_like_a_real_one(door):
    for _ in range(5):
        assert attempt(door, user="nobody") == "bad_credentials"
    assert attempt(door, user="nobody") == "locked_out"


def test_an_address_spraying_many_names_is_locked_out(door):
    for i in range(12):
        assert attempt(door, user=f"user{i}", source="10.9.9.9") == "bad_credentials"
    c = door.connect("10.9.9.9")
    [item] = c.login()                                   # even alice, right password
    assert item.body["code"] == "locked_out" and "10.9.9.9" in item.body["message"]
    assert door.audit[-1][2]["scope"] == "source"
    assert codes(door.connect("10.0.0.8").login()) == ["response"]   # others are not


def test_an_administrator_sees_and_lifts_a_lockout(door):
    for _ in range(5):
        attempt(door)
    door.clock.advance(40)
    admin = door.connect("10.0.0.1")
    assert codes(admin.login("root", role="admin")) == ["response"]
    admin.send("GetLoginLockouts")
    [reply] = admin.read()
    assert reply.body["result"]["lockouts"] == [
        {"user": "alice", "remainingS": 300 - 4 - 40, "failures": 5}]
    admin.send("UnlockLogin", user="alice")
    [reply] = admin.read()
    assert reply.body["result"] == {"unlocked": [{"user": "alice"}]}
    assert door.audit[-1][:2] == ("UnlockLogin", "root")
    assert codes(door.connect().login()) == ["response"]


def test_only_an_administrator_unlocks(door):
    c = door.connect()
    c.login("sue", role="supervisor")
    c.send("UnlockLogin", user="alice")
    assert codes(c.read()) == ["forbidden"]


def test_an_unknown_name_costs_the_same_password_check_as_a_wrong_password(monkeypatch, door):
    """No way to tell which names exist from the time a refusal takes: an
    unknown name is checked against a hash of the same scrypt cost."""
    checked = []
    real = server_module.verify_password
    monkeypatch.setattr(server_module, "verify_password",
                        lambda stored, pw: checked.append(stored.split("$")[:4]) or real(stored,
                                                                                        pw))
    door.connect().login(user="alice", password="wrong")
    door.connect("10.0.0.8").login(user="nobody", password="wrong")
    assert len(checked) == 2 and checked[0] == checked[1]


# -- connection caps -----------------------------------------------------------------
def refused(conn):
    items = conn.read()
    return conn.closed and [i.body.get("reason") for i in items]


def test_connections_not_logged_in_are_capped_per_address(door):
    conns = [door.connect("10.0.0.7") for _ in range(3)]
    extra = door.connect("10.0.0.7")
    [reason] = refused(extra)
    assert "10.0.0.7" in reason and "not logged in" in reason
    assert not any(c.closed for c in conns)
    assert codes(conns[0].login()) == ["response"]       # one logs in: room again
    assert not door.connect("10.0.0.7").closed


def test_connections_are_capped_per_address_and_in_total(door):
    own = []
    for _ in range(4):
        c = door.connect("10.0.0.7")
        c.login()
        own.append(c)
    [reason] = refused(door.connect("10.0.0.7"))
    assert "10.0.0.7 has the most connections" in reason
    others = [door.connect("10.0.0.8"), door.connect("10.0.0.9")]
    [reason] = refused(door.connect("10.0.0.10"))
    assert "the server has the most connections it takes (6)" in reason
    assert not any(c.closed for c in own + others)
    own[0].session.connectionLost()                      # one leaves: room again
    assert not door.connect("10.0.0.10").closed


def test_unauthenticated_connections_are_capped_in_total(door):
    for source in ("10.0.0.1", "10.0.0.2"):
        for _ in range(2):
            door.connect(source)
    door.connect("10.0.0.3")
    [reason] = refused(door.connect("10.0.0.4"))
    assert "the most connections not logged in" in reason


def test_idle_unauthenticated_connections_are_closed_and_free_their_place(door):
    conns = [door.connect() for _ in range(3)]
    door.clock.advance(30)
    assert all(c.closed for c in conns)
    assert not door.connect().closed


def test_before_login_a_frame_may_hold_only_a_few_kilobytes(door):
    c = door.connect()
    c.session.dataReceived(raw_frame(1, 1, {"service": "Heartbeat", "x": "a" * 5000})[:100])
    [error] = [i for i in c.read() if i.kind == "error"]
    assert error.body["code"] == "malformed_frame" and "4102" in error.body["message"]
    assert c.closed and c.session.framer.buffered < 200


def test_after_login_frames_may_be_large(door):
    c = door.connect()
    c.login()
    c.send("Heartbeat", pad="a" * 50_000)
    assert codes(c.read()) == ["invalid_field"]           # a field Heartbeat lacks: answered
    assert not c.closed


def test_a_right_password_checked_while_the_name_got_locked_is_refused(monkeypatch):
    """Logins checked at the same time: the wrong ones lock the name before
    the right one's check ends; it is refused, as a lockout promises."""
    from dataclasses import replace

    from twisted.internet import defer

    door = Door(replace(LIMITS, max_connections=20, max_unauthenticated=20))

    checks = []
    monkeypatch.setattr(door.hub, "_verify", lambda stored, pw: checks.append(
        (d := defer.Deferred(), pw)) or d)
    conns = [door.connect(f"10.0.1.{i}") for i in range(6)]
    for i, c in enumerate(conns):
        c.send("Login", user="alice", password=PASSWORD if i == 5 else "guess", role="agent")
    assert len(checks) == 6                                  # all in flight at once
    for d, _ in checks[:5]:
        d.callback(False)
    door.clock.advance(60)                                   # the refusals' delays
    checks[5][0].callback(True)
    [answer] = conns[5].read()
    assert answer.body["code"] == "locked_out" and conns[5].session.state == "anonymous"


def test_a_flood_of_new_names_does_not_flush_a_lockout(door, monkeypatch):
    import cti.protocol.gate as gate_module

    monkeypatch.setattr(gate_module, "MAX_TRACKED", 20)
    for _ in range(5):
        attempt(door)                                        # alice locked
    for i in range(60):
        attempt(door, user=f"spray{i}", source=f"10.2.0.{i}")
    assert attempt(door, password=PASSWORD, source="10.0.0.7") == "locked_out"
    assert len(door.hub.gate._names) <= 21


def test_a_refusal_delayed_past_the_login_timeout_is_still_answered():
    """The login timer waits while a Login is checked: a refusal delayed
    30 s reaches the client, which then has 30 s again to log in."""
    door = Door(Limits(delay_after=0, delay_s=30, max_delay_s=30, lockout_after=10))
    c = door.connect()
    door.clock.advance(29)
    c.send("Login", user="alice", password="wrong", role="agent")
    door.clock.advance(30)
    assert codes(c.read()) == ["bad_credentials"] and not c.closed
    door.clock.advance(29)
    assert not c.closed
    door.clock.advance(1)
    assert c.closed and "no login within 30 s" in str(c.read()[-1].body)


def test_one_address_shared_by_many_people_is_not_slowed_by_a_few_typos():
    """Behind one NAT, a few agents mistyping their passwords do not slow
    the others' refusals: an address is delayed only after
    `source_delay_after` failures, whatever the names."""
    from dataclasses import replace

    door = Door(replace(LIMITS, source_delay_after=6, lockout_after=100,
                        source_lockout_after=100))
    waits = []
    for i in range(8):
        started = door.clock.seconds()
        assert attempt(door, user=f"agent{i}", source="10.0.0.99") == "bad_credentials"
        waits.append(door.clock.seconds() - started)
    assert waits == [0, 0, 0, 0, 0, 0, 1, 2]
