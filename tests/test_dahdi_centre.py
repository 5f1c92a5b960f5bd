# SPDX-License-Identifier: GPL-2.0-or-later
"""The whole call centre on the DAHDI driver: etc/cti.toml's boards seen
through the simulator's DAHDI personality (system.conf to match), the
channels named as the boards, `driver = "dahdi"` as `cti server` would
make it on /dev/dahdi.  A caller on the T1 goes through the IVR menu to
the support queue and an agent's phone, with audio both ways."""
import json
import shutil
from dataclasses import replace

import pytest
from twisted.logger import globalLogPublisher

from cti.linediag.source import Attached
from cti.server.config import load_server_config
from cti.storage.models import CallRecord, QueueLogEntry
from drivers import _dahdi, errors, systemconf
from drivers.dahdi import BoardLayout, DahdiDriver
from drivers.dahdidev import SimulatedDevices, simulated_system_conf
from drivers.sim import Simulator
from tests import test_consult as consult
from tests import test_r2 as r2
from tests import test_span_reports as span_reports
from tests import test_supervision as supervision
from tests import test_t1_loopstart as t1_loopstart
from tests.centre import Centre, admin, flow_tier, refused, tones_both_ways
from tests.conformance import driver_timers
from tests.rig import hears
from tests.test_callcenter import PASSWORD, agent_ready, flow_server, names, route_request, speech
from tests.test_disconnect import centre_with, cleared_cause, talking
from tests.test_linediag import Through, linediag_run


@pytest.fixture
def centre():
    config = replace(load_server_config("etc/cti.toml"), driver="dahdi")
    return Centre(config, driver="dahdi")


def test_the_dahdi_driver_names_its_channels_as_the_boards(centre):
    found = {i.name for i in centre.driver.inventory()}
    wanted = {n for g in centre.config.trunk_groups for n in g.channels}
    wanted |= {n for g in centre.config.station_groups for n in g.stations}
    wanted |= set(centre.config.voice_pool)
    assert wanted <= found


