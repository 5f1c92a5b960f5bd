# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_supervision -*-
"""What agents (and supervisors) do to connected calls.

The queueing feature brings a call to an agent; the desk is what happens
next.  Every service names the call (`call`).  An agent may act on its
own call only; supervisors and administrators on any they may see
(cti.server.scope), and their use is audited (cti.server.core.audit).

    HoldCall / RetrieveCall        the caller hears music on hold, then back
    SingleStepTransferCall         the call to an agent, a queue, an IVR
                                   flow or an outside number; the agent
                                   goes to wrap-up
    SendDTMF {call, digits}        keys sent to the caller's side (an IVR or
                                   a voicemail it reached); meanwhile the
                                   caller hears them alone, unmixed
    SetPartyRole {call, device, role}   talk or listen in a conference; a
                                   caller set to listen who presses a key
                                   "requests to speak" (SpeakRequested)
    StartRecording / StopRecording the whole call, every party mixed, into
                                   var/recordings (a supervisor may too)

It asks of the call core (ICallLayer) the call, its Talk and its end; of
the consult feature whether a consultation holds the call; of the
outbound feature a number's class of service and a transfer out; of the
supervision feature who watches the call.  Its services are registered
by cti.server.desk.handlers.
"""
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.errors import (
    InvalidField,
    InvalidState,
    NoSuchObject,
    OutboundFailed,
    QueueFull,
    ResourceBusy,
    TalkError,
)
from cti.server.interfaces import ICallEnding

log = Logger()

#: The longest recording of a call, seconds: the boards' limit (6553 s)
#: rounded down; StopRecording or the end of the call end it sooner.
CALL_RECORDING_MAX_S = 6500


class _Borrowed:
    """The voice pool's record of a voice resource lent to a call (DTMF,
    recording): its board events are nobody's business, but a hang is
    the pool's (the resource is tested once given back)."""

    def __init__(self, call_id, pool):
        self.name = f"call {call_id}"
        self.pool = pool

    def handle(self, event):
        if event.kind == "operation_failed":
            self.pool.hung(event)


