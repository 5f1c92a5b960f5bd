# SPDX-License-Identifier: GPL-2.0-or-later
"""The desktops against the real CT server, Twisted and Textual on one loop.

Run as a program (`python -m tests.desktop_live`, which
tests/test_agent_desktop.py does in a subprocess: the asyncio reactor is
installed once per process).  The CT server of etc/cti.toml runs on the
simulated boards, in this process, on the same loop as the desktops,
listening on a free local port; the desktops connect over TCP with
cti.agent.run.session, as `cti agent` does, and run headless under
Textual's pilot.

Agent 1003 logs on; its connection fails, and the desktop connects and
logs in again by itself (cti.agent.run's `dial`, over TLS), the agent as
it was; a caller dials the support hotline and waits in the queue view;
the agent goes ready, the screen pops, the phone is lifted, the agent
hangs up with `x`; not ready, it calls an outside number with `o` (the
far end, an analog line, answers) and hangs up; then logs off with `l`.

Then the supervisor console, told nothing but where the server is (no
configuration: the grids come from the server's snapshots), fills its
grids; agent 1004 logs on and goes to lunch, from a client of its own,
and the grid follows: its row, the support queue's not-ready reasons; a
caller waits in support and hangs up, and the grid counts the abandoned
call.  Then the supervisor makes agent 1004's team ready (`t`): 1004 is
ready, its row still whole, and the status line sums up the answer (the
others of the team are logged off: refused).  Last, 1004 answers a
caller; the supervisor, its headset on, monitors (`m`), intercepts (`i`):
the caller is the supervisor's own call, which `X` hangs up.  Exit
status 0 when every step was seen.  All of it over TLS, the server
requiring client certificates (made as docs/operations.md says)."""
import asyncio
import socket
import tempfile
from dataclasses import replace
from pathlib import Path

from cti.agent.run import Options, on_one_loop, session
from cti.protocol.agent import connect
from cti.server.config import TLSSettings, load_server_config
from tests.centre import Records
from tests.test_tls import make_pki

PASSWORD = "1234"                        # the sample configuration's
SUPERVISOR_PHONE = "msiB1C8"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


async def until(pilot, condition, what, within_s=5.0):
    """Let the loop run (the server, the network, the app) until condition()."""
    for _ in range(int(within_s * 100)):
        if condition():
            return
        await pilot.pause(0.01)
    raise AssertionError(f"never happened within {within_s} s: {what} "
                         f"(status line: {text(pilot.app, '#status')!r})")


def text(app, selector):
    return str(app.query_one(selector).render())


async def agent_desktop(app, server, trunk):
    async with app.run_test(size=(130, 36)) as pilot:
        await until(pilot, lambda: "not ready (login)" in text(app, "StateBar"), "log-on")
        first = app.client
        first.transport.abortConnection()            # the network fails
        await until(pilot, lambda: "connection lost" in text(app, "#status"), "the loss said")
        await until(pilot, lambda: text(app, "#status") == "Reconnected", "reconnected")
        assert app.client is not first and "not ready (login)" in text(app, "StateBar")
        server.sim.endpoint(trunk).call(ani="2125551234", dnis="5550199")
        waiting = app.query_one("#waiting")
        await until(pilot, lambda: waiting.row_count == 1, "the caller in the queue view")
        assert waiting.get_row_at(0)[:3] == ["support", "1", "2125551234"]
        assert "support: 1 waiting, longest 0:0" in text(app, "#queue-summary")
        await pilot.press("r")
        await until(pilot, lambda: "ringing" in text(app, "#call-info"), "the screen pop")
        assert "2125551234" in text(app, "#call-info")
        server.sim.endpoint("msiB1C3").offhook()
        await until(pilot, lambda: "connected" in text(app, "#call-info"), "answered")
        await pilot.press("x")
        await until(pilot, lambda: "ended (agent hung up)" in text(app, "#call-info"), "hung up")
        assert "Calls 1" in text(app, "StatsView")
        # Not ready, the agent calls an outside number from the headset.
        await pilot.press("n", "enter")
        await until(pilot, lambda: app.desk.state == "notReady", "not ready")
        server.sim.endpoint("dxxxB1C1").set_outbound("answer", 1)
        await pilot.press("o", "enter", *"5551234", "enter")
        await until(pilot, lambda: "calling" in text(app, "#call-info"), "the call out")
        assert "You called 5551234" in text(app, "#call-info")
        await until(pilot, lambda: "connected" in text(app, "#call-info"), "the far end answers",
                    within_s=30)
        await pilot.press("x")
        await until(pilot, lambda: "ended (agent hung up)" in text(app, "#call-info"),
                    "the call out hung up")
        await until(pilot, lambda: app.desk.state == "notReady", "back to not ready")
        server.sim.endpoint("msiB1C3").onhook()
        await pilot.press("l")
        await until(pilot, lambda: app.desk.state == "loggedOff", "log-off")


