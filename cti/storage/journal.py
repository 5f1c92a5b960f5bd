# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_journal -*-
"""The record store's journal: every record is on local disk before the
database gets it, so a crash, a database outage or both lose nothing.

Where it lives: ``<var_dir>/cti-storage-journal/`` (beside the SQLite
file, or ``./var`` for PostgreSQL), one directory per server::

    cti-storage-journal/
        segment-00000007.jsonl     entries, oldest segment first
        segment-00000008.jsonl     the current segment: appended to
        checkpoint.json            {"committed": 1041, "last_seq": 1050,
                                    "at": "2024-05-01T09:30:12.345+00:00"}

The format: one JSON object per line, its entry behind a CRC-32 of the
entry's exact text (so a line cut short by a crash, or damaged on disk,
is recognised and skipped, never misread)::

    {"crc": 2315432187, "entry": {"seq": 1042, "at": "2024-05-01T09:30:12.400+00:00",
      "kind": "record", "table": "queue_log", "row": {"at": "...", "call_id": "c7", ...}}}

``seq`` numbers every entry (never reused, across restarts too: the
checkpoint keeps the last one given, for a clean stop that deleted every
segment); ``at`` is when it was appended (UTC); ``kind`` is one of:

- ``record``: a row for the database (``table``, ``row``: its column
  values, times in ISO 8601);
- ``open``: a provisional record under ``key`` (a call in progress, an
  agent logged in): never written to the database by the store, it
  replaces any earlier open record with that key;
- ``close``: the open record ``key`` is done with (forgotten).

The life of a record:

1. ``append``: on the reactor thread, the entry is written (``os.write``)
   to the current segment: into the operating system's buffers, at once.
   A crash of the process (even SIGKILL) loses nothing from here on.
2. A sync job on the journal's own thread fsyncs the segment, after
   ``sync_every`` entries or ``sync_interval_s`` seconds, whichever comes
   first: from then on a power cut loses nothing either.  The reactor
   thread never fsyncs, and never waits for the checkpoint or a deletion;
   what it does do is ``os.write`` (and, at rotation, the ``open`` of a
   new segment): that takes microseconds into the page cache, but the
   kernel makes a writer wait when dirty pages pile up past its limits
   (``vm.dirty_ratio``: a disk much slower than the writes, or one that
   hangs), so a sick disk can slow the reactor thread that way.
3. The database writer commits it (cti.storage.store); the store then
   calls :meth:`Journal.settled` with its ``seq``, and the next sync job
   rewrites ``checkpoint.json`` (written aside, fsync'd, renamed over):
   every record with ``seq <= committed`` is in the database, and
   ``last_seq`` is the last ``seq`` given when it was written (the last
   sync job of a stop writes it even when nothing more was committed).
4. A segment past ``segment_bytes`` is left for a new one, which starts
   with a copy of every open record; segments that are not the current
   one are deleted oldest first, each once the checkpoint covers all its
   records and the current one's copies are on disk (never one while an
   older one is kept: a close in it would go, the open it ends would
   stay).  A clean stop with everything committed and nothing open
   leaves only ``checkpoint.json``.

At start (:meth:`Journal.start`) the directory is locked (``flock``: a
second server cannot use it meanwhile) and the segments are read in
order: the records after the checkpoint are returned to be written
first, in ``seq`` order; the open records not closed are the
*unfinished* ones (the server deals with what a crash left open); the
newest ``at`` (of an entry or the checkpoint) is ``last_seen``.  A line
that is torn (a crash mid-write) or fails its checksum is skipped with
one warning naming the file and line, and counted (``skipped``); an
entry seen twice (written again after a failed fsync) counts once.
Open records are read in ``seq`` order, not the files' order: an entry
written again keeps its old ``seq``, and comes after newer ones (the
copies a retry or a new segment starts with), so each key's newest
entry says whether it is open, and in which version.
Then a new segment starts, with the open records.

When the disk fails (ENOSPC, EROFS, EIO: any OSError writing, syncing or
checkpointing): the ``disk`` alarm is raised (one critical line, then at
most one line a minute while it lasts); entries wait in memory (records
still go to the database), and every ``DISK_RETRY_S`` seconds the
journal tries again, into the same segment (a line cut short is cut off
first; a segment whose torn end cannot be cut off is left, deleted at
once if nothing good is in it, and the next try starts a new one), so a
long outage costs no file and no descriptor per retry.  Meanwhile only what the disk will
still need waits: a record the database commits is dropped, and of the
open and close entries only the newest per key (an open record opened
and closed during the outage leaves nothing, unless a retry wrote the
open records' copies meanwhile: then its close is written too).
Segments left are closed by a sync job even while the disk fails.  The
alarm clears when a sync succeeds with nothing left waiting (a retry
that finds nothing to write makes one all the same).  An entry counts
as journaled only once an fsync covering it succeeded; whatever a
failed fsync might have lost is written again (the open records' copies
too).

Windows that remain: a crash between a database commit and the next
checkpoint (milliseconds) makes the next start insert that batch again;
an OS crash or power cut loses what was not yet fsync'd (at most
``sync_interval_s``); a process crash during a disk alarm, just after a
failed fsync whose rewrite got an open back onto disk but not yet its
close, brings that open back (docs/storage.md).  A process crash alone
loses nothing.
"""
import errno
import fcntl
import json
import os
import queue
import re
import threading
import zlib
from collections import deque
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Table
from twisted.internet import defer
from twisted.logger import Logger
from twisted.python.failure import Failure

