# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_acd -*-
"""Offers: which agents ring with which caller, and what a ring comes to.

A waiting caller is offered to the agents its queue's strategy picks
(every free one who may serve it, for ring_all); a free agent takes the
caller the global order puts first.  A phone that rings out is withdrawn
and the next agent tried; agents who let a caller ring out are passed
over for it until a new round starts (no other agent free, and no sooner
than `retry_s`); after `max_no_answer` offers in a row rung out the agent
is put not ready ("no answer").  The first to answer takes the caller.
"""
from twisted.logger import Logger

from cti.server.errors import ACDError

log = Logger()


class Offers:
    """The pairing of callers and agents (the ACD's part `offers`)."""

    def __init__(self, acd):
        self.acd = acd

    def serve_entry(self, entry):
        """Offer a waiting caller to the agents its queue's strategy picks."""
        if not entry.waiting or entry.ringing:
            return
        agents = self.acd.router.pick_agents(entry, exclude=entry.tried)
        if not agents and entry.tried and "retry" not in entry.timers:
            entry.tried.clear()                 # everyone free had a ring: a new round
            agents = self.acd.router.pick_agents(entry)
        if agents:
            self.offer(entry, agents)

    def serve_agent(self, agent):
        """A free agent takes the caller the global order puts first."""
        if agent.state != "ready":
            return
        entry = self.acd.router.pick_caller(agent)
        if entry is None:
            return
        if entry.queue.strategy == "ring_all":
            self.serve_entry(entry)
        else:
            self.offer(entry, [agent])

    def offer(self, entry, agents):
        entry.ringing = list(agents)
        for agent in agents:
            self.acd.router.offered(entry, agent)
            agent.entry = entry
            agent.call = entry.call
            agent.ring_timer = self.acd.clock.callLater(
                self.ring_s(agent, entry.queue_name), self.acd.no_answer, agent)
            self.acd.states.fire(agent, "offer", call=entry.call.id)
        for agent in agents:
            if agent.entry is entry and agent.state == "reserved":
                self.acd.owner.offer(entry, agent)

    def ring_s(self, agent, queue_name=None):
        """How long the agent's phone rings with a call: the agent's own
        `ring_timeout_s`, else the queue's; None when neither says (no
        queue, or one no longer configured)."""
        if agent.config.ring_timeout_s is not None:
            return agent.config.ring_timeout_s
        queue = self.acd.queues.get(queue_name)     # None too for a queue reloaded away
        return queue.config.ring_timeout_s if queue is not None else None

    @staticmethod
    def stop_ring_timer(agent):
        timer, agent.ring_timer = agent.ring_timer, None
        if timer is not None and timer.active():
            timer.cancel()

    def release_offer(self, agent):
        """Take the offer off the agent (its phone stops ringing)."""
        entry = agent.entry
        entry.ringing.remove(agent)
        self.stop_ring_timer(agent)
        agent.entry = None
        agent.call = None
        self.acd.owner.withdraw(entry, agent)
        return entry

    def withdraw(self, agent, why):
        """The offer to this agent is over, not by its doing (the caller hung
        up, another agent answered, the agent logged out)."""
        entry = self.release_offer(agent)
        self.acd.states.fire(agent, "withdrawn", call=entry.call.id, why=why)
        return entry

    def withdraw_all(self, entry, why):
        agents = list(entry.ringing)
        for agent in agents:
            self.withdraw(agent, why)
        for agent in agents:                    # pending states first: not offered again
            if agent.pending is not None:
                self.free(agent)
        for agent in agents:
            self.free(agent)

    def free(self, agent):
        """An offer to the agent is over: its pending state, or the next call."""
        if agent.state != "ready":
            return
        if agent.pending is not None:
            self.acd.agent_calls.apply_pending(agent)
        else:
            self.serve_agent(agent)

    def no_answer(self, agent, pause=None):
        """The agent's phone rang out (or the agent rejected the call);
        `pause`: straight to not ready for this reason (its phone gone)."""
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            return
        ring_ms = round((self.acd.clock.seconds() - agent.machine.since) * 1000)
        self.release_offer(agent)
        if not entry.tried and entry.waiting and "retry" not in entry.timers:
            entry.timers["retry"] = self.acd.clock.callLater(self.acd.settings.retry_s,
                                                             self.new_round, entry)
        entry.tried.add(agent)
        agent.no_answers += 1
        self.acd.owner.record_queue(entry.call.id, entry.queue.name, agent.id, "RINGNOANSWER",
                                    ring_ms)
        limit = self.acd.settings.max_no_answer
        if pause is not None:
            self.acd.states.not_ready(agent, pause, "no_answer_pause", call=entry.call.id)
        elif limit and agent.no_answers >= limit:
            agent.no_answers = 0
            self.acd.states.not_ready(agent, "no answer", "no_answer_pause", call=entry.call.id)
        else:
            self.acd.states.fire(agent, "no_answer", call=entry.call.id)
        self.ring_over(entry)
        self.free(agent)

    def ring_over(self, entry):
        """No phone rings with the waiting caller any more, unanswered: it
        leaves if its max wait passed while it rang, else the next agent."""
        if not entry.waiting or entry.ringing:
            return
        if entry.overdue:
            self.acd.callers.exit(entry, "timeout")
        else:
            self.serve_entry(entry)

    def new_round(self, entry):
        """retry_s after the round's first ring-out: the agents who let it
        ring may be tried again, once no other agent is free for it."""
        entry.timers.pop("retry", None)
        self.serve_entry(entry)

    def answered(self, agent_id):
        """The agent took the call: it leaves the queue.  Returns the entry."""
        agent = self.acd.agent(agent_id)
        entry = agent.entry
        if entry is None or agent.state != "reserved":
            raise ACDError("invalid_state", f"agent {agent_id} has no call ringing")
        now = self.acd.clock.seconds()
        wait = now - entry.since
        ring = now - agent.machine.since
        entry.ringing.remove(agent)
        self.stop_ring_timer(agent)
        self.acd.callers.leave(entry)
        entry.agent = agent
        self.withdraw_all(entry, f"answered by agent {agent.id}")
        queue = entry.queue
        queue.answered += 1
        queue.wait_total += wait
        if wait <= queue.config.service_level_s:
            queue.answered_in_sl += 1
        agent.calls += 1
        agent.no_answers = 0
        agent.answered_at = now
        self.acd.states.fire(agent, "answer", call=entry.call.id)
        self.acd.owner.record_queue(entry.call.id, queue.name, agent.id, "CONNECT", round(wait),
                                    entry.call.id, round(ring))
        return entry
