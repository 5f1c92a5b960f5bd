# SPDX-License-Identifier: GPL-2.0-or-later
"""A board operation that never ends: recovered in seconds, the caller
moved on, the resource tested before it is lent again or retired
(drivers.r4's watchdog, cti.server.lines.channels.PooledVoice,
cti.server.lines.voicetest).

The simulator hangs the next operation of a voice resource (or all of
them, a dead DSP); the whole server runs in virtual time."""
import wave
from pathlib import Path

import pytest

from cti.server.lines import voicetest
from cti.storage.models import AuditEntry, CallRecord
from drivers.r4 import OPERATION_GRACE_MS, STOP_GRACE_MS
from tests.centre import Centre
from tests.test_callcenter import ask, flow_server, route_request
from tests.test_outbound import headset_agent, two_way_t1

PROMPTS = Path("etc/prompts").resolve()
WELCOME = str(PROMPTS / "welcome.wav")
#: After an operation's own longest time: stopped, then reset.
RECOVERY_S = (OPERATION_GRACE_MS + STOP_GRACE_MS) / 1000


def seconds_of(path):
    with wave.open(path) as w:
        return w.getnframes() / w.getframerate()


def ivr_call(centre, trunk="dtiB1T1"):
    """A call held by a bare flow server, answered: (client, seen, call id,
    its voice resource)."""
    client, seen = flow_server(centre)
    centre.sim.endpoint(trunk).call(ani="2125550030", dnis="5550100")
    call = route_request(centre, seen)["call"]
    ask(centre, client, seen, "AnswerCall", call=call)
    return client, seen, call, centre.center.calls[call].voice


def moved_on(centre, seen, call, hung):
    """The caller went to the default treatment (the flow_down queue) with
    another voice resource; its flow server was told."""
    c = centre.center.calls[call]
    assert (c.state, c.queue) == ("queued", centre.config.flow_down_queue)
    assert c.call.data["treatment"] == "voice resource hung"
    assert c.voice not in (None, hung)
    assert ("RouteEnd", 0, {"event": "RouteEnd", "call": call,
                            "reason": "voice resource hung"}) in seen


def back_after_its_test(centre, hung):
    """The hung resource passed its test: in the pool again, and audited."""
    centre.run(round(voicetest.TEST_AFTER_S * 1000) + 500)
    pool = centre.server.voice_pool
    assert hung in pool.free and not pool.quarantined and not pool.retired
    [row] = centre.records.of(AuditEntry, action="VoiceHung")
    assert row.detail["voice"] == hung
    assert centre.records.of(AuditEntry, action="VoiceTested")[0].detail["voice"] == hung


@pytest.mark.parametrize("operation", ["play", "collect", "record"])
def test_a_hung_ivr_operation_moves_the_caller_on_within_its_deadline(centre, operation,
                                                                      tmp_path):
    centre.center.layer.recordings_dir = tmp_path
    client, seen, call, voice = ivr_call(centre)
    centre.sim.hang_next(voice)
    request, own_s = {
        "play": (dict(service="PlayMessage", prompts=[WELCOME], bargeIn=False),
                 seconds_of(WELCOME)),
        "collect": (dict(service="CollectDigits", maxDigits=1, firstDigitTimeoutS=4), 4),
        "record": (dict(service="RecordMessage", maxS=5, silenceS=2, beep=False), 5),
    }[operation]
    d = client.call(request.pop("service"), call=call, **request)
    started = centre.clock.seconds()
    result = centre.call(d, within_ms=30_000)
    took = centre.clock.seconds() - started
    assert result["reason"] == "hung"
    assert own_s < took <= own_s + RECOVERY_S + 0.1
    centre.run(100)
    moved_on(centre, seen, call, voice)
    back_after_its_test(centre, voice)


def test_a_hung_announcement_leaves_the_caller_waiting_with_music(centre):
    centre.sim.endpoint("dtiB1T2").call(ani="2125550031", dnis="5550199")     # support
    centre.run_until(lambda: "dtiB1T2" in centre.center.by_trunk, what="the call")
    call = centre.center.by_trunk["dtiB1T2"]
    voice = call.voice
    centre.sim.hang_next(voice)                          # its next announcement hangs
    every = centre.config.queue("support").announce_every_s
    centre.run(round(every * 1000) + 20_000)
    assert call.state == "queued" and call.voice not in (None, voice)
    assert call.music
    back_after_its_test(centre, voice)


