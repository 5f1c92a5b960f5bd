# SPDX-License-Identifier: GPL-2.0-or-later
"""The voice modem's byte-level parsers, from recorded bytes: the DLE
stream splitter (lines, events, shielded audio; fed in every chunk
size), caller ID in each dialect modems print (tests/fixtures/
modem_callerid.toml) and as data messages (the Bellcore example), and
our G.711 against the boards' C codec for every sample."""
import struct
import tomllib
from pathlib import Path

import pytest

from drivers import g711
from drivers.callerid import CallerIdLines, decode_message
from drivers.errors import MalformedData
from drivers.modemstream import (
    ABORT_PLAY,
    DLE_EVENTS,
    END,
    END_OF_DATA,
    STOP_RECORD,
    Audio,
    Code,
    Line,
    ModemStream,
    shield,
)
from drivers.sim import alaw2linear, linear2alaw, linear2ulaw, ulaw2linear
from drivers.wavinfo import wav_file, wav_samples

FIXTURES = Path(__file__).parent / "fixtures"
CALLER_ID_CASES = tomllib.loads((FIXTURES / "modem_callerid.toml").read_text())["case"]

#: What a modem sent: a RING, a DLE event in command mode, the CONNECT of
#: AT+VRX, audio holding DLE DLE (one 0x10) and DLE SUB (two), a key
#: pressed during the recording, the end of the audio, OK.
RECORDING = (b"\r\nRING\r\n\x10d\r\nCONNECT\r\n\x01\x02\x10\x10\x03\x10\x1a\x04"
             b"\x105\x7f\x10\x03\r\nOK\r\n")


def split(stream, data, size):
    items = []
    for i in range(0, len(data), size):
        items += stream.feed(data[i:i + size])
    merged = []
    for item in items:                      # audio may come in pieces
        if isinstance(item, Audio) and merged and isinstance(merged[-1], Audio):
            merged[-1] = Audio(merged[-1].data + item.data)
        else:
            merged.append(item)
    return merged


@pytest.mark.parametrize("size", range(1, 12))
def test_the_stream_splits_lines_events_and_audio_at_any_chunk_size(size):
    stream = ModemStream()
    first = split(stream, RECORDING[:10], size)
    stream.expect_audio()                   # we sent AT+VRX
    rest = split(stream, RECORDING[10:], size)
    assert first + rest == [Line("RING"), Code("d"), Line("CONNECT"),
                            Audio(b"\x01\x02\x10\x03\x10\x10\x04"), Code("5"),
                            Audio(b"\x7f"), Code(END), Line("OK")]
    assert not stream.receiving


def test_bytes_after_connect_are_lines_unless_audio_was_expected():
    assert ModemStream().feed(b"CONNECT\r\nOK\r\n") == [Line("CONNECT"), Line("OK")]


def test_audio_is_shielded_and_the_control_sequences_are_v253_s():
    assert shield(b"\x01\x10\x02\x10\x10") == b"\x01\x10\x10\x02\x10\x10\x10\x10"
    assert (END_OF_DATA, ABORT_PLAY, STOP_RECORD) == (b"\x10\x03", b"\x10\x18\x10\x03",
                                                      b"\x10!")


def test_dle_codes_mean_the_driver_s_events():
    assert DLE_EVENTS["5"] == ("digit", {"digit": "5", "type": "dtmf"})
    assert DLE_EVENTS["b"][1]["tone"] == "busy" and DLE_EVENTS["d"][1]["tone"] == "dial"
    assert DLE_EVENTS["l"] == ("loop_current", {"on": False})
    assert DLE_EVENTS["s"] == ("silence", {"on": True})


@pytest.mark.parametrize("case", CALLER_ID_CASES, ids=[c["label"] for c in CALLER_ID_CASES])
def test_caller_id_in_every_dialect_modems_print(case):
    """The recorded bytes through the stream splitter, every line offered
    to the caller-ID reader as the driver does."""
    lines = CallerIdLines()
    for item in ModemStream().feed(case["bytes"].encode("latin-1")):
        if isinstance(item, Line) and item.text != "RING":
            lines.add(item.text)
    cid = lines.caller_id()
    assert (cid.number, cid.name, cid.datetime, cid.frame) == (
        case["number"], case["name"], case["datetime"], case["frame"])


def test_lines_that_are_not_caller_id_are_left_alone():
    lines = CallerIdLines()
    assert not any(lines.add(text) for text in ("OK", "CONNECT", "NO CARRIER", "12", "VCON"))
    assert lines.caller_id() is None


def test_the_bellcore_sdmf_example_and_a_wrong_checksum():
    """GR-30's example: September 30, 12:24, 609 555 1212, checksum 0x51."""
    message = bytes.fromhex("041230393330313232343630393535353132313251")
    cid = decode_message(message)
    assert (cid.number, cid.datetime, cid.frame) == ("6095551212", "09301224", "S")
    with pytest.raises(MalformedData, match="checksum"):
        decode_message(message[:-1] + b"\x52")
    with pytest.raises(MalformedData, match="length"):
        decode_message(message[:-3])
    with pytest.raises(MalformedData, match="no caller ID"):      # message waiting
        decode_message(bytes.fromhex("060342424231"))


def test_our_g711_is_the_boards_for_every_sample():
    pcm = struct.pack("<65536h", *range(-32768, 32768))
    assert g711.encode(pcm, "ulaw") == bytes(linear2ulaw(x) for x in range(-32768, 32768))
    assert g711.encode(pcm, "alaw") == bytes(linear2alaw(x) for x in range(-32768, 32768))
    codes = bytes(range(256))
    assert struct.unpack("<256h", g711.decode(codes, "ulaw")) == tuple(
        ulaw2linear(c) for c in codes)
    assert struct.unpack("<256h", g711.decode(codes, "alaw")) == tuple(
        alaw2linear(c) for c in codes)


@pytest.mark.parametrize("fmt, samples", [("pcm16", b"\x01\x00\xff\x7f"), ("ulaw", b"\x7f"),
                                          ("alaw", b"\xd5\x55")])
def test_a_wav_file_written_reads_back(fmt, samples):
    blob = wav_file(fmt, samples)
    assert len(blob) % 2 == 0 and wav_samples(blob) == (fmt, samples)
