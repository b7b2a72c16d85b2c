"""The offline analyst: the answers of every agent signature, without a language model.

The DSPy engine (``engine.py``) recognises which signature a prompt belongs to, parses
its inputs and calls these functions; their results become the output fields. All of
them are deterministic and rule-based: a question is resolved to an analysis (intent,
columns, filters: :mod:`.intents`), planned over the available agents, and written as
code (:mod:`.codegen`) whose printed "Key findings" make the summary.

No Django, no DSPy: only the dataset context (:mod:`sessions_app.agents.context`).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, replace

from sessions_app.agents.context import DatasetContext
from sessions_app.agents.offline import codegen, repair, text
from sessions_app.agents.offline import intents as it
from sessions_app.agents.offline.literals import docstring

BASIC = "basic"
INTERMEDIATE = "intermediate"
ADVANCED = "advanced"
UNRELATED = "unrelated"
BASIC_QA_AGENT = "basic_qa_agent"

PREPROCESSING = "preprocessing"
STATISTICAL = "statistical"
MACHINE_LEARNING = "sk_learn"
VISUALIZATION = "data_viz"
CORE_AGENTS = {
    PREPROCESSING: "preprocessing_agent",
    STATISTICAL: "statistical_analytics_agent",
    MACHINE_LEARNING: "sk_learn_agent",
    VISUALIZATION: "data_viz_agent",
}
# The template categories of the core agents (the reference's seed data).
ROLE_CATEGORIES = {
    PREPROCESSING: "data manipulation",
    STATISTICAL: "data modelling",
    MACHINE_LEARNING: "data modelling",
    VISUALIZATION: "data visualization",
}
# When neither the agent nor one of its category is there: the next best roles.
ROLE_FALLBACKS = {
    PREPROCESSING: (STATISTICAL, MACHINE_LEARNING, VISUALIZATION),
    STATISTICAL: (MACHINE_LEARNING, PREPROCESSING, VISUALIZATION),
    MACHINE_LEARNING: (STATISTICAL, PREPROCESSING, VISUALIZATION),
    VISUALIZATION: (STATISTICAL, MACHINE_LEARNING, PREPROCESSING),
}

CLEAN_PART = "clean"
COMPUTE_PART = "compute"
FIGURE_PART = "figure"


@dataclass
class PlanStep:
    agent: str  # one of the available agent names
    create: list[str]  # variables this step creates
    use: list[str]  # variables it uses
    instruction: str  # what the agent must do


@dataclass
class Conversation:
    query: str  # the current question
    history: list[tuple[str, str]]  # previous (query, summary) pairs, oldest first


# --- the goal ----------------------------------------------------------------------------

_CURRENT = "### Current Query:"
_HISTORY = "### Previous Interaction History:"


def parse_goal(goal: str) -> Conversation:
    """A plain question, or the reference's "### Current Query: / ### Previous Interaction History:" text."""
    goal = goal or ""
    if _CURRENT not in goal:
        return Conversation(query=goal.strip(), history=[])
    after = goal.split(_CURRENT, 1)[1]
    current, _, past = after.partition(_HISTORY)
    history: list[tuple[str, str]] = []
    for block in re.split(r"\n\s*\n(?=Query:)", past.strip()):
        match = re.match(r"Query:\s?(.*?)(?:\nSummary:\s?(.*))?\Z", block.strip(), re.DOTALL)
        if match:
            history.append((match.group(1).strip(), (match.group(2) or "").strip()))
    return Conversation(query=current.strip(), history=history)


def resolve(goal: str, datasets: list[DatasetContext]) -> it.Analysis | None:
    """The analysis the goal asks for (history included); None when it is not about the data."""
    conversation = parse_goal(goal)
    return it.analyse(conversation.query, datasets, history=[query for query, _ in conversation.history])


# --- allocation and planning -------------------------------------------------------------


@dataclass
class _Step:
    role: str
    part: str
    analysis: it.Analysis
    reuse: list[str]


