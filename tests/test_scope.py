# SPDX-License-Identifier: GPL-2.0-or-later
"""Least privilege: an agent sees its own calls and those waiting in the
queues it serves, its own state and station; a supervisor with teams sees
and acts on those teams only; a flow server sees the calls in its hands and
plays only its prompts and recordings; and nothing an agent can read gives
away a supervisor's silent monitor."""
from dataclasses import replace

import pytest

from cti.auth import hash_password
from cti.protocol.client import RemoteError
from cti.server.config import UserConfig, load_server_config
from tests.centre import Centre
from tests.test_callcenter import PASSWORD, agent_ready, flow_server, names, route_request
from tests.test_supervision import SUP_STATION, Scene


def caller_in_the_ivr(centre):
    """A bare flow server, and a call from dtiB1T3 in its hands:
    (the flow server's client, the call id)."""
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550100")
    return client, route_request(centre, seen)["call"]


def refused(centre, client, service, **params):
    with pytest.raises(RemoteError) as e:
        centre.call(client.call(service, **params))
    return e.value


def two_callers_in_support(centre):
    """1004 talks with a first caller; a second waits in support; 1005 is
    logged on, not ready."""
    other, _ = agent_ready(centre, "1004", "msiB1C4")
    me, events = agent_ready(centre, "1005", "msiB1C5")
    centre.call(me.call("SetAgentState", state="notReady", reason="lunch"))
    first = centre.sim.endpoint("dtiB1T1")
    first.call(ani="2125550001", dnis="5550199")
    phone = centre.sim.endpoint("msiB1C4")
    centre.run_until(lambda: phone.state == "ringing", what="1004's phone rings")
    phone.offhook()
    centre.run_until(lambda: first.state == "connected", what="1004 talks")
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: len(centre.center.acd.entries) == 1, what="a caller waits")
    talking = centre.center.acd.agents["1004"].call.id
    waiting = next(i for i in centre.center.calls if i != talking)
    return me, events, talking, waiting


def test_an_agent_sees_the_calls_waiting_in_its_queues_not_another_agents():
    centre = Centre()
    me, _, talking, waiting = two_callers_in_support(centre)
    snap = centre.call(me.call("Snapshot", object="call", id=waiting))["snapshot"]
    assert snap["ani"] == "2125550002"
    e = refused(centre, me, "Snapshot", object="call", id=talking)
    assert e.code == "forbidden" and e.body["object"] == "call" and e.body["id"] == talking
    assert "neither agent 1005's nor waiting in a queue it serves" in str(e)
    assert refused(centre, me, "MonitorStart", object="call", id=talking).code == "forbidden"
    e = refused(centre, me, "Snapshot", object="call", id="c999")       # none: as for anyone
    assert e.code == "no_such_object"


def test_an_agent_sees_its_own_state_station_and_queues_only():
    centre = Centre()
    me, _ = agent_ready(centre, "1005", "msiB1C5")
    assert centre.call(me.call("Snapshot", object="agent", id="1005"))["snapshot"]["agent"]
    assert refused(centre, me, "Snapshot", object="agent", id="1004").code == "forbidden"
    assert centre.call(me.call("Snapshot", object="queue", id="support"))
    e = refused(centre, me, "MonitorStart", object="queue", id="sales")
    assert "agent 1005 does not serve queue sales" in str(e)
    assert refused(centre, me, "Snapshot", object="device", id="msiB1C4").code == "forbidden"
    assert refused(centre, me, "MonitorStart", object="device",
                   id="routepoint:main_menu").code == "forbidden"


def test_agents_may_be_let_see_their_team():
    config = replace(load_server_config("etc/cti.toml"), agent_agents="team")
    centre = Centre(config)
    me, _ = agent_ready(centre, "1005", "msiB1C5")
    assert centre.call(me.call("Snapshot", object="agent", id="1004"))   # south, as 1005
    assert refused(centre, me, "Snapshot", object="agent", id="1001").code == "forbidden"


