# SPDX-License-Identifier: GPL-2.0-or-later
"""An agent's own call out, once answered, is a call like a caller's: hold,
transfer to a queue, consultation and conference, recording, supervision
and a supervisor's ClearCall all work on it, with the far end of the call
out in the caller's place.  An internal call (agent to agent) takes
hang-up only, and says so."""
import pytest

from cti.protocol.client import RemoteError
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
    centre.center.recordings_dir = tmp_path
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


def test_an_internal_call_takes_hang_up_only_and_says_so(centre):
    caller, caller_events, phone = headset_agent(centre)
    agent_ready(centre, "1003", "msiB1C3")
    call_id = centre.call(caller.call("MakeCall", agent="1003"))["call"]
    callee_phone = centre.sim.endpoint("msiB1C3")
    centre.run_until(lambda: callee_phone.state == "ringing", what="1003 rings")
    with pytest.raises(RemoteError) as ringing:
        centre.call(caller.call("HoldCall", call=call_id))
    assert ringing.value.code == "invalid_state" and "not answered yet" in str(ringing.value)
    callee_phone.offhook()
    centre.run_until(lambda: centre.center.acd.agents["1003"].state == "busy",
                     what="1003 answers")
    with pytest.raises(RemoteError) as answered:
        centre.call(caller.call("HoldCall", call=call_id))
    assert answered.value.code == "invalid_state"
    assert "internal call between agents 1005 and 1003" in str(answered.value)


def test_the_far_end_of_a_call_out_hanging_up_in_a_queue_abandons_it(centre):
    """Transferred to a queue, the far end is a waiting caller like any."""
    s = CallOut(centre)
    s.ask(s.agent, "SingleStepTransferCall", call=s.call_id, queue="sales")
    centre.run(1000)
    assert centre.center.calls[s.call_id].state == "queued"
    s.caller.hangup()
    centre.run_until(lambda: s.call_id not in centre.center.calls, what="the call ends")
    centre.run(200)
    [cdr] = centre.records.of(CallRecord, call_id=s.call_id)
    assert (cdr.disposition, cdr.released_by, cdr.queue) == ("answered", "caller", "sales")
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
