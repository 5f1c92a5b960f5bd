# SPDX-License-Identifier: GPL-2.0-or-later
"""Trunk channels and stations against the simulated boards, in virtual
time: what the call layer is told, what the far end sees, and that every
channel comes back to idle with its resources returned."""
import pytest

from ctbus import SwitchingMap
from cti.server.lines.channels import (
    Channels,
    EmWinkTrunk,
    LoopStartLine,
    Station,
    T1LoopStartTrunk,
    VoicePool,
)
from tests.rig import Rig


class Listener:
    """The call layer, as a recorder."""

    def __init__(self):
        self.seen = []

    def trunk_offered(self, channel, ani, dnis):
        self.seen.append(("offered", channel.name, ani, dnis))

    def trunk_released(self, channel, reason):
        self.seen.append(("released", channel.name, reason))

    def station_answered(self, station):
        self.seen.append(("answered", station.name))

    def station_no_answer(self, station):
        self.seen.append(("no_answer", station.name))

    def station_offhook(self, station):
        self.seen.append(("offhook", station.name))

    def station_onhook(self, station, was):
        self.seen.append(("onhook", station.name, was))

    def voice_hung(self, channel, hung, op):
        self.seen.append(("voice_hung", channel.name, hung, op))

    def span_down(self, span, reason):
        self.seen.append(("span_down", span.name, reason))

    def span_alarm(self, span, alarm, raised):
        self.seen.append(("span_alarm", span.name, alarm, raised))

    def span_up(self, span):
        self.seen.append(("span_up", span.name))


class Chassis:
    def __init__(self, boards):
        self.rig = Rig(boards)
        self.bus = SwitchingMap(self.rig.driver)
        self.listener = Listener()
        self.channels = Channels()
        self.rig.driver.subscribe(self.channels.handle)

    def run_until(self, predicate, within_ms=20_000, what="condition"):
        for _ in range(0, within_ms, 10):
            if predicate():
                return
            self.rig.run(10)
        raise AssertionError(f"{what} not reached in {within_ms} ms; heard "
                             f"{self.listener.seen}")


@pytest.fixture
def t1():
    c = Chassis([{"type": "t1", "signalling": "em_wink"}, {"type": "voice", "channels": 4}])
    c.pool = c.channels.voice_pool = VoicePool([f"dxxxB1C{i}" for i in range(1, 5)])
    return c


def em(c, name="dtiB1T1", register="dtmf"):
    return c.channels.add(EmWinkTrunk(name, c.rig.driver, c.rig.clock, c.listener, c.pool,
                                      c.bus, register=register))


@pytest.mark.parametrize("mf", [False, True])
@pytest.mark.parametrize("ani", ["2125551234", ""])
def test_em_wink_inbound_offers_ani_and_dnis(t1, mf, ani):
    trunk = em(t1, register="mf" if mf else "dtmf")
    fe = t1.rig.sim.endpoint("dtiB1T1")
    fe.call(ani=ani, dnis="5550100", mf=mf)
    t1.run_until(lambda: trunk.state == "offered", what="offer")
    assert t1.listener.seen == [("offered", "dtiB1T1", ani, "5550100")]
    assert trunk.voice in t1.pool.busy and t1.bus.hears(trunk.voice) is not None
    history = [t.event for t in trunk.machine.history]
    assert history == ["seizure", "wink_done", "address"]

    trunk.answer()
    t1.rig.run(600)        # longer than a wink: the far end sees an answer
    assert fe.state == "connected"
    assert t1.rig.driver.bits("dtiB1T1")[0] == (1, 1)

    fe.hangup()
    t1.run_until(lambda: trunk.state == "far_cleared", what="far clear")
    assert t1.listener.seen[-1][:2] == ("released", "dtiB1T1")
    d = trunk.release("caller hung up")
    t1.rig.run(100)
    assert trunk.state == "idle" and d.called
    assert t1.pool.busy == set() and t1.bus.hears("dtiB1T1") is None
    assert t1.rig.driver.bits("dtiB1T1")[0] == (0, 0)


def test_em_wink_we_clear_first(t1):
    trunk = em(t1)
    fe = t1.rig.sim.endpoint("dtiB1T1")
    fe.call(ani="2125551234", dnis="5550100")
    t1.run_until(lambda: trunk.state == "offered")
    trunk.answer()
    t1.rig.run(600)        # longer than a wink: the far end sees an answer
    d = trunk.release("agent hung up")
    t1.run_until(lambda: trunk.state == "idle", what="idle after our clear")
    assert d.called and fe.state == "idle"
    assert t1.pool.busy == set()


