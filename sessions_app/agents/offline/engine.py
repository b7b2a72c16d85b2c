"""The ``offline`` provider: a DSPy engine that answers with the rule-based analyst.

DSPy formats every call with its ChatAdapter: the system message lists the input and
output fields and ends with the signature's instructions; the user message holds the
inputs as ``[[ ## field ## ]]`` sections. This engine recognises which of our
signatures is being called by its instructions, reads the inputs back, asks
:mod:`sessions_app.agents.offline.analyst` for the answer and writes the output fields
in the same format. It never touches the network, and it is deterministic.

Token counts are estimated (about four characters a token) and reported as usage, so
the offline path exercises the same accounting as a real provider; the usage records
mark them as estimated.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable

from dspy.lm15 import Message, Response, TextPart, Usage, response_to_events

from sessions_app.agents import signatures as sig
from sessions_app.agents.context import DatasetContext, context_from_text
from sessions_app.agents.offline import analyst

MODEL_NAME = "offline-analyst"
FIELD_HEADER = re.compile(r"^\[\[ ## (\w+) ## \]\]\s*$", re.MULTILINE)
OUTPUT_FIELDS = re.compile(r"Your output fields are:\s*(.*?)\n(?:All interactions|In adhering)", re.DOTALL)
OUTPUT_FIELD_NAME = re.compile(r"^\s*\d+\.\s*`(\w+)`", re.MULTILINE)
CHARS_PER_TOKEN = 4
RESPOND_REQUEST = re.compile(r"(?:^|\n)Respond with the corresponding output fields.*\Z", re.DOTALL)


class OfflineEngineError(RuntimeError):
    pass


def _squash(text: str) -> str:
    return " ".join(text.split())


def _datasets(text: str) -> list[DatasetContext]:
    try:
        return context_from_text(text) if text.strip() else []
    except (ValueError, KeyError, TypeError):
        return []


def _agents_description(text: str) -> dict[str, str]:
    """``Agent_desc`` is a JSON object name -> description (see the planner)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in value.items()} if isinstance(value, dict) else {}


def _plan(complexity: str) -> Callable[[dict], dict]:
    def handle(inputs: dict) -> dict:
        steps = analyst.plan(
            goal=inputs.get("goal", ""),
            datasets=_datasets(inputs.get("dataset", "")),
            agents=_agents_description(inputs.get("Agent_desc", "")),
            complexity=complexity,
        )
        if not steps:
            return {"plan": "no_agents_available", "plan_instructions": "{}"}
        instructions = {
            step.agent: {"create": step.create, "use": step.use, "instruction": step.instruction} for step in steps
        }
        return {"plan": " -> ".join(step.agent for step in steps), "plan_instructions": json.dumps(instructions)}

    return handle


def _code_agent(agent: str) -> Callable[[dict], dict]:
    def handle(inputs: dict) -> dict:
        code, summary = analyst.write_code(
            agent=agent,
            goal=inputs.get("goal", ""),
            datasets=_datasets(inputs.get("dataset", "")),
            plan_instructions=inputs.get("plan_instructions", ""),
        )
        return {"code": code, "summary": summary}

    return handle


def _allocate(inputs: dict) -> dict:
    complexity, analysis = analyst.allocate(
        goal=inputs.get("user_query", ""), datasets=_datasets(inputs.get("dataset", ""))
    )
    return {"exact_word_complexity": complexity, "analysis_query": analysis}


HANDLERS: list[tuple[type, Callable[[dict], dict]]] = [
    (sig.ComplexityAllocator, _allocate),
    (sig.BasicQueryPlanner, _plan("basic")),
    (sig.IntermediateQueryPlanner, _plan("intermediate")),
    (sig.AdvancedQueryPlanner, _plan("advanced")),
    *[(signature, _code_agent(name)) for name, signature in sig.CORE_AGENT_SIGNATURES.items()],
    (
        sig.BasicQaAgent,
        lambda i: {"answer": analyst.answer_general(goal=i.get("goal", ""), datasets=_datasets(i.get("dataset", "")))},
    ),
    (
        sig.MemorySummarizeAgent,
        lambda i: {
            "summary": analyst.summarize(goal=i.get("user_goal", ""), agent_response=i.get("agent_response", ""))
        },
    ),
    (sig.ChatHistoryNameAgent, lambda i: {"name": analyst.chat_title(query=i.get("query", ""))}),
    (
        sig.DatasetDescriptionAgent,
        lambda i: {
            "description": analyst.describe_dataset(
                datasets=_datasets(i.get("dataset", "")), existing=i.get("existing_description", "")
            )
        },
    ),
    (
        sig.DataContextGenerator,
        lambda i: {
            "data_context": analyst.describe_dataset(
                datasets=_datasets(i.get("dataset_view", "")), existing=i.get("user_description", "")
            )
        },
    ),
    (
        sig.CodeFix,
        lambda i: {
            "fixed_code": analyst.fix_code(
                code=i.get("faulty_code", ""),
                error=i.get("error", ""),
                datasets=_datasets(i.get("dataset_context", "")),
            )
        },
    ),
    (
        sig.CodeEdit,
        lambda i: {
            "edited_code": analyst.edit_code(
                code=i.get("original_code", ""),
                prompt=i.get("user_prompt", ""),
                datasets=_datasets(i.get("dataset_context", "")),
            )
        },
    ),
]
# Longest instructions first: a planner variant's instructions contain the plain agent's.
_BY_INSTRUCTIONS = sorted(
    ((_squash(signature.instructions), handler) for signature, handler in HANDLERS), key=lambda item: -len(item[0])
)


