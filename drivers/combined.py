# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_combined_driver -*-
"""The boards and the voice modems as one `IBoardDriver`.

A server drives one family of boards (the simulator's or R4, or DAHDI)
and, beside them, voice modems (drivers.modem, ``mdmB<n>C1``).  Everything
above the drivers talks to one driver, so `CombinedDriver` is that one:
each call naming a device goes to the driver that owns the device, and the
events of both reach every subscriber::

    driver = CombinedDriver(R4Driver(...), VoiceModemDriver(modems, reactor, ports))
    driver.play("dxxxB1C1", prompts)      # the boards' driver
    driver.play("mdmB1C1", prompts)       # the modems'
    driver.listen("mdmB1C1", 5)           # the modems': DriverNotSupported

The modems' devices are those of their driver's inventory (a modem and
its ``/line``); every other name is the boards' (so an unknown one is
refused by them, NoSuchDevice).  The boards' driver brings the events in
as it always does (`event_source`, `fileno`, `poll`, `wait_events`,
`deliver`: drivers.pump); the modems' come on the reactor's thread from
their serial ports, handed to the same subscribers as they are read.
"""
from zope.interface import implementer
from zope.interface.interface import Method

from drivers.interface import IBoardDriver

#: The interface's calls that name no device: the combined driver's own.
UNNAMED = ("inventory", "fileno", "poll", "wait_events", "deliver", "subscribe", "stop_events")


@implementer(IBoardDriver)
class CombinedDriver:
    """`boards`' devices and `modems`' devices, each call to its owner."""

    def __init__(self, boards, modems):
        self.boards = boards
        self.modems = modems
        self.family = f"{boards.family}+{modems.family}"
        self.event_source = boards.event_source
        self._modem_devices = {info.name for info in modems.inventory()}

    def owner(self, name):
        """The driver of the device `name`."""
        return self.modems if name in self._modem_devices else self.boards

    def inventory(self):
        return self.boards.inventory() + self.modems.inventory()

    def fileno(self):
        return self.boards.fileno()

    def poll(self):
        return self.boards.poll()

    def wait_events(self, timeout_ms):
        return self.boards.wait_events(timeout_ms)

    def deliver(self, raw):
        return self.boards.deliver(raw)

    def subscribe(self, callback):
        self.boards.subscribe(callback)
        self.modems.subscribe(callback)

    def stop_events(self):
        self.boards.stop_events()
        self.modems.stop_events()


def _to_owner(name):
    """The interface's call `name`, made on the owner of its first argument."""
    def method(self, device, *args, **kwargs):
        return getattr(self.owner(device), name)(device, *args, **kwargs)

    method.__name__ = name
    method.__doc__ = f"{name} on the driver that owns the device."
    return method


for _name, _spec in IBoardDriver.namesAndDescriptions():
    if isinstance(_spec, Method) and _name not in UNNAMED:
        setattr(CombinedDriver, _name, _to_owner(_name))
