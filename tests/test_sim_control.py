# SPDX-License-Identifier: GPL-2.0-or-later
"""The Sim* services: an administrator plays the simulated telephone
company of a running server (tests.centre, virtual time), each action
checked by what the server does with it."""
import base64
import io
import wave
from array import array

import pytest

from cti.storage.models import CallRecord
from tests.centre import Centre, admin, refused
from tests.test_callcenter import agent_ready

PASSWORD = "1234"




def channel(centre, name):
    return centre.server.channels[name]


def test_a_call_on_a_trunk_group_takes_its_first_idle_timeslot(centre):
    sim = admin(centre)
    answer = centre.call(sim.call("SimCall", target="pstn_in", ani="2125551234",
                                  dnis="5550199"))
    assert answer == {"device": "dtiB1T1", "group": "pstn_in", "signalling": "em_wink"}
    centre.run_until(lambda: channel(centre, "dtiB1T1").state == "connected", what="answered")
    assert (channel(centre, "dtiB1T1").ani, channel(centre, "dtiB1T1").dnis) == (
        "2125551234", "5550199")
    second = centre.call(sim.call("SimCall", target="pstn_in", ani="2125550002",
                                  dnis="5550199"))
    assert second["device"] == "dtiB1T2"


def test_a_call_on_an_analog_line_rings_it_with_caller_id(centre):
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="dxxxB1C3", ani="2125557777", name="ALICE"))
    centre.run_until(lambda: channel(centre, "dxxxB1C3").ani == "2125557777",
                     what="the caller ID read")
    assert channel(centre, "dxxxB1C3").cid_name == "ALICE"


def test_the_caller_presses_keys_in_the_ivr(centre):
    from tests.centre import flow_tier

    flow_tier(centre)
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="dtiB1T5", ani="2125551234", dnis="5550100"))
    centre.run_until(lambda: channel(centre, "dtiB1T5").state == "connected", what="answered")
    [call] = centre.center.calls.values()
    centre.run(3_000)
    assert call.phase.state == "ivr"
    centre.call(sim.call("SimDigits", device="dtiB1T5", digits="1"))
    centre.run_until(lambda: call.phase.state != "ivr", what="the menu choice taken")


def test_the_caller_hangs_up_and_the_call_is_cleared(centre):
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="pstn_in", ani="2125551234", dnis="5550199"))
    centre.run_until(lambda: centre.center.calls, what="a call")
    centre.call(sim.call("SimHangup", device="dtiB1T1"))
    centre.run_until(lambda: not centre.center.calls, what="the call cleared")
    assert channel(centre, "dtiB1T1").state == "idle"


@pytest.mark.parametrize("method", ["loop_current_drop", "polarity", "busy_tone"])
def test_an_analog_caller_hangs_up_by_each_supervision_method(centre, method):
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="dxxxB1C2", ani="2125551234"))
    centre.run_until(lambda: channel(centre, "dxxxB1C2").state == "connected",
                     what="answered")
    centre.call(sim.call("SimHangup", device="dxxxB1C2", method=method))
    centre.run_until(lambda: channel(centre, "dxxxB1C2").state == "idle", within_ms=15_000,
                     what=f"the line cleared by {method}")


def test_the_agent_lifts_the_handset_and_talks(centre):
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="pstn_in", ani="2125551234", dnis="5550199"))
    centre.run_until(lambda: centre.sim.endpoint("msiB1C5").state == "ringing", what="rings")
    centre.call(sim.call("SimHandset", station="msiB1C5", action="lift"))
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy",
                     what="the agent talks")
    centre.call(sim.call("SimHandset", station="msiB1C5", action="hangup"))
    centre.run_until(lambda: not centre.center.calls, what="the agent hung up")


