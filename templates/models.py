"""Agent templates and each user's preferences for them (reference §1.7, §2).

An agent template is an agent described by data: its ``prompt`` becomes the
instructions of a DSPy signature (inputs ``goal``, ``dataset``, ``plan_instructions``;
outputs ``code``, ``summary``). Built-in templates (``owner`` null) are seeded by a
migration; a user may add custom templates, which belong to them alone. Names are
globally unique, because an agent is addressed by name (``@name`` in a question,
``/chat/{name}``, the planner's plan).

A template's ``variant`` says where it is offered: ``individual`` (called directly),
``planner`` (offered to the planner) or ``both``. The reference ships each seeded agent
twice, ``x`` (individual) and ``planner_x`` (planner).

A :class:`UserTemplatePreference` row records whether a user (or, for an anonymous
caller, an analysis session) has a template enabled and how often they used it.
Without a row, a template is enabled only when it is one of the core defaults or the
user's own custom template (see
``templates.selectors.template_enabled_by_default``).
"""

from __future__ import annotations

import keyword

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

# The four hard-coded agents of the reference; their templates are enabled by default.
CORE_AGENTS = ("preprocessing_agent", "statistical_analytics_agent", "sk_learn_agent", "data_viz_agent")
PLANNER_PREFIX = "planner_"
CORE_PLANNER_AGENTS = tuple(PLANNER_PREFIX + name for name in CORE_AGENTS)
MAX_ENABLED_PLANNER_TEMPLATES = 10


def validate_template_name(value: str) -> None:
    """A template name becomes a DSPy signature class name and an ``@mention``."""
    if not value.isidentifier() or not value.isascii():
        raise ValidationError(
            f"{value!r} is not a valid name: use letters, digits and underscores, not starting with a digit.",
            code="invalid_name",
        )
    if keyword.iskeyword(value):
        raise ValidationError(f"{value!r} is a Python keyword and cannot name a template.", code="invalid_name")


class AgentTemplate(models.Model):
    class Variant(models.TextChoices):
        INDIVIDUAL = "individual"
        PLANNER = "planner"
        BOTH = "both"

    name = models.CharField(
        max_length=100, validators=[validate_template_name], help_text="The reference's template_name."
    )
    display_name = models.CharField(max_length=200)
    description = models.TextField()
    prompt = models.TextField(help_text="The reference's prompt_template: the DSPy signature's instructions.")
    category = models.CharField(max_length=50)
    icon_url = models.CharField(max_length=500, blank=True)
    is_premium_only = models.BooleanField(default=False)
    variant = models.CharField(max_length=20, choices=Variant.choices, default=Variant.INDIVIDUAL)
    base_agent = models.CharField(
        max_length=100,
        blank=True,
        choices=[(name, name) for name in CORE_AGENTS],
        help_text="The core agent this template stands for; blank for agents built from the prompt alone.",
    )
    is_active = models.BooleanField(default=True)
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="agent_templates",
        help_text="Empty for built-in templates; the user a custom template belongs to.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        constraints = [
            # `Data_Viz_Agent` beside `data_viz_agent` would be two agents a person cannot tell apart.
            # Names are unique among the templates one caller can see (the built-ins and their
            # own): another user's private template never blocks, or reveals, a name.
            models.UniqueConstraint(
                Lower("name"), condition=models.Q(owner__isnull=True), name="unique_builtin_template_name_ci"
            ),
            models.UniqueConstraint(Lower("name"), "owner", name="unique_owner_template_name_ci"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_core_default(self) -> bool:
        return self.owner_id is None and self.name in CORE_AGENTS + CORE_PLANNER_AGENTS

    @property
    def offered_to_planner(self) -> bool:
        return self.variant in (self.Variant.PLANNER, self.Variant.BOTH)


class UserTemplatePreference(models.Model):
    """Whether one owner has one template enabled, and how often they used it.

    The owner is a signed-in ``user``, or, for an anonymous caller, the analysis session
    (``session_id``; the web frontend's guests and Temporary Login have no user), never both.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="template_preferences",
    )
    session_id = models.CharField(max_length=64, blank=True, db_index=True)
    template = models.ForeignKey(AgentTemplate, on_delete=models.CASCADE, related_name="user_preferences")
    is_enabled = models.BooleanField(default=True)
    usage_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "template"],
                condition=models.Q(user__isnull=False),
                name="unique_user_template_preference",
            ),
            models.UniqueConstraint(
                fields=["session_id", "template"],
                condition=~models.Q(session_id=""),
                name="unique_session_template_preference",
            ),
            models.CheckConstraint(
                condition=(models.Q(user__isnull=False) & models.Q(session_id=""))
                | (models.Q(user__isnull=True) & ~models.Q(session_id="")),
                name="template_preference_has_one_owner",
            ),
        ]

    def __str__(self) -> str:
        state = "enabled" if self.is_enabled else "disabled"
        return f"{self.template} for {self.user or self.session_id[:8] + '…'} ({state})"
