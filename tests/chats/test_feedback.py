"""Message feedback: upsert semantics, rating validation, model settings from the session, ownership."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from chats.models import Chat, Message, MessageFeedback
from chats.services import chat_create, chat_message_append
from sessions_app.models import AnalysisSession
from tests.chats.conftest import api, iso

pytestmark = pytest.mark.django_db


@pytest.fixture
def answer(ada) -> Message:
    user, _ = ada
    chat = chat_create(user=user, session_id=None)
    chat_message_append(chat=chat, sender="user", content="Mean life expectancy?")
    return chat_message_append(chat=chat, sender="ai", content="59.5 years.")


def feedback_body(feedback: MessageFeedback) -> dict:
    return {
        "feedback_id": feedback.pk,
        "message_id": feedback.message_id,
        "rating": feedback.rating,
        "model_name": feedback.model_name,
        "model_provider": feedback.model_provider,
        "temperature": feedback.temperature,
        "max_tokens": feedback.max_tokens,
        "created_at": iso(feedback.created_at),
        "updated_at": iso(feedback.updated_at),
    }


def test_rating_a_message_returns_the_reference_shape(ada, answer):
    _, client = ada
    response = client.post(
        f"/feedback/message/{answer.pk}",
        {
            "message_id": answer.pk,
            "rating": 5,
            "model_name": "gpt-5-mini",
            "model_provider": "openai",
            "temperature": 0.7,
            "max_tokens": 6000,
        },
        format="json",
    )
    assert response.status_code == 200
    feedback = MessageFeedback.objects.get()
    assert response.json() == {
        "feedback_id": feedback.pk,
        "message_id": answer.pk,
        "rating": 5,
        "model_name": "gpt-5-mini",
        "model_provider": "openai",
        "temperature": 0.7,
        "max_tokens": 6000,
        "created_at": iso(feedback.created_at),
        "updated_at": iso(feedback.updated_at),
    }


def test_second_rating_updates_the_same_row_and_keeps_unsent_fields(ada, answer):
    _, client = ada
    path = f"/feedback/message/{answer.pk}"
    first = client.post(
        path, {"rating": 2, "model_name": "gpt-5-mini", "model_provider": "openai", "temperature": 0.5}, format="json"
    ).json()
    second = client.post(path, {"rating": 4, "model_name": None, "temperature": 0.9}, format="json").json()
    assert MessageFeedback.objects.count() == 1
    assert second["feedback_id"] == first["feedback_id"]
    assert (second["rating"], second["model_name"], second["model_provider"], second["temperature"]) == (
        4,
        "gpt-5-mini",
        "openai",
        0.9,
    )
    assert second["max_tokens"] is None
    assert second["created_at"] == first["created_at"]
    assert client.get(path).json() == second


@pytest.mark.parametrize("rating", [0, 6, -1, 3.5, "three", None, True])
def test_rating_outside_one_to_five_is_400(ada, answer, rating):
    _, client = ada
    response = client.post(f"/feedback/message/{answer.pk}", {"rating": rating}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert response.json()["detail"].startswith("rating: ")
    assert MessageFeedback.objects.count() == 0


def test_rating_is_required_and_bad_json_is_400(ada, answer):
    _, client = ada
    assert client.post(f"/feedback/message/{answer.pk}", {}, format="json").status_code == 400
    response = client.post(f"/feedback/message/{answer.pk}", "{rating: 5", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert MessageFeedback.objects.count() == 0


def test_missing_model_fields_come_from_the_callers_session(ada, answer):
    _, client = ada
    session_id = client.post("/generate-session").json()["session_id"]
    session = AnalysisSession.objects.get(pk=session_id)
    body = client.post(
        f"/feedback/message/{answer.pk}",
        {"rating": 3, "model_name": "gpt-5-mini"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    ).json()
    assert (body["model_name"], body["model_provider"], body["temperature"], body["max_tokens"]) == (
        "gpt-5-mini",
        session.model_provider,
        session.temperature,
        session.max_tokens,
    )
    assert session.model_provider == "offline"


def test_without_a_session_missing_model_fields_stay_null(ada, answer):
    _, client = ada
    body = client.post(f"/feedback/message/{answer.pk}", {"rating": 3}, format="json").json()
    assert (body["model_name"], body["model_provider"], body["temperature"], body["max_tokens"]) == (
        None,
        None,
        None,
        None,
    )


def test_session_settings_never_overwrite_recorded_ones(ada, answer):
    _, client = ada
    path = f"/feedback/message/{answer.pk}"
    client.post(path, {"rating": 5, "model_name": "claude-sonnet-4-6", "model_provider": "anthropic"}, format="json")
    session_id = client.post("/generate-session").json()["session_id"]
    body = client.post(path, {"rating": 1}, format="json", HTTP_X_SESSION_ID=session_id).json()
    assert (body["rating"], body["model_name"], body["model_provider"]) == (1, "claude-sonnet-4-6", "anthropic")
    # Fields nothing recorded yet are filled from the session.
    assert body["max_tokens"] == AnalysisSession.objects.get(pk=session_id).max_tokens


def test_reading_feedback(ada, answer):
    _, client = ada
    missing = client.get(f"/feedback/message/{answer.pk}")
    assert missing.status_code == 404
    assert missing.json() == {
        "detail": f"No feedback found for message with ID {answer.pk}",
        "code": "feedback_not_found",
    }
    client.post(f"/feedback/message/{answer.pk}", {"rating": 4}, format="json")
    assert client.get(f"/feedback/message/{answer.pk}").json() == feedback_body(MessageFeedback.objects.get())


def test_chat_feedback_lists_in_message_order(ada, answer):
    user, client = ada
    chat = answer.chat
    question = chat.messages.get(sender="user")
    client.post(f"/feedback/message/{answer.pk}", {"rating": 5}, format="json")
    client.post(f"/feedback/message/{question.pk}", {"rating": 2}, format="json")
    other_chat = chat_create(user=user, session_id=None)
    elsewhere = chat_message_append(chat=other_chat, sender="user", content="q")
    client.post(f"/feedback/message/{elsewhere.pk}", {"rating": 1}, format="json")
    response = client.get(f"/feedback/chat/{chat.pk}")
    assert response.status_code == 200
    assert response.json() == [
        feedback_body(MessageFeedback.objects.get(message=question)),
        feedback_body(MessageFeedback.objects.get(message=answer)),
    ]
    empty = chat_create(user=user, session_id=None)
    assert client.get(f"/feedback/chat/{empty.pk}").json() == []


def _assert_feedback_hidden(client: APIClient, message: Message) -> None:
    rated = client.post(f"/feedback/message/{message.pk}", {"rating": 1}, format="json")
    assert rated.status_code == 404
    assert rated.json() == {"detail": f"Message with ID {message.pk} not found", "code": "message_not_found"}
    read = client.get(f"/feedback/message/{message.pk}")
    assert read.status_code == 404
    assert read.json()["detail"] == f"No feedback found for message with ID {message.pk}"
    listed = client.get(f"/feedback/chat/{message.chat_id}")
    assert listed.status_code == 404
    assert listed.json()["detail"] == f"Chat with ID {message.chat_id} not found or access denied"
    assert MessageFeedback.objects.get(message=message).rating == 5


def test_another_users_feedback_is_404(ada, answer, make_user):
    _, client = ada
    client.post(f"/feedback/message/{answer.pk}", {"rating": 5}, format="json")
    _, grace_key = make_user("grace")
    _assert_feedback_hidden(api(HTTP_X_API_KEY=grace_key), answer)


def test_a_users_feedback_is_404_for_anonymous_callers(ada, answer):
    _, client = ada
    client.post(f"/feedback/message/{answer.pk}", {"rating": 5}, format="json")
    session_id = APIClient().post("/generate-session").json()["session_id"]
    _assert_feedback_hidden(api(HTTP_X_SESSION_ID=session_id), answer)


def test_another_sessions_feedback_is_404(db):
    sessions = [APIClient().post("/generate-session").json()["session_id"] for _ in range(2)]
    owner, stranger = (api(HTTP_X_SESSION_ID=session_id) for session_id in sessions)
    chat_id = owner.post("/chats/", {}, format="json").json()["chat_id"]
    message_id = owner.post(f"/chats/{chat_id}/messages", {"content": "q", "sender": "user"}, format="json").json()[
        "message_id"
    ]
    rated = owner.post(f"/feedback/message/{message_id}", {"rating": 5}, format="json").json()
    # An anonymous session's settings fill the model fields too.
    assert rated["model_provider"] == "offline"
    _assert_feedback_hidden(stranger, Message.objects.get(pk=message_id))
    # Without any session id, a caller from another browser finds nothing either.
    elsewhere = APIClient(REMOTE_ADDR="203.0.113.9", HTTP_USER_AGENT="Other/1.0")
    assert elsewhere.get(f"/feedback/message/{message_id}").json()["code"] == "feedback_not_found"
    assert elsewhere.post(f"/feedback/message/{message_id}", {"rating": 1}, format="json").status_code == 404
    assert MessageFeedback.objects.get(message_id=message_id).rating == 5


BROWSER = {"REMOTE_ADDR": "198.51.100.7", "HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/156.0"}


def _guest_answer(session_id: str) -> int:
    """An answer in a chat that BROWSER created under its own session id (no credentials)."""
    guest = APIClient(HTTP_X_SESSION_ID=session_id, **BROWSER)
    chat_id = guest.post("/chats/", {"user_id": None, "is_admin": True}, format="json").json()["chat_id"]
    guest.post(f"/chats/{chat_id}/messages", {"content": "How many rows?", "sender": "user"}, format="json")
    answer = guest.post(f"/chats/{chat_id}/messages", {"content": "1704 rows.", "sender": "ai"}, format="json")
    assert answer.status_code == 200
    return answer.json()["message_id"]


def test_sessionless_stars_rate_the_browsers_own_guest_answers(db):
    message_id = _guest_answer("auto_1796013641317_z0yxulqct")
    browser = APIClient(**BROWSER)  # exactly what the stars send: no session, no credentials
    assert browser.get(f"/feedback/message/{message_id}").status_code == 404
    body = {"message_id": message_id, "rating": 4, "model_name": "claude-opus-4-5-20251101",
            "model_provider": "anthropic", "temperature": 0.7, "max_tokens": 6000}
    rated = browser.post(f"/feedback/message/{message_id}", body, format="json")
    assert rated.status_code == 200
    assert (rated.json()["rating"], rated.json()["model_name"]) == (4, "claude-opus-4-5-20251101")
    again = browser.get(f"/feedback/message/{message_id}")
    assert (again.status_code, again.json()["rating"]) == (200, 4)


def test_sessionless_stars_never_reach_another_browsers_or_a_users_messages(ada, answer):
    guest_message = _guest_answer("auto_1796013641318_abcdefghi")
    other_browser = APIClient(REMOTE_ADDR="198.51.100.7", HTTP_USER_AGENT="Firefox/140.0")
    assert other_browser.post(f"/feedback/message/{guest_message}", {"rating": 1}, format="json").status_code == 404
    # A signed-in user's answer is never reachable without their key, whatever the browser.
    assert APIClient(**BROWSER).post(f"/feedback/message/{answer.pk}", {"rating": 1}, format="json").status_code == 404
    assert not MessageFeedback.objects.exists()


def test_sessionless_stars_reach_only_recently_active_chats_and_ignore_forwarded_addresses(db):
    message_id = _guest_answer("auto_1796013641319_abcdefghi")
    # A spoofed X-Forwarded-For changes nothing: with NUM_PROXIES=0 the address is REMOTE_ADDR.
    spoofed = APIClient(HTTP_X_FORWARDED_FOR="192.0.2.1", **BROWSER)
    assert spoofed.post(f"/feedback/message/{message_id}", {"rating": 3}, format="json").status_code == 200
    Chat.objects.filter(messages__pk=message_id).update(updated_at=timezone.now() - timedelta(minutes=31))
    late = APIClient(**BROWSER).post(f"/feedback/message/{message_id}", {"rating": 1}, format="json")
    assert late.status_code == 404
    assert MessageFeedback.objects.get(message_id=message_id).rating == 3


@pytest.mark.parametrize(
    "path", ["/feedback/message/abc", "/feedback/chat/x1", "/feedback/message/99999999999999999999"]
)
def test_bad_ids_are_404(ada, path):
    _, client = ada
    assert client.get(path).status_code == 404
    assert client.post(path, {"rating": 3}, format="json").status_code == 404


def test_deleting_the_chat_deletes_its_feedback(ada, answer):
    _, client = ada
    client.post(f"/feedback/message/{answer.pk}", {"rating": 5}, format="json")
    client.delete(f"/chats/{answer.chat_id}")
    assert MessageFeedback.objects.count() == 0
    assert not Chat.objects.filter(pk=answer.chat_id).exists()
