# SPDX-License-Identifier: GPL-2.0-or-later
"""The demos: the narrated board tour, and `cti demo`, the simulated call
centre: its summary (every caller offered to a queue is answered,
abandoned, left or cleared at end, overall and queue by queue), its run
directory (never the server's), the lines that say how to attach to it,
and the command itself in a process of its own: Ctrl-C, the port, an
agent left to a person."""
import fcntl
import io
import json
import os
import queue
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest
from rich.console import Console
from twisted.internet import defer
from twisted.internet.task import Clock
from twisted.logger import Logger, LogLevel, eventsFromJSONLogFile

from cti.auth import hash_password
from cti.demo import attach
from cti.demo.run import (
    Demo,
    DemoError,
    Options,
    Warnings,
    in_run_directory,
    log_observers,
    printer,
    run_directory,
    storage_lines,
    whole_writes,
)
from cti.demo.signals import ENDING, EndingSignals
from cti.demo.summary import OUTCOMES, report, summary
from cti.demo.view import tables
from cti.protocol.client import BlockingClient
from cti.server.config import load_server_config
from cti.storage.models import CallRecord, QueueLogEntry
from cti.words import AGENT_STATES, agent_state
from simulators.board_demo import BOARDS, run_scenario
from simulators.callcentre import Profile, Traffic
from tests.centre import Centre, flow_tier
from tests.rig import Rig

CONFIG = "etc/cti.toml"
#: How long a step of a demo process may take on a loaded machine: waits,
#: never measured.
PATIENCE_S = 180
#: The keys of `cti demo --json`'s summary, and of each of its `queues`.
QUEUE_KEYS = {"offered", *OUTCOMES, "service_level", "asa_s", "aht_s"}
JSON_KEYS = {"duration_s", "calls_per_minute", "ran_s", "interrupted", "calls", "ivr_only",
             "in_ivr_at_end", "other",
             *QUEUE_KEYS, "queues", "run_dir", "unsaved", "left_in_journal", "warnings"}
#: A line of the summary as `cti demo` prints it: offered = the outcomes.
FIGURES = re.compile(r"(\d+) offered = (\d+) answered \+ (\d+) abandoned \+ (\d+) left \+ "
                     r"(\d+) cleared at end")


def test_board_tour_observes_every_step():
    rig = Rig(BOARDS)
    lines = []
    d = run_scenario(rig.driver, rig.sim, rig.clock, lines.append)
    results = []
    d.addBoth(results.append)
    for _ in range(120):
        if results:
            break
        rig.run(500)
    assert results, "the tour did not finish within 60 simulated seconds"
    seen = results[0]
    assert isinstance(seen, dict), seen
    assert seen["caller_id"] == ("2125551234", "J SMITH")
    assert seen["prompt"] == ["digits"]          # barge-in ended the prompt
    assert seen["digits"] == "42#"
    assert seen["audio"] == (1000, 600)          # each side hears the other
    assert any("bridged" in line for line in lines)


# -- the summary ----------------------------------------------------------------------
def assert_adds_up(figures):
    """offered = answered + abandoned + left + cleared_at_end."""
    assert figures["offered"] == sum(figures[name] for name in OUTCOMES), figures


def assert_every_summary_adds_up(result):
    """Each caller counted once: offered, or never queued (the IVR alone,
    still in the IVR at the end, or other); each queue adds up too."""
    assert result["calls"] == (result["offered"] + result["ivr_only"] + result["in_ivr_at_end"]
                               + result["other"]), result
    assert_adds_up(result)
    for figures in result["queues"].values():
        assert_adds_up(figures)
    for key in ("offered", *OUTCOMES):
        assert sum(q[key] for q in result["queues"].values()) == result[key]


#: The queue log's events that end a caller's stay in a queue, as the
#: summary's outcomes ("cleared": the server's end, or a supervisor's).
STAY_ENDS = {"CONNECT": "answered", "ABANDON": "abandoned", "EXITWITHTIMEOUT": "left",
             "EXITEMPTY": "left", "EXITWITHKEY": "left", "FULL": "left",
             "EXITCLEARED": "cleared"}


def from_the_queue_log(records, in_progress=frozenset()):
    """{queue: {outcome: callers}} of each caller's last stay in a queue,
    from the queue log alone (ENTERQUEUE or FULL, then how it ended): the
    summary's figures, counted without the CDRs."""
    last = {}
    for row in records.of(QueueLogEntry):
        if row.event in ("ENTERQUEUE", "FULL"):
            last[row.call_id] = [row.queue, STAY_ENDS.get(row.event)]
        elif row.event in STAY_ENDS and row.call_id in last:
            last[row.call_id][1] = STAY_ENDS[row.event]
    counts = {}
    for call_id, (queue_name, how) in last.items():
        outcome = "cleared_at_end" if call_id in in_progress else how
        by = counts.setdefault(queue_name, dict.fromkeys(("offered", *OUTCOMES), 0))
        by["offered"] += 1
        by[outcome] += 1
    return counts