from cti.statemachine import Table as StateTable
from cti.storage.models import Base, UTCDateTime

DIRECTORY_NAME = "cti-storage-journal"
CHECKPOINT_NAME = "checkpoint.json"
SEGMENT_NAME = "segment-{:08d}.jsonl"
SEGMENT_PATTERN = re.compile(r"segment-(\d{8,})\.jsonl")
LINE_PATTERN = re.compile(rb'\{"crc": (\d+), "entry": (\{.*\})\}\n', re.DOTALL)

#: seconds between attempts to write while the disk fails
DISK_RETRY_S = 5.0
#: seconds between two log lines of an alarm that lasts
ALARM_REPEAT_S = 60.0
#: while the disk fails, entries no longer needed are dropped from memory
#: once at least this many (and half of those waiting) are
COMPACT_MIN = 256

RECORD, OPEN, CLOSE = "record", "open", "close"

#: The journal's life: started, it appends and syncs in the background;
#: stopping, it writes what waits and waits for the sync job in flight;
#: closing, its last sync job (which closes the segment) is under way;
#: stopped.  From closing on, each entry appended is written and fsync'd
#: at once, on the calling thread, in a segment of its own.
LIFECYCLE = StateTable("journal", initial="new", transitions=[
    ("new", "start", "started"),
    ("started", "stop", "stopping"),
    ("stopping", "final", "closing"),
    ("stopping", "stopped", "stopped"),     # the job in flight never came back
    ("closing", "stopped", "stopped"),
])


class JournalError(Exception):
    """The journal directory cannot be used at start (locked by another
    server, unreadable): starting anyway could lose or repeat records."""


class CorruptEntry(ValueError):
    """A journal line that is torn or fails its checksum."""


# -- entries and their lines --------------------------------------------------

def json_default(value):
    """How values JSON lacks are written: datetimes in ISO 8601, others as repr."""
    return value.isoformat() if isinstance(value, datetime) else repr(value)


def iso(seconds):
    """Epoch seconds as a UTC ISO 8601 timestamp with milliseconds."""
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")


@dataclass(eq=False, slots=True)
class Entry:
    """One journal entry.  ``row_json`` is the row's JSON text, made when
    the entry is (so a row that cannot be written fails at ``add()``, and
    is serialised once).  ``journaled``: an fsync covering it succeeded;
    ``settled``: the database committed or refused it (set by the store).
    While the disk fails: ``dropped``, no longer needed on disk (a record
    the database committed, an open or close a newer entry of its key
    replaces); ``key_on_disk``, for an open or close, an earlier open of
    its key may be on disk (so a close must get there too)."""

    kind: str
    table: Table | None = None
    row: dict | None = None
    key: str | None = None
    seq: int | None = None
    at: float = 0.0
    row_json: str | None = None
    journaled: bool = False
    settled: bool = False
    dropped: bool = False
    key_on_disk: bool = False

    @classmethod
    def make(cls, kind, table=None, row=None, key=None):
        row_json = None if row is None else json.dumps(row, default=json_default)
        return cls(kind, table, row, key, row_json=row_json)

    def copy_as(self, seq):
        """The same open record under a new ``seq``: what a new segment starts with."""
        return Entry(self.kind, self.table, self.row, self.key, seq, self.at, self.row_json)


def encode(entry):
    """The journal line of ``entry``, as bytes ending in a newline."""
    text = f'{{"seq": {entry.seq}, "at": "{iso(entry.at)}", "kind": "{entry.kind}"'
    if entry.key is not None:
        text += f', "key": {json.dumps(entry.key)}'
    if entry.table is not None:
        text += f', "table": "{entry.table.name}", "row": {entry.row_json}'
    body = (text + "}").encode()
    return b'{"crc": %d, "entry": %s}\n' % (zlib.crc32(body), body)


def decode(line):
    """The Entry of a journal line (bytes); CorruptEntry if torn or damaged."""
    if not line.endswith(b"\n"):
        raise CorruptEntry("torn (no end of line: a crash while it was written)")
    match = LINE_PATTERN.fullmatch(line)
    if match is None:
        raise CorruptEntry("not a journal line")
    crc, body = match.groups()
    if zlib.crc32(body) != int(crc):
        raise CorruptEntry("checksum mismatch")
    try:
        item = json.loads(body)
        table = Base.metadata.tables[item["table"]] if "table" in item else None
        row = row_from_json(table, item["row"]) if table is not None else None
        return Entry(item["kind"], table, row, item.get("key"), int(item["seq"]),
                     datetime.fromisoformat(item["at"]).timestamp(),
                     None if row is None else json.dumps(item["row"]))
    except (KeyError, TypeError, ValueError) as e:
        raise CorruptEntry(f"unreadable entry: {e!r}") from None


