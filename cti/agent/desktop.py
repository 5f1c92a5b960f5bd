# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""The agent desktop: state, calls, screen pop, queues, statistics.

Starting up, it does what docs/protocol.md section 9 says a desktop
does: monitor the agent (its snapshot comes back), its station (the
screen pop arrives as the station's `Delivered`) and each of its queues,
and log the agent on if it is logged off.  It does all that again, from
nothing, each time it reconnects after losing the connection
(cti.agent.console says how); the server keeps the agent's state for
it meanwhile, so the agent is logged on again only if the server has it
logged off.  Then everything is a key:

    r ready          n not ready (asks the reason)   l log on / log off
    b a locked break (not ready with a password: r, n, l then ask it)
    w wrap-up (no calls until r or n; on a call: after it)
    a answer         x reject while ringing, hang up after
    o call out: an outside number, or another agent (internal)
    h hold / retrieve
    t transfer (blind: to an agent, a queue, a flow or a number)
    u consult (an agent, a queue's agent, a number; or send the caller
      through a flow and back)
    c complete the transfer   f conference
    k reconnect (drop the consultation, back to the caller)
    p in a conference: a party talks or only listens (and one who
      listens and presses a key asks to speak: the screen pop says so)
    d send DTMF      e edit the customer record     ctrl+s save it
    ctrl+n add a field to the record (its name, then its value)
    escape           leave the record                ctrl+q quit

The record stays editable in the wrap-up after the call (notes, the
outcome): the server saves it to the customer database then too.

A key shows in the footer only when it applies (answer while ringing,
complete while consulting).  `n` and `w` on a call are not refused: the
server takes them as the state to go to after the call (the state bar
shows it as pending), and `r` cancels such a pending state.  The states
the keys go to and the status line names are in the words of every
screen (cti.words).
"""
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input

from cti.agent.console import DESTINATIONS, Console
from cti.agent.dialogs import Ask, Pick
from cti.agent.model import Desk
from cti.agent.widgets import (
    ROLE_WORDS,
    QueueView,
    RecordForm,
    ScreenPop,
    StateBar,
    StatsView,
)
from cti.words import agent_state

#: Whom an agent may call (MakeCall): the same names, fewer choices.
CALLS_OUT = [("number", "an outside number"), ("agent", "another agent (internal call)")]


def key_label(state):
    """The footer's label of the key that goes to `state`: its words."""
    return agent_state(state).capitalize()


def now_in(state, reason=None):
    """The status line once the server took `state`: "Now not ready (lunch)"."""
    return f"Now {agent_state(state, reason)}"


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
        Binding("r", "ready", key_label("ready")),
        Binding("n", "not_ready", key_label("notReady")),
        Binding("l", "log_on_off", "Log on/off"),
        Binding("b", "locked_break", "Locked break"),
        Binding("w", "after_call_work", key_label("workingAfterCall")),
        Binding("a", "answer", "Answer"),
        Binding("x", "clear", "Reject/hang up"),
        Binding("o", "make_call", "Call out"),
        Binding("h", "hold", "Hold/retrieve"),
        Binding("t", "transfer", "Transfer"),
        Binding("u", "consult", "Consult"),
        Binding("c", "complete", "Complete"),
        Binding("f", "conference", "Conference"),
        Binding("k", "reconnect", "Reconnect"),
        Binding("p", "party_role", "Talk/listen"),
        Binding("d", "dtmf", "DTMF"),
        Binding("e", "edit", "Edit record"),
        Binding("ctrl+s", "save", "Save record"),
        Binding("ctrl+n", "add_field", "New field"),
        Binding("escape", "leave", "Leave record", show=False),
    ]
    NEEDS = {"ready": "SetAgentState", "not_ready": "SetAgentState",
             "log_on_off": "SetAgentState", "locked_break": "SetAgentState",
             "after_call_work": "SetAgentState", "answer": "AnswerCall",
             "clear": "ClearConnection", "make_call": "MakeCall", "hold": "HoldCall",
             "transfer": "SingleStepTransferCall", "consult": "ConsultationCall",
             "complete": "TransferCall", "conference": "ConferenceCall",
             "reconnect": "ReconnectCall", "party_role": "SetPartyRole", "dtmf": "SendDTMF",
             "edit": "SetCallData", "save": "SetCallData", "add_field": "SetCallData"}

    def __init__(self, client, session, clock, agent_id, station=None, **reconnecting):
        """`reconnecting`: `dial` and `reconnect_s` (cti.agent.console)."""
        super().__init__(client, session, clock, **reconnecting)
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
        """From a new desk, at start and after a reconnection.  The agent
        is logged on only if the server says it is logged off (at the
        station it was last at): a server that kept it (the agent's state
        outlives a lost connection for a while, and a restart when
        restored) has it as it was.  A call that ended stays on screen, its
        record still editable in the wrap-up."""
        old = self.desk
        desk = self.desk = Desk(old.agent_id, old.station, self.clock.seconds)
        if old.call is not None and not old.call.live:
            desk.call = old.call
        self.station_monitored = None
        self.sub_title = f"agent {desk.agent_id}"
        watched = await self.ask(self.client.monitor_start("agent", desk.agent_id))
        if watched is None:
            return
        desk.set_agent(watched["snapshot"])
        self.monitor_station()
        for queue in desk.serves:
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
        call = self.desk.call
        if body.get("event") == "MonitorEnded":   # the server ended it: nothing to stop
            if call is not None and call.monitor == body.get("monitor"):
                call.monitor = None
            return False
        changed = self.desk.apply(body)
        if call is not None and body.get("event") == "CallCleared" \
                and body.get("call") == call.call:
            call.monitor = None              # the server ends a call's monitors with it
        if call is not None and not call.live and call.monitor is not None:
            self._stop_watching(call)        # the conference is over
        return changed

    def redraw(self):
        desk = self.desk
        self.query_one(StateBar).show(desk)
        self.query_one(ScreenPop).show(desk)
        self.query_one(QueueView).show(desk.queues, desk.serves)
        self.query_one(StatsView).show(desk)

    def allowed(self, action):
        desk, call = self.desk, self.desk.call
        logged_on = desk.state != "loggedOff"
        live = call is not None and call.live
        if action in ("ready", "not_ready", "locked_break"):
            return logged_on
        if action == "after_call_work":
            return logged_on and not desk.locked
        if action == "log_on_off":
            return desk.state in ("loggedOff", "notReady", "ready", "workingAfterCall")
        if action == "make_call":
            return desk.state in ("ready", "notReady") and not live
        if action == "answer":
            return live and call.state == "alerting" and not call.outgoing
        if action == "clear":
            return live
        if action == "party_role":
            return live and call.state == "connected" and bool(call.parties)
        if action in ("edit", "save", "add_field"):   # on the call, or in its wrap-up
            editable = call is not None and (
                call.state in ("connected", "hold")
                or call.state == "ended" and desk.state == "workingAfterCall")
            return editable and (action != "edit" or bool(self.query_one(RecordForm).fields))
        if action in ("dtmf", "hold"):        # not an internal call to this agent
            return live and call.state in ("connected", "hold") and not desk.called
        if action in ("transfer", "consult"):
            return live and call.state in ("connected", "hold") and not call.consult \
                and not desk.called
        return live and call.consult is not None       # complete, conference, reconnect

    # -- agent state ----------------------------------------------------------------
    def _agent_answer(self, result):
        self.desk.set_agent({k: v for k, v in result.items() if k != "result"})
        if result.get("result") == "pending":
            self.say("After the call: "
                     + agent_state(result.get("pendingState"), result.get("pendingReason")))
        self.monitor_station()

    def _set_state(self, state, done, **params):
        """SetAgentState; during a locked break the lock is asked first."""
        def send(lock):
            if lock is not None:
                self.send(self.client.set_agent_state(state, lock=lock or None, **params),
                          self._agent_answer, done=done)
        if self.desk.locked:
            self.push_screen(Ask("The break is locked: its password", secret=True), send)
        else:
            send("")

    def _ask_reason(self, then):
        self.push_screen(Ask("Not ready: reason", "lunch, training... (Enter: none)"),
                         lambda reason: reason is not None and then(reason or None))

    def action_ready(self):
        self._set_state("ready", now_in("ready"))

    def action_not_ready(self):
        self._ask_reason(lambda reason: self._set_state("notReady", now_in("notReady", reason),
                                                        reason=reason))

    def action_locked_break(self):
        """Not ready, locked: the reason, then the password that ends it (a
        break already locked needs its own password, which stays)."""
        def locked(reason, lock):
            if lock:
                self.send(self.client.set_agent_state("notReady", reason=reason, lock=lock),
                          self._agent_answer, done=now_in("notReady", reason) + ", locked")
        self._ask_reason(lambda reason: self.push_screen(
            Ask("Lock the break with a password", secret=True),
            lambda lock: locked(reason, lock)))

    def action_after_call_work(self):
        self.send(self.client.set_agent_state("workingAfterCall"), self._agent_answer,
                  done=now_in("workingAfterCall") + ": r or n ends it")

    def action_log_on_off(self):
        if self.desk.state == "loggedOff":
            self.send(self.client.set_agent_state("loggedOn", station=self.desk.station),
                      self._agent_answer, done="Logged on")
        else:
            self._set_state("loggedOff", now_in("loggedOff"))

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

    def action_make_call(self):
        self._destination("Call", CALLS_OUT, lambda kind, name: self.send(
            self.client.make_call(**{kind: name}), done=f"Calling {kind} {name}"))

    def action_transfer(self):
        call = self.desk.call.call
        self._destination(f"Transfer {call} to", DESTINATIONS, lambda kind, name: self.send(
            self.client.single_step_transfer_call(call, **{kind: name}),
            done=f"Transferred to {kind} {name}"))

    def action_consult(self):
        call = self.desk.call

        def consulted(result):
            call.consult = result["consultCall"]
        self._destination(f"Consult about {call.call} with", DESTINATIONS, lambda kind, name:
                          self.send(self.client.consultation_call(call.call, **{kind: name}),
                                    consulted, done=f"Consulting {kind} {name}"))

    def _consulted(self, method, done, then=None):
        call = self.desk.call

        def over(result):
            call.consult = None
            if then is not None:
                then(result)
        self.send(method(call.call, call.consult), over, done=done)

    def action_complete(self):
        self._consulted(self.client.transfer_call, "Transferred")

    def action_conference(self):
        call = self.desk.call

        def parties(result):
            for device in result.get("parties", []):
                call.parties.setdefault(device, "talk")
            if call.monitor is None:         # the other parties' comings and goings
                self.send(self.client.monitor_start("call", call.call), watching)

        def watching(result):
            call.monitor = result["monitor"]
            if not call.live:                # ended meanwhile
                self._stop_watching(call)
        self._consulted(self.client.conference_call, "Conference: p sets who talks", parties)

    def _stop_watching(self, call):
        monitor, call.monitor = call.monitor, None
        if monitor is not None and self.connected:
            self.send(self.client.monitor_stop(monitor))

    def action_reconnect(self):
        self._consulted(self.client.reconnect_call, "Back to the caller")

    def action_party_role(self):
        """Pick a party of the conference; it changes between talking and
        only listening (a listener asking to speak is offered first)."""
        call = self.desk.call
        choices = [(device, f"{device}: {ROLE_WORDS[role]}"
                    + (f", asks to speak ({call.speak[device]})" if device in call.speak else ""))
                   for device, role in sorted(call.parties.items())]

        def toggle(device):
            if device is None:
                return
            role = "listen" if call.parties[device] == "talk" else "talk"
            self.send(self.client.set_party_role(call.call, device, role),
                      lambda result: call.set_role(result["device"], result["role"]),
                      done=f"{device} {ROLE_WORDS[role]}")
        first = next(iter(sorted(call.speak)), None)
        self.push_screen(Pick("Talk or listen: Enter changes the party", choices, first), toggle)

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

    def action_add_field(self):
        """A field the record does not have yet (notes, an outcome): its
        name, then its value; ctrl+s saves it with the other edits."""
        form = self.query_one(RecordForm)

        def named(name):
            name = (name or "").strip()
            if not name:
                return
            if name in form.fields:
                self.say(f"The record has a field {name!r} already", error=True)
                return
            form.add(name).focus()
        self.push_screen(Ask("New field: its name", "notes, outcome..."), named)

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
            record = result.get("record")          # the site's customer database
            if record is not None and not record["saved"]:
                self.say("Saved with the call, not in the customer database: "
                         + record["message"], error=True)
        self.send(self.client.set_call_data(call.call, changes), saved, done="Record saved")