def assert_the_queue_log_agrees(result, records, in_progress=frozenset()):
    """Every queue's offered, answered, abandoned, left and cleared at end,
    as the queue log counts them; none of them 0 overall."""
    counted = from_the_queue_log(records, in_progress)
    for name, figures in result["queues"].items():
        expected = counted.get(name, dict.fromkeys(("offered", *OUTCOMES), 0))
        assert {k: figures[k] for k in expected} == expected, name
    assert result["offered"] == sum(c["offered"] for c in counted.values()) > 0


def cdr(call_id, queue, disposition, wait_s=5.0, talk_s=40.0, queued=True):
    at = datetime(2030, 1, 1, tzinfo=UTC)
    return CallRecord(call_id=call_id, queue=queue, disposition=disposition, wait_s=wait_s,
                      talk_s=talk_s, queued_at=at if queued else None)


def test_each_caller_offered_is_answered_abandoned_left_or_cleared_at_end():
    config = load_server_config(CONFIG)
    cdrs = [cdr("c1", "sales", "answered", wait_s=5.0),
            cdr("c2", "sales", "abandoned", wait_s=25.0),         # after sales' 20 s
            cdr("c3", "sales", "timed_out", wait_s=300.0),        # left: max_wait_s
            cdr("c4", "support", "queue_full", queued=False),     # left: refused, full
            cdr("c5", "support", "answered", wait_s=3.0),         # talking at the end
            cdr("c6", "support", "cleared", wait_s=12.0),         # waiting at the end
            cdr("c7", None, "ivr_only"),
            cdr("c8", None, "ivr_only")]                          # in the IVR at the end
    result = summary(cdrs, config, in_progress=frozenset({"c5", "c6", "c8"}))
    assert_every_summary_adds_up(result)
    assert (result["calls"], result["ivr_only"], result["in_ivr_at_end"]) == (8, 1, 1)
    assert {k: result[k] for k in ("offered", *OUTCOMES)} == {
        "offered": 6, "answered": 1, "abandoned": 1, "left": 2, "cleared_at_end": 2}
    sales, support = result["queues"]["sales"], result["queues"]["support"]
    assert (sales["left"], support["left"], support["cleared_at_end"]) == (1, 1, 2)
    # Answered within 20 s, over answered + abandoned late + timed out; the
    # callers cut off by the end count neither way, nor in ASA and AHT.
    assert sales["service_level"] == round(1 / 3, 4)
    assert support["service_level"] is None and support["asa_s"] is None
    assert (sales["asa_s"], sales["aht_s"]) == (5.0, 40.0 + 10)     # talk + sales' wrap-up
    assert result["queues"]["spanish"]["offered"] == 0
    lines = report(result)
    assert lines[:2] == [
        "8 calls = 6 offered + 1 served by the IVR alone + 1 in the IVR at the end + 0 other",
        "6 offered = 1 answered + 1 abandoned + 2 left + 2 cleared at end; service level "
        "33%, ASA 5.0 s, AHT 50.0 s"]
    assert lines[2].startswith("  sales    3 offered = 1 answered + 1 abandoned + 1 left")


def busy_centre(minutes, calls_per_minute=10):
    """The sample centre, its flow tier, bot agents and `minutes` of callers."""
    centre = Centre()
    flow_tier(centre)
    traffic = Traffic(centre.clock, centre.sim, centre.center,
                      lambda: defer.succeed(centre.client()),
                      Profile(calls_per_minute=calls_per_minute, patience_s=40, talk_s=30,
                              seed=7))
    centre.call(traffic.start_agents())
    traffic.start_callers()
    centre.run(minutes * 60_000)
    return centre, traffic


def test_simulated_call_centre_accounts_for_every_call():
    """Ten virtual minutes of Poisson callers through the IVR and bot agents:
    every caller who reached a trunk has a CDR, and the summary adds up."""
    centre, traffic = busy_centre(minutes=10)
    traffic.stop_callers()
    centre.run_until(lambda: not centre.center.calls, within_ms=300_000,
                     what="every call ends")
    cdrs = centre.records.of(CallRecord)
    assert len(cdrs) == traffic.counts["arrived"] - traffic.counts["no_trunk"] > 60
    result = summary(cdrs, centre.config)
    assert result["calls"] == len(cdrs)
    assert result["answered"] > 0 and result["abandoned"] > 0      # busy enough to queue
    assert result["cleared_at_end"] == 0                          # every call ended first
    assert_every_summary_adds_up(result)
    assert_the_queue_log_agrees(result, centre.records)
    assert result["offered"] == len([r for r in cdrs if r.queue is not None])
    assert 0 <= result["service_level"] <= 1 and result["asa_s"] >= 0
    assert result["aht_s"] > 10                  # talk plus wrap-up
    assert {r.flow for r in cdrs} == {"main_menu", None}   # the IVR number, the hotline


