# SPDX-License-Identifier: GPL-2.0-or-later
"""The record store on SQLite and PostgreSQL: models round-trip, queue log
lines, a 10,000-record burst, outages that lose nothing, spill and replay
across a restart, migrations that match the models, and no database call
on the reactor thread.

The store runs for real: a real writer thread and real databases.  Only
the reactor is replaced, by :class:`ThreadedClock`: a ``task.Clock`` (so
retry delays pass when the test says) whose ``callFromThread`` queues the
call for the test thread, which plays the reactor thread and runs queued
calls in :meth:`ThreadedClock.run_until`.
"""
import queue
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, event, func, select
from twisted.internet import task
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from cti.storage import (
    AgentSession,
    AgentStateChange,
    Base,
    CallRecord,
    QueueEvent,
    QueueLogEntry,
    RecordStore,
    StoreStopped,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)
from cti.storage.models import MODELS
from tests.pg import pg_cluster  # noqa: F401  (the fixture)

T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
RETRY_DELAYS = (0.5, 1, 2, 5, 10)


class ThreadedClock(task.Clock):
    """A Clock that also takes calls from threads, run by the test thread."""

    def __init__(self):
        super().__init__()
        self.from_threads = queue.Queue()

    def callFromThread(self, f, *args, **kwargs):
        self.from_threads.put((f, args, kwargs))

    def run_until(self, condition, timeout=20):
        """Run calls from threads until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while not condition():
            try:
                f, args, kwargs = self.from_threads.get(timeout=max(0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"timed out waiting for {condition}") from None
            f(*args, **kwargs)

    def wait(self, d, timeout=20):
        """The result of Deferred ``d``, running calls from threads meanwhile."""
        box = []
        d.addBoth(box.append)
        self.run_until(lambda: box, timeout)
        if isinstance(box[0], Failure):
            box[0].raiseException()
        return box[0]


class Harness:
    """An engine factory that notes the thread of every statement and can
    make the database look down (the driver's OperationalError)."""

    def __init__(self):
        self.threads = set()
        self.down = False

    def __call__(self, url):
        engine = make_engine(url)
        event.listen(engine, "before_cursor_execute", self._before)
        return engine

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.threads.add(threading.get_ident())
        if self.down:
            raise conn.dialect.loaded_dbapi.OperationalError("database is down (test)")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path}/cti.sqlite"
    return request.getfixturevalue("pg_cluster").new_database()


@pytest.fixture
def clock():
    return ThreadedClock()


@pytest.fixture
def harness():
    return Harness()


@pytest.fixture
def make_store(db_url, clock, harness, tmp_path):
    """``make_store(**options)``: a RecordStore on the test database, its log
    events in ``store.events``; stopped at the end, and checked never to
    have run a statement on this (the reactor's) thread."""
    stores = []

    def make(url=db_url, **options):
        options.setdefault("engine_factory", harness)
        options.setdefault("var_dir", tmp_path / "var")
        options.setdefault("stop_timeout", 2.0)
        store = RecordStore(url, reactor=clock, **options)
        store.events = []
        store.log = Logger(observer=store.events.append)
        stores.append(store)
        return store

    try:
        yield make
        harness.down = False
        for store in stores:
            if store.running:
                clock.wait(store.stopService())
    finally:
        for store in stores:            # a failed stop must not hang the run
            if store._pool is not None:
                store._pool.stop()
    assert threading.get_ident() not in harness.threads


def retry_warnings(store):
    return [e for e in store.events
            if e["log_level"] == LogLevel.warn and "retry in" in e["log_format"]]


def count(session, model):
    return session.scalar(select(func.count()).select_from(model))


def log_entry(i, **fields):
    return QueueLogEntry(at=T0 + timedelta(seconds=i), call_id=f"c{i}", queue="sales",
                         event=QueueEvent.ENTERQUEUE, data1=str(i), **fields)


def stored_data1(store, clock):
    """data1 of every queue log row, in id (insertion) order."""
    return clock.wait(store.query(
        lambda s: list(s.scalars(select(QueueLogEntry.data1).order_by(QueueLogEntry.id)))))


def one_of_each():
    cdr = CallRecord(
        call_id="1714555800.12", direction="inbound", trunk="dtiB1T3", trunk_group="pri-a",
        ani="5551234", dnis="8000", flow="main-menu", queue="sales", agent="1001",
        station="stn7", offered_at=T0, queued_at=T0 + timedelta(seconds=20),
        answered_at=T0 + timedelta(seconds=42.5), ended_at=T0 + timedelta(seconds=300),
        wait_s=22.5, talk_s=257.5, disposition="answered", released_by="caller",
        cause="normal_clearing", attached={"account": "A-17", "menu": [1, 3], "vip": True})
    session = AgentSession(agent="1001", station="stn7", login_at=T0 - timedelta(hours=1),
                           logout_at=T0 + timedelta(hours=7), logout_reason="agent")
    state = AgentStateChange(agent="1001", at=T0 + timedelta(seconds=42),
                             state="busy", previous="reserved", call_id="1714555800.12")
    entry = QueueLogEntry(at=T0 + timedelta(seconds=42), call_id="1714555800.12",
                          queue="sales", agent="1001", event="CONNECT", data1="22",
                          data2="1714555842.13", data3="3")
    return [cdr, session, state, entry]


