# SPDX-License-Identifier: GPL-2.0-or-later
"""Build script of the cffi binding `drivers._r4` (API mode).

By default the binding is compiled together with the board simulator in
native/ (our clean-room headers, the simulator's C sources, libspandsp),
and also exposes the simulator's far-end control plane (simfar.h).

With CTI_VENDOR_SDK=<dir> it is compiled against a vendor SDK instead:
headers from <dir>/inc (or <dir>/include), libraries srl, dxxx, dti, msi
and dcb from <dir>/lib.  The cdefs never hard-code a value or a struct
layout, so the SDK's own headers decide both; simulator extensions are
replaced by stubs and HAS_SIM_EXTENSIONS is 0.
"""
import glob
import importlib
import os

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NATIVE = os.path.join(ROOT, "native")


def _cdef_modules(with_simulator):
    # cffi runs this file by its path, before the package is installed:
    # drivers/ is importable once make_builder has put ROOT on sys.path.
    cdefs = importlib.import_module("drivers._cdefs")
    names = cdefs.MODULES + (cdefs.SIMULATOR_MODULES if with_simulator else [])
    return [importlib.import_module(f"drivers._cdefs.{name}") for name in names]


def _build_settings():
    sdk = os.environ.get("CTI_VENDOR_SDK")
    if sdk:
        inc = os.path.join(sdk, "inc")
        if not os.path.isdir(inc):
            inc = os.path.join(sdk, "include")
        return False, dict(
            include_dirs=[inc],
            library_dirs=[os.path.join(sdk, "lib")],
            libraries=["srl", "dxxx", "dti", "msi", "dcb"],
        )
    sources = sorted(glob.glob(os.path.join(NATIVE, "src", "*.c")))
    return True, dict(
        sources=[os.path.relpath(s, ROOT) for s in sources],
        include_dirs=[os.path.join(NATIVE, "include"), os.path.join(NATIVE, "src")],
        libraries=["spandsp", "m", "pthread"],
        extra_compile_args=["-std=gnu99", "-O2", "-Wno-format-truncation"],
    )


def make_builder():
    import sys

    sys.path.insert(0, ROOT)
    with_simulator, settings = _build_settings()
    modules = _cdef_modules(with_simulator)
    ffi = FFI()
    ffi.cdef("\n".join(m.TYPES for m in modules))
    ffi.cdef("\n".join(m.FUNCTIONS for m in modules))
    ffi.cdef("static const int HAS_SIMULATOR;")
    source = "\n".join(m.INCLUDES for m in modules)
    source += "\n#include <stdint.h>\n"
    source += "\n".join(m.CUSTOMIZATIONS for m in modules)
    source += f"\nstatic const int HAS_SIMULATOR = {int(with_simulator)};\n"
    ffi.set_source("drivers._r4", source, **settings)
    return ffi


ffibuilder = make_builder()

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
