# SPDX-License-Identifier: GPL-2.0-or-later
"""Agents' and supervisors' call control end to end, with the audio checked.

A caller (T1 timeslot) talks with agent 1005 (station msiB1C5); the
supervisor "sup" listens at station msiB1C8.  Each side sends its own
tone -- caller 1000 Hz, agent 1500 Hz, supervisor 700 Hz -- and each phone
records what it hears, so every claim ("the monitor hears both sides and
neither hears the monitor") is a spectrum check, not a state check.
"""
import pytest

from ctbus.switching import BusError
from cti.protocol.client import RemoteError
from cti.storage.models import AuditEntry, CallRecord, QueueLogEntry
from drivers.errors import ConferenceError
from tests.centre import Centre
from tests.rig import hears
from tests.test_callcenter import PASSWORD, agent_ready, names

CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ = 1000, 1500, 700
SUP_STATION = "msiB1C8"


@pytest.fixture
def centre():
    return Centre()


class Scene:
    """A call connected to agent 1005, a supervisor logged in."""

    def __init__(self, centre, trunk="dtiB1T1"):
        self.centre = centre
        self.agent, self.agent_events = agent_ready(centre, "1005", "msiB1C5")
        self.caller = centre.sim.endpoint(trunk)
        self.phone = centre.sim.endpoint("msiB1C5")
        self.sup_phone = centre.sim.endpoint(SUP_STATION)
        self.caller.call(ani="2125551234", dnis="5550199")
        centre.run_until(lambda: self.phone.state == "ringing", what="the agent's phone rings")
        self.phone.offhook()
        centre.run_until(lambda: "Established" in names(self.agent_events),
                         what="the agent is connected")
        centre.run_until(lambda: self.caller.state == "connected",
                         what="the caller hears the answer")
        self.call_id = dict(self.agent_events)["Established"]["call"]
        self.sup = centre.client()
        centre.call(self.sup.login("sup", PASSWORD, "supervisor"))
        self.sup_events = centre.events(self.sup)

    def lift(self):
        """The supervisor puts the headset on."""
        self.sup_phone.offhook()
        station = self.centre.center.channels[SUP_STATION]
        self.centre.run_until(lambda: station.state == "offhook", what="the station off-hook")

    def ask(self, client, service, **params):
        return self.centre.call(client.call(service, **params))

    def refused(self, client, service, **params):
        with pytest.raises(RemoteError) as e:
            self.centre.call(client.call(service, **params))
        return e.value

    def listen(self, ms=1500):
        """Everyone sends a tone for `ms`; what each one heard."""
        ends = [self.caller, self.phone, self.sup_phone]
        for end in ends:
            end.capture(True)
        self.caller.send_tone_custom(CALLER_HZ, 0, -10, on_ms=ms)
        self.phone.send_tone_custom(AGENT_HZ, 0, -10, on_ms=ms)
        self.sup_phone.send_tone_custom(SUPERVISOR_HZ, 0, -10, on_ms=ms)
        self.centre.run(ms)
        heard = {}
        for name, end in zip(("caller", "agent", "supervisor"), ends, strict=True):
            audio = end.read_capture()
            audio = audio[len(audio) // 4:]            # past any switching moment
            heard[name] = {hz for hz in (CALLER_HZ, AGENT_HZ, SUPERVISOR_HZ)
                           if hears(audio, hz)}
            end.capture(False)
            end.stop_sending()                         # a custom tone goes on until stopped
        return heard


def test_silent_monitor_hears_both_sides_and_nobody_hears_it(centre):
    s = Scene(centre)
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}
    s.lift()
    agent_seen = len(s.agent_events)
    result = s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    assert result == {"agent": "1005", "call": s.call_id, "mode": "monitor",
                      "station": SUP_STATION}
    assert names(s.sup_events)[-1] == "SupervisionStarted"
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    assert len(s.agent_events) == agent_seen          # undetectable: no event reached it
    [audit] = centre.records.of(AuditEntry)
    assert (audit.user, audit.action, audit.agent, audit.call_id, audit.detail["mode"]) == (
        "sup", "Supervise", "1005", s.call_id, "monitor")


