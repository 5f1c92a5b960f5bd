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
services, `allowed(action)` is the subclass's say.  While the connection
is down such keys stay in the footer, dimmed, and do nothing.

Losing the connection, and getting it back
------------------------------------------

The server restarts, the network fails, the server closes a session that
missed its heartbeats: the client's `closed` fires, and the app gets
`Disconnected`.  Given `dial` (a function returning a Deferred of a new
client, logged in, and its Login result: cti.agent.run makes it, with
the user, password and role of the first login), the app tries again by
itself, in a worker (so that keys, and ctrl+q, still work meanwhile):

    wait reconnect_s[0], dial; failed: wait reconnect_s[1], dial; ...
    (the last delay over and over: 1, 2, 5, 10, 30, 30... seconds)

The status line says "connection lost: reconnecting in N s", and why
the last try failed.  A login the server refuses for good (`GIVE_UP`:
bad credentials, a locked account) ends the tries, and the line says
why; anything else (the connection refused, or closed at once by a
server that is full, starting or stopping) is tried again.  Once a dial
succeeds, `Reconnected` brings the new client to the app's message
handling, which swaps it in for every later request and runs `start`
again, in full, as at start: the monitors, the snapshots.  Like
`on_mount`, it holds the events that come meanwhile until the snapshots
are in; then the status line says "Reconnected".  A request made while
disconnected (a dialog answered after the connection went, a timer) is
not sent: the status line says "not connected to the server;
reconnecting".  The waits are on `clock`; the worker stops when the app
does, so quitting is immediate.  Without `dial` the app says the
connection is lost and stays so.
"""
import asyncio
from itertools import chain, repeat

from textual.app import App
from textual.message import Message
from textual.widgets import Static
from twisted.internet import task

from cti.agent.dialogs import Ask, Pick
from cti.protocol.client import ConnectionClosed, RemoteError
from cti.words import in_words

#: The seconds to wait before each try to reconnect; the last, for every try after.
RECONNECT_S = (1.0, 2.0, 5.0, 10.0, 30.0)
#: Login refusals that trying again will not change: the tries stop.
GIVE_UP = frozenset({"bad_credentials", "locked_out", "missing_field", "invalid_field"})
OFFLINE = "not connected to the server; reconnecting"

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
    def __init__(self, client):
        super().__init__()
        self.client = client


class Reconnected(Message):
    def __init__(self, client, session):
        super().__init__()
        self.client, self.session = client, session


class Console(App):
    NEEDS: dict = {}
    CSS = """
    #status { height: 1; padding: 0 1; background: $boost; }
    #status.error { background: $error; color: $text; }
    """

    def __init__(self, client, session, clock, dial=None, reconnect_s=RECONNECT_S):
        """`client` is logged in, `session` its Login result; `dial()`
        makes another such pair (a Deferred of both) when the connection is
        lost, after each of the `reconnect_s` delays in turn."""
        super().__init__()
        self.client = client
        self.session = session
        self.clock = clock
        self.services = frozenset(session.get("services", ()))
        self.connected = True
        self.dial = dial
        self.reconnect_s = reconnect_s

    def status(self):
        return Static(id="status")

    async def on_mount(self):
        self.listen()
        await self.start()
        self.changed()
        self.set_interval(1.0, self.changed)

    def listen(self):
        """Events of the client, and its end, as messages to the app."""
        client = self.client
        client.on("*", lambda body: self.post_message(ServerEvent(body)))
        client.closed.addCallback(lambda _: self.post_message(Disconnected(client)))

    async def start(self):
        """Take the snapshots and start the monitors, from nothing: at start
        and again after each reconnection (subclasses)."""

    def redraw(self):
        """Redraw every panel from the model (subclasses)."""

    def allowed(self, action):
        """Whether the action makes sense now (subclasses)."""
        return True

    # -- asking the server -------------------------------------------------------------
    async def ask(self, d):
        """The result of a request, or None once its refusal is shown."""
        if not self.connected:
            return self._offline(d)
        try:
            return await d.asFuture(asyncio.get_running_loop())
        except (RemoteError, ConnectionClosed) as e:
            self.say(_refusal(e), error=True)
            return None

    def send(self, d, then=None, done=""):
        """Send; `then(result)` and `done` on the status line when answered."""
        if not self.connected:
            return self._offline(d)

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

    def _offline(self, d):
        """A request made while disconnected: dropped, and said."""
        d.addErrback(lambda _: None)
        self.say(OFFLINE, error=True)

    # -- losing the connection, and getting it back ------------------------------------
    def on_disconnected(self, message: Disconnected):
        self.connected = False
        self.changed()
        if self.dial is None:
            self.say("The connection to the server is lost; ctrl+q quits", error=True)
            return
        self.run_worker(self.reconnect(message.client.close_reason), group="reconnect",
                        exclusive=True)

    async def reconnect(self, why=None):
        """Dial after each delay of `reconnect_s` (the last, for ever) until
        a dial logs in, or the login is refused for good."""
        loop = asyncio.get_running_loop()
        for delay in chain(self.reconnect_s, repeat(self.reconnect_s[-1])):
            self.say(f"connection lost: reconnecting in {delay:g} s"
                     + (f" ({why})" if why else ""), error=True)
            await task.deferLater(self.clock, delay, lambda: None).asFuture(loop)
            try:
                client, session = await self.dial().asFuture(loop)
            except RemoteError as e:
                if e.code in GIVE_UP:
                    self.say(f"Not reconnecting: the server refused the login ({e}); "
                             "ctrl+q quits", error=True)
                    return
                why = str(e)
            except Exception as e:  # noqa: BLE001 - refused, closed, unreachable: again
                why = str(e) or type(e).__name__
            else:
                self.post_message(Reconnected(client, session))
                return

    async def on_reconnected(self, message: Reconnected):
        """The new client, for every request from now on; the view again
        from the snapshots."""
        self.client, self.session = message.client, message.session
        self.services = frozenset(self.session.get("services", ()))
        self.connected = True
        self.listen()
        self.say("Logged in again: reading the snapshots")
        await self.start()
        self.changed()
        if not self.query_one("#status").has_class("error"):   # a refusal stays shown
            self.say("Reconnected")

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
        if service not in self.services or not self.allowed(action):
            return False
        return True if self.connected else None        # None: dimmed in the footer


def _refusal(error):
    if isinstance(error, RemoteError):
        return f"{error.body.get('service', 'The request')} refused: {in_words(str(error))}"
    return f"No answer: {error}"
