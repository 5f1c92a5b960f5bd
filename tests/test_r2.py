# SPDX-License-Identifier: GPL-2.0-or-later
"""MFC/R2 on E1 CAS trunks (lines-real.md 3): the register signals as tones
on a timeslot, made and heard on the board at both ends of the span; the
line signals as the CAS bits of timeslot 16.  All in virtual time.
"""
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from cti.server.config import load_server_config
from cti.server.lines.r2china import ChinaBackward, ChinaForward
from cti.storage.models import CallRecord
from drivers.errors import DriverNotSupported
from drivers.r2 import DriverPort, FarPort, R2Channel, R2Context
from tests.centre import Centre, admin, flow_tier, refused, tones_both_ways
from tests.rig import Rig, hears, power_at

SPAN, TS = "dtiB1", "dtiB1T1"
#: Forward signal 5 is 1500 + 1740 Hz, backward signal 3 is 1020 + 900 Hz
#: (lines-real.md 3.5).
FORWARD_5, BACKWARD_3 = (1500, 1740), (1020, 900)


def e1_rig():
    rig = Rig([{"type": "e1", "signalling": "cas"}, {"type": "voice", "channels": 2}])
    rig.driver.open(TS)
    rig.sim.watch_far_end(TS)
    return rig


def test_a_forward_signal_from_the_telco_is_heard_by_our_timeslot_until_it_stops():
    rig = e1_rig()
    far = rig.sim.endpoint(TS)
    rig.driver.r2_mf_mode(TS, "backward")
    far.r2_mf("forward")
    far.r2_mf_send(5)
    assert rig.wait_for("r2_mf", TS)["signal"] == 5
    far.r2_mf_send(0)
    assert rig.wait_for("r2_mf", TS)["signal"] == 0


def test_our_backward_signal_reaches_the_telco_as_its_two_tones():
    rig = e1_rig()
    far = rig.sim.endpoint(TS)
    rig.driver.r2_mf_mode(TS, "backward")
    far.r2_mf("forward")
    far.capture(True)
    rig.driver.r2_mf_send(TS, 3)
    rig.run(300)
    heard = far.read_capture()[800:]
    high, low = (power_at(heard, f) for f in BACKWARD_3)
    assert high > 100 * power_at(heard, 1140) and low > 100 * power_at(heard, 780)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 3)]
    rig.driver.r2_mf_send(TS, 0)
    rig.run(200)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("r2_mf", 0)]


def test_the_telco_sees_our_line_signals_as_cas_bits():
    rig = e1_rig()
    rig.driver.set_bits(TS, 1, 1)                 # seize acknowledge (ITU: 1101)
    rig.run(20)
    assert [(e.kind, e.value) for e in rig.sim.far_events()] == [("bits", "1101")]


# ---- OpenR2 on both ends of a timeslot ----------------------------------------------

class R2Pair:
    """OpenR2 on our side of a timeslot (the board's bits and MF) and on the
    telco's (the far end's), in one rig: `run` moves time and hands each
    side what its port heard (a closed telco side: None)."""

    def __init__(self, variant, ts=TS, max_ani=10, max_dnis=4, ours=None, far=None,
                 **options):
        self.rig = rig = e1_rig()
        rig.driver.enable_signalling_events(ts)
        self.ts = ts
        self.ours_events, self.far_events = [], []
        ours_port, far_port = DriverPort(rig.driver, ts), FarPort(rig.sim.endpoint(ts))
        self.ours = ours(ours_port, rig.clock, self.ours_events.append, max_ani, max_dnis) \
            if ours else R2Channel(R2Context(variant, max_ani, max_dnis, **options), ours_port,
                                   rig.clock, self.ours_events.append)
        self.far = far(far_port, rig.clock, self.far_events.append, max_ani, max_dnis) \
            if far else R2Channel(R2Context(variant, max_ani, max_dnis), far_port, rig.clock,
                                  self.far_events.append)
        self.seen = 0

    def run(self, ms):
        for _ in range(0, ms, 10):
            self.rig.run(10)
            for event in self.rig.events[self.seen:]:
                if event.device == self.ts and event.kind == "signalling":
                    self.ours.bits("".join(str(event[x]) for x in "abcd"))
                elif event.device == self.ts and event.kind == "r2_mf":
                    self.ours.mf(event["signal"])
            self.seen = len(self.rig.events)
            for heard in self.rig.sim.far_events():
                if self.far is None:
                    continue
                if heard.kind == "bits":
                    self.far.bits(heard.value)
                else:
                    self.far.mf(heard.value)

    def until(self, events, kind, within_ms=10_000):
        for _ in range(0, within_ms, 10):
            found = [e for e in events if e.kind == kind]
            if found:
                return found[0]
            self.run(10)
        raise AssertionError(f"no {kind} within {within_ms} ms: {events}")


