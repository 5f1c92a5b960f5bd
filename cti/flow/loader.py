# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_files -*-
"""Loading and validating flow files.

`load_flows` reads every ``*.toml`` in a directory (one flow per file, the
file stem is the flow's name), checks each against the language
(cti.flow.model, docs/flows.md), then checks the flows against each other,
and returns them by name, or raises `FlowErrors` listing every problem
found, one per line, each naming the file, its line and the step::

    etc/flows/main_menu.toml, line 77: steps[6] (account): next: no step named
        'balanc' (steps: answer, identify, welcome_back, ...; did you mean 'balance'?)

What is checked: TOML syntax; unknown keys; unknown step types; the fields
each type requires; duplicate step names; that every target names a step;
field values (prompts in the prompt manifest, DTMF keys, positive
timeouts, regular expressions, hook names and their arguments, template
variables); exactly one destination per transfer; the flow's agent_key
against menu options and terminators; loops that never wait for the
caller; and goto targets (once every flow is loaded).  Unreachable steps
are warnings (``Flows.warnings``), not errors.  Which calls run which flow
is the CT server's routing (etc/cti.toml ``[[routes]]``), checked there:
a ``[match]`` table in a flow file is an error that says so.

From a shell, for a technician or CI::

    python -m cti.flow.loader etc/flows etc/prompts/prompts.toml
"""
import difflib
import math
import re
import sys
import tomllib
from collections.abc import Collection, Mapping
from pathlib import Path

from cti.config import ConfigError
from cti.flow import hooks as _hooks
from cti.flow.model import (
    DATA_KEY,
    DTMF_KEYS,
    FLOW_NAME,
    SAY_KINDS,
    STEP_TYPES,
    VARIABLES,
    CollectStep,
    Flow,
    Flows,
    GotoStep,
    LookupStep,
    MenuStep,
    Prompt,
    RecordStep,
    Say,
    TransferStep,
    is_variable,
    parse_prompt_item,
    template_variables,
)
from cti.flow.prompts import MANIFEST, Manifest, load_manifest
from cti.protocol.services import KEEP_CALL_MAX_S

STEP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]+")
DIAL_CHARS = set("0123456789*#+,")
FLOW_KEYS = ("description", "agent_key", "agent_queue", "steps")
#: Steps that finish at once, without the caller: a loop of these never ends.
INSTANT_TYPES = ("answer", "set", "lookup", "sms")

_DEFAULT_HOOKS = object()


class FlowError(ConfigError):
    """One problem in a flow file: where (path, step index and name, field) and what.

    str() reads ``PATH: steps[I] (NAME): FIELD: MESSAGE``; `located()`
    adds the line of the file (that of the field, else of its step's
    ``[[steps]]``, else of the TOML error): ``PATH, line 31: steps[2]
    (menu): ...``, as a live reload's refusal says it.
    """

    def __init__(self, path, message, *, index=None, step=None, field=None):
        self.index = index
        self.step = step
        self.field = field
        self.message = message
        where = []
        if index is not None:
            where.append(f"steps[{index}]" + (f" ({step})" if step else ""))
        if field:
            where.append(field)
        super().__init__(str(path), ": ".join(where) or None, message)

    @property
    def line(self):
        """The line of the file the problem is on (1 is the first), or None."""
        return line_of(self.path, self.index, self.field, self.message)

    def located(self):
        line = self.line
        if line is None:
            return str(self)
        return f"{self.path}, line {line}: " + str(self).removeprefix(f"{self.path}: ")


_STEPS_HEADER = re.compile(r"\s*\[\[\s*steps\s*\]\]")
_TOML_LINE = re.compile(r"\(at line (\d+), column \d+\)")


def line_of(path, index=None, field=None, message=""):
    """Where in a flow file a problem is: the line of the TOML error the
    message quotes; else the line setting `field` (its first key) in step
    `index` (or before the first step), else that step's ``[[steps]]``;
    None when the file cannot be read or the key is not written there."""
    quoted = _TOML_LINE.search(message)
    if quoted:
        return int(quoted[1])
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return None
    if "(at end of document)" in message:
        return max(len(lines), 1)
    headers = [number for number, text in enumerate(lines) if _STEPS_HEADER.match(text)]
    if index is None:
        block = range(0, headers[0] if headers else len(lines))
    elif index < len(headers):
        end = headers[index + 1] if index + 1 < len(headers) else len(lines)
        block = range(headers[index], end)
    else:
        return None
    if field:
        key = re.split(r"[.\[]", field, maxsplit=1)[0]
        setting = re.compile(rf"\s*\"?{re.escape(key)}\"?\s*=")
        for number in block:
            if setting.match(lines[number]):
                return number + 1
    return headers[index] + 1 if index is not None else None


