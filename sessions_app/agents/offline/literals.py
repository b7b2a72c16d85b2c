"""The one door through which data enters generated code: Python literals.

Column names, category values, dataset names, descriptions and the words of a question
are data, chosen by whoever uploaded the file or typed the question. The offline
analyst's templates put them into code only through the functions here, and each of them
yields a complete, quoted literal:

- :func:`lit` for a string, number, list or dict anywhere an expression may stand;
- :func:`fstring_text` for the literal part of a double-quoted f-string;
- :func:`fstring_key` for a subscript key inside an f-string's braces (Python 3.11 allows
  neither backslashes nor the enclosing quote there);
- :func:`variable` for a dataset's variable: the bare name only when it is a plain ASCII
  identifier (the names :mod:`sessions_app.dataset_names` makes), else a lookup by a
  quoted key.

Quoted strings escape every character that is not printable, including the line breaks
Python's tokenizer ignores but ``str.splitlines`` honours (U+2028, U+2029, U+0085, form
feed...) and bidirectional controls, so a generated line of code stays one line for every
reader of it. :func:`verify` checks a finished program at the single rendering point: it
parses, it has no line break but ``\\n``, and its comments are only the templates' own.
"""

from __future__ import annotations

import ast
import io
import keyword
import math
import re
import tokenize

_PLAIN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
# What str.splitlines() splits on besides "\n".
_OTHER_LINE_BREAKS = "\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
_ESCAPES = {"\\": "\\\\", '"': '\\"', "\n": "\\n", "\r": "\\r", "\t": "\\t"}

# Every comment a template may write. None carries data.
TEMPLATE_COMMENTS = frozenset({"# a readable scatter"})


class UnsafeCodeError(ValueError):
    """A rendered program that is not what the templates promise (a bug, never data's fault)."""


def quote(text: str) -> str:
    """``text`` as a double-quoted Python string literal that evaluates back to ``text``."""
    out = ['"']
    for char in text:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char.isprintable():
            out.append(char)
        else:
            point = ord(char)
            width = "x02" if point < 0x100 else "u04" if point < 0x10000 else "U08"
            out.append(f"\\{width[0]}{point:0{width[1:]}x}")
    out.append('"')
    return "".join(out)


def lit(value: object) -> str:
    """A Python literal for a string, number, boolean, None, list, tuple or dict of those."""
    if isinstance(value, str):
        return quote(value)
    if value is None or isinstance(value, bool):
        return repr(value)
    if isinstance(value, int):
        return repr(int(value))
    if isinstance(value, float):
        if math.isnan(value):
            return 'float("nan")'
        if math.isinf(value):
            return 'float("inf")' if value > 0 else 'float("-inf")'
        return repr(float(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(lit(item) for item in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{lit(key)}: {lit(item)}" for key, item in value.items()) + "}"
    raise TypeError(f"no literal for a {type(value).__name__}")


def docstring(text: str) -> str:
    """``text`` as a one-line triple-quoted docstring (a program's title)."""
    return f'""{quote(text)}""'


def fstring_text(text: object) -> str:
    """``text`` for the literal part of a double-quoted f-string (escaped, braces doubled)."""
    return quote(str(text))[1:-1].replace("{", "{{").replace("}", "}}")


def fstring_key(text: str) -> str:
    """A string literal usable inside a double-quoted f-string's braces on Python 3.11."""
    body = quote(text)[1:-1]
    if "\\" not in body and "'" not in body and '"' not in body:
        return f"'{body}'"
    return f"bytes.fromhex('{text.encode('utf-8', 'surrogatepass').hex()}').decode('utf-8', 'surrogatepass')"


def is_plain_name(name: str) -> bool:
    """An ASCII identifier that is no keyword: safe to write as a variable name."""
    return bool(_PLAIN_NAME.fullmatch(name)) and not keyword.iskeyword(name) and not keyword.issoftkeyword(name)


def variable(name: str) -> str:
    """Code that names the dataset variable ``name`` (readable or assignable)."""
    return name if is_plain_name(name) else f"globals()[{lit(name)}]"


def verify(code: str) -> None:
    """Raise :class:`UnsafeCodeError` unless ``code`` parses, keeps to ``\\n`` line breaks and has
    only the templates' comments."""
    if any(char in code for char in _OTHER_LINE_BREAKS):
        raise UnsafeCodeError("a line break other than \\n")
    try:
        ast.parse(code)
        tokens = list(tokenize.generate_tokens(io.StringIO(code).readline))
    except (SyntaxError, tokenize.TokenError, ValueError) as error:
        raise UnsafeCodeError(f"does not parse: {error}") from error
    for token in tokens:
        if token.type == tokenize.COMMENT and token.string not in TEMPLATE_COMMENTS:
            raise UnsafeCodeError(f"unexpected comment: {token.string[:80]!r}")
