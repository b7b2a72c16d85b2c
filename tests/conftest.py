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
