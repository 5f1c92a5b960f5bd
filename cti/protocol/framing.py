# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_protocol -*-
"""Frames of the cti protocol: how bytes on a TCP stream become messages.

Every message, in either direction, is one frame::

    offset  size  field
    0       4     length      bytes that follow this field (6 + len(body)), big-endian
    4       1     version     protocol version, 1
    5       1     kind        1 request, 2 response, 3 error, 4 event
    6       4     invoke_id   the request's id, echoed by its response or error
                              and by every event the request caused; 0 otherwise
    10      n     body        UTF-8 JSON object

A request ``{"service":"Heartbeat"}`` with invoke id 7 is the 33 bytes::

    00 00 00 1d 01 01 00 00 00 07 7b 22 73 65 ...   (then the rest of the JSON)

The format is declared once, field by field, with construct (and
compiled by it for speed); `Framer`
cuts a stream that arrives in any chunk sizes into frames, and refuses a
length it will not buffer before reading the body.
"""
import json
from dataclasses import dataclass, field

from construct import (
    Bytes,
    Enum,
    Int8ub,
    Int32ub,
    Rebuild,
    StreamError,
    Struct,
    len_,
    this,
)

from cti.protocol import bodies

VERSION = 1
HEADER = 6                          # version + kind + invoke_id, counted in length
MAX_BODY = 1 << 20                  # a frame body over 1 MiB is refused

FRAME = Struct(
    "length" / Rebuild(Int32ub, len_(this.body) + HEADER),
    "version" / Int8ub,
    "kind" / Enum(Int8ub, request=1, response=2, error=3, event=4),
    "invoke_id" / Int32ub,
    "body" / Bytes(this.length - HEADER),
)
#: The same declaration compiled to Python source by construct: four times
#: faster both ways, and every frame in and out of the server goes through it.
COMPILED = FRAME.compile()

KINDS = ("request", "response", "error", "event")


class FrameError(Exception):
    """Bytes that are not a frame.  `code` is the protocol error code."""

    def __init__(self, code, message):
        self.code = code
        super().__init__(message)


@dataclass(frozen=True)
class Message:
    """One decoded frame: its kind, invoke id and JSON body."""

    kind: str
    invoke_id: int
    body: dict = field(default_factory=dict)


def encode(message):
    """The bytes of one frame."""
    if message.kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, not {message.kind!r}")
    if not 0 <= message.invoke_id < 1 << 32:
        raise ValueError(f"invoke_id must fit in 32 bits, not {message.invoke_id}")
    body = json.dumps(message.body, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode()
    if len(body) > MAX_BODY:
        raise ValueError(f"body of {len(body)} bytes is over the {MAX_BODY}-byte limit")
    return COMPILED.build(dict(version=VERSION, kind=message.kind,
                            invoke_id=message.invoke_id, body=body))


def decode_body(raw):
    """The JSON object of a frame body (cti.protocol.bodies.decode), or
    FrameError('bad_json')."""
    try:
        return bodies.decode(raw)
    except bodies.BodyError as e:
        raise FrameError(e.code, str(e)) from None


class Framer:
    """Feed it bytes as they arrive; it yields whole frames.

    A frame whose length is impossible (under the header, over
    `max_body`) raises FrameError before its body is read: the connection
    cannot be resynchronised after that and must be closed.  A frame with
    a bad version, kind or body raises FrameError carrying the invoke id,
    after the frame is consumed, so the stream can go on.  `max_body` may
    change between feeds (a server keeps it small until a login): no more
    than 4 + HEADER + `max_body` bytes are ever buffered.
    """

    def __init__(self, max_body=MAX_BODY):
        self._buffer = bytearray()
        self.max_body = max_body

    def feed(self, data):
        """Add bytes; return the list of (invoke_id, Message or FrameError)."""
        self._buffer += data
        out = []
        while len(self._buffer) >= 4:
            length = int.from_bytes(self._buffer[:4], "big")
            if length < HEADER or length > HEADER + self.max_body:
                raise FrameError("malformed_frame", f"frame length {length} is outside "
                                 f"{HEADER}..{HEADER + self.max_body}")
            if len(self._buffer) < 4 + length:
                break
            raw = bytes(self._buffer[:4 + length])
            del self._buffer[:4 + length]
            out.append(self._parse(raw))
        return out

    @staticmethod
    def _parse(raw):
        invoke_id = int.from_bytes(raw[6:10], "big")
        if raw[4] != VERSION:
            return invoke_id, FrameError(
                "unsupported_version",
                f"protocol version {raw[4]} is not supported (use {VERSION})")
        try:
            frame = COMPILED.parse(raw)
        except StreamError as e:          # pragma: no cover - lengths were checked
            return invoke_id, FrameError("malformed_frame", str(e))
        kind = str(frame.kind)
        if kind not in KINDS:
            return invoke_id, FrameError("malformed_frame", f"unknown frame kind {raw[5]}")
        try:
            body = decode_body(frame.body)
        except FrameError as e:
            return invoke_id, e
        return invoke_id, Message(kind, invoke_id, body)

    @property
    def buffered(self):
        return len(self._buffer)
