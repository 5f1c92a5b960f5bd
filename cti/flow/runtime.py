# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_runtime -*-
"""The flow runtime: one call walking a loaded flow, step by step.

The runtime never touches a board.  It drives the call through a *call
control*, an object with one method per thing a step needs, each
returning a Deferred (cti.flow.tier.ProtocolCallControl is the real one,
speaking the protocol to the CT server; tests use a scripted fake)::

    answer()                                 play(files, barge_in, clear_digits=False)
    collect(max_digits, terminators, first_timeout_s, inter_digit_timeout_s)
    clear_digits()                           record(max_s, silence_s, terminators, beep)
    set_data(data)                           transfer(kind, target, timeout_s, data)
    hangup()

    runner = FlowRunner(flows, "etc/prompts", reactor)
    outcome = yield runner.run(control, "main_menu")
    outcome.how, outcome.target, outcome.path    # 'transferred', ('queue', 'sales'), [...]

How the steps behave is docs/flows.md.  Three rules hold everywhere:

- Barge-in: a key pressed during a prompt ends it and stays typed ahead,
  so the menu or collect that follows reads it first.
- The flow's `agent_key`, pressed during any step that allows it (as the
  first key of a collect), sends the call to the flow's `agent_queue`.
- `CallGone` from the call control (the caller hung up, or the server
  took the call back) ends the run at once, quietly: outcome "caller_gone".

A run is bounded (MAX_STEPS): a flow that loops without the caller doing
anything is cut off and the call released, with an error in the log.
"""
import re
from dataclasses import dataclass, field
from pathlib import Path

from twisted.internet import defer
from twisted.logger import Logger

from cti.flow.hooks import registry as default_hooks
from cti.flow.model import expand_prompts, substitute

log = Logger()

MAX_STEPS = 1000


class CallGone(Exception):
    """The call is no longer the flow's: the caller hung up, or the CT
    server gave it the default treatment."""


class _AgentKey(Exception):
    """The caller pressed the flow's agent key."""


@dataclass
class Outcome:
    """How a call left its flow: transferred (target = (kind, name)),
    hung_up, caller_gone or failed; path = the (flow, step) pairs walked."""

    how: str
    target: tuple | None = None
    path: list = field(default_factory=list)


class _Run:
    """One call's walk: the call control, where it is, its variables."""

    def __init__(self, control, flow):
        self.control = control
        self.flow = flow
        self.digits = ""
        self.path = []

    @property
    def vars(self):
        c = self.control
        return {"ani": c.ani, "dnis": c.dnis, "digits": self.digits,
                "trunk_group": c.trunk_group or "", "data": c.data}


