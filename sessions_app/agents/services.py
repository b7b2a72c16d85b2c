"""Answering questions: plan, run agents whose code is executed in the sandbox, repair
failing code, summarise real output, keep the conversation.

One question is one :class:`AnswerRun`. Its agents share state the simple way: each
agent's code runs after the earlier agents' successful code, as earlier blocks of the
same sandbox run, so the variables they created exist (the sandbox keeps nothing between
runs). A table meant to outlive the question is kept with ``save_dataset``, which makes
it a dataset of the session, visible to later questions in their dataset context.
"""

from __future__ import annotations

import ast
import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field

import dspy
from django.conf import settings
from django.db import transaction

from analytics.models import ModelUsage
from analytics.services import model_usage_attach_message
from chats.models import Chat, Message
from chats.selectors import BIGINT_MAX, chat_get_for_caller, chat_history, chats_for_caller
from chats.services import chat_create, chat_message_append
from codeexec.client import caller_key, sandbox_run
from codeexec.models import CodeExecution
from codeexec.services import ExecutionContext, agent_execution_record
from config.errors import ApplicationError, NotFoundError
from sessions_app.agents import signatures as sig
from sessions_app.agents.context import ColumnContext, DatasetContext, column_context, context_to_text
from sessions_app.agents.lm import CallTrace, SessionModel, lm_call, session_model
from sessions_app.agents.markdown import (
    answer_markdown,
    error_markdown,
    plain_answer_markdown,
    plan_markdown,
)
from sessions_app.agents.styling import styling_hint
from sessions_app.models import AnalysisSession, Dataset, DatasetFile
from sessions_app.selectors import parquet_open, session_datasets
from sessions_app.services import (
    datasets_save_from_sandbox,
    session_dataset_inputs,
    session_message_info_set,
    session_model_defaults,
)
from templates.models import CORE_AGENTS, AgentTemplate
from templates.selectors import (
    agent_template_get_for_user,
    agent_templates_for_individual,
    agent_templates_for_planner,
)
from templates.services import template_usage_record

logger = logging.getLogger(__name__)

BASIC_QA_AGENT = "basic_qa_agent"
PLANNER_AGENT = "Analytical Planner"
HISTORY_PAIRS = 3
HISTORY_CHARS = 500
FENCE = re.compile(r"^\s*```[\w-]*\s*\n(.*?)\n\s*```\s*$", re.DOTALL)
SUMMARY_SECTION = re.compile(r"### Summary\n(.*?)(?=\n## |\n### |\Z)", re.DOTALL)


# --- dataset context --------------------------------------------------------------------------


def _file_columns(dataset_file: DatasetFile) -> list[ColumnContext]:
    """The columns as agents see them, computed once per file and stored with it."""
    if dataset_file.agent_context is None:
        with parquet_open(dataset_file) as parquet:
            table = parquet.read()
        columns = [asdict(column_context(name, table.column(name))) for name in table.column_names]
        DatasetFile.objects.filter(pk=dataset_file.pk).update(agent_context=columns)
        dataset_file.agent_context = columns
    return [ColumnContext(**column) for column in dataset_file.agent_context]


def session_dataset_contexts(*, session: AnalysisSession) -> list[DatasetContext]:
    return [
        DatasetContext(
            name=dataset.name,
            description=dataset.description,
            rows=dataset.file.n_rows,
            columns=_file_columns(dataset.file),
            derived=dataset.source == Dataset.Source.DERIVED,
        )
        for dataset in session_datasets(session=session)
    ]


# --- agents -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AgentSpec:
    name: str
    description: str
    category: str
    signature: type[dspy.Signature]
    is_core: bool

    @property
    def writes_code(self) -> bool:
        return "code" in self.signature.output_fields

    @property
    def visual(self) -> bool:
        return "styling_index" in self.signature.input_fields


def agent_spec(template: AgentTemplate) -> AgentSpec:
    signature = sig.CORE_AGENT_SIGNATURES.get(template.name) if template.owner_id is None else None
    return AgentSpec(
        name=template.name,
        description=template.description,
        category=template.category,
        signature=signature
        or sig.template_agent_signature(name=template.name, prompt=template.prompt, category=template.category),
        is_core=signature is not None,
    )


BASIC_QA_SPEC = AgentSpec(
    name=BASIC_QA_AGENT,
    description="Answers messages that are not about analysing the data.",
    category="General",
    signature=sig.BasicQaAgent,
    is_core=True,
)


