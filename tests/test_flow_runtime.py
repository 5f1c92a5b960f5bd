# SPDX-License-Identifier: GPL-2.0-or-later
"""The flow runtime: calls walking the sample flows and small flows of
each step type, against a scripted caller on a task.Clock.

`Caller` is the call control the runtime drives and the person at the
other end: every prompt file plays for PROMPT_S seconds, keys are pressed
at given times or in answer to a prompt (``caller.on("menu_options",
"1")``: half a second after that prompt starts, press 1), and the caller
may hang up.  It keeps every request the runtime made, in order.
"""
import textwrap
from pathlib import Path

import pytest
from twisted.internet import defer, task
from twisted.logger import LogLevel, capturedLogs
from twisted.python.failure import Failure

from cti.flow import runtime
from cti.flow.hooks import Registry
from cti.flow.loader import load_flows
from cti.flow.model import SAY_KINDS
from cti.flow.runtime import CallGone, FlowRunner

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "etc" / "flows"

PROMPT_S = 1.0          # every prompt file plays for a second
KEY_GAP_S = 0.3         # between the keys of one entry
REACTION_S = 0.5        # from the start of a prompt to the caller's first key


class Caller:
    """A scripted call: the CallControl of cti.flow.runtime, and its caller."""

    def __init__(self, clock, *, ani="5559999", dnis="5550100", trunk_group="tg1",
                 data=None, transfers=None, message_s=4.0):
        self.clock = clock
        self.call_id = "c1"
        self.ani, self.dnis, self.trunk_group = ani, dnis, trunk_group
        self.data = dict(data or {})
        self.transfers = dict(transfers or {})  # target -> result (default: it works)
        self.message_s = message_s              # how long the caller speaks when recorded
        self.ops = []                           # every request, in order
        self.buffer = ""                        # keys typed ahead
        self.gone = None
        self.recordings = 0
        self._script = {}                       # prompt -> [keys, ...] in turn
        self._hang_up_on = None
        self._pending = self._on_key = self._timer = None

    # -- the script --------------------------------------------------------------
    def press(self, keys, at):
        for i, key in enumerate(keys):
            self.clock.callLater(at + i * KEY_GAP_S - self.clock.seconds(), self._key, key)

    def on(self, prompt, *answers):
        """Each time `prompt` starts playing, press the next answer's keys
        (None: press nothing that time)."""
        self._script[prompt] = list(answers)

    def hang_up_on(self, prompt):
        self._hang_up_on = prompt

    def hang_up_at(self, at):
        self.clock.callLater(at - self.clock.seconds(), self._hang_up)

    # -- what happened -------------------------------------------------------------
    @property
    def heard(self):
        """Every prompt played, in order (cut short or not)."""
        return [name for op in self.ops if op[0] == "play" for name in op[1]]

    def requests(self, name):
        return [op[1:] for op in self.ops if op[0] == name]

    # -- the call control ------------------------------------------------------------
    def _do(self, op, start):
        self.ops.append(op)
        if self.gone is not None:
            return defer.fail(CallGone(self.gone))
        return start()

    def answer(self):
        return self._do(("answer",), lambda: defer.succeed(None))

    def play(self, files, barge_in, clear_digits=False):
        assert files and all(Path(f).is_absolute() for f in files)
        names = tuple(Path(f).stem for f in files)

        def start():
            if clear_digits:
                self.buffer = ""
            self._react(names[0])
            if barge_in and self.buffer:
                return defer.succeed({"reason": "digit", "digit": self.buffer[0]})

            def key():
                if barge_in:
                    self._done({"reason": "digit", "digit": self.buffer[-1]})
            return self._wait(PROMPT_S * len(files), lambda: {"reason": "end"}, key)
        return self._do(("play", names, barge_in, clear_digits), start)

    def collect(self, max_digits, terminators, first_timeout_s, inter_digit_timeout_s):
        def start():
            got = []

            def take():
                while self.buffer:
                    key, self.buffer = self.buffer[0], self.buffer[1:]
                    if key in terminators:
                        return {"digits": "".join(got), "reason": "terminator"}
                    got.append(key)
                    if len(got) == max_digits:
                        return {"digits": "".join(got), "reason": "digits"}
                return None

            def key():
                result = take()
                if result:
                    self._done(result)
                else:
                    self._timer.reset(inter_digit_timeout_s)
            result = take()
            if result:
                return defer.succeed(result)
            return self._wait(inter_digit_timeout_s if got else first_timeout_s,
                              lambda: {"digits": "".join(got), "reason": "timeout"}, key)
        return self._do(("collect", max_digits, terminators, first_timeout_s,
                         inter_digit_timeout_s), start)

    def clear_digits(self):
        def start():
            self.buffer = ""
            return defer.succeed(None)
        return self._do(("clear_digits",), start)

    def record(self, max_s, silence_s, terminators, beep):
        def start():
            self.recordings += 1
            path = f"/var/cti/recordings/{self.call_id}-{self.recordings}.wav"
            began = self.clock.seconds()

            def result(reason):
                return {"file": path, "duration_s": self.clock.seconds() - began,
                        "reason": reason}
            if any(key in terminators for key in self.buffer):
                return defer.succeed(result("terminator"))

            def key():
                if self.buffer[-1] in terminators:
                    self._done(result("terminator"))
            silent = self.message_s + silence_s < max_s
            return self._wait(min(max_s, self.message_s + silence_s),
                              lambda: result("silence" if silent else "max_time"), key)
        return self._do(("record", max_s, silence_s, terminators, beep), start)

    def set_data(self, data):
        def start():
            self.data.update(data)
            return defer.succeed(None)
        return self._do(("set_data", dict(data)), start)

    def keep(self, seconds):
        return self._do(("keep", seconds), lambda: defer.succeed(None))

    def send_sms(self, to, text):
        """The CT server takes a message to a number, not to P or O (withheld)."""
        def start():
            if to in ("", "P", "O"):
                return defer.succeed({"result": "failed", "reason": "no number to send to"})
            return defer.succeed({"result": "queued", "message": f"m{len(self.ops)}"})
        return self._do(("send_sms", to, text), start)

    def transfer(self, kind, target, timeout_s, data):
        def start():
            result = self.transfers.get(target, "queued" if kind == "queue" else "connected")
            if result in ("queued", "connected"):
                self.data.update(data)
                self.gone = "left the IVR"          # any later request is a bug
                return defer.succeed({"result": result})
            if result == "no_answer":
                return self._wait(timeout_s, lambda: {"result": "failed", "reason": result})
            return defer.succeed({"result": "failed", "reason": result})
        return self._do(("transfer", kind, target, timeout_s, dict(data)), start)

    def hangup(self):
        def start():
            self.gone = "released by the flow"
            return defer.succeed(None)
        return self._do(("hangup",), start)

    # -- the other end ---------------------------------------------------------------
    def _react(self, prompt):
        answers = self._script.get(prompt)
        if answers:
            keys = answers.pop(0)
            if keys:
                self.press(keys, self.clock.seconds() + REACTION_S)
        if prompt == self._hang_up_on:
            self.hang_up_at(self.clock.seconds() + REACTION_S)

    def _wait(self, seconds, on_timeout, on_key=None):
        self._pending, self._on_key = defer.Deferred(), on_key
        self._timer = self.clock.callLater(seconds, lambda: self._done(on_timeout()))
        return self._pending

    def _done(self, result):
        d, self._pending, self._on_key = self._pending, None, None
        if self._timer.active():
            self._timer.cancel()
        d.callback(result)

    def _key(self, key):
        if self.gone is None:
            self.buffer += key
            if self._on_key is not None:
                self._on_key()

    def _hang_up(self):
        if self.gone is None:
            self.gone = "caller hung up"
            if self._pending is not None:
                d, self._pending, self._on_key = self._pending, None, None
                self._timer.cancel()
                d.errback(CallGone(self.gone))


