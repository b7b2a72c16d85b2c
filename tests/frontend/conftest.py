"""A replay of the Auto-Analyst web frontend as an HTTP client (``frontend-calls.md``).

:class:`Browser` sends what the frontend's browser sends: an ``Origin`` on every call,
a CORS preflight before every call that has a non-safelisted header (checked the way a
browser checks it: a call the preflight does not allow is a failure here, as it is a
network error there), ``X-Session-ID`` from its store, and, for "apiClient" calls, the
interceptor that mints ``auto_<ms>_<random>`` ids on a 400 "Session ID required".
"""

from __future__ import annotations

import json
import random
import string
import time
from collections.abc import Iterable

import pytest
from rest_framework.test import APIClient

from tests.conftest import read_stream

ORIGIN = "http://127.0.0.1:3000"
CHROME = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0 Safari/537.36"
# Request headers a browser lets through without asking first.
SAFELISTED = {"accept", "accept-language", "content-language"}
# Content types a browser sends without a preflight.
SIMPLE_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded", "text/plain")
# Icons the frontend ships under /icons/templates/ (frontend-calls.md §10).
FRONTEND_ICONS = {
    "preprocessing_agent.svg", "sk_learn_agent.svg", "statsmodel.svg", "plotly.svg", "matplotlib.svg",
    "seaborn.svg", "polars.svg", "numpy.svg", "scipy.png", "xgboost.png", "lightgbm.png", "pymc.png",
    "data-cleaning.png", "feature-engineering.png",
}  # fmt: skip


def mint_session_id() -> str:
    """``auto_${Date.now()}_${Math.random().toString(36).substr(2, 9)}``."""
    alphabet = string.digits + string.ascii_lowercase
    return f"auto_{int(time.time() * 1000)}_{''.join(random.choices(alphabet, k=9))}"


def temporary_chat_id() -> int:
    """A guest's chat id: ``Date.now()``."""
    return int(time.time() * 1000)


