# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""`cti reload`: the running server reads its configuration file again and
applies what can change live: queues, agents, users, routes and the flows
they name (docs/operations.md, "Reloading the configuration").

It asks through the protocol (`Reload`, the admin role), with the
connection options of `cti show` (cti.shell).  The server reads the file
it was started with, not `-c`.

Prints each change, one a line ("queue billing added"), and exits 0; a
refusal (the file is wrong, a key that needs a restart, a queue with
callers or an agent logged in to remove: nothing applied) or no server:
one line on standard error, exit status 2.
"""
import argparse
import sys

from cti import shell
from cti.config import ConfigError


def describe(change):
    """One line for a change of the Reload answer."""
    keys = f" ({', '.join(change['keys'])})" if change.get("keys") else ""
    return f"{change['kind']} {change['name']} {change['change']}{keys}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cti reload", description=__doc__.split("\n")[0])
    shell.add_arguments(parser, roles=("admin",))
    args = parser.parse_args(argv)
    from cti.protocol.blocking import RemoteError

    try:
        with shell.connect(args, client="cti-reload") as client:
            answer = client.call("Reload")
    except (ConfigError, OSError, RemoteError) as e:
        print(f"cti reload: {e}", file=sys.stderr)
        return 2
    changes = answer["changes"]
    print(f"{answer['path']}: " + (f"{len(changes)} change{'s' if len(changes) > 1 else ''}"
                                   if changes else "nothing changed"))
    for change in changes:
        print(f"  {describe(change)}")
    servers = answer.get("flowServers", 0)
    if servers:
        print(f"  {servers} flow server{'s' if servers > 1 else ''} told to reload the flow "
              "files (their log and the server's say how it went)")
    return 0
