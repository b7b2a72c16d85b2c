"""Realtime analytics: the events sent to dashboard sockets, and how they are sent.

Two groups on the channel layer:

* ``analytics.dashboard`` (joined by ``/analytics/dashboard/realtime`` and the admin
  dashboard page): ``usage_update`` and ``model_update`` per usage row (the reference's
  frames), ``code_execution_update`` per code-execution save, ``feedback_update`` per
  rating.
* ``analytics.users`` (joined by both sockets; the web frontend's users page opens
  ``/analytics/realtime``): ``user_activity`` with the day's absolute counts (the page
  replaces its row's values with them) and ``session_stats``.

Events are built and sent after the row's transaction commits (the receivers in
``analytics.receivers`` use ``transaction.on_commit``), from whatever thread committed.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import close_old_connections

from analytics import selectors
from analytics.models import ModelUsage

logger = logging.getLogger(__name__)

DASHBOARD_GROUP = "analytics.dashboard"
USERS_GROUP = "analytics.users"
EVENT_TYPE = "analytics.event"  # handled by the consumers' ``analytics_event``

_SESSION_STATS_GATE = "analytics:session-stats-gate"

# The event loop that serves sockets in this process (set when a socket connects). With
# the in-memory layer a send must run on that loop: a queue awaited on one loop is not
# woken by a put made from another thread's loop.
_socket_loop: asyncio.AbstractEventLoop | None = None


def socket_loop_register() -> None:
    """Called from a consumer, on the loop that serves it."""
    global _socket_loop
    _socket_loop = asyncio.get_running_loop()


async def _send_all(messages: list[tuple[str, dict[str, Any]]]) -> None:
    layer = get_channel_layer()
    for group, payload in messages:
        await layer.group_send(group, {"type": EVENT_TYPE, "payload": payload})


def _log_failure(future) -> None:
    if not future.cancelled() and future.exception() is not None:
        logger.warning("Analytics broadcast failed: %r", future.exception())


def broadcast(messages: list[tuple[str, dict[str, Any]]]) -> None:
    """Send ``(group, payload)`` pairs in order. Never raises into the caller."""
    if not messages or get_channel_layer() is None:
        return
    loop = _socket_loop
    try:
        if loop is not None and loop.is_running():
            try:
                running_here = asyncio.get_running_loop() is loop
            except RuntimeError:
                running_here = False
            if running_here:
                loop.create_task(_send_all(messages))
            else:
                asyncio.run_coroutine_threadsafe(_send_all(messages), loop).add_done_callback(_log_failure)
        else:
            async_to_sync(_send_all)(messages)
    except Exception as error:  # a broken layer must not fail the request that committed
        logger.warning("Analytics broadcast failed: %r", error)


def _utc_day(moment: datetime) -> date:
    """Analytics days are UTC days (as in ``analytics.selectors``)."""
    return moment.astimezone(UTC).date()


def _float(value: Decimal | float) -> float:
    return round(float(value), 7)


def usage_events(usage: ModelUsage) -> list[tuple[str, dict[str, Any]]]:
    """The dashboard frames of one committed usage row: built from the row, no query."""
    day = _utc_day(usage.timestamp)
    return [
        (
            DASHBOARD_GROUP,
            {
                "type": "usage_update",
                "date": day.isoformat(),
                "metrics": {
                    "tokens_delta": usage.total_tokens,
                    "cost_delta": _float(usage.cost),
                    "requests_delta": 1,
                },
            },
        ),
        (
            DASHBOARD_GROUP,
            {
                "type": "model_update",
                "model_name": usage.model_name,
                "metrics": {"tokens": usage.total_tokens, "cost": _float(usage.cost), "requests": 1},
            },
        ),
    ]


def user_events(day: date) -> list[tuple[str, dict[str, Any]]]:
    """The users feed after a usage row of a signed-in user: the day's absolute counts,
    and the all-time session stats at most once per interval (they group every chat)."""
    messages: list[tuple[str, dict[str, Any]]] = [
        (
            USERS_GROUP,
            {"type": "user_activity", "date": day.isoformat(), "metrics": selectors.user_activity_on(day=day)},
        )
    ]
    if cache.add(_SESSION_STATS_GATE, 1, timeout=settings.ANALYTICS_SESSION_STATS_INTERVAL_SECONDS):
        messages.append((USERS_GROUP, {"type": "session_stats", "stats": selectors.users_session_stats()}))
    return messages


# The users feed reads the database; one worker keeps that off the thread that committed
# the row (an LM call's request) and keeps the frames in commit order.
_feed_worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="analytics-feed")


def _user_feed_job(day: date) -> None:
    close_old_connections()
    try:
        broadcast(user_events(day))
    except Exception:
        logger.exception("Could not build the users feed")
    finally:
        close_old_connections()


def user_feed_schedule(usage: ModelUsage) -> None:
    """Precondition: the row has committed and has a user."""
    day = _utc_day(usage.timestamp)
    if settings.BACKGROUND_TASKS_EAGER:
        broadcast(user_events(day))
    else:
        _feed_worker.submit(_user_feed_job, day)


def code_execution_event(execution, *, created: bool) -> list[tuple[str, dict[str, Any]]]:
    errors = execution.error_messages if isinstance(execution.error_messages, dict) else {}
    first_error = next(iter(errors.values()), "")
    return [
        (
            DASHBOARD_GROUP,
            {
                "type": "code_execution_update",
                "date": _utc_day(execution.updated_at).isoformat(),
                "created": created,
                "execution_id": execution.pk,
                "is_successful": execution.is_successful,
                "model_name": execution.model_name,
                "agent_name": execution.agent_name,
                "error_type": selectors.error_category(first_error) if first_error else None,
            },
        )
    ]


def feedback_event(feedback) -> list[tuple[str, dict[str, Any]]]:
    return [
        (
            DASHBOARD_GROUP,
            {
                "type": "feedback_update",
                "date": _utc_day(feedback.updated_at).isoformat(),
                "feedback_id": feedback.pk,
                "rating": feedback.rating,
                "model_name": feedback.model_name or "",
            },
        )
    ]
