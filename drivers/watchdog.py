# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_conformance -*-
"""How long a driver lets an operation run before it calls it hung.

Every operation ends with exactly one event (drivers/interface.py), even
if the device never answers: the driver arms a watchdog on its injected
clock.  When it expires the driver asks the device to stop; if that does
not end the operation within STOP_GRACE_MS either, the device is reset
and the operation ends with reason "hung" (`hung_data`), followed by
`operation_failed`.  The deadline is the operation's own longest time
plus OPERATION_GRACE_MS (`deadline_ms`); DEFAULT_WATCHDOG_MS for one
with no time of its own.  The R4 driver and the voice modem's share
these, so a hung play of a 4 s prompt is over 4 + 3 + 2 s after it
started on either.
"""
from drivers.interface import Termination

#: default watchdog when an operation has no time limit of its own
DEFAULT_WATCHDOG_MS = 600_000
#: how long past its own longest time an operation is stopped as overdue
OPERATION_GRACE_MS = 3_000
#: time a stopped operation gets to end before the device is reset
STOP_GRACE_MS = 2_000


def deadline_ms(termination: Termination | None, watchdog_ms: int | None,
                own_ms: int | None = None) -> int:
    """`watchdog_ms` if given, else the operation's own longest time
    (`own_ms`, the max time, or the inter-digit time per digit) plus
    OPERATION_GRACE_MS; DEFAULT_WATCHDOG_MS with none."""
    if watchdog_ms is not None:
        return watchdog_ms
    t = termination
    limits = [ms for ms in (own_ms, t and t.max_time_ms,
                            t and t.inter_digit_ms and t.inter_digit_ms * max(
                                1, t.max_digits or 1)) if ms]
    if not limits:
        return DEFAULT_WATCHDOG_MS
    return min(limits) + OPERATION_GRACE_MS


def hung_data(done: str) -> dict:
    """The data of a hung operation's done event (`done`: its kind)."""
    if done == "hook_done":
        return {"offhook": None, "reasons": frozenset({"hung"})}
    data = {"reasons": frozenset({"hung"})}
    if done == "digits_done":
        data["digits"] = ""
    if done == "dial_done":
        data.update(result="error", connect_type=None)
    return data
