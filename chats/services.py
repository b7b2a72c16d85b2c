"""Writes for users, API keys, chats, messages and feedback."""

from __future__ import annotations

import logging
import re
import secrets
from dataclasses import dataclass, fields
from functools import partial

from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from chats.models import DEFAULT_CHAT_TITLE, ApiKey, Chat, Message, MessageFeedback, User
from chats.selectors import api_key_hash, chats_for_caller
from chats.signals import chat_title_wanted
from config.errors import ApplicationError, NotFoundError

logger = logging.getLogger(__name__)

API_KEY_PREFIX = "aak_"


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
    try:
        user.full_clean()
    except DjangoValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ApplicationError(
            f"{field}: {messages[0]}", code="invalid", extra={"errors": error.message_dict}
        ) from None
    user.save()
    return user


def user_get_or_create(*, caller: User, username: str, email: str) -> User:
    """The reference's ``POST /chats/users``, made safe.

    The reference creates or returns any user for anyone who asks. Here only staff may
    do that (by email, case-insensitively); anyone else gets their own record back when
    the email is theirs, else a 403.
    """
    email = email.strip()[:255]
    username = username.strip()[:255]
    if not caller.is_staff:
        if email.lower() != caller.email.lower():
            raise ApplicationError(
                "Only staff may look up or create other users; this email is not yours.",
                code="permission_denied",
                status_code=403,
            )
        return caller
    existing = User.objects.filter(email__iexact=email).first()
    if existing is not None:
        return existing
    try:
        return user_create(username=username, email=email)
    except IntegrityError:
        # A concurrent request created a user with this email (or username) first.
        existing = User.objects.filter(email__iexact=email).first()
        if existing is None:
            raise ApplicationError(f"The username {username!r} is taken.", code="username_taken") from None
        return existing


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


# --- chats ---------------------------------------------------------------------------------

TITLE_MAX_LENGTH = 255
AGENT_NAME_MAX_LENGTH = 100


def chat_create(
    *,
    user: User | AnonymousUser | None,
    session_id: str | None,
    title: str = DEFAULT_CHAT_TITLE,
    client_chat_id: int | None = None,
    fingerprint: str = "",
) -> Chat:
    """A chat owned by ``user`` when authenticated, else by the analysis session.

    ``session_id`` is recorded either way (it tells which session a user's chat came
    from); it must be a session the caller may use, which the HTTP layer checks.
    ``client_chat_id`` is the web frontend's temporary id this chat stands for, and
    ``fingerprint`` the creating client's (``chats.selectors.client_fingerprint``).
    """
    owner = user if user is not None and user.is_authenticated else None
    if owner is None and not session_id:
        # Without a user or a session nobody could ever reach the chat again.
        raise ApplicationError("Session ID required", code="session_required")
    return Chat.objects.create(
        user=owner,
        session_id=session_id or "",
        title=title[:TITLE_MAX_LENGTH] or DEFAULT_CHAT_TITLE,
        client_chat_id=client_chat_id,
        client_fingerprint=fingerprint[:64],
    )


def chat_update(*, chat: Chat, title: str | None) -> Chat:
    """Rename a chat. No title, or a blank one, leaves it as it is (as the reference does)."""
    if title is None or not title.strip():
        return chat
    chat.title = title[:TITLE_MAX_LENGTH]
    chat.save(update_fields=["title", "updated_at"])
    return chat


def chat_delete(*, chat: Chat) -> None:
    """Delete a chat with its messages and their feedback.

    Model-usage rows stay, with ``chat`` and ``message`` set to null (their foreign keys
    are SET_NULL), so cost accounting keeps its history.
    """
    chat.delete()


CLEANUP_BATCH = 500


@transaction.atomic
def chats_cleanup_empty(*, user: User | AnonymousUser | None, session_id: str | None, everyone: bool = False) -> int:
    """Delete the caller's chats that have no message; every user's when ``everyone``.

    ``everyone`` needs a staff caller. Returns how many chats were deleted.
    """
    if everyone:
        if user is None or not user.is_authenticated or not user.is_staff:
            raise ApplicationError(
                "Only staff may clean up every user's chats.", code="permission_denied", status_code=403
            )
        chats = Chat.objects.all()
    else:
        chats = chats_for_caller(user=user, session_id=session_id)
    empty = ~Exists(Message.objects.filter(chat=OuterRef("pk")))
    # Lock the candidates, then test emptiness again under the lock: a message appended
    # meanwhile (chat_message_append locks the same row) keeps its chat, and one appended
    # later finds the chat gone instead of pointing at a deleted row.
    candidates = list(chats.filter(empty).select_for_update().values_list("pk", flat=True))
    deleted = 0
    for start in range(0, len(candidates), CLEANUP_BATCH):
        _, per_model = Chat.objects.filter(pk__in=candidates[start : start + CLEANUP_BATCH]).filter(empty).delete()
        deleted += per_model.get(Chat._meta.label, 0)
    return deleted


# --- messages ------------------------------------------------------------------------------


MENTION = re.compile(r"@\w+")


def _same_text(sender: str, stored: str, new: str) -> bool:
    """Whether two messages say the same thing.

    A question is compared without its ``@agent`` mentions and with spaces collapsed:
    the web frontend stores ``@data_viz_agent plot x`` while ``/chat/data_viz_agent``
    receives (and stores) ``plot x``; both are one question.
    """
    if stored.strip() == new.strip():
        return True
    if sender != Message.Sender.USER:
        return False

    def bare(text: str) -> str:
        return " ".join(MENTION.sub(" ", text).split())

    return bare(stored) == bare(new) != ""


