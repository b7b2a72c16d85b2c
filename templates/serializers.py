"""Request and response shapes of the ``/templates`` routes (reference §1.7).

Responses use the reference's names: ``template_id`` is the primary key,
``template_name`` the name, ``prompt_template`` the prompt, ``template_category`` the
category; ``usage_count`` of a template is the sum over every user's preference.
"""

from __future__ import annotations

import keyword
import re
from urllib.parse import urlsplit

from rest_framework import serializers

from templates.models import CORE_AGENTS, AgentTemplate

BIGINT_MAX = 2**63 - 1
PROMPT_MIN_CHARS = 20
PROMPT_MAX_CHARS = 8000
DESCRIPTION_MAX_CHARS = 2000


def _none_if_blank(value: str) -> str | None:
    return value or None


# --- responses ---------------------------------------------------------------------------


class TemplateOut(serializers.Serializer):
    """The reference's TemplateResponse. Expects templates annotated with ``total_usage``."""

    template_id = serializers.IntegerField(source="pk")
    template_name = serializers.CharField(source="name")
    display_name = serializers.CharField()
    description = serializers.CharField()
    prompt_template = serializers.CharField(source="prompt")
    template_category = serializers.SerializerMethodField()
    icon_url = serializers.SerializerMethodField()
    is_premium_only = serializers.BooleanField()
    is_active = serializers.BooleanField()
    usage_count = serializers.IntegerField(source="total_usage")
    created_at = serializers.DateTimeField()
    updated_at = serializers.DateTimeField()

    def get_template_category(self, template: AgentTemplate) -> str | None:
        return _none_if_blank(template.category)

    def get_icon_url(self, template: AgentTemplate) -> str | None:
        return _none_if_blank(template.icon_url)


class UserTemplatePreferenceOut(serializers.Serializer):
    """The reference's UserTemplatePreferenceResponse, built from a ``TemplateState``.

    ``usage_count``, ``last_used_at``, ``created_at`` and ``updated_at`` are the user's
    preference row's (0 and nulls when there is none).
    """

    template_id = serializers.IntegerField(source="template.pk")
    template_name = serializers.CharField(source="template.name")
    display_name = serializers.CharField(source="template.display_name")
    description = serializers.CharField(source="template.description")
    template_category = serializers.SerializerMethodField()
    icon_url = serializers.SerializerMethodField()
    is_premium_only = serializers.BooleanField(source="template.is_premium_only")
    is_active = serializers.BooleanField(source="template.is_active")
    is_enabled = serializers.BooleanField()
    usage_count = serializers.IntegerField()
    last_used_at = serializers.DateTimeField(allow_null=True)
    created_at = serializers.DateTimeField(source="preference_created_at", allow_null=True)
    updated_at = serializers.DateTimeField(source="preference_updated_at", allow_null=True)

    def get_template_category(self, state) -> str | None:
        return _none_if_blank(state.template.category)

    def get_icon_url(self, state) -> str | None:
        return _none_if_blank(state.template.icon_url)


class CategoryTemplateOut(serializers.Serializer):
    agent_id = serializers.IntegerField(source="pk")
    agent_name = serializers.CharField(source="name")
    display_name = serializers.SerializerMethodField()
    description = serializers.CharField()
    prompt_template = serializers.CharField(source="prompt")
    template_category = serializers.SerializerMethodField()
    icon_url = serializers.SerializerMethodField()
    is_premium_only = serializers.BooleanField()
    is_active = serializers.BooleanField()
    usage_count = serializers.IntegerField(source="total_usage")
    created_at = serializers.DateTimeField()

    def get_display_name(self, template: AgentTemplate) -> str:
        return template.display_name or template.name

    def get_template_category(self, template: AgentTemplate) -> str | None:
        return _none_if_blank(template.category)

    def get_icon_url(self, template: AgentTemplate) -> str | None:
        return _none_if_blank(template.icon_url)


class CategoryGroupOut(serializers.Serializer):
    category = serializers.CharField()
    templates = CategoryTemplateOut(many=True)


class CategoriesListOut(serializers.Serializer):
    categories = serializers.ListField(child=serializers.CharField())


class TemplateMessageOut(serializers.Serializer):
    message = serializers.CharField()


class ToggleResultOut(serializers.Serializer):
    template_id = serializers.IntegerField()
    success = serializers.BooleanField()
    message = serializers.CharField()
    is_enabled = serializers.BooleanField()


class BulkToggleOut(serializers.Serializer):
    results = ToggleResultOut(many=True)