def columns(record):
    return {c.key: getattr(record, c.key) for c in type(record).__table__.columns
            if c.key != "id"}


# -- models -----------------------------------------------------------------

def test_round_trip(make_store, clock):
    """Each model comes back as it went in; add() before start is kept."""
    records = one_of_each()
    store = make_store()
    for record in records:
        store.add(record)
    done = store.flush()
    store.startService()
    clock.wait(done)
    assert store.pending == 0
    for record in records:
        model = type(record)
        back = clock.wait(store.query(lambda s, model=model: s.scalars(select(model)).one()))
        assert columns(back) == columns(record)
    clock.wait(store.stopService())
    assert not store.spill_path.exists()


def test_timestamps_come_back_in_utc(make_store, clock):
    """An aware time in any zone is stored as its UTC instant."""
    store = make_store()
    store.startService()
    beijing = datetime(2024, 5, 1, 17, 30, tzinfo=timezone(timedelta(hours=8)))
    store.add(AgentStateChange(agent="1001", at=beijing, state="ready"))
    clock.wait(store.flush())
    at = clock.wait(store.query(lambda s: s.scalars(select(AgentStateChange.at)).one()))
    assert at == beijing and at.tzinfo == UTC and at.hour == 9


def test_queue_log_lines():
    """Asterisk's queue_log format: epoch|callid|queue|agent|EVENT|data..."""
    at = datetime(2024, 1, 2, 3, 4, 5, 678000, tzinfo=UTC)
    lines = [
        QueueLogEntry(at=at, call_id="c1", queue="sales", event="ENTERQUEUE",
                      data2="5551234", data3="1"),
        QueueLogEntry(at=at, call_id="c1", queue="sales", agent="1001",
                      event=QueueEvent.CONNECT, data1="22", data2="c2", data3="3"),
        QueueLogEntry(at=at, call_id="c1", queue="sales", agent="1001",
                      event="COMPLETECALLER", data1="22", data2="257", data3="1"),
        QueueLogEntry(at=at, call_id="NONE", queue="NONE", agent="1001",
                      event="AGENTLOGIN", data1="stn7"),
        QueueLogEntry(at=at, call_id="NONE", queue="NONE", agent="1001", event="PAUSE"),
    ]
    assert [entry.to_line() for entry in lines] == [
        "1704164645|c1|sales|NONE|ENTERQUEUE||5551234|1",
        "1704164645|c1|sales|1001|CONNECT|22|c2|3",
        "1704164645|c1|sales|1001|COMPLETECALLER|22|257|1",
        "1704164645|NONE|NONE|1001|AGENTLOGIN|stn7",
        "1704164645|NONE|NONE|1001|PAUSE",
    ]
    assert set(QueueEvent) >= {QueueEvent(name) for name in (
        "ENTERQUEUE CONNECT COMPLETECALLER COMPLETEAGENT ABANDON EXITWITHTIMEOUT EXITEMPTY "
        "EXITWITHKEY RINGNOANSWER TRANSFER PAUSE UNPAUSE AGENTLOGIN AGENTLOGOFF").split()}


@pytest.mark.parametrize("make, message", [
    (lambda: QueueLogEntry(at=T0, call_id="c", queue="q", event="BOGUS"), "BOGUS"),
    (lambda: CallRecord(direction="sideways"), "direction"),
    (lambda: CallRecord(released_by="nobody"), "released_by"),
])
def test_models_refuse_bad_values(make, message):
    with pytest.raises(ValueError, match=message):
        make()


def test_add_checks_records_where_the_bug_is(clock, tmp_path):
    store = RecordStore(f"sqlite:///{tmp_path}/x.sqlite", reactor=clock)
    with pytest.raises(ValueError, match="ended_at is required"):
        store.add(CallRecord(call_id="c", direction="inbound", offered_at=T0,
                             disposition="failed"))
    with pytest.raises(ValueError, match="naive datetime"):
        store.add(AgentStateChange(agent="1", state="ready", at=datetime(2024, 1, 1)))
    with pytest.raises(ValueError, match="already has id"):
        store.add(AgentStateChange(id=5, agent="1", state="ready", at=T0))
    assert store.pending == 0


# -- the store ----------------------------------------------------------------

def test_burst_of_ten_thousand(make_store, clock):
    store = make_store()
    store.startService()
    started = time.monotonic()
    for i in range(10_000):
        store.add(log_entry(i))
    clock.wait(store.flush(), timeout=60)
    elapsed = time.monotonic() - started
    assert stored_data1(store, clock) == [str(i) for i in range(10_000)]
    print(f"10,000 records added and committed in {elapsed:.2f}s")


