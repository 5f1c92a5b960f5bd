# SPDX-License-Identifier: GPL-2.0-or-later
"""The agent desktop and the supervisor console reconnect by themselves
(cti.agent.console, "Losing the connection, and getting it back").

Two kinds of test.  Against tests.test_agent_desktop's `FakeClient`, on a
task.Clock, the tries themselves: when each is made, what the status line
says, when they stop, what a key does meanwhile, quitting.  Against the
real server (tests.centre), in virtual time: the app's `dial` makes an
in-memory connection to the server and logs in, as cti.agent.run's does
over TCP; the server drops the session, and the desktop (or console) is
back with what the server kept.  Virtual time passes only while a test
waits for something (`until`), 10 ms a step, the app working between
steps.  tests/desktop_live.py reconnects over TLS, with the real `dial`.
"""
import asyncio

import pytest
from twisted.internet import defer
from twisted.internet.error import ConnectionRefusedError
from twisted.test import iosim

from cti.agent.desktop import AgentDesktop
from cti.agent.supervisor import SupervisorConsole
from cti.protocol.agent import AgentClient
from cti.protocol.client import ConnectionClosed, RemoteError
from cti.protocol.server import SessionFactory
from tests.centre import Centre
from tests.test_agent_desktop import (
    AGENT_SERVICES,
    DELIVERED,
    SUPERVISOR_SERVICES,
    FakeClient,
    agent,
    agent_answers,
    clock_at,
    floor,
    queue,
    rows,
    run,
    supervisor_answers,
    text,
)

DELAYS = (1.0, 2.0, 5.0)
AGENT_SESSION = {"role": "agent", "services": AGENT_SERVICES}
REFUSED = ConnectionRefusedError("Connection refused")


class Dialer:
    """The apps' `dial`, scripted: each call takes the next outcome (a
    client, or an exception) and counts; `pending` for a dial that never
    ends, whose cancellation is seen in `cancelled`."""

    def __init__(self, *outcomes):
        self.outcomes = list(outcomes)
        self.dials = 0
        self.cancelled = 0

    def __call__(self):
        self.dials += 1
        outcome = self.outcomes.pop(0)
        if outcome == "pending":
            return defer.Deferred(lambda d: setattr(self, "cancelled", self.cancelled + 1))
        if isinstance(outcome, Exception):
            return defer.fail(outcome)
        return defer.succeed((outcome, AGENT_SESSION))


def desktop(fake, dial, clock=None):
    return AgentDesktop(fake, AGENT_SESSION, clock or clock_at(), "1005", dial=dial,
                        reconnect_s=DELAYS)


async def advance(pilot, seconds):
    pilot.app.clock.advance(seconds)
    await pilot.pause()


# -- the tries ----------------------------------------------------------------------
def test_the_tries_wait_each_delay_in_turn_then_the_last_for_ever():
    back = FakeClient(agent_answers(state="ready"))
    dial = Dialer(REFUSED, REFUSED, REFUSED, REFUSED, back)
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        fake.closed.callback(None)
        await pilot.pause()
        assert text(app, "#status") == "connection lost: reconnecting in 1 s"
        assert app.query_one("#status").has_class("error")
        tries = []
        for delay in (1, 2, 5, 5, 5):          # the last delay, again and again
            await advance(pilot, delay - 0.5)
            before = dial.dials
            await advance(pilot, 0.5)
            tries.append((before, dial.dials))
        assert tries == [(0, 1), (1, 2), (2, 3), (3, 4), (4, 5)]
        assert app.client is back and text(app, "#status") == "Reconnected"

    run(desktop(fake, dial), scenario)


def test_the_status_line_says_why_the_last_try_failed():
    fake = FakeClient(agent_answers(state="ready"))
    dial = Dialer(REFUSED, ConnectionClosed("connection closed before the answer "
                                            "(connection refused: too many connections)"),
                  "pending")

    async def scenario(pilot):
        app = pilot.app
        fake.close_reason = "server shutdown"        # the server said why it closed
        fake.closed.callback(None)
        await pilot.pause()
        assert text(app, "#status") == ("connection lost: reconnecting in 1 s "
                                        "(server shutdown)")
        await advance(pilot, 1)
        assert text(app, "#status") == f"connection lost: reconnecting in 2 s ({REFUSED})"
        await advance(pilot, 2)           # a server that is full: tried again, later
        assert text(app, "#status") == (
            "connection lost: reconnecting in 5 s (connection closed before the answer "
            "(connection refused: too many connections))")

    run(desktop(fake, dial), scenario)


