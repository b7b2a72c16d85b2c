"""A guest's visit, replayed call by call (frontend-calls.md §2-§6, §8): first load,
default preview, CSV upload, a question with a chart, the code canvas, feedback stars."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from chats.models import Chat, Message
from sessions_app.models import AnalysisSession, Dataset
from tests.frontend.conftest import Browser, mint_session_id, temporary_chat_id

pytestmark = pytest.mark.django_db(transaction=True)

HOUSING = Path(__file__).parent.parent / "data" / "Housing.csv"
QUESTION = "What is the average price by furnishing status? Show a bar chart."


def first_load(browser: Browser) -> tuple[str, str]:
    """§3: two concurrent GET /agents without an id, two minted ids, two initializations
    (the second with the first id in its header), then the racing reads."""
    first = browser.send("get", "/agents")
    second = browser.send("get", "/agents")
    for response in (first, second):
        assert response.status_code == 400
        assert response.json()["detail"] == "Session ID required"
    id_one, id_two = mint_session_id(), mint_session_id()
    # Storing the id fires effects at once: a session route may come before initializing.
    browser.session_id = id_one
    early = browser.send("get", "/api/model-settings")
    assert early.status_code == 200
    browser.adopt(id_one)
    # The store keeps the first id and re-stamps the header: body and header disagree.
    late_init = browser.send(
        "post",
        "/initialize-session",
        body={"session_id": id_two, "user_id": 0, "user_email": "", "user_name": "Anonymous"},
    )
    assert late_init.status_code == 200
    agents = browser.api_client("get", "/agents")
    assert agents.status_code == 200
    assert agents.json()["available_agents"][:4] == [
        "preprocessing_agent",
        "statistical_analytics_agent",
        "sk_learn_agent",
        "data_viz_agent",
    ]
    settings = browser.send("get", "/api/model-settings").json()
    assert (settings["provider"], settings["model"]) == ("offline", "offline-analyst")
    assert isinstance(settings["temperature"], float) and isinstance(settings["maxTokens"], int)
    info = browser.api_client("get", "/api/session-info").json()
    assert info["is_custom_dataset"] is False
    assert info["session_id"] == id_one
    return id_one, id_two


def test_first_load_creates_both_minted_sessions_anonymous(browser):
    id_one, id_two = first_load(browser)
    sessions = AnalysisSession.objects.filter(pk__in=[id_one, id_two]).order_by("pk")
    assert [(s.pk, s.user_id, s.user_name) for s in sessions] == sorted(
        [(id_one, None, "Anonymous"), (id_two, None, "Anonymous")]
    )
    assert [d.name for d in Dataset.objects.filter(session_id=id_one)] == ["df"]


def test_default_preview_then_housing_upload(browser):
    session_id, _ = first_load(browser)
    preview = browser.send("get", "/api/default-dataset")
    assert preview.status_code == 200
    body = preview.json()
    assert body["headers"][:3] == ["country", "continent", "year"]
    assert len(body["rows"]) == 10 and all(len(row) == len(body["headers"]) for row in body["rows"])
    assert isinstance(body["name"], str) and isinstance(body["description"], str)
    assert body.get("session_id", session_id) == session_id

    upload_housing(browser)
    info = browser.send("get", "/api/session-info").json()
    assert info["is_custom_dataset"] is True
    assert info["session_id"] == session_id
    dataset = Dataset.objects.get(session_id=session_id, source="csv")
    assert (dataset.file.n_rows, dataset.file.n_cols) == (545, 13)
    assert "Written from a preview of the first 10 rows; the dataset has 545 rows" in dataset.description


def upload_housing(browser: Browser) -> None:
    """§4, CSV in order: reset, preview (multipart), describe the preview, upload."""
    session_id = browser.session_id
    reset = browser.send("post", "/reset-session", body={})
    assert (reset.status_code, reset.json()["session_id"]) == (200, session_id)
    with HOUSING.open("rb") as handle:
        preview = browser.send("post", "/preview-csv-upload", multipart={"file": handle, "name": "Housing"})
    assert preview.status_code == 200
    headers, rows = preview.json()["headers"], preview.json()["rows"]
    assert headers == next(csv.reader(HOUSING.open()))
    assert len(rows) == 10
    assert preview.json().get("session_id", session_id) == session_id
    described = browser.send(
        "post",
        "/generate-description-from-preview",
        body={"headers": headers, "rows": rows, "name": "Housing", "existingDescription": "CSV data from Housing.csv"},
    )
    assert described.status_code == 200
    description = described.json()["description"]
    assert "Described from a preview sample of the first 10 rows, not the whole file" in description
    with HOUSING.open("rb") as handle:
        uploaded = browser.send(
            "post",
            "/upload_dataframe",
            multipart={
                "file": handle,
                "name": "Housing",
                "description": description,
                "fill_nulls": "true",
                "convert_types": "true",
                "columns": headers,
            },
        )
    assert uploaded.status_code == 200, uploaded.content
    assert uploaded.json()["session_id"] == session_id


def test_question_chart_canvas_and_stars(browser):
    session_id, _ = first_load(browser)
    upload_housing(browser)
    chat_id = temporary_chat_id()
    events = browser.chat_stream(QUESTION, chat_id=chat_id)
    assert all("error" not in event for event in events)
    message_ids = [event["message_id"] for event in events if event.get("message_id")]
    assert len(message_ids) == 1 and events[-1]["message_id"] == message_ids[0]
    message_id = message_ids[0]
    figures = [part.split("\n```")[0] for event in events for part in event["content"].split("```plotly\n")[1:]]
    assert len(figures) == 1, "\n".join(e["content"][-1500:] for e in events)
    figure = json.loads(figures[0])
    assert figure["data"][0]["type"] == "bar"
    assert sorted(figure["data"][0]["x"]) == ["furnished", "semi-furnished", "unfurnished"]
    chat = Chat.objects.get(pk=events[-1]["chat_id"])
    assert (chat.user_id, chat.session_id, chat.client_chat_id) == (None, session_id, chat_id)

    # §6: the canvas fetches the code of the answer, auto-runs it, and cleans it.
    assert browser.send("post", "/set-message-info", body={"message_id": message_id}).status_code == 200
    latest = browser.send("post", "/code/get-latest-code", body={"message_id": message_id}).json()
    assert latest["found"] is True and "furnishingstatus" in latest["latest_code"]
    run = browser.send(
        "post",
        "/code/execute",
        body={"code": latest["latest_code"].strip(), "session_id": session_id, "message_id": message_id},
    ).json()
    assert not run.get("error")
    assert isinstance(run["output"], str)
    assert len(run["plotly_outputs"]) == 1 and run["plotly_outputs"][0].startswith("```plotly\n")
    cleaned = browser.send("post", "/code/clean-code", body={"code": latest["latest_code"], "session_id": session_id})
    assert cleaned.status_code == 200 and isinstance(cleaned.json()["cleaned_code"], str)

    # §8: the stars carry no session and no credentials at all.
    stars = Browser()  # the same browser (address and user agent), a bare axios call
    unrated = stars.send("get", f"/feedback/message/{message_id}", session=False)
    assert unrated.status_code == 404
    rated = stars.send(
        "post",
        f"/feedback/message/{message_id}",
        session=False,
        body={"message_id": message_id, "rating": 5, "model_name": "claude-opus-4-5-20251101",
              "model_provider": "anthropic", "temperature": 0.7, "max_tokens": 6000},
    )  # fmt: skip
    assert rated.status_code == 200
    shown = stars.send("get", f"/feedback/message/{message_id}", session=False)
    assert (shown.status_code, shown.json()["rating"]) == (200, 5)
    # Another browser's stars never reach it.
    other = Browser(address="203.0.113.50")
    assert other.send("get", f"/feedback/message/{message_id}", session=False).status_code == 404


def test_a_guests_follow_up_stays_in_its_chat(browser):
    first_load(browser)
    chat_id = temporary_chat_id()
    first = browser.chat_stream("How many rows are there?", chat_id=chat_id)
    second = browser.chat_stream("And how many columns?", chat_id=chat_id)
    assert first[-1]["chat_id"] == second[-1]["chat_id"]
    chat = Chat.objects.get(pk=first[-1]["chat_id"])
    questions = list(chat.messages.filter(sender=Message.Sender.USER).values_list("content", flat=True))
    assert questions == ["How many rows are there?", "And how many columns?"]
    # A new temporary id (a reload) starts a new chat.
    third = browser.chat_stream("Mean life expectancy?", chat_id=chat_id + 1)
    assert third[-1]["chat_id"] != chat.pk


def test_someone_elses_real_chat_id_stays_a_404(browser):
    first_load(browser)
    stranger = Browser(address="203.0.113.51")
    first_load(stranger)
    events = stranger.chat_stream("How many rows are there?", chat_id=None)
    taken = events[-1]["chat_id"]
    response = browser.send(
        "post",
        f"/chat?chat_id={taken}",
        body={"query": "Mean?"},
        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
    )
    assert response.status_code == 404
    assert response.json()["code"] == "chat_not_found"
    assert Chat.objects.get(pk=taken).messages.count() == 2
