# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_modem_parsers -*-
"""A voice modem's byte stream (ITU-T V.253, IS-101 "AT+V"): bytes in,
command lines, DLE events and audio out.  No I/O: the driver feeds what
the serial port read and acts on what comes out.

A voice modem talks two ways on one serial line.  In command mode it
answers AT commands with lines (``OK``, ``CONNECT``, ``RING``, the caller
ID lines between the first rings).  Once it has answered ``CONNECT`` to
``AT+VRX`` it sends audio: every byte is a sample, except DLE (0x10),
which shields what follows::

    DLE DLE     a sample of value 0x10
    DLE SUB     two samples of 0x10 (V.253)
    DLE ETX     end of the audio: command mode again (``OK`` follows)
    DLE <c>     an event: ``DLE 5`` the caller pressed 5, ``DLE b`` busy
                tone, ``DLE l`` loop current broke (the far end hung up)

Events come DLE-shielded in command mode too, and while the modem plays
what ``AT+VTX`` sends it (the audio going the other way is shielded by
`shield` and ended by `END_OF_DATA` or, to throw away what it has not
played yet, `ABORT_PLAY`)::

    stream = ModemStream()
    stream.feed(b"\\r\\nRING\\r\\n\\x10d")      # [Line('RING'), Code('d')]
    stream.expect_audio()                     # we sent AT+VRX
    stream.feed(b"CONNECT\\r\\n\\x7f\\x10\\x10\\x105\\x10\\x03")
    # [Line('CONNECT'), Audio(b'\\x7f\\x10'), Code('5'), Code('\\x03')]

`DLE_EVENTS` says what each event code means in the driver's vocabulary
(drivers/interface.py); `DLE_NOTES` names the codes that mean nothing to
a call (the modem's buffers, its local handset), which the driver logs.
"""
from dataclasses import dataclass

DLE, ETX, SUB, CAN = 0x10, 0x03, 0x1A, 0x18
#: After the audio of AT+VTX: play what is buffered, then OK.
END_OF_DATA = bytes((DLE, ETX))
#: Stop playing at once: the buffer thrown away (DLE CAN), then the end.
ABORT_PLAY = bytes((DLE, CAN, DLE, ETX))
#: Stop the audio of AT+VRX: the modem ends it with DLE ETX, then OK.
STOP_RECORD = bytes((DLE, ord("!")))
#: The code of DLE ETX, as `Code.char` gives it.
END = chr(ETX)

DTMF_KEYS = "0123456789*#ABCD"

#: What an event code means: (event kind, data) in drivers.interface's
#: words.  [src: V.253 table 14; mgetty IS_101.c IS_101_handle_dle]
DLE_EVENTS = {
    **{key: ("digit", {"digit": key, "type": "dtmf"}) for key in DTMF_KEYS},
    "a": ("tone", {"tone": "fax_ced", "on": True}),      # answer tone, 2100 Hz
    "b": ("tone", {"tone": "busy", "on": True}),
    "K": ("tone", {"tone": "busy", "on": True}),         # some Rockwell firmware
    "c": ("tone", {"tone": "fax_cng", "on": True}),      # fax calling, 1100 Hz
    "m": ("tone", {"tone": "fax_cng", "on": True}),
    "d": ("tone", {"tone": "dial", "on": True}),
    "i": ("tone", {"tone": "dial", "on": True}),
    "r": ("tone", {"tone": "ringback", "on": True}),
    "J": ("tone", {"tone": "sit", "on": True}),
    "l": ("loop_current", {"on": False}),                 # loop current interrupted
    "L": ("polarity_reversed", {}),
    "q": ("silence", {"on": True}),                       # quiet after speech
    "s": ("silence", {"on": True}),                       # no voice energy at all
    "R": ("ring", {}),
}

#: Codes that are no event of a call: logged by the driver.
DLE_NOTES = {
    "e": "data calling tone (1300 Hz)", "f": "data calling tone (1300 Hz)",
    "h": "local handset on hook", "p": "local handset on hook",
    "H": "local handset off hook", "P": "local handset off hook",
    "t": "TDD tone", "v": "voice detected", "V": "voice detected", "w": "call waiting tone",
    "$": "bong tone", "o": "receive buffer overrun: audio from the line was lost",
    "u": "transmit buffer underrun: the modem ran out of audio to play",
    "Y": "data lost", "E": "the modem refused the audio format", "T": "timing mark",
    "Q": "XON", "S": "XOFF", "/": "start of a DTMF tone", "~": "end of a DTMF tone",
}


@dataclass(frozen=True)
class Line:
    """A line the modem sent in command mode, without its CR LF."""

    text: str


@dataclass(frozen=True)
class Code:
    """DLE and the character after it: an event, or `END` (DLE ETX)."""

    char: str


@dataclass(frozen=True)
class Audio:
    """Samples received after CONNECT to AT+VRX, DLE shielding undone."""

    data: bytes


def shield(audio: bytes) -> bytes:
    """Audio for AT+VTX: every DLE doubled."""
    return audio.replace(b"\x10", b"\x10\x10")


class ModemStream:
    """Splits what a voice modem sends into `Line`, `Code` and `Audio`."""

    def __init__(self):
        self.receiving = False        # after CONNECT to AT+VRX, until DLE ETX
        self._armed = False           # the next CONNECT starts the audio
        self._line = bytearray()
        self._after_dle = False
        self._lf_after_connect = False    # CONNECT ended by CR: its LF is no sample

    def expect_audio(self):
        """AT+VRX was sent: the bytes after its CONNECT line are audio."""
        self._armed = True

    def feed(self, data: bytes) -> list:
        out = []
        i, n = 0, len(data)
        while i < n:
            if self._after_dle:
                self._after_dle = False
                self._code(data[i], out)
                i += 1
            elif self.receiving:
                if self._lf_after_connect:
                    self._lf_after_connect = False
                    if data[i] == 0x0A:
                        i += 1
                        continue
                j = data.find(DLE, i)
                end = n if j < 0 else j
                if end > i:
                    self._audio(data[i:end], out)
                if j >= 0:
                    self._after_dle = True
                    end += 1
                i = end
            else:
                byte = data[i]
                i += 1
                if byte == DLE:
                    self._after_dle = True
                elif byte in (0x0D, 0x0A):
                    self._end_line(out)
                    self._lf_after_connect = self.receiving and byte == 0x0D
                else:
                    self._line.append(byte)
        return out

    def _audio(self, samples, out):
        if out and isinstance(out[-1], Audio):
            out[-1] = Audio(out[-1].data + samples)
        else:
            out.append(Audio(bytes(samples)))

    def _code(self, byte, out):
        if self.receiving and byte == DLE:
            self._audio(b"\x10", out)
        elif self.receiving and byte == SUB:
            self._audio(b"\x10\x10", out)
        else:
            if byte == ETX:
                self.receiving = False
            out.append(Code(chr(byte)))

    def _end_line(self, out):
        if not self._line:
            return
        text = self._line.decode("latin-1").strip()
        self._line.clear()
        if not text:
            return
        out.append(Line(text))
        if self._armed and text == "CONNECT":
            self._armed = False
            self.receiving = True
