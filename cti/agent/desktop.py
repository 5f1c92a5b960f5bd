# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""The agent desktop: state, calls, screen pop, queues, statistics.

Starting up, it does what docs/protocol.md section 9 says a desktop
does: monitor the agent (its snapshot comes back), its station (the
screen pop arrives as the station's `Delivered`) and each of its queues,
and log the agent on if it is logged off.  Then everything is a key:

    r ready          n not ready (asks the reason)   l log on / log off
    a answer         x reject while ringing, hang up after
    h hold / retrieve
    t transfer (blind: to an agent, a queue, a flow or a number)
    u consult (an agent, a queue's agent, a number; or send the caller
      through a flow and back)
    c complete the transfer   f conference
    k reconnect (drop the consultation, back to the caller)
    d send DTMF      e edit the customer record     ctrl+s save it
    escape           leave the record                ctrl+q quit

A key shows in the footer only when it applies (answer while ringing,
complete while consulting).  `r` and `n` on a call are not refused: the
server takes them as the state to go to after the call (the state bar
shows it as pending).
"""
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input

from cti.agent.console import Console
from cti.agent.dialogs import Ask, Pick
from cti.agent.model import Desk
from cti.agent.widgets import (
    QueueView,
    RecordForm,
    ScreenPop,
    StateBar,
    StatsView,
    state_label,
)

#: Where a call may be transferred or consulted, as the services name them.
DESTINATIONS = [("agent", "an agent"), ("queue", "a queue"), ("flow", "a flow (the IVR)"),
                ("number", "an outside number")]


class AgentDesktop(Console):
    TITLE = "cti agent"
    ENABLE_COMMAND_PALETTE = False
    CSS = Console.CSS + """
    StateBar { height: 1; padding: 0 1; text-style: bold; background: $panel; }
    StateBar.state-ready { background: $success; }
    StateBar.state-notReady, StateBar.state-loggedOff { background: $error; }
    StateBar.state-reserved, StateBar.state-busy { background: $warning; color: $text; }
    #main { height: 1fr; }
    ScreenPop { width: 3fr; border: round $accent; padding: 0 1; }
    #side { width: 2fr; }
    QueueView { height: 2fr; border: round $accent; }
    StatsView { height: 1fr; border: round $accent; padding: 0 1; }
    #call-info { height: auto; margin-bottom: 1; }
    .field { height: 3; }
    .key { width: 16; padding: 1 1 0 0; }
    .field Input { width: 1fr; }
    """
    BINDINGS = [
        Binding("r", "ready", "Ready"),
        Binding("n", "not_ready", "Not ready"),
        Binding("l", "log_on_off", "Log on/off"),
        Binding("a", "answer", "Answer"),
        Binding("x", "clear", "Reject/hang up"),
        Binding("h", "hold", "Hold/retrieve"),
        Binding("t", "transfer", "Transfer"),
        Binding("u", "consult", "Consult"),
        Binding("c", "complete", "Complete"),
        Binding("f", "conference", "Conference"),
        Binding("k", "reconnect", "Reconnect"),
        Binding("d", "dtmf", "DTMF"),
        Binding("e", "edit", "Edit record"),
        Binding("ctrl+s", "save", "Save record"),
        Binding("escape", "leave", "Leave record", show=False),
    ]
    NEEDS = {"ready": "SetAgentState", "not_ready": "SetAgentState",
             "log_on_off": "SetAgentState", "answer": "AnswerCall",
             "clear": "ClearConnection", "hold": "HoldCall", "transfer": "SingleStepTransferCall",
             "consult": "ConsultationCall", "complete": "TransferCall",
             "conference": "ConferenceCall", "reconnect": "ReconnectCall",
             "dtmf": "SendDTMF", "edit": "SetCallData", "save": "SetCallData"}

    def __init__(self, client, session, clock, agent_id, station=None):
        super().__init__(client, session, clock)
        self.desk = Desk(agent_id, station, clock.seconds)
        self.station_monitored = None

    def compose(self):
        yield Header()
        yield StateBar()
        with Horizontal(id="main"):
            yield ScreenPop()
            with Vertical(id="side"):
                yield QueueView()
                yield StatsView()
        yield self.status()
        yield Footer()

    # -- starting up ----------------------------------------------------------------
    async def start(self):
        desk = self.desk
        self.sub_title = f"agent {desk.agent_id}"
        watched = await self.ask(self.client.monitor_start("agent", desk.agent_id))
        if watched is None:
            return
        desk.set_agent(watched["snapshot"])
        self.monitor_station()
        for queue in desk.agent.get("queues", []):
            watched = await self.ask(self.client.monitor_start("queue", queue))
            if watched is not None:
                desk.queues.set(watched["snapshot"])
        if desk.agent.get("call"):
            snapshot = await self.ask(self.client.snapshot("call", desk.agent["call"]))
            if snapshot is not None:
                desk.show_call(snapshot["snapshot"])
        if desk.state == "loggedOff":
            result = await self.ask(self.client.set_agent_state("loggedOn",
                                                                station=desk.station))
            if result is not None:
                self._agent_answer(result)

    def monitor_station(self):
        """Monitor the station the agent is at, once it is known."""
        station = self.desk.station
        if station and station != self.station_monitored:
            self.station_monitored = station
            self.send(self.client.monitor_start("device", station))

    # -- the model ------------------------------------------------------------------
    def apply(self, body):
        return self.desk.apply(body)

    def redraw(self):
        desk = self.desk
        self.query_one(StateBar).show(desk)
        self.query_one(ScreenPop).show(desk)
        self.query_one(QueueView).show(desk.queues, desk.agent.get("queues", []))
        self.query_one(StatsView).show(desk)

    def allowed(self, action):
        desk, call = self.desk, self.desk.call
        logged_on = desk.state != "loggedOff"
        live = call is not None and call.live
        if action in ("ready", "not_ready"):
            return logged_on
        if action == "log_on_off":
            return desk.state in ("loggedOff", "notReady", "ready", "workingAfterCall")
        if action == "answer":
            return live and call.state == "alerting"
        if action == "clear":
            return live
        if action == "edit":
            return live and bool(call.data)
        if action in ("hold", "dtmf", "save"):
            return live and call.state in ("connected", "hold")
        if action in ("transfer", "consult"):
            return live and call.state in ("connected", "hold") and not call.consult
        return live and call.consult is not None       # complete, conference, reconnect

    # -- agent state ----------------------------------------------------------------
    def _agent_answer(self, result):
        self.desk.set_agent({k: v for k, v in result.items() if k != "result"})
        if result.get("result") == "pending":
            self.say(state_label(result.get("pendingState"), result.get("pendingReason") or "")
                     + " after the call")
        self.monitor_station()

    def action_ready(self):
        self.send(self.client.set_agent_state("ready"), self._agent_answer, done="Ready")

    def action_not_ready(self):
        def chosen(reason):
            if reason is not None:
                self.send(self.client.set_agent_state("notReady", reason=reason or None),
                          self._agent_answer, done="Not ready")
        self.push_screen(Ask("Not ready: reason", "lunch, training... (Enter: none)"), chosen)

    def action_log_on_off(self):
        if self.desk.state == "loggedOff":
            self.send(self.client.set_agent_state("loggedOn", station=self.desk.station),
                      self._agent_answer, done="Logged on")
        else:
            self.send(self.client.set_agent_state("loggedOff"), self._agent_answer,
                      done="Logged off")

    # -- the call -------------------------------------------------------------------
    def action_answer(self):
        self.send(self.client.answer_call(call=self.desk.call.call), done="Answered")

    def action_clear(self):
        ringing = self.desk.call.state == "alerting"
        self.send(self.client.clear_connection(call=self.desk.call.call),
                  done="Rejected" if ringing else "Hung up")

    def action_hold(self):
        call = self.desk.call
        if call.state == "hold":
            self.send(self.client.retrieve_call(call.call), done="Retrieved")
        else:
            self.send(self.client.hold_call(call.call), done="On hold")

    def action_transfer(self):
        call = self.desk.call.call

        def where(kind):
            def transfer(name):
                if name:
                    self.send(self.client.single_step_transfer_call(call, **{kind: name}),
                              done=f"Transferred to {kind} {name}")
            if kind is not None:
                self.push_screen(Ask(f"Transfer {call} to {kind}:"), transfer)
        self.push_screen(Pick(f"Transfer {call} to", DESTINATIONS), where)

    def action_consult(self):
        call = self.desk.call

        def consulted(result):
            call.consult = result["consultCall"]

        def where(kind):
            def consult(name):
                if name:
                    self.send(self.client.consultation_call(call.call, **{kind: name}),
                              consulted, done=f"Consulting {kind} {name}")
            if kind is not None:
                self.push_screen(Ask(f"Consult {kind}:"), consult)
        self.push_screen(Pick(f"Consult about {call.call}", DESTINATIONS), where)

    def _consulted(self, method, done):
        call = self.desk.call

        def over(_result):
            call.consult = None
        self.send(method(call.call, call.consult), over, done=done)

    def action_complete(self):
        self._consulted(self.client.transfer_call, "Transferred")

    def action_conference(self):
        self._consulted(self.client.conference_call, "Conference")

    def action_reconnect(self):
        self._consulted(self.client.reconnect_call, "Back to the caller")

    def action_dtmf(self):
        call = self.desk.call.call

        def send(digits):
            if digits:
                self.send(self.client.send_dtmf(call, digits), done=f"Sent {digits}")
        self.push_screen(Ask("Send DTMF:", "0-9 * # A-D"), send)

    # -- the customer record ----------------------------------------------------------
    def action_edit(self):
        fields = self.query_one(RecordForm).query(Input)
        if fields:
            fields.first().focus()

    def action_leave(self):
        self.query_one("#waiting", DataTable).focus()

    def action_save(self):
        form = self.query_one(RecordForm)
        changes = form.changes()
        if not changes:
            self.say("Nothing to save")
            return
        call = self.desk.call

        def saved(result):
            call.data = dict(result.get("data", call.data))
            if form.call == call.call:
                form.accept(call.data)
        self.send(self.client.set_call_data(call.call, changes), saved, done="Record saved")