def walk(runner, caller, flow, step=None, limit_s=600):
    """Run a flow for `caller`, moving the clock from event to event; the Outcome."""
    results = []
    runner.run(caller, flow, step).addBoth(results.append)
    clock = caller.clock
    while not results:
        calls = clock.getDelayedCalls()
        assert calls and clock.seconds() < limit_s, f"the run is stuck: {caller.ops[-3:]}"
        clock.advance(min(c.getTime() for c in calls) - clock.seconds())
    [outcome] = results
    assert not isinstance(outcome, Failure), outcome
    return outcome


def steps(outcome):
    return [step for _, step in outcome.path]


@pytest.fixture
def clock():
    return task.Clock()


@pytest.fixture(scope="module")
def samples():
    return load_flows(FLOWS)


@pytest.fixture
def sample_runner(samples, clock):
    return FlowRunner(samples, "/srv/prompts", clock)


# --- the sample flows -------------------------------------------------------------------

def test_a_new_caller_presses_1_during_the_menu_and_goes_to_sales(sample_runner, clock):
    caller = Caller(clock)
    caller.on("menu_options", "1")
    outcome = walk(sample_runner, caller, "main_menu")
    assert (outcome.how, outcome.target) == ("transferred", ("queue", "sales"))
    assert steps(outcome) == ["answer", "identify", "welcome", "menu", "to_sales"]
    assert caller.heard == ["welcome", "menu_options", "transferring"]
    play = caller.requests("play")
    assert play[0] == (("welcome",), True, False)
    assert play[2] == (("transferring",), False, False)       # no barge-in before a transfer
    assert caller.ops[0] == ("answer",)
    assert caller.ops[-1] == ("transfer", "queue", "sales", 30.0, {"reason": "sales"})
    assert clock.seconds() == pytest.approx(1.0 + REACTION_S + PROMPT_S)  # the key cut the menu


