# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti events` and the session objects it and `cti show sessions` read:
what is watched, what is kept, how a line reads; the sessions' snapshots
and events (tests.centre, virtual time)."""
import io

import pytest

from cti import events, show
from cti.protocol.client import RemoteError

PASSWORD = "1234"


def test_what_is_watched_by_default_and_when_named():
    assert events.targets([], "admin") == [("call", "*"), ("agent", "*"), ("queue", "*"),
                                           ("device", "*"), ("session", "*")]
    assert ("session", "*") not in events.targets([], "supervisor")
    assert events.targets(["call", "agent:1005"], "admin") == [("call", "*"),
                                                               ("agent", "1005")]
    with pytest.raises(ValueError, match="'calls': watch one of call"):
        events.targets(["calls"], "admin")


def test_filters_keep_events_whose_name_and_fields_match():
    wanted = events.filters(["event=Call*", "call=c1*"])
    assert events.matches(wanted, "CallCleared", {"call": "c17"})
    assert not events.matches(wanted, "Delivered", {"call": "c17"})
    assert not events.matches(wanted, "CallCleared", {"call": "c27"})
    assert not events.matches(events.filters(["agent=1005"]), "Queued", {"call": "c1"})
    with pytest.raises(ValueError, match="give KEY=PATTERN"):
        events.filters(["agent"])


def test_a_line_has_the_time_the_name_and_the_fields_but_the_monitor():
    text = events.line("Queued", {"monitor": 3, "call": "c9", "ani": "2125550001",
                                  "data": {}, "priority": 0}, 0.25)
    assert text.endswith("Queued           call=c9 ani=2125550001 priority=0")
    assert text[8:12] == ".250"


class Replay:
    """A BlockingClient's stand-in: the events given, each taking `step_s`
    of a fake clock to come (None: a wait that times out), then the end."""

    def __init__(self, frames, step_s=1.0):
        self.frames = list(frames)
        self.calls = []
        self.now = 0.0
        self.step_s = step_s

    def monotonic(self):
        return self.now

    def call(self, service, **params):
        self.calls.append((self.now, service, params))
        return {}

    def next_event(self, timeout=None):
        if not self.frames:
            raise EOFError
        frame = self.frames.pop(0)
        if frame is None:
            self.now += timeout
            raise TimeoutError
        self.now += self.step_s
        return frame


def test_tail_monitors_and_writes_each_matching_event_once():
    queued = ("Queued", {"call": "c1", "monitor": 1}, 0)
    client = Replay([queued, ("Queued", {"call": "c1", "monitor": 2}, 0),
                     ("Delivered", {"call": "c1", "monitor": 1}, 0),
                     ("CallCleared", {"call": "c1", "monitor": 1}, 0)])
    out = io.StringIO()
    with pytest.raises(EOFError):
        events.tail(client, [("call", "*"), ("queue", "*")], events.filters(["event=*ed"]),
                    out, as_json=True, clock=lambda: 1.5, monotonic=client.monotonic)
    assert [c[1:] for c in client.calls] == [
        ("MonitorStart", {"object": "call", "id": "*"}),
        ("MonitorStart", {"object": "queue", "id": "*"})]
    assert out.getvalue().splitlines() == [             # the queue's copy left out
        '{"at": 1.5, "event": "Queued", "call": "c1"}',
        '{"at": 1.5, "event": "Delivered", "call": "c1"}',
        '{"at": 1.5, "event": "CallCleared", "call": "c1"}']


def test_tail_sends_heartbeats_on_time_however_many_events_come():
    client = Replay([("Queued", {"call": f"c{i}"}, 0) for i in range(20)], step_s=0.5)
    with pytest.raises(EOFError):
        events.tail(client, [("call", "*")], {}, io.StringIO(), heartbeat_s=3.0,
                    monotonic=client.monotonic)
    beats = [at for at, service, _ in client.calls if service == "Heartbeat"]
    assert beats == [3.0, 6.0, 9.0]


def test_tail_keeps_a_quiet_session_alive():
    client = Replay([None, None, ("Queued", {"call": "c1"}, 0)])
    with pytest.raises(EOFError):
        events.tail(client, [("call", "*")], {}, io.StringIO(), heartbeat_s=2.0,
                    monotonic=client.monotonic)
    assert [at for at, service, _ in client.calls if service == "Heartbeat"] == [2.0, 4.0]


def test_an_administrator_sees_the_sessions_and_their_comings_and_goings(centre):
    admin = centre.client()
    centre.call(admin.login("admin", PASSWORD, "admin", client="cti-events"))
    seen = centre.events(admin)
    centre.call(admin.call("MonitorStart", object="session", id="*"))
    agent = centre.client()
    centre.call(agent.login("1005", PASSWORD, "agent", client="desktop"))
    centre.run(1_000)
    rows = {row[0]: row for row in show.rows("sessions", centre.call(
        admin.snapshot_all("session")))}
    assert [(r[1], r[2], r[3], r[5]) for r in rows.values()] == [
        ("admin", "admin", "cti-events", "active"), ("1005", "agent", "desktop", "active")]
    assert rows["1"][8] == "3" and rows["1"][9] == "1"     # login, monitor, snapshot; 1 monitor
    centre.call(agent.call("Logout"))
    centre.run(100)
    assert [(name, body["user"]) for name, body in seen] == [
        ("SessionLoggedIn", "1005"), ("SessionEnded", "1005")]
    assert seen[1][1]["reason"] == "logged out" and seen[1][1]["state"] == "closed"


def test_sessions_are_for_administrators_only(centre):
    supervisor = centre.client()
    centre.call(supervisor.login("sup", PASSWORD, "supervisor"))
    for service in ("Snapshot", "MonitorStart"):
        with pytest.raises(RemoteError, match="forbidden: sessions are for administrators"):
            centre.call(supervisor.call(service, object="session", id="*"))


def test_an_event_that_happens_again_is_printed_again():
    once = events.Once()
    raised = {"device": "dtiB1", "alarm": "los", "monitor": 4}
    assert once("SpanAlarm", raised)
    assert not once("SpanAlarm", {**raised, "monitor": 5})     # the same, another monitor
    assert once("SpanAlarm", raised)                            # raised again
    assert not once("SpanAlarm", {**raised, "monitor": 5})