def row_from_json(table, data):
    """A row of ``table`` from its JSON object: times parsed back to aware
    datetimes, columns the table does not have (any more) dropped."""
    row = {}
    for column in table.columns:
        if column.key in data:
            value = data[column.key]
            if isinstance(column.type, UTCDateTime) and value is not None:
                value = datetime.fromisoformat(value)
            row[column.key] = value
    return row


# -- reading what earlier runs left ---------------------------------------------

@dataclass(eq=False)
class Segment:
    """A segment file: ``fd`` while open for appending, its ``size`` so
    far (the bytes known good), the highest record ``seq`` in it, and
    ``copies_end``: the line count (of this run) once its copies of the
    open records were written (None while they must be written again: cut
    short, or a failed fsync may have lost them); ``torn``: a line was
    cut short and could not be cut off."""

    path: Path
    fd: int | None = None
    size: int = 0
    records_max: int = 0
    copies_end: int | None = 0
    torn: bool = False


@dataclass
class Found:
    """What :func:`read_journal` found: the checkpoint, the records after
    it (in seq order), the open records not closed (in the order of their
    newest entries' seq: the order opened, re-opened ones last),
    the newest time written, the segments, and the lines skipped as
    ``(path, line number, why)``."""

    committed: int = 0
    last_seq: int = 0
    records: list = field(default_factory=list)
    open: dict = field(default_factory=dict)
    last_seen: float | None = None
    segments: list = field(default_factory=list)
    max_seq: int = 0
    last_number: int = 0
    problems: list = field(default_factory=list)


def segment_paths(directory):
    """``(number, path)`` of the segment files in ``directory``, oldest first."""
    found = []
    for path in directory.iterdir():
        match = SEGMENT_PATTERN.fullmatch(path.name)
        if match:
            found.append((int(match.group(1)), path))
    return sorted(found)


def read_checkpoint(path, found):
    """Fill ``found.committed``, ``last_seq`` and ``last_seen`` from the
    checkpoint file (``last_seq`` is missing in older ones).  An unreadable
    one counts as 0: replaying too much beats losing records."""
    try:
        item = json.loads(path.read_bytes())
        found.committed = int(item["committed"])
        found.last_seq = int(item.get("last_seq", 0))
        found.last_seen = datetime.fromisoformat(item["at"]).timestamp()
    except FileNotFoundError:
        pass
    except (KeyError, TypeError, ValueError) as e:
        found.problems.append((path, 1, f"unreadable checkpoint ({e!r}): every record "
                                        "journaled is written again"))


def read_journal(directory):
    """Read the journal in ``directory`` (which exists): see the module doc.

    File order is not ``seq`` order: what a failed fsync may have lost is
    written again with its old ``seq``, after the copies (newer) that a
    retry or a new segment starts with.  So each key's entries count in
    ``seq`` order: the newest says whether it is open, and in which
    version (a close beats every open older than it, whatever the files'
    order)."""
    found = Found()
    read_checkpoint(directory / CHECKPOINT_NAME, found)
    seen, newest = set(), {}
    for number, path in segment_paths(directory):
        segment = Segment(path)
        with path.open("rb") as f:
            for line_number, line in enumerate(f, start=1):
                try:
                    entry = decode(line)
                except CorruptEntry as e:
                    found.problems.append((path, line_number, str(e)))
                    continue
                if entry.kind == RECORD:          # every copy: it is in this segment
                    segment.records_max = max(segment.records_max, entry.seq)
                if entry.seq in seen:
                    continue
                seen.add(entry.seq)
                take(found, newest, entry)
        found.segments.append(segment)
        found.last_number = number
    found.records.sort(key=lambda e: e.seq)
    found.open = {entry.key: entry for entry in sorted(newest.values(), key=lambda e: e.seq)
                  if entry.kind == OPEN}
    return found


def take(found, newest, entry):
    """Account for one entry read back (the first line of its ``seq``):
    ``newest`` keeps each key's open or close of the highest ``seq``."""
    found.max_seq = max(found.max_seq, entry.seq)
    if found.last_seen is None or entry.at > found.last_seen:
        found.last_seen = entry.at
    if entry.kind == RECORD:
        if entry.seq > found.committed:
            found.records.append(entry)
    else:
        known = newest.get(entry.key)
        if known is None or known.seq < entry.seq:
            newest[entry.key] = entry


# -- the file system, and the thread that waits for it ------------------------

