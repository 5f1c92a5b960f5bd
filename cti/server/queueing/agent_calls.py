# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""An agent's calls: the end of a queue call and its wrap-up, and calls
that come to an agent by name or that it makes.

Wrap-up is "timed" (the agent may end it early), "forced" (it may not) or
"agent" (it lasts until the agent ends it).  Direct calls (a
consultation, a transfer to an agent, an internal call) reserve a ready
agent without a queue; an agent's own call out makes it busy until it
ends, then back to the state it was in.
"""
from twisted.logger import Logger

from cti.server.errors import ACDError

log = Logger()


class AgentCalls:
    """Agents' calls and wrap-up (the ACD's part `agent_calls`)."""

    def __init__(self, acd):
        self.acd = acd

    def call_ended(self, agent_id, released_by):
        """The agent's call is over: wrap-up, then the next call."""
        agent = self.acd.agent(agent_id)
        entry = agent.entry
        if agent.state != "busy":
            return
        if entry is None:
            if agent.call is not None:
                self.end_direct(agent, released_by)
            return
        self.end_call(agent, entry, released_by, "call_ended")

    def offer_direct(self, agent_id, call):
        """Reserve a ready agent for a call that comes to it by name, not
        through a queue (a consultation): the owner rings it and times it."""
        agent = self.acd.agent(agent_id)
        if agent.state != "ready":
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}, not ready")
        agent.entry, agent.call, agent.direct_queue = None, call, None
        self.acd.states.fire(agent, "offer", call=call.id, why="direct")

    def answered_direct(self, agent_id):
        agent = self.acd.agent(agent_id)
        if agent.state != "reserved" or agent.entry is not None:
            raise ACDError("invalid_state", f"agent {agent_id} has no direct call ringing")
        agent.answered_at = self.acd.clock.seconds()
        agent.no_answers = 0
        agent.calls_direct += 1
        self.acd.states.fire(agent, "answer", call=agent.call.id, why="direct")

    def withdraw_direct(self, agent_id, why, pause=None):
        """A direct call stopped ringing unanswered (or its caller gave up);
        `pause`: the agent straight to not ready for this reason (its
        phone gone), never ready in between."""
        agent = self.acd.agent(agent_id)
        if agent.state == "reserved" and agent.entry is None:
            call, agent.call = agent.call, None
            if pause is not None:
                self.acd.states.not_ready(agent, pause, "no_answer_pause",
                                          call=call.id if call else None)
                return
            self.acd.states.fire(agent, "withdrawn", call=call.id if call else None, why=why)
            self.acd.offers.free(agent)

    def dial_out(self, agent_id, call):
        """The agent makes a call of its own (ready or not ready): busy
        until it ends, then back to the state it was in."""
        agent = self.acd.agent(agent_id)
        if agent.state not in ("ready", "notReady"):
            raise ACDError("invalid_state", f"agent {agent_id} is {agent.state}: a call of "
                           "its own needs ready or notReady")
        agent.return_to = (agent.state, agent.reason)
        agent.entry, agent.call, agent.direct_queue = None, call, None
        agent.answered_at = self.acd.clock.seconds()
        agent.calls_out += 1
        self.acd.states.fire(agent, "dial_out", call=call.id)

    def take_call(self, agent_id, call, queue=None):
        """A busy agent's call is now `call` (a transfer it consulted on
        completed): its end gets `queue`'s wrap-up (a QueueState: its
        settings even if a reload removes it meanwhile), or none."""
        agent = self.acd.agent(agent_id)
        agent.call, agent.direct_queue = call, queue

    def end_direct(self, agent, released_by):
        call, agent.call = agent.call, None
        agent.talk_s += self.acd.clock.seconds() - agent.answered_at
        queue, agent.direct_queue = agent.direct_queue, None
        agent.last_call = call if queue is not None else None
        back, agent.return_to = agent.return_to, None
        if queue is None and back is not None and back[0] == "notReady":
            agent.reason = back[1]
            self.acd.states.fire(agent, "released_paused", call=call.id if call else None,
                                 why=released_by)
            return
        if queue is None:
            self.acd.states.fire(agent, "released", call=call.id if call else None, why=released_by)
            self.acd.offers.free(agent)
            return
        now = self.acd.clock.seconds()
        config = queue.config
        agent.wrap_mode, agent.wrap_started, agent.wrap_queue = self.wrap_mode(agent, config),\
            now, queue
        agent.wrap_talk = now - agent.answered_at
        self.acd.states.fire(agent, "call_ended", call=call.id if call else None, why=released_by)
        if agent.wrap_mode != "agent":
            agent.wrap_ends = now + config.wrap_up_s
            agent.wrap_timer = self.acd.clock.callLater(config.wrap_up_s, self.wrap_done, agent)

    @staticmethod
    def wrap_mode(agent, config):
        """The queue's wrap-up, or the agent's own after-call work asked
        during the call (no timer: until the agent ends it)."""
        if agent.pending is not None and agent.pending[0] == "workingAfterCall":
            agent.pending = None
            return "agent"
        return config.wrap_up

    def end_call(self, agent, entry, released_by, event):
        now = self.acd.clock.seconds()
        talk = now - agent.answered_at
        wait = agent.answered_at - entry.since
        kind = "COMPLETEAGENT" if released_by == "agent" else "COMPLETECALLER"
        self.acd.owner.record_queue(entry.call.id, entry.queue.name, agent.id, kind, round(wait),
                                    round(talk), entry.position)
        agent.entry = None
        agent.talk_s += talk
        call, agent.call = agent.call, None
        agent.last_call = call
        config = entry.queue.config
        agent.wrap_mode = self.wrap_mode(agent, config)
        agent.wrap_started = now
        agent.wrap_queue = entry.queue
        agent.wrap_talk = talk
        if agent.wrap_mode != "agent":          # before the event, which shows its end
            agent.wrap_ends = now + config.wrap_up_s
            agent.wrap_timer = self.acd.clock.callLater(config.wrap_up_s, self.wrap_done, agent)
        self.acd.states.fire(agent, event, call=call.id if call is not None else None,
                             why=released_by)

    def wrap_done(self, agent):
        agent.wrap_timer = None
        agent.wrap_ends = None
        if agent.state != "workingAfterCall":
            return
        if agent.pending is not None:
            self.apply_pending(agent)
        else:
            self.acd.states.go_ready(agent, "wrap-up over")

    def apply_pending(self, agent):
        state, reason = agent.pending
        agent.pending = None
        if state == "loggedOff":
            self.acd.states.logout_now(agent, reason)
        elif agent.state != "notReady":
            self.acd.states.not_ready(agent, reason)
