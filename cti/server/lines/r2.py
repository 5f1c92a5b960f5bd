# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_r2 -*-
"""An E1 CAS timeslot with MFC/R2 signalling, as a trunk like any other.

The call layer sees an R2 trunk exactly as a T1 E&M one (channels.py):
`trunk_offered(ch, ani, dnis)` for a call in, `answer`, `release`,
`seize(number)` for a call out, `trunk_released` when the far end
clears.  Underneath, the signalling is MFC/R2 (lines-real.md 3):

    board events (signalling: the far end's ABCD; r2_mf: the R2 signal heard)
        ──> the protocol: OpenR2 (drivers.r2.R2Channel) or, for China's
            calling side, cti.server.lines.r2china.ChinaForward
        ──> R2Events ──> R2Trunk ──> machine.fire(...) ──> the listener

Calls in run on OpenR2 whatever the variant (itu, cn, mx, br, ar).  Calls
out run on OpenR2 too, except on China trunks, where OpenR2's calling side
misreads the ANI request: cti's own ChinaForward places them.  The two
share the timeslot's port; the board's events go to the one that has the
call (`_protocol`).

A call in: the far end seizes, the register signals bring the DNIS, the
ANI and the calling category; we take a voice resource (none free: the
call is refused with "congestion"), accept it at once (with or without
charge: the group's r2_charge) and, once the compelled cycle is over,
offer it to the call layer.  Answer sends the ANSWER line signal; our
release the clear-back; the far end's clear-forward is `trunk_released`
("far end cleared (clear-forward)").  The calling category and the
charge go into the call's attached data (`offer_data`: r2_category,
r2_charge), so the screen pop, the snapshot and the CDR show them.

A call out: seize, our register signals send the number (the ANI we send
is none: I-15 where it is asked), the far end accepts (it rings) or
refuses: the call fails with the cause (busy, congestion, unallocated,
out_of_order...); no answer within the ring time fails with no_answer.
Glare on a two-way China trunk (the far end seizes as we do) is settled
for the far end, as on a T1 E&M trunk: our call fails with "glare" (the
dialler tries another trunk) and OpenR2 answers the incoming seizure.
OpenR2's calling side (the other variants) settles nothing: both
seizures go unacknowledged, our call fails with an R2 protocol error
("seize_timeout" when the seizures cross) and so does the far end's.

A protocol error (an MF timeout, invalid bits...) ends what it
interrupts: an incoming call not offered yet quietly; an offered or
connected call with `trunk_released("R2 protocol error: mf_timeout")`
(the CDR's cause); a call out with OutboundFailed("R2 protocol error:
...").  A far end that blocks the line takes it out of service until it
unblocks (a block in the moment it releases our clear is that release
too); a held channel is blocked toward the far end.  The protocol
errors are counted by kind (`protocol_errors`, since the server started):
the span report carries them, and the configuration doctor reads a
far end set to another variant in them (its rule r2.variant).
"""
from collections import Counter

from cti.logs import Logger
from cti.server.errors import OutboundFailed
from cti.server.lines.channels import NO_ANSWER_S, Channel, OutsideLine, PooledVoice
from cti.server.lines.r2china import ChinaForward
from cti.statemachine import Table
from drivers.errors import R2Error
from drivers.r2 import BLOCKED_BITS, DriverPort, R2Channel, R2Context

log = Logger()

R2_TRUNK = Table("r2", initial="idle", transitions=[
    ("idle", "seizure", "receiving"),          # the far end seized: its register signals
    ("receiving", "accept", "accepting"),      # address complete: our B signal
    ("receiving", "refuse", "clearing"),       # no voice resource: congestion
    ("accepting", "accepted", "offered"),      # the compelled cycle is over: offered
    ("offered", "answer", "connected"),        # the ANSWER line signal
    ("offered", "release", "clearing"),
    ("connected", "release", "clearing"),
    ("receiving", "protocol_error", "clearing"),
    ("accepting", "protocol_error", "clearing"),
    ("*", "far_clear", "far_cleared"),         # clear-forward (in), clear-back (out)
    ("far_cleared", "release", "clearing"),
    ("clearing", "idle", "idle"),
    ("far_cleared", "idle", "idle"),
    ("receiving", "idle", "idle"),             # the far end gave up in the register phase
    ("accepting", "idle", "idle"),
    ("idle", "blocked", "blocked"),            # the far end blocks the line
    ("blocked", "unblocked", "idle"),
    # outbound
    ("idle", "seize", "seizing"),              # our seize, then our register signals
    ("seizing", "accepted", "alerting"),       # the far end accepted: it rings
    ("alerting", "answered", "connected"),
    ("seizing", "release", "clearing"),
    ("alerting", "release", "clearing"),
    ("seizing", "glare", "idle"),              # the far end seized too: its call wins
    # the span in alarm (cti.server.lines.spans), as for channels.EM_WINK
    ("idle", "out_of_service", "out_of_service"),
    ("blocked", "out_of_service", "out_of_service"),
    ("*", "span_down", "clearing"),
    ("clearing", "span_down", "="),
    ("out_of_service", "span_down", "="),
    ("out_of_service", "back_in_service", "idle"),
])


