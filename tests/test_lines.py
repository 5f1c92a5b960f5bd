# SPDX-License-Identifier: GPL-2.0-or-later
"""Analog loop-start lines (FXO ports) through the driver, checked the way a
call-centre engineer checks a new line: the ring cadence and count, a caller
who gives up, caller ID in every form the exchange sends it, answering,
each way the far end's hang-up can be supervised, audio both ways, and
hanging up.  All in virtual time."""
import re
from array import array

import pytest

from drivers import errors
from drivers.interface import Termination
from tests.rig import Rig, hears, tone

CH = "dxxxB1C1"
LINE_EVENTS = {"ring", "ring_stopped", "loop_current", "polarity_reversed", "tone", "silence"}
#: (ring on, ring off) in ms per tone set (lines.md: US 2 s / 4 s, China 1 s / 4 s)
CADENCE = {"na": (2_000, 4_000), "cn": (1_000, 4_000)}
SUPERVISION = {"loop_current", "polarity_reversed", "tone"}


# ---- helpers ---------------------------------------------------------------

def make_rig(tones="na"):
    rig = Rig([{"type": "analog", "lines": 2, "tones": tones}])
    rig.driver.enable_events(CH, LINE_EVENTS)
    return rig


@pytest.fixture
def rig():
    return make_rig()


def ring_in(rig, ani="", name=""):
    """The exchange rings our line; returns the far end after the first ring."""
    fe = rig.sim.endpoint(CH)
    fe.call(ani=ani, name=name)
    assert rig.wait_for("ring", CH)["count"] == 1
    return fe


def answer(rig, ani="5551234", name=""):
    """Ring, go off-hook at the first ring: a talking call."""
    fe = ring_in(rig, ani, name)
    rig.driver.set_hook(CH, True)
    assert rig.wait_for("hook_done", CH)["offhook"] is True
    return fe


def hang_up_far_end(rig, method, talk_ms=3_000):
    """A talking call in which the far end hangs up by `method` after
    talk_ms; returns (far end, index of the first event after the hang-up)."""
    fe = answer(rig)
    rig.run(talk_ms)
    mark = len(rig.events)
    fe.hangup(method)
    return fe, mark


def kinds_since(rig, mark):
    return [e.kind for e in rig.events[mark:] if e.device == CH]


# ---- ringing ---------------------------------------------------------------

