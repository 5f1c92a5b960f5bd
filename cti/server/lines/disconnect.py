# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_disconnect -*-
"""How a loop-start trunk learns that the caller left (disconnect supervision).

A loop-start line has no signalling bit that says "the far end hung up".
The exchange (or the PBX the line hangs off) shows it one of four ways,
and a line gives some of them, not always all (lines.md):

================  ======================================================
loop_current      the loop current drops (an analog line's CPC: the
                  board's DE_LCOF, event ``loop_current`` on False)
reversal          the battery is reversed (DE_LCREV, ``polarity_reversed``)
tone              the exchange sends busy or reorder tone (``tone``)
silence           nothing at all: the line stays up, quiet; the voice
                  channel hears silence (``silence``: below the group's
                  level, dBm0) for the group's seconds
================  ======================================================

A trunk group says which its lines give (`Supervision`, from the
configuration: docs/configuration.md); a line heeds only those, so a PBX
that drops the loop current for a moment on a transfer does not clear a
call when its group leaves ``loop_current`` out.  Each clears the call
with its own cause, which the CDR keeps: "far end cleared (loop current
drop)", "(polarity reversal)", "(busy tone)" or "(reorder tone)", and
"(silence for 30 s)".

Silence is the last resort: a caller who says nothing for the time is cut
off as if gone, so the time must be longer than a live caller's pauses.
A pause shorter than `silence_s`, or a quiet caller above `silence_dbm0`,
keeps the call (`SilenceWatch`).  Silence is timed only while the caller
has a party to talk to: a caller waiting (queued for an agent, on hold,
a call placed for it), who has no one to talk to and rightly says
nothing, is never cut off.  The call core tells the line when its caller
starts and stops waiting (IOutsideParty.set_waiting, from the call's
phase and what it hears: cti.server.core.call.TrunkCall.waiting); the
timing then starts over from zero.  So a caller who hung up silently
while queued is cleared `silence_s` after an agent answers.
"""
from dataclasses import dataclass

from drivers.interface import DEFAULT_SILENCE_DBM0

#: Every method, in the order the configuration's documentation gives them.
METHODS = ("loop_current", "reversal", "tone", "silence")
#: What each kind of loop-start line can give: an analog line (``loopstart``)
#: all four; a T1 loop-start timeslot (``fxs_loopstart``) has no loop
#: current or battery to watch, only the audio; a voice modem (``modem``)
#: reports the loop current, a reversal and the tones (DLE l, L, b), but
#: its silence report (AT+VSD) only while it records, at a sensitivity of
#: its own, not a level in dBm0.
POSSIBLE = {"loopstart": METHODS, "fxs_loopstart": ("tone", "silence"),
            "modem": ("loop_current", "reversal", "tone")}
#: What a group's lines give unless it says (today's behaviour: no silence).
DEFAULTS = {"loopstart": ("loop_current", "reversal", "tone"), "fxs_loopstart": ("tone",),
            "modem": ("loop_current", "reversal", "tone")}
#: Silence this long (seconds) clears the call, unless the group says.
DEFAULT_SILENCE_S = 30
#: The longest silence_s a group may set.
MAX_SILENCE_S = 3600


@dataclass(frozen=True)
class Supervision:
    """Which disconnect methods a trunk group's lines give, and the
    silence that counts as the caller gone (`silence_s` seconds below
    `silence_dbm0`)."""

    methods: frozenset = frozenset(DEFAULTS["loopstart"])
    silence_s: float = DEFAULT_SILENCE_S
    silence_dbm0: int = DEFAULT_SILENCE_DBM0

    def heeds(self, method):
        return method in self.methods

    def silence_cause(self):
        """How a call cleared by silence says it (its CDR's cause)."""
        return f"silence for {self.silence_s:g} s"


class SilenceWatch:
    """The silence of one line, timed while its caller has a party.

    `heard(on)` with each silence event of the line's voice resource (kept
    whether a call is up or not, so a call answered into silence starts
    timing at once); `start()` when the call is connected, `stop()` when
    it is not any more; `set_waiting(True)` while the caller waits with no
    party to talk to (queued, held), `set_waiting(False)` once it has one.
    `on_silence()` is called once the silence has lasted `seconds` of a
    connected call whose caller is not waiting; sound, or a wait, in
    between starts it over from zero.
    """

    def __init__(self, clock, seconds, on_silence):
        self.clock = clock
        self.seconds = seconds
        self.on_silence = on_silence
        self.quiet = False              # the last silence event said on
        self.watching = False           # a call is up
        self.waiting = False            # its caller waits (queued, held)
        self._timer = None

    def heard(self, on):
        self.quiet = on
        self._rearm()

    def start(self):
        self.watching = True
        self._rearm()

    def stop(self):
        self.watching = False
        self._rearm()

    def set_waiting(self, waiting):
        self.waiting = waiting
        self._rearm()

    def _rearm(self):
        timing = self._timer is not None and self._timer.active()
        if self.watching and self.quiet and not self.waiting:
            if not timing:
                self._timer = self.clock.callLater(self.seconds, self._elapsed)
        elif timing:
            self._timer.cancel()
            self._timer = None

    def _elapsed(self):
        self._timer = None
        self.on_silence()
