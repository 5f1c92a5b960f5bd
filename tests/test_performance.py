# SPDX-License-Identifier: GPL-2.0-or-later
"""Span performance monitoring (cti.server.lines.performance): each
second judged by its framing's thresholds, unavailable time with its
retroactive corrections, 15-minute intervals and the 24-hour total, and
the poller's counter differences.

Every expected figure is worked out by hand in the test, from the rules
of the module docstring; the hypothesis tests hold the invariants and
compare with a second, look-ahead model of availability."""
import json
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cti.server.lines.performance import (
    FRAMINGS,
    INTERVAL_S,
    INTERVALS_KEPT,
    Second,
    SpanPerformance,
    judge,
    seconds_from_counters,
)

#: A quarter hour: 2023-11-14 22:15:00 UTC.
START = 1_700_000_100
assert START % INTERVAL_S == 0

CLEAN = Second()


class Poller:
    """Feeds a SpanPerformance one second at a time, as the 1 s poller will."""

    def __init__(self, framing="esf", start=START):
        self.perf = SpanPerformance(framing, start)
        self.now = start

    def feed(self, n, second=CLEAN):
        for _ in range(n):
            self.now += 1
            self.perf.add(self.now, second)
        return self

    def skip(self, n):
        """n seconds pass without a poll."""
        self.now += n
        return self

    def current(self, *names):
        counts = self.perf.snapshot()["current"]
        return {name: counts[name] for name in names}


# -- one second at a time -----------------------------------------------------
def test_one_crc_error_a_second_is_errored_but_not_bursty():
    # 5 s with 1 CRC-6 error each: 5 ES; a BES needs more than 1 PCV.
    poller = Poller("esf").feed(5, Second(pcv=1))
    assert poller.current("es", "ses", "bes", "pcv") == {"es": 5, "ses": 0, "bes": 0, "pcv": 5}


def test_esf_two_to_319_crc_errors_are_bursty_320_severe():
    # 2 and 319 errors: ES and BES; 320: ES and SES, not BES.
    poller = Poller("esf")
    poller.feed(1, Second(pcv=2)).feed(1, Second(pcv=319)).feed(1, Second(pcv=320))
    assert poller.current("es", "ses", "bes", "pcv") == {"es": 3, "ses": 1, "bes": 2,
                                                         "pcv": 641}


def test_oof_and_ais_are_severe_framing_seconds_and_never_bursty():
    # OOF with 5 CRC errors: SES and SEFS, not BES (no SEF allowed); AIS: the same.
    poller = Poller("esf").feed(1, Second(pcv=5, oof=1)).feed(1, Second(ais=True))
    assert poller.current("es", "ses", "sefs", "bes") == {"es": 2, "ses": 2, "sefs": 2,
                                                          "bes": 0}


def test_a_slip_is_an_errored_and_slip_second_never_a_severe_one():
    poller = Poller("esf").feed(3, Second(slips=2))
    assert poller.current("es", "ses", "css") == {"es": 3, "ses": 0, "css": 3}


def test_line_code_violations_make_line_errored_seconds_and_esf_errors_only_by_crc():
    # ESF judges the payload by its CRC: 100 BPVs alone are 1 LES, no ES.
    poller = Poller("esf").feed(1, Second(lcv=100))
    assert poller.current("es", "les", "lcv") == {"es": 0, "les": 1, "lcv": 100}


def test_d4_counts_line_code_violations_and_frame_bit_errors_toward_ses():
    # D4 has no CRC: 1 BPV is an ES; 1543 LCV an ES, 1544 an SES;
    # 7 frame-bit errors an ES, 8 an SES.  4 ES + 1 + 1 SES = 6 ES, 2 SES.
    poller = Poller("d4")
    for second in (Second(lcv=1), Second(lcv=1543), Second(pcv=7), Second(pcv=1),
                   Second(lcv=1544), Second(pcv=8)):
        poller.feed(1, second)
    assert poller.current("es", "ses", "les", "pcv") == {"es": 6, "ses": 2, "les": 3,
                                                         "pcv": 16}
    assert "bes" not in poller.perf.snapshot()["current"]        # ESF only


