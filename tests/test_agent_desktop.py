# SPDX-License-Identifier: GPL-2.0-or-later
"""The agent desktop and supervisor console (cti agent), driven by Textual's
pilot against a fake client: what the agent sees, what each key sends."""
import asyncio

import pytest
from twisted.internet import defer
from twisted.internet.testing import StringTransport

from cti.agent.desk import Desk, SupervisorDesk
from cti.protocol.agent import AgentClient
from cti.protocol.client import ClientProtocol, RemoteError
from cti.protocol.framing import Framer

AGENT = {"agent": "1005", "name": "Erin Evans", "state": "ready", "reason": "",
         "station": "msiB1C5", "queues": ["support"], "call": None, "locked": False,
         "pendingState": None, "statistics": {"calls": 3, "talkS": 120.0,
                                              "stateS": {"ready": 60.0, "busy": 120.0}}}
QUEUE = {"queue": "support", "waiting": [{"call": "c9", "waitS": 12.0}], "longestWaitS": 12.0,
         "agents": {"ready": 1, "busy": 2}, "serviceLevel": 0.9, "asaS": 7.5, "ahtS": 180.0,
         "abandoned": 1}


class FakeAgentClient(AgentClient):
    """An AgentClient whose requests are recorded and answered at once."""

    def __init__(self, refuse=()):
        super().__init__(self, "1005")
        self.sent, self.listeners, self.refuse = [], [], set(refuse)

    def call(self, service, **params):
        self.sent.append((service, params))
        if service in self.refuse:
            return defer.fail(RemoteError({"code": "invalid_state",
                                           "message": f"{service} refused for the test"}))
        if service == "Snapshot":
            snap = {"agent": [AGENT] if params["id"] == "*" else AGENT,
                    "queue": [QUEUE] if params["id"] == "*" else QUEUE}[params["object"]]
            return defer.succeed({"snapshot": snap})
        if service == "ConsultationCall":
            return defer.succeed({"consultCall": "c2"})
        return defer.succeed({**AGENT, "result": "done"})

    def on_event(self, listener):
        self.listeners.append(listener)

    def event(self, event_name, /, **body):
        for listener in self.listeners:
            listener(event_name, body, 0)

    def requests(self, service):
        return [p for s, p in self.sent if s == service]


def run(app, steps):
    async def go():
        async with app.run_test() as pilot:
            await pilot.pause()
            await steps(pilot)
    asyncio.run(go())


def delivered(client):
    client.event("Delivered", call="c7", device="msiB1C5", callingDevice="2125551234",
                 calledDevice="5550100", queue="support", waitS=12.5,
                 data={"account": "12345678", "name": "Ada"})


def test_state_bar_statistics_and_queue_view_come_from_the_server():
    client = FakeAgentClient()
    app = Desk(client, "1005", "msiB1C5")

    async def steps(pilot):
        state = str(app.query_one("#state").render())
        assert "1005" in state and "ready" in state and "msiB1C5" in state
        assert "Calls 3, talk 120 s" in str(app.query_one("#stats").render())
        queues = app.query_one("#queues")
        assert queues.get_row("support")[:3] == ["support", "1", "12"]
        assert queues.get_row("support")[4:7] == ["90%", "8", "180"]
        client.event("AgentNotReady", **{**AGENT, "state": "notReady", "reason": "lunch"})
        await pilot.pause()
        assert "notReady (lunch)" in str(app.query_one("#state").render())
    run(app, steps)


