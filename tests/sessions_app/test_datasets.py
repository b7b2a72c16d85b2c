"""Reading datasets: paged rows, column profile, previews, descriptions, default dataset."""

from __future__ import annotations

import pytest

from analytics.models import ModelUsage
from sessions_app.models import Dataset
from tests.conftest import csv_file

pytestmark = pytest.mark.django_db

SMALL = "city,temp,rainy,day\nOslo,3.5,yes,2024-01-01\nLima,20,no,2024-01-02\nOslo,,yes,2024-01-03\n"


@pytest.fixture
def small(client, session_id):
    client.post("/upload_dataframe", {"file": csv_file(SMALL), "name": "w"}, HTTP_X_SESSION_ID=session_id)
    return session_id


def test_default_dataset_preview(client, session_id):
    body = client.get("/api/default-dataset", HTTP_X_SESSION_ID=session_id).json()
    assert body["name"] == "Gapminder Dataset"
    assert body["headers"] == ["country", "continent", "year", "lifeExp", "pop", "gdpPercap", "iso_alpha", "iso_num"]
    assert len(body["rows"]) == 10
    assert body["rows"][0] == ["Afghanistan", "Asia", 1952, 28.801, 8425333, 779.4453145, "AFG", 4]
    assert body["description"].startswith(" exact_python_name: `df` Dataset: Gapminder")


def test_default_dataset_preview_after_an_upload_still_describes_the_default(client, small):
    body = client.get("/api/default-dataset", HTTP_X_SESSION_ID=small).json()
    assert body["name"] == "Gapminder Dataset"
    assert body["rows"][0][0] == "Afghanistan"


def test_rows_default_limit_and_paging(client, session_id):
    body = client.get("/api/datasets/df/rows", HTTP_X_SESSION_ID=session_id).json()
    assert (body["offset"], body["limit"], body["total_rows"], len(body["rows"])) == (0, 200, 1704, 200)
    page = client.get("/api/datasets/df/rows?offset=1700&limit=10", HTTP_X_SESSION_ID=session_id).json()
    assert [row[0] for row in page["rows"]] == ["Zimbabwe"] * 4
    assert [row[2] for row in page["rows"]] == [1992, 1997, 2002, 2007]


def test_rows_past_the_end_is_an_empty_page(client, session_id):
    body = client.get("/api/datasets/df/rows?offset=5000", HTTP_X_SESSION_ID=session_id).json()
    assert body["rows"] == []


