# SPDX-License-Identifier: GPL-2.0-or-later
"""Consultation, attended and blind transfer to an agent, a queue or an
outside number, conferences of three up to the most parties a call may
have, end to end with the audio checked by tones.

Agent 1005 (msiB1C5, support) has a caller; agent 1003 (msiB1C3, sales and
support) is consulted, by name or as the support queue's agent; or the
outside number on the first analog line (dxxxB1C1).  Caller 1000 Hz, first
agent 1500 Hz, second agent 700 Hz, the outside party 400 Hz; the other
agents, in the largest conference, their own tones (MORE_AGENTS_HZ).
"""
import pytest

from cti.protocol.client import RemoteError
from cti.server.consult.consult import MAX_PARTIES
from cti.statemachine import InvalidTransition
from cti.storage.models import CallRecord
from tests.centre import Centre, refused
from tests.rig import hears
from tests.test_callcenter import PASSWORD, agent_ready, names

CALLER_HZ, FIRST_HZ, SECOND_HZ, OUTSIDE_HZ = 1000, 1500, 700, 400
MORE_AGENTS_HZ = {"1001": 550, "1002": 850, "1004": 1250, "1006": 1800}


@pytest.fixture
def centre():
    return Centre()


class Scene:
    """A caller on the T1 talking with agent `first` (1005 at msiB1C5);
    agent `second` (1003) ready at `second_station` (its configured
    station)."""

    def __init__(self, centre, second_station="msiB1C3", first=("1005", "msiB1C5"),
                 second="1003"):
        self.centre = centre
        agent, station = first
        self.first, self.first_events = agent_ready(centre, agent, station)
        self.caller = centre.sim.endpoint("dtiB1T1")
        self.phone1 = centre.sim.endpoint(station)
        self.phone2 = centre.sim.endpoint(second_station)
        self.caller.call(ani="2125551234", dnis="5550199")
        centre.run_until(lambda: self.phone1.state == "ringing", what=f"agent {agent} rings")
        self.phone1.offhook()
        centre.run_until(lambda: "Established" in names(self.first_events),
                         what=f"the caller talks with agent {agent}")
        centre.run_until(lambda: self.caller.state == "connected",
                         what="the caller hears the answer")
        self.call_id = dict(self.first_events)["Established"]["call"]
        self.second, self.second_events = agent_ready(centre, second, second_station)
        self.acd = centre.center.acd

    def ask(self, client, service, **params):
        return self.centre.call(client.call(service, **params))

    def phone(self, agent):
        """The phone at the agent's station."""
        return self.centre.sim.endpoint(self.acd.agents[agent].station)

    def consult(self, agent="1003"):
        """1005 consults the agent, whose phone rings: the consultation's call."""
        result = self.ask(self.first, "ConsultationCall", call=self.call_id, agent=agent)
        phone = self.phone(agent)
        self.centre.run_until(lambda: phone.state == "ringing", what=f"{agent} rings")
        return result["consultCall"]

    def answer(self, agent="1003"):
        """The consulted agent lifts its phone."""
        self.phone(agent).offhook()
        self.centre.run_until(lambda: self.acd.agents[agent].state == "busy",
                              what=f"{agent} answers")

    def consult_number(self, number="5551234", line="dxxxB1C1"):
        """1005 consults an outside number, answered on the analog `line`:
        (the outside party's end, the consultation's call)."""
        outside = self.centre.sim.endpoint(line)
        outside.set_outbound("answer", 1)
        result = self.ask(self.first, "ConsultationCall", call=self.call_id, number=number)
        self.centre.run_until(
            lambda: self.centre.center.consults.by_call[self.call_id].answered,
            within_ms=30_000, what="the outside party answers")
        return outside, result["consultCall"]

    def talk_only(self, a, b, outside=None):
        """Whether a and b hear each other, and each only the other."""
        heard = self.listen(outside=outside)
        return heard[a] == {b} and heard[b] == {a}

    def listen(self, ms=1500, outside=None, more=()):
        """Who hears whom: each end sends its tone at once.  `more`: other
        ends, as (name, endpoint, tone) triples."""
        ends = {"caller": self.caller, "first": self.phone1, "second": self.phone2}
        tones = {"caller": CALLER_HZ, "first": FIRST_HZ, "second": SECOND_HZ}
        if outside is not None:
            ends["outside"], tones["outside"] = outside, OUTSIDE_HZ
        for name, end, hz in more:
            ends[name], tones[name] = end, hz
        for end in ends.values():
            end.capture(True)
        for name, end in ends.items():
            end.send_tone_custom(tones[name], 0, -10, on_ms=ms)
        self.centre.run(ms)
        heard = {}
        for name, end in ends.items():
            audio = end.read_capture()
            audio = audio[len(audio) // 4:]
            heard[name] = {who for who, hz in tones.items() if who != name and hears(audio, hz)}
            end.capture(False)
            end.stop_sending()                         # a custom tone goes on until stopped
        return heard


def test_consult_then_transfer(centre):
    s = Scene(centre)
    consult_call = s.consult()
    assert s.acd.agents["1003"].state == "reserved"
    assert names(s.first_events)[-1] in ("Delivered", "Held", "Originated")
    assert centre.center.moh.listening                 # the caller hears music meanwhile
    s.answer()
    heard = s.listen()
    assert heard["first"] == {"second"} and heard["second"] == {"first"}
    assert heard["caller"] == set()                    # music, not the agents
    result = s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert result == {"call": s.call_id, "agent": "1003"}
    assert s.acd.agents["1005"].state == "workingAfterCall"
    assert s.acd.agents["1003"].state == "busy"
    assert "Transferred" in names(s.first_events)
    heard = s.listen()
    assert heard["caller"] == {"second"} and heard["second"] == {"caller"}
    assert heard["first"] == set()
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.agent, cdr.station, cdr.disposition) == ("1003", "msiB1C3", "answered")
    assert s.acd.agents["1003"].state == "workingAfterCall"   # the queue's wrap-up