def _steps(analysis: it.Analysis) -> list[_Step]:
    """The roles an analysis needs, in order: cleaning, computation, figure."""
    steps: list[_Step] = []
    if analysis.clean_first and analysis.intent not in (it.CLEAN, it.MISSING):
        cleaning = replace(analysis, intent=it.CLEAN, source=analysis.dataset.name, report_only=False)
        steps.append(_Step(PREPROCESSING, CLEAN_PART, cleaning, []))
    intent = analysis.intent
    if intent in (it.CLEAN, it.MISSING):
        steps.append(_Step(PREPROCESSING, COMPUTE_PART, analysis, []))
        if analysis.wants_chart:
            steps.append(_Step(VISUALIZATION, FIGURE_PART, analysis, []))
    elif intent in (it.OVERVIEW, it.REGRESSION):
        steps.append(_Step(STATISTICAL, COMPUTE_PART, analysis, []))
        if analysis.wants_chart:
            steps.append(_Step(VISUALIZATION, FIGURE_PART, analysis, []))
    elif intent == it.MODEL:
        steps.append(_Step(MACHINE_LEARNING, COMPUTE_PART, analysis, []))
        if analysis.wants_chart:
            steps.append(_Step(VISUALIZATION, FIGURE_PART, analysis, list(codegen.MODEL_VARIABLES)))
    elif intent == it.CLUSTER:
        steps.append(_Step(MACHINE_LEARNING, COMPUTE_PART, analysis, []))
        steps.append(_Step(VISUALIZATION, FIGURE_PART, analysis, ["clustered"]))
    else:
        if not analysis.chart_only:
            steps.append(_Step(STATISTICAL, COMPUTE_PART, analysis, []))
        steps.append(_Step(VISUALIZATION, FIGURE_PART, analysis, []))
    return steps


def _complexity(count: int) -> str:
    return BASIC if count <= 1 else INTERMEDIATE if count == 2 else ADVANCED


def allocate(*, goal: str, datasets: list[DatasetContext]) -> tuple[str, bool]:
    """(complexity, is it an analysis query): basic/intermediate/advanced by the number of agents needed."""
    analysis = resolve(goal, datasets)
    if analysis is None:
        return UNRELATED, False
    if analysis.intent == it.UNSUPPORTED:
        return UNRELATED, True
    return _complexity(len(_steps(analysis))), True


def _role_of_name(name: str) -> str | None:
    base = name.lower().removeprefix("planner_")
    for role, core in CORE_AGENTS.items():
        if base == core:
            return role
    return None


def _category(description: str) -> str:
    match = re.search(r"category:\s*([^.\n]+)", description or "", re.IGNORECASE)
    return match.group(1).strip().lower() if match else ""


def _name_hint(name: str) -> str | None:
    lowered = name.lower()
    if re.search(r"viz|visual|plot|chart|graph|matplotlib|seaborn", lowered):
        return VISUALIZATION
    if re.search(r"sk_?learn|machine|\bml\b|_ml_|learn|predict|cluster", lowered):
        return MACHINE_LEARNING
    if re.search(r"stat|analytic|regress", lowered):
        return STATISTICAL
    if re.search(r"pre_?process|clean|wrangl|polars|manipul|feature", lowered):
        return PREPROCESSING
    return None


def _agent_for(role: str, agents: dict[str, str]) -> str | None:
    """The available agent for a role: the core one, one of its category, else the closest."""
    usable = [name for name in agents if name != BASIC_QA_AGENT]
    core = [name for name in usable if _role_of_name(name) == role]
    if core:
        return sorted(core, key=lambda name: not name.startswith("planner_"))[0]
    category = ROLE_CATEGORIES[role]
    same = [name for name in usable if _category(agents[name]) == category]
    if same:
        hinted = [name for name in same if _name_hint(name) == role]
        return (hinted or same)[0]
    hinted = [name for name in usable if _name_hint(name) == role]
    if hinted:
        return hinted[0]
    for fallback in ROLE_FALLBACKS[role]:
        found = [name for name in usable if _role_of_name(name) == fallback or _name_hint(name) == fallback]
        if found:
            return found[0]
    return usable[0] if usable else None