@pytest.mark.parametrize("variant", ["itu", "mx", "br", "ar"])
def test_a_call_in_through_openr2_at_both_ends(variant):
    pair = R2Pair(variant)
    pair.far.make_call("1380013800", "8001", "national_subscriber")
    offered = pair.until(pair.ours_events, "offered")
    assert (offered.ani, offered.dnis, offered.category) == (
        "1380013800", "8001", "national_subscriber")
    pair.ours.accept("no_charge")
    assert pair.until(pair.far_events, "accepted").charge is False
    pair.ours.answer()
    pair.until(pair.far_events, "answered")
    assert pair.rig.sim.endpoint(TS).heard_bits()[:2] == "01"       # ANSWER on the line
    pair.far.disconnect("normal")                                    # clear-forward
    assert pair.until(pair.ours_events, "disconnect").cause == "normal"
    pair.ours.disconnect("normal")
    pair.until(pair.ours_events, "end")
    pair.until(pair.far_events, "end")


def test_a_call_out_through_openr2_refused_busy_by_the_telco():
    pair = R2Pair("itu")
    pair.ours.make_call("88001234", "5550199", "national_subscriber")
    offered = pair.until(pair.far_events, "offered")
    assert (offered.ani, offered.dnis) == ("88001234", "5550")      # max_dnis 4
    pair.far.disconnect("busy")
    assert pair.until(pair.ours_events, "disconnect").cause == "busy"


def test_a_forward_signal_that_never_stops_is_an_mf_timeout():
    pair = R2Pair("itu")
    far = pair.rig.sim.endpoint(TS)
    pair.far.close()                           # the telco's register goes mad: by hand
    pair.far = None
    far.send_bits("0001")                      # seize (ITU: A = 0, B = 0, C = 0, D = 1)
    far.r2_mf("forward")
    far.r2_mf_send(8)                          # a digit, and it never stops
    assert pair.until(pair.ours_events, "error").error == "mf_timeout"


def test_a_china_call_in_from_our_own_calling_side_to_openr2():
    pair = R2Pair("cn", max_ani=11, max_dnis=4, far=ChinaForward)
    pair.far.make_call("13800138000", "8001", "national_priority")
    offered = pair.until(pair.ours_events, "offered")
    assert (offered.ani, offered.dnis, offered.category) == (
        "13800138000", "8001", "national_priority")
    pair.ours.accept("charge")
    assert pair.until(pair.far_events, "accepted").charge is True
    pair.until(pair.ours_events, "accepted")                  # the compelled cycle is over
    pair.ours.answer()
    pair.until(pair.far_events, "answered")
    assert pair.far.machine.state == "answered"
    pair.far.disconnect()
    assert pair.until(pair.ours_events, "disconnect").cause == "normal"
    pair.ours.disconnect()
    pair.until(pair.far_events, "end")
    assert pair.rig.sim.endpoint(TS).heard_bits() == "1011"            # China's idle


def test_a_china_call_in_with_a_short_ani_and_dnis():
    pair = R2Pair("cn", max_ani=11, max_dnis=6, far=ChinaForward, mf_back_timeout_ms=1500)
    pair.far.make_call("5551234", "8001", "national_subscriber")
    offered = pair.until(pair.ours_events, "offered")
    assert (offered.ani, offered.dnis) == ("5551234", "8001")


