# SPDX-License-Identifier: GPL-2.0-or-later
"""The voice modem driver (drivers.modem) against our V.253 modem
simulator: the conformance suites a modem can pass (the driver's, the
voice channel's, the analog line's: hook, ring, caller ID, audio both
ways through DLE, keys, dialling), in memory and through a real pty pair
with Twisted's SerialPort; what it refuses, whole; caller ID in every
dialect; DLE shielding of audio both ways; the watchdog on a modem that
stops answering; the dial results."""
import pytest
from twisted.internet import task

from drivers import errors, g711
from drivers.interface import CallProgress, Prompt, Termination
from drivers.modem import REFUSED, ModemSettings, VoiceModemDriver, serial_ports
from drivers.wavinfo import wav_file, wav_samples
from simulators.serialline import SerialLine
from simulators.voicemodem import VoiceModemSimulator
from tests.conformance import (
    AnalogLineConformance,
    Chassis,
    DriverConformance,
    VoiceConformance,
    tone_ulaw,
)
from tests.rig import hears, tone
from tests.serialpty import PtyDevice, PtyReactor

LINE, LINE2 = "mdmB1C1", "mdmB2C1"


class Modems:
    """Voice modems on simulated serial lines (in memory, or real ptys),
    the driver over them, and one clock."""

    def __init__(self, count=2, pty=False, settings=None, style="v253"):
        self.clock = task.Clock()
        self.sims = [VoiceModemSimulator(self.clock, caller_id_style=style)
                     for _ in range(count)]
        settings = settings or ModemSettings("")
        if pty:
            self.reactor = PtyReactor(self.clock)
            self.ptys = [PtyDevice(sim, self.reactor) for sim in self.sims]
            modems = [ModemSettings(p.path, compression=settings.compression,
                                    audio=settings.audio, init=settings.init)
                      for p in self.ptys]
            connect = serial_ports(self.reactor)
        else:
            self.reactor, self.ptys = None, []
            modems = [settings] * count
            sims = iter(self.sims)

            def connect(_, protocol):
                SerialLine(self.clock).connect(protocol, next(sims))
        self.driver = VoiceModemDriver(modems, self.clock, connect)
        self.events = []
        self.driver.subscribe(self.events.append)
        self.run(100)                        # ATZ and the set-up

    def run(self, ms):
        if self.reactor is not None:
            self.reactor.run(ms)
        else:
            for _ in range(0, ms, 10):
                self.clock.advance(0.01)

    def of(self, kind, device=LINE):
        return [e for e in self.events if e.kind == kind and e.device == device]

    def close(self):
        for p in self.ptys:
            p.close()


class ModemFarLine:
    """tests.conformance.FarLine over the simulator's telephone line."""

    def __init__(self, sim):
        self.sim = sim
        self.mark = 0

    def call(self, number, name):
        self.sim.call(number, name)

    def abandon(self):
        self.sim.abandon()

    def press(self, keys):
        self.sim.press(keys)

    def say_tone(self, freq, ms):
        self.sim.say(g711.encode(tone(freq, ms).tobytes(), "ulaw"))

    def hang_up(self):
        self.sim.hang_up("loop")

    def listen(self):
        self.mark = len(self.sim.heard)

    def hears(self, freq):
        from array import array

        return hears(array("h", g711.decode(bytes(self.sim.heard[self.mark:]), "ulaw")), freq)

    def answer_calls_out(self):
        self.sim.outbound = "answer"

    def dialled(self):
        return self.sim.dialled[-1]


def line_chassis(modems):
    return Chassis(driver=modems.driver, run=modems.run, voice=LINE, voice2=LINE2,
                   events=modems.events, advance_board_only=modems.run, line=LINE,
                   far=ModemFarLine(modems.sims[0]), clocks=(modems.clock,))


