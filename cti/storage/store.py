# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_storage -*-
"""The record store: records go in without waiting, and none is ever lost.

The CT server produces records on the reactor thread (a CDR when a call
ends, a queue log line for every queue event) and must never wait for a
database, nor for a disk beyond an ``os.write`` into the page cache (the
journal's doc says when even that can wait).  :class:`RecordStore` is a
Twisted service that takes them at once, puts them in its journal
(cti.storage.journal: local disk, JSON lines) and writes them to the
database from one dedicated thread::

    store = RecordStore(default_url("var"))
    store.setServiceParent(application)      # first child: it stops last
    store.add(CallRecord(call_id=..., ...))  # returns at once, never raises for I/O
    d = store.flush()                        # fires once that CDR is committed

    store.open("call:c17", CallRecord(...))  # provisional: journaled, not written
    store.close("call:c17")                  # done with it
    store.unfinished()                       # after a crash: what the last run left open

Three threads, each with one job:

- the reactor thread: :class:`RecordStore` keeps the buffer (the journal
  entries of the records not yet committed, oldest first), appends every
  record to the journal (into the OS's buffers), starts one database job
  at a time with the next ``batch`` rows, and when a job reports the
  database unavailable keeps the rows and tries again after the next of
  ``retry_delays`` (the last one repeats), timed with the injected
  reactor's ``callLater``;
- the database thread: :class:`Writer` does every database call: it
  creates the engine, runs the Alembic migrations, inserts;
- the journal's thread: fsync, the checkpoint, deleting old segments.

Results come back through ``reactor.callFromThread``, so all of the
store's state is touched only by the reactor thread and needs no lock.

What can go wrong, and what happens:

- the database is down, locked or unreachable (OperationalError and its
  kin): the batch stays at the head of the buffer, order is kept, a
  warning says how many records wait and when the next try is;
- the database does not answer at all (a frozen server, a black-holed
  connection): no record has reached it for ``db_timeout_s``, so the
  ``database`` alarm is raised, once however long it lasts; records keep
  coming into the journal; the alarm clears (one line) when a batch
  commits.  ``connect_timeout`` and ``statement_timeout`` bound what
  PostgreSQL itself can bound;
- one record the database refuses (a constraint, a value it cannot
  store): the batch is retried row by row, the refused rows go to the
  reject file and the rest are written; one bad record never holds up
  the others;
- the disk fails (full, read-only): the ``disk`` alarm, the records wait
  in memory and still go to the database (the journal's doc);
- the process crashes: the next start writes every journaled record not
  yet committed before anything new, and :meth:`RecordStore.unfinished`
  gives the open records the crash left;
- the server stops while the database is down: ``stopService`` flushes
  for at most ``stop_timeout`` seconds, then gives the journal's last
  sync and the engine's close at most ``stop_timeout`` more, side by side
  (a stop takes at most twice ``stop_timeout``), never waits for a stuck
  database thread, and leaves what is not committed in the journal for
  the next start; what is in neither (the disk failed too) is counted in
  ``unsaved``.

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
import threading
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import create_engine, event, exc, inspect, make_url
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import instance_dict
from twisted.application.service import Service
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from cti.statemachine import Table
from cti.storage import migrations
from cti.storage.journal import (
    DIRECTORY_NAME,
    JobThread,
    Journal,
    json_default,
    row_from_json,
    within,
)
from cti.storage.models import Base

#: The store's life as a service: running while it writes; stopping while
#: it flushes (for at most stop_timeout); closing while it closes the
#: journal and the engine and lets its threads go (at most stop_timeout
#: more); stopped.  From closing on, nothing more goes to the database: a
#: record added is the journal's alone (written at once, on the calling
#: thread, once the journal's last sync job has begun).
LIFECYCLE = Table("record_store", initial="new", transitions=[
    ("new", "start", "running"),
    ("running", "stop", "stopping"),
    ("stopping", "flushed", "closing"),
    ("closing", "closed", "stopped"),
])

#: read at start if present (earlier versions spilled there at stop), then deleted
SPILL_NAME = "cti-storage-spill.jsonl"
REJECT_NAME = "cti-storage-rejected.jsonl"


class StoreStopped(Exception):
    """The store stopped before these records were committed (they wait in
    the journal for the next start)."""


def default_url(var_dir="var"):
    """``sqlite:///<var_dir>/cti.sqlite`` (absolute), creating ``var_dir``."""
    path = Path(var_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'cti.sqlite'}"


