"""A Temporary Login visit (localStorage isAdmin="true"; no credentials reach the server),
replayed call by call (frontend-calls.md §5, §7, §9, §10): history, an @agent question,
reopen and delete, the templates sidebar, model settings."""

from __future__ import annotations

import pytest

from chats.models import Chat, Message
from templates.models import UserTemplatePreference
from tests.frontend.conftest import FRONTEND_ICONS, Browser, mint_session_id

pytestmark = pytest.mark.django_db(transaction=True)

CORE_PLANNER = {
    "planner_preprocessing_agent",
    "planner_statistical_analytics_agent",
    "planner_sk_learn_agent",
    "planner_data_viz_agent",
}


@pytest.fixture
def admin(db) -> Browser:
    browser = Browser()
    assert browser.api_client("get", "/agents").status_code == 200  # mints and initializes
    return browser


def test_history_agent_question_reopen_and_delete(admin):
    listed = admin.api_client("get", "/chats/?is_admin=true")
    assert (listed.status_code, listed.json()) == (200, [])

    # §5: a new conversation gets a server id with its first message.
    created = admin.api_client("post", "/chats/", body={"user_id": None, "is_admin": True})
    assert created.status_code == 200
    chat_id = created.json()["chat_id"]
    typed = "@statistical_analytics_agent What is the mean life expectancy?"
    posted = admin.api_client(
        "post", f"/chats/{chat_id}/messages?is_admin=true", body={"content": typed, "sender": "user"}
    )
    assert posted.status_code == 200

    # §5.2: /chat/{agent}, not streamed; response.ok is checked, then `response` read.
    answer = admin.send(
        "post",
        f"/chat/statistical_analytics_agent?chat_id={chat_id}&is_admin=true",
        body={"query": "What is the mean life expectancy?"},
        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
    )
    assert answer.status_code == 200, answer.content
    text = answer.json()["response"]
    assert isinstance(text, str) and "```python" in text
    assert answer.json()["session_id"] == admin.session_id
    saved = admin.api_client(
        "post",
        f"/chats/{chat_id}/messages?is_admin=true",
        body={"content": text.strip(), "sender": "ai", "agent": "statistical_analytics_agent"},
    )
    message_id = saved.json()["message_id"]
    info = admin.api_client("post", "/set-message-info", body={"message_id": message_id, "chat_id": chat_id})
    assert info.status_code == 200

    named = admin.api_client("post", "/chat_history_name", body={"query": "What is the mean life expectancy?"})
    title = named.json()["name"]
    assert isinstance(title, str) and title
    renamed = admin.api_client("put", f"/chats/{chat_id}", body={"title": title})
    assert renamed.json()["title"] == title

    # §7.1 and §7.3: the list, then reopening the chat: the question is there once.
    listed = admin.api_client("get", "/chats/?is_admin=true").json()
    assert [(c["chat_id"], c["title"], c["user_id"]) for c in listed] == [(chat_id, title, None)]
    assert isinstance(listed[0]["created_at"], str)
    assert admin.api_client("get", "/api/session-info").json()["is_custom_dataset"] is False
    reopened = admin.api_client("get", f"/chats/{chat_id}").json()
    messages = [(m["sender"], m["content"]) for m in reopened["messages"]]
    assert [sender for sender, _ in messages] == ["user", "ai"]
    assert messages[0][1] == typed
    assert all({"message_id", "chat_id", "content", "sender", "timestamp"} <= set(m) for m in reopened["messages"])
    latest = admin.send("post", "/code/get-latest-code", body={"message_id": message_id}).json()
    assert latest["found"] is True

    # §7.5 New Chat, then §7.4 delete.
    assert admin.api_client("post", "/chats/cleanup-empty", body={"user_id": None, "is_admin": True}).status_code == 200
    deleted = admin.api_client("delete", f"/chats/{chat_id}")
    assert deleted.status_code == 200
    assert admin.api_client("get", "/chats/?is_admin=true").json() == []
    assert not Chat.objects.filter(pk=chat_id).exists()


def test_another_session_sees_none_of_it(admin):
    chat_id = admin.api_client("post", "/chats/", body={"user_id": None, "is_admin": True}).json()["chat_id"]
    other = Browser()
    other.adopt(mint_session_id())
    assert other.api_client("get", "/chats/?is_admin=true").json() == []
    for method in ("get", "delete"):
        response = other.api_client(method, f"/chats/{chat_id}")
        assert (response.status_code, response.json()["code"]) == (404, "chat_not_found")
    assert Chat.objects.filter(pk=chat_id).exists()


