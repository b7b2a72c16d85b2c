"""The seeded templates, the public template routes, and the selectors the agents call."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps as django_apps
from django.contrib.auth.models import AnonymousUser
from django.utils import timezone

from config.errors import ApplicationError, NotFoundError
from templates.models import AgentTemplate, UserTemplatePreference
from templates.selectors import (
    agent_template_get_for_user,
    agent_templates_for_individual,
    agent_templates_for_planner,
)
from tests.templates.conftest import CORE, CORE_PLANNER, PROMPT, template_id

pytestmark = pytest.mark.django_db

SEED = {
    # name: (display name, category, premium, base agent)
    "preprocessing_agent": ("Data Preprocessing Agent", "Data Manipulation", False, "preprocessing_agent"),
    "statistical_analytics_agent": (
        "Statistical Analytics Agent",
        "Data Modelling",
        False,
        "statistical_analytics_agent",
    ),
    "sk_learn_agent": ("Machine Learning Agent", "Data Modelling", False, "sk_learn_agent"),
    "data_viz_agent": ("Data Visualization Agent", "Data Visualization", False, "data_viz_agent"),
    "feature_engineering_agent": ("Feature Engineering Agent", "Data Modelling", True, ""),
    "polars_agent": ("Polars Agent", "Data Manipulation", True, ""),
}
INDIVIDUAL = list(SEED)
PLANNER = [f"planner_{name}" for name in SEED]
TEMPLATE_KEYS = {
    "template_id",
    "template_name",
    "display_name",
    "description",
    "prompt_template",
    "template_category",
    "icon_url",
    "is_premium_only",
    "is_active",
    "usage_count",
    "created_at",
    "updated_at",
}


def names(body: list[dict], key: str = "template_name") -> list[str]:
    return [item[key] for item in body]


def custom(owner, name: str, **fields) -> AgentTemplate:
    defaults = {
        "display_name": name.title(),
        "description": "A custom agent.",
        "prompt": PROMPT,
        "category": "Data Modelling",
        "variant": "individual",
    }
    return AgentTemplate.objects.create(owner=owner, name=name, **{**defaults, **fields})


# --- the seed ----------------------------------------------------------------------------


def test_the_migration_seeds_exactly_the_twelve_reference_templates():
    templates = list(AgentTemplate.objects.order_by("id"))
    assert [t.name for t in templates] == [name for agent in SEED for name in (agent, f"planner_{agent}")]
    for template in templates:
        base_name = template.name.removeprefix("planner_")
        display_name, category, premium, base_agent = SEED[base_name]
        assert (template.display_name, template.category, template.is_premium_only) == (display_name, category, premium)
        assert template.variant == ("planner" if template.name.startswith("planner_") else "individual")
        assert template.base_agent == base_agent
        assert template.owner is None
        assert template.is_active is True
        base = template.name.removeprefix("planner_")
        assert template.icon_url == "/icons/templates/" + SHIPPED_ICONS[base]


# Icons the web frontend ships under /icons/templates/ (frontend-calls.md §10).
FRONTEND_ICONS = {
    "preprocessing_agent.svg", "sk_learn_agent.svg", "statsmodel.svg", "plotly.svg", "matplotlib.svg",
    "seaborn.svg", "polars.svg", "numpy.svg", "scipy.png", "xgboost.png", "lightgbm.png", "pymc.png",
    "data-cleaning.png", "feature-engineering.png",
}
SHIPPED_ICONS = {
    "preprocessing_agent": "preprocessing_agent.svg",
    "statistical_analytics_agent": "statsmodel.svg",
    "sk_learn_agent": "sk_learn_agent.svg",
    "data_viz_agent": "plotly.svg",
    "feature_engineering_agent": "feature-engineering.png",
    "polars_agent": "polars.svg",
}


def test_every_seeded_icon_is_one_the_frontend_ships():
    icons = {t.icon_url for t in AgentTemplate.objects.filter(owner=None)}
    assert {icon.removeprefix("/icons/templates/") for icon in icons} <= FRONTEND_ICONS
    assert len(icons) == 6


def test_icon_migration_is_reversible_and_keeps_edited_icons():
    module = importlib.import_module("templates.migrations.0004_seeded_icons_the_frontend_ships")
    AgentTemplate.objects.filter(name="polars_agent").update(icon_url="/icons/templates/numpy.svg")
    module.backwards(django_apps, None)
    assert AgentTemplate.objects.get(name="planner_data_viz_agent").icon_url == "/icons/templates/data_viz.svg"
    module.forwards(django_apps, None)
    assert AgentTemplate.objects.get(name="planner_data_viz_agent").icon_url == "/icons/templates/plotly.svg"
    assert AgentTemplate.objects.get(name="polars_agent").icon_url == "/icons/templates/numpy.svg"


def test_seeded_prompts_state_data_rules_libraries_and_planner_duties():
    prompts = {t.name: t.prompt for t in AgentTemplate.objects.all()}
    for name, prompt in prompts.items():
        assert "dataset context" in prompt
        assert "never read or write files" in prompt.lower()
        assert "never invent" in prompt
        assert 'save_dataset(frame, "name", "description")' in prompt
        assert "Print the key numbers" in prompt
        assert ("plan_instructions" in prompt) == name.startswith("planner_")
        if name.startswith("planner_"):
            assert "`create`" in prompt and "`use`" in prompt
    assert "sm.add_constant" in prompts["statistical_analytics_agent"]
    assert "C(column)" in prompts["statistical_analytics_agent"]
    assert "train_test_split(X, y, test_size=0.2, random_state=42)" in prompts["sk_learn_agent"]
    assert "held-out metrics" in prompts["sk_learn_agent"]
    viz = prompts["data_viz_agent"]
    assert "Plotly only" in viz and "one `go.Figure` per chart" in viz
    assert "more than 50,000 rows" in viz and "sample of 5,000" in viz
    assert "pl.from_pandas(df)" in prompts["polars_agent"]
    assert "pandas and numpy" in prompts["preprocessing_agent"]


def test_seed_migration_is_reversible_and_leaves_custom_templates(make_user):
    user, _ = make_user("ada")
    custom(user, "my_agent")
    seed_module = importlib.import_module("templates.migrations.0002_seed_templates")

    seed_module.unseed(django_apps, None)
    assert list(AgentTemplate.objects.values_list("name", flat=True)) == ["my_agent"]

    seed_module.seed(django_apps, None)
    assert AgentTemplate.objects.filter(owner=None).count() == 12


# --- GET /templates/ ---------------------------------------------------------------------


def test_template_list_has_the_reference_shape(client):
    body = client.get("/templates/").json()
    assert len(body) == 12
    viz = next(item for item in body if item["template_name"] == "data_viz_agent")
    template = AgentTemplate.objects.get(name="data_viz_agent")
    assert set(viz) == TEMPLATE_KEYS
    assert viz["template_id"] == template.pk
    assert viz["display_name"] == "Data Visualization Agent"
    assert viz["description"] == template.description
    assert viz["prompt_template"] == template.prompt
    assert viz["template_category"] == "Data Visualization"
    assert viz["icon_url"] == "/icons/templates/plotly.svg"
    assert (viz["is_premium_only"], viz["is_active"], viz["usage_count"]) == (False, True, 0)
    assert viz["created_at"].endswith("Z")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [name for agent in SEED for name in (agent, f"planner_{agent}")]),
        ("?variant_type=all", [name for agent in SEED for name in (agent, f"planner_{agent}")]),
        ("?variant_type=individual", INDIVIDUAL),
        ("?variant_type=planner", PLANNER),
        ("?variant_type=nonsense", [name for agent in SEED for name in (agent, f"planner_{agent}")]),
    ],
)
def test_template_list_filters_by_variant(client, query, expected):
    assert names(client.get(f"/templates/{query}").json()) == expected


def test_both_variant_is_in_both_lists_and_inactive_templates_are_hidden(client):
    AgentTemplate.objects.create(
        name="both_agent",
        display_name="Both",
        description="d",
        prompt=PROMPT,
        category="Data Modelling",
        variant="both",
    )
    AgentTemplate.objects.filter(name="polars_agent").update(is_active=False)
    assert names(client.get("/templates/?variant_type=individual").json()) == [
        "preprocessing_agent",
        "statistical_analytics_agent",
        "sk_learn_agent",
        "data_viz_agent",
        "feature_engineering_agent",
        "both_agent",
    ]
    assert names(client.get("/templates/?variant_type=planner").json())[-1] == "both_agent"
    assert "polars_agent" not in names(client.get("/templates/").json())


def test_callers_see_their_own_custom_templates_and_nobody_elses(client, signed_in):
    ada, ada_client = signed_in("ada")
    bob, bob_client = signed_in("bob")
    custom(ada, "adas_agent")
    custom(bob, "bobs_agent")
    assert names(ada_client.get("/templates/").json())[12:] == ["adas_agent"]
    assert names(bob_client.get("/templates/").json())[12:] == ["bobs_agent"]
    assert len(client.get("/templates/").json()) == 12


def test_usage_count_is_the_sum_over_all_users(client, make_user):
    viz = AgentTemplate.objects.get(name="data_viz_agent")
    for username, count in (("ada", 3), ("bob", 4)):
        user, _ = make_user(username)
        UserTemplatePreference.objects.create(user=user, template=viz, usage_count=count)
    body = client.get("/templates/").json()
    assert next(i for i in body if i["template_name"] == "data_viz_agent")["usage_count"] == 7
    assert client.get(f"/templates/template/{viz.pk}").json()["usage_count"] == 7


# --- GET /templates/template/{id} --------------------------------------------------------


def test_template_detail_shows_inactive_templates(client):
    AgentTemplate.objects.filter(name="polars_agent").update(is_active=False)
    body = client.get(f"/templates/template/{template_id('polars_agent')}").json()
    assert (body["template_name"], body["is_active"], body["is_premium_only"]) == ("polars_agent", False, True)


@pytest.mark.parametrize("missing", [999, 2**63, 10**30])
def test_unknown_template_is_404(client, missing):
    response = client.get(f"/templates/template/{missing}")
    assert response.status_code == 404
    assert response.json() == {"detail": f"Template with ID {missing} not found", "code": "template_not_found"}


def test_another_users_custom_template_is_404(signed_in):
    ada, ada_client = signed_in("ada")
    _, bob_client = signed_in("bob")
    mine = custom(ada, "adas_agent")
    assert ada_client.get(f"/templates/template/{mine.pk}").status_code == 200
    response = bob_client.get(f"/templates/template/{mine.pk}")
    assert response.status_code == 404
    assert response.json()["detail"] == f"Template with ID {mine.pk} not found"


# --- categories --------------------------------------------------------------------------


def test_category_names(client, signed_in):
    ada, ada_client = signed_in("ada")
    custom(ada, "adas_agent", category="Finance")
    AgentTemplate.objects.filter(category="Data Visualization").update(is_active=False)
    assert client.get("/templates/categories/list").json() == {"categories": ["Data Manipulation", "Data Modelling"]}
    assert ada_client.get("/templates/categories/list").json() == {
        "categories": ["Data Manipulation", "Data Modelling", "Finance"]
    }


def test_categories_group_templates_by_category_then_name(client):
    body = client.get("/templates/categories").json()
    assert [(group["category"], names(group["templates"], "agent_name")) for group in body] == [
        ("Data Manipulation", ["polars_agent", "preprocessing_agent"]),
        ("Data Modelling", ["feature_engineering_agent", "sk_learn_agent", "statistical_analytics_agent"]),
        ("Data Visualization", ["data_viz_agent"]),
    ]
    polars = body[0]["templates"][0]
    template = AgentTemplate.objects.get(name="polars_agent")
    assert polars == {
        "agent_id": template.pk,
        "agent_name": "polars_agent",
        "display_name": "Polars Agent",
        "description": template.description,
        "prompt_template": template.prompt,
        "template_category": "Data Manipulation",
        "icon_url": "/icons/templates/polars.svg",
        "is_premium_only": True,
        "is_active": True,
        "usage_count": 0,
        "created_at": polars["created_at"],
    }
    planner = client.get("/templates/categories?variant_type=planner").json()
    assert names(planner[2]["templates"], "agent_name") == ["planner_data_viz_agent"]


def test_templates_of_one_category(client):
    body = client.get("/templates/category/Data Visualization").json()
    assert names(body) == ["data_viz_agent", "planner_data_viz_agent"]
    assert set(body[0]) == TEMPLATE_KEYS
    assert client.get("/templates/category/Nothing").json() == []


# --- selectors for the agents ------------------------------------------------------------


@pytest.mark.parametrize("anonymous", [None, AnonymousUser()])
def test_anonymous_callers_get_the_core_templates(anonymous):
    assert [t.name for t in agent_templates_for_planner(user=anonymous)] == CORE_PLANNER
    assert [t.name for t in agent_templates_for_individual(user=anonymous)] == CORE


def test_selectors_follow_the_users_preferences(signed_in):
    ada, _ = signed_in("ada", premium=True)
    bob, _ = signed_in("bob")
    custom(ada, "adas_agent", variant="both")
    custom(bob, "bobs_agent", variant="both")
    assert [t.name for t in agent_templates_for_planner(user=ada)] == [*CORE_PLANNER, "adas_agent"]
    assert [t.name for t in agent_templates_for_individual(user=ada)] == [*CORE, "adas_agent"]

    UserTemplatePreference.objects.create(
        user=ada, template=AgentTemplate.objects.get(name="sk_learn_agent"), is_enabled=False
    )
    UserTemplatePreference.objects.create(user=ada, template=AgentTemplate.objects.get(name="polars_agent"))
    assert [t.name for t in agent_templates_for_individual(user=ada)] == [
        "preprocessing_agent",
        "statistical_analytics_agent",
        "data_viz_agent",
        "polars_agent",
        "adas_agent",
    ]


def test_planner_selector_orders_by_use_and_keeps_at_most_ten(signed_in, extra_planner_templates):
    ada, _ = signed_in("ada")
    extras = extra_planner_templates(7)
    now = timezone.now()
    for extra in extras:
        UserTemplatePreference.objects.create(user=ada, template=extra)  # 4 core + 7 = 11 enabled
    UserTemplatePreference.objects.filter(user=ada, template=extras[6]).update(usage_count=5)
    UserTemplatePreference.objects.filter(user=ada, template=extras[5]).update(usage_count=2, last_used_at=now)
    UserTemplatePreference.objects.filter(user=ada, template=extras[4]).update(
        usage_count=2, last_used_at=now - timezone.timedelta(hours=1)
    )
    planner = [t.name for t in agent_templates_for_planner(user=ada)]
    assert planner == [
        "planner_extra_6",
        "planner_extra_5",
        "planner_extra_4",
        *CORE_PLANNER,
        "planner_extra_0",
        "planner_extra_1",
        "planner_extra_2",
    ]


def test_premium_templates_are_not_offered_to_users_who_are_not_premium(signed_in):
    ada, _ = signed_in("ada")
    polars = AgentTemplate.objects.get(name="planner_polars_agent")
    UserTemplatePreference.objects.create(user=ada, template=polars, is_enabled=True)  # premium before
    assert "planner_polars_agent" not in [t.name for t in agent_templates_for_planner(user=ada)]
    ada.is_premium = True
    ada.save()
    assert "planner_polars_agent" in [t.name for t in agent_templates_for_planner(user=ada)]


def test_template_get_for_user(signed_in):
    ada, _ = signed_in("ada")
    bob, _ = signed_in("bob", premium=True)
    custom(bob, "bobs_agent")
    assert agent_template_get_for_user(user=ada, name="planner_sk_learn_agent").name == "planner_sk_learn_agent"
    assert agent_template_get_for_user(user=bob, name="bobs_agent").owner == bob
    assert agent_template_get_for_user(user=bob, name="polars_agent").name == "polars_agent"
    for name in ("bobs_agent", "no_such_agent"):
        with pytest.raises(NotFoundError):
            agent_template_get_for_user(user=ada, name=name)
    AgentTemplate.objects.filter(name="sk_learn_agent").update(is_active=False)
    with pytest.raises(NotFoundError):
        agent_template_get_for_user(user=ada, name="sk_learn_agent")
    for user in (ada, None):
        with pytest.raises(ApplicationError) as raised:
            agent_template_get_for_user(user=user, name="polars_agent")
        assert (raised.value.status_code, raised.value.code) == (403, "premium_required")
        assert "premium" in raised.value.message
