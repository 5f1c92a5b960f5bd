# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pri_link -*-
"""ISDN PRI call control through libpri, without I/O of its own.

A `PriLink` is one libpri controller (Q.921 and Q.931 on one D-channel),
on our side of a span (CPE or network, by configuration) or on the
simulated telco's.  It does no I/O: frames that arrived are fed to it,
frames to send come out through the `send` callable it was given, and
what the far end did comes out as `PriEvent`s to `on_event`::

    link = PriLink("dtiB1D", "cpe", "euroisdn_e1", clock,
                   send=lambda frame: driver.dchannel_send("dtiB1D", frame),
                   on_event=handle)
    link.receive(frame)                  # a dchannel_frame event's frame
    call = link.setup(channel=3, called="8001", calling="13800138000")
    ...                                  # handle(PriEvent("connect", call=call, ...))
    link.hangup(call, CAUSE_NORMAL)

Frames carry no FCS either way (the D-channel's hardware adds and checks
it; libpri reads two bytes more and writes two more, which the link adds
and strips).  Events are named after the Q.931 message (or the layer-2
fact) that caused them: `dchannel_up`, `setup` (an incoming call, with
its numbers), `proceeding`, `alerting`, `progress`, `connect`,
`disconnect` (the far end clears: answer with `hangup`), `release` (it
released: answer with `hangup` too), `release_complete`, `restart`...

Timers.  libpri keeps its timers (T200, T203, T303, T305, T310...) as
absolute times: it adds a timer's length to gettimeofday() when it starts
one, and `pri_schedule_run` runs those whose time is past gettimeofday().
The server runs on an injected clock, virtual in tests, and libpri must
count on it, not on the wall clock: a virtual second is a T200 too.  So
the binding (drivers/build_pri.py) links libpri with its gettimeofday()
and time() answered by our own, and the link sets that time from its
clock before every call into libpri: libpri lives on the clock's time.
After each call the link asks for the earliest timer
(`pri_schedule_next`) and schedules it on the clock; when the clock says
it is due, it runs libpri's schedule.  Every timer runs after exactly
its length of the clock's time, with no thread and no wall-clock wait;
on a live server the clock is the wall clock.

A libpri controller is not thread-safe; the links live in the reactor's
thread, as everything else of the server.
"""
from dataclasses import dataclass

from twisted.logger import Logger

from drivers.errors import PriError

try:
    from drivers._pri import ffi, lib
except ImportError:             # a build without libpri-dev: PRI spans cannot work
    ffi = lib = None

log = Logger()

#: Our side's role on the D-channel.  A telco is always the network.
NODES = ("cpe", "network")
#: Switch types by the names the configuration uses (chan_dahdi's: national
#: is NI-2).
SWITCH_TYPES = ("national", "ni2", "dms100", "euroisdn_e1", "qsig")
#: Q.850 causes: normal clearing, user busy.
CAUSE_NORMAL = 16
CAUSE_BUSY = 17
#: Causes with which libpri clears a call not yet disconnected by sending
#: RELEASE COMPLETE at once (unallocated number, no circuit, channel not
#: available, invalid call reference, no such channel): the call is over
#: when `hangup` returns, no answer comes.
RELEASE_COMPLETE_CAUSES = frozenset({1, 34, 44, 81, 82})
#: libpri's two extra bytes per frame, where the FCS would be.
FCS_BYTES = 2


