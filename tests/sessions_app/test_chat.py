"""``/chat`` (streamed), ``/chat/{agent}``, ``/agents``, ``/chat_history_name``, ``/code/edit``
and ``/code/fix`` end to end with the offline engine and the real sandbox."""

from __future__ import annotations

import json

import dspy
import pandas as pd
import pytest

from analytics.models import ModelUsage
from chats.models import Chat, Message
from codeexec.models import CodeExecution
from sessions_app import default_dataset
from sessions_app.agents import lm as agents_lm
from sessions_app.models import AnalysisSession
from tests.conftest import read_stream

pytestmark = pytest.mark.django_db(transaction=True)


def gapminder() -> pd.DataFrame:
    return default_dataset.load_table().to_pandas()


def stream(client, session_id, query, **params):
    suffix = "".join(f"&{key}={value}" for key, value in params.items())
    response = client.post(f"/chat?x=1{suffix}", {"query": query}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    return read_stream(response)


def test_chat_streams_planner_then_agents_then_totals(client, session_id):
    events = stream(client, session_id, "How does life expectancy relate to GDP per capita?")
    agents = [event["agent"] for event in events]
    assert agents == [
        "Analytical Planner",
        "planner_statistical_analytics_agent",
        "planner_data_viz_agent",
        "__done__",
    ]
    planner, stats, viz, done = events
    assert planner["status"] == "success"
    assert "●● intermediate</div>" in planner["content"]
    assert "#### Planner Statistical Analytics Agent" in planner["content"]
    data = gapminder()
    r = data["lifeExp"].corr(data["gdpPercap"])
    assert stats["status"] == "success"
    assert "### Code Implementation\n```python\n" in stats["content"]
    assert f"{r:.2f}" in stats["content"].split("### Summary")[1]
    assert viz["status"] == "success"
    figures = [part for part in viz["content"].split("```plotly\n")[1:]]
    assert len(figures) == 1
    figure = json.loads(figures[0].split("\n```")[0])
    assert figure["data"][0]["type"] in ("scatter", "scattergl")
    assert done["status"] == "done"
    assert done["failed_agents"] == []
    totals = done["totals"]
    # allocator, planner, then per agent: its code and the summary of its output; after the
    # stream, the chat's title from its first exchange (not part of the answer's totals)
    usage = list(ModelUsage.objects.order_by("id"))
    assert [u.purpose for u in usage] == ["allocator", "planner", "agent", "summary", "agent", "summary", "title"]
    title = usage.pop()
    assert title.message_id is None
    assert totals["lm_calls"] == 6
    assert totals["prompt_tokens"] == sum(u.prompt_tokens for u in usage)
    assert totals["completion_tokens"] == sum(u.completion_tokens for u in usage)
    assert totals["cost"] == 0.0
    assert all(u.tokens_estimated and u.is_streaming and u.provider == "offline" for u in usage)
    chat = Chat.objects.get(pk=done["chat_id"])
    messages = list(chat.messages.all())
    assert [(m.sender, m.origin) for m in messages] == [("user", "server"), ("ai", "server")]
    assert messages[0].content == "How does life expectancy relate to GDP per capita?"
    assert messages[1].pk == done["message_id"]
    assert messages[1].agent_name == "planner_statistical_analytics_agent,planner_data_viz_agent"
    assert {u.message_id for u in usage} == {messages[1].pk}
    executions = list(CodeExecution.objects.order_by("id"))
    assert [(e.agent_name, e.is_successful, e.message_id) for e in executions] == [
        ("planner_statistical_analytics_agent", True, messages[1].pk),
        ("planner_data_viz_agent", True, messages[1].pk),
    ]
    assert AnalysisSession.objects.get(pk=session_id).current_chat_id == chat.pk
    assert chat.title != "New Chat" and 1 <= len(chat.title.split()) <= 3


def test_follow_up_works_on_the_previous_question(client, session_id):
    first = stream(client, session_id, "What is the average life expectancy by continent?")
    chat_id = first[-1]["chat_id"]
    follow = stream(client, session_id, "now only for 2007", chat_id=chat_id)
    data = gapminder()
    expected = data[data["year"] == 2007].groupby("continent")["lifeExp"].mean()
    content = "\n".join(event["content"] for event in follow)
    for value in expected.round(2):
        assert f"{value:.2f}" in content
    # both exchanges are in the one chat, in order
    chat = Chat.objects.get(pk=chat_id)
    assert [m.sender for m in chat.messages.all()] == ["user", "ai", "user", "ai"]


def test_unrelated_question_gets_an_honest_answer(client, session_id):
    events = stream(client, session_id, "Write me a poem about the sea")
    assert events[0]["agent"] == "Analytical Planner"
    assert "**Non-Data Request**" in events[0]["content"]
    assert events[1]["agent"] == "basic_qa_agent"
    assert "### Answer" in events[1]["content"]
    assert events[-1]["agent"] == "__done__"


def test_single_agent_route(client, session_id):
    response = client.post(
        "/chat/data_viz_agent",
        {"query": "Show the distribution of lifeExp"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["agent_name"], body["query"], body["session_id"]) == (
        "data_viz_agent",
        "Show the distribution of lifeExp",
        session_id,
    )
    assert body["response"].startswith("\n## Data Viz Agent\n")
    assert "```plotly\n" in body["response"]
    figure = json.loads(body["response"].split("```plotly\n")[1].split("\n```")[0])
    assert figure["data"][0]["type"] == "histogram"
    assert figure["data"][0]["x"] is not None or figure["data"][0].get("xbins") is not None


def test_several_agents_share_variables(client, session_id):
    response = client.post(
        "/chat/statistical_analytics_agent,data_viz_agent",
        {"query": "Compare gdpPercap across continents"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    text = response.json()["response"]
    assert "## Statistical Analytics Agent" in text and "## Data Viz Agent" in text
    assert response.json()["agent_name"] == "statistical_analytics_agent,data_viz_agent"


def test_unknown_agent_is_a_400(client, session_id):
    response = client.post("/chat/astrology_agent", {"query": "x"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["detail"] == (
        "Agent 'astrology_agent' not found. Available agents: ['preprocessing_agent', "
        "'statistical_analytics_agent', 'sk_learn_agent', 'data_viz_agent', 'basic_qa_agent']"
    )


@pytest.mark.parametrize("body", [{}, {"query": ""}, {"query": "   "}, {"q": "x"}])
def test_chat_needs_a_query(client, session_id, body):
    response = client.post("/chat", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_chat_in_someone_elses_chat_is_a_404(client, make_user, session_id):
    _, key = make_user("grace")
    from rest_framework.test import APIClient

    other = APIClient()
    other.credentials(HTTP_X_API_KEY=key)
    chat_id = other.post("/chats/", {}, format="json").json()["chat_id"]
    response = client.post(f"/chat?chat_id={chat_id}", {"query": "hi"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 404
    assert Message.objects.count() == 0


def test_agents_listing(client, session_id):
    response = client.get("/agents", HTTP_X_SESSION_ID=session_id)
    assert response.json() == {
        "available_agents": [
            "preprocessing_agent",
            "statistical_analytics_agent",
            "sk_learn_agent",
            "data_viz_agent",
            "basic_qa_agent",
        ],
        "standard_agents": ["preprocessing_agent", "statistical_analytics_agent", "sk_learn_agent", "data_viz_agent"],
        "template_agents": [],
        "custom_agents": [],
    }


def test_chat_history_name(client, session_id):
    response = client.post(
        "/chat_history_name",
        {"query": "average life expectancy by continent"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    name = response.json()["name"]
    assert 1 <= len(name.split()) <= 3
    assert ModelUsage.objects.get().purpose == "title"


def test_code_fix_repairs_a_misspelt_column_in_the_sandbox(client, session_id):
    response = client.post(
        "/code/fix",
        {"code": "print(df['lifexp'].mean())", "error": "KeyError: 'lifexp'"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    assert response.json() == {"fixed_code": "print(df['lifeExp'].mean())", "fixed": True, "attempts": 1}


def test_code_edit(client, session_id):
    code = "fig = px.histogram(df, x='lifeExp')\nfig.show()"
    response = client.post(
        "/code/edit",
        {"original_code": code, "user_prompt": "add the title Life expectancy"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    edited = response.json()["edited_code"]
    assert edited.startswith("\n") and edited.endswith("\n")
    assert "Life expectancy" in edited


def test_failing_agent_code_is_repaired_before_the_answer(client, session_id, monkeypatch):
    """An agent writes code with a wrong column; code_fix repairs it; both attempts recorded."""
    scripted = dspy.utils.DummyLM(
        {
            "[[ ## faulty_code ## ]]": {"fixed_code": "print(round(df['lifeExp'].mean(), 2))"},
            "[[ ## agent_response ## ]]": {"summary": "Mean life expectancy is 59.47."},
            "[[ ## plan_instructions ## ]]": {"code": "print(df['life_exp'].mean())", "summary": "mean"},
        }
    )
    monkeypatch.setattr(
        "sessions_app.agents.services.session_model",
        lambda session: agents_lm.SessionModel(lm=scripted, provider="offline", model="dummy", entry=None),
    )
    response = client.post(
        "/chat/statistical_analytics_agent",
        {"query": "mean life expectancy"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    text = response.json()["response"]
    assert "print(round(df['lifeExp'].mean(), 2))" in text
    assert "### Output\n```output\n59.47\n```" in text
    assert "_The code failed and repaired automatically (1 attempt(s))._" in text
    execution = CodeExecution.objects.get()
    assert execution.initial_code == "print(df['life_exp'].mean())"
    assert execution.latest_code == "print(round(df['lifeExp'].mean(), 2))"
    assert execution.is_successful is True
    assert len(execution.fix_attempts) == 1
    assert execution.fix_attempts[0]["code"] == "print(df['life_exp'].mean())"
    assert "KeyError" in execution.fix_attempts[0]["error"]
    assert [u.purpose for u in ModelUsage.objects.order_by("id")] == ["agent", "code_fix", "summary"]
    assert all(u.tokens_estimated for u in ModelUsage.objects.all())  # DummyLM reports no usage


def test_saved_datasets_reach_later_questions(client, session_id):
    events = stream(client, session_id, "Clean the data: handle missing values and duplicates")
    assert events[-1]["failed_agents"] == []
    names = [d["name"] for d in client.get("/api/datasets", HTTP_X_SESSION_ID=session_id).json()["datasets"]]
    assert names[0] == "df" and any(name.endswith("_clean") for name in names)
