# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_r2 -*-
"""China No.1 MFC/R2: cti's own calling side, and the called side the
simulated telco answers our calls with.

OpenR2 is our called side on a China trunk (drivers.r2), but not our
calling side: its China forward side takes the ANI request A1 for "next
DNIS digit" and the call dies in an MF timeout (lines-real.md 3.3).  So
the calling side here is cti's own, a declared state machine
(`ChinaForward`), and so is the called side the telco plays for our calls
out (`ChinaBackward`).  Both speak what OpenR2's China called side speaks
(lines-real.md 3.4-3.6), and both drive the same ports as OpenR2 does
(drivers.r2.DriverPort, FarPort: CAS bits, and an R2 MF transceiver that
makes and hears the tones in C), with the same interface and events as
drivers.r2.R2Channel, so a trunk or the telco takes either.

Line signals (ABCD; China sets C and D to 1)::

    idle / clear-forward   1011      seize (forward)        0011
    seize acknowledge      1111      answer (backward)      0111
    clear-back, blocked    1111

Register signals, compelled (the calling side's signal sounds until the
called side answers; it stops, then the answer stops, then the next)::

    forward  group I    1-10 the digits (10 is 0), 15 end of the ANI
             group II   the calling category (KA when asked with A6, KD
                        after A3): 1 national subscriber ...
    backward group A    A1 next digit (of the DNIS, or of the ANI while it
                        is asked), A2 / A7 / A8 the DNIS digit n-1 / n-2 /
                        n-3, A3 address complete: change to group B, A4
                        congestion, A6 send the category (then the ANI)
             group B    B1 accept (charge), B2 busy, B3 busy, B4
                        congestion, B5 unallocated, B7 accept (no
                        charge), B8 out of order

One call in, as our calling side sends it (the called side asks the ANI
after the first DNIS digit, as OpenR2 does)::

    0011 ->            <- 1111
    DNIS 1st ->        <- A6        KA ->     <- A1     ANI 1st -> <- A1 ...
    ANI last (or I-15 when the ANI is shorter than max_ani) -> <- A1
    DNIS 2nd ->        <- A1 ... DNIS last -> <- A3     KD ->     <- B1
                       <- 0111 (answer) ... 1011 (clear-forward) ->

A called side that runs out of DNIS digits before max_dnis waits for the
MF timeout and then sends A3 (China has no "end of DNIS").  Both sides
count the ANI against the trunk's max_ani, as the carrier's agreement
fixes it.

Timers run on the injected clock: the seize acknowledgement (8 s), each
compelled cycle (mf_timeout_ms), the calling side's wait for the called
side's next request when it has no digit left to send (30 s: the called
side's own timeout ends it with A3 first), the answer (60 s).  A timeout
is a protocol error (`R2Event("error")`): the calling side clears forward.
"""
from twisted.logger import Logger

from cti.statemachine import Table
from drivers.r2 import UNKNOWN_CATEGORY, R2Error, R2Event

log = Logger()

#: Line signals (ABCD).
IDLE, SEIZE, SEIZE_ACK, ANSWER, CLEAR_BACK = "1011", "0011", "1111", "0111", "1111"
CLEAR_FORWARD, BLOCKED = IDLE, SEIZE_ACK
#: Group I: the end of the ANI.  Group A and B signals, by meaning.
END_OF_ANI = 15
A_NEXT, A_N_1, A_CHANGE_TO_B, A_CONGESTION, A_CATEGORY, A_N_2, A_N_3 = 1, 2, 3, 4, 6, 7, 8
B_CAUSES = {2: "busy", 3: "busy", 4: "congestion", 5: "unallocated", 8: "out_of_order"}
B_ACCEPTS = {1: True, 6: True, 7: False}
#: Back steps in the DNIS: A2 n-1, A7 n-2, A8 n-3.
A_BACK_STEPS = {A_N_1: 1, A_N_2: 2, A_N_3: 3}
#: The called side's group B answers: accept with or without charge, refusals.
ACCEPT_SIGNALS = {"charge": 1, "no_charge": 7, "special": 1}
REFUSE_SIGNALS = {"busy": 2, "congestion": 4, "unallocated": 5, "out_of_order": 8}
#: Group II calling categories (KA, KD), the ITU values OpenR2 keeps for
#: China (which has no collect-call signal: drivers.r2.categories_sent).
CATEGORY_SIGNALS = {"national_subscriber": 1, "national_priority": 2, "test_equipment": 3,
                    "international_subscriber": 7, "international_priority": 9}
