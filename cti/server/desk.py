# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_supervision -*-
"""What agents and supervisors do to connected calls, as protocol services.

The call centre (cti.server.callcenter) brings a call to an agent; the
desk is what happens next.  Every service names the call (`call`) or, for
a supervisor acting on a person, the agent (`agent`).  An agent may act
on its own call only; supervisors and administrators on any.

Agent (and supervisor) services::

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

Supervisor services, every one written to the audit log::

    Supervise {agent, mode, station}   the supervisor's phone joins the agent's
                                   call: monitor (silent: nobody hears it,
                                   and no event tells the agent or the
                                   caller), whisper (heard by the agent
                                   only) or barge (heard by both); asking
                                   again changes the mode
    EndSupervision {agent}         the supervisor leaves
    Intercept {agent}              the agent leaves, the supervisor keeps
                                   the caller
    MonitorNextCall {agent, ...}   supervise the agent's next call as it
                                   connects
    ClearCall {call}               release the call
    ForceAgentState {agent | team, state}   ready, notReady or loggedOff;
                                   an agent on a call gets it pending
    SetQueueStrategy {queue, strategy}   on the live queue

The supervisor's phone must be off-hook (a headset, or the handset
lifted) when supervision starts; hanging it up ends the supervision.
Supervision events (SupervisionStarted, SupervisionChanged,
SupervisionEnded) go to the supervisor's session only.  Audio is arranged
by cti.server.talk.Talk: a route while two talk, a conference on a DSP as
soon as a third party joins.
"""
from dataclasses import dataclass

from twisted.internet import defer
from twisted.logger import Logger

from cti.protocol.services import CALLERS, SUPERVISORS, Field, Service
from cti.server.channels import Station
from cti.server.config import STRATEGIES
from cti.server.consult import Consultations
from cti.server.errors import (
    ACDError,
    CallError,
    Forbidden,
    InvalidField,
    InvalidState,
    MissingField,
    NoSuchObject,
    OutboundFailed,
    QueueFull,
    ResourceBusy,
    TalkError,
    exactly_one,
)

log = Logger()

#: The longest recording of a call, seconds: the boards' limit (6553 s)
#: rounded down; StopRecording or the end of the call end it sooner.
CALL_RECORDING_MAX_S = 6500
MODES = ("monitor", "whisper", "barge")
#: mode -> (the agent's role, the supervisor's role) in the call's Talk
MODE_ROLES = {"monitor": ("talk", "listen"), "whisper": ("pupil", "coach"),
         "barge": ("talk", "talk")}
FORCED_STATES = ("ready", "notReady", "loggedOff")


class _Borrowed:
    """The voice pool's record of a voice resource lent to a call (DTMF,
    recording): its board events are nobody's business."""

    def __init__(self, call_id):
        self.name = f"call {call_id}"

    def handle(self, event):
        pass


@dataclass(eq=False)
class Supervision:
    user: str
    session: object
    agent: str
    station: str
    mode: str
    call: str | None = None        # None while waiting for the agent's next call


