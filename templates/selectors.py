"""Reads for agent templates: what a caller may see, what they have enabled, what the agents get.

Visibility: everyone sees the built-in templates; an authenticated user also sees their
own custom templates, never another user's.

Enabled: a user's preference row decides when one exists; without one, a template is
enabled when it is a core default (the four core agents and their ``planner_`` twins) or
the user's own custom template. Either way a premium-only template is never enabled
for a user who is not premium (their preference is kept, and applies again if they
become premium). An anonymous caller's preferences belong to its analysis session
(``session_id``, when it sent one); without a session it has none and the agents use
the core defaults.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q, QuerySet, Sum
from django.db.models.functions import Coalesce

from config.errors import ApplicationError, NotFoundError
from templates.models import (
    CORE_AGENTS,
    CORE_PLANNER_AGENTS,
    MAX_ENABLED_PLANNER_TEMPLATES,
    AgentTemplate,
    UserTemplatePreference,
)

BIGINT_MAX = 2**63 - 1
INDIVIDUAL_VARIANTS = (AgentTemplate.Variant.INDIVIDUAL, AgentTemplate.Variant.BOTH)
PLANNER_VARIANTS = (AgentTemplate.Variant.PLANNER, AgentTemplate.Variant.BOTH)
VARIANT_FILTERS = {"individual": INDIVIDUAL_VARIANTS, "planner": PLANNER_VARIANTS, "all": None}


def is_signed_in(user) -> bool:
    return user is not None and user.is_authenticated


def preference_owner(*, user, session_id: str | None) -> dict | None:
    """Filter kwargs selecting the caller's preference rows; None when it can have none."""
    if is_signed_in(user):
        return {"user": user}
    if session_id:
        return {"user__isnull": True, "session_id": session_id}
    return None


def variants_for(variant_type: str) -> tuple[str, ...] | None:
    """``individual`` ⇒ individual+both, ``planner`` ⇒ planner+both, ``all`` ⇒ no filter."""
    return VARIANT_FILTERS[variant_type]


def premium_required_error(template: AgentTemplate) -> ApplicationError:
    return ApplicationError(
        f"'{template.display_name}' ({template.name}) is a premium template; "
        "it needs a premium account. Ask an administrator to upgrade yours.",
        code="premium_required",
        status_code=403,
    )


def templates_visible_to(*, user) -> QuerySet[AgentTemplate]:
    """Built-in templates, plus the caller's own custom ones."""
    mine = Q(owner__isnull=True)
    if is_signed_in(user):
        mine |= Q(owner=user)
    return AgentTemplate.objects.filter(mine)


def templates_with_usage(queryset: QuerySet[AgentTemplate]) -> QuerySet[AgentTemplate]:
    """Annotate ``total_usage``: the sum of every user's usage count of the template."""
    return queryset.annotate(total_usage=Coalesce(Sum("user_preferences__usage_count"), 0))


def template_with_usage(*, template: AgentTemplate) -> AgentTemplate:
    """The template again, annotated with ``total_usage``."""
    return templates_with_usage(AgentTemplate.objects.filter(pk=template.pk)).get()


def template_list(*, user, variant_type: str = "all") -> list[AgentTemplate]:
    templates = templates_visible_to(user=user).filter(is_active=True)
    variants = variants_for(variant_type)
    if variants is not None:
        templates = templates.filter(variant__in=variants)
    return list(templates_with_usage(templates).order_by("id"))


def template_get(*, user, template_id: int) -> AgentTemplate:
    """A template the caller may see, active or not (the reference shows inactive ones too)."""
    template = None
    if 0 < template_id <= BIGINT_MAX:
        template = templates_with_usage(templates_visible_to(user=user).filter(pk=template_id)).first()
    if template is None:
        raise NotFoundError(f"Template with ID {template_id} not found", code="template_not_found")
    return template


def template_get_active(*, user, template_id: int) -> AgentTemplate:
    """A template the caller may toggle: visible and active."""
    template = None
    if 0 < template_id <= BIGINT_MAX:
        template = templates_visible_to(user=user).filter(pk=template_id, is_active=True).first()
    if template is None:
        raise ApplicationError("Template not found or inactive", code="template_not_found")
    return template


def template_categories(*, user) -> list[str]:
    categories = templates_visible_to(user=user).filter(is_active=True).exclude(category="")
    return list(categories.order_by("category").values_list("category", flat=True).distinct())


def template_list_by_category(*, user, category: str) -> list[AgentTemplate]:
    templates = templates_visible_to(user=user).filter(is_active=True, category=category)
    return list(templates_with_usage(templates).order_by("id"))


def template_groups_by_category(*, user, variant_type: str) -> list[tuple[str, list[AgentTemplate]]]:
    """Active templates grouped by category, categories and names in alphabetical order."""
    groups: dict[str, list[AgentTemplate]] = {}
    for template in sorted(template_list(user=user, variant_type=variant_type), key=lambda t: (t.category, t.name)):
        groups.setdefault(template.category or "Uncategorized", []).append(template)
    return list(groups.items())


