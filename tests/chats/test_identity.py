"""Identity: API keys (hashed, shown once), anonymous switch, the create_user command."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from chats.models import ApiKey, User
from chats.services import api_key_hash, api_key_revoke

pytestmark = pytest.mark.django_db


def test_api_key_is_stored_only_as_a_hash(user_and_key):
    user, key = user_and_key
    stored = ApiKey.objects.get(user=user)
    assert stored.key_hash == api_key_hash(key)
    assert key not in (stored.key_hash, stored.prefix)
    assert key.startswith(stored.prefix)


def test_x_api_key_and_bearer_both_authenticate(client, user_and_key):
    user, key = user_and_key
    for headers in ({"HTTP_X_API_KEY": key}, {"HTTP_AUTHORIZATION": f"Bearer {key}"}):
        session_id = client.post("/generate-session", **headers).json()["session_id"]
        info = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id, **headers).json()
        assert info["user_id"] == user.pk


def test_wrong_key_is_401_not_anonymous(client, db):
    response = client.post("/generate-session", HTTP_X_API_KEY="aak_not-a-real-key")
    assert response.status_code == 401
    assert response.json() == {"detail": "Invalid or revoked API key.", "code": "authentication_failed"}
    assert response["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401(client, user_and_key):
    user, key = user_and_key
    api_key_revoke(api_key=ApiKey.objects.get(user=user))
    assert client.post("/generate-session", HTTP_X_API_KEY=key).status_code == 401


def test_anonymous_use_can_be_switched_off(client, settings, user_and_key):
    settings.ALLOW_ANONYMOUS = False
    response = client.post("/generate-session")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    _, key = user_and_key
    assert client.post("/generate-session", HTTP_X_API_KEY=key).status_code == 200
    # Health stays public for load balancers.
    assert client.get("/health").status_code == 200


def test_create_user_command_prints_a_working_key(client):
    out = io.StringIO()
    call_command("create_user", "linus", "--email", "linus@example.com", stdout=out)
    lines = dict(line.split("=", 1) for line in out.getvalue().split())
    user = User.objects.get(username="linus")
    assert lines["user_id"] == str(user.pk)
    session_id = client.post("/generate-session", HTTP_X_API_KEY=lines["api_key"]).json()["session_id"]
    assert (
        client.get("/api/session-info", HTTP_X_SESSION_ID=session_id, HTTP_X_API_KEY=lines["api_key"]).json()["user_id"]
        == user.pk
    )


def test_create_user_refuses_a_duplicate_email(user_and_key):
    with pytest.raises(CommandError, match="already registered"):
        call_command("create_user", "other", "--email", "ADA@example.com", stdout=io.StringIO())
