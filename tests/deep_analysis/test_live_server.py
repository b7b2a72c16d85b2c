"""Against a real daphne (file SQLite, agents in parallel, the in-process job pool):
a client that disconnects does not stop the run; a real WebSocket client replays what it
missed and follows to the end; killing the server mid-run leaves the report ``failed``
with a reason once a server is back, never ``running`` forever."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time

import pytest

from tests.deep_analysis import live_server as live
from tests.deep_analysis.conftest import HOUSING

pytestmark = [
    pytest.mark.skipif(not HOUSING.exists(), reason="tests/data/Housing.csv is missing"),
    # The server uses its own SQLite whatever the suite's database: nothing more to learn there.
    pytest.mark.skipif(bool(os.environ.get("ANALYST_SCALEOUT_INNER")), reason="covered by the main run"),
]

GOAL = "What drives house prices?"


@pytest.fixture
def data_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("deep-live"))


def _session_with_housing(port: int) -> str:
    status, body = live.request(port, "POST", "/generate-session")
    assert status == 200
    live.upload_csv(port, body["session_id"], HOUSING, "housing")
    return body["session_id"]


async def _follow(port: int, uuid: str, session_id: str, after: int) -> list[dict]:
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/deep_analysis/{uuid}/?session_id={session_id}&after={after}"
    events = []
    async with connect(url, origin=f"http://127.0.0.1:{port}", max_size=None, proxy=None) as socket:
        async for message in socket:
            events.append(json.loads(message))
    return events


def test_a_run_outlives_its_request_and_a_websocket_client_follows_it_to_the_end(data_dir):
    env = live.server_env(data_dir)
    live.migrate(env)
    port = live.free_port()
    server = live.start(env, port)
    try:
        session_id = _session_with_housing(port)
        connection, response = live.stream_open(port, session_id, GOAL)
        first = live.next_event(response)
        second = live.next_event(response)
        connection.close()  # the browser tab goes away
        assert (first["step"], first["sequence"], second["sequence"]) == ("initialization", 1, 2)
        uuid = first["report_uuid"]
        events = asyncio.run(asyncio.wait_for(_follow(port, uuid, session_id, after=2), 300))
        assert [e["sequence"] for e in events] == list(range(3, 3 + len(events)))
        final = events[-1]
        assert final["step"] == "completed" and final["status"] == "success", final
        assert len(final["analysis"]["synthesis"]) == 5 and len(final["analysis"]["plotly_figs"][0]) == 5
        status, report = live.request(
            port, "GET", f"/deep_analysis/reports/uuid/{uuid}", headers={"X-Session-ID": session_id}
        )
        assert status == 200
        assert (report["status"], report["progress_percentage"], report["last_sequence"]) == (
            "completed", 100, final["sequence"],
        )  # fmt: skip
        # A client that comes back later replays the whole run from the table.
        again = asyncio.run(asyncio.wait_for(_follow(port, uuid, session_id, after=0), 60))
        assert [e["sequence"] for e in again] == list(range(1, final["sequence"] + 1))

        # The frontend's calls after a run: download by its own id, find it, delete it.
        headers = {"X-Session-ID": session_id}
        client_id = f"report_{int(time.time() * 1000)}"
        status, html = live.request(port, "POST", f"/deep_analysis/download_from_db/{client_id}", headers=headers)
        assert status == 200 and html.startswith(b"<!DOCTYPE html>") and b"Plotly" in html
        status, listed = live.request(port, "GET", "/deep_analysis/reports", headers=headers)
        assert [r["report_uuid"] for r in listed] == [uuid]
        status, body = live.request(port, "DELETE", f"/deep_analysis/reports/{client_id}", headers=headers)
        assert (status, body) == (200, {"message": f"Report {client_id} deleted successfully"})
        assert live.request(port, "GET", f"/deep_analysis/reports/uuid/{uuid}", headers=headers)[0] == 404
    finally:
        live.stop(server)


def test_killing_the_server_mid_run_leaves_the_report_failed_with_a_reason(data_dir):
    env = live.server_env(data_dir)
    live.migrate(env)
    port = live.free_port()
    server = live.start(env, port)
    try:
        session_id = _session_with_housing(port)
        connection, response = live.stream_open(port, session_id, GOAL)
        uuid = live.next_event(response)["report_uuid"]
        while live.next_event(response).get("step") != "agent_execution":
            pass  # wait until the agents run
        connection.close()
    finally:
        live.stop(server, signal.SIGKILL)  # no chance to clean up
    server = live.start(env, port)
    try:
        started = time.monotonic()
        status, report = live.request(
            port, "GET", f"/deep_analysis/reports/uuid/{uuid}", headers={"X-Session-ID": session_id}
        )
        assert status == 200
        assert report["status"] == "failed"
        assert report["error_message"] == "The server process running this analysis stopped before it finished."
        assert time.monotonic() - started < 10
        events = asyncio.run(asyncio.wait_for(_follow(port, uuid, session_id, after=0), 60))
        assert events[-1]["type"] == "error" and events[-1]["error"] == report["error_message"]
    finally:
        live.stop(server)
