# SPDX-License-Identifier: GPL-2.0-or-later
"""drivers.pri: two libpri controllers, the network and the CPE, joined by
an in-memory D-channel that keeps frames whole, on one virtual clock:
calls both ways for every switch type, numbers and plans, causes, the
role mismatch, RESTART, and the link lost when frames stop (libpri's
T200 and N200 counted on the virtual clock), and the pcap of a call as
tshark decodes it."""
import subprocess

import pytest
from twisted.internet import task

from drivers.errors import PriError
from drivers.lapdpcap import LapdPcap
from drivers.pri import CAUSE_BUSY, CAUSE_NORMAL, SWITCH_TYPES, PriLink


class Wire:
    """Two links whose frames reach each other when `pump` runs, unless
    the wire is cut; each link's events in `events[name]`."""

    def __init__(self, switchtype="euroisdn_e1", ours="cpe", theirs="network"):
        self.clock = task.Clock()
        self.queue, self.cut = [], False
        self.events = {"net": [], "cpe": []}
        self.net = self._link("net", theirs, switchtype)
        self.cpe = self._link("cpe", ours, switchtype)
        self.pump()

    def _link(self, name, node, switchtype):
        return PriLink(name, node, switchtype, self.clock,
                       send=lambda frame: self.queue.append((name, frame)),
                       on_event=self.events[name].append)

    def pump(self):
        while self.queue:
            sender, frame = self.queue.pop(0)
            if not self.cut:
                (self.cpe if sender == "net" else self.net).receive(frame)

    def run(self, seconds, step=0.1):
        for _ in range(round(seconds / step)):
            self.clock.advance(step)
            self.pump()

    def kinds(self, name):
        return [e.kind for e in self.events[name]]

    def last(self, name, kind):
        return [e for e in self.events[name] if e.kind == kind][-1]


@pytest.mark.parametrize("switchtype", SWITCH_TYPES)
def test_a_call_from_the_network_is_offered_answered_and_cleared_for_every_switch_type(
        switchtype):
    wire = Wire(switchtype)
    assert wire.kinds("net") == wire.kinds("cpe") == ["dchannel_up"]
    call = wire.net.setup(3, "8001", "13800138000", "Alice", called_plan="national",
                          calling_plan="national")
    wire.pump()
    ring = wire.last("cpe", "setup")
    assert (ring.channel, ring.called, ring.calling, ring.calling_plan, ring.called_plan,
            ring.exclusive, ring.presentation) == (3, "8001", "13800138000", "national",
                                                   "national", True, "allowed")
    wire.cpe.proceeding(ring.call)
    wire.cpe.alerting(ring.call, inband=True)
    wire.cpe.answer(ring.call)
    wire.pump()
    assert wire.kinds("net")[1:] == ["proceeding", "alerting", "connect"]
    assert wire.last("net", "alerting").inband and wire.last("net", "connect").call is call
    wire.net.hangup(call, CAUSE_NORMAL)
    wire.pump()
    disconnect = wire.last("cpe", "disconnect")
    assert disconnect.cause == CAUSE_NORMAL
    wire.cpe.hangup(disconnect.call, disconnect.cause)
    wire.pump()
    release = wire.last("net", "release")
    wire.net.hangup(release.call, release.cause)
    wire.pump()
    assert wire.kinds("cpe")[-1] == "release_complete"
    assert wire.net.calls == {} and wire.cpe.calls == {}


def test_a_call_refused_busy_reaches_the_caller_with_cause_17_and_a_restricted_number():
    wire = Wire("national")
    call = wire.cpe.setup(None, "5551212", "2125551234", presentation="restricted",
                          exclusive=False)
    wire.pump()
    ring = wire.last("net", "setup")
    assert (ring.channel, ring.exclusive, ring.presentation) == (None, False, "restricted")
    wire.net.refuse(ring.call, CAUSE_BUSY)
    wire.pump()
    cleared = wire.last("cpe", "disconnect")
    assert (cleared.call, cleared.cause) == (call, CAUSE_BUSY)


def test_both_sides_network_never_come_up_and_say_why_every_t200():
    wire = Wire(ours="network")
    wire.run(3.05)
    errors = [e for e in wire.events["cpe"] if e.kind == "config_error"]
    assert len(errors) == 3 and "network" in errors[0].text
    assert "dchannel_up" not in wire.kinds("cpe")


