# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT server end to end on simulated boards, in virtual time: calls
routed, queued, offered to agents, talked over the CT-Bus, cleared, and
recorded."""
import re
import shutil

import pytest

from cti.server.config import load_server_config
from cti.storage.models import CallRecord, QueueLogEntry
from tests.centre import Centre, tones_both_ways
from tests.rig import hears

PASSWORD = "1234"          # every sample account of etc/cti.toml


@pytest.fixture
def centre():
    return Centre()


def agent_ready(centre, agent, station):
    client = centre.client()
    centre.call(client.login(agent, PASSWORD, "agent"))
    events = centre.events(client)
    centre.call(client.call("MonitorStart", object="device", id=station))
    centre.call(client.call("MonitorStart", object="agent", id=agent))
    centre.call(client.call("SetAgentState", state="loggedOn", station=station))
    centre.call(client.call("SetAgentState", state="ready"))
    return client, events


def names(events):
    return [name for name, _ in events]


def test_queue_route_to_agent_and_back(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T1")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125551234", dnis="5550199")       # the support hotline: a queue
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at the agent")
    delivered = dict(events)["Delivered"]
    assert delivered["device"] == "msiB1C5" and delivered["queue"] == "support"
    assert delivered["callingDevice"] == "2125551234"
    centre.run_until(lambda: caller.state == "connected", what="the far end sees the answer")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")

    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    call_id = delivered["call"]
    ic = centre.center.calls[call_id]
    assert ic.state == "talking"

    caller.capture(True)
    phone.capture(True)
    caller.send_tone_custom(1000, 0, -10, on_ms=2000)
    phone.send_tone_custom(1500, 0, -10, on_ms=2000)
    centre.run(1000)
    from_phone = caller.read_capture()
    from_caller = phone.read_capture()
    assert hears(from_caller[2000:], 1000) and not hears(from_caller[2000:], 1500)
    assert hears(from_phone[2000:], 1500) and not hears(from_phone[2000:], 1000)

    caller.hangup()
    centre.run_until(lambda: call_id not in centre.center.calls, what="the call ends")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.call_id, cdr.disposition, cdr.released_by, cdr.queue, cdr.agent,
            cdr.station, cdr.ani, cdr.dnis) == (call_id, "answered", "caller", "support",
                                                "1005", "msiB1C5", "2125551234", "5550199")
    assert 0 < cdr.wait_s < 10 and 0.9 < cdr.talk_s < 2
    log = [e.event for e in centre.records.of(QueueLogEntry, call_id=call_id)]
    assert log == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert "AgentWorkingAfterCall" in names(events)
    centre.run(31_000)                                   # support's wrap-up is 30 s
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.server.voice_pool.busy == set()


def test_caller_abandons_while_the_phone_rings(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T2")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing" and caller.state == "connected",
                     what="the phone rings")
    caller.hangup()
    centre.run_until(lambda: phone.state != "ringing", what="the ringing stops")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.released_by, cdr.agent) == ("abandoned", "caller", None)
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=cdr.call_id)] == [
        "ENTERQUEUE", "ABANDON"]
    assert centre.center.acd.agents["1005"].state == "ready"
    assert names(events)[-2:] == ["ConnectionCleared", "AgentReady"]


def test_ring_timeout_offers_the_next_agent(centre):
    agent_ready(centre, "1004", "msiB1C4")      # support, idle longest
    centre.run(1000)
    agent_ready(centre, "1005", "msiB1C5")
    first, second = centre.sim.endpoint("msiB1C4"), centre.sim.endpoint("msiB1C5")
    centre.sim.endpoint("dtiB1T3").call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: first.state == "ringing", what="the longest idle agent rings")
    assert second.state != "ringing"
    centre.run_until(lambda: second.state == "ringing", within_ms=40_000,
                     what="the next agent rings after the ring timeout")
    assert first.state != "ringing"
    second.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy",
                     what="the second agent takes the call")
    log = [(e.event, e.agent) for e in centre.records.of(QueueLogEntry)
           if e.call_id != "NONE"]
    assert log == [("ENTERQUEUE", None), ("RINGNOANSWER", "1004"), ("CONNECT", "1005")]


def test_agent_hangs_up_and_the_trunk_is_cleared(centre):
    agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T4")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550003", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run(1000)
    phone.onhook()
    centre.run_until(lambda: caller.state == "idle", what="the far end sees the clear")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.released_by) == ("answered", "agent")
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=cdr.call_id)][-1] \
        == "COMPLETEAGENT"


def test_headset_agent_answers_with_answer_call(centre):
    client, events = agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    phone.offhook()                              # the headset is always off-hook
    centre.run(300)
    centre.sim.endpoint("dtiB1T5").call(ani="2125550004", dnis="5550199")
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered")
    result = centre.call(client.call("AnswerCall"))
    assert centre.center.calls[result["call"]].state == "talking"
    assert "Established" in names(events)


def test_without_a_flow_server_calls_get_the_default_queue(centre):
    agent, events = agent_ready(centre, "1001", "msiB1C1")      # a sales agent
    caller = centre.sim.endpoint("dtiB1T6")
    caller.call(ani="2125550005", dnis="5550100")                 # the IVR's number
    centre.run_until(lambda: "Delivered" in names(events), within_ms=3000,
                     what="the call reaches the flow_down queue")
    ic = centre.center.calls[dict(events)["Delivered"]["call"]]
    assert ic.queue == "sales" and ic.call.data["treatment"] == "no flow server"


@pytest.mark.parametrize("state, params, code", [
    ("ready", {}, "invalid_state"),                       # not logged in yet
    ("loggedOn", {"station": "msiB1C99"}, "no_such_object"),
    ("loggedOn", {"station": "dtiB1T1"}, "no_such_object"),
])
def test_agent_state_errors(centre, state, params, code):
    from cti.protocol.client import RemoteError

    client = centre.client()
    centre.call(client.login("1002", PASSWORD, "agent"))
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("SetAgentState", state=state, **params))
    assert e.value.code == code


def test_two_agents_cannot_share_a_station(centre):
    from cti.protocol.client import RemoteError

    agent_ready(centre, "1001", "msiB1C1")
    client = centre.client()
    centre.call(client.login("1002", PASSWORD, "agent"))
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("SetAgentState", state="loggedOn", station="msiB1C1"))
    assert e.value.code == "resource_busy" and "1001" in str(e.value)


def speech(samples):
    """Mean absolute amplitude: speech is loud, silence and idle code are not."""
    return sum(abs(s) for s in samples) / max(1, len(samples))


def test_ivr_menu_to_queue_to_agent_end_to_end(centre):
    """DNIS 5550100: the menu plays, 2 (support menu), 1 (internet), the
    support queue, agent 1005 answers, tones both ways, the caller hangs up."""
    from tests.centre import flow_tier

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
    assert delivered["queue"] == "support"
    assert delivered["data"]["topic"] == "internet" and delivered["data"]["reason"] == "support"
    [(call_id, outcome)] = tier.outcomes
    assert call_id == delivered["call"] and outcome.how == "transferred"
    assert outcome.target == ("queue", "support")
    assert [s for _, s in outcome.path][-3:] == ["to_support", "menu", "internet"]
    assert ("support_menu", "menu") in outcome.path

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
    assert cdr.attached["topic"] == "internet"
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=call_id)] == [
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER"]


def test_flow_server_killed_mid_menu_sends_the_caller_to_the_default_queue(centre):
    from tests.centre import flow_tier

    tier = flow_tier(centre)
    agent, events = agent_ready(centre, "1001", "msiB1C1")          # sales: flow_down
    caller = centre.sim.endpoint("dtiB1T8")
    caller.call(ani="2125554321", dnis="5550100")
    centre.run_until(lambda: caller.state == "connected", what="the IVR answers")
    centre.run(3000)                                                 # in the menu
    ic = next(iter(centre.center.calls.values()))
    assert ic.state == "ivr"
    tier.client.transport.loseConnection()                           # the flow tier dies
    killed = centre.clock.seconds()
    centre.run_until(lambda: ic.state in ("queued", "ringing"), within_ms=2000,
                     what="the default treatment within 2 s")
    assert centre.clock.seconds() - killed <= 2.0
    assert ic.queue == "sales" and ic.call.data["treatment"] == "flow server left"
    centre.run_until(lambda: "Delivered" in names(events), what="the sales agent is offered it")


def test_protocol_doc_covers_every_service_and_event(centre):
    from cti.server.core.model import EVENT_FOR_STATE
    from cti.server.queueing.state import AGENT_EVENTS

    with open("docs/protocol.md") as f:
        doc = f.read()
    for service in centre.hub.catalogue.services():
        assert f"### {service.name}" in doc, f"{service.name} is not in docs/protocol.md"
        for name in service.fields:
            assert f"`{name}`" in doc, f"{service.name}.{name} is not in docs/protocol.md"
    events = set(EVENT_FOR_STATE.values()) | set(AGENT_EVENTS.values()) | {
        "CallCleared", "RouteRequest", "RouteEnd", "AttachedDataChanged", "AgentLoggedOn"}
    for event in events:
        assert f"`{event}`" in doc, f"event {event} is not in docs/protocol.md"


def test_analog_line_call_reaches_an_agent_and_clears_with_the_callers_reason(centre):
    """A loop-start line answers by going off-hook (asynchronously); the
    call still reaches the queue, and a caller who hangs up while the
    agent's phone rings clears the station with that reason."""
    agent, events = agent_ready(centre, "1001", "msiB1C1")
    caller = centre.sim.endpoint("dxxxB1C2")
    phone = centre.sim.endpoint("msiB1C1")
    caller.call(ani="2125550042", name="J SMITH")
    centre.run_until(lambda: phone.state == "ringing", within_ms=30_000,
                     what="the agent's phone rings")
    delivered = dict(events)["Delivered"]
    assert delivered["callingDevice"] == "2125550042" and delivered["queue"] == "sales"
    caller.hangup()
    centre.run_until(lambda: phone.state != "ringing", what="the ringing stops")
    centre.run(200)
    cleared = [b for n, b in events if n == "ConnectionCleared" and b["device"] == "msiB1C1"]
    assert cleared and cleared[-1]["reason"] != "not answered"
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.trunk) == ("abandoned", "dxxxB1C2")


