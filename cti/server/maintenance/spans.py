# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_span_reports -*-
"""Every T1 and E1 span watched: its performance second by second, and the
report a technician (linediag) and the configuration doctor (cti.server.maintenance.doctor)
read.

A framer only counts error events; what they mean is decided second by
second (cti.server.lines.performance).  So, as a DS1-MIB agent does, the
server polls each span's raw counters once a second, turns the difference
into that second's events and feeds the span's performance engine::

    watches = SpanWatches(clock, driver, config, channels)
    watches.start()                     # a LoopingCall, every POLL_S
    watches.report("dtiB1")             # the span report (below)

A span report (GetSpanReports, docs/protocol.md section 9d; the shape
cti.server.maintenance.doctor reads)::

    {"span": "dtiB1", "state": "in_service",        # the span's, or "unused"
     "configured": {"type": "t1", "framing": "esf", "coding": "b8zs", "clock": "line",
                    "signalling": "em_wink"},     # E1: framing e1_crc4 / e1, coding hdb3
                                                  # / ami, signalling cas / ccs
     "alarms": [], "alarmHistory": [...],           # as the span's snapshot
     "counters": {"bpv": 0, ..., "los": false},     # the driver's, since opened
     "performance": {...},                          # SpanPerformance.snapshot(), its
                                                    # intervals cut to those asked; null
                                                    # when the driver gives no counters
     "timeslots": [{"device": "dtiB1T1", "rxBits": "00", "txBits": "00",
                    "state": "idle", "held": []}, ...],   # E1 CAS bits: "1001"
     "loopback": "none", "loopCode": null,
     "dchannel": null,                              # PRI, CCS: "dtiB1D"
     "isdn": null,                                  # its PriSpan's snapshot (the D-channel's
                                                    # state, side, switch type, libpri's
                                                    # configuration errors, the far end's
                                                    # causes), when its B-channels are trunks
     "multiframesLost": []}                         # E1: crc4, cas not found

A span none of whose timeslots is in a trunk group is watched too (its
state "unused", its alarms as the driver tells them): the doctor says so.
"""
from dataclasses import replace
from pathlib import Path

from twisted.internet import task

from cti.logs import Logger
from cti.server.lines.performance import SpanPerformance, seconds_from_counters
from cti.server.maintenance.history import (
    HISTORY_FILE,
    SAVE_EVERY_S,
    SpanHistoryFile,
    alarms_restored,
    alarms_saved,
)
from drivers.errors import DriverNotSupported

log = Logger()

#: How often the counters are read: the performance parameters are per second.
POLL_S = 1.0
#: How many of a span's alarms a report gives (its history keeps more).
REPORT_ALARMS = 20
#: Alarms that mean the framer has lost the frame (LOF, a failure of
#: T1.231) even when its counters show no out-of-frame event now.
LOSS_OF_FRAME = frozenset({"red", "oof"})


class SpanWatch:
    """One span: its line settings as the driver reports them, its last
    counters and its performance engine.  A driver that gives no counters
    (DriverNotSupported) leaves the span watched for its alarms and bits
    alone: `performance` None."""

    def __init__(self, name, driver, clock, span=None, timeslots=(), signalling=None,
                 isdn=None):
        self.name = name
        self.isdn = isdn                      # its PriSpan (cti.server.lines.pri), or None
        self.driver = driver
        self.clock = clock
        self.span = span                      # cti.server.lines.spans.Span, or None
        self.timeslots = list(timeslots)      # the trunk channels on it (may be none)
        self.signalling = signalling
        self.timeslot_names = [info.name for info in driver.inventory()
                               if info.kind == "timeslot" and info.name.startswith(f"{name}T")
                               and info.name[len(name) + 1:].isdigit()]
        status = self._status()
        self.line = {k: status.get(k) for k in ("type", "framing", "coding", "clock")}
        self.performance = None
        self.counters = {}
        self.failing = False                  # the last poll failed (logged once)
        self.far_loop = None                  # the loop-up code the far end was sent, in force

    def start(self):
        """Take the counters as they are now: the first second counts from here."""
        try:
            self.counters = self.driver.span_counters(self.name)
        except DriverNotSupported:
            return
        self.performance = SpanPerformance(self.line["framing"], self.clock.seconds())

    def saved(self):
        """What a restart keeps of the span (cti.server.maintenance.history)."""
        return {"alarms": alarms_saved(self.span.history if self.span is not None else []),
                "performance": None if self.performance is None
                else self.performance.export()}

    def changes(self):
        """What, changed, makes the history worth saving at once: the
        alarms raised and cleared, the intervals completed."""
        alarms = self.span.history if self.span is not None else []
        last = alarms[-1] if alarms else None
        return (len(alarms), last and last.raised_at, last and last.cleared_at,
                self.performance and self.performance.current.start)

    def resume(self, saved, written_at, now):
        """Take back the history of the last run (see history.py);
        ValueError when `saved` is not a span's history."""
        if not isinstance(saved, dict):
            raise ValueError(f"expected a table of alarms and performance, got {saved!r:.40}")
        if self.span is not None and saved.get("alarms"):
            self.span.restore_history(alarms_restored(saved["alarms"], written_at))
        if self.performance is not None and saved.get("performance"):
            self.performance.resume(saved["performance"], now)

    def poll(self, now):
        if self.performance is None:
            return
        counters = self.driver.span_counters(self.name)
        second = seconds_from_counters(self.counters, counters, self.line["framing"])
        if not second.lof and self._alarms() & LOSS_OF_FRAME:
            second = replace(second, lof=True)   # a red alarm is frame lost for seconds
        self.counters = counters
        self.performance.add(now, second)

    def _alarms(self):
        if self.span is not None:
            return set(self.span.active)
        return set(self._status().get("alarms", []))

    def loopback_now(self):
        return self._status().get("loopback")

    def loop_code_now(self):
        return self._status().get("loop_code")

    def _status(self):
        try:
            return self.driver.status(self.name)
        except DriverNotSupported:
            return {}

    def report(self, now, intervals=0):
        """The span report, with the last `intervals` completed 15-minute
        intervals (the current one and the 24-hour total always)."""
        status = self._status()
        if self.span is not None:
            snap = self.span.snapshot()
            state, alarms = snap["state"], snap["alarms"]
            history = [a.describe(now) for a in self.span.history[-REPORT_ALARMS:]]
        else:
            state, alarms, history = "unused", sorted(status.get("alarms", [])), []
        channels = {c.name: c for c in self.timeslots}
        timeslots = []
        for device in self.timeslot_names:
            bits = self.driver.status(device)
            channel = channels.get(device)
            timeslots.append({"device": device, "rxBits": bits.get("rx_bits"),
                              "txBits": bits.get("tx_bits"),
                              "state": channel.state if channel else "unused",
                              "held": sorted(channel.held) if channel else []})
        performance = None
        if self.performance is not None:
            performance = self.performance.snapshot()
            performance["intervals"] = performance["intervals"][:intervals]
        return {"span": self.name, "state": state,
                "configured": {**self.line, "signalling": self.signalling},
                "alarms": alarms, "alarmHistory": history, "counters": dict(self.counters),
                "performance": performance,
                "timeslots": timeslots, "loopback": status.get("loopback"),
                "loopCode": status.get("loop_code"), "farLoop": self.far_loop,
                "dchannel": status.get("dchannel"),
                "isdn": self.isdn.snapshot() if self.isdn is not None else None,
                "multiframesLost": status.get("multiframes_lost", [])}


