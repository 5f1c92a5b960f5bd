# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_binding -*-
"""Read the sample format of a WAV file (the vendor API wants it stated).

The standard library's `wave` module refuses mu-law and A-law files, which
are the usual prompt formats on voice boards, so this reads the RIFF "fmt "
chunk itself.  Only 8 kHz mono PCM16, mu-law and A-law are accepted.
"""
import struct

FORMAT_TAGS = {1: "pcm16", 6: "alaw", 7: "ulaw"}


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
            if bits != (16 if fmt == "pcm16" else 8):
                raise WavFormatError(f"{where}: {bits} bits per sample does not suit {fmt}")
            return fmt
        pos += 8 + size + (size & 1)
    raise WavFormatError(f"{where}: no fmt chunk in the first {len(header)} bytes")
