# SPDX-License-Identifier: GPL-2.0-or-later
"""The R4 driver over the simulator passes the driver conformance suite
(E1 included) through both bindings, and the skeleton driver refuses every
call with its contract."""
import pytest
from zope.interface.verify import verifyObject

from drivers.errors import DriverNotSupported
from drivers.interface import IBoardDriver
from drivers.r4 import BINDINGS
from drivers.skeleton import SkeletonDriver
from tests.conformance import (
    Chassis,
    DriverConformance,
    E1Conformance,
    SpanMaintenanceConformance,
)
from tests.rig import Rig

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
#: Two E1 spans after the rest (the other devices keep their names and slots):
#: dtiB2 with CAS, dtiB3 with CCS and its D-channel dtiB3D.
E1_BOARDS = [{"type": "e1", "signalling": "cas"}, {"type": "e1", "signalling": "ccs"}]


class TestR4DriverOverSimulator(DriverConformance, E1Conformance):
    """Through the full binding (the simulator's additions) and through the
    vendor-only one (the vendor's calls alone): the proof that the driver
    needs nothing of ours to keep the contract."""

    @pytest.fixture(params=BINDINGS)
    def chassis(self, request):
        if request.param == "full":
            return full_chassis()
        return chassis_of(Rig(BOARDS + [TONE_BOARD] + E1_BOARDS, binding="vendor",
                              tone_channels=TONE_CHANNELS))


def chassis_of(rig):
    return Chassis(driver=rig.driver, run=rig.run, voice="dxxxB1C1", voice2="dxxxB1C2",
                   station="msiB1C1", timeslot="dtiB1T1", dsp="dcbB1D1",
                   events=rig.events, advance_board_only=rig.sim.advance,
                   e1_timeslot="dtiB2T1", dchannel="dtiB3D")


def full_chassis():
    return chassis_of(Rig(BOARDS + E1_BOARDS))


class TestR4SpanMaintenance(SpanMaintenanceConformance):
    """Through the full binding, which has the simulator's span maintenance
    calls (the vendor-only one refuses them whole: DriverConformance)."""

    @pytest.fixture
    def chassis(self):
        return full_chassis()


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
