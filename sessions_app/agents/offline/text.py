"""The offline analyst's prose: answer summaries, general answers, dataset descriptions, titles.

Summaries never invent numbers: they quote the lines the code printed after
``Key findings:`` (see :mod:`.codegen`), led by the code's title (its leading string literal).
"""

from __future__ import annotations

import ast
import re

from sessions_app.agents.context import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, ColumnContext, DatasetContext
from sessions_app.agents.offline import columns as cols
from sessions_app.agents.offline import intents as it

MAX_FINDINGS = 14
_ERROR_LINE = re.compile(
    r"^(?:Error(?: in \w+)?: )?([A-Z]\w*(?:Error|Exception|Warning)|KeyboardInterrupt|SystemExit)\b:? ?(.*)$"
)


def _split_response(agent_response: str) -> tuple[str, str]:
    """(code, output) of "<code>\\nOutput:\\n<stdout>"."""
    match = list(re.finditer(r"(?m)^Output:[ \t]*$", agent_response or ""))
    if not match:
        return agent_response or "", ""
    last = match[-1]
    return agent_response[: last.start()], agent_response[last.end() :]


def _title(code: str) -> str:
    """The code's title: its leading string literal (how :mod:`.codegen` writes it), or its
    first comment (how people and language models often do)."""
    for line in code.split("\n"):
        stripped = line.strip()
        if not stripped:
            continue
        if stripped.startswith("#") and not re.match(r"#\s*\w+_agent code (start|end)", stripped):
            return stripped.lstrip("#").strip()
        if not stripped.startswith("#"):
            return _string_statement(stripped)
    return ""


def _string_statement(line: str) -> str:
    """The value of a line that is a lone string literal ("" for any other line)."""
    try:
        tree = ast.parse(line)
    except (SyntaxError, ValueError):
        return ""
    if len(tree.body) != 1 or not isinstance(tree.body[0], ast.Expr):
        return ""
    value = tree.body[0].value
    return value.value.strip() if isinstance(value, ast.Constant) and isinstance(value.value, str) else ""


def _findings(output: str) -> list[str]:
    found: list[str] = []
    active = False
    for line in output.splitlines():
        stripped = line.strip()
        if stripped == "Key findings:":
            active = True
            continue
        if active:
            if stripped.startswith("- "):
                found.append(stripped[2:].strip())
            elif stripped.startswith(("===", "<TABLE_START>")) or (stripped and not stripped.startswith("-")):
                active = stripped.startswith("-")
    return list(dict.fromkeys(found))


def _error(output: str) -> str:
    lines = [line.strip() for line in output.splitlines()]
    for index, line in enumerate(lines):
        if line.startswith("=== ERROR IN"):
            following = next((item for item in lines[index + 1 :] if item), "")
            return re.sub(r"^Error(?: in \w+)?: ", "", following)
    if any(line.startswith("Traceback") for line in lines):
        errors = [line for line in lines if _ERROR_LINE.match(line)]
        return errors[-1] if errors else "the code raised an error"
    for line in lines:
        match = _ERROR_LINE.match(line)
        if match and match.group(1).endswith(("Error", "Exception")):
            return f"{match.group(1)}: {match.group(2)}" if match.group(2) else match.group(1)
    return ""


def _rows_note(output: str) -> str:
    match = re.search(r"^Rows after filtering \((.*)\): ([\d,]+)$", output, re.MULTILINE)
    return f" Based on {match.group(2)} rows ({match.group(1)})." if match else ""


def _lead(query: str, title: str) -> str:
    if title:
        return title.rstrip(".")
    analysis_words = it.own_intents(query)
    if analysis_words:
        return "Answer about the " + it.INTENT_TITLES.get(analysis_words[0], "data")
    return "Result"


def summarize(*, query: str, agent_response: str) -> str:
    code, output = _split_response(agent_response)
    title = _title(code)
    lead = _lead(query, title)
    findings = _findings(output)
    error = _error(output)
    if error:
        text = f"{lead}: the code failed with {error.rstrip('.')}."
        if findings:
            text += " Before it failed it found:\n" + _numbered(findings)
        else:
            text += " No results were computed; the code needs fixing before it can answer the question."
        return text
    if findings:
        return f"{lead}.{_rows_note(output)}\n" + _numbered(findings[:MAX_FINDINGS])
    plain = [
        line.strip()
        for line in output.splitlines()
        if line.strip() and not line.startswith(("<TABLE", "===")) and "|" not in line
    ]
    if plain:
        return f"{lead}. The code printed:\n" + _numbered(plain[:8])
    if output.strip():
        return f"{lead}. The result is the table shown above."
    return f"{lead}. The code ran without printing results."


