# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""linediag's readable tables: plain text (cti.tables), columns as wide
as their widest cell, headings in capitals."""
import time

from cti.tables import table


def render_scan(rows):
    out = []
    spans = [r for r in rows if r["kind"] == "span"]
    if spans:
        out += ["SPANS", table(spans, ["device", "type", "framing", "channels", "dchannel",
                                       "alarms", "verdict"]), ""]
    boards = [r for r in rows if r["kind"] == "board"]
    if boards:
        out += ["BOARDS", table(boards, ["device", "channels"]), ""]
    modems = [r for r in rows if r["kind"] == "voice" and "port" in r]
    if modems:                      # a voice modem's voice: its port and whether it works
        out += [f"VOICE MODEMS ({len(modems)})",
                table(modems, ["device", "port", "ready", "alarms", "state", "hook"]), ""]
    for kind, title, cols in (
        ("line", "ANALOG LINES", ["device", "slot", "hook", "loop_current", "ringing",
                                  "polarity_reversed", "hears"]),
        ("timeslot", "TIMESLOTS", ["device", "slot", "tx_bits", "rx_bits", "hears"]),
        ("dchannel", "D-CHANNELS", ["device", "board"]),
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


def duration(seconds):
    """1:02:03, 2:03 or 4.2 s."""
    if seconds is None:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f} s"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}" \
        if seconds >= 3600 else f"{seconds // 60}:{seconds % 60:02d}"


def clock_time(at):
    return "-" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def render_spans(reports):
    """Each span: state, line settings, alarms now, the alarm history."""
    out = []
    for r in reports:
        line = r["configured"]
        out.append(f"SPAN {r['span']}  {r['state']}  {line['framing']}/{line['coding']}, "
                   f"clock {line['clock']}, {line['signalling']}  loopback "
                   f"{r['loopback']}" + (f", sending {r['loopCode']}" if r["loopCode"] else "")
                   + (f"; the far end looped ({r['farLoop']})" if r.get("farLoop") else ""))
        out.append(f"  alarms now: {', '.join(r['alarms']) or 'none'}"
                   + (f"; multiframes not found: {', '.join(r['multiframesLost'])}"
                      if r.get("multiframesLost") else "")
                   + (f"; D-channel {r['dchannel']}" if r.get("dchannel") else "")
                   + (f" {r['isdn']['state']} ({r['isdn']['node']}, "
                      f"{r['isdn']['switchtype']})" if r.get("isdn") else ""))
        history = r["alarmHistory"]
        if history:
            rows = [{"alarm": a["alarm"], "raised": clock_time(a["raised"]),
                     "cleared": clock_time(a["cleared"]) if a["cleared"] else "(up)",
                     "duration": duration(a["durationS"])} for a in history]
            out += ["  ALARM HISTORY", _indent(table(rows, ["alarm", "raised", "cleared",
                                                             "duration"]))]
        else:
            out.append("  no alarm since the server started")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


#: Columns of the performance tables, in T1.231's order; bes (ESF), bbe and
#: febe (E1 with CRC-4) where the framing counts them.
COUNTER_COLUMNS = ["interval", "es", "ses", "sefs", "uas", "css", "les", "bes", "bbe", "febe",
                   "lcv", "pcv", "valid"]
#: Columns only some framings have.
FRAMING_COLUMNS = ("bes", "bbe", "febe")


def render_counters(reports, intervals=4):
    """Each span's current 15-minute interval, the last `intervals`
    completed ones, the 24-hour total, and its raw counters."""
    out = []
    for r in reports:
        perf = r["performance"]
        if perf is None:
            out += [f"SPAN {r['span']}  no performance monitoring: the driver gives no "
                    "error counters", ""]
            continue
        current = {**perf["current"], "interval": f"now ({duration(perf['current']['elapsedS'])})"}
        rows = [current] + [{**i, "interval": clock_time(i["start"])}
                            for i in perf["intervals"][:intervals]]
        total = {**perf["total24h"], "interval": "24 h",
                 "valid": f"{perf['total24h']['intervals']} intervals"}
        out.append(f"SPAN {r['span']}  {perf['framing']}  "
                   + ("available" if perf["available"] else "UNAVAILABLE"))
        columns = [c for c in COUNTER_COLUMNS
                   if c not in FRAMING_COLUMNS or c in perf["current"]]
        out.append(_indent(table(rows + [total], columns)))
        counts = r["counters"]
        out.append("  raw since opened: " + ", ".join(
            f"{k} {counts[k]}" for k in ("bpv", "exz", "crc", "fas", "oof", "slips", "ebit")
            if k in counts) + f" in {duration(counts.get('seconds'))}")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


def bits_meaning(signalling, direction, bits):
    """What a timeslot's bits say, for its signalling (lines.md); an E1 CAS
    timeslot's ABCD raw (their MFC/R2 meanings come with R2)."""
    if signalling in ("pri", "ccs"):
        return "no bits: an ISDN B-channel (its D-channel signals)"
    if signalling == "cas":
        if bits == "0000":
            return "ABCD 0000: forbidden (it mimics the multiframe alignment)"
        return f"ABCD {bits} (R2 meanings: coming)" if bits else "-"
    if not bits:
        return "-"
    a, b = bits[0] == "1", len(bits) > 1 and bits[1] == "1"
    if signalling == "em_wink":
        who = "far end" if direction == "rx" else "we"
        return f"{who}: off-hook (seized or answered)" if a else f"{who}: on-hook (idle)"
    if direction == "rx":
        if not b:
            return "exchange: ringing (B off)"
        return "exchange: loop closed (answered)" if a else "exchange: idle"
    return "we: off-hook" if a else "we: on-hook"