def test_callers_waiting_or_talking_when_the_demo_ends_are_cleared_at_end():
    """The demo's end as `cti demo` does it: the calls up are noted, the
    callers hang up, the server stops; those callers are neither answered
    nor abandoned, and every summary still adds up."""
    centre, traffic = busy_centre(minutes=5, calls_per_minute=20)
    up = list(centre.center.calls.values())
    queued = [c for c in up if c.queue is not None]
    assert {c.state for c in queued} >= {"queued", "talking"}, "a busy moment to end on"
    in_progress = frozenset(c.id for c in up)
    traffic.stop()
    centre.server.drain_s = 0
    centre.call(centre.server.stopService())
    result = summary(centre.records.of(CallRecord), centre.config, in_progress)
    assert result["cleared_at_end"] == len(queued)
    assert result["in_ivr_at_end"] == len(up) - len(queued) > 0, "callers in the IVR too"
    assert_every_summary_adds_up(result)
    assert_the_queue_log_agrees(result, centre.records, in_progress)


def test_no_caller_calls_once_the_traffic_stops():
    """At the demo's end each caller hangs up, or gives up a call not yet
    answered (a trunk seized and not yet winked: no voice resource free),
    and nobody calls again: a minute later, no call is up and every trunk
    is idle, though none of them hung up from the exchange's side."""
    centre, traffic = busy_centre(minutes=3, calls_per_minute=60)
    far_ends = [centre.sim.endpoint(t) for t in traffic.trunks]
    assert "ringing" in {fe.state for fe in far_ends}, "a caller not answered yet, to end on"
    traffic.stop()
    centre.run(60_000)
    assert not centre.center.calls
    assert {fe.state for fe in far_ends} == {"idle"}


def test_the_live_view_says_each_agents_state_in_the_words_of_every_screen():
    centre, _ = busy_centre(minutes=2, calls_per_minute=20)
    screen = Console(record=True, width=160)
    screen.print(tables(centre.center, 0.0, centre.clock.seconds()))
    text = screen.export_text()
    for agent in centre.center.acd.agents.values():
        row = next(line for line in text.splitlines() if f" {agent.id} " in line)
        assert f" {agent_state(agent.state, agent.reason)} " in row
    assert not (set(AGENT_STATES) - {"ready"}) & set(re.split(r"[\s│]+", text))


# -- the run directory -----------------------------------------------------------------
NOW = datetime(2030, 6, 11, 14, 30, 5).timestamp()


def test_each_run_gets_a_new_directory_under_var_demo_var_made_if_missing(tmp_path):
    var = tmp_path / "var"                                   # not there yet: a first run
    first = run_directory(var, NOW)
    assert first == var / "demo" / "20300611-143005" and first.is_dir()
    assert run_directory(var, NOW) == var / "demo" / "20300611-143005-2"   # same second


def test_a_given_run_directory_must_be_new_or_empty(tmp_path):
    assert run_directory(tmp_path / "var", NOW, tmp_path / "mine") == tmp_path / "mine"
    (tmp_path / "mine" / "cti.sqlite").write_text("an earlier run")
    with pytest.raises(DemoError, match="not empty"):
        run_directory(tmp_path / "var", NOW, tmp_path / "mine")


def sample_config(directory, **keys):
    """etc/cti.toml written into `directory`, its files (boards, flows,
    prompts) still the sample's, `keys` changed: {key: its TOML value}."""
    etc = Path("etc").resolve()
    text = (etc / "cti.toml").read_text()
    values = {"boards": f'"{etc / "boards.toml"}"', "var_dir": f'"{directory / "var"}"',
              "flows_dir": f'"{etc / "flows"}"', "prompts_dir": f'"{etc / "prompts"}"',
              **keys}
    for key, value in values.items():
        text, n = re.subn(rf"^{key} = [^#\n]*", f"{key} = {value} ", text, count=1, flags=re.M)
        assert n == 1, key
    path = directory / "cti.toml"
    path.write_text(text)
    return path


def cti_demo(*args):
    return subprocess.run([sys.executable, "-m", "cti", "demo", *args], capture_output=True,
                          text=True, timeout=PATIENCE_S)


