"""``/chat`` (streamed), ``/chat/{agent}``, ``/agents``, ``/chat_history_name``,
``/code/edit`` and ``/code/fix`` (reference §1.3, §1.5). Views parse and check input,
resolve the caller's session and chat, and hand the work to the agents' services."""

from __future__ import annotations

from django.conf import settings
from django.http import StreamingHttpResponse
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chats.services import user_id_assert_is_caller
from codeexec.services import code_validate
from config.errors import ApplicationError
from sessions_app.agents import serializers as s
from sessions_app.agents.services import (
    BASIC_QA_AGENT,
    agents_answer,
    agents_resolve,
    chat_resolve,
    chat_stream,
    chat_title_generate,
    code_edit,
    code_fix,
)
from sessions_app.agents.streaming import ndjson_events, run_with_timeout
from sessions_app.apis import SESSION_PARAMETERS, SessionAPIView, request_fingerprint, validated
from templates.models import CORE_AGENTS
from templates.selectors import agent_templates_for_individual

CHAT_PARAMETERS = [
    *SESSION_PARAMETERS,
    OpenApiParameter("chat_id", int, OpenApiParameter.QUERY, required=False, description="Chat to answer in"),
    OpenApiParameter("user_id", int, OpenApiParameter.QUERY, required=False, description="Must be the caller"),
]
STREAM_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
TIMEOUT_MESSAGE = "Request timed out. Please try a simpler query."


class _ChatBase(SessionAPIView):
    def chat_inputs(self, request: Request):
        params = validated(s.ChatQueryParamsIn, request.query_params)
        query = validated(s.QueryIn, request.data)["query"]
        session = self.analysis_session()
        if not session.datasets.exists():
            raise ApplicationError(
                "No dataset is currently loaded. Upload one or reset the session.", code="no_dataset"
            )
        chat = chat_resolve(
            session=session, user=request.user, chat_id=params.get("chat_id"), fingerprint=request_fingerprint(request)
        )
        return session, chat, query


def _stream_error(error: Exception) -> dict:
    message = error.message if isinstance(error, ApplicationError) else "The answer failed unexpectedly; it was logged."
    return {"agent": "__done__", "content": f"**Error**: {message}", "status": "error"}


class ChatApi(_ChatBase):
    @extend_schema(
        parameters=CHAT_PARAMETERS,
        request=s.QueryIn,
        responses={(200, "application/x-ndjson"): s.StreamLineOut},
        tags=["chat"],
        description="NDJSON stream: the planner's line, one line per agent as it finishes, then a `__done__` "
        "line with totals.",
    )
    def post(self, request: Request) -> StreamingHttpResponse:
        session, chat, query = self.chat_inputs(request)
        user = request.user

        def work(emit, cancelled) -> None:
            chat_stream(session=session, user=user, chat=chat, query=query, emit=emit, cancelled=cancelled)

        response = StreamingHttpResponse(
            ndjson_events(work, on_error=_stream_error), content_type="text/event-stream", headers=STREAM_HEADERS
        )
        return response


class ChatAgentApi(_ChatBase):
    @extend_schema(parameters=CHAT_PARAMETERS, request=s.QueryIn, responses=s.AgentAnswerOut, tags=["chat"])
    def post(self, request: Request, agent_name: str) -> Response:
        names = list(dict.fromkeys(name.strip() for name in agent_name.split(",") if name.strip()))
        if not names:
            raise ApplicationError("Name at least one agent.", code="agent_not_found")
        specs = agents_resolve(user=request.user, names=names, session_id=self.analysis_session().pk)
        session, chat, query = self.chat_inputs(request)
        user = request.user
        content = run_with_timeout(
            lambda cancelled: agents_answer(
                session=session, user=user, chat=chat, query=query, specs=specs, cancelled=cancelled
            ),
            seconds=settings.ANSWER_TIMEOUT_SECONDS,
            message=TIMEOUT_MESSAGE,
        )
        return Response(
            {
                "agent_name": ",".join(names),
                "query": query,
                "response": content,
                "session_id": session.pk,
                "chat_id": chat.pk,
            }
        )


class AgentsApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, responses=s.AgentsOut, tags=["chat"])
    def get(self, request: Request) -> Response:
        session = self.analysis_session()
        templates = agent_templates_for_individual(user=request.user, session_id=session.pk)
        built_in = [t.name for t in templates if t.owner_id is None and t.name not in CORE_AGENTS]
        custom = [t.name for t in templates if t.owner_id is not None]
        return Response(
            {
                "available_agents": [*CORE_AGENTS, *built_in, *custom, BASIC_QA_AGENT],
                "standard_agents": list(CORE_AGENTS),
                "template_agents": built_in,
                "custom_agents": custom,
            }
        )


class ChatHistoryNameApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.QueryIn, responses=s.ChatNameOut, tags=["chat"])
    def post(self, request: Request) -> Response:
        query = validated(s.QueryIn, request.data)["query"]
        session = self.analysis_session()
        return Response({"name": chat_title_generate(session=session, user=request.user, query=query)})


class CodeEditApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.CodeEditIn, responses=s.CodeEditOut, tags=["code"])
    def post(self, request: Request) -> Response:
        data = validated(s.CodeEditIn, request.data)
        code_validate(data["original_code"])
        session = self.analysis_session()
        edited = code_edit(session=session, user=request.user, code=data["original_code"], prompt=data["user_prompt"])
        return Response({"edited_code": f"\n{edited}\n"})


class CodeFixApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.CodeFixIn, responses=s.CodeFixOut, tags=["code"])
    def post(self, request: Request) -> Response:
        data = validated(s.CodeFixIn, request.data)
        code_validate(data["code"])
        session = self.analysis_session()
        user_id_assert_is_caller(user=request.user, user_id=request.query_params.get("user_id"))
        outcome = code_fix(session=session, user=request.user, code=data["code"], error=data["error"])
        body = {"fixed_code": outcome.code, "fixed": outcome.fixed, "attempts": len(outcome.attempts)}
        if not outcome.fixed:
            last = outcome.attempts[-1]["error"] if outcome.attempts else ""
            body["error"] = f"Could not fix the code in {len(outcome.attempts)} attempt(s). Last error: {last}"[:500]
        return Response(body)
