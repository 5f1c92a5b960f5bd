# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT-Bus switching map (ctbus.switching), checked by ear.

Every agent phone (station msiB1C1..C8) is off-hook and its far end says
one frequency of its own, continuously.  What a phone's far end captures
is then exactly what the board makes it hear, so after every change to the
map we can check that each phone hears precisely the talkers the map says
it should (routes, broadcasts, conferences with their roles) and nothing
else, measured with Goertzel power on the simulated CT-Bus audio.

The frequencies are chosen so that no harmonic or intermodulation product
of order <= 3 of any of them falls within 20 Hz of another: a conference
output is the mu-law coded sum of up to seven tones, and mu-law companding
makes such products (at about -30 dB with an evenly spaced grid, where
2*f1 - f2 lands right on a third frequency).  All are multiples of 10 Hz,
so over a 100 ms window (800 samples) each one is an exact DFT bin and the
tones are orthogonal.  Measured: a tone that is there has a power of about
1.3e6; one that is not stays below 50.

Also here: release, broadcast (music on hold), adopting the analog
boards' power-on routes, check() against the driver, and the stations'
own behaviour (ringing, hook events, tones to the earpiece).
"""
import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
)

from ctbus import Broadcast, BusError, Conference, Route, RouteConflict, SwitchingMap
from drivers import errors
from drivers.errors import ConferenceError
from tests.rig import Rig, power_at

STATIONS = [f"msiB1C{i}" for i in range(1, 9)]
FREQS = dict(zip(STATIONS, (350, 410, 490, 590, 790, 1450, 1710, 2330), strict=True))
DSP = "dcbB1D1"
BOARDS = [{"type": "stations", "count": 8}, {"type": "conference", "dsps": 1}]
UNKNOWN = "msiB9C9"

LEVEL_DBM0 = -20                 # seven of them summed stay far from clipping
#: Goertzel power (normalized per sample) of one tone at LEVEL_DBM0: (amplitude / 2)^2
TONE_POWER = (32768 * 10 ** ((LEVEL_DBM0 - 3.14) / 20) / 2) ** 2     # ~1.3e6
PRESENT = TONE_POWER / 10        # -10 dB: heard
WINDOW = 800                     # the last 100 ms of what was captured
SETTLE_MS = 200


# -- hearing ------------------------------------------------------------------
def start_talking(rig, stations=STATIONS):
    """Lift every phone, have it say its own frequency, capture what it hears."""
    ends = {}
    for name in stations:
        fe = rig.sim.endpoint(name)
        fe.offhook()
        fe.send_tone_custom(FREQS[name], 0, LEVEL_DBM0)
        fe.capture()
        ends[name] = fe
    return ends


def listen_all(rig, ends, ms=SETTLE_MS):
    """Run the chassis and return {station: last WINDOW samples it heard}."""
    for fe in ends.values():
        fe.read_capture()                  # forget what came before the change
    rig.run(ms)
    heard = {}
    for name, fe in ends.items():
        samples = fe.read_capture()
        assert len(samples) >= WINDOW, f"{name}: only {len(samples)} samples captured"
        heard[name] = samples[-WINDOW:]
    return heard


def mean_square(samples):
    return sum(x * x for x in samples) / len(samples)


def talkers_heard(samples):
    """{station whose frequency is present: power / TONE_POWER}."""
    found = {}
    for name, freq in FREQS.items():
        p = power_at(samples, freq)
        if p > PRESENT:
            found[name] = p / TONE_POWER
    return found


def assert_hears_exactly(listener, samples, talkers):
    """The listener hears each talker once at full level, and nothing else."""
    found = talkers_heard(samples)
    assert set(found) == set(talkers), (
        f"{listener} hears {sorted(found)}, expected {sorted(talkers)}")
    for name, ratio in found.items():
        assert 0.6 < ratio < 1.6, f"{listener} hears {name} at {ratio:.2f} x one tone's power"
    # a tone of amplitude A has mean square A^2/2 = 2 * its Goertzel power
    rest = mean_square(samples) - 2 * TONE_POWER * sum(found.values())
    assert abs(rest) < 0.05 * 2 * TONE_POWER * max(1, len(found)), (
        f"{listener} hears something besides {sorted(found)} (residual power {rest:.0f})")


def conference_hears(parties, listener):
    """Who a party of a conference {endpoint: role} hears."""
    me = parties[listener]
    return {p for p, role in parties.items()
            if p != listener and role != "listen_only" and (role != "coach" or me == "pupil")}


def map_state(bus):
    """Everything the map holds except its history, to compare."""
    data = bus.dump()
    data.pop("history")
    return data


@pytest.fixture
def rig():
    return Rig(BOARDS)


@pytest.fixture
def bus(rig):
    return SwitchingMap(rig.driver)


@pytest.fixture
def ends(rig):
    return start_talking(rig)


# -- the stateful test -------------------------------------------------------
class SwitchingMachine(RuleBasedStateMachine):
    """Random sequences of map requests; after each, every phone hears exactly
    what a plain model of the connections says, and refused requests change
    nothing."""

    @initialize()
    def build(self):
        self.rig = Rig(BOARDS)
        self.bus = SwitchingMap(self.rig.driver)
        self.ends = start_talking(self.rig)
        self.routes = {}      # Route -> (a, b, duplex)
        self.casts = {}       # Broadcast -> (source, set of listeners)
        self.confs = {}       # Conference -> {endpoint: role}
        self.dead = []        # connections that ended
        self.room = self.rig.driver.conference_room(DSP)

    # -- the model ---------------------------------------------------
    def expected(self, station):
        for a, b, duplex in self.routes.values():
            if station == a:
                return {b}
            if duplex and station == b:
                return {a}
        for source, listeners in self.casts.values():
            if station in listeners:
                return {source}
        for parties in self.confs.values():
            if station in parties:
                return conference_hears(parties, station)
        return set()

    def listening(self, station):
        return (any(station == a or (duplex and station == b)
                    for a, b, duplex in self.routes.values())
                or any(station in ls for _, ls in self.casts.values())
                or any(station in ps for ps in self.confs.values()))

    def end(self, connection):
        for table in (self.routes, self.casts, self.confs):
            table.pop(connection, None)
        self.dead.append(connection)

    def refused(self, exc_class, call, *args):
        """call(*args) must raise exactly exc_class and change nothing."""
        before = map_state(self.bus)
        with pytest.raises(BusError if exc_class is BusError else exc_class) as caught:
            call(*args)
        if exc_class is BusError:
            assert not isinstance(caught.value, RouteConflict), caught.value
        assert map_state(self.bus) == before
        self.bus.check()

    @staticmethod
    def pick(data, table):
        return data.draw(st.sampled_from(sorted(table, key=lambda c: c.id)))

    # -- routes ------------------------------------------------------
    @rule(a=st.sampled_from(STATIONS), b=st.sampled_from(STATIONS), duplex=st.booleans())
    def route(self, a, b, duplex):
        if a == b:
            self.refused(BusError, self.bus.route, a, b, duplex)
        elif self.listening(a) or (duplex and self.listening(b)):
            self.refused(RouteConflict, self.bus.route, a, b, duplex)
        else:
            route = self.bus.route(a, b, duplex=duplex)
            assert isinstance(route, Route)
            self.routes[route] = (a, b, duplex)

    # -- broadcasts --------------------------------------------------
    @rule(source=st.sampled_from(STATIONS),
          listeners=st.lists(st.sampled_from(STATIONS), max_size=4, unique=True))
    def broadcast(self, source, listeners):
        if any(self.listening(s) for s in listeners):
            self.refused(RouteConflict, self.bus.broadcast, source, listeners)
        elif source in listeners:
            self.refused(BusError, self.bus.broadcast, source, listeners)
        else:
            cast = self.bus.broadcast(source, listeners)
            assert isinstance(cast, Broadcast)
            self.casts[cast] = (source, set(listeners))

    @precondition(lambda self: self.casts)
    @rule(data=st.data(), listener=st.sampled_from(STATIONS))
    def add_listener(self, data, listener):
        cast = self.pick(data, self.casts)
        source, listeners = self.casts[cast]
        if listener == source:
            self.refused(BusError, self.bus.add_listener, cast, listener)
        elif self.listening(listener):
            self.refused(RouteConflict, self.bus.add_listener, cast, listener)
        else:
            self.bus.add_listener(cast, listener)
            listeners.add(listener)

    @precondition(lambda self: self.casts)
    @rule(data=st.data(), listener=st.sampled_from(STATIONS))
    def remove_listener(self, data, listener):
        cast = self.pick(data, self.casts)
        listeners = self.casts[cast][1]
        if listener not in listeners:
            self.refused(BusError, self.bus.remove_listener, cast, listener)
        else:
            self.bus.remove_listener(cast, listener)
            listeners.discard(listener)

    # -- conferences -------------------------------------------------
    @rule(parties=st.dictionaries(st.sampled_from(STATIONS),
                                  st.sampled_from(("normal", "listen_only", "coach", "pupil")),
                                  min_size=1, max_size=5))
    def conference(self, parties):
        roles = list(parties.values())
        if any(self.listening(s) for s in parties):
            self.refused(RouteConflict, self.bus.conference, DSP, parties)
        elif roles.count("coach") > 1 or roles.count("pupil") > 1:
            self.refused(ConferenceError, self.bus.conference, DSP, parties)
        else:
            conf = self.bus.conference(DSP, parties)
            assert isinstance(conf, Conference)
            self.confs[conf] = dict(parties)

    @precondition(lambda self: self.confs)
    @rule(data=st.data(), party=st.sampled_from(STATIONS),
          role=st.sampled_from(("normal", "listen_only", "coach", "pupil")))
    def add_party(self, data, party, role):
        conf = self.pick(data, self.confs)
        parties = self.confs[conf]
        if self.listening(party):
            self.refused(RouteConflict, self.bus.add_party, conf, party, role)
        elif role in ("coach", "pupil") and role in parties.values():
            self.refused(ConferenceError, self.bus.add_party, conf, party, role)
        else:
            self.bus.add_party(conf, party, role)
            parties[party] = role

    @precondition(lambda self: self.confs)
    @rule(data=st.data(), role=st.sampled_from(("normal", "listen_only", "coach", "pupil")))
    def set_role(self, data, role):
        conf = self.pick(data, self.confs)
        parties = self.confs[conf]
        party = data.draw(st.sampled_from(sorted(parties)))
        if role in ("coach", "pupil") and any(
                r == role for p, r in parties.items() if p != party):
            self.refused(ConferenceError, self.bus.set_role, conf, party, role)
        else:
            self.bus.set_role(conf, party, role)
            parties[party] = role

    @precondition(lambda self: self.confs)
    @rule(data=st.data())
    def remove_party(self, data):
        conf = self.pick(data, self.confs)
        parties = self.confs[conf]
        party = data.draw(st.sampled_from(sorted(parties)))
        self.bus.remove_party(conf, party)
        del parties[party]
        if not parties:
            self.end(conf)
            assert conf.id not in self.bus.conferences

    # -- ending things -----------------------------------------------
    @precondition(lambda self: self.routes or self.casts or self.confs)
    @rule(data=st.data())
    def disconnect(self, data):
        connection = self.pick(data, [*self.routes, *self.casts, *self.confs])
        self.bus.disconnect(connection)
        self.end(connection)

    @rule(endpoint=st.sampled_from(STATIONS))
    def release(self, endpoint):
        self.bus.release(endpoint)
        for route, (a, b, _) in list(self.routes.items()):
            if endpoint in (a, b):
                self.end(route)
        for cast, (source, listeners) in list(self.casts.items()):
            if source == endpoint:
                self.end(cast)
            listeners.discard(endpoint)
        for conf, parties in list(self.confs.items()):
            parties.pop(endpoint, None)
            if not parties:
                self.end(conf)
        assert self.bus.hears(endpoint) is None

    # -- refused requests ---------------------------------------------
    @rule(other=st.sampled_from(STATIONS), which=st.integers(0, 5))
    def unknown_endpoint(self, other, which):
        calls = [
            (self.bus.route, other, UNKNOWN),
            (self.bus.route, UNKNOWN, other, False),
            (self.bus.broadcast, UNKNOWN, [other]),
            (self.bus.broadcast, other, [UNKNOWN]),
            (self.bus.conference, DSP, {UNKNOWN: "normal"}),
            (self.bus.release, UNKNOWN),
        ]
        call, *args = calls[which]
        self.refused(BusError, call, *args)

    @precondition(lambda self: self.casts or self.confs)
    @rule(data=st.data())
    def unknown_endpoint_joins(self, data):
        connection = self.pick(data, [*self.casts, *self.confs])
        if isinstance(connection, Broadcast):
            self.refused(BusError, self.bus.add_listener, connection, UNKNOWN)
        else:
            self.refused(BusError, self.bus.add_party, connection, UNKNOWN, "normal")
            self.refused(BusError, self.bus.set_role, connection, UNKNOWN, "normal")
            self.refused(BusError, self.bus.remove_party, connection, UNKNOWN)

    @precondition(lambda self: self.dead)
    @rule(data=st.data(), endpoint=st.sampled_from(STATIONS))
    def use_ended_connection(self, data, endpoint):
        """A connection that ended can no longer be joined, and ending it
        again is harmless."""
        connection = data.draw(st.sampled_from(self.dead))
        if isinstance(connection, Broadcast) and not self.listening(endpoint):
            self.refused(BusError, self.bus.add_listener, connection, endpoint)
        if isinstance(connection, Conference) and not self.listening(endpoint):
            self.refused(BusError, self.bus.add_party, connection, endpoint, "normal")
        before = map_state(self.bus)
        self.bus.disconnect(connection)
        assert map_state(self.bus) == before

    # -- what must always hold ------------------------------------------
    @invariant()
    def map_is_consistent(self):
        self.bus.check()
        data = self.bus.dump()
        by_name = {e["endpoint"]: e for e in data["endpoints"]}
        assert set(STATIONS) <= set(by_name)
        for name in STATIONS:
            entry = by_name[name]
            assert entry["transmits"] == self.rig.driver.transmit_slot(name)
            assert entry["hears"] == self.bus.hears(name)
            assert (entry["hears"] is None) == (not self.listening(name))
            owner = self.bus.connection_of(name)
            assert entry["connection"] == (owner.describe() if owner else None)
        assert len(data["routes"]) == len(self.routes)
        assert len(data["broadcasts"]) == len(self.casts)
        assert sorted(data["conferences"]) == sorted(c.describe() for c in self.confs)
        for conf, parties in self.confs.items():
            assert conf.parties == parties
        for cast, (source, listeners) in self.casts.items():
            assert cast.source == source and cast.listeners == listeners
        in_use = sum(len(p) for p in self.confs.values())
        assert self.rig.driver.conference_room(DSP) == self.room - in_use
        assert self.rig.sim.misuse() == []

    @invariant()
    def everyone_hears_what_the_map_says(self):
        heard = listen_all(self.rig, self.ends)
        for name in STATIONS:
            assert_hears_exactly(name, heard[name], self.expected(name))


SwitchingMachine.TestCase.settings = settings(
    derandomize=True, deadline=None, max_examples=60, stateful_step_count=30)
test_switching_map_by_ear = SwitchingMachine.TestCase


# -- release ------------------------------------------------------------------
def test_release_tears_down_everything_the_endpoint_is_in(rig, bus, ends):
    """release() ends a route and broadcast the endpoint talks on, removes it as
    a listener and as a conference party, and whoever heard it hears silence."""
    a, b, c, d, e, f, g, h = STATIONS
    bus.route(b, a, duplex=False)              # b hears a (a talks)
    cast = bus.broadcast(a, [c, d])            # c, d hear a
    conf = bus.conference(DSP, {a: "normal", e: "normal", f: "normal"})
    with pytest.raises(RouteConflict):
        bus.route(a, g)                        # a listens to its conference
    bus.route(g, h)
    heard = listen_all(rig, ends)
    assert_hears_exactly(b, heard[b], {a})
    assert_hears_exactly(c, heard[c], {a})
    assert_hears_exactly(e, heard[e], {a, f})
    assert_hears_exactly(a, heard[a], {e, f})

    bus.release(a)
    assert bus.hears(a) is None
    assert bus.routes and all(a not in (r.a, r.b) for r in bus.routes.values())
    assert cast.id not in bus.broadcasts
    assert a not in conf.parties and conf.id in bus.conferences
    heard = listen_all(rig, ends)
    for name in (a, b, c, d):
        assert_hears_exactly(name, heard[name], set())
    assert_hears_exactly(e, heard[e], {f})
    assert_hears_exactly(f, heard[f], {e})
    assert_hears_exactly(g, heard[g], {h})     # untouched
    assert rig.sim.misuse() == []

    bus.release(e)
    bus.release(f)                             # the last party: the conference ends
    assert conf.id not in bus.conferences
    assert rig.driver.conference_room(DSP) == 32
    bus.check()


def test_release_of_a_listener_only_stops_its_hearing(rig, bus, ends):
    """Released as listener of a half-duplex route or a broadcast, the endpoint
    stops hearing; the talker and the other listeners are not affected."""
    a, b, c, d = STATIONS[:4]
    route = bus.route(a, b, duplex=False)
    cast = bus.broadcast(c, [b, d])
    bus.release(a)
    assert route.id not in bus.routes
    assert bus.hears(b) == rig.driver.transmit_slot(c)
    bus.release(b)
    assert cast.listeners == {d} and cast.id in bus.broadcasts
    heard = listen_all(rig, ends)
    assert_hears_exactly(a, heard[a], set())
    assert_hears_exactly(b, heard[b], set())
    assert_hears_exactly(d, heard[d], {c})


def test_release_of_a_duplex_route_end_frees_both(rig, bus, ends):
    a, b = STATIONS[:2]
    bus.route(a, b)
    bus.release(b)
    assert bus.hears(a) is None and bus.hears(b) is None and not bus.routes
    heard = listen_all(rig, ends)
    assert_hears_exactly(a, heard[a], set())
    bus.route(b, a)                            # both are free again


# -- broadcast ----------------------------------------------------------------
def test_music_on_hold_one_source_five_listeners(rig, bus, ends):
    """One source is heard by five listeners; the source hears nothing; a
    listener that leaves hears silence while the others keep the music."""
    moh, *rest = STATIONS
    listeners = rest[:5]
    cast = bus.broadcast(moh, listeners)
    heard = listen_all(rig, ends)
    for name in listeners:
        assert_hears_exactly(name, heard[name], {moh})
    for name in [moh, *rest[5:]]:
        assert_hears_exactly(name, heard[name], set())
    assert sorted(rig.sim.slot_listeners(rig.driver.transmit_slot(moh))) == sorted(listeners)

    bus.remove_listener(cast, listeners[0])
    bus.add_listener(cast, rest[5])
    heard = listen_all(rig, ends)
    assert_hears_exactly(listeners[0], heard[listeners[0]], set())
    assert_hears_exactly(rest[5], heard[rest[5]], {moh})

    bus.disconnect(cast)
    heard = listen_all(rig, ends)
    for name in STATIONS:
        assert_hears_exactly(name, heard[name], set())
    with pytest.raises(BusError):
        bus.add_listener(cast, listeners[0])      # it ended
    bus.check()


def test_broadcast_refusals_change_nothing(bus):
    a, b, c = STATIONS[:3]
    bus.route(b, c)
    before = map_state(bus)
    with pytest.raises(BusError):
        bus.broadcast(a, [a])
    with pytest.raises(RouteConflict) as caught:
        bus.broadcast(a, [b])
    assert "route" in str(caught.value) and b in str(caught.value)
    with pytest.raises(BusError):
        bus.broadcast(a, [UNKNOWN])
    with pytest.raises(BusError):
        bus.broadcast(UNKNOWN, [a])
    with pytest.raises(BusError):
        bus.broadcast(a, [STATIONS[4], STATIONS[4]])
    assert map_state(bus) == before


# -- conferences -------------------------------------------------------------
def test_three_party_conference_with_monitor_and_coach(rig, bus, ends):
    """Caller, agent and a third party each hear the other two; a
    receive-only supervisor hears all three and is heard by no one; as a
    coach the supervisor is heard by the agent (the pupil) alone."""
    caller, agent, third, sup, outsider = STATIONS[:5]
    conf = bus.conference(DSP, {caller: "normal", agent: "normal", third: "normal"})
    heard = listen_all(rig, ends)
    assert_hears_exactly(caller, heard[caller], {agent, third})
    assert_hears_exactly(agent, heard[agent], {caller, third})
    assert_hears_exactly(third, heard[third], {caller, agent})
    assert_hears_exactly(outsider, heard[outsider], set())

    bus.add_party(conf, sup, "listen_only")
    heard = listen_all(rig, ends)
    assert_hears_exactly(sup, heard[sup], {caller, agent, third})
    for name in (caller, agent, third):
        assert sup not in talkers_heard(heard[name]), f"{name} hears the silent monitor"

    bus.set_role(conf, agent, "pupil")
    bus.set_role(conf, sup, "coach")
    heard = listen_all(rig, ends)
    assert_hears_exactly(agent, heard[agent], {caller, third, sup})
    assert_hears_exactly(caller, heard[caller], {agent, third})
    assert_hears_exactly(third, heard[third], {caller, agent})
    assert_hears_exactly(sup, heard[sup], {caller, agent, third})

    bus.disconnect(conf)
    heard = listen_all(rig, ends)
    for name in STATIONS:
        assert_hears_exactly(name, heard[name], set())
    assert rig.driver.conference_room(DSP) >= 8


def test_eight_party_conference(rig, bus, ends):
    """A full eight-party conference: everyone hears the seven others."""
    bus.conference(DSP, {name: "normal" for name in STATIONS})
    heard = listen_all(rig, ends)
    for name in STATIONS:
        assert_hears_exactly(name, heard[name], set(STATIONS) - {name})


# -- routes -------------------------------------------------------------------
def test_full_and_half_duplex_routes_by_ear(rig, bus, ends):
    a, b, c, d = STATIONS[:4]
    full = bus.route(a, b)
    half = bus.route(c, d, duplex=False)
    heard = listen_all(rig, ends)
    assert_hears_exactly(a, heard[a], {b})
    assert_hears_exactly(b, heard[b], {a})
    assert_hears_exactly(c, heard[c], {d})
    assert_hears_exactly(d, heard[d], set())
    with pytest.raises(RouteConflict) as caught:
        bus.route(a, c)
    assert full.describe() in str(caught.value)
    bus.route(d, a, duplex=False)     # d is free to listen: a talks to b and d
    bus.disconnect(half)
    heard = listen_all(rig, ends)
    assert_hears_exactly(c, heard[c], set())
    assert_hears_exactly(d, heard[d], {a})
    assert "drop " + half.describe() in bus.dump()["history"]


def test_route_to_an_unknown_endpoint_names_it(bus):
    with pytest.raises(BusError) as caught:
        bus.route(STATIONS[0], UNKNOWN)
    assert UNKNOWN in str(caught.value)
    with pytest.raises(BusError):
        bus.route(STATIONS[0], STATIONS[0])
    assert bus.hears(STATIONS[0]) is None


def test_a_failed_route_is_rolled_back(rig, bus):
    """If the board refuses the second half of a duplex route, the first
    half is undone."""
    a, b = STATIONS[:2]
    rig.driver.close(b)
    with pytest.raises(errors.DriverError):
        bus.route(a, b)
    assert bus.hears(a) is None and not bus.routes
    assert rig.driver.status(a)["listen"] is None


# -- power-on routes and check() ----------------------------------------------
def test_power_on_routes_of_analog_channels_are_adopted():
    """Analog boards power up with each voice channel and its line hearing
    each other; the map records that as a duplex route, so the channel is
    busy until released, and release really frees both."""
    rig = Rig([{"type": "analog", "lines": 2}, {"type": "stations", "count": 2}])
    bus = SwitchingMap(rig.driver)
    d = rig.driver
    for ch in ("dxxxB1C1", "dxxxB1C2"):
        line = ch + "/line"
        route = bus.connection_of(ch)
        assert isinstance(route, Route) and {route.a, route.b} == {ch, line} and route.duplex
        assert bus.hears(ch) == d.line_transmit_slot(ch)
        assert bus.hears(line) == d.transmit_slot(ch)
        assert rig.sim.slot_listeners(d.line_transmit_slot(ch)) == [ch]
    assert len(bus.routes) == 2
    bus.check()
    with pytest.raises(RouteConflict):
        bus.route("dxxxB1C1", "msiB1C1")
    bus.release("dxxxB1C1/line")
    assert bus.hears("dxxxB1C1") is None and bus.hears("dxxxB1C1/line") is None
    assert rig.sim.slot_listeners(d.line_transmit_slot("dxxxB1C1")) == []
    bus.route("msiB1C1", "dxxxB1C1/line")      # the agent talks to the caller
    bus.route("dxxxB1C1", "msiB1C2", duplex=False)
    bus.check()


def test_check_catches_a_listen_behind_the_maps_back(rig, bus):
    a, b = STATIONS[:2]
    bus.check()
    rig.driver.listen(a, rig.driver.transmit_slot(b))
    with pytest.raises(AssertionError) as caught:
        bus.check()
    assert a in str(caught.value)


def test_check_catches_an_unlisten_behind_the_maps_back(rig, bus):
    a, b = STATIONS[:2]
    bus.route(a, b)
    rig.driver.unlisten(b)
    with pytest.raises(AssertionError) as caught:
        bus.check()
    assert b in str(caught.value)


def test_dump_and_history(bus):
    a, b, c = STATIONS[:3]
    route = bus.route(a, b)
    conf = bus.conference(DSP, {c: "normal"})
    data = bus.dump()
    entry = {e["endpoint"]: e for e in data["endpoints"]}
    assert entry[a]["hears"] == entry[b]["transmits"]
    assert entry[a]["connection"] == route.describe()
    assert entry[c]["connection"] == conf.describe()
    assert data["routes"] == [route.describe()]
    assert data["conferences"] == [conf.describe()]
    assert data["history"] == [route.describe(), conf.describe()]


# -- stations ------------------------------------------------------------------
STATION = "msiB1C1"


def test_ringing_runs_out_of_cycles(rig):
    """Two cycles of the default cadence (2 s on, 4 s off) end with
    station_ring_done and no station_answered; the far end sees the ring."""
    rig.driver.ring_station(STATION, 2)
    rig.run(100)
    assert rig.sim.endpoint(STATION).state == "ringing"
    assert rig.driver.status(STATION)["hook"] == "on"
    rig.run(11_500)
    assert rig.of("station_ring_done", STATION) == []
    rig.wait_for("station_ring_done", STATION, within_ms=1_000)
    assert rig.of("station_answered") == []
    assert rig.sim.endpoint(STATION).state == "idle"
    rig.driver.ring_station(STATION, 1)         # it can ring again
    rig.wait_for("station_ring_done", STATION, within_ms=6_100)


def test_stop_ring_ends_with_ring_done(rig):
    rig.driver.ring_station(STATION, 10, cadence="short")
    rig.run(500)
    rig.driver.stop_ring(STATION)
    rig.run(20)
    assert len(rig.of("station_ring_done", STATION)) == 1
    assert rig.sim.endpoint(STATION).state == "idle"


def test_offhook_while_ringing_answers(rig):
    rig.driver.enable_station_events(STATION)
    rig.driver.ring_station(STATION, 5)
    rig.run(3_000)
    rig.sim.endpoint(STATION).offhook()
    rig.wait_for("station_answered", STATION, within_ms=100)
    rig.run(20_000)
    assert rig.of("station_ring_done", STATION) == []
    assert rig.driver.station_offhook(STATION)
    assert rig.sim.endpoint(STATION).state == "connected"


def test_hook_and_flash_events(rig):
    rig.driver.enable_station_events(STATION)
    fe = rig.sim.endpoint(STATION)
    fe.offhook()
    assert rig.wait_for("station_hook", STATION, within_ms=100)["offhook"] is True
    assert rig.driver.station_offhook(STATION)
    fe.flash()
    rig.wait_for("station_flash", STATION, within_ms=100)
    fe.onhook()
    assert rig.wait_for("station_hook", STATION, within_ms=100,
                        where=lambda e: not e["offhook"])["offhook"] is False
    assert not rig.driver.station_offhook(STATION)
    kinds = [e.kind for e in rig.events if e.device == STATION]
    assert kinds == ["station_hook", "station_flash", "station_hook"]


def test_no_hook_events_unless_enabled(rig):
    fe = rig.sim.endpoint(STATION)
    fe.offhook()
    fe.flash()
    fe.onhook()
    rig.run(100)
    assert [e for e in rig.events if e.device == STATION] == []


TONE_FREQS = {"dial": (350, 440), "ringback": (440, 480), "busy": (480, 620),
              "reorder": (480, 620)}


@pytest.mark.parametrize("name", ["dial", "ringback", "busy"])
def test_station_tone_reaches_the_earpiece(rig, name):
    """The station's own tone reaches the far end: its call-progress detector
    names it, and both frequencies are there (others are not)."""
    fe = rig.sim.endpoint(STATION)
    fe.offhook()
    fe.capture()
    rig.driver.station_tone(STATION, name)
    rig.run(6_000 if name == "ringback" else 2_500)
    assert fe.heard_tone() == name
    samples = fe.read_capture()
    f1, f2 = TONE_FREQS[name]
    assert power_at(samples, f1) > 1e5 and power_at(samples, f2) > 1e5
    others = {350, 440, 480, 620} - {f1, f2}
    assert all(power_at(samples, f) < 1e3 for f in others)
    rig.driver.station_tone(STATION, None)
    rig.run(100)
    fe.read_capture()
    rig.run(500)
    assert mean_square(fe.read_capture()) < 1.0


def test_station_tone_mixes_with_what_the_station_hears(rig, bus, ends):
    a, b = STATIONS[:2]
    bus.route(a, b, duplex=False)
    rig.driver.station_tone(a, "dial")
    heard = listen_all(rig, ends)[a]
    assert power_at(heard, FREQS[b]) > PRESENT
    assert power_at(heard, 440) > 1e5


def test_ringing_an_offhook_phone_is_refused_clearly(rig):
    rig.sim.endpoint(STATION).offhook()
    with pytest.raises(errors.BoardError) as caught:
        rig.driver.ring_station(STATION, 2)
    assert "off-hook" in str(caught.value) and STATION in str(caught.value)
    assert caught.value.function == "ms_genringex"
    rig.run(100)
    assert rig.of("station_ring_done") == [] and rig.of("station_answered") == []


def test_ringing_twice_is_refused(rig):
    rig.driver.ring_station(STATION, 2)
    with pytest.raises(errors.BoardError) as caught:
        rig.driver.ring_station(STATION, 2)
    assert "ringing" in str(caught.value)


def test_an_onhook_phone_hears_and_says_nothing(rig, bus):
    a, b = STATIONS[:2]
    ends = start_talking(rig, [a, b])
    bus.route(a, b)
    ends[b].onhook()                         # b hangs up: its tone stops too
    heard = listen_all(rig, {a: ends[a]})
    assert_hears_exactly(a, heard[a], set())
    ends[b].capture()
    rig.run(200)
    assert mean_square(ends[b].read_capture()) == 0
