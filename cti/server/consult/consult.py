# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_consult -*-
"""Consultations: an agent calls someone about the caller (another agent,
an agent of a queue, an outside number), then transfers, conferences, or
goes back to the caller.

    ConsultationCall {call, agent}    the caller is held (music); a second,
                     {call, queue}    internal call (`consultCall`) rings
                     {call, number}   the other agent's phone; or waits in
                     {call, flow}     the queue like any call until the ACD
                                      gives it one of the queue's agents (the
                                      consulting agent hears the queue's
                                      music); or goes out to the number (the
                                      agent hears it ring); or, for a flow,
                                      the caller goes through the flow (to
                                      pay, to confirm...) while the agent
                                      waits with music, and comes back when
                                      the flow releases it
    TransferCall {call, consultCall}  the caller goes to the consulted party,
                                      the first agent to wrap-up
    ConferenceCall {...}              the caller and both talk (a conference
                                      of up to MAX_PARTIES)
    ReconnectCall {...}               the consultation ends, the caller is
                                      back with the first agent

What real phones do is kept: the consulted party hanging up is a
reconnect, and so is a consultation that does not connect (rung out,
busy, the queue's max wait); the consulting agent hanging up completes
the transfer (on answer, if the other end still rings or waits).  In a
conference with an outside party, the agent who hangs up leaves the
caller and the outside party talking.

A flow consultation has no second party to talk with: the flow drives
the caller's own call (RouteRequest, its prompts and digits, SetCallData
seen by the agent as AttachedDataChanged), and its end (ClearConnection,
the flow server silent or gone) or ReconnectCall brings the caller back
to the agent; TransferCall leaves the caller in the flow, as a blind
transfer to it would.

A blind transfer to an agent (SingleStepTransferCall with `agent`) is a
consultation whose first agent left at once, and whose ringing call is
the caller's own: it completes when the other agent answers, and if the
phone rings out the caller goes back to the queue it came from.  A flow's
RouteSelect to an `extension` (an agent's code: its phone, wherever the
agent is logged in) rings the agent the same way, for a caller no agent
has yet (cti.server.consult.extension); rung out, the flow has it again.

The consulted agent is reserved through the ACD, as a direct call
(ACD.offer_direct) or as the queue's call, so it is offered nothing else
while its phone rings; a queue's agent who answers a consultation gets
the queue's wrap-up after it, as after any of the queue's calls.  In a
conference, every agent but the one who owns the call is a member; a
member hanging up leaves, the owner hanging up hands the call to the
first member, and the caller hanging up ends it for everyone.

Transferring and conferencing (the consulted party joining the caller's
call) is cti.server.consult.joining (`Joining`, `Consultations.joining`).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.consult.joining import Joining
from cti.server.errors import (
    ACDError,
    InvalidField,
    InvalidState,
    NoSuchObject,
    OutboundFailed,
    QueueFull,
    ResourceBusy,
    TalkError,
    exactly_one,
)
from cti.server.interfaces import ICallEnding, IHolds
from cti.statemachine import Table

if TYPE_CHECKING:
    from twisted.internet.base import DelayedCall

    from cti.server.core.call import TrunkCall
    from cti.server.core.model import Call
    from cti.server.lines.channels import Channel, Station
    from cti.server.lines.talk import Talk
    from cti.server.queueing.state import AgentState
    from cti.statemachine import Machine

log = Logger()

#: The most parties of one call (caller included), as the boards allow.
MAX_PARTIES = 8
#: How long a consulted agent's phone rings when neither the agent nor a queue says.
CONSULT_RING_S = 15.0


#: A consultation's life: what it started as, answered, and how it ended.
#: The consulted party is on the line in `talking` (a flow is at once:
#: `in_flow`); a consultation that ends without a transfer is `over`.
CONSULTATION = Table("consultation", initial="starting", transitions=[
    ("starting", "ring", "ringing"),          # an agent's phone rings (by name)
    ("starting", "queue", "queued"),          # it waits in a queue for one of its agents
    ("starting", "dial", "dialing"),          # an outside number is placed
    ("starting", "flow", "in_flow"),          # the caller goes through a flow
    ("ringing", "answer", "talking"),
    ("queued", "answer", "talking"),
    ("dialing", "answer", "talking"),
    ("talking", "transfer", "transferred"),   # the caller to the consulted party
    ("in_flow", "transfer", "transferred"),   # the caller stays in the flow
    ("talking", "conference", "conferenced"),
    ("starting", "end", "over"),              # never started (join_empty)
    ("ringing", "end", "over"),               # rang out, rejected, the caller left...
    ("queued", "end", "over"),
    ("dialing", "end", "over"),
    ("talking", "end", "over"),               # reconnected, the consulted hung up
    ("in_flow", "end", "over"),               # the flow let the caller go
])


@dataclass(eq=False)
class Consultation:
    caller_call: TrunkCall        # the caller's call (what it is about)
    call: Call                    # the internal call; blind: the caller's own call,
                                  # delivered to the station
    by: AgentState | None         # the consulting agent (None: a supervisor's own call)
    by_station: str | None        # its phone; None: a blind transfer, or it hung up
    to: AgentState | None = None  # the consulted agent (a queue's: once one answers)
    station: Station | None = None
    queue: str | None = None      # consulting a queue
    number: str | None = None     # consulting an outside number...
    trunk: Channel | None = None  # ...on this trunk, once seized
    flow: str | None = None       # consulting a flow
    talk: Talk | None = None      # the consulting agent and the consulted, once answered
    timer: DelayedCall | None = None   # an agent's ring timeout
    done: defer.Deferred | None = None   # blind: fired on answer, failed
                                  # (OutboundFailed) when it will not be
    why: str = ""                 # why it ended without a transfer
    held_here: bool = False       # it put the caller on hold (else it was already)
    left_removed: str = ""        # the consulting agent left as its phone went (the cause)
    phase: Machine | None = None  # a CONSULTATION machine

    @property
    def answered(self):
        """The consulted party is on the line (a flow is, at once)."""
        return self.phase.state in ("talking", "in_flow")

    @property
    def over(self):
        return self.phase.state == "over"

    def stop_timer(self):
        """The consulted phone's ring timeout, if it runs."""
        if self.timer is not None and self.timer.active():
            self.timer.cancel()
        self.timer = None

    @property
    def blind(self):
        return self.done is not None

    @property
    def party(self):
        """The consulted device: the phone, the trunk to the number, the flow."""
        if self.flow is not None:
            return f"routepoint:{self.flow}"
        return self.station.name if self.station is not None else self.trunk.name

    @property
    def target(self):
        """Who is consulted, as Transferred's `transferredTo` says it."""
        if self.number is not None:
            return f"number:{self.number}"
        if self.flow is not None:
            return self.party
        if self.to is None:
            return f"queue:{self.queue}"
        return self.station.name


