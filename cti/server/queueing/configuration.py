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
its timers.  A reload is taken in three steps, so that no call is served
while some tables are old and others new::

    plan = acd.configuration.plan(queues, agents, on_the_way)
                                  # ACDError invalid_state, nothing changed, or
                                  # the new tables worked out, nothing changed yet
    acd.configuration.swap(plan)  # every table the new one: nothing served
    acd.configuration.serve(plan) # then, once the rest of the server has
                                  # swapped too: what the new tables make possible

`plan` refuses what may not go while it is in use: a queue with callers
waiting in it (ringing an agent, or kept for a callback) or calls on
their way to it (`on_the_way`: the owner's, a callback between attempts,
a trunk being answered for it), an agent logged in.  `serve` offers
waiting callers to the agents free now, sends those of a queue nobody is
left to serve to its overflow (leave_empty), and tells the monitors: a
queue added or whose settings changed (`QueueChanged`), an agent added or
changed, or whose queues changed with the queues' skills (`AgentChanged`).

A queue that stays takes its new settings for what it does next: the
next offer follows its new strategy (a strategy a supervisor set live
stays, unless the file's changes too), the next ring its new ring
timeout, the next wrap-up its new length.  A caller waiting keeps its
place, its priority and the timers already running (its max wait); under
new skill rules it has the rule its wait has reached.  A round robin
queue goes on after the agent it offered a call to last (by id: the
agents' places in the file may have changed), or after where that agent
was if it is gone.
"""
from bisect import bisect_right
from dataclasses import dataclass, field

from cti.server.errors import ACDError
from cti.server.queueing.router import Router
from cti.server.queueing.state import AGENT, AgentState, QueueState, Routed, rules_of


@dataclass(eq=False)
class Plan:
    """A configuration worked out before anything changes (`plan`), taken
    at once (`swap`), then served (`serve`)."""

    queues: dict                    # name -> QueueState: those that stay, and the new
    queue_configs: list             # (QueueState, its new config)
    agents: dict                    # id -> AgentState: those that stay, and the new
    agent_configs: list             # (AgentState, its new config, its new place)
    rules: dict                     # queue -> its skill rules
    by_skill: dict                  # skill -> the agents who have it
    members: dict                   # queue -> the agents who list it
    serves: dict                    # AgentState -> the queues it serves
    resume_after: dict              # round robin queue -> the agent id it goes on after
    removed_queues: list            # their names
    removed_agents: list            # their ids
    changed_queues: list = field(default_factory=list)   # added, or settings changed
    changed_agents: list = field(default_factory=list)   # added, or config/serves changed
    ready: list = field(default_factory=list)  # the agents free at the swap (`serve`)


class Configuration:
    """The ACD's part `configuration`."""

    def __init__(self, acd):
        self.acd = acd

    def refusals(self, queues, agents, on_the_way=None):
        """What the ACD cannot let go of now, were it to take `queues` and
        `agents`: a list of (object kind, id, why), empty when it can.
        `on_the_way`: queue -> [(call id, how)] of the calls heading for it
        that are not in it yet (the owner's)."""
        acd = self.acd
        on_the_way = on_the_way or {}
        staying = {q.name for q in queues}
        refused = []
        for name in acd.queues:
            if name in staying:
                continue
            waiting = [entry.call.id for entry in acd.waiting(name)]
            coming = [f"{call_id}: {how}" for call_id, how in on_the_way.get(name, ())]
            if not waiting and not coming:
                continue
            has = ([f"has callers waiting ({', '.join(waiting)})"] if waiting else []) + (
                [f"has calls on their way to it ({'; '.join(coming)})"] if coming else [])
            once = "nobody waits in it" + (" or is on the way to it" if coming else "")
            refused.append(("queue", name, f"queue {name} {' and '.join(has)}: it can be "
                                            f"removed once {once}"))
        staying = {a.id for a in agents}
        for agent in acd.agents.values():
            if agent.id not in staying and agent.state != "loggedOff":
                refused.append(("agent", agent.id, f"agent {agent.id} is logged in at "
                                f"{agent.station}: it can be removed once logged out"))
        return refused

    def plan(self, queues, agents, on_the_way=None):
        """The tables of these queues and agents, worked out without
        changing anything (ACDError invalid_state when `refusals` has any)."""
        refused = self.refusals(queues, agents, on_the_way)
        if refused:
            raise ACDError("invalid_state", "; ".join(why for _, _, why in refused),
                           objects=[{"object": kind, "id": name} for kind, name, _ in refused])
        acd = self.acd
        states = {q.name: acd.queues.get(q.name) or QueueState(q, q.strategy) for q in queues}
        olds = {a.id: acd.agents.get(a.id) for a in agents}
        agent_configs = [(olds[a.id] or self._new_agent(a, i), a, i)
                         for i, a in enumerate(agents)]
        rules = {q.name: rules_of(q) for q in queues}
        by_skill, members = {}, {}
        for agent, config, _ in agent_configs:
            for skill in config.skills:
                by_skill.setdefault(skill, []).append(agent)
            for queue in config.queues:
                members.setdefault(queue, []).append(agent)
        configs = {agent: config for agent, config, _ in agent_configs}
        serves = {agent: [] for agent, _, _ in agent_configs}
        for q in queues:
            for agent in self._serving(q.name, rules, by_skill, members, configs):
                serves[agent].append(q.name)
        plan = Plan(
            queues=states, queue_configs=[(states[q.name], q) for q in queues],
            agents={a.id: agent for agent, a, _ in agent_configs}, agent_configs=agent_configs,
            rules=rules, by_skill=by_skill, members=members, serves=serves,
            resume_after=self._round_robin_places({a.id for a in agents}),
            removed_queues=[name for name in acd.queues if name not in states],
            removed_agents=[agent_id for agent_id in acd.agents if agent_id not in olds])
        plan.changed_queues = [q.name for q in queues if q.name not in acd.queues
                               or acd.queues[q.name].config != q]
        plan.changed_agents = [a.id for agent, a, _ in agent_configs
                               if olds[a.id] is None or agent.config != a
                               or agent.serves != serves[agent]]
        return plan

    def swap(self, plan):
        """Every table of the ACD the plan's, at once: the calls waiting
        keep their places, the agents free stay free; nothing is served
        (`serve` does, after)."""
        acd = self.acd
        plan.ready = [a for a in acd.agents.values() if acd.router.is_ready(a)] \
            if acd.router else []
        waiting = sorted(acd.entries.values(), key=lambda entry: entry.order_key)
        for queue, config in plan.queue_configs:
            if config.strategy != queue.config.strategy:   # else a supervisor's choice stays
                queue.strategy = config.strategy
            queue.config = config
        for agent, config, order in plan.agent_configs:
            agent.config, agent.order, agent.serves = config, order, plan.serves[agent]
        acd.queues, acd.agents, acd.rules = plan.queues, plan.agents, plan.rules
        acd.by_skill, acd.members = plan.by_skill, plan.members
        acd.leave_empty = [s for s in acd.queues.values() if s.config.leave_empty]
        acd.router = Router(acd.clock, [Routed(q.name, q.strategy, acd.rules[q.name])
                                        for q in acd.queues.values()], acd.random)
        for name, agent_id in plan.resume_after.items():
            if name in acd.router.queues:
                acd.router.queues[name].last_order = acd.agents[agent_id].order
        for agent in plan.ready:
            acd.router.agent_ready(agent)
        for entry in waiting:                  # in the order they were: their places kept
            self._rewait(entry)

    def serve(self, plan):
        """What the swapped tables make possible now: free agents take
        callers they may serve now; callers whose queue nobody is left to
        serve leave it (leave_empty); the monitors of the queues and
        agents added or changed are told.  What a later reload took away
        meanwhile is let be."""
        acd = self.acd
        for agent in plan.ready:
            if acd.agents.get(agent.id) is agent:
                acd.offers.serve_agent(agent)
        for queue in acd.leave_empty:
            acd.callers.leave_if_empty(queue)
        for name in plan.changed_queues:
            if plan.queues.get(name) is acd.queues.get(name):
                acd.publish("queue", name, "QueueChanged", acd.describe_queue(acd.queues[name]))
        for agent_id in plan.changed_agents:
            if plan.agents.get(agent_id) is acd.agents.get(agent_id):
                acd.publish("agent", agent_id, "AgentChanged",
                            acd.describe(acd.agents[agent_id]))

    def _new_agent(self, config, order):
        agent = AgentState(config, order)
        agent.machine = AGENT.machine(self.acd.clock, f"agent {config.id}",
                                      on_change=self.acd.states.changed(agent))
        return agent

    @staticmethod
    def _serving(name, rules, by_skill, members, configs):
        """The agents who may serve queue `name` (as ACD.serving, by the new
        configurations `configs`)."""
        if not rules[name]:
            return members.get(name, [])
        widest = rules[name][-1]
        return [a for a in by_skill.get(widest.needs[0][0], ())
                if widest.accepts(configs[a].skills)]

    def _round_robin_places(self, staying):
        """Queue -> the id of the agent round robin goes on after: the one
        offered a call last, or if it is to go, the last before it (in the
        running order) that stays; none when no agent was offered one yet
        or none before it stays."""
        acd = self.acd
        if acd.router is None:
            return {}
        kept = sorted((a.order, a.id) for a in acd.agents.values() if a.id in staying)
        orders = [order for order, _ in kept]
        places = {}
        for name, routed in acd.router.queues.items():
            at = bisect_right(orders, routed.last_order)
            if routed.last_order >= 0 and at:
                places[name] = kept[at - 1][1]
        return places

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
