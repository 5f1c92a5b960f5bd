# SPDX-License-Identifier: GPL-2.0-or-later
"""Faults, applied one after another: what is lost, how fast the server
recovers, whether memory levels off (docs/faults.md).

    python -m bench.faults [--calls N]

Each part runs in a process of its own (so its memory is its own), the
whole server on the simulator in virtual time (tests.centre):

- crash: callers through the IVR to an agent while the database cannot
  be opened; the server is killed (SIGKILL) with calls up, then started on
  a good database.  records_lost: records the killed server had made
  that are not in the database after the restart; calls_without_record:
  calls it had taken that have no CDR then.
- hung: a play, a digit collection, a record and a dial hang on the
  board; hung_recovery_s_max is the longest time from when the operation
  should have ended at the latest (its own time) to the caller being
  moved on (virtual seconds).
- alarm: each span alarm (los, red, yellow, blue, oof) with calls talking,
  queued and in the IVR on the span; alarm_clear_ms_max is the longest
  time from the alarm to the last of them cleared (virtual ms, 10 ms
  steps).
- flow_memory, server_memory: the flow tier alone (a scripted CT server,
  tests.flowfake) and the CT server with its flow tier (callers in the
  IVR, the queue, an agent), after a warm-up; the growth of the process's
  resident memory per 1,000 calls.

Targets (issue 20): 0, 0, <= 10 s, <= 1,000 ms, < 0.05 MB, < 0.05 MB.
The last line is one JSON object with every figure and the core count.
"""
import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cti.storage.models import CallRecord
from cti.storage.sink import Forwarding

ROOT = Path(__file__).resolve().parent.parent
PAGE_MB = os.sysconf("SC_PAGE_SIZE") / 2**20


def rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE_MB


# -- crash ---------------------------------------------------------------------------
class Counting(Forwarding):
    """The record sink of the server that crashes: the store, and what went in."""

    def __init__(self, store):
        super().__init__(store)
        self.added = 0
        self.cdrs = set()

    def add(self, record):
        self.added += 1
        if isinstance(record, CallRecord):
            self.cdrs.add(record.call_id)
        super().add(record)


def ready_agent(centre):
    """Agent 1001 logged on at msiB1C1, ready (its headset answers: Callers)."""
    agent = centre.client()
    centre.call(agent.login("1001", "1234", "agent"))
    centre.call(agent.call("SetAgentState", state="loggedOn", station="msiB1C1"))
    centre.call(agent.call("SetAgentState", state="ready"))


def crashing(var, calls):
    """The server that crashes: prints what it made, then waits for the kill."""
    from cti.storage.store import RecordStore
    from tests.centre import Centre, flow_tier
    from tests.test_soak import Callers
    from tests.test_storage import ThreadedClock

    clock = ThreadedClock()
    store = RecordStore(f"sqlite:///{var}/no-such-dir/cti.sqlite", clock, var_dir=var,
                        retry_delays=(0.5,))
    store.startService()
    sink = Counting(store)
    centre = Centre(clock=clock, records=sink, var_dir=var)
    centre.server.startService()
    flow_tier(centre)
    ready_agent(centre)
    callers = Callers(centre, centre.sim.endpoint("msiB1C1"))
    while callers.done < calls:                # traffic, stopped with calls up
        centre.run(50)
        callers._tick(True)
    journaled = []
    store.journaled().addBoth(journaled.append)
    while not journaled:
        centre.run(10)
        while not clock.from_threads.empty():
            f, args, kwargs = clock.from_threads.get_nowait()
            f(*args, **kwargs)
        time.sleep(0.001)
    taken = sink.cdrs | set(centre.center.calls)
    print(json.dumps({"added": sink.added, "calls": sorted(taken),
                      "up": len(centre.center.calls)}), flush=True)
    time.sleep(600)


