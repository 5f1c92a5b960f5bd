# SPDX-License-Identifier: GPL-2.0-or-later
"""T1 span maintenance in the simulator, through the driver, as a
technician meets it on a real span (lines-real.md, section 4): each end's
framing, line code and clock and the symptoms of a mismatch; error events
injected second by second and a random bit error rate; the raw counters;
loopbacks at either end and the loop codes that make the far end loop; a
BERT on the span or on one timeslot.  All in virtual time: the counters
and results are exact for a seed, and the measured error rates are checked
against what was injected with a statistical tolerance.
"""
import pytest

from drivers.errors import BadParameter, DeviceBusy, SimulatorError
from drivers.interface import (
    BERT_PATTERNS,
    BERT_RESULTS,
    LOOP_CODES,
    LOOPBACKS,
    SPAN_COUNTERS,
    SPAN_DEFECTS,
)
from drivers.sim import Simulator
from tests.rig import Rig, hears, tone

SPAN, TS, TS2, CH = "dtiB1", "dtiB1T1", "dtiB1T2", "dxxxB1C1"
FRAMES_PER_S = 8000
#: linear samples that encode to the mu-law byte 0x00: eight zeros on the line
ZEROS_BYTE_SAMPLE = -32768


def span(**line):
    """A T1 span (our side configured with `line`) and a voice board; alarm
    events on.  rig.alarms() lists (alarm, raised) as they came."""
    rig = Rig([{"type": "t1", "signalling": "em_wink", **line}, {"type": "voice", "channels": 2}])
    rig.driver.enable_alarm_events(SPAN)
    rig.alarms = lambda: [(e["alarm"], e["raised"]) for e in rig.of("alarm", SPAN)]
    return rig


@pytest.fixture
def rig():
    return span()


def counters(rig):
    return rig.driver.span_counters(SPAN)


def per_second(rig, seconds, inject=None):
    """Run `seconds` whole seconds; inject(second) at the start of each.
    Returns each second's counts (the counters diffed, as a poller does)
    and its defects."""
    rows, before = [], counters(rig)
    for second in range(seconds):
        if inject:
            inject(second)
        now = counters(rig)
        defects = {k: now[k] for k in SPAN_DEFECTS}
        rig.run(1000)
        after = counters(rig)
        rows.append({**{k: after[k] - before[k] for k in SPAN_COUNTERS if k != "seconds"},
                     **defects})
        before = after
    return rows


def zeros_from_the_far_end(rig, ts=TS, samples=800):
    """The far end of a timeslot sends bytes 0x00 (eight zeros each)."""
    rig.sim.endpoint(ts).send_audio([ZEROS_BYTE_SAMPLE] * samples)


def loop_far_end(rig):
    """Loop the far end up with the in-band code; it latches after 5 s."""
    rig.driver.send_loop_code(SPAN, "line_up")
    rig.run(5_100)
    assert rig.sim.far_loopback(SPAN) == "line"


def received(rig, ts, ms):
    """What we receive on a timeslot (its bus slot) during ms."""
    slot = rig.driver.transmit_slot(ts)
    rig.sim.slot_capture(slot)
    rig.run(ms)
    samples = rig.sim.read_slot(slot)
    rig.sim.slot_capture(slot, False)
    return samples


def send_our_tone(rig, freq=1000):
    """Our voice resource sends a tone on TS (TS listens to it)."""
    d = rig.driver
    d.listen(TS, d.transmit_slot(CH))
    d.play_tone(CH, freq, 0, -10, duration_ms=4_000)


# ---- configuration ------------------------------------------------------------

def test_a_span_is_esf_b8zs_line_timed_unless_configured():
    status = span().driver.status(SPAN)
    assert (status["framing"], status["coding"], status["clock"]) == ("esf", "b8zs", "line")
    assert (status["loopback"], status["loop_code"]) == ("none", None)
    status = span(framing="d4", coding="ami", clock="internal").driver.status(SPAN)
    assert (status["framing"], status["coding"], status["clock"]) == ("d4", "ami", "internal")


@pytest.mark.parametrize(("key", "value"), [
    ("framing", "esf4"), ("coding", "hdb3"), ("clock", "loop")])
