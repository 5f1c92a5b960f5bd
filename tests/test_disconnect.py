# SPDX-License-Identifier: GPL-2.0-or-later
"""Analog disconnect supervision end to end (cti.server.lines.disconnect):
a caller talking to an agent on a loop-start line hangs up by each method
the line's trunk group says it gives, and the call clears with that
method's cause in its CDR; a caller who hangs up into silence is cleared
after the group's silence_s; one who pauses for less, or talks quietly
above the group's level, is not; a method the group leaves out clears
nothing.  T1 loop-start timeslots likewise, by tone or silence.  A caller
waiting quietly (in a queue, on hold) is not timed for silence: only once
it has a party again, from zero."""
import shutil
from dataclasses import replace

import pytest

from cti.config import ConfigError
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from tests.centre import Centre, admin
from tests.test_callcenter import PASSWORD, agent_ready, names
from tests.test_outbound import headset_agent

SILENCE_S = 8
ALL = '["loop_current", "reversal", "tone", "silence"]'


def centre_with(tmp_path, group, t1_loopstart=False, sales="", driver="r4"):
    """The sample centre, the trunk group of its analog lines ("local") or,
    with `t1_loopstart`, of its T1 span made loop start, given `group`
    (TOML lines); its sales queue given `sales` too; on `driver` (r4, or
    dahdi: its analog lines FXO ports)."""
    shutil.copytree("etc", tmp_path / "etc")
    cti = tmp_path / "etc" / "cti.toml"
    text = cti.read_text()
    music = 'music = "hold_music"       # prompt played while waiting\n'
    text = text.replace(music, music + sales + "\n", 1)
    if t1_loopstart:
        boards = tmp_path / "etc" / "boards.toml"
        boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                     'signalling = "fxs_loopstart"', 1))
        anchor = 'channels = ["dtiB1T1-24"]\n'
    else:
        anchor = 'channels = ["dxxxB1C1-4"]\n'
    cti.write_text(text.replace(anchor, anchor + group + "\n", 1))
    return Centre(replace(load_server_config(cti), driver=driver), driver=driver)


def talking(centre, line):
    """A caller on `line` talking to agent 1001 (the sales queue, no flow
    server): its far end."""
    _, events = agent_ready(centre, "1001", "msiB1C1")
    caller, phone = centre.sim.endpoint(line), centre.sim.endpoint("msiB1C1")
    caller.call(ani="2125550042")
    centre.run_until(lambda: phone.state == "ringing", within_ms=30_000,
                     what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talking")
    return caller


def cleared_cause(centre, within_ms):
    """The CDR's cause of the one call, once it has ended."""
    centre.run_until(lambda: not centre.center.calls, within_ms=within_ms,
                     what="the call clears")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.released_by) == ("answered", "caller")
    assert cdr.trunk_group in ("local", "pstn_in")
    return cdr.cause


@pytest.mark.parametrize("method,cause", [
    ("loop_current_drop", "far end cleared (loop current drop)"),
    ("polarity", "far end cleared (polarity reversal)"),
    ("busy_tone", "far end cleared (busy tone)"),
    ("silence", f"far end cleared (silence for {SILENCE_S} s)"),
])
def test_each_disconnect_method_clears_the_call_with_its_cause(tmp_path, method, cause):
    centre = centre_with(tmp_path, f"disconnect = {ALL}\nsilence_s = {SILENCE_S}")
    talking(centre, "dxxxB1C2")
    centre.call(admin(centre).call("SimHangup", device="dxxxB1C2", method=method))
    assert cleared_cause(centre, within_ms=(SILENCE_S + 3) * 1000) == cause
    centre.run(500)
    assert centre.center.channels["dxxxB1C2"].state == "idle"


def test_without_silence_configured_a_silent_hang_up_leaves_the_call_up(tmp_path):
    centre = centre_with(tmp_path, "")             # the analog default: no silence
    talking(centre, "dxxxB1C2").hangup("silence")
    centre.run(60_000)
    assert len(centre.center.calls) == 1


def test_pauses_shorter_than_silence_s_and_quiet_talk_keep_the_call(tmp_path):
    """Quiet talk (-35 dBm0, above the group's -40) with pauses of 6 s (less
    than silence_s) for a minute: still talking; then a silent hang-up
    clears it with silence's cause."""
    centre = centre_with(tmp_path, f'disconnect = ["silence"]\nsilence_s = {SILENCE_S}\n'
                                   "silence_dbm0 = -40")
    caller = talking(centre, "dxxxB1C2")
    caller.send_tone_custom(440, 0, -35, on_ms=1_500, off_ms=6_000)   # 1.5 s of talk,
    centre.run(60_000)                                                # 6 s of pause...
    caller.stop_sending()
    assert len(centre.center.calls) == 1
    caller.hangup("silence")
    assert cleared_cause(centre, within_ms=(SILENCE_S + 3) * 1000) == \
        f"far end cleared (silence for {SILENCE_S} s)"


