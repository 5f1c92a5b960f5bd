# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""The demo's live view: its queues, agents and calls, redrawn twice a
second on a terminal (rich).

The demo runs the CT server in its own process, so the view reads the
call centre itself (`CallCenter`: the ACD's queues and agents, the calls
up) rather than asking over the protocol as the supervisor console does.
An agent's state is shown in the words of every other screen
(cti.words).  `LiveView` is the rich `Live` display and the timer that
redraws it, on the reactor's clock; `tables` is one drawing of it.
"""
from rich.console import Group
from rich.live import Live
from rich.table import Table
from twisted.internet import task

from cti.words import agent_state

#: Redraws a second.
REFRESH_PER_S = 2
#: The calls listed at most (the first ones up).
CALLS_SHOWN = 12


def tables(center, started, now):
    """The queues, the agents and the calls as rich tables, `now - started`
    seconds into the demo."""
    queues = Table(title=f"cti demo: {now - started:5.0f} s")
    for column in ("queue", "waiting", "longest wait", "offered", "answered", "abandoned",
                   "service level", "ASA"):
        queues.add_column(column)
    for q in center.acd.queues.values():
        d = center.acd.describe_queue(q)
        longest = max((w["waitS"] for w in d["waiting"]), default=0)
        sl = "-" if d["serviceLevel"] is None else f"{d['serviceLevel']:.0%}"
        asa = "-" if d["asaS"] is None else f"{d['asaS']:.1f} s"
        queues.add_row(q.name, str(len(d["waiting"])), f"{longest:.0f} s", str(d["offered"]),
                       str(d["answered"]), str(d["abandoned"]), sl, asa)
    agents = Table()
    for column in ("agent", "name", "station", "state", "for", "calls"):
        agents.add_column(column)
    for a in center.acd.agents.values():
        agents.add_row(a.id, a.config.name, a.station or "-", agent_state(a.state, a.reason),
                       f"{now - a.machine.since:.0f} s", str(a.calls))
    calls = Table()
    for column in ("call", "trunk", "from", "to", "phase", "queue", "agent"):
        calls.add_column(column)
    for call in list(center.calls.values())[:CALLS_SHOWN]:
        calls.add_row(call.id, call.trunk.name, call.call.ani, call.call.dnis, call.state,
                      call.queue or "-", call.agent.id if call.agent else "-")
    return Group(queues, agents, calls)


class LiveView:
    """`tables` on the terminal from `start` to `stop`, drawn on `clock`
    (the reactor's: rich draws nothing on a thread of its own).  While it
    is up, rich redirects standard output and error so that a line
    printed (a warning, "interrupted") goes above it rather than under
    its next drawing; it leaves nothing behind when it stops (its figures,
    the ACD's of the moment, are not the summary's, which come after)."""

    def __init__(self, center, clock):
        self.center = center
        self.clock = clock
        self.started = clock.seconds()
        self.live = Live(self.draw(), auto_refresh=False, transient=True)
        self.redraw = task.LoopingCall(lambda: self.live.update(self.draw(), refresh=True))
        self.redraw.clock = clock

    def draw(self):
        return tables(self.center, self.started, self.clock.seconds())

    def start(self):
        self.live.start(refresh=True)
        self.redraw.start(1 / REFRESH_PER_S)

    def stop(self):
        if self.redraw.running:
            self.redraw.stop()
        self.live.stop()
