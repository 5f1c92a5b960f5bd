# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_agent_desktop -*-
"""`cti agent`: the command line, and Twisted and Textual on one loop.

    cti agent --agent 1005 [--station msiB1C5]       the agent desktop
    cti agent --supervisor --user sup [--station msiB1C9] [--refresh 5]
                                                     the supervisor console

Where the CT server is: `--server` (a client endpoint string), else the
first `[server] listen` of the configuration (`-c`, default
etc/cti.toml), as `cti flow` finds it.  That is all either desktop
takes from the configuration: given `--server`, none is needed, so a
desktop runs on any machine that reaches the server.  The agent desktop
learns its agent from the server, the supervisor console every agent
and queue (cti.agent.supervisor says how; `--refresh` is how often, in
seconds, it re-reads the queue figures).  The password is asked on the
terminal, or read from the first line of `--password-file` or from
$CTI_PASSWORD (never from the command line, which others can read).

One loop for both
-----------------

Textual is asyncio: its app is a coroutine (`App.run_async`) that needs
a running asyncio loop.  Twisted's client needs a reactor.  Two loops in
two threads would mean handing every event and every request across
threads; instead there is one loop, asyncio's, and the reactor *is* that
loop: `asyncioreactor.install(loop)` makes Twisted schedule its timers
and read its sockets through the loop's own `call_at` and `add_reader`.
So:

1. `on_one_loop` makes an asyncio loop, installs the reactor on it
   (before anything imports `twisted.internet.reactor`, which would
   install the default one), and runs the reactor: `reactor.run()` runs
   the loop (`run_forever`), with Twisted's signal handlers off so that
   Textual keeps ctrl+c and the terminal's signals.
2. When the reactor is running, the program (`session`) starts as an
   asyncio task; it awaits Deferreds as asyncio futures
   (`Deferred.asFuture(loop)`): connect and log in (`dial`), then
   `await app.run_async()`, Textual running on the same loop.
3. When the task ends (the user quit, or the first connection failed),
   its outcome is kept and `reactor.stop()` shuts Twisted down cleanly
   (triggers run, its thread pool stops) and stops the loop.

Inside the app, Twisted's callbacks run on this thread between Textual's
own steps; cti.agent.console says how they reach the widgets.  Quitting
the desktop closes the connection and leaves the agent in its ACD state
(docs/protocol.md, section 4): press `l` first to log off.

Reconnecting
------------

Only the first connection is `session`'s to make: if it fails, `cti
agent` says why and exits.  Once the app runs, it makes every later one
itself, with the same `dial` it is given, after losing the connection:
a Textual worker on the same loop waits on the reactor's clock
(`task.deferLater`), dials, and hands the new client to the app, which
starts up again as at first (cti.agent.console says how, and when it
gives up).  So `dial` holds the password, in memory, for the life of
the program; nothing writes it anywhere.  Quitting while it waits or
dials cancels the worker, and with it the timer or the connection
attempt, at once.
"""
import asyncio
import getpass
import os
import sys
from dataclasses import dataclass

from twisted.internet import defer

from cti.config import ConfigError


@dataclass(frozen=True)
class Options:
    server: str
    user: str
    role: str
    station: str | None
    refresh_s: float = 5.0              # the supervisor console's queue figures


def options(args):
    """What to connect to and as whom, from the arguments (and, without
    `--server`, the configuration); ConfigError (or ValueError for the
    arguments) when something is missing."""
    if args.supervisor and not args.user:
        raise ValueError("--supervisor needs --user, the supervisor's login")
    if not args.supervisor and not args.agent:
        raise ValueError("--agent ID is required (or --supervisor --user NAME)")
    if not args.refresh > 0:
        raise ValueError("--refresh must be a number of seconds above 0")
    server = args.server or server_in(args.config)
    if args.supervisor:
        return Options(server, args.user, "supervisor", args.station, args.refresh)
    return Options(server, args.agent, "agent", args.station)


