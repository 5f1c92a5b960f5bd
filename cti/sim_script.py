# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_sim_script -*-
"""`cti sim script FILE`: a scripted scenario against a running server.

A script is TOML: a list of steps run in order, each one action of the
simulated telco (what `cti sim` does), a wait, or an expectation about
what the server does.  The script fails at the first expectation not met
in time, saying which step, what was expected and what was seen, and
`cti sim script` exits 1 (2 when the file itself is wrong)::

    [settings]
    within = 10                      # seconds an expectation may take (default 10)

    [[step]]
    call = { target = "pstn_in", ani = "2125551234", dnis = "5550199" }
    as = "caller"                    # later steps say "$caller" for the device used

    [[step]]
    expect_event = { event = "Delivered", device = "msiB1C5" }
    save = { thecall = "call" }      # $thecall: the event's `call` field

    [[step]]
    handset = { station = "msiB1C5", action = "lift" }

    [[step]]
    expect_snapshot = { object = "agent", id = "1005", state = "busy" }

    [[step]]
    wait = 2.5

    [[step]]
    hangup = { device = "$caller" }

    [[step]]
    expect_event = { event = "CallCleared", call = "$thecall" }
    within = 5

Actions (their fields are the Sim* services' of docs/protocol.md, each
checked as the script loads: a field unknown, missing or of the wrong
type or value stops it before its first step runs, naming the step and
the field):
`call` (SimCall), `digits` (SimDigits), `tone` (SimTone), `hangup`
(SimHangup), `handset` (SimHandset), `answer` (SimAnswerMode), `alarm`
(SimAlarm), `hang` (SimHang), `line_errors` (SimLineErrors), `bit_errors`
(SimBitErrors), `far_line` (SimFarLine), `restart` (SimRestart),
`dchannel` (SimDChannel), `block` (SimBlock), `play` (SimAudio, with `file` a
WAV path relative to the script instead of `wav`, sent in pieces as `cti
sim play` sends it); `wait` (seconds).

Expectations, each waiting up to `within` seconds:

    expect_event      an event with these fields arrives (events since the
                      last event matched count: one that came during the
                      action before is not missed); `event` is its name
    expect_snapshot   the `object` `id`'s snapshot has these fields
    expect_far        SimStatus of `device` has these fields (the far end's
                      state, heardDigits, heardTone, dialled)

A field's expected value is matched as a shell-style pattern against the
actual one's text ("212*"); numbers and booleans must be equal.  A script
that fails hangs up the far ends its `call` steps called.
"""
import fnmatch
import json
import math
import sys
import tomllib
from pathlib import Path

from twisted.internet import defer, task

from cti import shell
from cti.config import ConfigError
from cti.events import Once
from cti.protocol.client import ConnectionClosed, RemoteError
from cti.protocol.services import ProtocolError
from cti.server.simulation.handlers import SERVICES
from cti.sim_audio import wav_pieces

#: action -> the Sim* service it calls
ACTIONS = {"call": "SimCall", "digits": "SimDigits", "tone": "SimTone", "hangup": "SimHangup",
           "handset": "SimHandset", "answer": "SimAnswerMode", "alarm": "SimAlarm",
           "hang": "SimHang", "play": "SimAudio", "line_errors": "SimLineErrors",
           "bit_errors": "SimBitErrors", "far_line": "SimFarLine", "restart": "SimRestart",
           "dchannel": "SimDChannel", "block": "SimBlock"}
EXPECTATIONS = ("expect_event", "expect_snapshot", "expect_far")
#: keys a step may have besides its one action
STEP_KEYS = {"as", "save", "within"}
#: objects watched for expect_event
WATCHED = ("call", "agent", "queue", "device")
DEFAULT_WITHIN_S = 10.0
#: how often a snapshot or a far end is asked again while expected
POLL_S = 0.2
#: events kept for expect_event at most (the oldest go first)
KEPT_EVENTS = 10_000


class ScriptError(Exception):
    """The script file is wrong: the message says where."""


class StepFailed(Exception):
    """A step that failed: an expectation not met in time (the message
    says what was seen), or an action the server refused."""