def template_enabled_by_default(*, template: AgentTemplate, user) -> bool:
    """Enabled without a preference row: the core defaults and the user's own custom templates."""
    return template.is_core_default or (is_signed_in(user) and template.owner_id == user.pk)


def template_premium_allowed(*, template: AgentTemplate, user) -> bool:
    return not template.is_premium_only or (is_signed_in(user) and bool(getattr(user, "is_premium", False)))


@dataclass(frozen=True)
class TemplateState:
    """A template as one user sees it: its preference row, if any, and whether it is enabled."""

    template: AgentTemplate
    preference: UserTemplatePreference | None
    is_enabled: bool

    @property
    def usage_count(self) -> int:
        return self.preference.usage_count if self.preference else 0

    @property
    def last_used_at(self) -> dt.datetime | None:
        return self.preference.last_used_at if self.preference else None

    @property
    def preference_created_at(self) -> dt.datetime | None:
        return self.preference.created_at if self.preference else None

    @property
    def preference_updated_at(self) -> dt.datetime | None:
        return self.preference.updated_at if self.preference else None


def template_state(*, template: AgentTemplate, preference: UserTemplatePreference | None, user) -> TemplateState:
    chosen = preference.is_enabled if preference else template_enabled_by_default(template=template, user=user)
    return TemplateState(
        template=template,
        preference=preference,
        is_enabled=chosen and template_premium_allowed(template=template, user=user),
    )


def template_states_for_user(
    *, user, variants: Iterable[str] | None, session_id: str | None = None
) -> list[TemplateState]:
    """Every active template the caller sees (of these variants), with its enabled state.

    ``session_id`` (an anonymous caller's session) is ignored for a signed-in user.
    """
    templates = templates_visible_to(user=user).filter(is_active=True)
    if variants is not None:
        templates = templates.filter(variant__in=list(variants))
    templates = list(templates.order_by("id"))
    preferences = {}
    owner = preference_owner(user=user, session_id=session_id)
    if owner is not None:
        rows = UserTemplatePreference.objects.filter(**owner, template__in=templates)
        preferences = {preference.template_id: preference for preference in rows}
    return [template_state(template=t, preference=preferences.get(t.pk), user=user) for t in templates]


def enabled_planner_template_ids(*, user, session_id: str | None = None) -> set[int]:
    states = template_states_for_user(user=user, variants=PLANNER_VARIANTS, session_id=session_id)
    return {state.template.pk for state in states if state.is_enabled}


def _most_used_first(states: list[TemplateState]) -> list[TemplateState]:
    """By usage count, then last use (never-used last), then age, all descending but age."""
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    ordered = sorted(states, key=lambda state: state.template.pk)
    return sorted(ordered, key=lambda state: (state.usage_count, state.last_used_at or never), reverse=True)


def enabled_planner_template_states(*, user, session_id: str | None = None) -> list[TemplateState]:
    """What the planner is offered: enabled planner/both templates, most used first, at most 10."""
    states = template_states_for_user(user=user, variants=PLANNER_VARIANTS, session_id=session_id)
    return _most_used_first([state for state in states if state.is_enabled])[:MAX_ENABLED_PLANNER_TEMPLATES]


def _core_templates(names: tuple[str, ...]) -> list[AgentTemplate]:
    by_name = {t.name: t for t in AgentTemplate.objects.filter(owner__isnull=True, is_active=True, name__in=names)}
    return [by_name[name] for name in names if name in by_name]


# --- for the agents ----------------------------------------------------------------------


def agent_templates_for_planner(*, user, session_id: str | None = None) -> list[AgentTemplate]:
    """The templates the planner may use for this caller, at most 10, most used first.

    Anonymous callers (``None`` or not authenticated) get their session's choice, or the
    four core planner templates without a session.
    """
    if preference_owner(user=user, session_id=session_id) is None:
        return _core_templates(CORE_PLANNER_AGENTS)
    return [state.template for state in enabled_planner_template_states(user=user, session_id=session_id)]


def agent_templates_for_individual(*, user, session_id: str | None = None) -> list[AgentTemplate]:
    """The templates the caller can address directly (individual/both), built-in and own custom.

    Anonymous callers get their session's choice, or the four core individual templates
    without a session.
    """
    if preference_owner(user=user, session_id=session_id) is None:
        return _core_templates(CORE_AGENTS)
    states = template_states_for_user(user=user, variants=INDIVIDUAL_VARIANTS, session_id=session_id)
    return [state.template for state in states if state.is_enabled]


def agent_template_get_for_user(*, user, name: str) -> AgentTemplate:
    """An active template the caller may use, by name (any variant, enabled or not).

    NotFoundError for unknown, inactive or another user's templates; a 403
    ``premium_required`` ApplicationError for a premium template and a caller who is not premium.
    """
    template = templates_visible_to(user=user).filter(name=name, is_active=True).first()
    if template is None:
        raise NotFoundError(f"No agent template named '{name}'.", code="template_not_found")
    if not template_premium_allowed(template=template, user=user):
        raise premium_required_error(template)
    return template
