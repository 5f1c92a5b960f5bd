# SPDX-License-Identifier: GPL-2.0-or-later
"""Our G.711 (native/src/codec.c, reached through drivers.sim) checked
exhaustively: every 16-bit sample through both encoders, every code through
both decoders, against Python 3.11's `audioop` as an independent second
implementation.

The reference is ITU-T G.191 (the Software Tool Library's g711.c), the
bit-exact reference implementation of G.711 that ITU test vectors are made
with.  G.191 quantises a negative sample x through its one's complement
-x-1, so the negative half of the quantiser is the exact mirror of the
positive half on a 16-bit two's complement scale: x and -x-1 always get the
same code apart from the sign bit (x = -1 codes like 0).

`audioop` agrees for A-law (its encoder uses -x-1 too) and for every
decoder, but its mu-law encoder first shifts the sample to 14 bits with an
arithmetic shift and then negates (Sun's original g711.c).  For x < 0 that
makes the 14-bit magnitude one larger than G.191's (-x-1) >> 2, which moves
every negative decision level by one 14-bit step (4 in 16-bit units).  The
code differs only where that step crosses a decision level: for the 4
inputs just below each of the 127 decision levels of the negative half,
audioop picks the code one step larger in magnitude.  Those inputs lie
within a quantisation step of both codes, so neither answer is a gross
error; we keep G.191's because it is the standard's reference and keeps the
two halves symmetric.  `test_mulaw_encoder_differs_from_audioop_only_at_the_documented_inputs`
pins that set exactly (508 inputs), so any other change shows up.
"""
import struct
import warnings

import pytest

from drivers.r4 import HAS_SIMULATOR
from drivers.sim import alaw2linear, linear2alaw, linear2ulaw, ulaw2linear

if not HAS_SIMULATOR:
    pytest.skip("a vendor SDK build does not expose our G.711", allow_module_level=True)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    audioop = pytest.importorskip("audioop")    # removed in Python 3.13

SAMPLES = range(-32768, 32768)
CODES = range(256)


def _pcm(samples):
    return struct.pack(f"<{len(samples)}h", *samples)


def _audioop_codes(encoder):
    """audioop's code for every 16-bit sample, indexed by sample + 32768."""
    return encoder(_pcm(SAMPLES), 2)


def _audioop_values(decoder):
    """audioop's 16-bit value for every code."""
    return struct.unpack("<256h", decoder(bytes(CODES), 2))


def mulaw_decision_level_inputs():
    """The negative inputs where audioop's mu-law encoder differs from G.191.

    Worked out from the mu-law quantiser, not from either implementation:
    G.191 codes the biased 14-bit magnitude b = ((-x-1) >> 2) + 33 of a
    negative sample; segment e (0..7) covers b in [2^(e+5), 2^(e+6)) in 16
    steps of 2^(e+1).  audioop codes b + 1 instead, so the codes differ
    exactly when b + 1 is the lower edge of a step, i.e. a decision level
    (every step start except the very first, b = 32, which no b + 1 reaches).
    Each edge L is hit by the four x with (-x-1) >> 2 == L - 34.
    """
    edges = [(1 << (e + 5)) + i * (1 << (e + 1)) for e in range(8) for i in range(16)]
    inputs = set()
    for edge in edges[1:]:
        m = edge - 34                   # G.191's 14-bit magnitude (-x-1) >> 2
        inputs.update(-(4 * m + 1 + j) for j in range(4))
    return inputs


# ---- encoders --------------------------------------------------------------

def test_mulaw_encoder_differs_from_audioop_only_at_the_documented_inputs():
    """All 65536 samples through our mu-law encoder: the inputs where
    audioop disagrees are exactly the 508 computed by
    mulaw_decision_level_inputs() (4 per decision level of the negative
    half), and there audioop's code is ours one step larger in magnitude
    (one less, as mu-law stores the magnitude inverted)."""
    theirs = _audioop_codes(audioop.lin2ulaw)
    differ = {x for x in SAMPLES if linear2ulaw(x) != theirs[x + 32768]}
    assert differ == mulaw_decision_level_inputs()
    assert len(differ) == 508
    for x in differ:
        assert theirs[x + 32768] == linear2ulaw(x) - 1, x


def test_mulaw_encoder_matches_audioop_everywhere_else():
    """Every non-negative sample, and every negative one away from a decision
    level, gets the same mu-law code from us and from audioop."""
    theirs = _audioop_codes(audioop.lin2ulaw)
    special = mulaw_decision_level_inputs()
    wrong = [x for x in SAMPLES if x not in special and linear2ulaw(x) != theirs[x + 32768]]
    assert wrong == []


def test_alaw_encoder_matches_audioop_for_every_sample():
    """All 65536 samples give the same A-law code as audioop (both use -x-1
    for negative samples, as G.191 does)."""
    theirs = _audioop_codes(audioop.lin2alaw)
    wrong = [x for x in SAMPLES if linear2alaw(x) != theirs[x + 32768]]
    assert wrong == []


@pytest.mark.parametrize("encode", [linear2ulaw, linear2alaw], ids=["ulaw", "alaw"])
def test_negative_half_mirrors_the_positive_half(encode):
    """G.191's symmetry: x and -x-1 get the same code but for the sign bit
    (0x80), for every x >= 0, so -1 codes like a negative 0."""
    wrong = [x for x in range(32768) if encode(-x - 1) != encode(x) ^ 0x80]
    assert wrong == []


def test_encoders_saturate_at_full_scale():
    """The loudest samples give the end codes: mu-law 0x80/0x00, A-law
    0xAA/0x2A (0x80/0x00 before the even-bit inversion)."""
    assert (linear2ulaw(32767), linear2ulaw(-32768)) == (0x80, 0x00)
    assert (linear2alaw(32767), linear2alaw(-32768)) == (0xAA, 0x2A)


# ---- decoders --------------------------------------------------------------

@pytest.mark.parametrize(("decode", "reference"), [
    (ulaw2linear, "ulaw2lin"), (alaw2linear, "alaw2lin")], ids=["ulaw", "alaw"])
def test_decoder_matches_audioop_for_every_code(decode, reference):
    """All 256 codes decode to the same 16-bit value as audioop's."""
    theirs = _audioop_values(getattr(audioop, reference))
    assert [decode(c) for c in CODES] == list(theirs)


@pytest.mark.parametrize(("encode", "decode"), [
    (linear2ulaw, ulaw2linear), (linear2alaw, alaw2linear)], ids=["ulaw", "alaw"])
def test_decode_encode_decode_is_stable_for_every_code(encode, decode):
    """A decoded value is a fixed point: decode(encode(decode(c))) ==
    decode(c) for all 256 codes, so re-coding audio (bus to file and back)
    loses nothing more after the first pass."""
    wrong = [c for c in CODES if decode(encode(decode(c))) != decode(c)]
    assert wrong == []


@pytest.mark.parametrize(("encode", "decode", "aliases"), [
    (linear2ulaw, ulaw2linear, {0x7F: 0xFF}),   # mu-law's "negative zero"
    (linear2alaw, alaw2linear, {})], ids=["ulaw", "alaw"])
def test_every_code_but_negative_zero_survives_a_round_trip(encode, decode, aliases):
    """encode(decode(c)) gives c back, except mu-law's two zeros: 0x7F
    (negative zero) decodes to 0, which encodes as 0xFF."""
    assert {c: encode(decode(c)) for c in CODES if encode(decode(c)) != c} == aliases
