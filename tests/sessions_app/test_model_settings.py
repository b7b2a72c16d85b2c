"""Per-session model settings, validated against the catalogue, with encrypted user keys."""

from __future__ import annotations

import pytest

from sessions_app.catalogue import apply_safeguards, default_model
from sessions_app.crypto import secret_decrypt
from sessions_app.models import AnalysisSession

pytestmark = pytest.mark.django_db


def settings_of(client, session_id) -> dict:
    return client.get("/api/model-settings", HTTP_X_SESSION_ID=session_id).json()


def post_settings(client, session_id, **body):
    return client.post("/settings/model", body, format="json", HTTP_X_SESSION_ID=session_id)


def test_default_is_offline_without_server_keys(client, session_id):
    assert settings_of(client, session_id) == {
        "provider": "offline",
        "model": "offline-analyst",
        "hasCustomKey": False,
        "temperature": 1.0,
        "maxTokens": 6000,
    }


def test_configured_default_model_is_used_when_its_key_exists(settings):
    settings.MODEL_PROVIDER, settings.MODEL_NAME = "openai", "gpt-5-mini"
    assert default_model().model == "offline-analyst"  # no key yet
    settings.PROVIDER_API_KEYS = {**settings.PROVIDER_API_KEYS, "openai": "sk-server"}
    assert (default_model().provider, default_model().model) == ("openai", "gpt-5-mini")


def test_user_key_is_encrypted_and_never_returned(client, session_id):
    response = post_settings(
        client, session_id, provider="anthropic", model="claude-sonnet-4-6", api_key="sk-ant-secret", temperature=0.3
    )
    assert response.json() == {"message": "Model settings updated successfully"}
    body = settings_of(client, session_id)
    assert body == {
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "hasCustomKey": True,
        "temperature": 0.3,
        "maxTokens": 6000,
    }
    stored = AnalysisSession.objects.get(pk=session_id).api_key_encrypted
    assert "sk-ant-secret" not in stored
    assert secret_decrypt(stored) == "sk-ant-secret"


def test_settings_are_per_session(client, session_id):
    other = client.post("/generate-session").json()["session_id"]
    post_settings(client, session_id, provider="groq", model="gpt-oss-20B", api_key="gsk", temperature=0.5)
    assert settings_of(client, other)["provider"] == "offline"


def test_server_key_allows_a_provider_without_a_user_key(client, session_id, settings):
    settings.PROVIDER_API_KEYS = {**settings.PROVIDER_API_KEYS, "openai": "sk-server"}
    assert post_settings(client, session_id, provider="openai", model="gpt-5").status_code == 200
    body = settings_of(client, session_id)
    assert (body["hasCustomKey"], body["temperature"]) == (False, 1.0)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"provider": "openai", "model": "gpt-99", "api_key": "k"}, "unknown_model"),
        ({"provider": "acme", "model": "x", "api_key": "k"}, "unknown_provider"),
        ({"provider": "openai", "model": "gpt-5"}, "missing_api_key"),
        ({"provider": "offline", "model": "offline-analyst", "max_tokens": 0}, "invalid"),
    ],
)
def test_invalid_settings_are_400_and_change_nothing(client, session_id, body, code):
    response = post_settings(client, session_id, **body)
    assert response.status_code == 400
    assert response.json()["code"] == code
    assert settings_of(client, session_id)["provider"] == "offline"


def test_unknown_model_message_lists_the_providers_models(client, session_id):
    response = post_settings(client, session_id, provider="gemini", model="nope", api_key="k")
    assert response.json()["detail"] == (
        "Unknown model 'nope' for provider 'gemini'. "
        "Models: gemini-2.5-pro-preview-03-25, gemini-3-pro, gemini-3-flash."
    )


@pytest.mark.parametrize(
    ("provider", "model", "temperature", "max_tokens", "expected"),
    [
        ("openai", "o3", 0.2, 200_000, (1.0, 100_000)),
        ("openai", "gpt-5-mini", 0.2, 50_000, (1.0, 16_000)),
        ("anthropic", "claude-sonnet-4-6", 3.0, 100_000, (1.0, 64_000)),
        ("anthropic", "claude-haiku-4-5", -1.0, 100_000, (0.0, 8_192)),
        ("groq", "gpt-oss-20B", 0.5, 100_000, (0.5, 32_768)),
        ("gemini", "gemini-2.5-pro-preview-03-25", 0.5, 100_000, (0.5, 65_535)),
        ("gemini", "gemini-3-flash", 0.5, 100_000, (0.5, 8_192)),
    ],
)
def test_safeguards(provider, model, temperature, max_tokens, expected):
    assert apply_safeguards(provider=provider, model=model, temperature=temperature, max_tokens=max_tokens) == expected


def test_catalogue_lists_models_with_prices_and_availability(client):
    body = client.get("/api/model-catalogue").json()
    assert body["default"]["model"] == "offline-analyst"
    sonnet = next(m for m in body["models"] if m["model"] == "claude-sonnet-4-6")
    assert sonnet == {
        "provider": "anthropic",
        "model": "claude-sonnet-4-6",
        "display_name": "Claude Sonnet 4.6",
        "context_window": 200_000,
        "input_per_1k": 0.003,
        "output_per_1k": 0.015,
        "tier": 3,
        "litellm_id": "anthropic/claude-sonnet-4-6",
        "tier_name": "Premium",
        "credits": 5,
        "available": False,
    }