def test_em_caller_gives_up_before_the_address(t1):
    trunk = em(t1)
    fe = t1.rig.sim.endpoint("dtiB1T1")
    fe.call(dnis="5550100")
    t1.run_until(lambda: trunk.state in ("winking", "collecting"))
    fe.abandon()
    t1.run_until(lambda: trunk.state == "idle", what="idle after abandon")
    assert t1.listener.seen == [] and t1.pool.busy == set()


def test_em_seizure_with_no_voice_resource_is_not_winked(t1):
    t1.pool.free.clear()
    trunk = em(t1)
    t1.rig.sim.endpoint("dtiB1T1").call(dnis="5550100")
    t1.rig.run(2_000)
    assert trunk.state == "idle" and t1.listener.seen == []


def test_em_hung_voice_operation_swaps_the_voice_resource(t1):
    """The voice resource serving a call hung: the trunk keeps its call and
    takes another; the hung one is in quarantine, not back in the pool."""
    trunk = em(t1)
    fe = t1.rig.sim.endpoint("dtiB1T1")
    fe.call(dnis="5550100")
    t1.run_until(lambda: trunk.state == "offered")
    voice = trunk.voice
    t1.rig.sim.hang_next(voice)
    from drivers.interface import Prompt
    t1.rig.driver.play(voice, [Prompt(b"\xff" * 800, "ulaw")], watchdog_ms=2_000)
    t1.run_until(lambda: trunk.voice != voice, within_ms=10_000, what="watchdog")
    assert ("voice_hung", "dtiB1T1", voice, "play") in t1.listener.seen
    assert trunk.state == "offered" and trunk.voice is not None
    assert t1.pool.quarantined == {voice} and t1.pool.busy == {trunk.voice}
    assert voice not in t1.pool.free


@pytest.fixture
def analog():
    return Chassis([{"type": "analog", "lines": 2}])


def line(c, name="dxxxB1C1"):
    return c.channels.add(LoopStartLine(name, c.rig.driver, c.rig.clock, c.listener))


@pytest.mark.parametrize("method,how", [
    ("loop_current_drop", "loop current drop"),
    ("polarity", "polarity reversal"),
    ("busy_tone", "busy tone"),
])
def test_loop_start_inbound_with_each_disconnect(analog, method, how):
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234", name="J SMITH")
    analog.run_until(lambda: ch.state == "offered", what="offer at ring 2")
    assert analog.listener.seen == [("offered", "dxxxB1C1", "2125551234", "")]
    assert ch.cid_name == "J SMITH"
    ch.answer()
    analog.run_until(lambda: ch.state == "connected")
    assert fe.state == "connected"
    fe.hangup(method)
    analog.run_until(lambda: ch.state == "far_cleared", what=f"far clear by {method}")
    assert analog.listener.seen[-1] == ("released", "dxxxB1C1", f"far end cleared ({how})")
    ch.release()
    analog.run_until(lambda: ch.state == "idle")


def test_loop_start_caller_abandons_while_ringing(analog):
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234")
    analog.run_until(lambda: ch.state == "offered")
    fe.abandon()
    analog.run_until(lambda: ch.state != "offered", what="abandon", within_ms=15_000)
    assert analog.listener.seen[-1] == ("released", "dxxxB1C1",
                                        "caller abandoned while ringing")


def test_loop_start_we_clear_first(analog):
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234")
    analog.run_until(lambda: ch.state == "offered")
    ch.answer()
    analog.run_until(lambda: ch.state == "connected")
    d = ch.release("agent hung up")
    analog.run_until(lambda: ch.state == "idle")
    assert d.called
    analog.rig.run(200)
    assert fe.state == "idle"


def test_loop_start_call_refused_unanswered_is_offered_once_while_it_rings_on(analog):
    """A call the call layer releases before answer (refused: no route,
    the server stopping) stays on hook; the rest of its rings, a minute
    more, offer nothing; once they stop the line takes the next call."""
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234")
    analog.run_until(lambda: ch.state == "offered")
    d = ch.release("no route for the call")
    analog.rig.run(70_000)
    assert analog.listener.seen == [("offered", "dxxxB1C1", "2125551234", "")]
    assert ch.state == "refused" and fe.state == "ringing" and not d.called
    fe.abandon()
    analog.run_until(lambda: ch.state == "idle", within_ms=15_000, what="the rings stop")
    assert d.called
    fe.call(ani="2125559876")
    analog.run_until(lambda: ch.state == "offered", what="the next call")
    assert analog.listener.seen[-1] == ("offered", "dxxxB1C1", "2125559876", "")


@pytest.fixture
def t1_loopstart():
    c = Chassis([{"type": "t1", "signalling": "fxs_loopstart"},
                 {"type": "voice", "channels": 4}])
    c.pool = c.channels.voice_pool = VoicePool([f"dxxxB1C{i}" for i in range(1, 5)])
    return c


