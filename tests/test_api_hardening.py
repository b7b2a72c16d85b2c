"""API-wide hardening from issue 10: over-deep JSON bodies, rate limits, file modes,
the schema's auth schemes and the server's header timeout."""

from __future__ import annotations

import json

import pytest

from config.parsers import MAX_JSON_DEPTH, json_nesting_depth
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db

DEEP = b"[" * 1000 + b"]" * 1000  # 2 KB, nested 1,000 deep


def test_nesting_depth_ignores_brackets_inside_strings():
    assert json_nesting_depth(b'{"a": [1, {"b": "[[[[{{{{\\"]]"}]}') == 3
    assert json_nesting_depth(b"12") == 0
    assert json_nesting_depth(DEEP) == 1000


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/set-message-info"),
        ("post", "/settings/model"),
        ("post", "/code/execute"),
        ("post", "/code/edit"),
        ("post", "/chats/"),
        ("post", "/generate-description-from-preview"),
    ],
)
def test_a_body_nested_1000_deep_is_a_400_on_json_routes(client, session_id, method, path):
    response = getattr(client, method)(path, DEEP, content_type="application/json", HTTP_X_SESSION_ID=session_id)
    assert (response.status_code, response.json()) == (
        400,
        {"detail": f"Malformed request body: JSON nested deeper than {MAX_JSON_DEPTH} levels.", "code": "parse_error"},
    )


def test_a_deep_body_is_a_400_for_an_api_key_caller_too(auth_client):
    response = auth_client.post("/templates/custom", DEEP, content_type="application/json")
    assert (response.status_code, response.json()["code"]) == (400, "parse_error")


def test_deep_body_on_set_message_info_is_exactly_a_parse_error(client, session_id):
    response = client.post("/set-message-info", DEEP, content_type="application/json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"


def test_a_body_at_the_depth_limit_still_parses(client, session_id):
    nested = json.loads("[" * (MAX_JSON_DEPTH - 1) + "]" * (MAX_JSON_DEPTH - 1))
    body = {"chat_id": None, "message_id": None, "extra": nested}
    response = client.post("/set-message-info", body, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200, response.json()


def test_deep_json_in_a_multipart_field_is_a_400(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(b"a,b\n1,2\n", "x.xlsx"), "selected_sheets": DEEP.decode()},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"Malformed request body: JSON nested deeper than {MAX_JSON_DEPTH} levels."


# --- rate limits -------------------------------------------------------------------------


@pytest.fixture
def limited(settings):
    from django.core.cache import cache

    cache.clear()
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "code": "2/min", "upload": "1/min"}
    yield settings
    cache.clear()


def clean(client, session_id=None):
    headers = {"HTTP_X_SESSION_ID": session_id} if session_id else {}
    return client.post("/code/clean-code", {"code": "x = 1"}, format="json", **headers)


def test_code_routes_answer_429_with_retry_after_past_the_limit(client, session_id, limited):
    assert [clean(client, session_id).status_code for _ in range(2)] == [200, 200]
    refused = clean(client, session_id)
    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"
    assert refused.json()["detail"].startswith("Request was throttled. Expected available in ")
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_each_session_has_its_own_budget(client, session_id, limited):
    other = client.post("/generate-session").json()["session_id"]
    assert [clean(client, session_id).status_code for _ in range(3)] == [200, 200, 429]
    assert clean(client, other).status_code == 200


def test_an_address_has_a_budget_across_the_sessions_it_mints(client, limited):
    # 2/min per session and 2 x 2 per address: new session ids stop helping after four runs.
    limited.RATE_LIMIT_ANONYMOUS_ADDRESS_FACTOR = 2
    sessions = [f"auto_1796013641317_abcdefgh{i}" for i in range(5)]
    assert [clean(client, sid).status_code for sid in sessions] == [200, 200, 200, 200, 429]
    assert clean(client, sessions[0]).status_code == 429


def test_users_are_counted_by_user_across_sessions(auth_client, limited):
    first = auth_client.post("/generate-session").json()["session_id"]
    second = auth_client.post("/generate-session").json()["session_id"]
    assert [clean(auth_client, first).status_code, clean(auth_client, second).status_code] == [200, 200]
    assert clean(auth_client, first).status_code == 429


def test_reads_and_cheap_routes_are_not_limited(client, session_id, limited):
    assert [clean(client, session_id).status_code for _ in range(3)] == [200, 200, 429]
    assert client.get("/api/datasets", HTTP_X_SESSION_ID=session_id).status_code == 200
    assert client.post("/set-message-info", {}, format="json", HTTP_X_SESSION_ID=session_id).status_code == 200


def test_uploads_draw_from_their_own_budget(client, session_id, limited):
    def send():
        return client.post(
            "/upload_dataframe", {"file": csv_file("a,b\n1,2\n"), "name": "t"}, HTTP_X_SESSION_ID=session_id
        )

    assert [send().status_code, send().status_code] == [200, 429]
    assert clean(client, session_id).status_code == 200


def test_rate_limits_are_off_in_tests_by_default(client, session_id):
    assert {clean(client, session_id).status_code for _ in range(70)} == {200}


def test_counters_live_in_redis_when_it_is_configured(client, session_id, settings):
    import socket
    import uuid

    from django.core.cache import caches

    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
    except OSError:
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    settings.RATE_LIMITS_ENABLED = True
    settings.RATE_LIMITS = {**settings.RATE_LIMITS, "code": "2/min"}
    prefix = f"apihard-test-{uuid.uuid4().hex}"
    # Never cache.clear() here: on Redis that is FLUSHDB, other users' keys included.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "KEY_PREFIX": prefix,
        }
    }
    redis = caches["default"]._cache.get_client()
    try:
        assert [clean(client, session_id).status_code for _ in range(3)] == [200, 200, 429]
        keys = redis.keys(f"{prefix}:*ratelimit:code:session:{session_id}:*")
        assert len(keys) == 1
        assert int(redis.get(keys[0])) == 3
    finally:
        for key in redis.keys(f"{prefix}:*"):
            redis.delete(key)