def test_talk_below_the_level_counts_as_silence(tmp_path):
    centre = centre_with(tmp_path, 'disconnect = ["silence"]\nsilence_s = 5\n'
                                   "silence_dbm0 = -30")
    caller = talking(centre, "dxxxB1C2")
    for _ in range(3):
        caller.send_tone_custom(440, 0, -35, on_ms=3_000)      # murmur below -30
        centre.run(3_000)
    assert cleared_cause(centre, within_ms=1_000) == "far end cleared (silence for 5 s)"


def test_a_method_the_group_leaves_out_does_not_clear_the_call(tmp_path):
    """A PBX extension that drops the loop current for a moment on a
    transfer: its group gives only silence, so the drop clears nothing; the
    silence that follows does."""
    centre = centre_with(tmp_path, f'disconnect = ["silence"]\nsilence_s = {SILENCE_S}')
    talking(centre, "dxxxB1C2").hangup("loop_current_drop")
    centre.run(3_000)
    assert len(centre.center.calls) == 1
    assert cleared_cause(centre, within_ms=SILENCE_S * 1000) == \
        f"far end cleared (silence for {SILENCE_S} s)"


@pytest.mark.parametrize("method,cause", [
    ("busy_tone", "far end cleared (busy tone)"),
    ("silence", "far end cleared (silence for 6 s)"),
])
def test_a_t1_loop_start_timeslot_clears_by_tone_or_silence(tmp_path, method, cause):
    centre = centre_with(tmp_path, 'disconnect = ["tone", "silence"]\nsilence_s = 6',
                         t1_loopstart=True)
    talking(centre, "dtiB1T4")
    centre.call(admin(centre).call("SimHangup", device="dtiB1T4", method=method))
    assert cleared_cause(centre, within_ms=9_000) == cause
    centre.run(500)
    assert centre.center.channels["dtiB1T4"].state == "idle"
    assert centre.server.voice_pool.busy == set()


@pytest.mark.parametrize("group,key,words", [
    ('disconnect = ["loop_current", "smoke"]', "trunk_groups[1].disconnect[1]",
     "'smoke' is not one of 'loop_current', 'reversal', 'tone', 'silence'"),
    ("disconnect = []", "trunk_groups[1].disconnect", "expected at least one"),
    ('disconnect = ["tone", "tone"]', "trunk_groups[1].disconnect[1]", "already declared"),
    ("silence_s = 10", "trunk_groups[1].silence_s",
     'applies only when disconnect includes "silence"'),
    ('disconnect = ["silence"]\nsilence_s = 0', "trunk_groups[1].silence_s",
     "expected seconds, a number above 0"),
    ('disconnect = ["silence"]\nsilence_dbm0 = -10', "trunk_groups[1].silence_dbm0",
     "an integer from -60 to -20"),
])
def test_bad_disconnect_settings_are_refused_naming_the_key(tmp_path, group, key, words):
    with pytest.raises(ConfigError) as caught:
        centre_with(tmp_path, group)
    assert key in str(caught.value) and words in str(caught.value)
    assert "cti.toml" in str(caught.value)


def test_a_t1_loop_start_group_refuses_what_a_timeslot_cannot_give(tmp_path):
    with pytest.raises(ConfigError) as caught:
        centre_with(tmp_path, 'disconnect = ["loop_current"]', t1_loopstart=True)
    assert "trunk_groups[0].disconnect[0]" in str(caught.value)
    assert "dtiB1T1 is a T1 loop-start timeslot, which gives only 'tone' and 'silence'" \
        in str(caught.value)


def test_an_e_and_m_group_refuses_disconnect_settings(tmp_path):
    shutil.copytree("etc", tmp_path / "etc")
    cti = tmp_path / "etc" / "cti.toml"
    anchor = 'channels = ["dtiB1T1-24"]\n'
    cti.write_text(cti.read_text().replace(anchor, anchor + 'disconnect = ["tone"]\n', 1))
    with pytest.raises(ConfigError) as caught:
        load_server_config(cti)
    assert "trunk_groups[0].disconnect" in str(caught.value)
    assert "clears with its signalling bits" in str(caught.value)


