"""Model usage: one row per language-model call, with real token counts and cost.

Rows outlive the chats they belong to (``chat`` is set to null when a chat is deleted),
so cost accounting never loses history.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class ModelUsage(models.Model):
    class Purpose(models.TextChoices):
        ALLOCATOR = "allocator"
        PLANNER = "planner"
        AGENT = "agent"
        SUMMARY = "summary"
        CODE_FIX = "code_fix"
        CODE_EDIT = "code_edit"
        TITLE = "title"
        DESCRIPTION = "description"
        DEEP_ANALYSIS = "deep_analysis"

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="model_usage"
    )
    chat = models.ForeignKey("chats.Chat", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    message = models.ForeignKey("chats.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage")
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    purpose = models.CharField(max_length=20, choices=Purpose.choices)
    agent_name = models.CharField(max_length=100, blank=True)
    model_name = models.CharField(max_length=100)
    provider = models.CharField(max_length=50)
    prompt_tokens = models.PositiveIntegerField(default=0)
    completion_tokens = models.PositiveIntegerField(default=0)
    total_tokens = models.PositiveIntegerField(default=0)
    # True when the provider reported no usage and the counts were estimated from text.
    tokens_estimated = models.BooleanField(default=False)
    query_size = models.PositiveIntegerField(default=0, help_text="characters sent")
    response_size = models.PositiveIntegerField(default=0, help_text="characters received")
    cost = models.DecimalField(max_digits=14, decimal_places=7, default=0, help_text="USD")
    is_streaming = models.BooleanField(default=False)
    request_time_ms = models.PositiveIntegerField(default=0)
    timestamp = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-timestamp", "-id"]
        indexes = [
            # Dashboards aggregate a time window by day, model, user and chat: with every
            # column they read in one index, the database never touches the table (about
            # 2x faster on SQLite over a million rows).
            models.Index(
                fields=["timestamp", "model_name", "user", "chat", "total_tokens", "cost"],
                name="usage_window_covering",
            ),
            # Per-user reads: a user's first usage (new users per day) is one lookup, and
            # per-user totals over a window (top users) read no table rows either.
            models.Index(fields=["user", "timestamp", "total_tokens", "cost"], name="usage_user_time_covering"),
        ]
        verbose_name = "model usage"
        verbose_name_plural = "model usage"

    def __str__(self) -> str:
        return f"{self.provider}/{self.model_name} {self.total_tokens} tokens"
