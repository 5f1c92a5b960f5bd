# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti reload`: a changed configuration taken live, or refused whole.

The server in virtual time (tests.centre) runs a copy of the sample
configuration (`Site`: etc/cti.toml with its var directory its own, and
one more route, 5550500 to the spanish queue); each test edits the copy
and asks the server to read it again, as an administrator would
(`Reload`), then looks at what clients see: a new queue takes a call, a
new agent logs in, a refusal leaves everything as it was.  At the end,
SIGHUP and `cti reload` against a real `cti server` process.
"""
import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cti import reload as reload_cli
from cti.config import ConfigError
from cti.protocol.client import BlockingClient, RemoteError
from cti.server.config import FlowSettings, ServerConfig, load_server_config
from cti.server.reload.changes import FIELDS, FLOW_KEYS, Change, live_changes, restart_keys
from cti.storage.models import AuditEntry, CallRecord
from tests.centre import Centre
from tests.test_callcenter import PASSWORD, agent_ready, names

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = (ROOT / "etc" / "cti.toml").read_text()
#: The hash of "1234", every sample account's password.
HASH = re.search(r'id = "1005"\nname = .*\npassword_hash = "([^"]+)"', SAMPLE)[1]
SPANISH_ROUTE = '\n[[routes]]\ndnis = "5550500"\nqueue = "spanish"\n'


class Site:
    """The sample configuration in a directory of its own: the boards,
    flows and prompts of the checkout, the var directory here."""

    def __init__(self, directory):
        self.var = directory / "var"
        self.path = directory / "cti.toml"
        etc = ROOT / "etc"
        self.text = (SAMPLE.replace('boards = "boards.toml"', f'boards = "{etc}/boards.toml"')
                     .replace('var_dir = "../var"', f'var_dir = "{self.var}"')
                     .replace('flows_dir = "flows"', f'flows_dir = "{etc}/flows"')
                     .replace('prompts_dir = "prompts"', f'prompts_dir = "{etc}/prompts"')
                     + SPANISH_ROUTE)
        self.path.write_text(self.text)

    def edit(self, old, new):
        """Replace `old` (which must be there) with `new`, in the file."""
        assert old in self.text, old
        self.text = self.text.replace(old, new, 1)
        self.path.write_text(self.text)

    def add(self, text):
        self.text += text
        self.path.write_text(self.text)


@pytest.fixture
def site(tmp_path):
    return Site(tmp_path)


@pytest.fixture
def centre(site):
    centre = Centre(str(site.path), var_dir=site.var)
    centre.server.startService()
    yield centre
    centre.center.stop()


def admin(centre):
    client = centre.client()
    centre.call(client.login("admin", PASSWORD, "admin"))
    return client


def reload(centre, client=None):
    """The Reload service's answer: the changes, as dicts; and the next
    turn of the reactor, where what the reload makes possible is served."""
    answer = centre.call((client or admin(centre)).call("Reload"))
    centre.run(10)
    return answer["changes"]


def refused(centre):
    """The Reload service's refusal: the error's body."""
    with pytest.raises(RemoteError) as e:
        centre.call(admin(centre).call("Reload"))
    return e.value.body


def call(centre, trunk, dnis, ani="2125550001"):
    caller = centre.sim.endpoint(trunk)
    caller.call(ani=ani, dnis=dnis)
    centre.run_until(lambda: any(c.trunk.name == trunk for c in centre.center.calls.values()),
                     what=f"a call on {trunk}")
    return caller


def call_on(centre, trunk):
    return next(c for c in centre.center.calls.values() if c.trunk.name == trunk)


def new_queue(name, **keys):
    lines = "".join(f"{k} = {v!r}\n".replace("'", '"') for k, v in keys.items())
    return f'\n[[queues]]\nname = "{name}"\n{lines}'


# -- the table ---------------------------------------------------------------------------
def test_every_key_of_the_configuration_is_declared_live_or_not():
    """A field added to ServerConfig (or [flow]) must say how a change to
    it is taken before a reload can compare it."""
    assert set(FIELDS) == {f.name for f in dataclasses.fields(ServerConfig)}
    assert set(FLOW_KEYS) == {f.name for f in dataclasses.fields(FlowSettings)}


def test_the_same_file_changes_nothing(site):
    config = load_server_config(site.path)
    assert restart_keys(config, load_server_config(site.path)) == []
    assert live_changes(config, load_server_config(site.path)) == []


def test_restart_keys_are_named_as_in_the_file(site):
    running = load_server_config(site.path)
    site.edit("heartbeat_s = 10", "heartbeat_s = 20\nlogin_lockout_s = 60")
    site.edit("retry_s = 5", "retry_s = 7")
    site.edit('name = "local"             # the analog', 'name = "analog"  # the analog')
    site.edit('prompts_dir = "', 'hooks = ["os"]\nprompts_dir = "')
    site.edit('password = "1234"', 'password = "4321"')       # the flow tier's: not ours
    assert restart_keys(running, load_server_config(site.path)) == [
        "server.heartbeat_s", "server.login_lockout_s", "trunk_groups", "acd.retry_s",
        "flow.hooks"]


def test_live_changes_say_what_and_which_keys(site):
    running = load_server_config(site.path)
    site.edit('strategy = "fewest_calls"', 'strategy = "linear"\nmax_wait_s = 60')
    site.edit('name = "Bob Baker"', 'name = "Robert Baker"')
    site.edit('dnis = "5550300"           # the after-hours line: emergency line or a message\n'
              'flow = "after_hours"', 'dnis = "5550300"\nqueue = "sales"')
    site.edit('default = {flow = "main_menu"}', 'default = {flow = "support_menu"}')
    site.add(new_queue("billing") + '\n[[users]]\nname = "ops"\nroles = ["admin"]\n'
             f'password_hash = "{HASH}"\n')
    site.edit('[[users]]\nname = "sup"', '[[users]]\nname = "supervisor"')
    changes = live_changes(running, load_server_config(site.path))
    assert [str(c) for c in changes] == [
        "queue support changed (strategy, max_wait_s)",
        "queue billing added",
        "agent 1002 changed (name)",
        "user supervisor added",
        "user ops added",
        "user sup removed",
        "route dnis 5550300 changed (flow, queue)",
        "routing default changed",
        "flow after_hours removed",
    ]
    assert changes[1].as_dict() == {"kind": "queue", "name": "billing", "change": "added"}
    assert changes[0].as_dict()["keys"] == ["strategy", "max_wait_s"]


# -- live changes, seen by clients -------------------------------------------------------
def test_a_new_queue_takes_a_call_and_is_seen_everywhere(centre, site):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    site.add(new_queue("billing", strategy="linear", wrap_up_s=3)
             + '\n[[routes]]\ndnis = "5550400"\nqueue = "billing"\n')
    site.edit('queues = ["support"]\nskills = {english = 9}',
              'queues = ["support", "billing"]\nskills = {english = 9}')
    assert reload(centre) == [
        {"kind": "queue", "name": "billing", "change": "added"},
        {"kind": "agent", "name": "1005", "change": "changed", "keys": ["queues"]},
        {"kind": "route", "name": "dnis 5550400", "change": "added"}]
    queues = {s["queue"]: s for s in centre.call(admin(centre).snapshot_all("queue"))}
    assert queues["billing"]["strategy"] == "linear"                   # cti show queues
    assert "billing" in [q["queue"] for q in centre.server.figures.read()["queues"]]  # /metrics
    call(centre, "dtiB1T1", "5550400")
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at 1005")
    assert dict(events)["Delivered"]["queue"] == "billing"
    assert centre.center.acd.agents["1005"].serves == ["support", "billing"]


def test_a_changed_strategy_is_used_by_the_next_offer(centre, site):
    """support chooses by fewest calls (the longest idle among equals):
    1005, ready first, would ring; linear rings 1004, first in the file."""
    _, erin = agent_ready(centre, "1005", "msiB1C5")
    centre.run(1_000)
    _, dan = agent_ready(centre, "1004", "msiB1C4")
    supervisor = admin(centre)
    seen = centre.events(supervisor)
    centre.call(supervisor.call("MonitorStart", object="queue", id="support"))
    site.edit('strategy = "fewest_calls"', 'strategy = "linear"')
    assert reload(centre) == [{"kind": "queue", "name": "support", "change": "changed",
                               "keys": ["strategy"]}]
    centre.flush()
    assert [body["strategy"] for name, body in seen if name == "QueueChanged"] == ["linear"]
    call(centre, "dtiB1T1", "5550199")
    centre.run_until(lambda: "Delivered" in names(dan), what="Delivered at 1004")
    assert "Delivered" not in names(erin)


def test_a_strategy_a_supervisor_set_stays_unless_the_file_changes_it(centre, site):
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    centre.call(sup.call("SetQueueStrategy", queue="sales", strategy="random"))
    site.edit('service_level_s = 30', 'service_level_s = 25')      # support's
    reload(centre)
    assert centre.center.acd.queues["sales"].strategy == "random"
    site.edit('strategy = "longest_idle"  # longest_idle', 'strategy = "ring_all"  #')
    reload(centre)
    assert centre.center.acd.queues["sales"].strategy == "ring_all"


def test_a_new_agent_logs_in_and_takes_calls(centre, site):
    site.add(f'\n[[agents]]\nid = "1007"\nname = "Gail Green"\npassword_hash = "{HASH}"\n'
             'queues = ["support"]\nstation = "msiB1C7"\n')
    assert reload(centre) == [{"kind": "agent", "name": "1007", "change": "added"}]
    _, events = agent_ready(centre, "1007", "msiB1C7")
    call(centre, "dtiB1T1", "5550199")
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at 1007")
    snapshot = centre.call(admin(centre).call("Snapshot", object="agent", id="1007"))
    assert snapshot["snapshot"]["name"] == "Gail Green"


def test_a_removed_agent_logged_out_cannot_log_in_and_its_desktop_ends(centre, site):
    desktop = centre.client()                       # connected, not in the ACD
    centre.call(desktop.login("1002", PASSWORD, "agent"))
    seen = centre.events(desktop)
    site.edit(site.text[site.text.index('[[agents]]\nid = "1002"'):
                        site.text.index('[[agents]]\nid = "1003"')], "")
    assert reload(centre) == [{"kind": "agent", "name": "1002", "change": "removed"}]
    assert [(name, body["reason"]) for name, body in seen] == [
        ("SessionClosed", "user 1002 removed from the configuration")]
    assert desktop.close_reason == "user 1002 removed from the configuration"
    with pytest.raises(RemoteError) as e:
        centre.call(centre.client().login("1002", PASSWORD, "agent"))
    assert e.value.code == "bad_credentials"
    assert "1002" not in [a["agent"] for a in centre.call(admin(centre).snapshot_all("agent"))]


def test_an_agent_removed_while_its_desktop_s_grace_runs(centre, site, tracebacks):
    """Its desktop lost, 1002 has [faults] client_lost_s to come back; an
    administrator logs it out and the reload removes it meanwhile: its
    grace ends with it."""
    desktop, _ = agent_ready(centre, "1002", "msiB1C2")
    desktop.transport.loseConnection()
    centre.run(200)
    assert list(centre.center.presence.grace) == ["1002"]
    centre.call(admin(centre).call("ForceAgentState", agent="1002", state="loggedOff"))
    site.edit(site.text[site.text.index('[[agents]]\nid = "1002"'):
                        site.text.index('[[agents]]\nid = "1003"')], "")
    reload(centre)
    assert centre.center.presence.grace == {}
    centre.run(int(centre.center.config.faults.client_lost_s * 1000) + 1_000)
    assert tracebacks == []


def test_users_added_removed_and_their_teams(centre, site):
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    north = centre.client()
    centre.call(north.login("admin", PASSWORD, "admin"))
    site.add(f'\n[[users]]\nname = "ops"\nroles = ["admin"]\npassword_hash = "{HASH}"\n'
             f'\n[[users]]\nname = "south"\nroles = ["supervisor"]\npassword_hash = "{HASH}"\n'
             'teams = ["south"]\n')
    site.edit('[[users]]\nname = "sup"', '[[users]]\nname = "north"\nteams = ["north"]')
    reload(centre)
    ops = centre.client()
    assert centre.call(ops.login("ops", PASSWORD, "admin"))["role"] == "admin"
    with pytest.raises(RemoteError) as e:                  # removed: no new login...
        centre.call(centre.client().login("sup", PASSWORD, "supervisor"))
    assert e.value.code == "bad_credentials"
    assert sup.close_reason == "user sup removed from the configuration"   # ...its session ends
    assert centre.call(north.call("Heartbeat"))             # a user who stays goes on
    south = centre.client()
    centre.call(south.login("south", PASSWORD, "supervisor"))
    with pytest.raises(RemoteError) as e:                  # a team's supervisor sees its own
        centre.call(south.call("Snapshot", object="agent", id="1001"))
    assert e.value.code == "forbidden"
    assert centre.call(south.call("Snapshot", object="agent", id="1004"))["snapshot"]


def test_a_supervisor_removed_or_demoted_sees_nothing_more_and_its_session_ends(centre, site):
    """Its teams gone with it, a supervisor would see everything: until
    its session ends, it sees nothing, and may do nothing."""
    team = f'\n[[users]]\nname = "south"\nroles = ["supervisor"]\npassword_hash = "{HASH}"\n'
    site.add(team + 'teams = ["south"]\n')
    reload(centre)
    south = centre.client()
    centre.call(south.login("south", PASSWORD, "supervisor"))
    seen = centre.events(south)
    centre.call(south.call("MonitorStart", object="agent", id="1004"))
    site.edit(team + 'teams = ["south"]\n', "")
    scope, session = centre.center.scope, next(s for s in centre.hub.sessions
                                               if s.user is not None and s.user.name == "south")
    centre.call(admin(centre).call("Reload"))              # the swap, not yet the next turn
    assert scope.hidden(session, "agent", "1001") == \
        "user south is no longer a supervisor of the configuration"
    assert scope.hidden(session, "agent", "1004") is not None
    with pytest.raises(RemoteError) as e:
        centre.call(south.call("Snapshot", object="agent", id="1001"))
    assert (e.value.code, e.value.body["message"]) == (
        "forbidden", "Snapshot: user south removed from the configuration: this session ends")
    centre.run(10)
    assert south.close_reason == "user south removed from the configuration"
    assert [name for name, _ in seen] == ["SessionClosed"]
    assert centre.hub.monitors == {}

    site.add(team.replace('["supervisor"]', '["supervisor", "admin"]') + 'teams = ["south"]\n')
    reload(centre)
    both = centre.client()
    centre.call(both.login("south", PASSWORD, "supervisor"))
    other = centre.client()
    centre.call(other.login("south", PASSWORD, "admin"))
    site.edit('["supervisor", "admin"]', '["admin"]')
    reload(centre)
    assert both.close_reason == "role supervisor taken away from user south by the configuration"
    assert other.close_reason is None and centre.call(other.call("Heartbeat"))


def test_a_removed_agent_s_desktop_sees_nothing_more(centre, site):
    """Without its ACD agent, an agent session would be taken for a
    [[users]] login with the agent role, seeing every queue and agent."""
    desktop = centre.client()
    centre.call(desktop.login("1002", PASSWORD, "agent"))
    call(centre, "dtiB1T1", "5550199", ani="2125550042")
    centre.run(2_000)
    session = next(s for s in centre.hub.sessions if s.user is not None
                   and s.user.name == "1002")
    assert centre.center.scope.hidden(session, "queue", "support") is not None
    site.edit(site.text[site.text.index('[[agents]]\nid = "1002"'):
                        site.text.index('[[agents]]\nid = "1003"')], "")
    centre.call(admin(centre).call("Reload"))              # the swap, not yet the next turn
    for kind, object_id in (("queue", "support"), ("agent", "1004"),
                            ("call", call_on(centre, "dtiB1T1").id)):
        assert centre.center.scope.hidden(session, kind, object_id) == \
            "user 1002 is no longer an agent of the configuration"
    centre.run(10)
    assert desktop.close_reason == "user 1002 removed from the configuration"


def test_monitors_see_queues_and_agents_come_change_and_go(centre, site):
    """A monitor of a queue or an agent the reload removes ends, saying
    why; a queue added is told to the `*` monitors (QueueChanged), an
    agent changed, or whose queues changed with a queue's skills, to its
    monitors (AgentChanged): 1005's new skills, and 1001, whose spanish 3
    no longer serves spanish once it asks 5 from the start.  A desktop
    takes the agent's new view."""
    from cti.agent.model import Desk

    queue = add_billing(centre, site)
    supervisor = admin(centre)
    seen = centre.events(supervisor)
    for kind, object_id in (("queue", "billing"), ("agent", "1006"), ("queue", "*"),
                            ("agent", "*")):
        centre.call(supervisor.call("MonitorStart", object=kind, id=object_id))
    billing, frank = [m for m, (_, kind, object_id) in centre.hub.monitors.items()
                      if object_id in ("billing", "1006")]
    desk = Desk("1005", "msiB1C5", lambda: centre.clock.seconds())
    desk.set_agent(centre.call(supervisor.call("Snapshot", object="agent", id="1005"))[
        "snapshot"])
    remove_billing(site, queue)
    site.edit(site.text[site.text.index('[[agents]]\nid = "1006"'):
                        site.text.index("[[users]]")], "")
    site.edit("skills = {english = 9}", "skills = {english = 9, french = 4}")
    site.edit("widen = [{after_s = 60, skills = {spanish = 3}}]", "")
    site.add(new_queue("claims"))
    reload(centre)
    centre.flush()
    ended = {body["id"]: body for name, body in seen if name == "MonitorEnded"}
    assert ended == {
        "billing": {"event": "MonitorEnded", "monitor": billing, "object": "queue",
                    "id": "billing", "reason": "queue billing was removed from the "
                                               "configuration"},
        "1006": {"event": "MonitorEnded", "monitor": frank, "object": "agent", "id": "1006",
                 "reason": "agent 1006 was removed from the configuration"}}
    assert [body["queue"] for name, body in seen if name == "QueueChanged"] == [
        "spanish", "claims"]
    changed = {body["agent"]: body for name, body in seen if name == "AgentChanged"}
    assert sorted(changed) == ["1001", "1005"]
    assert changed["1005"]["skills"] == {"english": 9, "french": 4}
    assert changed["1005"]["serves"] == ["support"]
    assert changed["1001"]["serves"] == ["sales"]
    assert desk.apply(changed["1005"]) and desk.agent["skills"] == {"english": 9, "french": 4}
    assert desk.serves == ["support"]


