"""Small files that decode to huge tables are refused (413) before they are materialised.

The two attacks from issue 10 are rebuilt here byte for byte in spirit: a Parquet file of
a few KB whose dictionary-encoded strings decode to 500 MiB, and an xlsx padded below the
zip-ratio check whose shared string, referenced by 918 cells, would add ~918 MB. Both run
under the *default* MAX_DECODED_MB, and the process's peak resident memory (VmHWM, reset
through /proc/self/clear_refs) shows the decoded size was never allocated.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from codeexec.client import SavedDataset
from sessions_app.ingest import DecodedTooLargeError, read_parquet
from sessions_app.models import AnalysisSession
from sessions_app.services import datasets_save_from_sandbox
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db

MIB = 1024 * 1024


def upload(client, session_id, content: bytes, name: str):
    return client.post(
        "/upload_dataframe", {"file": csv_file(content, name), "name": "t"}, HTTP_X_SESSION_ID=session_id
    )


def dictionary_bomb_parquet(*, value_bytes: int = MIB, rows_per_group: int = 100, groups: int = 5) -> bytes:
    """One long string in the dictionary, referenced by every row of every row group."""
    column = pa.DictionaryArray.from_arrays(
        pa.array([0] * rows_per_group, pa.int32()), pa.array(["a" * value_bytes])
    )
    table = pa.table({"payload": column})
    buffer = io.BytesIO()
    with pq.ParquetWriter(buffer, table.schema, compression="zstd", use_dictionary=True) as writer:
        for _ in range(groups):
            writer.write_table(table)
    return buffer.getvalue()


def shared_string_bomb_xlsx(*, string_bytes: int = MIB, cells: int = 918, padding_bytes: int = 640 * 1024) -> bytes:
    """An xlsx whose one shared string is used by ``cells`` cells, padded with random bytes
    so the archive's inflation ratio stays under the zip-bomb check."""
    rows = "".join(f'<row r="{r}"><c r="A{r}" t="s"><v>1</v></c></row>' for r in range(2, cells + 2))
    sheet = (
        '<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.openxmlformats.org/'
        'spreadsheetml/2006/main"><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c></row>'
        f"{rows}</sheetData></worksheet>"
    )
    shared = (
        '<?xml version="1.0" encoding="UTF-8"?><sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        f'2006/main" count="{cells + 1}" uniqueCount="2"><si><t>text</t></si><si><t>{"b" * string_bytes}</t></si></sst>'
    )
    main = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
            'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override '
            'PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType='
            '"application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override '
            'PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sharedStrings+xml"/></Types>'
        ),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>'
        ),
        "xl/workbook.xml": (
            f'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="{main}" xmlns:r="{rel}"><sheets>'
            '<sheet name="Sheet1" sheetId="1" r:id="rId1"/></sheets></workbook>'
        ),
        "xl/_rels/workbook.xml.rels": (
            '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.openxmlformats.org/'
            f'package/2006/relationships"><Relationship Id="rId1" Type="{rel}/worksheet" '
            f'Target="worksheets/sheet1.xml"/><Relationship Id="rId2" Type="{rel}/sharedStrings" '
            'Target="sharedStrings.xml"/></Relationships>'
        ),
        "xl/worksheets/sheet1.xml": sheet,
        "xl/sharedStrings.xml": shared,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name, text in parts.items():
            archive.writestr(name, text)
        archive.writestr("xl/media/padding.bin", os.urandom(padding_bytes))
    return buffer.getvalue()


