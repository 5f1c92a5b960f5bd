# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""The ACD's queues and agents as configured: taken at the start, and
again from a reloaded configuration (cti.server.reload) without dropping
a call.

What the ACD derives from the configuration is rebuilt each time: the
queues' skill rules, who lists which queue, who has which skill, the
queues each agent serves, and the router's index (cti.server.queueing
.router), which is only an index of the live state.  The live state is
kept: a queue that stays keeps its figures, its callers and their
places; an agent who stays keeps its state, its call, its statistics and
its timers.  The monitors of a queue whose settings changed are told
(`QueueChanged`)::

    acd.configuration.refusals(queues, agents)   # [] or what may not go now
    acd.configuration.take(queues, agents)        # the new queues and agents

What may not go while it is in use: a queue with callers waiting in it
(ringing an agent, or kept for a callback), an agent logged in.  A queue
that stays takes its new settings for what it does next: the next offer
follows its new strategy (a strategy a supervisor set live stays, unless
the file's changes too), the next ring its new ring timeout, the next
wrap-up its new length.  A caller waiting keeps its place, its priority
and the timers already running (its max wait); under new skill rules it
has the rule its wait has reached.
"""
from cti.server.errors import ACDError
from cti.server.queueing.router import Router
from cti.server.queueing.state import AGENT, AgentState, QueueState, Routed, rules_of


class Configuration:
    """The ACD's part `configuration`."""

    def __init__(self, acd):
        self.acd = acd

    def refusals(self, queues, agents):
        """What the ACD cannot let go of now, were it to take `queues` and
        `agents`: a list of (object kind, id, why), empty when it can."""
        acd = self.acd
        staying = {q.name for q in queues}
        refused = []
        for name in acd.queues:
            waiting = acd.waiting(name) if name not in staying else ()
            if waiting:
                calls = ", ".join(entry.call.id for entry in waiting)
                refused.append(("queue", name, f"queue {name} has callers waiting ({calls}): "
                                "it can be removed once nobody waits in it"))
        staying = {a.id for a in agents}
        for agent in acd.agents.values():
            if agent.id not in staying and agent.state != "loggedOff":
                refused.append(("agent", agent.id, f"agent {agent.id} is logged in at "
                                f"{agent.station}: it can be removed once logged out"))
        return refused

    def take(self, queues, agents):
        """Serve these queues with these agents from now on (ACDError
        invalid_state, and nothing changed, when `refusals` has any)."""
        refused = self.refusals(queues, agents)
        if refused:
            raise ACDError("invalid_state", "; ".join(why for _, _, why in refused),
                           objects=[{"object": kind, "id": name} for kind, name, _ in refused])
        acd = self.acd
        changed = [q.name for q in queues if q.name in acd.queues
                   and acd.queues[q.name].config != q]
        ready = [a for a in acd.agents.values() if acd.router.is_ready(a)] if acd.router else []
        waiting = sorted(acd.entries.values(), key=lambda entry: entry.order_key)
        last_offered = {name: queue.last_order
                        for name, queue in (acd.router.queues if acd.router else {}).items()}
        acd.queues = {q.name: self._queue(q) for q in queues}
        acd.leave_empty = [s for s in acd.queues.values() if s.config.leave_empty]
        acd.rules = {q.name: rules_of(q) for q in queues}
        acd.agents = {a.id: self._agent(a, i) for i, a in enumerate(agents)}
        acd.by_skill, acd.members = {}, {}
        for agent in acd.agents.values():
            for skill in agent.skills:
                acd.by_skill.setdefault(skill, []).append(agent)
            for queue in agent.member_of:
                acd.members.setdefault(queue, []).append(agent)
            agent.serves = []
        for name in acd.queues:
            for agent in acd.serving(name):
                agent.serves.append(name)
        acd.router = Router(acd.clock, [Routed(q.name, q.strategy, acd.rules[q.name])
                                        for q in acd.queues.values()], acd.random)
        for name, order in last_offered.items():
            if name in acd.router.queues:
                acd.router.queues[name].last_order = order
        for agent in ready:
            acd.router.agent_ready(agent)
        for entry in waiting:                  # in the order they were: their places kept
            self._rewait(entry)
        self._serve(ready)
        for name in changed:                   # its monitors see its new settings
            acd.publish("queue", name, "QueueChanged", acd.describe_queue(acd.queues[name]))

    def _queue(self, config):
        """A queue's state: the one it had (its figures), with `config`."""
        queue = self.acd.queues.get(config.name)
        if queue is None:
            return QueueState(config, config.strategy)
        if config.strategy != queue.config.strategy:   # else a supervisor's choice stays
            queue.strategy = config.strategy
        queue.config = config
        return queue

    def _agent(self, config, order):
        """An agent's state: the one it had (its state, call, timers), with `config`."""
        agent = self.acd.agents.get(config.id)
        if agent is None:
            agent = AgentState(config, order)
            agent.machine = AGENT.machine(self.acd.clock, f"agent {config.id}",
                                          on_change=self.acd.states.changed(agent))
        agent.config, agent.order = config, order
        return agent

    def _rewait(self, entry):
        """A waiting caller in the new router: the rule its wait has
        reached under its queue's rules, its widening timed again."""
        acd = self.acd
        rules = acd.rules[entry.queue_name]
        waited = acd.clock.seconds() - entry.since
        entry.rule = max((i for i, rule in enumerate(rules) if rule.after_s <= waited),
                         default=0)
        timer = entry.timers.pop("widen", None)
        if timer is not None and timer.active():
            timer.cancel()
        acd.router.add_caller(entry)
        acd.callers.schedule_widen(entry)

    def _serve(self, ready):
        """What the new configuration makes possible now: free agents take
        callers they may serve now; callers whose queue nobody is left to
        serve leave it (leave_empty)."""
        for agent in ready:
            self.acd.offers.serve_agent(agent)
        for queue in self.acd.leave_empty:
            self.acd.callers.leave_if_empty(queue)
