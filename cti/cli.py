# SPDX-License-Identifier: GPL-2.0-or-later
"""The `cti` command.

    cti server      the CT server (-c etc/cti.toml); SIGTERM drains and stops it
    cti flow        the flow tier (IVR flows), a client of the CT server
    cti agent       the agent desktop in a terminal (--agent ID); with
                    --supervisor --user NAME, the supervisor console
    cti demo        the simulated call centre, live (--json: the summary only;
                    --tour: the narrated tour of the boards instead)
    cti linediag    the technicians' tool (same as `linediag`)
    cti show        the running server's channels, spans, calls, queues, agents,
                    sessions
    cti events      a live tail of the running server's events
    cti sim         play the simulated telephone company of a running server
                    (calls, digits, handsets, alarms; `cti sim script FILE`)
    cti reload      the running server takes its changed configuration (queues,
                    agents, users, routes, flows), or says what needs a restart
    cti passwd      make a password hash for etc/cti.toml (reads the
                    password from standard input, or asks on a terminal)
    cti --version
"""
import argparse
import getpass
import math
import sys

from cti import __version__
from cti.demo import DEFAULT_DURATION_S, DEFAULT_RATE, DEFAULT_SEED


def number(above=None, at_least=None):
    """An argparse type: a finite number above `above` or at least
    `at_least` (argparse names the option in its error, exit status 2)."""
    def parse(text):
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
        if not math.isfinite(value) or (above is not None and value <= above) \
                or (at_least is not None and value < at_least):
            bound = f"above {above:g}" if above is not None else f"at least {at_least:g}"
            raise argparse.ArgumentTypeError(f"must be a number {bound}, not {text!r}")
        return value
    return parse


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
    parser.add_argument("--version", action="version", version=f"cti {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    server = sub.add_parser("server", help="run the CT server")
    server.add_argument("-c", "--config", default="etc/cti.toml", help="configuration file")
    server.add_argument("--drain", type=float, default=None,
                        help="seconds calls may take to finish when stopping (default 30)")
    server.add_argument("--check", action="store_true",
                        help="check the configuration, flows, prompts, database and boards, "
                        "then exit (0: all good, 2: not)")
    flow = sub.add_parser("flow", help="run the flow tier (IVR)")
    flow.add_argument("-c", "--config", default="etc/cti.toml", help="configuration file")
    agent = sub.add_parser("agent", help="the agent desktop (--supervisor: the console)")
    agent.add_argument("-c", "--config", default="etc/cti.toml",
                       help="configuration file: where the server listens, when --server "
                       "is not given")
    agent.add_argument("--server", help="client endpoint of the CT server, such as "
                       "tcp:host=10.0.0.5:port=7500 (default: from the configuration)")
    agent.add_argument("--agent", help="the agent id to log in as")
    agent.add_argument("--supervisor", action="store_true",
                       help="log in as a supervisor (--user) and show the supervisor console")
    agent.add_argument("--user", help="the supervisor's login")
    agent.add_argument("--station", help="the phone: the agent's (default: its configured "
                       "station), or the supervisor's, which joins supervised calls")
    agent.add_argument("--password-file", help="read the password from this file's first "
                       "line instead of asking")
    agent.add_argument("--refresh", type=float, default=5.0, metavar="SECONDS",
                       help="the supervisor console re-reads the queue figures this often "
                       "(default 5)")
    demo = sub.add_parser("demo", help="the simulated call centre, live")
    demo.add_argument("-c", "--config", default="etc/cti.toml", help="configuration file")
    demo.add_argument("--duration", type=number(at_least=0), default=DEFAULT_DURATION_S,
                      help=f"seconds of traffic (default {DEFAULT_DURATION_S:g}; Ctrl-C ends "
                      "it sooner, with the summary)")
    demo.add_argument("--rate", type=number(above=0), default=DEFAULT_RATE,
                      help=f"calls per minute (default {DEFAULT_RATE:g})")
    demo.add_argument("--seed", type=int, default=DEFAULT_SEED,
                      help=f"random seed of the traffic (default {DEFAULT_SEED})")
    demo.add_argument("--human", metavar="AGENT",
                      help="leave this agent to a person: no bot logs it in (the demo prints "
                      "the `cti agent` command that does)")
    demo.add_argument("--run-dir", metavar="DIR",
                      help="this run's database, recordings and log (new or empty; default: "
                      "a new directory under var/demo/)")
    demo.add_argument("--json", action="store_true",
                      help="print only the summary, as one JSON object (the rest goes to "
                      "standard error)")
    demo.add_argument("--tour", action="store_true",
                      help="the narrated tour of the simulated boards instead")
    sub.add_parser("linediag", help="line diagnostics (see linediag --help)", add_help=False)
    sub.add_parser("show", help="the running server's channels, spans, calls, queues, "
                   "agents or sessions (see cti show --help)", add_help=False)
    sub.add_parser("events", help="a live tail of the running server's events "
                   "(see cti events --help)", add_help=False)
    sub.add_parser("sim", help="play the simulated telephone company of a running server "
                   "(see cti sim --help)", add_help=False)
    sub.add_parser("reload", help="the running server reads its configuration again "
                   "(see cti reload --help)", add_help=False)
    sub.add_parser("passwd", help="print the hash of a password for the configuration")
    args, rest = parser.parse_known_args(argv)
    if args.command == "linediag":
        from cti.linediag import main as linediag

        return linediag(rest)
    if args.command == "show":
        from cti.show import main as show

        return show(rest)
    if args.command == "events":
        from cti.events import main as events

        return events(rest)
    if args.command == "sim":
        from cti.sim_cli import main as sim

        return sim(rest)
    if args.command == "reload":
        from cti.reload import main as reload

        return reload(rest)
    if rest:
        parser.error(f"unexpected arguments: {' '.join(rest)}")
    if args.command == "passwd":
        return passwd()
    if args.command == "server" and args.check:
        from cti.server.check import run as check

        return check(args.config)
    if args.command == "server":
        from cti.server.run import main as server

        return server(args)
    if args.command == "flow":
        from cti.flow.run import main as flow

        return flow(args)
    if args.command == "agent":
        from cti.agent.run import main as agent_desktop

        return agent_desktop(args)
    if args.tour:
        from simulators.board_demo import main as tour

        return tour()
    from cti.demo.signals import EndingSignals

    signals = EndingSignals().install()     # before anything of the demo is made
    from cti.demo.run import main as demo

    return demo(args, signals)
