"""Request and response shapes of the chat and feedback routes (reference §1.4, §1.8).

Responses use the reference's keys (``chat_id``, ``message_id``, ``feedback_id``,
``user_id``) and ISO 8601 datetimes in UTC.
"""

from __future__ import annotations

from rest_framework import serializers

from chats.models import Chat, Message, MessageFeedback, User

BIGINT_MAX = 2**63 - 1
INT_MAX = 2**31 - 1


def _user_id_field() -> serializers.IntegerField:
    return serializers.IntegerField(
        required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX, help_text="Accepted only if it is you"
    )


# --- requests ----------------------------------------------------------------------------


class ChatCreateIn(serializers.Serializer):
    """Also the body of ``/chats/cleanup-empty``."""

    user_id = _user_id_field()
    # Accepted for compatibility and ignored: admin power comes from the caller being staff.
    is_admin = serializers.BooleanField(required=False, default=False)


class ChatListQueryIn(serializers.Serializer):
    user_id = _user_id_field()
    limit = serializers.IntegerField(required=False, default=10, min_value=1, max_value=100)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=BIGINT_MAX)


class ChatUpdateIn(serializers.Serializer):
    title = serializers.CharField(required=False, allow_null=True, allow_blank=True, trim_whitespace=False)
    user_id = _user_id_field()


class MessageCreateIn(serializers.Serializer):
    content = serializers.CharField(trim_whitespace=False)
    sender = serializers.ChoiceField(choices=Message.Sender.choices)

    def validate_content(self, value: str) -> str:
        if not value.strip():
            raise serializers.ValidationError("This field may not be blank.")
        return value


class UserIn(serializers.Serializer):
    username = serializers.CharField()
    email = serializers.EmailField()


class FeedbackIn(serializers.Serializer):
    # The reference's schema requires it; the path names the message, so it is ignored.
    message_id = serializers.IntegerField(required=False, allow_null=True, help_text="Ignored; the path decides")
    rating = serializers.IntegerField(min_value=1, max_value=5)
    model_name = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=100)
    model_provider = serializers.CharField(required=False, allow_null=True, allow_blank=True, max_length=50)
    temperature = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=2)
    max_tokens = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=INT_MAX)


# --- responses ---------------------------------------------------------------------------


class ChatOut(serializers.ModelSerializer):
    chat_id = serializers.IntegerField(source="id")
    user_id = serializers.IntegerField(allow_null=True)

    class Meta:
        model = Chat
        fields = ["chat_id", "title", "created_at", "user_id"]


class ChatMessageOut(serializers.ModelSerializer):
    message_id = serializers.IntegerField(source="id")
    chat_id = serializers.IntegerField()

    class Meta:
        model = Message
        fields = ["message_id", "chat_id", "content", "sender", "timestamp"]


class ChatDetailOut(ChatOut):
    messages = ChatMessageOut(many=True)

    class Meta(ChatOut.Meta):
        fields = [*ChatOut.Meta.fields, "messages"]


class ChatDeletedOut(serializers.Serializer):
    message = serializers.CharField()
    preserved_model_usage = serializers.BooleanField()


class ChatsCleanupOut(serializers.Serializer):
    message = serializers.CharField()


class UserOut(serializers.ModelSerializer):
    user_id = serializers.IntegerField(source="id")
    created_at = serializers.DateTimeField(source="date_joined")

    class Meta:
        model = User
        fields = ["user_id", "username", "email", "created_at"]


class FeedbackOut(serializers.ModelSerializer):
    feedback_id = serializers.IntegerField(source="id")
    message_id = serializers.IntegerField()

    class Meta:
        model = MessageFeedback
        fields = [
            "feedback_id",
            "message_id",
            "rating",
            "model_name",
            "model_provider",
            "temperature",
            "max_tokens",
            "created_at",
            "updated_at",
        ]
