# SPDX-License-Identifier: GPL-2.0-or-later
"""A scripted CT server for the flow tier: what it answers to each request
of a call, and the RouteRequest / RouteEnd events it sends.  Two ways to
connect it to a FlowTier:

- `WireServer`: a transport for the real cti.protocol.client.ClientProtocol
  (bytes both ways; the fake side frames with plain struct + json, so
  that what the soak times is the client's own cti.protocol.framing);
- `FakeClient`: stands in for the ClientProtocol itself (call() ->
  Deferred, on_event), no bytes at all: the flow tier and runtime only,
  several times faster.

Call kinds (in turn, SCRIPTS), on the sample flows of etc/flows:
  0 known caller (ANI 5551001), 1 at the menu -> queue sales        transferred
  1 unknown caller, 3 -> account 10012345# -> balance -> * -> 9 -> voicemail -> hangup
  2 2 -> support menu -> 3 repair desk busy (call_failed) -> 1 -> queue support
  3 caller hangs up during the 2nd prompt (RouteEnd, then no_such_object)  caller_gone
  4 after hours: 1 -> emergency number, connected
  5 silence everywhere: the menu 4 times, then sales
  6 a PlayMessage refused with internal_error: failed, released
  7 after hours: 2 -> message recorded -> hangup
"""
import itertools
import json
import struct
from collections import Counter, deque

from twisted.internet import defer

SCRIPTS = [
    # (flow, ani, digits answered in turn by CollectDigits, special)
    ("main_menu", "5551001", ["1"], None),
    ("main_menu", "2125550000", ["3", "1", ("0012345", "terminator"), "*", "9"], None),
    ("main_menu", "2125550001", ["2", "3", "1"], "busy_extension"),
    ("main_menu", "2125550002", ["1"], "hangup_at_2"),
    ("after_hours", "2125550003", ["1"], None),
    ("main_menu", "2125550004", [], None),
    ("main_menu", "2125550005", ["1"], "play_error"),
    ("after_hours", "2125550006", ["2"], None),
]
#: A light mix: most calls as a busy IVR sees them (a menu, one key, a
#: queue: 5 requests), every kind above still in it.
LIGHT = [0, 0, 0, 3, 0, 0, 0, 4] * 3 + list(range(len(SCRIPTS)))


class Scripted:
    """The server's answers.  `respond(invoke_id, kind, body)` and
    `event(name, body)` are how they leave."""

    def __init__(self, mix=None):
        self.mix = mix or list(range(len(SCRIPTS)))
        self.calls = {}                     # call id -> [special, digits, requests, gone]
        self.ids = itertools.count(1733400000001)
        self.requests = Counter()
        self.n = 0

    def new_call(self):
        flow, ani, digits, special = SCRIPTS[self.mix[self.n % len(self.mix)]]
        self.n += 1
        call_id = f"c{next(self.ids)}"
        self.calls[call_id] = [special, deque(digits), 0, False]
        self.event("RouteRequest", {"call": call_id, "flow": flow, "ani": ani,
                                    "dnis": "5550100", "direction": "inbound",
                                    "trunkGroup": "pstn_in", "device": "dtiB1T1",
                                    "data": {}})

    def error(self, invoke_id, service, code, message):
        self.respond(invoke_id, "error", {"service": service, "code": code, "message": message})

    def request(self, invoke_id, body):
        service, params = body["service"], body.get("params", {})
        self.requests[service] += 1
        if service == "Login":
            return self.respond(invoke_id, "response", {"service": service, "result": {
                "session": 1, "heartbeatS": 10}})
        if service in ("RouteRegister", "Heartbeat"):
            return self.respond(invoke_id, "response", {"service": service, "result": {}})
        call_id = params["call"]
        state = self.calls.get(call_id)
        if state is None or state[3]:
            return self.error(invoke_id, service, "no_such_object", f"no call {call_id!r}")
        special, digits = state[0], state[1]
        state[2] += 1
        result = {}
        if service == "PlayMessage":
            if special == "hangup_at_2" and state[2] == 3:
                state[3] = True                 # the caller hangs up mid-prompt
                self.event("RouteEnd", {"call": call_id, "reason": "far end cleared"})
                del self.calls[call_id]
                return self.error(invoke_id, service, "no_such_object", "call gone")
            if special == "play_error":
                return self.error(invoke_id, service, "internal_error", "boom")
            result = {"reason": "end"}
        elif service == "CollectDigits":
            if digits:
                got = digits.popleft()
                got, reason = got if isinstance(got, tuple) else (got, "digits")
                result = {"digits": got, "reason": reason}
            else:
                result = {"digits": "", "reason": "timeout"}
        elif service == "RecordMessage":
            result = {"file": f"/var/rec/{call_id}.wav", "reason": "silence", "durationS": 4.0}
        elif service == "RouteSelect":
            if "extension" in params and special == "busy_extension":
                return self.error(invoke_id, service, "call_failed", "busy")
            result = {"result": "queued" if "queue" in params else "connected"}
        self.respond(invoke_id, "response", {"service": service, "result": result})
        if service in ("RouteSelect", "ClearConnection"):
            del self.calls[call_id]             # the flow's part is over: RouteEnd
            self.event("RouteEnd", {"call": call_id, "reason": "left the IVR"})


