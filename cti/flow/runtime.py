# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_runtime -*-
"""The flow runtime: one call walking a loaded flow, step by step.

The runtime never touches a board.  It drives the call through a *call
control*, one object per call with one method per thing a step needs,
each returning a Deferred (cti.flow.tier.ProtocolCallControl is the real
one, speaking the protocol to the CT server; tests use a scripted fake)::

    call_id, ani, dnis, trunk_group, data        # the call, as routed to the flow
    answer()                                     -> None
    play(files, barge_in, clear_digits=False)    -> {"reason": "end"} or
                                                    {"reason": "digit", "digit": "5"}
    collect(max_digits, terminators, first_timeout_s, inter_digit_timeout_s)
                                                 -> {"digits": "1234",
                                                     "reason": "digits" | "terminator" | "timeout"}
    clear_digits()                               -> None
    record(max_s, silence_s, terminators, beep)  -> {"file": ..., "duration_s": ..., "reason": ...}
    set_data(data)                               -> None (merged into the attached data)
    keep(seconds)                                -> None (the flow will be busy with the
                                                    call, without a request, for up to
                                                    `seconds`: a hook is running)
    send_sms(to, text)                           -> {"result": "queued", "message": "m3"},
                                                    or {"result": "failed", "reason": ...}
    transfer(kind, target, timeout_s, data)      -> {"result": "queued" | "connected"}, or
                                                    {"result": "failed", "reason": ...}
                                                    (busy, no_answer, queue full...)
    hangup()                                     -> None

Any of them may fail with `CallGone`: the caller hung up, or the CT server
took the call back.  The run then stops at once, quietly, and makes no
further request.

A run, for the tier that received the call::

    runner = FlowRunner(flows, "etc/prompts", reactor)
    outcome = yield runner.run(control, "main_menu")
    outcome.how       # 'transferred'
    outcome.target    # ('queue', 'sales')
    outcome.path      # [('main_menu', 'answer'), ('main_menu', 'identify'), ...]

What each step does is docs/flows.md ("How a flow runs" sums up the rules
that hold across steps).  In short:

- Barge-in: a key pressed during a prompt ends it and stays typed ahead,
  so the menu or collect that follows reads it first.
- A menu or collect that did not get a good answer forgets the keys typed
  so far, plays its invalid or timeout prompt (keys pressed during that
  one count for the next try) and is offered again.
- The flow's `agent_key`, pressed during a prompt of a step that allows
  it, or as the first key of a menu or collect entry, sends the call to
  the flow's `agent_queue` at once.
- Hooks run in the reactor thread, as cti.flow.hooks requires of them (a
  hook that does I/O returns a Deferred or is ``async def``), each bounded
  by a timeout on the runner's clock.  Before a hook runs, the call
  control is told how long the flow may be busy without a request
  (`keep`): the CT server takes back a call it hears nothing about.
- A run is bounded (MAX_STEPS): a flow that goes round without end is cut
  off and the call released, with an error in the log.

Outcome.how is ``transferred`` (the call left the IVR for `target`),
``hung_up`` (a hangup step, or a failed transfer with nowhere else to go),
``caller_gone`` (CallGone) or ``failed`` (the runtime released the call
after an error it logged).
"""
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from twisted.internet import defer
from twisted.logger import Logger

from cti.flow.hooks import Registry
from cti.flow.hooks import registry as default_hooks
from cti.flow.model import Flow, expand_prompts, substitute
from cti.flow.prompts import prompt_path

log = Logger()

#: Steps one call may take, all its flows together; then the call is released.
MAX_STEPS = 1000
#: How long a collect step's validation hook may take (a lookup step has timeout_s).
HOOK_TIMEOUT_S = 5.0
#: The ring time passed with the agent key's transfer (a queue does not ring;
#: the transfer step's default).
AGENT_TIMEOUT_S = 30.0
#: Transfer results meaning the call has left the IVR.
LEFT = frozenset({"queued", "connected"})


class CallGone(Exception):
    """The call is no longer the flow's: the caller hung up, or the CT
    server took it back (default treatment, shutdown)."""