def test_a_china_call_out_from_our_calling_side_answered_by_the_telco():
    pair = R2Pair("cn", max_ani=8, max_dnis=7, ours=ChinaForward, far=ChinaBackward)
    pair.ours.make_call("88001234", "5550199", "national_subscriber")
    offered = pair.until(pair.far_events, "offered")
    assert (offered.ani, offered.dnis, offered.category) == (
        "88001234", "5550199", "national_subscriber")
    pair.far.accept("no_charge")
    assert pair.until(pair.ours_events, "accepted").charge is False
    pair.run(500)
    pair.far.answer()
    pair.until(pair.ours_events, "answered")
    pair.far.disconnect()                                               # clear-back
    assert pair.until(pair.ours_events, "disconnect").cause == "normal"
    pair.ours.disconnect()                                              # clear-forward
    pair.until(pair.far_events, "disconnect")
    pair.far.disconnect()                                               # released
    pair.until(pair.ours_events, "end")
    assert pair.ours.machine.state == pair.far.machine.state == "idle"


def test_a_china_call_out_refused_busy():
    pair = R2Pair("cn", max_ani=8, max_dnis=7, ours=ChinaForward, far=ChinaBackward)
    pair.ours.make_call("88001234", "5550199")
    pair.until(pair.far_events, "offered")
    pair.far.disconnect("busy")
    assert pair.until(pair.ours_events, "disconnect").cause == "busy"
    pair.until(pair.ours_events, "end")


def test_china_openr2_forward_side_cannot_complete_a_call():
    """Why cti's China calling side is its own (lines-real.md 3.3): OpenR2's
    China forward side takes the ANI request A1 for "next DNIS digit"."""
    pair = R2Pair("cn")
    pair.far.make_call("1380013800", "8001", "national_subscriber")
    assert pair.until(pair.ours_events, "error").error == "mf_timeout"
    assert not [e for e in pair.ours_events if e.kind == "offered"]


# ---- R2 trunks in the call centre -----------------------------------------------------

E1_BOARD = '\n[[boards]]\ntype = "e1"              # dtiB2\nsignalling = "cas"\ntones = "cn"\n'
R2_GROUP = """
[[trunk_groups]]
name = "pstn_r2"
direction = "both"
channels = ["dtiB2T1-4"]
r2_variant = "{variant}"
r2_max_ani = 11
r2_max_dnis = 7
r2_mf_timeout_ms = {mf_timeout_ms}

"""


def r2_config(tmp_path, variant="cn", mf_timeout_ms=2000):
    """etc/cti.toml with an E1 CAS span (dtiB2) of MFC/R2 trunks."""
    etc = Path("etc").resolve()
    (tmp_path / "boards.toml").write_text((etc / "boards.toml").read_text() + E1_BOARD)
    text = (etc / "cti.toml").read_text()
    for key, value in (("flows_dir", "flows"), ("prompts_dir", "prompts")):
        text = text.replace(f'{key} = "{value}"', f'{key} = "{etc / value}"')
    text = text.replace("[[station_groups]]", R2_GROUP.format(
        variant=variant, mf_timeout_ms=mf_timeout_ms) + "[[station_groups]]", 1)
    (tmp_path / "cti.toml").write_text(text)
    return load_server_config(str(tmp_path / "cti.toml"))


def r2_centre(tmp_path, variant="cn", **settings):
    centre = Centre(r2_config(tmp_path, variant, **settings))
    centre.server.startService()
    return centre


def agent_ready(centre, agent, station):
    client = centre.client()
    centre.call(client.login(agent, "1234", "agent"))
    events = centre.events(client)
    centre.call(client.call("MonitorStart", object="device", id=station))
    centre.call(client.call("SetAgentState", state="loggedOn", station=station))
    centre.call(client.call("SetAgentState", state="ready"))
    return client, events


