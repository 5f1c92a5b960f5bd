# SPDX-License-Identifier: GPL-2.0-or-later
"""Logging helpers: a `Logger` that drops events below the log level
before it builds them, text logs that no input can forge, and a
`Throttle` that keeps one noisy source from filling the disk.

Levels first.

Twisted filters by level in its observers, after the event dict is made,
timestamped and published: some 10 µs each.  A channel logs every state
transition and the CT-Bus every route at debug level, dozens per call, so
at a few hundred calls a second the debug events alone cost a tenth of
the reactor thread even when nobody keeps them.  Modules on those hot
paths use this `Logger`; `set_level` is called once logging starts at
the configured `log_level` (until then every event goes through, as
tests expect).

Pass objects, not strings built for the message (``t=transition``, not
``t=transition.describe()``): the format renders them only when an
observer keeps the event.
"""
import re
from collections import OrderedDict

from twisted import logger

_order = {level: n for n, level in enumerate(logger.LogLevel.iterconstants())}
_threshold = 0


def set_level(level):
    """Events below `level` (a `LogLevel`) are dropped from now on."""
    global _threshold
    _threshold = _order[level]


class Logger(logger.Logger):
    """`twisted.logger.Logger`, with events under the level dropped first."""

    def emit(self, level, format=None, **kwargs):
        if _order.get(level, _threshold) >= _threshold:
            super().emit(level, format, **kwargs)


# -- text logs no input can forge ----------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]|\n|\r")


def escape(text):
    """`text` with every control character (newline, carriage return,
    escape sequences, NUL...) written as a visible escape (``\\n``,
    ``\\x1b``): a user name or a caller's data logged as text can neither
    start a fake log line nor drive the reader's terminal."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), text)


def escaping(observer):
    """An observer passing `observer` each event with its string fields
    escaped (`escape`).  For text observers: a JSON log escapes by itself.
    The event's format and failure (ours) are left as they are."""
    def observe(event):
        fields = {k: escape(v) for k, v in event.items()
                  if isinstance(v, str) and not k.startswith("log_") and _CONTROL.search(v)}
        observer({**event, **fields} if fields else event)
    return observe


# -- throttling ------------------------------------------------------------------
class Throttle:
    """At most `burst` log events of one kind from one source in each
    `period_s`; the rest are counted, and the count is reported with the
    next event let through::

        throttle = Throttle(clock)
        suppressed = throttle("10.0.0.7", "login refused")
        if suppressed is not None:
            log.info("login refused ... ({n} like it not logged)", n=suppressed)

    At most `max_keys` (source, kind) pairs are remembered, the stalest
    forgotten first, so a spray of addresses costs bounded memory."""

    def __init__(self, clock, burst=20, period_s=60.0, max_keys=10_000):
        self.clock = clock
        self.burst = burst
        self.period_s = period_s
        self.max_keys = max_keys
        self._windows = OrderedDict()     # (source, kind) -> [window start, logged, suppressed]

    def __call__(self, source, kind):
        """None to drop this event, else how many were dropped before it."""
        now = self.clock.seconds()
        key = (source, kind)
        window = self._windows.pop(key, None)
        if window is None or now - window[0] >= self.period_s:
            window = [now, 0, window[2] if window else 0]
        self._windows[key] = window
        while len(self._windows) > self.max_keys:
            self._windows.popitem(last=False)
        if window[1] >= self.burst:
            window[2] += 1
            return None
        window[1] += 1
        suppressed, window[2] = window[2], 0
        return suppressed
