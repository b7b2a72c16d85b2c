"""The DSPy signatures of every agent: what each is given, what it returns, and the
instructions it works by (the docstring). The prompts are ours.

The ``dataset`` / ``dataset_context`` inputs carry the JSON dataset context from
:mod:`sessions_app.agents.context`: variable names, shapes, column kinds, statistics.
Code agents return ``code`` (run in the sandbox with the datasets preloaded under their
variable names) and ``summary``.
"""

from __future__ import annotations

from typing import Literal

import dspy

SANDBOX_RULES = """
The code runs in a sandbox where every dataset of the context is already loaded as a
pandas DataFrame under its variable name (for example `df`), and `pd`, `np`, `px`, `go`,
`make_subplots`, `plt`, `sm`, `smf` and `stats` (scipy.stats) are imported. Never read
or write files, never download anything, never invent or re-create the data. Work on a
copy (`data = df.copy()`) when you change values. To keep a derived table for later
questions call `save_dataset(frame, "name", "one-line description")`. Print the numbers
you compute; finish with `print("Key findings:")` and one `print("- ...")` line per
finding, stating the numbers. Answer in the user's language; write code and identifiers
in English.
""".strip()


# --- planning -------------------------------------------------------------------------------


class ComplexityAllocator(dspy.Signature):
    """Classify a question about the loaded datasets before planning.

    `basic`: one agent can answer it (one statistic, one chart, one cleaning step).
    `intermediate`: two agents (for example a statistic and a chart of it).
    `advanced`: three or more steps that build on each other (clean, model, visualise).
    `unrelated`: not about the data (greetings, general knowledge, requests to do other
    things). `analysis_query` is true when the question asks for analysis of the data,
    even if it is phrased loosely."""

    user_query: str = dspy.InputField(desc="The user's question, possibly with earlier exchanges")
    dataset: str = dspy.InputField(desc="JSON context of the loaded datasets")
    exact_word_complexity: Literal["basic", "intermediate", "advanced", "unrelated"] = dspy.OutputField()
    analysis_query: bool = dspy.OutputField()


PLANNER_OUTPUT_RULES = """
Use only agents listed in Agent_desc, by their exact names. Write `plan` as agent names
joined by `->` in execution order (for example `planner_statistical_analytics_agent ->
planner_data_viz_agent`). Write `plan_instructions` as a JSON object with one key per
planned agent: {"<agent>": {"create": [variables it creates], "use": [variables and
datasets it uses], "instruction": "<exactly what it must compute or draw, naming
columns>"}}. Name real columns and dataset variables from the dataset context. If
Agent_desc is empty, answer `no_agents_available` as the plan and `{}` as instructions.
""".strip()


class _QueryPlanner(dspy.Signature):
    """Base of the three planners (not used directly)."""

    dataset: str = dspy.InputField(desc="JSON context of the loaded datasets")
    Agent_desc: str = dspy.InputField(desc="The agents available, with what each does")
    goal: str = dspy.InputField(desc="The user's question")
    plan: str = dspy.OutputField(desc="Agent names joined by ->")
    plan_instructions: str = dspy.OutputField(desc="JSON object: agent -> {create, use, instruction}")


class BasicQueryPlanner(_QueryPlanner):
    __doc__ = f"""Plan a simple question about the data: choose exactly one agent.

{PLANNER_OUTPUT_RULES}"""


class IntermediateQueryPlanner(_QueryPlanner):
    __doc__ = f"""Plan a question that needs two agents, usually a computation and then a
chart of it; use one agent when one is enough. The second agent may use what the first
creates.

{PLANNER_OUTPUT_RULES}"""


class AdvancedQueryPlanner(_QueryPlanner):
    __doc__ = f"""Plan a multi-step analysis with the fewest agents that answer it fully:
typically cleaning or feature preparation, then statistics or a model, then charts. Each
step lists the variables it creates and the ones it uses from earlier steps, so the
steps fit together.

{PLANNER_OUTPUT_RULES}"""


# --- the core code agents ----------------------------------------------------------------------


class _CodeAgent(dspy.Signature):
    """Base of the code agents (not used directly)."""

    dataset: str = dspy.InputField(desc="JSON context of the loaded datasets")
    goal: str = dspy.InputField(desc="The user's question, possibly with earlier exchanges")
    plan_instructions: str = dspy.InputField(desc="This agent's part of the plan (JSON), or empty", default="")
    code: str = dspy.OutputField(desc="Python code only, no markdown fences")
    summary: str = dspy.OutputField(desc="What the code does and what to look for in its output")


