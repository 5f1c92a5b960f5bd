# SPDX-License-Identifier: GPL-2.0-or-later
"""Calls out end to end on the simulated boards: an agent's own call (T1 E&M
and analog loop start), busy, glare on a two-way T1, and a caller sent out
to a number by an agent or by a flow."""
from dataclasses import replace

import pytest

from cti.protocol.client import RemoteError
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from tests.centre import Centre
from tests.rig import hears
from tests.test_callcenter import agent_ready, flow_server, names, route_request, tone_wav

AGENT_HZ, FAR_HZ, CALLER_HZ = 1500, 700, 1000


def two_way_t1():
    """The sample, its T1 group two-way (it is tried first for calls out)."""
    config = load_server_config("etc/cti.toml")
    return Centre(replace(config, trunk_groups=tuple(
        replace(g, direction="both") if g.name == "pstn_in" else g
        for g in config.trunk_groups)))


def headset_agent(centre, agent="1005", station="msiB1C5"):
    client, events = agent_ready(centre, agent, station)
    phone = centre.sim.endpoint(station)
    phone.offhook()
    centre.run_until(lambda: centre.center.channels[station].state == "offhook",
                     what="the headset on")
    return client, events, phone


def both_ways(centre, a, a_hz, b, b_hz):
    for end in (a, b):
        end.capture(True)
    a.send_tone_custom(a_hz, 0, -10, on_ms=1000)
    b.send_tone_custom(b_hz, 0, -10, on_ms=1000)
    centre.run(1000)
    heard_by_b, heard_by_a = b.read_capture()[2000:], a.read_capture()[2000:]
    return hears(heard_by_b, a_hz), hears(heard_by_a, b_hz)


def test_an_agent_calls_out_on_a_t1_trunk():
    centre = two_way_t1()
    client, events, phone = headset_agent(centre)
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 1)
    result = centre.call(client.call("MakeCall", number="5551234"))
    call_id = result["call"]
    assert centre.center.acd.agents["1005"].state == "busy"
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers")
    assert far.dialled() == "5551234"
    assert both_ways(centre, phone, AGENT_HZ, far, FAR_HZ) == (True, True)
    far.hangup()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent is free again")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert (cdr.direction, cdr.dnis, cdr.agent, cdr.disposition, cdr.released_by) == (
        "outbound", "5551234", "1005", "answered", "far_end")
    assert centre.server.voice_pool.busy == set()


def test_a_busy_number_ends_the_call_and_the_agent_is_as_before():
    centre = two_way_t1()
    client, events, phone = headset_agent(centre)
    centre.call(client.call("SetAgentState", state="notReady", reason="callbacks"))
    centre.sim.endpoint("dtiB1T1").set_outbound("busy")
    result = centre.call(client.call("MakeCall", number="5550000"))
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "notReady",
                     within_ms=20_000, what="the call fails")
    assert centre.center.acd.agents["1005"].reason == "callbacks"
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, call_id=result["call"])
    assert (cdr.disposition, cdr.cause) == ("busy", "busy")
    assert centre.server.voice_pool.busy == set()


def test_glare_on_a_two_way_t1_the_incoming_call_wins_and_ours_takes_the_next_trunk():
    centre = two_way_t1()
    client, events, phone = headset_agent(centre)
    first, second = centre.sim.endpoint("dtiB1T1"), centre.sim.endpoint("dtiB1T2")
    second.set_outbound("answer", 1)
    first.call(ani="2125550009", dnis="5550199")          # the far end seizes...
    centre.call(client.call("MakeCall", number="5551234"))  # ...as we do
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="our call connects on the next trunk")
    assert second.dialled() == "5551234"
    assert any(ic.trunk.name == "dtiB1T1" for ic in centre.center.calls.values())


def test_an_agent_calls_out_on_an_analog_line():
    centre = Centre()
    client, events, phone = headset_agent(centre)
    far = centre.sim.endpoint("dxxxB1C1")
    far.set_outbound("answer", 1)
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what="the far end answers")
    assert far.dialled() == "5551234"
    assert both_ways(centre, phone, AGENT_HZ, far, FAR_HZ) == (True, True)
    phone.onhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent hangs up")
    centre.run(500)
    assert centre.center.channels["dxxxB1C1"].state == "idle"


