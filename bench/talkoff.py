# SPDX-License-Identifier: GPL-2.0-or-later
"""Talk-off: digits the DTMF receiver reports from speech, where there are none.

A DTMF receiver listens all through a call, and a voice that happens to put
one strong harmonic in a row band and another in a column band for a few
tens of milliseconds looks like a key.  Bellcore qualified receivers with
tapes of real speech; we have none, so this module makes its own speech
with espeak-ng, the way a caller's voice reaches the board:

- **Voices.**  English and Mandarin, male and female, low and high pitch
  (espeak-ng's own voice variants, its ``-p`` pitch and ``-s`` speed), each
  reading prose bundled in bench/texts/ (written for this corpus).
- **Line.**  Resampled to 8 kHz by sox, set to an active speech level of
  -10, -15, -20 and -25 dBm0, then coded and decoded by our mu-law
  (drivers.sim, checked against G.191 by tests/test_g711.py).
- **Level** is measured as ITU-T P.56 does it, simplified: the mean power
  of the 10 ms blocks louder than a threshold, the threshold chosen
  15.9 dB under the level it gives (P.56's margin), so pauses between
  words do not count.
- **Cells.**  Each voice speaks CELL_S seconds at each level, consecutive
  stretches of its text: 8 voices x 4 levels x 56.25 s = 30 minutes.

Generating takes espeak-ng and sox about half a minute; the line samples
are cached under build/cache/talkoff/, one file per cell, named by a hash
of everything that made it (voice, text, level, length, tool versions), so
`make test` generates them once.  A fresh receiver listens to each cell,
fed in one-second blocks; every digit it reports is a false one.

    .venv/bin/python -m bench.talkoff

prints the false digits per cell (and where they fell).
"""
import functools
import hashlib
import json
import math
import operator
import os
import pathlib
import subprocess
import sys
import tempfile
from array import array
from dataclasses import dataclass

ROOT = pathlib.Path(__file__).resolve().parent.parent
TEXTS = pathlib.Path(__file__).resolve().parent / "texts"
CACHE = ROOT / "build" / "cache" / "talkoff"
RATE = 8000
LEVELS = (-10, -15, -20, -25)               # active speech level, dBm0
CELL_S = 56.25                              # seconds per voice and level
BLOCK = 80                                  # 10 ms: level measurement blocks
P56_MARGIN_DB = 15.9                        # active level over the activity threshold
FEED = RATE                                 # samples per call into the receiver
#: Changes whenever the way a cell is made changes, so old caches are not reused.
FORMAT = 1


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: its name in the table, the voice and variant
    (``en+f4``), pitch (0-99) and speed (words a minute) and the text file."""

    name: str
    espeak: str
    pitch: int
    speed: int
    text: str


VOICES = (
    Voice("English, male, low", "en+m3", 20, 160, "english.txt"),
    Voice("English, male, high", "en+m7", 75, 185, "english.txt"),
    Voice("English, female, low", "en+f2", 40, 170, "english.txt"),
    Voice("English, female, high", "en+f4", 90, 175, "english.txt"),
    Voice("English, female, highest", "en+f5", 99, 190, "english.txt"),
    Voice("Mandarin, male, low", "cmn-latn-pinyin+m1", 25, 160, "mandarin.txt"),
    Voice("Mandarin, male, high", "cmn-latn-pinyin+m3", 75, 185, "mandarin.txt"),
    Voice("Mandarin, female, high", "cmn-latn-pinyin+f3", 90, 175, "mandarin.txt"),
)
MINUTES = len(VOICES) * len(LEVELS) * CELL_S / 60


@dataclass(frozen=True)
class Cell:
    """One voice at one level: the line samples (array('h'))."""

    voice: Voice
    level: int
    samples: array

    @property
    def minutes(self):
        return len(self.samples) / RATE / 60


# ---- making the speech --------------------------------------------------------

@functools.cache
def _tool_versions():
    """The versions of espeak-ng and sox: a new version may speak differently."""
    espeak = subprocess.run(["espeak-ng", "--version"], capture_output=True, text=True,
                            check=True).stdout.strip()
    sox = subprocess.run(["sox", "--version"], capture_output=True, text=True,
                         check=True).stdout.strip()
    return espeak, sox


def _speak(voice):
    """The voice reading its text, as 16-bit samples at 8 kHz."""
    with tempfile.TemporaryDirectory() as tmp:
        wav = os.path.join(tmp, "speech.wav")
        subprocess.run(["espeak-ng", "-v", voice.espeak, "-p", str(voice.pitch),
                        "-s", str(voice.speed), "-f", str(TEXTS / voice.text), "-w", wav],
                       check=True, capture_output=True)
        raw = subprocess.run(["sox", "-D", wav, "-r", str(RATE), "-b", "16", "-e", "signed",
                              "-c", "1", "-t", "raw", "-"], check=True,
                             capture_output=True).stdout
    samples = array("h")
    samples.frombytes(raw)
    if sys.byteorder != "little":
        samples.byteswap()
    return samples


def _dbm0(mean_square):
    """Level in dBm0 of a mean square (0 dBm0: a sine 3.14 dB under full scale)."""
    return 10 * math.log10(mean_square / (32768.0 ** 2 / 2)) + 3.14


def active_level(samples):
    """Active speech level in dBm0 (P.56, simplified: see the module's doc)."""
    powers = sorted((sum(map(operator.mul, block, block)) / BLOCK
                     for block in (samples[i:i + BLOCK]
                                   for i in range(0, len(samples) - BLOCK + 1, BLOCK))),
                    reverse=True)
    energy = 0.0
    for n, p in enumerate(powers, 1):
        energy += p
        # The n loudest blocks are the active ones when the next is under
        # the threshold that their mean power puts P56_MARGIN_DB below it.
        following = powers[n] if n < len(powers) else 0.0
        if following < energy / n / 10 ** (P56_MARGIN_DB / 10):
            return _dbm0(energy / n)
    raise ValueError("no speech")


def _line_table(gain):
    """What the line makes of each 16-bit sample (indexed as unsigned 16
    bits) after a gain: rounded, clipped, mu-law coded and decoded."""
    from drivers.sim import linear2ulaw, ulaw2linear

    table = []
    for u in range(65536):
        x = round((u - 65536 if u >= 32768 else u) * gain)
        table.append(ulaw2linear(linear2ulaw(max(-32768, min(32767, x)))))
    return table


def _text_digest(voice):
    return hashlib.sha256((TEXTS / voice.text).read_bytes()).hexdigest()


def _cell_path(voice, level):
    """The cache file of a cell, named by a hash of everything that makes
    it: the voice, its text, the level, where in the text the cell is, the
    corpus's format and the tools' versions."""
    recipe = dict(format=FORMAT, voice=voice.__dict__, text=_text_digest(voice), level=level,
                  index=LEVELS.index(level), cell_s=CELL_S, rate=RATE, tools=_tool_versions())
    key = hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]
    return CACHE / f"{voice.espeak}-p{voice.pitch}-s{voice.speed}-at{level}dBm0-{key}.raw"


