# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""The agent desktop (and, with `supervisor=True`, the supervisor console).

A Textual app over an AgentClient (cti.protocol.agent).  It holds no state
of its own that the server does not: the state bar is the agent's last
snapshot or event, the call panel the last call events at its station,
the queue view and the supervisor's grid are snapshots refreshed every
REFRESH_S and on the events that change them.

Keys (shown in the footer): r ready, n not ready (asks the reason), w
after-call work, a answer, h hang up (or reject a call that rings), o
hold / retrieve, t transfer (asks "queue NAME", "agent ID", "flow NAME" or
a number), c consult an agent, x complete the transfer, f conference,
k reconnect, d DTMF, s save the customer record (the fields under the
call are its attached data, editable).  A supervisor adds, on the agent
selected in the grid: m monitor, g whisper, b barge, e end, i intercept,
p force not ready, l force log out.  Whatever asks for a value asks in the
line at the bottom; Enter sends, Escape cancels.  A refused request shows
the server's error code and message; nothing else changes.

Twisted and Textual share one asyncio loop (cti.agent.run installs
Twisted's asyncio reactor on it), so Deferred callbacks run on the same
thread as the widgets and may update them directly.
"""
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Footer, Header, Input, Static

REFRESH_S = 2.0


class Desk(App):
    CSS = """
    #state { height: 3; padding: 0 1; background: $boost; }
    #call { width: 1fr; padding: 0 1; }
    #side { width: 1fr; }
    #ask { dock: bottom; display: none; }
    DataTable { height: auto; max-height: 16; }
    """
    BINDINGS = [
        Binding("r", "ready", "Ready"), Binding("n", "not_ready", "Not ready"),
        Binding("w", "after_call_work", "ACW"), Binding("a", "answer", "Answer"),
        Binding("h", "hang_up", "Hang up"), Binding("o", "hold", "Hold"),
        Binding("t", "transfer", "Transfer"), Binding("c", "consult", "Consult"),
        Binding("x", "complete", "Complete"), Binding("f", "conference", "Conf"),
        Binding("k", "reconnect", "Reconnect"), Binding("d", "dtmf", "DTMF"),
        Binding("s", "save", "Save record"), Binding("q", "quit", "Quit"),
    ]
    supervisor = False

    def __init__(self, client, agent_id, station=None):
        super().__init__()
        self.client = client
        self.agent_id = agent_id
        self.station = station
        self.agent = {}              # the agent's last snapshot
        self.call = None             # {"call", "ani", "dnis", "queue", "waitS", "data", "state"}
        self.consult_call = None
        self.asking = None           # what the line at the bottom is for

    # -- layout ----------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Header()
        yield Static("", id="state")
        with Horizontal():
            with Vertical(id="call"):
                yield Static("No call", id="pop")
                yield DataTable(id="record")
            with Vertical(id="side"):
                yield Static("Queues", classes="title")
                yield DataTable(id="queues")
                yield Static("", id="stats")
                if self.supervisor:
                    yield Static("Agents", classes="title")
                    yield DataTable(id="grid", cursor_type="row")
        yield Input(id="ask", disabled=True)     # enabled only while it asks
        yield Footer()

    def on_mount(self):
        self.title = f"cti agent {self.agent_id}" + (" (supervisor)" if self.supervisor
                                                       else "")
        self.query_one("#record", DataTable).add_columns("field", "value")
        self.query_one("#queues", DataTable).add_columns(
            "queue", "waiting", "longest", "agents", "SL", "ASA", "AHT", "abandoned")
        if self.supervisor:
            self.query_one("#grid", DataTable).add_columns(
                "agent", "name", "state", "reason", "for s", "call")
        self.client.on_event(self.on_cti_event)
        self.refresh_views()
        self.set_interval(REFRESH_S, self.refresh_views)

    # -- the server's side ---------------------------------------------------
    def request(self, d, done=None):
        """A request's Deferred: `done(result)` on success, the error shown."""
        def ok(result):
            if done is not None:
                done(result)
            return result

        def failed(failure):
            error = failure.value
            self.notify(f"{getattr(error, 'code', 'error')}: "
                        f"{getattr(error, 'body', {}).get('message', str(error))}",
                        severity="error", timeout=8)
        return d.addCallbacks(ok, failed)

    def refresh_views(self):
        if self.agent_id is not None:
            self.request(self.client.snapshot("agent", self.agent_id), self.show_agent)
        queues = ["*"] if self.supervisor else self.agent.get("queues") or []
        for queue in queues:
            self.request(self.client.snapshot("queue", queue), self.show_queues)
        if self.supervisor:
            self.request(self.client.snapshot("agent", "*"), self.show_grid)

    def on_cti_event(self, name, body, invoke_id=0):
        if name.startswith("Agent") and body.get("agent") == self.agent_id:
            self.show_agent(body)
        elif name == "Delivered" and body.get("device") == self.station:
            self.call = {"call": body["call"], "ani": body.get("callingDevice", ""),
                         "dnis": body.get("calledDevice", ""), "queue": body.get("queue"),
                         "waitS": body.get("waitS"), "data": dict(body.get("data") or {}),
                         "state": "ringing", "callback": body.get("number")}
            self.show_call()
        elif self.call is not None and body.get("call") == self.call["call"]:
            if name == "AttachedDataChanged":
                self.call["data"] = dict(body.get("data") or {})
            elif name in ("Established", "Retrieved") and body.get("device") == self.station:
                self.call["state"] = "talking"
            elif name == "Held":
                self.call["state"] = "held"
            elif name in ("ConnectionCleared", "Transferred") \
                    and body.get("device") == self.station or name == "CallCleared":
                self.call = None
            self.show_call()
        elif name in ("SupervisionStarted", "SupervisionChanged", "SupervisionEnded"):
            self.notify(f"{name}: agent {body.get('agent')} {body.get('mode')} "
                        f"{body.get('why', '')}".strip())

    # -- what is shown -------------------------------------------------------------
    def show_agent(self, agent):
        self.agent = agent
        stats = agent.get("statistics") or {}
        pending = agent.get("pendingState")
        self.query_one("#state", Static).update(
            f"Agent {agent.get('agent')} {agent.get('name', '')}  |  {agent.get('state')}"
            + (f" ({agent['reason']})" if agent.get("reason") else "")
            + (f"  |  then {pending}" if pending else "")
            + ("  |  locked" if agent.get("locked") else "")
            + f"  |  station {agent.get('station') or '-'}")
        states = ", ".join(f"{k} {round(v)} s" for k, v in (stats.get("stateS") or {}).items())
        self.query_one("#stats", Static).update(
            f"Calls {stats.get('calls', 0)}, talk {round(stats.get('talkS', 0))} s\n{states}")

    def show_call(self):
        pop = self.query_one("#pop", Static)
        table = self.query_one("#record", DataTable)
        table.clear()
        if self.call is None:
            pop.update("No call")
            return
        c = self.call
        pop.update(f"Call {c['call']} ({c['state']})  from {c['ani'] or 'unknown'}  "
                   f"to {c['dnis'] or '-'}  queue {c['queue'] or '-'}  waited "
                   f"{c['waitS'] if c['waitS'] is not None else '-'} s"
                   + (f"  CALLBACK to {c['callback']}" if c.get("callback") else ""))
        for key, value in sorted(c["data"].items()):
            table.add_row(key, str(value), key=key)

    def show_queues(self, snapshot):
        rows = snapshot if isinstance(snapshot, list) else [snapshot]
        table = self.query_one("#queues", DataTable)
        for q in rows:
            key = q["queue"]
            cells = (key, str(len(q["waiting"])), f"{q['longestWaitS']:.0f}",
                     " ".join(f"{s}:{n}" for s, n in sorted(q["agents"].items())),
                     _pct(q["serviceLevel"]), _secs(q["asaS"]), _secs(q["ahtS"]),
                     str(q["abandoned"]))
            if key in table.rows:
                for column, value in zip(table.columns, cells, strict=True):
                    table.update_cell(key, column, value)
            else:
                table.add_row(*cells, key=key)

    def show_grid(self, agents):
        table = self.query_one("#grid", DataTable)
        for a in agents:
            cells = (a["agent"], a["name"], a["state"], a["reason"],
                     f"{(a.get('statistics') or {}).get('stateS', {}).get(a['state'], 0):.0f}",
                     a["call"] or "")
            if a["agent"] in table.rows:
                for column, value in zip(table.columns, cells, strict=True):
                    table.update_cell(a["agent"], column, value)
            else:
                table.add_row(*cells, key=a["agent"])

    # -- asking for a value --------------------------------------------------------
    def ask(self, what, placeholder):
        self.asking = what
        line = self.query_one("#ask", Input)
        line.placeholder = placeholder
        line.value = ""
        line.disabled = False
        line.display = True
        line.focus()

    def _stop_asking(self):
        self.asking = None
        line = self.query_one("#ask", Input)
        line.display = False
        line.disabled = True
        self.set_focus(None)

    def on_input_submitted(self, event):
        what = self.asking
        self._stop_asking()
        value = event.value.strip()
        if what is not None and value:
            what(value)

    def on_key(self, event):
        if event.key == "escape" and self.asking is not None:
            self._stop_asking()

    # -- the agent's actions -------------------------------------------------------
    def _call_id(self):
        if self.call is None:
            self.notify("no call", severity="warning")
            return None
        return self.call["call"]

    def action_ready(self):
        if self.agent.get("locked"):
            self.ask(lambda lock: self.request(self.client.ready(lock), self.show_agent),
                     "the lock of this break")
        else:
            self.request(self.client.ready(), self.show_agent)

    def action_not_ready(self):
        self.ask(lambda reason: self.request(self.client.not_ready(reason), self.show_agent),
                 "reason for not ready")

    def action_after_call_work(self):
        self.request(self.client.after_call_work(), self.show_agent)

    def action_answer(self):
        if self._call_id():
            self.request(self.client.answer(self.call["call"]))

    def action_hang_up(self):
        if self._call_id():
            self.request(self.client.hang_up(self.call["call"]))

    def action_hold(self):
        call = self._call_id()
        if call:
            held = self.call["state"] == "held"
            self.request(self.client.retrieve(call) if held else self.client.hold(call))

    def action_transfer(self):
        call = self._call_id()
        if call:
            def to(target):
                kind, _, name = target.partition(" ")
                if kind in ("queue", "agent", "flow") and name:
                    self.request(self.client.transfer(call, **{kind: name}))
                else:
                    self.request(self.client.transfer(call, number=target))
            self.ask(to, "queue NAME, agent ID, flow NAME or a number")

    def action_consult(self):
        call = self._call_id()
        if call:
            def done(result):
                self.consult_call = result["consultCall"]
            self.ask(lambda agent: self.request(self.client.consult(call, agent), done),
                     "agent to consult")

    def _with_consult(self, method):
        call = self._call_id()
        if call and self.consult_call:
            consult, self.consult_call = self.consult_call, None
            self.request(method(call, consult))
        elif call:
            self.notify("no consultation", severity="warning")

    def action_complete(self):
        self._with_consult(self.client.complete_transfer)

    def action_conference(self):
        self._with_consult(self.client.conference)

    def action_reconnect(self):
        self._with_consult(self.client.reconnect)

    def action_dtmf(self):
        call = self._call_id()
        if call:
            self.ask(lambda digits: self.request(self.client.send_dtmf(call, digits)),
                     "keys to send")

    def action_save(self):
        """The customer record: field=value edits, saved as attached data."""
        call = self._call_id()
        if call:
            def save(text):
                field, sep, value = text.partition("=")
                if not sep or not field.strip():
                    self.notify("write field=value", severity="warning")
                    return
                self.request(self.client.set_data(call, {field.strip(): value.strip()}))
            self.ask(save, "field=value to save in the customer record")

    # -- the supervisor's actions --------------------------------------------------
    def _selected_agent(self):
        table = self.query_one("#grid", DataTable)
        if not table.row_count:
            return None
        return table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value

    def action_supervise(self, mode):
        agent = self._selected_agent()
        if agent:
            self.request(self.client.supervise(agent, mode, self.station))

    def action_end(self):
        agent = self._selected_agent()
        if agent:
            self.request(self.client.end_supervision(agent))

    def action_intercept(self):
        agent = self._selected_agent()
        if agent:
            self.request(self.client.intercept(agent))

    def action_force(self, state):
        agent = self._selected_agent()
        if agent:
            self.request(self.client.force_state(state, agent=agent),
                         lambda _: self.refresh_views())


class SupervisorDesk(Desk):
    """The desktop plus the grid of agents and the supervisor's actions on
    the agent selected in it (`agent_id` may be None: no agent of one's own)."""

    supervisor = True
    BINDINGS = [
        Binding("m", "supervise('monitor')", "Monitor"),
        Binding("g", "supervise('whisper')", "Whisper"),
        Binding("b", "supervise('barge')", "Barge"), Binding("e", "end", "End"),
        Binding("i", "intercept", "Intercept"),
        Binding("p", "force('notReady')", "Force NR"),
        Binding("l", "force('loggedOff')", "Force off"),
    ]


def _pct(value):
    return "-" if value is None else f"{value * 100:.0f}%"


def _secs(value):
    return "-" if value is None else f"{value:.0f}"
