# SPDX-License-Identifier: GPL-2.0-or-later
"""The DAHDI driver over the simulator's DAHDI personality: the driver
issues exactly what it would issue to /dev/dahdi (drivers.dahdidev), and
passes the conformance suites for what it provides; its channels come
from system.conf, checked against what DAHDI reports."""
import errno
import os
from array import array

import pytest
from twisted.internet import task
from twisted.logger import capturedLogs, formatEvent

from drivers import _dahdi, errors, g711, systemconf
from drivers.dahdi import BoardLayout, DahdiDriver
from drivers.dahdidev import CHANNEL_FLAGS, CHANNEL_PATH, SimulatedDevices, simulated_system_conf
from drivers.interface import Prompt, Termination
from drivers.pri import PriLink
from drivers.sim import Simulator
from drivers.wavinfo import wav_samples
from tests.conformance import (
    AnalogLineConformance,
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
    driver_timers,
    tone_ulaw,
)
from tests.rig import hears, tone
from tests.test_conformance import SimulatedFarLine

STEP_MS = 10
SYSTEM_CONF = """\
# two analog boards of FXO ports: the personality's spans 1 and 2
fxsks=1-4
fxsks=5,6
# a T1 E&M wink-start span and an E1 CAS span (timeslot 16: channel 46)
span=3,1,0,esf,b8zs
e&m=7-30
span=4,2,0,cas,hdb3,crc4
cas=31-45,47-61:1101
# a station board's two phones (FXS ports)
fxoks=62,63
loadzone=us
defaultzone=us
"""


class DahdiRig:
    """The simulated chassis behind the personality, the driver on it, one
    clock; `run` moves them together and polls the driver, as the reactor
    would when the driver's descriptor wakes."""

    def __init__(self, boards, conf_text=SYSTEM_CONF, voice_channels=4):
        self.sim = Simulator.from_config(boards, seed=1)
        self.clock = task.Clock()
        conf = systemconf.parse(conf_text, "/etc/dahdi/system.conf")
        self.driver = DahdiDriver(SimulatedDevices(), conf, clock=self.clock,
                                  voice_channels=voice_channels)
        self.events = []
        self.driver.subscribe(self.events.append)
        self.ms = 0

    def run(self, ms, poll_ms=STEP_MS):
        """`ms` of time, the driver polled every `poll_ms` of it (a busy
        reactor wakes later than each block)."""
        for _ in range(0, ms, STEP_MS):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000.0)
            self.ms += STEP_MS
            if self.ms % poll_ms == 0:
                self.driver.poll()


BOARDS = [{"type": "analog", "lines": 4}, {"type": "analog", "lines": 2},
          {"type": "t1", "signalling": "em_wink"}, {"type": "e1", "signalling": "cas"},
          {"type": "stations", "count": 2}]


class TestDahdiDriverOnThePersonality(DriverConformance, VoiceConformance, BusConformance,
                                      TrunkConformance, StationConformance,
                                      ConferenceConformance, SilenceLevelConformance,
                                      SpanMaintenanceConformance):
    """FXO ports' voices, T1/E1 timeslots and FXS ports: voice work in
    userspace, the bus by DAHDI's DIGITALMON and MONITOR, spans and their
    bits, phones; span counters, loopbacks and loop codes; a BERT refused
    whole.  Each FXO port's voice
    starts hearing its line, as on an analog board: the suites have them
    free."""

    @pytest.fixture
    def chassis(self):
        rig = DahdiRig(BOARDS)
        for voice in ("dahdiC1", "dahdiC2"):
            assert rig.driver.status(voice)["listen"] == rig.driver.line_transmit_slot(voice)
            rig.driver.unlisten(voice)
        return Chassis(driver=rig.driver, run=rig.run, voice="dahdiC1", voice2="dahdiC2",
                       timeslot="dahdiC7", station="dahdiC62", dsp="dahdiConf",
                       events=rig.events, advance_board_only=rig.sim.advance,
                       clocks=(rig.clock,))


class TestDahdiPseudoVoiceChannels(DriverConformance, VoiceConformance, BusConformance,
                                   TrunkConformance, StationConformance,
                                   ConferenceConformance, SilenceLevelConformance,
                                   SpanMaintenanceConformance):
    """The driver's voice channels as the R4 boards have them: DAHDI pseudo
    channels, hearing a slot by DAHDI_CONF_MONITOR."""

    @pytest.fixture
    def chassis(self):
        rig = DahdiRig(BOARDS)
        return Chassis(driver=rig.driver, run=rig.run, voice="dahdiP1", voice2="dahdiP2",
                       timeslot="dahdiC7", station="dahdiC62", dsp="dahdiConf",
                       events=rig.events, advance_board_only=rig.sim.advance,
                       clocks=(rig.clock,))


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
    assert names[:4] == [("dahdiC1", "voice", "dahdiS1"), ("dahdiC1/line", "line", "dahdiS1"),
                         ("dahdiC2", "voice", "dahdiS1"), ("dahdiC2/line", "line", "dahdiS1")]
    assert names[10:12] == [("dahdiC6", "voice", "dahdiS2"), ("dahdiC6/line", "line", "dahdiS2")]
    assert ("dahdiC30", "timeslot", "dahdiS3") in names
    assert ("dahdiC47", "timeslot", "dahdiS4") in names
    assert "dahdiC46" not in {n for n, _, _ in names}       # the E1's timeslot 16
    assert ("dahdiC62", "station", "dahdiS5") in names
    assert names[-10:-5] == [(f"dahdiS{n}", "span", f"dahdiS{n}") for n in range(1, 6)]
    assert names[-5:-1] == [(f"dahdiP{n}", "voice", "dahdiP") for n in range(1, 5)]
    assert names[-1] == ("dahdiConf", "conference", "dahdiConf")
    slots = [i.slot for i in rig.driver.inventory() if i.board == "dahdiP"]
    assert slots == [32768, 32769, 32770, 32771]    # pseudo channels: the kernel's numbers
    slots = {i.name: i.slot for i in rig.driver.inventory() if i.board == "dahdiS1"}
    assert slots["dahdiC1/line"] == 1           # the port's line: its DAHDI channel
    assert slots["dahdiC1"] == 32772            # its voice: a pseudo channel of its own
    t1, e1 = rig.driver.status("dahdiS3"), rig.driver.status("dahdiS4")
    assert (t1["type"], t1["framing"], t1["coding"], t1["signalling"]) == (
        "t1", "esf", "b8zs", "em_wink")
    assert (e1["type"], e1["framing"], e1["coding"], e1["signalling"]) == (
        "e1", "e1_crc4", "hdb3", "cas")


