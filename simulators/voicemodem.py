# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_voice_modem -*-
"""A V.253 voice modem and the telephone line behind it, simulated: the
modem's side of the serial port, sans-IO, on an injected clock.

It answers the AT+V dialect drivers.voicemodem speaks (lines-real.md
5.1; mgetty's IS_101.c and V253modem.c for the commands), echoing
commands until ``ATE0`` as a real modem does::

    ATZ  ATE0  AT+FCLASS=8  AT+IFC=2,2  AT+VSM=4,8000   OK
    AT+VCID=1 / =2, AT#CID=1     caller ID formatted / in hex / Rockwell's
    AT+VLS=1 / =0                off hook (answers a ringing line) / on hook
    ATD<number>                  dial: VCON, BUSY, NO ANSWER, NO DIAL TONE
                                 (`outbound`); any byte while dialling: NO CARRIER
    AT+VTS=1,2,[440,480,50]      DTMF keys and tones (10 ms units), OK once sent
    AT+VTX                       CONNECT, then DLE-shielded audio "played" in
                                 real time: OK after DLE ETX once it is out;
                                 DLE CAN throws away what is not played yet
    AT+VRX                       CONNECT, then the far end's audio, 20 ms at a
                                 time, shielded; DLE ! ends it: DLE ETX, OK
    AT+VSD=128,<tenths>          DLE s after that much silence while recording

and plays the far end from outside (`call`, `abandon`, `press`, `say`,
`hang_up`, `outbound`), with what the far end heard kept (`heard`,
`dialled`, `tones`).  RING comes every RING_PERIOD_S, the caller ID
between the first and second ring, in the dialect of `caller_id_style`:

    v253      DATE=0321 / TIME=1405 / NMBR=... / NAME=...
    rockwell  DATE = 0321 / ... with spaces (also what AT#CID=1 gives)
    zyxel     CALLER NUMBER: ... / CALLER NAME: ...
    elsa      RING;<number> for every ring, no other line

`stall()` makes the modem deaf and dumb (a hung modem) until `recover()`.
"""
import re

from twisted.internet import task

from drivers.callerid import MDMF, SDMF, checksum

DLE, ETX, CAN = 0x10, 0x03, 0x18
RING_PERIOD_S = 6.0
#: When the caller ID comes after the first RING (between the rings).
CALLER_ID_AFTER_S = 2.5
#: Rings before a caller nobody answers gives up.
MAX_RINGS = 10
#: Audio of AT+VRX: 20 ms at a time.
FRAME_S, FRAME_BYTES = 0.02, 160
#: How long a dialled digit takes (ATD, AT+VTS).
DIGIT_S = 0.1
SILENCE = {"ulaw": 0xFF, "alaw": 0xD5}
#: AT+VSM values this modem takes: V.253's G.711 (4, 5) and ELSA's (131, 132).
COMPRESSIONS = {"4,8000": "ulaw", "5,8000": "alaw", "131,8000": "ulaw", "132,8000": "alaw"}
STYLES = ("v253", "rockwell", "zyxel", "elsa")
OUTBOUND = ("answer", "busy", "no_answer", "no_dial_tone")
_VTS_ITEM = re.compile(r"\[(\d*),(\d*),(\d*)\]|\{(.)[^}]*\}|([0-9*#A-D])")


def caller_id_message(number, name, datetime):
    """The data message the exchange sends (drivers.callerid reads it):
    SDMF for a number alone, else MDMF."""
    if not name and number not in ("P", "O"):
        body = (datetime + number).encode("latin-1")
        message = bytes((SDMF, len(body))) + body
    else:
        params = bytes((1, 8)) + datetime.encode()
        if number in ("P", "O"):
            params += bytes((4, 1)) + number.encode()
        elif number:
            params += bytes((2, len(number))) + number.encode()
        if name:
            params += bytes((7, len(name))) + name.encode("latin-1")
        message = bytes((MDMF, len(params))) + params
    return message + bytes((checksum(message),))


