# SPDX-License-Identifier: GPL-2.0-or-later
"""The flow language: the sample flows and prompts, every validation error
(naming the file and the step), substitution, say: items, hooks, and
prompt generation with espeak-ng.  Which calls run which flow is the
server configuration's routing (tests/test_server_config.py); here, only
that the sample routes and the sample flows agree."""
import dataclasses
import shutil
import sys
import wave
from pathlib import Path

import pytest

from cti.config import ConfigError
from cti.flow import hooks
from cti.flow.loader import FlowErrors, check_flows, load_flows
from cti.flow.model import (
    SAY_KINDS,
    CollectStep,
    GotoStep,
    MenuStep,
    Prompt,
    Say,
    TransferStep,
    expand_prompts,
    parse_prompt_item,
    say,
    substitute,
    template_variables,
)
from cti.flow.prompts import (
    PromptError,
    ensure_prompts,
    load_manifest,
    missing_prompts,
    wav_format,
)

ROOT = Path(__file__).resolve().parent.parent
FLOWS = ROOT / "etc" / "flows"
MANIFEST = ROOT / "etc" / "prompts" / "prompts.toml"

# --- the samples ----------------------------------------------------------------------


def prompts_used(flow):
    names = set()
    for step in flow.steps.values():
        for attr in ("prompt", "invalid_prompt", "timeout_prompt"):
            for item in getattr(step, attr, ()):
                names |= set(SAY_KINDS[item.kind]) if isinstance(item, Say) else {item.name}
    return names


def test_sample_flows_load_clean():
    flows = load_flows(FLOWS)
    assert sorted(flows) == ["after_hours", "main_menu", "messages", "support_menu"]
    assert flows.warnings == []
    main = flows["main_menu"]
    assert main.first == "answer" and main.start.type == "answer"
    assert (main.agent_key, main.agent_queue) == ("0", "sales")
    assert isinstance(main.steps["menu"], MenuStep)
    assert main.steps["menu"].options == {"1": "to_sales", "2": "to_support",
                                          "3": "known_balance", "9": "mark_voicemail"}
    account = main.steps["account"]
    assert isinstance(account, CollectStep)
    # accounts have 6 to 8 digits; max_digits is one more, so the # ends the entry
    assert (account.min_digits, account.max_digits, account.terminator) == (6, 9, "#")
    assert account.store == "account" and account.validate == "[0-9]{6,8}"
    assert main.steps["to_sales"].destination == ("queue", "sales")
    assert flows["support_menu"].steps["repair_desk"].destination == ("extension", "1006")
    assert flows["after_hours"].steps["emergency"].destination == ("number", "18005550911")
    assert isinstance(main.steps["to_support"], GotoStep)
    types = {s.type for f in flows.values() for s in f.steps.values()}
    assert types == {"answer", "play", "menu", "collect", "record", "set", "lookup",
                     "transfer", "hangup", "goto"}


def test_every_prompt_the_samples_use_is_in_the_manifest():
    manifest = load_manifest(MANIFEST)
    for flow in load_flows(FLOWS).values():
        used = prompts_used(flow)
        assert used, flow.name
        assert used <= set(manifest.prompts), (flow.name, used - set(manifest.prompts))
    for text in manifest.prompts.values():
        assert text.strip() and text[0].isalpha()


def test_every_sample_flow_is_routed_by_the_server_configuration():
    """Routing lives in etc/cti.toml: each sample flow is reached by a
    route or a goto, and every route names a sample flow."""
    from cti.server.config import load_server_config

    flows = load_flows(FLOWS)
    config = load_server_config(ROOT / "etc" / "cti.toml")
    assert config.flow.flows_dir == FLOWS
    routed = {r.flow for r in (*config.routes, config.default_route) if r.flow}
    gone_to = {s.flow for f in flows.values() for s in f.steps.values()
               if isinstance(s, GotoStep)}
    assert routed <= set(flows)
    assert set(flows) <= routed | gone_to
    assert config.route_for(dnis="8005551234").flow == "main_menu"      # the prefix
    assert config.route_for(dnis="5550200").flow == "support_menu"


