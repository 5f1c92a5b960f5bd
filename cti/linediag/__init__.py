# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""linediag: what a technician asks of the boards.

    linediag scan [--json]   every board, span, channel, station, voice and
                             conference resource: state, hook, alarms, with
                             a plain verdict per span
    linediag bus  [--json]   the CT-Bus map: who transmits on which
                             timeslot, who hears what, through which route

By default it asks the running server (the admin role, through the
protocol: connection options as `cti show`, cti.shell), so it sees the
boards as the server drives them, calls and all.  `--offline` opens the
boards itself instead (with the simulator, a simulated chassis built
from the configuration `-c`, a server configuration or a boards file):
a bench with no server.  Readable tables by default, one JSON document
with --json.
"""
import argparse
import json
import sys

from cti import config, shell
from cti.linediag.render import render_bus, render_scan
from cti.linediag.source import Attached, Offline
from cti.server.maintenance.scan import verdict

__all__ = ["main", "verdict"]


def parser():
    top = argparse.ArgumentParser(prog="linediag", description=__doc__.split("\n\n")[0])
    shell.add_arguments(top, roles=("admin",))
    top.add_argument("--offline", action="store_true",
                     help="open the boards of -c here instead of asking the running server")
    sub = top.add_subparsers(dest="command", required=True)
    p = sub.add_parser("scan", help="boards, spans, channels, stations, resources")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p = sub.add_parser("bus", help="the CT-Bus timeslot map")
    p.add_argument("--json", action="store_true", help="one JSON document")
    p.add_argument("--all", action="store_true", help="also endpoints that hear nothing")
    return top


def main(argv=None):
    args = parser().parse_args(argv)
    from cti.protocol.client import RemoteError

    try:
        source = Offline.open(args.config) if args.offline else Attached.connect(args)
    except config.ConfigError as e:
        print(f"linediag: {e}", file=sys.stderr)
        return 2
    except (OSError, RemoteError) as e:
        print(f"linediag: cannot reach the server: {e} (--offline opens the boards here)",
              file=sys.stderr)
        return 2
    except Exception as e:  # a driver or simulator error: say it plainly
        print(f"linediag: cannot open the boards: {e}", file=sys.stderr)
        return 2
    with source:
        try:
            return run(args, source)
        except RemoteError as e:
            print(f"linediag {args.command}: {e}", file=sys.stderr)
            return 2


def run(args, source):
    if args.command == "scan":
        rows = source.line_status()
        _out(args, {"devices": rows}, render_scan(rows))
    elif args.command == "bus":
        dump = source.bus_map()
        _out(args, dump, render_bus(dump, args.all))
    return 0


def _out(args, document, text):
    if args.json:
        print(json.dumps(document, indent=2))
    else:
        sys.stdout.write(text)
