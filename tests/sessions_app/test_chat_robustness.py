"""Failure paths of the agents: odd data, failing parts, hostile plans, foreign chats."""

from __future__ import annotations

import threading

import pytest

from chats.models import Chat
from codeexec.client import SandboxUnavailableError
from sessions_app.agents import services as agent_services
from sessions_app.agents.lm import ProviderError
from sessions_app.agents.offline.engine import parse_inputs
from sessions_app.models import AnalysisSession, Dataset
from tests.conftest import csv_file, read_stream

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_column_with_infinity_does_not_break_answers(client, session_id):
    upload = client.post(
        "/upload_dataframe", {"file": csv_file("year,w\n1999,a\ninf,b\n"), "name": "odd"}, HTTP_X_SESSION_ID=session_id
    )
    assert upload.status_code == 200
    response = client.post(
        "/chat/statistical_analytics_agent", {"query": "Describe the data"}, format="json", HTTP_X_SESSION_ID=session_id
    )
    assert response.status_code == 200, response.json()
    preview = client.post(
        "/generate-description-from-preview", {"headers": ["v"], "rows": [[1], ["inf"]]}, format="json"
    )
    assert preview.status_code == 200


def test_only_the_callers_own_chat_can_be_bound(client, session_id):
    other_session = client.post("/generate-session").json()["session_id"]
    foreign = Chat.objects.create(session_id=other_session)
    for chat_id in (foreign.pk, 999_999):
        response = client.post("/set-message-info", {"chat_id": chat_id}, format="json", HTTP_X_SESSION_ID=session_id)
        assert response.status_code == 404
    assert AnalysisSession.objects.get(pk=session_id).current_chat_id is None
    own = Chat.objects.create(session_id=session_id)
    response = client.post("/set-message-info", {"chat_id": own.pk}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.json()["chat_id"] == own.pk


def test_an_unknown_agent_creates_no_chat(client, session_id):
    response = client.post("/chat/no_such_agent", {"query": "x"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert Chat.objects.count() == 0


def test_a_failing_part_still_ends_the_stream_properly(client, session_id, monkeypatch):
    def down(**kwargs):
        raise SandboxUnavailableError("The code sandbox is not running.")

    monkeypatch.setattr(agent_services, "sandbox_run", down)
    response = client.post(
        "/chat", {"query": "What is the distribution of lifeExp?"}, format="json", HTTP_X_SESSION_ID=session_id
    )
    events = read_stream(response)
    first = "planner_statistical_analytics_agent"  # the plan's first step; the answer stops there
    assert [e["agent"] for e in events] == ["Analytical Planner", first, "__done__"]
    assert events[1] == {
        "agent": first,
        "content": f"**Error in {first}**: The code sandbox is not running.",
        "status": "error",
        "code": "sandbox_unavailable",
    }
    done = events[-1]
    assert done["failed_agents"] == [first]
    assert done["totals"]["lm_calls"] == 3  # allocator, planner, the agent's code
    chat = Chat.objects.get(pk=done["chat_id"])
    ai = chat.messages.get(sender="ai")
    assert ai.pk == done["message_id"]
    assert f"**Error in {first}**" in ai.content


def test_a_provider_failure_names_the_agent_that_hit_it(client, session_id, monkeypatch):
    original = agent_services.AnswerRun.run_code_agent

    def second_fails(self, spec, **kwargs):
        if self.answers:
            raise ProviderError(
                "The openai API is rate limiting requests.", code="provider_rate_limited", status_code=429
            )
        return original(self, spec, **kwargs)

    monkeypatch.setattr(agent_services.AnswerRun, "run_code_agent", second_fails)
    events = read_stream(
        client.post(
            "/chat",
            {"query": "How does life expectancy relate to GDP per capita?"},
            format="json",
            HTTP_X_SESSION_ID=session_id,
        )
    )
    assert [(e["agent"], e["status"]) for e in events] == [
        ("Analytical Planner", "success"),
        ("planner_statistical_analytics_agent", "success"),
        ("planner_data_viz_agent", "error"),
        ("__done__", "done"),
    ]
    assert events[-1]["failed_agents"] == ["planner_data_viz_agent"]


def test_a_cancelled_answer_stores_nothing(client, session_id):
    session = AnalysisSession.objects.get(pk=session_id)
    chat = Chat.objects.create(session_id=session_id)
    specs = agent_services.agents_resolve(user=None, names=["data_viz_agent"])
    cancelled = threading.Event()
    cancelled.set()
    content = agent_services.agents_answer(
        session=session, user=None, chat=chat, query="q", specs=specs, cancelled=cancelled
    )
    assert content == ""
    assert list(chat.messages.values_list("sender", flat=True)) == ["user"]


@pytest.mark.parametrize(
    ("value", "names"),
    [(["a", "b"], ["a", "b"]), ("fig", ["fig"]), (7, []), (None, []), ({"x": 1}, []), (["a", {"b": 1}, 2], ["a", "2"])],
)
def test_plan_lists_written_by_a_model_are_read_safely(value, names):
    assert agent_services._names(value) == names


def test_engine_reads_an_empty_last_input():
    text = (
        "[[ ## dataset ## ]]\nD\n\n[[ ## goal ## ]]\nG\n\n[[ ## plan_instructions ## ]]\n\n"
        "Respond with the corresponding output fields, starting with the field `[[ ## code ## ]]`."
    )
    assert parse_inputs(text) == {"dataset": "D", "goal": "G", "plan_instructions": ""}


@pytest.mark.parametrize(
    "body",
    [
        {"headers": [f"c{i}" for i in range(1001)], "rows": [[1]]},
        {"headers": ["a"], "rows": [[[1, 2]]]},
        {"headers": ["a"], "rows": [[{"x": 1}]]},
        {"headers": ["a"], "rows": [[1]] * 101},
    ],
)
def test_description_preview_bounds(client, body):
    response = client.post("/generate-description-from-preview", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_excel_upload_survives_a_failing_description(client, session_id, monkeypatch):
    import io

    import openpyxl

    workbook = openpyxl.Workbook()
    workbook.active.append(["region", "sales"])
    workbook.active.append(["north", 10])
    buffer = io.BytesIO()
    workbook.save(buffer)
    buffer.seek(0)
    buffer.name = "sales.xlsx"

    def failing(**kwargs):
        raise ProviderError("The openai API is rate limiting requests.", code="provider_rate_limited", status_code=429)

    monkeypatch.setattr("sessions_app.apis.dataset_description_generate", failing)
    response = client.post("/upload_excel", {"file": buffer}, HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200, response.json()
    dataset = Dataset.objects.get(session_id=session_id, source="excel")
    assert dataset.description.startswith("Table `")
