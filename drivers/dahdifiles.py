# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""The DAHDI driver's prompts and recordings: files to and from the 16-bit
linear samples its voice work (native/src/chanvoice.h) plays and records.

G.711 is converted in C (native/src/codec.c, cti_g711_decode and
cti_g711_encode: a call per prompt or per batch of samples), so no sample
goes through Python on the reactor's thread; a recording is written to
its file as it grows, never kept whole in memory::

    audio = prompt_pcm16(prompt, "dahdiC7", "play")     # bytes, 2 a sample
    rec = Recording("/tmp/caller.wav", "wav-ulaw", "dahdiC7")
    rec.write(samples, n)                               # int16_t *, count
    rec.close()                                         # a WAV's sizes set
"""
from drivers import _dahdi, errors
from drivers.modemaudio import prompt_audio
from drivers.wavinfo import wav_header

ffi, lib = _dahdi.ffi, _dahdi.lib

#: cti_g711_*'s law argument by the formats' names.
ALAW = {"ulaw": 0, "alaw": 1}


def prompt_pcm16(prompt, device, function):
    """A prompt's samples as 16-bit linear bytes (BadParameter, BadAudioFile)."""
    fmt, blob = prompt_audio(prompt, device, function)
    if fmt == "pcm16":
        return blob
    out = ffi.new("int16_t[]", len(blob) or 1)
    lib.cti_g711_decode(ffi.from_buffer(blob), out, len(blob), ALAW[fmt])
    return ffi.buffer(out, 2 * len(blob))[:]


class Recording:
    """A recording's file in one of drivers.modemaudio.RECORD_FORMATS,
    written as samples come; a WAV's header is written first and its sizes
    set when it closes."""

    def __init__(self, path, fmt, device):
        self.wav = fmt.startswith("wav")
        self.fmt = ("pcm16" if fmt in ("wav", "wav-pcm16") else fmt[4:]) if self.wav else fmt
        self.size = 0
        try:
            self.file = open(path, "wb")  # noqa: SIM115 - open from start to close()
        except OSError as e:
            raise errors.BadParameter(f"cannot write {path}: {e.strerror}", function="record",
                                      device=device) from None
        if self.wav:                    # a WAV file from the start, empty
            self.file.write(wav_header(self.fmt, 0))
        self.file.flush()

    def write(self, samples, n):
        """n samples (int16_t *) appended, in the file's format."""
        if self.fmt == "pcm16":
            data = ffi.buffer(samples, 2 * n)
        else:
            out = ffi.new("uint8_t[]", n)
            lib.cti_g711_encode(samples, out, n, ALAW[self.fmt])
            data = ffi.buffer(out, n)
        self.file.write(data)
        self.file.flush()               # on disk as it is recorded
        self.size += len(data)

    def close(self):
        if self.wav:
            if self.size & 1:
                self.file.write(b"\0")
            self.file.seek(0)
            self.file.write(wav_header(self.fmt, self.size))
        self.file.close()
