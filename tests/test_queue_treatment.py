# SPDX-License-Identifier: GPL-2.0-or-later
"""What a caller waiting in a queue hears and can do, end to end: music from
one broadcast, periodic announcements of place and expected wait, the exit
key, and overflow to another queue keeping the caller's place, or to a flow
served by the flow tier."""
from dataclasses import replace

import pytest

from cti.server.config import load_server_config
from cti.storage.models import CallRecord, QueueLogEntry
from tests.centre import Centre
from tests.test_callcenter import PASSWORD, agent_ready


def centre_with(**support):
    """The sample configuration, its support queue changed."""
    config = load_server_config("etc/cti.toml")
    return Centre(replace(config, queues=tuple(
        replace(q, **support) if q.name == "support" else q for q in config.queues)))


def played(centre):
    """Prompt names played on voice resources, as a list per play."""
    plays = []
    original = centre.center.layer.ports.play

    def play(device, files, *args, **kwargs):
        plays.append([f.rsplit("/", 1)[-1][:-len(".wav")] for f in files])
        return original(device, files, *args, **kwargs)
    centre.center.layer.ports.play = play
    return plays


def test_waiting_callers_share_one_music_source():
    centre = Centre()
    for n, trunk in enumerate(("dtiB1T1", "dtiB1T2", "dtiB1T3")):
        centre.sim.endpoint(trunk).call(ani=f"212555000{n}", dnis="5550199")
    centre.run_until(lambda: len(centre.center.acd.entries) == 3, what="three waiting")
    centre.run_until(lambda: len(centre.center.moh.listening) == 3, what="all hear music")
    [source] = centre.center.moh.sources.values()
    assert source.cast.listeners == {"dtiB1T1", "dtiB1T2", "dtiB1T3"}
    # one voice resource per caller (hearing its keys) and one for the music
    assert len(centre.server.voice_pool.busy) == 4


def test_announcements_say_place_and_expected_wait_then_messages_in_turn():
    centre = centre_with(announce_every_s=30, announce=("position", "wait"),
                         messages=("queue_web", "transferring"))
    plays = played(centre)
    centre.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: len(centre.center.acd.entries) == 2, what="two waiting")
    centre.run(31_000)
    announced = [p for p in plays if p[0] == "queue_position"]
    assert sorted(announced) == [["queue_position", "digit_1", "queue_web"],
                                 ["queue_position", "digit_2", "queue_web"]]
    centre.run(45_000)                       # the next turn: the next message
    announced = [p for p in plays if p[0] == "queue_position"]
    assert {p[-1] for p in announced[2:]} == {"transferring"}
    assert all(ic.music for ic in centre.center.calls.values())   # music again between
    media = [(t.source, t.event, t.target) for t in
             next(iter(centre.center.calls.values())).media.history]
    assert media[:4] == [("none", "music", "music"), ("music", "stop", "none"),
                         ("none", "announce", "announcement"),
                         ("announcement", "announced", "none")]      # what the caller heard


def test_the_exit_key_takes_the_caller_to_the_overflow_queue_keeping_its_place():
    centre = centre_with(overflow=("queue", "sales"), exit_key="0")
    watcher = centre.client()
    centre.call(watcher.login("sup", PASSWORD, "supervisor"))
    queued = []
    watcher.on_event(lambda name, body, _: name == "Queued" and queued.append(body))
    centre.call(watcher.call("MonitorStart", object="queue", id="sales"))
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries, what="waiting in support")
    centre.run_until(lambda: caller.state == "connected", what="answered for the queue")
    centre.run(3000)
    caller.send_digits("0")
    centre.run_until(lambda: [ic.queue for ic in centre.center.calls.values()] == ["sales"],
                     what="moved to sales")
    agent_ready(centre, "1001", "msiB1C1")
    phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: phone.state == "ringing", what="a sales agent rings")
    log = [(e.queue, e.event) for e in centre.records.of(QueueLogEntry) if e.call_id != "NONE"]
    assert log == [("support", "ENTERQUEUE"), ("support", "EXITWITHKEY"),
                   ("sales", "ENTERQUEUE")]
    entry = next(iter(centre.center.acd.entries.values()))
    assert entry.first_since < entry.since            # it kept its first arrival
    [sales] = queued                                  # and says so to the desktops
    assert sales["firstWaitS"] >= 3.0


def test_leave_empty_releases_waiting_callers_without_an_overflow():
    centre = centre_with(leave_empty=("unavailable", "paused"))
    agent, _ = agent_ready(centre, "1004", "msiB1C4")
    centre.call(agent.call("SetAgentState", state="notReady", reason="lunch"))
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries, what="waiting")
    agent2, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(agent2.call("SetAgentState", state="notReady", reason="meeting"))
    centre.run_until(lambda: not centre.center.calls, what="the caller is released")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.disposition == "queue_empty"
    assert "no agent left" in cdr.cause


@pytest.mark.parametrize("change, key", [
    ("announce_every_s = 45", "announce_every_s = 5"),
    ('messages = ["queue_web"]', 'messages = ["Not A Prompt"]'),
    ("announce_every_s = 45", "# none"),
])
def test_announcement_configuration_errors(tmp_path, change, key):
    import shutil

    from cti.config import ConfigError

    shutil.copytree("etc", tmp_path / "etc")
    path = tmp_path / "etc" / "cti.toml"
    text = path.read_text()
    assert change in text
    path.write_text(text.replace(change, key, 1))
    with pytest.raises(ConfigError) as e:
        load_server_config(path)
    assert "queues[1].announce_every_s" in str(e.value) or "queues[1].messages[0]" in str(
        e.value)
    assert {"announce_every_s = 5": "expected an integer >= 10",
            'messages = ["Not A Prompt"]': "is not a prompt name",
            "# none": "required with announce, messages or callback_key"}[key] in str(e.value)