# -- what a client sees: invoke ids, event order ----------------------------------
def recorder(client):
    """Every event the client gets, as (name, invoke id, body), in order;
    `ask` adds each answer as ("response", invoke id, result)."""
    seen = []
    client.on_event(lambda name, body, invoke_id: seen.append((name, invoke_id, body)))
    return seen


def ask(centre, client, seen, service, **params):
    """Send a request, run until it is answered; its invoke id."""
    d = client.call(service, **params)
    invoke_id = d.invoke_id
    d.addCallback(lambda result: seen.append(("response", invoke_id, result)) or result)
    centre.call(d)
    return invoke_id


def since(seen, invoke_id):
    """(name, invoke id) of what arrived from the first frame echoing invoke_id on."""
    first = next(i for i, (_, got, _) in enumerate(seen) if got == invoke_id)
    return [(name, got) for name, got, _ in seen[first:]]


def flow_server(centre):
    """A bare flow server (no flow tier): logged in, registered, recording."""
    client = centre.client()
    centre.call(client.login("ivr", PASSWORD, "flow"))
    seen = recorder(client)
    centre.call(client.call("RouteRegister"))
    return client, seen


def route_request(centre, seen):
    centre.run_until(lambda: any(name == "RouteRequest" for name, _, _ in seen),
                     within_ms=20_000, what="a RouteRequest")
    return next(body for name, _, body in seen if name == "RouteRequest")


