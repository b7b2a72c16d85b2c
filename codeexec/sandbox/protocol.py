"""Length-prefixed frames over a Unix socket: one byte of kind, eight of length, payload.

Kinds: ``Q`` request (JSON), ``B`` one block's result (JSON, sent as each block ends),
``R`` the run's result (JSON), ``A`` attachment (bytes, after its result), ``S`` status
from the server after the child ended (JSON). A child runs
untrusted code and can write anything to its socket, so readers treat every frame as
untrusted: sizes are capped and JSON is validated by the caller.
"""

from __future__ import annotations

import json
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


def recv_frame(sock: socket.socket, *, max_bytes: int = MAX_FRAME_BYTES) -> tuple[bytes, bytes] | None:
    """The next frame, or None at a clean end of stream."""
    header = _recv_exact(sock, HEADER.size)
    if header is None:
        return None
    kind, length = HEADER.unpack(header)
    if length > max_bytes:
        raise ProtocolError(f"frame of {length} bytes is over the {max_bytes} limit")
    payload = _recv_exact(sock, length)
    if payload is None:
        raise ProtocolError("stream ended inside a frame")
    return kind, payload
