# SPDX-License-Identifier: GPL-2.0-or-later
"""The server killed (SIGKILL) during a database outage, with calls up and
agents logged in; then started again on a good database: every record is
there, the calls in progress are recorded as a server failure, the agent
sessions are closed, and the agents come back as their clients log in.

The server runs in a child process (tests.centre.Centre in virtual time,
with a real RecordStore whose database cannot be opened), killed once it
says its records are journaled."""
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from cti.storage.models import AgentSession, CallRecord, QueueLogEntry
from cti.storage.store import RecordStore
from tests.centre import Centre
from tests.test_callcenter import PASSWORD
from tests.test_storage import ThreadedClock

ROOT = Path(__file__).resolve().parent.parent

CRASHING = """
import sys, time
from cti.storage.store import RecordStore
from tests.centre import Centre
from tests.test_callcenter import agent_ready
from tests.test_storage import ThreadedClock

database, var = sys.argv[1], sys.argv[2]
clock = ThreadedClock()
store = RecordStore(database, clock, var_dir=var, retry_delays=(0.2,))
store.startService()
centre = Centre(clock=clock, records=store, var_dir=var)
centre.server.startService()
agent_ready(centre, "1005", "msiB1C5")
trainee, _ = agent_ready(centre, "1006", "msiB1C6")
centre.call(trainee.call("SetAgentState", state="notReady", reason="training"))

phone = centre.sim.endpoint("msiB1C5")
gone = centre.sim.endpoint("dtiB1T5")               # a call that ends before the crash
gone.call(ani="2125550005", dnis="5550199")
centre.run_until(lambda: phone.state == "ringing", what="1005 rings")
gone.abandon() if gone.state == "ringing" else gone.hangup()
centre.run_until(lambda: not centre.center.calls, what="the caller gave up")
centre.run(1_000)
centre.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550199")
centre.run_until(lambda: phone.state == "ringing", what="1005 rings")
phone.offhook()
centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy", what="talking")
centre.run(5_000)
centre.sim.endpoint("dtiB1T4").call(ani="2125550004", dnis="5550199")   # waits: 1005 busy
centre.run_until(lambda: "dtiB1T4" in centre.center.by_trunk, what="the second call")
centre.run(10_000)
journaled = []
store.journaled().addBoth(journaled.append)
while not journaled:                    # the journal's timers run on the virtual clock
    centre.run(10)
    while not clock.from_threads.empty():
        f, args, kwargs = clock.from_threads.get_nowait()
        f(*args, **kwargs)
    time.sleep(0.001)
print("ready", sorted(centre.center.calls), flush=True)
time.sleep(60)
"""


def crash(var, database):
    child = subprocess.Popen([sys.executable, "-c", CRASHING, database, str(var)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(60, child.kill)
    watchdog.start()
    try:
        said = child.stdout.readline().split(maxsplit=1)
    finally:
        watchdog.cancel()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert said and said[0] == "ready", child.stderr.read()
    return eval(said[1])                 # the ids of the calls up at the crash


def test_a_crash_during_a_database_outage_loses_nothing(tmp_path):
    var = tmp_path / "var"
    up = crash(var, f"sqlite:///{tmp_path}/no-such-dir/cti.sqlite")
    assert len(up) == 2                          # talking, and waiting

    clock = ThreadedClock()
    store = RecordStore(f"sqlite:///{tmp_path}/cti.sqlite", clock, var_dir=var)
    store.startService()
    try:
        centre = Centre(clock=clock, records=store, var_dir=var)
        centre.server.startService()
        for agent in ("1005", "1006"):           # their desktops reconnect
            client = centre.client()
            centre.call(client.login(agent, PASSWORD, "agent"))
        agents = centre.center.acd.agents
        restored = {a: (agents[a].state, agents[a].reason, agents[a].station)
                    for a in ("1005", "1006")}
        clock.wait(store.flush())

        def read(session):
            return (list(session.scalars(select(CallRecord).order_by(CallRecord.call_id))),
                    list(session.scalars(select(AgentSession).order_by(AgentSession.agent))),
                    [(q.call_id, q.event) for q in session.scalars(
                        select(QueueLogEntry).order_by(QueueLogEntry.id))])
        cdrs, sessions, queue_log = clock.wait(store.query(read))
    finally:
        clock.wait(store.stopService())

    by_id = {c.call_id: c for c in cdrs}
    assert set(by_id) >= set(up) and len(by_id) == 3
    [ended] = set(by_id) - set(up)
    assert (by_id[ended].disposition, by_id[ended].ani) == ("abandoned", "2125550005")
    talking, waiting = sorted(up, key=lambda c: by_id[c].offered_at)
    t, w = by_id[talking], by_id[waiting]
    assert (t.disposition, t.released_by, t.cause, t.agent, t.queue) == (
        "server_failure", "system", "server failure", "1005", "support")
    # ended when the last run was last seen writing: the second caller's
    # ENTERQUEUE, 5 s after the answer (records are written all the time
    # on a working day; this test's is a quiet one)
    assert t.answered_at is not None and t.talk_s >= 5 and t.ended_at == w.ended_at
    assert (w.disposition, w.agent, w.answered_at, w.queue) == (
        "server_failure", None, None, "support")
    assert w.wait_s is not None and w.queued_at <= w.ended_at
    assert [(s.agent, s.station, s.logout_reason) for s in sessions] == [
        ("1005", "msiB1C5", "server failure"), ("1006", "msiB1C6", "server failure")]
    assert ("NONE", "AGENTLOGIN") in queue_log and (talking, "CONNECT") in queue_log
    assert restored == {"1005": ("workingAfterCall", "", "msiB1C5"),
                        "1006": ("notReady", "training", "msiB1C6")}
    assert store.unfinished() == []
