# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop,tests.test_console_spans -*-
"""The agent desktop's panels, each drawn from the `Desk` (cti.agent.model),
and the supervisor console's line of the T1 spans, from its `Floor`.

A panel has one `show(...)` that redraws it from the model; the app calls
it after every change and once a second (times in a state and waits keep
counting).  Only the customer record keeps something of its own: what
the agent typed and has not saved yet, so an update of the call's data
never overwrites an edit in progress.

    StateBar     ready · 0:42 · then not ready (lunch) after the call
                 (the states in cti.words' words, as everywhere)
    ScreenPop    who calls (ANI, DNIS), from which queue, how long they
                 waited, the call's state, and the RecordForm: the attached
                 data, one field a line, editable
    QueueView    the agent's queues and who waits in them
    StatsView    calls, talk time, time per state since log-in

    SpanLines    (the supervisor's) the T1 spans not in service, one a line:
                 dtiB1 DOWN red, blue since 12:03:05 — 24 timeslots out of service
"""
import json

from rich.cells import cell_len
from rich.text import Text
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import DataTable, Input, Label, Static

from cti.agent.model import duration, time_of_day
from cti.words import agent_state

CALL_STATES = {"alerting": "ringing", "initiated": "calling", "connected": "connected",
               "hold": "on hold", "ended": "ended"}
ROLE_WORDS = {"talk": "talks", "listen": "listens"}
#: A span's state as the supervisor reads it: shouted while it carries no call at all.
SPAN_STATES = {"down": "DOWN", "recovering": "recovering", "in_service": "in service"}


class StateBar(Static):
    def show(self, desk):
        agent = desk.agent
        parts = [f"{agent.get('name', '')} [{desk.agent_id}]",
                 f"at {desk.station}" if desk.station else "no station",
                 agent_state(desk.state, agent.get("reason"))
                 + (" · locked" if desk.locked else ""),
                 duration(desk.in_state())]
        ends = agent.get("wrapUpEndsAt")
        if desk.state == "workingAfterCall" and ends is not None:
            parts.append(f"wrap-up ends in {duration(ends - desk.clock())}")
        if agent.get("pendingState"):
            parts.append("then " + agent_state(agent["pendingState"], agent.get("pendingReason"))
                         + " after the call")
        self.update(" · ".join(parts))
        self.set_classes(f"state-{desk.state}")


class RecordForm(VerticalScroll):
    """The attached data of the call on screen, one Input per key.

    Values that are not strings (numbers, lists) are edited as JSON and
    saved back as what they parse to."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.call = None
        self.saved = {}                  # what the server holds
        self.added = []                  # fields the agent added, not saved yet

    @property
    def fields(self):
        """The names of the fields shown."""
        return [field.name for field in self.query(Input)]

    def show(self, call):
        data = call.data if call else {}
        call_id = call.call if call else None
        if call_id != self.call or set(data) != set(self.saved):
            same = call_id == self.call
            edits = self.edits() if same else {}
            self.added = [k for k in self.added if k not in data] if same else []
            self.call, self.saved = call_id, dict(data)
            self.remove_children()
            self.mount_all([*(self._row(Input(edits.get(key, _text(value)), name=key))
                              for key, value in data.items()),
                            *(self._row(Input(edits.get(key, ""), name=key))
                              for key in self.added)])
            return
        for field in self.query(Input):
            if field.name in self.saved and field.value == _text(self.saved[field.name]):
                field.value = _text(data[field.name])
        self.saved = dict(data)

    def accept(self, data):
        """The server holds `data` now (the edits were saved)."""
        self.saved = dict(data)
        self.added = [k for k in self.added if k not in data]

    def add(self, key):
        """An empty field `key` (a string once typed): its Input."""
        self.added.append(key)
        field = Input("", name=key)
        self.mount(self._row(field))
        return field

    @staticmethod
    def _row(field):
        """A field's line: its name, its Input."""
        return Horizontal(Label(field.name, classes="key"), field, classes="field")

    def edits(self):
        """{key: text} of the fields changed and not saved (an added field
        once something is typed in it)."""
        return {f.name: f.value for f in self.query(Input)
                if (f.value != _text(self.saved[f.name]) if f.name in self.saved
                    else f.value)}

    def changes(self):
        """The edits as attached data: strings stay strings (an added field
        is one), the rest is JSON."""
        out = {}
        for key, text in self.edits().items():
            if key not in self.saved or isinstance(self.saved[key], str):
                out[key] = text
            else:
                try:
                    out[key] = json.loads(text)
                except ValueError:
                    out[key] = text
        return out


