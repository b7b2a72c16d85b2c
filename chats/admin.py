from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.db.models import Count

from chats.models import ApiKey, Chat, Message, MessageFeedback, User


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


@admin.register(Chat)
class ChatAdmin(admin.ModelAdmin):
    list_display = ("id", "title", "user", "session_short", "message_count", "created_at")
    list_filter = ("created_at",)
    search_fields = ("title", "user__username", "user__email")
    date_hierarchy = "created_at"
    list_select_related = ("user",)
    raw_id_fields = ("user",)
    readonly_fields = ("created_at", "updated_at")

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(message_total=Count("messages"))

    @admin.display(description="session")
    def session_short(self, chat: Chat) -> str:
        # Session ids are bearer capabilities for anonymous users: show only enough to tell them apart.
        return f"{chat.session_id[:8]}…" if chat.session_id else ""

    @admin.display(description="messages", ordering="message_total")
    def message_count(self, chat: Chat) -> int:
        return chat.message_total


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "chat", "sender", "origin", "agent_name", "preview", "timestamp")
    list_filter = ("sender", "origin", "timestamp")
    search_fields = ("content", "agent_name")
    date_hierarchy = "timestamp"
    list_select_related = ("chat",)
    raw_id_fields = ("chat",)

    @admin.display(description="content")
    def preview(self, message: Message) -> str:
        text = " ".join(message.content.split())
        return text if len(text) <= 80 else f"{text[:80]}…"


@admin.register(MessageFeedback)
class MessageFeedbackAdmin(admin.ModelAdmin):
    list_display = ("message", "rating", "model_name", "created_at")
    list_filter = ("rating", "model_provider", "model_name", "created_at")
    search_fields = ("model_name", "message__content")
    date_hierarchy = "created_at"
    list_select_related = ("message",)
    raw_id_fields = ("message",)
    readonly_fields = ("created_at", "updated_at")
