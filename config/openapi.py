"""What the OpenAPI schema says beyond the views' own annotations.

* Both credentials :class:`chats.authentication.ApiKeyAuthentication` accepts are declared
  (``X-API-Key`` and ``Authorization: Bearer``), beside Django's session cookie, and an
  operation anonymous callers may use says so with an empty requirement (``{}``).
* Every operation declares the error statuses the project answers with, in its one error
  shape (:func:`config.errors.error_body`): 400 bad input, 401 a wrong key, 403 not
  allowed, 404 not found or not yours, 413 too large, 415 a body type the route does not
  take, 429 rate-limited (throttled routes only), and 502/503/504 where the route calls a
  language model or the sandbox. schemathesis checks the server against this list.
"""

from __future__ import annotations

import re

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers

# Routes whose work reaches a language model or the sandbox: their providers can fail
# (502), be unavailable or restarting (503) or time out (504).
UPSTREAM_ROUTES = re.compile(
    r"^/(chat|code/|deep_analysis|generate-description|chat_history_name|upload_excel|api/health|health$)"
)


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "chats.authentication.ApiKeyAuthentication"
    name = ["ApiKeyAuth", "BearerAuth"]

    def get_security_definition(self, auto_schema):
        return [
            {"type": "apiKey", "in": "header", "name": "X-API-Key", "description": "An API key."},
            {"type": "http", "scheme": "bearer", "description": "The same API key as a bearer token."},
        ]

    def get_security_requirement(self, auto_schema):
        return [{"ApiKeyAuth": []}, {"BearerAuth": []}]


ERROR_SCHEMA = inline_serializer(
    name="Error",
    fields={
        "detail": serializers.CharField(help_text="What went wrong, for a person."),
        "code": serializers.CharField(help_text="A stable machine-readable code."),
    },
)

_DESCRIPTIONS = {
    400: "Bad input (the message says what to change).",
    401: "The API key sent is wrong or revoked.",
    403: "Not allowed (anonymous use switched off, or a premium feature).",
    404: "Not found, or not the caller's.",
    405: "Method not allowed.",
    413: "The body, upload or decoded dataset is larger than the limit.",
    415: "The route does not take this body type.",
    409: "Conflicts with the object's current state (a name or id already taken, a run not running).",
    429: "Rate-limited: retry after the Retry-After header's seconds.",
    502: "The language-model provider failed.",
    503: "The sandbox or a provider is unavailable; retry shortly.",
    504: "The language model or the code run took too long.",
}


class AnalystAutoSchema(AutoSchema):
    def get_auth(self):
        auths = super().get_auth()
        from chats.permissions import CallerAllowed

        perms = [permission.__class__ for permission in self.view.get_permissions()]
        if CallerAllowed in perms and settings.ALLOW_ANONYMOUS and {} not in auths:
            auths.append({})
        return auths

    def _error_statuses(self) -> list[int]:
        from config.throttling import route_scope

        path = re.sub(r"\{[^}]+\}", "x", self.path)
        statuses = [400, 401, 403, 404]
        if self.method in ("POST", "PUT", "PATCH"):
            statuses += [413, 415]
        if self.method in ("POST", "PUT", "PATCH", "DELETE"):
            statuses.append(409)
        if self.method in ("POST", "PUT", "PATCH", "DELETE") and route_scope(path):
            statuses.append(429)
        if UPSTREAM_ROUTES.match(path):
            statuses += [502, 503, 504]
        return statuses

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        declared = {str(code) for code in responses}
        for status in self._error_statuses():
            if str(status) not in declared:
                error = OpenApiResponse(response=ERROR_SCHEMA, description=_DESCRIPTIONS[status])
                responses[str(status)] = self._get_response_for_code(error, str(status), direction=direction)
        return responses
