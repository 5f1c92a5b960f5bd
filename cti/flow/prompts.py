# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_files -*-
"""Prompts: the manifest of what each prompt says, and generating the files.

A prompt is ``etc/prompts/NAME.wav``: 8 kHz, mono, 16-bit linear PCM, the
format the voice boards play.  ``etc/prompts/prompts.toml`` is the
manifest: every prompt a flow may name, with the sentence it says::

    [tts]                      # how missing prompts are generated
    voice = "en-us"            # an espeak-ng voice (espeak-ng --voices)
    speed = 150                # words per minute

    [prompts]
    welcome = "Thank you for calling Example Company."
    goodbye = "Thank you for calling. Goodbye."

    [music]                    # played to callers waiting in a queue
    hold_music = "E4 G4 B4 E5 D5 B4 G4 A4"

A ``[music]`` entry is a tune: note names (C4 .. B5, sharps as ``F#4``)
played 400 ms each, synthesized here as soft plucked single tones (one
note at a time: two-tone chords could look like DTMF to a digit receiver).

The WAV files are not kept in the repository: `ensure_prompts` makes each
missing one with espeak-ng (``espeak-ng -w``), resampled to 8 kHz by sox,
or by Python (audioop, else a plain filter) when sox is missing.  A file
that exists is never touched, so a studio recording dropped in as
``welcome.wav`` replaces the synthetic voice for good.  From a shell::

    python -m cti.flow.prompts etc/prompts
"""
import array
import math
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
import warnings
import wave
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cti.config import ConfigError
from cti.flow.model import PROMPT_NAME

RATE = 8000
CHANNELS = 1
SAMPLE_WIDTH = 2          # bytes: 16-bit linear
MANIFEST = "prompts.toml"


class PromptError(Exception):
    """A prompt could not be generated."""


@dataclass(frozen=True)
class Manifest:
    """prompts.toml: prompt name -> text, and the text-to-speech settings."""
    path: str
    prompts: dict[str, str] = field(default_factory=dict)
    voice: str = "en-us"
    speed: int = 150
    music: dict[str, str] = field(default_factory=dict)

    def __contains__(self, name):
        return name in self.prompts or name in self.music


def load_manifest(path) -> Manifest:
    """Read and check a prompts.toml; ConfigError names the file and key."""
    path = str(path)
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except FileNotFoundError:
        raise ConfigError(path, None, "no such file (the prompt manifest)") from None
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(path, None, f"not valid TOML: {e}") from None
    for key in data:
        if key not in ("tts", "prompts", "music"):
            raise ConfigError(path, key, "unknown key (expected [tts], [prompts], [music])")
    prompts = data.get("prompts")
    if not isinstance(prompts, dict) or not prompts:
        raise ConfigError(path, "prompts", "expected a [prompts] table of name = \"text\"")
    for name, text in prompts.items():
        if not PROMPT_NAME.fullmatch(name):
            raise ConfigError(path, f"prompts.{name}",
                              "a prompt name is lower-case letters, digits and _")
        if not isinstance(text, str) or not text.strip():
            raise ConfigError(path, f"prompts.{name}", "expected the text the prompt says")
    tts = data.get("tts", {})
    if not isinstance(tts, dict):
        raise ConfigError(path, "tts", "expected a table (voice, speed)")
    for key in tts:
        if key not in ("voice", "speed"):
            raise ConfigError(path, f"tts.{key}", "unknown key (expected voice, speed)")
    voice = tts.get("voice", "en-us")
    if not isinstance(voice, str) or not voice:
        raise ConfigError(path, "tts.voice", "expected an espeak-ng voice name such as 'en-us'")
    speed = tts.get("speed", 150)
    if isinstance(speed, bool) or not isinstance(speed, int) or not 80 <= speed <= 450:
        raise ConfigError(path, "tts.speed", "expected words per minute, 80 to 450")
    music = data.get("music", {})
    if not isinstance(music, dict):
        raise ConfigError(path, "music", "expected a table of name = \"notes\"")
    for name, tune in music.items():
        if not PROMPT_NAME.fullmatch(name):
            raise ConfigError(path, f"music.{name}",
                              "a prompt name is lower-case letters, digits and _")
        if name in prompts:
            raise ConfigError(path, f"music.{name}", "also a spoken prompt: pick another name")
        try:
            _notes(tune)
        except ValueError as e:
            raise ConfigError(path, f"music.{name}", str(e)) from None
    return Manifest(path, dict(prompts), voice, speed, dict(music))


