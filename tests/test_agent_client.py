# SPDX-License-Identifier: GPL-2.0-or-later
"""The agent and supervisor services of the Python client (cti.protocol.agent).

Frames are read back from an in-memory transport and compared with
bodies written out by hand from the service list; answers are frames
built by hand (tests.test_protocol.raw_frame), not by the code under
test.  One exchange goes through the real server's session code (iosim)
and one through the blocking client over a socketpair."""
import inspect
import json
import socket

import pytest
from twisted.internet import task
from twisted.internet.testing import StringTransport
from twisted.test.iosim import connectedServerAndClient

from cti.protocol.agent import SERVICES, AgentClient, AgentServices, BlockingAgentClient
from cti.protocol.client import ConnectionClosed, RemoteError
from cti.protocol.framing import Framer
from cti.protocol.server import Hub, SessionFactory
from tests.test_protocol import PASSWORD, USERS, raw_frame

# Each service, called as a script would, and the params it must send.
CALLS = [
    ("snapshot", ("queue", "sales"), {}, "Snapshot", {"object": "queue", "id": "sales"}),
    ("monitor_start", ("agent", "1005"), {}, "MonitorStart", {"object": "agent", "id": "1005"}),
    ("monitor_stop", (3,), {}, "MonitorStop", {"monitor": 3}),
    ("set_agent_state", ("loggedOn",), {"station": "msiB1C5"}, "SetAgentState",
     {"state": "loggedOn", "station": "msiB1C5"}),
    ("set_agent_state", ("notReady",), {"reason": "lunch"}, "SetAgentState",
     {"state": "notReady", "reason": "lunch"}),
    ("answer_call", (), {"call": "c1"}, "AnswerCall", {"call": "c1"}),
    ("answer_call", (), {}, "AnswerCall", None),
    ("clear_connection", (), {"call": "c1"}, "ClearConnection", {"call": "c1"}),
    ("hold_call", ("c1",), {}, "HoldCall", {"call": "c1"}),
    ("retrieve_call", ("c1",), {}, "RetrieveCall", {"call": "c1"}),
    ("single_step_transfer_call", ("c1",), {"queue": "sales"}, "SingleStepTransferCall",
     {"call": "c1", "queue": "sales"}),
    ("single_step_transfer_call", ("c1",), {"flow": "main_menu"}, "SingleStepTransferCall",
     {"call": "c1", "flow": "main_menu"}),
    ("consultation_call", ("c1",), {"agent": "1002"}, "ConsultationCall",
     {"call": "c1", "agent": "1002"}),
    ("consultation_call", ("c1",), {"queue": "support"}, "ConsultationCall",
     {"call": "c1", "queue": "support"}),
    ("consultation_call", ("c1",), {"number": "5551234"}, "ConsultationCall",
     {"call": "c1", "number": "5551234"}),
    ("transfer_call", ("c1", "c2"), {}, "TransferCall", {"call": "c1", "consultCall": "c2"}),
    ("conference_call", ("c1",), {"consult_call": "c2"}, "ConferenceCall",
     {"call": "c1", "consultCall": "c2"}),
    ("reconnect_call", ("c1", "c2"), {}, "ReconnectCall", {"call": "c1", "consultCall": "c2"}),
    ("send_dtmf", ("c1", "12#"), {}, "SendDTMF", {"call": "c1", "digits": "12#"}),
    ("set_call_data", ("c1", {"account": "42"}), {}, "SetCallData",
     {"call": "c1", "data": {"account": "42"}}),
    ("supervise", ("1005", "whisper"), {"station": "msiB1C9"}, "Supervise",
     {"agent": "1005", "mode": "whisper", "station": "msiB1C9"}),
    ("end_supervision", ("1005",), {}, "EndSupervision", {"agent": "1005"}),
    ("intercept", ("1005",), {}, "Intercept", {"agent": "1005"}),
    ("clear_call", ("c1",), {}, "ClearCall", {"call": "c1"}),
    ("force_agent_state", ("loggedOff",), {"team": "support", "reason": "end of shift"},
     "ForceAgentState", {"state": "loggedOff", "team": "support", "reason": "end of shift"}),
    ("force_agent_state", ("notReady",), {"agent": "1005"}, "ForceAgentState",
     {"state": "notReady", "agent": "1005"}),
    ("set_party_role", ("c1", "dtiB1T1", "listen"), {}, "SetPartyRole",
     {"call": "c1", "device": "dtiB1T1", "role": "listen"}),
    ("make_call", (), {"number": "5551234"}, "MakeCall", {"number": "5551234"}),
    ("start_recording", ("c1",), {}, "StartRecording", {"call": "c1"}),
    ("stop_recording", ("c1",), {}, "StopRecording", {"call": "c1"}),
    ("monitor_next_call", ("1005", "monitor"), {"station": "msiB1C9"}, "MonitorNextCall",
     {"agent": "1005", "mode": "monitor", "station": "msiB1C9"}),
    ("set_queue_strategy", ("sales", "round_robin"), {}, "SetQueueStrategy",
     {"queue": "sales", "strategy": "round_robin"}),
]


