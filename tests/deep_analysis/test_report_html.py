"""The standalone HTML report: sanitised Markdown, escaped code, inert figure data, no
CDN, a policy that admits only our scripts; and in headless Chromium, a hostile dataset
and goal render as text while the figures draw."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import plotly.express as px
import pytest

from deep_analysis.report_html import PLOTLY_JS_URL, figures_clean, markdown_safe, plotly_js, report_html_document
from tests.conftest import read_stream
from tests.deep_analysis.conftest import upload

HOSTILE_GOAL = "Prices <script>window.__pwned = 'goal'</script> <img src=x onerror=\"window.__pwned='goal-img'\">"
HOSTILE_NUMBER = "<img src=x onerror=window.__pwned='column'>"
HOSTILE_GROUP = "<script>document.title='pwned-column'</script>"
HOSTILE_VALUES = ["<script>window.__pwned='value'</script>", '"><svg onload=window.__pwned=1>', "plain"]


def test_markdown_keeps_formatting_and_drops_every_script_and_handler():
    assert markdown_safe("**Bold** and *em*\n\n- one\n- two") == (
        "<p><strong>Bold</strong> and <em>em</em></p>\n<ul>\n<li>one</li>\n<li>two</li>\n</ul>\n"
    )
    assert markdown_safe("<script>alert(1)</script>") == "<p>&lt;script&gt;alert(1)&lt;/script&gt;</p>\n"
    assert markdown_safe('<img src=x onerror="alert(1)">') == '<p>&lt;img src=x onerror="alert(1)"&gt;</p>\n'
    assert markdown_safe("[x](javascript:alert(1))") == "<p>[x](javascript:alert(1))</p>\n"
    assert markdown_safe("[x](https://example.org)") == (
        '<p><a href="https://example.org" rel="noopener noreferrer nofollow">x</a></p>\n'
    )


def test_figures_are_checked_and_embedded_as_inert_json():
    figure = px.bar(x=["</script><script>window.__pwned=1</script>"], y=[1]).to_json()
    cleaned = figures_clean([[figure, "not json", json.dumps({"no": "data"}), 7]])
    assert len(cleaned) == 1 and cleaned[0]["data"][0]["x"] == ["</script><script>window.__pwned=1</script>"]
    page = report_html_document(analysis={"goal": "g", "plotly_figs": [[figure]]}, standalone=False)
    assert "</script><script>window.__pwned" not in page
    assert "\\u003c/script\\u003e\\u003cscript\\u003ewindow.__pwned=1" in page


def test_the_page_loads_plotly_from_us_or_inline_never_from_a_cdn():
    linked = report_html_document(analysis={"goal": "g", "code": "print('<b>')"}, standalone=False)
    assert f'<script src="{PLOTLY_JS_URL}"></script>' in linked
    assert "cdn" not in linked.lower() and "https://" not in linked
    assert "print(&#x27;&lt;b&gt;&#x27;)" in linked  # code is escaped, inside a collapsible block
    assert "<details" in linked and "@media print" in linked
    standalone = report_html_document(analysis={"goal": "g"}, standalone=True)
    assert plotly_js()[:2000] in standalone and PLOTLY_JS_URL not in standalone
    assert "script-src 'self'" not in standalone.replace("&#x27;", "'")


def test_the_plotly_bundle_is_served_by_us(client):
    response = client.get(PLOTLY_JS_URL)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/javascript; charset=utf-8"
    assert response.content.decode() == plotly_js()


CHROMIUM, DRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")


@pytest.mark.skipif(not (CHROMIUM.exists() and DRIVER.exists()), reason="Debian's chromium and chromedriver needed")
@pytest.mark.skipif(bool(os.environ.get("ANALYST_SCALEOUT_INNER")), reason="the page does not depend on the database")
@pytest.mark.django_db(transaction=True)
def test_a_hostile_dataset_and_goal_render_inert_in_a_real_browser(client, session_id, tmp_path):
    from selenium import webdriver
    from selenium.common.exceptions import NoAlertPresentException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait

    rows = [f"{100 + 7 * i},{(i * 13) % 40 + 1},{HOSTILE_VALUES[i % 3]}" for i in range(60)]
    csv = "\n".join([f'price,"{HOSTILE_NUMBER}","{HOSTILE_GROUP}"', *rows]).encode()
    upload(client, session_id, csv, name="hostile")
    events = read_stream(
        client.post("/deep_analysis_streaming", {"goal": HOSTILE_GOAL}, format="json", HTTP_X_SESSION_ID=session_id)
    )
    final = events[-1]
    assert final["step"] == "completed", final
    analysis = final["analysis"]
    assert any(HOSTILE_VALUES[0] in text for text in analysis["synthesis"])  # the model text carries the payload
    figures = len(figures_clean(analysis["plotly_figs"]))
    assert figures >= 3
    response = client.post(f"/deep_analysis/download_from_db/{final['report_uuid']}", HTTP_X_SESSION_ID=session_id)
    assert response.status_code == 200
    page = tmp_path / "report.html"
    page.write_bytes(response.content)

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"):
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={tmp_path / 'profile'}")
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    try:
        driver.get(page.as_uri())
        WebDriverWait(driver, 60).until(
            lambda d: d.execute_script("return document.querySelectorAll('.figure .main-svg').length") >= figures
        )
        try:
            alert = driver.switch_to.alert
            raise AssertionError(f"an alert opened: {alert.text}")
        except NoAlertPresentException:
            pass
        assert driver.title == "Deep Analysis Report"
        assert driver.execute_script("return typeof window.__pwned") == "undefined"
        text = driver.execute_script("return document.body.innerText")
        assert "Prices <script>window.__pwned = 'goal'</script>" in text  # shown as text
        assert HOSTILE_VALUES[0] in text
        assert driver.execute_script("return document.querySelectorAll('main script, main img, main svg[onload]')"
                                     ".length") == figures  # fmt: skip
        logs = driver.get_log("browser") if hasattr(driver, "get_log") else []
        assert not [entry for entry in logs if "Refused to execute" in entry.get("message", "")], logs
    finally:
        driver.quit()
        shutil.rmtree(tmp_path / "profile", ignore_errors=True)
