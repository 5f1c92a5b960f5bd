# SPDX-License-Identifier: GPL-2.0-or-later
"""Calls through the whole stack on the wall clock.

One process runs the CT server on the simulated boards (the simulator
ticks in its own thread), the flow tier and bot agents, both connected
over TCP like any client.  Two phases:

1. throughput: callers arrive at `--rate` per second on the T1 trunks and
   dial the IVR number; a one-step flow answers, collects one digit and
   sends the call to a queue; a bot agent lifts the phone as soon as
   Delivered arrives, talks `TALK_S` and hangs up; the CDR is written
   (SQLite, in a temporary directory).  calls_per_second is CDRs of
   answered calls per second over the phase, after a warm-up.
2. latency: callers at `--latency-rate` per second dial the support
   hotline (straight to a queue).  offer_to_delivered is the time from the
   board's event that completes the trunk's offer (the last address
   digit) to the agent client reading its Delivered event from the socket.

Python runs on one core (the reactor thread); the simulator's tick
thread takes another.  The address signalling (the far end sends
``*ANI*DNIS*`` in DTMF after the wink), the digit and the talk take
simulated caller time, which is why many trunks are needed.

    python -m bench.e2e [--rate 200] [--latency-rate 100] [--seconds 20]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from twisted.internet import defer, task

from cti.auth import hash_password

SPANS = 40                    # 960 trunks
AGENTS = 400
#: Trunks a caller tries, in turn from the last one used, before it counts
#: as a call not placed: a scan of every trunk per call costs the reactor
#: thread (shared with the server) more than the server's own work once
#: most trunks are busy, and starves the calls it measures.
PLACE_TRIES = 64
TALK_S = 0.5
WARM_UP_S = 5.0

FLOW = """
[[steps]]
name = "answer"
type = "answer"
next = "choice"

[[steps]]
name = "choice"
type = "collect"
prompt = ["hello"]
max_digits = 1
terminator = ""
first_timeout_s = 5
retries = 0
store = "choice"
next = "queue"
on_failure = "queue"

