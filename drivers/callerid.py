# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_modem_parsers -*-
"""Caller ID as modems and caller-ID boxes report it: text lines in each
maker's dialect, or the data message itself.  Pure: lines and bytes in,
`drivers.interface.CallerId` out.

The exchange sends caller ID as a data message between the first and
second ring (Bellcore GR-30, ETSI EN 300 659-3; China's FSK is the same
message).  Its bytes::

    type  length  body ...  checksum        (sum of all bytes = 0 mod 256)
    0x04  SDMF: MMDDhhmm then the number, or 'P' (private) / 'O' (out
          of area) in its place
    0x80  MDMF: parameters (type, length, value): 1 date and time
          MMDDhhmm, 2 number, 3 the dialable number (Bell Canada), 4 why
          there is no number (P / O), 7 name, 8 why there is no name

A box hands the message over as bytes (`decode_message`).  A voice modem
with ``AT+VCID=1`` prints the fields as lines; with ``AT+VCID=2`` the
message in hex on one line.  `CallerIdLines` takes every line between the
rings and keeps what is caller ID, in the forms modems print
[src: mgetty voice/libvoice/cnd.c]::

    DATE=0321  TIME=1405  NMBR=13800138000  NAME=ALICE    Digi, Zoom, ELSA
    DATE = 0321  NMBR = 5551234  NAME = J SMITH           Rockwell, Conexant
    MESG = 030735353531323132                             Rockwell: an MDMF
                                                          parameter it does
                                                          not know, in hex
    DDN_NMBR= 5551234                                     Rockwell (Bell Canada)
    CALLER NUMBER: 5551234  CALLER NAME: J SMITH          ZyXEL
    FM:5551234   NBR=5551234   CallerID: 5551234          others
    RING;5551234                                          ELSA: with the ring
    5551234                                               ELINK ISDN: the number alone
    80200108303332313134303502...                         AT+VCID=2: the message

The result follows the boards' convention (drivers/r4.py): `number` is
the digits or P / O when withheld / unavailable, `datetime` MMDDhhmm,
`frame` S or M (a modem printing fields does not say which message came:
M when there was a name or a reason for none, else S).
"""
import re

from drivers.errors import MalformedData
from drivers.interface import CallerId

SDMF, MDMF = 0x04, 0x80
#: MDMF parameter types.
DATE_TIME, NUMBER, DIALABLE_NUMBER, NUMBER_ABSENT, NAME, NAME_ABSENT = 1, 2, 3, 4, 7, 8
#: Why a number or name is absent: private (withheld), out of area (unavailable).
ABSENT = ("P", "O")

#: A formatted line: its pattern, and the field its value is.
_LINES = [(re.compile(pattern, re.IGNORECASE), name) for pattern, name in (
    (r"DATE\s*=\s*(\d{4})", "date"),
    (r"TIME\s*=\s*(\d{4})", "time"),
    (r"(?:DDN_)?NMBR\s*=\s*(.*)", "number"),
    (r"NBR\s*=\s*(.*)", "number"),
    (r"NAME\s*=\s*(.*)", "name"),
    (r"CALLER NUMBER\s*:\s*(.*)", "number"),
    (r"CALLER NAME\s*:\s*(.*)", "name"),
    (r"FM\s*:\s*(.*)", "number"),
    (r"CALLER\s*ID\s*:\s*(.*)", "number"),
    (r"RING\s*;\s*(.+)", "number"),
    (r"MESG\s*=\s*([0-9A-F\s]+)", "mesg"),
)]
_HEX = re.compile(r"(?:[0-9A-Fa-f]{2}){3,}")
_DIGITS = re.compile(r"\+?[0-9]{3,}")


def checksum(data: bytes) -> int:
    """The byte that makes a message's bytes add up to 0 (mod 256)."""
    return -sum(data) & 0xFF


