"""API-wide hardening from issue 10: over-deep JSON bodies, rate limits, file modes,
the schema's auth schemes and the server's header timeout."""

from __future__ import annotations

import json

import pytest

from config.parsers import MAX_JSON_DEPTH, json_nesting_depth
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB, nested 1,000 deep


def test_nesting_depth_ignores_brackets_inside_strings():
    assert json_nesting_depth(b'{"a": [1, {"b": "[[[[{{{{\\"]]"}]}') == 3
    assert json_nesting_depth(b"12") == 0
    assert json_nesting_depth(DEEP) == 1000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/set-message-info"),
        ("post", "/settings/model"),
        ("post", "/code/execute"),
        ("post", "/code/edit"),
        ("post", "/chats/"),
        ("post", "/generate-description-from-preview"),
    ],
)
def test_a_body_nested_1000_deep_is_a_400_on_json_routes(client, session_id, method, path):
    response = getattr(client, method)(path, DEEP, content_type="application/json", HTTP_X_SESSION_ID=session_id)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"Malformed request body: JSON nested deeper than {MAX_JSON_DEPTH} levels.", "code": "parse_error"},
    )


def test_a_deep_body_is_a_400_for_an_api_key_caller_too(auth_client):
    response = auth_client.post("/templates/custom", DEEP, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_deep_body_on_set_message_info_is_exactly_a_parse_error(client, session_id):
    response = client.post("/set-message-info", DEEP, content_type="application/json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_body_at_the_depth_limit_still_parses(client, session_id):
    nested = json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    body = {"chat_id": None, "message_id": None, "extra": nested}
    response = client.post("/set-message-info", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200, response.json()


def test_deep_json_in_a_multipart_field_is_a_400(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(b"a,b\n1,2\n", "x.xlsx"), "selected_sheets": DEEP.decode()},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"Malformed request body: JSON nested deeper than {MAX_JSON_DEPTH} levels."
