# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT server end to end on simulated boards, in virtual time: calls
routed, queued, offered to agents, talked over the CT-Bus, cleared, and
recorded."""
import pytest

from cti.storage.models import CallRecord, QueueLogEntry
from tests.centre import Centre
from tests.rig import hears

PASSWORD = "1234"          # every sample account of etc/cti.toml


@pytest.fixture
def centre():
    return Centre()


def agent_ready(centre, agent, station):
    client = centre.client()
    centre.call(client.login(agent, PASSWORD, "agent"))
    events = centre.events(client)
    centre.call(client.call("MonitorStart", object="device", id=station))
    centre.call(client.call("MonitorStart", object="agent", id=agent))
    centre.call(client.call("SetAgentState", state="loggedOn", station=station))
    centre.call(client.call("SetAgentState", state="ready"))
    return client, events


def names(events):
    return [name for name, _ in events]


def test_queue_route_to_agent_and_back(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    caller = centre.sim.endpoint("dtiB1T1")
    phone = centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125551234", dnis="5550199")       # the support hotline: a queue
    centre.run_until(lambda: "Delivered" in names(events), what="Delivered at the agent")
    delivered = dict(events)["Delivered"]
    assert delivered["device"] == "msiB1C5" and delivered["queue"] == "support"
    assert delivered["callingDevice"] == "2125551234"
    centre.run_until(lambda: caller.state == "connected", what="the far end sees the answer")
    centre.run_until(lambda: phone.state == "ringing", what="the phone rings")

    phone.offhook()
    centre.run_until(lambda: "Established" in names(events), what="Established")
    call_id = delivered["call"]
    ic = centre.center.calls[call_id]
    assert ic.state == "talking"

    caller.capture(True)
    phone.capture(True)
    caller.send_tone_custom(1000, 0, -10, on_ms=2000)
    phone.send_tone_custom(1500, 0, -10, on_ms=2000)
    centre.run(1000)
    from_phone = caller.read_capture()
    from_caller = phone.read_capture()
    assert hears(from_caller[2000:], 1000) and not hears(from_caller[2000:], 1500)
    assert hears(from_phone[2000:], 1500) and not hears(from_phone[2000:], 1000)

    caller.hangup()
    centre.run_until(lambda: call_id not in centre.center.calls, what="the call ends")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.call_id, cdr.disposition, cdr.released_by, cdr.queue, cdr.agent,
            cdr.station, cdr.ani, cdr.dnis) == (call_id, "answered", "caller", "support",
                                                "1005", "msiB1C5", "2125551234", "5550199")
    assert 0 < cdr.wait_s < 10 and 0.9 < cdr.talk_s < 2
    log = [e.event for e in centre.records.of(QueueLogEntry, call_id=call_id)]
    assert log == ["ENTERQUEUE", "CONNECT", "COMPLETECALLER"]
    assert "AgentWorkingAfterCall" in names(events)
    centre.run(31_000)                                   # support's wrap-up is 30 s
    assert centre.center.acd.agents["1005"].state == "ready"
    assert centre.server.voice_pool.busy == set()
