# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_demo -*-
"""Simulated traffic for a CT server: callers at the far end, bot agents.

Callers arrive as a Poisson process on the idle timeslots of the T1 span
(the telco's side of the simulator).  Most dial the main number and walk
the IVR with DTMF (1 for sales; 2 then 1 for support), the rest dial the
support hotline, which queues at once.  Each caller has a patience drawn
from an exponential distribution: not talking to an agent by then, they
hang up (abandon).

Bot agents are protocol clients like any agent desktop: they log in at
their station, go ready, watch their station for Delivered, lift the
phone (the station's far end) after a short ring, talk for an exponential
time and hang up.  The server does the rest (wrap-up, next call).

`Traffic` runs the same on the wall clock (the demo) and in virtual time
(tests): it is given a clock, the simulator, a way to open protocol
clients and the call centre it loads (read only, to know when a caller is
talking to an agent: what a real caller would hear).
"""
import random
from dataclasses import dataclass, field

from twisted.internet import defer
from twisted.logger import Logger

log = Logger()

PASSWORD = "1234"       # the sample accounts of etc/cti.toml


@dataclass
class Profile:
    """The traffic: arrivals per minute, mean patience and talk time (s)."""

    calls_per_minute: float = 12.0
    patience_s: float = 60.0
    talk_s: float = 20.0
    ring_s: tuple = (1.0, 3.0)
    ivr_share: float = 0.7          # dial the IVR number (the rest: the support hotline)
    ivr_number: str = "5550100"
    direct_number: str = "5550199"
    seed: int = 1


@dataclass(eq=False)
class Caller:
    trunk: str
    ani: str
    dnis: str
    keys: list = field(default_factory=list)      # (delay s, digits) once answered
    timers: list = field(default_factory=list)
    outcome: str = "calling"


