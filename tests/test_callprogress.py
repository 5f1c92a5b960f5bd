# SPDX-License-Identifier: GPL-2.0-or-later
"""Outbound calls with call-progress analysis, through the driver: our side
seizes an analog line (or a T1 E&M trunk), dials, and must get the right
result for whatever the far end does - answer, busy, ring for ever, no
ringback, special information tones, fax, a dead line - on North American
and Chinese exchanges.  The far end checks it got exactly the digits we
dialled (DTMF on lines, MF on trunks).  All in virtual time."""
from array import array

import pytest

from drivers.interface import CallProgress, Termination
from tests.rig import Rig

CH = "dxxxB1C1"
NUMBER = "5551234"
ALL_DTMF = "0123456789*#ABCD"
RING_CYCLE = {"na": 6_000, "cn": 5_000}          # ringback on + off, ms
CHECK_DIAL_TONE = CallProgress(check_dial_tone_ms=3_000)


# ---- helpers ---------------------------------------------------------------

def make_rig(tones="na"):
    return Rig([{"type": "analog", "lines": 2, "tones": tones}])


@pytest.fixture
def rig():
    return make_rig()


def seize(rig, behaviour="answer", answer_rings=2):
    """Tell the far end what to do with our call, then go off-hook."""
    fe = rig.sim.endpoint(CH)
    fe.set_outbound(behaviour, answer_rings)
    rig.driver.set_hook(CH, True)
    assert rig.wait_for("hook_done", CH)["offhook"] is True
    assert fe.state == "seized"
    return fe


def call(rig, behaviour, call_progress=CHECK_DIAL_TONE, number=NUMBER, answer_rings=2):
    """Seize, dial with call progress; returns (dial_done, ms taken, far end)."""
    fe = seize(rig, behaviour, answer_rings)
    start = rig.sim.now_ms
    rig.driver.dial(CH, number, call_progress=call_progress)
    done = rig.wait_for("dial_done", CH, within_ms=90_000)
    return done, rig.sim.now_ms - start, fe


# ---- every outcome, on both exchanges -------------------------------------

OUTCOMES = [
    # far end does, analysis options, result, far end's state after it
    ("answer", CHECK_DIAL_TONE, "connected", "connected"),
    ("busy", CHECK_DIAL_TONE, "busy", "seized"),
    ("no_answer", CallProgress(check_dial_tone_ms=3_000, rings_before_no_answer=2),
     "no_answer", "seized"),
    ("silence", CallProgress(check_dial_tone_ms=3_000, no_signal_ms=8_000),
     "no_ringback", "seized"),
    ("sit", CHECK_DIAL_TONE, "operator_intercept", "seized"),
    ("fax", CHECK_DIAL_TONE, "fax", "connected"),
    ("no_dial_tone", CHECK_DIAL_TONE, "no_dial_tone", "seized"),
]


@pytest.mark.parametrize("tones", ["na", "cn"])
@pytest.mark.parametrize("behaviour, call_progress, result, far_state", OUTCOMES,
                         ids=[o[0] for o in OUTCOMES])
def test_call_progress_result_for_each_far_end_behaviour(tones, behaviour, call_progress,
                                                         result, far_state):
    """Dialling with call-progress analysis (waiting for dial tone first)
    reports what the far end did, with the tones of the line's country; the
    far end received exactly our number (nothing at all on a dead line)."""
    rig = make_rig(tones)
    done, _, fe = call(rig, behaviour, call_progress)
    assert done["result"] == result
    assert fe.state == far_state
    assert fe.dialled() == ("" if behaviour == "no_dial_tone" else NUMBER)


# ---- details of each outcome -----------------------------------------------

@pytest.mark.parametrize("tones", ["na", "cn"])
def test_connected_only_once_the_far_end_answers(tones, tmp_path):
    """The far end answers after two rings and says hello: connected, after
    ringback (connect type cadence), never before the answer; the voice goes
    on after the result, so the application hears the greeting."""
    rig = make_rig(tones)
    log = rig.timed()
    rig.driver.enable_events(CH, {"tone"})
    done, took, fe = call(rig, "answer", answer_rings=2)
    assert (done["result"], done["connect_type"]) == ("connected", "cadence")
    assert fe.state == "connected"
    heard = [(e.kind, e.data.get("tone"), e.data.get("on")) for _, e in log
             if e.kind in ("tone", "dial_done")]
    assert heard == [("tone", "dial", True), ("tone", "dial", False),
                     ("tone", "ringback", True), ("tone", "ringback", False),
                     ("dial_done", None, None)]
    assert took >= RING_CYCLE[tones] + 1_000
    rig.driver.record(CH, str(tmp_path / "greeting.pcm"), "pcm16",
                      Termination(max_time_ms=300))
    rig.wait_for("record_done", CH)
    greeting = array("h", (tmp_path / "greeting.pcm").read_bytes())
    assert max(abs(s) for s in greeting) > 1_000


def test_busy_is_reported_within_a_few_cadences(rig):
    """Busy tone (0.5 s on / 0.5 s off) is recognized within about two
    cadences of the exchange starting it, long before any no-answer limit."""
    done, took, _ = call(rig, "busy", call_progress=CallProgress())
    assert done["result"] == "busy"
    assert took <= 9_000


def test_no_answer_waits_for_the_configured_rings(rig):
    """rings_before_no_answer=N: no_answer once N ringback cycles went
    unanswered; one more ring allowed means exactly one cycle more."""
    took = {}
    for rings in (2, 3):
        r = make_rig()
        done, took[rings], fe = call(r, "no_answer",
                                     CallProgress(rings_before_no_answer=rings))
        assert done["result"] == "no_answer"
        assert fe.state == "seized"
        assert took[rings] >= rings * RING_CYCLE["na"]
    assert abs(took[3] - took[2] - RING_CYCLE["na"]) <= 100