class _AgentKey(Exception):
    """The caller pressed the flow's agent key where it counts."""


@dataclass
class Outcome:
    """How a call left its flows.

    how: transferred, hung_up, caller_gone or failed; target: where a
    transferred call went, ``(kind, name)``; path: the ``(flow, step)``
    pairs walked, in order (a step offered again is listed once).
    """

    how: str
    target: tuple[str, str] | None = None
    path: list[tuple[str, str]] = field(default_factory=list)


class _Call:
    """One run: the call control, the flow it is in, its variables, its path."""

    def __init__(self, control, flows):
        self.control = control
        self.flows = flows                          # the definitions it started on, to its end
        self.flow: Flow | None = None
        self.digits = ""                            # $digits: the last menu key or entry
        self.data = dict(control.data or {})        # the attached data, as the flow set it
        self.path: list[tuple[str, str]] = []

    def vars(self, **override) -> dict[str, Any]:
        """The template variables (cti.flow.model.substitute)."""
        c = self.control
        return {"ani": c.ani or "", "dnis": c.dnis or "", "digits": self.digits,
                "trunk_group": c.trunk_group or "", "data": self.data, **override}

    @property
    def where(self) -> dict[str, str]:
        """Log fields: the call, its flow and its step."""
        flow, step = self.path[-1] if self.path else ("-", "-")
        return {"call": self.control.call_id, "flow": flow, "step": step}


