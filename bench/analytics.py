"""Analytics route latency over many usage rows (issue 11).

Seeds a scratch SQLite database (the embedded default) with N usage rows (default
1,000,000: 50 users, 5,000 chats, every catalogue model, timestamps spread evenly over
the last 120 days), then times ``GET /analytics/dashboard?period=30d`` and
``GET /analytics/costs/daily?period=30d`` through the whole Django + DRF stack (in-process
test client: no socket), p50/p99 over ``--runs`` calls each, plus one call of every other
route. ``python -m bench.analytics [--rows N] [--runs R]``.
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from datetime import timedelta

from bench.datasets import percentile, print_table

ADMIN_KEY = "bench-admin-key"
SPREAD_DAYS = 120


def _setup(data_dir: str) -> None:
    os.environ["DATA_DIR"] = data_dir
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ["ADMIN_API_KEY"] = ADMIN_KEY
    os.environ["LOG_LEVEL"] = "WARNING"
    os.environ.pop("DATABASE_URL", None)
    os.environ.pop("REDIS_URL", None)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed(rows: int, batch: int = 20_000) -> float:
    from django.db import connection, transaction
    from django.utils import timezone

    from analytics.models import ModelUsage
    from chats.models import Chat, User
    from sessions_app.catalogue import MODELS

    User.objects.all().delete()
    users = User.objects.bulk_create(User(username=f"u{i}", email=f"u{i}@example.com") for i in range(50))
    chats = Chat.objects.bulk_create(Chat(user=users[i % 50], title=f"c{i}") for i in range(5000))
    models = [(entry.provider, entry.model, entry.input_per_1k, entry.output_per_1k) for entry in MODELS]
    rng = random.Random(11)
    now = timezone.now()
    step = timedelta(days=SPREAD_DAYS) / rows
    table = ModelUsage._meta.db_table
    columns = (
        "user_id, chat_id, message_id, session_id, purpose, agent_name, model_name, provider, prompt_tokens, "
        "completion_tokens, total_tokens, tokens_estimated, query_size, response_size, cost, is_streaming, "
        "request_time_ms, timestamp"
    )
    insert = f"INSERT INTO {table} ({columns}) VALUES ({', '.join(['%s'] * 18)})"
    adapt = connection.ops.adapt_datetimefield_value
    started = time.perf_counter()
    # Plain executemany in batches: building a million model instances would dominate the run.
    for first in range(0, rows, batch):
        values = []
        for index in range(first, min(rows, first + batch)):
            provider, model, price_in, price_out = models[index % len(models)]
            prompt, completion = rng.randint(200, 4000), rng.randint(0, 1500)
            chat = chats[index % 5000] if index % 10 else None
            cost = round(prompt / 1000 * price_in + completion / 1000 * price_out, 7)
            values.append(
                (
                    chat.user_id if chat else None,
                    chat.pk if chat else None,
                    None,
                    "bench",
                    "agent",
                    "",
                    model,
                    provider,
                    prompt,
                    completion,
                    prompt + completion,
                    False,
                    0,
                    0,
                    str(cost),
                    False,
                    rng.randint(100, 9000),
                    adapt(now - step * index),
                )
            )
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(insert, values)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return time.perf_counter() - started


def time_route(client, path: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        response = client.get(path, HTTP_X_ADMIN_API_KEY=ADMIN_KEY)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, (path, response.status_code)
    return times


OTHER_ROUTES = [
    "/analytics/usage/summary?period=90d",
    "/analytics/daily?days=30",
    "/analytics/users?limit=100",
    "/analytics/users/activity?period=30d",
    "/analytics/users/sessions/stats",
    "/analytics/usage/models?period=30d",
    "/analytics/models/history?period=30d",
    "/analytics/models/metrics",
    "/analytics/costs/summary?period=30d",
    "/analytics/costs/models?period=30d",
    "/analytics/costs/projections",
    "/analytics/costs/today",
    "/analytics/tiers/usage?period=30d",
    "/analytics/tiers/projections",
    "/analytics/tiers/efficiency?period=30d",
    "/analytics/public/ticker",
]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--data-dir", help="reuse (or create) this scratch DATA_DIR instead of a new one")
    args = parser.parse_args(argv)
    _setup(args.data_dir or tempfile.mkdtemp(prefix="analyst-bench-analytics-"))
    from analytics.models import ModelUsage

    if ModelUsage.objects.count() != args.rows:
        ModelUsage.objects.all().delete()
        seconds = seed(args.rows)
        print(f"seeded {args.rows:,} usage rows in {seconds:.1f} s ({args.rows * 30 // SPREAD_DAYS:,} per 30 days)")

    from django.test import Client

    client = Client()
    results = []
    for path in ("/analytics/dashboard?period=30d", "/analytics/costs/daily?period=30d"):
        time_route(client, path, 1)  # warm-up
        times = time_route(client, path, args.runs)
        results.append([path, args.runs, percentile(times, 50), percentile(times, 99), max(times)])
    print_table(
        f"Analytics routes over {args.rows:,} usage rows (SQLite, in-process client)",
        ["route", "calls", "p50 ms", "p99 ms", "max ms"],
        results,
        "",
    )
    once = [[path, time_route(client, path, 1)[0]] for path in OTHER_ROUTES]
    print_table("Other routes, one call each", ["route", "ms"], once, "")


if __name__ == "__main__":
    main()
