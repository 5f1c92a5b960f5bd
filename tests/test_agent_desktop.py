# SPDX-License-Identifier: GPL-2.0-or-later
"""The agent desktop and the supervisor console (cti.agent), driven by
Textual's pilot against a fake client.

`FakeClient` has the real client's methods (it is an AgentServices, so
every method checks its arguments as the real one does), but its `call`
records the request and answers from a table the test fills in; `emit`
plays an event as the server would send it.  The clock is a task.Clock
set at NOW: time passes only when a test advances it.  One test runs tests/desktop_live.py,
the desktops against the real server over TCP, in a process of its own."""
import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from rich.cells import cell_len
from textual.widgets import Input
from twisted.internet import defer
from twisted.internet.task import Clock

from cti.agent.desktop import AgentDesktop
from cti.agent.dialogs import Ask, Pick
from cti.agent.model import Desk, Floor, QueueBoard, duration
from cti.agent.run import Options, options
from cti.agent.supervisor import SupervisorConsole
from cti.protocol.agent import SERVICES, AgentServices
from cti.protocol.client import ClientProtocol, ConnectionClosed, RemoteError

NOW = 1_800_000_000.0
AGENT_SERVICES = ["AnswerCall", "ClearConnection", "ConferenceCall", "ConsultationCall",
                  "GetServices", "Heartbeat", "HoldCall", "Login", "Logout", "MakeCall",
                  "MonitorStart", "MonitorStop", "ReconnectCall", "RetrieveCall", "SendDTMF",
                  "SetAgentState", "SetCallData", "SetPartyRole", "SingleStepTransferCall",
                  "Snapshot", "TransferCall"]
SUPERVISOR_SERVICES = AGENT_SERVICES + [r.service for r in SERVICES if r.role == "supervisor"]


def agent(state="notReady", reason="login", since=NOW - 65, **more):
    snapshot = {"agent": "1005", "name": "Erin Evans", "state": state, "reason": reason,
                "station": None if state == "loggedOff" else "msiB1C5", "since": since,
                "queues": ["support"],
                "skills": {"english": 5}, "call": None, "pendingState": None,
                "pendingReason": None, "wrapUpEndsAt": None,
                "statistics": {"calls": 0, "talkS": 0.0, "loginAt": NOW - 65,
                               "stateS": {"notReady": 65.0}}}
    snapshot.update(more)
    return snapshot


def queue(name="support", waiting=(), **more):
    snapshot = {"queue": name, "strategy": "longest_idle", "waiting": list(waiting),
                "longestWaitS": max((w["waitS"] for w in waiting), default=0.0),
                "agents": {"ready": 1}, "offered": 4, "answered": 3, "abandoned": 1,
                "exits": {}, "serviceLevel": 0.75, "asaS": 12.5, "ahtS": 184.0, "handled": 3}
    snapshot.update(more)
    return snapshot


class FakeClient(AgentServices):
    """A test double with the AgentClient interface and a control plane:
    `answers` (service -> result, RemoteError, or function of the params),
    `requests` (what was sent), `emit` (an event from the server),
    `closed.callback(None)` (the connection is lost: as the real client,
    it sends nothing after)."""

    def __init__(self, answers):
        self.answers = answers
        self.requests = []
        self.handlers = []
        self.closed = defer.Deferred()
        self.close_reason = None

    def call(self, service, **params):
        if self.closed.called:
            return defer.fail(ConnectionClosed("not connected: the connection is closed"))
        self.requests.append((service, params))
        answer = self.answers.get(service, {})
        if callable(answer):
            answer = answer(params)
        if isinstance(answer, Exception):
            return defer.fail(answer)
        return defer.succeed(answer)

    snapshot_all = ClientProtocol.snapshot_all      # pages through self.call

    def on(self, name, handler):
        self.handlers.append((name, handler))

    def emit(self, event, **body):
        for name, handler in self.handlers:
            if name in ("*", event):
                handler({"event": event, **body})

    def sent(self, *services):
        """The requests of these services, in order; and forget all."""
        out = [(s, p) for s, p in self.requests if not services or s in services]
        self.requests = []
        return out


def agent_answers(state="notReady", queues=None):
    queues = queues or {"support": queue()}

    def monitor(params):
        if params["object"] == "agent":
            return {"monitor": 1, "snapshot": agent(state)}
        if params["object"] == "queue":
            return {"monitor": 3, "snapshot": queues[params["id"]]}
        return {"monitor": 2, "snapshot": {"device": params["id"]}}

    def set_state(params):
        if params["state"] == "loggedOn":
            return {**agent("notReady", "login"), "result": "done"}
        return {**agent(params["state"], params.get("reason", "")), "result": "done"}

    return {"MonitorStart": monitor, "SetAgentState": set_state}


def run(app, scenario):
    async def go():
        async with app.run_test(size=(150, 45)) as pilot:
            await pilot.pause()
            await scenario(pilot)
    asyncio.run(go())


def clock_at(now=NOW):
    clock = Clock()
    clock.advance(now)
    return clock


def desktop(fake, station=None):
    return AgentDesktop(fake, {"role": "agent", "services": AGENT_SERVICES}, clock_at(),
                        "1005", station)


def text(app, selector):
    return str(app.query_one(selector).render())


DELIVERED = {"call": "c1", "device": "msiB1C5", "state": "alerting",
             "callingDevice": "2125551234", "calledDevice": "5550100",
             "data": {"topic": "internet", "account": "00417"}, "agent": "1005",
             "queue": "support", "waitS": 42.0, "monitor": 2}


async def ring(app, fake, pilot):
    fake.emit("AgentReserved", **agent("reserved", "", call="c1"), previous="ready")
    fake.emit("Delivered", **DELIVERED)
    await pilot.pause()


async def talk(app, fake, pilot):
    await ring(app, fake, pilot)
    fake.emit("Established", **{**DELIVERED, "state": "connected"})
    await pilot.pause()
    fake.sent()


# -- the agent desktop -----------------------------------------------------------
def test_start_up_monitors_the_agent_station_and_queues():
    fake = FakeClient(agent_answers(state="loggedOff"))

    async def scenario(pilot):
        assert fake.sent() == [
            ("MonitorStart", {"object": "agent", "id": "1005"}),
            ("MonitorStart", {"object": "queue", "id": "support"}),
            ("SetAgentState", {"state": "loggedOn"}),
            ("MonitorStart", {"object": "device", "id": "msiB1C5"})]
        assert "not ready (login)" in text(pilot.app, "StateBar")
        assert "Erin Evans" in text(pilot.app, "StateBar")

    run(desktop(fake), scenario)


def test_the_queue_view_has_the_skill_based_queues_the_agent_serves():
    answers = agent_answers(queues={"support": queue(), "spanish": queue(
        "spanish", waiting=[{"call": "c4", "ani": "3055550000", "waitS": 9.0,
                             "position": 1, "priority": 0}])})
    monitor = answers["MonitorStart"]

    def monitor_serving(params):
        answer = monitor(params)
        if params["object"] == "agent":
            answer["snapshot"]["serves"] = ["support", "spanish"]
        return answer
    fake = FakeClient({**answers, "MonitorStart": monitor_serving})

    async def scenario(pilot):
        assert ("MonitorStart", {"object": "queue", "id": "spanish"}) in fake.sent()
        assert "spanish: 1 waiting" in text(pilot.app, "#queue-summary")

    run(desktop(fake), scenario)


def test_going_ready_and_not_ready():
    fake = FakeClient(agent_answers())

    async def scenario(pilot):
        fake.sent()
        await pilot.press("r")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "ready"})]
        assert "· ready ·" in text(pilot.app, "StateBar")
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(pilot.app.screen, Ask)
        await pilot.press(*"lunch", "enter")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "notReady", "reason": "lunch"})]
        assert "not ready (lunch)" in text(pilot.app, "StateBar")

    run(desktop(fake), scenario)


def test_an_incoming_call_pops_the_screen_with_ani_dnis_and_data():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        assert not app.check_action("answer", ())
        await ring(app, fake, pilot)
        info = text(app, "#call-info")
        assert "c1" in info and "ringing" in info
        assert "2125551234" in info and "5550100" in info
        assert "support" in info and "waited 0:42" in info
        fields = {f.name: f.value for f in app.query("RecordForm Input")}
        assert fields == {"topic": "internet", "account": "00417"}
        assert "ringing" in text(app, "StateBar")
        assert app.check_action("answer", ()) and not app.check_action("hold", ())

    run(desktop(fake), scenario)


def test_answer_and_reject_send_the_call_id():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        await ring(pilot.app, fake, pilot)
        fake.sent()
        await pilot.press("a")
        await pilot.pause()
        assert fake.sent() == [("AnswerCall", {"call": "c1"})]
        await pilot.press("x")
        await pilot.pause()
        assert fake.sent() == [("ClearConnection", {"call": "c1"})]
        assert "Rejected" in text(pilot.app, "#status")

    run(desktop(fake), scenario)


