"""Python code for an :class:`~.intents.Analysis`, as an analyst would write it.

Every program starts from a copy of the dataset's variable (``data = df.copy()``),
converts date-like columns with ``pd.to_datetime(errors="coerce")``, applies the
question's filters, does its work with the sandbox's preloaded names (``pd``, ``np``,
``px``, ``stats``, ``smf``; scikit-learn is imported where used), prints tables with
``print(frame)`` and ends with the findings convention::

    print("Key findings:")
    print(f"- Mean lifeExp: {values.mean():,.2f}")

so that the answer's summary can quote computed numbers. An intent has up to two parts:
the computation (statistics, tables, models) and the figure; an agent gets the part of
its role, or both.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field

from sessions_app.agents.context import BOOLEAN, CATEGORICAL, DATETIME, NUMERIC, TEXT, DatasetContext
from sessions_app.agents.offline import columns as cols
from sessions_app.agents.offline import intents as it
from sessions_app.agents.offline.literals import UnsafeCodeError, docstring, is_plain_name, lit, variable, verify
from sessions_app.agents.offline.literals import fstring_key as flit
from sessions_app.agents.offline.literals import fstring_text as ftext

logger = logging.getLogger(__name__)

SCATTER_SAMPLE_ABOVE = 50_000
SCATTER_SAMPLE_SIZE = 5_000
TEMPLATE = "plotly_white"
PERIOD_WORDS = {"D": "day", "W": "week", "M": "month", "Q": "quarter", "Y": "year"}


def col(frame: str, name: str) -> str:
    return f"{frame}[{lit(name)}]"


def fcol(frame: str, name: str) -> str:
    return f"{frame}[{flit(name)}]"


@dataclass
class Parts:
    """One intent's code: shared setup, the computation, the figure, and their findings."""

    title: str
    imports: list[str] = field(default_factory=list)
    core: list[str] = field(default_factory=list)
    compute: list[str] = field(default_factory=list)
    compute_findings: list[str] = field(default_factory=list)
    figure: list[str] = field(default_factory=list)
    figure_findings: list[str] = field(default_factory=list)
    creates: list[str] = field(default_factory=list)
    figure_creates: list[str] = field(default_factory=list)


def program(analysis: it.Analysis, *, compute: bool, figure: bool, reuse: list[str] | None = None) -> str:
    """The complete code for ``analysis`` with the chosen parts."""
    parts = parts_for(analysis, reuse=reuse or [])
    lines = [docstring(parts.title)]
    if parts.imports:
        lines += [*sorted(set(parts.imports)), ""]
    lines += prelude(analysis, reuse=reuse or [])
    lines += parts.core
    if compute:
        lines += parts.compute
    if figure and parts.figure:
        lines += parts.figure
    findings: list[str] = []
    for line in (parts.compute_findings if compute else []) + (parts.figure_findings if figure else []):
        if line not in findings:
            findings.append(line)
    lines.append("")
    lines.append('print("Key findings:")')
    lines += findings
    code = "\n".join(_tidy(lines)) + "\n"
    try:
        verify(code)
    except UnsafeCodeError as error:
        # A template bug, never the data's doing: refuse to run code that is not as designed.
        logger.error("offline analyst rendered unsafe code for %s: %s", analysis.intent, error)
        return 'print("The offline analyst could not write this analysis safely.")\n'
    return code


def _tidy(lines: list[str]) -> list[str]:
    """No double blank lines, no blank line at the start of a block."""
    result: list[str] = []
    for line in lines:
        if line == "" and (not result or result[-1] == ""):
            continue
        result.append(line)
    return result


# --- common start -----------------------------------------------------------------------


def prelude(analysis: it.Analysis, *, reuse: list[str]) -> list[str]:
    if analysis.intent == it.CLUSTER and "clustered" in reuse:
        return []  # the clustering step before this one prepared the rows
    if analysis.intent == it.MODEL and all(name in reuse for name in MODEL_VARIABLES):
        return []  # the modelling step before this one split and fitted
    dataset = analysis.dataset
    lines = [f"data = {variable(analysis.source)}.copy()"]
    used = set(analysis.used_columns)
    if analysis.intent in (it.OVERVIEW, it.CLEAN, it.MISSING):
        used |= {c.name for c in dataset.columns}
    for column in dataset.columns:
        if column.name in used and column.kind == DATETIME:
            target = col("data", column.name)
            lines.append(f'{target} = pd.to_datetime({target}, errors="coerce")')
    for condition in analysis.filters:
        lines.append(f"data = data[{filter_mask(condition)}]")
    if analysis.filters:
        described = "; ".join(condition.describe() for condition in analysis.filters)
        lines.append(f'print(f"Rows after filtering ({ftext(described)}): {{len(data):,}}")')
        lines.append("if data.empty:")
        lines.append(f"    raise ValueError({lit('No rows match the filter: ' + described)})")
    lines.append("")
    return lines


def filter_mask(condition: it.Filter) -> str:
    target = col("data", condition.column)
    if condition.op == "year":
        year = lit(condition.value)
        return f"{target}.dt.year == {year}" if condition.on_datetime else f"{target} == {year}"
    if condition.op == "month":
        return f"{target}.dt.month == {lit(condition.value)}"
    if condition.op == "year_range":
        low, high = condition.value  # type: ignore[misc]
        base = f"{target}.dt.year" if condition.on_datetime else target
        if low is not None and high is not None:
            return f"{base}.between({lit(low)}, {lit(high)})"
        return f"{base} >= {lit(low)}" if low is not None else f"{base} <= {lit(high)}"
    if condition.op == "in":
        return f"{target}.isin({lit(list(condition.value))})"  # type: ignore[call-overload]
    if condition.op not in ("==", "!=", ">", ">=", "<", "<="):
        raise UnsafeCodeError(f"unknown filter operator {condition.op!r}")
    return f"{target} {condition.op} {lit(condition.value)}"


# --- helpers for figures -----------------------------------------------------------------


def labels(*names: str | None, extra: dict[str, str] | None = None) -> str:
    mapping = {name: cols.label(name) for name in names if name}
    mapping.update(extra or {})
    return "{" + ", ".join(f"{lit(k)}: {lit(v)}" for k, v in mapping.items()) + "}"


def wide_range(dataset: DatasetContext, name: str | None) -> bool:
    """Positive values over more than three orders of magnitude read better on a log axis."""
    column = dataset.column(name) if name else None
    if column is None or column.kind != NUMERIC or column.min is None or column.max is None:
        return False
    try:
        low, high = float(column.min), float(column.max)
    except (TypeError, ValueError):
        return False
    return low > 0 and high / low > 1000


