# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_logins -*-
"""The server's door: who may connect, and how fast anyone may try to log in.

A CT server faces every desk of a call centre and often more of the
network; the `Gate` keeps a stranger from wearing it down or guessing
his way in, while agents and flow servers come and go freely:

Connections
    Caps on the connections open in total, from one source address, and
    not logged in yet (in total and from one source).  A connection over a
    cap is told which cap in a `SessionClosed` event and closed; every
    other session is untouched.

Failed logins
    Counted per user name and per source address over a sliding window
    (`Limits.window_s`).  The first `delay_after` failures of a name (and
    `source_delay_after` of an address: many people may share one) are
    answered at once; each further refusal only after a delay that doubles with every
    failure (`delay_s`, twice that, ... up to `max_delay_s`); at `lockout_after` failures of
    a name, or `source_lockout_after` from one address, that name or
    address is locked for `lockout_s`: every Login for it, right password
    or not, is refused with `locked_out` and how long is left.  A name is
    counted whether or not it exists, so a lockout says nothing about which
    names do.  An administrator lifts a lockout early (UnlockLogin); every
    lockout and unlock goes to the audit log.

The password check itself (equal time for unknown names, off the reactor
thread, one per connection at a time) is cti.protocol.server's.

Memory is bounded: at most `MAX_TRACKED` names and as many sources are
remembered, the stalest forgotten first, but never one locked out (each
lockout costs its maker `lockout_after` password checks).
"""
from collections import OrderedDict
from dataclasses import dataclass

#: Failure records kept per kind (names, sources); the oldest go first.
MAX_TRACKED = 10_000


@dataclass(frozen=True)
class Limits:
    """The door's settings ([server] in etc/cti.toml; docs/configuration.md)."""

    max_connections: int = 5000
    max_connections_per_source: int = 1000       # a whole floor behind one NAT
    max_unauthenticated: int = 500
    max_unauthenticated_per_source: int = 50     # a shift logging in at once
    window_s: float = 900.0
    delay_after: int = 3
    source_delay_after: int = 20                 # one address is many people (a NAT)
    delay_s: float = 1.0
    max_delay_s: float = 30.0
    lockout_after: int = 10
    source_lockout_after: int = 100
    lockout_s: float = 900.0


class Refused(Exception):
    """A login refused before its password is checked: locked out."""

    def __init__(self, message, retry_after_s):
        self.retry_after_s = retry_after_s
        super().__init__(message)


class _Failures:
    """Failure times of one name or source, and its lockout."""

    __slots__ = ("times", "locked_until")

    def __init__(self):
        self.times = []
        self.locked_until = None