HEADER = struct.Struct(">IBBI")       # length, version, kind, invoke id (cti.protocol.framing)
KINDS = {"request": 1, "response": 2, "error": 3, "event": 4}


class WireServer(Scripted):
    """The transport of a real ClientProtocol: bytes in, frames out (`pump`)."""

    def __init__(self, mix=None):
        super().__init__(mix)
        self.buf = b""
        self.out = deque()
        self.client = None

    def connect(self, client):
        self.client = client
        client.makeConnection(self)

    def write(self, data):
        buf = self.buf + data if self.buf else data
        at = 0
        while len(buf) - at >= 4:
            length = int.from_bytes(buf[at:at + 4], "big")
            if len(buf) - at < 4 + length:
                break
            self.request(int.from_bytes(buf[at + 6:at + 10], "big"),
                         json.loads(buf[at + 10:at + 4 + length]))
            at += 4 + length
        self.buf = buf[at:]

    def writeSequence(self, seq):
        self.write(b"".join(seq))

    def loseConnection(self):
        pass

    def respond(self, invoke_id, kind, body):
        raw = json.dumps(body, separators=(",", ":")).encode()
        self.out.append(HEADER.pack(len(raw) + 6, 1, KINDS[kind], invoke_id) + raw)

    def event(self, name, body):
        self.respond(0, "event", {"event": name, **body})

    def pump(self):
        """Hand the client everything sent so far, in one read, until quiet."""
        while self.out:
            data = b"".join(self.out)
            self.out.clear()
            self.client.dataReceived(data)

    def in_flight(self):
        return len(self.client._waiting)


class FakeClient(Scripted):
    """A ClientProtocol stand-in: call() is answered at the next pump."""

    def __init__(self, mix=None):
        super().__init__(mix)
        self._listeners = []
        self._waiting = {}
        self._ids = itertools.count(1)
        self.out = deque()

    # the client's side
    def on_event(self, listener):
        self._listeners.append(listener)

    def call(self, service, **params):
        invoke_id = next(self._ids)
        d = self._waiting[invoke_id] = defer.Deferred()
        body = {"service": service}
        if params:
            body["params"] = params
        self.request(invoke_id, body)
        return d

    # the server's side
    def respond(self, invoke_id, kind, body):
        self.out.append((invoke_id, kind, body))

    def event(self, name, body):
        self.out.append((0, "event", {"event": name, **body}))

    def pump(self):
        from cti.protocol.client import RemoteError
        while self.out:
            invoke_id, kind, body = self.out.popleft()
            if kind == "event":
                for listener in list(self._listeners):
                    listener(body["event"], body, 0)
                continue
            d = self._waiting.pop(invoke_id)
            if kind == "response":
                d.callback(body.get("result", {}))
            else:
                d.errback(RemoteError(body))

    def in_flight(self):
        return len(self._waiting)
