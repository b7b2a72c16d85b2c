"""System routes, the error shape, the OpenAPI schema and the ASGI body guard."""

from __future__ import annotations

import json

import pytest
from channels.testing import HttpCommunicator

from config.body_limit import BodySizeLimit

pytestmark = pytest.mark.django_db


def test_health_returns_reference_body(client):
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"message": "API is healthy and running"}


def test_api_health_reports_each_part(client):
    body = client.get("/api/health").json()
    assert body["status"] == "ok"
    assert body["checks"]["database"]["ok"] is True
    assert body["checks"]["database"]["backend"] in ("sqlite", "postgresql")
    assert body["checks"]["channel_layer"]["ok"] is True
    assert body["checks"]["storage"] == {**body["checks"]["storage"], "ok": True, "backend": "FileSystemStorage"}
    assert body["checks"]["memory"]["rss_mb"] > 0


def test_health_is_503_when_a_required_part_fails(client, monkeypatch):
    def broken() -> dict:
        raise OSError("disk on fire")

    monkeypatch.setitem(__import__("config.health").health.REQUIRED_CHECKS, "storage", broken)
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json() == {"detail": "Unhealthy: storage.", "code": "unhealthy"}
    detail = client.get("/api/health")
    assert detail.status_code == 503
    assert detail.json()["checks"]["storage"]["error"] == "OSError: disk on fire"


def test_unknown_route_is_json_404(client):
    response = client.get("/no/such/route")
    assert response.status_code == 404
    assert response.json() == {"detail": "No route for /no/such/route.", "code": "not_found"}


def test_malformed_json_is_400_with_error_shape(client, session_id):
    response = client.post(
        "/settings/model", data="{not json", content_type="application/json", HTTP_X_SESSION_ID=session_id
    )
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "parse_error"
    assert body["detail"].startswith("Malformed request body: JSON parse error")


def test_missing_field_is_400_naming_the_field(client, session_id):
    response = client.post("/settings/model", {"model": "gpt-5"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "provider: This field is required.",
        "code": "invalid",
        "errors": {"provider": ["This field is required."]},
    }


def test_root_lists_features(client):
    body = client.get("/").json()
    assert body["title"] == "AI data-analyst backend"
    assert len(body["features"]) == 5


def test_openapi_schema_lists_every_route(client):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    schema = json.loads(response.content)
    paths = set(schema["paths"])
    expected = {
        "/health",
        "/api/health",
        "/generate-session",
        "/initialize-session",
        "/reset-session",
        "/set-message-info",
        "/api/session-info",
        "/preview-csv-upload",
        "/generate-description-from-preview",
        "/upload_dataframe",
        "/api/excel-sheets",
        "/upload_excel",
        "/api/default-dataset",
        "/api/datasets",
        "/api/datasets/{name}",
        "/api/datasets/{name}/rows",
        "/api/datasets/{name}/profile",
        "/api/model-settings",
        "/settings/model",
        "/api/model-catalogue",
    }
    assert expected <= paths
    upload = schema["paths"]["/upload_dataframe"]["post"]
    assert "multipart/form-data" in upload["requestBody"]["content"]
    assert "200" in upload["responses"]


def test_swagger_ui_is_served_without_a_cdn(client):
    response = client.get("/docs")
    assert response.status_code == 200
    assert b"swagger-ui" in response.content
    assert b"cdn.jsdelivr" not in response.content


async def _echo_app(scope, receive, send):
    body = b""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(len(body)).encode()})


async def test_body_guard_refuses_declared_oversize_body():
    app = BodySizeLimit(_echo_app, max_bytes=10)
    communicator = HttpCommunicator(app, "POST", "/upload_dataframe", body=b"x" * 11)
    response = await communicator.get_response()
    assert response["status"] == 413
    assert json.loads(response["body"])["code"] == "payload_too_large"


async def test_body_guard_passes_body_within_limit():
    app = BodySizeLimit(_echo_app, max_bytes=10)
    communicator = HttpCommunicator(app, "POST", "/x", body=b"x" * 10)
    response = await communicator.get_response()
    assert response["status"] == 200
    assert response["body"] == b"10"


async def test_body_guard_counts_streamed_chunks_without_content_length():
    app = BodySizeLimit(_echo_app, max_bytes=10)
    sent: list[dict] = []
    chunks = [
        {"type": "http.request", "body": b"x" * 6, "more_body": True},
        {"type": "http.request", "body": b"x" * 6, "more_body": False},
    ]

    async def receive():
        return chunks.pop(0)

    async def send(message):
        sent.append(message)

    await app({"type": "http", "method": "POST", "path": "/", "headers": []}, receive, send)
    assert sent[0]["status"] == 413
    assert len(sent) == 2


def test_request_log_is_one_line_without_query_string(client, caplog):
    with caplog.at_level("INFO", logger="analyst.requests"):
        client.get("/health?api_key=SECRET-VALUE")
    (record,) = [r for r in caplog.records if r.name == "analyst.requests"]
    message = record.getMessage()
    assert message.startswith("GET /health 200 ")
    assert message.endswith("ms")
    assert "SECRET" not in message
