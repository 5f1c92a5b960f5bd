# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_records -*-
"""The records the call layer writes: one place that knows their shape.

Every record goes to the record store (cti.storage.store), which writes it
off the reactor thread; this module only builds the rows, with the time
from the injected clock:

- `call`: the CDR of a call the call layer handled, its disposition told
  by the phases it went through (`disposition`);
- `orphan`: the CDR of a call the sweep cleared with nobody's record;
- `call_out`: the CDR of an agent's call out never answered;
- `queue`: a queue-log row (Asterisk's queue_log events: ENTERQUEUE,
  CONNECT, ABANDON, FULL, CALLBACKREQ...);
- `agent_state` and `agent_session`: an agent's state change, and a
  login's session when it ends;
- `call_progress` and `agent_login`: what a crash would leave of a call
  in progress and of a login, kept open in the store (its journal) and
  written by `recover` at the next start (disposition "server_failure");
- `audit`: what a supervisor or administrator did (or was refused).
"""
from datetime import UTC, datetime

from cti.storage.models import (
    AfterCallEdit,
    AgentSession,
    AgentStateChange,
    AuditEntry,
    CallRecord,
    QueueLogEntry,
)

#: A call in progress, or a login, when the server crashed: its CDR's
#: disposition, and the cause and logout reason written at the next start.
SERVER_FAILURE = "server_failure"
SERVER_FAILURE_CAUSE = "server failure"