def render_bits(reports):
    out = []
    for r in reports:
        signalling = r["configured"]["signalling"]
        rows = [{"timeslot": t["device"], "rx": t["rxBits"],
                 "rx means": bits_meaning(signalling, "rx", t["rxBits"]),
                 "tx": t["txBits"], "tx means": bits_meaning(signalling, "tx", t["txBits"]),
                 "channel": t["state"] + (f" (held: {', '.join(t['held'])})"
                                          if t["held"] else "")}
                for t in r["timeslots"]]
        out += [f"SPAN {r['span']}  {signalling}  ({len(rows)} timeslots)",
                _indent(table(rows, ["timeslot", "rx", "rx means", "tx", "tx means",
                                     "channel"])), ""]
    return "\n".join(out).rstrip() + "\n"


def render_bert(answer):
    r = answer["results"]
    state = "running" if answer["running"] else "ended"
    lines = [f"BERT {answer['device']}  {answer['pattern']}  {state}, started by "
             f"{answer['startedBy']} at {clock_time(answer['startedAt'])} for "
             f"{answer['plannedS']} s"]
    if r:
        lines.append(f"  sync {'yes' if r.get('sync') else 'NO'}  bits {r.get('bits', 0):,}  "
                     f"errors {r.get('errors', 0):,}  BER {r.get('ber', 0):.2e}  sync losses "
                     f"{r.get('sync_losses', 0)}")
        lines.append(f"  {r.get('seconds', 0)} s: {r.get('errored_seconds', 0)} errored, "
                     f"{r.get('error_free_seconds', 0)} error-free")
        if not r.get("sync") and not r.get("bits"):
            lines.append("  no pattern came back: loop the far end first (linediag loopcode "
                         "SPAN line_up, then 5 s) or plug a loop; without one a BERT "
                         "measures nothing")
    return "\n".join(lines) + "\n"


def render_findings(findings, skipped=()):
    if not findings:
        out = ["no finding: the spans show nothing the configuration explains"]
    else:
        out = []
        for f in findings:
            out += [f"{f['severity'].upper()} {f['rule']}  {f['where']}",
                    f"  seen: {f['evidence']}", f"  fix:  {f['fix']}", ""]
    if skipped:
        out += ["not checked:"] + [f"  {rule}: {why}" for rule, why in skipped]
    return "\n".join(out).rstrip() + "\n"


