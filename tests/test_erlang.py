# SPDX-License-Identifier: GPL-2.0-or-later
"""An 8-hour shift in virtual time lands on Erlang C, and with abandons on Erlang A.

The ACD alone, on a task.Clock: Poisson arrivals into one queue,
exponential handle times, agents who answer as soon as they are offered
(no ring time, no wrap-up), so the centre is an M/M/N queue -- and with
exponential patience, M/M/N+M.  What the shift measures -- P(wait), ASA,
the service level as the ACD counts it (callers who hung up within the
threshold count neither way) and P(abandon) -- is compared with theory
(tests/erlang.py) within its sampling error: the shift is cut into
half-hour batches (the first, from an empty centre, is dropped), and the
batch means give the standard error, which absorbs the strong correlation
of waits from one caller to the next.  The tolerance is 4 standard errors;
with the seeds fixed the run repeats exactly.

The centres are sized so that a half hour is long against the time the
queue takes to forget its past (about h / (sqrt(N) - sqrt(A))^2): 100
agents at 90 Erlangs for Erlang C, 60 agents at 60 Erlangs with patience
for Erlang A.  Seeds 1 to 8 all pass (the largest deviation was 3.2
standard errors; 1.9 for the Erlang A shift's four measures).  Smaller,
busier centres (22 agents at 20 Erlangs) swing so slowly that 15 batches
cannot measure their error: one seed in ten landed 4 to 7 "standard
errors" out, and they were dropped.

Statistics alone would forgive an ACD that loses an agent now and then,
so the shift also checks, at every arrival and every hang-up, the rule
that makes a centre M/M/N: no caller waits unoffered while an agent is
ready.
"""
import math
import random
import statistics

import pytest
from twisted.internet import task

from cti.server.config import Agent, Queue
from cti.server.queueing.acd import ACD
from tests.erlang import (
    erlang_a,
    erlang_a_asa,
    erlang_a_sl,
    erlang_c,
    erlang_c_asa,
    erlang_c_sl,
)

SHIFT_S = 8 * 3600
BATCH_S = 1800
SL_S = 20


class Call:
    def __init__(self, n, arrived):
        self.id, self.ani, self.arrived = f"c{n}", "", arrived
        self.waited = None              # seconds until an agent answered
        self.gave_up = None             # seconds until the caller hung up unanswered

    @property
    def abandoned(self):
        return self.gave_up is not None