def server_in(path):
    """A client endpoint reaching the first `[server] listen` of the
    configuration file at `path`."""
    from cti.server.config import client_endpoint, load_server_config

    listen = load_server_config(path).listen
    server = next(filter(None, map(client_endpoint, listen)), None)
    if server is None:
        raise ConfigError(path, "server.listen",
                          f"no client endpoint reaches {list(listen)!r}: give --server (for "
                          "TLS: tls:host=NAME:port=PORT:trustRoots=DIR)")
    return server


def read_password(args, user):
    """The first line of `--password-file`, else $CTI_PASSWORD, else asked
    on the terminal: never an argument, which `ps` would show to anyone."""
    if args.password_file:
        with open(args.password_file, encoding="utf-8") as f:
            return f.readline().rstrip("\r\n")
    if os.environ.get("CTI_PASSWORD"):
        return os.environ["CTI_PASSWORD"]
    return getpass.getpass(f"password for {user}: ")


def make_app(client, login, opts, clock, dial=None):
    """The app for the role; `clock` is the reactor (the time, and
    timers); `dial` makes a new client when the connection is lost."""
    if opts.role == "supervisor":
        from cti.agent.supervisor import SupervisorConsole

        return SupervisorConsole(client, login, clock, station=opts.station,
                                 refresh_s=opts.refresh_s, dial=dial)
    from cti.agent.desktop import AgentDesktop

    return AgentDesktop(client, login, clock, opts.user, opts.station, dial=dial)


#: A connection and login that take longer than this count as a failed try
#: (a path that goes silent after connecting would otherwise hold a try
#: for as long as TCP takes to give up, a quarter of an hour).
DIAL_TIMEOUT_S = 30


def dialer(reactor, opts, password):
    """`dial()`: a Deferred of a new client connected to `opts.server` and
    logged in as `opts.user` with `password` and `opts.role`, and its
    Login result, within DIAL_TIMEOUT_S (else it fails with TimeoutError).
    A refused or timed-out login closes the connection it made."""
    from cti.protocol.agent import connect

    @defer.inlineCallbacks
    def dial():
        client = yield connect(reactor, opts.server)
        try:
            login = yield client.login(opts.user, password, opts.role, client="cti-agent")
        except BaseException:
            client.transport.loseConnection()
            raise
        return client, login

    def timed():
        return dial().addTimeout(DIAL_TIMEOUT_S, reactor, onTimeoutCancel=lambda _, timeout:
                                 _timed_out(timeout))
    return timed


def _timed_out(timeout):
    raise TimeoutError(f"no answer from the server within {timeout} s")


async def session(reactor, opts, password, run_app):
    """Connect, log in, run the app (`await run_app(app)`), disconnect.
    Returns the exit status."""
    dial = dialer(reactor, opts, password)
    client, login = await dial().asFuture(asyncio.get_running_loop())
    app = make_app(client, login, opts, reactor, dial)
    try:
        await run_app(app)
    finally:
        app.client.transport.loseConnection()        # the one of the moment
    return 0


def on_one_loop(main):
    """Run `main(reactor)`, a coroutine function, on one asyncio loop that
    is also Twisted's reactor; return what it returns (or raise what it
    raises)."""
    from twisted.internet import asyncioreactor
    from twisted.internet.defer import Deferred

    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    asyncioreactor.install(loop)
    from twisted.internet import reactor

    outcome = []

    def start():
        d = Deferred.fromFuture(loop.create_task(main(reactor)))
        d.addBoth(outcome.append)
        d.addBoth(lambda _: reactor.stop())

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    loop.close()
    result = outcome[0]
    if hasattr(result, "raiseException"):
        result.raiseException()
    return result


def main(args):
    from twisted.internet.error import ConnectError, DNSLookupError

    from cti.protocol.client import ConnectionClosed, RemoteError

    try:
        opts = options(args)
        password = read_password(args, opts.user)
    except (ConfigError, ValueError, OSError) as e:
        print(f"cti agent: {e}", file=sys.stderr)
        return 2
    try:
        return on_one_loop(lambda reactor: session(reactor, opts, password,
                                                   lambda app: app.run_async()))
    except (ConnectError, DNSLookupError, ConnectionClosed, RemoteError) as e:
        print(f"cti agent: {opts.server}: {e}", file=sys.stderr)
        return 2
