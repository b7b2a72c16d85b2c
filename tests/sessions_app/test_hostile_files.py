"""Inputs found by review to crash or mislead the first version: each is now a clean 4xx
or a correct dataset, and reading it back never fails."""

from __future__ import annotations

import io
import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from sessions_app.models import AnalysisSession
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db


def upload(client, session_id, content, name):
    return client.post(
        "/upload_dataframe", {"file": csv_file(content, name), "name": "t"}, HTTP_X_SESSION_ID=session_id
    )


def read_back(client, session_id) -> tuple[dict, dict]:
    rows = client.get("/api/datasets/t/rows", HTTP_X_SESSION_ID=session_id)
    profile = client.get("/api/datasets/t/profile", HTTP_X_SESSION_ID=session_id)
    assert (rows.status_code, profile.status_code) == (200, 200)
    return rows.json(), profile.json()


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    return buffer.getvalue()


def test_xlsx_with_a_far_away_cell_is_refused_before_it_is_opened(client, session_id):
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["a"])
    sheet.append([1])
    sheet["XFD1048576"] = 1
    buffer = io.BytesIO()
    workbook.save(buffer)
    for route in ("/preview-csv-upload", "/upload_excel", "/upload_dataframe"):
        response = client.post(route, {"file": csv_file(buffer.getvalue(), "far.xlsx")}, HTTP_X_SESSION_ID=session_id)
        assert response.status_code == 400, route
        assert response.json()["code"] == "sheet_too_large"


def test_all_null_column_reads_back(client, session_id):
    assert upload(client, session_id, "a,b,\n1,2,\n3,4,\n", "d.csv").status_code == 200
    rows, profile = read_back(client, session_id)
    assert rows["rows"] == [[1, 2, None], [3, 4, None]]
    assert profile["columns"][2] == {"name": "column_3", "dtype": "string", "nulls": 2, "distinct": 0, "top_values": []}


def test_json_list_values_become_json_text(client, session_id):
    document = json.dumps([{"a": 1, "tags": ["x", "y"]}, {"a": 2, "tags": "z"}])
    assert upload(client, session_id, document, "d.json").status_code == 200
    rows, _ = read_back(client, session_id)
    assert rows["rows"] == [[1, '["x", "y"]'], [2, "z"]]


def test_parquet_nested_duration_and_out_of_range_dates_read_back(client, session_id):
    table = pa.table(
        {
            "s": pa.array([{"x": 1}, {"x": 2}]),
            "d": pa.array([5, 7], pa.duration("s")),
            "far": pa.array([2534023008000, 0], pa.timestamp("s")),
        }
    )
    assert upload(client, session_id, parquet_bytes(table), "d.parquet").status_code == 200
    rows, profile = read_back(client, session_id)
    assert rows["rows"][0][0] == '{"x": 1}'
    assert isinstance(rows["rows"][0][2], str)  # beyond Python's datetime: shown as text
    assert rows["rows"][1][1] == 7.0
    assert profile["columns"][1]["min"] == 5


def test_parquet_with_duplicate_column_names(client, session_id):
    table = pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["a", "a"])
    assert upload(client, session_id, parquet_bytes(table), "d.parquet").status_code == 200
    rows, _ = read_back(client, session_id)
    assert rows["headers"] == ["a", "a_2"]


@pytest.mark.parametrize(
    "document",
    [
        '[{"a": 1}, {"a": "x"}, {"a": [1, 2]}]',
        '[{"a": 1}, {"a": 99999999999999999999}]',
        "[" * 100_000 + "]" * 100_000,
        "[[], [1, 2]]",
    ],
    ids=["mixed", "huge-int", "deep", "empty-header"],
)
def test_hostile_json_is_never_a_500(client, session_id, document):
    response = upload(client, session_id, document, "d.json")
    assert response.status_code in (200, 400)
    if response.status_code == 200:
        read_back(client, session_id)


def test_single_key_json_with_scalar_list_is_a_column(client, session_id):
    assert upload(client, session_id, '{"values": [1, 2, 3]}', "d.json").status_code == 200
    rows, _ = read_back(client, session_id)
    assert (rows["headers"], rows["rows"]) == (["values"], [[1], [2], [3]])


def test_old_mac_line_endings(client, session_id):
    assert upload(client, session_id, "a,b\r1,2\r3,4\r", "d.csv").status_code == 200
    rows, _ = read_back(client, session_id)
    assert rows["rows"] == [[1, 2], [3, 4]]


def test_too_many_columns_is_400(client, session_id):
    header = ",".join(f"c{i}" for i in range(10_001))
    response = upload(client, session_id, header + "\n" + ",".join("1" * 10_001) + "\n", "d.csv")
    assert response.status_code == 400
    assert response.json()["code"] == "too_many_columns"


def test_ids_beyond_64_bits_are_400(client, session_id):
    response = client.post("/set-message-info", {"chat_id": 2**63}, format="json", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400


@pytest.mark.parametrize("bad", ["a\x00b", "x" * 65, "../etc"])
def test_malformed_session_ids_are_404(client, bad):
    response = client.get("/api/model-settings", HTTP_X_SESSION_ID=bad)
    assert response.status_code == 404


def test_description_from_preview_with_mixed_time_zones(client):
    body = {"headers": ["d"], "rows": [["2020-01-01T00:00:00+05:00"], ["2020-01-01T00:00:00Z"]]}
    response = client.post("/generate-description-from-preview", body, format="json")
    assert response.status_code == 200
    assert "- d (date): d; 2019-12-31 to 2020-01-01." in response.json()["description"]


def test_changing_temperature_keeps_the_users_own_key(client, session_id):
    body = {"provider": "anthropic", "model": "claude-sonnet-4-6", "api_key": "sk-user"}
    client.post("/settings/model", body, format="json", HTTP_X_SESSION_ID=session_id)
    response = client.post(
        "/settings/model",
        {"provider": "anthropic", "model": "claude-sonnet-4-6", "temperature": 0.1},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    from sessions_app.crypto import secret_decrypt

    assert secret_decrypt(AnalysisSession.objects.get(pk=session_id).api_key_encrypted) == "sk-user"