def planner_agents(*, user, session_id: str | None = None) -> list[AgentSpec]:
    """The planner's agents for this caller (an anonymous caller's choice lives in its session)."""
    return [agent_spec(template) for template in agent_templates_for_planner(user=user, session_id=session_id)]


def individual_agents(*, user, session_id: str | None = None) -> list[AgentSpec]:
    return [agent_spec(template) for template in agent_templates_for_individual(user=user, session_id=session_id)]


def agents_resolve(*, user, names: list[str], session_id: str | None = None) -> list[AgentSpec]:
    """The agents named in ``/chat/{agent}``, each one the caller may use."""
    available = {spec.name: spec for spec in individual_agents(user=user, session_id=session_id)}
    specs = []
    for name in names:
        if name == BASIC_QA_AGENT:
            specs.append(BASIC_QA_SPEC)
        elif name in available:
            specs.append(available[name])
        else:
            try:
                specs.append(agent_spec(agent_template_get_for_user(user=user, name=name)))
            except ApplicationError as error:
                if error.status_code == 403:
                    raise
                listed = [*CORE_AGENTS, *(n for n in available if n not in CORE_AGENTS), BASIC_QA_AGENT]
                raise ApplicationError(
                    f"Agent '{name}' not found. Available agents: {listed}", code="agent_not_found"
                ) from None
    return specs


# --- conversation -------------------------------------------------------------------------------


def goal_with_history(*, query: str, previous: list[Message]) -> str:
    """The question, plus the last exchanges (question and answer summary) of the chat."""
    pairs: list[tuple[str, str]] = []
    pending: str | None = None
    for message in previous:
        if message.sender == Message.Sender.USER:
            pending = message.content
        elif pending is not None:
            summaries = "\n".join(part.strip() for part in SUMMARY_SECTION.findall(message.content))
            pairs.append((pending[:HISTORY_CHARS], (summaries or message.content)[:HISTORY_CHARS]))
            pending = None
    if not pairs:
        return query
    history = "\n\n".join(f"Query: {q}\nSummary: {s}" for q, s in pairs[-HISTORY_PAIRS:])
    return f"### Current Query:\n{query}\n\n### Previous Interaction History:\n{history}"


def strip_fences(code: str) -> str:
    match = FENCE.match(code.strip("\n"))
    return (match.group(1) if match else code).strip("\n")


# --- one question --------------------------------------------------------------------------------


@dataclass
class AgentAnswer:
    agent: str
    code: str = ""
    summary: str = ""
    stdout: str = ""
    error: str | None = None
    plotly: list[str] = field(default_factory=list)
    matplotlib: list[str] = field(default_factory=list)
    fix_attempts: list[dict] = field(default_factory=list)
    saved: list[str] = field(default_factory=list)
    answer: str = ""  # basic_qa_agent's plain answer
    execution_id: int | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def markdown(self) -> str:
        if not self.code and self.answer:
            return plain_answer_markdown(agent=self.agent, answer=self.answer)
        return answer_markdown(
            agent=self.agent,
            code=self.code,
            summary=self.summary,
            stdout=self.stdout,
            error=self.error,
            plotly=self.plotly,
            matplotlib=self.matplotlib,
            fix_attempts=len(self.fix_attempts),
        )


