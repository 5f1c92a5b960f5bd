# SPDX-License-Identifier: GPL-2.0-or-later
"""Hardware-only: the serial and USB devices themselves, with a person at
a telephone.  Each test names its device in an environment variable and
is skipped without it (the only tests that skip: CI has no modem, no SIM
and no box).  docs/operations.md, "Hardware-only tests", is the
checklist; run them one at a time with ``-s`` to see what to do::

    CTI_HW_MODEM=/dev/ttyACM0 .venv/bin/python -m pytest -s -m hardware \\
        tests/test_hardware_devices.py -k voice_modem

They use the production code paths (pyserial under Twisted's SerialPort,
pyusb over libusb) on a clock that follows the wall clock, with the
descriptors served as tests/serialpty.py serves a pty's.
"""
import os
import select
import time

import pytest
from twisted.internet import task

from drivers.gsm import GsmModem, GsmSettings, serial_port
from drivers.interface import Prompt, Termination
from drivers.modem import ModemSettings, VoiceModemDriver, serial_ports
from tests.conformance import tone_ulaw
from tests.serialpty import PtyReactor

pytestmark = pytest.mark.hardware


def device(variable):
    value = os.environ.get(variable)
    if not value:
        pytest.skip(f"hardware-only: set {variable} (docs/operations.md, \"Hardware-only "
                    "tests\")")
    return value


class WallClock:
    """A task.Clock moved by real time, the descriptors served as it goes."""

    def __init__(self):
        self.clock = task.Clock()
        self.clock.advance(time.time())
        self.reactor = PtyReactor(self.clock)

    def until(self, predicate, within_s, what):
        deadline = time.time() + within_s
        while not predicate():
            if time.time() > deadline:
                raise AssertionError(f"{what}: not within {within_s} s")
            readers = [r.fileno() for r in self.reactor.readers]
            select.select(readers, [], [], 0.01)
            self.reactor.pump()
            self.clock.advance(max(0.0, time.time() - self.clock.seconds()))


def say(text):
    print(f"\n>>> {text}", flush=True)


def test_a_voice_modem_rings_gives_caller_id_plays_and_hears_keys():
    port = device("CTI_HW_MODEM")
    init = tuple(os.environ.get("CTI_HW_MODEM_INIT", "AT+IFC=2,2;AT+VCID=1").split(";"))
    settings = ModemSettings(port, compression=os.environ.get("CTI_HW_MODEM_VSM", "4,8000"),
                             init=init)
    wall = WallClock()
    driver = VoiceModemDriver([settings], wall.clock, serial_ports(wall.reactor))
    events = []
    driver.subscribe(events.append)
    line = "mdmB1C1"
    wall.until(lambda: driver.status(line)["ready"], 15, "the modem's set-up")
    driver.enable_events(line, {"ring", "digit", "loop_current"})
    say("Call the modem's line from a phone that shows its number; let it ring twice.")
    wall.until(lambda: sum(e.kind == "ring" for e in events) >= 2, 90, "two rings")
    cid = driver.caller_id(line)
    say(f"Caller ID: {cid}")
    assert cid.number
    driver.set_hook(line, True)
    wall.until(lambda: any(e.kind == "hook_done" for e in events), 10, "off hook")
    say("You should hear a 1 kHz tone for 2 s; then press 5 on the phone.")
    driver.play(line, [Prompt(tone_ulaw(1000, 2_000), "ulaw")])
    wall.until(lambda: any(e.kind == "play_done" for e in events), 10, "the prompt")
    driver.collect_digits(line, Termination(max_digits=1, max_time_ms=20_000))
    wall.until(lambda: any(e.kind == "digits_done" for e in events), 25, "a key")
    assert [e["digits"] for e in events if e.kind == "digits_done"] == ["5"]
    driver.set_hook(line, False)
    wall.until(lambda: sum(e.kind == "hook_done" for e in events) == 2, 10, "on hook")


def test_a_gsm_modem_sends_english_and_chinese_and_hears_their_reports():
    port = device("CTI_HW_GSM")
    number = device("CTI_HW_SMS_TO")
    settings = GsmSettings(port, mode=os.environ.get("CTI_HW_GSM_MODE", "pdu"),
                           pin=os.environ.get("CTI_HW_GSM_PIN") or None)
    wall = WallClock()
    modem = GsmModem(settings, wall.clock)
    serial_port(wall.reactor)(settings, modem)
    results, reports = [], []
    modem.on_report = reports.append
    modem.ready.addBoth(results.append)
    wall.until(lambda: results, 30, "the modem's set-up")
    assert results[0] is None, results[0]
    sent = []
    for text in ("cti hardware test: English, one part.",
                 "cti 硬件测试：中文短信，" + "很长的一条，" * 14 + "完。"):
        modem.send(number, text).addBoth(sent.append)
    wall.until(lambda: len(sent) == 2, 120, "both messages sent")
    assert all(isinstance(r, list) for r in sent), sent
    say(f"Check the phone {number}: one English message, one Chinese in one piece.")
    wall.until(lambda: len(reports) >= sum(len(r) for r in sent), 300, "delivery reports")
    assert {r.outcome for r in reports} == {"delivered"}, reports


def test_a_usb_caller_id_box_reports_a_call_and_prints_its_reports():
    from drivers.usbcid import CallerIdBox

    ids = device("CTI_HW_USB_BOX")
    vendor, product = (int(part, 16) for part in ids.split(":"))
    clock = task.Clock()
    box = CallerIdBox("box", vendor, product, clock)
    events = []
    box.subscribe(events.append)
    say("Call a line the box watches from a phone that shows its number; let it ring "
        "twice, then answer and hang up.")
    deadline = time.time() + 120
    while not any(e.kind == "hook" and not e["offhook"] for e in events):
        assert time.time() < deadline, f"no call within 120 s; events: {events}"
        raw = box.wait_events(100)
        for report in raw:
            print("report", report.hex(), flush=True)   # for tests/fixtures/hid_reports.toml
        box.deliver(raw)
    kinds = [e.kind for e in events]
    assert "ring" in kinds and "caller_id" in kinds, events
