# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_usb_callerid -*-
"""The reports of a USB caller-ID box (a line recorder's caller-ID side):
8-byte HID input reports in, line events out.  Pure and table-driven.

Cheap caller-ID boxes are HID devices with a vendor-defined usage page:
no driver, an interrupt-IN endpoint pushing fixed-size reports, one per
thing that happened on one of their lines (lines-real.md section 5.3).
Makers' formats differ and are seldom published; this module reads the
format cti documents for such a box (docs/operations.md, "USB caller-ID
boxes": the layout a box must speak, or a site's table to add here after
capturing its reports with the hardware checklist)::

    byte 0   kind     0x00 nothing (a keep-alive), and REPORT_KINDS
    byte 1   line     1..n, the box's socket
    byte 2   length   bytes of payload used (0..5)
    byte 3-7 payload

    01 ring          the line rings (one report per ring burst)
    02 off hook      the phone on the line was lifted
    03 on hook       and put down
    04 caller ID     the next bytes of the caller-ID data message the box
                     demodulated (SDMF / MDMF, drivers.callerid), as many
                     reports as it takes: decoded once its length is in
    05 digit         a DTMF key heard on the line (dialled out, or pressed)
    06 DTMF caller   the next digits of a DTMF caller ID (China, some of
       ID digits     Europe), ended by report 07
    07 DTMF caller   the digits so far are the caller's number
       ID end

    reports = BoxReports()
    reports.feed(bytes.fromhex("0101000000000000"))   # [BoxEvent(1, 'ring', {})]
"""
from dataclasses import dataclass, field

from drivers.callerid import decode_message
from drivers.errors import MalformedData
from drivers.interface import CallerId

REPORT_SIZE = 8
PAYLOAD = 5
NOTHING, RING, OFF_HOOK, ON_HOOK, CID_DATA, DIGIT, CID_DIGITS, CID_DIGITS_END = range(8)
#: Report kinds and the events they are: the table a new box's format extends.
REPORT_KINDS = {RING: "ring", OFF_HOOK: "hook", ON_HOOK: "hook", CID_DATA: "caller_id",
                DIGIT: "digit", CID_DIGITS: "caller_id", CID_DIGITS_END: "caller_id"}
DTMF_KEYS = "0123456789*#ABCD"


@dataclass(frozen=True)
class BoxEvent:
    """Something on one line of a box: ring; hook (offhook: bool);
    caller_id (caller_id: CallerId); digit (digit)."""

    line: int
    kind: str
    data: dict = field(default_factory=dict)


class BoxReports:
    """Reads a box's reports, joining a caller ID sent over several."""

    def __init__(self):
        self._data = {}             # line -> bytearray of a caller-ID message so far
        self._digits = {}           # line -> DTMF caller-ID digits so far

    def feed(self, report: bytes) -> list[BoxEvent]:
        if len(report) != REPORT_SIZE:
            raise MalformedData(f"a report of {len(report)} bytes; the box sends "
                                f"{REPORT_SIZE}", function="HID report")
        kind, line, length = report[0], report[1], report[2]
        if kind == NOTHING:
            return []
        if kind not in REPORT_KINDS or not 1 <= line or length > PAYLOAD:
            raise MalformedData(f"report {report.hex()}: kind {kind:#04x}, line {line}, "
                                f"length {length}: not a report of the documented format",
                                function="HID report")
        payload = report[3:3 + length]
        if kind == RING:
            self._data.pop(line, None)
            return [BoxEvent(line, "ring")]
        if kind in (OFF_HOOK, ON_HOOK):
            return [BoxEvent(line, "hook", {"offhook": kind == OFF_HOOK})]
        if kind == DIGIT:
            digit = payload[:1].decode("latin-1")
            if digit not in DTMF_KEYS or not digit:
                raise MalformedData(f"report {report.hex()}: {digit!r} is not a DTMF key",
                                    function="HID report")
            return [BoxEvent(line, "digit", {"digit": digit})]
        if kind == CID_DATA:
            return self._message(line, payload)
        if kind == CID_DIGITS:
            self._digits[line] = self._digits.get(line, "") + payload.decode("latin-1")
            return []
        number = self._digits.pop(line, "")
        return [BoxEvent(line, "caller_id", {"caller_id": CallerId(
            number=number or "O", name="", datetime="", frame="D")})]

    def _message(self, line, payload):
        data = self._data.setdefault(line, bytearray())
        data += payload
        if len(data) < 2 or len(data) < data[1] + 3:
            return []
        message = bytes(data[:data[1] + 3])
        del self._data[line]
        return [BoxEvent(line, "caller_id", {"caller_id": decode_message(message)})]