def test_a_china_call_in_reaches_an_agent_with_its_ani_dnis_and_category(tmp_path):
    centre = r2_centre(tmp_path, "cn")
    _, events = agent_ready(centre, "1005", "msiB1C5")
    admin_client = admin(centre)
    placed = centre.call(admin_client.call("SimCall", target="pstn_r2", ani="13800138000",
                                           dnis="5550199", category="national_priority"))
    ts = placed["device"]
    assert ts == "dtiB2T1" and placed["signalling"] == "cas"
    centre.run_until(lambda: "Delivered" in [n for n, _ in events], what="the agent's offer")
    delivered = dict(events)["Delivered"]
    assert delivered["callingDevice"] == "13800138000" and delivered["queue"] == "support"
    assert delivered["data"]["r2_category"] == "national_priority"
    snapshot = centre.server.channels[ts].snapshot()
    assert (snapshot["ani"], snapshot["dnis"], snapshot["category"]) == (
        "13800138000", "5550199", "national_priority")

    phone, caller = centre.sim.endpoint("msiB1C5"), centre.sim.endpoint(ts)
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in [n for n, _ in events], what="Established")
    assert caller.heard_bits() == "0111"                   # ANSWER, China's C and D
    from_caller, from_phone = tones_both_ways(centre, caller, phone)
    assert hears(from_caller, 1000) and not hears(from_caller, 1500)
    assert hears(from_phone, 1500) and not hears(from_phone, 1000)

    call_id = delivered["call"]
    centre.call(admin_client.call("SimHangup", device=ts))             # clear-forward
    centre.run_until(lambda: call_id not in centre.center.calls, what="the call ends")
    centre.run_until(lambda: centre.server.channels[ts].state == "idle", what="idle")
    snapshot = centre.server.channels[ts].snapshot()
    assert (snapshot["ani"], snapshot["category"], snapshot["charge"]) == ("", "", None)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.ani, cdr.dnis, cdr.trunk, cdr.disposition, cdr.agent) == (
        "13800138000", "5550199", ts, "answered", "1005")
    assert cdr.attached["r2_category"] == "national_priority"
    assert cdr.cause == "far end cleared (clear-forward)"


def test_an_itu_call_in_goes_through_the_ivr_to_an_agent(tmp_path):
    centre = r2_centre(tmp_path, "itu")
    flow_tier(centre)
    _, events = agent_ready(centre, "1005", "msiB1C5")
    admin_client = admin(centre)
    placed = centre.call(admin_client.call("SimCall", target="pstn_r2", ani="2125551234",
                                           dnis="5550100"))              # the IVR's number
    ts = placed["device"]
    caller, phone = centre.sim.endpoint(ts), centre.sim.endpoint("msiB1C5")
    trunk = centre.server.channels[ts]
    centre.run_until(lambda: trunk.state == "connected", what="the IVR answers")
    assert caller.heard_bits() == "0101"                             # ANSWER, ITU
    assert (trunk.ani, trunk.dnis, trunk.category) == (
        "2125551234", "5550100", "national_subscriber")
    centre.run(3000)                                                 # the welcome
    caller.send_digits("2")                                          # support
    centre.run(3000)
    caller.send_digits("1")                                          # internet problems
    centre.run_until(lambda: "Delivered" in [n for n, _ in events], within_ms=20_000,
                     what="the agent's offer")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in [n for n, _ in events], what="Established")
    from_caller, from_phone = tones_both_ways(centre, caller, phone)
    assert hears(from_caller, 1000) and hears(from_phone, 1500)
    phone.onhook()                                                   # the agent clears
    centre.run_until(lambda: trunk.state == "idle", what="the trunk is idle again")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.flow, cdr.agent, cdr.released_by) == ("main_menu", "1005", "agent")


@pytest.mark.parametrize("variant", ["cn", "itu"])
def test_a_call_out_on_an_r2_trunk_answered_and_refused(tmp_path, variant):
    centre = r2_centre(tmp_path, variant)
    trunk = centre.server.channels["dtiB2T2"]
    connected = []
    trunk.seize("5551234", no_answer_s=30).addCallback(connected.append)
    centre.run_until(lambda: connected, what="the telco answers")
    offered = [e for e in centre.server.telco.r2.events("dtiB2T2") if e.kind == "offered"]
    assert offered[0].dnis == "5551234"
    assert trunk.state == "connected"
    trunk.release()
    centre.run_until(lambda: trunk.state == "idle", what="idle after our clear-forward")

    centre.server.telco.r2.answer_mode("dtiB2T2", "busy")
    failed = []
    trunk.seize("5551234").addErrback(failed.append)
    centre.run_until(lambda: failed, what="the call out fails")
    assert failed[0].value.reason == "busy"
    centre.run_until(lambda: trunk.state == "idle", what="idle after the refusal")