def test_whisper_is_heard_by_the_agent_only(centre):
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="whisper", station=SUP_STATION)
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ, SUPERVISOR_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}


def test_barge_in_is_heard_by_both_and_modes_change_in_place(centre):
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    s.ask(s.sup, "Supervise", agent="1005", mode="barge")
    assert names(s.sup_events)[-1] == "SupervisionChanged"
    assert s.listen() == {"caller": {AGENT_HZ, SUPERVISOR_HZ},
                          "agent": {CALLER_HZ, SUPERVISOR_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    s.ask(s.sup, "EndSupervision", agent="1005")
    assert names(s.sup_events)[-1] == "SupervisionEnded"
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}
    assert [a.action for a in centre.records.of(AuditEntry)] == [
        "Supervise", "Supervise", "EndSupervision"]


def test_intercept_leaves_caller_and_supervisor_talking(centre):
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    result = s.ask(s.sup, "Intercept", agent="1005")
    assert result == {"call": s.call_id, "station": SUP_STATION}
    assert centre.center.acd.agents["1005"].state == "workingAfterCall"
    heard = s.listen()
    assert heard["caller"] == {SUPERVISOR_HZ} and heard["supervisor"] == {CALLER_HZ}
    assert heard["agent"] == set()
    s.sup_phone.onhook()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.agent, cdr.released_by) == ("1005", "supervisor")


def test_the_supervisor_holds_and_transfers_the_call_it_intercepted(centre):
    """After Intercept the call is the supervisor's: hold and retrieve it,
    then send the caller on (a blind transfer)."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    s.ask(s.sup, "Intercept", agent="1005")
    s.ask(s.sup, "HoldCall", call=s.call_id)
    heard = s.listen()
    assert SUPERVISOR_HZ not in heard["caller"] and CALLER_HZ not in heard["supervisor"]
    s.ask(s.sup, "RetrieveCall", call=s.call_id)
    heard = s.listen()
    assert heard["caller"] == {SUPERVISOR_HZ} and heard["supervisor"] == {CALLER_HZ}
    other, _ = agent_ready(centre, "1001", "msiB1C1")                 # sales
    s.ask(s.sup, "SingleStepTransferCall", call=s.call_id, queue="sales")
    assert centre.center.channels[SUP_STATION].state != "talking"   # the supervisor is free
    other_phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: other_phone.state == "ringing", what="the sales agent rings")
    other_phone.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1001"].state == "busy",
                     what="the sales agent takes it")
    s.phone = other_phone
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    assert heard["supervisor"] == set()
    assert [a.action for a in centre.records.of(AuditEntry)] == [
        "Supervise", "Intercept", "HoldCall", "RetrieveCall", "SingleStepTransferCall"]


def supervisor_consulting(centre):
    """The supervisor took the call over (Intercept) and consults agent
    1003 about it, who answered: (the Scene, with 1003's phone as `phone`;
    the consultation's call id; 1003's events)."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    s.ask(s.sup, "Intercept", agent="1005")
    other, other_events = agent_ready(centre, "1003", "msiB1C3")
    consult = s.ask(s.sup, "ConsultationCall", call=s.call_id, agent="1003")["consultCall"]
    s.phone = centre.sim.endpoint("msiB1C3")             # the agent of listen() now
    centre.run_until(lambda: s.phone.state == "ringing", what="1003 rings")
    s.phone.offhook()
    centre.run_until(lambda: "Established" in names(other_events), what="1003 answers")
    return s, consult, other_events


