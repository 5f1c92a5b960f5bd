# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_storage -*-
"""The record store: records go in without waiting, and none is ever lost.

The CT server produces records on the reactor thread (a CDR when a call
ends, a queue log line for every queue event) and must never wait for a
database.  :class:`RecordStore` is a Twisted service that takes them into
memory at once and writes them from one dedicated thread::

    store = RecordStore(default_url("var"))
    store.setServiceParent(application)      # first child: it stops last
    store.add(CallRecord(call_id=..., ...))  # returns at once, never raises
    d = store.flush()                        # fires once that CDR is committed

Two halves, one per thread:

- on the reactor thread, :class:`RecordStore` keeps the buffer (a deque of
  row snapshots), starts one write job at a time with the next ``batch``
  rows, and when a job reports the database unavailable keeps the rows and
  tries again after the next of ``retry_delays`` (the last one repeats),
  timed with the injected reactor's ``callLater``;
- on the writer thread (a Twisted ThreadPool of one), :class:`Writer`
  does every database call: it creates the engine, runs the Alembic
  migrations, inserts, and reads and writes the spill file.

Job outcomes come back through ``reactor.callFromThread``, so all of the
store's state is touched only by the reactor thread and needs no lock.

What can go wrong, and what happens:

- the database is down, locked or unreachable (OperationalError and its
  kin): the batch stays at the head of the buffer, order is kept, a
  warning says how many records wait and when the next try is;
- one record the database refuses (a constraint, a value it cannot
  store): the batch is retried row by row, the refused rows go to the
  reject file (same format as the spill file, plus the error) and the rest
  are written; one bad record never holds up the others;
- the server stops while the database is still down: ``stopService``
  flushes for at most ``stop_timeout`` seconds, then appends what is left
  to the spill file; the next start inserts it before anything new.

``add()`` snapshots the record's column values at once: the instance may
be changed or dropped afterwards, and it is never attached to a session
(so it gets no ``id``).  Records are checked at ``add()``: a missing
required column or a naive datetime raises ValueError there, where the
bug is, rather than on the writer thread later.
"""
import copy
import functools
import itertools
import json
import os
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, event, exc, inspect, make_url
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_dict
from twisted.application.service import Service
from twisted.internet import defer
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.python.threadpool import ThreadPool

from cti.statemachine import Table
from cti.storage import migrations
from cti.storage.models import Base, UTCDateTime

#: The store's life as a service: running while it writes; stopping while
#: it flushes (for at most stop_timeout); closing while it spills what is
#: left and stops its thread; stopped, when a record added is spilled at once.
LIFECYCLE = Table("record_store", initial="new", transitions=[
    ("new", "start", "running"),
    ("running", "stop", "stopping"),
    ("stopping", "flushed", "closing"),
    ("closing", "closed", "stopped"),
])

SPILL_NAME = "cti-storage-spill.jsonl"
REJECT_NAME = "cti-storage-rejected.jsonl"


class StoreStopped(Exception):
    """The store stopped before these records were committed (they were spilled)."""


def default_url(var_dir="var"):
    """``sqlite:///<var_dir>/cti.sqlite`` (absolute), creating ``var_dir``."""
    path = Path(var_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'cti.sqlite'}"


