# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_outbound_routes -*-
"""Outbound routes: which trunk groups a call out takes, by the number dialled.

As a PBX dial plan does it (Asterisk's extension patterns, FreeSWITCH's
gateways), each `[[outbound_routes]]` entry of the configuration matches
numbers by a prefix or a pattern, names the trunk groups to try in order,
and rewrites the number for them::

    [[outbound_routes]]
    name = "mobiles"                    # before long_distance: both begin with "91"
    pattern = "_91[3-9]XXXXXXXXX"       # Asterisk notation: the whole number
    trunk_groups = ["gsm"]
    strip = 1

    [[outbound_routes]]
    name = "long_distance"
    prefix = "91"                       # 9 for an outside line, then 1 ...
    trunk_groups = ["pstn_out", "local"]    # pstn_out first; local when it is full
    strip = 1                           # the 9 is ours, not the carrier's
    prepend = ""

A number takes the route with the longest fixed beginning that matches
it (a prefix is fixed whole; a pattern up to its first wildcard), the one
declared first among equals (declared after long_distance, mobiles would
never be taken); a prefix of "" is a default route.  The
number dialled on the trunk is the number without its first `strip`
digits, after `prepend`.  The groups are tried in their order: the next
when every trunk of one is busy (or fails to seize: glare, no dial
tone...).  With no route configured, calls out take the first idle trunk
of every "out" and "both" group in file order, as before routes existed;
with routes, a number no route matches is refused, saying so, but for
an emergency number ([dialing] emergency), which goes out as dialled on
its route's groups, then every other (cti.server.outbound.dialer).

Pattern notation (Asterisk's): ``_`` first, then ``X`` any digit, ``Z``
1-9, ``N`` 2-9, ``[15-7]`` one of the digits listed or in the ranges,
``.`` one or more of anything, ``!`` zero or more; any other character
(``0``-``9``, ``*``, ``#``) stands for itself.
"""
import re
from dataclasses import dataclass, field
from functools import lru_cache

#: Characters a prefix or a prepend may hold (a prepend also ',' for a pause).
PREFIX = re.compile(r"[0-9*#]*\Z")
PREPEND = re.compile(r"[0-9*#,]{0,16}\Z")
#: Pattern letters and what they match.
_CLASSES = {"X": "[0-9]", "Z": "[1-9]", "N": "[2-9]"}


class PatternError(ValueError):
    """A pattern that is not Asterisk notation: what is wrong, for people."""


@lru_cache(maxsize=256)
def compile_pattern(pattern):
    """(regex matching whole numbers, its fixed beginning) of an Asterisk
    pattern; PatternError says what is wrong."""
    if not pattern.startswith("_") or len(pattern) == 1:
        raise PatternError("a pattern starts with '_' and has something after it")
    out, fixed, literal = [], "", True
    i, body = 0, pattern[1:]
    while i < len(body):
        c = body[i]
        if c in _CLASSES:
            out.append(_CLASSES[c])
        elif c == "[":
            end = body.find("]", i)
            inside = body[i + 1:end]
            if end < 0 or not inside or not re.fullmatch(r"([0-9](-[0-9])?)+", inside):
                raise PatternError(f"'[' at {i + 1} is not a set of digits and ranges "
                                   "closed by ']', such as [2-9] or [135]")
            backwards = next((r for r in re.findall(r"[0-9]-[0-9]", inside) if r[0] > r[2]),
                             None)
            if backwards is not None:
                raise PatternError(f"'[{inside}]' at {i + 1}: the range {backwards} runs "
                                   f"backwards (write {backwards[2]}-{backwards[0]})")
            out.append(f"[{inside}]")
            i = end
        elif c in ".!":
            out.append(".+" if c == "." else ".*")
        elif c in "0123456789*#":
            out.append(re.escape(c))
            if literal:
                fixed += c
                i += 1
                continue
        else:
            raise PatternError(f"{c!r} at {i + 1} is not a digit, *, #, X, Z, N, [...], "
                               ". or !")
        literal = False
        i += 1
    return re.compile("".join(out) + r"\Z"), fixed


@dataclass(frozen=True)
class OutboundRoute:
    """One route: numbers it takes (`prefix`, or `pattern`), the trunk
    groups it tries in order, and the rewriting (`strip`, `prepend`).
    `key` is where it was declared (``outbound_routes[2]``), for logs."""

    name: str
    trunk_groups: tuple[str, ...]
    prefix: str | None = None
    pattern: str | None = None
    strip: int = 0
    prepend: str = ""
    key: str = field(default="", compare=False)

    @property
    def match(self):
        """How it matches, for people: ``prefix 91`` or ``pattern _9NXX.``."""
        return f"prefix {self.prefix!r}" if self.prefix is not None else \
            f"pattern {self.pattern}"

    @property
    def fixed(self):
        """Its fixed beginning: the longest wins."""
        if self.prefix is not None:
            return self.prefix
        return compile_pattern(self.pattern)[1]

    def matches(self, number):
        if self.prefix is not None:
            return number.startswith(self.prefix)
        return compile_pattern(self.pattern)[0].match(number) is not None

    def dialled(self, number):
        """The number sent on the trunk: `strip` digits off, `prepend` on
        ("" if nothing would be left to dial)."""
        rest = number[self.strip:]
        return self.prepend + rest if rest else ""


def route_for(routes, number):
    """The route `number` takes (longest fixed beginning first, then the
    order declared), or None."""
    ranked = sorted(enumerate(routes), key=lambda ir: (-len(ir[1].fixed), ir[0]))
    return next((route for _, route in ranked if route.matches(number)), None)


def no_route(routes, number):
    """Why `number` cannot go out (no route matches it), for people."""
    shown = ", ".join(f"{r.name} ({r.match})" for r in routes)
    return f"no outbound route matches {number} (routes: {shown})"
