# SPDX-License-Identifier: GPL-2.0-or-later
"""Analog disconnect supervision end to end (cti.server.lines.disconnect):
a caller talking to an agent on a loop-start line hangs up by each method
the line's trunk group says it gives, and the call clears with that
method's cause in its CDR; a caller who hangs up into silence is cleared
after the group's silence_s; one who pauses for less, or talks quietly
above the group's level, is not; a method the group leaves out clears
nothing.  T1 loop-start timeslots likewise, by tone or silence."""
import shutil

import pytest

from cti.config import ConfigError
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from tests.centre import Centre, admin
from tests.test_callcenter import agent_ready, names

SILENCE_S = 8
ALL = '["loop_current", "reversal", "tone", "silence"]'


def centre_with(tmp_path, group, t1_loopstart=False):
    """The sample centre, the trunk group of its analog lines ("local") or,
    with `t1_loopstart`, of its T1 span made loop start, given `group`
    (TOML lines)."""
    shutil.copytree("etc", tmp_path / "etc")
    cti = tmp_path / "etc" / "cti.toml"
    text = cti.read_text()
    if t1_loopstart:
        boards = tmp_path / "etc" / "boards.toml"
        boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                     'signalling = "fxs_loopstart"', 1))
        anchor = 'channels = ["dtiB1T1-24"]\n'
    else:
        anchor = 'channels = ["dxxxB1C1-4"]\n'
    cti.write_text(text.replace(anchor, anchor + group + "\n", 1))
    return Centre(load_server_config(cti))


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
    for _ in range(8):
        caller.send_tone_custom(440, 0, -35, on_ms=1_500)
        centre.run(7_500)                      # 1.5 s of talk, then 6 s of pause
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
