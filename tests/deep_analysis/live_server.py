"""A real daphne server on a scratch data directory, for the tests that need one."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_env(data_dir: str, **extra: str) -> dict[str, str]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.settings", "DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"}
    for name in ("DATABASE_URL", "REDIS_URL", "MEDIA_ROOT", "SANDBOX_SOCKET", "http_proxy", "https_proxy"):
        env.pop(name, None)
    env.update(extra)
    return env


def migrate(env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)


def start(env: dict[str, str], port: int) -> subprocess.Popen:
    process = subprocess.Popen(
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group: the sandbox it starts goes with it
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if request(port, "GET", "/health")[0] == 200:
                return process
        except OSError:
            time.sleep(0.2)
    stop(process, signal.SIGKILL)
    raise RuntimeError("daphne did not start")


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    """Signal the server's whole process group (it and the sandbox it started)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, sig)
    try:
        process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=15)


def request(port: int, method: str, path: str, body: object = None, headers: dict | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
    connection.request(method, path, body=data, headers={"Content-Type": "application/json", **(headers or {})})
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    try:
        return response.status, json.loads(raw) if raw else None
    except ValueError:
        return response.status, raw


def upload_csv(port: int, session_id: str, path: Path, name: str) -> None:
    boundary = "deep-analysis-test-boundary"
    body = (
        (
            f'--{boundary}\r\nContent-Disposition: form-data; name="name"\r\n\r\n{name}\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="description"\r\n\r\nHouses\r\n'
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{name}.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n"
        ).encode()
        + path.read_bytes()
        + f"\r\n--{boundary}--\r\n".encode()
    )
    status, answer = request(
        port,
        "POST",
        "/upload_dataframe",
        body,
        {"Content-Type": f"multipart/form-data; boundary={boundary}", "X-Session-ID": session_id},
    )
    assert status == 200, answer


def stream_open(port: int, session_id: str, goal: str) -> tuple[http.client.HTTPConnection, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    connection.request(
        "POST",
        "/deep_analysis_streaming",
        body=json.dumps({"goal": goal}).encode(),
        headers={"Content-Type": "application/json", "X-Session-ID": session_id},
    )
    response = connection.getresponse()
    assert response.status == 200
    return connection, response


def next_event(response) -> dict:
    while True:
        line = response.readline()
        if not line:
            raise EOFError("the stream ended")
        if line.strip():
            return json.loads(line)
