# SPDX-License-Identifier: GPL-2.0-or-later
"""linediag against the simulator: readable tables, JSON, span verdicts,
and configuration errors that name the file and key."""
import json

import pytest

from cti import linediag

CONFIG = """
[[boards]]
type = "analog"
lines = 2

[[boards]]
type = "t1"
signalling = "em_wink"

[[boards]]
type = "stations"
count = 2

[[boards]]
type = "conference"
dsps = 1
"""


@pytest.fixture
def config(tmp_path):
    path = tmp_path / "boards.toml"
    path.write_text(CONFIG)
    return str(path)


def test_scan_lists_every_kind_of_device(config, capsys):
    assert linediag.main(["--offline", "-c", config, "scan"]) == 0
    out = capsys.readouterr().out
    for heading in ("SPANS", "ANALOG LINES (2)", "TIMESLOTS (24)", "VOICE RESOURCES (2)",
                    "STATIONS (2)", "CONFERENCE DSPS (1)"):
        assert heading in out
    assert "dtiB1T24" in out and "msiB1C2" in out and "dcbB1D1" in out
    assert "healthy" in out


def test_scan_json_has_state_and_hearing(config, capsys):
    assert linediag.main(["--offline", "-c", config, "scan", "--json"]) == 0
    devices = {d["device"]: d for d in json.loads(capsys.readouterr().out)["devices"]}
    assert devices["dxxxB1C1"]["hook"] == "on"
    assert devices["dxxxB1C1"]["hears"] == devices["dxxxB1C1/line"]["slot"]
    assert devices["dtiB1T1"]["tx_bits"] == "00"
    assert devices["dtiB1"]["verdict"] == "healthy"
    assert devices["dcbB1D1"]["free_parties"] == 32


def test_bus_shows_power_on_routes(config, capsys):
    assert linediag.main(["--offline", "-c", config, "bus"]) == 0
    out = capsys.readouterr().out
    assert "ROUTES (2)" in out
    assert "dxxxB1C1 <-> dxxxB1C1/line" in out


def test_bus_json_lists_every_endpoint(config, capsys):
    assert linediag.main(["--offline", "-c", config, "bus", "--json"]) == 0
    dump = json.loads(capsys.readouterr().out)
    assert len(dump["endpoints"]) == 2 + 2 + 24 + 2
    assert {e["transmits"] for e in dump["endpoints"]} == set(range(4 + 24 + 2))


@pytest.mark.parametrize("alarms,words", [
    ([], "healthy"), (["blue"], "call the carrier"), (["yellow"], "far end cannot see"),
    (["los", "blue"], "loss of signal"),
])
def test_span_verdicts_are_plain(alarms, words):
    assert words in linediag.verdict(alarms)


