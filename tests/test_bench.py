# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmarks still run against the code they measure: a tiny run of
bench.acd's workload through the real router (no timing is asserted)."""
import json

import pytest

import bench.acd


def test_the_acd_benchmark_runs_its_workload_on_the_router(monkeypatch):
    monkeypatch.setattr(bench.acd, "PICKS", 50)
    picks, changes = bench.acd.run(300)
    assert len(picks) == 100 and changes
    assert all(us >= 0 for us in picks + changes)


def test_the_fuzz_benchmark_runs_against_the_real_server():
    """A small run of bench.fuzz: the server process, every role, hostile
    frames, the answers matched (the figures themselves are measured by
    running it, not asserted here, except that nothing went unanswered)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bench.fuzz", "--frames", "3000",
                           "--parallel", "3", "--per-connection", "1000",
                           "--warm-up", "100", "--settle", "0.1"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["frames"] == 3000 and result["connections"] == 3
    assert (result["unanswered"], result["answered_twice"], result["tracebacks"]) == (0, 0, 0)


def test_the_login_timing_benchmark_runs():
    import bench.logins

    result = bench.logins.run(3)
    assert result["tries"] == 3 and result["ratio"] > 0


def test_the_faults_benchmark_crashes_a_server_with_calls_up_and_loses_nothing():
    """bench.faults' crash part, small: the server killed with calls up
    during a database outage, then started on a good database."""
    import bench.faults

    result = bench.faults.crash(30)
    assert result["crash_calls_up"] > 0 and result["recovered_calls"] == result["crash_calls_up"]
    assert (result["records_lost"], result["calls_without_record"]) == (0, 0)


def test_the_drivers_benchmark_carries_events_through_every_path():
    """A small run of bench.drivers: every event through the event thread,
    the descriptor pump and the DAHDI device layer (the figures are
    measured by running it)."""
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", "bench.drivers", "3000"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == 3000 and result["cores"] >= 1
    assert set(result["events_per_second"]) == {"r4_event_thread", "r4_descriptor_pump",
                                                "dahdi_device_layer"}
    assert all(v > 0 for v in result["events_per_second"].values())


def test_the_dsp_benchmark_counts_talk_off_on_the_speech_corpus():
    """bench.dsp's talk-off figure is what tests/test_dtmf_receiver.py
    measures on bench.talkoff's corpus with keys A-D off (and bounds
    there), per 30 minutes."""
    from drivers.r4 import HAS_SIMULATOR

    if not HAS_SIMULATOR:
        pytest.skip("a vendor SDK build has no simulated DSP")
    import bench.dsp
    from bench import talkoff
    from tests.test_dtmf_receiver import talkoff_totals

    assert bench.dsp.talkoff_per_30min() == talkoff_totals()[0] * 30 / talkoff.MINUTES


def test_the_console_benchmark_redraws_the_supervisors_grid():
    """bench.console's grid, small: the times tick, the widths follow."""
    import asyncio

    import bench.console

    ms, widths = asyncio.run(bench.console.redraw_ms(30, redraws=2))
    assert ms > 0
    assert widths[5] == len("1:00:02")             # the agent in its state past an hour


def test_the_lines_benchmark_runs_r2_calls_on_e1_spans():
    """A small run of bench.lines' e1_spans_realtime_factor: China MFC/R2
    calls on every timeslot of two spans, each answered with its numbers."""
    import bench.lines

    factor, cpu_factor, answered, offered, errors = bench.lines.e1_spans_realtime_factor(
        30, spans=2, hold_s=5)                  # a call every 9 s on each timeslot
    assert factor > 0 and cpu_factor > 0 and errors == 0
    lines = 2 * bench.lines.TIMESLOTS
    assert answered >= 2 * lines and 0 <= offered - answered <= lines


def test_the_lines_benchmark_offers_every_pri_call_it_places():
    """A small run of bench.lines: calls from the telco's libpri through the
    driver to the offer, each channel back to idle for the next."""
    import bench.lines

    result = bench.lines.pri_call_setups_per_second(90)
    assert result["calls"] == 90 and result["pri_call_setups_per_second"] > 0
