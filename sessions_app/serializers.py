"""Request and response shapes of the session, dataset and model-settings routes.

Response serializers exist so the OpenAPI schema states every shape; views build plain
dicts that match them.
"""

from __future__ import annotations

from rest_framework import serializers

from config.parsers import json_depth_check
from sessions_app.models import Dataset
from sessions_app.selectors import dataset_described

# --- requests ----------------------------------------------------------------------------


class InitializeSessionIn(serializers.Serializer):
    session_id = serializers.CharField(max_length=64)
    user_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=2**63 - 1)
    user_email = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    user_name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")


class FileIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)


class UploadDataframeIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    columns = serializers.ListField(child=serializers.CharField(allow_blank=True), required=False, default=list)
    mode = serializers.ChoiceField(choices=["replace", "append"], default="replace")
    # Accepted for compatibility; see the README (types are inferred, nulls kept as nulls).
    fill_nulls = serializers.BooleanField(required=False, default=True)
    convert_types = serializers.BooleanField(required=False, default=True)


class BoundedJSONField(serializers.JSONField):
    """A JSON form field (multipart sends JSON as text) with the body parser's depth bound."""

    def to_internal_value(self, data):
        if getattr(data, "is_json_string", False):
            json_depth_check(str(data))
        return super().to_internal_value(data)


class UploadExcelIn(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True)
    name = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    description = serializers.CharField(required=False, allow_blank=True, default="")
    selected_sheets = BoundedJSONField(required=False, default=None)
    mode = serializers.ChoiceField(choices=["replace", "append"], default="replace")
    fill_nulls = serializers.BooleanField(required=False, default=True)
    convert_types = serializers.BooleanField(required=False, default=True)

    def validate_selected_sheets(self, value):
        if value in (None, "", []):
            return None
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise serializers.ValidationError('Must be a JSON array of sheet names, e.g. ["Sheet1"].')
        return value


PREVIEW_MAX_COLUMNS = 1_000
PREVIEW_MAX_ROWS = 100


class PreviewCellField(serializers.Field):
    """One preview cell: a string, number, boolean or null (nothing nested)."""

    def to_internal_value(self, data):
        if data is not None and not isinstance(data, (str, int, float, bool)):
            raise serializers.ValidationError("Cells must be strings, numbers, booleans or null.")
        if isinstance(data, str) and len(data) > 10_000:
            raise serializers.ValidationError("Cells are limited to 10,000 characters.")
        return data

    def to_representation(self, value):
        return value


class DescriptionFromPreviewIn(serializers.Serializer):
    headers = serializers.ListField(
        child=serializers.CharField(allow_blank=True, max_length=255), allow_empty=False, max_length=PREVIEW_MAX_COLUMNS
    )
    rows = serializers.ListField(
        child=serializers.ListField(
            child=PreviewCellField(allow_null=True), allow_empty=True, max_length=PREVIEW_MAX_COLUMNS
        ),
        allow_empty=False,
        max_length=PREVIEW_MAX_ROWS,
    )
    description = serializers.CharField(required=False, allow_blank=True, default="")
    name = serializers.CharField(required=False, allow_blank=True, default="")


class ResetSessionIn(serializers.Serializer):
    """Accepts the flat body the frontend sends and the reference's embedded one."""

    name = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    description = serializers.CharField(required=False, allow_blank=True, allow_null=True)
    preserveModelSettings = serializers.BooleanField(required=False, default=False)  # noqa: N815


BIGINT_MAX = 2**63 - 1


class SetMessageInfoIn(serializers.Serializer):
    chat_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX)
    message_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX)
    user_id = serializers.IntegerField(required=False, allow_null=True, min_value=0, max_value=BIGINT_MAX)


class ModelSettingsIn(serializers.Serializer):
    provider = serializers.CharField(max_length=50)
    model = serializers.CharField(max_length=100)
    api_key = serializers.CharField(required=False, allow_blank=True, default="", max_length=500)
    temperature = serializers.FloatField(required=False, default=1.0)
    max_tokens = serializers.IntegerField(required=False, default=6000, min_value=1, max_value=1_000_000)


class RowsQueryIn(serializers.Serializer):
    offset = serializers.IntegerField(required=False, default=0, min_value=0)
    limit = serializers.IntegerField(required=False, default=200, min_value=1, max_value=1000)


# --- responses ---------------------------------------------------------------------------


class MessageOut(serializers.Serializer):
    message = serializers.CharField()


class GenerateSessionOut(serializers.Serializer):
    session_id = serializers.CharField()
    message = serializers.CharField()


class InitializeSessionOut(serializers.Serializer):
    status = serializers.CharField()
    session_id = serializers.CharField()
    message = serializers.CharField()
    user_id = serializers.IntegerField(allow_null=True)


