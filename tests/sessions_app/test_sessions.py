"""Analysis sessions: creation, scoping to their user, binding, expiry, reset, info."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from sessions_app.models import AnalysisSession, DatasetFile
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db


def test_generate_session_issues_an_unguessable_stored_id(client):
    body = client.post("/generate-session").json()
    assert body["message"] == "Session created successfully"
    assert len(body["session_id"]) >= 43
    session = AnalysisSession.objects.get(pk=body["session_id"])
    assert session.user is None
    assert [d.name for d in session.datasets.all()] == ["df"]


def test_new_session_has_the_default_dataset(client, session_id):
    body = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).json()
    assert body["session_id"] == session_id
    assert body["is_custom_dataset"] is False
    assert body["dataset_name"] == "gapminder.csv"
    assert body["default_name"] == "gapminder.csv"
    assert body["has_session"] is True
    assert body["dataset_description"].startswith(" exact_python_name: `df` Dataset: Gapminder")
    (dataset,) = body["datasets"]
    assert (dataset["name"], dataset["rows"], dataset["columns"]) == ("df", 1704, 8)
    assert [c["name"] for c in dataset["schema"]] == [
        "country",
        "continent",
        "year",
        "lifeExp",
        "pop",
        "gdpPercap",
        "iso_alpha",
        "iso_num",
    ]


def test_default_dataset_file_is_stored_once_for_all_sessions(client):
    for _ in range(3):
        client.post("/generate-session")
    assert DatasetFile.objects.count() == 1


def test_session_id_is_read_from_the_query_too(client, session_id):
    response = client.get(f"/api/session-info?session_id={session_id}")
    assert response.status_code == 200


def test_missing_session_id_is_400(client):
    response = client.get("/api/session-info")
    assert response.status_code == 400
    assert response.json() == {"detail": "Session ID required", "code": "session_required"}


def test_unknown_session_id_is_404_when_client_ids_are_off(client, settings):
    settings.CLIENT_SESSION_IDS = False
    response = client.get("/api/session-info", HTTP_X_SESSION_ID="auto_1796013641317_z0yxulqct")
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    assert not AnalysisSession.objects.filter(pk="auto_1796013641317_z0yxulqct").exists()


def test_short_unknown_session_id_is_404_and_never_created(client):
    response = client.get("/api/session-info", HTTP_X_SESSION_ID="made-up-id")
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"
    assert not AnalysisSession.objects.filter(pk="made-up-id").exists()


def test_idle_session_expires_when_client_ids_are_off(client, session_id, settings):
    settings.CLIENT_SESSION_IDS = False
    AnalysisSession.objects.filter(pk=session_id).update(last_accessed_at=timezone.now() - timedelta(hours=73))
    assert client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).status_code == 404


def test_idle_anonymous_session_comes_back_fresh_under_its_id(client, session_id):
    uploaded = client.post(
        "/upload_dataframe",
        {"file": csv_file("a,b\n1,2\n", "mine.csv"), "name": "mine", "description": "d"},
        format="multipart",
        HTTP_X_SESSION_ID=session_id,
    )
    assert uploaded.status_code == 200
    AnalysisSession.objects.filter(pk=session_id).update(last_accessed_at=timezone.now() - timedelta(hours=73))
    response = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200
    assert response.json()["session_id"] == session_id
    assert response.json()["is_custom_dataset"] is False
    assert [d["name"] for d in response.json()["datasets"]] == ["df"]


def test_cleanup_command_removes_idle_sessions_and_their_files(client, session_id, django_capture_on_commit_callbacks):
    from tests.conftest import csv_file

    client.post("/upload_dataframe", {"file": csv_file("a,b\n1,2\n"), "name": "t"}, HTTP_X_SESSION_ID=session_id)
    uploaded = DatasetFile.objects.get(datasets__name="t")
    path = uploaded.storage_name
    old = timezone.now() - timedelta(hours=100)
    AnalysisSession.objects.filter(pk=session_id).update(last_accessed_at=old)
    DatasetFile.objects.update(created_at=old)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("cleanup_sessions")
    assert not AnalysisSession.objects.filter(pk=session_id).exists()
    assert not DatasetFile.objects.filter(pk=uploaded.pk).exists()
    from django.core.files.storage import default_storage

    assert not default_storage.exists(path)
    # The default dataset's file is never collected, even when no session uses it.
    assert DatasetFile.objects.filter(datasets__isnull=True).count() == 1


def test_authenticated_caller_owns_the_sessions_it_creates(auth_client, user_and_key, client):
    user, _ = user_and_key
    session_id = auth_client.post("/generate-session").json()["session_id"]
    assert AnalysisSession.objects.get(pk=session_id).user == user
    # Anonymous callers and other users cannot see it: 404, as if it did not exist.
    assert client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).status_code == 404


def test_other_users_session_is_404(auth_client, make_user, client):
    session_id = auth_client.post("/generate-session").json()["session_id"]
    _, other_key = make_user("grace")
    response = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id, HTTP_X_API_KEY=other_key)
    assert response.status_code == 404
    for path in ("/api/model-settings", "/api/datasets", "/api/datasets/df/rows", "/api/default-dataset"):
        assert client.get(path, HTTP_X_SESSION_ID=session_id, HTTP_X_API_KEY=other_key).status_code == 404
    response = client.post("/reset-session", {}, format="json", HTTP_X_SESSION_ID=session_id, HTTP_X_API_KEY=other_key)
    assert response.status_code == 404


def test_anonymous_session_is_bound_on_first_authenticated_use(client, session_id, auth_client, user_and_key):
    user, _ = user_and_key
    response = auth_client.get("/api/session-info", HTTP_X_SESSION_ID=session_id)
    assert response.json()["user_id"] == user.pk
    assert client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).status_code == 404


def test_initialize_session_binds_and_records_the_user(client, session_id, auth_client, user_and_key):
    user, _ = user_and_key
    response = auth_client.post(
        "/initialize-session",
        {"session_id": session_id, "user_id": user.pk, "user_email": "ada@example.com", "user_name": "Ada"},
        format="json",
    )
    assert response.status_code == 200
    assert response.json() == {
        "status": "success",
        "session_id": session_id,
        "message": "Session initialized successfully",
        "user_id": user.pk,
    }
    session = AnalysisSession.objects.get(pk=session_id)
    assert (session.user_id, session.user_email, session.user_name) == (user.pk, "ada@example.com", "Ada")
    assert session.initialized_at is not None


def test_initialize_session_with_someone_elses_user_id_is_403(session_id, auth_client, make_user):
    other, _ = make_user("grace")
    response = auth_client.post("/initialize-session", {"session_id": session_id, "user_id": other.pk}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "user_mismatch"
    assert AnalysisSession.objects.get(pk=session_id).user is None


def test_anonymous_caller_naming_a_user_id_is_403(client, session_id, user_and_key):
    user, _ = user_and_key
    response = client.get(f"/api/session-info?user_id={user.pk}", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 403


def test_set_message_info_stores_ids(client, session_id):
    from chats.models import Chat

    chat = Chat.objects.create(session_id=session_id)
    response = client.post(
        "/set-message-info", {"chat_id": chat.pk, "message_id": 42}, format="json", HTTP_X_SESSION_ID=session_id
    )
    assert response.json() == {
        "success": True,
        "session_id": session_id,
        "message_id": 42,
        "chat_id": chat.pk,
        "user_id": None,
    }
    keys = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).json()["session_keys"]
    assert "chat_id" in keys and "current_message_id" in keys


def test_set_message_info_rejects_a_user_id_that_is_not_the_caller(client, session_id):
    response = client.post("/set-message-info", {"user_id": 5}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"preserveModelSettings": True},
        {"request_data": {"preserveModelSettings": True}, "names": ["x"]},
    ],
)
def test_reset_session_accepts_flat_and_embedded_bodies(client, session_id, body):
    from tests.conftest import csv_file

    client.post("/upload_dataframe", {"file": csv_file("a\n1\n"), "name": "mine"}, HTTP_X_SESSION_ID=session_id)
    client.post(
        "/settings/model",
        {"provider": "offline", "model": "offline-analyst", "temperature": 0.2},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    response = client.post("/reset-session", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.json() == {
        "message": "Session reset to default dataset",
        "session_id": session_id,
        "dataset": "gapminder.csv",
        "model_settings_preserved": True,
    }
    info = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).json()
    assert [d["name"] for d in info["datasets"]] == ["df"]
    assert client.get("/api/model-settings", HTTP_X_SESSION_ID=session_id).json()["temperature"] == 0.2


def test_reset_session_without_preserve_restores_default_model(client, session_id):
    client.post(
        "/settings/model",
        {"provider": "offline", "model": "offline-analyst", "temperature": 0.2},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    client.post("/reset-session", {}, format="json", HTTP_X_SESSION_ID=session_id)
    assert client.get("/api/model-settings", HTTP_X_SESSION_ID=session_id).json()["temperature"] == 1.0


def test_reset_keeps_the_user_binding(auth_client, user_and_key):
    user, _ = user_and_key
    session_id = auth_client.post("/generate-session").json()["session_id"]
    auth_client.post("/reset-session", {}, format="json", HTTP_X_SESSION_ID=session_id)
    assert AnalysisSession.objects.get(pk=session_id).user == user