def test_sample_hooks():
    results = []
    hooks.registry.call("customer_by_ani", {"ani": "5551001"}).addBoth(results.append)
    hooks.registry.call("customer_by_ani", {"ani": "5559999"}).addBoth(results.append)
    hooks.registry.call("account_balance", {"account": "10067890"}).addBoth(results.append)
    assert results == [
        {"account": "10012345", "customer_name": "Alice Example", "tier": "gold"},
        None,
        {"account": "10067890", "balance": "-20.00", "customer_name": "Bob Sample"},
    ]


# --- validation --------------------------------------------------------------------------

PROMPTS = {"welcome", "menu_options", "invalid_choice", "goodbye", *SAY_KINDS["amount"]}

TEST_HOOKS = hooks.Registry()


@TEST_HOOKS.register("customer_by_ani")
def _customer(ani):
    return {"name": "x"} if ani == "1" else None


HEAD = 'description = "test"\nagent_key = "0"\nagent_queue = "sales"\n'

ANSWER = 'name = "start"\ntype = "answer"\nnext = "menu"'
MENU = ('name = "menu"\ntype = "menu"\nprompt = ["menu_options"]\n'
        'options = { "1" = "bye" }\non_failure = "bye"')
BYE = 'name = "bye"\ntype = "hangup"\nprompt = ["goodbye"]'


def flow_text(*steps, head=HEAD):
    return head + "".join(f"\n[[steps]]\n{s}\n" for s in steps)


@pytest.fixture
def flows_dir(tmp_path):
    directory = tmp_path / "flows"
    directory.mkdir()
    return directory


def check(directory, files):
    for name, text in files.items():
        (directory / f"{name}.toml").write_text(text)
    return check_flows(directory, PROMPTS, hooks=TEST_HOOKS)


def only_error(directory, text, name="f"):
    _, errors, _ = check(directory, {name: text})
    assert len(errors) == 1, [str(e) for e in errors]
    return str(errors[0])


def test_a_valid_flow_has_no_errors(flows_dir):
    flows, errors, warnings = check(flows_dir, {"f": flow_text(ANSWER, MENU, BYE)})
    assert errors == [] and warnings == []
    assert list(flows["f"].steps) == ["start", "menu", "bye"]