def _numbered(lines: list[str]) -> str:
    return "\n".join(f"({index}) {line}" for index, line in enumerate(lines, start=1))


# --- general answers ---------------------------------------------------------------------


def example_questions(dataset: DatasetContext) -> list[tuple[str, str]]:
    """(what, example question) for the analyses this dataset supports, with its real columns."""
    measures = [c.name for c in cols.measures(dataset)]
    groups = [
        c.name for c in dataset.columns if c.kind in (CATEGORICAL, BOOLEAN) and not cols.is_identifier(c, dataset.rows)
    ]
    times = [c.name for c in cols.time_columns(dataset)]
    examples = [
        ("Summary statistics", f"Give me an overview of {dataset.name}"),
        ("Missing values and cleaning", "Clean the data: fill missing values and drop duplicates"),
    ]
    if measures:
        examples.append(("Distribution of a column", f"What is the distribution of {measures[0]}?"))
    if len(measures) >= 2:
        examples.append(
            ("Relationship between two columns", f"What is the relationship between {measures[1]} and {measures[0]}?")
        )
        examples.append(("Correlation matrix", "Show the correlation matrix of the numeric columns"))
    if measures and groups:
        examples.append(("Comparison across groups", f"Compare the average {measures[0]} across {groups[0]}"))
    if measures and times:
        examples.append(("Trend over time", f"How has {measures[0]} changed over time?"))
    if len(measures) >= 2:
        others = measures[1:3] + groups[:1]
        examples.append(("Regression", f"Regress {measures[0]} on {_and(others)}"))
    if groups and measures:
        examples.append(("Classifier with a held-out score", f"Predict {groups[0]} from {', '.join(measures[:3])}"))
    elif measures:
        examples.append(("Regressor with a held-out score", f"Train a model to predict {measures[0]}"))
    if len(measures) >= 2:
        examples.append(("Clustering", f"Cluster the rows into 3 groups using {measures[0]} and {measures[1]}"))
    return examples


def _and(names: list[str]) -> str:
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]


def _filter_example(dataset: DatasetContext) -> str:
    parts = []
    time = next(iter(cols.time_columns(dataset)), None)
    if time is not None and time.max is not None:
        parts.append(f'"in {str(time.max)[:4]}"')
    values = [
        value
        for column in dataset.columns
        if column.kind == CATEGORICAL
        for value in cols.known_values(column)
        if str(value).lower() not in cols.IGNORED_VALUES
    ]
    if values:
        parts.append(f'"for {values[0]}"')
    measure = next(iter(cols.measures(dataset)), None)
    if measure is not None and measure.mean is not None:
        parts.append(f'"where {measure.name} > {_round(measure.mean)}"')
    return ", ".join(parts)


def _round(value: float) -> str:
    if abs(value) >= 100:
        return f"{round(value, -len(str(int(abs(value)))) + 2):.0f}"
    return f"{value:.3g}"


def answer_general(*, query: str, datasets: list[DatasetContext], reason: str = "") -> str:
    if reason:
        lead = (
            f"I can't do {reason}: I'm the offline analyst, which works without a language model and runs only "
            "the analyses listed below."
        )
    elif re.match(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))\b", query.lower()):
        lead = "Hello! I'm the offline analyst: I answer questions about your data without a language model."
    else:
        lead = (
            "That question is not one I can answer: I'm the offline analyst, which works without a language "
            "model, so I only answer questions about the loaded data that fit the analyses below."
        )
    if not datasets:
        return lead + " Upload a dataset (CSV, Excel, JSON or Parquet) to start."
    dataset = datasets[0]
    names = ", ".join(c.name for c in dataset.columns[:12])
    more = f" and {len(dataset.columns) - 12} more" if len(dataset.columns) > 12 else ""
    lines = [
        lead,
        "",
        f"With `{dataset.name}` ({dataset.rows:,} rows; columns {names}{more}) you can ask for:",
    ]
    lines += [f'- {what}: "{example}"' for what, example in example_questions(dataset)]
    example = _filter_example(dataset)
    if example:
        lines.append(
            f"Add a filter to any of them, e.g. {example}; "
            'follow up with "now only for ..." or "as a bar chart instead".'
        )
    if len(datasets) > 1:
        lines.append(
            "Other datasets: " + ", ".join(f"`{d.name}`" for d in datasets[1:]) + " (name one in the question)."
        )
    return "\n".join(lines)