def north_supervisor_centre():
    config = load_server_config("etc/cti.toml")
    return Centre(replace(config, users=config.users + (
        UserConfig("nsup", frozenset({"supervisor"}), hash_password(PASSWORD),
                   teams=("north",)),)))


def test_a_supervisor_with_teams_sees_and_acts_on_them_only():
    centre = north_supervisor_centre()
    me, _, talking, waiting = two_callers_in_support(centre)      # 1004 and 1005: south
    sup = centre.client()
    centre.call(sup.login("nsup", PASSWORD, "supervisor"))
    agents = centre.call(sup.call("Snapshot", object="agent", id="*"))["snapshot"]
    assert sorted(a["agent"] for a in agents) == ["1001", "1002", "1003"]
    calls = centre.call(sup.call("Snapshot", object="call", id="*"))["snapshot"]
    assert [c["call"] for c in calls] == [waiting]         # waiting in support, 1003's queue
    e = refused(centre, sup, "Supervise", agent="1004", mode="monitor", station=SUP_STATION)
    assert e.code == "forbidden" and "not in your teams (north)" in str(e)
    assert refused(centre, sup, "ClearCall", call=talking).code == "forbidden"
    assert refused(centre, sup, "ForceAgentState", team="south",
                   state="loggedOff").code == "forbidden"
    seen = centre.events(sup)
    centre.call(sup.call("MonitorStart", object="agent", id="*"))
    centre.call(me.call("SetAgentState", state="ready"))      # 1005: south
    centre.run(100)
    assert not [b for _, b in seen if b.get("agent") == "1005"]
    agent_ready(centre, "1001", "msiB1C1")                    # north
    centre.run(100)
    assert {b["agent"] for _, b in seen if b.get("agent")} == {"1001"}


def test_a_supervisor_without_teams_sees_everything():
    centre = Centre()
    two_callers_in_support(centre)
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    assert len(centre.call(sup.call("Snapshot", object="agent", id="*"))["snapshot"]) == 6
    assert len(centre.call(sup.call("Snapshot", object="call", id="*"))["snapshot"]) == 2


def test_a_monitor_ends_when_its_call_is_no_longer_the_agents_to_see():
    """1005 monitors a call waiting in its queue; 1006 answers it: 1005's
    monitor ends (MonitorEnded) before anything of the call's after that,
    such as the data 1006 attaches, reaches it."""
    centre = Centre()
    me, events = agent_ready(centre, "1005", "msiB1C5")
    centre.call(me.call("SetAgentState", state="notReady", reason="lunch"))
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries, what="a caller waits")
    [call] = centre.center.calls
    monitor = centre.call(me.call("MonitorStart", object="call", id=call))["monitor"]
    other, _ = agent_ready(centre, "1006", "msiB1C6")
    phone = centre.sim.endpoint("msiB1C6")
    centre.run_until(lambda: phone.state == "ringing", what="1006's phone rings")
    phone.offhook()
    centre.run_until(lambda: centre.center.calls[call].state == "talking", what="1006 talks")
    centre.call(other.call("SetCallData", call=call, data={"account": "SECRET-42"}))
    centre.run(100)
    ended = [body for name, body in events if name == "MonitorEnded"]
    assert [(b["monitor"], b["object"], b["id"]) for b in ended] == [(monitor, "call", call)]
    assert not any("SECRET-42" in str(body) for _, body in events)


def test_an_agent_cannot_watch_the_phone_another_agent_logged_on_at():
    centre = Centre()
    me = centre.client()
    centre.call(me.login("1005", PASSWORD, "agent"))
    assert centre.call(me.call("Snapshot", object="device", id="msiB1C5"))   # its own phone
    other = centre.client()
    centre.call(other.login("1004", PASSWORD, "agent"))
    centre.call(other.call("SetAgentState", state="loggedOn", station="msiB1C5"))  # hot desk
    e = refused(centre, me, "MonitorStart", object="device", id="msiB1C5")
    assert e.code == "forbidden"


