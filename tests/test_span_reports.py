# SPDX-License-Identifier: GPL-2.0-or-later
"""The technicians' services on a running server (tests.centre, virtual
time): span reports whose performance counters are what T1.231 predicts
for injected errors, an alarm in the history with its duration, loop
codes and loopbacks holding the span, and BERTs measuring the bit error
rate injected."""
import json
import shutil
from pathlib import Path

import pytest

from drivers.errors import SimulatorError
from tests.centre import Centre, admin, refused

PASSWORD = "1234"



def report(centre, client, span="dtiB1", intervals=0):
    [one] = centre.call(client.call("GetSpanReports", span=span, intervals=intervals))["spans"]
    return one



def next_poll(centre):
    """Run until the span's counters are read again (once a second)."""
    watch = centre.server.span_watches.watches["dtiB1"]
    before = watch.counters
    centre.run_until(lambda: watch.counters is not before, within_ms=1100, what="a poll")


def each_second(centre, seconds, **errors):
    """`errors` in each of the next `seconds` seconds, as the poller sees
    them: injected just after a poll, counted at the next."""
    for _ in range(seconds):
        if errors:
            centre.sim.span_errors("dtiB1", **errors)
        next_poll(centre)


def test_injected_errors_give_the_seconds_the_definitions_predict(centre):
    """ESF: 5 s of 1 CRC error (ES, not bursty), 3 s of 40 (ES and BES),
    15 s of 400 (SES: from the 10th they are unavailable, the 10 before
    too), then 10 clean seconds (available again, counted so).  By hand:
    ES 8, BES 3, SES 0, UAS 15, CV-P 5 + 120 (the 400s count UAS only)."""
    client = admin(centre)
    next_poll(centre)                               # the first poll: a baseline
    each_second(centre, 5, crc=1)
    each_second(centre, 3, crc=40)
    each_second(centre, 15, crc=400)
    each_second(centre, 10)
    current = report(centre, client)["performance"]["current"]
    assert (current["es"], current["bes"], current["ses"], current["uas"]) == (8, 3, 0, 15)
    assert current["pcv"] == 125 and current["css"] == 0


def test_slips_and_code_violations_count_as_their_own_seconds(centre):
    client = admin(centre)
    next_poll(centre)
    each_second(centre, 4, slips=1)
    each_second(centre, 2, bpv=3)
    current = report(centre, client)["performance"]["current"]
    assert (current["css"], current["es"], current["les"], current["lcv"]) == (4, 4, 2, 6)


def test_an_alarm_mid_call_clears_it_and_stays_in_the_history_with_its_duration(centre):
    client = admin(centre)
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.calls, what="a call")
    centre.call(client.call("SimAlarm", span="dtiB1", alarm="red"))
    centre.run_until(lambda: not centre.center.calls, what="the call cleared")
    centre.run(4000)
    centre.call(client.call("SimAlarm", span="dtiB1", alarm="red", on=False))
    centre.run(100)
    span = report(centre, client)
    [alarm] = span["alarmHistory"]
    assert alarm["alarm"] == "red" and alarm["cleared"] is not None
    assert alarm["durationS"] == pytest.approx(4.0, abs=0.2)
    assert span["state"] == "recovering"


def test_a_report_has_the_line_settings_bits_and_counters(centre):
    client = admin(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.server.channels["dtiB1T2"].state == "connected",
                     what="answered")
    span = report(centre, client)
    assert span["configured"] == {"type": "t1", "framing": "esf", "coding": "b8zs",
                                  "clock": "line", "signalling": "em_wink"}
    slots = {t["device"]: t for t in span["timeslots"]}
    assert len(slots) == 24
    assert (slots["dtiB1T2"]["rxBits"], slots["dtiB1T2"]["state"]) == ("11", "connected")
    assert (slots["dtiB1T3"]["rxBits"], slots["dtiB1T3"]["state"]) == ("00", "idle")
    assert span["loopback"] == "none" and span["counters"]["bpv"] == 0


