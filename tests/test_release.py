# SPDX-License-Identifier: GPL-2.0-or-later
"""A call ends completely whatever fails on the way: an agent hanging up a
call out in any phase, on a T1 or an analog line, leaves nothing behind; a
release step that raises is logged and skipped, the rest runs and the CDR
says what failed; and the sweep puts right what is left half released (a
call nobody holds, a line left off-hook, a phone left talking)."""
from dataclasses import replace

import pytest

from cti.protocol.client import RemoteError
from cti.server.config import load_server_config
from cti.storage.models import CallRecord
from tests.centre import Centre
from tests.test_callcenter import names
from tests.test_outbound import headset_agent


def analog_out():
    """The sample: calls out go on the analog lines (dxxxB1C1 first)."""
    return Centre(), "dxxxB1C1"


def t1_out():
    config = load_server_config("etc/cti.toml")
    return Centre(replace(config, trunk_groups=tuple(
        replace(g, direction="both") if g.name == "pstn_in" else g
        for g in config.trunk_groups))), "dtiB1T1"



def phase_of(centre, trunk, phase):
    """Run until the trunk of the call out is in `phase`."""
    channel = centre.center.channels[trunk]
    centre.run_until(lambda: channel.state == phase, within_ms=20_000, what=phase)


@pytest.mark.parametrize("lines", [analog_out, t1_out], ids=["analog", "t1"])
@pytest.mark.parametrize("phase", ["seizing", "dialing", "ringing"])
@pytest.mark.parametrize("how", ["ClearConnection", "on-hook"])
def test_an_agent_hangs_up_its_call_out_in_any_phase_and_nothing_is_left(lines, phase, how,
                                                                         tracebacks):
    centre, trunk = lines()
    client, events, phone = headset_agent(centre)
    far = centre.sim.endpoint(trunk)
    far.set_outbound("answer", 30)                       # rings 30 s before it answers
    call = centre.call(client.call("MakeCall", number="5551234"))["call"]
    if phase == "seizing":
        assert centre.center.channels[trunk].state == "seizing"
    else:
        phase_of(centre, trunk, "dialing")
    if phase == "ringing":
        centre.run_until(lambda: far.dialled() == "5551234", within_ms=20_000,
                         what="the number dialled")
        centre.run(1000)
    if how == "ClearConnection":
        assert centre.call(client.call("ClearConnection", call=call)) == {}
    else:
        phone.onhook()
    centre.run(5000)
    agent = centre.center.acd.agents["1005"]
    assert agent.state == "ready" and agent.call is None
    assert centre.center.channels[trunk].state == "idle"
    assert call not in centre.center.model.calls and not centre.center.dialer.outs
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert (cdr.disposition, cdr.released_by, cdr.cause) == ("failed", "agent", "agent hung up")
    assert tracebacks == []
    if how == "on-hook":
        phone.offhook()
        centre.run_until(lambda: centre.center.channels["msiB1C5"].state == "offhook",
                         what="the headset on again")
    far.set_outbound("answer", 1)
    again = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run_until(lambda: "Established" in names(events[-3:]), within_ms=20_000,
                     what="a new call out connects")
    assert again != call


def connected_call(centre):
    """Agent 1005 talking with a caller from dtiB1T1."""
    from tests.test_callcenter import agent_ready

    client, events = agent_ready(centre, "1005", "msiB1C5")
    caller, phone = centre.sim.endpoint("dtiB1T1"), centre.sim.endpoint("msiB1C5")
    caller.call(ani="2125550001", dnis="5550199")
    centre.run_until(lambda: phone.state == "ringing", what="the agent's phone rings")
    phone.offhook()
    centre.run_until(lambda: caller.state == "connected", what="connected")
    return client, caller, centre.center.acd.agents["1005"].call.id


def test_a_release_step_that_fails_is_skipped_and_the_cdr_says_so(tracebacks, monkeypatch):
    centre = Centre()
    client, caller, call = connected_call(centre)
    ic = centre.center.calls[call]

    def broken(*args, **kwargs):
        raise RuntimeError("the desk is broken")
    monkeypatch.setattr(centre.center.desk, "call_ending", broken)
    assert centre.call(client.call("ClearConnection", call=call)) == {}   # answered
    centre.run(2000)
    assert call not in centre.center.calls and call not in centre.center.model.calls
    assert ic.state == "ended"
    assert centre.center.acd.agents["1005"].state in ("workingAfterCall", "ready")
    assert centre.center.channels["dtiB1T1"].state == "idle"
    assert centre.center.channels["msiB1C5"].state != "talking"
    [cdr] = centre.records.of(CallRecord, call_id=call)
    [failure] = tracebacks
    assert cdr.cause == (f"agent hung up (release incomplete: the desk failed, "
                         f"incident {failure['incident']})")
    assert centre.server.voice_pool.busy == set()


