# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""The signals that end a demo early: Ctrl-C (SIGINT), SIGTERM, and
SIGHUP (its terminal closed), each the same way, with the summary.

`cti demo` takes them first thing, before it imports Twisted, reads the
configuration or makes its run directory (cti.cli), so that no signal
finds a demo half-made: one that comes before the demo runs is kept, and
the demo ends as soon as it has begun.  The demo's handlers are its own,
never Twisted's nor the CT server's (whose SIGHUP would reload its
configuration): `Demo` installs them again once its server has started.

This module imports nothing but `signal`, so that taking them costs no time.
"""
import signal

#: The signals that end a demo.
ENDING = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class EndingSignals:
    """Which ending signal came first (`received`, its name), and what a
    signal does once the demo runs (`then`)."""

    def __init__(self):
        self.received = None
        self._end = None

    def install(self):
        for signum in ENDING:
            signal.signal(signum, self._caught)
        return self

    def then(self, end):
        """From now on each signal calls `end(name)` (from the signal
        handler: `end` hands it to the reactor); at once if one came."""
        self._end = end
        if self.received is not None:
            end(self.received)

    def _caught(self, signum, frame):
        name = signal.Signals(signum).name
        if self.received is None:
            self.received = name
        if self._end is not None:
            self._end(name)
