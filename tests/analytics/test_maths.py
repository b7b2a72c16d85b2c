"""The analytics maths against hand-computed fixtures.

Usage rows (tokens = prompt + completion, cost in USD):
  r1 ada  chat1 gpt-5-mini        600+400=1000  0.00095  today       1.2 s
  r2 ada  chat1 claude-sonnet-4-6 1500+500=2000 0.012    2 days ago  3.0 s
  r3 bob  chat2 gpt-5-nano        400+100=500   0.0001   today       0.8 s
  r4 anon -     gpt-5-nano        100+0=100     0.00002  10 days ago 0.2 s (no completion: failed)
  r5 ada  chat1 gpt-5             1000+1000=2000 0.01125 40 days ago 5.0 s (outside 30d)
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from analytics.models import ModelUsage
from analytics.selectors import error_category
from chats.models import Chat
from chats.services import user_create
from tests.analytics.conftest import day, execution_row, feedback_row, usage_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def rows(db):
    ada = user_create(username="ada", email="ada@example.com")
    bob = user_create(username="bob", email="bob@example.com")
    chat1 = Chat.objects.create(user=ada, title="one")
    chat2 = Chat.objects.create(user=bob, title="two")
    r1 = usage_row(user=ada, chat=chat1, model="gpt-5-mini", prompt=600, completion=400, cost="0.00095", ms=1200)
    usage_row(
        user=ada, chat=chat1, model="claude-sonnet-4-6", prompt=1500, completion=500, cost="0.012", days_ago=2, ms=3000
    )
    usage_row(
        user=bob, chat=chat2, model="gpt-5-nano", prompt=400, completion=100, cost="0.0001", ms=800, seconds_ago=2
    )
    usage_row(model="gpt-5-nano", prompt=100, completion=0, cost="0.00002", days_ago=10, ms=200)
    r5 = usage_row(
        user=ada, chat=chat1, model="gpt-5", prompt=1000, completion=1000, cost="0.01125", days_ago=40, ms=5000
    )
    # Exactly 40 days before r1, so chat1 lasts 40 * 86400 s.
    ModelUsage.objects.filter(pk=r5.pk).update(timestamp=r1.timestamp - timedelta(days=40))
    return {"ada": ada, "bob": bob, "chat1": chat1, "chat2": chat2}


def test_dashboard_30d(rows, admin_client):
    body = admin_client.get("/analytics/dashboard?period=30d").json()
    assert body["total_tokens"] == 3600
    assert body["total_cost"] == 0.01307
    assert body["total_requests"] == 4
    assert body["total_users"] == 2
    assert body["avg_cost_per_request"] == 0.0032675
    assert body["model_usage"] == [
        {"model_name": "claude-sonnet-4-6", "tokens": 2000, "cost": 0.012, "requests": 1},
        {"model_name": "gpt-5-mini", "tokens": 1000, "cost": 0.00095, "requests": 1},
        {"model_name": "gpt-5-nano", "tokens": 600, "cost": 0.00012, "requests": 2},
    ]
    assert body["top_users"] == [
        {"user_id": str(rows["ada"].pk), "tokens": 3000, "cost": 0.01295, "requests": 2},
        {"user_id": str(rows["bob"].pk), "tokens": 500, "cost": 0.0001, "requests": 1},
    ]
    daily = {entry["date"]: entry for entry in body["daily_usage"]}
    assert len(body["daily_usage"]) == 31
    assert daily[day()] == {"date": day(), "tokens": 1500, "cost": 0.00105, "requests": 2}
    assert daily[day(2)] == {"date": day(2), "tokens": 2000, "cost": 0.012, "requests": 1}
    assert daily[day(10)] == {"date": day(10), "tokens": 100, "cost": 0.00002, "requests": 1}
    assert sum(entry["requests"] for entry in body["daily_usage"]) == 4
    assert (body["start_date"], body["end_date"]) == (day(30, 0), day(0, 0))


def test_usage_summary_is_the_dashboard_and_period_7d_narrows(rows, admin_client):
    seven = admin_client.get("/analytics/usage/summary?period=7d").json()
    assert (seven["total_tokens"], seven["total_requests"], seven["total_cost"]) == (3500, 3, 0.01305)
    assert len(seven["daily_usage"]) == 8
    # Unknown periods mean 30 days, as in the reference.
    assert admin_client.get("/analytics/dashboard?period=12y").json()["total_requests"] == 4


def test_daily_days(rows, admin_client):
    body = admin_client.get("/analytics/daily?days=3").json()
    assert [entry["requests"] for entry in body["daily_usage"]] == [0, 1, 0, 2]
    assert body["daily_usage"][-1] == {"date": day(), "tokens": 1500, "cost": 0.00105, "requests": 2}


def test_costs(rows, admin_client):
    summary = admin_client.get("/analytics/costs/summary").json()
    assert summary["totalCost"] == 0.01307
    assert summary["totalTokens"] == 3600
    assert summary["totalRequests"] == 4
    assert summary["avgDailyCost"] == 0.0004357
    assert summary["costPerThousandTokens"] == 0.0036306
    assert summary["daysInPeriod"] == 30
    assert admin_client.get("/analytics/costs/models").json()["model_costs"] == [
        {"model_name": "claude-sonnet-4-6", "cost": 0.012, "tokens": 2000, "requests": 1},
        {"model_name": "gpt-5-mini", "cost": 0.00095, "tokens": 1000, "requests": 1},
        {"model_name": "gpt-5-nano", "cost": 0.00012, "tokens": 600, "requests": 2},
    ]
    assert admin_client.get("/analytics/costs/today").json() == {
        "date": day(),
        "cost": 0.00105,
        "tokens": 1500,
        "requests": 2,
    }
    daily = admin_client.get("/analytics/costs/daily?period=7d").json()["daily_costs"]
    assert daily[-1] == {"date": day(), "cost": 0.00105, "tokens": 1500}
    assert len(daily) == 8


def test_cost_projections_divide_by_active_days(rows, admin_client):
    # 0.01307 USD and 3600 tokens over 3 days with usage.
    assert admin_client.get("/analytics/costs/projections").json() == {
        "nextMonth": 0.1307,
        "next3Months": 0.3921,
        "nextYear": 1.5901833,
        "tokensNextMonth": 36000.0,
        "dailyCost": 0.0043567,
        "dailyTokens": 1200.0,
        "baselineDays": 3,
    }


def test_models_metrics_success_rate_is_a_fraction(rows, admin_client):
    metrics = admin_client.get("/analytics/models/metrics").json()["model_metrics"]
    assert metrics == [
        {
            "name": "claude-sonnet-4-6",
            "avg_tokens": 2000.0,
            "avg_response_time": 3.0,
            "success_rate": 1.0,
            "requests": 1,
        },
        {"name": "gpt-5", "avg_tokens": 2000.0, "avg_response_time": 5.0, "success_rate": 1.0, "requests": 1},
        {"name": "gpt-5-mini", "avg_tokens": 1000.0, "avg_response_time": 1.2, "success_rate": 1.0, "requests": 1},
        {"name": "gpt-5-nano", "avg_tokens": 300.0, "avg_response_time": 0.5, "success_rate": 0.5, "requests": 2},
    ]


def test_usage_models_has_response_time_in_seconds(rows, admin_client):
    models = admin_client.get("/analytics/usage/models").json()["model_usage"]
    assert models[-1] == {
        "model_name": "gpt-5-nano",
        "tokens": 600,
        "cost": 0.00012,
        "requests": 2,
        "avg_response_time": 0.5,
    }


def test_models_history_lists_every_model_in_one_order_every_day(rows, admin_client):
    history = admin_client.get("/analytics/models/history?period=7d").json()["model_history"]
    assert len(history) == 8
    for entry in history:
        assert [model["name"] for model in entry["models"]] == ["claude-sonnet-4-6", "gpt-5-mini", "gpt-5-nano"]
    by_day = {entry["date"]: entry["models"] for entry in history}
    assert by_day[day()] == [
        {"name": "claude-sonnet-4-6", "tokens": 0, "requests": 0},
        {"name": "gpt-5-mini", "tokens": 1000, "requests": 1},
        {"name": "gpt-5-nano", "tokens": 500, "requests": 1},
    ]
    assert by_day[day(2)][0] == {"name": "claude-sonnet-4-6", "tokens": 2000, "requests": 1}


def test_users_and_paging(rows, admin_client):
    body = admin_client.get("/analytics/users?limit=100").json()
    assert body["total"] == 2
    assert [(u["user_id"], u["tokens"], u["cost"], u["requests"]) for u in body["users"]] == [
        (str(rows["ada"].pk), 3000, 0.01295, 2),
        (str(rows["bob"].pk), 500, 0.0001, 1),
    ]
    assert body["users"][0]["first_seen"].endswith("Z") and body["users"][0]["username"] == "ada"
    page = admin_client.get("/analytics/users?limit=1&offset=1").json()
    assert [u["user_id"] for u in page["users"]] == [str(rows["bob"].pk)]
    assert (page["limit"], page["offset"], page["total"]) == (1, 1, 2)


def test_user_activity_and_session_stats(rows, admin_client):
    activity = admin_client.get("/analytics/users/activity?period=30d").json()["user_activity"]
    by_day = {entry["date"]: entry for entry in activity}
    assert len(activity) == 31
    # ada's first usage is 40 days ago: only bob is new today.
    assert by_day[day()] == {"date": day(), "activeUsers": 2, "newUsers": 1, "sessions": 2}
    assert by_day[day(2)] == {"date": day(2), "activeUsers": 1, "newUsers": 0, "sessions": 1}
    assert by_day[day(10)] == {"date": day(10), "activeUsers": 0, "newUsers": 0, "sessions": 0}
    # chat1: 3 queries over exactly 40 days; chat2: 1 query, no duration (left out).
    assert admin_client.get("/analytics/users/sessions/stats").json() == {
        "totalUsers": 2,
        "activeToday": 2,
        "avgQueriesPerSession": 2.0,
        "avgSessionTime": 40 * 86400,
    }


def test_tiers_usage(rows, admin_client):
    tiers = admin_client.get("/analytics/tiers/usage").json()["tier_data"]
    assert sorted(tiers) == ["tier1", "tier2", "tier3", "tier4", "tier5"]
    assert {key: value for key, value in tiers["tier1"].items() if key != "models"} == {
        "name": "Basic",
        "credits": 1,
        "total_tokens": 600,
        "total_requests": 2,
        "total_cost": 0.00012,
        "avg_tokens_per_query": 300.0,
        "cost_per_1k_tokens": 0.0002,
        "total_credit_cost": 2,
        "cost_per_credit": 0.00006,
    }
    assert tiers["tier1"]["models"] == [
        {"name": "gpt-5-nano", "tokens": 600, "cost": 0.00012, "requests": 2, "avg_tokens_per_query": 300.0}
    ]
    assert (tiers["tier2"]["total_credit_cost"], tiers["tier2"]["cost_per_credit"]) == (3, 0.0003167)
    assert (tiers["tier3"]["cost_per_1k_tokens"], tiers["tier3"]["cost_per_credit"]) == (0.006, 0.0024)
    assert tiers["tier4"]["total_requests"] == 0 and tiers["tier4"]["cost_per_credit"] == 0.0


def test_unknown_models_count_in_tier1(db, admin_client):
    usage_row(model="home-brew-llm", prompt=10, completion=10, cost="0")
    tiers = admin_client.get("/analytics/tiers/usage").json()["tier_data"]
    assert tiers["tier1"]["models"][0]["name"] == "home-brew-llm"


def test_tiers_efficiency(rows, admin_client):
    body = admin_client.get("/analytics/tiers/efficiency").json()
    assert body["efficiency_data"]["tier1"]["tokens_per_credit"] == 300.0
    assert body["efficiency_data"]["tier2"]["tokens_per_credit"] == 333.3333
    assert body["efficiency_data"]["tier3"]["tokens_per_credit"] == 400.0
    assert body["efficiency_data"]["tier3"]["credit_cost"] == 5
    assert body["most_efficient_tier"] == "tier3"
    assert body["best_value_tier"] == "tier1"


def test_tiers_projections(rows, admin_client):
    body = admin_client.get("/analytics/tiers/projections").json()
    monthly, yearly = body["projections"]["monthly"], body["projections"]["yearly"]
    assert monthly["requests"] == {"tier1": 2, "tier2": 1, "tier3": 1, "tier4": 0, "tier5": 0}
    assert monthly["credits"] == {"tier1": 2, "tier2": 3, "tier3": 5, "tier4": 0, "tier5": 0}
    assert (monthly["total_requests"], monthly["total_credits"], monthly["total_cost"]) == (4, 10, 0.01307)
    assert body["projections"]["quarterly"]["total_tokens"] == 10800
    assert yearly["requests"]["tier1"] == 24.3333333
    assert body["daily_usage"]["tier3"] == {
        "name": "Premium",
        "daily_requests": 1 / 30,
        "daily_tokens": 2000 / 30,
        "daily_cost": 0.012 / 30,
        "daily_credits": 5 / 30,
    }
    assert body["tier_definitions"]["tier5"] == {
        "name": "Ultimate",
        "credits": 50,
        "models": ["gpt-5.2-pro", "gpt-5.4-pro"],
    }


@pytest.fixture
def executions(rows):
    ada, bob = rows["ada"], rows["bob"]
    execution_row(ok=True, user=ada, chat_id=rows["chat1"].pk)
    execution_row(
        ok=False, agent="data_viz_agent", error="NameError: name 'x' is not defined", user=ada, chat_id=rows["chat1"].pk
    )
    execution_row(
        ok=False,
        model="claude-sonnet-4-6",
        agent="data_viz_agent",
        error="KeyError: 'price'",
        user=bob,
        chat_id=rows["chat2"].pk,
    )
    execution_row(
        ok=False, model="claude-sonnet-4-6", agent="preprocessing_agent", error="Execution timed out after 4 s"
    )
    return rows


def test_code_execution_summary(executions, admin_client):
    body = admin_client.get("/analytics/code-executions/summary?period=7d").json()
    assert body["overall_stats"] == {
        "total_executions": 4,
        "successful_executions": 1,
        "failed_executions": 3,
        "success_rate": 0.25,
        "total_users": 2,
        "total_chats": 2,
    }
    assert body["model_performance"] == [
        {
            "model_name": "claude-sonnet-4-6",
            "total_executions": 2,
            "successful_executions": 0,
            "success_rate": 0.0,
            "user_count": 1,
        },
        {
            "model_name": "gpt-5-mini",
            "total_executions": 2,
            "successful_executions": 1,
            "success_rate": 0.5,
            "user_count": 1,
        },
    ]
    assert body["failed_agents"] == [
        {"agent_name": "data_viz_agent", "failure_count": 2},
        {"agent_name": "preprocessing_agent", "failure_count": 1},
    ]


def test_code_execution_error_analysis(executions, admin_client):
    body = admin_client.get("/analytics/code-executions/error-analysis").json()
    assert body["total_failed_executions"] == 3
    assert body["error_types"] == [
        {"error_type": "IndexError/KeyError", "count": 1},
        {"error_type": "NameError", "count": 1},
        {"error_type": "TimeoutError", "count": 1},
    ]
    assert body["error_by_agent"] == [
        {
            "agent_name": "data_viz_agent",
            "error_count": 2,
            "common_errors": [
                {"error_type": "IndexError/KeyError", "count": 1},
                {"error_type": "NameError", "count": 1},
            ],
        },
        {
            "agent_name": "preprocessing_agent",
            "error_count": 1,
            "common_errors": [{"error_type": "TimeoutError", "count": 1}],
        },
    ]


def test_code_execution_detailed_and_users(executions, admin_client):
    failed = admin_client.get("/analytics/code-executions/detailed?success_filter=false&limit=100").json()
    assert failed["count"] == 3
    first = failed["executions"][0]
    assert first["model_info"] == {
        "provider": "openai",
        "name": "claude-sonnet-4-6",
        "temperature": None,
        "max_tokens": None,
    }
    assert first["failed_agents"] == ["preprocessing_agent"]
    assert first["latest_code_preview"] == "x" * 500 + "..."
    assert first["user_id"] is None
    mine = admin_client.get(f"/analytics/code-executions/detailed?user_id={executions['ada'].pk}").json()
    assert mine["count"] == 2
    users = admin_client.get("/analytics/code-executions/users").json()["users"]
    assert [(u["user_id"], u["total_executions"], u["failed_executions"], u["success_rate"]) for u in users] == [
        (executions["ada"].pk, 2, 1, 0.5),
        (executions["bob"].pk, 1, 1, 0.0),
    ]


@pytest.mark.parametrize(
    ("message", "category"),
    [
        ("NameError: name 'df2' is not defined", "NameError"),
        ("  File x, line 1\nSyntaxError: invalid syntax", "SyntaxError"),
        ("TypeError: unsupported operand type(s)", "TypeError"),
        ("unsupported operand type(s) for +", "OperationError"),
        ("ModuleNotFoundError: No module named 'x'", "ImportError"),
        ("IndentationError: unexpected indent", "IndentationError"),
        ("MemoryError", "MemoryError"),
        ("the run timed out", "TimeoutError"),
        ("something else", "OtherError"),
    ],
)
def test_error_categories_in_order(message, category):
    assert error_category(message) == category


@pytest.fixture
def feedback(rows):
    feedback_row(rating=5, chat=rows["chat1"])
    feedback_row(rating=4, chat=rows["chat1"], content="y" * 250)
    feedback_row(rating=2, model="claude-sonnet-4-6", chat=rows["chat2"])
    return rows


def test_feedback_summary(feedback, admin_client):
    body = admin_client.get("/analytics/feedback/summary?period=7d").json()
    assert (body["total_feedback"], body["avg_rating"], body["chats_with_feedback"]) == (3, 3.67, 2)
    assert body["ratings_distribution"] == [
        {"rating": 1, "count": 0},
        {"rating": 2, "count": 1},
        {"rating": 3, "count": 0},
        {"rating": 4, "count": 1},
        {"rating": 5, "count": 1},
    ]
    assert body["models_data"] == [
        {"model_name": "gpt-5-mini", "total_feedback": 2, "avg_rating": 4.5},
        {"model_name": "claude-sonnet-4-6", "total_feedback": 1, "avg_rating": 2.0},
    ]
    assert body["feedback_trend"][-1] == {"date": day(), "avg_rating": 3.67, "count": 3}
    assert body["feedback_trend"][0] == {"date": day(7, 0), "avg_rating": 0, "count": 0}


def test_feedback_detailed_filters_and_pages(feedback, admin_client):
    body = admin_client.get("/analytics/feedback/detailed?min_rating=4&limit=1&offset=0").json()
    assert (body["total"], body["count"]) == (2, 1)
    item = body["feedback"][0]
    assert item["rating"] == 4
    assert item["message_preview"] == "y" * 200 + "..."
    assert item["message_sender"] == "ai"
    assert item["chat_id"] == feedback["chat1"].pk


def test_public_ticker_counts(rows, client):
    body = client.get("/analytics/public/ticker").json()
    assert (body["total_signups"], body["total_tokens"], body["total_requests"]) == (2, 5600, 5)


def test_empty_database_gives_zeros_not_nulls(admin_client):
    body = admin_client.get("/analytics/usage/summary").json()
    assert (body["total_cost"], body["avg_cost_per_request"], body["total_tokens"]) == (0.0, 0.0, 0)
    summary = admin_client.get("/analytics/costs/summary").json()
    assert (summary["costPerThousandTokens"], summary["avgDailyCost"]) == (0.0, 0.0)
    assert admin_client.get("/analytics/feedback/summary").json()["avg_rating"] == 0.0
    efficiency = admin_client.get("/analytics/tiers/efficiency").json()
    assert (efficiency["most_efficient_tier"], efficiency["best_value_tier"]) == ("tier1", "tier1")
    assert admin_client.get("/analytics/users/sessions/stats").json() == {
        "totalUsers": 0,
        "activeToday": 0,
        "avgQueriesPerSession": 0.0,
        "avgSessionTime": 0,
    }
