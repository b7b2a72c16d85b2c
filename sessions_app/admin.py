from django.contrib import admin

from sessions_app.models import AnalysisSession, Dataset, DatasetFile


class DatasetInline(admin.TabularInline):
    model = Dataset
    extra = 0
    fields = ("name", "display_name", "source", "file", "created_at")
    readonly_fields = fields
    can_delete = False


@admin.register(AnalysisSession)
class AnalysisSessionAdmin(admin.ModelAdmin):
    list_display = ("short_id", "user", "model_provider", "model_name", "created_at", "last_accessed_at")
    list_filter = ("model_provider",)
    search_fields = ("user__username", "user__email", "user_email")
    exclude = ("api_key_encrypted",)
    readonly_fields = ("id", "created_at", "last_accessed_at", "initialized_at")
    inlines = [DatasetInline]

    @admin.display(description="session")
    def short_id(self, session: AnalysisSession) -> str:
        return f"{session.pk[:10]}…"


@admin.register(DatasetFile)
class DatasetFileAdmin(admin.ModelAdmin):
    list_display = ("sha256", "n_rows", "n_cols", "size_bytes", "created_at")
    readonly_fields = ("sha256", "storage_name", "size_bytes", "n_rows", "n_cols", "columns", "profile", "created_at")