class Gate:
    """Connection caps and login throttling for one server.  `audit(action,
    user, **detail)` is told of every lockout and unlock."""

    def __init__(self, clock, limits=None, audit=None):
        self.clock = clock
        self.limits = limits or Limits()
        self.audit = audit or (lambda action, user, **detail: None)
        self.open = 0
        self.unauthenticated = 0
        self._open_from = {}                  # source -> connections open
        self._unauthenticated_from = {}       # source -> connections not logged in
        self._names = OrderedDict()           # user name -> _Failures
        self._sources = OrderedDict()         # source -> _Failures

    # -- connections -----------------------------------------------------------
    def admit(self, source):
        """A new connection from `source`: None if it may stay (it is
        counted, unauthenticated), else why it may not."""
        lim = self.limits
        if self.open >= lim.max_connections:
            return f"the server has the most connections it takes ({lim.max_connections})"
        if self._open_from.get(source, 0) >= lim.max_connections_per_source:
            return (f"{source} has the most connections one address may have "
                    f"({lim.max_connections_per_source})")
        if self.unauthenticated >= lim.max_unauthenticated:
            return (f"the server has the most connections not logged in that it takes "
                    f"({lim.max_unauthenticated}); try again shortly")
        if self._unauthenticated_from.get(source, 0) >= lim.max_unauthenticated_per_source:
            return (f"{source} has the most connections not logged in that one address may "
                    f"have ({lim.max_unauthenticated_per_source}): log in on those first")
        self.open += 1
        self.unauthenticated += 1
        _add(self._open_from, source, 1)
        _add(self._unauthenticated_from, source, 1)
        return None

    def authenticated(self, source):
        """A connection admitted from `source` logged in."""
        self.unauthenticated -= 1
        _add(self._unauthenticated_from, source, -1)

    def closed(self, source, authenticated):
        """A connection admitted from `source` ended."""
        self.open -= 1
        _add(self._open_from, source, -1)
        if not authenticated:
            self.unauthenticated -= 1
            _add(self._unauthenticated_from, source, -1)

    # -- logins ----------------------------------------------------------------
    def check(self, user, source):
        """Before a password is checked: Refused while the name or the
        source is locked out."""
        now = self.clock.seconds()
        for failures, what in ((self._names.get(user), f"user {user!r}"),
                               (self._sources.get(source), f"address {source}")):
            if failures is not None and failures.locked_until is not None:
                left = failures.locked_until - now
                if left > 0:
                    raise Refused(f"logins for {what} are locked for {left:.0f} s more "
                                  "after too many failed attempts (an administrator can "
                                  "lift it: UnlockLogin)", round(left, 1))
                failures.locked_until = None

    def failed(self, user, source):
        """A login failed: the delay before it is answered, in seconds."""
        lim, now = self.limits, self.clock.seconds()
        by_name = self._record(self._names, user, now)
        by_source = self._record(self._sources, source, now)
        if len(by_name.times) >= lim.lockout_after and by_name.locked_until is None:
            by_name.locked_until = now + lim.lockout_s
            self.audit("LoginLockout", user, source=source, failures=len(by_name.times),
                       lockedS=lim.lockout_s)
        if len(by_source.times) >= lim.source_lockout_after and by_source.locked_until is None:
            by_source.locked_until = now + lim.lockout_s
            self.audit("LoginLockout", user, source=source, failures=len(by_source.times),
                       lockedS=lim.lockout_s, scope="source")
        over = max(len(by_name.times) - lim.delay_after,
                   len(by_source.times) - lim.source_delay_after)
        if over <= 0:
            return 0.0
        return min(lim.max_delay_s, lim.delay_s * 2 ** min(over - 1, 30))

    def succeeded(self, user):
        """A login succeeded: the name's failures are forgotten (not the
        source's: one good password does not excuse a spray)."""
        self._names.pop(user, None)

    def _record(self, table, key, now):
        failures = table.pop(key, None) or _Failures()
        table[key] = failures                       # the most recent, last
        cutoff = now - self.limits.window_s
        failures.times = [t for t in failures.times if t > cutoff] + [now]
        if len(table) > MAX_TRACKED:
            self._forget_stalest(table, now)
        return failures

    @staticmethod
    def _forget_stalest(table, now):
        """Make room by forgetting the stalest failures, never a lockout in
        force: a flood of new names must not flush a victim's lockout."""
        for name in list(table):
            if len(table) <= MAX_TRACKED:
                return
            locked = table[name].locked_until
            if locked is None or locked <= now:
                del table[name]

    # -- administration --------------------------------------------------------
    def lockouts(self):
        """The lockouts in force: dicts of user or source, and seconds left."""
        now, out = self.clock.seconds(), []
        for table, key in ((self._names, "user"), (self._sources, "source")):
            for name, failures in table.items():
                if failures.locked_until is not None and failures.locked_until > now:
                    out.append({key: name, "remainingS": round(failures.locked_until - now, 1),
                                "failures": len(failures.times)})
        return out

    def unlock(self, by, user=None, source=None):
        """Lift the lockout (and forget the failures) of a name, a source or
        both; the list of what was locked."""
        lifted = []
        for table, key, value in ((self._names, "user", user),
                                  (self._sources, "source", source)):
            if value is None:
                continue
            failures = table.pop(value, None)
            if failures is not None and failures.locked_until is not None \
                    and failures.locked_until > self.clock.seconds():
                lifted.append({key: value})
        self.audit("UnlockLogin", by, lifted=lifted, askedUser=user, askedSource=source)
        return lifted


def _add(counts, key, n):
    value = counts.get(key, 0) + n
    if value > 0:
        counts[key] = value
    else:
        counts.pop(key, None)