def test_hold_and_retrieve_follow_the_call_state():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        assert "connected" in text(app, "#call-info")
        await pilot.press("h")
        await pilot.pause()
        assert fake.sent() == [("HoldCall", {"call": "c1"})]
        fake.emit("Held", **{**DELIVERED, "state": "hold"})
        await pilot.pause()
        assert "on hold" in text(app, "#call-info")
        await pilot.press("h")
        await pilot.pause()
        assert fake.sent() == [("RetrieveCall", {"call": "c1"})]

    run(desktop(fake), scenario)


@pytest.mark.parametrize("down,kind", [(0, "agent"), (1, "queue"), (2, "flow"), (3, "number")])
def test_blind_transfer_to_an_agent_a_queue_a_flow_or_a_number(down, kind):
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        await talk(pilot.app, fake, pilot)
        await pilot.press("t")
        await pilot.pause()
        assert isinstance(pilot.app.screen, Pick)
        await pilot.press(*["down"] * down, "enter")
        await pilot.pause()
        await pilot.press(*"dest", "enter")
        await pilot.pause()
        assert fake.sent() == [("SingleStepTransferCall", {"call": "c1", kind: "dest"})]

    run(desktop(fake), scenario)


@pytest.mark.parametrize("key,service", [("c", "TransferCall"), ("f", "ConferenceCall"),
                                         ("k", "ReconnectCall")])
def test_consultation_then_complete_conference_or_reconnect(key, service):
    fake = FakeClient({**agent_answers(state="ready"),
                       "ConsultationCall": {"consultCall": "c2"}})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        assert not app.check_action("complete", ())
        await pilot.press("u")
        await pilot.pause()
        await pilot.press("enter")                   # an agent
        await pilot.pause()
        await pilot.press(*"1002", "enter")
        await pilot.pause()
        assert fake.sent() == [("ConsultationCall", {"call": "c1", "agent": "1002"})]
        assert "Consulting on c2" in text(app, "#call-info")
        assert app.check_action("complete", ()) and not app.check_action("consult", ())
        await pilot.press(key)
        await pilot.pause()
        assert fake.sent(service) == [(service, {"call": "c1", "consultCall": "c2"})]
        assert app.desk.call.consult is None

    run(desktop(fake), scenario)


def test_dtmf():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        await talk(pilot.app, fake, pilot)
        await pilot.press("d", *"12#", "enter")
        await pilot.pause()
        assert fake.sent() == [("SendDTMF", {"call": "c1", "digits": "12#"})]

    run(desktop(fake), scenario)


def test_editing_the_customer_record_sends_set_call_data():
    fake = FakeClient({**agent_answers(state="ready"),
                       "SetCallData": lambda p: {"data": {"topic": "internet",
                                                          "account": "00999", **p["data"]}}})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        await pilot.press("e")
        await pilot.pause()
        assert app.focused.name == "topic"
        await pilot.press(*"billing")          # the field's text is selected: replaced
        # Meanwhile the IVR's data changes elsewhere: the edit is kept.
        fake.emit("AttachedDataChanged", call="c1",
                  data={"topic": "internet", "account": "00999"})
        await pilot.pause()
        fields = {f.name: f.value for f in app.query("RecordForm Input")}
        assert fields == {"topic": "billing", "account": "00999"}
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert fake.sent() == [("SetCallData", {"call": "c1", "data": {"topic": "billing"}})]
        assert "Record saved" in text(app, "#status")
        await pilot.press("escape", "ctrl+s")
        await pilot.pause()
        assert fake.sent() == [] and "Nothing to save" in text(app, "#status")

    run(desktop(fake), scenario)


def test_a_record_the_customer_database_did_not_take_is_said():
    fake = FakeClient({**agent_answers(state="ready"),
                       "SetCallData": lambda p: {
                           "data": {**DELIVERED["data"], **p["data"]},
                           "record": {"saved": False,
                                      "message": "crm: ConnectionRefusedError: crm:5432"}}})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        await pilot.press("e", *"billing", "ctrl+s")
        await pilot.pause()
        status = app.query_one("#status")
        assert str(status.render()) == ("Saved with the call, not in the customer database: "
                                        "crm: ConnectionRefusedError: crm:5432")
        assert status.has_class("error")
        assert app.desk.call.data["topic"] == "billing"       # the call has it

    run(desktop(fake), scenario)


def test_a_field_is_added_and_the_record_edited_in_the_wrap_up():
    fake = FakeClient({**agent_answers(state="ready"),
                       "SetCallData": lambda p: {"data": {**DELIVERED["data"], **p["data"]},
                                                 "afterCall": True}})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        # The caller hangs up; the agent is in wrap-up.
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null",
                                          "reason": "far end cleared"})
        fake.emit("AgentWorkingAfterCall", **agent("workingAfterCall", "", call=None),
                  previous="busy")
        await pilot.pause()
        assert app.check_action("save", ()) and app.check_action("add_field", ())
        await pilot.press("ctrl+n")
        await pilot.pause()
        await pilot.press(*"outcome", "enter")
        await pilot.pause()
        assert app.focused.name == "outcome"
        await pilot.press(*"42 refunded", "ctrl+s")
        await pilot.pause()
        assert fake.sent() == [("SetCallData", {"call": "c1",
                                                "data": {"outcome": "42 refunded"}})]
        assert "Record saved" in text(app, "#status")
        fields = {f.name: f.value for f in app.query("RecordForm Input")}
        assert fields["outcome"] == "42 refunded"
        await pilot.press("ctrl+n")                     # a name the record has: refused
        await pilot.pause()
        await pilot.press(*"outcome", "enter")
        await pilot.pause()
        assert "has a field 'outcome' already" in text(app, "#status")
        # The wrap-up over, the record is closed.
        fake.emit("AgentReady", **agent("ready", ""), previous="workingAfterCall")
        await pilot.pause()
        assert not app.check_action("save", ()) and not app.check_action("add_field", ())

    run(desktop(fake), scenario)


def test_statistics_follow_the_agent_events():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        assert "Calls 0" in text(app, "StatsView")
        fake.emit("AgentBusy", **agent("busy", "", call="c1", since=NOW - 30, statistics={
            "calls": 3, "callsOut": 2, "callsDirect": 1, "talkS": 725.0, "loginAt": NOW - 3600,
            "stateS": {"ready": 1200.0, "busy": 690.0, "notReady": 65.0}}), previous="reserved")
        await pilot.pause()
        stats = text(app, "StatsView")
        assert "Calls 3" in stats and "talk time 12:05" in stats
        assert "made 2    to me by name 1" in stats
        assert "on a call    11:30" in stats and "ready        20:00" in stats
        assert "on a call" in text(app, "StateBar") and "0:30" in text(app, "StateBar")

    run(desktop(fake), scenario)


def test_the_queue_view_follows_snapshots_and_events():
    waiting = [{"call": "c7", "ani": "3125550000", "waitS": 75.0, "position": 1,
                "priority": 0, "agents": []}]
    fake = FakeClient(agent_answers(queues={"support": queue(waiting=waiting)}))

    async def scenario(pilot):
        app = pilot.app
        table = app.query_one("#waiting")
        assert "support: 1 waiting, longest 1:15" in text(app, "#queue-summary")
        assert table.get_row_at(0) == ["support", "1", "3125550000", "1:15"]
        fake.emit("Queued", call="c8", device="queue:support", state="queued",
                  callingDevice="2125559999", calledDevice="5550100", data={})
        await pilot.pause()
        assert table.row_count == 2
        assert table.get_row_at(1) == ["support", "2", "2125559999", "0:00"]
        fake.emit("ConnectionCleared", call="c7", device="queue:support", state="null",
                  reason="answered", data={})
        await pilot.pause()
        assert [table.get_row_at(0)] == [["support", "1", "2125559999", "0:00"]]
        fake.emit("QueueChanged", **queue(waiting=[]))
        await pilot.pause()
        assert table.row_count == 0 and "support: 0 waiting" in text(app, "#queue-summary")

    run(desktop(fake), scenario)


def test_a_refused_request_shows_the_servers_error_and_changes_nothing():
    refusal = RemoteError({"code": "invalid_state", "service": "HoldCall",
                           "message": "call c1 is not connected at msiB1C5"})
    fake = FakeClient({**agent_answers(state="ready"), "HoldCall": refusal})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        await pilot.press("h")
        await pilot.pause()
        status = app.query_one("#status")
        assert str(status.render()) == ("HoldCall refused: invalid_state: "
                                        "call c1 is not connected at msiB1C5")
        assert status.has_class("error")
        assert app.desk.call.state == "connected" and app.is_running
        await pilot.press("a")                 # other keys still work
        await pilot.press("x")
        await pilot.pause()
        assert fake.sent() == [("HoldCall", {"call": "c1"}), ("ClearConnection", {"call": "c1"})]
        assert not status.has_class("error")

    run(desktop(fake), scenario)