def test_the_supervisor_consults_on_its_call_conferences_and_leaves(centre):
    """On the call it took over the supervisor consults an agent (the
    caller hears music), brings the agent in, and leaves the two talking:
    the call is the agent's from then on."""
    s, consult, other_events = supervisor_consulting(centre)
    delivered = dict(other_events)["Delivered"]
    assert (delivered["call"], delivered["callingDevice"]) == (consult, "sup")
    heard = s.listen()
    assert heard["supervisor"] == {AGENT_HZ} and heard["agent"] == {SUPERVISOR_HZ}
    assert SUPERVISOR_HZ not in heard["caller"]            # held, with music
    s.ask(s.sup, "ConferenceCall", call=s.call_id, consultCall=consult)
    assert s.listen() == {"caller": {AGENT_HZ, SUPERVISOR_HZ},
                          "agent": {CALLER_HZ, SUPERVISOR_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    e = s.refused(s.agent, "ClearConnection", call=s.call_id)   # 1005 left it long ago
    assert e.code == "invalid_state"
    s.ask(s.sup, "ClearConnection", call=s.call_id)      # the supervisor leaves
    assert centre.center.channels[SUP_STATION].state != "talking"
    assert centre.center.calls[s.call_id].agent.id == "1003"
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    assert heard["supervisor"] == set()
    e = s.refused(s.sup, "ClearConnection", call=s.call_id)     # not the supervisor's now
    assert e.code == "invalid_state" and "not one you took over" in str(e)
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.agent, cdr.released_by) == ("1005", "caller")     # who answered it
    assert [a.action for a in centre.records.of(AuditEntry)] == [
        "Supervise", "Intercept", "ConsultationCall", "ConferenceCall", "ClearConnection"]


def test_the_supervisor_consults_on_its_call_then_transfers_it(centre):
    s, consult, _ = supervisor_consulting(centre)
    assert s.ask(s.sup, "TransferCall", call=s.call_id, consultCall=consult) == {
        "call": s.call_id, "agent": "1003"}
    assert centre.center.channels[SUP_STATION].state != "talking"
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    assert centre.center.calls[s.call_id].intercepted_by is None


def test_the_supervisor_sends_the_intercepted_caller_to_an_agent(centre):
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="barge", station=SUP_STATION)
    s.ask(s.sup, "Intercept", agent="1005")
    other, other_events = agent_ready(centre, "1003", "msiB1C3")
    s.ask(s.sup, "SingleStepTransferCall", call=s.call_id, agent="1003")
    other_phone = centre.sim.endpoint("msiB1C3")
    centre.run_until(lambda: other_phone.state == "ringing", what="1003 rings")
    other_phone.offhook()
    centre.run_until(lambda: "Established" in names(other_events), what="1003 answers")
    s.phone = other_phone
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    assert centre.center.acd.agents["1003"].state in ("ready", "workingAfterCall")


def test_supervisor_hanging_up_ends_the_supervision(centre):
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="barge", station=SUP_STATION)
    s.sup_phone.onhook()
    centre.run_until(lambda: names(s.sup_events)[-1] == "SupervisionEnded",
                     what="the supervision ends")
    assert s.listen()["caller"] == {AGENT_HZ}
    assert centre.center.calls[s.call_id].state == "talking"


