"""Writes of deep-analysis reports: creating a run, its events (stored with a sequence
number, then broadcast to the report's Channels group after commit), finishing, failing,
cancelling, the web frontend's own copy, status changes, deletion and the sweep that
fails runs whose process is gone."""

from __future__ import annotations

import logging
import os
import re
import socket
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ApplicationError
from deep_analysis.models import DeepAnalysisEvent, DeepAnalysisReport
from deep_analysis.selectors import reports_for_caller

logger = logging.getLogger(__name__)

GOAL_MAX_CHARS = 4000
SUMMARY_CHARS = 200
# This process, as written on the rows it runs ("host:pid:boot"); boot tells a reused pid apart.
WORKER_ID = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
CLIENT_ID = re.compile(r"report_(\d{13})")
CLIENT_MATCH_WINDOW = timedelta(minutes=10)
Status = DeepAnalysisReport.Status


def report_group(report_id: int) -> str:
    return f"deep_analysis.{report_id}"


def report_summary_text(conclusion: str) -> str:
    text = re.sub(r"\*\*Conclusion\*\*|^#+\s*Conclusion\s*$", "", conclusion or "", flags=re.MULTILINE).strip()
    return f"{text[:SUMMARY_CHARS]}..." if text else ""


def report_start(*, user, session_id: str, goal: str, model_provider: str, model_name: str) -> DeepAnalysisReport:
    """A new run's row (pending, owned by the caller), unless the caller has too many running."""
    goal = (goal or "").strip()
    if not goal:
        raise ApplicationError("goal must not be empty.", code="invalid")
    if len(goal) > GOAL_MAX_CHARS:
        raise ApplicationError(f"goal must be at most {GOAL_MAX_CHARS} characters.", code="invalid")
    report_orphans_fail()
    active = reports_for_caller(user=user, session_id=session_id).filter(status__in=DeepAnalysisReport.ACTIVE)
    if active.count() >= settings.DEEP_ANALYSIS_MAX_ACTIVE_PER_CALLER:
        raise ApplicationError(
            f"{settings.DEEP_ANALYSIS_MAX_ACTIVE_PER_CALLER} deep analyses are already running for you; "
            "wait for one to finish or cancel it.",
            code="too_many_runs",
            status_code=429,
        )
    return DeepAnalysisReport.objects.create(
        user=user if user.is_authenticated else None,
        session_id=session_id,
        goal=goal,
        status=Status.PENDING,
        model_provider=model_provider,
        model_name=model_name,
        worker=WORKER_ID,
        heartbeat_at=timezone.now(),
    )


def _broadcast(report_id: int, event: dict) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(report_group(report_id), {"type": "deep.event", "event": event})
    except Exception:  # a broadcast failure must not fail the run: clients replay from the table
        logger.exception("deep-analysis broadcast failed")


def report_event_append(*, report_id: int, event: dict, **row_updates) -> dict:
    """Store ``event`` with the next sequence number (and ``row_updates`` on the report),
    then broadcast it after commit. Returns the event with its ``sequence``."""
    with transaction.atomic():
        report = DeepAnalysisReport.objects.select_for_update().get(pk=report_id)
        if "status" in row_updates and row_updates["status"] not in report.ACTIVE and not report.is_active:
            # Already ended (e.g. the orphan sweep failed it while its worker still ran):
            # one final line per run, and the first ending stands.
            return {**event, "sequence": report.last_sequence}
        sequence = report.last_sequence + 1
        DeepAnalysisEvent.objects.create(report_id=report_id, sequence=sequence, payload=event)
        updates = {"last_sequence": sequence, "heartbeat_at": timezone.now(), "updated_at": timezone.now()}
        if "step" in event and "progress" in event and isinstance(event.get("progress"), int):
            updates["current_step"] = str(event["step"])[:32]
            if report.status == Status.RUNNING:
                updates["progress_percentage"] = max(0, min(100, event["progress"]))
            if event.get("status") in ("completed", "success") and event["step"] not in report.steps_completed:
                updates["steps_completed"] = [*report.steps_completed, event["step"]]
        updates.update(row_updates)
        DeepAnalysisReport.objects.filter(pk=report_id).update(**updates)
        sent = {**event, "sequence": sequence}
        transaction.on_commit(lambda: _broadcast(report_id, sent))
    return sent


def report_mark_running(*, report_id: int) -> bool:
    """pending -> running for this process; False when it was cancelled or taken meanwhile."""
    return bool(
        DeepAnalysisReport.objects.filter(pk=report_id, status=Status.PENDING, cancel_requested=False).update(
            status=Status.RUNNING, worker=WORKER_ID, heartbeat_at=timezone.now(), start_time=timezone.now()
        )
    )


