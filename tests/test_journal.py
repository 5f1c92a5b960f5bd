# SPDX-License-Identifier: GPL-2.0-or-later
"""The record store's journal (cti.storage.journal): what a crash, a torn
line, a full disk and rotation do to the records, as a user checks it:
every record in the database once, in order; open records back after a
crash; one alarm, not a flood; a long disk outage that costs neither a
file, a descriptor nor memory per retry or per entry; a stop that keeps
its time bound and lets no late record through a closed descriptor.

The crash is real: a child process (the venv's Python) journals records
while its database is unreachable and is killed with SIGKILL; a store on
a good database and the same var_dir then writes them.  Everything else
runs in this process on SQLite, driven as tests/test_storage.py drives
the store (a real thread, the ThreadedClock as reactor); the full disk is
a :class:`~cti.storage.journal.Disk` whose writes fail with ENOSPC.
"""
import errno
import io
import json
import os
import queue
import random
import signal
import subprocess
import sys
import threading
import time
import zlib
from collections import deque
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from twisted.internet import defer, task
from twisted.logger import Logger, LogLevel
from twisted.python.failure import Failure

from cti.server.run import status_after_stop
from cti.storage import AgentSession, CallRecord, RecordStore
from cti.storage import journal as journal_module
from cti.storage.journal import (
    COMPACT_MIN,
    DISK_RETRY_S,
    SEGMENT_NAME,
    Disk,
    Journal,
    JournalError,
    encode,
)
from cti.storage.store import dump_row, snapshot
from tests.test_storage import (
    T0,
    Harness,
    ThreadedClock,
    log_entry,
    retry_warnings,
    stored_data1,
)

ROOT = Path(__file__).resolve().parent.parent
#: seeds the fuzz runs at each segment size (set CTI_FUZZ_SEEDS to search further)
FUZZ_SEEDS = int(os.environ.get("CTI_FUZZ_SEEDS", "100"))

#: A server's last moments: records and open records journaled while the
#: database is unreachable (a SQLite file in a directory that does not
#: exist), small segments so that it rotates; it says when all is on disk.
CRASHING_SERVER = """
import sys
from datetime import UTC, datetime, timedelta
from twisted.internet import reactor
from cti.storage import AgentSession, CallRecord, QueueLogEntry, RecordStore

url, var_dir, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
T0 = datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
store = RecordStore(url, reactor, var_dir=var_dir, retry_delays=(0.05,), segment_bytes=4096)
store.startService()
store.open("call:c1", CallRecord(call_id="c1", direction="inbound", ani="5551234",
                                 offered_at=T0))
for i in range(count):
    store.add(QueueLogEntry(at=T0 + timedelta(seconds=i), call_id=f"c{i}", queue="sales",
                            event="ENTERQUEUE", data1=str(i)))
    if i == count // 3:
        store.open("call:c2", CallRecord(call_id="c2", direction="inbound", offered_at=T0))
    if i == count // 2:
        store.close("call:c2")
store.open("agent:1001", AgentSession(agent="1001", station="stn7", login_at=T0))
store.open("agent:1001", AgentSession(agent="1001", station="stn9", login_at=T0))
store.journaled().addCallback(
    lambda _: print("journaled", store.pending, store.unjournaled, flush=True))
reactor.run()
"""

#: A server whose database froze: its stop must not wait for the stuck
#: thread, nor must that thread keep the process alive.
FROZEN_SERVER = """
import sys, threading
from sqlalchemy import event
from twisted.internet import reactor
from cti.storage import QueueLogEntry, RecordStore, make_engine
from datetime import UTC, datetime

never = threading.Event()

def frozen(url):
    engine = make_engine(url)
    event.listen(engine, "before_cursor_execute", lambda *args: never.wait())
    return engine

store = RecordStore(sys.argv[1], reactor, var_dir=sys.argv[2], engine_factory=frozen,
                    db_timeout_s=0.1, stop_timeout=0.2)
store.startService()
store.add(QueueLogEntry(at=datetime(2024, 5, 1, tzinfo=UTC), call_id="c0", queue="sales",
                        event="ENTERQUEUE", data1="0"))

def stop():
    print("alarms", sorted(store.alarms), flush=True)
    d = store.stopService()
    d.addCallback(lambda _: print("stopped", store.unsaved, flush=True))
    d.addBoth(lambda _: reactor.stop())

reactor.callLater(0.5, stop)
reactor.run()
print("exiting", flush=True)
"""


