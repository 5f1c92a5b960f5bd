# SPDX-License-Identifier: GPL-2.0-or-later
"""Hostile frames for the protocol, and a scene to throw them at: shared by
tests/test_fuzz.py (hypothesis, bounded) and bench/fuzz.py (a million
frames, measured).

`Scene` is the whole server in virtual time (tests.centre.Centre) with a
caller in the IVR, one in a queue and one talking to agent 1005, and a
session of each kind on an in-memory transport: before login, flow, agent,
supervisor, admin (logged in directly: the fuzz is of what comes after a
login; Login itself is fuzzed on the session that has none).  `Scene.send`
writes bytes to one session and reads what came back; `Scene.audit` says
whether every request got exactly one answer.

The frames (`frames`, hypothesis strategies) are requests for every
service of the catalogue with parameters of every kind: right types with
hostile content (lone surrogates, control characters, NaN, numbers no
client can hold, very long strings, deep nesting), wrong types, unknown
fields, the ids of the live calls, agents, queues and devices; and bodies
and headers that are not frames at all.
"""
import json
import struct
from collections import Counter

from hypothesis import strategies as st
from twisted.internet.testing import StringTransport

from cti.protocol.framing import Framer
from cti.protocol.server import Session
from cti.server.config import load_server_config
from tests.centre import Centre

CONFIG = load_server_config("etc/cti.toml")
USER_OF_ROLE = {"flow": "ivr", "agent": "1005", "supervisor": "sup", "admin": "admin"}
#: The frame headers a well-formed request has, before its body.
HEADER = struct.Struct(">IBBI")


def frame(invoke_id, body, version=1, kind=1):
    """The bytes of one frame (`body`: bytes, or text to encode)."""
    payload = body if isinstance(body, bytes) else body.encode("utf-8", "surrogatepass")
    return HEADER.pack(6 + len(payload), version, kind, invoke_id) + payload


class Peer:
    """One session on an in-memory transport, and what it received."""

    def __init__(self, hub, source):
        self.hub, self.source = hub, source
        self.received = []                    # (kind, invoke id, body)
        self.connect()

    def connect(self):
        """A new connection from the same place (what it received is kept)."""
        self.session = Session(self.hub, self.source)
        self.transport = StringTransport()
        self.session.makeConnection(self.transport)
        self.framer = Framer()

    def read(self):
        data = self.transport.value()
        self.transport.clear()
        for invoke_id, item in self.framer.feed(data):
            self.received.append((item.kind, invoke_id, item.body))


class Scene:
    """The server with calls in every phase and a session per role."""

    def __init__(self):
        self.centre = centre = Centre(CONFIG)
        hub = centre.hub
        hub.heartbeat_s = 3600            # no session closes for silence while time runs
        self.peers = {"anonymous": Peer(hub, "10.0.0.9")}
        for role, user in USER_OF_ROLE.items():
            peer = Peer(hub, f"10.0.0.{len(self.peers)}")
            peer.session.machine.fire("login")
            peer.session.machine.fire("accepted")
            peer.session.logged_in(hub.users[user], role, "fuzz")
            self.peers[role] = peer
        self.sent = Counter()                 # (role, invoke id) -> requests sent
        self._next_id = {role: 1 for role in self.peers}
        self._setup()

    def _request(self, role, service, **params):
        invoke_id = self.next_id(role)
        body = {"service": service, **({"params": params} if params else {})}
        self.peers[role].session.dataReceived(frame(invoke_id, json.dumps(body)))
        self.sent[(role, invoke_id)] += 1

    def _setup(self):
        c = self.centre
        self._request("flow", "RouteRegister")
        self._request("agent", "SetAgentState", state="loggedOn", station="msiB1C5")
        self._request("agent", "SetAgentState", state="ready")
        c.sim.endpoint("dtiB1T1").call(ani="2125550001", dnis="5550199")   # to agent 1005
        phone = c.sim.endpoint("msiB1C5")
        c.run_until(lambda: phone.state == "ringing", what="1005's phone rings")
        phone.offhook()
        c.sim.endpoint("dtiB1T2").call(ani="2125550002", dnis="5550199")   # waits in support
        c.sim.endpoint("dtiB1T3").call(ani="2125550003", dnis="5550100")   # in the IVR
        c.run_until(lambda: len(c.center.calls) == 3 and c.center.acd.entries,
                    what="a caller waits and one is in the IVR")
        self.collect()

    def next_id(self, role):
        invoke_id = self._next_id[role]
        self._next_id[role] = invoke_id % 0xFFFFFFFE + 1
        return invoke_id

    def ids(self):
        """What names the live objects, for parameters that hit them."""
        c = self.centre.center
        return {"call": sorted(c.model.calls) or ["c1"], "agent": sorted(c.acd.agents),
                "queue": sorted(c.acd.queues), "device": sorted(c.channels.by_name)[:40]}

    def send(self, role, data, counted_ids=()):
        """Bytes to one session; `counted_ids`: the invoke ids of the
        requests in them, each of which must get exactly one answer."""
        peer = self.peers[role]
        if peer.session.closed:
            return False
        peer.session.dataReceived(data)
        for invoke_id in counted_ids:
            self.sent[(role, invoke_id)] += 1
        return True

    def reopen(self, role):
        """The session of `role` closed (the server closed it): a new one
        (only for the session that has not logged in)."""
        peer = self.peers[role]
        peer.read()
        peer.connect()

    def collect(self):
        for peer in self.peers.values():
            peer.read()

    def run(self, ms):
        self.centre.run(ms)
        self.collect()

    def answers(self):
        """(role, invoke id) -> how many responses and errors it got."""
        got = Counter()
        for role, peer in self.peers.items():
            for kind, invoke_id, _ in peer.received:
                if kind in ("response", "error") and invoke_id:
                    got[(role, invoke_id)] += 1
        return got

    def audit(self):
        """Every request answered exactly once: the (role, invoke id)
        answered other than once, with the counts (empty when all is well)."""
        got = self.answers()
        return {key: (n, got.get(key, 0)) for key, n in self.sent.items()
                if got.get(key, 0) != n} | {key: (0, n) for key, n in got.items()
                                             if key not in self.sent}

    def internal_errors(self):
        return [(role, body) for role, peer in self.peers.items()
                for kind, _, body in peer.received
                if kind == "error" and body.get("code") == "internal_error"]


