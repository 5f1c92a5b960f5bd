# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""DAHDI's own configuration, /etc/dahdi/system.conf, as dahdi_cfg reads it.

The DAHDI driver takes its spans and channels from here, not from a
configuration of ours (lines-real.md 1.11):

    span=<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]
    fxsks=1-4            # the signalling each channel uses; lists and ranges
    e&m=5-28
    loadzone=us
    defaultzone=us

The signalling keyword names the signalling the port *uses*: an FXO port
(on the exchange's line) is fxsks/fxsls/fxsgs, an FXS port (feeding a
phone) fxoks/fxols/fxogs.  Comments start with # or ;.  Any line that is
not understood is refused with the file, the line number, the text and
what was expected.
"""
import re
from dataclasses import dataclass, field

#: The keywords of channel lines and the DAHDI_SIG_ name each configures.
SIGNALLINGS = {
    "fxsls": "FXSLS", "fxsgs": "FXSGS", "fxsks": "FXSKS",
    "fxols": "FXOLS", "fxogs": "FXOGS", "fxoks": "FXOKS",
    "e&m": "EM", "e&me1": "EM_E1", "cas": "CAS", "clear": "CLEAR", "bchan": "CLEAR",
    "dchan": "HDLCFCS", "hardhdlc": "HARDHDLC", "unused": "NONE",
}
FRAMINGS = ("d4", "esf", "cas", "ccs")
CODINGS = ("ami", "b8zs", "hdb3")


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


def _numbers(text, where):
    """'1-4,6' -> [1, 2, 3, 4, 6]."""
    numbers = []
    for part in text.split(","):
        m = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if not m or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise SystemConfError(f"{where}: {text!r} is not a channel list "
                                  "(numbers and ranges such as 1-4,6)")
        first = int(m.group(1))
        numbers.extend(range(first, int(m.group(2) or first) + 1))
    return numbers


def _span(value, where):
    fields = [f.strip().lower() for f in value.split(",")]
    if len(fields) < 5 or not all(f.isdigit() for f in fields[:3]):
        raise SystemConfError(f"{where}: span={value!r}: expected "
                              "<num>,<timing>,<lbo>,<framing>,<coding>[,crc4][,yellow]")
    number, timing, lbo = (int(f) for f in fields[:3])
    if fields[3] not in FRAMINGS or fields[4] not in CODINGS:
        raise SystemConfError(f"{where}: span={value!r}: framing must be one of "
                              f"{', '.join(FRAMINGS)} and coding one of {', '.join(CODINGS)}")
    extra = set(fields[5:]) - {"crc4", "yellow"}
    if extra or not 0 <= lbo <= 7:
        raise SystemConfError(f"{where}: span={value!r}: lbo is 0-7, and only crc4 and "
                              "yellow may follow the coding")
    return Span(number, timing, lbo, fields[3], fields[4], "crc4" in fields[5:])


def parse(text, path="system.conf"):
    """The SystemConf of system.conf's text (SystemConfError if wrong)."""
    conf = SystemConf(path)
    for n, raw in enumerate(text.splitlines(), 1):
        line = re.split(r"[#;]", raw, maxsplit=1)[0].strip()
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
        elif key in SIGNALLINGS:
            for channo in _numbers(value.split(":")[0], where):
                if channo in conf.channels:
                    raise SystemConfError(f"{where}: channel {channo} is already "
                                          f"{conf.channels[channo]}")
                conf.channels[channo] = key
        elif key == "loadzone":
            conf.zones.append(value)
        elif key == "defaultzone":
            conf.default_zone = value
        elif key in ("echocanceller", "dynamic", "channels", "rxgain", "txgain"):
            continue                    # not ours: the kernel's business
        else:
            raise SystemConfError(f"{where}: unknown keyword {key!r} (expected span, "
                                  f"loadzone, defaultzone or one of {', '.join(SIGNALLINGS)})")
    return conf


def read(path):
    """The SystemConf of a file."""
    with open(path) as f:
        return parse(f.read(), path)