def test_round_robin_goes_on_after_the_same_agent_when_agents_move_in_the_file(centre, site):
    """Sales rings 1001, 1002, 1003 in turn; 1001 rang last.  The file
    moves 1001 to the end of the agents: the next call rings 1002 (after
    1001), not 1003 (after whoever is now first).  Then 1002, who rang
    last, goes: the next rings 1003, who came after it."""
    site.edit('strategy = "longest_idle"  # longest_idle', 'strategy = "round_robin"  #')
    site.add('\n[[routes]]\ndnis = "5550600"\nqueue = "sales"\n')
    reload(centre)
    agents = centre.center.acd.agents
    for agent_id in ("1001", "1002", "1003"):
        agent_ready(centre, agent_id, f"msiB1C{agent_id[-1]}")
    caller = call(centre, "dtiB1T1", "5550600")
    centre.run_until(lambda: agents["1001"].state == "reserved"
                     and caller.state == "connected", what="1001 rings")
    caller.hangup()
    centre.run_until(lambda: agents["1001"].state == "ready", what="1001 free again")
    alice = site.text[site.text.index('[[agents]]\nid = "1001"'):
                      site.text.index('[[agents]]\nid = "1002"')]
    site.edit(alice, "")
    site.edit("\n[[users]]", f"\n{alice}[[users]]")
    assert reload(centre) == []                            # where an agent is: no change
    assert agents["1001"].order == 5
    caller = call(centre, "dtiB1T2", "5550600")
    centre.run_until(lambda: "reserved" in (agents["1002"].state, agents["1003"].state)
                     and caller.state == "connected", what="the next agent rings")
    assert agents["1002"].state == "reserved"
    caller.hangup()                                        # 1002 rang last; it goes:
    centre.run_until(lambda: agents["1002"].state == "ready", what="1002 free again")
    centre.call(admin(centre).call("ForceAgentState", agent="1002", state="loggedOff"))
    site.edit(site.text[site.text.index('[[agents]]\nid = "1002"'):
                        site.text.index('[[agents]]\nid = "1003"')], "")
    reload(centre)
    call(centre, "dtiB1T3", "5550600")                     # after where 1002 was: 1003
    centre.run_until(lambda: "reserved" in (agents["1001"].state, agents["1003"].state),
                     what="the next agent rings")
    assert agents["1003"].state == "reserved"


