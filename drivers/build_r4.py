# SPDX-License-Identifier: GPL-2.0-or-later
"""Build script of the cffi bindings of the R4 API (API mode).

By default (a simulator build) it builds three things:

- ``libctisim.so``, the board simulator in native/ as one shared library
  (our clean-room headers, the simulator's C sources, libspandsp), put
  beside the bindings in drivers/ (`build_simulator_library`, called by
  setup.py's build_ext before the bindings are linked);
- ``drivers._r4``, the full binding: the vendor API, the simulator's
  additions to it (drivers/_cdefs/extensions.py), its far-end control plane
  and DSP; HAS_SIMULATOR and HAS_SIM_EXTENSIONS are 1;
- ``drivers._r4_vendor``, the vendor-only binding: the vendor API alone,
  compiled with CTI_VENDOR_ONLY (our headers then declare nothing a
  vendor's do not) and declaring nothing else; both flags are 0.  It links
  the same library, so in one process both bindings see one simulation:
  tests drive the far end through the full binding while the driver under
  test uses only the vendor's calls.

With CTI_VENDOR_SDK=<dir>, ``drivers._r4`` is compiled against a vendor SDK
instead: headers from <dir>/inc (or <dir>/include), libraries srl, dxxx,
dti, msi and dcb from <dir>/lib; the cdefs are the vendor-only ones, and
neither the simulator nor the vendor-only binding is built.  The cdefs
never hard-code a value or a struct layout, so the headers decide both.
"""
import glob
import importlib
import os
import sys

from cffi import FFI

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
NATIVE = os.path.join(ROOT, "native")

#: The environment variable naming a vendor SDK to build against.
VENDOR_SDK = "CTI_VENDOR_SDK"
#: The simulator as a shared library: lib<SIMULATOR_LIBRARY>.so in drivers/.
SIMULATOR_LIBRARY = "ctisim"
#: The bindings: module name -> with the simulator's additions.
FULL, VENDOR_ONLY = "drivers._r4", "drivers._r4_vendor"


def vendor_sdk():
    """The vendor SDK directory to build against, or None (the simulator)."""
    return os.environ.get(VENDOR_SDK) or None


def _cdef_modules(with_simulator):
    # cffi runs this file by its path, before the package is installed:
    # drivers/ is importable once ROOT is on sys.path.
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
    cdefs = importlib.import_module("drivers._cdefs")
    names = cdefs.MODULES + (cdefs.SIMULATOR_MODULES if with_simulator else [])
    return [importlib.import_module(f"drivers._cdefs.{name}") for name in names]


def _sdk_settings(sdk):
    inc = os.path.join(sdk, "inc")
    if not os.path.isdir(inc):
        inc = os.path.join(sdk, "include")
    return dict(include_dirs=[inc], library_dirs=[os.path.join(sdk, "lib")],
                libraries=["srl", "dxxx", "dti", "msi", "dcb"])


def _binding_settings(vendor_only):
    """Compiling a binding against the simulator library (found beside it);
    the full one also declares the simulator's DSP (native/src/dsp.h)."""
    return dict(
        include_dirs=[os.path.join(NATIVE, "include")]
        + ([] if vendor_only else [os.path.join(NATIVE, "src")]),
        libraries=[SIMULATOR_LIBRARY],
        extra_compile_args=["-Werror=implicit-function-declaration"]
        + (["-DCTI_VENDOR_ONLY"] if vendor_only else []),
        extra_link_args=["-Wl,-rpath,$ORIGIN"],
    )


def simulator_library_settings():
    """Sources and flags of libctisim.so."""
    return dict(
        sources=sorted(glob.glob(os.path.join(NATIVE, "src", "*.c"))),
        include_dirs=[os.path.join(NATIVE, "include"), os.path.join(NATIVE, "src")],
        libraries=["spandsp", "m", "pthread"],
        # calls inside the library bind inside it, as when it was compiled
        # into the binding: no detour through the symbol tables
        extra_compile_args=["-std=gnu99", "-O2", "-Wno-format-truncation",
                            "-fno-semantic-interposition"],
        extra_link_args=["-Wl,-Bsymbolic-functions"],
    )


def build_simulator_library(compiler, build_temp, output_dir):
    """Compile libctisim.so into output_dir with a distutils compiler."""
    settings = simulator_library_settings()
    objects = compiler.compile(settings["sources"], output_dir=build_temp,
                               include_dirs=settings["include_dirs"],
                               extra_postargs=settings["extra_compile_args"])
    name = compiler.library_filename(SIMULATOR_LIBRARY, lib_type="shared")
    compiler.link_shared_object(objects, name, output_dir=output_dir,
                                libraries=settings["libraries"],
                                extra_postargs=settings["extra_link_args"])
    return os.path.join(output_dir, name)


def make_builder(module=FULL):
    """The FFI builder of one binding."""
    sdk = vendor_sdk()
    with_simulator = module == FULL and sdk is None
    modules = _cdef_modules(with_simulator)
    ffi = FFI()
    ffi.cdef("\n".join(m.TYPES for m in modules))
    ffi.cdef("\n".join(m.FUNCTIONS for m in modules))
    ffi.cdef("static const int HAS_SIMULATOR;\nstatic const int HAS_SIM_EXTENSIONS;")
    source = "\n".join(m.INCLUDES for m in modules)
    source += "\n#include <stdint.h>\n"
    source += "\n".join(m.CUSTOMIZATIONS for m in modules)
    source += (f"\nstatic const int HAS_SIMULATOR = {int(with_simulator)};"
               f"\nstatic const int HAS_SIM_EXTENSIONS = {int(with_simulator)};\n")
    settings = _sdk_settings(sdk) if sdk else _binding_settings(module == VENDOR_ONLY)
    ffi.set_source(module, source, **settings)
    return ffi


def cffi_modules():
    """setup.py's cffi_modules: the vendor-only binding only with the simulator."""
    names = ["ffibuilder"] + ([] if vendor_sdk() else ["vendor_ffibuilder"])
    return [f"drivers/build_r4.py:{name}" for name in names]


ffibuilder = make_builder(FULL)
vendor_ffibuilder = None if vendor_sdk() else make_builder(VENDOR_ONLY)
