# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_outbound -*-
"""Calls out: on the trunk groups of direction "out" or "both".

`Dialer.place(number)` takes the first idle trunk of the groups the
number's outbound route names, in its order, and seizes it with the
number as the route rewrites it (cti.server.outbound.routes; with no
route configured, of every "out" and "both" group in the order of the
configuration, the number as dialled) (cti.server.lines.channels: E&M
wink start on T1, loop start on analog lines); glare or a trunk that fails
to seize moves on to the next, and a group whose trunks are all busy to
the next group; busy, no answer or an unobtainable number end it.  A
number no route matches is refused as the request comes in
(`check_number`).  Three uses:

    MakeCall {number}                  an agent calls out from its phone
                                       (off-hook: a headset, or the handset
                                       lifted); the agent is busy until the
                                       call ends, then back as it was; once
                                       answered it is a call like a caller's
                                       (hold, transfer, conference, record,
                                       supervise)
    MakeCall {agent}                   the same, to another agent's phone (an
                                       internal call: the other agent must be
                                       ready, and is reserved while it rings;
                                       once answered it is the calling agent's
                                       call like a call out, with the agent
                                       called in the far end's place: see
                                       CalledAgent)
    SingleStepTransferCall {number}    an agent sends its caller out
    RouteSelect {number}               a flow sends its caller out

While the number is dialled the agent hears the network's progress
(ringback, busy); a caller being transferred hears music until the far
end answers, then the two trunks are joined.  A transfer that does not
connect sends the caller back to the queue it came from (or, from the
IVR, fails the RouteSelect so the flow takes its `on_failure`).
"""
from __future__ import annotations

import re
from contextlib import suppress
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.core.call import TrunkCall
from cti.server.core.unwind import Unwind
from cti.server.errors import (
    ACDError,
    Barred,
    InvalidField,
    InvalidState,
    OutboundFailed,
)
from cti.server.interfaces import ICallReleased, IHolds, IOutsideParty
from cti.server.lines.channels import NO_ANSWER_S, NO_OFFHOOK, VOICE_HUNG, Station
from cti.server.outbound.dialing import Caller, DialGuard
from cti.server.outbound.routes import no_route, route_for

if TYPE_CHECKING:
    from twisted.internet.base import DelayedCall

    from cti.server.core.model import Call
    from cti.server.lines.channels import Channel
    from cti.server.queueing.state import AgentState

log = Logger()

#: What may be dialled: digits, * and #, and ',' for a 2 s pause.
NUMBER = re.compile(r"[0-9*#,]{1,32}\Z")


#: How long an internal call rings before it gives up (unless the called
#: agent has a `ring_timeout_s` of its own).
INTERNAL_RING_S = 20.0


@dataclass(eq=False)
class OutboundCall:
    """An agent's own call while it is placed: dialled on a trunk, or
    ringing at another agent's phone (`to`, an internal call).  Answered,
    it becomes a call of the call layer (Dialer.take_call_out)."""

    call: Call
    agent: AgentState
    station: Station
    number: str
    to: AgentState | None = None   # the called agent, for an internal call
    to_station: Station | None = None
    timer: DelayedCall | None = None   # an internal call's ring timeout
    trunk: Channel | None = None
    started_at: float = 0.0
    result: str = ""
    ended: bool = False
    cause: tuple | None = field(default=None, repr=False)   # the MakeCall behind it
    caller: Caller | None = None   # whose class of service it is dialled under