def test_a_far_end_loop_and_a_bert_measure_the_error_rate_injected(centre):
    client = admin(centre)
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_up"))
    centre.run(6000)                                 # 5 s of loop-up code latch it
    assert centre.sim.far_loopback("dtiB1") == "line"
    assert centre.server.channels["dtiB1T1"].state == "out_of_service"
    assert report(centre, client)["farLoop"] == "line_up"
    centre.call(client.call("SimBitErrors", span="dtiB1", ber=1e-4))
    started = centre.call(client.call("StartBert", device="dtiB1", pattern="qrss",
                                      seconds=20))
    assert started["running"] and started["pattern"] == "qrss"
    centre.run(10_000)
    live = centre.call(client.call("GetBertResults", device="dtiB1"))["results"]
    assert live["sync"] and live["bits"] > 10_000_000
    assert live["ber"] == pytest.approx(1e-4, rel=0.15)
    assert centre.server.channels["dtiB1T5"].snapshot()["held"] == ["bert", "far loop"]
    final = centre.call(client.call("StopBert", device="dtiB1"))
    assert not final["running"] and final["results"]["errors"] > 0
    assert centre.server.channels["dtiB1T5"].snapshot()["held"] == ["far loop"]
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_down"))
    centre.run(6000)
    assert centre.server.channels["dtiB1T5"].state == "idle"


def test_a_bert_with_nothing_looping_back_never_syncs_and_ends_by_itself(centre):
    client = admin(centre)
    centre.call(client.call("StartBert", device="dtiB1T7", pattern="2^15-1", seconds=5))
    assert centre.server.channels["dtiB1T7"].state == "out_of_service"
    assert centre.server.channels["dtiB1T8"].state == "idle"     # only the timeslot tested
    centre.run(6000)
    results = centre.call(client.call("GetBertResults", device="dtiB1T7"))
    assert not results["running"] and not results["results"]["sync"]
    assert centre.server.channels["dtiB1T7"].state == "idle"


def test_a_test_is_refused_while_calls_are_up_and_nothing_is_held(centre):
    client = admin(centre)
    centre.sim.endpoint("dtiB1T4").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.server.channels["dtiB1T4"].state == "connected",
                     what="answered")
    error = refused(centre, client, "StartBert", device="dtiB1")
    assert error.code == "invalid_state" and "dtiB1T4 (connected)" in str(error)
    error = refused(centre, client, "SetSpanLoopback", span="dtiB1", mode="line")
    assert error.code == "invalid_state"
    assert all(not c.held for c in centre.server.span_watches.watches["dtiB1"].timeslots)
    assert centre.server.channels["dtiB1T5"].state == "idle"


def test_our_loopback_holds_the_span_until_it_is_taken_off(centre):
    client = admin(centre)
    assert centre.call(client.call("SetSpanLoopback", span="dtiB1", mode="local")) == {
        "span": "dtiB1", "loopback": "local"}
    assert report(centre, client)["loopback"] == "local"
    slots = {t["device"]: t for t in report(centre, client)["timeslots"]}
    assert slots["dtiB1T1"]["txBits"] == "11"          # busied out: the carrier seizes none
    with pytest.raises(SimulatorError, match="busy"):
        centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.call(client.call("SetSpanLoopback", span="dtiB1", mode="none"))
    assert report(centre, client)["loopback"] == "none"
    assert centre.server.channels["dtiB1T1"].state == "idle"
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.calls, what="calls taken again")


def test_bad_requests_name_what_is_wrong(centre):
    client = admin(centre)
    assert refused(centre, client, "GetSpanReports", span="dtiB9").code == "no_such_object"
    assert refused(centre, client, "StartBert", device="msiB1C1").code == "no_such_object"
    assert refused(centre, client, "StartBert", device="dtiB1",
                   seconds=0).body["field"] == "seconds"
    assert refused(centre, client, "GetBertResults", device="dtiB1").code == "no_such_object"
    assert refused(centre, client, "StopBert", device="dtiB1").code == "no_such_object"
    centre.call(client.call("StartBert", device="dtiB1T1"))
    error = refused(centre, client, "StartBert", device="dtiB1")
    assert error.code == "invalid_state" and "a BERT runs on dtiB1T1" in str(error)