@pytest.mark.parametrize("query", ["limit=1001", "limit=0", "offset=-1", "limit=abc"])
def test_rows_bad_paging_is_400(client, session_id, query):
    response = client.get(f"/api/datasets/df/rows?{query}", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 400


def test_nulls_and_dates_are_json_safe(client, small):
    body = client.get("/api/datasets/w/rows", HTTP_X_SESSION_ID=small).json()
    assert body["rows"] == [
        ["Oslo", 3.5, "yes", "2024-01-01"],
        ["Lima", 20.0, "no", "2024-01-02"],
        ["Oslo", None, "yes", "2024-01-03"],
    ]


def test_unknown_dataset_is_404(client, session_id):
    response = client.get("/api/datasets/nope/rows", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 404
    assert response.json() == {
        "detail": "No dataset named 'nope' in this session (datasets: df).",
        "code": "dataset_not_found",
    }


def test_profile_reports_exact_statistics(client, small):
    body = client.get("/api/datasets/w/profile", HTTP_X_SESSION_ID=small).json()
    assert body["name"] == "w"
    assert body["rows"] == 3
    city, temp, rainy, day = body["columns"]
    assert city == {
        "name": "city",
        "dtype": "string",
        "nulls": 0,
        "distinct": 2,
        "top_values": [{"value": "Oslo", "count": 2}, {"value": "Lima", "count": 1}],
    }
    assert temp["nulls"] == 1
    assert (temp["min"], temp["max"], temp["mean"]) == (3.5, 20.0, 11.75)
    assert temp["std"] == pytest.approx(11.667261889578034)
    assert rainy["top_values"] == [{"value": "yes", "count": 2}, {"value": "no", "count": 1}]
    assert (day["dtype"], day["min"], day["max"]) == ("date32[day]", "2024-01-01", "2024-01-03")


def test_profile_is_computed_once_and_stored(client, small):
    from sessions_app.models import DatasetFile

    client.get("/api/datasets/w/profile", HTTP_X_SESSION_ID=small)
    stored = DatasetFile.objects.get(datasets__name="w")
    assert stored.profile[0]["name"] == "city"


def test_dataset_detail_and_delete(client, small):
    detail = client.get("/api/datasets/w", HTTP_X_SESSION_ID=small).json()
    assert (detail["rows"], detail["columns"], detail["source"], detail["is_default"]) == (3, 4, "csv", False)
    assert len(detail["content_hash"]) == 64
    assert detail["description"] == (
        "Table `w` with 3 rows and 4 columns: city (string), temp (double), rainy (string), day (date32[day])."
    )
    assert client.delete("/api/datasets/w", HTTP_X_SESSION_ID=small).json() == {
        "message": "Dataset w removed from the session"
    }
    assert client.get("/api/datasets", HTTP_X_SESSION_ID=small).json() == {"datasets": []}


def test_preview_csv_upload_does_not_touch_the_session(client, session_id):
    response = client.post("/preview-csv-upload", {"file": csv_file(SMALL, "Weather Log.csv")})
    assert response.json() == {
        "headers": ["city", "temp", "rainy", "day"],
        "rows": [
            ["Oslo", 3.5, "yes", "2024-01-01"],
            ["Lima", 20.0, "no", "2024-01-02"],
            ["Oslo", None, "yes", "2024-01-03"],
        ],
        "name": "weather_log",
        "description": " exact_python_name: `weather_log` Dataset: Weather Log.csv",
    }
    info = client.get("/api/session-info", HTTP_X_SESSION_ID=session_id).json()
    assert info["is_custom_dataset"] is False


def test_preview_reads_only_ten_rows(client):
    text = "n\n" + "\n".join(str(i) for i in range(5000)) + "\n"
    body = client.post("/preview-csv-upload", {"file": csv_file(text)}).json()
    assert body["rows"] == [[i] for i in range(10)]


def test_preview_of_junk_is_400(client):
    response = client.post("/preview-csv-upload", {"file": csv_file(bytes(range(256)) * 10)})
    assert response.status_code == 400
    assert response.json()["code"] == "not_text"


def test_description_from_preview(client):
    """dataset_description_agent on the typed preview (here the offline engine's answer)."""
    body = {
        "headers": ["city", "temp", "day"],
        "rows": [["Oslo", "3.5", "2024-01-01"], ["Lima", 20, "2024-02-01"]],
        "name": "Weather 2024",
        "description": "Daily readings.",
    }
    response = client.post("/generate-description-from-preview", body, format="json")
    assert response.json() == {
        "description": " exact_python_name: `Weather_2024` Dataset: Described from a preview sample of the "
        "first 2 rows, not the whole file: counts, ranges and means below are the sample's.\n"
        "`Weather_2024`: 2 sample rows x 3 columns; each row is one day.\n"
        "Daily readings.\n"
        "Columns:\n"
        "- city (text): city; 2 distinct values, e.g. Oslo, Lima.\n"
        "- temp (number): temperature; 3.50 to 20, mean 11.75, 2 distinct values.\n"
        "- day (date): day; 2024-01-01 to 2024-02-01.\n"
        "Time span: day from 2024-01-01 to 2024-02-01.\n"
        "Missing values: none."
    }
    usage = ModelUsage.objects.get()
    assert (usage.purpose, usage.provider, usage.session_id) == ("description", "offline", "")


def test_an_uploaded_preview_description_states_the_real_shape(client, session_id):
    """The frontend stores the preview's description with the upload: its note is restated."""
    import csv
    from pathlib import Path

    path = Path(__file__).parent.parent / "data" / "Housing.csv"
    rows = list(csv.reader(path.open()))
    preview = client.post(
        "/generate-description-from-preview",
        {"headers": rows[0], "rows": rows[1:11], "name": "Housing", "existingDescription": "CSV data from Housing.csv"},
        format="json",
        HTTP_X_SESSION_ID=session_id,
    ).json()["description"]
    assert "Described from a preview sample of the first 10 rows, not the whole file" in preview
    assert "10 sample rows x 13 columns" in preview and "10 rows x" not in preview
    uploaded = client.post(
        "/upload_dataframe",
        {"file": csv_file(path.read_bytes(), "Housing.csv"), "name": "Housing", "description": preview},
        format="multipart",
        HTTP_X_SESSION_ID=session_id,
    )
    assert uploaded.status_code == 200
    stored = Dataset.objects.get(session_id=session_id, name=uploaded.json()["name"]).description
    assert (
        "Written from a preview of the first 10 rows; the dataset has 545 rows and 13 columns, so counts, "
        "ranges and means below are the sample's, not the dataset's."
    ) in stored
    assert "Described from a preview sample" not in stored


@pytest.mark.parametrize("body", [{"headers": ["a"]}, {"rows": [[1]]}, {"headers": [], "rows": [[1]]}])
def test_description_from_preview_needs_headers_and_rows(client, body):
    response = client.post("/generate-description-from-preview", body, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
