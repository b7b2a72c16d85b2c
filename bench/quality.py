"""Quality suite of the offline analyst: does it answer analysis questions *correctly*?

Each :class:`Case` is a question (with earlier questions, for follow-ups) on one dataset
and a ``check`` that recomputes the truth with pandas/scipy/statsmodels/scikit-learn on
its own and compares it with the answer: numbers that must appear in the summary (to the
rounding printed), figures of the right kind with the right data on their axes, model
scores equal to an independent fit or within a range, cluster sizes that add up.

``answer_direct`` answers a case end to end without DSPy: plan, write each step's code,
run it in the real sandbox (earlier steps' code first, as marked blocks, so variables
carry over), summarize. ``python -m bench.quality`` runs every case and prints a table;
``tests/sessions_app/test_offline_quality.py`` runs them as tests.

Datasets: Gapminder (the default ``df``), ``tests/data/Housing.csv``,
``seattle-weather.csv`` and ``stocks.csv`` (see ``tests/data/README.md``), and
``housing_dirty``: Housing with missing values and duplicate rows put in on purpose, so
that cleaning has something to do.
"""

from __future__ import annotations

import base64
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import statsmodels.formula.api as smf
from scipy import stats

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"

# The agents the planner offers by default (names and template categories of the reference).
PLANNER_AGENTS = {
    "planner_preprocessing_agent": "Category: Data Manipulation. Cleans and prepares data with pandas.",
    "planner_statistical_analytics_agent": "Category: Data Modelling. Statistics with statsmodels and scipy.",
    "planner_sk_learn_agent": "Category: Data Modelling. Machine learning with scikit-learn.",
    "planner_data_viz_agent": "Category: Data Visualization. Charts with Plotly.",
}


@dataclass
class AgentAnswer:
    agent: str
    code: str
    stdout: str
    figures: list[dict]
    summary: str
    ok: bool


@dataclass
class Case:
    dataset: str
    question: str
    check: Callable[[list[AgentAnswer], pd.DataFrame], None]
    history: list[str] = field(default_factory=list)


# --- datasets ----------------------------------------------------------------------------


def _dirty(table: pa.Table) -> pa.Table:
    """Housing with gaps and repeats: every 9th price and every 7th furnishingstatus missing,
    every 11th area missing, and the first 6 rows repeated at the end."""
    frame = table.to_pandas()
    frame["price"] = frame["price"].astype("float64")
    frame["area"] = frame["area"].astype("float64")
    frame["furnishingstatus"] = frame["furnishingstatus"].astype("object")
    frame.loc[frame.index % 9 == 4, "price"] = np.nan
    frame.loc[frame.index % 11 == 5, "area"] = np.nan
    frame.loc[frame.index % 7 == 3, "furnishingstatus"] = None
    frame = pd.concat([frame, frame.head(6)], ignore_index=True)
    return pa.Table.from_pandas(frame, preserve_index=False)


@cache
def tables() -> dict[str, pa.Table]:
    """The suite's datasets as the product stores them (parsed by its own CSV reader)."""
    from sessions_app.default_dataset import load_table
    from sessions_app.ingest import read_csv

    housing = read_csv(DATA / "Housing.csv")
    return {
        "df": load_table(),
        "housing": housing,
        "seattle_weather": read_csv(DATA / "seattle-weather.csv"),
        "stocks": read_csv(DATA / "stocks.csv"),
        "housing_dirty": _dirty(housing),
    }


@cache
def parquet_path(name: str) -> str:
    directory = Path(tempfile.mkdtemp(prefix="offline-quality-"))
    path = directory / f"{name}.parquet"
    pq.write_table(tables()[name], path)
    return str(path)


@cache
def context(name: str):
    from sessions_app.agents.context import dataset_context_compute

    return dataset_context_compute(name=name, description="", table=tables()[name])


def frame(name: str) -> pd.DataFrame:
    """The dataset as the sandbox loads it."""
    return pq.read_table(parquet_path(name)).to_pandas()


# --- answering ---------------------------------------------------------------------------


def goal_text(question: str, history: list[tuple[str, str]]) -> str:
    """The query the chat sends agents (reference §1.3)."""
    if not history:
        return question
    past = "\n\n".join(f"Query: {query}\nSummary: {summary}" for query, summary in history)
    return f"### Current Query:\n{question}\n\n### Previous Interaction History:\n{past}"


def _block(agent: str, code: str) -> str:
    return f"# {agent} code start\n{code}\n# {agent} code end\n"


def _last_section(output: str, header: str) -> tuple[str, str]:
    """(stdout, error) of the block headed ``header`` in code_run's output text."""
    stdout, error = "", ""
    for match in re.finditer(r"\n\n=== (OUTPUT FROM|ERROR IN) (.+?) ===\n(.*?)(?=\n\n=== |\Z)", output, re.S):
        if match.group(2) != header:
            continue
        body = match.group(3)
        if match.group(1) == "OUTPUT FROM":
            stdout = body[:-1] if body.endswith("\n") else body
        else:
            error = body.strip()
    return stdout, error


def _figure(text: str) -> dict:
    return json.loads(text[len("```plotly\n") : -len("\n```\n")])


