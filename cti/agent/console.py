# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""What the agent desktop and the supervisor console share: a logged-in
client, requests whose answers come back as messages, a status line.

Twisted calls back (an event arrives, a Deferred fires) from the reactor,
outside Textual's message handling.  So nothing here touches a widget in
a Twisted callback: the callback posts a Textual message to the app
(`ServerEvent`, `Reply`, `Disconnected`), and the app's handlers, which
run one at a time in arrival order, update the model and redraw.  An
event that came before a response is handled before it, as the server
sent them.  Posting is safe because both run on the same thread and the
same asyncio loop (cti.agent.run explains how).

Two ways to ask the server:

- `send(deferred, then, done)` for what a key does: the request goes out
  at once, its answer arrives later as a `Reply`; `then(result)` runs on
  success and the status line says `done` (if there is anything to say:
  a request of the app's own, not the user's, leaves the line as it
  is), or shows the server's refusal (its code and message) and nothing
  else changes.  The answer is a message like the events, so it is
  handled after the events that came before it and before those after;
  a snapshot asked this way is never overwritten by an older event;
- `await self.ask(deferred)` while starting up, when each answer is
  needed before the next question (the agent's snapshot names its
  queues).  Starting up is `on_mount`: the events that arrive meanwhile
  wait in the queue and are applied after the snapshots.

Time is the reactor's (`clock`, an IReactorTime): `clock.seconds()` is
now, and anything done every so often is a `LoopingCall` on it, so tests
pass a `task.Clock` and advance it instead of waiting.

A key is offered (shown in the footer, and acted on) only when the
session's role may call the service behind it (the Login response lists
them) and the model says it makes sense now: `NEEDS` maps actions to
services, `allowed(action)` is the subclass's say.
"""
import asyncio

from textual.app import App
from textual.message import Message
from textual.widgets import Static

from cti.agent.dialogs import Ask, Pick
from cti.protocol.client import ConnectionClosed, RemoteError

#: Where a call may be transferred or consulted, as the services name them.
DESTINATIONS = [("agent", "an agent"), ("queue", "a queue"), ("flow", "a flow (the IVR)"),
                ("number", "an outside number")]


class ServerEvent(Message):
    def __init__(self, body):
        super().__init__()
        self.body = body


class Reply(Message):
    def __init__(self, result=None, error=None, then=None, done=""):
        super().__init__()
        self.result, self.error, self.then, self.done = result, error, then, done


class Disconnected(Message):
    pass


class Console(App):
    NEEDS: dict = {}
    CSS = """
    #status { height: 1; padding: 0 1; background: $boost; }
    #status.error { background: $error; color: $text; }
    """

    def __init__(self, client, session, clock):
        super().__init__()
        self.client = client
        self.session = session
        self.clock = clock
        self.services = frozenset(session.get("services", ()))
        self.connected = True

    def status(self):
        return Static(id="status")

    async def on_mount(self):
        self.client.on("*", lambda body: self.post_message(ServerEvent(body)))
        self.client.closed.addCallback(lambda _: self.post_message(Disconnected()))
        await self.start()
        self.changed()
        self.set_interval(1.0, self.changed)

    async def start(self):
        """Take the snapshots and start the monitors (subclasses)."""

    def redraw(self):
        """Redraw every panel from the model (subclasses)."""

    def allowed(self, action):
        """Whether the action makes sense now (subclasses)."""
        return True

    # -- asking the server -------------------------------------------------------------
    async def ask(self, d):
        """The result of a request, or None once its refusal is shown."""
        try:
            return await d.asFuture(asyncio.get_running_loop())
        except (RemoteError, ConnectionClosed) as e:
            self.say(_refusal(e), error=True)
            return None

    def send(self, d, then=None, done=""):
        """Send; `then(result)` and `done` on the status line when answered."""
        def refused(failure):
            failure.trap(RemoteError, ConnectionClosed)
            self.post_message(Reply(error=failure.value))

        d.addCallbacks(lambda result: self.post_message(Reply(result, then=then, done=done)),
                       refused)

    def on_reply(self, reply: Reply):
        if reply.error is not None:
            self.say(_refusal(reply.error), error=True)
            return
        if reply.done:
            self.say(reply.done)
        if reply.then is not None:
            reply.then(reply.result)
        self.changed()

    def on_server_event(self, message: ServerEvent):
        if self.apply(message.body):
            self.changed()

    def apply(self, body):
        """Update the model from an event; True when something changed (subclasses)."""
        return False

    def on_disconnected(self, _message):
        self.connected = False
        self.say("The connection to the server is lost; ctrl+q quits", error=True)
        self.changed()

    def changed(self):
        """Redraw the panels and the keys, while they are up: a reply or
        a tick that comes as the app shuts down finds them gone."""
        if self.shown():
            self.redraw()
            self.refresh_bindings()

    def shown(self):
        return bool(self.query("#status"))

    def _destination(self, title, choices, act):
        """Pick a kind of destination, type its name: act(kind, name)."""
        def where(kind):
            if kind is not None:
                self.push_screen(Ask(f"{title} {dict(choices)[kind]}:"),
                                 lambda name: name and act(kind, name))
        self.push_screen(Pick(title, choices), where)

    def say(self, text, error=False):
        for line in self.query("#status").results(Static):
            line.update(text)
            line.set_class(error, "error")

    def check_action(self, action, parameters):
        service = self.NEEDS.get(action)
        if service is None:
            return True
        return self.connected and service in self.services and self.allowed(action)


def _refusal(error):
    if isinstance(error, RemoteError):
        return f"{error.body.get('service', 'The request')} refused: {error}"
    return f"No answer: {error}"
