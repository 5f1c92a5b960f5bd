# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_ctbus -*-
"""Who transmits where and who listens to what: the switching map.

On an H.100 bus every device transmits on one fixed timeslot; switching
is only ever choosing what each device *listens* to.  This map is the one
owner of those choices.  Everything that connects audio goes through it,
so it can refuse a connection that would silently break another, tear down
everything a released device took part in, and check itself against the
board after every change.

Endpoints are named as the driver names devices, plus "/line" for the
line side of an analog channel::

    dtiB1T1           a T1 timeslot (the caller)
    dxxxB1C1          a voice resource (prompts, digits)
    dxxxB1C1/line     the analog line paired with that voice resource
    msiB1C3           an agent's phone

Connections:

    route(a, b)                 full duplex: a hears b, b hears a
    route(a, b, duplex=False)   half duplex: a hears b only
    broadcast(src, [l1, l2])    one source, many listeners (music on hold)
    conference(dsp, {a: "normal", sup: "listen_only", coach: "coach",
                     agent: "pupil"})

An endpoint listens to one thing at a time; asking it to listen to a
second raises RouteConflict naming the first (release or disconnect it
first).  `release(endpoint)` undoes everything the endpoint takes part in,
including what others hear from it.  `dump()` returns the map for
diagnostics (`linediag bus`).
"""
import itertools
from collections import deque
from dataclasses import dataclass, field

from twisted.logger import Logger

from drivers.errors import DriverError

HISTORY = 200


class BusError(Exception):
    """A request the map cannot carry out; says which endpoint and why."""


class RouteConflict(BusError):
    """The endpoint already listens to something."""


@dataclass(eq=False)
class Route:
    id: int
    a: str
    b: str
    duplex: bool

    def describe(self):
        arrow = "<->" if self.duplex else "<-"
        return f"route {self.id}: {self.a} {arrow} {self.b}"


@dataclass(eq=False)
class Broadcast:
    id: int
    source: str
    listeners: set = field(default_factory=set)

    def describe(self):
        return f"broadcast {self.id}: {self.source} -> {', '.join(sorted(self.listeners))}"


@dataclass(eq=False)
class Conference:
    id: int
    dsp: str
    board_id: int
    parties: dict = field(default_factory=dict)     # endpoint -> role
    outputs: dict = field(default_factory=dict)     # endpoint -> output slot

    def describe(self):
        who = ", ".join(f"{e} ({r})" for e, r in sorted(self.parties.items()))
        return f"conference {self.id} on {self.dsp}: {who}"


