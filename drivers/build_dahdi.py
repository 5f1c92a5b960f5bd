# SPDX-License-Identifier: GPL-2.0-or-later
"""Build script of drivers._dahdi, the cffi binding of DAHDI's userspace
ABI (dahdi/user.h, Debian dahdi-source) in API mode.

One cdef module (drivers/_cdefs/dahdi.py).  The header decides every
constant; the structs are declared member by member and cffi checks them
against the compiler's layout when the binding is built (a mismatch fails
the build).  Nothing here needs the kernel module: the binding compiles
and imports on any machine with the header.

It links the simulator library (libctisim.so, beside it: setup.py builds
that first) for two things of ours: the driver's voice work in C
(native/src/chanvoice.h over our DSP) and the simulator's DAHDI
personality (native/src/dahdisim.h), which tests put behind the driver's
device layer instead of the kernel.
"""
import importlib
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
if ROOT not in sys.path:                # cffi runs this file by its path
    sys.path.insert(0, ROOT)
from drivers.build_r4 import NATIVE, SIMULATOR_LIBRARY  # noqa: E402

MODULE = "drivers._dahdi"
#: Where Debian's dahdi-source puts dahdi/user.h.
HEADER = "/usr/include/dahdi/user.h"


def cdefs():
    return importlib.import_module("drivers._cdefs.dahdi")


def make_builder():
    if not os.path.exists(HEADER):
        raise RuntimeError(f"{HEADER} not found: install dahdi-source (scripts/setup.sh)")
    module = cdefs()
    ffi = FFI()
    ffi.cdef(module.TYPES)
    ffi.cdef(module.PACKED_TYPES, packed=True)
    ffi.cdef(module.FUNCTIONS)
    ffi.set_source(MODULE, module.INCLUDES + "\n" + module.CUSTOMIZATIONS,
                   include_dirs=[os.path.join(NATIVE, "include"), os.path.join(NATIVE, "src")],
                   libraries=[SIMULATOR_LIBRARY],
                   extra_compile_args=["-Werror=implicit-function-declaration"],
                   extra_link_args=["-Wl,-rpath,$ORIGIN"])
    return ffi


ffibuilder = make_builder()