def test_a_consultation_moves_through_its_declared_phases(centre):
    """Its life is a declared table with a history: what it started as, its
    answer, and how it ended; a move the table does not allow is refused."""
    s = Scene(centre)
    consult_call = s.consult()
    consult = centre.center.consults.by_call[s.call_id]
    assert (consult.phase.state, consult.answered, consult.over) == ("ringing", False, False)
    s.answer()
    assert consult.answered
    s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert [(t.source, t.event, t.target) for t in consult.phase.history] == [
        ("starting", "ring", "ringing"), ("ringing", "answer", "talking"),
        ("talking", "transfer", "transferred")]
    with pytest.raises(InvalidTransition, match="consultation"):
        consult.phase.fire("end")
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")

    s2 = Scene(Centre())
    s2.consult()
    again = s2.centre.center.consults.by_call[s2.call_id]
    s2.ask(s2.first, "ReconnectCall", call=s2.call_id, consultCall=again.call.id)
    assert again.over and again.phase.history[-1].detail == {"why": "reconnected"}


def test_consult_then_conference_of_three(centre):
    s = Scene(centre)
    consult_call = s.consult()
    s.answer()
    result = s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    assert result["parties"] == sorted(["dtiB1T1", "msiB1C5", "msiB1C3"])
    assert "Conferenced" in names(s.first_events)
    assert s.listen() == {"caller": {"first", "second"}, "first": {"caller", "second"},
                          "second": {"caller", "first"}}
    s.phone1.onhook()                                    # the owner leaves: 1003 keeps it
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves the conference")
    assert centre.center.calls[s.call_id].agent.id == "1003"
    assert s.talk_only("caller", "second")


@pytest.mark.parametrize("third_answers", [False, True])
def test_a_conference_owner_leaving_during_a_consultation_keeps_the_member(centre,
                                                                           third_answers):
    """1005 and 1003 are in conference with the caller; 1005 consults 1001
    and hangs up before 1001 answers.  Rejected, the caller is back with
    1003; answered, 1001 joins 1003 and the caller: nobody is lost."""
    s = Scene(centre)
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    third, third_events = agent_ready(centre, "1001", "msiB1C1")
    s.consult("1001")
    s.phone1.onhook()
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves")
    if third_answers:
        s.answer("1001")
        more = [("third", s.phone("1001"), OUTSIDE_HZ)]
        assert s.listen(more=more) == {"caller": {"second", "third"},
                                       "second": {"caller", "third"},
                                       "third": {"caller", "second"}, "first": set()}
    else:
        s.ask(third, "ClearConnection")                  # 1001 rejects it
        centre.run_until(lambda: not centre.center.consults.by_call,
                         what="the consultation over")
        assert s.talk_only("caller", "second")
    ic = centre.center.calls[s.call_id]
    assert (ic.state, ic.agent.id, ic.held) == ("talking", "1003", False)
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run_until(lambda: all(s.acd.agents[a].state != "busy" for a in ("1003", "1001")),
                     what="everyone free of the call")


def test_reconnect_and_the_consulted_hanging_up_bring_the_caller_back(centre):
    s = Scene(centre)
    consult_call = s.consult()
    s.ask(s.first, "ReconnectCall", call=s.call_id, consultCall=consult_call)
    centre.run_until(lambda: s.phone2.state != "ringing", what="1003 stops ringing")
    assert s.acd.agents["1003"].state == "ready"
    assert names(s.first_events)[-1] == "Retrieved"
    assert s.talk_only("caller", "first")

    s.consult()
    s.answer()
    s.phone2.onhook()                                    # the consulted hangs up
    centre.run_until(lambda: s.acd.agents["1003"].state == "ready",
                     what="1003 is free again")
    assert s.talk_only("caller", "first")