def test_t1_loop_start_call_refused_unanswered_is_offered_once_while_it_rings_on(
        t1_loopstart):
    """The same on a T1 loop-start timeslot; its voice resource goes back
    to the pool at the refusal."""
    c = t1_loopstart
    trunk = c.channels.add(T1LoopStartTrunk("dtiB1T1", c.rig.driver, c.rig.clock, c.listener,
                                            c.pool, c.bus))
    fe = c.rig.sim.endpoint("dtiB1T1")
    fe.call()
    c.run_until(lambda: trunk.state == "offered")
    trunk.release("no route for the call")
    assert c.pool.busy == set()
    c.rig.run(70_000)
    assert c.listener.seen == [("offered", "dtiB1T1", "", "")]
    assert trunk.state == "refused" and c.pool.busy == set()
    fe.abandon()
    c.run_until(lambda: trunk.state == "idle", within_ms=15_000, what="the rings stop")
    fe.call()
    c.run_until(lambda: trunk.state == "offered", what="the next call")
    assert len(c.listener.seen) == 2


@pytest.fixture
def phones():
    return Chassis([{"type": "stations", "count": 2}])


def test_station_rings_and_is_answered(phones):
    st = phones.channels.add(Station("msiB1C1", phones.rig.driver, phones.rig.clock,
                                     phones.listener))
    st.ring()
    assert st.state == "ringing"
    phones.rig.run(1_000)
    phones.rig.sim.endpoint("msiB1C1").offhook()
    phones.run_until(lambda: st.state == "talking")
    assert phones.listener.seen == [("answered", "msiB1C1")]
    phones.rig.sim.endpoint("msiB1C1").onhook()
    phones.run_until(lambda: st.state == "onhook")
    assert phones.listener.seen[-1] == ("onhook", "msiB1C1", "talking")


def test_station_not_answered(phones):
    st = phones.channels.add(Station("msiB1C2", phones.rig.driver, phones.rig.clock,
                                     phones.listener))
    st.ring(cycles=2)
    phones.run_until(lambda: st.state == "onhook", within_ms=20_000)
    assert phones.listener.seen == [("no_answer", "msiB1C2")]


def test_station_lifted_hears_dial_tone(phones):
    st = phones.channels.add(Station("msiB1C1", phones.rig.driver, phones.rig.clock,
                                     phones.listener))
    fe = phones.rig.sim.endpoint("msiB1C1")
    fe.offhook()
    phones.run_until(lambda: st.state == "offhook")
    phones.rig.run(1_500)
    assert fe.heard_tone() == "dial"
    fe.onhook()
    phones.run_until(lambda: st.state == "onhook")
    assert phones.listener.seen == [("offhook", "msiB1C1"), ("onhook", "msiB1C1", "offhook")]


def test_an_offered_caller_who_gives_up_is_not_taken_for_the_next_one(analog):
    """Caller A is offered and not answered yet; A gives up and caller B
    rings a second later, before the gap that ends A's rings.  B's rings,
    counted from 1, show a new call: A's call is released as abandoned,
    and B is offered with B's own number, not answered as A."""
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234")
    analog.run_until(lambda: ch.state == "offered")
    analog.rig.run(6_000)
    fe.abandon()
    analog.rig.run(1_000)
    fe.call(ani="2125559876")
    analog.run_until(lambda: ("released", "dxxxB1C1", "caller abandoned while ringing")
                     in analog.listener.seen, within_ms=20_000, what="A released")
    ch.release("caller abandoned while ringing")          # as the call layer does
    analog.run_until(lambda: ch.state == "offered", within_ms=30_000, what="B offered")
    assert analog.listener.seen[-1] == ("offered", "dxxxB1C1", "2125559876", "")
    ch.answer()
    analog.run_until(lambda: ch.state == "connected")
    assert ch.ani == "2125559876" and fe.state == "connected"


def test_a_new_caller_soon_after_a_refused_one_gave_up_is_offered(analog):
    """The refused caller gives up and the next one rings a second later,
    before the gap that ends the rings: the driver counts the new call's
    rings from 1 again, so the line ends the refusal and offers it."""
    ch = line(analog)
    fe = analog.rig.sim.endpoint("dxxxB1C1")
    fe.call(ani="2125551234")
    analog.run_until(lambda: ch.state == "offered")
    d = ch.release("no route for the call")
    analog.rig.run(10_000)
    fe.abandon()
    analog.rig.run(1_000)
    fe.call(ani="2125559876")
    analog.run_until(lambda: ch.state == "offered", within_ms=30_000, what="the new call")
    assert d.called
    assert analog.listener.seen[-1] == ("offered", "dxxxB1C1", "2125559876", "")
    assert len(analog.listener.seen) == 2