def test_analog_cards_start_whatever_word_their_spans_give_for_their_type():
    """The kernel names an analog span's type ("ANALO": a mixed card such
    as a wctdm24xxp, cut to SPANSTAT's 5 characters; "FXS" or "FXO": an
    Astribank's module); only T1, E1 and J1 spans have a line."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    assert [d.status(f"dahdiS{n}")["type"] for n in (1, 5)] == ["analog", "analog"]
    assert d.status("dahdiS1")["alarms"] == [] and "framing" not in d.status("dahdiS5")
    with pytest.raises(errors.BadParameter, match="dahdiS1 is an analog span"):
        d.span_loopback("dahdiS1", "local")
    d.ring_station("dahdiC62", 1)
    rig.run(500)
    assert rig.sim.endpoint("msiB1C1").state == "ringing"


class RefusedDevices(SimulatedDevices):
    """The personality behind a /dev/dahdi the server may not open."""

    def __init__(self, code):
        super().__init__()
        self.code = code

    def open(self, path, flags=CHANNEL_FLAGS):
        raise OSError(self.code, f"open {path}")


@pytest.mark.parametrize("code, expected", [
    (errno.ENOENT, r"/dev/dahdi/ctl does not exist: is DAHDI's kernel module loaded "
                   r"\(lsmod \| grep dahdi"),
    (errno.EACCES, r"/dev/dahdi/ctl: permission denied: the server's user must be in the "
                   r"group owning /dev/dahdi \(.*asterisk:asterisk 0660"),
])
def test_a_dahdi_the_server_cannot_open_says_what_to_check(code, expected):
    conf = systemconf.parse(SYSTEM_CONF, "/etc/dahdi/system.conf")
    with pytest.raises(errors.BoardError, match=expected):
        DahdiDriver(RefusedDevices(code), conf, task.Clock())


def test_a_channel_dahdi_does_not_have_is_named():
    with pytest.raises(errors.NoSuchDevice, match=r"system.conf: channel 99 \(fxsks\)"):
        DahdiRig(BOARDS, "fxsks=1-4\nfxsks=99\n")


@pytest.mark.parametrize("span_line, expected", [
    ("", "span 3: DAHDI has a T1 span there, and system.conf has no span=3 line"),
    ("span=3,1,0,d4,b8zs", "span 3: system.conf says d4, DAHDI's span runs lineconfig 0xa0"),
    ("span=3,1,0,esf,ami", "span 3: system.conf says ami"),
    ("span=3,1,0,esf,b8zs,crc4", "span 3: system.conf says crc4, DAHDI's span does not run"),
])
def test_a_span_unlike_dahdi_s_is_named_with_the_mismatch(span_line, expected):
    with pytest.raises(errors.BadParameter, match=expected):
        DahdiRig(BOARDS, f"{span_line}\ne&m=7-30\n")


def test_a_signalling_other_than_dahdi_s_is_named_with_both():
    with pytest.raises(errors.BadParameter) as caught:
        DahdiRig(BOARDS, "fxsks=1-3\nfxoks=4\n")
    assert "channel 4 (fxoks)" in str(caught.value)
    assert "0x2004" in str(caught.value) and "0x1020" in str(caught.value)


@pytest.mark.parametrize("cas_line, expected", [
    ("cas=31-45,47-61", "system.conf:2: cas=31-45,47-61: channel 31 has no idle bits, and "
                        "dahdi_cfg refuses the file (\"CAS Signalling requires idle "
                        "definition\"): the kernel still has the bits of the last dahdi_cfg"),
    ("cas=31-45,47-61:1001", "channel 31's idle bits 1001 are wrong for MFC/R2, which reads "
                             "them as idle, free to seize while nobody answers it"),
    ("cas=31-45,47-61:0001", "idle bits 0001 are wrong for MFC/R2, which reads them as a "
                             "seizure"),
])
def test_an_r2_channel_without_r2_s_idle_bits_is_refused_saying_what_to_write(
        cas_line, expected):
    """DAHDI sends a cas channel's idle bits whenever no program has it:
    an MFC/R2 far end must read them as blocked, not seized or idle."""
    with pytest.raises(errors.BadParameter) as caught:
        DahdiRig(BOARDS, f"span=4,2,0,cas,hdb3,crc4\n{cas_line}\n")
    assert expected in str(caught.value)
    assert "write cas=31-45,47-61:1101 (MFC/R2's blocked; China's 1111) and run dahdi_cfg" \
        in str(caught.value)


def test_a_t1_cas_channel_needs_idle_bits_of_its_own_not_r2_s():
    """MFC/R2 is E1's: a cas channel on a T1 span (robbed bits) may idle
    with any bits dahdi_cfg set, as long as system.conf gives them (else
    dahdi_cfg refuses the file) and the kernel has the same."""
    sims = []                                    # the personality lives as long as its chassis

    def driver_on_t1_cas(kernel_bits, cas_line):
        sims.append(Simulator.from_config(BOARDS[2:3], seed=1))
        for channo in range(1, 25):
            _chanconfig(channo, _dahdi.lib.DAHDI_SIG_CAS)
            assert _dahdi.lib.cti_dahdisim_idlebits(channo, kernel_bits) == 0
        conf = systemconf.parse(f"span=1,1,0,esf,b8zs\n{cas_line}\n", "/etc/dahdi/system.conf")
        return DahdiDriver(SimulatedDevices(), conf, task.Clock())

    d = driver_on_t1_cas(0b0001, "cas=1-24:0001")
    assert {i.kind for i in d.inventory() if i.board == "dahdiS1"} == {"timeslot", "span"}
    with pytest.raises(errors.BadParameter, match=r"system.conf:2: cas=1-24: channel 1 has no "
                       r"idle bits, and dahdi_cfg refuses the file .*; write cas=1-24:the "
                       r"bits, ABCD and run dahdi_cfg"):
        driver_on_t1_cas(0b0001, "cas=1-24")
    with pytest.raises(errors.BadParameter, match=r"DAHDI sends idle bits 0001 on channel 1, "
                       r"system.conf says 1001: run dahdi_cfg"):
        driver_on_t1_cas(0b0001, "cas=1-24:1001")


def test_idle_bits_dahdi_was_not_configured_with_are_refused_and_sent_while_idle():
    """system.conf edited without rerunning dahdi_cfg: GET_PARAMS'
    idlebits say what the kernel sends (here 0000, set by an earlier
    dahdi_cfg): refused.  As configured, the far end hears
    them before the driver opens the channel and again once it closes."""
    rig = DahdiRig(BOARDS)
    far = rig.sim.endpoint("dtiB2T1")                   # DAHDI channel 31
    assert far.heard_bits() == "1101"                   # the span started: blocked
    rig.driver.set_bits("dahdiC31", 1, 0, c=0, d=1)     # R2's idle: calls welcome
    rig.run(100)
    assert far.heard_bits() == "1001"
    rig.driver.close("dahdiC31")
    rig.run(100)
    assert far.heard_bits() == "1101"                   # closed: blocked again
    assert _dahdi.lib.cti_dahdisim_idlebits(31, 0) == 0
    with pytest.raises(errors.BadParameter, match=r"system.conf:8: cas=31-45,47-61:1101: "
                       r"DAHDI sends idle bits 0000 on channel 31, system.conf says 1101: "
                       r"run dahdi_cfg"):
        DahdiDriver(SimulatedDevices(), systemconf.parse(SYSTEM_CONF, "/etc/dahdi/system.conf"),
                    task.Clock())


@pytest.mark.parametrize("text, expected", [
    ("fxsks=1-4\nfxsks=3\n", "system.conf:2: channel 3 is already fxsks"),
    ("fxsks=4-1\n", "system.conf:1: '4-1' is not a channel list"),
    ("span=1,1,0,esf\n", "system.conf:1: span='1,1,0,esf': expected"),
    ("span=1,1,0,esf,hdb4\n", "coding one of ami, b8zs, hdb3"),
    ("fxs=1\n", "system.conf:1: unknown keyword 'fxs'"),
    ("fxsks 1\n", "system.conf:1: 'fxsks 1' is not <keyword>=<value>"),
    ("e&m=1-24 ; trunk\n", "system.conf:1: '1-24 ; trunk' is not a channel list"),
    ("fxsks=0-4\n", "system.conf:1: '0-4': DAHDI's channels are 1 to 1023"),
    ("fxsks=1-1000000000\n", "'1-1000000000': DAHDI's channels are 1 to 1023"),
    ("span=0,1,0,esf,b8zs\n", "spans are 1 to 128, a timing priority 0 to 255"),
    ("span=1,256,0,esf,b8zs\n", "spans are 1 to 128, a timing priority 0 to 255"),
    ("cas=1-15:10x1\n", "the idle bits after ':' are four binary digits"),
    ("dacs=1-4\n", "dacs='1-4': expected <channels>:<first channel"),
    ("nethdlc=1-4\nbchan=4\n", "system.conf:2: channel 4 is already nethdlc"),
])
def test_system_conf_errors_name_the_file_line_and_what_was_expected(text, expected):
    with pytest.raises(systemconf.SystemConfError, match=expected.replace("(", r"\(")):
        systemconf.parse(text, "/etc/dahdi/system.conf")


def test_system_conf_reads_what_dahdi_cfg_takes_and_ignores_what_is_not_ours():
    with capturedLogs() as logged:
        conf = systemconf.parse("span=1,0,0,ccs,ami,nt,term\nalaw=1-2\ndeflaw=3\n"
                                "fcshdlc=3\ndacs=5-6:7\nchannel=1\nbchan=1-2\n", "s.conf")
    assert conf.channels == {1: "bchan", 2: "bchan"}
    assert conf.left_alone == {3: "fcshdlc", 5: "dacs", 6: "dacs"}
    said = " / ".join(formatEvent(e) for e in logged)
    assert "s.conf:1: span 1: nt,term ignored" in said and "s.conf:2: alaw= ignored" in said


def test_system_conf_reads_spans_channels_and_zones():
    conf = systemconf.parse("span=1,1,0,esf,b8zs\ne&m=1-24 # trunk\n"
                            "span=2,0,0,cas,hdb3,crc4\ncas=25-39,41-55:1101\n"
                            "loadzone=us\nloadzone=cn\ndefaultzone=cn\n", "system.conf")
    assert conf.spans[1] == systemconf.Span(1, 1, 0, "esf", "b8zs", False)
    assert conf.spans[2].crc4 and conf.spans[2].coding == "hdb3"
    assert conf.channels[24] == "e&m" and conf.channels[55] == "cas" and 40 not in conf.channels
    assert conf.idle_bits[55] == "1101" and conf.lines[55] == ("system.conf:4",
                                                               "cas=25-39,41-55:1101")
    assert (conf.zones, conf.default_zone) == (["us", "cn"], "cn")


def test_an_em_wink_start_call_in_is_winked_addressed_answered_and_talks_both_ways(tmp_path):
    """A T1 E&M wink-start call in, through DAHDI's E&M: the seizure (the
    far end's 1111, held past rxwinktime) is reported, our wink (HOOK WINK,
    HOOKCOMPLETE) brings the address in-band, our keys receiver reads it
    from the timeslot's audio, off hook answers, and audio goes both ways
    until the far end clears."""
    rig = DahdiRig(BOARDS)
    d, ts = rig.driver, "dahdiC7"
    far = rig.sim.endpoint("dtiB1T1")
    d.enable_signalling_events(ts)
    d.enable_events(ts, {"digit"})
    assert d.abcd(ts) == ("0000", "0000")
    far.call(dnis="4001")
    rig.run(600)
    seizure = [e for e in rig.events if e.kind == "signalling"]
    assert [(e["a"], e["b"], e["changed"]) for e in seizure] == [(1, 1, {"a_on", "b_on"})]
    assert d.abcd(ts) == ("0000", "1111") and far.state == "ringing"
    d.wink(ts)
    rig.run(300)
    assert [e.kind for e in rig.events if e.kind == "wink_done"] == ["wink_done"]
    rig.run(1_500)
    assert "".join(e["digit"] for e in rig.events if e.kind == "digit") == "4001"
    d.collect_digits(ts, Termination(max_digits=4))
    rig.run(100)
    assert [e["digits"] for e in rig.events if e.kind == "digits_done"] == ["4001"]
    d.set_bits(ts, 1, 1)
    rig.run(500)
    assert far.state == "connected" and d.abcd(ts) == ("1111", "1111")

    far.capture(True)
    d.play(ts, [Prompt(tone_ulaw(1000, 600), "ulaw")])
    rig.run(800)
    heard = far.read_capture()
    assert hears(heard, 1000) and not hears(heard, 1800)
    path = tmp_path / "caller.wav"
    d.record(ts, str(path), "wav", Termination(max_time_ms=600))
    far.send_audio(tone(1800, 1_000))
    rig.run(800)
    fmt, data = wav_samples(path.read_bytes())
    samples = array("h", data)
    assert hears(samples[len(samples) // 2:], 1800)
    message = tmp_path / "message.wav"                 # ended by the caller's key
    d.record(ts, str(message), "wav", Termination(terminators="#"))
    assert wav_samples(message.read_bytes())[1] == b""  # there from the start
    far.send_audio(tone(1800, 600))
    rig.run(1000)
    far.send_digits("#")
    rig.run(500)
    assert [e["reasons"] for e in rig.events if e.kind == "record_done"][-1] == {"terminator"}
    assert hears(array("h", wav_samples(message.read_bytes())[1]), 1800)

    far.hangup()
    rig.run(400)
    last = [e for e in rig.events if e.kind == "signalling"][-1]
    assert (last["a"], last["b"], last["changed"]) == (0, 0, {"a_off", "b_off"})
    d.set_bits(ts, 0, 0)
    rig.run(500)
    assert d.abcd(ts) == ("0000", "0000")


def test_a_caller_s_words_are_recorded_whole_when_the_reactor_comes_late(tmp_path):
    """The driver gives every audio channel four buffers (chan_dahdi's
    numbufs; the kernel's default is two, 40 ms): a reactor 60 ms late
    each time still gets every block, so the caller's 600 ms tone is
    recorded 600 ms long."""
    rig = DahdiRig(BOARDS)
    d, ts = rig.driver, "dahdiC7"
    far = rig.sim.endpoint("dtiB1T1")
    far.call(dnis="4001")
    rig.run(600)
    d.set_bits(ts, 1, 1)
    rig.run(500)
    path = tmp_path / "late.wav"
    d.record(ts, str(path), "wav", Termination(max_time_ms=1_500))
    far.send_audio(tone(1800, 600))
    for _ in range(40):                 # the reactor wakes 60 ms late each time
        rig.sim.advance(60)
        rig.clock.advance(0.06)
        d.poll()
    samples = array("h", wav_samples(path.read_bytes())[1])
    loud = [i for i, v in enumerate(samples) if abs(v) > 2_000]
    assert 4_700 <= loud[-1] - loud[0] <= 4_900


@pytest.mark.parametrize("fmt, law", [("wav-alaw", "alaw"), ("ulaw", "ulaw")])
def test_a_recording_grows_on_disk_and_holds_the_caller_s_tone(tmp_path, fmt, law):
    """A recording is written to its file as it grows (not kept whole in
    memory), coded to G.711 in C; a prompt in G.711 is decoded in C too."""
    rig = DahdiRig(BOARDS)
    d, ts = rig.driver, "dahdiC7"
    far = rig.sim.endpoint("dtiB1T1")
    far.call(dnis="4001")
    rig.run(600)
    d.set_bits(ts, 1, 1)
    rig.run(500)
    path = tmp_path / f"caller.{fmt}"
    d.record(ts, str(path), fmt, Termination(max_time_ms=3_000))
    far.send_audio(tone(1800, 3_000))
    rig.run(1_500)
    half = path.stat().st_size
    assert half >= 8_000                    # a second of it on disk already
    rig.run(2_000)
    assert [e.kind for e in rig.events if e.kind == "record_done"] == ["record_done"]
    blob = path.read_bytes()
    found, coded = wav_samples(blob) if fmt.startswith("wav") else (law, blob)
    assert found == law
    assert 23_500 <= len(coded) <= 24_000 and len(blob) > half
    assert hears(array("h", g711.decode(coded, law)), 1800)
    far.capture(True)
    d.play(ts, [Prompt(coded, law)])
    rig.run(3_500)
    assert hears(far.read_capture(), 1800)


def test_a_recording_reaches_its_file_a_second_at_a_time_and_whole_however_it_ends(
        tmp_path):
    """One write a second per recording, not one each 20 ms block: a
    second on disk after a second, the rest when it ends, whether it ends
    by a stop or by a reset (the watchdog's recovery) mid-second."""
    rig = DahdiRig(BOARDS)
    d, ts = rig.driver, "dahdiC7"
    rig.sim.endpoint("dtiB1T1").call(dnis="4001")
    rig.run(600)
    d.set_bits(ts, 1, 1)
    rig.run(500)
    stopped, reset = tmp_path / "stopped.ulaw", tmp_path / "reset.ulaw"
    d.record(ts, str(stopped), "ulaw", Termination(max_time_ms=10_000))
    rig.run(600)
    assert stopped.stat().st_size == 0              # nothing written yet
    rig.run(600)
    assert 8_000 <= stopped.stat().st_size < 9_600  # its first second
    d.stop(ts)
    rig.run(100)
    assert [e.kind for e in rig.events][-1] == "record_done"
    assert 9_400 <= stopped.stat().st_size <= 9_800     # all 1.2 s of it
    d.record(ts, str(reset), "ulaw", Termination(max_time_ms=10_000))
    rig.run(700)
    d.reset(ts)
    assert 5_400 <= reset.stat().st_size <= 5_800       # its 0.7 s, closed


def test_a_recording_whose_file_stops_taking_samples_ends_with_error(tmp_path):
    """A recording's file that stops taking samples (here a pipe whose
    reader left: EPIPE, as ENOSPC on a full disk) ends the record with the
    reason error, its file closed; another channel's recording on the same
    polls goes on to its end, and the channel is free for the next
    operation.  A file that cannot be made at all is refused at once."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    for ts, far in (("dahdiC7", "dtiB1T1"), ("dahdiC8", "dtiB1T2")):
        rig.sim.endpoint(far).call(dnis="4001")
        rig.run(600)
        d.set_bits(ts, 1, 1)
    rig.run(500)
    with pytest.raises(errors.BadParameter, match="cannot write"):
        d.record("dahdiC7", str(tmp_path / "no" / "such.wav"), "wav", Termination())
    pipe = tmp_path / "pipe.wav"
    os.mkfifo(pipe)
    reader = os.open(pipe, os.O_RDONLY | os.O_NONBLOCK)
    d.record("dahdiC7", str(pipe), "wav", Termination(max_time_ms=1_000))
    d.record("dahdiC8", str(tmp_path / "ok.ulaw"), "ulaw", Termination(max_time_ms=1_000))
    os.close(reader)                        # the samples that come now go nowhere
    rig.run(1_500)
    done = {e.device: e.data["reasons"] for e in rig.events if e.kind == "record_done"}
    assert done == {"dahdiC7": frozenset({"error"}), "dahdiC8": frozenset({"max_time"})}
    assert 7_500 <= (tmp_path / "ok.ulaw").stat().st_size <= 8_200
    d.play("dahdiC7", [Prompt(bytes(800), "ulaw")])
    rig.run(300)
    assert [e.kind for e in rig.events][-1] == "play_done"


def test_a_timeslot_s_hung_operation_recovered_keeps_its_call_up():
    """The watchdog's reset quiets our voice work on the timeslot; it does
    not reopen the channel, which on a kernel hangs its line up (E&M on
    hook, a CAS channel's idle bits) and would end the call."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    rig.sim.endpoint("dtiB1T1").call(dnis="4001")
    rig.run(600)
    d.set_bits("dahdiC7", 1, 1)                     # answered: 1111
    d.set_bits("dahdiC31", 1, 1, c=0, d=1)          # an E1 CAS call up: 1101
    rig.run(100)
    d.record("dahdiC7", "/dev/null", "ulaw", Termination(max_time_ms=60_000))  # hangs
    for ts in ("dahdiC7", "dahdiC31"):
        d.reset(ts)
    rig.run(100)
    assert d.status("dahdiC7")["tx_bits"][:2] == "11"
    assert d.abcd("dahdiC31")[0] == "1101"
    d.play("dahdiC7", [Prompt(bytes(800), "ulaw")])  # the voice work is free again
    rig.run(300)
    assert [e.kind for e in rig.events][-1] == "play_done"


def test_e_and_m_bits_are_dahdi_s_and_cas_bits_are_ours():
    """An e&m channel sends what DAHDI's E&M sends (0000 or 1111, so other
    bits are refused, naming what to configure); a cas channel any ABCD
    but E1's forbidden 0000, and its C and D are kept when not given."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    with pytest.raises(errors.BadParameter, match="configure it cas="):
        d.set_bits("dahdiC7", 1, 0)
    d.set_bits("dahdiC31", 1, 1, c=0, d=1)
    rig.run(20)
    assert d.abcd("dahdiC31")[0] == d.status("dahdiC31")["tx_bits"] == "1101"
    d.set_bits("dahdiC31", 1, 0)
    assert d.abcd("dahdiC31")[0] == "1001"
    with pytest.raises(errors.BadParameter, match="0000 is forbidden on E1"):
        d.set_bits("dahdiC31", 0, 0, c=0, d=0)
    with pytest.raises(errors.BadParameter, match="no wink"):
        d.wink("dahdiC31")
    with pytest.raises(errors.BadParameter, match="FXO port"):
        d.set_bits("dahdiC1", 1, 1)


def test_cas_bits_from_the_far_end_are_signalled_with_what_changed():
    rig = DahdiRig(BOARDS)
    d, ts = rig.driver, "dahdiC31"
    d.enable_signalling_events(ts)
    far = rig.sim.endpoint("dtiB2T1")
    far.send_bits("0001")
    rig.run(100)
    event = [e for e in rig.events if e.kind == "signalling"][-1]
    assert (event["a"], event["b"], event["c"], event["d"]) == (0, 0, 0, 1)
    assert event["changed"] == {"a_off"}
    assert d.abcd(ts)[1] == "0001"


def test_a_t1_loop_start_channel_rings_answers_and_hangs_up_in_robbed_bits():
    """fxsls on a T1 span: a timeslot, not an FXO port.  The far end's ring
    (B bit off) is one b_off, b_on pair once the burst is over; off hook
    sends 1111 (the caller is answered), on hook 0101; no other bits are
    DAHDI's to send."""
    boards = [{"type": "t1", "signalling": "fxs_loopstart"}, {"type": "voice", "channels": 2}]
    rig = DahdiRig(boards, simulated_system_conf(boards))
    d, far = rig.driver, rig.sim.endpoint("dtiB1T1")
    assert {i.kind for i in d.inventory() if i.board == "dahdiS1"} == {"timeslot", "span"}
    d.enable_signalling_events("dahdiC1")
    assert d.status("dahdiS1")["signalling"] == "fxs_loopstart"
    far.call()
    rig.run(3000)                                        # a 2 s ring and its trailer
    assert [sorted(e["changed"]) for e in rig.events if e.kind == "signalling"] == [
        ["b_off"], ["b_on"]]
    d.set_bits("dahdiC1", 1, 1)
    rig.run(100)
    assert d.abcd("dahdiC1")[0] == "1111" and far.state == "connected"
    rig.run(6000)                                        # answered: no more rings
    assert len([e for e in rig.events if e.kind == "signalling"]) == 2
    d.set_bits("dahdiC1", 0, 1)
    rig.run(100)
    assert d.abcd("dahdiC1")[0] == "0101"
    with pytest.raises(errors.BadParameter, match="0101 on hook"):
        d.set_bits("dahdiC1", 1, 0)
    with pytest.raises(errors.BadParameter, match="loop start"):
        d.wink("dahdiC1")

def test_a_t1_loop_start_ring_the_kernel_kept_quiet_is_reported():
    """T1 loop start (fxsls) has the kernel's ring debounce too: a 1 s ring
    (China's cadence) ending within 2 s of our hang-up gives no
    RINGOFFHOOK; the driver sees it on the line and reports the far end's
    B bit off and on as for any ring, so the trunk is offered on it."""
    boards = [{"type": "t1", "signalling": "fxs_loopstart", "tones": "cn"}]
    rig = DahdiRig(boards, simulated_system_conf(boards))
    d, far = rig.driver, rig.sim.endpoint("dtiB1T1")
    d.enable_signalling_events("dahdiC1")
    d.set_bits("dahdiC1", 0, 1)                         # on hook: the kernel's hang-up
    far.call()
    rig.run(2_500)
    assert [sorted(e["changed"]) for e in rig.events if e.kind == "signalling"] == [
        ["b_off"], ["b_on"]]
    rig.run(4_000)                                      # the next ring: the kernel's event
    assert len([e for e in rig.events if e.kind == "signalling"]) == 4


@pytest.mark.parametrize("delay_ms", [1_000, 1_080])
def test_a_t1_loop_start_ring_ending_as_the_debounce_does_is_reported_once(delay_ms):
    """A 1 s ring ending just after the kernel's 2 s debounce, the driver
    polled only every 80 ms: the kernel's RINGOFFHOOK comes in the poll
    that first sees the line stop ringing, and the ring is still one B
    bit off and on."""
    boards = [{"type": "t1", "signalling": "fxs_loopstart", "tones": "cn"}]
    rig = DahdiRig(boards, simulated_system_conf(boards))
    d, far = rig.driver, rig.sim.endpoint("dtiB1T1")
    d.enable_signalling_events("dahdiC1")
    d.set_bits("dahdiC1", 0, 1)                         # on hook: the kernel's hang-up
    rig.run(delay_ms, poll_ms=80)
    far.call()
    rig.run(3_000, poll_ms=80)                          # before the next ring
    assert [sorted(e["changed"]) for e in rig.events if e.kind == "signalling"] == [
        ["b_off"], ["b_on"]]


def r2_timeslot():
    """An E1 CAS timeslot with R2 MF on at both ends: ours the called side
    (backward), the telco's the calling side (forward)."""
    rig = DahdiRig(BOARDS)
    rig.driver.open("dahdiC31")
    rig.sim.watch_far_end("dtiB2T1")
    rig.driver.r2_mf_mode("dahdiC31", "backward")
    rig.sim.endpoint("dtiB2T1").r2_mf("forward")
    return rig


def test_r2_signals_are_heard_and_sent_by_our_voice_work_on_a_cas_channel():
    """MFC/R2's register signals on DAHDI: spandsp's R2 MF receiver and
    generator run on the cas channel's audio in our voice work, block by
    block; the telco hears our backward signal, we hear its forward one,
    each until it stops."""
    rig = r2_timeslot()
    far = rig.sim.endpoint("dtiB2T1")
    far.r2_mf_send(5)
    rig.run(200)
    far.r2_mf_send(0)
    rig.run(200)
    assert [e["signal"] for e in rig.events if e.kind == "r2_mf"] == [5, 0]
    rig.driver.r2_mf_send("dahdiC31", 3)
    rig.run(200)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 3)]
    rig.driver.r2_mf_send("dahdiC31", 0)
    rig.run(200)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 0)]


