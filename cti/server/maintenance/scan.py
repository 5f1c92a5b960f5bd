# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_linediag -*-
"""Every device of the boards as the driver reports it now: the rows of
`linediag scan`, from the running server (GetLineStatus) or from a
chassis linediag opened itself (`--offline`).

    rows = scan(driver)
    # [{"device": "dtiB1", "kind": "span", "board": 2, "slot": None,
    #   "alarms": [], "verdict": "healthy", ...},
    #  {"device": "dtiB1T1", "kind": "timeslot", "tx_bits": "00", "rx_bits": "00",
    #   "hears": 517, ...}, ...]

Each row has `device`, `kind`, `board`, `slot` (its CT-Bus transmit
timeslot), and what the driver's `status` says of that kind: hook, loop
current and ringing of analog lines, signalling bits of T1 and E1
timeslots (A and B; ABCD on an E1), alarms, type, framing and D-channel of
spans (with a plain verdict), what a voice resource is busy with, free
parties of a conference DSP, and `hears`, the bus timeslot it listens to.
A D-channel ("dtiBnD") is a row of its own.  A voice modem ([[modems]],
"mdmBnC1") is a board, its voice and its line, off the bus (slot None),
and tells what it can (its port, whether it is ready; of its line the
hook and ringing: None where it cannot tell).
"""

#: plain-language verdicts for span alarms, most severe first
VERDICTS = [
    ("los", "RED: loss of signal - no line from the carrier; check the cable and jack"),
    ("red", "RED: local alarm (no signal or no framing); check cable, framing, line code"),
    ("oof", "RED: out of frame - framing (D4/ESF) does not match the carrier's"),
    ("lmfa", "multiframe not found - CRC-4 or timeslot 16 (CAS/CCS) set otherwise at the "
             "far end; see linediag spans"),
    ("blue", "BLUE (AIS) only: the fault is upstream, call the carrier"),
    ("yellow", "YELLOW (RAI): the far end cannot see our signal; check our transmit pair"),
    ("remote_los", "remote loss of signal reported by the far end"),
]


def verdict(alarms):
    """What a technician should make of a span's alarms, in words."""
    for alarm, text in VERDICTS:
        if alarm in alarms:
            return text
    return "healthy" if not alarms else "alarms: " + ", ".join(sorted(alarms))


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
            row.update({k: status.get(k) for k in ("hook", "loop_current", "ringing",
                                                    "polarity_reversed")})   # None: unknown
            row["hears"] = status.get("line_listen")
        else:
            status = driver.status(info.name)
            row.update({k: v for k, v in status.items()
                        if k not in ("name", "open", "kind", "slot", "line_listen",
                                     "loop_current", "ringing", "polarity_reversed")})
            if "listen" in row:
                row["hears"] = row.pop("listen")
            if info.kind == "span":
                row["channels"] = info.channels
                row["verdict"] = verdict(row.get("alarms", []))
        rows.append(row)
    return rows