def contexts_for(groups):
    """One OpenR2 context per trunk group of E1 CAS timeslots: name -> R2Context."""
    return {g.name: R2Context(g.r2.variant, max_ani=g.r2.max_ani, max_dnis=g.r2.max_dnis,
                              mf_back_timeout_ms=g.r2.mf_timeout_ms)
            for g in groups if g.r2 is not None}


class R2Trunk(OutsideLine, PooledVoice, Channel):
    """An E1 CAS timeslot with MFC/R2 (see the module's docstring).
    `settings`: its group's config.R2Settings; `context`: the group's
    R2Context; `number`: its channel number for OpenR2's logs."""

    table = R2_TRUNK

    def __init__(self, name, driver, clock, listener, voice_pool, bus, settings, context,
                 number=1, group=None):
        super().__init__(name, driver, clock, listener, group)
        self.voice_pool = voice_pool
        self.bus = bus
        self.settings = settings
        self.category = ""                # the calling category of the call in
        self.charge = None                # whether the call in is charged
        self.offer_data = {}
        self._timer = None                # a call out's ring time
        self.protocol_errors = Counter()  # kind -> how many, since the server started
        driver.enable_signalling_events(name)
        driver.r2_mf_mode(name, None)     # off until a call; boards without one refuse here
        port = DriverPort(driver, name)
        self._incoming = R2Channel(context, port, clock, self._r2_event, number)
        self._outgoing = (ChinaForward(port, clock, self._r2_event, settings.max_ani,
                                       settings.max_dnis, settings.mf_timeout_ms, yields=True)
                          if settings.variant == "cn" else self._incoming)
        self._protocol = self._incoming   # the one that has the call

    def snapshot(self):
        return {**super().snapshot(), "category": self.category, "charge": self.charge}

    def _changed(self, machine, transition):
        if transition.target == "idle":          # they were the call's, as its numbers
            self.category, self.charge, self.offer_data = "", None, {}
        super()._changed(machine, transition)

    # -- board events -----------------------------------------------------------
    def handle(self, event):
        kind = event.kind
        if kind == "signalling":
            bits = "".join(str(event.data[x]) for x in "abcd")
            if self.state == "clearing" and bits == BLOCKED_BITS[self.settings.variant]:
                self._released_blocked(bits)
            else:
                self._protocol.bits(bits)
        elif kind == "r2_mf" and event.device == self.name:
            self._protocol.mf(event.data["signal"])
        elif kind == "operation_failed":
            self._hung(event)

    # -- what the protocol says ---------------------------------------------------
    def _r2_event(self, event):
        kind, state = event.kind, self.state
        if kind == "init" and state == "idle":
            self.machine.fire("seizure")
        elif kind == "offered" and state == "receiving":
            self._offered(event)
        elif kind == "accepted" and state == "accepting":
            self.machine.fire("accepted")
            self.listener.trunk_offered(self, self.ani, self.dnis)
        elif kind == "accepted" and state == "seizing":
            self.machine.fire("accepted", charge=event.charge)
            self._timer = self.clock.callLater(self.no_answer_s, self._outbound_failed,
                                               "no_answer")
        elif kind == "answered" and state == "alerting":
            self._stop_timer()
            self._outbound_connected()
        elif kind == "disconnect":
            self._disconnected(event.cause)
        elif kind == "error" and event.error == "glare" and state == "seizing":
            self._glare()
        elif kind == "error":
            self._protocol_error(event.error)
        elif kind == "end":
            self._protocol = self._incoming
            if state in ("clearing", "far_cleared"):
                self.machine.fire("idle")
        elif kind == "blocked" and state == "idle":
            self.machine.fire("blocked")
        elif kind == "idle" and state == "blocked":
            self.machine.fire("unblocked")
        elif kind in ("offered", "accepted"):
            self._stray_call(kind)

    def _released_blocked(self, bits):
        """The far end blocks the timeslot in the moment it releases our
        clear (its idle and its blocking in one: we hear only the blocking,
        and OpenR2, waiting for the idle, would wait for good).  The
        blocking is the release: the call's protocol is set idle, the trunk
        goes idle, and the bits, heard again by the protocol for calls in,
        show it blocked (idle again once the far end unblocks)."""
        log.info("{channel}: the far end blocks as it releases our clear: released",
                 channel=self.name)
        protocol, self._protocol = self._protocol, self._incoming
        protocol.idle()
        self.machine.fire("idle")
        self._incoming.bits(bits)

    def _stray_call(self, kind):
        """The protocol offers, accepts or disconnects a call the trunk is
        not taking: one it never saw arrive, or gave up while the protocol
        could not clear it yet (its span went down meanwhile).  Cleared
        now, or its timeslot would stay seized for good."""
        log.info("{channel}: a call {kind} in state {state}: cleared", channel=self.name,
                 kind=kind, state=self.state)
        try:
            self._protocol.disconnect("out_of_order" if kind == "offered" else "normal")
        except R2Error as e:
            log.warn("{channel}: {error}", channel=self.name, error=e)

    def _offered(self, event):
        self.ani, self.dnis, self.category = event.ani, event.dnis, event.category
        self.charge = self.settings.charge == "charge"
        self.offer_data = {"r2_category": self.category, "r2_charge": self.charge}
        if not self._take_voice():
            log.warn("{channel}: a call from {ani} with no voice resource free: refused "
                     "(congestion)", channel=self.name, ani=self.ani or "-")
            self.machine.fire("refuse", cause="congestion")
            self._incoming.disconnect("congestion")
            return
        self.machine.fire("accept", ani=self.ani, dnis=self.dnis, category=self.category)
        self._request(self._incoming.accept, self.settings.charge)

    def _take_voice(self):
        self.voice = self.voice_pool.take(self)
        if self.voice is None:
            return False
        self.bus.route(self.voice, self.name)
        return True

    def _disconnected(self, cause):
        """The far end cleared (or refused our call with `cause`)."""
        state = self.state
        if self.outbound is not None:
            self._outbound_failed(cause)
        elif state in ("offered", "connected"):
            how = "clear-forward" if self._protocol is self._incoming else "clear-back"
            self._far_cleared(how)
        elif state in ("receiving", "accepting"):       # it gave up before the offer
            self.machine.fire("far_clear", how="gave up before the offer")
            self._clear_down()
        elif state in ("idle", "out_of_service"):       # a call it is not taking
            self._stray_call("disconnect")

    def _glare(self):
        """Our China call out met the far end's seizure: the incoming call
        wins (OpenR2 answers its seizure), ours fails with "glare" (the
        caller of `seize` tries another trunk)."""
        self._stop_timer()
        d, self.outbound = self.outbound, None
        voice, self.voice = self.voice, None
        self.bus.release(voice)
        self.voice_pool.give(voice)
        self.machine.fire("glare")
        self._protocol = self._incoming
        log.info("{channel}: glare: the incoming call wins over ours to {number}",
                 channel=self.name, number=self.number)
        self._incoming.bits(self.driver.abcd(self.name)[1])
        d.errback(OutboundFailed(self.name, "glare"))

    def _protocol_error(self, error):
        self.protocol_errors[error] += 1
        reason = f"R2 protocol error: {error}"
        log.warn("{channel}: {reason} in state {state}", channel=self.name, reason=reason,
                 state=self.state)
        if self.outbound is not None:
            self._outbound_failed(reason)
        elif self.state in ("offered", "connected"):
            if self.machine.fire_if("far_clear", how=reason):
                self.listener.trunk_released(self, reason)
        elif self.state in ("receiving", "accepting"):
            self.machine.fire("protocol_error", error=error)
            self._clear_down()

    # -- call control -------------------------------------------------------------
    def answer(self):
        self.machine.fire("answer")
        self._request(self._incoming.answer)

    def _request(self, request, *args):
        """Accept or answer the call in.  OpenR2 reports what one moment on
        the line brought together (the end of the compelled cycle, and the
        caller's clear-forward) and refuses a request made in answer to the
        first: the far end has gone, and its disconnect comes next, which
        clears the call (an R2Error here would lose it and leave the call
        up with nobody on the line)."""
        try:
            request(*args)
        except R2Error as e:
            log.info("{channel}: {error}: the far end has gone (its clear comes next)",
                     channel=self.name, error=e)

    def seize(self, number, no_answer_s=NO_ANSWER_S):
        """Place a call out (see the module's docstring)."""
        d = self._outbound_start(number, no_answer_s)
        self.category, self.charge, self.offer_data = self.settings.category, None, {}
        if not self._take_voice():
            self._outbound_failed("no voice resource free")
            return d
        self._protocol = self._outgoing
        try:
            self._outgoing.make_call("", number, self.settings.category)
        except R2Error as e:
            self._outbound_failed(f"R2: {e.message}")
        return d

    def release(self, reason="normal"):
        """Clear the call: clear-back (in) or clear-forward (out); idle when
        the far end is idle too."""
        if self.state in ("idle", "clearing", "out_of_service", "blocked"):
            return self.wait_idle()
        if self.outbound is not None:           # a call out not connected yet: given up
            self._outbound_failed(reason)
            return self.wait_idle()
        self.machine.fire("release", reason=reason)
        self._clear_down()
        return self.wait_idle()

    def _clear_down(self):
        self._stop_timer()
        self._give_voice_back()
        try:
            self._protocol.disconnect("normal")
        except R2Error:                          # it has no call left: it is idle already
            self._protocol = self._incoming
            if self.state in ("clearing", "far_cleared"):
                self.machine.fire("idle")

    def _stop_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None

    def close(self):
        """Its protocols go (the server stops)."""
        self._stop_timer()
        self._incoming.close()
        if self._outgoing is not self._incoming:
            self._outgoing.close()

    def _busy_out(self, on):
        if on:
            self._incoming.block()
        else:
            self._incoming.idle()
