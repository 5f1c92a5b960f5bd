# SPDX-License-Identifier: GPL-2.0-or-later
"""The ACD alone (no boards), in virtual time: who is offered which call,
in what order, and what the queue log, the agent events and the
statistics say about it."""
from dataclasses import replace

import pytest
from twisted.internet import task

from cti.server.config import Agent, Queue
from cti.server.queueing.acd import ACD, ACDError, Settings


class Owner:
    """The call centre's side of the ACD, recorded."""

    def __init__(self):
        self.offers = []            # agent ids, in the order their phones were rung
        self.offered = []           # (call id, agent id)
        self.withdrawn = []         # (call id, agent id)
        self.exits = []             # (call id, reason)
        self.gone = set()           # call ids the owner no longer has
        self.log = []               # queue log rows: (call, queue, agent, event, *data)
        self.states = []            # record_state rows
        self.sessions = []          # record_session rows
        self.logins = []            # record_login rows

    def offer(self, entry, agent):
        # The call centre looks the call up (a KeyError there for a call gone).
        assert entry.call.id not in self.gone, f"offered {entry.call.id}, a call gone"
        assert agent.state == "reserved"
        self.offers.append(agent.id)
        self.offered.append((entry.call.id, agent.id))

    def withdraw(self, entry, agent):
        self.withdrawn.append((entry.call.id, agent.id))

    def queue_exit(self, entry, reason):
        self.exits.append((entry.call.id, reason))

    def call_alive(self, call):
        return call.id not in self.gone

    def station_out_of_service(self, station):
        return None

    def record_queue(self, *row):
        self.log.append(row)

    def record_state(self, *row):
        self.states.append(row)

    def record_login(self, *row):
        self.logins.append(row)

    def record_session(self, *row):
        self.sessions.append(row)

    def rows(self, *events):
        """The queue log rows of these events (all rows without)."""
        return [row for row in self.log if not events or row[3] in events]


class Call:
    def __init__(self, n):
        self.id, self.ani = f"c{n}", f"55500{n:02}" if isinstance(n, int) else ""
        self.presentation, self.shown_ani = "allowed", self.ani


def agent(agent_id, queues=("q",), **skills):
    return Agent(agent_id, agent_id.upper(), "h", tuple(queues), skills)


class Centre:
    """An ACD on a virtual clock, with the owner and the published events."""

    def __init__(self, queues, agents, seed=None, **settings):
        self.clock = task.Clock()
        self.owner = Owner()
        self.events = []
        self.acd = ACD(self.clock, queues, agents, self.owner, self.publish, seed=seed,
                       settings=Settings(**settings))

    def publish(self, kind, what, event, body, cause=None):
        self.events.append((kind, what, event, body, cause))

    def login(self, *agent_ids, ready=True, gap=0):
        """Log agents in (at station s<id>) and make them ready, `gap`
        seconds apart: the first listed is then the longest idle."""
        for agent_id in agent_ids:
            self.acd.login(agent_id, f"s{agent_id}")
            if ready:
                self.acd.set_ready(agent_id)
            self.advance(gap)

    def call(self, n, queue="q", **kw):
        return self.acd.enqueue(Call(n), queue, **kw)

    def advance(self, seconds):
        """Move time on, running each timer at its own time (Clock.advance
        alone would run them all at the end)."""
        clock = self.clock
        end = clock.seconds() + seconds
        while True:
            due = min((d.getTime() for d in clock.getDelayedCalls()), default=None)
            if due is None or due > end:
                break
            clock.rightNow = max(clock.rightNow, due)
            clock.advance(0)
        clock.rightNow = end
        clock.advance(0)

    def state(self, agent_id):
        return self.acd.agent(agent_id).state

    def states(self, *agent_ids):
        return [self.state(a) for a in agent_ids]

    def take(self, agent_id, talk_s=0.0, released_by="caller"):
        """The agent answers the call ringing at its phone, talks, hangs up."""
        entry = self.acd.answered(agent_id)
        self.advance(talk_s)
        self.acd.call_ended(agent_id, released_by)
        return entry

    def agent_events(self, agent_id, since=0):
        """(event, why) published for an agent."""
        return [(event, body.get("why")) for kind, what, event, body, _ in self.events[since:]
                if kind == "agent" and what == agent_id]

    def last_event(self, agent_id, event=None):
        for kind, what, name, body, _ in reversed(self.events):
            if kind == "agent" and what == agent_id and event in (None, name):
                return body
        return None

    def queue(self, name="q"):
        return self.acd.describe_queue(self.acd.queue(name))

    def stats(self, agent_id):
        return self.acd.describe(self.acd.agent(agent_id))["statistics"]

    def waiting(self, queue="q"):
        return [e.call.id for e in self.acd.waiting(queue)]


def member_queue(strategy="longest_idle", **kw):
    kw.setdefault("wrap_up_s", 0)
    return Queue("q", strategy=strategy, **kw)


# -- strategies ----------------------------------------------------------------
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
        assert offers != served(strategy, calls=30, seed=4)


def test_longest_idle_the_agent_free_the_longest_and_back_of_the_line_after_a_call():
    c = Centre([member_queue()], [agent(x) for x in "abc"])
    c.login("c", "a", "b", gap=1)           # c idle since 0, a since 1, b since 2
    c.call(1)
    assert c.owner.offered == [("c1", "c")]
    c.take("c", talk_s=5)
    c.advance(0)                            # wrap-up of 0 s: c ready again, idle since 8
    c.call(2)
    c.call(3)
    c.call(4)
    assert c.owner.offered[1:] == [("c2", "a"), ("c3", "b"), ("c4", "c")]


def test_fewest_calls_the_agent_with_the_fewest_calls_since_login():
    c = Centre([member_queue("fewest_calls")], [agent(x) for x in "abc"])
    c.login("a", "b", gap=1)
    c.login("c", ready=False)
    for n in range(3):                      # a takes 2 calls, b 1
        c.call(n)
        c.take(c.owner.offers[-1], talk_s=1)
        c.advance(0)
    assert c.owner.offers == ["a", "b", "a"]
    c.acd.set_ready("c")                    # idle the shortest, but no call yet
    c.call(3)
    c.call(4)
    c.call(5)
    assert c.owner.offers[3:] == ["c", "b", "a"]
    assert [c.stats(x)["calls"] for x in "abc"] == [2, 1, 0]


def test_least_talk_time_the_agent_who_talked_least_since_login():
    c = Centre([member_queue("least_talk_time")], [agent(x) for x in "abc"])
    c.login("a", "b", "c", gap=1)
    for talk in (30, 10, 20):               # a talks 30 s, b 10 s, c 20 s
        c.call(talk)
        c.take(c.owner.offers[-1], talk_s=talk)
        c.advance(0)
    assert c.owner.offers == list("abc")
    for n in range(3):
        c.call(n)
    assert c.owner.offers[3:] == list("bca")
    assert [c.stats(x)["talkS"] for x in "abc"] == [30, 10, 20]


def test_linear_always_the_first_free_agent_in_configuration_order():
    c = Centre([member_queue("linear")], [agent(x) for x in "abc"])
    c.login("c", "b", "a", gap=1)           # a idle the shortest: linear does not care
    c.call(1)
    c.call(2)
    assert c.owner.offered == [("c1", "a"), ("c2", "b")]
    c.take("a")
    c.advance(0)
    c.call(3)
    assert c.owner.offered[-1] == ("c3", "a")


def test_round_robin_remembers_the_last_agent_offered_across_calls():
    c = Centre([member_queue("round_robin")], [agent(x) for x in "abcd"])
    c.login("a", "b", "c", "d")
    c.call(1)
    c.take("a")
    c.advance(0)                            # a free again: the next call is still b's
    c.call(2)
    c.take("b")
    c.advance(0)
    c.call(3)                               # c rings and is kept busy
    c.acd.answered("c")
    c.call(4)                               # d; the next turn is a's, past the end
    c.call(5)
    c.call(6)                               # then b; c is busy: skipped
    assert c.owner.offers == list("abcdab")
    c.acd.call_ended("c", "caller")
    c.advance(0)                            # c free: the memory says c is next
    c.call(7)
    assert c.owner.offers[-1] == "c"


