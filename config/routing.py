"""WebSocket routes of every app, collected in one list for config.asgi."""

from __future__ import annotations

from analytics.routing import websocket_urlpatterns as analytics_websockets

websocket_urlpatterns: list = [*analytics_websockets]
