# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""DAHDI's own configuration, /etc/dahdi/system.conf, as dahdi_cfg reads it.

The DAHDI driver takes its spans and channels from here, not from a
configuration of ours (lines-real.md 1.11):

    span=<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]
    fxsks=1-4            # the signalling each channel uses; lists and ranges
    e&m=5-28
    cas=29-43:1101       # with the idle bits, ABCD (MFC/R2's blocked)
    loadzone=us
    defaultzone=us

The signalling keyword names the signalling the port *uses*: an FXO port
(on the exchange's line) is fxsks/fxsls/fxsgs, an FXS port (feeding a
phone) fxoks/fxols/fxogs.  Comments start with # (only: a ';' is text to
dahdi_cfg).  Channels are 1 to 1023 and spans 1 to 128, as the kernel's
limits; a span's timing priority is 0 to 255.  Lines dahdi_cfg takes
and the driver has no use for are read, checked and logged as ignored:
the laws (alaw=, mulaw=, deflaw=: the driver reads 16-bit linear),
channel=/channels= settings, a BRI span's nt/te/term, and channels left
to others (data links fcshdlc, rawhdlc, nethdlc, mtp2; cross-connects
dacs, dacsrbs; indclear, user).  Any line that is not understood is
refused with the file, the line number, the text and what was expected.
"""
import re
from dataclasses import dataclass, field

from twisted.logger import Logger

log = Logger()

#: The keywords of channel lines and the DAHDI_SIG_ name each configures.
SIGNALLINGS = {
    "fxsls": "FXSLS", "fxsgs": "FXSGS", "fxsks": "FXSKS",
    "fxols": "FXOLS", "fxogs": "FXOGS", "fxoks": "FXOKS",
    "e&m": "EM", "e&me1": "EM_E1", "cas": "CAS", "clear": "CLEAR", "bchan": "CLEAR",
    "dchan": "HDLCFCS", "hardhdlc": "HARDHDLC", "unused": "NONE",
}
#: Channel keywords of channels the driver leaves to others (the kernel's
#: data links and cross-connects, a userspace program's).
LEFT_ALONE = ("fcshdlc", "rawhdlc", "nethdlc", "mtp2", "dacs", "dacsrbs", "indclear", "user")
#: Keywords dahdi_cfg takes that the driver has no use for: checked, logged.
LAWS = ("alaw", "mulaw", "deflaw")
#: Keywords whose line makes its channels one bundle (dahdi_cfg's
#: chanconfig): the first is the master, the others its slaves, which the
#: kernel never opens on their own (DAHDI_SPECIFY: EBUSY).
BUNDLES = ("clear", "rawhdlc", "nethdlc", "fcshdlc")
FRAMINGS = ("d4", "esf", "cas", "ccs")
CODINGS = ("ami", "b8zs", "hdb3")
#: What may follow a span's coding: E1 CRC-4, sending yellow; a BRI
#: span's NT or TE side and its termination (ignored: no BRI here).
SPAN_EXTRAS = ("crc4", "yellow")
BRI_EXTRAS = ("nt", "te", "term")
#: The kernel's numbers: channels 1 to DAHDI_MAX_CHANNELS - 1, spans 1 to
#: DAHDI_MAX_SPANS, a span's timing priority 0 to 255.
MAX_CHANNEL, MAX_SPAN, MAX_TIMING = 1023, 128, 255


class SystemConfError(ValueError):
    """A line of system.conf that is not what dahdi_cfg accepts."""


@dataclass(frozen=True)
class Span:
    number: int
    timing: int
    lbo: int
    framing: str
    coding: str
    crc4: bool = False


@dataclass
class SystemConf:
    path: str
    spans: dict = field(default_factory=dict)      # number -> Span
    channels: dict = field(default_factory=dict)   # channo -> signalling keyword
    zones: list = field(default_factory=list)      # loadzone= in order
    default_zone: str | None = None
    left_alone: dict = field(default_factory=dict)  # channo -> keyword (LEFT_ALONE)
    idle_bits: dict = field(default_factory=dict)   # cas channo -> "1101", or None: not given
    lines: dict = field(default_factory=dict)       # channo -> ("path:n", its line's text)
    masters: dict = field(default_factory=dict)     # slave channo -> its master (BUNDLES)


def _numbers(text, where):
    """'1-4,6' -> [1, 2, 3, 4, 6]: channels 1 to MAX_CHANNEL."""
    numbers = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise SystemConfError(f"{where}: {text!r} is not a channel list "
                                  "(numbers and ranges such as 1-4,6)")
        first, last = int(m.group(1)), int(m.group(2) or m.group(1))
        if first < 1 or last > MAX_CHANNEL:
            raise SystemConfError(f"{where}: {part.strip()!r}: DAHDI's channels are 1 to "
                                  f"{MAX_CHANNEL}")
        numbers.extend(range(first, last + 1))
    return numbers


def _channel_value(key, value, where):
    """The channels of a channel line and what follows its ':', checked: a
    cas channel's idle bits (ABCD, such as 1101; None when not given), a
    dacs channel's first channel it is cross-connected to."""
    channels, colon, extra = value.partition(":")
    if key == "cas" and colon and not re.fullmatch(r"[01]{4}", extra.strip()):
        raise SystemConfError(f"{where}: cas={value!r}: the idle bits after ':' are four "
                              "binary digits, ABCD (such as 1101)")
    if key in ("dacs", "dacsrbs") and not (colon and extra.strip().isdigit()):
        raise SystemConfError(f"{where}: {key}={value!r}: expected <channels>:<first channel "
                              "it is cross-connected to>")
    return _numbers(channels, where), (extra.strip() or None)


