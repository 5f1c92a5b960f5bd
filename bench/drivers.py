# SPDX-License-Identifier: GPL-2.0-or-later
"""Board events through the R4 and DAHDI drivers into the reactor, on one core.

Three paths, each measured on the real reactor with the process pinned to
one core (so the event thread and the reactor share it, as they would on a
busy machine):

- ``r4_event_thread``: the vendor's way, through the vendor-only binding:
  one thread blocked in sr_waitevtEx takes the events (copying each) and
  hands them over with callFromThread; the driver translates them on the
  reactor's thread and tells its subscriber (drivers.pump.EventThread);
- ``r4_descriptor_pump``: the simulator's way, through the full binding:
  the reactor watches the event descriptor and drains the library with
  sr_waitevt (drivers.pump.EventPump).

The library's queue is filled first with EVENTS ring events (sr_putevt,
spread over the voice channels), so the figure is what the path itself
carries, from the library's queue to a subscriber:

    events_per_second = EVENTS / wall-clock seconds until the last arrived

- ``dahdi_device_layer``: the DAHDI driver's way, on the simulator's DAHDI
  personality: the reactor watches the driver's descriptor and the driver
  drains each channel through its device layer as it would /dev/dahdi
  (read fails with ELAST, DAHDI_GETEVENT takes the event, read again), then
  translates each RINGOFFHOOK into a ring for its subscriber.  A channel
  queues at most 63 events (DAHDI_MAX_EVENTSIZE less one), as the kernel's does, so
  the personality's queues are filled in rounds, each filled before the
  clock runs and drained by the reactor while it runs:

    events_per_second = EVENTS / the seconds the reactor spent draining
"""
import json
import os
import sys
import time

from twisted.internet import defer

from drivers import _dahdi, systemconf
from drivers.dahdi import DahdiDriver
from drivers.dahdidev import SimulatedDevices
from drivers.pump import EventPump, EventThread
from drivers.r4 import R4Driver, binding
from drivers.sim import Simulator

EVENTS = 200_000
BOARDS = [{"type": "voice", "channels": 16}]
TARGET = 50_000
PATHS = {"r4_event_thread": ("vendor", EventThread), "r4_descriptor_pump": ("full", EventPump)}
#: The DAHDI path's chassis: FXO ports, fxsks in system.conf.
DAHDI_LINES = 16
DAHDI_PATH = "dahdi_device_layer"


def one_core():
    """Pin the process to one core (the one it runs on); False if it cannot."""
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    except (AttributeError, OSError):
        return False
    return True


def fill(driver, events):
    """Put `events` ring events into the library's queue, as boards would."""
    b = binding("vendor")
    lib, ffi = b.lib, b.ffi
    names = [i.name for i in driver.inventory() if i.kind == "voice"]
    handles = [next(h for h in range(1, 4096) if ffi.string(lib.ATDV_NAMEP(h)) == n.encode())
               for n in names]
    cst = ffi.new("DX_CST *")
    cst.cst_event = lib.DE_RINGS
    size = ffi.sizeof("DX_CST")
    for n in range(events):
        cst.cst_data = n & 0xFFFF
        if lib.sr_putevt(handles[n % len(handles)], lib.TDX_CST, size, cst, 0) != 0:
            raise RuntimeError("sr_putevt failed")


@defer.inlineCallbacks
def measure(reactor, path, events):
    which, service_class = PATHS[path]
    Simulator.from_config(BOARDS)
    driver = R4Driver(clock=reactor, binding=binding(which))
    driver.inventory()
    fill(driver, events)
    done, seen = defer.Deferred(), [0]

    def count(event):
        seen[0] += 1
        if seen[0] == events:
            done.callback(None)

    driver.subscribe(count)
    service = service_class(driver, reactor)
    wall, cpu = time.perf_counter(), time.process_time()
    service.startService()
    yield done
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    service.stopService()
    return {"events_per_second": round(events / wall), "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 3)}


def fill_dahdi(channels, wanted):
    """Queue up to `wanted` RINGOFFHOOK events over the channels (each holds
    63, as the kernel's): how many were queued."""
    queued = 0
    for _ in range(_dahdi.lib.DAHDI_MAX_EVENTSIZE - 1):
        for channo in channels:
            if queued == wanted:
                return queued
            if _dahdi.lib.cti_dahdisim_queue_event(channo, _dahdi.lib.DAHDI_EVENT_RINGOFFHOOK):
                raise RuntimeError(f"cannot queue an event on DAHDI channel {channo}")
            queued += 1
    return queued


@defer.inlineCallbacks
def measure_dahdi(reactor, events):
    Simulator.from_config([{"type": "analog", "lines": DAHDI_LINES}])
    conf = systemconf.parse(f"fxsks=1-{DAHDI_LINES}\n", "bench system.conf")
    driver = DahdiDriver(SimulatedDevices(), conf, clock=reactor)
    channels = list(range(1, DAHDI_LINES + 1))
    for info in driver.inventory():
        if info.kind == "voice":
            driver.enable_events(info.name, {"ring"})
    seen, wall = [0], [0.0]
    driver.subscribe(lambda event: seen.__setitem__(0, seen[0] + 1))

    class Reader:
        def fileno(self):
            return driver.fileno()

        def doRead(self):
            driver.poll()

        def logPrefix(self):
            return "dahdi"

        def connectionLost(self, reason):
            pass

    reader = Reader()
    reactor.addReader(reader)
    cpu = time.process_time()
    while seen[0] < events:
        target = seen[0] + fill_dahdi(channels, events - seen[0])
        start = time.perf_counter()
        while seen[0] < target:
            d = defer.Deferred()
            reactor.callLater(0, d.callback, None)
            yield d
        wall[0] += time.perf_counter() - start
    cpu = time.process_time() - cpu
    reactor.removeReader(reader)
    return {"events_per_second": round(events / wall[0]), "wall_s": round(wall[0], 3),
            "cpu_s": round(cpu, 3)}


@defer.inlineCallbacks
def run(reactor, events):
    results = {}
    for path in PATHS:
        results[path] = yield measure(reactor, path, events)
    results[DAHDI_PATH] = yield measure_dahdi(reactor, events)
    return results


def main(argv=None):
    events = int(argv[0]) if argv else EVENTS
    pinned = one_core()
    from twisted.internet import reactor

    results = {}

    def start():
        d = run(reactor, events)
        d.addCallback(results.update)
        d.addErrback(lambda failure: failure.printTraceback(sys.stderr))
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run()
    if not results:
        return 1
    print(json.dumps({
        "bench": "drivers",
        "events": events,
        "events_per_second": {path: r["events_per_second"] for path, r in results.items()},
        "paths": results,
        "target_events_per_second": TARGET,
        "one_core": pinned,
        "cores": os.cpu_count(),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
