"""The deep-analysis signatures: questions, plan (and its one repair), the synthesised
program, the synthesis of each question and the conclusion. The prompts are ours; the
code agents themselves are the caller's enabled agents (sessions_app signatures)."""

from __future__ import annotations

import dspy

from sessions_app.agents.signatures import SANDBOX_RULES

MAX_QUESTIONS = 5
QUESTION_HEADER = "## Question"


class DeepQuestions(dspy.Signature):
    """Turn an analysis goal into at most five focused research questions about the loaded
    datasets. Each question names the columns it is about and can be answered with
    computed numbers or a chart. Cover different angles: the distribution of the key
    measure, what it relates to, how it differs between groups, and what predicts it.
    Write one question per line as a numbered list (`1. ...`), nothing else."""

    goal: str = dspy.InputField(desc="The user's analysis goal")
    dataset_info: str = dspy.InputField(desc="JSON context of the loaded datasets")
    deep_questions: str = dspy.OutputField(desc="Numbered list of at most five questions")


PLAN_RULES = """
Assign every question to one or more of the available agents, by their exact names as
listed in agents_desc. Answer `plan_instructions` as a JSON object with one key per
agent used: {"<agent>": {"questions": [question numbers], "instruction": "<what the
agent must compute or draw for those questions, naming columns>"}}. Use a computing
agent (statistics, modelling) and a charting agent for most questions. Nothing but the
JSON object.
""".strip()


class DeepPlanner(dspy.Signature):
    __doc__ = f"""Plan how the available agents answer the research questions.

{PLAN_RULES}"""

    deep_questions: str = dspy.InputField(desc="The numbered research questions")
    dataset: str = dspy.InputField(desc="JSON context of the loaded datasets")
    agents_desc: str = dspy.InputField(desc="JSON object: agent name -> what it does")
    plan_instructions: str = dspy.OutputField(desc="JSON object: agent -> {questions, instruction}")


class DeepPlanFixer(dspy.Signature):
    __doc__ = f"""Repair a plan that was rejected: keep its intent, use only the agents
listed in agents_desc, refer only to existing question numbers, and return valid JSON.

{PLAN_RULES}"""

    deep_questions: str = dspy.InputField(desc="The numbered research questions")
    agents_desc: str = dspy.InputField(desc="JSON object: agent name -> what it does")
    faulty_plan: str = dspy.InputField(desc="The rejected plan")
    problem: str = dspy.InputField(desc="Why it was rejected")
    fixed_plan: str = dspy.OutputField(desc="JSON object: agent -> {questions, instruction}")


class DeepCodeSynthesizer(dspy.Signature):
    __doc__ = f"""Combine the agents' working code into one program that answers every
research question in order. Before the code of each question print a header line
exactly as `{QUESTION_HEADER} <n>: <question>`. Keep each agent's computations and
charts, remove duplicated work, make later parts independent of earlier failures, and
show every figure with fig.show(). Return the program only, no markdown fences.

{SANDBOX_RULES}"""

    deep_questions: str = dspy.InputField(desc="The numbered research questions")
    dataset_info: str = dspy.InputField(desc="JSON context of the loaded datasets")
    agent_code: str = dspy.InputField(desc="JSON list of {question, agent, code} that ran successfully")
    code: str = dspy.OutputField(desc="One Python program, no markdown fences")


class DeepSynthesizer(dspy.Signature):
    """Write the findings for one research question from what the program actually
    printed and what the agents reported. Quote the computed numbers exactly; never invent
    one. If the output shows an error or nothing for this question, say so plainly.
    Markdown: a short heading, then three to six sentences or bullets."""

    goal: str = dspy.InputField(desc="The user's analysis goal")
    question: str = dspy.InputField(desc="The research question")
    summaries: str = dspy.InputField(desc="What the agents reported for this question")
    print_outputs: str = dspy.InputField(desc="What the program printed for this question")
    synthesized_report: str = dspy.OutputField(desc="Markdown findings for this question")


class FinalConclusion(dspy.Signature):
    """Conclude the analysis for the user: answer the goal in a few sentences drawing on
    the findings of every question, then three to five bullet points of the most important
    numbers and one of caveats (data limits, questions that could not be answered). Only
    numbers that appear in the findings."""

    goal: str = dspy.InputField(desc="The user's analysis goal")
    synthesized_sections: str = dspy.InputField(desc="The findings of every question, in order")
    final_conclusion: str = dspy.OutputField(desc="Markdown conclusion")