def default_var_dir(url):
    """Where the journal and reject file go: beside a SQLite file, else ./var."""
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


def make_engine(url, timeout_s=30.0):
    """The default engine factory: WAL for SQLite, liveness checks and
    timeouts for servers.

    A pooled connection to a server that restarted is stale; ``pool_pre_ping``
    replaces it instead of failing the batch.  On PostgreSQL,
    ``connect_timeout`` bounds the wait for an unreachable server,
    ``statement_timeout`` (``timeout_s``) makes the server cancel a
    statement that runs too long (a lock held elsewhere), and TCP
    keepalives and ``tcp_user_timeout`` notice a server that vanished.  A
    server that is frozen answers none of these: the store's watchdog
    (``db_timeout_s``) is what notices it.  The URL's own settings win:
    see :func:`postgresql_connect_args`.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        engine = create_engine(url)
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    connect_args = {}
    if url.get_backend_name() == "postgresql":
        connect_args = postgresql_connect_args(url, timeout_s)
    return create_engine(url, pool_pre_ping=True, connect_args=connect_args)


def postgresql_connect_args(url, timeout_s, environ=os.environ):
    """The connection settings the store adds for PostgreSQL, given what
    the URL's query (``?options=...&connect_timeout=...``) already sets.

    SQLAlchemy lays ``connect_args`` over the URL's query, so each default
    here is left out when the URL (or libpq's environment variable for
    it, which an explicit setting would override) has its own.  The
    exception is ``options``: ``-c statement_timeout=...`` goes in front
    of the URL's own ``options`` (or ``PGOPTIONS``), which are kept; a
    ``statement_timeout`` of their own comes later and wins.
    """
    query = make_url(url).query
    defaults = {
        "connect_timeout": max(1, min(5, int(timeout_s))),
        "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5,
        "keepalives_count": 3, "tcp_user_timeout": int(timeout_s * 1000),
    }
    from_environment = {"connect_timeout": "PGCONNECT_TIMEOUT"}
    args = {name: value for name, value in defaults.items()
            if name not in query and from_environment.get(name, name) not in environ}
    theirs = query.get("options", environ.get("PGOPTIONS", ""))
    if isinstance(theirs, tuple):              # ?options=a&options=b
        theirs = " ".join(theirs)
    args["options"] = f"-c statement_timeout={int(timeout_s * 1000)} {theirs}".strip()
    return args


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


@functools.cache
def _model_of(table):
    """The model class whose table is ``table``."""
    return next(m.class_ for m in Base.registry.mappers if m.local_table is table)


def snapshot(record, complete=True):
    """``(table, {column: value})`` for a new model instance, checked.

    Every column but the id is present (None where unset, the Python-side
    default where the model has one), so rows of one table share their keys
    and insert as one executemany.  JSON values are deep-copied.  An open
    (provisional) record is not ``complete``: its required columns may
    still be missing.
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
        if value is None and not nullable and complete:
            raise ValueError(f"{name}.{attr} is required")
        if isinstance(value, datetime) and value.tzinfo is None:
            raise ValueError(f"{name}.{attr}: naive datetime {value!r}")
        row[key] = copy.deepcopy(value) if isinstance(value, dict | list) else value
    return table, row


def instance(table, row):
    """A new (transient) model instance holding ``row``: the inverse of
    :func:`snapshot`, for records read back from the journal."""
    model = _model_of(table)
    _, _, columns = _columns(model)
    return model(**{attr: row[key] for attr, key, _, _ in columns if row.get(key) is not None})


def dump_row(table, row, **extra):
    """One reject (or spill) file line: ``{"table": ..., "row": {...}}``."""
    return json.dumps({"table": table.name, "row": row, **extra}, default=json_default)


