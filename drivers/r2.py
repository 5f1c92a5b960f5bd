# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_r2 -*-
"""MFC/R2 call control through OpenR2, on a timeslot's bits and board MF.

MFC/R2 (ITU-T Q.421/Q.441 and its national variants) signals a call on an
E1 CAS timeslot in two layers: line signals in the timeslot's ABCD bits
(idle, seize, seize acknowledge, answer, clear-back, clear-forward,
blocking) and compelled register signals, tones in the timeslot (the
called number, the calling number, the calling category, the called
exchange's requests and its answer: lines-real.md 3.4, 3.5).

An `R2Channel` is one OpenR2 channel (Debian's libopenr2 1.3.3) driving
one timeslot through a `port`: whatever carries its bits and runs an R2
MF transceiver on its audio.  On our side that is the board
(`DriverPort`: IBoardDriver.set_bits, r2_mf_mode, r2_mf_send, and the
signalling and r2_mf events); at the simulated telco it is the far end of
the same timeslot (`FarPort`: drivers.sim).  OpenR2 never touches a
sample: the binding (drivers/_cdefs/openr2.py) gives it a DAHDI-like
descriptor that carries bits and "a signal was heard", and an MF
interface whose tones the port's transceiver makes and hears in C
(native/src/r2mf.c).  What flows, one call in::

    far end seizes (bits)     -> port.bits("0001")   -> OpenR2 seize ack -> port sends bits
    board hears forward 8     -> port.mf(8)          -> OpenR2 sends A1  -> port.mf_send(1)
    ...                                                 on_call_offered  -> R2Event("offered")
    channel.accept()          -> OpenR2 sends B6 ...   channel.answer() -> bits "0101"

Usage::

    context = R2Context("itu", max_ani=10, max_dnis=4)
    channel = R2Channel(context, DriverPort(driver, "dtiB1T1"), clock, on_event, number=1)
    channel.bits(event["abcd"])          # a signalling event's bits
    channel.mf(event["signal"])          # an r2_mf event's signal
    channel.make_call("1380013800", "8001", "national_subscriber")
    channel.disconnect("normal")

Events (`R2Event.kind`): `init` (a call starts arriving), `offered` (ani,
dnis, category: accept or disconnect it), `accepted` (charge: True,
False or None), `answered`, `disconnect` (the far end cleared: cause;
answer with `disconnect`), `end` (the channel is idle again), `error`
(a protocol error: error, the call is gone), `blocked`, `idle`,
`billing_pulse`.

China No.1 (`cn`): OpenR2 is our incoming side; its outgoing side
misreads the ANI request A1 (lines-real.md 3.3), so it is not used for
calls out.

Time is the clock's: OpenR2's timers (the MF cycle, seize, answer) run on
gettimeofday(), which the binding answers with the time `R2Channel` sets
from its injected clock before every call into OpenR2, and the earliest
timer is scheduled on that clock, as drivers.pri does for libpri.  OpenR2
is not thread-safe: channels live in the reactor's thread.
"""
from dataclasses import dataclass

from twisted.logger import Logger

from drivers.errors import R2Error

try:
    from drivers._r2 import ffi, lib
except ImportError:             # a build without libopenr2-dev: R2 trunks cannot work
    ffi = lib = None

log = Logger()

#: Variants by the configuration's names.  China's outgoing side is ours
#: (cti.server.lines.r2china); OpenR2 answers its calls in.
VARIANTS = ("itu", "cn", "mx", "br", "ar")
#: Calling party categories (group II), in the words of the configuration.
CATEGORIES = ("national_subscriber", "national_priority", "international_subscriber",
              "international_priority", "collect_call", "test_equipment", "unknown")
#: The category only a far end sends (what OpenR2 reports for a signal
#: it does not know): never one for our calls.
UNKNOWN_CATEGORY = "unknown"
#: A collect call has a group II signal in Brazil's variant only: OpenR2
#: 1.3.3 has none elsewhere (a call with it dies in an MF timeout), and
#: China's calling side (cti.server.lines.r2china) sends none either.
COLLECT_CALL_VARIANTS = ("br",)


def categories_sent(variant):
    """The calling categories a call placed in `variant` can carry."""
    return tuple(c for c in CATEGORIES if c != UNKNOWN_CATEGORY
                 and (c != "collect_call" or variant in COLLECT_CALL_VARIANTS))