def default_var_dir(url):
    """Where spill and reject files go: beside a SQLite file, else ./var."""
    url = make_url(url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent
    return Path("var")


def _sqlite_pragmas(dbapi_connection, _record):
    """WAL lets report tools read while the writer writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def make_engine(url):
    """The default engine factory: WAL for SQLite, liveness checks for servers.

    A pooled connection to a server that restarted is stale; ``pool_pre_ping``
    replaces it instead of failing the batch.  ``connect_timeout`` bounds how
    long the writer thread waits on an unreachable PostgreSQL.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {"connect_timeout": 5} if url.get_backend_name() == "postgresql" else {}
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


# -- records as rows ---------------------------------------------------------

def _column_default(column):
    """The Python-side default of a column: a value, a callable of no
    arguments (called per row), or None."""
    default = column.default
    if default is None:
        return None
    if default.is_scalar:
        return default.arg
    return (lambda: default.arg(None)) if default.is_callable else None


@functools.cache
def _columns(model):
    """(attribute, column key, default, nullable) of a model's columns but
    its primary key, and the key of that primary key: worked out once per
    model, as every record of a busy day goes through `snapshot`."""
    mapper = inspect(model)
    columns, primary = [], None
    for attr in mapper.column_attrs:
        column = attr.columns[0]
        if column.primary_key:
            primary = attr.key
        else:
            columns.append((attr.key, column.key, _column_default(column), column.nullable))
    return mapper.local_table, primary, columns


def snapshot(record):
    """``(table, {column: value})`` for a new model instance, checked.

    Every column but the id is present (None where unset, the Python-side
    default where the model has one), so rows of one table share their keys
    and insert as one executemany.  JSON values are deep-copied.
    """
    name = type(record).__name__
    table, primary, columns = _columns(type(record))
    values = instance_dict(record)
    if values.get(primary) is not None:
        raise ValueError(f"{name} already has id {values[primary]}: add() takes new records")
    row = {}
    for attr, key, default, nullable in columns:
        value = values.get(attr)
        if value is None:
            value = default() if callable(default) else default
        if value is None and not nullable:
            raise ValueError(f"{name}.{attr} is required")
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{name}.{attr}: naive datetime {value!r}")
        row[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return table, row


def _json_default(value):
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def dump_row(table, row, **extra):
    """One spill/reject file line: ``{"table": ..., "row": {...}}``."""
    return json.dumps({"table": table.name, "row": row, **extra}, default=_json_default)


def load_row(line):
    """``(table, row)`` from a spill file line; unknown columns are dropped."""
    item = json.loads(line)
    table = Base.metadata.tables[item["table"]]
    row = {}
    for column in table.columns:
        if column.key in item["row"]:
            value = item["row"][column.key]
            if isinstance(column.type, UTCDateTime) and value is not None:
                value = datetime.fromisoformat(value)
            row[column.key] = value
    return table, row


# -- what went wrong ---------------------------------------------------------

def is_bad_record(error):
    """True when the rows themselves were refused, not the connection.

    Constraint violations, values the database or driver cannot take
    (SQLAlchemy's bind-time errors, or a TypeError from the driver's own
    adaptation, as psycopg raises for JSONB) are about the data: retrying
    changes nothing.  Every other database error (OperationalError: down,
    locked, unreachable; interface and internal errors, pool timeouts)
    means the database is unavailable for now.
    """
    if isinstance(error, exc.IntegrityError | exc.DataError | exc.ProgrammingError):
        return True
    unavailable = exc.DBAPIError | exc.DisconnectionError | exc.TimeoutError
    return not isinstance(error, unavailable)


@dataclass
class Outcome:
    """What a write job did: ``done`` rows from the head are settled
    (committed or rejected); ``error`` is why it stopped early, if it did."""

    done: int
    error: BaseException | None = None
    rejected: list = field(default_factory=list)
    replayed: int = 0


# -- the writer thread -------------------------------------------------------

class Writer:
    """Everything that touches the database or the disk; writer thread only."""

    def __init__(self, url, engine_factory, spill_path, reject_path):
        self.url = url
        self.engine_factory = engine_factory
        self.spill_path = Path(spill_path)
        self.reject_path = Path(reject_path)
        self.engine = None
        self.ready = False

    def prepare(self):
        """Engine, migrations, spilled records: once, before any write.

        Returns how many spilled records were inserted.
        """
        if self.ready:
            return 0
        if self.engine is None:
            self.engine = self.engine_factory(self.url)
        migrations.upgrade(self.engine)
        replayed = self.replay_spill()
        self.ready = True
        return replayed

    def write(self, rows):
        """Prepare if needed, then settle ``rows``; never raises."""
        try:
            replayed = self.prepare()
        except Exception as e:
            return Outcome(0, e)
        outcome = self.settle(rows)
        outcome.replayed = replayed
        return outcome

    def insert(self, rows):
        """One transaction; consecutive rows of a table go as one executemany."""
        with self.engine.begin() as connection:
            for table, run in itertools.groupby(rows, key=lambda item: item[0]):
                connection.execute(table.insert(), [row for _, row in run])

    def settle(self, rows):
        """Insert ``rows`` in one go; if the data is refused, row by row."""
        try:
            self.insert(rows)
            return Outcome(len(rows))
        except Exception as e:
            if not is_bad_record(e):
                return Outcome(0, e)
        return self.settle_one_by_one(rows)

    def settle_one_by_one(self, rows):
        outcome = Outcome(0)
        for item in rows:
            try:
                self.insert([item])
            except Exception as e:
                if not is_bad_record(e):
                    outcome.error = e
                    return outcome
                self.append(self.reject_path, [item], error=str(e).splitlines()[0])
                outcome.rejected.append((item[0].name, str(e).splitlines()[0]))
            outcome.done += 1
        return outcome

    def replay_spill(self):
        """Insert the records a previous stop spilled, then delete the file.

        If the database fails half-way through a row-by-row pass, the file
        is rewritten with the rows not yet settled, so none is inserted twice.
        """
        if not self.spill_path.exists():
            return 0
        with self.spill_path.open() as f:
            rows = [load_row(line) for line in f if line.strip()]
        outcome = self.settle(rows)
        if outcome.error is not None:
            if outcome.done:
                self.rewrite(self.spill_path, rows[outcome.done:])
            raise outcome.error
        self.spill_path.unlink()
        return len(rows)

    def append(self, path, rows, **extra):
        """Append rows as JSON lines, durably (fsync) before returning."""
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("a") as f:
            f.writelines(dump_row(table, row, **extra) + "\n" for table, row in rows)
            f.flush()
            os.fsync(f.fileno())

    def rewrite(self, path, rows):
        """Replace ``path`` with ``rows`` atomically (write aside, rename)."""
        aside = path.with_suffix(".tmp")
        aside.unlink(missing_ok=True)
        self.append(aside, rows)
        aside.replace(path)

    def spill(self, rows):
        self.append(self.spill_path, rows)

    def query(self, fn):
        self.prepare()
        with Session(self.engine, expire_on_commit=False) as session:
            return fn(session)

    def close(self):
        if self.engine is not None:
            self.engine.dispose()
        self.engine = None
        self.ready = False


# -- the reactor side --------------------------------------------------------

class RecordStore(Service):
    """Buffered, retried, spilled storage of records, as a Twisted service.

    ``url`` is a SQLAlchemy URL (``default_url(var_dir)`` for the embedded
    SQLite; ``postgresql+psycopg://user:pw@host/db`` for PostgreSQL).
    ``reactor`` provides ``callLater`` and ``callFromThread`` (the global
    reactor by default).  ``retry_delays``: seconds between attempts while
    the database is unavailable, the last repeating.  ``batch``: most rows
    per transaction.  ``var_dir``: where the spill and reject files go
    (beside the SQLite file, else ./var).  ``stop_timeout``: how long
    ``stopService`` tries to flush before spilling.  ``engine_factory(url)``
    makes the Engine on the writer thread (tests inject failures with it).
    """

    log = Logger()

    def __init__(self, url, reactor=None, retry_delays=(0.5, 1, 2, 5, 10), batch=500, *,
                 var_dir=None, stop_timeout=5.0, engine_factory=make_engine):
        if reactor is None:
            from twisted.internet import reactor
        if not retry_delays or batch < 1:
            raise ValueError("retry_delays must not be empty and batch must be >= 1")
        self.url = url
        self.reactor = reactor
        self.retry_delays = tuple(retry_delays)
        self.batch = batch
        self.stop_timeout = stop_timeout
        var_dir = Path(var_dir) if var_dir is not None else default_var_dir(url)
        self.writer = Writer(url, engine_factory, var_dir / SPILL_NAME, var_dir / REJECT_NAME)
        self._buffer = deque()   # (table, row), oldest first
        self._added = 0          # records ever added
        self._settled = 0        # of those, committed, rejected or spilled
        self._waiters = []       # (added count, Deferred) from flush()
        self._idle_waiters = []
        self.lifecycle = LIFECYCLE.machine(reactor, "record store")
        self._ready = False      # migrated and spill replayed
        self._busy = False       # a write job is on the writer thread
        self._retry = None       # the DelayedCall of the next attempt
        self._attempt = 0        # consecutive failed attempts
        self._pool = None
        self._trigger = None

    @property
    def pending(self):
        """Records buffered in memory, not yet committed."""
        return len(self._buffer)

    @property
    def spill_path(self):
        return self.writer.spill_path

    @property
    def reject_path(self):
        return self.writer.reject_path

    # -- the contract --

    def add(self, record):
        """Take a new model instance for writing; never blocks, never raises
        for database trouble (ValueError for an invalid record)."""
        item = snapshot(record)
        if self.lifecycle.state == "stopped":
            self._add_after_stop([item])
            return
        self._buffer.append(item)
        self._added += 1
        self._kick()

    def flush(self):
        """A Deferred fired when every record added so far is committed
        (or rejected); it fails with StoreStopped if they had to be spilled,
        and at once when the store is stopped."""
        if self.lifecycle.state == "stopped":
            return defer.fail(StoreStopped("the store is stopped"))
        target = self._added
        if self._ready and self._settled >= target:
            return defer.succeed(None)
        d = defer.Deferred(canceller=self._forget_waiter)
        self._waiters.append((target, d))
        return d

    def query(self, fn):
        """A Deferred of ``fn(session)`` run on the writer thread, after the
        jobs already queued there; for reports and tests."""
        if self._pool is None:
            return defer.fail(RuntimeError("RecordStore is not running"))
        return deferToThreadPool(self.reactor, self._pool, self.writer.query, fn)

    def startService(self):
        """Start the writer thread; its first job migrates and replays the spill."""
        Service.startService(self)
        self.lifecycle.fire("start")
        self._pool = ThreadPool(1, 1, name="cti-storage")
        self._pool.start()
        if hasattr(self.reactor, "addSystemEventTrigger"):
            self._trigger = self.reactor.addSystemEventTrigger(
                "during", "shutdown", self._pool.stop)
        self._kick()

    def stopService(self):
        """Flush for up to ``stop_timeout`` s, spill the rest, stop the thread."""
        Service.stopService(self)
        if self.lifecycle.state != "running":
            return defer.succeed(None)
        return defer.ensureDeferred(self._stop())

    # -- write jobs --

    def _kick(self):
        """Start the next write job, unless one runs, a retry waits, or
        there is nothing to do."""
        if self.lifecycle.state not in ("running", "stopping") or self._busy \
                or self._retry is not None:
            return
        if self._ready and not self._buffer:
            return
        rows = list(itertools.islice(self._buffer, self.batch))
        self._busy = True
        d = deferToThreadPool(self.reactor, self._pool, self.writer.write, rows)
        d.addErrback(self._job_crashed)
        d.addCallback(self._job_done)

    def _job_crashed(self, failure):
        self.log.failure("storage write job crashed", failure=failure)
        return Outcome(0, failure.value)

    def _job_done(self, outcome):
        self._busy = False
        self._log_outcome(outcome)
        for _ in range(outcome.done):
            self._buffer.popleft()
        self._settled += outcome.done
        if outcome.error is None:
            self._recovered()
            self._ready = True
        else:
            self._schedule_retry(outcome.error)
        self._fire_waiters()
        self._kick()
        if not self._busy:
            idle, self._idle_waiters = self._idle_waiters, []
            for d in idle:
                d.callback(None)

    def _log_outcome(self, outcome):
        if outcome.replayed:
            self.log.info("inserted {count} records spilled at the last stop",
                          count=outcome.replayed)
        for table, error in outcome.rejected:
            self.log.error("{table} record refused by the database ({error}); "
                           "kept in {path}", table=table, error=error,
                           path=str(self.reject_path))

    def _recovered(self):
        if self._attempt:
            self.log.info("storage available again after {attempts} failed attempts, "
                          "{pending} records buffered",
                          attempts=self._attempt, pending=len(self._buffer))
        self._attempt = 0

    def _schedule_retry(self, error):
        if self.lifecycle.state not in ("running", "stopping"):
            return
        if not isinstance(error, exc.SQLAlchemyError):
            self.log.failure("storage error", failure=Failure(error))
        delay = self.retry_delays[min(self._attempt, len(self.retry_delays) - 1)]
        self._attempt += 1
        self.log.warn("storage unavailable, {pending} records buffered, retry in {delay}s: "
                      "{error}", pending=len(self._buffer), delay=delay,
                      attempt=self._attempt, error=str(error).splitlines()[0])
        self._retry = self.reactor.callLater(delay, self._retry_now)

    def _retry_now(self):
        self._retry = None
        self._kick()

    # -- flush waiters --

    def _fire_waiters(self):
        if not self._ready:
            return
        due = [w for w in self._waiters if w[0] <= self._settled]
        self._waiters = [w for w in self._waiters if w[0] > self._settled]
        for _, d in due:
            d.callback(None)

    def _forget_waiter(self, d):
        self._waiters = [w for w in self._waiters if w[1] is not d]

    # -- stopping --

    async def _stop(self):
        self.lifecycle.fire("stop")
        if self._retry is not None:
            self._retry.reset(0)            # one last attempt, now
        await self._flush_within(self.stop_timeout)
        self.lifecycle.fire("flushed")       # or out of time: the rest is spilled
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None
        if self._busy:
            idle = defer.Deferred()
            self._idle_waiters.append(idle)
            await idle
        await self._spill_buffer()
        await deferToThreadPool(self.reactor, self._pool, self.writer.close)
        self._pool.stop()                   # the thread is idle: joins at once
        if self._trigger is not None:
            self.reactor.removeSystemEventTrigger(self._trigger)
        self._pool = self._trigger = None
        self._ready = False
        self.lifecycle.fire("closed")
        if self._buffer:                    # added while the thread was closing
            self._add_after_stop(list(self._buffer))
            self._settled += len(self._buffer)
            self._buffer.clear()

    async def _flush_within(self, timeout):
        d = self.flush()
        d.addTimeout(timeout, self.reactor)
        try:
            await d
        except defer.TimeoutError:
            pass

    async def _spill_buffer(self):
        """Append the buffer to the spill file; fail the flush waiters."""
        while self._buffer:
            rows = list(self._buffer)
            try:
                await deferToThreadPool(self.reactor, self._pool, self.writer.spill, rows)
            except Exception:
                self._last_resort(rows)
                raise
            for _ in rows:
                self._buffer.popleft()
            self._settled += len(rows)
            self.log.warn("storage stopped with {count} records unwritten: kept in {path}, "
                          "inserted at the next start", count=len(rows),
                          path=str(self.spill_path))
        waiters, self._waiters = self._waiters, []
        for _, d in waiters:
            d.errback(StoreStopped(f"records spilled to {self.spill_path}"))

    def _last_resort(self, rows):
        """The spill file cannot be written: put the records in the log."""
        self.log.critical("cannot write {path}; unsaved records follow as JSON lines:\n"
                          "{lines}", path=str(self.spill_path),
                          lines="\n".join(dump_row(t, r) for t, r in rows))

    def _add_after_stop(self, items):
        """Records after stop (a bug in shutdown order): spill them right
        away, on this thread, since the writer thread is gone."""
        self.log.warn("{count} records added after the store stopped; appended to {path}",
                      count=len(items), path=str(self.spill_path))
        self.writer.append(self.spill_path, items)
