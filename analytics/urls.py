"""``/analytics/*`` HTTP routes (the WebSocket routes are in ``analytics.routing``)."""

from django.urls import path

from analytics import apis

urlpatterns = [
    path("dashboard", apis.DashboardApi.as_view()),
    path("usage/summary", apis.UsageSummaryApi.as_view()),
    path("daily", apis.DailyApi.as_view()),
    path("users", apis.UsersApi.as_view()),
    path("users/activity", apis.UsersActivityApi.as_view()),
    path("users/sessions/stats", apis.SessionStatsApi.as_view()),
    path("usage/models", apis.UsageModelsApi.as_view()),
    path("models/history", apis.ModelsHistoryApi.as_view()),
    path("models/metrics", apis.ModelsMetricsApi.as_view()),
    path("costs/summary", apis.CostsSummaryApi.as_view()),
    path("costs/daily", apis.CostsDailyApi.as_view()),
    path("costs/models", apis.CostsModelsApi.as_view()),
    path("costs/projections", apis.CostsProjectionsApi.as_view()),
    path("costs/today", apis.CostsTodayApi.as_view()),
    path("debug/model_usage", apis.DebugModelUsageApi.as_view()),
    path("tiers/usage", apis.TiersUsageApi.as_view()),
    path("tiers/projections", apis.TiersProjectionsApi.as_view()),
    path("tiers/efficiency", apis.TiersEfficiencyApi.as_view()),
    path("code-executions/summary", apis.ExecutionsSummaryApi.as_view()),
    path("code-executions/detailed", apis.ExecutionsDetailedApi.as_view()),
    path("code-executions/users", apis.ExecutionsUsersApi.as_view()),
    path("code-executions/error-analysis", apis.ExecutionsErrorsApi.as_view()),
    path("feedback/summary", apis.FeedbackSummaryApi.as_view()),
    path("feedback/detailed", apis.FeedbackDetailedApi.as_view()),
    path("public/ticker", apis.PublicTickerApi.as_view()),
]