def test_a_bad_board_type_names_file_and_key(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[[boards]]\ntype = "j1"\n')
    assert linediag.main(["--offline", "-c", str(path), "scan"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "boards[0].type" in err and "'j1'" in err


def test_a_missing_or_broken_config_is_reported(tmp_path, capsys):
    assert linediag.main(["--offline", "-c", str(tmp_path / "none.toml"), "scan"]) == 2
    assert "no such file" in capsys.readouterr().err
    broken = tmp_path / "broken.toml"
    broken.write_text("[[boards]\n")
    assert linediag.main(["--offline", "-c", str(broken), "scan"]) == 2
    assert "not valid TOML" in capsys.readouterr().err


def test_a_wrong_value_names_the_key(tmp_path, capsys):
    path = tmp_path / "lines.toml"
    path.write_text('[[boards]]\ntype = "analog"\nlines = "four"\n')
    assert linediag.main(["--offline", "-c", str(path), "scan"]) == 2
    err = capsys.readouterr().err
    assert "boards[0].lines" in err and "positive integer" in err


def test_the_running_server_answers_what_linediag_asks():
    """GetLineStatus and GetBusMap: the boards as the server drives them,
    a call up on a timeslot and its route on the bus."""
    from tests.centre import Centre

    centre = Centre()
    centre.server.startService()
    try:
        admin = centre.client()
        centre.call(admin.login("admin", "1234", "admin"))
        centre.sim.endpoint("dtiB1T3").call(ani="2125550001", dnis="5550199")
        centre.run_until(lambda: centre.server.channels["dtiB1T3"].state == "connected",
                         what="the call answered")
        rows = {r["device"]: r for r in centre.call(admin.call("GetLineStatus"))["devices"]}
        assert (rows["dtiB1T3"]["rx_bits"], rows["dtiB1T3"]["tx_bits"]) == ("11", "11")
        assert rows["dtiB1T4"]["rx_bits"] == "00"
        assert rows["dtiB1"]["verdict"] == "healthy"
        dump = centre.call(admin.call("GetBusMap"))
        assert any("dtiB1T3" in route for route in dump["routes"])
        supervisor = centre.client()
        centre.call(supervisor.login("sup", "1234", "supervisor"))
        with pytest.raises(Exception, match="forbidden"):
            centre.call(supervisor.call("GetLineStatus"))
    finally:
        centre.center.stop()


class Through:
    """A protocol client of tests.centre made blocking, as linediag's
    Attached source wants it; time runs while it waits."""

    def __init__(self, centre, client):
        self.centre, self.client = centre, client

    def call(self, service, **params):
        return self.centre.call(self.client.call(service, **params))

    def close(self):
        pass


@pytest.fixture
def attached():
    from cti.linediag.source import Attached
    from tests.centre import Centre

    centre = Centre()
    centre.server.startService()
    client = centre.client()
    centre.call(client.login("admin", "1234", "admin"))
    yield centre, Attached(Through(centre, client))
    centre.center.stop()


def linediag_run(source, *argv, sleep=None):
    import io

    out = io.StringIO()
    args = linediag.parser().parse_args(list(argv))
    assert linediag.run(args, source, out, **({"sleep": sleep} if sleep else {})) == 0
    return out.getvalue()


def test_spans_show_an_alarm_raised_mid_call_with_its_duration(attached):
    centre, source = attached
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.calls, what="a call")
    centre.sim.span_alarm("dtiB1", "blue")
    centre.run(65_000)
    text = linediag_run(source, "spans", "dtiB1")
    assert not centre.center.calls
    assert "SPAN dtiB1  down  esf/b8zs, clock line, em_wink" in text
    assert "alarms now: blue" in text
    [row] = [line for line in text.splitlines() if line.strip().startswith("blue")]
    assert "(up)" in row and row.rstrip()[-4:] in ("1:04", "1:05")      # 65 s


def test_counters_and_bits_read_as_tables(attached):
    centre, source = attached
    centre.sim.endpoint("dtiB1T2").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.server.channels["dtiB1T2"].state == "connected",
                     what="answered")
    centre.sim.span_errors("dtiB1", crc=5)
    centre.run(2_000)
    counters = linediag_run(source, "counters")
    assert "SPAN dtiB1  esf  available" in counters
    header, now = counters.splitlines()[1:3]
    assert header.split()[:5] == ["INTERVAL", "ES", "SES", "SEFS", "UAS"]
    assert now.split(")")[1].split()[:2] == ["1", "0"]   # "now (2.0 s)": ES 1, SES 0
    bits = linediag_run(source, "bits", "dtiB1")
    [t2] = [line for line in bits.splitlines() if "dtiB1T2 " in line]
    assert "11  far end: off-hook (seized or answered)" in t2 and "connected" in t2


def test_a_followed_bert_prints_its_results_until_it_ends(attached):
    centre, source = attached
    linediag_run(source, "loopcode", "dtiB1", "line_up")
    centre.run(6_000)
    text = linediag_run(source, "bert", "dtiB1T3", "--seconds", "3", "--follow",
                        sleep=lambda s: centre.run(int(s * 1000)))
    last = text.splitlines()[-3:]
    assert "ended" in last[0] and "sync yes" in last[1] and "errors 0" in last[1]
    assert centre.server.channels["dtiB1T3"].snapshot()["held"] == ["far loop"]


def test_the_doctor_finds_a_framing_mismatch_and_nothing_on_a_healthy_span(attached):
    centre, source = attached
    centre.run(2_000)
    assert linediag_run(source, "doctor").startswith("no finding")
    centre.sim.far_span_config("dtiB1", framing="d4")
    centre.run(15_000)
    text = linediag_run(source, "doctor")
    assert text.startswith("ERROR framing.mismatch  dtiB1")
    assert "fix:" in text


def test_options_may_follow_the_command():
    args = linediag.parser().parse_args(["scan", "--server", "127.0.0.1:7", "--json"])
    assert (args.server, args.json, args.config, args.offline) == (
        "127.0.0.1:7", True, "etc/cti.toml", False)
    args = linediag.parser().parse_args(["--server", "h:1", "bits"])
    assert args.server == "h:1"


def test_offline_there_are_no_span_reports(config, capsys):
    assert linediag.main(["--offline", "-c", config, "counters"]) == 2
    assert "run without --offline" in capsys.readouterr().err


class Refreshed(Exception):
    """linediag watch's sleep, ending the watch after one screen."""


def one_screen(source, size, *argv):
    import io

    def sleep(seconds):
        raise Refreshed

    out = io.StringIO()
    args = linediag.parser().parse_args(["watch", *argv])
    with pytest.raises(Refreshed):
        linediag._watch(args, source, out, sleep, size=lambda: size)
    return out.getvalue().splitlines()


def test_watch_fits_a_small_terminal_with_the_state_on_top(attached):
    """80 x 24, a call up and an alarm history: the screen is at most 23
    lines of at most 80 characters; the span's state and alarms are at
    the top, the counters follow, and every timeslot's bits are there,
    summed up in a grid."""
    centre, source = attached
    for _ in range(3):
        centre.sim.span_alarm("dtiB1", "yellow")
        centre.run(2_000)
        centre.sim.span_alarm("dtiB1", "yellow", False)
        centre.run(2_000)
    centre.run_until(lambda: centre.server.channels["dtiB1"].state == "in_service",
                     within_ms=120_000, what="the span back in service")
    centre.sim.endpoint("dtiB1T2").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.server.channels["dtiB1T2"].state == "connected",
                     what="answered")
    lines = one_screen(source, (80, 24))
    assert len(lines) <= 23 and max(map(len, lines)) <= 80, "\n".join(lines)
    assert lines[0].startswith("linediag watch")
    assert lines[2].startswith("SPAN dtiB1  ")
    assert lines[3].startswith("  alarms now: none; 3 in history, the last yellow 2.0 s, "
                               "cleared ")
    assert any(line.split()[:2] == ["INTERVAL", "ES"] for line in lines)
    grid = " ".join(lines)
    assert all(f"T{n} " in grid for n in range(1, 25))
    assert "T2 11/11 conn" in grid


def test_watch_shows_the_bits_meanings_when_the_terminal_is_tall_enough(attached):
    _, source = attached
    lines = one_screen(source, (160, 60))
    assert len(lines) <= 59
    assert any("dtiB1T24" in line and "on-hook (idle)" in line for line in lines)


def test_watch_on_a_tiny_terminal_keeps_the_state_and_says_what_is_cut(attached):
    _, source = attached
    lines = one_screen(source, (60, 10))
    assert len(lines) == 9 and max(map(len, lines)) <= 60
    assert lines[2].startswith("SPAN dtiB1  ")
    assert lines[-1].startswith("... ") and "more lines" in lines[-1]
