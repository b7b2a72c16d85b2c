"""Request-body parsers with bounds: JSON nested deeper than ``MAX_JSON_DEPTH`` is a 400.

Python's JSON decoder recurses once per level: a 2 KB body of 1,000 ``[`` raises
RecursionError (a 500 before this parser), and a body just under the interpreter's limit
parses but then overflows whatever walks it next (validation, error rendering, storage).
No route needs more than a few levels, so the depth is measured on the raw bytes, before
decoding, and anything deeper is refused as a malformed body.
"""

from __future__ import annotations

import io
import re

import numpy as np
from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_JSON_DEPTH = 64

# A JSON string literal (escapes included): brackets inside strings do not nest.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")


def json_nesting_depth(raw: bytes) -> int:
    """The deepest nesting of arrays and objects in a JSON text (0 for a scalar)."""
    brackets = _JSON_STRING.sub(b"", raw).translate(None, _NOT_BRACKETS)
    if not brackets:
        return 0
    codes = np.frombuffer(brackets, dtype=np.uint8)
    steps = np.where((codes == ord("[")) | (codes == ord("{")), 1, -1)
    return int(np.cumsum(steps).max())


def json_depth_check(raw: bytes | str, *, limit: int = MAX_JSON_DEPTH) -> None:
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    if json_nesting_depth(data) > limit:
        raise ParseError(f"JSON nested deeper than {limit} levels.")


class BoundedJSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing over-deep bodies (400) instead of recursing into a 500."""

    def parse(self, stream, media_type=None, parser_context=None):
        raw = stream.read() if stream is not None else b""
        json_depth_check(raw)
        try:
            return super().parse(io.BytesIO(raw), media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels.") from None