class VoiceModemSimulator:
    """The modem and the line; `write` is set by whoever connects it."""

    def __init__(self, clock, caller_id_style="v253", datetime="03211405"):
        if caller_id_style not in STYLES:
            raise ValueError(f"caller_id_style {caller_id_style!r} is not one of {STYLES}")
        self.clock = clock
        self.caller_id_style = caller_id_style
        self.datetime = datetime
        self.write = lambda data: None
        self.commands = []              # every command line received
        self.heard = bytearray()        # audio played to the far end (AT+VTX)
        self.dialled = []               # numbers dialled (ATD) and keys sent (AT+VTS)
        self.tones = []                 # (f1, f2, ms) sent with AT+VTS
        self.outbound = "answer"        # what the far end of an ATD does
        self.answer_after_s = 4.0
        self.stalled = False
        self._reset()

    def _reset(self):
        self.echo = True
        self.voice = False
        self.caller_id = 0              # AT+VCID: 0 off, 1 formatted, 2 hex
        self.compression = "4,8000"
        self.silence_tenths = 0
        self.offhook = False
        self.line = "idle"              # idle, ringing, connected, dialling, gone
        self.mode = "command"           # command, vtx, vrx, dialling
        self._command = bytearray()
        self._caller = None             # (number, name) ringing
        self._rings = 0
        self._ringing = None
        self._after_dle = False
        self._playing = bytearray()     # audio of the AT+VTX running
        self._play_started = self._play_end = 0.0
        self._far_audio = bytearray()
        self._quiet_s = 0.0
        self._recording = None
        self._pending = []              # delayed calls to cancel on a reset

    # -- the far end --------------------------------------------------------------
    def call(self, number="", name=""):
        """A caller rings the line (number P / O: withheld / unavailable)."""
        self._caller, self._rings, self.line = (number, name), 0, "ringing"
        self._ring()

    def abandon(self):
        """The caller gives up before anyone answers."""
        if self.line == "ringing":
            self._stop_ringing()
            self.line = "idle"

    def press(self, digits):
        """The far end presses keys: DLE <key>, one every 200 ms."""
        for i, key in enumerate(digits):
            self._later(0.2 * i, self._send_code, key)

    def say(self, audio):
        """Audio from the far end (in the modem's compression), heard while
        recording."""
        self._far_audio += audio

    def hang_up(self, signal="loop"):
        """The far end hangs up: the exchange breaks the loop (DLE l),
        reverses the polarity (DLE L) or sends busy tone (DLE b)."""
        self.line = "gone"
        self._send_code({"loop": "l", "polarity": "L", "busy": "b"}[signal])

    def power_on(self):
        """The modem plugged back in (or powered on): on hook, idle, its
        settings the factory's, no caller on its line."""
        for call in self._pending:
            if call.active():
                call.cancel()
        self._pending = []
        self._stop_ringing()
        self._stop_recording()
        self.stalled = False
        self._reset()

    def stall(self):
        self.stalled = True

    def recover(self):
        self.stalled = False

    # -- the computer's side -------------------------------------------------------
    def data_received(self, data):
        if self.stalled:
            return
        for byte in data:
            if self.mode == "vtx":
                self._vtx_byte(byte)
            elif self.mode == "vrx":
                self._vrx_byte(byte)
            elif self.mode == "dialling":
                self._dial_aborted()
            elif byte == 0x0D:
                command = self._command.decode("latin-1").strip()
                self._command.clear()
                if self.echo:
                    self.write(command.encode("latin-1") + b"\r")
                if command:
                    self._execute(command)
            elif byte != 0x0A:
                self._command.append(byte)

    def _send(self, *lines):
        self.write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))

    def _send_code(self, char):
        if not self.stalled:
            self.write(bytes((DLE, ord(char))))

    def _later(self, seconds, f, *args):
        call = self.clock.callLater(seconds, f, *args)
        self._pending = [c for c in self._pending if c.active()] + [call]
        return call

    def _execute(self, command):
        self.commands.append(command)
        upper = command.upper()
        if not upper.startswith("AT"):
            return self._send("ERROR")
        body = upper[2:]
        if body in ("", "E0", "E0V1", "V1", "Q0", "+IFC=2,2", "+FLO=2", "+VIT=60"):
            if body.startswith("E0"):
                self.echo = False
            return self._send("OK")
        if body == "Z":
            for call in self._pending:
                if call.active():
                    call.cancel()
            if self._ringing is not None and self._ringing.active():
                self._ringing.cancel()
            self._stop_recording()
            self._reset()
            return self._send("OK")
        if body == "+FCLASS=8":
            self.voice = True
            return self._send("OK")
        if body == "+FCLASS?":
            return self._send("8" if self.voice else "0", "OK")
        if body in ("+VCID=0", "+VCID=1", "+VCID=2", "#CID=1"):
            self.caller_id = 1 if body == "#CID=1" else int(body[-1])
            if body == "#CID=1":
                self.caller_id_style = "rockwell"
            return self._send("OK")
        if body.startswith("+VSM="):
            if body[5:] not in COMPRESSIONS:
                return self._send("ERROR")
            self.compression = body[5:]
            return self._send("OK")
        if body.startswith("+VSD="):
            self.silence_tenths = int(body[5:].split(",")[1])
            return self._send("OK")
        if body in ("+VLS=0", "+VLS=1"):
            return self._hook(body == "+VLS=1")
        if body.startswith("D"):
            number = command[3:]
            return self._dial(number[1:] if number[:1] in ("T", "t", "P", "p") else number)
        if body.startswith("+VTS="):
            return self._vts(command[7:])
        if body in ("+VTX", "+VRX"):
            if not self.voice or not self.offhook:
                return self._send("ERROR")
            self._send("CONNECT")
            if body == "+VTX":
                self.mode, self._playing = "vtx", bytearray()
                self._play_started = self._play_end = self.clock.seconds()
            else:
                self._start_recording()
            return None
        return self._send("ERROR")

    def _hook(self, offhook):
        self.offhook = offhook
        if offhook and self.line == "ringing":
            self._stop_ringing()
            self.line = "connected"
        elif not offhook:
            self.line = "idle"
        self._send("OK")

    # -- ringing ---------------------------------------------------------------------
    def _ring(self):
        if self.line != "ringing" or self.offhook:
            return
        self._rings += 1
        if self._rings > MAX_RINGS:
            self.line = "idle"
            return
        number, name = self._caller
        if self.caller_id == 1 and self.caller_id_style == "elsa" and number:
            self._send(f"RING;{number}")
        else:
            self._send("RING")
        if self._rings == 1 and self.caller_id and (number or name):
            self._later(CALLER_ID_AFTER_S, self._caller_id_lines, number, name)
        self._ringing = self.clock.callLater(RING_PERIOD_S, self._ring)

    def _stop_ringing(self):
        if self._ringing is not None and self._ringing.active():
            self._ringing.cancel()
        self._ringing = None

    def _caller_id_lines(self, number, name):
        if self.line != "ringing":
            return
        date, time = self.datetime[:4], self.datetime[4:]
        if self.caller_id == 2:
            return self._send(caller_id_message(number, name, self.datetime).hex().upper())
        style = self.caller_id_style
        if style == "elsa":
            return None
        if style == "zyxel":
            lines = [f"CALLER NUMBER: {number}"] + ([f"CALLER NAME: {name}"] if name else [])
            return self._send(*lines)
        eq = " = " if style == "rockwell" else "="
        lines = [f"DATE{eq}{date}", f"TIME{eq}{time}", f"NMBR{eq}{number}"]
        return self._send(*lines + ([f"NAME{eq}{name}"] if name else []))

    # -- dialling and tones ----------------------------------------------------------
    def _dial(self, number):
        number = number.rstrip(";")
        self.dialled.append(number)
        self.offhook, self.mode, self.line = True, "dialling", "dialling"
        digits_s = DIGIT_S * len(number)
        if self.outbound == "no_dial_tone":
            self._later(2.0, self._dial_result, "NO DIAL TONE")
        elif self.outbound == "busy":
            self._later(digits_s + 1.0, self._dial_result, "BUSY")
        elif self.outbound == "no_answer":
            self._later(digits_s + 30.0, self._dial_result, "NO ANSWER")
        else:
            self._later(digits_s + self.answer_after_s, self._dial_result, "VCON")

    def _dial_result(self, result):
        if self.mode != "dialling":
            return
        self.mode = "command"
        if result == "VCON":
            self.line = "connected"
        else:
            self.offhook, self.line = False, "idle"
        self._send(result)

    def _dial_aborted(self):
        for call in self._pending:
            if call.active():
                call.cancel()
        self.mode, self.offhook, self.line = "command", False, "idle"
        self._send("NO CARRIER")

    def _vts(self, items):
        total = 0.0
        for match in _VTS_ITEM.finditer(items):
            f1, f2, duration, braced, key = match.groups()
            if key or braced:
                self.dialled.append(key or braced)
                total += DIGIT_S
            else:
                ms = int(duration or 0) * 10
                self.tones.append((int(f1 or 0), int(f2 or 0), ms))
                total += ms / 1000
        self._later(total, self._send, "OK")

    # -- audio -------------------------------------------------------------------------
    def _vtx_byte(self, byte):
        if self._after_dle:
            self._after_dle = False
            if byte == DLE:
                self._play(b"\x10")
            elif byte == CAN:
                played = int((self.clock.seconds() - self._play_started) * 8000)
                del self._playing[max(played, 0):]
                self._play_end = self.clock.seconds()
            elif byte == ETX:
                self.mode = "command"
                self.heard += self._playing
                self._later(max(0.0, self._play_end - self.clock.seconds()), self._send, "OK")
        elif byte == DLE:
            self._after_dle = True
        else:
            self._play(bytes((byte,)))

    def _play(self, audio):
        self._playing += audio
        self._play_end = max(self._play_end, self.clock.seconds()) + len(audio) / 8000

    def _start_recording(self):
        self.mode, self._quiet_s = "vrx", 0.0
        self._recording = task.LoopingCall(self._record_frame)
        self._recording.clock = self.clock
        self._recording.start(FRAME_S, now=False)

    def _record_frame(self):
        if self.stalled:
            return
        frame = bytes(self._far_audio[:FRAME_BYTES])
        del self._far_audio[:FRAME_BYTES]
        if len(frame) < FRAME_BYTES:
            self._quiet_s += FRAME_S
            frame += bytes((SILENCE[COMPRESSIONS[self.compression]],)) * (
                FRAME_BYTES - len(frame))
        else:
            self._quiet_s = 0.0
        self.write(frame.replace(b"\x10", b"\x10\x10"))
        if self.silence_tenths and 0 <= self._quiet_s - self.silence_tenths / 10 < FRAME_S:
            self._send_code("s")

    def _vrx_byte(self, byte):
        if self._after_dle:
            self._after_dle = False
            if byte == ord("!"):
                self._stop_recording()
                self.mode = "command"
                self.write(bytes((DLE, ETX)))
                self._send("OK")
        elif byte == DLE:
            self._after_dle = True

    def _stop_recording(self):
        if self._recording is not None and self._recording.running:
            self._recording.stop()
        self._recording = None