def held(centre, device="dtiB1T5"):
    return centre.server.channels[device].snapshot()["held"]


def test_a_far_loop_is_let_go_only_by_its_own_loop_down_once_it_was_sent(centre):
    client = admin(centre)
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_up"))
    centre.run(6000)
    error = refused(centre, client, "SendSpanLoopCode", span="dtiB1", code="payload_down")
    assert error.code == "invalid_field" and "line_down undoes it" in str(error)
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_down"))
    centre.run(500)
    assert held(centre) == ["far loop"]                  # the code is still going out
    centre.run_until(lambda: not held(centre), within_ms=15_000, what="the hold let go")
    assert centre.sim.far_loopback("dtiB1") == "none"
    assert centre.server.channels["dtiB1T5"].state == "idle"


def test_a_refused_request_keeps_the_holds_that_were_there(centre):
    client = admin(centre)
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_up"))
    centre.run(6000)
    centre.call(client.call("StartBert", device="dtiB1T5", seconds=60))
    error = refused(centre, client, "SendSpanLoopCode", span="dtiB1", code="line_up")
    assert error.code in ("resource_busy", "invalid_state")
    assert held(centre, "dtiB1T9") == ["far loop"] and held(centre) == ["bert", "far loop"]


def test_a_board_fault_leaves_nothing_held_and_says_so(centre, monkeypatch):
    from drivers.errors import BoardError

    client = admin(centre)

    def broken(*args):
        raise BoardError("the framer did not answer")
    monkeypatch.setattr(centre.driver, "span_loopback", broken)
    error = refused(centre, client, "SetSpanLoopback", span="dtiB1", mode="line")
    assert error.code == "invalid_state" and "the framer did not answer" in str(error)
    assert not held(centre) and centre.server.channels["dtiB1T5"].state == "idle"
    centre.call(client.call("StartBert", device="dtiB1T2", seconds=60))
    monkeypatch.setattr(centre.driver, "bert_stop", broken)
    final = centre.call(client.call("StopBert", device="dtiB1T2"))
    assert not final["running"] and "the framer did not answer" in final["results"]["error"]
    assert not held(centre, "dtiB1T2")


def test_stopping_takes_the_loops_down_and_a_loop_found_at_start_is_held(centre):
    from cti.server.maintenance.linetests import LineTests

    client = admin(centre)
    centre.call(client.call("SetSpanLoopback", span="dtiB1", mode="payload"))
    centre.call(client.call("SendSpanLoopCode", span="dtiB1", code="line_up"))
    centre.run(6000)
    centre.server.line_tests.stop()
    assert centre.driver.status("dtiB1")["loopback"] == "none"
    centre.driver.span_loopback("dtiB1", "local")       # looped by someone else
    for channel in centre.server.span_watches.watches["dtiB1"].timeslots:
        channel.held.clear()
        channel.back_in_service()
    tests = LineTests(centre.clock, centre.driver, centre.server.span_watches,
                      lambda *a, **k: None)
    tests.start()
    assert held(centre) == ["loopback"]


def test_reports_carry_the_intervals_asked_for_and_the_doctor_runs_on_the_server(centre):
    client = admin(centre)
    centre.run(901_000)                                   # one 15-minute interval completed
    [span] = centre.call(client.call("GetSpanReports", intervals=4))["spans"]
    assert len(span["performance"]["intervals"]) == 1
    assert report(centre, client)["performance"]["intervals"] == []
    assert refused(centre, client, "GetSpanReports", intervals=97).body["field"] == "intervals"
    answer = centre.call(client.call("Diagnose"))
    assert answer["findings"] == [] and {s["rule"] for s in answer["skipped"]} >= {"tones.zone"}


def test_a_span_whose_driver_gives_no_counters_is_still_reported(monkeypatch):
    from drivers.errors import DriverNotSupported

    centre = Centre()

    def unsupported(span):
        raise DriverNotSupported("no such function in this SDK", function="dt_getcounters")
    monkeypatch.setattr(centre.driver, "span_counters", unsupported)
    centre.server.startService()
    try:
        span = report(centre, admin(centre))
        assert span["performance"] is None and span["state"] == "in_service"
        assert len(span["timeslots"]) == 24
    finally:
        centre.center.stop()