def test_a_hung_dial_fails_over_to_the_next_trunk():
    centre = two_way_t1()
    centre.server.startService()
    client, events, phone = headset_agent(centre)
    voice = centre.server.voice_pool.free[0]              # the first call out's
    centre.sim.hang_next(voice)
    centre.sim.endpoint("dtiB1T2").set_outbound("answer", 1)
    result = centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: result["call"] in centre.center.calls, within_ms=30_000,
                     what="the call out answered on the next trunk")
    assert centre.center.calls[result["call"]].trunk.name == "dtiB1T2"
    assert centre.sim.endpoint("dtiB1T2").dialled() == "5551234"
    back_after_its_test(centre, voice)


def test_a_voice_resource_that_keeps_hanging_is_retired(centre, caplog=None):
    client, seen, call, voice = ivr_call(centre)
    centre.sim.hang_always(voice)                         # a dead DSP
    d = client.call("PlayMessage", call=call, prompts=[WELCOME], bargeIn=False)
    centre.call(d, within_ms=30_000)
    deadline_s = (voicetest.TEST_DEADLINE_MS + STOP_GRACE_MS) / 1000
    centre.run(round(voicetest.TRIES * (voicetest.TEST_AFTER_S + deadline_s) * 1000) + 1_000)
    pool = centre.server.voice_pool
    assert pool.retired == {voice} and voice not in pool.free and not pool.quarantined
    [retired] = centre.records.of(AuditEntry, action="VoiceRetired")
    assert retired.detail["voice"] == voice and retired.detail["tries"] == voicetest.TRIES
    # the next callers are served by the others
    client2, seen2 = flow_server(centre)
    centre.sim.endpoint("dtiB1T5").call(ani="2125550032", dnis="5550100")
    call2 = route_request(centre, seen + seen2)["call"]
    assert centre.center.calls[call2].voice != voice


def test_no_free_voice_resource_clears_the_call_with_the_reason(centre):
    pool = centre.server.voice_pool
    client, seen, call, voice = ivr_call(centre)
    others = list(pool.free)
    pool.free.clear()                                     # all of them taken elsewhere
    centre.sim.hang_next(voice)
    centre.call(client.call("PlayMessage", call=call, prompts=[WELCOME], bargeIn=False),
                within_ms=30_000)
    centre.run(100)
    pool.free.extend(others)
    assert call not in centre.center.calls
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert cdr.cause == f"play hung on {voice}, and no voice resource free"


def test_a_hung_play_on_an_analog_line_keeps_the_call(centre):
    """An analog line's voice channel is the line's own: reset, it goes on
    serving the call (no test, no quarantine), and the caller moves on."""
    client, seen = flow_server(centre)
    caller = centre.sim.endpoint("dxxxB1C1")
    caller.call(ani="2125550033")
    call = route_request(centre, seen)["call"]
    ask(centre, client, seen, "AnswerCall", call=call)
    centre.sim.hang_next("dxxxB1C1")
    result = centre.call(client.call("PlayMessage", call=call, prompts=[WELCOME],
                                     bargeIn=False), within_ms=30_000)
    assert result["reason"] == "hung"
    centre.run(1_000)
    assert caller.state == "connected"
    moved_on_analog = centre.center.calls[call]
    assert (moved_on_analog.state, moved_on_analog.voice) == ("queued", "dxxxB1C1")
    assert centre.records.of(AuditEntry, action="VoiceHung")[0].detail["voice"] == "dxxxB1C1"
    assert not centre.server.voice_pool.quarantined