class TestVoiceModemDriver(DriverConformance, VoiceConformance):
    """Both modems off hook: voice channels."""

    @pytest.fixture
    def chassis(self):
        modems = Modems()
        for name in (LINE, LINE2):
            modems.driver.set_hook(name, True)
        modems.run(100)
        modems.events.clear()
        return line_chassis(modems)


class TestVoiceModemLine(AnalogLineConformance):
    @pytest.fixture
    def chassis(self):
        return line_chassis(Modems())


class TestVoiceModemLineOverAPty(AnalogLineConformance):
    """The same line suite with the driver on Twisted's SerialPort and
    pyserial, the simulator on the master of a real pty pair."""

    @pytest.fixture
    def chassis(self):
        modems = Modems(pty=True)
        yield line_chassis(modems)
        modems.close()


@pytest.fixture
def modems():
    return Modems()


def answered(modems, name=LINE, sim=0):
    modems.driver.enable_events(name, {"ring", "digit", "loop_current", "tone", "silence"})
    modems.sims[sim].call("5551234", "")
    modems.run(500)
    modems.driver.set_hook(name, True)
    modems.run(100)
    return modems.sims[sim]


# ---- set-up and refusals -------------------------------------------------------

def test_the_modem_is_set_up_for_voice_and_caller_id_its_echo_ignored(modems):
    sim = modems.sims[0]
    assert sim.commands == ["ATZ", "ATE0V1", "AT+FCLASS=8", "AT+VSM=4,8000", "AT+IFC=2,2",
                            "AT+VCID=1"]
    assert not sim.echo and sim.voice and sim.caller_id == 1
    status = modems.driver.status(LINE)
    assert (status["ready"], status["state"], status["hook"]) == (True, "idle", "on")
    assert [i.name for i in modems.driver.inventory()] == [
        "mdmB1", LINE, LINE + "/line", "mdmB2", LINE2, LINE2 + "/line"]


@pytest.mark.parametrize("call", sorted(REFUSED))
def test_what_a_modem_cannot_do_is_refused_naming_the_call_and_why(modems, call):
    method = getattr(modems.driver, call)
    with pytest.raises(errors.DriverNotSupported) as caught:
        method(LINE, *([0] * (method.__code__.co_argcount - 2)))
    assert caught.value.function == call and caught.value.device == LINE
    assert REFUSED[call].replace("{family}", "modem") in str(caught.value)


def test_mf_keys_a_tone_of_no_length_and_speech_time_are_refused(modems):
    d = modems.driver
    with pytest.raises(errors.DriverNotSupported, match="DTMF keys only"):
        d.set_digit_types(LINE, dtmf=True, mf=True)
    with pytest.raises(errors.BadParameter, match="set time"):
        d.play_tone(LINE, 440)
    with pytest.raises(errors.BadParameter, match="max_nonsilence_ms"):
        d.collect_digits(LINE, Termination(max_digits=1, max_nonsilence_ms=100))
    with pytest.raises(errors.NoSuchDevice, match="mdmB9C1"):
        d.set_hook("mdmB9C1", True)


# ---- caller ID from the modem ---------------------------------------------------

@pytest.mark.parametrize("style, init", [
    ("v253", ("AT+VCID=1",)),                # DATE=0321 ... without spaces
    ("rockwell", ("AT+VCID=1",)),            # DATE = 0321 ... with spaces
    ("v253", ("AT#CID=1",)),                 # Rockwell-era command: its own format
    ("zyxel", ("AT+VCID=1",)),               # CALLER NUMBER: / CALLER NAME:
    ("v253", ("AT+VCID=2",)),                # the data message in hex
])
def test_caller_id_from_the_modem_in_each_dialect(style, init):
    modems = Modems(count=1, style=style, settings=ModemSettings("", init=init))
    modems.driver.enable_events(LINE, {"ring"})
    modems.sims[0].call("13800138000", "WANG")
    modems.run(4_000)
    cid = modems.driver.caller_id(LINE)
    assert (cid.number, cid.name) == ("13800138000", "WANG")
    assert len(modems.of("ring")) == 1