def test_an_r2_signal_reaches_the_telco_while_the_timeslot_sends_a_voice():
    """A timeslot sending a voice channel's slot (DIGITALMON replaces what
    we write) still sends its R2 signal while it sounds, as a board's
    transceiver does; the voice's slot comes back after."""
    rig = r2_timeslot()
    d, far = rig.driver, rig.sim.endpoint("dtiB2T1")
    d.listen("dahdiC31", d.transmit_slot("dahdiP1"))
    d.play_tone("dahdiP1", 1000)
    d.r2_mf_send("dahdiC31", 1)
    rig.run(200)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 1)]
    d.r2_mf_send("dahdiC31", 0)
    rig.run(200)
    far.capture(True)
    rig.run(500)
    assert d.status("dahdiC31")["listen"] == d.transmit_slot("dahdiP1")
    assert hears(far.read_capture(), 1000)


def test_r2_mf_is_for_cas_channels_and_checks_its_mode_and_signal():
    d = DahdiRig(BOARDS).driver
    with pytest.raises(errors.BadParameter, match="e&m"):
        d.r2_mf_mode("dahdiC7", "forward")
    with pytest.raises(errors.BadParameter, match="R2 MF is off"):
        d.r2_mf_send("dahdiC31", 1)
    with pytest.raises(errors.BadParameter, match="'sideways'"):
        d.r2_mf_mode("dahdiC31", "sideways")
    d.r2_mf_mode("dahdiC31", "forward")
    with pytest.raises(errors.BadParameter, match="1 to 15"):
        d.r2_mf_send("dahdiC31", 16)

