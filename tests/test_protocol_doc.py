# SPDX-License-Identifier: GPL-2.0-or-later
"""docs/protocol.md, held to what the server does.

A client writer reads the protocol document, not our code, so what it
shows must be what the server sends.  Two things are checked here.

**Every example exchange is the server's own.**  An example is a fenced
block marked, on the line just before it, with an HTML comment that
names it::

    <!-- example: login-agent -->
    ```
    C: request 1 {"service":"Login","params":{"user":"1005","password":"1234",
       "role":"agent"}}
    S: response 1 {"service":"Login","result":{"session":1,...}}
    ```

Each line of the block is one frame: `C:` what the client sends, `S:`
what the server sends, then the kind (`request`, `response`, `error`,
`event`), the invoke id and the JSON body, on as many lines as it takes
(each following line indented by 3 spaces: without them, the rest of
the line, spaces and all, goes on where the line before stopped, so a
long string may go on too).  A line indented by 3 spaces after a whole
frame is narration (for example "   (the caller hangs up)") and is not
checked; so are blank lines.  The line `S: ...` stands for any number of
server frames not shown, and is the only way to leave one out: every
other frame the session gets must be in the block, in its place.

For each NAME, a scenario below (`@scenario("NAME")`) builds the whole
server in virtual time (tests.centre.Centre: the sample configuration
etc/cti.toml, the simulated boards seeded, a clock from 0 that reads in
whole microseconds, so times, call ids and session numbers repeat), has
the world do what the narration says (callers dial, phones go off-hook,
other clients log in), and sends the block's `C:` frames, in order, as
raw frames over a session of its own (`Exchange`; what the block does
not show, its set-up, the scenario asks first with `Exchange.do`).  The
test then compares that session's whole exchange from the block's first
frame on, `C:` and `S:` frames in the order they crossed, with the
block: kinds, invoke ids and bodies (as JSON values) equal.  One
substitution is made: the examples show the server installed at
/srv/cti, which here is the checkout (prompts are under it; recordings
go to a temporary directory shown as /srv/cti/var/recordings).  Every
fenced block of the document showing `C:` or `S:` lines must be marked,
and every mark must have its scenario.

To write or change an example, put its `C:` lines in the block, write
the scenario, and print what the server sends::

    .venv/bin/python -m tests.test_protocol_doc NAME

then paste that exchange into the block (and the narration back in).

**Every error list is the code's.**  The codes a service's section
names after "Errors:" (in its paragraphs that say "Errors:") are its
`Service.errors` (cti.protocol.services), plus any of the COMMON_ERRORS
the text chooses to mention; tests/conftest.py checks the declarations
against every error the test suite sees sent.  Section 12 has a row for
every code of ERRORS, and names as those any request may get exactly
COMMON_ERRORS.
"""
import difflib
import functools
import itertools
import json
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest
from twisted.internet import task
from twisted.internet.testing import StringTransport

from cti.protocol.framing import Framer, Message, encode
from cti.protocol.server import SessionFactory
from cti.protocol.services import COMMON_ERRORS, ERRORS
from tests.centre import Centre

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "protocol.md"
#: Where the examples show the server installed; here, the checkout.
INSTALLED = "/srv/cti"
PASSWORD = "1234"          # every sample account of etc/cti.toml
#: Example lines are wrapped at this width when printed.
WIDTH = 92


# -- the examples of the document -----------------------------------------------------
@dataclass(frozen=True)
class Line:
    """One frame of an example: `side` "C" or "S"; `kind` None for "S: ..."."""

    side: str
    kind: str | None
    invoke_id: int
    body: dict | None
    lineno: int

    @property
    def frame(self):
        return (self.side, self.kind, self.invoke_id, self.body)


@dataclass(frozen=True)
class Block:
    name: str
    lineno: int
    lines: tuple

    @property
    def requests(self):
        return [line for line in self.lines if line.side == "C"]


MARK = re.compile(r"<!-- example: ([\w-]+) -->")
HEAD = re.compile(r"([CS]): (request|response|error|event) (\d+) (.*)")


