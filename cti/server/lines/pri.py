# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_pri -*-
"""ISDN PRI trunks: B-channels whose calls are signalled on the span's
D-channel (Q.931 through libpri, drivers.pri), reaching the call layer
exactly as a T1 E&M trunk does.

    board events ("dtiB1D" dchannel_frame) ──> PriSpans ──> PriSpan.link (libpri)
        libpri's events ──> PriSpan ──> the PriTrunk of the B-channel they name
                                        └──> listener.trunk_offered(trunk, ani, dnis,
                                                                    presentation)
    listener ──> trunk.answer() / release(reason) / seize(number) ──> Q.931 messages

One `PriSpan` per ISDN span (a T1 PRI span, or an E1 with CCS) owns the
libpri controller on its D-channel device, on our side of the interface
(CPE facing a telco; network facing a PBX), with the switch type of the
span's `[[pri_spans]]` settings (cti.server.config.PriSettings).  Its
B-channels are the span's timeslot devices: on a T1, dtiBnT1..T23 are
channels 1-23 (the D-channel is 24); on an E1, dtiBnT1..T15 are
timeslots 1-15 and T16..T30 are timeslots 17-31 (the D-channel is 16),
and Q.931 numbers E1 channels by timeslot (`bchannel`, `bchannel_device`).

An incoming SETUP names a channel, exclusive or preferred.  The channel
taken is the one named when it is ours and idle (or, on the CPE side, when
our own SETUP for it crossed theirs, unanswered: the network's call wins
a glare, Q.931 5.7, and ours fails as a glare for the dialer to try the
next trunk); a preferred one busy
gives way to any idle one of ours; an exclusive one busy is refused
with cause 44 (requested channel not available), and with none idle the
call is refused with cause 34 (no circuit/channel available).  The
trunk takes a voice resource from the pool (the IVR's), answers CALL
PROCEEDING naming its channel, and offers the call with the calling
number as the ANI and the called number as the DNIS, and the calling
number's presentation: ``restricted`` (the caller withheld it), the call
layer routes on the number and keeps it for the CDR, but shows it to
no agent or client (cti.server.core.model.Call.shown_ani).  With overlap
receiving (the span's `overlap`, the ETSI custom), a SETUP without
"sending complete" is answered SETUP ACKNOWLEDGE and the number grows
with each INFORMATION until OVERLAP_DIGIT_S pass without a digit.

Clearing, either way, is DISCONNECT, RELEASE, RELEASE COMPLETE; the
trunk is idle again with the last of them.  A Q.850 cause goes with it:
the far end's is in the reason the call layer gets (and so in the CDR:
"far end cleared (cause 16: Normal Clearing)"); ours follows the
reason the call layer gives (`cause_for`).

A call out (`seize`) is a SETUP on the trunk's own channel, exclusive or
preferred as configured: CALL PROCEEDING, PROGRESS or ALERTING with the
in-band indicator (early media: the far end's ringback or announcement
is on the B-channel, and whoever is routed to the trunk hears it),
CONNECT.  A preferred channel is a wish: should the network answer
on another channel, one this trunk is not, the call is cleared with
cause 6 (channel unacceptable) and fails as a glare (the dialer tries
the next trunk), rather than talk on a channel another trunk holds idle.
Cleared before the answer, it fails with a reason made of the cause
(`outbound_reason`): "busy (cause 17: User busy)", "no_answer (cause 19:
...)", "refused (cause 34: ...)".

RESTART from the far end (of one channel, or of the whole interface)
ends the calls on those channels at once with no clearing messages:
libpri's call is destroyed, the call layer told ("restarted by the
network").  The D-channel going down (layer 2 lost) leaves active
calls up, as Q.931 5.8.9 has it: libpri's T309 runs, and if the link
is not back when it expires the calls are released with cause 27
(destination out of order); calls not yet answered are cleared at once.
While it is down (and until it first comes up) the idle B-channels are
out of service, as a span's in alarm: no call is placed on them, and
calls out go to other trunks.  The D-channel's board removed (DAHDI
hot-unplug: the driver's alarm "removed" on the D-channel) is such a
loss at once and for good, said once in the log: down without waiting
for layer 2 to time out, and no frame is handed to the driver again
(libpri's retries go nowhere; its T309 runs as on any loss).
Every trunk and every D-channel has a declared machine with its
history; a D-channel's also counts libpri's configuration errors (both
ends network, or both CPE: the doctor's pri.side rule) and the causes
the far end cleared calls with (its pri.switchtype rule).

Every frame either way can be traced (`PriSpan.tracers`: callables of
(frame, outgoing)), for the D-channel trace a technician takes with
`linediag trace` (cti.server.maintenance.trace).
"""
from collections import Counter