def test_a_state_asked_during_a_call_is_shown_pending():
    fake = FakeClient({**agent_answers(state="ready"),
                       "SetAgentState": {**agent("busy", "", call="c1", pendingState="notReady",
                                                 pendingReason="lunch"), "result": "pending"}})

    async def scenario(pilot):
        await talk(pilot.app, fake, pilot)
        await pilot.press("n", *"lunch", "enter")
        await pilot.pause()
        assert "then not ready (lunch) after the call" in text(pilot.app, "StateBar")

    run(desktop(fake), scenario)


def test_the_call_ends_and_the_lost_connection_is_said():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null",
                                          "reason": "far end cleared (A bit off)"})
        await pilot.pause()
        assert "ended (far end cleared (A bit off))" in text(app, "#call-info")
        assert not app.check_action("clear", ())
        fake.closed.callback(None)
        await pilot.pause()
        assert "connection to the server is lost" in text(app, "#status")
        assert not app.check_action("ready", ())

    run(desktop(fake), scenario)


@pytest.mark.parametrize("down,kind,name", [(0, "number", "2125550000"), (1, "agent", "1002")])
def test_calling_out_to_a_number_or_another_agent(down, kind, name):
    fake = FakeClient({**agent_answers(state="ready"), "MakeCall": {"call": "c7"}})

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, Pick)
        await pilot.press(*["down"] * down, "enter")
        await pilot.pause()
        await pilot.press(*name, "enter")
        await pilot.pause()
        assert fake.sent() == [("MakeCall", {kind: name})]
        # The server's events: the call starts at the agent's phone...
        fake.emit("AgentBusy", **agent("busy", "", call="c7"), previous="ready")
        fake.emit("Originated", call="c7", device="msiB1C5", state="initiated",
                  callingDevice="1005", calledDevice=name, data={},
                  direction="outbound" if kind == "number" else "internal")
        await pilot.pause()
        info = text(app, "#call-info")
        called = name if kind == "number" else f"agent {name}"
        assert "Call c7  calling" in info and f"You called {called}" in info
        assert "Queue" not in info                     # no screen pop of a caller's
        assert not app.check_action("answer", ()) and app.check_action("clear", ())
        assert not app.check_action("make_call", ())  # one call at a time
        # ...and is answered.
        fake.emit("Established", call="c7", device="msiB1C5", state="connected",
                  callingDevice="1005", calledDevice=name, data={})
        await pilot.pause()
        assert "Call c7  connected" in text(app, "#call-info")
        # Answered, a call out (or an internal call) takes every key a
        # caller's call does (keys go to what it reached, an IVR).
        assert all(app.check_action(a, ()) for a in ("hold", "transfer", "consult", "dtmf"))
        await pilot.press("x")
        await pilot.pause()
        assert fake.sent() == [("ClearConnection", {"call": "c7"})]

    run(desktop(fake), scenario)


def test_calling_out_is_offered_only_to_a_logged_on_agent_without_a_call():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        assert app.check_action("make_call", ())
        await ring(app, fake, pilot)
        assert not app.check_action("make_call", ())
        fake.emit("AgentLoggedOff", **agent("loggedOff", "agent"), previous="ready")
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null", "reason": "not answered"})
        await pilot.pause()
        assert not app.check_action("make_call", ())

    run(desktop(fake), scenario)


def test_another_agents_call_out_transferred_here_pops_whom_it_called():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        fake.emit("Delivered", call="c9", device="msiB1C5", state="alerting",
                  callingDevice="1002", calledDevice="2125550000", data={}, agent="1005",
                  queue="sales", waitS=4.0, direction="outbound")
        await pilot.pause()
        info = text(app, "#call-info")
        assert "Call out by agent 1002 to 2125550000" in info and "Queue sales" in info
        assert "You called" not in info and app.check_action("answer", ())

    run(desktop(fake), scenario)


@pytest.mark.parametrize("called,shown,keys", [
    ("1005", "Internal call from 1002", False),         # it talks, and may hang up
    ("1003", "Agent 1003, called by agent 1002", True),  # 1002 passed 1003 on: its call
])
def test_an_internal_call_to_this_agent_or_passed_on_to_it(called, shown, keys):
    """Agent 1002 called this agent (1005), or called 1003 and then
    transferred 1003 here: the screen says which, and only a call passed
    on is this agent's to hold, transfer or consult on."""
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        internal = {"call": "c8", "device": "msiB1C5", "callingDevice": "1002",
                    "calledDevice": called, "data": {}, "agent": "1005",
                    "direction": "internal"}
        fake.emit("Delivered", **internal, state="alerting")
        await pilot.pause()
        assert app.check_action("answer", ())
        fake.emit("Established", **internal, state="connected")
        await pilot.pause()
        assert shown in text(app, "#call-info")
        assert app.check_action("clear", ())
        assert all(app.check_action(a, ()) == keys for a in ("hold", "transfer", "consult",
                                                             "dtmf"))

    run(desktop(fake), scenario)


def locking_answers():
    """SetAgentState as the server answers it: a lock given with notReady
    locks the break; ready needs it (else invalid_state)."""
    def set_state(params):
        if params["state"] == "ready" and params.get("lock") != "s3cret":
            return RemoteError({"code": "invalid_state", "service": "SetAgentState",
                                "message": "agent 1005's break is locked: give its lock"})
        locked = params["state"] == "notReady" and "lock" in params
        return {**agent(params["state"], params.get("reason", ""), locked=locked),
                "result": "done"}
    return {**agent_answers(state="ready"), "SetAgentState": set_state}


def test_a_locked_break_asks_its_password_to_end():
    fake = FakeClient(locking_answers())

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("b", *"meeting", "enter")
        await pilot.pause()
        password = app.screen.query_one(Input)
        assert password.password                       # shown as dots
        await pilot.press(*"s3cret", "enter")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "notReady", "reason": "meeting",
                                                  "lock": "s3cret"})]
        assert "not ready (meeting) · locked" in text(app, "StateBar")
        assert not app.check_action("after_call_work", ())
        # Ready asks the password; escape gives up and nothing is sent.
        await pilot.press("r")
        await pilot.pause()
        assert isinstance(app.screen, Ask) and app.screen.query_one(Input).password
        await pilot.press("escape")
        await pilot.pause()
        assert fake.sent() == []
        # A wrong one is refused by the server, and the break stays locked.
        await pilot.press("r", *"guess", "enter")
        await pilot.pause()
        assert "break is locked" in text(app, "#status")
        assert "locked" in text(app, "StateBar")
        await pilot.press("r", *"s3cret", "enter")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "ready", "lock": "guess"}),
                               ("SetAgentState", {"state": "ready", "lock": "s3cret"})]
        assert "locked" not in text(app, "StateBar") and "· ready ·" in text(app, "StateBar")

    run(desktop(fake), scenario)


def test_logging_off_from_a_locked_break_asks_its_password():
    fake = FakeClient(locking_answers())

    async def scenario(pilot):
        app = pilot.app
        await pilot.press("b", *"lunch", "enter", *"s3cret", "enter")
        await pilot.pause()
        fake.sent()
        await pilot.press("l")
        await pilot.pause()
        assert isinstance(app.screen, Ask)
        await pilot.press(*"s3cret", "enter")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "loggedOff", "lock": "s3cret"})]
        assert "logged off" in text(app, "StateBar")

    run(desktop(fake), scenario)


def test_after_call_work_now_or_after_the_call():
    def set_state(params):
        if fake_call["busy"]:
            return {**agent("busy", "", call="c1", pendingState="workingAfterCall",
                            pendingReason=""), "result": "pending"}
        return {**agent(params["state"], ""), "result": "done"}
    fake_call = {"busy": False}
    fake = FakeClient({**agent_answers(state="ready"), "SetAgentState": set_state})

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("w")
        await pilot.pause()
        assert fake.sent() == [("SetAgentState", {"state": "workingAfterCall"})]
        assert "wrap-up" in text(app, "StateBar")
        assert "r or n ends it" in text(app, "#status")
        fake_call["busy"] = True
        await talk(app, fake, pilot)
        await pilot.press("w")
        await pilot.pause()
        assert "then wrap-up after the call" in text(app, "StateBar")

    run(desktop(fake), scenario)