class Disk:
    """The journal's file operations, one method each: tests make a disk
    fail (full: ENOSPC) by overriding them, without root or a small
    file system.  Appends, opens and truncation (cutting off a torn line)
    run on the reactor thread, as do closing and deleting a new segment
    that holds nothing; fsync, the checkpoint, closing the segments left
    and deleting old ones on the journal's thread."""

    def lock(self, directory):
        """Open ``directory`` and take its exclusive lock: the fd, or JournalError."""
        fd = os.open(directory, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise JournalError(f"{directory} is in use by another record store "
                               "(another server on the same var_dir?)") from None
        return fd

    def open_append(self, path):
        return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def write(self, fd, data):
        return os.write(fd, data)

    def truncate(self, fd, length):
        os.ftruncate(fd, length)

    def fsync(self, fd):
        os.fsync(fd)

    def close(self, fd):
        os.close(fd)

    def unlink(self, path):
        os.unlink(path)

    def write_all(self, fd, data):
        """Write all of ``data``; a short write with no error (the disk just
        filled) is made an ENOSPC."""
        view = memoryview(data)
        while view:
            written = self.write(fd, view)
            if written == 0:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            view = view[written:]

    def replace(self, path, data, directory_fd):
        """Make ``path`` hold ``data`` atomically: written aside, fsync'd,
        renamed over, and the directory fsync'd (so the rename is durable)."""
        aside = path.with_name(path.name + ".tmp")
        fd = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            self.write_all(fd, data)
            self.fsync(fd)
        finally:
            os.close(fd)
        os.replace(aside, path)
        self.fsync(directory_fd)


class JobThread:
    """One daemon thread running jobs one at a time, in the order given;
    each job's result (or failure) comes back on the reactor thread, by
    ``reactor.callFromThread``, as the Deferred :meth:`submit` returned.

    Daemon, and never joined: a job stuck in a call that never returns (a
    database that stopped answering, a dead disk) must neither make
    stopping wait for it nor keep the process from exiting.  :meth:`stop`
    ends the thread after the jobs already queued; a stuck thread dies
    with the process.
    """

    def __init__(self, reactor, name):
        self.reactor = reactor
        self._jobs = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self):
        self.thread.start()

    def submit(self, fn, *args):
        d = defer.Deferred()
        self._jobs.put((fn, args, d))
        return d

    def stop(self):
        self._jobs.put(None)

    def _serve(self):
        while (job := self._jobs.get()) is not None:
            fn, args, d = job
            try:
                result = fn(*args)
            except BaseException:
                self.reactor.callFromThread(d.errback, Failure())
            else:
                self.reactor.callFromThread(d.callback, result)


async def within(d, timeout, clock):
    """Wait for Deferred ``d`` at most ``timeout`` seconds of ``clock``:
    True if it fired (a failure is raised), False if time ran out (then
    ``d`` is cancelled; a late result is ignored).  With no time left it
    does not wait at all."""
    if timeout <= 0 and not d.called:
        d.cancel()
        d.addErrback(lambda f: f.trap(defer.CancelledError))
        return False
    d.addTimeout(timeout, clock)
    try:
        await d
    except defer.TimeoutError:
        return False
    return True


@dataclass
class DiskPlan:
    """One sync job, decided on the reactor thread: fsync these fds (and
    the directory, if segments were made), close those, write the
    checkpoint (if it moved), delete the segments no longer needed.
    ``upto``: the lines written when it was planned, which it covers;
    ``current``: the segment appended to, if its fd is among ``sync``."""

    upto: int
    committed: int
    last_seq: int
    current: "Segment | None"
    sync: list
    close: list
    sync_directory: bool
    checkpoint: bytes | None
    delete: list


@dataclass
class DiskReport:
    """How far a sync job got, and the error that stopped it, if one did."""

    synced: bool = False
    checkpointed: bool = False
    deleted: list = field(default_factory=list)
    error: Exception | None = None


def carry_out(disk, plan, checkpoint_path, directory_fd):
    """Do ``plan`` (on the journal's thread); never raises: an error (an
    OSError, or a bug) stops it and is reported."""
    report = DiskReport()
    try:
        for fd in plan.sync:
            disk.fsync(fd)
        if plan.sync_directory:
            disk.fsync(directory_fd)
        report.synced = True
        if plan.checkpoint is not None:
            disk.replace(checkpoint_path, plan.checkpoint, directory_fd)
        report.checkpointed = True
        for segment in plan.delete:
            disk.unlink(segment.path)
            report.deleted.append(segment)
        if report.deleted:
            disk.fsync(directory_fd)   # or a deleted segment could come back
    except Exception as e:
        report.error = e
    finally:
        for fd in plan.close:
            try:
                disk.close(fd)
            except OSError:
                pass
    return report


# -- the journal ------------------------------------------------------------------

