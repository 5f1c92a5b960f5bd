# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_monitoring -*-
"""The figures as Prometheus metrics (prometheus_client writes the
exposition format): one collector, read at each scrape.

    cti_calls{phase}                       calls up, by phase (routing, ivr, queued...)
    cti_calls_offered_total                calls taken since the start
    cti_calls_ended_total
    cti_queue_waiting{queue}               callers waiting
    cti_queue_longest_wait_seconds{queue}
    cti_queue_service_level{queue}         0..1 (absent before its first counted call)
    cti_queue_offered_total{queue}, cti_queue_answered_total{queue},
    cti_queue_abandoned_total{queue}
    cti_agents{state}                      agents by state (loggedOff too)
    cti_agents_client_lost                 not ready because their desktop is gone
    cti_trunks{state}                      trunk channels by state (out_of_service...)
    cti_span_up{span}                      1 in service, 0 down or recovering
    cti_span_alarm{span,alarm}             1 for each alarm up
    cti_span_line_events_total{span,event} the framer's error events since the span
                                           opened: bpv, exz, crc, fas, oof, slips
    cti_span_interval_seconds{span,parameter}  the current 15-minute interval's
                                           es, ses, sefs, uas, css, les (bes on ESF)
    cti_span_available{span}               0 in unavailable time (T1.231)
    cti_voice_resources{state}             free, busy, parked, quarantined, retired
    cti_alarm{alarm}                       1 for each alarm of the server: span,
                                           voice (a resource retired), database, disk
    cti_records_pending                    records not yet in the database
    cti_records_unjournaled                records not yet fsynced to the journal
    cti_protocol_sessions{role}            sessions logged in
    cti_draining                           1 while the server stops
    cti_reactor_lag_seconds                the last tick's lag
    cti_reactor_lag_max_seconds            the largest of the last minute
    cti_uptime_seconds
"""
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from cti.server.agents.agents import AGENT_STATES
from cti.server.core.call import PHASES
from cti.server.lines.channels import EM_WINK, LOOP_START
from cti.server.lines.pri import PRI_TRUNK

#: Every alarm kind, so that a cleared one reads 0 rather than vanishing.
ALARMS = ("span", "voice", "database", "disk")
#: Every voice resource state, likewise.
VOICE_STATES = ("free", "busy", "parked", "quarantined", "retired")
#: Every phase of a call and every state of a trunk channel, likewise: a
#: gauge at 0 rather than gone when nothing is in it.
CALL_PHASES = tuple(sorted(PHASES.states))
TRUNK_STATES = tuple(sorted(EM_WINK.states | LOOP_START.states | PRI_TRUNK.states))


def gauge(name, doc, value=None, labels=(), samples=()):
    family = GaugeMetricFamily(name, doc, value=value, labels=list(labels) or None)
    for label_values, v in samples:
        family.add_metric(list(label_values), v)
    return family


