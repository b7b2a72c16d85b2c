"""Client-chosen session ids (the web frontend mints its own): which are accepted, who
owns the session they create, and what they can never reach."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chats.models import Chat
from sessions_app.models import AnalysisSession

pytestmark = pytest.mark.django_db

AUTO_ID = "auto_1796013641317_z0yxulqct"
USER_ID_FORM = "user_42_1796013641317_k3j9x0a1b"


def init(client: APIClient, session_id: str, *, header: str | None = None, user_id=0):
    body = {"session_id": session_id, "user_id": user_id, "user_email": "", "user_name": "Anonymous"}
    return client.post("/initialize-session", body, format="json", HTTP_X_SESSION_ID=header or session_id)


@pytest.mark.parametrize(
    "session_id", [AUTO_ID, USER_ID_FORM, "auto_1796013641317_z0y", "session_1796013641317_abc", "a" * 64]
)
def test_well_formed_ids_are_created_on_initialize(client, session_id):
    response = init(client, session_id)
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "session_id": session_id,
        "message": "Session initialized successfully",
        "user_id": None,
    }
    session = AnalysisSession.objects.get(pk=session_id)
    assert (session.user_id, session.user_name) == (None, "Anonymous")
    assert [d.name for d in session.datasets.all()] == ["df"]


@pytest.mark.parametrize("user_id", [0, None])
def test_user_id_zero_or_null_means_anonymous(client, user_id):
    assert init(client, AUTO_ID, user_id=user_id).status_code == 200
    assert AnalysisSession.objects.get(pk=AUTO_ID).user_id is None


@pytest.mark.parametrize("session_id", ["short_id", "a" * 65, "auto_1796013641317 z0y", "auto_1796013641317_é12345"])
def test_malformed_ids_are_never_created(client, session_id):
    response = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    assert AnalysisSession.objects.count() == 0


def test_first_use_on_any_route_creates_it_and_echoes_the_id(client):
    response = client.post("/reset-session", {}, format="json", HTTP_X_SESSION_ID=AUTO_ID)
    assert (response.status_code, response.json()["session_id"]) == (200, AUTO_ID)
    assert init(client, AUTO_ID).status_code == 200
    assert AnalysisSession.objects.filter(pk=AUTO_ID).count() == 1


def test_body_and_header_ids_that_disagree_both_exist(client):
    other = "auto_1796013641320_aaaaaaaaa"
    response = init(client, other, header=AUTO_ID)
    assert (response.status_code, response.json()["session_id"]) == (200, other)
    assert set(AnalysisSession.objects.values_list("pk", flat=True)) == {AUTO_ID, other}


def test_a_signed_in_caller_owns_the_session_its_id_creates(auth_client, user_and_key, client):
    user, _ = user_and_key
    assert init(auth_client, USER_ID_FORM, user_id=user.pk).status_code == 200
    assert AnalysisSession.objects.get(pk=USER_ID_FORM).user_id == user.pk
    # Whatever id anyone else sends, a user's session is a 404 to them, and stays theirs.
    for response in (
        client.get("/api/session-info", HTTP_X_SESSION_ID=USER_ID_FORM),
        init(client, USER_ID_FORM),
        client.post("/chats/", {}, format="json", HTTP_X_SESSION_ID=USER_ID_FORM),
    ):
        assert response.status_code == 404
        assert response.json()["code"] == "session_not_found"
    assert AnalysisSession.objects.get(pk=USER_ID_FORM).user_id == user.pk
    assert not Chat.objects.exists()


def test_an_anonymous_caller_cannot_claim_a_user(client, user_and_key):
    user, _ = user_and_key
    response = init(client, AUTO_ID, user_id=user.pk)
    assert (response.status_code, response.json()["code"]) == (403, "user_mismatch")
    assert not AnalysisSession.objects.filter(pk=AUTO_ID).exists()


def test_an_expired_users_session_is_never_taken_over(auth_client, client):
    from datetime import timedelta

    from django.utils import timezone

    assert init(auth_client, USER_ID_FORM, user_id=None).status_code == 200
    AnalysisSession.objects.filter(pk=USER_ID_FORM).update(last_accessed_at=timezone.now() - timedelta(days=30))
    assert client.get("/api/session-info", HTTP_X_SESSION_ID=USER_ID_FORM).status_code == 404
    assert AnalysisSession.objects.get(pk=USER_ID_FORM).user_id is not None


def test_client_ids_can_be_switched_off(client, settings):
    settings.CLIENT_SESSION_IDS = False
    response = init(client, AUTO_ID)
    assert (response.status_code, response.json()["code"]) == (404, "session_not_found")
    server_issued = client.post("/generate-session").json()["session_id"]
    assert init(client, server_issued).status_code == 200
    assert list(AnalysisSession.objects.values_list("pk", flat=True)) == [server_issued]
