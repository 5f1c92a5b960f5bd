# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dialing -*-
"""Classes of service for calls out: who may dial what, when, and how much.

Telephone systems are robbed through their calls out: an agent account
(or a flow, or a caller who asks to be called back) used to dial
international or premium-rate numbers, for hours, at the owner's cost.
Every number the server dials on a trunk is checked first, against the
class of service of whoever asked for it::

    who                              class
    an agent (MakeCall, transfers,   its [[agents]] dial_class, else its
    consultations)                   team's ([dialing] teams), else the default
    a supervisor or administrator    its [[users]] dial_class, else the default
    a flow (RouteSelect {number})    [dialing] flows, else the default
    a callback to a waiting caller   [dialing] callback_class, else the default

A class ([[dial_classes]], docs/configuration.md) says which prefixes are
barred (international and premium-rate by default) and, if it lists any,
the only prefixes allowed; the days and hours calls may be placed; and how
many calls out one caller of that class may have at once and in a day.
The site has caps of its own (at once, in a day).  Emergency numbers
([dialing] emergency) are never refused.

A refusal is `Barred` (the protocol's ``barred``, with the reason), and a
row in the audit log (action ``CallBarred``).  A burst of refusals for one
caller (`alarm_refusals` within `alarm_window_s`) is an alarm: a critical
log line and an audit row ``DialAlarm``, once per window: someone is
trying numbers.

The guard counts the calls out it let through: `placed` when a trunk is
seized for one, `ended` when the trunk is free again (cti.server.outbound
does both); a day is the class's time zone's calendar day.
"""
from collections import defaultdict, deque
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from twisted.logger import Logger

from cti.server.errors import Barred

log = Logger()

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
#: Area codes of the North American plan that are other countries (the
#: Caribbean, Bermuda): dialled as 1-NPA like a domestic call, charged as
#: international, and the home of "one-ring" fraud numbers.
NANP_ABROAD = ("242", "246", "264", "268", "284", "345", "441", "473", "649", "658",
               "664", "721", "758", "767", "784", "809", "829", "849", "868", "869", "876")
#: What is barred when a class says nothing, by [dialing] numbering: feature
#: codes before a number (*67..., #...) and international everywhere (00);
#: in North America also 011 and 01 (operator-assisted), dial-around carrier
#: codes (101XXXX), premium-rate (1-900, 1-976) and NANP_ABROAD.  Elsewhere
#: premium-rate prefixes differ by country: a site lists its own.
DEFAULT_BARS = {
    "nanp": ("*", "#", "00", "01", "101", "1900", "900", "1976", "976",
             *(f"1{code}" for code in NANP_ABROAD), *NANP_ABROAD),
    "other": ("*", "#", "00"),
}
NUMBERING = tuple(DEFAULT_BARS)
DEFAULT_BAR = DEFAULT_BARS["nanp"]
DEFAULT_EMERGENCY = ("911", "112")


@dataclass(frozen=True)
class DialClass:
    """One class of service ([[dial_classes]])."""

    name: str
    bar: tuple = DEFAULT_BAR
    allow: tuple = ()                  # empty: every number not barred
    hours: tuple = ()                  # (first minute, last minute + 1) of the day; empty: all
    days: frozenset = frozenset(range(7))   # weekday numbers, Monday 0
    max_concurrent: int | None = None  # per caller
    max_daily: int | None = None       # per caller


@dataclass(frozen=True)
class DialingSettings:
    """[dialing]: the classes and who has which."""

    classes: dict = field(default_factory=lambda: {"default": DialClass("default")})
    default_class: str = "default"
    callback_class: str | None = None
    teams: dict = field(default_factory=dict)        # team -> class name
    flows: dict = field(default_factory=dict)        # flow -> class name
    emergency: tuple = DEFAULT_EMERGENCY
    timezone: str | None = None                      # None: the machine's
    site_max_concurrent: int | None = None
    site_max_daily: int | None = None
    alarm_refusals: int = 5
    alarm_window_s: float = 300.0


@dataclass(frozen=True)
class Caller:
    """Who asked for a call out: kind ("agent", "user", "flow",
    "callback") and name; `dial_class` its own class, if it has one."""

    kind: str
    name: str
    dial_class: str | None = None
    team: str | None = None

    def __str__(self):
        return f"{self.kind} {self.name}"


def digits_of(number):
    """The number as its digits are matched: pauses (',') left out."""
    return number.replace(",", "")