class Connected:
    """An AgentClient on a StringTransport: what it wrote, and a way to answer."""

    def __init__(self):
        self.client = AgentClient(task.Clock())
        self.transport = StringTransport()
        self.client.makeConnection(self.transport)
        self.framer = Framer()

    def sent(self):
        data = self.transport.value()
        self.transport.clear()
        return [(invoke_id, m.kind, m.body) for invoke_id, m in self.framer.feed(data)]

    def receive(self, kind, invoke_id, body):
        self.client.dataReceived(raw_frame(kind, invoke_id, body))


def test_every_service_has_one_method_and_the_calls_cover_them_all():
    assert {c[3] for c in CALLS} == {r.service for r in SERVICES}
    for request in SERVICES:
        method = getattr(AgentServices, request.method)
        assert request.service in method.__doc__
        assert list(inspect.signature(method).parameters)[0] == "self"


@pytest.mark.parametrize("method,args,kwargs,service,params", CALLS,
                         ids=[f"{c[3]}-{i}" for i, c in enumerate(CALLS)])
def test_each_method_sends_its_request(method, args, kwargs, service, params):
    wire = Connected()
    getattr(wire.client, method)(*args, **kwargs)
    body = {"service": service} if params is None else {"service": service, "params": params}
    assert wire.sent() == [(1, "request", body)]


def test_the_wire_bytes_of_a_request():
    """HoldCall c1 as invoke id 1, byte for byte."""
    wire = Connected()
    wire.client.hold_call("c1")
    payload = json.dumps({"service": "HoldCall", "params": {"call": "c1"}},
                         separators=(",", ":")).encode()
    assert wire.transport.value() == raw_frame(1, 1, payload)


@pytest.mark.parametrize("method,args,kwargs,message", [
    ("single_step_transfer_call", ("c1",), {}, "exactly one of agent, queue, flow"),
    ("single_step_transfer_call", ("c1",), {"agent": "1002", "queue": "sales"},
     "exactly one of agent, queue, flow"),
    ("force_agent_state", ("ready",), {}, "exactly one of agent, team"),
    ("hold_call", (), {}, "missing a required argument: 'call'"),
    ("supervise", ("1005", "monitor"), {"volume": 3}, "unexpected keyword argument 'volume'"),
])
def test_arguments_that_do_not_fit_send_nothing(method, args, kwargs, message):
    wire = Connected()
    with pytest.raises(TypeError, match=message):
        getattr(wire.client, method)(*args, **kwargs)
    assert wire.sent() == []


def test_results_and_refusals_come_back_to_their_requests():
    wire = Connected()
    consult = wire.client.consultation_call("c1", agent="1002")
    state = wire.client.set_agent_state("notReady", reason="lunch")
    wire.sent()
    # Answers out of order: the second request first.
    wire.receive(3, 2, {"code": "invalid_state", "message": "agent 1005 is busy: not now",
                        "service": "SetAgentState"})
    wire.receive(2, 1, {"service": "ConsultationCall", "result": {"consultCall": "c2"}})
    assert consult.result == {"consultCall": "c2"}
    error = state.result.value
    assert isinstance(error, RemoteError) and error.code == "invalid_state"
    assert str(error) == "invalid_state: agent 1005 is busy: not now"
    state.addErrback(lambda f: None)


def test_a_connection_lost_fails_what_is_outstanding():
    wire = Connected()
    d = wire.client.start_recording("c1")
    wire.client.connectionLost()
    assert isinstance(d.result.value, ConnectionClosed)
    d.addErrback(lambda f: None)


