"""What agents are told about the session's data: the dataset context.

For every dataset of the session: its variable name, description, shape, and per column
the dtype, a coarse ``kind``, null and distinct counts, a few sample values and basic
statistics. It is computed once per dataset file (content-addressed, so once per dataset
version) and stored on :class:`~sessions_app.models.DatasetFile`; agents get it as JSON
text, which language models read well and the offline engine parses back.

Column kinds:
``numeric``      integers and floats (``time_like`` when it looks like a year)
``datetime``     dates and timestamps
``boolean``      true/false
``categorical``  text with few distinct values (groups)
``text``         text with many distinct values (names, ids, free text)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field

NUMERIC = "numeric"
DATETIME = "datetime"
BOOLEAN = "boolean"
CATEGORICAL = "categorical"
TEXT = "text"
KINDS = (NUMERIC, DATETIME, BOOLEAN, CATEGORICAL, TEXT)


@dataclass
class ColumnContext:
    name: str
    dtype: str
    kind: str
    nulls: int
    distinct: int | None = None
    samples: list = field(default_factory=list)
    time_like: bool = False
    min: float | str | None = None
    max: float | str | None = None
    mean: float | None = None
    std: float | None = None
    top_values: list[dict] = field(default_factory=list)


@dataclass
class DatasetContext:
    name: str
    description: str
    rows: int
    columns: list[ColumnContext]
    derived: bool = False

    def column(self, name: str) -> ColumnContext | None:
        return next((column for column in self.columns if column.name == name), None)

    def of_kind(self, *kinds: str) -> list[ColumnContext]:
        return [column for column in self.columns if column.kind in kinds]


def context_to_text(datasets: list[DatasetContext]) -> str:
    """The JSON text agents receive as their ``dataset`` input."""
    payload = []
    for dataset in datasets:
        item = asdict(dataset)
        item["variable"] = f"loaded as `{dataset.name}`"
        item["columns"] = [{k: v for k, v in column.items() if not _empty(v)} for column in item["columns"]]
        payload.append(item)
    return json.dumps({"datasets": payload}, ensure_ascii=False, default=str)


def _empty(value: object) -> bool:
    return value is None or value is False or (isinstance(value, list) and not value)


def context_from_text(text: str) -> list[DatasetContext]:
    """Parse :func:`context_to_text` output back (the offline engine's way in)."""
    data = json.loads(text)
    result = []
    for item in data.get("datasets", []):
        columns = [
            ColumnContext(**{k: v for k, v in c.items() if k in ColumnContext.__dataclass_fields__})
            for c in item.get("columns", [])
        ]
        result.append(
            DatasetContext(
                name=item["name"],
                description=item.get("description", ""),
                rows=int(item.get("rows", 0)),
                columns=columns,
                derived=bool(item.get("derived", False)),
            )
        )
    return result


# --- computing it from the data ----------------------------------------------------------

SAMPLE_VALUES = 5
TOP_VALUES = 8
CATEGORICAL_MAX_DISTINCT = 50


def _python(value: object) -> object:
    """A JSON-friendly stand-in for one Arrow scalar value."""
    import datetime as dt
    import math

    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    if isinstance(value, (dt.date, dt.datetime, dt.time)):
        return value.isoformat()
    if isinstance(value, (int, str, bool)) or value is None:
        return value
    return str(value)


def _looks_like_dates(name: str, samples: list) -> bool:
    """Text that holds dates: a date-like column name and samples that all parse."""
    import warnings

    import pandas as pd

    if not samples or not any(word in name.lower() for word in ("date", "time", "day", "month", "period")):
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(pd.Series([str(v) for v in samples]), errors="coerce", format="mixed")
    return bool(parsed.notna().all())


def _year_like(name: str, low: object, high: object, *, integer_type: bool) -> bool:
    """A column of years: a year-ish name and whole numbers between 1000 and 3000."""
    lowered = name.lower()
    if not ("year" in lowered or lowered in ("yr", "season")):
        return False
    if not isinstance(low, (int, float)) or not isinstance(high, (int, float)):
        return False  # no finite bounds (empty, or infinities)
    integral = integer_type or (float(low).is_integer() and float(high).is_integer())
    return integral and 1000 <= low <= high <= 3000


def _text_date_bounds(column) -> tuple[str | None, str | None]:
    """Earliest and latest date in a text column of dates, as ISO strings."""
    import warnings

    import pandas as pd

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parsed = pd.to_datetime(column.to_pandas(), errors="coerce", format="mixed").dropna()
    if parsed.empty:
        return None, None
    return parsed.min().isoformat(), parsed.max().isoformat()


def column_context(name: str, column) -> ColumnContext:
    """Statistics for one ``pyarrow.ChunkedArray``; what Arrow cannot compute is left out."""
    import contextlib

    import pyarrow as pa
    import pyarrow.compute as pc

    kind_type = column.type
    rows = len(column)
    valid = column.drop_null() if column.null_count else column
    distinct = None
    with contextlib.suppress(pa.ArrowException):
        distinct = pc.count_distinct(valid).as_py()
    samples: list = []
    with contextlib.suppress(pa.ArrowException, OverflowError, ValueError):
        samples = [_python(v) for v in pc.unique(valid.slice(0, 2000)).slice(0, SAMPLE_VALUES).to_pylist()]
    entry = ColumnContext(
        name=name, dtype=str(kind_type), kind=TEXT, nulls=column.null_count, distinct=distinct, samples=samples
    )
    if pa.types.is_boolean(kind_type):
        entry.kind = BOOLEAN
    elif pa.types.is_integer(kind_type) or pa.types.is_floating(kind_type) or pa.types.is_decimal(kind_type):
        entry.kind = NUMERIC
        with contextlib.suppress(pa.ArrowException, OverflowError, ValueError):
            bounds = pc.min_max(valid)
            entry.min, entry.max = _python(bounds["min"].as_py()), _python(bounds["max"].as_py())
            entry.mean = _python(pc.mean(valid).as_py())
            if len(valid) > 1:
                entry.std = _python(pc.stddev(valid, ddof=1).as_py())
        entry.time_like = _year_like(name, entry.min, entry.max, integer_type=pa.types.is_integer(kind_type))
    elif pa.types.is_temporal(kind_type):
        entry.kind = DATETIME
        with contextlib.suppress(pa.ArrowException, OverflowError, ValueError):
            bounds = pc.min_max(valid)
            entry.min, entry.max = _python(bounds["min"].as_py()), _python(bounds["max"].as_py())
    elif pa.types.is_string(kind_type) or pa.types.is_large_string(kind_type):
        few = distinct is not None and (distinct <= CATEGORICAL_MAX_DISTINCT or distinct <= 0.05 * max(rows, 1))
        entry.kind = CATEGORICAL if few and distinct is not None and distinct < rows else TEXT
        if _looks_like_dates(name, samples):
            entry.kind = DATETIME  # stored as text: code must convert it with pd.to_datetime
            entry.min, entry.max = _text_date_bounds(valid)
    if entry.kind in (CATEGORICAL, BOOLEAN, TEXT):
        with contextlib.suppress(pa.ArrowException):
            counts = pc.value_counts(valid).to_pylist()
            counts.sort(key=lambda item: (-item["counts"], str(item["values"])))
            entry.top_values = [{"value": _python(i["values"]), "count": i["counts"]} for i in counts[:TOP_VALUES]]
    return entry


def dataset_context_compute(*, name: str, description: str, table, derived: bool = False) -> DatasetContext:
    """The context of one dataset from its Arrow table."""
    return DatasetContext(
        name=name,
        description=description,
        rows=table.num_rows,
        columns=[column_context(column_name, table.column(column_name)) for column_name in table.column_names],
        derived=derived,
    )
