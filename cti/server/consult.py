# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_consult -*-
"""Consultations: an agent calls another agent about the caller, then
transfers, conferences, or goes back to the caller.

    ConsultationCall {call, agent}    the caller is held (music); the other
                                      agent's phone rings (a second, internal
                                      call: `consultCall`)
    TransferCall {call, consultCall}  the caller goes to the other agent,
                                      the first one to wrap-up
    ConferenceCall {...}              caller and both agents talk (a
                                      conference of up to MAX_PARTIES)
    ReconnectCall {...}               the consultation ends, the caller is
                                      back with the first agent

What real phones do is kept: the consulted agent hanging up is a
reconnect; the consulting agent hanging up completes the transfer (on
answer, if the other phone still rings).  A blind transfer to an agent
(SingleStepTransferCall with `agent`) is a consultation whose first agent
left at once: it completes when the other agent answers, and if the
phone rings out the caller goes back to the queue it came from.  A
flow's RouteSelect to an `extension` (an agent's code: its phone,
wherever the agent is logged in) rings the agent the same way, for a
caller no agent has yet (`ring`); rung out, the flow has the caller
again.

The consulted agent is reserved through the ACD as a direct call
(ACD.offer_direct), so it is offered nothing else while its phone rings.
In a conference, every agent but the one who owns the call is a member;
a member hanging up leaves, the owner hanging up hands the call to the
first member, and the caller hanging up ends it for everyone.
"""
from dataclasses import dataclass

from twisted.internet import defer
from twisted.logger import Logger

from cti.protocol.services import Field, ProtocolError, Service
from cti.server.acd import ACDError
from cti.server.channels import OutboundFailed
from cti.server.talk import Talk, TalkError

log = Logger()

#: The most parties of one call (caller included), as the boards allow.
MAX_PARTIES = 8
#: How long a consulted agent's phone rings when no queue says.
RING_S = 15.0
CALLERS = {"agent", "supervisor", "admin"}


@dataclass(eq=False)
class Consultation:
    ic: object                    # the caller's InboundCall
    call: object                  # the internal call (cti.server.calls.Call); blind:
                                  # the caller's own call, delivered to the station
    by: object                    # the consulting agent, None for a blind transfer
    by_station: str | None
    to: object                    # the consulted agent
    station: object               # its Station
    talk: object = None           # the two agents, once answered
    timer: object = None          # the ring timeout
    done: object = None           # blind: a Deferred, fired on answer, failed
                                  # (OutboundFailed) when it will not be

    @property
    def answered(self):
        return self.talk is not None

    @property
    def blind(self):
        return self.done is not None


