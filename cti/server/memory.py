# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_server_run -*-
"""Memory the server gives back.

A CT server runs for months; its resident memory should follow its load,
not the worst moment it ever had.  Python frees what it no longer uses, but
glibc's allocator may keep it: a block of 128 KiB or more is mapped on its
own and unmapped when freed, *until* the first such block is freed, after
which glibc raises that threshold (up to 32 MiB) and serves later big
blocks from its heaps, which it rarely returns.  Every login's scrypt
check takes 16 MiB for a moment, and each thread that ran one has a heap
of its own: measured with a million hostile frames (bench/fuzz.py), the
server's RSS grew by 60% and stayed there.

`give_back_memory()` fixes the threshold at glibc's default (so big blocks
are always mapped, and unmapped once freed) and caps the number of heaps
at two per core.  It is called once, before the server starts; on a libc
that is not glibc it does nothing.
"""
import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8                 # glibc's mallopt parameters (malloc.h)
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 128 * 1024      # glibc's default, kept from now on


def give_back_memory():
    """True when glibc took the settings."""
    name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError, TypeError):
        return False
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_ARENA_MAX, 2 * (os.cpu_count() or 1)))