# -- hostile values ------------------------------------------------------------------
SURROGATES = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
nasty_text = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.one_of(SURROGATES, st.characters(max_codepoint=0x7F)), max_size=8),
    st.sampled_from(["\x00", "\x1b[2J", "a\nb", "\u2028", "\ufeff", "é" * 300, "x" * 70_000]),
)
numbers = st.one_of(
    st.integers(-10, 10), st.integers(-(2 ** 70), 2 ** 70),
    st.sampled_from([2 ** 53, -(2 ** 53), 10 ** 30]),
    st.floats(allow_nan=True, allow_infinity=True),
)
json_values = st.recursive(
    st.none() | st.booleans() | numbers | nasty_text,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(nasty_text, inner, max_size=4),
    max_leaves=12)


def dumps(value):
    """JSON as a hostile client writes it: lone surrogates as \\u escapes,
    NaN and Infinity as bare words."""
    return json.dumps(value, ensure_ascii=True, allow_nan=True)


def param_value(field, ids):
    """A value for one field: often of its type, with hostile content or a
    live object's id; sometimes anything at all."""
    typed = {
        str: st.one_of(nasty_text, *(st.sampled_from(v) for v in ids.values())),
        int: numbers, float: numbers, bool: st.booleans(),
        list: st.lists(json_values, max_size=70), dict: st.dictionaries(nasty_text,
                                                                       json_values,
                                                                       max_size=6),
    }[field.type]
    if field.choices:
        typed = st.one_of(st.sampled_from(field.choices), typed)
    return st.one_of(typed, typed, typed, json_values)


@st.composite
def requests(draw, catalogue, ids):
    """(role, JSON text of a request body)."""
    service = draw(st.sampled_from(catalogue.services()))
    role = draw(st.sampled_from(sorted(service.roles) + ["anonymous"]))
    params = {}
    for name, field in service.fields.items():
        if draw(st.integers(0, 3)):
            params[name] = draw(param_value(field, ids))
    if draw(st.integers(0, 9)) == 0:
        params[draw(nasty_text)] = draw(json_values)
    body = {"service": service.name}
    shape = draw(st.integers(0, 19))
    if shape == 0:
        body["service"] = draw(nasty_text)
    elif shape == 1:
        body["extra"] = draw(json_values)
    if params or draw(st.booleans()):
        body["params"] = params if shape != 2 else draw(json_values)
    return role, dumps(body)


@st.composite
def raw_bodies(draw):
    """Bodies that are not a JSON object, or barely one."""
    depth = draw(st.integers(1, 100_000))
    return draw(st.one_of(
        st.binary(max_size=64),
        st.just("[" * depth + "]" * depth),
        st.just('{"service":"Heartbeat","params":{"x":' + "1" * 5000 + "}}"),
        st.just('{"service":"Heartbeat","params":{"x":' + "[" * depth + "]" * depth + "}}"),
        st.just('{"service":"Heartbeat"}\ufeff'),
        json_values.map(dumps)))


def frames(scene):
    """(role, bytes, invoke ids that must be answered) of hostile frames."""
    hub = scene.centre.hub

    @st.composite
    def one(draw):
        role = draw(st.sampled_from(sorted(scene.peers)))
        invoke_id = scene.next_id(role)
        kind = draw(st.integers(0, 15))
        if kind < 11:
            role, text = draw(requests(hub.catalogue, scene.ids()))
            invoke_id = scene.next_id(role)
            return role, frame(invoke_id, text), (invoke_id,)
        if kind < 13:
            return role, frame(invoke_id, draw(raw_bodies())), (invoke_id,)
        if kind == 13:                        # another version or kind: answered, goes on
            version, fkind = draw(st.sampled_from([(0, 1), (2, 1), (255, 1), (1, 0), (1, 2),
                                                   (1, 3), (1, 4), (1, 200)]))
            return role, frame(invoke_id, '{"service":"Heartbeat"}', version, fkind), \
                (invoke_id,)
        if kind == 14:                        # invoke id 0: refused with id 0
            return role, frame(0, '{"service":"Heartbeat"}'), ()
        return role, frame(invoke_id, '{"service":"Heartbeat"}'), (invoke_id,)
    return one()
