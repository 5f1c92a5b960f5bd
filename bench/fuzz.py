# SPDX-License-Identifier: GPL-2.0-or-later
"""A million hostile frames at the real server, over TCP: what was not
answered, what was logged as a traceback, and whether the memory comes back.

Two processes.  The CT server (etc/cti.toml, the simulated boards on the
wall clock, records kept in memory) listens on loopback, its door opened
wide ([server] caps and login throttling out of the way: they are measured
by their own tests, and a fuzzer from one address would meet them at
once).  This process opens connections in turn, `--parallel` at a time,
each as one of: not logged in, flow server, agent, supervisor, admin, and
pipelines batches of frames on each: requests for every service of the
catalogue (the server tells it) with hostile parameters (lone surrogates,
control characters, NaN, numbers no client holds, 70,000-character
strings, nesting, wrong types, unknown fields, the ids of real agents,
queues and devices), bodies that are not JSON objects, frames of other
versions and kinds.  Every request must get exactly one answer: the
answers are read back and matched by invoke id.  A connection ends after
`--per-connection` frames, half of them by closing, half by a frame whose
length cannot be skipped (the server answers and closes).

Figures: `frames` sent, `connections` opened, `unanswered` requests (and
`answered_twice`), `tracebacks` the server logged, the server's resident
memory at its start (`rss_mb_start`), after a warm-up of `WARM_UP` frames
per role on connections since closed (`rss_mb_before`: the thread pool
started, every path taken once) and once the last connection of the
measured run closed (`rss_mb_after`), `seconds`, `cores`.
The target: 1,000,000 frames, 0 unanswered, 0 tracebacks, RSS within 10%.

    python -m bench.fuzz [--frames 1000000] [--parallel 16] [--per-connection 20000]
                         [--warm-up 2000]
"""
import argparse
import json
import os
import random
import select
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

HEADER = struct.Struct(">IBBI")
BATCH = 200                      # frames sent before the answers are read
#: Frames of each role before the memory is first measured: the thread pool
#: started, every kind of request served once, the caches warm.
WARM_UP = 2000
#: Frames on a connection that never logs in: the server closes it after
#: 30 s without a login (docs/protocol.md), so it must be done by then.
ANONYMOUS_FRAMES = 2000
ROLES = {"flow": "ivr", "agent": "1005", "supervisor": "sup", "admin": "admin"}
PASSWORD = "1234"                # the sample configuration's


# -- the server's process -----------------------------------------------------------
def serve(port):
    """The CT server of etc/cti.toml on loopback; prints its catalogue, and
    on SIGTERM the tracebacks it logged."""
    from twisted.internet import reactor
    from twisted.logger import globalLogBeginner

    from cti.protocol.gate import Limits
    from cti.server.app import CTServer
    from cti.server.config import load_server_config
    from cti.server.memory import give_back_memory
    from cti.storage.sink import InMemory

    give_back_memory()                     # as `cti server` does (cti.server.run)

    failures = []
    # The only observer: no buffer of past events kept (Twisted keeps the
    # first 65,536 until logging begins), nothing written.
    globalLogBeginner.beginLoggingTo(
        [lambda event: failures.append(1) if "log_failure" in event else None],
        redirectStandardIO=False, discardBuffer=True)
    wide = 10 ** 9
    config = load_server_config("etc/cti.toml")
    config = replace(config, var_dir=Path(tempfile.mkdtemp(prefix="cti-fuzz-")), gate=Limits(
        max_connections=wide, max_connections_per_source=wide, max_unauthenticated=wide,
        max_unauthenticated_per_source=wide, delay_after=wide, source_delay_after=wide,
        lockout_after=wide, source_lockout_after=wide))

    server = CTServer(config, reactor=reactor, records=InMemory(),
                      listen=[f"tcp:{port}:interface=127.0.0.1"], http="", drain_s=0)
    catalogue = [{"service": s.name, "roles": sorted(s.roles),
                  "fields": {n: f.type.__name__ for n, f in s.fields.items()},
                  "choices": {n: list(f.choices) for n, f in s.fields.items() if f.choices}}
                 for s in server.hub.catalogue.services()]
    ids = {"agent": [a.id for a in config.agents], "queue": [q.name for q in config.queues],
           "device": sorted(server.channels.by_name)[:60]}

    def stop(*_):
        reactor.callFromThread(reactor.stop)
    signal.signal(signal.SIGTERM, stop)
    reactor.callWhenRunning(server.startService)
    reactor.callWhenRunning(lambda: print(json.dumps({"catalogue": catalogue, "ids": ids}),
                                          flush=True))
    reactor.run(installSignalHandlers=False)
    print(json.dumps({"tracebacks": len(failures)}), flush=True)
    return 0


# -- hostile frames ------------------------------------------------------------------
def frame(invoke_id, payload, version=1, kind=1):
    return HEADER.pack(6 + len(payload), version, kind, invoke_id) + payload


