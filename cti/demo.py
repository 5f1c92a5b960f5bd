# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""`cti demo`: the simulated call centre, live.

One process runs the whole three-tier system on the simulated boards,
on the wall clock: the CT server of etc/cti.toml (listening on a free
local port), the flow tier connected to it over TCP, bot agents
connected the same way, and Poisson callers at the telco's end of the T1
span (simulators/callcentre.py).  A live console view (rich) shows the
queues, the agents and the calls; at the end a summary::

    cti demo                        # 120 s, live view
    cti demo --duration 60 --json   # the summary as one JSON object, last line

Summary keys: calls (arrived at the trunks), offered (reached a queue),
answered, abandoned (hung up while queued or ringing), service_level
(the queue's, cti.server.queueing.acd.service_level, from the CDRs), asa_s (mean wait of
answered calls), aht_s (mean talk time plus the queue's wrap-up),
ivr_only, and the same per queue under `queues`.
"""
import json
import socket
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from twisted.internet import defer, task

from cti.server.queueing.state import service_level
from cti.storage.models import CallRecord
from cti.storage.sink import Forwarding

DEFAULT_DURATION_S = 120


class Tee(Forwarding):
    """Records to the store, and CDRs kept for the summary."""

    def __init__(self, store):
        super().__init__(store)
        self.cdrs = []

    def add(self, record):
        if isinstance(record, CallRecord):
            self.cdrs.append(record)
        super().add(record)


#: CDR dispositions of callers who left a queue unanswered (not abandons)
LEFT_QUEUE = ("timed_out", "queue_empty", "exited", "overflow")


def summary(cdrs, config):
    """The demo's figures from its call detail records."""
    def figures(rows, queue=None):
        queued = [r for r in rows if r.queue is not None]
        answered = [r for r in queued if r.disposition == "answered"]
        abandoned = [r for r in queued if r.disposition == "abandoned"]
        threshold = {q.name: q.service_level_s for q in config.queues}
        sl = service_level(
            sum(r.wait_s <= threshold[r.queue] for r in answered), len(answered),
            sum(r.wait_s > threshold[r.queue] for r in abandoned),
            sum(r.disposition in LEFT_QUEUE and r.queued_at is not None for r in queued))
        talk = [r.talk_s + config.queue(r.queue).wrap_up_s for r in answered]
        out = {"offered": len(queued), "answered": len(answered),
               "abandoned": len(abandoned),
               "service_level": None if sl is None else round(sl, 4),
               "asa_s": round(sum(r.wait_s for r in answered) / len(answered), 3)
               if answered else None,
               "aht_s": round(sum(talk) / len(talk), 3) if talk else None}
        if queue is None:
            out = {"calls": len(rows), **out,
                   "ivr_only": sum(r.disposition == "ivr_only" for r in rows)}
        return out

    result = figures(cdrs)
    result["queues"] = {q.name: figures([r for r in cdrs if r.queue == q.name], q.name)
                        for q in config.queues}
    return result


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def view(center, traffic, started, clock):
    """The live console: queues, agents, calls."""
    from rich.console import Group
    from rich.table import Table

    now = clock.seconds()
    queues = Table(title=f"cti demo: {now - started:5.0f} s", expand=True)
    for column in ("queue", "waiting", "longest wait", "offered", "answered", "abandoned",
                   "service level", "ASA"):
        queues.add_column(column)
    for q in center.acd.queues.values():
        d = center.acd.describe_queue(q)
        longest = max((w["waitS"] for w in d["waiting"]), default=0)
        sl = "-" if d["serviceLevel"] is None else f"{100 * d['serviceLevel']:.0f}%"
        asa = "-" if d["asaS"] is None else f"{d['asaS']:.1f} s"
        queues.add_row(q.name, str(len(d["waiting"])), f"{longest:.0f} s", str(d["offered"]),
                       str(d["answered"]), str(d["abandoned"]), sl, asa)
    agents = Table(expand=True)
    for column in ("agent", "name", "station", "state", "for", "calls"):
        agents.add_column(column)
    for a in center.acd.agents.values():
        agents.add_row(a.id, a.config.name, a.station or "-", a.state,
                       f"{now - a.machine.since:.0f} s", str(a.calls))
    calls = Table(expand=True)
    for column in ("call", "trunk", "from", "to", "phase", "queue", "agent"):
        calls.add_column(column)
    for call in list(center.calls.values())[:12]:
        calls.add_row(call.id, call.trunk.name, call.call.ani, call.call.dnis, call.state,
                      call.queue or "-", call.agent.id if call.agent else "-")
    return Group(queues, agents, calls)


@defer.inlineCallbacks
def run(reactor, args):
    from cti.flow.run import load
    from cti.flow.tier import FlowTier
    from cti.protocol.client import connect
    from cti.server.app import CTServer
    from cti.storage.store import RecordStore, default_url
    from simulators.callcentre import Profile, Traffic

    config, settings, flows = load(args.config)
    var = Path(tempfile.mkdtemp(prefix="cti-demo-")) if args.json else Path(config.var_dir)
    config = replace(config, var_dir=var)     # --json: nothing of this run is kept
    store = RecordStore(config.database or default_url(var), reactor, var_dir=var,
                        db_timeout_s=config.faults.db_timeout_s)
    records = Tee(store)
    port = _free_port()
    endpoint = f"tcp:{port}:interface=127.0.0.1"
    server = CTServer(config, reactor=reactor, records=records, listen=[endpoint], http="",
                      drain_s=0, freeze_heap=True)
    store.startService()
    server.startService()
    dial = f"tcp:host=127.0.0.1:port={port}"
    flow_client = yield connect(reactor, dial)
    yield flow_client.login(settings.user, settings.read_password(), "flow", client="demo")
    tier = FlowTier.from_settings(flow_client, flows, settings.prompts_dir, reactor)
    yield tier.register()
    profile = Profile(calls_per_minute=args.rate, seed=args.seed)
    traffic = Traffic(reactor, server.sim, server.center, lambda: connect(reactor, dial),
                      profile)
    yield traffic.start_agents()
    started = reactor.seconds()
    traffic.start_callers()
    live = None
    if not args.json and sys.stdout.isatty():
        from rich.live import Live

        live = Live(view(server.center, traffic, started, reactor), refresh_per_second=2)
        live.start()
        refresh = task.LoopingCall(
            lambda: live.update(view(server.center, traffic, started, reactor)))
        refresh.start(0.5)
    yield task.deferLater(reactor, args.duration, lambda: None)
    traffic.stop_callers()
    yield task.deferLater(reactor, 1.0, lambda: None)
    if live is not None:
        refresh.stop()
        live.stop()
    traffic.stop()
    yield server.stopService()
    yield store.stopService()
    result = {"bench": "demo", "duration_s": args.duration, "calls_per_minute": args.rate,
              **summary(records.cdrs, config)}
    return result


def main(args):
    from twisted.internet import reactor

    box = {}

    def finished(result):
        box["result"] = result
        reactor.stop()

    def failed(f):
        box["error"] = f
        reactor.stop()

    reactor.callWhenRunning(lambda: run(reactor, args).addCallbacks(finished, failed))
    reactor.run()
    if "error" in box:
        box["error"].printTraceback(file=sys.stderr)
        return 1
    result = box["result"]
    if args.json:
        print(json.dumps(result))
    else:
        print(f"{result['calls']} calls: {result['offered']} queued, {result['answered']} "
              f"answered, {result['abandoned']} abandoned, {result['ivr_only']} IVR only; "
              f"service level {result['service_level']}, ASA {result['asa_s']} s, "
              f"AHT {result['aht_s']} s")
        for name, q in result["queues"].items():
            print(f"  {name}: {q}")
    return 0
