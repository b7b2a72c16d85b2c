"""Project hygiene that would otherwise drift: pins, migrations, the serve entry point."""

from __future__ import annotations

import io
import re
import socket
import tomllib
from pathlib import Path

import pytest
from django.core.management import call_command
from twisted.web import http

from config.serve import REQUEST_BUFFER_BYTES, AnalystServer, StreamedBodyRequest

ROOT = Path(__file__).resolve().parent.parent


def _pins(lines: list[str]) -> dict[str, str]:
    pins = {}
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if not line or line.startswith("-r"):
            continue
        name, version = re.split(r"==", line)
        pins[re.sub(r"\[.*\]", "", name).lower()] = version
    return pins


def test_requirements_and_pyproject_pin_the_same_versions():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pins((ROOT / "requirements.txt").read_text().splitlines())
    dev = _pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    assert _pins(project["dependencies"]) == runtime
    assert _pins(project["optional-dependencies"]["dev"]) == dev


@pytest.mark.django_db
def test_models_and_migrations_agree():
    out = io.StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out)
    assert "No changes detected" in out.getvalue()


def test_serve_turns_off_twisted_multipart_parsing():
    # Twisted's Request.__init__ must still know the flag we switch off.
    assert "parsePOSTFormSubmission" in http.Request.__init__.__code__.co_varnames
    assert StreamedBodyRequest.__init__ is not http.Request.__init__
    server = AnalystServer(application=None, endpoints=["tcp:port=0:interface=127.0.0.1"], signal_handlers=False)
    assert server.request_buffer_size == REQUEST_BUFFER_BYTES


def test_real_server_serves_an_upload_end_to_end():
    """The README's server (config.serve under daphne), over a real socket."""
    from bench.datasets import multipart
    from bench.server import request, running_server

    with running_server() as (port, _):
        status, created = request(port, "POST", "/generate-session")
        assert status == 200
        session = {"X-Session-ID": created["session_id"]}
        csv_path = ROOT / "var-test-upload.csv"
        csv_path.write_text("a,b\n1,x\n2,y\n")
        try:
            body, content_type = multipart(csv_path, {"name": "t"})
        finally:
            csv_path.unlink()
        status, answer = request(
            port, "POST", "/upload_dataframe", body=body, headers={"Content-Type": content_type, **session}
        )
        assert (status, answer["rows"], answer["columns"]) == (200, 2, 2)
        status, rows = request(port, "GET", "/api/datasets/t/rows", headers=session)
        assert rows["rows"] == [[1, "x"], [2, "y"]]
        # Oversize: refused from the headers alone, before the body is read.
        with socket.create_connection(("127.0.0.1", port), timeout=10) as raw:
            raw.sendall(
                b"POST /upload_dataframe HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Content-Type: text/csv\r\nContent-Length: 419430400\r\n\r\nabc"
            )
            reply = raw.recv(4096)
        assert reply.startswith(b"HTTP/1.1 413 ")
        assert b'"code": "payload_too_large"' in reply