def crash(calls):
    from sqlalchemy import func, select

    from cti.storage.models import Base
    from cti.storage.store import RecordStore
    from tests.centre import Centre
    from tests.test_storage import ThreadedClock

    with tempfile.TemporaryDirectory(prefix="cti-bench-faults-") as where:
        var = Path(where) / "var"
        child = subprocess.Popen([sys.executable, "-m", "bench.faults", "--part", "crashing",
                                  "--calls", str(calls), "--var", str(var)], cwd=ROOT,
                                 stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        made = json.loads(child.stdout.readline())
        os.kill(child.pid, signal.SIGKILL)
        child.wait()

        clock = ThreadedClock()
        store = RecordStore(f"sqlite:///{where}/cti.sqlite", clock, var_dir=var)
        store.startService()
        centre = Centre(clock=clock, records=store, var_dir=var)
        recovered_calls, recovered_sessions = centre.center.records.recover()
        clock.wait(store.flush())

        def read(session):
            rows = sum(session.scalar(select(func.count()).select_from(table))
                       for table in Base.metadata.sorted_tables
                       if table.name != "alembic_version")
            return rows, set(session.scalars(select(CallRecord.call_id)))
        rows, ids = clock.wait(store.query(read))
        clock.wait(store.stopService())
    return {"crash_calls": len(made["calls"]), "crash_calls_up": made["up"],
            "records_lost": made["added"] - (rows - recovered_calls - recovered_sessions),
            "calls_without_record": len(set(made["calls"]) - ids),
            "recovered_calls": recovered_calls}


# -- hung operations -------------------------------------------------------------------
def hung():
    from tests.test_hung_operations import WELCOME, seconds_of

    own = {"PlayMessage": (dict(prompts=[WELCOME], bargeIn=False), seconds_of(WELCOME)),
           "CollectDigits": (dict(maxDigits=1, firstDigitTimeoutS=4), 4.0),
           "RecordMessage": (dict(maxS=5, silenceS=2, beep=False), 5.0)}
    worst = max(hung_in_the_ivr(service, params, own_s)
                for service, (params, own_s) in own.items())
    return {"hung_recovery_s_max": round(max(worst, hung_dial()), 2)}


def hung_in_the_ivr(service, params, own_s):
    """The flow's operation hangs: seconds past its own time until the
    caller is queued (the default treatment)."""
    from tests.centre import Centre
    from tests.test_hung_operations import ivr_call

    centre = Centre()
    centre.server.startService()
    client, _, call, voice = ivr_call(centre)
    centre.sim.hang_next(voice)
    started = centre.clock.seconds()
    centre.call(client.call(service, call=call, **params), within_ms=60_000)
    centre.run_until(lambda: centre.center.calls[call].state == "queued",
                     what="the caller moved on")
    return centre.clock.seconds() - started - own_s


def hung_dial():
    """An agent's call out: its dial hangs; seconds past the dial's own
    time (7 digits) until it is given up (the next trunk is tried)."""
    from cti.storage.models import AuditEntry
    from drivers.r4 import DIAL_DIGIT_MS
    from tests.test_outbound import headset_agent, two_way_t1

    centre = two_way_t1()
    centre.server.startService()
    client, _, _ = headset_agent(centre)
    centre.sim.hang_next(centre.server.voice_pool.free[0])
    centre.sim.endpoint("dtiB1T2").set_outbound("answer", 1)
    started = centre.clock.seconds()
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: centre.records.of(AuditEntry, action="VoiceHung"),
                     within_ms=60_000, what="the dial given up")
    return centre.clock.seconds() - started - 7 * DIAL_DIGIT_MS / 1000


# -- span alarms -----------------------------------------------------------------------
def alarm():
    return {"alarm_clear_ms_max": max(alarm_clear_ms(which) for which in
                                      ("los", "red", "yellow", "blue", "oof"))}


def alarm_clear_ms(which):
    """A call talking, one queued and one in the IVR on the span: ms from
    the alarm to the last of them cleared."""
    from tests.centre import Centre, flow_tier
    from tests.test_callcenter import agent_ready

    centre = Centre()
    centre.server.startService()
    flow_tier(centre)
    agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")   # waits
    centre.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550100")   # the IVR
    centre.run_until(lambda: len(centre.center.calls) == 3, what="three calls")
    centre.run(3_000)
    started = centre.clock.seconds()
    centre.sim.span_alarm("dtiB1", which)
    centre.run_until(lambda: not centre.center.calls, within_ms=5_000,
                     what="the calls cleared")
    return round((centre.clock.seconds() - started) * 1000)


# -- memory ------------------------------------------------------------------------------
def flow_memory(calls):
    from twisted.internet import task

    from tests import flowfake
    from tests.test_soak import flow_tier

    clock = task.Clock()
    server = flowfake.FakeClient(flowfake.LIGHT)
    _, run = flow_tier(server, server, clock)
    run(5_000)                                 # caches, free lists, the last outcomes
    before = rss_mb()
    run(calls)
    return {"flow_calls": calls,
            "flow_rss_mb_per_1000_calls": round((rss_mb() - before) / calls * 1000, 4)}


def server_memory(calls):
    from tests.centre import Centre
    from tests.centre import flow_tier as centre_flow_tier
    from tests.test_soak import Callers, Sink

    centre = Centre(records=Sink())
    centre.center.start()
    centre_flow_tier(centre)
    ready_agent(centre)
    callers = Callers(centre, centre.sim.endpoint("msiB1C1"))
    callers.run(4_000)                         # every trunk's and phone's history full
    before = rss_mb()
    callers.run(calls)
    return {"server_calls": calls,
            "server_rss_mb_per_1000_calls": round((rss_mb() - before) / calls * 1000, 4)}


PARTS = {"crash": lambda a: crash(a.calls // 20), "hung": lambda a: hung(),
         "alarm": lambda a: alarm(), "flow_memory": lambda a: flow_memory(a.calls * 10),
         "server_memory": lambda a: server_memory(a.calls)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--calls", type=int, default=10_000,
                        help="server calls measured for memory (the flow tier: 10x)")
    parser.add_argument("--part", choices=[*PARTS, "crashing"])
    parser.add_argument("--var", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.part == "crashing":
        crashing(args.var, args.calls)
        return 0
    if args.part:
        print(json.dumps(PARTS[args.part](args)), flush=True)
        return 0
    result = {"bench": "faults"}
    for part in PARTS:
        out = subprocess.run([sys.executable, "-m", "bench.faults", "--part", part,
                              "--calls", str(args.calls)], cwd=ROOT, capture_output=True,
                             text=True, check=True)
        result.update(json.loads(out.stdout.strip().splitlines()[-1]))
    result["cores"] = os.cpu_count()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
