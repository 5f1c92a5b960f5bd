# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pri -*-
"""The simulated telephone company's side of ISDN spans: the other libpri.

On each ISDN span of a simulated chassis (T1 PRI, E1 CCS) the telco runs
a libpri controller of its own (drivers.pri.PriLink) on the far end of
the span's D-channel (drivers.sim.Simulator.dchannel): the network when
our side is the CPE, and the reverse, with the same switch type and
overlap as ours (cti.server.config.PriSettings).  Its frames travel the
simulated line both ways, so our side's libpri talks to another one over
the span, as with a real switch::

    far = FarSpan(sim, "dtiB2", settings, e1=True, clock=reactor)
    far.call("dtiB2T1", ani="2125551234", dnis="5550199")    # a SETUP for channel 1
    far.hangup("dtiB2T1", cause=16)                          # DISCONNECT
    far.answer_mode("dtiB2T3", "refuse", cause=34)           # our calls out there
    far.restart(None)                                        # every channel's RESTART
    far.cut(True)                                            # its D-channel falls silent

The audio of a B-channel is the simulator's far end of the timeslot, as
on any span (tones, digits, WAV audio, what it hears); only the calls'
signalling is here.  The telco polls the far end of each D-channel every
POLL_S on the server's clock.  How it takes the calls we place: `answer`
(CALL PROCEEDING, ALERTING with ringback on the B-channel, CONNECT after
`rings` six-second ring cycles), `no_answer` (it rings on), `busy`
(cleared with cause 17) or `refuse` with any Q.850 cause.
"""
from contextlib import suppress
from dataclasses import dataclass

from twisted.internet import task
from twisted.logger import Logger

from cti.server.lines.pri import (
    CAUSE_CHANNEL_UNAVAILABLE,
    CAUSE_NO_CIRCUIT,
    bchannel,
    bchannel_device,
)
from drivers import errors as driver_errors
from drivers.pri import CAUSE_BUSY, CAUSE_NORMAL, PriLink

log = Logger()

#: How often the telco reads what reached the far end of its D-channels.
POLL_S = 0.01
#: One ring cycle, for `answer` after so many rings.
RING_CYCLE_S = 6.0
#: How an ISDN far end takes our calls out (SimAnswerMode's modes for ISDN).
ISDN_ANSWER_MODES = ("answer", "no_answer", "busy", "refuse")


@dataclass
class FarCall:
    """A call on one B-channel, seen from the telco: `state` ringing (its
    call, not answered yet), seized (ours, not answered yet), connected,
    clearing."""

    device: str
    call: object
    state: str
    dialled: str = ""
    answer_at: object = None          # DelayedCall of its answer (our call out)
    ringback: bool = False            # the telco sends ringback on its B-channel


