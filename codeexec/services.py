"""Running code for a caller and recording it (``/code/execute``, later the agents)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.conf import settings
from django.db import transaction

from codeexec.blocks import Block, split_blocks
from codeexec.client import DatasetInput, SandboxOutcome, SavedDataset, sandbox_run
from codeexec.models import CodeExecution
from codeexec.selectors import code_execution_latest_for
from config.errors import ApplicationError, PayloadTooLargeError


@dataclass(frozen=True)
class ExecutionContext:
    """Who runs the code and where; stored with the execution record."""

    user: object | None
    session_id: str
    chat_id: int | None = None
    message_id: int | None = None
    model_provider: str = ""
    model_name: str = ""
    temperature: float | None = None
    max_tokens: int | None = None


@dataclass
class CodeRunResult:
    output: str
    plotly_outputs: list[str] | None
    matplotlib_outputs: list[str] | None
    is_successful: bool
    failed_agents: list[str]
    error_messages: dict[str, str]
    saved: list[SavedDataset] = field(default_factory=list)
    execution: CodeExecution | None = None


def code_validate(code: str) -> None:
    if not code or not code.strip():
        raise ApplicationError("No code provided", code="empty_code")
    if len(code.encode()) > settings.MAX_CODE_BYTES:
        raise PayloadTooLargeError(
            f"The code is larger than the {settings.MAX_CODE_BYTES // 1024} KB limit (MAX_CODE_BYTES).",
            code="code_too_large",
        )


def _format(blocks: list[Block], outcome: SandboxOutcome) -> CodeRunResult:
    """The reference's output text; figures of successful blocks are always kept."""
    sections: list[str] = []
    plotly: list[str] = []
    images: list[str] = []
    failed: list[str] = []
    errors: dict[str, str] = {}
    by_position = dict(enumerate(outcome.blocks))
    for index, block in enumerate(blocks):
        ran = by_position.get(index)
        if ran is None:
            message = outcome.failure or "The block did not run."
            if failed and outcome.failure:
                message = "Not run: an earlier block stopped the execution."
            sections.append(f"\n\n=== ERROR IN {block.header} ===\nError in {block.agent}: {message}\n")
            failed.append(block.agent)
            errors[block.agent] = message
            continue
        if ran.ok:
            sections.append(f"\n\n=== OUTPUT FROM {block.header} ===\n{ran.stdout}\n")
            plotly.extend(f"```plotly\n{figure}\n```\n" for figure in ran.plotly)
            images.extend(f"```matplotlib\n{image}\n```\n" for image in ran.matplotlib)
        else:
            if ran.stdout.strip():
                sections.append(f"\n\n=== OUTPUT FROM {block.header} ===\n{ran.stdout}\n")
            sections.append(f"\n\n=== ERROR IN {block.header} ===\nError in {block.agent}: {ran.error}\n")
            failed.append(block.agent)
            errors[block.agent] = ran.error or ""
    success = not failed
    return CodeRunResult(
        output="".join(sections),
        plotly_outputs=plotly if plotly or success else None,
        matplotlib_outputs=images if images or success else None,
        is_successful=success,
        failed_agents=failed,
        error_messages=errors,
        saved=outcome.saved,
    )


def code_run(*, code: str, datasets: list[DatasetInput], caller: str | None = None) -> CodeRunResult:
    """Run marked-up code in the sandbox and format the result; records nothing.
    ``caller`` (a user or session key) is who the per-caller run cap counts against."""
    code_validate(code)
    blocks = split_blocks(code)
    outcome = sandbox_run(
        blocks=[{"name": b.name, "code": b.code} for b in blocks], datasets=datasets, caller=caller
    )
    return _format(blocks, outcome)


@transaction.atomic
def code_execution_record(*, code: str, result: CodeRunResult, context: ExecutionContext) -> CodeExecution:
    """One row per message: a re-run of a message's code updates its row."""
    user = context.user if getattr(context.user, "is_authenticated", False) else None
    existing = None
    if context.message_id is not None:
        existing = code_execution_latest_for(
            message_id=context.message_id, user=context.user, session_id=context.session_id
        )
    execution = existing or CodeExecution(
        user=user, session_id=context.session_id, message_id=context.message_id, initial_code=code
    )
    execution.latest_code = code
    execution.chat_id = context.chat_id if context.chat_id is not None else execution.chat_id
    execution.is_successful = result.is_successful
    execution.output = result.output
    execution.failed_agents = result.failed_agents
    execution.error_messages = result.error_messages
    execution.model_provider = context.model_provider
    execution.model_name = context.model_name
    execution.model_temperature = context.temperature
    execution.model_max_tokens = context.max_tokens
    execution.save()
    result.execution = execution
    return execution


@transaction.atomic
def agent_execution_record(
    *,
    context: ExecutionContext,
    agent_name: str,
    initial_code: str,
    latest_code: str,
    is_successful: bool,
    output: str,
    error: str | None,
    fix_attempts: list[dict],
    duration_ms: float,
) -> CodeExecution:
    """The record of code an agent wrote and the server ran while answering."""
    user = context.user if getattr(context.user, "is_authenticated", False) else None
    return CodeExecution.objects.create(
        user=user,
        session_id=context.session_id,
        chat_id=context.chat_id,
        message_id=context.message_id,
        agent_name=agent_name[:100],
        initial_code=initial_code,
        latest_code=latest_code,
        is_successful=is_successful,
        output=output,
        failed_agents=[] if is_successful else [agent_name],
        error_messages={} if is_successful or not error else {agent_name: error},
        model_provider=context.model_provider,
        model_name=context.model_name,
        model_temperature=context.temperature,
        model_max_tokens=context.max_tokens,
        duration_ms=duration_ms,
        fix_attempts=fix_attempts,
    )
