"""The deep-analysis pipeline: goal -> questions -> plan -> agents in parallel -> one
synthesised program -> findings per question -> conclusion.

It knows nothing of HTTP, threads pools or Channels: it is given the report, the
session, the caller, an ``emit(step, status, progress, **extra)`` callback and a
``should_stop()`` check, and returns the result dict of the reference (§1.6). Whoever
runs it (the in-process pool, or a Celery task in the scale-out setup) stores and
broadcasts the events.

Every LM call goes through the agents' :func:`lm_call` (one usage row per call, with real
or estimated tokens and cost) on the session's own model; with the ``offline`` provider
the deep signatures are answered by :mod:`deep_analysis.offline`. Each agent's code runs
in the sandbox through the answer run's executor, with its ``code_fix`` repairs.
"""

from __future__ import annotations

import ast
import json
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import dspy
from django.conf import settings
from django.db import connections

from analytics.models import ModelUsage
from config.errors import ApplicationError
from deep_analysis import offline
from deep_analysis import signatures as ds
from sessions_app.agents import signatures as sig
from sessions_app.agents.context import context_to_text
from sessions_app.agents.lm import CallTrace, SessionModel, lm_call, session_model
from sessions_app.agents.services import (
    AgentAnswer,
    AgentSpec,
    AnswerRun,
    planner_agents,
    session_dataset_contexts,
    strip_fences,
)
from sessions_app.catalogue import OFFLINE_PROVIDER
from sessions_app.models import AnalysisSession

logger = logging.getLogger(__name__)

Emit = Callable[..., None]
PURPOSE = ModelUsage.Purpose.DEEP_ANALYSIS


class DeepAnalysisStoppedError(Exception):
    """The run was cancelled; raised between steps."""


class DeepAnalysisFailedError(ApplicationError):
    code = "deep_analysis_failed"


@dataclass
class AgentTask:
    agent: str
    question_number: int
    question: str
    instruction: str
    answer: AgentAnswer | None = None


@dataclass
class DeepRun:
    session: AnalysisSession
    user: object
    goal: str
    emit: Emit
    should_stop: Callable[[], bool]
    trace: CallTrace
    model: SessionModel
    agent_workers: int = 1
    context_text: str = ""
    lock: threading.Lock = field(default_factory=threading.Lock)
    timings: dict = field(default_factory=dict)

    def call(self, signature: type[dspy.Signature], *, agent_name: str, **inputs) -> dspy.Prediction:
        return lm_call(
            model=self.model, trace=self.trace, signature=signature, purpose=PURPOSE, agent_name=agent_name, **inputs
        )

    def check(self) -> None:
        if self.should_stop():
            raise DeepAnalysisStoppedError


def deep_model(session: AnalysisSession) -> SessionModel:
    """The session's model; the offline provider gets the engine that knows the deep signatures."""
    model = session_model(session)
    if model.provider == OFFLINE_PROVIDER:
        model = SessionModel(
            lm=offline.deep_offline_lm(), provider=model.provider, model=model.model, entry=model.entry
        )
    return model


# --- plan ---------------------------------------------------------------------------------------


def plan_parse(text: str, *, agents: set[str], question_count: int) -> tuple[dict, str]:
    """(plan, "") when ``text`` is a valid plan over ``agents``, else ({}, the problem)."""
    cleaned = strip_fences(text or "").strip()
    try:
        value = json.loads(cleaned)
    except ValueError:
        try:
            value = ast.literal_eval(cleaned)
        except (ValueError, SyntaxError, MemoryError, RecursionError, TypeError):
            return {}, "the plan is not a JSON object"
    if not isinstance(value, dict) or not value:
        return {}, "the plan is empty or not a JSON object"
    unknown = [str(name) for name in value if name not in agents]
    if unknown:
        return {}, f"unknown agents {unknown[:5]}; available: {sorted(agents)}"
    plan: dict[str, dict] = {}
    covered: set[int] = set()
    for name, detail in value.items():
        detail = detail if isinstance(detail, dict) else {"instruction": str(detail)}
        numbers = detail.get("questions", list(range(1, question_count + 1)))
        if not isinstance(numbers, list) or not all(isinstance(n, int) and not isinstance(n, bool) for n in numbers):
            return {}, f"{name}: `questions` must be a list of question numbers"
        if any(n < 1 or n > question_count for n in numbers):
            return {}, f"{name}: question numbers must be between 1 and {question_count}"
        plan[name] = {"questions": sorted(set(numbers)), "instruction": str(detail.get("instruction") or "")}
        covered.update(numbers)
    missing = sorted(set(range(1, question_count + 1)) - covered)
    if missing:
        return {}, f"questions {missing} have no agent"
    return plan, ""


