"""The sandbox server's check of a child's frames (``relay.RunRelay``), in-process."""

from __future__ import annotations

import base64
import json
import struct

import pytest

from codeexec.sandbox import names, relay
from codeexec.sandbox.relay import ProtocolViolationError, RunRelay


def frame(kind: bytes, value) -> bytes:
    payload = value if isinstance(value, bytes) else json.dumps(value).encode()
    return struct.pack("!cQ", kind, len(payload)) + payload


def planned(*blocks: str) -> RunRelay:
    run = RunRelay()
    assert run.feed(frame(b"P", {"kind": "run", "blocks": list(blocks)})) == []
    return run


def block(name: str = "a", **fields) -> dict:
    return {"name": name, "ok": True, "stdout": "", "error": None, "plotly": [], "matplotlib": [], **fields}


def test_a_huge_frame_is_refused_from_its_header():
    run = planned("a")
    with pytest.raises(ProtocolViolationError, match=f"a B frame of {200 * 1024 * 1024} bytes is over its"):
        run.feed(struct.pack("!cQ", b"B", 200 * 1024 * 1024))
    assert len(run.buffer) == 9  # nothing but the header was ever held


def test_frames_may_arrive_in_pieces():
    run = planned("a")
    data = frame(b"B", block(stdout="hi")) + frame(b"R", {"saved": [], "duration_ms": 1.5})
    out = []
    for index in range(len(data)):
        out += run.feed(data[index : index + 1])
    assert [item[:1] for item in out] == [b"B", b"R"]
    assert json.loads(out[0][9:])["stdout"] == "hi"
    assert run.finished is True


@pytest.mark.parametrize(
    ("frames", "message"),
    [
        ([frame(b"B", block())], "a B frame before the plan"),
        ([frame(b"X", b"")], "unknown frame kind b'X'"),
        ([frame(b"P", {"kind": "run", "blocks": []}), frame(b"P", {"kind": "run", "blocks": []})], "a second plan"),
        ([frame(b"P", {"kind": "run", "blocks": ["a"]}), frame(b"B", b"{")], "a frame is not valid JSON"),
        ([frame(b"P", {"kind": "run", "blocks": ["a"]}), frame(b"A", b"PAR1PAR1PAR1")], "an attachment nobody"),
        (
            [frame(b"P", {"kind": "run", "blocks": ["a"]}), frame(b"B", block()), frame(b"B", block())],
            "more block results than blocks",
        ),
    ],
)
def test_protocol_violations(frames, message):
    run = RunRelay()
    with pytest.raises(ProtocolViolationError, match=message):
        for item in frames:
            run.feed(item)


def test_saved_datasets_are_checked():
    run = planned()
    parquet = b"PAR1" + b"\0" * 8 + b"PAR1"
    saved = [{"name": "top", "description": "<b>Top</b> rows", "attachment": 0}]
    (result,) = run.feed(frame(b"R", {"saved": saved, "duration_ms": 2}))
    assert json.loads(result[9:]) == {
        "saved": [{"name": "top", "description": "Top rows", "attachment": 0}],
        "duration_ms": 2.0,
    }
    assert run.feed(frame(b"A", parquet)) == [frame(b"A", parquet)]
    with pytest.raises(ProtocolViolationError, match="output after the run's result"):
        run.feed(frame(b"A", parquet))


def test_stdout_and_errors_are_capped_per_run_not_per_block():
    run = planned(*[f"b{i}" for i in range(30)])
    sizes = []
    for index in range(30):
        (out,) = run.feed(frame(b"B", block(f"b{index}", ok=False, stdout="x" * 10_000, error="e" * 30_000)))
        value = json.loads(out[9:])
        sizes.append((len(value["stdout"]), len(value["error"])))
    assert sum(stdout for stdout, _ in sizes) < relay.MAX_OUTPUT_CHARS + 2_000 + 30 * 60
    assert sum(error for _, error in sizes) < relay.MAX_RUN_ERROR_CHARS + 30 * 60
    assert sizes[0] == (10_000, relay.MAX_ERROR_CHARS + len("\n... [output truncated: 10000 more characters]\n"))
    assert sizes[-1] == (len("\n... [output truncated: 10000 more characters]\n"),) * 2


def test_figure_notes_are_capped_per_block():
    run = planned("a")
    (out,) = run.feed(frame(b"B", block(plotly=[1] * 100_000)))
    assert json.loads(out[9:])["stdout"] == (
        "\n[Plotly figure not shown: not a string]" * relay.MAX_NOTES + "\n[... and 99990 more figures not shown]\n"
    )


def test_odd_values_are_violations_not_crashes():
    run = planned()
    with pytest.raises(ProtocolViolationError, match=r"an invalid R frame \(OverflowError\)"):
        run.feed(frame(b"R", b'{"saved": [], "duration_ms": 1' + b"0" * 400 + b"}"))


