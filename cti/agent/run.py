# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti agent`: connect, log in, and run the desktop.

Twisted and Textual share one asyncio event loop: Twisted's asyncio
reactor is installed on the loop before anything imports the default
reactor, then the Textual app runs on that loop (`App.run_async`), and
the protocol client's Deferreds fire on it, between the app's own
callbacks.  The server's endpoint is `[flow] server` of the configuration
(where the CT server listens), or --server.
"""
import asyncio
import getpass
import sys

from cti.server.config import ConfigError, load_server_config


def main(args):
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    from twisted.internet import asyncioreactor

    asyncioreactor.install(loop)
    from twisted.internet import defer, reactor

    from cti.agent.desk import Desk, SupervisorDesk
    from cti.protocol.agent import AgentClient
    from cti.protocol.client import RemoteError, connect

    server = args.server
    if server is None:
        try:
            server = load_server_config(args.config).flow.server
        except ConfigError as e:
            print(f"cti agent: {e}", file=sys.stderr)
            return 2
    user = args.user or args.agent
    if user is None:
        print("cti agent: give --agent ID (or --user NAME with --supervisor)", file=sys.stderr)
        return 2
    password = (open(args.password_file, encoding="utf-8").readline().rstrip("\r\n")
                if args.password_file else getpass.getpass(f"password for {user}: "))
    role = "supervisor" if args.supervisor else "agent"

    async def session():
        client = await defer.Deferred.asFuture(connect(reactor, server), loop)
        await defer.Deferred.asFuture(client.login(user, password, role,
                                                   client="cti-agent"), loop)
        agent_client = AgentClient(client, args.agent)
        if args.agent and not args.supervisor:
            await defer.Deferred.asFuture(agent_client.monitor("agent", args.agent), loop)
        if args.station:
            await defer.Deferred.asFuture(agent_client.monitor("device", args.station), loop)
        desk = (SupervisorDesk if args.supervisor else Desk)(agent_client, args.agent,
                                                            args.station)
        await desk.run_async()

    reactor.startRunning(installSignalHandlers=False)
    try:
        loop.run_until_complete(session())
    except (RemoteError, ConnectionError, OSError) as e:
        print(f"cti agent: {e}", file=sys.stderr)
        return 1
    return 0