def _plan(run: DeepRun, *, questions_text: str, question_count: int, agents: list[AgentSpec]) -> dict:
    descriptions = json.dumps({spec.name: f"Category: {spec.category}. {spec.description}" for spec in agents})
    names = {spec.name for spec in agents}
    raw = str(
        run.call(
            ds.DeepPlanner,
            agent_name="deep_planner",
            deep_questions=questions_text,
            dataset=run.context_text,
            agents_desc=descriptions,
        ).plan_instructions
        or ""
    )
    plan, problem = plan_parse(raw, agents=names, question_count=question_count)
    if plan:
        return plan
    run.emit("planning", "processing", 30, message=f"Repairing the plan: {problem}")
    fixed = str(
        run.call(
            ds.DeepPlanFixer,
            agent_name="deep_plan_fixer",
            deep_questions=questions_text,
            agents_desc=descriptions,
            faulty_plan=raw[:4000],
            problem=problem,
        ).fixed_plan
        or ""
    )
    plan, second = plan_parse(fixed, agents=names, question_count=question_count)
    if not plan:
        raise DeepAnalysisFailedError(f"The planner's plan was invalid ({problem}) and its repair too ({second}).")
    return plan


# --- agents -------------------------------------------------------------------------------------


def _run_task(run: DeepRun, spec: AgentSpec, task: AgentTask) -> AgentTask:
    """One agent on one question, in the sandbox, with code_fix repairs (its own trace)."""
    try:
        if run.should_stop():
            return task
        trace = CallTrace(session_id=run.trace.session_id, user=run.user, is_streaming=True)
        answer_run = AnswerRun(session=run.session, user=run.user, trace=trace, query=task.question, goal=task.question)
        answer_run.model = run.model
        instructions = json.dumps({"create": [], "use": [], "instruction": task.instruction})
        task.answer = answer_run.run(spec, plan_instructions=instructions)
        with run.lock:
            run.trace.usage_ids += trace.usage_ids
            run.trace.prompt_tokens += trace.prompt_tokens
            run.trace.completion_tokens += trace.completion_tokens
            run.trace.cost += trace.cost
            run.trace.calls += trace.calls
        return task
    finally:
        if run.agent_workers > 1:
            connections.close_all()  # this worker thread's connections only


def _agents_run(run: DeepRun, tasks: list[AgentTask], specs: dict[str, AgentSpec]) -> None:
    total = len(tasks)
    done = 0

    def finished(task: AgentTask) -> None:
        nonlocal done
        done += 1
        answer = task.answer
        state = "could not run" if answer is None else "done" if answer.ok else "failed"
        run.emit(
            "agent_execution",
            "processing",
            int(45 + 15 * done / total),
            message=f"Completed {done}/{total} analysis agents ({task.agent} on question {task.question_number}: "
            f"{state})",
        )

    if run.agent_workers <= 1:
        for task in tasks:
            run.check()
            finished(_run_task(run, specs[task.agent], task))
        return
    with ThreadPoolExecutor(max_workers=run.agent_workers, thread_name_prefix="deep-agent") as pool:
        futures = [pool.submit(_run_task, run, specs[task.agent], task) for task in tasks]
        for future in futures:
            finished(future.result())


# --- the whole run --------------------------------------------------------------------------------


def _figures(plotly: list[str]) -> list[str]:
    return [figure for figure in plotly if isinstance(figure, str)]


def _question_outputs(stdout: str, count: int) -> list[str]:
    """The printed output split at the per-question headers the program prints."""
    parts = [""] * count
    current = -1
    for line in stdout.splitlines():
        if line.startswith(ds.QUESTION_HEADER):
            number = line[len(ds.QUESTION_HEADER) :].strip().split(":", 1)[0]
            current = int(number) - 1 if number.isdigit() and 0 < int(number) <= count else current
            continue
        if current >= 0:
            parts[current] += line + "\n"
    return parts


