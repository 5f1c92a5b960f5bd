# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_performance -*-
"""Span performance monitoring: errored, severely errored and unavailable
seconds in 15-minute intervals, as a DS1-MIB agent keeps them.

A span's framer counts error *events* (lines-real.md 4.2): bipolar
violations and excessive zeros (together the line code violations, LCV or
CV-L), path code violations (PCV or CV-P: CRC-6 errors on ESF, frame-bit
errors on D4, CRC-4 block errors on E1 with CRC-4, FAS errors on E1
without), out-of-frame events (OOF, also called SEF), controlled slips.
Raw counts say little: a burst of 5,000 errors in one second and 5,000
errors spread over a day are different faults.  So, as ANSI T1.231 and
the DS1-MIB (RFC 4805) do, every second is judged on its own, and the
parameters count *seconds*:

    a 1 s poller ──counters──> seconds_from_counters() ──Second──>
        SpanPerformance.add(at_s, second) ──> the current 15-minute interval
                                          ──> 96 completed ones (24 h)
        SpanPerformance.snapshot() ──> JSON for the protocol and linediag

The parameters (FRAMINGS holds each framing's thresholds, once):

    ES    errored second: >= 1 PCV, >= 1 OOF, >= 1 slip, AIS, or a failure
          (LOS, LOF); on D4 and E1 without CRC-4 also >= 1 LCV
    SES   severely errored second: OOF, AIS, a failure, or
          ESF >= 320 PCV; D4 >= 8 frame-bit errors or >= 1544 LCV;
          E1 with CRC-4 >= 832 PCV; E1 without CRC-4 >= 2048 LCV
    BES   bursty errored second (ESF only): 2 to 319 PCV, no OOF, no AIS
    SEFS  severely errored framing second: OOF or AIS (or LOF)
    CSS   controlled slip second: >= 1 slip
    LES   line errored second: >= 1 LCV
    UAS   unavailable second (below)
    LCV, PCV   the events themselves (CV-L, CV-P)

Unavailable time.  A span becomes unavailable at the *onset* of 10
contiguous SES (those 10 seconds are unavailable), or at once at a failure
(LOS, or LOF: the framer still out of frame when polled), the contiguous
SES just before it included; it is available again at the onset of 10
contiguous seconds without SES (those 10 are available).  While
unavailable, the only parameter that counts is UAS: no ES, SES, BES,
SEFS, CSS, LES, LCV, PCV (RFC 1407's words for DS3, as the Digital Link
DL3100 guide quotes them; the DS1-MIB's the same [unverified]).  Nobody knows at the first SES
whether it starts unavailable time, so every second is counted at once as
what the state says, and corrected when the 10th second decides: the run's
seconds are taken out of the parameters they counted in and moved to UAS
(or the reverse), in whichever interval each was counted, a completed one
included.  A reader may so see an interval's SES fall and its UAS rise by
up to 10 in the first seconds of the next one (the DS1-MIB warns of the
same).

A worked example on ESF, the interval starting at 22:15:00::

    22:15:00-04   5 s with 1 CRC error each       ES 5 (1 PCV is not bursty)
    22:15:05-07   3 s with 40 CRC errors each     ES 8, BES 3
    22:15:08-22   15 s with 400 CRC errors each   SES 1..9 counted, then at
                  the 10th the 10 move: ES 8, SES 0, UAS 10; the 5 after
                  count UAS: UAS 15
    22:15:23-32   10 clean seconds                UAS 24 after 9 of them;
                  the 10th makes all 10 available: UAS 15 (ES 8, BES 3,
                  PCV 125: the 400-error seconds counted UAS only)

Seconds that were not monitored (a late poll, the server stopped, a
clock stepped back) count in no parameter and make their interval
*invalid* (the DS1-MIB's ValidData false); so does starting in the middle
of a quarter hour.  Choices of ours, where the sources leave room:

- D4's SES threshold of 8 frame-bit errors is T1.231's as vendors document
  it (Lucent DDM-2000 manual: "eight or more FEs"); RFC 4805 says only
  "Framing Error events" [doc].
- OOF, AIS and failures make an SES in every framing (RFC 4805 names only
  the LCV threshold for E1 without CRC-4) [our reading].
- LOF is taken from a framer still out of frame at the poll: T1.231
  declares it after 2.5 s, which a 1 s poller cannot time; the counts
  differ only for framing losses shorter than 10 s [simplification].
- The 24-hour total adds every completed interval of the last 24 h, valid
  or not, and says how many were invalid; the DS1-MIB counts an invalid
  interval as 0.  A partial interval's errors are real errors, and the
  technician looking for a fault wants them.
- Degraded minutes (DM) and the far end's parameters of the ESF
  performance report (PRM) are not computed.

G.826 for E1 with CRC-4 [unverified against G.826 itself]: a block is a
CRC-4 sub-multiframe (1000 a second), an errored block (EB) one PCV.  The
seconds are classified once, by the DS1-MIB rules above, so ESR and SESR
here are ES and SES over the available seconds (G.826's own SES is 30 %
errored blocks and its ES ignores slips); BBE are the errored blocks of
available seconds that are not SES, BBER their share of those seconds'
blocks.  FEBE counts the far end's block errors reported in the E bits.
"""
import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

