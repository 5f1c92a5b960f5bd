# SPDX-License-Identifier: GPL-2.0-or-later
"""Build script of drivers._r2, the cffi binding of OpenR2 (API mode).

One cdef module (drivers/_cdefs/openr2.py), compiled against the system's
OpenR2 1.3.3 (Debian libopenr2-dev).  It has nothing of the boards in it,
so every build has it.

OpenR2's static library is linked in with the calls it makes on a DAHDI
channel (ioctl, read, write) and its clock (gettimeofday, time) wrapped
(ld --wrap=...) by the binding's own: the "ports" of the cdef module
answer them, so OpenR2 drives our timeslots without DAHDI and counts time
on the server's clock (drivers/_cdefs/openr2.py explains both); the rest
of the process keeps the real calls.

Debian's libopenr2.a is position-independent but for one thing: its log
module (r2log.o) reaches libc's `stdout` and `stderr` as a program would
(PC-relative), which a shared object cannot.  So the build links a copy
of the archive in which those two names are the binding's own
(objcopy --redefine-sym), hidden variables that point to libc's streams.
"""
import importlib
import os
import subprocess
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULE = "drivers._r2"
#: OpenR2's calls that the binding answers itself.
WRAPPED = ("ioctl", "read", "write", "gettimeofday", "time")
#: libc's streams as the archive's copy names them (drivers/_cdefs/openr2.py).
STREAMS = {"stdout": "cti_r2_stdout", "stderr": "cti_r2_stderr"}


def linkable_libopenr2():
    """A copy of libopenr2.a that a shared object can link (module doc)."""
    folder = os.path.join(ROOT, "build", "openr2")       # remade by each build
    os.makedirs(folder, exist_ok=True)
    copy = os.path.join(folder, "libopenr2.a")
    renames = [arg for old, new in STREAMS.items() for arg in ("--redefine-sym", f"{old}={new}")]
    archive = importlib.import_module("drivers.staticlib").static_library(
        "libopenr2.a", "libopenr2-dev")
    subprocess.run(["objcopy", *renames, archive, copy], check=True)
    return copy


def make_builder():
    if ROOT not in sys.path:            # cffi runs this file by its path
        sys.path.insert(0, ROOT)
    cdefs = importlib.import_module("drivers._cdefs.openr2")
    ffi = FFI()
    ffi.cdef(cdefs.TYPES)
    ffi.cdef(cdefs.FUNCTIONS)
    ffi.set_source(MODULE, cdefs.INCLUDES + "\n" + cdefs.CUSTOMIZATIONS,
                   extra_compile_args=["-Werror=implicit-function-declaration"],
                   extra_link_args=[f"-Wl,--wrap={name}" for name in WRAPPED]
                   + [linkable_libopenr2(), "-lpthread", "-lm"])
    return ffi


ffibuilder = make_builder()