_NOTE_STEPS = {"C": -9, "D": -7, "E": -5, "F": -4, "G": -2, "A": 0, "B": 2}
NOTE_MS = 400


def _notes(tune):
    """Frequencies of a tune such as "E4 G4 F#4": equal temperament, A4 = 440 Hz."""
    if not isinstance(tune, str) or not tune.split():
        raise ValueError("expected note names such as \"E4 G4 B4\"")
    freqs = []
    for note in tune.split():
        letter, sharp, octave = note[0], note[1:-1], note[-1:]
        if letter not in _NOTE_STEPS or sharp not in ("", "#") or octave not in "2345" \
                or not octave:
            raise ValueError(f"{note!r} is not a note from C2 to B5 (such as E4 or F#4)")
        steps = _NOTE_STEPS[letter] + (sharp == "#") + 12 * (int(octave) - 4)
        freqs.append(440.0 * 2 ** (steps / 12))
    return freqs


def make_music(path, tune, repeats=4):
    """Write a tune as an 8 kHz WAV: each note plucked (fast attack, decay)."""
    n = RATE * NOTE_MS // 1000
    samples = []
    for _ in range(repeats):
        for f in _notes(tune):
            w = 2 * math.pi * f / RATE
            samples += [int(5000 * math.exp(-4.0 * i / n) * min(1.0, i / 80)
                            * math.sin(w * i)) for i in range(n)]
    with wave.open(str(path), "wb") as out:
        out.setnchannels(CHANNELS)
        out.setsampwidth(SAMPLE_WIDTH)
        out.setframerate(RATE)
        out.writeframes(_pack(samples))


def prompt_path(prompts_dir, name: str) -> Path:
    """Where prompt `name` lives: ``PROMPTS_DIR/NAME.wav``."""
    return Path(prompts_dir) / f"{name}.wav"


def missing_prompts(prompts_dir, names: Iterable[str]) -> list[str]:
    """The names, in order, whose WAV file does not exist yet."""
    return [name for name in names if not prompt_path(prompts_dir, name).exists()]


def wav_format(path) -> tuple[int, int, int]:
    """(sample rate, channels, bits per sample) of a WAV file."""
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), 8 * w.getsampwidth()


def ensure_prompts(prompts_dir, texts: Mapping[str, str] | None = None, *,
                   voice: str | None = None, speed: int | None = None,
                   espeak: str = "espeak-ng", sox: str | None = "sox") -> list[Path]:
    """Generate the WAV file of every prompt in `texts` that has none.

    texts maps prompt name -> text; by default the manifest
    PROMPTS_DIR/prompts.toml (whose [tts] settings then apply too).  sox
    None (or not installed) resamples in Python.  Existing files are left
    alone.  Returns the paths made.  Raises PromptError when espeak-ng is
    missing or fails.
    """
    prompts_dir = Path(prompts_dir)
    made = []
    if texts is None:
        manifest = load_manifest(prompts_dir / MANIFEST)
        texts = manifest.prompts
        voice = voice or manifest.voice
        speed = speed or manifest.speed
        for name in missing_prompts(prompts_dir, manifest.music):
            make_music(prompt_path(prompts_dir, name), manifest.music[name])
            made.append(prompt_path(prompts_dir, name))
    voice = voice or "en-us"
    speed = speed or 150
    todo = missing_prompts(prompts_dir, texts)
    if not todo:
        return made
    espeak_bin = shutil.which(espeak)
    if espeak_bin is None:
        raise PromptError(f"{espeak} not found: install it (apt-get install espeak-ng) or "
                          f"record the missing prompts ({', '.join(todo)}) as 8 kHz mono "
                          f"16-bit WAV files in {prompts_dir}")
    sox_bin = shutil.which(sox) if sox else None
    prompts_dir.mkdir(parents=True, exist_ok=True)
    for name in todo:
        made.append(_generate(prompts_dir, name, texts[name], voice, speed,
                              espeak_bin, sox_bin))
    return made


def _generate(prompts_dir, name, text, voice, speed, espeak_bin, sox_bin):
    final = prompt_path(prompts_dir, name)
    fd, raw = tempfile.mkstemp(prefix=f".{name}-", suffix=".tts", dir=prompts_dir)
    os.close(fd)
    fd, out = tempfile.mkstemp(prefix=f".{name}-", suffix=".part", dir=prompts_dir)
    os.close(fd)
    try:
        _run([espeak_bin, "-v", voice, "-s", str(speed), "-w", raw, "--stdin"], text, name)
        if sox_bin:
            _run([sox_bin, "-q", raw, "-t", "wav", "-r", str(RATE), "-c", str(CHANNELS),
                  "-b", "16", "-e", "signed-integer", out], None, name)
        else:
            _resample_file(raw, out)
        os.replace(out, final)
    finally:
        for path in (raw, out):
            if os.path.exists(path):
                os.unlink(path)
    return final