def test_prompt_files_are_absolute_paths_in_the_prompts_directory(samples, clock):
    seen = []
    caller = Caller(clock)
    caller.on("menu_options", "1")
    play = caller.play
    caller.play = lambda files, *a: seen.append(list(files)) or play(files, *a)
    walk(FlowRunner(samples, "/srv/prompts", clock), caller, "main_menu")
    assert seen[0] == ["/srv/prompts/welcome.wav"]


def test_a_known_caller_hears_the_balance_and_hangs_up_during_the_menu(sample_runner, clock):
    caller = Caller(clock, ani="5551001")
    caller.on("after_balance_options", "*")
    caller.on("menu_options", "3", None)
    caller.hang_up_at(30.0)
    outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.how == "caller_gone" and outcome.target is None
    assert steps(outcome) == ["answer", "identify", "welcome_back", "menu", "known_balance",
                              "say_balance", "after_balance", "menu"]
    assert caller.heard[:14] == [
        "welcome_back", "menu_options", "balance_is",
        "digit_1", "number_thousand", "digit_2", "number_hundred", "number_30", "digit_4",
        "amount_dollars", "amount_and", "number_50", "digit_6", "amount_cents"]
    assert caller.requests("set_data") == [
        ({"account": "10012345", "customer_name": "Alice Example", "tier": "gold"},),
        ({"account": "10012345", "balance": "1234.56", "customer_name": "Alice Example"},)]
    assert caller.ops[-1][0] == "collect"          # gone while waiting: nothing after it
    assert "hangup" not in [op[0] for op in caller.ops]


def test_hanging_up_mid_prompt_stops_the_run_quietly(sample_runner, clock):
    caller = Caller(clock)
    caller.hang_up_on("welcome")
    with capturedLogs() as events:
        outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.how == "caller_gone"
    assert steps(outcome) == ["answer", "identify", "welcome"]
    assert caller.ops == [("answer",), ("keep", 5.0), ("play", ("welcome",), True, False)]
    assert not [e for e in events if e["log_level"] in (LogLevel.warn, LogLevel.error,
                                                         LogLevel.critical)]
    [gone] = [e for e in events if "gone" in e["log_format"]]
    assert (gone["call"], gone["flow"], gone["step"]) == ("c1", "main_menu", "welcome")


def test_an_account_typed_ahead_with_the_terminator(sample_runner, clock):
    """Unknown caller: 3, then the account number typed over the prompt."""
    caller = Caller(clock)
    caller.on("menu_options", "3")
    caller.on("enter_account", "200300#")
    outcome = walk(sample_runner, caller, "main_menu")
    assert steps(outcome) == ["answer", "identify", "welcome", "menu", "known_balance",
                              "account", "balance", "say_balance", "after_balance", "goodbye"]
    # the first key alone (0 would be the agent), then the rest of the entry
    assert caller.requests("collect")[1:3] == [(1, "#", 8.0, 3.0), (8, "#", 3.0, 3.0)]
    assert caller.data["account"] == "200300" and caller.data["balance"] == "0.75"
    assert caller.heard[2:7] == ["enter_account", "balance_is", "number_70", "digit_5",
                                 "amount_cents"]
    # nobody presses anything: after_balance is offered twice, then goodbye
    assert caller.heard[7:] == ["after_balance_options", "no_choice",
                                "after_balance_options", "no_choice", "goodbye"]
    assert outcome.how == "hung_up" and caller.ops[-1] == ("hangup",)


def test_account_retries_then_an_unknown_account_then_0_for_an_agent(sample_runner, clock):
    caller = Caller(clock)
    caller.on("menu_options", "3", "0")
    caller.on("enter_account", "123#", None, "9999999#")
    outcome = walk(sample_runner, caller, "main_menu")
    assert caller.heard == [
        "welcome", "menu_options",
        "enter_account", "invalid_account",            # too short
        "enter_account", "no_entry",                   # nothing within first_timeout_s
        "enter_account",                               # valid, but no such account
        "account_not_found", "menu_options"]
    assert caller.data["account"] == "9999999"
    assert steps(outcome)[-4:] == ["account", "balance", "unknown_account", "menu"]
    assert (outcome.how, outcome.target) == ("transferred", ("queue", "sales"))
    assert caller.ops[-1] == ("transfer", "queue", "sales", runtime.AGENT_TIMEOUT_S, {})


def test_a_silent_caller_hears_the_menu_four_times_then_goes_to_sales(sample_runner, clock):
    caller = Caller(clock)
    outcome = walk(sample_runner, caller, "main_menu")
    assert caller.heard == ["welcome"] + ["menu_options", "no_choice"] * 4 + ["transferring"]
    assert caller.requests("collect") == [(1, "", 5.0, 5.0)] * 4
    assert steps(outcome)[-2:] == ["menu", "to_sales"]
    assert outcome.target == ("queue", "sales")


def test_0_during_the_welcome_goes_to_an_agent_at_once(sample_runner, clock):
    caller = Caller(clock)
    caller.on("welcome", "0")
    outcome = walk(sample_runner, caller, "main_menu")
    assert (outcome.how, outcome.target) == ("transferred", ("queue", "sales"))
    assert steps(outcome)[-1] == "welcome" and caller.heard == ["welcome"]