class SpanWatches:
    """Every span of the boards, polled every POLL_S, half-way between two
    wall-clock seconds (a poll a few ms late still lands in its second)."""

    def __init__(self, clock, driver, config, channels, pri_spans=None):
        self.clock = clock
        self.driver = driver
        self.watches = {}
        self._poller = task.LoopingCall(self.poll)
        self._poller.clock = clock
        self._starting = None
        self.history = SpanHistoryFile(Path(config.var_dir) / HISTORY_FILE)
        self._saved = None                     # (changes, at) of the last save
        self._started = False                  # the last run's history taken back
        trunks = list(channels)
        for device in (d for d in config.devices.values() if d.kind == "span"):
            span = channels.by_name.get(device.name)
            timeslots = [c for c in trunks if getattr(c, "span", None) is span] \
                if span is not None else []
            isdn = pri_spans.get(f"{device.name}D") if pri_spans is not None else None
            self.watches[device.name] = SpanWatch(device.name, driver, clock, span, timeslots,
                                                  signalling=device.signalling, isdn=isdn)

    def __contains__(self, name):
        return name in self.watches

    def start(self):
        """Watch every span, its history of the last run taken back."""
        written_at, saved = self.history.load()
        now = self.clock.seconds()
        for name, watch in self.watches.items():
            watch.start()
            if name in saved:
                try:
                    watch.resume(saved[name], written_at, now)
                except (ValueError, KeyError, TypeError) as e:
                    log.warn("{span}: its history of the last run is not taken back: {e}",
                             span=name, e=e)
        self._started = True
        if saved:
            log.info("spans' alarms and performance intervals of the last run taken back "
                     "from {path}", path=self.history.path)
        if self.watches:
            self._starting = self.clock.callLater((0.5 - self.clock.seconds()) % 1.0,
                                                  self._poller.start, POLL_S)

    def stop(self):
        if self._starting is not None and self._starting.active():
            self._starting.cancel()
        if self._poller.running:
            self._poller.stop()
        if self._started:                      # else the last run's history stays as it is
            self.save(force=True)

    def save(self, force=False):
        """Write the history if an alarm or an interval changed since the
        last write, SAVE_EVERY_S passed, or `force`."""
        now = self.clock.seconds()
        changes = {name: watch.changes() for name, watch in self.watches.items()}
        if not force and self._saved is not None and self._saved[0] == changes \
                and now - self._saved[1] < SAVE_EVERY_S:
            return
        if self.history.save(now, {name: watch.saved()
                                   for name, watch in self.watches.items()}):
            self._saved = (changes, now)

    def poll(self):
        now = self.clock.seconds()
        for watch in self.watches.values():
            try:
                watch.poll(now)
            except Exception as e:             # one span's fault stops no other, nor the poller
                if not watch.failing:
                    log.warn("{span}: counters not read: {e} (said once, until they are "
                             "again)", span=watch.name, e=e)
                watch.failing = True
            else:
                if watch.failing:
                    log.info("{span}: counters read again", span=watch.name)
                watch.failing = False
        self.save()

    def report(self, name, intervals=0):
        return self.watches[name].report(self.clock.seconds(), intervals)

    def reports(self, intervals=0):
        return [self.report(name, intervals) for name in self.watches]