def test_span_alarms_come_from_spanstat_and_are_reported_as_they_change():
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.enable_alarm_events("dahdiS3")
    d.open("dahdiC7")
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.run(100)
    assert d.alarms("dahdiS3") == {"red"} and d.status("dahdiS3")["alarms"] == ["red"]
    rig.sim.span_alarm("dtiB1", "red", False)
    rig.run(100)
    alarms = [(e.device, e["alarm"], e["raised"]) for e in rig.events if e.kind == "alarm"]
    assert alarms == [("dahdiS3", "red", True), ("dahdiS3", "red", False)]
    assert d.alarms("dahdiS3") == frozenset()


def test_a_red_alarm_becoming_yellow_is_reported_though_the_kernel_says_nothing():
    """ALARM and NOALARM come only between no alarm and some: a red alarm
    turning yellow is read from SPANSTAT as the driver polls."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.enable_alarm_events("dahdiS3")
    d.open("dahdiC7")
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.run(1_500)
    rig.sim.span_alarm("dtiB1", "yellow", True)
    rig.sim.span_alarm("dtiB1", "red", False)
    rig.run(1_500)
    alarms = [(e["alarm"], e["raised"]) for e in rig.events if e.kind == "alarm"]
    assert alarms == [("red", True), ("yellow", True), ("red", False)]
    assert d.alarms("dahdiS3") == {"yellow"}


def test_the_personality_reports_no_ring_within_the_kernel_s_ring_debounce():
    """As dahdi-base.c's ringdebtimer: for 2 s after an FXO port is hung up
    (here by its open: initialize_channel's dahdi_hangup) a ring gives no
    RINGBEGIN and, ending, no RINGOFFHOOK; GET_PARAMS' rxhooksig says RING
    (3) while it rings all the same.  The next ring gives both."""
    lib, ffi = _dahdi.lib, _dahdi.ffi
    sim = Simulator.from_config([{"type": "analog", "lines": 1, "tones": "cn"}], seed=1)
    devices = SimulatedDevices()
    fd = devices.open(CHANNEL_PATH)
    devices.ioctl(fd, lib.DAHDI_SPECIFY, ffi.new("int *", 1))
    sim.endpoint("dxxxB1C1").call(ani="2125550077")   # China's cadence: 1 s rings
    block, event, params = ffi.new("char[320]"), ffi.new("int *"), ffi.new(
        "struct dahdi_params *")
    events, hooksigs = [], set()
    for ms in range(0, 7_000, 10):
        sim.advance(10)
        while True:
            try:
                devices.read(fd, block, 320)
            except OSError as e:
                if e.errno != lib.ELAST:
                    break
                devices.ioctl(fd, lib.DAHDI_GETEVENT, event)
                events.append((ms // 1000, event[0]))
        devices.ioctl(fd, lib.DAHDI_GET_PARAMS, params)
        hooksigs.add((ms // 1000, params.rxhooksig))
    devices.close(fd)
    assert (0, 3) in hooksigs and (1, 1) in hooksigs       # the first ring, unreported
    assert events == [(5, lib.DAHDI_EVENT_RINGBEGIN), (6, lib.DAHDI_EVENT_RINGOFFHOOK)]


def test_a_ring_the_kernel_kept_quiet_is_counted_and_its_caller_id_read():
    """An FXO port opened as a call rings in with 1 s rings: the kernel
    reports no first ring, and the caller ID comes after it.  The driver
    counts the ring it saw on the line (GET_PARAMS), and its caller-ID
    receiver, listening whenever the port is on hook, has the number."""
    rig = DahdiRig([{"type": "analog", "lines": 4, "tones": "cn"}], "fxsks=1-4\n")
    d = rig.driver
    far = rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring"})                 # opens the line: its hang-up
    far.call(ani="2125550077", name="BOB")
    rig.run(3_000)
    assert [e["count"] for e in rig.events if e.kind == "ring"] == [1]
    assert d.caller_id("dahdiC1").number == "2125550077"
    rig.run(4_000)
    assert [e["count"] for e in rig.events if e.kind == "ring"] == [1, 2]


def test_a_call_ringing_in_as_the_one_before_gives_up_gets_its_own_caller_id_and_count():
    """North American cadence (2 s on, 4 s off), the caller ID between the
    first two rings.  A rings twice and gives up; B rings in 3 s later,
    within the 8 s that would end A's ringing, from another number: once
    B's caller ID is read, A's ringing is over (ring_stopped) and the
    count is B's, with B's number."""
    rig = DahdiRig([{"type": "analog", "lines": 4}], "fxsks=1-4\n")
    d, far = rig.driver, rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring", "ring_stopped"})
    rig.run(3_000)                                       # past the open's ring debounce
    far.call(ani="2125550001")
    rig.run(8_500)                                       # two rings and the caller ID
    assert d.caller_id("dahdiC1").number == "2125550001"
    far.abandon()
    rig.run(3_000)
    far.call(ani="2125550002")
    rig.run(8_500)                                       # B's first two rings
    heard = [(e.kind, e.data.get("count")) for e in rig.events]
    assert heard == [("ring", 1), ("ring", 2), ("ring", 3), ("ring_stopped", None),
                     ("ring", 2)]
    assert d.caller_id("dahdiC1").number == "2125550002"


def test_a_distinctive_ring_s_caller_id_after_its_second_burst_is_the_same_call():
    """A distinctive ring ("ring-ring": a short burst, then the usual one)
    is two rings to DAHDI, one RINGOFFHOOK each, and the caller ID comes
    after the second: it is this call's, not a next one's.  The count goes
    on, nothing says the ringing stopped, and the number is the call's."""
    rig = DahdiRig([{"type": "analog", "lines": 4}], "fxsks=1-4\n")
    d, far = rig.driver, rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring", "ring_stopped"})
    rig.run(3_000)                                       # past the open's ring debounce
    lib = _dahdi.lib
    assert lib.cti_dahdisim_queue_event(1, lib.DAHDI_EVENT_RINGOFFHOOK) == 0  # short burst
    rig.run(400)
    far.call(ani="2125550001")                          # the long one, then the caller ID
    rig.run(8_500)
    heard = [(e.kind, e.data.get("count")) for e in rig.events]
    assert heard == [("ring", 1), ("ring", 2), ("ring", 3)]
    assert d.caller_id("dahdiC1").number == "2125550001"


def test_a_caller_id_heard_with_no_ringing_is_not_taken_for_a_call_s():
    """A caller ID heard on an idle port with no ring (one sent before a
    ring whose caller gave up at once, or a false read): the next call's
    own caller ID, after its first ring, is that call's, not a next
    one's: no ring_stopped, the count goes on."""
    rig = DahdiRig([{"type": "analog", "lines": 4}], "fxsks=1-4\n")
    d, far = rig.driver, rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring", "ring_stopped"})
    rig.run(3_000)
    d._caller_id_read(d._channels["dahdiC1"])           # heard with no ring
    rig.run(20_000)
    far.call(ani="2125550001")
    rig.run(8_500)
    heard = [(e.kind, e.data.get("count")) for e in rig.events]
    assert heard == [("ring", 1), ("ring", 2)]
    assert d.caller_id("dahdiC1").number == "2125550001"


def test_a_call_given_up_after_one_ring_then_the_next_one_s_caller_id_restarts_the_count():
    """A rings once (its caller ID read) and gives up; B rings in 3 s
    later: B's first ring is counted 2, as nothing on an analog line says
    A gave up, but B's caller ID, a second in the same ringing, ends A's
    ringing (ring_stopped) and the count is B's."""
    rig = DahdiRig([{"type": "analog", "lines": 4}], "fxsks=1-4\n")
    d, far = rig.driver, rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring", "ring_stopped"})
    rig.run(3_000)
    far.call(ani="2125550001")
    rig.run(3_500)                                       # one ring and its caller ID
    assert d.caller_id("dahdiC1").number == "2125550001"
    far.abandon()
    rig.run(3_000)
    far.call(ani="2125550002")
    rig.run(8_500)                                       # B's first two rings
    heard = [(e.kind, e.data.get("count")) for e in rig.events]
    assert heard == [("ring", 1), ("ring", 2), ("ring_stopped", None), ("ring", 2)]
    assert d.caller_id("dahdiC1").number == "2125550002"


def test_the_caller_id_receiver_rests_off_hook_and_keeps_the_call_s_number(tmp_path):
    """The caller-ID receiver listens while the port is on hook only: off
    hook, a caller-ID burst in the far end's voice (here one recorded from
    another port's ringing) is not taken for the call's caller ID."""
    rig = DahdiRig([{"type": "analog", "lines": 4}], "fxsks=1-4\n")
    d = rig.driver
    for port in ("dahdiC1", "dahdiC2"):
        d.enable_events(port, {"ring"})
    rig.run(3_000)                                       # past the open's ring debounce
    other, caller = rig.sim.endpoint("dxxxB1C2"), rig.sim.endpoint("dxxxB1C1")
    other.call(ani="2125550002")
    rig.run(2_000)                                       # its first ring
    burst = tmp_path / "burst.raw"
    d.record("dahdiC2", str(burst), "pcm16", Termination(max_time_ms=2_500))
    rig.run(3_000)                                       # its caller ID, recorded
    assert d.caller_id("dahdiC2").number == "2125550002"
    caller.call(ani="2125550001")
    rig.run(8_500)
    assert d.caller_id("dahdiC1").number == "2125550001"
    d.set_hook("dahdiC1", True)
    rig.run(500)
    assert caller.state == "connected"
    caller.send_audio(array("h", burst.read_bytes()))
    rig.run(3_000)
    assert d.caller_id("dahdiC1").number == "2125550001"


def test_a_ring_ending_as_the_port_closes_is_not_counted_when_it_reopens():
    """A 1 s ring the kernel kept quiet has just ended, its RINGOFFHOOK not
    come, when the port is closed and the caller gives up: reopened 3 s
    later on a quiet line, the port reports no ring."""
    rig = DahdiRig([{"type": "analog", "lines": 4, "tones": "cn"}], "fxsks=1-4\n")
    d, far = rig.driver, rig.sim.endpoint("dxxxB1C1")
    d.enable_events("dahdiC1", {"ring"})                 # opens the line: its hang-up
    far.call(ani="2125550077")
    rig.run(1_050)                                       # the ring over, not yet counted
    far.abandon()
    d.close("dahdiC1")
    rig.run(3_000)
    d.enable_events("dahdiC1", {"ring"})
    rig.run(1_000)
    assert [e for e in rig.events if e.kind == "ring"] == []


def test_a_ring_the_kernel_kept_quiet_is_counted_at_the_first_poll_after_its_trailer():
    """The reactor busy, the driver polled every 400 ms: the kernel keeps
    only its last 80 ms of audio, yet the ring it kept quiet is counted by
    the driver's clock, at the first poll after its trailer (the ring ends
    1 s after the open, seen at the 1.2 s poll; counted at the 1.6 s one)."""
    rig = DahdiRig([{"type": "analog", "lines": 4, "tones": "cn"}], "fxsks=1-4\n")
    d = rig.driver
    counted_at = []
    d.subscribe(lambda e: counted_at.append(rig.ms) if e.kind == "ring" else None)
    d.enable_events("dahdiC1", {"ring"})                 # opens the line: its hang-up
    rig.sim.endpoint("dxxxB1C1").call(ani="2125550077")
    rig.run(2_000, poll_ms=400)
    assert counted_at == [1_600]


@pytest.mark.parametrize("delay_ms", [1_000, 1_080])
def test_a_ring_ending_as_the_debounce_does_is_counted_once(delay_ms):
    """A 1 s ring ending just after the kernel's 2 s debounce from the
    port's open, the driver polled only every 80 ms: the kernel's
    RINGOFFHOOK comes in the poll that first sees the line stop ringing,
    and the ring is still ring 1, once."""
    rig = DahdiRig([{"type": "analog", "lines": 4, "tones": "cn"}], "fxsks=1-4\n")
    d = rig.driver
    d.enable_events("dahdiC1", {"ring"})                 # opens the line: its hang-up
    rig.run(delay_ms, poll_ms=80)
    rig.sim.endpoint("dxxxB1C1").call(ani="2125550077")
    rig.run(3_500, poll_ms=80)                           # before the next ring
    assert [e["count"] for e in rig.events if e.kind == "ring"] == [1]


def test_an_alarm_on_a_quiet_system_is_reported_as_the_clock_goes_on():
    """No channel of the span open, no event, no audio to wake the
    reactor: the driver's timer reads SPANSTAT each second on its clock."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.enable_alarm_events("dahdiS3")
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.sim.advance(100)
    rig.clock.advance(1.0)                          # nothing polls the driver
    assert [(e.device, e["alarm"], e["raised"]) for e in rig.events
            if e.kind == "alarm"] == [("dahdiS3", "red", True)]
    rig.sim.span_alarm("dtiB1", "red", False)
    rig.clock.advance(1.0)
    assert [(e["alarm"], e["raised"]) for e in rig.events
            if e.kind == "alarm"] == [("red", True), ("red", False)]


def test_a_span_whose_alarms_cannot_be_read_is_logged_once_and_the_others_still_reported():
    """One span's SPANSTAT fails with an errno the driver does not expect
    (EIO): the spans after it are still read each second and their alarms
    reported, the failure is logged once (not each second), and once the
    span reads again its alarms are reported too."""
    boards = [{"type": "t1", "signalling": "em_wink"}, {"type": "e1", "signalling": "cas"}]
    rig = DahdiRig(boards, simulated_system_conf(boards))
    d = rig.driver
    d.enable_alarm_events("dahdiS1")
    d.enable_alarm_events("dahdiS2")
    ioctl = d.devices.ioctl

    def failing(fd, request, arg):
        if request == _dahdi.lib.DAHDI_SPANSTAT and arg.spanno == 1:
            raise OSError(errno.EIO, "Input/output error")
        return ioctl(fd, request, arg)

    d.devices.ioctl = failing
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.sim.span_alarm("dtiB2", "red", True)
    rig.sim.advance(100)
    with capturedLogs() as logged:
        for _ in range(5):
            rig.clock.advance(1.0)
    assert [(e.device, e["alarm"]) for e in rig.events if e.kind == "alarm"] == [
        ("dahdiS2", "red")]
    assert len([e for e in logged if "log_failure" in e]) == 1
    d.devices.ioctl = ioctl
    rig.clock.advance(1.0)
    assert [(e.device, e["alarm"]) for e in rig.events if e.kind == "alarm"] == [
        ("dahdiS2", "red"), ("dahdiS1", "red")]


def test_a_subscriber_that_raises_does_not_stop_the_alarm_reads():
    """A subscriber's bug on an alarm event is logged; the timer reading
    the alarms goes on, and the alarms after it are reported."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.enable_alarm_events("dahdiS3")

    def buggy(event):
        raise RuntimeError("a subscriber's bug")

    d.subscribe(buggy)
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.sim.advance(100)
    with capturedLogs() as logged:
        rig.clock.advance(1.0)
    assert [e for e in logged if "log_failure" in e]
    rig.sim.span_alarm("dtiB1", "red", False)
    rig.sim.advance(100)
    rig.clock.advance(1.0)
    assert [(e["alarm"], e["raised"]) for e in rig.events if e.kind == "alarm"] == [
        ("red", True), ("red", False)]


def test_the_alarm_reads_stop_with_the_driver_s_events():
    """stop_events (the server stopping): the once-a-second SPANSTAT reads
    leave the clock, and an alarm raised after is told to nobody."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.enable_alarm_events("dahdiS3")
    assert driver_timers((rig.clock,))
    d.stop_events()
    assert driver_timers((rig.clock,)) == []
    rig.sim.span_alarm("dtiB1", "red", True)
    rig.run(2_000)
    d.enable_alarm_events("dahdiS4")
    rig.run(2_000)
    assert [e for e in rig.events if e.kind == "alarm"] == []
    assert driver_timers((rig.clock,)) == []


def test_a_phone_rings_until_answered_hears_its_tone_and_flashes():
    """An FXS port: the phone rings with the cadence asked (RINGERON and
    RINGEROFF steps), the agent lifts it (station_answered), hears the tone
    we put in its earpiece and our prompt, talks back, flashes and hangs
    up."""
    rig = DahdiRig(BOARDS)
    d, st = rig.driver, "dahdiC62"
    phone = rig.sim.endpoint("msiB1C1")
    d.enable_station_events(st)
    d.ring_station(st, 3)
    rig.run(1_000)
    assert phone.state == "ringing" and not d.station_offhook(st)
    with pytest.raises(errors.DeviceBusy):
        d.ring_station(st, 1)
    phone.offhook()
    rig.run(100)
    assert [e.kind for e in rig.events] == ["station_answered"] and d.station_offhook(st)
    phone.capture(True)
    d.station_tone(st, "busy")
    rig.run(1_500)
    assert hears(phone.read_capture(), 620)
    d.station_tone(st, None)
    d.play(st, [Prompt(tone_ulaw(1000, 500), "ulaw")])
    rig.run(700)
    assert hears(phone.read_capture(), 1000)
    d.enable_events(st, {"digit"})
    phone.send_digits("5")
    rig.run(500)
    assert [e["digit"] for e in rig.events if e.kind == "digit"] == ["5"]
    phone.flash()
    rig.run(100)
    phone.onhook()
    rig.run(100)
    assert [e.kind for e in rig.events if e.kind.startswith("station_")][-2:] == [
        "station_flash", "station_hook"]
    assert not d.station_offhook(st)


def test_a_phone_answered_stops_ringing_and_rings_again_for_the_next_call():
    """The kernel rings on through an answer until userspace says OFFHOOK
    (chan_dahdi does: "make sure it stops ringing"), and refuses RING
    (EBUSY) until the port is back ONHOOK: the agent who answered hears
    no ring burst a cycle later, and the next call rings the phone."""
    rig = DahdiRig(BOARDS)
    d, st = rig.driver, "dahdiC62"
    phone = rig.sim.endpoint("msiB1C1")
    d.enable_station_events(st)
    d.ring_station(st, 3)
    rig.run(1_000)
    phone.offhook()
    rig.run(7_000)                          # past the next ring's start
    assert phone.state != "ringing"
    assert [e.kind for e in rig.events].count("station_answered") == 1
    phone.onhook()
    rig.run(200)
    d.ring_station(st, 1)                   # the next call
    rig.run(500)
    assert phone.state == "ringing"


def test_a_phone_not_answered_rings_its_cycles_and_stops():
    """Two rings asked, two heard (china: 1 s on, 4 s off): the kernel
    says nothing as the first starts, so the driver counts the rings that
    ended; ringing is done once the last one's silence has passed."""
    rig = DahdiRig(BOARDS)
    d, st = rig.driver, "dahdiC63"
    phone = rig.sim.endpoint("msiB1C2")
    d.ring_station(st, 2, cadence="china")
    heard, sounding = 0, False
    for ms in range(0, 20_000, 100):
        bell = phone.state == "ringing" and ms % 5_000 < 1_000
        heard += bell and not sounding
        sounding = bell
        if ms == 9_000:
            assert not [e for e in rig.events if e.kind == "station_ring_done"]
        rig.run(100)
    assert heard == 2
    assert [e.kind for e in rig.events] == ["station_ring_done"]
    assert phone.state == "idle"


def test_phones_without_a_tone_zone_are_refused_at_start_and_ringing_says_why():
    """The kernel rings a phone only with a tone zone loaded (HOOK RING:
    ENODATA): a system.conf with FXS ports and no loadzone= is refused at
    start, and a zone missing in the kernel all the same is named."""
    no_zone = SYSTEM_CONF.replace("loadzone=us\ndefaultzone=us\n", "")
    with pytest.raises(errors.BadParameter, match="channels 62-63 are FXS ports.*loadzone="):
        DahdiRig(BOARDS, no_zone)
    rig = DahdiRig(BOARDS)
    _dahdi.lib.cti_dahdisim_tone_zone(0)
    with pytest.raises(errors.BadParameter, match="dahdiC62: DAHDI has no tone zone loaded"):
        rig.driver.ring_station("dahdiC62", 1)
    _dahdi.lib.cti_dahdisim_tone_zone(1)
    rig.driver.ring_station("dahdiC62", 1)
    rig.run(500)
    assert rig.sim.endpoint("msiB1C1").state == "ringing"


def test_a_caller_on_a_trunk_and_an_agent_s_phone_talk_through_dahdi_s_cross_connect():
    """The T1 caller and the agent's phone listen to each other (two
    DIGITALMON conferences): each hears the other, and unlistening ends it."""
    rig = DahdiRig(BOARDS)
    d, ts, st = rig.driver, "dahdiC7", "dahdiC62"
    caller, agent = rig.sim.endpoint("dtiB1T1"), rig.sim.endpoint("msiB1C1")
    caller.call(dnis="4001")
    rig.run(600)
    d.set_bits(ts, 1, 1)
    agent.offhook()
    d.listen(ts, d.transmit_slot(st))
    d.listen(st, d.transmit_slot(ts))
    rig.run(200)
    caller.capture(True)
    agent.capture(True)
    caller.send_audio(tone(1800, 600))
    agent.send_audio(tone(1000, 600))
    rig.run(800)
    to_agent, to_caller = agent.read_capture(), caller.read_capture()
    assert hears(to_agent, 1800) and not hears(to_agent, 1000)
    assert hears(to_caller, 1000) and not hears(to_caller, 1800)
    d.unlisten(ts)
    d.unlisten(st)
    caller.send_audio(tone(1800, 600))
    rig.run(800)
    assert not hears(agent.read_capture(), 1800)


def test_a_trunk_caller_hears_a_pseudo_channel_s_prompt_and_keys_reach_it():
    """The R4 boards' way on DAHDI: a voice channel (a pseudo channel) hears
    the caller's timeslot (MONITOR) and the timeslot sends it (DIGITALMON):
    the caller hears the prompt, the voice channel the caller's keys; then
    the caller is put through to an agent's phone."""
    rig = DahdiRig(BOARDS)
    d, ts, voice, st = rig.driver, "dahdiC7", "dahdiP1", "dahdiC62"
    caller, agent = rig.sim.endpoint("dtiB1T1"), rig.sim.endpoint("msiB1C1")
    caller.call(dnis="4001")
    rig.run(600)
    d.set_bits(ts, 1, 1)
    d.listen(voice, d.transmit_slot(ts))
    d.listen(ts, d.transmit_slot(voice))
    caller.capture(True)
    d.play(voice, [Prompt(tone_ulaw(1000, 600), "ulaw")])
    rig.run(800)
    assert hears(caller.read_capture(), 1000)
    d.enable_events(voice, {"digit"})
    caller.send_digits("42")
    rig.run(800)
    assert [e["digit"] for e in rig.events if e.kind == "digit"] == ["4", "2"]
    d.unlisten(ts)
    d.unlisten(voice)
    agent.offhook()
    d.listen(ts, d.transmit_slot(st))
    d.listen(st, d.transmit_slot(ts))
    agent.capture(True)
    caller.send_audio(tone(1800, 600))
    rig.run(800)
    assert hears(agent.read_capture(), 1800)


#: The R4 suite's chassis: voice, T1 E&M, stations, a conference DSP, an E1
#: CAS span and an E1 CCS span.
R4_BOARDS = [
    {"type": "voice", "channels": 4},
    {"type": "t1", "signalling": "em_wink"},
    {"type": "stations", "count": 2},
    {"type": "conference", "dsps": 1},
    {"type": "e1", "signalling": "cas"},
    {"type": "e1", "signalling": "ccs"},
]


class TestDahdiDriverNamedAsTheBoards(DriverConformance, VoiceConformance, BusConformance,
                                      TrunkConformance, StationConformance, E1Conformance,
                                      ConferenceConformance, SilenceLevelConformance,
                                   SpanMaintenanceConformance):
    """The R4 suite's chassis through DAHDI, named as its boards (as the
    server names them): the same devices pass the same suites, an E1's
    timeslots T1-T30, the E1 CCS span's D-channel a hardhdlc channel
    (dtiB3D)."""

    @pytest.fixture
    def chassis(self):
        sim = Simulator.from_config(R4_BOARDS, seed=1)
        clock = task.Clock()
        conf = systemconf.parse(simulated_system_conf(R4_BOARDS), "simulated system.conf")
        layout = [BoardLayout(b["type"], b.get("channels") or b.get("count") or b.get("dsps"))
                  for b in R4_BOARDS]
        driver = DahdiDriver(SimulatedDevices(), conf, clock, boards=layout)
        events = []
        driver.subscribe(events.append)

        def run(ms):
            for _ in range(0, ms, STEP_MS):
                sim.advance(STEP_MS)
                clock.advance(STEP_MS / 1000.0)
                driver.poll()

        return Chassis(driver=driver, run=run, voice="dxxxB1C1", voice2="dxxxB1C2",
                       station="msiB1C1", timeslot="dtiB1T1", dsp="dcbB1D1", events=events,
                       advance_board_only=sim.advance, e1_timeslot="dtiB2T1",
                       dchannel="dtiB3D", clocks=(clock,))


def test_three_parties_in_a_dahdi_conference_each_hear_the_other_two():
    """A caller, an agent and a supervisor (listen only) in one conference:
    each hears the others and not itself; the listen-only party is not
    heard; the last one out ends it."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    caller, agent, boss = (rig.sim.endpoint(n) for n in ("dtiB1T1", "msiB1C1", "msiB1C2"))
    caller.call(dnis="4001")
    rig.run(600)
    d.set_bits("dahdiC7", 1, 1)
    agent.offhook()
    boss.offhook()
    slots = {n: d.transmit_slot(n) for n in ("dahdiC7", "dahdiC62", "dahdiC63")}
    room = d.conference_room("dahdiConf")
    conference, outputs = d.conference_create("dahdiConf", [
        (slots["dahdiC7"], "normal"), (slots["dahdiC62"], "normal"),
        (slots["dahdiC63"], "listen_only")])
    assert d.conference_room("dahdiConf") == room - 3
    for name, slot in slots.items():
        d.listen(name, outputs[slot])
    rig.run(100)
    for end in (caller, agent, boss):
        end.capture(True)
    caller.send_audio(tone(1000, 600))
    agent.send_audio(tone(1800, 600))
    boss.send_audio(tone(600, 600))
    rig.run(800)
    heard = {"caller": caller.read_capture(), "agent": agent.read_capture(),
             "boss": boss.read_capture()}
    assert hears(heard["caller"], 1800) and not hears(heard["caller"], 1000)
    assert hears(heard["agent"], 1000) and not hears(heard["agent"], 1800)
    assert hears(heard["boss"], 1000) and hears(heard["boss"], 1800)
    assert not hears(heard["caller"], 600) and not hears(heard["agent"], 600)
    with pytest.raises(errors.ConferenceError, match="no whisper"):
        d.conference_set_role("dahdiConf", conference, slots["dahdiC63"], "coach")
    d.conference_delete("dahdiConf", conference)
    assert d.conference_room("dahdiConf") == room


class IsdnSpan:
    """An E1 CCS span through DAHDI, named as the boards: its D-channel
    (dtiB1D, a hardhdlc channel) and the far end's (the simulated telco's)."""

    BOARDS = [{"type": "e1", "signalling": "ccs"}]

    def __init__(self):
        self.sim = Simulator.from_config(self.BOARDS, seed=1)
        self.clock = task.Clock()
        conf = systemconf.parse(simulated_system_conf(self.BOARDS), "simulated system.conf")
        self.driver = DahdiDriver(SimulatedDevices(), conf, self.clock,
                                  boards=[BoardLayout("e1")])
        self.far = self.sim.dchannel("dtiB1")
        self.events = []
        self.driver.subscribe(self.events.append)
        self.far_got = []

    def run(self, ms):
        for _ in range(0, ms, STEP_MS):
            self.sim.advance(STEP_MS)
            self.clock.advance(STEP_MS / 1000.0)
            self.driver.poll()
            while (frame := self.far.receive()) is not None:
                self.far_got.append(frame)

    def frames(self):
        return [e["frame"] for e in self.events if e.kind == "dchannel_frame"]


def test_a_d_channel_carries_whole_frames_both_ways_its_fcs_the_card_s():
    """What we send reaches the far end as it was (the two bytes written
    after it, where the card puts the FCS, never travel); what the far end
    sends comes up as one dchannel_frame, its FCS dropped; the span says
    which is its D-channel."""
    span = IsdnSpan()
    d = span.driver
    assert ("dtiB1D", "dchannel", "dtiB1") in {(i.name, i.kind, i.board) for i in d.inventory()}
    assert d.status("dtiB1")["dchannel"] == "dtiB1D"
    assert d.status("dtiB1")["signalling"] == "ccs"
    d.dchannel_send("dtiB1D", b"\x02\x01\x7f")
    d.dchannel_send("dtiB1D", bytes(range(200)))
    span.far.send(b"\x00\x01\x73")
    span.run(100)
    assert span.far_got == [b"\x02\x01\x7f", bytes(range(200))]
    assert span.frames() == [b"\x00\x01\x73"]
    with pytest.raises(errors.BadParameter, match="not a D-channel"):
        d.dchannel_send("dtiB1T1", b"\x02\x01\x7f")
    with pytest.raises(errors.BadParameter, match="1 to 1022 bytes"):
        d.dchannel_send("dtiB1D", b"")
    with pytest.raises(errors.BadParameter, match="D-channel: whole frames only"):
        d.play("dtiB1D", [Prompt(b"\xff" * 80, "ulaw")])


def test_a_frame_the_card_lost_is_logged_and_the_next_ones_come():
    """DAHDI tells of a frame lost to a bad FCS by an event where the frame
    would be read (ELAST): the driver logs it and reads on."""
    span = IsdnSpan()
    channo = span.driver.status("dtiB1D")["channo"]
    lib = _dahdi.lib
    assert lib.cti_dahdisim_queue_event(channo, lib.DAHDI_EVENT_BADFCS) == 0
    span.far.send(b"\x00\x01\x73")
    with capturedLogs() as logged:
        span.run(100)
    assert "dtiB1D: a frame was lost to a bad FCS" in [formatEvent(e) for e in logged]
    assert span.frames() == [b"\x00\x01\x73"]


def test_a_d_channel_whose_frames_wait_a_second_is_busy():
    span = IsdnSpan()
    with pytest.raises(errors.DeviceBusy, match="transmit buffers are full"):
        for _ in range(40):
            span.driver.dchannel_send("dtiB1D", bytes(500))


def test_a_channel_held_elsewhere_is_busy_and_named_and_a_probe_takes_nothing():
    """The kernel lets one program have a channel (EBUSY on a second
    DAHDI_SPECIFY): a second cti, or Asterisk, is told which channel and
    who may hold it.  A probe (cti server --check) and status() open
    nothing, so they work beside a running server."""
    span = IsdnSpan()
    conf = systemconf.parse(simulated_system_conf(IsdnSpan.BOARDS), "system.conf")
    with pytest.raises(errors.DeviceBusy, match=r"DAHDI channel 16 is open elsewhere: "
                       r"Asterisk's chan_dahdi, another cti\?"):
        DahdiDriver(SimulatedDevices(), conf, task.Clock(), boards=[BoardLayout("e1")])
    probe = DahdiDriver(SimulatedDevices(), conf, task.Clock(), boards=[BoardLayout("e1")],
                        probe=True)
    assert probe.status("dtiB1T1")["state"] == "closed"
    span.driver.open("dtiB1T1")
    with pytest.raises(errors.DeviceBusy, match="DAHDI channel 1 is open elsewhere"):
        probe.open("dtiB1T1")
    assert probe.status("dtiB1T1")["state"] == "closed"
    assert span.driver.status("dtiB1T1")["state"] == "idle"


def test_an_isdn_b_channel_opens_and_carries_a_prompt_to_the_far_end():
    """A B-channel (bchan: clear) opens without audio on the kernel: the
    driver puts it in audio mode before asking for 16-bit linear, as
    chan_dahdi does, and the far end hears what we play there."""
    span = IsdnSpan()
    far = span.sim.endpoint("dtiB1T1")
    far.capture(True)
    span.driver.play("dtiB1T1", [Prompt(tone_ulaw(1000, 600), "ulaw")])
    span.run(800)
    assert hears(far.read_capture(), 1000)
    assert [e.kind for e in span.events if e.kind == "play_done"] == ["play_done"]


def test_libpri_comes_up_on_a_dahdi_d_channel_and_a_call_is_offered():
    """libpri as the CPE on the DAHDI D-channel, the telco's libpri as the
    network on the far end: Q.921 comes up on both sides, and the network's
    SETUP reaches us with its B-channel and numbers."""
    span = IsdnSpan()
    seen = {"net": [], "cpe": []}
    cpe = PriLink("dtiB1D", "cpe", "euroisdn_e1", span.clock,
                  send=lambda frame: span.driver.dchannel_send("dtiB1D", frame),
                  on_event=seen["cpe"].append)
    net = PriLink("telco", "network", "euroisdn_e1", span.clock, send=span.far.send,
                  on_event=seen["net"].append)
    span.driver.subscribe(lambda e: cpe.receive(e["frame"]) if e.kind == "dchannel_frame"
                          else None)

    def run(ms):
        span.run(ms)
        while span.far_got:
            net.receive(span.far_got.pop(0))

    for _ in range(30):
        run(100)
    assert [e.kind for e in seen["cpe"]][:1] == [e.kind for e in seen["net"]][:1] == [
        "dchannel_up"]
    net.setup(3, "8001", "13800138000", "Alice")
    for _ in range(5):
        run(100)
    [ring] = [e for e in seen["cpe"] if e.kind == "setup"]
    assert (ring.channel, ring.called, ring.calling) == (3, "8001", "13800138000")


def test_an_empty_prompt_ends_at_once_and_an_ioctl_without_its_argument_is_efault():
    """An empty prompt (no samples: no buffer at all) plays and ends with
    end_of_data; a record taken before anything was heard is empty; an
    ioctl given no argument is EFAULT, as the kernel's copy_from_user."""
    rig = DahdiRig(BOARDS)
    rig.driver.play("dahdiC1", [Prompt(b"", "ulaw")])
    rig.run(100)
    assert [e["reasons"] for e in rig.events if e.kind == "play_done"] == [{"end_of_data"}]
    voice = _dahdi.ffi.gc(_dahdi.lib.cti_chanvoice_new(_dahdi.lib.CTI_TONESET_NA),
                          _dahdi.lib.cti_chanvoice_free)
    out = _dahdi.ffi.new("int16_t[8]")
    assert _dahdi.lib.cti_chanvoice_take(voice, out, 8) == 0
    assert _dahdi.lib.cti_chanvoice_lost(voice) == 0
    devices = rig.driver.devices
    fd = devices.open(CHANNEL_PATH)
    try:
        with pytest.raises(OSError) as refused:
            devices.ioctl(fd, _dahdi.lib.DAHDI_SPECIFY, _dahdi.ffi.NULL)
        assert refused.value.errno == _dahdi.lib.EFAULT
    finally:
        devices.close(fd)


