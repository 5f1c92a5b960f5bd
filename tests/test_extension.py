# SPDX-License-Identifier: GPL-2.0-or-later
"""A flow sends its caller to an extension (RouteSelect `extension`, an
agent's code): the agent's phone rings wherever the agent is logged in,
the caller hears music meanwhile; answered, they talk (tones both ways);
not free, rung out or abandoned, the flow has the caller again.  End to
end on the simulated boards, agent 1005 at msiB1C5."""
import pytest

from cti.protocol.client import RemoteError
from cti.storage.models import CallRecord
from tests.centre import Centre
from tests.rig import hears
from tests.test_callcenter import (
    agent_ready,
    ask,
    flow_server,
    names,
    route_request,
    speech,
    tone_wav,
)

CALLER_HZ, AGENT_HZ = 1000, 1500


@pytest.fixture
def centre():
    return Centre()


def in_the_ivr(centre, trunk="dtiB1T1"):
    """A caller in a bare flow server's hands: (flow client, seen, call id, caller)."""
    client, seen = flow_server(centre)
    caller = centre.sim.endpoint(trunk)
    caller.call(ani="2125550101", dnis="5550100")
    call = route_request(centre, seen)["call"]
    ask(centre, client, seen, "AnswerCall", call=call)
    centre.run_until(lambda: caller.state == "connected", what="the caller hears the answer")
    return client, seen, call, caller


def route_to(centre, client, call, extension, **params):
    """RouteSelect to `extension`, not waited for: the Deferred's box."""
    box = []
    client.call("RouteSelect", call=call, extension=extension, **params).addBoth(box.append)
    return box


def refusal(box):
    [failure] = box
    failure.trap(RemoteError)
    return failure.value


