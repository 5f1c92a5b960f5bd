# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_sms_pdu -*-
"""Short messages as bytes (3GPP TS 23.040 PDUs, TS 23.038 alphabets):
pure functions, text in and hex out and back.

A GSM modem in PDU mode (``AT+CMGF=0``) takes and gives messages as hex:
our SMS-SUBMIT to send one, the network's SMS-DELIVER for one received
and SMS-STATUS-REPORT for a delivery report, each after the SMSC's
address (``00``: the SIM's own SMSC)::

    parts = submit_pdus("+8613800138000", "你好", reference=7)
    parts[0].hex     # '0031000D91683108108300F00008A7044F60597D'
    parts[0].length  # 19: what AT+CMGS= says (the octets after the SMSC)

    decode_received("0791...")   # -> Deliver(sender, text, timestamp, concat)
                                 #    or StatusReport(reference, status, ...)

Alphabets: a text the GSM default alphabet holds (with its escape table:
``{ } [ ] ~ \\ | ^ €`` cost two septets) goes as 7-bit septets, 160 to a
message; any other (Chinese) as UCS2, UTF-16 code units, 70 to a message
(a character beyond the BMP takes two).  A longer text is split into
parts with a concatenation header (IEI 0x00: reference, total, sequence),
153 septets or 67 units each, never inside an escape or a surrogate pair;
`Concatenation` joins received parts again, by sender, reference and
count, whatever order they come in.
"""
import math
from dataclasses import dataclass

from drivers.errors import MalformedData

#: TS 23.038 default alphabet, by septet value.
GSM7 = ("@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
        "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà")
ESCAPE = 0x1B
#: Its extension table: ESC then the septet.
GSM7_EXTENSION = {"\f": 0x0A, "^": 0x14, "{": 0x28, "}": 0x29, "\\": 0x2F, "[": 0x3C,
                  "~": 0x3D, "]": 0x3E, "|": 0x40, "€": 0x65}
assert len(GSM7) == 128

_SEPTET = {c: i for i, c in enumerate(GSM7) if i != ESCAPE}
_EXTENDED = {v: c for c, v in GSM7_EXTENSION.items()}

#: Data coding schemes: the default alphabet, 8-bit data, UCS2.
DCS_GSM7, DCS_8BIT, DCS_UCS2 = 0x00, 0x04, 0x08
#: (one message, each part of a long one): septets, octets, UCS2 units.
LIMITS = {"gsm7": (160, 153), "ucs2": (70, 67)}
#: The most parts a message may have (the header's count is one octet).
MAX_PARTS = 255
#: TP-VP, relative: 167 is 24 hours ((167 - 143) x 30 min + 12 h).
VALIDITY_24H = 167
#: Type of address: international (a number given with +), or unknown.
TOA_INTERNATIONAL, TOA_UNKNOWN, TOA_ALPHANUMERIC = 0x91, 0x81, 0xD0
#: Concatenation information elements: 8-bit and 16-bit references.
IEI_CONCAT_8, IEI_CONCAT_16 = 0x00, 0x08
#: TP-MTI as the modem (the mobile) sees it: received DELIVER, STATUS-REPORT;
#: sent SUBMIT.
MTI_DELIVER, MTI_SUBMIT, MTI_STATUS_REPORT = 0, 1, 2
_UDHI, _SRR_OR_SRI, _VPF_RELATIVE = 0x40, 0x20, 0x10


# -- alphabets -------------------------------------------------------------------
def gsm7_septets(text: str) -> list[int] | None:
    """The septets of a text in the default alphabet, or None if it has a
    character outside it."""
    out = []
    for c in text:
        if c in _SEPTET:
            out.append(_SEPTET[c])
        elif c in GSM7_EXTENSION:
            out += [ESCAPE, GSM7_EXTENSION[c]]
        else:
            return None
    return out


