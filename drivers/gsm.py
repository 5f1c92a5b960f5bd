# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_gsm_modem -*-
"""A GSM modem on a serial port, for short messages (3GPP TS 27.005): a
Twisted protocol on the injected clock, the PDUs built and read by
drivers.smspdu.

It sets the modem up, sends, and hears what the network sends back::

    modem = GsmModem(GsmSettings("/dev/ttyUSB2", pin="1234"), reactor)
    serial_port(reactor)(modem.settings, modem)   # or a test's simulated line
    yield modem.ready                             # the SIM unlocked, the mode set
    references = yield modem.send("+8613800138000", "您好")   # one per part
    modem.on_report = lambda report: ...          # DeliveryReport, by reference
    modem.on_message = lambda message: ...        # smspdu.Deliver, parts joined

The set-up: ATZ, ATE0, AT+CMEE=1 (numbered errors), AT+CPIN? (and the
PIN if the SIM asks for it: ModemError naming [sms] pin if none is
configured), AT+CMGF (PDU or text mode), AT+CSCA (the SMSC, if
configured), AT+CNMI=2,1,0,1,0 (a message received is stored and said
with +CMTI, a delivery report comes as +CDS) and, in text mode,
AT+CSCS="UCS2".

Sending, PDU mode: ``AT+CMGS=<length>``, the ``> `` prompt, the PDU in
hex, Ctrl-Z; ``+CMGS: <reference>``.  A long text goes in parts joined
by a concatenation header.  Text mode: AT+CSMP sets the coding (GSM
7-bit or UCS2) and the delivery report, then ``AT+CMGS="<number>"``, the
prompt, the text, Ctrl-Z; number and text are written as UCS2 hex (the
character set all modems take; how a modem writes a number in it
varies).  Text mode cannot carry a concatenation header: a long text
goes as several messages, each whole.  +CMS ERROR becomes an SmsError
in words, saying whether sending later may work (drivers.smserrors).

Receiving: +CMTI names the stored message: AT+CMGR reads it, AT+CMGD
deletes it, and the parts of a long one are joined (PDU mode).  +CDS
is a delivery report (SMS-STATUS-REPORT), matched by the sender to the
reference AT+CMGS gave.
"""
import csv
from collections import deque
from dataclasses import dataclass, field

from twisted.internet import defer, protocol
from twisted.logger import Logger

from drivers.errors import MalformedData, ModemError
from drivers.smserrors import cme_words, cms_error, status_words
from drivers.smspdu import (
    DCS_GSM7,
    DCS_UCS2,
    VALIDITY_24H,
    Concatenation,
    Deliver,
    StatusReport,
    decode_received,
    encoding_of,
    split_text,
    submit_pdus,
)

log = Logger()

CTRL_Z = b"\x1a"
PROMPT = "> "
MODES = ("pdu", "text")
COMMAND_TIMEOUT_S = 10.0
#: How long the network may take to take a message (+CMGS).
SEND_TIMEOUT_S = 60.0
#: AT+CSMP's first octet: SMS-SUBMIT, validity relative; 0x20 asks a report.
_TEXT_FIRST_OCTET, _REPORT_ASKED = 0x11, 0x20


@dataclass(frozen=True)
class GsmSettings:
    """[sms]'s modem: its port, PDU or text mode, the SMSC (None: the
    SIM's), the SIM's PIN (None: the SIM has none), delivery reports."""

    port: str
    baud: int = 115200
    mode: str = "pdu"
    smsc: str | None = None
    pin: str | None = field(default=None, repr=False)
    delivery_reports: bool = True


@dataclass(frozen=True)
class DeliveryReport:
    """What became of a message the modem sent: its reference (+CMGS),
    recipient, TP-ST and what it means: outcome delivered, pending or
    failed (drivers.smserrors.status_words)."""

    reference: int
    recipient: str
    status: int
    outcome: str
    meaning: str


def serial_port(reactor):
    """connect(settings, protocol): the modem's port with pyserial under
    Twisted; ModemError naming the port if it cannot be opened."""
    from serial import SerialException
    from twisted.internet.serialport import SerialPort

    def connect(settings, modem):
        try:
            SerialPort(modem, settings.port, reactor, baudrate=settings.baud)
        except SerialException as e:
            raise ModemError(f"cannot open the serial port: {e}", function="open",
                             device=settings.port) from None
    return connect


class AtLines:
    """A modem's bytes as lines, and the prompt (``> ``) AT+CMGS waits
    for, which ends no line."""

    def __init__(self):
        self._line = bytearray()

    def feed(self, data: bytes) -> list[str]:
        out = []
        for byte in data:
            if byte in (0x0D, 0x0A):
                if self._line.strip():
                    out.append(self._line.decode("latin-1").strip())
                self._line.clear()
            else:
                self._line.append(byte)
                if self._line == b"> ":
                    out.append(PROMPT)
                    self._line.clear()
        return out