def _tables():
    switch = {"national": lib.PRI_SWITCH_NI2, "ni2": lib.PRI_SWITCH_NI2,
              "dms100": lib.PRI_SWITCH_DMS100, "euroisdn_e1": lib.PRI_SWITCH_EUROISDN_E1,
              "qsig": lib.PRI_SWITCH_QSIG}
    node = {"cpe": lib.PRI_CPE, "network": lib.PRI_NETWORK}
    plan = {"unknown": lib.PRI_UNKNOWN, "international": lib.PRI_INTERNATIONAL_ISDN,
            "national": lib.PRI_NATIONAL_ISDN, "local": lib.PRI_LOCAL_ISDN}
    pres = {"allowed": lib.PRES_ALLOWED_USER_NUMBER_NOT_SCREENED,
            "restricted": lib.PRES_PROHIB_USER_NUMBER_NOT_SCREENED}
    events = {lib.PRI_EVENT_DCHAN_UP: "dchannel_up", lib.PRI_EVENT_DCHAN_DOWN: "dchannel_down",
              lib.PRI_EVENT_RESTART: "restart", lib.PRI_EVENT_CONFIG_ERR: "config_error",
              lib.PRI_EVENT_RING: "setup", lib.PRI_EVENT_HANGUP: "release",
              lib.PRI_EVENT_RINGING: "alerting", lib.PRI_EVENT_ANSWER: "connect",
              lib.PRI_EVENT_HANGUP_ACK: "release_complete",
              lib.PRI_EVENT_RESTART_ACK: "restart_ack",
              lib.PRI_EVENT_INFO_RECEIVED: "information",
              lib.PRI_EVENT_PROCEEDING: "proceeding", lib.PRI_EVENT_SETUP_ACK: "setup_ack",
              lib.PRI_EVENT_HANGUP_REQ: "disconnect", lib.PRI_EVENT_PROGRESS: "progress",
              lib.PRI_EVENT_CONNECT_ACK: "connect_ack"}
    return switch, node, plan, pres, events


if lib is not None:
    _SWITCH, _NODE, _PLAN, _PRES, _EVENTS = _tables()
    _PLAN_NAMES = {v: k for k, v in _PLAN.items()}


class PriCall:
    """One call on a link (libpri's q931_call), as long as libpri has it."""

    def __init__(self, link, pointer):
        self.link = link
        self.pointer = pointer
        self.channel = None            # the B-channel agreed, once known
        self.disconnected = False      # the far end's DISCONNECT came
        self.released = False          # libpri is done with it once `hangup` returns

    def __repr__(self):
        return f"<PriCall {self.link.name} channel {self.channel}>"


@dataclass
class PriEvent:
    """What the far end (or layer 2) did.  `kind` names it (module doc);
    `call` is the call it is about, if any; `channel` the B-channel number
    it names (a timeslot on an E1), or None."""

    kind: str
    call: PriCall = None
    channel: int = None
    cause: int = None
    calling: str = ""
    calling_name: str = ""
    calling_plan: str = "unknown"
    presentation: str = "allowed"
    called: str = ""
    called_plan: str = "unknown"
    exclusive: bool = False
    complete: bool = True
    inband: bool = False            # progress indicator: in-band information available
    text: str = ""                  # a configuration error's


def _channel(value):
    """The B-channel number of an event's channel field (channo | span << 8
    | explicit << 16), or None for "any" or none."""
    if value < 0:
        return None
    number = value & 0xFF
    return None if number in (0, 0xFF) else number


def _pointer_key(pointer):
    return int(ffi.cast("uintptr_t", pointer))