def test_supervise_errors_say_what_is_wrong(centre):
    s = Scene(centre)
    e = s.refused(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    assert e.code == "invalid_state" and "lift the handset" in str(e)
    e = s.refused(s.sup, "Supervise", agent="1001", mode="monitor", station=SUP_STATION)
    assert e.code == "invalid_state" and "not on a call" in str(e)
    e = s.refused(s.sup, "Supervise", agent="1005", mode="monitor", station="msiB1C5")
    assert e.code == "resource_busy" and "1005" in str(e)
    e = s.refused(s.sup, "Supervise", agent="1005", mode="spy", station=SUP_STATION)
    assert e.code == "invalid_field"
    e = s.refused(s.agent, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    assert e.code == "forbidden"
    e = s.refused(s.sup, "Intercept", agent="1005")
    assert e.code == "invalid_state" and "Supervise" in str(e)
    # Each refused attempt of the supervisor is audited, with the refusal
    # (field checks fail before the service, and an agent is not audited).
    audited = [(a.user, a.action, a.agent, a.detail["refused"])
               for a in centre.records.of(AuditEntry)]
    assert audited == [("sup", "Supervise", "1005", "invalid_state"),
                       ("sup", "Supervise", "1001", "invalid_state"),
                       ("sup", "Supervise", "1005", "resource_busy"),
                       ("sup", "Intercept", "1005", "invalid_state")]
    assert "lift the handset" in centre.records.of(AuditEntry)[0].detail["message"]


def supervisor_at_headset(centre):
    """The supervisor logged in, its headset on: (client, events, phone)."""
    sup = centre.client()
    centre.call(sup.login("sup", PASSWORD, "supervisor"))
    sup_events = centre.events(sup)
    sup_phone = centre.sim.endpoint(SUP_STATION)
    sup_phone.offhook()
    centre.run_until(lambda: centre.center.channels[SUP_STATION].state == "offhook",
                     what="the supervisor's station off-hook")
    return sup, sup_events, sup_phone


def _boards_refuse(centre, monkeypatch, *functions):
    """From now on the boards refuse these conference functions (a card
    that lacks a role, or is being pulled out)."""
    driver = centre.driver

    def refuse(*args, **kwargs):
        raise ConferenceError("the card refuses it")
    for name in functions:
        monkeypatch.setattr(driver, name, refuse)


def test_a_mode_the_boards_refuse_keeps_the_supervision_as_it_was(centre, monkeypatch):
    """Whisper refused half-way (the agent already a pupil, the coach
    refused), and changing the conference back refused as well: the
    conference is built again from nothing, the monitor goes on, and
    nothing the caller and agent said is lost."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    _boards_refuse(centre, monkeypatch, "conference_set_role")
    error = s.refused(s.sup, "Supervise", agent="1005", mode="whisper")
    assert error.code == "resource_busy" and "the card refuses it" in error.body["message"]
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    monkeypatch.undo()
    s.ask(s.sup, "EndSupervision", agent="1005")
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}


def test_a_card_failing_during_a_mode_change_keeps_the_call_whole(centre, monkeypatch):
    """The card fails while a supervisor switches to whisper: the agent
    became a pupil, then every conference change fails, the coach's and
    the one putting the monitor back.  The refusal names both, the
    supervisor still hears the call and nobody hears the supervisor; once
    the boards work again the supervisor ends the supervision and the
    caller and agent talk."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    set_role, changes = centre.driver.conference_set_role, []

    def first_change_only(*args):
        changes.append(args)
        if len(changes) > 1:
            raise ConferenceError("the card is gone")
        return set_role(*args)
    monkeypatch.setattr(centre.driver, "conference_set_role", first_change_only)
    _boards_refuse(centre, monkeypatch, "conference_create", "conference_add")
    error = s.refused(s.sup, "Supervise", agent="1005", mode="whisper")
    assert error.code == "resource_busy"
    assert "msiB1C8 as coach: driver: the card is gone" in error.body["message"]
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    monkeypatch.undo()
    s.ask(s.sup, "EndSupervision", agent="1005")
    assert names(s.sup_events)[-1] == "SupervisionEnded"
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}


def test_a_call_the_boards_cannot_put_back_is_said_and_hold_rebuilds_it(centre, monkeypatch):
    """The card fails as a monitor starts: no conference for three, and
    not even the caller's route to the agent can be made again.  The
    refusal says the call's audio could not be put back (the log has it);
    the call stays up, and once the boards work the agent's hold and
    retrieve build it again."""
    s = Scene(centre)
    s.lift()
    _boards_refuse(centre, monkeypatch, "conference_create")
    bus = centre.center.calls[s.call_id].talk.bus

    def no_route(*args, **kwargs):
        raise BusError("the card is gone")
    monkeypatch.setattr(bus, "route", no_route)
    error = s.refused(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    assert error.code == "resource_busy"
    assert "could not be put back: the card is gone" in error.body["message"]
    monkeypatch.undo()
    assert centre.center.calls[s.call_id].state == "talking"
    s.ask(s.agent, "HoldCall", call=s.call_id)
    s.ask(s.agent, "RetrieveCall", call=s.call_id)
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}


def test_an_intercept_the_boards_refuse_leaves_the_supervision(centre, monkeypatch):
    """Intercepting a whispered call needs the conference changed; refused,
    the supervisor still whispers and the agent still has the call."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="whisper", station=SUP_STATION)
    _boards_refuse(centre, monkeypatch, "conference_set_role")
    error = s.refused(s.sup, "Intercept", agent="1005")
    assert error.code == "resource_busy" and "cannot intercept" in error.body["message"]
    assert centre.center.acd.agents["1005"].state == "busy"
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ, SUPERVISOR_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    monkeypatch.undo()
    assert s.ask(s.sup, "Intercept", agent="1005")["station"] == SUP_STATION


def test_a_refused_intercept_of_a_monitor_keeps_the_supervisor_silent(centre, monkeypatch):
    """Intercepting a silent monitor makes the supervisor a talker before
    the agent leaves; the route for caller and supervisor refused, the
    monitor goes on as it was: nobody hears the supervisor."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    bus = centre.center.calls[s.call_id].talk.bus

    def no_route(*args, **kwargs):
        raise BusError("the card is gone")
    monkeypatch.setattr(bus, "route", no_route)
    error = s.refused(s.sup, "Intercept", agent="1005")
    assert error.code == "resource_busy" and "cannot intercept" in error.body["message"]
    monkeypatch.undo()
    assert centre.center.acd.agents["1005"].state == "busy"
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    s.ask(s.sup, "EndSupervision", agent="1005")
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ}, "supervisor": set()}


