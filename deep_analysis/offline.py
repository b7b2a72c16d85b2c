"""The offline engine's answers to the deep-analysis signatures.

The product's ``offline`` provider (:mod:`sessions_app.agents.offline.engine`) answers
the agents' signatures; this engine wraps it and answers the deep-analysis ones
(:mod:`deep_analysis.signatures`) from the dataset context and from what the sandbox
actually printed, delegating every other call. Nothing here writes numbers: questions
come from the columns' kinds and names, and findings are the lines the executed code
printed. In generated code, data-derived text (questions, column names) appears only as
``repr()`` literals.
"""

from __future__ import annotations

import json
import re

import dspy
from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events

from deep_analysis import signatures as ds
from sessions_app.agents.context import CATEGORICAL, NUMERIC, DatasetContext, context_from_text
from sessions_app.agents.offline import analyst
from sessions_app.agents.offline import engine as offline
from sessions_app.catalogue import OFFLINE_PROVIDER

TARGET_WORDS = ("price", "sales", "revenue", "amount", "total", "value", "cost", "income", "profit", "score", "target")
NUMBERED = re.compile(r"^\s*(\d+)[.)]\s*(.+?)\s*$", re.MULTILINE)
FINDING = re.compile(r"^\s*-\s+(.+?)\s*$", re.MULTILINE)
COMPUTE_HINTS = ("statistic", "analytic", "sk_learn", "learn", "model")
CHART_HINTS = ("viz", "visual", "plot", "chart")


def _datasets(text: str) -> list[DatasetContext]:
    try:
        return context_from_text(text) if text.strip() else []
    except (ValueError, KeyError, TypeError):
        return []


def _mentioned(goal: str, names: list[str]) -> list[str]:
    lowered = goal.lower()
    return [name for name in names if name.lower() in lowered]


def _target(goal: str, numeric: list[str]) -> str:
    named = _mentioned(goal, numeric)
    if named:
        return named[0]
    for word in TARGET_WORDS:
        for name in numeric:
            if word in name.lower():
                return name
    return numeric[0]


def questions(*, goal: str, dataset_info: str) -> str:
    """Up to five questions, each answerable by the analyst from the columns' kinds."""
    datasets = [d for d in _datasets(dataset_info) if not d.derived] or _datasets(dataset_info)
    if not datasets:
        return "1. What does the loaded data contain?"
    dataset = datasets[0]
    numeric = [c.name for c in dataset.columns if c.kind == NUMERIC]
    categorical = [c.name for c in dataset.columns if c.kind == CATEGORICAL and (c.distinct or 0) >= 2]
    found: list[str] = []
    if numeric:
        target = _target(goal, numeric)
        others = [name for name in numeric if name != target]
        found.append(f"What is the distribution of {target}, and how skewed is it?")
        if others:
            found.append(f"Which numeric columns correlate most strongly with {target}?")
        if categorical:
            group = (_mentioned(goal, categorical) or categorical)[-1]
            found.append(f"How does the average {target} differ across {group} groups?")
        if others:
            other = (_mentioned(goal, others) or others)[0]
            found.append(f"How does {target} relate to {other}?")
        if others or categorical:
            found.append(f"Which factors best predict {target} in a regression model?")
    else:
        for group in categorical[:3]:
            found.append(f"How many rows fall in each {group} category?")
    if not found:
        found.append(f"What does {dataset.name} contain?")
    return "\n".join(f"{index}. {text}" for index, text in enumerate(found[: ds.MAX_QUESTIONS], start=1))


def numbered_questions(text: str) -> list[str]:
    """The questions of a numbered list (or one per line when not numbered)."""
    found = [match.group(2) for match in NUMBERED.finditer(text or "")]
    if not found:
        found = [line.strip("-• \t") for line in (text or "").splitlines() if line.strip("-• \t")]
    return found[: ds.MAX_QUESTIONS]


def _agents(text: str) -> list[str]:
    try:
        value = json.loads(text)
    except ValueError:
        return []
    return [str(name) for name in value] if isinstance(value, dict) else []


def _pick(agents: list[str], hints: tuple[str, ...], *, avoid: tuple[str, ...] = ()) -> str | None:
    for hint in hints:
        for name in agents:
            if hint in name.lower() and not any(word in name.lower() for word in avoid):
                return name
    return None