def test_e1_crc4_severe_at_832_block_errors_with_g826_ratios():
    # 100 s: 90 clean, 5 with 10 CRC-4 errors, 5 with 900 (SES, too few for UAS).
    # EB = 5*10 + 5*900 = 4550; BBE = 50 (the SES' blocks excluded);
    # ESR = 10/100; SESR = 5/100; BBER = 50 / (95 s * 1000 blocks).
    poller = Poller("e1_crc4").feed(90).feed(5, Second(pcv=10, ebit=2))
    poller.feed(5, Second(pcv=900))
    current = poller.perf.snapshot()["current"]
    assert (current["es"], current["ses"], current["bbe"], current["febe"]) == (10, 5, 50, 10)
    assert current["g826"] == {"eb": 4550, "bbe": 50, "esr": 0.1, "sesr": 0.05,
                               "bber": round(50 / 95_000, 6)}
    assert judge(FRAMINGS["e1_crc4"], Second(pcv=831))[1] is False
    assert judge(FRAMINGS["e1_crc4"], Second(pcv=832))[1] is True


def test_e1_without_crc4_is_severe_only_from_2048_line_code_violations():
    # FAS errors (its PCV) and LCVs make ES; only 2048 LCV (or OOF) make an SES.
    poller = Poller("e1")
    poller.feed(1, Second(pcv=5000)).feed(1, Second(lcv=2047)).feed(1, Second(lcv=2048))
    assert poller.current("es", "ses") == {"es": 3, "ses": 1}
    assert "g826" not in poller.perf.snapshot()["current"]          # no blocks without CRC-4


# -- unavailable time -----------------------------------------------------------
def test_ten_severe_seconds_become_unavailable_retroactively():
    # 15 s with 400 CRC errors: SES 1..9 as they come; the 10th makes the
    # 10 unavailable (their ES, SES and PCV taken back), the 5 after are UAS.
    poller = Poller("esf").feed(9, Second(pcv=400))
    assert poller.current("es", "ses", "uas", "pcv") == {"es": 9, "ses": 9, "uas": 0,
                                                         "pcv": 3600}
    poller.feed(1, Second(pcv=400))
    assert poller.current("es", "ses", "uas", "pcv") == {"es": 0, "ses": 0, "uas": 10,
                                                         "pcv": 0}
    poller.feed(5, Second(pcv=400))
    assert poller.current("es", "ses", "uas") == {"es": 0, "ses": 0, "uas": 15}
    assert poller.perf.available is False


def test_ten_seconds_without_ses_are_available_again_with_their_errors():
    # After 12 UAS, 10 seconds of 5 CRC errors (BES, not SES): UAS 12+9 = 21
    # after nine; the 10th makes the 10 available: UAS 12, ES 10, BES 10, PCV 50.
    poller = Poller("esf").feed(12, Second(pcv=400)).feed(9, Second(pcv=5))
    assert poller.current("es", "bes", "uas") == {"es": 0, "bes": 0, "uas": 21}
    poller.feed(1, Second(pcv=5))
    assert poller.current("es", "bes", "uas", "pcv") == {"es": 10, "bes": 10, "uas": 12,
                                                         "pcv": 50}
    assert poller.perf.available is True


def test_severe_seconds_not_contiguous_for_ten_stay_available():
    # 9 SES, 1 clean, 9 SES: never 10 in a row: 18 SES, no UAS.
    poller = Poller("esf").feed(9, Second(oof=1)).feed(1).feed(9, Second(oof=1))
    assert poller.current("ses", "uas") == {"ses": 18, "uas": 0}


def test_an_ses_while_unavailable_restarts_the_ten_clear_seconds():
    # 10 SES (UAS 10), 9 clean, 1 SES, 9 clean: still unavailable, UAS 29.
    poller = Poller("esf").feed(10, Second(ais=True)).feed(9).feed(1, Second(ais=True))
    poller.feed(9)
    assert poller.current("uas", "es") == {"uas": 29, "es": 0}
    assert poller.perf.available is False


def test_a_failure_is_unavailable_at_once_with_the_severe_seconds_before_it():
    # 3 SES then LOS: unavailable from the first SES: UAS 4, SES 0.  LOS 2 s
    # more (UAS 6), then 10 clean seconds: available again, UAS 6.
    poller = Poller("esf").feed(2).feed(3, Second(pcv=500)).feed(1, Second(los=True))
    assert poller.current("uas", "ses", "es") == {"uas": 4, "ses": 0, "es": 0}
    poller.feed(2, Second(lof=True)).feed(10)
    assert poller.current("uas", "ses", "es") == {"uas": 6, "ses": 0, "es": 0}
    assert poller.perf.available is True


