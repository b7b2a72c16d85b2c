"""The admin dashboard's tables, and their export as CSV, Excel and JSON.

Each table is a list of columns and a function of the period's window returning rows
(dicts), built from the same selectors as the HTTP API, so an export always matches what
the dashboard and ``/analytics/*`` show. Text cells that a spreadsheet would read as a
formula (model or agent names start with ``=``, ``+``, ``-``, ``@``) are prefixed with
``'`` in CSV and Excel.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from openpyxl import Workbook

from analytics import selectors as sel

Rows = list[dict[str, Any]]


@dataclass(frozen=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: Callable[[sel.Window], Rows]


def _tiers(window: sel.Window) -> Rows:
    return [
        {"tier": key, **{column: tier[column] for column in TABLES["tiers"].columns if column != "tier"}}
        for key, tier in sel.tiers_usage(window=window)["tier_data"].items()
    ]


TABLES: dict[str, Table] = {
    "daily_usage": Table(
        "Usage per day",
        ("date", "tokens", "cost", "requests"),
        lambda w: sel.usage_dashboard(window=w)["daily_usage"],
    ),
    "models": Table(
        "Usage per model",
        ("model_name", "tokens", "cost", "requests", "avg_response_time"),
        lambda w: sel.usage_by_model(window=w)["model_usage"],
    ),
    "top_users": Table(
        "Top users",
        ("user_id", "tokens", "cost", "requests"),
        lambda w: sel.usage_dashboard(window=w)["top_users"],
    ),
    "tiers": Table(
        "Credit tiers",
        (
            "tier",
            "name",
            "credits",
            "total_requests",
            "total_tokens",
            "total_cost",
            "total_credit_cost",
            "cost_per_credit",
            "cost_per_1k_tokens",
        ),
        _tiers,
    ),
    "user_activity": Table(
        "Active users per day",
        ("date", "activeUsers", "newUsers", "sessions"),
        lambda w: sel.users_activity(window=w)["user_activity"],
    ),
    "code_models": Table(
        "Code executions per model",
        ("model_name", "total_executions", "successful_executions", "success_rate", "user_count"),
        lambda w: sel.executions_summary(window=w)["model_performance"],
    ),
    "code_errors": Table(
        "Code errors by type",
        ("error_type", "count"),
        lambda w: sel.executions_error_analysis(window=w)["error_types"],
    ),
    "feedback_ratings": Table(
        "Ratings",
        ("rating", "count"),
        lambda w: sel.feedback_summary(window=w)["ratings_distribution"],
    ),
    "feedback_models": Table(
        "Ratings per model",
        ("model_name", "total_feedback", "avg_rating"),
        lambda w: sel.feedback_summary(window=w)["models_data"],
    ),
}

FORMATS = {
    "csv": "text/csv; charset=utf-8",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "json": "application/json",
}


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return "'" + value
    return value


def table_rows(*, name: str, window: sel.Window) -> tuple[Table, Rows]:
    """Precondition: ``name`` is a key of TABLES."""
    table = TABLES[name]
    return table, [{column: row.get(column) for column in table.columns} for row in table.rows(window)]


def table_export(*, name: str, window: sel.Window, fmt: str) -> bytes:
    """Precondition: ``name`` is in TABLES and ``fmt`` in FORMATS."""
    table, rows = table_rows(name=name, window=window)
    if fmt == "json":
        return json.dumps({"table": name, **window.as_dict(), "rows": rows}, indent=1).encode()
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(table.columns)
        for row in rows:
            writer.writerow([_cell(row[column]) for column in table.columns])
        return buffer.getvalue().encode()
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(name[:31])
    sheet.append(list(table.columns))
    for row in rows:
        sheet.append([_cell(row[column]) for column in table.columns])
    output = io.BytesIO()
    workbook.save(output)
    return output.getvalue()
