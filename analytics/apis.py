"""``/analytics/*``: the admin's read-only API (reference §1.9 and §7, plus the routes
the web frontend calls beyond the reference: ``/analytics/daily``).

Each route parses its query with a serializer, calls one selector and returns its dict.
Every route but the public ticker requires an analytics admin (``analytics.access``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from analytics import selectors as sel
from analytics import serializers as q
from analytics.access import IsAnalyticsAdmin

ADMIN_KEY_HEADER = OpenApiParameter(
    "X-Admin-API-Key",
    str,
    OpenApiParameter.HEADER,
    required=False,
    description="The operator's ADMIN_API_KEY. Alternatively a staff user's API key or admin login.",
)


class NoQuery(serializers.Serializer):
    pass


def _period(params: dict[str, Any]) -> sel.Window:
    return sel.window_for_period(params["period"])


class AnalyticsApi(APIView):
    permission_classes = [IsAnalyticsAdmin]
    query_serializer: type[serializers.Serializer] = NoQuery
    compute: Callable[[dict[str, Any]], dict[str, Any]]

    def get(self, request: Request) -> Response:
        # A plain dict, not the QueryDict: DRF reads a missing boolean in a QueryDict as False.
        serializer = self.query_serializer(data=request.query_params.dict())
        serializer.is_valid(raise_exception=True)
        return Response(type(self).compute(serializer.validated_data))


def analytics_view(
    name: str,
    compute: Callable[[dict[str, Any]], dict[str, Any]],
    query: type[serializers.Serializer] = NoQuery,
    *,
    summary: str,
    public: bool = False,
) -> type[APIView]:
    """One route: a subclass of AnalyticsApi documented in the OpenAPI schema."""
    parameters: list[Any] = [] if query is NoQuery else [query]
    if not public:
        parameters.append(ADMIN_KEY_HEADER)

    # A function of its own per route: extend_schema annotates the function it decorates.
    def get(self, request: Request) -> Response:
        return AnalyticsApi.get(self, request)

    attributes: dict[str, Any] = {
        "query_serializer": query,
        "compute": staticmethod(compute),
        "__doc__": summary,
        "get": extend_schema(
            operation_id=f"analytics_{name}",
            summary=summary,
            parameters=parameters,
            responses={200: OpenApiTypes.OBJECT},
            tags=["analytics"],
        )(get),
    }
    if public:
        attributes["permission_classes"] = [AllowAny]
        attributes["authentication_classes"] = []
    return type(f"Analytics{name.title().replace('_', '')}Api", (AnalyticsApi,), attributes)


DashboardApi = analytics_view(
    "dashboard",
    lambda p: sel.usage_dashboard(window=_period(p)),
    q.PeriodQuery,
    summary="Usage totals, daily series, models and top users over a period",
)
UsageSummaryApi = analytics_view(
    "usage_summary",
    lambda p: sel.usage_dashboard(window=_period(p)),
    q.PeriodQuery,
    summary="Alias of the dashboard (the frontend's dashboard page reads it)",
)
DailyApi = analytics_view(
    "daily",
    lambda p: sel.usage_daily(window=sel.window_for_days(p["days"])),
    q.DaysQuery,
    summary="Tokens, cost and requests per day over the last N days",
)
UsersApi = analytics_view(
    "users",
    lambda p: sel.usage_users(limit=p["limit"], offset=p["offset"]),
    q.UsersQuery,
    summary="Users with usage in the last 7 days, tokens descending",
)
UsersActivityApi = analytics_view(
    "users_activity",
    lambda p: sel.users_activity(window=_period(p)),
    q.PeriodQuery,
    summary="Active users, new users and chats per day",
)
SessionStatsApi = analytics_view(
    "users_sessions_stats",
    lambda p: sel.users_session_stats(),
    summary="Users, users active today, queries per chat and chat duration",
)
UsageModelsApi = analytics_view(
    "usage_models",
    lambda p: sel.usage_by_model(window=_period(p)),
    q.PeriodQuery,
    summary="Usage per model",
)
ModelsHistoryApi = analytics_view(
    "models_history",
    lambda p: sel.models_history(window=_period(p)),
    q.PeriodQuery,
    summary="Tokens and requests per model per day (every model on every day, one order)",
)
ModelsMetricsApi = analytics_view(
    "models_metrics",
    lambda p: sel.models_metrics(),
    summary="Average tokens, response time and success rate (0-1) per model, all time",
)
CostsSummaryApi = analytics_view(
    "costs_summary",
    lambda p: sel.costs_summary(window=_period(p)),
    q.PeriodQuery,
    summary="Cost totals and averages over a period",
)
CostsDailyApi = analytics_view(
    "costs_daily",
    lambda p: sel.costs_daily(window=_period(p)),
    q.PeriodQuery,
    summary="Cost and tokens per day",
)
CostsModelsApi = analytics_view(
    "costs_models",
    lambda p: sel.costs_by_model(window=_period(p)),
    q.PeriodQuery,
    summary="Cost per model, highest first",
)
CostsProjectionsApi = analytics_view(
    "costs_projections",
    lambda p: sel.costs_projections(),
    summary="Month, quarter and year projections from the last 30 days' active-day average",
)
CostsTodayApi = analytics_view(
    "costs_today",
    lambda p: sel.costs_today(),
    summary="Today's cost, tokens and requests",
)
DebugModelUsageApi = analytics_view(
    "debug_model_usage",
    lambda p: {"status": "success", "message": "Admin API key validated successfully"},
    summary="Answers 200 when the caller is an analytics admin (the frontend's key check)",
)
TiersUsageApi = analytics_view(
    "tiers_usage",
    lambda p: sel.tiers_usage(window=_period(p)),
    q.PeriodQuery,
    summary="Usage per credit tier",
)
TiersProjectionsApi = analytics_view(
    "tiers_projections",
    lambda p: sel.tiers_projections(),
    summary="Per-tier projections from the last 30 days",
)
TiersEfficiencyApi = analytics_view(
    "tiers_efficiency",
    lambda p: sel.tiers_efficiency(window=_period(p)),
    q.PeriodQuery,
    summary="Tokens and cost per credit per tier",
)
ExecutionsSummaryApi = analytics_view(
    "code_executions_summary",
    lambda p: sel.executions_summary(window=_period(p)),
    q.PeriodQuery,
    summary="Code execution totals, success rates (0-1) per model, failures per agent",
)
ExecutionsDetailedApi = analytics_view(
    "code_executions_detailed",
    lambda p: sel.executions_detailed(
        window=_period(p),
        success=p["success_filter"],
        user_id=p["user_id"],
        model_name=p["model_name"],
        limit=p["limit"],
    ),
    q.ExecutionsDetailedQuery,
    summary="Recent code executions with filters",
)
ExecutionsUsersApi = analytics_view(
    "code_executions_users",
    lambda p: sel.executions_by_user(window=_period(p), limit=p["limit"]),
    q.ExecutionsUsersQuery,
    summary="Code executions per user",
)
ExecutionsErrorsApi = analytics_view(
    "code_executions_error_analysis",
    lambda p: sel.executions_error_analysis(window=_period(p)),
    q.PeriodQuery,
    summary="Failed executions by error type and by agent",
)
FeedbackSummaryApi = analytics_view(
    "feedback_summary",
    lambda p: sel.feedback_summary(window=_period(p)),
    q.PeriodQuery,
    summary="Ratings: totals, distribution, per model and per day",
)
FeedbackDetailedApi = analytics_view(
    "feedback_detailed",
    lambda p: sel.feedback_detailed(
        window=_period(p),
        min_rating=p["min_rating"],
        max_rating=p["max_rating"],
        model_name=p["model_name"],
        limit=p["limit"],
        offset=p["offset"],
    ),
    q.FeedbackDetailedQuery,
    summary="Individual ratings with filters and paging",
)
PublicTickerApi = analytics_view(
    "public_ticker",
    lambda p: sel.public_ticker(),
    summary="Public aggregate counts for the landing page (no key)",
    public=True,
)
