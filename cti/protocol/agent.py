# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""Every agent and supervisor service as a method, for desktops, bots and scripts.

`AgentClient` wraps a logged-in client (cti.protocol.client.ClientProtocol,
or anything with its `call(service, **params)` returning a Deferred) and
names each service of docs/protocol.md sections 9 and 9b::

    client = yield connect(reactor, "tcp:127.0.0.1:7500")
    yield client.login("1005", "1234", "agent")
    agent = AgentClient(client, "1005")
    yield agent.log_on("msiB1C5");  yield agent.ready()
    yield agent.answer(call);  yield agent.hold(call);  yield agent.retrieve(call)
    yield agent.transfer(call, queue="sales")

Parameters left as None are not sent, so the server's defaults apply.
Errors are the client's RemoteError, with the protocol's `code`.
"""


class AgentClient:
    def __init__(self, client, agent_id=None):
        self.client = client
        self.agent_id = agent_id

    def on_event(self, listener):
        """listener(name, body, invoke_id) for every event the session gets."""
        self.client.on_event(listener)

    def _call(self, service, **params):
        return self.client.call(service, **{k: v for k, v in params.items() if v is not None})

    # -- the agent's state --------------------------------------------------
    def log_on(self, station=None):
        return self._call("SetAgentState", state="loggedOn", station=station)

    def ready(self, lock=None):
        return self._call("SetAgentState", state="ready", lock=lock)

    def not_ready(self, reason="", lock=None):
        return self._call("SetAgentState", state="notReady", reason=reason, lock=lock)

    def after_call_work(self):
        return self._call("SetAgentState", state="workingAfterCall")

    def log_off(self, reason=None, lock=None):
        return self._call("SetAgentState", state="loggedOff", reason=reason, lock=lock)

    # -- calls --------------------------------------------------------------
    def answer(self, call=None):
        return self._call("AnswerCall", call=call)

    def hang_up(self, call=None):
        """Hang up, or reject a call still ringing (it goes to the next agent)."""
        return self._call("ClearConnection", call=call)

    def hold(self, call):
        return self._call("HoldCall", call=call)

    def retrieve(self, call):
        return self._call("RetrieveCall", call=call)

    def transfer(self, call, agent=None, queue=None, flow=None, number=None):
        """Blind: to an agent, a queue, a flow (back to the IVR) or a number."""
        return self._call("SingleStepTransferCall", call=call, agent=agent, queue=queue,
                          flow=flow, number=number)

    def consult(self, call, agent):
        return self._call("ConsultationCall", call=call, agent=agent)

    def complete_transfer(self, call, consult_call):
        return self._call("TransferCall", call=call, consultCall=consult_call)

    def conference(self, call, consult_call):
        return self._call("ConferenceCall", call=call, consultCall=consult_call)

    def reconnect(self, call, consult_call):
        return self._call("ReconnectCall", call=call, consultCall=consult_call)

    def party_role(self, call, device, role):
        return self._call("SetPartyRole", call=call, device=device, role=role)

    def send_dtmf(self, call, digits):
        return self._call("SendDTMF", call=call, digits=digits)

    def make_call(self, number=None, agent=None):
        return self._call("MakeCall", number=number, agent=agent)

    def set_data(self, call, data):
        """Save fields of the customer record: the call's attached data."""
        return self._call("SetCallData", call=call, data=data)

    def start_recording(self, call):
        return self._call("StartRecording", call=call)

    def stop_recording(self, call):
        return self._call("StopRecording", call=call)

    # -- views --------------------------------------------------------------
    def snapshot(self, kind, object_id):
        d = self._call("Snapshot", object=kind, id=object_id)
        return d.addCallback(lambda result: result["snapshot"])

    def monitor(self, kind, object_id):
        return self._call("MonitorStart", object=kind, id=object_id)

    # -- supervisors ----------------------------------------------------------
    def supervise(self, agent, mode, station=None):
        return self._call("Supervise", agent=agent, mode=mode, station=station)

    def end_supervision(self, agent):
        return self._call("EndSupervision", agent=agent)

    def intercept(self, agent):
        return self._call("Intercept", agent=agent)

    def monitor_next_call(self, agent, station, mode="monitor"):
        return self._call("MonitorNextCall", agent=agent, station=station, mode=mode)

    def clear_call(self, call):
        return self._call("ClearCall", call=call)

    def force_state(self, state, agent=None, team=None, reason=None):
        return self._call("ForceAgentState", state=state, agent=agent, team=team,
                          reason=reason)

    def set_strategy(self, queue, strategy):
        return self._call("SetQueueStrategy", queue=queue, strategy=strategy)