def test_a_wrong_line_setting_is_refused_naming_its_key(key, value):
    with pytest.raises(SimulatorError) as caught:
        Simulator.from_config([{"type": "t1", key: value}])
    assert f"boards[0].{key}" in str(caught.value) and repr(value) in str(caught.value)


def test_a_matched_span_counts_nothing_and_raises_no_alarm_while_data_flows(rig):
    zeros_from_the_far_end(rig)
    rig.run(30_000)
    assert counters(rig) == {**dict.fromkeys(SPAN_COUNTERS, 0), "seconds": 30,
                             **dict.fromkeys(SPAN_DEFECTS, False)}
    assert rig.alarms() == []


def test_counters_count_seconds_from_the_open_and_start_again_when_it_is_reopened(rig):
    rig.sim.span_errors(SPAN, bpv=7)
    rig.run(2_500)
    assert (counters(rig)["seconds"], counters(rig)["bpv"]) == (2, 7)
    rig.driver.reset(SPAN)
    assert (counters(rig)["seconds"], counters(rig)["bpv"]) == (0, 0)


# ---- framing --------------------------------------------------------------------

def test_a_framing_mismatch_is_oof_at_once_then_red_and_the_far_ends_yellow_never_los(rig):
    rig.sim.far_span_config(SPAN, framing="d4")
    rig.run(100)
    assert rig.alarms() == [("oof", True)]
    now = counters(rig)
    assert (now["oof"], now["oof_now"], now["los"]) == (1, True, False)
    rig.run(2_300)
    assert rig.alarms() == [("oof", True)]                 # red integrates 2.5 s
    rig.run(200)
    assert set(rig.alarms()) == {("oof", True), ("yellow", True), ("red", True)}
    assert "los" not in rig.driver.alarms(SPAN)
    assert counters(rig)["oof"] == 1                       # one event, however long


def test_framing_matched_again_clears_oof_at_once_and_red_and_yellow_ten_seconds_later(rig):
    rig.sim.far_span_config(SPAN, framing="d4")
    rig.run(3_000)
    rig.sim.far_span_config(SPAN, framing="esf")
    rig.run(100)
    assert rig.driver.alarms(SPAN) == {"red", "yellow"}
    assert not counters(rig)["oof_now"]
    rig.run(9_800)
    assert rig.driver.alarms(SPAN) == {"red", "yellow"}
    rig.run(200)
    assert rig.driver.alarms(SPAN) == frozenset()


def test_a_span_out_of_frame_carries_no_audio(rig):
    rig.sim.far_span_config(SPAN, framing="d4")
    rig.run(100)
    rig.sim.endpoint(TS).send_audio(tone(1000, 1000))
    assert not hears(received(rig, TS, 1000), 1000)


# ---- line code ------------------------------------------------------------------

def test_b8zs_received_as_ami_is_two_bpvs_per_eight_zeros_and_no_alarm():
    rig = span(coding="ami")
    rig.sim.far_span_config(SPAN, coding="b8zs")
    zeros_from_the_far_end(rig, samples=800)
    rig.run(2_000)
    assert (counters(rig)["bpv"], counters(rig)["exz"]) == (2 * 800, 0)
    assert rig.alarms() == []


def test_ami_received_as_b8zs_is_an_excessive_zeros_event_per_run_of_eight(rig):
    rig.sim.far_span_config(SPAN, coding="ami")
    zeros_from_the_far_end(rig, samples=800)
    rig.run(2_000)
    assert (counters(rig)["bpv"], counters(rig)["exz"]) == (0, 800)
    assert rig.alarms() == []


def test_ami_at_both_ends_counts_only_runs_of_sixteen_zeros_or_more():
    rig = span(coding="ami")
    zeros_from_the_far_end(rig, TS, samples=800)       # 8 zeros: an AMI line's business
    rig.run(2_000)
    assert counters(rig)["exz"] == 0
    zeros_from_the_far_end(rig, TS, samples=400)       # side by side: 16 zeros a frame
    zeros_from_the_far_end(rig, TS2, samples=400)
    rig.run(2_000)
    assert counters(rig)["exz"] == 400


