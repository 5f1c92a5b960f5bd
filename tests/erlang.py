# SPDX-License-Identifier: GPL-2.0-or-later
"""Erlang C and Erlang A: what queueing theory says a call centre measures.

Offered load A = lambda * h Erlangs (arrivals per second times the mean
handle time), N agents.  Erlang C (M/M/N, nobody hangs up) needs A < N::

    P(wait) = [A^N/N! * N/(N-A)] / [sum_{k<N} A^k/k! + A^N/N! * N/(N-A)]
    ASA     = P(wait) * h / (N - A)
    SL(t)   = 1 - P(wait) * exp(-(N - A) * t / h)

Erlang A (M/M/N+M) adds patience, exponential with mean 1/theta: a
birth-death chain on the callers in the system n, births lambda, deaths
mu * min(n, N) + theta * max(n - N, 0); by PASTA an arrival sees the
stationary distribution, so P(wait) = P(n >= N), and
P(abandon) = theta * E[callers queued] / lambda.  ASA and the service
level follow one waiting caller through its turns in the line
(erlang_a_asa, erlang_a_sl); with theta -> 0 they are Erlang C's.

Worked example (../shared/design/acd.md): 360 calls per 30 min, h = 240 s,
A = 48: N = 52 gives P(wait) 46.6 %, ASA 28.0 s, SL(20 s) 66.6 %.
"""
import math


def erlang_c(a, n):
    """P(wait) of M/M/n at offered load a (a < n)."""
    top = a ** n / math.factorial(n) * n / (n - a)
    return top / (sum(a ** k / math.factorial(k) for k in range(n)) + top)


def erlang_c_asa(a, n, h):
    return erlang_c(a, n) * h / (n - a)


def erlang_c_sl(a, n, h, t):
    return 1 - erlang_c(a, n) * math.exp(-(n - a) * t / h)


def _erlang_a_chain(lam, mu, theta, n, cap):
    """The stationary distribution of callers in the system, 0..cap-1
    (cut short where the rest is negligible)."""
    weights = [1.0]
    for k in range(1, cap):
        death = mu * min(k, n) + theta * max(k - n, 0)
        weights.append(weights[-1] * lam / death)
        if k > n and weights[-1] < 1e-18 * max(weights):
            break
    total = sum(weights)
    return [w / total for w in weights]


def erlang_a(lam, mu, theta, n, cap=2000):
    """(P(wait), P(abandon)) of M/M/n+M, the chain cut at `cap` callers."""
    p = _erlang_a_chain(lam, mu, theta, n, cap)
    queued = sum((k - n) * pk for k, pk in enumerate(p) if k > n)
    return sum(p[n:]), theta * queued / lam


def erlang_a_asa(lam, mu, theta, n, cap=2000):
    """ASA of M/M/n+M: the mean wait of the callers who are answered.

    An arrival finding j callers queued ahead (probability p[n + j]) waits
    in turn with j, j-1... 0 ahead: with i ahead, all n agents busy, the
    line moves at rate n*mu + i*theta (an answer or one of the i hanging
    up) and the caller hangs up at rate theta, so the stage lasts an
    exponential time of rate r_i = n*mu + (i+1)*theta, whichever ends it;
    the caller is answered with probability prod (n*mu + i*theta) / r_i
    after a mean wait of sum 1 / r_i.
    """
    p = _erlang_a_chain(lam, mu, theta, n, cap)
    answered, waited = sum(p[:n]), 0.0
    stays, mean = 1.0, 0.0
    for i, p_ahead in enumerate(p[n:]):
        rate = n * mu + (i + 1) * theta
        stays *= (n * mu + i * theta) / rate
        mean += 1 / rate
        answered += p_ahead * stays
        waited += p_ahead * stays * mean
    return waited / answered


def erlang_a_sl(lam, mu, theta, n, t, cap=2000):
    """The service level of M/M/n+M as the ACD counts it (docs/configuration.md):
    answered within t / (answered + abandoned after t).

    The waiting callers of erlang_a_asa, by callers ahead, move on a clock
    ticking at a rate `top` no stage beats (uniformization): at each tick
    a caller with i ahead moves up (or is answered, from 0) with probability
    (n*mu + i*theta) / top, hangs up with theta / top, else stays; the
    ticks by t are Poisson(top * t).
    """
    p = _erlang_a_chain(lam, mu, theta, n, cap)
    waiting = p[n:]                                  # by callers ahead
    moves = [n * mu + i * theta for i in range(len(waiting) + 1)]
    top = moves[-1] + theta
    answered = abandoned = 0.0                       # after the ticks so far
    answered_by_t = abandoned_by_t = 0.0
    ticks, chance, seen = 0, math.exp(-top * t), 0.0  # chance: P(ticks by t = ticks)
    while seen < 1 - 1e-12:
        answered_by_t += chance * answered
        abandoned_by_t += chance * abandoned
        seen += chance
        answered += waiting[0] * moves[0] / top
        abandoned += sum(waiting) * theta / top
        waiting = [w * (1 - (moves[i] + theta) / top) + behind * moves[i + 1] / top
                   for i, (w, behind) in enumerate(zip(waiting, [*waiting[1:], 0.0], strict=True))]
        ticks += 1
        chance *= top * t / ticks
    return (sum(p[:n]) + answered_by_t) / (1 - abandoned_by_t)
