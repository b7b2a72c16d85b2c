"""``POST /deep_analysis_streaming`` end to end with the offline engine and the real
sandbox: the events the frontend reads, real numbers, figures, usage, the report row;
plan repair and its failure; cancellation; bad input."""

from __future__ import annotations

import json

import pytest

from analytics.models import ModelUsage
from codeexec.models import CodeExecution
from deep_analysis import offline, services
from deep_analysis.jobs import deep_analysis_job
from deep_analysis.models import DeepAnalysisEvent, DeepAnalysisReport
from deep_analysis.pipeline import plan_parse
from tests.conftest import read_stream

pytestmark = pytest.mark.django_db(transaction=True)

GOAL = "What drives house prices?"
STEPS = [
    ("initialization", "starting", 5),
    ("questions", "processing", 10),
    ("questions", "completed", 20),
    ("planning", "processing", 25),
    ("planning", "completed", 40),
    ("agent_execution", "processing", 45),
    *[("agent_execution", "processing", int(45 + 15 * i / 10)) for i in range(1, 11)],
    ("agent_execution", "completed", 60),
    ("code_synthesis", "processing", 65),
    ("code_synthesis", "completed", 80),
    ("code_execution", "processing", 82),
    ("code_execution", "completed", 85),
    ("synthesis", "processing", 87),
    ("synthesis", "completed", 90),
    ("conclusion", "processing", 95),
    ("analysis", "completed", 90),
    ("report", "processing", 95),
    ("completed", "success", 100),
]


def start(client, session_id, goal=GOAL):
    return client.post("/deep_analysis_streaming", {"goal": goal}, format="json", HTTP_X_SESSION_ID=session_id)


def test_a_run_streams_every_step_and_ends_with_a_real_multi_question_report(client, housing_session, housing):
    response = start(client, housing_session)
    assert response.status_code == 200
    assert response["Content-Type"] == "text/event-stream"
    events = read_stream(response)

    assert [(e.get("step"), e.get("status"), e.get("progress")) for e in events] == STEPS
    assert [e["sequence"] for e in events] == list(range(1, len(STEPS) + 1))
    assert all(isinstance(e["message"], str) and e["message"] for e in events)
    assert events[0]["report_uuid"] == response["X-Report-UUID"]
    questions = events[2]["content"].splitlines()
    assert questions == [
        "1. What is the distribution of price, and how skewed is it?",
        "2. Which numeric columns correlate most strongly with price?",
        "3. How does the average price differ across furnishingstatus groups?",
        "4. How does price relate to area?",
        "5. Which factors best predict price in a regression model?",
    ]
    plan = json.loads(events[4]["content"])
    assert plan["planner_statistical_analytics_agent"]["questions"] == [1, 2, 3, 4]
    assert plan["planner_sk_learn_agent"]["questions"] == [5]
    assert plan["planner_data_viz_agent"]["questions"] == [1, 2, 3, 4, 5]

    final = events[-1]
    analysis = final["analysis"]
    assert sorted(analysis) == [
        "code", "deep_plan", "deep_questions", "final_conclusion", "goal", "plotly_figs", "summaries", "synthesis",
    ]  # fmt: skip
    assert analysis["goal"] == GOAL
    assert len(analysis["summaries"]) == 10
    assert len(analysis["synthesis"]) == 5
    assert len(analysis["plotly_figs"]) == 1 and len(analysis["plotly_figs"][0]) == 5
    types = [json.loads(figure)["data"][0]["type"] for figure in analysis["plotly_figs"][0]]
    assert types == ["histogram", "bar", "bar", "scatter", "scatter"]
    price = housing["price"]
    first, second, third, fourth, _ = analysis["synthesis"]
    assert f"- Mean price: {price.mean():,.2f}" in first
    assert f"- Skewness: {price.skew():.3f} (right-skewed)" in first
    assert f"- Strongest correlation with price: area (r = {price.corr(housing['area']):.3f})" in second
    furnished = housing[housing.furnishingstatus == "furnished"]["price"]
    assert (
        f"- furnished: mean {furnished.mean():,.2f}, median {furnished.median():,.2f}, {len(furnished)} rows" in third
    )
    assert f"Pearson r between price and area: {price.corr(housing['area']):.3f}" in fourth
    assert analysis["final_conclusion"].startswith(
        "The analysis of \u201cWhat drives house prices?\u201d answered 5 of 5 research questions"
    )
    assert "timeout" not in analysis["final_conclusion"].lower()
    assert analysis["code"].startswith(
        "print('## Question 1: What is the distribution of price, and how skewed is it?')"
    )
    assert final["html_report"].startswith("<!DOCTYPE html>")

    report = DeepAnalysisReport.objects.get(report_uuid=final["report_uuid"])
    assert (report.status, report.progress_percentage, report.error_message) == ("completed", 100, None)
    assert report.session_id == housing_session and report.user_id is None
    assert report.synthesis == analysis["synthesis"] and report.plotly_figures == analysis["plotly_figs"]
    assert report.final_conclusion == analysis["final_conclusion"]
    assert report.report_summary == services.report_summary_text(analysis["final_conclusion"])
    assert report.html_report == final["html_report"]
    assert report.steps_completed == [
        "questions", "planning", "agent_execution", "code_synthesis", "code_execution", "synthesis", "analysis",
        "completed",
    ]  # fmt: skip
    assert report.last_sequence == len(STEPS) == DeepAnalysisEvent.objects.filter(report=report).count()
    assert report.duration_seconds > 0 and report.end_time is not None
    assert (report.model_provider, report.model_name) == ("offline", report.model_name)

    usage = ModelUsage.objects.filter(pk__in=report.usage_ids)
    assert usage.count() == len(report.usage_ids) == final["totals"]["lm_calls"]
    by_purpose = {p: usage.filter(purpose=p).count() for p in ("deep_analysis", "agent", "summary", "code_fix")}
    # The combined program runs once; only when the sandbox stops it (the tests' 4 s wall
    # limit on a loaded machine) is it repaired, and the agents' own results are used.
    program_ran = events[20]["message"] == "Program ran: 5 figures"
    assert program_ran or events[20]["message"].startswith("The combined program failed (")
    assert by_purpose == {"deep_analysis": 9, "agent": 10, "summary": 10, "code_fix": by_purpose["code_fix"]}
    assert (by_purpose["code_fix"] == 0) == program_ran
    assert report.total_tokens_used == sum(u.total_tokens for u in usage) == final["totals"]["total_tokens"]
    assert report.total_tokens_used > 0
    assert sorted(usage.filter(purpose="deep_analysis").values_list("agent_name", flat=True)) == sorted(
        ["deep_questions", "deep_planner", "deep_code_synthesizer", "deep_conclusion", *["deep_synthesizer"] * 5]
    )
    assert CodeExecution.objects.filter(session_id=housing_session).count() == 10


