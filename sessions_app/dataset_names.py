"""Python variable names for datasets (the reference's ``clean_dataset_name`` rules),
plus two guards it lacks: no keywords, and no shadowing of the preloaded names."""

from __future__ import annotations

import keyword
import re

from codeexec.sandbox.names import RESERVED

MAX_LENGTH = 30
# RESERVED: every name the sandbox binds (pd, print, save_dataset, ...) and the builtins;
# a dataset called ``pd`` or ``len`` would hide them from the code.
__all__ = ["MAX_LENGTH", "RESERVED", "clean_dataset_name", "unique_dataset_name"]


def clean_dataset_name(raw: str) -> str:
    name = re.sub(r"[\s\-.]+", "_", (raw or "").strip())
    name = re.sub(r"[^A-Za-z0-9_]", "", name)
    name = re.sub(r"_+", "_", name).strip("_")
    if not name:
        return "dataset"
    if not (name[0].isalpha() or name[0] == "_"):
        name = f"dataset_{name}"
    if len(name) > MAX_LENGTH:
        name = name[:MAX_LENGTH].rstrip("_")
        if not (name[0].isalpha() or name[0] == "_"):
            name = f"dataset_{name}"[:MAX_LENGTH]
    if keyword.iskeyword(name) or keyword.issoftkeyword(name) or name in RESERVED:
        name = f"{name}_data"
    return name


def unique_dataset_name(base: str, taken: set[str]) -> str:
    name, counter = base, 2
    while name in taken:
        suffix = f"_{counter}"
        name = base[: MAX_LENGTH - len(suffix)] + suffix
        counter += 1
    return name
