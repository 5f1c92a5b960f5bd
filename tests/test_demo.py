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


def test_simulated_call_centre_accounts_for_every_call():
    """Ten virtual minutes of Poisson callers through the IVR and bot agents:
    every caller who reached a trunk has a CDR, and the summary adds up."""
    from twisted.internet import defer

    from cti.demo import summary
    from cti.storage.models import CallRecord
    from simulators.callcentre import Profile, Traffic
    from tests.centre import Centre, flow_tier

    centre = Centre()
    flow_tier(centre)
    traffic = Traffic(centre.clock, centre.sim, centre.center,
                      lambda: defer.succeed(centre.client()),
                      Profile(calls_per_minute=10, patience_s=40, talk_s=30, seed=7))
    centre.call(traffic.start_agents())
    traffic.start_callers()
    centre.run(600_000)
    traffic.stop_callers()
    centre.run_until(lambda: not centre.center.calls, within_ms=300_000,
                     what="every call ends")
    cdrs = centre.records.of(CallRecord)
    assert len(cdrs) == traffic.counts["arrived"] - traffic.counts["no_trunk"] > 60
    result = summary(cdrs, centre.config)
    assert result["calls"] == len(cdrs)
    assert result["answered"] > 0 and result["abandoned"] > 0      # busy enough to queue
    assert result["answered"] + result["abandoned"] <= result["offered"]
    for key in ("offered", "answered", "abandoned"):
        assert sum(q[key] for q in result["queues"].values()) == result[key]
    assert 0 <= result["service_level"] <= 1 and result["asa_s"] >= 0
    assert result["aht_s"] > 10                  # talk plus wrap-up
    assert {r.flow for r in cdrs} == {"main_menu", None}   # the IVR number, the hotline


def test_cti_demo_json_prints_the_summary_last():
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "cti", "demo", "--duration", "8", "--json",
                          "--rate", "30"], capture_output=True, text=True, timeout=120,
                         check=True)
    summary = json.loads(out.stdout.strip().splitlines()[-1])
    for key in ("offered", "answered", "abandoned", "service_level", "asa_s", "aht_s",
                "queues"):
        assert key in summary
    assert set(summary["queues"]) == {"sales", "support", "spanish"}
    assert summary["calls"] >= 1
