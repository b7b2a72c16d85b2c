"""Fan-out of analytics events (issue 11): the time from a usage row's commit to its
``usage_update`` frame at each of N connected dashboard sockets.

N sockets (default 500) connect to ``/analytics/dashboard/realtime`` through the whole
ASGI stack (origin check, auth middleware, the consumer) with Channels' in-process
``WebsocketCommunicator``; the bench then writes usage rows one after another with the
real service (``model_usage_record``, from a worker thread, as a request would) and
records when each socket receives the frame. No TCP is involved: the numbers are the
channel layer and the consumers, not the network. ``--layer redis`` needs Redis on
127.0.0.1:6379 (skipped with a message otherwise).

``python -m bench.analytics_fanout [--sockets 500] [--events 50] [--layer memory|redis|both]``.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
from decimal import Decimal

from bench.datasets import percentile, print_table

ADMIN_KEY = "bench-admin-key"
REDIS_URL = "redis://127.0.0.1:6379/15"


def redis_available() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1) as probe:
            probe.sendall(b"PING\r\n")
            return probe.recv(16).startswith(b"+PONG")
    except OSError:
        return False


async def run(sockets: int, events: int) -> tuple[list[float], list[float], float]:
    from asgiref.sync import sync_to_async
    from channels.testing import WebsocketCommunicator

    from analytics.services import model_usage_record
    from config.asgi import application

    headers = [(b"origin", b"http://localhost"), (b"x-admin-api-key", ADMIN_KEY.encode())]
    communicators = [
        WebsocketCommunicator(application, "/analytics/dashboard/realtime", headers) for _ in range(sockets)
    ]
    started = time.perf_counter()
    for first in range(0, sockets, 50):
        results = await asyncio.gather(*(c.connect(timeout=30) for c in communicators[first : first + 50]))
        assert all(connected for connected, _ in results)
    connect_seconds = time.perf_counter() - started

    def write() -> None:
        model_usage_record(
            user=None,
            session_id="bench",
            purpose="agent",
            provider="openai",
            model_name="gpt-5-mini",
            prompt_tokens=600,
            completion_tokens=400,
            tokens_estimated=False,
            cost=Decimal("0.00095"),
            request_time_ms=5,
        )

    per_socket: list[float] = []
    last_socket: list[float] = []

    async def arrival(communicator, committed: float) -> float:
        while True:
            frame = await communicator.receive_json_from(timeout=30)
            if frame["type"] == "usage_update":
                arrived = time.perf_counter()
                await communicator.receive_json_from(timeout=30)  # its model_update
                return (arrived - committed) * 1000

    for _ in range(events):
        committed = time.perf_counter()
        await sync_to_async(write, thread_sensitive=False)()
        latencies = await asyncio.gather(*(arrival(c, committed) for c in communicators))
        per_socket.extend(latencies)
        last_socket.append(max(latencies))
    for communicator in communicators:
        await communicator.disconnect()
    return per_socket, last_socket, connect_seconds


def child(layer: str, sockets: int, events: int) -> None:
    os.environ["DATA_DIR"] = tempfile.mkdtemp(prefix="analyst-bench-fanout-")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["ADMIN_API_KEY"] = ADMIN_KEY
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)
    if layer == "redis":
        os.environ["REDIS_URL"] = REDIS_URL
    else:
        os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    per_socket, last_socket, connect_seconds = asyncio.run(run(sockets, events))
    print_table(
        f"Usage commit -> usage_update frame, {sockets} dashboard sockets, {events} events, {layer} layer",
        ["measure", "p50 ms", "p99 ms", "max ms"],
        [
            ["each socket's frame", percentile(per_socket, 50), percentile(per_socket, 99), max(per_socket)],
            ["last of the sockets", percentile(last_socket, 50), percentile(last_socket, 99), max(last_socket)],
        ],
        f"({sockets} sockets connected in {connect_seconds:.1f} s)",
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sockets", type=int, default=500)
    parser.add_argument("--events", type=int, default=50)
    parser.add_argument("--layer", choices=["memory", "redis", "both"], default="both")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.layer, args.sockets, args.events)
        return
    # Each layer in its own process: settings choose the layer at start-up.
    for layer in ["memory", "redis"] if args.layer == "both" else [args.layer]:
        if layer == "redis" and not redis_available():
            print("\nRedis layer: skipped, nothing answers on 127.0.0.1:6379")
            continue
        command = [sys.executable, "-m", "bench.analytics_fanout", "--child", "--layer", layer]
        subprocess.run([*command, "--sockets", str(args.sockets), "--events", str(args.events)], check=True)


if __name__ == "__main__":
    main()