def test_a_far_end_sends_a_tone_and_audio_and_status_says_what_it_heard(centre):
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="dtiB1T1", ani="2125551234", dnis="5550199"))
    centre.run_until(lambda: centre.sim.endpoint("dtiB1T1").state == "connected",
                     what="answered, as the far end sees it")
    assert centre.call(sim.call("SimTone", device="dtiB1T1", tone="busy")) == {
        "device": "dtiB1T1"}
    centre.run(200)
    centre.call(sim.call("SimTone", device="dtiB1T1", tone="none"))
    samples = array("h", [1000, -1000] * 4000)          # one second
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(8000)
        w.writeframes(samples.tobytes())
    answer = centre.call(sim.call("SimAudio", device="dtiB1T1",
                                  wav=base64.b64encode(buffer.getvalue()).decode()))
    assert answer == {"device": "dtiB1T1", "seconds": 1.0}
    centre.call(sim.call("SimDigits", device="dtiB1T1", digits="42"))
    status = centre.call(sim.call("SimStatus", device="dtiB1T1"))
    assert status["device"] == "dtiB1T1" and status["state"] in ("ringing", "connected")
    assert {"heardDigits", "heardTone", "dialled"} <= set(status)


def test_a_span_alarm_raised_and_cleared_from_outside(centre):
    sim = admin(centre)
    centre.call(sim.call("SimCall", target="pstn_in", ani="2125551234", dnis="5550199"))
    centre.run_until(lambda: centre.center.calls, what="a call")
    centre.call(sim.call("SimAlarm", span="dtiB1", alarm="red"))
    centre.run_until(lambda: not centre.center.calls, what="the call cleared by the alarm")
    span = channel(centre, "dtiB1")
    assert span.state == "down"
    centre.call(sim.call("SimAlarm", span="dtiB1", alarm="red", on=False))
    centre.run(100)
    assert span.state == "recovering"


def test_a_hung_voice_resource_is_noticed_and_replaced(centre):
    from tests.centre import flow_tier

    flow_tier(centre)
    sim = admin(centre)
    centre.call(sim.call("SimHang", device="dxxxB2C1", always=True))
    centre.call(sim.call("SimCall", target="dtiB1T1", ani="2125551234", dnis="5550100"))
    centre.run_until(lambda: "dxxxB2C1" in centre.server.voice_pool.quarantined,
                     within_ms=40_000, what="the hung resource taken out")
    centre.call(sim.call("SimHang", device="dxxxB2C1", on=False))


def test_the_far_end_answers_our_calls_out_as_told(centre):
    sim = admin(centre)
    assert centre.call(sim.call("SimAnswerMode", target="local", mode="busy")) == {
        "devices": ["dxxxB1C1", "dxxxB1C2", "dxxxB1C3", "dxxxB1C4"]}
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(sim.call("SimHandset", station="msiB1C5", action="lift"))
    centre.run(300)
    call_id = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: centre.records.of(CallRecord, call_id=call_id),
                     within_ms=30_000, what="the call out ends")
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert cdr.disposition == "busy"


def test_bad_requests_say_what_was_wrong_and_where(centre):
    sim = admin(centre)
    error = refused(centre, sim, "SimCall", target="dtiB9T1")
    assert error.code == "no_such_object" and "dtiB9T1" in str(error) and "pstn_in" in str(error)
    error = refused(centre, sim, "SimDigits", device="dtiB1T1", digits="12x4")
    assert error.code == "invalid_field" and "'x' at position 3" in str(error)
    error = refused(centre, sim, "SimHangup", device="dtiB1T1", method="polarity")
    assert error.code == "invalid_field" and "analog lines" in str(error)
    error = refused(centre, sim, "SimHandset", station="dtiB1T1", action="lift")
    assert error.code == "no_such_object"
    error = refused(centre, sim, "SimAlarm", span="dtiB2", alarm="red")
    assert error.code == "no_such_object" and "dtiB1" in str(error)
    error = refused(centre, sim, "SimAudio", device="dtiB1T1",
                    wav=base64.b64encode(b"RIFF....WAVEjunk").decode())
    assert error.code == "invalid_field" and error.body["field"] == "wav"
    centre.call(sim.call("SimCall", target="dtiB1T1"))
    error = refused(centre, sim, "SimCall", target="dtiB1T1")
    assert error.code == "invalid_state" and "not idle" in str(error)


def test_only_an_administrator_plays_the_telco(centre):
    supervisor = centre.client()
    centre.call(supervisor.login("sup", PASSWORD, "supervisor"))
    assert refused(centre, supervisor, "SimCall", target="pstn_in").code == "forbidden"