def test_conference_parties_talk_or_listen_and_a_listener_asks_to_speak():
    fake = FakeClient({**agent_answers(state="ready"),
                       "ConsultationCall": {"consultCall": "c2"},
                       "ConferenceCall": {"call": "c1",
                                          "parties": ["dtiB1T1", "dtiB1T2", "msiB1C5"]},
                       "SetPartyRole": lambda p: dict(p)})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        assert not app.check_action("party_role", ())          # not a conference yet
        await pilot.press("u", "down", "down", "down", "enter", *"2125550000", "enter")
        await pilot.pause()
        await pilot.press("f")
        await pilot.pause()
        assert ("Conference: dtiB1T1 talks, dtiB1T2 talks, msiB1C5 talks"
                in text(app, "#call-info"))
        fake.sent()
        # Both outside parties only listen now.
        for down in (0, 1):
            await pilot.press("p", *["down"] * down, "enter")
            await pilot.pause()
        assert fake.sent() == [
            ("SetPartyRole", {"call": "c1", "device": "dtiB1T1", "role": "listen"}),
            ("SetPartyRole", {"call": "c1", "device": "dtiB1T2", "role": "listen"})]
        assert ("Conference: dtiB1T1 listens, dtiB1T2 listens, msiB1C5 talks"
                in text(app, "#call-info"))
        # The second presses 5 to speak: the screen says so, and `p`
        # offers that party first.
        fake.emit("SpeakRequested", call="c1", device="msiB1C5", state="connected",
                  party="dtiB1T2", digit="5", callingDevice="2125551234",
                  calledDevice="5550100", data=DELIVERED["data"])
        await pilot.pause()
        assert "dtiB1T2 asks to speak (pressed 5): p gives the floor" in text(app, "#call-info")
        await pilot.press("p")
        await pilot.pause()
        options = app.screen.query_one("OptionList")
        assert options.highlighted == 1
        assert "dtiB1T2: listens, asks to speak (5)" in str(options.get_option_at_index(1).prompt)
        await pilot.press("enter")
        await pilot.pause()
        assert fake.sent() == [("SetPartyRole", {"call": "c1", "device": "dtiB1T2",
                                                 "role": "talk"})]
        info = text(app, "#call-info")
        assert "dtiB1T1 listens, dtiB1T2 talks" in info and "asks to speak" not in info

    run(desktop(fake), scenario)


def test_the_conference_party_list_follows_the_call():
    """Once a conference, the desktop monitors the call: a party that hangs
    up leaves the list, a role set elsewhere (a supervisor) shows, and the
    monitor stops with the call."""
    fake = FakeClient({**agent_answers(state="ready"),
                       "ConsultationCall": {"consultCall": "c2"},
                       "ConferenceCall": {"call": "c1",
                                          "parties": ["dtiB1T1", "dtiB1T2", "msiB1C5"]}})

    async def scenario(pilot):
        app = pilot.app
        await talk(app, fake, pilot)
        await pilot.press("u", "down", "down", "down", "enter", *"2125550000", "enter", "f")
        await pilot.pause()
        assert ("MonitorStart", {"object": "call", "id": "c1"}) in fake.sent()
        party = {"call": "c1", "callingDevice": "2125551234", "calledDevice": "5550100",
                 "data": DELIVERED["data"], "monitor": 2}
        fake.emit("PartyRoleChanged", **party, device="dtiB1T1", state="connected",
                  role="listen")
        fake.emit("ConnectionCleared", **party, device="dtiB1T2", state="null",
                  reason="far end cleared")
        await pilot.pause()
        assert "Conference: dtiB1T1 listens, msiB1C5 talks" in text(app, "#call-info")
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null", "reason": "normal"})
        await pilot.pause()
        assert fake.sent() == [("MonitorStop", {"monitor": 2})]

    run(desktop(fake), scenario)


def test_a_monitor_the_server_ended_is_not_stopped_again():
    """The server ends the desk's conference monitor (MonitorEnded: the
    agent may no longer see the call): the desk forgets it, and sends no
    MonitorStop of its own when the call ends."""
    fake = FakeClient({**agent_answers(state="ready"),
                       "ConsultationCall": {"consultCall": "c2"},
                       "ConferenceCall": {"call": "c1",
                                          "parties": ["dtiB1T1", "dtiB1T2", "msiB1C5"]}})

    async def scenario(pilot):
        await talk(pilot.app, fake, pilot)
        await pilot.press("u", "down", "down", "down", "enter", *"2125550000", "enter", "f")
        await pilot.pause()
        fake.sent()
        fake.emit("MonitorEnded", monitor=2, object="call", id="c1", reason="not yours")
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null", "reason": "normal"})
        await pilot.pause()
        assert ("MonitorStop", {"monitor": 2}) not in fake.sent()

    run(desktop(fake), scenario)


# -- the supervisor console ---------------------------------------------------------
def floor():
    """The agents and queues the fake server knows: {id: snapshot} each, in
    the server's order; a test may change them between two snapshots."""
    agents = {"1005": agent("busy", "", call="c3", since=NOW - 90, team="north"),
              "1002": {**agent("ready", "", since=NOW - 5), "agent": "1002",
                       "name": "Bob Baker", "station": "msiB1C2", "team": "north"}}
    queues = {"support": queue(waiting=[{"call": "c9", "ani": "1", "waitS": 20.0,
                                         "position": 1, "priority": 0, "agents": []}],
                               agents={"ready": 1, "busy": 1, "notReady": 3},
                               notReadyReasons={"login": 1, "lunch": 2}),
              "sales": queue("sales", strategy="fewest_calls", notReadyReasons={},
                             serviceLevel=None, asaS=None, ahtS=None, abandoned=0, handled=0)}
    return agents, queues


def supervisor_answers(agents, queues, calls=None, devices=None):
    """The server's answers to a console; `calls`: call id -> its snapshot
    (StartRecording and StopRecording change `recording` as the server does);
    `devices`: device -> its snapshot (none by default: a centre without
    spans), what `Snapshot` device and a device's `MonitorStart` give."""
    calls = {"c3": {"call": "c3", "recording": None}} if calls is None else calls
    devices = {} if devices is None else devices

    def snapshot(params):
        known = {"agent": agents, "queue": queues, "call": calls,
                 "device": devices}[params["object"]]
        every = params["id"] == "*"
        return {"object": params["object"], "id": params["id"],
                "snapshot": list(known.values()) if every else known[params["id"]]}

    def record(file):
        def answer(params):
            calls[params["call"]]["recording"] = file
            return {"call": params["call"], "file": "/srv/cti/var/recordings/c3-1.wav"}
        return answer

    def forced(params):
        """As the server answers: how it went for each agent (done, here),
        not the agents' snapshots; those come in the agent events."""
        named = ([params["agent"]] if "agent" in params else
                 [a for a, snapshot in agents.items() if snapshot.get("team") == params["team"]])
        return {"agents": [{"agent": a, "result": "done", "state": params["state"]}
                           for a in named]}

    def monitor(params):
        known = devices if params["object"] == "device" else {}
        return {"monitor": 1, "snapshot": known.get(params["id"])}

    return {"MonitorStart": monitor, "Snapshot": snapshot,
            "Supervise": lambda p: {"call": "c3", "mode": p["mode"]},
            "StartRecording": record("/srv/cti/var/recordings/c3-1.wav"),
            "StopRecording": record(None), "ForceAgentState": forced}


def console(fake):
    """A supervisor console that knows nothing of the floor but what the
    server tells it."""
    return SupervisorConsole(fake, {"role": "supervisor", "services": SUPERVISOR_SERVICES},
                             clock_at(), station="msiB1C9")


def rows(app, grid):
    table = app.query_one(grid)
    return [table.get_row_at(i) for i in range(table.row_count)]


def test_the_supervisor_grid_fills_from_the_servers_snapshots_of_every_object():
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        assert fake.sent() == [
            ("MonitorStart", {"object": "agent", "id": "*"}),
            ("MonitorStart", {"object": "queue", "id": "*"}),
            ("MonitorStart", {"object": "device", "id": "msiB1C9"}),     # its own phone
            ("Snapshot", {"object": "agent", "id": "*"}),
            ("Snapshot", {"object": "device", "id": "*"}),          # the spans, if any
            ("Snapshot", {"object": "queue", "id": "*"}),
            ("Snapshot", {"object": "call", "id": "*"})]
        assert rows(pilot.app, "#agents") == [
            ["1002", "Bob Baker", "north", "ready", "", "0:05", "", ""],
            ["1005", "Erin Evans", "north", "on a call", "", "1:30", "c3", ""]]
        columns = [str(c.label) for c in pilot.app.query_one("#agents").columns.values()]
        assert columns == ["Agent", "Name", "Team", "State", "Reason", "Time", "Call",
                           "Supervision"]
        assert rows(pilot.app, "#queues") == [
            # queue, strategy, waiting, longest, agents by state, not ready by reason,
            # service level, ASA, AHT, abandoned, handled
            ["sales", "fewest_calls", "0", "-", "ready 1", "", "-", "-", "-", "0", "0"],
            ["support", "longest_idle", "1", "0:20", "ready 1, on a call 1, not ready 3",
             "lunch 2, login 1", "75%", "0:12", "3:04", "1", "3"]]
        columns = [str(c.label) for c in pilot.app.query_one("#queues").columns.values()]
        assert columns[4:6] == ["Agents", "Not-ready reasons"]

    run(console(fake), scenario)


