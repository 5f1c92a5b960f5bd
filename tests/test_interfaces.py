# SPDX-License-Identifier: GPL-2.0-or-later
"""The CT server's shape: its contracts kept, and imports that run one way.

- every implementer of a cti.server.interfaces contract provides it
  (zope.interface.verify);
- domain modules of cti.server import nothing of cti.protocol: only the
  protocol edge does (each feature's handlers.py, edge.py, and the
  modules that run the server);
- cti.protocol imports nothing of cti.server, ctbus/ nothing of cti/;
- no module reaches into another object's underscore names.
"""
import ast
import subprocess
import sys
from pathlib import Path

import pytest
from zope.interface.verify import verifyObject

from cti.server.interfaces import (
    IACDOwner,
    ICallEnding,
    ICallLayer,
    ICallReleased,
    IChannelListener,
    IHolds,
    IOutsideParty,
)
from cti.server.outbound.dialer import CalledAgent
from tests.centre import Centre

ROOT = Path(__file__).resolve().parent.parent
#: The modules of cti/server at the protocol edge, or that run the server.
EDGE = {"edge.py", "handlers.py", "app.py", "run.py", "twistd.py", "config.py"}


def test_every_implementer_provides_its_contract():
    centre = Centre()
    center = centre.center
    assert verifyObject(ICallLayer, center.layer)
    assert verifyObject(IChannelListener, center)
    assert verifyObject(IACDOwner, center.queueing)
    for part in center.layer.ending:
        assert verifyObject(ICallEnding, part), part
    for part in center.layer.released:
        assert verifyObject(ICallReleased, part), part
    for holder in (center.dialer, center.consults, center.supervisors):
        assert verifyObject(IHolds, holder)
    assert verifyObject(IOutsideParty, center.channels["dtiB1T1"])
    station = center.channels["msiB1C5"]
    agent = center.acd.agents["1005"]
    called = CalledAgent(center.layer, center.acd, agent, station)
    assert verifyObject(IOutsideParty, called) and called.called_agent is agent
    called.end_call("test", "system")        # the voice resource it borrowed goes back


def imports_of(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            yield node.module


def test_domain_modules_import_nothing_of_the_protocol():
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / "cti/server").rglob("*.py")
                 if p.name not in EDGE
                 and any(m.startswith("cti.protocol") for m in imports_of(p))]
    assert offenders == []


@pytest.mark.parametrize(("package", "forbidden"), [
    ("cti/protocol", "cti.server"), ("ctbus", "cti")])
def test_lower_floors_import_nothing_from_above(package, forbidden):
    offenders = [str(p.relative_to(ROOT)) for p in (ROOT / package).rglob("*.py")
                 if any(m == forbidden or m.startswith(forbidden + ".")
                        for m in imports_of(p))]
    assert offenders == []


def test_the_protocol_imports_without_the_server():
    code = ("import sys, cti.protocol.server, cti.protocol.client, cti.protocol.agent; "
            "print(sorted(m for m in sys.modules if m.startswith('cti.server')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True).stdout
    assert out.strip() == "[]"


def test_no_module_reaches_into_another_objects_underscore_names():
    """Only `self._x` and `cls._x`: another object's private names are its own."""
    found = []
    for path in (ROOT / "cti").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr.startswith("_") \
                    and not node.attr.startswith("__") \
                    and not (isinstance(node.value, ast.Name)
                             and node.value.id in ("self", "cls")) \
                    and not isinstance(node.value, ast.Call):       # super()._x
                found.append(f"{path.relative_to(ROOT)}:{node.lineno} .{node.attr}")
    assert found == []


def test_no_class_grows_into_a_room():
    """A class that does everything is where the next feature would go:
    about 40 methods and 600 lines at most (the rest belongs in a part of
    its own, as the ACD's parts and the call layer's features are)."""
    big = []
    for path in (ROOT / "cti").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                methods = [n for n in node.body
                           if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
                lines = node.end_lineno - node.lineno
                if len(methods) > 42 or lines > 600:
                    big.append(f"{path.relative_to(ROOT)}: {node.name} ({len(methods)} "
                               f"methods, {lines} lines)")
    assert big == []
