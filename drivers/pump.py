# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_event_thread,tests.test_binding -*-
"""Board events into the Twisted reactor, one of two ways.

`EventPump`: a driver with an event descriptor (our simulator's
`sr_getevtfd`) has it watched by the reactor as a reader: while the boards
have events pending the descriptor is readable and `doRead` drains them
through `driver.poll()`, which hands each to the driver's subscribers.  No
thread, no sleeping poll loop.

`EventThread`: a vendor's library offers no descriptor, only a blocking
wait.  One thread blocks in it (`driver.wait_events`: sr_waitevtEx, for
at most WAIT_MS at a time), copies each event as it comes, and hands what
it took to the reactor with `callFromThread`, where `driver.deliver`
translates it and tells the subscribers: everything but the wait runs on
the reactor's thread, as before.  Stopping sets a flag, joins the thread
(which sees it at its next wait, WAIT_MS at most) and delivers what it took
before it stopped, so that every event it took is delivered once, all of
them before `stopService` returns, none after; the events it had not
taken stay in the library's queue.

`board_events(driver, reactor)` is the one a driver needs, by whether it
has a descriptor; each says in the log, when it starts, which it is.  A
USB caller-ID box (drivers.usbcid) has its events brought the same way
by an EventThread: its wait is a USB interrupt read.
"""
import threading
from collections import deque

from twisted.application.service import Service
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from twisted.python.failure import Failure
from zope.interface import implementer

log = Logger()

#: How long the event thread blocks in one wait (ms): the longest a stop
#: waits for it, and how late it sees a device opened meanwhile.
WAIT_MS = 100
#: What the event thread of a board library says as it starts.
BOARD_WAIT = ("board events: the {family} driver has no event descriptor (the vendor's "
              "API); one thread waits for them (sr_waitevtEx, {ms} ms at a time)")


def board_events(driver, reactor=None):
    """The service that brings `driver`'s events into the reactor, by its
    `event_source` (a driver of reactor transports needs none)."""
    if driver.event_source == "thread":
        return EventThread(driver, reactor)
    if driver.event_source == "descriptor":
        return EventPump(driver, reactor)
    raise ValueError(f"the {driver.family} driver's events come from its own transports: "
                     "it needs no service to bring them")


def _reactor(reactor):
    if reactor is None:
        from twisted.internet import reactor
    return reactor


@implementer(IReadDescriptor)
class EventPump(Service):
    """Watches the driver's event descriptor in the reactor."""

    def __init__(self, driver, reactor=None):
        self.driver = driver
        self.reactor = _reactor(reactor)

    def startService(self):
        super().startService()
        fd = self.driver.fileno()
        if fd is None:
            raise RuntimeError(f"{self.driver.family} driver has no event descriptor")
        log.info("board events: the {family} driver's descriptor {fd}, watched by the reactor",
                 family=self.driver.family, fd=fd)
        self.reactor.addReader(self)

    def stopService(self):
        self.reactor.removeReader(self)
        return super().stopService()

    def fileno(self):
        return self.driver.fileno()

    def doRead(self):
        try:
            self.driver.poll()
        except Exception:
            log.failure("board event handling failed")

    def connectionLost(self, reason):
        log.info("board event descriptor closed: {reason}", reason=reason)

    def logPrefix(self):
        return "board-events"


class EventThread(Service):
    """One thread waiting for the driver's events, handing them over with
    `callFromThread`.  `announce`: what it logs as it starts."""

    def __init__(self, driver, reactor=None, announce=BOARD_WAIT):
        self.driver = driver
        self.announce = announce
        self.reactor = _reactor(reactor)
        self.thread = None
        self._stopping = threading.Event()
        self._taken = deque()          # batches of raw events, not delivered yet

    def startService(self):
        super().startService()
        log.info(self.announce, family=self.driver.family, ms=WAIT_MS)
        self._stopping.clear()
        self.thread = threading.Thread(target=self._wait, name="board-events", daemon=True)
        self.thread.start()

    def stopService(self):
        if self.thread is not None:
            self._stopping.set()
            self.thread.join()
            self.thread = None
            self._deliver()
            log.info("board events: the event thread stopped")
        return super().stopService()

    def _wait(self):
        """The thread: wait, take, hand over, until told to stop."""
        while not self._stopping.is_set():
            try:
                raw = self.driver.wait_events(WAIT_MS)
            except Exception:
                self.reactor.callFromThread(log.failure, "board events stopped: the wait failed",
                                            Failure())
                return
            if raw:
                self._taken.append(raw)
                self.reactor.callFromThread(self._deliver)

    def _deliver(self):
        """On the reactor's thread: every batch taken so far, in order."""
        while self._taken:
            raw = self._taken.popleft()
            try:
                self.driver.deliver(raw)
            except Exception:
                log.failure("board event handling failed")