def test_the_supervisor_grid_follows_events():
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        fake.emit("AgentNotReady", **{**agent("notReady", "break", since=NOW - 1),
                                      "agent": "1002", "name": "Bob Baker", "team": "north"},
                  previous="ready")
        fake.emit("QueueChanged", **queue(waiting=[], agents={"busy": 1, "notReady": 1},
                                          notReadyReasons={"break": 1}, handled=4))
        fake.emit("SupervisionStarted", agent="1005", call="c3", mode="whisper")
        await pilot.pause()
        agents = app.query_one("#agents")
        assert agents.get_row_at(0)[3:5] == ["not ready", "break"]
        assert agents.get_row_at(1)[7] == "whisper"
        assert app.query_one("#queues").get_row_at(1)[2:6] == ["0", "-", "on a call 1, not ready 1",
                                                              "break 1"]
        assert "Supervising 1005 on c3 (whisper)" in text(app, "#supervision")
        fake.emit("SupervisionEnded", agent="1005", call="c3", mode="whisper")
        await pilot.pause()
        assert "Not supervising" in text(app, "#supervision")

    run(console(fake), scenario)


def misfits(table):
    """The columns of a grid not exactly as wide as their label or widest
    cell: {label: (width, needed)}."""
    out = {}
    for column in table.columns.values():
        needed = max(cell_len(str(cell)) for cell in [column.label, *table.get_column(column.key)])
        if column.content_width != needed:
            out[str(column.label)] = (column.content_width, needed)
    return out


@pytest.mark.parametrize("width", [60, 220])
def test_the_supervisor_grids_columns_are_as_wide_as_their_content(width):
    """On a narrow terminal (the grid scrolls sideways) and a wide one: no
    cell cut, no column wider than its label or widest cell, as cells grow,
    shrink and rows come."""
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        agents, queues = app.query_one("#agents"), app.query_one("#queues")
        assert misfits(agents) == misfits(queues) == {}
        long_reason = "training on the new billing system"
        fake.emit("AgentNotReady", **{**agent("notReady", long_reason, since=NOW - 1),
                                      "agent": "1002", "name": "Bob Baker", "team": "north"},
                  previous="ready")
        fake.emit("QueueChanged", **queue("sales", agents={"ready": 3, "busy": 1,
                                                           "workingAfterCall": 2},
                                          notReadyReasons={long_reason: 1}))
        await pilot.pause()
        assert misfits(agents) == misfits(queues) == {}
        assert agents.ordered_columns[4].content_width == len(long_reason)
        if width == 220:                    # it all fits: every cell shows whole
            assert long_reason in agents.render_line(1).text
            assert "ready 3, on a call 1, wrap-up 2" in queues.render_line(1).text
        fake.emit("AgentReady", **{**agent("ready", "", since=NOW), "agent": "1002",
                                   "name": "Bob Baker", "team": "north"}, previous="notReady")
        fake.emit("AgentLoggedOn", **{**agent("notReady", "login", since=NOW), "agent": "1009",
                                      "name": "Ivy Ito-Villanueva"}, previous="loggedOff")
        await pilot.pause()
        assert misfits(agents) == misfits(queues) == {}
        assert agents.ordered_columns[4].content_width == len("Reason")   # the long one left

    async def go():
        async with console(fake).run_test(size=(width, 40)) as pilot:
            await pilot.pause()
            await scenario(pilot)
    asyncio.run(go())


def test_a_long_grid_on_a_narrow_terminal_scrolls_sideways_and_cuts_no_cell():
    """300 agents on a terminal 60 columns wide: each column is as wide as
    its label or widest cell, the grid scrolls sideways over all of them,
    and scrolled to any column, its label and its cells show whole, as
    the times tick past an hour and the widest cell goes."""
    long_reason = "training on the new billing system"
    agents = {str(1000 + i): {**agent("ready", "", since=NOW - 7 * i), "agent": str(1000 + i),
                              "name": f"Agent {i}", "station": f"msiB1C{i}"}
              for i in range(300)}
    agents["1000"] = {**agents["1000"], "state": "notReady", "reason": long_reason}
    fake = FakeClient(supervisor_answers(agents, floor()[1]))
    app = console(fake)

    def whole(table):
        """Scrolled to each column in turn: its label on the header line and
        the first agent's cell on the first row, uncut."""
        assert misfits(table) == {}
        widths = [c.get_render_width(table) for c in table.ordered_columns]
        assert table.virtual_size.width == sum(widths) > table.size.width   # it scrolls
        first = table.get_row_at(0)
        for i, column in enumerate(table.ordered_columns):
            table.scroll_to(x=sum(widths[:i]), animate=False, immediate=True)
            assert str(column.label) in table.render_line(0).text
            assert str(first[i]) in table.render_line(1).text, (column.label, first[i])

    async def scenario(pilot):
        grid = app.query_one("#agents")
        whole(grid)
        assert grid.get_row_at(0)[4] == long_reason
        app.clock.advance(3600)                    # every time past an hour: wider
        app.changed()
        await pilot.pause()
        whole(grid)
        assert grid.get_row_at(0)[5] == "1:00:00"
        fake.emit("AgentReady", **{**agents["1000"], "state": "ready", "reason": "",
                                   "since": NOW + 3600}, previous="notReady")
        await pilot.pause()                        # the long reason gone: narrower
        whole(grid)
        assert grid.ordered_columns[4].content_width == len("Reason")

    async def go():
        async with app.run_test(size=(60, 30)) as pilot:
            await pilot.pause()
            await scenario(pilot)
    asyncio.run(go())


def test_agents_and_queues_the_console_did_not_know_appear_with_their_events():
    agents, queues = floor()
    fake = FakeClient(supervisor_answers(agents, queues))

    async def scenario(pilot):
        app = pilot.app
        # An agent the server had not listed logs on (say the server's
        # configuration gained one): its event is its snapshot.
        fake.emit("AgentLoggedOn", **{**agent("notReady", "login", since=NOW),
                                      "agent": "1009", "name": "Ivy Ito"}, previous="loggedOff")
        # A caller waits in a queue the console has not heard of.
        fake.emit("Queued", call="c12", device="queue:billing", state="queued",
                  callingDevice="3125550000", calledDevice="5550300", data={})
        await pilot.pause()
        assert rows(app, "#agents")[2][:5] == ["1009", "Ivy Ito", "", "not ready", "login"]
        assert rows(app, "#queues")[0] == ["billing", "", "1", "0:00", "", "", "-", "-", "-",
                                           "-", "-"]
        # Its figures come with the next reading of the queues.
        queues["billing"] = queue("billing", waiting=[{"call": "c12", "ani": "3125550000",
                                                       "waitS": 5.0, "position": 1}],
                                  agents={"notReady": 1}, notReadyReasons={"login": 1})
        app.clock.advance(5)
        await pilot.pause()
        assert rows(app, "#queues")[0][:6] == ["billing", "longest_idle", "1", "0:05",
                                               "not ready 1", "login 1"]

    run(console(fake), scenario)


def test_the_queue_figures_and_recordings_are_read_again_every_five_seconds():
    agents, queues = floor()
    fake = FakeClient(supervisor_answers(agents, queues))
    app = console(fake)

    async def scenario(pilot):
        fake.sent()
        # A caller abandons: the event takes it off the grid at once...
        fake.emit("ConnectionCleared", call="c9", device="queue:support", state="null",
                  reason="far end cleared (A bit off)", data={})
        await pilot.pause()
        assert rows(app, "#queues")[1][2:4] == ["0", "-"]
        # ...the server counts it, and the console shows the count when it
        # next reads the queues.
        queues["support"] = queue(abandoned=2, serviceLevel=0.6,
                                  agents={"ready": 1, "notReady": 4},
                                  notReadyReasons={"lunch": 3, "login": 1})
        app.clock.advance(4.9)
        await pilot.pause()
        assert fake.sent() == [] and rows(app, "#queues")[1][9] == "1"
        app.clock.advance(0.1)
        await pilot.pause()
        assert fake.sent() == [("Snapshot", {"object": "queue", "id": "*"}),
                               ("Snapshot", {"object": "call", "id": "*"})]
        assert rows(app, "#queues")[1][4:10] == ["ready 1, not ready 4", "lunch 3, login 1",
                                                 "60%", "0:12", "3:04", "2"]
        # The connection lost, nothing is asked any more.
        fake.closed.callback(None)
        await pilot.pause()
        app.clock.advance(10)
        assert fake.sent() == []

    run(app, scenario)
    assert app.clock.getDelayedCalls() == []          # quitting stopped the timer


