"""Analysis sessions and their datasets.

A session is a row with an id that is either server-issued (unguessable) or chosen by the
client (the web frontend mints its own, see ``CLIENT_SESSION_ID_SHAPE``); it is shared by every web
process and survives restarts. Dataset contents are Parquet files in Django storage,
content-addressed (:class:`DatasetFile`, keyed by SHA-256) so identical data (the
default dataset of every session, re-uploads) is stored once. :class:`Dataset` is a
session's named view of one file: its Python variable name and description.
"""

from __future__ import annotations

import re
import secrets

from django.conf import settings
from django.db import models


def new_session_id() -> str:
    return secrets.token_urlsafe(32)


# Ids a client may choose itself: the web frontend mints auto_<ms>_<random> and
# user_<id>_<ms>_<random>. At least 16 characters so that a short, guessable name is
# never a session; at most the column's 64.
CLIENT_SESSION_ID_SHAPE = re.compile(r"[A-Za-z0-9_-]{16,64}")


class AnalysisSession(models.Model):
    id = models.CharField(primary_key=True, max_length=64, default=new_session_id, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="analysis_sessions"
    )
    user_email = models.CharField(max_length=255, blank=True)
    user_name = models.CharField(max_length=255, blank=True)
    initialized_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_accessed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    # The chat /set-message-info bound (answers, usage and code runs go to it). A key, not
    # a plain id: deleting the chat unbinds it, where a dangling id made every later usage
    # row of the session violate analytics' foreign key (a 500 on /code/edit and /code/fix).
    current_chat = models.ForeignKey(
        "chats.Chat",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        db_constraint=False,
    )
    current_message_id = models.BigIntegerField(null=True, blank=True)

    model_provider = models.CharField(max_length=50)
    model_name = models.CharField(max_length=100)
    temperature = models.FloatField()
    max_tokens = models.PositiveIntegerField()
    # Fernet token of the user's own provider key; never serialised back to anyone.
    api_key_encrypted = models.TextField(blank=True)

    class Meta:
        verbose_name = "analysis session"

    def __str__(self) -> str:
        return f"{self.id[:8]}… ({self.user or 'anonymous'})"


class DatasetFile(models.Model):
    """One immutable Parquet file, named by the SHA-256 of its bytes."""

    sha256 = models.CharField(primary_key=True, max_length=64)
    storage_name = models.CharField(max_length=255)
    size_bytes = models.BigIntegerField()
    n_rows = models.BigIntegerField()
    n_cols = models.PositiveIntegerField()
    columns = models.JSONField(help_text="[{name, dtype}] in column order")
    profile = models.JSONField(null=True, blank=True, help_text="Column statistics, computed once on first use")
    agent_context = models.JSONField(
        null=True, blank=True, help_text="Columns as the agents see them (kinds, samples, statistics), computed once"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.sha256[:12]} ({self.n_rows}x{self.n_cols})"


class Dataset(models.Model):
    class Source(models.TextChoices):
        DEFAULT = "default"
        CSV = "csv"
        EXCEL = "excel"
        JSON = "json"
        PARQUET = "parquet"
        DERIVED = "derived"

    session = models.ForeignKey(AnalysisSession, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=64, help_text="Python variable name in executed code")
    display_name = models.CharField(max_length=255, help_text="File or sheet name as uploaded")
    description = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    file = models.ForeignKey(DatasetFile, on_delete=models.PROTECT, related_name="datasets")
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["position", "id"]
        constraints = [models.UniqueConstraint(fields=["session", "name"], name="unique_dataset_name_per_session")]

    def __str__(self) -> str:
        return f"{self.name} in {self.session_id[:8]}…"
