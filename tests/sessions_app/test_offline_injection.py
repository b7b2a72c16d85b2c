"""Issue 10, item 3: nothing derived from data or from a user ever becomes code.

Hostile column names, category values, dataset names and prompts (line breaks of every
kind, quotes, backslashes, ``#``, braces, bidi controls, keywords, code look-alikes, very
long text) are thrown at every intent of the offline analyst, at its repairs and at its
edits. Every hostile string carries :data:`MARKER`; the generated code must parse, and the
marker may occur only inside string literals: never in a name, an attribute, a keyword
argument, a comment, or any other token. Inside a model formula (which patsy evaluates as
Python) the same holds one level down. No code is run here (see
``test_offline_injection_e2e.py`` for runs through the sandbox).
"""

from __future__ import annotations

import ast
import io
import json
import tokenize

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sessions_app.agents.context import (
    BOOLEAN,
    CATEGORICAL,
    DATETIME,
    NUMERIC,
    TEXT,
    ColumnContext,
    DatasetContext,
    context_from_text,
    context_to_text,
)
from sessions_app.agents.offline import analyst, codegen, repair
from sessions_app.agents.offline import intents as it
from sessions_app.agents.offline.literals import (
    UnsafeCodeError,
    docstring,
    fstring_key,
    fstring_text,
    is_plain_name,
    lit,
    variable,
    verify,
)

MARKER = "Zq9Xw"
PIECES = [
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x85",
    "\x0b",
    "\x0c",
    "\x1c",
    "\x1e",
    "\t",
    "\x01",
    "\x1b[2J",
    "\x7f",
    "\u202e",
    "\u2066",
    "\ufeff",
    "'",
    '"',
    "'''",
    '"""',
    "`",
    "\\",
    "\\n",
    "\\x41",
    "\\N{BULLET}",
    "\\u2028",
    "#",
    "# ",
    "{",
    "}",
    "{{",
    "{x}",
    "{0!r}",
    "%s",
    "(",
    ")",
    "[",
    "]",
    ",",
    ":",
    "=",
    ";",
    "~",
    "+",
    "Q(",
    'Q("',
    "C(",
    "lambda: 0",
    "import os",
    "__import__('os').system('id')",
    "exec(bytes.fromhex('7072696e742822706f776e656422290a').decode())",
    "\nexec(input())\n#",
    '"]\nprint("pwned")\n#',
    "f'",
    "rb'",
    "class",
    "None",
    "match",
    "print",
    "data",
    "df",
    "é",
    "ß",
    "😀",
    "日本",
    " ",
    "  ",
    "",
]
_piece = st.one_of(
    st.sampled_from(PIECES),
    st.text(st.characters(exclude_characters="\x00", exclude_categories=("Cs",)), max_size=6),
)
_halves = st.lists(_piece, max_size=4).map("".join)
hostile = st.one_of(
    st.builds(lambda a, b: a + MARKER + b, _halves, _halves),
    st.builds(lambda a, n: (a + MARKER) * n, _halves, st.integers(20, 150)),  # very long
)
# Dataset names that are plain identifiers are variables by design (the app only makes such
# names); every other name must reach the code quoted.
hostile_dataset_name = hostile.filter(lambda name: not is_plain_name(name))


def hostile_dataset(names: list[str], values: list[str], dataset_name: str, rows: int) -> DatasetContext:
    n1, n2, n3, year, category, date, flag, free = names
    top = [{"value": value, "count": 10} for value in values]
    numeric = {"dtype": "double", "kind": NUMERIC, "nulls": 0, "distinct": 400, "samples": [1.5, 2.5]}
    columns = [
        ColumnContext(n1, **numeric, min=1.0, max=90_000.0, mean=50.0, std=9.0),
        ColumnContext(n2, **numeric, min=-5.0, max=5.0, mean=0.0, std=1.0),
        ColumnContext(n3, **numeric, min=0.0, max=40.0, mean=20.0, std=5.0),
        ColumnContext(year, "int64", NUMERIC, 0, 12, samples=[1952, 2007], time_like=True, min=1952, max=2007),
        ColumnContext(category, "string", CATEGORICAL, 0, len(values), samples=values[:3], top_values=top),
        ColumnContext(date, "timestamp[ms]", DATETIME, 0, 300, min="2020-01-01", max="2021-06-30"),
        ColumnContext(flag, "bool", BOOLEAN, 0, 2, samples=[True, False]),
        ColumnContext(free, "string", TEXT, 0, rows, samples=values[:2]),
    ]
    return DatasetContext(dataset_name, "", rows, columns)