def run_child(script, *args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", script, *map(str, args)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)


@pytest.fixture
def clock():
    return ThreadedClock()


@pytest.fixture
def harness():
    return Harness()


@pytest.fixture
def make_store(clock, harness, tmp_path):
    """``make_store(**options)``: a RecordStore on SQLite in tmp_path, its
    journal in tmp_path/var, its log events in ``store.events``; stopped
    at the end."""
    stores = []

    def make(url=f"sqlite:///{tmp_path}/cti.sqlite", **options):
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
    for store in stores:
        if store.running:
            clock.wait(store.stopService())


def stop(store, clock):
    """Stop ``store``, giving up on the database after its stop_timeout if
    the flush waits for it; the journal's last sync then runs in real
    time.  (A write still in flight then is left to finish on its own: a
    store started after this one gets an engine factory of its own, so
    that write cannot find the database back.)"""
    stopped = store.stopService()
    if store.lifecycle.state == "stopping":
        clock.advance(store.stop_timeout)
    clock.wait(stopped)


def advance_until(clock, condition, step, timeout=20):
    """Run calls from threads and, whenever none is waiting, advance
    ``clock`` by ``step``, until ``condition()`` holds."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {condition}"
        try:
            f, args, kwargs = clock.from_threads.get(timeout=0.05)
        except queue.Empty:
            clock.advance(step)
        else:
            f(*args, **kwargs)


def segments(store):
    return sorted(store.journal_dir.glob("segment-*.jsonl"))


def warnings_about_lines(store):
    return [e for e in store.events
            if e["log_level"] == LogLevel.warn and "skipped" in e["log_format"]]


class FullDisk(Disk):
    """A disk that fills up: while ``full``, a write puts down part of its
    data (as a real one does when the last blocks go), then fails with
    ENOSPC, and so does fsync.  Notes the thread of every fsync, and the
    segment files it holds open (``open_fds``)."""

    def __init__(self):
        self.full = False
        self.fsync_threads = set()
        self.open_fds = set()

    def open_append(self, path):
        fd = super().open_append(path)
        self.open_fds.add(fd)
        return fd

    def close(self, fd):
        self.open_fds.discard(fd)
        super().close(fd)

    def write(self, fd, data):
        if self.full:
            if len(data) > 8:
                return super().write(fd, data[:8])
            raise OSError(errno.ENOSPC, "No space left on device")
        return super().write(fd, data)

    def fsync(self, fd):
        self.fsync_threads.add(threading.get_ident())
        if self.full:
            raise OSError(errno.ENOSPC, "No space left on device")
        super().fsync(fd)


# -- a crash -------------------------------------------------------------------

def test_a_crash_loses_no_record_and_gives_back_the_open_ones(make_store, clock, tmp_path):
    """SIGKILL during a database outage: the next start (a good database,
    the same var_dir) writes every record once, in order, before anything
    new, and gives back the records left open, in their last version;
    the closed one is gone.  The segments rotated meanwhile."""
    count = 200
    child = run_child(CRASHING_SERVER, f"sqlite:///{tmp_path}/no-such-dir/cti.sqlite",
                      tmp_path / "var", count)
    watchdog = threading.Timer(30, child.kill)
    watchdog.start()
    try:
        said = child.stdout.readline().split()
    finally:
        watchdog.cancel()
    os.kill(child.pid, signal.SIGKILL)
    child.wait()
    assert said == ["journaled", str(count), "0"], child.stderr.read()

    store = make_store()
    assert len(segments(store)) > 5          # it rotated
    store.startService()
    store.add(log_entry(count))
    clock.wait(store.flush())
    assert stored_data1(store, clock) == [str(i) for i in range(count + 1)]
    assert store.skipped_entries == 0
    unfinished = store.unfinished()
    assert [key for key, _ in unfinished] == ["call:c1", "agent:1001"]
    call, session = (record for _, record in unfinished)
    assert isinstance(call, CallRecord) and (call.ani, call.offered_at) == ("5551234", T0)
    assert isinstance(session, AgentSession) and session.station == "stn9"
    assert datetime.now(UTC) - timedelta(minutes=1) < store.last_seen <= datetime.now(UTC)


def test_a_frozen_database_does_not_keep_the_process_alive(tmp_path, make_store, clock):
    """The database thread stuck for good: the alarm is raised, the stop
    returns, the process exits; the record waits in the journal."""
    began = time.monotonic()
    child = run_child(FROZEN_SERVER, f"sqlite:///{tmp_path}/cti.sqlite", tmp_path / "var")
    out, err = child.communicate(timeout=30)
    assert child.returncode == 0, err
    assert out.split("\n")[:3] == ["alarms ['database']", "stopped 0", "exiting"]
    assert time.monotonic() - began < 20      # generous: it is about 1 s

    store = make_store()
    store.startService()
    clock.wait(store.flush())
    assert stored_data1(store, clock) == ["0"]


def test_a_torn_last_line_and_a_damaged_one_are_skipped_with_a_warning_each(
        make_store, clock, harness):
    harness.down = True
    store = make_store()
    store.startService()
    for i in range(5):
        store.add(log_entry(i))
    clock.wait(store.journaled())
    stop(store, clock)
    [segment] = segments(store)
    lines = segment.read_bytes().splitlines(keepends=True)
    damaged = lines.index(next(line for line in lines if b'"data1": "2"' in line))
    lines[damaged] = lines[damaged].replace(b'"data1": "2"', b'"data1": "7"')
    torn = lines[-1][:40]                     # a crash in the middle of a write
    segment.write_bytes(b"".join(lines) + torn)

    again = make_store(engine_factory=Harness())    # the database is back
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1", "3", "4"]
    assert again.skipped_entries == 2
    assert [(w["path"], w["line"]) for w in warnings_about_lines(again)] == [
        (str(segment), damaged + 1), (str(segment), len(lines) + 1)]
    assert "checksum" in warnings_about_lines(again)[0]["why"]
    assert "torn" in warnings_about_lines(again)[1]["why"]


# -- open records and segments -----------------------------------------------------

def test_open_records_survive_rotation_and_closed_ones_do_not(make_store, clock):
    """Segments rotate and, once committed, are deleted; the open records
    are copied forward, so the next start has them (re-opened: the last
    version); a closed one is gone.  forget_unfinished() ends them all."""
    store = make_store(segment_bytes=2000)
    store.startService()
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    store.open("call:c2", CallRecord(call_id="c2", direction="inbound", offered_at=T0))
    for i in range(100):
        store.add(log_entry(i))
        clock.wait(store.flush())
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0,
                                     ani="5550000"))
    store.close("call:c2")
    clock.wait(store.journaled())
    assert store.journal._segment_number > 10 and len(segments(store)) <= 2
    stop(store, clock)

    again = make_store()
    again.startService()
    [(key, call)] = again.unfinished()
    assert (key, call.call_id, call.ani) == ("call:c1", "c1", "5550000")
    again.forget_unfinished()
    assert again.unfinished() == []
    stop(again, clock)
    assert [p.name for p in again.journal_dir.iterdir()] == ["checkpoint.json"]

    third = make_store()
    third.startService()
    assert third.unfinished() == [] and third.last_seen is not None


def test_the_journal_reads_as_documented(make_store, clock):
    """One JSON object a line: the CRC-32 of the entry's exact text, then
    the entry (seq, at, kind, and the table and row or the key)."""
    clock.advance(T0.timestamp())
    store = make_store()
    store.startService()
    store.add(log_entry(0))
    store.open("agent:1001", AgentSession(agent="1001", station="stn7", login_at=T0))
    store.close("agent:1001")
    clock.wait(store.journaled())
    [segment] = segments(store)
    lines = segment.read_text().splitlines()
    entries = [json.loads(line)["entry"] for line in lines]
    for line, entry in zip(lines, entries, strict=True):
        crc = json.loads(line)["crc"]
        assert line == f'{{"crc": {crc}, "entry": {json.dumps(entry)}}}'
        assert zlib.crc32(json.dumps(entry).encode()) == crc
    assert [(e["seq"], e["kind"], e.get("table"), e.get("key")) for e in entries] == [
        (1, "record", "queue_log", None), (2, "open", "agent_session", "agent:1001"),
        (3, "close", None, "agent:1001")]
    assert entries[0]["at"] == "2024-05-01T09:30:00.000+00:00"
    assert entries[0]["row"]["data1"] == "0" and entries[0]["row"]["at"] == T0.isoformat()


def test_a_second_store_on_the_same_journal_is_refused(make_store):
    make_store().startService()
    with pytest.raises(JournalError, match="in use"):
        make_store().startService()


class CountingDisk(Disk):
    """A disk that counts its fsyncs."""

    def __init__(self):
        self.fsyncs = 0

    def fsync(self, fd):
        self.fsyncs += 1
        super().fsync(fd)


def test_fsync_goes_in_batches(make_store, clock, tmp_path):
    """A burst is synced in a few fsyncs, not one per record; a lone
    record waits at most sync_interval_s."""
    disk = CountingDisk()
    store = make_store(url=f"sqlite:///{tmp_path}/no-such-dir/cti.sqlite", disk=disk,
                       sync_every=50, sync_interval_s=0.1)
    store.startService()
    for i in range(120):
        store.add(log_entry(i))
    clock.wait(store.journaled())
    assert disk.fsyncs < 10
    store.add(log_entry(120))
    assert store.unjournaled == 1
    clock.advance(0.1)
    clock.wait(store.journaled())
    assert store.unjournaled == 0
    stop(store, clock)


# -- a full disk ------------------------------------------------------------------------

def test_a_full_disk_raises_one_alarm_and_the_records_still_reach_the_database(
        make_store, clock):
    """Three minutes of a full disk: one critical line, at most one more a
    minute; every record reaches the database meanwhile; once the disk
    takes writes, journaling resumes by itself (one line says so), and no
    torn line is left behind.  fsync never runs on the reactor thread."""
    disk = FullDisk()
    store = make_store(disk=disk)
    store.startService()
    clock.wait(store.flush())
    disk.full = True
    added = 0
    for _minute in range(3):
        for _ in range(12):
            for _ in range(10):
                store.add(log_entry(added))
                added += 1
            clock.wait(store.flush())
            clock.advance(5)                 # the journal tries again every 5 s
    assert store.alarms == {"disk"}
    lines = [e for e in store.events if e.get("alarm") == "disk"]
    assert [e["log_level"] for e in lines][:1] == [LogLevel.critical]
    assert 1 <= len(lines) <= 4 and "No space left" in lines[0]["error"]
    assert stored_data1(store, clock) == [str(i) for i in range(added)]

    disk.full = False
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    advance_until(clock, lambda: store.alarms == frozenset() and store.unjournaled == 0,
                  step=5)                    # a sync begun while full may fail once more
    assert "cleared" in [e for e in store.events if e.get("alarm") == "disk"][-1]["log_format"]
    assert threading.get_ident() not in disk.fsync_threads
    stop(store, clock)

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert again.skipped_entries == 0 and [k for k, _ in again.unfinished()] == ["call:c1"]
    assert stored_data1(again, clock) == [str(i) for i in range(added)]


def ride_out(store, clock, minutes, each_retry=lambda: None):
    """``minutes`` of virtual time, DISK_RETRY_S at a time: the journal
    tries again each time; ``each_retry()`` then runs, and the largest
    number of segment files and open segment fds seen is returned."""
    most = (0, 0)
    for _ in range(int(minutes * 60 / DISK_RETRY_S)):
        clock.advance(DISK_RETRY_S)
        each_retry()
        clock.wait(store.journal._idle())
        most = max(most[0], len(segments(store))), max(most[1], len(store.journal.disk.open_fds))
    return most


def test_a_long_full_disk_costs_no_file_and_no_descriptor_per_retry(make_store, clock):
    """Ten minutes of a full disk, retried every 5 s: the journal keeps
    writing into its one segment (one file, one fd), never a new one per
    retry; once the disk has room, it writes what waited and clears."""
    disk = FullDisk()
    store = make_store(disk=disk)
    store.startService()
    store.open("agent:1001", AgentSession(agent="1001", station="stn7", login_at=T0))
    store.add(log_entry(0))
    clock.wait(store.flush())
    clock.wait(store.journaled())
    disk.full = True
    added = [1]

    def add_one():
        store.add(log_entry(added[0]))
        added[0] += 1
        clock.wait(store.flush())

    assert ride_out(store, clock, minutes=10, each_retry=add_one) == (1, 1)
    assert store.alarms == {"disk"}
    disk.full = False
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    advance_until(clock, lambda: store.alarms == frozenset() and store.unjournaled == 0,
                  step=DISK_RETRY_S)
    assert len(segments(store)) == 1 and len(disk.open_fds) == 1
    stop(store, clock)

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == [str(i) for i in range(added[0])]
    assert [k for k, _ in again.unfinished()] == ["agent:1001", "call:c1"]
    assert again.skipped_entries == 0


class BrokenDisk(FullDisk):
    """Worse than full: while ``full``, a torn line cannot be cut off
    either (truncate fails with EIO); while ``no_fds``, the process has no
    file descriptor left (EMFILE)."""

    def __init__(self):
        super().__init__()
        self.no_fds = False

    def truncate(self, fd, length):
        if self.full:
            raise OSError(errno.EIO, "Input/output error")
        super().truncate(fd, length)

    def open_append(self, path):
        if self.no_fds:
            raise OSError(errno.EMFILE, "Too many open files")
        return super().open_append(path)


def test_a_torn_segment_is_left_and_the_journal_recovers_from_emfile(make_store, clock):
    """A segment whose torn end cannot be cut is left (and closed, though
    the disk still fails); while no fd can be had, nothing is made; then
    each new segment that holds nothing is deleted at once: files and
    fds stay bounded, and once the disk works all is written."""
    disk = BrokenDisk()
    store = make_store(disk=disk)
    store.startService()
    store.open("agent:1001", AgentSession(agent="1001", station="stn7", login_at=T0))
    clock.wait(store.journaled())
    disk.full = disk.no_fds = True
    store.add(log_entry(0))                 # torn, and cannot be cut
    clock.wait(store.flush())
    assert ride_out(store, clock, minutes=5) == (1, 0)    # the segment left is closed
    disk.no_fds = False
    assert ride_out(store, clock, minutes=5) == (2, 1)   # that one, and one at a time
    disk.full = False
    advance_until(clock, lambda: store.alarms == frozenset() and store.unjournaled == 0,
                  step=DISK_RETRY_S)
    stop(store, clock)

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0"]
    assert [k for k, _ in again.unfinished()] == ["agent:1001"]


def test_a_disk_outage_keeps_in_memory_only_what_the_disk_still_needs(make_store, clock):
    """1,000 calls while the disk is full, each opened (and updated), then
    its record committed and the call closed: what waits for the disk is
    the records not yet committed and the newest open or close of each key
    still needing one, not every entry; when the disk returns, the journal
    says what is open, and what was closed."""
    disk = FullDisk()
    store = make_store(disk=disk, sync_every=100)
    store.startService()
    store.open("agent:1001", AgentSession(agent="1001", station="stn7", login_at=T0))
    store.open("agent:1002", AgentSession(agent="1002", station="stn8", login_at=T0))
    clock.advance(0.1)                      # sync_interval_s
    clock.wait(store.journaled())
    disk.full = True
    most = 0
    for i in range(1000):
        for ani in ("", "5551234", "5551235"):
            store.open(f"call:c{i}", CallRecord(call_id=f"c{i}", direction="inbound",
                                                offered_at=T0, ani=ani))
        store.add(log_entry(i))
        store.close(f"call:c{i}")
        if i % 100 == 99:
            clock.wait(store.flush())
            clock.advance(DISK_RETRY_S)
        most = max(most, len(store.journal._unwritten))
    store.close("agent:1001")               # opened before the outage: its close must get there
    store.open("call:last", CallRecord(call_id="last", direction="inbound", offered_at=T0))
    clock.wait(store.flush())
    assert store.alarms == {"disk"} and store.pending == 0
    assert store.unjournaled == 2            # agent:1001's close, call:last's open
    assert most <= 2 * (100 + 2) + COMPACT_MIN   # 5,000 entries appended meanwhile

    disk.full = False
    advance_until(clock, lambda: store.alarms == frozenset() and store.unjournaled == 0,
                  step=DISK_RETRY_S)
    stop(store, clock)
    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == [str(i) for i in range(1000)]
    assert [k for k, _ in again.unfinished()] == ["agent:1002", "call:last"]


class FlakyFsyncDisk(Disk):
    """A disk whose next ``failures`` fsyncs fail with EIO (the writes went
    to the OS; whether they reach the disk nobody knows)."""

    def __init__(self, failures):
        self.failures = failures

    def fsync(self, fd):
        if self.failures:
            self.failures -= 1
            raise OSError(errno.EIO, "Input/output error")
        super().fsync(fd)


def test_after_a_failed_fsync_the_entries_are_written_again_and_none_twice(
        make_store, clock, tmp_path):
    """What a failed fsync may have lost is written again, into the same
    segment (the reader counts each seq once), the open record's copy too."""
    store = make_store(url=f"sqlite:///{tmp_path}/no-such-dir/cti.sqlite",
                       disk=FlakyFsyncDisk(failures=1))
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    store.startService()
    for i in range(5):
        store.add(log_entry(i))
    clock.run_until(lambda: store.alarms == {"disk"})
    clock.advance(5)                        # the journal tries again
    clock.wait(store.journaled())
    assert store.alarms == frozenset() and len(segments(store)) == 1
    entries = [json.loads(line)["entry"] for line in segments(store)[0].open("rb")]
    assert len({e["seq"] for e in entries if e["kind"] == "record"}) == 5
    assert [e["kind"] for e in entries].count("open") == 4    # the copy and the open, twice
    stop(store, clock)

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1", "2", "3", "4"]
    assert again.skipped_entries == 0 and [k for k, _ in again.unfinished()] == ["call:c1"]


class WatchedDisk(Disk):
    """A disk that knows the segment fds it holds open, notes a write to
    any other, and tells (``job_closed``) when a segment is closed on the
    journal's thread."""

    def __init__(self):
        self.open_fds = set()
        self.stray_writes = []
        self.job_closed = threading.Event()
        self.reactor_thread = threading.get_ident()
        self.checkpointing = False

    def open_append(self, path):
        fd = super().open_append(path)
        self.open_fds.add(fd)
        return fd

    def write(self, fd, data):
        if fd not in self.open_fds and not self.checkpointing:
            self.stray_writes.append((fd, bytes(data)))
        return super().write(fd, data)

    def replace(self, path, data, directory_fd):
        self.checkpointing = True             # a file of its own: written through write_all
        try:
            super().replace(path, data, directory_fd)
        finally:
            self.checkpointing = False

    def close(self, fd):
        was_segment = fd in self.open_fds
        self.open_fds.discard(fd)
        super().close(fd)
        if was_segment and threading.get_ident() != self.reactor_thread:
            self.job_closed.set()


def test_a_record_added_while_the_store_closes_goes_to_no_other_file(
        make_store, clock, tmp_path):
    """The journal's last sync job has closed its segment (its report not
    yet back) and the fd number went to another file: a record added now
    is written to a segment of its own, never through the old fd; the
    next start writes it."""
    disk = WatchedDisk()
    store = make_store(disk=disk)
    store.startService()
    store.add(log_entry(0))
    clock.wait(store.flush())
    stopped = store.stopService()
    clock.run_until(lambda: store.journal.lifecycle.state == "closing")
    assert disk.job_closed.wait(10)
    other = os.open(tmp_path / "unrelated", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        assert store.lifecycle.state == "closing"
        store.add(log_entry(1))
        clock.wait(stopped)
    finally:
        os.close(other)
    assert (tmp_path / "unrelated").read_bytes() == b"" and disk.stray_writes == []
    assert store.unsaved == 0

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1"]


class HangingDisk(Disk):
    """A disk whose fsync, once ``hang`` is set, does not come back until
    ``release`` is."""

    def __init__(self):
        self.hang = False
        self.release = threading.Event()

    def fsync(self, fd):
        if self.hang:
            self.release.wait(30)
        super().fsync(fd)


def test_a_stop_takes_at_most_twice_stop_timeout(make_store, clock, harness):
    """The database down (the flush gives up after stop_timeout), then the
    engine's close and the journal's last fsync both hanging: they share
    the second stop_timeout, and the stop is over 2 x stop_timeout after
    it began."""
    disk, dispose_hangs = HangingDisk(), threading.Event()

    def engine_factory(url):
        engine = harness(url)
        dispose = engine.dispose
        engine.dispose = lambda *args, **kw: (dispose_hangs.wait(30), dispose(*args, **kw))
        return engine

    harness.down = True
    store = make_store(engine_factory=engine_factory, disk=disk, stop_timeout=2.0,
                       retry_delays=(10,))    # no write in flight when the flush gives up
    store.startService()
    store.add(log_entry(0))
    clock.run_until(lambda: retry_warnings(store))
    clock.wait(store.journaled())
    disk.hang = True                          # the sync of this open hangs:
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    try:
        stopped = store.stopService()
        clock.advance(0)                      # the last attempt, now
        clock.run_until(lambda: len(retry_warnings(store)) == 2)    # it failed
        clock.advance(2.0)                    # the flush gives up
        assert store.lifecycle.state == "closing"
        clock.advance(2.0)                    # so do the engine's close and the journal's fsync
        clock.wait(stopped, timeout=10)
    finally:
        disk.release.set()
        dispose_hangs.set()
    at = {t.target: t.at for t in store.lifecycle.history}
    assert at["stopped"] - at["stopping"] == 4.0
    [kept] = [e for e in store.events if "kept in the journal" in e["log_format"]]
    assert kept["count"] == 1 and store.unsaved == 0


def test_a_spill_file_taken_during_a_disk_alarm_is_written_once(make_store, clock):
    """The disk is full from the start: the spill file's records cannot be
    journaled, but the database commits them, and that is enough to
    delete the file, so the next start does not take it again."""
    disk = FullDisk()
    disk.full = True
    store = make_store(disk=disk)
    store.spill_path.parent.mkdir(parents=True)
    store.spill_path.write_text("".join(
        dump_row(*snapshot(log_entry(i))) + "\n" for i in range(3)))
    store.startService()
    clock.wait(store.flush())
    assert store.alarms == {"disk"} and not store.spill_path.exists()
    stop(store, clock)

    again = make_store()
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1", "2"]


def test_a_spill_file_whose_records_got_nowhere_is_kept_for_the_next_start(
        make_store, clock, harness):
    """Disk full and database down the whole run: the spill file is kept
    (its records are not lost, nor counted unsaved) and taken again."""
    disk = FullDisk()
    disk.full = harness.down = True
    store = make_store(disk=disk)
    store.spill_path.parent.mkdir(parents=True)
    store.spill_path.write_text("".join(
        dump_row(*snapshot(log_entry(i))) + "\n" for i in range(2)))
    store.startService()
    clock.run_until(lambda: retry_warnings(store))
    stop(store, clock)
    assert store.spill_path.exists() and store.unsaved == 0
    assert any("is kept for the next start" in e["log_format"] for e in store.events)

    again = make_store(engine_factory=Harness())
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1"] and not again.spill_path.exists()


def test_seq_is_never_reused_after_a_stop_that_deleted_every_segment(make_store, clock):
    """A record, then an open record opened and closed: a clean stop
    leaves only the checkpoint, which keeps the last seq; the next run
    numbers on from there."""
    store = make_store()
    store.startService()
    store.add(log_entry(0))
    store.open("call:c1", CallRecord(call_id="c1", direction="inbound", offered_at=T0))
    store.close("call:c1")
    clock.wait(store.flush())
    stop(store, clock)
    checkpoint = store.journal_dir / "checkpoint.json"
    assert [p.name for p in store.journal_dir.iterdir()] == [checkpoint.name]
    assert json.loads(checkpoint.read_text())["last_seq"] == 3

    again = make_store()
    again.startService()
    again.add(log_entry(1))
    clock.wait(again.journaled())
    [segment] = segments(again)
    assert [json.loads(line)["entry"]["seq"] for line in segment.open("rb")] == [4]


def test_records_in_neither_the_database_nor_the_journal_are_counted_at_stop(
        make_store, clock, harness):
    """Database down, then the disk full too: the stop keeps the journaled
    records for the next start, and counts (and logs) the others as unsaved."""
    disk = FullDisk()
    harness.down = True
    store = make_store(disk=disk)
    store.startService()
    for i in range(5):
        store.add(log_entry(i))
    clock.wait(store.journaled())
    disk.full = True
    for i in range(5, 15):
        store.add(log_entry(i))
    stop(store, clock)
    assert store.unsaved == 10
    [lost] = [e for e in store.events if "could not be saved" in e["log_format"]]
    assert lost["log_level"] == LogLevel.critical and lost["count"] == 10
    assert lost["journal"] == str(store.journal_dir) and "cti.sqlite" in lost["database"]
    [kept] = [e for e in store.events if "kept in the journal" in e["log_format"]]
    assert kept["count"] == 5
    told = io.StringIO()                              # `cti server` exits non-zero
    assert status_after_stop(SimpleNamespace(records=store), told) == 1
    assert told.getvalue() == "cti server: 10 records could not be saved: see the log\n"

    again = make_store(engine_factory=Harness())    # the database is back
    again.startService()
    clock.wait(again.flush())
    assert stored_data1(again, clock) == ["0", "1", "2", "3", "4"]


# -- the journal alone, its sync jobs run by hand ---------------------------------------

class JobsByHand:
    """The journal's job thread, run by the test: a job waits until
    :meth:`run`, so a test decides when each sync lands, on one thread."""

    def __init__(self, reactor, name):
        self.jobs = deque()

    def start(self):
        pass

    def stop(self):
        pass

    def submit(self, fn, *args):
        d = defer.Deferred()
        self.jobs.append((fn, args, d))
        return d

    def run(self):
        """Run the oldest job waiting; False if none was."""
        if not self.jobs:
            return False
        fn, args, d = self.jobs.popleft()
        d.callback(fn(*args))
        return True

    def run_all(self):
        while self.run():
            pass


class FaultyDisk(Disk):
    """Four faults, each switched on and off by a test: a disk filling up
    (``room``: the bytes it still takes, None for no limit; the write that
    reaches the limit puts down what fits, the next one fails with
    ENOSPC), a torn line that cannot be cut off (EIO), fsync failing
    (EIO), no descriptor left (EMFILE).  A good fsync does nothing (the
    crashes here are a process's, not the OS's)."""

    def __init__(self):
        self.heal()

    def heal(self):
        self.room = None
        self.no_truncate = self.bad_fsync = self.no_fds = False

    def toggle(self, rng):
        """Switch one fault, chosen by ``rng``, on or off."""
        fault = rng.choice(["room", "no_truncate", "bad_fsync", "no_fds"])
        if fault == "room":
            self.room = rng.choice([0, rng.randrange(6000)]) if self.room is None else None
        else:
            setattr(self, fault, not getattr(self, fault))

    def write(self, fd, data):
        if self.room is None:
            return super().write(fd, data)
        if self.room == 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        written = super().write(fd, bytes(data[:self.room]))
        self.room -= written
        return written

    def truncate(self, fd, length):
        if self.no_truncate:
            raise OSError(errno.EIO, "Input/output error")
        super().truncate(fd, length)

    def fsync(self, fd):
        if self.bad_fsync:
            raise OSError(errno.EIO, "Input/output error")

    def open_append(self, path):
        if self.no_fds:
            raise OSError(errno.EMFILE, "Too many open files")
        return super().open_append(path)


@pytest.fixture
def by_hand(monkeypatch):
    """``by_hand(directory, **options)``: a started Journal on a FaultyDisk,
    its log events in ``journal.events``, its jobs run by hand
    (``journal.jobs``)."""
    made = []
    monkeypatch.setattr(journal_module, "JobThread",
                        lambda reactor, name: made.append(JobsByHand(reactor, name)) or made[-1])

    def make(directory, **options):
        journal = Journal(directory, task.Clock(), disk=FaultyDisk(), **options)
        journal.events = []
        journal.log = Logger(observer=journal.events.append)
        journal.replayed = journal.start()
        journal.jobs = made[-1]
        return journal

    return make


def call_row(key, version):
    """An open call's (table, row), ``ani`` telling its version."""
    return snapshot(CallRecord(call_id=key, direction="inbound", offered_at=T0,
                               ani=f"v{version}"), complete=False)


def settle_down(journal):
    """Heal the disk and let ``journal`` catch up: every entry on disk
    (fsync'd), the checkpoint moved, no job in flight, no alarm."""
    journal.disk.heal()
    for _ in range(50):
        journal.jobs.run_all()
        if not (journal.unjournaled or journal._paused or journal._job or journal.alarms
                or journal._committed > journal._checkpointed):
            return
        journal.reactor.advance(DISK_RETRY_S)
    raise AssertionError("the journal did not catch up")


def crash(journal):
    """The process dies: the files stay as they are, the lock goes."""
    os.close(journal._directory_fd)


def segments_in(directory):
    return sorted(directory.glob("segment-*.jsonl"))


def versions(journal):
    """The open records as ``[(key, version)]``, oldest first."""
    return [(key, entry.row["ani"]) for key, entry in journal.open_records.items()]


def fill_segment(journal, first):
    """Records (``log_entry(first)`` on) until the segment rotates: their seqs."""
    number, seqs = journal._segment_number, []
    while journal._segment_number == number:
        seqs.append(journal.record(*snapshot(log_entry(first + len(seqs)))).seq)
    return seqs


def test_a_call_closed_during_a_disk_outage_stays_closed_once_a_retry_copied_it_to_disk(
        by_hand, tmp_path):
    """A call opened while the disk fails reaches the disk as a copy: the
    retry rewrites the open records' copies (a failed fsync may have lost
    them), then the disk fills before the rest.  The call ends meanwhile:
    its close is not dropped as if it had never reached the disk, and the
    next start does not give it back (a second CDR, 'server_failure')."""
    j = by_hand(tmp_path / "j", sync_every=1)
    j.open("call:c1", *call_row("call:c1", 1))
    j.jobs.run_all()
    j.disk.bad_fsync = True
    j.record(*snapshot(log_entry(0)))
    j.jobs.run_all()                       # the fsync fails: the disk alarm
    j.disk.bad_fsync = False
    j.open("call:c2", *call_row("call:c2", 2))            # kept in memory
    copies = [entry.copy_as(j._next_seq + i) for i, entry in enumerate(j.open_records.values())]
    j.disk.room = sum(len(encode(copy)) for copy in copies)   # room for those, no more
    j.reactor.advance(DISK_RETRY_S)
    assert j.alarms == {"disk"} and [c.key for c in copies] == ["call:c1", "call:c2"]
    j.close("call:c2")
    settle_down(j)
    assert versions(j) == [("call:c1", "v1")]
    crash(j)

    again = by_hand(tmp_path / "j")
    assert versions(again) == [("call:c1", "v1")]
    assert [e.row["data1"] for e in again.replayed] == ["0"]


@pytest.mark.parametrize("then", ["closed", "opened again"])
def test_the_newest_entry_of_a_key_wins_in_whatever_order_a_failed_fsync_left_them(
        by_hand, tmp_path, then):
    """A failed fsync: all since the last good one is written again, with
    its old seq, after what the segments have since.  Here the call's
    open is in a segment deleted meanwhile (its records committed), its
    close (or newer version) in one kept for a record not committed: the
    open, written again after the newer copies, must not win over its
    close at the next start, nor an old version over a new one."""
    j = by_hand(tmp_path / "j", segment_bytes=2000, sync_every=1)
    j.disk.bad_fsync = True                # the first sync job fails (when it runs)
    j.open("call:c1", *call_row("call:c1", 1))
    fill_segment(j, 0)                     # the open's segment
    if then == "closed":
        j.close("call:c1")
    else:
        j.open("call:c1", *call_row("call:c1", 2))
    *committed, pending = fill_segment(j, 100)    # the close's (or v2's)
    j.settled(committed[-1])
    j.jobs.run()                           # the fsync fails
    j.disk.bad_fsync = False
    j.jobs.run()                           # the segments left: closed; the open's deleted
    assert [p.name for p in segments_in(tmp_path / "j")] == [
        SEGMENT_NAME.format(n) for n in (2, 3)]
    settle_down(j)                         # the retry: written again, into segment 3
    assert len(segments_in(tmp_path / "j")) == 2
    crash(j)

    again = by_hand(tmp_path / "j")
    assert versions(again) == ([] if then == "closed" else [("call:c1", "v2")])
    assert [e.seq for e in again.replayed] == [pending]


def test_a_segment_is_deleted_only_once_every_older_one_is(by_hand, tmp_path):
    """The oldest segments go first: one with no record (a call's close)
    is not deleted while an older one is kept for a record not committed
    (which has the call's open), or the next start gives the call back."""
    j = by_hand(tmp_path / "j", segment_bytes=1, sync_every=1)   # one entry a segment
    j.open("call:c1", *call_row("call:c1", 1))             # segment 1
    record = j.record(*snapshot(log_entry(0)))              # 2: a copy of the open, the record
    j.close("call:c1")                                      # 3
    settle_down(j)
    assert sorted(p.name for p in segments_in(tmp_path / "j")) == [
        SEGMENT_NAME.format(n) for n in (2, 3, 4)]
    crash(j)

    again = by_hand(tmp_path / "j")
    assert versions(again) == [] and [e.seq for e in again.replayed] == [record.seq]


def test_the_disk_alarm_clears_when_the_outage_left_nothing_to_write(by_hand, tmp_path):
    """A call opened and closed while the disk is full leaves nothing to
    write: once the disk takes writes again, the retry's sync clears the
    alarm all the same (it does not wait for the next entry)."""
    j = by_hand(tmp_path / "j", sync_every=1)
    j.disk.room = 0
    j.open("call:c1", *call_row("call:c1", 1))
    j.close("call:c1")
    assert j.alarms == {"disk"} and j.unjournaled == 0
    j.disk.heal()
    j.reactor.advance(DISK_RETRY_S)
    j.jobs.run_all()
    assert j.alarms == frozenset()
    assert "cleared" in [e for e in j.events if e.get("alarm") == "disk"][-1]["log_format"]


# -- the journal against a model, under random faults ----------------------------------

def journal_run(by_hand, directory, seed, segment_bytes, steps=150):
    """One random run of a journal on a disk that fails now and then, its
    sync jobs landing at any step, then a stop or a crash, and a restart:
    checked against a model.  The records not settled are replayed, each
    once, in order (the settled ones not at all); the open records are the
    model's (each key's last version, oldest first); seq goes on."""
    rng = random.Random(seed)
    j = by_hand(directory, segment_bytes=segment_bytes, sync_every=rng.choice([1, 3, 50]),
                sync_interval_s=0.1)
    records, settled, model, version = [], 0, {}, 0
    for step in range(steps):
        r = rng.random()
        if r < 0.30:
            records.append((j.record(*snapshot(log_entry(step))).seq, str(step)))
        elif r < 0.48:
            key, version = f"call:c{rng.randrange(8)}", version + 1
            j.open(key, *call_row(key, version))
            model.pop(key, None)
            model[key] = f"v{version}"
        elif r < 0.62:
            key = f"call:c{rng.randrange(8)}"
            j.close(key)
            model.pop(key, None)
        elif r < 0.70 and settled < len(records):
            settled = rng.randrange(settled, len(records)) + 1
            j.settled(records[settled - 1][0])
        elif r < 0.80:
            j.disk.toggle(rng)
        elif r < 0.88:
            j.reactor.advance(rng.choice([0.1, DISK_RETRY_S]))
        else:
            j.jobs.run()
    settle_down(j)
    if rng.random() < 0.5:
        stopped = defer.ensureDeferred(j.stop(5.0))
        j.jobs.run_all()
        assert fired(stopped) == [], f"seed {seed}: records lost at the stop"
    else:
        crash(j)

    again = by_hand(directory)
    assert [(e.seq, e.row["data1"]) for e in again.replayed] == records[settled:], f"seed {seed}"
    assert versions(again) == list(model.items()), f"seed {seed}"
    assert again.unfinished_keys == set(model), f"seed {seed}"
    assert again.record(*snapshot(log_entry(steps))).seq >= j._next_seq, f"seed {seed}"
    crash(again)


def fired(d):
    """The result of a Deferred that has fired."""
    box = []
    d.addBoth(box.append)
    assert box, f"{d} has not fired"
    if isinstance(box[0], Failure):
        box[0].raiseException()
    return box[0]


@pytest.mark.parametrize("segment_bytes", [600, 20000])
def test_any_run_of_faults_leaves_the_journal_saying_what_the_model_says(
        by_hand, tmp_path, segment_bytes):
    """A fuzz, seeded (FUZZ_SEEDS runs of 150 steps): records, opens,
    closes, commits, a disk filling up, torn lines that cannot be cut,
    failed fsyncs, EMFILE, sync jobs landing at any step, rotation (600
    bytes: every entry or two; 20000: now and then)."""
    for seed in range(FUZZ_SEEDS):
        journal_run(by_hand, tmp_path / f"journal-{seed}", seed, segment_bytes)
