# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_supervision -*-
"""The audit log: what supervisors and administrators do to others' work.

A row for every use of a supervisor's service (Supervise, Intercept,
ClearCall, ForceAgentState...), and for every call service a supervisor
or an administrator uses on an agent's call (HoldCall, a transfer...),
refused ones too (`refused`: the condition, and `message`).  An agent's
own use of the call services is not audited.
"""
from twisted.internet import defer
from twisted.logger import Logger

from cti.server.errors import CallError

log = Logger()


class Auditor:
    def __init__(self, layer):
        self.layer = layer               # ICallLayer

    def audit(self, actor, action, agent=None, call=None, queue=None, **detail):
        self.layer.records.audit(action, actor.user, agent, call, queue, **detail)
        log.info("audit: {user} {action} agent={agent} call={call} queue={queue} {detail}",
                 user=actor.user, action=action, agent=agent, call=call, queue=queue,
                 detail=detail)

    def audited(self, action, method, on_success=True):
        """`method(actor, params)`, audited when a supervisor or an
        administrator uses it: refused, and, with `on_success`, once it
        succeeds (the call services used on an agent's call; the
        supervisor's own services write that row themselves, with their
        own details)."""
        def serve(actor, params):
            if actor.role == "agent":
                return method(actor, params)
            subject = self._subject(params)          # before the call changes hands

            def done(result):
                self.audit(actor, action, **subject)
                return result

            def refused(failure):
                if failure.check(CallError):
                    self.audit(actor, action, refused=failure.value.code,
                               message=str(failure.value), **subject)
                return failure
            d = defer.maybeDeferred(method, actor, params)
            if on_success:
                d.addCallback(done)
            return d.addErrback(refused)
        return serve

    def _subject(self, params):
        """What an audited request was done to, as audit() takes it: the
        call and whose it is, or the agent named; another agent named with
        a call is where it was sent (`toAgent`); the other fields as they are."""
        given = {k: v for k, v in params.items() if v is not None}
        call_id = given.pop("call", None)
        queue = given.pop("queue", None) if call_id is None else None
        if call_id is None:
            return {"agent": given.pop("agent", None), "queue": queue, **given}
        if "agent" in given:
            given["toAgent"] = given.pop("agent")
        call = self.layer.calls.get(call_id)
        agent = call.agent.id if call is not None and call.agent is not None else None
        return {"agent": agent, "call": call_id, **given}