def test_new_skills_serve_a_caller_waiting_now(centre, site):
    _, events = agent_ready(centre, "1005", "msiB1C5")
    call(centre, "dtiB1T1", "5550500")                     # spanish: nobody speaks it
    centre.run(2_000)
    assert call_on(centre, "dtiB1T1").state == "queued"
    site.edit("skills = {english = 9}", "skills = {english = 9, spanish = 6}")
    reload(centre)
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at 1005")
    assert call_on(centre, "dtiB1T1").agent.id == "1005"


def test_waiting_callers_keep_their_places_under_new_skill_rules(centre, site, tracebacks):
    """spanish asks level 5, then 3 after a minute; reloaded to ask 3 from
    the start, 1001 (spanish 3) takes the first of its two callers at once,
    and the old widening timers are gone."""
    call(centre, "dtiB1T1", "5550500")
    centre.run(500)
    call(centre, "dtiB1T2", "5550500")
    centre.run(2_000)
    first, second = call_on(centre, "dtiB1T1").id, call_on(centre, "dtiB1T2").id
    _, events = agent_ready(centre, "1001", "msiB1C1")
    site.edit("skills = {spanish = 5}", "skills = {spanish = 3}")
    site.edit("widen = [{after_s = 60, skills = {spanish = 3}}]", "")
    assert reload(centre) == [{"kind": "queue", "name": "spanish", "change": "changed",
                               "keys": ["skills", "widen"]}]
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at 1001")
    assert dict(events)["Delivered"]["call"] == first
    waiting = centre.call(admin(centre).call("Snapshot", object="queue", id="spanish"))
    assert [w["call"] for w in waiting["snapshot"]["waiting"]] == [first, second]
    centre.run(61_000)
    assert tracebacks == []


