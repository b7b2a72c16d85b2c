"""Reads for sessions and datasets. Every lookup of a session goes through
:func:`session_get_for_user`, which scopes it to the caller."""

from __future__ import annotations

import base64
import datetime as dt
import decimal
import math
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.core.files.storage import default_storage
from django.utils import timezone

from config.errors import NotFoundError
from sessions_app.models import AnalysisSession, Dataset, DatasetFile

SESSION_NOT_FOUND = "Unknown or expired session. Create one with POST /generate-session."


def session_idle_cutoff() -> dt.datetime:
    return timezone.now() - timedelta(hours=settings.ANALYSIS_SESSION_IDLE_HOURS)


def session_get_for_user(*, session_id: str, user) -> AnalysisSession:
    """The caller's session, else NotFoundError (unknown, expired, or someone else's).

    An unbound (anonymous) session is a bearer capability: whoever holds its
    unguessable id may use it. A bound session answers only to its user.
    """
    session = (
        AnalysisSession.objects.select_related("user")
        .filter(pk=session_id, last_accessed_at__gte=session_idle_cutoff())
        .first()
    )
    if session is None:
        raise NotFoundError(SESSION_NOT_FOUND, code="session_not_found")
    if session.user_id is not None and (not user.is_authenticated or user.pk != session.user_id):
        raise NotFoundError(SESSION_NOT_FOUND, code="session_not_found")
    return session


def session_datasets(*, session: AnalysisSession) -> list[Dataset]:
    return list(session.datasets.select_related("file").order_by("position", "id"))


def dataset_get_for_session(*, session: AnalysisSession, name: str) -> Dataset:
    dataset = session.datasets.select_related("file").filter(name=name).first()
    if dataset is None:
        names = ", ".join(d.name for d in session_datasets(session=session)) or "none"
        raise NotFoundError(f"No dataset named {name!r} in this session (datasets: {names}).", code="dataset_not_found")
    return dataset


def dataset_described(dataset: Dataset) -> str:
    """The reference's description format, naming the variable the code must use."""
    return f" exact_python_name: `{dataset.name}` Dataset: {dataset.description}"


# --- reading Parquet -------------------------------------------------------------------


@contextmanager
def parquet_open(dataset_file: DatasetFile) -> Iterator[pq.ParquetFile]:
    with default_storage.open(dataset_file.storage_name, "rb") as handle:
        yield pq.ParquetFile(handle)


def json_safe(value: object) -> object:
    """A JSON-serialisable stand-in for one Arrow/Python cell value."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, (dt.datetime, dt.date, dt.time)):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal):
        return float(value) if value.is_finite() else None
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(key): json_safe(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(item) for item in value]
    return str(value)


def _column_values(column: pa.ChunkedArray) -> list[object]:
    try:
        return column.to_pylist()
    except (OverflowError, ValueError, pa.ArrowException):
        # Dates and times outside Python's range: Arrow can still print them.
        try:
            return column.cast(pa.string()).to_pylist()
        except pa.ArrowException:
            return [None] * len(column)


def table_rows(table: pa.Table) -> list[list[object]]:
    columns = [_column_values(column) for column in table.columns]
    return [[json_safe(value) for value in row] for row in zip(*columns, strict=True)]


def dataset_rows(*, dataset_file: DatasetFile, offset: int, limit: int) -> pa.Table:
    """Rows [offset, offset+limit), reading only the row groups that hold them."""
    with parquet_open(dataset_file) as parquet:
        metadata = parquet.metadata
        groups: list[int] = []
        start_of_first = 0
        cursor = 0
        for index in range(metadata.num_row_groups):
            count = metadata.row_group(index).num_rows
            if cursor + count > offset and cursor < offset + limit:
                if not groups:
                    start_of_first = cursor
                groups.append(index)
            cursor += count
        if not groups:
            return parquet.schema_arrow.empty_table()
        table = parquet.read_row_groups(groups)
    return table.slice(offset - start_of_first, limit)