def test_a_supervisor_with_teams_follows_other_teams_calls_only_while_they_wait():
    centre = north_supervisor_centre()
    sup = centre.client()
    centre.call(sup.login("nsup", PASSWORD, "supervisor"))
    seen = centre.events(sup)
    centre.call(sup.call("MonitorStart", object="call", id="*"))
    _, _, talking, waiting = two_callers_in_support(centre)     # south's; support is 1003's
    centre.sim.endpoint("dtiB1T1").hangup()                     # 1004's caller
    centre.run_until(lambda: talking not in centre.center.calls, what="the call ends")
    centre.run(200)
    talking_events = [name for name, b in seen if b.get("call") == talking]
    assert talking_events == ["Queued", "Delivered"]      # while it waited in support only
    assert "CallCleared" not in talking_events


def test_a_flow_server_cannot_probe_files_outside_its_prompts(tmp_path):
    centre = Centre()
    client, call = caller_in_the_ivr(centre)
    secret = tmp_path / "secret.wav"
    secret.write_bytes(b"RIFF")
    answers = [refused(centre, client, "PlayMessage", call=call, prompts=[path])
               for path in (str(secret), str(tmp_path / "none.wav"), "/etc/passwd",
                            str(centre.center.layer.prompts_dir / ".." / ".." / "setup.py"))]
    assert {e.code for e in answers} == {"invalid_field"}
    assert all("is neither a prompt" in str(e) for e in answers)
    link = centre.center.layer.prompts_dir / "scope-test-link.wav"
    link.symlink_to(secret)
    try:
        e = refused(centre, client, "PlayMessage", call=call, prompts=[str(link)])
        assert "is neither a prompt" in str(e)               # a link out is followed
    finally:
        link.unlink()
    missing = str(centre.center.layer.prompts_dir / "no_such_prompt.wav")
    assert "does not exist" in str(refused(centre, client, "PlayMessage", call=call,
                                           prompts=[missing]))


def test_a_flow_plays_messages_left_in_flows_but_not_agents_call_recordings(tmp_path):
    from tests.test_callcenter import tone_wav

    centre = Centre()
    centre.center.layer.recordings_dir = tmp_path
    client, call = caller_in_the_ivr(centre)
    message = tone_wav(tmp_path / "c7-1.wav", 0.2)              # as RecordMessage names it
    recording = tone_wav(tmp_path / "c7-call-2.wav", 0.2)       # as StartRecording does
    assert centre.call(client.call("PlayMessage", call=call, prompts=[message]))["reason"]
    e = refused(centre, client, "PlayMessage", call=call, prompts=[recording])
    assert e.code == "invalid_field" and "is neither a prompt" in str(e)


# -- the silent monitor ------------------------------------------------------------
def everything_an_agent_reads(s):
    """What agent 1005's session can read about its world: its agent, its
    call, its station, its queues."""
    ask = s.ask
    return {
        "agent": ask(s.agent, "Snapshot", object="agent", id="1005")["snapshot"],
        "call": ask(s.agent, "Snapshot", object="call", id=s.call_id)["snapshot"],
        "station": ask(s.agent, "Snapshot", object="device", id="msiB1C5")["snapshot"],
        "queue": ask(s.agent, "Snapshot", object="queue", id="support")["snapshot"],
    }


def steady(reads):
    """Without what moves with time alone (durations, history timestamps)."""
    reads = {k: dict(v) for k, v in reads.items()}
    reads["agent"].pop("statistics")
    reads["station"].pop("history", None)
    reads["station"].pop("since", None)
    reads["queue"] = {k: v for k, v in reads["queue"].items()
                      if not k.endswith("S") and k not in ("serviceLevel",)}
    return reads