class AnswerRun:
    """Everything one question's agents share: model, usage trace, datasets, prior code."""

    def __init__(self, *, session: AnalysisSession, user, trace: CallTrace, query: str, goal: str) -> None:
        self.session = session
        self.user = user
        self.trace = trace
        self.query = query
        self.goal = goal
        self.model: SessionModel = session_model(session)
        self.blocks: list[dict] = []
        self.saved_names: set[str] = set()
        self.answers: list[AgentAnswer] = []
        self._refresh_datasets()

    def _refresh_datasets(self) -> None:
        self.contexts = session_dataset_contexts(session=self.session)
        self.context_text = context_to_text(self.contexts)
        self.dataset_inputs = session_dataset_inputs(session=self.session)

    def call(self, signature: type[dspy.Signature], *, purpose: str, agent_name: str = "", **inputs) -> dspy.Prediction:
        return lm_call(
            model=self.model, trace=self.trace, signature=signature, purpose=purpose, agent_name=agent_name, **inputs
        )

    def execute(self, name: str, code: str) -> tuple[AgentAnswer, list]:
        """Run ``code`` after the earlier agents' code; this block's results only."""
        block_name = re.sub(r"\W", "_", name.removesuffix("_agent")) or "agent"
        blocks = [*self.blocks, {"name": block_name, "code": code}]
        caller = caller_key(user=self.user, session_id=self.session.pk)
        outcome = sandbox_run(blocks=blocks, datasets=self.dataset_inputs, caller=caller)
        result = AgentAnswer(agent=name, code=code)
        own = outcome.blocks[len(blocks) - 1] if len(outcome.blocks) == len(blocks) else None
        if own is None:
            result.error = outcome.failure or "The code did not run."
            return result, []
        result.stdout, result.plotly, result.matplotlib = own.stdout, own.plotly, own.matplotlib
        if not own.ok:
            result.error = own.error or "The code failed."
        elif outcome.failure:
            result.error = outcome.failure
        return result, outcome.saved

    def run_code_agent(self, spec: AgentSpec, *, plan_instructions: str = "") -> AgentAnswer:
        inputs = {"dataset": self.context_text, "goal": self.goal, "plan_instructions": plan_instructions}
        if spec.visual:
            inputs["styling_index"] = styling_hint(self.query)
        prediction = self.call(spec.signature, purpose=ModelUsage.Purpose.AGENT, agent_name=spec.name, **inputs)
        initial_code = strip_fences(str(prediction.code or ""))
        started = time.perf_counter()
        answer, saved = self.execute(spec.name, initial_code)
        for _ in range(self.fix_budget()):
            if answer.ok:
                break
            fixed = strip_fences(
                str(
                    self.call(
                        sig.CodeFix,
                        purpose=ModelUsage.Purpose.CODE_FIX,
                        agent_name=spec.name,
                        dataset_context=self.context_text,
                        faulty_code=answer.code,
                        error=answer.error,
                    ).fixed_code
                    or ""
                )
            )
            attempts = [*answer.fix_attempts, {"code": answer.code, "error": answer.error}]
            if not fixed.strip() or fixed.strip() == answer.code.strip():
                answer.fix_attempts = attempts
                break  # the repair changed nothing: another run would fail the same way
            answer, saved = self.execute(spec.name, fixed)
            answer.fix_attempts = attempts
        if answer.ok:
            self.blocks.append({"name": spec.name.removesuffix("_agent"), "code": answer.code})
            answer.saved = self._keep_saved(saved)
        output = answer.stdout if answer.ok else f"{answer.stdout}\nError: {answer.error}"
        answer.summary = str(
            self.call(
                sig.MemorySummarizeAgent,
                purpose=ModelUsage.Purpose.SUMMARY,
                agent_name=spec.name,
                agent_response=f"{answer.code}\n\nOutput:\n{output}",
                user_goal=self.query,
            ).summary
            or prediction.summary
            or ""
        )
        execution = agent_execution_record(
            context=self._execution_context(),
            agent_name=spec.name,
            initial_code=initial_code,
            latest_code=answer.code,
            is_successful=answer.ok,
            output=answer.stdout,
            error=answer.error,
            fix_attempts=answer.fix_attempts,
            duration_ms=round((time.perf_counter() - started) * 1000, 2),
        )
        answer.execution_id = execution.pk
        return answer

    def fix_budget(self) -> int:
        return max(0, settings.CODE_FIX_ATTEMPTS)

    def _keep_saved(self, saved: list) -> list[str]:
        """Datasets this agent saved join the session (earlier agents' re-runs are skipped)."""
        new = [item for item in saved if item.name not in self.saved_names]
        if not new:
            return []
        datasets = datasets_save_from_sandbox(session=self.session, saved=new)
        self.saved_names.update(item.name for item in new)
        self._refresh_datasets()
        return [dataset.name for dataset in datasets]

    def _execution_context(self) -> ExecutionContext:
        return ExecutionContext(
            user=self.user,
            session_id=self.session.pk,
            chat_id=self.trace.chat_id,
            model_provider=self.model.provider,
            model_name=self.model.model,
            temperature=self.session.temperature,
            max_tokens=self.session.max_tokens,
        )

    def run_basic_qa(self) -> AgentAnswer:
        prediction = self.call(
            sig.BasicQaAgent,
            purpose=ModelUsage.Purpose.AGENT,
            agent_name=BASIC_QA_AGENT,
            goal=self.goal,
            dataset=self.context_text,
        )
        return AgentAnswer(agent=BASIC_QA_AGENT, answer=str(prediction.answer or ""))

    def run(self, spec: AgentSpec, *, plan_instructions: str = "") -> AgentAnswer:
        answer = (
            self.run_code_agent(spec, plan_instructions=plan_instructions)
            if spec.writes_code
            else (self.run_basic_qa())
        )
        self.answers.append(answer)
        if not spec.is_core:
            template_usage_record(user=self.user, name=spec.name, session_id=self.session.pk)
        return answer

    def finish(self, *, chat: Chat | None, content: str) -> Message | None:
        """Store the answer in the chat and link usage and executions to it."""
        if chat is None:
            return None
        agents = ",".join(dict.fromkeys(answer.agent for answer in self.answers))
        message = chat_message_append(
            chat=chat, sender=Message.Sender.AI, content=content, origin=Message.Origin.SERVER, agent_name=agents
        )
        model_usage_attach_message(usage_ids=self.trace.usage_ids, message_id=message.pk)
        executions = [answer.execution_id for answer in self.answers if answer.execution_id]
        CodeExecution.objects.filter(pk__in=executions).update(message_id=message.pk)
        session_message_info_set(session=self.session, chat_id=chat.pk, message_id=message.pk)
        return message


