# SPDX-License-Identifier: GPL-2.0-or-later
"""Trunk signalling, simulated (`python -m bench.lines`): E1 MFC/R2 spans
under load, how much faster than real time; and ISDN call setups per
second through libpri, on one core.

``e1_spans_realtime_factor``: SPANS E1 CAS spans (30 timeslots each) of
China No.1 MFC/R2 traffic in virtual time.  On every timeslot the
simulated telco calls in again and again with cti's own China calling
side (ChinaForward, an 11-digit ANI and a 4-digit DNIS); our side answers
each with OpenR2 (accept, answer), the call is held HOLD_S, the telco
clears forward and OpenR2 releases; the next call comes GAP_S later.
Every trunk is busy all the time with short calls: 480 trunks setting up
7 calls a second, 27,000 an hour, more than a call centre's busy hour
(at 3 minutes a call, 480 trunks fully busy take 9,600 an hour).
Every register signal is a real tone on the timeslot, made and heard by
the simulated boards' R2 MF transceivers (native/src/r2mf.c) at both
ends; bits go through timeslot 16 of each span.  Each 10 ms step advances
the simulator, the clock (a heap of timers, as a reactor keeps them),
takes our board's events and the far ends' (the work a server does per
tick), so::

    e1_spans_realtime_factor = virtual seconds run / wall-clock seconds

`python -m bench.lines [SECONDS [HOLD_S]]`.  It also reports the calls
completed (their ANI and DNIS checked), the
same factor over the process's CPU time (what the figure would be on a
core of its own: the wall clock's counts the other processes of a
shared machine too) and the figure's target.  The process runs on one
core.

``pri_call_setups_per_second``: ISDN call setups from the simulated
telco to the call layer's offer, with libpri on both sides.  An E1 CCS
span and 30 voice resources are simulated in virtual time; the telco's
libpri (cti.server.simulation.isdn.FarSpan) places a SETUP on every idle
B-channel, its frames cross the simulated span's D-channel (64 kbit/s,
HDLC framing) to the driver (drivers.r4, the board events), our side's
libpri (cti.server.lines.pri.PriSpan) and the PriTrunk, which takes a
voice resource, routes it on the CT-Bus, answers CALL PROCEEDING and
offers the call; the listener refuses it at once, and the channel takes
the next call.  The figure is offers per second of wall-clock time:

    pri_call_setups_per_second = PRI_CALLS / wall-clock seconds until the last offer

Target: 100 per second on one core (issue 18, section 7).
"""
import heapq
import itertools
import json
import os
import sys
import time

from twisted.internet import task
from twisted.internet.base import DelayedCall

from bench.drivers import one_core
from ctbus import SwitchingMap
from cti.server.config import PriSettings
from cti.server.lines.channels import VoicePool
from cti.server.lines.pri import PriSpan, PriTrunk, bchannel
from cti.server.lines.r2china import ChinaForward
from cti.server.simulation.isdn import FarSpan
from drivers.r2 import DriverPort, FarPort, R2Channel, R2Context
from drivers.r4 import R4Driver
from drivers.sim import Simulator

SPANS = 16
TIMESLOTS = 30
SECONDS = 180
HOLD_S = 60.0
GAP_S = 4.0
ANI, DNIS, MAX_ANI, MAX_DNIS = "13800138000", "5550", 11, 4
STEP_MS = 10
TARGET = 50.0
#: ISDN: calls placed, the target, the span (an E1 CCS and its voice resources).
PRI_CALLS = 3_000
PRI_TARGET = 100
PRI_SPAN = "dtiB1"
PRI_BOARDS = [{"type": "e1", "signalling": "ccs"}, {"type": "voice", "channels": 30}]


class HeapClock:
    """Virtual time as a reactor keeps it, its timers in a heap: task.Clock
    sorts every timer on each callLater, which with a thousand timers (two
    per timeslot) would be what this measures."""

    def __init__(self):
        self.now = 0.0
        self._heap = []
        self._order = itertools.count()

    def seconds(self):
        return self.now

    def callLater(self, delay, function, *args, **kw):
        call = DelayedCall(self.now + delay, function, args, kw, lambda c: None, self._push,
                           self.seconds)
        self._push(call)
        return call

    def _push(self, call):
        heapq.heappush(self._heap, (call.time, next(self._order), call))

    def advance(self, seconds):
        self.now += seconds
        while self._heap and self._heap[0][0] <= self.now:
            at, _, call = heapq.heappop(self._heap)
            if call.cancelled or call.called or at != call.time:
                continue                       # cancelled, or reset to another time
            if call.delayed_time:
                call.activate_delay()
                self._push(call)
                continue
            call.called = 1
            call.func(*call.args, **call.kw)


class Line:
    """One timeslot: the telco's calling side, our OpenR2."""

    def __init__(self, bench, device, context, number):
        self.bench, self.device = bench, device
        self.ours = R2Channel(context, DriverPort(bench.driver, device), bench.clock,
                              self._ours, number)
        self.far = ChinaForward(FarPort(bench.sim.endpoint(device)), bench.clock, self._far,
                                MAX_ANI, MAX_DNIS)

    def call(self):
        self.far.make_call(ANI, DNIS, "national_subscriber")

    def _ours(self, event):
        if event.kind == "offered":
            self.bench.offered += event.ani == ANI and event.dnis == DNIS
            self.ours.accept("charge")
        elif event.kind == "accepted":
            self.ours.answer()
        elif event.kind == "disconnect":
            self.ours.disconnect("normal")

    def _far(self, event):
        clock = self.bench.clock
        if event.kind == "answered":
            self.bench.answered += 1
            clock.callLater(self.bench.hold_s, self.far.disconnect)
        elif event.kind in ("end", "error"):
            self.bench.errors += event.kind == "error"
            clock.callLater(GAP_S, self.call)


