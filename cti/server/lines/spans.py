# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_span_alarms -*-
"""T1 spans and their alarms: a span in alarm carries no call.

A span's framer reports alarms (lines-real.md, section 4): LOS (no
signal), red (no frame alignment, for seconds), OOF (frame alignment
lost), blue (AIS: the far end sends all ones) and yellow (RAI: the far end
does not see us).  Any of them means the calls on the span are dead: the
received signalling bits are frozen, the audio is idle code, and the
telephone company clears its side.  So a span is a declared machine:

    in_service ──alarm──> down ──(last alarm cleared)──> recovering
        ^                  ^                                 │
        │                  └─────────────alarm───────────────┤
        └──────────── healthy (clear for `healthy_s`) ───────┘

Going down, the span tells the call layer (`IChannelListener.span_down`),
which clears every call on its timeslots with the alarm as their cause,
and takes its timeslots out of service: an idle one at once, a busy one as
soon as its clear-down ends.  A seizure on a timeslot out of service is not
answered and no call out is placed there.  The timeslots come back only
once the span has stayed clear of alarms for `healthy_s` (a span that
flaps stays out).  Every alarm is kept with when it was raised and
cleared (`snapshot`), and the listener is told of each, for the audit and
the supervisors.  The history outlives a restart
(cti.server.maintenance.history, `restore_history`).
"""
from dataclasses import dataclass

from cti.logs import Logger
from cti.server.lines.channels import LINE_ALARMS
from cti.statemachine import Table
from drivers.errors import DriverNotSupported
from drivers.interface import REMOVED_ALARM

log = Logger()

#: A span clear of alarms this long goes back into service (the [faults] default).
HEALTHY_S = 10.0
#: Alarms kept per span for its history (the oldest go first).
ALARM_HISTORY = 50

SPAN = Table("span", initial="in_service", transitions=[
    ("in_service", "alarm", "down"),
    ("down", "alarm", "="),                  # another one on top
    ("down", "cleared", "="),                # one of several cleared
    ("down", "all_clear", "recovering"),     # the health timer runs
    ("recovering", "alarm", "down"),
    ("recovering", "healthy", "in_service"),
])


@dataclass
class Alarm:
    """One alarm of a span: raised at, cleared at (None while it lasts)."""

    name: str
    raised_at: float
    cleared_at: float | None = None

    def describe(self, now):
        end = self.cleared_at if self.cleared_at is not None else now
        return {"alarm": self.name, "raised": self.raised_at, "cleared": self.cleared_at,
                "durationS": round(end - self.raised_at, 3)}


class Span:
    """One span: its alarms, its state, the trunk channels on its timeslots.

    `listener` gets `span_down(span, reason)` as the span goes down (the
    calls on it to be cleared), `span_alarm(span, alarm, raised)` for each
    alarm raised or cleared, and `span_up(span)` once it is back in
    service."""

    def __init__(self, name, driver, clock, listener, channels, healthy_s=HEALTHY_S):
        self.name = name
        self.driver = driver
        self.clock = clock
        self.listener = listener
        self.channels = list(channels)
        self.healthy_s = healthy_s
        self.machine = SPAN.machine(clock, name, on_change=self._changed)
        self.active = {}                      # alarm name -> Alarm, while raised
        self.history = []                     # every Alarm, oldest first
        self._timer = None                    # the health timer while recovering
        for channel in self.channels:
            channel.span = self

    @property
    def state(self):
        return self.machine.state

    @property
    def in_service(self):
        return self.state == "in_service"

    @property
    def reason(self):
        """Why the span is out of service, for causes and logs."""
        if not self.active:
            return f"span {self.name} recovering from an alarm"
        if REMOVED_ALARM in self.active:            # a hot-unplugged board: no line at all
            return f"span {self.name} down: {LINE_ALARMS[REMOVED_ALARM]}"
        alarms = ", ".join(sorted(self.active))
        return f"span {self.name} down: {alarms} alarm" + ("s" if len(self.active) > 1 else "")

    def start(self):
        """Ask the board for alarm events, and take in the alarms already up."""
        self.driver.enable_alarm_events(self.name)
        try:
            already = self.driver.alarms(self.name)
        except DriverNotSupported:              # a driver that cannot tell: events only
            already = frozenset()
        for name in sorted(already):
            self._raised(name)

    def restore_history(self, alarms):
        """The alarms of the server's last run, put before this run's in
        the history (oldest first): (name, raised_at, cleared_at) each.
        Only the history: an alarm still up now was raised by `start`."""
        self.history[:0] = [Alarm(name, raised, cleared) for name, raised, cleared in alarms]
        del self.history[:-ALARM_HISTORY]

    def handle(self, event):
        if event.kind != "alarm":
            return
        if event.data["raised"]:
            self._raised(event.data["alarm"])
        else:
            self._cleared(event.data["alarm"])

    def _raised(self, name):
        if name in self.active:
            return
        alarm = Alarm(name, self.clock.seconds())
        self.active[name] = alarm
        self.history.append(alarm)
        del self.history[:-ALARM_HISTORY]
        was = self.state
        self._stop_timer()
        self.machine.fire("alarm", alarm=name)
        log.error("{span}: {condition} alarm raised", span=self.name, condition=name,
                  alarm="span")
        self.listener.span_alarm(self, name, True)
        if was == "in_service":
            self.listener.span_down(self, self.reason)
        for channel in self.channels:
            channel.take_out_of_service(self.reason)

    def _cleared(self, name):
        alarm = self.active.pop(name, None)
        if alarm is None:
            return
        alarm.cleared_at = self.clock.seconds()
        log.warn("{span}: {condition} alarm cleared after {s:.1f} s", span=self.name,
                 condition=name, s=alarm.cleared_at - alarm.raised_at, alarm="span")
        if self.active:
            self.machine.fire("cleared", alarm=name)
        else:
            self.machine.fire("all_clear", alarm=name)
            self._timer = self.clock.callLater(self.healthy_s, self._healthy)
        self.listener.span_alarm(self, name, False)        # its state as it is now

    def _healthy(self):
        self._timer = None
        self.machine.fire("healthy", after_s=self.healthy_s)
        log.info("{span}: clear of alarms for {s} s: back in service", span=self.name,
                 s=self.healthy_s)
        for channel in self.channels:
            channel.back_in_service()
        self.listener.span_up(self)

    def _stop_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _changed(self, machine, transition):
        log.debug("{span}: {t}", span=self.name, t=transition)

    def snapshot(self):
        now = self.clock.seconds()
        return {"device": self.name, "kind": "span", "state": self.state,
                "since": self.machine.since, "alarms": sorted(self.active),
                "timeslots": [c.name for c in self.channels],
                "outOfService": sum(c.state == "out_of_service" for c in self.channels),
                "alarmHistory": [a.describe(now) for a in self.history[-10:]],
                "history": self.machine.describe_history()[-10:]}
