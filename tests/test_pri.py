# SPDX-License-Identifier: GPL-2.0-or-later
"""ISDN PRI trunks end to end on the simulated boards, in virtual time: the
sample centre with an ISDN span added (an E1 with CCS, or a T1 PRI) whose
B-channels are a two-way trunk group, the simulated telco's libpri on the
far end of its D-channel (cti sim's services).  Calls in through the IVR,
the queue and an agent, calls out, refusals with their causes in the CDR,
RESTART and the D-channel lost with calls up, the D-channel trace read
by tshark; and the trunk's own machine, driven on a task.Clock."""
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest
from twisted.internet import task
from twisted.logger import LogLevel, formatEvent, globalLogPublisher

from cti.server.config import load_server_config
from cti.server.lines.pri import PriSpan, PriTrunk, bchannel, bchannel_device
from cti.storage.models import CallRecord
from drivers import _dahdi
from drivers.pri import PriLink
from tests.centre import Centre, admin, flow_tier, refused, tones_both_ways
from tests.rig import hears
from tests.test_callcenter import agent_ready, names

ETC = Path(__file__).resolve().parent.parent / "etc"
SPAN, DCHANNEL = "dtiB2", "dtiB2D"
BOARDS = {"e1": '[[boards]]\ntype = "e1"\nsignalling = "ccs"\n',
          "t1": '[[boards]]\ntype = "t1"\nsignalling = "pri"\n'}
B_CHANNELS = {"e1": 30, "t1": 23}


def pri_config(tmp_path, kind="e1", switchtype=None, pri="", routes=""):
    """The sample configuration with an ISDN span dtiB2 of `kind` added,
    its B-channels the two-way group "isdn"; the sample's analog group
    inbound only, so calls out take the ISDN group, unless `routes`
    ([[outbound_routes]]) say where they go."""
    boards = tmp_path / "boards.toml"
    boards.write_text((ETC / "boards.toml").read_text() + BOARDS[kind])
    text = (ETC / "cti.toml").read_text()
    for old, new in (('boards = "boards.toml"', f'boards = "{boards}"'),
                     ('flows_dir = "flows"', f'flows_dir = "{ETC / "flows"}"'),
                     ('prompts_dir = "prompts"', f'prompts_dir = "{ETC / "prompts"}"'),
                     ('var_dir = "../var"', f'var_dir = "{tmp_path / "var"}"')):
        assert old in text
        text = text.replace(old, new)
    text += (f'\n[[trunk_groups]]\nname = "isdn"\ndirection = "both"\n'
             f'channels = ["{SPAN}T1-{B_CHANNELS[kind]}"]\n{routes}')
    if switchtype or pri:
        text += f'\n[[pri_spans]]\nspan = "{SPAN}"\n' + (
            f'switchtype = "{switchtype}"\n' if switchtype else "") + pri
    path = tmp_path / "cti.toml"
    path.write_text(text)
    config = load_server_config(path)
    if routes:
        return config
    return replace(config, trunk_groups=tuple(
        replace(g, direction="in") if g.name == "local" else g for g in config.trunk_groups))


def started(config):
    """A Centre of `config`, its server started (the telco plays its far
    ends from then on)."""
    centre = Centre(config)
    centre.server.startService()
    return centre


def pri_centre(tmp_path, kind="e1", switchtype=None, pri="", routes=""):
    centre = started(pri_config(tmp_path, kind, switchtype, pri, routes))
    centre.run_until(lambda: dchannel(centre).state == "up", what="the D-channel up")
    return centre


def dchannel(centre):
    return centre.server.pri_spans.get(DCHANNEL)


def trunk(centre, name):
    return centre.server.channels[name]


def sim_call(centre, sim, dnis, ani="2125551234"):
    return centre.call(sim.call("SimCall", target="isdn", ani=ani, dnis=dnis))["device"]


def far_state(centre, sim, device):
    return centre.call(sim.call("SimStatus", device=device))["state"]


def answered(centre, sim, device):
    """Wait until the telco has our CONNECT (not only our side its answer)."""
    centre.run_until(lambda: far_state(centre, sim, device) == "connected",
                     what=f"{device} answered, as the telco sees it")


def to_agent(centre, sim):
    """A call in for the support queue, answered by agent 1005 at msiB1C5:
    (its B-channel, the agent's events, the agent's phone, its client)."""
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    device = sim_call(centre, sim, "5550199")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="the agent talks")
    answered(centre, sim, device)
    return device, events, phone, agent


def headset(centre, agent="1005", station="msiB1C5"):
    client, events = agent_ready(centre, agent, station)
    phone = centre.sim.endpoint(station)
    phone.offhook()
    centre.run_until(lambda: centre.center.channels[station].state == "offhook",
                     what="the headset on")
    return client, events, phone


def heard_both_ways(centre, a, b):
    heard_by_b, heard_by_a = tones_both_ways(centre, a, b)
    return hears(heard_by_b, 1000), hears(heard_by_a, 1500)