def test_an_mf_timeout_fails_a_call_out_with_its_cause(tmp_path):
    centre = r2_centre(tmp_path, "cn", mf_timeout_ms=1000)
    trunk = centre.server.channels["dtiB2T3"]
    admin_client = admin(centre)
    centre.call(admin_client.call("SimAnswerMode", target="dtiB2T3", mode="silence"))
    failed = []
    trunk.seize("5551234").addErrback(failed.append)
    centre.run_until(lambda: failed, what="the call out fails")
    assert failed[0].value.reason == "R2 protocol error: mf_timeout"


def test_a_held_r2_trunk_is_blocked_toward_the_telco(tmp_path):
    centre = r2_centre(tmp_path, "itu")
    trunk, far = centre.server.channels["dtiB2T4"], centre.sim.endpoint("dtiB2T4")
    trunk.hold("a BERT")
    centre.run(100)
    assert far.heard_bits() == "1101" and trunk.state == "out_of_service"   # BLOCKED
    trunk.release_hold("a BERT")
    centre.run(100)
    assert far.heard_bits() == "1001" and trunk.state == "idle"
    admin_client = admin(centre)
    placed = centre.call(admin_client.call("SimCall", target="dtiB2T4", ani="2125551234",
                                           dnis="5550199"))
    centre.run_until(lambda: trunk.ani == "2125551234", what="a call in once unblocked")
    assert placed["device"] == "dtiB2T4"


def r2_first_for_calls_out(tmp_path, variant, **settings):
    """An R2 centre whose R2 group is tried first for calls out."""
    config = r2_config(tmp_path, variant, **settings)
    groups = sorted(config.trunk_groups, key=lambda g: g.r2 is None)
    centre = Centre(replace(config, trunk_groups=tuple(groups)))
    centre.server.startService()
    return centre


def headset_agent(centre, agent="1005", station="msiB1C5"):
    client, events = agent_ready(centre, agent, station)
    phone = centre.sim.endpoint(station)
    phone.offhook()
    centre.run_until(lambda: centre.center.channels[station].state == "offhook",
                     what="the headset on")
    return client, events, phone


def test_an_agent_calls_out_on_a_china_r2_trunk(tmp_path):
    centre = r2_first_for_calls_out(tmp_path, "cn")
    client, events, phone = headset_agent(centre)
    call_id = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: "Established" in [n for n, _ in events], within_ms=20_000,
                     what="the telco answers")
    far = centre.sim.endpoint("dtiB2T1")
    offered = [e for e in centre.server.telco.r2.events("dtiB2T1") if e.kind == "offered"]
    assert (offered[0].dnis, offered[0].category) == ("5551234", "national_subscriber")
    from_far, from_agent = tones_both_ways(centre, far, phone)
    assert hears(from_far, 1000) and hears(from_agent, 1500)
    centre.call(admin(centre).call("SimHangup", device="dtiB2T1"))      # clear-back
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent is free again")
    centre.run_until(lambda: centre.server.channels["dtiB2T1"].state == "idle",
                     what="the trunk idle after our clear-forward")
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert (cdr.direction, cdr.dnis, cdr.trunk, cdr.disposition) == (
        "outbound", "5551234", "dtiB2T1", "answered")


def test_an_mf_timeout_on_an_agents_call_out_is_the_cause_in_its_cdr(tmp_path):
    centre = r2_first_for_calls_out(tmp_path, "cn", mf_timeout_ms=1000)
    client, events, phone = headset_agent(centre)
    centre.call(admin(centre).call("SimAnswerMode", target="pstn_r2", mode="silence"))
    call_id = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: centre.records.of(CallRecord, call_id=call_id),
                     within_ms=20_000, what="the call fails")
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert cdr.cause == "R2 protocol error: mf_timeout"
    assert centre.server.channels["dtiB2T1"].state == "idle"


