"""The analytics dashboard inside the Django admin (staff only).

One page (``/admin/analytics/dashboard/``) draws Plotly charts from one JSON document
(``data/``), redraws when the analytics socket reports a change, and links every table's
export (``export/<table>.<csv|xlsx|json>``). The views are wrapped in
``admin.site.admin_view``: anonymous visitors go to the admin login, non-staff are refused.
"""

from __future__ import annotations

from django.contrib import admin
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.template.response import TemplateResponse
from django.urls import path
from django.views.decorators.http import require_GET

from analytics import exports
from analytics import selectors as sel
from analytics.staticfiles import PLOTLY_STATIC_PATH

PERIODS = (("7d", "Last 7 days"), ("30d", "Last 30 days"), ("90d", "Last 90 days"))


def _window(request: HttpRequest) -> sel.Window:
    period = request.GET.get("period", "30d")
    return sel.window_for_period(period if period in sel.PERIOD_DAYS else "30d")


def dashboard_data(*, window: sel.Window) -> dict:
    usage = sel.usage_dashboard(window=window)
    executions = sel.executions_summary(window=window)
    feedback = sel.feedback_summary(window=window)
    sessions = sel.users_session_stats()
    return {
        **window.as_dict(),
        "kpis": {
            "total_tokens": usage["total_tokens"],
            "total_cost": usage["total_cost"],
            "total_requests": usage["total_requests"],
            "total_users": usage["total_users"],
            "avg_cost_per_request": usage["avg_cost_per_request"],
            "active_today": sessions["activeToday"],
            "code_success_rate": executions["overall_stats"]["success_rate"],
            "code_executions": executions["overall_stats"]["total_executions"],
            "avg_rating": feedback["avg_rating"],
            "total_feedback": feedback["total_feedback"],
        },
        "tables": {name: exports.table_rows(name=name, window=window)[1] for name in exports.TABLES},
    }


@require_GET
def dashboard_page(request: HttpRequest) -> TemplateResponse:
    window = _window(request)
    context = {
        **admin.site.each_context(request),
        "title": "Analytics dashboard",
        "period": window.period,
        "periods": PERIODS,
        "plotly_path": PLOTLY_STATIC_PATH,
        "tables": [(name, table.title) for name, table in exports.TABLES.items()],
        "formats": list(exports.FORMATS),
    }
    return TemplateResponse(request, "admin/analytics/dashboard.html", context)


@require_GET
def dashboard_data_view(request: HttpRequest) -> JsonResponse:
    return JsonResponse(dashboard_data(window=_window(request)))


@require_GET
def export_view(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    if table not in exports.TABLES or fmt not in exports.FORMATS:
        raise Http404(f"No export {table}.{fmt}.")
    window = _window(request)
    response = HttpResponse(exports.table_export(name=table, window=window, fmt=fmt), content_type=exports.FORMATS[fmt])
    response["Content-Disposition"] = f'attachment; filename="analytics-{table}-{window.period}.{fmt}"'
    return response


urlpatterns = [
    path("dashboard/", admin.site.admin_view(dashboard_page), name="analytics-dashboard"),
    path("dashboard/data/", admin.site.admin_view(dashboard_data_view), name="analytics-dashboard-data"),
    path(
        "dashboard/export/<slug:table>.<slug:fmt>",
        admin.site.admin_view(export_view),
        name="analytics-dashboard-export",
    ),
]
