# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_flow_files -*-
"""Look-up hooks: Python callables that flows call by name.

A ``lookup`` step (and a ``collect`` step's ``hook``) names a hook; the
hook receives the step's ``args`` as keyword arguments, after
substitution, and answers with what it found::

    from cti.flow.hooks import hook

    @hook("customer_by_ani")
    def customer_by_ani(ani):
        row = crm.find(phone=ani)
        return {"customer_id": row.id, "customer_name": row.name} if row else None

The flow declares the call::

    [[steps]]
    name = "identify"
    type = "lookup"
    hook = "customer_by_ani"
    args = { ani = "$ani" }
    on_found = "welcome_back"
    on_missing = "welcome"

A hook returns:

- a dict (possibly empty): found; its items join the call's attached data
  (values as strings) and the flow goes on at ``on_found``;
- None or False: not found (``on_missing``; for a collect step, the digits
  are invalid);
- True: found, with nothing to add;
- or a Deferred or coroutine giving one of those.  A hook that touches a
  database or the network must not block the reactor: return a Deferred
  (``deferToThread``, an async driver) or be ``async def``.

An exception, or no answer within the step's ``timeout_s``, sends the call
to ``on_error`` (default ``on_missing``); the runtime logs it.

Hooks live in a `Registry`; `registry` is the process-wide one that
``@hook`` registers into and that cti.flow.loader checks flow files
against (an unknown hook name, or ``args`` the hook does not accept, is
an error when the flows load).  A site keeps its own hooks in a module of
its own and names it in `[flow] hooks`: `cti flow` imports it before it
loads the flows (`Registry.load_modules`).

The hooks at the bottom of this file are SAMPLES for the sample flows in
etc/flows and the sample configuration: two look customers up in a small
table in this file, and `save_customer` writes an agent's corrections
back to it (a record hook: cti.server.customer).
"""
import importlib
import inspect
import sys
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from twisted.internet import defer


class HookError(Exception):
    """A hook that does not exist, or that answered something unusable."""


class Registry:
    """Hooks by name."""

    def __init__(self):
        self._hooks: dict[str, Callable[..., Any]] = {}

    def register(self, name: str, func: Callable[..., Any] | None = None, *,
                 replace: bool = False):
        """Register `func` as hook `name`; without func, a decorator::

            @registry.register("account_balance")
            def account_balance(account): ...

        Registering a name twice is an error unless replace=True.
        """
        def decorate(func):
            if not callable(func):
                raise TypeError(f"hook {name!r}: {func!r} is not callable")
            if name in self._hooks and not replace and self._hooks[name] is not func:
                raise HookError(f"hook {name!r} is already registered "
                                f"({_describe(self._hooks[name])})")
            self._hooks[name] = func
            return func
        return decorate if func is None else decorate(func)

    def unregister(self, name: str) -> None:
        self._hooks.pop(name, None)

    def __contains__(self, name: object) -> bool:
        return name in self._hooks

    def __getitem__(self, name: str) -> Callable[..., Any]:
        try:
            return self._hooks[name]
        except KeyError:
            raise HookError(f"no hook named {name!r} "
                            f"(registered: {', '.join(self.names()) or 'none'})") from None

    def names(self) -> list[str]:
        return sorted(self._hooks)

    def check_args(self, name: str, args: Iterable[str]) -> None:
        """Raise HookError unless hook `name` accepts these keyword arguments."""
        func = self[name]
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError):
            return
        try:
            signature.bind(**{arg: "" for arg in args})
        except TypeError as e:
            params = ", ".join(signature.parameters) or "nothing"
            raise HookError(f"hook {name!r} takes ({params}): {e}") from None

    def call(self, name: str, args: Mapping[str, Any]) -> defer.Deferred:
        """Call a look-up hook with keyword arguments; a Deferred firing with
        the found data (a dict of strings) or None.  Errors arrive as failures."""
        return self.invoke(name, args).addCallback(lambda result: found(name, result))

    def invoke(self, name: str, args: Mapping[str, Any]) -> defer.Deferred:
        """Call a hook with keyword arguments; a Deferred firing with what it
        answered, as it is (a coroutine's or a Deferred's result)."""
        try:
            func = self[name]
        except HookError:
            return defer.fail()

        def run():
            result = func(**args)
            if inspect.isawaitable(result) and not isinstance(result, defer.Deferred):
                return defer.ensureDeferred(result)
            return result

        return defer.maybeDeferred(run)

    def load_modules(self, modules: Iterable[str]) -> None:
        """Import modules (dotted names) so their ``@hook`` functions register."""
        for module in modules:
            importlib.import_module(module)