class Generator:
    """Hostile request bodies, fast (the random module, seeded)."""

    def __init__(self, catalogue, ids, seed=1):
        self.rng = random.Random(seed)
        self.catalogue = catalogue
        self.ids = [i for values in ids.values() for i in values] + ["c1", "c2", "*"]
        r = self.rng
        self.strings = ["", "x", "\ud800", "a\udfff", "\ud83d\ude00", "\x00", "\x1b[2J",
                        "a\nb", "\u2028", "\ufeff", "é" * 300, "x" * 300, "x" * 70_000,
                        *self.ids]
        self.scalars = [None, True, False, 0, -1, 1, 2 ** 53, -(2 ** 53), 10 ** 30, 2 ** 64,
                        1.5, float("nan"), float("inf"), float("-inf"), 1e308]
        self.by_role = {role: [s for s in catalogue if role in s["roles"]]
                        for role in (*ROLES, "anonymous")}
        self.by_role["anonymous"] = catalogue
        self.typed = {
            "str": lambda: r.choice(self.strings),
            "int": lambda: r.choice(self.scalars[3:]),
            "float": lambda: r.choice(self.scalars[3:]),
            "bool": lambda: r.choice((True, False)),
            "list": lambda: [self.value() for _ in range(r.choice((0, 1, 3, 70)))],
            "dict": lambda: {r.choice(self.strings[:12]): self.value()
                             for _ in range(r.choice((0, 1, 4)))},
        }

    def value(self, depth=0):
        r = self.rng
        pick = r.random()
        if pick < 0.5 or depth > 3:
            return r.choice(self.scalars + self.strings)
        if pick < 0.75:
            return [self.value(depth + 1) for _ in range(r.randrange(4))]
        return {r.choice(self.strings[:12]): self.value(depth + 1) for _ in range(r.randrange(4))}

    def body(self, role):
        """The bytes of one request body (or not quite one); before a login,
        no bigger than the server takes then."""
        r = self.rng
        pick = r.random()
        if pick < 0.03:
            payload = r.choice([b"", b"[]", b"null", b"\xff\xfe", b"{", b'{"service":}',
                                b'{"service":"Heartbeat"}\xef\xbb\xbf', b"1" * 5000,
                                b"[" * 3000 + b"]" * 3000])
        elif pick < 0.05:
            depth = r.choice((20, 1000, 100_000))
            payload = b'{"service":"Heartbeat","params":{"x":' + b"[" * depth + \
                b"]" * depth + b"}}"
        else:
            payload = self.request(role)
        if role == "anonymous" and len(payload) > 4000:      # stays under the login limit
            payload = b'{"service":"Heartbeat"}'
        return payload

    def request(self, role):
        """A request for a service of the role's, hostile parameters."""
        r = self.rng
        service = r.choice(self.by_role[role])
        if service["service"] == "Logout":               # it ends the session: not fuzzed
            service = self.catalogue[0] if self.catalogue[0]["service"] != "Logout" \
                else self.catalogue[1]
        params = {}
        for name, kind in service["fields"].items():
            roll = r.random()
            if roll < 0.2:
                continue
            if roll < 0.3 and name in service["choices"]:
                params[name] = r.choice(service["choices"][name])
            elif roll < 0.85:
                params[name] = self.typed[kind]()
            else:
                params[name] = self.value()
        if r.random() < 0.05:
            params[r.choice(self.strings[:12])] = self.value()
        body = {"service": service["service"] if r.random() > 0.03 else r.choice(self.strings)}
        if params or r.random() < 0.3:
            body["params"] = params if r.random() > 0.02 else self.value()
        if r.random() < 0.02:
            body["extra"] = 1
        return json.dumps(body, ensure_ascii=True, allow_nan=True).encode()

    def frame(self, role, invoke_id):
        """(bytes, whether it must be answered with its invoke id)."""
        r = self.rng
        pick = r.random()
        if pick < 0.01:
            return frame(invoke_id, b'{"service":"Heartbeat"}', r.choice((0, 2, 255)), 1), True
        if pick < 0.02:
            return frame(invoke_id, b'{"service":"Heartbeat"}', 1, r.choice((0, 2, 3, 4, 9))), \
                True
        if pick < 0.025:
            return frame(0, b'{"service":"Heartbeat"}'), False     # answered with id 0
        return frame(invoke_id, self.body(role)), True


