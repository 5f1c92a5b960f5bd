# SPDX-License-Identifier: GPL-2.0-or-later
"""The binding: errors carry the vendor code, function and device; WAV
headers are read as the boards need; events reach the reactor through the
descriptor."""
import struct

import pytest
from twisted.internet.testing import MemoryReactor

from drivers import errors
from drivers.interface import Prompt, Termination
from drivers.pump import EventPump
from drivers.r4 import lib
from drivers.wavinfo import WavFormatError, wav_format
from tests.rig import Rig


def wav_header(tag=7, channels=1, rate=8000, bits=8, extra_chunk=b""):
    fmt = struct.pack("<4sIHHIIHH", b"fmt ", 16, tag, channels, rate, rate * bits // 8,
                      channels * bits // 8, bits)
    body = b"WAVE" + extra_chunk + fmt + b"data" + struct.pack("<I", 4) + b"\xff" * 4
    return b"RIFF" + struct.pack("<I", len(body)) + body


@pytest.fixture
def rig():
    return Rig([{"type": "analog", "lines": 2}, {"type": "voice", "channels": 2}])


def test_board_errors_carry_vendor_code_function_and_device(rig):
    with pytest.raises(errors.BusMisuse) as caught:
        rig.driver.listen("dxxxB2C1", 4000)
    e = caught.value
    assert e.code == lib.EDX_SH_BADEXTTS
    assert e.function == "dx_listen"
    assert e.device == "dxxxB2C1"
    assert "4000" in e.message and "not driven" in e.message
    assert isinstance(e, errors.BoardError) and isinstance(e, errors.DriverError)


def test_busy_channel_error(rig):
    rig.driver.play("dxxxB2C1", [Prompt(b"\xff" * 8000, "ulaw")])
    with pytest.raises(errors.DeviceBusy):
        rig.driver.dial("dxxxB2C1", "1")


def test_sethook_on_a_channel_without_line_says_why(rig):
    with pytest.raises(errors.BadParameter) as caught:
        rig.driver.set_hook("dxxxB2C1", True)
    assert "no analog line" in str(caught.value)


def test_caller_id_before_any_call_is_unavailable(rig):
    with pytest.raises(errors.CallerIdUnavailable):
        rig.driver.caller_id("dxxxB1C1")


def test_a_wav_that_is_not_a_wav_is_refused_before_playing(rig, tmp_path):
    bad = tmp_path / "prompt.wav"
    bad.write_bytes(b"MThd not a wave file at all")
    with pytest.raises(errors.BadAudioFile) as caught:
        rig.driver.play("dxxxB2C1", [Prompt(str(bad))])
    assert "prompt.wav" in str(caught.value)
    assert rig.driver.status("dxxxB2C1")["state"] == "idle"


def test_a_missing_prompt_file_is_named(rig, tmp_path):
    with pytest.raises(errors.BadParameter) as caught:
        rig.driver.play("dxxxB2C1", [Prompt(str(tmp_path / "nope.vox"), "vox")])
    assert "nope.vox" in str(caught.value)


def test_prompts_of_one_play_share_a_format(rig):
    with pytest.raises(errors.BadParameter) as caught:
        rig.driver.play("dxxxB2C1", [Prompt(b"\xff", "ulaw"), Prompt(b"\x00", "alaw")])
    assert "share a format" in str(caught.value)


def test_termination_times_beyond_the_board_are_refused(rig):
    with pytest.raises(errors.BadParameter):
        rig.driver.collect_digits("dxxxB2C1", Termination(max_time_ms=10_000_000))


@pytest.mark.parametrize("tag,bits,expected", [(1, 16, "pcm16"), (6, 8, "alaw"),
                                               (7, 8, "ulaw")])
def test_wav_format_of_each_board_format(tag, bits, expected):
    assert wav_format(wav_header(tag=tag, bits=bits)) == expected


def test_wav_format_skips_unknown_chunks():
    extra = b"LIST" + struct.pack("<I", 3) + b"abc\x00"     # odd size, padded
    assert wav_format(wav_header(extra_chunk=extra)) == "ulaw"


@pytest.mark.parametrize("header,words", [
    (b"RIFX....WAVE", "not a RIFF"),
    (wav_header(rate=16000), "16000 Hz"),
    (wav_header(channels=2), "2 channel"),
    (wav_header(tag=85), "format tag 85"),
    (wav_header(tag=1, bits=8), "8 bits"),
])
def test_wav_format_errors_say_what_is_wrong(header, words):
    with pytest.raises(WavFormatError) as caught:
        wav_format(header, "hello.wav")
    assert words in str(caught.value) and "hello.wav" in str(caught.value)


def test_pump_hands_board_events_to_subscribers_when_readable(rig):
    reactor = MemoryReactor()
    pump = EventPump(rig.driver, reactor)
    pump.startService()
    assert pump in reactor.getReaders()
    assert pump.fileno() == rig.driver.fileno() >= 0
    rig.driver.play("dxxxB2C1", [Prompt(b"\xff" * 160, "ulaw")])
    rig.sim.advance(100)
    before = len(rig.events)
    pump.doRead()
    assert [e.kind for e in rig.events[before:]] == ["play_done"]
    pump.stopService()
    assert pump not in reactor.getReaders()