def test_ivr_menu_to_queue_to_agent_end_to_end_on_dahdi(centre):
    """DNIS 5550100: the menu plays, 2 (support menu), 1 (internet), the
    support queue, agent 1005 answers, tones both ways, the caller hangs up."""
    tier = flow_tier(centre)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T7")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125559876", dnis="5550100")
    centre.run_until(lambda: caller.state == "connected", what="the IVR answers")
    caller.capture(True)
    centre.run(4000)
    assert speech(caller.read_capture()) > 300            # the welcome and the menu
    caller.send_digits("2")                                 # support (barge-in)
    centre.run(3000)
    caller.send_digits("1")                                 # internet problems
    centre.run_until(lambda: "Delivered" in names(events), within_ms=20_000,
                     what="the call reaches the agent")
    delivered = dict(events)["Delivered"]
    assert delivered["queue"] == "support" and delivered["data"]["topic"] == "internet"
    [(call_id, outcome)] = tier.outcomes
    assert outcome.how == "transferred" and outcome.target == ("queue", "support")

    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    from_caller, from_phone = tones_both_ways(centre, caller, phone)
    assert hears(from_caller, 1000) and not hears(from_caller, 1500)
    assert hears(from_phone, 1500) and not hears(from_phone, 1000)
    caller.hangup()
    centre.run_until(lambda: call_id not in centre.center.calls, what="the call ends")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.released_by, cdr.flow, cdr.queue, cdr.agent) == (
        "answered", "caller", "main_menu", "support", "1005")
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=call_id)] == [
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert centre.sim.misuse() == []


def test_a_caller_gone_silent_on_an_fxo_port_is_cleared_with_silence_s_cause(tmp_path):
    """Disconnect supervision by silence on DAHDI: the FXO port's voice
    work hears silence below the group's level (-30 dBm0).  Talk above it
    with pauses shorter than silence_s keeps the call; a silent hang-up
    clears it with silence's cause in the CDR."""
    centre = centre_with(tmp_path, 'disconnect = ["silence"]\nsilence_s = 5\n'
                                   "silence_dbm0 = -30", driver="dahdi")
    caller = talking(centre, "dxxxB1C2")
    caller.send_tone_custom(440, 0, -25, on_ms=1_000, off_ms=3_000)   # talk, pauses of 3 s
    centre.run(15_000)
    caller.stop_sending()
    assert len(centre.center.calls) == 1
    caller.send_tone_custom(440, 0, -35, on_ms=6_000)                 # a murmur below -30
    assert cleared_cause(centre, within_ms=8_000) == "far end cleared (silence for 5 s)"


def test_a_silent_hang_up_on_an_fxo_port_clears_the_call(tmp_path):
    centre = centre_with(tmp_path, 'disconnect = ["loop_current", "silence"]\nsilence_s = 8',
                         driver="dahdi")
    talking(centre, "dxxxB1C2")
    centre.call(admin(centre).call("SimHangup", device="dxxxB1C2", method="silence"))
    assert cleared_cause(centre, within_ms=11_000) == "far end cleared (silence for 8 s)"
    centre.run(500)
    assert centre.center.channels["dxxxB1C2"].state == "idle"


#: The consultation suite's outside-party cases: the number consulted,
#: transferred to or conferenced in answers on an FXO port (dxxxB1C1,
#: dxxxB1C2), its line and its voice each on a slot of their own.
OUTSIDE_PARTY_CASES = [
    consult.test_consult_a_number_then_transfer,
    consult.test_a_busy_number_brings_the_caller_back,
    consult.test_a_conference_with_an_outside_party_outlives_the_agent,
    consult.test_a_caller_sent_to_a_queue_from_a_conference_lets_the_outside_party_go,
    consult.test_the_outside_party_leaving_a_conference_leaves_the_agent_and_caller,
    consult.test_a_conference_grows_to_eight_parties_and_refuses_a_ninth,
    consult.test_a_conference_with_two_outside_parties_lets_both_go_at_the_end,
    consult.test_the_number_a_conference_was_sent_to_hanging_up_leaves_the_others_talking,
]


@pytest.mark.parametrize("case", OUTSIDE_PARTY_CASES, ids=lambda c: c.__name__[len("test_"):])
def test_outside_parties_over_fxo_ports_on_dahdi(centre, case):
    case(centre)


def test_an_outside_party_consulted_hanging_up_frees_its_fxo_port_at_once(centre):
    s = consult.Scene(centre)
    outside, _ = s.consult_number(line="dxxxB1C1")
    outside.hangup()
    centre.run(3000)
    assert centre.center.channels["dxxxB1C1"].state == "idle"
    assert centre.center.sweep.run() == [] and centre.center.sweep.run() == []


@pytest.fixture
def running(centre):
    """The DAHDI centre's server started: its span watches poll each span's
    DAHDI_SPANSTAT counts every second."""
    centre.server.startService()
    yield centre
    centre.center.stop()


#: The span reports' cases that hold on DAHDI as on the boards: the seconds
#: T1.231 predicts from SPANSTAT's CRC counts, the line settings, bits and
#: counters of a report, our loopback (DAHDI_MAINT) holding the span, a far
#: loop (DAHDI_MAINT_LOOPUP) let go only once its loop-down was sent.
SPAN_REPORT_CASES = [
    span_reports.test_injected_errors_give_the_seconds_the_definitions_predict,
    span_reports.test_a_report_has_the_line_settings_bits_and_counters,
    span_reports.test_our_loopback_holds_the_span_until_it_is_taken_off,
    span_reports.test_a_far_loop_is_let_go_only_by_its_own_loop_down_once_it_was_sent,
]


@pytest.mark.parametrize("case", SPAN_REPORT_CASES, ids=lambda c: c.__name__[len("test_"):])
def test_span_reports_on_dahdi(running, case):
    case(running)


def test_linediag_reads_dahdi_spans_counters_and_loopbacks_and_hears_a_bert_refused(running):
    """Code violations (SPANSTAT's cv count) are line errored seconds; DAHDI
    gives no slips, so slips injected count nothing; our loopback shows in
    the span's report; a BERT is refused naming why."""
    client = admin(running)
    source = Attached(Through(running, client))
    span_reports.next_poll(running)
    span_reports.each_second(running, 2, bpv=3)
    span_reports.each_second(running, 2, slips=1)
    counters = linediag_run(source, "counters", "dtiB1", "--json")
    [report] = json.loads(counters)["spans"]
    current = report["performance"]["current"]
    assert (current["les"], current["lcv"], current["css"]) == (2, 6, 0)
    assert report["counters"]["bpv"] == 6 and report["counters"]["slips"] == 0
    assert "dtiB1: loopback local" in linediag_run(source, "loopback", "dtiB1", "local")
    assert "loopback local" in linediag_run(source, "spans", "dtiB1")
    linediag_run(source, "loopback", "dtiB1", "none")
    error = refused(running, client, "StartBert", device="dtiB1T5")
    assert "DAHDI_MAINT_PRBS" in str(error)
    assert running.server.channels["dtiB1T5"].snapshot()["held"] == []


def test_without_a_flow_server_a_t1_call_in_gets_the_default_queue_on_dahdi(running):
    """As on the boards (test_callcenter), only later by DAHDI's seizure
    debounce: the kernel reports an E&M seizure (RINGOFFHOOK) once the A
    bit has held for rxwinktime (300 ms; a shorter pulse is a wink)."""
    agent, events = agent_ready(running, "1001", "msiB1C1")
    running.sim.endpoint("dtiB1T6").call(ani="2125550005", dnis="5550100")
    running.run_until(lambda: "Delivered" in names(events),
                      what="the call reaches the flow_down queue")
    ic = running.center.calls[dict(events)["Delivered"]["call"]]
    assert ic.queue == "sales" and ic.call.data["treatment"] == "no flow server"


def test_a_caller_hanging_up_as_an_fxo_port_answers_is_answered_then_cleared(running):
    """DAHDI_HOOK takes an FXO port off hook before it returns (the boards
    report it a tick later, so there the answer fails with the call gone):
    the answer succeeds, then the loop current drop clears the call, the
    caller its releaser."""
    client, seen = flow_server(running)
    line = running.sim.endpoint("dxxxB1C3")
    line.call(ani="2125550034")
    call = route_request(running, seen)["call"]
    answer = client.call("AnswerCall", call=call)
    running.flush()                     # the port goes off hook
    line.hangup()
    running.call(answer)
    running.run_until(lambda: call not in running.center.calls, what="the call clears")
    [cdr] = running.records.of(CallRecord)
    assert (cdr.released_by, cdr.cause) == ("caller", "far end cleared (loop current drop)")


@pytest.fixture
def loop_start(tmp_path):
    """etc/ with its T1 span loop start (fxsls on DAHDI), as test_t1_loopstart
    makes it, on the DAHDI driver."""
    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                 'signalling = "fxs_loopstart"', 1))
    cti = tmp_path / "etc" / "cti.toml"
    cti.write_text(cti.read_text().replace('direction = "in"', 'direction = "both"', 1))
    return Centre(load_server_config(cti), driver="dahdi")