@pytest.mark.parametrize("code", ["bad_credentials", "locked_out"])
def test_a_login_refused_for_good_stops_the_tries_and_says_why(code):
    fake = FakeClient(agent_answers(state="ready"))
    refusal = RemoteError({"code": code, "service": "Login", "message": "not you"})
    dial = Dialer(REFUSED, refusal)

    async def scenario(pilot):
        app = pilot.app
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        await advance(pilot, 2)
        assert text(app, "#status") == (f"Not reconnecting: the server refused the login "
                                        f"({code}: not you); ctrl+q quits")
        await advance(pilot, 3600)
        assert dial.dials == 2 and app.clock.getDelayedCalls() == []

    run(desktop(fake, dial), scenario)


def test_a_login_refused_for_a_while_is_tried_again():
    """The server could not take the login now (an internal error, too
    many requests): not a refusal of the user."""
    fake = FakeClient(agent_answers(state="ready"))
    back = FakeClient(agent_answers(state="ready"))
    dial = Dialer(RemoteError({"code": "internal_error", "service": "Login",
                               "message": "incident 7"}), back)

    async def scenario(pilot):
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        assert "reconnecting in 2 s (internal_error: incident 7)" in text(pilot.app, "#status")
        await advance(pilot, 2)
        assert pilot.app.client is back

    run(desktop(fake, dial), scenario)


@pytest.mark.parametrize("when", ["waiting", "dialing"])
def test_quitting_while_reconnecting_is_at_once(when):
    """ctrl+q works while the app waits to try again, or while a try is
    under way: the timer, or the connection attempt, is cancelled."""
    fake = FakeClient(agent_answers(state="ready"))
    dial = Dialer("pending")
    clock = clock_at()
    app = desktop(fake, dial, clock)

    async def scenario(pilot):
        fake.closed.callback(None)
        await pilot.pause()
        if when == "dialing":
            await advance(pilot, 1)
            assert dial.dials == 1
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert not app.is_running

    run(app, scenario)
    assert clock.getDelayedCalls() == []
    assert dial.cancelled == (when == "dialing")


# -- back on the new client -----------------------------------------------------------
def test_reconnected_the_desktop_starts_again_on_the_new_client():
    """The agent's snapshot, its queues, its station: monitored again on
    the new client, the view from the new snapshots; the agent, logged
    on still, is not logged on again; keys act on the new client."""
    fake = FakeClient(agent_answers(state="ready"))
    answers = agent_answers(queues={"support": queue(waiting=[
        {"call": "c7", "ani": "3125550000", "waitS": 75.0, "position": 1, "priority": 0}])})
    monitor = answers["MonitorStart"]

    def monitor_kept(params):               # the server made it not ready meanwhile
        if params["object"] == "agent":
            return {"monitor": 1, "snapshot": agent("notReady", "client lost")}
        return monitor(params)
    back = FakeClient({**answers, "MonitorStart": monitor_kept})
    dial = Dialer(back)

    async def scenario(pilot):
        app = pilot.app
        assert "· ready" in text(app, "StateBar")
        fake.sent()
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        assert text(app, "#status") == "Reconnected"
        assert back.sent() == [
            ("MonitorStart", {"object": "agent", "id": "1005"}),
            ("MonitorStart", {"object": "device", "id": "msiB1C5"}),
            ("MonitorStart", {"object": "queue", "id": "support"})]
        assert "not ready (client lost)" in text(app, "StateBar")
        assert "support: 1 waiting, longest 1:15" in text(app, "#queue-summary")
        # The events come from the new client, and the keys go to it.
        back.emit("AgentReserved", **agent("reserved", "", call="c1"), previous="notReady")
        back.emit("Delivered", **DELIVERED)
        await pilot.pause()
        assert "ringing" in text(app, "#call-info")
        await pilot.press("a")
        await pilot.pause()
        assert back.sent() == [("AnswerCall", {"call": "c1"})] and fake.sent() == []

    run(desktop(fake, dial), scenario)