def test_a_supervisor_leaves_even_when_the_agent_cannot_be_made_a_talker(centre, monkeypatch):
    """Whisper ends while the card refuses every change: the supervisor's
    phone is out of the call all the same (nobody hears it, it hears
    nobody), and the call's audio is built again with the next change."""
    s = Scene(centre)
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="whisper", station=SUP_STATION)
    _boards_refuse(centre, monkeypatch, "conference_set_role", "conference_create",
                   "conference_add")
    s.ask(s.sup, "EndSupervision", agent="1005")
    talk = centre.center.calls[s.call_id].talk
    assert SUP_STATION not in talk.parties
    monkeypatch.undo()
    assert s.listen()["supervisor"] == set()
    assert SUPERVISOR_HZ not in s.listen()["caller"]


def test_monitor_next_call_starts_when_the_agent_answers(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    sup, sup_events, sup_phone = supervisor_at_headset(centre)
    centre.call(sup.call("MonitorNextCall", agent="1005", mode="monitor",
                         station=SUP_STATION))
    caller, phone = centre.sim.endpoint("dtiB1T2"), centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550009", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: "SupervisionStarted" in names(sup_events),
                     what="supervision starts with the call")
    for end in (caller, phone, sup_phone):
        end.capture(True)
    caller.send_tone_custom(CALLER_HZ, 0, -10, on_ms=1000)
    phone.send_tone_custom(AGENT_HZ, 0, -10, on_ms=1000)
    centre.run(1000)
    heard = sup_phone.read_capture()[2000:]
    assert hears(heard, CALLER_HZ) and hears(heard, AGENT_HZ)


def test_hold_gives_the_caller_music_and_retrieve_brings_the_agent_back(centre):
    s = Scene(centre)
    result = s.ask(s.agent, "HoldCall", call=s.call_id)
    assert result == {"call": s.call_id}
    assert names(s.agent_events)[-1] == "Held"
    assert centre.center.moh.listening                  # the caller hears the music
    heard = s.listen()
    assert AGENT_HZ not in heard["caller"] and CALLER_HZ not in heard["agent"]
    e = s.refused(s.agent, "HoldCall", call=s.call_id)
    assert e.code == "invalid_state" and "on hold already" in str(e)
    s.ask(s.agent, "RetrieveCall", call=s.call_id)
    assert names(s.agent_events)[-1] == "Retrieved"
    assert not centre.center.moh.listening
    assert centre.server.voice_pool.busy == {centre.center.calls[s.call_id].voice}
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}


