# SPDX-License-Identifier: GPL-2.0-or-later
"""T1 FXS loop-start trunks end to end: a call in (rings by the B bit, no
caller ID, the far end's hang-up heard as busy tone) reaches an agent, and
an agent's call out goes through call-progress analysis."""
import shutil

import pytest

from cti.server.config import load_server_config
from tests.centre import Centre
from tests.rig import hears
from tests.test_callcenter import agent_ready, names


@pytest.fixture
def centre(tmp_path):
    shutil.copytree("etc", tmp_path / "etc")
    boards = tmp_path / "etc" / "boards.toml"
    boards.write_text(boards.read_text().replace('signalling = "em_wink"',
                                                 'signalling = "fxs_loopstart"', 1))
    cti = tmp_path / "etc" / "cti.toml"
    cti.write_text(cti.read_text().replace('direction = "in"', 'direction = "both"', 1))
    return Centre(load_server_config(cti))


def test_a_call_in_reaches_an_agent_and_the_far_end_hangs_up(centre):
    trunk = centre.center.channels["dtiB1T4"]
    assert type(trunk).__name__ == "T1LoopStartTrunk"
    agent, events = agent_ready(centre, "1001", "msiB1C1")        # sales: flow_down
    caller, phone = centre.sim.endpoint("dtiB1T4"), centre.sim.endpoint("msiB1C1")
    caller.call()
    centre.run_until(lambda: phone.state == "ringing", within_ms=20_000,
                     what="no flow server: the flow_down queue, the agent rings")
    phone.offhook()
    centre.run_until(lambda: "Established" in names(events) and caller.state == "connected",
                     what="connected")
    for end in (caller, phone):
        end.capture(True)
    caller.send_tone_custom(1000, 0, -10, on_ms=1000)
    phone.send_tone_custom(1500, 0, -10, on_ms=1000)
    centre.run(1000)
    assert hears(phone.read_capture()[2000:], 1000)
    assert hears(caller.read_capture()[2000:], 1500)
    caller.hangup()                                  # loop start: busy tone, no bit
    centre.run_until(lambda: not centre.center.calls, what="the call ends")
    centre.run(500)
    assert trunk.state == "idle" and centre.server.voice_pool.busy == set()


def test_an_agent_calls_out_on_a_loop_start_timeslot(centre):
    agent, events = agent_ready(centre, "1005", "msiB1C5")
    phone = centre.sim.endpoint("msiB1C5")
    phone.offhook()
    centre.run_until(lambda: centre.center.channels["msiB1C5"].state == "offhook",
                     what="the headset on")
    far = centre.sim.endpoint("dtiB1T1")
    far.set_outbound("answer", 1)
    centre.call(agent.call("MakeCall", number="5551234"))
    centre.run_until(lambda: "Established" in names(events), within_ms=30_000,
                     what="the far end answers")
    assert far.dialled() == "5551234"
    phone.onhook()
    centre.run_until(lambda: centre.center.channels["dtiB1T1"].state == "idle",
                     what="the trunk clears")
