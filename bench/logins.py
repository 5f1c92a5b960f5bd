# SPDX-License-Identifier: GPL-2.0-or-later
"""How long a refused login takes: for a user name that exists (a wrong
password) and for one that does not.  The two must not be told apart by
their timing, or a stranger learns which names exist (user enumeration).

Each try is a whole Login through the protocol's hub (cti.protocol.server),
its password checked with scrypt as the server does (here on this thread:
the hub's clock has no thread pool, so the time is the check's, not a
queue's).  The gate's delays after repeated failures are turned off: they
are the same for both, and would only lengthen the run.  Figures: the
median and the 90th percentile of each, in milliseconds, and `ratio`, the
unknown name's median over the wrong password's (1.0 is the target; it
was about 0.01 when an unknown name was refused without a check).

    python -m bench.logins [--tries 40]
"""
import argparse
import json
import os
import statistics
import time

from twisted.internet import task

from cti.auth import hash_password
from cti.protocol.gate import Gate, Limits
from cti.protocol.server import Hub, Session, User


def login_ms(hub, user, password):
    session = Session(hub, "10.0.0.1")
    session.transport = None                    # answers are not written anywhere
    session.machine.fire("admitted")
    started = time.perf_counter()
    hub.dispatch(session, 1, {"service": "Login", "params": {
        "user": user, "password": password, "role": "agent"}}).addErrback(lambda f: None)
    return (time.perf_counter() - started) * 1000


def run(tries):
    never = 10 ** 9
    clock = task.Clock()
    hub = Hub(clock, [User("1005", frozenset({"agent"}), hash_password("1234"))],
              gate=Gate(clock, Limits(delay_after=never, source_delay_after=never,
                                      lockout_after=never, source_lockout_after=never)))
    login_ms(hub, "nobody", "x")                # the dummy hash is made once, first
    wrong, unknown = [], []
    for _ in range(tries):                       # interleaved: the same machine state
        wrong.append(login_ms(hub, "1005", "wrong"))
        unknown.append(login_ms(hub, "nobody", "wrong"))

    def p90(values):
        return statistics.quantiles(values, n=10)[-1]
    return {"tries": tries,
            "wrong_password_ms_p50": round(statistics.median(wrong), 2),
            "wrong_password_ms_p90": round(p90(wrong), 2),
            "unknown_user_ms_p50": round(statistics.median(unknown), 2),
            "unknown_user_ms_p90": round(p90(unknown), 2),
            "ratio": round(statistics.median(unknown) / statistics.median(wrong), 3),
            "cores": os.cpu_count()}


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m bench.logins")
    parser.add_argument("--tries", type=int, default=40)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.tries)))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