def sample_lines(analysis: it.Analysis, frame: str) -> list[str]:
    if analysis.dataset.rows <= SCATTER_SAMPLE_ABOVE:
        return []
    return [
        f"if len({frame}) > {SCATTER_SAMPLE_ABOVE:_}:",
        f"    {frame} = {frame}.sample({SCATTER_SAMPLE_SIZE:_}, random_state=42)  # a readable scatter",
    ]


def scope(analysis: it.Analysis) -> str:
    """ " for rows where ..." for titles and instructions."""
    if not analysis.filters:
        return ""
    return " (" + "; ".join(condition.describe() for condition in analysis.filters) + ")"


AGG_WORDS = {"mean": "Mean", "median": "Median", "sum": "Total", "count": "Number of rows", "max": "Maximum"}
AGG_WORDS["min"] = "Minimum"


# --- the intents -----------------------------------------------------------------------


def parts_for(analysis: it.Analysis, *, reuse: list[str]) -> Parts:
    builders = {
        it.OVERVIEW: _overview,
        it.MISSING: _missing,
        it.CLEAN: _clean,
        it.DISTRIBUTION: _distribution,
        it.RELATIONSHIP: _relationship,
        it.CORRELATION: _correlation,
        it.GROUPS: _groups,
        it.TREND: _trend,
        it.REGRESSION: _regression,
        it.MODEL: _model,
        it.CLUSTER: _cluster,
    }
    builder = builders.get(analysis.intent, _overview)
    if builder in (_cluster, _model):
        return builder(analysis, reuse=reuse)
    return builder(analysis)


def _overview(analysis: it.Analysis) -> Parts:
    dataset = analysis.dataset
    chosen = [dataset.column(name) for name in analysis.focus] if analysis.focus else list(dataset.columns)
    chosen = [c for c in chosen if c is not None]
    numeric = [
        c.name for c in chosen if c.kind == NUMERIC and (analysis.focus or not cols.is_identifier(c, dataset.rows))
    ]
    categories = [
        c.name
        for c in chosen
        if c.kind in (CATEGORICAL, BOOLEAN, TEXT) and c.nulls < dataset.rows and not cols.is_identifier(c, dataset.rows)
    ]
    dates = [c.name for c in chosen if c.kind == DATETIME]
    what = ", ".join(analysis.focus) if analysis.focus else dataset.name
    parts = Parts(title=f"Summary statistics of {what}{scope(analysis)}")
    findings = parts.compute_findings
    compute = parts.compute
    findings.append('print(f"- Rows: {len(data):,}; columns: {data.shape[1]}")')
    if numeric:
        compute.append(f"summary = data[{lit(numeric)}].describe().T")
        compute.append("print(summary.round(2))")
        compute.append("")
        findings.append("for column, row in summary.iterrows():")
        findings.append(
            "    print(f\"- {column}: mean {row['mean']:,.2f}, median {row['50%']:,.2f}, "
            "min {row['min']:,.2f}, max {row['max']:,.2f}\")"
        )
        if analysis.agg == "sum":
            for name in numeric:
                findings.append(f'print(f"- Total {ftext(name)}: {{{fcol("data", name)}.sum():,.2f}}")')
    if categories:
        compute.append(f"categories = {lit(categories)}")
        compute.append("top_values = pd.DataFrame(")
        compute.append("    {")
        compute.append('        "distinct": [data[column].nunique() for column in categories],')
        compute.append('        "most_common": [data[column].value_counts().index[0] for column in categories],')
        compute.append('        "count": [data[column].value_counts().iloc[0] for column in categories],')
        compute.append("    },")
        compute.append("    index=categories,")
        compute.append(")")
        compute.append("print(top_values)")
        compute.append("")
        findings.append("for column, row in top_values.iterrows():")
        findings.append(
            "    print(f\"- {column}: {row['distinct']:,} distinct values; most common {row['most_common']} "
            "({row['count']:,} rows)\")"
        )
    for name in dates:
        findings.append(
            f'print(f"- {ftext(name)} spans {{{fcol("data", name)}.min():%Y-%m-%d}} '
            f'to {{{fcol("data", name)}.max():%Y-%m-%d}}")'
        )
    findings.append('print(f"- Missing values: {int(data.isna().sum().sum()):,}")')
    # Figure: one measure's histogram, or a scatter matrix of up to four measures.
    shown = numeric if analysis.focus else [c.name for c in cols.measures(dataset)]
    if len(shown) == 1:
        name = shown[0]
        parts.figure += [
            "fig = px.histogram(",
            f"    data, x={lit(name)}, nbins=30, title={lit('Distribution of ' + cols.label(name))},",
            f"    labels={labels(name)}, template={lit(TEMPLATE)},",
            ")",
            'fig.update_layout(yaxis_title="Number of rows")',
            "fig.show()",
        ]
    elif shown:
        dims = shown[:4]
        parts.figure += sample_lines(analysis, "data")
        parts.figure += [
            "fig = px.scatter_matrix(",
            f"    data, dimensions={lit(dims)}, title={lit('Pairwise view of ' + ', '.join(dims))},",
            f"    labels={labels(*dims)}, template={lit(TEMPLATE)},",
            ")",
            "fig.update_traces(diagonal_visible=False, marker={'size': 3, 'opacity': 0.5})",
            "fig.show()",
        ]
    parts.figure_findings = list(findings)
    parts.creates = ["summary"] if numeric else []
    return parts


def _missing(analysis: it.Analysis) -> Parts:
    parts = Parts(title=f"Missing values and duplicate rows in {analysis.dataset.name}{scope(analysis)}")
    parts.core = [
        "missing = data.isna().sum()",
        'report = pd.DataFrame({"missing": missing, "percent": (missing / max(len(data), 1) * 100).round(2)})',
    ]
    parts.compute = [
        "print(report)",
        "duplicates = int(data.duplicated().sum())",
        "complete_rows = int(data.notna().all(axis=1).sum())",
    ]
    parts.compute_findings = [
        'print(f"- Missing values: {int(missing.sum()):,} in {int((missing > 0).sum())} of {data.shape[1]} columns")',
        "for column, count in missing[missing > 0].sort_values(ascending=False).items():",
        '    print(f"- {column}: {count:,} missing ({count / len(data):.1%})")',
        'print(f"- Duplicate rows: {duplicates:,}")',
        'print(f"- Complete rows: {complete_rows:,} of {len(data):,}")',
    ]
    parts.figure = [
        'chart_data = report.reset_index(names="column")',
        "fig = px.bar(",
        '    chart_data, x="column", y="missing", title="Missing values per column",',
        '    labels={"column": "Column", "missing": "Missing values"}, template="plotly_white",',
        ")",
        "fig.show()",
    ]
    parts.figure_findings = [parts.compute_findings[0]]
    parts.creates = ["report"]
    return parts


