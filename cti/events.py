# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_events_tail -*-
"""`cti events`: a live tail of the running server's events, one line each.

    cti events                          every call, agent, queue and device event
                                        (and session, logged in as admin)
    cti events call agent:1005          every call's, and agent 1005's
    cti events --filter event=Call*     only events whose name matches
    cti events --filter callingDevice=212*   only events whose caller's number matches
    cti events --json                   one JSON object per line

It monitors (`MonitorStart`) each OBJECT[:ID] named (id `*` when none is
given) and prints every event as it comes::

    15:32:01.127  Delivered        call=c1733411521001 device=msiB1C5 state=alerting ...

`--filter KEY=PATTERN` (repeatable; all must match) keeps the events whose
name (`event`) or body field KEY (as docs/protocol.md section 10 names
them: `call`, `device`, `callingDevice`, `agent`, `queue`...) matches
PATTERN, a shell-style pattern; an event without that field is left out.
Ctrl-C stops it (status 0); the server closing the connection ends it
with the server's reason (status 1).  Connection options as `cti show`
(cti.shell).
"""
import argparse
import fnmatch
import json
import sys
import time
from collections import deque

from cti import shell
from cti.config import ConfigError

#: What can be watched, in the order they are watched by default.
OBJECTS = ("call", "agent", "queue", "device", "session")
#: An event about objects of several kinds watched (a call's at a device
#: and in a queue) comes once per monitor: the last few are remembered to
#: print it once.
RECENT = 16


def targets(specs, role):
    """[(object, id)] of OBJECT[:ID] arguments (ValueError naming a bad one);
    none given: every object of every kind the role may watch."""
    if not specs:
        return [(kind, "*") for kind in OBJECTS if kind != "session" or role == "admin"]
    chosen = []
    for spec in specs:
        kind, _, object_id = spec.partition(":")
        if kind not in OBJECTS:
            raise ValueError(f"{spec!r}: watch one of {', '.join(OBJECTS)}, "
                             "optionally with :ID")
        chosen.append((kind, object_id or "*"))
    return chosen


def filters(specs):
    """{key: pattern} of KEY=PATTERN arguments (ValueError naming a bad one)."""
    result = {}
    for spec in specs:
        key, sep, pattern = spec.partition("=")
        if not sep or not key:
            raise ValueError(f"--filter {spec!r}: give KEY=PATTERN, such as event=Call* "
                             "or agent=1005")
        result[key] = pattern
    return result


def matches(wanted, name, body):
    """Whether an event passes every filter."""
    for key, pattern in wanted.items():
        value = name if key == "event" else body.get(key)
        if value is None or not fnmatch.fnmatchcase(_text(value), pattern):
            return False
    return True


def line(name, body, at):
    """The event as one readable line: time, name, then its fields."""
    stamp = time.strftime("%H:%M:%S", time.localtime(at)) + f".{int(at * 1000) % 1000:03d}"
    fields = " ".join(f"{key}={_text(value)}" for key, value in body.items()
                      if key not in ("event", "monitor") and value not in (None, "", [], {}))
    return f"{stamp}  {name:<16} {fields}".rstrip()


def _text(value):
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return str(value)


class Once:
    """Whether an event is new, or a copy of one just seen that came
    through another monitor: one publish reaches each monitor watching
    its object (a call's event at a device, in a queue) with the same
    body and another `monitor`.  An event whose body and monitor match
    one already seen is a new event (an alarm raised again)."""

    def __init__(self):
        self.recent = deque(maxlen=RECENT)       # [key, {monitor ids it came through}]

    def __call__(self, name, body):
        monitor = body.get("monitor")
        key = json.dumps([name, {k: v for k, v in body.items() if k != "monitor"}],
                         sort_keys=True, default=str)
        for entry in reversed(self.recent):
            if entry[0] == key and monitor is not None and monitor not in entry[1]:
                entry[1].add(monitor)
                return False
        self.recent.append([key, {monitor}])
        return True


def tail(client, watch, wanted, out, as_json=False, heartbeat_s=10.0, clock=time.time,
         monotonic=time.monotonic):
    """Monitor `watch` on a logged-in BlockingClient and write the events
    that match to `out`, once each, until the connection ends
    (ConnectionClosed).  A Heartbeat goes every `heartbeat_s` (the Login's
    `heartbeatS`) whatever arrives: the server counts what the client
    sends, not what it receives."""
    from cti.protocol.blocking import ConnectionClosed

    for kind, object_id in watch:
        client.call("MonitorStart", object=kind, id=object_id)
    first, last_sent = Once(), monotonic()
    while True:
        due = last_sent + heartbeat_s - monotonic()
        if due <= 0:
            client.call("Heartbeat")
            last_sent = monotonic()
            continue
        try:
            name, body, _ = client.next_event(timeout=due)
        except TimeoutError:
            continue
        if name == "SessionClosed":
            raise ConnectionClosed(body.get("reason", ""))
        if not first(name, body) or not matches(wanted, name, body):
            continue
        at = clock()
        if as_json:
            fields = {k: v for k, v in body.items() if k != "monitor"}
            out.write(json.dumps({"at": at, "event": name, **fields}, ensure_ascii=False)
                      + "\n")
        else:
            out.write(line(name, body, at) + "\n")
        out.flush()


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cti events", description=__doc__.split("\n\n")[0])
    parser.add_argument("watch", nargs="*", metavar="OBJECT[:ID]",
                        help=f"what to watch: {', '.join(OBJECTS)} (default: all)")
    parser.add_argument("--filter", action="append", default=[], metavar="KEY=PATTERN",
                        help="keep events whose name (event=...) or field matches")
    parser.add_argument("--json", action="store_true", help="one JSON object per line")
    shell.add_arguments(parser)
    args = parser.parse_args(argv)
    from cti.protocol.blocking import ConnectionClosed, RemoteError

    try:
        watch, wanted = targets(args.watch, args.role), filters(args.filter)
    except ValueError as e:
        print(f"cti events: {e}", file=sys.stderr)
        return 2
    try:
        client = shell.connect(args, client="cti-events")
    except (ConfigError, OSError, RemoteError) as e:
        print(f"cti events: {e}", file=sys.stderr)
        return 2
    with client:
        try:
            print("watching " + ", ".join(f"{k} {i}" for k, i in watch)
                  + " (Ctrl-C stops)", file=sys.stderr)
            tail(client, watch, wanted, sys.stdout, args.json,
                 heartbeat_s=client.session.get("heartbeatS", 10.0))
        except KeyboardInterrupt:
            return 0
        except RemoteError as e:
            print(f"cti events: {e}", file=sys.stderr)
            return 2
        except (ConnectionClosed, OSError) as e:
            print(f"cti events: the connection ended: {e}", file=sys.stderr)
            return 1
