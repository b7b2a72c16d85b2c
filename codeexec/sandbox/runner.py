"""What a sandbox child does with one request: load the datasets, lock itself down, run
the code blocks in one namespace, and report stdout, errors, figures and saved datasets.

Runs only inside a forked child; everything here may be tampered with by the user's
code, which can only spoil its own result: the sandbox server checks every frame this
writes (``relay.RunRelay``) against the same caps and name rules as are applied here.
"""

from __future__ import annotations

import base64
import io
import json
import os
import sys
import time
import traceback
from pathlib import Path

import matplotlib
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import plotly
import plotly.express as px
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow.parquet as pq
import scipy.stats as stats
import statsmodels.api as sm
import statsmodels.formula.api as smf
from plotly.basedatatypes import BaseFigure
from plotly.subplots import make_subplots

from codeexec.sandbox import names
from codeexec.sandbox.relay import (
    MAX_FIGURE_BYTES,
    MAX_FIGURES,
    MAX_OUTPUT_CHARS,
    MAX_RUN_FIGURE_BYTES,
    MAX_SAVED_DATASETS,
    TRUNCATION_MARKER,
    plain_description,
)

_dumps = json.dumps  # bound before the user's code can replace json.dumps


class CappedWriter(io.TextIOBase):
    """A stdout that keeps the first MAX_OUTPUT_CHARS characters of the whole run (not of
    each block) and counts the rest."""

    def __init__(self, limit: int = MAX_OUTPUT_CHARS) -> None:
        self.limit = limit
        self.parts: list[str] = []
        self.size = 0
        self.dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self.size
        if room > 0:
            kept = text[:room]
            self.parts.append(kept)
            self.size += len(kept)
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def take(self) -> str:
        text = "".join(self.parts)
        if self.dropped:
            text += TRUNCATION_MARKER.format(self.dropped)
        self.parts, self.dropped = [], 0  # ``size`` stays: the cap is per run
        return text


def _table_text(frame: pd.DataFrame) -> str:
    text = frame.to_csv(sep="|", float_format="%.6g")
    rows = [" | ".join(cell.strip() for cell in line.split("|")) for line in text.strip().splitlines()]
    return "<TABLE_START>\n" + "\n".join(rows) + "\n<TABLE_END>"


def _make_print(stdout: CappedWriter):
    """``print`` that renders a lone DataFrame or Series as the reference's table block."""

    def analyst_print(*args, sep=" ", end="\n", file=None, flush=False):
        if file is not None and file is not sys.stdout:
            return print(*args, sep=sep, end=end, file=file, flush=flush)
        if len(args) == 1 and isinstance(args[0], (pd.DataFrame, pd.Series)):
            frame = args[0].to_frame() if isinstance(args[0], pd.Series) else args[0]
            if len(frame) > 50:
                frame = pd.concat([frame.head(25), frame.tail(25)])
            stdout.write(_table_text(frame) + end)
            return None
        return print(*args, sep=sep, end=end, file=stdout, flush=flush)

    return analyst_print


class FigureBudget:
    """The run's figure caps (count and bytes, per run), with a note for each figure left out."""

    def __init__(self, stdout: CappedWriter) -> None:
        self.stdout = stdout
        self.count = 0
        self.bytes = 0

    def admit(self, kind: str, text: str) -> bool:
        size = len(text)
        if self.count >= MAX_FIGURES:
            problem = f"at most {MAX_FIGURES} figures per run"
        elif size > MAX_FIGURE_BYTES:
            problem = f"{size / 1e6:.1f} MB is over the {MAX_FIGURE_BYTES // (1024 * 1024)} MB limit per figure"
        elif self.bytes + size > MAX_RUN_FIGURE_BYTES:
            problem = f"the run's figures are over {MAX_RUN_FIGURE_BYTES // (1024 * 1024)} MB together"
        else:
            self.count += 1
            self.bytes += size
            return True
        self.stdout.write(f"\n[{kind} figure not shown: {problem}]\n")
        return False