def clean_name(analysis: it.Analysis) -> str:
    base = analysis.dataset.name
    return base if base.endswith("_clean") else f"{base}_clean"


def _clean(analysis: it.Analysis) -> Parts:
    dataset = analysis.dataset
    name = clean_name(analysis)
    target = variable(name)
    in_braces = target if is_plain_name(name) else "data"  # the same frame; no quotes inside f-string braces
    dates = [c.name for c in dataset.columns if c.kind == DATETIME]
    parts = Parts(
        title=f"Clean {dataset.name}: impute missing values, parse dates, drop duplicate rows{scope(analysis)}"
    )
    parts.core = ["rows_before = len(data)", "missing_before = data.isna().sum()"]
    body = [
        "duplicates = int(data.duplicated().sum())",
        "data = data.drop_duplicates().reset_index(drop=True)",
        "to_fill = data.isna().sum()",
        "",
        'numeric_columns = data.select_dtypes("number").columns',
        "data[numeric_columns] = data[numeric_columns].fillna(data[numeric_columns].median())",
        'for column in data.select_dtypes(exclude=["number", "datetime"]).columns:',
        "    most_common = data[column].mode()",
        "    if data[column].isna().any() and not most_common.empty:",
        "        data[column] = data[column].fillna(most_common.iloc[0])",
        "",
        f"{target} = data",
        f"save_dataset({target}, {lit(name)}, {lit(_clean_description(analysis, dates))})",
        f'report = pd.DataFrame({{"missing_before": missing_before, "missing_after": {target}.isna().sum()}})',
        "print(report)",
    ]
    parts.compute = body
    parts.compute_findings = [
        'print(f"- Missing values before cleaning: {int(missing_before.sum()):,}")',
        'print(f"- Duplicate rows removed: {duplicates:,}")',
        "for column, count in to_fill[to_fill > 0].items():",
        '    print(f"- {column}: {count:,} missing values filled")',
        f'print(f"- Rows: {{rows_before:,}} before, {{len({in_braces}):,}} after")',
        f'print(f"- Missing values after cleaning: {{int({in_braces}.isna().sum().sum()):,}}")',
    ]
    if dates:
        parts.compute_findings.append(f'print("- Parsed as dates: {ftext(", ".join(dates))}")')
    parts.compute_findings.append(f'print("- Saved as the dataset {ftext(name)} for later questions")')
    parts.figure = [
        'chart_data = missing_before.rename("missing_before").rename_axis("column").reset_index()',
        "fig = px.bar(",
        '    chart_data, x="column", y="missing_before", title="Missing values per column before cleaning",',
        '    labels={"column": "Column", "missing_before": "Missing values"}, template="plotly_white",',
        ")",
        "fig.show()",
    ]
    parts.figure_findings = parts.compute_findings[:1]
    parts.creates = [name]
    return parts


def _clean_description(analysis: it.Analysis, dates: list[str]) -> str:
    text = f"{analysis.dataset.name} cleaned: missing numbers filled with the median, other missing values"
    text += " with the most common value"
    if dates:
        text += f", {', '.join(dates)} parsed as dates"
    text += ", duplicate rows dropped"
    if analysis.filters:
        text += "; only rows where " + "; ".join(f.describe() for f in analysis.filters)
    return text + "."


def _distribution(analysis: it.Analysis) -> Parts:
    name = analysis.measure
    if name is None:
        return _overview(analysis)
    kind = analysis.column_kind(name)
    if kind != NUMERIC:
        return _category_counts(analysis, name)
    label = cols.label(name)
    parts = Parts(title=f"Distribution of {name}{scope(analysis)}")
    parts.core = [f"values = {col('data', name)}.dropna()", "skewness = values.skew()"]
    parts.core.append(
        'shape = "right-skewed" if skewness > 0.5 else "left-skewed" if skewness < -0.5 else "roughly symmetric"'
    )
    parts.compute = [
        "q1, q3 = values.quantile([0.25, 0.75])",
        "outliers = int(((values < q1 - 1.5 * (q3 - q1)) | (values > q3 + 1.5 * (q3 - q1))).sum())",
        f"print(values.describe().to_frame({lit(name)}).T.round(2))",
    ]
    main = [
        f'print(f"- Mean {ftext(name)}: {{values.mean():,.2f}}")',
        f'print(f"- Median {ftext(name)}: {{values.median():,.2f}}")',
        'print(f"- Skewness: {skewness:.3f} ({shape})")',
    ]
    parts.compute_findings = [
        *main[:2],
        'print(f"- Standard deviation: {values.std():,.2f}; range {values.min():,.2f} to {values.max():,.2f}")',
        main[2],
        'print(f"- Outliers beyond 1.5 IQR: {outliers:,} of {len(values):,} values")',
    ]
    chart = analysis.chart if analysis.chart in ("box", "violin") else "histogram"
    if chart == "histogram":
        call = [
            "fig = px.histogram(",
            f"    data, x={lit(name)}, nbins=30, title={lit('Distribution of ' + label + scope(analysis))},",
            f"    labels={labels(name)}, template={lit(TEMPLATE)},",
            ")",
            'fig.update_layout(yaxis_title="Number of rows", bargap=0.05)',
        ]
    else:
        extra = ", box=True" if chart == "violin" else ""
        call = [
            f"fig = px.{chart}(",
            f"    data, y={lit(name)}{extra}, title={lit('Distribution of ' + label + scope(analysis))},",
            f"    labels={labels(name)}, template={lit(TEMPLATE)},",
            ")",
        ]
    parts.figure = [*call, "fig.show()"]
    parts.figure_findings = [*main, f'print(f"- {chart.title()} of {{len(values):,}} values of {ftext(name)}")']
    parts.creates = ["values"]
    return parts