@pytest.mark.parametrize("tones", ["na", "cn"])
def test_rings_are_counted_with_the_country_cadence(tones):
    """Rings are reported once each, numbered 1, 2, 3, one cadence period
    apart (US 6 s, China 5 s); the line shows ring voltage only during the
    on part."""
    rig = make_rig(tones)
    on, off = CADENCE[tones]
    log = rig.timed()
    fe = rig.sim.endpoint(CH)
    fe.call(ani="5551234")
    for count in (1, 2, 3):
        rig.wait_for("ring", CH, where=lambda e, c=count: e["count"] == c)
    rings = [(t, e["count"]) for t, e in log if e.kind == "ring"]
    assert [c for _, c in rings] == [1, 2, 3]
    assert [b[0] - a[0] for a, b in zip(rings, rings[1:], strict=False)] == [on + off] * 2
    rig.run(on // 2)
    status = rig.driver.status(CH)
    assert status["ringing"] and status["hook"] == "on" and not status["loop_current"]
    rig.run(on)
    assert not rig.driver.status(CH)["ringing"]
    assert fe.state == "ringing"


def test_caller_who_gives_up_before_answer_stops_the_ringing(rig):
    """A caller hanging up during the second ring: ringing stops at once,
    ring_stopped follows within one ring cycle, no third ring comes and the
    far end is idle."""
    log = rig.timed()
    fe = ring_in(rig, ani="5551234")
    rig.wait_for("ring", CH, where=lambda e: e["count"] == 2)
    rig.run(500)
    fe.abandon()
    gave_up = rig.sim.now_ms
    rig.run(10)
    assert not rig.driver.status(CH)["ringing"]
    rig.wait_for("ring_stopped", CH, within_ms=6_000)
    stopped = [t for t, e in log if e.kind == "ring_stopped"]
    assert len(stopped) == 1 and stopped[0] - gave_up <= 6_000
    rig.run(10_000)
    assert [e["count"] for e in rig.of("ring", CH)] == [1, 2]
    assert fe.state == "idle"
    assert len(rig.of("ring_stopped", CH)) == 1


def test_a_new_call_after_an_abandoned_one_counts_rings_from_one(rig):
    """After a caller gave up, the next call's rings start again at 1 and no
    stale ring_stopped interrupts it."""
    fe = ring_in(rig, ani="5551234")
    fe.abandon()
    rig.run(1_000)
    mark = len(rig.events)
    fe.call(ani="5559876")
    rig.wait_for("ring", CH)
    rig.run(7_000)
    assert [e["count"] for e in rig.events[mark:] if e.kind == "ring"] == [1, 2]
    assert "ring_stopped" not in kinds_since(rig, mark)


# ---- caller ID -------------------------------------------------------------

def valid_datetime(text):
    """MMDDhhmm with a real month, day, hour and minute."""
    if not re.fullmatch(r"\d{8}", text):
        return False
    month, day, hour, minute = (int(text[i:i + 2]) for i in range(0, 8, 2))
    return 1 <= month <= 12 and 1 <= day <= 31 and hour < 24 and minute < 60


@pytest.mark.parametrize("ani, name, number, frame", [
    ("5551234", "", "5551234", "S"),              # SDMF: date/time and number only
    ("2125551234", "J SMITH", "2125551234", "M"),  # MDMF: number, name, date/time
    ("P", "", "P", "M"),                           # private / withheld
    ("O", "", "O", "M"),                           # out of area
], ids=["sdmf-number-only", "mdmf-number-and-name", "private", "out-of-area"])
def test_caller_id_is_readable_between_the_first_and_second_ring(rig, ani, name, number, frame):
    """The FSK caller ID sent after the first ring is decoded before the
    second ring: number (or P / O when withheld / unavailable), name and a
    valid date and time, with the message type it came in."""
    ring_in(rig, ani=ani, name=name)
    rig.run(3_500)                       # 2 s ring, 0.5 s wait, ~0.6 s of FSK
    assert [e["count"] for e in rig.of("ring", CH)] == [1]
    cid = rig.driver.caller_id(CH)
    assert (cid.number, cid.name, cid.frame) == (number, name, frame)
    assert valid_datetime(cid.datetime), cid.datetime


def test_caller_id_in_china_follows_the_shorter_first_ring():
    """On a CN line (1 s rings) the caller ID is there 2.5 s after the first
    ring started, still before the second."""
    rig = make_rig("cn")
    ring_in(rig, ani="01088886666", name="WANG")
    rig.run(2_500)
    cid = rig.driver.caller_id(CH)
    assert (cid.number, cid.name, cid.frame) == ("01088886666", "WANG", "M")
    assert len(rig.of("ring", CH)) == 1


def test_caller_id_asked_too_early_is_a_clear_error(rig):
    """Before any call, and during the first ring (before the FSK burst),
    caller_id raises CallerIdUnavailable saying none was received."""
    with pytest.raises(errors.CallerIdUnavailable, match="no caller ID"):
        rig.driver.caller_id(CH)
    ring_in(rig, ani="5551234", name="ALICE")
    rig.run(1_000)
    with pytest.raises(errors.CallerIdUnavailable, match="no caller ID") as caught:
        rig.driver.caller_id(CH)
    assert caught.value.device == CH
    rig.run(2_500)
    assert rig.driver.caller_id(CH).number == "5551234"


def test_a_call_without_caller_id_never_offers_one(rig):
    """No ANI from the exchange: still unavailable after two rings, and the
    previous call's caller ID is not reported for this one."""
    fe = ring_in(rig, ani="5551234")
    rig.run(4_000)
    assert rig.driver.caller_id(CH).number == "5551234"
    fe.abandon()
    rig.run(5_000)
    ring_in(rig)
    rig.wait_for("ring", CH, where=lambda e: e["count"] == 2)
    with pytest.raises(errors.CallerIdUnavailable):
        rig.driver.caller_id(CH)


# ---- answering -------------------------------------------------------------

def test_going_offhook_answers_the_call(rig):
    """Off-hook during the ringing answers: hook_done, loop current flows,
    the far end is connected, no more rings, caller ID still readable."""
    fe = ring_in(rig, ani="2125551234", name="J SMITH")
    rig.run(3_500)
    rig.driver.set_hook(CH, True)
    assert rig.wait_for("hook_done", CH)["offhook"] is True
    assert rig.of("loop_current", CH)[-1]["on"] is True
    assert fe.state == "connected"
    status = rig.driver.status(CH)
    assert (status["hook"], status["loop_current"], status["ringing"]) == ("off", True, False)
    rig.run(8_000)
    assert [e["count"] for e in rig.of("ring", CH)] == [1]
    assert rig.driver.caller_id(CH).name == "J SMITH"


# ---- the far end hangs up: each supervision method -------------------------

@pytest.mark.parametrize("method, expected", [
    ("loop_current_drop", {"loop_current"}),
    ("polarity", {"polarity_reversed"}),
    ("busy_tone", {"tone"}),
    ("silence", set()),
])
def test_each_disconnect_method_gives_only_its_own_event(rig, method, expected):
    """Each way the exchange signals the far end's hang-up shows up as its
    own documented event, and never as another method's."""
    fe, mark = hang_up_far_end(rig, method)
    rig.run(4_000)
    assert fe.state == "clearing"
    assert set(kinds_since(rig, mark)) & SUPERVISION == expected


def test_loop_current_drop_reports_its_duration(rig):
    """Loop-current drop: loop_current off (ms = how long current flowed,
    the call's length), then on again after the 600 ms drop (ms = 600); a
    collection armed with loop_off ends with reason loop_off."""
    fe = answer(rig)
    rig.run(3_000)
    rig.driver.collect_digits(CH, Termination(max_digits=4, loop_off_ms=100,
                                              max_time_ms=20_000))
    rig.run(1_000)
    fe.hangup("loop_current_drop")
    done = rig.wait_for("digits_done", CH, within_ms=1_000)
    assert done["reasons"] == {"loop_off"}
    rig.run(1_000)
    off, on = [e for e in rig.of("loop_current", CH)][-2:]
    assert off["on"] is False and 4_000 <= off["ms"] <= 4_200
    assert on["on"] is True and on["ms"] == 600


def test_polarity_reversal_shows_on_the_line(rig):
    """Battery reversal: polarity_reversed, and the line status says so while
    loop current keeps flowing."""
    _, mark = hang_up_far_end(rig, "polarity")
    rig.wait_for("polarity_reversed", CH, within_ms=100)
    status = rig.driver.status(CH)
    assert status["polarity_reversed"] and status["loop_current"]
    assert "loop_current" not in kinds_since(rig, mark)


@pytest.mark.parametrize("tones", ["na", "cn"])
def test_busy_tone_after_hang_up_is_detected_as_a_tone(tones):
    """The exchange sends busy tone after the far end hangs up: a busy tone
    event within two cadences, and an operation armed to end on busy tone
    ends with reason tone (US 0.5/0.5 s and China 0.35/0.35 s cadences)."""
    rig = make_rig(tones)
    answer(rig)
    rig.run(1_000)
    rig.driver.collect_digits(CH, Termination(max_digits=4, tone="busy", max_time_ms=20_000))
    rig.sim.endpoint(CH).hangup("busy_tone")
    gone = rig.sim.now_ms
    event = rig.wait_for("tone", CH, within_ms=3_000, where=lambda e: e["on"])
    assert event["tone"] == "busy"
    assert rig.sim.now_ms - gone <= 2_500
    rig.run(10)
    assert [e["reasons"] for e in rig.of("digits_done", CH)] == [{"tone"}]


def test_hang_up_without_any_signal_is_caught_by_silence(rig):
    """No supervision at all: the caller was talking, then nothing.  The line
    reports silence and a max_silence limit ends the operation, the only
    way to notice."""
    fe = answer(rig)
    fe.send_audio(tone(400, 3_000, level=6_000))
    rig.run(1_000)
    rig.driver.collect_digits(CH, Termination(max_digits=4, max_silence_ms=3_000,
                                              max_time_ms=30_000))
    rig.run(1_000)
    assert not rig.of("digits_done", CH)
    mark = len(rig.events)
    fe.hangup("silence")
    gone = rig.sim.now_ms
    rig.wait_for("silence", CH, within_ms=500, where=lambda e: e["on"])
    done = rig.wait_for("digits_done", CH, within_ms=4_000)
    assert done["reasons"] == {"max_silence"}
    assert 3_000 <= rig.sim.now_ms - gone <= 3_300
    assert not set(kinds_since(rig, mark)) & SUPERVISION
    assert rig.driver.status(CH)["loop_current"]


# ---- talking ---------------------------------------------------------------

def test_each_side_hears_the_other(rig, tmp_path):
    """In a call the far end hears the 1000 Hz tone we play, and we record
    the 600 Hz tone it sends; neither hears its own tone back."""
    fe = answer(rig)
    fe.capture()
    rig.driver.play_tone(CH, 1000, 0, -13, duration_ms=500)
    assert rig.wait_for("tone_done", CH)["reasons"] == {"end_of_data"}
    heard = fe.read_capture()
    assert hears(heard, 1000) and not hears(heard, 600)

    path = tmp_path / "caller.pcm"
    fe.send_tone_custom(600, 0, -13, 1_000, 0)
    rig.driver.record(CH, str(path), "pcm16", Termination(max_time_ms=500))
    assert rig.wait_for("record_done", CH)["reasons"] == {"max_time"}
    fe.stop_sending()
    recorded = array("h", path.read_bytes())
    assert len(recorded) >= 3_900
    assert hears(recorded, 600) and not hears(recorded, 1000)


def test_onhook_ends_the_call_for_the_far_end(rig):
    """Our on-hook releases the line: the far end goes idle, no loop current,
    and the line can take the next call (rings counted from 1)."""
    fe = answer(rig)
    rig.run(2_000)
    rig.driver.set_hook(CH, False)
    assert rig.wait_for("hook_done", CH)["offhook"] is False
    assert fe.state == "idle"
    status = rig.driver.status(CH)
    assert (status["hook"], status["loop_current"]) == ("on", False)
    mark = len(rig.events)
    fe.call(ani="5550000")
    assert rig.wait_for("ring", CH)["count"] == 1
    assert [e["count"] for e in rig.events[mark:] if e.kind == "ring"] == [1]
