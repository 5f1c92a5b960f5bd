# SPDX-License-Identifier: GPL-2.0-or-later
"""The record store on SQLite and PostgreSQL: models round-trip, queue log
lines, a 10,000-record burst, outages that lose nothing, records kept in
the journal across a stop and written at the next start, a frozen
database (one alarm, a stop that does not wait for it), one alarm for
a long outage, statement timeouts (and the URL's own settings kept),
migrations that match the models, and no database call on the reactor
thread.  The journal itself (crashes, torn lines, a full disk,
open records): tests/test_journal.py.

The store runs for real: real threads and real databases.  Only
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
from cti.storage.store import dump_row, snapshot
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
    make the database look down (the driver's OperationalError) or frozen
    (a statement that does not come back until the test thaws it; then it
    fails, as a connection that was cut)."""

    def __init__(self):
        self.threads = set()
        self.down = False
        self.frozen = False
        self.stuck = threading.Event()     # set once a statement is held
        self._thawed = threading.Event()

    def freeze(self):
        self.frozen = True
        self.stuck.clear()
        self._thawed.clear()

    def thaw(self):
        self.frozen = False           # first: statements from now on pass
        self._thawed.set()

    def __call__(self, url):
        engine = make_engine(url)
        event.listen(engine, "before_cursor_execute", self._before)
        return engine

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        self.threads.add(threading.get_ident())
        if self.frozen:
            self.stuck.set()
            self._thawed.wait()
            raise conn.dialect.loaded_dbapi.OperationalError("the connection was cut (test)")
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
        options.setdefault("sync_every", 1)
        store = RecordStore(url, reactor=clock, **options)
        store.events = []
        store.log = store.journal.log = Logger(observer=store.events.append)
        stores.append(store)
        return store

    yield make
    harness.down = False
    harness.thaw()
    for store in stores:
        if store.running:
            clock.wait(store.stopService())
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


def test_stop_while_down_keeps_records_in_the_journal_for_the_next_start(
        make_store, clock, harness, db_url):
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
    store.add(log_entry(20))               # after stop: straight to the journal
    assert store.pending == 0 and store.unsaved == 0
    kept = [e for e in store.events if "kept in the journal" in e["log_format"]]
    assert [e["count"] for e in kept] == [20]
    assert [t.target for t in store.lifecycle.history] == [
        "running", "stopping", "closing", "stopped"]          # its declared life
    assert store.lifecycle.history[2].at - store.lifecycle.history[1].at == 2.0

    again = make_store(engine_factory=Harness())     # the database is back (for it only:
    again.startService()                            # a write left in flight stays refused)
    clock.wait(again.flush())
    assert stored_data1(again, clock) == [str(i) for i in range(21)]
    assert any("written first" in e["log_format"] and e["count"] == 21 for e in again.events)
    clock.wait(again.stopService())
    assert [p.name for p in again.journal_dir.iterdir()] == ["checkpoint.json"]


def test_a_spill_file_of_an_earlier_version_is_written_first(make_store, clock):
    """Versions before the journal spilled to cti-storage-spill.jsonl at
    stop (and the reject file's lines can be put back there by hand): the
    next start writes those records before anything new, then deletes it;
    a line that is no record is logged, with its text, and skipped."""
    store = make_store()
    store.spill_path.parent.mkdir(parents=True)
    store.spill_path.write_text("".join(
        dump_row(*snapshot(log_entry(i)), error="ignored") + "\n" for i in range(3))
        + '{"table": "no_such_table", "row": {}}\n')
    store.startService()
    store.add(log_entry(3))
    clock.wait(store.flush())
    clock.wait(store.journaled())
    assert stored_data1(store, clock) == ["0", "1", "2", "3"]
    assert not store.spill_path.exists()
    [bad] = [e for e in store.events if e["log_level"] == LogLevel.error]
    assert bad["line"] == 4 and "no_such_table" in bad["text"]


def alarm_lines(store, alarm):
    """The log events of one alarm: raised, repeated, cleared."""
    return [e for e in store.events if e.get("alarm") == alarm]


def test_a_frozen_database_raises_one_alarm_and_stop_does_not_wait_for_it(
        make_store, clock, harness):
    """A database that stops answering (a statement that never comes back):
    after db_timeout_s one critical alarm, records still taken (journaled);
    stopService returns after stop_timeout, the stuck thread is a daemon
    (it cannot keep the process alive), and the next start writes them."""
    store = make_store(db_timeout_s=30)
    store.startService()
    store.add(log_entry(0))
    clock.wait(store.flush())
    harness.freeze()
    for i in range(1, 6):
        store.add(log_entry(i))
    assert harness.stuck.wait(10)         # the write of record 1 hangs
    clock.advance(30)
    clock.advance(600)                     # ten more minutes: still one alarm
    store.add(log_entry(6))
    clock.wait(store.journaled())
    [alarm] = alarm_lines(store, "database")
    assert alarm["log_level"] == LogLevel.critical and alarm["pending"] == 5
    assert "has not come back" in alarm["why"]
    assert store.alarms == {"database"} and store.pending == 6

    began = time.monotonic()
    stopped = store.stopService()
    clock.advance(2.0)                     # stop_timeout
    clock.wait(stopped, timeout=10)
    assert time.monotonic() - began < 5    # generous: it waits for no thread
    stuck = [t for t in threading.enumerate() if t.name == "cti-storage-db" and t.is_alive()]
    assert stuck and all(t.daemon for t in stuck)
    [kept] = [e for e in store.events if "kept in the journal" in e["log_format"]]
    assert kept["count"] == 6 and store.unsaved == 0

    harness.thaw()                         # the stuck statement fails: nothing committed
    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == [str(i) for i in range(7)]