def _text(value):
    return value if isinstance(value, str) else json.dumps(value)


def outside_line(body):
    """A monitored line of the agent's phone, as the screen pop says it."""
    cid = body.get("callerId") or {}
    number = {"P": "withheld", "O": "unavailable"}.get(cid.get("number"), cid.get("number"))
    who = " ".join(filter(None, (number, cid.get("name")))) or "no caller ID yet"
    doing = {"ringing": "rings", "answered": "answered", "in_use": "in use"}.get(
        body.get("state"), body.get("state"))
    return f"{body['device'].removeprefix('monitored:')} {doing}: {who}"


class ScreenPop(Vertical):
    BORDER_TITLE = "Call"

    def compose(self):
        yield Static(id="call-info")
        yield RecordForm(id="record")

    def show(self, desk):
        call = desk.call
        info = self.query_one("#call-info", Static)
        if call is None:
            lines = ["No call"]
        else:
            lines = [f"Call {call.call}  {CALL_STATES.get(call.state, call.state)}"
                     + (f" ({call.reason})" if call.reason else "")]
            if call.outgoing:
                lines.append(f"You called {'agent ' if call.internal else ''}{call.dnis}")
            elif desk.called:
                lines.append(f"Internal call from {call.ani}: they hold, transfer or "
                             "conference it; x hangs up")
            elif call.internal:                         # another agent's, passed on to you
                lines.append(f"Agent {call.dnis}, called by agent {call.ani}")
            elif call.direction == "outbound":          # another agent's call out
                lines += [f"Call out by agent {call.ani} to {call.dnis}",
                          f"Queue {call.queue or '-'}"]
            else:
                caller = "withheld" if call.withheld else call.ani or "-"
                lines += [f"Caller (ANI) {caller}    Dialled (DNIS) {call.dnis or '-'}",
                          f"Queue {call.queue or '-'}    waited {duration(call.wait_s) or '-'}"]
            if call.consult:
                lines.append(f"Consulting on {call.consult}: c complete, f conference, "
                             "k reconnect")
            if call.parties:
                parties = sorted(call.parties.items())
                lines.append("Conference: " + ", ".join(f"{device} {ROLE_WORDS[role]}"
                                                        for device, role in parties))
            lines += [f"{device} asks to speak (pressed {digit}): p gives the floor"
                      for device, digit in sorted(call.speak.items())]
        if desk.outside is not None:
            lines.append(outside_line(desk.outside))
        info.update("\n".join(lines))
        self.query_one(RecordForm).show(call)


class QueueView(Vertical):
    BORDER_TITLE = "My queues"

    def compose(self):
        yield Static(id="queue-summary")
        table = DataTable(id="waiting", cursor_type="row")
        table.add_columns("Queue", "#", "Caller", "Waiting")
        yield table

    def show(self, board, names):
        summary, rows = [], {}
        for name in names:
            snapshot = board.queues.get(name)
            if snapshot is None:
                continue
            waiting = snapshot["waiting"]
            longest = board.longest(name)
            summary.append(f"{name}: {len(waiting)} waiting"
                           + (f", longest {duration(longest)}" if waiting else ""))
            rows.update(((name, e["call"]), (name, str(e["position"]), e.get("ani") or "-",
                                             duration(board.wait(name, e["call"]))))
                        for e in waiting)
        self.query_one("#queue-summary", Static).update(" · ".join(summary) or "No queues")
        fill(self.query_one("#waiting", DataTable), rows)