def utc(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def call_key(call_id):
    """The store's key of a call's CDR while the call is in progress."""
    return f"call:{call_id}"


def session_key(agent):
    """The store's key of an agent's session while it is logged in."""
    return f"agent_session:{agent}"


def disposition(call, last_phase):
    """How the call ended, for its CDR: what it was set to (queue_full,
    transferred_out...), else what its phases tell of its last stay in a
    queue, the CDR's `queue`: a caller an agent answered in support, then
    transferred to sales, who hangs up waiting there, abandoned sales (the
    earlier answer is still the CDR's answered_at, agent and talk_s)."""
    if call.disposition is not None:
        return call.disposition
    if last_phase in ("queued", "ringing"):
        return "abandoned" if call.released_by == "caller" else "cleared"
    if call.answered_at is not None and (call.queued_at is None
                                         or call.answered_at >= call.queued_at):
        return "answered"
    if call.left_queue_at is not None:
        return "overflow"
    if call.queued_at is not None or call.flow is None:
        return "failed"
    return "ivr_only"


class Records:
    """The rows of one server, added to its record store."""

    def __init__(self, clock, store):
        self.clock = clock
        self.store = store

    def call(self, call, last_phase):
        """The CDR of `call` (a cti.server.core.call.TrunkCall) as it ends."""
        call.call.recorded = True
        self.store.add(self._cdr(call, disposition(call, last_phase), call.released_by,
                                 call.cause))
        self.store.close(call_key(call.id))

    def call_progress(self, call):
        """The CDR a crash now would leave of `call`, in progress: kept open
        in the store (never written), replaced as the call goes on, and
        written by `recover` at the next start if the call never ends."""
        if call.state == "ended":
            return
        cdr = self._cdr(call, SERVER_FAILURE, "system", SERVER_FAILURE_CAUSE)
        if call.state in ("queued", "ringing"):
            cdr.wait_s = None                    # still waiting: until the crash
        self.store.open(call_key(call.id), cdr)

    def _cdr(self, call, how, released_by, cause):
        now = self.clock.seconds()
        wait = None
        if call.queued_at is not None:
            left = next(t for t in (call.left_queue_at, call.answered_at, now)
                        if t is not None and t >= call.queued_at)  # not an earlier answer
            wait = left - call.queued_at
        c = call.call
        return CallRecord(
            call_id=c.id, direction=c.direction,
            trunk=None if call.called_agent else call.trunk.name, trunk_group=c.trunk_group,
            ani=c.ani or None, dnis=c.dnis or None, flow=call.flow, queue=call.queue,
            agent=call.answered_by[0] if call.answered_by else None,
            station=call.answered_by[1] if call.answered_by else None,
            offered_at=utc(call.offered_at),
            queued_at=utc(call.queued_at) if call.queued_at else None,
            answered_at=utc(call.answered_at) if call.answered_at is not None else None,
            ended_at=utc(now), wait_s=wait,
            talk_s=now - call.answered_at if call.answered_at is not None else None,
            disposition=how, released_by=released_by, cause=cause, attached=dict(c.data))

    def orphan(self, call, cause):
        """The CDR of a call of the model that no part of the call layer
        held (the sweep cleared it), unless its release wrote one."""
        if call.recorded:
            return
        call.recorded = True
        self.store.add(CallRecord(
            call_id=call.id, direction=call.direction, trunk=None,
            trunk_group=call.trunk_group, ani=call.ani or None, dnis=call.dnis or None,
            flow=None, queue=None, agent=None, station=None,
            offered_at=utc(call.created), queued_at=None, answered_at=None,
            ended_at=utc(self.clock.seconds()), wait_s=None, talk_s=None,
            disposition="failed", released_by="system", cause=cause,
            attached=dict(call.data)))

    def call_out(self, out, disposition, released_by, cause):
        """The CDR of an agent's call placed and never answered
        (cti.server.outbound.dialer.OutboundCall)."""
        c = out.call
        c.recorded = True
        self.store.add(CallRecord(
            call_id=c.id, direction="outbound" if out.to is None else "internal",
            trunk=out.trunk.name if out.trunk else None, trunk_group=None,
            ani=out.agent.id, dnis=out.number, flow=None, queue=None,
            agent=out.agent.id, station=out.station.name,
            offered_at=utc(out.started_at), queued_at=None, answered_at=None,
            ended_at=utc(self.clock.seconds()), wait_s=None, talk_s=None,
            disposition=disposition, released_by=released_by, cause=cause,
            attached=dict(c.data)))

    def audit(self, action, user, agent=None, call=None, queue=None, **detail):
        """A row of the audit log: `user` did (or was refused) `action`."""
        self.store.add(AuditEntry(at=utc(self.clock.seconds()), user=user, action=action,
                                  agent=agent, call_id=call, queue=queue, detail=detail))

    def queue(self, call_id, queue, agent, event, *data):
        values = [None if d is None else str(d) for d in data] + [None] * (5 - len(data))
        self.store.add(QueueLogEntry(at=utc(self.clock.seconds()), call_id=call_id,
                                     queue=queue, agent=agent, event=event,
                                     data1=values[0], data2=values[1], data3=values[2],
                                     data4=values[3], data5=values[4]))

    def agent_state(self, agent, state, reason, previous, call_id):
        self.store.add(AgentStateChange(agent=agent, at=utc(self.clock.seconds()),
                                        state=state, reason=reason, previous=previous,
                                        call_id=call_id))

    def agent_login(self, agent, station, login_at):
        """A login's session, open until the logout (`agent_session`); a
        crash leaves it to `recover`."""
        self.store.open(session_key(agent), AgentSession(
            agent=agent, station=station, login_at=utc(login_at), logout_at=utc(login_at),
            logout_reason=SERVER_FAILURE_CAUSE))

    def agent_session(self, agent, station, login_at, reason):
        self.store.add(AgentSession(agent=agent, station=station, login_at=utc(login_at),
                                    logout_at=utc(self.clock.seconds()),
                                    logout_reason=reason))
        self.store.close(session_key(agent))

    def recover(self, seen_at=None):
        """Write what the last run left open (it crashed): each call in
        progress a CDR with disposition "server_failure", ended when the
        last run was last seen alive (its last journal entry, or `seen_at`,
        seconds, if later: the agents' file it rewrites every minute), and
        each agent session closed then.  Returns (calls, sessions)."""
        seen = [t for t in (self.store.last_seen, seen_at and utc(seen_at)) if t is not None]
        ended = max(seen) if seen else utc(self.clock.seconds())
        calls = sessions = 0
        for key, record in self.store.unfinished():
            if key.startswith("call:"):
                self._ended_at(record, ended)
                calls += 1
            elif key.startswith("agent_session:"):
                record.logout_at = max(ended, record.login_at)
                sessions += 1
            else:
                continue
            self.store.add(record)
            self.store.close(key)
        return calls, sessions

    @staticmethod
    def _ended_at(cdr, ended):
        """A call in progress at a crash ended when the server was last seen."""
        cdr.ended_at = max(ended, cdr.offered_at)
        if cdr.answered_at is not None:
            cdr.talk_s = max(0.0, (cdr.ended_at - cdr.answered_at).total_seconds())
        elif cdr.queued_at is not None and cdr.wait_s is None:     # it was waiting
            cdr.wait_s = max(0.0, (cdr.ended_at - cdr.queued_at).total_seconds())

    def after_call_edit(self, at, call_id, agent, changes, saved):
        """An agent's edit of an ended call's data in its wrap-up, made at
        `at` (seconds) and saved by the record hook or not (`saved`)."""
        self.store.add(AfterCallEdit(at=utc(at), call_id=call_id, agent=agent,
                                     changes=changes, saved=saved))