def test_agent_events_on_login_ready_not_ready_logout(centre):
    """The agent's own monitor sees each state change, in order, echoing the
    request that caused it, before the response; a supervisor sees the
    same events with invoke id 0.  AgentLoggedOn shows the state after
    log-in."""
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    watched = recorder(sup)
    centre.call(sup.call("MonitorStart", object="agent", id="1002"))
    agent = centre.client()
    centre.call(agent.login("1002", PASSWORD, "agent"))
    seen = recorder(agent)
    centre.call(agent.call("MonitorStart", object="agent", id="1002"))

    login = ask(centre, agent, seen, "SetAgentState", state="loggedOn")
    ready = ask(centre, agent, seen, "SetAgentState", state="ready")
    pause = ask(centre, agent, seen, "SetAgentState", state="notReady", reason="lunch")
    logout = ask(centre, agent, seen, "SetAgentState", state="loggedOff")
    assert [(name, i) for name, i, _ in seen] == [
        ("AgentLoggedOn", login), ("AgentNotReady", login), ("response", login),
        ("AgentReady", ready), ("response", ready),
        ("AgentNotReady", pause), ("response", pause),
        ("AgentLoggedOff", logout), ("response", logout)]
    states = [(name, body["state"], body.get("previous"), body["reason"])
              for name, _, body in seen if name != "response"]
    assert states == [
        ("AgentLoggedOn", "notReady", "loggedOff", "login"),
        ("AgentNotReady", "notReady", "loggedOff", "login"),
        ("AgentReady", "ready", "notReady", ""),
        ("AgentNotReady", "notReady", "ready", "lunch"),
        ("AgentLoggedOff", "loggedOff", "notReady", "agent")]
    assert seen[0][2]["station"] == "msiB1C2"              # the configured station
    centre.flush()
    assert [(name, i) for name, i, _ in watched] == [
        (name, 0) for name, _, _, _ in states]


def test_route_select_events_echo_its_invoke_id(centre):
    """RouteSelect of an answered call: the route point's ConnectionCleared,
    Queued and, an agent being free, AgentReserved and the station's
    Delivered all reach the flow server with its invoke id, before the
    response; the agent's own session sees them with 0."""
    agent, _ = agent_ready(centre, "1005", "msiB1C5")
    agent_events = recorder(agent)
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T9").call(ani="2125550010", dnis="5550100")
    call = route_request(centre, seen)["call"]
    centre.call(client.call("MonitorStart", object="call", id=call))
    centre.call(client.call("MonitorStart", object="agent", id="1005"))
    answer = ask(centre, client, seen, "AnswerCall", call=call)
    assert since(seen, answer) == [("Established", answer)] * 2 + [("response", answer)]
    select = ask(centre, client, seen, "RouteSelect", call=call, queue="support")
    assert since(seen, select) == [
        ("ConnectionCleared", select), ("Queued", select), ("AgentReserved", select),
        ("Delivered", select), ("response", select)]
    centre.flush()
    assert [(name, i) for name, i, _ in agent_events] == [("AgentReserved", 0),
                                                          ("Delivered", 0)]


def test_route_select_before_the_answer_echoes_its_invoke_id_afterwards(centre):
    """RouteSelect of a call not answered yet on an analog line (which goes
    off-hook in its own time): the response comes at once, the events
    follow once the line is answered, still with its id."""
    client, seen = flow_server(centre)
    centre.sim.endpoint("dxxxB1C3").call(ani="2125550011")           # the default route
    call = route_request(centre, seen)["call"]
    centre.call(client.call("MonitorStart", object="call", id=call))
    select = ask(centre, client, seen, "RouteSelect", call=call, queue="support")
    centre.run_until(lambda: any(name == "Queued" for name, _, _ in seen),
                     what="the call is queued")
    assert since(seen, select) == [
        ("response", select), ("Established", select), ("ConnectionCleared", select),
        ("Queued", select)]