# (name, steps after ANSWER, the error's field and message)
STEP_ERRORS = [
    ("unknown_key",
     MENU.replace("on_failure", "on_fail"),
     "steps[1] (menu): on_fail: unknown key for a menu step (expected type, name, prompt, "),
    ("unknown_type",
     MENU.replace('type = "menu"', 'type = "menuu"'),
     "steps[1] (menu): type: unknown step type 'menuu' (expected one of answer, play, menu, "),
    ("missing_required",
     MENU.replace('on_failure = "bye"', ""),
     "steps[1] (menu): on_failure: missing (a menu step needs name, prompt, options, "
     "on_failure)"),
    ("missing_name",
     MENU + '\n[[steps]]\ntype = "play"\nprompt = "welcome"\nnext = "bye"',
     "steps[2]: name: missing: every step needs a name"),
    ("prompt_not_in_manifest",
     MENU.replace('["menu_options"]', '["menu_option"]'),
     "steps[1] (menu): prompt: no prompt named 'menu_option' in the prompt manifest; "
     "did you mean 'menu_options'?"),
    ("say_kind_unknown",
     MENU.replace('["menu_options"]', '["say:money:$data.balance"]'),
     "steps[1] (menu): prompt: 'say:money:$data.balance': unknown say kind 'money' "
     "(expected one of digits, number, amount)"),
    ("digits_key_not_dtmf",
     MENU.replace('"1" = "bye"', '"11" = "bye"'),
     "steps[1] (menu): options: key '11' is not a DTMF key (expected one of 0-9, *, #, A-D)"),
    ("timeout_not_positive",
     MENU + "\ntimeout_s = 0",
     "steps[1] (menu): timeout_s: expected a positive number of seconds, got a number (0)"),
    ("timeout_not_a_number",
     MENU + '\ntimeout_s = "5"',
     "steps[1] (menu): timeout_s: expected a positive number of seconds, got a string ('5')"),
    ("retries_negative",
     MENU + "\nretries = -1",
     "steps[1] (menu): retries: expected a whole number, 0 or more, got a number (-1)"),
    ("agent_key_is_a_menu_option",
     MENU.replace('"1" = "bye"', '"0" = "bye"'),
     "steps[1] (menu): options: key '0' is the flow's agent_key: choose another key, "
     "or set allow_agent = false on this step"),
    ("bad_regex",
     'name = "menu"\ntype = "collect"\nprompt = "welcome"\nmax_digits = 4\n'
     'validate = "[0-9"\nnext = "bye"\non_failure = "bye"',
     "steps[1] (menu): validate: not a valid regular expression (unterminated character set"),
    ("min_digits_over_max",
     'name = "menu"\ntype = "collect"\nprompt = "welcome"\nmax_digits = 4\nmin_digits = 6\n'
     'next = "bye"\non_failure = "bye"',
     "steps[1] (menu): min_digits: min_digits (6) is more than max_digits (4)"),
    ("terminator_is_a_digit",
     'name = "menu"\ntype = "collect"\nprompt = "welcome"\nmax_digits = 4\nterminator = "5"\n'
     'next = "bye"\non_failure = "bye"',
     "steps[1] (menu): terminator: expected one of * # A B C D, or \"\" for none, "
     "got a string ('5')"),
    ("regex_and_hook",
     'name = "menu"\ntype = "collect"\nprompt = "welcome"\nmax_digits = 4\n'
     'validate = "[0-9]+"\nhook = "customer_by_ani"\nargs = { ani = "$digits" }\n'
     'next = "bye"\non_failure = "bye"',
     "steps[1] (menu): hook: expected either validate (a regular expression) or hook, not both"),
    ("transfer_without_destination",
     'name = "menu"\ntype = "transfer"\ndata = { reason = "x" }',
     "steps[1] (menu): queue: expected exactly one of queue, extension, number; got none"),
    ("transfer_with_two_destinations",
     'name = "menu"\ntype = "transfer"\nqueue = "sales"\nnumber = "5550911"',
     "steps[1] (menu): number: expected exactly one of queue, extension, number; "
     "got queue, number"),
    ("dial_string",
     'name = "menu"\ntype = "transfer"\nnumber = "555-0911"',
     "steps[1] (menu): number: '555-0911': expected digits, * # + and , (a pause)"),
    ("unknown_hook",
     'name = "menu"\ntype = "lookup"\nhook = "customer_by_anni"\non_found = "bye"\n'
     'on_missing = "bye"',
     "steps[1] (menu): hook: no hook named 'customer_by_anni' (registered: customer_by_ani; "
     "did you mean 'customer_by_ani'?)"),
    ("hook_arguments",
     'name = "menu"\ntype = "lookup"\nhook = "customer_by_ani"\nargs = { phone = "$ani" }\n'
     'on_found = "bye"\non_missing = "bye"',
     "steps[1] (menu): args: hook 'customer_by_ani' takes (ani): "),
    ("lookup_too_long",
     'name = "menu"\ntype = "lookup"\nhook = "customer_by_ani"\nargs = { ani = "$ani" }\n'
     'timeout_s = 301\non_found = "bye"\non_missing = "bye"',
     "steps[1] (menu): timeout_s: at most 300 seconds (the longest the CT server keeps a "
     "call while a hook runs), got 301"),
    ("unknown_variable",
     'name = "menu"\ntype = "set"\ndata = { caller = "$anni" }\nnext = "bye"',
     "steps[1] (menu): data: caller: '$anni': unknown variable $anni (expected $ani, $dnis, "
     "$digits, $trunk_group or $data.KEY; did you mean 'ani'?)"),
    ("lone_dollar",
     'name = "menu"\ntype = "set"\ndata = { fee = "5 $" }\nnext = "bye"',
     "steps[1] (menu): data: fee: '5 $': a '$' at position 2 starts no variable"),
    ("data_key",
     'name = "menu"\ntype = "record"\nstore = "message file"\nnext = "bye"',
     "steps[1] (menu): store: expected an attached-data key"),
    ("loop_without_input",
     'name = "menu"\ntype = "set"\ndata = { a = "1" }\nnext = "again"\n'
     '[[steps]]\nname = "again"\ntype = "lookup"\nhook = "customer_by_ani"\n'
     'args = { ani = "$ani" }\non_found = "menu"\non_missing = "bye"',
     "steps[1] (menu): next: these steps loop without waiting for the caller: "
     "menu -> again -> menu"),
    ("sms_without_text",
     'name = "menu"\ntype = "sms"\nnext = "bye"',
     "steps[1] (menu): text: missing (a sms step needs name, text, next)"),
    ("sms_unknown_variable",
     'name = "menu"\ntype = "sms"\ntext = "Hello $nmae"\nnext = "bye"',
     "steps[1] (menu): text: 'Hello $nmae': unknown variable $nmae"),
    ("sms_to_not_a_number",
     'name = "menu"\ntype = "sms"\nto = "my mobile"\ntext = "Hi"\nnext = "bye"',
     "steps[1] (menu): to: 'my mobile': expected digits"),
    ("sms_loop",
     'name = "menu"\ntype = "sms"\ntext = "Hi"\nnext = "menu"',
     "steps[1] (menu): next: these steps loop without waiting for the caller: "
     "menu -> menu"),
]


