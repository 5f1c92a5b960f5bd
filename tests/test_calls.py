# SPDX-License-Identifier: GPL-2.0-or-later
"""The CSTA call model: connections per device, events to monitors,
attached data that follows the call."""
import pytest
from twisted.internet import task

from cti.protocol.server import Hub
from cti.server.core.model import CallModel
from cti.statemachine import InvalidTransition
from tests.test_protocol import USERS, Wire


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture
def hub(clock):
    return Hub(clock, USERS)


@pytest.fixture
def model(clock, hub):
    return CallModel(clock, hub)


def events(wire):
    return [(i.body["event"], i.body.get("device"), i.body.get("state")) for i in wire.read()
            if i.kind == "event"]


def test_an_inbound_acd_call_as_monitors_see_it(model, hub):
    """Trunk answered by the IVR, queued, delivered to an agent, established,
    cleared: the call monitor sees every step, the agent's phone monitor
    only its own, and the queue monitor the queue's."""
    call = model.new_call("dtiB1T1", ani="5551234", dnis="5550100", trunk_group="pstn_in")
    whole, phone, queue = Wire(hub), Wire(hub), Wire(hub)
    for w in (whole, phone, queue):
        w.login("sue", "supervisor")
    whole.request(2, "MonitorStart", object="call", id=call.id)
    phone.request(2, "MonitorStart", object="device", id="*")
    queue.request(2, "MonitorStart", object="queue", id="*")
    model.connect(call, "dtiB1T1", "connected")
    call.data["account"] = "123456"
    model.connect(call, "queue:sales", "queued")
    model.connect(call, "msiB1C3", "alerting")
    model.clear(call, "queue:sales", reason="distributed")
    model.connect(call, "msiB1C3", "connected")
    model.clear(call, "dtiB1T1", reason="caller hung up")
    model.clear(call, "msiB1C3", reason="caller hung up")
    assert events(whole) == [
        ("Established", "dtiB1T1", "connected"), ("Queued", "queue:sales", "queued"),
        ("Delivered", "msiB1C3", "alerting"), ("ConnectionCleared", "queue:sales", "null"),
        ("Established", "msiB1C3", "connected"), ("ConnectionCleared", "dtiB1T1", "null"),
        ("ConnectionCleared", "msiB1C3", "null"), ("CallCleared", None, None)]
    assert [e[:2] for e in events(phone)] == [
        ("Established", "dtiB1T1"), ("Delivered", "msiB1C3"), ("Established", "msiB1C3"),
        ("ConnectionCleared", "dtiB1T1"), ("ConnectionCleared", "msiB1C3")]
    assert [e[0] for e in events(queue)] == ["Queued", "ConnectionCleared"]
    assert call.id not in model.calls


def test_attached_data_and_parties_travel_in_every_event(model, hub):
    call = model.new_call("dtiB1T1", ani="5551234", dnis="5550100")
    w = Wire(hub)
    w.login("alice")
    call.data.update(account="123456", choice="2")
    w.request(2, "MonitorStart", object="call", id=call.id)
    model.connect(call, "msiB1C3", "alerting")
    [event] = w.read()
    assert event.body["data"] == {"account": "123456", "choice": "2"}
    assert (event.body["callingDevice"], event.body["calledDevice"]) == ("5551234", "5550100")


def test_snapshot_rebuilds_the_view(model, hub, clock):
    clock.advance(100)
    call = model.new_call("dtiB1T2", ani="5550000", dnis="5550199")
    model.connect(call, "dtiB1T2", "connected")
    model.connect(call, "queue:support", "queued")
    w = Wire(hub)
    w.login("alice")
    [reply] = w.request(2, "Snapshot", object="call", id=call.id)
    snap = reply.body["result"]["snapshot"]
    assert snap["connections"] == [{"device": "dtiB1T2", "state": "connected"},
                                   {"device": "queue:support", "state": "queued"}]
    assert snap["created"] == 100


def test_impossible_moves_are_refused(model):
    call = model.new_call("dtiB1T1")
    model.connect(call, "msiB1C1", "connected")
    with pytest.raises(InvalidTransition):
        model.connect(call, "msiB1C1", "alerting")
    model.connect(call, "msiB1C1", "hold")
    model.connect(call, "msiB1C1", "connected")
    model.clear_call(call)
    with pytest.raises(ValueError, match="has ended"):
        model.connect(call, "msiB1C1", "connected")


def test_cleared_listeners_hear_every_ended_call(model):
    ended = []
    model.cleared_listeners.append(ended.append)
    call = model.new_call("dtiB1T1")
    model.connect(call, "dtiB1T1", "connected")
    model.connect(call, "msiB1C1", "alerting")
    model.clear_call(call, reason="system")
    assert ended == [call] and call.cleared
    model.clear(call, "dtiB1T1")            # late, harmless
    assert ended == [call]
