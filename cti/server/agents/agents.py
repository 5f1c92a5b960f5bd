# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""Agents as they work: log in and out, ready and not, answer and hang up.

An agent's state lives in the ACD (cti.server.queueing.acd: a declared
table, every change published and recorded); this module is what an
agent's own requests do with it, and what an agent's part of a call is
when the call ends (the agent to wrap-up, its phone hung up).
"""
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.errors import ACDError, InvalidState, MissingField, NoSuchObject
from cti.server.interfaces import ICallEnding
from cti.server.lines.channels import Station

log = Logger()

#: The states an agent may ask for (SetAgentState), by their CSTA names.
AGENT_STATES = ("loggedOn", "ready", "notReady", "workingAfterCall", "loggedOff")


@implementer(ICallEnding)
class Agents:
    part = "the agents"  # what a failed release names (ICallEnding)

    def __init__(self, layer, acd):
        self.layer = layer               # ICallLayer
        self.acd = acd
        self.queueing = self.consults = self.dialer = self.desk = None   # given at assembly

    def of(self, actor):
        """The agent the actor is; a [[users]] account granted the agent
        role is none."""
        agent = self.acd.agents.get(actor.user)
        if agent is None:
            raise NoSuchObject(f"user {actor.user!r} is not an agent of the configuration "
                               "([[agents]])", object="agent", id=actor.user)
        return agent

    def named(self, agent_id):
        """The agent with that id, or NoSuchObject naming it."""
        try:
            return self.acd.agent(agent_id)
        except ACDError as e:
            raise ACDError(e.code, str(e), object="agent", id=agent_id) from None

    def call_of(self, agent):
        """The TrunkCall the agent is on, if the call layer has it."""
        return self.layer.calls.get(agent.call.id) if agent.call is not None else None

    def set_state(self, actor, state, station, reason, lock):
        """SetAgentState: the agent's state and the ACD's result with it."""
        agent = self.of(actor)
        cause = actor.cause
        if state == "loggedOn":
            station = station or agent.config.station
            if station is None:
                raise MissingField("SetAgentState: name the station to log in at",
                                   field="station")
            if not isinstance(self.layer.channels.by_name.get(station), Station):
                raise NoSuchObject(f"no station {station!r}", object="device", id=station)
            self.acd.login(agent.id, station, cause=cause)
            result = "done"
        elif state == "ready":
            result = self.acd.set_ready(agent.id, lock, cause=cause)
        elif state == "notReady":
            result = self.acd.set_not_ready(agent.id, reason, lock, cause=cause)
        elif state == "workingAfterCall":
            result = self.acd.set_after_call_work(agent.id, cause=cause)
        else:
            result = self.acd.logout(agent.id, reason or "agent", lock, cause=cause)
        return {**self.acd.describe(agent), "result": result}

    def answer(self, actor, call_id):
        """AnswerCall by an agent on a headset already off-hook: the call
        ringing it (an offer, a consultation, an internal call)."""
        agent = self.of(actor)
        channels = self.layer.channels
        if self.consults.answer(actor, agent) or agent.station and \
                self.dialer.answered(channels[agent.station], actor.cause):
            return {"call": agent.call.id}
        call = self.call_of(agent)
        if call is None or call.state != "ringing" or call_id not in (None, call.id) \
                or agent.state != "reserved":
            raise InvalidState(f"agent {agent.id} has no call ringing")
        station = channels[agent.station]
        if station.state != "offhook":
            raise InvalidState(f"station {station.name} is on-hook: answer by lifting the "
                               "handset (AnswerCall is for headsets already off-hook)")
        call.agent, call.station = agent, station     # ring_all: the one who answered
        self.queueing.answered(call, actor.cause)
        return {"call": call.id}

    def hang_up(self, actor, call_id):
        """ClearConnection by an agent: its part of the call it is on
        (ringing: rejected, the next agent gets it)."""
        agent = self.of(actor)
        station = self.layer.channels.by_name.get(agent.station) if agent.station else None
        if station is not None and (self.consults.hang_up(station, actor.cause)
                                    or self.dialer.hang_up(station)):
            return
        call = self.call_of(agent)
        if call is None or call_id not in (None, call.id):
            raise InvalidState(f"agent {agent.id} has no such call")
        if call.called_agent is agent:
            self.dialer.called_agent_hung_up(call, actor.cause)
        elif call.state == "ringing":
            self.acd.no_answer(agent, cause=actor.cause)     # rejected: the next agent
        else:
            self.desk.hung_up(call, agent, station, actor.cause)

    def log_out_everyone(self):
        """The server stops: every agent still logged in is logged out."""
        for agent in self.acd.agents.values():
            if agent.state in ("ready", "notReady", "workingAfterCall"):
                self.acd.logout(agent.id, "server shutdown", force=True)

    def snapshot(self, agent_id):
        agent = self.acd.agents.get(agent_id)
        return self.acd.describe(agent) if agent else None

    # -- ICallEnding ------------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        """Every agent and phone on a connected call: wrap-up, hung up."""
        if previous != "talking":
            return
        for agent, station in [(call.agent, call.station), *call.members]:
            with unwind.step(f"agent {agent.id if agent else '(supervisor)'}"):
                if agent is not None:         # None: a supervisor took it over
                    self.acd.call_ended(agent.id, released_by, cause=cause)
            with unwind.step(f"station {station.name if station else '-'}"):
                if station is not None and station.state == "talking":
                    station.hang_up()
        call.members.clear()