@pytest.mark.parametrize("case", [
    t1_loopstart.test_a_call_in_reaches_an_agent_and_the_far_end_hangs_up,
    t1_loopstart.test_an_agent_calls_out_on_a_loop_start_timeslot,
], ids=lambda c: c.__name__[len("test_"):])
def test_t1_loop_start_trunks_on_dahdi(loop_start, case):
    case(loop_start)

def test_a_china_r2_call_in_reaches_an_agent_on_a_dahdi_e1_cas_span(tmp_path):
    """MFC/R2 on DAHDI cas channels: the register signals made and heard by
    our voice work (spandsp's R2 MF) on the timeslot's audio, the line
    signals its CAS bits; ANI, DNIS and category reach the agent, who
    talks with the caller both ways."""
    centre = Centre(r2.r2_config(tmp_path, "cn"), driver="dahdi")
    centre.server.startService()
    _, events = r2.agent_ready(centre, "1005", "msiB1C5")
    placed = centre.call(admin(centre).call("SimCall", target="pstn_r2", ani="13800138000",
                                            dnis="5550199", category="national_priority"))
    caller, phone = centre.sim.endpoint(placed["device"]), centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: "Delivered" in names(events), what="the agent's offer")
    delivered = dict(events)["Delivered"]
    assert delivered["callingDevice"] == "13800138000"
    assert delivered["data"]["r2_category"] == "national_priority"
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    assert caller.heard_bits() == "0111"                   # ANSWER, China's C and D
    from_caller, from_phone = tones_both_ways(centre, caller, phone)
    assert hears(from_caller, 1000) and hears(from_phone, 1500)
    phone.onhook()
    centre.run_until(lambda: delivered["call"] not in centre.center.calls, what="the end")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.ani, cdr.dnis, cdr.disposition) == ("13800138000", "5550199", "answered")
    centre.center.stop()

