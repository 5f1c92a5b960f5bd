# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_monitoring -*-
"""Reactor lag: how late the reactor runs what is due.

Everything of the CT tier (board events, the ACD, every protocol frame)
runs on the one reactor thread; a reactor held up by something slow is
late for all of it, and callers hear it as dead air.  A tick is asked
for `every_s` ahead; how much later than asked it runs is the lag.  The
last one and the largest of the last `window` ticks are kept.
"""
from collections import deque


class ReactorLag:
    def __init__(self, clock, every_s=1.0, window=60):
        self.clock = clock
        self.every_s = every_s
        self.recent = deque(maxlen=window)
        self._due = None
        self._call = None

    @property
    def last_s(self):
        return self.recent[-1] if self.recent else 0.0

    @property
    def max_s(self):
        return max(self.recent, default=0.0)

    def start(self):
        if self._call is None:
            self._next()

    def stop(self):
        if self._call is not None and self._call.active():
            self._call.cancel()
        self._call = None

    def _next(self):
        self._due = self.clock.seconds() + self.every_s
        self._call = self.clock.callLater(self.every_s, self._tick)

    def _tick(self):
        self.recent.append(max(0.0, self.clock.seconds() - self._due))
        self._next()
