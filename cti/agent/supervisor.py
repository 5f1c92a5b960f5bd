# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop,tests.test_console_spans -*-
"""The supervisor console: every agent and queue, live, and the actions.

It learns the floor from the server, not from a configuration file, so
it runs on any machine that reaches the server:

1. `MonitorStart` with id `*`, for `agent` and for `queue`: from then on
   every agent event and every queue event reaches the console, about
   the agents and queues it knows and those it does not know yet.
2. `Snapshot` with id `*`, for each: every agent and every queue as they
   are now, a list; the grids start from them.
3. Events keep the grids current.  An agent event carries the agent's
   whole snapshot: its row changes, or appears.  A queue's call events
   (`Queued`, `ConnectionCleared`) move its waiting callers; a queue
   first heard of in an event gets a row at once.
4. A queue's figures (agents by state and by not-ready reason, service
   level, ASA, AHT, abandoned, handled) are the server's sums, and no
   event carries them; nor does an event say that a call is recorded.
   So the console re-reads every queue and every call (`Snapshot` queue
   `*`, call `*`) every `refresh_s` seconds, on its clock: the reactor
   when it runs, a `task.Clock` that tests advance.
5. The lines: calls stop coming when a T1 span is in alarm, and the
   supervisor should see why at once.  `Snapshot` device `*` lists every
   device the session may see; those of kind `span` are monitored
   (`MonitorStart` device `dtiB1`), and the monitor's snapshot is where
   the span's state starts from (the list only names them: an alarm
   between the two is in the monitor's snapshot or in an event after
   it).  Its events (`SpanAlarm`, `SpanAlarmCleared`, `SpanInService`)
   keep the line under the header current:

       dtiB1 DOWN red since 12:03:05 — 24 timeslots out of service
       dtiB1 recovering since 12:03:40 — 24 timeslots out of service
       Lines: all in service

   A login that may see no span (a supervisor with teams sees only its
   teams' stations) finds none and shows no line; a refusal of the list
   or of a monitor (`forbidden`, `no_such_object`: the span is gone
   since) only means that, and is not put on the status line.  Read once
   per session: no figure of a span changes without an event.
6. With `--station`, it monitors that phone too: a caller taken over
   with `i` (intercept) is connected there, and is then the supervisor's
   own call, with its own keys (below) until it leaves the phone.
7. When the connection is lost, it reconnects by itself
   (cti.agent.console) and does all this again from an empty floor:
   the grids and the lines are the server's snapshots again.  A
   supervision still in progress is not shown (its events went to the
   session that ended); `m`, `w` or `b` on the agent brings it back, as
   a change of mode.

Answers and events are handled in the order they arrive
(cti.agent.console), so a snapshot replaces what the events before it
said, and the events after it are applied on top of it.  Waits and times
in a state keep counting on the console's clock between updates
(cti.agent.model).

The keys act on the agent under the cursor of the agents grid, or, for
the strategy, on the queue under the cursor of the queues grid (tab
moves between the grids):

    m monitor (silent)   w whisper (the agent hears you)   b barge (both do)
    e end the supervision       i intercept (take the caller; the agent drops)
    v supervise the agent's next call       x release the agent's call (asks first)
    h hold / retrieve the agent's call      f transfer it (an agent, a queue, a flow,
                                              a number)
    y force ready     n force not ready (asks the reason)     o force log out
    t the agent's team: ready, not ready or log out, every agent at once
    r record the agent's call / stop (whoever started it)
    s the queue's strategy

Keys for the supervisor's own call (a caller taken over with `i`):

    H hold / retrieve it     F transfer it (an agent, a queue, a flow, a number)
    U consult (an agent, a queue's agent, a number, a flow; the caller holds)
    C complete the transfer to the one consulted    J conference them in
    K reconnect (drop the consultation, back to the caller)
    X hang up (or put the phone down): in a conference the others talk on;
      while consulting, the caller goes to the one consulted

`m`, `w` and `b` on an agent already supervised change the mode; `e`
also cancels a `v` still waiting for the call.  Your own phone
(`--station`) is the one that joins the calls: without it `m`, `w`, `b`
and `v` are not offered.

A forced state changes as if the agent had asked: at once, or when the
agent's call ends (a not ready or a log-out during a call), or not at
all (an agent logged off cannot be made ready).  The server's answer
says which, agent by agent, and the status line sums it up; the rows
change with the agent events, as for any change.
"""
from textual.binding import Binding
from textual.widgets import DataTable, Footer, Header, Static
from twisted.internet.task import LoopingCall