# --- file modes ----------------------------------------------------------------------------


def test_data_dir_database_and_media_are_private(tmp_path):
    import stat
    import subprocess
    import sys
    from pathlib import Path

    data = tmp_path / "data"
    script = (
        "import django, os, stat, json\n"
        "django.setup()\n"
        "from django.conf import settings\n"
        "from django.db import connection\n"
        "from django.core.files.base import ContentFile\n"
        "from django.core.files.storage import default_storage\n"
        "connection.ensure_connection()\n"
        "with connection.cursor() as c: c.execute('create table t (x int)')\n"
        "name = default_storage.save('datasets/ab/x.parquet', ContentFile(b'x'))\n"
        "print(json.dumps({'db': str(settings.DATABASES['default']['NAME']), 'file': default_storage.path(name)}))\n"
    )
    env = {
        **__import__("os").environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": str(data),
        "SANDBOX_AUTOSTART": "false",
    }
    # The embedded default's files: in the scale-out re-run DATABASE_URL and REDIS_URL point
    # at the shared servers, which this subprocess must not touch.
    for name in ("MEDIA_ROOT", "DATABASE_URL", "REDIS_URL"):
        env.pop(name, None)
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    paths = json.loads(out.stdout.strip().splitlines()[-1])

    def mode(path) -> int:
        return stat.S_IMODE(Path(path).stat().st_mode)

    assert mode(data) == 0o700
    assert mode(data / "media") == 0o700
    assert mode(data / "secret_key") == 0o600
    assert mode(paths["db"]) == 0o600
    assert mode(paths["file"]) == 0o600
    assert mode(Path(paths["file"]).parent) == 0o700


# --- slow clients ---------------------------------------------------------------------------


def test_real_server_closes_a_connection_whose_headers_dribble_in():
    """Slowloris: one header byte at a time, each well within the idle timeout."""
    import socket
    import time

    from bench.server import request, running_server

    with running_server({"SERVER_HEADER_TIMEOUT": "2"}) as (port, _):
        slow = socket.create_connection(("127.0.0.1", port), timeout=10)
        started = time.monotonic()
        received = b""
        try:
            for byte in b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 100:
                slow.sendall(bytes([byte]))
                time.sleep(0.25)
                slow.settimeout(0.01)
                try:
                    chunk = slow.recv(4096)
                except TimeoutError:
                    continue
                received += chunk
                if not chunk or received.endswith(b"\r\n\r\n"):
                    break
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            slow.close()
        elapsed = time.monotonic() - started
        assert received.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
        assert 1.5 < elapsed < 10
        # A prompt client is unaffected, on a fresh connection and on a kept-alive one.
        assert request(port, "GET", "/health")[0] == 200