def _bufinfo(devices, fd, numbufs, bufsize):
    """SET_BUFINFO then GET_BUFINFO: the buffers the channel has now."""
    buffers = _dahdi.ffi.new("struct dahdi_bufferinfo *")
    buffers.txbufpolicy = buffers.rxbufpolicy = _dahdi.lib.DAHDI_POLICY_IMMEDIATE
    buffers.numbufs, buffers.bufsize = numbufs, bufsize
    devices.ioctl(fd, _dahdi.lib.DAHDI_SET_BUFINFO, buffers)
    devices.ioctl(fd, _dahdi.lib.DAHDI_GET_BUFINFO, buffers)
    return buffers.numbufs, buffers.bufsize


def test_set_bufinfo_takes_what_the_kernel_takes_and_the_driver_asks_within_it():
    """The kernel's DAHDI_SET_BUFINFO refuses (EINVAL) a buffer over
    DAHDI_MAX_BLOCKSIZE or under 16 bytes and more than DAHDI_MAX_BUF_SPACE
    bytes in all; more than DAHDI_MAX_NUM_BUFS buffers, or fewer than 2,
    are taken as those (dahdi_reallocbufs).  A D-channel's 32 buffers of
    1024 bytes are the most it takes, and the driver opens one."""
    span = IsdnSpan()
    assert span.driver.status("dtiB1D")["state"] == "open"
    devices = SimulatedDevices()
    fd = devices.open(CHANNEL_PATH)
    try:
        devices.ioctl(fd, _dahdi.lib.DAHDI_SPECIFY, _dahdi.ffi.new("int *", 1))
        for numbufs, bufsize in ((32, 1025), (2, 8193), (4, 15), (5, 8192)):
            with pytest.raises(OSError) as refused:
                _bufinfo(devices, fd, numbufs, bufsize)
            assert refused.value.errno == errno.EINVAL, (numbufs, bufsize)
        assert _bufinfo(devices, fd, 32, 1024) == (32, 1024)
        assert _bufinfo(devices, fd, 40, 16) == (32, 16)
        assert _bufinfo(devices, fd, 1, 160) == (2, 160)
    finally:
        devices.close(fd)


