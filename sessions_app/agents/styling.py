"""Styling hints for visualisation agents, picked by the kind of chart a question asks for."""

from __future__ import annotations

COMMON = (
    "template plotly_white; bold title stating what is shown; axis titles in words; numbers above 1,000 as K "
    "and above 1,000,000 as M; default size 1000x600"
)
HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (
        ("trend", "over time", "line", "timeline", "evolution", "per year", "by year", "monthly"),
        "line chart: time on x sorted ascending, markers when under 30 points, one line per group (at most 10)",
    ),
    (
        ("histogram", "distribution", "spread", "skew"),
        "histogram: 30-50 bins, a vertical line at the mean or median when it helps, no gaps between bars",
    ),
    (
        ("correlation", "heatmap", "matrix"),
        "heatmap: diverging RdBu scale centred on 0 for correlations, values written in the cells with 2 decimals",
    ),
    (
        ("scatter", "relationship", "relate", " vs ", "versus", "against"),
        "scatter: opacity 0.6, sample 5,000 points above 50,000 rows, trendline only when asked",
    ),
    (
        ("pie", "share", "proportion", "percentage of"),
        "pie: at most 8 slices (group the rest as Other), percentages on the slices",
    ),
    (
        ("bar", "compare", "comparison", "by ", "per ", "top", "rank"),
        "bar chart: bars sorted by value, values on the bars, horizontal bars when labels are long",
    ),
)


def styling_hint(goal: str) -> str:
    lowered = f" {goal.lower()} "
    for words, hint in HINTS:
        if any(word in lowered for word in words):
            return f"{hint}; {COMMON}"
    return f"choose the chart that answers the question; {COMMON}"