def test_new_routes_and_flows_for_new_calls(centre, site):
    site.edit('dnis = "5550199"           # the support hotline: straight to the queue\n'
              'queue = "support"', 'dnis = "5550199"\nflow = "after_hours"')
    site.edit('dnis = "5550300"           # the after-hours line: emergency line or a message\n'
              'flow = "after_hours"', 'dnis = "5550300"\nqueue = "sales"')
    site.edit('default = {flow = "main_menu"}', 'default = {queue = "sales"}')
    changes = reload(centre)
    assert {"kind": "routing", "name": "default", "change": "changed"} in changes
    assert "after_hours" in centre.server.center.ivr.flow_names()
    call(centre, "dtiB1T1", "5550300")                     # was a flow: now sales
    centre.run_until(lambda: call_on(centre, "dtiB1T1").state == "queued", what="queued")
    assert call_on(centre, "dtiB1T1").queue == "sales"


# -- refusals: nothing applied --------------------------------------------------------------
def unchanged(centre, running):
    """Everything as it was: the configuration, the ACD, the logins."""
    assert centre.center.config is running and centre.center.layer.config is running
    assert list(centre.center.acd.queues) == [q.name for q in running.queues]
    assert list(centre.center.acd.agents) == [a.id for a in running.agents]
    assert set(centre.hub.users) == {u.name for u in running.users} | {
        a.id for a in running.agents}