def decode_message(data: bytes) -> CallerId:
    """A whole data message (type, length, body, checksum): MalformedData
    if it is cut short, its checksum is wrong, or it is no caller ID (a
    message-waiting indication)."""
    if len(data) < 3 or data[1] != len(data) - 3:
        raise MalformedData(f"a caller-ID message of {len(data)} bytes whose length byte says "
                            f"{data[1] if len(data) > 1 else '?'}", function="caller ID")
    if sum(data) & 0xFF:
        raise MalformedData(f"caller-ID message {data.hex()}: wrong checksum",
                            function="caller ID")
    kind, body = data[0], data[2:-1]
    if kind == SDMF:
        if len(body) < 8:
            raise MalformedData("an SDMF message shorter than its date and time",
                                function="caller ID")
        number = body[8:].decode("latin-1")
        return CallerId(number=number, name="", datetime=body[:8].decode("latin-1"), frame="S")
    if kind == MDMF:
        fields = parameters(body)
        return _caller_id(fields, "M")
    raise MalformedData(f"message type {kind:#04x} carries no caller ID", function="caller ID")


def parameters(body: bytes) -> dict:
    """The fields of MDMF parameters (type, length, value)...: number,
    name, datetime; absent parameters' reasons as number / name P or O."""
    fields, i = {}, 0
    while i < len(body):
        if i + 2 > len(body) or i + 2 + body[i + 1] > len(body):
            raise MalformedData(f"MDMF parameter at byte {i} runs past the message",
                                function="caller ID")
        kind, value = body[i], body[i + 2:i + 2 + body[i + 1]].decode("latin-1")
        i += 2 + body[i + 1]
        if kind == DATE_TIME:
            fields["datetime"] = value
        elif kind == NUMBER:
            fields["number"] = value
        elif kind == DIALABLE_NUMBER:
            fields.setdefault("number", value)
        elif kind == NUMBER_ABSENT:
            fields.setdefault("number", _reason(value))
        elif kind == NAME:
            fields["name"] = value
        elif kind == NAME_ABSENT:
            fields["name_absent"] = _reason(value)
    return fields


def _reason(value):
    return value[:1] if value[:1] in ABSENT else "O"


def _caller_id(fields, frame):
    return CallerId(number=fields.get("number", ""), name=fields.get("name", ""),
                    datetime=fields.get("datetime", ""), frame=frame)


class CallerIdLines:
    """The caller ID a modem printed since the call began (`clear`)."""

    def __init__(self):
        self._fields = {}
        self._message = None              # a whole message, from AT+VCID=2

    def clear(self):
        self._fields.clear()
        self._message = None

    def add(self, line: str) -> bool:
        """Take one line the modem sent; True if it was caller ID."""
        text = line.strip()
        for pattern, name in _LINES:
            match = pattern.fullmatch(text)
            if match:
                self._field(name, match.group(1).strip())
                return True
        if _HEX.fullmatch(text) and int(text[:2], 16) in (SDMF, MDMF):
            message = _message_or_none(text)      # or digits that only look like one
            if message is not None:
                self._message = message
                return True
        if _DIGITS.fullmatch(text):
            self._fields["number"] = text
            return True
        return False

    def _field(self, name, value):
        if name == "mesg":
            self._fields.update(parameters(bytes.fromhex("".join(value.split()))))
            self._fields["mdmf"] = True
        elif name == "name":
            if value.upper() in ABSENT:
                self._fields["name_absent"] = value.upper()
            else:
                self._fields["name"] = value
        elif name == "number" and value.upper() in ABSENT:
            self._fields["number"] = value.upper()
        else:
            self._fields[name] = value

    def caller_id(self) -> CallerId | None:
        """What was reported, or None if nothing was."""
        if self._message is not None:
            return self._message
        f = self._fields
        if "number" not in f and "name" not in f:
            return None
        datetime = f.get("datetime", f.get("date", "") + f.get("time", ""))
        mdmf = any(k in f for k in ("name", "name_absent", "mdmf")) or f.get("number") in ABSENT
        return CallerId(number=f.get("number", ""), name=f.get("name", ""),
                        datetime=datetime if len(datetime) == 8 else "",
                        frame="M" if mdmf else "S")


def _message_or_none(text):
    """The SDMF or MDMF message a line of hex spells, or None if it is no
    message (a number that happens to start like one)."""
    try:
        return decode_message(bytes.fromhex(text))
    except MalformedData:
        return None