# -- calls in and out, end to end -----------------------------------------------------
@pytest.mark.parametrize("kind,switchtype", [("e1", "euroisdn_e1"), ("t1", "national")])
def test_a_call_in_goes_through_the_ivr_and_the_queue_to_an_agent_with_audio_both_ways(
        tmp_path, kind, switchtype):
    centre = pri_centre(tmp_path, kind, switchtype)
    flow_tier(centre)
    sim = admin(centre)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    device = sim_call(centre, sim, "5550100", ani="2125559876")   # the IVR menu
    assert device == f"{SPAN}T1"
    centre.run_until(lambda: trunk(centre, device).state == "connected", what="answered")
    assert (trunk(centre, device).ani, trunk(centre, device).dnis) == ("2125559876", "5550100")
    assert trunk(centre, device).calling_plan == "national"
    centre.run(3000)
    centre.call(sim.call("SimDigits", device=device, digits="2"))    # support
    centre.run(3000)
    centre.call(sim.call("SimDigits", device=device, digits="1"))    # internet
    centre.run_until(lambda: "Delivered" in names(events), within_ms=20_000,
                     what="the call reaches the agent")
    assert dict(events)["Delivered"]["queue"] == "support"
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    caller = centre.sim.endpoint(device)
    assert heard_both_ways(centre, caller, phone) == (True, True)
    centre.call(sim.call("SimHangup", device=device))
    centre.run_until(lambda: trunk(centre, device).state == "idle", what="cleared")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, trunk=device)
    assert (cdr.ani, cdr.dnis, cdr.queue, cdr.agent, cdr.disposition) == (
        "2125559876", "5550100", "support", "1005", "answered")
    assert cdr.cause == "far end cleared (cause 16: Normal Clearing)"
    assert centre.server.voice_pool.busy == set()


@pytest.mark.parametrize("presentation,shown", [("restricted", ""), ("allowed", "2125557777")])
def test_a_withheld_number_reaches_the_cdr_but_never_the_agent(tmp_path, presentation, shown):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    device = centre.call(sim.call("SimCall", target="isdn", ani="2125557777", dnis="5550199",
                                  presentation=presentation))["device"]
    centre.run_until(lambda: "Delivered" in names(events), what="the call reaches the agent")
    delivered = dict(events)["Delivered"]
    assert (delivered["presentation"], delivered["callingDevice"]) == (
        presentation, shown or device)                  # withheld: the trunk, as for no ANI
    snap = centre.call(agent.call("Snapshot", object="call", id=delivered["call"]))["snapshot"]
    assert (snap["ani"], snap["presentation"]) == (shown, presentation)
    waiting = centre.call(agent.call("Snapshot", object="queue", id="support"))["snapshot"]
    seen = str(events) + str(snap) + str(waiting)     # all the agent's desktop was told
    assert ("2125557777" in seen) == (presentation == "allowed")
    centre.call(sim.call("SimHangup", device=device))
    centre.run_until(lambda: trunk(centre, device).state == "idle", what="cleared")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, trunk=device)
    assert cdr.ani == "2125557777"                     # the operator's record keeps it


def test_a_presentation_is_for_isdn_calls_only_and_cti_sim_call_withholds_one(tmp_path):
    from cti.sim_cli import COMMANDS, parser

    service, fields = COMMANDS["call"]
    args = parser().parse_args(["call", "isdn", "--ani", "5551234", "--withheld"])
    assert (service, fields(args)["presentation"]) == ("SimCall", "restricted")
    assert "presentation" not in fields(parser().parse_args(["call", "isdn"]))
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    e = refused(centre, sim, "SimCall", target="local", ani="5551234",
                presentation="restricted")
    assert (e.code, e.body["field"]) == ("invalid_field", "presentation")
    assert "analog caller ID" in e.body["message"]
    e = refused(centre, sim, "SimCall", target="isdn", ani="5551234", presentation="hidden")
    assert (e.code, e.body["field"]) == ("invalid_field", "presentation")


@pytest.mark.parametrize("kind,switchtype", [("e1", "euroisdn_e1"), ("t1", "national")])
def test_an_agent_calls_out_with_early_media_then_talks_both_ways(tmp_path, kind, switchtype):
    centre = pri_centre(tmp_path, kind, switchtype)
    sim = admin(centre)
    client, events, phone = headset(centre)
    centre.call(sim.call("SimAnswerMode", target="isdn", mode="answer", rings=1))
    call_id = centre.call(client.call("MakeCall", number="5551234"))["call"]
    far = centre.sim.endpoint(f"{SPAN}T1")
    centre.run_until(lambda: trunk(centre, f"{SPAN}T1").state == "alerting",
                     what="ALERTING")
    phone.capture(True)
    far.send_tone_custom(1300, 0, -10, on_ms=500)        # an announcement before the answer
    centre.run(1000)
    assert hears(phone.read_capture()[2000:], 1300)     # early media: heard in-band
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers")
    status = centre.call(sim.call("SimStatus", device=f"{SPAN}T1"))
    assert (status["state"], status["dialled"]) == ("connected", "5551234")
    assert heard_both_ways(centre, far, phone) == (True, True)
    centre.call(sim.call("SimHangup", device=f"{SPAN}T1", cause=16))
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent is free again")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert (cdr.direction, cdr.trunk, cdr.dnis, cdr.disposition) == (
        "outbound", f"{SPAN}T1", "5551234", "answered")
    assert trunk(centre, f"{SPAN}T1").state == "idle"


def test_an_agent_transfers_an_isdn_caller_out_on_another_b_channel(tmp_path):
    """In on B-channel 1, out on B-channel 2 of the same span: two ISDN
    calls bridged, audio both ways between the caller and the far end."""
    centre = pri_centre(tmp_path, "t1", "national")
    sim = admin(centre)
    centre.call(sim.call("SimAnswerMode", target=f"{SPAN}T2", mode="answer", rings=1))
    device, events, phone, agent = to_agent(centre, sim)
    assert device == f"{SPAN}T1"
    call_id = dict(events)["Established"]["call"]
    result = centre.call(agent.call("SingleStepTransferCall", call=call_id, number="5559876"))
    assert result["transferredTo"] == "number:5559876"
    centre.run_until(lambda: centre.center.calls[call_id].outside, within_ms=20_000,
                     what="the far end answers")
    status = centre.call(sim.call("SimStatus", device=f"{SPAN}T2"))
    assert (status["state"], status["dialled"]) == ("connected", "5559876")
    caller, far = centre.sim.endpoint(device), centre.sim.endpoint(f"{SPAN}T2")
    assert heard_both_ways(centre, caller, far) == (True, True)
    centre.call(sim.call("SimHangup", device=device))
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(1000)
    assert [trunk(centre, d).state for d in (device, f"{SPAN}T2")] == ["idle", "idle"]
    assert centre.server.voice_pool.busy == set()