def test_the_stream_of_a_finished_run_can_be_replayed_after_a_sequence(client, housing_session):
    report = services.report_start(
        user=_anonymous(), session_id=housing_session, goal="g", model_provider="offline", model_name="m"
    )
    services.report_mark_running(report_id=report.pk)
    for progress in (5, 10, 20):
        services.report_event_append(
            report_id=report.pk, event={"step": "questions", "status": "processing", "progress": progress}
        )
    services.report_fail(report=report, message="boom")
    response = client.get(
        f"/deep_analysis/reports/{report.report_uuid}/events?after=2", HTTP_X_SESSION_ID=housing_session
    )
    events = read_stream(response)
    assert [e["sequence"] for e in events] == [3, 4]
    assert events[0]["progress"] == 20
    assert events[1] == {
        "type": "error",
        "error": "boom",
        "message": "Deep analysis failed: boom",
        "report_uuid": report.report_uuid,
        "report_id": report.pk,
        "sequence": 4,
    }
    report.refresh_from_db()
    assert (report.status, report.progress_percentage, report.error_message) == ("failed", 20, "boom")


def _anonymous():
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


def test_an_invalid_plan_is_repaired_once(client, housing_session, monkeypatch):
    monkeypatch.setattr(offline, "plan", lambda **kwargs: '{"no_such_agent": {"questions": [1]}}')
    monkeypatch.setattr(
        offline,
        "fix_plan",
        lambda **kwargs: json.dumps(
            {"planner_statistical_analytics_agent": {"questions": [1, 2, 3, 4, 5], "instruction": ""}}
        ),
    )
    events = read_stream(start(client, housing_session, "Describe price and area"))
    repair = [e for e in events if e.get("message", "").startswith("Repairing the plan")]
    assert events[-1].get("step") == "completed", events[-1]
    assert [(e["step"], e["status"], e["progress"]) for e in repair] == [("planning", "processing", 30)]
    assert repair[0]["message"].startswith("Repairing the plan: unknown agents ['no_such_agent']; available: [")
    assert events[-1]["step"] == "completed"
    assert len(events[-1]["analysis"]["summaries"]) == 5


