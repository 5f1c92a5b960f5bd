# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_files -*-
"""The flow language: what a loaded IVR flow is made of.

A flow is a TOML file under ``etc/flows/`` (the file stem is the flow's
name) holding a list of named steps.  Execution starts at the first step
and every step names where to go next, so a flow reads top to bottom like
the call it describes::

    [[steps]]
    name = "welcome"
    type = "answer"
    next = "menu"

    [[steps]]
    name = "menu"
    type = "menu"
    prompt = ["menu_options"]
    options = { "1" = "to_sales" }
    on_failure = "to_sales"

    [[steps]]
    name = "to_sales"
    type = "transfer"
    queue = "sales"

becomes ``Flow(name="main_menu", first="welcome", steps={"welcome":
AnswerStep(...), "menu": MenuStep(...), "to_sales": TransferStep(...)})``.
docs/flows.md is the reference for every step type and field; this module
is the data model the flow runtime executes, plus the pure helpers it needs:

- `substitute` expands ``$ani``, ``$dnis``, ``$digits``, ``$trunk_group``
  and ``$data.KEY`` in a template against a call's variables;
- `expand_prompts` turns a prompt chain (prompt names and ``say:`` items
  such as ``say:digits:$data.account``) into the prompt files to play.

Which flow a call runs is not the flow's business: the CT server routes
each call by DNIS, ANI or trunk group (etc/cti.toml ``[[routes]]``) and
tells the flow tier the flow's name.

Every class here is frozen: a loaded flow is shared by every call running
it and never changes.  Its dicts (``steps``, ``options``, ``data``,
``args``) are read-only by convention.

Step classes declare their fields with a ``kind`` in the field metadata
(``target``, ``prompts``, ``seconds`` ...); cti.flow.loader checks each
field of a flow file by that kind, so a new field is declared once, here.
"""
import re
from collections.abc import Mapping
from dataclasses import MISSING, dataclass, field, fields
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any, ClassVar

#: The 16 DTMF keys.  Menu options, agent_key and terminators are one of these.
DTMF_KEYS = "0123456789*#ABCD"

#: The call variables a template may use besides ``$data.KEY``.
VARIABLES = {
    "ani": "the calling number (empty when withheld)",
    "dnis": "the called number",
    "digits": "the digits of the last collect or menu step",
    "trunk_group": "the trunk group the call came in on",
}

#: What a prompt name, data key or flow name may look like.
PROMPT_NAME = re.compile(r"[a-z0-9_]+")
DATA_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
FLOW_NAME = re.compile(r"[A-Za-z0-9_-]+")


# --- substitution -------------------------------------------------------------

_TEMPLATE = re.compile(r"""
    \$(?:
        (?P<dollar>\$)                                   # $$: a literal $
      | \{(?P<braced>[^}]*)\}                            # ${ani}, ${data.account}
      | (?P<name>data\.[A-Za-z_][A-Za-z0-9_]*|[A-Za-z_][A-Za-z0-9_]*)
    )?""", re.VERBOSE)


def template_variables(template: str) -> list[str]:
    """The variables a template refers to, in order: ``["ani", "data.account"]``.

    Raises ValueError for a ``$`` that starts nothing (write ``$$`` for a
    literal dollar sign).  Whether each name is known is the caller's
    business (`is_variable`).
    """
    names = []
    for m in _TEMPLATE.finditer(template):
        if m.group("dollar"):
            continue
        name = m.group("braced") if m.group("braced") is not None else m.group("name")
        if not name:
            raise ValueError(f"a '$' at position {m.start()} starts no variable "
                             "(write $ani, $data.KEY, ... or $$ for a literal '$')")
        names.append(name)
    return names


def is_variable(name: str) -> bool:
    """True for ``ani``, ``dnis``, ``digits``, ``trunk_group`` and ``data.KEY``."""
    if name.startswith("data."):
        return DATA_KEY.fullmatch(name[5:]) is not None
    return name in VARIABLES


