# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_binding -*-
"""One exception hierarchy for every driver.

A board call that fails becomes a `BoardError` carrying the vendor's error
code, the C function that failed and the device it was called on, with
the vendor's own message; the common causes have subclasses so callers
can catch what they can handle::

    try:
        driver.listen("dxxxB1C1", 17)
    except BusMisuse as e:          # e.code, e.function, e.device
        log.error("{e}", e=e)

`SimulatorError` is a failed far-end (simfar) call; `DriverNotSupported`
is an operation a driver does not provide.  Serial and USB devices add
`MalformedData` (what a device sent does not parse), `ModemError` (a
modem refused an AT command) and `SmsError` (+CMS ERROR, with whether
trying again later may work).
"""


class DriverError(Exception):
    """Base of every error a driver raises."""

    def __init__(self, message, *, code=None, function=None, device=None):
        self.message = message
        self.code = code
        self.function = function
        self.device = device
        where = f"{function}({device})" if device else (function or "driver")
        tail = f" [code {code:#x}]" if isinstance(code, int) else ""
        super().__init__(f"{where}: {message}{tail}")


class BoardError(DriverError):
    """A vendor API call returned an error."""


class NoSuchDevice(BoardError):
    """The device name or handle is not on any board."""


class DeviceRemoved(NoSuchDevice):
    """The device's board was removed while in use (a DAHDI card's device
    hot-unplugged: ENODEV): gone until plugged back and the server
    restarted."""


class DeviceBusy(BoardError):
    """The device is already doing something (one operation at a time)."""


class BadParameter(BoardError):
    """An argument, a DV_TPT or a DX_IOTT was not acceptable."""


class BadAudioFile(BadParameter):
    """A file to play is not in the format it claims."""


class BusMisuse(BoardError):
    """CT-Bus rules broken: an undriven timeslot, listen without unlisten."""


class CallerIdUnavailable(BoardError):
    """No caller ID was received (yet)."""


class ConferenceError(BoardError):
    """A conference call failed: no room, no such party, a second coach."""


class OperationTimeout(DriverError):
    """An operation never completed; the watchdog recovered the device."""


class SimulatorError(DriverError):
    """A far-end (simulator control) call failed."""


class DriverNotSupported(DriverError):
    """The driver does not provide this operation."""


class PriError(DriverError):
    """A libpri call (drivers.pri) failed: a call-control request the call's
    state does not allow, or a link that could not be made."""


class R2Error(DriverError):
    """An OpenR2 call (drivers.r2) failed: a call-control request the
    channel's state does not allow, or a context or channel that could not
    be made."""


class MalformedData(DriverError):
    """Bytes from a device that do not parse: a caller-ID message with a
    wrong checksum, an SMS PDU cut short, a HID report of no known kind."""


class ModemError(DriverError):
    """A modem answered ERROR (or +CME ERROR: `code`) to a command
    (`function`), or nothing in time.  The code is the modem's decimal
    number, said in the message as the standard words it."""

    def __init__(self, message, *, code=None, function=None, device=None):
        super().__init__(message, function=function, device=device)
        self.code = code


class SmsError(ModemError):
    """A GSM modem refused a short message: +CMS ERROR `code` (3GPP TS
    27.005), with its meaning as the message; `temporary` if sending it
    again later may work (no network now, congestion)."""

    def __init__(self, message, *, temporary=False, **where):
        super().__init__(message, **where)
        self.temporary = temporary
