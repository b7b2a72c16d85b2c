"""The analytics WebSockets (reference paths ``/analytics/dashboard/realtime`` and
``/analytics/realtime``).

Authenticated on connect with the same rule as the HTTP routes (``analytics.access``):
a staff user's session cookie, or the admin key / a staff user's API key as upgrade
headers. Anyone else gets an error frame and close code 4403. Frames from the client
are ignored (they only keep the connection alive).
"""

from __future__ import annotations

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer

from analytics.access import socket_caller_is_admin
from analytics.realtime import DASHBOARD_GROUP, USERS_GROUP, socket_loop_register

CLOSE_FORBIDDEN = 4403


class AnalyticsConsumer(AsyncJsonWebsocketConsumer):
    feed_groups: tuple[str, ...] = ()

    async def connect(self) -> None:
        socket_loop_register()
        self.joined: list[str] = []
        if not await database_sync_to_async(socket_caller_is_admin)(self.scope):
            await self.accept()
            await self.send_json(
                {
                    "type": "error",
                    "detail": "Analytics feeds need a staff login, or the admin key or a staff API key as a header.",
                    "code": "forbidden",
                }
            )
            await self.close(code=CLOSE_FORBIDDEN)
            return
        for group in self.feed_groups:
            await self.channel_layer.group_add(group, self.channel_name)
            self.joined.append(group)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        for group in getattr(self, "joined", []):
            await self.channel_layer.group_discard(group, self.channel_name)

    async def receive(self, text_data=None, bytes_data=None, **kwargs) -> None:
        """Keep-alive only: whatever the client sends is ignored, malformed or not."""

    async def analytics_event(self, event: dict) -> None:
        await self.send_json(event["payload"])


class DashboardConsumer(AnalyticsConsumer):
    feed_groups = (DASHBOARD_GROUP, USERS_GROUP)


class UsersConsumer(AnalyticsConsumer):
    feed_groups = (USERS_GROUP,)
