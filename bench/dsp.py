# SPDX-License-Identifier: GPL-2.0-or-later
"""How many channels of DTMF plus call-progress detection one core keeps up with.

N voice channels each listen to a T1 timeslot whose far end sends real
signals: half of them a stream of DTMF digits, half a busy tone then
ringback, so both detectors work on live audio (no silent fast path).
Each channel has tone events enabled, so the call-progress detector runs
on every tick beside the DTMF receiver.  The simulation runs SIMULATED_S
seconds; the figure includes the bus and G.711 work of those channels:

    channels_realtime_per_core = N * simulated seconds / wall seconds

It also counts the DTMF receiver's talk-off on bench.talkoff's 30 minutes
of synthetic speech (English and Mandarin voices at -10 to -25 dBm0,
through mu-law; made by espeak-ng and sox on first use, then cached), with
keys A-D off as the boards have them by default:

    talkoff_false_digits_per_30min = false digits * 30 / minutes of speech
"""
import json
import os
import sys
import time

from bench import talkoff
from drivers.r4 import R4Driver
from drivers.sim import Simulator

SPANS = 20
SIMULATED_S = 10


def talkoff_per_30min():
    found = talkoff.measure(abcd=False)
    return round(sum(len(f) for f in found.values()) * 30 / talkoff.MINUTES, 1)


def main():
    channels = SPANS * 24
    boards = [{"type": "t1"}] * SPANS + [{"type": "voice", "channels": channels}]
    sim = Simulator.from_config(boards)
    driver = R4Driver()
    inventory = driver.inventory()
    voices = [i.name for i in inventory if i.kind == "voice"]
    slots = [i.name for i in inventory if i.kind == "timeslot"]
    for i, (voice, ts) in enumerate(zip(voices, slots, strict=True)):
        driver.listen(voice, driver.transmit_slot(ts))
        driver.enable_events(voice, {"tone", "digit"})
        far = sim.endpoint(ts)
        if i % 2:
            far.send_digits("0123456789*#" * 20, on_ms=60, off_ms=60)
        else:
            far.send_tone("busy")
    start = time.perf_counter()
    sim.advance(SIMULATED_S * 1000)
    wall = time.perf_counter() - start
    events = driver.poll()
    digits = sum(1 for e in events if e.kind == "digit")
    tones = sum(1 for e in events if e.kind == "tone" and e["on"])
    result = {
        "bench": "dsp",
        "channels": channels,
        "simulated_s": SIMULATED_S,
        "wall_s": round(wall, 3),
        "channels_realtime_per_core": int(channels * SIMULATED_S / wall),
        "digits_detected": digits,
        "tones_detected": tones,
        "talkoff_false_digits_per_30min": talkoff_per_30min(),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