def test_real_boards_have_no_simulated_telco():
    centre = Centre(simulated_telco=False)
    centre.server.startService()
    try:
        error = refused(centre, admin(centre), "SimCall", target="pstn_in")
        assert error.code == "no_simulator" and "real boards" in str(error)
    finally:
        centre.center.stop()


def test_what_a_far_end_sends_outside_a_call_is_refused_not_kept_for_the_next(centre):
    sim = admin(centre)
    for service, params in (("SimDigits", {"digits": "1111"}), ("SimTone", {"tone": "busy"})):
        error = refused(centre, sim, service, device="dtiB1T2", **params)
        assert error.code == "invalid_state" and "not in a call" in str(error)
    centre.call(sim.call("SimCall", target="dtiB1T2", ani="2125551234", dnis="5550199"))
    centre.run_until(lambda: channel(centre, "dtiB1T2").state == "connected", what="answered")
    assert (channel(centre, "dtiB1T2").ani, channel(centre, "dtiB1T2").dnis) == (
        "2125551234", "5550199")
    error = refused(centre, sim, "SimDigits", device="msiB1C2", digits="5")
    assert "lift the handset first" in str(error)


def test_the_far_end_of_our_unanswered_call_out_hangs_up(centre):
    sim = admin(centre)
    centre.call(sim.call("SimAnswerMode", target="local", mode="no_answer"))
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(sim.call("SimHandset", station="msiB1C5", action="lift"))
    centre.run(300)
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: centre.call(sim.call("SimStatus", device="dxxxB1C1"))["state"]
                     == "seized", what="our call out seizes the line")
    centre.run(3_000)
    assert centre.call(sim.call("SimStatus", device="dxxxB1C1"))["dialled"] == "5551234"
    centre.call(sim.call("SimHangup", device="dxxxB1C1"))
    assert centre.call(sim.call("SimStatus", device="dxxxB1C1"))["state"] == "clearing"
    # a loop current drop while our call progress listens is not taken for
    # a hang-up (it is one of the signs of an answer): the call out ends
    # unanswered when its ring time is up
    centre.run_until(lambda: channel(centre, "dxxxB1C1").state == "idle", within_ms=60_000,
                     what="the call out given up")


def test_heard_digits_are_those_of_this_call_only(centre):
    sim = admin(centre)
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(sim.call("SimAnswerMode", target="local", mode="busy"))
    centre.call(sim.call("SimHandset", station="msiB1C5", action="lift"))
    centre.run(300)
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: channel(centre, "dxxxB1C1").state == "idle"
                     and centre.records.of(CallRecord), within_ms=30_000, what="busy")
    centre.call(sim.call("SimCall", target="dxxxB1C1", ani="2125551234"))
    assert centre.call(sim.call("SimStatus", device="dxxxB1C1"))["heardDigits"] == ""


@pytest.mark.parametrize("params, field, words", [
    ({"ani": "212-555"}, "ani", "'-' is not a digit"),
    ({"ani": "12*34"}, "ani", "'*' is not a digit"),
    ({"dnis": "5" * 40}, "dnis", "up to 31 digits 0-9"),
    ({"name": "Zoë"}, "name", "printable ASCII"),
])
def test_a_caller_s_numbers_and_name_are_checked(centre, params, field, words):
    error = refused(centre, admin(centre), "SimCall", target="pstn_in", **params)
    assert (error.code, error.body["field"]) == ("invalid_field", field)
    assert words in str(error)


def test_a_call_on_a_channel_of_an_outbound_only_group_is_refused():
    from dataclasses import replace

    from cti.server.config import load_server_config

    config = load_server_config("etc/cti.toml")
    config = replace(config, trunk_groups=tuple(
        replace(g, direction="out") if g.name == "local" else g for g in config.trunk_groups))
    centre = Centre(config)
    centre.server.startService()
    try:
        error = refused(centre, admin(centre), "SimCall", target="dxxxB1C2")
        assert error.code == "invalid_state" and "calls out only" in str(error)
    finally:
        centre.center.stop()


def test_a_station_is_hung_up_without_a_method(centre):
    error = refused(centre, admin(centre), "SimHangup", device="msiB1C1", method="polarity")
    assert (error.code, error.body["field"]) == ("invalid_field", "method")
