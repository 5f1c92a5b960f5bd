# SPDX-License-Identifier: GPL-2.0-or-later
"""The binding's build: the simulator by default, a vendor SDK when named,
and cdefs that hard-code no value the headers should decide."""
import importlib
import re

from drivers import build_r4
from drivers._cdefs import MODULES


def test_default_build_compiles_the_simulator(monkeypatch):
    monkeypatch.delenv("CTI_VENDOR_SDK", raising=False)
    with_simulator, settings = build_r4._build_settings()
    assert with_simulator
    assert any(s.endswith("native/src/voice.c") for s in settings["sources"])
    assert "spandsp" in settings["libraries"]


def test_vendor_sdk_build_links_the_vendor_libraries(monkeypatch, tmp_path):
    (tmp_path / "inc").mkdir()
    monkeypatch.setenv("CTI_VENDOR_SDK", str(tmp_path))
    with_simulator, settings = build_r4._build_settings()
    assert not with_simulator
    assert settings["include_dirs"] == [str(tmp_path / "inc")]
    assert settings["libraries"] == ["srl", "dxxx", "dti", "msi", "dcb"]
    assert "sources" not in settings
    names = [m.__name__.rsplit(".", 1)[1] for m in build_r4._cdef_modules(False)]
    assert names == MODULES            # no far-end control plane against real boards


def test_cdefs_leave_every_constant_to_the_headers():
    for name in MODULES + ["simfar"]:
        module = importlib.import_module(f"drivers._cdefs.{name}")
        for line in module.TYPES.splitlines():
            if line.startswith("#define"):
                assert re.fullmatch(r"#define \w+ \.\.\.", line.strip()), line
        for struct in re.findall(r"typedef struct[^}]*}", module.TYPES):
            assert "...;" in struct, f"{name}: struct without '...;': {struct[:60]}"