def test_a_resource_that_hangs_after_its_caller_left_never_serves_the_next(centre):
    """The caller hangs up during a hung prompt: the resource, given back
    with its operation still running, is parked (not lent), then
    quarantined when the hang is declared, tested and back."""
    client, seen, call, voice = ivr_call(centre)
    centre.sim.hang_next(voice)
    client.call("PlayMessage", call=call, prompts=[WELCOME],
                bargeIn=False).addErrback(lambda failure: None)
    centre.run(1_000)
    centre.sim.endpoint("dtiB1T1").hangup()
    centre.run_until(lambda: call not in centre.center.calls, what="the call ends")
    pool = centre.server.voice_pool
    assert voice in pool.parked and voice not in pool.free
    centre.sim.endpoint("dtiB1T6").call(ani="2125550034", dnis="5550100")
    centre.run_until(lambda: "dtiB1T6" in centre.center.by_trunk, what="the next call")
    assert centre.center.by_trunk["dtiB1T6"].voice not in (None, voice)
    centre.run(round((RECOVERY_S + seconds_of(WELCOME)) * 1000))
    assert voice not in pool.parked
    back_after_its_test(centre, voice)
    [hung] = centre.records.of(AuditEntry, action="VoiceHung")
    assert hung.detail["trunk"] is None                  # nobody's by then


def test_the_music_on_hold_goes_on_when_its_resource_hangs(centre):
    """Callers waiting with music: the music's play hangs; another resource
    plays it to the same callers, the hung one is tested."""
    for n in (2, 3):
        centre.sim.endpoint(f"dtiB1T{n}").call(ani=f"212555004{n}", dnis="5550199")
    centre.run_until(lambda: len(centre.center.calls) == 2
                     and all(c.music for c in centre.center.calls.values()),
                     what="two callers with music")
    moh = centre.center.moh
    [source] = moh.sources.values()
    old = source.voice
    centre.sim.hang_next(old)        # its next loop of the music hangs
    music_s = seconds_of(str(PROMPTS / "hold_music.wav"))
    centre.run(round((2 * music_s + RECOVERY_S) * 1000) + 500)
    [source] = moh.sources.values()
    assert source.voice != old
    assert source.cast.listeners == {c.trunk.name for c in centre.center.calls.values()}
    back_after_its_test(centre, old)


def t1_loop_start(tmp_path):
    """The sample with its T1 in FXS loop start, two-way."""
    import shutil

    from cti.server.config import load_server_config

    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                 'signalling = "fxs_loopstart"', 1))
    config = tmp_path / "etc" / "cti.toml"
    config.write_text(config.read_text().replace('direction = "in"', 'direction = "both"', 1))
    centre = Centre(load_server_config(config))
    centre.server.startService()
    return centre


def test_a_hung_dial_on_a_t1_loop_start_trunk_fails_over_too(tmp_path):
    centre = t1_loop_start(tmp_path)
    client, events, phone = headset_agent(centre)
    voice = centre.server.voice_pool.free[0]
    centre.sim.hang_next(voice)
    centre.sim.endpoint("dtiB1T2").set_outbound("answer", 1)
    result = centre.call(client.call("MakeCall", number="5551234"))
    # a dial with call-progress analysis: its own time is the no-answer time
    centre.run_until(lambda: result["call"] in centre.center.calls, within_ms=120_000,
                     what="the call out answered on the next trunk")
    assert centre.center.calls[result["call"]].trunk.name == "dtiB1T2"
    back_after_its_test(centre, voice)


def test_a_recording_that_hangs_quarantines_its_resource_once_given_back(centre):
    """A resource lent to a call (a recording) hangs: its user keeps it
    until the recording stops; then it is tested, not lent untested."""
    from tests.test_callcenter import agent_ready

    client, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.sim.endpoint("dtiB1T1").call(ani="2125550035", dnis="5550199")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="rings")
    phone.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy", what="talking")
    pool = centre.server.voice_pool
    voice = pool.free[0]                    # the next lent: the recording's
    centre.sim.hang_always(voice)
    call = centre.center.acd.agents["1005"].call.id
    centre.call(client.call("StartRecording", call=call))
    centre.run(20_000)                      # the recording hangs meanwhile
    centre.sim.hang_always(voice, on=False)
    centre.call(client.call("StopRecording", call=call))
    assert voice in pool.owner and voice not in pool.free   # its recording has not ended
    centre.run(STOP_GRACE_MS + 100)                 # a stop the board ignored: a hang
    assert voice in pool.quarantined
    back_after_its_test(centre, voice)