@pytest.mark.parametrize("steps, expected", [c[1:] for c in STEP_ERRORS],
                         ids=[c[0] for c in STEP_ERRORS])
def test_step_error_names_file_step_and_expectation(flows_dir, steps, expected):
    message = only_error(flows_dir, flow_text(ANSWER, steps, BYE))
    assert message.startswith(f"{flows_dir / 'f.toml'}: {expected}"), message


def test_target_that_does_not_exist(flows_dir):
    text = flow_text(ANSWER, MENU.replace('on_failure = "bye"', 'on_failure = "by"'), BYE)
    assert only_error(flows_dir, text) == (
        f"{flows_dir / 'f.toml'}: steps[1] (menu): on_failure: no step named 'by' "
        "(steps: start, menu, bye; did you mean 'bye'?)")


def test_duplicate_step_names(flows_dir):
    text = flow_text(ANSWER, MENU, BYE, BYE)
    assert only_error(flows_dir, text) == (
        f"{flows_dir / 'f.toml'}: steps[3] (bye): name: duplicate step name, also steps[2]")


def test_unknown_flow_key(flows_dir):
    text = "agent_keys = \"0\"\n" + flow_text(ANSWER, MENU, BYE)
    assert only_error(flows_dir, text) == (
        f"{flows_dir / 'f.toml'}: agent_keys: unknown key (expected description, agent_key, "
        "agent_queue, steps; did you mean 'agent_key'?)")


def test_agent_key_needs_a_queue(flows_dir):
    text = flow_text(ANSWER, MENU, BYE, head='agent_key = "0"\n')
    assert only_error(flows_dir, text) == (
        f"{flows_dir / 'f.toml'}: agent_queue: agent_key needs agent_queue, the ACD queue "
        "the key transfers to")


def test_agent_key_conflict_allowed_where_the_agent_escape_is_off(flows_dir):
    menu = MENU.replace('"1" = "bye"', '"0" = "bye"') + "\nallow_agent = false"
    flows, errors, _ = check(flows_dir, {"f": flow_text(ANSWER, menu, BYE)})
    assert errors == []
    f = flows["f"]
    assert f.agent_escape(f.steps["menu"]) is None
    assert f.agent_escape(f.steps["bye"]) is None        # hangup: no escape
    assert f.agent_escape(dataclasses.replace(f.steps["menu"], allow_agent=True)) == "0"


