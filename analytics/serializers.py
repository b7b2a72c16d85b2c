"""Query parameters of the analytics routes. Unknown parameters are ignored (the
frontend's proxy forwards its whole query string); known ones out of range are a 400."""

from __future__ import annotations

from rest_framework import serializers

MAX_LIMIT = 1000


class PeriodQuery(serializers.Serializer):
    # Anything but 7d, 30d or 90d means 30 days, as in the reference.
    period = serializers.CharField(required=False, default="30d", max_length=16)


class DaysQuery(serializers.Serializer):
    days = serializers.IntegerField(required=False, default=30, min_value=1, max_value=366)


class UsersQuery(serializers.Serializer):
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000_000)


class ExecutionsDetailedQuery(PeriodQuery):
    success_filter = serializers.BooleanField(required=False, allow_null=True, default=None)
    user_id = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=2**63 - 1)
    model_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=MAX_LIMIT)


class ExecutionsUsersQuery(PeriodQuery):
    limit = serializers.IntegerField(required=False, default=50, min_value=1, max_value=MAX_LIMIT)


class FeedbackDetailedQuery(PeriodQuery):
    min_rating = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=5)
    max_rating = serializers.IntegerField(required=False, allow_null=True, default=None, min_value=1, max_value=5)
    model_name = serializers.CharField(required=False, allow_blank=True, default="", max_length=100)
    limit = serializers.IntegerField(required=False, default=100, min_value=1, max_value=MAX_LIMIT)
    offset = serializers.IntegerField(required=False, default=0, min_value=0, max_value=1_000_000_000)

    def validate(self, data):
        low, high = data.get("min_rating"), data.get("max_rating")
        if low is not None and high is not None and low > high:
            raise serializers.ValidationError("min_rating must not be greater than max_rating.")
        return data


class ExportQuery(PeriodQuery):
    format = serializers.ChoiceField(choices=["csv", "xlsx", "json"], required=False, default="csv")
