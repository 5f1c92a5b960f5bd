# SPDX-License-Identifier: GPL-2.0-or-later
"""The routing index alone: after any sequence of agents going ready and
unready, callers arriving, widening, ringing, letting it ring out and
leaving, and strategies changing, pick_agent and pick_caller answer what a
brute-force search over the same agents and callers answers."""
import random

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from twisted.internet import task

from cti.server.queueing.router import Router, Rule

#: Strategies compared with the reference; the random ones are only checked
#: to pick an agent who fits.
ORDERED = ("longest_idle", "ring_all", "fewest_calls", "least_talk_time", "linear",
           "round_robin")
RANDOM = ("random", "weighted_random")

SKILLS = ("spanish", "english", "billing")

#: Skill levels the agents hold (0: not at all): every level, so a rule is
#: met by agents at several levels of its skills.
LEVELS = {skill: tuple(range(1, 11)) for skill in SKILLS}


class Q:
    def __init__(self, name, strategy, rules=()):
        self.name, self.strategy, self.rules = name, strategy, tuple(rules)


def queues():
    return [
        Q("m1", "longest_idle"),
        Q("m2", "fewest_calls"),
        Q("s1", "least_talk_time", [Rule(0, (("spanish", 5),)), Rule(10, (("spanish", 3),)),
                                    Rule(20, (("english", 2), ("spanish", 1)))]),
        Q("s2", "linear", [Rule(0, (("billing", 4), ("english", 4))),
                           Rule(5, (("english", 1),))]),
        Q("s3", "round_robin", [Rule(0, (("english", 6),))]),
    ]


class Agent:
    def __init__(self, order, member_of, skills):
        self.id = f"a{order}"
        self.order = order
        self.member_of = member_of
        self.skills = skills
        self.weight = 1
        self.idle_since = 0.0
        self.calls = 0
        self.talk_s = 0.0

    def __repr__(self):
        return (f"{self.id}(idle={self.idle_since}, calls={self.calls}, talk={self.talk_s}, "
                f"queues={self.member_of}, skills={self.skills})")


class Entry:
    def __init__(self, queue_name, priority, since):
        self.queue_name = queue_name
        self.priority = priority
        self.first_since = since      # the first arrival orders callers
        self.rule = 0
        self.ringing = []
        self.tried = set()
        self.order_key = ()

    def __repr__(self):
        return (f"Entry({self.queue_name}, p={self.priority}, since={self.first_since}, "
                f"rule={self.rule}, ringing={bool(self.ringing)}, tried={self.tried})")


# -- the reference: every agent, every caller, by the rules in the docstring ------
KEY = {
    "longest_idle": lambda a: (a.idle_since, a.order),
    "ring_all": lambda a: (a.idle_since, a.order),
    "fewest_calls": lambda a: (a.calls, a.idle_since, a.order),
    "least_talk_time": lambda a: (a.talk_s, a.idle_since, a.order),
    "linear": lambda a: (a.order,),
    "round_robin": lambda a: (a.order,),
}


def serves(queue, agent, entry):
    if queue.rules:
        return all(agent.skills.get(s, 0) >= level for s, level in queue.rules[entry.rule].needs)
    return queue.name in agent.member_of


def reference_agents(queue, strategy, last_order, free, entry, exclude):
    """The agents to offer the entry to: [] or [one], every fitting agent for ring_all."""
    fitting = sorted((a for a in free if a not in exclude and serves(queue, a, entry)),
                     key=KEY.get(strategy, KEY["longest_idle"]))
    if strategy == "ring_all":
        return fitting
    if strategy == "round_robin":
        after = [a for a in fitting if a.order > last_order]
        return (after or fitting)[:1]
    return fitting[:1]


def reference_caller(queues, agent, waiting):
    """The caller this agent takes: the highest priority, then the longest wait."""
    best = None
    for entry, seq in waiting:
        if entry.ringing or agent in entry.tried or not serves(queues[entry.queue_name],
                                                                 agent, entry):
            continue
        key = (-entry.priority, entry.first_since, seq)
        if best is None or key < best[0]:
            best = (key, entry)
    return best[1] if best else None


