# SPDX-License-Identifier: GPL-2.0-or-later
"""A full H.100 bus switched for 60 simulated seconds.

4096 timeslots are driven (170 T1 spans = 4080 timeslots, plus 16
off-hook stations) and every device listens to a partner (2048
full-duplex routes).  The figure is how many times faster than real time
one core runs that chassis:

    realtime_factor = simulated seconds / wall-clock seconds

The simulator is single-threaded, so this is a one-core figure.  Route
set-up through the driver is not timed.

What a tick costs: nothing for an idle device.  A timeslot whose far end
is idle and silent (no call, no capture, nothing to send, no wink running)
would only move its clocks on and send the mu-law idle code, so it sleeps:
its slot holds the idle code in both bus images and the tick does not
visit it until something is done to it through the API, which wakes it and
moves its clocks on by the time it slept.  This is the chassis at rest
with every route made: the 4080 timeslots sleep, and each tick visits the
16 off-hook stations, whose far ends are in a call and so decode what they
hear and run their DTMF and call-progress detectors on it; one path
(msiB1C1 -> msiB1C2) carries a tone end to end to prove the audio really
crosses.  A busy chassis pays, for every device in a call, its signalling,
its 80 bytes each way on the bus and that DSP: `python -m bench.dsp`
measures the DSP part.
"""
import json
import os
import sys
import time

from drivers.r4 import R4Driver
from drivers.sim import Simulator

SIMULATED_S = 60


def build():
    sim = Simulator.from_config([{"type": "t1"}] * 170 + [{"type": "stations", "count": 16}])
    driver = R4Driver()
    devices = [i.name for i in driver.inventory() if i.slot is not None]
    assert len(devices) == 4096, len(devices)
    for a, b in zip(devices[0::2], devices[1::2], strict=True):
        driver.listen(a, driver.transmit_slot(b))
        driver.listen(b, driver.transmit_slot(a))
    for i in range(1, 17):
        sim.endpoint(f"msiB1C{i}").offhook()
    return sim, len(devices), len(devices) // 2


def main():
    sim, slots, routes = build()
    # proof that audio really crosses a route: a tone from msiB1C1 reaches msiB1C2
    talker, listener = sim.endpoint("msiB1C1"), sim.endpoint("msiB1C2")
    talker.send_tone_custom(1000, 0, -13, 1000, 0)
    listener.capture()
    start = time.perf_counter()
    sim.advance(SIMULATED_S * 1000)
    wall = time.perf_counter() - start
    heard = listener.read_capture()
    carried = max(abs(x) for x in heard[-800:]) > 1000 if heard else False
    result = {
        "bench": "ctbus",
        "timeslots": slots,
        "routes": routes,
        "simulated_s": SIMULATED_S,
        "wall_s": round(wall, 3),
        "realtime_factor": round(SIMULATED_S / wall, 1),
        "audio_carried": carried,
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0 if carried else 1


if __name__ == "__main__":
    sys.exit(main())
