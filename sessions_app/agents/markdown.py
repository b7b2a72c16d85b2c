"""Markdown of agent answers in the reference's layout (§3.4), safe to show in a browser.

Everything a model or user code wrote is untrusted: prose has ``&``, ``<`` and ``>``
escaped so a markdown renderer that allows raw HTML shows it as text, and no fences,
links or images; code and output go in fences that their content cannot close. The only HTML is ours: the
complexity badge.
"""

from __future__ import annotations

import html
import re

COMPLEXITY_BADGES = {
    "unrelated": ("#FFB6B6", "○"),
    "basic": ("#FF9E9E", "●"),
    "intermediate": ("#FF7F7F", "●●"),
    "advanced": ("#FF5F5F", "●●●"),
}
NUMBERED_ITEM = re.compile(r"\(\d+\)")
LINK_TARGET = re.compile(r"\]\s*\(")


def agent_title(name: str) -> str:
    """``planner_data_viz_agent`` -> ``Planner Data Viz Agent``."""
    return name.split("__")[0].replace("_", " ").title()


def escape_text(text: str) -> str:
    """Prose as inert markdown: no HTML, no code fences, no links or (remote) images.

    Model prose can be steered by the data it reads (prompt injection); a link or image
    there could send what the user sees to someone else.
    """
    escaped = html.escape(str(text), quote=False).replace("```", "`\u200b``")
    return LINK_TARGET.sub("]\u200b(", escaped)


def fenced(language: str, content: str) -> str:
    """A code fence its content cannot close (backtick runs are broken up)."""
    safe = str(content).replace("```", "`\u200b``").strip("\n")
    return f"```{language}\n{safe}\n```\n"


def complexity_badge(complexity: str) -> str:
    colour, icon = COMPLEXITY_BADGES.get(complexity, COMPLEXITY_BADGES["basic"])
    return (
        f"<div style='color: {colour}; border: 2px solid {colour}; padding: 2px 8px; border-radius: 12px; "
        f"display: inline-block; font-size: 14.4px;'>{icon} {complexity}</div>"
    )


def summary_markdown(summary: str) -> str:
    """Prose, with "(1) ... (2) ..." enumerations turned into bullets as the reference does."""
    text = escape_text(summary.strip())
    parts = NUMBERED_ITEM.split(text)
    if len(parts) < 3:
        return text + "\n"
    lead, items = parts[0].strip(), [item.strip() for item in parts[1:] if item.strip()]
    return (lead + "\n" if lead else "") + "".join(f"* {item}\n" for item in items)


def plan_markdown(*, complexity: str, steps: list[dict], unrelated_note: str = "") -> str:
    """The planner's line: badge, then each step's create/use lists and instruction."""
    lines = [complexity_badge(complexity), "\n## Analytical Planner\n"]
    if unrelated_note:
        lines.append(f"**Non-Data Request**: {escape_text(unrelated_note)}\n")
        return "\n".join(lines)
    for step in steps:
        lines.append(f"#### {agent_title(step['agent'])}")
        for key in ("create", "use"):
            values = step.get(key) or []
            if values:
                lines.append(f"- **{key.title()}**:")
                lines.extend(f"  - {escape_text(value)}" for value in values)
            else:
                lines.append(f"- **{key.title()}**: None")
        lines.append(f"- **Instruction**: {escape_text(step.get('instruction', ''))}\n")
    return "\n".join(lines)


def answer_markdown(
    *,
    agent: str,
    code: str,
    summary: str,
    stdout: str,
    error: str | None,
    plotly: list[str],
    matplotlib: list[str],
    fix_attempts: int = 0,
) -> str:
    """One agent's answer: its code, what running it printed and drew, its summary."""
    parts = [f"\n## {agent_title(agent)}\n"]
    if code.strip():
        parts.append("### Code Implementation\n" + fenced("python", code))
    if fix_attempts:
        repaired = "repaired" if error is None else "could not be repaired"
        parts.append(f"_The code failed and {repaired} automatically ({fix_attempts} attempt(s))._\n")
    if stdout.strip():
        parts.append("### Output\n" + fenced("output", stdout))
    if error:
        parts.append("### Error\n" + fenced("output", error))
    parts.extend(fenced("plotly", figure) for figure in plotly)
    parts.extend(fenced("matplotlib", image) for image in matplotlib)
    if summary.strip():
        parts.append("### Summary\n" + summary_markdown(summary))
    return "\n".join(parts)


def plain_answer_markdown(*, agent: str, answer: str) -> str:
    return f"\n## {agent_title(agent)}\n\n### Answer\n{escape_text(answer.strip())}\n"


def error_markdown(*, agent: str, message: str) -> str:
    return f"**Error in {agent}**: {escape_text(message)}"
