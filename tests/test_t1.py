# SPDX-License-Identifier: GPL-2.0-or-later
"""T1 trunks through the driver, as a telecom engineer would check them on
a line tester: E&M wink-start calls both ways with the addressing sent
in-band (DTMF and MF, DNIS alone or ANI and DNIS), FXS loop-start ringing,
answer and disconnect, glare, the robbed-bit ABCD values of every state
(docs: lines.md's table), and span alarms with what they do to audio and
signalling.  All in virtual time.

Bits are read two ways: the driver's status ("ab", what an application
sees) and the simulator's own "abcd" (C and D repeat A and B).
"""
import pytest

from drivers.errors import BoardError, SimulatorError
from drivers.interface import Termination
from tests.rig import Rig, hears

TS, CH = "dtiB1T1", "dxxxB1C1"
SPAN = "dtiB1"

# lines.md, "Transmit ABCD per signalling" (ours) and what the far end sends
EM_ON_HOOK, EM_OFF_HOOK = "0000", "1111"
FXS_ON_HOOK, FXS_OFF_HOOK = "0101", "1111"           # our side of a loop-start trunk
FXO_IDLE, FXO_RING = "0101", "0000"                  # the exchange's side
WINK_MS, WINK_MIN_MS, WINK_MAX_MS = 150, 100, 350

ANI, DNIS = "4085551234", "5551212"


# ---- helpers ---------------------------------------------------------------

def trunk(signalling):
    """A T1 span and a 2-channel voice board; the voice resource dxxxB1C1 is
    routed both ways to timeslot dtiB1T1, whose signalling events are on."""
    rig = Rig([{"type": "t1", "signalling": signalling}, {"type": "voice", "channels": 2}])
    d = rig.driver
    d.listen(TS, d.transmit_slot(CH))
    d.listen(CH, d.transmit_slot(TS))
    d.enable_signalling_events(TS)
    rig.log = []                                   # (virtual ms, event)
    d.subscribe(lambda e: rig.log.append((rig.sim.now_ms, e)))
    return rig


@pytest.fixture
def em():
    return trunk("em_wink")


@pytest.fixture
def ls():
    return trunk("fxs_loopstart")


def abcd(rig, ts=TS):
    """(ours, far end's) ABCD as the driver and the simulator see them; the
    driver's A and B must be the first two of the simulator's four."""
    status, raw = rig.driver.status(ts), rig.sim.device_status(ts)
    assert status["tx_bits"] == raw["tx_abcd"][:2]
    assert status["rx_bits"] == raw["rx_abcd"][:2]
    return raw["tx_abcd"], raw["rx_abcd"]


def signalled(rig, change, within_ms=10_000):
    """Wait for a signalling event on TS whose changes include `change`."""
    return rig.wait_for("signalling", TS, within_ms=within_ms,
                        where=lambda e: change in e["changed"])


def when(rig, kind, device=None, where=None):
    """Virtual times of the logged events of a kind."""
    return [t for t, e in rig.log if e.kind == kind and (device is None or e.device == device)
            and (where is None or where(e))]


def collect(rig, expected, mf):
    """Collect exactly len(expected) digits with the voice resource, then
    check nothing else follows."""
    rig.driver.collect_digits(CH, Termination(max_digits=len(expected), max_time_ms=10_000))
    event = rig.wait_for("digits_done", CH, within_ms=11_000)
    assert (event["digits"], event["reasons"]) == (expected, {"digits"})
    rig.driver.collect_digits(CH, Termination(max_digits=1, max_time_ms=1_000))
    assert rig.wait_for("digits_done", CH, within_ms=2_000)["digits"] == ""
    types = {e["type"] for _, e in rig.log if e.kind == "digit"}
    assert types == {"mf" if mf else "dtmf"}


def seize_inbound(rig, fe, ani="", dnis=DNIS, mf=False):
    """The far end seizes TS; returns when we have seen it go off-hook."""
    fe.call(ani=ani, dnis=dnis, mf=mf)
    signalled(rig, "a_on", within_ms=100)