class Collector:
    """A prometheus_client collector over a Figures."""

    def __init__(self, figures):
        self.figures = figures

    def describe(self):
        return []                        # read at each scrape, nothing to register first

    def collect(self):
        f = self.figures.read()
        calls = dict.fromkeys(CALL_PHASES, 0) | f["calls"]
        yield gauge("cti_calls", "Calls up, by phase.", labels=["phase"],
                    samples=[((phase,), n) for phase, n in sorted(calls.items())])
        yield CounterMetricFamily("cti_calls_offered", "Calls taken since the start.",
                                  value=f["callsOffered"])
        yield CounterMetricFamily("cti_calls_ended", "Calls ended since the start.",
                                  value=f["callsEnded"])
        yield from self._queues(f["queues"])
        states = {s: 0 for s in AGENT_STATES if s != "loggedOn"} | {"reserved": 0, "busy": 0}
        states.update(f["agents"])
        yield gauge("cti_agents", "Agents, by state.", labels=["state"],
                    samples=[((s,), n) for s, n in sorted(states.items())])
        yield gauge("cti_agents_client_lost", "Agents not ready because their desktop is gone.",
                    value=f["agentsClientLost"])
        trunks = dict.fromkeys(TRUNK_STATES, 0) | f["trunks"]
        yield gauge("cti_trunks", "Trunk channels, by state.", labels=["state"],
                    samples=[((s,), n) for s, n in sorted(trunks.items())])
        yield gauge("cti_span_up", "1 when the span is in service.", labels=["span"],
                    samples=[((s["span"],), int(s["state"] == "in_service"))
                             for s in f["spans"]])
        yield gauge("cti_span_alarm", "1 for each alarm up on a span.", labels=["span", "alarm"],
                    samples=[((s["span"], a), 1) for s in f["spans"] for a in s["alarms"]])
        yield from self._span_lines(f["spans"])
        yield gauge("cti_voice_resources", "Voice resources of the pool, by state.",
                    labels=["state"],
                    samples=[((s,), f["voice"].get(s, 0)) for s in VOICE_STATES])
        yield gauge("cti_alarm", "1 for each alarm of the server.", labels=["alarm"],
                    samples=[((a,), int(a in f["alarms"])) for a in ALARMS])
        yield gauge("cti_records_pending", "Records not yet in the database.",
                    value=f["records"]["pending"])
        yield gauge("cti_records_unjournaled", "Records not yet fsynced to the journal.",
                    value=f["records"]["unjournaled"])
        yield gauge("cti_protocol_sessions", "Protocol sessions logged in, by role.",
                    labels=["role"],
                    samples=[((r,), n) for r, n in sorted(f["sessions"].items())])
        yield gauge("cti_draining", "1 while the server stops.", value=int(f["draining"]))
        yield gauge("cti_reactor_lag_seconds", "How late the reactor ran its last tick.",
                    value=f["reactorLagS"])
        yield gauge("cti_reactor_lag_max_seconds", "The largest reactor lag of the last minute.",
                    value=f["reactorLagMaxS"])
        yield gauge("cti_uptime_seconds", "Seconds since the server started.",
                    value=f["uptimeS"])

    @staticmethod
    def _queues(queues):
        yield gauge("cti_queue_waiting", "Callers waiting in the queue.", labels=["queue"],
                    samples=[((q["queue"],), q["waiting"]) for q in queues])
        yield gauge("cti_queue_longest_wait_seconds", "The longest wait now in the queue.",
                    labels=["queue"],
                    samples=[((q["queue"],), q["longestWaitS"]) for q in queues])
        yield gauge("cti_queue_service_level", "The queue's service level, 0 to 1.",
                    labels=["queue"],
                    samples=[((q["queue"],), q["serviceLevel"]) for q in queues
                             if q["serviceLevel"] is not None])
        for key, doc in (("offered", "Calls offered to the queue."),
                         ("answered", "Calls of the queue answered."),
                         ("abandoned", "Callers who hung up waiting in the queue.")):
            family = CounterMetricFamily(f"cti_queue_{key}", doc, labels=["queue"])
            for q in queues:
                family.add_metric([q["queue"]], q[key])
            yield family

    @staticmethod
    def _span_lines(spans):
        events = CounterMetricFamily("cti_span_line_events",
                                     "A span framer's error events since the span opened.",
                                     labels=["span", "event"])
        for span in spans:
            for event, count in sorted(span["lineEvents"].items()):
                events.add_metric([span["span"], event], count)
        yield events
        watched = [s for s in spans if s["interval"] is not None]
        yield gauge("cti_span_interval_seconds",
                    "Seconds of the current 15-minute interval counted as each T1.231 "
                    "parameter.", labels=["span", "parameter"],
                    samples=[((s["span"], p), n) for s in watched
                             for p, n in sorted(s["interval"].items())])
        yield gauge("cti_span_available", "0 while the span is in unavailable time.",
                    labels=["span"], samples=[((s["span"],), int(s["available"]))
                                              for s in watched])
