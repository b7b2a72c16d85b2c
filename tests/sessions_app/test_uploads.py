"""Dataset uploads of every format, and every kind of bad input the issue lists."""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from openpyxl import Workbook

from sessions_app.models import Dataset
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db


def upload(client, session_id, content, name="data.csv", **fields):
    body = {"file": csv_file(content, name), "name": fields.pop("dataset_name", name), **fields}
    return client.post("/upload_dataframe", body, HTTP_X_SESSION_ID=session_id)


def rows_of(client, session_id, name, **query):
    params = "&".join(f"{k}={v}" for k, v in query.items())
    return client.get(f"/api/datasets/{name}/rows?{params}", HTTP_X_SESSION_ID=session_id).json()


def datasets_of(session_id) -> list[tuple[str, str]]:
    return list(Dataset.objects.filter(session_id=session_id).values_list("name", "file_id"))


# --- CSV -----------------------------------------------------------------------------------


def test_csv_upload_replaces_the_default_and_names_the_variable(client, session_id):
    response = upload(client, session_id, "city,sales\nOslo,10\nLima,2.5\n", name="My Sales-2024.csv")
    assert response.status_code == 200
    assert response.json() == {
        "message": "Dataframe uploaded successfully",
        "session_id": session_id,
        "rows": 2,
        "columns": 2,
        "name": "My_Sales_2024_csv",
    }
    info = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).json()
    assert info["is_custom_dataset"] is True
    assert [d["name"] for d in info["datasets"]] == ["My_Sales_2024_csv"]
    body = rows_of(client, session_id, "My_Sales_2024_csv")
    assert body["headers"] == ["city", "sales"]
    assert body["rows"] == [["Oslo", 10.0], ["Lima", 2.5]]


