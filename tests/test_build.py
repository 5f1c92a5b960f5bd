# SPDX-License-Identifier: GPL-2.0-or-later
"""The bindings' build: the simulator as one library under a full and a
vendor-only binding, a vendor SDK when named, cdefs that hard-code no value
the headers should decide, and a vendor-only binding that uses nothing of
the simulator's own."""
import importlib
import re
import subprocess

import pytest

from drivers import build_r4
from drivers._cdefs import MODULES, SIMULATOR_MODULES
from drivers.r4 import BINDINGS, binding


def declared_functions(names):
    """The functions the cdef modules `names` declare."""
    found = set()
    for name in names:
        module = importlib.import_module(f"drivers._cdefs.{name}")
        found |= set(re.findall(r"(\w+)\s*\([^)]*\)\s*;", module.FUNCTIONS))
    return found


def test_the_simulator_is_one_library_under_both_bindings(monkeypatch):
    monkeypatch.delenv(build_r4.VENDOR_SDK, raising=False)
    library = build_r4.simulator_library_settings()
    assert any(s.endswith("native/src/voice.c") for s in library["sources"])
    assert "spandsp" in library["libraries"]
    full, vendor = build_r4._binding_settings(False), build_r4._binding_settings(True)
    assert full["libraries"] == vendor["libraries"] == [build_r4.SIMULATOR_LIBRARY]
    assert "-DCTI_VENDOR_ONLY" in vendor["extra_compile_args"]
    assert "-DCTI_VENDOR_ONLY" not in full["extra_compile_args"]
    assert build_r4.cffi_modules() == ["drivers/build_r4.py:ffibuilder",
                                       "drivers/build_r4.py:vendor_ffibuilder"]


def test_vendor_sdk_build_links_the_vendor_libraries_alone(monkeypatch, tmp_path):
    (tmp_path / "inc").mkdir()
    monkeypatch.setenv(build_r4.VENDOR_SDK, str(tmp_path))
    settings = build_r4._sdk_settings(build_r4.vendor_sdk())
    assert settings["include_dirs"] == [str(tmp_path / "inc")]
    assert settings["libraries"] == ["srl", "dxxx", "dti", "msi", "dcb"]
    assert build_r4.cffi_modules() == ["drivers/build_r4.py:ffibuilder"]
    names = [m.__name__.rsplit(".", 1)[1] for m in build_r4._cdef_modules(False)]
    assert names == MODULES            # no extension, no far-end control plane


def test_cdefs_leave_every_constant_to_the_headers():
    for name in MODULES + SIMULATOR_MODULES:
        module = importlib.import_module(f"drivers._cdefs.{name}")
        for line in module.TYPES.splitlines():
            if line.startswith("#define"):
                assert re.fullmatch(r"#define \w+ \.\.\.", line.strip()), line
        for struct in re.findall(r"typedef struct[^}]*}", module.TYPES):
            assert "...;" in struct, f"{name}: struct without '...;': {struct[:60]}"


def test_the_vendor_only_binding_has_nothing_of_the_simulators_own():
    ours = declared_functions(SIMULATOR_MODULES)
    assert {"sr_getevtfd", "ATDT_ALARMS", "ms_settone", "dt_getcounters",
            "simfar_reset"} <= ours
    vendor, full = binding("vendor").lib, binding("full").lib
    assert not [name for name in ours if hasattr(vendor, name)]
    assert all(hasattr(full, name) for name in ours)
    assert (vendor.HAS_SIMULATOR, vendor.HAS_SIM_EXTENSIONS) == (0, 0)
    assert (full.HAS_SIMULATOR, full.HAS_SIM_EXTENSIONS) == (1, 1)


def test_the_vendor_only_binding_imports_only_the_vendors_calls():
    """Its dynamic symbol table: what the loader resolves in libctisim.so."""
    path = importlib.import_module(BINDINGS["vendor"]).__file__
    nm = subprocess.run(["nm", "-D", "--undefined-only", path],
                        capture_output=True, text=True, check=True)
    imported = {line.split()[-1].split("@")[0] for line in nm.stdout.splitlines()}
    vendor = declared_functions(MODULES)
    assert vendor & imported, "the binding calls the vendor API"
    assert not imported & declared_functions(SIMULATOR_MODULES)


@pytest.mark.parametrize("call", ["sr_getevtfd()", "ATDT_ALARMS(1)", "ms_settone(1, 0)",
                                  "dt_getcounters(1, 0)"])
def test_our_headers_hide_every_extension_under_CTI_VENDOR_ONLY(tmp_path, call):
    source = tmp_path / "uses.c"
    source.write_text("#include <srllib.h>\n#include <dtilib.h>\n#include <msilib.h>\n"
                      f"int main(void) {{ return (int){call}; }}\n")
    include = f"-I{build_r4.NATIVE}/include"
    compile_only = ["gcc", "-fsyntax-only", "-Werror=implicit-function-declaration", include,
                    str(source)]
    assert subprocess.run(compile_only, capture_output=True).returncode == 0
    hidden = subprocess.run(compile_only + ["-DCTI_VENDOR_ONLY"], capture_output=True,
                            text=True)
    assert hidden.returncode != 0 and call.split("(")[0] in hidden.stderr
