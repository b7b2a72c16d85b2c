"""Rule-based repairs and edits of analysis code (the ``code_fix`` and ``code_edit`` signatures).

Fixes handle the failures generated or hand-written pandas code meets most often: a
misspelled column (``KeyError``, "not in index", Plotly's "not the name of a column"),
a misspelled dataset variable (``NameError``), numbers stored as text (string-to-float
errors) and date operations on text. Edits handle the common requests on a chart: its
type, title, colour, log axes, a different column, the top N. Anything else leaves the
code as it was (an edit adds a first-line comment saying it was not understood).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sessions_app.agents.context import DATETIME, NUMERIC, DatasetContext
from sessions_app.agents.offline import columns as cols
from sessions_app.agents.offline import intents as it
from sessions_app.agents.offline.literals import is_plain_name, lit, quote, variable

_STRING = re.compile(
    r"(?P<prefix>(?:(?<![\w])[rRbBuUfF]{1,2})?)(?P<quote>\"\"\"|'''|\"|')(?P<body>(?:\\.|(?!(?P=quote)).)*?)(?P=quote)",
    re.S,
)


def _all_columns(datasets: list[DatasetContext]) -> list[str]:
    return list(dict.fromkeys(column.name for dataset in datasets for column in dataset.columns))


def _column(datasets: list[DatasetContext], name: str):
    for dataset in datasets:
        found = dataset.column(name)
        if found is not None:
            return found
    return None


def _in_literal(text: str, prefix: str) -> str | None:
    """``text`` as the body of a string literal with ``prefix`` (quoted either way, so the
    replacement cannot end the literal), or None where it cannot be written (raw, bytes)."""
    prefix = prefix.lower()
    if "b" in prefix:
        return None
    body = quote(text)[1:-1].replace("'", "\\'")
    if "r" in prefix:
        return text if body == text else None
    return body.replace("{", "{{").replace("}", "}}") if "f" in prefix else body


def _replace_in_strings(code: str, old: str, new: str, *, whole: bool = True) -> str:
    """Replace ``old`` with ``new`` inside string literals only (names in code stay); ``new``
    is data, so it goes in escaped for the literal it lands in."""
    pattern = re.compile(rf"(?<![\w]){re.escape(old)}(?![\w])" if whole else re.escape(old))

    def fix(match: re.Match) -> str:
        replacement = _in_literal(new, match.group("prefix"))
        if replacement is None:
            return match.group(0)
        body = pattern.sub(lambda _: replacement, match.group("body"))
        return f"{match.group('prefix')}{match.group('quote')}{body}{match.group('quote')}"

    return _STRING.sub(fix, code)


def _replace_literal(code: str, old: str, new: str) -> str:
    """Replace string literals that are exactly ``old`` ("lifeexp" -> "lifeExp")."""

    def fix(match: re.Match) -> str:
        prefix = match.group("prefix")
        replacement = _in_literal(new, prefix)
        if match.group("body") == old and "f" not in prefix.lower() and replacement is not None:
            return f"{prefix}{match.group('quote')}{replacement}{match.group('quote')}"
        return match.group(0)

    return _STRING.sub(fix, code)


def _formula_term(name: str) -> str:
    """A column as a patsy term: bare when a plain identifier, else Q(<quoted literal>)."""
    return name if is_plain_name(name) else f"Q({lit(name)})"


# --- fixes -------------------------------------------------------------------------------


def _error_message(error: str) -> tuple[str, str]:
    """(type, message) of the last ``SomeError: message`` line."""
    found = ("", error.strip())
    for line in error.splitlines():
        match = re.match(r"^\s*(?:Error in \w+: )?([A-Za-z_][\w.]*(?:Error|Exception)):\s*(.*)$", line)
        if match:
            found = (match.group(1).split(".")[-1], match.group(2))
    return found


def _failing_line(code: str, error: str) -> int | None:
    """Index in ``code`` of the line the error points at (the sandbox's ``>>>`` marker)."""
    lines = code.split("\n")
    marked = re.findall(r"^>>>\s*(\d+) \| (.*)$", error, re.MULTILINE)
    if marked:
        number, text = int(marked[-1][0]), marked[-1][1]
        if 0 < number <= len(lines) and lines[number - 1].strip() == text.strip():
            return number - 1
        matches = [index for index, line in enumerate(lines) if line.strip() == text.strip() and text.strip()]
        if matches:
            return matches[-1]
    numbers = re.findall(r"line (\d+)", error)
    if numbers:
        number = int(numbers[-1])
        if 0 < number <= len(lines):
            return number - 1
    return None


def _quoted(text: str) -> list[str]:
    """Quoted names in an error message; single quotes first (``"['a', 'b'] not in index"``)."""
    single = re.findall(r"'([^']*)'", text)
    return single or re.findall(r'"([^"]*)"', text)


def _fix_columns(code: str, message: str, datasets: list[DatasetContext]) -> str:
    columns = _all_columns(datasets)
    names = _quoted(message)
    received = re.search(r"but received:\s*(\S+)", message)
    if received:
        names.append(received.group(1).strip("'\""))
    for name in names:
        if not name or name in columns:
            continue
        real = cols.resolve_column(name, columns)
        if real:
            code = _replace_literal(code, name, real)
            if "~" in code:
                # The misspelling inside a model formula (a string patsy evaluates).
                code = _replace_in_strings(code, name, _formula_term(real))
    return code


def _fix_name(code: str, message: str, datasets: list[DatasetContext]) -> str:
    match = re.search(r"name '(\w+)' is not defined", message)
    if not match:
        return code
    name = match.group(1)
    dataset_names = [dataset.name for dataset in datasets]
    target = None
    close = cols.resolve_column(name, dataset_names)
    if close:
        target = close
    elif len(datasets) >= 1 and re.fullmatch(
        r"(df|data|dataset|dataframe|frame|table)\w*|\w*_?(df|data)", name.lower()
    ):
        target = dataset_names[0]
    if target and target != name:
        return re.sub(rf"(?<![\w.]){re.escape(name)}(?!\w)", lambda _: variable(target), code)
    column = cols.resolve_column(name, _all_columns(datasets))
    if column and "~" in code:
        # A column name inside a model formula (patsy): use its real spelling.
        return _replace_in_strings(code, name, _formula_term(column))
    module = _KNOWN_IMPORTS.get(name)
    if module:
        return f"{module}\n{code}"
    return code


_KNOWN_IMPORTS = {
    "LinearRegression": "from sklearn.linear_model import LinearRegression",
    "LogisticRegression": "from sklearn.linear_model import LogisticRegression",
    "RandomForestClassifier": "from sklearn.ensemble import RandomForestClassifier",
    "RandomForestRegressor": "from sklearn.ensemble import RandomForestRegressor",
    "KMeans": "from sklearn.cluster import KMeans",
    "StandardScaler": "from sklearn.preprocessing import StandardScaler",
    "OneHotEncoder": "from sklearn.preprocessing import OneHotEncoder",
    "train_test_split": "from sklearn.model_selection import train_test_split",
    "Pipeline": "from sklearn.pipeline import Pipeline",
    "ColumnTransformer": "from sklearn.compose import ColumnTransformer",
    "SimpleImputer": "from sklearn.impute import SimpleImputer",
    "accuracy_score": "from sklearn.metrics import accuracy_score",
    "r2_score": "from sklearn.metrics import r2_score",
    "mean_absolute_error": "from sklearn.metrics import mean_absolute_error",
    "f1_score": "from sklearn.metrics import f1_score",
    "silhouette_score": "from sklearn.metrics import silhouette_score",
    "math": "import math",
    "datetime": "import datetime",
    "re": "import re",
}

_SUBSCRIPT = re.compile(r"(\b[A-Za-z_]\w*)\[\s*(['\"])([^'\"]+)\2\s*\]")
_REDUCTIONS = re.compile(r"\.(corr|mean|median|sum|std|var|cov|prod|quantile)\(\s*\)")


def _insert_before(code: str, index: int, new_lines: list[str]) -> str:
    lines = code.split("\n")
    indent = re.match(r"\s*", lines[index]).group()  # type: ignore[union-attr]
    lines[index:index] = [indent + line for line in new_lines]
    return "\n".join(lines)


def _referenced(line: str, datasets: list[DatasetContext]) -> list[tuple[str, str]]:
    """(frame variable, column) subscripts on a line that name real columns."""
    found = []
    for frame, _, name in _SUBSCRIPT.findall(line):
        if _column(datasets, name) is not None and (frame, name) not in found:
            found.append((frame, name))
    return found


def _looks_numeric(column) -> bool:
    samples = [value for value in column.samples if value is not None]
    if not samples:
        return False
    numeric = 0
    for value in samples:
        try:
            float(str(value).replace(",", ""))
            numeric += 1
        except ValueError:
            pass
    return numeric >= max(1, len(samples) // 2)


def _fix_numbers(code: str, message: str, error: str, datasets: list[DatasetContext]) -> str:
    index = _failing_line(code, error)
    lines = code.split("\n")
    bad_value = next(iter(_quoted(message)), None)
    if index is not None:
        line = lines[index]
        # Numbers stored as text ("1,200", "30"): convert the columns the line uses.
        targets = [
            (frame, name)
            for frame, name in _referenced(line, datasets)
            if _column(datasets, name).kind != NUMERIC and _looks_numeric(_column(datasets, name))
        ]
        # Whole-frame reductions over text columns ("Afghanistan"): keep to the numbers.
        if not targets and _REDUCTIONS.search(line) and bad_value is not None and _value_is_text(bad_value):
            lines[index] = _REDUCTIONS.sub(lambda m: f".{m.group(1)}(numeric_only=True)", line)
            return "\n".join(lines)
        if not targets:
            holder = _holder_of(bad_value, datasets)
            targets = [(frame, name) for frame, name in _referenced(line, datasets) if name == holder]
        if targets:
            conversions = [
                f'{frame}[{lit(name)}] = pd.to_numeric({frame}[{lit(name)}], errors="coerce")'
                for frame, name in targets
            ]
            return _insert_before(code, index, conversions)
    return code


def _value_is_text(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return True
    return False


def _holder_of(value: str | None, datasets: list[DatasetContext]) -> str | None:
    """The column whose known values include ``value`` (the text that would not convert)."""
    if value is None:
        return None
    for dataset in datasets:
        for column in dataset.columns:
            if value in [str(v) for v in cols.known_values(column)] or value in [str(v) for v in column.samples]:
                return column.name
    return None


_DATE_ERRORS = (
    "can only use .dt accessor",
    "has no attribute 'year'",
    "has no attribute 'month'",
    "has no attribute 'day'",
    "has no attribute 'dt'",
    "has no attribute 'strftime'",
    "has no attribute 'to_period'",
    "not supported between instances of 'str' and 'timestamp'",
    "not supported between instances of 'timestamp' and 'str'",
    "not supported between instances of 'str' and 'datetime",
    "unsupported operand type(s) for -: 'str' and 'str'",
    "cannot compare",
    "invalid comparison between",
    "dtype=str",
)


def _fix_dates(code: str, message: str, error: str, datasets: list[DatasetContext]) -> str:
    index = _failing_line(code, error)
    if index is None:
        return code
    line = code.split("\n")[index]
    targets = [
        (frame, name)
        for frame, name in _referenced(line, datasets)
        if _column(datasets, name).kind == DATETIME or f'["{name}"].dt' in line or f"['{name}'].dt" in line
    ]
    if not targets:
        return code
    conversions = [
        f'{frame}[{lit(name)}] = pd.to_datetime({frame}[{lit(name)}], errors="coerce")' for frame, name in targets
    ]
    return _insert_before(code, index, conversions)


def fix_code(*, code: str, error: str, datasets: list[DatasetContext]) -> str:
    """The code with the error's cause repaired, or unchanged when no rule applies."""
    kind, message = _error_message(error or "")
    lowered = (error or "").lower()
    fixed = code
    if (
        kind == "KeyError"
        or "not in index" in lowered
        or "not the name of a column" in lowered
        or ("none of [index" in lowered)
    ):
        fixed = _fix_columns(code, message if kind else error, datasets)
    elif kind == "NameError" or "is not defined" in lowered:
        fixed = _fix_name(code, message or error, datasets)
        if fixed == code:
            fixed = _fix_columns(code, message, datasets)
    elif any(marker in lowered for marker in _DATE_ERRORS):
        fixed = _fix_dates(code, message, error, datasets)
    if fixed == code and (
        "could not convert string to float" in lowered
        or "unable to parse string" in lowered
        or "could not convert" in lowered
        or "agg function failed" in lowered
        or ("unsupported operand" in lowered and "str" in lowered)
        or ("not supported between instances of 'str'" in lowered)
    ):
        fixed = _fix_numbers(code, message, error, datasets)
    if fixed == code and "dtype" in lowered and "datetime" in lowered:
        fixed = _fix_dates(code, message, error, datasets)
    return fixed


# --- edits -------------------------------------------------------------------------------


@dataclass
class _Call:
    start: int  # of "px."
    open: int  # index of "("
    end: int  # index after ")"
    function: str
    args: list[str]
    variable: str | None  # the name it is assigned to


def _split_args(text: str) -> list[str]:
    args, depth, current, quote = [], 0, [], ""
    index = 0
    while index < len(text):
        char = text[index]
        if quote:
            current.append(char)
            if char == "\\":
                current.append(text[index + 1])
                index += 2
                continue
            if char == quote:
                quote = ""
        elif char in "'\"":
            quote = char
            current.append(char)
        elif char in "([{":
            depth += 1
            current.append(char)
        elif char in ")]}":
            depth -= 1
            current.append(char)
        elif char == "," and depth == 0:
            args.append("".join(current).strip())
            current = []
        else:
            current.append(char)
        index += 1
    tail = "".join(current).strip()
    if tail:
        args.append(tail)
    return [arg for arg in args if arg]


def _px_calls(code: str) -> list[_Call]:
    calls = []
    for match in re.finditer(r"px\.(\w+)\(", code):
        depth, index, quote = 0, match.end() - 1, ""
        while index < len(code):
            char = code[index]
            if quote:
                if char == "\\":
                    index += 2
                    continue
                if char == quote:
                    quote = ""
            elif char in "'\"":
                quote = char
            elif char == "(":
                depth += 1
            elif char == ")":
                depth -= 1
                if depth == 0:
                    break
            index += 1
        line_start = code.rfind("\n", 0, match.start()) + 1
        assigned = re.match(r"\s*(\w+)\s*=\s*$", code[line_start : match.start()])
        calls.append(
            _Call(
                start=match.start(),
                open=match.end() - 1,
                end=index + 1,
                function=match.group(1),
                args=_split_args(code[match.end() : index]),
                variable=assigned.group(1) if assigned else None,
            )
        )
    return calls


def _kwarg(args: list[str], name: str) -> str | None:
    for arg in args:
        match = re.match(rf"^{name}\s*=\s*(.+)$", arg, re.S)
        if match:
            return match.group(1).strip()
    return None


def _render_call(function: str, args: list[str], original: str) -> str:
    if "\n" not in original:
        return f"px.{function}(" + ", ".join(args) + ")"
    return f"px.{function}(\n" + "".join(f"    {arg},\n" for arg in args) + ")"


def _parameters(function: str) -> set[str]:
    import inspect

    import plotly.express as px

    return set(inspect.signature(getattr(px, function)).parameters)


_CHART_FUNCTIONS = {"bar", "line", "scatter", "histogram", "box", "violin", "pie", "area"}


def _change_chart(code: str, target: str) -> tuple[str, bool]:
    target = {"heatmap": "imshow"}.get(target, target)
    if target not in _CHART_FUNCTIONS:
        return code, False
    changed = False
    for call in reversed(_px_calls(code)):
        if call.function not in _CHART_FUNCTIONS or call.function == target:
            continue
        args = list(call.args)
        if target == "pie":
            args = [re.sub(r"^x\s*=", "names=", arg) for arg in args]
            args = [re.sub(r"^y\s*=", "values=", arg) for arg in args]
        elif call.function == "pie":
            args = [re.sub(r"^names\s*=", "x=", arg) for arg in args]
            args = [re.sub(r"^values\s*=", "y=", arg) for arg in args]
        if target == "histogram" and _kwarg(args, "x") and _kwarg(args, "y") and call.function == "scatter":
            args = [arg for arg in args if not re.match(r"^y\s*=", arg)]
        if target == "line" and "markers" not in "".join(args):
            args.append("markers=True")
        allowed = _parameters(target)
        kept = []
        for arg in args:
            keyword = re.match(r"^(\w+)\s*=", arg)
            if keyword and keyword.group(1) not in allowed:
                continue
            kept.append(arg)
        original = code[call.start : call.end]
        code = code[: call.start] + _render_call(target, kept, original) + code[call.end :]
        changed = True
    return code, changed


def _figure_variables(code: str) -> list[str]:
    names = [call.variable for call in _px_calls(code) if call.variable]
    names += re.findall(r"^\s*(\w+)\s*=\s*go\.Figure\(", code, re.M)
    return list(dict.fromkeys(names)) or ["fig"]


def _before_show(code: str, statement: str) -> tuple[str, bool]:
    """Insert ``<fig>.<statement>`` before each ``<fig>.show()`` (or at the end)."""
    variables = _figure_variables(code)
    lines = code.rstrip("\n").split("\n")
    result, inserted = [], False
    for line in lines:
        match = re.match(r"^(\s*)(\w+)\.show\(", line)
        if match and match.group(2) in variables:
            result.append(f"{match.group(1)}{match.group(2)}.{statement}")
            inserted = True
        result.append(line)
    if not inserted:
        if not _px_calls(code) and "go.Figure" not in code:
            return code, False
        result.append(f"{variables[-1]}.{statement}")
    return "\n".join(result) + "\n", True


_COLOURS = [
    "red",
    "green",
    "blue",
    "orange",
    "purple",
    "black",
    "grey",
    "gray",
    "pink",
    "brown",
    "yellow",
    "teal",
    "navy",
    "maroon",
    "olive",
    "cyan",
    "magenta",
    "gold",
    "crimson",
    "coral",
    "salmon",
    "indigo",
    "violet",
    "turquoise",
    "darkgreen",
    "darkblue",
    "darkred",
    "lightblue",
    "lightgreen",
    "steelblue",
    "seagreen",
    "tomato",
    "orchid",
    "slategray",
]
_SCALES = [
    "viridis",
    "plasma",
    "inferno",
    "magma",
    "cividis",
    "blues",
    "reds",
    "greens",
    "greys",
    "oranges",
    "purples",
    "rdbu",
    "turbo",
    "ylgnbu",
]


def _title_from(prompt: str) -> str | None:
    quoted = re.search(r"[\"“']([^\"”']+)[\"”']", prompt)
    if quoted and re.search(r"\b(title|call|name|heading|label)\w*", prompt.lower()):
        return quoted.group(1).strip()
    match = re.search(
        r"\b(?:title(?:d)?(?: it)?(?: to| as)?|call it|name it|heading(?: to)?|set (?:the )?title to|"
        r"change (?:the )?title to|rename (?:the )?(?:chart|title|plot) to)\s*:?\s*(.+)$",
        prompt,
        re.IGNORECASE,
    )
    if match:
        title = match.group(1).strip().strip("\"'“”.")
        return title or None
    return None


def _swap(code: str, prompt: str, datasets: list[DatasetContext]) -> tuple[str, bool]:
    columns = _all_columns(datasets)
    in_code = [name for name in columns if re.search(rf"[\"']{re.escape(name)}[\"']", code)]
    lowered = prompt.lower()
    patterns = [
        r"(?:use|show|plot|with)\s+(.+?)\s+instead of\s+(.+)$",
        r"^(.+?)\s+instead of\s+(.+)$",
        r"replace\s+(.+?)\s+(?:with|by)\s+(.+)$",
        r"swap\s+(.+?)\s+(?:for|with)\s+(.+)$",
        r"change\s+(.+?)\s+(?:to|into)\s+(.+)$",
    ]
    new = old = None
    for index, pattern in enumerate(patterns):
        match = re.search(pattern, lowered)
        if not match:
            continue
        first, second = match.group(1), match.group(2)
        if index >= 2:
            first, second = second, first
        new, old = _name_in(first, datasets), _name_in(second, datasets)
        if new and old:
            break
        new = old = None
    if new is None:
        match = re.search(r"(?:use|show|plot)\s+(.+?)\s+instead\b|\binstead\b.*?\b(?:use|show)\s+(.+)$", lowered)
        if match:
            new = _name_in(match.group(1) or match.group(2), datasets)
        if new is None:
            return code, False
        kind = _column(datasets, new).kind
        axis = (
            "x"
            if re.search(r"\bx\b|x-axis|horizontal", lowered)
            else "y"
            if re.search(r"\by\b|y-axis|vertical", lowered)
            else ""
        )
        candidates = [name for name in in_code if name != new and _column(datasets, name).kind == kind]
        if axis:
            on_axis = [name for name in candidates if re.search(rf"\b{axis}\s*=\s*[\"']{re.escape(name)}[\"']", code)]
            candidates = on_axis or candidates
        else:
            on_y = [name for name in candidates if re.search(rf"\by\s*=\s*[\"']{re.escape(name)}[\"']", code)]
            candidates = on_y or candidates
        old = candidates[0] if candidates else None
    if not old or not new or old == new or old not in in_code:
        return code, False
    for before, after in (
        (old, new),
        (cols.label(old), cols.label(new)),
        (cols.label(old).lower(), cols.label(new).lower()),
    ):
        # Only inside string literals: comments never receive data (a name could hold a newline).
        code = _replace_in_strings(code, before, after)
    return code, True


def _name_in(phrase: str, datasets: list[DatasetContext]) -> str | None:
    """The column a phrase of the prompt names ("life expectancy", "lifexp")."""
    phrase = phrase.strip(" .?!'\"")
    if not phrase:
        return None
    for dataset in datasets:
        found = cols.mentioned_columns(phrase, dataset)
        if found:
            return found[0]
    if len(phrase.split()) == 1:
        return cols.resolve_column(phrase, _all_columns(datasets))
    return None


def _limit(code: str, number: int, ascending: bool) -> tuple[str, bool]:
    calls = [call for call in _px_calls(code) if call.args and re.fullmatch(r"[A-Za-z_]\w*", call.args[0])]
    if calls:
        call = calls[-1]
        frame = call.args[0]
        value = _kwarg(call.args, "y") if call.function != "pie" else _kwarg(call.args, "values")
        if call.function == "histogram":
            value = None
        line_start = code.rfind("\n", 0, call.start) + 1
        indent = re.match(r"\s*", code[line_start:]).group()  # type: ignore[union-attr]
        if value and re.fullmatch(r"[\"'][^\"']+[\"']", value):
            method = "nsmallest" if ascending else "nlargest"
            statement = f"{frame} = {frame}.{method}({number}, {value})"
        else:
            statement = f"{frame} = {frame}.head({number})"
        return code[:line_start] + f"{indent}{statement}\n" + code[line_start:], True
    prints = list(re.finditer(r"^(\s*)print\((\w+)\)\s*$", code, re.M))
    if prints:
        match = prints[0]
        statement = f"{match.group(1)}{match.group(2)} = {match.group(2)}.head({number})\n"
        return code[: match.start()] + statement + code[match.start() :], True
    return code, False


def edit_code(*, code: str, prompt: str, datasets: list[DatasetContext]) -> str:
    """The code with the requested change, or unchanged with a comment when not understood."""
    lowered = (prompt or "").lower()
    edited, understood = code, False

    swapped, done = _swap(edited, prompt or "", datasets)
    if done:
        edited, understood = swapped, True

    chart = it.chart_type(lowered)
    if chart and re.search(r"\b(chart|plot|graph|histogram|instead|make|change|turn|convert|use|show|as)\b", lowered):
        changed, done = _change_chart(edited, chart)
        if done:
            edited, understood = changed, True
        elif any(call.function == chart for call in _px_calls(edited)):
            understood = True  # already that kind of chart

    title = _title_from(prompt or "")
    if title:
        edited, done = _before_show(edited, f"update_layout(title={lit(title)})")
        understood = understood or done

    scale = next((name for name in _SCALES if re.search(rf"\b{name}\b", lowered)), None)
    colour = next((name for name in _COLOURS if re.search(rf"\b{name}\b", lowered)), None)
    hex_colour = re.search(r"#[0-9a-fA-F]{6}\b|#[0-9a-fA-F]{3}\b", prompt or "")
    if scale:
        edited, done = _before_show(edited, f'update_layout(coloraxis_colorscale="{scale.title()}")')
        understood = understood or done
    elif colour or hex_colour:
        value = hex_colour.group() if hex_colour else colour
        statement = f'update_traces(marker_color="{value}")'
        if any(call.function in ("line", "area") for call in _px_calls(edited)):
            statement = f'update_traces(line_color="{value}", marker_color="{value}")'
        edited, done = _before_show(edited, statement)
        understood = understood or done

    if re.search(r"\blog(arithmic)?\b", lowered):
        wants_x = re.search(r"\bx\b|x-axis|horizontal", lowered)
        wants_y = re.search(r"\by\b|y-axis|vertical", lowered)
        if not wants_x and not wants_y:
            histogram = any(call.function == "histogram" for call in _px_calls(edited))
            wants_x, wants_y = (True, False) if histogram else (False, True)
        for axis, wanted in (("x", wants_x), ("y", wants_y)):
            if wanted:
                edited, done = _before_show(edited, f'update_{axis}axes(type="log")')
                understood = understood or done

    top = re.search(
        r"\b(?:top|first|limit(?: it)?(?: to)?|only(?: the)?(?: top| first)?|show(?: only)?(?: the)?(?: top)?)"
        r"\s+(\d+)\b",
        lowered,
    )
    bottom = re.search(r"\b(?:bottom|last|lowest|smallest)\s+(\d+)\b", lowered)
    if top or bottom:
        number = int((bottom or top).group(1))  # type: ignore[union-attr]
        edited, done = _limit(edited, number, ascending=bool(bottom))
        understood = understood or done

    if re.search(r"\btrend ?line\b|\bregression line\b|\bfitted line\b", lowered):
        calls = [call for call in _px_calls(edited) if call.function == "scatter"]
        if calls and "trendline" not in edited:
            call = calls[-1]
            original = edited[call.start : call.end]
            edited = (
                edited[: call.start]
                + _render_call("scatter", [*call.args, 'trendline="ols"'], original)
                + edited[call.end :]
            )
            understood = True

    if not understood:
        # The request itself stays out of the comment: a comment is code, and the prompt is data.
        return (
            "# Edit not understood (offline analyst). "
            "Supported: chart type (bar/line/scatter/histogram/box), "
            "title, colour, log scale, another column, top N.\n" + code
        )
    return edited