def test_the_database_alarm_is_raised_once_and_cleared_once(make_store, clock, harness):
    """Failure after failure for db_timeout_s (retry warnings meanwhile):
    one alarm naming the last error; the first commit clears it."""
    store = make_store(db_timeout_s=20, retry_delays=(1,))
    store.startService()
    clock.wait(store.flush())
    harness.down = True
    store.add(log_entry(0))
    for second in range(1, 31):
        clock.run_until(lambda n=second: len(retry_warnings(store)) == n)
        clock.advance(1)
    harness.down = False
    clock.advance(1)
    clock.wait(store.flush())
    raised, cleared = alarm_lines(store, "database")
    assert raised["log_level"] == LogLevel.critical and "database is down" in raised["why"]
    assert cleared["log_level"] == LogLevel.info and "cleared" in cleared["log_format"]
    assert store.alarms == frozenset()


def test_a_long_outage_raises_the_database_alarm_once(make_store, clock, harness):
    """Ten minutes of a database that is down, tried every few seconds:
    one critical line however long it lasts, one line when it clears."""
    store = make_store(db_timeout_s=30, retry_delays=RETRY_DELAYS)
    store.startService()
    clock.wait(store.flush())
    harness.down = True
    store.add(log_entry(0))
    clock.run_until(lambda: len(retry_warnings(store)) == 1)
    while clock.seconds() < 600:
        tries = len(retry_warnings(store))
        clock.advance(10)                  # the longest delay: one attempt each time
        clock.run_until(lambda n=tries: len(retry_warnings(store)) == n + 1)
    assert len(retry_warnings(store)) > 60
    [raised] = alarm_lines(store, "database")
    assert raised["log_level"] == LogLevel.critical and store.alarms == {"database"}
    harness.down = False
    clock.advance(10)
    clock.wait(store.flush())
    raised, cleared = alarm_lines(store, "database")
    assert cleared["log_level"] == LogLevel.info and store.alarms == frozenset()


class Connecting(Exception):
    """Raised instead of connecting: what the driver would have been given is noted."""


def connect_args_given(url, **options):
    """The keyword arguments ``make_engine(url)`` hands the DBAPI's
    connect() (the URL's query merged with the engine's connect_args),
    taken on their way in; no server is contacted."""
    engine = make_engine(url, **options)
    given = []

    def instead(dialect, record, cargs, cparams):
        given.append(dict(cparams))
        raise Connecting

    event.listen(engine, "do_connect", instead)
    with pytest.raises(Connecting):
        engine.connect()
    engine.dispose()
    return given[0]


def test_postgresql_settings_keep_the_urls_own(monkeypatch):
    """The URL's own options (a search_path) and connect_timeout stay; the
    store's statement_timeout joins those options; its defaults fill only
    what the URL leaves unset."""
    monkeypatch.delenv("PGOPTIONS", raising=False)
    monkeypatch.delenv("PGCONNECT_TIMEOUT", raising=False)
    given = connect_args_given("postgresql+psycopg://u:p@127.0.0.1:1/cti"
                               "?options=-csearch_path%3Dcti&connect_timeout=20", timeout_s=12)
    assert given["options"] == "-c statement_timeout=12000 -csearch_path=cti"
    assert given["connect_timeout"] == "20"
    assert (given["keepalives"], given["tcp_user_timeout"]) == (1, 12000)

    given = connect_args_given("postgresql+psycopg://u:p@127.0.0.1:1/cti", timeout_s=12)
    assert given["options"] == "-c statement_timeout=12000" and given["connect_timeout"] == 5

    mine = connect_args_given("postgresql+psycopg://u:p@127.0.0.1:1/cti"
                              "?options=-c%20statement_timeout%3D0", timeout_s=12)
    assert mine["options"] == "-c statement_timeout=12000 -c statement_timeout=0"  # the last wins

    monkeypatch.setenv("PGOPTIONS", "-c search_path=env")       # libpq's, which ours would hide
    monkeypatch.setenv("PGCONNECT_TIMEOUT", "30")
    given = connect_args_given("postgresql+psycopg://u:p@127.0.0.1:1/cti", timeout_s=12)
    assert given["options"] == "-c statement_timeout=12000 -c search_path=env"
    assert "connect_timeout" not in given


def test_postgresql_statements_have_a_timeout(pg_cluster, clock, tmp_path):  # noqa: F811
    """db_timeout_s is also PostgreSQL's statement_timeout (and the connect
    timeout is set): the server cancels a statement stuck on a lock."""
    store = RecordStore(pg_cluster.new_database(), reactor=clock, var_dir=tmp_path,
                        db_timeout_s=12)
    store.startService()
    try:
        assert clock.wait(store.query(
            lambda s: s.connection().exec_driver_sql("SHOW statement_timeout").scalar())) == "12s"
    finally:
        clock.wait(store.stopService())


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