def plan(*, deep_questions: str, agents_desc: str) -> str:
    """Every question to a computing agent, and to a charting agent when there is one."""
    agents = _agents(agents_desc)
    count = len(numbered_questions(deep_questions))
    compute = _pick(agents, ("statistic", "analytic"), avoid=CHART_HINTS) or _pick(
        agents, COMPUTE_HINTS, avoid=CHART_HINTS
    )
    learner = _pick(agents, ("sk_learn", "learn"), avoid=CHART_HINTS) or compute
    chart = _pick(agents, CHART_HINTS)
    compute = compute or learner or chart or (agents[0] if agents else None)
    if compute is None or count == 0:
        return "{}"
    result: dict[str, dict] = {}
    predicted = [n for n, q in enumerate(numbered_questions(deep_questions), 1) if "predict" in q.lower()]
    for name, numbers, verb in (
        (compute, [n for n in range(1, count + 1) if n not in predicted or learner == compute], "Compute"),
        (learner, predicted if learner != compute else [], "Compute"),
        (chart, list(range(1, count + 1)) if chart and chart != compute else [], "Plot"),
    ):
        if name and numbers:
            entry = result.setdefault(name, {"questions": [], "instruction": ""})
            entry["questions"] = sorted(set(entry["questions"]) | set(numbers))
            entry["instruction"] = f"{verb} what each assigned question asks, naming the columns it is about."
    return json.dumps(result)


def fix_plan(*, deep_questions: str, agents_desc: str) -> str:
    return plan(deep_questions=deep_questions, agents_desc=agents_desc)


def synthesize_code(*, deep_questions: str, agent_code: str, dataset_info: str) -> str:
    """One program: per question its header, then one analysis that computes and draws
    what the agents did for it (written once, so a model is not fitted twice), or the
    agents' own code when the analyst cannot write it."""
    try:
        parts = json.loads(agent_code)
    except ValueError:
        parts = []
    parts = (
        [p for p in parts if isinstance(p, dict) and isinstance(p.get("code"), str)] if isinstance(parts, list) else []
    )
    datasets = _datasets(dataset_info)
    program: list[str] = []
    for number, question in enumerate(numbered_questions(deep_questions), start=1):
        own = [part for part in parts if part.get("question") == number]
        if not own:
            continue  # no agent's code ran for it: nothing to combine
        header = f"{ds.QUESTION_HEADER} {number}: {question}"
        program.append(f"print({header!r})")
        combined = ""
        if datasets:
            both = json.dumps({"instruction": "Compute what the question asks. Plot it."})
            combined, _ = analyst.write_code(
                agent="data_viz_agent", goal=question, datasets=datasets, plan_instructions=both
            )
        if combined.strip() and not combined.startswith("# The offline analyst cannot"):
            program.append(combined.rstrip("\n"))
        else:
            program.extend(part["code"].rstrip("\n") for part in own)
        program.append("")
    return "\n".join(program)


def synthesize(*, question: str, summaries: str, print_outputs: str) -> str:
    findings = FINDING.findall(print_outputs or "")
    heading = f"### {question}"
    if "Error" in (print_outputs or "") and not findings:
        return f"{heading}\n\nThe code for this question failed, so it has no computed answer:\n\n" + (
            f"```\n{print_outputs.strip()[-600:]}\n```"
        )
    if not findings:
        return f"{heading}\n\nThe program printed no findings for this question."
    unique = list(dict.fromkeys(findings))
    return f"{heading}\n\n" + "\n".join(f"- {line}" for line in unique[:8])


SECTION = re.compile(r"^###\s+(.+?)\s*$", re.MULTILINE)


