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


def _refuse(name, doc):
    def method(self, *args, **kwargs):
        raise DriverNotSupported(f"not provided by the {self.family} driver; contract: {doc}",
                                 function=name)

    method.__name__ = name
    method.__doc__ = doc
    return method


@implementer(IBoardDriver)
class SkeletonDriver:
    """Refuses every call, explaining what the call must do."""

    family = "skeleton"


for _name, _spec in IBoardDriver.namesAndDescriptions():
    if isinstance(_spec, Method):
        _doc = " ".join((_spec.getDoc() or "").split())
        setattr(SkeletonDriver, _name, _refuse(_name, _doc))
