# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pri_link -*-
"""D-channel frames to a pcap file that Wireshark and tshark decode as
LAPD and Q.931 (lines-real.md 2.6).

The file is a classic pcap of link type 177 (LINUX_LAPD): each packet is a
16-byte pseudo-header, then the LAPD frame without its FCS.  The
pseudo-header says which way the frame went from the capturing side's
view (sent by it: "outgoing"; received: "host") and whether that side is
the network, which is how Wireshark tells User->Network from
Network->User; its protocol field must be ETH_P_LAPD::

    pcap = LapdPcap("dtiB1D.pcap", we_network=False, clock=reactor)
    link.trace = pcap.frame                # drivers.pri.PriLink: every frame
    ...
    pcap.close()

    tshark -r dtiB1D.pcap -Y q931 -T fields -e q931.message_type
"""
import struct

#: pcap's global header: magic, version 2.4, GMT, accuracy, snap length,
#: link type LINUX_LAPD.
LINKTYPE_LINUX_LAPD = 177
SNAPLEN = 65535
#: The pseudo-header's packet types (Linux sll_pkttype).
PACKET_HOST, PACKET_OUTGOING = 0, 4
#: Its protocol: ETH_P_LAPD (Wireshark refuses the file otherwise).
ETH_P_LAPD = 0x0030
#: Its hardware address length: 8 bytes, the first says "we are network".
ADDRESS_LENGTH = 8


class LapdPcap:
    """A pcap file being written; `frame(frame, outgoing)` adds one frame
    stamped with the clock's time (virtual in tests), or with `at` (the
    time a frame read from elsewhere was seen: linediag's trace; then
    the clock may be None)."""

    def __init__(self, path, we_network, clock=None):
        self.path = path
        self.we_network = we_network
        self.clock = clock
        self._file = open(path, "wb")
        self._file.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, SNAPLEN,
                                     LINKTYPE_LINUX_LAPD))

    def frame(self, frame, outgoing, at=None):
        header = struct.pack(">HHHB7xH", PACKET_OUTGOING if outgoing else PACKET_HOST, 0,
                             ADDRESS_LENGTH, int(self.we_network), ETH_P_LAPD)
        at = self.clock.seconds() if at is None else at
        seconds, micros = divmod(round(at * 1e6), 1_000_000)
        length = len(header) + len(frame)
        self._file.write(struct.pack("<IIII", seconds, micros, length, length))
        self._file.write(header + bytes(frame))
        self._file.flush()

    def close(self):
        self._file.close()