def substitute(template: Any, call_vars: Mapping[str, Any]) -> Any:
    """Expand the variables of a template against one call.

    call_vars holds ``ani``, ``dnis``, ``digits``, ``trunk_group`` and
    ``data`` (the call's attached data, a mapping)::

        substitute("$ani", {"ani": "5551001"})                      # '5551001'
        substitute("acct $data.account", {"data": {"account": "1234"}})
        substitute("${digits}#", {"digits": "42"})                  # '42#'

    A variable the call does not have expands to the empty string; ``$$`` is
    a literal ``$``.  Anything that is not a string (a TOML number or
    boolean in an ``args`` table) is returned unchanged.
    """
    if not isinstance(template, str):
        return template

    def value(m):
        if m.group("dollar"):
            return "$"
        name = m.group("braced") if m.group("braced") is not None else m.group("name")
        if not name:
            return m.group(0)
        if name.startswith("data."):
            found = (call_vars.get("data") or {}).get(name[5:])
        else:
            found = call_vars.get(name)
        return "" if found is None else str(found)

    return _TEMPLATE.sub(value, template)


def substitute_all(table: Mapping[str, Any], call_vars: Mapping[str, Any]) -> dict[str, Any]:
    """`substitute` every value of an ``args`` or ``data`` table."""
    return {key: substitute(value, call_vars) for key, value in table.items()}


# --- prompts and say: items ------------------------------------------------------

@dataclass(frozen=True)
class Prompt:
    """A recorded prompt: ``etc/prompts/NAME.wav``, text in prompts.toml."""
    name: str


@dataclass(frozen=True)
class Say:
    """Say a value from the call: ``say:digits:$data.account``.

    kind is one of SAY_KINDS; value is a template (`substitute`).
    """
    kind: str
    value: str


PromptItem = Prompt | Say

_DIGITS = [f"digit_{d}" for d in range(10)]
_NUMBER = (_DIGITS + [f"number_{n}" for n in range(10, 20)]
           + [f"number_{n}" for n in range(20, 100, 10)]
           + ["number_hundred", "number_thousand", "number_million",
              "number_minus", "number_point"])
_AMOUNT = _NUMBER + ["amount_dollar", "amount_dollars", "amount_cent", "amount_cents",
                     "amount_and"]

#: say: kinds and the prompts each needs in the manifest.
SAY_KINDS = {
    "digits": tuple(_DIGITS),   # one digit at a time: "5 5 5 1 0 0 1"
    "number": tuple(_NUMBER),   # a number in words: "one thousand two hundred"
    "amount": tuple(_AMOUNT),   # money: "twelve dollars and fifty cents"
}


def parse_prompt_item(text: str) -> PromptItem:
    """``"welcome"`` -> Prompt("welcome"); ``"say:digits:$ani"`` -> Say("digits", "$ani").

    Raises ValueError saying what was expected.
    """
    if not isinstance(text, str) or not text:
        raise ValueError(f"expected a prompt name or 'say:KIND:VALUE', got {text!r}")
    if text.startswith("say:"):
        kind, sep, value = text[4:].partition(":")
        if not sep or not value:
            raise ValueError(f"{text!r}: expected 'say:KIND:VALUE' "
                             f"(KIND one of {', '.join(SAY_KINDS)})")
        if kind not in SAY_KINDS:
            raise ValueError(f"{text!r}: unknown say kind {kind!r} "
                             f"(expected one of {', '.join(SAY_KINDS)})")
        return Say(kind, value)
    if not PROMPT_NAME.fullmatch(text):
        raise ValueError(f"{text!r} is not a prompt name (lower-case letters, digits and _)")
    return Prompt(text)


def _below_thousand(n):
    out = []
    if n >= 100:
        out += [f"digit_{n // 100}", "number_hundred"]
        n %= 100
    if n >= 20:
        out.append(f"number_{n // 10 * 10}")
        n %= 10
    elif n >= 10:
        out.append(f"number_{n}")
        n = 0
    if n:
        out.append(f"digit_{n}")
    return out


