"""Reads for users and API keys."""

from __future__ import annotations

from chats.models import ApiKey, User
from chats.services import api_key_hash


def api_key_user_get(*, raw_key: str) -> User | None:
    """The active user owning this key, or None for unknown or revoked keys."""
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return api_key.user if api_key else None
