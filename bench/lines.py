# SPDX-License-Identifier: GPL-2.0-or-later
"""Trunk signalling through the driver, on one core (`python -m bench.lines`).

``pri_call_setups_per_second``: ISDN call setups from the simulated
telco to the call layer's offer, with libpri on both sides.  An E1 CCS
span and 30 voice resources are simulated in virtual time; the telco's
libpri (cti.server.simulation.isdn.FarSpan) places a SETUP on every idle
B-channel, its frames cross the simulated span's D-channel (64 kbit/s,
HDLC framing) to the driver (drivers.r4, the board events), our side's
libpri (cti.server.lines.pri.PriSpan) and the PriTrunk, which takes a
voice resource, routes it on the CT-Bus, answers CALL PROCEEDING and
offers the call; the listener refuses it at once (DISCONNECT, RELEASE,
RELEASE COMPLETE), and the channel takes the next call.  The figure is
offers per second of wall-clock time on one core:

    pri_call_setups_per_second = CALLS / wall-clock seconds until the last offer

Virtual time moves in 10 ms steps, as tests.centre moves it; the wall
time includes the simulator's work for those steps.  Target: 100 per
second on one core (issue 18, section 7).
"""
import json
import os
import sys
import time

from twisted.internet import task

from ctbus import SwitchingMap
from cti.server.config import PriSettings
from cti.server.lines.channels import VoicePool
from cti.server.lines.pri import PriSpan, PriTrunk, bchannel
from cti.server.simulation.isdn import FarSpan
from drivers.r4 import R4Driver
from drivers.sim import Simulator

CALLS = 3_000
TARGET = 100
STEP_MS = 10
SPAN = "dtiB1"
BOARDS = [{"type": "e1", "signalling": "ccs"}, {"type": "voice", "channels": 30}]


def one_core():
    """Pin the process to one core (the one it runs on); False if it cannot."""
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        return False
    return True


class Refuser:
    """The call layer's place: counts each offer and refuses the call."""

    def __init__(self):
        self.offered = 0

    def trunk_offered(self, trunk, ani, dnis):
        self.offered += 1
        trunk.release("no route for the call")

    def trunk_released(self, trunk, reason):
        trunk.release(reason)


def pri_call_setups_per_second(calls=CALLS):
    """Offers per wall-clock second (the module's docstring), and what it took."""
    sim = Simulator.from_config(BOARDS)
    clock = task.Clock()
    driver = R4Driver(clock=clock)
    inventory = driver.inventory()
    poll = (lambda: driver.deliver(driver.wait_events(0))) if driver.fileno() is None \
        else driver.poll
    settings = PriSettings(SPAN, switchtype="euroisdn_e1")
    ours = PriSpan(f"{SPAN}D", SPAN, settings, driver, clock, e1=True)
    pool = VoicePool([i.name for i in inventory if i.kind == "voice"])
    bus, listener = SwitchingMap(driver), Refuser()
    devices = [i.name for i in inventory if i.kind == "timeslot"]
    for device in devices:
        ours.add(PriTrunk(device, driver, clock, listener, pool, bus, ours,
                          bchannel(device, True)))
    driver.subscribe(ours.handle)
    telco = FarSpan(sim, SPAN, settings, True, clock)

    def step():
        sim.advance(STEP_MS)
        clock.advance(STEP_MS / 1000)
        poll()
        telco.poll()

    while ours.state != "up":
        step()
    placed, wall, cpu = 0, time.perf_counter(), time.process_time()
    while listener.offered < calls:
        for device in devices:
            if placed < calls and telco.state(device) == "idle" \
                    and ours.trunks[bchannel(device, True)].state == "idle":
                telco.call(device, "13800138000", "5550199")
                placed += 1
        step()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    return {"pri_call_setups_per_second": round(calls / wall), "calls": calls,
            "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "virtual_s": round(clock.seconds(), 2)}


def main(argv=None):
    calls = int(argv[0]) if argv else CALLS
    pinned = one_core()
    pri = pri_call_setups_per_second(calls)
    print(json.dumps({
        "bench": "lines",
        "pri_call_setups_per_second": pri["pri_call_setups_per_second"],
        "pri": pri,
        "target_pri_call_setups_per_second": TARGET,
        "one_core": pinned,
        "cores": os.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
