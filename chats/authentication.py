"""API-key authentication: ``X-API-Key: <key>`` or ``Authorization: Bearer <key>``.

A key that is present but wrong is a 401, never a silent fall-back to anonymous use.
"""

from __future__ import annotations

from rest_framework import authentication, exceptions

from chats.selectors import api_key_user_get


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        raw_key = request.META.get("HTTP_X_API_KEY", "").strip()
        if not raw_key:
            header = request.META.get("HTTP_AUTHORIZATION", "")
            scheme, _, value = header.partition(" ")
            if scheme.lower() != "bearer":
                return None
            raw_key = value.strip()
        if not raw_key:
            raise exceptions.AuthenticationFailed("Empty API key.")
        user = api_key_user_get(raw_key=raw_key)
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return user, None

    def authenticate_header(self, request) -> str:
        return self.keyword
