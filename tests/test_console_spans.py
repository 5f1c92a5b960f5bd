# SPDX-License-Identifier: GPL-2.0-or-later
"""The supervisor console says when a T1 span is in alarm
(cti.agent.supervisor, step 5; cti.agent.model.Spans).

Calls stop coming when a span goes down; the line under the console's
header says which span, in what state, with which alarms, since when.
Against tests.test_agent_desktop's `FakeClient` on a task.Clock: what
the console asks, how the events change the line, that a login which may
not watch the spans is left in peace.  Against the real server
(tests.centre) in virtual time: the simulator raises a red alarm on
dtiB1, clears it, and the span comes back after [faults] span_healthy_s.
"""
import time
from dataclasses import replace

from twisted.internet import defer

from cti.agent.model import Floor, Spans
from cti.agent.supervisor import SupervisorConsole
from cti.agent.widgets import span_text
from cti.auth import hash_password
from cti.protocol.client import RemoteError
from cti.server.config import UserConfig, load_server_config
from tests.centre import Centre
from tests.test_agent_desktop import (
    NOW,
    SUPERVISOR_SERVICES,
    FakeClient,
    clock_at,
    console,
    floor,
    run,
    supervisor_answers,
    text,
)
from tests.test_agent_reconnect import Link, advance, on_centre, until

SUPERVISOR = {"role": "supervisor", "services": SUPERVISOR_SERVICES}
TIMESLOTS = [f"dtiB1T{n}" for n in range(1, 25)]


def span(state="in_service", since=NOW - 3600, alarms=(), name="dtiB1"):
    """A span's snapshot, as the server gives it (docs/protocol.md, section 6)."""
    return {"device": name, "kind": "span", "state": state, "since": since,
            "alarms": list(alarms), "timeslots": TIMESLOTS,
            "outOfService": 0 if state == "in_service" else 24, "alarmHistory": [],
            "history": [], "calls": []}


def devices(*spans):
    """Every device of the fake server: a trunk, a station, then the spans."""
    out = {"dtiB1T1": {"device": "dtiB1T1", "kind": "trunk", "state": "idle"},
           "msiB1C9": {"device": "msiB1C9", "kind": "station", "state": "onhook"}}
    out.update((s["device"], s) for s in spans)
    return out


def at(seconds):
    """A time as the console shows it: the desk's wall clock."""
    return time.strftime("%H:%M:%S", time.localtime(seconds))


def event(fake, name, state, alarms, alarm=None):
    body = {"device": "dtiB1", "state": state, "alarms": alarms, "monitor": 5}
    if alarm is not None:
        body["alarm"] = alarm
    fake.emit(name, **body)


def shown(app):
    """What the span line says, and its colour ("down", "recovering" or
    None); None when it is not shown at all."""
    line = app.query_one("#spans")
    if not line.display:
        return None
    colour = next((c for c in ("down", "recovering") if line.has_class(c)), None)
    return text(app, "#spans"), colour


def status_is_clean(app):
    return not app.query_one("#status").has_class("error")


# -- against the fake server ----------------------------------------------------------
def test_the_spans_are_found_in_the_device_list_and_monitored():
    fake = FakeClient(supervisor_answers(*floor(), devices=devices(span())))

    async def scenario(pilot):
        sent = fake.sent("Snapshot", "MonitorStart")
        assert ("Snapshot", {"object": "device", "id": "*"}) in sent
        device_monitors = [p["id"] for s, p in sent
                           if s == "MonitorStart" and p["object"] == "device"]
        assert device_monitors == ["msiB1C9", "dtiB1"]      # its phone, the span: no trunk
        assert shown(pilot.app) == ("Lines: all in service", None)

    run(console(fake), scenario)


def test_without_spans_the_console_shows_no_line():
    fake = FakeClient(supervisor_answers(*floor(), devices=devices()))

    async def scenario(pilot):
        assert shown(pilot.app) is None
        assert [p["id"] for s, p in fake.sent("MonitorStart")
                if p["object"] == "device"] == ["msiB1C9"]

    run(console(fake), scenario)