def test_a_request_after_the_connection_ended_fails_at_once_with_the_servers_reason():
    """Nothing is written to a connection that is gone; the reason of the
    server's last frame (SessionClosed) is in the error."""
    wire = Connected()
    waiting = wire.client.hold_call("c1")
    wire.sent()
    wire.receive(4, 0, {"event": "SessionClosed", "reason": "server shutdown"})
    wire.client.connectionLost()
    assert str(waiting.result.value) == "connection closed before the answer (server shutdown)"
    waiting.addErrback(lambda f: None)
    later = wire.client.retrieve_call("c1")
    assert isinstance(later.result.value, ConnectionClosed) and wire.sent() == []
    assert str(later.result.value) == ("not connected: the connection is closed "
                                       "(server shutdown)")
    later.addErrback(lambda f: None)
    assert wire.client.close_reason == "server shutdown"


def test_events_reach_the_handlers_of_their_name():
    wire = Connected()
    seen = []
    wire.client.on("Delivered", lambda body: seen.append(("Delivered", body["call"])))
    off = wire.client.on("AgentReady", lambda body: seen.append(("ready", body["agent"])))
    wire.client.on("*", lambda body: seen.append(("any", body["event"])))
    wire.receive(4, 0, {"event": "Delivered", "call": "c1", "monitor": 1})
    wire.receive(4, 5, {"event": "AgentReady", "agent": "1005", "monitor": 2})
    off()
    wire.receive(4, 0, {"event": "AgentReady", "agent": "1005", "monitor": 2})
    assert seen == [("Delivered", "c1"), ("any", "Delivered"), ("ready", "1005"),
                    ("any", "AgentReady"), ("any", "AgentReady")]


def test_a_failing_handler_is_logged_and_the_others_still_run():
    from twisted.logger import globalLogPublisher

    wire = Connected()
    seen, logged = [], []

    def broken(body):
        raise ValueError("bug in a handler")

    wire.client.on("Held", broken)
    wire.client.on("Held", lambda body: seen.append(body["call"]))
    globalLogPublisher.addObserver(logged.append)
    try:
        wire.receive(4, 0, {"event": "Held", "call": "c1"})
        wire.receive(2, 0, {"service": "Heartbeat", "result": {}})    # still reading frames
    finally:
        globalLogPublisher.removeObserver(logged.append)
    assert seen == ["c1"]
    assert any(e.get("log_failure") and "Held" in e.get("name", "") for e in logged)


def test_against_the_server_session():
    """The frames the client builds are the ones the real session reads."""
    clock = task.Clock()
    hub = Hub(clock, USERS, heartbeat_s=10)
    hub.provide_snapshots("queue", lambda q: {"queue": q, "waiting": []} if q == "sales"
                          else None)
    client, server, pump = connectedServerAndClient(
        lambda: SessionFactory(hub).buildProtocol(None), lambda: AgentClient(clock))
    queued = []
    client.on("Queued", queued.append)
    client.login("sue", PASSWORD, "supervisor")
    d = client.monitor_start("queue", "sales")
    pump.flush()
    assert d.result["snapshot"] == {"queue": "sales", "waiting": []}
    d = client.snapshot("queue", "nowhere")
    pump.flush()
    assert d.result.value.code == "no_such_object"
    d.addErrback(lambda f: None)
    hub.publish("queue", "sales", "Queued", {"call": "c7"})
    pump.flush()
    assert [e["call"] for e in queued] == ["c7"]


def test_the_blocking_client_has_the_same_methods():
    ours, theirs = socket.socketpair()
    theirs.sendall(raw_frame(4, 0, {"event": "AgentReady", "agent": "1005"})
                   + raw_frame(2, 1, {"service": "Supervise",
                                      "result": {"call": "c1", "mode": "barge"}})
                   + raw_frame(3, 2, {"code": "forbidden", "message": "agents may not",
                                      "service": "ClearCall"}))
    with BlockingAgentClient.from_socket(ours, timeout=5) as sup:
        assert sup.supervise("1005", "barge") == {"call": "c1", "mode": "barge"}
        with pytest.raises(RemoteError) as e:
            sup.clear_call("c1")
        assert e.value.code == "forbidden"
        assert sup.next_event(timeout=1)[0] == "AgentReady"
    sent = [m.body for _, m in Framer().feed(theirs.recv(65536))]
    assert sent == [{"service": "Supervise", "params": {"agent": "1005", "mode": "barge"}},
                    {"service": "ClearCall", "params": {"call": "c1"}}]
    theirs.close()