# --- dataset descriptions ----------------------------------------------------------------

_MEANINGS = {
    "price": "price (an amount of money)",
    "cost": "cost (an amount of money)",
    "area": "area or floor size",
    "bedroom": "number of bedrooms",
    "bathroom": "number of bathrooms",
    "stories": "number of storeys",
    "story": "number of storeys",
    "parking": "number of parking spaces",
    "furnishingstatus": "furnishing status",
    "mainroad": "whether it is on a main road",
    "guestroom": "whether it has a guest room",
    "basement": "whether it has a basement",
    "hotwaterheating": "whether it has hot-water heating",
    "airconditioning": "whether it has air conditioning",
    "prefarea": "whether it is in a preferred area",
    "lifeexp": "life expectancy at birth, in years",
    "pop": "population",
    "population": "population",
    "gdppercap": "GDP per capita",
    "gdp": "gross domestic product",
    "country": "country name",
    "continent": "continent",
    "region": "region",
    "city": "city",
    "state": "state",
    "year": "calendar year",
    "date": "date",
    "month": "month",
    "day": "day",
    "time": "time",
    "timestamp": "timestamp",
    "precipitation": "precipitation (rain or snow amount)",
    "precip": "precipitation (rain or snow amount)",
    "tempmax": "daily maximum temperature",
    "tempmin": "daily minimum temperature",
    "temp": "temperature",
    "temperature": "temperature",
    "wind": "wind speed",
    "weather": "weather type",
    "symbol": "stock ticker symbol",
    "ticker": "stock ticker symbol",
    "isoalpha": "ISO 3166-1 alpha-3 country code",
    "isonum": "ISO 3166-1 numeric country code",
    "id": "identifier",
    "name": "name",
    "age": "age",
    "sex": "sex",
    "gender": "gender",
    "income": "income",
    "salary": "salary",
    "sales": "sales amount",
    "revenue": "revenue",
    "quantity": "quantity",
    "rating": "rating",
    "score": "score",
}


def column_meaning(column: ColumnContext) -> str:
    key = cols.squash(column.name)
    if key in _MEANINGS:
        return _MEANINGS[key]
    words = cols.split_words(column.name)
    for word in words:
        meaning = _MEANINGS.get(word) or _MEANINGS.get(cols.singular(word))
        if meaning:
            return meaning if len(words) == 1 else f"{cols.label(column.name).lower()} ({meaning})"
    values = {str(v).lower() for v in cols.known_values(column)}
    if values and values <= {"yes", "no"}:
        return f"yes/no flag: {cols.label(column.name).lower()}"
    return cols.label(column.name).lower()


def _number(value: object) -> str:
    try:
        number = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return str(value)
    if number.is_integer():
        return f"{int(number):,}"
    return f"{number:,.2f}" if abs(number) >= 1 else f"{number:.3g}"


def _column_line(column: ColumnContext, rows: int) -> str:
    meaning = column_meaning(column)
    missing = f"; {column.nulls:,} missing" if column.nulls else ""
    if column.kind == NUMERIC:
        kind = "year" if column.time_like else "integer" if column.dtype.startswith(("int", "uint")) else "number"
        if cols.is_identifier(column, rows):
            return f"- {column.name} ({kind}): {meaning}; a code, not a measure{missing}."
        spread = f"{_number(column.min)} to {_number(column.max)}"
        if column.time_like:
            spread = f"{column.min:.0f} to {column.max:.0f}"
        mean = f", mean {_number(column.mean)}" if column.mean is not None and not column.time_like else ""
        distinct = (
            f", {column.distinct:,} distinct values" if column.distinct is not None and column.distinct <= 20 else ""
        )
        return f"- {column.name} ({kind}): {meaning}; {spread}{mean}{distinct}{missing}."
    if column.kind == DATETIME:
        stored = " (stored as text: convert with pd.to_datetime)" if "string" in column.dtype else ""
        if column.min is None:
            examples = ", ".join(str(value) for value in column.samples[:3])
            distinct = f"{column.distinct or 0:,} distinct, e.g. {examples}"
            return f"- {column.name} (date){stored}: {meaning}; {distinct}{missing}."
        return f"- {column.name} (date){stored}: {meaning}; {str(column.min)[:10]} to {str(column.max)[:10]}{missing}."
    tops = ", ".join(f"{item['value']} ({item['count']:,})" for item in column.top_values[:6])
    if column.kind in (CATEGORICAL, BOOLEAN):
        kind = "yes/no" if column.kind == BOOLEAN or meaning.startswith("yes/no") else "category"
        return f"- {column.name} ({kind}): {meaning}; {column.distinct or 0} groups: {tops}{missing}."
    samples = ", ".join(str(value) for value in column.samples[:3])
    return f"- {column.name} (text): {meaning}; {column.distinct or 0:,} distinct values, e.g. {samples}{missing}."


