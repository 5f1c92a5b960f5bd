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

How it answers our calls out follows the answer modes of the other
trunks (drivers.sim.OUTBOUND): answer (after `rings` rings of RING_S
each), busy, no_answer (accepted, never answered), sit (unallocated
number), silence (its register never answers a signal: our side's MF
timeout), and the rest (fax, no_dial_tone) refuse with congestion.
"""
from collections import deque

from twisted.internet import task
from twisted.logger import Logger

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
#: Our calls out refused by answer mode, and the cause.
REFUSALS = {"busy": "busy", "sit": "unallocated"}


class _FarTimeslot:
    """The telco's end of one R2 timeslot: its calling and called protocols."""

    def __init__(self, telco, device, settings, context, number):
        self.telco, self.device, self.settings = telco, device, settings
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
        self._answer = None

    def close(self):
        if self._answer is not None and self._answer.active():
            self._answer.cancel()
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

    def __init__(self, sim, trunk_groups, clock):
        self.sim, self.clock = sim, clock
        self.timeslots = {}
        self.contexts = []
        for group in trunk_groups:
            if group.r2 is None:
                continue
            s = group.r2
            context = None if s.variant == "cn" else _R2Context(
                s.variant, max_ani=s.max_ani, max_dnis=s.max_dnis,
                mf_back_timeout_ms=s.mf_timeout_ms)
            if context is not None:
                self.contexts.append(context)
            for number, device in enumerate(group.channels, 1):
                sim.watch_far_end(device)
                self.timeslots[device] = _FarTimeslot(self, device, s, context, number)
        self._loop = task.LoopingCall(self.tick)
        self._loop.clock = clock

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

    def idle(self, device):
        """No call on the far end of `device`."""
        return not self.timeslots[device].busy

    def events(self, device):
        """What happened at the far end of `device` lately (its last
        EVENTS_KEPT R2Events)."""
        return list(self.timeslots[device].events)
