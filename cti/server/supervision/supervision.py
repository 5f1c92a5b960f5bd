# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_supervision -*-
"""Supervisors at work: listening in, coaching, taking over, steering.

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
by the call's Talk (cti.server.lines.talk): a route while two talk, a
conference on a DSP as soon as a third party joins.  A supervisor acts
only on what it may see (cti.server.scope).  The services are registered
by cti.server.supervision.handlers.
"""
from dataclasses import dataclass

from twisted.logger import Logger
from zope.interface import implementer

from cti.server.errors import (
    ACDError,
    InvalidState,
    MissingField,
    NoSuchObject,
    ResourceBusy,
    TalkError,
)
from cti.server.interfaces import ICallEnding, IHolds
from cti.server.lines.channels import Station

log = Logger()

MODES = ("monitor", "whisper", "barge")
#: mode -> (the agent's role, the supervisor's role) in the call's Talk
MODE_ROLES = {"monitor": ("talk", "listen"), "whisper": ("pupil", "coach"),
              "barge": ("talk", "talk")}
FORCED_STATES = ("ready", "notReady", "loggedOff")


@dataclass(eq=False)
class Supervision:
    user: str
    session: object                # the supervisor's session: its events go there
    agent: str
    station: str
    mode: str
    call: str | None = None        # None while waiting for the agent's next call


