"""schemathesis over the whole OpenAPI schema, in-process: no input is a server error, and
every status a route answers with is declared in the schema.

Each operation is fuzzed three ways with generated requests: anonymously (with whatever
session ids schemathesis invents), with a valid anonymous session, and with an API key
and that user's session; and once more, with the API key, through schemathesis' coverage
cases (boundaries, wrong types, missing fields, other content types). Examples are
bounded (derandomised, no shrinking); routes that reach the sandbox or the language
model get two generated examples and no coverage cases. The app is the WSGI handler (no
network, no server), against the test database.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import status_code_conformance

from chats.services import api_key_create, user_create
from sessions_app.services import session_create

APP = get_wsgi_application()
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", APP)

# Routes that run code or call the (offline) language model cost ~0.1-1 s per call: they
# get fewer examples. Health routes answer 503 by design when a part is down (the sandbox
# is not started in tests): for them only the declared statuses are checked.
SLOW_ROUTES = r"^/(chat|code/execute|code/fix|code/edit|deep_analysis|api/health)"
HEALTH_ROUTES = ("/health", "/api/health")
# A valid deep-analysis request starts a background job whose threads need the tables this
# in-process test transaction holds (SQLite locks them across threads), so the route is
# fuzzed in tests/deep_analysis (bad input, limits) and against a live server there.
NOT_IN_PROCESS = r"^/deep_analysis_streaming"
FAST_EXAMPLES = 4
SLOW_EXAMPLES = 2


@pytest.fixture(autouse=True)
def _keep_the_test_transaction_open():
    """The WSGI handler closes "old" connections at each request's start and end, which would
    close the test's transaction (on PostgreSQL; SQLite's in-memory test database survives
    it); Django's own test client disconnects the same handler."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)  # a streamed answer's end closes it too
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(params=["anonymous", "session", "api_key"])
def caller_headers(request, db) -> dict[str, str]:
    """Anonymous (with whatever session ids schemathesis invents), a valid anonymous
    session, or an API key with that user's own session."""
    if request.param == "anonymous":
        return {}
    if request.param == "session":
        return {"X-Session-ID": session_create().pk}
    user = user_create(username="fuzz", email="fuzz@example.com")
    _, key = api_key_create(user=user, name="fuzz")
    return {"X-API-Key": key, "X-Session-ID": session_create(user=user).pk}


def call_and_check(case, caller_headers: dict[str, str]) -> None:
    headers = dict(case.headers or {})
    headers.update(caller_headers)
    case.headers = headers
    if "X-Session-ID" in caller_headers and isinstance(case.query, dict) and "session_id" in case.query:
        case.query["session_id"] = caller_headers["X-Session-ID"]
    checks = [status_code_conformance]
    if case.path not in HEALTH_ROUTES:
        checks.append(not_a_server_error)
    case.call_and_validate(checks=checks)


def fuzz_settings(examples: int, *, coverage: bool = False):
    """Bounded, derandomised, no shrinking. ``coverage`` runs schemathesis' coverage cases
    (boundary values, wrong types, missing fields, other content types: about 50 per
    operation, attached as explicit examples) instead of random generation."""
    return hypothesis_settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        phases=[Phase.explicit] if coverage else [Phase.generate],
        suppress_health_check=list(HealthCheck),
    )


@pytest.fixture
def api_key_headers(db) -> dict[str, str]:
    user = user_create(username="fuzz", email="fuzz@example.com")
    _, key = api_key_create(user=user, name="fuzz")
    return {"X-API-Key": key, "X-Session-ID": session_create(user=user).pk}


@schema.exclude(path_regex=SLOW_ROUTES).parametrize()
@fuzz_settings(1, coverage=True)
def test_coverage_cases_with_an_api_key(case, api_key_headers):
    call_and_check(case, api_key_headers)


@schema.exclude(path_regex=SLOW_ROUTES).parametrize()
@fuzz_settings(FAST_EXAMPLES)
def test_fast_routes(case, caller_headers):
    call_and_check(case, caller_headers)


@schema.include(path_regex=SLOW_ROUTES).exclude(path_regex=NOT_IN_PROCESS).parametrize()
@fuzz_settings(SLOW_EXAMPLES)
def test_routes_that_run_code_or_models(case, caller_headers):
    call_and_check(case, caller_headers)