def answer_question(dataset: str, question: str, history: list[tuple[str, str]]) -> list[AgentAnswer]:
    from codeexec.blocks import split_blocks
    from codeexec.client import DatasetInput
    from codeexec.services import code_run
    from sessions_app.agents.offline import analyst

    contexts = [context(dataset)]
    inputs = [DatasetInput(name=dataset, path=parquet_path(dataset))]
    goal = goal_text(question, history)
    complexity, _ = analyst.allocate(goal=goal, datasets=contexts)
    steps = analyst.plan(goal=goal, datasets=contexts, agents=PLANNER_AGENTS, complexity=complexity)
    answers: list[AgentAnswer] = []
    earlier: list[tuple[str, str, int]] = []  # (agent, code, figures) of steps that worked
    for step in steps:
        if step.agent == analyst.BASIC_QA_AGENT:
            text = analyst.answer_general(goal=goal, datasets=contexts)
            answers.append(AgentAnswer(step.agent, "", "", [], text, True))
            continue
        instructions = json.dumps({"create": step.create, "use": step.use, "instruction": step.instruction})
        code, _ = analyst.write_code(agent=step.agent, goal=goal, datasets=contexts, plan_instructions=instructions)
        script = "".join(_block(agent, text) for agent, text, _ in earlier) + _block(step.agent, code)
        result = code_run(code=script, datasets=inputs)
        header = split_blocks(script)[-1].header
        stdout, error = _last_section(result.output, header)
        ok = header.lower() not in result.failed_agents
        skip = sum(count for _, _, count in earlier)
        figures = [_figure(text) for text in (result.plotly_outputs or [])][skip:] if ok else []
        response = f"{code}\nOutput:\n{stdout}" + (f"\n{error}" if error else "")
        summary = analyst.summarize(goal=goal, agent_response=response)
        answers.append(AgentAnswer(step.agent, code, stdout + (f"\n{error}" if error else ""), figures, summary, ok))
        if ok:
            earlier.append((step.agent, code, len(figures)))
    return answers


def answer_direct(case: Case) -> list[AgentAnswer]:
    """The offline analyst's answer to a case, end to end, with real earlier answers."""
    history: list[tuple[str, str]] = []
    for earlier in case.history:
        answers = answer_question(case.dataset, earlier, history)
        history.append((earlier, "\n".join(answer.summary for answer in answers)[:500]))
    return answer_question(case.dataset, case.question, history)


_SECTION = re.compile(r"### (Code Implementation|Output|Error)\n```(?:python|output)\n(.*?)\n```", re.S)
_SUMMARY = re.compile(r"### (?:Summary|Answer)\n(.*?)(?=\n### |\n```|\Z)", re.S)


def _chat_answer(event: dict) -> AgentAnswer:
    """One streamed agent line back into its parts (code, output, figures, summary)."""
    content = event["content"]
    sections = {name: body for name, body in _SECTION.findall(content)}
    stdout = sections.get("Output", "") + (f"\n{sections['Error']}" if "Error" in sections else "")
    figures = [json.loads(part.split("\n```")[0]) for part in content.split("```plotly\n")[1:]]
    summary = _SUMMARY.search(content)
    text = summary.group(1).strip() if summary else ""
    return AgentAnswer(
        event["agent"], sections.get("Code Implementation", ""), stdout, figures, text, event["status"] == "success"
    )


def answer_via_chat(case: Case) -> list[AgentAnswer]:
    """The case through the product's own path: the ``/chat`` service with the offline DSPy
    engine, the dataset installed in a fresh session, earlier questions asked first in the
    same chat."""
    import threading

    from sessions_app.agents.services import chat_resolve, chat_stream
    from sessions_app.services import NewDataset, datasets_install, session_create

    session = session_create()
    new = NewDataset(
        name=case.dataset, display_name=case.dataset, description="", source="csv", table=tables()[case.dataset]
    )
    datasets_install(session=session, new=[new], replace=True)
    events: list[dict] = []
    for question in [*case.history, case.question]:
        session.refresh_from_db()
        chat = chat_resolve(session=session, user=None, chat_id=None)
        events = []
        chat_stream(
            session=session, user=None, chat=chat, query=question, emit=events.append, cancelled=threading.Event()
        )
    return [_chat_answer(event) for event in events[1:-1] if not event["content"].startswith("**Error in")]


def intent_of(case: Case) -> str:
    from sessions_app.agents.offline import analyst

    goal = goal_text(case.question, [(query, "") for query in case.history])
    analysis = analyst.resolve(goal, [context(case.dataset)])
    return analysis.intent if analysis is not None else "unrelated"


# --- checking ----------------------------------------------------------------------------

_NUMBER = r"([-+]?(?:\d[\d,]*)?\.?\d+(?:e[-+]?\d+)?)"


def summaries(answers: list[AgentAnswer]) -> str:
    return "\n".join(answer.summary for answer in answers)


def all_ok(answers: list[AgentAnswer]) -> None:
    assert answers, "no answer"
    failed = [answer.agent for answer in answers if not answer.ok]
    assert not failed, f"failed steps: {failed}: {[a.stdout[-300:] for a in answers if not a.ok]}"


def printed_number(text: str, label: str) -> str:
    """The number written right after ``label`` (case-insensitive) in ``text``."""
    match = re.search(r"(?<![\w-])" + re.escape(label) + r"[^\d\-+]{0,12}?" + _NUMBER, text, re.IGNORECASE)
    assert match, f"{label!r} with a number not found in:\n{text}"
    return match.group(1)


