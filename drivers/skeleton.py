# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_conformance -*-
"""A driver that provides nothing: the template for a new board family.

Copy this module to start a driver for another family (Synway, DAHDI,
...).  Every method of `IBoardDriver` exists and raises
`DriverNotSupported` naming the method and quoting its contract, so a
half-written driver fails loudly and says what it still owes.  A finished
driver passes tests/conformance.py.
"""
from zope.interface import implementer
from zope.interface.interface import Method

from drivers.errors import DriverNotSupported
from drivers.interface import IBoardDriver


def refusal(name, why):
    """A method `name` that raises DriverNotSupported naming itself and its
    device (the first argument) and saying `why` ("{family}" in it: the
    driver's family)."""
    def method(self, *args, **kwargs):
        raise DriverNotSupported(why.replace("{family}", self.family), function=name,
                                 device=args[0] if args and isinstance(args[0], str) else None)

    method.__name__ = name
    method.__doc__ = f"Refused: {why}"
    return method


def contract(name):
    """The contract of an IBoardDriver method, on one line."""
    return " ".join((IBoardDriver[name].getDoc() or "").split())


@implementer(IBoardDriver)
class SkeletonDriver:
    """Refuses every call, explaining what the call must do."""

    family = "skeleton"
    event_source = "descriptor"          # a new driver says its own (EVENT_SOURCES)


for _name, _spec in IBoardDriver.namesAndDescriptions():
    if isinstance(_spec, Method):
        setattr(SkeletonDriver, _name, refusal(
            _name, "not provided by the {family} driver; contract: " + contract(_name)))
