"""The offline engine's deep-analysis answers: questions from the columns, a plan over the
agents it is given, and findings only from what the code printed."""

from __future__ import annotations

import json

from deep_analysis import offline
from sessions_app.agents.context import ColumnContext, DatasetContext, context_to_text


def _context(*columns: tuple[str, str, int]) -> str:
    dataset = DatasetContext(
        name="df",
        description="",
        rows=100,
        columns=[ColumnContext(name=n, dtype="x", kind=k, nulls=0, distinct=d) for n, k, d in columns],
    )
    return context_to_text([dataset])


HOUSES = _context(
    ("price", "numeric", 90), ("area", "numeric", 80), ("rooms", "numeric", 5), ("city", "categorical", 3)
)


def test_questions_follow_the_goal_and_the_columns():
    assert offline.questions(goal="What explains rooms?", dataset_info=HOUSES).splitlines() == [
        "1. What is the distribution of rooms, and how skewed is it?",
        "2. Which numeric columns correlate most strongly with rooms?",
        "3. How does the average rooms differ across city groups?",
        "4. How does rooms relate to price?",
        "5. Which factors best predict rooms in a regression model?",
    ]
    assert offline.questions(goal="Tell me about sales", dataset_info=HOUSES).splitlines()[0] == (
        "1. What is the distribution of price, and how skewed is it?"
    )
    only_groups = _context(("city", "categorical", 3), ("kind", "categorical", 2))
    assert offline.questions(goal="x", dataset_info=only_groups).splitlines() == [
        "1. How many rows fall in each city category?",
        "2. How many rows fall in each kind category?",
    ]
    assert offline.questions(goal="x", dataset_info="") == "1. What does the loaded data contain?"


def test_numbered_questions_reads_lists_with_or_without_numbers():
    assert offline.numbered_questions("Intro\n1. A?\n2) B?\n") == ["A?", "B?"]
    assert offline.numbered_questions("- A?\n- B?") == ["A?", "B?"]
    assert len(offline.numbered_questions("\n".join(f"{i}. Q{i}" for i in range(1, 9)))) == 5


def test_the_plan_uses_only_the_agents_it_is_given():
    questions = "1. Distribution?\n2. Which factors best predict price?"
    agents = json.dumps({"stats_agent_statistical": "", "my_chart_viz": ""})
    assert json.loads(offline.plan(deep_questions=questions, agents_desc=agents)) == {
        "stats_agent_statistical": {
            "questions": [1, 2],
            "instruction": "Compute what each assigned question asks, naming the columns it is about.",
        },
        "my_chart_viz": {
            "questions": [1, 2],
            "instruction": "Plot what each assigned question asks, naming the columns it is about.",
        },
    }
    assert offline.plan(deep_questions=questions, agents_desc="{}") == "{}"


def test_findings_are_the_printed_lines_and_failures_are_said_plainly():
    printed = "table\nKey findings:\n- Mean price: 10.00\n- Mean price: 10.00\n- Rows: 3\n"
    assert offline.synthesize(question="Q?", summaries="", print_outputs=printed) == (
        "### Q?\n\n- Mean price: 10.00\n- Rows: 3"
    )
    failed = offline.synthesize(question="Q?", summaries="", print_outputs="Error: KeyError 'x'")
    assert failed == (
        "### Q?\n\nThe code for this question failed, so it has no computed answer:\n\n```\nError: KeyError 'x'\n```"
    )
    conclusion = offline.conclude(
        goal="Why?", synthesized_sections=json.dumps(["### A\n\n- r = 0.5", "### B\n\nThe program printed nothing."])
    )
    assert conclusion == (
        "The analysis of \u201cWhy?\u201d answered 1 of 2 research questions with numbers computed from the data.\n\n"
        "Key results:\n- r = 0.5\n\nCaveats:\n- No computed answer for: B\n"
        "- Written by the offline rule-based engine: the findings restate the printed results only."
    )


def test_the_combined_program_prints_each_header_as_a_literal():
    hostile = "1. How does x relate to y'); import os; print('?"
    parts = json.dumps([{"question": 1, "agent": "a", "code": "print(2)"}])
    program = offline.synthesize_code(deep_questions=hostile, agent_code=parts, dataset_info="")
    assert program.splitlines()[0] == repr("## Question 1: How does x relate to y'); import os; print('?").join(
        ["print(", ")"]
    )
    assert program.splitlines()[1] == "print(2)"
