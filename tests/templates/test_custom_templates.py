"""Custom templates: creation and its validation, owner-only changes and deletion."""

from __future__ import annotations

import pytest

from templates.models import AgentTemplate, UserTemplatePreference
from templates.selectors import agent_template_get_for_user, agent_templates_for_planner
from tests.templates.conftest import CORE_PLANNER, PROMPT

pytestmark = pytest.mark.django_db

VALID = {
    "template_name": "churn_agent",
    "display_name": "Churn Agent",
    "description": "Finds which customers are about to leave.",
    "prompt_template": PROMPT,
    "template_category": "Customer Analytics",
}


ICON_RULE = "Must be a path under /icons/ (e.g. /icons/templates/chart.svg) or an https:// URL."


def create(api, **changes):
    return api.post("/templates/custom", {**VALID, **changes}, format="json")


def test_create_a_custom_template(signed_in):
    ada, api = signed_in("ada")
    response = create(api, variant_type="both", base_agent="sk_learn_agent", icon_url="/icons/templates/churn.svg")
    assert response.status_code == 201
    body = response.json()
    template = AgentTemplate.objects.get(name="churn_agent")
    assert body == {
        "template_id": template.pk,
        "template_name": "churn_agent",
        "display_name": "Churn Agent",
        "description": "Finds which customers are about to leave.",
        "prompt_template": PROMPT,
        "template_category": "Customer Analytics",
        "icon_url": "/icons/templates/churn.svg",
        "is_premium_only": False,
        "is_active": True,
        "usage_count": 0,
        "created_at": body["created_at"],
        "updated_at": body["updated_at"],
        "variant_type": "both",
        "base_agent": "sk_learn_agent",
        "is_enabled": True,
        "message": "Template 'churn_agent' created and enabled",
    }
    assert template.owner == ada
    assert UserTemplatePreference.objects.get(user=ada, template=template).is_enabled is True
    enabled = api.get(f"/templates/user/{ada.pk}/enabled?variant_type=individual").json()
    assert enabled[-1]["template_name"] == "churn_agent"
    assert [t.name for t in agent_templates_for_planner(user=ada)] == [*CORE_PLANNER, "churn_agent"]


def test_defaults_individual_variant_no_base_agent_no_icon(signed_in):
    _, api = signed_in("ada")
    body = create(api).json()
    assert (body["variant_type"], body["base_agent"], body["icon_url"]) == ("individual", None, None)


def test_a_built_in_category_is_spelled_as_built_in(signed_in):
    _, api = signed_in("ada")
    assert create(api, template_category="  data visualization ").json()["template_category"] == "Data Visualization"


def test_anonymous_callers_cannot_create(client):
    response = create(client)
    assert response.status_code == 401
    assert AgentTemplate.objects.filter(name="churn_agent").count() == 0


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"template_name": "1st_agent"}, "template_name", "Must be a Python identifier"),
        ({"template_name": "churn agent"}, "template_name", "Must be a Python identifier"),
        ({"template_name": "churn-agent"}, "template_name", "Must be a Python identifier"),
        ({"template_name": "naïve_agent"}, "template_name", "Must be a Python identifier"),
        ({"template_name": "class"}, "template_name", "'class' is a Python keyword."),
        ({"template_name": "a" * 101}, "template_name", "Ensure this field has no more than 100 characters."),
        ({"template_name": ""}, "template_name", "This field may not be blank."),
        ({"display_name": ""}, "display_name", "This field may not be blank."),
        ({"display_name": None}, "display_name", "This field may not be null."),
        ({"description": "   "}, "description", "This field may not be blank."),
        ({"prompt_template": " " * 40}, "prompt_template", "This field may not be blank."),
        ({"prompt_template": "x" * 19}, "prompt_template", "Must be at least 20 characters"),
        ({"prompt_template": "  " + "x" * 19 + "  "}, "prompt_template", "Must be at least 20 characters"),
        ({"prompt_template": "x" * 8001}, "prompt_template", "Ensure this field has no more than 8000 characters."),
        ({"template_category": ""}, "template_category", "This field may not be blank."),
        ({"template_category": "c" * 51}, "template_category", "Ensure this field has no more than 50 characters."),
        ({"variant_type": "sometimes"}, "variant_type", '"sometimes" is not a valid choice.'),
        ({"base_agent": "polars_agent"}, "base_agent", '"polars_agent" is not a valid choice.'),
        ({"icon_url": "javascript:alert(1)"}, "icon_url", ICON_RULE),
        ({"icon_url": "//evil.example/x.svg"}, "icon_url", ICON_RULE),
        ({"icon_url": "/\\evil.example/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "/\\/evil.example/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "data:image/svg+xml;base64,PHN2Zy8+"}, "icon_url", ICON_RULE),
        ({"icon_url": "http://example.com/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "https://user:pw@example.com/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "https:/\\evil.example/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "/icons/../admin/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": "/media/x.png"}, "icon_url", ICON_RULE),
        ({"icon_url": 'https://example.com/x.png" onerror="alert(1)'}, "icon_url", ICON_RULE),
        ({"icon_url": "https://example.com/\nx.png"}, "icon_url", ICON_RULE),
    ],
)
def test_create_validates_each_field(signed_in, changes, field, message):
    _, api = signed_in("ada")
    response = create(api, **changes)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert list(body["errors"]) == [field]
    assert body["errors"][field][0].startswith(message)
    assert AgentTemplate.objects.filter(owner__isnull=False).count() == 0