PREPROCESSING = f"""You are a data preparation specialist working with pandas and numpy.
Clean and reshape the data the question needs: fix types (numbers stored as text,
dates with pd.to_datetime(errors="coerce")), handle missing values (median for numeric,
mode for categorical, or drop rows when that is what the question asks), remove
duplicates, derive columns, filter, aggregate. Report how many values or rows each step
changed. Keep the cleaned table with save_dataset when later steps or questions need it.

{SANDBOX_RULES}"""

STATISTICS = f"""You are a statistician working with pandas, scipy.stats and statsmodels.
Compute what the question asks with the right method: descriptive statistics, group
comparisons (means, medians, counts; ANOVA or t-tests), correlations with p-values, OLS
regression with smf.ols (wrap text columns in C(), quote awkward names with Q("..."))
or sm.OLS with sm.add_constant, time-series trends with an explicit period. Cast to
float before fitting, drop missing values the method cannot take and say how many.
Print the results (coefficients, R², p-values, test statistics). Do not draw charts.

{SANDBOX_RULES}"""

MACHINE_LEARNING = f"""You are a machine-learning engineer working with scikit-learn.
Build the model the question asks for: a Pipeline with preprocessing (one-hot encoding
for categorical columns, scaling when the model needs it), train_test_split with
test_size=0.25 and random_state=42, then fit and report held-out metrics (accuracy and
F1 for classifiers, R² and MAE for regressors, cluster sizes and centers for KMeans with
n_init=10 and random_state=42). Report the most important features when the model has
them. Do not draw charts and do not re-create the dataset.

{SANDBOX_RULES}"""

VISUALISATION = f"""You are a data-visualisation specialist using Plotly only
(plotly.express as px, plotly.graph_objects as go). Draw the chart the question asks
for, one figure per chart, no subplots unless asked, template "plotly_white", a title
and axis labels in words, readable number formats (K, M). Above 50,000 rows, sample
5,000 rows (random_state=42) for scatter plots. Show each figure with fig.show(). Add a
trendline only when asked. Follow the styling hints when given.

{SANDBOX_RULES}"""

PLANNER_VARIANT = """
You are one step of a plan: follow `plan_instructions` exactly. Create the variables its
`create` list names, and use the ones its `use` list names (earlier steps ran before
you in the same namespace, so their variables exist).
""".strip()


class PreprocessingAgent(_CodeAgent):
    __doc__ = PREPROCESSING


class StatisticalAnalyticsAgent(_CodeAgent):
    __doc__ = STATISTICS


class SkLearnAgent(_CodeAgent):
    __doc__ = MACHINE_LEARNING


class DataVizAgent(_CodeAgent):
    __doc__ = VISUALISATION

    styling_index: str = dspy.InputField(desc="Styling hints for this kind of chart", default="")


class PlannerPreprocessingAgent(_CodeAgent):
    __doc__ = f"{PLANNER_VARIANT}\n\n{PREPROCESSING}"


class PlannerStatisticalAnalyticsAgent(_CodeAgent):
    __doc__ = f"{PLANNER_VARIANT}\n\n{STATISTICS}"


class PlannerSkLearnAgent(_CodeAgent):
    __doc__ = f"{PLANNER_VARIANT}\n\n{MACHINE_LEARNING}"


class PlannerDataVizAgent(_CodeAgent):
    __doc__ = f"{PLANNER_VARIANT}\n\n{VISUALISATION}"

    styling_index: str = dspy.InputField(desc="Styling hints for this kind of chart", default="")


CORE_AGENT_SIGNATURES: dict[str, type[dspy.Signature]] = {
    "preprocessing_agent": PreprocessingAgent,
    "statistical_analytics_agent": StatisticalAnalyticsAgent,
    "sk_learn_agent": SkLearnAgent,
    "data_viz_agent": DataVizAgent,
    "planner_preprocessing_agent": PlannerPreprocessingAgent,
    "planner_statistical_analytics_agent": PlannerStatisticalAnalyticsAgent,
    "planner_sk_learn_agent": PlannerSkLearnAgent,
    "planner_data_viz_agent": PlannerDataVizAgent,
}

TEMPLATE_NAME_MARKER = "Agent name:"
TEMPLATE_CATEGORY_MARKER = "Agent category:"
VISUAL_WORDS = ("viz", "visual", "plot", "chart")