def test_agent_answer_and_clear_connection_echo_their_invoke_ids(centre):
    """A headset agent: AnswerCall's AgentBusy, ConnectionCleared (queue)
    and Established; ClearConnection's AgentWorkingAfterCall, the
    ConnectionCleared of every connection and CallCleared."""
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    seen = recorder(client)
    centre.sim.endpoint("msiB1C5").offhook()
    centre.run(300)
    centre.sim.endpoint("dtiB1T11").call(ani="2125550012", dnis="5550199")
    centre.run_until(lambda: any(name == "Delivered" for name, _, _ in seen),
                     what="the call is offered")
    call = next(body["call"] for name, _, body in seen if name == "Delivered")
    centre.call(client.call("MonitorStart", object="call", id=call))
    answer = ask(centre, client, seen, "AnswerCall")
    assert since(seen, answer) == [
        ("AgentBusy", answer), ("ConnectionCleared", answer), ("Established", answer),
        ("Established", answer), ("response", answer)]            # call and station monitors
    clear = ask(centre, client, seen, "ClearConnection")
    assert since(seen, clear) == [
        ("AgentWorkingAfterCall", clear), ("ConnectionCleared", clear),
        ("ConnectionCleared", clear), ("ConnectionCleared", clear), ("CallCleared", clear),
        ("response", clear)]


def test_agent_rejecting_a_call_echoes_the_invoke_id(centre):
    client, _ = agent_ready(centre, "1005", "msiB1C5")
    seen = recorder(client)
    centre.sim.endpoint("dtiB1T12").call(ani="2125550013", dnis="5550199")
    centre.run_until(lambda: any(name == "Delivered" for name, _, _ in seen),
                     what="the call is offered")
    reject = ask(centre, client, seen, "ClearConnection")
    assert since(seen, reject) == [("ConnectionCleared", reject), ("AgentReady", reject),
                                   ("response", reject)]


def test_flow_clear_connection_echoes_its_invoke_id(centre):
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T13").call(ani="2125550014", dnis="5550100")
    call = route_request(centre, seen)["call"]
    centre.call(client.call("MonitorStart", object="call", id=call))
    clear = ask(centre, client, seen, "ClearConnection", call=call)
    assert since(seen, clear) == [("ConnectionCleared", clear)] * 2 + [
        ("CallCleared", clear), ("response", clear)]


CAMEL = re.compile(r"[a-z][a-zA-Z0-9]*\Z")


