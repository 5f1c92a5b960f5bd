# SPDX-License-Identifier: GPL-2.0-or-later
"""How long the supervisor console takes to redraw its agents grid, for
a floor of 200, 500 and 1,000 agents: each second every agent's time in
its state changes, and one agent in its state for over an hour has the
widest time.  A redraw is `fill` (cti.agent.widgets: the cells that
changed, each column sized to its widest cell) and Textual's drawing of
the grid on a 120x40 screen (headless).

    python -m bench.console [--redraws 10]

prints one JSON line: `ms_per_redraw` by number of rows, `cores`.
"""
import argparse
import asyncio
import json
import os
import time

from textual.app import App
from textual.widgets import DataTable

from cti.agent.model import duration
from cti.agent.supervisor import AGENT_COLUMNS
from cti.agent.widgets import fill
from cti.words import agent_state

ROWS = (200, 500, 1000)
SCREEN = (120, 40)


def agent_rows(count, second):
    """The grid `second` s into the bench: {agent id: cells}."""
    rows = {}
    for i in range(count):
        agent = str(1000 + i)
        in_state = 3600 + second if i == 0 else (i + second) % 600
        rows[agent] = (agent, f"Agent {i}", "north", agent_state("ready"), "",
                       duration(in_state), "", "")
    return rows


class Grid(App):
    def compose(self):
        table = DataTable(id="agents")
        table.add_columns(*AGENT_COLUMNS)
        yield table


async def redraw_ms(count, redraws):
    """Milliseconds a redraw of `count` rows takes (the mean of `redraws`),
    and the grid's columns' widths at the end."""
    app = Grid()
    async with app.run_test(size=SCREEN) as pilot:
        table = app.query_one(DataTable)
        fill(table, agent_rows(count, 0))
        await pilot.pause()
        started = time.perf_counter()
        for second in range(1, redraws + 1):
            fill(table, agent_rows(count, second))
            await pilot.pause()
        elapsed = time.perf_counter() - started
        return 1000 * elapsed / redraws, [c.content_width for c in table.columns.values()]


def run(rows=ROWS, redraws=10):
    return {count: round(asyncio.run(redraw_ms(count, redraws))[0], 1) for count in rows}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.console", description=__doc__)
    parser.add_argument("--redraws", type=int, default=10)
    args = parser.parse_args(argv)
    print(json.dumps({"bench": "console", "screen": "x".join(map(str, SCREEN)),
                      "ms_per_redraw": run(redraws=args.redraws), "cores": os.cpu_count()}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
