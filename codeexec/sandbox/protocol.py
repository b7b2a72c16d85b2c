"""Length-prefixed frames: one byte of kind, eight of length, payload.

Kinds: ``Q`` request (JSON, web process to child), ``P`` the run's plan (JSON, child to
server, before any user code), ``B`` one block's result (JSON, sent as each block ends),
``R`` the run's result (JSON), ``A`` attachment (bytes, after its result), ``S`` status
from the server after the child ended (JSON).

The child reads its request from the connection and closes it before the user's code
runs; from then on it writes only to a pipe the server reads (``relay.RunRelay``), which
validates every frame before forwarding it. Readers still cap every frame's size before
reading its payload.
"""

from __future__ import annotations

import json
import os
import socket
import struct

HEADER = struct.Struct("!cQ")
MAX_FRAME_BYTES = 512 * 1024 * 1024


class ProtocolError(Exception):
    pass


def send_frame(sock: socket.socket, kind: bytes, payload: bytes) -> None:
    sock.sendall(HEADER.pack(kind, len(payload)) + payload)


def send_json(sock: socket.socket, kind: bytes, value: object) -> None:
    send_frame(sock, kind, json.dumps(value).encode())


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = bytearray()
    while len(chunks) < size:
        chunk = sock.recv(min(size - len(chunks), 1 << 20))
        if not chunk:
            return None
        chunks += chunk
    return bytes(chunks)


def write_frame(fd: int, kind: bytes, payload: bytes) -> None:
    """A frame to a pipe (the child's only way out)."""
    view = memoryview(HEADER.pack(kind, len(payload)) + payload)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def recv_frame(
    sock: socket.socket, *, max_bytes: int = MAX_FRAME_BYTES, caps: dict[bytes, int] | None = None
) -> tuple[bytes, bytes] | None:
    """The next frame, or None at a clean end of stream. With ``caps``, a kind not in it,
    or a length over its cap, is refused from the header alone, before any payload is read."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    if caps is not None:
        if kind not in caps:
            raise ProtocolError(f"unexpected frame kind {kind!r}")
        max_bytes = caps[kind]
    if length > max_bytes:
        raise ProtocolError(f"frame of {length} bytes is over the {max_bytes} limit")
    payload = _recv_exact(sock, length)
    if payload is None:
        raise ProtocolError("stream ended inside a frame")
    return kind, payload