def test_the_server_stops_with_an_r2_call_up_and_lets_openr2_go(tmp_path):
    centre = r2_centre(tmp_path, "cn")
    admin_client = admin(centre)
    centre.call(admin_client.call("SimCall", target="pstn_r2", ani="13800138000",
                                  dnis="5550199"))
    trunk, far = centre.server.channels["dtiB2T1"], centre.sim.endpoint("dtiB2T1")
    centre.run_until(lambda: trunk.state == "connected", what="the queue answers")
    stopped = []
    centre.server.drain_s = 5                           # the caller waits: cleared by then
    centre.server.stopService().addBoth(stopped.append)
    centre.run_until(lambda: stopped, within_ms=10_000, what="the server stops")
    assert stopped == [None] and centre.center.calls == {}
    centre.run(500)
    assert far.heard_bits() == "1011"                   # the call cleared, the line idle
    [cdr] = centre.records.of(CallRecord)
    assert cdr.ani == "13800138000"


def test_cti_sim_call_with_a_category_on_a_live_server(tmp_path):
    """`cti sim call --category` on an R2 group of a `cti server` process on
    the wall clock: the telco's China R2 in real time, the call seen by
    `cti show calls` with its category."""
    from tests.test_shell import calls, cti, free_port, until

    r2_config(tmp_path, "cn")
    port = free_port()
    config = tmp_path / "cti.toml"
    config.write_text(config.read_text()
                      .replace("tcp:7500:interface=127.0.0.1", f"tcp:{port}:interface=127.0.0.1")
                      .replace('http = "tcp:7580:interface=127.0.0.1"', "")
                      .replace('var_dir = "../var"', f'var_dir = "{tmp_path / "var"}"'))
    child = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c", str(config),
                              "--drain", "0"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    server = {"port": port}
    try:
        until("the server listens", lambda: cti(server, "show", "calls").returncode == 0,
              within_s=60)
        done = cti(server, "sim", "call", "pstn_r2", "--ani", "13800138000", "--dnis",
                   "5550199", "--category", "national_priority")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:3] == ["device=dtiB2T1", "group=pstn_r2", "signalling=cas"]
        [call] = until("the call up", lambda: calls(server))
        assert (call["ani"], call["dnis"], call["data"]["r2_category"]) == (
            "13800138000", "5550199", "national_priority")
        refused = cti(server, "sim", "call", "pstn_r2", "--ani", "1", "--dnis", "2",
                      "--category", "vip")
        assert refused.returncode != 0 and "category: 'vip' is not one of" in refused.stderr
        assert cti(server, "sim", "hangup", "dtiB2T1").returncode == 0
        until("the call cleared", lambda: not calls(server))
    finally:
        child.terminate()
        child.wait(timeout=60)


def test_glare_on_a_two_way_china_trunk_the_incoming_call_wins(tmp_path):
    centre = r2_centre(tmp_path, "cn")
    trunk = centre.server.channels["dtiB2T1"]
    failed = []
    trunk.seize("5551234").addErrback(failed.append)          # we seize...
    centre.server.telco.r2.call("dtiB2T1", "13800138000", "5550199")   # ...as the telco does
    centre.run_until(lambda: failed, what="our call gives way")
    assert failed[0].value.reason == "glare"
    centre.run_until(lambda: trunk.state in ("offered", "connected"),
                     what="the incoming call offered")
    assert (trunk.ani, trunk.dnis) == ("13800138000", "5550199")


def test_boards_without_an_r2_mf_transceiver_refuse_r2_trunks_at_start(tmp_path):
    """The vendor's API alone has no R2 MF transceiver: a server with R2
    trunks on it does not start, and says why."""
    with pytest.raises(DriverNotSupported) as refused:
        Centre(r2_config(tmp_path, "itu"), binding="vendor")
    assert refused.value.device == "dtiB2T1" and "no R2 MF transceiver" in str(refused.value)


def test_a_china_call_out_whose_called_side_takes_a_shorter_ani_is_accepted():
    """A called side that has enough of the ANI sends A3 (address complete)
    while ours still has ANI digits to send: we go to group B, not astray."""
    def short_ani(port, clock, on_event, max_ani, max_dnis):
        return ChinaBackward(port, clock, on_event, 4, max_dnis)

    pair = R2Pair("cn", max_ani=11, max_dnis=1, ours=ChinaForward, far=short_ani)
    pair.ours.make_call("13800138000", "8", "national_priority")
    offered = pair.until(pair.far_events, "offered")
    assert (offered.ani, offered.dnis, offered.category) == ("1380", "8", "national_priority")
    pair.far.accept("charge")
    assert pair.until(pair.ours_events, "accepted").charge is True


