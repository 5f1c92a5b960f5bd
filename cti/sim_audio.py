# SPDX-License-Identifier: GPL-2.0-or-later
# -*- test-case-name: tests.test_shell -*-
"""A WAV file sent to a simulated far end, for `cti sim play` and the
`play` steps of `cti sim script`: a request carries at most a protocol
string of base64 (65,536 characters), so a file goes as pieces, each a
WAV of its own in the file's format, played back to back::

    seconds, pieces = wav_pieces("hello.wav")      # ValueError if it is no such WAV
    answer = play(client, "dtiB1T1", "hello.wav")  # SimStatus first: room for it all?
"""
import base64

#: Audio bytes per SimAudio request: its base64 stays under the protocol's
#: longest string (65,536 characters).
PIECE_BYTES = 48_000
#: The largest WAV file `cti sim play` reads (an hour of PCM16): the server
#: says how much of it may wait to be played (SimStatus `audioQueuedMaxS`).
READ_MAX_BYTES = 3600 * 16_000


def wav_pieces(path):
    """(seconds of audio, a list of base64 WAV files of at most
    PIECE_BYTES of audio each, in the file's own format); ValueError
    saying what is wrong."""
    from drivers.wavinfo import wav_format

    with open(path, "rb") as f:
        data = f.read(READ_MAX_BYTES + 1)
    if len(data) > READ_MAX_BYTES:
        raise ValueError(f"{path}: over {READ_MAX_BYTES:,} bytes, more than a far end plays")
    encoding = wav_format(data[:4096], where=path)   # 8 kHz mono PCM16, mu-law or A-law
    per_second = 16_000 if encoding == "pcm16" else 8_000
    fmt, payload, pos = None, None, 12
    while pos + 8 <= len(data):
        chunk, size = data[pos:pos + 4], int.from_bytes(data[pos + 4:pos + 8], "little")
        if chunk == b"fmt ":
            fmt = data[pos:pos + 8 + size]
        elif chunk == b"data":
            payload = data[pos + 8:pos + 8 + size]
            break
        pos += 8 + size + (size & 1)
    if not payload:
        raise ValueError(f"{path}: no audio (no data chunk, or an empty one)")
    pieces = []
    for start in range(0, len(payload), PIECE_BYTES):
        part = payload[start:start + PIECE_BYTES]
        body = fmt + b"data" + len(part).to_bytes(4, "little") + part
        wav = b"RIFF" + (4 + len(body)).to_bytes(4, "little") + b"WAVE" + body
        pieces.append(base64.b64encode(wav).decode("ascii"))
    return len(payload) / per_second, pieces


def play(client, device, path):
    """Send a WAV file to a far end, in pieces, once the server says it
    may have it all waiting; the last answer, its `seconds` the whole's."""
    seconds, pieces = wav_pieces(path)
    status = client.call("SimStatus", device=device)
    room = status["audioQueuedMaxS"] - status["audioQueuedS"]
    if seconds > room:
        raise ValueError(f"{path}: {seconds:.1f} s of audio; {device} may have "
                         f"{room:.1f} s more waiting to be played (at most "
                         f"{status['audioQueuedMaxS']} s)")
    for piece in pieces:
        answer = client.call("SimAudio", device=device, wav=piece)
    return {**answer, "seconds": round(seconds, 3)}
