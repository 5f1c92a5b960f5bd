# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_gsm_modem -*-
"""A GSM modem and its network, simulated: the modem's side of the serial
port, sans-IO, on an injected clock (lines-real.md 5.2).

It answers the TS 27.005 commands drivers.gsm sends, echoing them until
``ATE0``::

    ATZ  ATE0  AT+CMEE=1  AT+CMGF=0|1  AT+CSCS="UCS2"|"GSM"  AT+CSCA  AT+CSMP
    AT+CPIN?            +CPIN: READY, or +CPIN: SIM PIN until AT+CPIN="<pin>"
    AT+CNMI=2,1,0,<ds>,0   messages stored and said with +CMTI; ds=1: +CDS reports
    AT+CMGS=<length> / AT+CMGS="<number>"   the "> " prompt, then the PDU (or
                        text) up to Ctrl-Z (ESC: not sent): +CMGS: <reference>
    AT+CMGR=<i>, AT+CMGD=<i>                read, delete a stored message

The network is played from outside: what the modem sent is kept
(`sent`: number, text, concatenation, whether a report was asked, as the
network read it), a delivery report follows `report_after_s` later with
the status of `statuses` (TP-ST by number, delivered by default),
`receive` stores a message from someone (in parts if long) and says so
with +CMTI, `refuse_next` answers the next send with +CMS ERROR, and
`network = False` answers every send with +CMS ERROR 331 (no network
service).
"""
from dataclasses import dataclass

from drivers.smspdu import (
    Concat,
    decode_received,
    decode_submit,
    deliver_pdus,
    gsm7_septets,
    status_report_pdu,
)

CTRL_Z, ESC = 0x1A, 0x1B
#: When the network says it has the message, and when it delivered it.
TIMESTAMP, DISCHARGED = "2024-03-21T14:05:00+08:00", "2024-03-21T14:05:07+08:00"


@dataclass(frozen=True)
class Sent:
    """A message the modem gave the network: one part of a long one
    (`concat`) or a whole message."""

    number: str
    text: str
    concat: Concat | None
    status_report: bool
    reference: int