def test_a_run_directory_that_cannot_be_is_said_at_once(tmp_path):
    """A file where the directory would be, or under one: one line saying
    which and why, status 2, nothing started."""
    a_file = tmp_path / "afile"
    a_file.write_text("")
    for given, why in ((a_file, "not a directory"), (a_file / "run", "Not a directory")):
        done = cti_demo("--run-dir", str(given))
        assert (done.returncode, done.stdout) == (2, "")
        assert done.stderr == f"cti demo: --run-dir {given}: {why}\n"
    with pytest.raises(DemoError, match=rf"^{a_file}/var/demo/20300611-143005: Not a directory "
                                        r"\(a run directory under the configuration's var_dir"):
        run_directory(a_file / "var", NOW)


def test_a_configuration_of_real_boards_is_refused_at_once(tmp_path):
    """The demo plays the simulated telephone company: a configuration of
    another driver is refused before anything is made, naming the key."""
    config = sample_config(tmp_path, driver='"r4"')
    done = cti_demo("-c", str(config))
    assert done.returncode == 2
    assert done.stderr.startswith(f"cti demo: {config}: driver: 'r4': the demo plays the "
                                  "simulated telephone company")
    assert not (tmp_path / "var").exists()


@pytest.mark.parametrize(("args", "message"), [
    (("--rate", "0"), "argument --rate: must be a number above 0, not '0'"),
    (("--rate", "nan"), "argument --rate: must be a number above 0, not 'nan'"),
    (("--duration", "-1"), "argument --duration: must be a number at least 0, not '-1'"),
    (("--duration", "inf"), "argument --duration: must be a number at least 0, not 'inf'")])
def test_a_rate_or_duration_that_makes_no_sense_is_refused_at_once(args, message):
    done = cti_demo(*args)
    assert done.returncode == 2 and message in done.stderr
    assert "CT server" not in done.stdout + done.stderr


def test_the_demo_keeps_nothing_where_the_server_does(tmp_path):
    """The database (even a PostgreSQL server's), the recordings, the
    journal and the agents' file all go to the run directory."""
    server_side = replace(load_server_config(CONFIG), database="postgresql://cti@db/cti")
    run_dir = run_directory(server_side.var_dir, NOW, tmp_path / "run")
    config = in_run_directory(server_side, run_dir)
    assert config.var_dir == run_dir != server_side.var_dir
    assert config.database == f"sqlite:///{run_dir.resolve() / 'cti.sqlite'}"
    demo = Demo(Clock(), config, None, None, Options(), print, Warnings(print))
    assert demo.store.url == config.database and demo.store.journal_dir.parent == run_dir
    assert demo.server.center.layer.recordings_dir == run_dir / "recordings"
    assert demo.server.center.presence.path.parent == run_dir


def test_the_record_store_stops_even_when_a_part_before_it_could_not(tmp_path):
    """The live view fails to stop: the callers, the server and the store
    are still stopped, the store last; the demo has failed (status 1),
    and no summary claims otherwise."""
    config = in_run_directory(load_server_config(CONFIG), tmp_path)
    demo = Demo(Clock(), config, None, None, Options(), print, Warnings(print))
    stopped = []

    class Broken:
        def stop(self):
            stopped.append("view")
            raise RuntimeError("the terminal is gone")

    class Store:
        running = True

        def stopService(self):
            stopped.append("store")
            return defer.succeed(None)

    demo.view, demo.store = Broken(), Store()
    done = []
    demo.stop().addBoth(done.append)
    assert done == [None] and stopped == ["view", "store"]
    assert demo.failure.check(RuntimeError) and demo.result is None


# -- what the demo says of its records -------------------------------------------------
def test_the_stores_warnings_are_shown_as_they_come_and_counted(tmp_path):
    """A database alarm, records not saved: each a line on standard error
    at once (not only in the log file), and in the summary."""
    shown = []
    warnings = Warnings(shown.append)
    with open(tmp_path / "cti-demo.log", "w", encoding="utf-8") as log_file:
        observers = log_observers(log_file, LogLevel.info, warnings)
        store_log = Logger(namespace="cti.storage.store.RecordStore",
                           observer=lambda event: [o(event) for o in observers])
        store_log.info("journal {journal}: 0 records not yet in the database", journal="j")
        store_log.critical("database alarm: no record has reached the database {database} "
                           "for {seconds} s", database="cti.sqlite", seconds=30)
        store_log.error("storage: {count} records could not be saved at stop", count=2)
    assert shown == [
        "cti demo: critical: database alarm: no record has reached the database cti.sqlite "
        "for 30 s",
        "cti demo: error: storage: 2 records could not be saved at stop"]
    with open(tmp_path / "cti-demo.log", encoding="utf-8") as log_file:
        assert len(list(eventsFromJSONLogFile(log_file))) == 3    # the info line too
    result = {"unsaved": 2, "left_in_journal": 0, "warnings": warnings.lines,
              "run_dir": "var/demo/x"}
    assert storage_lines(result) == ["2 records could not be saved (the log has them)",
                                     "2 warnings (printed above)"]
    assert storage_lines({**result, "unsaved": 0, "warnings": []}) == [
        "every record saved in var/demo/x"]