class Bench:
    def __init__(self, spans=SPANS, hold_s=HOLD_S):
        self.hold_s = hold_s
        self.sim = Simulator.from_config([{"type": "e1", "signalling": "cas", "tones": "cn"}
                                          for _ in range(spans)])
        self.clock = HeapClock()
        self.driver = R4Driver(clock=self.clock)
        self.driver.inventory()                  # (which spans are E1s: their C and D bits)
        self.offered = self.answered = self.errors = 0
        context = R2Context("cn", max_ani=MAX_ANI, max_dnis=MAX_DNIS)
        self.lines = {}
        for s in range(1, spans + 1):
            for t in range(1, TIMESLOTS + 1):
                device = f"dtiB{s}T{t}"
                self.driver.open(device)
                self.driver.enable_signalling_events(device)
                self.sim.watch_far_end(device)
                self.lines[device] = Line(self, device, context, t)
        self.driver.subscribe(self._event)
        cycle = hold_s + GAP_S                    # the calls spread evenly over one cycle
        for k, line in enumerate(self.lines.values()):
            self.clock.callLater(k * cycle / len(self.lines), line.call)

    def _event(self, event):
        line = self.lines.get(event.device)
        if line is None:
            return
        if event.kind == "signalling":
            line.ours.bits("".join(str(event.data[x]) for x in "abcd"))
        elif event.kind == "r2_mf":
            line.ours.mf(event.data["signal"])

    def run(self, seconds):
        for _ in range(round(seconds * 1000 / STEP_MS)):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000)
            self.driver.poll()
            for heard in self.sim.far_events():
                far = self.lines[heard.device].far
                if heard.kind == "bits":
                    far.bits(heard.value)
                else:
                    far.mf(heard.value)


def e1_spans_realtime_factor(seconds=SECONDS, spans=SPANS, hold_s=HOLD_S):
    """(virtual seconds / wall seconds, the same per CPU second, calls
    answered, calls offered with the right numbers, protocol errors) of
    `spans` spans of R2 traffic, calls held `hold_s`."""
    bench = Bench(spans, hold_s)
    started, cpu = time.perf_counter(), time.process_time()
    bench.run(seconds)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
    return seconds / wall, seconds / cpu, bench.answered, bench.offered, bench.errors


class Refuser:
    """The call layer's place: counts each offer and refuses the call."""

    def __init__(self):
        self.offered = 0

    def trunk_offered(self, trunk, ani, dnis, presentation="allowed"):
        self.offered += 1
        trunk.release("no route for the call")

    def trunk_released(self, trunk, reason):
        trunk.release(reason)


def pri_call_setups_per_second(calls=PRI_CALLS):
    """Offers per wall-clock second (the module's docstring), and what it took."""
    sim = Simulator.from_config(PRI_BOARDS)
    clock = task.Clock()
    driver = R4Driver(clock=clock)
    inventory = driver.inventory()
    poll = (lambda: driver.deliver(driver.wait_events(0))) if driver.fileno() is None \
        else driver.poll
    settings = PriSettings(PRI_SPAN, switchtype="euroisdn_e1")
    ours = PriSpan(f"{PRI_SPAN}D", PRI_SPAN, settings, driver, clock, e1=True)
    pool = VoicePool([i.name for i in inventory if i.kind == "voice"])
    bus, listener = SwitchingMap(driver), Refuser()
    devices = [i.name for i in inventory if i.kind == "timeslot"]
    for device in devices:
        ours.add(PriTrunk(device, driver, clock, listener, pool, bus, ours,
                          bchannel(device, True)))
    driver.subscribe(ours.handle)
    telco = FarSpan(sim, PRI_SPAN, settings, True, clock)

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
    argv = sys.argv[1:] if argv is None else argv
    seconds = float(argv[0]) if argv else SECONDS
    hold_s = float(argv[1]) if len(argv) > 1 else HOLD_S
    pinned = one_core()
    factor, cpu_factor, answered, offered, errors = e1_spans_realtime_factor(
        seconds, hold_s=hold_s)
    pri = pri_call_setups_per_second()
    print(f"{SPANS} E1 spans of China MFC/R2 calls held {hold_s:.0f} s, {seconds:.0f} s of "
          "virtual time: "
          f"{factor:.1f}x real time ({answered} calls answered, {errors} protocol errors)",
          file=sys.stderr)
    print(json.dumps({
        "e1_spans_realtime_factor": round(factor, 1),
        "e1_spans_realtime_factor_cpu": round(cpu_factor, 1),
        "e1_spans": SPANS,
        "e1_hold_s": hold_s,
        "e1_virtual_seconds": seconds,
        "e1_calls_answered": answered,
        "e1_calls_offered_with_their_numbers": offered,
        "e1_protocol_errors": errors,
        "e1_spans_realtime_factor_target": TARGET,
        "pri_call_setups_per_second": pri["pri_call_setups_per_second"],
        "pri": pri,
        "pri_call_setups_per_second_target": PRI_TARGET,
        "one_core": pinned,
        "cores": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