@implementer(ICallEnding, IHolds)
class Supervisors:
    part = "the supervision"  # what a failed release names (ICallEnding)

    def __init__(self, layer, acd, hub, scope, auditor):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.hub = hub                   # the port its events leave by
        self.scope = scope               # cti.server.scope.Scope
        self.auditor = auditor           # cti.server.core.audit.Auditor
        self.agents = self.consults = self.desk = None   # given at assembly
        self.by_agent = {}               # agent id -> Supervision

    # -- lookups ---------------------------------------------------------------------
    def supervised(self, actor, agent_id):
        """The agent a supervisor acts on, if it may see it."""
        agent = self.agents.named(agent_id)
        self.scope.check(actor, "agent", agent_id)
        return agent

    def _agents_call(self, agent):
        call = self.layer.calls.get(agent.call.id) if agent.call is not None else None
        if call is not None and call.called_agent is agent and call.agent is not None:
            raise InvalidState(f"agent {agent.id} was called on internal "
                               f"call {call.id}, which agent {call.agent.id} has: supervise "
                               f"agent {call.agent.id}", object="agent", id=agent.id)
        if call is None or call.state != "talking" or call.station is None \
                or call.station.name != agent.station:
            raise InvalidState(f"agent {agent.id} is not on a call "
                               f"(agent state {agent.state})", object="agent", id=agent.id)
        return call

    def _station(self, name, supervision=None):
        """The supervisor's phone: a station, off-hook, no agent's, not busy."""
        station = self.layer.channels.by_name.get(name)
        if not isinstance(station, Station):
            raise NoSuchObject(f"no station {name!r}", object="device",
                               id=name)
        other = self.acd.agent_at(name)
        if other is not None:
            raise ResourceBusy(f"station {name} is agent {other.id}'s",
                               field="station")
        for s in self.by_agent.values():
            if s.station == name and s is not supervision:
                raise ResourceBusy(f"station {name} already supervises "
                                   f"agent {s.agent}", field="station")
        why = station.out_of_service_reason()
        if why is not None:
            raise InvalidState(f"station {name} is out of service: {why} (supervise from "
                               "another phone)", field="station")
        if supervision is None and station.state != "offhook":
            raise InvalidState(f"station {name} is {station.state}: lift "
                               "the handset (or put the headset on) first", field="station")
        return station

    def stations(self):
        """The supervisors' phones (a silent monitor must not show)."""
        return {s.station for s in self.by_agent.values()}

    # -- IHolds: what the sweep leaves alone --------------------------------------------
    stations_held = stations

    @staticmethod
    def calls_held():
        return set()

    @staticmethod
    def trunks_held():
        return set()

    # -- supervising -----------------------------------------------------------------
    def supervise(self, actor, agent_id, mode, station=None):
        """The supervisor's phone (`station`, or the one it supervises
        with already) joins the agent's call in `mode`."""
        current = self.by_agent.get(agent_id)
        if station is None and (current is None or current.call is None):
            raise MissingField("Supervise: name the supervisor's station",
                               field="station")
        return self._supervise(actor, agent_id, mode, station)

    def _supervise(self, actor, agent_id, mode, station_name):
        agent = self.supervised(actor, agent_id)
        current = self.by_agent.get(agent.id)
        if current is not None and current.user != actor.user:
            raise ResourceBusy(f"agent {agent.id} is supervised by "
                               f"{current.user} already", object="agent", id=agent.id)
        if current is not None and current.call is None:
            del self.by_agent[agent.id]          # it was waiting for the next call
            current = None
        call = self._agents_call(agent)
        station = self._station(station_name if current is None else current.station,
                                current)
        if current is None:
            current = Supervision(actor.user, actor.session, agent.id, station.name,
                                  mode, call.id)
            self._arrange(call, current)
            event = "SupervisionStarted"
        else:                   # its events now go to this session (a console reconnected)
            before, current.mode = current.mode, mode
            try:
                self._arrange(call, current, before)
            except ResourceBusy:
                current.mode = before
                raise
            current.session, event = actor.session, "SupervisionChanged"
        if station.state == "offhook":
            station.connect()
        self.by_agent[agent.id] = current
        self.auditor.audit(actor, "Supervise", agent=agent.id, call=call.id, mode=mode,
                           station=station.name)
        body = self._describe(current)
        self.hub.send_event(actor.session, event, body, actor.invoke_id)
        return body

    def _arrange(self, call, supervision, before=None):
        """The call's parties as the supervision's mode wants them.  One
        that cannot be made (no conference room; a role the boards refuse:
        DAHDI has no whisper) is ResourceBusy, the call as it was: the
        supervisor out of it, or in its mode `before`.  Should the boards
        refuse that too, the refusal says so and the log has it."""
        try:
            self._roles(call, supervision.station, supervision.mode)
        except TalkError as e:
            self._refuse(call, supervision, f"cannot join the call: {e}",
                         lambda: self._leave(call, supervision.station) if before is None
                         else self._roles(call, supervision.station, before))

    @staticmethod
    def _refuse(call, supervision, refusal, put_back):
        """A change the boards refused: `put_back()` (the call as it was),
        then ResourceBusy(`refusal`); put_back refused too is logged and
        said as well."""
        try:
            put_back()
        except TalkError as undo:
            log.error("supervision of agent {agent}: call {call} could not be put back "
                      "as it was: {error}", agent=supervision.agent, call=call.id, error=undo)
            refusal = f"{refusal}; {undo}"
        raise ResourceBusy(refusal) from None

    @staticmethod
    def _leave(call, station):
        """The supervisor's phone out of the call, its agent talking."""
        try:
            if call.station is not None:
                call.talk.set(call.station.name, "talk")
        finally:                            # the supervisor leaves, whatever the agent's role
            call.talk.drop(station)

    @staticmethod
    def _roles(call, station, mode):
        agent_role, supervisor_role = MODE_ROLES[mode]
        if agent_role == "talk":             # no pupil first, so a coach can go
            call.talk.set(call.station.name, agent_role)
            call.talk.set(station, supervisor_role)
        else:
            call.talk.set(station, "listen")
            call.talk.set(call.station.name, agent_role)
            call.talk.set(station, supervisor_role)

    @staticmethod
    def _describe(s):
        return {"agent": s.agent, "call": s.call, "mode": s.mode, "station": s.station}

    def end_supervision(self, actor, agent_id):
        agent = self.supervised(actor, agent_id)
        s = self.by_agent.get(agent.id)
        if s is None or s.user != actor.user:
            raise InvalidState(f"you do not supervise agent {agent.id}",
                               object="agent", id=agent.id)
        self.auditor.audit(actor, "EndSupervision", agent=agent.id, call=s.call)
        self.end_supervision_of(agent.id, "ended by the supervisor", actor.invoke_id)
        return {"agent": agent.id}

    def end_supervision_of(self, agent_id, why, invoke_id=0):
        s = self.by_agent.pop(agent_id, None)
        if s is None:
            return
        call = self.layer.calls.get(s.call) if s.call else None
        if call is not None and call.talk is not None:
            try:
                self._leave(call, s.station)
            except TalkError as e:
                log.error("supervision of agent {agent} ended, but call {call} could not "
                          "be put back as it was: {error}", agent=agent_id, call=call.id,
                          error=e)
        station = self.layer.channels.by_name.get(s.station)
        if station is not None and station.state == "talking":
            station.hang_up()
        self.hub.send_event(s.session, "SupervisionEnded", {**self._describe(s), "why": why},
                            invoke_id)

    def intercept(self, actor, agent_id):
        agent = self.supervised(actor, agent_id)
        s = self.by_agent.get(agent.id)
        if s is None or s.user != actor.user or s.call is None:
            raise InvalidState(f"supervise agent {agent.id}'s call first "
                               "(Supervise), then intercept it", object="agent", id=agent.id)
        call = self._agents_call(agent)
        station = call.station
        try:
            call.talk.set(station.name, "talk")        # no pupil left behind
            call.talk.set(s.station, "talk")
            call.talk.drop(station.name)               # caller and supervisor: a route
        except TalkError as e:                          # both as they were supervised
            self._refuse(call, s, f"cannot intercept the call: {e}",
                         lambda: self._roles(call, s.station, s.mode))
        del self.by_agent[agent.id]
        self.auditor.audit(actor, "Intercept", agent=agent.id, call=call.id)
        self.acd.call_ended(agent.id, "agent", cause=actor.cause)
        call.agent = None
        if station.state == "talking":
            station.hang_up()
        self.layer.model.clear(call.call, station.name, "intercepted", cause=actor.cause)
        call.station = self.layer.channels.by_name[s.station]
        call.intercepted_by = actor.user
        self.layer.model.connect(call.call, s.station, "connected", cause=actor.cause,
                                 supervisor=actor.user)
        self.hub.send_event(s.session, "SupervisionEnded",
                            {**self._describe(s), "why": "intercepted"}, actor.invoke_id)
        return {"call": call.id, "station": s.station}

    def monitor_next_call(self, actor, agent_id, mode, station):
        agent = self.supervised(actor, agent_id)
        if agent.id in self.by_agent:
            raise ResourceBusy(f"agent {agent.id} is supervised already",
                               object="agent", id=agent.id)
        self._station(station, supervision=object())
        s = Supervision(actor.user, actor.session, agent.id, station, mode)
        self.by_agent[agent.id] = s
        self.auditor.audit(actor, "MonitorNextCall", agent=agent.id, mode=mode,
                           station=station)
        return self._describe(s)

    def call_connected(self, call):
        """An agent's call connected: a supervision waiting for it starts."""
        s = self.by_agent.get(call.agent.id)
        if s is None or s.call is not None:
            return
        station = self.layer.channels.by_name.get(s.station)
        if station is None or station.state != "offhook":
            del self.by_agent[call.agent.id]
            self.hub.send_event(s.session, "SupervisionEnded", {
                **self._describe(s), "why": f"station {s.station} is not off-hook"})
            return
        s.call = call.id
        try:
            self._arrange(call, s)
        except ResourceBusy as e:
            del self.by_agent[call.agent.id]
            self.hub.send_event(s.session, "SupervisionEnded", {
                **self._describe(s), "why": str(e)})
            return
        station.connect()
        self.hub.send_event(s.session, "SupervisionStarted", self._describe(s))

    def station_onhook(self, station, why=None):
        """A supervisor hung up (or its phone is gone: `why`): the
        supervision ends.  True if it was one."""
        for s in list(self.by_agent.values()):
            if s.station == station.name and s.call is not None:
                self.end_supervision_of(s.agent, why or "the supervisor hung up")
                return True
        return False

    def station_gone(self, station, why):
        """A supervisor's phone gone with its board: every supervision from
        it ends with `why`, one waiting for the agent's next call
        (MonitorNextCall) too."""
        for s in list(self.by_agent.values()):
            if s.station == station.name:
                self.end_supervision_of(s.agent, why)

    def session_closed(self, session):
        for s in list(self.by_agent.values()):
            if s.session is session and s.call is None:
                del self.by_agent[s.agent]

    def hang_up(self, actor, call_id):
        """A supervisor's ClearConnection: its phone leaves the call it took
        over (Intercept), as if put down: a consultation it made completes
        as a transfer, a conference goes on without it, else the call ends."""
        call = self.layer.call(call_id)
        if call.intercepted_by != actor.user or call.station is None:
            raise InvalidState(f"call {call.id} is not one you took over (Intercept); "
                               "ClearCall releases another's call", object="call", id=call.id)
        self.auditor.audit(actor, "ClearConnection", call=call.id)
        if not self.consults.hang_up(call.station, actor.cause):
            self.desk.hung_up(call, None, call.station, actor.cause)

    # -- forcing -----------------------------------------------------------------------
    def clear_call(self, actor, call_id):
        call = self.layer.call(call_id)
        self.scope.check(actor, "call", call.id)
        self.auditor.audit(actor, "ClearCall", call=call.id,
                           agent=call.agent.id if call.agent is not None else None)
        self.layer.finish(call, "supervisor", f"released by supervisor {actor.user}",
                          actor.cause)
        return {"call": call.id}

    def force_agent_state(self, actor, agent_id, team, state, reason):
        """The agent's state (`agent_id`), or every agent's of `team`."""
        if agent_id is not None:
            agents = [self.supervised(actor, agent_id)]
        else:
            agents = [a for a in self.acd.agents.values() if a.config.team == team]
            for agent in agents[:1]:
                self.scope.check(actor, "agent", agent.id)
            if not agents:
                raise NoSuchObject(f"no agent in team {team!r}", object="team", id=team)
        reason = reason or f"forced by {actor.user}"
        results = []
        for agent in agents:
            try:
                if state == "ready":
                    done = self.acd.set_ready(agent.id, force=True, cause=actor.cause)
                elif state == "notReady":
                    done = self.acd.set_not_ready(agent.id, reason, force=True,
                                                  cause=actor.cause)
                elif agent.state == "loggedOff":
                    done = "done"
                else:
                    done = self.acd.logout(agent.id, reason, force=True, cause=actor.cause)
                results.append({"agent": agent.id, "result": done,
                                "state": agent.state})
            except ACDError as e:
                results.append({"agent": agent.id, "result": "refused", "code": e.code,
                                "message": str(e), "state": agent.state})
        self.auditor.audit(actor, "ForceAgentState", agent=agent_id, state=state,
                           reason=reason, team=team, results=results)
        return {"agents": results}

    def set_queue_strategy(self, actor, queue, strategy):
        if self.layer.config.queue(queue) is None:
            raise NoSuchObject(f"no queue {queue!r}", object="queue",
                               id=queue)
        self.scope.check(actor, "queue", queue)
        self.acd.set_strategy(queue, strategy, cause=actor.cause)
        self.auditor.audit(actor, "SetQueueStrategy", queue=queue, strategy=strategy)
        return self.acd.describe_queue(self.acd.queue(queue))

    # -- ICallEnding -------------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        """Whoever supervised the call is told it ended."""
        if previous != "talking" or call.agent is None:
            return
        s = self.by_agent.get(call.agent.id)
        if s is not None and s.call == call.id:
            with unwind.step("the supervision"):
                self.end_supervision_of(call.agent.id, "the call ended")
