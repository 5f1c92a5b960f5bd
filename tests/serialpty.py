# SPDX-License-Identifier: GPL-2.0-or-later
"""A device simulator on a real pseudo-terminal pair, and the driver's
side on Twisted's own SerialPort (pyserial) opening the pty's slave, all
moved by one test's `task.Clock`.

The simulators (simulators.voicemodem, simulators.gsmmodem) are sans-IO;
here one reads and writes the pty's master, as a modem's firmware would
its UART, while the driver's protocol sits on
`twisted.internet.serialport.SerialPort`, which pyserial opens as a tty
(raw mode, the baud rate, RTS/CTS) exactly as it would /dev/ttyACM0.
`PtyReactor` is just enough of a reactor for that SerialPort: it keeps
the descriptors it adds and serves them when the test `pump`s, and takes
time from the clock, so no real reactor runs and nothing sleeps but a
select of a few milliseconds for bytes the kernel is still moving::

    clock = task.Clock()
    reactor = PtyReactor(clock)
    modem = PtyDevice(VoiceModemSimulator(clock), reactor)
    SerialPort(protocol, modem.path, reactor, baudrate=115200)
    reactor.run(100)            # 10 ms steps: bytes through the pty, the clock on
"""
import os
import select

from twisted.python.failure import Failure

STEP_MS = 10
#: How long a pump waits for bytes the kernel may still be moving.
SETTLE_S = 0.002


class PtyReactor:
    """Descriptors served on demand, time from a task.Clock."""

    def __init__(self, clock):
        self.clock = clock
        self.readers, self.writers = set(), set()
        self.devices = []                 # PtyDevice: the simulators' ends
        self.moved = False                # bytes written since the line was quiet

    def addReader(self, reader):
        self.readers.add(reader)

    def removeReader(self, reader):
        self.readers.discard(reader)

    def addWriter(self, writer):
        self.writers.add(writer)
        self.moved = True

    def removeWriter(self, writer):
        self.writers.discard(writer)

    def getReaders(self):
        return list(self.readers)

    def getWriters(self):
        return list(self.writers)

    def callLater(self, delay, f, *args, **kwargs):
        return self.clock.callLater(delay, f, *args, **kwargs)

    def seconds(self):
        return self.clock.seconds()

    def pump(self):
        """Move every byte waiting, both ways, until the line is quiet: after
        bytes moved, until a select of SETTLE_S finds none in flight."""
        while True:
            if self._serve_ready(0.0):
                self.moved = True
            elif not self.moved or not self._serve_ready(SETTLE_S):
                self.moved = False
                return

    def _serve_ready(self, timeout):
        fds = {d.master: d for d in self.devices}
        fds.update({r.fileno(): r for r in self.readers})
        writing = {w.fileno(): w for w in self.writers}
        writing.update({d.master: d for d in self.devices if d.pending})
        readable, writable, _ = select.select(list(fds), list(writing), [], timeout)
        for fd in readable:
            self._serve(fds[fd], "doRead")
        for fd in writable:
            self._serve(writing[fd], "doWrite")
        return bool(readable or writable)

    def _serve(self, selectable, method):
        why = getattr(selectable, method)()
        if why is not None:                # the descriptor closed, or failed
            self.readers.discard(selectable)
            self.writers.discard(selectable)
            selectable.connectionLost(Failure(why))

    def run(self, ms):
        for _ in range(0, ms, STEP_MS):
            self.pump()
            self.clock.advance(STEP_MS / 1000.0)
            self.pump()


class PtyDevice:
    """A sans-IO device simulator on the master of a new pty; `path` is
    the slave, for the driver to open."""

    def __init__(self, simulator, reactor):
        self.simulator = simulator
        self.master, self._slave = os.openpty()
        os.set_blocking(self.master, False)
        self.path = os.ttyname(self._slave)
        self.pending = b""
        self.reactor = reactor
        simulator.write = self._write
        reactor.devices.append(self)

    def _write(self, data):
        self.pending += data
        self.doWrite()
        self.reactor.moved = True

    def doWrite(self):
        try:
            sent = os.write(self.master, self.pending)
        except BlockingIOError:
            return None
        self.pending = self.pending[sent:]
        return None

    def doRead(self):
        try:
            data = os.read(self.master, 4096)
        except (BlockingIOError, OSError):
            return None
        self.simulator.data_received(data)
        return None

    def close(self):
        for fd in (self.master, self._slave):
            os.close(fd)