class FigureRecorder:
    """Remembers every Plotly figure constructed during the run, in creation order."""

    def __init__(self, budget: FigureBudget) -> None:
        self.figures: list[BaseFigure] = []
        self.seen: set[int] = set()
        self.budget = budget
        self.block = "unknown"
        self._original_init = BaseFigure.__init__

    def install(self) -> None:
        recorder = self
        original = self._original_init

        def recording_init(figure, *args, **kwargs):
            original(figure, *args, **kwargs)
            recorder.figures.append(figure)

        BaseFigure.__init__ = recording_init
        BaseFigure.show = lambda figure, *args, **kwargs: None
        pio.show = lambda *args, **kwargs: None

    def collect(self) -> list[str]:
        """JSON of the figures created since the last call (each figure once)."""
        result = []
        for figure in self.figures:
            if id(figure) in self.seen or not (figure.data or figure.layout.title.text):
                continue
            self.seen.add(id(figure))
            if self.budget.count >= MAX_FIGURES:
                self.budget.admit("Plotly", "")
                continue
            text = figure.to_json()
            if self.budget.admit("Plotly", text):
                result.append(text)
        self.figures.clear()
        return result


def _matplotlib_figures(budget: FigureBudget | None = None) -> list[str]:
    """Base64 PNGs of the open matplotlib figures (within the run's caps), then closed."""
    images = []
    for number in plt.get_fignums():
        if budget is not None and budget.count >= MAX_FIGURES:
            budget.admit("matplotlib", "")
            continue
        buffer = io.BytesIO()
        plt.figure(number).savefig(buffer, format="png", dpi=100, bbox_inches="tight", facecolor="white")
        image = base64.b64encode(buffer.getvalue()).decode()
        if budget is None or budget.admit("matplotlib", image):
            images.append(image)
    plt.close("all")
    return images


def format_error(error: BaseException, *, block: str, code: str) -> str:
    """The error with a traceback limited to the user's own lines, marked ``>>>``."""
    filename = f"<{block}>"
    frames = [frame for frame in traceback.extract_tb(error.__traceback__) if frame.filename == filename]
    lines = code.split("\n")  # as the tokenizer counts lines (not U+2028 and the like)
    parts = [f"{type(error).__name__}: {error}"]
    if isinstance(error, SyntaxError) and error.lineno:
        frames_lines = [error.lineno]
    else:
        frames_lines = [frame.lineno for frame in frames if frame.lineno]
    if frames_lines:
        number = frames_lines[-1]
        parts.append(f"Problem at line {number} of {block}:")
        for index in range(max(1, number - 2), min(len(lines), number + 2) + 1):
            marker = ">>> " if index == number else "    "
            parts.append(f"{marker}{index:4d} | {lines[index - 1]}")
    if frames:
        parts.append("Traceback (your code):")
        shown = frames if len(frames) <= 12 else [*frames[:3], None, *frames[-8:]]
        for frame in shown:
            if frame is None:
                parts.append(f"  ... {len(frames) - 11} more frames ...")
                continue
            text = lines[frame.lineno - 1].strip() if frame.lineno and frame.lineno <= len(lines) else ""
            parts.append(f"  line {frame.lineno}, in {frame.name}: {text}")
    return "\n".join(parts)


def _base_namespace(datasets: dict[str, pd.DataFrame], stdout: CappedWriter, saved: list) -> dict:
    def save_dataset(frame, name: str, description: str = "") -> str:
        """Keep ``frame`` as a new dataset of the session, available to later runs as ``name``."""
        if not isinstance(frame, pd.DataFrame):
            raise TypeError("save_dataset needs a pandas DataFrame")
        problem = names.dataset_name_problem(name)
        if problem:
            raise ValueError(f"save_dataset: {problem}")
        if any(item["name"] == name for item in saved):
            raise ValueError(f"save_dataset: a dataset named {name!r} was already saved in this run")
        if len(saved) >= MAX_SAVED_DATASETS:
            raise RuntimeError(f"at most {MAX_SAVED_DATASETS} datasets can be saved per run")
        if not isinstance(description, str):
            raise TypeError("save_dataset needs the description as a string")
        path = Path("/scratch" if Path("/scratch").is_dir() else os.getcwd()) / f"saved-{len(saved)}.parquet"
        frame.to_parquet(path, index=False)
        saved.append({"name": name, "description": plain_description(description), "path": str(path)})
        return name

    namespace = {
        "__name__": "__main__",
        "__builtins__": __builtins__,
        "pd": pd,
        "np": np,
        "px": px,
        "go": go,
        "plotly": plotly,
        "pio": pio,
        "make_subplots": make_subplots,
        "plt": plt,
        "matplotlib": matplotlib,
        "sm": sm,
        "smf": smf,
        "stats": stats,
        "save_dataset": save_dataset,
        "print": _make_print(stdout),
    }
    namespace.update(datasets)
    return namespace