def test_buffers_the_kernel_refuses_are_an_error_naming_the_channel_and_the_values(
        monkeypatch):
    monkeypatch.setattr("drivers.dahdi.DCHANNEL_BUFSIZE", 2048)
    with pytest.raises(errors.BadParameter, match=r"DAHDI channel 16 refused 32 buffers of "
                       r"2048 bytes: the kernel takes 16 to 8192 bytes a buffer and 32768 "
                       r"bytes in all") as refused:
        IsdnSpan()
    assert refused.value.function == "DAHDI_SET_BUFINFO"


def _chanconfig(channo, sigtype, master=0, idlebits=0):
    """DAHDI_CHANCONFIG on the control node, as dahdi_cfg sends it."""
    devices = SimulatedDevices()
    ctl = devices.open("/dev/dahdi/ctl")
    try:
        config = _dahdi.ffi.new("struct dahdi_chanconfig *")
        config.chan, config.sigtype = channo, sigtype
        config.master, config.idlebits = master, idlebits
        devices.ioctl(ctl, _dahdi.lib.DAHDI_CHANCONFIG, config)
    finally:
        devices.close(ctl)


def test_a_slave_of_a_clear_bundle_is_refused_naming_its_master_and_the_line():
    """clear=1-15 makes one bundle of the channels (dahdi_cfg: 2-15 slaves
    of 1, with 1's signalling, so GET_PARAMS says clear): the kernel
    refuses to open a slave (EBUSY), said as such, not as a channel
    another program has."""
    class Bundled(IsdnSpan):
        def __init__(self):
            self.sim = Simulator.from_config(self.BOARDS, seed=1)
            for channo in range(2, 16):
                _chanconfig(channo, _dahdi.lib.DAHDI_SIG_SLAVE, master=1)
            conf = systemconf.parse("span=1,1,0,ccs,hdb3,crc4\nclear=1-15\nbchan=17-31\n"
                                    "hardhdlc=16\n", "/etc/dahdi/system.conf")
            self.driver = DahdiDriver(SimulatedDevices(), conf, task.Clock())

    span = Bundled()
    span.driver.open("dahdiC1")
    with pytest.raises(errors.DeviceBusy, match=r"system.conf:2: DAHDI channel 5 is a slave "
                       r"of channel 1: a clear= line makes its channels one bundle"):
        span.driver.open("dahdiC5")
    span.driver.open("dahdiC17")