def test_voice_on_a_coding_mismatch_counts_bpvs_at_a_rate_that_follows_the_traffic():
    rig = span(coding="ami")
    rig.sim.far_span_config(SPAN, coding="b8zs")
    rig.run(5_000)
    assert counters(rig)["bpv"] == 0                   # idle code is all ones
    rig.sim.endpoint(TS).send_audio(tone(300, 5_000, level=32000.0))
    rig.run(5_000)
    assert counters(rig)["bpv"] > 0
    assert rig.alarms() == []


# ---- clocks ---------------------------------------------------------------------

@pytest.mark.parametrize(("ppm", "seconds"), [(32, 100), (100, 61), (-50, 37)])
def test_two_internal_clocks_slip_once_every_one_over_ppm_times_8000_seconds(ppm, seconds):
    rig = span(clock="internal")
    rig.sim.far_span_config(SPAN, clock="internal", ppm=ppm)
    interval_s = 1 / (abs(ppm) * 1e-6 * FRAMES_PER_S)
    rig.run(seconds * 1000)
    assert counters(rig)["slips"] == int(seconds / interval_s)
    assert rig.alarms() == []


def test_the_first_slip_comes_one_interval_after_both_clocks_run_free():
    rig = span(clock="internal")
    rig.sim.far_span_config(SPAN, clock="internal", ppm=32)   # one slip per 3.906 s
    rig.run(3_900)
    assert counters(rig)["slips"] == 0
    rig.run(20)
    assert counters(rig)["slips"] == 1


@pytest.mark.parametrize("ours", ["line", "internal"])
def test_one_end_making_the_clock_for_the_other_never_slips(ours):
    rig = span(clock=ours)                 # the far end takes the other role
    rig.run(60_000)
    assert counters(rig)["slips"] == 0


def test_two_line_timed_ends_are_a_timing_loop_slipping_under_the_carrier_loss_alarm(rig):
    rig.sim.far_span_config(SPAN, clock="line")
    rig.run(10_000)
    assert counters(rig)["slips"] >= 50
    assert rig.alarms() == [("carrier_loss", True)]
    rig.sim.far_span_config(SPAN, clock="internal")
    rig.run(100)
    assert rig.alarms()[-1] == ("carrier_loss", False)


# ---- injected errors --------------------------------------------------------------

def test_errors_injected_second_by_second_come_out_of_the_counters_exactly(rig):
    pattern = {0: {"bpv": 3}, 1: {"crc": 2, "fas": 1}, 3: {"oof": 1, "slips": 2, "ais": True},
               4: {"bpv": 1, "crc": 320}}

    def inject(second):
        rig.run(300)                                   # anywhere in the second
        if second in pattern:
            rig.sim.span_errors(SPAN, **pattern[second])

    rows = per_second(rig, 6, inject)
    for second, row in enumerate(rows):
        events = pattern.get(second, {})
        assert {k: row[k] for k in ("bpv", "crc", "fas", "oof", "slips")} == {
            k: events.get(k, 0) for k in ("bpv", "crc", "fas", "oof", "slips")}, second
        assert row["ais"] == events.get("ais", False), second
    assert rig.alarms() == []                          # events, not alarms


def test_an_injected_ais_lasts_until_the_end_of_its_second(rig):
    rig.run(1_400)
    rig.sim.span_errors(SPAN, ais=True)
    assert counters(rig)["ais"]
    rig.run(590)
    assert counters(rig)["ais"]
    rig.run(20)
    assert not counters(rig)["ais"]


def test_crc_errors_cannot_be_injected_on_a_d4_span():
    rig = span(framing="d4")
    with pytest.raises(SimulatorError, match="D4"):
        rig.sim.span_errors(SPAN, crc=1)


def test_alarms_raised_by_hand_show_in_the_defects(rig):
    rig.sim.span_alarm(SPAN, "los")
    rig.sim.span_alarm(SPAN, "blue")
    rig.sim.span_alarm(SPAN, "oof")
    now = counters(rig)
    assert (now["los"], now["ais"], now["oof_now"], now["oof"]) == (True, True, True, 1)


# ---- bit error rate -----------------------------------------------------------------