class Desk:
    def __init__(self, center):
        self.center = center
        self.by_agent = {}          # agent id -> Supervision
        self._register()
        self.consults = Consultations(self)

    # -- lookups -----------------------------------------------------------
    def _connected_call(self, request, call_id):
        """A call in the talking phase this session may act on."""
        cc = self.center
        ic = cc._call(call_id)
        if request.role in ("supervisor", "admin"):
            self.may_see(request, "call", call_id)
        if request.role == "agent":
            agent = cc._my_agent(request)
            if ic.called_agent is agent:
                raise InvalidState(f"call {call_id} is an internal call to "
                                   "you: the agent who has it holds, transfers or records "
                                   "it; you can hang up", object="call", id=call_id)
            if ic.agent is not agent:
                raise InvalidState(f"call {call_id} is not agent "
                                   f"{agent.id}'s call", object="call", id=call_id)
        if ic.state != "talking" or ic.talk is None:
            raise InvalidState(f"call {call_id} is not connected to an "
                               f"agent (it is {ic.state})", object="call", id=call_id)
        if ic.station is None:
            raise InvalidState(f"call {call_id} is being transferred (it "
                               "rings at an agent's phone)", object="call", id=call_id)
        return ic

    def parties(self, ic):
        """The call's parties as its agents see them: {endpoint: role},
        without the supervisors' phones (a silent monitor must not show)."""
        supervisors = {s.station for s in self.by_agent.values()}
        return {e: r for e, r in ic.talk.parties.items() if e not in supervisors}

    def _agent(self, agent_id):
        try:
            return self.center.acd.agent(agent_id)
        except ACDError as e:
            raise ACDError(e.code, str(e), object="agent", id=agent_id) from None

    def _supervised(self, request, agent_id):
        """The agent a supervisor acts on, if it may see it."""
        agent = self._agent(agent_id)
        self.may_see(request, "agent", agent_id)
        return agent

    def may_see(self, request, kind, object_id):
        """A supervisor acts only on what it may see (its teams': [[users]]
        teams, cti.server.scope); forbidden otherwise."""
        why = self.center.hub.hidden(request.session, kind, object_id)
        if why is not None:
            raise Forbidden(why, object=kind, id=object_id)

    def _agents_call(self, agent):
        ic = self.center.calls.get(agent.call.id) if agent.call is not None else None
        if ic is not None and ic.called_agent is agent and ic.agent is not None:
            raise InvalidState(f"agent {agent.id} was called on internal "
                               f"call {ic.id}, which agent {ic.agent.id} has: supervise "
                               f"agent {ic.agent.id}", object="agent", id=agent.id)
        if ic is None or ic.state != "talking" or ic.station is None \
                or ic.station.name != agent.station:
            raise InvalidState(f"agent {agent.id} is not on a call "
                               f"(agent state {agent.state})", object="agent", id=agent.id)
        return ic

    def _station(self, name, supervision=None):
        """The supervisor's phone: a station, off-hook, no agent's, not busy."""
        cc = self.center
        station = cc.channels.by_name.get(name)
        if not isinstance(station, Station):
            raise NoSuchObject(f"no station {name!r}", object="device",
                               id=name)
        other = cc.acd.agent_at(name)
        if other is not None:
            raise ResourceBusy(f"station {name} is agent {other.id}'s",
                               field="station")
        for s in self.by_agent.values():
            if s.station == name and s is not supervision:
                raise ResourceBusy(f"station {name} already supervises "
                                   f"agent {s.agent}", field="station")
        if supervision is None and station.state != "offhook":
            raise InvalidState(f"station {name} is {station.state}: lift "
                               "the handset (or put the headset on) first", field="station")
        return station

    def audit(self, request, action, agent=None, call=None, queue=None, **detail):
        cc = self.center
        cc.audit(action, request.user.name, agent, call, queue, **detail)
        log.info("audit: {user} {action} agent={agent} call={call} queue={queue} {detail}",
                 user=request.user.name, action=action, agent=agent, call=call, queue=queue,
                 detail=detail)

    def audited(self, action, handler, on_success=True):
        """A service whose use by a supervisor or an administrator goes into
        the audit log: refused (`refused`: the error code, and `message`),
        and, with `on_success`, once it succeeds (the call services used on
        an agent's call; section 9b's services write that row themselves,
        with their own details).  An agent's own use is not audited."""
        def serve(request, params):
            if request.role == "agent":
                return handler(request, params)
            subject = self._audit_subject(params)     # before the call changes hands

            def done(result):
                self.audit(request, action, **subject)
                return result

            def refused(failure):
                if failure.check(CallError):
                    self.audit(request, action, refused=failure.value.code,
                               message=str(failure.value), **subject)
                return failure
            d = defer.maybeDeferred(handler, request, params)
            if on_success:
                d.addCallback(done)
            return d.addErrback(refused)
        return serve

    def _audit_subject(self, params):
        """What an audited request was done to, as audit() takes it: the
        call and whose it is, or the agent named; another agent named with
        a call is where it was sent (`toAgent`); the other fields as they are."""
        given = {k: v for k, v in params.items() if v is not None}
        call = given.pop("call", None)
        queue = given.pop("queue", None) if call is None else None
        if call is None:
            return {"agent": given.pop("agent", None), "queue": queue, **given}
        if "agent" in given:
            given["toAgent"] = given.pop("agent")
        ic = self.center.calls.get(call)
        agent = ic.agent.id if ic is not None and ic.agent is not None else None
        return {"agent": agent, "call": call, **given}

    def _hold(self, request, params):
        ic = self._connected_call(request, params["call"])
        if ic.held:
            raise InvalidState(f"call {ic.id} is on hold already",
                               object="call", id=ic.id)
        self.hold(ic, request.cause)
        return {"call": ic.id}

    def _retrieve(self, request, params):
        ic = self._connected_call(request, params["call"])
        if not ic.held or ic.id in self.consults.by_call:
            raise InvalidState(f"call {ic.id} is not on hold" + (
                " (a consultation holds it: ReconnectCall)" if ic.held else ""),
                object="call", id=ic.id)
        self.retrieve(ic, request.cause)
        return {"call": ic.id}

    def hold(self, ic, cause=None):
        """The caller hears music on hold; `Held` at the agent's station."""
        cc = self.center
        ic.talk.hold(cc.hold_music(ic))
        ic.held = True
        cc.model.connect(ic.call, ic.station.name, "hold", cause=cause)

    def retrieve(self, ic, cause=None, announce=True):
        """The caller is back (`Retrieved` at the agent's station, if `announce`)."""
        ic.talk.retrieve()
        ic.held = False
        if announce:
            self.center.model.connect(ic.call, ic.station.name, "connected", cause=cause)

    def leave(self, ic, agent, station, reason, cause=None):
        """One agent leaves a call that goes on (a transfer, a conference
        member hanging up): wrap-up for it, the next member owns the call.
        `agent` None: the supervisor who took the call over (Intercept)."""
        cc = self.center
        if agent is not None:
            self._end_supervision_of(agent.id, "the agent left the call")
            cc.acd.call_ended(agent.id, "agent", cause=cause)
        else:
            ic.intercepted_by = None
        if ic.talk is not None:
            ic.talk.drop(station.name)
        if station.state == "talking":
            station.hang_up()
        cc.model.clear(ic.call, station.name, reason, cause=cause)
        if ic.agent is agent:
            ic.agent, ic.station = ic.members.pop(0) if ic.members else (None, None)
        else:
            ic.members[:] = [(a, s) for a, s in ic.members if a is not agent]

    def hung_up(self, ic, agent, station, cause=None):
        """An agent on a connected call hung up (on-hook or ClearConnection);
        `agent` None: the supervisor who took the call over (Intercept).
        In a conference it leaves the others talking."""
        who = "agent" if agent else f"supervisor {ic.intercepted_by}"
        if ic.members and (ic.agent is agent or any(a is agent for a, _ in ic.members)) \
                or ic.agent is agent and ic.outside and ic.talk is not None \
                and len(ic.talk.parties) > 2:        # the caller and an outside party stay
            self.leave(ic, agent, station, f"{who} hung up", cause)
        elif ic.agent is agent and ic.station is station:
            self.center._finish(ic, "agent" if agent else "supervisor", f"{who} hung up",
                                cause)

    def _transfer(self, request, params):
        cc = self.center
        kind = exactly_one("SingleStepTransferCall", params, ("agent", "queue", "flow", "number"),
                           field="queue")
        ic = self._connected_call(request, params["call"])
        target = params[kind]
        if ic.members or ic.id in self.consults.by_call:
            raise InvalidState(f"call {ic.id} is in a conference or a "
                               "consultation: finish that first", object="call", id=ic.id)
        if kind == "agent":
            agent, station = ic.agent, ic.station
            consult = self.consults.start(ic, target, blind=True, cause=request.cause)
            self.leave(ic, agent, station, "transferred", request.cause)
            consult.done.addErrback(self._back_to_queue, ic, f"agent {target}")
            return {"call": ic.id, "transferredTo": f"agent:{target}"}
        if kind == "number":
            caller = cc.dialer.caller_of(request)
            cc.dialer.check_number("SingleStepTransferCall", target, caller)
            agent, station = ic.agent, ic.station
            d = cc.dialer.send_out(ic, target, caller, request.cause)
            self.leave(ic, agent, station, "transferred", request.cause)
            cc.model.event(ic.call, station.name, "Transferred", cause=request.cause,
                           transferredTo=f"number:{target}")
            d.addErrback(self._back_to_queue, ic, target)
            return {"call": ic.id, "transferredTo": f"number:{target}"}
        if kind == "queue":
            if cc.config.queue(target) is None:
                raise NoSuchObject(f"no queue {target!r}", object="queue",
                                   id=target)
            if cc.acd.full(target):
                raise QueueFull(f"queue {target} is full", object="queue",
                                id=target)
        elif target not in cc.flow_names():
            raise NoSuchObject(f"no flow {target!r} (flows: "
                               f"{', '.join(sorted(cc.flow_names())) or 'none'})",
                               object="flow", id=target)
        to = f"queue:{target}" if kind == "queue" else f"routepoint:{target}"
        station = ic.station.name
        self.release_caller(ic, request.cause)
        cc.model.event(ic.call, station, "Transferred", cause=request.cause, transferredTo=to)
        ic.phase.fire("transfer", to=to)
        if kind == "queue":
            cc._to_queue(ic, target, cause=request.cause, priority=ic.priority)
        else:
            cc.voice_hears_caller(ic, duplex=True)
            cc._to_flow(ic, target)
        return {"call": ic.id, "transferredTo": to}

    def _back_to_queue(self, failure, ic, target):
        """A blind transfer (to an agent, to a number) did not connect."""
        failure.trap(OutboundFailed)
        self.transfer_failed(ic, target, failure.value.reason)

    def transfer_failed(self, ic, target, reason):
        """A transfer that no agent of the call waits on did not connect (a
        blind one, or a consultation whose agent hung up before the answer):
        the caller goes back to its queue (a caller never queued, to the
        flow_down queue); the far end of an agent's own call (a call out,
        the agent called on an internal call), never a caller of ours, is
        released."""
        if ic.state != "talking":            # the caller hung up meanwhile
            return
        cc = self.center
        queue = ic.queue or (None if ic.call.direction != "inbound"
                             else cc.config.flow_down_queue)
        if not queue:
            cc._finish(ic, "system", f"the transfer to {target} failed ({reason})")
            return
        log.info("call {call}: the transfer to {target} failed ({reason}): back to queue "
                 "{queue}", call=ic.id, target=target, reason=reason, queue=queue)
        self.release_caller(ic)
        ic.phase.fire("transfer", to=f"queue:{queue}")
        cc._to_queue(ic, queue, priority=ic.priority)

    def release_caller(self, ic, cause=None):
        """The agent (or the supervisor who took it over), if one is still
        on it, leaves the caller, who goes on elsewhere (a queue, a flow):
        the call's talk is over, and an outside party conferenced in is let
        go."""
        cc = self.center
        if ic.station is not None:
            self.leave(ic, ic.agent, ic.station, "transferred", cause)
        ic.held = False
        ic.talk.end()
        ic.talk = None
        for trunk in ic.outside:
            if trunk.name in ic.call.connections:
                cc.model.clear(ic.call, trunk.name, "transferred", cause=cause)
            cc.dialer.free(trunk, "transferred")
        ic.outside.clear()

    # -- keys, roles and recordings ---------------------------------------------
    def _borrow_voice(self, ic, role):
        """A voice resource of the pool joined to the call's talk."""
        cc = self.center
        voice = cc.channels.voice_pool.take(_Borrowed(ic.id))
        if voice is None:
            raise ResourceBusy("no voice resource free")
        try:
            ic.talk.set(voice, role)
        except TalkError as e:
            cc.channels.voice_pool.give(voice)
            raise ResourceBusy(f"cannot join the call: {e}") from None
        return voice

    def _give_back(self, ic, voice):
        cc = self.center
        if ic.talk is not None:
            ic.talk.drop(voice)
        cc.bus.release(voice)
        cc.channels.voice_pool.give(voice)

    def _send_dtmf(self, request, params):
        digits = params["digits"]
        if not digits or any(c not in "0123456789*#ABCD," for c in digits) or len(digits) > 32:
            raise InvalidField("SendDTMF: field 'digits' must be 1 to 32 of "
                               f"0-9, *, #, A-D and ',' (a pause); got {digits!r}",
                               field="digits")
        cc = self.center
        call = self._connected_call(request, params["call"])
        voice = cc.channels.voice_pool.take(_Borrowed(params["call"]))
        if voice is None:
            raise ResourceBusy("no voice resource free")
        call.talk.feed(voice)
        try:
            d = cc.ports.dial(voice, digits)
        except Exception:
            self._sent(call, voice)
            raise
        return d.addBoth(lambda _: self._sent(call, voice)
                         or {"call": params["call"], "digits": digits})

    def _sent(self, call, voice):
        if call.talk is not None:
            call.talk.unfeed()
        self.center.bus.release(voice)
        self.center.channels.voice_pool.give(voice)

    def _set_party_role(self, request, params):
        cc = self.center
        ic = self._connected_call(request, params["call"])
        device = params["device"]
        if device not in self.parties(ic):
            raise NoSuchObject(f"{device} is not a party of call {ic.id}",
                               object="device", id=device)
        talkers = [e for e, r in ic.talk.parties.items() if r == "talk" and e != device]
        if params["role"] == "listen" and not talkers:
            raise InvalidState(f"call {ic.id}: someone must still talk",
                               object="call", id=ic.id)
        ic.talk.set(device, params["role"])
        cc.model.event(ic.call, device, "PartyRoleChanged", cause=request.cause,
                       role=params["role"])
        return {"call": ic.id, "device": device, "role": params["role"]}

    def caller_key(self, ic, digit):
        """A key from a caller who may only listen: a request to speak."""
        caller = self.center._trunk_endpoint(ic)
        if ic.talk is not None and ic.talk.role(caller) == "listen" and ic.station:
            self.center.model.event(ic.call, ic.station.name, "SpeakRequested",
                                    party=caller, digit=digit)

    def _start_recording(self, request, params):
        cc = self.center
        ic = self._connected_call(request, params["call"])
        if ic.recording is not None:
            raise InvalidState(f"call {ic.id} is being recorded already "
                               f"({ic.recording[1]})", object="call", id=ic.id)
        voice = self._borrow_voice(ic, "listen")
        cc.recordings_dir.mkdir(parents=True, exist_ok=True)
        ic.recordings += 1
        path = cc.recordings_dir / f"{ic.id}-call-{ic.recordings}.wav"
        try:
            d = cc.ports.record(voice, path, CALL_RECORDING_MAX_S, 0, terminators="")
        except Exception:
            self._give_back(ic, voice)
            raise
        ic.recording = (voice, str(path))

        def done(result):
            if ic.recording is not None and ic.recording[0] == voice:
                ic.recording = None
            self._give_back(ic, voice)
            log.info("call {call}: recording {file} ended ({reason})", call=ic.id,
                     file=path, reason=result.get("reason") if isinstance(result, dict)
                     else result)
        d.addBoth(done)
        if request.role != "agent":
            self.audit(request, "StartRecording", call=ic.id,
                       agent=ic.agent.id if ic.agent else None, file=str(path))
        return {"call": ic.id, "file": str(path)}

    def _stop_recording(self, request, params):
        cc = self.center
        ic = self._connected_call(request, params["call"])
        if ic.recording is None:
            raise InvalidState(f"call {ic.id} is not being recorded",
                               object="call", id=ic.id)
        voice, path = ic.recording
        ic.recording = None
        cc.ports.stop(voice)
        if request.role != "agent":
            self.audit(request, "StopRecording", call=ic.id, file=path)
        return {"call": ic.id, "file": path}

    def stop_recording(self, ic):
        """The call ends: its recording too."""
        if ic.recording is not None:
            voice, _ = ic.recording
            ic.recording = None
            self.center.ports.stop(voice)

    # -- supervision ---------------------------------------------------------------
    def _supervise(self, request, params):
        agent = self._supervised(request, params["agent"])
        current = self.by_agent.get(agent.id)
        if current is not None and current.user != request.user.name:
            raise ResourceBusy(f"agent {agent.id} is supervised by "
                               f"{current.user} already", object="agent", id=agent.id)
        if current is not None and current.call is None:
            del self.by_agent[agent.id]          # it was waiting for the next call
            current = None
        ic = self._agents_call(agent)
        station = self._station(params["station"] if current is None else current.station,
                                current)
        mode = params["mode"]
        if current is None:
            current = Supervision(request.user.name, request.session, agent.id, station.name,
                                  mode, ic.id)
            event = "SupervisionStarted"
        else:
            current.mode, event = mode, "SupervisionChanged"
        self._arrange(ic, current)
        if station.state == "offhook":
            station.connect()
        self.by_agent[agent.id] = current
        self.audit(request, "Supervise", agent=agent.id, call=ic.id, mode=mode,
                   station=station.name)
        body = self._describe(current)
        self.center.hub.send_event(request.session, event, body, request.invoke_id)
        return body

    def _arrange(self, ic, supervision):
        agent_role, supervisor_role = MODE_ROLES[supervision.mode]
        try:
            if agent_role == "talk":             # no pupil first, so a coach can go
                ic.talk.set(ic.station.name, agent_role)
                ic.talk.set(supervision.station, supervisor_role)
            else:
                ic.talk.set(supervision.station, "listen")
                ic.talk.set(ic.station.name, agent_role)
                ic.talk.set(supervision.station, supervisor_role)
        except TalkError as e:
            raise ResourceBusy(f"cannot join the call: {e}") from None

    @staticmethod
    def _describe(s):
        return {"agent": s.agent, "call": s.call, "mode": s.mode, "station": s.station}

    def _end(self, request, params):
        agent = self._supervised(request, params["agent"])
        s = self.by_agent.get(agent.id)
        if s is None or s.user != request.user.name:
            raise InvalidState(f"you do not supervise agent {agent.id}",
                               object="agent", id=agent.id)
        self.audit(request, "EndSupervision", agent=agent.id, call=s.call)
        self._end_supervision_of(agent.id, "ended by the supervisor", request.invoke_id)
        return {"agent": agent.id}

    def _end_supervision_of(self, agent_id, why, invoke_id=0):
        s = self.by_agent.pop(agent_id, None)
        if s is None:
            return
        cc = self.center
        ic = cc.calls.get(s.call) if s.call else None
        if ic is not None and ic.talk is not None:
            if ic.station is not None:
                ic.talk.set(ic.station.name, "talk")
            ic.talk.drop(s.station)
        station = cc.channels.by_name.get(s.station)
        if station is not None and station.state == "talking":
            station.hang_up()
        cc.hub.send_event(s.session, "SupervisionEnded", {**self._describe(s), "why": why},
                          invoke_id)

    def _intercept(self, request, params):
        cc = self.center
        agent = self._supervised(request, params["agent"])
        s = self.by_agent.get(agent.id)
        if s is None or s.user != request.user.name or s.call is None:
            raise InvalidState(f"supervise agent {agent.id}'s call first "
                               "(Supervise), then intercept it", object="agent", id=agent.id)
        ic = self._agents_call(agent)
        del self.by_agent[agent.id]
        station = ic.station
        self.audit(request, "Intercept", agent=agent.id, call=ic.id)
        ic.talk.set(station.name, "talk")        # no pupil left behind
        ic.talk.set(s.station, "talk")
        ic.talk.drop(station.name)               # caller and supervisor: a route
        cc.acd.call_ended(agent.id, "agent", cause=request.cause)
        ic.agent = None
        if station.state == "talking":
            station.hang_up()
        cc.model.clear(ic.call, station.name, "intercepted", cause=request.cause)
        ic.station = cc.channels.by_name[s.station]
        ic.intercepted_by = request.user.name
        cc.model.connect(ic.call, s.station, "connected", cause=request.cause,
                         supervisor=request.user.name)
        cc.hub.send_event(s.session, "SupervisionEnded",
                          {**self._describe(s), "why": "intercepted"}, request.invoke_id)
        return {"call": ic.id, "station": s.station}

    def _next_call(self, request, params):
        agent = self._supervised(request, params["agent"])
        if agent.id in self.by_agent:
            raise ResourceBusy(f"agent {agent.id} is supervised already",
                               object="agent", id=agent.id)
        self._station(params["station"], supervision=object())
        s = Supervision(request.user.name, request.session, agent.id, params["station"],
                        params["mode"])
        self.by_agent[agent.id] = s
        self.audit(request, "MonitorNextCall", agent=agent.id, mode=params["mode"],
                   station=params["station"])
        return self._describe(s)

    def call_connected(self, ic):
        """An agent's call connected: a supervision waiting for it starts."""
        s = self.by_agent.get(ic.agent.id)
        if s is None or s.call is not None:
            return
        station = self.center.channels.by_name.get(s.station)
        if station is None or station.state != "offhook":
            del self.by_agent[ic.agent.id]
            self.center.hub.send_event(s.session, "SupervisionEnded", {
                **self._describe(s), "why": f"station {s.station} is not off-hook"})
            return
        s.call = ic.id
        self._arrange(ic, s)
        station.connect()
        self.center.hub.send_event(s.session, "SupervisionStarted", self._describe(s))

    def call_ended(self, ic):
        """The call is over: whoever supervised it is told, a consultation
        and a recording on it end."""
        self.consults.call_ended(ic)
        self.stop_recording(ic)
        if ic.agent is not None:
            s = self.by_agent.get(ic.agent.id)
            if s is not None and s.call == ic.id:
                self._end_supervision_of(ic.agent.id, "the call ended")

    def station_onhook(self, station):
        """A supervisor hung up: the supervision ends.  True if it was one."""
        for s in list(self.by_agent.values()):
            if s.station == station.name and s.call is not None:
                self._end_supervision_of(s.agent, "the supervisor hung up")
                return True
        return False

    def stations_held(self):
        """The phones of supervisions and consultations (cti.server.sweep)."""
        return {s.station for s in self.by_agent.values()} | self.consults.stations_held()

    def session_closed(self, session):
        for s in list(self.by_agent.values()):
            if s.session is session and s.call is None:
                del self.by_agent[s.agent]

    # -- forcing -------------------------------------------------------------------
    def _clear_call(self, request, params):
        cc = self.center
        ic = cc._call(params["call"])
        self.may_see(request, "call", ic.id)
        self.audit(request, "ClearCall", call=ic.id,
                   agent=ic.agent.id if ic.agent is not None else None)
        cc._finish(ic, "supervisor", f"released by supervisor {request.user.name}",
                   request.cause)
        return {"call": ic.id}

    def _force_state(self, request, params):
        cc = self.center
        if exactly_one("ForceAgentState", params, ("agent", "team"), field="agent") == "agent":
            agents = [self._supervised(request, params["agent"])]
        else:
            agents = [a for a in cc.acd.agents.values() if a.config.team == params["team"]]
            for agent in agents[:1]:
                self.may_see(request, "agent", agent.id)
            if not agents:
                raise NoSuchObject(f"no agent in team {params['team']!r}",
                                   object="team", id=params["team"])
        state, reason = params["state"], params["reason"] or f"forced by {request.user.name}"
        results = []
        for agent in agents:
            try:
                if state == "ready":
                    done = cc.acd.set_ready(agent.id, force=True, cause=request.cause)
                elif state == "notReady":
                    done = cc.acd.set_not_ready(agent.id, reason, force=True,
                                                cause=request.cause)
                elif agent.state == "loggedOff":
                    done = "done"
                else:
                    done = cc.acd.logout(agent.id, reason, force=True, cause=request.cause)
                results.append({"agent": agent.id, "result": done,
                                "state": agent.state})
            except ACDError as e:
                results.append({"agent": agent.id, "result": "refused", "code": e.code,
                                "message": str(e), "state": agent.state})
        self.audit(request, "ForceAgentState", agent=params["agent"], state=state,
                   reason=reason, team=params["team"], results=results)
        return {"agents": results}

    def _set_strategy(self, request, params):
        cc = self.center
        queue = params["queue"]
        if cc.config.queue(queue) is None:
            raise NoSuchObject(f"no queue {queue!r}", object="queue",
                               id=queue)
        self.may_see(request, "queue", queue)
        cc.acd.set_strategy(queue, params["strategy"], cause=request.cause)
        self.audit(request, "SetQueueStrategy", queue=queue, strategy=params["strategy"])
        return cc.acd.describe_queue(cc.acd.queue(queue))

    # -- the catalogue ---------------------------------------------------------------
    def _register(self):
        add = self.center.hub.catalogue.add
        call = {"call": Field(str, doc="the call id")}
        agent = {"agent": Field(str, doc="the agent id")}
        # What the handlers may answer besides services.COMMON_ERRORS: no such
        # call, agent or station; not in a state for it; a resource taken.
        on_call = ("no_such_object", "invalid_state")
        busy = (*on_call, "resource_busy")
        add(Service("HoldCall", CALLERS, fields=call, errors=on_call),
            self.audited("HoldCall", self._hold))
        add(Service("RetrieveCall", CALLERS, fields=call, errors=on_call),
            self.audited("RetrieveCall", self._retrieve))
        add(Service("SingleStepTransferCall", CALLERS, fields={
            **call, "agent": Field(str, False), "queue": Field(str, False),
            "flow": Field(str, False), "number": Field(str, False)},
            errors=(*busy, "queue_full", "barred")),
            self.audited("SingleStepTransferCall", self._transfer))
        add(Service("SendDTMF", CALLERS, fields={**call, "digits": Field(str)}, errors=busy),
            self.audited("SendDTMF", self._send_dtmf))
        add(Service("SetPartyRole", CALLERS, fields={
            **call, "device": Field(str), "role": Field(str, choices=("talk", "listen"))},
            errors=on_call), self.audited("SetPartyRole", self._set_party_role))
        add(Service("StartRecording", CALLERS, fields=call, errors=busy),
            self.audited("StartRecording", self._start_recording, on_success=False))
        add(Service("StopRecording", CALLERS, fields=call, errors=on_call),
            self.audited("StopRecording", self._stop_recording, on_success=False))
        add(Service("Supervise", SUPERVISORS, fields={
            **agent, "mode": Field(str, choices=MODES), "station": Field(str, False)},
            errors=busy), self.audited("Supervise", self._supervise_checked, on_success=False))
        add(Service("EndSupervision", SUPERVISORS, fields=agent, errors=on_call),
            self.audited("EndSupervision", self._end, on_success=False))
        add(Service("Intercept", SUPERVISORS, fields=agent, errors=on_call),
            self.audited("Intercept", self._intercept, on_success=False))
        add(Service("MonitorNextCall", SUPERVISORS, fields={
            **agent, "mode": Field(str, False, "monitor", choices=MODES),
            "station": Field(str)}, errors=("no_such_object", "resource_busy")),
            self.audited("MonitorNextCall", self._next_call, on_success=False))
        add(Service("ClearCall", SUPERVISORS, fields=call, errors=on_call),
            self.audited("ClearCall", self._clear_call, on_success=False))
        add(Service("ForceAgentState", SUPERVISORS, fields={
            "agent": Field(str, False), "team": Field(str, False),
            "state": Field(str, choices=FORCED_STATES), "reason": Field(str, False, "")},
            errors=("no_such_object",)),
            self.audited("ForceAgentState", self._force_state, on_success=False))
        add(Service("SetQueueStrategy", SUPERVISORS, fields={
            "queue": Field(str), "strategy": Field(str, choices=STRATEGIES)},
            errors=("no_such_object",)),
            self.audited("SetQueueStrategy", self._set_strategy, on_success=False))

    def _supervise_checked(self, request, params):
        current = self.by_agent.get(params["agent"])
        if params["station"] is None and (current is None or current.call is None):
            raise MissingField("Supervise: name the supervisor's station",
                               field="station")
        return self._supervise(request, params)
