# SPDX-License-Identifier: GPL-2.0-or-later
"""Where a Debian -dev package puts a C library's static archive, for the
build scripts that link one into their binding (drivers/build_pri.py:
libpri.a; drivers/build_r2.py: libopenr2.a) so that the binding can wrap
the library's calls to the system (ld --wrap)."""
import os

#: Where Debian's -dev packages (and a local install) put static libraries.
LIBRARY_DIRS = ("/usr/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
                "/usr/local/lib")


def static_library(filename, package):
    """The path of `filename` (libpri.a), or an error naming the Debian
    `package` that has it."""
    for directory in LIBRARY_DIRS:
        path = os.path.join(directory, filename)
        if os.path.exists(path):
            return path
    raise RuntimeError(f"{filename} not found in {', '.join(LIBRARY_DIRS)}: install "
                       f"{package} (scripts/setup.sh)")