def _category_counts(analysis: it.Analysis, name: str) -> Parts:
    parts = Parts(title=f"Distribution of {name}{scope(analysis)}")
    parts.core = [
        f"counts = {col('data', name)}.value_counts()",
        "shares = counts / counts.sum() * 100",
    ]
    parts.compute = ['print(pd.DataFrame({"count": counts, "percent": shares.round(2)}))']
    parts.compute_findings = [
        f'print(f"- Most common {ftext(name)}: {{counts.index[0]}} '
        '({counts.iloc[0]:,} rows, {shares.iloc[0]:.1f}%)")',
        f'print(f"- Least common {ftext(name)}: {{counts.index[-1]}} '
        '({counts.iloc[-1]:,} rows, {shares.iloc[-1]:.1f}%)")',
        'print(f"- Distinct values: {counts.size:,}")',
    ]
    title = lit(f"Rows per {cols.label(name).lower()}{scope(analysis)}")
    if analysis.chart == "pie":
        call = [f'fig = px.pie(chart_data, names={lit(name)}, values="count", title={title}, template={lit(TEMPLATE)})']
    else:
        call = [
            "fig = px.bar(",
            f'    chart_data, x={lit(name)}, y="count", title={title},',
            f"    labels={labels(name, extra={'count': 'Number of rows'})}, template={lit(TEMPLATE)},",
            ")",
        ]
    parts.figure = ["chart_data = counts.reset_index()", *call, "fig.show()"]
    parts.figure_findings = parts.compute_findings[:1]
    parts.creates = ["counts"]
    return parts


def _relationship(analysis: it.Analysis) -> Parts:
    x, y, group = analysis.x, analysis.y, analysis.group
    if not x or not y:
        return _correlation(analysis)
    parts = Parts(title=f"Relationship between {x} and {y}{scope(analysis)}")
    keep = [x, y] + ([group] if group else [])
    parts.core = [f"pair = data.dropna(subset={lit([x, y])})[{lit(keep)}]"]
    parts.compute = [
        f"r, p_value = stats.pearsonr({col('pair', x)}, {col('pair', y)})",
        f"rho, rho_p_value = stats.spearmanr({col('pair', x)}, {col('pair', y)})",
        f"slope, intercept = np.polyfit({col('pair', x)}, {col('pair', y)}, 1)",
        'strength = "strong" if abs(r) >= 0.7 else "moderate" if abs(r) >= 0.3 else "weak" if abs(r) >= 0.1 '
        'else "negligible"',
        'direction = "positive" if r > 0 else "negative"',
        'significance = "statistically significant" if p_value < 0.05 else "not statistically significant"',
    ]
    parts.compute_findings = [
        f'print(f"- Pearson r between {ftext(x)} and {ftext(y)}: {{r:.3f}} '
        '(p-value {p_value:.3g}, {len(pair):,} rows)")',
        'print(f"- A {strength} {direction} linear relationship, {significance} at the 5% level")',
        'print(f"- Spearman rank correlation: {rho:.3f} (p-value {rho_p_value:.3g})")',
        f'print(f"- Least-squares line: {ftext(y)} = {{intercept:,.4g}} + {{slope:,.4g}} x {ftext(x)}")',
    ]
    if group:
        parts.compute += [
            f"by_group = pair.groupby({lit(group)}).apply(",
            f"    lambda part: part[{lit(x)}].corr(part[{lit(y)}]), include_groups=False",
            ').rename("r").dropna()',
            "print(by_group.round(3).to_frame())",
        ]
        parts.compute_findings += [
            "for name, value in by_group.items():",
            f'    print(f"- Pearson r within {ftext(group)} {{name}}: {{value:.3f}}")',
        ]
    log_x, log_y = wide_range(analysis.dataset, x), wide_range(analysis.dataset, y)
    options = f"opacity=0.7, title={lit(cols.label(y) + ' vs ' + cols.label(x) + scope(analysis))},"
    logs = ", ".join(part for part in ["log_x=True" if log_x else "", "log_y=True" if log_y else ""] if part)
    colour = f", color={lit(group)}" if group else ""
    chart = "line" if analysis.chart == "line" else "scatter"
    parts.figure = ["plot_data = pair", *sample_lines(analysis, "plot_data")]
    if chart == "line":
        parts.figure.append(f"plot_data = plot_data.sort_values({lit(x)})")
    parts.figure += [
        f"fig = px.{chart}(",
        f"    plot_data, x={lit(x)}, y={lit(y)}{colour}, {options}",
        f"    labels={labels(x, y, group)}, template={lit(TEMPLATE)},{(' ' + logs + ',') if logs else ''}",
        ")",
        "fig.show()",
    ]
    parts.figure_findings = [
        f'print(f"- Pearson r between {ftext(x)} and {ftext(y)}: {{{fcol("pair", x)}.corr({fcol("pair", y)}):.3f}}")',
        f'print(f"- Plotted {{len(plot_data):,}} points: {ftext(x)} across, {ftext(y)} up")',
    ]
    if log_x or log_y:
        axes = " and ".join(n for n, flag in ((x, log_x), (y, log_y)) if flag)
        parts.figure_findings.append(
            f'print("- {ftext(axes)} on a log scale (values span over 3 orders of magnitude)")'
        )
    parts.creates = ["pair"]
    return parts


def _correlation(analysis: it.Analysis) -> Parts:
    dataset = analysis.dataset
    focus = [name for name in analysis.focus if analysis.column_kind(name) == NUMERIC]
    numeric = [c.name for c in dataset.columns if c.kind == NUMERIC and not cols.is_identifier(c, dataset.rows)]
    if len(focus) == 1:
        return _drivers(analysis, focus[0], [name for name in numeric if name != focus[0]])
    chosen = focus if len(focus) >= 3 else numeric
    parts = Parts(title=f"Correlation matrix of {', '.join(chosen)}{scope(analysis)}")
    parts.core = [
        f"corr = data[{lit(chosen)}].corr()",
        "pairs = corr.where(np.triu(np.ones(corr.shape, dtype=bool), k=1)).stack().dropna()",
        "ranked = pairs.reindex(pairs.abs().sort_values(ascending=False).index)",
        "(first, second), strongest = ranked.index[0], ranked.iloc[0]",
    ]
    parts.compute = ["print(corr.round(3))"]
    strongest = 'print(f"- Strongest correlation: {first} and {second} (r = {strongest:.3f})")'
    parts.compute_findings = [
        strongest,
        "for (a, b), value in ranked.iloc[1:4].items():",
        '    print(f"- {a} and {b}: r = {value:.3f}")',
        "(a, b), weakest = ranked.index[-1], ranked.iloc[-1]",
        'print(f"- Weakest correlation: {a} and {b} (r = {weakest:.3f})")',
    ]
    parts.figure = [
        "fig = px.imshow(",
        '    corr.round(2), text_auto=True, color_continuous_scale="RdBu_r", zmin=-1, zmax=1,',
        f"    title={lit('Correlation matrix' + scope(analysis))}, template={lit(TEMPLATE)},",
        ")",
        "fig.show()",
    ]
    parts.figure_findings = [
        strongest,
        f'print("- Heatmap of {len(chosen)} numeric columns, from -1 (blue) to +1 (red)")',
    ]
    parts.creates = ["corr"]
    return parts


