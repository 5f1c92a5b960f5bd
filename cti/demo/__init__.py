# SPDX-License-Identifier: GPL-2.0-or-later
"""`cti demo`: the whole call centre on the simulated boards, live.

    cti demo                          # 120 s, 12 calls a minute, the live view
    cti demo --duration 60 --json     # the summary as one JSON object, last line
    cti demo --human 1005             # agent 1005 is yours: log in with `cti agent`

One process runs the three tiers: the CT server of etc/cti.toml, the
flow tier and bot agents connected to it over TCP, and callers at the
telephone company's end of the T1 span.  The server listens on a free
local port, printed at the start with the command lines that attach a
supervisor console, `cti show` or (`--human`) an agent's desktop to it.
Ctrl-C ends the demo early, with its summary; each run keeps its
database, recordings and log in a directory of its own.

- run: one run, from start to summary (`Demo`), its directory, its log,
  the command (`main`);
- summary: the figures from the call detail records, where every caller
  offered to a queue is answered, abandoned, left or cleared at end;
- attach: the lines that say how to join the running demo;
- view: the live view (rich), when standard output is a terminal;
- signals: Ctrl-C, SIGTERM and SIGHUP, taken before anything else.
"""

#: Seconds of callers, calls a minute and the seed of their randomness,
#: unless asked otherwise.
DEFAULT_DURATION_S = 120.0
DEFAULT_RATE = 12.0
DEFAULT_SEED = 1
#: Where the demo's CT server listens, on a port the system picks: this
#: machine only.
HOST = "127.0.0.1"