def test_outbound_routes_send_long_distance_on_isdn_and_local_calls_on_analog_lines(
        tmp_path):
    """[[outbound_routes]]: numbers beginning 1 on the ISDN group, every
    other on the sample's analog lines."""
    centre = pri_centre(tmp_path, routes='\n[[outbound_routes]]\nname = "long_distance"\n'
                        'prefix = "1"\ntrunk_groups = ["isdn"]\n\n[[outbound_routes]]\n'
                        'name = "local"\nprefix = ""\ntrunk_groups = ["local"]\n')
    sim = admin(centre)
    client, events, phone = headset(centre)
    centre.call(client.call("MakeCall", number="12125550123"))
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what="the long-distance call answered")
    assert centre.call(sim.call("SimStatus", device=f"{SPAN}T1"))["dialled"] == \
        "12125550123"
    centre.call(sim.call("SimHangup", device=f"{SPAN}T1"))
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent free again")
    events.clear()
    centre.sim.endpoint("dxxxB1C1").set_outbound("answer", 1)
    centre.call(client.call("MakeCall", number="5551234"))
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what="the local call answered")
    assert centre.sim.endpoint("dxxxB1C1").dialled() == "5551234"
    assert trunk(centre, f"{SPAN}T1").state == "idle"


@pytest.mark.parametrize("cause,disposition,words", [(17, "busy", "busy (cause 17: User busy)"),
                                                     (34, "failed", "refused (cause 34: ")])
def test_a_call_out_refused_fails_with_the_cause_in_the_cdr(tmp_path, cause, disposition,
                                                             words):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    client, events, phone = headset(centre)
    mode = "busy" if cause == 17 else "refuse"
    centre.call(sim.call("SimAnswerMode", target="isdn", mode=mode,
                         **({} if cause == 17 else {"cause": cause})))
    call_id = centre.call(client.call("MakeCall", number="5550000"))["call"]
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     within_ms=20_000, what="the call fails")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert cdr.disposition == disposition and cdr.cause.startswith(words)
    assert trunk(centre, f"{SPAN}T1").state == "idle"
    assert trunk(centre, f"{SPAN}T1").cause == cause
    assert centre.server.voice_pool.busy == set()


def test_the_telco_s_answer_modes_on_isdn_are_checked(tmp_path):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    no_cause = refused(centre, sim, "SimAnswerMode", target="isdn", mode="refuse")
    assert no_cause.code == "invalid_field" and "needs the Q.850 cause" in str(no_cause)
    analog = refused(centre, sim, "SimAnswerMode", target="isdn", mode="sit")
    assert "answer, no_answer, busy, refuse" in str(analog)
    bad = refused(centre, sim, "SimHangup", device=f"{SPAN}T1", cause=200)
    assert bad.code == "invalid_field"


# -- RESTART and the D-channel -------------------------------------------------------
def test_a_restart_of_a_channel_and_of_the_span_clears_the_calls_up(tmp_path):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    first, second = sim_call(centre, sim, "5550199"), sim_call(centre, sim, "5550199")
    answered(centre, sim, first)
    answered(centre, sim, second)
    centre.call(sim.call("SimRestart", span=SPAN, channel=bchannel(first, True)))
    centre.run_until(lambda: trunk(centre, first).state == "idle", what="restarted")
    assert trunk(centre, second).state == "connected"
    centre.call(sim.call("SimRestart", span=SPAN))
    centre.run_until(lambda: trunk(centre, second).state == "idle", what="all restarted")
    centre.run(500)
    causes = sorted(r.cause for r in centre.records.of(CallRecord))
    assert causes == ["restarted by the network (RESTART of channel 1)",
                      "restarted by the network (RESTART of channel 2)"]
    assert sim_call(centre, sim, "5550199") == first     # the channel works again
    centre.run_until(lambda: trunk(centre, first).state == "connected", what="answered")


def test_a_restart_of_the_whole_interface_from_a_switch_clears_every_call(tmp_path):
    """A switch may RESTART the whole interface (restart class "all
    interfaces", no channel identification), which libpri cannot send:
    the frame is sent here as the telco's next I-frame."""
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    first, second = sim_call(centre, sim, "5550199"), sim_call(centre, sim, "5550199")
    answered(centre, sim, first)
    answered(centre, sim, second)
    ours = dchannel(centre).link
    frames = []
    ours.trace = lambda frame, sent: frames.append((bytes(frame), sent))
    centre.call(sim.call("SimRestart", span=SPAN, channel=bchannel(first, True)))
    centre.run_until(lambda: trunk(centre, first).state == "idle", what="restarted")

    def last_sequence(sent):
        return [f[2] >> 1 for f, s in frames if s == sent and len(f) > 4 and not f[2] & 1][-1]
    address = bytes([0x02, 0x01])                     # SAPI 0, a network command, TEI 0
    control = bytes([(last_sequence(False) + 1) % 128 << 1, (last_sequence(True) + 1) % 128 << 1])
    restart = bytes([0x08, 0x02, 0x00, 0x00, 0x46,    # global call reference, RESTART
                     0x79, 0x01, 0x87])               # restart indicator: all interfaces
    centre.server.telco.isdn.spans[SPAN].far.send(address + control + restart)
    centre.run_until(lambda: trunk(centre, second).state == "idle", what="all restarted")
    centre.run(500)
    causes = sorted(r.cause for r in centre.records.of(CallRecord))
    assert causes == ["restarted by the network (RESTART of channel 1)",
                      "restarted by the network (RESTART of the interface)"]