class RoutingIndex(RuleBasedStateMachine):
    @initialize(agents=st.lists(
        st.tuples(st.sampled_from([{"m1"}, {"m1", "m2"}, {"m2"}, set()]),
                  st.fixed_dictionaries({s: st.sampled_from((0,) + LEVELS[s])
                                         for s in SKILLS})),
        min_size=3, max_size=8))
    def setup(self, agents):
        self.clock = task.Clock()
        self.clock.advance(10)      # agents went ready at 0..5: in the past
        self.configs = {q.name: q for q in queues()}
        self.strategy = {q.name: q.strategy for q in self.configs.values()}
        self.last_order = {name: -1 for name in self.configs}
        self.router = Router(self.clock, list(self.configs.values()), random.Random(1))
        self.agents = [Agent(i, tuple(sorted(member_of)),
                             {s: level for s, level in skills.items() if level})
                       for i, (member_of, skills) in enumerate(agents)]
        self.free = set()
        self.waiting = []           # [(entry, arrival seq)]
        self.seq = 0

    # -- agents ------------------------------------------------------------------
    @rule(i=st.integers(0, 7), idle=st.integers(0, 5), calls=st.integers(0, 3),
          talk=st.integers(0, 3))
    def agent_ready(self, i, idle, calls, talk):
        agent = self.agents[i % len(self.agents)]
        if agent in self.free:
            return
        agent.idle_since, agent.calls, agent.talk_s = float(idle), calls, float(talk)
        self.router.agent_ready(agent)
        self.free.add(agent)

    @rule(i=st.integers(0, 7))
    def agent_unready(self, i):
        agent = self.agents[i % len(self.agents)]
        self.router.agent_unready(agent)        # also when not ready: a no-op
        self.free.discard(agent)

    # -- callers -----------------------------------------------------------------
    @rule(queue=st.sampled_from(["m1", "m2", "s1", "s2", "s3"]), priority=st.integers(0, 2),
          since=st.integers(0, 5))
    def add_caller(self, queue, priority, since):
        entry = Entry(queue, priority, float(since))
        self.seq += 1
        self.waiting.append((entry, self.seq))
        position = self.router.add_caller(entry)
        assert position == self.position(entry)

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 50))
    def remove_caller(self, i):
        entry, _ = self.waiting.pop(i % len(self.waiting))
        self.router.remove_caller(entry)

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 50))
    def widen(self, i):
        entry, _ = self.waiting[i % len(self.waiting)]
        rules = self.configs[entry.queue_name].rules
        if entry.rule + 1 < len(rules):
            self.router.widen(entry)          # the router moves it to its next rule

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 50), ringing=st.booleans())
    def ring(self, i, ringing):
        entry, _ = self.waiting[i % len(self.waiting)]
        entry.ringing = ["someone"] if ringing else []

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 50), j=st.integers(0, 7), clear=st.booleans())
    def ring_out(self, i, j, clear):
        """An agent let the caller ring out (mostly one who could take it now)."""
        entry, _ = self.waiting[i % len(self.waiting)]
        if clear:
            entry.tried.clear()
            return
        queue = self.configs[entry.queue_name]
        could = [a for a in self.agents if a in self.free and serves(queue, a, entry)]
        agents = could or self.agents
        entry.tried.add(agents[j % len(agents)])

    @precondition(lambda self: self.waiting)
    @rule(i=st.integers(0, 50))
    def offer(self, i):
        """The ACD offers the caller to the agent picked (round robin remembers)."""
        entry, _ = self.waiting[i % len(self.waiting)]
        agent = self.router.pick_agent(entry, exclude=entry.tried)
        if agent is not None:
            self.router.offered(entry, agent)
            self.last_order[entry.queue_name] = agent.order

    @rule(queue=st.sampled_from(["m1", "m2", "s1", "s2", "s3"]),
          strategy=st.sampled_from(ORDERED + RANDOM))
    def set_strategy(self, queue, strategy):
        self.router.set_strategy(queue, strategy)
        self.strategy[queue] = strategy

    # -- what must hold ----------------------------------------------------------
    def position(self, entry):
        same = sorted((-e.priority, e.first_since, seq) for e, seq in self.waiting
                      if e.queue_name == entry.queue_name)
        seq = next(s for e, s in self.waiting if e is entry)
        return same.index((-entry.priority, entry.first_since, seq)) + 1

    @invariant()
    def callers_in_order(self):
        for name in self.configs:
            expected = sorted(((-e.priority, e.first_since, seq), e) for e, seq in self.waiting
                              if e.queue_name == name)
            assert self.router.waiting(name) == [e for _, e in expected]

    @invariant()
    def free_agents(self):
        for agent in self.agents:
            assert self.router.is_ready(agent) == (agent in self.free)

    @invariant()
    def pick_agent_as_the_reference(self):
        for entry, _ in self.waiting:
            queue = self.configs[entry.queue_name]
            strategy = self.strategy[queue.name]
            for exclude in (set(), entry.tried):
                got = self.router.pick_agents(entry, exclude=exclude)
                if strategy in RANDOM:
                    fits = {a for a in self.free if a not in exclude
                            and serves(queue, a, entry)}
                    assert len(got) == (1 if fits else 0), (entry, got)
                    assert set(got) <= fits, (entry, got)
                    continue
                expected = reference_agents(queue, strategy, self.last_order[queue.name],
                                            self.free, entry, exclude)
                assert got == expected, (strategy, entry, exclude)
                one = self.router.pick_agent(entry, exclude=exclude)
                assert one == (expected[0] if expected else None), (strategy, entry)

    @invariant()
    def pick_caller_as_the_reference(self):
        for agent in self.free:
            expected = reference_caller(self.configs, agent, self.waiting)
            assert self.router.pick_caller(agent) is expected, (agent, expected)


RoutingIndex.TestCase.settings = settings(
    derandomize=True, deadline=None, max_examples=250, stateful_step_count=40)
test_the_routing_index_answers_as_a_search_of_every_agent_and_caller = RoutingIndex.TestCase