def test_a_plan_still_invalid_after_its_repair_fails_the_run_with_a_line_the_frontend_understands(
    client, housing_session, monkeypatch
):
    monkeypatch.setattr(offline, "plan", lambda **kwargs: "not json at all")
    monkeypatch.setattr(offline, "fix_plan", lambda **kwargs: '{"planner_data_viz_agent": {"questions": [1]}}')
    events = read_stream(start(client, housing_session))
    final = events[-1]
    assert "status" not in final and final["type"] == "error"
    assert final["error"] == (
        "The planner's plan was invalid (the plan is not a JSON object) and its repair too (questions [2, 3, 4, 5] "
        "have no agent)."
    )
    report = DeepAnalysisReport.objects.get(report_uuid=final["report_uuid"])
    assert (report.status, report.error_message) == ("failed", final["error"])
    assert report.total_tokens_used > 0 and len(report.usage_ids) == 3
    assert CodeExecution.objects.count() == 0


def test_plan_parse_names_each_problem():
    agents = {"a", "b"}
    assert plan_parse('{"a": {"questions": [1, 2]}}', agents=agents, question_count=2) == (
        {"a": {"questions": [1, 2], "instruction": ""}},
        "",
    )
    assert plan_parse("```json\n{'a': {'questions': [2, 1, 1], 'instruction': 'x'}, 'b': 'draw'}\n```",
                      agents=agents, question_count=2) == (
        {"a": {"questions": [1, 2], "instruction": "x"}, "b": {"questions": [1, 2], "instruction": "draw"}},
        "",
    )  # fmt: skip
    assert plan_parse("[]", agents=agents, question_count=2) == ({}, "the plan is empty or not a JSON object")
    assert plan_parse('{"a": {"questions": [3]}}', agents=agents, question_count=2) == (
        {},
        "a: question numbers must be between 1 and 2",
    )
    assert plan_parse('{"a": {"questions": "1"}}', agents=agents, question_count=2) == (
        {},
        "a: `questions` must be a list of question numbers",
    )
    assert plan_parse('{"a": {"questions": [1]}}', agents=agents, question_count=2) == (
        {},
        "questions [2] have no agent",
    )


def test_a_cancelled_run_stops_at_its_next_step(client, housing_session, monkeypatch):
    original = services.report_event_append

    def append(*, report_id, event, **updates):
        sent = original(report_id=report_id, event=event, **updates)
        if event.get("step") == "planning" and event.get("status") == "completed":
            report = DeepAnalysisReport.objects.get(pk=report_id)
            services.report_cancel(report=report)  # as POST .../cancel from another request
        return sent

    monkeypatch.setattr(services, "report_event_append", append)
    events = read_stream(start(client, housing_session))
    assert [e.get("step") for e in events[-2:]] == ["planning", None]
    assert events[-1]["error"] == "The analysis was cancelled."
    report = DeepAnalysisReport.objects.get(report_uuid=events[-1]["report_uuid"])
    assert (report.status, report.error_message, report.progress_percentage) == (
        "failed",
        "The analysis was cancelled.",
        40,
    )
    assert CodeExecution.objects.count() == 0


def test_cancel_route_ends_a_queued_run_and_refuses_a_finished_one(client, housing_session):
    report = services.report_start(
        user=_anonymous(), session_id=housing_session, goal="g", model_provider="offline", model_name="m"
    )
    url = f"/deep_analysis/reports/{report.report_uuid}/cancel"
    response = client.post(url, HTTP_X_SESSION_ID=housing_session)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["error_message"]) == ("failed", "The analysis was cancelled.")
    assert deep_analysis_job(report.pk) is None  # the worker picking it up later does nothing
    again = client.post(url, HTTP_X_SESSION_ID=housing_session)
    assert again.status_code == 409
    assert again.json() == {"detail": "The analysis is already failed.", "code": "not_running"}


def test_bad_input_is_a_clear_4xx_and_leaves_no_row(client, session_id, housing_session, settings):
    assert start(client, housing_session, "   ").status_code == 400
    too_long = start(client, housing_session, "x" * 4001)
    assert too_long.status_code == 400
    no_goal = client.post("/deep_analysis_streaming", {}, format="json", HTTP_X_SESSION_ID=housing_session)
    assert no_goal.status_code == 400
    assert client.post("/deep_analysis_streaming", {"goal": "g"}, format="json").status_code == 400
    unknown = client.post("/deep_analysis_streaming", {"goal": "g"}, format="json", HTTP_X_SESSION_ID="nope")
    assert unknown.status_code == 404
    assert DeepAnalysisReport.objects.count() == 0
    settings.DEEP_ANALYSIS_MAX_ACTIVE_PER_CALLER = 1
    services.report_start(user=_anonymous(), session_id=housing_session, goal="g", model_provider="o", model_name="m")
    busy = start(client, housing_session)
    assert busy.status_code == 429
    assert busy.json()["code"] == "too_many_runs"
    assert DeepAnalysisReport.objects.count() == 1
