"""Runs whose process is gone are failed with a reason, never left ``running``."""

from __future__ import annotations

import socket
import subprocess
import sys
from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from deep_analysis import services
from deep_analysis.models import DeepAnalysisEvent, DeepAnalysisReport

pytestmark = pytest.mark.django_db


def _run(session_id: str, *, worker: str, heartbeat_age: float) -> DeepAnalysisReport:
    report = services.report_start(
        user=AnonymousUser(), session_id=session_id, goal="g", model_provider="offline", model_name="m"
    )
    DeepAnalysisReport.objects.filter(pk=report.pk).update(
        status="running", worker=worker, heartbeat_at=timezone.now() - timedelta(seconds=heartbeat_age)
    )
    return report


def test_a_run_whose_process_died_or_went_silent_is_failed_and_a_live_one_is_not(client, session_id, settings):
    settings.DEEP_ANALYSIS_STALE_SECONDS = 60
    finished = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead_pid = int(finished.stdout)
    host = socket.gethostname()
    dead = _run(session_id, worker=f"{host}:{dead_pid}:abcd", heartbeat_age=1)
    silent = _run(session_id, worker="another-host:1:abcd", heartbeat_age=61)
    alive = _run(session_id, worker="another-host:1:abcd", heartbeat_age=5)
    ours = _run(session_id, worker=services.WORKER_ID, heartbeat_age=3600)

    listed = client.get("/deep_analysis/reports?limit=10", HTTP_X_SESSION_ID=session_id).json()
    by_uuid = {r["report_uuid"]: (r["status"], r["error_message"]) for r in listed}
    assert by_uuid == {
        dead.report_uuid: ("failed", "The server process running this analysis stopped before it finished."),
        silent.report_uuid: (
            "failed",
            "The analysis stopped reporting progress for over 60 s; its server process is gone.",
        ),
        alive.report_uuid: ("running", None),
        ours.report_uuid: ("running", None),  # this process runs it: its pool, not the sweep, decides
    }
    final = DeepAnalysisEvent.objects.get(report=dead)
    assert final.payload["type"] == "error" and final.sequence == 1
    assert services.report_orphans_fail() == 0  # already done


def test_the_heartbeat_touches_only_this_process_unfinished_runs(session_id):
    ours = _run(session_id, worker=services.WORKER_ID, heartbeat_age=30)
    other = _run(session_id, worker="another-host:1:abcd", heartbeat_age=30)
    services.report_heartbeat()
    ours.refresh_from_db()
    other.refresh_from_db()
    assert (timezone.now() - ours.heartbeat_at).total_seconds() < 5
    assert (timezone.now() - other.heartbeat_at).total_seconds() >= 30