def test_a_queue_with_callers_is_not_removed(centre, site):
    running = centre.center.config
    caller = call(centre, "dtiB1T1", "5550500", ani="2125550042")
    centre.run(2_000)
    waiting = call_on(centre, "dtiB1T1").id
    site.edit(SPANISH_ROUTE, "")
    site.edit(site.text[site.text.index('[[queues]]\nname = "spanish"'):
                        site.text.index("[acd]")], "")
    site.add(new_queue("billing"))
    error = refused(centre)
    assert error["code"] == "invalid_state" and error["objects"] == [
        {"object": "queue", "id": "spanish"}]
    assert error["message"] == (f"queue spanish has callers waiting ({waiting}): it can be "
                                "removed once nobody waits in it")
    unchanged(centre, running)
    assert call_on(centre, "dtiB1T1").state == "queued"
    caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the caller gone")
    assert [c["name"] for c in reload(centre)] == ["billing", "spanish", "dnis 5550500"]
    assert "spanish" not in centre.center.acd.queues


BILLING_ROUTE = '\n[[routes]]\ndnis = "5550400"\nqueue = "billing"\n'


def add_billing(centre, site, **keys):
    """A queue billing (dnis 5550400) that 1005 serves too; the text
    added to the file, to take out again."""
    queue = new_queue("billing", **keys)
    site.add(queue + BILLING_ROUTE)
    site.edit('queues = ["support"]\nskills = {english = 9}',
              'queues = ["support", "billing"]\nskills = {english = 9}')
    reload(centre)
    return queue


def remove_billing(site, queue):
    site.edit('queues = ["support", "billing"]', 'queues = ["support"]')
    site.edit(BILLING_ROUTE, "")
    site.edit(queue, "")


def callback_between_attempts(centre, site):
    """A billing caller who asked to be called back, whose first attempt
    was busy: the next is RETRY_S away, the call in `routing`."""
    queue = add_billing(centre, site, callback_key="5", announce_every_s=20)
    caller = call(centre, "dtiB1T1", "5550400")
    centre.run_until(lambda: caller.state == "connected" and centre.center.acd.entries,
                     what="waiting in billing")
    caller.send_digits("5")
    centre.run_until(lambda: caller.state == "idle", within_ms=20_000, what="released")
    [waiting] = centre.center.calls.values()
    centre.sim.endpoint("dxxxB1C1").set_outbound("busy")
    agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the callback rings at 1005")
    phone.offhook()
    centre.run_until(lambda: waiting.state == "routing", within_ms=60_000, what="busy")
    phone.onhook()
    return waiting, queue


def test_a_queue_a_callback_is_to_try_again_is_not_removed(centre, site, tracebacks):
    from cti.server.callback.callback import RETRY_S

    waiting, queue = callback_between_attempts(centre, site)
    running = centre.center.config
    remove_billing(site, queue)
    error = refused(centre)
    assert (error["code"], error["objects"]) == ("invalid_state",
                                                 [{"object": "queue", "id": "billing"}])
    assert error["message"] == (f"queue billing has calls on their way to it ({waiting.id}: a "
                                "callback to try again): it can be removed once nobody waits "
                                "in it or is on the way to it")
    unchanged(centre, running)
    centre.run_until(lambda: waiting.state in ("queued", "ringing"),
                     within_ms=int(RETRY_S * 1000) + 1_000, what="the next attempt")
    assert waiting.queue == "billing" and tracebacks == []