def conclude(*, goal: str, synthesized_sections: str) -> str:
    try:
        sections = json.loads(synthesized_sections)
    except ValueError:
        sections = [synthesized_sections]
    sections = [str(item) for item in sections] if isinstance(sections, list) else [str(sections)]
    answered = [s for s in sections if FINDING.search(s)]
    lines = [
        f"The analysis of \u201c{goal.strip()[:300]}\u201d answered {len(answered)} of {len(sections)} "
        "research questions with numbers computed from the data."
    ]
    key = []
    for section in answered:
        first = FINDING.search(section)
        if first:
            key.append(f"- {first.group(1)}")
    if key:
        lines += ["", "Key results:", *key[:5]]
    unanswered = [SECTION.search(s).group(1) for s in sections if s not in answered and SECTION.search(s)]
    lines += ["", "Caveats:"]
    if unanswered:
        lines += [f"- No computed answer for: {title}" for title in unanswered]
    lines.append("- Written by the offline rule-based engine: the findings restate the printed results only.")
    return "\n".join(lines)


def _handle(signature: type, inputs: dict) -> dict:
    if signature is ds.DeepQuestions:
        return {"deep_questions": questions(goal=inputs.get("goal", ""), dataset_info=inputs.get("dataset_info", ""))}
    if signature is ds.DeepPlanner:
        return {
            "plan_instructions": plan(
                deep_questions=inputs.get("deep_questions", ""), agents_desc=inputs.get("agents_desc", "")
            )
        }
    if signature is ds.DeepPlanFixer:
        return {
            "fixed_plan": fix_plan(
                deep_questions=inputs.get("deep_questions", ""), agents_desc=inputs.get("agents_desc", "")
            )
        }
    if signature is ds.DeepCodeSynthesizer:
        return {
            "code": synthesize_code(
                deep_questions=inputs.get("deep_questions", ""),
                agent_code=inputs.get("agent_code", ""),
                dataset_info=inputs.get("dataset_info", ""),
            )
        }
    if signature is ds.DeepSynthesizer:
        return {
            "synthesized_report": synthesize(
                question=inputs.get("question", ""),
                summaries=inputs.get("summaries", ""),
                print_outputs=inputs.get("print_outputs", ""),
            )
        }
    return {
        "final_conclusion": conclude(
            goal=inputs.get("goal", ""), synthesized_sections=inputs.get("synthesized_sections", "")
        )
    }


SIGNATURES = (
    ds.DeepQuestions,
    ds.DeepPlanFixer,
    ds.DeepPlanner,
    ds.DeepCodeSynthesizer,
    ds.DeepSynthesizer,
    ds.FinalConclusion,
)
_BY_INSTRUCTIONS = sorted(((" ".join(s.instructions.split()), s) for s in SIGNATURES), key=lambda item: -len(item[0]))


def _signature_for(system: str) -> type | None:
    squashed = " ".join(system.split())
    return next((signature for text, signature in _BY_INSTRUCTIONS if text in squashed), None)


class DeepOfflineEngine(offline.OfflineEngine):
    """The offline engine, plus the deep-analysis signatures."""

    def complete(self, request) -> Response:
        system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system or ())
        signature = _signature_for(system)
        if signature is None:
            return super().complete(request)
        last_user = next((m.text or "" for m in reversed(request.messages) if m.role == "user"), "")
        outputs = _handle(signature, offline.parse_inputs(last_user))
        text = "\n\n".join([*(f"[[ ## {k} ## ]]\n{v}" for k, v in outputs.items()), "[[ ## completed ## ]]"])
        prompt_tokens = offline._estimate_tokens(system + last_user)
        completion_tokens = offline._estimate_tokens(text)
        return Response(
            id=None,
            model=offline.MODEL_NAME,
            message=Message.assistant([TextPart(text)]),
            finish_reason="stop",
            usage=Usage(
                input_tokens=prompt_tokens,
                output_tokens=completion_tokens,
                total_tokens=prompt_tokens + completion_tokens,
            ),
        )

    def stream(self, request):
        return response_to_events(self.complete(request))


class AsyncDeepOfflineEngine:
    def __init__(self) -> None:
        self.sync = DeepOfflineEngine()

    async def complete(self, request) -> Response:
        return self.sync.complete(request)

    async def stream(self, request):
        for event in self.sync.stream(request):
            yield event

    async def aclose(self) -> None:
        pass


def deep_offline_lm() -> dspy.LM:
    return dspy.LM(
        f"offline/{OFFLINE_PROVIDER}", engine=DeepOfflineEngine(), async_engine=AsyncDeepOfflineEngine(), cache=False
    )