def test_caller_id_with_the_ring_elsa_and_withheld_numbers():
    modems = Modems(count=1, style="elsa")
    modems.driver.enable_events(LINE, {"ring"})
    modems.sims[0].call("5551234", "")
    modems.run(100)
    assert modems.driver.caller_id(LINE).number == "5551234"
    modems.sims[0].abandon()
    modems.run(10_000)
    withheld = Modems(count=1)
    withheld.sims[0].call("P", "")
    withheld.run(4_000)
    assert withheld.driver.caller_id(LINE).number == "P"


def test_a_new_call_forgets_the_last_caller_id(modems):
    modems.driver.enable_events(LINE, {"ring", "ring_stopped"})
    sim = modems.sims[0]
    sim.call("5551234", "ALICE")
    modems.run(4_000)
    sim.abandon()
    modems.run(10_000)
    assert len(modems.of("ring_stopped")) == 1
    sim.call("", "")
    modems.run(7_000)
    assert [e["count"] for e in modems.of("ring")] == [1, 1, 2]
    with pytest.raises(errors.CallerIdUnavailable):
        modems.driver.caller_id(LINE)


# ---- audio through DLE ------------------------------------------------------------

def test_audio_with_dle_bytes_crosses_shielded_both_ways(modems, tmp_path):
    """Samples of value 0x10 (DLE) are doubled on the way out and undone
    on the way in: the far end hears the prompt byte for byte, and a
    recording holds what it said byte for byte."""
    sim = answered(modems)
    prompt = bytes(range(256)) * 8 + b"\x10" * 100
    modems.driver.play(LINE, [Prompt(prompt, "ulaw")])
    modems.run(1_000)
    assert bytes(sim.heard) == prompt
    said = (b"\x10\x10\x7f" * 1000)[:2400]
    sim.say(said)
    path = tmp_path / "raw.ulaw"
    modems.driver.record(LINE, str(path), "ulaw", Termination(max_time_ms=300))
    modems.run(500)
    assert modems.of("record_done")[0]["reasons"] == {"max_time"}
    recorded = path.read_bytes()
    assert 2000 <= len(recorded) <= 2600 and recorded.startswith(said[:2000])


def test_a_wav_prompt_is_converted_to_the_modem_s_law_and_a_law_modems_get_a_law():
    modems = Modems(count=1, settings=ModemSettings("", compression="5,8000", audio="alaw"))
    sim = answered(modems)
    pcm = tone(1000, 500).tobytes()
    modems.driver.play(LINE, [Prompt(wav_file("pcm16", pcm), "wav")])
    modems.run(1_000)
    assert sim.compression == "5,8000" and bytes(sim.heard) == g711.encode(pcm, "alaw")


def test_stopping_a_prompt_stops_it_at_once(modems):
    """The driver keeps half a second of audio ahead of the modem, so a
    stop is heard at once: the far end heard about what had played."""
    sim = answered(modems)
    modems.driver.play(LINE, [Prompt(tone_ulaw(1000, 10_000), "ulaw")])
    modems.run(1_000)
    modems.driver.stop(LINE)
    modems.run(200)
    assert modems.of("play_done")[0]["reasons"] == {"stopped"}
    assert 6_000 <= len(sim.heard) <= 10_000
    assert not modems.driver.busy(LINE)


def test_silence_ends_a_recording_through_the_modem_s_report(modems, tmp_path):
    sim = answered(modems)
    sim.say(tone_ulaw(1000, 1_000))
    modems.driver.record(LINE, str(tmp_path / "m.wav"), "wav-ulaw",
                         Termination(max_silence_ms=2_000, max_time_ms=60_000))
    modems.run(5_000)
    assert "AT+VSD=128,20" in sim.commands
    assert modems.of("record_done")[0]["reasons"] == {"max_silence"}
    fmt, data = wav_samples((tmp_path / "m.wav").read_bytes())
    assert fmt == "ulaw" and 20_000 <= len(data) <= 26_000