def test_a_bit_error_rate_on_esf_fails_crc6_superframes_in_proportion(rig):
    ber, seconds = 1e-4, 10
    rig.sim.span_ber(SPAN, ber)
    rig.run(seconds * 1000)
    superframes = seconds * FRAMES_PER_S / 24
    expected = superframes * (1 - (1 - ber) ** (24 * 193))   # P(an error in 4632 bits)
    assert counters(rig)["crc"] == pytest.approx(expected, rel=0.1)
    assert counters(rig)["fas"] < 10                       # one F bit in 4 is FAS
    assert rig.alarms() == []


def test_a_bit_error_rate_on_d4_is_frame_bit_errors_and_no_crc():
    rig = span(framing="d4")
    ber, seconds = 1e-3, 20
    rig.sim.span_ber(SPAN, ber)
    rig.run(seconds * 1000)
    assert counters(rig)["fas"] == pytest.approx(seconds * FRAMES_PER_S * ber, rel=0.25)
    assert counters(rig)["crc"] == 0


def test_the_same_seed_gives_the_same_errors():
    def run(seed):
        rig = Rig([{"type": "t1"}], seed=seed)
        rig.sim.span_ber(SPAN, 1e-4)
        rig.run(2_000)
        return rig.driver.span_counters(SPAN)

    assert run(7) == run(7)
    assert run(7) != run(8)


def test_a_bit_error_rate_is_refused_beyond_one_in_a_hundred(rig):
    with pytest.raises(SimulatorError, match="bit error rate"):
        rig.sim.span_ber(SPAN, 0.5)


# ---- loopbacks ---------------------------------------------------------------------

@pytest.mark.parametrize("mode", ["line", "payload"])
def test_our_line_or_payload_loop_sends_the_caller_back_its_own_voice(rig, mode):
    far = rig.sim.endpoint(TS)
    far.capture()
    rig.driver.span_loopback(SPAN, mode)
    assert rig.driver.status(SPAN)["loopback"] == mode
    far.send_audio(tone(700, 2_000))
    assert hears(received(rig, TS, 1_000), 700)            # we still receive it
    assert hears(far.read_capture(), 700)                  # and the caller hears itself
    rig.driver.span_loopback(SPAN, "none")
    far.read_capture()
    rig.run(500)
    assert not hears(far.read_capture(), 700)


def test_our_local_loop_brings_what_we_send_back_to_us(rig):
    far = rig.sim.endpoint(TS)
    far.capture()
    send_our_tone(rig)
    assert not hears(received(rig, TS, 500), 1000)
    rig.driver.span_loopback(SPAN, "local")
    assert hears(received(rig, TS, 500), 1000)
    assert hears(far.read_capture(), 1000)                 # it still goes out too


def test_an_unknown_loopback_or_loop_code_is_a_bad_parameter(rig):
    with pytest.raises(BadParameter, match="loopback"):
        rig.driver.span_loopback(SPAN, "remote")
    with pytest.raises(BadParameter, match="loop code"):
        rig.driver.send_loop_code(SPAN, "loop_up")
    with pytest.raises(BadParameter, match="not a span"):
        rig.driver.span_loopback(TS, "line")
    assert set(LOOPBACKS) >= {"none", "line", "payload", "local"}
    assert set(LOOP_CODES) == {"line_up", "line_down", "payload_up", "payload_down"}


# ---- loop codes ----------------------------------------------------------------------

def test_the_far_end_latches_a_line_loop_only_after_five_seconds_of_loop_up_code(rig):
    rig.driver.send_loop_code(SPAN, "line_up")
    assert rig.driver.status(SPAN)["loop_code"] == "line_up"
    rig.run(4_900)
    assert rig.sim.far_loopback(SPAN) == "none"
    rig.run(100)
    assert rig.sim.far_loopback(SPAN) == "line"
    rig.run(10)
    assert rig.driver.status(SPAN)["loop_code"] is None    # we saw our code come back


def test_while_the_far_end_loops_our_audio_comes_back_and_its_caller_is_cut_off(rig):
    far = rig.sim.endpoint(TS)
    far.capture()
    loop_far_end(rig)
    far.read_capture()
    send_our_tone(rig)
    far.send_audio(tone(700, 2_000))
    heard = received(rig, TS, 1_000)
    assert hears(heard, 1000) and not hears(heard, 700)
    assert not hears(far.read_capture(), 1000)