def test_channels_the_kernel_will_not_open_are_refused_saying_why():
    """DAHDI_SPECIFY as dahdi_specchan_open answers: a channel dahdi_cfg
    made a dacs cross-connect since the driver started (EBUSY), one it left
    unconfigured (ENXIO), one whose board went (EINVAL: unregistered) - each
    named with its system.conf line and what to run."""
    rig = DahdiRig(BOARDS)
    _chanconfig(8, _dahdi.lib.DAHDI_SIG_DACS, idlebits=9)
    with pytest.raises(errors.DeviceBusy, match=r"system.conf:6: DAHDI channel 8 is "
                       r"cross-connected \(dacs\) in the kernel"):
        rig.driver.open("dahdiC8")
    _chanconfig(10, _dahdi.lib.DAHDI_SIG_NONE)
    with pytest.raises(errors.NoSuchDevice, match=r"system.conf:6: DAHDI channel 10 is not "
                       r"configured in the kernel: run dahdi_cfg -vv .* dahdi_scan"):
        rig.driver.open("dahdiC10")
    assert _dahdi.lib.cti_dahdisim_unplug(4) == 0          # the E1 CAS span
    rig.run(1_000)                                          # the kernel unregisters it
    with pytest.raises(errors.NoSuchDevice, match=r"system.conf:8: DAHDI channel 31 is not "
                       r"in the kernel \(a card missing, or its board removed\)"):
        rig.driver.open("dahdiC31")
    rig.driver.open("dahdiC7")                              # the others open as before