class PreviewOut(serializers.Serializer):
    headers = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField())
    name = serializers.CharField()
    description = serializers.CharField()


class DescriptionOut(serializers.Serializer):
    description = serializers.CharField()


class UploadDataframeOut(serializers.Serializer):
    message = serializers.CharField()
    session_id = serializers.CharField()
    rows = serializers.IntegerField()
    columns = serializers.IntegerField()
    name = serializers.CharField()


class ExcelSheetsOut(serializers.Serializer):
    sheets = serializers.ListField(child=serializers.CharField())


class UploadExcelOut(serializers.Serializer):
    message = serializers.CharField()
    session_id = serializers.CharField()
    sheets_processed = serializers.ListField(child=serializers.CharField())
    total_sheets = serializers.IntegerField()
    datasets = serializers.ListField(child=serializers.CharField())


class ResetSessionOut(serializers.Serializer):
    message = serializers.CharField()
    session_id = serializers.CharField()
    dataset = serializers.CharField()
    model_settings_preserved = serializers.BooleanField()


class ColumnOut(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField()


class DatasetOut(serializers.ModelSerializer):
    rows = serializers.IntegerField(source="file.n_rows")
    columns = serializers.IntegerField(source="file.n_cols")
    schema = ColumnOut(source="file.columns", many=True)
    content_hash = serializers.CharField(source="file.sha256")
    size_bytes = serializers.IntegerField(source="file.size_bytes")
    is_default = serializers.SerializerMethodField()
    python_description = serializers.SerializerMethodField()

    class Meta:
        model = Dataset
        fields = [
            "name",
            "display_name",
            "description",
            "python_description",
            "source",
            "rows",
            "columns",
            "schema",
            "content_hash",
            "size_bytes",
            "is_default",
            "created_at",
        ]

    def get_is_default(self, dataset: Dataset) -> bool:
        return dataset.source == Dataset.Source.DEFAULT

    def get_python_description(self, dataset: Dataset) -> str:
        return dataset_described(dataset)


class DatasetListOut(serializers.Serializer):
    datasets = DatasetOut(many=True)


class SessionInfoOut(serializers.Serializer):
    session_id = serializers.CharField()
    is_custom_dataset = serializers.BooleanField()
    dataset_name = serializers.CharField()
    dataset_description = serializers.CharField()
    default_name = serializers.CharField()
    has_session = serializers.BooleanField()
    session_keys = serializers.ListField(child=serializers.CharField())
    user_id = serializers.IntegerField(allow_null=True)
    datasets = DatasetOut(many=True)


class SetMessageInfoOut(serializers.Serializer):
    success = serializers.BooleanField()
    session_id = serializers.CharField()
    message_id = serializers.IntegerField(allow_null=True)
    chat_id = serializers.IntegerField(allow_null=True)
    user_id = serializers.IntegerField(allow_null=True)


class ModelSettingsOut(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    hasCustomKey = serializers.BooleanField()  # noqa: N815
    temperature = serializers.FloatField()
    maxTokens = serializers.IntegerField()  # noqa: N815


class CatalogueEntryOut(serializers.Serializer):
    provider = serializers.CharField()
    model = serializers.CharField()
    display_name = serializers.CharField()
    context_window = serializers.IntegerField()
    input_per_1k = serializers.FloatField()
    output_per_1k = serializers.FloatField()
    tier = serializers.IntegerField()
    tier_name = serializers.CharField()
    credits = serializers.IntegerField()
    litellm_id = serializers.CharField()
    available = serializers.BooleanField()


class CatalogueOut(serializers.Serializer):
    default = CatalogueEntryOut()
    models = CatalogueEntryOut(many=True)


class RowsOut(serializers.Serializer):
    name = serializers.CharField()
    offset = serializers.IntegerField()
    limit = serializers.IntegerField()
    total_rows = serializers.IntegerField()
    headers = serializers.ListField(child=serializers.CharField())
    rows = serializers.ListField(child=serializers.ListField())


class ColumnProfileOut(serializers.Serializer):
    name = serializers.CharField()
    dtype = serializers.CharField()
    nulls = serializers.IntegerField()
    distinct = serializers.IntegerField()
    min = BoundedJSONField(required=False)
    max = BoundedJSONField(required=False)
    mean = serializers.FloatField(required=False, allow_null=True)
    std = serializers.FloatField(required=False, allow_null=True)
    top_values = serializers.ListField(child=serializers.DictField(), required=False)


class ProfileOut(serializers.Serializer):
    name = serializers.CharField()
    rows = serializers.IntegerField()
    columns = ColumnProfileOut(many=True)
