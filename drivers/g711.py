# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_modem_parsers -*-
"""G.711 mu-law and A-law in Python, for drivers whose devices take audio
as bytes (a voice modem's DLE-shielded stream).

The boards code audio themselves (native/src/codec.c); a modem takes
samples in the one compression it was set to (``AT+VSM``), so its driver
converts a prompt of another format on the way and a recording on the
way back.  The quantisers are those of ITU-T G.191's g711.c, the
reference our C codec follows too (tests hold the two to every sample)::

    ulaw = encode(pcm16_bytes, "ulaw")     # 2 bytes a sample in, 1 out
    pcm16 = decode(ulaw, "ulaw")           # and back

Tables are built once, on first use: 64 KiB per law for encoding, 256
samples for decoding.
"""
import struct
from functools import cache

#: The G.711 laws, by the names the drivers use for audio formats.
LAWS = ("ulaw", "alaw")


def _ulaw_encode(x):
    magnitude = ((~x) >> 2) if x < 0 else (x >> 2)
    magnitude = min(magnitude + 33, 0x1FFF)
    segment, i = 1, magnitude >> 6
    while i:
        segment, i = segment + 1, i >> 1
    code = ((8 - segment) << 4) | (0x0F - ((magnitude >> segment) & 0x0F))
    return code | 0x80 if x >= 0 else code


def _ulaw_decode(code):
    inverted = ~code & 0xFF
    exponent, mantissa = (inverted >> 4) & 0x07, inverted & 0x0F
    step = 4 << (exponent + 1)
    value = (0x80 << exponent) + step * mantissa + step // 2 - 4 * 33
    return value if code >= 0x80 else -value


def _alaw_encode(x):
    magnitude = ((~x) >> 4) if x < 0 else (x >> 4)
    if magnitude > 15:
        exponent = 1
        while magnitude > 16 + 15:
            magnitude, exponent = magnitude >> 1, exponent + 1
        magnitude = magnitude - 16 + (exponent << 4)
    if x >= 0:
        magnitude |= 0x80
    return magnitude ^ 0x55


def _alaw_decode(code):
    folded = (code ^ 0x55) & 0x7F
    exponent, mantissa = folded >> 4, folded & 0x0F
    if exponent:
        mantissa += 16
    value = (mantissa << 4) + 8
    if exponent > 1:
        value <<= exponent - 1
    return value if code > 127 else -value


_CODERS = {"ulaw": (_ulaw_encode, _ulaw_decode), "alaw": (_alaw_encode, _alaw_decode)}


@cache
def _encoder(law):
    """The code of every 16-bit sample, indexed by the sample as unsigned."""
    encode = _CODERS[law][0]
    return bytes(encode(u - 65536 if u > 32767 else u) for u in range(65536))


@cache
def _decoder(law):
    """Every code's sample, as little-endian PCM16 bytes (2 per code)."""
    decode = _CODERS[law][1]
    return [struct.pack("<h", decode(code)) for code in range(256)]


def encode(pcm16: bytes, law: str) -> bytes:
    """Little-endian 16-bit samples to G.711 codes."""
    table = _encoder(law)
    return bytes(table[u] for (u,) in struct.iter_unpack("<H", pcm16))


def decode(codes: bytes, law: str) -> bytes:
    """G.711 codes to little-endian 16-bit samples."""
    table = _decoder(law)
    return b"".join(table[c] for c in codes)