class FlowErrors(ConfigError):
    """Every problem found while loading flows; ``.errors`` and ``.warnings``
    hold FlowError objects, str() lists the errors one per line, each with
    its line in the file (FlowError.located)."""

    def __init__(self, directory, errors, warnings=()):
        self.errors = list(errors)
        self.warnings = list(warnings)
        count = len(self.errors)
        lines = "\n".join(e.located() for e in self.errors)
        super().__init__(str(directory), None,
                         f"{count} error{'s' if count != 1 else ''} in flow files:\n{lines}")


class _Bad(Exception):
    """A field's value is wrong; the message says what was expected."""


def _suggest(word, choices):
    close = difflib.get_close_matches(str(word), list(choices), n=1)
    return f"; did you mean {close[0]!r}?" if close else ""


def _listing(names, limit=12):
    names = list(names)
    shown = ", ".join(names[:limit])
    return shown + (", ..." if len(names) > limit else "")


def _describe(value):
    kind = {bool: "a boolean", int: "a number", float: "a number", str: "a string",
            list: "a list", dict: "a table"}.get(type(value), type(value).__name__)
    return f"{kind} ({value!r})" if not isinstance(value, (list, dict)) else kind


# --- one file ----------------------------------------------------------------------------

class _FileChecker:
    """Checks one flow file and builds its Flow; problems collect in .errors."""

    def __init__(self, path, prompts, manifest_label, hooks):
        self.path = str(path)
        self.name = Path(path).stem
        self.prompts = prompts            # a Collection of names, or None: not checked
        self.manifest_label = manifest_label
        self.hooks = hooks                # a hooks.Registry, or None: not checked
        self.errors = []

    def error(self, message, *, index=None, step=None, field=None):
        self.errors.append(FlowError(self.path, message, index=index, step=step, field=field))

    # The flow file

    def check(self):
        try:
            with open(self.path, "rb") as f:
                data = tomllib.load(f)
        except tomllib.TOMLDecodeError as e:
            self.error(f"not valid TOML: {e}")
            return None
        except OSError as e:
            self.error(f"cannot read: {e.strerror or e}")
            return None
        if not FLOW_NAME.fullmatch(self.name):
            self.error(f"the file name makes the flow name {self.name!r}: "
                       "use letters, digits, _ and -")
        for key in data:
            if key == "match":
                self.error("[match] is no longer part of a flow: routing lives in the "
                           "server configuration's [[routes]] and [routing] (etc/cti.toml, "
                           "docs/configuration.md); move each number, caller or trunk group "
                           f"there as a route with flow = \"{self.name}\"", field=key)
            elif key not in FLOW_KEYS:
                self.error(f"unknown key (expected {', '.join(FLOW_KEYS)}"
                           f"{_suggest(key, FLOW_KEYS)})", field=key)
        description = data.get("description", "")
        if not isinstance(description, str):
            self.error(f"expected a string, got {_describe(description)}", field="description")
            description = ""
        agent_key, agent_queue = self.check_agent(data)
        steps = self.check_steps(data.get("steps"), agent_key)
        self.errors.sort(key=lambda e: -1 if e.index is None else e.index)
        if self.errors or not steps:
            return None
        flow = Flow(name=self.name, description=description, agent_key=agent_key,
                    agent_queue=agent_queue, steps=steps, first=next(iter(steps)),
                    path=self.path)
        self.check_loops(flow)
        return None if self.errors else flow

    def check_agent(self, data):
        agent_key = data.get("agent_key")
        agent_queue = data.get("agent_queue")
        if agent_key is not None:
            if not isinstance(agent_key, str) or len(agent_key) != 1 or agent_key not in DTMF_KEYS:
                self.error(f"expected one DTMF key ({_dtmf_list()}), got "
                           f"{_describe(agent_key)}", field="agent_key")
                agent_key = None
            elif agent_queue is None:
                self.error("agent_key needs agent_queue, the ACD queue the key transfers to",
                           field="agent_queue")
        if agent_queue is not None:
            if not isinstance(agent_queue, str) or not QUEUE_NAME.fullmatch(agent_queue):
                self.error(f"expected a queue name, got {_describe(agent_queue)}",
                           field="agent_queue")
                agent_queue = None
            elif "agent_key" not in data:
                self.error("agent_queue without agent_key: set agent_key (e.g. \"0\") too",
                           field="agent_key")
        return agent_key, agent_queue

    # Steps

    def check_steps(self, tables, agent_key):
        if tables is None:
            self.error("missing: a flow is a list of [[steps]] tables", field="steps")
            return {}
        if not isinstance(tables, list) or not tables:
            self.error("expected at least one [[steps]] table", field="steps")
            return {}
        built = {}
        first_index = {}
        names = [t.get("name") if isinstance(t, dict) else None for t in tables]
        valid_names = [n for n in names if isinstance(n, str)]
        for index, table in enumerate(tables):
            step = self.check_step(index, table, agent_key)
            name = names[index] if isinstance(names[index], str) else None
            if name is not None and name in first_index:
                self.error(f"duplicate step name, also steps[{first_index[name]}]",
                           index=index, step=name, field="name")
            elif name is not None:
                first_index[name] = index
                if step is not None:
                    built[name] = step
        # Targets, once every name is known.
        for index in range(len(tables)):
            step = built.get(names[index]) if isinstance(names[index], str) else None
            if step is None or first_index.get(step.name) != index:
                continue
            for field, target in step.targets():
                if target not in first_index:
                    self.error(f"no step named {target!r} (steps: {_listing(valid_names)}"
                               f"{_suggest(target, valid_names)})",
                               index=index, step=step.name, field=field)
        return built

    def check_step(self, index, table, agent_key):
        if not isinstance(table, dict):
            self.error(f"expected a table, got {_describe(table)}", index=index)
            return None
        name = table.get("name")
        label = name if isinstance(name, str) else None
        at = {"index": index, "step": label}
        ok = True
        if name is None:
            self.error("missing: every step needs a name", field="name", **at)
            ok = False
        elif not isinstance(name, str) or not STEP_NAME.fullmatch(name):
            self.error(f"expected a name of letters, digits, _ and -, got {_describe(name)}",
                       field="name", **at)
            ok = False
        kind = table.get("type")
        if kind is None:
            self.error(f"missing: expected one of {', '.join(STEP_TYPES)}", field="type", **at)
            return None
        if kind not in STEP_TYPES:
            self.error(f"unknown step type {kind!r} (expected one of {', '.join(STEP_TYPES)}"
                       f"{_suggest(kind, STEP_TYPES)})", field="type", **at)
            return None
        cls = STEP_TYPES[kind]
        spec = cls.field_kinds()
        allowed = ["type"] + list(spec)
        misspelt = set()
        for key in table:
            if key not in allowed:
                self.error(f"unknown key for a {kind} step (expected {', '.join(allowed)}"
                           f"{_suggest(key, allowed)})", field=key, **at)
                misspelt.update(difflib.get_close_matches(key, allowed, n=1))
                ok = False
        # A misspelt required key is reported once, as unknown, not also as missing.
        missing = [f for f, (_, required) in spec.items()
                   if required and f not in table and f != "name" and f not in misspelt]
        for f in missing:
            needs = ", ".join(f for f, (_, r) in spec.items() if r)
            self.error(f"missing (a {kind} step needs {needs})", field=f, **at)
            ok = False
        values = {}
        for f, (field_kind, required) in spec.items():
            if f not in table or f == "name":
                continue
            try:
                values[f] = self.convert(field_kind, table[f], required)
            except _Bad as e:
                self.error(str(e), field=f, **at)
                ok = False
        if not ok:
            return None
        step = cls(name=name, **values)
        before = len(self.errors)
        self.check_type_rules(step, table, agent_key, at)
        return step if len(self.errors) == before else None

    def check_type_rules(self, step, table, agent_key, at):
        """Rules about several fields of one step."""
        agent_here = agent_key if getattr(step, "allow_agent", False) else None
        if isinstance(step, MenuStep):
            if not step.options:
                self.error("expected at least one option, such as { \"1\" = \"next_step\" }",
                           field="options", **at)
            if agent_here and agent_here in step.options:
                self.error(f"key {agent_here!r} is the flow's agent_key: choose another key, "
                           "or set allow_agent = false on this step", field="options", **at)
        if isinstance(step, CollectStep):
            if step.min_digits > step.max_digits:
                self.error(f"min_digits ({step.min_digits}) is more than max_digits "
                           f"({step.max_digits})", field="min_digits", **at)
            if step.validate is not None and step.hook is not None:
                self.error("expected either validate (a regular expression) or hook, not both",
                           field="hook", **at)
            if "args" in table and step.hook is None:
                self.error("args are the validation hook's arguments: set hook too",
                           field="args", **at)
            if step.hook is not None:
                self.check_hook_args(step.hook, step.hook_args(), "args", at)
        if isinstance(step, (CollectStep, RecordStep)):
            if agent_here and step.terminator == agent_here:
                self.error(f"the terminator {agent_here!r} is the flow's agent_key: choose "
                           "another terminator, or set allow_agent = false on this step",
                           field="terminator", **at)
        if isinstance(step, LookupStep):
            self.check_hook_args(step.hook, step.args, "args", at)
        if isinstance(step, TransferStep):
            given = [k for k in ("queue", "extension", "number") if getattr(step, k) is not None]
            if len(given) != 1:
                got = ", ".join(given) if given else "none"
                self.error(f"expected exactly one of queue, extension, number; got {got}",
                           field="queue" if not given else given[1], **at)
        if step.type == "set" and not step.data:
            self.error("expected at least one key = \"value\"", field="data", **at)

    def check_hook_args(self, name, args, field, at):
        if self.hooks is None or name not in self.hooks:
            return
        try:
            self.hooks.check_args(name, args)
        except _hooks.HookError as e:
            self.error(str(e), field=field, **at)

    # Field kinds

    def convert(self, kind, value, required):
        return getattr(self, f"k_{kind}")(value, required)

    def k_target(self, value, required):
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected the name of a step, got {_describe(value)}")
        return value

    def k_prompts(self, value, required):
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            raise _Bad(f"expected a prompt name or a list of them, got {_describe(value)}")
        if required and not value:
            raise _Bad("expected at least one prompt")
        chain = []
        for item in value:
            try:
                parsed = parse_prompt_item(item)
            except ValueError as e:
                raise _Bad(str(e)) from None
            if isinstance(parsed, Say):
                self.check_template(parsed.value)
                needed = SAY_KINDS[parsed.kind]
            else:
                needed = (parsed.name,)
            if self.prompts is not None:
                absent = [n for n in needed if n not in self.prompts]
                if absent and isinstance(parsed, Prompt):
                    raise _Bad(f"no prompt named {parsed.name!r} in {self.manifest_label}"
                               f"{_suggest(parsed.name, self.prompts)}")
                if absent:
                    raise _Bad(f"{item!r} needs prompts missing from {self.manifest_label}: "
                               f"{_listing(absent)}")
            chain.append(parsed)
        return tuple(chain)

    def k_bool(self, value, required):
        if not isinstance(value, bool):
            raise _Bad(f"expected true or false, got {_describe(value)}")
        return value

    def k_seconds(self, value, required):
        if (isinstance(value, bool) or not isinstance(value, (int, float))
                or not math.isfinite(value) or value <= 0):
            raise _Bad(f"expected a positive number of seconds, got {_describe(value)}")
        return float(value)

    def k_hook_seconds(self, value, required):
        seconds = self.k_seconds(value, required)
        if seconds > KEEP_CALL_MAX_S:
            raise _Bad(f"at most {KEEP_CALL_MAX_S:g} seconds (the longest the CT server "
                       f"keeps a call while a hook runs), got {seconds:g}")
        return seconds

    def k_count(self, value, required):
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise _Bad(f"expected a whole number, 0 or more, got {_describe(value)}")
        return value

    def k_positive(self, value, required):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _Bad(f"expected a whole number, 1 or more, got {_describe(value)}")
        return value

    def k_terminator(self, value, required):
        if not isinstance(value, str) or (value and (len(value) != 1 or value not in DTMF_KEYS
                                                     or value.isdigit())):
            raise _Bad(f"expected one of * # A B C D, or \"\" for none, got {_describe(value)}")
        return value

    def k_regex(self, value, required):
        if not isinstance(value, str):
            raise _Bad(f"expected a regular expression, got {_describe(value)}")
        try:
            re.compile(value)
        except re.error as e:
            raise _Bad(f"not a valid regular expression ({e}): {value!r}") from None
        return value

    def k_hook(self, value, required):
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected the name of a hook, got {_describe(value)}")
        if self.hooks is not None and value not in self.hooks:
            names = self.hooks.names()
            raise _Bad(f"no hook named {value!r} (registered: {_listing(names) or 'none'}"
                       f"{_suggest(value, names)})")
        return value

    def k_templates(self, value, required):
        if not isinstance(value, dict):
            raise _Bad(f"expected a table such as {{ key = \"value\" }}, got {_describe(value)}")
        for key, v in value.items():
            if not DATA_KEY.fullmatch(key):
                raise _Bad(f"key {key!r}: expected letters, digits and _, "
                           "not starting with a digit")
            if isinstance(v, str):
                self.check_template(v, key)
            elif isinstance(v, bool) or not isinstance(v, (int, float)):
                raise _Bad(f"{key}: expected a string or a number, got {_describe(v)}")
        return dict(value)

    def k_template(self, value, required):
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected some text (a template such as \"Your reference is "
                       f"$data.ref\"), got {_describe(value)}")
        self.check_template(value)
        return value

    def k_data_key(self, value, required):
        if not isinstance(value, str) or not DATA_KEY.fullmatch(value):
            raise _Bad("expected an attached-data key (letters, digits and _, not starting "
                       f"with a digit), got {_describe(value)}")
        return value

    def k_queue(self, value, required):
        if not isinstance(value, str) or not QUEUE_NAME.fullmatch(value):
            raise _Bad(f"expected a queue name, got {_describe(value)}")
        return value

    def k_dial(self, value, required):
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected a number to dial as a string, got {_describe(value)}")
        if "$" in value:
            self.check_template(value)
        elif not set(value) <= DIAL_CHARS:
            raise _Bad(f"{value!r}: expected digits, * # + and , (a pause), or a template "
                       "such as \"$data.callback\"")
        return value

    def k_flow(self, value, required):
        if not isinstance(value, str) or not FLOW_NAME.fullmatch(value):
            raise _Bad(f"expected a flow name (a file stem in the flows directory), "
                       f"got {_describe(value)}")
        return value

    def k_flow_step(self, value, required):
        if not isinstance(value, str) or not value:
            raise _Bad(f"expected a step name of the other flow, got {_describe(value)}")
        return value

    def k_options(self, value, required):
        if not isinstance(value, dict):
            raise _Bad(f"expected a table of key = \"step\", got {_describe(value)}")
        for key, target in value.items():
            if len(key) != 1 or key not in DTMF_KEYS:
                raise _Bad(f"key {key!r} is not a DTMF key (expected one of {_dtmf_list()})")
            if not isinstance(target, str) or not target:
                raise _Bad(f"{key}: expected the name of a step, got {_describe(target)}")
        return dict(value)

    def check_template(self, template, key=None):
        prefix = f"{key}: " if key else ""
        try:
            names = template_variables(template)
        except ValueError as e:
            raise _Bad(f"{prefix}{template!r}: {e}") from None
        for name in names:
            if not is_variable(name):
                raise _Bad(f"{prefix}{template!r}: unknown variable ${name} (expected "
                           f"{', '.join('$' + v for v in VARIABLES)} or $data.KEY"
                           f"{_suggest(name, VARIABLES)})")

    # Loops

    def check_loops(self, flow):
        """A loop of steps that never wait for the caller would spin forever."""
        instant = {n for n, s in flow.steps.items() if s.type in INSTANT_TYPES}
        index = {n: i for i, n in enumerate(flow.steps)}
        reported = set()
        for start in sorted(instant, key=index.get):
            loop = _find_loop(flow, start, instant)
            if loop and frozenset(loop) not in reported:
                reported.add(frozenset(loop))
                self.error("these steps loop without waiting for the caller: "
                           f"{' -> '.join(loop + [start])}", index=index[start], step=start,
                           field="next")