def test_the_sweep_clears_a_call_nobody_holds_and_its_agent_is_freed(tracebacks, monkeypatch):
    """A call out whose release failed before the call model was told: the
    agent stays busy on a call nobody holds, until the sweep."""
    centre, trunk = analog_out()
    client, events, phone = headset_agent(centre)
    centre.sim.endpoint(trunk).set_outbound("answer", 30)
    call = centre.call(client.call("MakeCall", number="5551234"))["call"]
    phase_of(centre, trunk, "dialing")
    real = centre.center.model.clear_call
    monkeypatch.setattr(centre.center.model, "clear_call", lambda *a, **k: 1 / 0)
    centre.call(client.call("ClearConnection", call=call))
    monkeypatch.setattr(centre.center.model, "clear_call", real)
    assert call in centre.center.model.calls and len(tracebacks) == 1
    centre.run(5000)                                     # the line is idle again
    sweep = centre.center.sweep
    assert sweep.run() == []                             # seen once: maybe in passing
    centre.run(5000)
    assert sweep.run() == [("call", call)]               # seen twice: put right
    assert call not in centre.center.model.calls
    centre.center.acd.sweep()
    assert centre.center.acd.agents["1005"].state in ("workingAfterCall", "ready")
    [cdr] = centre.records.of(CallRecord, call_id=call)          # one CDR per call
    assert cdr.cause.startswith("agent hung up (release incomplete: the call model failed")


def test_the_sweep_hangs_up_a_line_left_off_hook(monkeypatch):
    centre, trunk = analog_out()
    client, events, phone = headset_agent(centre)
    centre.sim.endpoint(trunk).set_outbound("answer", 30)
    call = centre.call(client.call("MakeCall", number="5551234"))["call"]
    phase_of(centre, trunk, "dialing")
    line = centre.center.channels[trunk]
    monkeypatch.setattr(type(line), "_operation_ended", lambda self, event: None)
    centre.call(client.call("ClearConnection", call=call))     # the on-hook never comes
    centre.run(3000)
    assert line.state == "clearing"
    monkeypatch.undo()
    sweep = centre.center.sweep
    assert sweep.run() == []
    centre.run(5000)
    assert sweep.run() == [("trunk", trunk)]
    centre.run(1000)
    assert line.state == "idle"


def test_the_sweep_leaves_calls_in_progress_alone():
    centre = Centre()
    connected_call(centre)
    for _ in range(3):
        assert centre.center.sweep.run() == []
        centre.run(1000)


def test_a_handler_failing_midway_still_answers_and_leaves_the_session_alive(monkeypatch):
    centre = Centre()
    client, caller, call = connected_call(centre)
    monkeypatch.setattr(centre.center.desk, "hold", lambda *a: 1 / 0, raising=False)
    with pytest.raises(RemoteError) as e:
        centre.call(client.call("HoldCall", call=call))
    assert e.value.code in ("internal_error",) and e.value.body["incident"]
    assert centre.call(client.call("Heartbeat"))["time"] >= 0


def test_a_seize_that_raises_frees_the_trunk_and_ends_the_call_out(tracebacks):
    centre, trunk = t1_out()
    client, events, phone = headset_agent(centre)
    dialer = centre.center.dialer
    first = next(dialer.trunks())

    def broken(number, no_answer_s=0):
        raise RuntimeError("driver: device busy")
    first.seize = broken
    call = centre.call(client.call("MakeCall", number="5551234"))["call"]
    centre.run(2000)
    assert first.name not in dialer.by_trunk and first.name not in dialer.guard.active
    assert len(tracebacks) == 1                    # logged, once
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert cdr.disposition == "failed" and "the board failed seizing dtiB1T1" in cdr.cause
    assert centre.center.acd.agents["1005"].state == "ready" and not dialer.outs


def test_glare_on_the_only_trunk_leaves_the_incoming_call_that_won_alone(tracebacks):
    """Our seizure meets the far end's on the one trunk left: the incoming
    call has it; ending our call out touches nothing of it."""
    config = load_server_config("etc/cti.toml")
    centre = Centre(replace(config, trunk_groups=tuple(
        replace(g, direction="both") if g.name == "pstn_in" else replace(g, direction="in")
        for g in config.trunk_groups)))
    client, events, phone = headset_agent(centre)
    centre.call(client.call("SetAgentState", state="notReady", reason="out"))
    first = centre.sim.endpoint("dtiB1T1")
    others = [t.name for t in centre.center.dialer.trunks()][1:]
    for i, name in enumerate(others):                     # every other trunk busy with a caller
        centre.sim.endpoint(name).call(ani=f"21255501{i:02d}", dnis="5550199")
    centre.run(3000)
    first.call(ani="2125550009", dnis="5550199")          # the far end seizes...
    call = centre.call(client.call("MakeCall", number="5551234"))["call"]   # ...as we do
    centre.run(8000)
    [cdr] = centre.records.of(CallRecord, call_id=call)
    assert cdr.cause == "glare" and tracebacks == []        # nothing failed releasing it
    moves = [(t.event, t.detail.get("reason")) for t in
             centre.center.channels["dtiB1T1"].machine.history]
    after = moves[[e for e, _ in moves].index("glare"):]
    assert [e for e, _ in after][:4] == ["glare", "seizure", "wink_done", "address"]
    assert ("release", "glare") not in after               # the incoming call was not ours