def test_a_silent_monitor_cannot_be_detected_from_anything_an_agent_reads():
    centre = Centre()
    s = Scene(centre)
    s.ask(s.agent, "MonitorStart", object="call", id=s.call_id)
    s.ask(s.agent, "MonitorStart", object="queue", id="support")
    before = steady(everything_an_agent_reads(s))
    seen = len(s.agent_events)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    centre.run(2000)
    during = steady(everything_an_agent_reads(s))
    assert during == before
    assert names(s.agent_events)[seen:] == []               # not one event
    e = refused(centre, s.agent, "Snapshot", object="device", id=SUP_STATION)
    assert e.code == "forbidden"                            # nor the supervisor's phone
    s.ask(s.sup, "EndSupervision", agent="1005")
    centre.run(500)
    assert names(s.agent_events)[seen:] == []


def test_a_prompt_the_board_will_not_play_is_refused_naming_it(tmp_path):
    centre = Centre()
    centre.center.layer.recordings_dir = tmp_path
    client, call = caller_in_the_ivr(centre)
    bad = tmp_path / "c7-1.wav"                        # a message, not audio at all
    bad.write_bytes(b"MThd not a wave file at all")
    e = refused(centre, client, "PlayMessage", call=call, prompts=[str(bad)])
    assert (e.code, e.body["field"]) == ("invalid_field", "prompts")
    assert "the board refuses the prompts" in str(e) and "c7-1.wav" in str(e)
    assert centre.call(client.call("ClearDigits", call=call)) == {}    # the call goes on


# -- the end of a call reaches those who followed it ----------------------------------
def watch(centre, client, call):
    return centre.call(client.call("MonitorStart", object="call", id=call))["monitor"]


def through(events, monitor):
    return [name for name, body in events if body.get("monitor") == monitor]


def test_an_agent_watching_a_waiting_call_sees_its_caller_give_up():
    centre = Centre()
    me, events = agent_ready(centre, "1005", "msiB1C5")
    centre.call(me.call("SetAgentState", state="notReady", reason="lunch"))
    caller = centre.sim.endpoint("dtiB1T2")
    caller.call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="a caller waits")
    [call] = centre.center.calls
    monitor = watch(centre, me, call)
    caller.hangup()
    centre.run_until(lambda: call not in centre.center.model.calls, what="the call ends")
    centre.run(200)
    assert through(events, monitor)[-1] == "CallCleared"
    assert "MonitorEnded" not in [name for name, _ in events]


def test_a_supervisor_with_teams_sees_a_call_in_its_queue_abandoned():
    centre = north_supervisor_centre()
    sup = centre.client()
    centre.call(sup.login("nsup", PASSWORD, "supervisor"))
    seen = centre.events(sup)
    centre.call(sup.call("MonitorStart", object="call", id="*"))
    caller = centre.sim.endpoint("dtiB1T2")
    caller.call(ani="2125550002", dnis="5550199")             # support: 1003 (north) serves it
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="a caller waits")
    [call] = centre.center.calls
    caller.hangup()
    centre.run_until(lambda: call not in centre.center.model.calls, what="the call ends")
    centre.run(200)
    assert [n for n, b in seen if b.get("call") == call][-1] == "CallCleared"


def test_agents_see_their_own_calls_end_however_they_end():
    """A consultation transferred, an internal call given up, a call out to
    a busy number: the agent who made each sees it through to CallCleared."""
    from tests.test_consult import Scene as ConsultScene
    from tests.test_outbound import headset_agent, two_way_t1

    centre = Centre()
    s = ConsultScene(centre)
    consult = s.consult()
    monitor = watch(centre, s.first, consult)
    s.answer()
    s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult)
    centre.run(200)
    assert through(s.first_events, monitor)[-1] == "CallCleared"

    centre = two_way_t1()
    agent, events, _ = headset_agent(centre)
    agent_ready(centre, "1003", "msiB1C3")
    call = centre.call(agent.call("MakeCall", agent="1003"))["call"]
    monitor = watch(centre, agent, call)
    centre.run_until(lambda: centre.sim.endpoint("msiB1C3").state == "ringing", what="rings")
    centre.call(agent.call("ClearConnection", call=call))
    centre.run(300)
    assert through(events, monitor)[-1] == "CallCleared"

    centre.sim.endpoint("dtiB1T1").set_outbound("busy", 1)
    call = centre.call(agent.call("MakeCall", number="5551234"))["call"]
    monitor = watch(centre, agent, call)
    centre.run_until(lambda: call not in centre.center.model.calls, within_ms=40_000,
                     what="the busy call ends")
    centre.run(300)
    assert through(events, monitor)[-1] == "CallCleared"