def gsm7_text(septets) -> str:
    out, escaped = [], False
    for s in septets:
        if escaped:
            out.append(_EXTENDED.get(s, " "))
            escaped = False
        elif s == ESCAPE:
            escaped = True
        else:
            out.append(GSM7[s])
    return "".join(out)


def pack_septets(septets, fill_bits=0) -> bytes:
    """Septets packed into octets, after `fill_bits` zero bits (which align
    them to a septet boundary after a user data header)."""
    value, bits, out = 0, fill_bits, bytearray()
    for s in septets:
        value |= (s & 0x7F) << bits
        bits += 7
        while bits >= 8:
            out.append(value & 0xFF)
            value >>= 8
            bits -= 8
    if bits:
        out.append(value & 0xFF)
    return bytes(out)


def unpack_septets(data: bytes, count: int, fill_bits=0) -> list[int]:
    value = int.from_bytes(data, "little") >> fill_bits
    return [(value >> (7 * i)) & 0x7F for i in range(count)]


def _ucs2_units(text):
    return len(text.encode("utf-16-be")) // 2


# -- splitting ---------------------------------------------------------------------
def encoding_of(text: str) -> str:
    """gsm7 if the default alphabet holds the text, else ucs2."""
    return "gsm7" if gsm7_septets(text) is not None else "ucs2"


def split_text(text: str, concatenated=True) -> list[str]:
    """The text as the parts it is sent in: itself if it fits one message,
    else parts of at most 153 septets / 67 UCS2 units (without a
    concatenation header, as text mode sends: whole messages of 160 / 70),
    never cutting an escape or a surrogate pair."""
    encoding = encoding_of(text)
    single, each = LIMITS[encoding]
    if not concatenated:
        each = single
    size = (lambda c: len(gsm7_septets(c))) if encoding == "gsm7" else _ucs2_units
    if sum(size(c) for c in text) <= single:
        return [text]
    parts, current, used = [], [], 0
    for c in text:
        cost = size(c)
        if used + cost > each:
            parts.append("".join(current))
            current, used = [], 0
        current.append(c)
        used += cost
    parts.append("".join(current))
    if len(parts) > MAX_PARTS:
        raise ValueError(f"a text of {len(text)} characters needs {len(parts)} messages; "
                         f"at most {MAX_PARTS} can be joined")
    return parts


# -- addresses and times -------------------------------------------------------------
def _semi_octets(digits: str) -> bytes:
    padded = digits + ("F" if len(digits) % 2 else "")
    return bytes.fromhex("".join(padded[i + 1] + padded[i] for i in range(0, len(padded), 2)))


def _digits(data: bytes, count: int) -> str:
    text = "".join(f"{b & 0x0F:X}{b >> 4:X}" for b in data)[:count]
    return text.replace("A", "*").replace("B", "#")


def encode_address(number: str) -> bytes:
    """TP-DA / TP-OA: digit count, type, digits in swapped semi-octets."""
    digits = number[1:] if number.startswith("+") else number
    if not digits or any(c not in "0123456789*#" for c in digits):
        raise ValueError(f"{number!r} is not a phone number (digits, * and #, "
                         "an optional leading +)")
    toa = TOA_INTERNATIONAL if number.startswith("+") else TOA_UNKNOWN
    body = digits.replace("*", "A").replace("#", "B")
    return bytes((len(digits), toa)) + _semi_octets(body)


