# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_voice_modem -*-
"""Audio between files and a voice modem's compression.

A voice modem plays and records samples in the one G.711 law it was set
to (``AT+VSM``); the driver converts on the way: a prompt (WAV, raw
mu-law, A-law or PCM16) into the modem's law, and what it recorded into
the file format asked (WAV of PCM16, mu-law or A-law, or raw).  Dialogic
ADPCM ("vox") has no converter here: a modem refuses it.
"""
from drivers import errors, g711
from drivers.wavinfo import WavFormatError, wav_file, wav_samples

#: Formats a prompt may come in, and a recording be written in.
PROMPT_FORMATS = ("wav", "ulaw", "alaw", "pcm16")
RECORD_FORMATS = ("wav", "wav-pcm16", "wav-ulaw", "wav-alaw", "ulaw", "alaw", "pcm16")


def prompt_samples(prompt, law, device, function="AT+VTX") -> bytes:
    """A prompt's audio in the modem's law (BadParameter, BadAudioFile)."""
    fmt, blob = prompt_audio(prompt, device, function)
    return convert(blob, fmt, law)


def prompt_audio(prompt, device, function) -> tuple[str, bytes]:
    """(pcm16, ulaw or alaw; the samples) of a prompt, a WAV file's data
    chunk (BadParameter, BadAudioFile)."""
    if prompt.fmt not in PROMPT_FORMATS:
        raise errors.BadParameter(f"format {prompt.fmt!r} is not one of "
                                  f"{', '.join(PROMPT_FORMATS)} (G.711 or 16-bit linear)",
                                  function=function, device=device)
    try:
        if isinstance(prompt.source, bytes):
            blob, where = prompt.source, "the prompt in memory"
        else:
            with open(prompt.source, "rb") as f:
                blob, where = f.read(), prompt.source
        fmt = prompt.fmt
        if fmt == "wav":
            fmt, blob = wav_samples(blob, where)
    except OSError as e:
        raise errors.BadParameter(f"cannot open {prompt.source}: {e.strerror}",
                                  function=function, device=device) from None
    except WavFormatError as e:
        raise errors.BadAudioFile(str(e), function=function, device=device) from None
    return fmt, blob


def convert(samples: bytes, source: str, target: str) -> bytes:
    """Samples from one of pcm16, ulaw, alaw to another."""
    if source == target:
        return samples
    pcm = samples if source == "pcm16" else g711.decode(samples, source)
    return pcm if target == "pcm16" else g711.encode(pcm, target)


def recording_file(samples: bytes, law: str, fmt: str) -> bytes:
    """What the modem recorded, as a file of `fmt` (RECORD_FORMATS)."""
    if fmt.startswith("wav"):
        inner = "pcm16" if fmt in ("wav", "wav-pcm16") else fmt[4:]
        return wav_file(inner, convert(samples, law, inner))
    return convert(samples, law, fmt)
