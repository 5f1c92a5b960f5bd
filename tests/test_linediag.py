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
    for heading in ("SPANS", "ANALOG LINES (2)", "T1 TIMESLOTS (24)", "VOICE RESOURCES (2)",
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
    path.write_text('[[boards]]\ntype = "e1"\n')
    assert linediag.main(["--offline", "-c", str(path), "scan"]) == 2
    err = capsys.readouterr().err
    assert "bad.toml" in err and "boards[0].type" in err and "'e1'" in err


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