@implementer(ICallEnding, IHolds)
class Consultations:
    part = "the consultation"  # what a failed release names (ICallEnding)

    def __init__(self, layer, acd):
        self.layer = layer           # ICallLayer
        self.acd = acd
        self.desk = self.agents = self.dialer = self.ivr = self.queueing = None  # assembly
        self.by_call = {}            # caller's call id -> Consultation
        self.by_station = {}         # consulted (or ringing) station -> Consultation
        self.queued = {}             # a queue consultation's call id -> Consultation
        self.joining = Joining(self)  # TransferCall, ConferenceCall

    def _all(self):
        return {id(c): c for c in (*self.by_call.values(), *self.by_station.values(),
                                   *self.queued.values())}.values()

    def consulting(self, call):
        """Whether a consultation is made about the call (it holds it)."""
        return call.id in self.by_call

    def calls_held(self):
        """The ids of the consultations' calls (cti.server.core.sweep)."""
        return {c.call.id for c in self._all()}

    def trunks_held(self):
        """The trunks of consultations to a number."""
        return {c.trunk.name for c in self._all() if c.trunk is not None}

    def stations_held(self):
        """The phones consulting and consulted."""
        return set(self.by_station) | {c.by_station for c in self._all() if c.by_station}

    # -- starting --------------------------------------------------------------
    def consultation_call(self, actor, call_id, targets):
        """ConsultationCall: `targets` holds agent, queue, number and flow,
        exactly one of them given (checked once the call is)."""
        call = self.desk.connected_call(actor, call_id)
        kind = exactly_one("ConsultationCall", targets, ("agent", "queue", "number", "flow"),
                           field="agent")
        if kind == "agent":
            consult = self.start(call, targets["agent"], blind=False, cause=actor.cause)
        elif kind == "queue":
            consult = self._start_queue(call, targets["queue"], actor.cause)
        elif kind == "number":
            consult = self._start_number(call, targets["number"], actor.cause,
                                         self.dialer.caller_of(actor))
        else:
            consult = self._start_flow(call, targets["flow"], actor.cause)
        return {"call": call.id, "consultCall": consult.call.id}

    def _check_room(self, call):
        if call.id in self.by_call:
            raise InvalidState(f"call {call.id} has a consultation already "
                               f"({self.by_call[call.id].call.id})", object="call", id=call.id)
        if len(call.talk.parties) + 1 > MAX_PARTIES:
            raise ResourceBusy(f"call {call.id} has {MAX_PARTIES} parties",
                               object="call", id=call.id)

    def _new_call(self, call, dnis):
        """The consultation's own call, from the agent's phone (or the
        supervisor's, on a call it took over); it carries the caller's
        attached data, for the consulted party's screen."""
        by = call.agent.id if call.agent is not None else call.intercepted_by
        consultation = self.layer.model.new_call(call.station.name, ani=by, dnis=dnis,
                                                 direction="internal")
        consultation.made_by = by
        consultation.data.update(call.call.data)
        return consultation

    def _new_consultation(self, kind, *fields, **more):
        """A new Consultation, started as `kind` (ring, queue, dial, flow)."""
        consult = Consultation(*fields, **more)
        consult.phase = CONSULTATION.machine(self.layer.clock, consult.call.id)
        consult.phase.fire(kind)
        return consult

    def _begin(self, consult, cause):
        """The caller is held (unless it was already: `held_here` says) and
        the agent's phone is the consultation's.  The boards refusing that
        (a TalkError) refuse the consultation whole (`_refused`)."""
        call = consult.caller_call
        self.by_call[call.id] = consult
        try:
            if not call.held:
                self.desk.hold(call, cause)
                consult.held_here = True
            if consult.by_station is not None:
                call.talk.drop(consult.by_station)
        except TalkError as e:
            self._refused(consult, e, cause)
        if consult.by_station is not None:
            self.layer.model.connect(consult.call, consult.by_station, "initiated", cause=cause)

    def _refused(self, consult, error, cause, fed=False):
        """A consultation the boards refused as it began (the caller's
        hold, the agent's phone taken out, or (`fed`) the caller's route to
        the flow's voice): nothing of it is left (no agent reserved, no
        call of its own, nothing queued) and the caller is back as it was,
        with the agent, or still on hold if it was; ResourceBusy saying why."""
        why = f"the boards refused the caller's audio: {error}"
        consult.why = why
        self.forget(consult)
        if consult.to is not None:
            self.acd.withdraw_direct(consult.to.id, why, None, cause=cause)
        if not consult.blind:
            self.layer.model.clear_call(consult.call, why, cause=cause)
        call = consult.caller_call
        try:
            if fed:
                call.talk.unfeed()
            if consult.by_station is not None and consult.by_station not in call.talk.parties:
                call.talk.set(consult.by_station, "talk")
            if consult.held_here:
                self.desk.retrieve(call, cause)
        except TalkError as e:
            log.error("call {call}: the caller could not be put back, it stays on hold "
                      "(RetrieveCall): {error}", call=call.id, error=e)
        raise ResourceBusy(f"cannot start the consultation: {why}")

    def start(self, call, agent_id, blind, cause=None, ring_s=None):
        """Ring `agent_id` about the call: a consultation, or (`blind`) a
        transfer that completes on answer (its `done` says how it went)."""
        self._check_room(call)
        target = self.agents.named(agent_id)
        if target is call.agent or any(m is target for m, _ in call.members):
            raise InvalidField(f"agent {agent_id} is on this call already",
                               field="agent")
        station = self.layer.channels.by_name.get(target.station) if target.station else None
        if station is None or station.state not in ("onhook", "offhook"):
            raise InvalidState(f"agent {agent_id} is {target.state} and "
                               "cannot take a call", object="agent", id=agent_id)
        if blind:                                    # the caller's call itself rings
            by, by_station, ringing = None, None, call.call
        else:
            by, by_station, ringing = call.agent, call.station.name, self._new_call(call, target.id)
        try:
            self.acd.offer_direct(target.id, ringing, cause=cause)
        except ACDError as e:
            if not blind:
                self.layer.model.clear_call(ringing, "not offered")
            raise ACDError(e.code, str(e), object="agent", id=agent_id) from None
        consult = self._new_consultation("ring", call, ringing, by, by_station, target, station,
                                     done=defer.Deferred() if blind else None)
        self.by_station[station.name] = consult
        self._begin(consult, cause)
        if by_station is not None:
            self.layer.channels[by_station].tone("ringback")
        self.layer.model.connect(ringing, station.name, "alerting", cause=cause, agent=target.id)
        self.queueing.ring(station, target)
        if ring_s is None:
            ring_s = self.acd.ring_s(target, call.queue) or CONSULT_RING_S
        consult.timer = self.layer.clock.callLater(ring_s, self._rang_out, consult)
        return consult

    def _start_queue(self, call, name, cause):
        """The consultation waits in queue `name` for one of its agents."""
        self._check_room(call)
        if self.layer.config.queue(name) is None:
            raise NoSuchObject(f"no queue {name!r}", object="queue", id=name)
        if self.acd.full(name):
            raise QueueFull(f"queue {name} is full", object="queue", id=name)
        consult = self._new_consultation("queue", call, self._new_call(call, f"queue:{name}"),
                                     call.agent, call.station.name, queue=name)
        self.queued[consult.call.id] = consult
        self._begin(consult, cause)
        self.layer.model.connect(consult.call, f"queue:{name}", "queued", cause=cause,
                                 priority=self.layer.config.queue(name).priority)
        music = self.queueing.queue_music(name) or self.queueing.hold_music(call)
        self.layer.moh.join(consult.by_station, music)
        try:
            self.acd.enqueue(consult.call, name, cause=cause)
        except ACDError as e:                        # join_empty: nobody could answer
            self._end(consult, str(e), cause)
            self._back_to_caller(consult, cause)
            raise ACDError(e.code, str(e), object="queue", id=name) from None
        return consult

    def _start_number(self, call, number, cause, caller):
        """The consultation goes out to `number` (for `caller`: its class of
        service); the agent hears it ring."""
        self.dialer.check_number("ConsultationCall", number, caller)
        self._check_room(call)
        consult = self._new_consultation("dial", call, self._new_call(call, number), call.agent,
                                     call.station.name, number=number)
        consult.call.direction = "outbound"
        self._begin(consult, cause)
        self._dial(consult, cause, caller)
        return consult

    def _start_flow(self, call, flow, cause):
        """The caller goes through `flow`, hearing the call's voice resource;
        the agent waits with music."""
        self._check_room(call)
        if flow not in self.ivr.flow_names():
            raise NoSuchObject(f"no flow {flow!r} (flows: "
                               f"{', '.join(sorted(self.ivr.flow_names())) or 'none'})",
                               object="flow", id=flow)
        if call.voice is None:
            raise ResourceBusy(f"call {call.id} has no voice resource for "
                               "the flow", object="call", id=call.id)
        session = self.ivr.next_session()
        if session is None:
            raise ResourceBusy("no flow server is connected")
        consult = self._new_consultation("flow", call, self._new_call(call, f"routepoint:{flow}"),
                                     call.agent, call.station.name, flow=flow)
        self._begin(consult, cause)
        try:
            call.talk.feed(call.voice)
        except TalkError as e:
            self._refused(consult, e, cause, fed=True)
        self.layer.moh.join(consult.by_station, self.queueing.hold_music(call))
        self.ivr.start(call, flow, session, cause)
        return consult

    def flow_over(self, call, why):
        """The flow's part of a flow consultation ended (the flow released
        the caller, its server is silent or gone): back to the agent."""
        consult = self.by_call.get(call.id)
        if consult is not None:
            self._end(consult, why)
            self._back_to_caller(consult)

    @defer.inlineCallbacks
    def _dial(self, consult, cause, caller):

        def seized(trunk):
            if consult.trunk is not None:            # that one failed: the next
                self.layer.model.clear(consult.call, consult.trunk.name, "not connected")
            consult.trunk = trunk
            if consult.by_station is not None:
                self.dialer.hear_progress(consult.by_station, trunk)
            self.layer.model.connect(consult.call, trunk.name, "alerting", cause=cause,
                                     number=consult.number)
        try:
            trunk = yield self.dialer.place(consult.number, caller, seized)
        except OutboundFailed as e:
            if not consult.over:
                log.info("call {call}: the consultation with {number} failed: {reason}",
                         call=consult.caller_call.id, number=consult.number, reason=e.reason)
                self._end(consult, e.reason)
                self._back_to_caller(consult)
            return
        if consult.over:                             # given up meanwhile
            self.dialer.free(trunk, "the consultation ended")
            return
        far = self.dialer.connected(trunk, lambda reason: self._far_cleared(consult, reason))
        consult.phase.fire("answer", number=consult.number)
        self.layer.model.connect(consult.call, trunk.name, "connected", cause=cause,
                                 number=consult.number)
        if consult.by_station is None:               # its agent hung up: transfer on answer
            self.joining.transfer(consult)
            return
        self.layer.bus.release(consult.by_station)
        consult.talk = self.layer.talk_with(consult.by_station)
        consult.talk.set(far, "talk")
        self.layer.model.connect(consult.call, consult.by_station, "connected", cause=cause)

    def _far_cleared(self, consult, reason):
        """The outside party of a consultation hung up: back to the caller."""
        if consult.over:
            return
        self._end(consult, f"far end cleared ({reason})")
        self._back_to_caller(consult)

    # -- the ACD's owner interface, for queue consultations ------------------------
    def offered(self, entry, agent):
        """The ACD offers a queue consultation to `agent`: True if it was one."""
        consult = self.queued.get(entry.call.id)
        if consult is None:
            return False
        station = self.layer.channels[agent.station]
        self.by_station[station.name] = consult
        self.layer.model.connect(consult.call, station.name, "alerting", cause=self.acd.cause,
                                 agent=agent.id, queue=consult.queue)
        self.queueing.ring(station, agent)
        return True

    def withdrawn(self, entry, station):
        """The offer of a queue consultation to `station` is over (its phone
        stopped ringing already)."""
        consult = self.queued.get(entry.call.id)
        if consult is None or consult.station is station:
            return
        if self.by_station.get(station.name) is consult:
            del self.by_station[station.name]
        if station.name in consult.call.connections:
            self.layer.model.clear(consult.call, station.name, "answered elsewhere"
                                   if entry.agent is not None else "not answered")

    def queue_exit(self, entry, why):
        """A queue consultation left the queue unanswered (max wait...)."""
        consult = self.queued.get(entry.call.id)
        if consult is not None:
            self._end(consult, why)
            self._back_to_caller(consult)

    # -- the consulted phone --------------------------------------------------------
    def station_answered(self, station):
        """True when the station was a consulted one (and it is now answered)."""
        consult = self.by_station.get(station.name)
        if consult is None or consult.answered:
            return consult is not None
        self._answered(consult, station)
        return True

    def answer(self, actor, agent):
        """AnswerCall from a consulted agent on a headset; True if it was one."""
        consult = self.by_station.get(agent.station)
        if consult is None or consult.answered or consult.to not in (None, agent):
            return False
        station = self.layer.channels[agent.station]
        station.connect()
        self._answered(consult, station, actor.cause)
        return True

    def _answered(self, consult, station, cause=None):
        consult.stop_timer()
        station.tone(None)
        if consult.queue is not None:                # the ACD's call: one agent has it now
            consult.to, consult.station = self.acd.agent_at(station.name), station
            self.acd.answered(consult.to.id, cause=cause)
            if consult.by_station is not None:
                self.layer.moh.leave(consult.by_station)
            self.layer.model.clear(consult.call, f"queue:{consult.queue}", "answered", cause=cause)
        else:
            self.acd.answered_direct(consult.to.id, cause=cause)
        consult.phase.fire("answer", agent=consult.to.id)
        if consult.blind:                            # straight to the caller
            self.joining.transfer(consult, cause)
            consult.done.callback(consult)
            return
        self.layer.model.connect(consult.call, station.name, "connected", cause=cause,
                                 agent=consult.to.id)
        if consult.by_station is None:               # its agent hung up: transfer on answer
            self.joining.transfer(consult, cause)
            return
        self.layer.channels[consult.by_station].tone(None)
        consult.talk = self.layer.talk_with(consult.by_station)
        consult.talk.set(station.name, "talk")
        self.layer.model.connect(consult.call, consult.by_station, "connected", cause=cause)

    def station_no_answer(self, station, pause=None):
        """An agent's consulted phone rang out (`pause`: gone with its
        board, the agent's not-ready reason): True if it was one (a
        queue's rings out through the ACD, which offers it to the next)."""
        consult = self.by_station.get(station.name)
        if consult is None or consult.answered or consult.queue is not None:
            return False
        self._rang_out(consult, pause)
        return True

    def _rang_out(self, consult, pause=None):
        """The consulted phone rang out: its own ring, or our ring timeout
        (the other one is stopped: the consultation ends once)."""
        consult.stop_timer()
        log.info("call {call}: agent {agent} did not answer the consultation",
                 call=consult.caller_call.id, agent=consult.to.id)
        self._end(consult, "not answered", reason="no_answer", pause=pause)
        self._back_to_caller(consult)

    # -- completing ------------------------------------------------------------------
    def lookup(self, actor, call_id, consult_call_id):
        call = self.desk.connected_call(actor, call_id)
        consult = self.by_call.get(call.id)
        if consult is None or consult.call.id != consult_call_id:
            raise NoSuchObject(f"no consultation {consult_call_id!r} on call {call.id}",
                               object="call", id=consult_call_id)
        return consult

    def outside_left(self, call, trunk, reason, ending=None, released_by="far_end"):
        """An outside party of a call (on `trunk`: a number conferenced in,
        or the one the caller was sent out to) hung up: alone with the
        caller, the call ends (`ending` says why, else "the far end
        cleared"); with others still on it, it leaves the call."""
        if call.state != "talking" or trunk not in call.outside:
            return
        if call.agent is None and not call.members and len(call.outside) == 1:
            self.layer.finish(call, released_by, ending or f"the far end cleared ({reason})")
            return
        call.outside.remove(trunk)
        try:
            call.talk.drop(trunk.endpoint)
        except TalkError as e:              # a board gone meanwhile: its removal comes next
            log.error("call {call}: {trunk} left, but the others' audio could not be put "
                      "back: {error}", call=call.id, trunk=trunk.name, error=e)
        self.dialer.free(trunk, reason)
        self.layer.model.clear(call.call, trunk.name, f"far end cleared ({reason})")

    def reconnect_call(self, actor, call_id, consult_call_id):
        consult = self.lookup(actor, call_id, consult_call_id)
        self._end(consult, "reconnected", actor.cause)
        self._back_to_caller(consult, actor.cause)
        return {"call": consult.caller_call.id}

    # -- ending -------------------------------------------------------------------
    def _end(self, consult, why, cause=None, reason=None, pause=None):
        """The consultation is over without a transfer: the consulted party
        is let go (a blind one's `done` fails with `reason`, else `why`;
        a consulted agent whose phone rang is not ready for `pause`)."""
        answered = consult.answered
        consult.phase.fire("end", why=why)
        consult.why = reason or why
        consult.stop_timer()
        if consult.talk is not None:
            consult.talk.end()
        if consult.flow is not None:                 # the flow lets go of the caller
            self.ivr.leave(consult.caller_call, why)
            try:
                consult.caller_call.talk.unfeed()
            except TalkError as e:                   # it ends all the same
                log.error("call {call}: the caller could not be taken from the flow's "
                          "voice: {error}", call=consult.caller_call.id, error=e)
            self.layer.moh.leave(consult.by_station)
        if consult.queue is not None and consult.to is None:
            self.acd.abandon(consult.call)              # its phones stop ringing
            if consult.by_station is not None:
                self.layer.moh.leave(consult.by_station)
        elif consult.to is not None and answered:
            self.acd.call_ended(consult.to.id, "agent", cause=cause)
            if consult.station.state == "talking":
                consult.station.hang_up()
        elif consult.to is not None:
            consult.station.stop_ring()
            consult.station.tone(None)
            self.acd.withdraw_direct(consult.to.id, why, pause, cause=cause)
        if consult.trunk is not None and (answered or self.dialer.holds(consult.trunk)):
            self.dialer.free(consult.trunk, why)       # answered: ours, even once it cleared
        self.forget(consult)
        if consult.by_station is not None:
            self.layer.channels[consult.by_station].tone(None)
            if consult.trunk is not None and self.layer.bus.connection_of(consult.by_station):
                self.layer.bus.release(consult.by_station)   # it heard the number ring
        if consult.blind:                            # the caller's call leaves the phone
            if consult.station.name in consult.call.connections:
                self.layer.model.clear(consult.call, consult.station.name, why, cause=cause)
        else:
            self.layer.model.clear_call(consult.call, why, cause=cause)
        if consult.blind and not consult.done.called:
            consult.done.errback(OutboundFailed(consult.station.name, reason or why))

    def _back_to_caller(self, consult, cause=None):
        """A consultation ended without a transfer: the caller is back with
        the one who consulted; if it hung up meanwhile (to transfer on
        answer), with someone still on the call (a conference's member, an
        outside party) the caller is back with them; with nobody, the
        transfer failed (Desk.transfer_failed), or, the consulting phone
        gone with its board (`left_removed`), the call ends with that cause
        whichever of the board's phones went first.  The consulting phone gone
        with its board ends the caller's call with that reason, as the
        phone's removal does for any call it is on; one whose removal is
        not read yet refuses the caller's audio (the call stays on hold)
        and its removal, read next, ends the call so."""
        call = consult.caller_call
        if consult.blind or call.state != "talking" or call.talk is None:
            return
        if consult.by_station is None:
            if call.station is None and not call.outside and consult.left_removed:
                self.layer.finish(call, "agent", consult.left_removed, cause)
            elif call.station is None and not call.outside:
                self.desk.transfer_failed(call, consult.target, consult.why)
            else:
                self.desk.retrieve(call, cause, announce=False)
            return
        phone = self.layer.channels[consult.by_station]
        removed = phone.removal_cause()
        if removed is not None:
            self.layer.finish(call, "agent", removed, cause)
            return
        try:
            call.talk.set(consult.by_station, "talk")
            self.desk.retrieve(call, cause)
        except TalkError as e:
            log.error("call {call}: the caller could not be put back with {station}, it "
                      "stays on hold (RetrieveCall, or the phone's removal ends it): "
                      "{error}", call=call.id, station=consult.by_station, error=e)

    def hang_up(self, station, cause=None, reason=None):
        """A phone in a consultation hangs up (on-hook, ClearConnection, or
        gone with its board: `reason`): True if it was one."""
        consult = self.by_station.get(station.name)
        if consult is not None and consult.answered:       # the consulted: reconnect
            self._end(consult, reason or "consulted agent hung up", cause)
            self._back_to_caller(consult, cause)
            return True
        if consult is not None:                            # the consulted rejects it
            if consult.queue is not None:
                self.acd.no_answer(self.acd.agent_at(station.name), cause=cause)
            else:
                self._end(consult, "rejected", cause, reason="rejected")
                self._back_to_caller(consult, cause)
            return True
        for consult in list(self.by_call.values()):
            if consult.by_station == station.name:           # the consulting: transfer
                if consult.answered:
                    self.joining.transfer(consult, cause)
                else:                                        # on answer
                    if consult.queue is not None:
                        self.layer.moh.leave(station.name)
                    elif consult.trunk is not None and self.layer.bus.connection_of(station.name):
                        self.layer.bus.release(station.name)
                    station.tone(None)
                    self.desk.leave(consult.caller_call, consult.by, station, "transferred", cause)
                    consult.by = consult.by_station = None
                    consult.left_removed = reason or ""
                    self.layer.model.clear(consult.call, station.name, "transferred on answer")
                return True
        return False

    # -- ICallEnding -------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        """The caller's call ended: a consultation on it ends too."""
        consult = self.by_call.get(call.id)
        if consult is not None and previous in ("placing", "talking"):
            with unwind.step("the consultation"):
                self._end(consult, "the caller hung up")

    def forget(self, consult):
        self.by_call.pop(consult.caller_call.id, None)
        self.queued.pop(consult.call.id, None)
        for name in [s for s, c in self.by_station.items() if c is consult]:
            del self.by_station[name]