class DialGuard:
    """The classes of service of one server.  `audit(action, user,
    **detail)` records refusals and alarms."""

    def __init__(self, clock, settings=None, audit=None):
        self.clock = clock
        self.settings = settings or DialingSettings()
        self.audit = audit or (lambda action, user, **detail: None)
        self.zone = ZoneInfo(self.settings.timezone) if self.settings.timezone else None
        self.active = {}                              # trunk name -> Caller
        self._daily = defaultdict(int)                # (date, caller key) -> calls placed
        self._refusals = defaultdict(deque)           # caller key -> refusal times
        self._alarmed = {}                            # caller key -> when the alarm went

    def class_of(self, caller):
        s = self.settings
        if caller.dial_class is not None:
            name = caller.dial_class
        elif caller.kind == "agent" and caller.team in s.teams:
            name = s.teams[caller.team]
        elif caller.kind == "flow" and caller.name in s.flows:
            name = s.flows[caller.name]
        elif caller.kind == "callback" and s.callback_class is not None:
            name = s.callback_class
        else:
            name = s.default_class
        return s.classes[name]

    def _now(self):
        return datetime.fromtimestamp(self.clock.seconds(), self.zone)

    def check(self, caller, number, service):
        """Raise Barred (audited) unless `caller` may dial `number` now."""
        try:
            self.verdict(caller, number)
        except Barred as e:
            self._refused(caller, number, service, e)
            raise

    def allows(self, caller, number):
        """Whether `caller` may dial `number` now (nothing recorded)."""
        try:
            self.verdict(caller, number)
        except Barred:
            return False
        return True

    def verdict(self, caller, number):
        """None, or Barred saying why not."""
        digits = digits_of(number)
        if digits in self.settings.emergency:
            return
        cls, s = self.class_of(caller), self.settings
        barred = next((p for p in cls.bar if digits.startswith(p)), None)
        if barred is not None:
            raise Barred("barred", f"{number} is barred for {caller} (class {cls.name} bars "
                         f"numbers starting {barred})")
        if cls.allow and not any(digits.startswith(p) for p in cls.allow):
            raise Barred("not_allowed", f"{number} is not among the numbers {caller} may dial "
                         f"(class {cls.name} allows {', '.join(cls.allow)})")
        now = self._now()
        if now.weekday() not in cls.days:
            raise Barred("hours", f"class {cls.name} places no calls out on a "
                         f"{DAYS[now.weekday()]}")
        minute = now.hour * 60 + now.minute
        if cls.hours and not any(start <= minute < end for start, end in cls.hours):
            raise Barred("hours", f"class {cls.name} places calls out only "
                         f"{', '.join(_show_hours(h) for h in cls.hours)}; it is "
                         f"{now:%H:%M} now")
        key, today = (caller.kind, caller.name), now.date()
        mine = sum(1 for c in self.active.values() if (c.kind, c.name) == key)
        if cls.max_concurrent is not None and mine >= cls.max_concurrent:
            raise Barred("concurrent", f"{caller} has {mine} calls out already, the most "
                         f"class {cls.name} allows at once")
        if cls.max_daily is not None and self._daily[(today, key)] >= cls.max_daily:
            raise Barred("daily", f"{caller} has placed {cls.max_daily} calls out today, the "
                         f"most class {cls.name} allows in a day")
        if s.site_max_concurrent is not None and len(self.active) >= s.site_max_concurrent:
            raise Barred("site_concurrent", f"the site has {len(self.active)} calls out, the "
                         "most it allows at once")
        if s.site_max_daily is not None and self._daily[(today, None)] >= s.site_max_daily:
            raise Barred("site_daily", f"the site has placed {s.site_max_daily} calls out "
                         "today, the most it allows in a day")

    # -- counting --------------------------------------------------------------
    def placed(self, caller, trunk, new_call=True):
        """A trunk was seized for `caller`'s call out; `new_call` False when
        it is another trunk tried for the same call (glare, no wink): the
        call counts once in the day's."""
        self.active[trunk] = caller
        if not new_call:
            return
        today = self._now().date()
        self._daily[(today, (caller.kind, caller.name))] += 1
        self._daily[(today, None)] += 1
        for day, _ in [k for k in self._daily if k[0] != today]:
            self._daily.pop((day, _), None)

    def is_emergency(self, number):
        return digits_of(number) in self.settings.emergency

    def ended(self, trunk):
        """The trunk of a call out is free again."""
        self.active.pop(trunk, None)

    # -- refusals ----------------------------------------------------------------
    def _refused(self, caller, number, service, error):
        now = self.clock.seconds()
        key = (caller.kind, caller.name)
        self.audit("CallBarred", caller.name, kind=caller.kind, number=number,
                   service=service, reason=error.reason, message=str(error))
        log.warn("call out refused: {caller} dialled {number} ({service}): {why}",
                 caller=str(caller), number=number, service=service, why=str(error))
        times = self._refusals[key]
        times.append(now)
        window = self.settings.alarm_window_s
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) >= self.settings.alarm_refusals and \
                now - self._alarmed.get(key, -window) >= window:
            self._alarmed[key] = now
            self.audit("DialAlarm", caller.name, kind=caller.kind, refusals=len(times),
                       windowS=window, last=number)
            log.critical("ALARM: {n} calls out refused for {caller} within {s} s (last "
                         "{number}): someone may be trying numbers", n=len(times),
                         caller=str(caller), s=window, number=number, alarm="dialing")


def _show_hours(span):
    start, end = span
    return f"{start // 60:02d}:{start % 60:02d}-{end // 60:02d}:{end % 60:02d}"