def test_records_left_in_the_journal_are_not_said_saved():
    """No demo starts its run directory again: what the store could only
    journal at the end never reaches the database (and `cti demo` exits 1)."""
    result = {"unsaved": 0, "left_in_journal": 3, "warnings": ["storage stopped with 3 "
                                                               "records not in the database"],
              "run_dir": "var/demo/x"}
    assert storage_lines(result) == [
        "3 records not in the database, only in the journal of var/demo/x: no demo starts "
        "its run directory again to write them",
        "1 warning (printed above)"]


def test_a_printer_looks_its_stream_up_as_each_line_comes(monkeypatch):
    """While the live view is up, rich has replaced standard output and
    error (it prints their lines above its drawing): the demo's lines go
    there, not to the streams of before; a closed terminal is no error."""
    say = printer("stdout")
    ours = io.StringIO()
    monkeypatch.setattr(sys, "stdout", ours)
    say("interrupted (SIGINT): ending the demo")
    assert ours.getvalue() == "interrupted (SIGINT): ending the demo\n"

    class Gone(io.StringIO):
        def write(self, text):
            raise OSError(5, "Input/output error")
    monkeypatch.setattr(sys, "stdout", Gone())
    say("the terminal is gone")


def test_a_write_cut_short_is_finished():
    """A slow terminal takes a drawing of the live view in pieces, and a
    signal (Ctrl-C) returns a write with only a piece taken.  Python
    unbuffered (PYTHONUNBUFFERED) writes standard output straight to the
    file and drops the rest; the demo's standard output writes all of it,
    so that the next drawing erases what the last one drew, not the
    warnings above it."""
    class SlowTerminal(io.RawIOBase):
        def __init__(self):
            self.shown = bytearray()

        def writable(self):
            return True

        def write(self, data):
            self.shown.extend(data[:7])            # the piece taken before the signal
            return min(len(data), 7)

    terminal = SlowTerminal()
    unbuffered = io.TextIOWrapper(terminal, encoding="utf-8", write_through=True)
    stdout = whole_writes(unbuffered)
    drawing = "┏━━━━━━━━━━┓\n┃ queue    ┃\n┗━━━━━━━━━━┛\n"
    stdout.write(drawing)
    stdout.flush()
    assert terminal.shown.decode() == drawing


# -- how to attach ------------------------------------------------------------------------
def test_the_attach_commands_start_as_the_demo_was_started():
    assert attach.program(".venv/bin/cti") == ".venv/bin/cti"
    assert attach.program("/repo/cti/__main__.py", "/repo/.venv/bin/python",
                          cwd="/repo") == ".venv/bin/python -m cti"
    assert attach.program("/repo/cti/__main__.py", "/usr/bin/python3",
                          cwd="/repo") == "/usr/bin/python3 -m cti"


def test_the_attach_lines_name_the_port_the_users_and_the_sample_password():
    config = load_server_config(CONFIG)
    lines = attach.lines(config, 40321, cti="cti")
    assert lines[0] == "CT server listening on 127.0.0.1:40321; attach from another terminal:"
    assert ("cti agent --server tcp:host=127.0.0.1:port=40321 --supervisor --user sup "
            "--station msiB1C8   (password 1234)") in lines[1]      # a phone no agent has
    assert "cti show agents --server 127.0.0.1:40321   (password 1234)" in lines[2]
    assert "cti sim call pstn_in --ani 2125551234 --server 127.0.0.1:40321   (password 1234" \
        in lines[3]
    assert not any("--agent" in line for line in lines)
    assert lines[-1] == ("  headsets, off-hook: msiB1C8 (the supervisor's: m, w, b join a call)")
    human = attach.lines(config, 40321, human="1005", cti="cti")[-2:]
    assert human == [
        "  agent 1005 (Erin Evans) is yours, no bot takes it: cti agent --server "
        "tcp:host=127.0.0.1:port=40321 --agent 1005   (password 1234)",
        "  headsets, off-hook: msiB1C8 (the supervisor's: m, w, b join a call), msiB1C5 "
        "(agent 1005's: a answers, x hangs up)"]
    assert attach.headsets(config, "1005") == ["msiB1C8", "msiB1C5"]


