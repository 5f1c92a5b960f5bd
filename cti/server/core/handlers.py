# SPDX-License-Identifier: GPL-2.0-or-later
"""The call services every role uses, and the snapshots of calls and devices.

AnswerCall, ClearConnection and SetCallData mean one thing to a flow
server and another to an agent or a supervisor: each request goes to the
feature of the role that sent it (the IVR, the agents, supervision).
"""
from cti.protocol.services import ROLES, Field, Service
from cti.server.edge import refusal, serve
from cti.server.errors import MissingField, NoSuchObject

ON_CALL = ("no_such_object", "invalid_state")


def register(hub, layer, flows, agents, supervisors, data, monitored):
    hub.refusal = refusal            # the call layer's errors, as clients get them
    add, watched = hub.catalogue.add, flows.watched

    def answer_call(who, params):
        if who.role == "agent":
            return agents.answer(who, params["call"])
        if params["call"] is None:
            raise MissingField("AnswerCall: a flow server names the call", field="call")
        return flows.answer(who, params["call"]).addCallback(lambda _: {})

    def clear_connection(who, params):
        if who.role == "agent":
            agents.hang_up(who, params["call"])
        elif params["call"] is None:
            raise MissingField("ClearConnection: name the call", field="call")
        elif who.role == "flow":
            flows.release(who, params["call"])
        else:
            supervisors.hang_up(who, params["call"])
        return {}

    def set_call_data(who, params):
        return data.set(who, params["call"], params["data"])

    call = {"call": Field(str, doc="the call id from RouteRequest")}
    add(Service("AnswerCall", {"flow", "agent"}, fields={
        "call": Field(str, required=False)}, errors=ON_CALL), serve(watched(answer_call)))
    add(Service("SetCallData", {"flow", "agent"}, fields={**call, "data": Field(dict)},
                errors=ON_CALL), serve(watched(set_call_data)))
    add(Service("ClearConnection", set(ROLES), fields={
        "call": Field(str, required=False)}, errors=ON_CALL), serve(watched(clear_connection)))
    hub.provide_snapshots("call", layer.snapshot, lambda: list(layer.model.calls))
    hub.provide_snapshots("device", lambda name: device_snapshot(layer, flows, monitored, name),
                          lambda: [*layer.channels.by_name, *monitored.lines])


def device_snapshot(layer, flows, monitored, name):
    """A channel, a route point (`routepoint:FLOW`, FLOW a flow the routes
    name) or a monitored line (`monitored:NAME`: cti.server.monitored);
    `queue:NAME` is the queue NAME's, not a device."""
    kind, _, target = name.partition(":")
    if kind == "queue" and target:
        raise NoSuchObject(f"{name} is the connection of calls waiting in queue {target!r}: "
                           f"monitor object 'queue', id {target!r}", object="device", id=name)
    if kind == "routepoint" and target in flows.flow_names():
        snap = {"device": name, "kind": "routepoint", "flow": target,
                "flowServers": flows.servers()}
    elif kind == "monitored":
        snap = monitored.snapshot(name)
        if snap is None:
            return None
    else:
        channel = layer.channels.by_name.get(name)
        if channel is None:
            return None
        snap = channel.snapshot()
    snap["calls"] = [c.id for c in layer.model.calls_at(name)]
    return snap