def _make_cells(voice):
    """Speak the voice once and store a cell per level: consecutive
    stretches of CELL_S seconds of its text."""
    speech = _speak(voice)
    n = int(CELL_S * RATE)
    if len(speech) < n * len(LEVELS):
        raise ValueError(f"{voice.name}: {len(speech) / RATE:.0f} s of speech is too short "
                         f"for {len(LEVELS)} x {CELL_S} s")
    CACHE.mkdir(parents=True, exist_ok=True)
    for i, level in enumerate(LEVELS):
        stretch = speech[i * n:(i + 1) * n]
        table = _line_table(10 ** ((level - active_level(stretch)) / 20))
        line = array("h", map(table.__getitem__, array("H", stretch.tobytes())))
        path = _cell_path(voice, level)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(line.tobytes())
        tmp.replace(path)


def cell(voice, level):
    """The Cell of a voice at a level, from the cache (made on first use)."""
    path = _cell_path(voice, level)
    if not path.exists():
        _make_cells(voice)
    samples = array("h")
    samples.frombytes(path.read_bytes())
    return Cell(voice, level, samples)


def corpus():
    """Every cell: 30 minutes of speech."""
    return [cell(v, lv) for v in VOICES for lv in LEVELS]


# ---- listening to it ----------------------------------------------------------

def false_digits(samples, abcd=False):
    """[(seconds, digit)] a fresh DTMF receiver reports from the samples,
    with keys A-D enabled or not."""
    from drivers import _r4

    ffi, lib = _r4.ffi, _r4.lib
    rx = ffi.gc(lib.cti_digit_rx_new(lib.CTI_DIGITS_DTMF), lib.cti_digit_rx_free)
    lib.cti_digit_rx_set_abcd(rx, int(abcd))
    buf = ffi.from_buffer("int16_t[]", samples)
    out = ffi.new("char[64]")
    found = []
    for at in range(0, len(samples), FEED):
        n = lib.cti_digit_rx_feed(rx, buf + at, min(FEED, len(samples) - at), out, 64)
        found += [(at / RATE, d) for d in ffi.buffer(out, n)[:].decode()]
    return found


def measure(abcd=False):
    """{(voice name, level): [(seconds, digit)]} over the whole corpus."""
    return {(c.voice.name, c.level): false_digits(c.samples, abcd) for c in corpus()}


def main():
    result = {}
    for abcd in (False, True):
        found = measure(abcd)
        result["with A-D" if abcd else "without A-D"] = {
            "false_digits": sum(len(f) for f in found.values()),
            "cells": {f"{v} at {lv} dBm0": [f"{d}@{s:.0f}s" for s, d in f]
                      for (v, lv), f in found.items() if f}}
    result["minutes"] = MINUTES
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