def test_an_agent_keys_digits_into_the_ivr_it_called():
    """SendDTMF on the agent's own call out: the far end (an IVR, a
    voicemail) hears the keys; before the answer they are refused."""
    centre = two_way_t1()
    client, events, phone = headset_agent(centre)
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 3)                     # answers on the third ring
    call_id = centre.call(client.call("MakeCall", number="5551234"))["call"]
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("SendDTMF", call=call_id, digits="1"))
    assert e.value.code == "invalid_state" and "not answered yet" in str(e.value)
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what="the far end answers")
    busy = set(centre.server.voice_pool.busy)
    result = centre.call(client.call("SendDTMF", call=call_id, digits="42#"))
    assert result == {"call": call_id, "digits": "42#"}
    centre.run(500)
    assert far.heard_digits().endswith("42#")
    assert centre.server.voice_pool.busy == busy              # the one lent is given back
    assert both_ways(centre, phone, AGENT_HZ, far, FAR_HZ) == (True, True)


def test_make_call_errors_say_what_is_wrong():
    centre = Centre()
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("MakeCall", number="5551234"))
    assert e.value.code == "invalid_state" and "lift the handset" in str(e.value)
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("MakeCall", number="555-1234"))
    assert e.value.code == "invalid_field" and e.value.body["field"] == "number"


def test_an_agent_transfers_the_caller_to_an_outside_number():
    centre = two_way_t1()
    client, events = agent_ready(centre, "1005", "msiB1C5")
    caller, phone = centre.sim.endpoint("dtiB1T3"), centre.sim.endpoint("msiB1C5")
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 1)
    caller.call(ani="2125550003", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events) and caller.state == "connected",
                     what="connected")
    call_id = dict(events)["Established"]["call"]
    result = centre.call(client.call("SingleStepTransferCall", call=call_id,
                                     number="5559876"))
    assert result["transferredTo"] == "number:5559876"
    assert centre.center.acd.agents["1005"].state == "workingAfterCall"
    centre.run_until(lambda: centre.center.calls[call_id].outside,
                     within_ms=20_000, what="the far end answers")
    assert far.dialled() == "5559876"
    assert both_ways(centre, caller, CALLER_HZ, far, FAR_HZ) == (True, True)
    caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(1000)
    assert centre.center.channels["dtiB1T1"].state == "idle"
    assert centre.server.voice_pool.busy == set()


def test_a_flow_sends_the_caller_out_and_a_failure_comes_back_to_it(tmp_path):
    centre = two_way_t1()
    client, seen = flow_server(centre)
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("busy")
    centre.sim.endpoint("dtiB1T2").call(ani="2125550018", dnis="5550100")
    request = route_request(centre, seen)
    call = request["call"]
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, number="5551111"), within_ms=30_000)
    assert (e.value.code, e.value.body["reason"]) == ("call_failed", "busy")
    assert centre.center.calls[call].state == "ivr"          # the flow still has it
    caller = centre.sim.endpoint("dtiB1T2")                  # and its prompts reach the caller
    caller.capture(True)
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    centre.call(client.call("PlayMessage", call=call,
                            prompts=[tone_wav(tmp_path / "c900-1.wav", 1)]))
    assert hears(caller.read_capture(), 440)
    assert not centre.center.moh.listening
    far.set_outbound("answer", 1)
    result = centre.call(client.call("RouteSelect", call=call, number="5552222"),
                         within_ms=30_000)
    assert result == {"result": "connected", "number": "5552222"}
    assert centre.center.calls[call].state == "talking"
    far.hangup()
    centre.run_until(lambda: call not in centre.center.calls, what="the call ends")
    centre.run(300)
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert cdr.disposition == "transferred_out"


def test_an_internal_call_between_two_agents():
    centre = Centre()
    caller, caller_events, phone1 = headset_agent(centre)
    callee, callee_events = agent_ready(centre, "1003", "msiB1C3")
    phone3 = centre.sim.endpoint("msiB1C3")
    result = centre.call(caller.call("MakeCall", agent="1003"))
    centre.run_until(lambda: phone3.state == "ringing", what="1003's phone rings")
    assert centre.center.acd.agents["1003"].state == "reserved"
    assert centre.center.acd.agents["1005"].state == "busy"
    phone3.offhook()
    centre.run_until(lambda: "Established" in names(callee_events), what="1003 answers")
    assert both_ways(centre, phone1, AGENT_HZ, phone3, FAR_HZ) == (True, True)
    phone3.onhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready"
                     and centre.center.acd.agents["1003"].state == "ready",
                     what="both free again")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=result["call"])
    assert (cdr.direction, cdr.dnis, cdr.disposition) == ("internal", "1003", "answered")
    with pytest.raises(RemoteError) as e:
        centre.call(caller.call("MakeCall", agent="1005"))
    assert e.value.code == "invalid_state" and "you" in str(e.value)
