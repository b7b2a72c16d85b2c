"""Request and response shapes of the chat, agent and code-assistant routes."""

from __future__ import annotations

from rest_framework import serializers

MAX_QUERY_CHARS = 20_000


class QueryIn(serializers.Serializer):
    query = serializers.CharField(max_length=MAX_QUERY_CHARS, trim_whitespace=True)


class ChatQueryParamsIn(serializers.Serializer):
    chat_id = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    user_id = serializers.CharField(required=False, allow_blank=True)


class StreamLineOut(serializers.Serializer):
    agent = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["success", "error", "done"])


class AgentAnswerOut(serializers.Serializer):
    agent_name = serializers.CharField()
    query = serializers.CharField()
    response = serializers.CharField(allow_blank=True)
    session_id = serializers.CharField()
    chat_id = serializers.IntegerField()


class AgentsOut(serializers.Serializer):
    available_agents = serializers.ListField(child=serializers.CharField())
    standard_agents = serializers.ListField(child=serializers.CharField())
    template_agents = serializers.ListField(child=serializers.CharField())
    custom_agents = serializers.ListField(child=serializers.CharField())


class ChatNameOut(serializers.Serializer):
    name = serializers.CharField()


class CodeEditIn(serializers.Serializer):
    original_code = serializers.CharField(trim_whitespace=False)
    user_prompt = serializers.CharField(max_length=MAX_QUERY_CHARS)


class CodeEditOut(serializers.Serializer):
    edited_code = serializers.CharField(allow_blank=True)


class CodeFixIn(serializers.Serializer):
    code = serializers.CharField(trim_whitespace=False)
    error = serializers.CharField(max_length=MAX_QUERY_CHARS, trim_whitespace=False)


class CodeFixOut(serializers.Serializer):
    fixed_code = serializers.CharField(allow_blank=True)
    fixed = serializers.BooleanField()
    attempts = serializers.IntegerField()
    error = serializers.CharField(required=False)
