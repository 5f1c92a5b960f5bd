# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""A call's attached data: what flows and agents add to it, and an edit
after the call, in the wrap-up that follows it.

Attached data travels with the call in every event and snapshot, so it is
capped (MAX_ATTACHED bytes of JSON).  An agent's changes also go to the
record hook ([server] record_hook: the customer database,
cti.server.customer) when one is configured.
"""
import json

from cti.server import customer
from cti.server.errors import InvalidField, InvalidState, NoSuchObject

#: The most attached data a call may carry, in bytes of JSON: it travels in
#: every event and snapshot of the call.
MAX_ATTACHED = 65536


def check_size(service, current, data):
    """The attached data `current` with `data` merged stays within
    MAX_ATTACHED bytes (as JSON), or InvalidField: every event and
    snapshot of the call carries it."""
    size = len(json.dumps({**current, **data}, ensure_ascii=False,
                          separators=(",", ":")).encode())
    if size > MAX_ATTACHED:
        raise InvalidField(f"{service}: the call's attached data would be {size:,} bytes of "
                           f"JSON, over the {MAX_ATTACHED:,} a call may carry", field="data")


class CallData:
    def __init__(self, layer, agents):
        self.layer = layer               # ICallLayer
        self.agents = agents             # cti.server.agents.Agents

    def merge(self, call, data, cause, service="SetCallData"):
        """Add `data` to the call's attached data (top-level keys replaced)
        and tell the call's monitors (AttachedDataChanged); nothing for {}."""
        if not data:
            return
        check_size(service, call.call.data, data)
        call.call.data.update(data)
        self.layer.model.event(call.call, call.station.name if call.station else call.trunk.name,
                               "AttachedDataChanged", cause=cause)

    def set(self, actor, call_id, data):
        """SetCallData by a flow (a call in its hands) or an agent (its own
        call, or in wrap-up the call it follows)."""
        follows = False                  # an agent in the wrap-up of this call
        if actor.role == "agent":
            agent = self.agents.of(actor)
            follows = agent.state == "workingAfterCall" and agent.last_call is not None \
                and agent.last_call.id == call_id
            if call_id not in self.layer.calls:
                return self._after_call_edit(agent, call_id, data, follows)
        call = self.layer.call(call_id)
        if actor.role == "flow" and call.flow_session is not actor.session:
            raise InvalidState(f"call {call.id} is not in this flow server's hands")
        if actor.role == "agent" and not follows \
                and (call.agent is None or call.agent.id != actor.user):
            raise InvalidState(f"call {call.id} is not at your station")
        self.merge(call, data, actor.cause)
        result = {"data": dict(call.call.data)}
        hook = self.layer.config.record_hook
        if actor.role != "agent" or hook is None or not data:
            return result
        d = customer.save(self.layer.clock, hook, call.id, actor.user, call.call.data, data)
        return d.addCallback(lambda record: {**result, "record": record})

    def _after_call_edit(self, agent, call_id, data, follows):
        """An agent in wrap-up edits the record of the call it follows
        (`follows`), which has ended: its CDR is written, so the edit goes
        to the record hook (the customer database) and to
        `after_call_edits`.  (A call it transferred, still up, is edited
        as a live call.)"""
        if not follows:
            for explain in self.layer.explain_missing:
                explain(call_id)
            raise NoSuchObject(f"no call {call_id!r}: it ended, and after a call only its "
                               "record in the wrap-up that follows it may be edited",
                               object="call", id=call_id)
        call = agent.last_call
        check_size("SetCallData", call.data, data)
        call.data.update(data)
        result = {"data": dict(call.data), "afterCall": True}
        if not data:
            return result
        at = self.layer.clock.seconds()

        def keep(record):
            self.layer.records.after_call_edit(at, call_id, agent.id, dict(data),
                                               None if record is None else record["saved"])
            return result if record is None else {**result, "record": record}
        hook = self.layer.config.record_hook
        if hook is None:
            return keep(None)
        return customer.save(self.layer.clock, hook, call_id, agent.id, call.data,
                             data).addCallback(keep)