class StatsView(Static):
    BORDER_TITLE = "My statistics"

    def show(self, desk):
        stats = desk.agent.get("statistics", {})
        lines = [f"Calls {stats.get('calls', 0)}    talk time {duration(stats.get('talkS', 0))}",
                 f"  made {stats.get('callsOut', 0)}    to me by name "
                 f"{stats.get('callsDirect', 0)}"]
        lines += [f"  {agent_state(state):<12} {duration(seconds)}"
                  for state, seconds in sorted(desk.state_seconds().items())]
        self.update("\n".join(lines))


def span_text(span):
    """One span not in service, as a line: "dtiB1 DOWN red, blue since
    12:03:05 — 24 timeslots out of service", "dtiB1 recovering since
    12:03:40 — 24 timeslots out of service" (every timeslot of a span
    not in service is out of service until it is back: docs/faults.md)."""
    parts = [span.name, SPAN_STATES.get(span.state, span.state)]
    if span.alarms:
        parts.append(", ".join(span.alarms))
    if span.since is not None:
        parts.append(f"since {time_of_day(span.since)}")
    line = " ".join(parts)
    if span.timeslots:
        line += f" — {span.timeslots} timeslots out of service"
    return line


class SpanLines(Static):
    """Why calls may have stopped coming: the T1 spans that are not in
    service, one a line, red while one is down, in the warning colour
    while the rest recover; "Lines: all in service" once every span is.
    Hidden when the console knows no span (none on the server, or none
    this login may see)."""

    def show(self, spans):
        self.display = bool(spans.spans)
        out = spans.out_of_service()
        self.update("\n".join(span_text(s) for s in out) if out else "Lines: all in service")
        down = any(s.down for s in out)
        self.set_class(down, "down")
        self.set_class(bool(out) and not down, "recovering")


def fill(table, rows):
    """Make a DataTable show `rows` ({key: cells}), in that order, keeping
    the cursor on the row it was on.

    Every column is as wide as its label or its widest cell, and no wider,
    on a terminal of any width (a narrow one scrolls sideways rather than
    cut a cell).  A DataTable would only widen a column for the rows it
    adds, or measure the whole column again for each changed cell (a
    thousand rows whose times tick: a million measures a redraw); so fill
    measures each column once (`column_widths`) and sets the widths that
    changed itself."""
    keys = [str(k) for k in rows]
    current = [k.value for k in table.rows]
    if current != keys:
        cursor = current[table.cursor_row] if 0 <= table.cursor_row < len(current) else None
        table.clear()
        for key, cells in zip(keys, rows.values(), strict=True):
            table.add_row(*cells, key=key)
        if cursor in keys:
            table.move_cursor(row=keys.index(cursor))
    else:
        columns = list(table.columns)
        for key, cells in zip(keys, rows.values(), strict=True):
            for column, value in zip(columns, cells, strict=True):
                if table.get_cell(key, column) != value:
                    table.update_cell(key, column, value)
    widths = column_widths([c.label for c in table.columns.values()], rows.values())
    grown = 0
    for column, width in zip(table.columns.values(), widths, strict=True):
        grown += width - column.content_width
        column.content_width = width
    if grown:                       # what the sideways scroll covers
        size = table.virtual_size
        table.virtual_size = size.with_width(size.width + grown)
        table.refresh()


def column_widths(labels, rows):
    """The width of each column: its label's or its widest cell's (as a
    DataTable shows a cell: a string's markup is not shown)."""
    widths = [_width(label) for label in labels]
    for cells in rows:
        widths = [max(w, _width(cell)) for w, cell in zip(widths, cells, strict=True)]
    return widths


def _width(cell):
    if isinstance(cell, Text):
        return cell.cell_len
    text = str(cell)
    return Text.from_markup(text).cell_len if "[" in text else cell_len(text)
