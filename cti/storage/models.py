# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_storage -*-
"""What the CT server keeps: call detail records, agent sessions and states,
and a queue log that reads like Asterisk's.

Five tables, one row per fact, written once and never updated:

    cdr            one row per call leg the server handled, when it ends
    agent_session  one row per login, written at logout
    agent_state    one row per agent state change (ready, notReady, ...)
    queue_log      one row per queue event, the lines report tools read
    audit_log      one row per supervisor action (monitor, intercept, force...)

Every timestamp is an aware UTC datetime (:class:`UTCDateTime` converts on
the way in and marks UTC on the way out, so SQLite and PostgreSQL give back
the same values).  Durations are float seconds.  Strings have no length
limit (a long ANI must never make a record fail to insert).  A record is built on the
reactor thread and handed to :meth:`cti.storage.store.RecordStore.add`,
which snapshots its column values; the instance itself is never attached to
a session::

    store.add(QueueLogEntry(at=now, call_id="1700000000.7", queue="sales",
                            event=QueueEvent.ENTERQUEUE, data2="5551234",
                            data3="1"))

The schema itself is created by the Alembic revisions in
``cti/storage/migrations``, never by ``create_all``; a test checks that the
migrated schema and these classes agree.
"""
import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Index,
    Integer,
    MetaData,
    TypeDecorator,
)
from sqlalchemy.dialects import postgresql
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, validates

#: constraint and index names the migrations spell out, so both agree
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: row ids: 64-bit on PostgreSQL; SQLite autoincrements only INTEGER keys
RowId = BigInteger().with_variant(Integer(), "sqlite")

#: attached data: JSONB where the database has it (indexable, queryable)
JsonData = JSON().with_variant(postgresql.JSONB(), "postgresql")


class UTCDateTime(TypeDecorator):
    """A timezone-aware UTC timestamp on every database.

    Stored as ``DateTime(timezone=True)``: TIMESTAMPTZ on PostgreSQL, text
    on SQLite (which keeps no zone, so values are converted to UTC before
    they are stored and read back as UTC).  Naive datetimes are refused:
    a wall-clock time without a zone is the classic source of CDRs that are
    an hour off after a DST change.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """The one declarative base; ``Base.metadata`` is what migrations match."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JsonData}


def _one_of(allowed, key, value, nullable=False):
    """Refuse a value outside ``allowed`` at construction, loudly."""
    if value is None and nullable:
        return value
    if value not in allowed:
        raise ValueError(f"{key} must be one of {sorted(allowed)}, not {value!r}")
    return value


DIRECTIONS = frozenset({"inbound", "outbound", "internal"})
RELEASED_BY = frozenset({"caller", "agent", "supervisor", "far_end", "network", "system"})


class CallRecord(Base):
    """A call detail record (CDR): one row per call, written when it ends.

    Times: ``offered_at`` when the call reached us (seized trunk or station
    off-hook), ``queued_at`` when it entered an ACD queue, ``answered_at``
    when an agent answered (not when the IVR did), ``ended_at`` when the
    last party released.  ``wait_s`` is queue wait (queued -> answered, or
    queued -> abandoned), ``talk_s`` answered -> ended (hold included).
    ``disposition`` is how it ended: "answered", "abandoned" (caller hung up
    in queue), "timed_out" (max wait), "cleared" (ended while queued by the
    server or a supervisor), "queue_full" (routed to a full queue),
    "overflow" (left the queue unanswered for its overflow flow and ended
    there), "ivr_only" (never asked for an agent), "failed",
    "transferred_out", ... .  ``attached`` is the call's attached data (the
    key-value "user data" collected by the IVR and passed to the agent).
    """

    __tablename__ = "cdr"
    __table_args__ = (
        Index(None, "queue", "offered_at"),
        Index(None, "agent", "offered_at"),
        Index(None, "trunk_group", "offered_at"),
    )

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    call_id: Mapped[str] = mapped_column(index=True)
    direction: Mapped[str]
    trunk: Mapped[str | None]
    trunk_group: Mapped[str | None]
    ani: Mapped[str | None]
    dnis: Mapped[str | None]
    flow: Mapped[str | None]
    queue: Mapped[str | None]
    agent: Mapped[str | None]
    station: Mapped[str | None]
    offered_at: Mapped[datetime] = mapped_column(index=True)
    queued_at: Mapped[datetime | None]
    answered_at: Mapped[datetime | None]
    ended_at: Mapped[datetime]
    wait_s: Mapped[float | None]
    talk_s: Mapped[float | None]
    disposition: Mapped[str]
    released_by: Mapped[str | None]
    cause: Mapped[str | None]
    attached: Mapped[dict[str, Any]] = mapped_column(default=dict)

    @validates("direction")
    def _check_direction(self, key, value):
        return _one_of(DIRECTIONS, key, value)

    @validates("released_by")
    def _check_released_by(self, key, value):
        return _one_of(RELEASED_BY, key, value, nullable=True)