from cti.logs import Logger
from cti.server.lines.channels import (
    LINE_ALARMS,
    NO_ANSWER_S,
    Channel,
    OutsideLine,
    PooledVoice,
)
from cti.statemachine import Table
from drivers.errors import PriError
from drivers.interface import REMOVED_ALARM
from drivers.pri import CAUSE_BUSY, CAUSE_NORMAL, PriLink, cause_text

log = Logger()

#: Q.850 causes the trunks give and read (besides drivers.pri's normal
#: clearing and user busy).
CAUSE_UNALLOCATED = 1
CAUSE_CHANNEL_UNACCEPTABLE = 6
CAUSE_NO_USER_RESPONDING = 18
CAUSE_NO_ANSWER = 19
CAUSE_REJECTED = 21
CAUSE_NO_CIRCUIT = 34
CAUSE_CHANNEL_UNAVAILABLE = 44
CAUSE_RESOURCE_UNAVAILABLE = 47
#: Overlap receiving: the number is complete this long after its last digit.
OVERLAP_DIGIT_S = 4.0
#: E1: the D-channel's timeslot; B-channels above it are numbered one up.
E1_DCHANNEL_TIMESLOT = 16


def bchannel(device, e1):
    """The Q.931 channel number of a B-channel device (dtiB1T17 on an E1: 18)."""
    index = int(device.rsplit("T", 1)[1])
    return index + 1 if e1 and index >= E1_DCHANNEL_TIMESLOT else index


def bchannel_device(span, number, e1):
    """The device of B-channel `number` of `span`, or None for the E1's
    D-channel timeslot or a number out of range."""
    if e1:
        if number == E1_DCHANNEL_TIMESLOT or not 1 <= number <= 31:
            return None
        index = number - 1 if number > E1_DCHANNEL_TIMESLOT else number
    else:
        if not 1 <= number <= 23:
            return None
        index = number
    return f"{span}T{index}"


def outbound_reason(cause):
    """Why a call out failed, from the far end's cause: its first word what
    the dialer counts (busy, no_answer), then the cause and its words."""
    word = {CAUSE_BUSY: "busy", CAUSE_NO_USER_RESPONDING: "no_answer",
            CAUSE_NO_ANSWER: "no_answer"}.get(cause, "refused")
    return f"{word} (cause {cause}: {cause_text(cause)})"


def cause_for(reason, answered, outbound=False):
    """The Q.850 cause we clear a call with, for the call layer's reason:
    a call in we do not take is refused (busy, no route, rejected); a
    call out we give up ends with no answer (our ring time out) or, as
    any answered call, with normal clearing (21 is the called side's)."""
    if answered:
        return CAUSE_NORMAL
    if reason.startswith("no_answer"):
        return CAUSE_NO_ANSWER
    if outbound:
        return CAUSE_NORMAL
    if reason.startswith("busy") or reason == "server stopping":
        return CAUSE_BUSY
    if reason == "no route for the call":
        return CAUSE_UNALLOCATED
    return CAUSE_REJECTED