def test_a_china_call_out_whose_called_side_falls_silent_fails_in_30_s():
    """Our DNIS is shorter than the called side's max_dnis and it never asks
    again (nor ends the address with A3): our calling side gives up after
    OpenR2's forward safety time and clears forward, its call failed."""
    def slow(port, clock, on_event, max_ani, max_dnis):
        return ChinaBackward(port, clock, on_event, max_ani, max_dnis, mf_timeout_ms=120_000)

    pair = R2Pair("cn", max_ani=4, max_dnis=7, ours=ChinaForward, far=slow)
    pair.ours.make_call("", "8001")
    assert pair.until(pair.ours_events, "error", within_ms=40_000).error == \
        "forward_safety_timeout"
    pair.run(100)
    assert pair.rig.sim.endpoint(TS).heard_bits() == "1011"              # clear-forward


@pytest.mark.parametrize(("variant", "category"), [("itu", "collect_call"),
                                                   ("cn", "collect_call"), ("cn", "unknown")])
def test_the_telco_refuses_a_category_the_variant_cannot_send(tmp_path, variant, category):
    """A SimCall category that the group's variant has no signal for is
    refused by name (it reached the agent as a national subscriber, or
    died in an MF timeout)."""
    centre = r2_centre(tmp_path, variant)
    e = refused(centre, admin(centre), "SimCall", target="pstn_r2", ani="13800138000",
                dnis="5550199", category=category)
    assert e.code == "invalid_field" and e.body["field"] == "category"
    assert f"category: {category!r} is not one of" in str(e)
    assert centre.server.telco.r2.idle("dtiB2T1")


@pytest.mark.parametrize("variant", ["itu", "cn"])
def test_a_silent_answer_mode_leaves_the_telcos_own_calls_in_alone(tmp_path, variant):
    """SimAnswerMode silence is how the telco takes our calls out: its own
    call in on that timeslot still signals (on OpenR2's variants one
    channel plays both sides)."""
    centre = r2_centre(tmp_path, variant)
    admin_client = admin(centre)
    centre.call(admin_client.call("SimAnswerMode", target="dtiB2T1", mode="silence"))
    centre.call(admin_client.call("SimCall", target="dtiB2T1", ani="2125551234",
                                  dnis="5550199"))
    trunk = centre.server.channels["dtiB2T1"]
    centre.run_until(lambda: trunk.state == "connected", what="the call in answered")
    assert (trunk.ani, trunk.dnis) == ("2125551234", "5550199")


def test_glare_on_a_two_way_itu_trunk_fails_both_calls_and_leaves_it_idle(tmp_path):
    """OpenR2 (the variants but China) settles no glare: both seizures go
    unacknowledged, our call fails with its R2 protocol error, and the
    trunk takes the next call in."""
    centre = r2_centre(tmp_path, "itu")
    trunk = centre.server.channels["dtiB2T1"]
    failed = []
    trunk.seize("5551234").addErrback(failed.append)
    centre.server.telco.r2.call("dtiB2T1", "13800138000", "5550199")
    centre.run_until(lambda: failed, within_ms=20_000, what="our call fails")
    assert failed[0].value.reason == "R2 protocol error: seize_timeout"
    centre.run_until(lambda: trunk.state == "idle" and centre.server.telco.r2.idle("dtiB2T1"),
                     what="both ends idle")
    centre.call(admin(centre).call("SimCall", target="dtiB2T1", ani="2125551234",
                                   dnis="5550199"))
    centre.run_until(lambda: trunk.state == "connected", what="the next call in answered")