def test_ring_all_rings_every_free_agent_and_the_first_to_answer_takes_it():
    centre = centre_with(strategy="ring_all")
    agents = {a: agent_ready(centre, a, f"msiB1C{a[-1]}") for a in ("1004", "1005")}
    phones = {a: centre.sim.endpoint(f"msiB1C{a[-1]}") for a in agents}
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: all(p.state == "ringing" for p in phones.values()),
                     what="both phones ring")
    phones["1005"].offhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy",
                     what="1005 takes it")
    centre.run(300)
    assert phones["1004"].state != "ringing"
    assert centre.center.acd.agents["1004"].state == "ready"
    ic = next(iter(centre.center.calls.values()))
    assert (ic.state, ic.agent.id, ic.station.name) == ("talking", "1005", "msiB1C5")
    _, events_1004 = agents["1004"]
    cleared = [b for n, b in events_1004 if n == "ConnectionCleared"]
    assert cleared[-1]["reason"] == "answered elsewhere"
    centre.run_until(lambda: caller.state == "connected", what="the caller is connected")
    caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.agent == "1005"


def test_a_flow_gives_its_caller_a_priority_served_first():
    from tests.test_callcenter import flow_server, route_request

    centre = Centre()
    client, seen = flow_server(centre)
    calls = []
    for trunk, priority in (("dtiB1T1", None), ("dtiB1T2", 7)):
        centre.sim.endpoint(trunk).call(ani="2125550001", dnis="5550100")
        call = route_request(centre, seen)["call"]
        params = {"call": call, "queue": "support"}
        if priority is not None:
            params["priority"] = priority
        centre.call(client.call("RouteSelect", **params))
        calls.append(call)
        seen.clear()
    centre.run_until(lambda: len(centre.center.acd.entries) == 2, what="both queued")
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    centre.run_until(lambda: "Delivered" in [n for n, _ in events], what="an offer")
    assert dict(events)["Delivered"]["call"] == calls[1]     # the later, with priority 7


def test_max_wait_sends_the_caller_to_the_overflow_flow_with_its_data(tmp_path):
    """Support overflows to the after-hours flow after 30 s.  A caller of
    the support menu (1: internet problems) waits with no agent logged in;
    then the flow tier gets the call with the menu's data, the caller hears
    the flow's greeting instead of the queue's music and leaves a message.
    The queue log says the caller left support by its max wait; the CDR
    that it overflowed, after 30 s in the queue."""
    from tests.centre import flow_tier
    from tests.rig import hears
    from tests.test_callcenter import recorder, speech
    from tests.test_supervision import wav_samples

    centre = centre_with(max_wait_s=30, overflow=("flow", "after_hours"))
    centre.center.layer.recordings_dir = tmp_path
    tier = flow_tier(centre)
    plays = played(centre)
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550200")
    centre.run_until(lambda: caller.state == "connected", what="the support menu answers")
    centre.run(3000)
    caller.send_digits("1")
    centre.run_until(lambda: centre.center.acd.entries, what="waiting in support")
    [ic] = centre.center.calls.values()
    requests = recorder(tier.client)
    centre.run_until(lambda: len(requests) == 1, within_ms=40_000,
                     what="the flow tier gets the call again")
    assert [(name, body["call"], body["flow"]) for name, _, body in requests] == [
        ("RouteRequest", ic.id, "after_hours")]
    assert requests[0][2]["data"] == {"reason": "support", "topic": "internet"}
    assert not centre.center.moh.listening                # the queue's music stopped
    caller.capture(True)
    centre.run(4000)
    assert speech(caller.read_capture()) > 300
    assert ["closed", "after_hours_options"] in plays      # "Our offices are now closed"
    caller.send_digits("2")                                # leave a message
    centre.run_until(lambda: ["leave_message"] in plays, what="asked for a message")
    centre.run_until(lambda: any(tmp_path.iterdir()), within_ms=20_000,
                     what="the recording starts after the beep")
    caller.send_tone_custom(1000, 0, -10, on_ms=2000)
    centre.run(2000)
    caller.stop_sending()                                  # a custom tone goes on until stopped
    caller.send_digits("#")
    centre.run_until(lambda: ic.id not in centre.center.calls, within_ms=20_000,
                     what="the flow says goodbye")
    centre.run(300)
    [(_, menu), (_, overflow)] = tier.outcomes
    assert (menu.how, menu.target) == ("transferred", ("queue", "support"))
    assert overflow.how == "hung_up" and ("after_hours", "saved") in overflow.path
    log = [(e.queue, e.event) for e in centre.records.of(QueueLogEntry, call_id=ic.id)]
    assert log == [("support", "ENTERQUEUE"), ("support", "EXITWITHTIMEOUT")]
    [cdr] = centre.records.of(CallRecord, call_id=ic.id)
    assert (cdr.queue, cdr.flow, cdr.agent, cdr.disposition) == (
        "support", "after_hours", None, "overflow")
    assert round(cdr.wait_s) == 30                         # the queue's max wait
    assert cdr.attached["topic"] == "internet"
    assert hears(wav_samples(cdr.attached["message_file"]), 1000)   # the caller's message
