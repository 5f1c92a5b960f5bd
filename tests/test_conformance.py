# SPDX-License-Identifier: GPL-2.0-or-later
"""The R4 driver over the simulator passes the driver conformance suite
through both bindings (span maintenance through the full one, refused
whole through the vendor-only one; E1 spans through both), and on an
analog line; the skeleton driver refuses every call with its contract."""
from array import array

import pytest
from zope.interface.verify import verifyObject

from drivers.errors import DriverNotSupported
from drivers.interface import IBoardDriver
from drivers.skeleton import SkeletonDriver
from tests.conformance import (
    AnalogLineConformance,
    BertConformance,
    BusConformance,
    Chassis,
    ConferenceConformance,
    DriverConformance,
    E1Conformance,
    SilenceLevelConformance,
    SpanMaintenanceConformance,
    StationConformance,
    TrunkConformance,
    VoiceConformance,
)
from tests.rig import Rig, hears, tone

BOARDS = [
    {"type": "voice", "channels": 4},
    {"type": "t1", "signalling": "em_wink"},
    {"type": "stations", "count": 2},
    {"type": "conference", "dsps": 1},
]


#: For the vendor-only binding: a second voice board plays the phones' tones.
TONE_BOARD = {"type": "voice", "channels": 4}
TONE_CHANNELS = {"dial": "dxxxB2C1", "ringback": "dxxxB2C2", "busy": "dxxxB2C3",
                 "reorder": "dxxxB2C4"}
#: An E1 CAS span (dtiB2) and an E1 CCS span with its D-channel (dtiB3D).
E1_BOARDS = [{"type": "e1", "signalling": "cas"}, {"type": "e1", "signalling": "ccs"}]


def chassis_of(rig):
    return Chassis(driver=rig.driver, run=rig.run, voice="dxxxB1C1", voice2="dxxxB1C2",
                   station="msiB1C1", timeslot="dtiB1T1", dsp="dcbB1D1",
                   events=rig.events, advance_board_only=rig.sim.advance,
                   e1_timeslot="dtiB2T1", dchannel="dtiB3D", clocks=(rig.clock,))


class R4Suites(DriverConformance, VoiceConformance, BusConformance, TrunkConformance,
               StationConformance, ConferenceConformance, E1Conformance,
               SilenceLevelConformance):
    """What the R4 driver provides through either binding."""


class TestR4DriverOverTheFullBinding(R4Suites, SpanMaintenanceConformance, BertConformance):
    """The simulator's additions, span maintenance among them."""

    @pytest.fixture
    def chassis(self):
        return chassis_of(Rig(BOARDS + E1_BOARDS))


class TestR4DriverOverTheVendorOnlyBinding(R4Suites):
    """The vendor's calls alone: the proof that the driver needs nothing
    of ours to keep the contract (span maintenance refused whole)."""

    @pytest.fixture
    def chassis(self):
        return chassis_of(Rig(BOARDS + [TONE_BOARD] + E1_BOARDS, binding="vendor",
                              tone_channels=TONE_CHANNELS))


class SimulatedFarLine:
    """tests.conformance.FarLine over the simulator's far end of a line."""

    def __init__(self, rig, line):
        self.far = rig.sim.endpoint(line)
        self.captured = array("h")

    def call(self, number, name):
        self.far.call(ani=number, name=name)

    def abandon(self):
        self.far.abandon()

    def press(self, keys):
        self.far.send_digits(keys)

    def say_tone(self, freq, ms):
        self.far.send_audio(tone(freq, ms))

    def hang_up(self):
        self.far.hangup("loop_current_drop")

    def listen(self):
        self.far.capture(True)
        self.captured = array("h")

    def hears(self, freq):
        self.captured += self.far.read_capture()
        return hears(self.captured, freq)

    def answer_calls_out(self):
        self.far.set_outbound("answer")

    def dialled(self):
        return self.far.dialled()


class TestR4AnalogLine(AnalogLineConformance):
    """An analog board's loop-start line."""

    @pytest.fixture
    def chassis(self):
        rig = Rig([{"type": "analog", "lines": 2}])
        return Chassis(driver=rig.driver, run=rig.run, voice="dxxxB1C1", voice2="dxxxB1C2",
                       events=rig.events, line="dxxxB1C1",
                       far=SimulatedFarLine(rig, "dxxxB1C1"))


def test_the_vendor_only_binding_refuses_span_maintenance_naming_the_call():
    rig = Rig(BOARDS + [TONE_BOARD], binding="vendor", tone_channels=TONE_CHANNELS)
    with pytest.raises(DriverNotSupported, match="dt_getcounters"):
        rig.driver.span_counters("dtiB1")


def test_skeleton_declares_the_interface_and_refuses_every_call():
    driver = SkeletonDriver()
    assert verifyObject(IBoardDriver, driver)
    methods = [n for n, d in IBoardDriver.namesAndDescriptions()
               if callable(getattr(driver, n, None))]
    assert len(methods) > 30
    for name in methods:
        with pytest.raises(DriverNotSupported) as caught:
            getattr(driver, name)("x")
        assert name in str(caught.value)
        assert "contract" in str(caught.value)