#: How a call is accepted (the called exchange's B signal).
CHARGES = ("charge", "no_charge", "special")
#: Why a call is cleared or refused, in OpenR2's order of meaning.
CAUSES = ("busy", "congestion", "unallocated", "out_of_order", "unspecified", "no_answer",
          "normal", "collect_call_rejected", "forced_release", "number_changed")
#: Protocol errors (the call is gone).
ERRORS = ("invalid_cas_bits", "invalid_mf_tone", "mf_timeout", "seize_timeout",
          "forward_safety_timeout", "broken_mf_sequence", "answer_timeout",
          "invalid_r2_state", "invalid_mf_state", "invalid_mf_group", "library_bug",
          "internal_error")
#: The most ANI and DNIS digits a context takes.
MAX_DIGITS = 31
#: Bits are strings of four, A first; DAHDI orders them A = 8 ... D = 1.
_ABCD_WEIGHTS = (8, 4, 2, 1)


def _tables():
    variants = {"itu": lib.OR2_VAR_ITU, "cn": lib.OR2_VAR_CHINA, "mx": lib.OR2_VAR_MEXICO,
                "br": lib.OR2_VAR_BRAZIL, "ar": lib.OR2_VAR_ARGENTINA}
    categories = {
        "national_subscriber": lib.OR2_CALLING_PARTY_CATEGORY_NATIONAL_SUBSCRIBER,
        "national_priority": lib.OR2_CALLING_PARTY_CATEGORY_NATIONAL_PRIORITY_SUBSCRIBER,
        "international_subscriber": lib.OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_SUBSCRIBER,
        "international_priority":
            lib.OR2_CALLING_PARTY_CATEGORY_INTERNATIONAL_PRIORITY_SUBSCRIBER,
        "collect_call": lib.OR2_CALLING_PARTY_CATEGORY_COLLECT_CALL,
        "test_equipment": lib.OR2_CALLING_PARTY_CATEGORY_TEST_EQUIPMENT,
        "unknown": lib.OR2_CALLING_PARTY_CATEGORY_UNKNOWN}
    charges = {"charge": lib.OR2_CALL_WITH_CHARGE, "no_charge": lib.OR2_CALL_NO_CHARGE,
               "special": lib.OR2_CALL_SPECIAL}
    causes = dict(zip(CAUSES, (
        lib.OR2_CAUSE_BUSY_NUMBER, lib.OR2_CAUSE_NETWORK_CONGESTION,
        lib.OR2_CAUSE_UNALLOCATED_NUMBER, lib.OR2_CAUSE_OUT_OF_ORDER, lib.OR2_CAUSE_UNSPECIFIED,
        lib.OR2_CAUSE_NO_ANSWER, lib.OR2_CAUSE_NORMAL_CLEARING,
        lib.OR2_CAUSE_COLLECT_CALL_REJECTED, lib.OR2_CAUSE_FORCED_RELEASE,
        lib.OR2_CAUSE_NUMBER_CHANGED), strict=True))
    errors = dict(zip((
        lib.OR2_INVALID_CAS_BITS, lib.OR2_INVALID_MF_TONE, lib.OR2_BACK_MF_TIMEOUT,
        lib.OR2_SEIZE_TIMEOUT, lib.OR2_FWD_SAFETY_TIMEOUT, lib.OR2_BROKEN_MF_SEQUENCE,
        lib.OR2_ANSWER_TIMEOUT, lib.OR2_INVALID_R2_STATE, lib.OR2_INVALID_MF_STATE,
        lib.OR2_INVALID_MF_GROUP, lib.OR2_LIBRARY_BUG, lib.OR2_INTERNAL_ERROR), ERRORS,
        strict=True))
    levels = {lib.OR2_LOG_ERROR: "error", lib.OR2_LOG_WARNING: "warning",
              lib.OR2_LOG_NOTICE: "notice"}
    mf_modes = {lib.CTI_R2_MF_OFF: None, lib.CTI_R2_MF_FORWARD: "forward",
                lib.CTI_R2_MF_BACKWARD: "backward"}
    return variants, categories, charges, causes, errors, levels, mf_modes


if lib is not None:
    _VARIANT, _CATEGORY, _CHARGE, _CAUSE, _ERROR, _LEVEL, _MF_MODE = _tables()
    _CATEGORY_NAME = {v: k for k, v in _CATEGORY.items()}
    _CHARGE_NAME = {v: k for k, v in _CHARGE.items()}
    _CAUSE_NAME = {v: k for k, v in _CAUSE.items()}
    _LOG_MASK = lib.OR2_LOG_ERROR | lib.OR2_LOG_WARNING | lib.OR2_LOG_NOTICE