def test_the_far_end_s_keys_end_a_recording_and_a_hang_up_ends_a_collection(modems, tmp_path):
    sim = answered(modems)
    modems.driver.record(LINE, str(tmp_path / "m.wav"), "wav",
                         Termination(terminators="#", max_time_ms=60_000))
    modems.run(500)
    sim.press("#")
    modems.run(500)
    assert modems.of("record_done")[0]["reasons"] == {"terminator"}
    modems.driver.collect_digits(LINE, Termination(max_digits=4, loop_off_ms=100,
                                                   max_time_ms=20_000))
    sim.hang_up("loop")
    modems.run(100)
    assert modems.of("digits_done")[0]["reasons"] == {"loop_off"}
    sim.hang_up("busy")
    modems.run(100)
    assert modems.of("tone")[-1].data == {"tone": "busy", "on": True}


# ---- keys, dialling, tones ----------------------------------------------------------

def test_an_inter_digit_gap_ends_a_collection(modems):
    sim = answered(modems)
    modems.driver.collect_digits(LINE, Termination(max_digits=5, inter_digit_ms=1_000,
                                                   inter_digit_from_start=False))
    modems.run(3_000)
    assert modems.of("digits_done") == []          # the gap counts from the first key
    sim.press("12")
    modems.run(2_000)
    done = modems.of("digits_done")[0]
    assert (done["digits"], done["reasons"]) == ("12", {"inter_digit"})


@pytest.mark.parametrize("outbound, result", [
    ("answer", "connected"), ("busy", "busy"), ("no_answer", "no_answer"),
    ("no_dial_tone", "no_dial_tone")])
def test_a_dial_reports_what_the_modem_heard(modems, outbound, result):
    sim = modems.sims[0]
    sim.outbound = outbound
    modems.driver.dial(LINE, "5551000", CallProgress())
    modems.run(40_000)
    assert modems.of("dial_done")[0]["result"] == result
    assert modems.driver.status(LINE)["hook"] == ("off" if result == "connected" else "on")


def test_keys_on_a_line_in_a_call_go_in_band_and_a_dial_can_be_stopped(modems):
    sim = answered(modems)
    modems.driver.dial(LINE, "12,#")
    modems.run(3_000)
    assert modems.of("dial_done")[0]["result"] is None
    assert sim.commands[-1] == "AT+VTS=1,2,[0,0,200],#" and sim.tones == [(0, 0, 2_000)]
    modems.driver.play_tone(LINE, 440, 480, duration_ms=500)
    modems.run(1_000)
    assert modems.of("tone_done")[0]["reasons"] == {"max_time"} and sim.tones[-1] == (
        440, 480, 500)
    caller = modems.sims[1]
    caller.outbound = "no_answer"
    modems.driver.dial(LINE2, "5550000", CallProgress())
    modems.run(1_000)
    modems.driver.stop(LINE2)
    modems.run(100)
    assert modems.of("dial_done", LINE2)[0]["result"] == "stopped"


# ---- a modem that stops answering -------------------------------------------------------

def test_a_modem_that_stops_answering_is_reset_and_the_operation_is_hung(modems):
    sim = answered(modems)
    sim.stall()
    modems.driver.play(LINE, [Prompt(tone_ulaw(1000, 1_000), "ulaw")])
    modems.run(7_000)                         # 1 s + 3 s grace, then 2 s after the stop
    assert modems.of("play_done")[0]["reasons"] == {"hung"}
    assert modems.of("operation_failed")[0].data == {"op": "play", "reason": "hung"}
    sim.recover()
    commands = len(sim.commands)
    modems.run(6_000)                         # the set-up again, after its time-outs
    modems.driver.reset(LINE)
    modems.run(200)
    assert sim.commands[commands:][-7:] == ["ATZ", "ATE0V1", "AT+FCLASS=8", "AT+VSM=4,8000",
                                            "AT+IFC=2,2", "AT+VCID=1", "AT+VLS=1"]
    assert modems.driver.status(LINE)["ready"]