def import_site_hooks(settings) -> None:
    """Import the site's hook modules (`[flow] hooks`, found in `hooks_dir`
    first) so that their ``@hook`` functions register: `cti flow` before
    it checks the flows, `cti server` before it checks `record_hook`.
    ConfigError naming the module that fails."""
    from cti.config import ConfigError

    if settings.hooks_dir is not None and str(settings.hooks_dir) not in sys.path:
        sys.path.insert(0, str(settings.hooks_dir))
    for module, key in settings.hooks:
        try:
            registry.load_modules([module])
        except Exception as e:  # noqa: BLE001 - any failure of the site's code: say which
            raise ConfigError(settings.config_path, key,
                              f"cannot import hook module {module!r}: "
                              f"{type(e).__name__}: {e}") from None


def found(name: str, result: Any) -> dict[str, str] | None:
    """A hook's answer as attached data (a dict of strings), or None for not found."""
    if result is None or result is False:
        return None
    if result is True:
        return {}
    if isinstance(result, Mapping):
        return {str(k): "" if v is None else str(v) for k, v in result.items()}
    raise HookError(f"hook {name!r} answered {result!r}; "
                    "expected a dict, None, True or False")


def _describe(func):
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', func)!s}"


#: The process-wide registry; cti.flow.loader checks flows against it.
registry = Registry()
#: ``@hook("name")``: register a function in `registry`.
hook = registry.register


# --- SAMPLES -------------------------------------------------------------------------
# Hooks used by the sample flows in etc/flows.  A real site replaces them
# with look-ups in its CRM or billing system (through a Deferred).

#: SAMPLE customers, by account number.
SAMPLE_CUSTOMERS = {
    "10012345": {"name": "Alice Example", "ani": "5551001", "balance": "1234.56",
                 "tier": "gold"},
    "10067890": {"name": "Bob Sample", "ani": "5551002", "balance": "-20.00",
                 "tier": "standard"},
    "200300": {"name": "Carol Test", "ani": "", "balance": "0.75", "tier": "standard"},
}


@hook("customer_by_ani")
def customer_by_ani(ani):
    """SAMPLE: the customer whose phone number is `ani`, or None."""
    for account, customer in SAMPLE_CUSTOMERS.items():
        if ani and customer["ani"] == ani:
            return {"account": account, "customer_name": customer["name"],
                    "tier": customer["tier"]}
    return None


@hook("save_customer")
def save_customer(call, agent, data, changes):
    """SAMPLE record hook (`[server] record_hook`): an agent's corrections
    of the name or the tier go to the customer of the call's account;
    None when the call has no known account.  (The samples live in each
    process's memory: a site's hooks share its CRM.)"""
    customer = SAMPLE_CUSTOMERS.get(data.get("account", ""))
    if customer is None:
        return None
    for key, field in (("customer_name", "name"), ("tier", "tier")):
        if key in changes:
            customer[field] = str(changes[key])
    return True


@hook("account_balance")
def account_balance(account):
    """SAMPLE: the balance and holder of account number `account`, or None."""
    customer = SAMPLE_CUSTOMERS.get(account)
    if customer is None:
        return None
    return {"account": account, "balance": customer["balance"],
            "customer_name": customer["name"]}