CATEGORY_NAMES = {signal: name for name, signal in CATEGORY_SIGNALS.items()}
#: Timers (ms): seize acknowledgement, answer, a pulsed A3 after no more DNIS,
#: and the calling side's wait with nothing left to send (OpenR2's
#: mf_fwd_safety: lines-real.md 3.5).
SEIZE_ACK_MS, ANSWER_MS, PULSE_MS, FORWARD_SAFETY_MS = 8000, 60000, 150, 30000
MF_TIMEOUT_MS = 5000

FORWARD = Table("r2_china_forward", initial="idle", transitions=[
    ("idle", "make_call", "seizing"),
    ("idle", "blocked", "blocked"),
    ("blocked", "unblocked", "idle"),
    ("seizing", "seize_ack", "dnis"),
    ("seizing", "glare", "idle"),              # the far end seized too: its call wins
    ("dnis", "category_asked", "ani"),
    ("ani", "ani_done", "dnis"),
    ("dnis", "change_to_b", "group_b"),
    ("ani", "change_to_b", "group_b"),          # address complete with the ANI cut short
    ("group_b", "accepted", "accepted"),
    ("accepted", "answer", "answered"),
    ("answered", "clear_back", "cleared_back"),
    ("*", "refused", "clearing"),
    ("*", "error", "clearing"),
    ("*", "disconnect", "clearing"),
    ("clearing", "released", "idle"),
])

BACKWARD = Table("r2_china_backward", initial="idle", transitions=[
    ("idle", "seize", "seized"),
    ("seized", "dnis_digit", "category"),
    ("category", "category", "ani"),
    ("ani", "ani_done", "dnis"),
    ("dnis", "dnis_done", "group_b"),
    ("group_b", "category", "offered"),
    ("offered", "accept", "accepting"),
    ("offered", "refuse", "refusing"),
    ("accepting", "cycle_done", "accepted"),
    ("accepting", "answer", "answered"),
    ("accepted", "answer", "answered"),
    ("answered", "clear_back", "cleared_back"),
    ("accepting", "clear_forward", "cleared_forward"),   # the caller cleared: we release
    ("accepted", "clear_forward", "cleared_forward"),
    ("answered", "clear_forward", "cleared_forward"),
    ("cleared_back", "clear_forward", "cleared_forward"),
    ("cleared_forward", "release", "idle"),
    ("*", "abandon", "idle"),                  # cleared before the call was accepted
    ("*", "error", "idle"),
])


def _digits(number, what):
    if not number.isdigit() and number != "":
        raise R2Error(f"{what} {number!r}: digits 0-9", function="r2 china", device=what)
    return [10 if c == "0" else int(c) for c in number]


def _digit_char(signal):
    return "0" if signal == 10 else str(signal)