def _span(value, where):
    fields = [f.strip().lower() for f in value.split(",")]
    if len(fields) < 5 or not all(f.isdigit() for f in fields[:3]):
        raise SystemConfError(f"{where}: span={value!r}: expected "
                              "<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]")
    number, timing, lbo = (int(f) for f in fields[:3])
    if not 1 <= number <= MAX_SPAN or timing > MAX_TIMING:
        raise SystemConfError(f"{where}: span={value!r}: spans are 1 to {MAX_SPAN}, a "
                              f"timing priority 0 to {MAX_TIMING}")
    if fields[3] not in FRAMINGS or fields[4] not in CODINGS:
        raise SystemConfError(f"{where}: span={value!r}: framing must be one of "
                              f"{', '.join(FRAMINGS)} and coding one of {', '.join(CODINGS)}")
    extra = set(fields[5:]) - set(SPAN_EXTRAS) - set(BRI_EXTRAS)
    if extra or not 0 <= lbo <= 7:
        raise SystemConfError(f"{where}: span={value!r}: lbo is 0-7, and only "
                              f"{', '.join(SPAN_EXTRAS + BRI_EXTRAS)} may follow the coding")
    if bri := [f for f in fields[5:] if f in BRI_EXTRAS]:
        log.info("{where}: span {span}: {words} ignored (a BRI span's: no BRI here)",
                 where=where, span=number, words=",".join(bri))
    return Span(number, timing, lbo, fields[3], fields[4], "crc4" in fields[5:])


def parse(text, path="system.conf"):
    """The SystemConf of system.conf's text (SystemConfError if wrong)."""
    conf = SystemConf(path)
    for n, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        where = f"{path}:{n}"
        key, sep, value = (s.strip() for s in line.partition("="))
        key = key.lower()
        if not sep:
            raise SystemConfError(f"{where}: {raw.strip()!r} is not <keyword>=<value>")
        if key == "span":
            span = _span(value, where)
            if span.number in conf.spans:
                raise SystemConfError(f"{where}: span {span.number} is configured twice")
            conf.spans[span.number] = span
        elif key in SIGNALLINGS or key in LEFT_ALONE:
            kept = conf.channels if key in SIGNALLINGS else conf.left_alone
            numbers, extra = _channel_value(key, value, where)
            for channo in numbers:
                if channo in conf.channels or channo in conf.left_alone:
                    raise SystemConfError(f"{where}: channel {channo} is already "
                                          f"{conf.channels.get(channo) or conf.left_alone[channo]}")
                kept[channo] = key
                conf.lines[channo] = (where, line)
                if key == "cas":
                    conf.idle_bits[channo] = extra
                if key in BUNDLES and channo != numbers[0]:
                    conf.masters[channo] = numbers[0]
        elif key in LAWS:
            _numbers(value, where)
            log.info("{where}: {key}= ignored: the driver reads and writes 16-bit linear",
                     where=where, key=key)
        elif key in ("channel", "channels"):
            log.info("{where}: {key}={value} ignored: not the driver's", where=where, key=key,
                     value=value)
        elif key == "loadzone":
            conf.zones.append(value)
        elif key == "defaultzone":
            conf.default_zone = value
        elif key in ("echocanceller", "dynamic", "rxgain", "txgain"):
            continue                    # not ours: the kernel's business
        else:
            raise SystemConfError(f"{where}: unknown keyword {key!r} (expected span, "
                                  f"loadzone, defaultzone, a law, or a channel keyword: "
                                  f"{', '.join([*SIGNALLINGS, *LEFT_ALONE])})")
    return conf


def read(path):
    """The SystemConf of a file."""
    with open(path) as f:
        return parse(f.read(), path)