from cti.agent.console import DESTINATIONS, Console
from cti.agent.dialogs import Ask, Pick
from cti.agent.model import Floor, duration
from cti.agent.widgets import SpanLines, fill
from cti.protocol.client import RemoteError
from cti.server.config import STRATEGIES
from cti.words import agent_state, in_words

MODES = [("monitor", "monitor: silent, undetectable"), ("whisper", "whisper: the agent hears"),
         ("barge", "barge: the agent and the caller hear")]
#: What the team key may force on every agent of a team.
TEAM_STATES = [("ready", agent_state("ready")),
               ("notReady", agent_state("notReady", "asks the reason")),
               ("loggedOff", agent_state("loggedOff"))]
#: The order in which the queue grid counts agents by state: the available first.
BY_STATE = ("ready", "reserved", "busy", "workingAfterCall", "notReady", "loggedOff")
#: What became of each agent a forced state was asked for, as the status line says it.
OUTCOMES = {"done": "done", "pending": "after the call", "refused": "refused"}
#: Refusals of the span list or a span's monitor that only say this login
#: is not to watch it: no news for the status line (step 5 above).
UNSEEN = frozenset({"forbidden", "no_such_object"})


def outcome(agents):
    """How a ForceAgentState went (its result's `agents`): for one agent
    "done", "after the call" or "refused (1007: invalid_state ...)"; for a
    team, how many of each, the refusals named:
    "3 done, 1 after the call, 1 refused (1007: invalid_state ...)"."""
    parts = []
    for result, word in OUTCOMES.items():
        these = [a for a in agents if a["result"] == result]
        if not these:
            continue
        part = word if len(agents) == 1 else f"{len(these)} {word}"
        if result == "refused":
            part += " (" + ", ".join(f"{a['agent']}: {a['code']} {in_words(a['message'])}"
                                     for a in these) + ")"
        parts.append(part)
    return ", ".join(parts)


def by_state(states):
    """{"notReady": 1, "ready": 2} -> "ready 2, not ready 1"."""
    order = [s for s in BY_STATE if s in states] + sorted(set(states) - set(BY_STATE))
    return ", ".join(f"{agent_state(s)} {states[s]}" for s in order)


def by_reason(reasons):
    """{"login": 1, "lunch": 2} -> "lunch 2, login 1": the most common first."""
    order = sorted(reasons, key=lambda reason: (-reasons[reason], reason))
    return ", ".join(f"{reason or 'no reason'} {reasons[reason]}" for reason in order)


#: The agents grid's columns (`_agent_row` gives a row's cells in this order).
AGENT_COLUMNS = ("Agent", "Name", "Team", "State", "Reason", "Time", "Call", "Supervision")