#: A performance interval, aligned on wall-clock quarter hours.
INTERVAL_S = 900
#: Completed intervals kept: 24 hours.
INTERVALS_KEPT = 96
DAY_S = INTERVAL_S * INTERVALS_KEPT
#: Contiguous SES that start unavailable time; contiguous seconds without
#: SES that end it.
UNAVAILABLE_AFTER_SES = 10
AVAILABLE_AFTER_CLEAR = 10
#: A bursty errored second has more than one PCV (and fewer than an SES).
BES_MIN_PCV = 2

#: The parameters every framing counts, in the order they are shown.
PARAMETERS = ("es", "ses", "sefs", "uas", "css", "les", "lcv", "pcv")


@dataclass(frozen=True)
class FramingRules:
    """What one framing makes of a second.  `pcv_counter` is the driver
    counter holding its path code violations; a threshold of None does not
    apply to the framing."""

    pcv_counter: str               # "crc" (CRC-6 or CRC-4 errors) or "fas" (frame-bit errors)
    pcv_ses: int | None            # PCV in a second that make it an SES
    lcv_ses: int | None            # LCV in a second that make it an SES
    lcv_errored: bool              # LCV alone make an ES (no CRC to judge the payload)
    bursty: bool                   # BES counted (ESF)
    blocks_per_s: int | None = None   # G.826 blocks (E1 with CRC-4)

    @property
    def parameters(self):
        extra = ("bes",) if self.bursty else ("bbe", "febe") if self.blocks_per_s else ()
        return PARAMETERS + extra


#: Each framing's thresholds (lines-real.md 4.2; RFC 4805; T1.231).
FRAMINGS = {
    "esf": FramingRules(pcv_counter="crc", pcv_ses=320, lcv_ses=None, lcv_errored=False,
                        bursty=True),
    "d4": FramingRules(pcv_counter="fas", pcv_ses=8, lcv_ses=1544, lcv_errored=True,
                       bursty=False),
    "e1_crc4": FramingRules(pcv_counter="crc", pcv_ses=832, lcv_ses=None, lcv_errored=False,
                            bursty=False, blocks_per_s=1000),
    "e1": FramingRules(pcv_counter="fas", pcv_ses=None, lcv_ses=2048, lcv_errored=True,
                       bursty=False),
}

#: The driver's cumulative event counters (a counter it does not keep is
#: absent and counts 0), and its states read at the poll.
EVENT_COUNTERS = ("bpv", "exz", "crc", "fas", "oof", "slips", "ebit")
STATE_FLAGS = ("los", "ais", "oof_now")


