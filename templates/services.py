"""Writes for agent templates: enabling and disabling them, recording their use, custom templates.

Two rules hold for every user with any enabled planner template, whatever the route:
at most ``MAX_ENABLED_PLANNER_TEMPLATES`` planner/both templates are enabled (the
planner's prompt lists them all), and the last one cannot be disabled, deleted or moved
out of the planner (the planner would have no agent). Writes that check them lock the
user's row first, so two concurrent requests cannot both pass a check that only one
of them may.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from config.errors import ApplicationError, NotFoundError
from templates.models import (
    CORE_AGENTS,
    CORE_PLANNER_AGENTS,
    MAX_ENABLED_PLANNER_TEMPLATES,
    AgentTemplate,
    UserTemplatePreference,
)
from templates.selectors import (
    BIGINT_MAX,
    enabled_planner_template_ids,
    is_signed_in,
    preference_owner,
    premium_required_error,
    template_enabled_by_default,
    template_get_active,
    template_premium_allowed,
    template_states_for_user,
    templates_visible_to,
)

LIMIT_MESSAGE = f"Cannot enable more than {MAX_ENABLED_PLANNER_TEMPLATES} templates for planner use"
LAST_AGENT_MESSAGE = "Cannot disable the last active agent. At least one agent must remain active."
ALL_AGENTS_MESSAGE = "Cannot disable all agents. At least one agent must remain active."
NOT_FOUND_OR_INACTIVE = "Template not found or inactive"
# Agent names the agents code uses besides the templates; a custom template must not shadow them.
RESERVED_NAMES = frozenset(CORE_AGENTS + CORE_PLANNER_AGENTS + ("basic_qa_agent",))


def _lock_user(user) -> None:
    get_user_model().objects.select_for_update().only("pk").get(pk=user.pk)


def _owner_or_400(*, user, session_id: str | None) -> dict:
    """The caller's preference-row owner; an anonymous caller needs a session to have one."""
    owner = preference_owner(user=user, session_id=session_id)
    if owner is None:
        raise ApplicationError("Session ID required", code="session_required")
    if is_signed_in(user):
        _lock_user(user)
    return owner


def _preference_set(*, user, template: AgentTemplate, is_enabled: bool, session_id: str | None = None) -> None:
    owner = {"user": user} if is_signed_in(user) else {"user": None, "session_id": session_id}
    UserTemplatePreference.objects.update_or_create(**owner, template=template, defaults={"is_enabled": is_enabled})


def toggle_message(template: AgentTemplate, is_enabled: bool) -> str:
    return f"Template '{template.name}' {'enabled' if is_enabled else 'disabled'} successfully"


# --- enabling and disabling --------------------------------------------------------------


@transaction.atomic
def template_preference_set(
    *, user, template_id: int, is_enabled: bool, session_id: str | None = None
) -> AgentTemplate:
    """Enable or disable one template for the user (or anonymous session), within the planner limits."""
    _owner_or_400(user=user, session_id=session_id)
    template = template_get_active(user=user, template_id=template_id)
    if is_enabled and not template_premium_allowed(template=template, user=user):
        raise premium_required_error(template)
    if template.offered_to_planner:
        enabled = enabled_planner_template_ids(user=user, session_id=session_id)
        if is_enabled and template.pk not in enabled and len(enabled) >= MAX_ENABLED_PLANNER_TEMPLATES:
            raise ApplicationError(LIMIT_MESSAGE, code="planner_template_limit")
        if not is_enabled and enabled == {template.pk}:
            raise ApplicationError(LAST_AGENT_MESSAGE, code="last_planner_template")
    _preference_set(user=user, template=template, is_enabled=is_enabled, session_id=session_id)
    return template


@dataclass(frozen=True)
class ToggleResult:
    template_id: int
    success: bool
    message: str
    is_enabled: bool


