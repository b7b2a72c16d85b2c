"""The scale-out shape: the same code on PostgreSQL and Redis.

These run against the servers on 127.0.0.1 when they answer and skip, saying which one
is missing, when they do not (a fresh user machine has neither).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from asgiref.sync import async_to_sync

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
INNER_RUN = "ANALYST_SCALEOUT_INNER"


def _reachable(host: str, port: int) -> str | None:
    """None when something listens on host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=1):
            return None
    except OSError as error:
        return f"{error.__class__.__name__}: {error}"


def _require(name: str, port: int) -> None:
    problem = _reachable("127.0.0.1", port)
    if problem:
        pytest.skip(f"{name} is not reachable on 127.0.0.1:{port} ({problem}); the scale-out test needs it")


def test_redis_channel_layer_and_cache_roundtrip():
    _require("Redis", 6379)
    from channels_redis.core import RedisChannelLayer
    from django.core.cache.backends.redis import RedisCache

    layer = RedisChannelLayer(hosts=[REDIS_URL])

    async def roundtrip() -> dict:
        channel = await layer.new_channel("test.")
        await layer.send(channel, {"type": "test.ping", "n": 7})
        message = await layer.receive(channel)
        await layer.flush()
        return message

    assert async_to_sync(roundtrip)() == {"type": "test.ping", "n": 7}
    cache = RedisCache(REDIS_URL, {})
    cache.set("analyst-test-key", {"a": 1}, 30)
    assert cache.get("analyst-test-key") == {"a": 1}
    cache.delete("analyst-test-key")


@pytest.mark.skipif(bool(os.environ.get(INNER_RUN)), reason="already inside the scale-out run")
def test_suite_passes_on_postgresql_and_redis():
    """Run the API suites again in a child pytest with DATABASE_URL and REDIS_URL set."""
    _require("PostgreSQL", 5432)
    _require("Redis", 6379)
    env = {**os.environ, "DATABASE_URL": POSTGRES_URL, "REDIS_URL": REDIS_URL, INNER_RUN: "1"}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--create-db", "tests/"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=2400,
    )
    tail = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
    assert result.returncode == 0, tail
    assert " passed" in tail and " failed" not in tail
