# SPDX-License-Identifier: GPL-2.0-or-later
"""SetAgentState, and the snapshots of agents."""
from cti.protocol.services import Field, Service
from cti.server.agents.agents import AGENT_STATES
from cti.server.edge import serve


def register(hub, agents):
    def set_agent_state(who, params):
        return agents.set_state(who, params["state"], params["station"], params["reason"],
                                params["lock"])

    hub.catalogue.add(Service("SetAgentState", {"agent"}, fields={
        "state": Field(str, choices=AGENT_STATES), "station": Field(str, False),
        "reason": Field(str, False, ""), "lock": Field(str, False)},
        errors=("no_such_object", "invalid_state", "resource_busy")),
        serve(set_agent_state))
    hub.provide_snapshots("agent", agents.snapshot, lambda: list(agents.acd.agents))
