# SPDX-License-Identifier: GPL-2.0-or-later
"""The demos: the narrated board tour, and `cti demo`, the simulated call
centre: its summary (every caller offered to a queue is answered,
abandoned, left or cleared at end, overall and queue by queue), its run
directory (never the server's), the lines that say how to attach to it,
and the command itself in a process of its own: Ctrl-C, the port, an
agent left to a person."""
import io
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from dataclasses import replace
from datetime import UTC, datetime

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
    run_directory,
    storage_lines,
)
from cti.demo.summary import OUTCOMES, report, summary
from cti.demo.view import tables
from cti.protocol.client import BlockingClient
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from cti.words import AGENT_STATES, agent_state
from simulators.board_demo import BOARDS, run_scenario
from simulators.callcentre import Profile, Traffic
from tests.centre import Centre, flow_tier
from tests.rig import Rig

CONFIG = "etc/cti.toml"
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
    assert_adds_up(result)
    for figures in result["queues"].values():
        assert_adds_up(figures)
    for key in ("offered", *OUTCOMES):
        assert sum(q[key] for q in result["queues"].values()) == result[key]


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
    assert (result["calls"], result["ivr_only"]) == (8, 1)
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
        "8 calls, 1 served by the IVR alone",
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
    assert_every_summary_adds_up(result)


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


def test_the_demo_keeps_nothing_where_the_server_does(tmp_path):
    """The database (even a PostgreSQL server's), the recordings, the
    journal and the agents' file all go to the run directory."""
    server_side = replace(load_server_config(CONFIG), database="postgresql://cti@db/cti")
    run_dir = run_directory(server_side.var_dir, NOW, tmp_path / "run")
    config = in_run_directory(server_side, run_dir)
    assert config.var_dir == run_dir != server_side.var_dir
    assert config.database == f"sqlite:///{run_dir.resolve() / 'cti.sqlite'}"
    demo = Demo(Clock(), config, None, None, Options(), print, Warnings(sys.stderr))
    assert demo.store.url == config.database and demo.store.journal_dir.parent == run_dir
    assert demo.server.center.layer.recordings_dir == run_dir / "recordings"
    assert demo.server.center.presence.path.parent == run_dir


# -- what the demo says of its records -------------------------------------------------
def test_the_stores_warnings_are_shown_as_they_come_and_counted(tmp_path):
    """A database alarm, records not saved: each a line on standard error
    at once (not only in the log file), and in the summary."""
    shown = io.StringIO()
    warnings = Warnings(shown)
    with open(tmp_path / "cti-demo.log", "w", encoding="utf-8") as log_file:
        observers = log_observers(log_file, LogLevel.info, warnings)
        store_log = Logger(namespace="cti.storage.store.RecordStore",
                           observer=lambda event: [o(event) for o in observers])
        store_log.info("journal {journal}: 0 records not yet in the database", journal="j")
        store_log.critical("database alarm: no record has reached the database {database} "
                           "for {seconds} s", database="cti.sqlite", seconds=30)
        store_log.error("storage: {count} records could not be saved at stop", count=2)
    assert shown.getvalue().splitlines() == [
        "cti demo: critical: database alarm: no record has reached the database cti.sqlite "
        "for 30 s",
        "cti demo: error: storage: 2 records could not be saved at stop"]
    with open(tmp_path / "cti-demo.log", encoding="utf-8") as log_file:
        assert len(list(eventsFromJSONLogFile(log_file))) == 3    # the info line too
    result = {"unsaved": 2, "warnings": warnings.lines, "run_dir": "var/demo/x"}
    assert storage_lines(result) == ["2 records could not be saved (the log has them)",
                                     "2 warnings (printed above)"]
    assert storage_lines({**result, "unsaved": 0, "warnings": []}) == [
        "every record saved in var/demo/x"]


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


def test_a_password_not_the_samples_is_not_printed():
    assert attach.password_words(hash_password("1234")) == "password 1234"
    assert attach.password_words(hash_password("s3cret")) == "its password in the configuration"