def test_a_d_channel_lost_keeps_the_call_up_then_clears_it_with_cause_27(tmp_path):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    device, events, phone, _ = to_agent(centre, sim)
    centre.call(sim.call("SimDChannel", span=SPAN, on=False))
    centre.run_until(lambda: dchannel(centre).state == "down", within_ms=20_000,
                     what="layer 2 lost")
    assert trunk(centre, device).state == "connected"   # Q.931 5.8.9: T309 keeps it
    assert heard_both_ways(centre, centre.sim.endpoint(device), phone) == (True, True)
    centre.run_until(lambda: trunk(centre, device).state == "out_of_service",
                     within_ms=40_000, what="T309 expires")    # cleared, then out of service
    centre.run(500)
    [cdr] = centre.records.of(CallRecord, trunk=device)
    assert cdr.cause == "far end cleared (cause 27: Destination out of order)"
    assert {trunk(centre, f"{SPAN}T{n}").state for n in (1, 2, 30)} == {"out_of_service"}
    refusal = refused(centre, sim, "SimCall", target="isdn", dnis="5550199")
    assert "no channel is idle at both ends" in str(refusal)
    centre.call(sim.call("SimDChannel", span=SPAN, on=True))
    centre.run_until(lambda: dchannel(centre).state == "up", within_ms=20_000,
                     what="layer 2 back")
    assert trunk(centre, device).state == "idle"
    assert sim_call(centre, sim, "5550199") == device


def test_an_isdn_board_removed_takes_its_d_channel_down_at_once_said_once(tmp_path):
    """On DAHDI, the E1's board hot-unplugged with a call up: the
    D-channel is down at once (not when layer 2 times out), its history
    saying why, the call cleared and every B-channel out of service; the
    log says once that its board went, with no warning for each frame
    libpri goes on trying to send."""
    said = []
    globalLogPublisher.addObserver(said.append)
    try:
        centre = Centre(pri_config(tmp_path), driver="dahdi")
        centre.server.startService()
        centre.run_until(lambda: dchannel(centre).state == "up", within_ms=30_000,
                         what="the D-channel up")
        device, _, _, _ = to_agent(centre, admin(centre))
        said.clear()
        assert _dahdi.lib.cti_dahdisim_unplug(4) == 0   # the E1 after etc's 3 boards
        centre.run(200)
        assert dchannel(centre).state == "down"
        assert "D-channel down: its board was removed" in dchannel(centre).snapshot()[
            "history"][-1]
        centre.run_until(lambda: not centre.center.calls, within_ms=2_000,
                         what="the call cleared")
        [cdr] = centre.records.of(CallRecord, trunk=device)
        assert cdr.cause == f"span {SPAN} down: its board was removed"
        centre.run(60_000)
        assert {trunk(centre, f"{SPAN}T{n}").state for n in (1, 2, 30)} == {"out_of_service"}
    finally:
        globalLogPublisher.removeObserver(said.append)
    about = [formatEvent(e) for e in said if e.get("dchannel") == DCHANNEL
             and e["log_level"] >= LogLevel.warn]
    assert about == [f"{DCHANNEL}: D-channel down: its board was removed: no frame is sent "
                     "on it until the board is plugged back and the server restarted"]
    centre.center.stop()


# -- overlap receiving ----------------------------------------------------------------
def test_overlap_receiving_takes_the_number_digit_by_digit(tmp_path):
    centre = pri_centre(tmp_path, pri="overlap = true\n")
    sim = admin(centre)
    device = sim_call(centre, sim, "5550199")
    centre.run(500)
    assert trunk(centre, device).state == "overlap"
    centre.run_until(lambda: trunk(centre, device).state == "connected", within_ms=10_000,
                     what="the number complete")
    assert trunk(centre, device).dnis == "5550199"


def test_overlap_receiving_offers_at_once_when_the_switch_says_sending_complete(tmp_path):
    """An INFORMATION carrying Sending Complete (IE 0xA1) ends the number:
    no wait for more digits.  libpri cannot send one, so the frame is sent
    here as the telco's next I-frame on the call's reference."""
    centre = pri_centre(tmp_path, pri="overlap = true\n")
    sim = admin(centre)
    frames = []
    dchannel(centre).link.trace = lambda frame, sent: frames.append((bytes(frame), sent))
    device = sim_call(centre, sim, "5550199")
    centre.run_until(lambda: trunk(centre, device).dnis == "5550199", what="the digits")
    assert trunk(centre, device).state == "overlap"       # waiting for more, or the end

    def i_frames(sent):
        return [f for f, s in frames if s == sent and len(f) > 8 and not f[2] & 1]
    setup = next(f for f in i_frames(False) if f[8] == 0x05)
    control = bytes([(i_frames(False)[-1][2] >> 1) + 1 << 1 & 0xFE,
                     (i_frames(True)[-1][2] >> 1) + 1 << 1 & 0xFE])
    information = bytes([0x08, 0x02, setup[6], setup[7],   # the call's reference, as sent
                         0x7B, 0xA1])                      # INFORMATION, Sending Complete
    centre.server.telco.isdn.spans[SPAN].far.send(bytes([0x02, 0x01]) + control + information)
    centre.run(500)                                        # far less than the digit wait
    assert trunk(centre, device).state != "overlap"
    assert "offer" in [t.event for t in trunk(centre, device).machine.history]


def test_overlap_on_a_switch_type_that_sends_en_bloc_is_refused(tmp_path):
    from cti.config import ConfigError

    with pytest.raises(ConfigError, match=r"pri_spans\[0\]\.overlap.*en bloc"):
        pri_config(tmp_path, "t1", "national", "overlap = true\n")