def test_sim_hangup_refuses_what_a_t1_loop_start_far_end_cannot_do(tmp_path):
    from tests.centre import refused

    centre = centre_with(tmp_path, 'disconnect = ["tone", "silence"]', t1_loopstart=True)
    talking(centre, "dtiB1T4")
    e = refused(centre, admin(centre), "SimHangup", device="dtiB1T4", method="polarity")
    assert e.code == "invalid_field" and e.body["field"] == "method"
    assert "dtiB1T4 is a T1 loop-start timeslot" in str(e) and "busy_tone, silence" in str(e)
    assert len(centre.center.calls) == 1


def queued(centre, line):
    """A caller on `line` waiting in the sales queue (its music), agent 1001
    logged on but not ready: (its far end, the agent's client, its events)."""
    agent = centre.client()
    centre.call(agent.login("1001", PASSWORD, "agent"))
    events = centre.events(agent)
    centre.call(agent.call("MonitorStart", object="device", id="msiB1C1"))
    centre.call(agent.call("SetAgentState", state="loggedOn", station="msiB1C1"))
    caller = centre.sim.endpoint(line)
    caller.call(ani="2125550042")
    centre.run_until(lambda: [c.state for c in centre.center.calls.values()] == ["queued"],
                     what="the caller waits in the queue")
    return caller, agent, events


def answers(centre, agent, events):
    """The agent gets ready and answers the waiting caller."""
    centre.call(agent.call("SetAgentState", state="ready"))
    phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talking")


def talks(centre, caller, seconds):
    """The caller talks for `seconds`, then says nothing: 1.5 s of speech
    in every 6 s (its pauses shorter than SILENCE_S)."""
    caller.send_tone_custom(440, 0, -20, on_ms=1_500, off_ms=4_500)
    centre.run(seconds * 1000)
    caller.stop_sending()


def test_a_caller_waiting_quietly_in_the_queue_is_not_cut_off(tmp_path):
    """Three times silence_s in the queue without a word: still waiting;
    answered, the caller talks with the agent: still connected."""
    centre = centre_with(tmp_path, f'disconnect = ["silence"]\nsilence_s = {SILENCE_S}')
    caller, agent, events = queued(centre, "dxxxB1C2")
    centre.run(3 * SILENCE_S * 1000)
    assert [c.state for c in centre.center.calls.values()] == ["queued"]
    answers(centre, agent, events)
    talks(centre, caller, 4 * SILENCE_S)
    assert [c.state for c in centre.center.calls.values()] == ["talking"]
    assert centre.records.of(CallRecord) == []


@pytest.mark.parametrize("line,t1_loopstart", [("dxxxB1C2", False), ("dtiB1T4", True)])
def test_a_caller_gone_silently_while_queued_is_cleared_silence_s_after_the_answer(
        tmp_path, line, t1_loopstart):
    """The caller hangs up into silence while waiting; nobody can tell
    until an agent answers and hears nothing: silence_s later the call
    clears with silence's cause (the time waited does not count)."""
    centre = centre_with(tmp_path, f'disconnect = ["tone", "silence"]\nsilence_s = {SILENCE_S}',
                         t1_loopstart=t1_loopstart)
    caller, agent, events = queued(centre, line)
    caller.hangup("silence")
    centre.run(3 * SILENCE_S * 1000)
    assert [c.state for c in centre.center.calls.values()] == ["queued"]
    answers(centre, agent, events)
    centre.run((SILENCE_S - 1) * 1000)
    assert [c.state for c in centre.center.calls.values()] == ["talking"]
    assert cleared_cause(centre, within_ms=2_000) == \
        f"far end cleared (silence for {SILENCE_S} s)"