# -- `cti demo` itself, in a process of its own ------------------------------------------
class Running:
    """`cti demo ARGS` running, its standard output read line by line."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [sys.executable, "-m", "cti", "demo", *args], stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, text=True)
        self.lines = []
        self._lines = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            self._lines.put(line.rstrip("\n"))
        self._lines.put(None)

    def until(self, text, timeout_s=60):
        """Read up to the line containing `text`; that line."""
        while True:
            line = self._lines.get(timeout=timeout_s)
            assert line is not None, f"{text!r} never came: {self.lines}"
            self.lines.append(line)
            if text in line:
                return line

    def interrupt(self, timeout_s=60):
        """Ctrl-C; (exit status, every line of standard output, standard error)."""
        self.process.send_signal(signal.SIGINT)
        status = self.process.wait(timeout=timeout_s)
        while (line := self._lines.get(timeout=timeout_s)) is not None:
            self.lines.append(line)
        return status, self.lines, self.process.stderr.read()


def take_a_call_as(port, agent, phone):
    """What the person's desktop does: log on at the phone, go ready, answer
    the first call offered (the phone is a headset), hang up."""
    with BlockingClient("127.0.0.1", port, timeout=60) as desk:
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


def test_ctrl_c_ends_the_demo_with_its_summary_and_the_human_agent_is_left_alone(tmp_path):
    """The run as a person sees it, --human 1005: the port and how to
    attach, printed; `cti show` attached to that port finds every agent a
    bot's but 1005, which the person then logs on and takes a call with;
    Ctrl-C, and the summary, adding up, status 0."""
    demo = Running("--duration", "60", "--rate", "60", "--human", "1005",
                "--run-dir", str(tmp_path / "run"))
    try:
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+);",
                             demo.until("CT server listening")).group(1))
        yours = demo.until("is yours")
        assert f"--server tcp:host=127.0.0.1:port={port} --agent 1005   (password 1234)" in yours
        demo.until("bot agents ready")
        shown = subprocess.run(
            [sys.executable, "-m", "cti", "show", "agents", "--server", f"127.0.0.1:{port}",
             "--json"], capture_output=True, text=True, timeout=60, check=True,
            env={**os.environ, "CTI_PASSWORD": "1234"})
        states = {a["agent"]: a["state"] for a in json.loads(shown.stdout)}
        assert states.pop("1005") == "loggedOff"
        assert states and "loggedOff" not in states.values()
        take_a_call_as(port, "1005", "msiB1C5")
    finally:
        status, lines, errors = demo.interrupt()
    assert status == 0, errors
    assert "Traceback" not in errors and "KeyError" not in errors
    assert "live view off: standard output is not a terminal" in "\n".join(lines)
    figures = [FIGURES.search(line) for line in lines if FIGURES.search(line)]
    assert len(figures) == 4                                 # overall, then each queue
    for offered, *outcomes in (map(int, f.groups()) for f in figures):
        assert offered == sum(outcomes)
    assert f"every record saved in {tmp_path / 'run'}" in lines
    assert (tmp_path / "run" / "cti.sqlite").exists()


def test_ctrl_c_during_the_start_up_still_ends_with_a_summary(tmp_path):
    demo = Running("--run-dir", str(tmp_path / "run"))
    demo.until("CT server listening")
    status, lines, errors = demo.interrupt()
    assert status == 0 and "Traceback" not in errors, errors
    assert "0 calls, 0 served by the IVR alone" in lines


def test_cti_demo_json_prints_the_summary_last(tmp_path):
    out = subprocess.run([sys.executable, "-m", "cti", "demo", "--duration", "8", "--json",
                          "--rate", "30", "--run-dir", str(tmp_path / "run")],
                         capture_output=True, text=True, timeout=120, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("offered", *OUTCOMES, "service_level", "asa_s", "aht_s", "queues",
                "unsaved", "warnings"):
        assert key in result
    assert set(result["queues"]) == {"sales", "support", "spanish"}
    assert result["calls"] >= 1 and result["run_dir"] == str(tmp_path / "run")
    assert_every_summary_adds_up(result)
    assert "CT server listening on 127.0.0.1:" in out.stderr   # the rest is on stderr