def test_the_repair_desk_does_not_answer_so_back_to_the_support_menu(sample_runner, clock):
    caller = Caller(clock, transfers={"1006": "no_answer"})
    caller.on("menu_options", "2")
    caller.on("support_options", "3", "1")
    outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.path[3:] == [
        ("main_menu", "menu"), ("main_menu", "to_support"), ("support_menu", "menu"),
        ("support_menu", "repair_desk"), ("support_menu", "repair_desk_busy"),
        ("support_menu", "menu"), ("support_menu", "internet")]
    assert caller.requests("transfer") == [
        ("extension", "1006", 20.0, {}),
        ("queue", "support", 30.0, {"reason": "support", "topic": "internet"})]
    assert caller.heard[-4:] == ["transferring", "extension_busy", "support_options",
                                 "transferring"]
    assert outcome.target == ("queue", "support")


def test_after_a_goto_the_agent_key_goes_to_the_other_flows_queue(sample_runner, clock):
    caller = Caller(clock)
    caller.on("menu_options", "2")
    caller.on("support_options", "0")
    outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.target == ("queue", "support")
    assert outcome.path[-1] == ("support_menu", "menu")


def test_after_hours_has_no_agent_key_and_the_emergency_line_is_busy(sample_runner, clock):
    caller = Caller(clock, transfers={"18005550911": "busy"})
    caller.on("closed", "0", "1")
    outcome = walk(sample_runner, caller, "after_hours")
    assert caller.heard == ["closed", "after_hours_options",       # 0: an ordinary key
                            "closed", "after_hours_options", "transferring", "goodbye"]
    assert steps(outcome) == ["answer", "closed", "emergency", "goodbye"]
    assert caller.requests("transfer") == [("number", "18005550911", 30.0, {})]
    assert outcome.how == "hung_up" and caller.ops[-1] == ("hangup",)


def test_after_hours_message(sample_runner, clock):
    caller = Caller(clock, message_s=7.0)
    caller.on("closed", "2")
    outcome = walk(sample_runner, caller, "after_hours")
    assert steps(outcome) == ["answer", "closed", "message", "saved"]
    i = caller.ops.index(("record", 60.0, 5.0, "#", True))
    assert caller.ops[i - 2:i] == [("play", ("leave_message",), True, False),
                                   ("clear_digits",)]
    assert caller.ops[i + 1] == ("set_data", {"message_file": "/var/cti/recordings/c1-1.wav"})
    assert caller.heard[-3:] == ["leave_message", "message_saved", "goodbye"]
    assert outcome.how == "hung_up"


def test_a_run_can_start_at_a_step(sample_runner, clock):
    caller = Caller(clock)
    caller.on("support_options", "2")
    outcome = walk(sample_runner, caller, "support_menu", "menu")
    assert steps(outcome) == ["menu", "telephone"]
    assert caller.ops[0][0] == "play"                         # no answer step
    assert caller.data == {"reason": "support", "topic": "telephone"}


# --- small flows, one step type at a time ------------------------------------------------

PROMPTS = {"hello", "menu", "invalid", "timeout", "enter", "bye", "leave", "transferring",
           *SAY_KINDS["amount"]}

HOOKS = Registry()


@HOOKS.register("account")
def _account(digits):
    return {"holder": "Ann Example"} if digits == "1234" else None


@HOOKS.register("boom")
def _boom(**kwargs):
    raise RuntimeError("the CRM is down")


@HOOKS.register("never")
def _never(**kwargs):
    return defer.Deferred()


@HOOKS.register("known")
async def _known(ani):
    return ani == "5551001"


@HOOKS.register("customer")
def _customer(ani):
    return {"name": "Bob", "vip": True} if ani == "5551001" else None


def load(tmp_path, **flows):
    """Write flows (name = TOML text) and load them."""
    directory = tmp_path / "flows"
    directory.mkdir(exist_ok=True)
    for name, text in flows.items():
        (directory / f"{name}.toml").write_text(textwrap.dedent(text))
    return load_flows(directory, PROMPTS, hooks=HOOKS)


def run_flow(tmp_path, clock, text, *, caller=None, **others):
    """Run flow `t` (text) with a fresh Caller unless given; (outcome, caller)."""
    flows = load(tmp_path, t=text, **others)
    caller = caller or Caller(clock)
    return walk(FlowRunner(flows, tmp_path / "prompts", clock, hooks=HOOKS), caller, "t"), caller


BYE = """
    [[steps]]
    name = "bye"
    type = "hangup"
    prompt = "bye"
"""

MENU = """
    [[steps]]
    name = "menu"
    type = "menu"
    prompt = "menu"
    options = { "1" = "one", "2" = "bye" }
    invalid_prompt = "invalid"
    timeout_prompt = "timeout"
    retries = 1
    on_failure = "bye"

    [[steps]]
    name = "one"
    type = "set"
    data = { choice = "$digits" }
    next = "bye"
""" + BYE