def test_the_attach_lines_are_those_attach_py_shows():
    """The example in cti/demo/attach.py's docstring is what it prints."""
    example = attach.__doc__.split("::\n\n", 1)[1].split("\n\n", 1)[0]
    lines = []
    for line in example.splitlines():
        line = line.removeprefix("    ")
        if lines and lines[-1].endswith("\\"):
            lines[-1] = lines[-1][:-1] + line.lstrip()
        else:
            lines.append(line)
    config = load_server_config(CONFIG)
    assert lines == attach.lines(config, 40321, human="1005", cti=".venv/bin/cti")


def test_the_docs_name_every_key_of_the_json_summary():
    """docs/operations.md, "The demo": each key of --json, no other."""
    docs = Path("docs/operations.md").read_text()
    section = docs.split("### The demo: `cti demo`", 1)[1].split("\n### ", 1)[0]
    listed = set(re.findall(r"`([a-z_]+)`", section.split("- **`--json`**", 1)[1]
                                                    .split("\n- **", 1)[0]))
    assert listed - {"bench"} == JSON_KEYS                  # the key it no longer has


def test_a_password_not_the_samples_is_not_printed():
    assert attach.password_words(hash_password("1234")) == "password 1234"
    assert attach.password_words(hash_password("s3cret")) == "its password in the configuration"


# -- `cti demo` itself, in a process of its own ------------------------------------------
class Running:
    """`cti demo ARGS` running: its standard output read line by line and
    its standard error kept, each by a thread of its own (neither pipe
    can fill and stop the demo); killed if it outlives `end`'s wait."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cti", "demo", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._lines = queue.Queue()
        self._errors = []
        self._readers = [threading.Thread(target=self._read, daemon=True),
                         threading.Thread(target=self._read_errors, daemon=True)]
        for reader in self._readers:
            reader.start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def _read_errors(self):
        self._errors.extend(self.process.stderr)

    def until(self, text, timeout_s=PATIENCE_S):
        """Read up to the line containing `text`; that line."""
        while True:
            try:
                line = self._lines.get(timeout=timeout_s)
            except queue.Empty:
                self.process.kill()
                raise AssertionError(f"{text!r} not in {timeout_s} s: {self.lines}") from None
            assert line is not None, f"{text!r} never came: {self.lines} {self.errors}"
            self.lines.append(line)
            if text in line:
                return line

    @property
    def errors(self):
        return "".join(self._errors)

    def end(self, *signals, timeout_s=PATIENCE_S):
        """Send `signals` (none: let it end by itself); (exit status, every
        line of standard output, standard error)."""
        for signum in signals:
            self.process.send_signal(signum)
        try:
            status = self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.process.kill()
            raise AssertionError(f"still running after {timeout_s} s: {self.lines}") from None
        for reader in self._readers:
            reader.join(timeout_s)
        while (line := self._lines.get(timeout=timeout_s)) is not None:
            self.lines.append(line)
        return status, self.lines, self.errors

    def interrupt(self):
        """Ctrl-C; as `end`."""
        return self.end(signal.SIGINT)


def take_a_call_as(port, agent, phone):
    """What the person's desktop does: log on at the phone, go ready, answer
    the first call offered (the phone is a headset), hang up."""
    with BlockingClient("127.0.0.1", port, timeout=PATIENCE_S) as desk:
        desk.login(agent, "1234", "agent")
        desk.call("MonitorStart", object="device", id=phone)
        desk.call("SetAgentState", state="loggedOn", station=phone)
        desk.call("SetAgentState", state="ready")
        while (event := desk.next_event())[0] != "Delivered":
            pass
        call = event[1]["call"]
        assert desk.call("AnswerCall", call=call) == {"call": call}
        while (event := desk.next_event())[0] != "Established":
            pass
        desk.call("ClearConnection", call=call)


def port_of(demo):
    """The port the demo's CT server listens on, as it prints it."""
    return int(re.search(r"listening on 127\.0\.0\.1:(\d+);",
                         demo.until("CT server listening")).group(1))


def assert_a_summary(status, lines, errors):
    """Status 0, no traceback, the summary printed and adding up."""
    assert status == 0, errors
    assert "Traceback" not in errors and "KeyError" not in errors, errors
    figures = [FIGURES.search(line) for line in lines if FIGURES.search(line)]
    assert len(figures) == 4                                 # overall, then each queue
    for offered, *outcomes in (map(int, f.groups()) for f in figures):
        assert offered == sum(outcomes)


