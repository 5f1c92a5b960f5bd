# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_router -*-
"""The routing index: which free agent takes a caller, which caller a freed agent takes.

The ACD (cti.server.acd) keeps agents' states and the timers; this module
answers its two questions quickly, whatever the size of the centre::

    router = Router(clock, queue_configs, rng)
    router.agent_ready(agent)          # agent.idle_since, .calls, .talk_s are final now
    router.add_caller(entry)           # entry.queue, .priority, .since, .rule
    router.pick_agent(entry)           # -> the agent the queue's strategy chooses, or None
    router.pick_caller(agent)          # -> the caller this agent should take, or None
    router.agent_unready(agent);  router.remove_caller(entry)

Who may serve a queue.  A queue without skills is served by its members:
the agents who list it in `queues`.  A queue with skills is served by every
agent who has each skill at the level its current rule asks; rules widen
as the caller waits (`rule 0` from the start, `rule 1` after its `after_s`
seconds...).  The ACD moves `entry.rule` on; the router reads it.

The global order.  A freed agent takes, across every queue it can serve,
the caller with the highest priority, and among equals the one who has
waited longest (`since`, then arrival order).  Callers ringing an agent
already, or who let this agent's phone ring out (`entry.tried`), are passed
over.

How it stays fast.  Free agents sit in *pools*: one per queue for member
queues, one per (skill, exact level) for skills.  Each pool keeps its
agents sorted by the keys the queues reading it need (seconds idle, calls
taken, talk time, configuration order), so the agent a strategy wants is
at the front: the walk stops at the first agent that fits.  A skill rule
reads the pools of its rarest skill at the asked level and above, merged;
its other skills are checked agent by agent.  Sorted lists use bisect:
inserting is a memmove, cheap in C even at 100,000 agents.  Only
weighted_random looks at every free agent (its weights change with time).
"""
import heapq
import itertools
from bisect import bisect_left, insort
from dataclasses import dataclass, field

#: The highest skill level (levels are 1..MAX_LEVEL).
MAX_LEVEL = 10

#: The sort key each strategy reads, as a function of the agent.
KEYS = {
    "idle": lambda a: (a.idle_since, a.order),
    "calls": lambda a: (a.calls, a.idle_since, a.order),
    "talk": lambda a: (a.talk_s, a.idle_since, a.order),
    "order": lambda a: (a.order,),
}

#: Strategy -> the key its pools are sorted by.  Random strategies walk the
#: idle order (so that ties and fallbacks are deterministic).
STRATEGY_KEY = {"longest_idle": "idle", "ring_all": "idle", "fewest_calls": "calls",
                "least_talk_time": "talk", "linear": "order", "round_robin": "order",
                "random": "idle", "weighted_random": "idle"}


@dataclass(frozen=True)
class Rule:
    """From `after_s` seconds of waiting, agents need these skill levels."""

    after_s: int
    needs: tuple            # ((skill, min level), ...)

    def accepts(self, skills):
        return all(skills.get(s, 0) >= level for s, level in self.needs)


class Pool:
    """The free agents of one source, sorted by each key some queue reads."""

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
            item = keys[name] + (agent,)
            del items[bisect_left(items, item)]

    def sort_by(self, name):
        if name not in self.sorted:
            self.sorted[name] = sorted(KEYS[name](a) + (a,) for a in self.agents)


@dataclass(eq=False)
class RoutedQueue:
    """What the router knows of a queue: its strategy, rules and callers."""

    name: str
    strategy: str
    rules: tuple = ()              # (Rule, ...) sorted by after_s; () for member queues
    waiting: list = field(default_factory=list)     # [(-priority, since, seq, entry)]
    last_order: int = -1           # round robin: the last agent offered a call

    @property
    def by_skill(self):
        return bool(self.rules)