def test_random_picks_only_free_agents_and_repeats_with_the_seed():
    def run(strategy, seed):
        c = Centre([member_queue(strategy)], [agent(x) for x in "abcd"], seed=seed)
        c.login("a", "b", "c", "d", gap=10)
        c.acd.set_not_ready("d", "break")
        picks = []
        for n in range(40):
            c.call(n)
            picks.append(c.owner.offers[-1])
            c.take(picks[-1], talk_s=1)
            c.advance(0)
        return picks

    for strategy in ("random", "weighted_random"):
        picks = run(strategy, 7)
        assert set(picks) == set("abc")
        assert picks == run(strategy, 7)
        assert picks != run(strategy, 8)


def test_weighted_random_favours_the_agent_idle_the_longest():
    counts = {"a": 0, "b": 0}
    for seed in range(200):
        c = Centre([member_queue("weighted_random")], [agent(x) for x in "ab"], seed=seed)
        c.login("a")
        c.advance(99)                       # a idle 100 s (+1), b 1 s (+1)
        c.login("b")
        c.call(1)
        counts[c.owner.offers[0]] += 1
    assert counts["a"] > 150 and counts["b"] > 0


def test_weighted_random_shares_calls_by_the_agents_weights():
    """Idle as long, an agent of weight 3 is picked three times as often as
    one of weight 1 (the sample: 400 draws, within sampling error)."""
    counts = {"a": 0, "b": 0}
    for seed in range(400):
        c = Centre([member_queue("weighted_random")],
                   [replace(agent("a"), weight=3), agent("b")], seed=seed)
        c.login("a", "b")
        c.call(1)
        counts[c.owner.offers[0]] += 1
    assert 260 < counts["a"] < 340          # 300 expected, sd 8.7


def test_an_agents_own_ring_timeout_wins_over_the_queues():
    c = Centre([member_queue(ring_timeout_s=15)],
               [replace(agent("a"), ring_timeout_s=5), agent("b")], retry_s=60)
    c.login("a", "b", gap=1)
    c.call(1)
    c.advance(5)                            # a's phone rang its own 5 s
    assert [r[2:] for r in c.owner.rows("RINGNOANSWER")] == [("a", "RINGNOANSWER", 5000)]
    assert c.owner.offers == ["a", "b"]
    c.advance(14.9)
    assert c.state("b") == "reserved"       # b rings the queue's 15 s
    c.advance(0.1)
    assert [r[2:] for r in c.owner.rows("RINGNOANSWER")][-1] == ("b", "RINGNOANSWER", 15000)


def test_ring_all_each_phone_rings_for_its_agents_time():
    c = Centre([member_queue("ring_all", ring_timeout_s=20)],
               [replace(agent("a"), ring_timeout_s=8), agent("b")], retry_s=60)
    c.login("a", "b")
    c.call(1)
    c.advance(8)
    assert c.states("a", "b") == ["ready", "reserved"]
    assert c.queue()["waiting"][0]["agents"] == ["b"]
    c.advance(12)
    assert c.states("a", "b") == ["ready", "ready"]
    assert [r[2:] for r in c.owner.rows("RINGNOANSWER")] == [
        ("a", "RINGNOANSWER", 8000), ("b", "RINGNOANSWER", 20000)]


def test_ring_all_rings_every_free_agent_the_first_answer_wins():
    c = Centre([member_queue("ring_all", ring_timeout_s=20)], [agent(x) for x in "abcd"])
    c.login("a", "b", "c", gap=1)
    c.login("d", ready=False)
    c.call(1)
    c.call(2)                               # everybody rings with c1: c2 waits
    assert c.owner.offered == [("c1", "a"), ("c1", "b"), ("c1", "c")]
    assert c.states("a", "b", "c", "d") == ["reserved"] * 3 + ["notReady"]
    assert c.queue()["waiting"][0]["agents"] == ["a", "b", "c"]
    c.advance(3)
    c.acd.answered("b")
    assert c.owner.withdrawn == [("c1", "a"), ("c1", "c")]
    assert c.agent_events("a")[-2:] == [("AgentReady", "answered by agent b"),
                                         ("AgentReserved", None)]
    # The others ring at once with the next caller.
    assert c.owner.offered[3:] == [("c2", "a"), ("c2", "c")]
    assert c.states("a", "b", "c") == ["reserved", "busy", "reserved"]
    assert c.owner.rows("CONNECT") == [("c1", "q", "b", "CONNECT", 3, "c1", 3)]
    c.acd.answered("c")
    assert c.owner.withdrawn[-1] == ("c2", "a")
    assert c.states("a", "b", "c") == ["ready", "busy", "busy"]
    assert c.waiting() == []


def test_ring_all_every_phone_rings_out_then_a_new_round():
    c = Centre([member_queue("ring_all", ring_timeout_s=10)], [agent(x) for x in "ab"],
               retry_s=5)
    c.login("a", "b")
    c.call(1)
    c.advance(10)
    assert [r[2:] for r in c.owner.rows("RINGNOANSWER")] == [
        ("a", "RINGNOANSWER", 10000), ("b", "RINGNOANSWER", 10000)]
    assert c.states("a", "b") == ["ready", "ready"]
    assert c.owner.offers == ["a", "b"]     # both let c1 ring out: not again this round
    c.advance(5)
    assert c.owner.offers == ["a", "b", "a", "b"]


def test_set_strategy_keeps_waiting_callers_and_the_next_pick_follows_it():
    c = Centre([member_queue("linear")], [agent(x) for x in "abc"])
    c.login("a", "b", "c", ready=False)
    c.call(1)
    c.call(2, priority=5)
    c.call(3)
    before = c.queue()["waiting"]
    assert c.waiting() == ["c2", "c1", "c3"]
    c.acd.set_strategy("q", "longest_idle", cause="inv-1")
    assert c.waiting() == ["c2", "c1", "c3"]
    assert c.queue()["waiting"] == before
    kind, name, event, body, cause = c.events[-1]
    assert (kind, name, event, body["strategy"], cause) == (
        "queue", "q", "QueueChanged", "longest_idle", "inv-1")
    c.advance(1)
    for x in "cba":                         # the callers are served in their order
        c.acd.set_ready(x)
    assert c.owner.offered == [("c2", "c"), ("c1", "b"), ("c3", "a")]
    for x in "cba":
        c.acd.answered(x)
    for x in "cba":                         # c free first, a last
        c.advance(1)
        c.acd.call_ended(x, "caller")
    c.advance(1)
    c.call(4)                               # linear would pick a; longest idle is c
    assert c.owner.offered[-1] == ("c4", "c")
    assert c.queue()["strategy"] == "longest_idle"


def test_set_strategy_to_ring_all_and_back():
    c = Centre([member_queue()], [agent(x) for x in "abc"])
    c.login("a", "b", "c", gap=1)
    c.acd.set_strategy("q", "ring_all")
    c.call(1)
    assert c.owner.offers == list("abc")
    c.acd.answered("b")
    c.acd.set_strategy("q", "linear")
    c.call(2)
    assert c.owner.offered[-1] == ("c2", "a")


def test_set_strategy_refuses_an_unknown_strategy_and_changes_nothing():
    c = Centre([member_queue("linear")], [agent(x) for x in "ab"])
    c.login("b", "a", gap=1)
    with pytest.raises(ACDError) as info:
        c.acd.set_strategy("q", "fastest")
    assert info.value.code == "invalid_field"
    assert c.queue()["strategy"] == "linear"
    c.call(1)
    assert c.owner.offers == ["a"]
    with pytest.raises(ACDError) as info:
        c.acd.set_strategy("nope", "linear")
    assert info.value.code == "no_such_object"


# -- skills --------------------------------------------------------------------
def skill_queue(name="es", skills=None, widen=(), **kw):
    kw.setdefault("wrap_up_s", 0)
    return Queue(name, skills=skills or {"spanish": 5}, widen=tuple(widen), **kw)


