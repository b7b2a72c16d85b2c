from django.contrib import admin

from codeexec.models import CodeExecution


@admin.register(CodeExecution)
class CodeExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "agent_name", "message_id", "chat_id", "is_successful", "model_name", "updated_at")
    list_filter = ("is_successful", "model_provider", "model_name", "agent_name", "created_at")
    search_fields = ("latest_code", "output", "agent_name", "model_name", "user__username")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    readonly_fields = [field.name for field in CodeExecution._meta.fields]
