"""Request and response shapes of the deep-analysis routes (reference §1.6)."""

from __future__ import annotations

from rest_framework import serializers

from deep_analysis.models import DeepAnalysisReport
from deep_analysis.services import GOAL_MAX_CHARS

MAX_TEXT = 200_000
MAX_LIST = 200


class GoalIn(serializers.Serializer):
    goal = serializers.CharField(max_length=GOAL_MAX_CHARS, trim_whitespace=True)


class TextList(serializers.ListField):
    def __init__(self, **kwargs):
        super().__init__(child=serializers.CharField(allow_blank=True, max_length=MAX_TEXT), **kwargs)


class FigureList(serializers.ListField):
    """Figures as JSON strings or objects, flat or one list deep (``plotly_figs``)."""

    def __init__(self, **kwargs):
        super().__init__(child=serializers.JSONField(), max_length=MAX_LIST, **kwargs)


class ReportCreateIn(serializers.Serializer):
    report_uuid = serializers.RegexField(r"^[A-Za-z0-9_-]{1,64}$")
    user_id = serializers.IntegerField(required=False, allow_null=True)
    goal = serializers.CharField(max_length=GOAL_MAX_CHARS)
    status = serializers.ChoiceField(choices=DeepAnalysisReport.Status.values, default="completed")
    deep_questions = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    deep_plan = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    summaries = TextList(required=False, allow_null=True, max_length=MAX_LIST)
    analysis_code = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    plotly_figures = FigureList(required=False, allow_null=True)
    synthesis = TextList(required=False, allow_null=True, max_length=MAX_LIST)
    final_conclusion = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    html_report = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=20_000_000)
    report_summary = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    progress_percentage = serializers.IntegerField(required=False, min_value=0, max_value=100, default=100)
    duration_seconds = serializers.FloatField(required=False, allow_null=True, min_value=0, max_value=10**9)
    credits_consumed = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, default=0)
    error_message = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=MAX_TEXT)
    model_provider = serializers.CharField(required=False, allow_blank=True, max_length=50)
    model_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    total_tokens_used = serializers.IntegerField(required=False, min_value=0, max_value=2**31 - 1, default=0)
    estimated_cost = serializers.DecimalField(
        required=False, max_digits=14, decimal_places=7, min_value=0, default=0, coerce_to_string=False
    )
    steps_completed = TextList(required=False, allow_null=True, max_length=MAX_LIST)


class StatusIn(serializers.Serializer):
    status = serializers.CharField(max_length=32)


class AnalysisDataIn(serializers.Serializer):
    goal = serializers.CharField(required=False, allow_blank=True, max_length=GOAL_MAX_CHARS, default="")
    deep_questions = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    deep_plan = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    summaries = TextList(required=False, max_length=MAX_LIST, default=list)
    code = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")
    plotly_figs = FigureList(required=False, default=list)
    synthesis = TextList(required=False, max_length=MAX_LIST, default=list)
    final_conclusion = serializers.CharField(required=False, allow_blank=True, max_length=MAX_TEXT, default="")


class DownloadReportIn(serializers.Serializer):
    analysis_data = AnalysisDataIn()
    report_uuid = serializers.CharField(required=False, allow_blank=True, allow_null=True, max_length=64)


class ListParamsIn(serializers.Serializer):
    user_id = serializers.IntegerField(required=False)
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=10)
    offset = serializers.IntegerField(required=False, min_value=0, max_value=1_000_000, default=0)
    status = serializers.ChoiceField(required=False, choices=DeepAnalysisReport.Status.values)


class HistoryParamsIn(serializers.Serializer):
    user_id = serializers.IntegerField()
    limit = serializers.IntegerField(required=False, min_value=1, max_value=100, default=50)


class ReportSummaryOut(serializers.ModelSerializer):
    report_id = serializers.IntegerField(source="pk", read_only=True)
    user_id = serializers.IntegerField(read_only=True, allow_null=True)

    class Meta:
        model = DeepAnalysisReport
        fields = [
            "report_id",
            "report_uuid",
            "user_id",
            "goal",
            "status",
            "start_time",
            "end_time",
            "duration_seconds",
            "report_summary",
            "progress_percentage",
            "error_message",
            "created_at",
            "updated_at",
        ]


class ReportDetailOut(ReportSummaryOut):
    estimated_cost = serializers.FloatField()

    class Meta(ReportSummaryOut.Meta):
        fields = [
            *ReportSummaryOut.Meta.fields,
            "client_uuid",
            "deep_questions",
            "deep_plan",
            "summaries",
            "analysis_code",
            "plotly_figures",
            "synthesis",
            "final_conclusion",
            "html_report",
            "current_step",
            "credits_consumed",
            "model_provider",
            "model_name",
            "total_tokens_used",
            "estimated_cost",
            "steps_completed",
            "last_sequence",
        ]


class HtmlOut(serializers.Serializer):
    html_report = serializers.CharField()
    filename = serializers.CharField()


class MessageOut(serializers.Serializer):
    message = serializers.CharField()


class StreamEventOut(serializers.Serializer):
    step = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    progress = serializers.IntegerField(required=False)
    message = serializers.CharField(required=False)
    sequence = serializers.IntegerField()