class Consultations:
    def __init__(self, desk):
        self.desk = desk
        self.center = desk.center
        self.by_call = {}            # caller's call id -> Consultation
        self.by_station = {}         # consulted station -> Consultation
        self._register()

    # -- starting --------------------------------------------------------------
    def _consult(self, request, params):
        ic = self.desk._connected_call(request, params["call"])
        consult = self.start(ic, params["agent"], blind=False, cause=request.cause)
        return {"call": ic.id, "consultCall": consult.call.id}

    def check_extension(self, agent_id):
        """RouteSelect's `extension` must be an agent's code."""
        if agent_id not in self.center.acd.agents:
            raise ProtocolError("invalid_field", f"RouteSelect: no extension {agent_id!r} "
                                "(an extension is an agent's code)", field="extension")

    def ring(self, ic, agent_id, ring_s, cause=None):
        """Ring the agent for a flow's caller (who hears music meanwhile):
        a Deferred fired when the agent has the caller, or failing with
        OutboundFailed: the agent is not free (reason `busy`, `not_ready`,
        `logged_off`), did not answer within `ring_s` (`no_answer`), or
        the caller hung up."""
        agent = self.center.acd.agent(agent_id)
        try:
            consult = self.start(ic, agent_id, blind=True, cause=cause, ring_s=ring_s)
        except ProtocolError as e:
            reason = {"loggedOff": "logged_off", "notReady": "not_ready"}.get(agent.state,
                                                                              "busy")
            log.info("call {call}: extension {agent} is not free: {why}", call=ic.id,
                     agent=agent_id, why=e)
            return defer.fail(OutboundFailed(agent_id, reason))
        return consult.done

    def start(self, ic, agent_id, blind, cause=None, ring_s=None):
        """Ring `agent_id` about the call: a consultation, or (`blind`) a
        transfer that completes on answer (its `done` says how it went)."""
        cc = self.center
        if ic.id in self.by_call:
            raise ProtocolError("invalid_state", f"call {ic.id} has a consultation already "
                                f"({self.by_call[ic.id].call.id})", object="call", id=ic.id)
        target = self.desk._agent(agent_id)
        if target is ic.agent or any(m is target for m, _ in ic.members):
            raise ProtocolError("invalid_field", f"agent {agent_id} is on this call already",
                                field="agent")
        if len(ic.talk.parties) + 1 > MAX_PARTIES:
            raise ProtocolError("resource_busy", f"call {ic.id} has {MAX_PARTIES} parties",
                                object="call", id=ic.id)
        station = cc.channels.by_name.get(target.station) if target.station else None
        if station is None or station.state not in ("onhook", "offhook"):
            raise ProtocolError("invalid_state", f"agent {agent_id} is {target.state} and "
                                "cannot take a call", object="agent", id=agent_id)
        if blind:                                    # the caller's call itself rings
            by, by_station, call = None, None, ic.call
        else:
            by, by_station = ic.agent, ic.station.name
            call = cc.model.new_call(by_station, ani=by.id, dnis=target.id,
                                     direction="internal")
        try:
            cc.acd.offer_direct(target.id, call, cause=cause)
        except ACDError as e:
            if not blind:
                cc.model.clear_call(call, "not offered")
            raise ProtocolError(e.code, str(e), object="agent", id=agent_id) from None
        consult = Consultation(ic, call, by, by_station, target, station,
                               done=defer.Deferred() if blind else None)
        self.by_call[ic.id] = consult
        self.by_station[station.name] = consult
        if not ic.held:
            self.desk.hold(ic, cause)
        if by_station is not None:
            ic.talk.drop(by_station)                 # the agent's phone is for the consultation
            cc.model.connect(call, by_station, "initiated", cause=cause)
            cc.driver.station_tone(by_station, "ringback")
        cc.model.connect(call, station.name, "alerting", cause=cause, agent=target.id)
        if station.state == "onhook":
            station.ring()
        else:                                        # a headset: AnswerCall connects
            cc.driver.station_tone(station.name, "ringback")
        if ring_s is None:
            ring_s = cc.config.queue(ic.queue).ring_timeout_s if ic.queue else RING_S
        consult.timer = cc.clock.callLater(ring_s, self._rang_out, consult)
        return consult

    # -- the consulted phone --------------------------------------------------------
    def station_answered(self, station):
        """True when the station was a consulted one (and it is now answered)."""
        consult = self.by_station.get(station.name)
        if consult is None or consult.answered:
            return consult is not None
        self._answered(consult)
        return True

    def answer(self, request, agent):
        """AnswerCall from a consulted agent on a headset; True if it was one."""
        consult = self.by_station.get(agent.station)
        if consult is None or consult.answered or consult.to is not agent:
            return False
        consult.station.connect()
        self._answered(consult, request.cause)
        return True

    def _answered(self, consult, cause=None):
        cc = self.center
        self._stop_timer(consult)
        cc.driver.station_tone(consult.station.name, None)
        cc.acd.answered_direct(consult.to.id, cause=cause)
        if consult.blind:                            # straight to the caller
            self._transfer(consult, cause)
            consult.done.callback(consult)
            return
        cc.model.connect(consult.call, consult.station.name, "connected", cause=cause,
                         agent=consult.to.id)
        if consult.by is None:                       # its agent hung up: transfer on answer
            self._transfer(consult, cause)
            return
        cc.driver.station_tone(consult.by_station, None)
        consult.talk = Talk(cc.bus, cc.config.conference_pool, consult.by_station, cc.moh)
        consult.talk.set(consult.station.name, "talk")
        cc.model.connect(consult.call, consult.by_station, "connected", cause=cause)

    def station_no_answer(self, station):
        consult = self.by_station.get(station.name)
        if consult is None or consult.answered:
            return False
        self._rang_out(consult)
        return True

    def _rang_out(self, consult):
        consult.timer = None
        log.info("call {call}: agent {agent} did not answer the consultation",
                 call=consult.ic.id, agent=consult.to.id)
        self._end(consult, "not answered", reason="no_answer")
        self._back_to_caller(consult)

    # -- completing ------------------------------------------------------------------
    def _consultation(self, request, params):
        ic = self.desk._connected_call(request, params["call"])
        consult = self.by_call.get(ic.id)
        if consult is None or consult.call.id != params["consultCall"]:
            raise ProtocolError("no_such_object", f"no consultation {params['consultCall']!r} "
                                f"on call {ic.id}", object="call", id=params["consultCall"])
        return consult

    def _transfer_service(self, request, params):
        consult = self._consultation(request, params)
        if not consult.answered:
            raise ProtocolError("invalid_state", f"agent {consult.to.id} has not answered "
                                "yet (hang up to transfer on answer)", object="call",
                                id=consult.call.id)
        self._transfer(consult, request.cause)
        return {"call": consult.ic.id, "agent": consult.to.id}

    def _transfer(self, consult, cause=None):
        """The caller goes to the consulted agent; the consulting one leaves."""
        cc, ic = self.center, consult.ic
        self._forget(consult)
        if consult.talk is not None:
            consult.talk.end()
        if not consult.blind:
            cc.model.clear_call(consult.call, "transferred", cause=cause)
        by = consult.by_station
        station = consult.station
        ic.talk.set(station.name, "talk")
        self.desk.retrieve(ic, cause, announce=False)
        if consult.by is not None:
            self.desk.leave(ic, consult.by, cc.channels[by], "transferred", cause)
        cc.model.connect(ic.call, station.name, "connected", cause=cause, agent=consult.to.id)
        if ic.state != "placing":                    # a flow's caller was nobody's
            cc.model.event(ic.call, by or station.name, "Transferred", cause=cause,
                           transferredTo=station.name)
        cc.acd.take_call(consult.to.id, ic.call, ic.queue)
        ic.agent, ic.station = consult.to, station
        ic.answered_by = (consult.to.id, station.name)

    def _conference_service(self, request, params):
        cc = self.center
        consult = self._consultation(request, params)
        if not consult.answered:
            raise ProtocolError("invalid_state", f"agent {consult.to.id} has not answered "
                                "yet", object="call", id=consult.call.id)
        ic = consult.ic
        self._forget(consult)
        consult.talk.end()
        cc.model.clear_call(consult.call, "conferenced", cause=request.cause)
        try:
            ic.talk.set(consult.by_station, "talk")
            ic.talk.set(consult.station.name, "talk")
        except TalkError as e:
            raise ProtocolError("resource_busy", f"no conference: {e}") from None
        self.desk.retrieve(ic, request.cause, announce=False)
        cc.model.connect(ic.call, consult.by_station, "connected", cause=request.cause)
        cc.model.connect(ic.call, consult.station.name, "connected", cause=request.cause,
                         agent=consult.to.id)
        cc.model.event(ic.call, consult.by_station, "Conferenced", cause=request.cause,
                       added=consult.station.name)
        cc.acd.take_call(consult.to.id, ic.call, ic.queue)
        ic.members.append((consult.to, consult.station))
        return {"call": ic.id, "parties": sorted(ic.talk.parties)}

    def _reconnect_service(self, request, params):
        consult = self._consultation(request, params)
        self._end(consult, "reconnected", request.cause)
        self._back_to_caller(consult, request.cause)
        return {"call": consult.ic.id}

    # -- ending -------------------------------------------------------------------
    def _end(self, consult, why, cause=None, reason=None):
        """The consultation is over without a transfer: the consulted agent
        is free (a blind one's `done` fails with `reason`, else `why`)."""
        cc = self.center
        self._forget(consult)
        self._stop_timer(consult)
        station = consult.station
        if consult.answered:
            consult.talk.end()
            cc.acd.call_ended(consult.to.id, "agent", cause=cause)
            if station.state == "talking":
                station.hang_up()
        else:
            station.stop_ring()
            cc.driver.station_tone(station.name, None)
            cc.acd.withdraw_direct(consult.to.id, why, cause=cause)
        if consult.by_station is not None:
            cc.driver.station_tone(consult.by_station, None)
        if consult.blind:                            # the caller's call leaves the phone
            if station.name in consult.call.connections:
                cc.model.clear(consult.call, station.name, why, cause=cause)
        else:
            cc.model.clear_call(consult.call, why, cause=cause)
        if consult.done is not None and not consult.done.called:
            consult.done.errback(OutboundFailed(station.name, reason or why))

    def _back_to_caller(self, consult, cause=None):
        ic = consult.ic
        if consult.by is None or ic.state != "talking" or ic.talk is None:
            return
        ic.talk.set(consult.by_station, "talk")
        self.desk.retrieve(ic, cause)

    def station_onhook(self, station):
        """A phone in a consultation hung up: True if it was one."""
        return self.hang_up(station)

    def hang_up(self, station, cause=None):
        """A phone in a consultation hangs up (on-hook, or ClearConnection):
        True if it was one."""
        consult = self.by_station.get(station.name)
        if consult is not None and consult.answered:       # the consulted: reconnect
            self._end(consult, "consulted agent hung up", cause)
            self._back_to_caller(consult, cause)
            return True
        for consult in list(self.by_call.values()):
            if consult.by_station == station.name:           # the consulting: transfer
                if consult.answered:
                    self._transfer(consult, cause)
                else:                                        # on answer
                    self.desk.leave(consult.ic, consult.by, station, "transferred", cause)
                    consult.by = consult.by_station = None
                    cc = self.center
                    cc.model.clear(consult.call, station.name, "transferred on answer")
                return True
        return False

    def call_ended(self, ic):
        """The caller's call ended: a consultation on it ends too."""
        consult = self.by_call.get(ic.id)
        if consult is not None:
            self._end(consult, "the caller hung up")

    def _forget(self, consult):
        self.by_call.pop(consult.ic.id, None)
        self.by_station.pop(consult.station.name, None)

    @staticmethod
    def _stop_timer(consult):
        if consult.timer is not None and consult.timer.active():
            consult.timer.cancel()
        consult.timer = None

    # -- the catalogue ------------------------------------------------------------
    def _register(self):
        add = self.center.hub.catalogue.add
        both = {"call": Field(str, doc="the caller's call"),
                "consultCall": Field(str, doc="the consultation's call")}
        add(Service("ConsultationCall", CALLERS, fields={
            "call": Field(str), "agent": Field(str)}), self._consult)
        add(Service("TransferCall", CALLERS, fields=both), self._transfer_service)
        add(Service("ConferenceCall", CALLERS, fields=both), self._conference_service)
        add(Service("ReconnectCall", CALLERS, fields=both), self._reconnect_service)