class Traffic:
    def __init__(self, clock, sim, center, connect, profile=None, agents=None):
        self.clock = clock
        self.sim = sim
        self.center = center
        self.connect = connect                    # () -> Deferred of a ClientProtocol
        self.profile = profile or Profile()
        self.random = random.Random(self.profile.seed)
        self.agents = agents if agents is not None else [
            (a.id, a.station) for a in center.config.agents if a.station]
        self.trunks = [name for g in center.config.trunk_groups for name in g.channels
                       if g.signalling.get(name) == "em_wink"]
        self.callers = {}                         # trunk -> Caller
        self.clients = []
        self.arrivals = None
        self.counts = {"arrived": 0, "no_trunk": 0, "abandoned": 0}
        self.stopped = False

    # -- agents ------------------------------------------------------------
    @defer.inlineCallbacks
    def start_agents(self):
        for agent, station in self.agents:
            client = yield self.connect()
            self.clients.append(client)
            yield client.login(agent, PASSWORD, "agent", client="bot-agent")
            client.on_event(self._agent_event(station))
            yield client.call("MonitorStart", object="device", id=station)
            agent_now = yield client.call("Snapshot", object="agent", id=agent)
            if agent_now["snapshot"]["state"] == "loggedOff":   # else restored by the server
                yield client.call("SetAgentState", state="loggedOn", station=station)
            yield client.call("SetAgentState", state="ready")

    def _agent_event(self, station):
        phone = self.sim.endpoint(station)

        def event(name, body, invoke_id):
            if name == "Delivered" and body.get("device") == station:
                self.clock.callLater(self.random.uniform(*self.profile.ring_s),
                                     self._lift, phone)
            elif name == "Established" and body.get("device") == station:
                talk = self.random.expovariate(1 / self.profile.talk_s)
                self.clock.callLater(talk, self._hang_up_phone, phone, body["call"])
        return event

    def _lift(self, phone):
        if phone.state == "ringing" and not self.stopped:
            phone.offhook()

    def _hang_up_phone(self, phone, call_id):
        if call_id in self.center.calls and phone.state != "idle":
            phone.onhook()

    # -- callers -----------------------------------------------------------
    def start_callers(self):
        self._schedule()

    def stop_callers(self):
        if self.arrivals is not None and self.arrivals.active():
            self.arrivals.cancel()
        self.arrivals = None

    def _schedule(self):
        gap = self.random.expovariate(self.profile.calls_per_minute / 60)
        self.arrivals = self.clock.callLater(gap, self._arrive)

    def _arrive(self):
        self._schedule()
        self.counts["arrived"] += 1
        free = [t for t in self.trunks if t not in self.callers
                and self.sim.endpoint(t).state == "idle"
                and self.center.channels[t].state == "idle"]
        if not free:
            self.counts["no_trunk"] += 1
            return
        trunk = self.random.choice(free)
        p = self.profile
        ani = f"212555{self.random.randrange(10_000):04d}"
        if self.random.random() < p.ivr_share:
            caller = Caller(trunk, ani, p.ivr_number)
            if self.random.random() < 0.5:
                caller.keys = [(self.random.uniform(3, 6), "1")]          # sales
            else:
                caller.keys = [(self.random.uniform(3, 6), "2"),          # support menu,
                               (self.random.uniform(3, 5), "1")]          # then internet
        else:
            caller = Caller(trunk, ani, p.direct_number)
        self.callers[trunk] = caller
        self.sim.endpoint(trunk).call(ani=ani, dnis=caller.dnis)
        self._later(caller, 0.2, self._wait_answer, caller, 0)
        patience = self.random.expovariate(1 / p.patience_s)
        self._later(caller, patience, self._give_up, caller)

    def _later(self, caller, seconds, f, *args):
        caller.timers.append(self.clock.callLater(seconds, f, *args))

    def _wait_answer(self, caller, waited):
        fe = self.sim.endpoint(caller.trunk)
        if fe.state == "connected":
            self._press(caller, 0)
            self._later(caller, 0.5, self._watch, caller)
        elif waited < 30 and caller.outcome == "calling":
            self._later(caller, 0.2, self._wait_answer, caller, waited + 0.2)
        else:
            self._done(caller, "not answered")

    def _press(self, caller, i):
        if i >= len(caller.keys):
            return
        delay, digits = caller.keys[i]

        def send():
            if caller.outcome == "calling":
                self.sim.endpoint(caller.trunk).send_digits(digits)
                self._press(caller, i + 1)
        self._later(caller, delay, send)

    def _ic(self, caller):
        return self.center.by_trunk.get(caller.trunk)

    def _watch(self, caller):
        """Talking to an agent: patience no longer matters; the call ends when
        the agent hangs up (the far end sees the trunk cleared)."""
        fe = self.sim.endpoint(caller.trunk)
        ic = self._ic(caller)
        if ic is not None and ic.state == "talking" and caller.outcome == "calling":
            caller.outcome = "talking"
        if fe.state == "idle" or (ic is None and fe.state != "connected"):
            self._done(caller, caller.outcome if caller.outcome != "calling" else "ended")
            return
        self._later(caller, 0.5, self._watch, caller)

    def _give_up(self, caller):
        if caller.outcome != "calling":
            return
        fe = self.sim.endpoint(caller.trunk)
        if fe.state == "connected":
            fe.hangup()
            self.counts["abandoned"] += 1
            self._done(caller, "abandoned")

    def _done(self, caller, outcome):
        caller.outcome = outcome
        for t in caller.timers:
            if t.active():
                t.cancel()
        caller.timers.clear()
        if self.callers.get(caller.trunk) is caller:
            del self.callers[caller.trunk]
        fe = self.sim.endpoint(caller.trunk)
        if fe.state == "ringing":               # not answered yet (not even winked)
            fe.abandon()
        elif fe.state in ("seized", "connected"):
            fe.hangup()

    def stop(self):
        """No more callers; each caller hangs up (or gives up ringing), and
        the bots answer no other call."""
        self.stopped = True
        self.stop_callers()
        for caller in list(self.callers.values()):
            self._done(caller, "stopped")
