"""Fixtures for deep analysis: a session holding Housing.csv, and a stream reader."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import csv_file

HOUSING = Path(__file__).resolve().parents[1] / "data" / "Housing.csv"


@pytest.fixture
def housing() -> pd.DataFrame:
    return pd.read_csv(HOUSING)


def upload(client, session_id: str, content: bytes, name: str = "housing", **headers) -> None:
    response = client.post(
        "/upload_dataframe",
        {"file": csv_file(content, f"{name}.csv"), "name": name, "description": "Houses and their prices"},
        HTTP_X_SESSION_ID=session_id,
        **headers,
    )
    assert response.status_code == 200, response.content


@pytest.fixture
def housing_session(client, session_id) -> str:
    upload(client, session_id, HOUSING.read_bytes())
    return session_id


@pytest.fixture(autouse=True)
def sequential_agents(settings):
    """The test database is SQLite in shared-cache memory, which locks whole tables across
    threads: agent tasks run one at a time here (the daphne test and the bench run them in
    parallel against a file database)."""
    settings.DEEP_ANALYSIS_AGENT_WORKERS = 1