def test_a_caller_the_boards_cannot_bring_back_stays_on_hold_and_retrieve_does(
        centre, monkeypatch, tracebacks):
    """The consulted hangs up while the card refuses every route: the
    consultation is over all the same, the caller stays on hold (said in
    the log; RetrieveCall refused, resource_busy, while the card refuses),
    and once the card works the agent's RetrieveCall brings it back."""
    from ctbus.switching import BusError
    s = Scene(centre)
    s.consult()
    s.answer()
    bus = centre.center.calls[s.call_id].talk.bus

    def no_route(*args, **kwargs):
        raise BusError("the card is gone")
    monkeypatch.setattr(bus, "route", no_route)
    s.phone2.onhook()                                    # the consulted hangs up
    centre.run_until(lambda: s.acd.agents["1003"].state == "ready",
                     what="1003 is free again")
    call = centre.center.calls[s.call_id]
    assert call.held and call.state == "talking"
    assert centre.center.consults.by_call == {}
    error = refused(centre, s.first, "RetrieveCall", call=s.call_id)
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    assert call.held
    monkeypatch.undo()
    s.ask(s.first, "RetrieveCall", call=s.call_id)
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_a_transfer_the_boards_refuse_to_connect_leaves_the_caller_on_hold(
        centre, monkeypatch, tracebacks):
    """The consulting agent hangs up (a transfer) while the card refuses
    every route and conference: the transfer is done all the same (the
    consulting agent free, the consulted one has the call), the caller on
    hold; once the card works the new agent's RetrieveCall connects them."""
    from ctbus.switching import BusError
    s = Scene(centre)
    s.consult()
    s.answer()
    bus = centre.center.calls[s.call_id].talk.bus

    def refused_by_the_card(*args, **kwargs):
        raise BusError("the card is gone")
    monkeypatch.setattr(bus, "route", refused_by_the_card)
    monkeypatch.setattr(bus, "conference", refused_by_the_card)
    s.phone1.onhook()                                    # the consulting agent hangs up
    centre.run_until(lambda: s.acd.agents["1005"].state != "busy",
                     what="1005 leaves the call")
    monkeypatch.undo()
    call = centre.center.calls[s.call_id]
    assert call.agent.id == "1003" and call.held
    s.ask(s.second, "RetrieveCall", call=s.call_id)
    assert s.talk_only("caller", "second")
    assert tracebacks == []


def test_a_consultation_the_boards_refuse_to_begin_leaves_nothing_behind(
        centre, monkeypatch, tracebacks):
    """The card refuses the caller's hold as agent 1005 consults 1003:
    ConsultationCall is refused saying why, 1003 is not reserved and its
    phone does not ring, no consultation call is left, the caller still
    talks with 1005; once the card works the consultation goes through."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    s = Scene(centre)

    def refused_by_the_card(self, path):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "hold", refused_by_the_card)
    error = refused(centre, s.first, "ConsultationCall", call=s.call_id, agent="1003")
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    assert s.acd.agents["1003"].state == "ready"
    centre.run(2_000)
    assert s.phone2.state != "ringing"
    assert centre.center.consults.by_call == {} and list(centre.center.calls) == [s.call_id]
    assert not centre.center.calls[s.call_id].held
    assert s.talk_only("caller", "first")
    monkeypatch.undo()
    s.consult()
    s.answer()
    assert s.talk_only("first", "second")
    assert tracebacks == []


def test_a_flow_consultation_the_boards_refuse_gives_the_caller_back(
        centre, monkeypatch, tracebacks):
    """The card refuses the caller's route to the flow's voice: the
    consultation is refused saying why, no flow starts, and the caller
    talks with the agent again."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    from tests.test_callcenter import flow_server
    s = Scene(centre)
    flow_server(centre)

    def refused_by_the_card(self, source):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "feed", refused_by_the_card)
    error = refused(centre, s.first, "ConsultationCall", call=s.call_id, flow="main_menu")
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    assert centre.center.consults.by_call == {} and list(centre.center.calls) == [s.call_id]
    assert not centre.center.calls[s.call_id].held
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_a_consultation_refused_as_it_begins_leaves_a_held_caller_on_hold(
        centre, monkeypatch, tracebacks):
    """Agent 1005 holds its caller, then consults 1003; the card refuses
    taking 1005's phone out of the call: ConsultationCall is refused
    saying why and the caller is as it was, still on hold, until 1005's
    RetrieveCall."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    s = Scene(centre)
    s.ask(s.first, "HoldCall", call=s.call_id)

    def refused_by_the_card(self, endpoint):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "drop", refused_by_the_card)
    error = refused(centre, s.first, "ConsultationCall", call=s.call_id, agent="1003")
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    monkeypatch.undo()
    assert centre.center.calls[s.call_id].held
    assert s.listen()["caller"] == set()                 # music, nobody else
    assert s.acd.agents["1003"].state == "ready"
    s.ask(s.first, "RetrieveCall", call=s.call_id)
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_a_flow_consultation_whose_hold_the_boards_refuse_is_refused(
        centre, monkeypatch, tracebacks):
    """The card refuses the caller's hold as 1005 sends it to a flow:
    ConsultationCall is refused saying why (resource_busy), no flow
    starts, and the caller still talks with the agent."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    from tests.test_callcenter import flow_server
    s = Scene(centre)
    client, seen = flow_server(centre)

    def refused_by_the_card(self, path):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "hold", refused_by_the_card)
    error = refused(centre, s.first, "ConsultationCall", call=s.call_id, flow="main_menu")
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    monkeypatch.undo()
    centre.run(1000)
    assert not any(name == "RouteRequest" for name, _, _ in seen)
    assert centre.center.consults.by_call == {} and list(centre.center.calls) == [s.call_id]
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_a_flow_consultation_whose_end_the_boards_refuse_still_ends(
        centre, monkeypatch, tracebacks):
    """The card refuses the caller's way back from the flow's voice as
    agent 1005 takes it back: ReconnectCall ends the consultation all the
    same (the flow server told, the agent's music stopped, nothing left
    holding the caller), and 1005 hanging up ends the call and goes to
    wrap-up, as on any call."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)

    def refused_by_the_card(self):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "unfeed", refused_by_the_card)
    assert s.ask(s.first, "ReconnectCall", call=s.call_id,
                 consultCall=consult_call) == {"call": s.call_id}
    monkeypatch.undo()
    centre.run_until(lambda: any(name == "RouteEnd" for name, _, _ in seen),
                     what="the flow server is told")
    assert [b["reason"] for n, _, b in seen if n == "RouteEnd"] == ["reconnected"]
    assert centre.center.consults.by_call == {}
    assert "msiB1C5" not in centre.center.moh.listening
    s.phone1.onhook()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    assert s.acd.agents["1005"].state == "workingAfterCall"
    assert tracebacks == []


def test_a_feed_the_card_will_not_take_down_is_taken_down_by_the_next_retrieve(
        centre, monkeypatch, tracebacks):
    """The card refuses to take down the caller's route to the flow's
    voice as agent 1005 takes the caller back: the consultation ends all
    the same, the caller left on hold, and once the card works the agent's
    RetrieveCall brings the caller back: they hear each other, the caller
    no longer the flow's voice."""
    from ctbus.switching import BusError
    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)
    bus = centre.center.calls[s.call_id].talk.bus

    def refused_by_the_card(*args, **kwargs):
        raise BusError("the card is gone")
    monkeypatch.setattr(bus, "disconnect", refused_by_the_card)
    s.ask(s.first, "ReconnectCall", call=s.call_id, consultCall=consult_call)
    monkeypatch.undo()
    assert centre.center.consults.by_call == {}
    call = centre.center.calls[s.call_id]
    assert call.held                                     # on hold, as the log says
    s.ask(s.first, "RetrieveCall", call=s.call_id)
    assert call.talk.fed is None
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_send_dtmf_whose_end_the_boards_refuse_gives_its_voice_back(
        centre, monkeypatch, tracebacks):
    """The card refuses the caller's way back from the keys 1005 sends:
    SendDTMF says so (resource_busy), and its voice resource is back in
    the pool all the same."""
    from cti.server.errors import TalkError
    from cti.server.lines.talk import Talk
    s = Scene(centre)
    busy = set(centre.server.voice_pool.busy)

    def refused_by_the_card(self):
        raise TalkError("the card is gone")
    monkeypatch.setattr(Talk, "unfeed", refused_by_the_card)
    error = refused(centre, s.first, "SendDTMF", call=s.call_id, digits="12#")
    assert error.code == "resource_busy" and "the card is gone" in error.body["message"]
    monkeypatch.undo()
    centre.run(500)
    assert centre.server.voice_pool.busy == busy
    assert tracebacks == []