#: Channels by their port's descriptor, for OpenR2's callbacks.
_CHANNELS = {}


def abcd_to_dahdi(abcd):
    return sum(w for w, bit in zip(_ABCD_WEIGHTS, abcd, strict=True) if bit == "1")


def dahdi_to_abcd(bits):
    return "".join("1" if bits & w else "0" for w in _ABCD_WEIGHTS)


def _need_binding(function, device):
    if lib is None:
        raise R2Error("this build has no OpenR2 binding (install libopenr2-dev and rebuild: "
                      "scripts/setup.sh)", function=function, device=device)


def _choice(table, value, what, function, device):
    try:
        return table[value]
    except KeyError:
        raise R2Error(f"{what} {value!r} is not one of {', '.join(table)}",
                      function=function, device=device) from None


@dataclass(frozen=True)
class R2Event:
    """What happened on a channel; `kind` names it (module doc)."""

    kind: str
    ani: str = ""
    dnis: str = ""
    category: str = ""
    charge: bool | None = None
    cause: str = ""
    error: str = ""


class R2Context:
    """OpenR2's settings for a group of channels: the variant, the longest
    ANI and DNIS it takes, and mf_back_timeout_ms (how long a backward
    signal waits for the forward side, the "MF timeout"; OpenR2's own
    without it).  OpenR2's other options keep their defaults."""

    def __init__(self, variant, max_ani=10, max_dnis=4, mf_back_timeout_ms=None):
        _need_binding("openr2_context_new", variant)
        code = _choice(_VARIANT, variant, "variant", "openr2_context_new", variant)
        for name, value in (("max_ani", max_ani), ("max_dnis", max_dnis)):
            if not isinstance(value, int) or not 1 <= value <= MAX_DIGITS:
                raise R2Error(f"{name} {value!r}: from 1 to {MAX_DIGITS}",
                              function="openr2_context_new", device=variant)
        self.variant, self.max_ani, self.max_dnis = variant, max_ani, max_dnis
        self._context = lib.cti_r2_context_new(code, max_ani, max_dnis)
        if self._context == ffi.NULL:
            raise R2Error("OpenR2 could not make the context", function="openr2_context_new",
                          device=variant)
        lib.openr2_context_set_log_level(self._context, _LOG_MASK)
        if mf_back_timeout_ms is not None:
            lib.openr2_context_set_mf_back_timeout(self._context, int(mf_back_timeout_ms))

    def close(self):
        """Delete the context, once its channels are closed (R2Channel.close:
        OpenR2 would delete those still on it, under their feet)."""
        if self._context is not None:
            lib.openr2_context_delete(self._context)
            self._context = None


class DriverPort:
    """A timeslot of ours as an R2 channel's port: bits and board MF through
    the driver.  The owner feeds the timeslot's signalling and r2_mf events
    to the channel (R2Channel.bits, R2Channel.mf)."""

    def __init__(self, driver, device):
        self.driver, self.device = driver, device

    def send_bits(self, abcd):
        self.driver.set_bits(self.device, *(int(bit) for bit in abcd))

    def far_bits(self):
        return self.driver.abcd(self.device)[1]

    def mf_mode(self, mode):
        self.driver.r2_mf_mode(self.device, mode)

    def mf_send(self, signal):
        self.driver.r2_mf_send(self.device, signal)


class FarPort:
    """The simulated telco's end of a timeslot (drivers.sim.FarEnd) as an
    R2 channel's port; the owner feeds it the far end's events
    (Simulator.far_events: bits and r2_mf)."""

    def __init__(self, far_end):
        self.far_end = far_end
        self.device = far_end.device

    def send_bits(self, abcd):
        self.far_end.send_bits(abcd)

    def far_bits(self):
        return self.far_end.heard_bits()

    def mf_mode(self, mode):
        self.far_end.r2_mf(mode)

    def mf_send(self, signal):
        self.far_end.r2_mf_send(signal)