def test_play_without_barge_in_plays_through_and_the_key_waits_for_the_menu(tmp_path, clock):
    caller = Caller(clock)
    caller.on("hello", "1")
    outcome, _ = run_flow(tmp_path, clock, """
        [[steps]]
        name = "hello"
        type = "play"
        prompt = ["hello", "hello"]
        barge_in = false
        next = "menu"
    """ + MENU, caller=caller)
    assert steps(outcome) == ["hello", "menu", "one", "bye"]
    assert caller.requests("play")[:2] == [(("hello", "hello"), False, False),
                                           (("menu",), True, False)]
    assert caller.data == {"choice": "1"}


def test_allow_agent_false_makes_the_agent_key_an_ordinary_key(tmp_path, clock):
    caller = Caller(clock)
    caller.on("hello", "0")
    outcome, _ = run_flow(tmp_path, clock, """
        agent_key = "0"
        agent_queue = "agents"

        [[steps]]
        name = "hello"
        type = "play"
        prompt = "hello"
        allow_agent = false
        next = "menu"

        [[steps]]
        name = "menu"
        type = "menu"
        prompt = "menu"
        options = { "0" = "bye" }
        allow_agent = false
        on_failure = "bye"
    """ + BYE, caller=caller)
    assert steps(outcome) == ["hello", "menu", "bye"]
    assert "transfer" not in [op[0] for op in caller.ops]


def test_keys_pressed_during_the_invalid_prompt_answer_the_menu_again(tmp_path, clock):
    caller = Caller(clock)
    caller.on("menu", "7")                   # no such option
    caller.on("invalid", "1")                # cuts "invalid"; the menu takes it at once
    outcome, _ = run_flow(tmp_path, clock, MENU, caller=caller)
    assert steps(outcome) == ["menu", "one", "bye"]
    assert caller.requests("play")[:3] == [(("menu",), True, False),
                                           (("invalid",), True, True),
                                           (("menu",), True, False)]
    assert caller.data == {"choice": "1"}


def test_keys_typed_ahead_of_a_bad_key_are_forgotten(tmp_path, clock):
    caller = Caller(clock)
    caller.press("78", at=0.5)               # over a prompt without barge-in: both typed ahead
    caller.press("1", at=1.5)                # during "invalid": kept for the next try
    outcome, _ = run_flow(tmp_path, clock, MENU.replace('retries = 1', 'retries = 1\n'
                                                        '    barge_in = false'), caller=caller)
    assert steps(outcome) == ["menu", "one", "bye"]
    assert caller.heard[:3] == ["menu", "invalid", "menu"]
    assert caller.data == {"choice": "1"}


def test_a_menu_without_retries_or_complaints(tmp_path, clock):
    caller = Caller(clock)
    caller.on("menu", "5")
    outcome, _ = run_flow(tmp_path, clock, """
        [[steps]]
        name = "menu"
        type = "menu"
        prompt = "menu"
        options = { "1" = "bye" }
        retries = 0
        timeout_s = 2
        on_failure = "bye"
    """ + BYE, caller=caller)
    assert steps(outcome) == ["menu", "bye"]
    assert [op[0] for op in caller.ops] == ["play", "collect", "clear_digits", "play", "hangup"]
    assert caller.requests("collect") == [(1, "", 2.0, 2.0)]


def test_a_menu_offered_again_after_silence_then_its_failure(tmp_path, clock):
    outcome, caller = run_flow(tmp_path, clock, MENU)
    assert caller.heard == ["menu", "timeout", "menu", "timeout", "bye"]
    assert steps(outcome) == ["menu", "bye"]
    assert clock.seconds() == pytest.approx(5 * PROMPT_S + 2 * 5.0)


COLLECT = """
    [[steps]]
    name = "entry"
    type = "collect"
    prompt = "enter"
    max_digits = 4
    min_digits = 3
    invalid_prompt = "invalid"
    timeout_prompt = "timeout"
    retries = 1
    store = "entry"
    {extra}
    next = "bye"
    on_failure = "failed"

    [[steps]]
    name = "failed"
    type = "hangup"
""" + BYE


def collect_flow(extra=""):
    return COLLECT.replace("{extra}", textwrap.dedent(extra).strip().replace("\n", "\n    "))


@pytest.mark.parametrize("keys, stored", [
    (["#", "123#"], "123"),              # the terminator alone is no entry: invalid, not timeout
    (["12345"], "1234"),                 # max_digits ends the entry (5 stays typed ahead)
    (["12", "987"], "987"),              # too short (ended by the inter-digit timeout)
])
def test_collect_entries(tmp_path, clock, keys, stored):
    caller = Caller(clock)
    caller.on("enter", *keys)
    outcome, _ = run_flow(tmp_path, clock, collect_flow(), caller=caller)
    assert caller.data == {"entry": stored}
    assert steps(outcome) == ["entry", "bye"]
    assert caller.heard == ["enter", "invalid"] * (len(keys) - 1) + ["enter", "bye"]
    assert caller.requests("collect")[0] == (4, "#", 5.0, 3.0)   # no agent key: one request


