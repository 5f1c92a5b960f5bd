# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_calls -*-
"""The call model, after CSTA (ECMA-269).

A *call* is a set of *connections*; a connection joins the call to one
*device* (a trunk channel, a station, a voice port, a queue, a route
point) and has its own state, so the same call can be ``connected`` on
the trunk while it is ``alerting`` at an agent's phone::

    model = CallModel(clock, hub)
    call = model.new_call("dtiB1T1", ani="5551234", dnis="5550100")
    model.connect(call, "dtiB1T1", "connected")      # the trunk answered
    model.connect(call, "queue:sales", "queued")
    model.connect(call, "msiB1C3", "alerting")       # Delivered to the agent
    call.data["account"] = "123456"                  # attached data travels

Every change is published through the protocol hub to whoever monitors
the call, the device, or (for queue connections) the queue, with the
CSTA event name, the call's ids and its attached data.  Connection
states move by a declared table (cti.statemachine), so an impossible
move (answering a cleared connection) is refused loudly.
"""
import itertools

from twisted.logger import Logger

from cti.statemachine import Table

log = Logger()

CONNECTION = Table("connection", initial="null", transitions=[
    ("null", "initiated", "initiated"),
    ("null", "alerting", "alerting"),
    ("null", "queued", "queued"),
    ("null", "connected", "connected"),
    ("initiated", "alerting", "alerting"),
    ("initiated", "connected", "connected"),
    ("initiated", "fail", "fail"),
    ("alerting", "connected", "connected"),
    ("alerting", "fail", "fail"),
    ("queued", "alerting", "alerting"),
    ("queued", "connected", "connected"),
    ("connected", "hold", "hold"),
    ("hold", "connected", "connected"),
    ("*", "clear", "null"),
])

#: The CSTA event published when a connection enters a state.
EVENT_FOR_STATE = {
    "initiated": "Originated",
    "alerting": "Delivered",
    "queued": "Queued",
    "connected": "Established",
    "hold": "Held",
    "fail": "Failed",
    "null": "ConnectionCleared",
}


class Connection:
    def __init__(self, call, device, clock):
        self.call = call
        self.device = device
        self.machine = CONNECTION.machine(clock, f"{call.id}/{device}")

    @property
    def state(self):
        return self.machine.state


class Call:
    def __init__(self, call_id, origin, ani, dnis, direction, trunk_group, created,
                 presentation="allowed"):
        self.id = call_id
        self.origin = origin
        self.ani = ani                # the caller's number as it came: the CDR's, routing's
        self.presentation = presentation  # "restricted": the caller withheld the number
                                          # (ISDN), kept for the CDR and routing only
        self.dnis = dnis
        self.direction = direction
        self.trunk_group = trunk_group
        self.created = created
        self.connections = {}         # device -> Connection
        self.data = {}                # attached data
        self.cleared = False
        self.recorded = False         # its CDR is written (cti.server.core.sweep writes none then)
        self.made_by = None           # the agent (or supervisor) who made it: a call out,
                                      # a consultation (who may see it: cti.server.scope)

    @property
    def shown_ani(self):
        """The caller's number as agents, flows and clients see it: ``""``
        when the caller withheld it."""
        return "" if self.presentation == "restricted" else self.ani

    def state_at(self, device):
        c = self.connections.get(device)
        return c.state if c else "null"

    def snapshot(self):
        return {
            "call": self.id, "ani": self.shown_ani, "presentation": self.presentation,
            "dnis": self.dnis, "direction": self.direction,
            "trunkGroup": self.trunk_group, "origin": self.origin, "created": self.created,
            "connections": [{"device": d, "state": c.state}
                            for d, c in sorted(self.connections.items())],
            "data": dict(self.data),
        }


class CallModel:
    """All calls of one server."""

    def __init__(self, clock, hub=None, first_id=1):
        self.clock = clock
        self.hub = hub
        self.calls = {}
        self._ids = itertools.count(first_id)
        self.cleared_listeners = []        # callables(call) when a call ends
        if hub is not None:
            hub.provide_snapshots("call", self._snapshot_call, lambda: list(self.calls))

    def _snapshot_call(self, call_id):
        call = self.calls.get(call_id)
        return call.snapshot() if call else None

    def calls_at(self, device):
        return [c for c in self.calls.values() if device in c.connections]

    def new_call(self, origin, ani="", dnis="", direction="inbound", trunk_group=None,
                 presentation="allowed"):
        call = Call(f"c{next(self._ids)}", origin, ani, dnis, direction, trunk_group,
                    self.clock.seconds(), presentation)
        self.calls[call.id] = call
        log.info("call {call}: {direction} from {ani} to {dnis} on {origin}", call=call.id,
                 direction=direction, ani=ani or "-", dnis=dnis or "-", origin=origin)
        return call

    def connect(self, call, device, state, cause=None, **extra):
        """Move (or create) the call's connection at `device` to `state` and
        publish the CSTA event for it.  `cause` is a protocol cause (session,
        invoke id) for the invoke-id echo; `extra` goes into the event."""
        if call.cleared:
            raise ValueError(f"call {call.id} has ended")
        connection = call.connections.get(device)
        if connection is None:
            connection = call.connections[device] = Connection(call, device, self.clock)
        was = connection.state
        connection.machine.fire(state, **extra)
        event = "Retrieved" if (was, state) == ("hold", "connected") else EVENT_FOR_STATE[state]
        self._publish(call, device, event, cause, extra)
        return connection

    def event(self, call, device, name, cause=None, **extra):
        """Publish a call event that changes no connection (Transferred...)."""
        self._publish(call, device, name, cause, extra)

    def clear(self, call, device, reason="normal", cause=None):
        """The device leaves the call (ConnectionCleared); the call ends
        (CallCleared) when no connection is left.  The event is published
        while the device is still a connection of the call: who may see
        it is decided as it was before it left (cti.server.scope)."""
        connection = call.connections.get(device)
        if connection is None:
            return
        connection.machine.fire("clear", reason=reason)
        self._publish(call, device, "ConnectionCleared", cause, {"reason": reason})
        call.connections.pop(device, None)
        if not call.connections:
            self._end(call, reason, cause)

    def clear_call(self, call, reason="normal", cause=None):
        """Every connection leaves: the whole call ends."""
        for device in list(call.connections):
            if not call.cleared:
                self.clear(call, device, reason, cause)

    def _end(self, call, reason, cause):
        call.cleared = True
        log.info("call {call} cleared ({reason})", call=call.id, reason=reason)
        if self.hub is not None:              # still a call: seen by who could see it
            self.hub.publish("call", call.id, "CallCleared",
                             {"call": call.id, "reason": reason, "data": dict(call.data)},
                             cause=cause)
        self.calls.pop(call.id, None)
        if self.hub is not None:              # CallCleared was their last event
            self.hub.drop_monitors("call", call.id)
        for listener in list(self.cleared_listeners):
            listener(call)

    def _publish(self, call, device, event, cause, extra):
        if self.hub is None:
            return
        body = {"call": call.id, "device": device, "state": call.state_at(device),
                "callingDevice": call.shown_ani or call.origin, "calledDevice": call.dnis,
                "presentation": call.presentation, "direction": call.direction,
                "data": dict(call.data), **extra}
        self.hub.publish("call", call.id, event, body, cause=cause)
        kind, _, name = device.partition(":")
        if name and kind in ("queue", "agent"):
            self.hub.publish(kind, name, event, body, cause=cause)
        else:
            self.hub.publish("device", device, event, body, cause=cause)
