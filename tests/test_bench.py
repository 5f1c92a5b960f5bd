# SPDX-License-Identifier: GPL-2.0-or-later
"""The benchmarks still run against the code they measure: a tiny run of
bench.acd's workload through the real router (no timing is asserted)."""
import bench.acd


def test_the_acd_benchmark_runs_its_workload_on_the_router(monkeypatch):
    monkeypatch.setattr(bench.acd, "PICKS", 50)
    picks, changes = bench.acd.run(300)
    assert len(picks) == 100 and changes
    assert all(us >= 0 for us in picks + changes)
