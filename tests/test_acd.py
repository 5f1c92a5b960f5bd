# SPDX-License-Identifier: GPL-2.0-or-later
"""The ACD alone (no boards): which agent each strategy picks, in order."""
import pytest
from twisted.internet import task

from cti.server.acd import ACD
from cti.server.config import Agent, Queue


class Owner:
    def __init__(self):
        self.offers = []
        self.exits = []
        self.gone = set()

    def offer(self, entry, agent):
        self.offers.append(agent.id)

    def withdraw(self, entry, agent):
        pass

    def queue_exit(self, entry, reason):
        self.exits.append((entry.call.id, reason))

    def call_alive(self, call):
        return call.id not in self.gone

    def record_queue(self, *args):
        pass

    def record_state(self, *args):
        pass

    def record_session(self, *args):
        pass


class Call:
    def __init__(self, n):
        self.id, self.ani = f"c{n}", ""


def served(strategy, calls=6, seed=3):
    """Agents a, b, c log in and go ready at t = 0, 1, 2; then each call is
    offered, answered and ended one after the other (no wrap-up)."""
    clock = task.Clock()
    owner = Owner()
    agents = [Agent(x, x, "h", queues=("q",)) for x in "abc"]
    acd = ACD(clock, [Queue("q", strategy=strategy, wrap_up_s=0)], agents, owner, seed=seed)
    for i, a in enumerate("abc"):
        acd.login(a, f"s{i}")
        acd.set_ready(a)
        clock.advance(1)
    for n in range(calls):
        acd.enqueue(Call(n), "q")
        agent = owner.offers[-1]
        acd.answered(agent)
        clock.advance(1 + n % 3)            # talk times 1, 2, 3, 1, ...
        acd.call_ended(agent, "caller")
        clock.advance(0)
    return owner.offers


@pytest.mark.parametrize("strategy, order", [
    ("longest_idle", list("abcabc")),
    ("linear", list("aaaaaa")),
    ("round_robin", list("abcabc")),
    ("fewest_calls", list("abcabc")),
])
def test_strategy_order(strategy, order):
    assert served(strategy) == order


def test_least_talk_time_prefers_the_agent_who_talked_least():
    offers = served("least_talk_time")
    assert offers[:3] == list("abc")        # nobody has talked yet: longest idle
    assert offers[3] == "a"                 # a talked 1 s, b 2 s, c 3 s


def test_random_strategies_use_every_agent_and_repeat_with_the_seed():
    for strategy in ("random", "weighted_random"):
        offers = served(strategy, calls=30)
        assert set(offers) == set("abc")
        assert offers == served(strategy, calls=30)


def test_an_agent_who_lets_it_ring_out_is_tried_again_only_after_the_others():
    clock = task.Clock()
    owner = Owner()
    agents = [Agent(x, x, "h", queues=("q",)) for x in "ab"]
    acd = ACD(clock, [Queue("q", ring_timeout_s=3)], agents, owner)
    for i, a in enumerate("ab"):
        acd.login(a, f"s{i}")
        acd.set_ready(a)
        clock.advance(1)
    acd.enqueue(Call(1), "q")
    clock.advance(3)                        # a rings out: b is offered it
    clock.advance(3)                        # b rings out too: nobody left this round
    assert owner.offers == ["a", "b"]
    clock.advance(1.9)
    assert owner.offers == ["a", "b"]
    clock.advance(0.1)                      # RETRY_S after a rang out: a new round
    assert owner.offers == ["a", "b", "a"]