def our_wink(rig):
    """Wink on TS, sampling our A bit every 10 ms: returns (start, end) ms."""
    rig.driver.wink(TS)
    start = rig.sim.now_ms
    assert abcd(rig)[0] == EM_OFF_HOOK                # a wink is an off-hook pulse
    while rig.driver.bits(TS)[0] != (0, 0):
        rig.run(10)
        assert rig.sim.now_ms - start <= 1_000, "the wink never ended"
    return start, rig.sim.now_ms


def answer_em(rig, fe):
    """We answer (A and B on); the far end can only tell an answer from a
    wink once it has lasted longer than the longest wink."""
    rig.driver.set_bits(TS, 1, 1)
    assert abcd(rig)[0] == EM_OFF_HOOK
    rig.run(WINK_MAX_MS - 50)
    assert fe.state == "ringing"
    rig.run(150)
    assert fe.state == "connected"


def clear_down(rig, fe, on_hook):
    """We go on-hook: both ends idle with on-hook bits both ways."""
    rig.driver.set_bits(TS, int(on_hook[0]), int(on_hook[1]))
    rig.run(50)
    assert fe.state == "idle"
    return abcd(rig)


# ---- E&M wink start, inbound ----------------------------------------------

ADDRESSING = [
    pytest.param(False, "", DNIS, id="dtmf-dnis"),
    pytest.param(False, ANI, f"*{ANI}*{DNIS}*", id="dtmf-ani-dnis"),
    pytest.param(True, "", f"*{DNIS}#", id="mf-dnis"),
    pytest.param(True, ANI, f"*{ANI}#*{DNIS}#", id="mf-ani-dnis"),
]


@pytest.mark.parametrize("mf,ani,expected", ADDRESSING)
def test_em_inbound_call_wink_address_answer_and_far_end_clear(em, mf, ani, expected):
    """Inbound E&M wink start: idle 0000 both ways; the seizure (1111) is
    reported; nothing is sent until we wink; our wink is a 150 ms 1111
    pulse (lines.md: 150 ms, accepted 100-350 ms); the address then arrives
    in-band and the voice resource collects it exactly (MF as KP ANI ST KP
    DNIS ST, DTMF as *ANI*DNIS*, or the DNIS alone without ANI); our
    off-hook answers; the far end's on-hook clears and our on-hook returns
    the trunk to idle."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    d.set_digit_types(CH, dtmf=not mf, mf=mf)
    d.enable_events(CH, {"digit"})
    assert abcd(rig) == (EM_ON_HOOK, EM_ON_HOOK) and fe.state == "idle"

    seize_inbound(rig, fe, ani=ani, mf=mf)
    assert abcd(rig) == (EM_ON_HOOK, EM_OFF_HOOK) and fe.state == "ringing"
    rig.run(1_000)                                  # the far end waits for the wink
    assert not rig.of("digit", CH)

    start, end = our_wink(rig)
    assert end - start == WINK_MS
    assert WINK_MIN_MS <= end - start <= WINK_MAX_MS
    assert when(rig, "wink_done", TS) == [end]
    assert abcd(rig) == (EM_ON_HOOK, EM_OFF_HOOK)

    collect(rig, expected, mf)
    assert min(when(rig, "digit", CH)) > end       # the address came after the wink

    answer_em(rig, fe)
    assert abcd(rig) == (EM_OFF_HOOK, EM_OFF_HOOK)

    fe.hangup()
    event = signalled(rig, "a_off", within_ms=100)
    assert (event["a"], event["b"]) == (0, 0) and "wink" not in event["changed"]
    assert fe.state == "clearing"
    assert abcd(rig) == (EM_OFF_HOOK, EM_ON_HOOK)
    assert clear_down(rig, fe, EM_ON_HOOK) == (EM_ON_HOOK, EM_ON_HOOK)


def test_em_inbound_we_clear_first(em):
    """We hang up an answered inbound call first: our on-hook (0000) sends
    the far end back to idle and it returns on-hook too."""
    rig = em
    fe = rig.sim.endpoint(TS)
    seize_inbound(rig, fe)
    our_wink(rig)
    rig.run(2_000)
    answer_em(rig, fe)
    assert clear_down(rig, fe, EM_ON_HOOK) == (EM_ON_HOOK, EM_ON_HOOK)
    assert rig.of("signalling", TS)[-1]["changed"] >= {"a_off", "b_off"}


@pytest.mark.parametrize("pulse_ms,is_wink", [(60, False), (120, True), (340, True),
                                              (500, False)])
def test_em_only_a_100_to_350_ms_pulse_is_a_wink(em, pulse_ms, is_wink):
    """An off-hook pulse of 100-350 ms is a wink and starts the address; a
    shorter (a hit) or longer one is not, and no digits follow it."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    d.enable_events(CH, {"digit"})
    seize_inbound(rig, fe)
    d.set_bits(TS, 1, 1)
    rig.run(pulse_ms)
    d.set_bits(TS, 0, 0)
    rig.run(1_500)
    assert bool(rig.of("digit", CH)) is is_wink


