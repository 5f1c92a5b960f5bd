# SPDX-License-Identifier: GPL-2.0-or-later
"""The `cti` command.

    cti demo        a narrated tour of the simulated boards (wall clock)
    cti linediag    the technicians' tool (same as `linediag`)
"""
import argparse
import sys


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="cti", description="voice-board CTI server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a narrated tour of the simulated boards")
    sub.add_parser("linediag", help="line diagnostics (see linediag --help)", add_help=False)
    args, rest = parser.parse_known_args(argv)
    if args.command == "linediag":
        from cti.linediag import main as linediag

        return linediag(rest)
    if rest:
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    from simulators.board_demo import main as demo

    return demo()
