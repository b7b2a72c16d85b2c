"""The real HTTP path of a provider, against a local OpenAI-compatible server.

DSPy's own client talks to ``tests/sessions_app/fake_openai.py`` over HTTP; the usage it
reports (120 prompt + 30 completion tokens a call) must land in the usage rows, and the
server's failures must become clear errors naming the provider.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from analytics.models import ModelUsage
from chats.models import Chat
from sessions_app.catalogue import model_lookup, usage_cost
from sessions_app.models import AnalysisSession
from tests.conftest import read_stream
from tests.sessions_app import fake_openai

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def fake_server(settings):
    server, base_url = fake_openai.start()
    settings.OPENAI_COMPATIBLE_BASE_URL = base_url
    yield base_url
    server.shutdown()


def use_model(client, session_id, model="fake-model", api_key=""):
    body = {"provider": "openai_compatible", "model": model, "api_key": api_key}
    response = client.post("/settings/model", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200, response.json()


def ask_agent(client, session_id, agent="statistical_analytics_agent", query="How many rows are there?"):
    return client.post(f"/chat/{agent}", {"query": query}, format="json", HTTP_X_SESSION_ID=session_id)


def test_agent_answer_through_the_provider_records_reported_usage(client, session_id, fake_server):
    use_model(client, session_id, api_key="sk-good")
    response = ask_agent(client, session_id)
    assert response.status_code == 200, response.json()
    body = response.json()
    assert "### Output\n```output\n1704\nKey findings:\n- Rows: 1704\n```" in body["response"]
    assert "### Summary\nThe dataset has the rows printed above." in body["response"]
    # The agent's call, the summary of its real output, then the chat's title after its
    # first exchange: three calls, each 120 + 30 tokens.
    rows = list(ModelUsage.objects.order_by("id"))
    assert [(r.purpose, r.agent_name) for r in rows] == [
        ("agent", "statistical_analytics_agent"),
        ("summary", "statistical_analytics_agent"),
        ("title", ""),
    ]
    assert Chat.objects.get(pk=body["chat_id"]).title == "Gapminder Rows Count"
    for row in rows:
        assert (row.provider, row.model_name) == ("openai_compatible", "fake-model")
        assert (row.prompt_tokens, row.completion_tokens, row.total_tokens) == (120, 30, 150)
        assert row.tokens_estimated is False
        assert row.cost == Decimal("0")  # self-hosted: no per-token price
        assert row.is_streaming is False
        assert row.session_id == session_id
    assert rows[0].message_id == rows[1].message_id == Chat.objects.get().messages.get(sender="ai").pk
    requests = fake_openai.FakeOpenAI.requests
    assert [r["path"] for r in requests] == ["/v1/chat/completions"] * 3
    assert {r["auth"] for r in requests} == {"Bearer sk-good"}
    assert {r["body"]["model"] for r in requests} == {"fake-model"}


def test_a_rejected_key_is_a_401_naming_the_provider(client, session_id, fake_server):
    use_model(client, session_id, api_key="bad")
    response = ask_agent(client, session_id)
    assert response.status_code == 401
    assert response.json() == {
        "detail": "The openai_compatible API rejected the API key. Check the key in the model settings.",
        "code": "provider_auth_failed",
    }
    assert ModelUsage.objects.count() == 0


def test_rate_limit_is_a_429(client, session_id, fake_server):
    use_model(client, session_id, api_key="rate")
    response = ask_agent(client, session_id)
    assert response.status_code == 429
    assert response.json()["code"] == "provider_rate_limited"


def test_unknown_model_is_a_400(client, session_id, fake_server):
    use_model(client, session_id, model="missing-model", api_key="sk-good")
    response = ask_agent(client, session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "unknown_model"


def test_slow_provider_is_a_504(client, session_id, fake_server, settings):
    settings.LM_TIMEOUT_SECONDS = 1.0
    use_model(client, session_id, model="slow-model", api_key="sk-good")
    response = ask_agent(client, session_id)
    assert response.status_code == 504
    assert response.json()["code"] in ("provider_timeout", "timeout")


def test_stream_reports_a_provider_failure_in_band(client, session_id, fake_server):
    use_model(client, session_id, api_key="bad")
    response = client.post("/chat", {"query": "How many rows?"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200
    events = read_stream(response)
    assert events[0] == {
        "agent": "Analytical Planner",
        "content": "**Error in Analytical Planner**: The openai_compatible API rejected the API key. "
        "Check the key in the model settings.",
        "status": "error",
        "code": "provider_auth_failed",
    }
    assert events[-1]["agent"] == "__done__"
    assert events[-1]["failed_agents"] == ["Analytical Planner"]


def test_self_hosted_provider_needs_its_base_url(client, session_id, settings):
    settings.OPENAI_COMPATIBLE_BASE_URL = ""
    body = {"provider": "openai_compatible", "model": "fake-model"}
    response = client.post("/settings/model", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json() == {
        "detail": "The openai_compatible provider is not configured: set OPENAI_COMPATIBLE_BASE_URL on the server.",
        "code": "provider_not_configured",
    }
    assert AnalysisSession.objects.get(pk=session_id).model_provider == "offline"


def test_cost_comes_from_the_catalogue_prices():
    entry = model_lookup(provider="openai", model="gpt-5-mini")  # $0.00025 in, $0.002 out per 1K
    assert usage_cost(entry=entry, prompt_tokens=1000, completion_tokens=2000) == Decimal("0.0042500")
    entry = model_lookup(provider="anthropic", model="claude-sonnet-4-6")  # $0.003 / $0.015
    assert usage_cost(entry=entry, prompt_tokens=1234, completion_tokens=567) == Decimal("0.0122070")
