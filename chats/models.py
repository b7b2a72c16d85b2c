"""Users and their API keys. (Chats, messages and feedback arrive with their issue.)"""

from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A Django user with a unique email; ``date_joined`` is the creation time."""

    email = models.EmailField(unique=True)

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
