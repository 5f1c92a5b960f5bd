# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol_hardening -*-
"""What a frame body may hold: decoded once, checked whole, before anything
acts on it.

JSON lets through more than a server can safely keep or send on.  Python's
decoder turns ``"\\ud800"`` into a string with a lone surrogate, which no
UTF-8 encoder will write back out: kept in a call's attached data it would
break every event and snapshot of that call, for every session.  It
accepts ``NaN`` and ``Infinity``, which are not JSON at all, integers of
any size (``1e400`` digits, or ``2**64``, which a JavaScript or Java client
cannot hold), and nesting that only stops at the interpreter's recursion
limit.  So a body is read in two steps:

`decode(raw)`
    bytes to a JSON object, or `BodyError` (code ``bad_json``) for what is
    not one.  Numbers that no client can hold are not refused here (the
    decoder does not know where they are): they come out as `Unfit`
    markers, so that the check can name the field.

`check(body)`
    walks the object once and raises `BodyError` (code ``invalid_field``)
    at the first value out of bounds, naming its path::

        >>> check({"service": "SetCallData", "params": {"data": {"x": "\\ud800"}}})
        Traceback (most recent call last):
        ...
        cti.protocol.bodies.BodyError: params.data.x: a string holding a lone ...

The limits (`MAX_DEPTH`, `MAX_STRING`, `MAX_KEY`, `MAX_INT`) hold for every
body; a service's own fields are narrower (cti.protocol.services.Field).
"""
import json
import math
import re

#: Objects and arrays nested deeper than this are refused.
MAX_DEPTH = 16
#: The longest string anywhere in a body, in characters.
MAX_STRING = 65536
#: The longest key of an object, in characters.
MAX_KEY = 256
#: The largest integer (either sign): what a client in any language holds
#: exactly (an IEEE double's integers, JavaScript's Number.MAX_SAFE_INTEGER).
MAX_INT = 2 ** 53 - 1

_SIMPLE_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


class BodyError(Exception):
    """A body refused: `code` is the protocol error code, `path` the
    field at fault as a list of keys and indexes (empty for the whole body)."""

    def __init__(self, code, path, message):
        self.code = code
        self.path = tuple(path)
        where = render_path(self.path)
        super().__init__(f"{where}: {message}" if where else message)

    @property
    def field(self):
        """The request field at fault: the parameter (under ``params``), or
        the top-level key."""
        if len(self.path) >= 2 and self.path[0] == "params":
            return str(self.path[1])
        return str(self.path[0]) if self.path else None


class Unfit:
    """A number the decoder read that no client could hold (too large, or
    not finite): kept as its first characters until `check` refuses it."""

    def __init__(self, text):
        self.text = text if len(text) <= 24 else text[:20] + "..."

    def __repr__(self):
        return f"Unfit({self.text})"


def _parse_int(text):
    # 16 digits cover MAX_INT; more is out of range however it reads, and
    # would cost the decoder quadratic time at thousands of digits.
    if len(text.lstrip("-")) > 16:
        return Unfit(text)
    value = int(text)
    return value if -MAX_INT <= value <= MAX_INT else Unfit(text)


def _parse_float(text):
    value = float(text)
    return value if math.isfinite(value) else Unfit(text)


_DECODER = json.JSONDecoder(parse_int=_parse_int, parse_float=_parse_float,
                            parse_constant=Unfit)


def decode(raw):
    """The JSON object in `raw` (bytes), or BodyError('bad_json')."""
    try:
        body = _DECODER.decode(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise BodyError("bad_json", (), f"body is not UTF-8 (byte {e.start}: {e.reason})") \
            from None
    except json.JSONDecodeError as e:
        raise BodyError("bad_json", (), f"body is not JSON: {e}") from None
    except RecursionError:
        raise BodyError("bad_json", (), f"body nests objects and arrays far deeper than "
                        f"the {MAX_DEPTH} levels allowed") from None
    if not isinstance(body, dict):
        raise BodyError("bad_json", (), "body must be a JSON object, not "
                        f"{type(body).__name__ if not isinstance(body, Unfit) else 'a number'}")
    return body


def check(value, path=(), depth=0):
    """Raise BodyError('invalid_field') at the first value in `value`
    beyond the limits of every body; return None."""
    if isinstance(value, str):
        check_string(value, path, MAX_STRING)
    elif isinstance(value, dict):
        if depth >= MAX_DEPTH:
            raise BodyError("invalid_field", path, f"objects and arrays nest deeper than "
                            f"{MAX_DEPTH} levels")
        for key, item in value.items():
            check_string(key, path, MAX_KEY, what="key")
            check(item, (*path, key), depth + 1)
    elif isinstance(value, list):
        if depth >= MAX_DEPTH:
            raise BodyError("invalid_field", path, f"objects and arrays nest deeper than "
                            f"{MAX_DEPTH} levels")
        for index, item in enumerate(value):
            check(item, (*path, index), depth + 1)
    elif isinstance(value, Unfit):
        raise BodyError("invalid_field", path, f"the number {value.text} is not one a "
                        f"client can hold: integers are within +/-{MAX_INT:,} (2**53 - 1), "
                        "and numbers are finite")


def check_string(text, path, limit, what="string"):
    """`text` is valid Unicode text (no lone surrogate: it could not be
    written as UTF-8) of at most `limit` characters."""
    if len(text) > limit:
        raise BodyError("invalid_field", path, f"a {what} of {len(text):,} characters is "
                        f"over the {limit:,} allowed")
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as e:
            raise BodyError("invalid_field", path, f"a {what} holding a lone surrogate "
                            f"(U+{ord(text[e.start]):04X} at character {e.start}): not "
                            "Unicode text; send characters, not halves of a UTF-16 "
                            "pair") from None


def render_path(path):
    """``params.data.x[2]``: keys that are not simple names are quoted as
    JSON strings (escaped), so no key reaches a message or a log raw."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        elif _SIMPLE_KEY.match(part):
            out += f".{part}" if out else part
        else:
            out += f"[{json.dumps(part)}]"
    return out
