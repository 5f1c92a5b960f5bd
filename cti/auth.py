# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""Passwords stored hashed, and checked in constant time.

A stored password is one string, ``scrypt$N$r$p$salt$hash`` (salt and hash
in base64), made by `hash_password` or by ``cti passwd``; configuration
files hold only that string, never the password::

    >>> stored = hash_password("s3cret")
    >>> verify_password(stored, "s3cret")
    True
"""
import base64
import hashlib
import hmac
import os

N, R, P = 1 << 14, 8, 1
DKLEN = 32


def hash_password(password, salt=None):
    salt = os.urandom(16) if salt is None else salt
    digest = hashlib.scrypt(password.encode(), salt=salt, n=N, r=R, p=P, dklen=DKLEN)
    return "$".join(["scrypt", str(N), str(R), str(P),
                     base64.b64encode(salt).decode(), base64.b64encode(digest).decode()])


def check_hash_format(stored):
    """None if `stored` looks like a hash_password() string, else what is wrong."""
    parts = stored.split("$") if isinstance(stored, str) else []
    if len(parts) != 6 or parts[0] != "scrypt":
        return "expected 'scrypt$N$r$p$salt$hash' (make one with `cti passwd`)"
    try:
        n, r, p = (int(x) for x in parts[1:4])
        base64.b64decode(parts[4], validate=True)
        base64.b64decode(parts[5], validate=True)
    except ValueError:
        return "the scrypt parameters, salt or hash are not valid"
    if n < 2 or n & (n - 1) or r < 1 or p < 1:
        return "the scrypt parameters are not valid"
    return None


def verify_password(stored, password):
    if check_hash_format(stored):
        return False
    _, n, r, p, salt, digest = stored.split("$")
    expected = base64.b64decode(digest)
    got = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r),
                         p=int(p), dklen=len(expected), maxmem=64 << 20)
    return hmac.compare_digest(got, expected)
