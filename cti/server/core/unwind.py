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
    with unwind.step("music"):
        self._stop_music(call)
    with unwind.step("trunk"):
        call.trunk.release(reason)
    record.cause = reason + unwind.summary()    # what went wrong, for the CDR

The sweep (cti.server.core.sweep) puts right what a failed step left.
"""
import secrets
from contextlib import contextmanager

from twisted.logger import Logger

log = Logger()


class Unwind:
    """The steps of one release; `failed` lists (step, incident id)."""

    def __init__(self, what):
        self.what = what
        self.failed = []

    @contextmanager
    def step(self, name):
        try:
            yield
        except Exception:
            incident = secrets.token_hex(4)
            self.failed.append((name, incident))
            log.failure("{what}: releasing, {step} failed (incident {incident}); the rest "
                        "of the release goes on", what=self.what, step=name, incident=incident)

    def summary(self):
        """"" when every step ran, else what failed (for a record's cause)."""
        if not self.failed:
            return ""
        return " (release incomplete: " + ", ".join(
            f"{name} failed, incident {incident}" for name, incident in self.failed) + ")"