def test_send_dtmf_whose_way_back_the_card_refuses_once_leaves_the_call_talking(
        centre, monkeypatch, tracebacks):
    """The card refuses once to take down the caller's route to the voice
    that sent the keys: the voice released takes it down, the caller comes
    back, SendDTMF answers as usual and the caller and agent talk."""
    from ctbus.switching import BusError
    s = Scene(centre)
    bus = centre.center.calls[s.call_id].talk.bus
    real, refusals = bus.disconnect, []

    def refuse_the_first_one_way(connection):
        if getattr(connection, "duplex", True) is False and not refusals:
            refusals.append(connection)
            raise BusError("the card refused once")
        return real(connection)
    monkeypatch.setattr(bus, "disconnect", refuse_the_first_one_way)
    s.ask(s.first, "SendDTMF", call=s.call_id, digits="1")
    centre.run(500)
    assert refusals and centre.center.calls[s.call_id].talk.fed is None
    assert s.talk_only("caller", "first")
    assert tracebacks == []


def test_the_consulting_agent_hanging_up_transfers(centre):
    s = Scene(centre)
    s.consult()
    s.answer()
    s.phone1.onhook()
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves")
    assert s.talk_only("caller", "second")


def test_a_transfer_on_answer_that_is_rejected_sends_the_caller_back_to_its_queue(centre):
    """1005 hangs up while 1003 still rings (to transfer on answer), and
    1003 rejects it: nobody holds the caller any more, so it goes back to
    its queue rather than stay on hold with nobody."""
    s = Scene(centre)
    s.consult()
    s.phone1.onhook()
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves")
    s.ask(s.second, "ClearConnection")                  # 1003 rejects it
    centre.run_until(lambda: centre.center.calls[s.call_id].state in ("queued", "ringing"),
                     what="the caller back in its queue")
    assert centre.center.calls[s.call_id].queue == "support"
    assert not centre.center.consults.by_call


def test_blind_transfer_to_an_agent_completes_on_answer(centre):
    s = Scene(centre)
    result = s.ask(s.first, "SingleStepTransferCall", call=s.call_id, agent="1003")
    assert result == {"call": s.call_id, "transferredTo": "agent:1003"}
    assert s.acd.agents["1005"].state == "workingAfterCall"
    centre.run_until(lambda: s.phone2.state == "ringing", what="1003 rings")
    s.answer()
    assert s.talk_only("caller", "second")