PRI_TRUNK = Table("pri_trunk", initial="idle", transitions=[
    # inbound
    ("idle", "refuse", "clearing"),            # SETUP we cannot take: refused with a cause
    ("idle", "setup", "overlap"),              # SETUP, number incomplete: SETUP ACKNOWLEDGE
    ("overlap", "digits", "="),                # INFORMATION: more of it
    ("overlap", "offer", "offered"),           # complete: CALL PROCEEDING, offered
    ("idle", "offer", "offered"),              # SETUP with its number: CALL PROCEEDING
    ("offered", "answer", "connected"),        # CONNECT
    ("overlap", "release", "clearing"),
    ("offered", "release", "clearing"),        # DISCONNECT (ours)
    ("connected", "release", "clearing"),
    ("*", "far_clear", "far_cleared"),         # DISCONNECT or RELEASE (theirs), RESTART
    ("far_cleared", "release", "clearing"),
    ("clearing", "idle", "idle"),              # RELEASE COMPLETE either way
    ("far_cleared", "idle", "idle"),
    ("*", "hung", "clearing"),
    # outbound
    ("idle", "seize", "seizing"),              # SETUP sent
    ("seizing", "proceeding", "dialing"),      # CALL PROCEEDING
    ("seizing", "progress", "early_media"),    # PROGRESS, in-band information
    ("dialing", "progress", "early_media"),
    ("seizing", "alerting", "alerting"),       # ALERTING
    ("dialing", "alerting", "alerting"),
    ("early_media", "alerting", "alerting"),
    ("alerting", "progress", "="),
    ("seizing", "answered", "connected"),      # CONNECT
    ("dialing", "answered", "connected"),
    ("early_media", "answered", "connected"),
    ("alerting", "answered", "connected"),
    ("seizing", "release", "clearing"),
    ("dialing", "release", "clearing"),
    ("early_media", "release", "clearing"),
    ("alerting", "release", "clearing"),
    # the span in alarm (cti.server.lines.spans)
    ("idle", "out_of_service", "out_of_service"),
    ("*", "span_down", "clearing"),
    ("clearing", "span_down", "="),
    ("out_of_service", "span_down", "="),
    ("out_of_service", "back_in_service", "idle"),
])

DCHANNEL = Table("dchannel", initial="down", transitions=[
    ("down", "up", "up"),                      # layer 2 established
    ("up", "down", "down"),                    # lost: T309 keeps active calls meanwhile
    ("down", "config_error", "="),             # libpri: the far end's role is ours too
    ("up", "restart", "="),                    # the far end restarted channels
    ("down", "restart", "="),
    ("up", "removed", "down"),                 # its board unplugged: down for good
    ("down", "removed", "="),
])