class AgentSession(Base):
    """One agent login at a station, from login to logout.

    ``logout_at`` stays empty while the agent is logged in (a session still
    open after a crash is closed by the server at its next start, with
    ``logout_reason`` "server_restart").  ``logout_reason`` is free text:
    "agent", "forced" (by a supervisor), "idle", ... .
    """

    __tablename__ = "agent_session"
    __table_args__ = (Index(None, "agent", "login_at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    agent: Mapped[str]
    station: Mapped[str]
    login_at: Mapped[datetime]
    logout_at: Mapped[datetime | None]
    logout_reason: Mapped[str | None]


class AgentStateChange(Base):
    """An agent entering a state at ``at``; the state lasts until the next row.

    ``state`` uses the CSTA names (loggedOn, ready, notReady, busy,
    workingAfterCall, loggedOff) plus "reserved" (offered, ringing);
    ``reason`` is the not-ready reason code, ``previous`` the state left,
    ``call_id`` the call that caused it (busy, workingAfterCall, reserved).
    Time in each state, and so occupancy and wrap-up time, come from the
    gaps between consecutive rows of one agent.
    """

    __tablename__ = "agent_state"
    __table_args__ = (Index(None, "agent", "at"),)

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    agent: Mapped[str]
    at: Mapped[datetime]
    state: Mapped[str]
    reason: Mapped[str | None]
    previous: Mapped[str | None]
    call_id: Mapped[str | None]


class QueueEvent(enum.StrEnum):
    """Queue log events, with Asterisk's names and data fields.

    The data fields each event carries (data1, data2, ...), as Asterisk's
    queue_log documents them:

        ENTERQUEUE       url, caller id, position
        CONNECT          wait s, agent's call id, ring s
        COMPLETECALLER   wait s, talk s, original position
        COMPLETEAGENT    wait s, talk s, original position
        ABANDON          position, original position, wait s
        EXITWITHTIMEOUT  position, original position, wait s
        EXITEMPTY        position, original position, wait s
        EXITWITHKEY      key, position, original position, wait s
        RINGNOANSWER     ring ms
        TRANSFER         extension, context, wait s, talk s, original position
        PAUSE, UNPAUSE   reason
        AGENTLOGIN       station
        AGENTLOGOFF      station, logged-in s

    And four of ours: callbacks (cti.server.callback), a waiting call the
    server (shutdown) or a supervisor ended, not the caller, and a caller
    who found the queue full (max_length):

        CALLBACKREQ      the number to call back
        CALLBACKFAIL     why the attempt failed, attempts so far
        EXITCLEARED      position, original position, wait s, why
        FULL             where the caller went: queue:NAME or flow:NAME
                         (the overflow), or busy
    """

    ENTERQUEUE = "ENTERQUEUE"
    CONNECT = "CONNECT"
    COMPLETECALLER = "COMPLETECALLER"
    COMPLETEAGENT = "COMPLETEAGENT"
    ABANDON = "ABANDON"
    EXITWITHTIMEOUT = "EXITWITHTIMEOUT"
    EXITEMPTY = "EXITEMPTY"
    EXITWITHKEY = "EXITWITHKEY"
    RINGNOANSWER = "RINGNOANSWER"
    TRANSFER = "TRANSFER"
    PAUSE = "PAUSE"
    UNPAUSE = "UNPAUSE"
    AGENTLOGIN = "AGENTLOGIN"
    AGENTLOGOFF = "AGENTLOGOFF"
    CALLBACKREQ = "CALLBACKREQ"
    CALLBACKFAIL = "CALLBACKFAIL"
    EXITCLEARED = "EXITCLEARED"
    FULL = "FULL"


class QueueLogEntry(Base):
    """One queue event, as a row of Asterisk's realtime ``queue_log`` table.

    Events that belong to no call or no queue (AGENTLOGIN, PAUSE, ...) use
    "NONE" for ``call_id`` and ``queue``, as Asterisk does; an empty
    ``agent`` is rendered "NONE".  :meth:`to_line` gives the line Asterisk
    writes to its queue_log file, which existing report tools parse.
    """

    __tablename__ = "queue_log"
    __table_args__ = (Index(None, "queue", "at"), Index(None, "agent", "at"))

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    call_id: Mapped[str] = mapped_column(index=True)
    queue: Mapped[str]
    agent: Mapped[str | None]
    event: Mapped[str]
    data1: Mapped[str | None]
    data2: Mapped[str | None]
    data3: Mapped[str | None]
    data4: Mapped[str | None]
    data5: Mapped[str | None]

    @validates("event")
    def _check_event(self, key, value):
        return QueueEvent(value).value

    def to_line(self):
        """The Asterisk queue_log line: ``epoch|callid|queue|agent|EVENT|data...``.

        The epoch is whole seconds; data fields run up to the last one set,
        empty ones in between stay empty (``ENTERQUEUE||5551234|1``).

        >>> QueueLogEntry(at=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC), call_id="c1",
        ...               queue="sales", event="ENTERQUEUE", data2="5551234",
        ...               data3="1").to_line()
        '1704164645|c1|sales|NONE|ENTERQUEUE||5551234|1'
        """
        data = [self.data1, self.data2, self.data3, self.data4, self.data5]
        while data and data[-1] is None:
            data.pop()
        fields = [str(int(self.at.timestamp())), self.call_id, self.queue,
                  self.agent or "NONE", self.event]
        return "|".join(fields + ["" if d is None else str(d) for d in data])


class AuditEntry(Base):
    """A supervisor's (or administrator's) action, one row each, at ``at``.

    ``action`` is the service (Supervise, Intercept, ClearCall,
    ForceAgentState, SetQueueStrategy, StartRecording...), ``user`` who
    did it, ``agent`` / ``call`` / ``queue`` what it was done to, and
    ``detail`` the request's other parameters and what came of it.
    """

    __tablename__ = "audit_log"
    __table_args__ = (Index(None, "at"), Index(None, "user", "at"))

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    at: Mapped[datetime]
    user: Mapped[str]
    action: Mapped[str]
    agent: Mapped[str | None]
    call_id: Mapped[str | None]
    queue: Mapped[str | None]
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class AfterCallEdit(Base):
    """An agent's edit of a call's record in wrap-up, after the call ended
    and its CDR was written: ``changes`` (the keys the agent set) belong
    to the CDR of ``call_id`` (its ``attached`` as it ended), in the order
    of ``at``.  ``saved`` is the record hook's answer (the customer
    database took it), None when the server has no record hook.
    """

    __tablename__ = "after_call_edits"

    id: Mapped[int] = mapped_column(RowId, primary_key=True)
    at: Mapped[datetime]
    call_id: Mapped[str] = mapped_column(index=True)
    agent: Mapped[str]
    changes: Mapped[dict[str, Any]]
    saved: Mapped[bool | None]


#: every model, in the order the tables are created
MODELS = (CallRecord, AgentSession, AgentStateChange, QueueLogEntry, AuditEntry,
          AfterCallEdit)
