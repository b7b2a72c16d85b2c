from django.contrib import admin

from deep_analysis.models import DeepAnalysisReport


@admin.register(DeepAnalysisReport)
class DeepAnalysisReportAdmin(admin.ModelAdmin):
    list_display = (
        "report_uuid", "user", "status", "progress_percentage", "current_step", "model_provider", "model_name",
        "total_tokens_used", "estimated_cost", "duration_seconds", "created_at",
    )  # fmt: skip
    list_filter = ("status", "model_provider")
    search_fields = ("report_uuid", "client_uuid", "goal", "session_id")
    readonly_fields = ("usage_ids", "worker", "heartbeat_at", "last_sequence")
    exclude = ("html_report",)