def test_nothing_goes_out_on_the_d_channel_once_the_server_stopped(tmp_path):
    centre = pri_centre(tmp_path)
    sent = []
    dchannel(centre).tracers.append(lambda frame, outgoing: outgoing and sent.append(frame))
    centre.call(centre.server.stopService())
    sent.clear()
    centre.clock.advance(60)
    assert sent == []
    assert not [c for c in centre.clock.getDelayedCalls() if "PriLink" in repr(c.func)]


# -- the trunk's machine on a task.Clock ----------------------------------------------
class Listener:
    def __init__(self):
        self.offered, self.released = [], []

    def trunk_offered(self, trunk, ani, dnis, presentation="allowed"):
        self.offered.append((trunk.name, ani, dnis))

    def trunk_released(self, trunk, reason):
        self.released.append((trunk.name, reason))
        trunk.release(reason)


class Pool:
    def __init__(self):
        self.free = ["dxxxB1C1"]

    def take(self, owner):
        return self.free.pop() if self.free else None

    def give(self, name):
        self.free.append(name)


class Wired:
    """Our PriSpan with two PriTrunks and the telco's PriLink, frames
    passed by hand, on one task.Clock; no board."""

    class Driver:
        def __init__(self, wire):
            self.wire = wire

        def dchannel_send(self, name, frame):
            self.wire.to_telco.append(frame)

        def stop(self, name):
            pass

    class Bus:
        def route(self, *args, **kwargs):
            pass

        def release(self, name):
            pass

    def __init__(self, settings):
        self.clock = task.Clock()
        self.to_telco, self.to_us, self.telco_events = [], [], []
        self.listener = Listener()
        self.span = PriSpan(DCHANNEL, SPAN, settings, self.Driver(self), self.clock, e1=True)
        for n in (1, 2):
            self.span.add(PriTrunk(f"{SPAN}T{n}", self.span.driver, self.clock, self.listener,
                                   Pool(), self.Bus(), self.span, n))
        self.telco = PriLink("telco", "network", settings.switchtype, self.clock,
                             send=self.to_us.append, on_event=self._telco_event)
        self.pump()

    def _telco_event(self, event):
        """The telco answers a RELEASE or DISCONNECT (as a switch does)."""
        self.telco_events.append(event)
        if event.kind in ("release", "disconnect"):
            self.telco.hangup(event.call, event.cause)

    def pump(self):
        while self.to_telco or self.to_us:
            while self.to_telco:
                self.telco.receive(self.to_telco.pop(0))
            while self.to_us:
                self.span.handle(type("Event", (), {"kind": "dchannel_frame",
                                                    "data": {"frame": self.to_us.pop(0)}}))

    def trunk(self, n):
        return self.span.trunks[n]


def settings(**kw):
    from cti.server.config import PriSettings

    return PriSettings(SPAN, switchtype="euroisdn_e1", **kw)


def test_the_trunk_machine_in_and_cleared_by_the_far_end_with_its_history():
    wired = Wired(settings())
    call = wired.telco.setup(2, "5550199", "2125551234")
    wired.pump()
    trunk = wired.trunk(2)
    assert wired.listener.offered == [(f"{SPAN}T2", "2125551234", "5550199")]
    trunk.answer()
    wired.pump()
    wired.telco.hangup(call, 17)
    wired.pump()
    assert trunk.state == "idle" and trunk.cause == 17
    assert [t.event for t in trunk.machine.history] == [
        "out_of_service", "back_in_service",         # until the D-channel first came up
        "offer", "answer", "far_clear", "release", "idle"]
    assert wired.listener.released == [(f"{SPAN}T2", "far end cleared (cause 17: User busy)")]


def test_a_call_refused_with_a_cause_libpri_ends_at_once_leaves_the_trunk_idle():
    """No route: cause 1, which libpri sends as RELEASE COMPLETE straight
    away (no answer comes to wait for)."""
    wired = Wired(settings())
    wired.telco.setup(1, "5550000", "2125551234")
    wired.pump()
    trunk = wired.trunk(1)
    trunk.release("no route for the call")
    wired.pump()
    assert trunk.state == "idle" and trunk.cause == 1 and trunk.call is None
    assert [e.cause for e in wired.telco_events if e.kind == "release"] == [1]


def test_a_setup_with_no_voice_resource_free_is_refused_with_cause_47():
    wired = Wired(settings())
    trunk = wired.trunk(1)
    trunk.voice_pool.free = []
    wired.telco.setup(1, "5550199", "2125551234")
    wired.pump()
    assert wired.listener.offered == []
    assert [e.cause for e in wired.telco_events if e.kind in ("disconnect", "release")] \
        == [47]
    assert trunk.state == "idle" and trunk.call is None
    assert [t.event for t in trunk.machine.history][-2:] == ["refuse", "idle"]


def test_the_trunk_machine_out_with_no_answer_on_the_clock():
    wired = Wired(settings())
    trunk = wired.trunk(1)
    failed = []
    trunk.seize("5551234", no_answer_s=30).addErrback(failed.append)
    wired.pump()
    ring = [e for e in wired.telco_events if e.kind == "setup"][-1]
    assert (ring.channel, ring.called, ring.exclusive) == (1, "5551234", True)
    wired.telco.proceeding(ring.call)
    wired.telco.alerting(ring.call, inband=True)
    wired.pump()
    assert trunk.state == "alerting"
    wired.clock.advance(29.9)
    assert not failed
    wired.clock.advance(0.2)
    wired.pump()
    assert failed[0].value.reason == "no_answer" and trunk.state == "idle"
    assert [e.cause for e in wired.telco_events if e.kind == "disconnect"] == [19]