def test_whisper_is_refused_on_dahdi_and_the_call_goes_on_as_it_was(centre):
    """DAHDI's conferences cannot whisper (docs/dahdi.md says why): asked
    for, it is refused naming that, the call as it was (no supervisor in
    it, or its monitor kept); monitor and barge work."""
    s = supervision.Scene(centre)
    s.lift()
    error = s.refused(s.sup, "Supervise", agent="1005", mode="whisper",
                      station=supervision.SUP_STATION)
    assert error.code == "resource_busy" and "no whisper" in error.body["message"]
    assert s.listen() == {"caller": {supervision.AGENT_HZ},
                          "agent": {supervision.CALLER_HZ}, "supervisor": set()}
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=supervision.SUP_STATION)
    assert "no whisper" in s.refused(s.sup, "Supervise", agent="1005",
                                     mode="whisper").body["message"]
    assert s.listen() == {"caller": {supervision.AGENT_HZ},
                          "agent": {supervision.CALLER_HZ},
                          "supervisor": {supervision.CALLER_HZ, supervision.AGENT_HZ}}
    assert s.ask(s.sup, "Supervise", agent="1005", mode="barge")["mode"] == "barge"

def test_boards_the_dahdi_box_lacks_are_named():
    """A configuration with more FXS ports than system.conf has."""
    boards = [{"type": "stations", "count": 2}]
    Simulator.from_config(boards)
    conf = systemconf.parse(simulated_system_conf(boards), "system.conf")
    with pytest.raises(errors.BadParameter, match=r"boards\[0\] \(FXS ports: fxoks\) needs 4"):
        DahdiDriver(SimulatedDevices(), conf, None, boards=[BoardLayout("stations", 4)])


def test_an_unplugged_fxo_board_clears_its_call_and_the_t1_calls_go_on(tmp_path, caplog):
    """Hot-unplug (an Astribank's cable pulled): the kernel sends REMOVED
    on each channel of the board, then ENODEV.  The call up on the FXO
    port is cleared with the board's removal as its cause, the port is out
    of service, the log names the channel that went, and a caller on the
    T1 (another board) still gets through and talks."""
    said = []
    globalLogPublisher.addObserver(said.append)
    centre = centre_with(tmp_path, "", driver="dahdi")
    talking(centre, "dxxxB1C2")
    try:
        assert _dahdi.lib.cti_dahdisim_unplug(1) == 0       # the FXO board: DAHDI span 1
        assert cleared_cause(centre, within_ms=2_000) == \
            "line out of service: its board was removed"
    finally:
        globalLogPublisher.removeObserver(said.append)
    assert centre.center.channels["dxxxB1C2"].state == "out_of_service"
    assert any(e.get("channel") == "dxxxB1C2" and "board was removed" in e["log_format"]
               for e in said)
    caller = centre.sim.endpoint("dtiB1T7")
    caller.call(ani="2125559876", dnis="5550100")
    centre.run_until(lambda: caller.state == "connected", what="the T1 call is answered")
    caller.capture(True)
    centre.run(3000)
    assert speech(caller.read_capture()) > 300            # its prompts are heard
    assert centre.sim.misuse() == []


def test_an_fxo_line_losing_battery_is_out_of_service_until_it_comes_back(tmp_path):
    """An FXO card finding no battery on its line sets the channel's own
    RED alarm (GET_PARAMS' chan_alarms, with ALARM; SPANSTAT says nothing
    of it): the call up is cleared with that cause and the port is out of
    service; NOALARM with the battery back brings it back in service."""
    centre = centre_with(tmp_path, "", driver="dahdi")
    talking(centre, "dxxxB1C2")
    line = centre.center.channels["dxxxB1C2"]
    channo = centre.driver.status("dxxxB1C2")["channo"]
    assert _dahdi.lib.cti_dahdisim_line_alarm(channo, _dahdi.lib.DAHDI_ALARM_RED) == 0
    assert cleared_cause(centre, within_ms=2_000) == "line out of service: no battery on the line"
    assert line.state == "out_of_service"
    assert _dahdi.lib.cti_dahdisim_line_alarm(channo, 0) == 0
    centre.run_until(lambda: line.state == "idle", within_ms=1_000,
                     what="the port back in service")