def keys_of(value, where="body"):
    """(where, key) of every key of a JSON value; attached data (`data`) is
    the application's, not the protocol's, and is not looked into."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{where}.{key}", key
            if key != "data":
                yield from keys_of(item, f"{where}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from keys_of(item, f"{where}[{i}]")


def test_every_key_the_protocol_emits_is_camel_case(centre):
    """Responses, events and snapshots of a call through the IVR to an
    agent, seen by the flow server, the agent and a supervisor watching
    everything."""
    frames = []
    sup = centre.client()
    frames.append(centre.call(sup.login("sup", PASSWORD, "supervisor")))
    sup.on_event(lambda name, body, invoke_id: frames.append(body))
    for kind in ("device", "call", "queue", "agent"):
        centre.call(sup.call("MonitorStart", object=kind, id="*"))
    agent, _ = agent_ready(centre, "1005", "msiB1C5")
    agent.on_event(lambda name, body, invoke_id: frames.append(body))
    client, seen = flow_server(centre)
    caller = centre.sim.endpoint("dtiB1T14")
    caller.call(ani="2125550015", dnis="5550100")
    call = route_request(centre, seen)["call"]
    for service, params in [("AnswerCall", {}), ("SetCallData", {"data": {"x_y": "1"}}),
                            ("RouteSelect", {"queue": "support"})]:
        frames.append(centre.call(client.call(service, call=call, **params)))
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: centre.center.calls[call].state == "talking", what="talking")
    for kind, object_id in [("device", "msiB1C5"), ("device", "dtiB1T14"), ("call", call),
                            ("queue", "support"), ("agent", "1005")]:
        frames.append(centre.call(sup.call("Snapshot", object=kind, id=object_id)))
    centre.run_until(lambda: caller.state == "connected", what="the far end sees the answer")
    caller.hangup()
    centre.run_until(lambda: call not in centre.center.calls, what="the call ends")
    frames += [body for _, _, body in seen]
    assert len(frames) > 30
    bad = sorted({(where, key) for frame in frames for where, key in keys_of(frame)
                  if not CAMEL.match(key)})
    assert bad == []


def test_route_select_data_is_announced_like_set_call_data(centre):
    """RouteSelect's data: one AttachedDataChanged, before the route point
    is left, so Queued already carries it; a queue has no ring time (timeoutS)."""
    from cti.protocol.client import RemoteError

    client, seen = flow_server(centre)
    caller = centre.sim.endpoint("dtiB1T15")
    caller.call(ani="2125550016", dnis="5550100")
    call = route_request(centre, seen)["call"]
    centre.call(client.call("MonitorStart", object="call", id=call))
    centre.call(client.call("AnswerCall", call=call))
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, queue="support", timeoutS=30))
    assert (e.value.code, e.value.body["field"]) == ("invalid_field", "timeoutS")
    select = ask(centre, client, seen, "RouteSelect", call=call, queue="support",
                 data={"reason": "support"})
    assert since(seen, select)[:3] == [("AttachedDataChanged", select),
                                       ("ConnectionCleared", select), ("Queued", select)]
    changed, queued = (body for name, i, body in seen if i == select
                       and name in ("AttachedDataChanged", "Queued"))
    assert changed == {"event": "AttachedDataChanged", "call": call, "device": "dtiB1T15",
                       "state": "connected", "callingDevice": "2125550016",
                       "calledDevice": "5550100", "presentation": "allowed",
                       "direction": "inbound", "data": {"reason": "support"},
                       "monitor": changed["monitor"]}
    assert queued["data"] == {"reason": "support"}
    assert queued["priority"] == 0                       # the support queue's


def support_holds_one(config="etc/cti.toml"):
    """The sample configuration with a support queue of max_length 1."""
    from dataclasses import replace

    from cti.server.config import load_server_config

    config = load_server_config(config)
    return replace(config, queues=tuple(replace(q, max_length=1) if q.name == "support"
                                        else q for q in config.queues))


def test_route_select_to_a_full_queue_fails_and_the_flow_keeps_the_call():
    from cti.flow.tier import ProtocolCallControl
    from cti.protocol.client import RemoteError

    centre = Centre(support_holds_one())
    centre.sim.endpoint("dtiB1T1").call(ani="2125550017", dnis="5550199")   # waits in support
    centre.run_until(lambda: centre.center.acd.full("support"), what="support is full")
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550018", dnis="5550100")
    request = route_request(centre, seen)
    call = request["call"]
    centre.call(client.call("AnswerCall", call=call))
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RouteSelect", call=call, queue="support",
                                data={"reason": "support"}))
    assert (e.value.code, e.value.body["object"], e.value.body["id"]) == (
        "queue_full", "queue", "support")
    assert "max_length" in e.value.body["message"]
    ic = centre.center.calls[call]
    assert ic.state == "ivr" and "reason" not in ic.call.data    # nothing happened
    got = centre.call(ProtocolCallControl(client, request).transfer("queue", "support", 30, {}))
    assert got["result"] == "failed"                              # the flow's on_failure
    centre.call(client.call("ClearConnection", call=call))        # still the flow's
    assert call not in centre.center.calls


def test_a_route_to_a_full_queue_gives_busy_unanswered():
    """5550199 goes straight to support; with support full the second
    caller is never answered, and the CDR says why."""
    centre = Centre(support_holds_one())
    first = centre.sim.endpoint("dtiB1T1")
    first.call(ani="2125550019", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.full("support"), what="support is full")
    events = centre.events(watcher := centre.client())
    centre.call(watcher.login("sup", PASSWORD, "supervisor"))
    centre.call(watcher.call("MonitorStart", object="queue", id="support"))
    second = centre.sim.endpoint("dtiB1T2")
    second.call(ani="2125550020", dnis="5550199")
    centre.run_until(lambda: centre.records.of(CallRecord), what="the second call's CDR")
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.ani, cdr.disposition, cdr.queue, cdr.released_by, cdr.cause) == (
        "2125550020", "queue_full", "support", "system", "queue support is full")
    assert cdr.queued_at is None and cdr.wait_s is None
    trunk = centre.center.channels["dtiB1T2"]
    assert "answer" not in [t.event for t in trunk.machine.history]
    centre.run(1000)
    assert second.state != "connected" and events == []     # never queued
    assert centre.center.acd.full("support") and first.state == "connected"


def full_support(overflow, sales_max_length=None):
    """support holds one caller and overflows to `overflow`; sales may be
    bounded too, overflowing back to support."""
    from dataclasses import replace

    config = support_holds_one()
    return replace(config, queues=tuple(
        replace(q, overflow=overflow) if q.name == "support" else
        replace(q, max_length=sales_max_length, overflow=("queue", "support"))
        if q.name == "sales" and sales_max_length else q for q in config.queues))


def fill_support(centre):
    centre.sim.endpoint("dtiB1T1").call(ani="2125550021", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.full("support"), what="support is full")


def test_a_full_queue_sends_the_caller_to_its_overflow_queue():
    centre = Centre(full_support(("queue", "sales")))
    fill_support(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550022", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.waiting("sales"), what="queued in sales")
    [entry] = centre.center.acd.waiting("sales")
    call_id = entry.call.id
    assert centre.center.calls[call_id].trunk.name == "dtiB1T2"
    assert centre.center.channels["dtiB1T2"].state == "connected"     # answered: music
    assert [(e.queue, e.event, e.data1) for e in
            centre.records.of(QueueLogEntry, call_id=call_id)][:2] == [
        ("support", "FULL", "queue:sales"), ("sales", "ENTERQUEUE", "")]


def first_cdr_of(centre, trunk, ani, dnis):
    """A call from `ani` on `trunk`: the CDR of the first call to end
    (this one, when the others are still up)."""
    centre.sim.endpoint(trunk).call(ani=ani, dnis=dnis)
    centre.run_until(lambda: centre.records.of(CallRecord), what=f"{ani}'s CDR")
    [cdr] = centre.records.of(CallRecord)
    return cdr


def test_full_queues_that_overflow_to_each_other_give_busy():
    centre = Centre(full_support(("queue", "sales"), sales_max_length=1))
    fill_support(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550023", dnis="5550199")   # to sales
    centre.run_until(lambda: centre.center.acd.full("sales"), what="sales is full")
    cdr = first_cdr_of(centre, "dtiB1T3", "2125550024", "5550199")
    assert (cdr.ani, cdr.disposition, cdr.cause) == (
        "2125550024", "queue_full", "queue support is full")


def test_a_full_queue_sends_the_caller_to_its_overflow_flow():
    centre = Centre(full_support(("flow", "after_hours")))
    fill_support(centre)
    client, seen = flow_server(centre)
    centre.sim.endpoint("dtiB1T2").call(ani="2125550025", dnis="5550199")
    request = route_request(centre, seen)
    assert (request["flow"], request["ani"]) == ("after_hours", "2125550025")
    assert centre.center.calls[request["call"]].state == "ivr"


def test_a_full_flow_down_queue_whose_overflow_is_a_flow_gives_busy_with_no_flow_server():
    """The flows are down: calls go to the flow_down queue (sales); full,
    its overflow to a flow cannot run either, so busy (not round and round)."""
    from dataclasses import replace

    config = load_server_config("etc/cti.toml")
    config = replace(config, queues=tuple(
        replace(q, max_length=1, overflow=("flow", "after_hours")) if q.name == "sales" else q
        for q in config.queues))
    centre = Centre(config)
    centre.sim.endpoint("dtiB1T1").call(ani="2125550026", dnis="5550100")   # main_menu
    centre.run_until(lambda: centre.center.acd.full("sales"), what="sales is full")
    cdr = first_cdr_of(centre, "dtiB1T2", "2125550027", "5550100")
    assert (cdr.ani, cdr.disposition, cdr.cause) == (
        "2125550027", "queue_full", "queue sales is full")
    assert [e.data1 for e in centre.records.of(QueueLogEntry, event="FULL")] == ["busy"]


# -- the watchdog on a silent flow server --------------------------------------------
def tone_wav(path, seconds):
    """An 8 kHz PCM16 WAV of a 440 Hz tone."""
    import math
    import struct
    import wave

    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(2 * math.pi * 440 * n
                                                                         / 8000)))
                               for n in range(int(8000 * seconds))))
    return str(path)


def held_call(centre, trunk):
    """A bare flow server holding an answered call on `trunk`: (client, seen, call)."""
    client, seen = flow_server(centre)
    centre.sim.endpoint(trunk).call(ani="2125550030", dnis="5550100")
    call = route_request(centre, seen)["call"]
    ask(centre, client, seen, "AnswerCall", call=call)
    return client, seen, call


def taken_back(centre, seen, call):
    """Whether the server took the call back from a silent flow server."""
    ends = [body for name, _, body in seen if name == "RouteEnd"]
    if not ends:
        return False
    assert ends == [{"event": "RouteEnd", "call": call, "reason": "flow server silent"}]
    assert centre.center.calls[call].call.data["treatment"] == "flow server silent"
    return True


def test_a_flow_server_silent_after_answering_loses_the_call_in_2_s(centre):
    client, seen, call = held_call(centre, "dtiB1T16")
    centre.run(1900)
    assert not taken_back(centre, seen, call)
    centre.run(200)
    assert taken_back(centre, seen, call)
    assert centre.center.calls[call].state == "queued"          # sales, the flow_down queue


def test_every_answer_gives_the_flow_server_2_s_again(centre):
    client, seen, call = held_call(centre, "dtiB1T17")
    for _ in range(3):
        centre.run(1500)
        ask(centre, client, seen, "SetCallData", call=call, data={"step": "x"})
    centre.run(1900)
    assert not taken_back(centre, seen, call)
    centre.run(200)
    assert taken_back(centre, seen, call)


def test_a_voice_operation_running_is_not_silence(centre, tmp_path):
    """A 4 s prompt: nothing is timed while it plays; 2 s after its answer
    the flow server, silent, loses the call."""
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    prompt = tone_wav(tmp_path / "c900-1.wav", 4.0)
    client, seen, call = held_call(centre, "dtiB1T18")
    started = centre.clock.seconds()
    play = ask(centre, client, seen, "PlayMessage", call=call, prompts=[prompt],
               bargeIn=False)
    assert seen[-1] == ("response", play, {"reason": "end"})
    assert centre.clock.seconds() - started > 3.9 and not taken_back(centre, seen, call)
    centre.run(1900)
    assert not taken_back(centre, seen, call)
    centre.run(200)
    assert taken_back(centre, seen, call)


def test_keep_call_gives_a_hook_its_time(centre):
    from cti.protocol.client import RemoteError

    client, seen, call = held_call(centre, "dtiB1T19")
    for bad in (0, -1, 301):
        with pytest.raises(RemoteError) as e:
            centre.call(client.call("KeepCall", call=call, timeoutS=bad))
        assert (e.value.code, e.value.body["field"]) == ("invalid_field", "timeoutS")
    ask(centre, client, seen, "KeepCall", call=call, timeoutS=10)
    centre.run(11_900)                                    # 10 s asked for, plus the usual 2
    assert not taken_back(centre, seen, call)
    ask(centre, client, seen, "SetCallData", call=call, data={"found": "1"})
    centre.run(1900)                                      # the allowance was for one wait
    assert not taken_back(centre, seen, call)
    centre.run(200)
    assert taken_back(centre, seen, call)


@pytest.mark.parametrize("params, field, says", [
    ({"maxS": 0}, "maxS", "(0, 3600]"),
    ({"maxS": 3600.5}, "maxS", "(0, 3600]"),
    ({"maxS": "60"}, "maxS", "must be a number, not string"),
    ({"silenceS": -1}, "silenceS", "[0, 600]"),
    ({"silenceS": 601}, "silenceS", "[0, 600]"),
    ({"silenceS": True}, "silenceS", "must be a number, not boolean"),
    ({"terminators": "#x"}, "terminators", "'x' is not a DTMF key"),
    ({"terminators": "../"}, "terminators", "'.' is not a DTMF key"),
    ({"terminators": 5}, "terminators", "must be a string"),
    ({"beep": "yes"}, "beep", "must be a boolean"),
    ({"file": "x.wav"}, "file", "unknown field 'file'"),       # the server names the file
])
def test_record_message_refuses_bad_fields_naming_them(centre, params, field, says):
    from cti.protocol.client import RemoteError

    client, seen, call = held_call(centre, "dtiB1T20")
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("RecordMessage", call=call, **params))
    body = e.value.body
    assert (body["code"], body["field"], body["service"]) == ("invalid_field", field,
                                                               "RecordMessage")
    assert says in body["message"] and field in body["message"]


def test_record_message_at_the_edges_of_its_ranges(centre, tmp_path):
    """silenceS 0 (silence does not end it), every DTMF key a terminator."""
    centre.center.layer.recordings_dir = tmp_path
    client, seen, call = held_call(centre, "dtiB1T21")
    result = centre.call(client.call("RecordMessage", call=call, maxS=1, silenceS=0,
                                     terminators="0123456789*#ABCD", beep=False))
    assert result["reason"] == "max_time" and result["file"] == str(tmp_path / f"{call}-1.wav")


# -- route points and no_such_object ------------------------------------------------
def test_a_route_point_can_be_monitored(centre):
    """routepoint:FLOW for a flow the routes name: a snapshot, then the call
    events of its connection (Delivered, Established, ConnectionCleared)."""
    client, seen = flow_server(centre)
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    events = recorder(sup)
    result = centre.call(sup.call("MonitorStart", object="device", id="routepoint:main_menu"))
    assert result["snapshot"] == {"device": "routepoint:main_menu", "kind": "routepoint",
                                  "flow": "main_menu", "flowServers": 1, "calls": []}
    centre.sim.endpoint("dtiB1T22").call(ani="2125550032", dnis="5550100")
    call = route_request(centre, seen)["call"]
    snap = centre.call(sup.call("Snapshot", object="device", id="routepoint:main_menu"))
    assert snap["snapshot"]["calls"] == [call]
    centre.call(client.call("AnswerCall", call=call))
    centre.call(client.call("RouteSelect", call=call, queue="sales"))
    centre.flush()
    assert [(name, body["device"], body["state"], body["monitor"]) for name, _, body in events
            if name != "response"] == [
        ("Delivered", "routepoint:main_menu", "alerting", result["monitor"]),
        ("Established", "routepoint:main_menu", "connected", result["monitor"]),
        ("ConnectionCleared", "routepoint:main_menu", "null", result["monitor"])]
    assert events[-1][2]["reason"] == "redirected"


@pytest.mark.parametrize("device, says", [
    ("routepoint:nowhere", "no device 'routepoint:nowhere'"),
    ("routepoint:", "no device 'routepoint:'"),
    ("queue:sales", "monitor object 'queue', id 'sales'"),
    ("msiB1C99", "no device 'msiB1C99'"),
])
def test_devices_that_are_not(centre, device, says):
    from cti.protocol.client import RemoteError

    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    for service in ("MonitorStart", "Snapshot"):
        with pytest.raises(RemoteError) as e:
            centre.call(sup.call(service, object="device", id=device))
        body = e.value.body
        assert (body["code"], body["object"], body["id"]) == ("no_such_object", "device",
                                                               device)
        assert says in body["message"]


def no_such_object(centre, d):
    """The body of the no_such_object error a request's Deferred fails with."""
    from cti.protocol.client import RemoteError

    with pytest.raises(RemoteError) as e:
        centre.call(d)
    assert e.value.code == "no_such_object", e.value.body
    return e.value.body