def plan(*, goal: str, datasets: list[DatasetContext], agents: dict[str, str], complexity: str) -> list[PlanStep]:
    """The agents to run, in order, with what each creates, uses and must do.

    The plan follows from the question itself, so ``complexity`` (the allocator's verdict,
    which :func:`allocate` derives from this same plan) does not change it.
    """
    if not agents:
        return []
    analysis = resolve(goal, datasets)
    if analysis is None:
        return [PlanStep(BASIC_QA_AGENT, [], [], "Not a question about the loaded data")]
    if analysis.intent == it.UNSUPPORTED:
        return [PlanStep(BASIC_QA_AGENT, [], [], _unsupported_why(analysis))]
    steps: list[PlanStep] = []
    for step in _steps(analysis):
        agent = _agent_for(step.role, agents)
        if agent is None:
            return [PlanStep(BASIC_QA_AGENT, [], [], "No analysis agent is available for this question")]
        parts = codegen.parts_for(step.analysis, reuse=step.reuse)
        creates = list(parts.figure_creates or ["fig"]) if step.part == FIGURE_PART else list(parts.creates)
        uses = step.reuse or [step.analysis.source]
        instruction = instruction_for(step.analysis, step.part)
        same = next((existing for existing in steps if existing.agent == agent), None)
        if same is not None:
            same.create = list(dict.fromkeys(same.create + creates))
            same.use = list(dict.fromkeys(same.use + [name for name in uses if name not in same.create]))
            same.instruction = f"{same.instruction} {instruction}"
            continue
        steps.append(PlanStep(agent, creates, uses, instruction))
    return steps


def _unsupported_why(analysis: it.Analysis) -> str:
    return f"The offline analyst cannot do {analysis.reason}; answer with what it can do instead"


def plan_text(steps: list[PlanStep]) -> str:
    """The planner's ``plan`` output: agent names joined by "->"."""
    return "->".join(step.agent for step in steps)


def plan_instructions_text(steps: list[PlanStep]) -> str:
    """The planner's ``plan_instructions`` output: {"agent": {"create", "use", "instruction"}}."""
    return json.dumps(
        {step.agent: {"create": step.create, "use": step.use, "instruction": step.instruction} for step in steps},
        ensure_ascii=False,
    )


def instruction_for(analysis: it.Analysis, part: str) -> str:
    """What one step must do, in words (its first word says which part of the work it is)."""
    source = analysis.source
    where = ""
    if analysis.filters:
        where = " Use only rows where " + "; ".join(f.describe() for f in analysis.filters) + "."
    start = f" Start from {source}." if source != analysis.dataset.name else ""
    if part == CLEAN_PART or (part == COMPUTE_PART and analysis.intent == it.CLEAN):
        name = codegen.clean_name(analysis)
        return (
            f"Clean {analysis.dataset.name}: fill missing numbers with the median and other missing values with the "
            f"most common value, parse date-like columns, drop duplicate rows, and save the result as {name}." + where
        )
    if part == FIGURE_PART:
        return f"Plot {_figure_words(analysis)}.{where}{start}"
    return f"{_compute_words(analysis)}.{where}{start}"


def _compute_words(analysis: it.Analysis) -> str:
    a = analysis
    if a.intent == it.OVERVIEW:
        what = ", ".join(a.focus) if a.focus else a.dataset.name
        return f"Summarize {what}: rows, columns, mean/median/min/max of numeric columns and the most common categories"
    if a.intent == it.MISSING:
        return f"Report missing values per column, duplicate rows and complete rows of {a.dataset.name}"
    if a.intent == it.DISTRIBUTION:
        if a.column_kind(a.measure) == "numeric":
            return f"Compute the mean, median, standard deviation, skewness and outliers of {a.measure}"
        return f"Count the rows per {a.measure} value"
    if a.intent == it.RELATIONSHIP and a.x and a.y:
        return f"Compute the Pearson correlation (r and p-value) and the least-squares line between {a.x} and {a.y}"
    if a.intent in (it.CORRELATION, it.RELATIONSHIP):
        focus = [n for n in a.focus if a.column_kind(n) == "numeric"]
        if len(focus) == 1:
            return f"Compute the correlation (r and p-value) of {focus[0]} with every other numeric column"
        return "Compute the correlation matrix of the numeric columns and name the strongest pairs"
    if a.intent == it.GROUPS:
        if a.measure is None or a.agg == "count":
            return f"Count the rows per {a.group}"
        statistics = ", ".join(dict.fromkeys([a.agg, "mean", "median"]))
        return f"Compute the {statistics} and count of {a.measure} per {a.group}, and a one-way ANOVA across the groups"
    if a.intent == it.TREND:
        measure = "the number of rows" if a.measure is None or a.agg == "count" else f"the {a.agg} of {a.measure}"
        by = f" for each {a.group}" if a.group else ""
        return f"Aggregate {measure} per period of {a.time}{by} and fit a linear trend (slope per period)"
    if a.intent == it.REGRESSION:
        return (
            f"Fit an OLS regression of {a.target} on {', '.join(a.features)} and report R², coefficients and p-values"
        )
    if a.intent == it.MODEL:
        task = "classifier" if a.classification else "regression model"
        metric = "accuracy and macro F1" if a.classification else "R² and MAE"
        return (
            f"Train a {task} predicting {a.target} from {', '.join(a.features)} on 75% of the rows "
            f"(random_state=42) and report the held-out {metric}"
        )
    if a.intent == it.CLUSTER:
        return (
            f"Cluster the rows with k-means (k = {a.k}, standardized {', '.join(a.features)}) "
            "and report cluster sizes and centers"
        )
    return f"Summarize {a.dataset.name}"


