"""Who may read /analytics/*: the admin key (header, constant-time), staff users' API keys
and admin logins; never a plain user, never a query-string key unless allowed."""

from __future__ import annotations

import logging

import pytest
from rest_framework.test import APIClient

from chats.services import api_key_create, user_create

ROUTES = [
    "/analytics/dashboard",
    "/analytics/usage/summary",
    "/analytics/daily?days=7",
    "/analytics/users",
    "/analytics/users/activity",
    "/analytics/users/sessions/stats",
    "/analytics/usage/models",
    "/analytics/models/history",
    "/analytics/models/metrics",
    "/analytics/costs/summary",
    "/analytics/costs/daily",
    "/analytics/costs/models",
    "/analytics/costs/projections",
    "/analytics/costs/today",
    "/analytics/debug/model_usage",
    "/analytics/tiers/usage",
    "/analytics/tiers/projections",
    "/analytics/tiers/efficiency",
    "/analytics/code-executions/summary",
    "/analytics/code-executions/detailed",
    "/analytics/code-executions/users",
    "/analytics/code-executions/error-analysis",
    "/analytics/feedback/summary",
    "/analytics/feedback/detailed",
]

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("route", ROUTES)
def test_every_route_refuses_anonymous_and_answers_the_admin_key(route, admin_client):
    refused = APIClient().get(route)
    assert refused.status_code == 403
    assert refused.json() == {"detail": "Invalid or missing admin API key", "code": "admin_key_invalid"}
    assert admin_client.get(route).status_code == 200


def test_wrong_admin_key_is_403(admin_key):
    response = APIClient().get("/analytics/debug/model_usage", HTTP_X_ADMIN_API_KEY=admin_key + "x")
    assert response.status_code == 403
    assert response.json()["code"] == "admin_key_invalid"


def test_debug_route_body(admin_client):
    response = admin_client.get("/analytics/debug/model_usage")
    assert response.json() == {"status": "success", "message": "Admin API key validated successfully"}


def test_without_a_configured_key_key_auth_is_off_and_says_so(settings):
    settings.ADMIN_API_KEY = ""
    response = APIClient().get("/analytics/dashboard", HTTP_X_ADMIN_API_KEY="anything")
    assert response.status_code == 403
    assert response.json()["code"] == "admin_key_not_configured"
    assert "ADMIN_API_KEY is not configured" in response.json()["detail"]


def test_staff_api_key_is_accepted_and_plain_user_key_is_not(staff_key, db):
    plain = user_create(username="bob", email="bob@example.com")
    _, plain_key = api_key_create(user=plain)
    assert APIClient().get("/analytics/dashboard", HTTP_X_API_KEY=staff_key).status_code == 200
    response = APIClient().get("/analytics/dashboard", HTTP_X_API_KEY=plain_key)
    assert response.status_code == 403
    assert response.json()["code"] == "admin_key_invalid"


def test_staff_admin_login_is_accepted(db):
    user_create(username="root", email="root@example.com", password="s3cret-pass!", is_staff=True)
    browser = APIClient()
    assert browser.login(username="root", password="s3cret-pass!")
    assert browser.get("/analytics/costs/today").status_code == 200


def test_query_string_key_is_refused_by_default(admin_key):
    response = APIClient().get(f"/analytics/feedback/summary?admin_api_key={admin_key}")
    assert response.status_code == 403
    assert response.json()["code"] == "admin_key_in_query_refused"


def test_query_string_key_allowed_by_setting_and_never_logged(admin_key, settings, caplog):
    settings.ANALYTICS_ALLOW_QUERY_KEY = True
    with caplog.at_level(logging.DEBUG):
        ok = APIClient().get(f"/analytics/feedback/summary?period=7d&admin_api_key={admin_key}")
        bad = APIClient().get("/analytics/feedback/summary?admin_api_key=wrong")
    assert ok.status_code == 200
    assert bad.status_code == 403
    assert admin_key not in caplog.text


def test_public_ticker_needs_no_key_and_shows_only_counts(db):
    response = APIClient().get("/analytics/public/ticker")
    assert response.status_code == 200
    body = response.json()
    assert sorted(body) == ["last_updated", "total_requests", "total_signups", "total_tokens"]
    assert (body["total_signups"], body["total_tokens"], body["total_requests"]) == (0, 0, 0)


@pytest.mark.parametrize(
    "route",
    [
        "/analytics/daily?days=0",
        "/analytics/daily?days=abc",
        "/analytics/users?limit=0",
        "/analytics/users?offset=-1",
        "/analytics/users?offset=100000000000000000000",
        "/analytics/feedback/detailed?offset=100000000000000000000",
        "/analytics/code-executions/detailed?user_id=100000000000000000000",
        "/analytics/code-executions/detailed?limit=100000",
        "/analytics/code-executions/detailed?success_filter=maybe",
        "/analytics/feedback/detailed?min_rating=4&max_rating=2",
        "/analytics/feedback/detailed?min_rating=9",
    ],
)
def test_bad_query_is_a_400_in_the_error_shape(route, admin_client):
    response = admin_client.get(route)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_openapi_schema_documents_each_route_once(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json").json()
    documented = {path for path in schema["paths"] if path.startswith("/analytics/")}
    assert documented == {route.split("?")[0] for route in ROUTES} | {"/analytics/public/ticker"}
    daily = schema["paths"]["/analytics/daily"]["get"]
    assert daily["operationId"] == "analytics_daily"
    assert [(p["in"], p["name"]) for p in daily["parameters"]] == [("header", "X-Admin-API-Key"), ("query", "days")]
    assert "parameters" not in schema["paths"]["/analytics/public/ticker"]["get"]
