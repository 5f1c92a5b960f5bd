# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_callcenter -*-
"""Calls in the IVR: handed to flow servers, watched, taken back.

A flow server is a session that sent RouteRegister; calls go to them in
turn.  One gets a `RouteRequest` event for the call and drives it with the
voice operations and RouteSelect (cti.server.ivr.operations), until it lets the call go: a queue, an
extension, a number, or released.  The server then tells it `RouteEnd`.

No caller is left in dead air.  With no flow server, or when the flow
server's session ends, or when the call waits on it (no request of its
for the call outstanding) for FLOW_RESPONSE_S, the call gets the default
treatment: the `[routing] flow_down` queue.  A flow that works on a call
without a request (a look-up hook) says so first with KeepCall.

A caller an agent sent through a flow (a flow consultation,
cti.server.consult) is in the flow's hands while the call is talking; the
default treatment gives it back to the agent.
"""
from twisted.internet import defer
from twisted.logger import Logger
from zope.interface import implementer

from cti.server.errors import InvalidState
from cti.server.interfaces import ICallEnding

log = Logger()

#: Whenever a call in the IVR waits on its flow server (from the RouteRequest,
#: and from the answer to each of its requests for the call), the flow server
#: must send its next request for the call within this time (plus what a
#: KeepCall asked for); then the server takes the call back.
FLOW_RESPONSE_S = 2.0