def test_the_telco_s_errors_and_line_settings_from_outside(centre):
    """SimLineErrors second by second, SimFarLine's framing mismatch: what
    a technician then reads in the span's report."""
    client = admin(centre)
    next_poll(centre)
    centre.call(client.call("SimLineErrors", span="dtiB1", errors={"crc": 2}, seconds=3))
    for _ in range(4):
        next_poll(centre)
    current = report(centre, client)["performance"]["current"]
    assert (current["es"], current["bes"], current["pcv"]) == (3, 3, 6)
    error = refused(centre, client, "SimLineErrors", span="dtiB1", errors={"ais": "no"})
    assert error.body["field"] == "errors" and "true or false" in str(error)
    centre.call(client.call("SimFarLine", span="dtiB1", framing="d4"))
    centre.run(5_000)
    span = report(centre, client)
    assert "red" in span["alarms"] or "oof" in span["alarms"]
    centre.call(client.call("SimFarLine", span="dtiB1", framing="esf"))
    centre.run(15_000)
    assert report(centre, client)["alarms"] == []


@pytest.fixture
def e1_centre(tmp_path):
    """The sample server with an E1 CAS span dtiB2 and an E1 CCS span dtiB3
    added to its boards, in no trunk group."""
    etc = tmp_path / "etc"
    shutil.copytree(Path(__file__).resolve().parent.parent / "etc", etc)
    with open(etc / "boards.toml", "a") as boards:
        boards.write('\n[[boards]]\ntype = "e1"\n\n[[boards]]\ntype = "e1"\n'
                     'signalling = "ccs"\n')
    centre = Centre(config=str(etc / "cti.toml"))
    centre.server.startService()
    yield centre
    centre.center.stop()


def test_a_crc4_mismatch_on_an_e1_is_reported_and_diagnosed(e1_centre):
    centre = e1_centre
    client = admin(centre)
    centre.sim.far_span_config("dtiB2", crc4=False)
    centre.run(3_000)
    span = report(centre, client, "dtiB2")
    assert (span["state"], span["alarms"], span["multiframesLost"]) == (
        "unused", ["lmfa"], ["crc4"])
    assert span["configured"] == {"type": "e1", "framing": "e1_crc4", "coding": "hdb3",
                                  "clock": "line", "signalling": "cas"}
    assert span["performance"]["framing"] == "e1_crc4"
    assert {"bbe", "febe"} <= set(span["performance"]["current"])
    assert {t["rxBits"] for t in span["timeslots"]} == {"1001"}
    assert len(span["timeslots"]) == 30
    findings = centre.call(client.call("Diagnose"))["findings"]
    # in no trunk group: dtiB2 (E1 CAS) and dtiB3 (E1 CCS); and dtiB2's CRC-4
    assert [(f["rule"], f["where"][:5]) for f in findings] == [
        ("span.unused", "dtiB2"), ("span.unused", "dtiB3"), ("crc4.mismatch", "dtiB2")]
    rows = {r["device"]: r for r in centre.call(client.call("GetLineStatus"))["devices"]}
    assert rows["dtiB3"]["dchannel"] == "dtiB3D" and rows["dtiB3D"]["kind"] == "dchannel"
    assert rows["dtiB2"]["type"] == "e1" and rows["dtiB2T30"]["tx_bits"] == "1001"


def test_the_telco_s_e1_settings_from_outside(e1_centre):
    """SimFarLine on an E1: CRC-4 off at the far end shows as on a real
    span; the settings of the other kind of span are refused by name."""
    centre = e1_centre
    client = admin(centre)
    centre.call(client.call("SimFarLine", span="dtiB2", crc4=False))
    centre.run(3_000)
    assert report(centre, client, "dtiB2")["alarms"] == ["lmfa"]
    for span, params, field in (("dtiB2", {"framing": "d4"}, "framing"),
                                ("dtiB1", {"crc4": False}, "crc4"),
                                ("dtiB1", {"signalling": "ccs"}, "signalling"),
                                ("dtiB1", {"coding": "hdb3"}, "coding")):
        error = refused(centre, client, "SimFarLine", span=span, **params)
        assert (error.code, error.body["field"]) == ("invalid_field", field), error
        assert span in str(error) or "T1 span" in str(error)