def _drivers(analysis: it.Analysis, target: str, others: list[str]) -> Parts:
    parts = Parts(title=f"Correlation of {target} with the other numeric columns{scope(analysis)}")
    parts.core = [
        f"correlations = data[{lit([target, *others])}].corr()[{lit(target)}].drop({lit(target)}).dropna()",
        "correlations = correlations.reindex(correlations.abs().sort_values(ascending=False).index)",
    ]
    parts.compute = [
        "p_values = {}",
        "for column in correlations.index:",
        f"    pair = data[[column, {lit(target)}]].dropna()",
        f"    p_values[column] = stats.pearsonr(pair[column], pair[{lit(target)}])[1]",
        'table = pd.DataFrame({"r": correlations, "p_value": pd.Series(p_values)})',
        "print(table.round(4))",
    ]
    parts.compute_findings = [
        f'print(f"- Strongest correlation with {ftext(target)}: {{correlations.index[0]}} '
        '(r = {correlations.iloc[0]:.3f})")',
        "for column, value in correlations.items():",
        '    print(f"- {column}: r = {value:.3f} (p-value {p_values[column]:.3g})")',
    ]
    parts.figure = [
        'chart_data = correlations.rename("r").rename_axis("column").reset_index()',
        "fig = px.bar(",
        f'    chart_data, x="column", y="r", title={lit("Correlation with " + cols.label(target) + scope(analysis))},',
        f'    labels={{"column": "Column", "r": "Pearson r"}}, range_y=[-1, 1], template={lit(TEMPLATE)},',
        ")",
        "fig.show()",
    ]
    parts.figure_findings = parts.compute_findings[:1]
    parts.creates = ["correlations"]
    return parts


def _groups(analysis: it.Analysis) -> Parts:
    group, measure = analysis.group, analysis.measure
    if group is None:
        return _distribution(analysis) if measure else _overview(analysis)
    if measure is None or analysis.agg == "count":
        return _group_counts(analysis, group)
    agg = analysis.agg if analysis.agg in ("mean", "median", "sum", "max", "min") else "mean"
    word = AGG_WORDS[agg]
    numeric_groups = analysis.column_kind(group) == NUMERIC
    parts = Parts(title=f"{word} {measure} by {group}{scope(analysis)}")
    statistics = list(dict.fromkeys(["count", "mean", "median", agg]))
    order = (
        ".sort_index()"
        if numeric_groups and not analysis.top
        else f".sort_values({lit(agg)}, ascending={analysis.ascending})"
    )
    parts.core = [f"table = data.groupby({lit(group)})[{lit(measure)}].agg({lit(statistics)}){order}"]
    if analysis.top:
        parts.core.append(f"table = table.head({int(analysis.top)})")
    best, worst = ("idxmin", "idxmax") if analysis.ascending and analysis.top else ("idxmax", "idxmin")
    top_words = ("Lowest", "Highest") if best == "idxmin" else ("Highest", "Lowest")
    parts.compute = [
        "print(table.round(2))",
        f"samples = [values.dropna() for _, values in data.groupby({lit(group)})[{lit(measure)}]]",
        "samples = [values for values in samples if len(values) > 1]",
    ]
    head = [
        f"best, worst = table[{lit(agg)}].{best}(), table[{lit(agg)}].{worst}()",
        f'print(f"- {top_words[0]} {word.lower()} {ftext(measure)}: {{best}} ({{table.loc[best, {flit(agg)}]:,.2f}})")',
        f'print(f"- {top_words[1]} {word.lower()} {ftext(measure)}: '
        f'{{worst}} ({{table.loc[worst, {flit(agg)}]:,.2f}})")',
    ]
    per_group = ["for name, row in table.head(10).iterrows():"]
    if agg in ("mean", "median"):
        per_group.append(
            "    print(f\"- {name}: mean {row['mean']:,.2f}, median {row['median']:,.2f}, {int(row['count']):,} rows\")"
        )
    else:
        per_group.append(
            f"    print(f\"- {{name}}: {word.lower()} {{row[{flit(agg)}]:,.2f}}, mean {{row['mean']:,.2f}}, "
            "{int(row['count']):,} rows\")"
        )
    parts.compute_findings = (
        head
        + per_group
        + [
            "if len(samples) >= 2:",
            "    f_stat, p_value = stats.f_oneway(*samples)",
            '    print(f"- One-way ANOVA across {len(samples)} groups: F = {f_stat:.2f}, p-value {p_value:.3g}")',
            "else:",
            '    print("- Fewer than two groups with data: no ANOVA")',
        ]
    )
    chart = analysis.chart if analysis.chart in ("box", "violin", "line", "pie", "bar", "scatter") else "bar"
    limit = analysis.top or (20 if _many_groups(analysis, group) else None)
    title = f"{word} {cols.label(measure).lower()} by {cols.label(group).lower()}{scope(analysis)}"
    if chart in ("box", "violin"):
        title = f"{cols.label(measure)} by {cols.label(group).lower()}{scope(analysis)}"
        parts.figure = [f"plot_data = data.dropna(subset={lit([group, measure])})"]
        if limit:
            parts.figure.append(f"plot_data = plot_data[plot_data[{lit(group)}].isin(table.head({limit}).index)]")
        parts.figure += [
            f"fig = px.{chart}(",
            f"    plot_data, x={lit(group)}, y={lit(measure)}, title={lit(title)},",
            f"    labels={labels(group, measure)}, template={lit(TEMPLATE)},",
            ")",
        ]
    else:
        source = f"table.head({limit})" if limit and not analysis.top else "table"
        if limit and not analysis.top:
            title = f"Top {limit}: " + title[0].lower() + title[1:]
        parts.figure = [f"chart_data = {source}.reset_index()"]
        if numeric_groups and chart == "bar":
            parts.figure.append(f"chart_data[{lit(group)}] = chart_data[{lit(group)}].astype(str)")
        value_label = f"{word} {cols.label(measure).lower()}"
        if chart == "pie":
            parts.figure.append(
                f"fig = px.pie(chart_data, names={lit(group)}, values={lit(agg)}, title={lit(title)}, "
                f"template={lit(TEMPLATE)})"
            )
        else:
            extra = ", markers=True" if chart == "line" else ', text_auto=".3s"' if chart == "bar" else ""
            parts.figure += [
                f"fig = px.{chart}(",
                f"    chart_data, x={lit(group)}, y={lit(agg)}, title={lit(title)}{extra},",
                f"    labels={labels(group, extra={agg: value_label})}, template={lit(TEMPLATE)},",
                ")",
            ]
    parts.figure.append("fig.show()")
    parts.figure_findings = head
    parts.creates = ["table"]
    return parts


