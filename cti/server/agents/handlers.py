# SPDX-License-Identifier: GPL-2.0-or-later
"""SetAgentState, the snapshots of agents, and the agents' sessions
watched for a desktop that died (cti.server.agents.presence)."""
from cti.protocol.services import Field, Service
from cti.server.agents.agents import AGENT_STATES
from cti.server.edge import serve


def register(hub, agents, presence):
    def set_agent_state(who, params):
        return agents.set_state(who, params["state"], params["station"], params["reason"],
                                params["lock"])

    hub.catalogue.add(Service("SetAgentState", {"agent"}, fields={
        "state": Field(str, choices=AGENT_STATES), "station": Field(str, False),
        "reason": Field(str, False, ""), "lock": Field(str, False)},
        errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(set_agent_state))
    hub.provide_snapshots("agent", agents.snapshot, lambda: list(agents.acd.agents))
    hub.on_session_login.append(presence.session_login)
    hub.on_session_closed.append(presence.session_closed)