def test_a_callback_whose_queue_is_gone_ends_with_its_record(centre, site, tracebacks):
    """Were its queue gone when the next attempt comes (nothing removes it
    while it waits to try again), the callback ends: nobody is on the line
    to send elsewhere."""
    waiting, _ = callback_between_attempts(centre, site)
    centre.center.layer.to_queue(waiting, "closed", priority=waiting.priority)
    assert waiting.id not in centre.center.calls
    [cdr] = centre.records.of(CallRecord, call_id=waiting.id)
    assert (cdr.disposition, cdr.cause) == (
        "callback_failed", "queue closed is no longer configured: the callback to 2125550001 "
        "is not tried again")
    assert tracebacks == []


def test_a_queue_a_trunk_is_being_answered_for_is_not_removed(centre, site):
    """An analog line answers by going off-hook: meanwhile the call is on
    its way to its queue, not in it."""
    route = '\n[[routes]]\ntrunk_group = "local"\nqueue = "billing"\n'
    site.add(new_queue("billing") + route)
    reload(centre)
    centre.sim.endpoint("dxxxB1C2").call(ani="2125550002")
    centre.run_until(lambda: any(c.bound_for for c in centre.center.calls.values()),
                     what="the line being answered")
    [coming] = centre.center.calls.values()
    assert (coming.bound_for, coming.trunk.state) == ("billing", "answering")
    site.edit(route, "")
    site.edit(new_queue("billing"), "")
    assert refused(centre)["message"] == (
        f"queue billing has calls on their way to it ({coming.id}: its trunk being answered "
        "for it): it can be removed once nobody waits in it or is on the way to it")
    centre.run_until(lambda: coming.state == "queued", what="queued")
    assert coming.queue == "billing"


def test_a_caller_back_from_a_failed_transfer_to_a_removed_queue_goes_to_flow_down(
        centre, site, tracebacks):
    queue = add_billing(centre, site)
    agent, _ = agent_ready(centre, "1005", "msiB1C5")
    call(centre, "dtiB1T1", "5550400")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    caller = call_on(centre, "dtiB1T1")
    centre.run_until(lambda: caller.state == "talking", what="talking")
    remove_billing(site, queue)
    reload(centre)
    centre.sim.endpoint("dxxxB1C1").set_outbound("busy")
    centre.call(agent.call("SingleStepTransferCall", call=caller.id, number="5550000"))
    centre.run_until(lambda: caller.state == "queued", what="back in a queue")
    assert caller.queue == "sales"
    assert caller.call.data["treatment"] == "queue billing is no longer configured"
    assert tracebacks == []


def test_a_logged_in_agent_is_not_removed(centre, site):
    agent_ready(centre, "1006", "msiB1C6")
    running = centre.center.config
    site.edit(site.text[site.text.index('[[agents]]\nid = "1006"'):
                        site.text.index("[[users]]")], "")
    site.add(new_queue("billing"))
    error = refused(centre)
    assert (error["code"], error["objects"]) == ("invalid_state",
                                                 [{"object": "agent", "id": "1006"}])
    assert "agent 1006 is logged in at msiB1C6" in error["message"]
    unchanged(centre, running)
    assert centre.center.acd.agents["1006"].state == "ready"


def test_a_key_that_needs_a_restart_refuses_the_whole_reload(centre, site):
    running = centre.center.config
    site.edit('listen = ["tcp:7500:interface=127.0.0.1"]', 'listen = ["tcp:7501"]')
    site.edit("max_no_answer = 3", "max_no_answer = 2")
    site.add(new_queue("billing"))
    error = refused(centre)
    assert (error["code"], error["keys"]) == ("needs_restart", ["server.listen",
                                                                "acd.max_no_answer"])
    assert error["message"] == (f"{site.path}: server.listen, acd.max_no_answer: these change "
                                "only with a restart of the server; nothing was reloaded")
    unchanged(centre, running)


def test_a_wrong_file_is_refused_with_the_error_the_start_gives(centre, site):
    running = centre.center.config
    site.add(new_queue("billing", strategy="fewest"))
    with pytest.raises(ConfigError) as start:
        load_server_config(site.path)
    error = refused(centre)
    assert error["code"] == "invalid_config" and error["message"] == str(start.value)
    assert (error["file"], error["key"]) == (str(site.path), "queues[3].strategy")
    unchanged(centre, running)
    site.path.write_text("not = [toml")
    assert refused(centre)["key"] is None
    unchanged(centre, running)


def test_only_an_administrator_reloads(centre):
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    with pytest.raises(RemoteError) as e:
        centre.call(sup.call("Reload"))
    assert e.value.code == "forbidden"


def test_every_reload_is_audited(centre, site):
    reload(centre)
    site.add(new_queue("billing"))
    reload(centre)
    site.add(new_queue("billing"))
    refused(centre)
    rows = [(a.user, a.action, a.detail) for a in centre.records.of(AuditEntry, action="Reload")]
    assert rows[:2] == [
        ("admin", "Reload", {"how": "Reload", "changes": []}),
        ("admin", "Reload", {"how": "Reload", "changes": [
            {"kind": "queue", "name": "billing", "change": "added"}]})]
    assert rows[2][2]["refused"] == "invalid_config"
    assert "queue 'billing' is already declared" in rows[2][2]["message"]


