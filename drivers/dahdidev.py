# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_dahdi -*-
"""The DAHDI driver's device layer: the five calls it makes on DAHDI's
device nodes, and nothing else between it and the kernel.

`KernelDevices` makes them on /dev/dahdi through the C library
(drivers._dahdi declares open, ioctl, read, write, close); `SimulatedDevices`
makes the very same calls, with the same paths, ioctl numbers and structs,
on our simulator's DAHDI personality (native/src/dahdisim.h), which answers
as the kernel would.  So drivers.dahdi issues exactly what it would issue
to /dev/dahdi, whichever layer it is given.

Every failure raises OSError with the errno the call set (ELAST, 500,
while an event waits on the channel: drivers.dahdi drains it with
DAHDI_GETEVENT).  `wakefd` is a descriptor readable while an open channel
has an event queued or a block to read: an epoll descriptor over the
channels on the kernel (DAHDI signals events as POLLPRI), the
personality's own eventfd on the simulator.
"""
import os
import select

from drivers import _dahdi

ffi, lib = _dahdi.ffi, _dahdi.lib

#: How the driver opens every channel (chan_dahdi's dahdi_open).
CHANNEL_FLAGS = lib.O_RDWR | lib.O_NONBLOCK
CHANNEL_PATH = "/dev/dahdi/channel"
CTL_PATH = "/dev/dahdi/ctl"
#: Each open makes a pseudo channel: audio from and to userspace only.
PSEUDO_PATH = "/dev/dahdi/pseudo"


def _checked(rc, what):
    if rc < 0:
        code = ffi.errno
        raise OSError(code, f"{what}: {os.strerror(code) if code != lib.ELAST else 'ELAST'}")
    return rc


class _Calls:
    """The five calls over one set of C functions."""

    def __init__(self, open_, close, ioctl, read, write):
        self._open, self._close, self._ioctl = open_, close, ioctl
        self._read, self._write = read, write

    def open(self, path, flags=CHANNEL_FLAGS):
        return _checked(self._open(path.encode(), flags), f"open {path}")

    def close(self, fd):
        _checked(self._close(fd), "close")

    def ioctl(self, fd, request, arg):
        """arg: a cffi pointer (int *, struct dahdi_params * ...)."""
        return _checked(self._ioctl(fd, request, ffi.cast("void *", arg)),
                        f"ioctl {request:#x}")

    def read(self, fd, buf, n):
        return _checked(self._read(fd, buf, n), "read")

    def write(self, fd, buf, n):
        return _checked(self._write(fd, buf, n), "write")


class KernelDevices(_Calls):
    """/dev/dahdi through the C library."""

    def __init__(self):
        super().__init__(lib.open, lib.close, lib.ioctl, lib.read, lib.write)
        self._epoll = select.epoll()

    def open(self, path, flags=CHANNEL_FLAGS):
        fd = super().open(path, flags)
        if path != CTL_PATH:
            self._epoll.register(fd, select.EPOLLIN | select.EPOLLPRI)
        return fd

    def close(self, fd):
        try:
            self._epoll.unregister(fd)
        except (KeyError, FileNotFoundError, OSError):
            pass                        # the control descriptor is not watched
        super().close(fd)

    def wakefd(self):
        return self._epoll.fileno()


class SimulatedDevices(_Calls):
    """The simulator's DAHDI personality: the chassis drivers.sim made."""

    def __init__(self):
        super().__init__(lib.cti_dahdi_open, lib.cti_dahdi_close, lib.cti_dahdi_ioctl,
                         lib.cti_dahdi_read, lib.cti_dahdi_write)

    def wakefd(self):
        return lib.cti_dahdi_wakefd()


def simulated_system_conf(boards):
    """The system.conf that matches the personality's view of a simulated
    chassis (boards as drivers.sim.Simulator.from_config takes them): its
    channels numbered as native/src/dahdisim.c numbers them, FXO ports
    fxsks, phones fxoks, a T1 E&M span e&m, a T1 loop-start span fxsls, an
    E1 CAS span cas with MFC/R2's idle bits (1101, blocked), an ISDN
    span's B-channels bchan and its D-channel hardhdlc; each T1/E1 span's span= line as its board's
    framing and coding; the us tone zone loaded.  Voice and conference
    boards have no channels."""
    lines, channo, spanno = [], 0, 0
    for board in boards:
        kind = board["type"]
        if kind in ("analog", "stations"):
            n = board.get("lines" if kind == "analog" else "count", 4 if kind == "analog" else 8)
            spanno += -(-n // 4) if kind == "analog" else 1
            keyword = "fxsks" if kind == "analog" else "fxoks"
            lines.append(f"{keyword}={channo + 1}-{channo + n}")
            channo += n
        elif kind == "t1":
            spanno += 1
            signalling = board.get("signalling", "em_wink")
            lines.append(f"span={spanno},1,0,{board.get('framing', 'esf')},"
                         f"{board.get('coding', 'b8zs')}")
            keywords = {"em_wink": "e&m", "fxs_loopstart": "fxsls", "pri": "bchan"}
            if signalling not in keywords:
                raise ValueError(f"a T1 {signalling} span has no channel kind the DAHDI "
                                 "driver drives")
            keyword = keywords[signalling]
            last = 23 if signalling == "pri" else 24
            lines.append(f"{keyword}={channo + 1}-{channo + last}")
            if signalling == "pri":
                lines.append(f"hardhdlc={channo + 24}")
            channo += 24
        elif kind == "e1":
            spanno += 1
            crc4 = ",crc4" if board.get("crc4", True) else ""
            keyword = "cas" if board.get("signalling", "cas") == "cas" else "bchan"
            lines.append(f"span={spanno},1,0,{'cas' if keyword == 'cas' else 'ccs'},"
                         f"{board.get('coding', 'hdb3')}{crc4}")
            idle = ":1101" if keyword == "cas" else ""    # MFC/R2's blocked
            lines.append(f"{keyword}={channo + 1}-{channo + 15},{channo + 17}-{channo + 31}"
                         f"{idle}")
            if keyword == "bchan":
                lines.append(f"hardhdlc={channo + 16}")
            channo += 31
    lines += ["loadzone=us", "defaultzone=us"]     # the phones' ring cadence and tones
    return "\n".join(lines) + "\n"