def _many_groups(analysis: it.Analysis, group: str) -> bool:
    column = analysis.dataset.column(group)
    return column is not None and (column.distinct or 0) > 25


def _group_counts(analysis: it.Analysis, group: str) -> Parts:
    parts = _category_counts(analysis, group)
    parts.title = f"Number of rows per {group}{scope(analysis)}"
    return parts


def _trend(analysis: it.Analysis) -> Parts:
    dataset = analysis.dataset
    time, measure, group = analysis.time, analysis.measure, analysis.group
    if time is None:
        return _overview(analysis)
    time_column = dataset.column(time)
    on_datetime = time_column is not None and time_column.kind == DATETIME
    count = measure is None or analysis.agg == "count"
    agg = analysis.agg if analysis.agg in ("mean", "median", "sum", "max", "min") else "mean"
    value = "count" if count else measure
    word = "Number of rows" if count else AGG_WORDS[agg]
    keys = [time] if not on_datetime else ["period"]
    period_word = "year"
    date_format = ".0f"
    lines: list[str] = []
    if on_datetime:
        period = analysis.period or _default_period(time_column)
        period_word = PERIOD_WORDS[period]
        date_format = {"Y": "%Y", "Q": "%Y-%m", "M": "%Y-%m"}.get(period, "%Y-%m-%d")
        lines.append(f'data["period"] = {col("data", time)}.dt.to_period({lit(period)}).dt.start_time')
    elif analysis.period and analysis.period != "Y":
        period_word = "year"
    x = "period" if on_datetime else time
    if group:
        keys.append(group)
    grouped = f"data.groupby({lit(keys)}, as_index=False)"
    if count:
        lines.append(f'trend = {grouped}.size().rename(columns={{"size": "count"}})')
    else:
        lines.append(f"trend = {grouped}[{lit(measure)}].{agg}()")
    lines.append(f"trend = trend.dropna(subset=[{lit(value)}]).sort_values({lit(keys)})")
    lines.append(f'trend["step"] = {_steps(x, period_word if on_datetime else "value")}')
    subject = "the number of rows" if count else f"{word.lower()} {measure}"
    parts = Parts(title=f"Trend of {subject} per {period_word}{scope(analysis)}")
    label = f"Rows per {period_word}" if count else f"{word} {ftext(measure)}"
    number = ",.0f" if count else ",.2f"
    parts.core = lines
    if group:
        parts.compute = [
            f"print(trend.pivot(index={lit(x)}, columns={lit(group)}, values={lit(value)}).round(2))",
            "slopes = {}",
            f"for name, part in trend.groupby({lit(group)}):",
            "    if len(part) >= 2:",
            f'        slopes[name] = stats.linregress(part["step"], part[{lit(value)}]).slope',
        ]
        finding_lines = [
            f"for name, part in trend.groupby({lit(group)}):",
            "    first, last = part.iloc[0], part.iloc[-1]",
            '    slope = slopes.get(name, float("nan"))',
            f'    print(f"- {{name}}: {{first[{flit(value)}]:{number}}} in {{{_when("first", x, date_format)}}} '
            f"to {{last[{flit(value)}]:{number}}} in {{{_when('last', x, date_format)}}}; "
            f'slope {{slope:+,.3f}} per {period_word}")',
        ]
        parts.compute_findings = finding_lines
        parts.figure_findings = [
            f"for name, part in trend.groupby({lit(group)}):",
            f'    print(f"- {{name}}: {{part.iloc[0][{flit(value)}]:{number}}} '
            f'to {{part.iloc[-1][{flit(value)}]:{number}}}")',
        ]
    else:
        parts.compute = [
            f'print(trend.drop(columns="step").round({{{lit(value)}: 3}}))',
            "first, last = trend.iloc[0], trend.iloc[-1]",
            f"peak = trend.loc[trend[{lit(value)}].idxmax()]",
        ]
        change = (
            f'print(f"- {label}: {{first[{flit(value)}]:{number}}} in {{{_when("first", x, date_format)}}} '
            f'to {{last[{flit(value)}]:{number}}} in {{{_when("last", x, date_format)}}}")'
        )
        slope = [
            "if len(trend) >= 2:",
            f'    fit = stats.linregress(trend["step"], trend[{lit(value)}])',
            f'    print(f"- Linear trend: {{fit.slope:+,.3f}} per {period_word} (R² {{fit.rvalue ** 2:.3f}}, '
            'p-value {fit.pvalue:.3g})")',
            "else:",
            '    print("- Only one period: no trend to measure")',
        ]
        parts.compute_findings = [
            change,
            *slope,
            f'print(f"- Highest: {{peak[{flit(value)}]:{number}}} in {{{_when("peak", x, date_format)}}}")',
        ]
        parts.figure_findings = [
            "first, last = trend.iloc[0], trend.iloc[-1]",
            change,
            *slope,
        ]
    chart = analysis.chart if analysis.chart in ("line", "bar", "scatter", "area") else "line"
    colour = f", color={lit(group)}" if group else ""
    extra = ", markers=True" if chart == "line" else ""
    value_label = "Number of rows" if count else f"{word} {cols.label(measure).lower()}"  # type: ignore[arg-type]
    title = f"{value_label} per {period_word}{scope(analysis)}"
    x_label = period_word.title() if on_datetime else cols.label(time)
    parts.figure = [
        f"fig = px.{chart}(",
        f"    trend, x={lit(x)}, y={lit(value)}{colour}{extra}, title={lit(title)},",
        f"    labels={labels(group, extra={value: value_label, x: x_label})}, template={lit(TEMPLATE)},",
        ")",
        "fig.show()",
    ]
    parts.creates = ["trend"]
    return parts


def _when(row: str, x: str, date_format: str) -> str:
    """An f-string expression for the period of ``row`` (a date, or a year number)."""
    return f"{row}[{flit(x)}]:{date_format}"


def _steps(x: str, unit: str) -> str:
    """Elapsed periods as numbers, so a slope reads "per month" even with gaps."""
    period = col("trend", x)
    if unit == "year":
        return f"{period}.dt.year"
    if unit == "quarter":
        return f"{period}.dt.year * 4 + {period}.dt.quarter"
    if unit == "month":
        return f"{period}.dt.year * 12 + {period}.dt.month"
    if unit == "week":
        return f"({period} - {period}.min()).dt.days / 7"
    if unit == "day":
        return f"({period} - {period}.min()).dt.days"
    return period


def _default_period(column) -> str:
    try:
        start = dt.date.fromisoformat(str(column.min)[:10])
        end = dt.date.fromisoformat(str(column.max)[:10])
    except (TypeError, ValueError):
        return "M"
    days = (end - start).days
    if days <= 92:
        return "D"
    if days <= 730:
        return "W"
    if days <= 365 * 15:
        return "M"
    return "Y"


