"""The §1.6 report routes: one row per run, every lookup scoped to the caller (their user,
or their anonymous session), the frontend's own ids and copies, downloads."""

from __future__ import annotations

import json
from datetime import timedelta

import plotly.express as px
import pytest
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone
from rest_framework.test import APIClient

from deep_analysis import services
from deep_analysis.models import DeepAnalysisReport

pytestmark = pytest.mark.django_db

FIGURE = px.bar(x=["a", "b"], y=[1, 2], title="Counts").to_json()


def finished(
    *, user=None, session_id: str = "", goal: str = "Why?", conclusion: str = "**Conclusion** Because."
) -> DeepAnalysisReport:
    report = services.report_start(
        user=user or AnonymousUser(), session_id=session_id, goal=goal, model_provider="offline", model_name="m"
    )
    services.report_mark_running(report_id=report.pk)
    result = {
        "goal": goal,
        "deep_questions": "1. Why?",
        "deep_plan": "{}",
        "summaries": ["s"],
        "code": "print(1)",
        "plotly_figs": [[FIGURE]],
        "synthesis": ["### Why?\n\n- Because"],
        "final_conclusion": conclusion,
    }
    totals = {"total_tokens": 12, "cost": 0.5}
    services.report_complete(report=report, result=result, html="<p>stored</p>", totals=totals, usage_ids=[])
    report.refresh_from_db()
    return report


def test_list_detail_and_html_are_the_callers_only(client, session_id):
    mine = finished(session_id=session_id)
    other_session = APIClient().post("/generate-session").json()["session_id"]
    theirs = finished(session_id=other_session)
    headers = {"HTTP_X_SESSION_ID": session_id}
    listed = client.get("/deep_analysis/reports", **headers).json()
    assert [r["report_uuid"] for r in listed] == [mine.report_uuid]
    assert sorted(listed[0]) == sorted(
        ["report_id", "report_uuid", "user_id", "goal", "status", "start_time", "end_time", "duration_seconds",
         "report_summary", "progress_percentage", "error_message", "created_at", "updated_at"]
    )  # fmt: skip
    assert listed[0]["report_summary"] == "Because...."
    detail = client.get(f"/deep_analysis/reports/uuid/{mine.report_uuid}", **headers).json()
    assert (detail["status"], detail["progress_percentage"], detail["total_tokens_used"]) == ("completed", 100, 12)
    assert detail["estimated_cost"] == 0.5 and detail["synthesis"] == ["### Why?\n\n- Because"]
    assert client.get(f"/deep_analysis/reports/{mine.pk}", **headers).json()["report_uuid"] == mine.report_uuid
    for path in (f"/deep_analysis/reports/{theirs.pk}", f"/deep_analysis/reports/uuid/{theirs.report_uuid}",
                 f"/deep_analysis/reports/uuid/{theirs.report_uuid}/html",
                 f"/deep_analysis/reports/{theirs.report_uuid}/events"):  # fmt: skip
        response = client.get(path, **headers)
        assert response.status_code == 404, path
        assert response.json()["code"] == "report_not_found"
    assert client.delete(f"/deep_analysis/reports/{theirs.report_uuid}", **headers).status_code == 404
    assert client.post(f"/deep_analysis/download_from_db/{theirs.report_uuid}", **headers).status_code == 404
    assert client.get("/deep_analysis/reports").status_code == 400  # who is asking?
    html = client.get(f"/deep_analysis/reports/uuid/{mine.report_uuid}/html", **headers).json()
    assert html["filename"].startswith("deep_analysis_report_") and html["html_report"].startswith("<!DOCTYPE html>")
    mine.refresh_from_db()
    assert mine.html_report == html["html_report"]  # regenerated and stored


def test_an_authenticated_callers_reports_and_history(make_user):
    ada, ada_key = make_user("ada")
    bob, _ = make_user("bob")
    api = APIClient()
    api.credentials(HTTP_X_API_KEY=ada_key)
    first = finished(user=ada, goal="first")
    second = finished(user=ada, goal="second")
    finished(user=bob, goal="bob's")
    history = api.get(f"/deep_analysis/reports/user_historical?user_id={ada.pk}&limit=10").json()
    assert [r["goal"] for r in history] == ["second", "first"]
    assert history[0]["deep_questions"] == "1. Why?" and history[0]["user_id"] == ada.pk
    assert api.get(f"/deep_analysis/reports/user_historical?user_id={bob.pk}").status_code == 403
    assert api.get("/deep_analysis/reports/user_historical").status_code == 400  # user_id is required
    assert [r["goal"] for r in api.get("/deep_analysis/reports?limit=1&offset=1").json()] == ["first"]
    assert api.get("/deep_analysis/reports?limit=0").status_code == 400
    assert api.get("/deep_analysis/reports?status=running").json() == []
    deleted = api.delete(f"/deep_analysis/reports/{first.report_uuid}?user_id={ada.pk}")
    assert deleted.json() == {"message": f"Report {first.report_uuid} deleted successfully"}
    assert list(DeepAnalysisReport.objects.filter(user=ada).values_list("goal", flat=True)) == ["second"]
    assert api.delete(f"/deep_analysis/reports/{second.pk}").status_code == 200


