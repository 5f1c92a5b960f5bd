# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""linediag's readable tables: plain text, columns as wide as their
widest cell, headings in capitals."""


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
