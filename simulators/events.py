# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""Waiting for driver events with Deferreds.

    waiter = EventWaiter(driver, clock)
    event = yield waiter.wait("digits_done", "dxxxB1C1", timeout=10)

A wait that times out fails with `EventTimeout` naming what it waited for.
"""
from twisted.internet import defer


class EventTimeout(Exception):
    pass


class EventWaiter:
    def __init__(self, driver, clock):
        self.clock = clock
        self._waiting = []
        driver.subscribe(self._event)

    def wait(self, kind, device=None, timeout=30.0, where=None):
        d = defer.Deferred()
        entry = (kind, device, where, d)
        self._waiting.append(entry)

        def expire():
            if entry in self._waiting:
                self._waiting.remove(entry)
                d.errback(EventTimeout(f"no {kind} on {device or 'any device'} "
                                       f"within {timeout} s"))

        call = self.clock.callLater(timeout, expire)
        d.addBoth(lambda result: (call.active() and call.cancel(), result)[1])
        return d

    def _event(self, event):
        for entry in list(self._waiting):
            kind, device, where, d = entry
            if event.kind == kind and device in (None, event.device) and (
                    where is None or where(event)):
                self._waiting.remove(entry)
                d.callback(event)


def sleep(clock, seconds):
    d = defer.Deferred()
    clock.callLater(seconds, d.callback, None)
    return d