@transaction.atomic
def template_preferences_bulk_set(
    *, user, items: list[tuple[int, bool]], session_id: str | None = None
) -> list[ToggleResult]:
    """Apply ``(template_id, is_enabled)`` items together; one result per item, in order.

    An item fails alone when its template is unknown or inactive, or premium for a user
    who is not. The planner limit is computed on the state after the whole batch: the
    disables are applied first, then enables of planner templates are admitted in item
    order while fewer than 10 are enabled; the rest fail with the limit message. A batch
    that would leave no planner template enabled, while disabling one, is refused whole.
    The same template may appear more than once with the same value (one change).
    """
    if not items:
        raise ApplicationError("No preferences provided", code="no_preferences")
    _owner_or_400(user=user, session_id=session_id)
    ids = {template_id for template_id, _ in items if 0 < template_id <= BIGINT_MAX}
    templates = {t.pk: t for t in templates_visible_to(user=user).filter(is_active=True, pk__in=ids)}
    states = template_states_for_user(user=user, variants=None, session_id=session_id)
    current = {state.template.pk: state.is_enabled for state in states}
    planner_now = {state.template.pk for state in states if state.is_enabled and state.template.offered_to_planner}

    errors: dict[int, str] = {}
    wanted: dict[int, bool] = {}  # template id -> is_enabled, in order of first mention
    for index, (template_id, is_enabled) in enumerate(items):
        template = templates.get(template_id)
        if template is None:
            errors[index] = NOT_FOUND_OR_INACTIVE
        elif is_enabled and not template_premium_allowed(template=template, user=user):
            errors[index] = premium_required_error(template).message
        elif wanted.setdefault(template_id, is_enabled) != is_enabled:
            raise ApplicationError(
                f"Template {template_id} appears more than once with different is_enabled values.",
                code="conflicting_preferences",
            )

    projected = {pk for pk in planner_now if wanted.get(pk, True)}
    refused: set[int] = set()
    for template_id, is_enabled in wanted.items():
        if is_enabled and templates[template_id].offered_to_planner and template_id not in projected:
            if len(projected) >= MAX_ENABLED_PLANNER_TEMPLATES:
                refused.add(template_id)
            else:
                projected.add(template_id)
    disables_planner_agent = any(not is_enabled and pk in planner_now for pk, is_enabled in wanted.items())
    if not projected and disables_planner_agent:
        raise ApplicationError(ALL_AGENTS_MESSAGE, code="last_planner_template")

    for template_id, is_enabled in wanted.items():
        if template_id not in refused:
            _preference_set(user=user, template=templates[template_id], is_enabled=is_enabled, session_id=session_id)

    results = []
    for index, (template_id, is_enabled) in enumerate(items):
        if index in errors:
            results.append(ToggleResult(template_id, False, errors[index], current.get(template_id, False)))
        elif template_id in refused:
            results.append(ToggleResult(template_id, False, LIMIT_MESSAGE, current.get(template_id, False)))
        else:
            message = toggle_message(templates[template_id], is_enabled)
            results.append(ToggleResult(template_id, True, message, is_enabled))
    return results


# --- usage -------------------------------------------------------------------------------


def template_usage_record(*, user, name: str, session_id: str | None = None) -> None:
    """Count one use of a template by the user (or anonymous session) and stamp ``last_used_at``.

    The first use writes the owner's preference row with the template's default enabled
    state: recording use never changes whether a template is enabled (the reference
    wrote a disabled row, §9.2 item 12). Anonymous callers without a session and unknown
    names are ignored.
    """
    owner = preference_owner(user=user, session_id=session_id)
    if owner is None:
        return
    template = templates_visible_to(user=user).filter(name=name).first()
    if template is None:
        return
    now = timezone.now()
    rows = UserTemplatePreference.objects.filter(**owner, template=template)
    if rows.update(usage_count=F("usage_count") + 1, last_used_at=now, updated_at=now):
        return
    try:
        with transaction.atomic():
            UserTemplatePreference.objects.create(
                user=user if is_signed_in(user) else None,
                session_id="" if is_signed_in(user) else session_id,
                template=template,
                is_enabled=template_enabled_by_default(template=template, user=user),
                usage_count=1,
                last_used_at=now,
            )
    except IntegrityError:  # a concurrent first use created the row
        rows.update(usage_count=F("usage_count") + 1, last_used_at=now, updated_at=now)


# --- custom templates --------------------------------------------------------------------


@dataclass(frozen=True)
class CustomTemplateOutcome:
    template: AgentTemplate
    is_enabled: bool
    message: str


def custom_template_get_for_owner(*, user, template_id: int) -> AgentTemplate:
    """The caller's own custom template; NotFoundError for built-ins and others' templates."""
    template = None
    if is_signed_in(user) and 0 < template_id <= BIGINT_MAX:
        template = AgentTemplate.objects.filter(pk=template_id, owner=user).first()
    if template is None:
        raise NotFoundError(f"Custom template with ID {template_id} not found", code="template_not_found")
    return template


def _assert_name_free(name: str, *, user, template_id: int | None = None) -> None:
    """Refuse a name the caller could confuse: a built-in's or one of their own templates'.

    Only those are searched, so the refusal never tells anyone that another user's private
    template has this name.
    """
    visible = AgentTemplate.objects.filter(Q(owner__isnull=True) | Q(owner=user))
    clash = visible.filter(name__iexact=name).exclude(pk=template_id).first()
    if clash is not None:
        owner = "a built-in template" if clash.owner_id is None else "another of your templates"
        raise ApplicationError(
            f"The name '{name}' is already used by {owner} ('{clash.name}'); choose another name.",
            code="template_name_taken",
        )
    if name.lower() in RESERVED_NAMES:
        raise ApplicationError(
            f"The name '{name}' is reserved for a built-in agent; choose another name.", code="template_name_taken"
        )