class Browser:
    """One browser tab running the frontend, talking to the backend cross-origin."""

    def __init__(self, *, address: str = "198.51.100.7", user_agent: str = CHROME) -> None:
        self.http = APIClient(REMOTE_ADDR=address, HTTP_USER_AGENT=user_agent, HTTP_ORIGIN=ORIGIN)
        self.session_id: str | None = None
        self.preflights: list[tuple[str, str, tuple[str, ...]]] = []

    # --- CORS, as the browser enforces it -------------------------------------------------

    def preflight(self, method: str, path: str, headers: Iterable[str]) -> None:
        names = sorted({name.lower() for name in headers})
        response = self.http.options(
            path,
            HTTP_ACCESS_CONTROL_REQUEST_METHOD=method.upper(),
            HTTP_ACCESS_CONTROL_REQUEST_HEADERS=",".join(names),
        )
        assert response.status_code == 200, (path, response.status_code)
        assert response["Access-Control-Allow-Origin"] == ORIGIN
        allowed_headers = {h.strip().lower() for h in response["Access-Control-Allow-Headers"].split(",")}
        assert set(names) <= allowed_headers, (path, set(names) - allowed_headers)
        allowed_methods = {m.strip() for m in response["Access-Control-Allow-Methods"].split(",")}
        assert method.upper() in allowed_methods
        assert "Access-Control-Allow-Credentials" not in response  # nothing sends credentials
        self.preflights.append((method.upper(), path, tuple(names)))

    def send(
        self,
        method: str,
        path: str,
        *,
        session: bool = True,
        body: dict | None = None,
        multipart: dict | None = None,
        headers: dict[str, str] | None = None,
        session_header: str | None = None,
    ):
        """One call; ``session`` adds X-Session-ID from the store (when it holds an id)."""
        sent: dict[str, str] = dict(headers or {})
        session_id = session_header or (self.session_id if session else None)
        if session_id:
            sent["X-Session-ID"] = session_id
        content_type = None
        if body is not None:
            content_type = "application/json"
        elif multipart is not None:
            content_type = "multipart/form-data"
        needs_preflight = [name for name in sent if name.lower() not in SAFELISTED]
        if content_type is not None and not content_type.startswith(SIMPLE_TYPES):
            needs_preflight.append("content-type")
        if needs_preflight or method.upper() not in ("GET", "POST", "HEAD"):
            self.preflight(method, path, needs_preflight)
        meta = {"HTTP_" + name.upper().replace("-", "_"): value for name, value in sent.items()}
        call = getattr(self.http, method.lower())
        if body is not None:
            response = call(path, body, format="json", **meta)
        elif multipart is not None:
            response = call(path, multipart, format="multipart", **meta)
        else:
            response = call(path, **meta)
        assert response["Access-Control-Allow-Origin"] == ORIGIN, path
        assert response.status_code < 500, (path, response.status_code, getattr(response, "content", b"")[:500])
        return response

    def api_client(self, method: str, path: str, **kwargs):
        """A call through the frontend's axios instance: on 400 "Session ID required" it
        mints an id, stores it, initializes it, and repeats the call once."""
        response = self.send(method, path, **kwargs)
        if response.status_code == 400 and response.json().get("detail") == "Session ID required":
            self.adopt(mint_session_id())
            response = self.send(method, path, **kwargs)
        return response

    def adopt(self, session_id: str) -> None:
        """Store a minted id, then initialize it (the store is written first: §2.2.6)."""
        self.session_id = session_id
        init = self.send(
            "post",
            "/initialize-session",
            body={"session_id": session_id, "user_id": 0, "user_email": "", "user_name": "Anonymous"},
        )
        assert init.status_code == 200, init.content

    # --- streams ----------------------------------------------------------------------------

    def chat_stream(self, query: str, *, chat_id: int | None, is_admin: bool = False) -> list[dict]:
        """``POST /chat`` as ChatInterface sends it, parsed as ChatInterface parses it."""
        params = [f"chat_id={chat_id}"] if chat_id else []
        if is_admin:
            params.append("is_admin=true")
        path = "/chat" + ("?" + "&".join(params) if params else "")
        response = self.send(
            "post",
            path,
            body={"query": query},
            headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
        )
        assert response.status_code == 200
        lines = frontend_stream_lines(response)
        return lines


def frontend_stream_lines(response) -> list[dict]:
    """The lines ChatInterface reads: it decodes each network chunk on its own, so every
    part the server writes must hold whole lines only (one per part)."""
    from asgiref.sync import async_to_sync

    async def parts() -> list[bytes]:
        return [part async for part in response.streaming_content]

    events = []
    for part in async_to_sync(parts)():
        text = part.decode("utf-8")  # a split multi-byte character would raise here
        pieces = [piece for piece in text.split("\n") if piece.strip()]
        assert text.endswith("\n") and len(pieces) == 1, "one whole NDJSON line per write"
        event = json.loads(pieces[0])
        assert isinstance(event["content"], str)
        events.append(event)
    return events


def answer_text(events: list[dict]) -> str:
    """The answer bubble's Markdown, built as ChatInterface builds it."""
    text = ""
    for event in events:
        content = event["content"]
        agent = event.get("agent", "")
        content = content.replace("```", f"<!-- AGENT: {agent} -->\n```", 1) if "```" in content else content
        text += "\n" + content
    return text


@pytest.fixture(autouse=True)
def sandbox_ready() -> None:
    """Wait for the embedded sandbox to listen (it starts slowly on a loaded machine), so a
    journey fails on what it checks, not on the sandbox's start-up time."""
    import socket

    from django.conf import settings

    from codeexec import supervisor

    supervisor.ensure_started()
    deadline = time.monotonic() + 90
    while True:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
            try:
                probe.connect(str(settings.SANDBOX_SOCKET))
                return
            except OSError:
                if time.monotonic() > deadline:
                    pytest.fail("the code sandbox did not start within 90 s")
        time.sleep(0.2)


@pytest.fixture
def browser(db) -> Browser:
    return Browser()


__all__ = ["FRONTEND_ICONS", "ORIGIN", "Browser", "answer_text", "mint_session_id", "read_stream", "temporary_chat_id"]
