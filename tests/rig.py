# SPDX-License-Identifier: GPL-2.0-or-later
"""A simulated chassis, a driver and one clock, for tests.

The simulator runs on virtual time and the driver's watchdogs on a
`task.Clock`; `Rig.run` moves both together in 10 ms steps and polls the
driver after each, so events arrive when the board would have sent them.
A driver without an event descriptor (the vendor-only binding) is polled
as its event thread would take them (`wait_events`, sr_waitevtEx), only
without the thread.
"""
import math
from array import array

from twisted.internet import task

from drivers import r4
from drivers.r4 import R4Driver
from drivers.sim import Simulator

STEP_MS = 10


class Rig:
    """`binding`: the driver's ("full" or "vendor": drivers.r4.BINDINGS);
    `tone_channels`: the driver's, for stations' tones from voice channels."""

    def __init__(self, boards, seed=1, binding="full", tone_channels=None):
        self.sim = Simulator.from_config(boards, seed=seed)
        self.clock = task.Clock()
        self.driver = R4Driver(clock=self.clock, binding=r4.binding(binding),
                               tone_channels=tone_channels)
        self.driver.inventory()
        self.events = []
        self.driver.subscribe(self.events.append)
        if self.driver.fileno() is None:
            self._poll = lambda: self.driver.deliver(self.driver.wait_events(0))
        else:
            self._poll = self.driver.poll

    def timed(self):
        """A list filling with (virtual ms, event) for every event from now on."""
        seen = []
        self.driver.subscribe(lambda e: seen.append((self.sim.now_ms, e)))
        return seen

    def run(self, ms):
        for _ in range(0, ms, STEP_MS):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000.0)
            self._poll()

    def wait_for(self, kind, device=None, within_ms=30_000, where=None):
        """Run until an event of this kind (on this device) arrives; return it."""
        seen = len(self.events)
        for _ in range(0, within_ms + STEP_MS, STEP_MS):
            for event in self.events[seen:]:
                if event.kind == kind and (device is None or event.device == device) and (
                        where is None or where(event)):
                    return event
            seen = len(self.events)
            self.run(STEP_MS)
        recent = [(e.device, e.kind, e.data) for e in self.events[-10:]]
        raise AssertionError(f"no {kind} event on {device} within {within_ms} ms; "
                             f"last events: {recent}")

    def of(self, kind, device=None):
        return [e for e in self.events if e.kind == kind and (device is None or
                                                               e.device == device)]


def tone(freq, ms, level=8000.0, rate=8000):
    n = rate * ms // 1000
    return array("h", (int(level * math.sin(2 * math.pi * freq * i / rate)) for i in range(n)))


def power_at(samples, freq, rate=8000):
    """Goertzel power of one frequency, normalized per sample (0..~1e8)."""
    if not samples:
        return 0.0
    w = 2 * math.pi * freq / rate
    c = 2 * math.cos(w)
    s1 = s2 = 0.0
    for x in samples:
        s1, s2 = x + c * s1 - s2, s1
    return (s1 * s1 + s2 * s2 - c * s1 * s2) / len(samples) ** 2


def hears(samples, freq, threshold=1e4):
    """True if the frequency is clearly present (amplitude above ~200)."""
    return power_at(samples, freq) > threshold