def test_em_caller_gives_up_without_a_wink(em):
    """If we never wink the far end abandons the seizure (back to 0000) and
    the trunk is idle again."""
    rig = em
    fe = rig.sim.endpoint(TS)
    seize_inbound(rig, fe)
    event = signalled(rig, "a_off", within_ms=10_000)
    assert "wink" not in event["changed"]
    assert fe.state == "idle"
    assert abcd(rig) == (EM_ON_HOOK, EM_ON_HOOK)


def test_em_address_must_be_digits(em):
    """The far end refuses an ANI or DNIS it could not send in-band (the
    separators are added by the signalling, not given)."""
    fe = em.sim.endpoint(TS)
    for ani, dnis in (("", "555*1212"), ("408#555", DNIS), ("", "5" * 40)):
        with pytest.raises(SimulatorError):
            fe.call(ani=ani, dnis=dnis)
    assert fe.state == "idle"


# ---- E&M wink start, outbound ---------------------------------------------

@pytest.mark.parametrize("mf,dialstring,heard", [(False, "T5551212", "5551212"),
                                                 (True, "M*5551212#", "*5551212#")])
def test_em_outbound_seize_wink_dial_answer_supervision(em, mf, dialstring, heard):
    """Outbound E&M: our seizure (1111) is answered by a wink from the far
    end (an off-hook pulse within 100-350 ms, reported as a wink); we then
    dial the number in-band and the far end's register (DTMF or MF)
    collects exactly it; its answer (1111) is our answer supervision; our
    on-hook clears it."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    fe.set_outbound("answer", answer_rings=1)
    fe.set_register(mf=mf)
    d.set_bits(TS, 1, 1)
    assert abcd(rig) == (EM_OFF_HOOK, EM_ON_HOOK)
    rig.run(10)
    assert fe.state == "seized"

    wink = signalled(rig, "wink", within_ms=5_000)
    assert (wink["a"], wink["b"]) == (0, 0)
    on = when(rig, "signalling", TS, lambda e: "a_on" in e["changed"])
    off = when(rig, "signalling", TS, lambda e: "wink" in e["changed"])
    assert len(on) == len(off) == 1
    assert WINK_MIN_MS <= off[0] - on[0] <= WINK_MAX_MS
    assert abcd(rig) == (EM_OFF_HOOK, EM_ON_HOOK)

    d.dial(CH, dialstring)
    rig.wait_for("dial_done", CH, within_ms=5_000)
    event = signalled(rig, "a_on", within_ms=10_000)   # answer supervision
    assert (event["a"], event["b"]) == (1, 1)
    assert fe.state == "connected"
    assert fe.dialled() == heard
    assert abcd(rig) == (EM_OFF_HOOK, EM_OFF_HOOK)

    assert clear_down(rig, fe, EM_ON_HOOK) == (EM_ON_HOOK, EM_ON_HOOK)


def test_em_outbound_far_end_clears(em):
    """On an answered outbound call the far end's on-hook (0000) reaches us;
    our on-hook then idles the trunk."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    fe.set_outbound("answer", answer_rings=1)
    d.set_bits(TS, 1, 1)
    signalled(rig, "wink", within_ms=5_000)
    d.dial(CH, "4321")
    signalled(rig, "a_on", within_ms=10_000)
    fe.hangup()
    signalled(rig, "a_off", within_ms=100)
    assert abcd(rig) == (EM_OFF_HOOK, EM_ON_HOOK)
    assert clear_down(rig, fe, EM_ON_HOOK) == (EM_ON_HOOK, EM_ON_HOOK)


