# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_voice_modem -*-
"""One voice modem on a serial port: a Twisted protocol speaking V.253
("AT+V") for drivers.modem.

It keeps the dialogue in order (one AT command at a time, each answered
by a final result or timed out on the injected clock) and turns what the
modem says (drivers.modemstream: lines, DLE events, audio) into the
driver's events (drivers/interface.py)::

    RING (and ELSA's RING;<number>)     ring, count; ring_stopped when no
                                        RING came for RING_GAP_S
    caller-ID lines between the rings   caller_id() (drivers.callerid)
    DLE 0-9 * # A-D                     digit (and the digit buffer)
    DLE b d r J a c, DLE l, DLE L, DLE s tone, loop_current off,
                                        polarity_reversed, silence

and runs one operation at a time, each ending with one event:

    hook     AT+VLS=1 / AT+VLS=0                               hook_done
    play     AT+VTX, CONNECT, the audio shielded (half a second
             ahead of the modem), DLE ETX, OK                  play_done
    record   (AT+VSD=128,<tenths>) AT+VRX, CONNECT, audio ...
             DLE ! to stop, DLE ETX, OK                        record_done
    digits   none: from the digit buffer, on the clock          digits_done
    dial     ATD<number> (on hook, or with call progress):
             VCON connected, BUSY, NO ANSWER, NO DIAL TONE;
             off hook without: AT+VTS=<keys> in band           dial_done
    tone     AT+VTS=[f1,f2,<10 ms units>]                      tone_done

A termination (drivers.interface.Termination) ends a play or a record by
stopping the modem (DLE CAN DLE ETX, DLE !) once a key, the caller's
hang-up (loop_off), a tone or the modem's silence report says so, or its
time is up; `stop` does the same with reason stopped.  The watchdog
(drivers.watchdog) ends an operation the modem never finishes: stop,
then reset (ATZ and the set-up again, the hook as it was), reason hung.
An operation the modem answers ERROR to ends with reason error (a hook
too: hook_done with the hook as it was and reasons {error}).

A modem that cannot work is an "alarm" event on its name, raised and
cleared: removed while its port is gone (connectionLost: the operation
running ends with reason error; the port is opened again every
REOPEN_S), not_ready while its set-up goes unanswered or refused (tried
again every SETUP_RETRY_S); both clear once it is set up.
"""
from collections import deque
from dataclasses import dataclass, field

from twisted.internet import protocol
from twisted.logger import Logger

from drivers import errors
from drivers.callerid import CallerIdLines
from drivers.interface import DIGIT_BUFFER, NOT_READY_ALARM, REMOVED_ALARM, RING_GAP_S, Event
from drivers.modemstream import (
    ABORT_PLAY,
    DLE_EVENTS,
    DLE_NOTES,
    END,
    END_OF_DATA,
    STOP_RECORD,
    Audio,
    Code,
    ModemStream,
    shield,
)
from drivers.watchdog import STOP_GRACE_MS, deadline_ms, hung_data

log = Logger()

#: How long the modem may take over a command, and over a dial.
COMMAND_TIMEOUT_S = 5.0
#: A modem whose set-up failed is set up again this often; a port that
#: went away (a USB modem unplugged) is opened again this often.
SETUP_RETRY_S = 30.0
REOPEN_S = 5.0
DIAL_TIMEOUT_S = 120.0
#: What ends a command: its final result codes (V.250, V.253).
FINAL = ("OK", "ERROR", "CONNECT", "VCON", "BUSY", "NO ANSWER", "NO DIAL TONE", "NO CARRIER")
#: The dial results of ATD, in the driver's words.
DIAL_RESULTS = {"VCON": "connected", "OK": "connected", "BUSY": "busy",
                "NO ANSWER": "no_answer", "NO DIAL TONE": "no_dial_tone",
                "NO CARRIER": "no_answer"}
