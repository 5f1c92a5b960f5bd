# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_consult -*-
"""The joining of parties: a consultation answered becomes the caller's.

    TransferCall    (transfer_call)    the caller goes to the consulted
                                       party, the consulting agent leaves
                                       (`transfer`: also a transfer on
                                       answer, and a blind one answered)
    ConferenceCall  (conference_call)  the consulted party joins the
                                       caller's call, the consulting agent
                                       back in it: all talk

Both take the consulted party into the caller's call (`_join`: a phone by
name, an outside party's trunk, which is the call's from then on); a flow
consultation transferred leaves the caller in the flow (`transfer_to_flow`).
The boards refusing the caller's audio with the party it joins do not undo
the transfer: it is tried once more without the agent who left, and the
caller is left on hold if it fails again (`_transferred_audio`).

Everything else about a consultation (starting it, the consulted phone,
ending it without a transfer, ReconnectCall) is cti.server.consult.consult
(`Consultations`), which owns the consultations this part joins.
"""
from __future__ import annotations

from twisted.logger import Logger

from cti.server.errors import InvalidState, ResourceBusy, TalkError

log = Logger()


class Joining:
    def __init__(self, consults):
        self.consults = consults     # cti.server.consult.consult.Consultations
        self.layer = consults.layer  # ICallLayer
        self.acd = consults.acd

    def conference_call(self, actor, call_id, consult_call_id):
        consult = self.answered_consultation(actor, call_id, consult_call_id)
        if consult.flow is not None:
            raise InvalidState("a flow cannot join a conference: "
                               "TransferCall leaves the caller in it", object="call",
                               id=consult.call.id)
        call = consult.caller_call
        consult.phase.fire("conference")
        self.consults.forget(consult)
        consult.talk.end()
        self.layer.model.clear_call(consult.call, "conferenced", cause=actor.cause)
        try:
            call.talk.set(consult.by_station, "talk")
            call.talk.set(self._join(consult), "talk")
        except TalkError as e:
            raise ResourceBusy(f"no conference: {e}") from None
        self.consults.desk.retrieve(call, actor.cause, announce=False)
        self.layer.model.connect(call.call, consult.by_station, "connected", cause=actor.cause)
        if consult.to is not None:
            self.layer.model.connect(call.call, consult.station.name, "connected",
                                     cause=actor.cause, agent=consult.to.id)
            queue = self.consults.queueing.queue_of(call)
            self.acd.take_call(consult.to.id, call.call, queue)
            call.members.append((consult.to, consult.station))
        self.layer.model.event(call.call, consult.by_station, "Conferenced", cause=actor.cause,
                               added=consult.target)
        return {"call": call.id, "parties": sorted(self.consults.desk.parties(call))}


    def answered_consultation(self, actor, call_id, consult_call_id):
        """The consultation named, answered: one to transfer or conference."""
        consult = self.consults.lookup(actor, call_id, consult_call_id)
        if not consult.answered:
            raise InvalidState(f"{consult.target} has not answered yet "
                               "(hang up to transfer on answer)", object="call",
                               id=consult.call.id)
        return consult

    def transfer_call(self, actor, call_id, consult_call_id):
        consult = self.answered_consultation(actor, call_id, consult_call_id)
        self.transfer(consult, actor.cause)
        if consult.flow is not None:
            return {"call": consult.caller_call.id, "flow": consult.flow}
        if consult.number is not None:
            return {"call": consult.caller_call.id, "number": consult.number}
        return {"call": consult.caller_call.id, "agent": consult.to.id}

    def transfer(self, consult, cause=None):
        """The caller goes to the consulted party; the consulting agent leaves."""
        consult.phase.fire("transfer")
        if consult.flow is not None:
            self.transfer_to_flow(consult, cause)
            return
        call = consult.caller_call
        self.consults.forget(consult)
        if consult.talk is not None:
            consult.talk.end()
        if not consult.blind:
            self.layer.model.clear_call(consult.call, "transferred", cause=cause)
        by = consult.by_station
        joined = self._join(consult)
        try:
            call.talk.set(joined, "talk")
            self.consults.desk.retrieve(call, cause, announce=False)
        except TalkError as e:      # with the one who leaves out of it, once more below
            refused = e
        else:
            refused = None
        if by is not None:
            self.consults.desk.leave(call, consult.by, self.layer.channels[by], "transferred",
                                     cause)
        if refused is not None:
            self._transferred_audio(call, joined, refused, cause)
        if call.state != "placing":                    # a flow's caller was nobody's
            self.layer.model.event(call.call, by or consult.party, "Transferred", cause=cause,
                                   transferredTo=consult.target)
        if consult.to is not None:
            self.layer.model.connect(call.call, consult.station.name, "connected", cause=cause,
                                     agent=consult.to.id)
            if call.held:                  # its audio refused: the caller on hold (Held)
                self.layer.model.connect(call.call, consult.station.name, "hold", cause=cause)
            queue = self.consults.queueing.queue_of(call)
            self.acd.take_call(consult.to.id, call.call, queue)
            if call.agent is None:
                call.agent, call.station = consult.to, consult.station
                call.answered_by = (consult.to.id, consult.station.name)
            else:                                    # a conference's member has it
                call.members.append((consult.to, consult.station))

    def _transferred_audio(self, call, joined, refused, cause):
        """The boards refused the caller's audio with the party it is
        transferred to (`refused`; a board failing, or the consulting
        phone's gone meanwhile): tried again once the consulting agent
        left; refused again, the transfer is done all the same, the caller
        on hold until a RetrieveCall (the log says so)."""
        try:
            call.talk.set(joined, "talk")
            if call.held:
                self.consults.desk.retrieve(call, cause, announce=False)
        except TalkError as e:
            log.error("call {call}: transferred to {joined}, but the caller's audio could "
                      "not be made ({first}; {error}): it stays on hold until RetrieveCall",
                      call=call.id, joined=joined, first=refused, error=e)

    def _join(self, consult):
        """The consulted party joins the caller's call: its bus endpoint.
        An outside party's trunk is the call's from now on: its clearing
        ends the call, or (in a conference) takes it out."""
        call = consult.caller_call
        if consult.trunk is None:
            return consult.station.name
        trunk = consult.trunk
        call.outside.append(trunk)
        self.layer.model.connect(call.call, trunk.name, "connected", number=consult.number)
        return self.consults.dialer.connected(
            trunk, lambda reason: self.consults.outside_left(call, trunk, reason))


    def transfer_to_flow(self, consult, cause):
        """The agent leaves; the caller stays in the flow, an IVR call again."""
        call = consult.caller_call
        self.consults.forget(consult)
        self.layer.moh.leave(consult.by_station)
        self.layer.model.clear_call(consult.call, "transferred", cause=cause)
        self.layer.model.event(call.call, consult.by_station, "Transferred", cause=cause,
                               transferredTo=consult.target)
        self.consults.desk.release_caller(call, cause)
        self.layer.voice_hears_caller(call, duplex=True)
        call.phase.fire("transfer", to=consult.target)
        call.phase.fire("to_flow", flow=consult.flow)