def test_unavailable_time_moves_seconds_of_the_completed_interval_too():
    # The last 4 s of interval 1 and the first 6 of interval 2 are SES: at
    # the 10th, interval 1 (already completed) gives its 4 SES to UAS.
    poller = Poller("esf").feed(INTERVAL_S - 4).feed(4, Second(oof=1))
    poller.feed(5, Second(oof=1))
    first = poller.perf.intervals[0]
    assert (first.counts["ses"], first.counts["uas"]) == (4, 0)
    poller.feed(1, Second(oof=1))
    assert (first.counts["es"], first.counts["ses"], first.counts["uas"]) == (0, 0, 4)
    assert poller.current("ses", "uas") == {"ses": 0, "uas": 6}
    # And back across the next boundary: the last 3 s of interval 2 (2 CRC
    # errors each: not SES) and 7 clean ones of interval 3 make the 10: interval 2
    # gets its 3 back as available seconds, with their ES and BES.
    poller.feed(INTERVAL_S - 6 - 3, Second(oof=1)).feed(3, Second(pcv=2)).feed(7)
    second_interval = poller.perf.intervals[0]
    assert second_interval.counts["uas"] == INTERVAL_S - 3       # its last 3 are available
    assert (second_interval.counts["es"], second_interval.counts["bes"]) == (3, 3)
    assert poller.current("uas", "es") == {"uas": 0, "es": 0}


# -- intervals and the 24-hour total -------------------------------------------------
def test_intervals_roll_over_on_quarter_hours_most_recent_first():
    poller = Poller("esf").feed(INTERVAL_S, Second(pcv=1)).feed(10)
    snapshot = poller.perf.snapshot()
    assert snapshot["current"]["start"] == START + INTERVAL_S
    assert snapshot["current"]["elapsedS"] == 10
    [first] = snapshot["intervals"]
    assert (first["number"], first["start"], first["valid"], first["es"]) == (
        1, START, True, INTERVAL_S)


def test_an_interval_started_in_its_middle_is_invalid():
    poller = Poller("esf", start=START + 600).feed(300 + 5)
    [first] = poller.perf.snapshot()["intervals"]
    assert (first["monitoredS"], first["elapsedS"], first["valid"]) == (300, 900, False)
    assert poller.perf.snapshot()["current"]["valid"] is True


def test_96_intervals_are_kept_and_the_24h_total_adds_them():
    # Interval k (0-based) has k errored seconds; 100 intervals fed: the
    # first 4 (0..3) drop out, the 24 h hold 4..99: sum = (4+99)*96/2 = 4944.
    poller = Poller("esf")
    for k in range(100):
        poller.feed(k, Second(slips=1)).feed(INTERVAL_S - k)
    poller.feed(1)
    perf = poller.perf
    assert len(perf.intervals) == INTERVALS_KEPT
    assert perf.intervals[-1].start == START + 4 * INTERVAL_S
    total = perf.total_24h()
    assert (total["es"], total["css"], total["intervals"], total["invalidIntervals"]) == (
        4944, 4944, 96, 0)
    assert total["monitoredS"] == 96 * INTERVAL_S


def test_the_24h_total_counts_invalid_intervals_and_says_so():
    # Started 10 s before the quarter: 10 s with 3 slips each, then a full one.
    poller = Poller("esf", start=START - 10).feed(10, Second(slips=3)).feed(INTERVAL_S + 1)
    total = poller.perf.total_24h()
    assert (total["intervals"], total["invalidIntervals"], total["css"]) == (2, 1, 10)


# -- polls: gaps, clocks, counters ------------------------------------------------------
def test_a_late_poll_puts_its_errors_in_one_second_and_the_gap_is_not_monitored():
    previous = {"crc": 10, "bpv": 0, "seconds": 100}
    # 4 s without a poll; the driver counted 3 CRC errors meanwhile.
    current = {"crc": 13, "bpv": 0, "seconds": 105}
    second = seconds_from_counters(previous, current, "esf")
    assert second == Second(pcv=3)
    poller = Poller("esf").feed(1).skip(4)
    poller.feed(1, second)
    snapshot = poller.perf.snapshot()["current"]
    # 3 errors in one second: ES and BES; 4 seconds not seen: interval not valid.
    assert (snapshot["es"], snapshot["bes"], snapshot["monitoredS"], snapshot["elapsedS"],
            snapshot["valid"]) == (1, 1, 2, 6, False)