# -- one connection ------------------------------------------------------------------
class Connection:
    def __init__(self, port, role, generator, frames):
        from cti.protocol.framing import Framer

        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.setblocking(False)
        self.role, self.generator, self.left = role, generator, frames
        self.framer = Framer()
        self.next_id = 1
        self.waiting = set()
        self.twice = 0
        self.closed_by_server = False
        self.closed_why = None                # the reason of the server's SessionClosed
        if role != "anonymous":
            self._login()

    def _login(self):
        invoke_id = self._id()
        body = json.dumps({"service": "Login", "params": {
            "user": ROLES[self.role], "password": PASSWORD, "role": self.role}}).encode()
        self._send(frame(invoke_id, body))
        self.waiting.add(invoke_id)
        self.drain(deadline=time.monotonic() + 10)

    def _id(self):
        invoke_id, self.next_id = self.next_id, self.next_id % 0xFFFFFFFE + 1
        return invoke_id

    def _send(self, data):
        view = memoryview(data)
        while view:
            try:
                sent = self.sock.send(view)
                view = view[sent:]
            except BlockingIOError:
                self._read(0.05)               # the server answers as we send: read
            except (BrokenPipeError, ConnectionResetError):
                self.closed_by_server = True
                return

    def batch(self, size):
        """Send up to `size` frames; the number sent."""
        n = min(size, self.left)
        out = []
        for _ in range(n):
            invoke_id = self._id()
            data, answered = self.generator.frame(self.role, invoke_id)
            if answered:
                self.waiting.add(invoke_id)
            out.append(data)
        self._send(b"".join(out))
        self.left -= n
        return n

    def _read(self, timeout):
        ready, _, _ = select.select([self.sock], [], [], timeout)
        if not ready:
            return False
        try:
            data = self.sock.recv(1 << 20)
        except (BlockingIOError, ConnectionResetError):
            return True
        if not data:
            self.closed_by_server = True
            return False
        for invoke_id, item in self.framer.feed(data):
            if getattr(item, "kind", "") == "event" and item.body.get("event") == \
                    "SessionClosed":
                self.closed_why = item.body.get("reason")
            if getattr(item, "kind", "error") in ("response", "error") and invoke_id:
                if invoke_id in self.waiting:
                    self.waiting.discard(invoke_id)
                else:
                    self.twice += 1
        return True

    def drain(self, deadline):
        while self.waiting and not self.closed_by_server and time.monotonic() < deadline:
            self._read(0.2)

    def close(self, abruptly):
        """End the connection: by closing it, or (abruptly) by a frame whose
        length the server cannot skip (it answers with invoke id 0, closes)."""
        if abruptly:
            self._send(struct.pack(">I", 0xFFFFFFF0))
            deadline = time.monotonic() + 5
            while not self.closed_by_server and time.monotonic() < deadline:
                self._read(0.2)
        self.sock.close()


# -- the measurement -----------------------------------------------------------------
def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args):
    port = free_port()
    server = subprocess.Popen([sys.executable, "-m", "bench.fuzz", "--serve", str(port)],
                              stdout=subprocess.PIPE, text=True)
    try:
        hello = json.loads(server.stdout.readline())
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        generator = Generator(hello["catalogue"], hello["ids"], args.seed)
        roles = ["anonymous", "flow", "agent", "supervisor", "admin"]
        time.sleep(args.settle)
        rss_start = rss_mb(server.pid)
        for role in roles:                   # the warm-up: every path taken once
            conn = Connection(port, role, generator, args.warm_up)
            while conn.left and not conn.closed_by_server:
                conn.batch(BATCH)
                conn.drain(deadline=time.monotonic() + 10)
            conn.close(abruptly=False)
        time.sleep(args.settle)
        rss_before = rss_mb(server.pid)
        started = time.monotonic()
        sent = connections = unanswered = twice = 0
        open_, closed = [], {}
        while sent < args.frames or open_:
            while len(open_) < args.parallel and sent + sum(c.left for c in open_) < args.frames:
                role = roles[connections % len(roles)]
                share = min(args.per_connection, args.frames - sent - sum(c.left for c in open_),
                            ANONYMOUS_FRAMES if role == "anonymous" else args.frames)
                open_.append(Connection(port, role, generator, share))
                connections += 1
            for conn in list(open_):
                sent += conn.batch(BATCH)
                conn.drain(deadline=time.monotonic() + 10)
                if conn.left == 0 or conn.closed_by_server:
                    unanswered += len(conn.waiting)
                    twice += conn.twice
                    if conn.closed_by_server:
                        closed[conn.closed_why] = closed.get(conn.closed_why, 0) + 1
                    conn.close(abruptly=connections % 2 == 0 and not conn.closed_by_server)
                    open_.remove(conn)
        seconds = time.monotonic() - started
        time.sleep(args.settle)              # the server lets go of the connections
        rss_after = rss_mb(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    tracebacks = json.loads(out.strip().splitlines()[-1])["tracebacks"]
    return {"frames": sent, "connections": connections, "unanswered": unanswered,
            "answered_twice": twice, "tracebacks": tracebacks, "closed_by_server": closed,
            "rss_mb_start": round(rss_start, 1), "rss_mb_before": round(rss_before, 1),
            "rss_mb_after": round(rss_after, 1),
            "rss_change": round(rss_after / rss_before - 1, 3) if rss_before else None,
            "seconds": round(seconds, 1), "frames_per_second": round(sent / seconds),
            "cores": os.cpu_count()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.fuzz")
    parser.add_argument("--frames", type=int, default=1_000_000)
    parser.add_argument("--parallel", type=int, default=16)
    parser.add_argument("--per-connection", type=int, default=20_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warm-up", type=int, default=WARM_UP)
    parser.add_argument("--settle", type=float, default=3.0,
                        help="seconds the server is left alone before each measure")
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)   # the server process
    args = parser.parse_args(argv)
    if args.serve:
        return serve(args.serve)
    print(json.dumps(run(args)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
