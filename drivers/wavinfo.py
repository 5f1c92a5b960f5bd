# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_binding -*-
"""WAV files of 8 kHz mono audio: their sample format (the vendor API
wants it stated), their samples, and a file made of samples.

The standard library's `wave` module refuses mu-law and A-law files, which
are the usual prompt formats on voice boards, so this reads the RIFF "fmt "
chunk itself.  Only 8 kHz mono PCM16, mu-law and A-law are accepted.
A driver that moves audio itself (drivers.modem) reads a prompt's samples
with `wav_samples` and writes a recording with `wav_file`.
"""
import struct

FORMAT_TAGS = {1: "pcm16", 6: "alaw", 7: "ulaw"}
BITS = {"pcm16": 16, "alaw": 8, "ulaw": 8}


class WavFormatError(ValueError):
    """The file is not an 8 kHz mono WAV in a format the boards play."""


def wav_format(header: bytes, where: str = "WAV data") -> str:
    """Return "pcm16", "ulaw" or "alaw" from the first bytes of a WAV file."""
    if len(header) < 12 or header[:4] != b"RIFF" or header[8:12] != b"WAVE":
        raise WavFormatError(f"{where}: not a RIFF/WAVE file")
    pos = 12
    while pos + 8 <= len(header):
        chunk, size = struct.unpack_from("<4sI", header, pos)
        if chunk == b"fmt ":
            if pos + 8 + 16 > len(header):
                break
            tag, channels, rate, _, _, bits = struct.unpack_from("<HHIIHH", header, pos + 8)
            fmt = FORMAT_TAGS.get(tag)
            if fmt is None or channels != 1 or rate != 8000:
                raise WavFormatError(
                    f"{where}: format tag {tag}, {channels} channel(s), {rate} Hz; "
                    "the boards play 8 kHz mono PCM16, mu-law or A-law"
                )
            if bits != BITS[fmt]:
                raise WavFormatError(f"{where}: {bits} bits per sample does not suit {fmt}")
            return fmt
        pos += 8 + size + (size & 1)
    raise WavFormatError(f"{where}: no fmt chunk in the first {len(header)} bytes")


def wav_samples(blob: bytes, where: str = "WAV data") -> tuple[str, bytes]:
    """(format, the bytes of the "data" chunk) of a whole WAV file."""
    fmt = wav_format(blob[:4096], where)
    pos = 12
    while pos + 8 <= len(blob):
        chunk, size = struct.unpack_from("<4sI", blob, pos)
        if chunk == b"data":
            return fmt, blob[pos + 8:pos + 8 + size]
        pos += 8 + size + (size & 1)
    raise WavFormatError(f"{where}: no data chunk")


def wav_file(fmt: str, samples: bytes) -> bytes:
    """A WAV file holding `samples` in `fmt` (pcm16, ulaw or alaw), 8 kHz mono."""
    return wav_header(fmt, len(samples)) + samples + b"\0" * (len(samples) & 1)


def wav_header(fmt: str, size: int) -> bytes:
    """The 44 bytes before `size` bytes of samples in `fmt` (a pad byte
    follows an odd size), 8 kHz mono."""
    tag = next(t for t, name in FORMAT_TAGS.items() if name == fmt)
    bits = BITS[fmt]
    block = bits // 8
    return struct.pack("<4sI4s4sIHHIIHH4sI", b"RIFF", 36 + size + (size & 1), b"WAVE",
                       b"fmt ", 16, tag, 1, 8000, 8000 * block, block, bits, b"data", size)
