"""Helpers shared by the chats and feedback tests: signed-in clients and ISO datetimes."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from chats.models import User


def iso(value) -> str:
    """How the API writes a datetime: ISO 8601, UTC as Z."""
    return value.isoformat().replace("+00:00", "Z")


def api(**headers) -> APIClient:
    client = APIClient()
    client.credentials(**headers)
    return client


@pytest.fixture
def ada(make_user) -> tuple[User, APIClient]:
    user, key = make_user("ada")
    return user, api(HTTP_X_API_KEY=key)


@pytest.fixture
def grace(make_user) -> tuple[User, APIClient]:
    user, key = make_user("grace")
    return user, api(HTTP_X_API_KEY=key)