#: A play's audio goes this far ahead of the modem, a chunk at a time.
PLAY_LEAD_S, PLAY_CHUNK_S = 0.5, 0.1
#: A pause in in-band dialling (','), as an AT+VTS silence: 2 s in 10 ms units.
PAUSE = "[0,0,200]"
#: Set-up after ATZ: no echo, verbose results, voice mode, then the
#: compression (AT+VSM) and the site's own commands.
SETUP = ("ATE0V1", "AT+FCLASS=8")
#: What `status` calls each operation while it runs.
STATES = {"play": "playing", "record": "recording", "digits": "collecting",
          "dial": "dialling", "tone": "tone", "hook": "hook"}


@dataclass
class _Command:
    """An AT command waiting for its result (`on_result(text)` says
    whether it is over; the text is a final result or TIMEOUT)."""

    text: str
    on_result: object
    timeout_s: float = COMMAND_TIMEOUT_S
    before_send: object = None
    timer: object = None
    setup: bool = False               # part of the set-up, which says its own failure


@dataclass
class _Operation:
    """The operation running: its kind, the event that ends it, its
    termination and what it gathered."""

    kind: str
    done: str
    termination: object = None
    reasons: set = field(default_factory=set)
    stopping: bool = False
    connected: bool = False           # CONNECT came (play, record)
    fed: bool = False                 # a play's audio all sent, and DLE ETX
    command: object = None            # its _Command, while queued or sent
    audio: bytearray = field(default_factory=bytearray)
    digits: str = ""
    timers: dict = field(default_factory=dict)    # max_time, inter_digit -> delayed call
    watchdog: object = None
    finish_with: object = None        # (event data) -> data, for record's file


