# SPDX-License-Identifier: GPL-2.0-or-later
"""Soak: memory levels off, call after call, in virtual time.

What is measured: at quiescent points (no call in flight), after a
gc.collect(), the number of objects the collector tracks
(len(gc.get_objects())) and the memory blocks the interpreter holds
(sys.getallocatedblocks(): strings, ints and bytes too, which the
collector does not track).  Not RSS: the allocator keeps freed memory and
RSS lags and jumps; these two are exact and cheap (~10 ms each).
tracemalloc would name the culprit but slows Python down 3 to 20 times:
a failure prints the types that grew instead.

1. the flow tier, 100,000 calls: FlowTier + FlowRunner on the sample
   flows, driven by a scripted CT server through a ClientProtocol
   stand-in (no bytes), ~15 s;
2. the flow tier's protocol client, 8,000 calls: the same through the
   real ClientProtocol and framing over a fake transport, ~5 s;
3. the CT server and a flow tier together (tests.centre: the whole server
   on the simulator, every byte through the protocol), 4,000 calls, ~12 s.
   100,000 calls of the whole server would take some 5 minutes (it serves
   ~350 calls a second of virtual time on one core): that is a nightly
   run (SOAK_CALLS=100000), not a test of the suite.
"""
import gc
import os
import sys
from collections import Counter

from twisted.internet import task

from cti.storage.sink import InMemory
from tests import flowfake

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def census():
    gc.collect()
    objects = gc.get_objects()
    return len(objects), sys.getallocatedblocks(), Counter(type(o).__qualname__ for o in objects)


def grew(before, after):
    """The types that grew most, for the failure message."""
    diff = [(after[k] - before[k], k) for k in after if after[k] > before[k]]
    return ", ".join(f"{k} +{d}" for d, k in sorted(diff, reverse=True)[:8])


def assert_levels_off(run, warm, step, steps, max_objects, max_blocks):
    """run(n) places n calls and returns with none in flight.  After
    `warm` calls (caches, free lists, bounded histories all full), `steps`
    rounds of `step` calls may not add more than max_objects objects nor
    max_blocks blocks in all."""
    run(warm)
    first = census()
    points = [first[:2]]
    for _ in range(steps):
        run(step)
        points.append(census()[:2])
    last = census()
    objects, blocks = last[0] - first[0], last[1] - first[1]
    assert objects <= max_objects and blocks <= max_blocks, (
        f"after {steps * step} calls: {objects:+d} objects, {blocks:+d} blocks "
        f"(at each step: {points}); grew: {grew(first[2], last[2])}")


# -- the flow tier, alone --------------------------------------------------------
def flow_tier(server, client, clock):
    from cti.flow.run import load
    from cti.flow.tier import FlowTier

    _, settings, flows = load(os.path.join(ROOT, "etc", "cti.toml"))
    tier = FlowTier.from_settings(client, flows, settings.prompts_dir, clock)
    tier.register()
    server.pump()

    def run(n, batch=50):
        while n:
            k = min(batch, n)
            for _ in range(k):
                server.new_call()
            n -= k
            server.pump()
            clock.advance(0.5)                # heartbeats, hook timeouts
            server.pump()
        assert not tier.calls and not server.calls and not server.in_flight()
    return tier, run


def test_the_flow_tier_levels_off_over_100000_calls():
    clock = task.Clock()
    server = flowfake.FakeClient(flowfake.LIGHT)
    tier, run = flow_tier(server, server, clock)
    assert_levels_off(run, warm=2_000, step=24_500, steps=4, max_objects=200,
                      max_blocks=2_000)
    assert server.n >= 100_000
    assert len(tier.outcomes) <= 100


