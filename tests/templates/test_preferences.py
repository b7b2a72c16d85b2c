"""Per-user template preferences: the enabled rule, toggles, the planner limits, premium, usage."""

from __future__ import annotations

import pytest
from django.utils import timezone

from templates.models import AgentTemplate, UserTemplatePreference
from templates.services import template_usage_record
from tests.templates.conftest import CORE, CORE_PLANNER, template_id

pytestmark = pytest.mark.django_db

LIMIT = "Cannot enable more than 10 templates for planner use"
LAST = "Cannot disable the last active agent. At least one agent must remain active."
ALL = "Cannot disable all agents. At least one agent must remain active."


def enabled_names(api, user, variant: str = "planner") -> list[str]:
    body = api.get(f"/templates/user/{user.pk}/enabled?variant_type={variant}").json()
    return [item["template_name"] for item in body]


def toggle(api, user, name_or_id, is_enabled: bool):
    pk = template_id(name_or_id) if isinstance(name_or_id, str) else name_or_id
    return api.post(f"/templates/user/{user.pk}/template/{pk}/toggle", {"is_enabled": is_enabled}, format="json")


def bulk(api, user, items: list[tuple[int, bool]]):
    body = {"preferences": [{"template_id": pk, "is_enabled": value} for pk, value in items]}
    return api.post(f"/templates/user/{user.pk}/bulk-toggle", body, format="json")


def preference(user, name: str) -> UserTemplatePreference | None:
    return UserTemplatePreference.objects.filter(user=user, template__name=name).first()


def enable_all(user, templates) -> None:
    for template in templates:
        UserTemplatePreference.objects.create(user=user, template=template, is_enabled=True)


# --- who may call ------------------------------------------------------------------------

USER_ROUTES = [
    ("get", "/templates/user/{id}", None),
    ("get", "/templates/user/{id}/enabled", None),
    ("get", "/templates/user/{id}/enabled/planner", None),
    ("post", "/templates/user/{id}/template/1/toggle", {"is_enabled": False}),
    ("post", "/templates/user/{id}/toggle", {"template_id": 1, "is_enabled": False}),
    ("post", "/templates/user/{id}/bulk-toggle", {"preferences": [{"template_id": 1, "is_enabled": False}]}),
]


READ_ROUTES = [route for route in USER_ROUTES if route[0] == "get"]
WRITE_ROUTES = [route for route in USER_ROUTES if route[0] == "post"]


@pytest.mark.parametrize(("method", "path", "body"), READ_ROUTES)
def test_anonymous_callers_without_a_session_read_the_defaults_never_the_named_users(
    client, signed_in, method, path, body
):
    ada, ada_client = signed_in("ada")
    assert toggle(ada_client, ada, "planner_preprocessing_agent", False).status_code == 200
    response = client.get(path.format(id=ada.pk))
    assert response.status_code == 200
    enabled = sorted(item["template_name"] for item in response.json() if item["is_enabled"])
    assert enabled == sorted(CORE_PLANNER)
    assert all(item["usage_count"] == 0 for item in response.json())


@pytest.mark.parametrize(("method", "path", "body"), WRITE_ROUTES)
def test_anonymous_callers_without_a_session_cannot_change_anything(client, make_user, method, path, body):
    user, _ = make_user("ada")
    response = client.post(path.format(id=user.pk), body, format="json")
    assert response.status_code == 400
    assert response.json() == {"detail": "Session ID required", "code": "session_required"}
    assert UserTemplatePreference.objects.count() == 0


def test_an_anonymous_sessions_preferences_are_its_own(client, signed_in):
    ada, ada_client = signed_in("ada")
    mine, theirs = "auto_1796013641317_z0yxulqct", "auto_1796013641999_abcdefghi"
    # The web frontend's Temporary Login always names user 1, whoever that is.
    response = client.post(
        "/templates/user/1/bulk-toggle",
        {"preferences": [{"template_id": template_id("planner_sk_learn_agent"), "is_enabled": False}]},
        format="json",
        HTTP_X_SESSION_ID=mine,
    )
    assert response.status_code == 200
    assert [r["success"] for r in response.json()["results"]] == [True]
    row = UserTemplatePreference.objects.get()
    assert (row.user_id, row.session_id, row.template.name, row.is_enabled) == (
        None, mine, "planner_sk_learn_agent", False
    )

    def enabled_for(session_id: str) -> list[str]:
        body = client.get("/templates/user/1?variant_type=planner", HTTP_X_SESSION_ID=session_id).json()
        return sorted(item["template_name"] for item in body if item["is_enabled"])

    assert enabled_for(mine) == sorted(set(CORE_PLANNER) - {"planner_sk_learn_agent"})
    assert enabled_for(theirs) == sorted(CORE_PLANNER)
    assert sorted(enabled_names(ada_client, ada)) == sorted(CORE_PLANNER)
    # The planner follows the session's choice.
    from sessions_app.agents.services import planner_agents

    assert sorted(spec.name for spec in planner_agents(user=None, session_id=mine)) == sorted(
        set(CORE_PLANNER) - {"planner_sk_learn_agent"}
    )