class SwitchingMap:
    """The switching map over one driver's boards."""

    def __init__(self, driver, log=None):
        """`log`: where every change is logged at debug level (a
        twisted.logger.Logger; the CT server gives one that drops debug
        events before building them, cti.logs.Logger)."""
        self.driver = driver
        self.log = log or Logger()
        self._ids = itertools.count(1)
        self._tx = {}            # endpoint -> its transmit slot
        self._driver_of = {}     # slot -> endpoint
        self._hears = {}         # endpoint -> (slot, owner connection)
        self.routes = {}
        self._routes_of = {}     # endpoint -> {route id: route} it is an end of
        self.broadcasts = {}
        self.conferences = {}
        self.history = deque(maxlen=HISTORY)
        self._touched = set()    # endpoints changed since the last check
        for info in driver.inventory():
            if info.slot is not None and info.kind in ("voice", "line", "timeslot", "station"):
                endpoint = info.name
                self._tx[endpoint] = info.slot
                self._driver_of[info.slot] = endpoint
        self._adopt_power_on_routes()

    # -- endpoints -----------------------------------------------------
    def _adopt_power_on_routes(self):
        """Analog boards power up with each channel and its line routed to
        each other; record that as a route so the map matches the board."""
        for endpoint in list(self._tx):
            if endpoint.endswith("/line"):
                channel = endpoint[: -len("/line")]
                status = self.driver.status(channel)
                if status.get("listen") is None:
                    continue
                route = Route(next(self._ids), channel, endpoint, True)
                self._add_route(route)
                self._hears[channel] = (self._tx[endpoint], route)
                self._hears[endpoint] = (self._tx[channel], route)

    def slot_of(self, endpoint):
        try:
            return self._tx[endpoint]
        except KeyError:
            raise BusError(f"{endpoint!r} is not a bus endpoint (voice, line, timeslot "
                           "or station)") from None

    def hears(self, endpoint):
        """The slot the endpoint listens to, or None."""
        self.slot_of(endpoint)
        entry = self._hears.get(endpoint)
        return entry[0] if entry else None

    def connection_of(self, endpoint):
        entry = self._hears.get(endpoint)
        return entry[1] if entry else None

    def _listen(self, endpoint, slot, owner):
        if endpoint in self._hears:
            current = self._hears[endpoint][1]
            raise RouteConflict(f"{endpoint} already listens ({current.describe()}): "
                                "release or disconnect it first")
        if endpoint.endswith("/line"):
            self.driver.line_listen(endpoint[: -len("/line")], slot)
        else:
            self.driver.listen(endpoint, slot)
        self._hears[endpoint] = (slot, owner)
        self._touched.add(endpoint)

    def _unlisten(self, endpoint):
        if endpoint not in self._hears:
            return
        if endpoint.endswith("/line"):
            self.driver.line_unlisten(endpoint[: -len("/line")])
        else:
            self.driver.unlisten(endpoint)
        del self._hears[endpoint]
        self._touched.add(endpoint)

    def _record(self, what):
        self.history.append(what)
        self.log.debug("ctbus: {what}", what=what)

    def _free(self, *endpoints):
        """Every endpoint exists (checked first) and listens to nothing."""
        for endpoint in endpoints:
            self.slot_of(endpoint)
        for endpoint in endpoints:
            if endpoint in self._hears:
                raise RouteConflict(f"{endpoint} already listens "
                                    f"({self._hears[endpoint][1].describe()}): release or "
                                    "disconnect it first")

    # -- routes --------------------------------------------------------
    def route(self, a, b, duplex=True):
        """Connect a and b: a hears b, and b hears a when duplex."""
        if a == b:
            raise BusError(f"cannot route {a} to itself")
        self.slot_of(b)
        self._free(a, *([b] if duplex else []))
        route = Route(next(self._ids), a, b, duplex)
        self._listen(a, self.slot_of(b), route)
        if duplex:
            try:
                self._listen(b, self.slot_of(a), route)
            except (DriverError, BusError):
                self._unlisten(a)
                raise
        self._add_route(route)
        self._record(route.describe())
        self._check_touched()
        return route

    def _add_route(self, route):
        self.routes[route.id] = route
        for endpoint in (route.a, route.b):
            self._routes_of.setdefault(endpoint, {})[route.id] = route

    def disconnect(self, connection):
        """Undo a route, a broadcast or a conference."""
        if isinstance(connection, Route):
            self._drop_route(connection)
        elif isinstance(connection, Broadcast):
            for listener in list(connection.listeners):
                self._unlisten(listener)
            self.broadcasts.pop(connection.id, None)
            self._record(f"end broadcast {connection.id}")
        elif isinstance(connection, Conference):
            self._end_conference(connection)
        else:
            raise BusError(f"{connection!r} is not a connection of this map")
        self._check_touched()

    def _drop_route(self, route):
        for endpoint in (route.a, route.b):
            entry = self._hears.get(endpoint)
            if entry and entry[1] is route:
                self._unlisten(endpoint)
        self.routes.pop(route.id, None)
        for endpoint in (route.a, route.b):
            mine = self._routes_of.get(endpoint)
            if mine is not None:
                mine.pop(route.id, None)
                if not mine:
                    del self._routes_of[endpoint]
        self._record(f"drop {route.describe()}")

    # -- broadcast -----------------------------------------------------
    def broadcast(self, source, listeners=()):
        """One source heard by many: music on hold, announcements."""
        self.slot_of(source)
        listeners = list(listeners)
        self._free(*listeners)
        if source in listeners:
            raise BusError(f"{source} cannot listen to its own broadcast")
        cast = Broadcast(next(self._ids), source)
        self.broadcasts[cast.id] = cast
        try:
            for listener in listeners:
                self.add_listener(cast, listener, check=False)
        except (DriverError, BusError):
            self.disconnect(cast)
            raise
        self._record(cast.describe())
        self._check_touched()
        return cast

    def add_listener(self, cast, listener, check=True):
        if self.broadcasts.get(cast.id) is not cast:
            raise BusError(f"broadcast {cast.id} has ended: start a new one")
        if listener == cast.source:
            raise BusError(f"{listener} cannot listen to its own broadcast")
        self._free(listener)
        self._listen(listener, self.slot_of(cast.source), cast)
        cast.listeners.add(listener)
        if check:
            self._record(f"{listener} joins broadcast {cast.id}")
            self._check_touched()

    def remove_listener(self, cast, listener):
        if listener not in cast.listeners:
            raise BusError(f"{listener} does not listen to broadcast {cast.id}")
        self._unlisten(listener)
        cast.listeners.discard(listener)
        self._record(f"{listener} leaves broadcast {cast.id}")
        self._check_touched()

    # -- conferences ---------------------------------------------------
    def conference(self, dsp, parties):
        """A conference on a DSP: parties {endpoint: role}."""
        parties = dict(parties)
        if not parties:
            raise BusError("a conference needs at least one party")
        self._free(*parties)
        board_id, outputs = self.driver.conference_create(
            dsp, [(self.slot_of(e), role) for e, role in parties.items()])
        conf = Conference(next(self._ids), dsp, board_id)
        self.conferences[conf.id] = conf
        by_slot = {self.slot_of(e): e for e in parties}
        try:
            for slot, out in outputs.items():
                endpoint = by_slot[slot]
                conf.parties[endpoint] = parties[endpoint]
                conf.outputs[endpoint] = out
                self._listen(endpoint, out, conf)
        except (DriverError, BusError):
            self._end_conference(conf)
            raise
        self._record(conf.describe())
        self._check_touched()
        return conf

    def add_party(self, conf, endpoint, role="normal"):
        if self.conferences.get(conf.id) is not conf:
            raise BusError(f"conference {conf.id} has ended: start a new one")
        self._free(endpoint)
        out = self.driver.conference_add(conf.dsp, conf.board_id, self.slot_of(endpoint), role)
        conf.parties[endpoint] = role
        conf.outputs[endpoint] = out
        self._listen(endpoint, out, conf)
        self._record(f"{endpoint} joins conference {conf.id} as {role}")
        self._check_touched()

    def set_role(self, conf, endpoint, role):
        if endpoint not in conf.parties:
            raise BusError(f"{endpoint} is not in conference {conf.id}")
        self.driver.conference_set_role(conf.dsp, conf.board_id, self.slot_of(endpoint), role)
        conf.parties[endpoint] = role
        self._record(f"{endpoint} is now {role} in conference {conf.id}")

    def remove_party(self, conf, endpoint):
        if endpoint not in conf.parties:
            raise BusError(f"{endpoint} is not in conference {conf.id}")
        self._unlisten(endpoint)
        self.driver.conference_remove(conf.dsp, conf.board_id, self.slot_of(endpoint))
        del conf.parties[endpoint]
        del conf.outputs[endpoint]
        if not conf.parties:
            self.conferences.pop(conf.id, None)   # the board ended it with its last party
        self._record(f"{endpoint} leaves conference {conf.id}")
        self._check_touched()

    def _end_conference(self, conf):
        for endpoint in list(conf.parties):
            self._unlisten(endpoint)
        if conf.parties or conf.id in self.conferences:
            try:
                self.driver.conference_delete(conf.dsp, conf.board_id)
            except DriverError:
                pass   # already ended by its last party leaving
        conf.parties.clear()
        conf.outputs.clear()
        self.conferences.pop(conf.id, None)
        self._record(f"end conference {conf.id}")

    # -- release -------------------------------------------------------
    def release(self, endpoint):
        """Tear down everything the endpoint takes part in."""
        slot = self.slot_of(endpoint)
        for route in list(self._routes_of.get(endpoint, {}).values()):
            self._drop_route(route)
        for cast in list(self.broadcasts.values()):
            if cast.source == endpoint:
                for listener in list(cast.listeners):
                    self._unlisten(listener)
                del self.broadcasts[cast.id]
                self._record(f"end broadcast {cast.id} (source released)")
            elif endpoint in cast.listeners:
                self._unlisten(endpoint)
                cast.listeners.discard(endpoint)
        for conf in list(self.conferences.values()):
            if endpoint in conf.parties:
                self._unlisten(endpoint)
                self.driver.conference_remove(conf.dsp, conf.board_id, slot)
                del conf.parties[endpoint]
                del conf.outputs[endpoint]
                if not conf.parties:
                    del self.conferences[conf.id]
        self._unlisten(endpoint)
        self._record(f"release {endpoint}")
        self._check_touched()

    # -- checking and diagnostics --------------------------------------
    def _check_touched(self):
        """After every change: `check` the endpoints it touched (a full
        check visits every endpoint of the chassis, too slow per call)."""
        touched, self._touched = self._touched, set()
        self.check(touched)

    def check(self, endpoints=None):
        """Raise AssertionError if the map is inconsistent with itself or
        with what the driver says each device listens to; all endpoints,
        or only `endpoints`."""
        problems = []
        conf_outputs = {out: (c, e) for c in self.conferences.values()
                        for e, out in c.outputs.items()}
        scope = self._tx if endpoints is None else endpoints
        hears = self._hears.items() if endpoints is None else [
            (e, self._hears[e]) for e in endpoints if e in self._hears]
        for endpoint, (slot, owner) in hears:
            if slot not in self._driver_of and slot not in conf_outputs:
                problems.append(f"{endpoint} hears slot {slot}, which nothing drives")
            if isinstance(owner, Route):
                if owner.id not in self.routes:
                    problems.append(f"{endpoint} held by a dropped route {owner.id}")
                elif endpoint == owner.a and slot != self._tx[owner.b]:
                    problems.append(f"{endpoint} should hear {owner.b}")
                elif endpoint == owner.b and slot != self._tx[owner.a]:
                    problems.append(f"{endpoint} should hear {owner.a}")
            elif isinstance(owner, Broadcast):
                if slot != self._tx[owner.source] or endpoint not in owner.listeners:
                    problems.append(f"{endpoint} is not in broadcast {owner.id} as recorded")
            elif isinstance(owner, Conference):
                if owner.outputs.get(endpoint) != slot:
                    problems.append(f"{endpoint} does not hear its conference output")
        for endpoint in scope:
            device = endpoint[: -len("/line")] if endpoint.endswith("/line") else endpoint
            status = self.driver.status(device)
            actual = status.get("line_listen") if endpoint.endswith("/line") else status.get(
                "listen")
            expected = self._hears.get(endpoint, (None,))[0]
            if actual != expected:
                problems.append(f"{endpoint}: driver says it hears {actual}, map says "
                                f"{expected}")
        if problems:
            raise AssertionError("switching map inconsistent: " + "; ".join(problems))

    def dump(self):
        """The whole map as plain data."""
        return {
            "endpoints": [
                {"endpoint": e, "transmits": s, "hears": self._hears.get(e, (None,))[0],
                 "connection": (self._hears[e][1].describe() if e in self._hears else None)}
                for e, s in sorted(self._tx.items(), key=lambda kv: kv[1])
            ],
            "routes": [r.describe() for r in self.routes.values()],
            "broadcasts": [b.describe() for b in self.broadcasts.values()],
            "conferences": [c.describe() for c in self.conferences.values()],
            "history": list(self.history),
        }
