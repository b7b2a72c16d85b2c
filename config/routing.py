"""WebSocket routes of every app, collected in one list for config.asgi."""

from __future__ import annotations

from analytics.routing import websocket_urlpatterns as analytics_websockets
from deep_analysis.routing import websocket_urlpatterns as deep_analysis_websockets

websocket_urlpatterns: list = [*analytics_websockets, *deep_analysis_websockets]