def test_a_flow_server_sees_calls_that_came_through_a_flow_only():
    centre = Centre()
    flow, seen = flow_server(centre)
    me, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T2")
    caller.call(ani="2125550002", dnis="5550199")        # straight to support: no flow
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talks")
    call = dict(events)["Established"]["call"]
    centre.call(me.call("SetCallData", call=call, data={"card": "4111-SECRET"}))
    e = refused(centre, flow, "Snapshot", object="call", id=call)
    assert e.code == "forbidden" and "has not been through a flow" in str(e)
    centre.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550100")    # the IVR's
    mine = route_request(centre, seen)["call"]
    centre.call(flow.call("RouteSelect", call=mine, queue="support"))
    assert centre.call(flow.call("Snapshot", object="call", id=mine))      # still, once routed


def test_a_flow_server_watching_devices_and_queues_gets_no_call_it_may_not_see():
    centre = Centre()
    flow, _ = flow_server(centre)
    seen = centre.events(flow)
    for kind, name in (("device", "msiB1C5"), ("device", "dtiB1T2"), ("queue", "support")):
        centre.call(flow.call("MonitorStart", object=kind, id=name))
    me, events = agent_ready(centre, "1005", "msiB1C5")
    centre.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")   # straight to a queue
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="talks")
    call = dict(events)["Established"]["call"]
    centre.call(me.call("SetCallData", call=call, data={"card": "4111-SECRET"}))
    centre.run(100)
    assert [name for name, body in seen if body.get("call") == call] == []


def test_a_call_made_at_a_phone_is_not_shown_to_the_next_agent_there():
    """1005 calls out and sends the call on to another number; 1001 then
    logs on at 1005's phone: the call is none of its business."""
    from tests.test_outbound import headset_agent, two_way_t1

    centre = two_way_t1()
    agent, events, phone = headset_agent(centre)
    centre.sim.endpoint("dtiB1T1").set_outbound("answer", 1)
    call = centre.call(agent.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: "Established" in names(events), within_ms=20_000,
                     what="the far end answers")
    centre.sim.endpoint("dtiB1T2").set_outbound("answer", 1)
    centre.call(agent.call("SingleStepTransferCall", call=call, number="5559876"))
    centre.run(20_000)
    assert call in centre.center.calls
    assert refused(centre, agent, "Snapshot", object="call", id=call).code == "forbidden"
    centre.call(agent.call("SetAgentState", state="loggedOff"))
    other = centre.client()
    centre.call(other.login("1001", PASSWORD, "agent"))
    centre.call(other.call("SetAgentState", state="loggedOn", station="msiB1C5"))
    assert refused(centre, other, "Snapshot", object="call", id=call).code == "forbidden"


def test_a_supervisor_with_teams_sees_its_own_consultation_on_a_call_it_took_over():
    from tests.test_supervision import supervisor_consulting

    config = load_server_config("etc/cti.toml")
    centre = Centre(replace(config, users=tuple(
        replace(u, teams=("south",)) if u.name == "sup" else u for u in config.users)))
    s, consult, _ = supervisor_consulting(centre)            # 1005 (south) intercepted
    assert centre.call(s.sup.call("Snapshot", object="call", id=consult))["snapshot"]
