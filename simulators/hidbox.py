# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_usb_callerid -*-
"""A USB caller-ID box, simulated as a pyusb backend: pyusb finds it,
sets it up and reads its reports exactly as it would a real one, with no
USB hardware or libusb (lines-real.md 5.4).

`HidBoxBackend` is a `usb.backend.IBackend` holding one device: an HID
interface (claimed by the kernel's HID driver until the box is taken
from it) with an interrupt-IN endpoint 0x81 of 8-byte reports.  The
lines it watches are played from outside, each action queued as the
reports drivers.hidcid documents::

    backend = HidBoxBackend(0x1234, 0x5678)
    box = CallerIdBox("reception", 0x1234, 0x5678, clock, backend=backend)
    backend.ring(1)
    backend.caller_id(1, "13800138000", "WANG")   # the FSK message, 5 bytes a report
    backend.offhook(1)
    box.deliver(box.wait_events(1))               # one report a wait

A read waits up to its time-out for a report (as an interrupt read does),
then fails with a time-out; `unplug()` makes reads fail as a device gone.
"""
import array
import errno
import threading
from collections import deque
from types import SimpleNamespace

import usb.backend
import usb.core

from drivers.hidcid import (
    CID_DATA,
    CID_DIGITS,
    CID_DIGITS_END,
    DIGIT,
    OFF_HOOK,
    ON_HOOK,
    PAYLOAD,
    REPORT_SIZE,
    RING,
)
from simulators.voicemodem import caller_id_message

ENDPOINT_IN = 0x81
HID_CLASS = 3
INTERRUPT = 3


def report(kind, line, payload=b""):
    """One 8-byte report of drivers.hidcid's format."""
    return bytes((kind, line, len(payload))) + payload + bytes(PAYLOAD - len(payload))


class HidBoxBackend(usb.backend.IBackend):
    """One simulated box behind pyusb."""

    def __init__(self, vendor_id, product_id):
        self.vendor_id, self.product_id = vendor_id, product_id
        self.kernel_driver = True         # usbhid has it until the driver takes it
        self.configuration = 0
        self.plugged = True
        self._reports = deque()
        self._ready = threading.Condition()

    # -- the lines it watches -------------------------------------------------------
    def push(self, *reports):
        with self._ready:
            self._reports.extend(reports)
            self._ready.notify_all()

    def ring(self, line):
        self.push(report(RING, line))

    def offhook(self, line):
        self.push(report(OFF_HOOK, line))

    def onhook(self, line):
        self.push(report(ON_HOOK, line))

    def key(self, line, digit):
        self.push(report(DIGIT, line, digit.encode()))

    def caller_id(self, line, number, name="", datetime="03211405"):
        """The FSK data message the exchange sent, as the box passes it on."""
        message = caller_id_message(number, name, datetime)
        self.push(*(report(CID_DATA, line, message[i:i + PAYLOAD])
                    for i in range(0, len(message), PAYLOAD)))

    def dtmf_caller_id(self, line, number):
        """A DTMF caller ID (sent before the first ring), as the box passes it on."""
        self.push(*(report(CID_DIGITS, line, number[i:i + PAYLOAD].encode())
                    for i in range(0, len(number), PAYLOAD)), report(CID_DIGITS_END, line))

    def waiting(self):
        """How many reports the box has queued, not read yet."""
        with self._ready:
            return len(self._reports)

    def unplug(self):
        with self._ready:
            self.plugged = False
            self._ready.notify_all()

    # -- usb.backend.IBackend --------------------------------------------------------
    def enumerate_devices(self):
        yield "box"

    def get_device_descriptor(self, dev):
        return SimpleNamespace(
            bLength=18, bDescriptorType=1, bcdUSB=0x0200, bDeviceClass=0, bDeviceSubClass=0,
            bDeviceProtocol=0, bMaxPacketSize0=8, idVendor=self.vendor_id,
            idProduct=self.product_id, bcdDevice=0x0100, iManufacturer=0, iProduct=0,
            iSerialNumber=0, bNumConfigurations=1, address=5, bus=1, port_number=2,
            port_numbers=(2,), speed=usb.util.SPEED_FULL)

    def get_configuration_descriptor(self, dev, config):
        return SimpleNamespace(bLength=9, bDescriptorType=2, wTotalLength=34, bNumInterfaces=1,
                               bConfigurationValue=1, iConfiguration=0, bmAttributes=0x80,
                               bMaxPower=50, extra_descriptors=[])

    def get_interface_descriptor(self, dev, intf, alt, config):
        return SimpleNamespace(bLength=9, bDescriptorType=4, bInterfaceNumber=0,
                               bAlternateSetting=0, bNumEndpoints=1, bInterfaceClass=HID_CLASS,
                               bInterfaceSubClass=0, bInterfaceProtocol=0, iInterface=0,
                               extra_descriptors=[])

    def get_endpoint_descriptor(self, dev, ep, intf, alt, config):
        return SimpleNamespace(bLength=7, bDescriptorType=5, bEndpointAddress=ENDPOINT_IN,
                               bmAttributes=INTERRUPT, wMaxPacketSize=REPORT_SIZE, bInterval=10,
                               bRefresh=0, bSynchAddress=0, extra_descriptors=[])

    def open_device(self, dev):
        return "handle"

    def close_device(self, dev_handle):
        pass

    def set_configuration(self, dev_handle, config_value):
        self.configuration = config_value

    def get_configuration(self, dev_handle):
        return self.configuration

    def claim_interface(self, dev_handle, intf):
        if self.kernel_driver:
            raise usb.core.USBError("Resource busy: the kernel's HID driver has it",
                                    errno=errno.EBUSY)

    def release_interface(self, dev_handle, intf):
        pass

    def is_kernel_driver_active(self, dev_handle, intf):
        return self.kernel_driver

    def detach_kernel_driver(self, dev_handle, intf):
        self.kernel_driver = False

    def intr_read(self, dev_handle, ep, intf, buff, timeout):
        with self._ready:
            self._ready.wait_for(lambda: self._reports or not self.plugged, timeout / 1000)
            if not self.plugged:
                raise usb.core.USBError("No such device (it may have been disconnected)",
                                        errno=errno.ENODEV)
            if not self._reports:
                raise usb.core.USBTimeoutError("Operation timed out", errno=errno.ETIMEDOUT)
            data = self._reports.popleft()
        buff[:len(data)] = array.array("B", data)
        return len(data)