def load(path):
    """The steps of a script file, checked (ScriptError if wrong)."""
    try:
        with open(path, "rb") as f:
            data = tomllib.load(f)
    except OSError as e:
        raise ScriptError(f"{path}: {e.strerror}") from None
    except tomllib.TOMLDecodeError as e:
        raise ScriptError(f"{path}: not TOML: {e}") from None
    return check(data, path, Path(path).parent)


def check(data, where, base=Path(".")):
    """(settings, steps) of a parsed script, each step a dict with its
    `action`; ScriptError naming the step and key that are wrong."""
    unknown = set(data) - {"settings", "step"}
    if unknown:
        raise ScriptError(f"{where}: unknown table(s) {', '.join(sorted(unknown))} "
                          "(a script has [settings] and [[step]]s)")
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ScriptError(f"{where}: settings: expected a table ([settings])")
    if set(settings) - {"within"}:
        raise ScriptError(f"{where}: settings: unknown key(s) "
                          f"{', '.join(sorted(set(settings) - {'within'}))}")
    within = _seconds(settings.get("within", DEFAULT_WITHIN_S), f"{where}: settings.within")
    steps = data.get("step", [])
    if not isinstance(steps, list) or not steps:
        raise ScriptError(f"{where}: no [[step]] to run")
    checked = []
    for number, step in enumerate(steps, 1):
        at = f"{where}: step {number}"
        if not isinstance(step, dict):
            raise ScriptError(f"{at}: expected a table ([[step]]), got {step!r}")
        kinds = [k for k in step if k in ACTIONS or k in EXPECTATIONS or k == "wait"]
        if len(kinds) != 1:
            raise ScriptError(f"{at}: give exactly one of "
                              f"{', '.join([*ACTIONS, 'wait', *EXPECTATIONS])}"
                              + (f" (it has {', '.join(kinds)})" if kinds else ""))
        kind = kinds[0]
        extra = set(step) - {kind} - STEP_KEYS
        if extra:
            raise ScriptError(f"{at}: unknown key(s) {', '.join(sorted(extra))}")
        body = step[kind]
        result = {"action": kind, "number": number,
                  "within": _seconds(step.get("within", within), f"{at}.within")}
        if kind == "wait":
            result["seconds"] = _seconds(body, f"{at}.wait")
        elif not isinstance(body, dict):
            raise ScriptError(f"{at}.{kind}: expected a table of fields, got {body!r}")
        else:
            result["fields"] = dict(body)
            if kind in ACTIONS and kind != "play":
                _check_fields(SERVICES[ACTIONS[kind]], body, f"{at}.{kind}")
        if kind == "play":
            if not isinstance(body.get("file"), str):
                raise ScriptError(f"{at}.play: give `file`, a WAV path (a string)")
            wav = base / body["file"]
            _check_fields(SERVICES["SimAudio"], {"wav": "", **body}, f"{at}.play",
                          besides={"file"})
            try:
                result["fields"] = {"device": body["device"]}
                result["pieces"] = wav_pieces(wav)[1]
            except OSError as e:
                raise ScriptError(f"{at}.play.file: {wav}: {e.strerror}") from None
            except ValueError as e:
                raise ScriptError(f"{at}.play.file: {e}") from None
        if kind == "expect_snapshot" and not {"object", "id"} <= set(body):
            raise ScriptError(f"{at}.expect_snapshot: give `object` and `id`")
        if kind == "expect_far" and "device" not in body:
            raise ScriptError(f"{at}.expect_far: give `device`")
        if kind == "expect_event" and "event" not in body:
            raise ScriptError(f"{at}.expect_event: give `event`, the event's name")
        if "as" in step:
            if kind != "call" or not isinstance(step["as"], str):
                raise ScriptError(f"{at}.as: names the device of a `call` step (a string)")
            result["as"] = step["as"]
        if "save" in step:
            if kind != "expect_event" or not isinstance(step["save"], dict) or not all(
                    isinstance(v, str) for v in step["save"].values()):
                raise ScriptError(f"{at}.save: a table of name = \"event field\", on an "
                                  "`expect_event` step")
            result["save"] = dict(step["save"])
        checked.append(result)
    return {"within": within}, checked


