"""Who may read analytics: the one access rule for HTTP routes, sockets and exports.

A caller is an analytics admin when it presents the operator's key (``X-Admin-API-Key``
equal to ``ADMIN_API_KEY``, compared in constant time) or is a staff user, identified by
their API key (``X-API-Key`` / ``Authorization: Bearer``) or by their admin login.

``ADMIN_API_KEY`` has no default: unset, key auth is off and a request carrying a key is
told so; staff users still get in. A key in the query string (``?admin_api_key=``) is
refused unless ``ANALYTICS_ALLOW_QUERY_KEY`` is on: the web frontend's feedback proxy
sends it that way, but URLs end up in proxy logs, browser history and Referer headers.
The request log never prints query strings (``config.middleware``).
"""

from __future__ import annotations

import hmac
from typing import Any

from django.conf import settings
from rest_framework import exceptions
from rest_framework.permissions import BasePermission

from chats.selectors import api_key_user_get

QUERY_KEY_PARAMETER = "admin_api_key"


class AdminAccessDenied(exceptions.PermissionDenied):
    default_detail = "Invalid or missing admin API key"
    default_code = "admin_key_invalid"


def admin_key_matches(candidate: str) -> bool:
    """False for every candidate while ``ADMIN_API_KEY`` is unset."""
    expected = settings.ADMIN_API_KEY
    if not expected or not candidate:
        return False
    return hmac.compare_digest(candidate.encode(), expected.encode())


def admin_key_refusal(*, header_key: str, query_key: str) -> AdminAccessDenied | None:
    """None when a presented admin key is accepted; the reason otherwise.

    Precondition: the caller presented a key (header or query)."""
    if not settings.ADMIN_API_KEY:
        return AdminAccessDenied(
            "Admin key auth is off: ADMIN_API_KEY is not configured on the server. "
            "Use a staff user's API key or admin login.",
            code="admin_key_not_configured",
        )
    if header_key:
        return None if admin_key_matches(header_key) else AdminAccessDenied()
    if not settings.ANALYTICS_ALLOW_QUERY_KEY:
        return AdminAccessDenied(
            "The admin key is refused in the query string; send it in the X-Admin-API-Key header.",
            code="admin_key_in_query_refused",
        )
    return None if admin_key_matches(query_key) else AdminAccessDenied()


class IsAnalyticsAdmin(BasePermission):
    """DRF permission for every ``/analytics/*`` route except the public ticker."""

    def has_permission(self, request, view) -> bool:
        header_key = request.META.get("HTTP_X_ADMIN_API_KEY", "").strip()
        query_key = request.query_params.get(QUERY_KEY_PARAMETER, "").strip()
        if header_key or query_key:
            refusal = admin_key_refusal(header_key=header_key, query_key=query_key)
            if refusal is not None:
                raise refusal
            return True
        user = request.user
        if user is not None and user.is_authenticated and user.is_staff:
            return True
        raise AdminAccessDenied()


def _scope_header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key.lower() == name:
            return value.decode("latin-1").strip()
    return ""


def socket_caller_is_admin(scope: dict[str, Any]) -> bool:
    """The same rule for a WebSocket upgrade. Synchronous (it may read an API key row).

    Browsers cannot set headers on a WebSocket, so a staff user's session cookie (resolved
    into ``scope["user"]`` by Channels' auth middleware) is the browser's way in; other
    clients send the admin key or a staff user's API key as upgrade headers. Query-string
    keys are never read here."""
    user = scope.get("user")
    if user is not None and user.is_authenticated and user.is_staff:
        return True
    admin_key = _scope_header(scope, b"x-admin-api-key")
    if admin_key:
        return admin_key_matches(admin_key)
    api_key = _scope_header(scope, b"x-api-key")
    if not api_key:
        scheme, _, value = _scope_header(scope, b"authorization").partition(" ")
        api_key = value.strip() if scheme.lower() == "bearer" else ""
    if api_key:
        key_user = api_key_user_get(raw_key=api_key)
        return key_user is not None and key_user.is_staff
    return False
