# SPDX-License-Identifier: GPL-2.0-or-later
"""The `cti` command.

    cti demo        a narrated tour of the simulated boards (wall clock)
    cti linediag    the technicians' tool (same as `linediag`)
    cti passwd      make a password hash for etc/cti.toml (reads the
                    password from standard input, or asks on a terminal)
"""
import argparse
import getpass
import sys


def passwd(stdin=None, stdout=None):
    """Print the scrypt hash of a password; the password itself is never
    written anywhere."""
    from cti.auth import hash_password

    stdin = stdin or sys.stdin
    stdout = stdout or sys.stdout
    if stdin.isatty():
        password = getpass.getpass("password: ")
        if getpass.getpass("again: ") != password:
            print("cti passwd: the two passwords differ", file=sys.stderr)
            return 2
    else:
        password = stdin.readline().rstrip("\r\n")
    if not password:
        print("cti passwd: an empty password is not allowed", file=sys.stderr)
        return 2
    print(hash_password(password), file=stdout)
    return 0


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="cti", description="voice-board CTI server")
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("demo", help="a narrated tour of the simulated boards")
    sub.add_parser("linediag", help="line diagnostics (see linediag --help)", add_help=False)
    sub.add_parser("passwd", help="print the hash of a password for the configuration")
    args, rest = parser.parse_known_args(argv)
    if args.command == "linediag":
        from cti.linediag import main as linediag

        return linediag(rest)
    if rest:
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    if args.command == "passwd":
        return passwd()
    from simulators.board_demo import main as demo

    return demo()