@implementer(ICallEnding)
class Flows:
    """The flow servers and the calls in their hands."""
    part = "the flow"  # what a failed release names (ICallEnding)


    def __init__(self, layer, hub, ports):
        self.layer = layer               # ICallLayer
        self.hub = hub                   # the port events leave by (RouteRequest, RouteEnd)
        self.ports = ports
        self.consults = None             # cti.server.consult: a flow consultation's end
        self.queueing = None             # cti.server.queueing: the flow_down queue
        self.sessions = []               # sessions that sent RouteRegister, in turn

    # -- flow servers -------------------------------------------------------------
    def register(self, session):
        """A session serves the flows from now on; how many do."""
        if session not in self.sessions:
            self.sessions.append(session)
        log.info("session {id} serves the flows ({n} flow servers)", id=session.id,
                 n=len(self.sessions))
        return len(self.sessions)

    def servers(self):
        """How many flow servers are registered and connected."""
        return sum(s in self.hub.sessions for s in self.sessions)

    def next_session(self):
        live = [s for s in self.sessions if s in self.hub.sessions]
        self.sessions = live
        if not live:
            return None
        self.sessions = live[1:] + live[:1]
        return live[0]

    def flow_names(self):
        """The flows calls may be sent to: those the routes and overflows of
        the configuration name (a reload's from then on)."""
        return self.layer.config.routed_flows

    def reloaded(self):
        """The configuration was reloaded: every flow server is told
        (FlowsReload) to load its flow files again, the flows calls may now
        be sent to with it; each answers FlowsReloaded (`tier_reloaded`).
        How many were told."""
        live = [s for s in self.sessions if s in self.hub.sessions]
        for session in live:
            self.hub.send_event(session, "FlowsReload", {"flows": sorted(self.flow_names())})
        if live:
            log.info("reload: {n} flow servers told to reload their flows", n=len(live))
        return len(live)

    def tier_reloaded(self, session, flows, changes, error):
        """A flow server's answer to FlowsReload, in the log: its changes,
        or why it refused (it runs its old flows); and each flow calls may
        be sent to that it does not have."""
        who = f"flow server {session.user.name} (session {session.id})"
        if error:
            log.warn("{who}: flows not reloaded: {error}", who=who, error=error)
        else:
            log.info("{who}: flows reloaded: {changes}", who=who,
                     changes=", ".join(changes) or "nothing changed")
        missing = sorted(self.flow_names() - set(flows))
        if missing:
            log.warn("{who} has no flow {names}, which the routing names: its calls will "
                     "be released", who=who, names=", ".join(missing))
        return {"missing": missing}

    def session_closed(self, session):
        """A flow server left: its calls get the default treatment."""
        if session in self.sessions:
            self.sessions.remove(session)
        for call in list(self.layer.calls.values()):
            if call.flow_session is session and call.state in ("ivr", "talking"):
                call.flow_session = None       # gone: no RouteEnd to send
                log.warn("call {call}: its flow server left: default treatment", call=call.id)
                self.flow_down(call, "flow server left")

    # -- to a flow and back --------------------------------------------------------
    def to_flow(self, call, flow):
        session = self.next_session()
        if session is None:
            log.warn("call {call}: no flow server for flow {flow}: default treatment",
                     call=call.id, flow=flow)
            self.flow_down(call, "no flow server")
            return
        call.phase.fire("to_flow", flow=flow)
        self.start(call, flow, session)

    def start(self, call, flow, session, cause=None):
        """Hand the call to a flow server (RouteRequest), and time it."""
        call.flow, call.flow_session = flow, session
        self.layer.model.connect(call.call, f"routepoint:{flow}", "alerting", cause=cause)
        self.arm_watchdog(call)
        self.hub.send_event(session, "RouteRequest", self._route_request(call))

    @staticmethod
    def _route_request(call):
        c = call.call
        return {"call": c.id, "flow": call.flow, "ani": c.shown_ani, "dnis": c.dnis,
                "direction": c.direction, "trunkGroup": c.trunk_group,
                "device": call.trunk.name, "data": dict(c.data)}

    def flow_down(self, call, why, fault=False):
        """The default treatment: the flow_down queue (or a clear-down, as
        for a voice modem's caller, whose calls stay in the IVR); a caller
        an agent sent through a flow goes back to the agent.  `fault`: the
        call's own trouble (its voice resource hung), not the flow
        server's: a modem's call then ends with `why` alone as its cause;
        else `why` and, where a queue would have taken the caller, why
        none can."""
        if call.state == "talking":              # a flow consultation
            self.consults.flow_over(call, why)
            return
        self.stop(call, why)
        queue = self.layer.config.flow_down_queue
        if call.trunk.ivr_only and (fault or queue):   # a voice modem's caller: no queue
            self.layer.finish(call, "system", why if fault else f"{why}; {call.trunk.ivr_only}")
            return
        if not queue:
            self.layer.finish(call, "system", f"{why}, and no flow_down queue")
            return
        call.call.data.setdefault("treatment", why)
        self.queueing.queue_call(call, queue)

    def stop(self, call, why):
        """The flow's part is over: its server is told (RouteEnd) if it
        still has the call; what it played or collected stops."""
        if call.flow_session is not None:
            self.hub.send_event(call.flow_session, "RouteEnd", {"call": call.id, "reason": why})
            call.flow_session = None
        self.cancel_watchdog(call)
        if call.voice is not None:
            self.ports.stop(call.voice)

    def leave(self, call, why):
        """A flow consultation's flow lets go of the caller."""
        self.stop(call, why)
        self.clear_route_point(call, why)

    def clear_route_point(self, call, why, cause=None):
        """The call leaves its flow's route point (redirected, released)."""
        if call.flow is not None and f"routepoint:{call.flow}" in call.call.connections:
            self.layer.model.clear(call.call, f"routepoint:{call.flow}", why, cause=cause)

    def back(self, call, session):
        """A call placed for a flow's caller did not connect: the caller
        hears the flow's voice resource again, and the flow has the call."""
        call.talk.end()
        call.talk = None
        call.media.fire("retrieve")
        self.layer.voice_hears_caller(call, duplex=True)
        call.phase.fire("failed")
        call.flow_session = session
        self.arm_watchdog(call)

    # -- the watchdog ---------------------------------------------------------------
    def arm_watchdog(self, call):
        """The call waits on its flow server: time it.  It has
        FLOW_RESPONSE_S (plus what its last KeepCall asked for) to send its
        next request for the call; a request stops the watchdog while it is
        served (`watched`)."""
        seconds, call.flow_keep_s = FLOW_RESPONSE_S + call.flow_keep_s, 0.0
        self.cancel_watchdog(call)
        call.flow_timer = self.layer.clock.callLater(seconds, self._silent, call, seconds)

    def cancel_watchdog(self, call):
        if call.flow_timer is not None and call.flow_timer.active():
            call.flow_timer.cancel()
        call.flow_timer = None

    def _silent(self, call, seconds):
        call.flow_timer = None
        if call.state in ("ivr", "talking"):
            log.warn("call {call}: no request from the flow server for {s} s: default "
                     "treatment", call=call.id, s=seconds)
            self.flow_down(call, "flow server silent")

    @staticmethod
    def holds(session, call):
        """Whether the call is in this flow server's hands (in the IVR, or
        sent through a flow by an agent: a flow consultation)."""
        return call.flow_session is session and call.state in ("ivr", "talking")

    def flow_call(self, actor, call_id):
        """The call, if it is in the hands of the actor's flow server."""
        call = self.layer.call(call_id)
        if not self.holds(actor.session, call):
            raise InvalidState(f"call {call_id} is not in this flow server's hands (it is "
                               f"{call.state})")
        return call

    def watched(self, method):
        """A flow server's request for a call: while one is served the
        call's watchdog stops (a prompt playing is the flow at work); when
        the last is answered, it is armed again."""
        def serve(actor, params):
            call = self.layer.calls.get(params["call"])
            if actor.role != "flow" or call is None or not self.holds(actor.session, call):
                return method(actor, params)
            call.flow_requests += 1
            call.flow_keep_s = 0.0
            self.cancel_watchdog(call)

            def answered(result):
                call.flow_requests -= 1
                if call.flow_requests == 0 and self.holds(actor.session, call):
                    self.arm_watchdog(call)
                return result
            return defer.maybeDeferred(method, actor, params).addBoth(answered)
        return serve

    def keep(self, actor, call_id, seconds):
        """KeepCall: the flow works on the call without a request for up
        to `seconds` more at its next wait."""
        self.flow_call(actor, call_id).flow_keep_s = seconds

    def answer(self, actor, call_id):
        """AnswerCall by a flow server: the trunk answered (a Deferred)."""
        call = self.flow_call(actor, call_id)
        if call.trunk.answered:
            return defer.succeed(None)
        d = self.layer.answer(call, actor.cause)
        return d.addCallback(lambda _: self.layer.model.connect(
            call.call, f"routepoint:{call.flow}", "connected", cause=actor.cause))

    def release(self, actor, call_id):
        """ClearConnection by a flow server: the caller released, or a
        flow consultation's caller given back to its agent."""
        call = self.flow_call(actor, call_id)
        call.flow_session = None
        if call.state == "talking":
            self.flow_down(call, "released by the flow")
        else:
            self.layer.finish(call, "system", "released by the flow", actor.cause)

    # -- ICallEnding --------------------------------------------------------------
    def call_ending(self, call, previous, released_by, reason, cause, unwind):
        with unwind.step("the flow timer"):
            self.cancel_watchdog(call)
        with unwind.step("the voice resource"):
            if call.voice is not None:
                self.ports.stop(call.voice)
        with unwind.step("the flow server"):
            if call.flow_session is not None:
                session, call.flow_session = call.flow_session, None
                self.hub.send_event(session, "RouteEnd", {"call": call.id, "reason": reason})