class _Side:
    """What both sides share: the port, the clock, the compelled cycle's
    timer, events out."""

    def __init__(self, table, port, clock, on_event, max_ani, max_dnis, mf_timeout_ms):
        self.port, self.clock, self.on_event = port, clock, on_event
        self.device = port.device
        self.max_ani, self.max_dnis = max_ani, max_dnis
        self.mf_timeout_ms = mf_timeout_ms or MF_TIMEOUT_MS
        self.machine = table.machine(clock, name=port.device)
        self._timer = None
        self._mode = None
        self._sending = 0
        self.port.send_bits(IDLE)

    def _send(self, signal):
        if signal != self._sending:
            self._sending = signal
            self.port.mf_send(signal)

    def _mf(self, mode):
        if mode != self._mode:
            self._mode, self._sending = mode, 0
            self.port.mf_mode(mode)

    def _after(self, ms, what):
        if self._timer is not None and self._timer.active() and self._timer.args == (what,):
            self._timer.reset(ms / 1000)
            return
        self._cancel()
        self._timer = self.clock.callLater(ms / 1000, self._expired, what)

    def _cancel(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def _emit(self, kind, **data):
        self.on_event(R2Event(kind, **data))

    def close(self):
        self._cancel()
        self._mf(None)


class ChinaForward(_Side):
    """cti's China calling side on a port (module doc); the interface of
    drivers.r2.R2Channel: bits, mf, make_call, disconnect, close.

    Glare (the far end seizes as we do, on a two-way trunk): a side that
    `yields` (ours) gives up its call at once with R2Event("error",
    error="glare") and leaves the line to the incoming call, our called
    side answering its seizure; one that does not (the telco's) holds its
    seizure until that called side acknowledges it."""

    def __init__(self, port, clock, on_event, max_ani=10, max_dnis=4, mf_timeout_ms=None,
                 yields=False):
        super().__init__(FORWARD, port, clock, on_event, max_ani, max_dnis, mf_timeout_ms)
        self.yields = yields
        self._pending = 0
        self._far = IDLE

    # -- call control -------------------------------------------------------
    def make_call(self, ani, dnis, category="national_subscriber"):
        if category not in CATEGORY_SIGNALS:
            raise R2Error(f"category {category!r} is not one of {', '.join(CATEGORY_SIGNALS)}",
                          function="make_call", device=self.device)
        dnis_digits = _digits(dnis, "dnis")
        if not dnis_digits:
            raise R2Error("dnis: at least one digit", function="make_call", device=self.device)
        self.machine.fire("make_call", ani=ani, dnis=dnis, category=category)
        self._ani = _digits(ani, "ani")[:self.max_ani]
        self._dnis = dnis_digits
        self._category = CATEGORY_SIGNALS[category]
        self._ani_sent = self._dnis_sent = 0
        self._pending = 0
        self.port.send_bits(SEIZE)
        self._after(SEIZE_ACK_MS, "seize_timeout")

    def disconnect(self, cause="normal"):
        """Clear forward (a call we placed, answered or not); nothing more
        to do while clearing forward already (a refused call)."""
        if self.machine.state == "clearing":
            return
        if self.machine.state in ("idle", "blocked"):
            raise R2Error(f"no call to clear in state {self.machine.state}",
                          function="disconnect", device=self.device)
        self._clear_forward("disconnect", cause=cause)

    def accept(self, charge="charge"):
        raise R2Error("the calling side accepts nothing", function="accept", device=self.device)

    def answer(self):
        raise R2Error("the calling side answers nothing", function="answer", device=self.device)

    def _clear_forward(self, event, **detail):
        self._cancel()
        self._send(0)
        self._mf(None)
        self.machine.fire(event, **detail)
        self.port.send_bits(CLEAR_FORWARD)
        if self._far == IDLE:
            self._released()

    def _released(self):
        self.machine.fire("released")
        self._emit("end")

    # -- what the port heard --------------------------------------------------
    def bits(self, abcd):
        self._far = abcd
        state = self.machine.state
        if state == "seizing" and abcd == SEIZE and self.yields:
            self._cancel()
            self.machine.fire("glare")
            self._emit("error", error="glare")
        elif state == "seizing" and abcd == SEIZE_ACK:
            self._cancel()
            self.machine.fire("seize_ack")
            self._mf("forward")
            self._send_next(self._dnis[0])
            self._dnis_sent = 1
        elif state == "accepted" and abcd == ANSWER:
            self._cancel()
            self.machine.fire("answer")
            self._emit("answered")
        elif state == "answered" and abcd == CLEAR_BACK:
            self.machine.fire("clear_back")
            self._emit("disconnect", cause="normal")
        elif state == "clearing" and abcd == IDLE:
            self._released()
        elif state == "idle" and abcd == BLOCKED:
            self.machine.fire("blocked")
            self._emit("blocked")
        elif state == "blocked" and abcd == IDLE:
            self.machine.fire("unblocked")
            self._emit("idle")
        elif state in ("dnis", "ani", "group_b", "accepted", "answered", "cleared_back") \
                and abcd == IDLE:
            self._error("invalid_cas_bits")

    def mf(self, signal):
        state = self.machine.state
        if state not in ("dnis", "ani", "group_b"):
            return
        if signal:
            self._cancel()
            self._send(0)                    # compelled: our signal stops on the answer
            self._pending = self._answer_to(state, signal)
        elif self._pending:
            self._send_next(self._pending)
            self._pending = 0
        elif not self._sending:              # nothing left to send: the called side's turn
            self._after(FORWARD_SAFETY_MS, "forward_safety_timeout")

    def _send_next(self, signal):
        self._send(signal)
        self._after(self.mf_timeout_ms, "mf_timeout")

    def _answer_to(self, state, signal):
        """What to send once the called side's `signal` stops (0: nothing)."""
        if state == "group_b":
            return self._group_b(signal)
        if signal == A_CATEGORY and state == "dnis":
            self.machine.fire("category_asked")
            return self._category
        if signal == A_NEXT and state == "ani":
            return self._next_ani()
        if signal == A_NEXT:
            if self._dnis_sent < len(self._dnis):
                self._dnis_sent += 1
                return self._dnis[self._dnis_sent - 1]
            return 0                          # no more: the called side times out, then A3
        if signal in A_BACK_STEPS and state == "dnis":
            index = self._dnis_sent - 1 - A_BACK_STEPS[signal]
            if index < 0:
                self._error("invalid_mf_tone")
                return 0
            self._dnis_sent = index + 1
            return self._dnis[index]
        if signal == A_CHANGE_TO_B:
            self.machine.fire("change_to_b")
            return self._category
        if signal == A_CONGESTION:
            self._refused("congestion")
            return 0
        self._error("invalid_mf_tone")
        return 0

    def _next_ani(self):
        if self._ani_sent < len(self._ani):
            self._ani_sent += 1
            if self._ani_sent == self.max_ani:
                self.machine.fire("ani_done")
            return self._ani[self._ani_sent - 1]
        self.machine.fire("ani_done")
        return END_OF_ANI

    def _group_b(self, signal):
        if signal in B_ACCEPTS:
            self.machine.fire("accepted", signal=signal)
            self._mf(None)
            self._after(ANSWER_MS, "answer_timeout")
            self._emit("accepted", charge=B_ACCEPTS[signal])
        else:
            self._refused(B_CAUSES.get(signal, "unspecified"))
        return 0

    def _refused(self, cause):
        self._clear_forward("refused", cause=cause)
        self._emit("disconnect", cause=cause)

    def _error(self, error):
        log.info("R2 China {device}: protocol error {error} in {state}", device=self.device,
                 error=error, state=self.machine.state)
        self._clear_forward("error", error=error)
        self._emit("error", error=error)

    def _expired(self, what):
        self._timer = None
        self._error(what)


class ChinaBackward(_Side):
    """The China called side the simulated telco answers our calls out with
    (module doc); the interface of drivers.r2.R2Channel: bits, mf, accept,
    answer, disconnect, close."""

    def __init__(self, port, clock, on_event, max_ani=10, max_dnis=4, mf_timeout_ms=None):
        super().__init__(BACKWARD, port, clock, on_event, max_ani, max_dnis, mf_timeout_ms)
        self._heard = 0

    def make_call(self, ani, dnis, category="national_subscriber"):
        raise R2Error("the called side places no call", function="make_call",
                      device=self.device)

    # -- call control ---------------------------------------------------------
    def accept(self, charge="charge"):
        self.machine.fire("accept", charge=charge)
        self._send(ACCEPT_SIGNALS[charge])

    def answer(self):
        self.machine.fire("answer")
        self.port.send_bits(ANSWER)

    def disconnect(self, cause="normal"):
        """Refuse an offered call with a cause, clear back an answered one,
        or release once the calling side cleared forward."""
        if self.machine.state == "cleared_forward":
            self._go_idle("release")
            self._emit("end")
        elif self.machine.state == "offered":
            self.machine.fire("refuse", cause=cause)
            self._send(REFUSE_SIGNALS.get(cause, REFUSE_SIGNALS["congestion"]))
        elif self.machine.state == "answered":
            self.machine.fire("clear_back")
            self.port.send_bits(CLEAR_BACK)
        elif self.machine.state in ("accepting", "accepted"):
            raise R2Error("a call not answered has no clear-back (its bits are the seize "
                          "acknowledgement's until the answer): the calling side clears it",
                          function="disconnect", device=self.device)
        else:
            raise R2Error(f"no call to clear in state {self.machine.state}",
                          function="disconnect", device=self.device)

    # -- what the port heard --------------------------------------------------
    def bits(self, abcd):
        if abcd == SEIZE and self.machine.state == "idle":
            self.machine.fire("seize")
            self._ani, self._dnis, self._category = "", "", UNKNOWN_CATEGORY
            self._mf("backward")
            self.port.send_bits(SEIZE_ACK)
            self._after(self.mf_timeout_ms, "mf_timeout")
            self._emit("init")
        elif abcd == CLEAR_FORWARD and self.machine.can("clear_forward"):
            self._cancel()
            self._send(0)
            self._mf(None)
            self.machine.fire("clear_forward")
            self._emit("disconnect", cause="normal")
        elif abcd == CLEAR_FORWARD and self.machine.state not in ("idle", "cleared_forward"):
            self._go_idle("abandon")
            self._emit("end")

    def mf(self, signal):
        state = self.machine.state
        if state == "idle":
            return
        if not signal:
            self._send(0)                     # compelled: the cycle ends
            if state == "accepting":
                self.machine.fire("cycle_done")
            if state in ("accepting", "refusing", "answered", "cleared_back"):
                self._mf(None)                # the register signalling is over
            return
        self._cancel()
        self._heard = signal
        reply = self._reply(state, signal)
        if reply:
            self._send(reply)
            if state != "group_b":
                self._after(self.mf_timeout_ms, "mf_timeout")

    def _reply(self, state, signal):
        if state == "seized":
            self._dnis = _digit_char(signal)
            self.machine.fire("dnis_digit")
            return A_CATEGORY
        if state == "category":
            self._category = CATEGORY_NAMES.get(signal, UNKNOWN_CATEGORY)
            self.machine.fire("category")
            return A_NEXT
        if state == "ani":
            if signal != END_OF_ANI:
                self._ani += _digit_char(signal)
            if signal == END_OF_ANI or len(self._ani) >= self.max_ani:
                self.machine.fire("ani_done")
                return self._next_dnis_or_b()
            return A_NEXT
        if state == "dnis":
            self._dnis += _digit_char(signal)
            return self._next_dnis_or_b()
        if state == "group_b":
            self.machine.fire("category")
            self._emit("offered", ani=self._ani, dnis=self._dnis, category=self._category)
            return 0
        self._error("invalid_mf_state")
        return 0

    def _next_dnis_or_b(self):
        if len(self._dnis) >= self.max_dnis:
            self.machine.fire("dnis_done")
            return A_CHANGE_TO_B
        return A_NEXT

    def _expired(self, what):
        self._timer = None
        if self.machine.state == "dnis":
            # no more DNIS (China has no signal for it): A3, pulsed
            self.machine.fire("dnis_done")
            self._send(A_CHANGE_TO_B)
            self._timer = self.clock.callLater(PULSE_MS / 1000, self._send, 0)
            return
        self._error(what)

    def _error(self, error):
        self._go_idle("error", error=error)
        self._emit("error", error=error)

    def _go_idle(self, event, **detail):
        self._cancel()
        self._send(0)
        self._mf(None)
        self.machine.fire(event, **detail)
        self.port.send_bits(IDLE)