def parse_block(name, lines, first):
    """The frames of an example's lines (`first`: the number of the first)."""
    frames, current = [], None          # current: [side, kind, id, text, lineno]
    for n, raw in enumerate(lines, first):
        if current is not None:
            if not raw.startswith("   "):
                raise ValueError(f"docs/protocol.md:{current[4]}: example {name}: the "
                                 f"frame's JSON is unfinished at line {n}")
            current[3] += raw[3:].rstrip("\n")
        elif raw.strip() == "S: ...":
            frames.append(Line("S", None, 0, None, n))
            continue
        elif not raw.strip() or raw.startswith("   "):
            continue                                  # narration
        else:
            m = HEAD.fullmatch(raw)
            if m is None:
                raise ValueError(f"docs/protocol.md:{n}: example {name}: not a frame line "
                                 f"(C: or S:, kind, invoke id, JSON): {raw!r}")
            current = [m[1], m[2], int(m[3]), m[4], n]
        try:
            body = json.loads(current[3])
        except json.JSONDecodeError:
            continue                                  # continued on the next line
        frames.append(Line(current[0], current[1], current[2], body, current[4]))
        current = None
    if current is not None:
        raise ValueError(f"docs/protocol.md:{current[4]}: example {name}: the frame's JSON "
                         "is unfinished at the end of the block")
    return tuple(frames)


def examples(text=None):
    """{NAME: Block} of every marked example of docs/protocol.md."""
    lines = (DOC.read_text() if text is None else text).splitlines()
    blocks = {}
    for i, line in enumerate(lines):
        m = MARK.fullmatch(line.strip())
        if m is None:
            continue
        name = m[1]
        if i + 1 >= len(lines) or lines[i + 1] != "```":
            raise ValueError(f"docs/protocol.md:{i + 1}: the mark of example {name} must be "
                             "just before its fenced block")
        if name in blocks:
            raise ValueError(f"docs/protocol.md:{i + 1}: a second example named {name}")
        end = lines.index("```", i + 2)
        blocks[name] = Block(name, i + 1, parse_block(name, lines[i + 2:end], i + 3))
    return blocks


def unmarked_exchanges(text=None):
    """Line numbers of fenced blocks showing frames (C: or S: lines) with no mark."""
    lines = (DOC.read_text() if text is None else text).splitlines()
    found, fence = [], None
    for i, line in enumerate(lines):
        if line.startswith("```"):
            if fence is None:
                fence = i
                continue
            body = lines[fence + 1:i]
            marked = fence > 0 and MARK.fullmatch(lines[fence - 1].strip())
            if any(HEAD.match(b) for b in body) and not marked:
                found.append(fence + 1)
            fence = None
    return found


# -- printing an exchange as the document shows it --------------------------------------
def _cuts(text):
    """Where a JSON text may be cut: (after a comma outside strings, before
    a space inside one)."""
    commas, spaces = [], []
    inside = escaped = False
    for i, c in enumerate(text):
        if inside:
            if c == " ":
                spaces.append(i)
            if c == '"' and not escaped:
                inside = False
            escaped = c == "\\" and not escaped
        elif c == '"':
            inside = True
        elif c == ",":
            commas.append(i + 1)
    return commas, spaces