def test_blind_transfer_to_a_queue_rings_the_next_agent(centre):
    s = Scene(centre)
    other, other_events = agent_ready(centre, "1001", "msiB1C1")     # sales
    result = s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, queue="sales")
    assert result == {"call": s.call_id, "transferredTo": "queue:sales"}
    assert "Transferred" in names(s.agent_events)
    assert centre.center.acd.agents["1005"].state == "workingAfterCall"
    other_phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: other_phone.state == "ringing", what="sales agent rings")
    other_phone.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1001"].state == "busy",
                     what="the sales agent takes it")
    s.caller.capture(True)
    other_phone.capture(True)
    s.caller.send_tone_custom(CALLER_HZ, 0, -10, on_ms=1000)
    centre.run(1000)
    assert hears(other_phone.read_capture()[2000:], CALLER_HZ)
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.queue, cdr.agent) == ("sales", "1001")
    log = [(e.queue, e.event) for e in centre.records.of(QueueLogEntry, call_id=s.call_id)]
    assert log == [("support", "ENTERQUEUE"), ("support", "CONNECT"),
                   ("support", "COMPLETEAGENT"), ("sales", "ENTERQUEUE"),
                   ("sales", "CONNECT"), ("sales", "COMPLETECALLER")]


def test_an_agent_may_not_touch_another_agents_call(centre):
    s = Scene(centre)
    other, _ = agent_ready(centre, "1001", "msiB1C1")
    e = s.refused(other, "HoldCall", call=s.call_id)
    assert e.code == "invalid_state" and "not agent 1001's call" in str(e)
    e = s.refused(s.agent, "SingleStepTransferCall", call=s.call_id, queue="nowhere")
    assert e.code == "no_such_object" and e.body["object"] == "queue"
    e = s.refused(s.agent, "SingleStepTransferCall", call=s.call_id)
    assert e.code == "missing_field"


def test_supervisor_clears_a_call_and_forces_a_team_not_ready(centre):
    s = Scene(centre)
    s.ask(s.sup, "ClearCall", call=s.call_id)
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord)
    assert cdr.released_by == "supervisor" and "sup" in cdr.cause
    result = s.ask(s.sup, "ForceAgentState", agent="1005", state="notReady",
                   reason="meeting")
    assert result["agents"][0]["agent"] == "1005"
    assert centre.center.acd.agents["1005"].state == "notReady"
    assert centre.center.acd.agents["1005"].reason == "meeting"
    e = s.refused(s.sup, "ForceAgentState", team="nobody", state="ready")
    assert e.code == "no_such_object"
    assert [(a.action, a.detail.get("refused")) for a in centre.records.of(AuditEntry)] == [
        ("ClearCall", None), ("ForceAgentState", None),
        ("ForceAgentState", "no_such_object")]                    # team "nobody"


def wav_samples(path):
    import array
    import wave

    with wave.open(str(path), "rb") as w:
        assert (w.getframerate(), w.getsampwidth(), w.getnchannels()) == (8000, 2, 1)
        return array.array("h", w.readframes(w.getnframes())).tolist()


def test_a_supervisor_records_the_whole_call(centre, tmp_path):
    s = Scene(centre)
    centre.center.layer.recordings_dir = tmp_path
    result = s.ask(s.sup, "StartRecording", call=s.call_id)
    assert result["file"].startswith(str(tmp_path))
    e = s.refused(s.sup, "StartRecording", call=s.call_id)
    assert e.code == "invalid_state" and "recorded already" in str(e)
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}   # unchanged
    stopped = s.ask(s.sup, "StopRecording", call=s.call_id)
    assert stopped["file"] == result["file"]
    centre.run(500)
    samples = wav_samples(result["file"])
    assert hears(samples, CALLER_HZ) and hears(samples, AGENT_HZ)
    assert centre.server.voice_pool.busy == {centre.center.calls[s.call_id].voice}
    assert [(a.action, a.detail.get("refused")) for a in centre.records.of(AuditEntry)] == [
        ("StartRecording", None), ("StartRecording", "invalid_state"),    # recorded already
        ("StopRecording", None)]


