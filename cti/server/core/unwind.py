# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_release -*-
"""Ending a call completely, whatever fails on the way.

Releasing a call touches a dozen things: timers, music, the voice
resource, the ACD, the agents' phones, the CT-Bus, the trunk, the call
model, the record store.  If the third of them raised, the rest used to be
skipped: a call half released, its agent busy for ever, its line off-hook,
no record.  `Unwind` runs each step on its own; a step that fails is
logged with an incident id and the next one runs::

    unwind = Unwind(f"call {call.id}")
    with unwind.step("the music"):
        queueing.stop_music(call)
    with unwind.step("the trunk"):
        call.trunk.end_call(reason, released_by, cause)
    call.cause = reason + unwind.summary()      # what went wrong, for the CDR

The sweep (cti.server.core.sweep) puts right what a failed step left.
"""
import secrets

from twisted.logger import Logger
from twisted.python.failure import Failure

log = Logger()


class Unwind:
    """The steps of one release; `failed` lists (step, incident id)."""

    def __init__(self, what):
        self.what = what
        self.failed = []

    def step(self, name):
        """A context in which a failure is logged and the release goes on."""
        return _Step(self, name)

    def summary(self):
        """"" when every step ran, else what failed (for a record's cause)."""
        if not self.failed:
            return ""
        return " (release incomplete: " + ", ".join(
            f"{name} failed, incident {incident}" for name, incident in self.failed) + ")"


class _Step:
    """One step of a release (a plain context manager: a call's release
    runs a dozen of them, on every call)."""

    __slots__ = ("unwind", "name")

    def __init__(self, unwind, name):
        self.unwind = unwind
        self.name = name

    def __enter__(self):
        return self

    def __exit__(self, kind, value, traceback):
        if kind is None or not issubclass(kind, Exception):
            return False
        incident = secrets.token_hex(4)
        self.unwind.failed.append((self.name, incident))
        log.failure("{what}: releasing, {step} failed (incident {incident}); the rest "
                    "of the release goes on", Failure(value, kind, traceback),
                    what=self.unwind.what, step=self.name, incident=incident)
        return True
