# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_show -*-
"""What the shell commands that talk to a running server share: where it
is, who logs in, and the login itself (`cti show`, `cti events`, `cti sim`).

    parser = argparse.ArgumentParser(prog="cti show")
    shell.add_arguments(parser)
    args = parser.parse_args(argv)
    with shell.connect(args, client="cti-show") as client:
        client.snapshot_all("call")

Where the server is: `--server HOST:PORT`, else the first TCP `[server]
listen` of the configuration (`-c`).  The user: `--user` (default
"admin"); its password from `--password-file`, $CTI_PASSWORD, or asked.
"""
import argparse
import getpass
import os
import sys

from cti.config import ConfigError


def add_arguments(parser, roles=("admin", "supervisor"), suppress=False):
    """The connection options.  `suppress`: without defaults (for a
    command's own parser, so that the options may come before or after
    the command and the top parser's defaults stand)."""
    def default(value):
        return argparse.SUPPRESS if suppress else value

    parser.add_argument("-c", "--config", default=default("etc/cti.toml"),
                        help="the configuration: where the server listens (etc/cti.toml)")
    parser.add_argument("--server", default=default(None),
                        help="HOST:PORT of the CT server (default: from -c)")
    parser.add_argument("--user", default=default("admin"))
    parser.add_argument("--role", default=default(roles[0]), choices=roles)
    parser.add_argument("--password-file", default=default(None))


def address(args):
    """(host, port) of the server: --server, else the configuration's first
    TCP listener (ConfigError if it has none)."""
    if args.server:
        host, _, port = args.server.rpartition(":")
        try:
            return host or "127.0.0.1", int(port)
        except ValueError:
            raise ConfigError("--server", "", f"{args.server!r} is not HOST:PORT") from None
    from cti.server.config import load_server_config

    config = load_server_config(args.config)
    for entry in config.listen:
        parts = entry.split(":")
        if parts[0] == "tcp":
            interface = next((p.split("=", 1)[1] for p in parts[2:]
                              if p.startswith("interface=")), "127.0.0.1")
            return ("127.0.0.1" if interface in ("0.0.0.0", "") else interface), int(
                parts[1].removeprefix("port="))
    raise ConfigError(args.config, "server.listen", "no tcp endpoint to connect to: "
                      "give --server HOST:PORT")


def password(args):
    """--password-file's first line, $CTI_PASSWORD, or asked on the
    terminal (ConfigError when there is none to ask on)."""
    if args.password_file:
        with open(args.password_file) as f:
            return f.readline().rstrip("\r\n")
    if os.environ.get("CTI_PASSWORD"):
        return os.environ["CTI_PASSWORD"]
    if not sys.stdin.isatty():
        raise ConfigError("--password-file", "", f"no password for {args.user}: give "
                          "--password-file FILE or set CTI_PASSWORD (there is no terminal "
                          "to ask on)")
    return getpass.getpass(f"password for {args.user}: ")


def connect(args, client):
    """A BlockingClient logged in as the arguments say (use it in a `with`:
    it logs out as it closes), its Login result in `session`; OSError,
    ConfigError or RemoteError if not."""
    from cti.protocol.blocking import BlockingClient

    host, port = address(args)
    try:
        connection = BlockingClient(host, port)
    except OSError as e:
        raise OSError(f"cannot connect to {host}:{port}: {e.strerror or e}") from None
    try:
        connection.session = connection.login(args.user, password(args), args.role,
                                               client=client)
    except BaseException:
        connection.close()
        raise
    return connection