def test_the_agent_answers_and_talks_with_the_caller(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    client, seen, call, caller = in_the_ivr(centre)
    phone = centre.sim.endpoint("msiB1C5")
    box = route_to(centre, client, call, "1005", data={"account": "42"})
    centre.run_until(lambda: phone.state == "ringing", what="the extension rings")
    assert centre.center.acd.agents["1005"].state == "reserved"
    assert centre.center.moh.listening                 # the caller hears music meanwhile
    centre.run_until(lambda: "Delivered" in names(events), what="the screen pop")
    delivered = dict(events)["Delivered"]                # the caller's own call
    assert (delivered["call"], delivered["device"], delivered["agent"]) == (
        call, "msiB1C5", "1005")
    assert (delivered["callingDevice"], delivered["data"]) == ("2125550101", {"account": "42"})
    assert box == []                                    # no answer until the agent's
    phone.offhook()
    centre.run_until(lambda: box, what="RouteSelect's response")
    assert box == [{"result": "connected", "extension": "1005"}]
    assert centre.center.acd.agents["1005"].state == "busy"
    assert centre.center.calls[call].state == "talking"
    assert "Established" in names(events)
    for end in (caller, phone):
        end.capture(True)
    caller.send_tone_custom(CALLER_HZ, 0, -10, on_ms=1000)
    phone.send_tone_custom(AGENT_HZ, 0, -10, on_ms=1000)
    centre.run(1000)
    assert hears(phone.read_capture()[2000:], CALLER_HZ)
    assert hears(caller.read_capture()[2000:], AGENT_HZ)
    with pytest.raises(RemoteError) as e:              # out of the flow's hands now
        centre.call(client.call("SetCallData", call=call, data={"y": "2"}))
    assert e.value.code == "invalid_state"
    phone.onhook()
    centre.run_until(lambda: call not in centre.center.calls, what="the agent hangs up")
    centre.run(300)
    assert centre.center.acd.agents["1005"].state == "ready"   # no queue, no wrap-up
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert (cdr.agent, cdr.station, cdr.disposition, cdr.released_by, cdr.queue) == (
        "1005", "msiB1C5", "answered", "agent", None)
    assert cdr.attached["account"] == "42"
    assert centre.server.voice_pool.busy == set()
    assert not centre.center.moh.listening


def test_an_agent_not_ready_fails_the_transfer_and_the_flow_has_the_caller_again(
        centre, tmp_path):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    centre.call(agent.call("SetAgentState", state="notReady", reason="lunch"))
    client, seen, call, caller = in_the_ivr(centre)
    box = route_to(centre, client, call, "1005")
    centre.run_until(lambda: box, what="RouteSelect's response")
    failed = refusal(box)
    assert (failed.code, failed.body["reason"]) == ("call_failed", "not_ready")
    assert centre.center.calls[call].state == "ivr"
    assert centre.sim.endpoint("msiB1C5").state != "ringing"
    caller.capture(True)                               # the flow's prompts reach the caller
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    result = centre.call(client.call("PlayMessage", call=call,
                                     prompts=[tone_wav(tmp_path / "c900-1.wav", 1.0)]))
    assert result == {"reason": "end"}
    assert hears(caller.read_capture(), 440)
    assert not centre.center.moh.listening
    queued = centre.call(client.call("RouteSelect", call=call, queue="support"))
    assert queued == {"result": "queued", "queue": "support"}


def test_a_ring_the_boards_refuse_fails_saying_so_not_busy(centre, monkeypatch, tracebacks):
    """The boards refuse the caller's audio as agent 1005's extension is
    to ring (ResourceBusy, as Consultations says a refusal): RouteSelect
    fails with that refusal as its reason, not "busy", the agent stays
    ready and the flow has the caller again."""
    from cti.server.errors import ResourceBusy
    agent_ready(centre, "1005", "msiB1C5")
    client, seen, call, caller = in_the_ivr(centre)

    def refused_by_the_card(*args, **kwargs):
        raise ResourceBusy("cannot start the consultation: the boards refused the caller's "
                           "audio: the card is gone")
    monkeypatch.setattr(centre.center.consults, "start", refused_by_the_card)
    box = route_to(centre, client, call, "1005")
    centre.run_until(lambda: box, what="RouteSelect's response")
    failed = refusal(box)
    assert failed.code == "call_failed" and "the card is gone" in failed.body["reason"]
    assert centre.center.calls[call].state == "ivr"
    assert centre.center.acd.agents["1005"].state == "ready"
    assert tracebacks == []


def test_the_extension_rings_out_after_timeout_s(centre):
    agent_ready(centre, "1005", "msiB1C5")
    client, seen, call, caller = in_the_ivr(centre)
    phone = centre.sim.endpoint("msiB1C5")
    started = centre.clock.seconds()
    box = route_to(centre, client, call, "1005", timeoutS=8)
    centre.run_until(lambda: phone.state == "ringing", what="the extension rings")
    centre.run_until(lambda: box, within_ms=20_000, what="RouteSelect's response")
    assert 8 <= centre.clock.seconds() - started < 9
    failed = refusal(box)
    assert (failed.code, failed.body["reason"]) == ("call_failed", "no_answer")
    centre.run_until(lambda: phone.state != "ringing", what="the phone stops ringing")
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.center.calls[call].state == "ivr"
    centre.call(client.call("ClearConnection", call=call))
    centre.run(300)
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert (cdr.agent, cdr.disposition) == (None, "ivr_only")


def test_a_phone_that_stops_ringing_first_ends_the_ring_once(centre):
    """timeoutS longer than the phone's own ring (six cycles): the phone
    rings out first, the flow gets call_failed once, and the ring timeout
    that was still running comes to nothing (no second end, no error)."""
    agent_ready(centre, "1005", "msiB1C5")
    client, seen, call, caller = in_the_ivr(centre)
    phone = centre.sim.endpoint("msiB1C5")
    box = route_to(centre, client, call, "1005", timeoutS=300)
    centre.run_until(lambda: phone.state == "ringing", what="the extension rings")
    centre.run_until(lambda: box, within_ms=120_000, what="RouteSelect's response")
    failed = refusal(box)
    assert (failed.code, failed.body["reason"]) == ("call_failed", "no_answer")
    assert centre.center.calls[call].state == "ivr"
    client.call("KeepCall", call=call, timeoutS=300)    # the flow keeps its caller
    centre.run(290_000)                           # past the 300 s ring timeout: nothing
    assert centre.center.consults.by_station == {} and phone.state != "ringing"
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.center.calls[call].state == "ivr"
    centre.call(client.call("ClearConnection", call=call))


def test_the_caller_hangs_up_while_the_extension_rings(centre):
    agent_ready(centre, "1005", "msiB1C5")
    client, seen, call, caller = in_the_ivr(centre)
    phone = centre.sim.endpoint("msiB1C5")
    box = route_to(centre, client, call, "1005")
    centre.run_until(lambda: phone.state == "ringing", what="the extension rings")
    caller.hangup()
    centre.run_until(lambda: box, what="RouteSelect's response")
    assert refusal(box).code == "call_failed"
    centre.run_until(lambda: call not in centre.center.calls, what="the call ends")
    centre.run_until(lambda: phone.state != "ringing", what="the phone stops ringing")
    assert centre.center.acd.agents["1005"].state == "ready"
    assert not any(name == "RouteEnd" for name, _, _ in seen)   # it had left the flow
    centre.run(300)
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert (cdr.disposition, cdr.released_by) == ("ivr_only", "caller")
    assert centre.server.voice_pool.busy == set()
    assert not centre.center.moh.listening


@pytest.mark.parametrize("params, field", [
    ({"extension": "9999"}, "extension"),              # no agent has that code
    ({"extension": "1005", "timeoutS": 2}, "timeoutS"),
    ({"queue": "support", "timeoutS": 20}, "timeoutS"),  # a queue has no ring time
])
def test_bad_destinations_are_refused_and_change_nothing(centre, params, field):
    client, seen, call, caller = in_the_ivr(centre)
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, data={"x": "1"}, **params))
    assert (e.value.code, e.value.body["field"]) == ("invalid_field", field)
    assert centre.center.calls[call].state == "ivr"
    assert "x" not in centre.center.calls[call].call.data


