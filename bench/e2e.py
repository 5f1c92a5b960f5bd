# SPDX-License-Identifier: GPL-2.0-or-later
"""Calls through the whole stack on the wall clock.

Two processes, as a call centre runs them.  The CT server runs with the
simulated boards (the simulator ticks in its own thread) and plays the
telephone company: its callers seize T1 trunks.  Its clients run in a
second process, connected over TCP like any: the flow tier, and bot
agents on headsets (their phones are off-hook from the start; they answer
with AnswerCall, talk `TALK_S` and hang up with ClearConnection), as
agents' desktops on other machines would.  Two phases:

1. throughput: callers arrive at `--rate` per second and dial the IVR
   number; a one-step flow answers, collects one digit and sends the call
   to a queue; a bot answers.  The CDR is written (SQLite, in a temporary
   directory).  calls_per_second is CDRs of answered calls per second over
   the phase, after a warm-up.
2. latency, once the throughput phase's calls are over: callers at
   `--latency-rate` per second dial the support hotline (straight to a
   queue).  offer_to_delivered is the time from the board's event that
   completes the trunk's offer (the last address digit: the CDR's
   offered_at) to the agent's client reading its Delivered event from the
   socket (both on the system clock).

server_cpu_per_call_ms and server_cores_busy are the server process's CPU
over the throughput phase (its reactor thread and storage thread; the
telephone company's callers run on the reactor thread too), without the
simulator's ticker thread, which does what a real chassis's boards do
(simulator_cores_busy): the target is 200 calls/s on one core.
call_phases_p50_s says where an IVR call's time goes.

The server's Python runs on one core (its reactor thread).  The address
signalling (the far end sends ``*ANI*DNIS*`` in DTMF after the wink), the
digit and the talk take simulated caller time, which is why many trunks
are needed.

    python -m bench.e2e [--rate 200] [--latency-rate 100] [--seconds 20]
"""
import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from datetime import UTC
from pathlib import Path

from twisted.internet import defer, protocol, task
from twisted.protocols import basic

from cti.auth import hash_password
from cti.storage.models import CallRecord
from cti.storage.sink import Forwarding

SPANS = 56                    # 1344 trunks
AGENTS = 400
#: Trunks a caller tries, in turn from the last one used, before it counts
#: as a call not placed: a scan of every trunk per call costs the reactor
#: thread (shared with the server) more than the server's own work once
#: most trunks are busy, and starves the calls it measures.
PLACE_TRIES = 64
TALK_S = 0.5
#: A caller presses the menu's digit once the IVR has answered: first looked
#: at this long after the seizure (the address takes some 2.1 s), then every
#: 100 ms (checking every call every few ms would cost the reactor thread
#: the server shares with this telephone company more than the calls do).
ANSWERED_AFTER_S = 2.3
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
    boards += [{"type": "voice", "channels": 700}] * 2 + [{"type": "stations", "count": AGENTS}]
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


class Counter(Forwarding):
    """The record sink: the store, counting CDRs of answered calls, keeping
    when each call was offered and how long the IVR calls spent in each phase."""

    def __init__(self, store):
        super().__init__(store)
        self.answered = 0
        self.offered = {}                 # call id -> (dnis, offered_at, s since the epoch)
        self.phases = []                  # (ivr, queue, talk) seconds of answered IVR calls

    def add(self, record):
        if isinstance(record, CallRecord):
            self.answered += record.disposition == "answered"
            self.offered[record.call_id] = (record.dnis,
                                            record.offered_at.replace(tzinfo=UTC).timestamp())
            if record.answered_at is not None and record.queued_at is not None:
                self.phases.append(((record.queued_at - record.offered_at).total_seconds(),
                                    (record.answered_at - record.queued_at).total_seconds(),
                                    (record.ended_at - record.answered_at).total_seconds()))
        super().add(record)

    def phases_p50(self):
        """Medians of the answered calls so far: offer to queue (the IVR),
        queue to answer, answer to release (talk and hang-up), in seconds."""
        if not self.phases:
            return None
        return {name: round(statistics.median(p[i] for p in self.phases), 3)
                for i, name in enumerate(("ivr", "queue", "talk"))}