def _find_loop(flow, start, instant):
    """A path of instant steps from start back to start, or None."""
    path, on_path = [], set()

    def walk(name):
        path.append(name)
        on_path.add(name)
        for _, target in flow.steps[name].targets():
            if target == start:
                return list(path)
            if target in instant and target not in on_path:
                found = walk(target)
                if found:
                    return found
        path.pop()
        on_path.discard(name)
        return None

    return walk(start)


def _dtmf_list():
    return "0-9, *, #, A-D"


# --- all flows ----------------------------------------------------------------------------

def _prompt_names(prompts, directory):
    """(names or None, label for messages) from the prompts argument."""
    if prompts is None:
        prompts = Path(directory).parent / "prompts" / MANIFEST
    if isinstance(prompts, Manifest):
        return set(prompts.prompts), prompts.path
    if isinstance(prompts, (str, Path)):
        manifest = load_manifest(prompts)
        return set(manifest.prompts), manifest.path
    if isinstance(prompts, (Mapping, Collection)):
        return set(prompts), "the prompt manifest"
    raise TypeError(f"prompts: expected a manifest path, Manifest or names, got {prompts!r}")


def check_flows(directory, prompts=None, *, hooks=_DEFAULT_HOOKS):
    """Load and check every flow in a directory, without raising for their problems.

    prompts: the prompt manifest (a path, a prompts.Manifest, or a collection
    of prompt names); by default DIRECTORY/../prompts/prompts.toml.
    hooks: the hooks.Registry that hook names are checked against (default
    the process-wide one; None skips the check).

    Returns (Flows, errors, warnings): the flows without errors, and
    FlowError lists.  ConfigError for a missing directory or manifest.

    Reachability: which flows calls start in is the server configuration's
    routing, which the loader does not read, so every flow counts as an
    entry point at its first step, and a ``goto`` adds its target step.
    A step none of those reach is a warning; a flow no route names is not
    the loader's to know (the server's configuration checks that every
    flow it routes to has a file here).
    """
    if hooks is _DEFAULT_HOOKS:
        hooks = _hooks.registry
    directory = Path(directory)
    if not directory.is_dir():
        raise ConfigError(str(directory), None, "no such directory (the flow files)")
    names, label = _prompt_names(prompts, directory)
    files = sorted(directory.glob("*.toml"))
    errors, warnings = [], []
    if not files:
        errors.append(FlowError(directory, "no flow files (*.toml)"))
    flows = {}
    for path in files:
        checker = _FileChecker(path, names, label, hooks)
        flow = checker.check()
        errors += checker.errors
        if flow is not None:
            flows[flow.name] = flow
    stems = {p.stem for p in files}
    entries = {name: {flow.first} for name, flow in flows.items()}
    errors += _check_gotos(flows, stems, entries)
    warnings += _unreachable(flows, entries)
    return Flows(flows, warnings), errors, warnings