def test_duplicate_saved_names_are_refused():
    run = planned()
    saved = [{"name": "x", "attachment": 0}, {"name": "x", "attachment": 1}]
    with pytest.raises(ProtocolViolationError, match="the dataset name 'x' was saved twice"):
        run.feed(frame(b"R", {"saved": saved, "duration_ms": 2}))


def test_an_attachment_must_be_parquet():
    run = planned()
    run.feed(frame(b"R", {"saved": [{"name": "x", "attachment": 0}], "duration_ms": 2}))
    with pytest.raises(ProtocolViolationError, match="a saved dataset is not a Parquet file"):
        run.feed(frame(b"A", b"<html>not parquet</html>"))


def test_figures_are_capped_per_run_and_sanitised():
    run = planned("a", "b")
    figure = {"data": [{"type": "bar", "x": ["<a href='https://x.example'>a</a>"]}], "layout": {}}
    png = base64.b64encode(relay.PNG_MAGIC + b"rest").decode()
    (first,) = run.feed(frame(b"B", block("a", plotly=[json.dumps(figure)] * 20, matplotlib=[png] * 5)))
    (second,) = run.feed(frame(b"B", block("b", matplotlib=[png] * 10, plotly=["not json"])))
    first, second = json.loads(first[9:]), json.loads(second[9:])
    assert (len(first["plotly"]), len(first["matplotlib"])) == (20, 5)
    assert json.loads(first["plotly"][0])["data"][0]["x"] == ["a"]
    assert len(second["matplotlib"]) == 5
    assert second["stdout"] == (
        "\n[Plotly figure not shown: not valid JSON]"
        + "\n[matplotlib figure not shown: at most 30 figures per run]" * 5
        + "\n"
    )


def test_a_non_png_image_is_a_note():
    run = planned("a")
    (out,) = run.feed(frame(b"B", block(matplotlib=[base64.b64encode(b"GIF89a....").decode(), "%%%"])))
    assert json.loads(out[9:])["stdout"] == (
        "\n[matplotlib figure not shown: not a PNG image]\n[matplotlib figure not shown: not base64 text]\n"
    )


def test_sanitize_plotly_removes_remote_sources_and_links():
    figure = {
        "data": [{"type": "image", "source": "https://evil.example/i.png"}, {"type": "bar", "xsrc": "u:1:abc"}],
        "layout": {
            "title": {"text": '<A HREF="javascript:alert(1)">T</A>itle'},
            "images": [{"source": "//evil.example/p.png"}, {"source": "data:image/png;base64,AAAA"}],
        },
    }
    assert relay.sanitize_plotly(figure) == {
        "data": [{"type": "image"}, {"type": "bar"}],
        "layout": {"title": {"text": "Title"}, "images": [{}, {"source": "data:image/png;base64,AAAA"}]},
    }


def test_clean_plotly_puts_a_figure_on_one_line():
    text = relay.clean_plotly(json.dumps({"data": [], "layout": {"title": {"text": "a\n```\nb\u2028c"}}}, indent=2))
    assert "\n" not in text
    assert json.loads(text)["layout"]["title"]["text"] == "a\n```\nb\u2028c"


def test_deeply_nested_figure_json_is_a_note_not_a_crash():
    run = planned("a")
    (out,) = run.feed(frame(b"B", block(plotly=["[" * 100_000 + "]" * 100_000])))
    assert json.loads(out[9:])["stdout"] == "\n[Plotly figure not shown: nested too deeply]\n"


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("sales_2024", None),
        ("print", "'print' is reserved: the sandbox already binds that name"),
        ("save_dataset", "'save_dataset' is reserved: the sandbox already binds that name"),
        ("len", "'len' is reserved: the sandbox already binds that name"),
        ("class", "'class' is a Python keyword"),
        ("match", "'match' is a Python keyword"),
        ("__x", "a dataset name must not start with two underscores"),
        ("x" * 31, "a dataset name must be at most 30 characters"),
        ("caf\u00e9", "a dataset name must be an ASCII Python identifier (letters, digits, underscores)"),
        ("a\nb", "a dataset name must be an ASCII Python identifier (letters, digits, underscores)"),
        (3, "a dataset name must be an ASCII Python identifier (letters, digits, underscores)"),
    ],
)
def test_dataset_name_rule(name, problem):
    assert names.dataset_name_problem(name) == problem


def test_every_name_the_runner_binds_is_reserved():
    import ast
    from pathlib import Path

    source = Path(relay.__file__).with_name("runner.py").read_text()
    tree = ast.parse(source)
    (function,) = [
        node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef) and node.name == "_base_namespace"
    ]
    (namespace,) = [
        node for node in ast.walk(function) if isinstance(node, ast.Assign) and node.targets[0].id == "namespace"
    ]
    bound = {key.value for key in namespace.value.keys if not key.value.startswith("__")}
    assert bound <= names.PREBOUND
