"""A chat bound with /set-message-info and then deleted leaves no dangling binding: the
session's next /code/edit and /code/fix still answer (they were 500s, an IntegrityError
on the usage row's chat key)."""

from __future__ import annotations

import pytest

from sessions_app.models import AnalysisSession

pytestmark = pytest.mark.django_db


@pytest.fixture
def bound_then_deleted(client, session_id) -> str:
    chat = client.post("/chats/", {"session_id": session_id}, format="json", HTTP_X_SESSION_ID=session_id)
    assert chat.status_code in (200, 201), chat.json()
    chat_id = chat.json()["chat_id"]
    bound = client.post(
        "/set-message-info", {"chat_id": chat_id, "message_id": 7}, format="json", HTTP_X_SESSION_ID=session_id
    )
    assert (bound.status_code, bound.json()["chat_id"]) == (200, chat_id)
    deleted = client.delete(f"/chats/{chat_id}", HTTP_X_SESSION_ID=session_id)
    assert deleted.status_code in (200, 204)
    return session_id


def test_deleting_the_bound_chat_clears_the_binding(bound_then_deleted):
    assert AnalysisSession.objects.get(pk=bound_then_deleted).current_chat_id is None


def test_code_edit_after_the_bound_chat_is_deleted(client, bound_then_deleted):
    response = client.post(
        "/code/edit",
        {"original_code": "print(1)", "user_prompt": "print 2 instead"},
        format="json",
        HTTP_X_SESSION_ID=bound_then_deleted,
    )
    assert response.status_code == 200, response.json()
    assert "edited_code" in response.json()


def test_code_fix_after_the_bound_chat_is_deleted(client, bound_then_deleted):
    response = client.post(
        "/code/fix",
        {"code": "print(undefined_name)", "error": "NameError: name 'undefined_name' is not defined"},
        format="json",
        HTTP_X_SESSION_ID=bound_then_deleted,
    )
    assert response.status_code == 200, response.json()