def test_no_ringback_after_the_no_signal_time(rig):
    """Nothing at all after dialling: no_ringback once no_signal_ms of
    silence has passed after the last digit; by default after 40 s, the
    vendor's ca_cnosig default."""
    dialling = len(NUMBER) * 200
    done, took, _ = call(rig, "silence", CallProgress(no_signal_ms=8_000))
    assert done["result"] == "no_ringback"
    assert 8_000 <= took <= 8_000 + dialling + 500
    done, took, _ = call(make_rig(), "silence", CallProgress())
    assert done["result"] == "no_ringback"
    assert 40_000 <= took <= 40_000 + dialling + 500


def test_dead_line_without_dial_tone_check_is_no_ringback(rig):
    """Dialling into a line without dial tone and without asking for the
    dial tone check: the analysis still ends, with no_ringback."""
    done, _, _ = call(rig, "no_dial_tone", CallProgress(no_signal_ms=8_000))
    assert done["result"] == "no_ringback"


def test_no_dial_tone_is_reported_after_the_wait_and_nothing_is_dialled(rig):
    """A dead line: no_dial_tone when the dial-tone wait expires, and not a
    digit goes out."""
    done, took, fe = call(rig, "no_dial_tone", CallProgress(check_dial_tone_ms=2_000))
    assert done["result"] == "no_dial_tone"
    assert 2_000 <= took <= 2_100
    assert fe.dialled() == ""


def test_operator_intercept_and_fax_are_told_apart(rig):
    """SIT (number unobtainable) gives operator_intercept; a fax machine's
    answer tone gives fax."""
    done, _, _ = call(rig, "sit")
    assert done["result"] == "operator_intercept"
    other = make_rig()
    done, _, fe = call(other, "fax")
    assert done["result"] == "fax"
    assert fe.state == "connected"


def test_continuous_dial_tone_after_dialling_ends_the_analysis():
    """MF digits on an analog line are not taken by the exchange, whose dial
    tone goes on: the analysis gives up with no_ringback instead of waiting
    for ever."""
    rig = make_rig()
    done, took, fe = call(rig, "answer", CallProgress(), number="M123")
    assert done["result"] == "no_ringback"
    assert took <= 10_000
    assert fe.dialled() == ""


def test_stopping_the_analysis_reports_stopped(rig):
    """stop() during ringback ends the dial with result stopped."""
    seize(rig, "no_answer")
    rig.driver.dial(CH, NUMBER, call_progress=CallProgress())
    rig.run(6_000)
    rig.driver.stop(CH)
    assert rig.wait_for("dial_done", CH, within_ms=100)["result"] == "stopped"


# ---- dialling --------------------------------------------------------------

def test_dial_without_analysis_sends_every_dtmf_digit(rig):
    """A plain dial (no call progress) completes with result None once the
    16 DTMF digits went out (100 ms on / 100 ms off each), and the exchange
    collected exactly them."""
    fe = seize(rig)
    start = rig.sim.now_ms
    rig.driver.dial(CH, ALL_DTMF)
    done = rig.wait_for("dial_done", CH)
    assert (done["result"], done["connect_type"]) == (None, None)
    assert 3_100 <= rig.sim.now_ms - start <= 3_300
    assert fe.dialled() == ALL_DTMF


def test_pause_in_the_dial_string_is_part_of_one_number(rig):
    """"9,5551234" (a 2 s pause after the 9): the exchange waits for the whole
    number, so ringback comes only after the last digit, and the call
    connects."""
    log = rig.timed()
    rig.driver.enable_events(CH, {"tone"})
    done, _, fe = call(rig, "answer", CallProgress(), number="9," + NUMBER)
    assert done["result"] == "connected"
    assert fe.dialled() == "9" + NUMBER
    dial_start = next(t for t, e in log if e.kind == "hook_done")
    last_digit = dial_start + 8 * 200 + 2_000
    first_ringback = next(t for t, e in log if e.kind == "tone" and e["tone"] == "ringback")
    assert first_ringback - 2_000 >= last_digit       # recognized after its first 2 s


def test_mf_digits_on_an_em_trunk_reach_the_far_end():
    """On a T1 E&M wink trunk whose far-end register takes MF, we seize,
    the far end winks, we dial KP 5551234 ST in MF with call progress:
    connected, and the far end collected exactly KP (*), the digits and
    ST (#)."""
    rig = Rig([{"type": "t1", "signalling": "em_wink"}, {"type": "voice", "channels": 2}])
    d = rig.driver
    ts, ch = "dtiB1T1", "dxxxB1C1"
    d.listen(ts, d.transmit_slot(ch))
    d.listen(ch, d.transmit_slot(ts))
    d.enable_signalling_events(ts)
    fe = rig.sim.endpoint(ts)
    fe.set_register(mf=True)
    d.set_bits(ts, 1, 1)
    rig.wait_for("signalling", ts, where=lambda e: "wink" in e["changed"])
    d.dial(ch, "M*" + NUMBER + "#", call_progress=CallProgress())
    done = rig.wait_for("dial_done", ch, within_ms=60_000)
    assert done["result"] == "connected"
    assert fe.dialled() == "*" + NUMBER + "#"
    assert fe.state == "connected"
    assert d.bits(ts) == ((1, 1), (1, 1))                 # answer supervision