def render(side, kind, invoke_id, body, width=WIDTH):
    """A frame as an example line, continued on lines indented by 3 spaces:
    cut after commas, or inside a long string before a space."""
    text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
    head = f"{side}: {kind} {invoke_id} "
    commas, spaces = _cuts(text)
    out, start, room = [], 0, width - len(head)
    while len(text) - start > room:
        comma = max((c for c in commas if start < c <= start + room), default=None)
        space = max((c for c in spaces if start < c <= start + room), default=None)
        if comma is not None and (space is None or space - comma < room // 3):
            cut = comma                      # a cut between values reads best
        else:
            cut = space or next((c for c in commas if c > start), len(text))
        out.append(text[start:cut])
        start, room = cut, width - 3
    out.append(text[start:])
    return head + "\n   ".join(out)


def render_all(frames):
    return "\n".join("S: ..." if kind is None else render(side, kind, invoke_id, body)
                     for side, kind, invoke_id, body in frames)


# -- a session of the example's own ---------------------------------------------------------
class Exchange:
    """The example's session: the block's requests go out as raw frames;
    everything the server sends it is kept, in order.

    `do` asks for something before the example starts (the set-up the
    block does not show); `send` sends the block's next request(s) and
    starts the example; `answer`, `event` and `until` run the centre until
    the session has been sent what they wait for.  `paths` maps a
    directory of this server to the one the example shows."""

    def __init__(self, centre, block):
        self.centre = centre
        self.block = block
        self.session = None              # connected at the first frame sent
        self.transport = StringTransport()
        self.framer = Framer()
        self.paths = {str(ROOT): INSTALLED}
        self.requests = iter(block.requests)
        self.sent = 0
        self.log = []                    # (side, kind, invoke id, body), as they crossed
        self.begin = None                # where in the log the example starts
        self._setup_ids = itertools.count(9001)

    @property
    def transcript(self):
        return [] if self.begin is None else self.log[self.begin:]

    # -- frames ---------------------------------------------------------------------
    def _shown(self, value, to_server=False):
        """`value` with this server's directories written as the example
        shows them (or, `to_server`, back)."""
        text = json.dumps(value)
        pairs = [(there, here) if to_server else (here, there)
                 for here, there in self.paths.items()]
        for old, new in sorted(pairs, key=lambda p: -len(p[0])):
            text = text.replace(json.dumps(old)[1:-1], json.dumps(new)[1:-1])
        return json.loads(text)

    def connect(self):
        """Open the session (once), as a client connecting now."""
        if self.session is None:
            self.session = SessionFactory(self.centre.hub).buildProtocol(None)
            self.session.makeConnection(self.transport)

    def write(self, invoke_id, body):
        """Send a request as a raw frame (and log it)."""
        self.connect()
        self.log.append(("C", "request", invoke_id, body))
        message = Message("request", invoke_id, self._shown(body, to_server=True))
        self.session.dataReceived(encode(message))
        self.collect()

    def collect(self):
        """Take in the frames the server has sent since the last look."""
        data = self.transport.value()
        self.transport.clear()
        self.log.extend(("S", item.kind, invoke_id, self._shown(item.body))
                        for invoke_id, item in self.framer.feed(data))

    def start(self):
        """The example starts: from here on, every frame is compared."""
        if self.begin is None:
            self.collect()
            self.begin = len(self.log)

    def do(self, service, refused=False, **params):
        """A request before the example starts; its result (or, `refused`,
        the error it must get)."""
        assert self.begin is None, "set-up requests come before the example starts"
        invoke_id = next(self._setup_ids)
        self.write(invoke_id, {"service": service, **({"params": params} if params else {})})
        answer = self.answer(invoke_id)
        assert ("result" not in answer) == refused, answer
        return answer if refused else answer["result"]

    def send(self, count=1):
        """Send the block's next `count` requests (starting the example)."""
        self.start()
        for _ in range(count):
            line = next(self.requests, None)
            assert line is not None, f"example {self.block.name} has no more requests"
            self.write(line.invoke_id, line.body)
            self.sent += 1

    def send_all(self):
        self.send(len(self.block.requests) - self.sent)

    def received(self, kind=None, invoke_id=None, event=None):
        """The bodies of the frames the session got, of a kind, an invoke
        id, an event name."""
        return [body for side, k, i, body in self.log if side == "S"
                and kind in (None, k) and invoke_id in (None, i)
                and (event is None or k == "event" and body["event"] == event)]

    def until(self, ready, what, within_ms=30_000):
        """Run the centre until `ready()`, looking at the frames as they come."""
        def check():
            self.collect()
            return ready()
        self.centre.run_until(check, within_ms, what=f"example {self.block.name}: {what}")

    def answer(self, invoke_id, within_ms=30_000):
        """Run until request `invoke_id` is answered; the body of the answer."""
        def answers():
            return [b for k in ("response", "error") for b in self.received(k, invoke_id)]
        self.until(answers, f"the answer to request {invoke_id}", within_ms)
        return answers()[-1]

    def event(self, name, nth=1, within_ms=30_000):
        """Run until the session has had `nth` events `name`; that one."""
        self.until(lambda: len(self.received(event=name)) >= nth, f"event {name} #{nth}",
                   within_ms)
        return self.received(event=name)[nth - 1]

    def run(self, ms):
        self.centre.run(ms)
        self.collect()

    # -- the check --------------------------------------------------------------------
    def check(self):
        assert self.sent == len(self.block.requests), \
            f"example {self.block.name}: {self.sent} of its requests were sent"
        self.collect()
        expected = [line.frame for line in self.block.lines]
        if not fits(expected, self.transcript):
            diff = "\n".join(difflib.unified_diff(
                render_all(expected).splitlines(), render_all(self.transcript).splitlines(),
                "docs/protocol.md", "the server", lineterm=""))
            pytest.fail(f"example {self.block.name} (docs/protocol.md:{self.block.lineno}) "
                        f"is not what the server does:\n{diff}\n\nthe server's exchange:\n"
                        f"{render_all(self.transcript)}", pytrace=False)


def fits(expected, actual):
    """Whether the exchange `actual` is the example `expected`: equal frame
    for frame, where an "S: ..." (kind None) stands for any server frames.
    Bodies are equal as JSON values: 1 is not 1.0 nor true (as Python's
    == would have it), and the order of an object's keys does not count."""
    expected, actual = [_canonical(f) for f in expected], [_canonical(f) for f in actual]

    @functools.cache
    def match(i, j):
        if i == len(expected):
            return j == len(actual)
        if expected[i][1] is None:                    # S: ...
            k = j
            while True:
                if match(i + 1, k):
                    return True
                if k == len(actual) or actual[k][0] != "S":
                    return False
                k += 1
        return j < len(actual) and expected[i] == actual[j] and match(i + 1, j + 1)
    return match(0, 0)


def _canonical(frame):
    side, kind, invoke_id, body = frame
    return side, kind, invoke_id, json.dumps(body, sort_keys=True, ensure_ascii=False)


# -- the scenarios ----------------------------------------------------------------------
SCENARIOS = {}


def scenario(name):
    """The scenario of example NAME: `function(centre, ex)` makes the world
    do what the example's narration says and sends its requests."""
    def register(function):
        SCENARIOS[name] = function
        return function
    return register


class ExampleClock(task.Clock):
    """A task.Clock whose time reads in whole microseconds: the centre's
    10 ms steps, added up in floating point, would show the agent's
    `since` as 2.959999999999981 where a reader expects 2.96."""

    def seconds(self):
        return round(super().seconds(), 6)


def run_example(name, block=None):
    """The example's exchange as the server makes it."""
    block = block or examples()[name]
    centre = Centre(clock=ExampleClock())
    ex = Exchange(centre, block)
    SCENARIOS[name](centre, ex)
    ex.collect()
    return ex


def ring_in(centre, dnis, trunk="dtiB1T1", ani="2125551234"):
    """A caller on `trunk` dials `dnis`."""
    caller = centre.sim.endpoint(trunk)
    caller.call(ani=ani, dnis=dnis)
    return caller


def login(ex, user, role):
    return ex.do("Login", user=user, password=PASSWORD, role=role)


def flow_holding_a_call(centre, ex, answered=True):
    """Set-up: the example's session is a flow server holding call c1 (a
    caller dialled the main number, 5550100: flow main_menu), answered."""
    login(ex, "ivr", "flow")
    ex.do("RouteRegister")
    caller = ring_in(centre, "5550100")
    call = ex.event("RouteRequest")["call"]
    if answered:
        ex.do("AnswerCall", call=call)
    return caller


def routing_flow(centre, queue="support", data=None):
    """Another client: a flow server that sends every call to `queue`
    with `data`."""
    flow = centre.client()
    centre.call(flow.login("ivr", PASSWORD, "flow"))

    def route(name, body, invoke_id):
        if name == "RouteRequest":
            flow.call("RouteSelect", call=body["call"], queue=queue, data=data or {})
    flow.on_event(route)
    centre.call(flow.call("RouteRegister"))
    return flow


def ready_agent(centre, agent, station):
    """Another client: `agent` logged on at `station` and ready."""
    client = centre.client()
    centre.call(client.login(agent, PASSWORD, "agent"))
    centre.call(client.call("SetAgentState", state="loggedOn", station=station))
    centre.call(client.call("SetAgentState", state="ready"))
    return client


def put_on_headset(centre, station):
    centre.sim.endpoint(station).offhook()
    centre.run_until(lambda: centre.center.channels[station].state == "offhook",
                     what=f"{station} off-hook")


# section 3
@scenario("bodies")
def _bodies(centre, ex):
    login(ex, "sup", "supervisor")
    ex.send(2)                                    # MonitorStart support; one without id
    ring_in(centre, "5550199")                    # the support hotline: the queue
    ex.event("Queued")


# section 5
@scenario("login-agent")
def _login_agent(centre, ex):
    ex.send()
    ex.answer(1)


def wrong_passwords(centre, user, count):
    """Set-up: `count` logins as `user` with a wrong password, each on a
    connection of its own (a session has 30 s to log in, and the refusals
    come ever later), each waiting for its answer or its session's end."""
    for _ in range(count):
        other = Exchange(centre, Block("set-up", 0, ()))
        other.write(1, {"service": "Login", "params": {"user": user, "password": "wrong",
                                                         "role": "agent"}})
        other.until(lambda o=other: o.received(kind="error") or
                    o.received(event="SessionClosed"), "a refusal", within_ms=40_000)


@scenario("login-locked-out")
def _login_locked_out(centre, ex):
    wrong_passwords(centre, "1005", 10)
    ex.run(60_000)
    ex.send()                                     # the right password, too late
    ex.answer(1)


@scenario("unlock-login")
def _unlock_login(centre, ex):
    wrong_passwords(centre, "1005", 10)
    login(ex, "admin", "admin")
    ex.send()
    ex.answer(2)
    ex.send()
    ex.answer(3)


@scenario("monitor-agent")
def _monitor_agent(centre, ex):
    login(ex, "1005", "agent")
    ex.send()
    ex.answer(2)


@scenario("snapshot-pages")
def _snapshot_pages(centre, ex):
    login(ex, "sup", "supervisor")
    ex.send(2)


# section 8
@scenario("answer-call-headset")
def _answer_call_headset(centre, ex):
    login(ex, "1005", "agent")
    ex.do("MonitorStart", object="device", id="msiB1C5")
    ex.do("MonitorStart", object="agent", id="1005")
    put_on_headset(centre, "msiB1C5")
    ex.do("SetAgentState", state="loggedOn", station="msiB1C5")
    ex.do("SetAgentState", state="ready")
    ring_in(centre, "5550199")
    ex.event("Delivered")
    ex.send()
    ex.answer(6)


@scenario("clear-digits")
def _clear_digits(centre, ex):
    flow_holding_a_call(centre, ex)
    ex.send()
    ex.answer(4)


@scenario("record-message")
def _record_message(centre, ex):
    with tempfile.TemporaryDirectory() as tmp:
        centre.center.layer.recordings_dir = Path(tmp)
        ex.paths[tmp] = f"{INSTALLED}/var/recordings"
        flow_holding_a_call(centre, ex)
        ex.send()
        ex.answer(4)


@scenario("keep-call")
def _keep_call(centre, ex):
    flow_holding_a_call(centre, ex)
    ex.send()
    ex.answer(4)


@scenario("route-select-failed")
def _route_select_failed(centre, ex):
    flow_holding_a_call(centre, ex, answered=False)
    ex.send()                                     # to agent 1005, logged off
    ex.answer(3)


@scenario("clear-connection-flow")
def _clear_connection_flow(centre, ex):
    flow_holding_a_call(centre, ex)
    ex.send()
    ex.answer(4)
    ex.run(1000)                                  # nothing more comes


@scenario("flows-reloaded")
def _flows_reloaded(centre, ex):
    login(ex, "ivr", "flow")
    ex.do("RouteRegister")
    ex.start()
    centre.center.ivr.reloaded()                  # what a Reload taken does last
    ex.event("FlowsReload")
    ex.send()
    ex.answer(5)


# section 9
@scenario("set-agent-state")
def _set_agent_state(centre, ex):
    login(ex, "1005", "agent")
    ex.do("MonitorStart", object="agent", id="1005")
    ex.run(1000)
    ex.send()
    ex.answer(3)
    ex.run(5000)
    ex.send()
    ex.answer(4)


@scenario("make-call-barred")
def _make_call_barred(centre, ex):
    login(ex, "1005", "agent")
    put_on_headset(centre, "msiB1C5")
    ex.do("SetAgentState", state="loggedOn", station="msiB1C5")
    ex.send()
    ex.answer(3)


# section 11
@scenario("flow-session")
def _flow_session(centre, ex):
    ex.send(2)                                    # Login, RouteRegister
    ex.answer(2)
    caller = ring_in(centre, "5550100")
    ex.event("RouteRequest")
    ex.send()                                     # AnswerCall
    ex.answer(3)
    ex.send()                                     # PlayMessage
    ex.run(1500)
    caller.send_digits("2")                       # during the prompt
    ex.answer(4)
    for invoke_id in (5, 6, 7):                   # CollectDigits, SetCallData, RouteSelect
        ex.send()
        ex.answer(invoke_id)
    ex.run(1000)                                  # nothing more comes


@scenario("flow-caller-hangs-up")
def _flow_caller_hangs_up(centre, ex):
    caller = flow_holding_a_call(centre, ex)
    ex.send()                                     # PlayMessage
    ex.run(1500)
    caller.hangup()
    ex.answer(4)


@scenario("agent-session")
def _agent_session(centre, ex):
    routing_flow(centre, "support", {"topic": "internet"})
    ex.send(3)                                    # Login, two MonitorStart
    ex.run(1000)
    ex.send()                                     # loggedOn
    ex.run(1000)
    ex.send()                                     # ready
    caller = ring_in(centre, "5550100")
    ex.event("Delivered")
    ex.send()                                     # MonitorStart of the call
    ex.run(2000)
    centre.sim.endpoint("msiB1C5").offhook()
    ex.event("Established", nth=2)
    ex.run(5000)
    caller.hangup()
    ex.event("CallCleared")
    ex.run(15_000)
    ex.send()                                     # Heartbeat
    ex.event("AgentReady", nth=2, within_ms=40_000)


@scenario("supervisor-session")
def _supervisor_session(centre, ex):
    ready_agent(centre, "1004", "msiB1C4")
    ex.send(2)                                    # Login, MonitorStart support
    ex.run(1000)
    ring_in(centre, "5550199")
    ex.event("Queued")
    ex.run(3000)
    centre.sim.endpoint("msiB1C4").offhook()
    ex.event("ConnectionCleared")
    ex.send()                                     # Heartbeat
    ex.send()                                     # Logout
    ex.event("SessionClosed")


# -- the tests -------------------------------------------------------------------------------
def test_every_exchange_of_the_document_is_marked_as_an_example():
    assert unmarked_exchanges() == [], "fenced blocks of frames without <!-- example: NAME -->"


def test_every_example_has_a_scenario_and_every_scenario_an_example():
    assert sorted(examples()) == sorted(SCENARIOS)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_the_example_is_what_the_server_does(name):
    run_example(name).check()


def test_an_example_may_leave_frames_out_only_where_it_says_so():
    c = ("C", "request", 1, {"service": "Heartbeat"})
    r = ("S", "response", 1, {"service": "Heartbeat", "result": {"time": 0.0}})
    e = ("S", "event", 0, {"event": "SessionClosed", "reason": "logged out"})
    gap = ("S", None, 0, None)
    assert fits([c, r], [c, r]) and not fits([c, r], [c, r, e]) and not fits([c], [c, r])
    assert fits([c, gap], [c, r, e]) and fits([c, gap, e], [c, r, e])
    assert fits([gap, c, r], [c, r]) and not fits([gap, r], [c, r])     # C: lines stay
    assert not fits([c, e, r], [c, r, e])                                 # in order
    one = ("S", "response", 1, {"service": "Heartbeat", "result": {"time": 1}})
    assert not fits([c, one], [c, ("S", "response", 1, {"service": "Heartbeat",
                                                        "result": {"time": 1.0}})])


def test_example_lines_parse_and_print_back():
    text = ("<!-- example: x -->\n```\n"
            'C: request 1 {"service":"Login","params":{"user":"1005",\n'
            '   "password":"1234","role":"agent"}}\n'
            "   (a narration)\n\nS: ...\n"
            'S: error 1 {"code":"locked_out","message":"a, b"}\n```\n')
    [block] = examples(text).values()
    assert [line.frame for line in block.lines] == [
        ("C", "request", 1, {"service": "Login", "params": {"user": "1005", "password": "1234",
                                                             "role": "agent"}}),
        ("S", None, 0, None), ("S", "error", 1, {"code": "locked_out", "message": "a, b"})]
    long = {"service": "X", "result": {"list": [f"item, number {i}" for i in range(30)],
                                       "message": "a long string, " * 20}}
    printed = render("S", "response", 4, long)
    assert all(len(line) <= WIDTH for line in printed.splitlines())
    assert parse_block("y", printed.splitlines(), 1)[0].body == long


def test_every_service_s_errors_are_those_it_declares():
    """The codes after "Errors:" in a service's section are its declared
    `errors` (the doc may also name common ones)."""
    centre = Centre()
    sections = re.split(r"^### ", DOC.read_text(), flags=re.M)
    by_name = {s.split("\n", 1)[0].strip(): s for s in sections[1:]}
    wrong = []
    for service in centre.hub.catalogue.services():
        named = errors_named(by_name[service.name])
        if named is None:
            wrong.append(f"{service.name}: no \"Errors:\" in its section")
            continue
        extra = sorted(named - set(service.errors) - set(COMMON_ERRORS))
        missing = sorted(set(service.errors) - named)
        if extra or missing:
            wrong.append(f"{service.name}: the doc names {extra} it does not declare and "
                         f"leaves out {missing} it declares")
    assert not wrong, "\n".join(wrong)


def test_the_errors_table_has_every_code_and_names_the_common_ones():
    """Section 12 has a row for each code of ERRORS, and names the codes
    any request may get: exactly COMMON_ERRORS."""
    section = DOC.read_text().split("## 12. Errors", 1)[1]
    rows = [line.split("|")[1].strip(" `") for line in section.splitlines()
            if line.startswith("| `")]
    assert sorted(rows) == sorted(ERRORS) and len(rows) == len(set(rows))
    intro = section.split("| code |", 1)[0]
    common = intro[intro.index("Any request may get"):intro.index("The others")]
    assert set(re.findall(r"`(\w+)`", common)) == set(COMMON_ERRORS)


def errors_named(section):
    """The error codes a section names in its paragraphs saying "Errors:"
    (from there to the paragraph's end); None if none does."""
    codes, found = set(), False
    for paragraph in re.split(r"\n\s*\n", section):
        at = paragraph.find("Errors:")
        if at < 0:
            continue
        found = True
        codes |= {c for c in re.findall(r"`(\w+)`", paragraph[at:]) if c in ERRORS}
    return codes if found else None


if __name__ == "__main__":
    for name in sys.argv[1:] or sorted(SCENARIOS):
        ex = run_example(name)
        print(f"<!-- example: {name} -->\n```\n{render_all(ex.transcript or [])}\n```\n")