def _check_fields(service, fields, at, besides=frozenset()):
    """An action's fields checked as the server will check its request
    (the Sim* service's declaration), ScriptError naming the step and the
    field.  A "$name" value is known only as the script runs: its field is
    there, its value is checked by the server."""
    unknown = sorted(set(fields) - set(service.fields) - besides)
    if unknown:
        raise ScriptError(f"{at}.{unknown[0]}: no such field of {service.name} (its fields: "
                          f"{', '.join(sorted(set(service.fields) - {'wav'} | besides))})")
    for name, spec in service.fields.items():
        value = fields.get(name)
        if value is None:
            if spec.required:
                raise ScriptError(f"{at}: give `{name}` ({service.name} needs it)")
        elif not (isinstance(value, str) and value.startswith("$")):
            try:
                spec.check(service.name, name, value)
            except ProtocolError as e:
                raise ScriptError(f"{at}.{name}: {e}") from None


def _seconds(value, where):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0 \
            or not math.isfinite(value):
        raise ScriptError(f"{where}: expected seconds (a number >= 0), got {value!r}")
    return float(value)


def _matches(expected, actual):
    """Whether every expected field is in `actual` with a matching value."""
    for key, want in expected.items():
        if key not in actual:
            return False
        have = actual[key]
        if isinstance(want, str):
            if have is None or not fnmatch.fnmatchcase(
                    have if isinstance(have, str) else json.dumps(have), want):
                return False
        elif want != have:
            return False
    return True


