# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_monitoring -*-
"""The running server's figures, read when asked (a scrape, a status).

Nothing is counted on the side: each figure is read from the object that
owns it, at the moment it is asked for, on the reactor thread:

    calls by phase, offered and ended      the call layer (cti.server.core)
    waiting, longest wait, service level   the ACD's queues (cti.server.queueing)
    agents by state, "client lost"         the ACD, the agents' presence
    trunks by state, spans and alarms      the channels (cti.server.lines)
    spans' line errors and performance     the span watches (cti.server.maintenance):
                                           the driver's raw counters, the current
                                           15-minute interval's ES, SES, UAS...
    voice resources free, busy, parked,    the voice pool (quarantined: being
      quarantined, retired                 tested after a hang)
    records waiting, database/disk alarms  the record sink (cti.storage)
    protocol sessions by role              the hub, through `sessions()`
    reactor lag                            ReactorLag (lag.py)

`Figures.read()` gives them as one plain dict: /status serves it as
JSON, and the Prometheus collector (metrics.py) turns it into metrics.
"""
from collections import Counter

from cti.server.agents.presence import CLIENT_LOST
from cti.server.lines.channels import Station
from cti.server.lines.performance import PARAMETERS
from cti.server.lines.spans import Span


class Figures:
    def __init__(self, clock, center, records, sessions, lag, started_at, span_watches=None):
        self.clock = clock
        self.center = center
        self.records = records           # the record sink (cti.storage.sink)
        self.sessions = sessions         # () -> the roles of the logged-in sessions
        self.lag = lag
        self.started_at = started_at
        self.span_watches = span_watches

    def read(self):
        center = self.center
        layer, acd = center.layer, center.acd
        trunks, spans = Counter(), []
        for channel in center.channels:
            if isinstance(channel, Span):
                spans.append({"span": channel.name, "state": channel.state,
                              "alarms": sorted(channel.active), **self._line(channel.name)})
            elif not isinstance(channel, Station):
                trunks[channel.state] += 1
        pool = center.channels.voice_pool
        queues = [acd.describe_queue(q) for q in acd.queues.values()]
        agents = Counter(a.state for a in acd.agents.values())
        alarms = sorted({*self.records.alarms,
                         *(["span"] if any(s["alarms"] for s in spans) else []),
                         *(["voice"] if pool is not None and pool.retired else [])})
        return {
            "uptimeS": round(self.clock.seconds() - self.started_at, 3),
            "draining": not layer.accepting,
            "calls": dict(Counter(c.state for c in layer.calls.values())),
            "callsOffered": layer.totals["offered"], "callsEnded": layer.totals["ended"],
            "queues": [{"queue": q["queue"], "waiting": len(q["waiting"]),
                        "longestWaitS": q["longestWaitS"], "serviceLevel": q["serviceLevel"],
                        "offered": q["offered"], "answered": q["answered"],
                        "abandoned": q["abandoned"]} for q in queues],
            "agents": dict(agents),
            "agentsClientLost": sum(a.state == "notReady" and a.reason == CLIENT_LOST
                                    for a in acd.agents.values()),
            "trunks": dict(trunks),
            "spans": spans,
            "voice": {} if pool is None else {
                "free": len(pool.free), "busy": len(pool.owner), "parked": len(pool.parked),
                "quarantined": len(pool.quarantined), "retired": len(pool.retired)},
            "alarms": alarms,
            "records": {"pending": self.records.pending,
                        "unjournaled": self.records.unjournaled},
            "sessions": dict(Counter(self.sessions())),
            "reactorLagS": round(self.lag.last_s, 4),
            "reactorLagMaxS": round(self.lag.max_s, 4),
        }

    def _line(self, span):
        """A span's raw line counters and its current interval's seconds."""
        watch = self.span_watches.watches.get(span) if self.span_watches else None
        if watch is None or watch.performance is None:
            return {"lineEvents": {}, "interval": None}
        current = watch.performance.snapshot()["current"]
        return {"lineEvents": {k: v for k, v in watch.counters.items()
                               if isinstance(v, int) and not isinstance(v, bool)
                               and k != "seconds"},
                "interval": {k: current[k] for k in PARAMETERS + ("bes",) if k in current},
                "available": watch.performance.available}
