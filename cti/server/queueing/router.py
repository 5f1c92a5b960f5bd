# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_router -*-
"""The routing index: which free agent takes a caller, which caller a freed agent takes.

The ACD (cti.server.queueing.acd) keeps agents' states and the timers; this module
answers its two questions quickly, whatever the size of the centre::

    router = Router(clock, queue_configs, rng)
    router.agent_ready(agent)          # agent.idle_since, .calls, .talk_s are final now
    router.add_caller(entry)           # entry.queue_name, .priority, .first_since, .rule
    router.pick_agent(entry)           # -> the agent the queue's strategy chooses, or None
    router.pick_caller(agent)          # -> the caller this agent should take, or None
    router.widen(entry)                # the caller's next skill rule applies
    router.agent_unready(agent);  router.remove_caller(entry)

Who may serve a queue.  A queue without skills is served by its members:
the agents who list it in `queues`.  A queue with skills is served by every
agent who has each skill at the least level its current rule asks; rules
widen as the caller waits (rule 0 from the start, rule 1 after its
`after_s`...).

The global order.  A freed agent takes, across every queue it can serve,
the caller with the highest priority, and among equals the one who has
waited longest (`first_since`, its first arrival in a queue: an
overflow keeps it; then arrival order).  Callers ringing an agent
already, or who let this agent's phone ring out (`entry.tried`), are passed
over.

How it stays fast: everything is indexed by *requirement*, what a caller
asks of an agent -- membership of a queue (`("queue", name)`), or a rule's
skills and least levels (`(("english", 5), ("billing", 3))`).  Queues with
the same rule share one.

- Each requirement has a pool of the free agents who meet it, kept sorted by
  the keys its queues' strategies read (idle since, calls taken, talk time,
  configuration order).  Picking an agent for a caller reads one pool from
  the front and stops at the first agent not excluded.
- Each requirement has the callers who ask it, in the global order.  A freed
  agent looks at the head of each requirement it meets: a handful, however
  many queues there are.
- Sorted lists use bisect; inserting is a memmove, cheap in C even at
  100,000 agents.  An agent's state change touches the pools of the
  requirements it meets.  Only weighted_random looks at every free agent of
  its pool (its weights change with time).
"""
import itertools
from bisect import bisect_left, insort
from dataclasses import dataclass, field

#: The sort key each strategy reads, as a function of the agent.  Keys end
#: with the agent's unique configuration order, so two never tie.
KEYS = {
    "idle": lambda a: (a.idle_since, a.order),
    "calls": lambda a: (a.calls, a.idle_since, a.order),
    "talk": lambda a: (a.talk_s, a.idle_since, a.order),
    "order": lambda a: (a.order,),
}

#: Strategy -> the key its pools are sorted by.  Random strategies walk the
#: idle order for ring_all-style "every agent" questions.
STRATEGY_KEY = {"longest_idle": "idle", "ring_all": "idle", "fewest_calls": "calls",
                "least_talk_time": "talk", "linear": "order", "round_robin": "order",
                "random": "idle", "weighted_random": "idle"}


@dataclass(frozen=True)
class Rule:
    """From `after_s` seconds of waiting, agents need these skill levels."""

    after_s: int
    needs: tuple            # ((skill, least level), ...)

    def accepts(self, skills):
        return all(skills.get(s, 0) >= level for s, level in self.needs)


def _accepts(needs, skills):
    return all(skills.get(s, 0) >= level for s, level in needs)


def _run(items, first):
    """The items of a sorted list from index `first` on, lazily."""
    return (items[j] for j in range(first, len(items)))


class Pool:
    """The free agents meeting one requirement, sorted by each key in use."""

    def __init__(self):
        self.agents = []            # for random choice
        self.index = {}             # agent -> position in self.agents
        self.sorted = {}            # key name -> [(key..., agent)]

    def __len__(self):
        return len(self.agents)

    def add(self, agent, keys):
        self.index[agent] = len(self.agents)
        self.agents.append(agent)
        for name, items in self.sorted.items():
            insort(items, keys[name] + (agent,))

    def remove(self, agent, keys):
        i = self.index.pop(agent)
        last = self.agents.pop()
        if last is not agent:
            self.agents[i] = last
            self.index[last] = i
        for name, items in self.sorted.items():
            del items[bisect_left(items, keys[name] + (agent,))]

    def sort_by(self, name):
        if name not in self.sorted:
            self.sorted[name] = sorted(KEYS[name](a) + (a,) for a in self.agents)

    def walk(self, name, start=()):
        """Agents in key order, from the key `start` on."""
        items = self.sorted[name]
        return (item[-1] for item in _run(items, bisect_left(items, start) if start else 0))