def test_a_dialog_open_across_the_reconnection_sends_on_the_new_client():
    fake = FakeClient(agent_answers(state="ready"))
    back = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        await pilot.press("n")                      # the reason is asked...
        await pilot.pause()
        fake.closed.callback(None)                  # ...the connection goes, and is back
        await pilot.pause()
        await advance(pilot, 1)
        back.sent()
        await pilot.press(*"lunch", "enter")
        await pilot.pause()
        assert back.sent() == [("SetAgentState", {"state": "notReady", "reason": "lunch"})]
        assert "not ready (lunch)" in text(pilot.app, "StateBar")

    run(desktop(fake, Dialer(back)), scenario)


def test_an_agent_the_server_has_logged_off_is_logged_on_again():
    """The server restarted without the agents: as at the first start,
    the desktop logs the agent on at its station."""
    fake = FakeClient(agent_answers(state="ready"))
    back = FakeClient(agent_answers(state="loggedOff"))

    async def scenario(pilot):
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        assert ("SetAgentState", {"state": "loggedOn", "station": "msiB1C5"}) in back.sent()
        assert "not ready (login)" in text(pilot.app, "StateBar")

    run(desktop(fake, Dialer(back)), scenario)


def test_while_disconnected_keys_are_dimmed_and_requests_refused_on_the_status_line():
    fake = FakeClient(agent_answers(state="ready"))

    async def scenario(pilot):
        app = pilot.app
        fake.sent()
        await pilot.press("n")                      # the reason is asked...
        await pilot.pause()
        fake.closed.callback(None)                  # ...the connection goes...
        await pilot.pause()
        await pilot.press(*"lunch", "enter")        # ...and the answer comes
        await pilot.pause()
        status = app.query_one("#status")
        assert str(status.render()) == "not connected to the server; reconnecting"
        assert status.has_class("error") and app.is_running
        assert app.check_action("ready", ()) is None            # shown, dimmed
        await pilot.press("r", "w")
        await pilot.pause()
        assert fake.sent() == [] and app.desk.state == "ready"

    run(desktop(fake, Dialer("pending")), scenario)


def test_an_ended_call_stays_on_screen_for_its_wrap_up():
    """The record of the call the agent wraps up can still be saved after
    a reconnection (the snapshot names no call in the wrap-up)."""
    fake = FakeClient(agent_answers(state="ready"))
    back = FakeClient(agent_answers(state="workingAfterCall"))

    async def scenario(pilot):
        app = pilot.app
        fake.emit("Delivered", **DELIVERED)
        fake.emit("ConnectionCleared", **{**DELIVERED, "state": "null",
                                          "reason": "far end cleared"})
        fake.emit("AgentWorkingAfterCall", **agent("workingAfterCall", ""), previous="busy")
        await pilot.pause()
        fake.closed.callback(None)
        await pilot.pause()
        await advance(pilot, 1)
        assert "c1" in text(app, "#call-info") and app.check_action("save", ())

    run(desktop(fake, Dialer(back)), scenario)


def test_the_supervisor_console_reads_every_agent_and_queue_again():
    agents, queues = floor()
    fake = FakeClient(supervisor_answers(agents, queues))
    agents2, queues2 = floor()
    agents2["1002"] = {**agents2["1002"], "state": "notReady", "reason": "lunch"}
    del queues2["sales"]
    back = FakeClient(supervisor_answers(agents2, queues2))
    app = SupervisorConsole(fake, {"role": "supervisor", "services": SUPERVISOR_SERVICES},
                            clock_at(), station="msiB1C9",
                            dial=lambda: defer.succeed((back, {
                                "role": "supervisor", "services": SUPERVISOR_SERVICES})),
                            reconnect_s=DELAYS)

    async def scenario(pilot):
        fake.sent()
        fake.closed.callback(None)
        await pilot.pause()
        assert [r[0] for r in rows(app, "#queues")] == ["sales", "support"]
        await advance(pilot, 1)
        assert back.sent() == [
            ("MonitorStart", {"object": "agent", "id": "*"}),
            ("MonitorStart", {"object": "queue", "id": "*"}),
            ("MonitorStart", {"object": "device", "id": "msiB1C9"}),
            ("Snapshot", {"object": "agent", "id": "*"}),
            ("Snapshot", {"object": "device", "id": "*"}),
            ("Snapshot", {"object": "queue", "id": "*"}),
            ("Snapshot", {"object": "call", "id": "*"})]
        assert rows(app, "#agents")[0][:5] == ["1002", "Bob Baker", "north", "not ready",
                                               "lunch"]
        assert [r[0] for r in rows(app, "#queues")] == ["support"]
        # The figures are read on the new client, every five seconds still.
        assert len(app.clock.getDelayedCalls()) == 1
        await advance(pilot, 5)
        assert back.sent() == [("Snapshot", {"object": "queue", "id": "*"}),
                               ("Snapshot", {"object": "call", "id": "*"})]
        assert fake.sent() == []

    run(app, scenario)