def test_a_caller_held_quietly_is_not_cut_off_and_timed_again_once_retrieved(tmp_path):
    """The agent holds the call for three times silence_s, the caller
    quiet, and takes it back: still connected, the caller talks on; once
    the caller has gone silent, the call clears silence_s later."""
    centre = centre_with(tmp_path, f'disconnect = ["silence"]\nsilence_s = {SILENCE_S}')
    agent, events = agent_ready(centre, "1001", "msiB1C1")
    caller, phone = centre.sim.endpoint("dxxxB1C2"), centre.sim.endpoint("msiB1C1")
    caller.call(ani="2125550042")
    centre.run_until(lambda: phone.state == "ringing", within_ms=30_000,
                     what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talking")
    [call_id] = centre.center.calls
    talks(centre, caller, 12)
    centre.call(agent.call("HoldCall", call=call_id))
    centre.run(3 * SILENCE_S * 1000)
    assert list(centre.center.calls) == [call_id]
    assert centre.center.layer.snapshot(call_id)["held"]
    centre.call(agent.call("RetrieveCall", call=call_id))
    centre.run((SILENCE_S - 1) * 1000)          # quiet since long before: timed from now
    talks(centre, caller, 2 * SILENCE_S)
    assert [c.state for c in centre.center.calls.values()] == ["talking"]
    assert not centre.center.layer.snapshot(call_id)["held"]
    caller.hangup("silence")
    assert cleared_cause(centre, within_ms=(SILENCE_S + 3) * 1000) == \
        f"far end cleared (silence for {SILENCE_S} s)"



def test_a_line_released_for_a_callback_while_waiting_times_its_next_call(tmp_path):
    """A caller waiting in the queue asks to be called back: its line is
    released while it waits.  The next call on that line, an agent's call
    out whose far end goes silent, is cleared silence_s later like any."""
    centre = centre_with(tmp_path, f'disconnect = ["silence"]\nsilence_s = {SILENCE_S}',
                         sales='callback_key = "5"\nannounce_every_s = 60')
    line = centre.sim.endpoint("dxxxB1C1")          # the first line calls out take
    line.call(ani="2125550001")
    centre.run_until(lambda: [c.state for c in centre.center.calls.values()] == ["queued"],
                     what="the caller waits in the queue")
    centre.run(2_000)
    line.send_digits("5")
    centre.run_until(lambda: line.state == "idle", within_ms=20_000,
                     what="the line is released for the callback")
    [called_back] = centre.center.calls
    agent, events, _ = headset_agent(centre)        # 1005, of support: not offered it
    line.set_outbound("answer", 1)
    call_out = centre.call(agent.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers on the line")
    centre.run_until(lambda: call_out not in centre.center.calls,
                     within_ms=(SILENCE_S + 3) * 1000, what="the silent far end is cleared")
    [cdr] = centre.records.of(CallRecord, call_id=call_out)
    assert cdr.cause == f"far end cleared (silence for {SILENCE_S} s)"
    assert list(centre.center.calls) == [called_back]         # still waits for its agent


def test_a_voice_resource_reports_the_silence_it_hears_once_told_to_watch_for_it():
    """A pooled voice resource that last heard silence while playing for
    another call (its silence events off) is lent to a loop-start trunk
    that watches for silence: the caller is silent, so it says so, or a
    caller who never made a sound would never be timed."""
    from tests.rig import Rig

    rig = Rig([{"type": "voice", "channels": 2}])
    d = rig.driver
    d.listen("dxxxB1C1", d.transmit_slot("dxxxB1C2"))        # hears an idle channel
    d.play_tone("dxxxB1C1", 1000, 0, -20, duration_ms=1_000)  # another call's prompt
    rig.run(1_500)
    d.enable_events("dxxxB1C1", {"silence"})                 # the trunk's turn
    rig.run(500)
    assert [e["on"] for e in rig.events
            if e.device == "dxxxB1C1" and e.kind == "silence"] == [True]


def test_a_voice_resource_that_hung_on_a_silence_watching_trunk_goes_back_at_the_default_level(
        tmp_path):
    """A T1 loop-start group hearing silence below -25 dBm0: the voice
    resource its caller's queue announcement hung on is replaced, tested
    and lent again; the next to borrow it hears a -30 dBm0 talker as talk
    (the default -40 dBm0), not as the group's silence."""
    centre = centre_with(tmp_path, 'disconnect = ["tone", "silence"]\nsilence_dbm0 = -25',
                         t1_loopstart=True, sales='announce_every_s = 10\nannounce = ["position"]')
    pool = centre.server.voice_pool
    hung = pool.free[0]                                  # the next lent: the caller's
    centre.sim.hang_next(hung)
    queued(centre, "dtiB1T4")                            # its announcement hangs
    centre.run_until(lambda: hung in pool.free, within_ms=60_000,
                     what="the hung resource replaced, tested and free again")
    assert centre.center.channels["dtiB1T4"].voice != hung
    d, talker = centre.driver, pool.free[-1] if pool.free[-1] != hung else pool.free[-2]
    heard = []
    d.subscribe(lambda e: heard.append(e["on"]) if e.device == hung and e.kind == "silence"
                else None)
    d.listen(hung, d.transmit_slot(talker))
    d.enable_events(hung, {"silence"})
    centre.run(500)
    d.play_tone(talker, 1000, 0, -30, duration_ms=1_000)
    centre.run(1_500)
    assert heard == [True, False, True]                 # silence, the talker, silence