def _words(n):
    if n == 0:
        return ["digit_0"]
    if n >= 1_000_000_000:
        raise ValueError(f"{n} is too large to say as a number (at most 999999999)")
    out = []
    for unit, name in ((1_000_000, "number_million"), (1000, "number_thousand")):
        if n >= unit:
            out += _below_thousand(n // unit) + [name]
            n %= unit
    return out + _below_thousand(n)


def _decimal(value):
    try:
        d = Decimal(value.strip().replace(",", ""))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None
    if not d.is_finite():
        raise ValueError(f"{value!r} is not a number")
    return d


def say(kind: str, value: str) -> list[str]:
    """The prompt names that say a value.

    - ``digits``: every digit 0-9 of the value in turn; other characters
      (spaces, dashes, ``+``) are skipped, so ``"555-1001"`` says seven digits.
    - ``number``: a number in words, optionally negative or with a decimal
      part read digit by digit: ``"1205"`` -> one thousand two hundred five;
      ``"-3.25"`` -> minus three point two five.
    - ``amount``: money in dollars and cents, rounded to the cent:
      ``"12.50"`` -> twelve dollars and fifty cents.

    An empty value says nothing; a value that is not a number (for
    ``number`` and ``amount``) raises ValueError.
    """
    value = str(value)
    if kind == "digits":
        return [f"digit_{c}" for c in value if c in "0123456789"]
    if kind not in SAY_KINDS:
        raise ValueError(f"unknown say kind {kind!r} (expected one of {', '.join(SAY_KINDS)})")
    if not value.strip():
        return []
    d = _decimal(value)
    out = ["number_minus"] if d < 0 else []
    d = abs(d)
    if kind == "number":
        whole = int(d)
        out += _words(whole)
        text = format(d, "f")
        if "." in text:
            fraction = text.split(".", 1)[1].rstrip("0")
            if fraction:
                out += ["number_point"] + [f"digit_{c}" for c in fraction]
        return out
    cents_total = int(d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) * 100)
    if cents_total == 0:
        return ["digit_0", "amount_dollars"]
    dollars, cents = divmod(cents_total, 100)
    if dollars:
        out += _words(dollars) + ["amount_dollar" if dollars == 1 else "amount_dollars"]
    if dollars and cents:
        out.append("amount_and")
    if cents:
        out += _words(cents) + ["amount_cent" if cents == 1 else "amount_cents"]
    return out


def expand_prompts(chain: tuple[PromptItem, ...], call_vars: Mapping[str, Any],
                   problems: list[str] | None = None) -> list[str]:
    """The prompt names to play for a prompt chain, ``say:`` items expanded::

        expand_prompts((Prompt("balance_is"), Say("amount", "$data.balance")),
                       {"data": {"balance": "12.50"}})
        # ['balance_is', 'number_12', 'amount_dollars', 'amount_and', 'number_50',
        #  'amount_cents']

    A ``say:number`` or ``say:amount`` value that is not a number says
    nothing, and the rest of the chain still plays; what went wrong is
    appended to `problems` (when given) for the runtime to log.
    """
    names = []
    for item in chain:
        if isinstance(item, Say):
            value = substitute(item.value, call_vars)
            try:
                names += say(item.kind, value)
            except ValueError as e:
                if problems is not None:
                    problems.append(f"say:{item.kind}:{item.value}: {e}")
        else:
            names.append(item.name)
    return names


# --- steps ----------------------------------------------------------------------

def _f(kind, default=MISSING, doc=""):
    """A step field with the kind the loader checks it as."""
    metadata = {"kind": kind, "doc": doc}
    if isinstance(default, dict):
        return field(default_factory=dict, metadata=metadata)
    return field(default=default, metadata=metadata)


@dataclass(frozen=True, kw_only=True)
class Step:
    """What every step has: a name unique in its flow, and a type."""
    type: ClassVar[str] = ""
    name: str = _f("name")

    def targets(self) -> list[tuple[str, str]]:
        """The steps this step may go to, as (field, step name) pairs:
        ``[("next", "menu")]``, ``[("options.1", "to_sales"), ...]``."""
        out = []
        for f in fields(self):
            value = getattr(self, f.name)
            kind = f.metadata.get("kind")
            if kind == "target" and value is not None:
                out.append((f.name, value))
            elif kind == "options":
                out += [(f"options.{key}", target) for key, target in value.items()]
        return out

    @classmethod
    def field_kinds(cls) -> dict[str, tuple[str, bool]]:
        """Field name -> (kind, required), in declaration order."""
        return {f.name: (f.metadata["kind"],
                         f.default is MISSING and f.default_factory is MISSING)
                for f in fields(cls)}


