"""Shared fixtures: API clients for anonymous and authenticated callers, and sessions."""

from __future__ import annotations

import io

import pytest
from rest_framework.test import APIClient

from chats.services import api_key_create, user_create


@pytest.fixture
def client() -> APIClient:
    return APIClient()


@pytest.fixture
def make_user(db):
    def make(username: str = "ada"):
        user = user_create(username=username, email=f"{username}@example.com")
        _, key = api_key_create(user=user, name="test")
        return user, key

    return make


@pytest.fixture
def user_and_key(make_user):
    return make_user("ada")


@pytest.fixture
def auth_client(user_and_key) -> APIClient:
    _, key = user_and_key
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=key)
    return api


@pytest.fixture
def session_id(client, db) -> str:
    response = client.post("/generate-session")
    assert response.status_code == 200
    return response.json()["session_id"]


def csv_file(content: str | bytes, name: str = "data.csv") -> io.BytesIO:
    data = content.encode() if isinstance(content, str) else content
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def pytest_collection_modifyitems(items):
    """Transactional tests flush the database afterwards, which would also remove the rows
    data migrations seed (the built-in agent templates); restore them after each one."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker is not None and marker.kwargs.get("transaction"):
            item.add_marker(pytest.mark.django_db(**{**marker.kwargs, "serialized_rollback": True}), append=False)


def read_stream(response) -> list[dict]:
    """The NDJSON events of a streamed answer (its body is an async iterator)."""
    import json

    from asgiref.sync import async_to_sync

    async def collect() -> bytes:
        return b"".join([chunk async for chunk in response.streaming_content])

    text = async_to_sync(collect)().decode()
    return [json.loads(line) for line in text.splitlines() if line.strip()]
