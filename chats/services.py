"""Writes for users and API keys."""

from __future__ import annotations

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from chats.models import ApiKey, User
from config.errors import ApplicationError

API_KEY_PREFIX = "aak_"


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


@transaction.atomic
def user_create(*, username: str, email: str, password: str | None = None, is_staff: bool = False) -> User:
    if User.objects.filter(username=username).exists():
        raise ApplicationError(f"The username {username!r} is taken.", code="username_taken")
    if User.objects.filter(email__iexact=email).exists():
        raise ApplicationError(f"The email {email!r} is already registered.", code="email_taken")
    user = User(username=username, email=email, is_staff=is_staff)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    user.save()
    return user


def api_key_create(*, user: User, name: str = "") -> tuple[ApiKey, str]:
    """Create a key and return it with its secret, which is never retrievable again."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    api_key = ApiKey.objects.create(
        user=user, name=name, prefix=raw_key[: len(API_KEY_PREFIX) + 6], key_hash=api_key_hash(raw_key)
    )
    return api_key, raw_key


def api_key_revoke(*, api_key: ApiKey) -> None:
    api_key.revoked_at = timezone.now()
    api_key.save(update_fields=["revoked_at"])


def user_id_assert_is_caller(*, user, user_id: object) -> None:
    """The reference lets clients name any user with ``user_id``; we only accept the caller.

    ``None`` or an empty value means "not given" and passes.
    """
    if user_id in (None, ""):
        return
    try:
        claimed = int(str(user_id))
    except ValueError:
        raise ApplicationError("user_id must be an integer.", code="invalid") from None
    if not user.is_authenticated or claimed != user.pk:
        raise ApplicationError(
            "user_id does not name the authenticated caller; authenticate as that user with an API key.",
            code="user_mismatch",
            status_code=403,
        )
