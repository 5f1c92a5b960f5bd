# SPDX-License-Identifier: GPL-2.0-or-later
"""A span that goes into alarm carries no call (cti.server.lines.spans).

The whole server on the simulator, in virtual time: a red alarm raised
with calls talking, in the IVR and queued on the span clears each with the
alarm as its cause; its timeslots are out of service (no call taken or
placed there) until the span has been clear for [faults] span_healthy_s;
the audit and the span's device events and snapshot say so.
"""
import pytest

from cti.storage.models import AuditEntry, CallRecord
from drivers.errors import SimulatorError
from tests.centre import Centre, flow_tier
from tests.test_callcenter import agent_ready, names
from tests.test_outbound import headset_agent, two_way_t1

SPAN = "dtiB1"


@pytest.fixture
def centre():
    centre = Centre()
    centre.server.startService()
    yield centre
    centre.server.center.stop()


def talking_call(centre):
    """A support hotline call answered by agent 1005: (call id, far end)."""
    _, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at the agent")
    call_id = dict(events)["Delivered"]["call"]
    centre.sim.endpoint("msiB1C5").offhook()
    centre.run_until(lambda: centre.center.calls[call_id].state == "talking", what="talking")
    return call_id, caller


def calls_on(centre, trunk):
    call = centre.center.by_trunk.get(trunk)
    return call.id if call is not None else None


def test_red_alarm_clears_talking_ivr_and_queued_calls_with_its_cause(centre):
    flow_tier(centre)
    talking, _ = talking_call(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550100")     # the IVR menu
    centre.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550199")     # queued: no agent
    centre.run_until(lambda: calls_on(centre, "dtiB1T2") and calls_on(centre, "dtiB1T3"),
                     what="two more calls")
    in_ivr, queued = calls_on(centre, "dtiB1T2"), calls_on(centre, "dtiB1T3")
    centre.run(2_000)
    assert centre.center.calls[queued].state == "queued"
    assert centre.center.calls[in_ivr].state == "ivr"

    centre.sim.span_alarm(SPAN, "red")
    centre.run(100)
    assert centre.center.calls == {}
    cdrs = {r.call_id: r for r in centre.records.of(CallRecord)}
    cause = "span dtiB1 down: red alarm"
    for call_id, disposition in ((talking, "answered"), (in_ivr, "ivr_only"),
                                 (queued, "cleared")):
        assert (cdrs[call_id].disposition, cdrs[call_id].released_by,
                cdrs[call_id].cause) == (disposition, "network", cause)
    states = {ch.name: ch.state for ch in centre.server.channels[SPAN].channels}
    assert set(states.values()) <= {"out_of_service", "clearing"}
    assert centre.center.acd.agents["1005"].state == "workingAfterCall"
    [down] = centre.records.of(AuditEntry, action="SpanDown")
    assert down.detail == {"span": SPAN, "reason": cause, "calls_cleared": 3}
    assert [a.detail["alarm"] for a in centre.records.of(AuditEntry, action="SpanAlarm")] \
        == ["red"]


def test_no_call_is_taken_until_the_span_has_been_healthy(centre):
    healthy_s = centre.config.faults.span_healthy_s
    centre.sim.span_alarm(SPAN, "los")
    centre.run(100)
    assert {ch.state for ch in centre.server.channels[SPAN].channels} == {"out_of_service"}
    with pytest.raises(SimulatorError, match="in alarm"):   # nothing reaches us
        centre.sim.endpoint("dtiB1T1").call(ani="2125551234", dnis="5550199")

    centre.sim.span_alarm(SPAN, "los", on=False)
    centre.run(1_000)
    assert centre.server.channels[SPAN].state == "recovering"
    caller = centre.sim.endpoint("dtiB1T4")
    caller.call(ani="2125551234", dnis="5550199")           # the far end seizes meanwhile
    centre.run(2_000)
    assert calls_on(centre, "dtiB1T4") is None and caller.state != "connected"
    centre.run(healthy_s * 1000)                            # it gave up: no wink
    assert centre.server.channels[SPAN].state == "in_service"
    assert {ch.state for ch in centre.server.channels[SPAN].channels} == {"idle"}
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: calls_on(centre, "dtiB1T4"), what="a call taken again")
    [cleared] = centre.records.of(AuditEntry, action="SpanAlarmCleared")
    assert cleared.detail == {"span": SPAN, "alarm": "los"}
    assert len(centre.records.of(AuditEntry, action="SpanInService")) == 1


