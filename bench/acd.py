# SPDX-License-Identifier: GPL-2.0-or-later
"""How long the ACD takes to pair a caller and an agent, and how that grows.

A centre of AGENTS agents and QUEUES queues: SKILLS skills, each agent
holding 3 to 5 of them at levels 1..10; most queues ask for one or two
skills at a least level and widen after 30 s, a tenth are served by listed
members; strategies mixed (half longest idle, the rest fewest calls, least
talk time, round robin and linear).  Two situations, timed pick by pick:

- *agent for a caller*: a third of the agents are free, no caller waits; a
  caller arrives in a random queue and the router picks the agent
  (`Router.pick_agent`).  The agent picked goes busy and a random busy
  agent comes free, so the free third churns as in a live centre.
- *caller for an agent*: every agent is busy and three callers wait in each
  queue, with random priorities; an agent comes free and the router picks
  the caller for it across every queue it serves (`Router.pick_caller`),
  the global order: highest priority, then longest wait.  The agent is
  put free before the pick (untimed) and busy again after it.

Picks are timed one by one with perf_counter_ns.  What a login works out
once (the requirements an agent's skills meet) is not timed.  An agent
going free or busy updates the pools of the requirements it meets; that
cost is reported too (p50/p99_state_change_us, at 10,000 agents).

p50/p99 are over both kinds of pick at 10,000 agents.  growth_1k_to_100k
is the p50 at 100,000 agents over the p50 at 1,000 (same queues and
skills), the scale question app_queue's users run into.
"""
import json
import os
import random
import sys
import time
from dataclasses import dataclass, field

from cti.server.queueing.router import Router, Rule

QUEUES = 1000
SKILLS = 50
PICKS = 20000
STRATEGIES = ["longest_idle"] * 4 + ["fewest_calls", "least_talk_time", "round_robin",
                                     "linear"]


@dataclass(eq=False)
class Agent:
    order: int
    skills: dict
    member_of: frozenset
    weight: int = 1
    idle_since: float = 0.0
    calls: int = 0
    talk_s: float = 0.0


@dataclass(frozen=True)
class QueueConfig:
    name: str
    strategy: str
    rules: tuple


@dataclass(eq=False)
class Entry:
    queue_name: str
    priority: int
    first_since: float             # what orders the callers
    rule: int = 0
    ringing: list = field(default_factory=list)
    tried: set = field(default_factory=set)
    order_key: tuple = ()


class Clock:
    now = 0.0

    def seconds(self):
        return self.now


def centre(n_agents, rng):
    skills = [f"s{i}" for i in range(SKILLS)]
    queues = []
    for i in range(QUEUES):
        strategy = rng.choice(STRATEGIES)
        if i % 10 == 0:
            queues.append(QueueConfig(f"q{i}", strategy, ()))
            continue
        asked = rng.sample(skills, rng.choice((1, 1, 2)))
        low = tuple((s, rng.randint(3, 7)) for s in asked)
        wide = tuple((s, 1) for s in asked)
        queues.append(QueueConfig(f"q{i}", strategy, (Rule(0, low), Rule(30, wide))))
    members = [q.name for q in queues if not q.rules]
    agents = []
    for i in range(n_agents):
        held = {s: rng.randint(1, 10) for s in rng.sample(skills, rng.randint(3, 5))}
        agents.append(Agent(i, held, frozenset(rng.sample(members, 2)),
                            idle_since=rng.random() * 100, calls=rng.randint(0, 30),
                            talk_s=rng.random() * 3000))
    return queues, agents


def timed(fn, *args):
    start = time.perf_counter_ns()
    result = fn(*args)
    return result, (time.perf_counter_ns() - start) / 1000


def run(n_agents, seed=1):
    """([microseconds per pick], [microseconds per agent state change])."""
    rng = random.Random(seed)
    clock = Clock()
    queues, agents = centre(n_agents, rng)
    router = Router(clock, queues, random.Random(seed))
    names = [q.name for q in queues]
    widens = {q.name: len(q.rules) > 1 for q in queues}

    def caller(name, priority=0):
        return Entry(name, priority, clock.now, rule=rng.choice((0, 1)) if widens[name] else 0)

    times, changes = [], []

    for agent in agents:                # what each agent's login works out
        router.met_by(agent)

    # agent for a caller: a third free, churning
    free = set(rng.sample(agents, n_agents // 3))
    for agent in free:
        router.agent_ready(agent)
    busy = [a for a in agents if a not in free]
    for _ in range(PICKS):
        clock.now += 0.01
        agent, us = timed(router.pick_agent, caller(rng.choice(names)))
        times.append(us)
        if agent is not None:
            changes.append(timed(router.agent_unready, agent)[1])
            busy.append(agent)
            back = busy.pop(rng.randrange(len(busy)))
            back.idle_since = clock.now
            changes.append(timed(router.agent_ready, back)[1])
    for agent in agents:
        router.agent_unready(agent)

    # caller for an agent: all busy, three callers per queue
    for name in names:
        for _ in range(3):
            clock.now += 0.001
            router.add_caller(caller(name, rng.choice((0, 0, 0, 1, 5))))
    for _ in range(PICKS):
        clock.now += 0.01
        agent = rng.choice(agents)
        router.agent_ready(agent)
        entry, us = timed(router.pick_caller, agent)
        router.agent_unready(agent)
        times.append(us)
        if entry is not None:
            router.remove_caller(entry)
            router.add_caller(caller(rng.choice(names), rng.choice((0, 0, 0, 1, 5))))
    return times, changes


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]


def main():
    runs = {n: run(n) for n in (1000, 10000, 100000)}
    at = {n: picks for n, (picks, _) in runs.items()}
    ten, changes = runs[10000]
    result = {
        "bench": "acd",
        "agents": 10000,
        "queues": QUEUES,
        "skills": SKILLS,
        "picks": len(ten),
        "p50_route_us": round(percentile(ten, 50), 2),
        "p99_route_us": round(percentile(ten, 99), 2),
        "p99_route_us_1k": round(percentile(at[1000], 99), 2),
        "p99_route_us_100k": round(percentile(at[100000], 99), 2),
        "growth_1k_to_100k": round(percentile(at[100000], 50) / percentile(at[1000], 50), 2),
        "p50_state_change_us": round(percentile(changes, 50), 2),
        "p99_state_change_us": round(percentile(changes, 99), 2),
        "cores": os.cpu_count(),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
