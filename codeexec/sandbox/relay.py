"""The trusted side of a run's output: frames from the child are checked here, in the
sandbox server, before anything reaches the web process.

The child (which runs the user's code) has no handle on the connection to the web
process: it writes frames to a pipe the server reads. ``RunRelay`` parses that byte
stream incrementally with a cap per frame kind (a 200 MiB header is refused as soon as
its nine bytes arrive, never buffered), and validates every frame as untrusted input:

- ``P`` (plan) must come first and only once; it is written by trusted code before the
  user's code runs and names the blocks in order.
- ``B`` (one block's result): the name must be the next planned block; stdout and error
  are strings, truncated to their caps with a marker; figures are counted and sized per
  RUN (not per block), Plotly JSON is parsed, stripped of remote images and links and
  re-serialised on one line, matplotlib images must be base64 PNGs.
- ``R`` (the result): at most ``MAX_SAVED_DATASETS`` saved datasets, each name passing
  ``names.dataset_name_problem``, no name twice, plain-text descriptions.
- ``A`` (attachments): exactly one per saved dataset, Parquet magic at both ends, within
  the per-dataset and per-run byte caps.

Anything else (an unknown kind, a frame out of order, a block too many, invalid JSON)
is a violation: the server kills the child and reports the run as stopped, in band.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import struct

from codeexec.sandbox import names

HEADER = struct.Struct("!cQ")

MAX_OUTPUT_CHARS = 200_000  # stdout of the whole run
MAX_ERROR_CHARS = 20_000  # one block's error
MAX_RUN_ERROR_CHARS = 200_000  # the errors of the whole run
MAX_NOTES = 10  # notes about figures left out, per block
MAX_FIGURES = 30  # per run, Plotly and matplotlib together
MAX_FIGURE_BYTES = 5 * 1024 * 1024  # one figure's JSON or base64 PNG
MAX_RUN_FIGURE_BYTES = 20 * 1024 * 1024  # all figures of one run
MAX_SAVED_DATASETS = 10
MAX_SAVED_BYTES = 50 * 1024 * 1024  # one saved dataset's Parquet
MAX_RUN_SAVED_BYTES = 100 * 1024 * 1024  # all saved datasets of one run
MAX_DESCRIPTION_CHARS = 2_000
TRUNCATION_MARKER = "\n... [output truncated: {} more characters]\n"

# A block frame holds stdout and error (JSON may escape a character as 6 bytes) and the
# figures; the child's own caps keep a real run well inside.
FRAME_CAPS = {
    b"P": 1024 * 1024,
    b"B": 6 * (MAX_OUTPUT_CHARS + MAX_ERROR_CHARS) + 2 * MAX_RUN_FIGURE_BYTES + 64 * 1024,
    b"R": 256 * 1024,
    b"A": MAX_SAVED_BYTES,
}
# What the server itself sends the web process (its status frame) is small.
CLIENT_FRAME_CAPS = {**FRAME_CAPS, b"S": 64 * 1024}
# Everything one run may send the web process: the web process's memory bound per run.
MAX_RUN_BYTES = FRAME_CAPS[b"B"] + MAX_RUN_SAVED_BYTES + 4 * 1024 * 1024

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
PARQUET_MAGIC = b"PAR1"
_BASE64 = re.compile(rb"[A-Za-z0-9+/]*={0,2}\Z")
_TAG = re.compile(r"<[^>]*>?")
_LINK = re.compile(r"</?\s*a\b[^>]*>?", re.IGNORECASE)


class ProtocolViolationError(Exception):
    """The child's output broke the protocol; the run is stopped."""


def frame(kind: bytes, payload: bytes) -> bytes:
    return HEADER.pack(kind, len(payload)) + payload


def _text(value: object, limit: int) -> str:
    """A string the child sent, as valid Unicode, at most ``limit`` characters plus a marker."""
    if not isinstance(value, str):
        raise ProtocolViolationError("a text field is not a string")
    value = value.encode("utf-8", "replace").decode("utf-8")
    if len(value) > limit:
        value = value[:limit] + TRUNCATION_MARKER.format(len(value) - limit)
    return value


def _strip_links(text: str) -> str:
    return _LINK.sub("", text) if "<" in text else text


def _external(value: object) -> bool:
    return isinstance(value, str) and not value.strip().lower().startswith("data:") and bool(value.strip())


def sanitize_plotly(figure: object) -> object:
    """Remove what would make a viewer's browser fetch or open a remote address: image
    sources that are not ``data:`` URIs (``layout.images``, ``image`` traces), ``*src``
    references, and ``<a href>`` links in any text. Iterative: depth cannot crash it."""
    stack = [figure]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key in list(node):
                value = node[key]
                if (key == "source" or key.endswith("src")) and _external(value):
                    del node[key]
                    continue
                if isinstance(value, str):
                    node[key] = _strip_links(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, str):
                    node[index] = _strip_links(value)
                elif isinstance(value, (dict, list)):
                    stack.append(value)
    return figure