def test_agent_key_conflicting_with_a_terminator(flows_dir):
    collect = ('name = "menu"\ntype = "collect"\nprompt = "welcome"\nmax_digits = 4\n'
               'terminator = "*"\nnext = "bye"\non_failure = "bye"')
    head = HEAD.replace('agent_key = "0"', 'agent_key = "*"')
    assert only_error(flows_dir, flow_text(ANSWER, collect, BYE, head=head)) == (
        f"{flows_dir / 'f.toml'}: steps[1] (menu): terminator: the terminator '*' is the "
        "flow's agent_key: choose another terminator, or set allow_agent = false on this step")


def test_unreachable_steps_are_warnings(flows_dir):
    orphan = 'name = "orphan"\ntype = "play"\nprompt = "welcome"\nnext = "bye"'
    flows, errors, warnings = check(flows_dir, {"f": flow_text(ANSWER, MENU, BYE, orphan)})
    assert errors == []
    assert [str(w) for w in warnings] == [
        f"{flows_dir / 'f.toml'}: steps[3] (orphan): not reachable from the first step (start)"]
    assert flows.warnings == warnings and "orphan" in flows["f"].steps


def test_goto_an_unknown_flow(flows_dir):
    goto = 'name = "bye"\ntype = "goto"\nflow = "suport"'
    _, errors, _ = check(flows_dir, {"f": flow_text(ANSWER, MENU, goto),
                                     "support": flow_text(ANSWER, MENU, BYE, head="")})
    assert [str(e) for e in errors] == [
        f"{flows_dir / 'f.toml'}: steps[2] (bye): flow: no flow named 'suport' "
        "(flows: f, support; did you mean 'support'?)"]


def test_goto_an_unknown_step_of_another_flow(flows_dir):
    goto = 'name = "bye"\ntype = "goto"\nflow = "support"\nstep = "manu"'
    _, errors, _ = check(flows_dir, {"f": flow_text(ANSWER, MENU, goto),
                                     "support": flow_text(ANSWER, MENU, BYE, head="")})
    assert [str(e) for e in errors] == [
        f"{flows_dir / 'f.toml'}: steps[2] (bye): step: flow 'support' has no step named "
        "'manu' (steps: start, menu, bye; did you mean 'menu'?)"]


def test_goto_entry_makes_steps_reachable(flows_dir):
    goto = 'name = "bye"\ntype = "goto"\nflow = "g"\nstep = "late"'
    late = 'name = "late"\ntype = "hangup"'
    flows, errors, warnings = check(flows_dir, {
        "f": flow_text(ANSWER, MENU, goto),
        "g": flow_text('name = "a"\ntype = "hangup"', late, head="")})
    assert errors == [] and warnings == []
    assert flows["f"].steps["bye"] == GotoStep(name="bye", flow="g", step="late")


def test_match_table_says_where_routing_lives(flows_dir):
    head = '[match]\ndnis = ["5550100"]\ndefault = true\n'
    assert only_error(flows_dir, flow_text(ANSWER, MENU, BYE, head=head)) == (
        f"{flows_dir / 'f.toml'}: match: [match] is no longer part of a flow: routing lives "
        "in the server configuration's [[routes]] and [routing] (etc/cti.toml, "
        "docs/configuration.md); move each number, caller or trunk group there as a route "
        'with flow = "f"')


def test_every_flow_is_an_entry_point(flows_dir):
    """The loader does not know the routes: a flow nothing goes to is not a
    warning, its first step is where a route may start calls."""
    flows, errors, warnings = check(flows_dir, {"f": flow_text(ANSWER, MENU, BYE),
                                                "g": flow_text(ANSWER, MENU, BYE, head="")})
    assert errors == [] and warnings == []
    assert sorted(flows) == ["f", "g"]


def test_not_toml(flows_dir):
    message = only_error(flows_dir, "steps = [\n")
    assert message.startswith(f"{flows_dir / 'f.toml'}: not valid TOML: ")