class SupervisorConsole(Console):
    TITLE = "cti supervisor"
    ENABLE_COMMAND_PALETTE = False
    CSS = Console.CSS + """
    #spans { height: auto; padding: 0 1; background: $panel; }
    #spans.recovering { background: $warning; color: $text; }
    #spans.down { background: $error; color: $text; text-style: bold; }
    #supervision { height: 1; padding: 0 1; background: $panel; }
    #agents { height: 3fr; border: round $accent; }
    #queues { height: 2fr; border: round $accent; }
    """
    BINDINGS = [
        Binding("m", "supervise('monitor')", "Monitor"),
        Binding("w", "supervise('whisper')", "Whisper"),
        Binding("b", "supervise('barge')", "Barge"),
        Binding("e", "end", "End"),
        Binding("i", "intercept", "Intercept"),
        Binding("v", "next_call", "Next call"),
        Binding("h", "hold", "Hold/retrieve"),
        Binding("f", "transfer", "Transfer"),
        Binding("x", "release", "Release call"),
        Binding("y", "ready", "Force ready"),
        Binding("n", "not_ready", "Force not ready"),
        Binding("o", "log_out", "Force log out"),
        Binding("t", "team", "Team"),
        Binding("r", "record", "Record/stop"),
        Binding("s", "strategy", "Strategy"),
        Binding("H", "hold_mine", "Hold/retrieve mine"),
        Binding("F", "transfer_mine", "Transfer mine"),
        Binding("U", "consult_mine", "Consult"),
        Binding("C", "complete_mine", "Complete"),
        Binding("J", "conference_mine", "Conference"),
        Binding("K", "reconnect_mine", "Reconnect"),
        Binding("X", "hang_up_mine", "Hang up mine"),
    ]
    NEEDS = {"supervise": "Supervise", "end": "EndSupervision", "intercept": "Intercept",
             "next_call": "MonitorNextCall", "hold": "HoldCall",
             "transfer": "SingleStepTransferCall", "release": "ClearCall",
             "ready": "ForceAgentState", "not_ready": "ForceAgentState",
             "log_out": "ForceAgentState", "team": "ForceAgentState",
             "record": "StartRecording", "strategy": "SetQueueStrategy",
             "hold_mine": "HoldCall", "transfer_mine": "SingleStepTransferCall",
             "hang_up_mine": "ClearConnection", "consult_mine": "ConsultationCall",
             "complete_mine": "TransferCall", "conference_mine": "ConferenceCall",
             "reconnect_mine": "ReconnectCall"}

    def __init__(self, client, session, clock, station=None, refresh_s=5.0, **reconnecting):
        """`reconnecting`: `dial` and `reconnect_s` (cti.agent.console)."""
        super().__init__(client, session, clock, **reconnecting)
        self.floor = Floor(clock.seconds, station)
        self.station = station
        self.refreshing = LoopingCall(self.read_figures)
        self.refreshing.clock = clock
        self.refresh_s = refresh_s

    def compose(self):
        yield Header()
        yield SpanLines(id="spans")
        yield Static(id="supervision")
        agents = DataTable(id="agents", cursor_type="row")
        agents.border_title = "Agents"
        agents.add_columns(*AGENT_COLUMNS)
        yield agents
        queues = DataTable(id="queues", cursor_type="row")
        queues.border_title = "Queues"
        queues.add_columns("Queue", "Strategy", "Waiting", "Longest", "Agents",
                           "Not-ready reasons", "SL", "ASA", "AHT", "Abandoned", "Handled")
        yield queues
        yield self.status()
        yield Footer()

    async def start(self):
        """Steps 1, 2, 4, 5 and 6 above, from an empty floor: at start and
        after each reconnection."""
        self.floor = Floor(self.clock.seconds, self.station)
        for kind in ("agent", "queue"):
            self.send(self.client.monitor_start(kind, "*"))
        if self.station is not None:
            self.send(self.client.monitor_start("device", self.station))
        self.send(self.client.snapshot_all("agent"), self._agents_read)
        self._quietly(self.client.snapshot_all("device"), self._devices_read)
        if self.refreshing.running:
            self.refreshing.stop()
        self.refreshing.start(self.refresh_s, now=True)      # the figures: now, then again
        if self.focused is None:                  # at start; later, where the user left it
            self.query_one("#agents", DataTable).focus()

    def read_figures(self):
        """Ask for every queue's and every call's snapshot; the answers
        replace the queues' figures and which calls are recorded."""
        if self.connected:
            self.send(self.client.snapshot_all("queue"), self._queues_read)
            self.send(self.client.snapshot_all("call"), self.floor.set_calls)

    def _agents_read(self, snapshots):
        for snapshot in snapshots:
            self.floor.set_agent(snapshot)

    def _queues_read(self, snapshots):
        for snapshot in snapshots:
            self.floor.queues.set(snapshot)

    def _devices_read(self, snapshots):
        """Monitor each span of the list; its state comes with the monitor."""
        for snapshot in snapshots:
            if snapshot.get("kind") == "span":
                self._quietly(self.client.monitor_start("device", snapshot["device"]),
                              lambda result: self.floor.spans.set(result["snapshot"]))

    def _quietly(self, d, then):
        """`send(d, then)` for what the console asks of its own accord about
        the lines: a refusal in UNSEEN drops the answer without a word (an
        error on the status line would say nothing the supervisor can act
        on); others are shown as any refusal."""
        unseen = object()

        def refused(failure):
            failure.trap(RemoteError)
            return unseen if failure.value.code in UNSEEN else failure

        def answered(result):
            if result is not unseen:
                then(result)
        d.addErrback(refused)
        self.send(d, answered)

    def on_unmount(self):
        if self.refreshing.running:
            self.refreshing.stop()

    def apply(self, body):
        return self.floor.apply(body)

    # -- drawing --------------------------------------------------------------------
    def redraw(self):
        floor = self.floor
        self.query_one(SpanLines).show(floor.spans)
        fill(self.query_one("#agents", DataTable),
             {a: self._agent_row(floor.agents[a]) for a in sorted(floor.agents)})
        fill(self.query_one("#queues", DataTable),
             {q: self._queue_row(q) for q in sorted(floor.queues.queues)})
        watching = [f"{agent} on {s['call'] or 'the next call'} ({s['mode']})"
                    for agent, s in sorted(floor.supervising.items())]
        line = "Supervising " + ", ".join(watching) if watching else "Not supervising"
        if floor.own is not None:
            own = floor.own
            line += f"  |  Your call {own['call']} with {own['caller'] or 'the caller'}: " + (
                f"consulting on {own['consult']} (C complete, J conference, K reconnect)"
                if own["consult"] else
                f"{'on hold' if own['state'] == 'hold' else 'talking'} "
                "(H hold/retrieve, F transfer, U consult, X hang up)")
        self.query_one("#supervision", Static).update(line)

    def _agent_row(self, a):
        supervision = self.floor.supervising.get(a["agent"])
        marks = [supervision["mode"]] if supervision else []
        if a.get("call") in self.floor.recording:
            marks.append("recording")
        return (a["agent"], a.get("name", ""), a.get("team") or "",
                agent_state(a["state"]),
                a.get("reason") or "", duration(self.floor.in_state(a["agent"])),
                a.get("call") or "", " ".join(marks))

    def _queue_row(self, name):
        q = self.floor.queues.queues[name]
        level = q.get("serviceLevel")
        return (name, q.get("strategy", ""), str(len(q["waiting"])),
                duration(self.floor.queues.longest(name)) or "-",
                by_state(q.get("agents", {})), by_reason(q.get("notReadyReasons", {})),
                "-" if level is None else f"{level:.0%}",
                duration(q.get("asaS")) or "-", duration(q.get("ahtS")) or "-",
                str(q.get("abandoned", "-")), str(q.get("handled", "-")))

    # -- what is selected -----------------------------------------------------------
    def _selected(self, table_id, known):
        table = self.query_one(table_id, DataTable)
        if not table.row_count:
            return None
        key = table.coordinate_to_cell_key(table.cursor_coordinate).row_key.value
        return key if key in known else None

    @property
    def agent(self):
        """The agent snapshot under the cursor, or None."""
        agent_id = self._selected("#agents", self.floor.agents)
        return self.floor.agents.get(agent_id)

    def allowed(self, action):
        if action == "strategy":
            return self._selected("#queues", self.floor.queues.queues) is not None
        own = self.floor.own
        if action in ("hold_mine", "transfer_mine", "consult_mine"):
            return own is not None and own["consult"] is None
        if action == "hang_up_mine":
            return own is not None
        if action in ("complete_mine", "conference_mine", "reconnect_mine"):
            return own is not None and own["consult"] is not None
        agent = self.agent
        if agent is None:
            return False
        supervised = agent["agent"] in self.floor.supervising
        if action == "supervise":            # your phone joins: --station, or already in
            return agent.get("call") is not None and (self.station is not None or supervised)
        if action in ("intercept", "record", "release", "hold", "transfer"):
            return agent.get("call") is not None
        if action == "end":
            return supervised
        if action == "next_call":
            return self.station is not None and not supervised \
                and agent["state"] != "loggedOff"
        if action == "team":
            return agent.get("team") is not None
        return agent["state"] != "loggedOff"       # next call, ready, not ready, log out

    def on_data_table_row_highlighted(self, _event):
        if self.shown():                 # not as the app shuts down
            self.refresh_bindings()

    # -- actions --------------------------------------------------------------------
    def action_supervise(self, mode):
        agent = self.agent["agent"]

        def joined(result):
            self.floor.supervising[agent] = {"call": result.get("call"), "mode": mode}
        self.send(self.client.supervise(agent, mode, station=self.station), joined,
                  done=f"{mode.capitalize()}: agent {agent}")

    def action_end(self):
        agent = self.agent["agent"]
        self.send(self.client.end_supervision(agent),
                  lambda _: self.floor.supervising.pop(agent, None),
                  done=f"Left agent {agent}'s call")

    def action_intercept(self):
        agent = self.agent["agent"]
        self.send(self.client.intercept(agent),
                  lambda _: self.floor.supervising.pop(agent, None),
                  done=f"Intercepted: agent {agent}'s caller is yours")

    def action_next_call(self):
        agent = self.agent["agent"]

        def mode(choice):
            def waiting(_result):             # until the call comes; `e` cancels it
                self.floor.supervising[agent] = {"call": None, "mode": choice}
            if choice is not None:
                self.send(self.client.monitor_next_call(agent, choice, self.station),
                          waiting, done=f"Agent {agent}'s next call: {choice}")
        self.push_screen(Pick(f"Supervise agent {agent}'s next call", MODES), mode)

    def action_hold(self):
        agent, call = self.agent["agent"], self.agent["call"]

        def chosen(what):
            if what == "hold":
                self.send(self.client.hold_call(call), done=f"Agent {agent}'s call {call} "
                          "on hold")
            elif what == "retrieve":
                self.send(self.client.retrieve_call(call), done=f"Agent {agent}'s call "
                          f"{call} back with the agent")
        self.push_screen(Pick(f"Agent {agent}'s call {call}",
                              [("hold", "Hold: the caller hears music"),
                               ("retrieve", "Retrieve: back to the agent")]), chosen)

    def action_transfer(self):
        self._transfer(self.agent["call"], f"agent {self.agent['agent']}'s")

    def _transfer(self, call, whose):
        """Blind transfer: pick the kind of destination, type it."""
        self._destination(f"Transfer {whose} call {call} to", DESTINATIONS,
                          lambda kind, name: self.send(
                              self.client.single_step_transfer_call(call, **{kind: name}),
                              done=f"Call {call} transferred to {kind} {name}"))

    def action_release(self):
        agent, call = self.agent["agent"], self.agent["call"]

        def confirmed(answer):
            if answer == "yes":
                self.send(self.client.clear_call(call), done=f"Released call {call}")
        self.push_screen(Pick(f"Release call {call} of agent {agent}?",
                              [("yes", "Release it"), ("no", "Keep it")],
                              "no"), confirmed)         # Enter at once keeps the call

    def _force(self, state, reason=None, **who):
        """ForceAgentState for `agent=` or `team=`; the status line says how
        it went.  The answer's items are not snapshots: the agent events
        that come before it have changed the rows already."""
        subject = f"Agent {who['agent']}" if "agent" in who else f"Team {who['team']}"

        def report(result):
            agents = result["agents"]
            self.say(f"{subject}: {agent_state(state, reason)}, {outcome(agents)}",
                     error=any(a["result"] == "refused" for a in agents))
        self.send(self.client.force_agent_state(state, reason=reason, **who), report)

    def action_ready(self):
        self._force("ready", agent=self.agent["agent"])

    def _force_not_ready(self, subject, **who):
        """Ask the reason, then force not ready (`subject`: "Agent 1005")."""
        def reason(text):
            if text is not None:
                self._force("notReady", text or None, **who)
        self.push_screen(Ask(f"{subject} not ready: reason", "(Enter: none)"), reason)

    def action_not_ready(self):
        agent = self.agent["agent"]
        self._force_not_ready(f"Agent {agent}", agent=agent)

    def action_log_out(self):
        self._force("loggedOff", agent=self.agent["agent"])

    def action_team(self):
        team = self.agent["team"]

        def chosen(state):
            if state == "notReady":
                self._force_not_ready(f"Team {team}", team=team)
            elif state is not None:
                self._force(state, team=team)
        self.push_screen(Pick(f"Team {team}: every agent", TEAM_STATES), chosen)

    def action_record(self):
        """Start recording the agent's call, or stop it if it is recorded
        (by anyone: the call's snapshot says)."""
        call = self.agent["call"]

        def started(result):
            self.floor.recording.add(call)
            self.say(f"Recording {call} to {result.get('file', '?')}")

        def read(result):
            if result["snapshot"].get("recording"):
                self.send(self.client.stop_recording(call),
                          lambda _: self.floor.recording.discard(call),
                          done=f"Stopped recording {call}")
            else:
                self.send(self.client.start_recording(call), started)
        self.send(self.client.snapshot("call", call), read)

    # -- the supervisor's own call (taken over with Intercept) -----------------
    def action_hold_mine(self):
        own = self.floor.own
        if own["state"] == "hold":
            self.send(self.client.retrieve_call(own["call"]),
                      done=f"Your call {own['call']}: back with you")
        else:
            self.send(self.client.hold_call(own["call"]),
                      done=f"Your call {own['call']} on hold")

    def action_transfer_mine(self):
        self._transfer(self.floor.own["call"], "your")

    def action_hang_up_mine(self):
        call = self.floor.own["call"]
        self.send(self.client.clear_connection(call=call), done=f"Hung up call {call}")

    def action_consult_mine(self):
        """The Supervision line follows the consultation from the phone's
        events (cti.agent.model.Floor)."""
        call = self.floor.own["call"]
        self._destination(f"Consult about your call {call} with", DESTINATIONS,
                          lambda kind, name: self.send(
                              self.client.consultation_call(call, **{kind: name}),
                              done=f"Consulting {kind} {name}"))

    def _consulted(self, method, done):
        """TransferCall, ConferenceCall or ReconnectCall on the consultation."""
        own = self.floor.own
        self.send(method(own["call"], own["consult"]), done=done)

    def action_complete_mine(self):
        self._consulted(self.client.transfer_call, "Transferred")

    def action_conference_mine(self):
        self._consulted(self.client.conference_call, "Conference")

    def action_reconnect_mine(self):
        self._consulted(self.client.reconnect_call, "Back to the caller")

    def action_strategy(self):
        name = self._selected("#queues", self.floor.queues.queues)
        snapshot = self.floor.queues.queues[name]

        def chosen(strategy):
            def changed(_result):
                snapshot["strategy"] = strategy
            if strategy is not None:
                self.send(self.client.set_queue_strategy(name, strategy), changed,
                          done=f"Queue {name}: {strategy}")
        self.push_screen(Pick(f"Strategy of queue {name}", [(s, s) for s in STRATEGIES],
                              snapshot.get("strategy")), chosen)