class PriTrunk(OutsideLine, PooledVoice, Channel):
    """One B-channel of an ISDN span (see the module's docstring)."""

    table = PRI_TRUNK

    def __init__(self, name, driver, clock, listener, voice_pool, bus, dchannel, number,
                 group=None):
        super().__init__(name, driver, clock, listener, group)
        self.voice_pool = voice_pool
        self.bus = bus
        self.dchannel = dchannel          # its span's PriSpan
        self.bchannel = number            # its Q.931 channel number
        self.call = None                  # libpri's call (drivers.pri.PriCall) while one is up
        self.cause = None                 # the last call's Q.850 cause, either way
        self.calling_plan = self.presentation = None
        self._timer = None                # overlap digits / a call out's ring time

    def _changed(self, machine, transition):
        """Idle again while the D-channel is down: out of service until it
        is up (no call can be signalled on the channel meanwhile)."""
        super()._changed(machine, transition)
        if transition.target == "idle" and self.state == "idle" and not self.dchannel.up:
            self.machine.fire("out_of_service", reason="D-channel down")

    def back_in_service(self):
        """Its span healthy, or its D-channel up: idle again if both are."""
        if self.dchannel.up:
            super().back_in_service()

    def snapshot(self):
        snap = super().snapshot()
        snap.update({"bchannel": self.bchannel, "cause": self.cause,
                     "callingPlan": self.calling_plan, "presentation": self.presentation})
        return snap

    def handle(self, event):
        """Board events of its voice resource (the D-channel's go to its span)."""
        if event.kind == "operation_failed":
            self._hung(event)

    def _take_voice(self):
        voice = self.voice_pool.take(self)
        if voice is None:
            return False
        self.voice = voice
        self.bus.route(voice, self.name)
        return True

    # -- inbound -------------------------------------------------------------
    def setup(self, event):
        """An incoming SETUP for this channel (idle, ours: PriSpan chose it)."""
        link = self.dchannel.link
        self.call, event.call.channel = event.call, self.bchannel
        self.dchannel.owner[event.call] = self
        self.cause = None
        self.ani, self.dnis, self.cid_name = event.calling, event.called, event.calling_name
        self.calling_plan, self.presentation = event.calling_plan, event.presentation
        if not self._take_voice():
            log.warn("{channel}: SETUP with no voice resource free: refused (cause 47)",
                     channel=self.name)
            self.cause = CAUSE_RESOURCE_UNAVAILABLE
            self.machine.fire("refuse", cause=self.cause, reason="no voice resource free")
            link.refuse(self.call, CAUSE_RESOURCE_UNAVAILABLE)
            return
        if not event.complete and self.dchannel.settings.overlap:
            self.machine.fire("setup", dnis=self.dnis)
            link.setup_ack(self.call)
            self._timer = self.clock.callLater(OVERLAP_DIGIT_S, self._number_complete)
            return
        link.proceeding(self.call)
        self._offer()

    def information(self, event):
        """INFORMATION: more digits of the called number (overlap receiving);
        with Sending Complete (IE 0xA1) the number is whole at once."""
        if self.state != "overlap":
            return
        self.dnis += event.called
        self.machine.fire("digits", dnis=self.dnis)
        if event.complete:
            self._stop_timer()
            self._number_complete()
        elif self._timer is not None and self._timer.active():
            self._timer.reset(OVERLAP_DIGIT_S)

    def _number_complete(self):
        self._timer = None
        if self.state == "overlap":
            self.dchannel.link.proceeding(self.call)
            self._offer()

    def _offer(self):
        self.machine.fire("offer", ani=self.ani, dnis=self.dnis)
        self.listener.trunk_offered(self, self.ani, self.dnis, self.presentation)

    def answer(self):
        self.machine.fire("answer")
        self.dchannel.link.answer(self.call)

    # -- outbound ------------------------------------------------------------
    def seize(self, number, no_answer_s=NO_ANSWER_S):
        """Place a call out on this B-channel (see the module's docstring)."""
        d = self._outbound_start(number, no_answer_s)
        span = self.dchannel
        self.cause = None
        if not span.up:
            self._outbound_failed("D-channel down")
            return d
        if not self._take_voice():
            self._outbound_failed("no voice resource free")
            return d
        settings = span.settings
        try:
            self.call = span.link.setup(self.bchannel, number, settings.calling_number,
                                        exclusive=settings.channel_selection == "exclusive",
                                        presentation=settings.presentation,
                                        alaw=span.e1)
        except PriError as e:
            self._outbound_failed(f"the SETUP was refused: {e}")
            return d
        span.owner[self.call] = self
        self._timer = self.clock.callLater(self.no_answer_s, self._no_answer)
        return d

    def give_way(self):
        """Our SETUP crossed the network's SETUP for this channel, not
        answered yet: the network's call wins (Q.931 5.7: it clears ours
        with cause 44), so ours is forgotten at once and fails as a glare
        (the dialer tries the next trunk); the channel is idle for theirs."""
        if self.call is not None:
            self.dchannel.forget(self.call)
            self.call = None
        self.cause = CAUSE_CHANNEL_UNAVAILABLE
        self._outbound_failed("glare")

    def _no_answer(self):
        self._timer = None
        if self.outbound is not None:
            self._outbound_failed("no_answer")

    def progress(self, event):
        """CALL PROCEEDING, PROGRESS, ALERTING or CONNECT of our call out."""
        kind = event.kind
        if self.outbound is None:
            return
        if event.channel is not None and event.channel != self.bchannel:
            log.info("{channel}: the network gave our call out channel {given}, not "
                     "{ours}: cleared (cause 6), glare", channel=self.name,
                     given=event.channel, ours=self.bchannel)
            self.cause = CAUSE_CHANNEL_UNACCEPTABLE
            self._outbound_failed("glare")
            return
        if kind == "connect":
            self._stop_timer()
            self._outbound_connected()
        elif kind == "proceeding":
            self.machine.fire_if("proceeding")
        elif kind == "alerting":
            self.machine.fire_if("alerting", inband=event.inband)
        elif kind == "progress" and event.inband:
            self.machine.fire_if("progress")

    # -- clearing ------------------------------------------------------------
    def far_cleared(self, event):
        """DISCONNECT or RELEASE from the far end, with its cause."""
        self.cause = event.cause
        if self.outbound is not None:
            self._outbound_failed(outbound_reason(event.cause))
        elif self.state in ("offered", "connected"):
            self._far_cleared(f"cause {event.cause}: {cause_text(event.cause)}")
        elif self.state == "overlap":
            self.machine.fire("far_clear", how=f"cause {event.cause}")
            self.machine.fire("release", reason="the caller left while dialling")
            self._clear_down()
        elif self.state in ("clearing", "far_cleared"):
            self._clear_down()            # the answer to it: RELEASE (COMPLETE)

    def release_complete(self):
        """RELEASE COMPLETE: libpri has forgotten the call."""
        self.call = None
        if self.state in ("clearing", "far_cleared"):
            self._stop_timer()
            self.machine.fire("idle")

    def restarted(self, why):
        """The far end restarted this channel, or the D-channel's state ended
        the call: gone at once, with no clearing of its own."""
        if self.call is not None:
            self.dchannel.forget(self.call)
            self.call = None
        if self.state in ("idle", "out_of_service"):
            return
        self.cause = None
        if self.outbound is not None:
            self._outbound_failed(why)
        elif self.state in ("offered", "connected"):
            self.machine.fire("far_clear", how=why)
            self.listener.trunk_released(self, why)
        elif self.state == "overlap":
            self.machine.fire("far_clear", how=why)
            self.machine.fire("release", reason=why)
            self._clear_down()
        else:
            self._clear_down()

    def release(self, reason="normal"):
        """Clear the call: DISCONNECT, then idle with RELEASE COMPLETE."""
        if self.state in ("idle", "clearing", "out_of_service"):
            return self.wait_idle()
        if self.outbound is not None:           # a call out not connected yet: given up
            self._outbound_failed(reason)
            return self.wait_idle()
        if self.state != "far_cleared":
            self.cause = cause_for(reason, self.state == "connected")
        self.machine.fire("release", reason=reason)
        self._clear_down()
        return self.wait_idle()

    def _clear_down(self):
        """Give the voice resource back and clear the call in Q.931: our
        DISCONNECT (or the RELEASE, or RELEASE COMPLETE, that answers the
        far end's); idle when libpri is done with the call."""
        self._stop_timer()
        self._give_voice_back()
        call = self.call
        if call is not None:
            try:
                self.dchannel.link.hangup(call, self.cause or CAUSE_NORMAL)
            except PriError as e:
                log.warn("{channel}: clearing the call: {e}; forgotten", channel=self.name, e=e)
                self.dchannel.forget(call)
                self.call = None
            if call.released:                   # it was the answer to their RELEASE
                self.dchannel.owner.pop(call, None)
                self.call = None
        if self.call is None and self.state in ("clearing", "far_cleared"):
            self.machine.fire("idle")

    def take_out_of_service(self, reason):
        """The span is in alarm: its D-channel is silent too; the call (if
        any) is forgotten at once, as a RESTART would."""
        if self.call is not None:
            self.dchannel.forget(self.call)
            self.call = None
        super().take_out_of_service(reason)

    def _outbound_failed(self, reason):
        self._stop_timer()
        if self.cause is None:
            self.cause = cause_for(reason, False, outbound=True)
        super()._outbound_failed(reason)

    def _stop_timer(self):
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None


