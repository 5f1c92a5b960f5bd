# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""The demo's figures, from its call detail records.

Every caller who reached a queue (`offered`) ended one way, so that in
every summary, overall and queue by queue::

    offered = answered + abandoned + left + cleared_at_end

- `answered`: an agent answered, and the call ended before the demo did;
- `abandoned`: the caller hung up while waiting, or while an agent's
  phone rang;
- `left`: the queue let the caller go without an agent: its `max_wait_s`
  passed, the exit key, a queue full or emptied of agents, a supervisor
  cleared it (0 in most runs of the sample configuration);
- `cleared_at_end`: still waiting, or talking to an agent, when the demo
  ended; its end cleared them.  Which calls those are, the demo says
  (`in_progress`: their ids, taken as the traffic stops): the records
  alone cannot tell a caller the end cut off from one who hung up.

A caller counts in the queue it was last in, as its CDR judges that last
stay (its `queue` and disposition: a spanish caller who overflowed to
sales counts in sales; one answered in support, then transferred to
sales and hanging up there, abandoned sales, its wait the wait in
sales).  The figures
are those of the calls that ended during the demo: `service_level` is
the queue's own definition (cti.server.queueing.state.service_level);
`asa_s` the mean wait of the answered calls; `aht_s` their mean talk
time plus the queue's wrap-up.  Overall, also `calls` (every CDR: every
caller who reached a trunk), `ivr_only` (callers the IVR served to the
end, without a queue) and `in_ivr_at_end` (callers still in the IVR,
never queued, when the demo ended: its end cleared them).  Every caller
is in one of offered, ivr_only, in_ivr_at_end, or (rarely) `other`: a
call that failed, or went out of the centre, before any queue.
"""
from cti.server.queueing.state import service_level

#: CDR dispositions of callers a queue let go unanswered, whom the service
#: level counts as missed (a supervisor's clearing counts neither way).
LEFT_QUEUE = ("timed_out", "queue_empty", "exited", "overflow")
#: How each caller offered to a queue ended, in the order the summary says them.
OUTCOMES = ("answered", "abandoned", "left", "cleared_at_end")


def outcome(cdr, in_progress):
    """Which of OUTCOMES a queued caller's CDR is."""
    if cdr.call_id in in_progress:
        return "cleared_at_end"
    if cdr.disposition in ("answered", "abandoned"):
        return cdr.disposition
    return "left"


def figures(cdrs, config, in_progress):
    """offered, each of OUTCOMES, service_level, asa_s, aht_s of `cdrs`."""
    by = {name: [] for name in OUTCOMES}
    for cdr in cdrs:
        if cdr.queue is not None:
            by[outcome(cdr, in_progress)].append(cdr)
    answered = by["answered"]
    threshold = {q.name: q.service_level_s for q in config.queues}
    level = service_level(
        sum(r.wait_s <= threshold[r.queue] for r in answered), len(answered),
        sum(r.wait_s > threshold[r.queue] for r in by["abandoned"]),
        sum(r.disposition in LEFT_QUEUE and r.queued_at is not None for r in by["left"]))
    handled = [r.talk_s + config.queue(r.queue).wrap_up_s for r in answered]
    return {"offered": sum(len(rows) for rows in by.values()),
            **{name: len(rows) for name, rows in by.items()},
            "service_level": None if level is None else round(level, 4),
            "asa_s": _mean([r.wait_s for r in answered]),
            "aht_s": _mean(handled)}


def summary(cdrs, config, in_progress=frozenset()):
    """The demo's summary: overall, then `queues` by name (every queue of
    the configuration); `in_progress`: the calls up when the demo ended."""
    result = {"calls": len(cdrs), **figures(cdrs, config, in_progress)}
    never_queued = [r for r in cdrs if r.queue is None]
    result["in_ivr_at_end"] = sum(r.call_id in in_progress for r in never_queued)
    result["ivr_only"] = sum(r.disposition == "ivr_only" and r.call_id not in in_progress
                             for r in never_queued)
    result["other"] = len(never_queued) - result["in_ivr_at_end"] - result["ivr_only"]
    return {**result,
            "queues": {q.name: figures([r for r in cdrs if r.queue == q.name], config,
                                       in_progress)
                       for q in config.queues}}


def report(result):
    """The summary as a person reads it, a list of lines::

        58 calls = 46 offered + 10 served by the IVR alone + 2 in the IVR at the end + 0 other
        46 offered = 38 answered + 5 abandoned + 0 left + 3 cleared at end; service level ...
          sales    20 offered = 17 answered + 2 abandoned + 0 left + 1 cleared at end; ...
          support  ...
    """
    lines = [f"{counted(result['calls'], 'call')} = {result['offered']} offered + "
             f"{result['ivr_only']} served by the IVR alone + {result['in_ivr_at_end']} in the "
             f"IVR at the end + {result['other']} other", _figures_line(result)]
    width = max(map(len, result["queues"]), default=0)
    lines += [f"  {name:<{width}}  {_figures_line(q)}" for name, q in result["queues"].items()]
    return lines


def counted(n, thing):
    """1 call, 2 calls."""
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _figures_line(f):
    outcomes = " + ".join(f"{f[name]} {name.replace('_', ' ')}" for name in OUTCOMES)
    level = "-" if f["service_level"] is None else f"{f['service_level']:.0%}"
    return (f"{f['offered']} offered = {outcomes}; service level {level}, "
            f"ASA {_seconds(f['asa_s'])}, AHT {_seconds(f['aht_s'])}")


def _seconds(value):
    return "-" if value is None else f"{value:.1f} s"


def _mean(values):
    return round(sum(values) / len(values), 3) if values else None