def test_a_loop_up_code_cut_short_by_another_code_never_latches(rig):
    rig.driver.send_loop_code(SPAN, "line_up")
    rig.run(3_000)
    rig.driver.send_loop_code(SPAN, "line_down")
    rig.run(12_000)
    assert rig.sim.far_loopback(SPAN) == "none"
    assert rig.driver.status(SPAN)["loop_code"] is None


def test_five_seconds_of_loop_down_code_release_the_far_ends_line_loop(rig):
    loop_far_end(rig)
    rig.driver.send_loop_code(SPAN, "line_down")
    rig.run(4_900)
    assert rig.sim.far_loopback(SPAN) == "line"
    rig.run(200)
    assert rig.sim.far_loopback(SPAN) == "none"
    assert rig.driver.status(SPAN)["loop_code"] is None


def test_data_link_codes_make_and_release_a_payload_loop_within_a_tenth_of_a_second(rig):
    rig.driver.send_loop_code(SPAN, "payload_up")
    rig.run(100)
    assert rig.sim.far_loopback(SPAN) == "payload"
    rig.driver.send_loop_code(SPAN, "line_down")           # in-band: not its kind
    rig.run(11_000)
    assert rig.sim.far_loopback(SPAN) == "payload"
    rig.driver.send_loop_code(SPAN, "payload_down")
    rig.run(100)
    assert rig.sim.far_loopback(SPAN) == "none"


def test_payload_loop_codes_are_refused_on_a_d4_span():
    rig = span(framing="d4")
    with pytest.raises(BadParameter, match="D4"):
        rig.driver.send_loop_code(SPAN, "payload_up")
    rig.driver.send_loop_code(SPAN, "line_up")             # in-band codes work on D4
    rig.run(5_100)
    assert rig.sim.far_loopback(SPAN) == "line"


def test_a_far_end_line_loop_returns_our_own_framing_so_a_mismatch_clears(rig):
    rig.sim.far_span_config(SPAN, framing="d4")
    rig.run(3_000)
    assert "red" in rig.driver.alarms(SPAN)
    loop_far_end(rig)                                     # in-band codes need no framing
    assert not counters(rig)["oof_now"]
    rig.run(10_100)
    assert rig.driver.alarms(SPAN) == frozenset()


# ---- BERT ----------------------------------------------------------------------------

def test_a_bert_through_the_far_ends_loop_measures_the_bit_error_rate_injected(rig):
    loop_far_end(rig)
    rig.sim.span_ber(SPAN, 1e-4)
    rig.driver.bert_start(SPAN, "qrss")
    rig.run(6_000)
    results = rig.driver.bert_stop(SPAN)
    assert set(results) == set(BERT_RESULTS)
    assert results["bits"] >= 6 * 1_536_000 * 0.99        # all 24 timeslots
    assert results["ber"] == pytest.approx(1e-4, rel=0.15)   # ~920 errors: 4.5 sigma
    assert (results["sync"], results["sync_losses"]) == (True, 0)
    assert results["seconds"] == results["errored_seconds"] == 6
    assert results["error_free_seconds"] == 0


def test_a_bert_on_one_timeslot_measures_that_timeslots_errors(rig):
    loop_far_end(rig)
    rig.sim.span_ber(SPAN, 1e-3)
    rig.driver.bert_start(TS2, "2^15-1")
    rig.run(5_000)
    results = rig.driver.bert_results(TS2)
    assert results["bits"] == pytest.approx(5 * 64_000, rel=0.01)
    assert results["ber"] == pytest.approx(1e-3, rel=0.25)   # ~320 errors: 4.5 sigma


@pytest.mark.parametrize("pattern", BERT_PATTERNS)
@pytest.mark.parametrize("device", [SPAN, TS])
def test_every_pattern_is_error_free_through_a_clean_loop(rig, pattern, device):
    rig.driver.span_loopback(SPAN, "local")
    rig.driver.bert_start(device, pattern)
    rig.run(3_000)
    results = rig.driver.bert_results(device)
    assert results["pattern"] == pattern
    assert (results["sync"], results["errors"], results["sync_losses"]) == (True, 0, 0)
    assert results["seconds"] == results["error_free_seconds"] == 3


