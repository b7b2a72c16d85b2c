"""Reads of deep-analysis reports: every report lookup goes through
:func:`report_get_for_caller`, scoped to the caller (their user, or for an anonymous
caller the analysis session they hold). Anything else is a 404."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from config.errors import NotFoundError
from deep_analysis.models import DeepAnalysisEvent, DeepAnalysisReport


def reports_for_caller(*, user, session_id: str | None) -> QuerySet[DeepAnalysisReport]:
    if user is not None and user.is_authenticated:
        return DeepAnalysisReport.objects.filter(user=user)
    if session_id:
        return DeepAnalysisReport.objects.filter(user__isnull=True, session_id=session_id)
    return DeepAnalysisReport.objects.none()


def report_get_for_caller(*, user, session_id: str | None, report_id: str | int) -> DeepAnalysisReport:
    """One of the caller's reports by its uuid (the frontend's id) or its integer id."""
    reports = reports_for_caller(user=user, session_id=session_id)
    key = str(report_id).strip()
    report = reports.filter(Q(report_uuid=key) | Q(client_uuid=key)).first() if key else None
    if report is None and key.isdigit() and len(key) <= 18:
        report = reports.filter(pk=int(key)).first()
    if report is None:
        raise NotFoundError(f"Report with ID {key[:80]} not found", code="report_not_found")
    return report


def report_events_after(*, report_id: int, sequence: int, limit: int = 500) -> list[dict]:
    """The report's events after ``sequence``, each with its ``sequence``, oldest first."""
    rows = DeepAnalysisEvent.objects.filter(report_id=report_id, sequence__gt=sequence).order_by("sequence")[:limit]
    return [{**row.payload, "sequence": row.sequence} for row in rows]