@dataclass
class _Command:
    text: str
    deferred: defer.Deferred
    payload: bytes | None
    timeout_s: float
    info: list = field(default_factory=list)
    timer: object = None


def ucs2_hex(text: str) -> str:
    return text.encode("utf-16-be").hex().upper()


def _from_ucs2_hex(text: str) -> str:
    """A field in UCS2 hex, as text mode with AT+CSCS="UCS2" gives it."""
    try:
        return bytes.fromhex(text).decode("utf-16-be") if len(text) % 4 == 0 else text
    except ValueError:
        return text


def _text_timestamp(text: str) -> str:
    """'24/03/21,14:05:00+32' (quarter hours) as smspdu writes timestamps."""
    date, time = text.split(",")
    zone = int(time[8:])
    sign = "-" if zone < 0 else "+"
    quarters = abs(zone)
    year, month, day = date.split("/")
    return (f"20{year}-{month}-{day}T{time[:8]}{sign}{quarters // 4:02}:"
            f"{quarters % 4 * 15:02}")


class GsmModem(protocol.Protocol):
    """One GSM modem.  `ready` fires once it is set up (or fails with the
    ModemError that stopped it); `on_report` and `on_message` are told of
    delivery reports and messages received."""

    def __init__(self, settings, clock):
        if settings.mode not in MODES:
            raise ValueError(f"mode {settings.mode!r} is not one of {MODES}")
        self.settings = settings
        self.clock = clock
        self.ready = defer.Deferred()
        self.on_report = lambda report: None
        self.on_message = lambda message: None
        self.joining = Concatenation()
        self._lines = AtLines()
        self._commands = deque()
        self._current = None
        self._report_pdu = False          # +CDS: <length> came: the PDU is the next line
        self._sending = defer.DeferredLock()
        self._reference = 0               # of the next long message's parts

    # -- the serial port ------------------------------------------------------------
    def connectionMade(self):
        defer.ensureDeferred(self._set_up()).addCallbacks(self._ready, self._not_ready)

    def connectionLost(self, reason=protocol.connectionDone):
        log.error("GSM modem on {port}: serial port closed: {reason}",
                  port=self.settings.port, reason=reason.getErrorMessage())
        for command in [self._current, *self._commands]:
            if command is not None:
                self._fail(command, ModemError("the serial port closed", function=command.text,
                                               device=self.settings.port))
        self._commands.clear()
        self._current = None

    def dataReceived(self, data):
        for line in self._lines.feed(data):
            self._line(line)

    async def _set_up(self):
        s = self.settings
        for text in ("ATZ", "ATE0", "AT+CMEE=1"):
            await self.command(text)
        state = (await self.command("AT+CPIN?"))[0].partition(":")[2].strip()
        if state == "SIM PIN":
            if s.pin is None:
                raise ModemError("the SIM asks for its PIN: set [sms] pin", function="AT+CPIN",
                                 device=s.port)
            await self.command(f'AT+CPIN="{s.pin}"')
        elif state != "READY":
            raise ModemError(f"the SIM says {state!r} (a PUK is needed, or no SIM): fix it in "
                             "a phone first", function="AT+CPIN", device=s.port)
        await self.command(f"AT+CMGF={0 if s.mode == 'pdu' else 1}")
        if s.smsc:
            await self.command(f'AT+CSCA="{s.smsc}"')
        await self.command(f"AT+CNMI=2,1,0,{1 if s.delivery_reports else 0},0")
        if s.mode == "text":
            await self.command('AT+CSCS="UCS2"')

    def _ready(self, _):
        log.info("GSM modem on {port} ready ({mode} mode)", port=self.settings.port,
                 mode=self.settings.mode)
        self.ready.callback(None)

    def _not_ready(self, failure):
        log.error("GSM modem on {port}: {error}", port=self.settings.port, error=failure.value)
        self.ready.errback(failure)

    # -- commands -----------------------------------------------------------------------
    def command(self, text, payload=None, timeout_s=COMMAND_TIMEOUT_S) -> defer.Deferred:
        """Send an AT command (and, after its prompt, `payload` and Ctrl-Z):
        a Deferred of the lines it answered before OK."""
        command = _Command(text, defer.Deferred(), payload, timeout_s)
        self._commands.append(command)
        self._next()
        return command.deferred

    def _next(self):
        if self._current is not None or not self._commands:
            return
        command = self._current = self._commands.popleft()
        command.timer = self.clock.callLater(command.timeout_s, self._timed_out, command)
        self.transport.write(command.text.encode("latin-1") + b"\r")

    def _timed_out(self, command):
        if self._current is command:
            self._done(command)
            self._fail(command, ModemError(f"no answer within {command.timeout_s:g} s",
                                           function=command.text, device=self.settings.port))

    def _done(self, command):
        if command.timer is not None and command.timer.active():
            command.timer.cancel()
        self._current = None
        self.clock.callLater(0, self._next)

    @staticmethod
    def _fail(command, error):
        if not command.deferred.called:
            command.deferred.errback(error)

    def _line(self, text):
        command = self._current
        if self._report_pdu:
            self._report_pdu = False
            return self._report(text)
        if text.startswith("+CMTI:"):
            return self._stored(text)
        if text.startswith("+CDS:"):
            if self.settings.mode == "pdu":
                self._report_pdu = True
                return None
            return self._report(text)
        if command is None:
            log.debug("GSM modem on {port} said {text!r}", port=self.settings.port, text=text)
            return None
        if text == PROMPT:
            self.transport.write((command.payload or b"") + CTRL_Z)
        elif text == "OK":
            self._done(command)
            command.deferred.callback(command.info)
        elif text == "ERROR" or text.startswith(("+CMS ERROR:", "+CME ERROR:")):
            self._done(command)
            self._fail(command, self._error(command, text))
        elif text.upper() != command.text.upper():          # not the echo before ATE0
            command.info.append(text)
        return None

    def _error(self, command, text):
        code = text.partition(":")[2].strip()
        if text.startswith("+CMS ERROR:") and code.isdigit():
            return cms_error(int(code), command.text, self.settings.port)
        if text.startswith("+CME ERROR:") and code.isdigit():
            return ModemError(f"+CME ERROR {code}: {cme_words(int(code))}", code=int(code),
                              function=command.text, device=self.settings.port)
        return ModemError(f"the modem answered {text}", function=command.text,
                          device=self.settings.port)

    # -- sending ----------------------------------------------------------------------
    def send(self, number: str, text: str) -> defer.Deferred:
        """Send `text` to `number`: a Deferred of the references the modem
        gave its parts (each a delivery report's), or an SmsError."""
        return self._sending.run(lambda: defer.ensureDeferred(self._send(number, text)))

    async def _send(self, number, text):
        references = []
        if self.settings.mode == "pdu":
            self._reference = (self._reference + 1) & 0xFF
            for pdu in submit_pdus(number, text, self._reference,
                                   self.settings.delivery_reports):
                info = await self.command(f"AT+CMGS={pdu.length}", pdu.hex.encode(),
                                          SEND_TIMEOUT_S)
                references.append(self._reference_of(info))
            return references
        first = _TEXT_FIRST_OCTET | (_REPORT_ASKED if self.settings.delivery_reports else 0)
        dcs = DCS_GSM7 if encoding_of(text) == "gsm7" else DCS_UCS2
        await self.command(f"AT+CSMP={first},{VALIDITY_24H},0,{dcs}")
        for part in split_text(text, concatenated=False):
            info = await self.command(f'AT+CMGS="{ucs2_hex(number)}"',
                                      ucs2_hex(part).encode(), SEND_TIMEOUT_S)
            references.append(self._reference_of(info))
        return references

    def _reference_of(self, info):
        for line in info:
            if line.startswith("+CMGS:"):
                return int(line.partition(":")[2].split(",")[0])
        raise ModemError(f"no +CMGS reference in {info!r}", function="AT+CMGS",
                         device=self.settings.port)

    # -- what the network sends ---------------------------------------------------------
    def _report(self, text):
        try:
            if self.settings.mode == "pdu":
                report = decode_received(text)
                if not isinstance(report, StatusReport):
                    raise MalformedData("+CDS carried no SMS-STATUS-REPORT", function="+CDS")
                reference, recipient, status = report.reference, report.recipient, \
                    report.status
            else:
                fields = next(csv.reader([text.partition(":")[2].strip()]))
                reference, recipient, status = int(fields[1]), _from_ucs2_hex(fields[2]), \
                    int(fields[-1])
        except (MalformedData, ValueError, IndexError) as e:
            log.error("GSM modem on {port}: a delivery report that does not parse ({error}): "
                      "{text!r}", port=self.settings.port, error=e, text=text)
            return
        outcome, meaning = status_words(status)
        self.on_report(DeliveryReport(reference, recipient, status, outcome, meaning))

    def _stored(self, text):
        index = text.rpartition(",")[2].strip()
        if index.isdigit():
            defer.ensureDeferred(self._read(int(index))).addErrback(
                lambda f: log.error("GSM modem on {port}: message {index} unread: {error}",
                                    port=self.settings.port, index=index, error=f.value))

    async def _read(self, index):
        info = await self.command(f"AT+CMGR={index}")
        await self.command(f"AT+CMGD={index}")
        if len(info) < 2:
            raise MalformedData(f"AT+CMGR={index} answered {info!r}", function="AT+CMGR")
        if self.settings.mode == "pdu":
            message = decode_received(info[1])
            if not isinstance(message, Deliver):
                raise MalformedData("a stored message that is no SMS-DELIVER",
                                    function="AT+CMGR")
            whole = self.joining.add(message)
        else:
            fields = next(csv.reader([info[0].partition(":")[2].strip()]))
            whole = Deliver(_from_ucs2_hex(fields[1]), _from_ucs2_hex(info[1]),
                            _text_timestamp(fields[3]), None)
        if whole is not None:
            self.on_message(whole)