class PriLink:
    """One libpri controller; see the module's docstring.

    name: for logs (the D-channel's device).  node: "cpe" or "network".
    switchtype: one of SWITCH_TYPES.  clock: IReactorTime for the timers.
    send(frame): a frame to transmit.  on_event(PriEvent): what happened.
    trace(frame, outgoing): every frame either way, when set (the pcap).
    overlap: overlap dialling on (digits after the SETUP).
    """

    def __init__(self, name, node, switchtype, clock, send, on_event, overlap=False):
        if lib is None:
            raise PriError("this build has no libpri binding (install libpri-dev and "
                           "rebuild: scripts/setup.sh)", function="pri_new_cb", device=name)
        if node not in _NODE:
            raise PriError(f"node {node!r} is not one of {', '.join(NODES)}",
                           function="pri_new_cb", device=name)
        if switchtype not in _SWITCH:
            raise PriError(f"switch type {switchtype!r} is not one of "
                           f"{', '.join(SWITCH_TYPES)}", function="pri_new_cb", device=name)
        self.name, self.node, self.switchtype = name, node, switchtype
        self.clock, self.send, self.on_event = clock, send, on_event
        self.trace = None
        self.calls = {}               # q931_call address -> PriCall
        self.up = False               # layer 2 established
        self.closed = False           # `close`d: silent, no timer
        self._inbox = None            # the frame pri_check_event reads
        self._outbox = []             # frames libpri wrote during the current call
        self._timer = None            # (libpri's time of its earliest timer, DelayedCall)
        self._handle = ffi.new_handle(self)
        _install_message_handler()
        self._set_time()
        self._pri = lib.pri_new_cb(-1, _NODE[node], _SWITCH[switchtype], lib._pri_read,
                                   lib._pri_write, self._handle)
        if self._pri == ffi.NULL:
            raise PriError("libpri could not make the controller", function="pri_new_cb",
                           device=name)
        if switchtype == "qsig":
            lib.pri_facility_enable(self._pri)     # QSIG's names go in facilities
        lib.pri_set_overlapdial(self._pri, int(overlap))
        self._after([])

    # -- frames in, timers -------------------------------------------------
    def receive(self, frame):
        """A frame that arrived on the D-channel."""
        self._inbox = bytes(frame) + b"\0" * FCS_BYTES
        if self.trace is not None:
            self.trace(bytes(frame), False)
        self._set_time()
        event = lib.pri_check_event(self._pri)
        self._inbox = None
        self._after([self._event(event)])

    def _set_time(self, at=None):
        """libpri's time (gettimeofday) is the clock's, or `at` (a timer's)."""
        sec, usec = divmod(round((self.clock.seconds() if at is None else at) * 1e6),
                           1_000_000)
        lib.cti_pri_set_time(sec, usec)

    def _run_timers(self, due):
        self._timer = None
        self._set_time(max(due, self.clock.seconds()))     # no rounding short of it
        self._after([self._event(lib.pri_schedule_run(self._pri))])

    def _after(self, events):
        """After a call into libpri: its frames out, its earliest timer on
        the clock, then its events (whose handlers may call it again)."""
        frames, self._outbox = self._outbox, []
        for frame in frames if not self.closed else ():
            if self.trace is not None:
                self.trace(frame, True)
            self.send(frame)
        self._schedule()
        for event in events:
            if event is not None:
                self.on_event(event)

    def close(self):
        """The link given up (a simulated far end provisioned anew): its
        timers stop and it sends no more frames.  libpri (1.6) has no call
        to free a controller, so it is kept, silent, with the process."""
        self.closed = True
        if self._timer is not None:
            self._timer[1].cancel()
            self._timer = None

    def _schedule(self):
        if self.closed:
            return
        tv = lib.pri_schedule_next(self._pri)
        due = None if tv == ffi.NULL else tv.tv_sec + tv.tv_usec / 1e6
        if self._timer is not None:
            if self._timer[0] == due:
                return                         # still the same timer
            self._timer[1].cancel()
            self._timer = None
        if due is not None:
            delay = max(0.0, due - self.clock.seconds())
            self._timer = (due, self.clock.callLater(delay, self._run_timers, due))

    # -- libpri's callbacks ------------------------------------------------
    def _read(self, buf, size):
        frame = self._inbox or b""
        n = min(len(frame), size)
        ffi.memmove(buf, frame, n)
        return n

    def _write(self, buf, size):
        self._outbox.append(ffi.buffer(buf, size)[:size - FCS_BYTES])
        return size

    # -- events ------------------------------------------------------------
    def _call(self, pointer, create=True):
        if pointer == ffi.NULL:
            return None
        key = _pointer_key(pointer)
        call = self.calls.get(key)
        if call is None and create:
            call = self.calls[key] = PriCall(self, pointer)
        return call

    def _forget(self, call):
        if call is not None:
            self.calls.pop(_pointer_key(call.pointer), None)

    def _event(self, e):
        if e == ffi.NULL:
            return None
        kind = _EVENTS.get(e.e)
        if kind is None:
            log.debug("{link}: libpri event {name} not used", link=self.name,
                      name=ffi.string(lib.pri_event2str(e.e)).decode())
            return None
        if kind == "dchannel_up":
            self.up = True
            return PriEvent(kind)
        if kind == "dchannel_down":
            self.up = False
            return PriEvent(kind)
        if kind == "config_error":
            return PriEvent(kind, text=ffi.string(e.err.err).decode(errors="replace").strip())
        if kind in ("restart", "restart_ack"):
            return PriEvent(kind, channel=_channel(e.restart.channel))
        if kind in ("setup", "information"):
            r = e.ring
            if kind == "setup":          # a new call: any old one at this address is gone
                self.calls.pop(_pointer_key(r.call), None)
            call = self._call(r.call)
            call.channel = _channel(r.channel)
            return PriEvent(kind, call=call, channel=call.channel,
                            calling=ffi.string(r.callingnum).decode(errors="replace"),
                            calling_name=ffi.string(r.callingname).decode(errors="replace"),
                            calling_plan=_PLAN_NAMES.get(r.callingplan, "unknown"),
                            presentation="allowed" if r.callingpres & lib.PRI_PRES_RESTRICTION
                            == lib.PRI_PRES_ALLOWED else "restricted",
                            called=ffi.string(r.callednum).decode(errors="replace"),
                            called_plan=_PLAN_NAMES.get(r.calledplan, "unknown"),
                            exclusive=not r.flexible, complete=bool(r.complete))
        if kind in ("release", "disconnect", "release_complete"):
            h = e.hangup
            call = self._call(h.call, create=False)
            if kind == "release_complete":
                self._forget(call)
            elif kind == "release" and call is not None:
                call.released = True
            elif call is not None:
                call.disconnected = True
            return PriEvent(kind, call=call, channel=_channel(h.channel), cause=h.cause)
        if kind in ("proceeding", "progress"):
            p = e.proceeding
            return self._progress(kind, p.call, p.channel, p.progressmask)
        if kind == "alerting":
            return self._progress(kind, e.ringing.call, e.ringing.channel,
                                  e.ringing.progressmask)
        if kind == "connect":
            return self._progress(kind, e.answer.call, e.answer.channel, e.answer.progressmask)
        return self._progress(kind, e.setup_ack.call, e.setup_ack.channel, 0)

    def _progress(self, kind, pointer, channel, progressmask):
        call = self._call(pointer, create=False)
        number = _channel(channel)
        if call is not None and number is not None:
            call.channel = number
        return PriEvent(kind, call=call, channel=number,
                        inband=bool(progressmask & lib.PRI_PROG_INBAND_AVAILABLE))

    # -- call control ------------------------------------------------------
    def _request(self, function, *args):
        """One call into libpri (on the clock's time), its frames sent;
        PriError if libpri refused it."""
        self._set_time()
        rc = getattr(lib, function)(self._pri, *args)
        self._after([])
        if rc < 0:
            raise PriError("refused in the call's state", function=function, device=self.name)

    def setup(self, channel, called, calling="", calling_name="", exclusive=True,
              called_plan="unknown", calling_plan="unknown", presentation="allowed",
              alaw=True, complete=True):
        """Place a call on B-channel `channel` (None: any): a SETUP; the
        PriCall it returns is in the events that follow."""
        self._set_time()
        pointer = lib.pri_new_call(self._pri)
        if pointer == ffi.NULL:
            raise PriError("no call reference free (or the D-channel is down)",
                           function="pri_new_call", device=self.name)
        self.calls.pop(_pointer_key(pointer), None)     # a call libpri ended unseen
        call = self._call(pointer)
        call.channel = channel
        sr = lib.pri_sr_new()
        try:
            lib.pri_sr_set_channel(sr, -1 if channel is None else channel, int(exclusive), 0)
            lib.pri_sr_set_bearer(sr, lib.PRI_TRANS_CAP_SPEECH,
                                  lib.PRI_LAYER_1_ALAW if alaw else lib.PRI_LAYER_1_ULAW)
            lib.pri_sr_set_called(sr, ffi.new("char[]", called.encode()), _PLAN[called_plan],
                                  int(complete))
            lib.pri_sr_set_caller(sr, ffi.new("char[]", calling.encode()),
                                  ffi.new("char[]", calling_name.encode()),
                                  _PLAN[calling_plan], _PRES[presentation])
            try:
                self._request("pri_setup", pointer, sr)
            except PriError:
                self._forget(call)
                raise
        finally:
            lib.pri_sr_free(sr)
        return call

    def proceeding(self, call, inband=False):
        """CALL PROCEEDING for an incoming call, confirming its channel."""
        self._request("pri_proceeding", call.pointer, call.channel or 0, int(inband))

    def setup_ack(self, call):
        """SETUP ACKNOWLEDGE: more digits wanted (overlap receiving)."""
        self._request("pri_setup_ack", call.pointer, call.channel or 0, 0, 0)

    def alerting(self, call, inband=False):
        """ALERTING (inband: ringback is on the B-channel)."""
        self._request("pri_acknowledge", call.pointer, call.channel or 0, int(inband))

    def progress(self, call, inband=True):
        """PROGRESS: in-band information (early media) on the B-channel."""
        self._request("pri_progress", call.pointer, call.channel or 0, int(inband))

    def information(self, call, digits):
        """INFORMATION: more digits of the called number (overlap sending)."""
        for digit in digits:
            self._request("pri_information", call.pointer, digit.encode())

    def answer(self, call):
        """CONNECT."""
        self._request("pri_answer", call.pointer, call.channel or 0, 0)

    def hangup(self, call, cause=CAUSE_NORMAL):
        """Clear the call (DISCONNECT, or RELEASE, or RELEASE COMPLETE, as its
        state has it); the answer to a far end's `disconnect` or `release`
        too.  After a `release`, or with one of RELEASE_COMPLETE_CAUSES
        before any DISCONNECT, libpri has forgotten the call (`released`)."""
        if not call.disconnected and cause in RELEASE_COMPLETE_CAUSES:
            call.released = True
        try:
            self._request("pri_hangup", call.pointer, cause)
        finally:
            if call.released:
                self._forget(call)

    def refuse(self, call, cause):
        """Refuse an incoming call with `cause` (17 busy, 34 no circuit...):
        CALL PROCEEDING, then DISCONNECT with the cause.  (libpri sends
        nothing for a hang-up of a SETUP it has not answered at all.)"""
        self.proceeding(call)
        self.hangup(call, cause)

    def destroy(self, call):
        """Forget a call without a message: its channel was restarted (a
        RESTART clears the calls on it with no clearing of their own)."""
        self._set_time()
        lib.pri_destroycall(self._pri, call.pointer)
        self._forget(call)
        self._after([])

    def restart(self, channel):
        """RESTART of one B-channel.  libpri (1.6) sends none of a whole
        interface: its pri_restart does nothing since the Q.921 rewrite,
        so a span is restarted channel by channel.  One received (from a
        switch that sends it) is a `restart` event of channel None."""
        self._request("pri_reset", channel)


def cause_text(cause):
    """Q.850 cause `cause` in words, as libpri says it ("User busy")."""
    return ffi.string(lib.pri_cause2str(cause)).decode(errors="replace")


def _install_message_handler():
    """libpri's messages and errors (global in libpri) to our log."""
    global _installed
    if not _installed:
        lib.pri_set_message(lib._pri_message)
        lib.pri_set_error(lib._pri_message)
        _installed = True


_installed = False


def _link(pri):
    return ffi.from_handle(lib.pri_get_userdata(pri))


if lib is not None:
    @ffi.def_extern()
    def _pri_read(pri, buf, size):
        return _link(pri)._read(buf, size)

    @ffi.def_extern()
    def _pri_write(pri, buf, size):
        return _link(pri)._write(buf, size)

    @ffi.def_extern()
    def _pri_message(pri, text):
        name = _link(pri).name if pri != ffi.NULL else "libpri"
        log.debug("{link}: {text}", link=name, text=ffi.string(text).decode(errors="replace")
                  .rstrip())