def test_an_unplugged_t1_clears_its_call_and_the_other_spans_take_calls(tmp_path):
    """A T1 board hot-unplugged with a call up: the kernel sends REMOVED on
    each timeslot, then ENODEV, and unregisters the span.  The call on it
    is cleared with the board's removal as its cause, the span is in
    alarm ("removed": its status, linediag spans, the doctor), its
    timeslots out of service; a caller on an FXO line still gets through."""
    centre = centre_with(tmp_path, "", driver="dahdi")
    centre.server.startService()                            # the spans watch their alarms
    talking(centre, "dtiB1T7")
    span = centre.driver.status("dtiB1")
    assert span["alarms"] == []
    assert _dahdi.lib.cti_dahdisim_unplug(2) == 0           # the T1: DAHDI span 2
    centre.run_until(lambda: not centre.center.calls, within_ms=2_000, what="the call clears")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.released_by, cdr.cause) == ("network", "span dtiB1 down: its board was removed")
    centre.run(1_500)
    assert centre.driver.status("dtiB1")["alarms"] == ["removed"]
    assert centre.driver.alarms("dtiB1") == {"removed"}
    assert centre.center.channels["dtiB1"].snapshot()["alarms"] == ["removed"]
    assert centre.center.channels["dtiB1T7"].state == "out_of_service"
    assert centre.center.channels["dtiB1T8"].state == "out_of_service"
    assert centre.driver.status("dtiB1T7")["state"] == "removed"
    with pytest.raises(errors.DeviceRemoved, match="its board was removed"):
        centre.driver.play("dtiB1T7", [])
    caller, phone = centre.sim.endpoint("dxxxB1C3"), centre.sim.endpoint("msiB1C1")
    phone.onhook()                                          # the agent hangs up too
    caller.call(ani="2125559876")
    centre.run_until(lambda: phone.state == "ringing", within_ms=60_000,
                     what="a call on an FXO line reaches the agent's phone")
    assert centre.sim.misuse() == []
    centre.center.stop()


def test_an_unplugged_station_board_clears_its_agent_s_call_and_is_out_of_service(tmp_path):
    """The agents' phones' board unplugged while an agent talks: the call
    ends with the phone's removal as its cause, the phone is out of
    service, its agent goes not ready saying why once the call is wrapped
    up (no call is offered to a phone that cannot ring), and the T1 goes
    on."""
    centre = centre_with(tmp_path, "", driver="dahdi")
    talking(centre, "dxxxB1C2")
    station = centre.center.channels["msiB1C1"]
    assert _dahdi.lib.cti_dahdisim_unplug(3) == 0            # the station board: span 3
    centre.run_until(lambda: not centre.center.calls, within_ms=2_000, what="the call clears")
    [cdr] = centre.records.of(CallRecord)
    assert cdr.cause == "phone out of service: its board was removed"
    assert station.state == "out_of_service"
    assert station.snapshot()["state"] == "out_of_service"
    agent = centre.center.acd.agents["1001"]
    centre.run_until(lambda: agent.state == "notReady", within_ms=120_000,
                     what="the agent not ready after its wrap-up")
    assert agent.reason == "phone out of service: its board was removed"
    caller = centre.sim.endpoint("dtiB1T9")
    caller.call(ani="2125559876", dnis="5550100")
    centre.run_until(lambda: caller.state == "connected", what="the T1 call is answered")


def test_an_idle_agent_whose_phone_board_is_removed_gets_no_calls(tmp_path):
    """The board of a ready agent's phone unplugged: the agent is not
    ready at once, saying why, and a caller for the queue waits instead of
    being offered to a phone that cannot ring."""
    centre = centre_with(tmp_path, "", driver="dahdi")
    _, events = agent_ready(centre, "1001", "msiB1C1")
    assert _dahdi.lib.cti_dahdisim_unplug(3) == 0            # the station board: span 3
    agent = centre.center.acd.agents["1001"]
    centre.run_until(lambda: agent.state == "notReady", within_ms=2_000,
                     what="the agent not ready")
    assert agent.reason == "phone out of service: its board was removed"
    caller = centre.sim.endpoint("dxxxB1C2")
    caller.call(ani="2125550042")
    centre.run_until(lambda: centre.center.acd.entries, within_ms=10_000,
                     what="the caller queued")
    centre.run(5_000)
    assert centre.center.acd.entries and "Offered" not in names(events)


