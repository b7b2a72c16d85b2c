"""WebSocket routes of every app, collected in one list for config.asgi."""

from __future__ import annotations

from deep_analysis.routing import websocket_urlpatterns as deep_analysis_websockets

websocket_urlpatterns: list = []
websocket_urlpatterns += deep_analysis_websockets