def test_ctrl_c_ends_the_demo_with_its_summary_and_the_human_agent_is_left_alone(tmp_path):
    """The run as a person sees it, --human 1005: the port and how to
    attach, printed; `cti show` attached to that port finds every agent a
    bot's but 1005, which the person then logs on and takes a call with;
    Ctrl-C, and the summary, adding up, status 0.  The duration is far
    longer than all this may take on a loaded machine: Ctrl-C ends it."""
    demo = Running("--duration", "3600", "--rate", "60", "--human", "1005",
                   "--run-dir", str(tmp_path / "run"))
    try:
        port = port_of(demo)
        yours = demo.until("is yours")
        assert f"--server tcp:host=127.0.0.1:port={port} --agent 1005   (password 1234)" in yours
        demo.until("bot agents ready")
        shown = subprocess.run(
            [sys.executable, "-m", "cti", "show", "agents", "--server", f"127.0.0.1:{port}",
             "--json"], capture_output=True, text=True, timeout=PATIENCE_S, check=True,
            env={**os.environ, "CTI_PASSWORD": "1234"})
        states = {a["agent"]: a["state"] for a in json.loads(shown.stdout)}
        assert states.pop("1005") == "loggedOff"
        assert states and "loggedOff" not in states.values()
        take_a_call_as(port, "1005", "msiB1C5")
    finally:
        status, lines, errors = demo.interrupt()
    assert_a_summary(status, lines, errors)
    assert "live view off: standard output is not a terminal" in "\n".join(lines)
    assert "interrupted (SIGINT): ending the demo" in lines
    assert f"every record saved in {tmp_path / 'run'}" in lines
    assert (tmp_path / "run" / "cti.sqlite").exists()


def test_ctrl_c_during_the_start_up_still_ends_with_a_summary(tmp_path):
    demo = Running("--run-dir", str(tmp_path / "run"))
    demo.until("CT server listening")
    status, lines, errors = demo.interrupt()
    assert_a_summary(status, lines, errors)
    assert ("0 calls = 0 offered + 0 served by the IVR alone + 0 in the IVR at the end + "
            "0 other") in lines


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP])
def test_sigterm_and_sighup_end_the_demo_as_ctrl_c_does(tmp_path, signum):
    """SIGHUP (the terminal closed) too: the summary, the records saved."""
    demo = Running("--duration", "3600", "--rate", "60", "--run-dir", str(tmp_path / "run"))
    demo.until("bot agents ready")
    status, lines, errors = demo.end(signum)
    assert_a_summary(status, lines, errors)
    assert f"interrupted ({signum.name}): ending the demo" in lines
    assert f"every record saved in {tmp_path / 'run'}" in lines


def test_a_second_ctrl_c_changes_nothing(tmp_path):
    demo = Running("--duration", "3600", "--rate", "60", "--run-dir", str(tmp_path / "run"))
    demo.until("bot agents ready")
    status, lines, errors = demo.end(signal.SIGINT, signal.SIGINT, signal.SIGINT)
    assert_a_summary(status, lines, errors)
    assert [line for line in lines if line.startswith("interrupted")] == [
        "interrupted (SIGINT): ending the demo"]


def test_a_signal_before_the_demo_runs_is_kept_and_ends_it_once_it_does():
    """The handlers are taken before anything of the demo is made: a
    signal then is kept, and ends the demo as soon as it can be ended."""
    before = {signum: signal.getsignal(signum) for signum in ENDING}
    try:
        signals = EndingSignals().install()
        os.kill(os.getpid(), signal.SIGTERM)
        assert signals.received == "SIGTERM"
        ended = []
        signals.then(ended.append)
        assert ended == ["SIGTERM"]
        os.kill(os.getpid(), signal.SIGHUP)
        assert ended == ["SIGTERM", "SIGHUP"] and signals.received == "SIGTERM"
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)


def test_the_demos_server_refuses_reload_and_keeps_sighup_for_the_demos_end(tmp_path):
    """Its configuration is the file's with the run directory in place of
    the server's: a Reload is refused, saying so."""
    demo = Running("--duration", "3600", "--run-dir", str(tmp_path / "run"))
    try:
        port = port_of(demo)
        demo.until("bot agents ready")
        reload = subprocess.run(
            [sys.executable, "-m", "cti", "reload", "--server", f"127.0.0.1:{port}"],
            capture_output=True, text=True, timeout=PATIENCE_S,
            env={**os.environ, "CTI_PASSWORD": "1234"})
    finally:
        status, lines, errors = demo.end(signal.SIGHUP)
    assert reload.returncode == 2
    assert "a demo's configuration is not reloaded" in reload.stderr
    assert_a_summary(status, lines, errors)
    assert "interrupted (SIGHUP): ending the demo" in lines