def test_a_gap_breaks_the_ten_contiguous_seconds():
    poller = Poller("esf").feed(5, Second(oof=1)).skip(3).feed(5, Second(oof=1))
    assert poller.current("ses", "uas") == {"ses": 10, "uas": 0}


def test_hours_without_polls_leave_empty_invalid_intervals():
    # 1 s, then 2 h 1 s of silence: intervals 1..8 completed, the 8 quarter
    # hours each monitored 0 s (the first 1 s): all invalid.
    poller = Poller("esf").feed(1).skip(2 * 3600).feed(1)
    intervals = poller.perf.snapshot()["intervals"]
    assert [i["monitoredS"] for i in intervals] == [0] * 7 + [1]
    assert not any(i["valid"] for i in intervals)
    # A silence of over a day keeps only the last day's quarter hours.
    poller.skip(3 * 86_400).feed(1)
    assert len(poller.perf.intervals) == INTERVALS_KEPT
    assert poller.perf.intervals[0].start == poller.perf.current.start - INTERVAL_S


def test_a_clock_stepped_back_counts_the_next_second_and_invalidates_the_interval():
    poller = Poller("esf").feed(10)
    poller.perf.add(poller.now - 5, Second(pcv=1))            # 5 s in the past
    current = poller.perf.snapshot()["current"]
    assert (current["monitoredS"], current["elapsedS"], current["es"], current["valid"]) == (
        11, 11, 1, False)


def test_counters_are_diffed_with_the_framings_path_counter():
    previous = {"bpv": 5, "exz": 1, "crc": 7, "fas": 2, "oof": 1, "slips": 0, "seconds": 60}
    current = {"bpv": 9, "exz": 2, "crc": 17, "fas": 3, "oof": 2, "slips": 1, "seconds": 61,
               "los": False, "ais": True, "oof_now": True}
    # LCV = (9-5) + (2-1) = 5; ESF's PCV are CRC errors, D4's frame-bit errors.
    assert seconds_from_counters(previous, current, "esf") == Second(
        lcv=5, pcv=10, oof=1, slips=1, ais=True, lof=True)
    assert seconds_from_counters(previous, current, "d4").pcv == 1


def test_counters_going_backwards_start_afresh_never_negative():
    previous = {"bpv": 500, "crc": 40, "seconds": 9000}
    # The driver reopened: seconds went back; every counter counts from zero.
    reopened = {"bpv": 3, "crc": 41, "seconds": 2}
    assert seconds_from_counters(previous, reopened, "esf") == Second(lcv=3, pcv=41)
    # One counter wrapped (seconds went on): that one counts from zero.
    wrapped = {"bpv": 3, "crc": 41, "seconds": 9001}
    assert seconds_from_counters(previous, wrapped, "esf") == Second(lcv=3, pcv=1)
    # Counters the driver does not keep count 0; an E1 driver's E bits are read.
    assert seconds_from_counters({}, {"ebit": 4}, "e1_crc4") == Second(ebit=4)


def test_a_second_refuses_negative_counts_and_the_engine_unknown_framings():
    with pytest.raises(ValueError, match="pcv"):
        Second(pcv=-1)
    with pytest.raises(ValueError, match="esf, d4, e1_crc4, e1"):
        SpanPerformance("sf", START)


def test_the_snapshot_is_json_with_camel_case_keys():
    poller = Poller("e1_crc4").feed(INTERVAL_S + 3, Second(pcv=1))
    snapshot = json.loads(json.dumps(poller.perf.snapshot()))
    assert set(snapshot) == {"framing", "available", "current", "intervals", "total24h"}
    assert {"start", "elapsedS", "monitoredS", "valid", "g826"} <= set(snapshot["current"])
    assert {"intervals", "invalidIntervals", "monitoredS", "g826"} <= set(snapshot["total24h"])


