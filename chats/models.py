"""Users and their API keys; chats, their messages and per-message feedback.

A chat belongs to a user, or, for anonymous callers, to the analysis session that
created it (``session_id``, a plain value: chats depend on no other app). Messages are
``user`` or ``ai``; ``origin`` says whether the server wrote one while answering (a
bound chat) or a client posted it, which is how a client that posts its own copy of an
exchange is recognised instead of duplicated.
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils import timezone


class User(AbstractUser):
    """A Django user with a unique email; ``date_joined`` is the creation time."""

    email = models.EmailField(unique=True)
    is_premium = models.BooleanField(default=False, help_text="May use premium-only agent templates.")

    REQUIRED_FIELDS = ["email"]

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"

    @property
    def created_at(self):
        return self.date_joined


class ApiKey(models.Model):
    """A per-user API key. Only the SHA-256 of the secret is stored.

    The secret has 256 bits of entropy, so a fast hash is enough: no dictionary attack
    applies, and lookups stay a single indexed equality.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.user})"


DEFAULT_CHAT_TITLE = "New Chat"


class Chat(models.Model):
    user = models.ForeignKey(User, null=True, blank=True, on_delete=models.CASCADE, related_name="chats")
    # The anonymous owner: the analysis session that created the chat.
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    # The web frontend answers a guest's questions under a temporary id of its own
    # (Date.now()); the chat started for that id is found again by it.
    client_chat_id = models.BigIntegerField(null=True, blank=True)
    # Hash of the creating client's address and user agent (chats.selectors.client_fingerprint):
    # the frontend rates messages without any session id, so this is how such a
    # rating is scoped to the client whose chat it is.
    client_fingerprint = models.CharField(max_length=64, blank=True, db_index=True)
    title = models.CharField(max_length=255, default=DEFAULT_CHAT_TITLE)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.title} ({self.pk})"


class Message(models.Model):
    class Sender(models.TextChoices):
        USER = "user"
        AI = "ai"

    class Origin(models.TextChoices):
        CLIENT = "client", "posted by a client"
        SERVER = "server", "written by the server while answering"

    chat = models.ForeignKey(Chat, on_delete=models.CASCADE, related_name="messages")
    sender = models.CharField(max_length=8, choices=Sender.choices)
    content = models.TextField()
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)
    agent_name = models.CharField(max_length=100, blank=True, help_text="The agent (or agents) that answered")
    origin = models.CharField(max_length=8, choices=Origin.choices, default=Origin.CLIENT)

    class Meta:
        ordering = ["timestamp", "id"]

    def __str__(self) -> str:
        return f"{self.sender}: {self.content[:40]}"


class MessageFeedback(models.Model):
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(5)]
    )
    model_name = models.CharField(max_length=100, blank=True, null=True)
    model_provider = models.CharField(max_length=50, blank=True, null=True)
    temperature = models.FloatField(null=True, blank=True)
    max_tokens = models.IntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "message feedback"
        verbose_name_plural = "message feedback"

    def __str__(self) -> str:
        return f"{self.rating} for message {self.message_id}"