class VoiceModem(protocol.Protocol):
    """One modem.  `emit(event)` hands each Event to the driver;
    `reopen()` opens its port again (after it went away), raising
    ModemError if it cannot.

    The modem is a line alarm while it cannot work: REMOVED_ALARM from the
    port's loss (the running operation ended with an error, nothing
    written) until it is open and set up again, NOT_READY_ALARM while its
    set-up goes unanswered or refused (tried again every SETUP_RETRY_S).
    """

    def __init__(self, name, settings, clock, emit, reopen=None):
        self.name = name
        self.settings = settings
        self.clock = clock
        self.emit = emit
        self.reopen = reopen
        self.port_open = False
        self.alarms = set()               # REMOVED_ALARM, NOT_READY_ALARM while raised
        self._retry = None                # the next set-up or reopen, on the clock
        self._setup_failure = None        # what the last failed set-up said (logged once)
        self.stream = ModemStream()
        self.caller_ids = CallerIdLines()
        self.reported = frozenset()       # event kinds enable_events asked for
        self.offhook = False
        self.hook_since = clock.seconds()
        self.rings = 0
        self.digits = ""                  # keys heard, not collected yet
        self.op = None
        self.ready = False
        self._commands = deque()
        self._current = None
        self._ring_timer = None
        self.shut = False                 # shut_down(): no timer, no reopen from now on

    # -- the serial port ------------------------------------------------------------
    def connectionMade(self):
        self.port_open = True
        self.stream = ModemStream()
        self._set_up()

    def connectionLost(self, reason=protocol.connectionDone):
        """The port went away (a USB modem unplugged): the commands waiting
        dropped, the operation running ended with an error, the line alarm
        REMOVED_ALARM raised, and the port opened again every REOPEN_S."""
        if not self.port_open:
            return
        log.error("{device}: serial port {port} closed: {reason}; out of service, opening "
                  "it again every {s:.0f} s", device=self.name, port=self.settings.port,
                  reason=reason.getErrorMessage(), s=REOPEN_S, alarm_kind="line")
        self.port_open = self.ready = False
        self._drop_commands()
        self._cancel_retry()
        if self._ring_timer is not None and self._ring_timer.active():
            self._ring_timer.cancel()
        self.rings, self.offhook = 0, False
        op, self.op = self.op, None
        self._alarm(REMOVED_ALARM, True)
        if op is not None:
            self._cancel_timers(op)
            data = {**hung_data(op.done), "reasons": frozenset({"error"})}
            if op.done == "hook_done":
                data["offhook"] = False
            if op.finish_with is not None:
                data = op.finish_with(data)
            self.emit(Event(self.name, op.done, data))
        if self.reopen is not None and not self.shut:
            self._later(REOPEN_S, self._reopen)

    def missing(self, error):
        """The port could not be opened at the start (a USB modem not
        plugged in): the line alarm REMOVED_ALARM raised (the driver tells
        each subscriber of it as it subscribes), the port tried again
        every REOPEN_S."""
        log.error("{device}: serial port {port} cannot be opened: {e}; out of service, "
                  "opening it again every {s:.0f} s", device=self.name, port=self.settings.port,
                  e=error, s=REOPEN_S, alarm_kind="line")
        self._alarm(REMOVED_ALARM, True)
        self._later(REOPEN_S, self._reopen)

    def _reopen(self):
        self._retry = None
        try:
            self.reopen()
        except errors.ModemError as e:
            log.debug("{device}: {port} not back yet: {e}", device=self.name,
                      port=self.settings.port, e=e)
            self._later(REOPEN_S, self._reopen)
            return
        log.info("{device}: serial port {port} open again: setting the modem up",
                 device=self.name, port=self.settings.port)

    def _later(self, seconds, call):
        """`call` (a set-up, a reopen) in `seconds`, instead of any pending;
        nothing once shut down."""
        self._cancel_retry()
        if not self.shut:
            self._retry = self.clock.callLater(seconds, call)

    def shut_down(self):
        """The server stops: every timer of the modem cancelled (its ring
        gap, its commands' time-outs, its operation's limits and watchdog,
        the next set-up or reopen), and none armed again: a port lost or a
        set-up failing from now on is not retried, what the modem says is
        ignored.  (`stop` is the operation's stop, of the driver's
        interface.)"""
        self.shut = True
        self._cancel_retry()
        if self._ring_timer is not None and self._ring_timer.active():
            self._ring_timer.cancel()
        self._drop_commands()
        if self.op is not None:
            self._cancel_timers(self.op)

    def _cancel_retry(self):
        if self._retry is not None and self._retry.active():
            self._retry.cancel()
        self._retry = None

    def _alarm(self, alarm, raised):
        if (alarm in self.alarms) == raised:
            return
        if raised:
            self.alarms.add(alarm)
        else:
            self.alarms.discard(alarm)
        self.emit(Event(self.name, "alarm", {"alarm": alarm, "raised": raised}))

    def dataReceived(self, data):
        if self.shut:
            return
        for item in self.stream.feed(data):
            if isinstance(item, Audio):
                if self.op is not None and self.op.kind == "record":
                    self.op.audio += item.data
            elif isinstance(item, Code):
                self._code(item.char)
            else:
                self._line(item.text)

    def _set_up(self, offhook=False):
        """ATZ, SETUP, AT+VSM and the site's init, in order: ready after the
        last, and with `offhook` (a reset of a modem off hook) AT+VLS=1
        after it; at the first that fails the rest are dropped (the hook
        too), the line alarm NOT_READY_ALARM raised and the set-up tried
        again in SETUP_RETRY_S."""
        self._cancel_retry()
        s = self.settings
        queued = []

        def step(text):
            def on_result(result):
                if result != "OK":
                    for command in queued:
                        self._unqueue(command)
                    self._set_up_failed(text, result)
                elif text == last:
                    self.ready = True
                    self._setup_failure = None
                    log.info("{device}: voice modem on {port} ready", device=self.name,
                             port=s.port)
                    self._alarm(NOT_READY_ALARM, False)
                    self._alarm(REMOVED_ALARM, False)
                return True
            return on_result

        commands = ["ATZ", *SETUP, f"AT+VSM={s.compression}", *s.init]
        last = commands[-1]
        for text in commands:
            queued.append(self._queue(text, step(text), setup=True))
        if offhook:
            queued.append(self._queue("AT+VLS=1", lambda result: True))

    def _set_up_failed(self, command, result):
        if result == "TIMEOUT":
            why = (f"no answer on {self.settings.port} to {command}: is it the modem's AT "
                   "port, is it powered?")
        else:
            why = (f"the modem on {self.settings.port} answered {result} to {command}: check "
                   "[[modems]] init and compression against its manual")
        if why != self._setup_failure:          # said once, not at every retry
            self._setup_failure = why
            log.error("{device}: {why} (out of service; set up again every {s:.0f} s)",
                      device=self.name, why=why, s=SETUP_RETRY_S, alarm_kind="line")
        self._alarm(NOT_READY_ALARM, True)
        self._alarm(REMOVED_ALARM, False)
        self._later(SETUP_RETRY_S, self._set_up)

    # -- commands -------------------------------------------------------------------
    def _queue(self, text, on_result, timeout_s=COMMAND_TIMEOUT_S, before_send=None,
               setup=False):
        command = _Command(text, on_result, timeout_s, before_send, setup=setup)
        self._commands.append(command)
        self._next()
        return command

    def _next(self):
        if self._current is not None or not self._commands or self.shut:
            return
        command = self._current = self._commands.popleft()
        if command.before_send is not None:
            command.before_send()
        command.timer = self.clock.callLater(command.timeout_s, self._result, "TIMEOUT")
        self.transport.write(command.text.encode("latin-1") + b"\r")

    def _result(self, text):
        command = self._current
        if command is None:
            log.debug("{device}: {text} with no command waiting", device=self.name, text=text)
            return
        if text == "TIMEOUT" and not command.setup:
            log.error("{device}: no answer to {command} within {s} s", device=self.name,
                      command=command.text, s=command.timeout_s)
            if self.op is not None and self.op.command is command:
                return self._hang(self.op)        # the modem is not listening: reset it
        over = command.on_result(text) or text in ("TIMEOUT", "ERROR")
        if command.timer.active() and (over or self.op is not None and
                                       self.op.command is command):
            command.timer.cancel()        # over; or CONNECT: the operation's watchdog
        if over and self._current is command:   # times its audio, however long
            self._current = None
            self._next()

    def _drop_commands(self):
        """The commands sent and waiting forgotten, their time-outs off."""
        for command in [self._current, *self._commands]:
            if command is not None and command.timer is not None and command.timer.active():
                command.timer.cancel()
        self._commands.clear()
        self._current = None

    def _unqueue(self, command):
        """Take back a command not sent yet: True if it was waiting."""
        if command in self._commands:
            self._commands.remove(command)
            return True
        return False

    def _line(self, text):
        if self._current is not None and text.upper() == self._current.text.upper():
            return                        # the modem's echo (before ATE0)
        if text in FINAL or text.startswith("+CME ERROR"):
            self._result(text)
        elif text == "RING" or text.startswith("RING;"):
            self._ring()
            if text != "RING":
                self.caller_ids.add(text)
        elif not (self.rings and not self.offhook and self.caller_ids.add(text)):
            log.debug("{device}: the modem said {text!r}", device=self.name, text=text)

    # -- what the line does -----------------------------------------------------------
    def _report(self, kind, **data):
        if kind in self.reported:
            self.emit(Event(self.name, kind, data))

    def _ring(self):
        if self.offhook:
            return
        if self.rings == 0:
            self.caller_ids.clear()
        self.rings += 1
        self._report("ring", count=self.rings)
        if self._ring_timer is not None and self._ring_timer.active():
            self._ring_timer.cancel()
        self._ring_timer = self.clock.callLater(RING_GAP_S, self._ringing_stopped)

    def _ringing_stopped(self):
        self.rings = 0
        self._report("ring_stopped")

    def _code(self, char):
        if char == END:
            return                        # the end of AT+VRX's audio: OK follows
        meaning = DLE_EVENTS.get(char)
        if meaning is None:
            log.info("{device}: the modem reports {what}", device=self.name,
                     what=DLE_NOTES.get(char, f"DLE {char!r}, a code V.253 does not define"))
            return
        kind, data = meaning
        if kind == "ring":
            self._ring()
        elif kind == "digit":
            self._digit(data["digit"])
        elif kind == "loop_current":
            self._report(kind, on=False, ms=round((self.clock.seconds() - self.hook_since)
                                                  * 1000))
            self._end_if("loop_off", lambda t: t.loop_off_ms is not None)
        else:
            self._report(kind, **data)
            if kind == "tone":
                self._end_if("tone", lambda t: t.tone == data["tone"])
            elif kind == "silence":
                self._end_if("max_silence", lambda t: t.max_silence_ms is not None)

    def _digit(self, digit):
        if len(self.digits) < DIGIT_BUFFER:
            self.digits += digit
        self._report("digit", digit=digit, type="dtmf")
        op = self.op
        if op is None or op.termination is None:
            return
        if op.kind == "digits":
            self._collect()
        elif op.kind in ("play", "record"):
            reason = _digit_reason(op.termination, self.digits)
            if reason:
                self._stop_op(reason)

    def _end_if(self, reason, applies):
        op = self.op
        if op is not None and op.termination is not None and applies(op.termination):
            self._stop_op(reason)

    # -- operations -------------------------------------------------------------------
    def busy(self):
        return self.op is not None

    def check_idle(self, function):
        if not self.port_open:
            raise errors.DeviceRemoved(f"the modem's serial port {self.settings.port} is gone "
                                       "(unplugged?): out of service until it is back",
                                       function=function, device=self.name)
        if self.op is not None:
            raise errors.DeviceBusy(f"{self.op.kind} in progress", function=function,
                                    device=self.name)

    def _start(self, op, deadline):
        self.op = op
        op.watchdog = self.clock.callLater(deadline / 1000.0, self._expired, op)

    def _finish(self, op, **data):
        """End `op` with its done event (once)."""
        if self.op is not op:
            return
        self.op = None
        self._cancel_timers(op)
        if op.finish_with is not None:
            data = op.finish_with(data)
        self.emit(Event(self.name, op.done, data))

    @staticmethod
    def _cancel_timers(op):
        for timer in [*op.timers.values(), op.watchdog]:
            if timer is not None and timer.active():
                timer.cancel()

    def _reasons(self, op, default):
        return frozenset(op.reasons or {default})

    def _expired(self, op):
        if self.op is not op:
            return
        if not op.stopping:
            log.warn("{device}: {op} overran its watchdog; stopping it", device=self.name,
                     op=op.kind)
            self._stop_op("stopped")
            if self.op is op:
                op.watchdog = self.clock.callLater(STOP_GRACE_MS / 1000.0, self._expired, op)
            return
        self._hang(op)

    def _hang(self, op):
        """`op` never ends: the modem reset, the operation over as hung."""
        log.error("{device}: {op} is hung; resetting the modem", device=self.name, op=op.kind)
        self.op = None
        self._cancel_timers(op)
        self.reset()
        self.emit(Event(self.name, op.done, hung_data(op.done)))
        self.emit(Event(self.name, "operation_failed", {"op": op.kind, "reason": "hung"}))

    def reset(self):
        """The modem from scratch: whatever it was sending or receiving
        ended, the commands waiting dropped, ATZ and the set-up again, the
        hook put back as it was.  The operation running is dropped
        without an event (the caller says how it ended).  A modem whose
        port is gone is opened again on its own (`connectionLost`)."""
        if self.op is not None:
            self._cancel_timers(self.op)
        if not self.port_open:
            self.op = None
            return
        if self.stream.receiving:
            self.transport.write(STOP_RECORD)
        elif self._current is not None and self._current.text == "AT+VTX":
            self.transport.write(ABORT_PLAY)
        self._drop_commands()
        self.stream = ModemStream()
        self.ready = False
        self._set_up(offhook=self.offhook)
        self.op = None

    def stop(self):
        op = self.op
        if op is not None:                    # nothing running: nothing to say
            self._stop_op("stopped")
            if op is self.op and op.watchdog is not None:
                if op.watchdog.active():
                    op.watchdog.cancel()
                op.watchdog = self.clock.callLater(STOP_GRACE_MS / 1000.0, self._expired, op)

    def _stop_op(self, reason):
        """End the running operation for `reason`: at once if the modem has
        nothing of it yet, else by telling the modem, which confirms."""
        op = self.op
        op.reasons.add(reason)
        if op.stopping:
            return
        op.stopping = True
        if op.kind == "digits":
            return self._finish(op, digits=op.digits, reasons=self._reasons(op, reason))
        if op.command is not None and self._unqueue(op.command):
            return self._finish(op, **self._stopped_data(op))
        if op.kind == "play" and op.connected and not op.fed:
            self.transport.write(ABORT_PLAY)      # else: the last of it plays, then OK
        elif op.kind == "record" and op.connected:
            self.transport.write(STOP_RECORD)
        elif op.kind == "dial" and op.command is self._current and \
                op.command.text.startswith("ATD"):
            self.transport.write(b"\r")            # any character ends a dial (V.250)
        return None                               # tone, hook: they end on their own

    def _stopped_data(self, op):
        reasons = self._reasons(op, "stopped")
        return {"play": {"reasons": reasons}, "record": {"reasons": reasons},
                "dial": {"result": "stopped", "connect_type": None},
                "tone": {"reasons": reasons},
                "hook": {"offhook": self.offhook}}[op.kind]

    def _time_limit(self, op, ms, reason):
        """End `op` for `reason` `ms` from now (again from now if armed)."""
        if not ms:
            return
        timer = op.timers.get(reason)
        if timer is not None and timer.active():
            timer.cancel()
        op.timers[reason] = self.clock.callLater(ms / 1000.0, self._timed_out, op, reason)

    def _timed_out(self, op, reason):
        if self.op is op:
            self._stop_op(reason)

    def set_hook(self, offhook):
        if not offhook and not self.port_open:   # no port, no line: on hook
            self.clock.callLater(0, self.emit, Event(self.name, "hook_done", {"offhook": False}))
            return
        self.check_idle("AT+VLS")
        op = _Operation("hook", "hook_done")
        text = "AT+VLS=1" if offhook else "AT+VLS=0"

        def on_result(result):
            if result == "OK":
                self._hooked(offhook)
                self._finish(op, offhook=self.offhook)
            else:                             # ERROR: the hook stays as it was
                log.error("{device}: the modem answered {result} to {command}",
                          device=self.name, result=result, command=text)
                self._finish(op, offhook=self.offhook, reasons=frozenset({"error"}))
            return True
        op.command = self._queue(text, on_result)
        self._start(op, deadline_ms(None, None, round(COMMAND_TIMEOUT_S * 1000)))

    def _hooked(self, offhook):
        if offhook != self.offhook:
            self.offhook, self.hook_since = offhook, self.clock.seconds()
        if offhook and self._ring_timer is not None and self._ring_timer.active():
            self._ring_timer.cancel()
        if offhook:
            self.rings = 0

    def play(self, audio, termination, watchdog_ms):
        self.check_idle("AT+VTX")
        op = _Operation("play", "play_done", termination)
        op.audio = bytearray(audio)

        def on_result(result):
            if result == "CONNECT":
                op.connected = True
                if op.stopping:
                    self.transport.write(ABORT_PLAY)
                else:
                    self._feed(op, PLAY_LEAD_S)
                return False
            if result != "OK":
                op.reasons.add("error")
            self._finish(op, reasons=self._reasons(op, "end_of_data"))
            return True
        op.command = self._queue("AT+VTX", on_result)
        self._start(op, deadline_ms(termination, watchdog_ms, len(audio) // 8))
        self._time_limit(op, termination and termination.max_time_ms, "max_time")
        if termination is not None and _digit_reason(termination, self.digits):
            self._stop_op(_digit_reason(termination, self.digits))

    def _feed(self, op, seconds):
        """Send the modem the next `seconds` of a play's audio, and the rest
        a chunk at a time as it plays: never more than PLAY_LEAD_S ahead,
        so a stop is heard at once (what is written is behind the audio
        already in the port's buffers).  DLE ETX after the last."""
        if self.op is not op or op.stopping:
            return
        size = round(seconds * 8000)
        chunk, op.audio[:size] = bytes(op.audio[:size]), b""
        self.transport.write(shield(chunk) + (b"" if op.audio else END_OF_DATA))
        if op.audio:
            op.timers["feed"] = self.clock.callLater(PLAY_CHUNK_S, self._feed, op, PLAY_CHUNK_S)
        else:
            op.fed = True

    def record(self, termination, watchdog_ms, finish_with):
        self.check_idle("AT+VRX")
        op = _Operation("record", "record_done", termination, finish_with=finish_with)

        def on_result(result):
            if result == "CONNECT":
                op.connected = True
                if op.stopping:
                    self.transport.write(STOP_RECORD)
                return False
            if result != "OK":
                op.reasons.add("error")
            self._finish(op, reasons=self._reasons(op, "normal"), samples=bytes(op.audio))
            return True
        if termination.max_silence_ms:
            self._queue(f"AT+VSD=128,{max(1, round(termination.max_silence_ms / 100))}",
                        lambda result: True)
        op.command = self._queue("AT+VRX", on_result, before_send=self.stream.expect_audio)
        self._start(op, deadline_ms(termination, watchdog_ms))
        self._time_limit(op, termination.max_time_ms, "max_time")

    def collect(self, termination, watchdog_ms):
        self.check_idle("digits")
        op = _Operation("digits", "digits_done", termination)
        self._start(op, deadline_ms(termination, watchdog_ms))
        self._time_limit(op, termination.max_time_ms, "max_time")
        self._collect()

    def _collect(self):
        """Move buffered keys to the collection, one at a time, until its
        termination holds (a terminator is collected, later keys stay);
        the inter-digit time counts from the start or from the first key
        (Termination.inter_digit_from_start), again from each key."""
        op = self.op
        t = op.termination
        took = False
        while self.digits:
            key, self.digits = self.digits[0], self.digits[1:]
            op.digits += key
            took = True
            reason = _digit_reason(t, op.digits)
            if reason:
                return self._stop_op(reason)
        if took or ("inter_digit" not in op.timers and t.inter_digit_from_start):
            self._time_limit(op, t.inter_digit_ms, "inter_digit")
        return None

    def dial(self, digits, call_progress, watchdog_ms):
        self.check_idle("ATD")
        op = _Operation("dial", "dial_done")
        if self.offhook and call_progress is None:
            keys = [PAUSE if key == "," else key for key in digits if key not in "Tt"]

            def in_band(result):
                self._finish(op, result=None if result == "OK" else "error",
                             connect_type=None)
                return True
            op.command = self._queue("AT+VTS=" + ",".join(keys), in_band)
            self._start(op, deadline_ms(None, watchdog_ms, 500 * len(keys)))
            return

        def dialled(result):
            outcome = "stopped" if op.stopping else DIAL_RESULTS.get(result, "error")
            self._hooked(outcome == "connected")
            self._finish(op, result=outcome if call_progress is not None or outcome in (
                "stopped", "error") else None, connect_type=None)
            return True
        op.command = self._queue(f"ATD{digits}", dialled, timeout_s=DIAL_TIMEOUT_S)
        self._start(op, deadline_ms(None, watchdog_ms, round(DIAL_TIMEOUT_S * 1000)))

    def tone(self, freq1, freq2, duration_ms, watchdog_ms):
        self.check_idle("AT+VTS")
        op = _Operation("tone", "tone_done")

        def on_result(result):
            if result != "OK":
                op.reasons.add("error")
            self._finish(op, reasons=self._reasons(op, "max_time"))
            return True
        op.command = self._queue(f"AT+VTS=[{freq1},{freq2},{max(1, round(duration_ms / 10))}]",
                                 on_result)
        self._start(op, deadline_ms(None, watchdog_ms, duration_ms))

    def clear_digits(self):
        self.digits = ""

    def caller_id(self):
        return self.caller_ids.caller_id()

    def status(self):
        return {"name": self.name, "open": self.port_open, "kind": "voice",
                "port": self.settings.port, "alarms": sorted(self.alarms),
                "ready": self.ready,
                "state": STATES.get(self.op.kind, "idle") if self.op else "idle",
                "busy_with": self.op.kind if self.op else None,
                "hook": "off" if self.offhook else "on",
                "ringing": bool(self.rings) and not self.offhook}


def _digit_reason(termination, digits):
    """digits or terminator if `digits` meet the termination, else None."""
    if termination.terminators and digits and digits[-1] in termination.terminators:
        return "terminator"
    if termination.max_digits and len(digits) >= termination.max_digits:
        return "digits"
    return None