class PriSpan:
    """One ISDN span's D-channel: its libpri controller and its B-channels
    (see the module's docstring).  `settings`: its PriSettings; `e1`:
    whether it is an E1 (channels numbered by timeslot, A-law)."""

    def __init__(self, device, span, settings, driver, clock, e1):
        self.name = device                # the D-channel's device: dtiB1D
        self.span = span
        self.settings = settings
        self.driver = driver
        self.clock = clock
        self.e1 = e1
        self.trunks = {}                  # B-channel number -> PriTrunk (ours, in a group)
        self.owner = {}                   # PriCall -> the PriTrunk it is on
        self.tracers = []                 # callables(frame, outgoing): traces running
        self.config_errors = []           # libpri's texts (the last few)
        self.far_causes = Counter()       # Q.850 cause -> calls the far end cleared with it
        self.removed = False              # its board unplugged: no frame sent again
        self.machine = DCHANNEL.machine(clock, device, on_change=self._changed)
        self.link = PriLink(device, settings.node, settings.switchtype, clock,
                            send=self._send, on_event=self._event, overlap=settings.overlap)
        self.link.trace = self._trace

    @property
    def state(self):
        return self.machine.state

    @property
    def up(self):
        """Calls can be signalled: layer 2 established, its board there."""
        return self.state == "up"

    def add(self, trunk):
        """A B-channel of ours; out of service until the D-channel is up."""
        self.trunks[trunk.bchannel] = trunk
        if not self.up:
            trunk.machine.fire("out_of_service", reason="D-channel not up yet")

    def handle(self, event):
        """A board event of the D-channel: a frame that arrived, or its
        board removed (the alarm "removed")."""
        if event.kind == "dchannel_frame":
            self.link.receive(event.data["frame"])
        elif (event.kind == "alarm" and event.data["alarm"] == REMOVED_ALARM
              and event.data["raised"]):
            self._removed()

    def _removed(self):
        """The D-channel's board was unplugged: a D-channel lost for good,
        said once.  It is down at once (idle B-channels out of service);
        libpri, sending into nothing (frames dropped, not tried), finds
        layer 2 lost and runs T309 for the active calls as on any loss."""
        if self.removed:
            return
        self.removed = True
        reason = f"D-channel down: {LINE_ALARMS[REMOVED_ALARM]}"
        log.error("{dchannel}: {reason}: no frame is sent on it until the board is plugged "
                  "back and the server restarted", dchannel=self.name, reason=reason)
        self.machine.fire("removed", reason=reason)
        self._out_of_service(reason)

    def _out_of_service(self, reason):
        for trunk in list(self.trunks.values()):
            if trunk.state == "idle":
                trunk.machine.fire("out_of_service", reason=reason)

    def forget(self, call):
        self.owner.pop(call, None)
        self.link.destroy(call)

    def _send(self, frame):
        if self.removed:                # nowhere to send it
            return
        try:
            self.driver.dchannel_send(self.name, frame)
        except Exception as e:           # a frame lost is what layer 2 recovers from
            log.warn("{dchannel}: a frame could not be sent: {e}", dchannel=self.name, e=e)

    def _trace(self, frame, outgoing):
        for tracer in list(self.tracers):
            tracer(frame, outgoing)

    def _changed(self, machine, transition):
        log.info("{dchannel}: {t}", dchannel=self.name, t=transition)

    # -- libpri's events -------------------------------------------------------
    def _event(self, event):
        kind = event.kind
        if kind == "dchannel_up":
            self.machine.fire_if("up")
            for trunk in list(self.trunks.values()):
                if trunk.span is None or trunk.span.in_service:
                    trunk.back_in_service()
        elif kind == "dchannel_down":
            self.machine.fire_if("down")
            self._out_of_service("D-channel down")
        elif kind == "config_error":
            self.config_errors = (self.config_errors + [event.text])[-5:]
            self.machine.fire_if("config_error", text=event.text)
        elif kind == "restart":
            self._restart(event.channel)
        elif kind == "setup":
            self._setup(event)
        elif kind == "information":
            trunk = self.owner.get(event.call)
            if trunk is not None:
                trunk.information(event)
        elif kind in ("proceeding", "alerting", "progress", "connect", "setup_ack"):
            trunk = self.owner.get(event.call)
            if trunk is not None:
                trunk.progress(event)
        elif kind in ("disconnect", "release"):
            self._cleared(event)
        elif kind == "release_complete":
            trunk = self.owner.pop(event.call, None)
            if trunk is not None:
                trunk.release_complete()

    def _cleared(self, event):
        trunk = self.owner.get(event.call)
        if event.cause is not None and trunk is not None and trunk.state != "clearing":
            self.far_causes[event.cause] += 1
        if trunk is None:                       # a call of ours no longer: answered, gone
            if event.call is not None:
                self.link.hangup(event.call, event.cause or CAUSE_NORMAL)
            return
        trunk.far_cleared(event)

    def _setup(self, event):
        trunk = self._channel_for(event)
        if isinstance(trunk, int):
            log.warn("{dchannel}: SETUP for channel {channel} refused (cause {cause})",
                     dchannel=self.name, channel=event.channel, cause=trunk)
            self.link.refuse(event.call, trunk)
            return
        trunk.setup(event)

    def _channel_for(self, event):
        """The trunk an incoming SETUP takes, or the cause it is refused with."""
        wanted = self.trunks.get(event.channel) if event.channel is not None else None
        if wanted is not None and wanted.state == "seizing" and self.settings.node == "cpe":
            wanted.give_way()                   # a glare: the network's call wins
        if wanted is not None and wanted.state == "idle":
            return wanted
        if event.exclusive and event.channel is not None:
            return CAUSE_CHANNEL_UNAVAILABLE
        idle = [t for t in self.trunks.values() if t.state == "idle"]
        return idle[0] if idle else CAUSE_NO_CIRCUIT

    def _restart(self, channel):
        self.machine.fire("restart", channel=channel)
        trunks = self.trunks.values() if channel is None else [
            t for t in (self.trunks.get(channel),) if t is not None]
        what = "the interface" if channel is None else f"channel {channel}"
        for trunk in list(trunks):
            trunk.restarted(f"restarted by the network (RESTART of {what})")

    def snapshot(self):
        return {"device": self.name, "kind": "dchannel", "span": self.span,
                "state": self.state, "since": self.machine.since,
                "node": self.settings.node, "switchtype": self.settings.switchtype,
                "configErrors": list(self.config_errors),
                "farCauses": {str(c): n for c, n in sorted(self.far_causes.items())},
                "calls": sum(1 for t in self.trunks.values() if t.call is not None),
                "tracing": len(self.tracers),
                "history": self.machine.describe_history()[-10:]}


class PriSpans:
    """Every ISDN span's PriSpan by D-channel device; board events of a
    D-channel go to its span (`handle`, subscribed to the driver)."""

    def __init__(self):
        self.by_dchannel = {}

    def add(self, span):
        self.by_dchannel[span.name] = span
        return span

    def __iter__(self):
        return iter(self.by_dchannel.values())

    def get(self, name):
        return self.by_dchannel.get(name)

    def handle(self, event):
        span = self.by_dchannel.get(event.device)
        if span is not None:
            span.handle(event)

