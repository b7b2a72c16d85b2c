"""Sent after a usage row commits (``usage=ModelUsage``): realtime dashboards listen here."""

from __future__ import annotations

from django.dispatch import Signal

model_usage_created = Signal()