def test_status_updates_are_checked(client, session_id):
    report = finished(session_id=session_id)
    url = f"/deep_analysis/reports/{report.report_uuid}/status"
    bad = client.put(url, {"status": "done"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert bad.status_code == 400 and bad.json() == {"detail": "Invalid status value", "code": "invalid_status"}
    ok = client.put(url, {"status": "failed"}, format="json", HTTP_X_SESSION_ID=session_id)
    assert ok.status_code == 200 and ok.json()["status"] == "failed"
    running = services.report_start(
        user=AnonymousUser(), session_id=session_id, goal="g", model_provider="o", model_name="m"
    )
    refused = client.put(
        f"/deep_analysis/reports/{running.report_uuid}/status", {"status": "completed"}, format="json",
        HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert refused.status_code == 409


def test_downloads_are_standalone_attachments_rendered_from_fields(client, session_id):
    report = finished(session_id=session_id)
    response = client.post(f"/deep_analysis/download_from_db/{report.report_uuid}", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/html; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="deep_analysis_report_')
    body = response.content.decode()
    assert "/deep_analysis/assets/plotly.min.js" not in body and "Plotly" in body
    assert "<p>stored</p>" not in body  # never the stored string: rendered from the row's fields
    posted = client.post(
        "/deep_analysis/download_report",
        {"analysis_data": {"goal": "<script>x</script>", "plotly_figs": [[FIGURE]], "final_conclusion": "Done"},
         "report_uuid": report.report_uuid},
        format="json", HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert posted.status_code == 200 and "&lt;script&gt;x&lt;/script&gt;" in posted.content.decode()
    report.refresh_from_db()
    assert "&lt;script&gt;x&lt;/script&gt;" in report.html_report
    missing = client.post("/deep_analysis/download_report", {}, format="json", HTTP_X_SESSION_ID=session_id)
    assert missing.status_code == 400
    wrong = client.post(
        "/deep_analysis/download_report", {"analysis_data": {"synthesis": "not a list"}}, format="json",
        HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert wrong.status_code == 400


def test_the_frontends_own_id_finds_the_run_that_just_ended(client, session_id):
    report = finished(session_id=session_id)
    client_id = f"report_{int((report.end_time + timedelta(seconds=2)).timestamp() * 1000)}"
    response = client.post(f"/deep_analysis/download_from_db/{client_id}", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200
    report.refresh_from_db()
    assert report.client_uuid == client_id
    far = f"report_{int((timezone.now() + timedelta(hours=2)).timestamp() * 1000)}"
    assert client.post(f"/deep_analysis/download_from_db/{far}", HTTP_X_SESSION_ID=session_id).status_code == 404
    assert client.delete(f"/deep_analysis/reports/{client_id}", HTTP_X_SESSION_ID=session_id).status_code == 200
    assert DeepAnalysisReport.objects.count() == 0


def test_the_frontends_copy_of_a_run_updates_that_run_instead_of_adding_a_row(client, session_id):
    report = finished(session_id=session_id)
    client_id = f"report_{int(report.end_time.timestamp() * 1000)}"
    copy = {
        "report_uuid": client_id, "goal": report.goal, "status": "completed", "final_conclusion": "client's text",
        "html_report": "<script>window.__pwned=1</script>", "summaries": ["x"], "plotly_figures": [[FIGURE]],
        "total_tokens_used": 0, "estimated_cost": 0.0, "model_provider": "anthropic",
    }  # fmt: skip
    response = client.post("/deep_analysis/reports", copy, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200 and response.json()["report_uuid"] == report.report_uuid
    again = client.post(
        "/deep_analysis/reports", {**copy, "report_uuid": report.report_uuid}, format="json",
        HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert again.status_code == 200
    assert DeepAnalysisReport.objects.count() == 1
    report.refresh_from_db()
    assert (report.final_conclusion, report.total_tokens_used, report.client_uuid) == (
        "**Conclusion** Because.", 12, client_id,
    )  # fmt: skip
    fresh = client.post(
        "/deep_analysis/reports", {**copy, "report_uuid": "report_1000000000000"}, format="json",
        HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert fresh.status_code == 201
    created = DeepAnalysisReport.objects.get(report_uuid="report_1000000000000")
    assert created.final_conclusion == "client's text" and "__pwned" not in created.html_report
    assert json.loads(created.plotly_figures[0][0])["layout"]["title"]["text"] == "Counts"
    bad = client.post("/deep_analysis/reports", {**copy, "report_uuid": "../x"}, format="json",
                      HTTP_X_SESSION_ID=session_id)  # fmt: skip
    assert bad.status_code == 400
    assert DeepAnalysisReport.objects.count() == 2


def test_a_run_ends_once_the_first_ending_stands(session_id):
    report = finished(session_id=session_id)
    events = report.events.count()
    services.report_fail(report=report, message="late sweep")
    report.refresh_from_db()
    assert (report.status, report.error_message, report.events.count()) == ("completed", None, events)


def test_out_of_range_numbers_and_deep_figures_in_a_client_copy_are_400_or_dropped(client, session_id):
    base = {"report_uuid": "report_1000000000001", "goal": "g", "status": "completed"}
    for field in ("credits_consumed", "total_tokens_used"):
        response = client.post(
            "/deep_analysis/reports", {**base, field: 3_000_000_000}, format="json", HTTP_X_SESSION_ID=session_id
        )
        assert (response.status_code, response.json()["code"]) == (400, "invalid")
    deep = "[" * 5000 + "]" * 5000
    response = client.post(
        "/deep_analysis/reports", {**base, "plotly_figures": [deep, FIGURE]}, format="json",
        HTTP_X_SESSION_ID=session_id,
    )  # fmt: skip
    assert response.status_code == 201
    html = client.get(f"/deep_analysis/reports/uuid/{base['report_uuid']}/html", HTTP_X_SESSION_ID=session_id)
    assert html.status_code == 200
    assert html.json()["html_report"].count('class="figure-data"') == 1