def _check_gotos(flows, stems, entries):
    errors = []
    for flow in flows.values():
        for index, step in enumerate(flow.steps.values()):
            if not isinstance(step, GotoStep):
                continue
            target = flows.get(step.flow)
            if step.flow not in stems:
                errors.append(FlowError(
                    flow.path, f"no flow named {step.flow!r} (flows: "
                    f"{_listing(sorted(stems))}{_suggest(step.flow, stems)})",
                    index=index, step=step.name, field="flow"))
            elif target is None:
                continue            # that file has errors of its own
            elif step.step is not None and step.step not in target.steps:
                errors.append(FlowError(
                    flow.path, f"flow {step.flow!r} has no step named {step.step!r} (steps: "
                    f"{_listing(target.steps)}{_suggest(step.step, target.steps)})",
                    index=index, step=step.name, field="step"))
            else:
                entries[step.flow].add(step.step or target.first)
    return errors


def _unreachable(flows, entries):
    """Steps no entry reaches; entries: flow name -> the step names calls
    may start at (the first step, and the targets of gotos into it)."""
    warnings = []
    for flow in flows.values():
        seen, todo = set(), list(entries[flow.name])
        while todo:
            name = todo.pop()
            if name in seen:
                continue
            seen.add(name)
            todo += [target for _, target in flow.steps[name].targets()]
        for index, name in enumerate(flow.steps):
            if name not in seen:
                warnings.append(FlowError(
                    flow.path, f"not reachable from the first step ({flow.first})",
                    index=index, step=name))
    return warnings


def load_flows(directory, prompts=None, *, hooks=_DEFAULT_HOOKS) -> Flows:
    """Every flow in a directory by name, checked; FlowErrors lists every error.

    Arguments as for `check_flows`.  The result is a dict (name -> Flow)
    with ``.warnings``.
    """
    flows, errors, warnings = check_flows(directory, prompts, hooks=hooks)
    if errors:
        raise FlowErrors(directory, errors, warnings)
    return flows


def main(argv=None) -> int:
    """``python -m cti.flow.loader [FLOWS_DIR] [PROMPT_MANIFEST]``: check flows.

    Prints every error and warning; exit status 1 if there were errors.
    """
    args = sys.argv[1:] if argv is None else argv
    directory = Path(args[0] if args else "etc/flows")
    prompts = args[1] if len(args) > 1 else None
    try:
        flows, errors, warnings = check_flows(directory, prompts)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return 1
    for e in errors:
        print(f"error: {e.located()}", file=sys.stderr)
    for w in warnings:
        print(f"warning: {w.located()}", file=sys.stderr)
    if not errors:
        total = sum(len(f.steps) for f in flows.values())
        print(f"{directory}: {len(flows)} flows, {total} steps, {len(warnings)} warnings")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
