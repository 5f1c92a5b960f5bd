# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_reload -*-
"""`cti reload`: the running server reads its configuration file again and
applies what can change live: queues, agents, users, routes and the flows
they name (docs/operations.md, "Reloading the configuration").

It asks through the protocol (`Reload`, the admin role), as `cti show`
reads: the server at `--server HOST:PORT`, else at the first TCP
`[server] listen` of `-c`; the user `--user` (default "admin"), its
password from `--password-file`, $CTI_PASSWORD, or asked.  The server
reads the file it was started with, not `-c`.

Prints each change, one a line ("queue billing added"), and exits 0; a
refusal (the file is wrong, a key that needs a restart, a queue with
callers or an agent logged in to remove: nothing applied) or no server:
one line on standard error, exit status 2.
"""
import argparse
import sys

from cti.config import ConfigError
from cti.show import read_password, server_address


def describe(change):
    """One line for a change of the Reload answer."""
    keys = f" ({', '.join(change['keys'])})" if change.get("keys") else ""
    return f"{change['kind']} {change['name']} {change['change']}{keys}"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cti reload", description=__doc__.split("\n")[0])
    parser.add_argument("-c", "--config", default="etc/cti.toml",
                        help="where the server listens, when --server is not given")
    parser.add_argument("--server", help="HOST:PORT of the CT server (default: from -c)")
    parser.add_argument("--user", default="admin")
    parser.add_argument("--password-file")
    args = parser.parse_args(argv)
    from cti.protocol.client import BlockingClient, RemoteError

    try:
        host, port = server_address(args)
        with BlockingClient(host, port) as client:
            client.login(args.user, read_password(args), "admin", client="cti-reload")
            answer = client.call("Reload")
    except (ConfigError, OSError, RemoteError) as e:
        print(f"cti reload: {e}", file=sys.stderr)
        return 2
    changes = answer["changes"]
    print(f"{answer['path']}: " + (f"{len(changes)} change{'s' if len(changes) > 1 else ''}"
                                   if changes else "nothing changed"))
    for change in changes:
        print(f"  {describe(change)}")
    return 0
