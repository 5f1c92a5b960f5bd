# SPDX-License-Identifier: GPL-2.0-or-later
"""Record sinks: what the CT server writes its records to.

The call layer (cti.server.core.records) writes to a *record sink*, an
object with:

    add(record)           a record to keep (a CDR, a queue-log row...)
    open(key, record)     what a crash now would leave of something in
                          progress (a call, a login): kept, never written,
                          replaced by the next open of the same key
    close(key)            that thing is over (its record was added)
    unfinished()          [(key, record)] a crashed last run left open
    last_seen             when the last run was last seen writing (UTC), or None
    alarms, pending,      its health, for the status pages: "database", "disk";
    unjournaled           records not yet in the database, not yet fsynced

cti.storage.store.RecordStore is the real one (the journal keeps the open
records across a crash).  Here are the two shapes everything else takes:
`Forwarding`, which hands everything to a store and lets a subclass look
at what is added (the demo's summary, the benchmarks' counts), and
`InMemory`, which keeps the open records in a dict and has no last run
(tests and benchmarks that need no database).
"""


class Forwarding:
    """A record sink that hands everything to `store`; a subclass extends
    `add` to look at the records going by."""

    def __init__(self, store):
        self.store = store

    def add(self, record):
        self.store.add(record)

    def open(self, key, record):
        self.store.open(key, record)

    def close(self, key):
        self.store.close(key)

    def unfinished(self):
        return self.store.unfinished()

    @property
    def last_seen(self):
        return self.store.last_seen

    @property
    def alarms(self):
        return self.store.alarms

    @property
    def pending(self):
        return self.store.pending

    @property
    def unjournaled(self):
        return self.store.unjournaled


class InMemory:
    """A record sink that drops what is added (a subclass keeps or counts
    it) and keeps what is open in `provisional`, by key."""

    last_seen = None
    alarms = frozenset()                 # no database, no disk: nothing to go wrong
    pending = unjournaled = 0

    def __init__(self):
        self.provisional = {}

    def add(self, record):
        pass

    def open(self, key, record):
        self.provisional[key] = record

    def close(self, key):
        self.provisional.pop(key, None)

    def unfinished(self):
        return []
