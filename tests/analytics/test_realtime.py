"""The analytics sockets: authentication on connect, and the frames sent after commits."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from analytics.services import model_usage_record
from chats.models import Chat, Message
from chats.services import api_key_create, message_feedback_upsert, user_create
from config.asgi import application
from tests.analytics.conftest import ADMIN_KEY, execution_row

pytestmark = pytest.mark.django_db(transaction=True)
ORIGIN = (b"origin", b"http://localhost")


def socket(path: str, *headers: tuple[bytes, bytes]) -> WebsocketCommunicator:
    return WebsocketCommunicator(application, path, headers=[ORIGIN, *headers])


@pytest.fixture(autouse=True)
def admin_key_configured(settings):
    settings.ADMIN_API_KEY = ADMIN_KEY
    cache.clear()


async def refused(communicator: WebsocketCommunicator) -> None:
    connected, _ = await communicator.connect()
    assert connected
    assert await communicator.receive_json_from() == {
        "type": "error",
        "detail": "Analytics feeds need a staff login, or the admin key or a staff API key as a header.",
        "code": "forbidden",
    }
    assert await communicator.receive_output() == {"type": "websocket.close", "code": 4403}


@pytest.mark.parametrize("path", ["/analytics/realtime", "/analytics/dashboard/realtime"])
async def test_anonymous_socket_is_closed_with_4403(path):
    await refused(socket(path))


async def test_wrong_admin_key_and_plain_users_key_are_refused():
    await refused(socket("/analytics/realtime", (b"x-admin-api-key", b"nope")))
    plain = await database_sync_to_async(user_create)(username="bob", email="bob@example.com")
    _, key = await database_sync_to_async(api_key_create)(user=plain)
    await refused(socket("/analytics/realtime", (b"x-api-key", key.encode())))


async def test_query_string_key_is_never_read_on_sockets():
    await refused(socket(f"/analytics/realtime?admin_api_key={ADMIN_KEY}"))


def _record(user, chat_id=None, model="gpt-5-mini", prompt=600, completion=400, cost="0.00095"):
    return model_usage_record(
        user=user,
        session_id="s1",
        purpose="agent",
        provider="openai",
        model_name=model,
        prompt_tokens=prompt,
        completion_tokens=completion,
        tokens_estimated=False,
        cost=Decimal(cost),
        request_time_ms=5,
        chat_id=chat_id,
    )


async def test_dashboard_socket_gets_usage_frames_after_commit():
    communicator = socket("/analytics/dashboard/realtime", (b"x-admin-api-key", ADMIN_KEY.encode()))
    connected, _ = await communicator.connect()
    assert connected
    await communicator.send_to(text_data="ping, not json")  # ignored keep-alive
    await database_sync_to_async(_record)(None)
    today = timezone.localdate().isoformat()
    assert await communicator.receive_json_from() == {
        "type": "usage_update",
        "date": today,
        "metrics": {"tokens_delta": 1000, "cost_delta": 0.00095, "requests_delta": 1},
    }
    assert await communicator.receive_json_from() == {
        "type": "model_update",
        "model_name": "gpt-5-mini",
        "metrics": {"tokens": 1000, "cost": 0.00095, "requests": 1},
    }
    # An anonymous row sends no user activity.
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


@pytest.mark.parametrize("eager", [True, False], ids=["inline", "feed-worker-thread"])
async def test_users_socket_with_staff_session_cookie_gets_activity_and_session_stats(eager, settings):
    settings.BACKGROUND_TASKS_EAGER = eager

    def setup():
        staff = user_create(username="root", email="root@example.com", password="pw-123456!", is_staff=True)
        ada = user_create(username="ada", email="ada@example.com")
        chat = Chat.objects.create(user=ada)
        browser = Client()
        assert browser.login(username="root", password="pw-123456!")
        return staff, ada, chat, browser.cookies[django_settings.SESSION_COOKIE_NAME].value

    _, ada, chat, session_cookie = await database_sync_to_async(setup)()
    communicator = socket(
        "/analytics/realtime", (b"cookie", f"{django_settings.SESSION_COOKIE_NAME}={session_cookie}".encode())
    )
    connected, _ = await communicator.connect()
    assert connected
    await database_sync_to_async(_record)(ada, chat_id=chat.pk)
    today = timezone.localdate().isoformat()
    assert await communicator.receive_json_from() == {
        "type": "user_activity",
        "date": today,
        "metrics": {"activeUsers": 1, "newUsers": 1, "sessions": 1},
    }
    assert await communicator.receive_json_from() == {
        "type": "session_stats",
        "stats": {"totalUsers": 1, "activeToday": 1, "avgQueriesPerSession": 1.0, "avgSessionTime": 0},
    }
    # The users feed never carries the dashboard's usage frames.
    assert await communicator.receive_nothing(timeout=0.2)
    await communicator.disconnect()


async def test_staff_api_key_header_gets_execution_and_feedback_frames():
    def setup():
        staff = user_create(username="root", email="root@example.com", is_staff=True)
        ada = user_create(username="ada", email="ada@example.com")
        chat = Chat.objects.create(user=ada)
        message = Message.objects.create(chat=chat, sender="ai", content="answer")
        return api_key_create(user=staff)[1], message

    key, message = await database_sync_to_async(setup)()
    communicator = socket("/analytics/dashboard/realtime", (b"authorization", f"Bearer {key}".encode()))
    connected, _ = await communicator.connect()
    assert connected
    execution = await database_sync_to_async(execution_row)(ok=False, agent="data_viz_agent", error="KeyError: 'price'")
    frame = await communicator.receive_json_from()
    assert frame == {
        "type": "code_execution_update",
        "date": timezone.localdate().isoformat(),
        "created": True,
        "execution_id": execution.pk,
        "is_successful": False,
        "model_name": "gpt-5-mini",
        "agent_name": "data_viz_agent",
        "error_type": "IndexError/KeyError",
    }
    feedback = await database_sync_to_async(message_feedback_upsert)(message=message, rating=4)
    assert await communicator.receive_json_from() == {
        "type": "feedback_update",
        "date": timezone.localdate().isoformat(),
        "feedback_id": feedback.pk,
        "rating": 4,
        "model_name": "",
    }
    await communicator.disconnect()


async def test_rolled_back_rows_send_nothing():
    from django.db import transaction

    communicator = socket("/analytics/dashboard/realtime", (b"x-admin-api-key", ADMIN_KEY.encode()))
    assert (await communicator.connect())[0]

    def rolled_back():
        try:
            with transaction.atomic():
                _record(None)
                execution_row(ok=True)
                raise RuntimeError("abort")
        except RuntimeError:
            pass

    await database_sync_to_async(rolled_back)()
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()