# --- planning ------------------------------------------------------------------------------------

PLANNERS = {
    "basic": sig.BasicQueryPlanner,
    "intermediate": sig.IntermediateQueryPlanner,
    "advanced": sig.AdvancedQueryPlanner,
}


@dataclass
class Plan:
    complexity: str
    steps: list[dict]  # [{agent, create, use, instruction}]
    unrelated: str = ""


def _plan_instructions(text: str) -> dict:
    cleaned = strip_fences(text or "")
    try:
        value = json.loads(cleaned)
    except (ValueError, RecursionError):
        try:
            value = ast.literal_eval(cleaned)
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


def _names(value: object) -> list[str]:
    """A plan's create/use list as the model wrote it: a list, a single name, or junk."""
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, list):
        return [str(item) for item in value if isinstance(item, (str, int, float))]
    return []


def plan_question(run: AnswerRun, agents: list[AgentSpec]) -> Plan:
    allocation = run.call(
        sig.ComplexityAllocator,
        purpose=ModelUsage.Purpose.ALLOCATOR,
        user_query=run.goal,
        dataset=run.context_text,
    )
    complexity = str(allocation.exact_word_complexity or "basic")
    if complexity == "unrelated" and not allocation.analysis_query:
        return Plan(complexity="unrelated", steps=[{"agent": BASIC_QA_AGENT}], unrelated="not a data question")
    descriptions = {spec.name: f"Category: {spec.category}. {spec.description}" for spec in agents}
    planned = run.call(
        PLANNERS.get(complexity, sig.BasicQueryPlanner),
        purpose=ModelUsage.Purpose.PLANNER,
        dataset=run.context_text,
        Agent_desc=json.dumps(descriptions),
        goal=run.goal,
    )
    instructions = _plan_instructions(str(planned.plan_instructions or ""))
    text = str(planned.plan or "").lower().replace("plan:", "")
    known = {spec.name for spec in agents} | {BASIC_QA_AGENT}
    steps = []
    for raw in re.split(r"->|,|\n", text):
        name = raw.strip().strip("`'\" .")
        if name and name not in known and f"planner_{name}" in known:
            name = f"planner_{name}"
        if name in known:
            detail = instructions.get(name) if isinstance(instructions.get(name), dict) else {}
            steps.append(
                {
                    "agent": name,
                    "create": _names(detail.get("create")),
                    "use": _names(detail.get("use")),
                    "instruction": str(detail.get("instruction") or instructions.get(name) or ""),
                }
            )
    if any(step["agent"] == BASIC_QA_AGENT for step in steps):
        note = next((s["instruction"] for s in steps if s["agent"] == BASIC_QA_AGENT), "") or "no agent fits"
        return Plan(complexity=complexity, steps=[{"agent": BASIC_QA_AGENT}], unrelated=note)
    return Plan(complexity=complexity, steps=steps)


# --- the two chat routes -----------------------------------------------------------------------------


