# SPDX-License-Identifier: GPL-2.0-or-later
"""The DAHDI driver over the simulator's DAHDI personality: the driver
issues exactly what it would issue to /dev/dahdi (drivers.dahdidev), and
passes the conformance suites for what it provides; its channels come
from system.conf, checked against what DAHDI reports."""
import pytest
from twisted.internet import task

from drivers import errors, systemconf
from drivers.dahdi import DahdiDriver
from drivers.dahdidev import SimulatedDevices
from drivers.interface import Prompt
from drivers.sim import Simulator
from tests.conformance import (
    AnalogLineConformance,
    Chassis,
    DriverConformance,
    VoiceConformance,
)
from tests.test_conformance import SimulatedFarLine

STEP_MS = 10
SYSTEM_CONF = """\
# two analog boards of FXO ports: the personality's spans 1 and 2
fxsks=1-4
fxsks=5,6
loadzone=us
defaultzone=us
"""


class DahdiRig:
    """The simulated chassis behind the personality, the driver on it, one
    clock; `run` moves them together and polls the driver, as the reactor
    would when the driver's descriptor wakes."""

    def __init__(self, boards, conf_text=SYSTEM_CONF):
        self.sim = Simulator.from_config(boards, seed=1)
        self.clock = task.Clock()
        conf = systemconf.parse(conf_text, "/etc/dahdi/system.conf")
        self.driver = DahdiDriver(SimulatedDevices(), conf, clock=self.clock)
        self.events = []
        self.driver.subscribe(self.events.append)

    def run(self, ms):
        for _ in range(0, ms, STEP_MS):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000.0)
            self.driver.poll()


BOARDS = [{"type": "analog", "lines": 4}, {"type": "analog", "lines": 2}]


class TestDahdiDriverOnThePersonality(DriverConformance, VoiceConformance):
    """FXO ports: voice work in userspace, the rest refused whole."""

    @pytest.fixture
    def chassis(self):
        rig = DahdiRig(BOARDS)
        return Chassis(driver=rig.driver, run=rig.run, voice="dahdiC1", voice2="dahdiC2",
                       events=rig.events, advance_board_only=rig.sim.advance)


class TestDahdiFxoPort(AnalogLineConformance):
    """An FXO port (fxsks) on the exchange's line: ring, caller ID read
    from the channel's audio between the rings, hook, audio both ways,
    keys, the far end's hang-up, a call out with call progress."""

    @pytest.fixture
    def chassis(self):
        rig = DahdiRig(BOARDS)
        return Chassis(driver=rig.driver, run=rig.run, voice="dahdiC1", voice2="dahdiC2",
                       events=rig.events, line="dahdiC1",
                       far=SimulatedFarLine(rig, "dxxxB1C1"))


def test_an_operation_whose_blocks_stop_coming_ends_as_hung():
    """The card stops delivering audio (the chassis's time stands still):
    the watchdog on the driver's clock ends the prompt and reopens the
    channel, which works again."""
    rig = DahdiRig(BOARDS)
    rig.driver.play("dahdiC1", [Prompt(b"\xff" * 8000, "ulaw")])
    rig.clock.advance(10)
    rig.driver.poll()
    assert [e["reasons"] for e in rig.events if e.kind == "play_done"] == [{"hung"}]
    rig.driver.play("dahdiC1", [Prompt(b"\xff" * 800, "ulaw")])
    rig.run(200)
    assert [e["reasons"] for e in rig.events if e.kind == "play_done"][-1] == {"end_of_data"}


def test_channels_come_from_system_conf_with_dahdi_s_span_numbers():
    rig = DahdiRig(BOARDS)
    names = [(i.name, i.kind, i.board) for i in rig.driver.inventory()]
    assert names == [("dahdiC1", "voice", "dahdiS1"), ("dahdiC2", "voice", "dahdiS1"),
                     ("dahdiC3", "voice", "dahdiS1"), ("dahdiC4", "voice", "dahdiS1"),
                     ("dahdiC5", "voice", "dahdiS2"), ("dahdiC6", "voice", "dahdiS2")]


def test_a_channel_dahdi_does_not_have_is_named():
    with pytest.raises(errors.NoSuchDevice, match=r"system.conf: channel 9 \(fxsks\)"):
        DahdiRig(BOARDS, "fxsks=1-4\nfxsks=9\n")


def test_a_signalling_other_than_dahdi_s_is_named_with_both():
    with pytest.raises(errors.BadParameter) as caught:
        DahdiRig(BOARDS, "fxsks=1-3\nfxoks=4\n")
    assert "channel 4 (fxoks)" in str(caught.value)
    assert "0x2004" in str(caught.value) and "0x1020" in str(caught.value)


@pytest.mark.parametrize("text, expected", [
    ("fxsks=1-4\nfxsks=3\n", "system.conf:2: channel 3 is already fxsks"),
    ("fxsks=4-1\n", "system.conf:1: '4-1' is not a channel list"),
    ("span=1,1,0,esf\n", "system.conf:1: span='1,1,0,esf': expected"),
    ("span=1,1,0,esf,hdb4\n", "coding one of ami, b8zs, hdb3"),
    ("fxs=1\n", "system.conf:1: unknown keyword 'fxs'"),
    ("fxsks 1\n", "system.conf:1: 'fxsks 1' is not <keyword>=<value>"),
])
def test_system_conf_errors_name_the_file_line_and_what_was_expected(text, expected):
    with pytest.raises(systemconf.SystemConfError, match=expected.replace("(", r"\(")):
        systemconf.parse(text, "/etc/dahdi/system.conf")


def test_system_conf_reads_spans_channels_and_zones():
    conf = systemconf.parse("span=1,1,0,esf,b8zs\ne&m=1-24 ; trunk\n"
                            "span=2,0,0,cas,hdb3,crc4\ncas=25-39,41-55:1101\n"
                            "loadzone=us\nloadzone=cn\ndefaultzone=cn\n", "system.conf")
    assert conf.spans[1] == systemconf.Span(1, 1, 0, "esf", "b8zs", False)
    assert conf.spans[2].crc4 and conf.spans[2].coding == "hdb3"
    assert conf.channels[24] == "e&m" and conf.channels[55] == "cas" and 40 not in conf.channels
    assert (conf.zones, conf.default_zone) == (["us", "cn"], "cn")