class Journal:
    """The journal of one record store (see the module doc).

    Used from the reactor thread only: :meth:`start` (returns what earlier
    runs left), :meth:`record`, :meth:`open`, :meth:`close` (append
    entries), :meth:`settled` (the database committed up to a seq),
    :meth:`journaled` (a Deferred: all appended so far is on disk),
    :meth:`stop`.  ``disk`` is the file layer (tests inject failures).
    """

    log = Logger()

    def __init__(self, directory, reactor, *, segment_bytes=16 << 20, sync_every=100,
                 sync_interval_s=0.1, disk=None):
        if segment_bytes < 1 or sync_every < 1 or sync_interval_s < 0:
            raise ValueError("segment_bytes and sync_every must be >= 1, "
                             "sync_interval_s >= 0")
        self.directory = Path(directory)
        self.reactor = reactor
        self.segment_bytes = segment_bytes
        self.sync_every = sync_every
        self.sync_interval_s = sync_interval_s
        self.disk = disk or Disk()
        self.open_records = {}       # key -> Entry: opened, not closed; oldest first
        self.unfinished_keys = set()  # of those, the ones earlier runs left open
        self.last_seen = None        # UTC datetime: the newest entry earlier runs wrote
        self.skipped = 0             # lines skipped at start (torn, damaged)
        self.lifecycle = LIFECYCLE.machine(reactor, str(self.directory))
        self._next_seq = 1
        self._committed = 0          # highest record seq the database has
        self._checkpointed = 0       # ... as far as checkpoint.json says
        self._checkpointed_seq = 0   # the last_seq checkpoint.json has
        self._segments = []          # Segment, oldest first (the current one too)
        self._current = None         # the Segment appended to (kept across failures)
        self._closing = []           # Segments left, to fsync and close
        self._unwritten = deque()    # entries not yet written (before start, disk failing)
        self._unsynced = deque()     # (line count, entry) written, not yet fsync'd
        self._held = {}              # key -> its open/close entry waiting while paused
        self._held_records = deque()  # the records appended while paused, waiting
        self._dropped = 0            # entries of _unwritten marked dropped
        self._lines = 0              # lines written in this run (copies too)
        self._synced_lines = 0
        self._last_appended = None
        self._waiters = []           # (Entry, Deferred) of journaled()
        self._idle_waiters = []
        self._directory_fd = None
        self._directory_dirty = False
        self._segment_number = 0
        self._thread = None
        self._job = None             # the sync job in flight
        self._sync_timer = None
        self._retry_timer = None
        self._paused = False         # a write failed: wait for the retry timer
        self._failing_since = None   # when the disk alarm was raised
        self._logged_at = None

    @property
    def alarms(self):
        """``{"disk"}`` while the disk alarm lasts, else empty."""
        return frozenset({"disk"}) if self._failing_since is not None else frozenset()

    @property
    def unjournaled(self):
        """Entries appended but not yet on disk, and still to be written
        (not those dropped while the disk fails)."""
        return len(self._unwritten) - self._dropped + len(self._unsynced)

    # -- start --

    def start(self):
        """Lock the directory, read what earlier runs left, start a new
        segment; returns the records to write first (after the checkpoint,
        in seq order).  JournalError if the directory cannot be used."""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._directory_fd = self.disk.lock(self.directory)
            found = read_journal(self.directory)
        except OSError as e:
            if self._directory_fd is not None:
                self.disk.close(self._directory_fd)      # the lock goes with it
                self._directory_fd = None
            raise JournalError(f"cannot use the journal {self.directory}: {e}") from e
        for path, line, why in found.problems:
            self.log.warn("journal {path} line {line} skipped: {why}",
                          path=str(path), line=line, why=why)
        self.skipped = len(found.problems)
        self._adopt(found)
        self._thread = JobThread(self.reactor, "cti-storage-journal")
        self._thread.start()
        self.lifecycle.fire("start")
        self._write_unwritten()              # a new segment, with the open records
        return found.records

    def _adopt(self, found):
        """Take over what earlier runs left: numbering, checkpoint, segments,
        open records (those opened before start win); number the entries
        appended before start."""
        self._committed = self._checkpointed = found.committed
        self._checkpointed_seq = found.last_seq
        self._next_seq = max(found.max_seq, found.committed, found.last_seq) + 1
        self._segments = found.segments
        self._segment_number = found.last_number
        self.last_seen = None if found.last_seen is None else datetime.fromtimestamp(
            found.last_seen, UTC)
        for key in self.open_records:
            found.open.pop(key, None)
        self.unfinished_keys = set(found.open)
        self.open_records = {**found.open, **self.open_records}
        for entry in self._unwritten:
            entry.seq = self._take_seq()

    # -- appending (reactor thread) --

    def record(self, table, row):
        """Append a record for the database; its Entry (the store keeps it)."""
        return self._append(Entry.make(RECORD, table, row))

    def open(self, key, table, row):
        """Append an open record under ``key``, replacing any earlier one;
        its Entry."""
        entry = Entry.make(OPEN, table, row, key)
        was_open = self.open_records.pop(key, None) is not None
        self.open_records[key] = entry
        self.unfinished_keys.discard(key)
        return self._append(entry, was_open)

    def close(self, key):
        """Forget the open record ``key`` (nothing if none is open); the
        close's Entry, or None."""
        if self.open_records.pop(key, None) is None:
            return None
        self.unfinished_keys.discard(key)
        return self._append(Entry.make(CLOSE, key=key), True)

    def _append(self, entry, key_was_open=False):
        """Number ``entry`` and write it (or keep it while the disk fails,
        or until start); from the last sync job on, write it on its own."""
        entry.at = self.reactor.seconds()
        self._last_appended = entry
        state = self.lifecycle.state
        if state in ("closing", "stopped"):
            self._write_after_stop(entry)
        elif state == "new":
            self._unwritten.append(entry)
        else:
            entry.seq = self._take_seq()
            if self._paused:
                self._hold(entry, key_was_open)
            else:
                self._unwritten.append(entry)
                self._write_unwritten()
                if self._paused and self._unwritten and self._unwritten[-1] is entry:
                    self._unwritten.pop()     # the disk just failed: kept as those after it
                    self._hold(entry, key_was_open)
        return entry

    def _take_seq(self):
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        return seq

    def _hold(self, entry, key_was_open):
        """While the disk fails: keep ``entry`` for the retry, and drop what
        it makes useless: an open or close waiting for the same key (a
        close drops its open, and itself too if no open of that key can be
        on disk).  Records the database commits are dropped by
        :meth:`settled`."""
        if entry.kind == RECORD:
            self._held_records.append(entry)
        else:
            earlier = self._held.pop(entry.key, None)
            if earlier is not None:
                self._drop(earlier)
                key_was_open = earlier.key_on_disk
            entry.key_on_disk = key_was_open
            if entry.kind == CLOSE and not key_was_open:
                entry.dropped = True          # opened and closed while the disk failed
                self._maybe_compact()
                return
            self._held[entry.key] = entry
        self._unwritten.append(entry)
        self._maybe_compact()

    def _drop(self, entry):
        entry.dropped = True
        self._dropped += 1

    def _maybe_compact(self):
        """Free the dropped entries once they are at least half of those
        waiting (and COMPACT_MIN): memory stays within twice what the disk
        still needs, at a cost of O(1) per entry."""
        if self._dropped >= max(COMPACT_MIN, len(self._unwritten) // 2):
            self._unwritten = deque(e for e in self._unwritten if not e.dropped)
            self._dropped = 0

    def _write_unwritten(self):
        """Write what waits, oldest first, into the OS's buffers (no fsync:
        that is the sync job's); on an OSError keep it and raise the alarm."""
        try:
            self._ready_segment()
            while self._unwritten:
                entry = self._unwritten[0]
                if entry.dropped:
                    self._dropped -= 1
                elif not (entry.kind == RECORD and entry.seq <= self._committed):
                    self._write_line(entry)
                    self._unsynced.append((self._lines, entry))
                self._unwritten.popleft()
                self._forget_held(entry)
                if self._current.size >= self.segment_bytes:
                    self._rotate()
        except OSError as e:
            self._failed(e)
        self._fire_waiters()
        self._schedule_sync()

    def _forget_held(self, entry):
        if entry.kind == RECORD:
            if self._held_records and self._held_records[0] is entry:
                self._held_records.popleft()
        elif self._held.get(entry.key) is entry:
            del self._held[entry.key]

    def _ready_segment(self):
        """A segment to append to, in a known state: after a failure the
        current one, cut back to its good bytes and with its copies of the
        open records written again if they may be lost; a new one if there
        is none, or if the torn end cannot be cut off."""
        segment = self._current
        if segment is not None and segment.torn:
            try:
                self.disk.truncate(segment.fd, segment.size)
            except OSError:
                self._abandon(segment)
                segment = None
            else:
                segment.torn = False
        if segment is None:
            self._rotate()
        elif segment.copies_end is None:
            self._write_copies(segment)

    def _abandon(self, segment):
        """Leave the current segment (its end cannot be cut off): closed by
        the next sync job, or at once, and deleted, if nothing good is in it."""
        self._current = None
        if segment.size:
            self._closing.append(segment)
            return
        self._segments.remove(segment)
        fd, segment.fd = segment.fd, None
        with suppress(OSError):           # a failing disk: the descriptor is gone anyway
            self.disk.close(fd)
        with suppress(OSError):           # left behind: empty, or one torn line, skipped at start
            self.disk.unlink(segment.path)

    def _write_line(self, entry):
        """Append one entry to the current segment; a partial line is cut
        off again (or the segment marked torn) before the error goes up."""
        segment, data = self._current, encode(entry)
        try:
            self.disk.write_all(segment.fd, data)
        except OSError:
            try:
                self.disk.truncate(segment.fd, segment.size)
            except OSError:
                segment.torn = True   # cut off before the next write (or left)
            raise
        segment.size += len(data)
        self._lines += 1
        if entry.kind == RECORD:
            segment.records_max = max(segment.records_max, entry.seq)

    def _rotate(self):
        """Leave the current segment (if any) for a new one, which starts
        with a copy of every open record."""
        if self._current is not None:
            self._closing.append(self._current)
            self._current = None
        number = self._segment_number + 1
        path = self.directory / SEGMENT_NAME.format(number)
        segment = Segment(path, self.disk.open_append(path), copies_end=None)
        self._segment_number = number
        self._segments.append(segment)
        self._current = segment
        self._directory_dirty = True
        self._write_copies(segment)

    def _write_copies(self, segment):
        """Write a copy of every open record; the open of a key held while
        the disk fails is on disk from then on, as a copy (so a close of
        that key must get there too)."""
        segment.copies_end = None
        for entry in list(self.open_records.values()):
            self._write_line(entry.copy_as(self._take_seq()))
            held = self._held.get(entry.key)
            if held is not None:
                held.key_on_disk = True
        segment.copies_end = self._lines

    def _write_after_stop(self, entry):
        """From the last sync job on (a bug in shutdown order): a segment of
        its own, written and fsync'd on this thread; OSError goes up."""
        entry.seq = self._take_seq()
        self._segment_number += 1
        fd = self.disk.open_append(self.directory / SEGMENT_NAME.format(self._segment_number))
        try:
            self.disk.write_all(fd, encode(entry))
            self.disk.fsync(fd)
        finally:
            self.disk.close(fd)
        entry.journaled = True

    # -- the database's progress --

    def settled(self, seq):
        """The database committed (or refused) every record up to ``seq``:
        the next sync job moves the checkpoint, at once if it can; while
        the disk fails, those records no longer wait to be written."""
        if seq <= self._committed:
            return
        self._committed = seq
        held = self._held_records
        while held and held[0].seq <= seq:
            self._drop(held.popleft())
        self._maybe_compact()
        self._schedule_sync()

    def journaled(self):
        """A Deferred fired once every entry appended so far is on disk
        (fsync'd); a record the database committed before it could be
        written is not written, and does not hold it up."""
        last = self._last_appended
        if last is None or last.journaled or self._covered(last):
            return defer.succeed(None)
        d = defer.Deferred()
        self._waiters.append((last, d))
        return d

    def _covered(self, entry):
        """Every entry up to ``entry`` is on disk (or needs not be): none
        older waits to be written or synced."""
        if entry.seq is None:
            return False
        if self._unsynced:
            return entry.seq < self._unsynced[0][1].seq
        return not self._unwritten or entry.seq < self._unwritten[0].seq

    def _fire_waiters(self):
        while self._waiters and (self._waiters[0][0].journaled
                                 or self._covered(self._waiters[0][0])):
            self._waiters.pop(0)[1].callback(None)

    # -- sync jobs --

    def _schedule_sync(self):
        """Start a sync job now if enough waits (``sync_every`` lines, a
        checkpoint to move, a segment to close), else within
        ``sync_interval_s``; never two at once.  While the disk fails,
        only to close the segments left."""
        if self.lifecycle.state != "started" or self._job is not None:
            return
        if self._paused:
            if self._closing:
                self._start_job()
            return
        waiting = self._lines - self._synced_lines
        if (waiting >= self.sync_every or self._closing or self._committed > self._checkpointed
                or self._failing_since is not None):   # a sync to clear the alarm
            self._start_job()
        elif waiting and self._sync_timer is None:
            self._sync_timer = self.reactor.callLater(self.sync_interval_s, self._sync_due)

    def _sync_due(self):
        self._sync_timer = None
        if self.lifecycle.state == "started" and self._job is None and not self._paused:
            self._start_job()

    def _start_job(self, final=False):
        if self._sync_timer is not None:
            self._sync_timer.cancel()
            self._sync_timer = None
        plan = self._plan(final)
        self._directory_dirty = False
        for segment in self._closing:
            segment.fd = None
        self._closing = []
        if final:
            self.lifecycle.fire("final")          # appends go their own way from now
            if self._current is not None:
                self._current.fd = None           # the job closes it
                self._current = None
        self._job = self._thread.submit(carry_out, self.disk, plan,
                                        self.directory / CHECKPOINT_NAME, self._directory_fd)
        self._job.addCallback(self._job_done, plan)

    def _plan(self, final):
        current, upto = self._current, self._lines
        sync = [segment.fd for segment in self._closing]
        if current is not None and (upto > self._synced_lines or self._failing_since is not None):
            sync.append(current.fd)
        else:
            current = None
        last_seq = self._next_seq - 1
        checkpoint = None
        if self._committed > self._checkpointed or (final and last_seq > self._checkpointed_seq):
            checkpoint = json.dumps({"committed": self._committed, "last_seq": last_seq,
                                     "at": iso(self.reactor.seconds())}).encode()
        closing = [segment.fd for segment in self._closing]
        if final and self._current is not None:
            closing.append(self._current.fd)
        return DiskPlan(upto, self._committed, last_seq, current, sync, closing,
                        self._directory_dirty, checkpoint, self._deletable(upto, final))

    def _deletable(self, upto, final):
        """The segments this job may delete once its checkpoint is down:
        the oldest ones whose records are all committed, up to the first
        that must be kept, if the open records are safe elsewhere (the
        current segment's copies covered by this job; at the final job,
        none open and nothing waiting to be written).  Never one after a
        segment kept: a close (or newer version) in it would be lost
        while the older open it ends stays."""
        current = self._current
        if final and not self.open_records and len(self._unwritten) == self._dropped:
            current = None                    # none to keep for its copies
        elif current is None or current.copies_end is None or current.copies_end > upto:
            return []
        deletable = []
        for segment in self._segments:
            if segment is current or segment.records_max > self._committed:
                break
            deletable.append(segment)
        return deletable

    def _job_done(self, report, plan):
        self._job = None
        if report.synced:
            self._synced_lines = max(self._synced_lines, plan.upto)
            while self._unsynced and self._unsynced[0][0] <= plan.upto:
                self._unsynced.popleft()[1].journaled = True
        else:
            self._directory_dirty |= plan.sync_directory
        if report.checkpointed:
            self._checkpointed = max(self._checkpointed, plan.committed)
            self._checkpointed_seq = max(self._checkpointed_seq, plan.last_seq)
        for segment in report.deleted:
            self._segments.remove(segment)
        if report.error is not None:
            if not report.synced:
                self._requeue_unsynced(plan)
            self._failed(report.error)
        elif self._failing_since is not None and not self._paused and not self._unwritten:
            self._cleared()
        self._fire_waiters()
        idle, self._idle_waiters = self._idle_waiters, []
        for d in idle:
            d.callback(None)
        self._schedule_sync()

    def _requeue_unsynced(self, plan):
        """A failed fsync may have lost anything written since the last good
        one: all of it waits to be written again (the reader drops a seq it
        already has), and so do the open records' copies, if that fsync
        was the current segment's."""
        self._unwritten.extendleft(entry for _, entry in reversed(self._unsynced))
        self._unsynced.clear()
        self._synced_lines = self._lines
        if plan.current is not None and plan.current is self._current:
            self._current.copies_end = None

    def _idle(self):
        """A Deferred fired when no sync job is in flight."""
        if self._job is None:
            return defer.succeed(None)
        d = defer.Deferred()
        self._idle_waiters.append(d)
        return d

    # -- the disk alarm --

    def _failed(self, error):
        """A write, fsync or checkpoint failed: keep the entries in memory,
        raise the alarm (or repeat it, once a minute), try again in
        DISK_RETRY_S (into the same segment)."""
        self._paused = True
        now = self.reactor.seconds()
        if self._failing_since is None:
            self._failing_since = self._logged_at = now
            self.log.critical(
                "disk alarm: cannot write the journal {journal}: {error}; records are kept "
                "in memory and still go to the database; journaling resumes by itself when "
                "the disk takes writes again", alarm="disk", journal=str(self.directory),
                error=str(error))
        elif now - self._logged_at >= ALARM_REPEAT_S:
            self._logged_at = now
            self.log.warn("disk alarm for {seconds:.0f}s: the journal {journal} still cannot "
                          "be written ({error}); {waiting} entries only in memory",
                          alarm="disk", seconds=now - self._failing_since,
                          journal=str(self.directory), error=str(error),
                          waiting=self.unjournaled)
        if self._retry_timer is None and self.lifecycle.state == "started":
            self._retry_timer = self.reactor.callLater(DISK_RETRY_S, self._retry)

    def _retry(self):
        self._retry_timer = None
        self._paused = False
        self._write_unwritten()

    def _cleared(self):
        self.log.info("disk alarm cleared: the journal {journal} takes writes again after "
                      "{seconds:.0f}s", alarm="disk", journal=str(self.directory),
                      seconds=self.reactor.seconds() - self._failing_since)
        self._failing_since = None

    # -- stop --

    async def stop(self, timeout):
        """Write and fsync what can be, move the checkpoint, delete what is
        no longer needed, end the thread and unlock, within ``timeout``
        seconds in all (a disk that hangs is left to it).  Returns the
        record entries neither on disk nor in the database.  From the last
        sync job on, entries appended are written and fsync'd at once, each
        in a segment of its own."""
        if self.lifecycle.state != "started":
            return []
        self.lifecycle.fire("stop")
        for timer in (self._sync_timer, self._retry_timer):
            if timer is not None:
                timer.cancel()
        self._sync_timer = self._retry_timer = None
        self._paused = False
        self._write_unwritten()               # one last try, if the disk failed
        deadline = self.reactor.seconds() + timeout
        idle = await within(self._idle(), timeout, self.reactor)
        if idle:
            self._start_job(final=True)
            idle = await within(self._idle(), deadline - self.reactor.seconds(), self.reactor)
        self._thread.stop()
        if idle:                              # else a stuck job may still use the fd
            self.disk.close(self._directory_fd)
        self.lifecycle.fire("stopped")
        return [entry for entry in self._pending_entries()
                if entry.kind == RECORD and entry.seq > self._committed]

    def _pending_entries(self):
        return [*(entry for _, entry in self._unsynced), *self._unwritten]