def chat_resolve(
    *, session: AnalysisSession, user, chat_id: int | None, fingerprint: str = ""
) -> Chat:
    """The chat this answer goes to: the one named, the session's bound one, or a new one.

    A ``chat_id`` that names no chat at all is the web frontend's temporary id for a
    conversation the server has not seen yet (a guest's ``Date.now()``): the first answer
    under it starts a new chat for the caller, later ones find that chat again. An id of
    a chat the caller does not own stays a 404. The session row is locked while a chat is
    chosen, so two first questions at once end up in one new chat, not in two.
    """
    if chat_id is not None:
        try:
            return chat_get_for_caller(chat_id=chat_id, user=user, session_id=session.pk)
        except NotFoundError:
            if not 0 < chat_id <= BIGINT_MAX or Chat.objects.filter(pk=chat_id).exists():
                raise
    with transaction.atomic():
        bound = AnalysisSession.objects.select_for_update().values_list("current_chat_id", flat=True).get(pk=session.pk)
        if chat_id is not None:
            known = chats_for_caller(user=user, session_id=session.pk).filter(client_chat_id=chat_id).first()
            if known is not None:
                return known
        elif bound is not None:
            try:
                return chat_get_for_caller(chat_id=bound, user=user, session_id=session.pk)
            except ApplicationError:
                pass  # the bound chat is gone: start a new one
        chat = chat_create(user=user, session_id=session.pk, client_chat_id=chat_id, fingerprint=fingerprint)
        session_message_info_set(session=session, chat_id=chat.pk, message_id=None)
    return chat


Emit = Callable[[dict], None]


def chat_stream(
    *, session: AnalysisSession, user, chat: Chat, query: str, emit: Emit, cancelled: threading.Event
) -> None:
    """Answer ``query`` with the planner, emitting one reference stream line per step.

    Whatever fails, the lines already sent are stored in the chat and the stream ends
    with its ``__done__`` line.
    """
    started = time.perf_counter()
    previous = chat_history(chat=chat, limit=10)
    chat_message_append(chat=chat, sender=Message.Sender.USER, content=query, origin=Message.Origin.SERVER)
    trace = CallTrace(session_id=session.pk, user=user, chat_id=chat.pk, is_streaming=True)
    lines: list[str] = []
    failed: list[str] = []
    run: AnswerRun | None = None
    current = PLANNER_AGENT

    def send(agent: str, content: str, status: str, **extra) -> None:
        lines.append(content)
        emit({"agent": agent, "content": content, "status": status, **extra})

    try:
        run = AnswerRun(
            session=session, user=user, trace=trace, query=query, goal=goal_with_history(query=query, previous=previous)
        )
        agents = planner_agents(user=user, session_id=session.pk)
        plan = plan_question(run, agents)
        planner_content = plan_markdown(complexity=plan.complexity, steps=plan.steps, unrelated_note=plan.unrelated)
        if not plan.steps:
            planner_content += "\nNo agent in the plan: rephrase the question, or enable more agents."
        send(PLANNER_AGENT, planner_content, "success" if plan.steps else "error")
        by_name = {spec.name: spec for spec in agents}
        for step in plan.steps:
            if cancelled.is_set():
                break
            spec = BASIC_QA_SPEC if step["agent"] == BASIC_QA_AGENT else by_name[step["agent"]]
            current = spec.name
            answer = run.run(spec, plan_instructions="" if spec is BASIC_QA_SPEC else _step_instructions(step))
            send(spec.name, answer.markdown(), "success" if answer.ok else "error")
            if not answer.ok:
                failed.append(spec.name)
                emit(
                    {
                        "agent": spec.name,
                        "content": error_markdown(agent=spec.name, message=answer.error or ""),
                        "status": "error",
                    }
                )
    except Exception as error:
        if isinstance(error, ApplicationError):
            message, code = error.message, error.code
        else:
            logger.exception("answering failed in %s", current)
            message, code = "The answer failed unexpectedly; the failure was logged.", "server_error"
        send(current, error_markdown(agent=current, message=message), "error", code=code)
        failed.append(current)
    message = None
    if run is not None and not cancelled.is_set():
        message = run.finish(chat=chat, content="\n".join(lines))
    emit(
        {
            "agent": "__done__",
            "content": "",
            "status": "done",
            "chat_id": chat.pk,
            "message_id": message.pk if message else None,
            "failed_agents": failed,
            "totals": {**trace.totals(), "duration_ms": round((time.perf_counter() - started) * 1000)},
        }
    )


def _step_instructions(step: dict) -> str:
    return json.dumps({"create": step["create"], "use": step["use"], "instruction": step["instruction"]})


