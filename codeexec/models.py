"""Code executions: one row per executed message (re-runs of its code update it)."""

from __future__ import annotations

from django.conf import settings
from django.db import models


class CodeExecution(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="code_executions"
    )
    # Plain values, not foreign keys: codeexec depends on no other app.
    session_id = models.CharField(max_length=64, db_index=True)
    chat_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    message_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    initial_code = models.TextField()
    latest_code = models.TextField()
    is_successful = models.BooleanField(default=False)
    output = models.TextField(blank=True)
    failed_agents = models.JSONField(default=list)
    error_messages = models.JSONField(default=dict)
    model_provider = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    model_temperature = models.FloatField(null=True, blank=True)
    model_max_tokens = models.IntegerField(null=True, blank=True)
    duration_ms = models.FloatField(default=0)
    # Set when an agent wrote the code: its name, and each automatic repair tried
    # ([{code, error, ok}], in order) before the answer was sent.
    agent_name = models.CharField(max_length=100, blank=True)
    fix_attempts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-updated_at", "-id"]

    def __str__(self) -> str:
        return f"execution {self.pk} ({'ok' if self.is_successful else 'failed'})"