def clean_plotly(raw: object) -> str:
    """A Plotly figure's JSON, validated, sanitised and on one line (so it cannot end the
    fence it is wrapped in). Raises ValueError when it is not a figure."""
    if not isinstance(raw, str):
        raise ValueError("not a string")
    try:
        figure = json.loads(raw)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    except ValueError:
        raise ValueError("not valid JSON") from None
    if not isinstance(figure, dict) or not isinstance(figure.get("data", []), list):
        raise ValueError("not a Plotly figure")
    try:
        return json.dumps(sanitize_plotly(figure), separators=(",", ":"), ensure_ascii=False, allow_nan=True)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def clean_png(raw: object) -> str:
    if not isinstance(raw, str) or not raw.isascii():
        raise ValueError("not base64 text")
    data = raw.encode()
    if not _BASE64.match(data):
        raise ValueError("not base64 text")
    try:
        head = base64.b64decode(data[:16], validate=True)
    except binascii.Error:
        raise ValueError("not base64 text") from None
    if not head.startswith(PNG_MAGIC):
        raise ValueError("not a PNG image")
    return raw


def plain_description(value: object) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ProtocolViolationError("a saved dataset's description is not a string")
    return _TAG.sub("", value.encode("utf-8", "replace").decode("utf-8"))[:MAX_DESCRIPTION_CHARS]