def test_alarms_and_counters_outlive_a_restart_and_a_day_drops_the_intervals(tmp_path):
    """A server on a var directory: errors and an alarm in the quarter
    hour ending at `quarter_end` (virtual wall clock), then it stops.  The
    next server on the same var directory, a minute after the quarter,
    reports the same alarm (with its duration) and the completed interval
    with its errored seconds, in the 24-hour total too; one started more
    than a day later still has the alarm, but no interval of that day."""
    from twisted.internet import task

    def server_at(seconds):
        clock = task.Clock()
        clock.advance(seconds)
        centre = Centre(var_dir=tmp_path, clock=clock)
        centre.server.startService()
        return centre, admin(centre)

    def stop(centre):
        centre.server.drain_s = 0
        centre.call(centre.server.stopService())

    quarter_end = 1_700_000_100 + 900
    first, client = server_at(quarter_end - 30)
    next_poll(first)
    each_second(first, 5, crc=1)                         # 5 ES, 5 CV-P
    first.call(client.call("SimAlarm", span="dtiB1", alarm="yellow"))
    first.run(3000)
    first.call(client.call("SimAlarm", span="dtiB1", alarm="yellow", on=False))
    first.run(30_000)                                    # past the quarter: it completes
    assert report(first, client, intervals=1)["performance"]["intervals"][0]["es"] == 5
    stop(first)

    second, client = server_at(quarter_end + 60)
    span = report(second, client, intervals=4)
    [alarm] = span["alarmHistory"]
    assert alarm["alarm"] == "yellow" and alarm["durationS"] == pytest.approx(3.0, abs=0.2)
    interval = span["performance"]["intervals"][0]
    assert interval["start"] == quarter_end - 900
    assert (interval["es"], interval["pcv"], interval["valid"]) == (5, 5, False)  # began late
    assert span["performance"]["total24h"]["es"] == 5
    stop(second)

    third, client = server_at(quarter_end + 25 * 3600)
    span = report(third, client, intervals=96)
    assert [a["alarm"] for a in span["alarmHistory"]] == ["yellow"]
    assert span["performance"]["intervals"] == []
    assert span["performance"]["total24h"]["es"] == 0
    stop(third)


def test_a_history_file_that_cannot_be_understood_is_left_out(tmp_path):
    """A torn or foreign file: the server starts without the last run's
    history, and writes its own over it."""
    (tmp_path / "span-history.json").write_text('{"at": 1, "spans": {"dtiB1": {"alarms": [{')
    centre = Centre(var_dir=tmp_path)
    centre.server.startService()
    client = admin(centre)
    next_poll(centre)
    assert report(centre, client)["alarmHistory"] == []
    centre.server.drain_s = 0
    centre.call(centre.server.stopService())
    saved = json.loads((tmp_path / "span-history.json").read_text())
    assert saved["spans"]["dtiB1"]["alarms"] == []


@pytest.mark.parametrize("spans", [
    {"dtiB1": []},                                       # a span's history not a table
    {"dtiB1": {"alarms": [], "performance": ["esf"]}},   # its performance not one either
])
def test_a_history_file_of_the_wrong_shape_is_left_out_and_the_server_starts(tmp_path,
                                                                              spans):
    """Valid JSON, not a history: the server starts without it."""
    (tmp_path / "span-history.json").write_text(json.dumps({"at": 1, "spans": spans}))
    centre = Centre(var_dir=tmp_path)
    centre.server.startService()
    client = admin(centre)
    next_poll(centre)
    assert report(centre, client)["alarmHistory"] == []
    centre.server.drain_s = 0
    centre.call(centre.server.stopService())