def test_cti_demo_json_prints_the_summary_last(tmp_path):
    """--json: the summary, one object of the keys docs/operations.md
    lists, on standard output's last line; the demo's own end (the callers
    hang up, the calls left cleared) is no warning."""
    demo = Running("--duration", "8", "--json", "--rate", "30",
                   "--run-dir", str(tmp_path / "run"))
    status, lines, errors = demo.end()
    assert status == 0, errors
    result = json.loads(lines[-1])
    assert set(result) == JSON_KEYS
    assert set(result["queues"]) == {"sales", "support", "spanish"}
    for figures in result["queues"].values():
        assert set(figures) == QUEUE_KEYS
    assert result["calls"] >= 1 and result["run_dir"] == str(tmp_path / "run")
    assert (result["unsaved"], result["left_in_journal"]) == (0, 0)
    assert not [w for w in result["warnings"] if "draining" in w], result["warnings"]
    assert_every_summary_adds_up(result)
    assert "CT server listening on 127.0.0.1:" in errors       # the rest is on stderr


# -- what a person sees on a terminal ------------------------------------------------------
def test_on_a_terminal_the_warnings_stay_above_the_live_view_and_the_summary(tmp_path):
    """The live view on a terminal (a pseudo-terminal, read by a terminal
    emulator): a span alarm raised with `cti sim` is printed as a warning,
    and the view's redrawing does not erase it; Ctrl-C, and the screen
    keeps the warning, "interrupted" and the summary saying how many
    warnings there were, and no stale drawing of the view.

    Python unbuffered (PYTHONUNBUFFERED, as many a container sets it): a
    drawing that Ctrl-C cut short while the terminal was slow to take it
    (a loaded machine) once lost its end, and the next drawing, erasing as
    many lines as a whole one has, erased the warnings above it
    (test_a_write_cut_short_is_finished)."""
    import pty

    import pyte

    columns, rows = 160, 60
    pid, fd = pty.fork()
    if pid == 0:                                   # the child: cti demo on the terminal
        fcntl.ioctl(0, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
        os.execve(sys.executable, [sys.executable, "-m", "cti", "demo", "--duration", "3600",
                                   "--run-dir", str(tmp_path / "run")],
                  {**os.environ, "COLUMNS": str(columns), "LINES": str(rows),
                   "PYTHONUNBUFFERED": "1"})
    out = bytearray()

    def read():
        """What the terminal shows next; b"" once the demo ended (closed it)."""
        ready, _, _ = select.select([fd], [], [], PATIENCE_S)
        assert ready, f"nothing in {PATIENCE_S} s after {bytes(out[-2000:])!r}"
        try:
            return os.read(fd, 65536)
        except OSError:                            # the terminal is closed
            return b""

    def read_until(done, what):
        deadline = time.monotonic() + PATIENCE_S
        while not done():
            assert time.monotonic() < deadline, \
                f"{what} not in {PATIENCE_S} s: {bytes(out[-2000:])!r}"
            data = read()
            assert data, f"{what} never came: {bytes(out[-2000:])!r}"
            out.extend(data)

    def read_to_the_end():
        while data := read():
            out.extend(data)

    def seen(text):
        return lambda: text.encode() in out

    try:
        read_until(seen("bot agents ready"), "the bots")
        port = int(re.search(rb"listening on 127\.0\.0\.1:(\d+);", out).group(1))
        read_until(seen("longest wait"), "the live view")
        subprocess.run([sys.executable, "-m", "cti", "sim", "alarm", "dtiB1", "red",
                        "--server", f"127.0.0.1:{port}"], check=True, timeout=PATIENCE_S,
                       capture_output=True, env={**os.environ, "CTI_PASSWORD": "1234"})
        read_until(seen("red alarm raised"), "the warning")
        drawn = out.count(b"longest wait")
        read_until(lambda: out.count(b"longest wait") >= drawn + 2, "two drawings more")
        os.kill(pid, signal.SIGINT)
        read_to_the_end()                          # all the demo wrote, to its exit
    except BaseException:
        os.kill(pid, signal.SIGKILL)
        raise
    finally:
        _, status = os.waitpid(pid, 0)
        os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    screen = pyte.HistoryScreen(columns, rows, history=10_000)
    pyte.ByteStream(screen).feed(bytes(out))
    text = "\n".join([*("".join(line[x].data for x in range(columns))
                        for line in screen.history.top),
                      *screen.display])
    assert "cti demo: error: dtiB1: red alarm raised" in text, text
    assert "interrupted (SIGINT): ending the demo" in text
    warned = int(re.search(r"(\d+) warnings? \(printed above\)", text).group(1))
    assert len(re.findall(r"cti demo: (?:warn|error|critical):", text)) == warned
    assert "longest wait" not in text              # the live view went with its figures
    assert FIGURES.search(text)