class R2Channel:
    """One OpenR2 channel on a port; see the module's docstring.  `number`
    names it to OpenR2 (its logs); on_event(R2Event) hears what happened."""

    def __init__(self, context, port, clock, on_event, number=1):
        _need_binding("openr2_chan_new", port.device)
        self.context, self.port, self.clock, self.on_event = context, port, clock, on_event
        self.device = port.device
        self._fd = lib.cti_r2_port_new(number)
        if self._fd < 0:
            raise R2Error("no port left for another channel", function="openr2_chan_new",
                          device=self.device)
        self._sent_bits = None          # what the port was last told (DAHDI's order)
        self._sent_mode = None
        self._sent_signal = 0
        self._register_done = False     # the call's register signalling is over
        self._events = []               # OpenR2's callbacks, delivered after its call
        self._timer = None              # (due ms, DelayedCall)
        self._now_ms = 0                # OpenR2's time, as last set
        _CHANNELS[self._fd] = self
        self._set_time()
        self._chan = lib.cti_r2_chan_new(context._context, self._fd)
        if self._chan == ffi.NULL:
            del _CHANNELS[self._fd]
            lib.cti_r2_port_free(self._fd)
            raise R2Error("OpenR2 could not make the channel", function="openr2_chan_new",
                          device=self.device)
        self._call(lib.openr2_chan_set_idle)
        self.bits(port.far_bits())

    # -- what the port heard ------------------------------------------------
    def bits(self, abcd):
        """The far end's ABCD bits now ("1001")."""
        lib.cti_r2_port_rx_bits(self._fd, abcd_to_dahdi(abcd))
        self._call(lib.openr2_chan_process_event)

    def mf(self, signal):
        """The R2 signal the port's transceiver hears now (0: none)."""
        lib.cti_r2_port_rx_mf(self._fd, signal)
        self._call(lib.openr2_chan_process_event)

    # -- call control -------------------------------------------------------
    def make_call(self, ani, dnis, category="national_subscriber"):
        """Seize and send the DNIS (and the ANI when asked): accepted, then
        answered, or disconnect/error.  The category: one of
        categories_sent(the context's variant)."""
        sent = {c: _CATEGORY[c] for c in categories_sent(self.context.variant)}
        code = _choice(sent, category, f"category (variant {self.context.variant})",
                       "openr2_chan_make_call", self.device)
        for name, number in (("ani", ani), ("dnis", dnis)):
            if not number.isdigit() and not (name == "ani" and number == ""):
                raise R2Error(f"{name} {number!r}: digits 0-9",
                              function="openr2_chan_make_call", device=self.device)
        self._register_done = False
        self._call(lib.openr2_chan_make_call, ani.encode(), dnis.encode(), code,
                   name="openr2_chan_make_call")

    def accept(self, charge="charge"):
        """Accept an offered call (the B signal of `charge`)."""
        code = _choice(_CHARGE, charge, "charge", "openr2_chan_accept_call", self.device)
        self._call(lib.openr2_chan_accept_call, code, name="openr2_chan_accept_call")

    def answer(self):
        self._call(lib.openr2_chan_answer_call, name="openr2_chan_answer_call")

    def disconnect(self, cause="normal"):
        """Clear the call (or refuse an offered one) with a cause."""
        code = _choice(_CAUSE, cause, "cause", "openr2_chan_disconnect_call", self.device)
        self._call(lib.openr2_chan_disconnect_call, code, name="openr2_chan_disconnect_call")

    def block(self):
        self._call(lib.openr2_chan_set_blocked, name="openr2_chan_set_blocked")

    def idle(self):
        self._call(lib.openr2_chan_set_idle, name="openr2_chan_set_idle")

    def close(self):
        """Delete the channel (its port's transceiver off)."""
        if self._chan is None:
            return
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None
        lib.openr2_context_remove_channel(self.context._context, self._chan)
        lib.openr2_chan_delete(self._chan)
        self._chan = None
        lib.cti_r2_port_free(self._fd)
        _CHANNELS.pop(self._fd, None)
        if self._sent_mode is not None:
            self.port.mf_mode(None)

    # -- into OpenR2 and back -------------------------------------------------
    def _set_time(self, at_ms=None):
        now = round(self.clock.seconds() * 1000)
        self._now_ms = now if at_ms is None else max(now, at_ms)
        lib.cti_r2_set_time(self._now_ms)

    def _call(self, c_function, *args, name=None, at_ms=None):
        """Call into OpenR2 on the clock's time; a failure of a request
        (`name`: its C function) is an R2Error.  Then: the port told what
        OpenR2 changed, its earliest timer on the clock, its events out
        (whose handlers may call it again)."""
        if self._chan is None:
            raise R2Error("the channel is closed", function=name or "openr2", device=self.device)
        self._set_time(at_ms)
        rc = c_function(self._chan, *args)
        self._sync()
        self._schedule()
        events, self._events = self._events, []
        if name is not None and rc < 0:
            raise R2Error("OpenR2 refused it in this state of the channel", function=name,
                          device=self.device)
        for event in events:
            self.on_event(event)

    def _sync(self):
        """Tell the port what OpenR2 set: bits, the transceiver's set, the
        signal to send.  The transceiver goes off once the call's register
        signalling is over and nothing sounds (so the timeslot can sleep)."""
        bits = lib.cti_r2_port_tx_bits(self._fd)
        if bits != self._sent_bits:
            self._sent_bits = bits
            self.port.send_bits(dahdi_to_abcd(bits))
        signal = lib.cti_r2_port_mf_send(self._fd)
        if self._register_done and not signal:
            lib.cti_r2_port_mf_off(self._fd)
        mode = _MF_MODE[lib.cti_r2_port_mf_mode(self._fd)]
        if mode != self._sent_mode:
            self._sent_mode, self._sent_signal = mode, 0
            self.port.mf_mode(mode)
        if mode is not None and signal != self._sent_signal:
            self._sent_signal = signal
            self.port.mf_send(signal)

    def _schedule(self):
        """The clock calls OpenR2 back by its earliest timer.  A call
        scheduled earlier than that stays (OpenR2 pushes its MF timer back
        at every signal): it finds nothing due, and schedules again."""
        ms = lib.openr2_chan_get_time_to_next_event(self._chan)
        if ms < 0 or self._timer is not None and self._timer[0] <= self._now_ms + ms:
            return
        if self._timer is not None:
            self._timer[1].cancel()
        due = self._now_ms + ms
        self._timer = (due, self.clock.callLater(ms / 1000, self._run_timers, due))

    def _run_timers(self, due):
        self._timer = None
        self._call(lib.openr2_chan_process_event, at_ms=due)

    # -- OpenR2's callbacks (during a call into it) ---------------------------
    def _event(self, kind, **data):
        if kind in ("accepted", "answered", "disconnect", "end", "error", "idle", "blocked"):
            self._register_done = True
        if kind == "init":
            self._register_done = False
        self._events.append(R2Event(kind, **data))