class CustomTemplateOut(TemplateOut):
    """A TemplateResponse plus what the owner set and sees: variant, base agent, enabled."""

    variant_type = serializers.CharField(source="variant")
    base_agent = serializers.SerializerMethodField()
    is_enabled = serializers.BooleanField()
    message = serializers.CharField()

    def get_base_agent(self, template: AgentTemplate) -> str | None:
        return _none_if_blank(template.base_agent)


# --- requests ----------------------------------------------------------------------------


class ToggleIn(serializers.Serializer):
    is_enabled = serializers.BooleanField()


class TemplateToggleIn(serializers.Serializer):
    """The frontend's body for ``POST /templates/user/{id}/toggle``."""

    template_id = serializers.IntegerField(min_value=1, max_value=BIGINT_MAX)
    is_enabled = serializers.BooleanField()


class BulkToggleIn(serializers.Serializer):
    preferences = TemplateToggleIn(many=True, allow_empty=True)


def validate_name(value: str) -> str:
    if not value.isidentifier() or not value.isascii():
        raise serializers.ValidationError(
            "Must be a Python identifier: letters, digits and underscores, not starting with a digit."
        )
    if keyword.iskeyword(value):
        raise serializers.ValidationError(f"'{value}' is a Python keyword.")
    return value


def validate_prompt(value: str) -> str:
    if len(value) < PROMPT_MIN_CHARS:
        raise serializers.ValidationError(
            f"Must be at least {PROMPT_MIN_CHARS} characters: say what the agent does and how."
        )
    return value


_ICON_PATH = re.compile(r"/icons/[A-Za-z0-9_-][A-Za-z0-9._-]*(/[A-Za-z0-9_-][A-Za-z0-9._-]*)*")
_HOST = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")
ICON_URL_RULE = "Must be a path under /icons/ (e.g. /icons/templates/chart.svg) or an https:// URL."


def validate_icon_url(value: str) -> str:
    """The icon ends up in an ``<img src>`` on the frontend: accept only a same-origin path
    under ``/icons/`` or a plain ``https://host/...`` URL. Anything a browser could read as
    another origin or scheme is refused: ``//host``, ``/\\host`` (browsers treat ``\\`` as
    ``/``), ``javascript:``, ``data:``, ``http:`` (mixed content), credentials in the URL,
    spaces and control characters."""
    if not value:
        return value
    if any(ch in value for ch in "\\\"'<> ") or any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise serializers.ValidationError(ICON_URL_RULE)
    if value.startswith("/"):
        if not _ICON_PATH.fullmatch(value) or ".." in value:
            raise serializers.ValidationError(ICON_URL_RULE)
        return value
    parsed = urlsplit(value)
    if (
        parsed.scheme != "https"
        or not value.startswith("https://")
        or "@" in parsed.netloc
        or not parsed.hostname
        or not _HOST.fullmatch(parsed.hostname)
    ):
        raise serializers.ValidationError(ICON_URL_RULE)
    return value


class CustomTemplateIn(serializers.Serializer):
    template_name = serializers.CharField(max_length=100, validators=[validate_name])
    display_name = serializers.CharField(max_length=200)
    description = serializers.CharField(max_length=DESCRIPTION_MAX_CHARS)
    prompt_template = serializers.CharField(max_length=PROMPT_MAX_CHARS, validators=[validate_prompt])
    template_category = serializers.CharField(max_length=50)
    variant_type = serializers.ChoiceField(choices=AgentTemplate.Variant.values, default="individual")
    base_agent = serializers.ChoiceField(choices=["", *CORE_AGENTS], required=False, allow_blank=True, default="")
    icon_url = serializers.CharField(
        max_length=500, required=False, allow_blank=True, default="", validators=[validate_icon_url]
    )

    FIELDS = {
        "template_name": "name",
        "display_name": "display_name",
        "description": "description",
        "prompt_template": "prompt",
        "template_category": "category",
        "variant_type": "variant",
        "base_agent": "base_agent",
        "icon_url": "icon_url",
    }

    def model_fields(self) -> dict:
        """The validated data under the model's field names (only the fields given, for updates)."""
        return {self.FIELDS[key]: value for key, value in self.validated_data.items()}


class CustomTemplateUpdateIn(CustomTemplateIn):
    """Every field optional: the ones given change, the others are kept."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            field.required = False
            field.default = serializers.empty

    def validate(self, attrs: dict) -> dict:
        if not attrs:
            raise serializers.ValidationError("Give at least one field to change.")
        return attrs