def _indent(text, by="  "):
    return "\n".join(by + line for line in text.splitlines())


def render_watch(reports, title, width, height):
    """One screen of `linediag watch` for a terminal of `width` x
    `height`: the lines, never more than height - 1 (the cursor's line)
    nor wider than `width`.  The spans' state comes first and always
    shows (the state line and the alarms, the alarm history summed up as
    its last alarm); then the counters (the current 15 minutes and 24
    hours); then the bits, the full table (with their meanings) when it
    fits, else a grid of every timeslot's rx/tx bits and channel state,
    cut with "... N more" when even that does not fit."""
    budget = max(height - 1, 1)
    state = [title, ""] + [line for r in reports for line in _watch_state(r)]
    counters = [line for r in reports for line in _watch_counters(r)]
    full_bits = render_bits(reports).rstrip("\n").splitlines()
    for bits in (full_bits, [line for r in reports for line in _bits_grid(r, width)]):
        lines = state + counters + bits
        if len(lines) <= budget:
            break
    if len(lines) > budget:                    # cut the bits (then the rest) to fit
        lines = lines[:budget - 1] + [f"... {len(lines) - budget + 1} more lines: a taller "
                                      "terminal, or linediag bits SPAN"]
    return [line[:width] for line in lines]


def _watch_state(r):
    line = r["configured"]
    history = r["alarmHistory"]
    last = history[-1] if history else None
    said = ("no alarm since the server started" if last is None else
            f"{len(history)} in history, the last {last['alarm']} {duration(last['durationS'])}"
            + (" (up)" if last["cleared"] is None else
               f", cleared {time.strftime('%H:%M:%S', time.localtime(last['cleared']))}"))
    return [f"SPAN {r['span']}  {r['state']}  {line['framing']}/{line['coding']}, clock "
            f"{line['clock']}, {line['signalling']}, loopback {r['loopback']}"
            + (f" ({r['loopCode']})" if r["loopCode"] else "")
            + (f"; far end looped ({r['farLoop']})" if r.get("farLoop") else ""),
            f"  alarms now: {', '.join(r['alarms']) or 'none'}; {said}"]


def _watch_counters(r):
    perf = r["performance"]
    if perf is None:
        return [f"  {r['span']}: no performance counters from this driver"]
    rows = [{**perf["current"], "interval": f"now ({duration(perf['current']['elapsedS'])})"},
            {**perf["total24h"], "interval": "24 h",
             "valid": f"{perf['total24h']['intervals']} intervals"}]
    columns = [c for c in COUNTER_COLUMNS if c not in FRAMING_COLUMNS or c in perf["current"]]
    return ["", f"  {r['span']} counters, " + ("available" if perf["available"]
                                                else "UNAVAILABLE"),
            *_indent(table(rows, columns)).splitlines()]


def _bits_grid(r, width):
    """The timeslots' bits in as many columns as `width` holds: "T2
    11/11 conn" (rx/tx, the channel's state cut to 4 letters; out of
    service "oos")."""
    cells = [f"{t['device'].removeprefix(r['span'])} {t['rxBits'] or '-'}/{t['txBits'] or '-'} "
             f"{t['state'].replace('out_of_service', 'oos')[:4]}" + ("!" if t["held"] else "")
             for t in r["timeslots"]]
    if not cells:
        return []
    cell = max(map(len, cells)) + 2
    per_line = max((width - 2) // cell, 1)
    return ["", f"  {r['span']} bits rx/tx, channel ({r['configured']['signalling']}; "
            "! held by a test)"] + [
        "  " + "".join(c.ljust(cell) for c in cells[i:i + per_line]).rstrip()
        for i in range(0, len(cells), per_line)]
