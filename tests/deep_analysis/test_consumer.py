"""``/ws/deep_analysis/<report_uuid>/`` with Channels' WebsocketCommunicator: replay after
a sequence, live events through the report's group, each event once and in order, the
final line closes; auth as the HTTP routes."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from channels.auth import AuthMiddlewareStack
from channels.routing import URLRouter
from channels.testing import WebsocketCommunicator
from django.contrib.auth.models import AnonymousUser

from deep_analysis import services
from deep_analysis.routing import websocket_urlpatterns
from sessions_app.services import session_create

pytestmark = pytest.mark.django_db(transaction=True)

application = AuthMiddlewareStack(URLRouter(websocket_urlpatterns))


def _running_report(events: int):
    session = session_create(user=AnonymousUser())
    report = services.report_start(
        user=AnonymousUser(), session_id=session.pk, goal="g", model_provider="offline", model_name="m"
    )
    services.report_mark_running(report_id=report.pk)
    for index in range(events):
        services.report_event_append(
            report_id=report.pk, event={"step": "questions", "status": "processing", "progress": 10 + index}
        )
    return session, report


async def test_a_reconnecting_client_gets_what_it_missed_then_live_events_then_the_final_line():
    session, report = await sync_to_async(_running_report)(4)
    path = f"/ws/deep_analysis/{report.report_uuid}/?session_id={session.pk}&after=2"
    communicator = WebsocketCommunicator(application, path)
    connected, _ = await communicator.connect()
    assert connected
    replayed = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
    assert [(e["sequence"], e["progress"]) for e in replayed] == [(3, 12), (4, 13)]
    await sync_to_async(services.report_event_append)(
        report_id=report.pk, event={"step": "planning", "status": "processing", "progress": 25}
    )
    live = await communicator.receive_json_from(timeout=5)
    assert (live["sequence"], live["step"], live["progress"]) == (5, "planning", 25)
    await communicator.send_json_to({"type": "ping"})
    assert await communicator.receive_json_from(timeout=5) == {"type": "pong", "sequence": 5}
    await sync_to_async(services.report_fail)(report=report, message="stopped")
    final = await communicator.receive_json_from(timeout=5)
    assert (final["sequence"], final["type"], final["error"]) == (6, "error", "stopped")
    closed = await communicator.receive_output(timeout=5)
    assert closed["type"] == "websocket.close"
    await communicator.disconnect()


async def test_a_lost_broadcast_is_filled_in_from_the_table(monkeypatch):
    session, report = await sync_to_async(_running_report)(1)
    communicator = WebsocketCommunicator(
        application, f"/ws/deep_analysis/{report.report_uuid}/?session_id={session.pk}"
    )
    assert (await communicator.connect())[0]
    assert (await communicator.receive_json_from(timeout=5))["sequence"] == 1
    monkeypatch.setattr(services, "_broadcast", lambda report_id, event: None)  # the layer drops event 2
    await sync_to_async(services.report_event_append)(
        report_id=report.pk, event={"step": "planning", "status": "processing", "progress": 25}
    )
    monkeypatch.undo()
    await sync_to_async(services.report_event_append)(
        report_id=report.pk, event={"step": "planning", "status": "completed", "progress": 40}
    )
    got = [await communicator.receive_json_from(timeout=5) for _ in range(2)]
    assert [(e["sequence"], e["progress"]) for e in got] == [(2, 25), (3, 40)]
    await communicator.disconnect()


async def test_someone_elses_or_an_unknown_report_closes_with_4404():
    session, report = await sync_to_async(_running_report)(1)
    other = await sync_to_async(session_create)(user=AnonymousUser())
    for path in (
        f"/ws/deep_analysis/{report.report_uuid}/?session_id={other.pk}",
        f"/ws/deep_analysis/no-such-report/?session_id={session.pk}",
    ):
        communicator = WebsocketCommunicator(application, path)
        connected, _ = await communicator.connect()
        assert connected
        closed = await communicator.receive_output(timeout=5)
        assert closed == {"type": "websocket.close", "code": 4404}
        await communicator.disconnect()
    communicator = WebsocketCommunicator(application, f"/ws/deep_analysis/{report.report_uuid}/")
    await communicator.connect()
    assert await communicator.receive_output(timeout=5) == {"type": "websocket.close", "code": 4400}
    await communicator.disconnect()
