# SPDX-License-Identifier: GPL-2.0-or-later
"""How fast the shell commands answer against a big running server: a
`cti server` process on a simulated chassis of 42 T1 spans (1,008 trunk
channels) and 200 stations, asked as a technician would.

Figures, in seconds (the median of `--tries`):

    show_channels_s    `cti show channels` as a user runs it: a new
                       process, its login, every page of 1,208 snapshots,
                       the table (the target: under 0.5 s)
    snapshot_channels_s  the protocol part alone: Snapshot id "*" of
                       every device, page after page, on a logged-in session
    line_status_s      GetLineStatus: every device of the boards (linediag scan)
    span_reports_s     GetSpanReports of the 42 spans: counters, performance,
                       bits of 1,008 timeslots (linediag spans, counters, bits)
    login_s            a Login (scrypt makes it slow on purpose)

    python -m bench.shell [--tries 5]
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cti.auth import hash_password
from cti.protocol.client import BlockingClient

SPANS = 42
STATIONS = 200
PASSWORD = "1234"


def write_config(directory):
    d = Path(directory)
    secret = hash_password(PASSWORD)
    port = free_port()
    lines = ['driver = "sim"']
    boards = [{"type": "t1", "signalling": "em_wink"}] * SPANS
    boards += [{"type": "voice", "channels": 64}, {"type": "stations", "count": STATIONS}]
    for board in boards:
        lines.append("[[boards]]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in board.items()]
    lines += ["[server]", f'listen = ["tcp:{port}:interface=127.0.0.1"]', f'var_dir = "{d}"',
              'log_level = "warn"',
              "[[trunk_groups]]", 'name = "pstn"', 'direction = "in"',
              "channels = [" + ", ".join(f'"dtiB{s}T1-24"' for s in range(1, SPANS + 1)) + "]",
              "[[station_groups]]", 'name = "floor"', f'stations = ["msiB1C1-{STATIONS}"]',
              "[routing]", 'default = {queue = "q"}',
              "[[queues]]", 'name = "q"',
              "[[users]]", 'name = "admin"', 'roles = ["admin"]', f'password_hash = "{secret}"']
    (d / "prompts").mkdir()
    (d / "prompts" / "prompts.toml").write_text('[prompts]\nhello = "Hello."\n')
    (d / "cti.toml").write_text("\n".join(lines) + "\n")
    return d / "cti.toml", port


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def started(port, child, limit_s=120):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if child.poll() is not None:
                raise SystemExit(f"cti server ended: {child.stderr.read()[-2000:]}") from None
            time.sleep(0.2)
    raise SystemExit("cti server did not start")


def timed(function, tries):
    times = []
    for _ in range(tries):
        t0 = time.perf_counter()
        function()
        times.append(time.perf_counter() - t0)
    return round(statistics.median(times), 4)


def run(tries):
    with tempfile.TemporaryDirectory(prefix="cti-bench-shell-") as directory:
        config, port = write_config(directory)
        child = subprocess.Popen([sys.executable, "-m", "cti", "server", "-c", str(config),
                                  "--drain", "0"], stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        try:
            started(port, child)
            env = {**os.environ, "CTI_PASSWORD": PASSWORD}
            show = [sys.executable, "-m", "cti", "show", "channels", "--server",
                    f"127.0.0.1:{port}"]

            def show_channels():
                done = subprocess.run(show, capture_output=True, text=True, env=env)
                assert done.returncode == 0 and f"channels ({SPANS * 24 + STATIONS})" \
                    in done.stdout, done.stderr

            def login():
                with BlockingClient("127.0.0.1", port) as other:
                    other.login("admin", PASSWORD, "admin")

            with BlockingClient("127.0.0.1", port, timeout=60) as client:
                login_s = timed(login, tries)
                client.login("admin", PASSWORD, "admin")
                figures = {
                    "show_channels_s": timed(show_channels, tries),
                    "snapshot_channels_s": timed(lambda: client.snapshot_all("device"),
                                                 tries),
                    "line_status_s": timed(lambda: client.call("GetLineStatus"), tries),
                    "span_reports_s": timed(lambda: client.call("GetSpanReports"), tries),
                    "login_s": login_s,
                }
        finally:
            child.terminate()
            child.wait(timeout=60)
    return {"channels": SPANS * 24 + STATIONS, "spans": SPANS, **figures, "tries": tries,
            "cores": os.cpu_count()}


def main():
    parser = argparse.ArgumentParser(prog="python -m bench.shell",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--tries", type=int, default=5)
    print(json.dumps(run(parser.parse_args().tries)))


if __name__ == "__main__":
    main()