def is_visual(name: str, category: str) -> bool:
    return "visual" in category.lower() or any(word in name.lower() for word in VISUAL_WORDS)


def template_agent_signature(*, name: str, prompt: str, category: str) -> type[dspy.Signature]:
    """A signature for an agent template: its prompt, the sandbox rules and its category.

    The closing name and category lines let the offline engine treat a custom agent by
    what it is for.
    """
    instructions = (
        f"{prompt.strip()}\n\n{SANDBOX_RULES}\n\n"
        f"{TEMPLATE_NAME_MARKER} {name}\n{TEMPLATE_CATEGORY_MARKER} {category or 'General'}"
    )
    fields: dict = {
        "dataset": (str, dspy.InputField(desc="JSON context of the loaded datasets")),
        "goal": (str, dspy.InputField(desc="The user's question, possibly with earlier exchanges")),
        "plan_instructions": (str, dspy.InputField(desc="This agent's part of the plan (JSON), or empty", default="")),
    }
    if is_visual(name, category):
        fields["styling_index"] = (str, dspy.InputField(desc="Styling hints for this kind of chart", default=""))
    fields["code"] = (str, dspy.OutputField(desc="Python code only, no markdown fences"))
    fields["summary"] = (str, dspy.OutputField(desc="What the code does and what to look for in its output"))
    return dspy.make_signature(fields, instructions, signature_name=f"Template_{name}")


# --- answers, memory, naming, descriptions ------------------------------------------------------


class BasicQaAgent(dspy.Signature):
    """Answer a message that is not a request to analyse the loaded data. Be brief and
    helpful; when it would need the data, say which question to ask instead."""

    goal: str = dspy.InputField(desc="The user's message")
    dataset: str = dspy.InputField(desc="JSON context of the loaded datasets", default="")
    answer: str = dspy.OutputField()


class MemorySummarizeAgent(dspy.Signature):
    """Summarise what an agent found for the user, from its code and the actual output
    of running it. State the computed numbers exactly as printed; do not invent any.
    If the output shows an error, say what failed. Two to six sentences or bullets."""

    agent_response: str = dspy.InputField(desc="The agent's code, then 'Output:' and what running it printed")
    user_goal: str = dspy.InputField(desc="The user's question")
    summary: str = dspy.OutputField()


class ChatHistoryNameAgent(dspy.Signature):
    """Name a chat from its first question: at most three words, title case, no quotes."""

    query: str = dspy.InputField()
    name: str = dspy.OutputField(desc="At most three words")


class DatasetDescriptionAgent(dspy.Signature):
    """Describe a dataset for analysts and for the agents that will write code on it:
    what one row is, what each column means and its type and range, the groups and time
    span, missing values and what to watch out for. Keep the exact variable name."""

    dataset: str = dspy.InputField(desc="JSON context of the dataset")
    existing_description: str = dspy.InputField(desc="What the user already wrote, if anything", default="")
    description: str = dspy.OutputField()


class DataContextGenerator(dspy.Signature):
    """Describe several related tables loaded together (for example the sheets of one
    workbook): each table's role, its key columns, how the tables relate (shared keys),
    and what analyses they support together. Keep the exact variable names."""

    user_description: str = dspy.InputField(desc="What the user wrote, if anything")
    dataset_view: str = dspy.InputField(desc="JSON context of the tables")
    data_context: str = dspy.OutputField()


# --- code repair and editing -----------------------------------------------------------------------


class CodeFix(dspy.Signature):
    """Repair Python analysis code that failed. Change as little as possible: fix the
    cause of the error (a misspelt column, a wrong type, a missing conversion, a wrong
    variable name) using the dataset context. The datasets are preloaded: never add code
    that loads data. Return the complete corrected code only."""

    dataset_context: str = dspy.InputField(desc="JSON context of the loaded datasets")
    faulty_code: str = dspy.InputField()
    error: str = dspy.InputField(desc="The error and the lines it points at")
    fixed_code: str = dspy.OutputField(desc="The whole corrected code, no markdown fences")


class CodeEdit(dspy.Signature):
    """Change Python analysis code the way the user asks, keeping everything else as it
    is. The datasets are preloaded: never add code that loads data. Return the complete
    edited code only."""

    dataset_context: str = dspy.InputField(desc="JSON context of the loaded datasets")
    original_code: str = dspy.InputField()
    user_prompt: str = dspy.InputField(desc="The change the user wants")
    edited_code: str = dspy.OutputField(desc="The whole edited code, no markdown fences")
