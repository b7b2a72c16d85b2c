"""WebSocket routes of the analytics app, included by ``config.routing``."""

from django.urls import path

from analytics import consumers

websocket_urlpatterns = [
    path("analytics/dashboard/realtime", consumers.DashboardConsumer.as_asgi()),
    path("analytics/realtime", consumers.UsersConsumer.as_asgi()),
]