def deep_analysis_execute(
    *,
    session: AnalysisSession,
    user,
    goal: str,
    emit: Emit,
    should_stop: Callable[[], bool],
    trace: CallTrace,
    agent_workers: int | None = None,
) -> dict:
    """Run the pipeline; the reference's result dict. Raises DeepAnalysisStoppedError or ApplicationError."""

    run = DeepRun(
        session=session,
        user=user,
        goal=goal,
        emit=emit,
        should_stop=should_stop,
        trace=trace,
        model=deep_model(session),
        agent_workers=agent_workers or settings.DEEP_ANALYSIS_AGENT_WORKERS,
    )
    run.context_text = context_to_text(session_dataset_contexts(session=session))
    agents = [spec for spec in planner_agents(user=user, session_id=session.pk) if spec.writes_code]
    if not agents:
        raise DeepAnalysisFailedError(
            "No analysis agent is enabled: enable at least one agent template.", code="no_agents"
        )

    run.check()
    emit("questions", "processing", 10, message="Generating research questions...")
    questions_text = str(
        run.call(ds.DeepQuestions, agent_name="deep_questions", goal=goal, dataset_info=run.context_text).deep_questions
        or ""
    ).strip()
    questions = offline.numbered_questions(questions_text)
    if not questions:
        raise DeepAnalysisFailedError("The model wrote no research questions for this goal.", code="no_questions")
    emit("questions", "completed", 20, message=f"{len(questions)} research questions", content=questions_text)

    run.check()
    emit("planning", "processing", 25, message="Planning which agents answer which question...")
    plan = _plan(run, questions_text=questions_text, question_count=len(questions), agents=agents)
    plan_text = json.dumps(plan, indent=2, ensure_ascii=False)
    emit("planning", "completed", 40, message=f"{len(plan)} agents planned", content=plan_text)

    run.check()
    specs = {spec.name: spec for spec in agents}
    tasks = [
        AgentTask(agent=name, question_number=n, question=questions[n - 1], instruction=detail["instruction"])
        for n in range(1, len(questions) + 1)
        for name, detail in plan.items()
        if n in detail["questions"]
    ]
    emit("agent_execution", "processing", 45, message=f"Running {len(tasks)} agent tasks...")
    started = time.perf_counter()
    _agents_run(run, tasks, specs)
    run.timings["agents_s"] = time.perf_counter() - started
    run.check()
    succeeded = [t for t in tasks if t.answer is not None and t.answer.ok]
    emit("agent_execution", "completed", 60, message=f"{len(succeeded)} of {len(tasks)} agent tasks succeeded")
    summaries = [
        f"{t.agent} (question {t.question_number}): {t.answer.summary if t.answer else 'not run'}" for t in tasks
    ]

    emit("code_synthesis", "processing", 65, message="Combining the agents' code into one program...")
    agent_code = json.dumps(
        [{"question": t.question_number, "agent": t.agent, "code": t.answer.code} for t in succeeded],
        ensure_ascii=False,
    )
    code = strip_fences(
        str(
            run.call(
                ds.DeepCodeSynthesizer,
                agent_name="deep_code_synthesizer",
                deep_questions=questions_text,
                dataset_info=run.context_text,
                agent_code=agent_code,
            ).code
            or ""
        )
    )
    emit("code_synthesis", "completed", 80, message="Program ready")

    run.check()
    emit("code_execution", "processing", 82, message="Running the combined program...")
    executor = AnswerRun(session=session, user=user, trace=trace, query=goal, goal=goal)
    executor.model = run.model
    started = time.perf_counter()
    result, _ = executor.execute("deep_analysis", code)
    for _ in range(executor.fix_budget()):
        if result.ok:
            break
        fixed = strip_fences(
            str(
                executor.call(
                    sig.CodeFix,
                    purpose=ModelUsage.Purpose.CODE_FIX,
                    agent_name="deep_code_synthesizer",
                    dataset_context=run.context_text,
                    faulty_code=result.code,
                    error=result.error,
                ).fixed_code
                or ""
            )
        )
        if not fixed.strip() or fixed.strip() == result.code.strip():
            break
        result, _ = executor.execute("deep_analysis", fixed)
    run.timings["program_s"] = time.perf_counter() - started
    code = result.code
    if result.ok:
        figures = _figures(result.plotly)
        outputs = _question_outputs(result.stdout, len(questions))
        emit("code_execution", "completed", 85, message=f"Program ran: {len(figures)} figures")
    else:
        # The agents' own runs still hold real results: use them rather than nothing.
        figures = [f for t in succeeded for f in _figures(t.answer.plotly)]
        outputs = [
            "\n".join(t.answer.stdout for t in succeeded if t.question_number == n)
            for n in range(1, len(questions) + 1)
        ]
        emit(
            "code_execution",
            "completed",
            85,
            message=f"The combined program failed ({(result.error or '')[:200]}); using the agents' own results",
        )

    run.check()
    emit("synthesis", "processing", 87, message="Writing the findings of each question...")
    synthesis = []
    for number, question in enumerate(questions, start=1):
        run.check()
        own = [s for t, s in zip(tasks, summaries, strict=True) if t.question_number == number]
        synthesis.append(
            str(
                run.call(
                    ds.DeepSynthesizer,
                    agent_name="deep_synthesizer",
                    goal=goal,
                    question=question,
                    summaries="\n".join(own),
                    print_outputs=outputs[number - 1][-6000:],
                ).synthesized_report
                or ""
            ).strip()
        )
    emit("synthesis", "completed", 90, message=f"Findings for {len(synthesis)} questions")

    run.check()
    emit("conclusion", "processing", 95, message="Writing the conclusion...")
    conclusion = str(
        run.call(
            ds.FinalConclusion,
            agent_name="deep_conclusion",
            goal=goal,
            synthesized_sections=json.dumps(synthesis, ensure_ascii=False),
        ).final_conclusion
        or ""
    ).strip()
    return {
        "goal": goal,
        "deep_questions": questions_text,
        "deep_plan": plan_text,
        "summaries": summaries,
        "code": code,
        "plotly_figs": [figures],
        "synthesis": synthesis,
        "final_conclusion": conclusion,
        "timings": run.timings,
    }
