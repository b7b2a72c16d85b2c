"""The agents use exactly the caller's templates; answers land in the chat once; uploads
are answered end to end (offline engine, real sandbox)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from rest_framework.test import APIClient

from chats.models import Chat
from templates.models import AgentTemplate, UserTemplatePreference
from tests.conftest import read_stream

pytestmark = pytest.mark.django_db(transaction=True)
DATA = Path(__file__).resolve().parent.parent / "data"
PROMPT = "You chart customer behaviour with Plotly, one clear figure per question, titled in words."


@pytest.fixture
def ada(make_user):
    user, key = make_user("ada")
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key)
    session_id = api.post("/generate-session").json()["session_id"]
    api.credentials(HTTP_X_API_KEY=key, HTTP_X_SESSION_ID=session_id)
    return user, api, session_id


def chat(api, query, **params):
    suffix = "".join(f"&{key}={value}" for key, value in params.items())
    response = api.post(f"/chat?x=1{suffix}", {"query": query}, format="json")
    assert response.status_code == 200, response.content
    return read_stream(response)


def test_planner_uses_only_the_callers_enabled_templates(ada):
    user, api, _ = ada
    viz = AgentTemplate.objects.get(name="planner_data_viz_agent")
    response = api.post(f"/templates/user/{user.pk}/template/{viz.pk}/toggle", {"is_enabled": False}, format="json")
    assert response.status_code == 200
    events = chat(api, "How does life expectancy relate to GDP per capita?")
    agents = [event["agent"] for event in events]
    assert "planner_data_viz_agent" not in agents
    assert agents[0] == "Analytical Planner" and agents[-1] == "__done__"
    assert "planner_statistical_analytics_agent" in agents


def test_custom_template_runs_as_an_agent_by_its_category(ada):
    user, api, _ = ada
    created = api.post(
        "/templates/custom",
        {
            "template_name": "behaviour_chart_agent",
            "display_name": "Behaviour charts",
            "description": "Charts of behaviour",
            "prompt_template": PROMPT,
            "template_category": "Data Visualization",
        },
        format="json",
    )
    assert created.status_code == 201, created.json()
    response = api.post("/chat/behaviour_chart_agent", {"query": "Show the distribution of lifeExp"}, format="json")
    assert response.status_code == 200, response.json()
    text = response.json()["response"]
    assert text.startswith("\n## Behaviour Chart Agent\n")
    figure = json.loads(text.split("```plotly\n")[1].split("\n```")[0])
    assert figure["data"][0]["type"] == "histogram"
    preference = UserTemplatePreference.objects.get(user=user, template__name="behaviour_chart_agent")
    assert (preference.is_enabled, preference.usage_count) == (True, 1)
    assert preference.last_used_at is not None
    listing = api.get("/agents").json()
    assert listing["custom_agents"] == ["behaviour_chart_agent"]
    assert "behaviour_chart_agent" in listing["available_agents"]


def test_using_a_built_in_template_counts_without_disabling_it(ada, settings):
    user, api, _ = ada
    user.is_premium = True
    user.save(update_fields=["is_premium"])
    response = api.post("/chat/feature_engineering_agent", {"query": "Summarise the dataset"}, format="json")
    assert response.status_code == 200, response.json()
    preference = UserTemplatePreference.objects.get(user=user, template__name="feature_engineering_agent")
    assert preference.usage_count == 1
    # Not enabled by default and not silently changed by use (reference §9.2 item 12 wrote a
    # disabled row for default-enabled agents; here the row keeps the default state).
    assert preference.is_enabled is False


def test_premium_template_is_refused_to_others(ada):
    _, api, _ = ada
    response = api.post("/chat/polars_agent", {"query": "Summarise the dataset"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "premium_required"


def test_client_copies_of_a_streamed_exchange_are_not_duplicated(ada):
    _, api, _ = ada
    events = chat(api, "What is the average life expectancy by continent?")
    chat_id = events[-1]["chat_id"]
    user_copy = api.post(
        f"/chats/{chat_id}/messages",
        {"content": "What is the average life expectancy by continent?", "sender": "user"},
        format="json",
    )
    ai_copy = api.post(
        f"/chats/{chat_id}/messages",
        {"content": "<!-- AGENT: x -->\n" + events[1]["content"], "sender": "ai"},
        format="json",
    )
    assert user_copy.status_code == ai_copy.status_code == 200
    assert ai_copy.json()["message_id"] == events[-1]["message_id"]
    messages = list(Chat.objects.get(pk=chat_id).messages.values_list("sender", "origin"))
    assert messages == [("user", "server"), ("ai", "server")]


def test_upload_then_chat_answers_with_executed_numbers(ada):
    _, api, _ = ada
    with open(DATA / "Housing.csv", "rb") as handle:
        response = api.post("/upload_dataframe", {"file": handle, "name": "housing"})
    assert response.status_code == 200, response.json()
    events = chat(api, "What is the average price by furnishingstatus?")
    assert events[-1]["failed_agents"] == []
    content = "\n".join(event["content"] for event in events)
    expected = pd.read_csv(DATA / "Housing.csv").groupby("furnishingstatus")["price"].mean()
    for value in expected:
        assert f"{value:,.2f}" in content