class FlowRunner:
    """Runs loaded flows (cti.flow.loader.load_flows) for calls, any number at once.

    prompts_dir: where prompt NAME is NAME.wav (the files are passed to the
    call control as absolute paths); clock: times hook calls out (the
    reactor, or task.Clock in tests); hooks: the registry lookup and
    collect steps call.

    `flows` may be replaced while calls run (a live reload,
    cti.flow.library): a call walks the flows it started on to its end,
    gotos included; the calls after take the new ones.
    """

    def __init__(self, flows: Mapping[str, Flow], prompts_dir, clock,
                 hooks: Registry = default_hooks):
        self.flows = flows
        self.prompts_dir = Path(prompts_dir).absolute()
        self.clock = clock
        self.hooks = hooks

    def run(self, control, flow_name: str, step: str | None = None) -> defer.Deferred:
        """Run `flow_name` for one call, from its first step or from `step`.

        A Deferred firing with the Outcome when the call leaves the flows;
        it does not fail (an error is logged, the call released, and the
        outcome is ``failed``).
        """
        return defer.ensureDeferred(self._run(_Call(control, self.flows), flow_name, step))

    async def _run(self, call, flow_name, step_name):
        try:
            flow = call.flows.get(flow_name)
            if flow is None or (step_name is not None and step_name not in flow.steps):
                log.error("call {call}: no flow {flow} (or no step {step} in it); releasing",
                          call=call.control.call_id, flow=flow_name, step=step_name or "-")
                outcome = await self._release(call)
            else:
                outcome = await self._walk(call, flow, step_name or flow.first)
        except CallGone as e:
            log.info("call {call}: gone in {flow}/{step}: {why}", why=e, **call.where)
            outcome = Outcome("caller_gone")
        except Exception:
            log.failure("call {call}: flow failed in {flow}/{step}; releasing", **call.where)
            outcome = await self._release(call)
        outcome.path = call.path
        log.info("call {call}: {how} {target} from {flow}/{step}", how=outcome.how,
                 target=":".join(outcome.target) if outcome.target else "", **call.where)
        return outcome

    async def _walk(self, call, flow, step_name):
        call.flow = flow
        for _ in range(MAX_STEPS):
            step = call.flow.steps[step_name]
            call.path.append((call.flow.name, step.name))
            log.debug("call {call}: {flow}/{step} ({type})", type=step.type, **call.where)
            try:
                went = await getattr(self, f"_{step.type}")(call, step)
            except _AgentKey:
                return await self._to_agent(call)
            if isinstance(went, Outcome):
                return went
            if isinstance(went, tuple):                      # goto: (flow, step or None)
                call.flow = call.flows[went[0]]
                step_name = went[1] or call.flow.first
            else:
                step_name = went
        log.error("call {call}: {n} steps without leaving the flows (last {flow}/{step}); "
                  "releasing", n=MAX_STEPS, **call.where)
        return await self._release(call)

    async def _release(self, call):
        """Hang up after an error; the outcome is 'failed' whatever happens."""
        try:
            await call.control.hangup()
        except CallGone:
            pass
        except Exception:
            log.failure("call {call}: releasing the call failed too", **call.where)
        return Outcome("failed")

    # -- what steps share ----------------------------------------------------------

    def _files(self, call, chain):
        problems = []
        names = expand_prompts(chain, call.vars(), problems)
        for problem in problems:
            log.warn("call {call}: {flow}/{step}: {problem}", problem=problem, **call.where)
        return [str(prompt_path(self.prompts_dir, name)) for name in names]

    async def _prompt(self, call, chain, *, barge_in=False, agent=None, clear=False):
        """Play a prompt chain (nothing when it says nothing).

        barge_in: a key ends it and stays typed ahead; agent: the key that
        escapes to the agent queue instead; clear: forget typed-ahead keys
        first (even when there is nothing to play).
        """
        files = self._files(call, chain)
        if not files:
            if clear:
                await call.control.clear_digits()
            return
        got = await call.control.play(files, barge_in, clear)
        if agent is not None and got.get("reason") == "digit" and got.get("digit") == agent:
            raise _AgentKey()

    def _table(self, call, table):
        """A ``data`` table's templates expanded, values as strings."""
        return {key: str(substitute(value, call.vars())) for key, value in table.items()}

    async def _set_data(self, call, data):
        if data:
            await call.control.set_data(data)
            call.data.update(data)

    async def _hook(self, call, name, args, timeout_s, **override):
        """(found data or None, failed): call a hook, bounded by timeout_s."""
        values = {key: substitute(value, call.vars(**override)) for key, value in args.items()}
        await call.control.keep(timeout_s)
        d = self.hooks.call(name, values)
        d.addTimeout(timeout_s, self.clock)
        try:
            return await d, False
        except Exception as e:
            log.warn("call {call}: {flow}/{step}: hook {hook} failed: {error!r}",
                     hook=name, error=e, **call.where)
            return None, True

    async def _to_agent(self, call):
        queue = call.flow.agent_queue
        log.info("call {call}: agent key in {flow}/{step}: to queue {queue}", queue=queue,
                 **call.where)
        got = await call.control.transfer("queue", queue, AGENT_TIMEOUT_S, {})
        if got.get("result") in LEFT:
            return Outcome("transferred", ("queue", queue))
        log.error("call {call}: the agent queue {queue} refused the call ({result}); "
                  "releasing", queue=queue, result=got.get("result"), **call.where)
        return await self._release(call)

    async def _complain(self, call, step, chain, agent):
        """Before a menu or collect is offered again (or given up): forget the
        keys typed so far, then say what went wrong; keys pressed during
        that prompt are kept for the next try."""
        await self._prompt(call, chain, barge_in=step.barge_in, agent=agent, clear=True)

    # -- the steps: each returns the next step's name, (flow, step) or an Outcome ---------

    async def _answer(self, call, step):
        await call.control.answer()
        return step.next

    async def _play(self, call, step):
        await self._prompt(call, step.prompt, barge_in=step.barge_in,
                           agent=call.flow.agent_escape(step))
        return step.next

    async def _menu(self, call, step):
        agent = call.flow.agent_escape(step)
        for _ in range(step.retries + 1):
            await self._prompt(call, step.prompt, barge_in=step.barge_in, agent=agent)
            got = await call.control.collect(1, "", step.timeout_s, step.timeout_s)
            key = got.get("digits", "")
            if key and key == agent:
                raise _AgentKey()
            if key in step.options:
                call.digits = key
                return step.options[key]
            log.debug("call {call}: {flow}/{step}: {what}", what=f"key {key}" if key
                      else "no key", **call.where)
            await self._complain(call, step, step.invalid_prompt if key else step.timeout_prompt,
                                 agent)
        return step.on_failure

    async def _entry(self, call, step, agent):
        """Collect one entry.  With the agent escape on, the first key is
        read alone, so the agent key acts at once."""
        collect = call.control.collect
        if agent is None:
            return await collect(step.max_digits, step.terminator, step.first_timeout_s,
                                 step.inter_digit_timeout_s)
        first = await collect(1, step.terminator, step.first_timeout_s,
                              step.inter_digit_timeout_s)
        key = first.get("digits", "")
        if key == agent:
            raise _AgentKey()
        if not key or step.max_digits == 1:
            return first
        rest = await collect(step.max_digits - 1, step.terminator, step.inter_digit_timeout_s,
                             step.inter_digit_timeout_s)
        return {"digits": key + rest.get("digits", ""), "reason": rest.get("reason")}

    async def _collect(self, call, step):
        agent = call.flow.agent_escape(step)
        for _ in range(step.retries + 1):
            await self._prompt(call, step.prompt, barge_in=step.barge_in, agent=agent)
            got = await self._entry(call, step, agent)
            digits = got.get("digits", "")
            complaint = step.invalid_prompt
            if not digits and got.get("reason") == "timeout":
                complaint = step.timeout_prompt
            elif len(digits) >= step.min_digits and (
                    step.validate is None or re.fullmatch(step.validate, digits)):
                found = {}
                if step.hook is not None:
                    found, failed = await self._hook(call, step.hook, step.hook_args(),
                                                     HOOK_TIMEOUT_S, digits=digits)
                    if failed:                  # cannot check: retrying will not help
                        return step.on_failure
                if found is not None:
                    call.digits = digits
                    data = dict(found)
                    if step.store:
                        data[step.store] = digits
                    await self._set_data(call, data)
                    return step.next
            log.debug("call {call}: {flow}/{step}: entry {digits!r} ({reason}) refused",
                      digits=digits, reason=got.get("reason"), **call.where)
            await self._complain(call, step, complaint, agent)
        return step.on_failure

    async def _record(self, call, step):
        await self._prompt(call, step.prompt, barge_in=True, agent=call.flow.agent_escape(step))
        await call.control.clear_digits()        # a key that cut the prompt must not end it
        got = await call.control.record(step.max_s, step.silence_s, step.terminator, step.beep)
        await self._set_data(call, {step.store: got.get("file") or ""})
        return step.next

    async def _set(self, call, step):
        await self._set_data(call, self._table(call, step.data))
        return step.next

    async def _lookup(self, call, step):
        found, failed = await self._hook(call, step.hook, step.args, step.timeout_s)
        if failed:
            return step.on_error or step.on_missing
        if found is None:
            return step.on_missing
        await self._set_data(call, found)
        return step.on_found

    async def _sms(self, call, step):
        to = str(substitute(step.to, call.vars()))
        got = await call.control.send_sms(to, str(substitute(step.text, call.vars())))
        if got.get("result") != "queued":
            log.warn("call {call}: {flow}/{step}: no message to {to}: {reason}", to=to or "-",
                     reason=got.get("reason"), **call.where)
            return step.on_failure or step.next
        if step.store:
            await self._set_data(call, {step.store: got["message"]})
        return step.next

    async def _transfer(self, call, step):
        await self._prompt(call, step.prompt)
        data = self._table(call, step.data)
        kind, target = step.destination
        target = str(substitute(target, call.vars()))
        if target:
            got = await call.control.transfer(kind, target, step.timeout_s, data)
            call.data.update(data)
            result = got.get("result")
        else:
            result = "failed"
            log.warn("call {call}: {flow}/{step}: the {kind} is empty", kind=kind, **call.where)
        if result in LEFT:
            return Outcome("transferred", (kind, target))
        log.info("call {call}: {flow}/{step}: transfer to {kind} {target}: {result}",
                 kind=kind, target=target, result=result, **call.where)
        if step.on_failure is not None:
            return step.on_failure
        await call.control.hangup()
        return Outcome("hung_up")

    async def _hangup(self, call, step):
        await self._prompt(call, step.prompt)
        await call.control.hangup()
        return Outcome("hung_up")

    async def _goto(self, call, step):
        return (step.flow, step.step)

