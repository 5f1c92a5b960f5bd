# SPDX-License-Identifier: GPL-2.0-or-later
"""The narrated board tour (`make demo`) runs end to end in virtual time."""
from simulators.board_demo import BOARDS, run_scenario
from tests.rig import Rig


def test_board_tour_observes_every_step():
    rig = Rig(BOARDS)
    lines = []
    d = run_scenario(rig.driver, rig.sim, rig.clock, lines.append)
    results = []
    d.addBoth(results.append)
    for _ in range(120):
        if results:
            break
        rig.run(500)
    assert results, "the tour did not finish within 60 simulated seconds"
    seen = results[0]
    assert isinstance(seen, dict), seen
    assert seen["caller_id"] == ("2125551234", "J SMITH")
    assert seen["prompt"] == ["digits"]          # barge-in ended the prompt
    assert seen["digits"] == "42#"
    assert seen["audio"] == (1000, 600)          # each side hears the other
    assert any("bridged" in line for line in lines)