@pytest.mark.parametrize("pattern", ["qrss", "2^15-1", "2^20-1"])
def test_without_a_loop_the_checker_never_syncs(rig, pattern):
    rig.driver.bert_start(SPAN, pattern)
    rig.run(3_000)
    results = rig.driver.bert_stop(SPAN)
    assert (results["sync"], results["bits"], results["errors"]) == (False, 0, 0)
    assert results["errored_seconds"] == results["seconds"] == 3


def test_a_bert_pattern_crosses_the_line_so_a_coding_mismatch_shows_under_it(rig):
    rig.driver.send_loop_code(SPAN, "payload_up")
    rig.run(100)
    rig.sim.far_span_config(SPAN, coding="ami")        # the loop recodes in AMI
    rig.driver.bert_start(SPAN, "qrss")
    rig.run(1_000)
    assert counters(rig)["exz"] > 1_000                # QRSS has runs of 8 to 14 zeros
    assert rig.driver.bert_results(SPAN)["errors"] == 0


def test_slips_in_a_looped_bert_are_bursts_of_errors():
    rig = span(clock="internal")
    rig.sim.far_span_config(SPAN, clock="internal", ppm=1000)   # 8 slips a second
    rig.driver.send_loop_code(SPAN, "payload_up")      # the far end reclocks our payload
    rig.run(100)
    rig.driver.bert_start(TS, "qrss")
    rig.run(5_000)
    results = rig.driver.bert_results(TS)
    assert counters(rig)["slips"] >= 40
    assert results["errors"] > 0 and results["sync"]


def test_a_bert_is_refused_on_a_timeslot_in_a_call_until_it_leaves_the_bus(rig):
    d = rig.driver
    d.listen(TS, d.transmit_slot(CH))
    d.listen(CH, d.transmit_slot(TS))
    for device in (TS, SPAN):
        with pytest.raises(DeviceBusy, match="in a call"):
            d.bert_start(device, "qrss")
    d.unlisten(TS)
    with pytest.raises(DeviceBusy, match="dxxxB1C1 listens to dtiB1T1"):
        d.bert_start(TS, "qrss")
    d.unlisten(CH)
    d.bert_start(TS, "qrss")


def test_a_timeslot_under_test_cannot_be_routed_and_takes_no_second_test(rig):
    d = rig.driver
    d.bert_start(TS, "qrss")
    with pytest.raises(DeviceBusy, match="BERT"):
        d.listen(TS, d.transmit_slot(CH))
    with pytest.raises(DeviceBusy, match="BERT"):
        d.bert_start(SPAN, "qrss")
    with pytest.raises(DeviceBusy, match="BERT"):
        d.send_loop_code(SPAN, "line_up")
    d.bert_stop(TS)
    d.listen(TS, d.transmit_slot(CH))


def test_a_loop_code_being_sent_keeps_a_bert_off_the_span(rig):
    rig.driver.send_loop_code(SPAN, "line_down")       # no loop: it stops at once
    rig.driver.send_loop_code(SPAN, "line_up")
    with pytest.raises(DeviceBusy, match="loop code"):
        rig.driver.bert_start(TS, "qrss")


def test_stopping_a_bert_gives_its_final_results_and_ends_it(rig):
    rig.driver.span_loopback(SPAN, "local")
    rig.driver.bert_start(SPAN, "all_ones")
    rig.run(1_000)
    final = rig.driver.bert_stop(SPAN)
    assert final["bits"] > 0 and final["pattern"] == "all_ones"
    with pytest.raises(BadParameter, match="no BERT"):
        rig.driver.bert_results(SPAN)


def test_a_bert_is_refused_on_a_voice_channel_and_for_an_unknown_pattern(rig):
    with pytest.raises(BadParameter, match="span or a timeslot"):
        rig.driver.bert_start(CH, "qrss")
    with pytest.raises(BadParameter, match="pattern"):
        rig.driver.bert_start(SPAN, "3-in-24")