def test_a_skill_queue_is_served_only_by_agents_with_the_level():
    c = Centre([skill_queue()], [agent("a", (), spanish=3), agent("b", (), spanish=5),
                                 agent("c", (), spanish=9), agent("d", (), english=9),
                                 agent("e", ("es",))])   # (a member list is not a skill)
    c.login("a", "d", "e", "b", gap=1)       # a, d, e idle the longest
    for n in range(3):
        c.call(n, "es")
    assert c.owner.offered == [("c0", "b")]
    c.login("c")                             # level 9 takes the next
    assert c.owner.offered == [("c0", "b"), ("c1", "c")]
    assert c.waiting("es") == ["c0", "c1", "c2"]     # c0, c1 ringing; c2 for nobody free
    c.advance(10)
    c.take("b")
    c.take("c")
    c.advance(0)
    assert c.owner.offers == ["b", "c", "b"]
    assert c.queue("es")["agents"] == {"reserved": 1, "ready": 1}
    assert c.states("a", "d", "e") == ["ready"] * 3


def test_widen_lets_lower_levels_take_the_caller_after_the_wait():
    c = Centre([skill_queue(widen=[(30, {"spanish": 3}), (60, {"spanish": 1})])],
               [agent("a", (), spanish=3), agent("b", (), spanish=1),
                agent("c", (), spanish=3)])
    c.login("a", "b")
    c.call(1, "es")                          # t = 0
    c.advance(10)
    c.call(2, "es")                          # t = 10
    c.advance(19.9)
    assert c.owner.offered == []
    c.advance(0.1)                           # c1 waited 30 s: level 3 will do
    assert c.owner.offered == [("c1", "a")]
    c.acd.answered("a")
    c.login("c")                             # t = 30: c2 has waited 20 s only
    assert c.owner.offered == [("c1", "a")]
    c.advance(10)                            # c2 waited 30 s: c (level 3)
    assert c.owner.offered[-1] == ("c2", "c")
    c.acd.answered("c")
    c.call(3, "es")                          # t = 40
    c.advance(59.9)
    assert c.owner.offered[-1] == ("c2", "c")
    c.advance(0.1)                           # c3 waited 60 s: level 1 (b)
    assert c.owner.offered[-1] == ("c3", "b")


def test_widen_while_ringing_waits_for_the_ring_to_end():
    c = Centre([skill_queue(widen=[(10, {"english": 1})], ring_timeout_s=15)],
               [agent("a", (), spanish=5), agent("b", (), english=1)])
    c.login("a", "b")
    c.call(1, "es")
    assert c.owner.offers == ["a"]
    c.advance(10)                            # widened while a rings: b is not rung too
    assert c.owner.offers == ["a"]
    c.advance(5)                             # a rang out: b under the wider rule
    assert c.owner.offers == ["a", "b"]


def test_several_skills_in_one_rule_and_a_wider_rule_replaces_them():
    c = Centre([skill_queue(skills={"spanish": 5, "billing": 3},
                            widen=[(20, {"spanish": 3, "billing": 1}), (40, {"billing": 5})])],
               [agent("a", (), spanish=5), agent("b", (), billing=3),
                agent("c", (), spanish=5, billing=3), agent("d", (), spanish=3, billing=1),
                agent("e", (), billing=5)])
    c.login("a", "b", "d", gap=1)
    c.login("c")
    c.call(1, "es")
    assert c.owner.offers == ["c"]           # the only agent with both at the levels
    c.acd.answered("c")
    c.acd.set_not_ready("a", "break")
    c.acd.set_not_ready("b", "break")
    c.call(2, "es")
    c.advance(19)
    assert c.owner.offers == ["c"]           # d: both skills, lower levels
    c.advance(1)
    assert c.owner.offers == ["c", "d"]
    c.acd.answered("d")
    c.login("e")
    c.call(3, "es")
    c.advance(39)
    assert c.owner.offers == ["c", "d"]      # e has no spanish
    c.advance(1)                             # 40 s: billing 5 alone
    assert c.owner.offers == ["c", "d", "e"]


def test_a_freed_agent_takes_a_skill_caller_only_under_the_rule_in_force():
    c = Centre([skill_queue(widen=[(30, {"spanish": 2})])],
               [agent("a", (), spanish=2), agent("b", (), spanish=6)])
    c.login("a", "b", ready=False)
    c.call(1, "es")
    c.advance(5)
    c.acd.set_ready("a")                     # level 2: not before 30 s
    assert c.owner.offers == []
    c.acd.set_ready("b")
    assert c.owner.offered == [("c1", "b")]


def test_skill_levels_and_widen_from_the_configuration(tmp_path):
    from cti.server.config import load_server_config
    from tests.test_server_config import edit, write

    text = edit('service_level_s = 30\n', 'service_level_s = 30\n'
                'skills = {english = 3}\nwiden = [{after_s = 30, skills = {english = 1}}]\n')
    text += "\n[acd]\nretry_s = 7\nmax_no_answer = 2\nsweep_s = 9\n"
    config = load_server_config(write(tmp_path, text))
    support = config.queue("support")
    assert support.skills == {"english": 3}
    assert support.widen == ((30, {"english": 1}),)
    assert (config.acd.retry_s, config.acd.max_no_answer, config.acd.sweep_s) == (7, 2, 9)
    c = Centre(config.queues, config.agents, **vars(config.acd))
    assert c.acd.settings == Settings(retry_s=7, max_no_answer=2, sweep_s=9)
    c.acd.login("1001", "s1")                # english 5; also a member of sales
    c.acd.set_ready("1001")
    c.call(1, "support")
    assert c.owner.offered == [("c1", "1001")]


def test_an_agent_listing_a_skill_queue_is_a_configuration_error(tmp_path):
    from tests.test_server_config import edit, error

    text = edit('service_level_s = 30\n', 'service_level_s = 30\nskills = {english = 3}\n')
    text = text.replace('queues = ["sales"]', 'queues = ["sales", "support"]')
    e = error(tmp_path, text)
    assert "agents[0].queues[1]" in str(e)
    assert "queue 'support' chooses its agents by skills" in str(e)


# -- priority and the global order ---------------------------------------------
def two_queues(**support):
    support.setdefault("wrap_up_s", 0)
    return [Queue("sales", wrap_up_s=0), Queue("support", **support)]


def test_a_freed_agent_takes_the_highest_priority_then_the_longest_wait_across_queues():
    c = Centre(two_queues(priority=5), [agent("a", ("sales", "support"))])
    c.login("a", ready=False)
    for n, queue, kw in [(1, "sales", {}), (2, "support", {}), (3, "sales", {"priority": 9}),
                         (4, "support", {}), (5, "sales", {})]:
        c.call(n, queue, **kw)
        c.advance(1)
    assert [e.priority for e in c.acd.waiting("support")] == [5, 5]
    assert c.waiting("sales") == ["c3", "c1", "c5"]
    c.acd.set_ready("a")
    for _ in range(5):
        c.take(c.owner.offers[-1])
        c.advance(0)
    assert [call for call, _ in c.owner.offered] == ["c3", "c2", "c4", "c1", "c5"]


def test_equal_priority_the_longest_waiting_across_queues():
    c = Centre(two_queues(), [agent("a", ("sales", "support")), agent("b", ("sales",))])
    c.login("a", "b", ready=False)
    for n, queue in [(1, "support"), (2, "sales"), (3, "support"), (4, "sales")]:
        c.call(n, queue)
        c.advance(1)
    c.acd.set_ready("a")
    c.take("a")
    c.advance(0)
    c.take("a")
    c.advance(0)
    assert c.owner.offered == [("c1", "a"), ("c2", "a"), ("c3", "a")]
    c.acd.set_ready("b")                     # b serves sales only: c4
    assert c.owner.offered[-1] == ("c4", "b")


def test_a_caller_ringing_someone_else_is_passed_over():
    c = Centre(two_queues(), [agent("a", ("sales", "support")), agent("b", ("sales",))])
    c.login("a", ready=False)
    c.login("b")
    c.call(1, "sales")                       # rings b
    c.advance(1)
    c.call(2, "support")
    c.acd.set_ready("a")                     # c1 waited longer, but rings b
    assert c.owner.offered == [("c1", "b"), ("c2", "a")]


