"""Agent code blocks, as the reference frontend marks them in one script:

    # data_viz_agent code start
    ...
    # data_viz_agent code end

Lines before the first marker form the block ``unknown``. Output sections are headed
``=== OUTPUT FROM DATA_VIZ_AGENT ===`` / ``=== ERROR IN DATA_VIZ_AGENT ===``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

START = re.compile(r"^#\s*([a-zA-Z_]+?)_agent\s+code\s+start\s*$")
MARKER = re.compile(r"^#\s*(\w+)\s+code\s+(start|end)\s*$", re.IGNORECASE)
IMPORT = re.compile(r"^(import\s+\S|from\s+\S+\s+import\s+)")


@dataclass(frozen=True)
class Block:
    name: str
    code: str

    @property
    def agent(self) -> str:
        return f"{self.name}_agent"

    @property
    def header(self) -> str:
        return self.agent.upper()


def code_lines(code: str) -> list[str]:
    """The lines of ``code`` as Python's tokenizer counts them: ends are "\n", "\r\n" or "\r"
    only, never U+2028, U+0085, form feeds or the other breaks ``str.splitlines()`` knows."""
    lines = code.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if lines[-1] == "":
        lines.pop()
    return lines


def split_blocks(code: str) -> list[Block]:
    """Blocks in order; whitespace-only blocks (such as an empty preamble) are dropped."""
    blocks: list[Block] = []
    name, lines = "unknown", []
    for line in code_lines(code):
        match = START.match(line.strip())
        if match:
            blocks.append(Block(name, "\n".join(lines)))
            name, lines = match.group(1).lower(), []
        else:
            lines.append(line)
    blocks.append(Block(name, "\n".join(lines)))
    return [block for block in blocks if block.code.strip()]


def clean_code(code: str) -> str:
    """Hoist and de-duplicate imports to the top (sorted), keep marker blocks in order."""
    imports: list[str] = []
    sections: list[list[str]] = [[]]
    for line in code_lines(code):
        stripped = line.strip()
        if IMPORT.match(stripped) and line == line.lstrip():
            if stripped not in imports:
                imports.append(stripped)
            continue
        if (
            MARKER.match(stripped)
            and MARKER.match(stripped).group(2).lower() == "start"
            and any(part.strip() for part in sections[-1])
        ):
            sections.append([])
        sections[-1].append(line)
    bodies = ["\n".join(section).strip("\n") for section in sections if any(part.strip() for part in section)]
    head = "\n".join(sorted(imports))
    return "\n\n".join(part for part in [head, *bodies] if part)