@dataclass(frozen=True)
class Second:
    """One second of a span: its error events and its defects.

    lcv: line code violations (BPV + EXZ); pcv: path code violations (see
    FramingRules.pcv_counter); oof: out-of-frame events; slips: controlled
    slips; ais: all ones received (blue); los: loss of signal; lof: out of
    frame at the end of the second; ebit: the far end's CRC-4 block errors
    (E1)."""

    lcv: int = 0
    pcv: int = 0
    oof: int = 0
    slips: int = 0
    ais: bool = False
    los: bool = False
    lof: bool = False
    ebit: int = 0

    def __post_init__(self):
        for name in ("lcv", "pcv", "oof", "slips", "ebit"):
            if getattr(self, name) < 0:
                raise ValueError(f"Second.{name} is a count of events, got {getattr(self, name)}")

    @property
    def failure(self):
        """LOS or LOF: a failure state, unavailable at once."""
        return self.los or self.lof


def seconds_from_counters(previous: Mapping, current: Mapping, framing: str) -> Second:
    """The Second between two readings of a driver's cumulative counters.

    Readings are dicts of EVENT_COUNTERS (cumulative counts since the
    driver opened the span), ``seconds`` (the driver's own count of
    seconds) and STATE_FLAGS (true while the condition lasts).  The first
    reading only primes the poller.

    - Events: the difference of the two readings.  A counter lower than
      before counts from zero (a 32-bit counter wrapped), and if
      ``seconds`` went back, the driver was reopened: every counter counts
      from zero.  Never a negative count.
    - States are those of the moment of the poll: an AIS that came and went
      between two polls is not seen (its OOF events are).
    - A late poll (more than one second since the last) puts all the
      errors of those seconds in this one Second: only `add`'s time says
      how many seconds passed, and SpanPerformance counts the seconds it did
      not see as not monitored, not as error-free.
    """
    reopened = current.get("seconds", 0) < previous.get("seconds", 0)
    events = {}
    for name in EVENT_COUNTERS:
        now, before = current.get(name, 0), previous.get(name, 0)
        events[name] = now if reopened or now < before else now - before
    states = {name: bool(current.get(name)) for name in STATE_FLAGS}
    return Second(lcv=events["bpv"] + events["exz"],
                  pcv=events[FRAMINGS[framing].pcv_counter], oof=events["oof"],
                  slips=events["slips"], ais=states["ais"], los=states["los"],
                  lof=states["oof_now"], ebit=events["ebit"])


def judge(rules: FramingRules, second: Second) -> tuple[dict, bool]:
    """What one second counts as (parameter -> amount) if available, and
    whether it is an SES."""
    sef = second.oof > 0 or second.ais or second.lof
    ses = (second.failure or sef
           or (rules.pcv_ses is not None and second.pcv >= rules.pcv_ses)
           or (rules.lcv_ses is not None and second.lcv >= rules.lcv_ses))
    errored = (ses or second.pcv > 0 or second.slips > 0
               or (rules.lcv_errored and second.lcv > 0))
    counts = {"es": int(errored), "ses": int(ses), "sefs": int(sef),
              "css": int(second.slips > 0), "les": int(second.lcv > 0),
              "lcv": second.lcv, "pcv": second.pcv}
    if rules.bursty:
        counts["bes"] = int(not ses and second.pcv >= BES_MIN_PCV)
    if rules.blocks_per_s:
        counts["bbe"] = 0 if ses else second.pcv
        counts["febe"] = second.ebit
    return counts, ses


@dataclass
class Interval:
    """One 15-minute interval: its counts, and how much of it was seen."""

    start: int                       # the quarter hour, seconds since the epoch
    parameters: tuple
    monitored: int = 0               # seconds seen
    clock_stepped: bool = False      # the wall clock went back during it
    counts: dict = field(init=False)     # parameter -> amount, in `parameters` order

    def __post_init__(self):
        self.counts = dict.fromkeys(self.parameters, 0)

    def add(self, counts, sign=1):
        for name, amount in counts.items():
            self.counts[name] += sign * amount

    def saved(self):
        """As JSON-able data, for a restart (SpanPerformance.resume)."""
        return {"start": self.start, "monitored": self.monitored,
                "clockStepped": self.clock_stepped, "counts": dict(self.counts)}

    @classmethod
    def from_saved(cls, saved, parameters):
        """An interval `saved` gave back; ValueError if it is not one of
        these `parameters`."""
        interval = cls(int(saved["start"]), parameters, int(saved["monitored"]),
                       bool(saved["clockStepped"]))
        if set(saved["counts"]) != set(parameters):
            raise ValueError(f"an interval of {sorted(saved['counts'])}, not of "
                             f"{sorted(parameters)}")
        interval.counts.update({name: int(saved["counts"][name]) for name in parameters})
        return interval

    def fully_monitored(self, elapsed):
        """Every one of its first `elapsed` seconds seen, on a steady clock:
        the DS1-MIB's valid data."""
        return self.monitored == elapsed and not self.clock_stepped


