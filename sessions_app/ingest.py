"""Turn an uploaded file into an Arrow table, or say in one sentence why it cannot be.

Formats are recognised by content, not by the file name the client claims: Parquet by
its magic bytes, Excel by the ZIP (xlsx/ods) or OLE2 (legacy xls) signature, JSON by its
first character, everything else is treated as delimited text. Every refusal raises
:class:`DatasetFormatError` (a 400 with a message a person can act on).

A small file can decode to a huge table (dictionary-encoded Parquet, shared strings in
xlsx, compressed pages), so every reader keeps a running :class:`DecodedBudget`
(``MAX_DECODED_MB``) and refuses with :class:`DecodedTooLargeError` (413) *before* the
decoded table exists: Parquet is read batch by batch with string columns kept
dictionary-encoded and their expansion computed from the value lengths; CSV and NDJSON
are streamed block by block; JSON documents are streamed record by record; xlsx sheets
are measured from their XML (cell count, grid, shared-string lengths) before calamine
opens them.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import io
import json
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq
from charset_normalizer import from_bytes

from config.errors import ApplicationError

SAMPLE_BYTES = 1 << 20
SNIFF_CHARS = 64 * 1024
DELIMITERS = ",;\t|:"
# An xlsx is a ZIP: refuse archives that would inflate past this, or by more than this ratio.
MAX_UNZIPPED_BYTES = 2 * 1024 * 1024 * 1024
MAX_ZIP_RATIO = 200
MAX_COLUMNS = 10_000
# calamine allocates a sheet's whole grid: a lone far-away cell (XFD1048576) would ask for
# hundreds of GB and abort the process, so xlsx sheets are measured before opening.
MAX_SHEET_CELLS = 50_000_000

PARQUET_MAGIC = b"PAR1"
ZIP_MAGIC = b"PK\x03\x04"
OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


class DatasetFormatError(ApplicationError):
    code = "invalid_dataset"


class DecodedTooLargeError(DatasetFormatError):
    status_code = 413
    code = "decoded_too_large"


def max_decoded_bytes() -> int:
    from django.conf import settings

    return int(settings.MAX_DECODED_MB) * 1024 * 1024


class DecodedBudget:
    """A running total of the bytes a table will take once decoded; refuses past the limit.

    Callers add a part's size *before* they keep it, so the process never holds more than
    the limit plus one part (one Parquet batch, one CSV block, one chunk of JSON records).
    """

    def __init__(self, what: str, limit: int | None = None) -> None:
        self.what = what
        self.limit = max_decoded_bytes() if limit is None else limit
        self.used = 0

    def add(self, size: int) -> None:
        self.used += int(size)
        if self.used > self.limit:
            raise DecodedTooLargeError(
                f"The {self.what} decodes to more than {self.limit // (1024 * 1024)} MB in memory "
                "(MAX_DECODED_MB); split it or remove columns before uploading.",
            )


@dataclass(frozen=True)
class ParsedTable:
    name: str  # sheet name for Excel, else the file's own name
    table: pa.Table


def detect_format(path: Path) -> str:
    with open(path, "rb") as handle:
        head = handle.read(4096)
    if not head:
        raise DatasetFormatError("The file is empty.", code="empty_file")
    if head.startswith(PARQUET_MAGIC):
        return "parquet"
    if head.startswith(ZIP_MAGIC) or head.startswith(OLE2_MAGIC):
        return "excel"
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if stripped[:1] in (b"[", b"{"):
        return "json"
    return "csv"


# --- column names ----------------------------------------------------------------------


def unique_column_names(raw_names: list[object]) -> list[str]:
    """Strip names, name blank columns ``column_<n>``, suffix duplicates ``_2``, ``_3``…"""
    names: list[str] = []
    taken: set[str] = set()
    for index, raw in enumerate(raw_names):
        base = "" if raw is None else str(raw).strip()
        if not base or base.lower() == "nan":
            base = f"column_{index + 1}"
        name, counter = base, 2
        while name in taken:
            name = f"{base}_{counter}"
            counter += 1
        taken.add(name)
        names.append(name)
    return names


def _select_columns(names: list[str], wanted: list[str] | None) -> list[str] | None:
    if not wanted:
        return None
    wanted = [w.strip() for w in wanted if w and w.strip()]
    if not wanted:
        return None
    missing = [w for w in wanted if w not in names]
    if missing:
        raise DatasetFormatError(
            f"Columns not in the file: {', '.join(missing)}. Available: {', '.join(names)}.",
            code="unknown_columns",
        )
    return list(dict.fromkeys(wanted))


# --- delimited text --------------------------------------------------------------------


def _check_is_text(sample: bytes) -> None:
    if not sample.strip():
        raise DatasetFormatError("The file is empty.", code="empty_file")
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return
    window = sample[:8192]
    if b"\x00" in window:
        raise DatasetFormatError(
            "The file is binary, not text: upload CSV, Excel (.xlsx/.xls), JSON or Parquet.", code="not_text"
        )
    control = sum(1 for byte in window if byte < 9 or 13 < byte < 32)
    if control > len(window) * 0.05:
        raise DatasetFormatError(
            "The file is binary, not text: upload CSV, Excel (.xlsx/.xls), JSON or Parquet.", code="not_text"
        )


def detect_encoding(sample: bytes) -> str:
    """A Python codec name that decodes ``sample``; UTF-8 preferred when it fits."""
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    try:
        # final=False: a multi-byte character cut at the sample's end is not an error.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        pass
    best = from_bytes(sample[: 256 * 1024]).best()
    if best is not None and best.encoding:
        return best.encoding
    return "cp1252"


_HTML_START = re.compile(r"^\s*(<!doctype\s+html|<html|<head|<body|<\?xml)", re.IGNORECASE)


def _sniff_delimiter(text: str) -> str:
    lines = text[:SNIFF_CHARS].splitlines()[:50]
    probe = "\n".join(lines)
    try:
        return csv.Sniffer().sniff(probe, delimiters=DELIMITERS).delimiter
    except csv.Error:
        pass
    first = lines[0] if lines else ""
    counts = {delimiter: first.count(delimiter) for delimiter in DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def _decoded_sample(sample: bytes, encoding: str, *, complete: bool) -> str:
    text = sample.decode(encoding, errors="replace")
    if not complete and "\n" in text:
        text = text[: text.rindex("\n") + 1]
    return text.lstrip("\ufeff")


@dataclass
class _CsvLayout:
    encoding: str
    delimiter: str
    names: list[str]


def _csv_layout(sample: bytes, *, complete: bool) -> _CsvLayout:
    _check_is_text(sample)
    encoding = detect_encoding(sample)
    text = _decoded_sample(sample, encoding, complete=complete)
    if _HTML_START.match(text):
        raise DatasetFormatError(
            "This is an HTML (or XML) page, not a CSV. If you downloaded it, save the raw data instead.",
            code="html_not_csv",
        )
    delimiter = _sniff_delimiter(text)
    try:
        header = next(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except (StopIteration, csv.Error):
        raise DatasetFormatError("The CSV has no header row.", code="no_header") from None
    check_width(len(header))
    return _CsvLayout(encoding=encoding, delimiter=delimiter, names=unique_column_names(header))


_COLUMN_ERROR = re.compile(r"In CSV column #(\d+): .*?CSV conversion error to (\w+)")


def _read_csv_source(source, layout: _CsvLayout, include: list[str] | None) -> pa.Table:
    """Parse with pyarrow, widening any column whose type guess a later block contradicts."""
    column_types: dict[str, pa.DataType] = {}
    newlines_in_values = False
    encoding = layout.encoding
    bad_rows: list[str] = []

    def on_invalid_row(row) -> str:
        bad_rows.append(
            f"row {row.number if row.number is not None else '?'} has {row.actual_columns} fields "
            f"where the header has {row.expected_columns}"
        )
        return "error"

    for _ in range(len(layout.names) + 3):
        bad_rows.clear()
        if hasattr(source, "seek"):
            source.seek(0)
        read_options = pacsv.ReadOptions(
            encoding="utf8" if encoding.replace("-", "").lower() in ("utf8", "utf8sig") else encoding,
            column_names=layout.names,
            skip_rows=1,
            block_size=1 << 22,
        )
        parse_options = pacsv.ParseOptions(
            delimiter=layout.delimiter, newlines_in_values=newlines_in_values, invalid_row_handler=on_invalid_row
        )
        try:
            reader = pacsv.open_csv(
                source,
                read_options=read_options,
                parse_options=parse_options,
                convert_options=pacsv.ConvertOptions(include_columns=include, column_types=column_types),
            )
            budget = DecodedBudget("CSV")
            batches = []
            for batch in reader:
                budget.add(batch.nbytes)
                batches.append(batch)
            return pa.Table.from_batches(batches, schema=reader.schema)
        except pa.ArrowInvalid as error:
            message = str(error)
            if bad_rows and not newlines_in_values:
                # A quoted value spanning lines looks like a short row to the fast parser.
                newlines_in_values = True
                continue
            if bad_rows:
                # Parallel parsing does not know line numbers; a serial pass to the first
                # bad row does (error path only).
                read_options.use_threads = False
                bad_rows.clear()
                if hasattr(source, "seek"):
                    source.seek(0)
                with contextlib.suppress(pa.ArrowInvalid):
                    pacsv.read_csv(source, read_options=read_options, parse_options=parse_options)
                raise DatasetFormatError(
                    f"Ragged CSV: {bad_rows[0]}. Every row needs the same number of fields as the header.",
                    code="ragged_rows",
                ) from None
            if "invalid UTF8" in message and encoding.startswith("utf"):
                encoding = "cp1252"
                continue
            match = _COLUMN_ERROR.search(message)
            if match:
                name = layout.names[int(match.group(1))]
                was_int = match.group(2).startswith(("int", "uint"))
                column_types[name] = pa.float64() if was_int and name not in column_types else pa.string()
                continue
            raise DatasetFormatError(f"Could not parse the CSV: {message.splitlines()[0]}", code="bad_csv") from None
    raise DatasetFormatError("Could not settle the column types of this CSV.", code="bad_csv")


def read_csv(path: Path, *, columns: list[str] | None = None) -> pa.Table:
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    layout = _csv_layout(sample, complete=complete)
    include = _select_columns(layout.names, columns)
    table = _read_csv_source(str(path), layout, include)
    if table.num_rows == 0:
        raise DatasetFormatError("The CSV has a header but no data rows.", code="no_rows")
    return normalise_table(table)


def preview_csv(path: Path, *, max_rows: int = 10) -> pa.Table:
    """The first rows only, parsed from the first megabyte (the rest is never read)."""
    with _parser_failures_are_400s("CSV"):
        return _preview_csv(path, max_rows=max_rows)


def _preview_csv(path: Path, *, max_rows: int) -> pa.Table:
    with open(path, "rb") as handle:
        sample = handle.read(SAMPLE_BYTES)
    complete = len(sample) < SAMPLE_BYTES
    layout = _csv_layout(sample, complete=complete)
    text = _decoded_sample(sample, layout.encoding, complete=complete)
    # Parse only whole lines; keep a few spare lines in case the last ones are cut.
    lines = text.splitlines(keepends=True)[: max_rows * 20 + 1]
    layout.encoding = "utf-8"
    table = _read_csv_source(io.BytesIO("".join(lines).encode()), layout, None)
    return table.slice(0, max_rows)


# --- Excel -----------------------------------------------------------------------------


def _check_zip_is_safe(path: Path) -> None:
    with open(path, "rb") as handle:
        if not handle.read(4).startswith(ZIP_MAGIC):
            return
    try:
        with zipfile.ZipFile(path) as archive:
            infos = archive.infolist()
    except zipfile.BadZipFile:
        raise DatasetFormatError("The Excel file is damaged (not a valid .xlsx archive).", code="bad_excel") from None
    unzipped = sum(info.file_size for info in infos)
    zipped = max(sum(info.compress_size for info in infos), 1)
    if unzipped > MAX_UNZIPPED_BYTES or unzipped / zipped > MAX_ZIP_RATIO:
        raise DatasetFormatError(
            "The Excel file expands to an implausible size (a zip bomb?); refusing to open it.", code="zip_bomb"
        )


_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|(?<!/)>(.*?)</c>)", re.DOTALL)
_CELL_REF = re.compile(rb'\br="([A-Z]{1,3})([0-9]{1,7})"')
_CELL_TYPE = re.compile(rb'\bt="([a-zA-Z]+)"')
_CELL_VALUE = re.compile(rb"<v>\s*([0-9]{1,10})\s*</v>")
_SHARED_STRING = re.compile(rb"<si\b.*?</si>|<si\s*/>", re.DOTALL)
_XML_TAG = re.compile(rb"<[^>]*>")
# What one cell costs once read: calamine's grid slot (32 bytes, empty or not) and, for a
# non-empty cell, a Python object and its list slot; text adds its own length.
GRID_CELL_BYTES = 32
CELL_OBJECT_BYTES = 64
XML_CHUNK_BYTES = 1 << 20


def _column_number(letters: bytes) -> int:
    number = 0
    for letter in letters:
        number = number * 26 + (letter - 64)
    return number


def _xml_elements(stream, pattern: re.Pattern, openings: tuple[bytes, ...], max_pending: int):
    """Matches of ``pattern`` in a zip member read 1 MB at a time. Elements do not nest, so
    everything before the last opening tag in the buffer is whole; the rest waits."""
    pending = b""
    for chunk in iter(lambda: stream.read(XML_CHUNK_BYTES), b""):
        pending += chunk
        cut = max(pending.rfind(opening) for opening in openings)
        if cut <= 0:
            if len(pending) > max_pending:
                raise DecodedTooLargeError(
                    "One cell or string of the Excel file is too large to read (MAX_DECODED_MB)."
                )
            continue
        yield from pattern.finditer(pending, 0, cut)
        pending = pending[cut:]
    yield from pattern.finditer(pending)


def _shared_string_lengths(archive: zipfile.ZipFile, budget: DecodedBudget) -> list[int]:
    lengths: list[int] = []
    names = set(archive.namelist())
    if "xl/sharedStrings.xml" not in names:
        return lengths
    with archive.open("xl/sharedStrings.xml") as stream:
        for match in _xml_elements(stream, _SHARED_STRING, (b"<si>", b"<si ", b"<si/"), budget.limit):
            # The text without its tags (an upper bound: entities count as several bytes).
            length = len(match.group(0)) - sum(len(tag) for tag in _XML_TAG.findall(match.group(0)))
            lengths.append(length)
    return lengths


def _check_xlsx_decoded(path: Path) -> None:
    """Refuse a workbook whose sheets would decode past the budget or span too large a grid.

    Measured from the XML before calamine opens the file: each sheet's used range (calamine
    allocates its whole grid), its cells, and the text each one will hold, with a shared
    string counted once per cell that references it (a 1 MB string in 900 cells is 900 MB
    of Python strings, from a few KB of zip).
    """
    budget = DecodedBudget("Excel file")
    try:
        with zipfile.ZipFile(path) as archive:
            shared = _shared_string_lengths(archive, budget)
            sheets = [n for n in archive.namelist() if n.startswith("xl/worksheets/") and n.endswith(".xml")]
            for name in sheets:
                max_row = max_col = 0
                with archive.open(name) as stream:
                    for cell in _xml_elements(stream, _CELL, (b"<c ", b"<c>", b"<c/"), budget.limit):
                        attributes, content = cell.group(1), cell.group(2) or b""
                        reference = _CELL_REF.search(attributes)
                        if reference:
                            max_col = max(max_col, _column_number(reference.group(1)))
                            max_row = max(max_row, int(reference.group(2)))
                        if not content:
                            continue
                        kind = _CELL_TYPE.search(attributes)
                        size = CELL_OBJECT_BYTES
                        if kind and kind.group(1) == b"s":
                            value = _CELL_VALUE.search(content)
                            index = int(value.group(1)) if value else -1
                            size += shared[index] if 0 <= index < len(shared) else 0
                        elif kind and kind.group(1) in (b"inlineStr", b"str"):
                            size += len(content)
                        budget.add(size)
                if max_row * max_col > MAX_SHEET_CELLS:
                    raise DatasetFormatError(
                        f"A sheet spans {max_row} rows x {max_col} columns; at most {MAX_SHEET_CELLS:,} cells "
                        "are supported. Delete stray cells far from the data.",
                        code="sheet_too_large",
                    )
                budget.add(max_row * max_col * GRID_CELL_BYTES)
    except (zipfile.BadZipFile, OSError, RuntimeError, KeyError):
        return  # calamine reports the damage


def _open_workbook(path: Path):
    from python_calamine import CalamineWorkbook

    _check_zip_is_safe(path)
    if zipfile.is_zipfile(path):
        _check_xlsx_decoded(path)
    try:
        return CalamineWorkbook.from_path(str(path))
    except Exception as error:  # calamine raises its own error types for every damage
        raise DatasetFormatError(f"Could not read the Excel file: {error}", code="bad_excel") from None


def excel_sheet_names(path: Path) -> list[str]:
    return list(_open_workbook(path).sheet_names)


def _frame_from_rows(rows: list[list[object]]) -> pd.DataFrame | None:
    rows = [row for row in rows if any(cell not in (None, "") for cell in row)]
    if len(rows) < 2:
        return None
    width = max(len(row) for row in rows)
    header, body = rows[0], [list(row) + [None] * (width - len(row)) for row in rows[1:]]
    frame = pd.DataFrame(body, columns=unique_column_names(list(header) + [None] * (width - len(header))))
    frame = frame.replace("", None)
    frame = frame.dropna(axis=1, how="all").dropna(axis=0, how="all")
    if frame.empty:
        return None
    return frame.infer_objects()


def read_excel(path: Path, *, sheets: list[str] | None = None, first_only: bool = False) -> list[ParsedTable]:
    """The chosen sheets (all by default) that hold data; ``first_only`` stops at the first."""
    with _parser_failures_are_400s("Excel"):
        return _read_excel(path, sheets=sheets, first_only=first_only)


def _read_excel(path: Path, *, sheets: list[str] | None, first_only: bool) -> list[ParsedTable]:
    workbook = _open_workbook(path)
    names = list(workbook.sheet_names)
    chosen = [name for name in names if not sheets or name in sheets]
    if sheets and not chosen:
        raise DatasetFormatError(
            f"None of the selected sheets exist. Sheets in the file: {', '.join(names)}.", code="unknown_sheets"
        )
    parsed: list[ParsedTable] = []
    for name in chosen:
        try:
            rows = workbook.get_sheet_by_name(name).to_python(skip_empty_area=True)
        except Exception as error:
            raise DatasetFormatError(f"Could not read sheet {name!r}: {error}", code="bad_excel") from None
        frame = _frame_from_rows(rows)
        if frame is not None:
            parsed.append(ParsedTable(name=name.strip() or "sheet", table=table_from_pandas(frame)))
            if first_only:
                break
    if not parsed:
        raise DatasetFormatError("The workbook has no sheet with a header row and data.", code="no_rows")
    return parsed


# --- JSON and Parquet --------------------------------------------------------------------


# Python objects from json.load take up to this many bytes per byte of JSON text ("{}" is
# 2 bytes of text and a 64-byte dict): documents small enough are parsed whole, larger ones
# are streamed record by record.
JSON_OBJECT_FACTOR = 40
JSON_CHUNK_RECORDS = 5000


def read_json(path: Path) -> pa.Table:
    """Records (``[{...}]``), columns (``{"a": [...]}``), ``{"data": [...]}`` or NDJSON."""
    if path.stat().st_size * JSON_OBJECT_FACTOR > max_decoded_bytes():
        return _read_json_streamed(path)
    try:
        with open(path, "rb") as handle:
            document = json.load(handle)
    except UnicodeDecodeError:
        raise DatasetFormatError("JSON must be UTF-8 encoded.", code="bad_json") from None
    except json.JSONDecodeError as error:
        if error.msg == "Extra data":
            return _read_ndjson(path)
        raise DatasetFormatError(f"Invalid JSON at line {error.lineno}: {error.msg}.", code="bad_json") from None
    if isinstance(document, dict):
        lists = [value for value in document.values() if isinstance(value, list)]
        wrapped = len(document) == 1 and lists and lists[0] and all(isinstance(i, (dict, list)) for i in lists[0])
        if wrapped:
            document = lists[0]
        elif lists and len(lists) == len(document):
            lengths = {len(value) for value in lists}
            if len(lengths) != 1:
                raise DatasetFormatError("JSON columns have different lengths.", code="bad_json")
            return table_from_pandas(pd.DataFrame(document))
        else:
            document = [document]
    if not isinstance(document, list) or not document:
        raise DatasetFormatError("The JSON holds no rows.", code="no_rows")
    if all(isinstance(item, dict) for item in document):
        frame = pd.json_normalize(document)
    elif (
        all(isinstance(item, list) for item in document)
        and document[0]
        and all(isinstance(c, str) for c in document[0])
        and all(len(row) == len(document[0]) for row in document[1:])
    ):
        frame = pd.DataFrame(document[1:], columns=unique_column_names(document[0]))
    else:
        raise DatasetFormatError(
            "JSON rows must be objects (records) or arrays with a header array first.", code="bad_json"
        )
    if frame.empty:
        raise DatasetFormatError("The JSON holds no rows.", code="no_rows")
    return table_from_pandas(frame)


def _read_ndjson(path: Path) -> pa.Table:
    budget = DecodedBudget("JSON file")
    try:
        reader = pajson.open_json(str(path), read_options=pajson.ReadOptions(block_size=1 << 22))
        batches = []
        for batch in reader:
            budget.add(batch.nbytes)
            batches.append(batch)
        return normalise_table(pa.Table.from_batches(batches, schema=reader.schema))
    except pa.ArrowInvalid as error:
        raise DatasetFormatError(f"Invalid JSON lines: {str(error).splitlines()[0]}", code="bad_json") from None


class _JsonValues:
    """Top-level JSON values read one at a time from a file, never the whole document."""

    def __init__(self, handle, max_value_chars: int) -> None:
        self.handle = handle
        self.max_value_chars = max_value_chars
        self.decoder = json.JSONDecoder()
        self.text = ""
        self.pos = 0
        self.eof = False

    def _fill(self) -> None:
        chunk = self.handle.read(1 << 20)
        self.eof = not chunk
        self.text = self.text[self.pos :] + chunk
        self.pos = 0

    def peek(self) -> str:
        """The next non-blank character ('' at the end), without consuming it."""
        while True:
            while self.pos < len(self.text) and self.text[self.pos] in " \t\r\n":
                self.pos += 1
            if self.pos < len(self.text) or self.eof:
                return self.text[self.pos : self.pos + 1]
            self._fill()

    def take(self, char: str) -> None:
        if self.peek() != char:
            found = self.peek() or "the end of the file"
            raise DatasetFormatError(f"Invalid JSON: expected {char!r}, found {found!r}.", code="bad_json")
        self.pos += 1

    def value(self) -> object:
        self.peek()
        while True:
            try:
                value, end = self.decoder.raw_decode(self.text, self.pos)
            except json.JSONDecodeError as error:
                if self.eof:
                    raise DatasetFormatError(f"Invalid JSON: {error.msg}.", code="bad_json") from None
                value, end = None, -1
            if end != -1 and (end < len(self.text) or self.eof):
                self.pos = end
                return value
            # Cut at the buffer's end (a number may go on): read more, within the bound.
            if len(self.text) - self.pos > self.max_value_chars:
                raise DecodedTooLargeError(
                    "One JSON record is too large to read (MAX_DECODED_MB); split the file into smaller records.",
                )
            self._fill()


def _read_json_streamed(path: Path) -> pa.Table:
    """Large JSON: records (``[...]`` or ``{"key": [...]}``) in chunks, or NDJSON via Arrow."""
    budget = DecodedBudget("JSON file")
    with open(path, encoding="utf-8-sig") as handle:
        values = _JsonValues(handle, max_value_chars=max(budget.limit // JSON_OBJECT_FACTOR, 1 << 20))
        if values.peek() == "{":
            values.take("{")
            if values.peek() == "}":
                raise DatasetFormatError("The JSON holds no rows.", code="no_rows")
            values.value()  # the key
            values.take(":")
            if values.peek() != "[":
                return _read_ndjson(path)
            wrapped = True
        else:
            wrapped = False
        values.take("[")
        tables: list[pa.Table] = []
        header: list[str] | None = None
        chunk: list[object] = []

        def flush() -> None:
            nonlocal header
            if not chunk:
                return
            if all(isinstance(item, dict) for item in chunk):
                frame = pd.json_normalize(chunk)
            elif all(isinstance(item, list) for item in chunk):
                if header is None:
                    first = chunk.pop(0)
                    if not first or not all(isinstance(c, str) for c in first):
                        raise DatasetFormatError(
                            "JSON rows must be objects (records) or arrays with a header array first.", code="bad_json"
                        )
                    header = unique_column_names(first)
                if any(len(row) != len(header) for row in chunk):
                    raise DatasetFormatError("JSON rows have different lengths.", code="bad_json")
                frame = pd.DataFrame(chunk, columns=header)
            else:
                raise DatasetFormatError(
                    "JSON rows must be objects (records) or arrays with a header array first.", code="bad_json"
                )
            chunk.clear()
            if not frame.empty:
                table = table_from_pandas(frame)
                budget.add(table.nbytes)
                tables.append(table)

        if values.peek() != "]":
            while True:
                item = values.value()
                if wrapped and not isinstance(item, (dict, list)):
                    # {"column": [values...], ...}: columns cannot be streamed row by row.
                    raise DecodedTooLargeError(
                        "This JSON is too large to read as one document; send records (a list of objects) "
                        "or JSON lines."
                    )
                chunk.append(item)
                if len(chunk) >= JSON_CHUNK_RECORDS:
                    flush()
                if values.peek() == ",":
                    values.take(",")
                    continue
                values.take("]")
                break
        else:
            values.take("]")
        flush()
        if wrapped and values.peek() != "}":
            raise DecodedTooLargeError(
                "This JSON is too large to read as one document; send records (a list of objects) or JSON lines.",
            )
    if not tables:
        raise DatasetFormatError("The JSON holds no rows.", code="no_rows")
    return _concat_unified(tables)


def _concat_unified(tables: list[pa.Table]) -> pa.Table:
    """One table from chunks whose columns may have been typed differently: numbers that
    disagree become float64, anything else that disagrees becomes text."""
    kinds: dict[str, set[pa.DataType]] = {}
    for table in tables:
        for field in table.schema:
            if not pa.types.is_null(field.type):
                kinds.setdefault(field.name, set()).add(field.type)
    target: dict[str, pa.DataType] = {}
    for name, found in kinds.items():
        if len(found) > 1:
            numeric = all(pa.types.is_integer(k) or pa.types.is_floating(k) for k in found)
            target[name] = pa.float64() if numeric else pa.string()
    tables = [_cast_columns(table, target) for table in tables]
    return normalise_table(pa.concat_tables(tables, promote_options="permissive"))


def _cast_columns(table: pa.Table, target: dict[str, pa.DataType]) -> pa.Table:
    for name, kind in target.items():
        if name in table.column_names:
            table = table.set_column(table.column_names.index(name), name, table.column(name).cast(kind))
    return table


PARQUET_BATCH_ROWS = 4096


def _is_text(kind: pa.DataType) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind) or pa.types.is_binary(kind) or (
        pa.types.is_large_binary(kind)
    )


def decoded_nbytes(array: pa.Array) -> int:
    """Bytes ``array`` takes once dictionary columns are decoded and nested ones are text.

    A dictionary column's decoded size is the sum, over its rows, of the length of the value
    each index points at: one 1 MB value referenced by 500 rows is 500 MB, although the
    dictionary itself holds 1 MB.
    """
    kind = array.type
    if pa.types.is_dictionary(kind):
        values = array.dictionary
        if _is_text(values.type):
            lengths = pc.binary_length(values)
            total = pc.sum(pc.take(lengths, array.indices)).as_py() or 0
            return int(total) + 8 * len(array)
        per_value = values.nbytes / max(len(values), 1)
        return int(per_value * len(array)) + len(array)
    if pa.types.is_nested(kind):
        # Nested values become JSON text through Python objects: count them generously.
        return 4 * array.nbytes
    return array.nbytes


def read_parquet(source: Path | str | pa.NativeFile) -> pa.Table:
    """A Parquet file (a path or an in-memory buffer) as a flat table, within the budget."""
    budget = DecodedBudget("Parquet file")
    try:
        probe = pq.ParquetFile(source if not isinstance(source, Path) else str(source))
        meta = probe.metadata
        # What the writer declares uncompressed is a floor of the decoded size: refuse
        # from the footer alone when it already exceeds the budget.
        budget.add(sum(meta.row_group(index).total_byte_size for index in range(meta.num_row_groups)))
        budget.used = 0
        text_columns = [field.name for field in probe.schema_arrow if _is_text(field.type)]
        if isinstance(source, pa.NativeFile):
            source.seek(0)
        parquet = pq.ParquetFile(
            source if not isinstance(source, Path) else str(source), read_dictionary=text_columns or None
        )
        batches = []
        for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS, use_threads=False):
            budget.add(sum(decoded_nbytes(column) for column in batch.columns))
            batches.append(batch)
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow if not batches else batches[0].schema)
    except DatasetFormatError:
        raise
    except (pa.ArrowException, OSError) as error:
        raise DatasetFormatError(f"Could not read the Parquet file: {error}", code="bad_parquet") from None
    keep = [index for index, name in enumerate(table.column_names) if not name.startswith("__index_level_")]
    table = table.select(keep)
    if table.num_rows == 0:
        raise DatasetFormatError("The Parquet file has no rows.", code="no_rows")
    return normalise_table(table)


# --- shared ----------------------------------------------------------------------------


def table_from_pandas(frame: pd.DataFrame) -> pa.Table:
    """Arrow table from a frame; columns of mixed Python types become strings."""
    frame = frame.copy()
    frame.columns = unique_column_names(list(frame.columns))
    for column in frame.columns:
        try:
            pa.array(frame[column], from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
            frame[column] = frame[column].map(_cell_text)
    return normalise_table(pa.Table.from_pandas(frame, preserve_index=False))


def _cell_text(value: object) -> str | None:
    if isinstance(value, (list, dict)):
        return json.dumps(value, default=str)
    if value is None or (isinstance(value, float) and value != value):
        return None
    return str(value)


def normalise_table(table: pa.Table) -> pa.Table:
    """Unique stripped string column names, plain column types, no schema metadata.

    Dictionary columns are decoded, all-null columns become strings, and nested columns
    (lists, structs, maps) become JSON text, so every later reader (paging, profiles,
    pandas in the sandbox) meets only flat types.
    """
    names = unique_column_names(table.column_names)
    columns = []
    for column in table.columns:
        kind = column.type
        if pa.types.is_dictionary(kind):
            column = column.cast(kind.value_type)
            kind = column.type
        if pa.types.is_null(kind):
            column = column.cast(pa.string())
        elif pa.types.is_nested(kind):
            column = pa.chunked_array(
                [pa.array([_cell_text(v) for v in chunk.to_pylist()], pa.string()) for chunk in column.chunks],
                pa.string(),
            )
        columns.append(column)
    return pa.Table.from_arrays(columns, names=names)


def parse_upload(path: Path, *, display_name: str, columns: list[str] | None = None) -> tuple[str, list[ParsedTable]]:
    """Parse any supported file: returns its format and one table per sheet/file."""
    kind = detect_format(path)
    with _parser_failures_are_400s(kind):
        if kind == "parquet":
            tables = [ParsedTable(display_name, read_parquet(path))]
        elif kind == "excel":
            tables = read_excel(path, first_only=True)
        elif kind == "json":
            tables = [ParsedTable(display_name, read_json(path))]
        else:
            tables = [ParsedTable(display_name, read_csv(path, columns=columns))]
            columns = None
        if columns:
            tables = [
                ParsedTable(t.name, t.table.select(_select_columns(t.table.column_names, columns))) for t in tables
            ]
    for parsed in tables:
        check_width(parsed.table.num_columns)
    return kind, tables


def check_width(count: int) -> None:
    if count > MAX_COLUMNS:
        raise DatasetFormatError(
            f"The data has {count} columns; at most {MAX_COLUMNS} are supported.", code="too_many_columns"
        )


@contextlib.contextmanager
def _parser_failures_are_400s(kind: str):
    """Parsers meet hostile input; anything they raise that we did not foresee is still
    a problem with the file (a 400), never a 500."""
    try:
        yield
    except DatasetFormatError:
        raise
    except RecursionError:
        raise DatasetFormatError(f"The {kind} file is nested too deeply to read.", code="bad_file") from None
    except (ValueError, TypeError, OverflowError, KeyError, IndexError, pa.ArrowException) as error:
        detail = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
        raise DatasetFormatError(f"Could not read the {kind} file: {detail}", code="bad_file") from None