def _ended(report: DeepAnalysisReport) -> dict:
    now = timezone.now()
    return {"end_time": now, "duration_seconds": round((now - report.start_time).total_seconds(), 3)}


def report_complete(*, report: DeepAnalysisReport, result: dict, html: str, totals: dict, usage_ids: list[int]) -> dict:
    """The run's results on its row, and its final ``completed`` event."""
    analysis = {key: result[key] for key in result if key != "timings"}
    updates = {
        "status": Status.COMPLETED,
        "progress_percentage": 100,
        "deep_questions": analysis["deep_questions"],
        "deep_plan": analysis["deep_plan"],
        "summaries": analysis["summaries"],
        "analysis_code": analysis["code"],
        "plotly_figures": analysis["plotly_figs"],
        "synthesis": analysis["synthesis"],
        "final_conclusion": analysis["final_conclusion"],
        "report_summary": report_summary_text(analysis["final_conclusion"]),
        "html_report": html,
        "total_tokens_used": totals["total_tokens"],
        "estimated_cost": Decimal(str(totals["cost"])),
        "usage_ids": usage_ids,
        "error_message": None,
        **_ended(report),
    }
    event = {
        "step": "completed",
        "status": "success",
        "progress": 100,
        "message": "Deep analysis completed.",
        "report_uuid": report.report_uuid,
        "report_id": report.pk,
        "analysis": analysis,
        "html_report": html,
        "totals": totals,
    }
    return report_event_append(report_id=report.pk, event=event, **updates)


def report_fail(*, report: DeepAnalysisReport, message: str, totals: dict | None = None, usage_ids=None) -> dict:
    """The run's failure on its row, and the final error line the frontend understands
    (``type: error`` and no ``status``: with both ``step`` and ``status`` it would take the
    line for a step update and keep spinning)."""
    updates = {"status": Status.FAILED, "error_message": message, **_ended(report)}
    if totals is not None:
        updates["total_tokens_used"] = totals["total_tokens"]
        updates["estimated_cost"] = Decimal(str(totals["cost"]))
    if usage_ids is not None:
        updates["usage_ids"] = usage_ids
    event = {
        "type": "error",
        "error": message,
        "message": f"Deep analysis failed: {message}",
        "report_uuid": report.report_uuid,
        "report_id": report.pk,
    }
    return report_event_append(report_id=report.pk, event=event, **updates)


CANCELLED_MESSAGE = "The analysis was cancelled."


def report_cancel(*, report: DeepAnalysisReport) -> DeepAnalysisReport:
    """Ask a run to stop. A queued run ends at once; a running one at its next step."""
    from deep_analysis import jobs  # the pool lives there; services must not import it at load

    if not report.is_active:
        raise ApplicationError(f"The analysis is already {report.status}.", code="not_running", status_code=409)
    DeepAnalysisReport.objects.filter(pk=report.pk).update(cancel_requested=True)
    jobs.job_cancel(report.pk)
    if DeepAnalysisReport.objects.filter(pk=report.pk, status=Status.PENDING).exists():
        report.refresh_from_db()
        report_fail(report=report, message=CANCELLED_MESSAGE)
    report.refresh_from_db()
    return report


def report_orphans_fail() -> int:
    """Fail unfinished runs whose worker is gone: a dead process on this host, or a row
    nobody has touched for DEEP_ANALYSIS_STALE_SECONDS. Returns how many."""
    host = socket.gethostname()
    stale_before = timezone.now() - timedelta(seconds=settings.DEEP_ANALYSIS_STALE_SECONDS)
    failed = 0
    for report in DeepAnalysisReport.objects.filter(status__in=DeepAnalysisReport.ACTIVE).exclude(worker=WORKER_ID):
        worker_host, _, rest = report.worker.partition(":")
        pid = rest.split(":", 1)[0]
        dead = worker_host == host and pid.isdigit() and not _pid_alive(int(pid))
        silent = report.heartbeat_at is None or report.heartbeat_at < stale_before
        if not (dead or silent):
            continue
        reason = (
            "The server process running this analysis stopped before it finished."
            if dead
            else f"The analysis stopped reporting progress for over {settings.DEEP_ANALYSIS_STALE_SECONDS:g} s; "
            "its server process is gone."
        )
        with transaction.atomic():
            # Re-checked under the lock: it may have finished meanwhile.
            locked = (
                DeepAnalysisReport.objects.select_for_update()
                .filter(pk=report.pk, status__in=DeepAnalysisReport.ACTIVE)
                .first()
            )
            if locked is None:
                continue
            report_fail(report=locked, message=reason)
        failed += 1
    return failed


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def report_heartbeat() -> None:
    DeepAnalysisReport.objects.filter(worker=WORKER_ID, status__in=DeepAnalysisReport.ACTIVE).update(
        heartbeat_at=timezone.now()
    )


