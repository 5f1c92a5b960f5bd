# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti show`: tables of the running server's snapshots, against a known
state (tests.centre: the server in virtual time; the snapshots read as
`cti show` reads them, every page of `Snapshot` id `*`)."""
import json

import pytest

from cti import show
from tests.centre import Centre
from tests.test_callcenter import agent_ready

PASSWORD = "1234"


@pytest.fixture
def centre():
    centre = Centre()
    centre.server.startService()
    agent_ready(centre, "1005", "msiB1C5")
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.sim.endpoint("msiB1C5").state == "ringing", what="rings")
    centre.sim.endpoint("msiB1C5").offhook()
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: len(centre.center.calls) == 2, what="two calls")
    centre.run(2_000)
    yield centre
    centre.center.stop()


def snapshots(centre, what):
    admin = centre.client()
    centre.call(admin.login("admin", PASSWORD, "admin"))
    return centre.call(admin.snapshot_all(show.TABLES[what][0]))


def table(centre, what):
    return {row[0]: row for row in show.rows(what, snapshots(centre, what))}


def test_channels(centre):
    rows = table(centre, "channels")
    assert rows["dtiB1T1"][1:4] == ["trunk", "pstn_in", "connected"]
    assert rows["dtiB1T1"][5:7] == ["2125550001", "5550199"]
    assert rows["msiB1C5"][1:4] == ["station", "floor", "talking"]
    assert "dtiB1" not in rows                       # a span: cti show spans


def test_an_idle_trunk_shows_no_numbers_of_its_last_call(centre):
    """The calls end, the trunks go idle: no ani or dnis left from them."""
    centre.sim.endpoint("dtiB1T1").hangup()
    centre.sim.endpoint("dtiB1T2").hangup()
    centre.run_until(lambda: not centre.center.calls, what="the calls end")
    centre.run(2_000)
    rows = table(centre, "channels")
    for trunk in ("dtiB1T1", "dtiB1T2"):
        assert rows[trunk][3] == "idle"
        assert rows[trunk][5:7] == ["", ""], rows[trunk]


def test_spans(centre):
    centre.sim.span_alarm("dtiB1", "red")
    centre.run(100)
    [row] = table(centre, "spans").values()
    assert row[0:2] == ["dtiB1", "down"] and row[3] == "red"
    assert row[5] == "red 0:00 (up)"
    assert row[4] == "24/24"        # the two that had calls too: their far ends are gone


def test_calls(centre):
    rows = sorted(table(centre, "calls").values(), key=lambda r: r[3])
    assert [(r[1], r[3], r[4], r[6]) for r in rows] == [
        ("talking", "2125550001", "5550199", "1005"), ("queued", "2125550002", "5550199", "-")]


def test_queues(centre):
    row = table(centre, "queues")["support"]
    assert row[2] == "1" and row[5:8] == ["2", "1", "0"]
    assert "on a call 1" in row[8]                  # the state words of cti.words


def test_agents(centre):
    rows = table(centre, "agents")
    assert (rows["1005"][2], rows["1005"][5], rows["1005"][6]) == (
        "on a call", "msiB1C5", centre.center.acd.agents["1005"].call.id)
    assert rows["1001"][2] == "logged off"


def test_the_text_table_and_json(centre, capsys):
    text = show.render("queues", snapshots(centre, "queues"))
    assert text.splitlines()[0].strip() == "queues (3)"
    assert "support" in text and "longest" in text
    json.dumps(snapshots(centre, "spans"))           # what --json prints is plain JSON


def test_no_server_is_one_line_and_status_2(tmp_path, capsys):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    password = tmp_path / "pw"
    password.write_text("1234\n")
    assert show.main(["agents", "--server", f"127.0.0.1:{port}",
                      "--password-file", str(password)]) == 2
    assert capsys.readouterr().err.startswith("cti show: ")