def test_collect_gives_up_after_its_retries(tmp_path, clock):
    caller = Caller(clock)
    caller.on("enter", "12#")
    outcome, _ = run_flow(tmp_path, clock, collect_flow(), caller=caller)
    assert caller.heard == ["enter", "invalid", "enter", "timeout"]
    assert steps(outcome) == ["entry", "failed"] and caller.data == {}


def test_collect_validate_must_match_the_whole_entry(tmp_path, clock):
    caller = Caller(clock)
    caller.on("enter", "1239", "123#")
    outcome, _ = run_flow(tmp_path, clock, collect_flow('validate = "1[0-9]{2}"'),
                          caller=caller)
    assert caller.heard == ["enter", "invalid", "enter", "bye"]
    assert caller.data == {"entry": "123"}


def test_collect_hook_found_joins_the_data(tmp_path, clock):
    caller = Caller(clock)
    caller.on("enter", "999#", "1234")
    outcome, _ = run_flow(tmp_path, clock, collect_flow('hook = "account"'), caller=caller)
    assert caller.heard == ["enter", "invalid", "enter", "bye"]         # 999: not found
    assert caller.requests("keep") == [(runtime.HOOK_TIMEOUT_S,)] * 2   # one per hook call
    assert caller.requests("set_data") == [({"holder": "Ann Example", "entry": "1234"},)]
    assert steps(outcome) == ["entry", "bye"]


