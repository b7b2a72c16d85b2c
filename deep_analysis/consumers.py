"""``/ws/deep_analysis/<report_uuid>/``: a run's events over a WebSocket.

On connect the consumer joins the report's Channels group, then replays the stored
events after ``?after=<sequence>`` (0: all), then forwards live ones. Every event carries
its ``sequence``; duplicates (an event both replayed and broadcast) are dropped, and a
gap (a broadcast lost by the channel layer) is filled from the table, so a client sees
each event once, in order. The socket closes after the final line.

Auth is the HTTP routes': a Django session (the cookie a browser sends) or an API key in
the ``X-API-Key`` header (never in the URL, where proxies and logs keep it), else the
anonymous analysis session (``?session_id=``). A report that is not the caller's closes the socket
with code 4404, as an unknown one does.
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from config.errors import ApplicationError
from deep_analysis.selectors import report_events_after, report_get_for_caller
from deep_analysis.services import report_group, report_orphans_fail
from deep_analysis.streaming import is_final

NOT_FOUND = 4404
BAD_REQUEST = 4400
# Safety net under the group: a lost broadcast is picked up from the table this often.
POLL_SECONDS = 1.0


def _caller(scope: dict, query: dict) -> tuple[object, str | None]:
    from chats.selectors import api_key_user_get
    from sessions_app.services import session_for_request

    user = scope.get("user")
    headers = dict(scope.get("headers") or [])
    key = headers.get(b"x-api-key", b"").decode("latin-1").strip()
    if key:
        user = api_key_user_get(raw_key=key)
        if user is None:
            raise ApplicationError("Invalid or revoked API key.", status_code=401)
    session_id = (query.get("session_id") or [""])[0].strip() or None
    if user is not None and getattr(user, "is_authenticated", False) and not session_id:
        return user, None
    if not session_id:
        raise ApplicationError("Session ID required", status_code=400)
    from django.contrib.auth.models import AnonymousUser

    session = session_for_request(session_id=session_id, user=user or AnonymousUser())
    return user or AnonymousUser(), session.pk


class DeepAnalysisConsumer(AsyncJsonWebsocketConsumer):
    async def connect(self) -> None:
        query = parse_qs(self.scope.get("query_string", b"").decode("latin-1"))
        after = (query.get("after") or ["0"])[0]
        if not after.isdigit() or len(after) > 9:
            await self.accept()
            await self.close(code=BAD_REQUEST)
            return
        self.last = int(after)
        self.report_id: int | None = None
        self.done = False
        try:
            self.report_id = await database_sync_to_async(self._report_id)(query)
        except ApplicationError as error:
            # Accepted first so the client sees why: a refused handshake carries no code.
            await self.accept()
            await self.close(code=NOT_FOUND if error.status_code in (403, 404) else BAD_REQUEST)
            return
        self.group = report_group(self.report_id)
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept()
        await self._catch_up()
        if not self.done:
            self.poller = asyncio.ensure_future(self._poll())

    def _report_id(self, query: dict) -> int:
        user, session_id = _caller(self.scope, query)
        report_orphans_fail()
        key = self.scope["url_route"]["kwargs"]["report_uuid"]
        report = report_get_for_caller(user=user, session_id=session_id, report_id=key)
        return report.pk

    async def disconnect(self, code: int) -> None:
        if getattr(self, "report_id", None) is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)
        poller = getattr(self, "poller", None)
        if poller is not None:
            poller.cancel()

    async def _send_event(self, event: dict) -> None:
        if self.done or event["sequence"] <= self.last:
            return
        self.last = event["sequence"]
        await self.send_json(event)
        if is_final(event):
            self.done = True
            await self.close()

    async def _catch_up(self) -> None:
        while not self.done:
            events = await database_sync_to_async(report_events_after)(report_id=self.report_id, sequence=self.last)
            for event in events:
                await self._send_event(event)
            if len(events) < 500:
                return

    async def _poll(self) -> None:
        ticks = 0
        while not self.done:
            await asyncio.sleep(POLL_SECONDS)
            ticks += 1
            if ticks % 5 == 0:
                await database_sync_to_async(report_orphans_fail)()
            await self._catch_up()

    async def deep_event(self, message: dict) -> None:
        event = message["event"]
        if event["sequence"] > self.last + 1:
            await self._catch_up()  # fill the gap first, in order
        await self._send_event(event)

    async def receive_json(self, content, **kwargs) -> None:
        """The socket only listens; ``{"type": "ping"}`` answers with the last sequence."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong", "sequence": self.last})
