# SPDX-License-Identifier: GPL-2.0-or-later
"""Callback end to end: the caller keeps its place without holding the line,
and is called back when an agent is free (or, busy, tried again)."""
from dataclasses import replace

import pytest

from cti.server.callback import callback
from cti.server.config import load_server_config
from cti.storage.models import CallRecord, QueueLogEntry
from tests.centre import Centre
from tests.rig import hears
from tests.test_callcenter import agent_ready, names


def centre_with_callbacks(**support):
    config = load_server_config("etc/cti.toml")
    return Centre(replace(config, queues=tuple(
        replace(q, callback_key="5", announce_every_s=20, announce=("position",),
                messages=(), **support) if q.name == "support" else q
        for q in config.queues)))


def ask_for_callback(centre, trunk="dtiB1T1", ani="2125550001"):
    caller = centre.sim.endpoint(trunk)
    caller.call(ani=ani, dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="waiting in support")
    centre.run(2000)
    caller.send_digits("5")
    centre.run_until(lambda: caller.state == "idle", within_ms=20_000,
                     what="the line is released after the confirmation")
    return caller


def test_the_caller_is_called_back_when_an_agent_is_free():
    centre = centre_with_callbacks()
    caller = ask_for_callback(centre)
    [ic] = centre.center.calls.values()
    assert ic.line_released and ic.callback == "2125550001"
    assert len(centre.center.acd.entries) == 1                # its place is kept
    far = centre.sim.endpoint("dxxxB1C1")                     # the caller's phone now
    far.set_outbound("answer", 1)
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    delivered = dict(events)["Delivered"]
    assert (delivered["callback"], delivered["number"]) == (True, "2125550001")
    phone.offhook()
    centre.run_until(lambda: ic.trunk.name == "dxxxB1C1" and not ic.line_released,
                     within_ms=30_000, what="the caller answers the callback")
    assert far.dialled() == "2125550001"
    for end in (far, phone):
        end.capture(True)
    far.send_tone_custom(1000, 0, -10, on_ms=1000)
    phone.send_tone_custom(1500, 0, -10, on_ms=1000)
    centre.run(1000)
    assert hears(phone.read_capture()[2000:], 1000) and hears(far.read_capture()[2000:], 1500)
    phone.onhook()
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(500)
    [cdr] = centre.records.of(CallRecord)
    assert (cdr.disposition, cdr.agent) == ("answered", "1005")
    log = [e.event for e in centre.records.of(QueueLogEntry, call_id=cdr.call_id)]
    assert log[:3] == ["ENTERQUEUE", "CALLBACKREQ", "CONNECT"]
    assert centre.center.channels["dxxxB1C1"].state == "idle"
    assert caller.state == "idle"


def test_a_busy_callback_is_tried_again_and_the_agent_is_freed():
    from cti.server.callback import callback

    centre = centre_with_callbacks()
    ask_for_callback(centre)
    [ic] = centre.center.calls.values()
    centre.sim.endpoint("dxxxB1C1").set_outbound("busy")
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: ic.state == "routing", within_ms=40_000, what="busy")
    assert ic.callback_attempts == 1 and ic.agent is None
    phone.onhook()
    centre.run_until(lambda: ic.state == "queued", within_ms=int(callback.RETRY_S * 1000)
                     + 40_000, what="queued again for the next attempt")
    assert ic.first_since < ic.entry.since                   # it kept its first arrival
    log = [e.event for e in centre.records.of(QueueLogEntry, call_id=ic.id)]
    assert "CALLBACKFAIL" in log


@pytest.mark.parametrize("overflow", [None, ("flow", "after_hours"), ("queue", "sales")])
def test_a_callback_keeps_its_place_past_the_queues_max_wait(overflow):
    """Nobody is on the line to send to an overflow or to release: the
    callback waits for its agent however long it takes."""
    centre = centre_with_callbacks(max_wait_s=60, overflow=overflow)
    ask_for_callback(centre)
    [ic] = centre.center.calls.values()
    centre.run(90_000)
    assert ic.state == "queued" and ic.queue == "support" and ic.line_released
    centre.sim.endpoint("dxxxB1C1").set_outbound("answer", 1)
    agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: not ic.line_released, within_ms=30_000,
                     what="the caller answers the callback")
    assert not centre.records.of(CallRecord)                 # still going, not timed out


def test_an_agent_who_answers_during_the_confirmation_talks_with_the_caller():
    """The caller pressed the key; while the confirmation plays an agent (a
    headset) is offered the call and answers: the line is not released
    under them, and nobody is called back."""
    centre = centre_with_callbacks()
    caller = centre.sim.endpoint("dtiB1T1")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: centre.center.acd.entries and caller.state == "connected",
                     what="waiting in support")
    centre.run(2000)
    caller.send_digits("5")
    centre.run(300)
    [ic] = centre.center.calls.values()
    assert ic.callback and not ic.line_released              # the confirmation plays
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    centre.run_until(lambda: "Delivered" in names(events), what="the offer")
    phone = centre.sim.endpoint("msiB1C5")
    phone.offhook()
    centre.run(8000)
    assert (ic.state, ic.line_released, ic.callback) == ("talking", False, None)
    assert caller.state == "connected"


@pytest.mark.parametrize("overflow", [None, ("flow", "after_hours")])
def test_a_callback_tried_again_waits_even_in_a_queue_nobody_serves_now(overflow):
    """join_empty refuses new callers when nobody could serve; a callback
    coming back after a busy attempt keeps its place all the same."""
    centre = centre_with_callbacks(join_empty=("unavailable",), overflow=overflow)
    agent, _ = agent_ready(centre, "1005", "msiB1C5")
    centre.call(agent.call("SetAgentState", state="notReady"))
    ask_for_callback(centre)
    [ic] = centre.center.calls.values()
    centre.sim.endpoint("dxxxB1C1").set_outbound("busy")
    centre.call(agent.call("SetAgentState", state="ready"))
    phone = centre.sim.endpoint("msiB1C5")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: ic.state == "routing", within_ms=40_000, what="busy")
    phone.onhook()
    centre.run(3000)
    centre.call(agent.call("SetAgentState", state="loggedOff"))   # nobody serves support
    centre.run(int(callback.RETRY_S * 1000) + 5000)
    assert (ic.state, ic.queue, ic.line_released) == ("queued", "support", True)
    assert not centre.records.of(CallRecord)