def test_blind_transfer_to_an_agent_who_does_not_answer_goes_back_to_the_queue(centre):
    s = Scene(centre)
    s.ask(s.first, "SingleStepTransferCall", call=s.call_id, agent="1003")
    centre.run_until(lambda: s.phone2.state == "ringing", what="1003 rings")
    centre.run_until(lambda: centre.center.calls[s.call_id].state in ("queued", "ringing"),
                     within_ms=40_000, what="the call back in its queue")
    assert centre.center.calls[s.call_id].queue == "support"
    assert s.acd.agents["1003"].state in ("ready", "reserved")


def test_consultation_errors(centre):
    s = Scene(centre)
    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "ConsultationCall", call=s.call_id, agent="1005")
    assert e.value.code == "invalid_field"
    centre.call(s.second.call("SetAgentState", state="notReady", reason="break"))
    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "ConsultationCall", call=s.call_id, agent="1003")
    assert e.value.code == "invalid_state" and "not ready" in str(e.value)
    assert not centre.center.calls[s.call_id].held      # nothing half-done
    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "TransferCall", call=s.call_id, consultCall="c99")
    assert e.value.code == "no_such_object"


def test_the_caller_hanging_up_during_a_consultation_frees_both(centre):
    s = Scene(centre)
    s.consult()
    s.answer()
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    assert s.acd.agents["1003"].state == "ready"
    assert s.acd.agents["1005"].state == "workingAfterCall"
    assert not centre.center.consults.by_call


def test_a_conference_party_set_to_listen_is_not_heard_and_asks_to_speak(centre):
    s = Scene(centre)
    consult_call = s.consult()
    s.answer()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    result = s.ask(s.first, "SetPartyRole", call=s.call_id, device="dtiB1T1", role="listen")
    assert result == {"call": s.call_id, "device": "dtiB1T1", "role": "listen"}
    heard = s.listen()
    assert heard["caller"] == {"first", "second"}
    assert heard["first"] == {"second"} and heard["second"] == {"first"}
    s.caller.send_digits("5")
    centre.run_until(lambda: "SpeakRequested" in names(s.first_events),
                     what="the caller asks to speak")
    assert dict(s.first_events)["SpeakRequested"]["digit"] == "5"
    s.ask(s.first, "SetPartyRole", call=s.call_id, device="dtiB1T1", role="talk")
    assert s.listen()["first"] == {"caller", "second"}



def test_a_silent_monitor_is_no_party_of_the_agents_conference(centre):
    """The agent's conference lists the parties it may mute; a supervisor
    monitoring the call is not one of them (nor may it be muted)."""
    s = Scene(centre)
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    supervisor = centre.sim.endpoint("msiB1C8")
    supervisor.offhook()
    centre.run_until(lambda: centre.center.channels["msiB1C8"].state == "offhook",
                     what="the supervisor's headset on")
    s.ask(sup, "Supervise", agent="1005", mode="monitor", station="msiB1C8")
    consult_call = s.consult()
    s.answer()
    result = s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    assert "msiB1C8" in centre.center.calls[s.call_id].talk.parties   # it listens...
    assert result["parties"] == sorted(["dtiB1T1", "msiB1C5", "msiB1C3"])  # ...unseen
    with pytest.raises(RemoteError) as refused:
        s.ask(s.first, "SetPartyRole", call=s.call_id, device="msiB1C8", role="listen")
    assert refused.value.body["code"] == "no_such_object"

# -- consulting a queue ------------------------------------------------------------
def test_consult_a_queue_then_transfer(centre):
    """The consultation waits in the support queue (1005 hears its music),
    the ACD offers it to 1003 with the caller's data; transferred, the
    caller talks with 1003, who gets the queue's wrap-up after."""
    s = Scene(centre)
    centre.call(s.first.call("SetCallData", call=s.call_id, data={"account": "42"}))
    result = s.ask(s.first, "ConsultationCall", call=s.call_id, queue="support")
    consult_call = result["consultCall"]
    centre.run_until(lambda: s.phone2.state == "ringing", what="the queue's agent rings")
    centre.run_until(lambda: "Delivered" in names(s.second_events), what="the screen pop")
    delivered = dict(s.second_events)["Delivered"]
    assert (delivered["call"], delivered["queue"], delivered["data"]) == (
        consult_call, "support", {"account": "42"})
    assert "msiB1C5" in centre.center.moh.listening   # the first agent hears the queue's music
    s.answer()
    assert "msiB1C5" not in centre.center.moh.listening
    heard = s.listen()
    assert heard["first"] == {"second"} and heard["second"] == {"first"}
    assert heard["caller"] == set()
    result = s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert result == {"call": s.call_id, "agent": "1003"}
    assert s.acd.agents["1005"].state == "workingAfterCall"
    assert s.talk_only("caller", "second")
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    assert s.acd.agents["1003"].state == "workingAfterCall"
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.agent, cdr.disposition) == ("1003", "answered")
    assert not centre.center.moh.listening


