# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_customer_record -*-
"""The customer record an agent edits, saved back where it came from.

The flow tier looks the caller up (a ``lookup`` step's hook, by ANI or by
an account number keyed in) and the record joins the call's attached
data; the agent's screen pops it and the agent may correct it
(`SetCallData`).  The call keeps every edit, and its CDR too.  For the
next call to find the corrected record, the edit must also reach the
site's customer database: that is the record hook, `[server] record_hook`,
a hook of the same site modules as the look-ups (`[flow] hooks`; `cti
server` imports them too)::

    @hook("save_customer")
    def save_customer(call, agent, data, changes):
        return crm.update(account=data["account"], **changes)   # a Deferred

It is called with the call id, the agent, all the call's data and the
keys the agent changed, after each `SetCallData` of an agent.  Its answer:
None or False is "no such record"; anything else (True, the updated row,
a row count) is saved; an exception, or no answer within `TIMEOUT_S`, is
a failure.
The agent's answer says which (`record`: `saved`, `message`), so the desk
shows that the record did not reach the database, and nothing is lost:
the call's data has the edit either way.
"""
from twisted.internet import defer
from twisted.logger import Logger

from cti.config import ConfigError
from cti.flow.hooks import HookError, registry

log = Logger()

#: The keyword arguments a record hook receives.
ARGS = ("call", "agent", "data", "changes")
#: How long the hook may take before the save counts as failed.
TIMEOUT_S = 5.0


def check(config, hooks=registry):
    """ConfigError unless `record_hook` names a hook that takes ARGS."""
    if config.record_hook is None:
        return
    try:
        hooks.check_args(config.record_hook, ARGS)
    except HookError as e:
        raise ConfigError(config.path, "server.record_hook", str(e)) from None


def save(clock, hook, call, agent, data, changes, hooks=registry):
    """Call the record hook; a Deferred that fires (never fails) with
    {"saved": bool, "message": str}."""
    args = {"call": call, "agent": agent, "data": dict(data), "changes": dict(changes)}
    d = hooks.invoke(hook, args)
    d.addTimeout(TIMEOUT_S, clock)

    def answered(result):
        if result is None or result is False:
            return {"saved": False, "message": f"{hook}: no such record"}
        return {"saved": True, "message": f"saved by {hook}"}

    def failed(failure):
        if failure.check(defer.TimeoutError):
            why = f"no answer within {TIMEOUT_S:g} s"
        else:
            why = f"{type(failure.value).__name__}: {failure.value}"
        log.warn("call {call}: agent {agent}'s record not saved by {hook}: {why}",
                 call=call, agent=agent, hook=hook, why=why)
        return {"saved": False, "message": f"{hook}: {why}"}
    return d.addCallbacks(answered, failed)