class Shift:
    """Callers and agents as the ACD's owner: answer at once, talk, hang up."""

    def __init__(self, agents, rate, handle_s, patience_s=None, seed=1):
        self.clock = task.Clock()
        self.rng = random.Random(seed)
        self.rate, self.handle_s, self.patience_s = rate, handle_s, patience_s
        configs = [Agent(str(1000 + i), f"agent {i}", "h", queues=("q",))
                   for i in range(agents)]
        self.acd = ACD(self.clock, [Queue("q", wrap_up_s=0, ring_timeout_s=60)], configs,
                       self)
        for i, a in enumerate(configs):
            self.acd.login(a.id, f"s{i}")
            self.acd.set_ready(a.id)
        self.calls = []

    # the ACD's owner
    def offer(self, entry, agent):
        self.clock.callLater(0, self._answer, entry.call, agent.id)

    def _answer(self, call, agent_id):
        if self.acd.agent(agent_id).call is not call:
            return                          # abandoned in the same instant
        self.acd.answered(agent_id)
        call.waited = self.clock.seconds() - call.arrived
        talk = self.rng.expovariate(1 / self.handle_s)
        self.clock.callLater(talk, self._hang_up, agent_id)

    def withdraw(self, entry, agent):
        pass

    def queue_exit(self, entry, reason):
        raise AssertionError(f"{entry.call.id} left the queue: {reason}")

    def call_alive(self, call):
        return True

    def station_out_of_service(self, station):
        return None

    def record_queue(self, *args):
        pass

    def record_state(self, *args):
        pass

    def record_login(self, *args):
        pass

    def record_session(self, *args):
        pass

    # the shift
    def check_work_conserving(self):
        unoffered = [e for e in self.acd.entries.values() if not e.ringing]
        if unoffered:
            ready = [a.id for a in self.acd.agents.values() if a.state == "ready"]
            assert not ready, f"{unoffered[0].call.id} waits while {ready[0]} is ready"

    def _hang_up(self, agent_id):
        self.acd.call_ended(agent_id, "caller")
        self.clock.callLater(0, self.check_work_conserving)   # after the wrap-up of 0 s

    def _arrive(self):
        self.check_work_conserving()
        now = self.clock.seconds()
        if now >= SHIFT_S:
            return
        call = Call(len(self.calls), now)
        self.calls.append(call)
        self.acd.enqueue(call, "q")
        if self.patience_s is not None:
            patience = self.rng.expovariate(1 / self.patience_s)
            self.clock.callLater(patience, self._give_up, call)
        self.clock.callLater(self.rng.expovariate(self.rate), self._arrive)

    def _give_up(self, call):
        if call.waited is None:
            call.gave_up = self.clock.seconds() - call.arrived
            self.acd.abandon(call)

    def run(self):
        self.clock.callLater(self.rng.expovariate(self.rate), self._arrive)
        while self.clock.getDelayedCalls():
            due = min(c.getTime() for c in self.clock.getDelayedCalls())
            self.clock.advance(max(0.0, due - self.clock.seconds()))
        return self

    def batches(self, measure):
        """measure(calls of a batch) for each half hour after the first."""
        by_batch = {}
        for call in self.calls:
            by_batch.setdefault(int(call.arrived // BATCH_S), []).append(call)
        return [measure(by_batch[b]) for b in sorted(by_batch) if b > 0]


def asa(calls):
    """The mean wait of the calls answered."""
    return statistics.fmean(c.waited for c in calls if not c.abandoned)


def service_level(calls):
    """Answered within SL_S / (answered + abandoned after SL_S), as the ACD
    counts it: callers who hung up sooner count neither way."""
    answered = [c for c in calls if not c.abandoned]
    late = [c for c in calls if c.abandoned and c.gave_up > SL_S]
    return sum(c.waited <= SL_S for c in answered) / (len(answered) + len(late))


def agrees(samples, theory):
    """The batch mean is within 4 standard errors of theory."""
    mean = statistics.fmean(samples)
    error = statistics.stdev(samples) / math.sqrt(len(samples))
    assert abs(mean - theory) <= 4 * error, (mean, theory, error)
    return mean, error


def test_a_shift_without_abandons_lands_on_erlang_c():
    rate, handle_s, agents = 3 / 4, 120, 100         # A = 90 Erlangs, 21,600 calls
    shift = Shift(agents, rate, handle_s).run()
    a = rate * handle_s
    assert len(shift.calls) == pytest.approx(rate * SHIFT_S, rel=0.05)
    assert all(c.waited is not None for c in shift.calls)   # everybody was answered

    p_wait, error = agrees(shift.batches(lambda cs: sum(c.waited > 0 for c in cs) / len(cs)),
                           erlang_c(a, agents))
    assert error < 0.07                              # the shift is long enough to tell
    agrees(shift.batches(asa), erlang_c_asa(a, agents, handle_s))
    agrees(shift.batches(service_level), erlang_c_sl(a, agents, handle_s, SL_S))
    # and the ACD's own figures say the same as the callers
    q = shift.acd.describe_queue(shift.acd.queue("q"))
    assert q["answered"] == len(shift.calls)
    assert q["asaS"] == pytest.approx(asa(shift.calls))


def test_a_shift_with_abandons_lands_on_erlang_a():
    rate, handle_s, patience_s, agents = 1 / 2, 120, 60, 60    # A = 60 = N: only
    shift = Shift(agents, rate, handle_s, patience_s).run()   # patience keeps it stable
    theory = (rate, 1 / handle_s, 1 / patience_s, agents)
    p_wait, p_abandon = erlang_a(*theory)

    _, error = agrees(shift.batches(lambda cs: sum(c.abandoned or c.waited > 0 for c in cs)
                                    / len(cs)), p_wait)
    assert error < 0.07                              # the shift is long enough to tell
    agrees(shift.batches(asa), erlang_a_asa(*theory))
    agrees(shift.batches(service_level), erlang_a_sl(*theory, SL_S))
    agrees(shift.batches(lambda cs: sum(c.abandoned for c in cs) / len(cs)), p_abandon)
    # and the ACD's own figures say the same as the callers
    q = shift.acd.describe_queue(shift.acd.queue("q"))
    assert q["abandoned"] == sum(c.abandoned for c in shift.calls) > 0
    assert q["answered"] + q["abandoned"] == len(shift.calls)
    assert q["asaS"] == pytest.approx(asa(shift.calls))
    assert q["serviceLevel"] == pytest.approx(service_level(shift.calls))


def test_erlang_a_without_patience_is_erlang_c():
    """The Erlang A theory the shift is held to, checked against the
    worked example of Erlang C (patience so long that nobody hangs up)."""
    rate, handle_s, agents = 360 / 1800, 240, 52
    a = rate * handle_s
    theory = (rate, 1 / handle_s, 1e-9, agents)
    assert erlang_a(*theory)[0] == pytest.approx(erlang_c(a, agents)) == pytest.approx(
        0.466, abs=5e-4)
    assert erlang_a_asa(*theory) == pytest.approx(erlang_c_asa(a, agents, handle_s), rel=1e-5)
    assert erlang_a_sl(*theory, SL_S) == pytest.approx(erlang_c_sl(a, agents, handle_s, SL_S),
                                                        rel=1e-5)
