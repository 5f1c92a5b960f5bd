# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""A short tour of the simulated boards, narrated.

A caller rings an analog line; the caller ID is read after the second
ring; the line is answered; a prompt plays and the caller barges in with
digits, which are collected; an agent's phone rings and is answered; the
caller's line is bridged to the phone on the CT-Bus and audio is checked
both ways; the caller hangs up and the line is released.

`run_scenario` takes the driver, the simulator and a clock, so the same
scenario runs on the wall clock (`cti demo`) and in virtual time (tests).
"""
import math
from array import array

from twisted.internet import defer

from ctbus import SwitchingMap
from drivers.interface import Prompt, Termination
from simulators.events import EventWaiter, sleep

BOARDS = [
    {"type": "analog", "lines": 4},
    {"type": "stations", "count": 4},
    {"type": "conference", "dsps": 1},
]

CHANNEL = "dxxxB1C1"
STATION = "msiB1C1"


def beep_prompt():
    """A mu-law WAV in memory: three rising beeps, 1.5 s."""
    samples = array("h")
    for freq in (660, 880, 1100):
        samples.extend(int(6000 * math.sin(2 * math.pi * freq * i / 8000)) for i in range(2400))
        samples.extend([0] * 1600)
    from drivers.sim import linear2ulaw

    data = bytes(linear2ulaw(s) for s in samples)
    fmt = (b"fmt " + (18).to_bytes(4, "little") + (7).to_bytes(2, "little") +
           (1).to_bytes(2, "little") + (8000).to_bytes(4, "little") +
           (8000).to_bytes(4, "little") + (1).to_bytes(2, "little") +
           (8).to_bytes(2, "little") + (0).to_bytes(2, "little"))
    body = b"WAVE" + fmt + b"data" + len(data).to_bytes(4, "little") + data
    return b"RIFF" + len(body).to_bytes(4, "little") + body


def dominant(samples, candidates):
    """Which candidate frequency is strongest in the samples."""
    def power(freq):
        c = 2 * math.cos(2 * math.pi * freq / 8000)
        s1 = s2 = 0.0
        for x in samples:
            s1, s2 = x + c * s1 - s2, s1
        return s1 * s1 + s2 * s2 - c * s1 * s2
    return max(candidates, key=power) if samples else None


@defer.inlineCallbacks
def run_scenario(driver, sim, clock, say):
    """Play the scenario; returns a dict of what was observed."""
    events = EventWaiter(driver, clock)
    seen = {}
    caller = sim.endpoint(CHANNEL)
    driver.enable_events(CHANNEL, {"ring", "loop_current", "digit"})

    caller.call(ani="2125551234", name="J SMITH")
    say(f"a caller rings {CHANNEL}")
    yield events.wait("ring", CHANNEL, where=lambda e: e["count"] >= 2, timeout=15)
    cid = driver.caller_id(CHANNEL)
    seen["caller_id"] = (cid.number, cid.name)
    say(f"caller ID after the second ring: {cid.number} {cid.name!r} ({cid.frame}DMF)")

    driver.set_hook(CHANNEL, True)
    yield events.wait("hook_done", CHANNEL)
    say("line answered (off-hook)")

    driver.play(CHANNEL, [Prompt(beep_prompt())], Termination(max_digits=1))
    clock.callLater(0.8, caller.send_digits, "42#")
    done = yield events.wait("play_done", CHANNEL, timeout=10)
    seen["prompt"] = sorted(done["reasons"])
    say(f"prompt ended by {', '.join(sorted(done['reasons']))} (the caller barged in)")

    driver.collect_digits(CHANNEL, Termination(max_digits=8, terminators="#",
                                               inter_digit_ms=3000, max_time_ms=10000))
    done = yield events.wait("digits_done", CHANNEL, timeout=15)
    seen["digits"] = done["digits"]
    say(f"digits collected: {done['digits']!r} (ended by {', '.join(sorted(done['reasons']))})")

    agent = sim.endpoint(STATION)
    driver.enable_station_events(STATION)
    driver.ring_station(STATION, 5)
    say(f"agent phone {STATION} rings")
    clock.callLater(2.5, agent.offhook)
    yield events.wait("station_answered", STATION, timeout=40)
    say("the agent picked up")

    bus = SwitchingMap(driver)
    bus.release(CHANNEL)                       # the line leaves its voice channel
    route = bus.route(CHANNEL + "/line", STATION)
    say(f"bridged on the CT-Bus: {route.describe()}")
    caller.capture()
    agent.capture()
    caller.send_tone_custom(1000, 0, -13, 1000, 0)
    agent.send_tone_custom(600, 0, -13, 1000, 0)
    yield sleep(clock, 1.2)
    heard_by_agent = dominant(agent.read_capture(), (600, 1000))
    heard_by_caller = dominant(caller.read_capture(), (600, 1000))
    seen["audio"] = (heard_by_agent, heard_by_caller)
    say(f"the agent hears {heard_by_agent} Hz from the caller, "
        f"the caller hears {heard_by_caller} Hz from the agent")

    caller.hangup("loop_current_drop")
    off = yield events.wait("loop_current", CHANNEL, where=lambda e: not e["on"], timeout=5)
    say(f"caller hung up: loop current dropped after {off['ms']} ms of call")
    bus.release(CHANNEL + "/line")
    driver.set_hook(CHANNEL, False)
    yield events.wait("hook_done", CHANNEL)
    agent.onhook()
    say("line released, agent on-hook")
    return seen


def main(seconds_scale=1.0):
    """Run the tour on the wall clock with the real reactor."""
    from twisted.internet import reactor

    from drivers.pump import board_events
    from drivers.r4 import R4Driver
    from drivers.sim import Simulator

    sim = Simulator.from_config(BOARDS, virtual_time=False)
    driver = R4Driver(reactor)
    driver.inventory()
    pump = board_events(driver, reactor)
    start = reactor.seconds()
    result = {}

    def say(text):
        print(f"[{reactor.seconds() - start:6.2f}s] {text}", flush=True)

    def finished(outcome):
        result["outcome"] = outcome
        pump.stopService()
        sim.run_clock(False)
        reactor.stop()

    def begin():
        sim.run_clock(True)
        pump.startService()
        run_scenario(driver, sim, reactor, say).addBoth(finished)

    reactor.callWhenRunning(begin)
    reactor.run()
    outcome = result.get("outcome")
    if isinstance(outcome, dict):
        print("demo complete: every step behaved as expected"
              if outcome["audio"] == (1000, 600) and outcome["digits"] == "42#"
              else f"demo finished with surprises: {outcome}")
        return 0 if outcome["audio"] == (1000, 600) else 1
    print(f"demo failed: {outcome.getErrorMessage() if outcome is not None else 'no result'}")
    return 1