def _channel(chan):
    return _CHANNELS.get(lib.openr2_chan_get_fd(chan)) if chan != ffi.NULL else None


def _string(text):
    return ffi.string(text).decode(errors="replace") if text != ffi.NULL else ""


if lib is not None:
    @ffi.def_extern()
    def cti_r2_on_call_init(chan):
        _channel(chan)._event("init")

    @ffi.def_extern()
    def cti_r2_on_call_offered(chan, ani, dnis, category):
        _channel(chan)._event("offered", ani=_string(ani), dnis=_string(dnis),
                              category=_CATEGORY_NAME.get(category, UNKNOWN_CATEGORY))

    @ffi.def_extern()
    def cti_r2_on_call_accepted(chan, mode):
        charge = {"charge": True, "no_charge": False}.get(_CHARGE_NAME.get(mode))
        _channel(chan)._event("accepted", charge=charge)

    @ffi.def_extern()
    def cti_r2_on_call_answered(chan):
        _channel(chan)._event("answered")

    @ffi.def_extern()
    def cti_r2_on_call_disconnect(chan, cause):
        _channel(chan)._event("disconnect", cause=_CAUSE_NAME.get(cause, "unspecified"))

    @ffi.def_extern()
    def cti_r2_on_call_end(chan):
        _channel(chan)._event("end")

    @ffi.def_extern()
    def cti_r2_on_protocol_error(chan, reason):
        _channel(chan)._event("error", error=_ERROR.get(reason, "internal_error"))

    @ffi.def_extern()
    def cti_r2_on_line_blocked(chan):
        _channel(chan)._event("blocked")

    @ffi.def_extern()
    def cti_r2_on_line_idle(chan):
        _channel(chan)._event("idle")

    @ffi.def_extern()
    def cti_r2_on_os_error(chan, code):
        channel = _channel(chan)
        log.error("OpenR2 on {device}: system error {code}",
                  device=channel.device if channel else "?", code=code)

    @ffi.def_extern()
    def cti_r2_on_billing_pulse(chan):
        _channel(chan)._event("billing_pulse")

    @ffi.def_extern()
    def cti_r2_logged(chan, level, text):
        channel = _channel(chan)
        where = channel.device if channel else "context"
        words = _string(text).strip()
        if _LEVEL.get(level) == "error":
            log.error("OpenR2 {where}: {words}", where=where, words=words)
        elif _LEVEL.get(level) in ("warning", "notice"):
            log.info("OpenR2 {where}: {words}", where=where, words=words)
