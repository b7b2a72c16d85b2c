from __future__ import annotations

from rest_framework import serializers


class ExecuteIn(serializers.Serializer):
    # Emptiness and size are checked by the service, for the reference's messages.
    code = serializers.CharField(allow_blank=True, trim_whitespace=False)
    session_id = serializers.CharField(required=False, allow_blank=True)
    # A message of one of the caller's chats (404 otherwise); bounded like the column.
    message_id = serializers.IntegerField(required=False, allow_null=True, min_value=1, max_value=2**63 - 1)


class CodeErrorOut(serializers.Serializer):
    detail = serializers.CharField()
    code = serializers.CharField()


class ExecuteOut(serializers.Serializer):
    output = serializers.CharField()
    plotly_outputs = serializers.ListField(child=serializers.CharField(), allow_null=True)
    matplotlib_outputs = serializers.ListField(child=serializers.CharField(), allow_null=True)
    is_successful = serializers.BooleanField()
    failed_agents = serializers.CharField(allow_null=True, help_text="JSON-encoded list of agent names")
    saved_datasets = serializers.ListField(child=serializers.CharField())
    execution_id = serializers.IntegerField()


class CleanCodeIn(serializers.Serializer):
    code = serializers.CharField(allow_blank=True, trim_whitespace=False)


class CleanCodeOut(serializers.Serializer):
    cleaned_code = serializers.CharField()


class LatestCodeIn(serializers.Serializer):
    message_id = serializers.IntegerField(min_value=-(2**63), max_value=2**63 - 1)


class LatestCodeOut(serializers.Serializer):
    found = serializers.BooleanField()
    message_id = serializers.IntegerField()
    latest_code = serializers.CharField(required=False)
    initial_code = serializers.CharField(required=False)
    is_successful = serializers.BooleanField(required=False)
    failed_agents = serializers.CharField(required=False, allow_null=True)
