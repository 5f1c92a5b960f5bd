# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_usb_callerid -*-
"""A USB caller-ID box through pyusb: the lines it watches, as events.

The box is an HID device pushing 8-byte reports on its interrupt-IN
endpoint (drivers.hidcid reads them).  pyusb finds it by vendor and
product id, takes it from the kernel's HID driver, and reads one report
at a time, blocking: so one thread waits for them, as for a vendor's
board library (drivers.pump.EventThread: `wait_events` on the thread,
`deliver` on the reactor's), and the rest runs on the reactor::

    box = CallerIdBox("reception", 0x1234, 0x5678, reactor)
    box.subscribe(print)
    EventThread(box, reactor, announce=BOX_WAIT).setServiceParent(application)

Events, the device being ``<box>/<line>`` ("reception/1"):

    ring            count (the box says each ring; RING_GAP_S without one:)
    ring_stopped    the caller gave up, or someone answered elsewhere
    caller_id       caller_id: drivers.interface.CallerId (SDMF, MDMF or DTMF)
    hook            offhook: bool, the phone on the line lifted or put down
    digit           digit: a key dialled or pressed on the line

A report that does not parse is logged and skipped; a box unplugged (a
USB error other than a time-out) ends the thread's wait with a
BoardError naming it, which the thread logs.  pyusb needs the device's
node writable (a udev rule: docs/operations.md).
"""
import usb.core
import usb.util
from twisted.logger import Logger

from drivers.errors import BoardError, MalformedData, NoSuchDevice
from drivers.hidcid import REPORT_SIZE, BoxReports
from drivers.interface import RING_GAP_S, Event

log = Logger()

#: The HID interface the box's reports come on.
INTERFACE = 0
#: What its event thread (drivers.pump.EventThread) says as it starts.
BOX_WAIT = "{family} events: one thread waits for its reports (a USB read, {ms} ms at a time)"


def find(name, vendor_id, product_id, backend=None):
    """The box's pyusb device; NoSuchDevice if none is plugged in,
    BoardError without libusb."""
    try:
        device = usb.core.find(idVendor=vendor_id, idProduct=product_id, backend=backend)
    except usb.core.NoBackendError:
        raise BoardError("pyusb finds no libusb: install libusb-1.0-0",
                         function="usb.core.find", device=name) from None
    if device is None:
        raise NoSuchDevice(f"no USB device {vendor_id:04x}:{product_id:04x}: is the box "
                           "plugged in (lsusb)?", function="usb.core.find", device=name)
    return device


class CallerIdBox:
    """One box.  `backend`: pyusb's (libusb by default; a test's fake)."""

    family = "USB caller-ID box"

    def __init__(self, name, vendor_id, product_id, clock, backend=None):
        self.name = name
        self.clock = clock
        self.reports = BoxReports()
        self._subscribers = []
        self._rings = {}                  # line -> rings so far
        self._gaps = {}                   # line -> the ring_stopped timer
        self.device = find(name, vendor_id, product_id, backend)
        try:
            if self.device.is_kernel_driver_active(INTERFACE):
                self.device.detach_kernel_driver(INTERFACE)
            self.device.set_configuration()
        except usb.core.USBError as e:
            raise BoardError(f"cannot take the box from the kernel: {e} (is its device node "
                             "writable? docs/operations.md)", function="set_configuration",
                             device=name) from None
        interface = self.device.get_active_configuration()[(INTERFACE, 0)]
        endpoint = usb.util.find_descriptor(interface, custom_match=lambda e: (
            usb.util.endpoint_direction(e.bEndpointAddress) == usb.util.ENDPOINT_IN))
        if endpoint is None:
            raise BoardError("the box has no interrupt-IN endpoint", function="find_descriptor",
                             device=name)
        self.endpoint = endpoint.bEndpointAddress

    def subscribe(self, callback):
        self._subscribers.append(callback)

    def wait_events(self, timeout_ms):
        """On the event thread: the next report, waiting up to `timeout_ms`
        (a list of one, or none)."""
        try:
            return [bytes(self.device.read(self.endpoint, REPORT_SIZE, timeout_ms))]
        except usb.core.USBTimeoutError:
            return []
        except usb.core.USBError as e:
            raise BoardError(f"the box stopped answering: {e}", function="read",
                             device=self.name) from None

    def deliver(self, raw):
        """On the reactor's thread: reports as Events, also to the subscribers."""
        events = []
        for report in raw:
            try:
                found = self.reports.feed(report)
            except MalformedData as e:
                log.warn("{box}: {error}; skipped", box=self.name, error=e)
                continue
            for box_event in found:
                events += self._events(box_event)
        for event in events:
            for callback in list(self._subscribers):
                callback(event)
        return events

    def _events(self, box_event):
        line, kind, device = box_event.line, box_event.kind, f"{self.name}/{box_event.line}"
        if kind == "ring":
            self._rings[line] = self._rings.get(line, 0) + 1
            self._gap(line, restart=True)
            return [Event(device, "ring", {"count": self._rings[line]})]
        if kind == "hook" and box_event.data["offhook"]:
            self._gap(line, restart=False)
            self._rings.pop(line, None)
        return [Event(device, kind, dict(box_event.data))]

    def _gap(self, line, restart):
        timer = self._gaps.pop(line, None)
        if timer is not None and timer.active():
            timer.cancel()
        if restart:
            self._gaps[line] = self.clock.callLater(RING_GAP_S, self._stopped, line)

    def _stopped(self, line):
        self._gaps.pop(line, None)
        self._rings.pop(line, None)
        event = Event(f"{self.name}/{line}", "ring_stopped")
        for callback in list(self._subscribers):
            callback(event)
