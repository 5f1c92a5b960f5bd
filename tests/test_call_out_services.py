# SPDX-License-Identifier: GPL-2.0-or-later
"""An agent's own call, once answered, is a call like a caller's: hold,
transfer, consultation and conference, recording, supervision and a
supervisor's ClearCall all work on it.  On a call out the far end is in
the caller's place; on an internal call (MakeCall {agent}) the agent
called is, and it talks and can hang up, and is told so if it asks for
more."""
import pytest

from cti.storage.models import AuditEntry, CallRecord, QueueLogEntry
from tests.rig import hears
from tests.test_callcenter import PASSWORD, agent_ready, names
from tests.test_outbound import headset_agent, two_way_t1
from tests.test_supervision import (
    AGENT_HZ,
    CALLER_HZ,
    SUP_STATION,
    SUPERVISOR_HZ,
    Scene,
    supervisor_at_headset,
    wav_samples,
)

FAR_NUMBER = "5551234"


class CallOut(Scene):
    """Agent 1005 called 5551234 from its headset; the far end (on T1
    dtiB1T1, `caller` as in Scene) answered; a supervisor is logged in."""

    def __init__(self, centre):
        self.centre = centre
        self.agent, self.agent_events, self.phone = headset_agent(centre)
        self.caller = centre.sim.endpoint("dtiB1T1")
        self.sup_phone = centre.sim.endpoint(SUP_STATION)
        self.caller.set_outbound("answer", 1)
        self.call_id = self.ask(self.agent, "MakeCall", number=FAR_NUMBER)["call"]
        centre.run_until(lambda: "Established" in names(self.agent_events),
                         within_ms=20_000, what="the far end answers")
        self.sup = centre.client()
        centre.call(self.sup.login("sup", PASSWORD, "supervisor"))
        self.sup_events = centre.events(self.sup)


@pytest.fixture
def centre():
    return two_way_t1()


def test_the_far_end_of_a_call_out_is_held_with_music_and_retrieved(centre):
    s = CallOut(centre)
    assert s.listen()["caller"] == {AGENT_HZ}
    assert s.ask(s.agent, "HoldCall", call=s.call_id) == {"call": s.call_id}
    assert names(s.agent_events)[-1] == "Held"
    assert centre.center.moh.listening                  # the far end hears the music
    heard = s.listen()
    assert AGENT_HZ not in heard["caller"] and CALLER_HZ not in heard["agent"]
    s.ask(s.agent, "RetrieveCall", call=s.call_id)
    assert names(s.agent_events)[-1] == "Retrieved"
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}


def test_a_supervisor_monitors_records_and_clears_an_agents_call_out(centre, tmp_path):
    s = CallOut(centre)
    centre.center.layer.recordings_dir = tmp_path
    s.lift()
    s.ask(s.sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    file = s.ask(s.sup, "StartRecording", call=s.call_id)["file"]
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    s.ask(s.sup, "ClearCall", call=s.call_id)
    centre.run_until(lambda: centre.center.acd.agents["1005"].state == "ready",
                     what="the agent is free again")
    centre.run(500)
    samples = wav_samples(file)
    assert hears(samples, CALLER_HZ) and hears(samples, AGENT_HZ)
    assert names(s.sup_events)[-1] == "SupervisionEnded"
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.direction, cdr.dnis, cdr.agent, cdr.disposition, cdr.released_by) == (
        "outbound", FAR_NUMBER, "1005", "answered", "supervisor")
    assert [a.action for a in centre.records.of(AuditEntry)] == [
        "Supervise", "StartRecording", "ClearCall"]
    assert centre.server.voice_pool.busy == set()
    assert centre.center.channels["dtiB1T1"].state == "idle"


def test_monitor_next_call_catches_a_call_out(centre):
    agent, events, phone = headset_agent(centre)
    sup, sup_events, _ = supervisor_at_headset(centre)
    centre.call(sup.call("MonitorNextCall", agent="1005", station=SUP_STATION))
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 1)
    call_id = centre.call(agent.call("MakeCall", number=FAR_NUMBER))["call"]
    centre.run_until(lambda: "SupervisionStarted" in names(sup_events), within_ms=20_000,
                     what="the supervision starts as the far end answers")
    assert dict(sup_events)["SupervisionStarted"]["call"] == call_id