def test_linediag_and_the_span_report_show_a_t1_whose_board_was_removed(running):
    """`linediag spans` shows the alarm `removed` of a T1 hot-unplugged;
    its report (`--json`) says the span down, its timeslots out of service."""
    source = Attached(Through(running, admin(running)))
    assert _dahdi.lib.cti_dahdisim_unplug(2) == 0           # the T1: DAHDI span 2
    running.run(3_000)
    text = linediag_run(source, "spans", "dtiB1")
    assert "removed" in text
    [report] = json.loads(linediag_run(source, "spans", "dtiB1", "--json"))["spans"]
    assert (report["state"], report["alarms"]) == ("down", ["removed"])
    assert {t["state"] for t in report["timeslots"]} == {"out_of_service"}


#: China's ring cadence (the simulated exchange's with tones "cn"): 1 s on,
#: 4 s off; the caller ID comes between the first two rings.
CN_RING_CYCLE_S = 5.0


def test_a_call_ringing_in_as_an_fxo_port_hangs_up_keeps_its_caller_id_and_ring_count(
        tmp_path):
    """The kernel reports no ring ending within 2 s of a port's hang-up
    (its ring debounce), so a call ringing in at once with 1 s rings loses
    its first ring's event, and the caller ID sent after that ring would be
    lost with it.  The caller ID is listened for whenever the port is on
    hook, and the driver sees the swallowed ring on the line (GET_PARAMS):
    the call is offered on its second ring, as configured, with its caller
    ID, and reaches the agent."""
    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    boards.write_text(boards.read_text().replace('tones = "na"', 'tones = "cn"', 1))
    centre = Centre(replace(load_server_config(tmp_path / "etc" / "cti.toml"), driver="dahdi"),
                    driver="dahdi")
    caller = talking(centre, "dxxxB1C2")
    line = centre.center.channels["dxxxB1C2"]
    caller.hangup()
    centre.run_until(lambda: line.state == "idle" and caller.state == "idle",
                     what="the port hung up")
    called_at = centre.clock.seconds()
    caller.call(ani="2125550077", name="BOB")           # rings at once
    _, events = agent_ready(centre, "1002", "msiB1C2")
    centre.run_until(lambda: "Delivered" in names(events), within_ms=20_000,
                     what="the second call reaches an agent")
    assert dict(events)["Delivered"]["callingDevice"] == "2125550077"
    offer = next(t for t in reversed(line.machine.history) if t.event == "offer")
    assert offer.detail == {"ani": "2125550077"}
    assert offer.at - called_at < 2 * CN_RING_CYCLE_S   # before its third ring


def test_the_server_stopping_stops_the_driver_s_timers_once(centre):
    """CTServer.stopService, once the events' service has stopped, tells
    the driver once (stop_events): DAHDI's alarm reads, watching every
    span since the start, leave the clock."""
    stops = []
    stop_events = centre.driver.stop_events
    centre.driver.stop_events = lambda: (stops.append(True), stop_events())
    centre.server.startService()
    centre.run(2_000)
    assert driver_timers((centre.clock,))
    centre.server.drain_s = 0
    centre.call(centre.server.stopService())
    assert stops == [True]
    assert driver_timers((centre.clock,)) == []


def test_an_fxo_board_unplugged_in_a_conference_leaves_the_others_talking(centre, tracebacks):
    """Agent 1005 conferences a caller on the T1 with an outside party on
    the FXO port dxxxB1C1; that board is unplugged: its lines are out of
    service, the caller and the agent go on hearing each other, the agent
    can conference again (another agent this time), and when the caller
    hangs up no call is left.  Nothing fails on the way."""
    s = consult.Scene(centre)
    outside, consult_call = s.consult_number()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    assert s.listen(outside=outside)["caller"] == {"first", "outside"}
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0           # the FXO board: DAHDI span 1
    centre.run(2_000)
    assert {centre.center.channels[f"dxxxB1C{n}"].state for n in range(1, 5)} == {
        "out_of_service"}
    assert s.talk_only("caller", "first")
    second_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=second_call)
    assert s.listen() == {"caller": {"first", "second"}, "first": {"caller", "second"},
                          "second": {"caller", "first"}}
    s.caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    assert tracebacks == []