def test_a_call_pops_the_screen_and_the_keys_act_on_it():
    client = FakeAgentClient()
    app = Desk(client, "1005", "msiB1C5")

    async def steps(pilot):
        delivered(client)
        await pilot.pause()
        pop = str(app.query_one("#pop").render())
        assert "c7" in pop and "2125551234" in pop and "5550100" in pop and "support" in pop
        record = app.query_one("#record")
        assert record.get_row("account") == ["account", "12345678"]
        await pilot.press("a")
        assert client.requests("AnswerCall") == [{"call": "c7"}]
        client.event("Established", call="c7", device="msiB1C5")
        await pilot.press("o")
        assert client.requests("HoldCall") == [{"call": "c7"}]
        client.event("Held", call="c7", device="msiB1C5")
        await pilot.pause()
        await pilot.press("o")
        assert client.requests("RetrieveCall") == [{"call": "c7"}]
        await pilot.press("t")
        for key in "queue sales":
            await pilot.press("space" if key == " " else key)
        await pilot.press("enter")
        assert client.requests("SingleStepTransferCall") == [{"call": "c7", "queue": "sales"}]
        await pilot.press("s")
        for key in "name=Ada Lovelace":
            await pilot.press({" ": "space", "=": "equals_sign"}.get(key, key))
        await pilot.press("enter")
        assert client.requests("SetCallData") == [{"call": "c7",
                                                   "data": {"name": "Ada Lovelace"}}]
        client.event("AttachedDataChanged", call="c7", data={"name": "Ada Lovelace"})
        await pilot.pause()
        assert app.query_one("#record").get_row("name") == ["name", "Ada Lovelace"]
        client.event("ConnectionCleared", call="c7", device="msiB1C5")
        await pilot.pause()
        assert "No call" in str(app.query_one("#pop").render())
    run(app, steps)


def test_consult_then_complete_and_a_refusal_shown_as_the_server_said():
    client = FakeAgentClient(refuse={"TransferCall"})
    app = Desk(client, "1005", "msiB1C5")

    async def steps(pilot):
        delivered(client)
        await pilot.pause()
        await pilot.press("c")
        for key in "1003":
            await pilot.press(key)
        await pilot.press("enter")
        assert client.requests("ConsultationCall") == [{"call": "c7", "agent": "1003"}]
        await pilot.press("x")
        await pilot.pause()
        assert client.requests("TransferCall") == [{"call": "c7", "consultCall": "c2"}]
        assert any("TransferCall refused for the test" in n.message
                   for n in app._notifications)
        assert "c7" in str(app.query_one("#pop").render())     # the app goes on
    run(app, steps)


def test_not_ready_asks_the_reason():
    client = FakeAgentClient()
    app = Desk(client, "1005", "msiB1C5")

    async def steps(pilot):
        await pilot.press("n")
        for key in "lunch":
            await pilot.press(key)
        await pilot.press("enter")
        assert client.requests("SetAgentState")[-1] == {"state": "notReady",
                                                         "reason": "lunch"}
    run(app, steps)


def test_the_supervisor_grid_and_actions_on_the_selected_agent():
    client = FakeAgentClient()
    app = SupervisorDesk(client, None, "msiB1C8")

    async def steps(pilot):
        grid = app.query_one("#grid")
        assert grid.get_row("1005")[:3] == ["1005", "Erin Evans", "ready"]
        for key, service, params in [
                ("m", "Supervise", {"agent": "1005", "mode": "monitor",
                                    "station": "msiB1C8"}),
                ("g", "Supervise", {"agent": "1005", "mode": "whisper",
                                    "station": "msiB1C8"}),
                ("i", "Intercept", {"agent": "1005"}),
                ("p", "ForceAgentState", {"state": "notReady", "agent": "1005"})]:
            await pilot.press(key)
            assert client.requests(service)[-1] == params
    run(app, steps)


@pytest.mark.parametrize("method, args, frame", [
    ("ready", (), {"service": "SetAgentState", "params": {"state": "ready"}}),
    ("transfer", ("c1",), {"service": "SingleStepTransferCall", "params": {"call": "c1"}}),
    ("consult", ("c1", "1003"), {"service": "ConsultationCall",
                                 "params": {"call": "c1", "agent": "1003"}}),
    ("supervise", ("1005", "barge"), {"service": "Supervise",
                                      "params": {"agent": "1005", "mode": "barge"}}),
])
def test_agent_client_sends_the_documented_frames(method, args, frame):
    protocol = ClientProtocol()
    protocol.makeConnection(StringTransport())
    d = getattr(AgentClient(protocol), method)(*args)
    [(_, message)] = Framer().feed(protocol.transport.value())
    assert message.body == frame and message.kind == "request"
    assert not d.called