def test_a_queue_consultation_waits_for_an_agent_then_reconnects(centre):
    s = Scene(centre)
    centre.call(s.second.call("SetAgentState", state="notReady", reason="break"))
    result = s.ask(s.first, "ConsultationCall", call=s.call_id, queue="support")
    centre.run(3000)
    waiting = centre.center.acd.describe_queue(centre.center.acd.queues["support"])["waiting"]
    assert [w["call"] for w in waiting] == [result["consultCall"]]
    assert s.phone2.state != "ringing"
    centre.call(s.second.call("SetAgentState", state="ready"))
    centre.run_until(lambda: s.phone2.state == "ringing", what="1003, free, is offered it")
    s.answer()
    s.ask(s.first, "ReconnectCall", call=s.call_id, consultCall=result["consultCall"])
    centre.run_until(lambda: s.acd.agents["1003"].state == "workingAfterCall",
                     what="1003 done with the consultation")
    heard = s.listen()
    assert heard["caller"] == {"first"} and heard["first"] == {"caller"}
    assert heard["second"] == set()


def test_the_consulting_agent_hanging_up_while_the_queue_consultation_waits(centre):
    """Transfer on answer: 1005 leaves at once; the caller hears music
    until the queue's agent answers, then talks with it."""
    s = Scene(centre)
    centre.call(s.second.call("SetAgentState", state="notReady", reason="break"))
    s.ask(s.first, "ConsultationCall", call=s.call_id, queue="support")
    s.phone1.onhook()
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves")
    centre.call(s.second.call("SetAgentState", state="ready"))
    centre.run_until(lambda: s.phone2.state == "ringing", what="1003 is offered it")
    s.answer()
    assert s.talk_only("caller", "second")
    assert centre.center.calls[s.call_id].agent.id == "1003"


def test_consulting_an_unknown_or_full_queue_changes_nothing(centre):
    s = Scene(centre)
    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "ConsultationCall", call=s.call_id, queue="nope")
    assert (e.value.code, e.value.body["id"]) == ("no_such_object", "nope")
    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "ConsultationCall", call=s.call_id, queue="support", agent="1003")
    assert (e.value.code, e.value.body["field"]) == ("invalid_field", "agent")
    assert not centre.center.calls[s.call_id].held
    assert s.listen()["caller"] == {"first"}


# -- consulting an outside number --------------------------------------------------
def test_consult_a_number_then_transfer(centre):
    s = Scene(centre)
    outside = centre.sim.endpoint("dxxxB1C1")
    outside.set_outbound("answer", 1)
    result = s.ask(s.first, "ConsultationCall", call=s.call_id, number="5551234")
    consult_call = result["consultCall"]
    centre.run_until(lambda: "Established" in [n for n, b in s.first_events
                                               if b.get("call") == consult_call],
                     within_ms=30_000, what="the outside party answers")
    assert outside.dialled() == "5551234"
    heard = s.listen(outside=outside)
    assert heard["first"] == {"outside"} and heard["outside"] == {"first"}
    assert heard["caller"] == set()
    result = s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert result == {"call": s.call_id, "number": "5551234"}
    assert s.acd.agents["1005"].state == "workingAfterCall"
    heard = s.listen(outside=outside)
    assert heard["caller"] == {"outside"} and heard["outside"] == {"caller"}
    assert heard["first"] == set()
    outside.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls,
                     what="the outside party's hang-up ends the call")
    centre.run(1000)
    assert centre.center.channels["dxxxB1C1"].state == "idle"
    assert centre.server.voice_pool.busy == set()


def test_a_busy_number_brings_the_caller_back(centre):
    s = Scene(centre)
    centre.sim.endpoint("dxxxB1C1").set_outbound("busy")
    result = s.ask(s.first, "ConsultationCall", call=s.call_id, number="5550000")
    centre.run_until(lambda: any(n == "ConnectionCleared" and b.get("call") == result[
        "consultCall"] for n, b in s.first_events), within_ms=30_000,
        what="the consultation fails")
    centre.run_until(lambda: not centre.center.calls[s.call_id].held, what="retrieved")
    assert s.talk_only("caller", "first")
    assert not centre.center.consults.by_call


def test_a_conference_with_an_outside_party_outlives_the_agent(centre):
    s = Scene(centre)
    outside, consult_call = s.consult_number()
    parties = s.ask(s.first, "ConferenceCall", call=s.call_id,
                    consultCall=consult_call)["parties"]
    assert sorted(parties) == sorted(["dtiB1T1", "msiB1C5", "dxxxB1C1/line"])
    heard = s.listen(outside=outside)
    assert heard["caller"] == {"first", "outside"} and heard["outside"] == {"caller", "first"}
    s.phone1.onhook()                                # the agent leaves the two talking
    centre.run_until(lambda: s.acd.agents["1005"].state == "workingAfterCall",
                     what="1005 leaves")
    assert s.talk_only("caller", "outside", outside=outside)
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(1000)
    assert centre.center.channels["dxxxB1C1"].state == "idle"


def test_a_caller_sent_to_a_queue_from_a_conference_lets_the_outside_party_go(centre):
    """The caller's conference with an outside party ends when the agent
    sends the caller to a queue: the outside trunk is released, not left
    seized in silence."""
    s = Scene(centre)
    outside, consult_call = s.consult_number()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    s.ask(s.first, "SingleStepTransferCall", call=s.call_id, queue="support")
    centre.run_until(lambda: centre.center.channels["dxxxB1C1"].state == "idle",
                     what="the outside line released")
    assert centre.center.calls[s.call_id].outside == []
    assert "dxxxB1C1" not in centre.center.dialer.by_trunk


