from django.contrib import admin

from templates.models import AgentTemplate, UserTemplatePreference


@admin.register(AgentTemplate)
class AgentTemplateAdmin(admin.ModelAdmin):
    list_display = ("name", "display_name", "category", "variant", "is_premium_only", "is_active", "owner")
    list_filter = ("variant", "category", "is_premium_only", "is_active", ("owner", admin.EmptyFieldListFilter))
    search_fields = ("name", "display_name", "description")
    raw_id_fields = ("owner",)
    readonly_fields = ("created_at", "updated_at")


@admin.register(UserTemplatePreference)
class UserTemplatePreferenceAdmin(admin.ModelAdmin):
    list_display = ("user", "template", "is_enabled", "usage_count", "last_used_at")
    list_filter = ("is_enabled", "template__variant", "template")
    search_fields = ("user__username", "user__email", "template__name", "template__display_name")
    raw_id_fields = ("user", "template")
    readonly_fields = ("created_at", "updated_at")