class GsmModemSimulator:
    """The modem and its network; `write` is set by whoever connects it."""

    def __init__(self, clock, pin=None, report_after_s=5.0):
        self.clock = clock
        self.pin = pin
        self.report_after_s = report_after_s
        self.write = lambda data: None
        self.commands = []
        self.sent = []
        self.statuses = {}              # number -> TP-ST of its delivery reports
        self.network = True
        self._refuse = []               # +CMS ERROR codes for the next sends
        self.echo = True
        self.mode = 0                   # AT+CMGF: 0 PDU, 1 text
        self.charset = "GSM"
        self.first_octet, self.dcs = 0x11, 0
        self.reports = False            # AT+CNMI ds
        self.locked = pin is not None
        self.stored = {}                # index -> (PDU hex, sender, text) of messages received
        self._index = 0
        self._reference = 0
        self._line = bytearray()
        self._sending = None            # the AT+CMGS waiting for its payload

    # -- the network ----------------------------------------------------------------
    def receive(self, sender, text, reference=1):
        """A message from `sender` reaches the SIM (in parts if long): +CMTI each."""
        for pdu in deliver_pdus(sender, text, TIMESTAMP, reference):
            self._index += 1
            self.stored[self._index] = pdu
            self._send(f'+CMTI: "SM",{self._index}')

    def refuse_next(self, code):
        self._refuse.append(code)

    # -- the computer's side -----------------------------------------------------------
    def data_received(self, data):
        for byte in data:
            if self._sending is not None:
                self._payload(byte)
            elif byte == 0x0D:
                command = self._line.decode("latin-1").strip()
                self._line.clear()
                if self.echo:
                    self.write(command.encode("latin-1") + b"\r")
                if command:
                    self.commands.append(command)
                    self._execute(command)
            elif byte != 0x0A:
                self._line.append(byte)

    def _send(self, *lines):
        self.write(b"".join(b"\r\n" + line.encode("latin-1") + b"\r\n" for line in lines))

    def _execute(self, command):
        upper = command.upper()
        if upper in ("AT", "ATZ", "AT+CMEE=1") or upper.startswith(("AT+CSCA=", "AT+CNMI=")):
            if upper.startswith("AT+CNMI="):
                self.reports = command.split(",")[3] == "1"
            return self._send("OK")
        if upper == "ATE0":
            self.echo = False
            return self._send("OK")
        if upper == "AT+CPIN?":
            return self._send("+CPIN: SIM PIN" if self.locked else "+CPIN: READY", "OK")
        if upper.startswith("AT+CPIN="):
            if command[8:].strip('"') != self.pin:
                return self._send("+CME ERROR: 16")
            self.locked = False
            return self._send("OK")
        if upper in ("AT+CMGF=0", "AT+CMGF=1"):
            self.mode = int(upper[-1])
            return self._send("OK")
        if upper.startswith("AT+CSCS="):
            self.charset = command[8:].strip('"').upper()
            return self._send("OK")
        if upper.startswith("AT+CSMP="):
            fields = command[8:].split(",")
            self.first_octet, self.dcs = int(fields[0]), int(fields[3])
            return self._send("OK")
        if upper.startswith("AT+CMGS="):
            self._sending = (command[8:], bytearray())
            return self.write(b"\r\n> ")
        if upper.startswith(("AT+CMGR=", "AT+CMGD=")):
            index = int(command[8:])
            if index not in self.stored:
                return self._send("+CMS ERROR: 321")
            if upper.startswith("AT+CMGD="):
                del self.stored[index]
                return self._send("OK")
            return self._read(index)
        return self._send("ERROR")

    def _read(self, index):
        pdu = self.stored[index]
        if self.mode == 0:
            return self._send(f"+CMGR: 0,,{len(pdu) // 2 - 1}", pdu, "OK")
        message = decode_received(pdu)
        stamp = TIMESTAMP[2:10].replace("-", "/") + "," + TIMESTAMP[11:19] + "+32"
        return self._send(f'+CMGR: "REC UNREAD","{self._text_out(message.sender)}",,"{stamp}"',
                          self._text_out(message.text), "OK")

    def _text_out(self, text):
        return text.encode("utf-16-be").hex().upper() if self.charset == "UCS2" else text

    def _text_in(self, text):
        return bytes.fromhex(text).decode("utf-16-be") if self.charset == "UCS2" else text

    # -- a message handed over ----------------------------------------------------------
    def _payload(self, byte):
        argument, payload = self._sending
        if byte == ESC:
            self._sending = None
            return self._send("OK")
        if byte != CTRL_Z:
            payload.append(byte)
            return None
        self._sending = None
        if self.locked:
            return self._send("+CMS ERROR: 311")
        if self._refuse:
            return self._send(f"+CMS ERROR: {self._refuse.pop(0)}")
        if not self.network:
            return self._send("+CMS ERROR: 331")
        text = payload.decode("latin-1").strip()
        try:
            if self.mode == 0:
                submit = decode_submit(text)
                if int(argument) != len(text) // 2 - 1 - int(text[:2], 16):
                    return self._send("+CMS ERROR: 304")
                number, body, concat, report = (submit.number, submit.text, submit.concat,
                                                submit.status_report)
            else:
                number, body = self._text_in(argument.strip('"')), self._text_in(text)
                if self.dcs == 0 and gsm7_septets(body) is None:
                    return self._send("+CMS ERROR: 305")
                concat, report = None, bool(self.first_octet & 0x20)
        except ValueError:
            return self._send("+CMS ERROR: 304" if self.mode == 0 else "+CMS ERROR: 305")
        self._reference = (self._reference + 1) & 0xFF
        self.sent.append(Sent(number, body, concat, report, self._reference))
        self._send(f"+CMGS: {self._reference}", "OK")
        if report and self.reports:
            self.clock.callLater(self.report_after_s, self._report, self._reference, number)
        return None

    def _report(self, reference, number):
        status = self.statuses.get(number, 0)
        if self.mode == 0:
            pdu = status_report_pdu(reference, number, TIMESTAMP, DISCHARGED, status)
            return self._send(f"+CDS: {len(pdu) // 2 - 1}", pdu)
        stamp = TIMESTAMP[2:10].replace("-", "/") + "," + TIMESTAMP[11:19] + "+32"
        done = DISCHARGED[2:10].replace("-", "/") + "," + DISCHARGED[11:19] + "+32"
        return self._send(f'+CDS: 6,{reference},"{self._text_out(number)}",145,"{stamp}",'
                          f'"{done}",{status}')