def test_a_recording_ends_with_the_call(centre, tmp_path):
    s = Scene(centre)
    centre.center.layer.recordings_dir = tmp_path
    result = s.ask(s.agent, "StartRecording", call=s.call_id)
    s.listen()
    s.caller.hangup()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(500)
    assert hears(wav_samples(result["file"]), CALLER_HZ)
    assert centre.server.voice_pool.busy == set()
    assert centre.records.of(AuditEntry) == []           # an agent's own: not audited


def test_send_dtmf_reaches_the_far_end(centre):
    s = Scene(centre)
    result = s.ask(s.agent, "SendDTMF", call=s.call_id, digits="12#")
    assert result == {"call": s.call_id, "digits": "12#"}
    centre.run(500)
    assert s.caller.heard_digits().endswith("12#")
    assert centre.server.voice_pool.busy == {centre.center.calls[s.call_id].voice}
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    e = s.refused(s.agent, "SendDTMF", call=s.call_id, digits="12x")
    assert e.code == "invalid_field" and e.body["field"] == "digits"


def test_a_supervisor_snapshots_every_agent_and_queue(centre):
    sup = centre.client()
    centre.call(sup.login("sup", "1234", "supervisor"))
    agents = centre.call(sup.call("Snapshot", object="agent", id="*"))["snapshot"]
    assert [a["agent"] for a in agents] == ["1001", "1002", "1003", "1004", "1005", "1006"]
    queues = centre.call(sup.call("Snapshot", object="queue", id="*"))["snapshot"]
    assert [q["queue"] for q in queues] == ["sales", "support", "spanish"]
    agent, _ = agent_ready(centre, "1005", "msiB1C5")
    with pytest.raises(RemoteError) as e:
        centre.call(agent.call("Snapshot", object="agent", id="*"))
    assert e.value.code == "forbidden"


def test_a_supervisors_call_control_on_an_agents_call_is_audited(centre):
    """The agent's own hold is its business; the supervisor's goes into
    the audit log, with the agent whose call it was."""
    s = Scene(centre)
    s.ask(s.agent, "HoldCall", call=s.call_id)
    s.ask(s.agent, "RetrieveCall", call=s.call_id)
    assert centre.records.of(AuditEntry) == []
    s.ask(s.sup, "HoldCall", call=s.call_id)
    s.ask(s.sup, "RetrieveCall", call=s.call_id)
    s.ask(s.sup, "SendDTMF", call=s.call_id, digits="12")
    assert [(a.user, a.action, a.agent, a.call_id) for a in
            centre.records.of(AuditEntry)] == [
        ("sup", "HoldCall", "1005", s.call_id), ("sup", "RetrieveCall", "1005", s.call_id),
        ("sup", "SendDTMF", "1005", s.call_id)]
    assert centre.records.of(AuditEntry)[-1].detail == {"digits": "12"}
    with pytest.raises(RemoteError):                   # refused: written as refused
        s.ask(s.sup, "RetrieveCall", call=s.call_id)
    refused = centre.records.of(AuditEntry)[-1]
    assert (refused.action, refused.agent, refused.detail["refused"]) == (
        "RetrieveCall", "1005", "invalid_state")


def test_a_supervisors_transfer_to_an_agent_is_audited_under_whose_call_it_was(centre):
    """The agent a call is sent to is `toAgent`; `agent` stays whose call it
    was, whether the transfer is done or refused."""
    s = Scene(centre)
    s.refused(s.sup, "SingleStepTransferCall", call=s.call_id, agent="1003")  # logged off
    agent_ready(centre, "1003", "msiB1C3")
    s.ask(s.sup, "SingleStepTransferCall", call=s.call_id, agent="1003")
    rows = [(a.action, a.agent, a.call_id, a.detail.get("toAgent"), a.detail.get("refused"))
            for a in centre.records.of(AuditEntry)]
    assert rows == [("SingleStepTransferCall", "1005", s.call_id, "1003", "invalid_state"),
                    ("SingleStepTransferCall", "1005", s.call_id, "1003", None)]
