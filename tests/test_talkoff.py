# SPDX-License-Identifier: GPL-2.0-or-later
"""The speech corpus of bench.talkoff, on which the DTMF receiver's talk-off
is measured (tests/test_dtmf_receiver.py asserts the bound and writes the
table of docs/dtmf-receiver.md): what it holds, at what levels, and that it
is made once and then read from its cache."""
import math
from array import array

import pytest

from bench import talkoff
from drivers.r4 import HAS_SIMULATOR

if not HAS_SIMULATOR:
    pytest.skip("a vendor SDK build has no simulated DSP", allow_module_level=True)


def test_the_corpus_is_30_minutes_of_every_voice_at_every_level():
    cells = talkoff.corpus()
    assert [(c.voice, c.level) for c in cells] == [
        (v, lv) for v in talkoff.VOICES for lv in talkoff.LEVELS]
    assert sum(c.minutes for c in cells) == pytest.approx(30.0)
    languages = {v.text for v in talkoff.VOICES}
    assert languages == {"english.txt", "mandarin.txt"}


def test_each_stretch_is_at_its_active_speech_level_after_the_mu_law():
    """The level is set before the line's mu-law, which clips the loudest
    peaks at -10 dBm0 and rounds the quiet ones at -25: still within
    0.1 dB of the target."""
    for c in talkoff.corpus():
        assert talkoff.active_level(c.samples) == pytest.approx(c.level, abs=0.1), c.voice


def test_a_steady_tone_is_all_active_speech():
    """P.56 on a sine: every block is active, so the level is the sine's."""
    amplitude = 32768 * 10 ** ((-20 - 3.14) / 20)
    tone = array("h", (round(amplitude * math.sin(2 * math.pi * 1000 * n / 8000))
                       for n in range(8000)))
    assert talkoff.active_level(tone) == pytest.approx(-20, abs=0.05)


def test_the_cache_is_read_rather_than_spoken_again(monkeypatch):
    talkoff.corpus()

    def no_speaking(voice):
        raise AssertionError(f"{voice.name} spoken again")

    monkeypatch.setattr(talkoff, "_speak", no_speaking)
    assert len(talkoff.corpus()) == len(talkoff.VOICES) * len(talkoff.LEVELS)


def test_the_cache_names_everything_that_made_a_stretch(monkeypatch):
    """Another level, voice setting or text gives another file."""
    voice = talkoff.VOICES[0]
    paths = {talkoff._cell_path(voice, lv) for lv in talkoff.LEVELS}
    assert len(paths) == len(talkoff.LEVELS)
    slower = talkoff.Voice(voice.name, voice.espeak, voice.pitch, voice.speed - 10, voice.text)
    assert talkoff._cell_path(slower, -10) != talkoff._cell_path(voice, -10)
    monkeypatch.setattr(talkoff, "_text_digest", lambda voice: "another text")
    assert talkoff._cell_path(voice, -10) not in paths