def test_the_line_follows_the_span_down_recovering_and_back():
    fake = FakeClient(supervisor_answers(*floor(), devices=devices(span())))
    app = console(fake)

    async def scenario(pilot):
        event(fake, "SpanAlarm", "down", ["red"], "red")
        await pilot.pause()
        down_at = app.clock.seconds()
        assert shown(app) == (f"dtiB1 DOWN red since {at(down_at)} — 24 timeslots out "
                              "of service", "down")
        await advance(pilot, 4)                    # another alarm: down since the first
        event(fake, "SpanAlarm", "down", ["blue", "red"], "blue")
        await pilot.pause()
        assert shown(app)[0].startswith(f"dtiB1 DOWN blue, red since {at(down_at)}")
        await advance(pilot, 30)
        event(fake, "SpanAlarmCleared", "down", ["blue"], "red")
        await pilot.pause()
        assert shown(app) == (f"dtiB1 DOWN blue since {at(down_at)} — 24 timeslots out "
                              "of service", "down")
        event(fake, "SpanAlarmCleared", "recovering", [], "blue")
        await pilot.pause()
        assert shown(app) == (f"dtiB1 recovering since {at(NOW + 34)} — 24 timeslots out "
                              "of service", "recovering")
        await advance(pilot, 10)
        event(fake, "SpanInService", "in_service", [])
        await pilot.pause()
        assert shown(app) == ("Lines: all in service", None)
        assert status_is_clean(app)

    run(app, scenario)


def test_a_span_down_at_start_shows_since_the_server_says():
    down = span("down", since=NOW - 125, alarms=["los"])
    fake = FakeClient(supervisor_answers(*floor(), devices=devices(
        span(name="dtiB2"), down, span("recovering", since=NOW - 5, name="dtiB3"))))

    async def scenario(pilot):
        assert shown(pilot.app) == (
            f"dtiB1 DOWN los since {at(NOW - 125)} — 24 timeslots out of service\n"
            f"dtiB3 recovering since {at(NOW - 5)} — 24 timeslots out of service", "down")

    run(console(fake), scenario)


def test_a_span_on_a_later_page_of_the_device_list_is_found():
    """Snapshot device * comes a page at a time (docs/protocol.md, section 5):
    the spans come after the channels."""
    answers = supervisor_answers(*floor(), devices=devices(span("down", alarms=["oof"])))
    every = answers["Snapshot"]

    def paged(params):
        answer = every(params)
        if params["object"] != "device":
            return answer
        page = answer["snapshot"]
        if "after" not in params:
            return {**answer, "snapshot": page[:2], "next": page[1]["device"]}
        return {**answer, "snapshot": page[2:], "next": None}
    fake = FakeClient({**answers, "Snapshot": paged})

    async def scenario(pilot):
        assert ("Snapshot", {"object": "device", "id": "*", "after": "msiB1C9"}) \
            in fake.sent("Snapshot")
        assert shown(pilot.app)[0].startswith("dtiB1 DOWN oof")

    run(console(fake), scenario)


def test_a_refused_span_monitor_or_list_is_quiet():
    """A login that may not watch the spans: nothing on the status line, at
    start or at any refresh, and no line."""
    forbidden = RemoteError({"code": "forbidden", "service": "MonitorStart",
                             "message": "your view is your teams' (north)"})
    answers = supervisor_answers(*floor(), devices=devices(span()))
    monitor = answers["MonitorStart"]
    fake = FakeClient({**answers, "MonitorStart": lambda p: forbidden
                       if p["id"] == "dtiB1" else monitor(p)})
    app = console(fake)

    async def scenario(pilot):
        assert ("MonitorStart", {"object": "device", "id": "dtiB1"}) in fake.sent()
        assert shown(app) is None and status_is_clean(app)
        await advance(pilot, 5)                                 # the figures read again
        assert shown(app) is None and status_is_clean(app)
        assert text(app, "#status") == ""

    run(app, scenario)

    refused = FakeClient({**supervisor_answers(*floor()), "Snapshot": lambda p: RemoteError(
        {"code": "forbidden", "service": "Snapshot", "message": "not for you"})
        if p["object"] == "device" else supervisor_answers(*floor())["Snapshot"](p)})
    app = console(refused)

    async def listed(pilot):
        assert shown(app) is None and status_is_clean(app)

    run(app, listed)


def test_another_refusal_of_a_span_monitor_is_said():
    """Not a question of what this login may see: the supervisor should know
    the lines are not watched."""
    broken = RemoteError({"code": "internal_error", "service": "MonitorStart",
                          "message": "incident 7"})
    answers = supervisor_answers(*floor(), devices=devices(span()))
    monitor = answers["MonitorStart"]
    fake = FakeClient({**answers, "MonitorStart": lambda p: broken
                       if p["id"] == "dtiB1" else monitor(p)})

    async def scenario(pilot):
        assert text(pilot.app, "#status") == "MonitorStart refused: internal_error: incident 7"

    run(console(fake), scenario)