def row_meaning(dataset: DatasetContext) -> str:
    times = cols.time_columns(dataset)
    entities = [
        c
        for c in dataset.columns
        if c.kind in (TEXT, CATEGORICAL) and c.distinct and c.distinct > 1 and not cols.is_identifier(c, dataset.rows)
    ]
    for time in times:
        if time.distinct == dataset.rows:
            return f"one {time.name}"
        for entity in sorted(entities, key=lambda c: -(c.distinct or 0)):
            grid = (entity.distinct or 0) * (time.distinct or 0)
            if grid and 0.8 * grid <= dataset.rows <= grid:
                counts = f"{entity.distinct:,} {entity.name} values x {time.distinct:,} {time.name} values"
                return f"one {entity.name} and {time.name} ({counts})"
    unique = [c for c in dataset.columns if c.kind == TEXT and c.distinct == dataset.rows]
    if unique:
        return f"one {unique[0].name}"
    shown = ", ".join(c.name for c in dataset.columns[:4])
    return f"one record ({shown}, ...)"


def describe_dataset(*, datasets: list[DatasetContext], existing: str = "") -> str:
    blocks = []
    for dataset in datasets:
        lines = [
            f"`{dataset.name}`: {dataset.rows:,} rows x {len(dataset.columns)} columns; each row is "
            f"{row_meaning(dataset)}."
        ]
        if existing.strip() and len(datasets) == 1:
            lines.append(existing.strip())
        lines.append("Columns:")
        lines += [_column_line(column, dataset.rows) for column in dataset.columns]
        groups = [
            f"{c.name} ({c.distinct})"
            for c in dataset.columns
            if c.kind in (CATEGORICAL, BOOLEAN) and not cols.is_identifier(c, dataset.rows)
        ]
        if groups:
            lines.append("Groups: " + ", ".join(groups) + ".")
        for time in cols.time_columns(dataset):
            if time.min is not None and time.max is not None:
                low, high = (f"{time.min:.0f}", f"{time.max:.0f}") if time.time_like else (time.min, time.max)
                lines.append(f"Time span: {time.name} from {str(low)[:10]} to {str(high)[:10]}.")
        missing = [f"{c.name} ({c.nulls:,})" for c in dataset.columns if c.nulls]
        lines.append("Missing values: " + (", ".join(missing) if missing else "none") + ".")
        measures = cols.measures(dataset)
        skewed = [c.name for c in measures if _right_skewed(c)]
        if skewed:
            verb = "spans" if len(skewed) == 1 else "span"
            lines.append(f"Notes: {_and(skewed)} {verb} several orders of magnitude (consider log scales).")
        blocks.append("\n".join(lines))
    if existing.strip() and len(datasets) != 1:
        blocks.insert(0, existing.strip())
    return "\n\n".join(blocks)


def _right_skewed(column: ColumnContext) -> bool:
    try:
        low, high = float(column.min), float(column.max)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return False
    return low > 0 and high / low > 1000


# --- titles ------------------------------------------------------------------------------

_TITLE_SKIP = cols.STOPWORDS | {
    "want",
    "need",
    "like",
    "know",
    "list",
    "something",
    "things",
    "thing",
    "much",
    "many",
    "more",
    "most",
    "less",
    "very",
    "really",
    "there",
    "has",
    "have",
    "had",
    "doing",
    "done",
    "way",
    "ways",
    "my",
    "current",
    "query",
}


def chat_title(*, query: str) -> str:
    """At most three title-cased key words of the question."""
    words = re.findall(r"[A-Za-z][A-Za-z0-9_'-]*", query or "")
    picked: list[str] = []
    for word in words:
        lowered = word.lower().strip("'-")
        if lowered in _TITLE_SKIP or len(lowered) < 2 or lowered in (w.lower() for w in picked):
            continue
        picked.append(word.strip("'-"))
        if len(picked) == 3:
            break
    if not picked:
        return "Data Question"
    return " ".join(word[0].upper() + word[1:] for word in picked)
