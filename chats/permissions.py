"""Who may call the API at all: anyone while ALLOW_ANONYMOUS is on, else authenticated users."""

from __future__ import annotations

from django.conf import settings
from rest_framework.permissions import BasePermission


class CallerAllowed(BasePermission):
    message = "Authentication required: send an API key in X-API-Key or Authorization: Bearer."

    def has_permission(self, request, view) -> bool:
        return settings.ALLOW_ANONYMOUS or bool(request.user and request.user.is_authenticated)