class FarSpan:
    """The telco's side of one ISDN span (see the module's docstring)."""

    def __init__(self, sim, span, settings, e1, clock):
        self.sim = sim
        self.span = span
        self.e1 = e1
        self.clock = clock
        self.far = sim.dchannel(span)
        self.overlap = settings.overlap
        self.silent = False               # `cut`: the D-channel carries nothing
        self.calls = {}                   # device -> FarCall
        self.by_call = {}                 # PriCall -> FarCall
        self.modes = {}                   # device -> (mode, rings, cause)
        self.dialled = {}                 # device -> the number our last call out dialled
        self.pending_digits = {}          # PriCall -> digits still to send (overlap)
        self.node = "network" if settings.node == "cpe" else "cpe"
        self.switchtype = settings.switchtype
        self.link = self._link()

    def _link(self):
        return PriLink(f"{self.span}D (telco)", self.node, self.switchtype, self.clock,
                       send=self._send, on_event=self._event, overlap=self.overlap)

    def provision(self, node=None, switchtype=None):
        """The telco's side and switch type changed (as a carrier that
        provisioned the circuit otherwise): its libpri starts anew, its
        calls gone."""
        for far in list(self.calls.values()):
            self._stop(far)
            self._forget(far)
        self.link.close()                 # the old one silent: no SABMEs of its own
        self.node = node or self.node
        self.switchtype = switchtype or self.switchtype
        self.link = self._link()

    def _send(self, frame):
        if self.silent:
            return
        try:
            self.far.send(frame)
        except driver_errors.SimulatorError as e:
            log.debug("{span}: telco frame lost: {e}", span=self.span, e=e)

    def poll(self):
        """Frames our side sent that reached the far end, to its libpri."""
        while True:
            frame = self.far.receive()
            if frame is None:
                return
            if not self.silent:
                self.link.receive(frame)

    def state(self, device):
        far = self.calls.get(device)
        return far.state if far is not None else "idle"

    # -- what an administrator makes it do -------------------------------------------
    def call(self, device, ani, dnis, name="", presentation="allowed"):
        """A SETUP for the channel of `device` (exclusive), with the calling
        number `ani` (its `presentation` allowed or restricted) and the
        called number `dnis`, both national; with
        overlap, the called number's first digit goes in the SETUP and the
        rest in INFORMATION once our side acknowledges."""
        first, rest = (dnis[:1], dnis[1:]) if self.overlap and len(dnis) > 1 else (dnis, "")
        call = self.link.setup(bchannel(device, self.e1), first, ani, name,
                               called_plan="national", calling_plan="national",
                               presentation=presentation, alaw=self.e1, complete=not rest)
        self._track(FarCall(device, call, "ringing"))
        if rest:
            self.pending_digits[call] = rest

    def hangup(self, device, cause=CAUSE_NORMAL):
        """DISCONNECT (or the clearing its state calls for) with `cause`."""
        far = self.calls[device]
        far.state = "clearing"
        self._stop(far)
        self.link.hangup(far.call, cause)

    def answer_mode(self, device, mode, rings, cause):
        self.modes[device] = (mode, rings, cause)

    def restart(self, channel):
        """RESTART of one channel (a number) or of the whole span (None):
        the telco's calls there are gone at once, ours too.  The span is
        restarted channel by channel: libpri (1.6) cannot send a RESTART
        of the whole interface (drivers.pri.PriLink.restart)."""
        channels = [channel] if channel is not None else [
            bchannel(device, self.e1) for device in self._devices()]
        for far in list(self.calls.values()):
            if bchannel(far.device, self.e1) in channels:
                self._stop(far)
                self.link.destroy(far.call)
                self._forget(far)
        for number in channels:
            self.link.restart(number)

    def cut(self, silent):
        """The D-channel falls silent (both ways) or carries frames again."""
        self.silent = silent

    # -- libpri's events ---------------------------------------------------------------
    def _event(self, event):
        kind = event.kind
        far = self.by_call.get(event.call) if event.call is not None else None
        if kind == "setup":
            self._our_call(event)
        elif kind == "setup_ack" and event.call in self.pending_digits:
            self.link.information(event.call, self.pending_digits.pop(event.call))
        elif kind == "connect" and far is not None:
            far.state = "connected"
        elif kind in ("disconnect", "release") and event.call is not None:
            if far is not None:
                far.state = "clearing"
                self._stop(far)
            self.link.hangup(event.call, event.cause or CAUSE_NORMAL)
            if kind == "release" and far is not None:
                self._forget(far)
        elif kind == "release_complete" and far is not None:
            self._forget(far)

    def _our_call(self, event):
        """Our SETUP: taken as the B-channel's answer mode says."""
        device = None
        if event.channel is not None:
            device = bchannel_device(self.span, event.channel, self.e1)
        if device is None or device in self.calls:
            if event.exclusive and device is not None:
                self.link.refuse(event.call, CAUSE_CHANNEL_UNAVAILABLE)
                return
            device = next((d for d in self._devices() if d not in self.calls), None)
            if device is None:
                self.link.refuse(event.call, CAUSE_NO_CIRCUIT)
                return
            event.call.channel = bchannel(device, self.e1)
        mode, rings, cause = self.modes.get(device, ("answer", 2, None))
        self.dialled[device] = event.called
        if mode in ("busy", "refuse"):
            self.link.refuse(event.call, cause or CAUSE_BUSY)
            return
        far = self._track(FarCall(device, event.call, "seized", dialled=event.called))
        self.link.proceeding(event.call)
        self.link.alerting(event.call, inband=True)
        self.sim.endpoint(device).send_tone("ringback")
        far.ringback = True
        if mode == "answer":
            far.answer_at = self.clock.callLater(rings * RING_CYCLE_S, self._answer, far)

    def _answer(self, far):
        far.answer_at = None
        if self.calls.get(far.device) is far and far.state == "seized":
            self._stop(far)
            self.link.answer(far.call)
            far.state = "connected"

    def _devices(self):
        count = 30 if self.e1 else 23
        return [f"{self.span}T{n}" for n in range(1, count + 1)]

    def _track(self, far):
        self.calls[far.device] = far
        self.by_call[far.call] = far
        return far

    def _stop(self, far):
        """No answer to come, and no ringback: what a caller sends is left."""
        if far.answer_at is not None and far.answer_at.active():
            far.answer_at.cancel()
        far.answer_at = None
        if far.ringback:
            far.ringback = False
            with suppress(driver_errors.SimulatorError):
                self.sim.endpoint(far.device).send_tone(None)

    def _forget(self, far):
        if self.calls.get(far.device) is far:
            del self.calls[far.device]
        self.by_call.pop(far.call, None)
        self.pending_digits.pop(far.call, None)


class IsdnFarEnds:
    """The telco's side of every ISDN span whose B-channels are in trunk
    groups (`trunk_names`): a FarSpan each (`spans`, by span; `trunks`, by
    B-channel), their D-channels read every POLL_S once started."""

    def __init__(self, sim, config, trunk_names, clock):
        self.clock = clock
        self.spans = {}
        self.trunks = {}
        self._poll = None
        for name in trunk_names:
            device = config.devices[name]
            if device.signalling not in ("pri", "ccs"):
                continue
            span = name.rsplit("T", 1)[0]
            if span not in self.spans:
                e1 = config.boards[config.devices[span].board]["type"] == "e1"
                self.spans[span] = FarSpan(sim, span, config.pri_settings(span), e1, clock)
            self.trunks[name] = self.spans[span]

    def start(self):
        if self.spans and self._poll is None:
            self._poll = task.LoopingCall(self._read)
            self._poll.clock = self.clock
            self._poll.start(POLL_S, now=True)

    def stop(self):
        """The telco's D-channels go silent with the server: no more
        polling, and its libpri links close (no timer of theirs runs on)."""
        if self._poll is not None and self._poll.running:
            self._poll.stop()
        self._poll = None
        for far in self.spans.values():
            far.link.close()

    def _read(self):
        for far in self.spans.values():
            try:
                far.poll()
            except Exception:              # one span's trouble stops no other
                log.failure("sim: the telco's D-channel on {span}", span=far.span)
