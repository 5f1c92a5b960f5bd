# SPDX-License-Identifier: GPL-2.0-or-later
"""drivers._dahdi holds DAHDI's kernel ABI exactly: every constant, ioctl
number, struct size and member offset the binding declares equals what a
C program compiled from dahdi/user.h alone prints, and the figures
lines-real.md 1.2 records for x86_64 (so a header that moved would show
here, not on a customer's card)."""
import subprocess

import pytest

from drivers import _dahdi
from drivers._cdefs import dahdi as cdefs
from drivers.build_dahdi import HEADER

ffi, lib = _dahdi.ffi, _dahdi.lib

#: lines-real.md 1.2 and 1.4: the ABI as dahdi-linux defines it on x86_64.
DOCUMENTED = {
    "DAHDI_GET_BLOCKSIZE": 0x8004DA01, "DAHDI_SET_BLOCKSIZE": 0x4004DA01,
    "DAHDI_FLUSH": 0x4004DA03, "DAHDI_GET_PARAMS": 0xC088DA05, "DAHDI_HOOK": 0x4004DA07,
    "DAHDI_GETEVENT": 0x8004DA08, "DAHDI_IOMUX": 0xC004DA09, "DAHDI_SPANSTAT": 0xC13ADA0A,
    "DAHDI_MAINT": 0x4008DA0B, "DAHDI_GETCONF": 0xC00CDA0C, "DAHDI_SETCONF": 0xC00CDA0D,
    "DAHDI_SETGAINS": 0x4204DA10, "DAHDI_SENDTONE": 0x4004DA15, "DAHDI_DIAL": 0x4104DA1F,
    "DAHDI_SET_BUFINFO": 0x4018DA1B, "DAHDI_SPECIFY": 0x4004DA26, "DAHDI_SETLAW": 0x4004DA27,
    "DAHDI_SETLINEAR": 0x4004DA28, "DAHDI_SETCADENCE": 0x4040DA2A,
    "DAHDI_GETRXBITS": 0x8004DA2B, "DAHDI_SETTXBITS": 0x4004DA2B,
    "DAHDI_GETVERSION": 0x80A0DA39, "DAHDI_LOOPBACK": 0x4004DA3A,
    "DAHDI_BUFFER_EVENTS": 0x4004DA69, "DAHDI_CHANCONFIG": 0x404CDA13, "ELAST": 500,
    "DAHDI_MAX_BLOCKSIZE": 8192, "DAHDI_MAX_NUM_BUFS": 32, "DAHDI_MAX_BUF_SPACE": 32768,
    "DAHDI_EVENT_RINGOFFHOOK": 2, "DAHDI_EVENT_HOOKCOMPLETE": 12,
    "DAHDI_EVENT_BITSCHANGED": 13, "DAHDI_EVENT_WRITE_UNDERRUN": 30,
    "DAHDI_EVENT_PULSEDIGIT": 0x10000, "DAHDI_EVENT_DTMFDOWN": 0x20000,
    "DAHDI_EVENT_DTMFUP": 0x40000, "DAHDI_SIG_FXSKS": 0x2004, "DAHDI_SIG_FXOKS": 0x1020,
    "DAHDI_SIG_EM": 0x40, "DAHDI_SIG_CAS": 0x8000, "DAHDI_SIG_EM_E1": 0x20000,
    "DAHDI_CONF_MONITORBOTH": 3, "DAHDI_CONF_CONF": 4, "DAHDI_CONF_TALKER": 0x200,
    "DAHDI_MAINT_LOCALLOOP": 1, "DAHDI_MAINT_PRBS": 12, "DAHDI_ALARM_BLUE": 0x10,
}
DOCUMENTED_LAYOUT = {
    ("dahdi_spaninfo", None): 314, ("dahdi_spaninfo", "alarms"): 64,
    ("dahdi_spaninfo", "bpvcount"): 76, ("dahdi_spaninfo", "syncsrc"): 116,
    ("dahdi_spaninfo", "lineconfig"): 136, ("dahdi_spaninfo", "spantype"): 308,
    ("dahdi_params", None): 136, ("dahdi_gains", None): 516,
    ("dahdi_maintinfo", None): 8, ("dahdi_confinfo", None): 12,
    ("dahdi_dialoperation", None): 260, ("dahdi_bufferinfo", None): 24,
    ("dahdi_versioninfo", None): 160, ("dahdi_chanconfig", None): 76,
}


def members(body):
    """The member names of a cdef struct body."""
    names = []
    for declaration in body.replace("\n", " ").split(";"):
        declaration = declaration.strip()
        if declaration:
            names.append(declaration.split()[-1].split("[")[0])
    return names


def every_struct():
    return {**cdefs.STRUCTS, **cdefs.PACKED_STRUCTS}


@pytest.fixture(scope="module")
def from_the_header(tmp_path_factory):
    """{key: value} printed by a C program compiled from user.h alone."""
    lines = ["#include <errno.h>", "#include <fcntl.h>", "#include <stddef.h>",
             "#include <stdio.h>", "#include <dahdi/user.h>", "int main(void) {"]
    for name in cdefs.CONSTANTS:
        lines.append(f'printf("{name} %llu\\n", (unsigned long long)({name}));')
    for struct, body in every_struct().items():
        lines.append(f'printf("sizeof:{struct} %zu\\n", sizeof(struct {struct}));')
        for member in members(body):
            lines.append(f'printf("offsetof:{struct}.{member} %zu\\n", '
                         f'offsetof(struct {struct}, {member}));')
    lines += ["return 0;", "}"]
    directory = tmp_path_factory.mktemp("abi")
    source, program = directory / "abi.c", directory / "abi"
    source.write_text("\n".join(lines))
    subprocess.run(["cc", "-o", str(program), str(source)], check=True)
    output = subprocess.run([str(program)], capture_output=True, text=True, check=True)
    return {key: int(value) for key, value in
            (line.split() for line in output.stdout.splitlines())}


def as_unsigned(value):
    return value & 0xFFFFFFFFFFFFFFFF


def test_the_header_is_debian_s_dahdi_source():
    with open(HEADER) as header:
        assert "DAHDI_SPANSTAT" in header.read()


def test_every_constant_and_ioctl_number_is_the_header_s(from_the_header):
    for name in cdefs.CONSTANTS:
        assert as_unsigned(getattr(lib, name)) == from_the_header[name], name


def test_every_struct_size_and_member_offset_is_the_compiler_s(from_the_header):
    for struct, body in every_struct().items():
        assert ffi.sizeof(f"struct {struct}") == from_the_header[f"sizeof:{struct}"], struct
        for member in members(body):
            assert (ffi.offsetof(f"struct {struct}", member)
                    == from_the_header[f"offsetof:{struct}.{member}"]), f"{struct}.{member}"


def test_the_abi_is_the_one_documented_for_x86_64():
    for name, value in DOCUMENTED.items():
        assert as_unsigned(getattr(lib, name)) == value, name
    for (struct, member), value in DOCUMENTED_LAYOUT.items():
        got = (ffi.sizeof(f"struct {struct}") if member is None
               else ffi.offsetof(f"struct {struct}", member))
        assert got == value, (struct, member)


def test_every_event_code_of_the_header_is_declared():
    with open(HEADER) as header:
        declared = {word for line in header for word in line.split()
                    if word.startswith("DAHDI_EVENT_")}
    assert declared <= set(cdefs.CONSTANTS)