def test_templates_sidebar_opens_without_an_error(admin):
    """§10: both GETs go out with no session and no credentials, for user 1."""
    templates = admin.send("get", "/templates/?variant_type=planner", session=False)
    preferences = admin.send("get", "/templates/user/1?variant_type=planner", session=False)
    assert (templates.status_code, preferences.status_code) == (200, 200)
    listed = templates.json()
    assert len(listed) == 6
    for item in listed:
        assert isinstance(item["description"], str) and isinstance(item["template_category"], str)
        assert item["icon_url"].removeprefix("/icons/templates/") in FRONTEND_ICONS
    # Every template needs a preference entry, or the dialog shows it disabled.
    by_id = {item["template_id"]: item for item in preferences.json()}
    assert set(by_id) == {item["template_id"] for item in listed}
    assert {item["template_name"] for item in by_id.values() if item["is_enabled"]} == CORE_PLANNER
    assert all(isinstance(item["is_enabled"], bool) for item in by_id.values())


def test_templates_with_a_session_are_that_sessions(admin):
    """A client that sends its session id gets preferences of its own (paid-plan Save Changes)."""
    ids = {
        item["template_name"]: item["template_id"]
        for item in admin.send("get", "/templates/?variant_type=planner", session=False).json()
    }
    body = {
        "preferences": [
            {"template_id": ids["planner_sk_learn_agent"], "is_enabled": False},
            {"template_id": ids["planner_polars_agent"], "is_enabled": True},
        ]
    }
    saved = admin.send("post", "/templates/user/1/bulk-toggle", body=body)
    assert saved.status_code == 200
    results = [(r["template_id"], r["success"]) for r in saved.json()["results"]]
    # Premium templates are never enabled for an anonymous caller.
    assert results == [(ids["planner_sk_learn_agent"], True), (ids["planner_polars_agent"], False)]
    mine = admin.send("get", "/templates/user/1?variant_type=planner").json()
    assert {item["template_name"] for item in mine if item["is_enabled"]} == CORE_PLANNER - {"planner_sk_learn_agent"}
    anyone = admin.send("get", "/templates/user/1?variant_type=planner", session=False).json()
    assert {item["template_name"] for item in anyone if item["is_enabled"]} == CORE_PLANNER
    assert list(UserTemplatePreference.objects.values_list("session_id", "user_id")) == [(admin.session_id, None)]


def test_model_settings_save_and_read_back(admin):
    """§9: the popup's Save, then the read the UI makes after it."""
    saved = admin.send(
        "post",
        "/settings/model",
        body={"provider": "openai", "model": "gpt-5-mini", "api_key": "sk-test-0000", "temperature": 0.5,
              "max_tokens": 3000},
    )  # fmt: skip
    assert saved.status_code == 200, saved.content
    read = admin.send("get", "/api/model-settings").json()
    # gpt-5 models only take temperature 1 (the server's safeguard).
    assert (read["provider"], read["model"], read["temperature"], read["maxTokens"]) == (
        "openai",
        "gpt-5-mini",
        1.0,
        3000,
    )
    # The key itself never comes back.
    assert "sk-test-0000" not in str(read)


def test_agent_question_is_stored_once_when_the_server_writes_first(admin):
    """The other order: /chat/{agent} stores its copy, then the frontend posts its own."""
    chat_id = admin.api_client("post", "/chats/", body={"user_id": None, "is_admin": True}).json()["chat_id"]
    answer = admin.send(
        "post",
        f"/chat/data_viz_agent?chat_id={chat_id}&is_admin=true",
        body={"query": "plot life expectancy by continent"},
        headers={"Cache-Control": "no-cache", "Access-Control-Allow-Origin": "*"},
    )
    assert answer.status_code == 200
    admin.api_client(
        "post",
        f"/chats/{chat_id}/messages?is_admin=true",
        body={"content": "@data_viz_agent plot life expectancy by continent", "sender": "user"},
    )
    questions = Message.objects.filter(chat_id=chat_id, sender="user").values_list("content", flat=True)
    assert list(questions) == ["plot life expectancy by continent"]