def grid(app, table, key):
    """The row of `key` (an agent id, a queue name) in a grid."""
    return app.query_one(table).get_row(key)


async def supervisor_console(app, reactor, server, dial, trunk):
    config = server.config               # what the grids should show, not what they are told
    async with app.run_test(size=(150, 36)) as pilot:
        agents, queues = app.query_one("#agents"), app.query_one("#queues")
        await until(pilot, lambda: agents.row_count == len(config.agents), "the agents")
        await until(pilot, lambda: queues.row_count == len(config.queues), "the queues")
        assert grid(app, "#agents", "1003")[:4] == ["1003", "Carol Chen", "north", "logged off"]
        abandoned = int(grid(app, "#queues", "support")[9])

        loop = asyncio.get_running_loop()
        dan = await connect(reactor, dial).asFuture(loop)
        await dan.login("1004", PASSWORD, "agent").asFuture(loop)
        await dan.set_agent_state("loggedOn").asFuture(loop)
        await dan.set_agent_state("notReady", reason="lunch").asFuture(loop)
        await until(pilot, lambda: grid(app, "#agents", "1004")[3:5] == ["not ready", "lunch"],
                    "agent 1004's event")
        await until(pilot, lambda: grid(app, "#queues", "support")[5] == "lunch 1",
                    "the support queue's reasons")

        caller = server.sim.endpoint(trunk)
        caller.call(ani="2125557777", dnis="5550199")
        await until(pilot, lambda: grid(app, "#queues", "support")[2] == "1", "a caller waits")
        await until(pilot, lambda: caller.state == "connected", "the caller hears the queue")
        caller.hangup()
        await until(pilot, lambda: grid(app, "#queues", "support")[2] == "0", "it hung up")
        await until(pilot, lambda: grid(app, "#queues", "support")[9] == str(abandoned + 1),
                    "the abandoned call counted")

        await pilot.press("down", "down", "down", "t", "enter")   # 1004's team: ready
        await until(pilot, lambda: text(app, "#status").startswith(
            "Team south: ready, 1 done, 2 refused (1005: invalid_state"), "the team's answer")
        await until(pilot, lambda: grid(app, "#agents", "1004")[:5] == [
            "1004", "Dan Diaz", "south", "ready", ""], "agent 1004 ready")

        caller.call(ani="2125558888", dnis="5550199")           # to 1004, who answers
        phone = server.sim.endpoint("msiB1C4")
        await until(pilot, lambda: phone.state == "ringing", "1004's phone rings")
        phone.offhook()
        await until(pilot, lambda: grid(app, "#agents", "1004")[3] == "on a call", "1004 talks")
        server.sim.endpoint(SUPERVISOR_PHONE).offhook()
        await pilot.press("m")
        await until(pilot, lambda: "Supervising 1004" in text(app, "#supervision"), "monitor")
        await pilot.press("i")
        await until(pilot, lambda: "Your call" in text(app, "#supervision")
                    and "with 2125558888: talking" in text(app, "#supervision"),
                    "the intercepted caller is the supervisor's")
        await pilot.press("X")
        await until(pilot, lambda: "Your call" not in text(app, "#supervision")
                    and caller.state != "connected", "the supervisor hangs up")
        dan.transport.loseConnection()


async def main(reactor):
    with tempfile.TemporaryDirectory() as where:
        return await over_tls(reactor, make_pki(Path(where)), var_dir=Path(where))


async def over_tls(reactor, tls, var_dir):
    """The server listens for TLS only and requires client certificates (the
    certificates of docs/operations.md); the desktops connect with one.
    The server's own files (the agents present...) go to `var_dir`, not
    the sample configuration's: nothing is left from one run to the next."""
    from cti.server.app import CTServer

    config = replace(load_server_config("etc/cti.toml"), var_dir=var_dir, tls=TLSSettings(
        tls / "server.pem", tls / "server.key", tls / "ca" / "ca.pem"))
    port = free_port()
    server = CTServer(config, reactor=reactor, records=Records(),
                      listen=[f"tls:{port}:interface=127.0.0.1"], http="", drain_s=0)
    server.startService()
    dial = (f"tls:host=localhost:port={port}:trustRoots={tls / 'ca'}:"
            f"certificate={tls / 'flow1.pem'}:privateKey={tls / 'flow1.key'}")
    trunks = config.trunk_groups[0].channels
    await session(reactor, Options(dial, "1003", "agent", None), PASSWORD,
                  lambda app: agent_desktop(app, server, trunks[0]))
    await session(reactor, Options(dial, "sup", "supervisor", SUPERVISOR_PHONE, refresh_s=0.2),
                  PASSWORD,
                  lambda app: supervisor_console(app, reactor, server, dial, trunks[1]))
    await server.stopService().asFuture(asyncio.get_running_loop())
    return 0


if __name__ == "__main__":
    raise SystemExit(on_one_loop(main))