def test_repeated_columns_field_keeps_only_those_columns(client, session_id):
    response = client.post(
        "/upload_dataframe",
        {"file": csv_file("a,b,c\n1,2,3\n"), "name": "t", "columns": ["c", "a"]},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 200
    assert rows_of(client, session_id, "t")["headers"] == ["c", "a"]


def test_unknown_column_in_columns_field_is_400(client, session_id):
    response = client.post(
        "/upload_dataframe",
        {"file": csv_file("a,b\n1,2\n"), "name": "t", "columns": ["zzz"]},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 400
    assert response.json()["detail"] == "Columns not in the file: zzz. Available: a, b."


@pytest.mark.parametrize("delimiter", [";", "\t", "|"])
def test_delimiter_is_detected(client, session_id, delimiter):
    text = f"name{delimiter}value\nx{delimiter}1\ny{delimiter}2\n"
    assert upload(client, session_id, text, dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["rows"] == [["x", 1], ["y", 2]]


@pytest.mark.parametrize(
    ("encoded", "label"),
    [
        ("name,city\nZoë,Málaga\nJosé,Zürich\n".encode("cp1252"), "cp1252"),
        ("name,city\nZoë,Málaga\nJosé,Zürich\n".encode("utf-16"), "utf-16"),
        (b"\xef\xbb\xbf" + "name,city\nZoë,Málaga\nJosé,Zürich\n".encode(), "utf-8 with BOM"),
    ],
)
def test_encodings_are_detected(client, session_id, encoded, label):
    assert upload(client, session_id, encoded, dataset_name="t").status_code == 200, label
    body = rows_of(client, session_id, "t")
    assert body["headers"] == ["name", "city"]
    assert body["rows"] == [["Zoë", "Málaga"], ["José", "Zürich"]]


def test_duplicate_and_blank_column_names_are_made_unique(client, session_id):
    assert upload(client, session_id, "a,a,,b\n1,2,3,4\n", dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["headers"] == ["a", "a_2", "column_3", "b"]


def test_column_names_that_are_not_identifiers_are_kept(client, session_id):
    assert upload(client, session_id, "first name,1st,class\nA,1,x\n", dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["headers"] == ["first name", "1st", "class"]


def test_quoted_values_with_newlines(client, session_id):
    text = 'id,note\n1,"line one\nline two"\n2,plain\n'
    assert upload(client, session_id, text, dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["rows"] == [[1, "line one\nline two"], [2, "plain"]]


def test_a_late_float_widens_an_integer_column(client, session_id):
    lines = ["n,label"] + [f"{i},row{i}" for i in range(400_000)] + ["2.5,last"]
    assert upload(client, session_id, "\n".join(lines) + "\n", dataset_name="t").status_code == 200
    body = rows_of(client, session_id, "t", offset=400_000, limit=5)
    assert body["total_rows"] == 400_001
    assert body["rows"] == [[2.5, "last"]]


def test_one_million_rows(client, session_id):
    values = np.arange(1_000_000)
    text = "x,y\n" + "\n".join(f"{v},{v % 7}" for v in values) + "\n"
    response = upload(client, session_id, text, dataset_name="big")
    assert response.json()["rows"] == 1_000_000
    body = rows_of(client, session_id, "big", offset=999_998, limit=10)
    assert body["rows"] == [[999_998, 999_998 % 7], [999_999, 999_999 % 7]]


@pytest.mark.parametrize(
    ("content", "code", "detail"),
    [
        (b"", "empty_file", "The file is empty."),
        (b"   \n\n", "empty_file", "The file is empty."),
        (bytes(range(256)) * 40, "not_text", None),
        (b"<!DOCTYPE html><html><body>Not found</body></html>", "html_not_csv", None),
        (b"a,b\n", "no_rows", "The CSV has a header but no data rows."),
        (
            b"a,b,c\n1,2,3\n4,5\n",
            "ragged_rows",
            "Ragged CSV: row 3 has 2 fields where the header has 3. "
            "Every row needs the same number of fields as the header.",
        ),
    ],
)
def test_bad_csv_is_400_and_keeps_the_previous_dataset(client, session_id, content, code, detail):
    before = datasets_of(session_id)
    response = upload(client, session_id, content, dataset_name="t")
    assert response.status_code == 400
    assert response.json()["code"] == code
    if detail:
        assert response.json()["detail"] == detail
    assert datasets_of(session_id) == before


def test_missing_file_field_is_400(client, session_id):
    response = client.post("/upload_dataframe", {"name": "t"}, HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["detail"] == "file: No file was submitted."


def test_oversize_upload_is_413_and_keeps_the_previous_dataset(client, session_id, settings):
    settings.MAX_UPLOAD_BYTES = 1000
    before = datasets_of(session_id)
    response = upload(client, session_id, "a,b\n" + "1,2\n" * 1000, dataset_name="t")
    assert response.status_code == 413
    assert response.json()["code"] == "payload_too_large"
    assert datasets_of(session_id) == before


def test_append_mode_adds_a_second_dataset(client, session_id):
    upload(client, session_id, "a\n1\n", dataset_name="first")
    upload(client, session_id, "b\n2\n", dataset_name="second", mode="append")
    names = [d["name"] for d in client.get("/api/datasets", HTTP_X_SESSION_ID=session_id).json()["datasets"]]
    assert names == ["first", "second"]


def test_force_refresh_header_replaces_even_in_append_mode(client, session_id):
    upload(client, session_id, "a\n1\n", dataset_name="first")
    client.post(
        "/upload_dataframe",
        {"file": csv_file("b\n2\n"), "name": "second", "mode": "append"},
        HTTP_X_SESSION_ID=session_id,
        HTTP_X_FORCE_REFRESH="true",
    )
    assert [name for name, _ in datasets_of(session_id)] == ["second"]


def test_reserved_name_gets_a_suffix(client, session_id):
    assert upload(client, session_id, "a\n1\n", dataset_name="pd").json()["name"] == "pd_data"


# --- JSON and Parquet ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "document",
    [
        json.dumps([{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]),
        json.dumps({"a": [1, 2], "b": ["x", "y"]}),
        json.dumps({"data": [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]}),
        '{"a": 1, "b": "x"}\n{"a": 2, "b": "y"}\n',
    ],
    ids=["records", "columns", "wrapped", "ndjson"],
)
def test_json_shapes(client, session_id, document):
    assert upload(client, session_id, document, name="d.json", dataset_name="t").status_code == 200
    body = rows_of(client, session_id, "t")
    assert body["headers"] == ["a", "b"]
    assert body["rows"] == [[1, "x"], [2, "y"]]


def test_nested_json_records_are_flattened(client, session_id):
    document = json.dumps([{"id": 1, "geo": {"lat": 1.5, "lon": 2.5}}])
    assert upload(client, session_id, document, name="d.json", dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["headers"] == ["id", "geo.lat", "geo.lon"]


@pytest.mark.parametrize("document", ['[{"a": 1}, ', "[1, 2, 3]", "[]", '{"a": [1, 2], "b": [1]}'])
def test_bad_json_is_400(client, session_id, document):
    response = upload(client, session_id, document, name="d.json", dataset_name="t")
    assert response.status_code == 400
    assert response.json()["code"] in ("bad_json", "no_rows")


def test_parquet_upload(client, session_id):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"when": pa.array([1, 2]), "what": pa.array(["a", None])}), buffer)
    assert upload(client, session_id, buffer.getvalue(), name="d.parquet", dataset_name="t").status_code == 200
    assert rows_of(client, session_id, "t")["rows"] == [[1, "a"], [2, None]]


def test_truncated_parquet_is_400(client, session_id):
    buffer = io.BytesIO()
    pq.write_table(pa.table({"a": [1, 2, 3]}), buffer)
    response = upload(client, session_id, buffer.getvalue()[:40], name="d.parquet", dataset_name="t")
    assert response.status_code == 400
    assert response.json()["code"] == "bad_parquet"


# --- Excel -------------------------------------------------------------------------------------


def xlsx_bytes(sheets: dict[str, list[list]]) -> bytes:
    workbook = Workbook()
    workbook.remove(workbook.active)
    for title, rows in sheets.items():
        sheet = workbook.create_sheet(title)
        for row in rows:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


TWO_SHEETS = {
    "Sales 2024": [["region", "amount"], ["north", 10], ["south", 20.5]],
    "Empty": [],
    "Staff": [[" name ", "age", None], ["Ann", 31, None], [None, None, None], ["Bob", 45, None]],
}


def test_excel_sheets_lists_sheet_names(client, session_id):
    response = client.post(
        "/api/excel-sheets", {"file": csv_file(xlsx_bytes(TWO_SHEETS), "b.xlsx")}, HTTP_X_SESSION_ID=session_id
    )
    assert response.json() == {"sheets": ["Sales 2024", "Empty", "Staff"]}


def test_upload_excel_loads_every_non_empty_sheet(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(xlsx_bytes(TWO_SHEETS), "b.xlsx"), "name": "b", "description": "two sheets"},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.json() == {
        "message": "Excel file processed successfully",
        "session_id": session_id,
        "sheets_processed": ["Sales 2024", "Staff"],
        "total_sheets": 2,
        "datasets": ["Sales_2024", "Staff"],
    }
    assert rows_of(client, session_id, "Sales_2024")["rows"] == [["north", 10.0], ["south", 20.5]]
    staff = rows_of(client, session_id, "Staff")
    assert staff["headers"] == ["name", "age"]
    assert staff["rows"] == [["Ann", 31], ["Bob", 45]]


def test_upload_excel_selected_sheets(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(xlsx_bytes(TWO_SHEETS), "b.xlsx"), "name": "b", "selected_sheets": '["Staff"]'},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.json()["datasets"] == ["Staff"]


def test_upload_excel_unknown_sheets_is_400(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(xlsx_bytes(TWO_SHEETS), "b.xlsx"), "selected_sheets": '["Nope"]'},
        HTTP_X_SESSION_ID=session_id,
    )
    assert response.status_code == 400
    assert (
        response.json()["detail"] == "None of the selected sheets exist. Sheets in the file: Sales 2024, Empty, Staff."
    )


def test_legacy_xls_is_read(client, session_id):
    import xlwt

    workbook = xlwt.Workbook()
    sheet = workbook.add_sheet("Old")
    for r, row in enumerate([["item", "qty"], ["bolt", 3], ["nut", 7]]):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = client.post(
        "/upload_excel", {"file": csv_file(buffer.getvalue(), "old.xls")}, HTTP_X_SESSION_ID=session_id
    )
    assert response.status_code == 200
    assert rows_of(client, session_id, "Old")["rows"] == [["bolt", 3.0], ["nut", 7.0]]


def test_broken_xlsx_is_400(client, session_id):
    damaged = xlsx_bytes(TWO_SHEETS)[:300]
    before = datasets_of(session_id)
    response = client.post("/upload_excel", {"file": csv_file(damaged, "b.xlsx")}, HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "bad_excel"
    assert datasets_of(session_id) == before


def test_zip_bomb_is_400(client, session_id):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"0" * (50 * 1024 * 1024))
    response = client.post(
        "/upload_excel", {"file": csv_file(buffer.getvalue(), "b.xlsx")}, HTTP_X_SESSION_ID=session_id
    )
    assert response.status_code == 400
    assert response.json()["code"] == "zip_bomb"


def test_csv_sent_to_upload_excel_is_400(client, session_id):
    response = client.post("/upload_excel", {"file": csv_file("a\n1\n", "a.xlsx")}, HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400
    assert response.json()["code"] == "not_excel"