def close(printed: str, truth: float, what: str) -> None:
    """``printed`` is ``truth`` rounded as printed (its decimals, or significant digits)."""
    value = float(printed.replace(",", ""))
    mantissa, _, exponent = printed.replace(",", "").lower().partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    tolerance = 0.5 * 10 ** (int(exponent or 0) - decimals)
    assert abs(value - truth) <= tolerance * 1.001 + 1e-12, f"{what}: printed {printed}, truth {truth!r}"


def expect(answers: list[AgentAnswer], label: str, truth: float, what: str | None = None) -> None:
    close(printed_number(summaries(answers), label), float(truth), what or label)


def expect_text(answers: list[AgentAnswer], *phrases: str) -> None:
    text = summaries(answers)
    for phrase in phrases:
        assert phrase.lower() in text.lower(), f"{phrase!r} not in:\n{text}"


def decode(values: object) -> np.ndarray:
    """Plotly JSON arrays: plain lists, or typed arrays as base64 ``bdata``."""
    if isinstance(values, dict) and "bdata" in values:
        data = np.frombuffer(base64.b64decode(values["bdata"]), dtype=np.dtype(values["dtype"]))
        shape = values.get("shape")
        if shape:
            data = data.reshape([int(n) for n in str(shape).split(",")])
        return data
    return np.asarray(values if values is not None else [], dtype=object)


def figures(answers: list[AgentAnswer]) -> list[dict]:
    return [figure for answer in answers for figure in answer.figures]


def figure_of(answers: list[AgentAnswer], *kinds: str) -> dict:
    found = [f for f in figures(answers) if f.get("data") and f["data"][0].get("type") in kinds]
    assert found, f"no {kinds} figure; got {[[t.get('type') for t in f.get('data', [])] for f in figures(answers)]}"
    return found[0]


def axis_values(figure: dict, axis: str) -> list:
    values: list = []
    for trace in figure["data"]:
        values.extend(decode(trace.get(axis)).tolist())
    return values


def same_numbers(got: list, expected, what: str, *, ordered: bool = False, places: int = 6) -> None:
    got_values = [float(v) for v in got]
    expected_values = [float(v) for v in expected]
    if not ordered:
        got_values, expected_values = sorted(got_values), sorted(expected_values)
    assert len(got_values) == len(expected_values), f"{what}: {len(got_values)} values, expected {len(expected_values)}"
    assert np.allclose(got_values, expected_values, rtol=10**-places, atol=10**-places), f"{what} differ"


def same_labels(got: list, expected, what: str) -> None:
    assert sorted(map(str, got)) == sorted(map(str, expected)), f"{what}: {sorted(map(str, got))[:8]}..."


def axis_title(figure: dict, axis: str) -> str:
    title = figure["layout"].get(f"{axis}axis", {}).get("title", {})
    return title.get("text", "") if isinstance(title, dict) else str(title)


def dates(series: pd.Series) -> pd.Series:
    return pd.to_datetime(series, errors="coerce")


# --- checks per kind of answer -----------------------------------------------------------