@dataclass(frozen=True, kw_only=True)
class AnswerStep(Step):
    """Take the call off hook (does nothing when it is already answered)."""
    type: ClassVar[str] = "answer"
    next: str = _f("target")


@dataclass(frozen=True, kw_only=True)
class PlayStep(Step):
    """Play a prompt chain."""
    type: ClassVar[str] = "play"
    prompt: tuple[PromptItem, ...] = _f("prompts")
    barge_in: bool = _f("bool", True, "a key press stops the prompts")
    allow_agent: bool = _f("bool", True, "the flow's agent_key works during this step")
    next: str = _f("target")


@dataclass(frozen=True, kw_only=True)
class MenuStep(Step):
    """Play a prompt chain and branch on one key.

    An invalid key plays invalid_prompt, no key within timeout_s plays
    timeout_prompt; either way the menu is offered again, up to `retries`
    more times, then the call goes to on_failure.
    """
    type: ClassVar[str] = "menu"
    prompt: tuple[PromptItem, ...] = _f("prompts")
    options: dict[str, str] = _f("options")
    invalid_prompt: tuple[PromptItem, ...] = _f("prompts", ())
    timeout_prompt: tuple[PromptItem, ...] = _f("prompts", ())
    timeout_s: float = _f("seconds", 5.0)
    retries: int = _f("count", 3)
    on_failure: str = _f("target")
    barge_in: bool = _f("bool", True)
    allow_agent: bool = _f("bool", True)


@dataclass(frozen=True, kw_only=True)
class CollectStep(Step):
    """Collect digits, check them and store them in the attached data.

    Collection ends at max_digits, at the terminator (not stored), or when
    inter_digit_timeout_s passes after a digit.  No digit within
    first_timeout_s plays timeout_prompt; fewer than min_digits, or digits
    that fail `validate` (a regular expression the whole entry must match)
    or the validation `hook`, play invalid_prompt.  Either way the prompt is
    played again, up to `retries` more times, then on_failure.
    """
    type: ClassVar[str] = "collect"
    prompt: tuple[PromptItem, ...] = _f("prompts")
    max_digits: int = _f("positive")
    min_digits: int = _f("positive", 1)
    terminator: str = _f("terminator", "#", "'' for none")
    first_timeout_s: float = _f("seconds", 5.0)
    inter_digit_timeout_s: float = _f("seconds", 3.0)
    retries: int = _f("count", 2)
    validate: str | None = _f("regex", None)
    hook: str | None = _f("hook", None, "a validation hook: found = valid")
    args: dict[str, Any] = _f("templates", {}, "hook arguments; default digits = '$digits'")
    invalid_prompt: tuple[PromptItem, ...] = _f("prompts", ())
    timeout_prompt: tuple[PromptItem, ...] = _f("prompts", ())
    store: str | None = _f("data_key", None)
    next: str = _f("target")
    on_failure: str = _f("target")
    barge_in: bool = _f("bool", True)
    allow_agent: bool = _f("bool", True, "the agent_key counts only as the first key")

    def hook_args(self) -> dict[str, Any]:
        """The validation hook's arguments (templates): ``args`` or ``{digits: '$digits'}``."""
        return dict(self.args) if self.args else {"digits": "$digits"}


@dataclass(frozen=True, kw_only=True)
class RecordStep(Step):
    """Play a prompt, beep, record the caller; the recording's file is stored."""
    type: ClassVar[str] = "record"
    prompt: tuple[PromptItem, ...] = _f("prompts", ())
    beep: bool = _f("bool", True)
    max_s: float = _f("seconds", 60.0)
    silence_s: float = _f("seconds", 5.0)
    terminator: str = _f("terminator", "#")
    store: str = _f("data_key")
    allow_agent: bool = _f("bool", True, "during the prompt only")
    next: str = _f("target")


