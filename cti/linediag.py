# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""linediag: what a technician asks of the boards.

    linediag scan [--json]   every board, span, channel, station, voice and
                             conference resource: state, hook, alarms, with
                             a plain verdict per span
    linediag bus  [--json]   the CT-Bus map: who transmits on which
                             timeslot, who hears what, through which route

It opens the boards of the configuration (default etc/boards.toml; with
the simulator, the simulated chassis is built from it).  Readable tables
by default, one JSON document with --json.
"""
import argparse
import json
import os
import sys

from cti import config

#: plain-language verdicts for span alarms, most severe first
VERDICTS = [
    ("los", "RED: loss of signal - no line from the carrier; check the cable and jack"),
    ("red", "RED: local alarm (no signal or no framing); check cable, framing, line code"),
    ("oof", "RED: out of frame - framing (D4/ESF) does not match the carrier's"),
    ("blue", "BLUE (AIS) only: the fault is upstream, call the carrier"),
    ("yellow", "YELLOW (RAI): the far end cannot see our signal; check our transmit pair"),
    ("remote_los", "remote loss of signal reported by the far end"),
]


def verdict(alarms):
    for alarm, text in VERDICTS:
        if alarm in alarms:
            return text
    return "healthy" if not alarms else "alarms: " + ", ".join(sorted(alarms))


def open_boards(config_path, seed=1):
    """Build (or, with real boards, open) the chassis: (driver, simulator)."""
    from drivers.r4 import HAS_SIMULATOR, R4Driver

    sim = None
    if HAS_SIMULATOR:
        from drivers.sim import Simulator

        sim = Simulator.from_config(config.boards(config_path), seed=seed,
                                    where=f"{config_path}: boards")
    driver = R4Driver()
    driver.inventory()
    return driver, sim


def scan(driver):
    """Inventory plus live state: a list of dicts, one per device."""
    rows = []
    for info in driver.inventory():
        row = {"device": info.name, "kind": info.kind, "board": info.board,
               "slot": info.slot}
        if info.kind == "board":
            row["channels"] = info.channels
        elif info.kind == "line":
            status = driver.status(info.name[: -len("/line")])
            row.update({k: status[k] for k in ("hook", "loop_current", "ringing",
                                                "polarity_reversed")})
            row["hears"] = status.get("line_listen")
        else:
            status = driver.status(info.name)
            row.update({k: v for k, v in status.items()
                        if k not in ("name", "open", "kind", "slot", "line_listen",
                                     "loop_current", "ringing", "polarity_reversed")})
            if "listen" in row:
                row["hears"] = row.pop("listen")
            if info.kind == "span":
                row["verdict"] = verdict(row.get("alarms", []))
        rows.append(row)
    return rows


def bus(driver):
    from ctbus import SwitchingMap

    return SwitchingMap(driver).dump()


def _cell(value):
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ",".join(map(str, value)) or "none"
    return str(value)


def table(rows, columns):
    widths = [max(len(c), *(len(_cell(r.get(c))) for r in rows)) for c in columns]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True))]
    for r in rows:
        lines.append("  ".join(_cell(r.get(c)).ljust(w)
                               for c, w in zip(columns, widths, strict=True)).rstrip())
    return "\n".join(lines)


def render_scan(rows):
    out = []
    spans = [r for r in rows if r["kind"] == "span"]
    if spans:
        out += ["SPANS", table(spans, ["device", "channels", "alarms", "verdict"]), ""]
    boards = [r for r in rows if r["kind"] == "board"]
    if boards:
        out += ["BOARDS", table(boards, ["device", "channels"]), ""]
    for kind, title, cols in (
        ("line", "ANALOG LINES", ["device", "slot", "hook", "loop_current", "ringing",
                                  "polarity_reversed", "hears"]),
        ("timeslot", "T1 TIMESLOTS", ["device", "slot", "tx_bits", "rx_bits", "hears"]),
        ("voice", "VOICE RESOURCES", ["device", "slot", "state", "busy_with", "hook", "hears"]),
        ("station", "STATIONS", ["device", "slot", "hook", "hears"]),
        ("conference", "CONFERENCE DSPS", ["device", "free_parties"]),
    ):
        chosen = [r for r in rows if r["kind"] == kind]
        if chosen:
            out += [f"{title} ({len(chosen)})", table(chosen, cols), ""]
    return "\n".join(out).rstrip() + "\n"


def render_bus(dump, everything=False):
    rows = [e for e in dump["endpoints"] if everything or e["hears"] is not None]
    out = [f"TIMESLOTS ({len(dump['endpoints'])} endpoints, "
           f"{sum(1 for e in dump['endpoints'] if e['hears'] is not None)} listening)"]
    out.append(table(rows, ["transmits", "endpoint", "hears", "connection"]) if rows
               else "(nothing listens to anything)")
    for key in ("routes", "broadcasts", "conferences"):
        out += ["", f"{key.upper()} ({len(dump[key])})"] + [f"  {x}" for x in dump[key]]
    return "\n".join(out) + "\n"


def main(argv=None):
    parser = argparse.ArgumentParser(prog="linediag", description=__doc__.split("\n\n")[0])
    parser.add_argument("-c", "--config", default=os.environ.get("CTI_BOARDS",
                                                                 "etc/boards.toml"),
                        help="board configuration (default etc/boards.toml)")
    sub = parser.add_subparsers(dest="command", required=True)
    p_scan = sub.add_parser("scan", help="boards, spans, channels, stations, resources")
    p_scan.add_argument("--json", action="store_true", help="one JSON document")
    p_bus = sub.add_parser("bus", help="the CT-Bus timeslot map")
    p_bus.add_argument("--json", action="store_true", help="one JSON document")
    p_bus.add_argument("--all", action="store_true", help="also endpoints that hear nothing")
    args = parser.parse_args(argv)
    try:
        driver, _sim = open_boards(args.config)
    except config.ConfigError as e:
        print(f"linediag: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # a driver or simulator error: say it plainly
        print(f"linediag: cannot open the boards: {e}", file=sys.stderr)
        return 2
    if args.command == "scan":
        rows = scan(driver)
        print(json.dumps({"devices": rows}, indent=2) if args.json else render_scan(rows),
              end="" if not args.json else "\n")
    else:
        dump = bus(driver)
        print(json.dumps(dump, indent=2) if args.json else render_bus(dump, args.all),
              end="" if not args.json else "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