def agents_answer(
    *, session: AnalysisSession, user, chat: Chat, query: str, specs: list[AgentSpec], cancelled: threading.Event
) -> str:
    """``/chat/{agent}``: the named agents answer in turn; one markdown answer.

    Once ``cancelled`` is set (the caller got its 504) no further agent runs and nothing
    is stored.
    """
    previous = chat_history(chat=chat, limit=10)
    chat_message_append(chat=chat, sender=Message.Sender.USER, content=query, origin=Message.Origin.SERVER)
    trace = CallTrace(session_id=session.pk, user=user, chat_id=chat.pk)
    run = AnswerRun(
        session=session, user=user, trace=trace, query=query, goal=goal_with_history(query=query, previous=previous)
    )
    parts = []
    for spec in specs:
        if cancelled.is_set():
            return ""
        parts.append(run.run(spec).markdown())
    content = "\n".join(parts)
    if not cancelled.is_set():
        run.finish(chat=chat, content=content)
    return content


# --- single calls -------------------------------------------------------------------------------------


def _model_for(session: AnalysisSession | None) -> SessionModel:
    """The session's model, or the server's default model when there is no session."""
    return session_model(session if session is not None else AnalysisSession(**session_model_defaults()))


def chat_title_generate(*, session: AnalysisSession | None, user, query: str, chat_id: int | None = None) -> str:
    """At most three words naming a chat, from its first question."""
    trace = CallTrace(session_id=session.pk if session else "", user=user, chat_id=chat_id)
    prediction = lm_call(
        model=_model_for(session), trace=trace, signature=sig.ChatHistoryNameAgent, purpose="title", query=query
    )
    words = re.sub(r"[\"'`*#]", "", str(prediction.name or "")).split()
    return " ".join(words[:3]) or "New Chat"


def code_edit(*, session: AnalysisSession, user, code: str, prompt: str) -> str:
    trace = CallTrace(session_id=session.pk, user=user, chat_id=session.current_chat_id)
    context = context_to_text(session_dataset_contexts(session=session))
    prediction = lm_call(
        model=session_model(session),
        trace=trace,
        signature=sig.CodeEdit,
        purpose=ModelUsage.Purpose.CODE_EDIT,
        dataset_context=context,
        original_code=code,
        user_prompt=prompt,
    )
    return strip_fences(str(prediction.edited_code or ""))


@dataclass
class FixOutcome:
    code: str
    fixed: bool
    attempts: list[dict]


def code_fix(*, session: AnalysisSession, user, code: str, error: str) -> FixOutcome:
    """Repair code until it runs cleanly in the sandbox (at most CODE_FIX_ATTEMPTS tries)."""
    trace = CallTrace(session_id=session.pk, user=user, chat_id=session.current_chat_id)
    run = AnswerRun(session=session, user=user, trace=trace, query=error, goal=error)
    current, current_error, attempts = code, error, []
    for _ in range(max(1, run.fix_budget())):
        fixed = strip_fences(
            str(
                run.call(
                    sig.CodeFix,
                    purpose=ModelUsage.Purpose.CODE_FIX,
                    dataset_context=run.context_text,
                    faulty_code=current,
                    error=current_error,
                ).fixed_code
                or ""
            )
        )
        if not fixed.strip() or fixed.strip() == current.strip():
            attempts.append({"code": fixed, "error": "the repair changed nothing"})
            break
        result, _ = run.execute("fix", fixed)
        attempts.append({"code": fixed, "error": result.error})
        current, current_error = fixed, result.error or ""
        if result.ok:
            return FixOutcome(code=fixed, fixed=True, attempts=attempts)
    return FixOutcome(code=code, fixed=False, attempts=attempts)


def dataset_description_generate(
    *, session: AnalysisSession | None, user, contexts: list[DatasetContext], existing: str = ""
) -> str:
    """A description of one dataset, or of several related tables, from their context."""
    trace = CallTrace(session_id=session.pk if session else "", user=user)
    model = _model_for(session)
    text = context_to_text(contexts)
    if len(contexts) == 1:
        prediction = lm_call(
            model=model,
            trace=trace,
            signature=sig.DatasetDescriptionAgent,
            purpose=ModelUsage.Purpose.DESCRIPTION,
            dataset=text,
            existing_description=existing,
        )
        return str(prediction.description or "").strip()
    prediction = lm_call(
        model=model,
        trace=trace,
        signature=sig.DataContextGenerator,
        purpose=ModelUsage.Purpose.DESCRIPTION,
        user_description=existing,
        dataset_view=text,
    )
    return str(prediction.data_context or "").strip()