def _run(argv, stdin, name):
    try:
        result = subprocess.run(argv, input=stdin, capture_output=True, text=True,
                                timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as e:
        raise PromptError(f"prompt {name!r}: {argv[0]} failed: {e}") from None
    if result.returncode != 0:
        raise PromptError(f"prompt {name!r}: {' '.join(argv)} exited with "
                          f"{result.returncode}: {result.stderr.strip()}")


def _resample_file(src, dst):
    with wave.open(src, "rb") as w:
        rate, channels, width = w.getframerate(), w.getnchannels(), w.getsampwidth()
        frames = w.readframes(w.getnframes())
    if width != SAMPLE_WIDTH:
        raise PromptError(f"{src}: expected 16-bit samples from espeak-ng, got {8 * width}")
    samples = memoryview(frames).cast("h").tolist()
    if channels > 1:
        samples = [sum(samples[i:i + channels]) // channels
                   for i in range(0, len(samples), channels)]
    pcm = resample(samples, rate, RATE)
    with wave.open(dst, "wb") as w:
        w.setnchannels(CHANNELS)
        w.setsampwidth(SAMPLE_WIDTH)
        w.setframerate(RATE)
        w.writeframes(_pack(pcm))


def _pack(samples):
    """Native-order 16-bit samples (the wave module swaps to little-endian)."""
    return array.array("h", samples).tobytes()


def resample(samples: list[int], rate_in: int, rate_out: int) -> list[int]:
    """16-bit mono samples from rate_in to rate_out.

    audioop.ratecv where Python still has it (before 3.13), after a short
    low-pass so that speech above the new Nyquist frequency does not fold
    back; otherwise the same low-pass and linear interpolation in Python.
    """
    if rate_in == rate_out:
        return list(samples)
    if rate_out < rate_in:
        samples = _lowpass(samples, rate_in, rate_out)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import audioop
    except ImportError:
        audioop = None
    if audioop is not None:
        out, _ = audioop.ratecv(_pack(samples), SAMPLE_WIDTH, 1, rate_in, rate_out, None)
        view = memoryview(out).cast("h")
        return list(view)
    n_out = len(samples) * rate_out // rate_in
    step = rate_in / rate_out
    out = []
    last = len(samples) - 1
    for i in range(n_out):
        pos = i * step
        j = int(pos)
        frac = pos - j
        a = samples[j]
        b = samples[j + 1] if j < last else a
        out.append(int(round(a + (b - a) * frac)))
    return out


def _lowpass(samples, rate_in, rate_out):
    """A windowed-sinc FIR low-pass at 0.45 * rate_out (15 taps)."""
    cutoff = 0.45 * rate_out / rate_in       # cycles per input sample
    half = 7
    taps = []
    for k in range(-half, half + 1):
        sinc = 2 * cutoff if k == 0 else math.sin(2 * math.pi * cutoff * k) / (math.pi * k)
        window = 0.54 + 0.46 * math.cos(math.pi * k / (half + 1))    # Hamming
        taps.append(sinc * window)
    gain = sum(taps)
    taps = [t / gain for t in taps]
    padded = [0] * half + list(samples) + [0] * half
    out = []
    for i in range(len(samples)):
        acc = 0.0
        for t, tap in enumerate(taps):
            acc += tap * padded[i + t]
        out.append(max(-32768, min(32767, int(round(acc)))))
    return out


def main(argv=None) -> int:
    """``python -m cti.flow.prompts [PROMPTS_DIR]``: generate missing prompts."""
    args = sys.argv[1:] if argv is None else argv
    prompts_dir = Path(args[0] if args else "etc/prompts")
    try:
        made = ensure_prompts(prompts_dir)
    except (ConfigError, PromptError) as e:
        print(e, file=sys.stderr)
        return 1
    manifest = load_manifest(prompts_dir / MANIFEST)
    print(f"{prompts_dir}: {len(made)} prompt(s) generated, "
          f"{len(manifest.prompts) + len(manifest.music)} in the manifest")
    return 0


if __name__ == "__main__":
    sys.exit(main())
