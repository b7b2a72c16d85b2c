from django.contrib import admin

from analytics.models import ModelUsage


@admin.register(ModelUsage)
class ModelUsageAdmin(admin.ModelAdmin):
    list_display = (
        "timestamp",
        "provider",
        "model_name",
        "purpose",
        "agent_name",
        "user",
        "chat",
        "total_tokens",
        "tokens_estimated",
        "cost",
        "request_time_ms",
        "is_streaming",
    )
    list_filter = ("provider", "model_name", "purpose", "is_streaming", "tokens_estimated", "timestamp")
    search_fields = ("model_name", "agent_name", "user__username", "session_id")
    date_hierarchy = "timestamp"
    list_select_related = ("user", "chat")
    readonly_fields = [field.name for field in ModelUsage._meta.fields]