@implementer(IOutsideParty)
class CalledAgent:
    """The agent called on an internal call, once it answered: the call
    layer's outside party (TrunkCall.trunk), in the place a far end on a
    trunk takes on a call out.  The calling agent has the call (hold,
    transfer, conference, recording, supervision); the agent called talks,
    and can hang up.

    Like a trunk it has a voice resource hearing it, borrowed from the
    pool for the call's life: its keys are heard (a request to speak in a
    conference), and if it is sent to a queue or a flow it hears the
    prompts there.  With no voice resource free the call still connects,
    without those."""

    group = None                   # no trunk group
    answered = True                # it answered: that made it the call's party
    ivr_only = None                # its phone is on the bus

    def __init__(self, layer, acd, agent, station):
        self.layer = layer
        self.acd = acd
        self.agent = agent
        self.station = station
        self.name = self.endpoint = station.name   # its bus endpoint is the phone
        pool = layer.channels.voice_pool
        self.voice = pool.take(self) if pool is not None else None
        if self.voice is not None:                   # its keys are heard
            layer.driver.set_digit_types(self.voice, dtmf=True, mf=False)
            layer.driver.clear_digits(self.voice)
            layer.driver.enable_events(self.voice, {"digit"})

    @property
    def called_agent(self):
        return self.agent

    def handle(self, event):
        """Board events of its voice resource: VoicePorts has what matters;
        a hang, the pool is told (it is tested once given back)."""
        if event.kind == "operation_failed":
            self.layer.channels.voice_pool.hung(event)

    def end_call(self, reason, released_by="system", cause=None):
        """The call is over (`reason`; who ended it, as the CDR says): the
        agent called is free, its phone hung up, the voice resource given
        back."""
        if self.voice is not None:
            self.layer.driver.enable_events(self.voice, set())
            self.layer.bus.release(self.voice)
            self.layer.channels.voice_pool.give(self.voice)
            self.voice = None
        self.acd.call_ended(self.agent.id, released_by, cause=cause)
        if self.station.state == "talking":
            self.station.hang_up()

    def set_waiting(self, waiting):
        """Waiting or not, an agent called is not timed for silence: its
        phone's hook says when it hangs up."""


