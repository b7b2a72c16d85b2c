"""Reads for users, API keys, chats, messages and feedback.

Every chat, message or feedback row a caller asks for is fetched through one access
helper per kind (``chat_get_for_caller``, ``message_get_for_caller``,
``message_feedback_get_for_caller``), all built on :func:`chats_for_caller`. An object
the caller does not own is a :class:`NotFoundError`, exactly like one that does not
exist, so ids reveal nothing about other people's chats.

The caller is ``user`` (authenticated or anonymous) plus ``session_id``: the id of an
analysis session the HTTP layer has already resolved for this caller (unknown, expired
and other people's sessions never get this far). An authenticated caller owns the chats
whose ``user`` is them; an anonymous caller owns the chats with no user that were
created in their session.

One exception, for the web frontend's feedback stars, which are sent with no session id
and no credentials at all: such a caller is known only by its ``fingerprint`` (a keyed
hash of its address and user agent, :func:`client_fingerprint`), and owns, for rating
only, the anonymous chats created by that same fingerprint while their session could
still be live. Chats of signed-in users are never reachable this way.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import QuerySet
from django.utils import timezone

from chats.models import ApiKey, Chat, Message, MessageFeedback, User
from config.errors import NotFoundError

# Ids come from URLs; a larger number cannot be a row and would overflow the database's bigint.
BIGINT_MAX = 2**63 - 1


def api_key_hash(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_user_get(*, raw_key: str) -> User | None:
    """The active user owning this key, or None for unknown or revoked keys."""
    api_key = (
        ApiKey.objects.select_related("user")
        .filter(key_hash=api_key_hash(raw_key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    return api_key.user if api_key else None


def client_fingerprint(*, remote_addr: str, user_agent: str) -> str:
    """A keyed hash naming one browser on one address; never reversible to either."""
    material = f"{remote_addr}\n{user_agent}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()


# --- chats, messages, feedback ------------------------------------------------------------


def chats_for_caller(
    *, user: User | AnonymousUser | None, session_id: str | None, fingerprint: str | None = None
) -> QuerySet[Chat]:
    """Every chat the caller owns, newest first.

    ``fingerprint`` counts only for an anonymous caller without a session (see the module
    docstring); callers pass it only where the web frontend sends nothing else.
    """
    if user is not None and user.is_authenticated:
        chats = Chat.objects.filter(user=user)
    elif session_id:
        chats = Chat.objects.filter(user__isnull=True, session_id=session_id)
    elif fingerprint:
        # Only recent chats: the stars are clicked right after an answer, and a short window
        # keeps clients that share an address and browser build (NAT, a proxy) apart.
        live_since = timezone.now() - timedelta(minutes=settings.FEEDBACK_FINGERPRINT_MINUTES)
        chats = Chat.objects.filter(user__isnull=True, client_fingerprint=fingerprint, updated_at__gte=live_since)
    else:
        chats = Chat.objects.none()
    return chats.order_by("-created_at", "-id")


def chat_get_for_caller(*, chat_id: int, user: User | AnonymousUser | None, session_id: str | None) -> Chat:
    chat = None
    if 0 < chat_id <= BIGINT_MAX:
        chat = chats_for_caller(user=user, session_id=session_id).filter(pk=chat_id).first()
    if chat is None:
        raise NotFoundError(f"Chat with ID {chat_id} not found or access denied", code="chat_not_found")
    return chat


def message_get_for_caller(
    *, message_id: int, user: User | AnonymousUser | None, session_id: str | None, fingerprint: str | None = None
) -> Message:
    message = None
    if 0 < message_id <= BIGINT_MAX:
        chats = chats_for_caller(user=user, session_id=session_id, fingerprint=fingerprint)
        message = (
            Message.objects.select_related("chat")
            .filter(pk=message_id, chat__in=chats)
            .first()
        )
    if message is None:
        raise NotFoundError(f"Message with ID {message_id} not found", code="message_not_found")
    return message


def message_feedback_get_for_caller(
    *, message_id: int, user: User | AnonymousUser | None, session_id: str | None, fingerprint: str | None = None
) -> MessageFeedback:
    """The feedback on one of the caller's messages.

    A message that does not exist, is someone else's, or has no feedback gets the same
    answer, as in the reference.
    """
    feedback = None
    if 0 < message_id <= BIGINT_MAX:
        feedback = MessageFeedback.objects.filter(
            message_id=message_id,
            message__chat__in=chats_for_caller(user=user, session_id=session_id, fingerprint=fingerprint),
        ).first()
    if feedback is None:
        raise NotFoundError(f"No feedback found for message with ID {message_id}", code="feedback_not_found")
    return feedback


def chat_messages(*, chat: Chat) -> list[Message]:
    """All messages of a chat, oldest first."""
    return list(chat.messages.order_by("timestamp", "id"))


def chat_history(*, chat: Chat, limit: int = 10) -> list[Message]:
    """The last ``limit`` messages of a chat, oldest first (the context an agent sees)."""
    if limit <= 0:
        return []
    latest = list(chat.messages.order_by("-timestamp", "-id")[:limit])
    latest.reverse()
    return latest


def chat_feedback(*, chat: Chat) -> list[MessageFeedback]:
    """Feedback on a chat's messages, in message order."""
    return list(MessageFeedback.objects.filter(message__chat=chat).order_by("message__timestamp", "message_id"))
