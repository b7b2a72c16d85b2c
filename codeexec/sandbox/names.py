"""Names the runner binds before the user's code, and the rule for a saved dataset's name.

Light on purpose (no pandas): the web process, the sandbox server's trusted relay and
the runner all apply the same rule, so a name the runner refuses can never be stored.
"""

from __future__ import annotations

import builtins
import keyword
import re

MAX_NAME_LENGTH = 30

# What ``runner._base_namespace`` binds, plus names the generated code expects to mean
# a library (``sns``) or the list of datasets.
PREBOUND = frozenset(
    {
        "pd",
        "np",
        "px",
        "go",
        "plotly",
        "pio",
        "make_subplots",
        "plt",
        "matplotlib",
        "sm",
        "smf",
        "stats",
        "save_dataset",
        "print",
        "sns",
        "datasets",
    }
)
# A dataset called ``len`` or ``open`` would shadow the builtin in every later run.
RESERVED = PREBOUND | frozenset(name for name in dir(builtins) if not name.startswith("__"))

_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def dataset_name_problem(name: object) -> str | None:
    """Why ``name`` cannot be a saved dataset's name, or None when it can."""
    if not isinstance(name, str) or not _NAME.match(name):
        return "a dataset name must be an ASCII Python identifier (letters, digits, underscores)"
    if len(name) > MAX_NAME_LENGTH:
        return f"a dataset name must be at most {MAX_NAME_LENGTH} characters"
    if name.startswith("__"):
        return "a dataset name must not start with two underscores"
    if keyword.iskeyword(name) or keyword.issoftkeyword(name):
        return f"{name!r} is a Python keyword"
    if name in RESERVED:
        return f"{name!r} is reserved: the sandbox already binds that name"
    return None