def _template_handler(system: str) -> Callable[[dict], dict] | None:
    name = re.search(rf"{re.escape(sig.TEMPLATE_NAME_MARKER)}\s*(\w+)", system)
    category = re.search(rf"{re.escape(sig.TEMPLATE_CATEGORY_MARKER)}\s*([^\n]+)", system)
    if not name or not category:
        return None

    def handle(inputs: dict) -> dict:
        code, summary = analyst.write_code(
            agent=name.group(1),
            goal=inputs.get("goal", ""),
            datasets=_datasets(inputs.get("dataset", "")),
            plan_instructions=inputs.get("plan_instructions", ""),
            category=category.group(1).strip(),
        )
        return {"code": code, "summary": summary}

    return handle


def _handler_for(system: str) -> Callable[[dict], dict]:
    squashed = _squash(system)
    for instructions, handler in _BY_INSTRUCTIONS:
        if instructions in squashed:
            return handler
    handler = _template_handler(system)
    if handler is None:
        raise OfflineEngineError("The offline engine does not know this signature.")
    return handler


def parse_inputs(text: str) -> dict[str, str]:
    """``[[ ## field ## ]]`` sections of a ChatAdapter user message."""
    inputs: dict[str, str] = {}
    matches = list(FIELD_HEADER.finditer(text))
    for index, match in enumerate(matches):
        end = matches[index + 1].start() if index + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip("\n")
        if index + 1 == len(matches):
            # The last input is followed by the adapter's "Respond with ..." request (even
            # when the input itself is empty and the request directly follows the header).
            value = RESPOND_REQUEST.sub("", value).strip("\n")
        inputs[match.group(1)] = value
    return inputs


def _format_value(value: object) -> str:
    if isinstance(value, bool):
        return "True" if value else "False"
    return str(value)


def answer(system: str, user: str) -> str:
    """The ChatAdapter-formatted reply to one call."""
    wanted_match = OUTPUT_FIELDS.search(system)
    wanted = OUTPUT_FIELD_NAME.findall(wanted_match.group(1)) if wanted_match else []
    outputs = _handler_for(system)(parse_inputs(user))
    parts = []
    for field in wanted or list(outputs):
        value = outputs.get(field)
        if value is None and field == "reasoning":
            value = "Rule-based analysis by the offline engine."
        parts.append(f"[[ ## {field} ## ]]\n{_format_value(value if value is not None else '')}")
    parts.append("[[ ## completed ## ]]")
    return "\n\n".join(parts)


def _estimate_tokens(text: str) -> int:
    return math.ceil(len(text) / CHARS_PER_TOKEN)


class OfflineEngine:
    """Synchronous DSPy engine (``complete(Request) -> Response``)."""

    def complete(self, request) -> Response:
        system = request.system if isinstance(request.system, str) else "".join(p.text for p in request.system or ())
        user = "\n\n".join(message.text or "" for message in request.messages if message.role == "user")
        # Only the last user message matters: earlier ones are few-shot demos, unused here.
        last_user = next((m.text or "" for m in reversed(request.messages) if m.role == "user"), "")
        text = answer(system, last_user)
        prompt_tokens = _estimate_tokens(system + user)
        completion_tokens = _estimate_tokens(text)
        return Response(
            id=None,
            model=MODEL_NAME,
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

    def close(self) -> None:
        pass


class AsyncOfflineEngine:
    """The async twin DSPy requires next to a custom engine."""

    def __init__(self) -> None:
        self.sync = OfflineEngine()

    async def complete(self, request) -> Response:
        return self.sync.complete(request)

    async def stream(self, request):
        for event in self.sync.stream(request):
            yield event

    async def aclose(self) -> None:
        pass
