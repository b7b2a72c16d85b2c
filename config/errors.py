"""One error shape for every 4xx and 5xx: ``{"detail": str, "code": str, ...extra}``.

Services raise :class:`ApplicationError` (or a subclass) with a message a person can act
on; the DRF exception handler below, and the JSON 404/500 handlers for non-DRF paths,
turn every failure into that shape. Nothing here lets a 4xx become a 500, and no
traceback ever reaches a client.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404, HttpRequest, JsonResponse
from rest_framework import exceptions as drf_exceptions
from rest_framework import status
from rest_framework.response import Response

logger = logging.getLogger(__name__)


class ApplicationError(Exception):
    """A failure the caller can act on. Subclasses set a default status and code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "invalid"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status_code: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        if status_code is not None:
            self.status_code = status_code
        self.extra = extra or {}


class NotFoundError(ApplicationError):
    status_code = status.HTTP_404_NOT_FOUND
    code = "not_found"


class PayloadTooLargeError(ApplicationError):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    code = "payload_too_large"


class UploadTooLarge(drf_exceptions.APIException):
    """Raised from the upload handler, inside DRF's request parsing."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_code = "payload_too_large"
    default_detail = "The upload is larger than the limit."


def error_body(detail: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"detail": detail, "code": code, **extra}


def _first_message(detail: Any) -> str:
    """The first human message inside a DRF ValidationError detail, with its field."""
    if isinstance(detail, dict):
        for field, value in detail.items():
            message = _first_message(value)
            if field in ("non_field_errors", "detail"):
                return message
            return f"{field}: {message}"
    if isinstance(detail, list) and detail:
        return _first_message(detail[0])
    return str(detail)


def _flatten_codes(detail: Any) -> Any:
    if isinstance(detail, dict):
        return {key: _flatten_codes(value) for key, value in detail.items()}
    if isinstance(detail, list):
        return [_flatten_codes(value) for value in detail]
    return str(detail)


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF exception handler producing the single error shape."""
    if isinstance(exc, ApplicationError):
        response = Response(error_body(exc.message, exc.code, **exc.extra), status=exc.status_code)
        if getattr(exc, "retry_after", None):
            response["Retry-After"] = str(int(exc.retry_after))
        return response
    if isinstance(exc, RequestDataTooBig):
        return Response(
            error_body("The request body is larger than the limit.", "payload_too_large"),
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, Http404):
        message = str(exc) or "Not found."
        return Response(error_body(message, "not_found"), status=status.HTTP_404_NOT_FOUND)
    if isinstance(exc, DjangoPermissionDenied):
        return Response(error_body("You do not have permission.", "permission_denied"), status=403)
    if isinstance(exc, SuspiciousOperation):
        return Response(error_body("The request was malformed.", "bad_request"), status=400)
    if isinstance(exc, drf_exceptions.ValidationError):
        return Response(
            error_body(_first_message(exc.detail), "invalid", errors=_flatten_codes(exc.detail)),
            status=exc.status_code,
        )
    if isinstance(exc, drf_exceptions.ParseError):
        return Response(error_body(f"Malformed request body: {exc.detail}", "parse_error"), status=400)
    if isinstance(exc, drf_exceptions.APIException):
        codes = exc.get_codes()
        response = Response(
            error_body(_first_message(exc.detail), codes if isinstance(codes, str) else exc.default_code),
            status=exc.status_code,
        )
        if getattr(exc, "auth_header", None):
            response["WWW-Authenticate"] = exc.auth_header
        if getattr(exc, "wait", None):
            response["Retry-After"] = str(int(exc.wait))
        return response
    logger.exception("Unhandled error in %s", context.get("view").__class__.__name__ if context.get("view") else "?")
    return Response(
        error_body("Internal server error. The failure was logged.", "server_error"),
        status=status.HTTP_500_INTERNAL_SERVER_ERROR,
    )


def json_not_found(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body(f"No route for {request.path}.", "not_found"), status=404)


def json_server_error(request: HttpRequest) -> JsonResponse:
    return JsonResponse(error_body("Internal server error. The failure was logged.", "server_error"), status=500)


def json_bad_request(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("The request was malformed.", "bad_request"), status=400)


def json_permission_denied(request: HttpRequest, exception: Exception | None = None) -> JsonResponse:
    return JsonResponse(error_body("You do not have permission.", "permission_denied"), status=403)
