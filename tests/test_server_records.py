# SPDX-License-Identifier: GPL-2.0-or-later
"""The server's own records in a real database, SQLite and PostgreSQL: a call
from trunk to agent, the agent's states and a supervisor's action, written
through the RecordStore (off the reactor thread) and read back; the
disposition of a call transferred to another queue."""
import pytest
from sqlalchemy import select

from cti.demo.summary import summary
from cti.storage.models import AgentStateChange, AuditEntry, CallRecord, QueueLogEntry
from cti.storage.store import RecordStore
from tests.centre import Centre
from tests.pg import pg_cluster  # noqa: F401  (the fixture)
from tests.test_callcenter import PASSWORD, agent_ready
from tests.test_consult import Scene
from tests.test_storage import ThreadedClock


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cti.sqlite"
    return request.getfixturevalue("pg_cluster").new_database()


def test_a_days_records_land_in_the_database(url, tmp_path):
    clock = ThreadedClock()
    store = RecordStore(url, clock, var_dir=tmp_path / "var")
    store.startService()
    try:
        centre = Centre(clock=clock, records=store)
        agent, _ = agent_ready(centre, "1005", "msiB1C5")
        caller, phone = centre.sim.endpoint("dtiB1T1"), centre.sim.endpoint("msiB1C5")
        caller.call(ani="2125551234", dnis="5550199")
        centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
        phone.offhook()
        centre.run_until(lambda: caller.state == "connected"
                         and centre.center.acd.agents["1005"].state == "busy",
                         what="connected")
        centre.run(2000)
        caller.hangup()
        centre.run_until(lambda: not centre.center.calls, what="the call ends")
        sup = centre.client()
        centre.call(sup.login("sup", PASSWORD, "supervisor"))
        centre.call(sup.call("ForceAgentState", agent="1005", state="notReady",
                             reason="coaching"))
        centre.run(500)
        clock.wait(store.flush())

        def read(session):
            return ([(c.disposition, c.agent, c.ani, c.dnis, c.queue)
                     for c in session.scalars(select(CallRecord))],
                    [q.event for q in session.scalars(select(QueueLogEntry)
                                                      .order_by(QueueLogEntry.id))],
                    [a.state for a in session.scalars(select(AgentStateChange)
                                                      .order_by(AgentStateChange.id))],
                    [(a.user, a.action, a.agent, a.detail["reason"])
                     for a in session.scalars(select(AuditEntry))])
        cdrs, queue_log, states, audit = clock.wait(store.query(read))
    finally:
        clock.wait(store.stopService())
    assert cdrs == [("answered", "1005", "2125551234", "5550199", "support")]
    assert [e for e in queue_log if e not in ("AGENTLOGIN", "PAUSE", "UNPAUSE")] == [
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert states[:4] == ["notReady", "ready", "reserved", "busy"]
    assert states[-1] == "notReady"
    assert audit == [("sup", "ForceAgentState", "1005", "coaching")]


def test_a_caller_answered_then_transferred_to_a_queue_and_abandoned_there_abandoned_it():
    """The CDR's disposition is that of its last stay in a queue (the CDR's
    `queue`): answered by 1005 in support, transferred to sales, where no
    agent is free, the caller hangs up waiting: abandoned sales, its wait
    the wait in sales, as the queue log and the ACD's own figures say."""
    centre = Centre()
    s = Scene(centre)
    s.ask(s.second, "SetAgentState", state="notReady")            # nobody free in sales
    s.ask(s.first, "SingleStepTransferCall", call=s.call_id, queue="sales")
    centre.run(3000)
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.queue, cdr.disposition, cdr.released_by) == ("sales", "abandoned", "caller")
    assert cdr.wait_s == pytest.approx(3.0, abs=0.1)
    assert (cdr.agent, cdr.answered_at is not None) == ("1005", True)   # the earlier answer
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=s.call_id,
                                                queue="sales")] == ["ENTERQUEUE", "ABANDON"]
    sales = centre.center.acd.queues["sales"]
    assert (sales.answered, sales.abandoned) == (0, 1)
    figures = summary(centre.records.of(CallRecord), centre.config)["queues"]["sales"]
    assert (figures["offered"], figures["answered"], figures["abandoned"]) == (1, 0, 1)
    assert figures["asa_s"] is None                   # the wait abandoned is no answer's


def test_a_caller_answered_again_in_the_queue_it_was_transferred_to_is_answered_there():
    centre = Centre()
    s = Scene(centre)
    s.ask(s.first, "SingleStepTransferCall", call=s.call_id, queue="sales")
    centre.run_until(lambda: s.phone2.state == "ringing", what="1003 rings, in sales")
    centre.run(2000)
    s.phone2.offhook()
    centre.run_until(lambda: s.acd.agents["1003"].state == "busy", what="1003 answers")
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.queue, cdr.disposition, cdr.agent) == ("sales", "answered", "1003")
    assert cdr.wait_s == pytest.approx(2.0, abs=0.5)
