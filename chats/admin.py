from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from chats.models import ApiKey, User


@admin.register(User)
class AnalystUserAdmin(UserAdmin):
    list_display = ("id", "username", "email", "is_staff", "is_active", "date_joined")
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("username", "email", "password1", "password2")}),)


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("prefix", "user", "name", "created_at", "last_used_at", "revoked_at")
    list_filter = ("revoked_at",)
    search_fields = ("user__username", "user__email", "prefix", "name")
    readonly_fields = ("prefix", "key_hash", "created_at", "last_used_at")