def test_a_failure_inside_the_server_is_logged_audited_and_changes_nothing(centre, site,
                                                                         tracebacks,
                                                                         monkeypatch):
    running = centre.center.config
    site.add(new_queue("billing"))

    def broken(queues, agents, on_the_way=None):
        raise RuntimeError("a bug")
    monkeypatch.setattr(centre.center.acd.configuration, "plan", broken)
    error = refused(centre)
    assert error["code"] == "internal_error"
    assert error["message"] == (f"{site.path}: the reload failed inside the server (incident "
                                f"{error['incident']}, logged there)")
    unchanged(centre, running)
    [failure] = tracebacks
    assert failure["incident"] == error["incident"]
    [row] = centre.records.of(AuditEntry, action="Reload")
    assert row.detail == {"how": "Reload", "refused": "internal_error",
                          "message": "RuntimeError: a bug", "incident": error["incident"]}


# -- calls in progress ----------------------------------------------------------------------
def test_a_caller_the_reload_sends_on_goes_to_a_queue_it_adds(centre, site, tracebacks):
    """1004, not ready, is the only one with spanish 5; the reload takes
    its spanish away and sends spanish's callers on to a new queue: the
    spanish caller, nobody left to serve it (leave_empty), goes there, once
    every table is the new one."""
    agent, _ = agent_ready(centre, "1004", "msiB1C4")
    centre.call(agent.call("SetAgentState", state="notReady"))
    call(centre, "dtiB1T1", "5550500")
    centre.run(2_000)
    assert call_on(centre, "dtiB1T1").queue == "spanish"
    site.edit('overflow = {queue = "sales"}   #', 'overflow = {queue = "latam"}   #')
    site.edit("skills = {english = 5, spanish = 9}", "skills = {english = 5}")
    site.add(new_queue("latam"))
    assert [c["name"] for c in reload(centre)] == ["spanish", "latam", "1004"]
    caller = call_on(centre, "dtiB1T1")
    assert (caller.state, caller.queue, caller.entry.queue_name) == ("queued", "latam",
                                                                     "latam")
    assert centre.center.acd.entry_of(caller.call) is caller.entry
    assert centre.records.of(AuditEntry, action="Reload")[-1].detail["changes"]
    assert tracebacks == []


def test_a_call_in_progress_keeps_what_it_had(centre, site):
    """A caller talks with 1005 from billing; billing is reloaded away (and
    1005's part in it, and its route): the call goes on, holds with no
    queue music to find, and its wrap-up and records are billing's."""
    site.add(new_queue("billing", wrap_up_s=3) + '\n[[routes]]\ndnis = "5550400"\nqueue = '
             '"billing"\n')
    site.edit('queues = ["support"]\nskills = {english = 9}',
              'queues = ["support", "billing"]\nskills = {english = 9}')
    reload(centre)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = call(centre, "dtiB1T1", "5550400")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: call_on(centre, "dtiB1T1").state == "talking", what="talking")
    call_id = call_on(centre, "dtiB1T1").id
    site.edit('queues = ["support", "billing"]', 'queues = ["support"]')
    site.edit('\n[[routes]]\ndnis = "5550400"\nqueue = "billing"\n', "")
    site.edit(new_queue("billing", wrap_up_s=3), "")
    assert [str(Change(**c)) for c in reload(centre)] == [
        "queue billing removed", "agent 1005 changed (queues)", "route dnis 5550400 removed"]
    centre.call(agent.call("HoldCall", call=call_id))
    centre.call(agent.call("RetrieveCall", call=call_id))
    centre.run(1_000)
    assert call_on(centre, "dtiB1T1").state == "talking"
    caller.hangup()
    centre.run_until(lambda: "AgentWorkingAfterCall" in names(events), what="wrap-up")
    centre.run(3_500)                                      # billing's wrap-up: 3 s
    assert centre.center.acd.agents["1005"].state == "ready"
    [cdr] = centre.records.of(CallRecord, call_id=call_id)
    assert (cdr.queue, cdr.agent, cdr.disposition) == ("billing", "1005", "answered")


def test_a_call_transferred_after_its_queue_was_removed_keeps_its_wrap_up(centre, site):
    """1005 talks with a billing caller; billing is reloaded away; 1005
    transfers the caller to 1004, who gets billing's wrap-up (3 s) at its
    end, as 1005 would have."""
    queue = add_billing(centre, site, wrap_up_s=3)
    first, _ = agent_ready(centre, "1005", "msiB1C5")
    agent_ready(centre, "1004", "msiB1C4")
    far_end = call(centre, "dtiB1T1", "5550400")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="1005 rings")
    phone.offhook()
    caller = call_on(centre, "dtiB1T1")
    centre.run_until(lambda: caller.state == "talking", what="talking")
    centre.run_until(lambda: far_end.state == "connected", what="the caller connected")
    remove_billing(site, queue)
    reload(centre)
    centre.call(first.call("SingleStepTransferCall", call=caller.id, agent="1004"))
    other = centre.sim.endpoint("msiB1C4")
    centre.run_until(lambda: other.state == "ringing", what="1004 rings")
    other.offhook()
    dan = centre.center.acd.agents["1004"]
    centre.run_until(lambda: dan.state == "busy" and caller.agent is dan, what="1004 has it")
    far_end.hangup()
    centre.run_until(lambda: dan.state == "workingAfterCall", what="1004's wrap-up")
    assert (dan.wrap_ends - centre.clock.seconds()) == pytest.approx(3, abs=0.1)
    centre.run(3_500)
    assert dan.state == "ready"


