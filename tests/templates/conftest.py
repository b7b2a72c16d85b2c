"""Fixtures for the template tests: signed-in clients and extra planner templates."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from templates.models import AgentTemplate

CORE = ["preprocessing_agent", "statistical_analytics_agent", "sk_learn_agent", "data_viz_agent"]
CORE_PLANNER = [f"planner_{name}" for name in CORE]
PROMPT = "Answer the question with pandas and print the numbers you compute."


def template_id(name: str) -> int:
    return AgentTemplate.objects.get(name=name).pk


@pytest.fixture
def signed_in(make_user):
    """``signed_in("ada", premium=True)`` -> (user, client sending that user's API key)."""

    def make(username: str = "ada", *, premium: bool = False):
        user, key = make_user(username)
        if premium:
            user.is_premium = True
            user.save(update_fields=["is_premium"])
        api = APIClient()
        api.credentials(HTTP_X_API_KEY=key)
        return user, api

    return make


@pytest.fixture
def extra_planner_templates(db):
    """``extra_planner_templates(n)``: n more built-in planner templates, disabled by default."""

    def make(count: int) -> list[AgentTemplate]:
        return [
            AgentTemplate.objects.create(
                name=f"planner_extra_{index}",
                display_name=f"Extra {index}",
                description="An extra planner agent.",
                prompt=PROMPT,
                category="Data Modelling",
                variant=AgentTemplate.Variant.PLANNER,
            )
            for index in range(count)
        ]

    return make