def test_an_fxo_board_unplugged_under_a_silent_monitor_ends_call_and_supervision(
        tmp_path, tracebacks):
    """A supervisor silently monitors agent 1001 talking with a caller on
    the FXO port dxxxB1C2; the FXO board is unplugged: the call ends with
    the board's removal as its cause, the supervision ends with it, the
    lines are out of service, and the supervisor then monitors agent
    1005's caller on the T1, hearing both.  Nothing fails on the way."""
    centre = centre_with(tmp_path, "", driver="dahdi")
    talking(centre, "dxxxB1C2")
    s = supervision.Scene(centre)                           # agent 1005's caller on the T1
    s.lift()
    s.ask(s.sup, "Supervise", agent="1001", mode="monitor", station=supervision.SUP_STATION)
    assert _dahdi.lib.cti_dahdisim_unplug(1) == 0           # the FXO board: DAHDI span 1
    centre.run_until(lambda: len(centre.center.calls) == 1, within_ms=2_000,
                     what="the FXO call clears")
    cdr = centre.records.of(CallRecord, trunk="dxxxB1C2")[-1]
    assert cdr.cause == "line out of service: its board was removed"
    ended = [body for name, body in s.sup_events if name == "SupervisionEnded"]
    assert [body["agent"] for body in ended] == ["1001"]
    assert {centre.center.channels[f"dxxxB1C{n}"].state for n in range(1, 5)} == {
        "out_of_service"}
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=supervision.SUP_STATION)
    assert s.listen() == {"caller": {supervision.AGENT_HZ}, "agent": {supervision.CALLER_HZ},
                          "supervisor": {supervision.CALLER_HZ, supervision.AGENT_HZ}}
    assert tracebacks == []


def two_station_boards(tmp_path):
    """The sample centre on DAHDI with a second station board (msiB2C1-8,
    DAHDI span 4: the first's is 3), agent 1003's phone msiB2C3 on it."""
    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    first = 'type = "stations"        # agents\' phones: msiB1C1..C8\ncount = 8\n'
    text = boards.read_text()
    assert first in text
    boards.write_text(text.replace(first, first + '\n[[boards]]\ntype = "stations"\n'
                                   'count = 8\n', 1))
    cti = tmp_path / "etc" / "cti.toml"
    text = cti.read_text()
    for old, new in (('stations = ["msiB1C1-8"]', 'stations = ["msiB1C1-8", "msiB2C1-8"]'),
                     ('station = "msiB1C3"\n', 'station = "msiB2C3"\n')):
        assert old in text
        text = text.replace(old, new, 1)
    cti.write_text(text)
    return Centre(replace(load_server_config(cti), driver="dahdi"), driver="dahdi")


def test_a_station_board_unplugged_in_a_conference_frees_its_conference_room(
        tmp_path, tracebacks):
    """Agent 1005 (first station board) conferences a caller with agent
    1003, whose phone is on a second station board; the first board is
    unplugged: 1005's phone is out of service, the caller and 1003 go on
    talking, and a supervisor on the second board can monitor 1003 (the
    conference's room all free again, the caller's channel in none).
    Nothing fails on the way."""
    centre = two_station_boards(tmp_path)
    s = consult.Scene(centre, second_station="msiB2C3")
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    assert s.listen()["caller"] == {"first", "second"}
    assert _dahdi.lib.cti_dahdisim_unplug(3) == 0           # the first station board
    centre.run(2_000)
    assert centre.center.channels["msiB1C5"].state == "out_of_service"
    assert s.talk_only("caller", "second")
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    sup_phone = centre.sim.endpoint("msiB2C8")
    sup_phone.offhook()
    centre.run(500)
    result = centre.call(sup.call("Supervise", agent="1003", mode="monitor",
                                  station="msiB2C8"))
    assert result["station"] == "msiB2C8"
    heard = s.listen(more=(("supervisor", sup_phone, consult.MORE_AGENTS_HZ["1004"]),))
    assert heard["supervisor"] == {"caller", "second"}
    assert heard["caller"] == {"second"}
    s.caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    assert tracebacks == []