def test_a_span_that_flaps_stays_out_of_service(centre):
    centre.sim.span_alarm(SPAN, "oof")
    centre.run(100)
    centre.sim.span_alarm(SPAN, "oof", on=False)
    centre.run(centre.config.faults.span_healthy_s * 1000 - 1_000)
    centre.sim.span_alarm(SPAN, "oof")                      # again, before it was healthy
    centre.run(200)
    centre.sim.span_alarm(SPAN, "oof", on=False)
    centre.run(centre.config.faults.span_healthy_s * 1000 - 1_000)
    span = centre.server.channels[SPAN]
    assert span.state == "recovering"
    assert {ch.state for ch in span.channels} == {"out_of_service"}
    centre.run(2_000)
    assert span.state == "in_service" and {ch.state for ch in span.channels} == {"idle"}
    history = span.snapshot()["alarmHistory"]
    assert [a["alarm"] for a in history] == ["oof", "oof"]
    assert all(a["cleared"] is not None for a in history)


def test_supervisors_see_the_span_go_down_and_come_back(centre):
    supervisor = centre.client()
    centre.call(supervisor.login("sup", "1234", "supervisor"))
    seen = centre.events(supervisor)
    centre.call(supervisor.call("MonitorStart", object="device", id=SPAN))
    centre.sim.span_alarm(SPAN, "blue")
    centre.run(100)
    snap = centre.call(supervisor.call("Snapshot", object="device", id=SPAN))["snapshot"]
    assert (snap["state"], snap["alarms"], snap["outOfService"]) == ("down", ["blue"], 24)
    centre.sim.span_alarm(SPAN, "blue", on=False)
    centre.run(centre.config.faults.span_healthy_s * 1000 + 100)
    assert names(seen) == ["SpanAlarm", "SpanAlarmCleared", "SpanInService"]
    assert seen[0][1]["alarm"] == "blue" and seen[0][1]["state"] == "down"
    assert (seen[1][1]["state"], seen[1][1]["alarms"]) == ("recovering", [])
    assert (seen[2][1]["state"], seen[2][1]["alarms"]) == ("in_service", [])


def test_a_call_out_on_the_span_is_cleared_and_the_next_goes_elsewhere():
    centre = two_way_t1()
    centre.server.startService()
    client, events, phone = headset_agent(centre)
    centre.sim.endpoint("dtiB1T1").set_outbound("answer", 1)
    first = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers")
    centre.sim.span_alarm(SPAN, "red")
    centre.run_until(lambda: centre.center.acd.agents["1005"].state != "busy",
                     what="the call out ends")
    [cdr] = centre.records.of(CallRecord, call_id=first)
    assert (cdr.released_by, cdr.cause) == ("network", "span dtiB1 down: red alarm")

    centre.sim.endpoint("dxxxB1C1").set_outbound("answer", 1)
    second = centre.call(client.call("MakeCall", number="5551235"))["call"]
    centre.run_until(lambda: centre.center.calls.get(second) is not None, within_ms=20_000,
                     what="the second call out answered")
    assert centre.center.calls[second].trunk.name == "dxxxB1C1"    # the analog line
    assert {ch.state for ch in centre.server.channels[SPAN].channels} <= {"out_of_service",
                                                                          "clearing"}


def test_an_alarm_mid_call_takes_every_timeslot_out_of_service_at_once(centre):
    """The calls' trunks do not wait for the far end's frozen bits: no
    half-released trunk for the sweep to put right."""
    for n in (1, 2):
        centre.sim.endpoint(f"dtiB1T{n}").call(ani=f"21255500{n:02d}", dnis="5550199")
    centre.run_until(lambda: len(centre.center.calls) == 2, what="two calls")
    centre.sim.span_alarm("dtiB1", "los")
    centre.run(100)
    states = {c.name: c.state for c in centre.server.span_watches.watches["dtiB1"].timeslots}
    assert set(states.values()) == {"out_of_service"}
    centre.run(30_000)                                   # the sweep finds nothing to put right
    assert set(c.state for c in centre.server.span_watches.watches["dtiB1"].timeslots) == {
        "out_of_service"}
