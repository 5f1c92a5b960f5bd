# SPDX-License-Identifier: GPL-2.0-or-later
"""Races a call centre meets every day, end to end in virtual time: nothing
may be left stuck (an agent "reserved" or "busy" with no call, a voice
resource never given back, a call that never ends)."""
import pytest

from cti.storage.models import CallRecord
from tests.centre import Centre
from tests.test_callcenter import PASSWORD, agent_ready, names


@pytest.fixture
def centre():
    return Centre()


def settled(centre):
    """Nothing is left half-done once every call has ended."""
    center = centre.center
    assert not center.calls
    assert not center.acd.entries
    for agent in center.acd.agents.values():
        assert agent.state not in ("reserved", "busy"), (agent.id, agent.state)
        assert agent.call is None or agent.state == "reserved"
    assert centre.server.voice_pool.busy == set()
    assert not center.moh.listening


def test_agent_logs_out_while_the_phone_rings(centre):
    first, first_events = agent_ready(centre, "1004", "msiB1C4")
    centre.run(1000)
    second, _ = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T1")
    phone4, phone5 = centre.sim.endpoint("msiB1C4"), centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: phone4.state == "ringing", what="1004 rings")
    result = centre.call(first.call("SetAgentState", state="loggedOff", reason="end of shift"))
    assert (result["state"], result["result"]) == ("loggedOff", "done")
    centre.run_until(lambda: phone5.state == "ringing", what="the next agent rings at once")
    assert phone4.state != "ringing"
    phone5.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "busy"
                     and caller.state == "connected", what="1005 takes the call")
    caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(200)
    settled(centre)
    assert names(first_events)[-1] == "AgentLoggedOff"


@pytest.mark.parametrize("caller_first", [True, False])
def test_caller_abandons_as_the_agent_answers(centre, caller_first):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T2")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550002", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing" and caller.state == "connected",
                     what="the phone rings")
    for act in ((caller.hangup, phone.offhook) if caller_first
                else (phone.offhook, caller.hangup)):
        act()                                    # in the same instant
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(500)
    settled(centre)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.disposition in ("abandoned", "answered")
    assert cdr.released_by == "caller"
    assert centre.center.acd.agents["1005"].state in ("ready", "workingAfterCall")


def test_the_agents_desktop_disconnects_mid_call_and_comes_back(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T3")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550003", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="connected")
    call_id = dict(events)["Established"]["call"]

    agent.transport.loseConnection()             # the desktop crashes
    centre.run(5000)
    assert centre.center.calls[call_id].state == "talking"   # the call stays up
    assert centre.center.acd.agents["1005"].state == "busy"

    back = centre.client()                       # the desktop restarts
    centre.call(back.login("1005", PASSWORD, "agent"))
    snap = centre.call(back.call("Snapshot", object="agent", id="1005"))["snapshot"]
    assert (snap["state"], snap["call"], snap["station"]) == ("busy", call_id, "msiB1C5")
    call = centre.call(back.call("Snapshot", object="call", id=call_id))["snapshot"]
    assert {"device": "msiB1C5", "state": "connected"} in call["connections"]
    centre.call(back.call("ClearConnection", call=call_id))     # and it can act on it
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(200)
    settled(centre)


def test_a_locked_break_ends_only_with_its_lock_or_a_supervisor(centre):
    from cti.protocol.client import RemoteError

    agent, events = agent_ready(centre, "1005", "msiB1C5")
    result = centre.call(agent.call("SetAgentState", state="notReady", reason="lunch",
                                    lock="s3cret"))
    assert result["locked"] is True
    for attempt in ({}, {"lock": "guess"}):
        with pytest.raises(RemoteError) as e:
            centre.call(agent.call("SetAgentState", state="ready", **attempt))
        assert e.value.code == "invalid_state" and "locked" in str(e.value)
    with pytest.raises(RemoteError):
        centre.call(agent.call("SetAgentState", state="loggedOff"))
    result = centre.call(agent.call("SetAgentState", state="ready", lock="s3cret"))
    assert (result["state"], result["locked"]) == ("ready", False)
    centre.call(agent.call("SetAgentState", state="notReady", reason="lunch", lock="s3cret"))
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    centre.call(sup.call("ForceAgentState", agent="1005", state="ready"))
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.center.acd.agents["1005"].lock is None