# -- invariants, and a second model ---------------------------------------------------------
seconds = st.builds(
    Second,
    lcv=st.sampled_from([0, 0, 0, 1, 1543, 1544, 2047, 2048]),
    pcv=st.sampled_from([0, 0, 0, 1, 2, 7, 8, 319, 320, 831, 832]),
    oof=st.sampled_from([0, 0, 0, 0, 1]),
    slips=st.sampled_from([0, 0, 0, 1]),
    ais=st.sampled_from([False] * 6 + [True]),
    los=st.sampled_from([False] * 12 + [True]),
    lof=st.sampled_from([False] * 12 + [True]),
    ebit=st.sampled_from([0, 0, 3]),
)
#: (seconds not polled before, the second, how many times in a row)
segments = st.lists(st.tuples(st.sampled_from([0] * 8 + [1, 3, 200, 900]), seconds,
                              st.integers(1, 14)), max_size=40)


def timeline_of(start, parts):
    """[(second index, Second)] as the poller would add them."""
    timeline, index = [], math.floor(start)
    for gap, second, repeat in parts:
        index += gap
        for _ in range(repeat):
            timeline.append((index, second))
            index += 1
    return timeline


def looking_ahead(framing, timeline):
    """Per-quarter counts computed another way: each second's availability
    decided by looking at the seconds after it (the engine decides late and
    corrects).  A run whose end is not known yet keeps the state as it is."""
    rules = FRAMINGS[framing]
    judged = [(index, *judge(rules, second), second.failure) for index, second in timeline]

    def run_from(k, severe):
        run = [judged[k]]
        while (k + len(run) < len(judged) and judged[k + len(run)][2] == severe
               and judged[k + len(run)][0] == run[-1][0] + 1):
            run.append(judged[k + len(run)])
        return run

    buckets, available = {}, True
    for k, (index, counts, ses, _failure) in enumerate(judged):
        if available and ses:
            run = run_from(k, True)
            available = not (len(run) >= 10 or any(failure for *_, failure in run))
        elif not available and not ses:
            available = len(run_from(k, False)) >= 10
        bucket = buckets.setdefault(index - index % INTERVAL_S,
                                    dict.fromkeys(rules.parameters, 0) | {"monitored": 0})
        bucket["monitored"] += 1
        if available:
            for name, amount in counts.items():
                bucket[name] += amount
        else:
            bucket["uas"] += 1
    return buckets


@settings(max_examples=150, deadline=None, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(framing=st.sampled_from(sorted(FRAMINGS)), offset=st.integers(0, INTERVAL_S - 1),
       parts=segments)
def test_invariants_hold_and_a_look_ahead_model_agrees(framing, offset, parts):
    start = START + offset
    perf = SpanPerformance(framing, start)
    timeline = timeline_of(start, parts)
    for index, second in timeline:
        perf.add(index + 1, second)
    snapshot = perf.snapshot()
    reports = [snapshot["current"], *snapshot["intervals"]]
    for report in reports:
        assert report["es"] + report["uas"] <= report["monitoredS"] <= report["elapsedS"]
        assert report["ses"] <= report["es"]
        assert report.get("bes", 0) <= report["es"]
        assert report["sefs"] <= report["ses"] and report["css"] <= report["es"]
    total = snapshot["total24h"]
    for name in perf.rules.parameters:
        assert total[name] == sum(i[name] for i in snapshot["intervals"])
    expected = looking_ahead(framing, timeline)
    for report in reports:
        want = expected.get(report["start"], {"monitored": 0})
        assert report["monitoredS"] == want["monitored"]
        for name in perf.rules.parameters:
            assert report[name] == want.get(name, 0), (name, report["start"])


@settings(max_examples=100, deadline=None, derandomize=True, database=None)
@given(previous=st.dictionaries(st.sampled_from(["bpv", "exz", "crc", "fas", "oof", "slips",
                                                 "ebit", "seconds"]), st.integers(0, 2**32)),
       current=st.dictionaries(st.sampled_from(["bpv", "exz", "crc", "fas", "oof", "slips",
                                                "ebit", "seconds"]), st.integers(0, 2**32)),
       framing=st.sampled_from(sorted(FRAMINGS)))
def test_counter_differences_are_never_negative(previous, current, framing):
    second = seconds_from_counters(previous, current, framing)     # Second refuses negatives
    assert second.lcv <= current.get("bpv", 0) + current.get("exz", 0)