def test_a_call_out_our_caller_gives_up_is_cleared_with_normal_clearing():
    """Cause 21 (call rejected) is the called side's; the caller hanging
    up while the far end rings clears with 16, as Q.850 has it."""
    wired = Wired(settings())
    failed = []
    wired.trunk(1).seize("5551234").addErrback(failed.append)
    wired.pump()
    ring = [e for e in wired.telco_events if e.kind == "setup"][-1]
    wired.telco.alerting(ring.call, inband=True)
    wired.pump()
    wired.trunk(1).release("the agent hung up")
    wired.pump()
    assert [e.cause for e in wired.telco_events if e.kind == "disconnect"] == [16]
    assert wired.trunk(1).state == "idle" and failed[0].value.reason == "the agent hung up"


def test_a_call_out_carries_the_span_s_calling_number_presentation_and_channel_choice():
    wired = Wired(settings(channel_selection="preferred", calling_number="5550100",
                           presentation="restricted"))
    wired.trunk(2).seize("13800138000")
    wired.pump()
    ring = [e for e in wired.telco_events if e.kind == "setup"][-1]
    assert (ring.channel, ring.exclusive, ring.called, ring.calling, ring.presentation) == (
        2, False, "13800138000", "5550100", "restricted")


def test_a_call_out_the_network_puts_on_another_channel_is_cleared_with_cause_6():
    """Preferred: the network may answer on another channel than ours, one
    this trunk is not: the call is cleared (channel unacceptable), not
    left talking on a channel another trunk thinks is idle."""
    wired = Wired(settings(channel_selection="preferred"))
    failed = []
    wired.trunk(1).seize("13800138000").addErrback(failed.append)
    wired.pump()
    ring = [e for e in wired.telco_events if e.kind == "setup"][-1]
    ring.call.channel = 2                            # the network takes channel 2
    wired.telco.proceeding(ring.call)
    wired.pump()
    assert failed[0].value.reason == "glare"            # the dialer tries the next trunk
    assert [e.cause for e in wired.telco_events if e.kind in ("disconnect", "release")] \
        == [6]
    assert wired.trunk(1).state == "idle" and wired.trunk(1).call is None
    assert wired.trunk(1).cause == 6
    wired.telco.setup(2, "5550199", "2125551234")     # channel 2 free for a call in
    wired.pump()
    assert wired.listener.offered == [(f"{SPAN}T2", "2125551234", "5550199")]


def test_the_network_s_call_wins_a_glare_on_a_channel_we_seize():
    """Our SETUP and the network's cross for channel 1: the network's call
    is taken (Q.931 5.7: it clears ours with cause 44), ours fails as a
    glare so that the dialer tries the next trunk; no caller is lost."""
    wired = Wired(settings())
    failed = []
    wired.trunk(1).seize("13800138000").addErrback(failed.append)
    wired.telco.setup(1, "5550199", "2125551234")        # crossing ours on the wire
    wired.pump()
    ours = [e for e in wired.telco_events if e.kind == "setup"][-1]
    wired.telco.refuse(ours.call, 44)
    wired.pump()
    assert failed[0].value.reason == "glare"
    assert wired.listener.offered == [(f"{SPAN}T1", "2125551234", "5550199")]
    assert wired.trunk(1).state == "offered"
    wired.trunk(1).answer()
    wired.pump()
    assert wired.trunk(1).state == "connected"
    assert not [e for e in wired.telco_events if e.kind in ("disconnect", "release")
                and e.call is not ours.call]


def test_a_preferred_channel_busy_gives_way_and_an_exclusive_one_is_refused_44():
    wired = Wired(settings())
    wired.telco.setup(1, "5550199", "1")
    wired.pump()
    wired.telco.setup(1, "5550199", "2", exclusive=False)
    wired.pump()
    assert [o[0] for o in wired.listener.offered] == [f"{SPAN}T1", f"{SPAN}T2"]
    third = wired.telco.setup(1, "5550199", "3")
    wired.pump()
    cleared = [e for e in wired.telco_events if e.kind in ("disconnect", "release")][-1]
    assert (cleared.call, cleared.cause) == (third, 44)
    wired.telco.setup(None, "5550199", "4", exclusive=False)
    wired.pump()
    assert [e for e in wired.telco_events
            if e.kind in ("disconnect", "release")][-1].cause == 34


def test_b_channel_numbering_skips_the_e1_d_channel():
    assert [bchannel(f"dtiB1T{n}", True) for n in (1, 15, 16, 30)] == [1, 15, 17, 31]
    assert bchannel("dtiB1T23", False) == 23
    assert bchannel_device("dtiB1", 17, True) == "dtiB1T16"
    assert bchannel_device("dtiB1", 16, True) is None
    assert bchannel_device("dtiB1", 24, False) is None