@st.composite
def hostile_analyses(draw) -> tuple[it.Analysis, list[str]]:
    """Any intent, its roles filled with hostile columns, hostile filters and any options."""
    names = draw(st.lists(hostile, min_size=8, max_size=8, unique=True))
    values = draw(st.lists(hostile, min_size=2, max_size=4, unique=True))
    dataset_name = draw(st.one_of(hostile_dataset_name, st.sampled_from(["df", "sales", "match", "print", "class"])))
    rows = draw(st.sampled_from([500, 80_000]))
    dataset = hostile_dataset(names, values, dataset_name, rows)
    n1, n2, n3, year, category, date, flag, _ = names
    numeric = [n1, n2, n3]
    possible_filters = [
        it.Filter(category, "==", values[0]),
        it.Filter(category, "!=", values[-1]),
        it.Filter(category, "in", values[:2]),
        it.Filter(n1, ">", 3.5),
        it.Filter(n2, "<=", -1),
        it.Filter(year, "year", 2007),
        it.Filter(date, "year", 2020, on_datetime=True),
        it.Filter(date, "month", 3, on_datetime=True),
        it.Filter(year, "year_range", (1990, None)),
        it.Filter(year, "year_range", (None, 2000)),
        it.Filter(date, "year_range", (2020, 2021), on_datetime=True),
    ]
    intent = draw(st.sampled_from(it.INTENTS))
    analysis = it.Analysis(
        intent=intent,
        dataset=dataset,
        source=draw(st.sampled_from([dataset_name, dataset_name + "_clean"])),
        filters=draw(st.lists(st.sampled_from(possible_filters), max_size=3)),
        agg=draw(st.sampled_from(["mean", "median", "sum", "count", "max", "min"])),
        chart=draw(st.sampled_from([None, *it.CHART_TYPES])),
        period=draw(st.sampled_from([None, "D", "W", "M", "Q", "Y"])),
        k=draw(st.integers(2, 6)),
        top=draw(st.sampled_from([None, 3, 10])),
        ascending=draw(st.booleans()),
        model_kind=draw(st.sampled_from(["forest", "linear", "logistic"])),
    )
    if intent == it.OVERVIEW:
        analysis.focus = draw(st.sampled_from([[], [n1], [n1, category, date], names]))
    elif intent in (it.MISSING, it.CLEAN):
        analysis.report_only = intent == it.MISSING
    elif intent == it.DISTRIBUTION:
        analysis.measure = draw(st.sampled_from([n1, category, flag]))
    elif intent == it.RELATIONSHIP:
        analysis.x, analysis.y = n1, n2
        analysis.group = draw(st.sampled_from([None, category]))
    elif intent == it.CORRELATION:
        analysis.focus = draw(st.sampled_from([[], [n2], numeric]))
    elif intent == it.GROUPS:
        analysis.group = draw(st.sampled_from([category, year, flag]))
        analysis.measure = draw(st.sampled_from([None, n1, n3]))
    elif intent == it.TREND:
        analysis.time = draw(st.sampled_from([date, year]))
        analysis.measure = draw(st.sampled_from([None, n1]))
        analysis.group = draw(st.sampled_from([None, category]))
    elif intent in (it.REGRESSION, it.MODEL):
        analysis.target = draw(st.sampled_from([n1, category, flag] if intent == it.MODEL else [n1, n3]))
        analysis.features = draw(st.sampled_from([[n2], [n2, category], [n2, n3, category, flag]]))
    elif intent == it.CLUSTER:
        analysis.features = draw(st.sampled_from([[n1], numeric]))
    return analysis, [*names, *values, dataset_name]


def assert_data_only_in_literals(code: str, columns: list[str]) -> None:
    """``code`` parses, and :data:`MARKER` occurs only inside its string literals."""
    tree = ast.parse(code)
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type != tokenize.STRING:
            assert MARKER not in token.string, (tokenize.tok_name[token.type], token.string[:200])
    for node in ast.walk(tree):
        identifiers = [
            getattr(node, "id", None),
            getattr(node, "attr", None),
            getattr(node, "arg", None),
            getattr(node, "name", None),
            getattr(node, "asname", None),
            getattr(node, "module", None),
        ]
        for identifier in identifiers:
            assert not isinstance(identifier, str) or MARKER not in identifier, identifier[:200]
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "ols":
            formula = node.args[0]
            assert isinstance(formula, ast.Constant) and isinstance(formula.value, str)
            assert_formula_safe(formula.value, columns)


def assert_formula_safe(formula: str, columns: list[str]) -> None:
    """A patsy formula (Python that patsy evaluates against the data): its names are Q, C
    or whole column names that are plain identifiers (looked up in the data); any other
    data is in string literals."""
    for token in tokenize.generate_tokens(io.StringIO(formula).readline):
        if token.type == tokenize.STRING:
            assert isinstance(ast.literal_eval(token.string), str)
        elif token.type == tokenize.NAME:
            assert token.string in ("Q", "C") or (token.string in columns and is_plain_name(token.string))
        else:
            assert MARKER not in token.string, token.string[:200]