# --- the frontend's own copy, status, delete, html ------------------------------------------------


def report_client_alias(*, user, session_id: str | None, client_id: str) -> DeepAnalysisReport | None:
    """The caller's run the frontend calls ``report_<ms>``: the one that ended nearest that
    moment (the frontend mints the id when the run's final line arrives)."""
    match = CLIENT_ID.fullmatch(client_id or "")
    if match is None:
        return None
    moment = datetime.fromtimestamp(int(match.group(1)) / 1000, tz=UTC)
    candidates = reports_for_caller(user=user, session_id=session_id).filter(
        client_uuid="",
        end_time__gte=moment - CLIENT_MATCH_WINDOW,
        end_time__lte=moment + CLIENT_MATCH_WINDOW,
    )
    best = min(candidates, key=lambda r: abs((r.end_time - moment).total_seconds()), default=None)
    if best is not None:
        DeepAnalysisReport.objects.filter(pk=best.pk, client_uuid="").update(client_uuid=client_id)
        best.client_uuid = client_id
    return best


CLIENT_FIELDS = (
    "goal",
    "deep_questions",
    "deep_plan",
    "summaries",
    "analysis_code",
    "plotly_figures",
    "synthesis",
    "final_conclusion",
    "report_summary",
    "duration_seconds",
    "credits_consumed",
    "error_message",
    "model_provider",
    "model_name",
    "total_tokens_used",
    "estimated_cost",
    "steps_completed",
)


def report_save_from_client(*, user, session_id: str | None, data: dict) -> tuple[DeepAnalysisReport, bool]:
    """``POST /deep_analysis/reports``: the caller's run with that id (or the run it names
    as ``report_<ms>``) keeps one row, and only gains what it lacks; otherwise a new row.
    Returns (report, created)."""
    from deep_analysis.selectors import report_get_for_caller

    key = data["report_uuid"]
    try:
        existing = report_get_for_caller(user=user, session_id=session_id, report_id=key)
    except ApplicationError:
        existing = report_client_alias(user=user, session_id=session_id, client_id=key)
    if existing is not None:
        updates = {
            name: data[name]
            for name in CLIENT_FIELDS
            if name in data and data[name] not in (None, "", []) and not getattr(existing, name)
        }
        if updates:
            DeepAnalysisReport.objects.filter(pk=existing.pk).update(**updates, updated_at=timezone.now())
            existing.refresh_from_db()
        return existing, False
    if DeepAnalysisReport.objects.filter(report_uuid=key).exists():
        raise ApplicationError("report_uuid is already taken.", code="report_uuid_taken", status_code=409)
    now = timezone.now()
    fields = {name: data[name] for name in CLIENT_FIELDS if data.get(name) is not None}
    if not fields.get("report_summary") and fields.get("final_conclusion"):
        fields["report_summary"] = report_summary_text(fields["final_conclusion"])
    status = data.get("status") or Status.COMPLETED
    try:
        with transaction.atomic():
            report = DeepAnalysisReport.objects.create(
                report_uuid=key,
                user=user if user.is_authenticated else None,
                session_id=session_id or "",
                status=status,
                progress_percentage=data.get("progress_percentage", 100),
                start_time=now,
                end_time=now,
                **fields,
            )
    except IntegrityError:  # the same new uuid posted twice at once: the other request won
        raise ApplicationError("report_uuid is already taken.", code="report_uuid_taken", status_code=409) from None
    return report, True


def report_status_set(*, report: DeepAnalysisReport, status: str) -> DeepAnalysisReport:
    if status not in Status.values:
        raise ApplicationError("Invalid status value", code="invalid_status")
    if report.is_active and report.worker and status not in DeepAnalysisReport.ACTIVE:
        raise ApplicationError(
            "The analysis is still running; cancel it instead of setting its status.", code="running", status_code=409
        )
    updates: dict = {"status": status, "updated_at": timezone.now()}
    if status in (Status.COMPLETED, Status.FAILED):
        updates.update(_ended(report))
    DeepAnalysisReport.objects.filter(pk=report.pk).update(**updates)
    report.refresh_from_db()
    return report


def report_delete(*, report: DeepAnalysisReport) -> None:
    if report.is_active:
        DeepAnalysisReport.objects.filter(pk=report.pk).update(cancel_requested=True)
        from deep_analysis import jobs

        jobs.job_cancel(report.pk)
    report.delete()


def report_html_store(*, report: DeepAnalysisReport, html: str) -> None:
    DeepAnalysisReport.objects.filter(pk=report.pk).update(html_report=html, updated_at=timezone.now())
    report.html_report = html