def load_row(line):
    """``(table, row)`` from a spill file line; unknown columns are dropped."""
    item = json.loads(line)
    table = Base.metadata.tables[item["table"]]
    return table, row_from_json(table, item["row"])


# -- what went wrong ---------------------------------------------------------

def is_bad_record(error):
    """True when the rows themselves were refused, not the connection.

    Constraint violations, values the database or driver cannot take
    (SQLAlchemy's bind-time errors, or a TypeError from the driver's own
    adaptation, as psycopg raises for JSONB) are about the data: retrying
    changes nothing.  Every other database error (OperationalError: down,
    locked, unreachable, a statement timeout; interface and internal
    errors, pool timeouts) means the database is unavailable for now.
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


# -- the database thread -----------------------------------------------------

#: Alembic keeps a running migration's context in module globals: two
#: stores in one process (tests, tools; a stopped store's thread that is
#: still at it) must migrate one at a time.
_MIGRATING = threading.Lock()


class Writer:
    """Everything that touches the database; database thread only."""

    def __init__(self, url, engine_factory, reject_path):
        self.url = url
        self.engine_factory = engine_factory
        self.reject_path = Path(reject_path)
        self.engine = None
        self.ready = False

    def prepare(self):
        """Engine and migrations: once, before any write."""
        if self.ready:
            return
        if self.engine is None:
            self.engine = self.engine_factory(self.url)
        with _MIGRATING:
            migrations.upgrade(self.engine)
        self.ready = True

    def write(self, rows):
        """Prepare if needed, then settle ``rows``; never raises."""
        try:
            self.prepare()
        except Exception as e:
            return Outcome(0, e)
        return self.settle(rows)

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
                self.reject(item, str(e).splitlines()[0])
                outcome.rejected.append((item[0].name, str(e).splitlines()[0]))
            outcome.done += 1
        return outcome

    def reject(self, item, error):
        """Append a refused row to the reject file, durably (fsync)."""
        self.reject_path.parent.mkdir(parents=True, exist_ok=True)
        with self.reject_path.open("a") as f:
            f.write(dump_row(*item, error=error) + "\n")
            f.flush()
            os.fsync(f.fileno())

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
    """Journaled, buffered, retried storage of records, as a Twisted service.

    ``url`` is a SQLAlchemy URL (``default_url(var_dir)`` for the embedded
    SQLite; ``postgresql+psycopg://user:pw@host/db`` for PostgreSQL).
    ``reactor`` provides ``seconds``, ``callLater`` and ``callFromThread``
    (the global reactor by default).  ``retry_delays``: seconds between
    attempts while the database is unavailable, the last repeating.
    ``batch``: most rows per transaction.  ``var_dir``: where the journal
    and the reject file go (beside the SQLite file, else ./var).
    ``stop_timeout``: how long ``stopService`` tries to flush, and at most
    how long it then waits for the journal's last fsync and the engine's
    close, which run side by side (a stop: at most twice that).
    ``db_timeout_s``: records waiting that long without one reaching the
    database raise the ``database`` alarm; also PostgreSQL's statement
    timeout.
    ``segment_bytes``, ``sync_every``, ``sync_interval_s``: the journal's
    segment size and how often it fsyncs (cti.storage.journal).
    ``engine_factory(url)`` makes the Engine on the database thread and
    ``disk`` is the journal's file layer (tests inject failures with them).
    """

    log = Logger()

    def __init__(self, url, reactor=None, retry_delays=(0.5, 1, 2, 5, 10), batch=500, *,
                 var_dir=None, stop_timeout=5.0, db_timeout_s=30.0, engine_factory=None,
                 segment_bytes=16 << 20, sync_every=100, sync_interval_s=0.1, disk=None):
        if reactor is None:
            from twisted.internet import reactor
        if not retry_delays or batch < 1 or db_timeout_s <= 0:
            raise ValueError("retry_delays must not be empty, batch must be >= 1 "
                             "and db_timeout_s > 0")
        self.url = url
        self.reactor = reactor
        self.retry_delays = tuple(retry_delays)
        self.batch = batch
        self.stop_timeout = stop_timeout
        self.db_timeout_s = db_timeout_s
        var_dir = Path(var_dir) if var_dir is not None else default_var_dir(url)
        self.spill_path = var_dir / SPILL_NAME
        if engine_factory is None:
            engine_factory = functools.partial(make_engine, timeout_s=db_timeout_s)
        self.writer = Writer(url, engine_factory, var_dir / REJECT_NAME)
        self.journal = Journal(var_dir / DIRECTORY_NAME, reactor, segment_bytes=segment_bytes,
                               sync_every=sync_every, sync_interval_s=sync_interval_s,
                               disk=disk)
        self.unsaved = 0         # records lost at or after stop: in neither database nor journal
        self.kept = 0            # records left in the journal at stop, for the next start
        self._buffer = deque()   # journal Entries of the records not yet committed, oldest first
        self._waiters = []       # (Entry or None, Deferred) from flush()
        self.lifecycle = LIFECYCLE.machine(reactor, "record store")
        self._ready = False      # migrated
        self._busy = False       # a write job is on the database thread
        self._retry = None       # the DelayedCall of the next attempt
        self._attempt = 0        # consecutive failed attempts
        self._watchdog = None    # the DelayedCall that raises the database alarm
        self._alarms = set()     # {"database"} while that alarm lasts
        self._last_error = None  # the database's last error, for the alarm
        self._db = None          # the database JobThread, while running
        self._spilled = None     # journal Entries of the spill file, until it is deleted

    # -- what monitoring reads --

    @property
    def pending(self):
        """Records not yet committed (in the journal unless ``unjournaled``)."""
        return len(self._buffer)

    @property
    def unjournaled(self):
        """Journal entries (records, opens, closes) not yet on disk."""
        return self.journal.unjournaled

    @property
    def alarms(self):
        """The alarms now raised: ``"database"`` (no record has reached the
        database for db_timeout_s), ``"disk"`` (the journal cannot be written)."""
        return frozenset(self._alarms) | self.journal.alarms

    @property
    def journal_dir(self):
        return self.journal.directory

    @property
    def reject_path(self):
        return self.writer.reject_path

    @property
    def skipped_entries(self):
        """Journal lines skipped at start: torn by a crash, or damaged."""
        return self.journal.skipped

    @property
    def last_seen(self):
        """When the previous run last wrote to the journal (a UTC datetime,
        None on a fresh journal): for records left open by a crash, the
        latest moment it is known to have been alive.  Known once started."""
        return self.journal.last_seen

    # -- the contract --

    def add(self, record):
        """Take a new model instance for writing; never blocks, never raises
        for database or disk trouble (ValueError for an invalid record)."""
        table, row = snapshot(record)
        if self.lifecycle.state in ("closing", "stopped"):
            self._late(self.journal.record, table, row)
            return
        self._buffer.append(self.journal.record(table, row))
        self._kick()

    def open(self, key, record):
        """Journal ``record`` as the open (provisional) record ``key``: never
        written to the database by the store; it replaces any earlier open
        record with that key.  If the process crashes before
        :meth:`close`, the next start gives it back by :meth:`unfinished`.
        Required columns may be missing; ValueError as ``add()`` otherwise."""
        if not isinstance(key, str) or not key:
            raise ValueError(f"open record keys are non-empty strings, not {key!r}")
        table, row = snapshot(record, complete=False)
        if self.lifecycle.state in ("closing", "stopped"):
            self._late(self.journal.open, key, table, row)
        else:
            self.journal.open(key, table, row)

    def close(self, key):
        """Forget the open record ``key`` (this run's or an unfinished one);
        nothing if there is none."""
        if self.lifecycle.state in ("closing", "stopped"):
            self._late(self.journal.close, key)
        else:
            self.journal.close(key)

    def unfinished(self):
        """``[(key, record)]``: the open records earlier runs left (a crash:
        calls in progress, agents logged in), oldest first, each a new
        model instance to complete and :meth:`add`; then :meth:`close` its
        key (or :meth:`forget_unfinished` for all).  Known once started;
        one re-opened or closed in this run is no longer unfinished."""
        journal = self.journal
        return [(key, instance(entry.table, entry.row))
                for key, entry in journal.open_records.items()
                if key in journal.unfinished_keys]

    def forget_unfinished(self):
        """Close every unfinished record (the server has dealt with them)."""
        for key in list(self.journal.unfinished_keys):
            self.close(key)

    def flush(self):
        """A Deferred fired when every record added so far is committed
        (or rejected); it fails with StoreStopped if the store stopped
        first (they wait in the journal), and at once when it is stopped."""
        if self.lifecycle.state == "stopped":
            return defer.fail(StoreStopped("the store is stopped"))
        last = self._buffer[-1] if self._buffer else None
        if last is None and self._ready:
            return defer.succeed(None)
        d = defer.Deferred(canceller=self._forget_waiter)
        self._waiters.append((last, d))
        return d

    def journaled(self):
        """A Deferred fired when every record, open and close so far is on
        disk in the journal (fsync'd).  During a disk alarm that waits for
        the disk (a record the database committed meanwhile is not written
        any more, and does not hold it up)."""
        return self.journal.journaled()

    def query(self, fn):
        """A Deferred of ``fn(session)`` run on the database thread, after
        the jobs already queued there; for reports and tests."""
        if self._db is None:
            return defer.fail(RuntimeError("RecordStore is not running"))
        return self._db.submit(self.writer.query, fn)

    def startService(self):
        """Open the journal (records not yet committed first, then those
        added before start), start the database thread; its first job
        migrates.  JournalError if the journal directory cannot be used."""
        recovered = self.journal.start()
        Service.startService(self)
        self.lifecycle.fire("start")
        self._log_recovery(recovered)
        self._buffer.extendleft(reversed(recovered))
        self._import_spill()
        self._db = JobThread(self.reactor, "cti-storage-db")
        self._db.start()
        self._kick()

    def stopService(self):
        """Flush for up to ``stop_timeout`` s, then close the journal and
        the engine within ``stop_timeout`` s more, let the threads go; what
        is not committed waits in the journal."""
        Service.stopService(self)
        if self.lifecycle.state != "running":
            return defer.succeed(None)
        return defer.ensureDeferred(self._stop())

    # -- start --

    def _log_recovery(self, recovered):
        journal = self.journal
        if recovered:
            self.log.info("journal {journal}: {count} records not yet in the database, "
                          "written first", journal=str(journal.directory), count=len(recovered))
        if journal.unfinished_keys:
            self.log.info("journal {journal}: {count} records left open by the last run, "
                          "last seen at {last_seen}", journal=str(journal.directory),
                          count=len(journal.unfinished_keys), last_seen=str(journal.last_seen))

    def _import_spill(self):
        """Move the spill file (written at stop by versions before the
        journal, or lines of the reject file put back by hand) into the
        journal; deleted once each of its records is on disk there or
        settled in the database (or the reject file), whichever comes
        first: during a disk alarm, the database's commit is what frees it."""
        if not self.spill_path.exists():
            return
        entries = []
        with self.spill_path.open() as f:
            for number, line in enumerate(f, start=1):
                try:
                    if line.strip():
                        entries.append(self.journal.record(*load_row(line)))
                except (KeyError, TypeError, ValueError) as e:
                    self.log.error("{path} line {line} is no record ({error}), skipped: "
                                   "{text}", path=str(self.spill_path), line=number,
                                   error=repr(e), text=line.strip())
        self._buffer.extend(entries)
        self.log.info("moved {count} records from {path} into the journal",
                      count=len(entries), path=str(self.spill_path))
        self._spilled = entries
        if not entries:
            self._spill_saved()
            return
        in_database = defer.Deferred()
        self._waiters.append((entries[-1], in_database))
        for d in (self.journaled(), in_database):
            d.addCallbacks(self._spill_saved, lambda _: None)

    def _spill_saved(self, _=None):
        """Delete the spill file if each of its records is journaled or
        settled (records are journaled and settled in order, so the last
        one tells for all)."""
        if self._spilled is not None and all(e.journaled or e.settled for e in self._spilled):
            self._spilled = None
            self.spill_path.unlink(missing_ok=True)

    # -- write jobs --

    def _kick(self):
        """Start the next write job, unless one runs, a retry waits, or
        there is nothing to do."""
        if self.lifecycle.state not in ("running", "stopping") or self._busy \
                or self._retry is not None:
            return
        if self._ready and not self._buffer:
            return
        rows = [(entry.table, entry.row) for entry in itertools.islice(self._buffer, self.batch)]
        self._busy = True
        if self._watchdog is None and "database" not in self._alarms:
            self._watchdog = self.reactor.callLater(self.db_timeout_s, self._database_late)
        d = self._db.submit(self.writer.write, rows)
        d.addErrback(self._job_crashed)
        d.addCallback(self._job_done)

    def _job_crashed(self, failure):
        self.log.failure("storage write job crashed", failure=failure)
        return Outcome(0, failure.value)

    def _job_done(self, outcome):
        if self.lifecycle.state == "stopped":
            self._late_outcome(outcome)
            return
        self._busy = False
        self._log_outcome(outcome)
        last = None
        for _ in range(outcome.done):
            last = self._buffer.popleft()
            last.settled = True
        if last is not None:
            self.journal.settled(last.seq)
            self._reached()
        if outcome.error is None:
            self._recovered()
            self._ready = True
        else:
            self._last_error = outcome.error
            self._schedule_retry(outcome.error)
        self._fire_waiters()
        self._kick()

    def _log_outcome(self, outcome):
        for table, error in outcome.rejected:
            self.log.error("{table} record refused by the database ({error}); "
                           "kept in {path}", table=table, error=error,
                           path=str(self.reject_path))

    def _recovered(self):
        """A job succeeded: say so after failures; records reach the database."""
        if self._attempt:
            self.log.info("storage available again after {attempts} failed attempts, "
                          "{pending} records buffered",
                          attempts=self._attempt, pending=len(self._buffer))
        self._attempt = 0
        self._reached()

    def _reached(self):
        """Records reached the database: disarm the watchdog, and clear the
        database alarm (one line)."""
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        if "database" in self._alarms:
            self._alarms.discard("database")
            self.log.info("database alarm cleared: records reach the database again, "
                          "{pending} waiting", alarm="database", pending=len(self._buffer))

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

    def _database_late(self):
        """The watchdog: records have waited db_timeout_s and none reached
        the database (a write that has not come back, or one failure after
        another).  One alarm, not re-armed until records reach the
        database again; the store keeps taking records."""
        self._watchdog = None
        self._alarms.add("database")
        why = ("a write has not come back" if self._busy
               else f"last error: {str(self._last_error).splitlines()[0]}")
        self.log.critical("database alarm: no record has reached the database {database} for "
                          "{seconds}s ({why}); {pending} records wait in the journal {journal}",
                          alarm="database", database=self._database_name(),
                          seconds=self.db_timeout_s, why=why, pending=len(self._buffer),
                          journal=str(self.journal_dir))

    def _database_name(self):
        return make_url(self.url).render_as_string(hide_password=True)

    # -- flush waiters --

    def _fire_waiters(self):
        if not self._ready:
            return
        due = [w for w in self._waiters if w[0] is None or w[0].settled]
        self._waiters = [w for w in self._waiters if not (w[0] is None or w[0].settled)]
        for _, d in due:
            d.callback(None)

    def _forget_waiter(self, d):
        self._waiters = [w for w in self._waiters if w[1] is not d]

    # -- stopping --

    async def _stop(self):
        """Flush within stop_timeout; then, within stop_timeout more and
        without waiting for a stuck database thread, close the journal and
        the engine side by side, and report what is not saved."""
        self.lifecycle.fire("stop")
        if self._retry is not None:
            self._retry.reset(0)            # one last attempt, now
        await within(self.flush(), self.stop_timeout, self.reactor)
        self.lifecycle.fire("flushed", pending=len(self._buffer))   # or out of time
        for call in (self._retry, self._watchdog):
            if call is not None:
                call.cancel()
        self._retry = self._watchdog = None
        deadline = self.reactor.seconds() + self.stop_timeout
        closed = None
        if not self._busy:                  # a stuck job would never let it run
            closed = self._db.submit(self.writer.close)
        self._db.stop()                     # a stuck thread dies with the process (JobThread)
        self._db = None
        unsaved = await self.journal.stop(self.stop_timeout)
        if closed is not None:
            try:
                await within(closed, deadline - self.reactor.seconds(), self.reactor)
            except Exception:
                self.log.failure("storage: closing the database engine failed")
        unsaved = self._keep_spill(unsaved)
        self._ready = False
        self.lifecycle.fire("closed")
        self._report_stop(unsaved)
        self._buffer.clear()                # they are the journal's now (or lost: unsaved)
        waiters, self._waiters = self._waiters, []
        for _, d in waiters:
            d.errback(StoreStopped(f"records kept in the journal {self.journal_dir}"))

    def _keep_spill(self, unsaved):
        """At stop: delete the spill file if all its records are journaled
        or settled; else (the disk and the database both failed) keep it
        for the next start, which takes it again, so its records are not
        lost (those that did get somewhere will be written twice)."""
        self._spill_saved()
        if self._spilled is None:
            return unsaved
        self.log.warn("{path} is kept for the next start: not all its records reached the "
                      "journal or the database (those that did will be written twice)",
                      path=str(self.spill_path))
        spilled, self._spilled = set(self._spilled), None
        return [entry for entry in unsaved if entry not in spilled]

    def _report_stop(self, unsaved):
        """Say what the next start will write, and what is lost."""
        self.unsaved += len(unsaved)
        kept = len(self._buffer) - len(unsaved)
        self.kept = kept
        if kept:
            self.log.warn("storage stopped with {count} records not in the database {database}: "
                          "kept in the journal {journal}, written at the next start",
                          count=kept, database=self._database_name(),
                          journal=str(self.journal_dir))
        if unsaved:
            self._lost(unsaved, "at stop")

    def _lost(self, entries, when):
        """Records in neither the database nor the journal: one critical
        line, and the rows themselves in the log, the last copy there is."""
        self.log.critical("storage: {count} records could not be saved {when}: not in the "
                          "database {database} nor in the journal {journal}",
                          count=len(entries), when=when, database=self._database_name(),
                          journal=str(self.journal_dir), alarm="disk")
        self.log.error("the records not saved, as JSON lines:\n{lines}",
                       lines="\n".join(dump_row(e.table, e.row) for e in entries))

    def _late(self, append, *args):
        """An add/open/close once the store is closing or stopped (a bug in
        shutdown order): it goes to the journal alone.  Until the journal's
        last sync job has begun, the ordinary way (that job covers it: a
        record it cannot put on disk counts as unsaved at stop); from then
        on the journal writes and fsyncs it at once, on this thread, and a
        record it cannot write counts as unsaved."""
        try:
            entry = append(*args)
        except OSError as e:
            self.log.critical("{kind} after the store's flush ended cannot be journaled "
                              "({error})", kind=append.__name__, error=str(e), alarm="disk")
            if append == self.journal.record:
                self.unsaved += 1
                self.log.error("the record not saved: {line}", line=dump_row(*args))
            return
        if entry is None:                   # a close of a key not open
            return
        if not entry.journaled:             # the ordinary way, in time for the last sync
            if entry.kind == "record":
                self._buffer.append(entry)  # accounted for at stop
            return
        self.log.warn("{kind} after the store's flush ended: written to the journal "
                      "{journal} at once", kind=append.__name__, journal=str(self.journal_dir))

    def _late_outcome(self, outcome):
        """A write job that outlived the stop came back."""
        if outcome.done:
            self.log.warn("a database write that outlived the stop committed {count} "
                          "records; they are in the journal too and will be inserted "
                          "again at the next start", count=outcome.done)
