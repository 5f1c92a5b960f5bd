# SPDX-License-Identifier: GPL-2.0-or-later
"""Hardware-only: the DAHDI driver on a real card through /dev/dahdi, with
a person at a telephone.  Each test is marked `hardware` and skipped
unless CTI_HW_DAHDI names the system.conf dahdi_cfg loaded (CI cannot load
the kernel module).  docs/operations.md, "Hardware-only tests", is the
checklist (dahdi_cfg, dahdi_scan, a loop cable or dahdi_maint first);
run them one at a time with ``-s`` to see what to do::

    CTI_HW_DAHDI=/etc/dahdi/system.conf CTI_HW_DAHDI_LINE=dahdiC1 \\
        .venv/bin/python -m pytest -s -m hardware tests/test_hardware_dahdi.py

They use the production device layer (drivers.dahdidev.KernelDevices) on
a clock that follows the wall clock.
"""
import select
import time

import pytest
from twisted.internet import task

from drivers import _dahdi, systemconf
from drivers.dahdi import DahdiDriver
from drivers.dahdidev import CTL_PATH, KernelDevices
from drivers.interface import Prompt, Termination
from tests.conformance import tone_ulaw
from tests.test_hardware_devices import device, say

pytestmark = pytest.mark.hardware
ffi, lib = _dahdi.ffi, _dahdi.lib


class WallDriver:
    """The driver on /dev/dahdi, polled when its descriptor wakes."""

    def __init__(self):
        self.conf = systemconf.read(device("CTI_HW_DAHDI"))
        self.clock = task.Clock()
        self.clock.advance(time.time())
        self.devices = KernelDevices()
        self.driver = DahdiDriver(self.devices, self.conf, clock=self.clock)
        self.events = []
        self.driver.subscribe(self.events.append)

    def until(self, predicate, within_s, what):
        deadline = time.time() + within_s
        while not predicate():
            if time.time() > deadline:
                raise AssertionError(f"{what}: not within {within_s} s")
            if select.select([self.driver.fileno()], [], [], 0.02)[0]:
                self.driver.poll()
            self.clock.advance(max(0.0, time.time() - self.clock.seconds()))


def test_system_conf_matches_what_the_kernel_reports_and_spans_are_up():
    """The driver starts (every channel's signalling is what GET_PARAMS
    says) and every span of system.conf reports no alarm in SPANSTAT."""
    wall = WallDriver()
    assert wall.driver.inventory()
    ctl = wall.devices.open(CTL_PATH)
    try:
        for spanno in sorted(wall.conf.spans):
            info = ffi.new("struct dahdi_spaninfo *")
            info.spanno = spanno
            wall.devices.ioctl(ctl, lib.DAHDI_SPANSTAT, info)
            say(f"span {spanno}: {ffi.string(info.desc).decode()}, alarms {info.alarms:#x}")
            assert info.alarms == lib.DAHDI_ALARM_NONE
    finally:
        wall.devices.close(ctl)


def test_an_fxo_port_rings_gives_caller_id_plays_and_hears_keys():
    line = device("CTI_HW_DAHDI_LINE")
    wall = WallDriver()
    events = wall.events
    wall.driver.enable_events(line, {"ring", "digit", "loop_current"})
    say(f"Call the line on {line} from a phone that shows its number; let it ring twice.")
    wall.until(lambda: sum(e.kind == "ring" for e in events) >= 2, 90, "two rings")
    cid = wall.driver.caller_id(line)
    say(f"Caller ID: {cid}")
    assert cid.number.isdigit(), f"no number in {cid}"       # not "", "P" or "O"
    wall.driver.set_hook(line, True)
    wall.until(lambda: any(e.kind == "hook_done" for e in events), 10, "off hook")
    say("You should hear a 1 kHz tone for 2 s; then press 5 on the phone.")
    wall.driver.play(line, [Prompt(tone_ulaw(1000, 2_000), "ulaw")])
    wall.until(lambda: any(e.kind == "play_done" for e in events), 10, "the prompt")
    wall.driver.collect_digits(line, Termination(max_digits=1, max_time_ms=20_000))
    wall.until(lambda: any(e.kind == "digits_done" for e in events), 25, "a key")
    assert [e["digits"] for e in events if e.kind == "digits_done"] == ["5"]
    say("Hang up the phone.")
    wall.until(lambda: any(e.kind == "loop_current" and not e["on"] for e in events), 30,
               "the far end's hang-up")
    wall.driver.set_hook(line, False)


def test_a_phone_on_an_fxs_port_rings_the_cycles_asked():
    """An FXS port (CTI_HW_DAHDI_PHONE, fxoks in system.conf, a tone zone
    loaded) rings its phone 3 times and says so once; nobody answers."""
    phone = device("CTI_HW_DAHDI_PHONE")
    wall = WallDriver()
    wall.driver.enable_station_events(phone)
    say(f"The phone on {phone} rings 3 times: count them, do not answer.")
    wall.driver.ring_station(phone, 3)
    wall.until(lambda: any(e.kind == "station_ring_done" for e in wall.events), 30,
               "the rings' end")
    assert [e.kind for e in wall.events if e.kind.startswith("station_")] == [
        "station_ring_done"]


def test_an_isdn_b_channel_opens_and_plays_a_prompt():
    """A B-channel of a PRI or CCS span (CTI_HW_DAHDI_BCHANNEL: clear in
    system.conf) opens (AUDIOMODE first) and plays a 2 s prompt to its
    end, the card taking its blocks as they come."""
    bchannel = device("CTI_HW_DAHDI_BCHANNEL")
    wall = WallDriver()
    wall.driver.open(bchannel)
    wall.driver.play(bchannel, [Prompt(tone_ulaw(1000, 2_000), "ulaw")])
    wall.until(lambda: any(e.kind == "play_done" for e in wall.events), 10, "the prompt")
    assert [e["reasons"] for e in wall.events if e.kind == "play_done"] == [{"end_of_data"}]


def test_a_span_looped_by_the_driver_hears_our_tone():
    """span_loopback "local" on CTI_HW_DAHDI_SPAN (dahdiSn) sends the span's
    transmit back to its receive: dial tone (350 + 440 Hz) played on its
    timeslot CTI_HW_DAHDI_TIMESLOT is heard on it as dial tone; the loop
    is taken off after."""
    span, timeslot = device("CTI_HW_DAHDI_SPAN"), device("CTI_HW_DAHDI_TIMESLOT")
    wall = WallDriver()
    wall.driver.span_loopback(span, "local")
    try:
        wall.driver.enable_events(timeslot, {"tone"})
        wall.driver.play_tone(timeslot, 350, 440, -13, duration_ms=3_000)
        wall.until(lambda: any(e.kind == "tone" and e["tone"] == "dial" and e["on"]
                               for e in wall.events), 5, "our dial tone back")
    finally:
        wall.driver.span_loopback(span, "none")
    assert wall.driver.status(span)["loopback"] == "none"