def test_load_flows_raises_with_every_error(flows_dir):
    text = flow_text(ANSWER.replace('"menu"', '"men"'), MENU + "\ntimeout_s = -1", BYE)
    (flows_dir / "f.toml").write_text(text)
    with pytest.raises(FlowErrors) as caught:
        load_flows(flows_dir, PROMPTS, hooks=TEST_HOOKS)
    e = caught.value
    assert isinstance(e, ConfigError) and len(e.errors) == 2
    lines = text.splitlines()
    next_line = next(n for n, row in enumerate(lines, 1) if row.startswith('next = "men"'))
    timeout_line = next(n for n, row in enumerate(lines, 1) if row.startswith("timeout_s = -1"))
    assert str(e).splitlines() == [                   # each with its line in the file
        f"{flows_dir}: 2 errors in flow files:",
        f"{flows_dir / 'f.toml'}, line {next_line}: steps[0] (start): next: no step named "
        "'men' (steps: start, menu, bye; did you mean 'menu'?)",
        f"{flows_dir / 'f.toml'}, line {timeout_line}: steps[1] (menu): timeout_s: expected "
        "a positive number of seconds, got a number (-1)"]


def test_manifest_is_found_next_to_the_flows(tmp_path):
    (tmp_path / "flows").mkdir()
    (tmp_path / "prompts").mkdir()
    (tmp_path / "flows" / "f.toml").write_text(flow_text(ANSWER, MENU, BYE))
    (tmp_path / "prompts" / "prompts.toml").write_text(
        '[prompts]\nmenu_options = "Press 1."\ngoodbye = "Goodbye."\n')
    assert list(load_flows(tmp_path / "flows", hooks=None)) == ["f"]
    (tmp_path / "prompts" / "prompts.toml").write_text('[prompts]\n"Menu" = "Press 1."\n')
    with pytest.raises(ConfigError, match=r"prompts.toml: prompts.Menu: a prompt name is"):
        load_flows(tmp_path / "flows", hooks=None)


# --- substitution and say: -----------------------------------------------------------------

CALL = {"ani": "5551001", "dnis": "5550100", "digits": "42", "trunk_group": "t1",
        "data": {"account": "10012345", "balance": "12.50"}}


def test_substitute():
    assert substitute("$ani", CALL) == "5551001"
    assert substitute("$dnis/$trunk_group", CALL) == "5550100/t1"
    assert substitute("${digits}#", CALL) == "42#"
    assert substitute("acct $data.account.", CALL) == "acct 10012345."
    assert substitute("${data.balance}USD", CALL) == "12.50USD"
    assert substitute("$data.missing|$ani", CALL) == "|5551001"
    assert substitute("$$5 fee", CALL) == "$5 fee"
    assert substitute("no variables", CALL) == "no variables"
    assert substitute(7, CALL) == 7
    assert substitute("$ani", {}) == ""
    assert template_variables("$ani $data.x ${digits} $$") == ["ani", "data.x", "digits"]


def test_say():
    assert say("digits", "555-10") == ["digit_5", "digit_5", "digit_5", "digit_1", "digit_0"]
    assert say("number", "0") == ["digit_0"]
    assert say("number", "115") == ["digit_1", "number_hundred", "number_15"]
    assert say("number", "2019") == ["digit_2", "number_thousand", "number_19"]
    assert say("number", "3000042") == ["digit_3", "number_million", "number_40", "digit_2"]
    assert say("number", "-3.25") == ["number_minus", "digit_3", "number_point", "digit_2",
                                      "digit_5"]
    assert say("amount", "12.50") == ["number_12", "amount_dollars", "amount_and", "number_50",
                                      "amount_cents"]
    assert say("amount", "-21.05") == ["number_minus", "number_20", "digit_1", "amount_dollars",
                                       "amount_and", "digit_5", "amount_cents"]
    assert say("amount", "1") == ["digit_1", "amount_dollar"]
    assert say("amount", "0.01") == ["digit_1", "amount_cent"]
    assert say("amount", "0") == ["digit_0", "amount_dollars"]
    assert say("amount", "") == []
    with pytest.raises(ValueError, match="not a number"):
        say("number", "12a")
    for kind, needed in SAY_KINDS.items():
        for value in ("987654321", "-10.07", "13"):
            assert set(say(kind, value)) <= set(needed)