@dataclass(eq=False)
class RoutedQueue:
    """What the router knows of a queue: its strategy, requirements and callers."""

    name: str
    strategy: str
    requirements: tuple            # the requirement of each rule (one for member queues)
    waiting: list = field(default_factory=list)     # [(-priority, since, seq, entry)]
    last_order: int = -1           # round robin: the last agent offered a call


class Router:
    def __init__(self, clock, queues, rng):
        """`queues`: configurations with name, strategy and rules (a tuple
        of Rule; empty for a queue served by its members).  `rng`: a
        random.Random for the random strategies."""
        self.clock = clock
        self.rng = rng
        self.queues = {}
        self.pools = {}             # requirement -> Pool of free agents
        self.callers = {}           # requirement -> [(-priority, since, seq, entry)]
        self.skill_requirements = {}   # skill -> skill requirements naming it
        self.keys = {}              # free agent -> {key name: key}
        self._met = {}              # agent -> the requirements it meets (fixed for the
                                    # router's life: a reload builds a new router)
        self._seq = 0
        for q in queues:
            if q.rules:
                requirements = tuple(tuple(sorted(rule.needs)) for rule in q.rules)
            else:
                requirements = (("queue", q.name),)
            self.queues[q.name] = RoutedQueue(q.name, q.strategy, requirements)
            for requirement in requirements:
                if requirement not in self.pools:
                    self.pools[requirement] = Pool()
                    self.callers[requirement] = []
                    if requirement[0] != "queue":
                        for skill, _ in requirement:
                            self.skill_requirements.setdefault(skill, []).append(requirement)
                self.pools[requirement].sort_by(STRATEGY_KEY[q.strategy])

    def met_by(self, agent):
        """The requirements this agent meets: its member queues', and every
        skill rule its levels satisfy."""
        met = self._met.get(agent)
        if met is None:
            met = [("queue", q) for q in sorted(agent.member_of)
                   if ("queue", q) in self.pools]
            seen = set()
            for skill in agent.skills:
                for requirement in self.skill_requirements.get(skill, ()):
                    if requirement not in seen and _accepts(requirement, agent.skills):
                        seen.add(requirement)
                        met.append(requirement)
            self._met[agent] = met
        return met

    def set_strategy(self, queue_name, strategy):
        """Change a live queue's strategy; waiting callers keep their places."""
        queue = self.queues[queue_name]
        queue.strategy = strategy
        for requirement in queue.requirements:
            self.pools[requirement].sort_by(STRATEGY_KEY[strategy])

    # -- agents --------------------------------------------------------------
    def agent_ready(self, agent):
        """The agent is free: it may be picked.  Its idle_since, calls and
        talk_s must not change until agent_unready."""
        keys = {name: key(agent) for name, key in KEYS.items()}
        self.keys[agent] = keys
        for requirement in self.met_by(agent):
            self.pools[requirement].add(agent, keys)

    def agent_unready(self, agent):
        keys = self.keys.pop(agent, None)
        if keys is None:
            return
        for requirement in self.met_by(agent):
            self.pools[requirement].remove(agent, keys)

    def is_ready(self, agent):
        return agent in self.keys

    def can_serve(self, agent, entry):
        """May this agent take this caller now (membership, or skills)?"""
        requirement = self.queues[entry.queue_name].requirements[entry.rule]
        if requirement[0] == "queue":
            return entry.queue_name in agent.member_of
        return _accepts(requirement, agent.skills)

    # -- callers -------------------------------------------------------------
    def _requirement(self, entry):
        return self.queues[entry.queue_name].requirements[entry.rule]

    def add_caller(self, entry):
        """The caller waits; returns its position in its queue (1 = next)."""
        self._seq += 1
        # served highest priority first, then by first arrival: a caller who
        # overflowed here, or is called back again, keeps its place
        entry.order_key = (-entry.priority, entry.first_since, self._seq)
        item = entry.order_key + (entry,)
        insort(self.callers[self._requirement(entry)], item)
        waiting = self.queues[entry.queue_name].waiting
        insort(waiting, item)
        return bisect_left(waiting, item) + 1

    @staticmethod
    def _drop(items, entry):
        i = bisect_left(items, entry.order_key + (entry,))
        if i < len(items) and items[i][-1] is entry:
            del items[i]

    def remove_caller(self, entry):
        self._drop(self.callers[self._requirement(entry)], entry)
        self._drop(self.queues[entry.queue_name].waiting, entry)

    def widen(self, entry):
        """The caller's next rule applies (the ACD times it)."""
        self._drop(self.callers[self._requirement(entry)], entry)
        entry.rule += 1
        insort(self.callers[self._requirement(entry)], entry.order_key + (entry,))

    def position(self, entry):
        """1 for the next caller to be served in its queue."""
        waiting = self.queues[entry.queue_name].waiting
        return bisect_left(waiting, entry.order_key + (entry,)) + 1

    def waiting(self, queue_name):
        """The callers waiting in a queue, the next to be served first."""
        return [item[-1] for item in self.queues[queue_name].waiting]

    def has_callers(self, queue_name):
        return bool(self.queues[queue_name].waiting)

    # -- the two questions -----------------------------------------------------
    def pick_agent(self, entry, exclude=()):
        """The free agent the queue's strategy chooses for the entry, or None."""
        found = self.pick_agents(entry, exclude, every=False)
        return found[0] if found else None

    def pick_agents(self, entry, exclude=(), every=None):
        """The agents to offer the entry to: one, or for ring_all every free
        agent who may serve it (longest idle first)."""
        queue = self.queues[entry.queue_name]
        strategy = queue.strategy
        if every is None:
            every = strategy == "ring_all"
        pool = self.pools[queue.requirements[entry.rule]]
        if not pool.agents:
            return []
        if strategy == "random" and not every:
            agent = self._random(pool, exclude)
            return [agent] if agent else []
        if strategy == "weighted_random" and not every:
            agent = self._weighted(pool, exclude)
            return [agent] if agent else []
        name = STRATEGY_KEY[strategy]
        walk = pool.walk(name)
        if strategy == "round_robin":   # the next after the last offered, then wrap
            walk = itertools.chain(pool.walk(name, (queue.last_order + 1,)), walk)
        if every:
            return [a for a in walk if a not in exclude]
        agent = next((a for a in walk if a not in exclude), None)
        return [] if agent is None else [agent]

    def _random(self, pool, exclude):
        """Uniform among the free agents not excluded: a few draws, then a count."""
        for _ in range(8):
            agent = pool.agents[self.rng.randrange(len(pool.agents))]
            if agent not in exclude:
                return agent
        fitting = [a for a in pool.agents if a not in exclude]
        return self.rng.choice(fitting) if fitting else None

    def _weighted(self, pool, exclude):
        """Weighted by the agent's `weight` times its seconds idle (+1): of
        two agents idle as long, one of weight 2 is picked twice as often
        as one of weight 1."""
        fitting = [a for a in pool.agents if a not in exclude]
        if not fitting:
            return None
        now = self.clock.seconds()
        return self.rng.choices(fitting, [a.weight * (now - a.idle_since + 1)
                                          for a in fitting])[0]

    def offered(self, entry, agent):
        """Round robin remembers who was offered last."""
        self.queues[entry.queue_name].last_order = agent.order

    def pick_caller(self, agent):
        """The caller this free agent should take: the highest priority,
        then the longest waiting, across every queue it serves."""
        best = None
        for requirement in self.met_by(agent):
            for item in self.callers[requirement]:
                if best is not None and item[:-1] >= best.order_key:
                    break
                entry = item[-1]
                if not entry.ringing and agent not in entry.tried:
                    best = entry
                    break
        return best
