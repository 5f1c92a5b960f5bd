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
    assert cid.number
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
