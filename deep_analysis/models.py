"""Deep-analysis reports: one row per run, and the run's events for replay.

A run's status, progress and failure reason live on its :class:`DeepAnalysisReport`
row, so any web process can answer for it. Each event a run emits is also a
:class:`DeepAnalysisEvent` row with a per-report sequence number: a client that
reconnects replays what it missed from the table, then follows the live Channels group.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone


def new_report_uuid() -> str:
    return str(uuid.uuid4())


class DeepAnalysisReport(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"
        RUNNING = "running"
        COMPLETED = "completed"
        FAILED = "failed"

    ACTIVE = (Status.PENDING, Status.RUNNING)

    report_uuid = models.CharField(max_length=64, unique=True, default=new_report_uuid)
    # The web frontend's own id for the run (`report_<ms>`), once it is known to be this run.
    client_uuid = models.CharField(max_length=64, blank=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="deep_reports"
    )
    # The anonymous owner: the analysis session the run was started from.
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    goal = models.TextField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    progress_percentage = models.PositiveSmallIntegerField(default=0)
    current_step = models.CharField(max_length=32, blank=True)
    error_message = models.TextField(null=True, blank=True)
    deep_questions = models.TextField(blank=True)
    deep_plan = models.TextField(blank=True)
    summaries = models.JSONField(default=list, blank=True)
    analysis_code = models.TextField(blank=True)
    plotly_figures = models.JSONField(default=list, blank=True)
    synthesis = models.JSONField(default=list, blank=True)
    final_conclusion = models.TextField(blank=True)
    report_summary = models.TextField(blank=True)
    html_report = models.TextField(blank=True)
    steps_completed = models.JSONField(default=list, blank=True)
    model_provider = models.CharField(max_length=50, blank=True)
    model_name = models.CharField(max_length=100, blank=True)
    total_tokens_used = models.PositiveIntegerField(default=0)
    estimated_cost = models.DecimalField(max_digits=14, decimal_places=7, default=0)
    credits_consumed = models.PositiveIntegerField(default=0)
    # The ModelUsage rows of this run's LM calls (analytics owns that table).
    usage_ids = models.JSONField(default=list, blank=True)
    # Who is running it ("host:pid:boot") and when it last said so: a run whose worker
    # is gone is failed by the orphan sweep instead of staying `running` forever.
    worker = models.CharField(max_length=200, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    last_sequence = models.PositiveIntegerField(default=0)
    start_time = models.DateTimeField(default=timezone.now)
    end_time = models.DateTimeField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["user", "-created_at"]), models.Index(fields=["session_id", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.report_uuid} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE


class DeepAnalysisEvent(models.Model):
    report = models.ForeignKey(DeepAnalysisReport, on_delete=models.CASCADE, related_name="events")
    sequence = models.PositiveIntegerField()
    payload = models.JSONField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["report", "sequence"]
        constraints = [models.UniqueConstraint(fields=["report", "sequence"], name="deep_event_unique_sequence")]

    def __str__(self) -> str:
        return f"{self.report_id}#{self.sequence}"
