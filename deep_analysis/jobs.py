"""Running a deep analysis as a background job, not as part of a request.

The embedded setup runs jobs on a bounded in-process pool (``DEEP_ANALYSIS_WORKERS``
threads; further runs wait in its queue, their rows ``pending``). :func:`deep_analysis_job`
takes only a report id and reads everything else from rows, so a Celery task can call it
unchanged in the scale-out setup. While a process has unfinished runs, one heartbeat
thread touches their rows; a run whose process dies is failed by
:func:`deep_analysis.services.report_orphans_fail` instead of staying ``running``.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

from config.errors import ApplicationError
from deep_analysis import services
from deep_analysis.models import DeepAnalysisReport
from deep_analysis.pipeline import DeepAnalysisStoppedError, deep_analysis_execute
from deep_analysis.report_html import report_html_render
from sessions_app.agents.lm import CallTrace
from sessions_app.models import AnalysisSession

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None
_cancel_events: dict[int, threading.Event] = {}
_heartbeat: threading.Thread | None = None


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=settings.DEEP_ANALYSIS_WORKERS, thread_name_prefix="deep-analysis")
        return _pool


def _heartbeat_loop() -> None:
    global _heartbeat
    while True:
        time.sleep(settings.DEEP_ANALYSIS_HEARTBEAT_SECONDS)
        with _lock:
            if not _cancel_events:
                _heartbeat = None
                return
        try:
            services.report_heartbeat()
        except Exception:
            logger.exception("deep-analysis heartbeat failed")
        finally:
            connections.close_all()


def _ensure_heartbeat() -> None:
    global _heartbeat
    with _lock:
        if _heartbeat is None:
            _heartbeat = threading.Thread(target=_heartbeat_loop, name="deep-analysis-heartbeat", daemon=True)
            _heartbeat.start()


def job_submit(report_id: int) -> None:
    """Queue the run (inline when BACKGROUND_TASKS_EAGER, as in the tests)."""
    with _lock:
        _cancel_events[report_id] = threading.Event()
    if settings.BACKGROUND_TASKS_EAGER:
        deep_analysis_job(report_id)
        return
    _ensure_heartbeat()
    _executor().submit(_in_worker, report_id)


def job_cancel(report_id: int) -> None:
    with _lock:
        event = _cancel_events.get(report_id)
    if event is not None:
        event.set()


def _in_worker(report_id: int) -> None:
    try:
        deep_analysis_job(report_id)
    finally:
        connections.close_all()


def deep_analysis_job(report_id: int, *, agent_workers: int | None = None) -> dict | None:
    """Run report ``report_id``'s analysis to its end, recording everything on the row.
    Idempotent: a run that is not ``pending`` (done, cancelled, taken) is left alone."""
    try:
        return _job(report_id, agent_workers=agent_workers)
    finally:
        with _lock:
            _cancel_events.pop(report_id, None)


def _job(report_id: int, *, agent_workers: int | None) -> dict | None:
    if not services.report_mark_running(report_id=report_id):
        return None
    report = DeepAnalysisReport.objects.select_related("user").filter(pk=report_id).first()
    if report is None:
        return None  # deleted meanwhile
    with _lock:
        cancel = _cancel_events.setdefault(report_id, threading.Event())
    trace = CallTrace(session_id=report.session_id, user=report.user, is_streaming=True)
    checked = {"at": 0.0}

    def should_stop() -> bool:
        if cancel.is_set():
            return True
        now = time.monotonic()
        if now - checked["at"] > 1.0:  # the flag a request in another process may have set
            checked["at"] = now
            flagged = DeepAnalysisReport.objects.filter(pk=report_id).values_list("cancel_requested", flat=True)
            if not flagged or flagged[0]:
                cancel.set()
        return cancel.is_set()

    def emit(step: str, status: str, progress: int, **extra) -> None:
        services.report_event_append(
            report_id=report_id, event={"step": step, "status": status, "progress": progress, **extra}
        )

    try:
        emit(
            "initialization",
            "starting",
            5,
            message="Initializing deep analysis...",
            report_uuid=report.report_uuid,
            report_id=report.pk,
        )
        session = AnalysisSession.objects.filter(pk=report.session_id).first()
        if session is None:
            raise ApplicationError("The analysis session is gone.", code="session_not_found")
        result = deep_analysis_execute(
            session=session,
            user=report.user,
            goal=report.goal,
            emit=emit,
            should_stop=should_stop,
            trace=trace,
            agent_workers=agent_workers,
        )
        emit(
            "analysis",
            "completed",
            90,
            message=f"Analysed {len(result['synthesis'])} questions with {len(result['plotly_figs'][0])} figures",
        )
        emit("report", "processing", 95, message="Generating final report...")
        report.refresh_from_db()
        html = report_html_render(report=report, analysis=result, standalone=False)
        services.report_complete(
            report=report, result=result, html=html, totals=trace.totals(), usage_ids=trace.usage_ids
        )
        return result
    except DeepAnalysisReport.DoesNotExist:
        return None  # deleted while running
    except DeepAnalysisStoppedError:
        _fail(report_id, services.CANCELLED_MESSAGE, trace)
    except ApplicationError as error:
        _fail(report_id, error.message, trace)
    except Exception:
        logger.exception("deep analysis %s failed", report_id)
        _fail(report_id, "The analysis failed unexpectedly; the failure was logged.", trace)
    return None


def _fail(report_id: int, message: str, trace: CallTrace) -> None:
    report = DeepAnalysisReport.objects.filter(pk=report_id, status__in=DeepAnalysisReport.ACTIVE).first()
    if report is not None:
        services.report_fail(report=report, message=message, totals=trace.totals(), usage_ids=trace.usage_ids)