def test_an_agent_transfers_its_call_out_to_a_queue(centre):
    s = CallOut(centre)
    other, other_events = agent_ready(centre, "1001", "msiB1C1")      # sales
    result = s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, queue="sales")
    assert result == {"call": s.call_id, "transferredTo": "queue:sales"}
    assert centre.center.acd.agents["1005"].state == "ready"   # its own call: no wrap-up
    other_phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: other_phone.state == "ringing", what="the sales agent rings")
    delivered = dict(other_events)["Delivered"]                     # its screen pop
    assert (delivered["direction"], delivered["callingDevice"], delivered["calledDevice"]) \
        == ("outbound", "1005", FAR_NUMBER)
    other_phone.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1001"].state == "busy",
                     what="the sales agent takes it")
    s.phone = other_phone                                # who talks to the far end now
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.direction, cdr.queue, cdr.agent, cdr.released_by) == (
        "outbound", "sales", "1001", "far_end")
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=s.call_id)] == [
        "ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert centre.center.channels["dtiB1T1"].state == "idle"


def test_an_agent_brings_a_colleague_into_its_call_out(centre):
    s = CallOut(centre)
    colleague, colleague_events = agent_ready(centre, "1003", "msiB1C3")
    consult = s.ask(s.agent, "ConsultationCall", call=s.call_id, agent="1003")
    colleague_phone = centre.sim.endpoint("msiB1C3")
    centre.run_until(lambda: colleague_phone.state == "ringing", what="1003 rings")
    colleague_phone.offhook()
    centre.run_until(lambda: "Established" in names(colleague_events), what="1003 answers")
    s.ask(s.agent, "ConferenceCall", call=s.call_id, consultCall=consult["consultCall"])
    s.sup_phone = colleague_phone                        # the third party of listen()
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ, SUPERVISOR_HZ}
    assert heard["agent"] == {CALLER_HZ, SUPERVISOR_HZ}
    assert heard["supervisor"] == {CALLER_HZ, AGENT_HZ}


def test_the_far_end_of_a_call_out_hanging_up_in_a_queue_abandons_it(centre):
    """Transferred to a queue, the far end is a waiting caller like any:
    its CDR says how its stay in that queue ended (the call out's answer
    before it is the CDR's answered_at)."""
    s = CallOut(centre)
    s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, queue="sales")
    centre.run(1000)
    assert centre.center.calls[s.call_id].state == "queued"
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.disposition, cdr.released_by, cdr.queue) == ("abandoned", "caller", "sales")
    assert cdr.answered_at is not None
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=s.call_id)] == [
        "ENTERQUEUE", "ABANDON"]


def test_a_call_out_whose_blind_transfer_fails_is_released(centre):
    """The far end of a call out was never a caller of ours: no queue to
    go back to, so a transfer that does not connect ends it."""
    s = CallOut(centre)
    other, _ = agent_ready(centre, "1003", "msiB1C3")
    s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, agent="1003")
    e = s.refused(s.agent, "HoldCall", call=s.call_id)         # nobody has it meanwhile
    assert e.code == "invalid_state"
    e = s.refused(s.sup, "HoldCall", call=s.call_id)
    assert e.code == "invalid_state" and "being transferred" in str(e)
    centre.run_until(lambda: s.call_id not in centre.center.calls, within_ms=40_000,
                     what="1003 does not answer: the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert "the transfer to agent 1003 failed" in cdr.cause
    assert centre.center.channels["dtiB1T1"].state == "idle"
    assert centre.center.acd.agents["1003"].state == "ready"


class InternalCall(Scene):
    """Agent 1005 called agent 1003 from its headset and 1003 answered by
    lifting its handset: 1003's phone is `caller` (as in Scene), 1005's is
    `phone`; `sup_phone` is a third phone for whoever joins."""

    def __init__(self, centre):
        self.centre = centre
        self.agent, self.agent_events, self.phone = headset_agent(centre)
        self.called, self.called_events = agent_ready(centre, "1003", "msiB1C3")
        self.caller = centre.sim.endpoint("msiB1C3")
        self.sup_phone = centre.sim.endpoint(SUP_STATION)
        self.call_id = self.ask(self.agent, "MakeCall", agent="1003")["call"]
        centre.run_until(lambda: self.caller.state == "ringing", what="1003's phone rings")
        self.caller.offhook()
        centre.run_until(lambda: "Established" in names(self.called_events),
                         what="1003 answers")

    def states(self, *agents):
        return [self.centre.center.acd.agents[a].state for a in agents]


def test_the_calling_agent_holds_and_the_agent_called_may_only_hang_up(centre):
    s = InternalCall(centre)
    assert s.listen()["caller"] == {AGENT_HZ}
    e = s.refused(s.called, "HoldCall", call=s.call_id)
    assert e.code == "invalid_state"
    assert "internal call to you" in str(e) and "you can hang up" in str(e)
    s.ask(s.agent, "HoldCall", call=s.call_id)
    assert centre.center.moh.listening == {"msiB1C3": centre.center.queueing.hold_music(
        centre.center.calls[s.call_id])}                  # the agent called hears music
    heard = s.listen()
    assert AGENT_HZ not in heard["caller"] and CALLER_HZ not in heard["agent"]
    s.ask(s.agent, "RetrieveCall", call=s.call_id)
    assert s.listen()["caller"] == {AGENT_HZ}
    s.caller.onhook()                                     # the agent called hangs up
    centre.run_until(lambda: s.states("1005", "1003") == ["ready", "ready"],
                     what="both agents free again")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.direction, cdr.trunk, cdr.ani, cdr.dnis, cdr.agent, cdr.disposition,
            cdr.released_by) == ("internal", None, "1005", "1003", "1005", "answered",
                                 "far_end")
    assert centre.server.voice_pool.busy == set()
    assert names(s.called_events)[-1] == "ConnectionCleared"