class SpanPerformance:
    """The performance parameters of one span (see the module docstring).

    `framing` is a key of FRAMINGS; `clock_start` the wall-clock time
    (seconds since the epoch) monitoring starts: the first second is
    [clock_start, clock_start + 1)."""

    def __init__(self, framing: str, clock_start: float):
        if framing not in FRAMINGS:
            raise ValueError(f"framing {framing!r} is not one of {', '.join(FRAMINGS)}")
        self.framing = framing
        self.rules = FRAMINGS[framing]
        self.available = True
        self._last = math.floor(clock_start) - 1           # the last second accounted
        self._current = Interval(self._quarter(self._last + 1), self.rules.parameters)
        self._completed = deque(maxlen=INTERVALS_KEPT)     # oldest first
        self._run = []       # (interval, counts) of the seconds that may still change side

    @staticmethod
    def _quarter(second):
        return second - second % INTERVAL_S

    @property
    def current(self) -> Interval:
        return self._current

    @property
    def intervals(self) -> list[Interval]:
        """The completed intervals, the most recent first (number 1)."""
        return list(reversed(self._completed))

    def add(self, at_s: float, second: Second) -> None:
        """Count the second that ended at `at_s` (the time of the poll that
        measured it, wall clock).  A second at or before the last one (the
        clock stepped back, a second reported twice) is counted as the next
        second, its interval marked invalid; seconds skipped since the last
        one were not monitored: they count nowhere and break the runs of
        contiguous seconds."""
        index = math.floor(at_s) - 1
        stepped = index <= self._last
        if stepped:
            index = self._last + 1
        elif index > self._last + 1:
            self._run.clear()
        self._roll_to(self._quarter(index))
        self._last = index
        interval = self._current
        interval.monitored += 1
        interval.clock_stepped |= stepped
        counts, ses = judge(self.rules, second)
        if self.available:
            self._available_second(interval, counts, ses, second.failure)
        else:
            self._unavailable_second(interval, counts, ses)

    def _available_second(self, interval, counts, ses, failure):
        interval.add(counts)
        if not ses:
            self._run.clear()
            return
        self._run.append((interval, counts))
        if failure or len(self._run) == UNAVAILABLE_AFTER_SES:
            for seen_in, its_counts in self._run:      # they were unavailable after all
                seen_in.add(its_counts, -1)
                seen_in.counts["uas"] += 1
            self._run.clear()
            self.available = False

    def _unavailable_second(self, interval, counts, ses):
        interval.counts["uas"] += 1
        if ses:
            self._run.clear()
            return
        self._run.append((interval, counts))
        if len(self._run) == AVAILABLE_AFTER_CLEAR:
            for seen_in, its_counts in self._run:      # they were available after all
                seen_in.counts["uas"] -= 1
                seen_in.add(its_counts)
            self._run.clear()
            self.available = True

    def _roll_to(self, start):
        """Complete the current interval and any skipped ones until the
        current one starts at `start` (at most a day of empty ones)."""
        while self._current.start < start:
            self._completed.append(self._current)
            following = self._current.start + INTERVAL_S
            if start - following > DAY_S:          # only the last day's intervals are kept
                following = start - DAY_S
            self._current = Interval(following, self.rules.parameters)

    # -- across a restart -----------------------------------------------------
    def export(self) -> dict:
        """What a restart keeps (cti.server.maintenance.history): the
        completed intervals, oldest first, and the current one."""
        return {"framing": self.framing,
                "intervals": [interval.saved() for interval in self._completed],
                "current": self._current.saved()}

    def resume(self, saved: dict, now_s: float) -> int:
        """Take back what `export` gave before a restart, on a fresh
        engine: the intervals of the last 24 h (the current one of then
        completed, or current still if its quarter hour is now's), the
        quarter hours the server was down added as intervals not
        monitored (invalid).  Nothing when the framing changed since (its
        parameters differ).  How many intervals were taken back;
        ValueError (KeyError, TypeError) for saved data that is not an
        export."""
        if saved["framing"] != self.framing:
            return 0
        now_quarter = self._quarter(math.floor(now_s))
        intervals = sorted((Interval.from_saved(s, self.rules.parameters)
                            for s in [*saved["intervals"], saved["current"]]),
                           key=lambda interval: interval.start)
        intervals = [i for i in intervals if now_quarter - DAY_S <= i.start <= now_quarter]
        if not intervals:
            return 0
        self._completed = deque(intervals[:-1], maxlen=INTERVALS_KEPT)
        self._current = intervals[-1]
        self._roll_to(now_quarter)
        return len(intervals)

    # -- reports --------------------------------------------------------------
    def total_24h(self) -> dict:
        """The completed intervals of the last 24 h added up: each
        parameter, ``monitoredS``, ``intervals`` and ``invalidIntervals``
        (partial ones, counted all the same; see the module docstring)."""
        totals = dict.fromkeys(self.rules.parameters, 0)
        for interval in self._completed:
            for name, amount in interval.counts.items():
                totals[name] += amount
        monitored = sum(interval.monitored for interval in self._completed)
        report = {"intervals": len(self._completed),
                  "invalidIntervals": sum(not interval.fully_monitored(INTERVAL_S)
                                          for interval in self._completed),
                  "monitoredS": monitored, **totals}
        return self._with_g826(report, totals, monitored)

    def snapshot(self) -> dict:
        """The whole state as JSON-able data (see docs/linediag.md)::

            {"framing": "esf", "available": true,
             "current": {"start": 1700000100, "elapsedS": 33, "monitoredS": 33,
                         "valid": true, "es": 8, "ses": 0, "sefs": 0, "uas": 15,
                         "css": 0, "les": 0, "lcv": 0, "pcv": 125, "bes": 3},
             "intervals": [{"number": 1, "start": 1700000100 - 900, "elapsedS": 900,
                            ...}, ...],       # the most recent first, up to 96
             "total24h": {"intervals": 1, "invalidIntervals": 1, "monitoredS": 420,
                          "es": 0, ...}}

        (the current interval of the worked example above).  Times are
        those of the last second added.

        ``bes`` on ESF only; on E1 with CRC-4, ``bbe`` and ``febe`` and a
        ``g826`` dict (``eb``, ``bbe``, ``esr``, ``sesr``, ``bber``; a
        ratio is null without available seconds)."""
        return {"framing": self.framing, "available": self.available,
                "current": self._describe(self._current, self._last + 1 - self._current.start),
                "intervals": [{"number": number, **self._describe(interval, INTERVAL_S)}
                              for number, interval in enumerate(self.intervals, 1)],
                "total24h": self.total_24h()}

    def _describe(self, interval, elapsed):
        report = {"start": interval.start, "elapsedS": elapsed,
                  "monitoredS": interval.monitored,
                  "valid": interval.fully_monitored(elapsed),
                  **interval.counts}
        return self._with_g826(report, interval.counts, interval.monitored)

    def _with_g826(self, report, counts, monitored):
        blocks_per_s = self.rules.blocks_per_s
        if not blocks_per_s:
            return report
        available = monitored - counts["uas"]
        clear = available - counts["ses"]
        report["g826"] = {"eb": counts["pcv"], "bbe": counts["bbe"],
                          "esr": _ratio(counts["es"], available),
                          "sesr": _ratio(counts["ses"], available),
                          "bber": _ratio(counts["bbe"], clear * blocks_per_s)}
        return report


def _ratio(part, whole):
    return round(part / whole, 6) if whole > 0 else None