class Script:
    """One run of checked steps on a logged-in ClientProtocol (admin),
    on `clock`.  `run()` is a Deferred of None, or fails with
    StepFailed (or the server's RemoteError for a refused action)."""

    def __init__(self, steps, client, clock, out=None):
        self.steps = steps
        self.client = client
        self.clock = clock
        self.out = out
        self.names = {}                 # $name -> value (`as`, `save`)
        self.events = []                # (name, body) not matched yet, and the last matched
        self.cursor = 0                 # events before this were matched or passed
        self._waiting = None            # (expected, Deferred) of an expect_event
        self._first = Once()            # an event comes once per monitor watching it
        self.called = set()             # far ends a `call` step called

    @defer.inlineCallbacks
    def run(self):
        self.client.on_event(self._event)
        self.client.closed.addCallback(self._lost)
        try:
            for kind in WATCHED:
                yield self.client.call("MonitorStart", object=kind, id="*")
            for step in self.steps:
                yield self._step(step)
        except StepFailed:
            yield self._hang_up()
            raise
        finally:
            self.client.off_event(self._event)

    @defer.inlineCallbacks
    def _hang_up(self):
        """A failed scenario leaves no call of its own up: each far end it
        called hangs up (those that did already refuse: nothing to do)."""
        for device in sorted(self.called):
            try:
                yield self.client.call("SimHangup", device=device)
                self._say(f"cleanup: {device} hung up")
            except (RemoteError, ConnectionClosed):
                pass

    def _lost(self, _):
        """The connection ended: an event awaited will not come."""
        if self._waiting is not None:
            _, d = self._waiting
            self._waiting = None
            d.errback(ConnectionClosed(self.client.close_reason or "connection lost"))

    def _say(self, text):
        if self.out is not None:
            self.out.write(text + "\n")
            self.out.flush()

    def _resolve(self, value):
        if isinstance(value, str) and value.startswith("$"):
            if value[1:] not in self.names:
                raise StepFailed(f"{value} is not defined yet (define it with `as` "
                                 "or `save` in an earlier step)")
            return self.names[value[1:]]
        return value

    def _fields(self, step):
        return {k: self._resolve(v) for k, v in step["fields"].items()}

    def _requests(self, step):
        """The requests of an action: one, or a WAV file's pieces."""
        fields = self._fields(step)
        return [{**fields, "wav": piece} for piece in step["pieces"]] if "pieces" in step \
            else [fields]

    @defer.inlineCallbacks
    def _step(self, step):
        kind, label = step["action"], f"step {step['number']} ({step['action']})"
        try:
            if kind == "wait":
                yield task.deferLater(self.clock, step["seconds"], lambda: None)
                self._say(f"{label}: waited {step['seconds']:g} s")
            elif kind in ACTIONS:
                try:
                    for fields in self._requests(step):
                        answer = yield self.client.call(ACTIONS[kind], **fields)
                except RemoteError as e:
                    raise StepFailed(f"{ACTIONS[kind]} refused: {e}") from None
                if kind == "call":
                    self.called.add(answer["device"])
                if "as" in step:
                    self.names[step["as"]] = answer["device"]
                self._say(f"{label}: " + " ".join(f"{k}={v}" for k, v in answer.items()))
            elif kind == "expect_event":
                body = yield self._expect_event(self._fields(step), step["within"])
                for name, key in step.get("save", {}).items():
                    if key not in body:
                        raise StepFailed(f"save {name}: the {body['event']} event has no "
                                         f"field {key!r} (it has {', '.join(sorted(body))})")
                    self.names[name] = body[key]
                self._say(f"{label}: {body['event']} came")
            else:
                yield self._poll(kind, self._fields(step), step["within"])
                self._say(f"{label}: met")
        except StepFailed as e:
            raise StepFailed(f"{label}: {e}") from None

    def _event(self, name, body, invoke_id):
        if not self._first(name, body):
            return
        self.events.append((name, {**body, "event": name}))
        if len(self.events) > KEPT_EVENTS:
            del self.events[0]
            self.cursor = max(0, self.cursor - 1)
        if self._waiting is not None:
            self._check_events()

    def _check_events(self):
        expected, d = self._waiting
        while self.cursor < len(self.events):
            name, body = self.events[self.cursor]
            self.cursor += 1
            if _matches(expected, body):
                self._waiting = None
                del self.events[:self.cursor - 1]      # those before it are passed
                self.cursor = 1
                d.callback(body)
                return

    def _expect_event(self, expected, within):
        d = defer.Deferred()
        self._waiting = (expected, d)
        start = self.cursor
        self._check_events()
        if d.called:
            return d

        def late():
            if not d.called:
                self._waiting = None
                seen = [n for n, _ in self.events[start:]][-8:]
                d.errback(StepFailed(
                    f"no event {json.dumps(expected)} within {within:g} s; events seen: "
                    f"{', '.join(seen) or 'none'}"))
        timer = self.clock.callLater(within, late)

        def settled(result):
            if timer.active():
                timer.cancel()
            return result
        return d.addBoth(settled)

    @defer.inlineCallbacks
    def _poll(self, kind, expected, within):
        deadline = self.clock.seconds() + within
        if kind == "expect_snapshot":
            request = ("Snapshot", {"object": expected.pop("object"),
                                    "id": expected.pop("id")})
        else:
            request = ("SimStatus", {"device": expected.pop("device")})
        while True:
            try:
                answer = yield self.client.call(request[0], **request[1])
            except RemoteError as e:
                raise StepFailed(f"{request[0]} {json.dumps(request[1])} refused: {e}") \
                    from None
            seen = answer.get("snapshot", answer)
            if _matches(expected, seen):
                return
            if self.clock.seconds() >= deadline:
                shown = {k: seen.get(k, "(absent)") for k in expected}
                raise StepFailed(f"{request[1]} never had {json.dumps(expected)} "
                                 f"within {within:g} s; last seen {json.dumps(shown)}")
            yield task.deferLater(self.clock, POLL_S, lambda: None)


def run_file(args):
    """`cti sim script`: 0 all expectations met, 1 one failed, 2 the
    script or the connection is wrong."""
    from twisted.internet.error import ConnectError

    from cti.protocol.client import connect

    try:
        _, steps = load(args.file)
        host, port = shell.address(args)
        password = shell.password(args)
    except (ScriptError, ConfigError, OSError) as e:
        print(f"cti sim script: {e}", file=sys.stderr)
        return 2
    outcome = []

    @defer.inlineCallbacks
    def scenario(reactor):
        try:
            client = yield connect(reactor, f"tcp:{host}:{port}")
            yield client.login(args.user, password, "admin", client="cti-sim-script")
            yield Script(steps, client, reactor,
                         None if args.quiet else sys.stdout).run()
            outcome.append(0)
            if not args.quiet:
                print(f"{args.file}: all {len(steps)} steps passed")
        except StepFailed as e:
            print(f"{args.file}: {e}", file=sys.stderr)
            outcome.append(1)
        except (RemoteError, ConnectionClosed, ConnectError, OSError) as e:
            print(f"{args.file}: {e}", file=sys.stderr)
            outcome.append(2)

    try:
        task.react(scenario)
    except SystemExit:
        pass
    return outcome[0] if outcome else 2