@pytest.mark.parametrize(
    "missing", ["template_name", "display_name", "description", "prompt_template", "template_category"]
)
def test_required_fields(signed_in, missing):
    _, api = signed_in("ada")
    body = {key: value for key, value in VALID.items() if key != missing}
    response = api.post("/templates/custom", body, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {missing: ["This field is required."]}


@pytest.mark.parametrize("length", [20, 8000])
def test_prompt_length_bounds_are_inclusive(signed_in, length):
    _, api = signed_in("ada")
    assert create(api, prompt_template="x" * length).status_code == 201


@pytest.mark.parametrize(
    ("name", "detail"),
    [
        (
            "data_viz_agent",
            "The name 'data_viz_agent' is already used by a built-in template ('data_viz_agent'); "
            "choose another name.",
        ),
        (
            "Polars_Agent",
            "The name 'Polars_Agent' is already used by a built-in template ('polars_agent'); choose another name.",
        ),
        ("basic_qa_agent", "The name 'basic_qa_agent' is reserved for a built-in agent; choose another name."),
        (
            "Adas_Agent",
            "The name 'Adas_Agent' is already used by another of your templates ('adas_agent'); choose another name.",
        ),
    ],
)
def test_names_clash_with_built_ins_and_the_callers_own(signed_in, name, detail):
    _, api = signed_in("ada")
    assert create(api, template_name="adas_agent").status_code == 201
    response = create(api, template_name=name)
    assert response.status_code == 400
    assert response.json() == {"detail": detail, "code": "template_name_taken"}


def test_another_users_private_template_name_is_neither_revealed_nor_blocking(signed_in):
    bob, bob_api = signed_in("bob")
    assert create(bob_api, template_name="secret_merger_agent").status_code == 201
    ada, api = signed_in("ada")
    for name in ("secret_merger_agent", "Secret_Merger_Agent"):
        response = api.post("/templates/custom", {**VALID, "template_name": name}, format="json")
        if name == "secret_merger_agent":
            assert response.status_code == 201
        else:  # now a clash with ada's own template, reported as hers
            assert response.json()["detail"] == (
                "The name 'Secret_Merger_Agent' is already used by another of your templates "
                "('secret_merger_agent'); choose another name."
            )
    assert sorted(AgentTemplate.objects.filter(name="secret_merger_agent").values_list("owner", flat=True)) == sorted(
        [bob.pk, ada.pk]
    )
    # Renaming into the other user's name is no clash either.
    own = create(api, template_name="second_agent").json()["template_id"]
    renamed = api.put(f"/templates/custom/{own}", {"template_name": "bobs_only_agent"}, format="json")
    assert create(bob_api, template_name="bobs_only_agent").status_code == 201
    assert renamed.status_code == 200


def test_core_names_stay_reserved_after_their_template_is_deleted(signed_in):
    _, api = signed_in("ada")
    AgentTemplate.objects.filter(name="planner_sk_learn_agent").delete()
    response = create(api, template_name="planner_sk_learn_agent")
    assert (response.status_code, response.json()["detail"]) == (
        400,
        "The name 'planner_sk_learn_agent' is reserved for a built-in agent; choose another name.",
    )


def test_a_planner_template_created_at_the_limit_is_stored_disabled(signed_in, extra_planner_templates):
    ada, api = signed_in("ada")
    for extra in extra_planner_templates(6):
        UserTemplatePreference.objects.create(user=ada, template=extra)
    body = create(api, variant_type="planner").json()
    assert body["is_enabled"] is False
    assert body["message"] == (
        "Template 'churn_agent' created but not enabled: Cannot enable more than 10 templates for planner use; "
        "disable one to enable it"
    )
    assert "churn_agent" not in [t.name for t in agent_templates_for_planner(user=ada)]
    # An individual template is not limited.
    assert create(api, template_name="solo_agent").json()["is_enabled"] is True


# --- changes and deletion ----------------------------------------------------------------


@pytest.fixture
def churn(signed_in):
    ada, api = signed_in("ada")
    template_id = create(api).json()["template_id"]
    return ada, api, template_id


def test_the_owner_changes_given_fields_only(churn):
    ada, api, template_id = churn
    response = api.put(
        f"/templates/custom/{template_id}",
        {"display_name": "Churn Risk", "template_name": "churn_risk_agent", "template_category": "data modelling"},
        format="json",
    )
    assert response.status_code == 200
    body = response.json()
    assert (body["template_name"], body["display_name"], body["template_category"]) == (
        "churn_risk_agent",
        "Churn Risk",
        "Data Modelling",
    )
    assert (body["description"], body["prompt_template"], body["is_enabled"]) == (
        VALID["description"],
        PROMPT,
        True,
    )
    assert body["message"] == "Template 'churn_risk_agent' updated"
    assert agent_template_get_for_user(user=ada, name="churn_risk_agent").pk == template_id


def test_update_validates_like_create(churn):
    _, api, template_id = churn
    response = api.put(f"/templates/custom/{template_id}", {"prompt_template": "too short"}, format="json")
    assert (response.status_code, list(response.json()["errors"])) == (400, ["prompt_template"])
    response = api.put(f"/templates/custom/{template_id}", {"template_name": "sk_learn_agent"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "template_name_taken")
    response = api.put(f"/templates/custom/{template_id}", {}, format="json")
    assert (response.status_code, response.json()["detail"]) == (400, "Give at least one field to change.")
    # Keeping its own name is not a clash.
    response = api.put(f"/templates/custom/{template_id}", {"template_name": "churn_agent"}, format="json")
    assert response.status_code == 200


def test_only_the_owner_may_change_or_delete(churn, signed_in):
    _, _, template_id = churn
    _, bob_api = signed_in("bob")
    response = bob_api.put(f"/templates/custom/{template_id}", {"display_name": "Mine now"}, format="json")
    assert response.status_code == 404
    assert response.json() == {
        "detail": f"Custom template with ID {template_id} not found",
        "code": "template_not_found",
    }
    assert bob_api.delete(f"/templates/custom/{template_id}").status_code == 404
    assert AgentTemplate.objects.get(pk=template_id).display_name == "Churn Agent"


def test_built_in_templates_are_nobodys_to_change(signed_in):
    _, api = signed_in("ada")
    built_in = AgentTemplate.objects.get(name="data_viz_agent").pk
    assert api.put(f"/templates/custom/{built_in}", {"display_name": "X"}, format="json").status_code == 404
    assert api.delete(f"/templates/custom/{built_in}").status_code == 404
    assert AgentTemplate.objects.filter(pk=built_in).exists()


def test_anonymous_callers_cannot_change_or_delete(churn, client):
    _, _, template_id = churn
    assert client.put(f"/templates/custom/{template_id}", {"display_name": "X"}, format="json").status_code == 401
    assert client.delete(f"/templates/custom/{template_id}").status_code == 401


def test_the_owner_deletes(churn):
    _, api, template_id = churn
    response = api.delete(f"/templates/custom/{template_id}")
    assert response.status_code == 200
    assert response.json() == {"message": "Template 'churn_agent' deleted successfully"}
    assert not AgentTemplate.objects.filter(pk=template_id).exists()
    assert not UserTemplatePreference.objects.filter(template_id=template_id).exists()
    assert api.get(f"/templates/template/{template_id}").status_code == 404


def test_the_last_enabled_planner_template_cannot_be_deleted_or_moved_out(signed_in):
    ada, api = signed_in("ada")
    template_id = create(api, variant_type="planner").json()["template_id"]
    for name in CORE_PLANNER:
        assert (
            api.post(
                f"/templates/user/{ada.pk}/toggle",
                {"template_id": AgentTemplate.objects.get(name=name).pk, "is_enabled": False},
                format="json",
            ).status_code
            == 200
        )
    response = api.put(f"/templates/custom/{template_id}", {"variant_type": "individual"}, format="json")
    assert (response.status_code, response.json()["code"]) == (400, "last_planner_template")
    response = api.delete(f"/templates/custom/{template_id}")
    assert response.status_code == 400
    assert response.json() == {
        "detail": "Cannot delete the last active agent. Enable another planner agent first.",
        "code": "last_planner_template",
    }
    assert AgentTemplate.objects.get(pk=template_id).variant == "planner"


def test_moving_into_the_planner_at_the_limit_stores_it_disabled(churn, extra_planner_templates):
    ada, api, template_id = churn
    for extra in extra_planner_templates(6):
        UserTemplatePreference.objects.create(user=ada, template=extra)
    body = api.put(f"/templates/custom/{template_id}", {"variant_type": "both"}, format="json").json()
    assert (body["variant_type"], body["is_enabled"]) == ("both", False)
    assert (
        body["message"]
        == "Template 'churn_agent' updated and disabled: Cannot enable more than 10 templates for planner use"
    )
