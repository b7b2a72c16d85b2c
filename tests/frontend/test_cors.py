"""CORS as the frontend needs it (frontend-calls.md §1.3): any localhost port by default,
configured origins, the headers it sends, no credentials."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

pytestmark = pytest.mark.django_db

CHAT_HEADERS = "access-control-allow-origin,cache-control,content-type,x-session-id"


def preflight(origin: str, path: str = "/chat", method: str = "POST", headers: str = CHAT_HEADERS):
    return APIClient().options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("origin", ["http://localhost:3000", "http://127.0.0.1:3000", "http://localhost:5173"])
def test_the_chat_preflight_allows_what_the_frontend_sends(origin):
    response = preflight(origin)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == origin
    allowed = {name.strip() for name in response["Access-Control-Allow-Headers"].split(",")}
    assert set(CHAT_HEADERS.split(",")) | {"x-admin-api-key"} <= allowed
    assert {"GET", "POST", "PUT", "DELETE", "OPTIONS"} <= {
        m.strip() for m in response["Access-Control-Allow-Methods"].split(",")
    }
    assert "Access-Control-Allow-Credentials" not in response


def test_other_origins_get_no_cors_headers_unless_configured(settings):
    assert "Access-Control-Allow-Origin" not in preflight("https://analyst.example.com")
    assert "Access-Control-Allow-Origin" not in preflight("http://localhost.evil.example:3000")
    settings.CORS_ALLOWED_ORIGINS = ["https://analyst.example.com"]
    assert preflight("https://analyst.example.com")["Access-Control-Allow-Origin"] == "https://analyst.example.com"


def test_localhost_can_be_switched_off(settings):
    settings.CORS_ALLOWED_ORIGIN_REGEXES = []
    assert "Access-Control-Allow-Origin" not in preflight("http://localhost:3000")


def test_errors_carry_cors_headers_so_the_frontend_can_read_them():
    response = APIClient().get("/agents", HTTP_ORIGIN="http://localhost:3000")
    assert response.status_code == 400
    assert response.json() == {"detail": "Session ID required", "code": "session_required"}
    assert response["Access-Control-Allow-Origin"] == "http://localhost:3000"