def formula_term(dataset: DatasetContext, name: str) -> str:
    column = dataset.column(name)
    # patsy evaluates a formula's terms as Python: a name that is not a plain identifier
    # goes in as Q(<quoted literal>), which patsy looks up in the data and never runs.
    quoted = name if is_plain_name(name) else f"Q({lit(name)})"
    if column is not None and column.kind in (CATEGORICAL, BOOLEAN, TEXT):
        return f"C({quoted})"
    return quoted


def _regression(analysis: it.Analysis) -> Parts:
    dataset = analysis.dataset
    target = analysis.target
    features = [name for name in analysis.features if name != target]
    if not target or not features:
        return _overview(analysis)
    formula = f"{formula_term(dataset, target)} ~ " + " + ".join(formula_term(dataset, name) for name in features)
    parts = Parts(title=f"Linear regression of {target} on {', '.join(features)}{scope(analysis)}")
    parts.core = [
        f"model_data = data[{lit([target, *features])}].dropna()",
        f"model = smf.ols({lit(formula)}, data=model_data).fit()",
    ]
    parts.compute = [
        'results = pd.DataFrame({"coefficient": model.params, "std_error": model.bse, "p_value": model.pvalues})',
        "print(results.round(4))",
    ]
    parts.compute_findings = [
        'print(f"- R²: {model.rsquared:.3f} (adjusted {model.rsquared_adj:.3f}) on {int(model.nobs):,} rows")',
        'print(f"- Model F-test p-value: {model.f_pvalue:.3g}")',
        'for term in model.params.index.drop("Intercept"):',
        '    print(f"- {term}: coefficient {model.params[term]:.4g} (p-value {model.pvalues[term]:.3g})")',
    ]
    numeric = [name for name in features if analysis.column_kind(name) == NUMERIC]
    if numeric:
        x = numeric[0]
        parts.figure = ["plot_data = model_data", *sample_lines(analysis, "plot_data")]
        parts.figure += [
            "fig = px.scatter(",
            f'    plot_data, x={lit(x)}, y={lit(target)}, trendline="ols", opacity=0.6,',
            f"    title={lit(cols.label(target) + ' vs ' + cols.label(x) + ' with a fitted line' + scope(analysis))},",
            f"    labels={labels(x, target)}, template={lit(TEMPLATE)},",
            ")",
            "fig.show()",
        ]
    else:
        x = features[0]
        parts.figure = [
            "fig = px.box(",
            f"    model_data, x={lit(x)}, y={lit(target)}, title={lit(cols.label(target) + ' by ' + cols.label(x))},",
            f"    labels={labels(x, target)}, template={lit(TEMPLATE)},",
            ")",
            "fig.show()",
        ]
    parts.figure_findings = parts.compute_findings[:1]
    parts.creates = ["model"]
    return parts


MODEL_VARIABLES = ["model", "X_test", "y_test", "predictions"]


def _model(analysis: it.Analysis, *, reuse: list[str] | None = None) -> Parts:
    target = analysis.target
    features = [name for name in analysis.features if name != target]
    if not target or not features:
        return _overview(analysis)
    classify = analysis.classification
    numeric = [n for n in features if analysis.column_kind(n) == NUMERIC]
    categorical = [n for n in features if n not in numeric]
    kind = analysis.model_kind
    if classify:
        estimator = "LogisticRegression(max_iter=1000)" if kind == "logistic" else _forest("Classifier")
    else:
        estimator = "LinearRegression()" if kind in ("linear", "logistic") else _forest("Regressor")
    estimator_class = estimator.split("(")[0]
    module = {
        "LogisticRegression": "sklearn.linear_model",
        "LinearRegression": "sklearn.linear_model",
        "RandomForestClassifier": "sklearn.ensemble",
        "RandomForestRegressor": "sklearn.ensemble",
    }[estimator_class]
    scaled = estimator_class in ("LogisticRegression", "LinearRegression")
    imports = [
        "from sklearn.compose import ColumnTransformer",
        "from sklearn.impute import SimpleImputer",
        "from sklearn.model_selection import train_test_split",
        "from sklearn.pipeline import Pipeline",
        f"from {module} import {estimator_class}",
    ]
    metrics = "accuracy_score, f1_score" if classify else "mean_absolute_error, r2_score"
    imports.append(f"from sklearn.metrics import {metrics}")
    encoders = ["OneHotEncoder"] if categorical else []
    if scaled and numeric:
        encoders.append("StandardScaler")
    if encoders:
        imports.append(f"from sklearn.preprocessing import {', '.join(sorted(encoders))}")
    task = "Classifier" if classify else "Regression model"
    parts = Parts(title=f"{task} predicting {target} from {', '.join(features)}{scope(analysis)}", imports=imports)
    y_expr = f"model_data[{lit(target)}]"
    if analysis.column_kind(target) != NUMERIC:
        y_expr += ".astype(str)"
    core = [
        f"numeric_features = {lit(numeric)}",
        f"categorical_features = {lit(categorical)}",
        f"model_data = data.dropna(subset=[{lit(target)}])",
        "X = model_data[numeric_features + categorical_features]",
    ]
    if categorical:
        core.append("X[categorical_features] = X[categorical_features].astype(str)")
    core.append(f"y = {y_expr}")
    if classify:
        core += [
            "if y.nunique() < 2:",
            f"    raise ValueError({lit(f'Only one value of {target} in these rows: there is nothing to classify')})",
        ]
    core += ["", "preprocess = ColumnTransformer(", "    ["]
    if numeric:
        if scaled:
            core.append(
                '        ("numeric", Pipeline([("impute", SimpleImputer(strategy="median")), '
                '("scale", StandardScaler())]), numeric_features),'
            )
        else:
            core.append('        ("numeric", SimpleImputer(strategy="median"), numeric_features),')
    if categorical:
        core.append('        ("categorical", OneHotEncoder(handle_unknown="ignore"), categorical_features),')
    core += [
        "    ],",
        "    verbose_feature_names_out=False,",
        ")",
        f'model = Pipeline([("preprocess", preprocess), ("model", {estimator})])',
        "X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=42)",
        "model.fit(X_train, y_train)",
        "predictions = model.predict(X_test)",
    ]
    parts.core = core
    names = 'model.named_steps["preprocess"].get_feature_names_out()'
    if estimator_class.startswith("RandomForest"):
        weights = 'model.named_steps["model"].feature_importances_'
        weight_word = "importance"
    else:
        weights = 'np.abs(np.atleast_2d(model.named_steps["model"].coef_)).mean(axis=0)'
        weight_word = "weight"
    parts.compute = [
        f"importance = pd.Series({weights}, index={names}).sort_values(ascending=False)",
        f'print(importance.head(10).round(4).to_frame("{weight_word}"))',
    ]
    if classify:
        parts.core += [
            "accuracy = accuracy_score(y_test, predictions)",
            'f1 = f1_score(y_test, predictions, average="macro")',
            "baseline = (y_test == y_train.mode().iloc[0]).mean()",
        ]
        score = 'print(f"- Test accuracy: {accuracy:.3f} on {len(y_test):,} held-out rows (25%)")'
        parts.compute_findings = [
            score,
            'print(f"- F1 (macro): {f1:.3f}")',
            'print(f"- Baseline accuracy (always the most common class): {baseline:.3f}")',
            'verdict = "better than" if accuracy > baseline else "no better than"',
            'print(f"- The model is {verdict} always predicting the most common class")',
        ]
        parts.figure = [
            'confusion = pd.crosstab(y_test, predictions, rownames=["Actual"], colnames=["Predicted"])',
            "fig = px.imshow(",
            '    confusion, text_auto=True, color_continuous_scale="Blues",',
            f"    title={lit('Confusion matrix: ' + target)},",
            f"    template={lit(TEMPLATE)},",
            ")",
            "fig.show()",
        ]
        parts.figure_findings = [score, 'print(f"- Correct predictions: {int((y_test == predictions).sum()):,}")']
    else:
        parts.core += [
            "r2 = r2_score(y_test, predictions)",
            "mae = mean_absolute_error(y_test, predictions)",
            "baseline_mae = mean_absolute_error(y_test, np.full(len(y_test), y_train.mean()))",
        ]
        score = 'print(f"- Test R²: {r2:.3f} on {len(y_test):,} held-out rows (25%)")'
        parts.compute_findings = [
            score,
            'print(f"- Test MAE: {mae:,.2f} (predicting the mean gives {baseline_mae:,.2f})")',
            'verdict = "better than" if mae < baseline_mae else "no better than"',
            'print(f"- The model is {verdict} predicting the training mean")',
        ]
        parts.figure = [
            'chart_data = pd.DataFrame({"actual": y_test, "predicted": predictions})',
            "fig = px.scatter(",
            f'    chart_data, x="actual", y="predicted", opacity=0.6, title={lit("Predicted vs actual " + target)},',
            f'    labels={{"actual": {lit("Actual " + cols.label(target).lower())}, '
            f'"predicted": {lit("Predicted " + cols.label(target).lower())}}}, template={lit(TEMPLATE)},',
            ")",
            "fig.show()",
        ]
        parts.figure_findings = [score]
    parts.compute_findings.append(
        f'print(f"- Most influential feature: {{importance.index[0]}} ({weight_word} {{importance.iloc[0]:.3f}})")'
    )
    parts.creates = list(MODEL_VARIABLES)
    if reuse and all(name in reuse for name in MODEL_VARIABLES):
        # The modelling step before this one fitted the model: only the scores are recomputed.
        parts.imports = [line for line in parts.imports if "sklearn.metrics" in line]
        parts.core = [line for line in parts.core if line.startswith(("accuracy =", "f1 =", "r2 =", "mae ="))]
    return parts