# -- a real `cti server`: SIGHUP and `cti reload` --------------------------------------------
@pytest.fixture(scope="module")
def live(tmp_path_factory):
    """`cti server` on a copy of the sample, listening on a free port; its
    standard output (the log) in a file."""
    site = Site(tmp_path_factory.mktemp("live"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site.edit('listen = ["tcp:7500:interface=127.0.0.1"]',
              f'listen = ["tcp:{port}:interface=127.0.0.1"]')
    site.edit('http = "tcp:7580:interface=127.0.0.1"', "")
    password = site.path.parent / "password"
    password.write_text(f"{PASSWORD}\n")
    out = site.path.parent / "out.log"
    with open(out, "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c", str(site.path),
                                   "--drain", "0"], cwd=ROOT, stdout=log,
                                  stderr=subprocess.STDOUT)
    try:
        logged(out, ": starting", within_s=60)
        os.kill(server.pid, signal.SIGHUP)       # during the start: no harm (ignored, or a reload)
        logged(out, "listening on", within_s=60)
        assert server.poll() is None, out.read_text()
        yield site, server, port, password, out
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def logged(out, text, within_s=20, process=None):
    deadline = time.monotonic() + within_s
    while text not in out.read_text():
        assert time.monotonic() < deadline, f"not logged: {text!r}\n{out.read_text()}"
        assert process is None or process.poll() is None, f"ended:\n{out.read_text()}"
        time.sleep(0.1)


def queue_names(port):
    with BlockingClient("127.0.0.1", port) as client:
        client.login("admin", PASSWORD, "admin")
        return [s["queue"] for s in client.snapshot_all("queue")]


def test_sighup_reloads_the_running_server_and_logs_what_came_of_it(live):
    site, server, port, _, out = live
    site.add(new_queue("claims"))
    os.kill(server.pid, signal.SIGHUP)
    logged(out, "reload (SIGHUP by system): queue claims added")
    assert "claims" in queue_names(port)
    site.edit("heartbeat_s = 10", "heartbeat_s = 12")
    site.add(new_queue("returns"))
    os.kill(server.pid, signal.SIGHUP)
    logged(out, "reload (SIGHUP by system) refused: "
                f"{site.path}: server.heartbeat_s: this changes only with a restart")
    assert "returns" not in queue_names(port)
    site.edit("heartbeat_s = 12", "heartbeat_s = 10")
    site.edit(new_queue("returns"), "")
    assert server.poll() is None


def test_cti_reload_prints_the_changes_or_the_refusal(live, capsys):
    site, _, port, password, _ = live
    site.add(new_queue("refunds", strategy="linear"))
    assert reload_cli.main(["-c", str(site.path), "--password-file", str(password)]) == 0
    assert capsys.readouterr().out == f"{site.path}: 1 change\n  queue refunds added\n"
    assert "refunds" in queue_names(port)
    assert reload_cli.main(["--server", f"127.0.0.1:{port}", "--password-file",
                            str(password)]) == 0
    assert capsys.readouterr().out == f"{site.path}: nothing changed\n"
    site.edit('driver = "sim"', 'driver = "r4"')
    assert reload_cli.main(["-c", str(site.path), "--password-file", str(password)]) == 2
    err = capsys.readouterr().err
    assert err == (f"cti reload: needs_restart: {site.path}: driver: this changes only with a "
                   "restart of the server; nothing was reloaded\n")
    site.edit('driver = "r4"', 'driver = "sim"')


def test_twistd_cti_reloads_on_sighup_once_started_and_ignores_it_before(tmp_path):
    """twistd builds the service, then logs, then starts it: a SIGHUP
    after its first line of log, the start still going on, does no harm;
    one after it listens reloads."""
    site = Site(tmp_path)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    site.edit('listen = ["tcp:7500:interface=127.0.0.1"]',
              f'listen = ["tcp:{port}:interface=127.0.0.1"]')
    site.edit('http = "tcp:7580:interface=127.0.0.1"', "")
    out = tmp_path / "out.log"
    with open(out, "w") as log:
        server = subprocess.Popen(
            [sys.executable, "-c", "from twisted.scripts.twistd import run; run()", "-n",
             "--pidfile=", "cti", "-c", str(site.path), "--drain", "0"], cwd=ROOT, stdout=log,
            stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not out.read_text():
            assert server.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
        os.kill(server.pid, signal.SIGHUP)
        logged(out, "SessionFactory starting on", within_s=60, process=server)
        site.add(new_queue("claims"))
        os.kill(server.pid, signal.SIGHUP)
        logged(out, "reload (SIGHUP by system): queue claims added", process=server)
        assert "claims" in queue_names(port)
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()


def test_twistd_cti_ignores_sighup_from_the_making_of_its_service(site):
    from cti.server import twistd

    options = twistd.Options()
    options.parseOptions(["-c", str(site.path)])
    before = signal.signal(signal.SIGHUP, signal.SIG_DFL)
    try:
        twistd.makeService(options)
        assert signal.getsignal(signal.SIGHUP) == signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, before)


def test_cti_reload_without_a_server_is_one_line_and_status_2(tmp_path, capsys):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    (tmp_path / "pw").write_text("1234\n")
    assert reload_cli.main(["--server", f"127.0.0.1:{port}", "--password-file",
                            str(tmp_path / "pw")]) == 2
    assert capsys.readouterr().err.startswith("cti reload: ")