def test_a_caller_who_clears_as_the_call_is_accepted_leaves_no_call_up(tmp_path):
    """The telco clears forward in the very tick its China call in is
    accepted (2.1 s after its seizure): OpenR2 reports both at once, the
    call layer answers the first, and the clear still ends the call."""
    centre = r2_centre(tmp_path, "cn")
    trunk, telco = centre.server.channels["dtiB2T1"], centre.server.telco.r2
    telco.call("dtiB2T1", "13800138000", "5550199")
    centre.run(2100)
    telco.hangup("dtiB2T1")
    centre.run_until(lambda: trunk.state == "idle" and telco.idle("dtiB2T1"),
                     what="both ends idle")
    assert centre.center.calls == {}
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.ani, cdr.cause) == ("13800138000", "far end cleared (clear-forward)")


@pytest.mark.parametrize(("variant", "ringing"), [("cn", True), ("cn", False),
                                                  ("itu", False)])
def test_sim_hangup_on_our_unanswered_call_out_is_refused_by_name(tmp_path, variant, ringing):
    """The far end of our call out clears back only once it answered (in
    its register signalling or while it rings it has no line signal for
    it): SimHangup says so, and the call goes on."""
    centre = r2_centre(tmp_path, variant)
    trunk = centre.server.channels["dtiB2T1"]
    admin_client = admin(centre)
    centre.call(admin_client.call("SimAnswerMode", target="dtiB2T1", mode="no_answer"))
    trunk.seize("5551234", no_answer_s=30).addErrback(lambda f: None)
    centre.run_until(lambda: trunk.state == ("alerting" if ringing else "seizing")
                     and not centre.server.telco.r2.idle("dtiB2T1"), what="our call out")
    e = refused(centre, admin_client, "SimHangup", device="dtiB2T1")
    assert e.code == "invalid_state" and "cannot clear the call now" in str(e), str(e)
    centre.run_until(lambda: trunk.state == "alerting", what="the call rings on")
    trunk.release()
    centre.run_until(lambda: trunk.state == "idle" and centre.server.telco.r2.idle("dtiB2T1"),
                     what="both ends idle")


@pytest.mark.parametrize("down_after_ms", [0, 2000])
def test_a_span_alarm_as_an_itu_call_arrives_leaves_the_timeslot_usable(tmp_path,
                                                                        down_after_ms):
    """The span goes down as the telco's call in is seized (0 ms) or being
    accepted (2 s), and comes back: OpenR2 finishes offering or accepting
    a call the trunk gave up, which is cleared, so the next call gets in."""
    centre = r2_centre(tmp_path, "itu")
    trunk, telco = centre.server.channels["dtiB2T1"], centre.server.telco.r2
    telco.call("dtiB2T1", "13800138000", "5550199")
    centre.run(down_after_ms)
    centre.sim.span_alarm("dtiB2", "los", True)
    centre.run(3000)
    centre.sim.span_alarm("dtiB2", "los", False)
    centre.run_until(lambda: trunk.state == "idle" and telco.idle("dtiB2T1"),
                     within_ms=60_000, what="both ends idle")
    assert centre.sim.endpoint("dtiB2T1").heard_bits() == "1001"        # our idle
    centre.call(admin(centre).call("SimCall", target="dtiB2T1", ani="2125551234",
                                   dnis="5550100"))
    centre.run_until(lambda: trunk.state == "connected", what="the next call in answered")
    assert trunk.ani == "2125551234"


def test_a_span_alarm_during_a_china_call_in_leaves_the_telco_able_to_call_again(tmp_path):
    """The telco's China calling side fails its call in (an MF timeout: the
    span is down) and clears forward while our side still acknowledges
    the seizure: it hears our bits until we are idle, then calls again."""
    centre = r2_centre(tmp_path, "cn")
    trunk, telco = centre.server.channels["dtiB2T1"], centre.server.telco.r2
    telco.call("dtiB2T1", "13800138000", "5550199")
    centre.run(500)
    centre.sim.span_alarm("dtiB2", "los", True)
    centre.run(3000)
    centre.sim.span_alarm("dtiB2", "los", False)
    centre.run_until(lambda: trunk.state == "idle" and telco.idle("dtiB2T1"),
                     within_ms=60_000, what="both ends idle")
    centre.call(admin(centre).call("SimCall", target="dtiB2T1", ani="2125551234",
                                   dnis="5550100"))
    centre.run_until(lambda: trunk.state == "connected", what="the next call in answered")
    assert trunk.ani == "2125551234"