def _forest(kind: str) -> str:
    return f"RandomForest{kind}(n_estimators=100, random_state=42)"


def _cluster(analysis: it.Analysis, *, reuse: list[str]) -> Parts:
    dataset = analysis.dataset
    features = [name for name in analysis.features if analysis.column_kind(name) == NUMERIC]
    if not features:
        return _overview(analysis)
    k = int(analysis.k)
    parts = Parts(
        title=f"K-means clustering (k = {k}) on {', '.join(features)}{scope(analysis)}",
        imports=["from sklearn.cluster import KMeans", "from sklearn.preprocessing import StandardScaler"],
    )
    if "clustered" in reuse:
        parts.imports = []
        parts.core = [f"features = {lit(features)}"]
    else:
        parts.core = [
            f"features = {lit(features)}",
            "cluster_data = data.dropna(subset=features)",
            "scaler = StandardScaler()",
            "scaled = scaler.fit_transform(cluster_data[features])",
            f"kmeans = KMeans(n_clusters={k}, n_init=10, random_state=42)",
            "clustered = cluster_data.copy()",
            'clustered["cluster"] = kmeans.fit_predict(scaled)',
        ]
    parts.core.append('sizes = clustered["cluster"].value_counts().sort_index()')
    parts.compute = [
        'centers = clustered.groupby("cluster")[features].mean()',
        'centers["size"] = sizes',
        "print(centers.round(2))",
    ]
    parts.compute_findings = [
        f'print(f"- {{len(clustered):,}} rows in {k} clusters, on {len(features)} standardized features")',
        "for cluster, size in sizes.items():",
        "    center = centers.loc[cluster]",
        '    profile = ", ".join(f"{name} {center[name]:,.2f}" for name in features)',
        '    print(f"- Cluster {cluster}: {size:,} rows; mean {profile}")',
    ]
    parts.figure_findings = [
        "for cluster, size in sizes.items():",
        '    print(f"- Cluster {cluster}: {size:,} rows")',
    ]
    x = features[0]
    title = f"{k} clusters{scope(analysis)}"
    parts.figure = ["plot_data = clustered.copy()", 'plot_data["cluster"] = plot_data["cluster"].astype(str)']
    parts.figure += sample_lines(analysis, "plot_data")
    order = f'category_orders={{"cluster": {lit([str(i) for i in range(k)])}}}'
    if len(features) >= 2:
        y = features[1]
        logs = [flag for flag, name in (("log_x=True", x), ("log_y=True", y)) if wide_range(dataset, name)]
        parts.figure += [
            "fig = px.scatter(",
            f'    plot_data, x={lit(x)}, y={lit(y)}, color="cluster", {order},',
            f"    title={lit(title + ': ' + cols.label(y) + ' vs ' + cols.label(x))},",
            f"    labels={labels(x, y, extra={'cluster': 'Cluster'})}, template={lit(TEMPLATE)},"
            + (" " + ", ".join(logs) + "," if logs else ""),
            ")",
        ]
    else:
        parts.figure += [
            "fig = px.histogram(",
            f'    plot_data, x={lit(x)}, color="cluster", {order}, title={lit(title + ": " + cols.label(x))},',
            f"    labels={labels(x, extra={'cluster': 'Cluster'})}, template={lit(TEMPLATE)},",
            ")",
        ]
    parts.figure.append("fig.show()")
    parts.creates = ["clustered"]
    return parts
