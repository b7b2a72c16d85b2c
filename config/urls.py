from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from config.health import HealthApi, HealthDetailApi, RootApi

urlpatterns = [
    path("", RootApi.as_view()),
    path("health", HealthApi.as_view()),
    path("api/health", HealthDetailApi.as_view()),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("admin/analytics/", include("analytics.dashboard")),
    path("admin/", admin.site.urls),
    path("", include("sessions_app.urls")),
    path("", include("codeexec.urls")),
    path("", include("sessions_app.agents.urls")),
    path("templates/", include("templates.urls")),
    path("", include("chats.urls")),
    path("", include("deep_analysis.urls")),
    path("analytics/", include("analytics.urls")),
]

handler400 = "config.errors.json_bad_request"
handler403 = "config.errors.json_permission_denied"
handler404 = "config.errors.json_not_found"
handler500 = "config.errors.json_server_error"