def test_em_glare_both_ends_seize_at_once(em):
    """Glare: the far end seizes in the same instant as we seize for an
    outbound call.  We see it off-hook and no wink comes however long we
    wait; the far end does not take our seizure for a wink either.  We back
    off, then take its call: our wink gets its address."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    d.enable_events(CH, {"digit"})
    fe.call(dnis=DNIS)
    d.set_bits(TS, 1, 1)                           # before we have seen its seizure
    rig.run(1_000)
    assert abcd(rig) == (EM_OFF_HOOK, EM_OFF_HOOK)
    changes = [e["changed"] for e in rig.of("signalling", TS)]
    assert changes == [{"a_on", "b_on"}]           # its seizure, and no wink after it
    assert fe.state == "ringing" and not rig.of("digit", CH)

    d.set_bits(TS, 0, 0)                           # we back off
    rig.run(200)
    assert fe.state == "ringing" and not rig.of("digit", CH)
    our_wink(rig)
    collect(rig, DNIS, mf=False)


def test_em_glare_we_hold_and_the_far_end_backs_off(em):
    """Glare where we keep our seizure: the far end gives up waiting for a
    wink (its on-hook, no wink), then sees our seizure, winks, and takes
    the number we dial."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    fe.call(dnis=DNIS)
    d.set_bits(TS, 1, 1)
    backed_off = signalled(rig, "a_off", within_ms=10_000)
    assert "wink" not in backed_off["changed"]
    signalled(rig, "wink", within_ms=1_000)
    assert fe.state == "seized"
    d.dial(CH, "T4321")
    rig.wait_for("dial_done", CH, within_ms=5_000)
    rig.run(500)
    assert fe.dialled() == "4321"


def test_far_end_cannot_seize_a_trunk_we_hold(em):
    """Once we are off-hook the far end sees it and does not seize."""
    rig = em
    rig.driver.set_bits(TS, 1, 1)
    with pytest.raises(SimulatorError):
        rig.sim.endpoint(TS).call(dnis=DNIS)


def test_wink_is_refused_on_a_loop_start_trunk(ls):
    """A wink is E&M signalling: a loop-start timeslot refuses it and its
    bits stay on-hook (0101)."""
    with pytest.raises(BoardError) as err:
        ls.driver.wink(TS)
    assert err.value.function == "dt_xmitwink"
    assert abcd(ls) == (FXS_ON_HOOK, FXO_IDLE)


# ---- FXS loop start ---------------------------------------------------------

def test_fxs_loop_start_ringing_answer_and_disconnect(ls):
    """Loop start with our side as the FXS: idle 0101 both ways; ringing is
    the exchange sending 0000 (B = 0) for 2 s of every 6 s; our off-hook
    (1111) answers and the exchange returns to 0101; loop start has no
    disconnect bit, so the far end's hang-up is the busy tone the voice
    resource hears; our on-hook (0101) idles the trunk."""
    rig, d = ls, ls.driver
    fe = rig.sim.endpoint(TS)
    d.enable_events(CH, {"tone"})
    assert abcd(rig) == (FXS_ON_HOOK, FXO_IDLE)

    fe.call()
    ring = signalled(rig, "b_off", within_ms=100)
    assert (ring["a"], ring["b"]) == (0, 0)
    assert abcd(rig) == (FXS_ON_HOOK, FXO_RING)
    signalled(rig, "b_on", within_ms=3_000)
    signalled(rig, "b_off", within_ms=5_000)        # second ring
    offs = when(rig, "signalling", TS, lambda e: "b_off" in e["changed"])
    ons = when(rig, "signalling", TS, lambda e: "b_on" in e["changed"])
    assert ons[0] - offs[0] == 2_000 and offs[1] - ons[0] == 4_000
    assert not any("a_on" in e["changed"] for e in rig.of("signalling", TS))

    rig.run(500)
    d.set_bits(TS, 1, 1)
    rig.run(20)
    assert fe.state == "connected"
    assert abcd(rig) == (FXS_OFF_HOOK, FXO_IDLE)
    rig.run(6_000)                                  # no more ringing once answered
    assert abcd(rig) == (FXS_OFF_HOOK, FXO_IDLE)

    fe.hangup()
    rig.wait_for("tone", CH, within_ms=5_000, where=lambda e: e["tone"] == "busy" and e["on"])
    assert abcd(rig) == (FXS_OFF_HOOK, FXO_IDLE)
    assert clear_down(rig, fe, FXS_ON_HOOK) == (FXS_ON_HOOK, FXO_IDLE)