class FlowRunner:
    def __init__(self, flows, prompts_dir, clock, hooks=default_hooks):
        self.flows = flows
        self.prompts_dir = Path(prompts_dir).absolute()
        self.clock = clock
        self.hooks = hooks

    def run(self, control, flow_name, step=None):
        """A Deferred firing with the Outcome when the call leaves the flows."""
        return defer.ensureDeferred(self._walk(control, flow_name, step))

    async def _walk(self, control, flow_name, step_name):
        run = _Run(control, self.flows[flow_name])
        step_name = step_name or run.flow.first
        try:
            for _ in range(MAX_STEPS):
                step = run.flow.steps[step_name]
                run.path.append((run.flow.name, step.name))
                try:
                    result = await getattr(self, f"_{step.type}")(run, step)
                except _AgentKey:
                    return await self._to_agent(run)
                if isinstance(result, Outcome):
                    result.path = run.path
                    return result
                if isinstance(result, tuple):            # goto: (flow, step or None)
                    run.flow = self.flows[result[0]]
                    step_name = result[1] or run.flow.first
                else:
                    step_name = result
            log.error("call {call}: flow {flow} ran {n} steps without leaving; released",
                      call=control.call_id, flow=run.flow.name, n=MAX_STEPS)
            await control.hangup()
            return Outcome("failed", path=run.path)
        except CallGone as e:
            log.info("call {call}: gone during {flow}/{step} ({why})", call=control.call_id,
                     flow=run.flow.name, step=run.path[-1][1] if run.path else "-", why=e)
            return Outcome("caller_gone", path=run.path)
        except Exception:
            log.failure("call {call}: flow {flow} failed at {step}; releasing the call",
                        call=control.call_id, flow=run.flow.name,
                        step=run.path[-1][1] if run.path else "-")
            try:
                await control.hangup()
            except Exception:  # noqa: BLE001 - the call may be gone already
                pass
            return Outcome("failed", path=run.path)

    # -- helpers -------------------------------------------------------------
    def _files(self, run, chain):
        problems = []
        names = expand_prompts(chain, run.vars, problems)
        for problem in problems:
            log.warn("call {call}: {problem}", call=run.control.call_id, problem=problem)
        return [str(self.prompts_dir / f"{name}.wav") for name in names]

    async def _say(self, run, chain, barge_in=True, agent=False, clear=False):
        """Play a chain; with `agent`, the agent key pressed during it escapes."""
        files = self._files(run, chain)
        if not files:
            return None
        result = await run.control.play(files, barge_in, clear)
        key = result.get("digit") if result.get("reason") == "digit" else None
        if agent and key and key == run.flow.agent_key:
            raise _AgentKey()
        return key

    def _agent_allowed(self, run, step):
        return run.flow.agent_escape(step) is not None

    async def _to_agent(self, run):
        queue = run.flow.agent_queue
        log.info("call {call}: agent key in {flow}: to queue {queue}",
                 call=run.control.call_id, flow=run.flow.name, queue=queue)
        await run.control.transfer("queue", queue, 0, {})
        return Outcome("transferred", ("queue", queue), run.path)

    async def _set(self, run, step):
        data = {k: str(substitute(v, run.vars)) for k, v in step.data.items()}
        await run.control.set_data(data)
        return step.next

    async def _hook(self, run, name, args, timeout_s):
        """(found data or None, failed?) of a hook call within timeout_s."""
        values = {k: substitute(v, run.vars) for k, v in args.items()}
        d = self.hooks.call(name, values).addTimeout(timeout_s, self.clock)
        try:
            return await d, False
        except Exception as e:  # noqa: BLE001 - a hook's failure is a flow branch
            log.warn("call {call}: hook {hook} failed: {error!r}", call=run.control.call_id,
                     hook=name, error=e)
            return None, True

    # -- the steps -------------------------------------------------------------
    async def _answer(self, run, step):
        await run.control.answer()
        return step.next

    async def _play(self, run, step):
        await self._say(run, step.prompt, step.barge_in, self._agent_allowed(run, step))
        return step.next

    async def _menu(self, run, step):
        agent = self._agent_allowed(run, step)
        for attempt in range(step.retries + 1):
            await self._say(run, step.prompt, step.barge_in, agent, clear=attempt > 0)
            result = await run.control.collect(1, "", step.timeout_s, step.timeout_s)
            key = result.get("digits", "")
            if agent and key == run.flow.agent_key:
                raise _AgentKey()
            if key in step.options:
                run.digits = key
                return step.options[key]
            await self._say(run, step.invalid_prompt if key else step.timeout_prompt,
                            barge_in=False)
        return step.on_failure

    async def _collect(self, run, step):
        agent = self._agent_allowed(run, step)
        for attempt in range(step.retries + 1):
            await self._say(run, step.prompt, step.barge_in, agent, clear=attempt > 0)
            result = await run.control.collect(step.max_digits, step.terminator,
                                               step.first_timeout_s,
                                               step.inter_digit_timeout_s)
            digits = result.get("digits", "")
            if agent and digits[:1] == run.flow.agent_key:
                raise _AgentKey()
            if not digits:
                await self._say(run, step.timeout_prompt, barge_in=False)
                continue
            valid = len(digits) >= step.min_digits and (
                step.validate is None or re.fullmatch(step.validate, digits))
            found = None
            if valid and step.hook is not None:
                run.digits = digits
                found, _ = await self._hook(run, step.hook, step.hook_args(), 5.0)
                valid = found is not None
            if not valid:
                await self._say(run, step.invalid_prompt, barge_in=False)
                continue
            run.digits = digits
            data = dict(found or {})
            if step.store:
                data[step.store] = digits
            if data:
                await run.control.set_data(data)
            return step.next
        return step.on_failure

    async def _record(self, run, step):
        await self._say(run, step.prompt, True, self._agent_allowed(run, step))
        await run.control.clear_digits()
        result = await run.control.record(step.max_s, step.silence_s, step.terminator,
                                          step.beep)
        await run.control.set_data({step.store: result.get("file") or ""})
        return step.next

    async def _lookup(self, run, step):
        found, failed = await self._hook(run, step.hook, step.args, step.timeout_s)
        if failed:
            return step.on_error or step.on_missing
        if found is None:
            return step.on_missing
        if found:
            await run.control.set_data(found)
        return step.on_found

    async def _transfer(self, run, step):
        await self._say(run, step.prompt, barge_in=False)
        data = {k: str(substitute(v, run.vars)) for k, v in step.data.items()}
        run.control.data.update(data)
        kind, target = step.destination
        target = str(substitute(target, run.vars))
        result = await run.control.transfer(kind, target, step.timeout_s, data)
        if result.get("result") in ("queued", "answered"):
            return Outcome("transferred", (kind, target))
        log.info("call {call}: transfer to {kind} {target}: {result}",
                 call=run.control.call_id, kind=kind, target=target,
                 result=result.get("result"))
        if step.on_failure:
            return step.on_failure
        await run.control.hangup()
        return Outcome("hung_up")

    async def _hangup(self, run, step):
        await self._say(run, step.prompt, barge_in=False)
        await run.control.hangup()
        return Outcome("hung_up")

    async def _goto(self, run, step):
        return (step.flow, step.step)
