# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""How a person joins a running demo: where its CT server listens, and the
command lines that attach to it, printed as the demo starts (here with
`--human 1005`; a line ending in a backslash goes on in the next)::

    CT server listening on 127.0.0.1:40321; attach from another terminal:
      supervisor console:  .venv/bin/cti agent --server tcp:host=127.0.0.1:port=40321 \\
        --supervisor --user sup --station msiB1C8   (password 1234)
      the server's tables: .venv/bin/cti show agents --server 127.0.0.1:40321   (password 1234)
      the telephone company: .venv/bin/cti sim call pstn_in --ani 2125551234 \\
        --server 127.0.0.1:40321   (password 1234; cti sim --help)
      agent 1005 (Erin Evans) is yours, no bot takes it: .venv/bin/cti agent \\
        --server tcp:host=127.0.0.1:port=40321 --agent 1005   (password 1234)
      headsets, off-hook: msiB1C8 (the supervisor's: m, w, b join a call), msiB1C5 (agent \\
        1005's: a answers, x hangs up)

The commands start the way this demo was started (`.venv/bin/cti`, or
`python -m cti`), so they can be pasted as they are.  The users are the
configuration's: its first supervisor, on the last phone no agent has;
its first administrator for `cti show` and `cti sim` (the simulated
telephone company: calls in, handsets, alarms; docs/operations.md).  A
password is printed only when it is the sample's (the one the demo's
bots log in with, checked against the configuration's hash); otherwise
the line says it is the configuration's, which only its owner knows.

So that a person needs no `cti sim handset ... lift` for each call, the
demo takes the phones a person will use off-hook from the start
(`headsets`), as headsets would be: the supervisor's, so that monitor, whisper and
barge can join a call there, and that of the agent left to a person
(`--human`), so that the desktop's answer key (AnswerCall) connects a
call offered to it.
"""
import os
import sys

from cti.auth import verify_password
from cti.demo import HOST
from simulators.callcentre import PASSWORD


def program(argv0=None, executable=None, cwd=None):
    """The start of a command line that runs `cti` as this process was run:
    `.venv/bin/cti`, or `.venv/bin/python -m cti` (paths under the current
    directory made relative to it)."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    if os.path.basename(argv0) != "__main__.py":
        return _short(argv0, cwd)
    return f"{_short(executable or sys.executable, cwd)} -m cti"


def _short(path, cwd=None):
    relative = os.path.relpath(path, cwd or os.getcwd())
    return path if relative.startswith("..") else relative


def password_words(password_hash):
    """"password 1234" when the account has the sample password, else
    where the password is."""
    if verify_password(password_hash, PASSWORD):
        return f"password {PASSWORD}"
    return "its password in the configuration"


def lines(config, port, human=None, cti="cti"):
    """The lines to print once the server listens on HOST:`port`;
    `human`: the agent id left to a person's desktop; `cti`: `program()`."""
    endpoint = dial(port)
    out = [f"CT server listening on {HOST}:{port}; attach from another terminal:"]
    supervisor = next((u for u in config.users if "supervisor" in u.roles), None)
    station = supervisor_station(config)
    if supervisor is not None:
        out.append(f"  supervisor console:  {cti} agent --server {endpoint} --supervisor "
                   f"--user {supervisor.name}" + (f" --station {station}" if station else "")
                   + f"   ({password_words(supervisor.password_hash)})")
    admin = next((u for u in config.users if "admin" in u.roles), None)
    if admin is not None:
        user = "" if admin.name == "admin" else f" --user {admin.name}"
        out.append(f"  the server's tables: {cti} show agents --server {HOST}:{port}{user}"
                   f"   ({password_words(admin.password_hash)})")
        group = next((g.name for g in config.trunk_groups if g.direction != "out"), None)
        if group is not None:
            out.append(f"  the telephone company: {cti} sim call {group} --ani 2125551234 "
                       f"--server {HOST}:{port}{user}   ({password_words(admin.password_hash)}"
                       "; cti sim --help)")
    agent = _agent(config, human)
    if agent is not None:
        out.append(f"  agent {agent.id} ({agent.name}) is yours, no bot takes it: {cti} agent "
                   f"--server {endpoint} --agent {agent.id}"
                   f"   ({password_words(agent.password_hash)})")
    phones = [f"{station} (the supervisor's: m, w, b join a call)"] if station else []
    if agent is not None:
        phones.append(f"{agent.station} (agent {agent.id}'s: a answers, x hangs up)")
    if phones:
        out.append("  headsets, off-hook: " + ", ".join(phones))
    return out


def dial(port):
    """The client endpoint of the demo's CT server, listening on `port`."""
    return f"tcp:host={HOST}:port={port}"


def headsets(config, human=None):
    """The phones the demo takes off-hook, as headsets: the supervisor's
    and the agent's left to a person."""
    agent = _agent(config, human)
    return [s for s in (supervisor_station(config), agent and agent.station) if s]


def supervisor_station(config):
    """The phone for a supervisor: the last of the configuration no agent
    has, or None."""
    taken = {a.station for a in config.agents}
    free = [s for group in config.station_groups for s in group.stations if s not in taken]
    return free[-1] if free else None


def _agent(config, agent_id):
    return next((a for a in config.agents if a.id == agent_id), None)