def test_prompt_items():
    assert parse_prompt_item("welcome") == Prompt("welcome")
    assert parse_prompt_item("say:digits:$data.account") == Say("digits", "$data.account")
    with pytest.raises(ValueError, match="expected 'say:KIND:VALUE'"):
        parse_prompt_item("say:digits")
    chain = (Prompt("balance_is"), Say("amount", "$data.balance"), Say("digits", "$digits"))
    assert expand_prompts(chain, CALL) == ["balance_is", "number_12", "amount_dollars",
                                           "amount_and", "number_50", "amount_cents",
                                           "digit_4", "digit_2"]


def test_a_value_that_is_not_a_number_says_nothing():
    problems = []
    chain = (Prompt("balance_is"), Say("amount", "$data.balance"), Prompt("goodbye"))
    assert expand_prompts(chain, {"data": {"balance": "n/a"}}, problems) == ["balance_is",
                                                                             "goodbye"]
    assert problems == ["say:amount:$data.balance: 'n/a' is not a number"]


def test_transfer_destination():
    assert TransferStep(name="t", number="5550911").destination == ("number", "5550911")


def test_registry():
    registry = hooks.Registry()

    @registry.register("lookup")
    def lookup(account, kind="x"):
        return {"n": 1} if account == "1" else None

    with pytest.raises(hooks.HookError, match="already registered"):
        registry.register("lookup", lambda: None)
    registry.check_args("lookup", ["account"])
    with pytest.raises(hooks.HookError, match=r"takes \(account, kind\)"):
        registry.check_args("lookup", ["acct"])
    results = []
    registry.call("lookup", {"account": "1"}).addBoth(results.append)
    registry.call("lookup", {"account": "2"}).addBoth(results.append)
    registry.call("missing", {}).addErrback(lambda f: results.append(f.value))
    assert results[:2] == [{"n": "1"}, None]
    assert isinstance(results[2], hooks.HookError)


# --- prompt generation -------------------------------------------------------------------

@pytest.mark.parametrize("sox", ["sox", None], ids=["sox", "python-resampler"])
def test_ensure_prompts_makes_8khz_mono_16bit_wav(tmp_path, sox):
    assert sox is None or shutil.which(sox), "sox is missing: make test installs it"
    assert shutil.which("espeak-ng"), "espeak-ng is missing: make test installs it"
    made = ensure_prompts(tmp_path, {"goodbye": "Thank you for calling. Goodbye."}, sox=sox)
    assert made == [tmp_path / "goodbye.wav"]
    assert wav_format(made[0]) == (8000, 1, 16)
    with wave.open(str(made[0]), "rb") as w:
        seconds = w.getnframes() / w.getframerate()
        samples = memoryview(w.readframes(w.getnframes())).cast("h")
    assert 1.0 < seconds < 5.0
    assert max(abs(s) for s in samples) > 3000            # speech, not silence
    assert sorted(p.name for p in tmp_path.iterdir()) == ["goodbye.wav"]   # no temp files


def test_ensure_prompts_leaves_existing_files_alone(tmp_path):
    (tmp_path / "prompts.toml").write_text(
        '[tts]\nvoice = "en-us"\nspeed = 170\n'
        '[prompts]\nwelcome = "Welcome."\ngoodbye = "Goodbye."\n')
    studio = tmp_path / "welcome.wav"
    studio.write_bytes(b"a studio recording")
    assert missing_prompts(tmp_path, ["welcome", "goodbye"]) == ["goodbye"]
    assert ensure_prompts(tmp_path) == [tmp_path / "goodbye.wav"]
    assert studio.read_bytes() == b"a studio recording"
    assert ensure_prompts(tmp_path) == []


def test_ensure_prompts_without_espeak(tmp_path):
    with pytest.raises(PromptError, match="no-such-tts not found"):
        ensure_prompts(tmp_path, {"welcome": "Welcome."}, espeak="no-such-tts")
    assert ensure_prompts(tmp_path, {}, espeak="no-such-tts") == []


