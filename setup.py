# SPDX-License-Identifier: GPL-2.0-or-later
"""Packaging of cti: the Python packages and the native binding.

`pip install -e .[test]` compiles drivers._r4 through cffi_modules: the
vendor-style API binding, built with the board simulator from native/
unless CTI_VENDOR_SDK names a vendor SDK.
"""
from setuptools import find_packages, setup

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
    cffi_modules=["drivers/build_r4.py:ffibuilder"],
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
