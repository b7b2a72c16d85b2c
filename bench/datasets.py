"""Dataset benchmarks (issue: foundation).

1. Upload of a 1,000,000-row, 10-column CSV (about 100 MB) through ``/upload_dataframe``
   on a real daphne server: wall time and the server's peak memory, against
   ``pyarrow.csv.read_csv`` of the same file (the floor: parsing alone, no HTTP, no
   Parquet, no hashing). Targets: time within 1.5x the baseline; peak memory growth
   under 3x the resulting table's in-memory size.
2. Paged rows (``limit=200`` at random offsets) and preview (first 10 rows) of that
   dataset: p50/p99 over 200 requests each.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv

from bench.server import memory_kb, request, reset_peak, running_server
from sessions_app import ingest

ROWS = 1_000_000


def make_csv(path: Path, rows: int = ROWS) -> None:
    rng = np.random.default_rng(42)
    categories = np.array(["north", "south", "east", "west", "centre"])
    start = np.datetime64("2020-01-01")
    columns = {
        "id": np.arange(rows),
        "price": np.round(rng.gamma(2.0, 50.0, rows), 2),
        "quantity": rng.integers(1, 100, rows),
        "region": categories[rng.integers(0, 5, rows)],
        "day": (start + rng.integers(0, 1500, rows).astype("timedelta64[D]")).astype(str),
        "discount": np.round(rng.random(rows), 4),
        "returned": np.where(rng.random(rows) < 0.1, "true", "false"),
        "score": np.round(rng.normal(0, 1, rows), 5),
        "email": np.char.add(np.char.add("customer", rng.integers(0, 200_000, rows).astype(str)), "@example.com"),
        "note": np.char.add("order item number ", rng.integers(0, 50_000, rows).astype(str)),
    }
    with open(path, "w") as handle:
        handle.write(",".join(columns) + "\n")
        chunk = 100_000
        for start_row in range(0, rows, chunk):
            parts = [np.asarray(values[start_row : start_row + chunk]).astype(str) for values in columns.values()]
            lines = parts[0]
            for part in parts[1:]:
                lines = np.char.add(np.char.add(lines, ","), part)
            handle.write("\n".join(lines.tolist()) + "\n")


def multipart(path: Path, fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = uuid.uuid4().hex
    head = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'.encode() for k, v in fields.items()
    )
    head += f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{path.name}"\r\n'.encode()
    head += b"Content-Type: text/csv\r\n\r\n"
    body = head + path.read_bytes() + f"\r\n--{boundary}--\r\n".encode()
    return body, f"multipart/form-data; boundary={boundary}"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def timed_gets(port: int, session_id: str, paths: list[str]) -> list[float]:
    headers = {"X-Session-ID": session_id}
    times = []
    for path in paths:
        started = time.perf_counter()
        status, _ = request(port, "GET", path, headers=headers)
        times.append((time.perf_counter() - started) * 1000)
        assert status == 200, status
    return times


def main(argv: list[str]) -> None:
    rows = int(os.environ.get("BENCH_ROWS", ROWS))
    scratch = Path(tempfile.mkdtemp(prefix="analyst-bench-data-"))
    csv_path = scratch / "sales.csv"
    make_csv(csv_path, rows)
    size_mb = csv_path.stat().st_size / 1e6

    baseline_runs = []
    for _ in range(3):
        started = time.perf_counter()
        table = pacsv.read_csv(csv_path)
        baseline_runs.append(time.perf_counter() - started)
    baseline = statistics.median(baseline_runs)
    table_mb = table.nbytes / 1e6
    del table
    parse_runs = []
    for _ in range(3):
        started = time.perf_counter()
        ingest.read_csv(csv_path)
        parse_runs.append(time.perf_counter() - started)
    parse_only = statistics.median(parse_runs)

    body, content_type = multipart(csv_path, {"name": "sales"})
    with running_server() as (port, pid):
        upload_runs, peaks, rss_before = [], [], []
        for _ in range(3):
            # A fresh session each time, so every run parses and stores (identical
            # content is deduplicated only after the Parquet is written and hashed).
            _, created = request(port, "POST", "/generate-session")
            session_id = created["session_id"]
            reset_peak(pid)
            before = memory_kb(pid)["VmRSS"]
            started = time.perf_counter()
            status, answer = request(
                port,
                "POST",
                "/upload_dataframe",
                body=body,
                headers={"Content-Type": content_type, "X-Session-ID": session_id},
            )
            upload_runs.append(time.perf_counter() - started)
            assert status == 200 and answer["rows"] == rows, (status, answer)
            peaks.append(memory_kb(pid)["VmHWM"])
            rss_before.append(before)
        upload = statistics.median(upload_runs)
        peak_growth_mb = max(p - b for p, b in zip(peaks, rss_before, strict=True)) / 1024
        peak_abs_mb = max(peaks) / 1024

        _, detail = request(port, "GET", "/api/datasets/sales", headers={"X-Session-ID": session_id})
        parquet_mb = detail["size_bytes"] / 1e6

        random.seed(7)
        row_paths = [f"/api/datasets/sales/rows?offset={random.randrange(rows - 200)}&limit=200" for _ in range(200)]
        rows_ms = timed_gets(port, session_id, row_paths)
        preview_ms = timed_gets(port, session_id, ["/api/datasets/sales/rows?limit=10"] * 200)
        floor_ms = timed_gets(port, session_id, ["/api/model-settings"] * 200)

    print_table(
        f"Dataset upload: {rows:,} rows x 10 columns, CSV {size_mb:.0f} MB, Arrow table {table_mb:.0f} MB, "
        f"Parquet file {parquet_mb:.0f} MB",
        ["measure", "ours", "baseline", "ratio", "target"],
        [
            ["upload over HTTP, wall s (median of 3)", upload, baseline, upload / baseline, "<= 1.5"],
            ["parse step alone, s (median of 3)", parse_only, baseline, parse_only / baseline, ""],
            ["server peak memory growth, MB", peak_growth_mb, table_mb, peak_growth_mb / table_mb, "< 3"],
            ["server peak RSS (absolute), MB", peak_abs_mb, "", "", ""],
        ],
        "baseline: pyarrow.csv.read_csv of the same local file in-process (time); the Arrow table's nbytes (memory)",
    )
    print_table(
        "Paged reads of that dataset over HTTP, 200 requests each (ms)",
        ["request", "p50", "p99"],
        [
            ["rows, limit=200 at random offsets", percentile(rows_ms, 50), percentile(rows_ms, 99)],
            ["preview, first 10 rows", percentile(preview_ms, 50), percentile(preview_ms, 99)],
            ["floor: /api/model-settings (same session, no data)", percentile(floor_ms, 50), percentile(floor_ms, 99)],
        ],
        "floor = the same authentication and session lookup with no dataset read",
    )


def print_table(title: str, headers: list[str], rows: list[list], note: str) -> None:
    def cell(value: object) -> str:
        return f"{value:.2f}" if isinstance(value, float) else str(value)

    cells = [[cell(value) for value in row] for row in rows]
    widths = [max(len(headers[i]), *(len(row[i]) for row in cells)) for i in range(len(headers))]
    print(f"\n{title}")
    print("| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in cells:
        print("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
    if note:
        print(note)