def test_manifest_errors(tmp_path):
    path = tmp_path / "prompts.toml"
    path.write_text('[tts]\nspeed = 5\n[prompts]\nwelcome = "Hi."\n')
    with pytest.raises(ConfigError, match=r"prompts.toml: tts.speed: expected words per minute"):
        load_manifest(path)
    path.write_text('[prompts]\nwelcome = ""\n')
    with pytest.raises(ConfigError, match=r"prompts.welcome: expected the text"):
        load_manifest(path)


# -- a site's hook modules ([flow] hooks) ---------------------------------------------
SITE_FLOW = """
[[steps]]
name = "vip"
type = "lookup"
hook = "site_vip_by_ani"
args = { ani = "$ani" }
on_found = "bye"
on_missing = "bye"

[[steps]]
name = "bye"
type = "hangup"
"""


def site(tmp_path, monkeypatch, hooks_module, settings):
    """A copy of etc/ with a flow calling the site's hook `site_vip_by_ani`,
    the hook module in etc/hooks, and `settings` added to [flow]."""
    from cti.flow.run import load

    etc = tmp_path / "etc"
    shutil.copytree("etc", etc)
    (etc / "flows" / "site_vip.toml").write_text(SITE_FLOW)
    (etc / "hooks").mkdir()
    (etc / "hooks" / "site_vip_hooks.py").write_text(hooks_module)
    with (etc / "cti.toml").open("a") as f:                  # [flow] is the last table
        f.write(settings)
    monkeypatch.setattr(sys, "path", list(sys.path))
    monkeypatch.delitem(sys.modules, "site_vip_hooks", raising=False)
    monkeypatch.setattr(hooks.registry, "_hooks", dict(hooks.registry._hooks))   # this test's
    return lambda: load(str(etc / "cti.toml"))


VIP_HOOKS = """
from cti.flow.hooks import hook

@hook("site_vip_by_ani")
def site_vip_by_ani(ani):
    return {"vip": "yes"} if ani == "2125550000" else None
"""


def test_cti_flow_imports_the_sites_hook_modules_before_it_checks_the_flows(
        tmp_path, monkeypatch):
    load = site(tmp_path, monkeypatch, VIP_HOOKS, 'hooks = ["site_vip_hooks"]\n'
                'hooks_dir = "hooks"\n')
    config, settings, flows = load()
    assert "site_vip" in flows and settings.hooks_dir == tmp_path / "etc" / "hooks"
    results = []
    hooks.registry.call("site_vip_by_ani", {"ani": "2125550000"}).addBoth(results.append)
    assert results == [{"vip": "yes"}]


def test_a_flow_naming_a_hook_no_module_provides_is_refused(tmp_path, monkeypatch):
    load = site(tmp_path, monkeypatch, VIP_HOOKS.replace("site_vip_by_ani", "other_name"),
                'hooks = ["site_vip_hooks"]\nhooks_dir = "hooks"\n')
    with pytest.raises(FlowErrors) as e:
        load()
    assert "site_vip.toml" in str(e.value) and "site_vip_by_ani" in str(e.value)


@pytest.mark.parametrize("settings, key, words", [
    ('hooks = ["site_vip_hooks"]\nhooks_dir = "hooks"\n', "flow.hooks[0]", "ZeroDivisionError"),
    ('hooks = ["no_such_module"]\nhooks_dir = "hooks"\n', "flow.hooks[0]", "No module named"),
    ('hooks = ["crm-hooks"]\n', "flow.hooks[0]", "not a Python module name"),
    ('hooks = "site_vip_hooks"\n', "flow.hooks", "list of Python module names"),
    ('hooks_dir = "nowhere"\n', "flow.hooks_dir", "is not a directory"),
])
def test_a_hook_module_that_cannot_be_used_stops_cti_flow_naming_it(
        tmp_path, monkeypatch, settings, key, words):
    load = site(tmp_path, monkeypatch, VIP_HOOKS + "\n1 / 0\n", settings)
    with pytest.raises(ConfigError) as e:
        load()
    assert e.value.key == key and words in str(e.value)