def test_fxs_loop_start_caller_abandons_while_ringing(ls):
    """The caller gives up between rings: ringing stops (0101 stays) and
    the trunk is idle."""
    rig = ls
    fe = rig.sim.endpoint(TS)
    fe.call()
    signalled(rig, "b_off", within_ms=100)
    signalled(rig, "b_on", within_ms=3_000)
    fe.abandon()
    rig.run(8_000)
    assert len(when(rig, "signalling", TS, lambda e: "b_off" in e["changed"])) == 1
    assert fe.state == "idle"
    assert abcd(rig) == (FXS_ON_HOOK, FXO_IDLE)


def test_fxs_loop_start_seizure_gets_dial_tone(ls):
    """Our off-hook (1111) on an idle loop-start trunk draws dial tone."""
    rig, d = ls, ls.driver
    fe = rig.sim.endpoint(TS)
    d.enable_events(CH, {"tone"})
    d.set_bits(TS, 1, 1)
    rig.wait_for("tone", CH, within_ms=3_000, where=lambda e: e["tone"] == "dial" and e["on"])
    assert fe.state == "seized"
    assert abcd(rig) == (FXS_OFF_HOOK, FXO_IDLE)


# ---- alarms -----------------------------------------------------------------

ALARMS = ["los", "red", "yellow", "blue", "oof"]
SPAN_DOWN = ["los", "red", "blue", "oof"]          # no framing or no signal: nothing gets through


@pytest.mark.parametrize("alarm", ALARMS)
def test_alarm_is_raised_and_cleared_on_the_span(em, alarm):
    """Each alarm raised on the span gives an alarm event (raised) on the
    span device and shows in its status; clearing it gives the cleared
    event and the span is clean again.  Timeslots report nothing."""
    rig, d = em, em.driver
    d.enable_alarm_events(SPAN)
    assert d.status(SPAN)["alarms"] == []
    rig.sim.span_alarm(SPAN, alarm)
    event = rig.wait_for("alarm", SPAN, within_ms=100)
    assert event.data == {"alarm": alarm, "raised": True}
    assert d.alarms(SPAN) == {alarm} and d.status(SPAN)["alarms"] == [alarm]
    rig.run(1_000)
    rig.sim.span_alarm(SPAN, alarm, on=False)
    event = rig.wait_for("alarm", SPAN, within_ms=100)
    assert event.data == {"alarm": alarm, "raised": False}
    assert d.alarms(SPAN) == frozenset() and d.status(SPAN)["alarms"] == []
    assert [e.device for e in rig.of("alarm")] == [SPAN, SPAN]


def test_several_alarms_at_once_clear_one_by_one(em):
    """RED with AIS (blue) on top: each clears separately, and the span is
    clean only when both have."""
    rig, d = em, em.driver
    d.enable_alarm_events(SPAN)
    rig.sim.span_alarm(SPAN, "red")
    rig.sim.span_alarm(SPAN, "blue")
    rig.run(50)
    assert d.alarms(SPAN) == {"red", "blue"}
    rig.sim.span_alarm(SPAN, "red", on=False)
    rig.run(50)
    assert d.alarms(SPAN) == {"blue"}
    rig.sim.span_alarm(SPAN, "blue", on=False)
    rig.run(50)
    assert d.alarms(SPAN) == frozenset()
    assert [(e["alarm"], e["raised"]) for e in rig.of("alarm", SPAN)] == [
        ("red", True), ("blue", True), ("red", False), ("blue", False)]