def _status_kb(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise LookupError(field)


@pytest.fixture
def peak_rss_growth():
    """Bytes the process's peak resident set grew by during the test body."""
    try:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    except OSError:
        pytest.skip("/proc/self/clear_refs is not writable here: peak RSS cannot be reset")
    baseline = _status_kb("VmRSS")
    return lambda: (_status_kb("VmHWM") - baseline) * 1024


def test_the_attack_files_are_what_the_issue_describes():
    parquet = dictionary_bomb_parquet()
    meta = pq.ParquetFile(io.BytesIO(parquet)).metadata
    assert len(parquet) < 4096
    assert (meta.num_row_groups, meta.num_rows) == (5, 500)  # 500 x 1 MiB = 500 MiB decoded
    xlsx = shared_string_bomb_xlsx()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as archive:
        infos = archive.infolist()
    ratio = sum(i.file_size for i in infos) / sum(i.compress_size for i in infos)
    assert len(xlsx) < 700 * 1024
    assert ratio < 200  # passes the zip-ratio check: only the decoded-size budget stops it


def test_dictionary_bomb_parquet_upload_is_413_without_decoding(client, session_id, peak_rss_growth):
    response = upload(client, session_id, dictionary_bomb_parquet(), "bomb.parquet")
    assert response.status_code == 413
    assert response.json() == {
        "detail": "The Parquet file decodes to more than 400 MB in memory (MAX_DECODED_MB); "
        "split it or remove columns before uploading.",
        "code": "decoded_too_large",
    }
    assert peak_rss_growth() < 150 * MIB
    assert list(AnalysisSession.objects.get(pk=session_id).datasets.values_list("name", flat=True)) == ["df"]


def test_shared_string_bomb_xlsx_upload_is_413_without_decoding(client, session_id, peak_rss_growth):
    response = upload(client, session_id, shared_string_bomb_xlsx(), "bomb.xlsx")
    assert response.status_code == 413
    assert response.json()["code"] == "decoded_too_large"
    assert response.json()["detail"].startswith("The Excel file decodes to more than 400 MB")
    assert peak_rss_growth() < 150 * MIB


def test_shared_string_bomb_xlsx_is_refused_on_the_sheet_path_too(client, session_id):
    response = client.post(
        "/upload_excel",
        {"file": csv_file(shared_string_bomb_xlsx(), "bomb.xlsx"), "selected_sheets": json.dumps(["Sheet1"])},
        HTTP_X_SESSION_ID=session_id,
    )
    assert (response.status_code, response.json()["code"]) == (413, "decoded_too_large")


def test_a_small_xlsx_with_shared_strings_still_reads(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    data = shared_string_bomb_xlsx(string_bytes=100, cells=20, padding_bytes=10)
    response = upload(client, session_id, data, "fine.xlsx")
    assert response.status_code == 200, response.json()
    assert (response.json()["rows"], response.json()["columns"]) == (20, 1)


def test_a_parquet_just_under_the_budget_reads_and_one_just_over_is_refused(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    small = dictionary_bomb_parquet(value_bytes=1000, rows_per_group=100, groups=5)  # ~0.5 MB decoded
    assert upload(client, session_id, small, "ok.parquet").json()["rows"] == 500
    big = dictionary_bomb_parquet(value_bytes=1000, rows_per_group=300, groups=5)  # ~1.5 MB decoded
    assert upload(client, session_id, big, "big.parquet").status_code == 413


def test_sandbox_saved_dataset_bomb_is_413_and_stores_nothing(session_id, peak_rss_growth):
    session = AnalysisSession.objects.get(pk=session_id)
    names_before = list(session.datasets.values_list("name", flat=True))
    saved = [SavedDataset(name="bomb", description="", data=dictionary_bomb_parquet())]
    with pytest.raises(DecodedTooLargeError) as caught:
        datasets_save_from_sandbox(session=session, saved=saved)
    assert caught.value.status_code == 413
    assert caught.value.message.startswith("The dataset 'bomb' saved by the code is too large to keep: ")
    assert peak_rss_growth() < 150 * MIB
    assert list(session.datasets.values_list("name", flat=True)) == names_before


def test_read_parquet_reads_an_in_memory_buffer_within_budget():
    table = pa.table({"x": [1, 2, 3], "s": ["a", "b", "a"]})
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    result = read_parquet(pa.BufferReader(buffer.getvalue()))
    assert result.to_pydict() == {"x": [1, 2, 3], "s": ["a", "b", "a"]}
    assert result.schema.field("s").type == pa.string()


def test_csv_past_the_budget_is_413(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    # 400 k empty cells: 800 KB of commas decode to 8 bytes each (3.2 MB), past 1 MB.
    content = "a,b,c,d\n" + "1,,,\n" * 200_000
    response = upload(client, session_id, content.encode(), "commas.csv")
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "The CSV decodes to more than 1 MB in memory (MAX_DECODED_MB); split it or remove columns before uploading."
    )


def test_json_records_are_streamed_past_the_whole_document_size(client, session_id, settings):
    settings.MAX_DECODED_MB = 1  # documents over ~26 KB are streamed record by record
    records = [{"id": i, "v": i if i < 6000 else f"x{i}", "n": {"k": i % 3}} for i in range(8000)]
    response = upload(client, session_id, json.dumps(records).encode(), "records.json")
    assert response.status_code == 200, response.json()
    assert (response.json()["rows"], response.json()["columns"]) == (8000, 3)
    rows = client.get("/api/datasets/t/rows?offset=5999&limit=2", HTTP_X_SESSION_ID=session_id).json()
    assert rows["headers"] == ["id", "v", "n.k"]
    assert rows["rows"] == [[5999, "5999", 2], [6000, "x6000", 0]]


def test_json_wrapped_records_stream_and_header_arrays_stream(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    wrapped = {"data": [{"a": i, "b": "y" * 10} for i in range(3000)]}
    response = upload(client, session_id, json.dumps(wrapped).encode(), "wrapped.json")
    assert (response.status_code, response.json()["rows"]) == (200, 3000)
    arrays = [["a", "b"]] + [[i, i * 0.5] for i in range(7000)]
    response = upload(client, session_id, json.dumps(arrays).encode(), "arrays.json")
    assert (response.status_code, response.json()["rows"], response.json()["columns"]) == (200, 7000, 2)


def test_large_json_past_the_budget_is_413(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    records = [{"s": "z" * 200} for _ in range(20_000)]  # ~4 MB of strings
    response = upload(client, session_id, json.dumps(records).encode(), "big.json")
    assert (response.status_code, response.json()["code"]) == (413, "decoded_too_large")


def test_large_column_oriented_json_is_refused_with_advice(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    document = {"a": list(range(20_000)), "b": list(range(20_000))}
    response = upload(client, session_id, json.dumps(document).encode(), "columns.json")
    assert response.status_code == 413
    assert response.json()["detail"] == (
        "This JSON is too large to read as one document; send records (a list of objects) or JSON lines."
    )


def test_ndjson_past_the_budget_is_413(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    lines = "".join(json.dumps({"s": "q" * 100, "i": i}) + "\n" for i in range(20_000))
    response = upload(client, session_id, lines.encode(), "lines.json")
    assert (response.status_code, response.json()["code"]) == (413, "decoded_too_large")


def test_ndjson_within_the_budget_reads(client, session_id, settings):
    settings.MAX_DECODED_MB = 1
    lines = "".join(json.dumps({"s": "q", "i": i}) + "\n" for i in range(3000))
    response = upload(client, session_id, lines.encode(), "lines.json")
    assert (response.status_code, response.json()["rows"], response.json()["columns"]) == (200, 3000, 2)