def test_supervisor_actions_on_the_selected_agent():
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        assert not app.check_action("supervise", ("monitor",))       # 1002 has no call
        assert not app.check_action("end", ())
        await pilot.press("down")                                     # 1005, on c3
        await pilot.press("m")
        await pilot.pause()
        assert "Supervising 1005 on c3 (monitor)" in text(app, "#supervision")
        await pilot.press("w", "b")
        await pilot.pause()
        await pilot.press("r")
        await pilot.pause()
        assert "Recording c3 to /srv/cti/var/recordings/c3-1.wav" in text(app, "#status")
        assert app.query_one("#agents").get_row_at(1)[7] == "barge recording"
        await pilot.press("r", "e", "i")
        await pilot.pause()
        call = ("Snapshot", {"object": "call", "id": "c3"})   # recorded? (by anyone)
        assert fake.sent() == [
            ("Supervise", {"agent": "1005", "mode": "monitor", "station": "msiB1C9"}),
            ("Supervise", {"agent": "1005", "mode": "whisper", "station": "msiB1C9"}),
            ("Supervise", {"agent": "1005", "mode": "barge", "station": "msiB1C9"}),
            call, ("StartRecording", {"call": "c3"}),
            call, ("StopRecording", {"call": "c3"}),
            ("EndSupervision", {"agent": "1005"}),
            ("Intercept", {"agent": "1005"})]

    run(console(fake), scenario)


def test_supervisor_forces_states_next_call_and_strategy():
    agents, queues = floor()
    fake = FakeClient(supervisor_answers(agents, queues))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("v", "down", "enter")                       # 1002's next call: whisper
        await pilot.pause()
        await pilot.press("n", *"coaching", "enter")
        await pilot.pause()
        assert text(app, "#status") == "Agent 1002: not ready (coaching), done"
        fake.emit("AgentNotReady", **{**agents["1002"], "state": "notReady",
                                      "reason": "coaching", "since": NOW}, previous="ready")
        await pilot.pause()
        assert app.query_one("#agents").get_row_at(0)[3:5] == ["not ready", "coaching"]
        await pilot.press("o")
        await pilot.pause()
        assert text(app, "#status") == "Agent 1002: logged off, done"
        await pilot.press("tab")                                      # the queues grid
        await pilot.press("s")
        await pilot.pause()
        assert app.screen.query_one("OptionList").highlighted == 1    # fewest_calls now
        await pilot.press("down", "enter")
        await pilot.pause()
        assert fake.sent() == [
            ("MonitorNextCall", {"agent": "1002", "mode": "whisper", "station": "msiB1C9"}),
            ("ForceAgentState", {"state": "notReady", "agent": "1002", "reason": "coaching"}),
            ("ForceAgentState", {"state": "loggedOff", "agent": "1002"}),
            ("SetQueueStrategy", {"queue": "sales", "strategy": "least_talk_time"})]
        assert app.query_one("#queues").get_row_at(0)[1] == "least_talk_time"

    run(console(fake), scenario)


def test_a_forced_state_is_reported_and_the_row_follows_the_agent_event():
    """The answer to ForceAgentState says how it went for each agent; it is
    not a snapshot.  The agent's event, which the server sends before the
    answer, changes the row, and the answer leaves it as it is."""
    agents, queues = floor()
    agents["1002"].update(state="notReady", reason="lunch")
    agents["1005"].update(state="workingAfterCall", call=None, wrapUpEndsAt=NOW + 20)
    fake = FakeClient(supervisor_answers(agents, queues))

    def force(params):                  # as the server: the agent's event, then the answer
        fake.emit("AgentReady", **{**agents["1002"], "state": "ready", "reason": "",
                                   "since": NOW}, previous="notReady")
        return {"agents": [{"agent": "1002", "result": "done", "state": "ready"}]}
    fake.answers["ForceAgentState"] = force

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("y")
        await pilot.pause()
        assert fake.sent() == [("ForceAgentState", {"state": "ready", "agent": "1002"})]
        assert rows(app, "#agents")[0] == ["1002", "Bob Baker", "north", "ready", "", "0:00",
                                           "", ""]
        assert text(app, "#status") == "Agent 1002: ready, done"
        # A refusal is in the answer too: the request itself succeeds.
        fake.answers["ForceAgentState"] = {"agents": [
            {"agent": "1005", "result": "refused", "state": "workingAfterCall",
             "code": "invalid_state", "message": "agent 1005: wrap-up is forced for 20 s more"}]}
        await pilot.press("down", "y")
        await pilot.pause()
        assert text(app, "#status") == ("Agent 1005: ready, refused (1005: invalid_state "
                                        "agent 1005: wrap-up is forced for 20 s more)")
        assert app.query_one("#status").has_class("error")
        assert rows(app, "#agents")[1][:4] == ["1005", "Erin Evans", "north", "wrap-up"]

    run(console(fake), scenario)


def test_the_supervisor_releases_a_call_once_confirmed():
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        assert not app.check_action("release", ())                    # 1002 has no call
        await pilot.press("x")
        await pilot.pause()
        assert not isinstance(app.screen, Pick)
        await pilot.press("down", "x")                                # 1005, on c3
        await pilot.pause()
        assert text(app.screen, "Label") == "Release call c3 of agent 1005?"
        await pilot.press("enter")                # the choice offered first: "Keep it"
        await pilot.pause()
        assert not isinstance(app.screen, Pick)
        await pilot.press("x", "escape")
        await pilot.pause()
        assert fake.sent() == []
        await pilot.press("x", "up", "enter")                         # "Release it"
        await pilot.pause()
        assert fake.sent() == [("ClearCall", {"call": "c3"})]
        assert text(app, "#status") == "Released call c3"

    run(console(fake), scenario)


def test_a_recording_started_elsewhere_shows_and_r_stops_it():
    """Another supervisor (or the agent) records c3: the next refresh marks
    it, and r stops it rather than start a second recording."""
    calls = {"c3": {"call": "c3", "recording": "/srv/cti/var/recordings/c3-call-1.wav"}}
    fake = FakeClient(supervisor_answers(*floor(), calls=calls))

    async def scenario(pilot):
        app = pilot.app
        app.clock.advance(app.refresh_s)
        await pilot.pause()
        assert app.query_one("#agents").get_row_at(1)[7] == "recording"
        fake.sent()
        await pilot.press("down", "r")
        await pilot.pause()
        assert fake.sent() == [("Snapshot", {"object": "call", "id": "c3"}),
                               ("StopRecording", {"call": "c3"})]
        assert "Stopped recording c3" in text(app, "#status")
        assert app.query_one("#agents").get_row_at(1)[7] == ""

    run(console(fake), scenario)


def test_the_supervisor_holds_transfers_and_hangs_up_the_call_it_intercepted():
    fake = FakeClient({**supervisor_answers(*floor()), "Intercept": {"call": "c3",
                                                                     "station": "msiB1C9"}})
    mine = {"call": "c3", "device": "msiB1C9", "callingDevice": "2125551234",
            "calledDevice": "5550199", "data": {}, "direction": "inbound"}

    async def scenario(pilot):
        app = pilot.app
        assert not app.check_action("hold_mine", ())
        await pilot.press("down", "i")
        fake.emit("Established", **mine, state="connected", supervisor="sup")
        await pilot.pause()
        assert "Your call c3 with 2125551234: talking" in text(app, "#supervision")
        fake.sent()
        await pilot.press("H")
        fake.emit("Held", **mine, state="hold")
        await pilot.pause()
        assert "Your call c3 with 2125551234: on hold" in text(app, "#supervision")
        await pilot.press("H")
        fake.emit("Retrieved", **mine, state="connected")
        await pilot.press("F")
        await pilot.pause()
        await pilot.press("down", "enter")                   # a queue
        await pilot.pause()
        await pilot.press(*"sales", "enter")
        await pilot.pause()
        assert fake.sent() == [("HoldCall", {"call": "c3"}), ("RetrieveCall", {"call": "c3"}),
                               ("SingleStepTransferCall", {"call": "c3", "queue": "sales"})]
        fake.emit("ConnectionCleared", **mine, state="null", reason="transferred")
        await pilot.pause()
        assert "Your call" not in text(app, "#supervision")
        assert not app.check_action("hang_up_mine", ())
        fake.emit("Established", **{**mine, "call": "c4"}, state="connected")
        await pilot.pause()
        await pilot.press("X")
        await pilot.pause()
        assert fake.sent() == [("ClearConnection", {"call": "c4"})]

    run(console(fake), scenario)