def string_constants(code: str) -> list[str]:
    return [n.value for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Constant) and isinstance(n.value, str)]


# --- the literal builders themselves ------------------------------------------------------


@given(text=st.text(st.characters(exclude_characters="\x00")))
def test_every_builder_round_trips_any_text(text):
    assert ast.literal_eval(lit(text)) == text
    assert ast.literal_eval(docstring(text)) == text
    assert eval(f'f"{fstring_text(text)}"') == text  # a literal built just above
    assert eval(f'f"{{{fstring_key(text)}}}"') == text
    for built in (lit(text), docstring(text), fstring_text(text), fstring_key(text)):
        assert built.splitlines() == [built] or built == ""
        assert all(char.isprintable() for char in built)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("a\nb", '"a\\nb"'),
        ('say "hi"\\', '"say \\"hi\\"\\\\"'),
        ("line\u2028sep\x85", '"line\\u2028sep\\x85"'),
        ("\u202eevil", '"\\u202eevil"'),
        ("😀é", '"😀é"'),
        (3, "3"),
        (2.5, "2.5"),
        (float("nan"), 'float("nan")'),
        (True, "True"),
        (None, "None"),
        (["a", 1], '["a", 1]'),
        ({"k": "v"}, '{"k": "v"}'),
    ],
)
def test_lit(value, expected):
    assert lit(value) == expected


def test_lit_refuses_other_objects():
    with pytest.raises(TypeError):
        lit(object())


@pytest.mark.parametrize(
    ("name", "code"),
    [
        ("housing", "housing"),
        ("match", 'globals()["match"]'),
        ("class", 'globals()["class"]'),
        ("a b", 'globals()["a b"]'),
        ("naïve", 'globals()["naïve"]'),
        ("x\nexec(1)", 'globals()["x\\nexec(1)"]'),
    ],
)
def test_dataset_variables_are_plain_names_or_quoted_lookups(name, code):
    assert variable(name) == code


@pytest.mark.parametrize(
    "code",
    [
        "x = 1\n# a comment\n",
        "x = (\n",
        "x = 1\u2028y = 2\n",
        "x = 1\r\n",
    ],
)
def test_verify_refuses_comments_broken_code_and_other_line_breaks(code):
    with pytest.raises(UnsafeCodeError):
        verify(code)


# --- every intent --------------------------------------------------------------------------


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=hostile_analyses())
def test_every_intent_quotes_hostile_data(case):
    analysis, _ = case
    names = [column.name for column in analysis.dataset.columns]
    reuses = [[]]
    if analysis.intent == it.CLUSTER:
        reuses.append(["clustered"])
    if analysis.intent == it.MODEL:
        reuses.append(list(codegen.MODEL_VARIABLES))
    for reuse in reuses:
        for compute, figure in ((True, False), (False, True), (True, True)):
            code = codegen.program(analysis, compute=compute, figure=figure, reuse=reuse)
            assert "could not write this analysis safely" not in code
            assert_data_only_in_literals(code, names)
    # Every column the analysis uses reaches the code intact, as (part of) a string literal.
    strings = "\x00".join(string_constants(codegen.program(analysis, compute=True, figure=True)))
    counted = analysis.measure if analysis.agg == "count" else None  # counting rows needs no measure
    for name in analysis.used_columns:
        assert name in strings or name == counted


def test_every_intent_is_covered():
    """The property above draws from ``it.INTENTS``; each has a code builder."""
    dataset = hostile_dataset([f"c{i}" for i in range(8)], ["a", "b"], "df", 100)
    for intent in it.INTENTS:
        code = codegen.program(it.Analysis(intent, dataset, source="df"), compute=True, figure=True)
        ast.parse(code)


