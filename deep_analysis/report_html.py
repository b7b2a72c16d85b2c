"""The standalone HTML report of a deep analysis.

Everything in it that a user, a dataset or a model wrote is untrusted: Markdown is
rendered with raw HTML disabled and the result cleaned by ``nh3`` (an allow-list
sanitiser); code and plain text are escaped; figures are JSON checked to be Plotly
figures and embedded as inert ``application/json`` data with ``<``, ``>`` and ``&``
escaped, drawn by our own script. A Content-Security-Policy admits only our scripts (by
hash) and Plotly's bundle, so even a sanitiser miss cannot run a script.

Plotly's JavaScript comes from the installed ``plotly`` package, never a CDN: inlined
(``standalone=True``, for downloads: one file that works offline), or linked from our own
``/deep_analysis/assets/plotly.min.js`` (the copy stored on the row and streamed).
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
from functools import cache
from pathlib import Path

import nh3
import plotly
from django.utils import timezone
from markdown_it import MarkdownIt

PLOTLY_JS_URL = "/deep_analysis/assets/plotly.min.js"
MAX_FIGURE_BYTES = 5_000_000
_markdown = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
ALLOWED_TAGS = {
    "p", "br", "strong", "em", "b", "i", "code", "pre", "ul", "ol", "li", "blockquote",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td", "hr", "a",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "th": {"align"}, "td": {"align"}}


def markdown_safe(text: str) -> str:
    """Model or user Markdown as HTML that can hold no script, handler or foreign URL scheme."""
    rendered = _markdown.render(str(text or ""))
    return nh3.clean(
        rendered,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


@cache
def plotly_js() -> str:
    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _json_for_script(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def figures_clean(figures: object) -> list[dict]:
    """The Plotly figures among ``figures`` (JSON strings or objects, flat or nested one
    level as in the reference's ``plotly_figs``); anything else is dropped."""
    flat: list = []
    for item in figures if isinstance(figures, list) else []:
        flat.extend(item if isinstance(item, list) else [item])
    result = []
    for item in flat:
        if isinstance(item, str):
            if len(item) > MAX_FIGURE_BYTES:
                continue
            try:
                item = json.loads(item)
            except (ValueError, RecursionError):  # a string nested thousands deep is no figure
                continue
        if isinstance(item, dict) and isinstance(item.get("data"), list):
            layout = item.get("layout") if isinstance(item.get("layout"), dict) else {}
            figure = {"data": item["data"], "layout": layout}
            try:
                _json_for_script(figure)  # must serialise later, when the page is written
            except (ValueError, TypeError, RecursionError):
                continue
            result.append(figure)
    return result


FIGURE_SCRIPT = """
document.querySelectorAll('script[type="application/json"].figure-data').forEach(function (node) {
  var figure = JSON.parse(node.textContent);
  var target = document.getElementById(node.dataset.target);
  if (window.Plotly) {
    window.Plotly.newPlot(target, figure.data, figure.layout, {responsive: true, displayModeBar: true});
  } else {
    target.textContent = 'Plotly could not be loaded: the figure data is embedded in this file.';
  }
});
document.querySelectorAll('button.copy-code').forEach(function (button) {
  button.addEventListener('click', function () {
    var code = document.getElementById(button.dataset.target).textContent;
    if (navigator.clipboard) { navigator.clipboard.writeText(code); button.textContent = 'Copied'; }
  });
});
window.addEventListener('beforeprint', function () {
  document.querySelectorAll('details').forEach(function (d) { d.open = true; });
  if (window.Plotly) {
    document.querySelectorAll('.figure').forEach(function (f) { window.Plotly.Plots.resize(f); });
  }
});
""".strip()

STYLE = """
:root { --accent: #FF7F7F; --ink: #1f2933; --muted: #616e7c; --line: #e4e7eb; }
* { box-sizing: border-box; }
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0;
  background: #fafbfc; line-height: 1.55; }
main { max-width: 1000px; margin: 0 auto; padding: 32px 24px 64px; }
h1 { border-bottom: 4px solid var(--accent); padding-bottom: 8px; }
h2 { margin-top: 40px; color: var(--ink); border-left: 6px solid var(--accent); padding-left: 10px; }
.meta { color: var(--muted); font-size: 0.9em; }
.box { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 16px 20px; margin: 12px 0; }
.figure { width: 100%; min-height: 420px; }
pre { background: #f5f7fa; padding: 12px; overflow-x: auto; border-radius: 6px; font-size: 0.85em; }
table { border-collapse: collapse; } th, td { border: 1px solid var(--line); padding: 4px 8px; }
button.copy-code { float: right; background: var(--accent); color: #fff; border: 0; border-radius: 4px;
  padding: 4px 10px; cursor: pointer; }
summary { cursor: pointer; font-weight: 600; }
@media print {
  body { background: #fff; } main { max-width: none; padding: 0; }
  button.copy-code { display: none; }
  .box, .figure { break-inside: avoid; page-break-inside: avoid; }
  h2 { break-after: avoid; }
  pre { white-space: pre-wrap; word-break: break-word; }
}
""".strip()


def _sha256(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode() + "'"


def report_html_document(*, analysis: dict, standalone: bool, generated_at=None) -> str:
    """The report page for a result dict (the reference's shape: goal, deep_questions,
    deep_plan, summaries, code, plotly_figs, synthesis, final_conclusion)."""
    esc = html.escape
    goal = str(analysis.get("goal") or "")
    synthesis = analysis.get("synthesis") if isinstance(analysis.get("synthesis"), list) else []
    figures = figures_clean(analysis.get("plotly_figs") or analysis.get("plotly_figures") or [])
    code = str(analysis.get("code") or analysis.get("analysis_code") or "")
    generated = (generated_at or timezone.now()).strftime("%Y-%m-%d %H:%M UTC")
    parts = [
        "<h1>Deep Analysis Report</h1>",
        f'<p class="meta">Generated {esc(generated)}</p>',
        "<h2>Original Question</h2>",
        f'<div class="box question-content">{markdown_safe(goal)}</div>',
        "<h2>Detailed Research Questions</h2>",
        f'<div class="box question-content">{markdown_safe(str(analysis.get("deep_questions") or ""))}</div>',
        "<h2>Analysis &amp; Insights</h2>",
    ]
    parts += [f'<section class="box synthesis-section">{markdown_safe(str(s))}</section>' for s in synthesis]
    if figures:
        for index, figure in enumerate(figures):
            parts.append(f'<div class="box visualization-container"><div class="figure" id="figure-{index}"></div>')
            parts.append(
                f'<script type="application/json" class="figure-data" data-target="figure-{index}">'
                f"{_json_for_script(figure)}</script></div>"
            )
    else:
        parts.append('<p class="meta">No visualizations generated.</p>')
    if code.strip():
        parts += [
            "<h2>Generated Code</h2>",
            '<details class="box"><summary>Show the analysis code</summary>',
            '<button type="button" class="copy-code" data-target="analysis-code">Copy</button>',
            f'<pre><code id="analysis-code" class="language-python">{esc(code)}</code></pre></details>',
        ]
    parts += [
        "<h2>Conclusion</h2>",
        f'<div class="box conclusion">{markdown_safe(str(analysis.get("final_conclusion") or ""))}</div>',
    ]
    if standalone:
        library = f"<script>{plotly_js()}</script>"
        script_sources = f"{_sha256(plotly_js())} {_sha256(FIGURE_SCRIPT)}"
    else:
        library = f'<script src="{PLOTLY_JS_URL}"></script>'
        script_sources = f"'self' {_sha256(FIGURE_SCRIPT)}"
    # Plotly compiles some functions at run time ('unsafe-eval'); no other script can run.
    policy = (
        f"default-src 'none'; script-src {script_sources} 'unsafe-eval'; style-src 'unsafe-inline'; "
        "img-src data: blob:; font-src data:; connect-src 'none'; base-uri 'none'; form-action 'none'"
    )
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{esc(policy)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Deep Analysis Report</title><style>{STYLE}</style>{library}</head>"
        f"<body><main>{''.join(parts)}</main><script>{FIGURE_SCRIPT}</script></body></html>"
    )


def report_html_render(*, report, analysis: dict | None = None, standalone: bool) -> str:
    """The page for a stored report (or for ``analysis`` about to be stored on it)."""
    if analysis is None:
        analysis = {
            "goal": report.goal,
            "deep_questions": report.deep_questions,
            "deep_plan": report.deep_plan,
            "summaries": report.summaries,
            "code": report.analysis_code,
            "plotly_figs": report.plotly_figures,
            "synthesis": report.synthesis,
            "final_conclusion": report.final_conclusion,
        }
    return report_html_document(analysis=analysis, standalone=standalone, generated_at=report.end_time)