@implementer(ICallEnding)
class Desk:
    part = "the desk"  # what a failed release names (ICallEnding)

    def __init__(self, layer, acd, scope, auditor):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.scope = scope               # cti.server.scope.Scope
        self.auditor = auditor           # cti.server.core.audit.Auditor
        self.agents = self.consults = self.dialer = self.ivr = None   # given at assembly
        self.queueing = self.supervisors = None

    # -- lookups -------------------------------------------------------------------
    def connected_call(self, actor, call_id):
        """A call in the talking phase this session may act on."""
        call = self.layer.call(call_id)
        if actor.role in ("supervisor", "admin"):
            self.scope.check(actor, "call", call_id)
        if actor.role == "agent":
            agent = self.agents.of(actor)
            if call.called_agent is agent:
                raise InvalidState(f"call {call_id} is an internal call to "
                                   "you: the agent who has it holds, transfers or records "
                                   "it; you can hang up", object="call", id=call_id)
            if call.agent is not agent:
                raise InvalidState(f"call {call_id} is not agent "
                                   f"{agent.id}'s call", object="call", id=call_id)
        if call.state != "talking" or call.talk is None:
            raise InvalidState(f"call {call_id} is not connected to an "
                               f"agent (it is {call.state})", object="call", id=call_id)
        if call.station is None:
            raise InvalidState(f"call {call_id} is being transferred (it "
                               "rings at an agent's phone)", object="call", id=call_id)
        return call

    def parties(self, call):
        """The call's parties as its agents see them: {endpoint: role},
        without the supervisors' phones (a silent monitor must not show)."""
        supervisors = self.supervisors.stations()
        return {e: r for e, r in call.talk.parties.items() if e not in supervisors}

    # -- hold and transfer -----------------------------------------------------
    def hold_call(self, actor, call_id):
        call = self.connected_call(actor, call_id)
        if call.held:
            raise InvalidState(f"call {call.id} is on hold already",
                               object="call", id=call.id)
        self.hold(call, actor.cause)
        return {"call": call.id}

    def retrieve_call(self, actor, call_id):
        call = self.connected_call(actor, call_id)
        if not call.held or self.consults.consulting(call):
            raise InvalidState(f"call {call.id} is not on hold" + (
                " (a consultation holds it: ReconnectCall)" if call.held else ""),
                object="call", id=call.id)
        self.retrieve(call, actor.cause)
        return {"call": call.id}

    def hold(self, call, cause=None):
        """The caller hears music on hold; `Held` at the agent's station."""
        call.talk.hold(self.queueing.hold_music(call))
        call.media.fire("hold")
        self.layer.model.connect(call.call, call.station.name, "hold", cause=cause)

    def retrieve(self, call, cause=None, announce=True):
        """The caller is back (`Retrieved` at the agent's station, if `announce`)."""
        call.talk.retrieve()
        call.media.fire("retrieve")
        if announce:
            self.layer.model.connect(call.call, call.station.name, "connected", cause=cause)

    def leave(self, call, agent, station, reason, cause=None):
        """One agent leaves a call that goes on (a transfer, a conference
        member hanging up): wrap-up for it, the next member owns the call.
        `agent` None: the supervisor who took the call over (Intercept)."""
        if agent is not None:
            self.supervisors.end_supervision_of(agent.id, "the agent left the call")
            self.acd.call_ended(agent.id, "agent", cause=cause)
        else:
            call.intercepted_by = None
        if call.talk is not None:
            try:
                call.talk.drop(station.name)
            except TalkError as e:          # a board gone meanwhile: its removal comes next
                log.error("call {call}: {station} left, but the others' audio could not be "
                          "put back: {error}", call=call.id, station=station.name, error=e)
        if station.state == "talking":
            station.hang_up()
        self.layer.model.clear(call.call, station.name, reason, cause=cause)
        if call.agent is agent:
            call.agent, call.station = call.members.pop(0) if call.members else (None, None)
        else:
            call.members[:] = [(a, s) for a, s in call.members if a is not agent]

    def hung_up(self, call, agent, station, cause=None, reason=None):
        """An agent on a connected call hung up (on-hook or ClearConnection);
        `agent` None: the supervisor who took the call over (Intercept).
        In a conference it leaves the others talking.  `reason`: why, when
        not the agent's doing (its phone's board removed)."""
        who = "agent" if agent else f"supervisor {call.intercepted_by}"
        reason = reason or f"{who} hung up"
        if call.members and (call.agent is agent or any(a is agent for a, _ in call.members)) \
                or call.agent is agent and call.outside and call.talk is not None \
                and len(call.talk.parties) > 2:        # the caller and an outside party stay
            self.leave(call, agent, station, reason, cause)
        elif call.agent is agent and call.station is station:
            self.layer.finish(call, "agent" if agent else "supervisor", reason, cause)

    def single_step_transfer(self, actor, call_id, kind, target):
        """The call to `target`, an agent, a queue, a flow or a number (`kind`)."""
        call = self.connected_call(actor, call_id)
        if call.members or self.consults.consulting(call):
            raise InvalidState(f"call {call.id} is in a conference or a "
                               "consultation: finish that first", object="call", id=call.id)
        if kind == "agent":
            agent, station = call.agent, call.station
            consult = self.consults.start(call, target, blind=True, cause=actor.cause)
            self.leave(call, agent, station, "transferred", actor.cause)
            consult.done.addErrback(self._back_to_queue, call, f"agent {target}")
            return {"call": call.id, "transferredTo": f"agent:{target}"}
        if kind == "number":
            caller = self.dialer.caller_of(actor)
            self.dialer.check_number("SingleStepTransferCall", target, caller)
            agent, station = call.agent, call.station
            d = self.dialer.send_out(call, target, caller, actor.cause)
            self.leave(call, agent, station, "transferred", actor.cause)
            self.layer.model.event(call.call, station.name, "Transferred", cause=actor.cause,
                                   transferredTo=f"number:{target}")
            d.addErrback(self._back_to_queue, call, target)
            return {"call": call.id, "transferredTo": f"number:{target}"}
        if kind == "queue":
            if self.layer.config.queue(target) is None:
                raise NoSuchObject(f"no queue {target!r}", object="queue",
                                   id=target)
            if self.acd.full(target):
                raise QueueFull(f"queue {target} is full", object="queue",
                                id=target)
        elif target not in self.ivr.flow_names():
            raise NoSuchObject(f"no flow {target!r} (flows: "
                               f"{', '.join(sorted(self.ivr.flow_names())) or 'none'})",
                               object="flow", id=target)
        to = f"queue:{target}" if kind == "queue" else f"routepoint:{target}"
        station = call.station.name
        self.release_caller(call, actor.cause)
        self.layer.model.event(call.call, station, "Transferred", cause=actor.cause,
                               transferredTo=to)
        call.phase.fire("transfer", to=to)
        if kind == "queue":
            self.layer.to_queue(call, target, cause=actor.cause, priority=call.priority)
        else:
            self.layer.voice_hears_caller(call, duplex=True)
            self.layer.to_flow(call, target)
        return {"call": call.id, "transferredTo": to}

    def _back_to_queue(self, failure, call, target):
        """A blind transfer (to an agent, to a number) did not connect."""
        failure.trap(OutboundFailed)
        self.transfer_failed(call, target, failure.value.reason)

    def transfer_failed(self, call, target, reason):
        """A transfer that no agent of the call waits on did not connect (a
        blind one, or a consultation whose agent hung up before the answer):
        the caller goes back to its queue (a caller never queued, to the
        flow_down queue); the far end of an agent's own call (a call out,
        the agent called on an internal call), never a caller of ours, is
        released."""
        if call.state != "talking":            # the caller hung up meanwhile
            return
        queue = call.queue or (None if call.call.direction != "inbound"
                               else self.layer.config.flow_down_queue)
        if not queue:
            self.layer.finish(call, "system", f"the transfer to {target} failed ({reason})")
            return
        log.info("call {call}: the transfer to {target} failed ({reason}): back to queue "
                 "{queue}", call=call.id, target=target, reason=reason, queue=queue)
        self.release_caller(call)
        call.phase.fire("transfer", to=f"queue:{queue}")
        self.layer.to_queue(call, queue, priority=call.priority)

    def release_caller(self, call, cause=None):
        """The agent (or the supervisor who took it over), if one is still
        on it, leaves the caller, who goes on elsewhere (a queue, a flow):
        the call's talk is over, and an outside party conferenced in is let
        go."""
        if call.station is not None:
            self.leave(call, call.agent, call.station, "transferred", cause)
        call.media.fire_if("retrieve")          # held, or not
        call.talk.end()
        call.talk = None
        for trunk in call.outside:
            if trunk.name in call.call.connections:
                self.layer.model.clear(call.call, trunk.name, "transferred", cause=cause)
            self.dialer.free(trunk, "transferred")
        call.outside.clear()

    # -- keys, roles and recordings --------------------------------------------
    def _borrow_voice(self, call, role):
        """A voice resource of the pool joined to the call's talk."""
        pool = self.layer.channels.voice_pool
        voice = pool.take(_Borrowed(call.id, pool))
        if voice is None:
            raise ResourceBusy("no voice resource free")
        try:
            call.talk.set(voice, role)
        except TalkError as e:
            self.layer.channels.voice_pool.give(voice)
            raise ResourceBusy(f"cannot join the call: {e}") from None
        return voice

    def _give_back(self, call, voice):
        if call.talk is not None:
            call.talk.drop(voice)
        self.layer.bus.release(voice)
        self.layer.channels.voice_pool.give(voice)

    def send_dtmf(self, actor, call_id, digits):
        if not digits or any(c not in "0123456789*#ABCD," for c in digits) or len(digits) > 32:
            raise InvalidField("SendDTMF: field 'digits' must be 1 to 32 of "
                               f"0-9, *, #, A-D and ',' (a pause); got {digits!r}",
                               field="digits")
        call = self.connected_call(actor, call_id)
        pool = self.layer.channels.voice_pool
        voice = pool.take(_Borrowed(call_id, pool))
        if voice is None:
            raise ResourceBusy("no voice resource free")
        try:
            call.talk.feed(voice)
        except TalkError:
            pool.give(voice)
            raise
        try:
            d = self.layer.ports.dial(voice, digits)
        except Exception:
            self._sent(call, voice)
            raise
        return d.addBoth(lambda _: self._sent(call, voice)
                         or {"call": call_id, "digits": digits})

    def _sent(self, call, voice):
        """The digits are sent: the caller back from the voice resource,
        which is given back even if the boards refuse to take the caller's
        route to it down; releasing the voice takes that route down, and
        the caller is brought back once more (a TalkError if refused
        again: the call as it is, RetrieveCall or hold to try again)."""
        refused = None
        if call.talk is not None:
            try:
                call.talk.unfeed()
            except TalkError as e:
                refused = e
        self.layer.bus.release(voice)
        self.layer.channels.voice_pool.give(voice)
        if refused is not None:
            log.warn("call {call}: the caller's way back from {voice} was refused ({error}); "
                     "trying again with the voice released", call=call.id, voice=voice,
                     error=refused)
            call.talk.unfeed()

    def set_party_role(self, actor, call_id, device, role):
        call = self.connected_call(actor, call_id)
        if device not in self.parties(call):
            raise NoSuchObject(f"{device} is not a party of call {call.id}",
                               object="device", id=device)
        talkers = [e for e, r in call.talk.parties.items() if r == "talk" and e != device]
        if role == "listen" and not talkers:
            raise InvalidState(f"call {call.id}: someone must still talk",
                               object="call", id=call.id)
        call.talk.set(device, role)
        self.layer.model.event(call.call, device, "PartyRoleChanged", cause=actor.cause,
                               role=role)
        return {"call": call.id, "device": device, "role": role}

    def caller_key(self, call, digit):
        """A key from a caller who may only listen: a request to speak."""
        caller = call.trunk.endpoint
        if call.talk is not None and call.talk.role(caller) == "listen" and call.station:
            self.layer.model.event(call.call, call.station.name, "SpeakRequested",
                                   party=caller, digit=digit)

    def start_recording(self, actor, call_id):
        call = self.connected_call(actor, call_id)
        if call.recording is not None:
            raise InvalidState(f"call {call.id} is being recorded already "
                               f"({call.recording[1]})", object="call", id=call.id)
        voice = self._borrow_voice(call, "listen")
        recordings_dir = self.layer.recordings_dir
        recordings_dir.mkdir(parents=True, exist_ok=True)
        call.recordings += 1
        path = recordings_dir / f"{call.id}-call-{call.recordings}.wav"
        try:
            d = self.layer.ports.record(voice, path, CALL_RECORDING_MAX_S, 0, terminators="")
        except Exception:
            self._give_back(call, voice)
            raise
        call.recording = (voice, str(path))

        def done(result):
            if call.recording is not None and call.recording[0] == voice:
                call.recording = None
            self._give_back(call, voice)
            log.info("call {call}: recording {file} ended ({reason})", call=call.id,
                     file=path, reason=result.get("reason") if isinstance(result, dict)
                     else result)
        d.addBoth(done)
        if actor.role != "agent":
            self.auditor.audit(actor, "StartRecording", call=call.id,
                               agent=call.agent.id if call.agent else None, file=str(path))
        return {"call": call.id, "file": str(path)}

    def stop_recording(self, actor, call_id):
        call = self.connected_call(actor, call_id)
        if call.recording is None:
            raise InvalidState(f"call {call.id} is not being recorded",
                               object="call", id=call.id)
        voice, path = call.recording
        call.recording = None
        self.layer.ports.stop(voice)
        if actor.role != "agent":
            self.auditor.audit(actor, "StopRecording", call=call.id, file=path)
        return {"call": call.id, "file": path}

    def end_recording(self, call):
        """The call ends: its recording too."""
        if call.recording is not None:
            voice, _ = call.recording
            call.recording = None
            self.layer.ports.stop(voice)

    # -- ICallEnding ------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        if previous == "talking":
            with unwind.step("the recording"):
                self.end_recording(call)
