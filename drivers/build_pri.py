# SPDX-License-Identifier: GPL-2.0-or-later
"""Build script of drivers._pri, the cffi binding of libpri (API mode).

One cdef module (drivers/_cdefs/libpri.py), compiled against the system's
libpri (Debian libpri-dev).  It has nothing of the boards in it, so every
build has it: the simulator's, the vendor-only one, a vendor SDK's.

libpri's static library is linked in, with its gettimeofday() and time()
wrapped (ld --wrap=...) by the binding's own, so that libpri's timers run
on the server's clock (drivers.pri explains why); the rest of the process
keeps the real ones.
"""
import importlib
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MODULE = "drivers._pri"
#: libpri's calls that the binding answers itself.
WRAPPED = ("gettimeofday", "time")


def make_builder():
    if ROOT not in sys.path:            # cffi runs this file by its path
        sys.path.insert(0, ROOT)
    cdefs = importlib.import_module("drivers._cdefs.libpri")
    static_library = importlib.import_module("drivers.staticlib").static_library
    ffi = FFI()
    ffi.cdef(cdefs.TYPES)
    ffi.cdef(cdefs.FUNCTIONS)
    ffi.set_source(MODULE, cdefs.INCLUDES + "\n" + cdefs.CUSTOMIZATIONS,
                   extra_compile_args=["-Werror=implicit-function-declaration"],
                   extra_link_args=[f"-Wl,--wrap={name}" for name in WRAPPED]
                   + [static_library("libpri.a", "libpri-dev")])
    return ffi


ffibuilder = make_builder()
