# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_storage -*-
"""Storage of the CT server's records: CDRs, agent sessions and states, the
queue log.  SQLAlchemy 2 models (:mod:`.models`), Alembic migrations
(:mod:`.migrations`), :class:`RecordStore`, the Twisted service that
writes them from its own thread without ever losing one (:mod:`.store`),
and its journal on local disk, where every record is before the
database gets it (:mod:`.journal`).  SQLite under var/ by default,
PostgreSQL by URL.  See docs/storage.md.
"""
from cti.storage.journal import JournalError
from cti.storage.migrations import current_revision, head_revision, upgrade
from cti.storage.models import (
    AgentSession,
    AgentStateChange,
    Base,
    CallRecord,
    QueueEvent,
    QueueLogEntry,
)
from cti.storage.store import RecordStore, StoreStopped, default_url, make_engine

__all__ = [
    "AgentSession",
    "AgentStateChange",
    "Base",
    "CallRecord",
    "JournalError",
    "QueueEvent",
    "QueueLogEntry",
    "RecordStore",
    "StoreStopped",
    "current_revision",
    "default_url",
    "head_revision",
    "make_engine",
    "upgrade",
]
