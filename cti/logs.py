# SPDX-License-Identifier: GPL-2.0-or-later
"""A Twisted `Logger` that drops events below the process's log level
before it builds them.

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
