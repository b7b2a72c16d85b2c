"""Rate limits on the expensive routes, counted in Django's cache (Redis when REDIS_URL is set).

One throttle class is installed for every DRF view; it decides from the request's path
whether the route is expensive and which budget it draws from (``RATE_LIMIT_ROUTES``), so
the apps' views need no throttle code. Only writes count (POST, PUT, PATCH, DELETE): a
client polling its reports is not throttled.

The caller is the authenticated user, else the analysis session it names (``X-Session-ID``
or ``?session_id=``), else its IP address. An anonymous caller can mint session ids at
will (the web frontend does), so its address also has a budget of its own,
``RATE_LIMIT_ANONYMOUS_ADDRESS_FACTOR`` times the per-caller one, shared by every session it
sends from. Counters are fixed windows kept with
``cache.add`` + ``cache.incr``, both atomic in Redis, so several server processes share one
budget. A refused request is a 429 in the project's error shape with ``Retry-After``.
"""

from __future__ import annotations

import math
import re
import time

from django.conf import settings
from django.core.cache import cache
from rest_framework.throttling import BaseThrottle

_PERIODS = {"s": 1, "sec": 1, "second": 1, "m": 60, "min": 60, "minute": 60, "h": 3600, "hour": 3600, "d": 86400}
_UNSAFE = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/min"`` -> (30, 60). Raises ValueError on anything else."""
    count, _, period = rate.partition("/")
    number = re.fullmatch(r"(\d*)\s*([a-z]+)", period.strip().lower())
    if not number or number.group(2) not in _PERIODS:
        raise ValueError(f"Unknown rate period in {rate!r}; use e.g. 30/min, 5/s, 100/hour.")
    return int(count), int(number.group(1) or 1) * _PERIODS[number.group(2)]


def route_scope(path: str) -> str | None:
    for scope, pattern in settings.RATE_LIMIT_ROUTES.items():
        if re.match(pattern, path):
            return scope
    return None


def _count(key: str, period: int) -> int:
    """Add one to a fixed-window counter and return it."""
    cache.add(key, 0, timeout=period + 1)
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr: this request opens the window
        cache.add(key, 1, timeout=period + 1)
        return 1


class ExpensiveRouteThrottle(BaseThrottle):
    """Fixed-window limit per (route budget, caller)."""

    def __init__(self) -> None:
        self.wait_seconds: float | None = None

    def caller(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        session_id = request.META.get("HTTP_X_SESSION_ID") or request.query_params.get("session_id")
        if session_id:
            return f"session:{session_id[:128]}"
        return f"ip:{self.get_ident(request)}"

    def allow_request(self, request, view) -> bool:
        if not settings.RATE_LIMITS_ENABLED or request.method not in _UNSAFE:
            return True
        scope = route_scope(request.path)
        rate = settings.RATE_LIMITS.get(scope) if scope else None
        if not rate:
            return True
        limit, period = parse_rate(rate)
        caller = self.caller(request)
        budgets = [(caller, limit)]
        if caller.startswith("session:"):
            budgets.append((f"ip:{self.get_ident(request)}", limit * settings.RATE_LIMIT_ANONYMOUS_ADDRESS_FACTOR))
        now = time.time()
        window = int(now // period)
        for who, budget in budgets:
            if _count(f"ratelimit:{scope}:{who}:{window}", period) > budget:
                self.wait_seconds = (window + 1) * period - now
                return False
        return True

    def wait(self) -> float | None:
        return None if self.wait_seconds is None else float(math.ceil(self.wait_seconds))