QUESTIONS = [
    "Give me summary statistics",
    "Show missing values",
    "Clean the data",
    "Show the distribution of the first column",
    "Show the correlation matrix of the numeric columns",
    "What drives the values?",
    "Compare the groups",
    "Show the trend over time",
    "Fit a regression",
    "Predict it with a random forest",
    "Cluster the rows into 4 groups",
    "Clean the data, then cluster it",
    "tell me a joke",
    "Forecast next year",
]


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(hostile, min_size=8, max_size=8, unique=True),
    values=st.lists(hostile, min_size=2, max_size=3, unique=True),
    dataset_name=hostile_dataset_name,
    question=st.sampled_from(QUESTIONS),
    agent=st.sampled_from(["statistical_analytics_agent", "data_viz_agent", "preprocessing_agent"]),
)
def test_answers_to_questions_quote_hostile_data(names, values, dataset_name, question, agent):
    dataset = hostile_dataset(names, values, dataset_name, 500)
    # The offline engine reads the context back from the JSON text the agents receive.
    datasets = context_from_text(context_to_text([dataset]))
    assert datasets[0].columns[0].name == names[0]
    code, _ = analyst.write_code(agent=agent, goal=question, datasets=datasets, plan_instructions="")
    assert_data_only_in_literals(code, names)
    # A question that quotes a hostile value as a filter.
    goal = f"Average {names[0]} where {names[4]} is {values[0]}"
    code, _ = analyst.write_code(agent=agent, goal=goal, datasets=datasets, plan_instructions="")
    assert_data_only_in_literals(code, names)


# --- repairs and edits ---------------------------------------------------------------------

FIGURE_CODE = (
    '"""Mean by group"""\n'
    "table = data.groupby(\"g\")[\"v\"].mean().reset_index()\n"
    "fig = px.bar(\n"
    '    table, x="g", y="v", title="Mean v by g",\n'
    '    labels={"g": "G", "v": "V"}, template="plotly_white",\n'
    ")\n"
    "fig.show()\n"
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    names=st.lists(hostile, min_size=8, max_size=8, unique=True),
    dataset_name=hostile_dataset_name,
    prompt_text=hostile,
)
def test_repairs_and_edits_quote_hostile_data(names, dataset_name, prompt_text):
    dataset = hostile_dataset(names, ["a", "b"], dataset_name, 500)
    n1, _, _, _, category, date, _, free = names
    typo = n1.upper() if n1.upper() != n1 else n1 + "x"
    cases = [
        # A misspelt column: the real (hostile) name replaces it, in a subscript and a formula.
        (f"print(df[{lit(typo)}].mean())", f"KeyError: {typo!r}"),
        # Numbers stored as text and dates stored as text: conversions of the hostile columns.
        (
            f"total = df[{lit(free)}].sum() / 2",
            f">>>    1 | total = df[{lit(free)}].sum() / 2\n"
            "TypeError: unsupported operand type(s) for /: 'str' and 'int'",
        ),
        (
            f"years = df[{lit(date)}].dt.year",
            f">>>    1 | years = df[{lit(date)}].dt.year\n"
            "AttributeError: Can only use .dt accessor with datetimelike values",
        ),
        ("print(dta.head())", "NameError: name 'dta' is not defined"),
    ]
    dataset.columns[7].samples = ["1,200", "30"]
    for code, error in cases:
        fixed = repair.fix_code(code=code, error=error, datasets=[dataset])
        assert_data_only_in_literals(fixed, names)
    prompts = [
        f"title it {prompt_text}",
        f'call it "{prompt_text}"',
        f"use {category} instead of g",
        f"show {n1} instead",
        f"{prompt_text} as a line chart",
        prompt_text,
    ]
    code = FIGURE_CODE.replace('"g"', lit(category)).replace('"v"', lit(n1))
    for prompt in prompts:
        edited = repair.edit_code(code=code, prompt=prompt, datasets=[dataset])
        assert_data_only_in_literals(edited, names)
        if edited.startswith("# Edit not understood"):
            assert MARKER not in edited.split("\n", 1)[0]


def test_edit_title_is_a_quoted_literal():
    dataset = hostile_dataset([f"c{i}" for i in range(8)], ["a", "b"], "df", 100)
    # The quoted part of the prompt is the title; the rest of it never reaches the code.
    edited = repair.edit_code(code=FIGURE_CODE, prompt='title it "x")\nimport os\n#', datasets=[dataset])
    assert edited.endswith('fig.update_layout(title="x")\nfig.show()\n')
    assert "import os" not in edited
    edited = repair.edit_code(code=FIGURE_CODE, prompt="title it x)\nimport os\n#", datasets=[dataset])
    assert_data_only_in_literals(edited, ["import os"])


def test_fix_of_a_formula_quotes_a_hostile_column_for_patsy():
    name = 'unit "price"\n+ __import__("os")'
    dataset = hostile_dataset([name, *[f"c{i}" for i in range(7)]], ["a", "b"], "df", 100)
    code = 'model = smf.ols("c0 ~ UNIT_PRICE", data=df).fit()'
    fixed = repair.fix_code(code=code, error="NameError: name 'UNIT_PRICE' is not defined", datasets=[dataset])
    assert_data_only_in_literals(fixed, [c.name for c in dataset.columns])
    formula = string_constants(fixed)[0]
    assert formula == "c0 ~ Q(" + json.dumps(name) + ")"