def test_outage_loses_nothing_and_keeps_order(make_store, clock, harness):
    """Database down: records wait in memory, retries back off along
    retry_delays (the last repeating) and say so; back up: all written, in order."""
    store = make_store(retry_delays=RETRY_DELAYS)
    store.startService()
    clock.wait(store.flush())
    harness.down = True
    store.add(log_entry(0))
    clock.run_until(lambda: retry_warnings(store))
    expected = [0.5, 1, 2, 5, 10, 10]
    for n, delay in enumerate(expected[:-1], start=1):
        store.add(log_entry(n))
        clock.advance(delay)
        clock.run_until(lambda n=n: len(retry_warnings(store)) == n + 1)
    warnings = retry_warnings(store)
    assert [w["delay"] for w in warnings] == expected
    assert [w["pending"] for w in warnings] == [1, 2, 3, 4, 5, 6]
    assert "database is down" in warnings[0]["error"]
    assert store.pending == 6
    harness.down = False
    store.add(log_entry(6))
    clock.advance(10)
    clock.wait(store.flush())
    assert stored_data1(store, clock) == [str(i) for i in range(7)]
    assert any("available again" in e["log_format"] for e in store.events)


class SqliteLock:
    """Another process holding SQLite's write lock: writes fail 'database is locked'."""

    def __init__(self, url):
        self.connection = sqlite3.connect(url.removeprefix("sqlite:///").split("?")[0],
                                          isolation_level=None)

    def stop(self):
        self.connection.execute("BEGIN EXCLUSIVE")

    def start(self):
        self.connection.execute("COMMIT")
        self.connection.close()


def test_real_outage(make_store, clock, db_url, request):
    """SQLite locked by another writer / the PostgreSQL server stopped,
    then back: every record written once, in order."""
    if db_url.startswith("sqlite"):
        url = db_url + "?timeout=0.1"
        outage = SqliteLock(url)
    else:
        url = db_url
        outage = request.getfixturevalue("pg_cluster")
    store = make_store(url)
    store.startService()
    store.add(log_entry(0))
    clock.wait(store.flush())
    outage.stop()
    try:
        for i in range(1, 101):
            store.add(log_entry(i))
        clock.run_until(lambda: retry_warnings(store))
    finally:
        outage.start()
    clock.advance(0.5)
    clock.wait(store.flush())
    assert stored_data1(store, clock) == [str(i) for i in range(101)]


def test_stop_while_down_spills_and_next_start_inserts(make_store, clock, harness, db_url):
    store = make_store()
    harness.down = True
    store.startService()
    for i in range(20):
        store.add(log_entry(i))
    waiting = store.flush()
    clock.run_until(lambda: retry_warnings(store))
    stopped = store.stopService()
    clock.advance(2.0)                     # stop_timeout: give up flushing
    clock.wait(stopped)
    with pytest.raises(StoreStopped):
        clock.wait(waiting)
    store.add(log_entry(20))               # after stop: straight to the file
    assert store.pending == 0
    assert len(store.spill_path.read_text().splitlines()) == 21
    assert [t.target for t in store.lifecycle.history] == [
        "running", "stopping", "closing", "stopped"]          # its declared life
    assert store.lifecycle.history[2].at - store.lifecycle.history[1].at == 2.0

    harness.down = False
    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == [str(i) for i in range(21)]
    assert not again.spill_path.exists()
    assert any("spilled" in e["log_format"] and e["count"] == 21 for e in again.events)


def test_a_refused_record_holds_up_no_other(make_store, clock):
    """A record the database cannot take goes to the reject file; the rest
    of its batch is written."""
    store = make_store()
    store.startService()
    store.add(log_entry(0))
    bad = CallRecord(**columns(one_of_each()[0]))
    bad.attached = {"not json": object()}
    store.add(bad)
    store.add(log_entry(1))
    clock.wait(store.flush())
    assert stored_data1(store, clock) == ["0", "1"]
    assert clock.wait(store.query(lambda s: count(s, CallRecord))) == 0
    rejected = store.reject_path.read_text().splitlines()
    assert len(rejected) == 1 and '"table": "cdr"' in rejected[0]
    assert any(e["log_level"] == LogLevel.error for e in store.events)


def test_no_database_call_on_the_reactor_thread(make_store, clock, harness):
    store = make_store()
    store.startService()
    for record in one_of_each():
        store.add(record)
    clock.wait(store.flush())
    writer_thread = clock.wait(store.query(lambda s: threading.get_ident()))
    assert writer_thread != threading.get_ident()
    assert harness.threads == {writer_thread}


# -- migrations ---------------------------------------------------------------

def test_migrations_match_the_models(db_url):
    assert current_revision(db_url) is None
    upgrade(db_url)
    assert current_revision(db_url) == head_revision() == "0003"
    engine = create_engine(db_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
            assert set(Base.metadata.tables) == {m.__tablename__ for m in MODELS}
    finally:
        engine.dispose()


def test_store_migrates_at_start(make_store, clock, db_url):
    store = make_store()
    store.startService()
    clock.wait(store.flush())
    assert current_revision(db_url) == "0003"