[[steps]]
name = "queue"
type = "transfer"
queue = "bench"
"""


def write_config(directory):
    """A chassis and call centre sized for the benchmark, as etc/cti.toml would."""
    d = Path(directory)
    secret = hash_password("1234")
    boards = [{"type": "t1", "signalling": "em_wink"}] * SPANS
    boards += [{"type": "voice", "channels": 1000}, {"type": "stations", "count": AGENTS}]
    lines = ['driver = "sim"']
    for b in boards:
        lines.append("[[boards]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in b.items()]
    lines += ["[server]", 'listen = ["tcp:0:interface=127.0.0.1"]', f'var_dir = "{d}"',
              'log_level = "warn"',
              "[[trunk_groups]]", 'name = "pstn"', 'direction = "in"',
              "channels = [" + ", ".join(f'"dtiB{s}T1-24"' for s in range(1, SPANS + 1)) + "]",
              "[[station_groups]]", 'name = "floor"', f'stations = ["msiB1C1-{AGENTS}"]',
              "[[routes]]", 'dnis = "5550100"', 'flow = "bench"',
              "[[routes]]", 'dnis = "5550199"', 'queue = "bench"',
              "[routing]", 'default = {queue = "bench"}', 'flow_down = {queue = "bench"}',
              "[[queues]]", 'name = "bench"', "wrap_up_s = 0", "ring_timeout_s = 10"]
    for i in range(1, AGENTS + 1):
        lines += ["[[agents]]", f'id = "{9000 + i}"', f'name = "Bot {i}"',
                  f'password_hash = "{secret}"', 'queues = ["bench"]',
                  f'station = "msiB1C{i}"']
    lines += ["[[users]]", 'name = "ivr"', 'roles = ["flow"]', f'password_hash = "{secret}"',
              "[flow]", 'user = "ivr"', 'password = "1234"', 'flows_dir = "flows"',
              'prompts_dir = "prompts"']
    (d / "flows").mkdir()
    (d / "flows" / "bench.toml").write_text(FLOW)
    (d / "prompts").mkdir()
    (d / "prompts" / "prompts.toml").write_text(
        '[prompts]\nhello = "Hello."\n[music]\nbeep = "A4"\n')
    (d / "cti.toml").write_text("\n".join(lines) + "\n")
    return d / "cti.toml"


class AnsweredCounter:
    """The record sink: the store, counting CDRs of answered calls."""

    def __init__(self, store):
        self.store = store
        self.answered = 0

    def add(self, record):
        self.answered += getattr(record, "disposition", None) == "answered"
        self.store.add(record)


class Bench:
    def __init__(self, reactor, server, flows, settings):
        self.reactor = reactor
        self.server = server
        self.flows = flows
        self.settings = settings
        self.center = server.center
        self.sim = server.sim
        self.latencies = []
        self.measure = False
        self.next_trunk = 0
        self.trunks = [c for g in server.config.trunk_groups for c in g.channels]
        self.skipped = 0

    @defer.inlineCallbacks
    def start_clients(self, dial):
        from cti.flow.tier import FlowTier
        from cti.protocol.client import connect

        flow = yield connect(self.reactor, dial)
        yield flow.login("ivr", "1234", "flow")
        self.tier = FlowTier.from_settings(flow, self.flows, self.settings.prompts_dir,
                                           self.reactor)
        yield self.tier.register()
        for agent in self.server.config.agents:
            client = yield connect(self.reactor, dial)
            yield client.login(agent.id, "1234", "agent")
            client.on_event(self._agent_event(agent.station))
            yield client.call("MonitorStart", object="device", id=agent.station)
            yield client.call("SetAgentState", state="loggedOn", station=agent.station)
            yield client.call("SetAgentState", state="ready")

    def _agent_event(self, station):
        phone = self.sim.endpoint(station)

        def event(name, body, invoke_id):
            if body.get("device") != station:
                return
            if name == "Delivered":
                ic = self.center.calls.get(body["call"])
                if self.measure and ic is not None:
                    self.latencies.append(self.reactor.seconds() - ic.offered_at)
                phone.offhook()
            elif name == "Established":
                self.reactor.callLater(TALK_S, self._hang_up, phone)
        return event

    def _hang_up(self, phone):
        if phone.state != "idle":
            phone.onhook()

    def place(self, dnis, digit):
        for _ in range(PLACE_TRIES):
            trunk = self.trunks[self.next_trunk]
            self.next_trunk = (self.next_trunk + 1) % len(self.trunks)
            fe = self.sim.endpoint(trunk)
            if fe.state == "idle" and self.center.channels[trunk].state == "idle":
                fe.call(ani="1001", dnis=dnis)
                if digit:
                    self._press_when_answered(fe, digit, 0)
                return
        self.skipped += 1

    def _press_when_answered(self, fe, digit, tries):
        if fe.state == "connected":
            fe.send_digits(digit)
        elif tries < 100:
            self.reactor.callLater(0.05, self._press_when_answered, fe, digit, tries + 1)

    @defer.inlineCallbacks
    def phase(self, rate, seconds, dnis, digit):
        """Arrivals at a steady rate (batched per 10 ms) for `seconds`."""
        start = time.perf_counter()
        placed = 0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            while placed < due:
                self.place(dnis, digit)
                placed += 1
            yield task.deferLater(self.reactor, 0.01, lambda: None)
        return placed


@defer.inlineCallbacks
def run(reactor, args):
    from cti.flow.run import load
    from cti.protocol.server import SessionFactory
    from cti.server.app import CTServer
    from cti.storage.store import RecordStore, default_url

    var = Path(tempfile.mkdtemp(prefix="cti-bench-"))
    config, settings, flows = load(str(write_config(var)))
    store = RecordStore(default_url(var), reactor, var_dir=var)
    store.startService()
    records = AnsweredCounter(store)
    server = CTServer(config, reactor=reactor, records=records, listen=[], drain_s=2)
    port = reactor.listenTCP(0, SessionFactory(server.hub), interface="127.0.0.1")
    server.startService()
    bench = Bench(reactor, server, flows, settings)
    yield bench.start_clients(f"tcp:host=127.0.0.1:port={port.getHost().port}")

    # throughput through the IVR
    yield bench.phase(args.rate, WARM_UP_S, "5550100", "1")
    counted_from = time.perf_counter()
    before = records.answered
    cpu0 = time.process_time()
    yield bench.phase(args.rate, args.seconds, "5550100", "1")
    span = time.perf_counter() - counted_from
    cps = (records.answered - before) / span
    cpu = time.process_time() - cpu0
    concurrent = len(server.center.calls)
    yield task.deferLater(reactor, 5, lambda: None)

    # latency straight to the queue
    bench.measure = True
    yield bench.phase(args.latency_rate, args.seconds, "5550199", None)
    yield task.deferLater(reactor, 3, lambda: None)
    bench.measure = False
    lat = sorted(bench.latencies)
    yield server.stopService()
    yield store.stopService()
    port.stopListening()
    p = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2)) if lat else \
        (lambda q: None)
    return {
        "bench": "e2e",
        "offered_rate": args.rate,
        "calls_per_second": round(cps, 1),
        "process_cpu_per_call_ms": round(1000 * cpu / max(1, records.answered - before), 3),
        "concurrent_calls": concurrent,
        "latency_rate": args.latency_rate,
        "p50_offer_to_delivered_ms": p(0.5),
        "p99_offer_to_delivered_ms": p(0.99),
        "latency_samples": len(lat),
        "mean_offer_to_delivered_ms": round(1000 * statistics.fmean(lat), 2) if lat else None,
        "trunks_busy_skips": bench.skipped,
        "cores": os.cpu_count(),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    args = parser.parse_args(argv)
    from twisted.internet import reactor

    box = {}
    reactor.callWhenRunning(lambda: run(reactor, args).addBoth(
        lambda r: (box.setdefault("r", r), reactor.stop())))
    reactor.run()
    result = box["r"]
    if hasattr(result, "raiseException"):
        result.raiseException()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