def _address(pdu, pos, what):
    count, toa = pdu[pos], pdu[pos + 1]
    size = (count + 1) // 2
    data = pdu[pos + 2:pos + 2 + size]
    if len(data) < size:
        raise MalformedData(f"{what} runs past the PDU", function="SMS PDU")
    if toa & 0x70 == 0x50:                        # alphanumeric: packed septets
        number = gsm7_text(unpack_septets(data, count * 4 // 7))
    else:
        number = ("+" if toa & 0x70 == 0x10 else "") + _digits(data, count)
    return number, pos + 2 + size


def _timestamp(data: bytes) -> str:
    """A TP-SCTS / TP-DT: '2024-03-21T14:05:00+08:00' (the zone in quarter hours)."""
    d = [int(f"{b & 0x0F}{b >> 4}") if (b & 0x0F) < 10 and (b >> 4) < 10 else 0
         for b in data[:6]]
    zone = data[6]
    quarters = int(f"{zone & 0x07}{zone >> 4}")
    sign = "-" if zone & 0x08 else "+"
    return (f"20{d[0]:02}-{d[1]:02}-{d[2]:02}T{d[3]:02}:{d[4]:02}:{d[5]:02}"
            f"{sign}{quarters // 4:02}:{quarters % 4 * 15:02}")


def encode_timestamp(when: str) -> bytes:
    """The 7 octets of a timestamp given as `_timestamp` writes it."""
    date, time_zone = when.split("T")
    year, month, day = date.split("-")
    clock, sign, zone = time_zone[:8], time_zone[8], time_zone[9:]
    hours, minutes = zone.split(":")
    fields = [year[2:], month, day, *clock.split(":")]
    quarters = f"{(int(hours) * 4 + int(minutes) // 15):02}"
    octets = [int(f[1] + f[0], 16) for f in fields]
    octets.append(int(quarters[1] + quarters[0], 16) | (0x08 if sign == "-" else 0))
    return bytes(octets)


# -- user data ---------------------------------------------------------------------
@dataclass(frozen=True)
class Concat:
    """A part of a long message: the sender's reference, how many parts, which."""

    reference: int
    total: int
    sequence: int


def _user_data(text, dcs, concat):
    """(TP-UDL, TP-UD) of a part."""
    header = b""
    if concat is not None:
        header = bytes((5, IEI_CONCAT_8, 3, concat.reference & 0xFF, concat.total,
                        concat.sequence))
    if dcs == DCS_UCS2:
        body = text.encode("utf-16-be")
        return len(header) + len(body), header + body
    septets = gsm7_septets(text)
    if septets is None:
        raise ValueError(f"{text!r} is not in the GSM default alphabet")
    header_septets = math.ceil(len(header) * 8 / 7)
    fill = header_septets * 7 - len(header) * 8
    return header_septets + len(septets), header + pack_septets(septets, fill)


def _read_user_data(pdu, pos, dcs, udhi, what):
    """(text, Concat or None) from TP-UDL at `pos`."""
    udl = pdu[pos]
    ud = pdu[pos + 1:]
    concat, header_len = None, 0
    if udhi:
        header_len = ud[0] + 1
        concat = _concat(ud[1:header_len])
    alphabet = _alphabet(dcs)
    if alphabet == "gsm7":
        header_septets = math.ceil(header_len * 8 / 7)
        fill = header_septets * 7 - header_len * 8
        count = udl - header_septets
        needed = math.ceil((header_septets + count) * 7 / 8)
        if len(ud) < needed or count < 0:
            raise MalformedData(f"{what}: user data shorter than its {udl} septets",
                                function="SMS PDU")
        text = gsm7_text(unpack_septets(ud[header_len:needed], count, fill))
    else:
        if len(ud) < udl:
            raise MalformedData(f"{what}: user data shorter than its {udl} octets",
                                function="SMS PDU")
        body = ud[header_len:udl]
        text = body.decode("utf-16-be", errors="replace") if alphabet == "ucs2" \
            else body.decode("latin-1")
    return text, concat


def _concat(header):
    i = 0
    while i + 2 <= len(header):
        iei, size = header[i], header[i + 1]
        value = header[i + 2:i + 2 + size]
        if iei == IEI_CONCAT_8 and size == 3:
            return Concat(value[0], value[1], value[2])
        if iei == IEI_CONCAT_16 and size == 4:
            return Concat(int.from_bytes(value[:2], "big"), value[2], value[3])
        i += 2 + size
    return None


def _alphabet(dcs):
    """gsm7, 8bit or ucs2 (TS 23.038 section 4)."""
    group = dcs >> 4
    if group in (0x0, 0x1, 0x4, 0x5, 0x6, 0x7):            # general data coding
        return ("gsm7", "8bit", "ucs2", "gsm7")[(dcs >> 2) & 0x03]
    if group == 0xE:                                       # message waiting, UCS2
        return "ucs2"
    if group == 0xF:
        return "8bit" if dcs & 0x04 else "gsm7"
    return "gsm7"


# -- SMS-SUBMIT ------------------------------------------------------------------------
@dataclass(frozen=True)
class Pdu:
    """One PDU for AT+CMGS: the hex (SMSC field first) and the length the
    command takes (the octets after the SMSC field)."""

    hex: str
    length: int


@dataclass(frozen=True)
class Submit:
    """An SMS-SUBMIT as the network (our simulator) reads it."""

    number: str
    text: str
    status_report: bool
    concat: Concat | None


def submit_pdus(number: str, text: str, reference: int, status_report=True,
                validity=VALIDITY_24H) -> list[Pdu]:
    """The SMS-SUBMIT PDUs that send `text` to `number`: one, or the parts
    of a long text joined by `reference` (0-255)."""
    parts = split_text(text)
    dcs = DCS_GSM7 if encoding_of(text) == "gsm7" else DCS_UCS2
    address = encode_address(number)
    out = []
    for i, part in enumerate(parts, 1):
        concat = Concat(reference, len(parts), i) if len(parts) > 1 else None
        udl, ud = _user_data(part, dcs, concat)
        first = MTI_SUBMIT | _VPF_RELATIVE | (_SRR_OR_SRI if status_report else 0) | (
            _UDHI if concat else 0)
        tpdu = bytes((first, 0)) + address + bytes((0, dcs, validity, udl)) + ud
        out.append(Pdu(("00" + tpdu.hex()).upper(), len(tpdu)))
    return out


def _skip_smsc(pdu):
    if not pdu:
        raise MalformedData("an empty PDU", function="SMS PDU")
    return 1 + pdu[0]


def _bytes(hex_text, what):
    try:
        return bytes.fromhex(hex_text.strip())
    except ValueError:
        raise MalformedData(f"{what} is not hex: {hex_text[:40]!r}", function="SMS PDU") \
            from None


def decode_submit(hex_text: str) -> Submit:
    """An SMS-SUBMIT (SMSC field first), as the network reads it."""
    pdu = _bytes(hex_text, "an SMS-SUBMIT")
    try:
        pos = _skip_smsc(pdu)
        first = pdu[pos]
        if first & 0x03 != MTI_SUBMIT:
            raise MalformedData(f"TP-MTI {first & 0x03} is not SMS-SUBMIT", function="SMS PDU")
        number, pos = _address(pdu, pos + 2, "TP-DA")
        dcs = pdu[pos + 1]
        pos += 2 + {0: 0, 2: 1, 1: 7, 3: 7}[(first >> 3) & 0x03]
        text, concat = _read_user_data(pdu, pos, dcs, first & _UDHI, "SMS-SUBMIT")
    except IndexError:
        raise MalformedData("an SMS-SUBMIT cut short", function="SMS PDU") from None
    return Submit(number, text, bool(first & _SRR_OR_SRI), concat)


# -- SMS-DELIVER and SMS-STATUS-REPORT ------------------------------------------------
@dataclass(frozen=True)
class Deliver:
    """A message received: who sent it, its text (a part's, with `concat`),
    when the SMSC took it."""

    sender: str
    text: str
    timestamp: str
    concat: Concat | None


@dataclass(frozen=True)
class StatusReport:
    """A delivery report: the TP-MR the modem gave the message (+CMGS),
    its recipient, when the SMSC took it and when it was delivered or
    given up (`discharged`), and TP-ST (smserrors.status_words)."""

    reference: int
    recipient: str
    timestamp: str
    discharged: str
    status: int


def decode_received(hex_text: str) -> Deliver | StatusReport:
    """A PDU a modem gave us (+CMGR, +CMT, +CDS), SMSC field first."""
    pdu = _bytes(hex_text, "a PDU")
    try:
        pos = _skip_smsc(pdu)
        first = pdu[pos]
        mti = first & 0x03
        if mti == MTI_DELIVER:
            sender, pos = _address(pdu, pos + 1, "TP-OA")
            dcs = pdu[pos + 1]
            timestamp = _timestamp(pdu[pos + 2:pos + 9])
            text, concat = _read_user_data(pdu, pos + 9, dcs, first & _UDHI, "SMS-DELIVER")
            return Deliver(sender, text, timestamp, concat)
        if mti == MTI_STATUS_REPORT:
            reference = pdu[pos + 1]
            recipient, pos = _address(pdu, pos + 2, "TP-RA")
            if len(pdu) < pos + 15:
                raise IndexError
            return StatusReport(reference, recipient, _timestamp(pdu[pos:pos + 7]),
                                _timestamp(pdu[pos + 7:pos + 14]), pdu[pos + 14])
    except IndexError:
        raise MalformedData("a PDU cut short", function="SMS PDU") from None
    raise MalformedData(f"TP-MTI {mti} is neither SMS-DELIVER nor SMS-STATUS-REPORT",
                        function="SMS PDU")


def deliver_pdus(sender: str, text: str, timestamp: str, reference: int) -> list[str]:
    """SMS-DELIVERs as the network gives `text` from `sender` (a simulated
    network's side: simulators.gsmmodem)."""
    parts = split_text(text)
    dcs = DCS_GSM7 if encoding_of(text) == "gsm7" else DCS_UCS2
    out = []
    for i, part in enumerate(parts, 1):
        concat = Concat(reference, len(parts), i) if len(parts) > 1 else None
        udl, ud = _user_data(part, dcs, concat)
        first = MTI_DELIVER | (_UDHI if concat else 0)
        tpdu = bytes((first,)) + encode_address(sender) + bytes((0, dcs)) + \
            encode_timestamp(timestamp) + bytes((udl,)) + ud
        out.append(("00" + tpdu.hex()).upper())
    return out


def status_report_pdu(reference: int, recipient: str, timestamp: str, discharged: str,
                      status: int) -> str:
    """An SMS-STATUS-REPORT (a simulated network's side)."""
    tpdu = bytes((MTI_STATUS_REPORT, reference)) + encode_address(recipient) + \
        encode_timestamp(timestamp) + encode_timestamp(discharged) + bytes((status,))
    return ("00" + tpdu.hex()).upper()


class Concatenation:
    """Parts of long messages received, joined once all are in.

    `add` takes a `Deliver`; it gives back a whole Deliver (the first
    part's sender and timestamp, the texts in sequence order) when that
    part completes its message, None while parts are missing.  At most
    `pending` messages wait for parts; the oldest is dropped for a new one
    (its parts never all came)."""

    def __init__(self, pending=64):
        self.pending = pending
        self._parts = {}                  # (sender, reference, total) -> {sequence: Deliver}

    def add(self, part: Deliver) -> Deliver | None:
        if part.concat is None:
            return part
        c = part.concat
        key = (part.sender, c.reference, c.total)
        parts = self._parts.setdefault(key, {})
        parts[c.sequence] = part
        if len(parts) < c.total:
            if len(self._parts) > self.pending:
                del self._parts[next(iter(self._parts))]
            return None
        del self._parts[key]
        ordered = [parts[i] for i in sorted(parts)]
        return Deliver(part.sender, "".join(p.text for p in ordered), ordered[0].timestamp,
                       None)

    def waiting(self) -> int:
        """How many messages wait for parts."""
        return len(self._parts)
