# SPDX-License-Identifier: GPL-2.0-or-later
"""A full H.100 bus switched for 60 simulated seconds.

4096 timeslots are driven (170 T1 spans = 4080 timeslots, plus 16
off-hook stations), every device listens to a partner (2048 full-duplex
routes), and the simulator moves 80 G.711 samples per slot per 10 ms
tick through the two bus images.  The figure is how many times faster
than real time one core does that:

    realtime_factor = simulated seconds / wall-clock seconds

The simulator is single-threaded, so this is a one-core figure.  Route
set-up through the driver is not timed.

What a tick costs per device: its signalling (robbed bits, timers, alarms)
and its 80 bytes on the bus.  A far end that is idle and silent neither
decodes what it is sent nor encodes silence (its slot carries the mu-law
idle code), so this is the chassis at rest with every route made; one
path (msiB1C1 -> msiB1C2) carries a tone end to end to prove the audio
really crosses.  A far end that talks or listens pays its DSP on top:
`python -m bench.dsp` measures that part.
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