def test_a_caller_who_let_this_agent_ring_out_is_passed_over_until_a_new_round():
    c = Centre(two_queues(ring_timeout_s=10), [agent("a", ("sales", "support"))],
               retry_s=30, max_no_answer=0)
    c.login("a")
    c.call(1, "support")
    c.advance(1)
    c.call(2, "sales")
    c.advance(9)                             # a lets c1 ring out: c2 is next for a
    assert c.owner.offered == [("c1", "a"), ("c2", "a")]
    c.take("a")
    c.advance(0)
    assert c.owner.offered[-1] == ("c2", "a")   # c1 is not offered again to a yet
    c.advance(29.9)
    assert c.owner.offered[-1] == ("c2", "a")
    c.advance(0.1)                           # retry_s after the ring-out: a new round
    assert c.owner.offered[-1] == ("c1", "a")


# -- leaving the queue without an agent ------------------------------------------
def test_max_wait_sends_the_caller_to_the_overflow():
    c = Centre([member_queue(max_wait_s=60, overflow=("queue", "other")),
                Queue("other")], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.advance(5)
    c.call(2)
    c.advance(54.9)
    assert c.owner.exits == []
    c.advance(0.1)
    assert c.owner.exits == [("c1", "timeout")]
    assert c.owner.rows("EXITWITHTIMEOUT") == [("c1", "q", None, "EXITWITHTIMEOUT", 1, 1, 60)]
    assert c.waiting() == ["c2"]
    c.advance(5)
    assert c.owner.rows("EXITWITHTIMEOUT")[-1] == ("c2", "q", None, "EXITWITHTIMEOUT",
                                                   1, 2, 60)
    assert c.queue()["exits"] == {"timeout": 2}
    c.acd.set_ready("a")                     # nobody left to offer
    assert c.owner.offers == []


def test_a_caller_who_overflowed_keeps_its_place_by_first_arrival():
    """Waiting 61 s in a, then moved to b: it goes ahead of a caller who
    joined b 31 s ago, as the server re-queues it (first_since kept)."""
    c = Centre([Queue("a", wrap_up_s=0, max_wait_s=60, overflow=("queue", "b")),
                Queue("b", wrap_up_s=0)], [agent("x", queues=("b",))])
    c.login("x", ready=False)
    first = c.call(1, queue="a")
    c.advance(30)
    c.call(2, queue="b")
    c.advance(31)
    assert c.owner.exits == [("c1", "timeout")]
    c.acd.enqueue(first.call, "b", first_since=first.first_since)
    assert c.waiting("b") == ["c1", "c2"]


def test_max_wait_passing_while_an_agent_rings_lets_the_ring_end():
    c = Centre([member_queue(max_wait_s=60, ring_timeout_s=15)], [agent("a"), agent("b")])
    c.login("a", "b", ready=False)
    c.call(1)
    c.call(2)
    c.advance(50)
    c.acd.set_ready("a")                     # c1 rings a
    c.advance(10)                            # 60 s: c2 leaves, c1 rings on
    assert c.owner.exits == [("c2", "timeout")]
    c.acd.set_ready("b")                     # b is not offered c1 meanwhile
    c.advance(5)                             # a rings out: c1's wait is over, it leaves
    assert c.owner.exits == [("c2", "timeout"), ("c1", "timeout")]
    assert [r[3] for r in c.owner.log if r[0] == "c1"] == [
        "ENTERQUEUE", "RINGNOANSWER", "EXITWITHTIMEOUT"]
    assert c.owner.offers == ["a"]


def test_max_wait_passing_while_ringing_and_answered():
    c = Centre([member_queue(max_wait_s=60)], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.advance(55)
    c.acd.set_ready("a")
    c.advance(10)
    c.acd.answered("a")
    assert c.owner.exits == []
    assert c.owner.rows("CONNECT") == [("c1", "q", "a", "CONNECT", 65, "c1", 10)]


def test_max_wait_passing_while_ringing_then_the_agent_logs_out():
    c = Centre([member_queue(max_wait_s=60)], [agent("a"), agent("b")])
    c.login("b")
    c.login("a", ready=False)
    c.acd.set_not_ready("b", "break")
    c.call(1)
    c.advance(55)
    c.acd.set_ready("a")
    c.acd.set_ready("b")
    c.call(2)                                # c1 rings a, c2 rings b
    c.advance(10)
    c.acd.logout("a")                        # c1's wait is over: it leaves, nobody rings
    assert c.owner.exits == [("c1", "timeout")]
    assert c.owner.offered == [("c1", "a"), ("c2", "b")]


def test_exit_key_sends_the_caller_to_the_overflow():
    c = Centre([member_queue(exit_key="0", overflow=("flow", "menu"))], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.call(2)
    c.advance(12)
    call2 = c.acd.waiting("q")[1].call
    assert c.acd.exit_key(call2, "5") is False
    assert c.waiting() == ["c1", "c2"]
    assert c.acd.exit_key(call2, "0") is True
    assert c.owner.exits == [("c2", "exit_key")]
    assert c.owner.rows("EXITWITHKEY") == [("c2", "q", None, "EXITWITHKEY", "0", 2, 2, 12)]
    assert c.waiting() == ["c1"]
    assert c.queue()["exits"] == {"exit_key": 1}
    assert c.acd.exit_key(call2, "0") is False   # gone already


def test_exit_key_is_ignored_while_an_agent_rings_and_without_one():
    c = Centre([member_queue(exit_key="#", overflow=("queue", "other")), Queue("other"),
                Queue("plain")], [agent("a")])
    c.login("a")
    entry = c.call(1)
    assert c.acd.exit_key(entry.call, "#") is False
    c.acd.answered("a")
    assert c.acd.exit_key(entry.call, "#") is False
    other = c.call(2, "plain")
    assert c.acd.exit_key(other.call, "#") is False
    assert c.owner.exits == []


def test_join_empty_refuses_callers_when_no_agent_could_take_them():
    c = Centre([member_queue(join_empty=("unavailable", "paused"))], [agent("a"), agent("b")])
    with pytest.raises(ACDError) as info:
        c.call(1)
    assert info.value.code == "queue_empty"
    assert "unavailable, paused" in str(info.value)
    c.login("a", ready=False)                # paused: still empty
    with pytest.raises(ACDError):
        c.call(2)
    assert c.queue()["exits"] == {"join_empty": 2}
    assert c.owner.rows() == [("NONE", "NONE", "a", "AGENTLOGIN", "sa")]
    c.acd.set_ready("a")
    c.call(3)
    c.acd.answered("a")                      # busy is not a join_empty condition here
    c.call(4)
    assert c.waiting() == ["c4"]


def test_join_empty_only_for_the_listed_conditions():
    c = Centre([member_queue(join_empty=("unavailable",))], [agent("a")])
    with pytest.raises(ACDError):
        c.call(1)
    c.login("a", ready=False)                # paused does not count as empty here
    c.call(2)
    assert c.waiting() == ["c2"]


def test_join_empty_for_a_skill_queue_counts_every_level_the_rules_accept():
    c = Centre([skill_queue(widen=[(30, {"spanish": 1})], join_empty=("unavailable",))],
               [agent("a", (), spanish=1), agent("b", (), english=5)])
    c.login("b")
    with pytest.raises(ACDError):
        c.call(1, "es")
    c.login("a", ready=False)                # level 1: may serve after 30 s
    c.call(2, "es")
    assert c.waiting("es") == ["c2"]


def test_leave_empty_when_the_last_serving_agent_goes_not_ready():
    c = Centre([member_queue(leave_empty=("unavailable", "paused"), wrap_up="agent"),
                Queue("other", leave_empty=("paused",))],
               [agent("a", ("q", "other")), agent("b"), agent("c", ("other",))])
    c.login("a", "b", "c")
    c.acd.set_not_ready("c", "meeting")
    c.call(1)
    c.call(2)                                # a and b ring
    c.take("a")
    c.take("b")                              # both in wrap-up until they end it
    c.call(3)
    c.call(4)
    c.call(5, "other")
    c.acd.logout("b")                        # a (wrap-up) still serves q
    assert c.owner.exits == []
    c.acd.set_not_ready("a", "lunch")        # the last one: q's callers leave
    assert c.owner.exits == [("c3", "empty"), ("c4", "empty"), ("c5", "empty")]
    assert c.owner.rows("EXITEMPTY") == [
        ("c3", "q", None, "EXITEMPTY", 1, 1, 0), ("c4", "q", None, "EXITEMPTY", 1, 2, 0),
        ("c5", "other", None, "EXITEMPTY", 1, 1, 0)]
    assert c.queue()["exits"] == {"empty": 2}
    assert c.waiting() == []


def test_leave_empty_when_the_last_serving_agent_logs_out():
    c = Centre([member_queue(leave_empty=("unavailable",), wrap_up="agent")],
               [agent("a"), agent("b")])
    c.login("a", "b")
    c.acd.set_not_ready("b", "break")        # paused is not a condition of this queue
    c.call(1)
    c.take("a")
    c.call(2)
    c.advance(7)
    c.acd.logout("b")
    assert c.owner.exits == []
    c.acd.logout("a")
    assert c.owner.exits == [("c2", "empty")]
    assert c.owner.rows("EXITEMPTY") == [("c2", "q", None, "EXITEMPTY", 1, 1, 7)]


def test_leave_empty_when_the_last_agent_is_paused_for_not_answering():
    c = Centre([member_queue(leave_empty=("paused",), ring_timeout_s=10)], [agent("a")],
               max_no_answer=1)
    c.login("a")
    c.call(1)
    c.advance(10)                            # a rings out and is paused: nobody serves q
    assert c.state("a") == "notReady"
    assert c.owner.exits == [("c1", "empty")]
    assert [r[3] for r in c.owner.log if r[0] == "c1"] == [
        "ENTERQUEUE", "RINGNOANSWER", "EXITEMPTY"]


def test_leave_empty_leaves_a_caller_ringing_an_agent_in_place():
    c = Centre([member_queue(leave_empty=("paused", "unavailable", "inuse"))],
               [agent("a"), agent("b")])
    c.login("a", "b")
    c.call(1)                                # rings a
    c.acd.logout("b")                        # a rings: inuse, so q is empty
    assert c.owner.exits == []               # but c1 rings on
    c.acd.answered("a")
    assert c.owner.rows("CONNECT")


def test_max_length_refuses_callers_beyond_it():
    c = Centre([member_queue(max_length=2)], [agent("a")])
    c.login("a")
    c.call(1)                                # ringing: still in the queue
    c.call(2)
    with pytest.raises(ACDError) as info:
        c.call(3)
    assert info.value.code == "queue_full"
    assert c.queue()["exits"] == {"full": 1}
    assert [r[0] for r in c.owner.rows("ENTERQUEUE")] == ["c1", "c2"]
    c.acd.answered("a")                      # c1 leaves the queue: room for one
    c.call(4)
    assert c.waiting() == ["c2", "c4"]


# -- per agent: ringing, wrap-up, pending states ---------------------------------
def test_the_queue_log_from_entry_to_completion():
    c = Centre([member_queue()], [agent("a")])
    c.login("a", ready=False)
    first = c.call(1)
    c.advance(1)
    c.call(2)
    c.advance(1)
    c.call(3)
    c.advance(3)
    c.acd.abandon(first.call)                # t = 5
    c.acd.set_ready("a")                     # c2 rings a
    c.advance(4)
    c.acd.answered("a")                      # t = 9
    c.advance(30)
    c.acd.call_ended("a", "agent")
    c.advance(0)                             # no wrap-up: c3 rings a
    assert c.owner.log == [
        ("NONE", "NONE", "a", "AGENTLOGIN", "sa"),
        ("c1", "q", None, "ENTERQUEUE", "", "5550001", 1),
        ("c2", "q", None, "ENTERQUEUE", "", "5550002", 2),
        ("c3", "q", None, "ENTERQUEUE", "", "5550003", 3),
        ("c1", "q", None, "ABANDON", 1, 1, 5),
        ("NONE", "NONE", "a", "UNPAUSE", "login"),
        ("c2", "q", "a", "CONNECT", 8, "c2", 4),
        ("c2", "q", "a", "COMPLETEAGENT", 8, 30, 2),    # its original position
    ]
    assert c.owner.offered == [("c2", "a"), ("c3", "a")]


def test_a_phone_that_rings_out_goes_to_the_next_agent():
    c = Centre([member_queue(ring_timeout_s=10)], [agent(x) for x in "abc"], max_no_answer=0)
    c.login("a", "b", "c", gap=1)
    c.call(1)
    c.advance(9.5)
    c.acd.no_answer(c.acd.agent("a"))        # rejected: the same as ringing out
    assert c.owner.offered == [("c1", "a"), ("c1", "b")]
    assert c.owner.withdrawn == [("c1", "a")]
    c.advance(10)
    assert c.owner.offered[-1] == ("c1", "c")
    assert c.owner.rows("RINGNOANSWER") == [("c1", "q", "a", "RINGNOANSWER", 9500),
                                            ("c1", "q", "b", "RINGNOANSWER", 10000)]
    assert c.agent_events("a") == [("AgentLoggedOn", None), ("AgentNotReady", None),
                                   ("AgentReady", "agent"), ("AgentReserved", None),
                                   ("AgentReady", None)]
    # Back in line where it was: a is still the longest idle for the next caller.
    c.call(2)
    assert c.owner.offered[-1] == ("c2", "a")


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


def test_a_new_round_only_once_every_free_agent_had_a_ring():
    # The default ring timeout (15 s) is longer than retry_s (5 s): a is not
    # rung again before c, free all along, had its ring.
    c = Centre([member_queue()], [agent(x) for x in "abc"], max_no_answer=0)
    c.login("a", "b", "c", gap=1)
    c.call(1)
    c.advance(44.9)
    assert c.owner.offers == list("abc")
    c.advance(0.1)                           # c rang out: round over, retry_s passed
    assert c.owner.rows("RINGNOANSWER")[-1] == ("c1", "q", "c", "RINGNOANSWER", 15000)
    assert c.owner.offers == list("abca")
    c.call(2)
    assert c.owner.offered[-1] == ("c2", "b")


def test_auto_not_ready_after_max_no_answer_ring_outs_in_a_row():
    c = Centre([member_queue(ring_timeout_s=10)], [agent("a")], max_no_answer=2, retry_s=5)
    c.login("a")
    c.call(1)
    c.advance(10)                            # one
    assert c.state("a") == "ready"
    c.advance(5)                             # a new round: a again
    assert c.owner.offers == ["a", "a"]
    c.advance(10)                            # two in a row: not ready
    assert c.state("a") == "notReady"
    body = c.last_event("a")
    assert (body["state"], body["reason"], body["transition"]) == (
        "notReady", "no answer", "no_answer_pause")
    assert c.owner.rows("RINGNOANSWER", "PAUSE")[-2:] == [
        ("c1", "q", "a", "RINGNOANSWER", 10000), ("NONE", "NONE", "a", "PAUSE", "no answer")]
    c.advance(60)
    assert c.owner.offers == ["a", "a"]      # paused: not offered again
    assert c.waiting() == ["c1"]


def test_an_answer_resets_the_no_answer_count():
    c = Centre([member_queue(ring_timeout_s=10)], [agent("a"), agent("b")],
               max_no_answer=2, retry_s=100)
    c.login("a", "b", gap=1)
    c.call(1)
    c.advance(10)                            # a: one ring-out; b rings
    c.take("b")
    c.advance(1)
    c.call(2)                                # a answers this one: the count is reset
    c.take("a")
    c.advance(0)
    c.call(3)                                # b is longest idle now
    c.call(4)
    assert c.owner.offered[-2:] == [("c3", "b"), ("c4", "a")]
    c.acd.answered("b")
    c.advance(10)                            # a: one ring-out since the answer
    assert c.state("a") == "ready"
    c.call(5)
    c.advance(10)                            # two in a row
    assert c.state("a") == "notReady"


def test_after_the_no_answer_pause_the_count_starts_again():
    c = Centre([member_queue(ring_timeout_s=10)], [agent("a")], max_no_answer=2, retry_s=5)
    c.login("a")
    c.call(1)
    c.advance(15)
    c.advance(10)                            # paused after two
    assert c.state("a") == "notReady"
    c.acd.set_ready("a")
    assert c.owner.rows()[-1] == ("NONE", "NONE", "a", "UNPAUSE", "no answer")
    c.advance(5)                             # a new round: c1 rings a again
    assert c.owner.offers == ["a", "a", "a"]
    c.advance(10)                            # one ring-out since the pause
    assert c.state("a") == "ready"
    c.advance(15)                            # and a second
    assert c.state("a") == "notReady"


def test_timed_wrap_up_ends_by_itself_or_when_the_agent_says_so():
    c = Centre([member_queue(wrap_up_s=30)], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    c.call(1)
    c.advance(2)
    c.take("a", talk_s=20)
    assert c.state("a") == "workingAfterCall"
    body = c.last_event("a")
    assert (body["wrapUpEndsAt"], body["why"]) == (54.0, "caller")
    assert c.owner.rows("COMPLETECALLER") == [("c1", "q", "a", "COMPLETECALLER", 2, 20, 1)]
    c.advance(29.9)
    assert c.state("a") == "workingAfterCall"
    c.advance(0.1)
    assert c.state("a") == "ready"
    assert c.agent_events("a")[-1] == ("AgentReady", "wrap-up over")
    c.call(2)                                # a is idle since the wrap-up ended: b first
    assert c.owner.offered[-1] == ("c2", "b")
    c.take("b", talk_s=5, released_by="agent")
    assert c.owner.rows("COMPLETEAGENT") == [("c2", "q", "b", "COMPLETEAGENT", 0, 5, 1)]
    c.advance(3)
    assert c.acd.set_ready("b") == "done"    # early
    assert c.agent_events("b")[-1] == ("AgentReady", "agent")
    c.advance(60)
    assert c.agent_events("b")[-1] == ("AgentReady", "agent")   # the timer is off


def test_a_caller_waiting_is_offered_when_the_wrap_up_ends():
    c = Centre([member_queue(wrap_up_s=10)], [agent("a")])
    c.login("a")
    c.call(1)
    c.take("a", talk_s=5)
    c.call(2)
    c.advance(9)
    assert c.owner.offers == ["a"]
    c.advance(1)
    assert c.owner.offered == [("c1", "a"), ("c2", "a")]


def test_forced_wrap_up_may_not_be_ended_and_a_not_ready_waits_for_it():
    c = Centre([member_queue(wrap_up="forced", wrap_up_s=30)], [agent("a")])
    c.login("a")
    c.call(1)
    c.take("a", talk_s=10)
    c.advance(4.5)
    with pytest.raises(ACDError) as info:
        c.acd.set_ready("a")
    assert info.value.code == "invalid_state"
    assert "26 s" in str(info.value)
    assert c.acd.set_not_ready("a", "lunch", cause="inv-7") == "pending"
    kind, name, event, body, cause = c.events[-1]
    assert (event, body["pendingState"], body["pendingReason"], cause) == (
        "AgentPendingState", "notReady", "lunch", "inv-7")
    assert c.state("a") == "workingAfterCall"
    c.call(2)
    c.advance(25.5)                          # wrap-up over: not ready, c2 not offered
    assert (c.state("a"), c.acd.agent("a").reason) == ("notReady", "lunch")
    assert c.owner.rows("PAUSE") == [("NONE", "NONE", "a", "PAUSE", "lunch")]
    assert c.owner.offers == ["a"]
    assert c.last_event("a")["pendingState"] is None


def test_forced_wrap_up_then_ready():
    c = Centre([member_queue(wrap_up="forced", wrap_up_s=30)], [agent("a")])
    c.login("a")
    c.call(1)
    c.take("a", talk_s=10)
    c.advance(30)
    assert c.state("a") == "ready"
    assert c.acd.set_ready("a") == "done"


def test_agent_wrap_up_lasts_until_the_agent_ends_it():
    c = Centre([member_queue(wrap_up="agent", wrap_up_s=30)], [agent("a")], sweep_s=5)
    c.acd.start()
    c.login("a")
    c.call(1)
    c.take("a", talk_s=10)
    assert c.last_event("a")["wrapUpEndsAt"] is None
    c.call(2)
    c.advance(3600)                          # no timer, and the sweep leaves it alone
    assert c.state("a") == "workingAfterCall"
    assert c.owner.offers == ["a"]
    c.acd.set_ready("a")
    assert c.owner.offered[-1] == ("c2", "a")
    assert c.queue()["ahtS"] == 3610


def test_a_not_ready_asked_while_busy_is_pending_until_the_wrap_up_ends():
    c = Centre([member_queue(wrap_up_s=10)], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    c.call(1)
    c.acd.answered("a")
    assert c.acd.set_not_ready("a", "lunch") == "pending"
    assert c.last_event("a", "AgentPendingState")["pendingState"] == "notReady"
    assert c.state("a") == "busy"
    c.advance(5)
    c.acd.call_ended("a", "caller")
    assert c.state("a") == "workingAfterCall"
    assert c.last_event("a")["pendingState"] == "notReady"
    c.advance(10)
    assert (c.state("a"), c.acd.agent("a").reason) == ("notReady", "lunch")
    c.call(2)
    assert c.owner.offered[-1] == ("c2", "b")


def test_a_log_out_asked_while_busy_is_pending_until_the_wrap_up_ends():
    c = Centre([member_queue(wrap_up_s=10)], [agent("a")])
    c.login("a")
    c.call(1)
    c.acd.answered("a")
    c.advance(5)
    assert c.acd.logout("a", "end of shift") == "pending"
    body = c.last_event("a", "AgentPendingState")
    assert (body["pendingState"], body["pendingReason"]) == ("loggedOff", "end of shift")
    c.acd.call_ended("a", "agent")
    c.advance(10)
    assert c.state("a") == "loggedOff"
    assert c.owner.rows()[-1] == ("NONE", "NONE", "a", "AGENTLOGOFF", "sa", 15)
    assert c.owner.sessions == [("a", "sa", 0, "end of shift")]
    assert c.acd.agent_at("sa") is None
    assert c.queue()["handled"] == 1


def test_ready_while_busy_cancels_the_pending_state():
    c = Centre([member_queue(wrap_up_s=10)], [agent("a")])
    c.login("a")
    c.call(1)
    c.acd.answered("a")
    c.acd.set_not_ready("a", "lunch")
    n = len(c.events)
    assert c.acd.set_ready("a", cause="inv-9") == "done"
    assert [(e[2], e[3]["pendingState"], e[4]) for e in c.events[n:]] == [
        ("AgentPendingState", None, "inv-9")]
    c.acd.call_ended("a", "caller")
    c.advance(10)
    assert c.state("a") == "ready"


def test_a_not_ready_asked_while_ringing_applies_when_the_ring_ends():
    c = Centre([member_queue(ring_timeout_s=10)], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    c.call(1)
    assert c.acd.set_not_ready("a", "break") == "pending"
    c.advance(10)                            # rang out: b rings; a goes not ready
    assert c.owner.offered == [("c1", "a"), ("c1", "b")]
    assert (c.state("a"), c.acd.agent("a").reason) == ("notReady", "break")


def test_ring_all_an_agent_with_a_pending_not_ready_is_not_rung_for_the_next_caller():
    c = Centre([member_queue("ring_all")], [agent(x) for x in "abc"])
    c.login("a", "b", "c", gap=1)
    c.call(1)
    c.call(2)
    c.acd.set_not_ready("b", "break")        # while ringing: pending
    c.acd.answered("c")                      # a and b withdrawn; c2 rings a only
    assert c.owner.offered[3:] == [("c2", "a")]
    assert c.states("a", "b", "c") == ["reserved", "notReady", "busy"]


def test_agent_requests_in_the_wrong_state_are_refused():
    c = Centre([member_queue()], [agent("a"), agent("b")])
    for request in (lambda: c.acd.set_ready("a"), lambda: c.acd.set_not_ready("a"),
                    lambda: c.acd.logout("a")):
        with pytest.raises(ACDError) as info:
            request()
        assert info.value.code == "invalid_state"
    c.login("a")
    with pytest.raises(ACDError) as info:
        c.acd.login("a", "sx")
    assert info.value.code == "invalid_state"
    with pytest.raises(ACDError) as info:
        c.acd.login("b", "sa")
    assert info.value.code == "resource_busy"
    with pytest.raises(ACDError) as info:
        c.acd.set_ready("nobody")
    assert info.value.code == "no_such_object"
    with pytest.raises(ACDError) as info:
        c.acd.answered("a")
    assert info.value.code == "invalid_state"


# -- races ---------------------------------------------------------------------
def test_an_agent_logging_out_while_its_phone_rings():
    c = Centre([member_queue()], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    c.call(1)
    n = len(c.events)
    assert c.acd.logout("a") == "done"
    assert c.owner.withdrawn == [("c1", "a")]
    assert c.owner.offered == [("c1", "a"), ("c1", "b")]     # the next agent at once
    assert c.state("a") == "loggedOff"
    assert c.agent_events("a", n) == [("AgentLoggedOff", None)]
    body = c.last_event("a")
    assert (body["previous"], body["reason"], body["call"]) == ("reserved", "agent", None)
    assert [row[1:] for row in c.owner.states if row[0] == "a"][-2:] == [
        ("reserved", None, "ready", "c1"), ("loggedOff", "agent", "reserved", None)]
    assert c.owner.rows("RINGNOANSWER") == []
    assert c.owner.rows()[-1] == ("NONE", "NONE", "a", "AGENTLOGOFF", "sa", 2)


def test_a_caller_hanging_up_while_ringing_leaves_the_agent_its_idle_place():
    c = Centre([member_queue(service_level_s=20)], [agent(x) for x in "abc"])
    c.login("a", "b", "c", gap=1)
    c.call(1)
    c.advance(4)
    c.acd.abandon(c.acd.agent("a").call)
    assert c.owner.withdrawn == [("c1", "a")]
    assert c.agent_events("a")[-1] == ("AgentReady", "caller hung up")
    assert c.owner.rows("ABANDON") == [("c1", "q", None, "ABANDON", 1, 1, 4)]
    c.call(2)                                # a is still the longest idle
    assert c.owner.offered[-1] == ("c2", "a")
    queue = c.queue()
    assert (queue["abandoned"], queue["answered"], queue["serviceLevel"]) == (1, 0, None)


def test_ring_all_a_caller_hanging_up_withdraws_every_phone():
    c = Centre([member_queue("ring_all")], [agent(x) for x in "abc"])
    c.login("a", "b", "c", gap=1)
    c.call(1)
    c.acd.abandon(c.acd.agent("b").call)
    assert c.owner.withdrawn == [("c1", "a"), ("c1", "b"), ("c1", "c")]
    assert c.states("a", "b", "c") == ["ready"] * 3
    assert {c.agent_events(x)[-1] for x in "abc"} == {("AgentReady", "caller hung up")}
    c.call(2)
    assert c.owner.offered[-3:] == [("c2", "a"), ("c2", "b"), ("c2", "c")]


def test_the_caller_hanging_up_just_after_the_answer_is_the_end_of_a_call():
    c = Centre([member_queue(wrap_up_s=5)], [agent("a")])
    c.login("a")
    entry = c.call(1)
    c.advance(2)
    c.acd.answered("a")
    c.acd.abandon(entry.call)                # too late to abandon: a no-op
    assert c.state("a") == "busy"
    c.advance(1)
    c.acd.call_ended("a", "caller")
    queue = c.queue()
    assert (queue["answered"], queue["abandoned"]) == (1, 0)
    assert [r[3] for r in c.owner.log if r[0] == "c1"] == [
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER"]


def test_the_answer_arriving_after_the_caller_hung_up_is_refused():
    c = Centre([member_queue()], [agent("a")])
    c.login("a")
    entry = c.call(1)
    c.acd.abandon(entry.call)
    with pytest.raises(ACDError) as info:
        c.acd.answered("a")
    assert info.value.code == "invalid_state"
    assert c.state("a") == "ready"
    assert c.queue()["abandoned"] == 1
    assert c.acd.agent("a").calls == 0


# -- the sweep -------------------------------------------------------------------
def lose_ring_timer(entry):
    for agent in entry.ringing:
        agent.ring_timer.cancel()


def test_the_sweep_frees_an_agent_reserved_with_no_ring_timer():
    c = Centre([member_queue()], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    entry = c.call(1)
    lose_ring_timer(entry)
    c.advance(3600)
    assert c.state("a") == "reserved"
    n = len(c.events)
    assert c.acd.sweep() == [("a", "reserved")]
    assert c.owner.withdrawn == [("c1", "a")]
    assert c.agent_events("a", n)[0] == ("AgentReady", "reconciled")
    assert c.last_event("a", "AgentReady")["transition"] == "reconcile"
    # The caller rings again (a was freed first: it takes it back).
    assert c.owner.offered == [("c1", "a"), ("c1", "a")]
    assert c.acd.sweep() == []


def test_the_sweep_runs_every_sweep_s_once_started():
    c = Centre([member_queue()], [agent("a")], sweep_s=5)
    c.acd.start()
    c.login("a")
    entry = c.call(1)
    lose_ring_timer(entry)
    c.advance(4.9)
    assert c.state("a") == "reserved"
    c.advance(0.1)
    assert c.agent_events("a")[-2:] == [("AgentReady", "reconciled"), ("AgentReserved", None)]
    c.acd.stop()
    lose_ring_timer(entry)
    c.advance(60)
    assert c.state("a") == "reserved"


def test_the_sweep_ends_the_call_of_a_busy_agent_whose_call_is_gone():
    c = Centre([member_queue(wrap_up_s=10)], [agent("a")])
    c.login("a")
    c.call(1)
    c.acd.answered("a")
    c.advance(20)
    c.owner.gone.add("c1")
    assert c.acd.sweep() == [("a", "busy")]
    assert c.state("a") == "workingAfterCall"
    body = c.last_event("a")
    assert (body["why"], body["transition"], body["call"]) == ("reconciled", "reconcile", None)
    assert c.owner.rows("COMPLETECALLER") == [("c1", "q", "a", "COMPLETECALLER", 0, 20, 1)]
    c.advance(10)
    assert c.state("a") == "ready"
    assert c.stats("a")["talkS"] == 20


def test_the_sweep_removes_a_waiting_caller_whose_call_is_gone():
    c = Centre([member_queue()], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.call(2)
    c.advance(30)
    c.owner.gone.add("c1")
    assert c.acd.sweep() == [("c1", "gone")]
    assert c.waiting() == ["c2"]
    assert c.owner.rows("ABANDON") == [("c1", "q", None, "ABANDON", 1, 1, 30)]
    c.acd.set_ready("a")
    assert c.owner.offered == [("c2", "a")]


def test_the_sweep_does_not_offer_a_call_that_is_gone():
    c = Centre([member_queue()], [agent("a"), agent("b")])
    c.login("a", "b", gap=1)
    c.call(1)                                # rings a, then its hang-up is lost
    c.owner.gone.add("c1")
    fixed = c.acd.sweep()
    assert fixed == [("a", "reserved"), ("c1", "gone")]
    assert c.owner.offered == [("c1", "a")]
    assert c.states("a", "b") == ["ready", "ready"]
    assert c.agent_events("a")[-1] == ("AgentReady", "reconciled")
    assert c.waiting() == []


def test_the_sweep_lets_a_caller_past_its_max_wait_leave():
    c = Centre([member_queue(max_wait_s=30)], [agent("a")])
    c.login("a")
    entry = c.call(1)
    lose_ring_timer(entry)
    c.advance(40)                            # max wait passed while "ringing"
    c.acd.sweep()
    assert c.owner.exits == [("c1", "timeout")]
    assert c.owner.offers == ["a"]
    assert c.state("a") == "ready"


def test_the_sweep_puts_a_ready_agent_back_in_the_routing_index():
    c = Centre([member_queue()], [agent("a")])
    c.login("a")
    c.acd.router.agent_unready(c.acd.agent("a"))     # lost from the index
    c.call(1)
    assert c.owner.offers == []
    assert c.acd.sweep() == [("a", "ready")]
    assert c.owner.offers == ["a"]


# -- statistics ------------------------------------------------------------------
def scripted():
    """One agent serving, one paused; service level 20 s, wrap-up 10 s.

    c1 at 0, answered at 5 (wait 5), talks 60 s: handled in 70 s.
    c2 at 10, hangs up at 40 (30 s: counts against the service level).
    c3 at 45, answered at 80 (wait 35) when a is free, talks 20 s: 30 s.
    c4 at 50, hangs up at 55 (5 s: a short abandon, not counted).
    """
    c = Centre([member_queue(service_level_s=20, wrap_up_s=10)], [agent("a"), agent("b")])
    c.login("a")
    c.login("b", ready=False)
    c.acd.set_not_ready("b", "lunch")
    calls = {}
    script = [(0, "call", 1), (5, "answer", "a"), (10, "call", 2), (40, "abandon", 2),
              (45, "call", 3), (50, "call", 4), (55, "abandon", 4), (65, "end", "a"),
              (80, "answer", "a"), (100, "end", "a")]
    for at, what, arg in script:
        c.advance(at - c.clock.seconds())
        if what == "call":
            calls[arg] = c.call(arg)
        elif what == "answer":
            c.acd.answered(arg)
        elif what == "abandon":
            c.acd.abandon(calls[arg].call)
        else:
            c.acd.call_ended(arg, "caller")
        if at == 55:
            c.advance(5)                     # t = 60: a glance at the queue
            c.at_60 = c.queue()
    c.advance(15)                            # t = 115
    return c


def test_queue_statistics_on_a_scripted_day():
    c = scripted()
    assert c.at_60["longestWaitS"] == 15
    assert c.at_60["waiting"] == [{"call": "c3", "ani": "5550003", "presentation": "allowed",
                                   "waitS": 15,
                                   "firstWaitS": 15, "position": 1, "priority": 0,
                                   "agents": []}]
    queue = c.queue()
    assert queue == {
        "queue": "q", "strategy": "longest_idle", "waiting": [], "longestWaitS": 0,
        "agents": {"ready": 1, "notReady": 1}, "notReadyReasons": {"lunch": 1},
        "offered": 4, "answered": 2, "abandoned": 2,
        "exits": {},
        "serviceLevel": 1 / 3,               # 1 in 20 s / (2 answered + 1 abandoned > 20 s)
        "asaS": 20,                          # (5 + 35) / 2
        "ahtS": 50,                          # (60 + 10 + 20 + 10) / 2
        "handled": 2}
    assert c.owner.rows("ABANDON") == [("c2", "q", None, "ABANDON", 1, 1, 30),
                                       ("c4", "q", None, "ABANDON", 2, 2, 5)]


def test_agent_statistics_on_a_scripted_day():
    c = scripted()
    none = {"callsOut": 0, "callsDirect": 0}
    assert c.stats("a") == {"calls": 2, **none, "talkS": 80, "loginAt": 0,
                            "stateS": {"notReady": 0, "ready": 5, "reserved": 10, "busy": 80,
                                       "workingAfterCall": 20}}
    assert c.stats("b") == {"calls": 0, **none, "talkS": 0, "loginAt": 0,
                            "stateS": {"notReady": 115}}
    c.acd.logout("b")
    c.advance(100)
    assert c.stats("b") == {"calls": 0, **none, "talkS": 0, "loginAt": None,
                            "stateS": {"notReady": 115}}
    c.acd.login("b", "sb")                   # a new session starts from nothing
    assert c.stats("b") == {"calls": 0, **none, "talkS": 0, "loginAt": 215,
                            "stateS": {"notReady": 0}}


def test_calls_out_and_calls_by_name_count_apart_from_queue_calls():
    """`calls` (what fewest_calls balances) counts the queues' calls; a
    call out and a call to the agent by name count on their own, and
    their talk is talk time all the same."""
    c = Centre([member_queue()], [agent("a")])
    c.login("a")
    c.acd.dial_out("a", Call(1))
    c.advance(30)
    c.acd.call_ended("a", "agent")
    c.acd.offer_direct("a", Call(2))
    c.advance(2)
    c.acd.answered_direct("a")
    c.advance(45)
    c.acd.call_ended("a", "agent")
    stats = c.stats("a")
    assert (stats["calls"], stats["callsOut"], stats["callsDirect"], stats["talkS"]) == (
        0, 1, 1, 75)


def test_service_level_counts_an_answer_at_the_threshold_and_not_after():
    c = Centre([member_queue(service_level_s=20)], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.call(2)
    c.advance(20)
    c.acd.set_ready("a")
    c.take("a")                              # c1: 20 s, within
    c.advance(0.5)
    c.take("a")                              # c2: 20.5 s, not
    assert c.queue()["serviceLevel"] == 0.5


def test_a_caller_who_left_unanswered_counts_against_the_service_level():
    c = Centre([member_queue(service_level_s=20, max_wait_s=30)], [agent("a")])
    c.login("a", ready=False)
    c.call(1)
    c.advance(5)
    c.acd.set_ready("a")
    c.acd.answered("a")                      # c1: 5 s, within; a stays on it
    c.call(2)
    c.advance(31)                            # c2: max wait, nobody free
    figures = c.queue()
    assert figures["exits"] == {"timeout": 1}
    assert figures["serviceLevel"] == 0.5    # 1 within / (1 answered + 1 left)


def test_estimated_wait_is_position_times_recent_handle_time_over_staffed_agents():
    c = scripted()                           # handle times 70 and 30: 50 on average
    c.call(5)                                # rings a
    c.acd.answered("a")
    second, third = c.call(6), c.call(7)
    assert c.acd.estimated_wait(second) == 50        # 1 x 50 / 1 (b is not ready)
    assert c.acd.estimated_wait(third) == 100        # 2 x 50 / 1
    c.acd.set_ready("b")                     # b rings with c6: two agents staffed
    assert c.acd.estimated_wait(third) == 50         # 2 x 50 / 2


def test_estimated_wait_is_unknown_before_a_call_was_handled():
    c = Centre([member_queue()], [agent("a")])
    c.login("a", ready=False)
    assert c.acd.estimated_wait(c.call(1)) is None


def test_after_call_work_asked_holds_calls_until_the_agent_ends_it():
    """CSTA's workingAfterCall asked by the agent: no calls and no timer; asked
    during a call, the wrap-up after it waits for the agent."""
    clock = task.Clock()
    owner = Owner()
    acd = ACD(clock, [Queue("q", wrap_up_s=5)], [Agent("a", "a", "h", queues=("q",))],
              owner)
    acd.login("a", "s0")
    acd.set_ready("a")
    assert acd.set_after_call_work("a") == "done"
    assert acd.agents["a"].state == "workingAfterCall"
    acd.enqueue(Call(1), "q")
    clock.advance(60)
    assert owner.offers == []                   # nothing offered, no timer ended it
    acd.set_ready("a")
    assert owner.offers == ["a"]
    acd.answered("a")
    assert acd.set_after_call_work("a") == "pending"
    acd.call_ended("a", "caller")
    clock.advance(60)                           # past the queue's 5 s wrap-up
    assert acd.agents["a"].state == "workingAfterCall"
    acd.set_ready("a")
    assert acd.agents["a"].state == "ready"


def test_the_reason_of_a_pause_is_kept_when_it_ends():
    """AgentReady (or a new not-ready reason) says what the agent was
    paused for; the queue log's UNPAUSE too."""
    c = Centre([member_queue()], [agent("a")])
    c.login("a", ready=False)
    c.acd.set_not_ready("a", "lunch")
    assert c.last_event("a", "AgentNotReady")["previousReason"] == "login"
    c.advance(1800)
    c.acd.set_ready("a")
    ready = c.last_event("a", "AgentReady")
    assert (ready["previous"], ready["previousReason"], ready["reason"]) == (
        "notReady", "lunch", "")
    assert c.owner.rows("UNPAUSE") == [("NONE", "NONE", "a", "UNPAUSE", "lunch")]