def test_enodev_from_an_operation_is_the_board_removed_said_as_such():
    """The kernel unregisters a removed board's channels a second after
    queueing REMOVED: from then every call on them is ENODEV, read or
    not.  An operation meeting it first (an e&m seizure, an FXO port's
    hook) gets DeviceRemoved naming the channel, and the channel is gone
    as REMOVED would have made it: its alarm "removed" reported, its span's
    too, nothing asked of it again; the other spans go on."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.open("dahdiC7")
    d.open("dahdiC1")
    d.enable_alarm_events("dahdiS3")
    assert _dahdi.lib.cti_dahdisim_unplug(3) == 0          # the T1
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0          # the first analog board
    rig.sim.advance(1_100)                  # the reactor late: REMOVED unread
    with pytest.raises(errors.DeviceRemoved, match=r"DAHDI_HOOK\(dahdiC7\): its board was "
                       r"removed \(DAHDI channel 7, span dahdiS3\)"):
        d.set_bits("dahdiC7", 1, 1)
    with pytest.raises(errors.DeviceRemoved, match=r"DAHDI_HOOK\(dahdiC1\): its board was "
                       r"removed \(DAHDI channel 1, span dahdiS1\)"):
        d.set_hook("dahdiC1", True)
    assert d.status("dahdiC7")["state"] == "removed"
    assert d.abcd("dahdiC7") == ("0000", "0000")
    d.set_bits("dahdiC7", 0, 0)                             # letting go: nothing to send
    with pytest.raises(errors.DeviceRemoved):
        d.play("dahdiC7", [])
    assert d.alarms("dahdiS3") == {"removed"}
    assert d.status("dahdiS3")["alarms"] == ["removed"]
    rig.run(100)
    alarms = {(e.device, e["alarm"], e["raised"]) for e in rig.events if e.kind == "alarm"}
    assert {("dahdiC7", "removed", True), ("dahdiC1", "removed", True),
            ("dahdiS3", "removed", True)} <= alarms
    d.set_bits("dahdiC31", 1, 0, 0, 1)                      # the E1 goes on
    rig.run(100)
    assert d.abcd("dahdiC31")[0] == "1001"


def test_a_board_unplugged_with_none_of_its_channels_open_is_gone_at_once():
    """dahdi_unregister_device sleeps its second only for a span with a
    channel open (someone to read REMOVED): the second analog board,
    none of its channels open, is unregistered at once, so its span says
    "removed" with no time passing and its channels are not in the
    kernel any more; the first board, a line open, has its second."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.open("dahdiC1")
    assert _dahdi.lib.cti_dahdisim_unplug(2) == 0          # the second analog board
    assert d.alarms("dahdiS2") == {"removed"}
    with pytest.raises(errors.NoSuchDevice, match=r"DAHDI channel 5 is not in the kernel"):
        d.open("dahdiC5")
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0          # the first: dahdiC1 open
    assert d.alarms("dahdiS1") == {"not_open"}              # registered a second more
    rig.sim.advance(500)
    assert d.alarms("dahdiS1") == {"not_open"}
    rig.sim.advance(600)
    assert d.alarms("dahdiS1") == {"removed"}


def test_a_removed_isdn_span_s_d_channel_refuses_frames_saying_why():
    """An E1 CCS board unplugged: its D-channel (read for frames from the
    start) takes REMOVED, and a frame libpri sends then is refused with
    DeviceRemoved, as is audio on its B-channels; the span's alarm is
    "removed"."""
    span = IsdnSpan()
    span.driver.enable_alarm_events("dtiB1")
    span.driver.open("dtiB1T1")
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0
    span.run(100)
    assert span.driver.status("dtiB1D")["state"] == "removed"
    with pytest.raises(errors.DeviceRemoved, match=r"dchannel_send\(dtiB1D\): its board was "
                       r"removed \(DAHDI channel 16, span dtiB1\)"):
        span.driver.dchannel_send("dtiB1D", b"\x00\x01\x7f")
    with pytest.raises(errors.DeviceRemoved, match=r"play\(dtiB1T1\)"):
        span.driver.play("dtiB1T1", [Prompt(tone_ulaw(1000, 100), "ulaw")])
    assert [(e.device, e["alarm"], e["raised"]) for e in span.events
            if e.kind == "alarm" and e.device == "dtiB1"] == [("dtiB1", "removed", True)]


def test_a_conference_lets_go_of_parties_whose_boards_were_removed():
    """A conference of an FXO port's line, a T1 timeslot and a phone: the
    FXO board unplugged, its line is refused a new role or conference
    (DeviceRemoved, as a removed phone is) and leaves without a word; the
    T1 unplugged with its REMOVED not read yet (ENODEV on SETCONF), the
    conference still ends whole and its room is back; the phone, on a
    board still there, joins the next one."""
    rig = DahdiRig(BOARDS)
    d = rig.driver
    d.open("dahdiC1")
    d.line_unlisten("dahdiC1")                              # it heard its voice
    slots = {"line": d.line_transmit_slot("dahdiC1"), "timeslot": d.transmit_slot("dahdiC7"),
             "phone": d.transmit_slot("dahdiC62")}
    room = d.conference_room("dahdiConf")
    conference, _ = d.conference_create("dahdiConf", [(slot, "normal")
                                                      for slot in slots.values()])
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0          # the first analog board
    rig.run(100)
    with pytest.raises(errors.DeviceRemoved, match=r"conference_set_role\(dahdiC1\): its "
                       r"board was removed \(DAHDI channel 1, span dahdiS1\)"):
        d.conference_set_role("dahdiConf", conference, slots["line"], "listen_only")
    d.conference_remove("dahdiConf", conference, slots["line"])
    with pytest.raises(errors.DeviceRemoved, match=r"conference_add\(dahdiC1\)"):
        d.conference_add("dahdiConf", conference, slots["line"], "normal")
    with pytest.raises(errors.DeviceRemoved, match=r"conference_create\(dahdiC1\)"):
        d.conference_create("dahdiConf", [(slots["line"], "normal")])
    assert _dahdi.lib.cti_dahdisim_unplug(3) == 0          # the T1
    rig.sim.advance(1_100)                  # the reactor late: REMOVED unread, ENODEV
    d.conference_delete("dahdiConf", conference)
    assert d.conference_room("dahdiConf") == room
    assert d.status("dahdiC7")["state"] == "removed"
    again, _ = d.conference_create("dahdiConf", [(slots["phone"], "normal"),
                                                 (d.transmit_slot("dahdiC63"), "normal")])
    d.conference_delete("dahdiConf", again)
    assert d.conference_room("dahdiConf") == room


@pytest.mark.parametrize("sigtype, said", [
    (_dahdi.lib.DAHDI_SIG_DACS, r"channel 8 \(e&m\): DAHDI has it cross-connected \(dacs\), "
                                r"not e&m \(0x40\): run dahdi_cfg -vv"),
    (_dahdi.lib.DAHDI_SIG_NONE, r"channel 8 \(e&m\): DAHDI has it unconfigured \(dahdi_cfg "
                                r"not run, or unused\), not e&m"),
])
def test_a_channel_the_kernel_has_otherwise_stops_the_driver_saying_how(sigtype, said):
    """At start, a system.conf channel the kernel has cross-connected or
    unconfigured (dahdi_cfg run with another file, or not at all) is said
    in words, with what to run."""
    Simulator.from_config(BOARDS, seed=1)
    _chanconfig(8, sigtype, idlebits=9)
    with pytest.raises(errors.BadParameter, match=said):
        DahdiDriver(SimulatedDevices(), systemconf.parse(SYSTEM_CONF, "system.conf"),
                    task.Clock())
