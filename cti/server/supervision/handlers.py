# SPDX-License-Identifier: GPL-2.0-or-later
"""The supervisors' services (cti.server.supervision.supervision), every
one written to the audit log, refused ones too."""
from cti.protocol.services import SUPERVISORS, Field, Service
from cti.server.config import STRATEGIES
from cti.server.edge import serve
from cti.server.errors import exactly_one
from cti.server.supervision.supervision import FORCED_STATES, MODES

ON_CALL = ("no_such_object", "invalid_state")
BUSY = (*ON_CALL, "resource_busy")


def register(hub, supervisors, auditor):
    add, audited = hub.catalogue.add, auditor.audited
    call = {"call": Field(str, doc="the call id")}
    agent = {"agent": Field(str, doc="the agent id")}

    def once(action, method):
        """Audited when refused; the method writes its own row on success."""
        return serve(audited(action, method, on_success=False))

    def set_strategy(who, params):
        return supervisors.set_queue_strategy(who, params["queue"], params["strategy"])

    def force(who, params):
        exactly_one("ForceAgentState", params, ("agent", "team"), field="agent")
        return supervisors.force_agent_state(who, params["agent"], params["team"],
                                             params["state"], params["reason"])

    add(Service("Supervise", SUPERVISORS, fields={
        **agent, "mode": Field(str, choices=MODES), "station": Field(str, False)},
        errors=BUSY), once("Supervise", lambda who, params: supervisors.supervise(
            who, params["agent"], params["mode"], params["station"])))
    add(Service("EndSupervision", SUPERVISORS, fields=agent, errors=ON_CALL),
        once("EndSupervision", lambda who, params: supervisors.end_supervision(
            who, params["agent"])))
    add(Service("Intercept", SUPERVISORS, fields=agent, errors=BUSY),
        once("Intercept", lambda who, params: supervisors.intercept(who, params["agent"])))
    add(Service("MonitorNextCall", SUPERVISORS, fields={
        **agent, "mode": Field(str, False, "monitor", choices=MODES),
        "station": Field(str)}, errors=("no_such_object", "resource_busy")),
        once("MonitorNextCall", lambda who, params: supervisors.monitor_next_call(
            who, params["agent"], params["mode"], params["station"])))
    add(Service("ClearCall", SUPERVISORS, fields=call, errors=ON_CALL),
        once("ClearCall", lambda who, params: supervisors.clear_call(who, params["call"])))
    add(Service("ForceAgentState", SUPERVISORS, fields={
        "agent": Field(str, False), "team": Field(str, False),
        "state": Field(str, choices=FORCED_STATES), "reason": Field(str, False, "")},
        errors=("no_such_object",)), once("ForceAgentState", force))
    add(Service("SetQueueStrategy", SUPERVISORS, fields={
        "queue": Field(str), "strategy": Field(str, choices=STRATEGIES)},
        errors=("no_such_object",)), once("SetQueueStrategy", set_strategy))
    hub.on_session_closed.append(supervisors.session_closed)
