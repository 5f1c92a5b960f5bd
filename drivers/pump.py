# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pump -*-
"""Board events into the Twisted reactor.

`EventPump` registers the driver's event descriptor with the reactor as a
reader: when the boards have events pending the descriptor is readable and
`doRead` drains them through `driver.poll()`, which hands each to the
driver's subscribers.  No thread, no sleeping poll loop.

(A vendor library that only offers a blocking wait will need one thread
blocked in it handing over with `callFromThread`; the simulator has the
descriptor, so that variant waits for the first such driver.)
"""
from twisted.application.service import Service
from twisted.internet.interfaces import IReadDescriptor
from twisted.logger import Logger
from zope.interface import implementer

log = Logger()


@implementer(IReadDescriptor)
class EventPump(Service):
    """Watches the driver's event descriptor in the reactor."""

    def __init__(self, driver, reactor=None):
        if reactor is None:
            from twisted.internet import reactor
        self.driver = driver
        self.reactor = reactor

    def startService(self):
        super().startService()
        if self.driver.fileno() is None:
            raise RuntimeError(f"{self.driver.family} driver has no event descriptor")
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