def load_datasets(specs: list[dict]) -> dict[str, pd.DataFrame]:
    return {spec["name"]: pq.read_table(spec["path"], use_threads=False).to_pandas() for spec in specs}


def run_blocks(blocks: list[dict], datasets: dict[str, pd.DataFrame], on_block) -> dict:
    """Run each block in one shared namespace; a failing block does not stop the next.

    ``on_block`` receives each block's result (stdout, error, its figures) as soon as the
    block ends, so what finished survives a later block being killed.
    """
    stdout = CappedWriter()
    saved: list[dict] = []
    namespace = _base_namespace(datasets, stdout, saved)
    budget = FigureBudget(stdout)
    recorder = FigureRecorder(budget)
    recorder.install()
    plt.show = lambda *args, **kwargs: None
    started = time.perf_counter()
    sys.stdout = stdout
    sys.stderr = CappedWriter(20_000)
    try:
        for block in blocks:
            name, code = block["name"], block["code"]
            recorder.block = name
            error = None
            try:
                exec(compile(code, f"<{name}>", "exec"), namespace)
            except BaseException as exc:  # SystemExit and KeyboardInterrupt end only the block
                error = format_error(exc, block=name, code=code)
            try:
                plotly_figures, images = recorder.collect(), _matplotlib_figures(budget)
            except Exception as exc:  # a figure that cannot be rendered fails its block
                plotly_figures, images = [], []
                plt.close("all")
                error = error or f"The figures could not be rendered: {type(exc).__name__}: {exc}"
            on_block(
                {
                    "name": name,
                    "ok": error is None,
                    "error": error,
                    "plotly": plotly_figures,
                    "matplotlib": images,
                    "stdout": stdout.take(),
                }
            )
    finally:
        sys.stdout, sys.stderr = sys.__stdout__, sys.__stderr__
    return {"saved": saved, "duration_ms": round((time.perf_counter() - started) * 1000, 2)}


def result_attachments(result: dict) -> list[bytes]:
    """Read saved datasets back from scratch (they become frames after the result)."""
    attachments = []
    for index, item in enumerate(result["saved"]):
        with open(item.pop("path"), "rb") as handle:
            attachments.append(handle.read())
        item["attachment"] = index
    return attachments


def encode_result(result: dict) -> bytes:
    return _dumps(result, default=str).encode()


def warm_up() -> None:
    """Exercise the common paths once in the server, so forked children inherit the lazy
    imports and caches (Parquet reading, pandas printing, Plotly JSON, matplotlib PNG,
    model fitting) instead of paying for them on every run."""
    from sklearn.cluster import KMeans
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"x": np.arange(20, dtype=float), "y": np.arange(20) * 2.0, "g": ["a", "b"] * 10})
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    buffer.seek(0)
    frame = pq.read_table(buffer, use_threads=False).to_pandas()
    str(frame.describe())
    _table_text(frame.groupby("g").mean(numeric_only=True))
    px.bar(frame, x="g", y="y").to_json()
    go.Figure(go.Scatter(x=frame.x, y=frame.y)).to_html(full_html=False)
    plt.plot(frame.x, frame.y)
    _matplotlib_figures()
    sm.OLS(frame.y, sm.add_constant(frame.x)).fit().summary()
    smf.ols("y ~ x + C(g)", data=frame).fit()
    LinearRegression().fit(frame[["x"]], frame.y)
    # scikit-learn caches its threadpoolctl controller on first use; building it reads
    # /proc/self/maps, which the children's private root does not have.
    KMeans(n_clusters=2, n_init=1, random_state=0).fit(frame[["x", "y"]])
    stats.pearsonr(frame.x, frame.y)
