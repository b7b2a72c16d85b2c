"""End to end against the README's server (daphne via ``config.serve``): a real WebSocket
client, and the admin dashboard in headless Chromium updating as another client chats.

Screenshots go to ``<tmp>/artefacts`` (or ``$ANALYTICS_ARTEFACTS_DIR``) and are kept.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
import websockets

from bench.server import ROOT, _free_port, request

ADMIN_KEY = "live-admin-key-0123456789"
PASSWORD = "live-pass-123456!"
CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")


@contextmanager
def analytics_server():
    data_dir = tempfile.mkdtemp(prefix="analyst-live-")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATA_DIR": data_dir,
        "LOG_LEVEL": "WARNING",
        "ADMIN_API_KEY": ADMIN_KEY,
        "DJANGO_SUPERUSER_USERNAME": "root",
        "DJANGO_SUPERUSER_EMAIL": "root@example.com",
        "DJANGO_SUPERUSER_PASSWORD": PASSWORD,
    }
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([*manage, "load_default_dataset"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    subprocess.run([*manage, "createsuperuser", "--noinput"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "config.serve", "-b", "127.0.0.1", "-p", str(port), "config.asgi:application"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if request(port, "GET", "/health")[0] == 200:
                    break
            except OSError:
                time.sleep(0.2)
        else:
            raise RuntimeError("server did not start")
        yield port
    finally:
        process.terminate()
        process.wait(timeout=15)
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def server_port():
    with analytics_server() as port:
        yield port


def chat_from_another_client(port: int) -> None:
    status, created = request(port, "POST", "/generate-session")
    assert status == 200
    body = json.dumps({"query": "Summarise the dataset"}).encode()
    headers = {"Content-Type": "application/json", "X-Session-ID": created["session_id"]}
    status, answer = request(port, "POST", "/chat/preprocessing_agent", body=body, headers=headers)
    assert status == 200, answer


def test_real_websocket_client_gets_usage_after_a_chat(server_port):
    origin = f"http://127.0.0.1:{server_port}"
    url = f"ws://127.0.0.1:{server_port}/analytics/dashboard/realtime"

    async def scenario() -> list[dict]:
        async with websockets.connect(url, origin=origin) as anonymous:
            refusal = json.loads(await anonymous.recv())
            assert refusal["code"] == "forbidden"
            with pytest.raises(websockets.ConnectionClosed) as closed:
                await anonymous.recv()
            assert closed.value.rcvd.code == 4403
        async with websockets.connect(url, origin=origin, additional_headers={"X-Admin-API-Key": ADMIN_KEY}) as feed:
            await asyncio.to_thread(chat_from_another_client, server_port)
            frames = []
            while not any(frame["type"] == "model_update" for frame in frames):
                frames.append(json.loads(await asyncio.wait_for(feed.recv(), timeout=30)))
            return frames

    frames = asyncio.run(scenario())
    usage = [frame for frame in frames if frame["type"] == "usage_update"]
    assert usage and usage[0]["metrics"]["requests_delta"] == 1
    assert usage[0]["metrics"]["tokens_delta"] > 0
    model = next(frame for frame in frames if frame["type"] == "model_update")
    assert model["model_name"] == "offline-analyst"
    # The HTTP API agrees with what the feed announced.
    status, today = request(server_port, "GET", "/analytics/costs/today", headers={"X-Admin-API-Key": ADMIN_KEY})
    assert status == 200 and today["requests"] >= len(usage)


@pytest.fixture
def artefacts(tmp_path) -> Path:
    directory = Path(os.environ.get("ANALYTICS_ARTEFACTS_DIR") or tmp_path / "artefacts")
    directory.mkdir(parents=True, exist_ok=True)
    return directory


@pytest.mark.skipif(
    not (CHROMIUM.exists() and CHROMEDRIVER.exists()), reason="needs /usr/bin/chromium and chromedriver"
)
def test_admin_dashboard_in_chromium_updates_without_reload(server_port, artefacts):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1400,2200"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    base = f"http://127.0.0.1:{server_port}"
    try:
        wait = WebDriverWait(driver, 60)
        driver.get(f"{base}/admin/login/?next=/admin/analytics/dashboard/")
        driver.find_element(By.NAME, "username").send_keys("root")
        driver.find_element(By.NAME, "password").send_keys(PASSWORD)
        driver.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#chart-daily .plotly svg.main-svg"))
        wait.until(lambda d: "on" in d.find_element(By.ID, "an-live").get_attribute("class"))
        assert len(driver.find_elements(By.CSS_SELECTOR, ".an-chart .plotly svg.main-svg")) >= 6
        root = driver.find_element(By.ID, "an-root")
        loads_before = int(root.get_attribute("data-loads"))
        requests_before = driver.find_element(By.CSS_SELECTOR, "[data-kpi=total_requests]").text
        page_id = driver.execute_script("return window.__pageMark = window.__pageMark || Math.random();")
        driver.save_screenshot(str(artefacts / "dashboard-before.png"))

        chat_from_another_client(server_port)

        wait.until(lambda d: int(d.find_element(By.ID, "an-root").get_attribute("data-events") or 0) > 0)
        wait.until(lambda d: int(d.find_element(By.ID, "an-root").get_attribute("data-loads")) > loads_before)
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "[data-kpi=total_requests]").text != requests_before)
        # Same page object: the dashboard changed without a reload.
        assert driver.execute_script("return window.__pageMark;") == page_id
        assert "usage_update" in driver.find_element(By.ID, "an-log").text
        driver.save_screenshot(str(artefacts / "dashboard-after.png"))
    finally:
        driver.quit()
    assert (artefacts / "dashboard-after.png").stat().st_size > 10_000