def test_an_anonymous_caller_sending_a_users_session_is_404(client, signed_in):
    _, ada_client = signed_in("ada")
    owned = ada_client.post("/generate-session").json()["session_id"]
    response = client.get("/templates/user/1", HTTP_X_SESSION_ID=owned)
    assert response.status_code == 404
    assert response.json()["code"] == "session_not_found"


@pytest.mark.parametrize(("method", "path", "body"), USER_ROUTES)
def test_another_users_id_is_404(signed_in, method, path, body):
    _, ada_client = signed_in("ada")
    bob, _ = signed_in("bob")
    response = getattr(ada_client, method)(path.format(id=bob.pk), body, format="json")
    assert response.status_code == 404
    assert response.json() == {"detail": "User not found", "code": "user_not_found"}
    assert UserTemplatePreference.objects.count() == 0


# --- the enabled rule --------------------------------------------------------------------


def test_without_preference_rows_only_the_core_defaults_are_enabled(signed_in):
    ada, api = signed_in("ada")
    body = api.get(f"/templates/user/{ada.pk}").json()
    assert [(item["template_name"], item["is_enabled"]) for item in body] == [
        ("planner_preprocessing_agent", True),
        ("planner_statistical_analytics_agent", True),
        ("planner_sk_learn_agent", True),
        ("planner_data_viz_agent", True),
        ("planner_feature_engineering_agent", False),
        ("planner_polars_agent", False),
    ]
    template = AgentTemplate.objects.get(name="planner_preprocessing_agent")
    assert body[0] == {
        "template_id": template.pk,
        "template_name": "planner_preprocessing_agent",
        "display_name": "Data Preprocessing Agent",
        "description": template.description,
        "template_category": "Data Manipulation",
        "icon_url": "/icons/templates/preprocessing_agent.svg",
        "is_premium_only": False,
        "is_active": True,
        "is_enabled": True,
        "usage_count": 0,
        "last_used_at": None,
        "created_at": None,
        "updated_at": None,
    }
    assert enabled_names(api, ada, "individual") == CORE
    assert enabled_names(api, ada, "nonsense") == CORE_PLANNER


def test_a_preference_row_decides(signed_in):
    ada, api = signed_in("ada", premium=True)
    used_at = timezone.now()
    UserTemplatePreference.objects.create(
        user=ada, template=AgentTemplate.objects.get(name="planner_sk_learn_agent"), is_enabled=False
    )
    UserTemplatePreference.objects.create(
        user=ada,
        template=AgentTemplate.objects.get(name="planner_polars_agent"),
        is_enabled=True,
        usage_count=3,
        last_used_at=used_at,
    )
    body = api.get(f"/templates/user/{ada.pk}/enabled").json()
    assert [item["template_name"] for item in body] == [
        "planner_preprocessing_agent",
        "planner_statistical_analytics_agent",
        "planner_data_viz_agent",
        "planner_polars_agent",
    ]
    polars = body[3]
    assert (polars["usage_count"], polars["last_used_at"]) == (3, used_at.isoformat().replace("+00:00", "Z"))
    assert polars["created_at"] is not None and polars["updated_at"] is not None