# -- the D-channel trace (linediag trace, against the running server) ------------------
class Technician:
    """linediag's Attached source over a tests.centre client: its calls
    made blocking, its events queued; virtual time runs while it waits."""

    def __init__(self, centre, client):
        self.centre, self.client, self.events = centre, client, []
        client.on_event(lambda name, body, invoke_id: self.events.append(
            (name, body, invoke_id)))

    def call(self, service, **params):
        return self.centre.call(self.client.call(service, **params))

    def next_event(self, timeout):
        for _ in range(max(1, round(timeout * 1000) // 10)):      # time moves on
            if self.events:
                break
            self.centre.run(10)
        if not self.events:
            raise TimeoutError("no event")
        return self.events.pop(0)

    def close(self):
        pass


def test_linediag_traces_a_call_to_a_pcap_that_tshark_reads_as_q931(tmp_path):
    import io

    from cti import linediag
    from cti.linediag.source import Attached

    centre = pri_centre(tmp_path)
    sim = admin(centre)
    source = Attached(Technician(centre, admin(centre)))
    centre.clock.callLater(1, sim.call, "SimCall", target="isdn", ani="13800138000",
                           dnis="5550199")
    centre.clock.callLater(6, sim.call, "SimHangup", device=f"{SPAN}T1", cause=17)
    pcap, out = tmp_path / "call.pcap", io.StringIO()
    args = linediag.parser().parse_args(["trace", DCHANNEL, "--output", str(pcap),
                                         "--seconds", "10"])
    assert linediag.run(args, source, out, now=centre.clock.seconds) == 0
    assert out.getvalue().startswith(f"tracing {DCHANNEL} (D-channel up) to {pcap}")
    assert "frames written to" in out.getvalue()
    assert trunk(centre, f"{SPAN}T1").state == "idle"
    fields = subprocess.run(
        ["tshark", "-r", str(pcap), "-Y", "q931", "-T", "fields", "-e", "q931.message_type",
         "-e", "lapd.direction", "-e", "q931.calling_party_number.digits",
         "-e", "q931.called_party_number.digits", "-e", "q931.cause_value"],
        capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in fields.splitlines()]
    assert rows[0][0] == "0x05" and rows[0][2:4] == ["13800138000", "5550199"]   # SETUP
    messages = [r[0] for r in rows]
    assert messages[1:3] == ["0x02", "0x07"]             # CALL PROCEEDING, CONNECT
    assert "0x45" in messages and rows[messages.index("0x45")][4] == "17"   # DISCONNECT
    assert rows[0][1] != rows[1][1]                      # both directions traced
    assert dchannel(centre).tracers == []                # the trace ended with the command
    spans = io.StringIO()
    assert linediag.run(linediag.parser().parse_args(["spans", SPAN]), source, spans) == 0
    assert f"D-channel {DCHANNEL} up (cpe, euroisdn_e1)" in spans.getvalue()


@pytest.mark.parametrize("kind,device,channel", [("e1", "T15", "15"), ("e1", "T16", "17"),
                                                 ("e1", "T30", "31"), ("t1", "T23", "23")])
def test_the_trace_shows_a_b_channel_by_its_q931_number(tmp_path, kind, device, channel):
    """E1: dtiBnT16..T30 are timeslots 17-31 (16 is the D-channel); T1:
    channels 1-23 (24 is the D-channel); as tshark reads the SETUP and
    our CALL PROCEEDING."""
    import io

    from cti import linediag
    from cti.linediag.source import Attached

    centre = pri_centre(tmp_path, kind)
    sim = admin(centre)
    source = Attached(Technician(centre, admin(centre)))
    centre.clock.callLater(1, sim.call, "SimCall", target=SPAN + device, ani="2125551234",
                           dnis="5550199")
    pcap = tmp_path / "call.pcap"
    args = linediag.parser().parse_args(["trace", DCHANNEL, "--output", str(pcap),
                                         "--seconds", "3"])
    assert linediag.run(args, source, io.StringIO(), now=centre.clock.seconds) == 0
    assert trunk(centre, SPAN + device).state == "connected"
    fields = subprocess.run(["tshark", "-r", str(pcap), "-Y", "q931", "-T", "fields", "-e",
                             "q931.message_type", "-e", "q931.channel.number"],
                            capture_output=True, text=True, check=True).stdout
    rows = [line.split("\t") for line in fields.splitlines()]
    assert rows[:2] == [["0x05", channel], ["0x02", channel]]


def test_a_trace_ends_with_the_technician_s_session(tmp_path):
    """linediag killed (no StopDChannelTrace): the session's end stops the
    trace, nothing is left sending frames for nobody."""
    centre = pri_centre(tmp_path)
    technician = admin(centre)
    centre.call(technician.call("StartDChannelTrace", device=DCHANNEL))
    centre.run(1000)
    assert len(dchannel(centre).tracers) == 1
    technician.transport.loseConnection()
    centre.run(100)
    assert dchannel(centre).tracers == []


def test_a_trace_of_what_is_no_d_channel_is_refused_naming_them(tmp_path):
    centre = pri_centre(tmp_path)
    error = refused(centre, admin(centre), "StartDChannelTrace", device="dtiB1D")
    assert error.code == "no_such_object" and f"D-channels: {DCHANNEL}" in str(error)


# -- the configuration doctor ----------------------------------------------------------
def findings(centre, rule):
    answer = centre.call(admin(centre).call("Diagnose"))
    return [f for f in answer["findings"] if f["rule"].startswith("pri.")], rule


def test_the_doctor_finds_both_ends_network_from_libpri_s_own_words(tmp_path):
    centre = started(pri_config(tmp_path, pri='node = "network"\n'))   # facing a PBX...
    sim = admin(centre)
    answer = centre.call(sim.call("SimDChannel", span=SPAN, node="network"))  # ...a telco
    assert (answer["node"], answer["switchtype"]) == ("network", "euroisdn_e1")
    centre.run(3000)
    assert dchannel(centre).state == "down"
    [finding], _ = findings(centre, "pri.side")
    assert (finding["rule"], finding["severity"]) == ("pri.side", "error")
    assert finding["where"].startswith(f"{SPAN} (pri_spans[0].node in ")
    assert "they think they're the network, too" in finding["evidence"]
    assert finding["fix"].startswith('Set node = "cpe"')


def test_a_telco_provisioned_back_leaves_no_old_side_calling_on_the_d_channel(tmp_path):
    """SimDChannel --node cpe, then --node network again: the D-channel is
    up with only the new far end on it (the old one's SABMEs would be
    libpri's configuration errors every second, forever)."""
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    centre.call(sim.call("SimDChannel", span=SPAN, node="cpe"))
    centre.run_until(lambda: dchannel(centre).state == "down", what="both sides CPE")
    centre.call(sim.call("SimDChannel", span=SPAN, node="network"))
    centre.run_until(lambda: dchannel(centre).state == "up", what="provisioned back")
    errors = list(dchannel(centre).config_errors)
    received = []
    dchannel(centre).tracers.append(lambda frame, sent: sent or received.append(frame))
    centre.run(30_000)
    assert dchannel(centre).config_errors == errors
    assert not [f for f in received if f[2] & 0xEF == 0x6F]       # no SABME
    assert dchannel(centre).state == "up"


def test_the_doctor_finds_a_silent_d_channel_on_a_healthy_span(tmp_path):
    centre = pri_centre(tmp_path)
    sim = admin(centre)
    centre.call(sim.call("SimDChannel", span=SPAN, on=False))
    centre.run_until(lambda: dchannel(centre).state == "down", within_ms=20_000,
                     what="layer 2 lost")
    [finding], _ = findings(centre, "pri.dchannel")
    assert finding["rule"] == "pri.dchannel" and "(timeslot 16) is down" in finding["evidence"]


def test_the_doctor_suspects_the_switch_type_when_the_far_end_cannot_read_our_calls(
        tmp_path):
    from cti.server.maintenance.doctor import diagnose

    config = pri_config(tmp_path, "t1", "dms100")
    report = {"span": SPAN, "alarms": [], "timeslots": [], "loopback": "none",
              "isdn": {"state": "up", "configErrors": [], "farCauses": {"100": 2, "96": 1,
                                                                         "16": 9}}}
    [finding] = [f for f in diagnose(config, [report]) if f.rule.startswith("pri.")]
    assert finding.rule == "pri.switchtype" and finding.severity == "warning"
    assert finding.evidence == ("the far end cleared 3 calls as unreadable: 1 with cause 96 "
                                "(mandatory information element is missing), 2 with cause 100 "
                                "(invalid information element contents)")
    assert "this span is set to dms100" in finding.fix
    assert finding.where.startswith(f"{SPAN} (pri_spans[0].switchtype in ")
    report["isdn"]["farCauses"] = {"100": 2}
    assert not [f for f in diagnose(config, [report]) if f.rule.startswith("pri.")]


def test_the_doctor_has_no_pri_finding_on_a_healthy_isdn_span(tmp_path):
    centre = pri_centre(tmp_path)
    assert findings(centre, "pri")[0] == []


# -- the shell commands against a real `cti server` process ---------------------------
def test_a_technician_traces_a_call_given_with_cti_sim_on_a_running_server(tmp_path):
    """`cti server` on the wall clock with an E1 CCS span; `linediag trace`
    runs while `cti sim call` and `cti sim hangup --cause 17` give a call."""
    import os
    import shutil
    import socket
    import sys
    import time

    from tests.test_shell import PASSWORD, calls, cti, free_port, until

    etc = tmp_path / "etc"
    shutil.copytree(ETC, etc)
    (etc / "boards.toml").write_text((etc / "boards.toml").read_text() + BOARDS["e1"])
    port = free_port()
    config = etc / "cti.toml"
    config.write_text(config.read_text()
                      .replace("tcp:7500:interface=127.0.0.1", f"tcp:{port}:interface=127.0.0.1")
                      .replace('http = "tcp:7580:interface=127.0.0.1"', "")
                      .replace('var_dir = "../var"', f'var_dir = "{tmp_path / "var"}"')
                      + f'\n[[trunk_groups]]\nname = "isdn"\ndirection = "both"\n'
                      f'channels = ["{SPAN}T1-30"]\n')
    child = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c", str(config),
                              "--drain", "0"], stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
    server = {"port": port}
    try:
        until("the server listening", lambda: _listening(socket, port) or child.poll())
        assert child.poll() is None, child.stderr.read()[-2000:]
        pcap = tmp_path / "call.pcap"
        trace = subprocess.Popen([sys.executable, "-m", "cti", "linediag", "trace", DCHANNEL,
                                  "--output", str(pcap), "--seconds", "8", "--server",
                                  f"127.0.0.1:{port}"], stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True,
                                 env={**os.environ, "CTI_PASSWORD": PASSWORD})
        until("tracing", lambda: pcap.exists())
        done = cti(server, "sim", "call", "isdn", "--ani", "13800138000", "--dnis", "5550199")
        assert done.returncode == 0, done.stderr
        assert done.stdout.split()[:3] == [f"device={SPAN}T1", "group=isdn", "signalling=ccs"]
        [call] = until("the call up", lambda: calls(server))
        assert (call["ani"], call["dnis"]) == ("13800138000", "5550199")
        time.sleep(1)
        done = cti(server, "sim", "hangup", f"{SPAN}T1", "--cause", "17")
        assert done.returncode == 0, done.stderr
        until("the call cleared", lambda: not calls(server))
        out, err = trace.communicate(timeout=60)
        assert trace.returncode == 0, err
        assert "frames written to" in out
        fields = subprocess.run(
            ["tshark", "-r", str(pcap), "-Y", "q931", "-T", "fields",
             "-e", "q931.message_type", "-e", "q931.calling_party_number.digits",
             "-e", "q931.called_party_number.digits", "-e", "q931.cause_value"],
            capture_output=True, text=True, check=True).stdout
        rows = [line.split("\t") for line in fields.splitlines()]
        assert rows[0][:3] == ["0x05", "13800138000", "5550199"]
        assert ["0x45", "", "", "17"] in rows                  # DISCONNECT, user busy
    finally:
        child.terminate()
        child.wait(timeout=60)


def _listening(socket, port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False
