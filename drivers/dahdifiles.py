# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""The DAHDI driver's prompts and recordings: files to and from the 16-bit
linear samples its voice work (native/src/chanvoice.h) plays and records.

G.711 is converted in C (native/src/codec.c, cti_g711_decode and
cti_g711_encode: a call per prompt or per batch of samples), so no sample
goes through Python on the reactor's thread; a recording is written to
its file as it grows (the driver hands it a second of samples at a time,
and the rest at the end), never kept whole in memory::

    audio = prompt_pcm16(prompt, "dahdiC7", "play")     # bytes, 2 a sample
    rec = Recording("/tmp/caller.wav", "wav-ulaw", "dahdiC7")
    rec.write(samples, n)                               # int16_t *, count
    rec.close()                                         # a WAV's sizes set
"""
import os

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
    set when it closes.  A file that stops taking samples (a full disk)
    is closed with what it holds: `write` says False, `error` says why."""

    def __init__(self, path, fmt, device):
        self.path = path
        self.wav = fmt.startswith("wav")
        self.fmt = ("pcm16" if fmt in ("wav", "wav-pcm16") else fmt[4:]) if self.wav else fmt
        self.size = 0
        self.error = None               # the strerror that ended the file early
        try:
            self.file = open(path, "wb")  # noqa: SIM115 - open from start to close()
            if self.wav:                # a WAV file from the start, empty
                self.file.write(wav_header(self.fmt, 0))
            self.file.flush()
        except OSError as e:
            if getattr(self, "file", None) is not None:
                self._close_quietly()
                _remove(path)
            raise errors.BadParameter(f"cannot write {path}: {e.strerror}", function="record",
                                      device=device) from None

    def write(self, samples, n):
        """n samples (int16_t *) appended, in the file's format; False once
        the file cannot take them (closed then, `error` set)."""
        if self.error is not None:
            return False
        if self.fmt == "pcm16":
            data = ffi.buffer(samples, 2 * n)
        else:
            out = ffi.new("uint8_t[]", n)
            lib.cti_g711_encode(samples, out, n, ALAW[self.fmt])
            data = ffi.buffer(out, n)
        try:
            self.file.write(data)
            self.file.flush()           # on disk as it is recorded
        except OSError as e:
            self.error = e.strerror
            self._close_quietly()
            return False
        self.size += len(data)
        return True

    def close(self):
        """The file closed, a WAV's sizes set; never raises (`error` says
        what went wrong)."""
        if self.file.closed:
            return
        try:
            if self.wav:
                if self.size & 1:
                    self.file.write(b"\0")
                self.file.seek(0)
                self.file.write(wav_header(self.fmt, self.size))
        except OSError as e:
            self.error = self.error or e.strerror
        self._close_quietly()

    def _close_quietly(self):
        try:
            self.file.close()
        except OSError as e:            # what the buffer held could not be written
            self.error = self.error or e.strerror


def _remove(path):
    try:
        os.remove(path)
    except OSError:
        pass                            # not there, or not ours to remove: nothing to undo
