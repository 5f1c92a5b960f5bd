# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_voice_modem -*-
"""A serial line in memory, between a driver's protocol and a simulated
device, on an injected clock.

A serial device simulator (simulators.voicemodem, simulators.gsmmodem)
is sans-IO: `data_received(bytes)` for what the computer sends it, and a
`write` it calls for what it sends back.  `SerialLine` joins one to a
Twisted protocol (the driver's side of the port) with what each end
writes reaching the other at the clock's next turn, as a UART would, so a
test drives both ends with `task.Clock.advance` and no real time::

    line = SerialLine(clock)
    line.connect(protocol, simulator)      # protocol.connectionMade() runs
    clock.advance(0.01)                    # bytes cross, both ways

The same simulators run on a real pseudo-terminal pair too (tests/serialpty.py),
where the driver's side is pyserial on the pty's slave.
"""
from twisted.internet import interfaces
from twisted.python.failure import Failure
from zope.interface import implementer


@implementer(interfaces.ITransport)
class _End:
    """The transport the protocol writes to."""

    def __init__(self, line):
        self.line = line
        self.disconnecting = False

    def write(self, data):
        if not self.disconnecting:
            self.line.clock.callLater(0, self.line.device.data_received, bytes(data))

    def writeSequence(self, chunks):
        self.write(b"".join(chunks))

    def loseConnection(self):
        if not self.disconnecting:
            self.disconnecting = True
            self.line.clock.callLater(0, self.line.protocol.connectionLost,
                                      Failure(ConnectionError("serial line closed")))

    def getPeer(self):
        return "simulated device"

    def getHost(self):
        return "serial line in memory"


class SerialLine:
    """One serial line in memory: a protocol at one end, a device at the other."""

    def __init__(self, clock):
        self.clock = clock
        self.protocol = None
        self.device = None
        self.transport = _End(self)

    def connect(self, protocol, device):
        self.protocol, self.device = protocol, device
        device.write = self._to_protocol
        protocol.makeConnection(self.transport)

    def _to_protocol(self, data):
        if not self.transport.disconnecting:
            self.clock.callLater(0, self.protocol.dataReceived, bytes(data))
