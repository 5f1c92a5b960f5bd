# SPDX-License-Identifier: GPL-2.0-or-later
"""The R4 driver over the simulator passes the driver conformance suite,
and the skeleton driver refuses every call with its contract."""
import pytest
from zope.interface.verify import verifyObject

from drivers.errors import DriverNotSupported
from drivers.interface import IBoardDriver
from drivers.skeleton import SkeletonDriver
from tests.conformance import Chassis, DriverConformance
from tests.rig import Rig

BOARDS = [
    {"type": "voice", "channels": 4},
    {"type": "t1", "signalling": "em_wink"},
    {"type": "stations", "count": 2},
    {"type": "conference", "dsps": 1},
]


class TestR4DriverOverSimulator(DriverConformance):
    @pytest.fixture
    def chassis(self):
        rig = Rig(BOARDS)
        return Chassis(driver=rig.driver, run=rig.run, voice="dxxxB1C1", voice2="dxxxB1C2",
                       station="msiB1C1", timeslot="dtiB1T1", dsp="dcbB1D1",
                       events=rig.events, advance_board_only=rig.sim.advance)


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