def talking(rig):
    """Both directions carry a tone: the far end sends 1 kHz, our voice
    resource plays 1.6 kHz.  Returns the far end and the timeslot's slot."""
    d = rig.driver
    fe = rig.sim.endpoint(TS)
    fe.send_tone_custom(1_000, level_dbm0=-10, on_ms=60_000)
    d.play_tone(CH, 1_600, level_db=-10, duration_ms=60_000)
    slot = d.transmit_slot(TS)
    rig.sim.slot_capture(slot)
    fe.capture()
    return fe, slot


def listen_a_while(rig, fe, slot, ms=500):
    """(what our side received from the trunk, what the far end heard)."""
    rig.sim.read_slot(slot)
    fe.read_capture()
    rig.run(ms)
    return list(rig.sim.read_slot(slot)), list(fe.read_capture())


@pytest.mark.parametrize("alarm", SPAN_DOWN)
def test_audio_stops_on_a_span_in_alarm_and_returns(em, alarm):
    """While LOS, RED, AIS (blue) or OOF is up, the timeslot carries idle
    code towards us (decoded: exact silence) and the far end hears nothing
    of us; when the alarm clears the audio is back both ways."""
    rig = em
    fe, slot = talking(rig)
    ours, theirs = listen_a_while(rig, fe, slot)
    assert hears(ours, 1_000) and hears(theirs, 1_600)

    rig.sim.span_alarm(SPAN, alarm)
    rig.run(30)                                     # one bus hop
    ours, theirs = listen_a_while(rig, fe, slot)
    assert ours and not any(ours)                   # idle code, not a quiet tone
    assert theirs and not any(theirs)

    rig.sim.span_alarm(SPAN, alarm, on=False)
    rig.run(30)
    ours, theirs = listen_a_while(rig, fe, slot)
    assert hears(ours, 1_000) and hears(theirs, 1_600)


def test_yellow_alarm_leaves_the_receive_path_up(em):
    """A yellow alarm (RAI) says the far end does not see us; what it sends
    still reaches us."""
    rig = em
    fe, slot = talking(rig)
    rig.sim.span_alarm(SPAN, "yellow")
    rig.run(30)
    ours, _ = listen_a_while(rig, fe, slot)
    assert hears(ours, 1_000)


def test_signalling_is_held_while_the_span_is_down(em):
    """A far-end clear during a red alarm cannot reach us: the received bits
    stay as they were (1111) and no event comes; when the span recovers the
    on-hook (0000) is delivered.  Our own clear during the alarm likewise
    reaches the far end only after recovery."""
    rig, d = em, em.driver
    fe = rig.sim.endpoint(TS)
    seize_inbound(rig, fe)
    our_wink(rig)
    rig.run(2_000)
    answer_em(rig, fe)

    seen = len(rig.of("signalling", TS))
    rig.sim.span_alarm(SPAN, "red")
    fe.hangup()
    rig.run(1_000)
    assert len(rig.of("signalling", TS)) == seen
    assert abcd(rig) == (EM_OFF_HOOK, EM_OFF_HOOK)
    rig.sim.span_alarm(SPAN, "red", on=False)
    signalled(rig, "a_off", within_ms=100)
    assert abcd(rig) == (EM_OFF_HOOK, EM_ON_HOOK)
    assert clear_down(rig, fe, EM_ON_HOOK) == (EM_ON_HOOK, EM_ON_HOOK)

    # the other way: we clear while the span is down
    seize_inbound(rig, fe)
    our_wink(rig)
    rig.run(2_000)
    answer_em(rig, fe)
    rig.sim.span_alarm(SPAN, "los")
    d.set_bits(TS, 0, 0)
    rig.run(500)
    assert fe.state == "connected"
    rig.sim.span_alarm(SPAN, "los", on=False)
    rig.run(20)
    assert fe.state == "idle"
    assert abcd(rig) == (EM_ON_HOOK, EM_ON_HOOK)


@pytest.mark.parametrize("alarm", SPAN_DOWN)
def test_far_end_cannot_seize_through_a_span_in_alarm(em, alarm):
    """No call can be offered on a timeslot of a span that is down."""
    rig = em
    rig.sim.span_alarm(SPAN, alarm)
    with pytest.raises(SimulatorError):
        rig.sim.endpoint(TS).call(dnis=DNIS)