class Router:
    def __init__(self, clock, queues, rng):
        """`queues`: configurations with name, strategy, rules (a tuple of
        Rule, empty for member queues).  `rng`: a random.Random."""
        self.clock = clock
        self.rng = rng
        self.queues = {q.name: RoutedQueue(q.name, q.strategy, tuple(q.rules)) for q in queues}
        self.pools = {}             # ("queue", name) | ("skill", skill, level) -> Pool
        self.keys = {}              # free agent -> {key name: key}
        self.by_skill_queues = {}   # skill -> [RoutedQueue asking for it in some rule]
        self._seq = 0
        for queue in self.queues.values():
            for skill in {s for rule in queue.rules for s, _ in rule.needs}:
                self.by_skill_queues.setdefault(skill, []).append(queue)
            self._sort_pools(queue)

    # -- pools ---------------------------------------------------------------
    def _pool(self, source):
        pool = self.pools.get(source)
        if pool is None:
            pool = self.pools[source] = Pool()
        return pool

    def _sort_pools(self, queue):
        """Make the pools this queue reads keep its strategy's order."""
        name = STRATEGY_KEY[queue.strategy]
        if queue.by_skill:
            for rule in queue.rules:
                for skill, low in rule.needs:
                    for level in range(low, MAX_LEVEL + 1):
                        self._pool(("skill", skill, level)).sort_by(name)
        else:
            self._pool(("queue", queue.name)).sort_by(name)

    def _sources(self, agent):
        for queue in agent.member_of:
            yield ("queue", queue)
        for skill, level in agent.skills.items():
            yield ("skill", skill, level)

    def set_strategy(self, queue_name, strategy):
        """Change a live queue's strategy; waiting callers keep their places."""
        queue = self.queues[queue_name]
        queue.strategy = strategy
        self._sort_pools(queue)

    # -- agents --------------------------------------------------------------
    def agent_ready(self, agent):
        """The agent is free: it may be picked.  Its idle_since, calls and
        talk_s must not change until agent_unready."""
        keys = {name: key(agent) for name, key in KEYS.items()}
        self.keys[agent] = keys
        for source in self._sources(agent):
            self._pool(source).add(agent, keys)

    def agent_unready(self, agent):
        keys = self.keys.pop(agent, None)
        if keys is None:
            return
        for source in self._sources(agent):
            self.pools[source].remove(agent, keys)

    def is_ready(self, agent):
        return agent in self.keys

    def can_serve(self, agent, entry):
        """May this agent take this caller, by membership or by skills now?"""
        queue = self.queues[entry.queue_name]
        if queue.by_skill:
            return queue.rules[entry.rule].accepts(agent.skills)
        return queue.name in agent.member_of

    # -- callers -------------------------------------------------------------
    def add_caller(self, entry):
        """The caller waits; returns its position (1 = next)."""
        self._seq += 1
        entry.order_key = (-entry.priority, entry.since, self._seq)
        waiting = self.queues[entry.queue_name].waiting
        item = entry.order_key + (entry,)
        insort(waiting, item)
        return bisect_left(waiting, item) + 1

    def remove_caller(self, entry):
        waiting = self.queues[entry.queue_name].waiting
        i = bisect_left(waiting, entry.order_key + (entry,))
        if i < len(waiting) and waiting[i][-1] is entry:
            del waiting[i]

    def position(self, entry):
        """1 for the next caller to be served in its queue."""
        waiting = self.queues[entry.queue_name].waiting
        return bisect_left(waiting, entry.order_key + (entry,)) + 1

    def callers(self, queue_name):
        """The callers waiting in a queue, the next to be served first."""
        return [item[-1] for item in self.queues[queue_name].waiting]

    # -- the two questions -----------------------------------------------------
    def _candidates(self, queue, entry):
        """(pools, check): the pools holding agents who may serve the entry,
        and a test for the skills the pools do not guarantee (or None)."""
        if not queue.by_skill:
            pool = self.pools.get(("queue", queue.name))
            return ([pool] if pool else []), None
        needs = queue.rules[entry.rule].needs
        best = None
        for skill, low in needs:        # the rarest skill's pools are walked
            pools = [p for level in range(low, MAX_LEVEL + 1)
                     if (p := self.pools.get(("skill", skill, level)))]
            size = sum(len(p) for p in pools)
            if best is None or size < best[0]:
                best = (size, skill, pools)
        _, primary, pools = best
        rest = tuple((s, level) for s, level in needs if s != primary)
        check = (lambda a: all(a.skills.get(s, 0) >= lv for s, lv in rest)) if rest else None
        return pools, check

    @staticmethod
    def _walk(pools, name, start=()):
        """Free agents of the pools in key order, from the key `start` on.
        (Keys end with the agent's unique order, so agents never compare.)"""
        runs = []
        for pool in pools:
            items = pool.sorted[name]
            first = bisect_left(items, start) if start else 0
            if first < len(items):
                runs.append(items[j] for j in range(first, len(items)))
        if len(runs) == 1:
            return (item[-1] for item in runs[0])
        return (item[-1] for item in heapq.merge(*runs))

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
        pools, check = self._candidates(queue, entry)
        if not pools:
            return []

        def fits(agent):
            return agent not in exclude and (check is None or check(agent))

        if strategy == "random" and not every:
            agent = self._random(pools, fits)
            return [agent] if agent else []
        if strategy == "weighted_random" and not every:
            agent = self._weighted(pools, fits)
            return [agent] if agent else []
        name = STRATEGY_KEY[strategy]
        walk = self._walk(pools, name)
        if strategy == "round_robin":   # the next after the last offered, then wrap
            walk = itertools.chain(self._walk(pools, name, (queue.last_order + 1,)), walk)
        found = []
        for agent in walk:
            if fits(agent):
                if not every:
                    return [agent]
                found.append(agent)
        return found

    def _random(self, pools, fits):
        """Uniform among the fitting free agents: a few draws, then a count."""
        sizes = [len(p) for p in pools]
        total = sum(sizes)
        for _ in range(8):
            i = self.rng.randrange(total)
            for pool, size in zip(pools, sizes):
                if i < size:
                    agent = pool.agents[i]
                    break
                i -= size
            if fits(agent):
                return agent
        fitting = [a for p in pools for a in p.agents if fits(a)]
        return self.rng.choice(fitting) if fitting else None

    def _weighted(self, pools, fits):
        """Weighted by seconds idle (+1)."""
        fitting = [a for p in pools for a in p.agents if fits(a)]
        if not fitting:
            return None
        now = self.clock.seconds()
        return self.rng.choices(fitting, [now - a.idle_since + 1 for a in fitting])[0]

    def offered(self, entry, agent):
        """Round robin remembers who was offered last."""
        self.queues[entry.queue_name].last_order = agent.order

    def queues_for(self, agent):
        """The queues this agent may serve some caller of."""
        seen = {}
        for name in agent.member_of:
            queue = self.queues.get(name)
            if queue is not None and not queue.by_skill:
                seen[name] = queue
        for skill in agent.skills:
            for queue in self.by_skill_queues.get(skill, ()):
                seen[queue.name] = queue
        return seen.values()

    def pick_caller(self, agent):
        """The caller this free agent should take: the highest priority,
        then the longest waiting, across every queue it serves."""
        best = None
        for queue in self.queues_for(agent):
            for item in queue.waiting:
                if best is not None and item[:-1] >= best.order_key:
                    break
                entry = item[-1]
                if entry.ringing or agent in entry.tried:
                    continue
                if not queue.by_skill or queue.rules[entry.rule].accepts(agent.skills):
                    best = entry
                    break
        return best