def test_frames_lost_take_the_link_down_after_t200_times_n200_on_the_virtual_clock():
    wire = Wire()
    wire.cut = True
    wire.run(13.9)            # T203 (10 s) after the last frame: a poll, then T200 (1 s) x 3
    assert "dchannel_down" not in wire.kinds("cpe")
    wire.run(1)
    assert "dchannel_down" in wire.kinds("cpe") and not wire.cpe.up
    wire.cut = False
    wire.run(5)
    assert wire.kinds("cpe")[-1] == "dchannel_up" and wire.cpe.up


def test_a_restart_of_a_channel_is_told_and_acknowledged():
    wire = Wire()
    wire.net.restart(5)
    wire.pump()
    assert wire.last("cpe", "restart").channel == 5
    assert wire.last("net", "restart_ack").channel == 5


def _sequence(frame):
    """N(S) of an I-frame (control field's first octet, bit 0 clear), or None."""
    return frame[2] >> 1 if len(frame) > 4 and not frame[2] & 1 else None


def test_a_restart_of_the_whole_interface_from_a_switch_is_told_with_no_channel():
    """libpri cannot send one (PriLink.restart restarts a channel), but a
    switch may: a RESTART with the restart class "all interfaces" and no
    channel identification.  Sent here as the network's next I-frame."""
    wire = Wire()
    sent = []

    def pump():                             # Wire.pump, keeping every frame
        while wire.queue:
            sender, frame = wire.queue.pop(0)
            sent.append((sender, frame))
            (wire.cpe if sender == "net" else wire.net).receive(frame)
    wire.pump = pump
    wire.net.restart(5)                     # an I-frame each way: the sequence numbers
    wire.pump()
    ours = [_sequence(f) for who, f in sent if who == "net" and _sequence(f) is not None]
    theirs = [_sequence(f) for who, f in sent if who == "cpe" and _sequence(f) is not None]
    address = bytes([0x02, 0x01])           # SAPI 0, C/R 1 (a network command), TEI 0
    control = bytes([(ours[-1] + 1) % 128 << 1, (theirs[-1] + 1) % 128 << 1])
    restart = bytes([0x08, 0x02, 0x00, 0x00,          # Q.931, the global call reference
                     0x46,                            # RESTART
                     0x79, 0x01, 0x87])               # restart indicator: all interfaces
    wire.cpe.receive(address + control + restart)
    wire.pump()
    assert wire.last("cpe", "restart").channel is None
    acknowledged = [f for who, f in sent if who == "cpe" and f[2:3] and not f[2] & 1]
    assert acknowledged[-1][8] == 0x4E      # RESTART ACKNOWLEDGE (after 08 02 80 00)


def test_an_unknown_switch_type_or_node_is_refused_naming_the_choices():
    with pytest.raises(PriError, match="national, ni2, dms100, euroisdn_e1, qsig"):
        PriLink("dtiB1D", "cpe", "5ess", task.Clock(), send=print, on_event=print)
    with pytest.raises(PriError, match="cpe, network"):
        PriLink("dtiB1D", "user", "national", task.Clock(), send=print, on_event=print)


def test_the_pcap_of_a_call_reads_in_tshark_as_q931_with_the_setup_s_numbers(tmp_path):
    wire = Wire()
    pcap = LapdPcap(tmp_path / "dchannel.pcap", we_network=False, clock=wire.clock)
    wire.cpe.trace = pcap.frame
    wire.net.setup(1, "8001", "13800138000", "Alice", called_plan="national",
                   calling_plan="national")
    wire.pump()
    ring = wire.last("cpe", "setup")
    wire.cpe.refuse(ring.call, CAUSE_BUSY)
    wire.pump()
    pcap.close()
    out = subprocess.run(["tshark", "-r", str(pcap.path), "-Y", "q931", "-T", "fields",
                          "-e", "q931.message_type", "-e", "lapd.direction",
                          "-e", "q931.calling_party_number.digits",
                          "-e", "q931.called_party_number.digits", "-e", "q931.cause_value"],
                         capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in out.splitlines()]
    assert rows[0][0] == "0x05" and rows[0][2:4] == ["13800138000", "8001"]   # SETUP
    assert [r[0] for r in rows[1:3]] == ["0x02", "0x45"]        # CALL PROCEEDING, DISCONNECT
    assert rows[2][4] == str(CAUSE_BUSY)
    assert rows[0][1] != rows[1][1]                               # the two directions
