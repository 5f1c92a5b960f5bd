# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_extension -*-
"""A flow's caller to an extension: an agent's phone, wherever the agent
is logged in (RouteSelect {extension}: the agent's code).

It rings as a blind transfer to an agent does (a consultation nobody
consults from: cti.server.consult.consult), while the caller hears music;
answered, the agent has the caller.  An agent not free fails at once,
before the caller's trunk is answered (a call that cannot ring is not
charged).
"""
from twisted.internet import defer
from twisted.logger import Logger

from cti.server.errors import (
    ACDError,
    CallError,
    CallFailed,
    InvalidField,
    InvalidState,
    OutboundFailed,
)

log = Logger()


def not_free(agent):
    """Why an agent cannot take a call now, as call_failed says it."""
    return {"loggedOff": "logged_off", "notReady": "not_ready"}.get(agent.state, "busy")


class Extensions:
    def __init__(self, consults, acd):
        self.consults = consults         # cti.server.consult.consult.Consultations
        self.acd = acd

    def check(self, agent_id):
        """RouteSelect's `extension` must be an agent's code, and the agent
        free now (else CallFailed at once)."""
        agent = self.acd.agents.get(agent_id)
        if agent is None:
            raise InvalidField(f"RouteSelect: no extension {agent_id!r} (an extension is an "
                               "agent's code)", field="extension")
        if agent.state != "ready":
            reason = not_free(agent)
            raise CallFailed(f"RouteSelect: the call to extension {agent_id} failed: "
                             f"{reason}", reason=reason)

    def ring(self, call, agent_id, ring_s, cause=None):
        """Ring the agent for a flow's caller: a Deferred fired when the
        agent has the caller, or failing with OutboundFailed: the agent is
        not free (reason `busy`, `not_ready`, `logged_off`), the ring is
        refused for another cause (the boards refusing the caller's audio:
        the refusal's own words), the agent did not answer within `ring_s`
        (`no_answer`), or the caller hung up."""
        agent = self.acd.agent(agent_id)
        try:
            consult = self.consults.start(call, agent_id, blind=True, cause=cause, ring_s=ring_s)
        except (ACDError, InvalidState, InvalidField) as e:   # the agent, its phone taken
            log.info("call {call}: extension {agent} is not free: {why}", call=call.id,
                     agent=agent_id, why=e)
            return defer.fail(OutboundFailed(agent_id, not_free(agent)))
        except CallError as e:                 # refused for another cause (the boards'): said
            log.warn("call {call}: extension {agent} cannot be rung: {why}", call=call.id,
                     agent=agent_id, why=e)
            return defer.fail(OutboundFailed(agent_id, str(e)))
        return consult.done
