# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_statemachine -*-
"""State machines declared as transition tables, with a history.

Channels and stations (cti.server.lines.channels), agents (the ACD),
calls' phases and what their callers hear (cti.server.core.call),
consultations (cti.server.consult), CSTA connections (the call model),
protocol sessions (cti.protocol.server) and the record store's life
(cti.storage.store) all follow one pattern, borrowed from FreeTDM: the
allowed transitions are data, every transition is recorded with when and
why, and an event the table does not allow is refused loudly instead of
being half-handled::

    TRUNK = Table("trunk", initial="idle", transitions=[
        ("idle",     "offered",  "offered"),
        ("offered",  "answer",   "answered"),
        ("*",        "released", "idle"),         # from any state
    ])
    m = TRUNK.machine(clock, name="dtiB1T1")
    m.fire("offered", ani="5551234")
    m.state            # 'offered'
    m.history[-1]      # Transition(at=..., source='idle', event='offered', ...)

A machine's history is a ring (the last HISTORY transitions) for
diagnostics: `linediag` and snapshots show it.
"""
from collections import deque
from dataclasses import dataclass, field

HISTORY = 64
ANY = "*"


class InvalidTransition(Exception):
    """The event is not allowed in the machine's current state."""

    def __init__(self, machine, event):
        self.machine = machine
        self.event = event
        allowed = ", ".join(machine.table.events_from(machine.state)) or "none"
        super().__init__(f"{machine.table.name} {machine.name}: event {event!r} is not allowed "
                         f"in state {machine.state!r} (allowed: {allowed})")


@dataclass(frozen=True)
class Transition:
    at: float
    source: str
    event: str
    target: str
    detail: dict = field(default_factory=dict)

    def describe(self):
        extra = " ".join(f"{k}={v}" for k, v in self.detail.items())
        return f"{self.at:.3f} {self.source} --{self.event}--> {self.target} {extra}".rstrip()

    __str__ = describe          # what a log line shows


class Table:
    """The declared transitions of one kind of machine.

    transitions: (source, event, target) triples; source "*" means any
    state, and a specific source wins over "*".  target "=" means stay.
    """

    def __init__(self, name, initial, transitions):
        self.name = name
        self.initial = initial
        self._moves = {}
        states = {initial}
        for source, event, target in transitions:
            key = (source, event)
            if key in self._moves:
                raise ValueError(f"{name}: ({source}, {event}) declared twice")
            self._moves[key] = target
            states.update(s for s in (source, target) if s not in (ANY, "="))
        self.states = frozenset(states)

    def target(self, state, event):
        target = self._moves.get((state, event), self._moves.get((ANY, event)))
        if target == "=":
            return state
        return target

    def events_from(self, state):
        return sorted({e for (s, e) in self._moves if s in (state, ANY)})

    def machine(self, clock, name="", on_change=None):
        return Machine(self, clock, name, on_change)


class Machine:
    """One instance: its state, its history, an optional change callback
    `on_change(machine, transition)` called after every transition."""

    def __init__(self, table, clock, name="", on_change=None):
        self.table = table
        self.clock = clock
        self.name = name
        self.state = table.initial
        self.since = clock.seconds()
        self.history = deque(maxlen=HISTORY)
        self.on_change = on_change

    def can(self, event):
        return self.table.target(self.state, event) is not None

    def fire(self, event, **detail):
        """Move on `event`; returns the Transition or raises InvalidTransition."""
        target = self.table.target(self.state, event)
        if target is None:
            raise InvalidTransition(self, event)
        now = self.clock.seconds()
        transition = Transition(now, self.state, event, target, detail)
        self.history.append(transition)
        if target != self.state:
            self.since = now
        self.state = target
        if self.on_change:
            self.on_change(self, transition)
        return transition

    def fire_if(self, event, **detail):
        """fire() when the event is allowed, else None (for events that may
        legitimately arrive late, such as a second hang-up)."""
        return self.fire(event, **detail) if self.can(event) else None

    def describe_history(self):
        return [t.describe() for t in self.history]
