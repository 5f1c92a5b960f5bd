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
P(abandon) = theta * E[callers queued] / lambda.

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


def erlang_a(lam, mu, theta, n, cap=2000):
    """(P(wait), P(abandon)) of M/M/n+M, the chain cut at `cap` callers."""
    weights = [1.0]
    for k in range(1, cap):
        death = mu * min(k, n) + theta * max(k - n, 0)
        weights.append(weights[-1] * lam / death)
    total = sum(weights)
    p_wait = sum(weights[n:]) / total
    queued = sum((k - n) * w for k, w in enumerate(weights) if k > n) / total
    return p_wait, theta * queued / lam