def test_enabled_planner_route_orders_by_use_and_caps_at_ten(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    extras = extra_planner_templates(7)
    enable_all(ada, extras)
    UserTemplatePreference.objects.filter(template=extras[3]).update(usage_count=9, last_used_at=timezone.now())
    body = api.get(f"/templates/user/{ada.pk}/enabled/planner").json()
    assert [item["template_name"] for item in body] == [
        "planner_extra_3",
        *CORE_PLANNER,
        "planner_extra_0",
        "planner_extra_1",
        "planner_extra_2",
        "planner_extra_4",
        "planner_extra_5",
    ]


# --- toggles -----------------------------------------------------------------------------


def test_toggle_disables_and_enables(signed_in):
    ada, api = signed_in("ada")
    response = toggle(api, ada, "planner_sk_learn_agent", False)
    assert response.status_code == 200
    assert response.json() == {"message": "Template 'planner_sk_learn_agent' disabled successfully"}
    assert preference(ada, "planner_sk_learn_agent").is_enabled is False
    assert "planner_sk_learn_agent" not in enabled_names(api, ada)

    response = toggle(api, ada, "planner_sk_learn_agent", True)
    assert response.json() == {"message": "Template 'planner_sk_learn_agent' enabled successfully"}
    assert enabled_names(api, ada) == CORE_PLANNER


def test_toggle_refuses_missing_inactive_and_other_users_templates(signed_in):
    ada, api = signed_in("ada")
    bob, _ = signed_in("bob")
    theirs = AgentTemplate.objects.create(
        owner=bob, name="bobs_agent", display_name="B", description="d", prompt="p" * 20, category="X"
    )
    AgentTemplate.objects.filter(name="planner_sk_learn_agent").update(is_active=False)
    for target in (99999, theirs.pk, template_id("planner_sk_learn_agent")):
        response = toggle(api, ada, target, True)
        assert response.status_code == 400
        assert response.json() == {"detail": "Template not found or inactive", "code": "template_not_found"}
    assert UserTemplatePreference.objects.count() == 0


def test_toggle_body_must_say_is_enabled(signed_in):
    ada, api = signed_in("ada")
    response = api.post(f"/templates/user/{ada.pk}/template/{template_id('sk_learn_agent')}/toggle", {}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"is_enabled": ["This field is required."]}


def test_the_last_enabled_planner_template_cannot_be_disabled(signed_in):
    ada, api = signed_in("ada")
    for name in CORE_PLANNER[:3]:
        assert toggle(api, ada, name, False).status_code == 200
    response = toggle(api, ada, "planner_data_viz_agent", False)
    assert response.status_code == 400
    assert response.json() == {"detail": LAST, "code": "last_planner_template"}
    assert enabled_names(api, ada) == ["planner_data_viz_agent"]
    # Disabling one that is already disabled is not disabling the last one.
    assert toggle(api, ada, "planner_sk_learn_agent", False).status_code == 200
    # Individual templates have no such floor.
    for name in CORE:
        assert toggle(api, ada, name, False).status_code == 200
    assert enabled_names(api, ada, "individual") == []


def test_ten_planner_templates_may_be_enabled_not_eleven(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    extras = extra_planner_templates(7)
    for extra in extras[:6]:
        assert toggle(api, ada, extra.pk, True).status_code == 200
    assert len(enabled_names(api, ada)) == 10
    response = toggle(api, ada, extras[6].pk, True)
    assert response.status_code == 400
    assert response.json() == {"detail": LIMIT, "code": "planner_template_limit"}
    assert preference(ada, "planner_extra_6") is None
    # Re-enabling one that is enabled is fine at the limit; individual templates do not count.
    assert toggle(api, ada, extras[0].pk, True).status_code == 200
    assert toggle(api, ada, "polars_agent", False).status_code == 200
    assert toggle(api, ada, "planner_sk_learn_agent", False).status_code == 200
    assert toggle(api, ada, extras[6].pk, True).status_code == 200


def test_the_frontend_toggle_route(signed_in):
    ada, api = signed_in("ada")
    path = f"/templates/user/{ada.pk}/toggle"
    response = api.post(
        path, {"template_id": template_id("planner_data_viz_agent"), "is_enabled": False}, format="json"
    )
    assert response.status_code == 200
    assert response.json() == {"message": "Template 'planner_data_viz_agent' disabled successfully"}
    assert preference(ada, "planner_data_viz_agent").is_enabled is False
    response = api.post(path, {"template_id": 99999, "is_enabled": True}, format="json")
    assert (response.status_code, response.json()["detail"]) == (400, "Template not found or inactive")
    response = api.post(path, {"is_enabled": True}, format="json")
    assert (response.status_code, response.json()["errors"]) == (400, {"template_id": ["This field is required."]})


# --- premium -----------------------------------------------------------------------------


def test_premium_templates_need_a_premium_user(signed_in):
    ada, api = signed_in("ada")
    response = toggle(api, ada, "planner_polars_agent", True)
    assert response.status_code == 403
    assert response.json()["code"] == "premium_required"
    assert "'Polars Agent' (planner_polars_agent) is a premium template" in response.json()["detail"]
    assert preference(ada, "planner_polars_agent") is None
    # Disabling is always allowed.
    assert toggle(api, ada, "planner_polars_agent", False).status_code == 200

    carol, carol_api = signed_in("carol", premium=True)
    assert toggle(carol_api, carol, "planner_polars_agent", True).status_code == 200
    assert "planner_polars_agent" in enabled_names(carol_api, carol)
    # A user who stops being premium keeps the preference, but the template is not enabled for them.
    carol.is_premium = False
    carol.save()
    assert "planner_polars_agent" not in enabled_names(carol_api, carol)
    assert preference(carol, "planner_polars_agent").is_enabled is True


# --- bulk toggle -------------------------------------------------------------------------


def test_bulk_toggle_applies_items_and_reports_each(signed_in):
    ada, api = signed_in("ada")
    response = bulk(
        api,
        ada,
        [(template_id("planner_sk_learn_agent"), False), (99999, True), (template_id("preprocessing_agent"), False)],
    )
    assert response.status_code == 200
    assert response.json() == {
        "results": [
            {
                "template_id": template_id("planner_sk_learn_agent"),
                "success": True,
                "message": "Template 'planner_sk_learn_agent' disabled successfully",
                "is_enabled": False,
            },
            {"template_id": 99999, "success": False, "message": "Template not found or inactive", "is_enabled": False},
            {
                "template_id": template_id("preprocessing_agent"),
                "success": True,
                "message": "Template 'preprocessing_agent' disabled successfully",
                "is_enabled": False,
            },
        ]
    }
    assert enabled_names(api, ada) == [
        "planner_preprocessing_agent",
        "planner_statistical_analytics_agent",
        "planner_data_viz_agent",
    ]
    assert enabled_names(api, ada, "individual") == ["statistical_analytics_agent", "sk_learn_agent", "data_viz_agent"]


def test_bulk_toggle_needs_items(signed_in):
    ada, api = signed_in("ada")
    response = bulk(api, ada, [])
    assert response.status_code == 400
    assert response.json() == {"detail": "No preferences provided", "code": "no_preferences"}


def test_bulk_toggle_cannot_disable_every_planner_template(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    (extra,) = extra_planner_templates(1)
    items = [(template_id(name), False) for name in CORE_PLANNER] + [(template_id("sk_learn_agent"), False)]
    response = bulk(api, ada, items)
    assert response.status_code == 400
    assert response.json() == {"detail": ALL, "code": "last_planner_template"}
    # An enable that fails (premium, for a user who is not) does not keep one enabled either.
    response = bulk(api, ada, [*items, (template_id("planner_feature_engineering_agent"), True)])
    assert (response.status_code, response.json()["detail"]) == (400, ALL)
    assert UserTemplatePreference.objects.count() == 0
    # Disabling all four while enabling another is fine.
    response = bulk(api, ada, [*items, (extra.pk, True)])
    assert response.status_code == 200
    assert [r["success"] for r in response.json()["results"]] == [True] * 6
    assert enabled_names(api, ada) == ["planner_extra_0"]


def test_bulk_toggle_premium_items_fail_alone(signed_in):
    ada, api = signed_in("ada")
    items = [(template_id("planner_polars_agent"), True), (template_id("planner_sk_learn_agent"), False)]
    results = bulk(api, ada, items).json()["results"]
    assert [(r["success"], r["is_enabled"]) for r in results] == [(False, False), (True, False)]
    assert results[0]["message"].startswith("'Polars Agent' (planner_polars_agent) is a premium template")
    assert enabled_names(api, ada) == [
        "planner_preprocessing_agent",
        "planner_statistical_analytics_agent",
        "planner_data_viz_agent",
    ]


def test_bulk_toggle_counts_distinct_templates_exactly(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    extras = extra_planner_templates(7)
    enable_all(ada, extras[:5])  # 9 enabled
    # Naive arithmetic would count 9 + 2 = 11; it is one template, so 10.
    response = bulk(api, ada, [(extras[5].pk, True), (extras[5].pk, True)])
    assert [r["success"] for r in response.json()["results"]] == [True, True]
    assert len(enabled_names(api, ada)) == 10
    # At 10, re-enabling an enabled template is no increase (naive: 11).
    response = bulk(api, ada, [(extras[0].pk, True)])
    assert response.json()["results"][0]["success"] is True
    # Disabling a template that is already disabled frees nothing (naive: 10 - 1 + 1 = 10).
    response = bulk(api, ada, [(template_id("planner_polars_agent"), False), (extras[6].pk, True)])
    assert response.json()["results"] == [
        {
            "template_id": template_id("planner_polars_agent"),
            "success": True,
            "message": "Template 'planner_polars_agent' disabled successfully",
            "is_enabled": False,
        },
        {"template_id": extras[6].pk, "success": False, "message": LIMIT, "is_enabled": False},
    ]
    assert len(enabled_names(api, ada)) == 10
    assert preference(ada, "planner_extra_6") is None


def test_bulk_toggle_mixed_batch_at_the_limit(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    extras = extra_planner_templates(7)
    enable_all(ada, extras[:5])  # 9 enabled: 4 core + extra_0..4
    items = [
        (extras[5].pk, True),
        (extras[6].pk, True),
        (template_id("planner_sk_learn_agent"), False),
        (template_id("data_viz_agent"), False),  # individual: does not count
        (template_id("planner_preprocessing_agent"), True),  # already enabled: no increase
    ]
    results = bulk(api, ada, items).json()["results"]
    # The disable frees one slot: 9 - 1 = 8, then extra_5 -> 9, extra_6 -> 10.
    assert [(r["success"], r["is_enabled"]) for r in results] == [(True, True)] * 2 + [(True, False)] * 2 + [
        (True, True)
    ]
    assert len(enabled_names(api, ada)) == 10

    more = [
        AgentTemplate.objects.create(
            name=f"planner_more_{i}",
            display_name="M",
            description="d",
            prompt="p" * 20,
            category="X",
            variant="planner",
        )
        for i in range(2)
    ]
    items = [(more[0].pk, True), (template_id("planner_extra_0"), False), (more[1].pk, True)]
    results = bulk(api, ada, items).json()["results"]
    # 10 - 1 = 9 after the disable; more_0 -> 10; more_1 would be the 11th.
    assert [(r["success"], r["message"]) for r in results] == [
        (True, "Template 'planner_more_0' enabled successfully"),
        (True, "Template 'planner_extra_0' disabled successfully"),
        (False, LIMIT),
    ]
    names = enabled_names(api, ada)
    assert len(names) == 10 and "planner_more_0" in names and "planner_more_1" not in names


def test_bulk_toggle_refuses_contradicting_duplicates(signed_in):
    ada, api = signed_in("ada")
    pk = template_id("planner_sk_learn_agent")
    response = bulk(api, ada, [(pk, False), (pk, True)])
    assert response.status_code == 400
    assert response.json()["code"] == "conflicting_preferences"
    assert UserTemplatePreference.objects.count() == 0


# --- usage -------------------------------------------------------------------------------


def test_usage_of_a_default_template_keeps_it_enabled_and_counts(signed_in):
    ada, api = signed_in("ada")
    template_usage_record(user=ada, name="planner_data_viz_agent")
    row = preference(ada, "planner_data_viz_agent")
    assert (row.is_enabled, row.usage_count) == (True, 1)
    assert row.last_used_at is not None
    first_use = row.last_used_at
    template_usage_record(user=ada, name="planner_data_viz_agent")
    template_usage_record(user=ada, name="planner_data_viz_agent")
    row.refresh_from_db()
    assert (row.is_enabled, row.usage_count) == (True, 3)
    assert row.last_used_at >= first_use
    assert enabled_names(api, ada) == CORE_PLANNER
    body = api.get(f"/templates/user/{ada.pk}").json()
    assert body[3]["usage_count"] == 3


def test_usage_keeps_disabled_templates_disabled_and_non_defaults_at_their_default(signed_in):
    ada, api = signed_in("ada", premium=True)
    toggle(api, ada, "planner_sk_learn_agent", False)
    template_usage_record(user=ada, name="planner_sk_learn_agent")
    template_usage_record(user=ada, name="feature_engineering_agent")
    assert (
        preference(ada, "planner_sk_learn_agent").is_enabled,
        preference(ada, "planner_sk_learn_agent").usage_count,
    ) == (
        False,
        1,
    )
    assert (
        preference(ada, "feature_engineering_agent").is_enabled,
        preference(ada, "feature_engineering_agent").usage_count,
    ) == (False, 1)


def test_usage_is_ignored_for_anonymous_callers_and_unknown_or_foreign_names(signed_in):
    ada, _ = signed_in("ada")
    bob, _ = signed_in("bob")
    AgentTemplate.objects.create(
        owner=bob, name="bobs_agent", display_name="B", description="d", prompt="p" * 20, category="X"
    )
    template_usage_record(user=None, name="data_viz_agent")
    template_usage_record(user=ada, name="no_such_agent")
    template_usage_record(user=ada, name="bobs_agent")
    assert UserTemplatePreference.objects.count() == 0
