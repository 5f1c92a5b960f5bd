# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_show -*-
"""`cti show WHAT`: the running server's channels, spans, calls, queues,
agents or sessions, as a table (or `--json`), read through the protocol like any
client: the snapshots of every object of the kind (`Snapshot` id `*`,
page after page), with a login that may see them all (admin, or a
supervisor without teams).

    cti show channels       trunks and stations: state, since, numbers, calls
    cti show spans          T1 spans: state, alarms up, timeslots out of service
    cti show calls          calls up: phase, numbers, where, agent, connections
    cti show queues         waiting, longest wait, service level, agents by state
    cti show agents         state and reason, station, call, since
    cti show sessions       protocol sessions: user, role, client, address, activity
                            (administrators only)

Where the server is: `--server HOST:PORT`, else the first TCP `[server]
listen` of the configuration (`-c`).  The user: `--user` (default
"admin"); its password from `--password-file`, $CTI_PASSWORD, or asked.
"""
import argparse
import json
import sys
import time

from cti import shell
from cti.config import ConfigError
from cti.tables import text_table
from cti.words import AGENT_STATES

#: what -> (snapshot object, keep this snapshot?, [(column, value of a snapshot)])
TABLES = {
    "channels": ("device", lambda s: s.get("kind") in ("trunk", "station"), [
        ("device", lambda s: s["device"]), ("kind", lambda s: s["kind"]),
        ("group", lambda s: s.get("group") or ""), ("state", lambda s: s["state"]),
        ("for", lambda s: _for(s.get("since"))),
        ("ani", lambda s: s.get("ani") or ""), ("dnis", lambda s: s.get("dnis") or ""),
        ("calls", lambda s: " ".join(s.get("calls", [])))]),
    "spans": ("device", lambda s: s.get("kind") == "span", [
        ("span", lambda s: s["device"]), ("state", lambda s: s["state"]),
        ("for", lambda s: _for(s.get("since"))),
        ("alarms", lambda s: ", ".join(s["alarms"]) or "-"),
        ("out of service", lambda s: f"{s['outOfService']}/{len(s['timeslots'])}"),
        ("last alarm", lambda s: _last_alarm(s["alarmHistory"]))]),
    "calls": ("call", lambda s: True, [
        ("call", lambda s: s["call"]), ("phase", lambda s: s.get("phase") or "-"),
        ("direction", lambda s: s["direction"]), ("ani", lambda s: s["ani"] or "-"),
        ("dnis", lambda s: s["dnis"] or "-"), ("for", lambda s: _for(s.get("created"))),
        ("agent", lambda s: s.get("agent") or "-"),
        ("connections", lambda s: ", ".join(f"{c['device']} {c['state']}"
                                            for c in s["connections"]))]),
    "queues": ("queue", lambda s: True, [
        ("queue", lambda s: s["queue"]), ("strategy", lambda s: s["strategy"]),
        ("waiting", lambda s: str(len(s["waiting"]))),
        ("longest", lambda s: _duration(s["longestWaitS"])),
        ("service level", lambda s: "-" if s["serviceLevel"] is None
         else f"{s['serviceLevel']:.0%}"),
        ("offered", lambda s: str(s["offered"])), ("answered", lambda s: str(s["answered"])),
        ("abandoned", lambda s: str(s["abandoned"])),
        ("agents", lambda s: ", ".join(f"{AGENT_STATES.get(k, k)} {v}"
                                       for k, v in sorted(s["agents"].items())))]),
    "agents": ("agent", lambda s: True, [
        ("agent", lambda s: s["agent"]), ("name", lambda s: s.get("name") or ""),
        ("state", lambda s: AGENT_STATES.get(s["state"], s["state"])),
        ("reason", lambda s: s.get("reason") or ""),
        ("for", lambda s: _for(s.get("since"))), ("station", lambda s: s.get("station") or "-"),
        ("call", lambda s: s.get("call") or "-")]),
    "sessions": ("session", lambda s: True, [
        ("session", lambda s: s["session"]), ("user", lambda s: s["user"] or "-"),
        ("role", lambda s: s["role"] or "-"), ("client", lambda s: s["client"] or "-"),
        ("from", lambda s: s["source"]), ("state", lambda s: s["state"]),
        ("for", lambda s: _for(s["openedAt"])),
        ("last frame", lambda s: "-" if s["lastFrameAt"] is None
         else _for(s["lastFrameAt"]) + " ago"),
        ("requests", lambda s: str(s["requests"])), ("monitors", lambda s: str(s["monitors"]))]),
}


def _duration(seconds):
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" if seconds >= 3600 \
        else f"{seconds // 60}:{seconds % 60:02d}"


def _for(since, now=None):
    """How long since `since` (a time in seconds, as snapshots give it)."""
    if since is None:
        return "-"
    return _duration(max(0, (now or time.time()) - since))


def _last_alarm(history):
    if not history:
        return "-"
    last = history[-1]
    return f"{last['alarm']} {_duration(last['durationS'])}" + (
        "" if last["cleared"] is not None else " (up)")


def rows(what, snapshots):
    """The table's rows (lists of strings) of the snapshots, in their order."""
    _, keep, columns = TABLES[what]
    return [[value(s) for _, value in columns] for s in snapshots if keep(s)]


def render(what, snapshots):
    """The table as text, its title the kind and how many."""
    _, _, columns = TABLES[what]
    body = rows(what, snapshots)
    return text_table([name for name, _ in columns], body, title=f"{what} ({len(body)})") + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cti show",
                                     description=" ".join(__doc__.split("\n\n")[0].split()))
    parser.add_argument("what", choices=sorted(TABLES))
    shell.add_arguments(parser)
    parser.add_argument("--json", action="store_true", help="the snapshots, as JSON")
    args = parser.parse_args(argv)
    from cti.protocol.blocking import RemoteError

    try:
        with shell.connect(args, client="cti-show") as client:
            snapshots = client.snapshot_all(TABLES[args.what][0])
    except ConfigError as e:
        print(f"cti show: {e}", file=sys.stderr)
        return 2
    except (OSError, RemoteError) as e:
        print(f"cti show: {e}", file=sys.stderr)
        return 2
    if args.json:
        keep = TABLES[args.what][1]
        print(json.dumps([s for s in snapshots if keep(s)], indent=1, sort_keys=True))
    else:
        sys.stdout.write(render(args.what, snapshots))
    return 0
