"""Fixtures for analytics: an admin key, staff and plain users, and row factories that
set timestamps (the services stamp rows with "now")."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from analytics.models import ModelUsage
from chats.models import Chat, Message, MessageFeedback
from chats.services import api_key_create, user_create
from codeexec.models import CodeExecution

ADMIN_KEY = "test-admin-key-0123456789"


@pytest.fixture
def admin_key(settings) -> str:
    settings.ADMIN_API_KEY = ADMIN_KEY
    return ADMIN_KEY


@pytest.fixture
def admin_client(admin_key) -> APIClient:
    api = APIClient()
    api.credentials(HTTP_X_ADMIN_API_KEY=admin_key)
    return api


@pytest.fixture
def staff_key(db) -> str:
    user = user_create(username="root", email="root@example.com", is_staff=True)
    return api_key_create(user=user, name="staff")[1]


def usage_row(
    *,
    model: str,
    prompt: int,
    completion: int,
    cost: str,
    days_ago: float = 0,
    user=None,
    chat=None,
    ms: int = 0,
    seconds_ago: float = 1,
) -> ModelUsage:
    return ModelUsage.objects.create(
        user=user,
        chat=chat,
        purpose="agent",
        provider="openai",
        model_name=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        total_tokens=prompt + completion,
        cost=Decimal(cost),
        request_time_ms=ms,
        timestamp=timezone.now() - timedelta(days=days_ago, seconds=seconds_ago),
    )


def execution_row(*, ok: bool, model: str = "gpt-5-mini", agent: str = "", error: str = "", user=None, chat_id=None):
    return CodeExecution.objects.create(
        user=user,
        session_id="s1",
        chat_id=chat_id,
        initial_code="print(1)",
        latest_code="x" * 600,
        is_successful=ok,
        agent_name=agent,
        failed_agents=[] if ok else [agent],
        error_messages={agent: error} if error else {},
        model_provider="openai",
        model_name=model,
    )


def feedback_row(*, rating: int, model: str = "gpt-5-mini", chat: Chat, content: str = "answer") -> MessageFeedback:
    message = Message.objects.create(chat=chat, sender="ai", content=content)
    return MessageFeedback.objects.create(message=message, rating=rating, model_name=model, model_provider="openai")


def day(days_ago: float = 0, seconds_ago: float = 1) -> str:
    return (timezone.now() - timedelta(days=days_ago, seconds=seconds_ago)).strftime("%Y-%m-%d")
