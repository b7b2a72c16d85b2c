"""Liveness and readiness: ``GET /health`` (reference body) and ``GET /api/health`` (details).

Each required part is probed for real: a query on the database, a message through the
channel layer, a file written to and read back from storage, a round trip through a
sandbox child. Any failure makes both routes answer 503.

Both routes are public, so the deep check is shared: one runs at a time per process and
its result is reused for HEALTH_CACHE_SECONDS (``age_seconds`` says how old it is). A
flood of probes costs a cache lookup each; it forks no sandbox child and writes no file.
"""

from __future__ import annotations

import resource
import secrets
import threading
import time
from collections.abc import Callable

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return {"backend": connection.vendor}


def _check_channel_layer() -> dict:
    layer = get_channel_layer()
    if layer is None:
        raise RuntimeError("no channel layer configured")

    async def roundtrip() -> None:
        channel = await layer.new_channel("health.")
        await layer.send(channel, {"type": "health.ping"})
        message = await layer.receive(channel)
        if message.get("type") != "health.ping":
            raise RuntimeError("channel layer returned the wrong message")

    async_to_sync(roundtrip)()
    return {"backend": type(layer).__name__}


def _check_storage() -> dict:
    name = default_storage.save(f"health/{secrets.token_hex(8)}.txt", ContentFile(b"ok"))
    try:
        with default_storage.open(name, "rb") as handle:
            if handle.read() != b"ok":
                raise RuntimeError("storage returned different bytes")
    finally:
        default_storage.delete(name)
    return {"backend": type(default_storage._wrapped).__name__}


def _process_memory() -> dict:
    rss_kb = 0
    try:
        with open("/proc/self/status") as status_file:
            for line in status_file:
                if line.startswith("VmRSS:"):
                    rss_kb = int(line.split()[1])
    except OSError:
        pass
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"ok": True, "rss_mb": round(rss_kb / 1024, 1), "peak_rss_mb": round(peak_kb / 1024, 1)}


def _check_sandbox() -> dict:
    """A real round trip through a sandbox child; reports the isolation level reached."""
    from codeexec.client import sandbox_info

    return sandbox_info()


REQUIRED_CHECKS: dict[str, Callable[[], dict]] = {
    "database": _check_database,
    "channel_layer": _check_channel_layer,
    "storage": _check_storage,
    "sandbox": _check_sandbox,
}


_cache_lock = threading.Lock()
_cached: dict = {}


def cached_checks() -> tuple[bool, dict, float]:
    """The last deep check if younger than HEALTH_CACHE_SECONDS, else a new one (one at
    a time: concurrent callers wait for it rather than run their own)."""
    with _cache_lock:
        now = time.monotonic()
        if not _cached or now - _cached["at"] >= settings.HEALTH_CACHE_SECONDS:
            healthy, results = run_checks()
            _cached.update(at=time.monotonic(), healthy=healthy, results=results)
        return _cached["healthy"], _cached["results"], round(time.monotonic() - _cached["at"], 2)


def run_checks() -> tuple[bool, dict]:
    results: dict[str, dict] = {}
    healthy = True
    for name, check in REQUIRED_CHECKS.items():
        started = time.perf_counter()
        try:
            detail = {"ok": True, **check()}
        except Exception as error:  # a health probe reports failures, it does not raise them
            healthy = False
            detail = {"ok": False, "error": f"{type(error).__name__}: {error}"[:300]}
        detail["latency_ms"] = round((time.perf_counter() - started) * 1000, 2)
        results[name] = detail
    results["memory"] = _process_memory()
    return healthy, results


class HealthApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: inline_serializer("Health", {"message": serializers.CharField()})}, tags=["system"])
    def get(self, request: Request) -> Response:
        healthy, results, _ = cached_checks()
        if healthy:
            return Response({"message": "API is healthy and running"})
        failed = ", ".join(name for name, detail in results.items() if not detail.get("ok"))
        return Response({"detail": f"Unhealthy: {failed}.", "code": "unhealthy"}, status=503)


class HealthDetailApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(
        responses={
            200: inline_serializer(
                "HealthDetail",
                {
                    "status": serializers.CharField(),
                    "checks": serializers.DictField(),
                    "version": serializers.CharField(),
                    "age_seconds": serializers.FloatField(),
                },
            )
        },
        tags=["system"],
    )
    def get(self, request: Request) -> Response:
        healthy, results, age = cached_checks()
        body = {
            "status": "ok" if healthy else "down",
            "checks": results,
            "version": settings.SPECTACULAR_SETTINGS["VERSION"],
            "age_seconds": age,
        }
        return Response(body, status=200 if healthy else 503)


class RootApi(APIView):
    authentication_classes: list = []
    permission_classes = [AllowAny]

    @extend_schema(responses={200: serializers.DictField()}, tags=["system"])
    def get(self, request: Request) -> Response:
        return Response(
            {
                "title": "AI data-analyst backend",
                "message": "Upload data, ask questions in plain language, get executed analyses back.",
                "description": "Planner and specialist agents write pandas, statsmodels, scikit-learn and "
                "Plotly code, run it in a sandbox and answer with text, tables and charts.",
                "colors": {"primary": "#007bff", "secondary": "#6c757d", "success": "#28a745", "danger": "#dc3545"},
                "features": [
                    "CSV, Excel, JSON and Parquet datasets",
                    "Planner with preprocessing, statistics, machine-learning and visualisation agents",
                    "Sandboxed code execution with time and memory limits",
                    "Deep analysis reports",
                    "Usage and cost analytics",
                ],
            }
        )
