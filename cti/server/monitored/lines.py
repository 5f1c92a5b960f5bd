# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_usb_callerid -*-
"""Monitored lines: analog lines no board owns (the front desk's, a
manager's direct line), watched by a USB caller-ID box (drivers.usbcid),
as devices of the call model.

The server does not answer, bridge or record these calls: they ring a
phone that is not ours.  What it can do is say who is calling and what
the line does, where people look: each line is a device,
``monitored:NAME`` ([[monitored_lines]]), with its snapshot and events,
and its caller ID goes to the agent at the phone configured for it
(`station`): the events go to the monitors of the line and of that
station, which the agent's desktop already watches.  A declared machine
follows the line::

    idle ──ring──> ringing ──offhook──> answered ──onhook──> idle
     │                └──ring_stopped (nobody answered)──> idle
     └──offhook──> in_use (a call out) ──onhook──> idle

    LineRinging     each ring (rings, the caller ID once it came)
    LineCallerId    the caller ID (between the first rings; a DTMF one
                    before them): the pop
    LineOffHook     the phone lifted (answered: whether it was ringing)
    LineIdle        the line idle again: put down (answered, how long it
                    was off hook, the keys dialled on a call out), or the
                    ringing stopped with nobody answering

Bodies: `device`, `state`, `station`, `callerId` (number, name,
datetime: as the boards give them, P / O for withheld / unavailable, or
null), and what each adds.
"""
from cti.logs import Logger
from cti.statemachine import Table

log = Logger()

LINE = Table("monitored line", initial="idle", transitions=[
    ("idle", "ring", "ringing"),
    ("ringing", "ring", "="),
    ("ringing", "ring_stopped", "idle"),
    ("ringing", "offhook", "answered"),
    ("idle", "offhook", "in_use"),
    ("answered", "onhook", "idle"),
    ("in_use", "onhook", "idle"),
])


class MonitoredLine:
    """One line: its state, the caller ID of its last call, the keys dialled."""

    def __init__(self, config, clock, publish):
        self.config = config
        self.name = config.device
        self.clock = clock
        self.publish = publish
        self.machine = LINE.machine(clock, self.name)
        self.caller_id = None             # drivers.interface.CallerId of the call
        self.rings = 0
        self.dialled = ""
        self.offhook_at = None

    @property
    def state(self):
        return self.machine.state

    def handle(self, event):
        kind = event.kind
        if kind == "ring":
            if self.state == "idle":
                self.rings, self.dialled = 0, ""
            if self.machine.fire_if("ring", count=event["count"]):
                self.rings += 1
                self._tell("LineRinging", rings=self.rings)
        elif kind == "ring_stopped":
            if self.machine.fire_if("ring_stopped"):
                self._tell("LineIdle", answered=False, durationS=0.0, dialled="")
                self.caller_id = None
        elif kind == "caller_id":
            self.caller_id = event["caller_id"]
            log.info("{line}: caller ID {number} {name}", line=self.name,
                     number=self.caller_id.number, name=self.caller_id.name)
            self._tell("LineCallerId")
        elif kind == "hook" and event["offhook"]:
            answered = self.state == "ringing"
            if self.machine.fire_if("offhook"):
                if not answered:
                    self.caller_id = None            # a call out: nobody's caller ID
                self.offhook_at, self.dialled = self.clock.seconds(), ""
                self._tell("LineOffHook", answered=answered)
        elif kind == "hook":
            answered = self.state == "answered"
            if self.machine.fire_if("onhook"):
                self._tell("LineIdle", answered=answered, dialled=self.dialled,
                           durationS=round(self.clock.seconds() - self.offhook_at, 3))
        elif kind == "digit" and self.state == "in_use":
            self.dialled += event["digit"]

    def _caller(self):
        c = self.caller_id
        return None if c is None else {"number": c.number, "name": c.name,
                                       "datetime": c.datetime}

    def _tell(self, name, **extra):
        body = {"device": self.name, "state": self.state, "station": self.config.station,
                "callerId": self._caller(), **extra}
        self.publish("device", self.name, name, body)
        if self.config.station is not None:
            self.publish("device", self.config.station, name, body)

    def snapshot(self):
        c = self.config
        return {"device": self.name, "kind": "monitored_line", "state": self.state,
                "since": self.machine.since, "box": c.box, "line": c.line,
                "station": c.station, "rings": self.rings, "callerId": self._caller(),
                "dialled": self.dialled, "history": self.machine.describe_history()[-10:]}


class MonitoredLines:
    """Every monitored line, fed by the boxes' events (`attach`)."""

    def __init__(self, clock, configs, publish):
        self.lines = {c.device: MonitoredLine(c, clock, publish) for c in configs}
        self._by_source = {f"{c.box}/{c.line}": self.lines[c.device] for c in configs}

    def attach(self, box):
        """Take the events of a box (drivers.usbcid.CallerIdBox)."""
        box.subscribe(self.handle)

    def handle(self, event):
        line = self._by_source.get(event.device)
        if line is not None:
            line.handle(event)

    def snapshot(self, name):
        line = self.lines.get(name)
        return None if line is None else line.snapshot()

    def station_of(self, name):
        """(whether `name` is a monitored line, its station or None)."""
        line = self.lines.get(name)
        return line is not None, line.config.station if line is not None else None