def test_a_prompt_and_a_recording_longer_than_a_command_s_time_run_whole(modems, tmp_path):
    """Once the modem said CONNECT, the operation's own watchdog times its
    audio (a prompt's length, a recording's max time), not the few seconds
    a command has."""
    sim = answered(modems)
    prompt = tone_ulaw(1000, 12_000)
    modems.driver.play(LINE, [Prompt(prompt, "ulaw")])
    modems.run(13_000)
    assert modems.of("play_done")[0]["reasons"] == {"end_of_data"}
    assert bytes(sim.heard) == prompt
    sim.say(tone_ulaw(800, 12_000))
    modems.driver.record(LINE, str(tmp_path / "long.ulaw"), "ulaw",
                         Termination(max_time_ms=10_000))
    modems.run(11_000)
    assert modems.of("record_done")[0]["reasons"] == {"max_time"}
    assert modems.of("operation_failed") == []
    assert 76_000 <= (tmp_path / "long.ulaw").stat().st_size <= 82_000


def test_a_port_that_fails_mid_open_is_closed_and_opened_again_later():
    """The USB modem unplugged, then re-plugged flakily: the first reopen
    opens the port but it vanishes during the flush after (termios
    error); that port is closed again, the modem stays out of service,
    and the next reopen brings it back, set up."""
    import termios

    import serial

    from drivers.interface import REMOVED_ALARM

    made = []

    class Vanishing(serial.Serial):
        def reset_input_buffer(self):
            raise termios.error(5, "Input/output error")

    def factory(*args, **kwargs):
        port = (Vanishing if len(made) == 1 else serial.Serial)(*args, **kwargs)
        made.append(port)
        return port

    clock = task.Clock()
    reactor = PtyReactor(clock)
    pty = PtyDevice(VoiceModemSimulator(clock), reactor)
    driver = VoiceModemDriver([ModemSettings(pty.path)], clock,
                              serial_ports(reactor, serial_factory=factory))
    events = []
    driver.subscribe(events.append)
    try:
        reactor.run(200)
        assert driver.status(LINE)["ready"]
        driver.modem(LINE).transport.loseConnection()      # unplugged
        reactor.run(6_000)                                  # the first reopen fails
        assert len(made) == 2 and not made[1].is_open
        assert REMOVED_ALARM in driver.status(LINE)["alarms"]
        reactor.run(6_000)                                  # the next one takes
        assert len(made) == 3 and driver.status(LINE)["ready"]
        assert [e.data for e in events if e.kind == "alarm"] == [
            {"alarm": REMOVED_ALARM, "raised": True}, {"alarm": REMOVED_ALARM, "raised": False}]
    finally:
        driver.stop_events()
        pty.close()


def test_a_reset_whose_set_up_fails_does_not_take_the_line_off_hook(modems):
    """A modem off hook is reset (as the watchdog does) and its set-up
    goes unanswered: the off-hook that would have put the hook back is
    dropped with the rest of the set-up, so the modem, answering again,
    is not told to go off hook."""
    from drivers.interface import NOT_READY_ALARM

    sim = answered(modems)
    assert sim.offhook
    sim.stall()
    modems.driver.reset(LINE)
    modems.run(4_900)                 # ATZ unanswered: the set-up fails at 5 s
    sim.recover()
    sent = len(sim.commands)
    modems.run(10_000)
    assert "AT+VLS=1" not in sim.commands[sent:]
    assert modems.driver.status(LINE)["alarms"] == [NOT_READY_ALARM]
    modems.driver.stop_events()