def _duplicate_of(latest: Message | None, *, sender: str, content: str, origin: str) -> Message | None:
    """The stored message that this new one would only repeat, if any.

    The server stores the question when an answer starts and the answer when it ends,
    while the reference frontend also posts both itself, before or after the server.
    """
    if latest is None:
        return None
    # The same message twice in a row: a retried post, or the server's copy of a
    # question the client posted first (and the client's copy of one the server stored).
    if latest.sender == sender and _same_text(sender, latest.content, content):
        return latest
    # The client's copy of an answer the server already stored for the latest question;
    # it differs from the server's only in formatting.
    if (
        origin == Message.Origin.CLIENT
        and sender == Message.Sender.AI
        and latest.sender == Message.Sender.AI
        and latest.origin == Message.Origin.SERVER
    ):
        return latest
    return None


def _late_question_copy(chat: Chat, *, sender: str, content: str, origin: str) -> Message | None:
    """The client's copy of a question posted after the server stored it and its answer.

    Only while the client has posted nothing since that question, so asking the same
    question again later is stored as a new message.
    """
    if origin != Message.Origin.CLIENT or sender != Message.Sender.USER:
        return None
    question = chat.messages.filter(sender=Message.Sender.USER).order_by("-timestamp", "-id").first()
    if question is None or question.origin != Message.Origin.SERVER:
        return None
    if not _same_text(Message.Sender.USER, question.content, content):
        return None
    newer = chat.messages.filter(timestamp__gte=question.timestamp).exclude(pk=question.pk)
    return None if newer.filter(origin=Message.Origin.CLIENT).exists() else question


def _chat_title_wanted_send(*, chat_id: int, query: str) -> None:
    for receiver, result in chat_title_wanted.send_robust(sender=Chat, chat_id=chat_id, query=query):
        if isinstance(result, Exception):
            logger.error("chat_title_wanted receiver %r failed for chat %s", receiver, chat_id, exc_info=result)


@transaction.atomic
def chat_message_append(
    *,
    chat: Chat,
    sender: str,
    content: str,
    origin: str = Message.Origin.CLIENT,
    agent_name: str = "",
) -> Message:
    """Append a message, or return the stored one it would duplicate (see ``_duplicate_of``).

    The first answer of a chat that still has the default title sends
    ``chat_title_wanted`` after commit.
    """
    if sender not in Message.Sender.values:
        raise ApplicationError(f"sender must be one of {', '.join(Message.Sender.values)}.", code="invalid")
    if origin not in Message.Origin.values:
        raise ApplicationError(f"origin must be one of {', '.join(Message.Origin.values)}.", code="invalid")
    # The chat row's lock serialises appends to one chat, so two copies of a message
    # posted at once cannot both find "no duplicate yet" and both be stored.
    locked = Chat.objects.select_for_update().filter(pk=chat.pk).first()
    if locked is None:
        raise NotFoundError(f"Chat with ID {chat.pk} not found or access denied", code="chat_not_found")
    latest = locked.messages.order_by("-timestamp", "-id").first()
    duplicate = _duplicate_of(latest, sender=sender, content=content, origin=origin) or _late_question_copy(
        locked, sender=sender, content=content, origin=origin
    )
    if duplicate is not None:
        return duplicate
    first_answer = (
        sender == Message.Sender.AI
        and locked.title == DEFAULT_CHAT_TITLE
        and not locked.messages.filter(sender=Message.Sender.AI).exists()
    )
    message = Message.objects.create(
        chat=locked, sender=sender, content=content, origin=origin, agent_name=agent_name[:AGENT_NAME_MAX_LENGTH]
    )
    if first_answer:
        question = locked.messages.filter(sender=Message.Sender.USER).order_by("timestamp", "id").first()
        # A chat whose first message is an answer has no question to name it from.
        if question is not None:
            transaction.on_commit(partial(_chat_title_wanted_send, chat_id=locked.pk, query=question.content))
    return message


# --- feedback ------------------------------------------------------------------------------


@dataclass(frozen=True)
class FeedbackModelSettings:
    """The model a rated answer came from; None means unknown."""

    model_name: str | None = None
    model_provider: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None


@transaction.atomic
def message_feedback_upsert(
    *,
    message: Message,
    rating: int,
    model: FeedbackModelSettings | None = None,
    fallback: FeedbackModelSettings | None = None,
) -> MessageFeedback:
    """Create or update the one feedback row of a message.

    The rating is always replaced. Each model field takes, in order: the value given in
    ``model`` when not None, the value already stored, then ``fallback`` (the caller's
    current session settings): a later rating never erases or second-guesses what an
    earlier one recorded.
    """
    if isinstance(rating, bool) or not isinstance(rating, int) or not 1 <= rating <= 5:
        raise ApplicationError("rating must be an integer from 1 to 5.", code="invalid")
    # Serialises two first ratings of one message, which would otherwise both insert.
    if Message.objects.select_for_update().filter(pk=message.pk).first() is None:
        raise NotFoundError(f"Message with ID {message.pk} not found", code="message_not_found")
    feedback = MessageFeedback.objects.filter(message=message).first() or MessageFeedback(message=message)
    feedback.rating = rating
    for field in fields(FeedbackModelSettings):
        value = getattr(model, field.name) if model is not None else None
        if value is None:
            value = getattr(feedback, field.name)
        if value is None and fallback is not None:
            value = getattr(fallback, field.name)
        setattr(feedback, field.name, value)
    feedback.save()
    return feedback