def test_the_sample_menu_reaches_the_repair_desk_then_back_when_it_is_busy(centre):
    """The flow tier and the sample flows: 2 (support), 3 (the repair desk,
    extension 1006).  Frank answers the first caller; a second caller finds
    him busy, hears "the extension is busy" and the support menu again."""
    from tests.centre import flow_tier

    tier = flow_tier(centre)
    frank, events = agent_ready(centre, "1006", "msiB1C6")
    phone = centre.sim.endpoint("msiB1C6")

    def walk_to_the_repair_desk(trunk, ani):
        caller = centre.sim.endpoint(trunk)
        caller.call(ani=ani, dnis="5550100")
        centre.run_until(lambda: caller.state == "connected", what="the IVR answers")
        centre.run(3000)
        caller.send_digits("2")                     # support
        centre.run(3000)
        caller.send_digits("3")                     # the repair desk
        return caller

    first = walk_to_the_repair_desk("dtiB1T3", "2125550001")
    centre.run_until(lambda: phone.state == "ringing", within_ms=20_000,
                     what="Frank's phone rings")
    phone.offhook()
    centre.run_until(lambda: tier.outcomes, what="the flow hands the caller over")
    [(call_id, outcome)] = tier.outcomes
    assert (outcome.how, outcome.target) == ("transferred", ("extension", "1006"))
    assert centre.center.calls[call_id].agent.id == "1006"

    second = walk_to_the_repair_desk("dtiB1T4", "2125550002")
    ic = next(ic for ic in centre.center.calls.values() if ic.id != call_id)
    centre.run(5000)                                  # RouteSelect: call_failed, busy
    assert "place" not in [t.event for t in ic.phase.history]    # refused before ringing
    second.capture(True)
    centre.run(3000)
    assert speech(second.read_capture()) > 300       # "busy", then the support menu
    assert ic.state == "ivr" and second.state == "connected"
    assert centre.center.acd.agents["1006"].state == "busy"       # still with the first
    assert first.state == "connected"



def test_an_extension_logged_off_is_refused_before_the_caller_is_answered(centre):
    """A trunk answered is a call charged: RouteSelect to an extension that
    cannot ring fails at once, the caller's line still unanswered."""
    from tests.test_callcenter import flow_server, route_request

    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T5").call(ani="2125550005", dnis="5550100")
    call = route_request(centre, seen)["call"]
    assert centre.center.calls[call].trunk.state == "offered"
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, extension="1002"))   # logged off
    assert (e.value.code, e.value.body["reason"]) == ("call_failed", "logged_off")
    assert centre.center.calls[call].trunk.state == "offered"             # not answered
