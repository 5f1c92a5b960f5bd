# SPDX-License-Identifier: GPL-2.0-or-later
"""Packaging of cti: the Python packages and the native bindings.

`pip install -e .[test]` compiles the board simulator from native/ into
drivers/libctisim.so, then the bindings of the vendor-style API through
cffi_modules: drivers._r4 (full) and drivers._r4_vendor (the vendor's calls
alone), both over that library.  With CTI_VENDOR_SDK naming a vendor SDK,
only drivers._r4 is built, against the SDK (drivers/build_r4.py).  Every
build has drivers._pri, the binding of the system's libpri
(drivers/build_pri.py) and drivers._r2, the binding of OpenR2 (MFC/R2,
drivers/build_r2.py); every simulator build drivers._dahdi, the binding
of DAHDI's userspace ABI (drivers/build_dahdi.py), which links the
simulator library for our DSP.
"""
import os
import sys

from setuptools import find_packages, setup
from setuptools.command.build_ext import build_ext

# pip builds in an isolated environment whose path has not this directory:
# the build script of the bindings is ours, beside this file.
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from drivers import build_r4  # noqa: E402


class BuildExt(build_ext):
    """Builds the simulator library before the bindings that link it, into
    the build tree (and the source tree too for an in-place or editable
    build), where the bindings find it beside them ($ORIGIN)."""

    def run(self):
        if build_r4.vendor_sdk() is None:
            self._simulator_library()
        super().run()

    def _simulator_library(self):
        from distutils.ccompiler import new_compiler
        from distutils.sysconfig import customize_compiler

        compiler = new_compiler(compiler=self.compiler, force=self.force)
        customize_compiler(compiler)
        output_dir = os.path.join(self.build_lib, "drivers")
        path = build_r4.build_simulator_library(compiler, self.build_temp, output_dir)
        for ext in self.extensions:
            if build_r4.SIMULATOR_LIBRARY in ext.libraries:
                ext.library_dirs.append(output_dir)
        if self.inplace:
            self.copy_file(path, os.path.join(build_r4.HERE, os.path.basename(path)))


setup(
    name="cti",
    version="0.1.0",
    description="Voice-board CTI server for call centres, with a board simulator",
    license="GPL-2.0-or-later",
    python_requires=">=3.11",
    # twisted.plugins: a wheel installs twisted/plugins/cti_server.py into
    # Twisted's own plugin directory, which is where `twistd cti` looks.  An
    # editable install cannot put it there; scripts/setup.sh links it.
    packages=find_packages(include=["cti*", "drivers*", "ctbus*", "simulators*", "bench*"])
    + ["twisted.plugins"],
    setup_requires=["cffi>=1.15"],
    # drivers._dahdi links the simulator library (our DSP, the DAHDI
    # personality): not in a vendor SDK build, which has no simulator
    cffi_modules=build_r4.cffi_modules() + ["drivers/build_pri.py:ffibuilder",
                                            "drivers/build_r2.py:ffibuilder"]
    + ([] if build_r4.vendor_sdk() else ["drivers/build_dahdi.py:ffibuilder"]),
    cmdclass={"build_ext": BuildExt},
    install_requires=[
        "cffi>=1.15",
        "twisted[tls]>=23.10",          # TLS for the protocol: pyOpenSSL, service_identity
        "construct>=2.10",
        "sqlalchemy>=2.0",
        "alembic>=1.12",
        "psycopg[binary]>=3.1",
        "pyserial>=3.5",
        "pyusb>=1.2",
        "rich>=13",
        "textual>=8",
        "prometheus_client>=0.17",      # /metrics: the exposition format, kept by its authors
    ],
    extras_require={
        "test": ["pytest>=7", "hypothesis>=6", "ruff>=0.4",
                 "pyte>=0.8"],              # a terminal emulator: what the demo leaves on screen
    },
    entry_points={
        "console_scripts": [
            "cti=cti.cli:main",
            "linediag=cti.linediag:main",
        ],
    },
    package_data={"cti.storage.migrations": ["script.py.mako"]},
    zip_safe=False,
)
