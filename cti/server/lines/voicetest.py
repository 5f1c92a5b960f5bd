# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_hung_operations -*-
"""A voice resource whose operation hung is tested before it is lent again.

The driver's watchdog has stopped the operation and reset the device
(drivers.r4); the channel it served took another from the pool and put
this one in the pool's quarantine (cti.server.lines.channels.PooledVoice).
Here it is tested: a short tone played with a short deadline, TEST_AFTER_S
after the hang and again after each failure.  A resource whose tone ends
as it should goes back to the pool; one that fails TRIES times in a row is
retired: never lent again, a critical log line (structured field
``alarm="voice"``) and an audit row say so, and someone has to look at
the board.
"""
from cti.logs import Logger

log = Logger()

#: Wait this long after a hang (or a failed test) before testing.
TEST_AFTER_S = 1.0
#: Failed tests in a row that retire a resource.
TRIES = 3
#: The test: a tone this long, which must end within TEST_DEADLINE_MS.
TEST_TONE_MS = 100
TEST_DEADLINE_MS = 1_000
#: Tone results that say the resource works.
WORKING = frozenset({"max_time", "normal", "end_of_data"})


class VoiceTests:
    """The quarantine of one voice pool: test, give back or retire."""

    def __init__(self, clock, ports, pool, audit):
        self.clock = clock
        self.ports = ports
        self.pool = pool
        self.audit = audit               # audit(action, user, **detail): a row
        self.failures = {}               # resource -> failed tests in a row

    def test(self, voice):
        """Test `voice` (in quarantine) soon."""
        self.failures.setdefault(voice, 0)
        self.clock.callLater(TEST_AFTER_S, self._run, voice)

    def _run(self, voice):
        if voice not in self.pool.quarantined:
            return
        try:
            d = self.ports.tone(voice, TEST_TONE_MS, TEST_DEADLINE_MS)
        except Exception as e:            # the board refused the tone outright
            self._failed(voice, str(e))
            return
        d.addCallback(lambda reasons: self._passed(voice) if reasons & WORKING
                      else self._failed(voice, ", ".join(sorted(reasons)) or "no result"))

    def _passed(self, voice):
        tries = self.failures.pop(voice, 0) + 1
        self.pool.passed(voice)
        log.info("{voice}: passed its test after a hung operation: back in the pool",
                 voice=voice)
        self.audit("VoiceTested", "system", voice=voice, tries=tries)

    def _failed(self, voice, why):
        self.failures[voice] += 1
        if self.failures[voice] < TRIES:
            log.warn("{voice}: failed its test ({why}): testing again", voice=voice, why=why)
            self.clock.callLater(TEST_AFTER_S, self._run, voice)
            return
        del self.failures[voice]
        self.pool.retire(voice)
        log.critical("{voice}: failed {n} tests after a hung operation ({why}): retired, "
                     "the pool has {free} resources left; check the board", voice=voice,
                     n=TRIES, why=why, free=len(self.pool.free) + len(self.pool.owner),
                     alarm="voice")
        self.audit("VoiceRetired", "system", voice=voice, tries=TRIES, why=why)