def test_the_agent_called_hangs_up_with_clear_connection(centre):
    s = InternalCall(centre)
    s.ask(s.called, "ClearConnection", call=s.call_id)
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    assert s.states("1005", "1003") == ["ready", "ready"]
    assert centre.center.channels["msiB1C3"].state != "talking"


def test_a_supervisor_monitors_and_records_an_internal_call(centre, tmp_path):
    s = InternalCall(centre)
    centre.center.layer.recordings_dir = tmp_path
    sup, sup_events, _ = supervisor_at_headset(centre)
    e = s.refused(sup, "Supervise", agent="1003", mode="monitor", station=SUP_STATION)
    assert e.code == "invalid_state" and "supervise agent 1005" in str(e)
    s.ask(sup, "Supervise", agent="1005", mode="monitor", station=SUP_STATION)
    file = s.ask(sup, "StartRecording", call=s.call_id)["file"]
    assert s.listen() == {"caller": {AGENT_HZ}, "agent": {CALLER_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    s.ask(s.agent, "ClearConnection", call=s.call_id)
    centre.run_until(lambda: s.states("1005", "1003") == ["ready", "ready"],
                     what="both agents free again")
    centre.run(500)
    samples = wav_samples(file)
    assert hears(samples, CALLER_HZ) and hears(samples, AGENT_HZ)
    assert names(sup_events)[-1] == "SupervisionEnded"
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert cdr.released_by == "agent"
    assert centre.server.voice_pool.busy == set()


def test_the_calling_agent_transfers_the_agent_called_to_a_third(centre):
    s = InternalCall(centre)
    third, third_events = agent_ready(centre, "1001", "msiB1C1")
    result = s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, agent="1001")
    assert result == {"call": s.call_id, "transferredTo": "agent:1001"}
    third_phone = centre.sim.endpoint("msiB1C1")
    centre.run_until(lambda: third_phone.state == "ringing", what="1001 rings")
    assert s.states("1005") == ["ready"]                  # its own call: no wrap-up
    third_phone.offhook()
    centre.run_until(lambda: s.states("1001") == ["busy"], what="1001 answers")
    s.phone = third_phone                                 # who talks to 1003 now
    heard = s.listen()
    assert heard["caller"] == {AGENT_HZ} and heard["agent"] == {CALLER_HZ}
    third_phone.onhook()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run_until(lambda: s.states("1003") == ["ready"], what="1003 free again")
    assert centre.center.channels["msiB1C3"].state != "talking"
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.direction, cdr.agent, cdr.released_by) == ("internal", "1001", "agent")


def test_the_calling_agent_brings_a_colleague_in(centre):
    s = InternalCall(centre)
    colleague, colleague_events = agent_ready(centre, "1001", "msiB1C1")
    consult = s.ask(s.agent, "ConsultationCall", call=s.call_id, agent="1001")
    s.sup_phone = centre.sim.endpoint("msiB1C1")         # the third party of listen()
    centre.run_until(lambda: s.sup_phone.state == "ringing", what="1001 rings")
    s.sup_phone.offhook()
    centre.run_until(lambda: "Established" in names(colleague_events), what="1001 answers")
    s.ask(s.agent, "ConferenceCall", call=s.call_id, consultCall=consult["consultCall"])
    assert s.listen() == {"caller": {AGENT_HZ, SUPERVISOR_HZ},
                          "agent": {CALLER_HZ, SUPERVISOR_HZ},
                          "supervisor": {CALLER_HZ, AGENT_HZ}}
    # The agent called, set to listen, asks to speak with a key.
    s.ask(s.agent, "SetPartyRole", call=s.call_id, device="msiB1C3", role="listen")
    s.caller.send_digits("5")
    centre.run_until(lambda: "SpeakRequested" in names(s.agent_events),
                     what="1003 asks to speak")
    assert dict(s.agent_events)["SpeakRequested"]["party"] == "msiB1C3"


def test_the_agent_called_sent_to_a_queue_and_hanging_up_there_abandons(centre):
    s = InternalCall(centre)
    s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, queue="sales")
    centre.run_until(lambda: centre.center.calls[s.call_id].state == "queued",
                     what="1003 waits in the queue")
    assert s.states("1005", "1003") == ["ready", "busy"]
    e = s.refused(s.called, "HoldCall", call=s.call_id)
    assert e.code == "invalid_state" and "internal call to you" in str(e)
    s.caller.onhook()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run_until(lambda: s.states("1003") == ["ready"], what="1003 free again")
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.queue, cdr.released_by) == ("sales", "caller")
    assert [e.event for e in centre.records.of(QueueLogEntry, call_id=s.call_id)] == [
        "ENTERQUEUE", "ABANDON"]
    assert centre.server.voice_pool.busy == set()