def test_the_supervisor_consults_on_its_call_and_conferences():
    fake = FakeClient({**supervisor_answers(*floor()),
                       "Intercept": {"call": "c3", "station": "msiB1C9"},
                       "ConsultationCall": {"call": "c3", "consultCall": "c5"},
                       "ConferenceCall": {"call": "c3", "parties": []},
                       "ReconnectCall": {"call": "c3"}})
    mine = {"call": "c3", "device": "msiB1C9", "callingDevice": "2125551234",
            "calledDevice": "5550199", "data": {}, "direction": "inbound"}
    consult = {**mine, "call": "c5", "callingDevice": "sup", "calledDevice": "1003",
               "direction": "internal"}

    async def scenario(pilot):
        app = pilot.app
        await pilot.press("down", "i")
        fake.emit("Established", **mine, state="connected", supervisor="sup")
        await pilot.pause()
        assert not app.check_action("conference_mine", ())
        fake.sent()
        await pilot.press("U")
        await pilot.pause()
        await pilot.press("enter")                          # an agent
        await pilot.pause()
        await pilot.press(*"1003", "enter")
        fake.emit("Held", **mine, state="hold")          # as the server sends them
        fake.emit("Originated", **consult, state="initiated")
        await pilot.pause()
        assert fake.sent() == [("ConsultationCall", {"call": "c3", "agent": "1003"})]
        fake.emit("Established", **consult, state="connected")   # 1003 answers
        await pilot.pause()
        line = text(app, "#supervision")
        assert "Your call c3 with 2125551234: consulting on c5" in line
        assert not app.check_action("hold_mine", ()) and app.check_action("reconnect_mine", ())
        await pilot.press("K")                              # back to the caller
        fake.emit("ConnectionCleared", **consult, state="null", reason="reconnected")
        fake.emit("Retrieved", **mine, state="connected")
        await pilot.pause()
        assert "talking" in text(app, "#supervision") and app.check_action("hold_mine", ())
        await pilot.press("U", "enter")
        await pilot.pause()
        await pilot.press(*"1003", "enter")
        fake.emit("Held", **mine, state="hold")
        fake.emit("Originated", **consult, state="initiated")
        await pilot.pause()
        await pilot.press("J")                              # all three talk
        fake.emit("ConnectionCleared", **consult, state="null", reason="conferenced")
        fake.emit("Established", **mine, state="connected")
        await pilot.pause()
        assert fake.sent() == [("ReconnectCall", {"call": "c3", "consultCall": "c5"}),
                               ("ConsultationCall", {"call": "c3", "agent": "1003"}),
                               ("ConferenceCall", {"call": "c3", "consultCall": "c5"})]
        assert "Your call c3 with 2125551234: talking" in text(app, "#supervision")
        await pilot.press("X")                              # the others talk on
        await pilot.pause()
        assert fake.sent() == [("ClearConnection", {"call": "c3"})]

    run(console(fake), scenario)


def test_the_supervisor_forces_a_whole_team():
    agents, queues = floor()
    agents["1007"] = agent("loggedOff", "", agent="1007", name="Gus Grant", team="north")
    fake = FakeClient(supervisor_answers(agents, queues))
    # As the server answers for team north: 1005 is on a call, 1007 is logged off.
    outcomes = {
        "notReady": [{"agent": "1002", "result": "done", "state": "notReady"},
                     {"agent": "1005", "result": "pending", "state": "busy"},
                     {"agent": "1007", "result": "refused", "state": "loggedOff",
                      "code": "invalid_state", "message": "agent 1007 is loggedOff"}],
        "loggedOff": [{"agent": "1002", "result": "done", "state": "loggedOff"},
                      {"agent": "1005", "result": "pending", "state": "busy"},
                      {"agent": "1007", "result": "done", "state": "loggedOff"}]}
    fake.answers["ForceAgentState"] = lambda p: {"agents": outcomes[p["state"]]}

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("t")
        await pilot.pause()
        assert text(app.screen, "Label") == "Team north: every agent"
        await pilot.press("down", "enter")                            # not ready...
        await pilot.pause()
        assert text(app.screen, "Label") == "Team north not ready: reason"
        await pilot.press(*"meeting", "enter")                        # ...for a meeting
        await pilot.pause()
        assert text(app, "#status") == (
            "Team north: not ready (meeting), 1 done, 1 after the call, "
            "1 refused (1007: invalid_state agent 1007 is logged off)")
        assert app.query_one("#status").has_class("error")
        await pilot.press("t", "escape")
        await pilot.pause()
        await pilot.press("t", "down", "down", "enter")               # log out
        await pilot.pause()
        assert text(app, "#status") == "Team north: logged off, 2 done, 1 after the call"
        assert not app.query_one("#status").has_class("error")
        assert fake.sent() == [
            ("ForceAgentState", {"state": "notReady", "team": "north", "reason": "meeting"}),
            ("ForceAgentState", {"state": "loggedOff", "team": "north"})]
        # An agent of no team: no team key.
        fake.emit("AgentLoggedOn", **{**agent("notReady", "login", since=NOW),
                                      "agent": "1009", "name": "Ivy Ito"}, previous="loggedOff")
        await pilot.pause()
        await pilot.press("down", "down", "down")
        assert rows(app, "#agents")[3][:3] == ["1009", "Ivy Ito", ""]
        assert not app.check_action("team", ())

    run(console(fake), scenario)


# -- on one loop, against the real server -------------------------------------------
def test_twisted_and_textual_on_one_loop_against_the_real_server():
    """tests/desktop_live.py, in its own process (it installs the asyncio
    reactor): a call from the simulated trunk to the desktop's screen pop,
    hung up from the keyboard; the supervisor grid filled."""
    root = Path(__file__).resolve().parent.parent
    done = subprocess.run([sys.executable, "-m", "tests.desktop_live"], cwd=root,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr


# -- the command line --------------------------------------------------------------
def arguments(**given):
    from argparse import Namespace

    defaults = {"config": "etc/cti.toml", "server": None, "agent": None, "supervisor": False,
                "user": None, "station": None, "password_file": None, "refresh": 5.0}
    return Namespace(**{**defaults, **given})


def test_the_server_comes_from_the_configuration_unless_given():
    assert options(arguments(agent="1005")) == Options(
        "tcp:host=127.0.0.1:port=7500", "1005", "agent", None)
    # Given --server, an agent needs no configuration at all.
    assert options(arguments(agent="1005", server="tcp:host=10.0.0.5:port=7500",
                             config="/nonexistent.toml", station="msiB1C5")) == Options(
        "tcp:host=10.0.0.5:port=7500", "1005", "agent", "msiB1C5")


def test_the_supervisor_console_needs_no_configuration_given_the_server():
    opts = options(arguments(supervisor=True, user="sup", station="msiB1C9", refresh=2.0,
                             server="tcp:host=10.0.0.5:port=7500", config="/nonexistent.toml"))
    assert opts == Options("tcp:host=10.0.0.5:port=7500", "sup", "supervisor", "msiB1C9", 2.0)


@pytest.mark.parametrize("given,message", [({}, "--agent ID is required"),
                                           ({"supervisor": True}, "needs --user"),
                                           ({"agent": "1005", "refresh": 0}, "--refresh")])
def test_arguments_that_do_not_make_sense_are_refused(given, message):
    with pytest.raises(ValueError, match=message):
        options(arguments(**given))


# -- the model -------------------------------------------------------------------
def test_durations_read_as_people_read_them():
    assert [duration(s) for s in (None, -3, 0, 42.9, 65, 725, 3723)] == [
        "", "0:00", "0:00", "0:42", "1:05", "12:05", "1:02:03"]


def test_waits_count_on_between_updates():
    now = [100.0]
    desk = Desk("1005", "msiB1C5", lambda: now[0])
    desk.queues.set(queue(waiting=[{"call": "c7", "ani": "", "waitS": 10.0, "position": 1}]))
    now[0] += 5
    assert desk.queues.wait("support", "c7") == 15.0
    assert not desk.apply({"event": "Queued", "call": "c8", "device": "queue:elsewhere"})


def test_a_caller_of_higher_priority_joins_ahead_of_the_others():
    board = QueueBoard(lambda: NOW)
    board.set(queue(waiting=[{"call": "c1", "ani": "", "waitS": 30.0, "position": 1,
                              "priority": 5},
                             {"call": "c2", "ani": "", "waitS": 20.0, "position": 2,
                              "priority": 0}]))
    for call, priority in (("c3", 0), ("c4", 5), ("c5", 9)):
        assert board.apply({"event": "Queued", "call": call, "device": "queue:support",
                            "priority": priority})
    assert [(e["call"], e["position"]) for e in board.queues["support"]["waiting"]] == [
        ("c5", 1), ("c1", 2), ("c4", 3), ("c2", 4), ("c3", 5)]


def test_a_caller_who_overflowed_joins_by_its_first_arrival():
    """Waiting 30 s elsewhere, it goes ahead of a caller who has waited 20 s
    here, as the server serves them."""
    board = QueueBoard(lambda: NOW)
    board.set(queue(waiting=[{"call": "c1", "ani": "", "waitS": 40.0, "position": 1,
                              "priority": 0},
                             {"call": "c2", "ani": "", "waitS": 20.0, "position": 2,
                              "priority": 0}]))
    board.apply({"event": "Queued", "call": "c3", "device": "queue:support", "priority": 0,
                 "firstWaitS": 30.0})
    assert [e["call"] for e in board.queues["support"]["waiting"]] == ["c1", "c3", "c2"]
    assert board.wait("support", "c3") == 0.0                  # in this queue


def test_a_withheld_number_pops_the_screen_as_withheld():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        fake.emit("AgentReserved", **agent("reserved", "", call="c1"), previous="ready")
        fake.emit("Delivered", **{**DELIVERED, "callingDevice": "dtiB2T1",
                                  "presentation": "restricted"})
        await pilot.pause()
        info = text(pilot.app, "#call-info")
        assert "Caller (ANI) withheld" in info and "dtiB2T1" not in info

    run(desktop(fake), scenario)


def test_a_withheld_number_shows_as_withheld_not_as_the_trunk():
    desk = Desk("1005", "msiB1C5", lambda: NOW)
    assert desk.apply({**DELIVERED, "event": "Delivered", "callingDevice": "dtiB2T1",
                       "presentation": "restricted"})
    assert (desk.call.ani, desk.call.withheld) == ("", True)
    desk.show_call({"call": "c2", "ani": "", "presentation": "restricted", "dnis": "5550199",
                    "connections": [{"device": "msiB1C5", "state": "connected"}]})
    assert (desk.call.ani, desk.call.withheld, desk.call.state) == ("", True, "connected")


def test_events_of_other_stations_and_agents_are_not_ours():
    desk = Desk("1005", "msiB1C5", lambda: NOW)
    assert not desk.apply({**DELIVERED, "event": "Delivered", "device": "msiB1C2"})
    assert not desk.apply({**agent("ready"), "agent": "1002", "event": "AgentReady"})
    assert desk.apply({**DELIVERED, "event": "Delivered"}) and desk.call.call == "c1"
    # A second offer cannot replace a live call on screen.
    assert not desk.apply({**DELIVERED, "event": "Delivered", "call": "c2"})
    floor = Floor(lambda: NOW)
    assert not floor.apply({"event": "SupervisionEnded", "agent": "1005"})


@pytest.mark.parametrize("down,kind,name", [(1, "queue", "support"), (2, "flow", "payment"),
                                            (3, "number", "5551234")])
def test_consult_a_queue_a_flow_or_a_number(down, kind, name):
    fake = FakeClient({**agent_answers(state="ready"),
                       "ConsultationCall": {"consultCall": "c2"}})

    async def scenario(pilot):
        await talk(pilot.app, fake, pilot)
        await pilot.press("u")
        await pilot.pause()
        assert isinstance(pilot.app.screen, Pick)
        await pilot.press(*["down"] * down, "enter")
        await pilot.pause()
        await pilot.press(*name, "enter")
        await pilot.pause()
        assert fake.sent() == [("ConsultationCall", {"call": "c1", kind: name})]
        assert "Consulting on c2" in text(pilot.app, "#call-info")

    run(desktop(fake), scenario)


@pytest.mark.parametrize("service", ["TransferCall", "ConferenceCall"])
def test_the_consulted_agents_desk_takes_the_caller_handed_over(service):
    """The real server's events at the consulted agent's station: its
    consultation call ends and the caller's call arrives connected; the
    desk shows that call, live (hang-up, hold... apply to it)."""
    from tests.centre import Centre
    from tests.test_consult import Scene

    s = Scene(Centre())
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, service, call=s.call_id, consultCall=consult_call)
    s.centre.run(200)
    desk = Desk("1003", "msiB1C3", lambda: NOW)
    for name, body in s.second_events:
        desk.apply({**body, "event": name})
    assert (desk.call.call, desk.call.state, desk.call.ani) == (s.call_id, "connected",
                                                                 "2125551234")


