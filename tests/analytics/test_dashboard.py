"""The admin dashboard: staff only, its data document, exports, and plotly.js served by us."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.test import Client
from openpyxl import load_workbook

from analytics import exports
from chats.services import user_create
from tests.analytics.conftest import day, usage_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_browser(db) -> Client:
    user_create(username="root", email="root@example.com", password="pw-123456!", is_staff=True)
    browser = Client()
    assert browser.login(username="root", password="pw-123456!")
    return browser


@pytest.fixture
def superuser_browser(db) -> Client:
    from chats.models import User

    User.objects.create_superuser(username="boss", email="boss@example.com", password="pw-123456!")
    browser = Client()
    assert browser.login(username="boss", password="pw-123456!")
    return browser


@pytest.fixture
def usage(db):
    usage_row(model="gpt-5-mini", prompt=600, completion=400, cost="0.00095")
    usage_row(model="=HYPERLINK(1)", prompt=10, completion=0, cost="0.00001", days_ago=2)


def test_anonymous_is_sent_to_login_and_plain_user_refused(db):
    response = Client().get("/admin/analytics/dashboard/")
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")
    user_create(username="bob", email="bob@example.com", password="pw-123456!")
    plain = Client()
    assert plain.login(username="bob", password="pw-123456!")
    assert plain.get("/admin/analytics/dashboard/data/").status_code == 302
    assert plain.get("/admin/analytics/dashboard/export/models.csv").status_code == 302


def test_page_links_plotly_from_our_static_files(staff_browser):
    page = staff_browser.get("/admin/analytics/dashboard/?period=7d")
    assert page.status_code == 200
    html = page.content.decode()
    assert '<script src="/static/analytics/vendor/plotly.min.js"></script>' in html
    assert 'data-period="7d"' in html
    assert "cdn" not in html.lower()
    assert 'href="/admin/analytics/dashboard/export/models.xlsx?period=7d"' in html


def test_plotly_static_file_is_served(staff_browser):
    from django.contrib.staticfiles import finders

    found = finders.find("analytics/vendor/plotly.min.js")
    assert found.endswith("plotly/package_data/plotly.min.js")
    response = staff_browser.get("/static/analytics/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/javascript")
    with open(found, "rb") as handle:
        assert b"".join(response.streaming_content) == handle.read()


def test_data_document(staff_browser, usage):
    data = staff_browser.get("/admin/analytics/dashboard/data/?period=7d").json()
    assert data["kpis"]["total_requests"] == 2
    assert data["kpis"]["total_tokens"] == 1010
    assert data["kpis"]["total_cost"] == 0.00096
    assert data["tables"]["models"][0] == {
        "model_name": "gpt-5-mini",
        "tokens": 1000,
        "cost": 0.00095,
        "requests": 1,
        "avg_response_time": 0.0,
    }
    assert len(data["tables"]["daily_usage"]) == 8
    assert sorted(data["tables"]) == sorted(exports.TABLES)
    assert [row["tier"] for row in data["tables"]["tiers"]] == ["tier1", "tier2", "tier3", "tier4", "tier5"]


def test_export_csv_neutralises_formulas(staff_browser, usage):
    response = staff_browser.get("/admin/analytics/dashboard/export/models.csv?period=7d")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="analytics-models-7d.csv"'
    rows = list(csv.reader(io.StringIO(response.content.decode())))
    assert rows == [
        ["model_name", "tokens", "cost", "requests", "avg_response_time"],
        ["gpt-5-mini", "1000", "0.00095", "1", "0.0"],
        ["'=HYPERLINK(1)", "10", "1e-05", "1", "0.0"],
    ]


def test_export_xlsx(staff_browser, usage):
    response = staff_browser.get("/admin/analytics/dashboard/export/daily_usage.xlsx?period=7d")
    assert response.status_code == 200
    sheet = load_workbook(io.BytesIO(response.content)).active
    values = list(sheet.values)
    assert values[0] == ("date", "tokens", "cost", "requests")
    assert len(values) == 1 + 8
    assert values[-1] == (day(), 1000, 0.00095, 1)
    assert values[-3] == (day(2), 10, 0.00001, 1)


def test_export_json(staff_browser, usage):
    response = staff_browser.get("/admin/analytics/dashboard/export/top_users.json")
    body = json.loads(response.content)
    assert (body["table"], body["period"], body["rows"]) == ("top_users", "30d", [])


def test_unknown_export_is_404(staff_browser):
    assert staff_browser.get("/admin/analytics/dashboard/export/secrets.csv").status_code == 404
    assert staff_browser.get("/admin/analytics/dashboard/export/models.exe").status_code == 404


@pytest.mark.parametrize(
    "changelist",
    [
        "/admin/analytics/modelusage/?q=gpt&timestamp__year=2026",
        "/admin/codeexec/codeexecution/?q=print&is_successful__exact=0",
        "/admin/chats/messagefeedback/?rating__exact=5",
        "/admin/chats/chat/?q=x",
    ],
)
def test_operator_lists_search_and_filter(superuser_browser, usage, changelist):
    assert superuser_browser.get(changelist).status_code == 200


def test_usage_list_links_the_dashboard(superuser_browser):
    html = superuser_browser.get("/admin/analytics/modelusage/").content.decode()
    assert 'href="/admin/analytics/dashboard/"' in html
