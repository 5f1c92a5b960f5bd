# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_r2 -*-
"""The simulated telco's MFC/R2, beyond a server's E1 CAS trunks.

The simulator carries an E1 CAS timeslot's bits and runs an R2 MF
transceiver at its far end (native/src/r2mf.c); the telco's signalling
is played here, as our side's is (cti.server.lines.r2): OpenR2 for the
ITU, Mexican, Brazilian and Argentinian variants, both ways; for China,
cti's own calling side (ChinaForward) for its calls in and its own called
side (ChinaBackward) answering our calls out (lines-real.md 3.3).

Every tick of the injected clock (TICK_S) it takes what the watched far
ends heard (our bits, the R2 signals) and hands each to the far end's
protocol: the calling one while the telco calls in on the timeslot, the
called one otherwise::

    telco = R2Telco(sim, config.trunk_groups, clock)
    telco.start()
    telco.call("dtiB1T1", ani="13800138000", dnis="8001", category="national_subscriber")
    telco.hangup("dtiB1T1")                 # clear-forward (its call), clear-back (ours)
    telco.answer_mode("dtiB1T2", "busy")    # our calls out there are refused busy
    telco.block("dtiB1T3", True)            # the telco takes the timeslot out of service
    telco.span_variant("dtiB1", "itu")      # the carrier speaks another variant there

Blocking is R2's line signal from the idle far end (ITU 1101, China
1111): our trunk shows it blocked and takes no call on it until the far
end sends idle again.  Asked while a call is on the timeslot, the block
waits for the call to clear, as an exchange blocks a busy circuit: it
follows BLOCK_AFTER_CLEAR_S after the release, once both ends are idle.
`block_after_clear_s` 0 blocks in the same moment as the release, as a
real exchange may: our trunk takes the blocking signal for the release
too (cti.server.lines.r2).

How it answers our calls out follows the answer modes of the other
trunks (drivers.sim.OUTBOUND): answer (after `rings` rings of RING_S
each), busy, no_answer (accepted, never answered), sit (unallocated
number), silence (its register never answers a signal: our side's MF
timeout), and the rest (fax, no_dial_tone) refuse with congestion.
"""
from collections import deque
from dataclasses import replace

from twisted.internet import task
from twisted.logger import Logger

from cti.server.errors import InvalidField, InvalidState
from cti.server.lines.r2china import ChinaBackward, ChinaForward
from drivers.r2 import FarPort, R2Channel
from drivers.r2 import R2Context as _R2Context

log = Logger()

#: How often the far ends' events are taken (the simulator's tick).
TICK_S = 0.01
#: One ring of an answering far end.
RING_S = 2.0
#: The far end's last events kept per timeslot (R2Telco.events).
EVENTS_KEPT = 64
#: How long after a call clears the telco blocks the timeslot it was
#: asked to block during the call.
BLOCK_AFTER_CLEAR_S = 1.0
#: Our calls out refused by answer mode, and the cause.
REFUSALS = {"busy": "busy", "sit": "unallocated"}


class _FarTimeslot:
    """The telco's end of one R2 timeslot: its calling and called protocols."""

    def __init__(self, telco, device, settings, context, number):
        self.telco, self.device, self.settings, self.number = telco, device, settings, number
        self.mode, self.rings = "answer", 2
        self.events = deque(maxlen=EVENTS_KEPT)   # what happened on it lately
        port = FarPort(telco.sim.endpoint(device))
        if settings.variant == "cn":
            self.calling = ChinaForward(port, telco.clock, self._event, settings.max_ani,
                                        settings.max_dnis, settings.mf_timeout_ms)
            self.called = ChinaBackward(port, telco.clock, self._event, settings.max_ani,
                                        settings.max_dnis, settings.mf_timeout_ms)
        else:
            self.calling = self.called = R2Channel(context, port, telco.clock, self._event,
                                                   number)
        self.active = self.called
        self.busy = False                     # a call on it, either way
        self.calling_in = False               # the call on it is the telco's own
        self.block_wanted = False             # the telco takes it out of service
        self.blocked = False                  # its blocking signal is on the line
        self._answer = None
        self._reblock = None                  # the block (or unblock) due after a call

    def close(self):
        if self._answer is not None and self._answer.active():
            self._answer.cancel()
        if self._reblock is not None and self._reblock.active():
            self._reblock.cancel()
        self.calling.close()
        if self.called is not self.calling:
            self.called.close()

    def _event(self, event):
        self.events.append(event)
        kind = event.kind
        if kind == "init":
            self.busy = True
        elif kind == "offered" and self.active is self.called:
            self._offered(event)
        elif kind == "disconnect":
            self.active.disconnect("normal")
        elif kind == "end" or kind == "error" and not self._clearing_forward():
            if self._answer is not None and self._answer.active():
                self._answer.cancel()
            self._answer = None
            self.active = self.called
            self.busy = self.calling_in = False
            if self.blocked != self.block_wanted and self.telco.block_after_clear_s:
                self._reblock = self.telco.clock.callLater(self.telco.block_after_clear_s,
                                                           self._after_clear)
            elif self.blocked != self.block_wanted:
                self.block(self.block_wanted)

    def _after_clear(self):
        self._reblock = None
        self.block(self.block_wanted)

    def block(self, on):
        """Block (or unblock) the timeslot: now when no call is on it,
        once the call clears otherwise."""
        self.block_wanted = on
        if self.busy or self.blocked == on or self._reblock is not None:
            return
        if on:
            self.called.block()
        else:
            self.called.idle()
        self.blocked = on

    def _clearing_forward(self):
        """China's calling side, after its error, clears forward until our
        side is idle: it hears our bits until then (its end follows)."""
        return (self.active is self.calling and self.calling is not self.called
                and self.calling.machine.state == "clearing")

    def _offered(self, event):
        log.info("sim telco: {device} offered our call to {dnis} ({mode})",
                 device=self.device, dnis=event.dnis, mode=self.mode)
        if self.mode in REFUSALS or self.mode not in ("answer", "no_answer"):
            self.called.disconnect(REFUSALS.get(self.mode, "congestion"))
            return
        self.called.accept("charge")
        if self.mode == "answer":
            self._answer = self.telco.clock.callLater(self.rings * RING_S, self._answered)

    def _answered(self):
        self._answer = None
        self.called.answer()