# -- against the real server, in virtual time ------------------------------------------
class Recording(AgentClient):
    """The real client, noting the service of each request (`asked`)."""

    def __init__(self, clock):
        super().__init__(clock)
        self.asked = []

    def call(self, service, **params):
        self.asked.append(service)
        return super().call(service, **params)


class Link:
    """A desktop's way to the centre's server: `dial()` connects in
    memory and logs in as `user` with `password` (changed by a test, as if
    the server no longer took it); `drop()` has the server close the
    connection of the last dial."""

    def __init__(self, centre, user, role, password="1234"):
        self.centre, self.user, self.role, self.password = centre, user, role, password
        self.dials = 0
        self.servers = []

    def dial(self):
        self.dials += 1
        client, server, pump = iosim.connectedServerAndClient(
            lambda: SessionFactory(self.centre.hub).buildProtocol(None),
            lambda: Recording(self.centre.clock), greet=False)
        self.centre.pumps.append(pump)
        self.servers.append(server)
        pump.flush()

        def refused(failure):
            client.transport.loseConnection()
            return failure
        d = client.login(self.user, self.password, self.role)
        return d.addCallbacks(lambda login: (client, login), refused)

    def first(self):
        return self.centre.call(self.dial())

    def drop(self):
        self.servers[-1].transport.loseConnection()


def on_centre(centre, app, scenario):
    """Run the app against the centre: its start-up (and its end) is
    answered as it asks (the connections are flushed meanwhile, no time
    passes), then the scenario runs."""
    async def answer():
        while True:
            centre.flush()
            await asyncio.sleep(0.001)

    async def go():
        answering = asyncio.ensure_future(answer())
        async with app.run_test(size=(150, 45)) as pilot:
            answering.cancel()
            try:
                await scenario(pilot)
            finally:             # the app may be waiting for an answer as it stops
                answering = asyncio.ensure_future(answer())
        answering.cancel()
    asyncio.run(go())


async def until(centre, app, condition, what, within_ms=20_000):
    """Run the centre's time, 10 ms a step, the app working between steps,
    until condition()."""
    for _ in range(0, within_ms, 10):
        if condition():
            return
        centre.run(10)
        await asyncio.sleep(0.001)
    raise AssertionError(f"{what}: not within {within_ms} ms (status line: "
                         f"{text(app, '#status')!r})")


def agent_desktop(centre, link):
    client, login = link.first()
    return AgentDesktop(client, login, centre.clock, link.user, dial=link.dial,
                        reconnect_s=(0.5, 1.0))


def caller_to_support(centre):
    """A caller on the first trunk dials the support hotline."""
    caller = centre.sim.endpoint(centre.config.trunk_groups[0].channels[0])
    caller.call(ani="2125551234", dnis="5550199")
    return caller