def test_a_next_call_supervision_waits_and_can_be_cancelled():
    fake = FakeClient({**supervisor_answers(*floor()),
                       "MonitorNextCall": lambda p: {**p, "call": None}})

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("v", "enter")                       # 1002's next call: monitor
        await pilot.pause()
        assert "Supervising 1002 on the next call (monitor)" in text(app, "#supervision")
        assert app.check_action("end", ()) and not app.check_action("next_call", ())
        await pilot.press("e")
        await pilot.pause()
        assert fake.sent() == [
            ("MonitorNextCall", {"agent": "1002", "mode": "monitor", "station": "msiB1C9"}),
            ("EndSupervision", {"agent": "1002"})]
        assert "Not supervising" in text(app, "#supervision")

    run(console(fake), scenario)


def test_without_a_station_the_console_offers_no_supervision():
    fake = FakeClient(supervisor_answers(*floor()))
    app = SupervisorConsole(fake, {"role": "supervisor", "services": SUPERVISOR_SERVICES},
                            clock_at())

    async def scenario(pilot):
        await pilot.press("down")                             # 1005, on a call
        assert not app.check_action("supervise", ("monitor",))
        assert not app.check_action("next_call", ())
        assert app.check_action("record", ()) and app.check_action("release", ())

    run(app, scenario)


def test_an_outside_party_hanging_up_leaves_the_desks_conference_list():
    """The real server's events of the call (the desktop monitors it once it
    is a conference): the outside party, an analog line (its party name
    "dxxxB1C1/line"), hangs up and leaves the list."""
    from tests.centre import Centre
    from tests.test_consult import Scene

    s = Scene(Centre())
    outside, consult_call = s.consult_number()
    parties = s.ask(s.first, "ConferenceCall", call=s.call_id,
                    consultCall=consult_call)["parties"]
    watched = s.centre.events(s.first)
    s.ask(s.first, "MonitorStart", object="call", id=s.call_id)
    desk = Desk("1005", "msiB1C5", lambda: NOW)
    desk.show_call(s.ask(s.first, "Snapshot", object="call", id=s.call_id)["snapshot"])
    desk.call.parties = dict.fromkeys(parties, "talk")
    outside.hangup()
    s.centre.run_until(lambda: any(n == "ConnectionCleared" for n, _ in watched),
                       what="the outside party leaves")
    for name, body in watched:
        desk.apply({**body, "event": name})
    assert sorted(desk.call.parties) == ["dtiB1T1", "msiB1C5"] and desk.call.live


def test_an_analog_caller_given_the_floor_no_longer_asks_to_speak():
    """The real server's events: a caller on an analog line (party
    "dxxxB1C2/line") set to listen presses a key, then is given the floor."""
    from tests.centre import Centre
    from tests.test_callcenter import agent_ready, names

    centre = Centre()
    agent_client, events = agent_ready(centre, "1003", "msiB1C3")
    caller, phone = centre.sim.endpoint("dxxxB1C2"), centre.sim.endpoint("msiB1C3")
    caller.call(ani="2125551234", dnis="")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="connected")
    call_id = dict(events)["Established"]["call"]

    def ask(service, **params):
        return centre.call(agent_client.call(service, **params))
    desk = Desk("1003", "msiB1C3", lambda: NOW)
    desk.show_call(ask("Snapshot", object="call", id=call_id)["snapshot"])
    desk.call.parties = {"dxxxB1C2/line": "talk", "msiB1C3": "talk"}
    ask("MonitorStart", object="call", id=call_id)

    def apply_new_events():
        for name, body in events:
            desk.apply({**body, "event": name})
        events.clear()
    events.clear()
    ask("SetPartyRole", call=call_id, device="dxxxB1C2/line", role="listen")
    centre.run(500)
    caller.send_digits("5")
    centre.run(2000)
    apply_new_events()
    assert desk.call.speak == {"dxxxB1C2/line": "5"}
    ask("SetPartyRole", call=call_id, device="dxxxB1C2/line", role="talk")
    centre.run(200)
    apply_new_events()
    assert desk.call.parties["dxxxB1C2/line"] == "talk" and desk.call.speak == {}


@pytest.mark.parametrize("down,service", [(0, "HoldCall"), (1, "RetrieveCall")])
def test_the_supervisor_holds_or_retrieves_the_agents_call(down, service):
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        assert not app.check_action("hold", ())               # 1002 has no call
        await pilot.press("down", "h", *["down"] * down, "enter")    # 1005, on c3
        await pilot.pause()
        assert fake.sent() == [(service, {"call": "c3"})]

    run(console(fake), scenario)


@pytest.mark.parametrize("down,kind,name", [(1, "queue", "sales"), (3, "number", "5551234")])
def test_the_supervisor_transfers_the_agents_call(down, kind, name):
    fake = FakeClient(supervisor_answers(*floor()))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("down", "f", *["down"] * down, "enter", *name, "enter")
        await pilot.pause()
        assert fake.sent() == [("SingleStepTransferCall", {"call": "c3", kind: name})]
        assert f"Call c3 transferred to {kind} {name}" in text(app, "#status")

    run(console(fake), scenario)
