"""Reads behind every ``/analytics/*`` route and the admin dashboard.

All sums, counts and averages run in the database (``aggregate``/``annotate`` with
``TruncDate``, ``Case``/``When``); Python only fills empty days, reshapes a handful of
grouped rows (one per day, model, tier or user) and divides totals. The one exception is
the code-error analysis, which classifies the stored error text of failed executions:
that needs substring rules over a JSON object per row, and failed executions are few
next to usage rows.

Periods follow the reference: ``7d``, ``30d`` or ``90d``, anything else 30 days; the
window is ``[now - N days, now]`` in UTC and "filled" series have one entry for every
calendar day from the window's first day to today inclusive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import (
    Avg,
    Case,
    CharField,
    Count,
    F,
    Func,
    Max,
    Min,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
    When,
)
from django.utils import timezone

from analytics.models import ModelUsage
from chats.models import MessageFeedback
from codeexec.models import CodeExecution
from sessions_app.catalogue import CREDIT_TIERS, MODELS

PERIOD_DAYS = {"7d": 7, "30d": 30, "90d": 90}
DEFAULT_PERIOD_DAYS = 30


@dataclass(frozen=True)
class Window:
    period: str
    start: datetime
    end: datetime

    @property
    def days(self) -> int:
        return (self.end - self.start).days or 1

    def dates(self) -> list[date]:
        first, last = self.start.date(), self.end.date()
        return [first + timedelta(days=offset) for offset in range((last - first).days + 1)]

    def as_dict(self) -> dict[str, str]:
        return {"period": self.period, "start_date": _day(self.start), "end_date": _day(self.end)}


def window_for_period(period: str | None, *, now: datetime | None = None) -> Window:
    end = now or timezone.now()
    days = PERIOD_DAYS.get(period or "", DEFAULT_PERIOD_DAYS)
    return Window(period=period or "30d", start=end - timedelta(days=days), end=end)


def window_for_days(days: int, *, now: datetime | None = None) -> Window:
    end = now or timezone.now()
    return Window(period=f"{days}d", start=end - timedelta(days=days), end=end)


def _day(value: date | datetime) -> str:
    return value.strftime("%Y-%m-%d")


class UtcDay(Func):
    """The UTC calendar day of a datetime as ``YYYY-MM-DD`` text, computed by the database.

    Analytics days are UTC days whatever ``TIME_ZONE`` says (the reference's rule). On
    SQLite, Django stores aware datetimes as UTC text, so the day is its first ten
    characters: an index-friendly string operation, where ``TruncDate`` calls a Python
    function for every row (about 10x slower over a million rows)."""

    output_field = CharField()

    def as_sqlite(self, compiler, connection, **extra):
        return self.as_sql(compiler, connection, template="SUBSTR(%(expressions)s, 1, 10)", **extra)

    def as_postgresql(self, compiler, connection, **extra):
        template = "to_char(%(expressions)s AT TIME ZONE 'UTC', 'YYYY-MM-DD')"
        return self.as_sql(compiler, connection, template=template, **extra)


def _day_range(day: date) -> tuple[datetime, datetime]:
    start = datetime.combine(day, datetime.min.time(), tzinfo=UTC)
    return start, start + timedelta(days=1)


def _iso(moment: datetime) -> str:
    """ISO 8601 in UTC with ``Z``, like every other datetime of the API."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _money(value: Decimal | float | None) -> float:
    return round(float(value or 0), 7)


def _ratio(numerator: float, denominator: float) -> float:
    return numerator / denominator if denominator else 0.0


def _usage_in(window: Window) -> QuerySet[ModelUsage]:
    return ModelUsage.objects.filter(timestamp__gte=window.start, timestamp__lte=window.end)


_TOTALS = {"tokens": Sum("total_tokens"), "cost": Sum("cost"), "requests": Count("id")}


def _totals_row(row: dict[str, Any]) -> dict[str, Any]:
    return {"tokens": int(row["tokens"] or 0), "cost": _money(row["cost"]), "requests": int(row["requests"] or 0)}


def _daily_usage(queryset: QuerySet[ModelUsage], window: Window) -> list[dict[str, Any]]:
    rows = queryset.annotate(day=UtcDay("timestamp")).values("day").annotate(**_TOTALS).order_by("day")
    by_day = {row["day"]: _totals_row(row) for row in rows}
    empty = {"tokens": 0, "cost": 0.0, "requests": 0}
    return [{"date": _day(day), **by_day.get(_day(day), empty)} for day in window.dates()]


# --- usage -----------------------------------------------------------------------------


def _rollup(rows: list[dict[str, Any]], key: str) -> dict[Any, dict[str, Any]]:
    """Sums grouped rows (a few hundred: day x model) by one of their keys, exactly."""
    sums: dict[Any, dict[str, Any]] = {}
    for row in rows:
        entry = sums.setdefault(row[key], {"tokens": 0, "cost": Decimal(0), "requests": 0})
        entry["tokens"] += row["tokens"] or 0
        entry["cost"] += Decimal(row["cost"] or 0)
        entry["requests"] += row["requests"]
    return sums


def usage_dashboard(*, window: Window) -> dict[str, Any]:
    """Two passes over the window's rows: by (day, model) and by user. Totals, the daily
    series and the model list are sums of the first; user counts come from the second."""
    usage = _usage_in(window)
    cells = list(usage.annotate(day=UtcDay("timestamp")).values("day", "model_name").annotate(**_TOTALS))
    by_day, by_model = _rollup(cells, "day"), _rollup(cells, "model_name")
    per_user = [row for row in usage.values("user_id").annotate(**_TOTALS) if row["user_id"] is not None]
    top_users = sorted(per_user, key=lambda row: (-(row["tokens"] or 0), row["user_id"]))[:10]
    total = _totals_row(
        {
            "tokens": sum(entry["tokens"] for entry in by_model.values()),
            "cost": sum((entry["cost"] for entry in by_model.values()), Decimal(0)),
            "requests": sum(entry["requests"] for entry in by_model.values()),
        }
    )

    empty = {"tokens": 0, "cost": 0, "requests": 0}
    models = sorted(by_model.items(), key=lambda item: (-item[1]["tokens"], item[0]))
    return {
        "total_tokens": total["tokens"],
        "total_cost": total["cost"],
        "total_requests": total["requests"],
        "total_users": len(per_user),
        "avg_cost_per_request": round(_ratio(total["cost"], total["requests"]), 7),
        "daily_usage": [{"date": _day(day), **_totals_row(by_day.get(_day(day), empty))} for day in window.dates()],
        "model_usage": [{"model_name": name, **_totals_row(sums)} for name, sums in models],
        "top_users": [{"user_id": str(row["user_id"]), **_totals_row(row)} for row in top_users],
        "start_date": _day(window.start),
        "end_date": _day(window.end),
    }


def usage_daily(*, window: Window) -> dict[str, Any]:
    return {"daily_usage": _daily_usage(_usage_in(window), window), "days": len(window.dates())}


def usage_by_model(*, window: Window | None) -> dict[str, Any]:
    usage = _usage_in(window) if window else ModelUsage.objects.all()
    rows = (
        usage.values("model_name").annotate(**_TOTALS, avg_ms=Avg("request_time_ms")).order_by("-tokens", "model_name")
    )
    return {
        "model_usage": [
            {
                "model_name": row["model_name"],
                **_totals_row(row),
                "avg_response_time": round(float(row["avg_ms"] or 0) / 1000, 3),
            }
            for row in rows
        ]
    }


def usage_users(*, limit: int, offset: int, now: datetime | None = None) -> dict[str, Any]:
    """Users with usage in the last 7 days (the reference's fixed window), tokens desc."""
    since = (now or timezone.now()) - timedelta(days=7)
    usage = ModelUsage.objects.filter(user__isnull=False, timestamp__gte=since)
    rows = (
        usage.values("user_id", "user__username")
        .annotate(**_TOTALS, first_seen=Min("timestamp"), last_seen=Max("timestamp"))
        .order_by("-tokens", "user_id")[offset : offset + limit]
    )
    return {
        "users": [
            {
                "user_id": str(row["user_id"]),
                "username": row["user__username"],
                **_totals_row(row),
                "first_seen": _iso(row["first_seen"]),
                "last_seen": _iso(row["last_seen"]),
            }
            for row in rows
        ],
        "total": usage.values("user_id").distinct().count(),
        "limit": limit,
        "offset": offset,
    }


def _first_usage_day() -> Subquery:
    first = ModelUsage.objects.filter(user=OuterRef("pk")).order_by("timestamp").values("timestamp")[:1]
    return Subquery(first)


def users_activity(*, window: Window) -> dict[str, Any]:
    """Per day: distinct active users, distinct chats, and users whose first-ever usage is that day."""
    active = (
        _usage_in(window)
        .filter(user__isnull=False)
        .annotate(day=UtcDay("timestamp"))
        .values("day")
        .annotate(active=Count("user", distinct=True), sessions=Count("chat", distinct=True))
        .order_by("day")
    )
    new_users = (
        get_user_model()
        .objects.annotate(first_seen=_first_usage_day())
        .filter(first_seen__gte=window.start, first_seen__lte=window.end)
        .annotate(day=UtcDay("first_seen"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by("day")
    )
    active_by_day = {row["day"]: row for row in active}
    new_by_day = {row["day"]: row["count"] for row in new_users}
    activity = []
    for day in window.dates():
        row = active_by_day.get(_day(day), {"active": 0, "sessions": 0})
        activity.append(
            {
                "date": _day(day),
                "activeUsers": row["active"],
                "newUsers": new_by_day.get(_day(day), 0),
                "sessions": row["sessions"],
            }
        )
    return {"user_activity": activity}


def user_activity_on(*, day: date) -> dict[str, int]:
    """The ``users_activity`` entry of one day (what the realtime feed sends)."""
    start, end = _day_range(day)
    today = ModelUsage.objects.filter(user__isnull=False, timestamp__gte=start, timestamp__lt=end)
    counts = today.aggregate(active=Count("user", distinct=True), sessions=Count("chat", distinct=True))
    new = (
        get_user_model()
        .objects.annotate(first_seen=_first_usage_day())
        .filter(first_seen__gte=start, first_seen__lt=end)
        .count()
    )
    return {"activeUsers": counts["active"], "newUsers": new, "sessions": counts["sessions"]}


def users_session_stats(*, now: datetime | None = None) -> dict[str, Any]:
    """Sessions are chats: queries per chat, and first-to-last usage time of chats that lasted > 0 s."""
    today = (now or timezone.now()).astimezone(UTC).date()
    with_user = ModelUsage.objects.filter(user__isnull=False)
    per_chat = ModelUsage.objects.filter(chat__isnull=False).values("chat_id")
    queries = per_chat.aggregate(requests=Count("id"), chats=Count("chat", distinct=True))
    spans = per_chat.annotate(first=Min("timestamp"), last=Max("timestamp")).filter(last__gt=F("first"))
    # Averaging the spans in SQL would need per-backend date arithmetic; there is one
    # grouped row per chat here, not per usage row.
    durations = [(row["last"] - row["first"]).total_seconds() for row in spans.values("first", "last")]
    return {
        "totalUsers": with_user.values("user_id").distinct().count(),
        "activeToday": with_user.filter(timestamp__gte=_day_range(today)[0], timestamp__lt=_day_range(today)[1])
        .values("user_id")
        .distinct()
        .count(),
        "avgQueriesPerSession": round(_ratio(queries["requests"], queries["chats"]), 1),
        "avgSessionTime": int(sum(durations) / len(durations)) if durations else 0,
    }


# --- models ----------------------------------------------------------------------------


def models_history(*, window: Window) -> dict[str, Any]:
    """Every day lists every model of the window, in one order (tokens desc, then name)."""
    usage = _usage_in(window)
    order = list(usage.values("model_name").annotate(tokens=Sum("total_tokens")).order_by("-tokens", "model_name"))
    names = [row["model_name"] for row in order]
    rows = (
        usage.annotate(day=UtcDay("timestamp"))
        .values("day", "model_name")
        .annotate(tokens=Sum("total_tokens"), requests=Count("id"))
    )
    cells = {(row["day"], row["model_name"]): row for row in rows}
    history = []
    for day in window.dates():
        models = []
        for name in names:
            cell = cells.get((_day(day), name))
            models.append(
                {
                    "name": name,
                    "tokens": int(cell["tokens"]) if cell else 0,
                    "requests": cell["requests"] if cell else 0,
                }
            )
        history.append({"date": _day(day), "models": models})
    return {"model_history": history}


def models_metrics() -> dict[str, Any]:
    """All time. A call "succeeded" when it returned at least one completion token; the
    rate is a real fraction (the reference's integer division made it 1 or 0)."""
    rows = (
        ModelUsage.objects.values("model_name")
        .annotate(
            requests=Count("id"),
            avg_tokens=Avg("total_tokens"),
            avg_ms=Avg("request_time_ms"),
            answered=Count("id", filter=Q(completion_tokens__gte=1)),
        )
        .order_by("-avg_tokens", "model_name")
    )
    return {
        "model_metrics": [
            {
                "name": row["model_name"],
                "avg_tokens": round(float(row["avg_tokens"] or 0), 2),
                "avg_response_time": round(float(row["avg_ms"] or 0) / 1000, 3),
                "success_rate": round(_ratio(row["answered"], row["requests"]), 4),
                "requests": row["requests"],
            }
            for row in rows
        ]
    }


# --- costs -----------------------------------------------------------------------------


def costs_summary(*, window: Window) -> dict[str, Any]:
    totals = _totals_row(_usage_in(window).aggregate(**_TOTALS))
    return {
        "totalCost": totals["cost"],
        "totalTokens": totals["tokens"],
        "totalRequests": totals["requests"],
        "avgDailyCost": round(totals["cost"] / window.days, 7),
        "costPerThousandTokens": round(_ratio(totals["cost"], totals["tokens"] / 1000), 7),
        "avgCostPerRequest": round(_ratio(totals["cost"], totals["requests"]), 7),
        "daysInPeriod": window.days,
        "startDate": _day(window.start),
        "endDate": _day(window.end),
    }


def costs_daily(*, window: Window) -> dict[str, Any]:
    daily = _daily_usage(_usage_in(window), window)
    return {"daily_costs": [{"date": row["date"], "cost": row["cost"], "tokens": row["tokens"]} for row in daily]}


def costs_by_model(*, window: Window) -> dict[str, Any]:
    rows = _usage_in(window).values("model_name").annotate(**_TOTALS).order_by("-cost", "model_name")
    return {"model_costs": [{"model_name": row["model_name"], **_totals_row(row)} for row in rows]}


def costs_projections(*, now: datetime | None = None) -> dict[str, Any]:
    """The last 30 days divided by the number of days that had any usage (at least 1)."""
    window = window_for_period("30d", now=now)
    usage = _usage_in(window)
    totals = _totals_row(usage.aggregate(**_TOTALS))
    active_days = usage.annotate(day=UtcDay("timestamp")).values("day").distinct().count() or 1
    daily_cost = totals["cost"] / active_days
    daily_tokens = totals["tokens"] / active_days
    return {
        "nextMonth": round(daily_cost * 30, 7),
        "next3Months": round(daily_cost * 90, 7),
        "nextYear": round(daily_cost * 365, 7),
        "tokensNextMonth": round(daily_tokens * 30, 2),
        "dailyCost": round(daily_cost, 7),
        "dailyTokens": round(daily_tokens, 2),
        "baselineDays": active_days,
    }


def costs_today(*, now: datetime | None = None) -> dict[str, Any]:
    today = (now or timezone.now()).astimezone(UTC).date()
    start, end = _day_range(today)
    totals = _totals_row(ModelUsage.objects.filter(timestamp__gte=start, timestamp__lt=end).aggregate(**_TOTALS))
    return {"date": _day(today), **totals}


# --- tiers -----------------------------------------------------------------------------

TIER_KEYS = [f"tier{number}" for number in CREDIT_TIERS]


def tier_definitions() -> dict[str, dict[str, Any]]:
    return {
        f"tier{number}": {
            "name": name,
            "credits": credits,
            "models": [entry.model for entry in MODELS if entry.tier == number],
        }
        for number, (name, credits) in CREDIT_TIERS.items()
    }


def _tier_case() -> Case:
    """The tier of a usage row from its model name, in SQL; unknown models are tier 1."""
    whens = [
        When(model_name__in=definition["models"], then=Value(key))
        for key, definition in tier_definitions().items()
        if definition["models"]
    ]
    return Case(*whens, default=Value("tier1"))


def tiers_usage(*, window: Window) -> dict[str, Any]:
    rows = (
        _usage_in(window)
        .annotate(tier=_tier_case())
        .values("tier", "model_name")
        .annotate(**_TOTALS)
        .order_by("tier", "-tokens", "model_name")
    )
    data = {
        key: {
            "name": definition["name"],
            "credits": definition["credits"],
            "total_tokens": 0,
            "total_requests": 0,
            "total_cost": 0.0,
            "avg_tokens_per_query": 0.0,
            "cost_per_1k_tokens": 0.0,
            "models": [],
        }
        for key, definition in tier_definitions().items()
    }
    for row in rows:
        tier = data[row["tier"]]
        totals = _totals_row(row)
        tier["models"].append(
            {
                "name": row["model_name"],
                **totals,
                "avg_tokens_per_query": round(_ratio(totals["tokens"], totals["requests"]), 2),
            }
        )
        tier["total_tokens"] += totals["tokens"]
        tier["total_requests"] += totals["requests"]
        tier["total_cost"] = _money(Decimal(str(tier["total_cost"])) + Decimal(str(totals["cost"])))
    for tier in data.values():
        tier["avg_tokens_per_query"] = round(_ratio(tier["total_tokens"], tier["total_requests"]), 2)
        tier["cost_per_1k_tokens"] = round(_ratio(tier["total_cost"], tier["total_tokens"]) * 1000, 7)
        tier["total_credit_cost"] = tier["total_requests"] * tier["credits"]
        tier["cost_per_credit"] = round(_ratio(tier["total_cost"], tier["total_credit_cost"]), 7)
    return {"tier_data": data, **window.as_dict()}


def tiers_projections(*, now: datetime | None = None) -> dict[str, Any]:
    """30-day totals per tier divided by 30, then times 30, 90 and 365."""
    tiers = tiers_usage(window=window_for_period("30d", now=now))["tier_data"]
    daily = {
        key: {
            "name": tier["name"],
            "daily_requests": tier["total_requests"] / 30,
            "daily_tokens": tier["total_tokens"] / 30,
            "daily_cost": tier["total_cost"] / 30,
            "daily_credits": tier["total_credit_cost"] / 30,
        }
        for key, tier in tiers.items()
    }
    projections: dict[str, Any] = {}
    for horizon, days in (("monthly", 30), ("quarterly", 90), ("yearly", 365)):
        block: dict[str, Any] = {}
        for metric in ("requests", "tokens", "cost", "credits"):
            # Multiply the 30-day totals first so whole numbers stay whole.
            source = {"requests": "total_requests", "tokens": "total_tokens", "cost": "total_cost"}.get(
                metric, "total_credit_cost"
            )
            block[metric] = {key: round(tier[source] * days / 30, 7) for key, tier in tiers.items()}
            block[f"total_{metric}"] = round(sum(block[metric].values()), 7)
        projections[horizon] = block
    return {"daily_usage": daily, "projections": projections, "tier_definitions": tier_definitions()}


def tiers_efficiency(*, window: Window) -> dict[str, Any]:
    tiers = tiers_usage(window=window)["tier_data"]
    efficiency = {
        key: {
            "name": tier["name"],
            "tokens_per_credit": round(_ratio(tier["total_tokens"], tier["total_credit_cost"]), 4),
            "cost_per_credit": tier["cost_per_credit"],
            "credit_cost": tier["credits"],
            "cost_per_1k_tokens": tier["cost_per_1k_tokens"],
            "avg_tokens_per_query": tier["avg_tokens_per_query"],
            "total_requests": tier["total_requests"],
            "total_tokens": tier["total_tokens"],
            "total_cost": tier["total_cost"],
        }
        for key, tier in tiers.items()
    }
    used = {key: value for key, value in efficiency.items() if value["total_requests"]}
    # With no usage the reference names its first tier; the frontend indexes
    # efficiency_data with these keys, so they are never null.
    most_efficient = max(used, key=lambda key: used[key]["tokens_per_credit"], default=TIER_KEYS[0])
    priced = {key: value for key, value in used.items() if value["cost_per_credit"] > 0}
    best_value = min(priced, key=lambda key: priced[key]["cost_per_credit"], default=TIER_KEYS[0])
    return {
        "efficiency_data": efficiency,
        "most_efficient_tier": most_efficient,
        "best_value_tier": best_value,
        **window.as_dict(),
    }


# --- code executions -------------------------------------------------------------------


def _executions_in(window: Window) -> QuerySet[CodeExecution]:
    return CodeExecution.objects.filter(created_at__gte=window.start, created_at__lte=window.end)


_OK = Count("id", filter=Q(is_successful=True))


def executions_summary(*, window: Window) -> dict[str, Any]:
    executions = _executions_in(window)
    overall = executions.aggregate(
        total=Count("id"),
        ok=_OK,
        users=Count("user", distinct=True),
        chats=Count("chat_id", distinct=True),
    )
    per_model = (
        executions.values("model_name")
        .annotate(total=Count("id"), ok=_OK, users=Count("user", distinct=True))
        .order_by("-total", "model_name")
    )
    failed_by_agent = (
        executions.filter(is_successful=False)
        .exclude(agent_name="")
        .values("agent_name")
        .annotate(count=Count("id"))
        .order_by("-count", "agent_name")
    )
    return {
        **window.as_dict(),
        "overall_stats": {
            "total_executions": overall["total"],
            "successful_executions": overall["ok"],
            "failed_executions": overall["total"] - overall["ok"],
            "success_rate": round(_ratio(overall["ok"], overall["total"]), 4),
            "total_users": overall["users"],
            "total_chats": overall["chats"],
        },
        "model_performance": [
            {
                "model_name": row["model_name"],
                "total_executions": row["total"],
                "successful_executions": row["ok"],
                "success_rate": round(_ratio(row["ok"], row["total"]), 4),
                "user_count": row["users"],
            }
            for row in per_model
        ],
        "failed_agents": [{"agent_name": row["agent_name"], "failure_count": row["count"]} for row in failed_by_agent],
    }


def _preview(text: str, size: int) -> str:
    return text[:size] + "..." if len(text) > size else text


def executions_detailed(
    *, window: Window, success: bool | None, user_id: int | None, model_name: str | None, limit: int
) -> dict[str, Any]:
    executions = _executions_in(window)
    if success is not None:
        executions = executions.filter(is_successful=success)
    if user_id is not None:
        executions = executions.filter(user_id=user_id)
    if model_name:
        executions = executions.filter(model_name=model_name)
    rows = executions.order_by("-created_at", "-id")[:limit]
    items = [
        {
            "execution_id": row.pk,
            "message_id": row.message_id,
            "chat_id": row.chat_id,
            "user_id": row.user_id,
            "agent_name": row.agent_name,
            "created_at": _iso(row.created_at),
            "updated_at": _iso(row.updated_at),
            "is_successful": row.is_successful,
            "model_info": {
                "provider": row.model_provider,
                "name": row.model_name,
                "temperature": row.model_temperature,
                "max_tokens": row.model_max_tokens,
            },
            "failed_agents": row.failed_agents if isinstance(row.failed_agents, list) else [],
            "error_messages": row.error_messages if isinstance(row.error_messages, dict) else {},
            "initial_code_preview": _preview(row.initial_code, 500),
            "latest_code_preview": _preview(row.latest_code, 500),
        }
        for row in rows
    ]
    return {**window.as_dict(), "count": len(items), "executions": items}


def executions_by_user(*, window: Window, limit: int) -> dict[str, Any]:
    rows = (
        _executions_in(window)
        .filter(user__isnull=False)
        .values("user_id")
        .annotate(total=Count("id"), ok=_OK, first=Min("created_at"), latest=Max("created_at"))
        .order_by("-total", "user_id")[:limit]
    )
    return {
        **window.as_dict(),
        "users": [
            {
                "user_id": row["user_id"],
                "total_executions": row["total"],
                "successful_executions": row["ok"],
                "failed_executions": row["total"] - row["ok"],
                "success_rate": round(_ratio(row["ok"], row["total"]), 4),
                "first_execution": _iso(row["first"]),
                "latest_execution": _iso(row["latest"]),
            }
            for row in rows
        ],
    }


# Checked in order against the lower-cased message: the first match names the error.
ERROR_CATEGORIES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("NameError", ("nameerror", "name '")),
    ("SyntaxError", ("syntaxerror",)),
    ("TypeError", ("typeerror",)),
    ("AttributeError", ("attributeerror",)),
    ("IndexError/KeyError", ("indexerror", "keyerror")),
    ("ImportError", ("importerror", "modulenotfounderror")),
    ("ValueError", ("valueerror",)),
    ("OperationError", ("unsupported operand",)),
    ("IndentationError", ("indent",)),
    ("PermissionError", ("permission",)),
    ("FileNotFoundError", ("filenotfound",)),
    ("MemoryError", ("memory",)),
    ("TimeoutError", ("timeout", "timed out")),
)


def error_category(message: str) -> str:
    lowered = str(message).lower()
    for name, needles in ERROR_CATEGORIES:
        if any(needle in lowered for needle in needles):
            return name
    return "OtherError"


def _ranked(counts: dict[str, int], key: str) -> list[dict[str, Any]]:
    return [{key: name, "count": count} for name, count in sorted(counts.items(), key=lambda item: (-item[1], item[0]))]


def executions_error_analysis(*, window: Window) -> dict[str, Any]:
    failed = _executions_in(window).filter(is_successful=False)
    types: dict[str, int] = {}
    by_agent: dict[str, dict[str, int]] = {}
    for messages in failed.values_list("error_messages", flat=True).iterator(chunk_size=2000):
        if not isinstance(messages, dict):
            continue
        for agent, message in messages.items():
            category = error_category(message)
            types[category] = types.get(category, 0) + 1
            agent_counts = by_agent.setdefault(str(agent), {})
            agent_counts[category] = agent_counts.get(category, 0) + 1
    agents = sorted(by_agent.items(), key=lambda item: (-sum(item[1].values()), item[0]))
    return {
        **window.as_dict(),
        "total_failed_executions": failed.count(),
        "error_types": _ranked(types, "error_type"),
        "error_by_agent": [
            {"agent_name": agent, "error_count": sum(counts.values()), "common_errors": _ranked(counts, "error_type")}
            for agent, counts in agents
        ],
    }


# --- feedback --------------------------------------------------------------------------


def _feedback_in(window: Window) -> QuerySet[MessageFeedback]:
    return MessageFeedback.objects.filter(
        created_at__gte=window.start, created_at__lte=window.end, rating__isnull=False
    )


def feedback_summary(*, window: Window) -> dict[str, Any]:
    feedback = _feedback_in(window)
    overall = feedback.aggregate(total=Count("id"), avg=Avg("rating"), chats=Count("message__chat", distinct=True))
    per_rating = dict(feedback.values_list("rating").annotate(count=Count("id")).order_by("rating"))
    per_model = (
        feedback.exclude(model_name__isnull=True)
        .exclude(model_name="")
        .values("model_name")
        .annotate(total=Count("id"), avg=Avg("rating"))
        .order_by("-avg", "model_name")
    )
    daily = feedback.annotate(day=UtcDay("created_at")).values("day").annotate(avg=Avg("rating"), count=Count("id"))
    by_day = {row["day"]: row for row in daily}
    trend = []
    for day in window.dates():
        row = by_day.get(_day(day))
        # 0 (with count 0), not null, on days without ratings: the frontend formats it.
        trend.append(
            {
                "date": _day(day),
                "avg_rating": round(float(row["avg"]), 2) if row else 0,
                "count": row["count"] if row else 0,
            }
        )
    return {
        **window.as_dict(),
        "total_feedback": overall["total"],
        "avg_rating": round(float(overall["avg"] or 0), 2),
        "chats_with_feedback": overall["chats"],
        "ratings_distribution": [{"rating": rating, "count": per_rating.get(rating, 0)} for rating in range(1, 6)],
        "models_data": [
            {"model_name": row["model_name"], "total_feedback": row["total"], "avg_rating": round(float(row["avg"]), 2)}
            for row in per_model
        ],
        "feedback_trend": trend,
    }


def feedback_detailed(
    *,
    window: Window,
    min_rating: int | None,
    max_rating: int | None,
    model_name: str | None,
    limit: int,
    offset: int,
) -> dict[str, Any]:
    feedback = _feedback_in(window)
    if min_rating is not None:
        feedback = feedback.filter(rating__gte=min_rating)
    if max_rating is not None:
        feedback = feedback.filter(rating__lte=max_rating)
    if model_name:
        feedback = feedback.filter(model_name=model_name)
    total = feedback.count()
    rows = feedback.select_related("message").order_by("-created_at", "-id")[offset : offset + limit]
    items = [
        {
            "feedback_id": row.pk,
            "message_id": row.message_id,
            "chat_id": row.message.chat_id,
            "rating": row.rating,
            "model_name": row.model_name or "",
            "model_provider": row.model_provider or "",
            "temperature": row.temperature,
            "max_tokens": row.max_tokens,
            "created_at": _iso(row.created_at),
            "message_preview": _preview(row.message.content, 200),
            "message_sender": row.message.sender,
        }
        for row in rows
    ]
    return {
        **window.as_dict(),
        "total": total,
        "count": len(items),
        "offset": offset,
        "limit": limit,
        "feedback": items,
    }


# --- public ----------------------------------------------------------------------------


def public_ticker() -> dict[str, Any]:
    """Aggregate counts only: nothing here identifies a user or a model."""
    totals = ModelUsage.objects.aggregate(tokens=Sum("total_tokens"), requests=Count("id"))
    return {
        "total_signups": get_user_model().objects.count(),
        "total_tokens": int(totals["tokens"] or 0),
        "total_requests": int(totals["requests"] or 0),
        "last_updated": _iso(timezone.now()),
    }
