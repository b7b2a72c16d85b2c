"""ASGI entry point: HTTP through Django (behind a body-size guard), WebSockets through
Channels' router with origin validation and Django auth."""

from __future__ import annotations

import os

import django
from django.core.handlers.asgi import ASGIHandler

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class WholeLineASGIHandler(ASGIHandler):
    """Django's handler, sending each part a streamed response yields as one body message.

    Django cuts parts into 64 KiB messages, so a large NDJSON line (an answer with a
    big Plotly figure) would leave in several writes; the web frontend parses every
    network chunk of ``/chat`` on its own and loses any line split across two. Streams
    here yield one line per part, so a part is sent whole (up to 8 MiB).
    """

    chunk_size = 8 * 2**20


# Django must be set up before anything imports models (consumers, routing); this is
# what get_asgi_application() does, with the handler above.
django.setup(set_prefix=False)
django_http = WholeLineASGIHandler()

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.conf import settings  # noqa: E402

from config.body_limit import BodySizeLimit  # noqa: E402
from config.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodySizeLimit(django_http, max_bytes=settings.MAX_REQUEST_BODY_BYTES),
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