class Callers:
    """The telephone company's side, in the server's process."""

    def __init__(self, server):
        self.center = server.center
        self.sim = server.sim
        self.next_trunk = 0
        self.trunks = [c for g in server.config.trunk_groups for c in g.channels]
        self.far_ends = {t: server.sim.endpoint(t) for t in self.trunks}
        self.skipped = 0

    def place(self, reactor, dnis, digit):
        for _ in range(PLACE_TRIES):
            trunk = self.trunks[self.next_trunk]
            self.next_trunk = (self.next_trunk + 1) % len(self.trunks)
            if self.center.channels[trunk].state != "idle":
                continue
            fe = self.far_ends[trunk]
            if fe.state == "idle":
                fe.call(ani="1001", dnis=dnis)
                if digit:
                    reactor.callLater(ANSWERED_AFTER_S, self._press_when_answered,
                                      reactor, fe, digit, 0)
                return
        self.skipped += 1

    def _press_when_answered(self, reactor, fe, digit, tries):
        if fe.state == "connected":
            fe.send_digits(digit)
        elif tries < 50:
            reactor.callLater(0.1, self._press_when_answered, reactor, fe, digit, tries + 1)

    @defer.inlineCallbacks
    def phase(self, reactor, rate, seconds, dnis, digit):
        """Arrivals at a steady rate (batched per 10 ms) for `seconds`."""
        start = time.perf_counter()
        placed = 0
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate)
            while placed < due:
                self.place(reactor, dnis, digit)
                placed += 1
            yield task.deferLater(reactor, 0.01, lambda: None)
        return placed


class ClientsProcess(protocol.ProcessProtocol):
    """The second process: `ready` once its clients are, then, asked with
    a line on its standard input, the Delivered times as JSON."""

    def __init__(self):
        self.ready = defer.Deferred()
        self.report = defer.Deferred()
        self.out = b""

    def outReceived(self, data):
        self.out += data
        while b"\n" in self.out:
            line, self.out = self.out.split(b"\n", 1)
            if line == b"ready":
                self.ready.callback(None)
            elif line.startswith(b"{"):
                self.report.callback(json.loads(line))

    def errReceived(self, data):
        sys.stderr.write(data.decode(errors="replace"))

    def processEnded(self, reason):
        for d in (self.ready, self.report):
            if not d.called:
                d.errback(reason)