@implementer(ICallReleased, IHolds)
class Dialer:
    part = "the calls out"  # what a failed release names (ICallReleased)

    def __init__(self, layer, acd):
        self.layer = layer         # ICallLayer
        self.acd = acd
        self.agents = self.consults = self.supervisors = self.queueing = None   # assembly
        self.by_trunk = {}         # trunk name -> what to do when it clears (a callable)
        self.outs = {}             # station name -> its agent's OutboundCall
        self.guard = DialGuard(layer.clock, layer.config.dialing, audit=layer.records.audit)
        layer.explain_missing.append(self.check_not_own)

    def caller_of(self, actor, flow=None):
        """Who an actor dials for (cti.server.outbound.dialing.Caller): the agent, the
        supervisor or administrator, or the flow (`flow`) of a flow server."""
        if actor.role == "flow":
            return Caller("flow", flow)
        if actor.role == "agent":
            agent = self.acd.agents.get(actor.user)
            if agent is not None:
                return Caller("agent", agent.id, agent.config.dial_class, agent.config.team)
        user = self.layer.config.user(actor.user)
        return Caller("user", actor.user, user.dial_class if user else None)

    def check_number(self, service, number, caller):
        """`number` is one that may be dialled, by `caller` and now (its class
        of service: cti.server.outbound.dialing), else InvalidField, or Barred
        (audited)."""
        if not NUMBER.match(number):
            raise InvalidField(f"{service}: field 'number' must be 1 to 32 "
                               f"of 0-9, *, # and ',' (a pause); got {number!r}",
                               field="number")
        try:
            self.guard.check(caller, number, service)
        except Barred as e:
            raise Barred(e.reason, f"{service}: {e}", field="number") from None
        routes = self.layer.config.outbound_routes
        if routes and not self.guard.is_emergency(number):     # never refused (route)
            route = route_for(routes, number)
            if route is None:
                raise InvalidField(f"{service}: {no_route(routes, number)}", field="number")
            if not route.dialled(number):
                raise InvalidField(f"{service}: outbound route {route.name} strips "
                                   f"{route.strip} digits from {number}: nothing is left "
                                   "to dial", field="number")

    def route(self, number):
        """(the outbound route `number` takes, the number to dial): (None,
        number) with no route configured; OutboundFailed when none matches
        (check_number refused it already when it came in a request).  An
        emergency number ([dialing] emergency) is dialled as it is, whether
        a route matches it or none does (`trunks`: every group after)."""
        routes = self.layer.config.outbound_routes
        if not routes:
            return None, number
        route = route_for(routes, number)
        if self.guard.is_emergency(number):
            return route, number
        dialled = route.dialled(number) if route is not None else ""
        if not dialled:
            raise OutboundFailed("-", no_route(routes, number) if route is None else
                                 f"outbound route {route.name} leaves nothing of {number} "
                                 "to dial")
        return route, dialled

    def can_route(self, number):
        """Whether a call out to `number` has somewhere to go: always with
        no route configured, else a route that matches it and leaves
        something to dial (a callback offered only then)."""
        try:
            self.route(number)
        except OutboundFailed:
            return False
        return True

    def trunks(self, route=None, everywhere=False):
        """Trunk channels that may carry calls out: those of `route`'s
        groups in its order, or with no route, of every "out" and "both"
        group in configuration order; `everywhere` (an emergency call),
        the route's groups first, then every other group."""
        groups = self.layer.config.trunk_groups
        if route is not None:
            by_name = {g.name: g for g in groups}
            first = [by_name[name] for name in route.trunk_groups if name in by_name]
            groups = first + ([g for g in groups if g not in first] if everywhere else [])
        for group in groups:
            if group.direction in ("out", "both"):
                for name in group.channels:
                    channel = self.layer.channels.by_name.get(name)
                    if channel is not None and hasattr(channel, "seize"):
                        yield channel

    @defer.inlineCallbacks
    def place(self, number, caller, on_seized=None, no_answer_s=NO_ANSWER_S):
        """The connected trunk, or OutboundFailed (the last reason); the
        far end rings at most `no_answer_s`.  `caller` (checked already:
        check_number) is counted while the trunk is taken."""
        route, dialled = self.route(number)
        emergency = self.guard.is_emergency(number)
        if route is not None and not emergency:
            log.info("outbound {number}: route {route} ({groups}), dialled as {dialled}",
                     number=number, route=route.name, groups=", ".join(route.trunk_groups),
                     dialled=dialled)
            reason = (f"no trunk free for calls out in {', '.join(route.trunk_groups)} "
                      f"(outbound route {route.name})")
        else:
            reason = "no trunk free for calls out"
        tried = 0
        for trunk in self.trunks(route, everywhere=emergency):
            if trunk.state != "idle" or trunk.name in self.by_trunk:
                continue
            self.by_trunk[trunk.name] = None             # taken
            self.guard.placed(caller, trunk.name, new_call=tried == 0)
            tried += 1
            try:
                if on_seized is not None:
                    on_seized(trunk)
                trunk = yield trunk.seize(dialled, no_answer_s)
                return trunk
            except Exception as e:            # the trunk is not ours, whatever failed
                self.by_trunk.pop(trunk.name, None)
                self.guard.ended(trunk.name)
                if not isinstance(e, OutboundFailed):
                    log.failure("outbound {number}: seizing {trunk} failed", number=number,
                                trunk=trunk.name)
                    with suppress(Exception):
                        trunk.release("the seizure failed")
                    raise OutboundFailed(trunk.name, f"the board failed seizing {trunk.name}: "
                                         f"{e}") from None
                reason = e.reason
                span_down = trunk.span is not None and not trunk.span.in_service
                if e.reason not in ("glare", "no wink", "no voice resource free",
                                    "no_dial_tone", VOICE_HUNG) and not span_down \
                        and not e.reason.startswith(NO_OFFHOOK):
                    raise
                log.info("outbound {number}: {trunk} {reason}; trying the next trunk",
                         number=number, trunk=trunk.name, reason=e.reason)
        raise OutboundFailed("-", reason)

    def trunk_released(self, trunk, reason):
        """The far end of a call out cleared: True if the trunk was ours."""
        if trunk.name not in self.by_trunk:
            return False
        on_clear = self.by_trunk.pop(trunk.name)
        self.guard.ended(trunk.name)
        if on_clear is not None:
            on_clear(reason)
        return True

    def holds(self, trunk):
        """Whether `trunk` is a call out's still: a seizure that failed (busy,
        glare: an incoming call has it now) has given it back already."""
        return trunk.name in self.by_trunk

    def free(self, trunk, reason):
        """Release a call out's trunk (our side ends it, or after the far end)."""
        self.by_trunk.pop(trunk.name, None)
        self.guard.ended(trunk.name)
        if trunk.voice == trunk.name:              # analog: its power-on route again
            self.layer.bus.release(trunk.voice)
            self.layer.bus.route(trunk.voice, trunk.endpoint)
        trunk.release(reason)

    def hear_progress(self, station, trunk):
        """While `trunk` dials, the phone `station` (a name) hears it:
        ringback, busy, the answer."""
        if self.layer.bus.connection_of(station) is not None:
            self.layer.bus.release(station)
        self.layer.bus.route(station, trunk.endpoint, duplex=False)

    def connected(self, trunk, on_clear):
        """A call out connected: `on_clear(reason)` runs when the far end
        clears; the trunk's own voice resource now only hears it, so the
        line can hear whoever it is joined to.  Its bus endpoint."""
        self.by_trunk[trunk.name] = on_clear
        self.layer.bus.release(trunk.voice)
        self.layer.bus.route(trunk.voice, trunk.endpoint, duplex=False)
        return trunk.endpoint

    @defer.inlineCallbacks
    def send_out(self, call, number, caller, cause=None, no_answer_s=NO_ANSWER_S):
        """The inbound caller goes out to `number` (music meanwhile) for
        `caller`: the connected trunk, or OutboundFailed."""
        self.layer.hold_caller(call, self.queueing.hold_music(call))
        trunk = yield self.place(number, caller, no_answer_s=no_answer_s)
        if call.state == "ended":
            self.free(trunk, "the caller hung up")
            raise OutboundFailed(trunk.name, "the caller hung up")
        call.outside.append(trunk)
        call.talk.set(self.connected(trunk, lambda reason: self.consults.outside_left(
            call, trunk, reason, ending=f"the far end of the transfer to {number} cleared "
            f"({reason})", released_by="system")), "talk")
        call.talk.retrieve()
        call.media.fire("retrieve")
        self.layer.model.connect(call.call, trunk.name, "connected", cause=cause, number=number)
        return trunk

    # -- MakeCall ----------------------------------------------------------------
    def make_call(self, actor, number, agent_id):
        """MakeCall: the actor's agent calls `number`, or agent `agent_id`
        (the other None: its handler made sure exactly one is given)."""
        agent = self.agents.of(actor)
        if number is not None:
            self.check_number("MakeCall", number, self.caller_of(actor))
        station = self.layer.channels.by_name.get(agent.station) if agent.station else None
        if not isinstance(station, Station):
            raise InvalidState(f"agent {agent.id} is not logged in at a "
                               "station", object="agent", id=agent.id)
        if station.state != "offhook":
            raise InvalidState(f"station {station.name} is {station.state}: "
                               "lift the handset (or put the headset on) first",
                               object="device", id=station.name)
        to = to_station = None
        if agent_id is not None:
            to = self._callee(agent, agent_id)
            to_station = self.layer.channels[to.station]
        call = self.layer.model.new_call(station.name, ani=agent.id, dnis=number or to.id,
                                         direction="outbound" if to is None else "internal")
        call.made_by = agent.id
        try:
            self.acd.dial_out(agent.id, call, cause=actor.cause)
        except ACDError as e:
            self.layer.model.clear_call(call, "not placed")
            raise ACDError(e.code, str(e), object="agent", id=agent.id) from None
        out = OutboundCall(call, agent, station, number or to.id, to=to, to_station=to_station,
                           started_at=self.layer.clock.seconds(), cause=actor.cause,
                           caller=self.caller_of(actor))
        self.outs[station.name] = out
        station.connect()
        self.layer.model.connect(call, station.name, "initiated", cause=actor.cause,
                                 direction=call.direction)
        if to is None:
            self._dial(out)
        else:
            self._ring(out)
        return {"call": call.id}

    # -- internal calls ---------------------------------------------------------
    def _callee(self, caller, agent_id):
        try:
            to = self.acd.agent(agent_id)
        except ACDError as e:
            raise ACDError(e.code, str(e), object="agent", id=agent_id) from None
        station = self.layer.channels.by_name.get(to.station) if to.station else None
        if to is caller or to.state != "ready" or station is None \
                or station.state not in ("onhook", "offhook"):
            raise InvalidState(f"agent {agent_id} is "
                               f"{'you' if to is caller else to.state}: not free for a call",
                               object="agent", id=agent_id)
        return to

    def _ring(self, out):
        self.acd.offer_direct(out.to.id, out.call, cause=out.cause)
        self.outs[out.to_station.name] = out
        out.station.tone("ringback")
        if out.to_station.state == "onhook":
            out.to_station.ring()
        else:                                        # a headset: AnswerCall connects
            out.to_station.tone("ringback")
        self.layer.model.connect(out.call, out.to_station.name, "alerting", cause=out.cause,
                                 agent=out.to.id, direction="internal")
        out.timer = self.layer.clock.callLater(self.acd.ring_s(out.to) or INTERNAL_RING_S,
                                               self._end_out, out, "no_answer")

    def answered(self, station, cause=None):
        """The called agent answered an internal call: True if it was one."""
        out = self.outs.get(station.name)
        if out is None or out.to_station is not station:
            return False
        if out.timer is not None and out.timer.active():
            out.timer.cancel()
        self.acd.answered_direct(out.to.id, cause=cause)
        if station.state == "offhook":
            station.connect()
        station.tone(None)
        del self.outs[out.station.name], self.outs[station.name]
        self.take_call_out(out, CalledAgent(self.layer, self.acd, out.to, station), cause)
        return True

    @defer.inlineCallbacks
    def _dial(self, out):

        def seized(trunk):
            if out.trunk is not None:                # that one failed: the next
                self.layer.model.clear(out.call, out.trunk.name, "not connected", cause=out.cause)
            out.trunk = trunk
            self.hear_progress(out.station.name, trunk)
            self.layer.model.connect(out.call, trunk.name, "alerting", cause=out.cause)
        try:
            trunk = yield self.place(out.number, out.caller, seized)
        except OutboundFailed as e:
            if not out.ended:
                self._end_out(out, e.reason)
            return
        if out.ended:                                # the agent gave up meanwhile
            self.free(trunk, "caller gave up")
            return
        del self.outs[out.station.name]
        self.take_call_out(out, trunk)                 # a call like a caller's from now on

    # -- answered: a call of the call layer --------------------------------------------
    def take_call_out(self, out, party, cause=None):
        """An agent's call answered: from now on a call like a caller's,
        the agent talking to `party` in the caller's place: the trunk it
        was dialled on, or for an internal call the agent called
        (CalledAgent).  `cause`: the request that answered it (AnswerCall
        at the phone called), if any.  Every call service works on it as
        on a caller's call (hold, transfers, consultation, conference,
        recording, supervision, a supervisor's ClearCall), and it may even
        be transferred to a queue."""
        layer, agent, station = self.layer, out.agent, out.station
        call = TrunkCall.start(layer.clock, out.call, party, offered_at=out.started_at,
                               agent=agent, station=station, answered_at=layer.clock.seconds(),
                               answered_by=(agent.id, station.name))
        call.phase.fire("dialled", number=out.number, agent=agent.id)
        layer.add(call)                              # its far end's keys: SpeakRequested
        if out.to is None:
            call.call.trunk_group = party.group
            self.far_end_answered(call, party, out.cause)
        else:
            layer.bridge(call)
            layer.model.connect(call.call, party.name, "connected", cause=cause,
                                agent=party.agent.id)
        layer.model.connect(call.call, station.name, "connected", cause=cause or out.cause)
        self.supervisors.call_connected(call)
        return call

    def far_end_answered(self, call, trunk, cause=None):
        """A trunk we dialled for the call answered (an agent's call out, a
        callback): it is the call's outside party from now on, and the
        agent's phone, which heard the call's progress, talks with it."""
        layer = self.layer
        call.trunk, call.line_released, call.trunk_out = trunk, False, True
        layer.by_trunk[trunk.name] = call            # its keys: SpeakRequested
        self.by_trunk[trunk.name] = lambda reason: layer.finish(
            call, "far_end" if call.call.direction == "outbound"
            and call.state not in ("queued", "ringing") else "caller", reason)
        layer.bus.release(call.station.name)         # the progress it heard
        layer.voice_hears_caller(call, duplex=False)
        call.talk = layer.talk_with(trunk.endpoint)
        call.talk.set(call.station.name, "talk")
        layer.model.connect(call.call, trunk.name, "connected", cause=cause)

    def called_agent_hung_up(self, call, cause=None, reason=None):
        """The agent called on an internal call hung up (or its phone is
        gone: `reason`), wherever the call is (with the agent who has it,
        or sent on to a queue: abandoned)."""
        self.layer.finish(call, "caller" if call.state in ("queued", "ringing") else "far_end",
                          reason or f"agent {call.called_agent.id} (called) hung up", cause)

    def trunks_held(self):
        """The trunks of calls being placed: seized and not connected yet,
        or dialled for an agent's call out (cti.server.core.sweep)."""
        return {name for name, on_clear in self.by_trunk.items() if on_clear is None} | {
            out.trunk.name for out in self.outs.values() if out.trunk is not None}

    def calls_held(self):
        """The ids of the calls being placed (cti.server.core.sweep)."""
        return {out.call.id for out in self.outs.values()}

    def stations_held(self):
        """The phones of calls being placed: the caller's and the called agent's."""
        return set(self.outs)

    def check_not_own(self, call_id):
        """A call services cannot find: if it is an agent's own call still
        dialled or ringing, say so (InvalidState)."""
        if any(o.call.id == call_id for o in self.outs.values()):
            raise InvalidState(f"call {call_id} is not answered yet",
                               object="call", id=call_id)

    def rang_out(self, station, pause=None):
        """The called agent's phone stopped ringing unanswered (`pause`:
        gone with its board, the agent's not-ready reason): True if it
        was an internal call's."""
        out = self.outs.get(station.name)
        if out is None or out.to_station is not station:
            return False
        self._end_out(out, "no_answer", pause=pause)
        return True

    def hang_up(self, station, reason=None):
        """An agent hung up a call of its own not answered yet (or rejected
        an internal call ringing at its phone; or its phone is gone:
        `reason`): True if it was one."""
        out = self.outs.get(station.name)
        if out is None:
            return False
        self._end_out(out, reason or "agent hung up", "agent")
        return True

    def _end_out(self, out, reason, released_by="system", pause=None):
        """A call placed that was never answered ends: its CDR says why
        (the called agent not ready for `pause`, its phone gone).  Each
        part is released on its own (cti.server.core.unwind)."""
        if out.ended:
            return
        out.ended, out.result = True, reason
        self.outs.pop(out.station.name, None)
        unwind = Unwind(f"call {out.call.id}")
        with unwind.step("the ring timer"):
            if out.timer is not None and out.timer.active():
                out.timer.cancel()
        with unwind.step("the progress tone"):
            out.station.tone(None)
        if out.to is not None:                       # the called agent is free again
            self.outs.pop(out.to_station.name, None)
            with unwind.step("the called phone"):
                out.to_station.stop_ring()
                out.to_station.tone(None)
            with unwind.step("the called agent"):
                self.acd.withdraw_direct(out.to.id, reason, pause)
        if out.trunk is not None:
            with unwind.step("the progress heard"):
                if self.layer.bus.connection_of(out.station.name) is not None:
                    self.layer.bus.release(out.station.name)
            with unwind.step("the trunk"):
                if self.holds(out.trunk):
                    self.free(out.trunk, reason)
        with unwind.step("the phone"):
            if out.station.state == "talking":
                out.station.hang_up()
        with unwind.step("the agent"):
            self.acd.call_ended(out.agent.id, released_by)
        with unwind.step("the call model"):
            self.layer.model.clear_call(out.call, reason)
        self.layer.records.call_out(out, _disposition(reason), released_by,
                                    reason + unwind.summary())


    # -- ICallReleased ----------------------------------------------------------------
    def call_released(self, call, previous, reason, unwind):
        """The trunks placed for the call: outside parties conferenced in or
        sent out to, and the far end of a call we dialled."""
        if previous == "talking":
            for trunk in call.outside:
                with unwind.step(f"the outside party on {trunk.name}"):
                    self.free(trunk, reason)
            call.outside.clear()
        if call.trunk_out:
            with unwind.step("the trunk"):
                self.free(call.trunk, reason)

def _disposition(reason):
    return {"busy": "busy", "no_answer": "no_answer"}.get(reason.split(" (")[0], "failed")