def check_relationship(x: str, y: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        part = rows(data).dropna(subset=[x, y])
        r, p = stats.pearsonr(part[x], part[y])
        expect(answers, f"Pearson r between {x} and {y}:", r)
        expect(answers, "(p-value", p)
        figure = figure_of(answers, "scatter", "scattergl")
        same_numbers(axis_values(figure, "x"), part[x], f"scatter x = {x}")
        same_numbers(axis_values(figure, "y"), part[y], f"scatter y = {y}")
        assert axis_title(figure, "x") and axis_title(figure, "y"), "axis titles missing"

    return check


def check_distribution(column: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        values = rows(data)[column].dropna()
        expect(answers, f"Mean {column}:", values.mean())
        expect(answers, f"Median {column}:", values.median())
        expect(answers, "Skewness:", stats.skew(values, bias=False))
        figure = figure_of(answers, "histogram")
        same_numbers(axis_values(figure, "x"), values, f"histogram of {column}")

    return check


def check_groups(group: str, measure: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d, chart="bar"):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        part = rows(data)
        means = part.groupby(group)[measure].mean()
        expect(answers, f"Highest mean {measure}: {means.idxmax()} (", means.max())
        expect(answers, f"Lowest mean {measure}: {means.idxmin()} (", means.min())
        for name, value in means.head(10).items():
            if len(means) <= 10:
                expect(answers, f"{name}: mean", value)
        samples = [values.dropna() for _, values in part.groupby(group)[measure] if values.notna().sum() > 1]
        if len(samples) >= 2:
            f_stat, p_value = stats.f_oneway(*samples)
            expect(answers, "F =", f_stat)
            expect(answers, f"F = {f_stat:.2f}, p-value", p_value)
        figure = figure_of(answers, chart)
        if chart == "bar":
            same_labels(axis_values(figure, "x"), means.index, f"bars per {group}")
            same_numbers(axis_values(figure, "y"), means.values, f"mean {measure} per {group}")

    return check


def check_trend_numeric(time: str, measure: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        per = rows(data).groupby(time)[measure].mean().sort_index()
        fit = stats.linregress(per.index.astype(float), per.values)
        expect(answers, "Linear trend:", fit.slope)
        expect(answers, f"Mean {measure}:", per.iloc[0])
        expect(answers, f"in {per.index[0]} to", per.iloc[-1])
        figure = figure_of(answers, "scatter")  # px.line draws scatter traces in lines mode
        assert "lines" in figure["data"][0].get("mode", ""), "not a line chart"
        same_numbers(axis_values(figure, "x"), per.index, f"line x = {time}", ordered=True)
        same_numbers(axis_values(figure, "y"), per.values, f"line y = mean {measure}", ordered=True)

    return check


def monthly(part: pd.DataFrame, column: str, how: str) -> pd.Series:
    when = dates(part["date"])
    grouped = part.groupby(when.dt.to_period("M"))[column]
    return getattr(grouped, how)().sort_index()


def check_monthly_trend(column: str, how: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        per = monthly(rows(data), column, how)
        steps = np.array([p.year * 12 + p.month for p in per.index], dtype=float)
        fit = stats.linregress(steps, per.values)
        expect(answers, "Linear trend:", fit.slope)
        word = {"mean": "Mean", "sum": "Total"}[how]
        expect(answers, f"{word} {column}:", per.iloc[0])
        expect(answers, f"in {per.index[0].strftime('%Y-%m')} to", per.iloc[-1])
        figure = figure_of(answers, "scatter")
        same_numbers(axis_values(figure, "y"), per.values, f"monthly {how} of {column}", ordered=True)
        assert len(axis_values(figure, "x")) == len(per), "one point per month"

    return check


def check_regression(formula: str, target: str, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        columns = [name for name in re.findall(r"[A-Za-z_]\w*", formula) if name in data.columns]
        model = smf.ols(formula, data=rows(data)[columns].dropna()).fit()
        expect(answers, "R²:", model.rsquared)
        expect(answers, "(adjusted", model.rsquared_adj)
        term = model.params.index[1]
        expect(answers, f"{term}: coefficient", model.params[term])
        expect(
            answers,
            f"{term}: coefficient {printed_number(summaries(answers), term + ': coefficient')} (p-value",
            model.pvalues[term],
        )

    return check


def check_cluster(features: list[str], k: int, rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    from sklearn.cluster import KMeans
    from sklearn.preprocessing import StandardScaler

    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        part = rows(data).dropna(subset=features)
        text = summaries(answers)
        sizes = [int(n.replace(",", "")) for n in re.findall(r"Cluster \d+: ([\d,]+) rows", text)]
        assert sizes, f"no cluster sizes in {text}"
        shown = sizes[:k]
        assert len(shown) == k, f"{len(shown)} clusters, expected {k}"
        assert sum(shown) == len(part), f"cluster sizes add up to {sum(shown)}, not {len(part)}"
        labels = KMeans(n_clusters=k, n_init=10, random_state=42).fit_predict(
            StandardScaler().fit_transform(part[features])
        )
        assert sorted(shown) == sorted(np.bincount(labels).tolist()), "cluster sizes differ from an independent fit"
        figure = figures(answers)[-1]
        assert len(figure["data"]) == k, f"{len(figure['data'])} traces, expected one per cluster"
        points = sorted(len(decode(trace.get("x"))) for trace in figure["data"])
        assert points == sorted(shown), "points per cluster in the figure differ from the sizes"

    return check


def check_correlation_matrix(columns: list[str], rows: Callable[[pd.DataFrame], pd.DataFrame] = lambda d: d):
    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        corr = rows(data)[columns].corr()
        pairs = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack().dropna()
        (a, b), value = pairs.abs().idxmax(), pairs.loc[pairs.abs().idxmax()]
        expect(answers, f"Strongest correlation: {a} and {b} (r =", value)
        figure = figure_of(answers, "heatmap")
        z = (
            np.array([[float(v) for v in row] for row in figure["data"][0]["z"]])
            if isinstance(figure["data"][0]["z"], list)
            else decode(figure["data"][0]["z"]).astype(float)
        )
        assert z.shape == corr.shape, f"heatmap {z.shape}, expected {corr.shape}"
        assert np.allclose(z, corr.round(2).values, atol=1e-9), "heatmap values differ from the correlations"
        same_labels(decode(figure["data"][0]["x"]).tolist(), columns, "heatmap columns")

    return check


def model_features(data: pd.DataFrame, features: list[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    numeric = [f for f in features if pd.api.types.is_numeric_dtype(data[f])]
    categorical = [f for f in features if f not in numeric]
    return (
        numeric,
        categorical,
        ColumnTransformer(
            [
                ("n", Pipeline([("i", SimpleImputer(strategy="median")), ("s", StandardScaler())]), numeric),
                ("c", OneHotEncoder(handle_unknown="ignore"), categorical),
            ]
        ),
    )


def check_model_range(target: str, metric: str, low: float, high: float, features: list[str] | None = None):
    """A forest's held-out score in a plausible range, and better than the naive baseline."""

    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        text = summaries(answers)
        score = float(printed_number(text, metric))
        assert low <= score <= high, f"{metric} {score} outside [{low}, {high}]"
        rows = data.dropna(subset=[target])
        held_out = re.search(r"on ([\d,]+) held-out rows", text)
        assert held_out and int(held_out.group(1).replace(",", "")) == len(rows) - int(len(rows) * 0.75), "test rows"
        if "accuracy" in metric:
            from sklearn.model_selection import train_test_split

            _, _, y_train, y_test = train_test_split(rows, rows[target].astype(str), test_size=0.25, random_state=42)
            baseline = (y_test == y_train.mode().iloc[0]).mean()
            expect(answers, "Baseline accuracy (always the most common class):", baseline)
            assert score > baseline, "no better than always guessing the most common class"
        if features is not None:
            expect_text(answers, *[f for f in features])

    return check


def check_linear_model(target: str, features: list[str]):
    """A linear model's held-out R² and MAE, equal to an independent fit on the same split."""
    from sklearn.linear_model import LinearRegression
    from sklearn.metrics import mean_absolute_error, r2_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        rows = data.dropna(subset=[target])
        numeric, categorical, prepare = model_features(rows, features)
        features_frame = rows[numeric + categorical].copy()
        features_frame[categorical] = features_frame[categorical].astype(str)
        x_train, x_test, y_train, y_test = train_test_split(
            features_frame, rows[target], test_size=0.25, random_state=42
        )
        model = Pipeline([("p", prepare), ("m", LinearRegression())]).fit(x_train, y_train)
        predictions = model.predict(x_test)
        expect(answers, "Test R²:", r2_score(y_test, predictions))
        expect(answers, "Test MAE:", mean_absolute_error(y_test, predictions))
        figure = figure_of(answers, "scatter", "scattergl")
        same_numbers(axis_values(figure, "x"), y_test, "actual values on x")

    return check


def check_logistic(target: str, features: list[str]):
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, f1_score
    from sklearn.model_selection import train_test_split
    from sklearn.pipeline import Pipeline

    def check(answers: list[AgentAnswer], data: pd.DataFrame) -> None:
        all_ok(answers)
        rows = data.dropna(subset=[target])
        numeric, categorical, prepare = model_features(rows, features)
        features_frame = rows[numeric + categorical].copy()
        y = rows[target].astype(str)
        x_train, x_test, y_train, y_test = train_test_split(features_frame, y, test_size=0.25, random_state=42)
        model = Pipeline([("p", prepare), ("m", LogisticRegression(max_iter=1000))]).fit(x_train, y_train)
        predictions = model.predict(x_test)
        expect(answers, "Test accuracy:", accuracy_score(y_test, predictions))
        expect(answers, "F1 (macro):", f1_score(y_test, predictions, average="macro"))

    return check


# --- the cases ---------------------------------------------------------------------------


def only(**conditions) -> Callable[[pd.DataFrame], pd.DataFrame]:
    """Rows where each column equals a value (``year=2007``) or passes a predicate."""

    def select(data: pd.DataFrame) -> pd.DataFrame:
        mask = pd.Series(True, index=data.index)
        for column, wanted in conditions.items():
            mask &= wanted(data[column]) if callable(wanted) else data[column] == wanted
        return data[mask]

    return select


def in_year(year: int) -> Callable[[pd.Series], pd.Series]:
    return lambda values: dates(values).dt.year == year


def _overview_gapminder(answers, data):
    all_ok(answers)
    expect(answers, "Rows:", len(data))
    for column in ("lifeExp", "pop", "gdpPercap"):
        expect(answers, f"{column}: mean", data[column].mean())
        expect(answers, f"{column}: mean {data[column].mean():,.2f}, median", data[column].median())
    expect_text(answers, f"most common Africa ({(data.continent == 'Africa').sum()} rows)")


def _overview_housing(answers, data):
    all_ok(answers)
    for column in ("price", "area"):
        expect(answers, f"{column}: mean", data[column].mean())
        expect(answers, f"{column}: mean {data[column].mean():,.2f}, median", data[column].median())
        expect_text(answers, f"min {data[column].min():,.2f}, max {data[column].max():,.2f}")


def _overview_weather(answers, data):
    all_ok(answers)
    expect(answers, "Rows:", len(data))
    for column in ("precipitation", "temp_max", "temp_min", "wind"):
        expect(answers, f"{column}: mean", data[column].mean())
    expect_text(answers, "date spans 2012-01-01 to 2015-12-31")


def _missing_none(answers, data):
    all_ok(answers)
    expect(answers, "Missing values:", int(data.isna().sum().sum()))
    expect(answers, "Duplicate rows:", int(data.duplicated().sum()))
    expect(answers, "Complete rows:", len(data))


def _missing_dirty(answers, data):
    all_ok(answers)
    missing = data.isna().sum()
    expect(answers, "Missing values:", int(missing.sum()))
    for column in ("price", "area", "furnishingstatus"):
        expect(answers, f"{column}:", int(missing[column]), f"missing {column}")
    expect(answers, "Duplicate rows:", int(data.duplicated().sum()))
    expect(answers, "Complete rows:", int(data.notna().all(axis=1).sum()))


def _clean_dirty(answers, data):
    all_ok(answers)
    expect(answers, "Missing values before cleaning:", int(data.isna().sum().sum()))
    expect(answers, "Duplicate rows removed:", int(data.duplicated().sum()))
    expect(answers, f"Rows: {len(data):,} before,", len(data.drop_duplicates()))
    for column in ("price", "area", "furnishingstatus"):
        expect(answers, f"{column}:", int(data.drop_duplicates()[column].isna().sum()), f"{column} filled")
    expect(answers, "Missing values after cleaning:", 0)
    expect_text(answers, "Saved as the dataset housing_dirty_clean")


def _clean_stocks(answers, data):
    all_ok(answers)
    expect(answers, "Missing values before cleaning:", 0)
    expect(answers, "Duplicate rows removed:", int(data.duplicated().sum()))
    expect(answers, "before,", len(data))
    expect_text(answers, "Parsed as dates: date", "Saved as the dataset stocks_clean")


def _clean_then_distribution(answers, data):
    all_ok(answers)
    assert answers[0].agent == "planner_preprocessing_agent", "cleaning comes first"
    cleaned = data.drop_duplicates()
    cleaned = cleaned.fillna({"price": cleaned["price"].median()})
    expect(answers, "Mean price:", cleaned["price"].mean())
    expect(answers, "Median price:", cleaned["price"].median())
    figure = figure_of(answers, "histogram")
    same_numbers(axis_values(figure, "x"), cleaned["price"], "histogram of the cleaned prices")


def _weather_counts(answers, data):
    all_ok(answers)
    counts = data["weather"].value_counts()
    expect(answers, f"Most common weather: {counts.index[0]} (", counts.iloc[0])
    expect(answers, f"Least common weather: {counts.index[-1]} (", counts.iloc[-1])
    figure = figure_of(answers, "bar")
    same_labels(axis_values(figure, "x"), counts.index, "weather types")
    same_numbers(axis_values(figure, "y"), counts.values, "days per weather type")


def _weather_counts_2014(answers, data):
    all_ok(answers)
    part = data[dates(data["date"]).dt.year == 2014]
    counts = part["weather"].value_counts()
    expect_text(answers, f"Based on {len(part):,} rows")
    expect(answers, f"Most common weather: {counts.index[0]} (", counts.iloc[0])
    figure = figure_of(answers, "bar")
    same_numbers(axis_values(figure, "y"), counts.values, "days per weather type in 2014")


def _top_population(answers, data):
    all_ok(answers)
    part = data[data.year == 2007].nlargest(5, "pop")
    expect(answers, f"Highest mean pop: {part.iloc[0]['country']} (", part.iloc[0]["pop"])
    expect(answers, f"Lowest mean pop: {part.iloc[-1]['country']} (", part.iloc[-1]["pop"])
    figure = figure_of(answers, "bar")
    same_labels(axis_values(figure, "x"), part["country"], "the 5 most populous countries")


def _china_population(answers, data):
    all_ok(answers)
    part = data[data.country == "China"].sort_values("year")
    fit = stats.linregress(part["year"], part["pop"])
    expect(answers, "Mean pop:", part["pop"].iloc[0])
    expect(answers, "Linear trend:", fit.slope)
    expect_text(answers, "country is China")


def _trend_bar(answers, data):
    all_ok(answers)
    per = data.groupby("year")["lifeExp"].mean()
    assert [a.agent for a in answers] == ["planner_data_viz_agent"], "only the chart is redone"
    figure = figure_of(answers, "bar")
    same_numbers(axis_values(figure, "x"), per.index, "years", ordered=True)
    same_numbers(axis_values(figure, "y"), per.values, "mean lifeExp per year", ordered=True)


def _gdp_followup(answers, data):
    all_ok(answers)
    values = data["gdpPercap"]
    expect(answers, "Mean gdpPercap:", values.mean())
    expect(answers, "Skewness:", stats.skew(values, bias=False))
    figure = figure_of(answers, "histogram")
    same_numbers(axis_values(figure, "x"), values, "histogram of gdpPercap")


def _drivers_price(answers, data):
    all_ok(answers)
    corr = data.select_dtypes("number").corr()["price"].drop("price")
    expect(answers, f"Strongest correlation with price: {corr.abs().idxmax()} (r =", corr[corr.abs().idxmax()])
    for column, value in corr.items():
        expect(answers, f"{column}: r =", value)
    figure = figure_of(answers, "bar")
    same_numbers(axis_values(figure, "y"), corr.values, "correlations with price")


def _symbol_highest(answers, data):
    all_ok(answers)
    means = data.groupby("symbol")["price"].mean()
    expect(answers, f"Highest mean price: {means.idxmax()} (", means.max())
    expect(answers, f"Lowest mean price: {means.idxmin()} (", means.min())


def _stock_trends(answers, data):
    all_ok(answers)
    for symbol, part in data.assign(when=dates(data["date"])).sort_values("when").groupby("symbol"):
        per = part.groupby(part["when"].dt.to_period("M"))["price"].mean()
        steps = np.array([p.year * 12 + p.month for p in per.index], dtype=float)
        slope = stats.linregress(steps, per.values).slope
        start, end = per.index[0].strftime("%Y-%m"), per.index[-1].strftime("%Y-%m")
        expect(answers, f"{symbol}:", per.iloc[0])
        expect(answers, f"{symbol}: {per.iloc[0]:,.2f} in {start} to", per.iloc[-1])
        expect(answers, f"{symbol}: {per.iloc[0]:,.2f} in {start} to {per.iloc[-1]:,.2f} in {end}; slope", slope)
    figure = figure_of(answers, "scatter")
    assert len(figure["data"]) == data["symbol"].nunique(), "one line per symbol"


def _aapl_trend(answers, data):
    all_ok(answers)
    part = data[data.symbol == "AAPL"].assign(when=lambda d: dates(d["date"])).sort_values("when")
    steps = np.array([w.year * 12 + w.month for w in part["when"]], dtype=float)
    expect(answers, f"AAPL: {part['price'].iloc[0]:,.2f} in 2000-01 to", part["price"].iloc[-1])
    expect(answers, "slope", stats.linregress(steps, part["price"]).slope)
    figure = figure_of(answers, "scatter")
    assert len(figure["data"]) == 1, "only AAPL"
    same_numbers(axis_values(figure, "y"), part["price"], "AAPL prices", ordered=True)


def _ibm_distribution(answers, data):
    check_distribution("price", only(symbol="IBM"))(answers, data)
    expect_text(answers, "symbol is IBM")


def _classifier_weather(answers, data):
    check_model_range("weather", "Test accuracy:", 0.6, 0.95)(answers, data)
    figure = figure_of(answers, "heatmap") if len(answers) > 1 else None
    if figure is not None:
        total = (
            decode(figure["data"][0]["z"]).astype(float).sum()
            if isinstance(figure["data"][0]["z"], dict)
            else (np.array(figure["data"][0]["z"], dtype=float).sum())
        )
        assert total == len(data) - int(np.floor(len(data) * 0.75)), "confusion matrix counts the held-out rows"


CASES: list[Case] = [
    # Gapminder (df)
    Case("df", "Give me an overview of the dataset", _overview_gapminder),
    Case("df", "Are there any missing values?", _missing_none),
    Case("df", "What is the distribution of lifeExp?", check_distribution("lifeExp")),
    Case(
        "df",
        "What is the relationship between gdpPercap and lifeExp in 2007?",
        check_relationship("gdpPercap", "lifeExp", only(year=2007)),
    ),
    Case(
        "df",
        "Show the correlation matrix of lifeExp, pop and gdpPercap",
        check_correlation_matrix(["lifeExp", "pop", "gdpPercap"]),
    ),
    Case("df", "Compare life expectancy across continents", check_groups("continent", "lifeExp")),
    Case(
        "df",
        "What is the average gdpPercap per continent in 1952?",
        check_groups("continent", "gdpPercap", only(year=1952)),
    ),
    Case("df", "How has life expectancy changed over time?", check_trend_numeric("year", "lifeExp")),
    Case("df", "How has the population of China changed over time?", _china_population),
    Case("df", "Top 5 countries by population in 2007", _top_population),
    Case(
        "df",
        "Run a regression of lifeExp on gdpPercap, pop and continent",
        check_regression("lifeExp ~ gdpPercap + pop + C(continent)", "lifeExp"),
    ),
    Case(
        "df",
        "Train a model to predict continent from lifeExp, gdpPercap and pop",
        check_model_range("continent", "Test accuracy:", 0.55, 0.95),
    ),
    Case(
        "df",
        "Use logistic regression to classify continent from lifeExp and gdpPercap",
        check_logistic("continent", ["lifeExp", "gdpPercap"]),
    ),
    Case(
        "df",
        "Cluster the countries into 4 groups using lifeExp and gdpPercap in 2007",
        check_cluster(["lifeExp", "gdpPercap"], 4, only(year=2007)),
    ),
    # Gapminder follow-ups
    Case(
        "df",
        "now only for 1952",
        check_relationship("gdpPercap", "lifeExp", only(year=1952)),
        history=["What is the relationship between gdpPercap and lifeExp?"],
    ),
    Case(
        "df",
        "same for 2007",
        check_groups("continent", "lifeExp", only(year=2007)),
        history=["Compare life expectancy across continents"],
    ),
    Case("df", "show it as a bar chart instead", _trend_bar, history=["How has life expectancy changed over time?"]),
    Case("df", "what about gdpPercap?", _gdp_followup, history=["What is the distribution of lifeExp?"]),
    Case(
        "df",
        "and for 1952?",
        check_groups("continent", "lifeExp", only(year=1952)),
        history=["Compare life expectancy across continents", "now only for 2007"],
    ),
    # Housing
    Case("housing", "Summarize price and area", _overview_housing),
    Case("housing", "Show the distribution of price", check_distribution("price")),
    Case("housing", "Does area affect price?", check_relationship("area", "price")),
    Case("housing", "Which variables are most correlated with price?", _drivers_price),
    Case("housing", "What is the average price by furnishingstatus?", check_groups("furnishingstatus", "price")),
    Case(
        "housing",
        "Compare the price of houses with and without airconditioning",
        check_groups("airconditioning", "price"),
    ),
    Case(
        "housing",
        "Average price by furnishingstatus where bedrooms > 3",
        check_groups("furnishingstatus", "price", only(bedrooms=lambda v: v > 3)),
    ),
    Case(
        "housing",
        "Regress price on area, bedrooms, bathrooms and airconditioning",
        check_regression("price ~ area + bedrooms + bathrooms + C(airconditioning)", "price"),
    ),
    Case(
        "housing",
        "Predict price from area, bedrooms, bathrooms, stories and parking",
        check_model_range("price", "Test R²:", 0.2, 0.8),
    ),
    Case(
        "housing",
        "Train a linear regression model to predict price from area, bathrooms and furnishingstatus, "
        "and plot the predictions",
        check_linear_model("price", ["area", "bathrooms", "furnishingstatus"]),
    ),
    Case("housing", "Predict the number of bedrooms", check_model_range("bedrooms", "Test accuracy:", 0.6, 0.85)),
    Case("housing", "Segment the houses into 3 clusters by price and area", check_cluster(["price", "area"], 3)),
    # Housing with gaps and repeats
    Case("housing_dirty", "How many missing values does each column have?", _missing_dirty),
    Case("housing_dirty", "Clean the data: fill missing values and drop duplicate rows", _clean_dirty),
    Case("housing_dirty", "Clean the data, then show the distribution of price", _clean_then_distribution),
    # Seattle weather
    Case("seattle_weather", "Give me summary statistics", _overview_weather),
    Case("seattle_weather", "What is the distribution of wind?", check_distribution("wind")),
    Case("seattle_weather", "How are the weather types distributed?", _weather_counts),
    Case(
        "seattle_weather",
        "Is there a relationship between temp_min and temp_max?",
        check_relationship("temp_min", "temp_max"),
    ),
    Case(
        "seattle_weather",
        "Show a heatmap of the correlations",
        check_correlation_matrix(["precipitation", "temp_max", "temp_min", "wind"]),
    ),
    Case(
        "seattle_weather", "How does the maximum temperature change per month?", check_monthly_trend("temp_max", "mean")
    ),
    Case(
        "seattle_weather",
        "Monthly total precipitation in 2015",
        check_monthly_trend("precipitation", "sum", only(date=in_year(2015))),
    ),
    Case("seattle_weather", "Compare average wind across weather types", check_groups("weather", "wind")),
    Case("seattle_weather", "How many days of each weather type were there in 2014?", _weather_counts_2014),
    Case(
        "seattle_weather",
        "Regress temp_max on temp_min and precipitation",
        check_regression("temp_max ~ temp_min + precipitation", "temp_max"),
    ),
    Case(
        "seattle_weather",
        "Can we predict the weather type from precipitation, temp_max, temp_min and wind? Show the confusion matrix",
        _classifier_weather,
    ),
    Case(
        "seattle_weather",
        "Cluster the days into 3 groups using temp_max, precipitation and wind",
        check_cluster(["temp_max", "precipitation", "wind"], 3),
    ),
    Case(
        "seattle_weather",
        "now only for 2013",
        check_monthly_trend("temp_max", "mean", only(date=in_year(2013))),
        history=["How does the maximum temperature change per month?"],
    ),
    Case(
        "seattle_weather",
        "what about precipitation?",
        check_groups("weather", "precipitation"),
        history=["Compare average wind across weather types"],
    ),
    # Stocks
    Case("stocks", "Show the price trend for each symbol", _stock_trends),
    Case("stocks", "Which symbol has the highest average price?", _symbol_highest),
    Case("stocks", "Distribution of price for IBM", _ibm_distribution),
    Case("stocks", "only for AAPL", _aapl_trend, history=["Show the price trend for each symbol"]),
    Case("stocks", "Clean the data", _clean_stocks),
]


# --- running -----------------------------------------------------------------------------


def run_case(case: Case, answer_fn: Callable[[Case], list[AgentAnswer]]) -> tuple[bool, str, float]:
    started = time.perf_counter()
    try:
        answers = answer_fn(case)
        case.check(answers, frame(case.dataset))
    except AssertionError as error:
        return (
            False,
            str(error).splitlines()[0][:160] if str(error) else "assertion failed",
            time.perf_counter() - started,
        )
    except Exception as error:  # an answer that crashes is a wrong answer, reported as such
        return False, f"{type(error).__name__}: {error}"[:160], time.perf_counter() - started
    return True, "", time.perf_counter() - started


def run(answer_fn: Callable[[Case], list[AgentAnswer]] = answer_direct) -> list[tuple[Case, bool, str]]:
    """Every case through ``answer_fn``; prints one row per case and the total."""
    results = []
    started = time.perf_counter()
    print(f"{'question':<70} {'intent':<13} {'result':<6} {'s':>6}")
    for case in CASES:
        passed, reason, seconds = run_case(case, answer_fn)
        question = (" / ".join([*case.history, case.question]))[:68]
        print(f"{question:<70} {intent_of(case):<13} {'pass' if passed else 'FAIL':<6} {seconds:6.2f}")
        if not passed:
            print(f"    {reason}")
        results.append((case, passed, reason))
    correct = sum(1 for _, passed, _ in results if passed)
    print(f"\n{correct}/{len(results)} correct in {time.perf_counter() - started:.1f} s")
    return results


def setup_django() -> None:
    """Standalone runs: Django settings and a scratch DATA_DIR (the sandbox starts by itself)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DATA_DIR", tempfile.mkdtemp(prefix="offline-quality-data-"))
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)


def main(argv: list[str] | None = None) -> int:
    """``python -m bench.quality`` runs the cases through the product's chat path;
    ``--direct`` calls the analyst and the sandbox without DSPy and the chat service."""
    argv = sys.argv[1:] if argv is None else argv
    setup_django()
    results = run(answer_direct if "--direct" in argv else answer_via_chat)
    return 0 if all(passed for _, passed, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