def test_the_outside_party_leaving_a_conference_leaves_the_agent_and_caller(centre):
    s = Scene(centre)
    outside, consult_call = s.consult_number()
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    outside.hangup()
    centre.run_until(lambda: centre.center.channels["dxxxB1C1"].state == "idle",
                     within_ms=5000, what="the outside line is released")
    assert s.talk_only("caller", "first")
    assert s.acd.agents["1005"].state == "busy"


def test_the_acd_sweep_leaves_a_long_consultation_alone(centre):
    """The sweep (every [acd] sweep_s) reconciles agents whose call is
    gone; a consultation's call is not gone while it lasts."""
    centre.center.acd.start()
    s = Scene(centre)
    consult_call = s.consult()
    centre.run(12_000)                        # rings across two sweeps, unanswered
    assert s.acd.agents["1003"].state == "reserved"
    s.answer()
    centre.run(12_000)
    assert s.acd.agents["1003"].state == "busy" and s.acd.agents["1005"].state == "busy"
    s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert s.talk_only("caller", "second")
    centre.center.acd.stop()


# -- the largest conference --------------------------------------------------------
def test_a_conference_grows_to_eight_parties_and_refuses_a_ninth(centre):
    """1005 consults, then conferences in, 1003, the four other agents and
    an outside number, one after the other: eight parties (MAX_PARTIES,
    caller and 1005 included), each of whom hears the seven others.  A
    ninth consultation is refused as docs/protocol.md says (resource_busy,
    8 parties on the call already) and the eight go on talking."""
    s = Scene(centre)
    for agent in MORE_AGENTS_HZ:
        agent_ready(centre, agent, f"msiB1C{agent[-1]}")
    for agent in ("1003", *MORE_AGENTS_HZ):
        consult_call = s.consult(agent)
        s.answer(agent)
        s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=consult_call)
    outside, consult_call = s.consult_number()
    parties = s.ask(s.first, "ConferenceCall", call=s.call_id,
                    consultCall=consult_call)["parties"]
    assert len(parties) == MAX_PARTIES == 8
    assert sorted(parties) == sorted(["dtiB1T1", "dxxxB1C1/line", *(
        f"msiB1C{n}" for n in (1, 2, 3, 4, 5, 6))])
    more = [(agent, s.phone(agent), hz) for agent, hz in MORE_AGENTS_HZ.items()]
    heard = s.listen(outside=outside, more=more)
    assert len(heard) == 8
    assert all(others == set(heard) - {who} for who, others in heard.items())

    with pytest.raises(RemoteError) as e:
        s.ask(s.first, "ConsultationCall", call=s.call_id, number="5552222")
    assert (e.value.code, e.value.body["id"]) == ("resource_busy", s.call_id)
    assert "8 parties" in str(e.value)
    assert not centre.center.calls[s.call_id].held          # nothing half-done
    assert not centre.center.consults.by_call
    assert {centre.center.channels[f"dxxxB1C{n}"].state for n in (2, 3, 4)} == {"idle"}
    heard = s.listen(outside=outside, more=more)
    assert all(others == set(heard) - {who} for who, others in heard.items())
    s.caller.hangup()                                    # it ends for all eight
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(1000)
    assert {a.state for a in s.acd.agents.values()} == {"workingAfterCall"}
    assert centre.center.channels["dxxxB1C1"].state == "idle"
    assert not centre.center.layer.bus.conferences and centre.server.voice_pool.busy == set()


# -- consulting a flow -------------------------------------------------------------
def flow_consult(s):
    """1005 sends its caller through the main menu's flow, served by a bare
    flow server: (flow client, what it saw, the consultation's call)."""
    from tests.test_callcenter import flow_server, route_request

    client, seen = flow_server(s.centre)
    result = s.ask(s.first, "ConsultationCall", call=s.call_id, flow="main_menu")
    request = route_request(s.centre, seen)
    assert (request["call"], request["flow"]) == (s.call_id, "main_menu")
    return client, seen, result["consultCall"]


def test_consult_a_flow_the_caller_comes_back_when_it_releases_him(centre, tmp_path):
    from tests.test_callcenter import tone_wav

    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)
    assert "msiB1C5" in centre.center.moh.listening        # the agent waits with music
    s.caller.capture(True)
    s.phone1.capture(True)
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    centre.call(client.call("PlayMessage", call=s.call_id,
                            prompts=[tone_wav(tmp_path / "c900-1.wav", 1.0)]))
    assert hears(s.caller.read_capture(), 440)              # the flow speaks to the caller
    assert not hears(s.phone1.read_capture(), 440)          # not to the agent
    collect = client.call("CollectDigits", call=s.call_id, maxDigits=4, terminators="#")
    s.caller.send_digits("4321#")
    assert centre.call(collect)["digits"] == "4321"
    centre.call(client.call("SetCallData", call=s.call_id, data={"paid": "yes"}))
    centre.run_until(lambda: any(n == "AttachedDataChanged" and b["data"].get("paid") == "yes"
                                 for n, b in s.first_events), what="the agent sees the data")
    with pytest.raises(RemoteError) as e:                   # the flow cannot send it away
        centre.call(client.call("RouteSelect", call=s.call_id, queue="sales"))
    assert e.value.code == "invalid_state"
    centre.call(client.call("ClearConnection", call=s.call_id))   # the flow is done
    centre.run_until(lambda: not centre.center.calls[s.call_id].held, what="retrieved")
    assert "msiB1C5" not in centre.center.moh.listening
    assert s.talk_only("caller", "first")
    assert not any(name == "RouteEnd" for name, _, _ in seen)    # it asked: no RouteEnd
    assert s.acd.agents["1005"].state == "busy"