class R2Telco:
    """The far ends of the E1 CAS timeslots of `trunk_groups` (module doc)."""

    def __init__(self, sim, trunk_groups, clock, block_after_clear_s=BLOCK_AFTER_CLEAR_S):
        self.sim, self.clock = sim, clock
        self.block_after_clear_s = block_after_clear_s
        self.timeslots = {}
        self.contexts = []
        for group in trunk_groups:
            if group.r2 is None:
                continue
            context = self._context(group.r2)
            for number, device in enumerate(group.channels, 1):
                sim.watch_far_end(device)
                self.timeslots[device] = _FarTimeslot(self, device, group.r2, context, number)
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = clock

    def _context(self, settings):
        """An OpenR2 context for far ends with `settings` (None for China,
        whose far ends are cti's own)."""
        if settings.variant == "cn":
            return None
        context = _R2Context(settings.variant, max_ani=settings.max_ani,
                             max_dnis=settings.max_dnis,
                             mf_back_timeout_ms=settings.mf_timeout_ms)
        self.contexts.append(context)
        return context

    def __contains__(self, device):
        return device in self.timeslots

    def start(self):
        if self.timeslots and not self._loop.running:
            self._loop.start(TICK_S, now=False)

    def stop(self):
        """No more far-end events taken; its protocols go."""
        if self._loop.running:
            self._loop.stop()
        for far in self.timeslots.values():
            far.close()
        for context in self.contexts:
            context.close()
        self.timeslots, self.contexts = {}, []

    def tick(self):
        """Hand what the far ends heard to their protocols."""
        for heard in self.sim.far_events():
            far = self.timeslots.get(heard.device)
            if far is None:
                continue
            if heard.kind == "bits":
                far.active.bits(heard.value)
            elif not (far.mode == "silence" and not far.calling_in):
                far.active.mf(heard.value)

    # -- what the telco does ------------------------------------------------------
    def call(self, device, ani, dnis, category="national_subscriber"):
        """The telco calls in on `device` (idle at its end)."""
        far = self.timeslots[device]
        far.active, far.busy, far.calling_in = far.calling, True, True
        far.calling.make_call(ani, dnis, category)

    def hangup(self, device):
        """Clear: forward on its own call, back on ours."""
        self.timeslots[device].active.disconnect("normal")

    def answer_mode(self, device, mode, rings=2):
        far = self.timeslots[device]
        far.mode, far.rings = mode, rings

    def span_variant(self, span, variant):
        """The far ends of the R2 timeslots of `span` (all idle) speak
        `variant` from now on, whatever our trunk groups say: a carrier
        set to another variant than ours (the configuration doctor's
        r2.variant)."""
        devices = [d for d in self.timeslots if d.startswith(f"{span}T")]
        if not devices:
            raise InvalidField(f"variant: {span} has no MFC/R2 timeslot (E1 CAS in a trunk "
                               "group with an r2_variant)", field="variant")
        busy = [d for d in devices if self.timeslots[d].busy]
        if busy:
            raise InvalidState(f"{span}: a call is on {', '.join(busy)}: the telco changes "
                               "its variant on idle timeslots only", object="device", id=span)
        contexts = {}
        for device in devices:
            old = self.timeslots[device]
            settings = replace(old.settings, variant=variant)
            if settings not in contexts:
                contexts[settings] = self._context(settings)
            old.close()
            self.timeslots[device] = _FarTimeslot(self, device, settings, contexts[settings],
                                                  old.number)

    def block(self, device, on=True):
        """The telco blocks `device` (or, `on` False, unblocks it); see the
        module's docstring."""
        self.timeslots[device].block(on)

    def blocking(self, device):
        """(wanted, on the line): whether the telco blocks `device`, and
        whether its blocking signal is on the line yet."""
        far = self.timeslots[device]
        return far.block_wanted, far.blocked

    def idle(self, device):
        """No call on the far end of `device`."""
        return not self.timeslots[device].busy

    def events(self, device):
        """What happened at the far end of `device` lately (its last
        EVENTS_KEPT R2Events)."""
        return list(self.timeslots[device].events)