def test_no_such_object_always_names_the_object(tmp_path):
    from dataclasses import replace

    from cti.auth import hash_password
    from cti.server.config import UserConfig, load_server_config

    config = load_server_config("etc/cti.toml")
    centre = Centre(replace(config, users=config.users + (
        UserConfig("temp", frozenset({"agent"}), hash_password(PASSWORD)),)))
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    prompt = tone_wav(tmp_path / "c900-1.wav", 3.0)
    client, seen = flow_server(centre)
    got = []
    got.append(no_such_object(centre, client.call("Snapshot", object="call", id="c999")))
    got.append(no_such_object(centre, client.call("MonitorStop", monitor=999)))
    got.append(no_such_object(centre, client.call("AnswerCall", call="c999")))
    got.append(no_such_object(centre, client.call("PlayMessage", call="c999",
                                                  prompts=[prompt])))
    temp = centre.client()
    centre.call(temp.login("temp", PASSWORD, "agent"))
    got.append(no_such_object(centre, temp.call("SetAgentState", state="ready")))
    agent = centre.client()
    centre.call(agent.login("1002", PASSWORD, "agent"))
    got.append(no_such_object(centre, agent.call("SetAgentState", state="loggedOn",
                                                 station="msiB1C99")))
    # a prompt playing when the caller hangs up
    caller = centre.sim.endpoint("dtiB1T23")
    caller.call(ani="2125550033", dnis="5550100")
    call = route_request(centre, seen)["call"]
    centre.call(client.call("AnswerCall", call=call))
    play = client.call("PlayMessage", call=call, prompts=[prompt])
    centre.run(500)
    caller.hangup()
    got.append(no_such_object(centre, play))
    # an analog line whose caller hangs up while it goes off-hook
    line = centre.sim.endpoint("dxxxB1C3")
    line.call(ani="2125550034")
    centre.run_until(lambda: [b for n, _, b in seen if n == "RouteRequest"][-1]["call"] != call,
                     within_ms=20_000, what="the analog call's RouteRequest")
    analog = [b for n, _, b in seen if n == "RouteRequest"][-1]["call"]
    answer = client.call("AnswerCall", call=analog)
    ended_first = []                    # RouteEnd arrived before the error?
    answer.addErrback(lambda f: ended_first.append(
        ("RouteEnd", analog) in [(n, b.get("call")) for n, _, b in seen]) or f)
    centre.flush()
    assert centre.center.calls[analog].trunk.state == "answering"
    line.hangup()
    got.append(no_such_object(centre, answer))
    assert [(b["object"], b["id"]) for b in got] == [
        ("call", "c999"), ("monitor", 999), ("call", "c999"), ("call", "c999"),
        ("agent", "temp"), ("device", "msiB1C99"), ("call", call), ("call", analog)]
    assert "not an agent" in got[4]["message"] and "cleared" in got[7]["message"]
    assert ended_first == [True]


