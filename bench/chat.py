"""Chat benchmarks (issue: AI agents and streaming chat).

``POST /chat`` with the offline engine, so only our own overhead is measured: a 2-agent
plan (statistics, then a chart) on the default dataset. Time to the first line (the
planner's) and to the end of the stream, p50/p99 over 50 runs, against the floor of
the same question with no server at all: the offline analyst writing the two agents'
code and a bare in-process ``exec()`` of it on a DataFrame already in memory.

While the streams run, a second client times ``GET /api/model-settings`` to show the
event loop stays free.
"""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import threading
import time

from bench.datasets import percentile, print_table
from bench.server import request, running_server

QUESTION = "How does life expectancy relate to GDP per capita?"
RUNS = 50


def stream_once(port: int, session_id: str) -> tuple[float, float, list[str]]:
    """(ms to the first line, ms to the end, agents) of one streamed answer."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    body = json.dumps({"query": QUESTION}).encode()
    started = time.perf_counter()
    connection.request(
        "POST", "/chat", body=body, headers={"Content-Type": "application/json", "X-Session-ID": session_id}
    )
    response = connection.getresponse()
    first = None
    agents = []
    buffer = b""
    while chunk := response.read1(65536):
        if first is None:
            first = (time.perf_counter() - started) * 1000
        buffer += chunk
    total = (time.perf_counter() - started) * 1000
    connection.close()
    for line in buffer.decode().splitlines():
        if line.strip():
            agents.append(json.loads(line)["agent"])
    return first or total, total, agents


def floor_ms(runs: int = RUNS) -> list[float]:
    """The analyst's own work for the same question, in-process, no sandbox, no HTTP."""
    from sessions_app import default_dataset
    from sessions_app.agents.context import dataset_context_compute
    from sessions_app.agents.offline import analyst

    table = default_dataset.load_table()
    frame = table.to_pandas()
    contexts = [dataset_context_compute(name="df", description="", table=table)]
    agents = {
        "planner_statistical_analytics_agent": "Category: Data Modelling.",
        "planner_data_viz_agent": "Category: Data Visualization.",
    }
    import numpy as np
    import pandas as pd
    import plotly.express as px
    import plotly.graph_objects as go
    import scipy.stats as stats

    times = []
    for _ in range(runs):
        started = time.perf_counter()
        steps = analyst.plan(goal=QUESTION, datasets=contexts, agents=agents, complexity="intermediate")
        namespace = {"df": frame, "pd": pd, "np": np, "px": px, "go": go, "stats": stats}
        for step in steps:
            code, _ = analyst.write_code(agent=step.agent, goal=QUESTION, datasets=contexts, plan_instructions="")
            with contextlib.redirect_stdout(io.StringIO()):
                exec(code.replace("fig.show()", "fig.to_json()"), namespace)
        times.append((time.perf_counter() - started) * 1000)
    return times


def main(argv: list[str]) -> None:
    with running_server() as (port, _pid):
        _, created = request(port, "POST", "/generate-session")
        session_id = created["session_id"]
        stream_once(port, session_id)  # warm: first context computation, imports
        firsts, totals = [], []
        probe_times: list[float] = []
        stop = threading.Event()

        def probe() -> None:
            while not stop.is_set():
                started = time.perf_counter()
                request(port, "GET", "/api/model-settings", headers={"X-Session-ID": session_id})
                probe_times.append((time.perf_counter() - started) * 1000)
                time.sleep(0.02)

        prober = threading.Thread(target=probe)
        prober.start()
        for _ in range(RUNS):
            # A fresh session per run: no chat history, the same 2-agent plan every time.
            _, created = request(port, "POST", "/generate-session")
            first, total, agents = stream_once(port, created["session_id"])
            assert agents[1:3] == ["planner_statistical_analytics_agent", "planner_data_viz_agent"], agents
            firsts.append(first)
            totals.append(total)
        stop.set()
        prober.join()
    floor = floor_ms()
    print_table(
        f"POST /chat, 2-agent plan on the default dataset, offline engine ({RUNS} runs)",
        ["measure", "p50 ms", "p99 ms", "floor p50 ms"],
        [
            ["time to first line (planner)", percentile(firsts, 50), percentile(firsts, 99), ""],
            ["time to last line", percentile(totals, 50), percentile(totals, 99), percentile(floor, 50)],
            [
                f"GET /api/model-settings meanwhile ({len(probe_times)} calls)",
                percentile(probe_times, 50),
                percentile(probe_times, 99),
                "",
            ],
        ],
        "Floor: the offline analyst planning and writing both agents' code, then a bare exec() of it on the "
        "DataFrame in memory (no HTTP, no sandbox, no database, no summaries).",
    )