def simulator_cpu_s():
    """CPU seconds of the simulator's ticker thread (the boards' DSPs and
    the far ends: hardware on a real chassis, so not the server's)."""
    total = 0
    for task_dir in Path("/proc/self/task").iterdir():
        try:
            if (task_dir / "comm").read_text().strip() == "sim-ticker":
                fields = (task_dir / "stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])       # utime, stime
        except OSError:                          # the thread ended meanwhile
            continue
    return total / os.sysconf("SC_CLK_TCK")


@defer.inlineCallbacks
def drained(reactor, center, limit_s=30.0):
    """Wait until no call is up (at most `limit_s`): seconds waited."""
    start = time.perf_counter()
    while center.calls and time.perf_counter() - start < limit_s:
        yield task.deferLater(reactor, 0.1, lambda: None)
    return round(time.perf_counter() - start, 1)


@defer.inlineCallbacks
def run(reactor, args):
    from twisted.logger import LogLevel

    from cti import logs
    from cti.protocol.server import SessionFactory
    from cti.server.app import CTServer
    from cti.server.config import load_server_config
    from cti.storage.store import RecordStore, default_url

    var = Path(tempfile.mkdtemp(prefix="cti-bench-"))
    config_path = write_config(var)
    config = load_server_config(str(config_path))
    logs.set_level(LogLevel.levelWithName(config.log_level))      # as `cti server` does
    store = RecordStore(default_url(var), reactor, var_dir=var)
    store.startService()
    records = Counter(store)
    server = CTServer(config, reactor=reactor, records=records, listen=[], drain_s=2,
                      freeze_heap=True)
    port = reactor.listenTCP(0, SessionFactory(server.hub), interface="127.0.0.1")
    server.startService()
    for agent in config.agents:                   # headsets on: AnswerCall answers
        server.sim.endpoint(agent.station).offhook()
    clients = ClientsProcess()
    reactor.spawnProcess(clients, sys.executable,
                         [sys.executable, "-m", "bench.e2e", "--clients", str(config_path),
                          "--port", str(port.getHost().port)],
                         env=None, path=os.getcwd())
    yield clients.ready
    callers = Callers(server)

    # throughput through the IVR
    yield callers.phase(reactor, args.rate, WARM_UP_S, "5550100", "1")
    counted_from = time.perf_counter()
    before = records.answered
    cpu0, sim0 = time.process_time(), simulator_cpu_s()
    yield callers.phase(reactor, args.rate, args.seconds, "5550100", "1")
    span = time.perf_counter() - counted_from
    answered = records.answered - before
    simulated = simulator_cpu_s() - sim0
    cpu = time.process_time() - cpu0 - simulated
    concurrent = len(server.center.calls)
    phases = records.phases_p50()
    drain_s = yield drained(reactor, server.center)

    # latency straight to the queue
    yield callers.phase(reactor, args.latency_rate, args.seconds, "5550199", None)
    yield drained(reactor, server.center)
    clients.transport.write(b"report\n")
    delivered = yield clients.report
    yield server.stopService()
    yield store.stopService()
    port.stopListening()
    lat = sorted(t - records.offered[c][1] for c, t in delivered.items()
                 if c in records.offered and records.offered[c][0] == "5550199")
    p = (lambda q: round(1000 * lat[min(len(lat) - 1, int(q * len(lat)))], 2)) if lat else \
        (lambda q: None)
    return {
        "bench": "e2e",
        "offered_rate": args.rate,
        "calls_per_second": round(answered / span, 1),
        "server_cpu_per_call_ms": round(1000 * cpu / max(1, answered), 3),
        "server_cores_busy": round(cpu / span, 2),
        "simulator_cores_busy": round(simulated / span, 2),
        "concurrent_calls": concurrent,
        "call_phases_p50_s": phases,
        "drain_s": drain_s,
        "latency_rate": args.latency_rate,
        "p50_offer_to_delivered_ms": p(0.5),
        "p99_offer_to_delivered_ms": p(0.99),
        "latency_samples": len(lat),
        "mean_offer_to_delivered_ms": round(1000 * statistics.fmean(lat), 2) if lat else None,
        "trunks_busy_skips": callers.skipped,
        "cores": os.cpu_count(),
    }


# -- the clients' process ------------------------------------------------------------
class Bots:
    """The flow tier and the bot agents, over TCP."""

    def __init__(self, reactor):
        self.reactor = reactor
        self.delivered = {}             # call id -> when its Delivered was read

    @defer.inlineCallbacks
    def start(self, config_path, port):
        from cti.flow.run import load
        from cti.flow.tier import FlowTier
        from cti.protocol.client import connect

        config, settings, flows = load(config_path)
        dial = f"tcp:host=127.0.0.1:port={port}"
        flow = yield connect(self.reactor, dial)
        yield flow.login("ivr", "1234", "flow")
        self.tier = FlowTier.from_settings(flow, flows, settings.prompts_dir, self.reactor)
        yield self.tier.register()
        for agent in config.agents:
            client = yield connect(self.reactor, dial)
            yield client.login(agent.id, "1234", "agent")
            client.on_event(self._agent_event(client, agent.station))
            yield client.call("MonitorStart", object="device", id=agent.station)
            yield client.call("SetAgentState", state="loggedOn", station=agent.station)
            yield client.call("SetAgentState", state="ready")

    def _agent_event(self, client, station):
        def event(name, body, invoke_id):
            if body.get("device") != station:
                return
            if name == "Delivered":
                self.delivered[body["call"]] = self.reactor.seconds()
                client.call("AnswerCall", call=body["call"]).addErrback(lambda f: None)
            elif name == "Established":
                self.reactor.callLater(TALK_S, self._hang_up, client, body["call"])
        return event

    @staticmethod
    def _hang_up(client, call):
        client.call("ClearConnection", call=call).addErrback(lambda f: None)


class Commands(basic.LineReceiver):
    delimiter = b"\n"

    def __init__(self, bots):
        self.bots = bots

    def lineReceived(self, line):
        if line == b"report":                    # through the transport: stdout is
            self.transport.write(json.dumps(self.bots.delivered).encode() + b"\n")
            self.transport.loseConnection()      # non-blocking, the report large

    def connectionLost(self, reason):
        from twisted.internet import reactor

        reactor.stop()


def clients_main(config_path, port):
    from twisted.internet import reactor, stdio

    bots = Bots(reactor)

    def ready(_):
        commands = Commands(bots)
        stdio.StandardIO(commands)
        commands.transport.write(b"ready\n")

    def failed(f):
        sys.stderr.write(f.getTraceback())
        reactor.stop()
    reactor.callWhenRunning(lambda: bots.start(config_path, port).addCallbacks(ready, failed))
    reactor.run()
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.e2e")
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--latency-rate", type=float, default=100.0)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--clients", help=argparse.SUPPRESS)     # the second process
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.clients:
        return clients_main(args.clients, args.port)
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