def test_the_flow_tiers_protocol_client_levels_off():
    from cti.protocol.client import ClientProtocol

    clock = task.Clock()
    server = flowfake.WireServer(flowfake.LIGHT)
    client = ClientProtocol(clock)
    server.connect(client)
    client.login("ivr", "x", "flow")
    server.pump()
    _, run = flow_tier(server, client, clock)
    assert_levels_off(run, warm=2_000, step=3_000, steps=2, max_objects=200,
                      max_blocks=2_000)


# -- the CT server, with a flow tier ---------------------------------------------
class Sink(InMemory):
    """Records counted, not kept (tests.centre.Records keeps every one)."""

    def __init__(self):
        super().__init__()
        self.n = Counter()

    def add(self, record):
        self.n[type(record).__name__] += 1


class Callers:
    """24 trunks calling the IVR in turn: hang up in the menu; 1 (sales),
    hang up in the queue; 1, answered by the agent, talk, hang up."""

    def __init__(self, centre, phone):
        self.centre, self.phone = centre, phone
        self.trunks = [centre.sim.endpoint(f"dtiB1T{i}") for i in range(1, 25)]
        self.stage = {t.device: ("idle", 0, 0) for t in self.trunks}
        self.placed = self.done = 0

    def _tick(self, place):
        now = self.centre.clock.seconds() * 1000
        for t in self.trunks:
            stage, since, kind = self.stage[t.device]
            new = None
            if stage == "idle" and place and t.state == "idle" and now - since >= 300:
                kind, self.placed = self.placed % 3, self.placed + 1
                t.call(ani=f"212555{self.placed % 10000:04d}", dnis="5550100")
                new = "dialling"
            elif stage == "dialling" and t.state == "connected":
                new = "ivr"
            elif stage == "dialling" and now - since > 20_000:   # seized with no voice
                new = self._hang(t)                               # resource free: abandoned
            elif stage == "ivr" and kind == 0 and now - since >= 1500:
                new = self._hang(t)
            elif stage == "ivr" and kind and now - since >= 800:
                t.send_digits("1")
                new = "queued"
            elif stage == "queued" and now - since >= (6000 if kind == 1 else 1500):
                new = self._hang(t)
            elif stage == "hung" and (t.state == "idle" or now - since > 3000):
                self.done += 1
                new = "idle"
            if new:
                self.stage[t.device] = (new, now, kind)
        if self.phone.state == "ringing":
            self.phone.offhook()                 # a headset: answers, stays off-hook

    @staticmethod
    def _hang(t):
        try:
            t.hangup()
        except Exception:                        # noqa: BLE001 - gone already
            pass
        return "hung"

    def run(self, n):
        """n calls; returns once every call has ended and the agent is ready."""
        target = self.done + n
        while self.done < target:
            self.centre.run(50)
            self._tick(True)
        for _ in range(3000):
            if all(s[0] == "idle" for s in self.stage.values()) \
                    and not self.centre.center.model.calls and self.phone.state != "ringing":
                self.centre.run(1000)            # wrap-up, a sweep
                return
            self.centre.run(50)
            self._tick(False)
        raise AssertionError("calls still up")


def test_the_ct_server_and_its_flow_tier_level_off():
    from tests.centre import Centre
    from tests.centre import flow_tier as centre_flow_tier

    calls = int(os.environ.get("SOAK_CALLS", "3000"))
    centre = Centre(records=Sink())
    centre.center.start()                        # the ACD and the sweep, as in startService
    tier = centre_flow_tier(centre)
    agent = centre.client()
    centre.call(agent.login("1001", "1234", "agent"))
    centre.call(agent.call("SetAgentState", state="loggedOn", station="msiB1C1"))
    centre.call(agent.call("SetAgentState", state="ready"))
    callers = Callers(centre, centre.sim.endpoint("msiB1C1"))
    assert_levels_off(callers.run, warm=1_000, step=calls // 3, steps=3, max_objects=100,
                      max_blocks=1_500)
    assert len(tier.outcomes) <= 100
    assert centre.records.n["CallRecord"] >= calls
    assert [k for k in centre.records.provisional if k.startswith("call:")] == []