def test_reconnect_takes_the_caller_back_from_the_flow(centre):
    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)
    s.ask(s.first, "ReconnectCall", call=s.call_id, consultCall=consult_call)
    centre.run_until(lambda: any(name == "RouteEnd" for name, _, _ in seen),
                     what="the flow server is told")
    assert [b["reason"] for n, _, b in seen if n == "RouteEnd"] == ["reconnected"]
    assert s.talk_only("caller", "first")


def test_transfer_leaves_the_caller_in_the_flow(centre, tmp_path):
    from tests.test_callcenter import tone_wav

    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)
    result = s.ask(s.first, "TransferCall", call=s.call_id, consultCall=consult_call)
    assert result == {"call": s.call_id, "flow": "main_menu"}
    assert s.acd.agents["1005"].state == "workingAfterCall"
    assert centre.center.calls[s.call_id].state == "ivr"
    s.caller.capture(True)
    centre.center.layer.recordings_dir = tmp_path       # a message, as a flow records one
    centre.call(client.call("PlayMessage", call=s.call_id,
                            prompts=[tone_wav(tmp_path / "c900-1.wav", 1.0)]))
    assert hears(s.caller.read_capture(), 440)
    queued = centre.call(client.call("RouteSelect", call=s.call_id, queue="support"))
    assert queued == {"result": "queued", "queue": "support"}


def test_the_flow_server_leaving_brings_the_caller_back(centre):
    s = Scene(centre)
    client, seen, consult_call = flow_consult(s)
    client.transport.loseConnection()
    centre.run_until(lambda: not centre.center.calls[s.call_id].held, within_ms=3000,
                     what="the caller back with the agent")
    assert s.talk_only("caller", "first")


def test_a_conference_with_two_outside_parties_lets_both_go_at_the_end(centre):
    """Each number conferenced in is an outside party of the call: when the
    call ends both lines are released (and counted out of the calls out),
    and one hanging up first takes only itself out."""
    s = Scene(centre)
    a, first = s.consult_number("5551111", "dxxxB1C1")
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=first)
    b, second = s.consult_number("5552222", "dxxxB1C2")
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=second)
    ic = centre.center.calls[s.call_id]
    assert [t.name for t in ic.outside] == ["dxxxB1C1", "dxxxB1C2"]
    a.hangup()                                           # the first leaves
    centre.run_until(lambda: [t.name for t in ic.outside] == ["dxxxB1C2"],
                     what="the first outside party leaves")
    assert b.state == "connected"                         # not the other one
    s.caller.hangup()
    s.phone1.onhook()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(3000)
    channels = centre.center.channels
    assert (channels["dxxxB1C1"].state, channels["dxxxB1C2"].state) == ("idle", "idle")
    assert centre.center.dialer.by_trunk == {} and centre.center.dialer.guard.active == {}


def test_the_number_a_conference_was_sent_to_hanging_up_leaves_the_others_talking(centre):
    """Caller, agent and outside party A in a conference; the agent sends
    the call to number B (SingleStepTransferCall): caller, A and B talk.
    B hanging up leaves the caller and A, as A hanging up would leave B."""
    s = Scene(centre)
    a, first = s.consult_number("5551111", "dxxxB1C1")
    s.ask(s.first, "ConferenceCall", call=s.call_id, consultCall=first)
    b = centre.sim.endpoint("dxxxB1C2")
    b.set_outbound("answer", 1)
    s.ask(s.first, "SingleStepTransferCall", call=s.call_id, number="5552222")
    ic = centre.center.calls[s.call_id]
    centre.run_until(lambda: len(ic.outside) == 2, within_ms=20_000, what="B answers")
    b.hangup()
    centre.run(1500)
    assert s.call_id in centre.center.calls and [t.name for t in ic.outside] == ["dxxxB1C1"]
    assert a.state == "connected" and centre.center.channels["dxxxB1C2"].state == "idle"


@pytest.mark.parametrize("line", ["dxxxB1C1", "dtiB1T2"])
def test_an_outside_party_consulted_hanging_up_frees_its_line_at_once(line):
    """The number consulted answers, then hangs up: its line is idle again
    straight away, nothing left for the sweep."""
    from tests.test_outbound import two_way_t1

    centre = two_way_t1() if line.startswith("dti") else Centre()
    s = Scene(centre)
    outside, _ = s.consult_number(line=line)
    outside.hangup()
    centre.run(3000)
    assert centre.center.channels[line].state == "idle"
    assert centre.center.sweep.run() == [] and centre.center.sweep.run() == []