def test_a_desktop_is_back_with_the_state_the_server_kept_and_gets_the_next_call():
    centre = Centre()
    link = Link(centre, "1005", "agent")
    app = agent_desktop(centre, link)

    async def scenario(pilot):
        await until(centre, app, lambda: "not ready (login)" in text(app, "StateBar"),
                    "logged on")
        await pilot.press("r")
        await until(centre, app, lambda: app.desk.state == "ready", "ready")
        link.drop()
        await until(centre, app, lambda: "connection lost" in text(app, "#status"), "lost")
        assert app.check_action("ready", ()) is None
        await until(centre, app, lambda: text(app, "#status") == "Reconnected",
                    "reconnected")
        assert link.dials == 2
        new = app.client
        assert "support: 0 waiting" in text(app, "#queue-summary")
        assert app.desk.state == "ready" and "· ready ·" in text(app, "StateBar")
        assert "SetAgentState" not in new.asked                  # kept by the server
        caller_to_support(centre)
        await until(centre, app, lambda: "ringing" in text(app, "#call-info"),
                    "the screen pop of a call after the reconnection")
        assert "2125551234" in text(app, "#call-info")
        centre.sim.endpoint("msiB1C5").offhook()
        await until(centre, app, lambda: "connected" in text(app, "#call-info"), "answered")
        await pilot.press("x")
        await until(centre, app, lambda: "ended (agent hung up)" in text(app, "#call-info"),
                    "hung up, from the keyboard")
        assert new.asked[-1] == "ClearConnection"

    on_centre(centre, app, scenario)


def test_a_desktop_logs_on_again_an_agent_logged_off_meanwhile():
    """The server has the agent logged off when the desktop is back (a
    supervisor logged it out; a server restarted without the agents): the
    desktop logs it on, as at its first start."""
    centre = Centre()
    link = Link(centre, "1005", "agent")
    app = agent_desktop(centre, link)
    supervisor, _ = Link(centre, "sup", "supervisor").first()

    async def scenario(pilot):
        await until(centre, app, lambda: app.desk.state == "notReady", "logged on")
        link.drop()
        await until(centre, app, lambda: "connection lost" in text(app, "#status"), "lost")
        centre.call(supervisor.force_agent_state("loggedOff", agent="1005"))
        await until(centre, app, lambda: text(app, "#status") == "Reconnected",
                    "reconnected")
        await until(centre, app, lambda: "not ready (login)" in text(app, "StateBar"),
                    "logged on again")
        assert "SetAgentState" in app.client.asked

    on_centre(centre, app, scenario)


def test_a_login_refused_for_good_after_the_drop_stops_the_tries():
    centre = Centre()
    link = Link(centre, "1005", "agent")
    app = agent_desktop(centre, link)

    async def scenario(pilot):
        await until(centre, app, lambda: app.desk.state == "notReady", "logged on")
        link.password = "changed"                        # say, by an administrator
        link.drop()
        await until(centre, app, lambda: "Not reconnecting" in text(app, "#status"),
                    "the refusal")
        assert text(app, "#status").startswith(
            "Not reconnecting: the server refused the login (bad_credentials: ")
        centre.run(60_000)
        assert link.dials == 2 and app.is_running

    on_centre(centre, app, scenario)


def test_the_supervisor_console_is_back_with_every_agent():
    centre = Centre()
    link = Link(centre, "sup", "supervisor")
    client, login = link.first()
    app = SupervisorConsole(client, login, centre.clock, dial=link.dial,
                            reconnect_s=(0.5, 1.0))
    dan = Link(centre, "1004", "agent")

    def state_of(agent_id):
        table = app.query_one("#agents")
        return table.get_row(agent_id)[3] if agent_id in app.floor.agents else None

    async def scenario(pilot):
        await until(centre, app, lambda: len(rows(app, "#agents")) == len(centre.config.agents),
                    "every agent")
        assert state_of("1004") == "logged off"
        link.drop()
        await until(centre, app, lambda: "connection lost" in text(app, "#status"), "lost")
        client, _ = dan.first()                          # meanwhile 1004 logs on
        centre.call(client.set_agent_state("loggedOn"))
        await until(centre, app, lambda: text(app, "#status") == "Reconnected", "reconnected")
        await until(centre, app, lambda: state_of("1004") == "not ready", "1004 read again")
        assert len(rows(app, "#agents")) == len(centre.config.agents)
        assert len(rows(app, "#queues")) == len(centre.config.queues)
        centre.call(client.set_agent_state("ready"))     # the monitors are live again
        await until(centre, app, lambda: state_of("1004") == "ready", "1004's event")

    on_centre(centre, app, scenario)