def test_a_restarted_server_never_reuses_a_call_id():
    """Records and recordings are named by call id: a server started later
    (here, one second on) numbers its calls past the first one's."""
    from twisted.internet import task

    ids = []
    for started in (1_795_000_000.0, 1_795_000_001.0):
        clock = task.Clock()
        clock.advance(started)
        centre = Centre(clock=clock)
        for trunk in ("dtiB1T1", "dtiB1T2"):
            centre.sim.endpoint(trunk).call(ani="2125550101", dnis="5550199")
        centre.run_until(lambda c=centre: len(c.center.calls) == 2, what="two calls")
        ids.append(sorted(centre.center.calls))
    assert ids == [["c1795000000001", "c1795000000002"],
                   ["c1795000001001", "c1795000001002"]]


def test_a_trunk_group_of_mf_address_signalling(tmp_path):
    """`address = "mf"`: the carrier sends KP ANI ST KP DNIS ST; the call is
    routed by that DNIS and carries that ANI.  Another value is refused."""
    from dataclasses import replace

    from cti.config import ConfigError
    from cti.server.config import load_server_config

    config = load_server_config("etc/cti.toml")
    centre = Centre(replace(config, trunk_groups=tuple(
        replace(g, address="mf") if g.name == "pstn_in" else g for g in config.trunk_groups)))
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    centre.sim.endpoint("dtiB1T1").call(ani="2125550042", dnis="5550199", mf=True)
    centre.run_until(lambda: "Delivered" in names(events), what="the support hotline's call")
    delivered = dict(events)["Delivered"]
    assert (delivered["callingDevice"], delivered["calledDevice"], delivered["queue"]) == (
        "2125550042", "5550199", "support")
    shutil.copytree("etc", tmp_path / "etc", ignore=shutil.ignore_patterns("*.wav"))
    bad = tmp_path / "etc" / "cti.toml"
    bad.write_text(bad.read_text().replace('direction = "in"',
                                           'direction = "in"\naddress = "r2"', 1))
    with pytest.raises(ConfigError, match=r"trunk_groups\[0\]\.address.*'r2'"):
        load_server_config(str(bad))


def test_the_protocol_doc_lists_each_roles_services():
    """docs/protocol.md section 4's table names every service of each role."""
    centre = Centre()
    with open("docs/protocol.md") as f:
        doc = f.read()
    section = doc[doc.index("## 4."):doc.index("## 5.")]
    rows = {line.split("|")[1].strip(" `"): line for line in section.splitlines()
            if line.startswith("| `")}
    core = {"GetServices", "Heartbeat", "Login", "Logout", "MonitorStart", "MonitorStop",
            "Snapshot"}
    for service in centre.hub.catalogue.services():
        if service.name in core:
            continue
        for role in service.roles:
            row = rows["supervisor"] if role == "admin" and "supervisor" in service.roles \
                else rows[role]
            assert f"`{service.name}`" in row, f"{role} {service.name} not in section 4"
