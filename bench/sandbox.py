"""Sandbox benchmarks (issue: sandboxed code execution).

1. ``/code/execute`` of ``print(df.shape)`` on the default dataset and of a groupby plus a
   Plotly figure on a 1,000,000-row dataset: p50/p99 over 200 calls each, against the
   same code run with a bare in-process ``exec()`` on a DataFrame already in memory (the
   floor: no isolation, no loading, no HTTP). Target: p50 overhead under 30 ms for the
   small case.
2. Throughput with 8 concurrent clients (small case), and the p99 of another endpoint
   (``GET /api/datasets``) while 2 CPU-bound executions run. Target: p99 under 100 ms.
"""

from __future__ import annotations

import contextlib
import io
import json
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import plotly.express as px

from bench.datasets import make_csv, multipart, percentile, print_table
from bench.server import request, running_server
from sessions_app import default_dataset

SMALL = "print(df.shape)"
LARGE = "g = sales.groupby('region')['price'].mean().reset_index()\nfig = px.bar(g, x='region', y='price')\nprint(g)"
CPU_BOUND = "total = sum(i * i for i in range(25_000_000))\nprint(total)"


def floor_ms(code: str, namespace: dict, runs: int = 200) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        with contextlib.redirect_stdout(io.StringIO()):
            exec(code, dict(namespace))
        times.append((time.perf_counter() - started) * 1000)
    return times


def execute_ms(port: int, session_id: str, code: str, runs: int) -> list[float]:
    body = json.dumps({"code": code}).encode()
    headers = {"Content-Type": "application/json", "X-Session-ID": session_id}
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        status, answer = request(port, "POST", "/code/execute", body=body, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200 and answer["is_successful"], (status, answer)
    return times


def main(argv: list[str]) -> None:
    small_df = default_dataset.load_table().to_pandas()
    scratch = Path(tempfile.mkdtemp(prefix="analyst-bench-sandbox-"))
    csv_path = scratch / "sales.csv"
    make_csv(csv_path)
    large_df = pd.read_csv(csv_path)
    small_floor = floor_ms(SMALL, {"df": small_df})
    large_floor = floor_ms(LARGE, {"sales": large_df, "px": px}, runs=20)
    del large_df

    with running_server() as (port, _):
        _, created = request(port, "POST", "/generate-session")
        session_id = created["session_id"]
        request(port, "GET", "/api/health")  # the sandbox is up
        execute_ms(port, session_id, SMALL, 10)  # warm-up
        small = execute_ms(port, session_id, SMALL, 200)

        _, created = request(port, "POST", "/generate-session")
        large_session = created["session_id"]
        body, content_type = multipart(csv_path, {"name": "sales", "mode": "append"})
        request(
            port,
            "POST",
            "/upload_dataframe",
            body=body,
            headers={"Content-Type": content_type, "X-Session-ID": large_session},
        )
        large = execute_ms(port, large_session, LARGE, 200)

        started = time.perf_counter()
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda _: execute_ms(port, session_id, SMALL, 25), range(8)))
        throughput = 200 / (time.perf_counter() - started)

        stop = threading.Event()

        def cpu_load() -> None:
            while not stop.is_set():
                execute_ms(port, session_id, CPU_BOUND, 1)

        loaders = [threading.Thread(target=cpu_load) for _ in range(2)]
        for loader in loaders:
            loader.start()
        time.sleep(1.0)
        responsive = []
        for _ in range(200):
            begun = time.perf_counter()
            status, _ = request(port, "GET", "/api/datasets", headers={"X-Session-ID": session_id})
            responsive.append((time.perf_counter() - begun) * 1000)
            assert status == 200
            time.sleep(0.01)
        stop.set()
        for loader in loaders:
            loader.join()

    def row(label, ours, floor):
        return [
            label,
            percentile(ours, 50),
            percentile(ours, 99),
            statistics.median(floor),
            percentile(ours, 50) - statistics.median(floor),
        ]

    print_table(
        "/code/execute over HTTP, 200 calls each (ms)",
        ["case", "p50", "p99", "floor p50", "p50 overhead"],
        [
            row("print(df.shape), default dataset", small, small_floor),
            row("groupby + px.bar, 1,000,000 rows", large, large_floor),
        ],
        "floor: the same code with exec() in-process on a DataFrame already in memory; target: small-case "
        "overhead < 30 ms",
    )
    print_table(
        "Concurrency",
        ["measure", "value", "target"],
        [
            ["throughput, 8 concurrent clients, small case (executions/s)", throughput, ""],
            ["GET /api/datasets p50 while 2 CPU-bound executions run (ms)", percentile(responsive, 50), ""],
            ["GET /api/datasets p99 while 2 CPU-bound executions run (ms)", percentile(responsive, 99), "< 100"],
        ],
        "",
    )
