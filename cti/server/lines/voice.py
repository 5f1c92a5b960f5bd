# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""Voice operations as Deferreds: play, collect digits, record.

The driver runs one operation per voice resource and tells how it ended
with an event (play_done, digits_done, record_done).  `VoicePorts` keeps
the pending operation of each resource and fires its Deferred with the
event's data, so the call layer can write::

    result = yield ports.play("dxxxB2C1", ["/prompts/menu.wav"], barge_in=True)
    result                  # {"reason": "digit", "digit": "2"} or {"reason": "end"}

Barge-in ends a prompt at the first key; the key stays in the board's
digit buffer (type-ahead), so the next `collect` returns it first, as on
the vendor's boards.  `ports.stop(device)` ends whatever runs; its
Deferred then fires with reason "stopped".
"""
from twisted.internet import defer

from drivers.interface import Prompt, Termination

DONE = frozenset({"play_done", "record_done", "digits_done", "tone_done", "dial_done"})

#: Driver termination reasons as the protocol reports them.
PLAY_REASONS = {"digits": "digit", "end_of_data": "end", "normal": "end", "stopped": "stopped"}
DIGIT_REASONS = {"digits": "digits", "terminator": "terminator", "inter_digit": "timeout",
                 "max_time": "timeout", "stopped": "stopped"}
RECORD_REASONS = {"max_time": "max_time", "max_silence": "silence",
                  "terminator": "terminator", "digits": "terminator", "stopped": "stopped"}


def _reason(reasons, table, default="error"):
    for r in sorted(reasons):
        if r in table:
            return table[r]
    return "hung" if "hung" in reasons else default


class VoicePorts:
    """The pending operation of every voice resource of one driver."""

    def __init__(self, driver):
        self.driver = driver
        self.pending = {}          # device -> Deferred of the done event's data
        self.last_digit = {}       # device -> the last key heard (digit events)
        self.on_digit = None       # on_digit(device, key) for every key heard

    def handle(self, event):
        if event.kind == "digit":
            self.last_digit[event.device] = event.data.get("digit")
            if self.on_digit is not None:
                self.on_digit(event.device, event.data.get("digit"))
        elif event.kind in DONE:
            d = self.pending.pop(event.device, None)
            if d is not None:
                d.callback(event.data)

    def busy(self, device):
        return device in self.pending

    def _run(self, device, start):
        if device in self.pending:
            raise RuntimeError(f"{device} is busy with another operation")
        d = self.pending[device] = defer.Deferred()
        try:
            start()
        except Exception:
            del self.pending[device]
            raise
        return d

    def stop(self, device):
        """End the running operation, if any (its Deferred fires 'stopped')."""
        if device in self.pending:
            self.driver.stop(device)

    def play(self, device, files, barge_in=True, clear_digits=False):
        if clear_digits:
            self.driver.clear_digits(device)
        self.last_digit.pop(device, None)
        termination = Termination(max_digits=1) if barge_in else None
        prompts = [Prompt(f) for f in files]
        d = self._run(device, lambda: self.driver.play(device, prompts, termination))

        def done(data):
            reason = _reason(data.get("reasons", ()), PLAY_REASONS)
            result = {"reason": reason}
            if reason == "digit":
                result["digit"] = self.last_digit.get(device, "")
            return result
        return d.addCallback(done)

    @defer.inlineCallbacks
    def collect(self, device, max_digits, terminators="", first_timeout_s=5.0,
                inter_digit_timeout_s=3.0):
        """Up to max_digits keys, ended early by a terminator (not returned)
        or by the first-digit / inter-digit timeout."""
        digits, reason = "", "timeout"
        first = Termination(max_digits=1, terminators=terminators,
                            inter_digit_ms=round(first_timeout_s * 1000))
        data = yield self._run(device, lambda: self.driver.collect_digits(device, first))
        got = data.get("digits", "")
        reason = _reason(data.get("reasons", ()), DIGIT_REASONS)
        if got and got[-1] in terminators:
            return {"digits": "", "reason": "terminator"}
        digits += got
        if got and max_digits > 1:
            rest = Termination(max_digits=max_digits - 1, terminators=terminators,
                               inter_digit_ms=round(inter_digit_timeout_s * 1000))
            data = yield self._run(device, lambda: self.driver.collect_digits(device, rest))
            more = data.get("digits", "")
            reason = _reason(data.get("reasons", ()), DIGIT_REASONS)
            if more and more[-1] in terminators:
                more, reason = more[:-1], "terminator"
            digits += more
        elif got:
            reason = "digits"
        return {"digits": digits, "reason": reason}

    def record(self, device, path, max_s, silence_s, terminators="#"):
        termination = Termination(max_time_ms=round(max_s * 1000),
                                  max_silence_ms=round(silence_s * 1000) if silence_s else None,
                                  terminators=terminators)
        d = self._run(device, lambda: self.driver.record(device, path, "wav", termination))
        return d.addCallback(lambda data: {
            "file": str(path), "reason": _reason(data.get("reasons", ()), RECORD_REASONS)})

    def dial(self, device, digits):
        """Send DTMF digits (`,` a pause); fires when they are sent."""
        return self._run(device, lambda: self.driver.dial(device, digits))

    def tone(self, device, duration_ms, deadline_ms):
        """A quiet 1 kHz tone of `duration_ms` that must end within
        `deadline_ms` (a test of the resource): the reasons it ended with."""
        d = self._run(device, lambda: self.driver.play_tone(
            device, 1000, 0, -40, duration_ms, watchdog_ms=deadline_ms))
        return d.addCallback(lambda data: frozenset(data.get("reasons", ())))

    def beep(self, device):
        """A 1 kHz, 400 ms beep before a recording."""
        d = self._run(device, lambda: self.driver.play_tone(device, 1000, 0, -13, 400))
        return d.addCallback(lambda _: None)
