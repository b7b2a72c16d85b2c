"""ASGI guard that answers 413 before Django buffers an oversize body.

Django's ASGI handler spools the whole body to a temporary file before any view runs,
so without this a 10 GB upload would be written to disk before being refused. The guard
refuses by Content-Length at once, and counts streamed bytes for chunked bodies.
"""

from __future__ import annotations

import json
from typing import Any

Scope = dict[str, Any]
Message = dict[str, Any]


def too_large_body(max_bytes: int) -> bytes:
    limit_mb = max_bytes // (1024 * 1024)
    return json.dumps(
        {"detail": f"The request body is larger than the {limit_mb} MB limit.", "code": "payload_too_large"}
    ).encode()


class BodySizeLimit:
    def __init__(self, app: Any, *, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(send)
            return

        received = 0
        refused = False

        async def counting_receive() -> Message:
            nonlocal received, refused
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes and not refused:
                    refused = True
                    await self._refuse(send)
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if refused:
                return  # we already answered 413; drop whatever the app sends
            await send(message)

        await self.app(scope, counting_receive, guarded_send)

    async def _refuse(self, send: Any) -> None:
        body = too_large_body(self.max_bytes)
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
