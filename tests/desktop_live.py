# SPDX-License-Identifier: GPL-2.0-or-later
"""The desktops against the real CT server, Twisted and Textual on one loop.

Run as a program (`python -m tests.desktop_live`, which
tests/test_agent_desktop.py does in a subprocess: the asyncio reactor is
installed once per process).  The CT server of etc/cti.toml runs on the
simulated boards, in this process, on the same loop as the desktops,
listening on a free local port; the desktops connect over TCP with
cti.agent.run.session, as `cti agent` does, and run headless under
Textual's pilot.

Agent 1003 logs on, goes ready, a caller dials the support hotline, the
screen pops, the phone is lifted, the agent hangs up with `x`, then logs
off with `l`.  Then the supervisor console fills its grids.  Exit status
0 when every step was seen."""
import asyncio
import socket

from cti.agent.run import Options, on_one_loop, session
from cti.server.config import load_server_config

PASSWORD = "1234"                        # the sample configuration's


class Records:
    def add(self, record):
        pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(pilot, condition, what):
    """Let the loop run (the server, the network, the app) until condition()."""
    for _ in range(500):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened: {what}")


def text(app, selector):
    return str(app.query_one(selector).render())


async def agent_desktop(app, server, trunk):
    async with app.run_test(size=(130, 36)) as pilot:
        await until(pilot, lambda: "Not ready (login)" in text(app, "StateBar"), "log-on")
        await pilot.press("r")
        await until(pilot, lambda: app.desk.state == "ready", "ready")
        server.sim.endpoint(trunk).call(ani="2125551234", dnis="5550199")
        await until(pilot, lambda: "ringing" in text(app, "#call-info"), "the screen pop")
        assert "2125551234" in text(app, "#call-info")
        server.sim.endpoint("msiB1C3").offhook()
        await until(pilot, lambda: "connected" in text(app, "#call-info"), "answered")
        await pilot.press("x")
        await until(pilot, lambda: "ended (agent hung up)" in text(app, "#call-info"), "hung up")
        assert "Calls 1" in text(app, "StatsView")
        server.sim.endpoint("msiB1C3").onhook()
        await pilot.press("l")
        await until(pilot, lambda: app.desk.state == "loggedOff", "log-off")


async def supervisor_console(app, count):
    async with app.run_test(size=(130, 36)) as pilot:
        await until(pilot, lambda: app.query_one("#agents").row_count == count, "the grid")
        row = app.query_one("#agents").get_row_at(2)
        assert row[:3] == ["1003", "Carol Chen", "Logged off"], row


async def main(reactor):
    from cti.server.app import CTServer

    config = load_server_config("etc/cti.toml")
    port = free_port()
    server = CTServer(config, reactor=reactor, records=Records(),
                      listen=[f"tcp:{port}:interface=127.0.0.1"], drain_s=0)
    server.startService()
    dial = f"tcp:host=127.0.0.1:port={port}"
    trunk = config.trunk_groups[0].channels[0]
    await session(reactor, Options(dial, "1003", "agent", None), PASSWORD,
                  lambda app: agent_desktop(app, server, trunk))
    agents = tuple(a.id for a in config.agents)
    await session(reactor, Options(dial, "sup", "supervisor", None, agents,
                                   tuple(q.name for q in config.queues)), PASSWORD,
                  lambda app: supervisor_console(app, len(agents)))
    await server.stopService().asFuture(asyncio.get_running_loop())
    return 0


if __name__ == "__main__":
    raise SystemExit(on_one_loop(main))
