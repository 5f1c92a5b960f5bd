# SPDX-License-Identifier: GPL-2.0-or-later
"""The boards and the voice modems as one driver (drivers.combined): the
conformance suites of each through it (the R4 driver's on the
simulator's boards, the modems' voice and analog-line suites on the
simulated modems), each call going to the driver that owns its device and
the events of both reaching one subscriber."""
import pytest

from drivers import errors
from drivers.combined import CombinedDriver
from drivers.interface import Prompt
from tests.conformance import (
    AnalogLineConformance,
    BertConformance,
    Chassis,
    SpanMaintenanceConformance,
    VoiceConformance,
)
from tests.rig import Rig
from tests.test_conformance import BOARDS, E1_BOARDS, R4Suites
from tests.test_voice_modem import LINE, LINE2, ModemFarLine, Modems


class Both:
    """The simulator's boards under R4, two simulated modems, the combined
    driver over them, and one run that moves them all."""

    def __init__(self):
        self.rig = Rig(BOARDS + E1_BOARDS)
        self.modems = Modems()
        self.driver = CombinedDriver(self.rig.driver, self.modems.driver)
        self.events = []
        self.driver.subscribe(self.events.append)

    def run(self, ms):
        self.rig.run(ms)
        self.modems.run(ms)

    def board_only(self, ms):
        self.rig.sim.advance(ms)


class TestBoardsThroughTheCombinedDriver(R4Suites, SpanMaintenanceConformance,
                                         BertConformance):
    """The boards' devices: everything the R4 driver does, as it does it."""

    @pytest.fixture
    def chassis(self):
        both = Both()
        return Chassis(driver=both.driver, run=both.run, voice="dxxxB1C1", voice2="dxxxB1C2",
                       station="msiB1C1", timeslot="dtiB1T1", dsp="dcbB1D1",
                       events=both.events, advance_board_only=both.board_only,
                       e1_timeslot="dtiB2T1", dchannel="dtiB3D",
                       clocks=(both.rig.clock, both.modems.clock))


def modem_chassis(both):
    return Chassis(driver=both.driver, run=both.run, voice=LINE, voice2=LINE2,
                   events=both.events, advance_board_only=both.modems.run, line=LINE,
                   far=ModemFarLine(both.modems.sims[0]))


class TestModemsThroughTheCombinedDriver(VoiceConformance):
    """The modems' devices, off hook: voice channels."""

    @pytest.fixture
    def chassis(self):
        both = Both()
        for name in (LINE, LINE2):
            both.driver.set_hook(name, True)
        both.run(100)
        both.events.clear()
        return modem_chassis(both)


class TestAModemLineThroughTheCombinedDriver(AnalogLineConformance):
    @pytest.fixture
    def chassis(self):
        return modem_chassis(Both())


def test_each_device_goes_to_its_own_driver_and_the_inventory_holds_both():
    both = Both()
    d = both.driver
    names = [i.name for i in d.inventory()]
    assert "dxxxB1C1" in names and names[-3:] == ["mdmB2", LINE2, LINE2 + "/line"]
    assert d.family == "r4+modem" and d.event_source == both.rig.driver.event_source
    assert d.transmit_slot("dxxxB1C1") == both.rig.driver.transmit_slot("dxxxB1C1")
    with pytest.raises(errors.DriverNotSupported, match="no CT-Bus") as caught:
        d.transmit_slot(LINE)
    assert caught.value.device == LINE
    with pytest.raises(errors.NoSuchDevice, match="dxxxB99C1"):
        d.play("dxxxB99C1", [Prompt(b"\xff" * 80, "ulaw")])


def test_the_events_of_both_reach_one_subscriber():
    both = Both()
    both.driver.set_hook(LINE, True)
    both.driver.play("dxxxB1C1", [Prompt(b"\xff" * 800, "ulaw")])
    both.run(500)
    assert {(e.device, e.kind) for e in both.events} >= {(LINE, "hook_done"),
                                                          ("dxxxB1C1", "play_done")}
