from django.contrib import admin

from codeexec.models import CodeExecution


@admin.register(CodeExecution)
class CodeExecutionAdmin(admin.ModelAdmin):
    list_display = ("id", "user", "message_id", "chat_id", "is_successful", "model_name", "updated_at")
    list_filter = ("is_successful", "model_provider")
    search_fields = ("latest_code", "output", "user__username")
    readonly_fields = [field.name for field in CodeExecution._meta.fields]