def canonical_category(category: str) -> str:
    """A built-in category in any letter case is spelled as the built-in spells it."""
    category = category.strip()
    known = AgentTemplate.objects.filter(owner__isnull=True, category__iexact=category)
    return known.values_list("category", flat=True).first() or category


def _save(template: AgentTemplate) -> None:
    try:
        template.full_clean(validate_unique=False, validate_constraints=False)
    except ValidationError as error:
        field, messages = next(iter(error.message_dict.items()))
        raise ApplicationError(f"{field}: {messages[0]}", code="invalid") from None
    try:
        with transaction.atomic():
            template.save()
    except IntegrityError:  # a concurrent request took the name
        _assert_name_free(template.name, user=template.owner, template_id=template.pk)
        raise


@transaction.atomic
def custom_template_create(
    *,
    user,
    name: str,
    display_name: str,
    description: str,
    prompt: str,
    category: str,
    variant: str = AgentTemplate.Variant.INDIVIDUAL,
    base_agent: str = "",
    icon_url: str = "",
) -> CustomTemplateOutcome:
    """Create a custom template owned by the user, enabled for them.

    A planner/both template created while 10 planner templates are enabled is stored
    disabled (the outcome's message says so): the template is valid, the limit applies
    to enabling it.
    """
    _lock_user(user)
    _assert_name_free(name, user=user)
    enabled_before = enabled_planner_template_ids(user=user)
    template = AgentTemplate(
        owner=user,
        name=name,
        display_name=display_name,
        description=description,
        prompt=prompt,
        category=canonical_category(category),
        variant=variant,
        base_agent=base_agent,
        icon_url=icon_url,
        is_premium_only=False,
    )
    _save(template)
    is_enabled = not (template.offered_to_planner and len(enabled_before) >= MAX_ENABLED_PLANNER_TEMPLATES)
    _preference_set(user=user, template=template, is_enabled=is_enabled)
    message = f"Template '{name}' created and enabled"
    if not is_enabled:
        message = f"Template '{name}' created but not enabled: {LIMIT_MESSAGE}; disable one to enable it"
    return CustomTemplateOutcome(template=template, is_enabled=is_enabled, message=message)


@transaction.atomic
def custom_template_update(*, user, template_id: int, changes: dict) -> CustomTemplateOutcome:
    """Change the given fields of the user's custom template (fields not given are kept).

    Moving an enabled template into the planner when 10 are enabled stores it disabled;
    moving the last enabled planner template out of the planner is refused.
    """
    _lock_user(user)
    template = custom_template_get_for_owner(user=user, template_id=template_id)
    enabled_before = enabled_planner_template_ids(user=user)
    was_in_planner = template.offered_to_planner
    preference = UserTemplatePreference.objects.filter(user=user, template=template).first()
    is_enabled = preference.is_enabled if preference else template_enabled_by_default(template=template, user=user)
    if "name" in changes:
        _assert_name_free(changes["name"], user=user, template_id=template.pk)
    if "category" in changes:
        changes = {**changes, "category": canonical_category(changes["category"])}
    for field, value in changes.items():
        setattr(template, field, value)

    message = f"Template '{template.name}' updated"
    if is_enabled and was_in_planner and not template.offered_to_planner and enabled_before == {template.pk}:
        raise ApplicationError(
            "Cannot move the last active agent out of the planner. At least one agent must remain active.",
            code="last_planner_template",
        )
    moved_in = is_enabled and not was_in_planner and template.offered_to_planner
    if moved_in and len(enabled_before) >= MAX_ENABLED_PLANNER_TEMPLATES:
        is_enabled = False
        message = f"Template '{template.name}' updated and disabled: {LIMIT_MESSAGE}"
    _save(template)
    _preference_set(user=user, template=template, is_enabled=is_enabled)
    return CustomTemplateOutcome(template=template, is_enabled=is_enabled, message=message)


@transaction.atomic
def custom_template_delete(*, user, template_id: int) -> str:
    """Delete the user's custom template (and everyone's preferences for it); returns its name."""
    _lock_user(user)
    template = custom_template_get_for_owner(user=user, template_id=template_id)
    if enabled_planner_template_ids(user=user) == {template.pk}:
        raise ApplicationError(
            "Cannot delete the last active agent. Enable another planner agent first.", code="last_planner_template"
        )
    name = template.name
    template.delete()
    return name
