"""Chats and messages: reference shapes, ownership, paging, cleanup, duplicate suppression, auto-title."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import ModelUsage
from chats import services
from chats.models import DEFAULT_CHAT_TITLE, Chat, Message, MessageFeedback, User
from chats.selectors import chat_history
from chats.services import chat_create, chat_message_append
from chats.signals import chat_title_wanted
from tests.chats.conftest import api, iso

pytestmark = pytest.mark.django_db


def new_anonymous() -> tuple[str, APIClient]:
    session_id = APIClient().post("/generate-session").json()["session_id"]
    return session_id, api(HTTP_X_SESSION_ID=session_id)


def not_found(chat_id: int) -> dict:
    return {"detail": f"Chat with ID {chat_id} not found or access denied", "code": "chat_not_found"}


# --- create, read, update, delete ------------------------------------------------------------


def test_authenticated_caller_creates_a_chat_they_own(ada):
    user, client = ada
    response = client.post("/chats/", {}, format="json")
    assert response.status_code == 200
    chat = Chat.objects.get()
    assert response.json() == {
        "chat_id": chat.pk,
        "title": "New Chat",
        "created_at": iso(chat.created_at),
        "user_id": user.pk,
    }
    assert (chat.user, chat.session_id) == (user, "")


def test_authenticated_caller_records_the_session_sent(ada):
    user, client = ada
    session_id = client.post("/generate-session").json()["session_id"]
    body = client.post("/chats/", {}, format="json", HTTP_X_SESSION_ID=session_id).json()
    chat = Chat.objects.get(pk=body["chat_id"])
    assert (chat.user, chat.session_id) == (user, session_id)


def test_anonymous_chat_belongs_to_the_session(client, db):
    session_id, anonymous = new_anonymous()
    body = anonymous.post("/chats/", {}, format="json").json()
    assert body["user_id"] is None
    chat = Chat.objects.get(pk=body["chat_id"])
    assert (chat.user, chat.session_id) == (None, session_id)
    # The query parameter works as on every other route.
    response = client.get(f"/chats/{chat.pk}?session_id={session_id}")
    assert response.status_code == 200


def test_anonymous_caller_without_a_session_is_400(client, db):
    for response in (client.post("/chats/", {}, format="json"), client.get("/chats/")):
        assert response.status_code == 400
        assert response.json() == {"detail": "Session ID required", "code": "session_required"}


def test_unknown_or_someone_elses_session_is_404(client, ada):
    _, ada_client = ada
    owned = ada_client.post("/generate-session").json()["session_id"]
    for session_id in ("made-up-id", owned):
        response = client.post("/chats/", {}, format="json", HTTP_X_SESSION_ID=session_id)
        assert response.status_code == 404
        assert response.json()["code"] == "session_not_found"
    assert Chat.objects.count() == 0


def test_chats_without_trailing_slash_is_served_without_redirect(ada):
    _, client = ada
    created = client.post("/chats", {}, format="json")
    assert created.status_code == 200
    listed = client.get("/chats")
    assert listed.status_code == 200
    assert [c["chat_id"] for c in listed.json()] == [created.json()["chat_id"]]


def test_chat_detail_has_messages_oldest_first(ada):
    user, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    question = client.post(f"/chats/{chat_id}/messages", {"content": "How many rows?", "sender": "user"}, format="json")
    answer = client.post(f"/chats/{chat_id}/messages", {"content": "1704 rows.", "sender": "ai"}, format="json")
    assert question.status_code == answer.status_code == 200
    first, second = Message.objects.order_by("id")
    assert question.json() == {
        "message_id": first.pk,
        "chat_id": chat_id,
        "content": "How many rows?",
        "sender": "user",
        "timestamp": iso(first.timestamp),
    }
    chat = Chat.objects.get(pk=chat_id)
    assert client.get(f"/chats/{chat_id}").json() == {
        "chat_id": chat_id,
        "title": "New Chat",
        "created_at": iso(chat.created_at),
        "user_id": user.pk,
        "messages": [
            {
                "message_id": first.pk,
                "chat_id": chat_id,
                "content": "How many rows?",
                "sender": "user",
                "timestamp": iso(first.timestamp),
            },
            {
                "message_id": second.pk,
                "chat_id": chat_id,
                "content": "1704 rows.",
                "sender": "ai",
                "timestamp": iso(second.timestamp),
            },
        ],
    }
    assert (first.origin, second.origin) == (Message.Origin.CLIENT, Message.Origin.CLIENT)


def test_list_is_newest_first_and_paged(ada):
    user, client = ada
    now = timezone.now()
    chats = [Chat.objects.create(user=user, title=f"c{i}", created_at=now - timedelta(hours=3 - i)) for i in range(3)]
    assert [c["title"] for c in client.get("/chats/").json()] == ["c2", "c1", "c0"]
    page = client.get("/chats/?limit=2").json()
    assert page == [
        {"chat_id": chats[2].pk, "title": "c2", "created_at": iso(chats[2].created_at), "user_id": user.pk},
        {"chat_id": chats[1].pk, "title": "c1", "created_at": iso(chats[1].created_at), "user_id": user.pk},
    ]
    assert [c["title"] for c in client.get("/chats/?limit=2&offset=2").json()] == ["c0"]
    assert client.get("/chats/?offset=3").json() == []


def test_list_defaults_to_ten(ada):
    user, client = ada
    Chat.objects.bulk_create([Chat(user=user) for _ in range(12)])
    assert len(client.get("/chats/").json()) == 10
    assert len(client.get("/chats/?limit=100").json()) == 12


@pytest.mark.parametrize("query", ["limit=0", "limit=101", "limit=ten", "offset=-1", "offset=x"])
def test_bad_paging_is_400(ada, query):
    _, client = ada
    response = client.get(f"/chats/?{query}")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_list_never_shows_other_callers_chats(ada, grace):
    _, ada_client = ada
    _, grace_client = grace
    _, anonymous_a = new_anonymous()
    _, anonymous_b = new_anonymous()
    mine = ada_client.post("/chats/", {}, format="json").json()["chat_id"]
    theirs = grace_client.post("/chats/", {}, format="json").json()["chat_id"]
    in_a = anonymous_a.post("/chats/", {}, format="json").json()["chat_id"]
    in_b = anonymous_b.post("/chats/", {}, format="json").json()["chat_id"]
    assert [c["chat_id"] for c in ada_client.get("/chats/").json()] == [mine]
    assert [c["chat_id"] for c in grace_client.get("/chats/").json()] == [theirs]
    assert [c["chat_id"] for c in anonymous_a.get("/chats/").json()] == [in_a]
    assert [c["chat_id"] for c in anonymous_b.get("/chats/").json()] == [in_b]
    # A user's own session does not widen their view to the session's anonymous chats.
    session_id = ada_client.post("/generate-session").json()["session_id"]
    assert [c["chat_id"] for c in ada_client.get("/chats/", HTTP_X_SESSION_ID=session_id).json()] == [mine]


def _attempts(client: APIClient, chat_id: int) -> list:
    return [
        client.get(f"/chats/{chat_id}"),
        client.put(f"/chats/{chat_id}", {"title": "mine now"}, format="json"),
        client.post(f"/chats/{chat_id}/messages", {"content": "hello", "sender": "user"}, format="json"),
        client.delete(f"/chats/{chat_id}"),
    ]


def _assert_untouched(chat_id: int) -> None:
    chat = Chat.objects.get(pk=chat_id)
    assert chat.title == DEFAULT_CHAT_TITLE
    assert chat.messages.count() == 0


def test_another_users_chat_is_404(ada, grace):
    _, ada_client = ada
    _, grace_client = grace
    chat_id = ada_client.post("/chats/", {}, format="json").json()["chat_id"]
    for response in _attempts(grace_client, chat_id):
        assert response.status_code == 404
        assert response.json() == not_found(chat_id)
    _assert_untouched(chat_id)


def test_another_sessions_anonymous_chat_is_404(db):
    _, anonymous_a = new_anonymous()
    _, anonymous_b = new_anonymous()
    chat_id = anonymous_a.post("/chats/", {}, format="json").json()["chat_id"]
    for response in _attempts(anonymous_b, chat_id):
        assert response.status_code == 404
        assert response.json() == not_found(chat_id)
    _assert_untouched(chat_id)


def test_a_users_chat_is_404_for_anonymous_callers_even_with_its_session_id(ada):
    _, ada_client = ada
    chat_id = ada_client.post("/chats/", {}, format="json").json()["chat_id"]
    # Even if the session id recorded on a user's chat is an anonymous session, the
    # chat stays the user's alone.
    session_id, anonymous = new_anonymous()
    Chat.objects.filter(pk=chat_id).update(session_id=session_id)
    for response in _attempts(anonymous, chat_id):
        assert response.status_code == 404
        assert response.json() == not_found(chat_id)
    _assert_untouched(chat_id)


def test_an_anonymous_chat_is_404_for_a_user(ada):
    _, ada_client = ada
    _, anonymous = new_anonymous()
    chat_id = anonymous.post("/chats/", {}, format="json").json()["chat_id"]
    for response in _attempts(ada_client, chat_id):
        assert response.status_code == 404
        assert response.json() == not_found(chat_id)
    _assert_untouched(chat_id)


@pytest.mark.parametrize("path", ["/chats/abc", "/chats/-1", "/chats/1.5", "/chats/99999999999999999999999"])
def test_bad_or_huge_ids_are_404(ada, path):
    _, client = ada
    for response in (client.get(path), client.put(path, {}, format="json"), client.delete(path)):
        assert response.status_code == 404
        assert response.json()["code"] in ("not_found", "chat_not_found")


def test_user_id_naming_someone_else_is_403(ada, grace):
    ada_user, ada_client = ada
    grace_user, _ = grace
    chat_id = ada_client.post("/chats/", {}, format="json").json()["chat_id"]
    mismatches = [
        ada_client.get(f"/chats/?user_id={grace_user.pk}"),
        ada_client.post("/chats/", {"user_id": grace_user.pk}, format="json"),
        ada_client.get(f"/chats/{chat_id}?user_id={grace_user.pk}"),
        ada_client.put(f"/chats/{chat_id}", {"title": "t", "user_id": grace_user.pk}, format="json"),
        ada_client.delete(f"/chats/{chat_id}?user_id={grace_user.pk}"),
        ada_client.post("/chats/cleanup-empty", {"user_id": grace_user.pk}, format="json"),
    ]
    for response in mismatches:
        assert response.status_code == 403
        assert response.json()["code"] == "user_mismatch"
    assert Chat.objects.get(pk=chat_id).user == ada_user
    # Naming yourself is fine.
    assert ada_client.get(f"/chats/?user_id={ada_user.pk}").status_code == 200
    assert ada_client.post("/chats/", {"user_id": ada_user.pk}, format="json").json()["user_id"] == ada_user.pk


def test_anonymous_user_id_is_403(db):
    _, anonymous = new_anonymous()
    response = anonymous.post("/chats/", {"user_id": 1}, format="json")
    assert response.status_code == 403
    assert Chat.objects.count() == 0


def test_rename_cuts_the_title_and_ignores_blank(ada):
    user, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    response = client.put(f"/chats/{chat_id}", {"title": "x" * 300}, format="json")
    chat = Chat.objects.get(pk=chat_id)
    assert response.json() == {
        "chat_id": chat_id,
        "title": "x" * 255,
        "created_at": iso(chat.created_at),
        "user_id": user.pk,
    }
    for body in ({"title": "   "}, {"title": None}, {}):
        assert client.put(f"/chats/{chat_id}", body, format="json").json()["title"] == "x" * 255


def test_delete_keeps_model_usage_with_no_chat(ada):
    user, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    message_id = client.post(f"/chats/{chat_id}/messages", {"content": "q", "sender": "user"}, format="json").json()[
        "message_id"
    ]
    client.post(f"/feedback/message/{message_id}", {"rating": 4}, format="json")
    usage = ModelUsage.objects.create(
        purpose="agent",
        model_name="offline-analyst",
        provider="offline",
        user=user,
        chat_id=chat_id,
        message_id=message_id,
        total_tokens=42,
    )
    response = client.delete(f"/chats/{chat_id}")
    assert response.status_code == 200
    assert response.json() == {"message": f"Chat {chat_id} deleted successfully", "preserved_model_usage": True}
    usage.refresh_from_db()
    assert (usage.chat_id, usage.message_id, usage.user_id, usage.total_tokens) == (None, None, user.pk, 42)
    assert not Chat.objects.filter(pk=chat_id).exists()
    assert Message.objects.count() == MessageFeedback.objects.count() == 0
    assert client.get(f"/chats/{chat_id}").status_code == 404


# --- messages ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"content": "hi"},
        {"sender": "user"},
        {"content": "hi", "sender": "assistant"},
        {"content": "  ", "sender": "user"},
    ],
)
def test_bad_message_bodies_are_400(ada, body):
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    response = client.post(f"/chats/{chat_id}/messages", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert Message.objects.count() == 0


def test_malformed_json_is_400(ada):
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    for path in (f"/chats/{chat_id}/messages", "/chats/", f"/chats/{chat_id}"):
        method = client.put if path == f"/chats/{chat_id}" else client.post
        response = method(path, '{"content": "hi', content_type="application/json")
        assert response.status_code == 400
        assert response.json()["code"] == "parse_error"


def post_message(client: APIClient, chat_id: int, sender: str, content: str):
    return client.post(f"/chats/{chat_id}/messages", {"content": content, "sender": sender}, format="json")


def test_a_repeated_post_is_stored_once(ada):
    """Rule (a): same sender and same stripped content as the latest message."""
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    first = post_message(client, chat_id, "user", "Plot life expectancy")
    again = post_message(client, chat_id, "user", "  Plot life expectancy\n")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert Message.objects.count() == 1
    # Asking the same thing again after an answer is a new message.
    post_message(client, chat_id, "ai", "Here it is.")
    post_message(client, chat_id, "user", "Plot life expectancy")
    assert list(Message.objects.values_list("sender", flat=True)) == ["user", "ai", "user"]
    # A different message is a new one.
    post_message(client, chat_id, "user", "Now by continent")
    assert Message.objects.count() == 4


def test_client_copy_of_a_server_answer_returns_the_server_message(ada):
    """Rule (b): the frontend posts its own rendering of an answer the server stored."""
    user, client = ada
    chat = chat_create(user=user, session_id=None)
    chat_message_append(chat=chat, sender="user", content="Mean GDP?", origin=Message.Origin.SERVER)
    answer = chat_message_append(
        chat=chat, sender="ai", content="**Mean**: 7215", origin=Message.Origin.SERVER, agent_name="planner"
    )
    response = post_message(client, chat.pk, "ai", "<!-- AGENT: planner -->\nMean: 7215")
    assert response.status_code == 200
    assert response.json() == {
        "message_id": answer.pk,
        "chat_id": chat.pk,
        "content": "**Mean**: 7215",
        "sender": "ai",
        "timestamp": iso(answer.timestamp),
    }
    assert chat.messages.count() == 2
    # Two client answers in a row are not suppressed by rule (b): only a server answer is.
    chat_message_append(chat=chat, sender="user", content="Median?")
    post_message(client, chat.pk, "ai", "first")
    post_message(client, chat.pk, "ai", "second")
    assert list(chat.messages.values_list("content", flat=True)) == [
        "Mean GDP?",
        "**Mean**: 7215",
        "Median?",
        "first",
        "second",
    ]


def test_server_copy_of_a_client_question_returns_the_client_message(ada):
    """Rule (c): the frontend posted the question before the server stored its copy."""
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    posted = post_message(client, chat_id, "user", "Which continent is richest?").json()
    chat = Chat.objects.get(pk=chat_id)
    stored = chat_message_append(
        chat=chat, sender="user", content="Which continent is richest? ", origin=Message.Origin.SERVER
    )
    assert stored.pk == posted["message_id"]
    assert stored.origin == Message.Origin.CLIENT
    # A different question from the server is stored.
    other = chat_message_append(chat=chat, sender="user", content="Something else", origin=Message.Origin.SERVER)
    assert other.pk != stored.pk
    assert chat.messages.count() == 2


def test_an_agent_question_is_stored_once_whoever_writes_first(ada):
    """The frontend stores ``@data_viz_agent ...`` and /chat/data_viz_agent the question without the mention."""
    _, client = ada
    server = Message.Origin.SERVER
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    posted = post_message(client, chat_id, "user", "@data_viz_agent  plot  price by area").json()
    chat = Chat.objects.get(pk=chat_id)
    stored = chat_message_append(chat=chat, sender="user", content="plot  price by area", origin=server)
    assert stored.pk == posted["message_id"]
    # The other order: the server's copy first, then the client's (mention kept).
    answer = chat_message_append(chat=chat, sender="ai", content="chart", origin=server)
    question = chat_message_append(chat=chat, sender="user", content="mean price", origin=server)
    again = post_message(client, chat_id, "user", "@statistical_analytics_agent mean price").json()
    assert again["message_id"] == question.pk
    # A mention alone is not the same as an empty question.
    assert chat_message_append(chat=chat, sender="user", content="@data_viz_agent").pk != question.pk
    assert list(chat.messages.values_list("content", flat=True)) == [
        "@data_viz_agent  plot  price by area",
        answer.content,
        "mean price",
        "@data_viz_agent",
    ]


def test_full_exchange_with_both_writers_stores_each_message_once(ada):
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]
    chat = Chat.objects.get(pk=chat_id)
    for question in ("Rows?", "Columns?"):
        post_message(client, chat_id, "user", question)  # the frontend, before asking
        chat_message_append(chat=chat, sender="user", content=question, origin=Message.Origin.SERVER)
        chat_message_append(chat=chat, sender="ai", content=f"answer to {question}", origin=Message.Origin.SERVER)
        post_message(client, chat_id, "ai", f"rendered answer to {question}")  # the frontend, after the stream
    assert list(chat.messages.values_list("sender", "content", "origin")) == [
        ("user", "Rows?", "client"),
        ("ai", "answer to Rows?", "server"),
        ("user", "Columns?", "client"),
        ("ai", "answer to Columns?", "server"),
    ]


@pytest.mark.django_db(transaction=True)
def test_concurrent_copies_of_a_message_are_stored_once(make_user, monkeypatch):
    if connection.vendor == "sqlite":
        # The SQLite test database is in memory with a shared cache, where a second
        # writer fails at once instead of waiting. The PostgreSQL run (test_scaleout)
        # exercises this.
        pytest.skip("needs a database that lets concurrent writers wait (PostgreSQL)")
    user, _ = make_user("ada")
    chat = chat_create(user=user, session_id=None)
    original = services._duplicate_of

    def slow_duplicate_of(*args, **kwargs):
        # Widens the window between reading the latest message and inserting: without
        # the chat lock every thread would find no duplicate and insert its own copy.
        found = original(*args, **kwargs)
        time.sleep(0.2)
        return found

    monkeypatch.setattr(services, "_duplicate_of", slow_duplicate_of)
    barrier = threading.Barrier(4)
    results: list[int] = []
    errors: list[BaseException] = []

    def post() -> None:
        try:
            barrier.wait()
            results.append(chat_message_append(chat=chat, sender="user", content="same question").pk)
        except BaseException as error:  # reported by the assertion below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=post) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert chat.messages.count() == 1
    assert len(set(results)) == 1


def test_chat_history_is_the_last_messages_oldest_first(ada):
    user, _ = ada
    chat = chat_create(user=user, session_id=None)
    for i in range(5):
        chat_message_append(chat=chat, sender="user" if i % 2 == 0 else "ai", content=f"m{i}")
    assert [m.content for m in chat_history(chat=chat, limit=3)] == ["m2", "m3", "m4"]
    assert [m.content for m in chat_history(chat=chat)] == ["m0", "m1", "m2", "m3", "m4"]
    assert chat_history(chat=chat, limit=0) == []


# --- auto-title ------------------------------------------------------------------------------


@pytest.fixture
def title_requests():
    calls: list[dict] = []

    def receiver(sender, **kwargs):
        calls.append(kwargs)

    chat_title_wanted.connect(receiver)
    yield calls
    chat_title_wanted.disconnect(receiver)


def test_first_answer_asks_for_a_title_once_after_commit(ada, title_requests, django_capture_on_commit_callbacks):
    user, client = ada
    chat = chat_create(user=user, session_id=None)
    with django_capture_on_commit_callbacks(execute=True):
        chat_message_append(chat=chat, sender="user", content="Life expectancy by continent")
        chat_message_append(chat=chat, sender="ai", content="Here is the chart.", origin=Message.Origin.SERVER)
        assert title_requests == []  # not before the answer is committed
    assert title_requests == [
        {"signal": chat_title_wanted, "chat_id": chat.pk, "query": "Life expectancy by continent"}
    ]
    with django_capture_on_commit_callbacks(execute=True):
        post_message(client, chat.pk, "ai", "client copy")  # suppressed (rule b): no second request
        post_message(client, chat.pk, "user", "And GDP?")
        post_message(client, chat.pk, "ai", "Second answer.")
    assert len(title_requests) == 1


def test_no_title_request_for_a_renamed_chat_or_one_without_a_question(
    ada, title_requests, django_capture_on_commit_callbacks
):
    user, client = ada
    renamed = chat_create(user=user, session_id=None)
    client.put(f"/chats/{renamed.pk}", {"title": "My analysis"}, format="json")
    answer_first = chat_create(user=user, session_id=None)
    with django_capture_on_commit_callbacks(execute=True):
        post_message(client, renamed.pk, "user", "q")
        post_message(client, renamed.pk, "ai", "a")
        post_message(client, answer_first.pk, "ai", "Hello, ask me anything.")
        post_message(client, answer_first.pk, "user", "q")
        post_message(client, answer_first.pk, "ai", "a")
    assert title_requests == []


def test_a_failing_title_receiver_does_not_fail_the_post(ada, django_capture_on_commit_callbacks, caplog):
    _, client = ada
    chat_id = client.post("/chats/", {}, format="json").json()["chat_id"]

    def broken(sender, **kwargs):
        raise RuntimeError("LM unavailable")

    chat_title_wanted.connect(broken)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            post_message(client, chat_id, "user", "q")
            response = post_message(client, chat_id, "ai", "a")
    finally:
        chat_title_wanted.disconnect(broken)
    assert response.status_code == 200
    assert Message.objects.filter(chat_id=chat_id).count() == 2
    assert any("chat_title_wanted receiver" in record.getMessage() for record in caplog.records)


# --- users ---------------------------------------------------------------------------------


def test_staff_get_or_create_users_by_email(make_user):
    staff, key = make_user("root")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    client = api(HTTP_X_API_KEY=key)
    response = client.post("/chats/users", {"username": "linus", "email": "linus@example.com"}, format="json")
    assert response.status_code == 200
    linus = User.objects.get(username="linus")
    assert response.json() == {
        "user_id": linus.pk,
        "username": "linus",
        "email": "linus@example.com",
        "created_at": iso(linus.date_joined),
    }
    again = client.post("/chats/users", {"username": "other-name", "email": "LINUS@example.com"}, format="json")
    assert again.json() == response.json()
    assert User.objects.count() == 2
    bad = client.post("/chats/users", {"username": "has space", "email": "x@example.com"}, format="json")
    assert bad.status_code == 400
    assert bad.json()["detail"].startswith("username: ")
    taken = client.post("/chats/users", {"username": "linus", "email": "new@example.com"}, format="json")
    assert taken.status_code == 400
    assert taken.json()["code"] == "username_taken"
    assert User.objects.count() == 2


def test_non_staff_users_get_only_their_own_record(ada):
    user, client = ada
    own = client.post("/chats/users", {"username": "ignored", "email": "ADA@example.com"}, format="json")
    assert own.status_code == 200
    assert own.json() == {
        "user_id": user.pk,
        "username": "ada",
        "email": "ada@example.com",
        "created_at": iso(user.date_joined),
    }
    other = client.post("/chats/users", {"username": "eve", "email": "eve@example.com"}, format="json")
    assert other.status_code == 403
    assert other.json()["code"] == "permission_denied"
    assert not User.objects.filter(email="eve@example.com").exists()


def test_users_route_needs_a_key_and_a_valid_body(client, ada):
    response = client.post("/chats/users", {"username": "eve", "email": "eve@example.com"}, format="json")
    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    _, ada_client = ada
    for body in ({}, {"username": "ada"}, {"username": "ada", "email": "not-an-email"}):
        assert ada_client.post("/chats/users", body, format="json").status_code == 400


# --- cleanup -------------------------------------------------------------------------------


@pytest.fixture
def populated(ada, grace):
    """An empty and a non-empty chat for ada, grace and an anonymous session."""
    ada_user, _ = ada
    grace_user, _ = grace
    session_id, anonymous = new_anonymous()
    chats = {}
    for owner, user, session in (("ada", ada_user, None), ("grace", grace_user, None), ("anon", None, session_id)):
        chats[f"{owner}-empty"] = chat_create(user=user, session_id=session)
        kept = chat_create(user=user, session_id=session)
        chat_message_append(chat=kept, sender="user", content="q")
        chats[f"{owner}-used"] = kept
    return chats, anonymous


def remaining(chats: dict) -> set[str]:
    ids = set(Chat.objects.values_list("pk", flat=True))
    return {name for name, chat in chats.items() if chat.pk in ids}


def test_cleanup_deletes_only_the_callers_empty_chats(ada, populated):
    chats, _ = populated
    _, client = ada
    # is_admin in the body is ignored: a non-staff caller cannot clean up others.
    response = client.post("/chats/cleanup-empty", {"is_admin": True}, format="json")
    assert response.status_code == 200
    assert response.json() == {"message": "Deleted 1 empty chats"}
    assert remaining(chats) == {"ada-used", "grace-empty", "grace-used", "anon-empty", "anon-used"}
    assert client.post("/chats/cleanup-empty", {}, format="json").json() == {"message": "Deleted 0 empty chats"}


def test_anonymous_cleanup_is_scoped_to_the_session(populated):
    chats, anonymous = populated
    assert anonymous.post("/chats/cleanup-empty", {}, format="json").json() == {"message": "Deleted 1 empty chats"}
    assert remaining(chats) == {"ada-used", "ada-empty", "grace-empty", "grace-used", "anon-used"}


def test_staff_cleanup_without_user_id_deletes_every_empty_chat(make_user, populated):
    chats, _ = populated
    staff, key = make_user("root")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    own_empty = chat_create(user=staff, session_id=None)
    client = api(HTTP_X_API_KEY=key)
    assert client.post("/chats/cleanup-empty", {}, format="json").json() == {"message": "Deleted 4 empty chats"}
    assert remaining(chats) == {"ada-used", "grace-used", "anon-used"}
    assert not Chat.objects.filter(pk=own_empty.pk).exists()


def test_staff_cleanup_naming_themselves_deletes_only_their_own(make_user, populated):
    chats, _ = populated
    staff, key = make_user("root")
    User.objects.filter(pk=staff.pk).update(is_staff=True)
    chat_create(user=staff, session_id=None)
    client = api(HTTP_X_API_KEY=key)
    response = client.post("/chats/cleanup-empty", {"user_id": staff.pk}, format="json")
    assert response.json() == {"message": "Deleted 1 empty chats"}
    assert remaining(chats) == set(chats)


def test_a_late_client_copy_of_a_server_stored_question_is_not_duplicated(db):
    from chats.models import Chat, Message
    from chats.services import chat_message_append

    chat = Chat.objects.create(session_id="s")
    server = Message.Origin.SERVER
    question = chat_message_append(chat=chat, sender="user", content="mean price?", origin=server)
    answer = chat_message_append(chat=chat, sender="ai", content="## Answer\n42", origin=server)
    assert chat_message_append(chat=chat, sender="user", content=" mean price? ") == question
    assert chat_message_append(chat=chat, sender="ai", content="<!-- AGENT: a -->\n42") == answer
    # Asked again once the client has posted something of its own: a new message.
    chat_message_append(chat=chat, sender="user", content="and the median?")
    again = chat_message_append(chat=chat, sender="user", content="mean price?")
    assert again != question
    assert list(chat.messages.values_list("content", flat=True)) == [
        "mean price?",
        "## Answer\n42",
        "and the median?",
        "mean price?",
    ]
