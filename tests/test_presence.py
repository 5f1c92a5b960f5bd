# SPDX-License-Identifier: GPL-2.0-or-later
"""A dead desk takes no calls; a desktop that returns, or a server that
restarts, gives the agent back (cti.server.agents.presence)."""
import json

import pytest

from cti.storage.models import AgentStateChange
from tests.centre import Centre
from tests.test_callcenter import PASSWORD, agent_ready, names

AGENT, STATION = "1005", "msiB1C5"


def started(var_dir=None):
    centre = Centre(var_dir=var_dir)
    centre.server.startService()
    return centre


@pytest.fixture
def centre():
    centre = started()
    yield centre
    centre.center.stop()


def state(centre, agent=AGENT):
    a = centre.center.acd.agents[agent]
    return a.state, a.reason


def log_in_again(centre, agent=AGENT):
    client = centre.client()
    centre.call(client.login(agent, PASSWORD, "agent"))
    return client


def test_a_dead_desktops_agent_is_made_not_ready_and_takes_no_calls(centre):
    lost_s = centre.config.faults.client_lost_s
    client, _ = agent_ready(centre, AGENT, STATION)
    client.transport.loseConnection()                    # the desktop dies
    centre.run(lost_s * 1000 - 500)
    assert state(centre) == ("ready", "")                # the grace: it may come back
    centre.run(1_000)
    assert state(centre) == ("notReady", "client lost")
    centre.sim.endpoint("dtiB1T1").call(ani="2125551234", dnis="5550199")
    centre.run(5_000)
    assert centre.sim.endpoint(STATION).state != "ringing"
    [call] = centre.center.calls.values()
    assert call.state == "queued"
    assert [r.reason for r in centre.records.of(AgentStateChange, agent=AGENT)][-1] == \
        "client lost"


def test_a_desktop_back_after_the_grace_takes_its_state_back(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    client.transport.loseConnection()
    centre.run(centre.config.faults.client_lost_s * 1000 + 500)
    assert state(centre) == ("notReady", "client lost")
    log_in_again(centre)
    assert state(centre) == ("ready", "")


def test_a_desktop_back_within_the_grace_changes_nothing(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    centre.call(client.call("SetAgentState", state="notReady", reason="lunch"))
    changes = len(centre.records.of(AgentStateChange, agent=AGENT))
    client.transport.loseConnection()
    centre.run(3_000)
    log_in_again(centre)
    centre.run(centre.config.faults.client_lost_s * 1000)
    assert state(centre) == ("notReady", "lunch")
    assert len(centre.records.of(AgentStateChange, agent=AGENT)) == changes


def test_a_second_session_keeps_the_agent_present(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    log_in_again(centre)                                 # e.g. a softphone beside the desktop
    client.transport.loseConnection()
    centre.run(centre.config.faults.client_lost_s * 1000 + 500)
    assert state(centre) == ("ready", "")


def test_an_agent_on_a_call_when_its_desktop_dies_goes_not_ready_after_it(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    caller, phone = centre.sim.endpoint("dtiB1T1"), centre.sim.endpoint(STATION)
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: state(centre)[0] == "busy", what="talking")
    client.transport.loseConnection()
    centre.run(centre.config.faults.client_lost_s * 1000 + 500)
    assert state(centre)[0] == "busy"                    # the call goes on: the phone is there
    assert centre.center.acd.agents[AGENT].pending == ("notReady", "client lost")
    caller.hangup()
    centre.run(40_000)                                   # the call, then support's wrap-up
    assert state(centre) == ("notReady", "client lost")
    log_in_again(centre)
    assert state(centre) == ("ready", "")


def test_a_supervisors_change_meanwhile_is_kept(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    client.transport.loseConnection()
    centre.run(centre.config.faults.client_lost_s * 1000 + 500)
    supervisor = centre.client()
    centre.call(supervisor.login("sup", PASSWORD, "supervisor"))
    centre.call(supervisor.call("ForceAgentState", agent=AGENT, state="loggedOff"))
    log_in_again(centre)
    assert state(centre)[0] == "loggedOff"


def test_agents_come_back_after_a_restart_as_their_clients_log_in(tmp_path):
    first = started(tmp_path)
    agent_ready(first, AGENT, STATION)
    client, _ = agent_ready(first, "1006", "msiB1C6")
    first.call(client.call("SetAgentState", state="notReady", reason="training"))
    first.call(first.server.stopService(), within_ms=60_000)   # SIGTERM: all logged out
    assert state(first) == ("loggedOff", "server shutdown")

    second = started(tmp_path)
    assert state(second) == ("loggedOff", "")
    watcher = log_in_again(second)                   # 1005's desktop reconnects
    assert state(second) == ("ready", "")
    assert second.center.acd.agents[AGENT].station == STATION
    log_in_again(second, "1006")
    assert state(second, "1006") == ("notReady", "training")
    seen = second.events(watcher)
    second.call(watcher.call("MonitorStart", object="agent", id=AGENT))
    second.sim.endpoint("dtiB1T1").call(ani="2125551234", dnis="5550199")
    second.run_until(lambda: second.sim.endpoint(STATION).state == "ringing",
                     what="a call offered to the restored agent")
    assert "AgentReserved" in names(seen)


def test_a_crashed_servers_agents_come_back_too(tmp_path):
    first = started(tmp_path)
    agent_ready(first, AGENT, STATION)
    first.run(2_000)                                 # saved within a second of the change
    # the process dies here: no stop, no drain
    second = started(tmp_path)
    log_in_again(second)
    assert state(second) == ("ready", "")


def test_nobody_comes_back_the_next_morning(tmp_path):
    first = started(tmp_path)
    agent_ready(first, AGENT, STATION)
    first.call(first.server.stopService(), within_ms=60_000)
    saved = tmp_path / "agents-present.json"
    data = json.loads(saved.read_text())
    assert data["agents"][AGENT] == {"station": STATION, "state": "ready", "reason": ""}
    data["at"] -= first.config.faults.restore_within_s + 1
    saved.write_text(json.dumps(data))
    second = started(tmp_path)
    log_in_again(second)
    assert state(second)[0] == "loggedOff"


def test_a_log_out_asked_for_during_a_call_stands_when_the_desktop_goes(centre):
    client, _ = agent_ready(centre, AGENT, STATION)
    caller, phone = centre.sim.endpoint("dtiB1T1"), centre.sim.endpoint(STATION)
    caller.call(ani="2125551234", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: state(centre)[0] == "busy", what="talking")
    centre.call(client.call("SetAgentState", state="loggedOff", reason="end of shift"))
    client.transport.loseConnection()                    # and goes home
    centre.run(centre.config.faults.client_lost_s * 1000 + 500)
    assert centre.center.acd.agents[AGENT].pending == ("loggedOff", "end of shift")
    caller.hangup()
    centre.run(40_000)
    assert state(centre) == ("loggedOff", "end of shift")