def _figure_words(analysis: it.Analysis) -> str:
    a = analysis
    if a.intent == it.DISTRIBUTION:
        kind = a.chart if a.chart in ("box", "violin") else "histogram"
        return f"a {kind} of {a.measure}" if a.column_kind(a.measure) == "numeric" else f"a bar chart of {a.measure}"
    if a.intent == it.RELATIONSHIP and a.x and a.y:
        return f"a scatter chart of {a.y} against {a.x}" + (f", coloured by {a.group}" if a.group else "")
    if a.intent in (it.CORRELATION, it.RELATIONSHIP):
        return "the correlations as a heatmap (or bars for one column)"
    if a.intent == it.GROUPS:
        chart = a.chart if a.chart in ("box", "violin", "line", "pie") else "bar"
        if chart in ("box", "violin") and a.measure is not None:
            return f"a {chart} plot of {a.measure} per {a.group}"
        what = "the number of rows" if a.measure is None or a.agg == "count" else f"the {a.agg} of {a.measure}"
        return f"a {chart} chart of {what} per {a.group}"
    if a.intent == it.TREND:
        chart = a.chart if a.chart in ("bar", "scatter", "area") else "line"
        what = "the number of rows" if a.measure is None or a.agg == "count" else f"the {a.agg} of {a.measure}"
        return f"a {chart} chart of {what} over {a.time}" + (f", one line per {a.group}" if a.group else "")
    if a.intent == it.CLUSTER:
        return "the clusters as a scatter chart of the first two features, coloured by cluster"
    if a.intent == it.MODEL:
        return "the held-out predictions (confusion matrix or predicted vs actual)"
    if a.intent == it.REGRESSION:
        return f"{a.target} against the first feature with a fitted line"
    if a.intent in (it.MISSING, it.CLEAN):
        return "the missing values per column as a bar chart"
    return "an overview chart of the numeric columns"


# --- code --------------------------------------------------------------------------------


def _role_for_agent(agent: str, category: str) -> str | None:
    role = _role_of_name(agent)
    if role:
        return role
    lowered = (category or "").lower()
    if "visual" in lowered:
        return VISUALIZATION
    hint = _name_hint(agent)
    if hint:
        return hint
    if "manipulation" in lowered:
        return PREPROCESSING
    return None


_CLEAN_VERBS = frozenset({"clean", "impute", "preprocess", "prepare", "tidy"})
_FIGURE_VERBS = frozenset({"plot", "draw", "chart", "visualize", "visualise", "show", "graph"})
_COMPUTE_VERBS = frozenset(
    [
        "compute",
        "calculate",
        "summarize",
        "summarise",
        "report",
        "count",
        "aggregate",
        "fit",
        "train",
        "cluster",
        "run",
        "regress",
        "estimate",
        "test",
        "compare",
        "analyze",
        "analyse",
        "describe",
        "measure",
        "predict",
        "classify",
        "find",
    ]
)


def _parts_from_instruction(instruction: str) -> set[str]:
    """The parts an instruction asks for, from the verbs its sentences start with."""
    parts: set[str] = set()
    for sentence in re.split(r"(?<=\.)\s+", instruction.strip()):
        first = sentence.split(" ", 1)[0].lower().strip(":,.")
        if first in _CLEAN_VERBS:
            parts.add(CLEAN_PART)
        elif first in _FIGURE_VERBS:
            parts.add(FIGURE_PART)
        elif first in _COMPUTE_VERBS:
            parts.add(COMPUTE_PART)
    return parts