def test_collect_hook_failure_goes_to_on_failure_at_once(tmp_path, clock):
    caller = Caller(clock)
    caller.on("enter", "123#")
    with capturedLogs() as events:
        outcome, _ = run_flow(tmp_path, clock, collect_flow('hook = "boom"'), caller=caller)
    assert steps(outcome) == ["entry", "failed"]
    assert caller.heard == ["enter"] and caller.data == {}
    [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert warning["hook"] == "boom" and warning["step"] == "entry"


def test_the_agent_key_counts_as_the_first_key_of_an_entry_only(tmp_path, clock):
    flow = 'agent_key = "0"\nagent_queue = "agents"\n' + collect_flow()
    caller = Caller(clock)
    caller.on("enter", "100#")
    outcome, _ = run_flow(tmp_path, clock, flow, caller=caller)
    assert caller.data == {"entry": "100"}
    caller = Caller(clock)
    caller.on("enter", None)
    caller.press("0", at=clock.seconds() + 2.5)          # after the prompt, while collecting
    outcome, _ = run_flow(tmp_path, clock, flow, caller=caller)
    assert (outcome.how, outcome.target) == ("transferred", ("queue", "agents"))
    assert caller.requests("collect") == [(1, "#", 5.0, 3.0)]


def test_record_a_key_that_cuts_the_prompt_does_not_end_the_recording(tmp_path, clock):
    caller = Caller(clock, message_s=10.0)
    caller.on("leave", "#")
    outcome, _ = run_flow(tmp_path, clock, """
        [[steps]]
        name = "record"
        type = "record"
        prompt = "leave"
        beep = false
        max_s = 30
        silence_s = 3
        store = "message"
        next = "bye"
    """ + BYE, caller=caller)
    assert steps(outcome) == ["record", "bye"]
    assert caller.requests("record") == [(30.0, 3.0, "#", False)]
    assert caller.data == {"message": "/var/cti/recordings/c1-1.wav"}
    assert clock.seconds() == pytest.approx(REACTION_S + 10.0 + 3.0 + PROMPT_S)


RECORD = """
    agent_key = "0"
    agent_queue = "agents"

    [[steps]]
    name = "record"
    type = "record"
    prompt = "leave"
    store = "message"
    next = "bye"
""" + BYE


def test_record_agent_key_during_the_prompt(tmp_path, clock):
    caller = Caller(clock)
    caller.on("leave", "0")
    outcome, _ = run_flow(tmp_path, clock, RECORD, caller=caller)
    assert outcome.target == ("queue", "agents")
    assert [op[0] for op in caller.ops] == ["play", "transfer"]


def test_record_caller_hangs_up_while_recording(tmp_path, clock):
    caller = Caller(clock)
    caller.hang_up_at(3.0)
    outcome, _ = run_flow(tmp_path, clock, RECORD, caller=caller)
    assert outcome.how == "caller_gone" and steps(outcome) == ["record"]
    assert caller.ops[-1][0] == "record"


def test_set_expands_templates_into_strings(tmp_path, clock):
    caller = Caller(clock, ani="5551001", dnis="8005551234", trunk_group="tf",
                    data={"lang": "fr"})
    outcome, _ = run_flow(tmp_path, clock, r"""
        [[steps]]
        name = "set"
        type = "set"
        next = "bye"
        [steps.data]
        who = "$ani"
        called = "${dnis}x"
        tg = "$trunk_group"
        lang = "$data.lang"
        price = "$$5"
        missing = "$data.nothing"
        count = 3
    """ + BYE, caller=caller)
    assert caller.requests("set_data") == [({
        "who": "5551001", "called": "8005551234x", "tg": "tf", "lang": "fr", "price": "$5",
        "missing": "", "count": "3"},)]


LOOKUP = """
    [[steps]]
    name = "look"
    type = "lookup"
    hook = "{hook}"
    args = {{ ani = "$ani" }}
    timeout_s = 2
    on_found = "found"
    on_missing = "missing"
    {on_error}

    [[steps]]
    name = "found"
    type = "hangup"

    [[steps]]
    name = "missing"
    type = "hangup"

    [[steps]]
    name = "error"
    type = "hangup"
"""


@pytest.mark.parametrize("hook, ani, went, data", [
    ("customer", "5551001", "found", {"name": "Bob", "vip": "True"}),
    ("customer", "5550000", "missing", None),
    ("known", "5551001", "found", None),             # async def, True: found, nothing to add
    ("known", "5550000", "missing", None),
    ("boom", "5551001", "error", None),
    ("never", "5551001", "error", None),             # no answer within timeout_s
])
def test_lookup(tmp_path, clock, hook, ani, went, data):
    caller = Caller(clock, ani=ani)
    outcome, _ = run_flow(tmp_path, clock, LOOKUP.format(hook=hook, on_error='on_error = "error"'),
                          caller=caller)
    assert steps(outcome) == ["look", went]
    assert caller.ops[0] == ("keep", 2.0)        # the CT server is told before the hook runs
    assert caller.requests("set_data") == ([(data,)] if data else [])
    assert clock.seconds() == (2.0 if hook == "never" else 0.0)


def test_lookup_error_defaults_to_on_missing(tmp_path, clock):
    outcome, _ = run_flow(tmp_path, clock, LOOKUP.format(hook="boom", on_error=""))
    assert steps(outcome) == ["look", "missing"]


TRANSFER = """
    [[steps]]
    name = "out"
    type = "transfer"
    prompt = "transferring"
    number = "$data.callback"
    data = {{ reason = "callback for $ani" }}
    timeout_s = 15
    {on_failure}
""" + BYE


def test_transfer_to_a_number_from_the_data(tmp_path, clock):
    caller = Caller(clock, ani="5551001", data={"callback": "+15550123"})
    outcome, _ = run_flow(tmp_path, clock, TRANSFER.format(on_failure=""), caller=caller)
    assert (outcome.how, outcome.target) == ("transferred", ("number", "+15550123"))
    assert caller.ops == [("play", ("transferring",), False, False),
                          ("transfer", "number", "+15550123", 15.0,
                           {"reason": "callback for 5551001"})]


@pytest.mark.parametrize("result", ["busy", "no_answer", "failed"])
def test_a_failed_transfer_without_on_failure_hangs_up(tmp_path, clock, result):
    caller = Caller(clock, data={"callback": "5550123"}, transfers={"5550123": result})
    outcome, _ = run_flow(tmp_path, clock, TRANSFER.format(on_failure=""), caller=caller)
    assert outcome.how == "hung_up" and caller.ops[-1] == ("hangup",)
    assert clock.seconds() == PROMPT_S + (15.0 if result == "no_answer" else 0.0)


def test_a_transfer_to_an_empty_number_fails_without_asking(tmp_path, clock):
    outcome, caller = run_flow(tmp_path, clock, TRANSFER.format(on_failure='on_failure = "bye"'))
    assert steps(outcome) == ["out", "bye"]
    assert caller.requests("transfer") == []


def test_hangup_without_a_prompt(tmp_path, clock):
    outcome, caller = run_flow(tmp_path, clock, """
        [[steps]]
        name = "bye"
        type = "hangup"
    """)
    assert outcome.how == "hung_up" and caller.ops == [("hangup",)]


def test_goto_another_flows_first_step_with_the_data(tmp_path, clock):
    outcome, caller = run_flow(tmp_path, clock, """
        [[steps]]
        name = "mark"
        type = "set"
        data = { came_from = "t" }
        next = "go"

        [[steps]]
        name = "go"
        type = "goto"
        flow = "other"
    """, other="""
        [[steps]]
        name = "answer"
        type = "answer"
        next = "hi"

        [[steps]]
        name = "hi"
        type = "set"
        data = { trail = "$data.came_from, other" }
        next = "bye"
    """ + BYE)
    assert outcome.path == [("t", "mark"), ("t", "go"), ("other", "answer"), ("other", "hi"),
                            ("other", "bye")]
    assert caller.data == {"came_from": "t", "trail": "t, other"}
    assert caller.ops[1] == ("answer",)


def test_a_flow_that_never_ends_is_cut_off(tmp_path, clock):
    with capturedLogs() as events:
        outcome, caller = run_flow(tmp_path, clock, """
            [[steps]]
            name = "there"
            type = "goto"
            flow = "other"
        """, other="""
            [[steps]]
            name = "back"
            type = "goto"
            flow = "t"
        """)
    assert outcome.how == "failed" and len(outcome.path) == runtime.MAX_STEPS
    assert caller.ops == [("hangup",)]
    [error] = [e for e in events if e["log_level"] == LogLevel.error]
    assert (error["call"], error["n"]) == ("c1", runtime.MAX_STEPS)


def test_an_unknown_flow_or_step_releases_the_call(samples, clock):
    runner = FlowRunner(samples, "/srv/prompts", clock)
    for flow, step in [("nope", None), ("main_menu", "nope")]:
        caller = Caller(clock)
        with capturedLogs():
            outcome = walk(runner, caller, flow, step)
        assert outcome.how == "failed" and outcome.path == [] and caller.ops == [("hangup",)]


def test_an_unexpected_error_releases_the_call(sample_runner, clock):
    caller = Caller(clock)
    caller.play = lambda *a: defer.fail(RuntimeError("prompt file missing on the server"))
    with capturedLogs() as events:
        outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.how == "failed" and steps(outcome)[-1] == "welcome"
    assert caller.ops[-1] == ("hangup",)
    [failure] = [e for e in events if "log_failure" in e]
    assert failure["log_failure"].check(RuntimeError) and failure["step"] == "welcome"


def test_an_agent_queue_that_refuses_the_call(sample_runner, clock):
    caller = Caller(clock, transfers={"sales": "failed"})
    caller.on("welcome", "0")
    with capturedLogs():
        outcome = walk(sample_runner, caller, "main_menu")
    assert outcome.how == "failed" and caller.ops[-1] == ("hangup",)


def test_a_say_item_that_is_no_number_says_nothing_and_the_rest_plays(tmp_path, clock):
    caller = Caller(clock, data={"balance": "lots"})
    with capturedLogs() as events:
        outcome, _ = run_flow(tmp_path, clock, """
            [[steps]]
            name = "say"
            type = "play"
            prompt = ["hello", "say:amount:$data.balance", "bye"]
            next = "bye"

            [[steps]]
            name = "bye"
            type = "hangup"
        """, caller=caller)
    assert caller.heard == ["hello", "bye"]
    [warning] = [e for e in events if e["log_level"] == LogLevel.warn]
    assert "lots" in warning["problem"] and warning["step"] == "say"


@pytest.mark.parametrize("keys", ["10067890#", "10067890"])
def test_a_full_length_account_with_or_without_the_terminator(sample_runner, clock, keys):
    """The prompt asks for the account "followed by the pound key": an
    8-digit account and # leave nothing typed ahead to cut the balance;
    without the #, the entry ends after the inter-digit timeout."""
    caller = Caller(clock)
    caller.on("menu_options", "3")
    caller.on("enter_account", keys)
    caller.on("after_balance_options", "*", None)
    results = []
    play = caller.play
    caller.play = lambda files, *a: play(files, *a).addCallback(
        lambda got: results.append((Path(files[0]).stem, got)) or got)
    walk(sample_runner, caller, "main_menu", limit_s=120)
    assert caller.data["account"] == "10067890"
    assert ("balance_is", {"reason": "end"}) in results     # said in full, not cut by #
    i = caller.heard.index("balance_is")
    assert caller.heard[i - 1] == "enter_account"           # no invalid_account
    assert "invalid_choice" not in caller.heard


SMS = """
    [[steps]]
    name = "text_them"
    type = "sms"
    text = "Thank you, $data.name: your reference is $data.ref. 谢谢！"
    store = "sms"
    next = "bye"
    on_failure = "sorry"

    [[steps]]
    name = "sorry"
    type = "set"
    data = { sms = "none" }
    next = "bye"
""" + BYE


def test_an_sms_step_sends_its_template_to_the_caller_and_goes_on(tmp_path, clock):
    caller = Caller(clock, ani="13800138000", data={"name": "Wang", "ref": "A17"})
    outcome, _ = run_flow(tmp_path, clock, SMS, caller=caller)
    assert steps(outcome) == ["text_them", "bye"]
    assert caller.requests("send_sms") == [
        ("13800138000", "Thank you, Wang: your reference is A17. 谢谢！")]
    assert caller.data["sms"] == "m1"


def test_an_sms_the_server_refuses_goes_to_on_failure(tmp_path, clock):
    caller = Caller(clock, ani="P", data={"name": "Wang", "ref": "A17"})
    outcome, _ = run_flow(tmp_path, clock, SMS, caller=caller)
    assert steps(outcome) == ["text_them", "sorry", "bye"] and caller.data["sms"] == "none"


def test_an_sms_step_may_name_its_number(tmp_path, clock):
    outcome, caller = run_flow(tmp_path, clock, """
        [[steps]]
        name = "text_them"
        type = "sms"
        to = "+8613800138000"
        text = "A caller from $ani"
        next = "bye"
    """ + BYE)
    assert caller.requests("send_sms") == [("+8613800138000", "A caller from 5559999")]