def test_reconnected_the_console_reads_the_spans_again():
    fake = FakeClient(supervisor_answers(*floor(), devices=devices(
        span("down", alarms=["red"]))))
    back = FakeClient(supervisor_answers(*floor(), devices=devices(
        span("recovering", since=NOW + 0.5))))
    app = SupervisorConsole(fake, SUPERVISOR, clock_at(), station="msiB1C9",
                            dial=lambda: defer.succeed((back, SUPERVISOR)),
                            reconnect_s=(1.0,))

    async def scenario(pilot):
        assert shown(app)[1] == "down"
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        assert ("MonitorStart", {"object": "device", "id": "dtiB1"}) in back.sent()
        assert shown(app) == (f"dtiB1 recovering since {at(NOW + 0.5)} — 24 timeslots out "
                              "of service", "recovering")
        back.emit("SpanInService", device="dtiB1", state="in_service", alarms=[])
        await pilot.pause()
        assert shown(app) == ("Lines: all in service", None)

    run(app, scenario)


# -- the model --------------------------------------------------------------------------
def test_a_span_first_heard_of_in_an_event_has_no_timeslot_count_and_recovers_without_alarms():
    now = [NOW]
    spans = Spans(lambda: now[0])
    assert spans.apply({"event": "SpanAlarm", "device": "dtiB2", "alarm": "yellow",
                        "state": "down", "alarms": ["yellow"]})
    [down] = spans.out_of_service()
    assert span_text(down) == f"dtiB2 DOWN yellow since {at(NOW)}"
    assert not spans.apply({"event": "SpanAlarm", "device": "dtiB2", "alarm": "yellow",
                            "state": "down", "alarms": ["yellow"]})     # nothing new
    # The last alarm cleared, the span recovers, even told "down" with none
    # left (the server tells of the clearing before its span moves on).
    now[0] += 7
    assert spans.apply({"event": "SpanAlarmCleared", "device": "dtiB2", "alarm": "yellow",
                        "state": "down", "alarms": []})
    assert (down.state, down.since, down.alarms) == ("recovering", NOW + 7, ())
    # The floor hands span events to its spans, and nothing else.
    floor = Floor(lambda: NOW)
    assert floor.apply({"event": "SpanInService", "device": "dtiB1", "state": "in_service",
                        "alarms": []}) is False
    assert floor.spans.out_of_service() == []


# -- against the real server ---------------------------------------------------------------
def span_centre(users=()):
    """The sample centre with its spans started ([faults] span_healthy_s 2)."""
    config = load_server_config("etc/cti.toml")
    config = replace(config, faults=replace(config.faults, span_healthy_s=2),
                     users=config.users + tuple(users))
    centre = Centre(config)
    centre.server.startService()
    return centre


def supervisor_console(centre, user="sup"):
    client, login = Link(centre, user, "supervisor").first()
    return SupervisorConsole(client, login, centre.clock)


def test_a_supervisor_sees_the_span_go_down_and_come_back():
    centre = span_centre()
    app = supervisor_console(centre)

    async def scenario(pilot):
        await until(centre, app, lambda: shown(app) == ("Lines: all in service", None),
                    "the spans read")
        centre.sim.span_alarm("dtiB1", "red")
        await until(centre, app, lambda: shown(app)[1] == "down", "the span down")
        down_at = app.floor.spans.spans["dtiB1"].since
        assert shown(app)[0] == (f"dtiB1 DOWN red since {at(down_at)} — 24 timeslots out "
                                 "of service")
        centre.sim.span_alarm("dtiB1", "red", on=False)
        await until(centre, app, lambda: shown(app)[1] == "recovering", "recovering")
        assert shown(app)[0].startswith("dtiB1 recovering since ")
        await until(centre, app, lambda: shown(app) == ("Lines: all in service", None),
                    "back in service", within_ms=3_000)
        assert status_is_clean(app)

    try:
        on_centre(centre, app, scenario)
    finally:
        centre.server.center.stop()


def test_a_supervisor_of_teams_sees_no_span_and_no_error():
    """Its view is its teams' stations: the device list has no span, and
    the console asks nothing more of it."""
    centre = span_centre([UserConfig("nsup", frozenset({"supervisor"}), hash_password("1234"),
                                     teams=("north",))])
    app = supervisor_console(centre, "nsup")

    async def scenario(pilot):
        await until(centre, app, lambda: len(app.floor.agents) == 3, "north's agents")
        centre.sim.span_alarm("dtiB1", "red")
        centre.run(6_000)                          # a refresh of the figures meanwhile
        await pilot.pause()
        assert shown(app) is None and status_is_clean(app)
        assert app.client.asked.count("MonitorStart") == 2        # agents, queues: *

    try:
        on_centre(centre, app, scenario)
    finally:
        centre.server.center.stop()