def write_code(
    *, agent: str, goal: str, datasets: list[DatasetContext], plan_instructions: str, category: str = ""
) -> tuple[str, str]:
    """(code, what it does) for one agent: its role's part of the analysis the goal asks for."""
    analysis = resolve(goal, datasets)
    if not datasets:
        return 'print("No dataset is loaded.")\n', "There is no dataset to analyse."
    if analysis is None or analysis.intent == it.UNSUPPORTED:
        dataset = analysis.dataset if analysis else datasets[0]
        fallback = it.Analysis(it.OVERVIEW, dataset, source=dataset.name)
        reason = (
            f"the offline analyst cannot do {analysis.reason}"
            if analysis is not None
            else "the question names no analysis of the data"
        )
        code = docstring(f"{reason[0].upper() + reason[1:]}: an overview of {dataset.name} instead") + "\n"
        code += codegen.program(fallback, compute=True, figure=False)
        return code, f"An overview of {dataset.name}, since {reason}."
    instruction, reuse = _instruction_fields(plan_instructions)
    parts = _parts_from_instruction(instruction) if instruction else set()
    role = _role_for_agent(agent, category)
    if not parts:
        if role == PREPROCESSING and analysis.clean_first:
            parts = {CLEAN_PART}
        elif role == VISUALIZATION:
            parts = {FIGURE_PART}
        else:
            parts = {COMPUTE_PART}
    # Variables of an earlier step are only reused when the plan says this step uses them.
    if analysis.intent == it.CLUSTER and "clustered" not in reuse:
        reuse = []
    if analysis.intent == it.MODEL and not all(name in reuse for name in codegen.MODEL_VARIABLES):
        reuse = []
    programs: list[str] = []
    described: list[str] = []
    if CLEAN_PART in parts and analysis.clean_first:
        cleaning = replace(analysis, intent=it.CLEAN, source=analysis.dataset.name, report_only=False)
        programs.append(codegen.program(cleaning, compute=True, figure=False))
        described.append(instruction_for(cleaning, CLEAN_PART))
    elif CLEAN_PART in parts:
        parts.add(COMPUTE_PART)
    compute, figure = COMPUTE_PART in parts, FIGURE_PART in parts
    if compute or figure:
        programs.append(codegen.program(analysis, compute=compute, figure=figure, reuse=reuse))
        if compute:
            described.append(instruction_for(analysis, COMPUTE_PART))
        if figure:
            described.append(instruction_for(analysis, FIGURE_PART))
    return "\n".join(programs), " ".join(dict.fromkeys(described))


def _instruction_fields(plan_instructions: str) -> tuple[str, list[str]]:
    if not plan_instructions or not plan_instructions.strip():
        return "", []
    try:
        data = json.loads(plan_instructions)
    except (TypeError, ValueError):
        return plan_instructions.strip(), []
    if not isinstance(data, dict):
        return "", []
    if "instruction" not in data and len(data) == 1 and isinstance(next(iter(data.values())), dict):
        data = next(iter(data.values()))
    instruction = data.get("instruction", "")
    use = data.get("use", [])
    return (str(instruction) if instruction else "", [str(v) for v in use] if isinstance(use, list) else [])


# --- the rest: summaries, general answers, repairs, descriptions, titles -----------------


def summarize(*, goal: str, agent_response: str) -> str:
    """The answer's summary, from the code's title and the numbers its output printed."""
    return text.summarize(query=parse_goal(goal).query, agent_response=agent_response)


def answer_general(*, goal: str, datasets: list[DatasetContext]) -> str:
    """For non-data questions and unsupported analyses: what the offline analyst can do here."""
    conversation = parse_goal(goal)
    analysis = it.analyse(conversation.query, datasets, history=[q for q, _ in conversation.history])
    reason = analysis.reason if analysis is not None and analysis.intent == it.UNSUPPORTED else ""
    return text.answer_general(query=conversation.query, datasets=datasets, reason=reason)


def fix_code(*, code: str, error: str, datasets: list[DatasetContext]) -> str:
    return repair.fix_code(code=code, error=error, datasets=datasets)


def edit_code(*, code: str, prompt: str, datasets: list[DatasetContext]) -> str:
    return repair.edit_code(code=code, prompt=prompt, datasets=datasets)


def describe_dataset(*, datasets: list[DatasetContext], existing: str = "") -> str:
    return text.describe_dataset(datasets=datasets, existing=existing)


def chat_title(*, query: str) -> str:
    return text.chat_title(query=parse_goal(query).query)