@dataclass(frozen=True, kw_only=True)
class SetStep(Step):
    """Set attached data (templates expanded)."""
    type: ClassVar[str] = "set"
    data: dict[str, Any] = _f("templates")
    next: str = _f("target")


@dataclass(frozen=True, kw_only=True)
class LookupStep(Step):
    """Call a look-up hook (cti.flow.hooks); what it finds joins the attached data."""
    type: ClassVar[str] = "lookup"
    hook: str = _f("hook")
    args: dict[str, Any] = _f("templates", {})
    timeout_s: float = _f("hook_seconds", 5.0, "at most KEEP_CALL_MAX_S (the CT server's limit)")
    on_found: str = _f("target")
    on_missing: str = _f("target")
    on_error: str | None = _f("target", None, "hook failed or timed out; default on_missing")


@dataclass(frozen=True, kw_only=True)
class SmsStep(Step):
    """Send a short message through the CT server's GSM modem, and go on.

    `to` (by default the caller's number) and `text` are templates.  The
    step waits for the server to take the message, not for its delivery
    (the audit log has that); one the server refuses (the caller's number
    withheld, a server without [sms]) goes to on_failure, or else next.
    """
    type: ClassVar[str] = "sms"
    to: str = _f("dial", "$ani", "a number or a template; the caller's number by default")
    text: str = _f("template")
    store: str | None = _f("data_key", None, "keeps the message's id in the attached data")
    next: str = _f("target")
    on_failure: str | None = _f("target", None, "the server refused it; default next")


@dataclass(frozen=True, kw_only=True)
class TransferStep(Step):
    """Hand the call to an ACD queue, an extension or an outside number."""
    type: ClassVar[str] = "transfer"
    queue: str | None = _f("queue", None)
    extension: str | None = _f("dial", None)
    number: str | None = _f("dial", None)
    prompt: tuple[PromptItem, ...] = _f("prompts", ())
    data: dict[str, Any] = _f("templates", {})
    timeout_s: float = _f("seconds", 30.0, "ring time of an extension or number")
    on_failure: str | None = _f("target", None, "default: hang up")

    @property
    def destination(self) -> tuple[str, str]:
        """("queue", "sales"), ("extension", "2001") or ("number", "5550911")."""
        for kind in ("queue", "extension", "number"):
            if getattr(self, kind) is not None:
                return kind, getattr(self, kind)
        raise ValueError(f"transfer step {self.name!r} has no destination")


@dataclass(frozen=True, kw_only=True)
class HangupStep(Step):
    """Play an optional prompt chain, then release the call."""
    type: ClassVar[str] = "hangup"
    prompt: tuple[PromptItem, ...] = _f("prompts", ())


@dataclass(frozen=True, kw_only=True)
class GotoStep(Step):
    """Continue in another flow, at its first step or at `step`."""
    type: ClassVar[str] = "goto"
    flow: str = _f("flow")
    step: str | None = _f("flow_step", None)


STEP_TYPES: dict[str, type[Step]] = {cls.type: cls for cls in (
    AnswerStep, PlayStep, MenuStep, CollectStep, RecordStep, SetStep, LookupStep, SmsStep,
    TransferStep, HangupStep, GotoStep)}


# --- flows -----------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Flow:
    """One flow file: its steps in file order, starting at `first`."""
    name: str
    description: str = ""
    agent_key: str | None = None
    agent_queue: str | None = None
    steps: dict[str, Step]
    first: str
    path: str = ""

    @property
    def start(self) -> Step:
        return self.steps[self.first]

    def agent_escape(self, step: Step) -> str | None:
        """The key that sends the caller to agent_queue during `step`, or None."""
        if self.agent_key and getattr(step, "allow_agent", False):
            return self.agent_key
        return None


class Flows(dict):
    """The loaded flows, name -> Flow, with the loader's warnings."""

    def __init__(self, flows=(), warnings=()):
        super().__init__(flows)
        self.warnings = list(warnings)