class RunRelay:
    """Parse and validate one run's frames; ``feed`` returns the frames to forward."""

    def __init__(self) -> None:
        self.buffer = bytearray()
        self.plan: dict | None = None
        self.blocks_seen = 0
        self.figures = 0
        self.figure_bytes = 0
        self.result: dict | None = None
        self.attachments_expected = 0
        self.attachments_seen = 0
        self.saved_bytes = 0
        self.finished = False
        # The runner's cap on stdout is per run; room for its marker and figure notes.
        self.stdout_room = MAX_OUTPUT_CHARS + 2_000
        self.error_room = MAX_RUN_ERROR_CHARS

    def feed(self, data: bytes) -> list[bytes]:
        self.buffer += data
        out = []
        while len(self.buffer) >= HEADER.size:
            kind, length = HEADER.unpack_from(self.buffer)
            cap = FRAME_CAPS.get(kind)
            if cap is None:
                raise ProtocolViolationError(f"unknown frame kind {kind!r}")
            if length > cap:
                raise ProtocolViolationError(f"a {kind.decode()} frame of {length} bytes is over its {cap} byte limit")
            if len(self.buffer) < HEADER.size + length:
                break
            payload = bytes(self.buffer[HEADER.size : HEADER.size + length])
            del self.buffer[: HEADER.size + length]
            try:
                forwarded = self._frame(kind, payload)
            except ProtocolViolationError:
                raise
            except Exception as error:  # whatever else odd input can raise is a violation too
                raise ProtocolViolationError(f"an invalid {kind.decode()} frame ({type(error).__name__})") from None
            if forwarded is not None:
                out.append(forwarded)
        return out

    def _json(self, payload: bytes) -> dict:
        try:
            value = json.loads(payload)
        except (ValueError, RecursionError):
            raise ProtocolViolationError("a frame is not valid JSON") from None
        if not isinstance(value, dict):
            raise ProtocolViolationError("a frame is not a JSON object")
        return value

    def _frame(self, kind: bytes, payload: bytes) -> bytes | None:
        if self.finished:
            raise ProtocolViolationError("output after the run's result")
        if kind == b"P":
            if self.plan is not None or self.blocks_seen:
                raise ProtocolViolationError("a second plan")
            plan = self._json(payload)
            blocks = plan.get("blocks")
            if plan.get("kind") not in ("run", "info") or not isinstance(blocks, list):
                raise ProtocolViolationError("an invalid plan")
            self.plan = plan
            return None
        if self.plan is None:
            if kind == b"R":  # the trusted part of the child failed before its plan
                fatal = self._json(payload).get("fatal")
                if isinstance(fatal, str):
                    self.result, self.finished = {"fatal": _text(fatal, MAX_ERROR_CHARS)}, True
                    return frame(b"R", json.dumps(self.result, ensure_ascii=False).encode())
            raise ProtocolViolationError(f"a {kind.decode()} frame before the plan")
        if kind == b"B":
            return frame(b"B", self._block(self._json(payload)))
        if kind == b"R":
            if self.result is not None:
                raise ProtocolViolationError("a second result")
            return frame(b"R", self._result(self._json(payload)))
        # b"A"
        if self.result is None or self.attachments_seen >= self.attachments_expected:
            raise ProtocolViolationError("an attachment nobody announced")
        self.saved_bytes += len(payload)
        if self.saved_bytes > MAX_RUN_SAVED_BYTES:
            raise ProtocolViolationError(f"saved datasets over {MAX_RUN_SAVED_BYTES // (1024 * 1024)} MB in one run")
        if len(payload) < 12 or not payload.startswith(PARQUET_MAGIC) or not payload.endswith(PARQUET_MAGIC):
            raise ProtocolViolationError("a saved dataset is not a Parquet file")
        self.attachments_seen += 1
        self.finished = self.attachments_seen == self.attachments_expected
        return frame(b"A", payload)

    def _block(self, block: dict) -> bytes:
        planned = self.plan.get("blocks") or []
        if self.result is not None or self.blocks_seen >= len(planned):
            raise ProtocolViolationError("more block results than blocks")
        name = planned[self.blocks_seen]
        if block.get("name") != name:
            raise ProtocolViolationError("a block result out of order")
        self.blocks_seen += 1
        ok = block.get("ok")
        if not isinstance(ok, bool):
            raise ProtocolViolationError("a block result without a status")
        stdout = _text(block.get("stdout") or "", max(self.stdout_room, 0))
        self.stdout_room -= len(stdout)
        error = block.get("error")
        if error is not None:
            error = _text(error, max(min(MAX_ERROR_CHARS, self.error_room), 0))
            self.error_room -= len(error)
        if ok == (error is not None):
            raise ProtocolViolationError("a block result whose status and error disagree")
        notes: list[str] = []
        plotly = self._figures(block.get("plotly"), clean_plotly, "Plotly", notes)
        images = self._figures(block.get("matplotlib"), clean_png, "matplotlib", notes)
        if notes:
            shown = notes[:MAX_NOTES]
            if len(notes) > MAX_NOTES:
                shown.append(f"... and {len(notes) - MAX_NOTES} more figures not shown")
            stdout += "".join(f"\n[{note}]" for note in shown) + "\n"
        clean = {"name": name, "ok": ok, "stdout": stdout, "error": error, "plotly": plotly, "matplotlib": images}
        return json.dumps(clean, ensure_ascii=False).encode()

    def _figures(self, items: object, clean, label: str, notes: list[str]) -> list[str]:
        if items is None:
            return []
        if not isinstance(items, list):
            raise ProtocolViolationError("figures are not a list")
        kept = []
        for item in items:
            size = len(item) if isinstance(item, str) else 0
            if self.figures >= MAX_FIGURES:
                notes.append(f"{label} figure not shown: at most {MAX_FIGURES} figures per run")
                continue
            if size > MAX_FIGURE_BYTES:
                notes.append(
                    f"{label} figure not shown: {size / 1e6:.1f} MB is over the "
                    f"{MAX_FIGURE_BYTES // (1024 * 1024)} MB limit per figure"
                )
                continue
            if self.figure_bytes + size > MAX_RUN_FIGURE_BYTES:
                notes.append(
                    f"{label} figure not shown: the run's figures are over "
                    f"{MAX_RUN_FIGURE_BYTES // (1024 * 1024)} MB together"
                )
                continue
            try:
                cleaned = clean(item)
            except ValueError as error:
                notes.append(f"{label} figure not shown: {error}")
                continue
            self.figures += 1
            self.figure_bytes += len(cleaned)
            kept.append(cleaned)
        return kept

    def _result(self, result: dict) -> bytes:
        if self.plan.get("kind") == "info":
            if set(result) != {"level", "pid", "landlock", "seccomp"}:
                raise ProtocolViolationError("an invalid info answer")
            self.result = result
            self.finished = True
            return json.dumps(result).encode()
        if "fatal" in result:
            self.result = {"fatal": _text(result["fatal"], MAX_ERROR_CHARS)}
            self.finished = True
            return json.dumps(self.result, ensure_ascii=False).encode()
        saved = result.get("saved")
        duration = result.get("duration_ms")
        if not isinstance(saved, list) or not isinstance(duration, (int, float)) or isinstance(duration, bool):
            raise ProtocolViolationError("an invalid result")
        if len(saved) > MAX_SAVED_DATASETS:
            raise ProtocolViolationError(f"more than {MAX_SAVED_DATASETS} saved datasets")
        clean_saved = []
        seen: set[str] = set()
        for index, item in enumerate(saved):
            if not isinstance(item, dict) or item.get("attachment") != index:
                raise ProtocolViolationError("an invalid saved dataset")
            name = item.get("name")
            problem = names.dataset_name_problem(name)
            if problem:
                raise ProtocolViolationError(f"a saved dataset name was refused: {problem}")
            if name in seen:
                raise ProtocolViolationError(f"the dataset name {name!r} was saved twice")
            seen.add(name)
            clean_saved.append(
                {"name": name, "description": plain_description(item.get("description")), "attachment": index}
            )
        self.result = {"saved": clean_saved, "duration_ms": float(duration)}
        self.attachments_expected = len(clean_saved)
        self.finished = not clean_saved
        return json.dumps(self.result).encode()
