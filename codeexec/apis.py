"""``/code/*`` routes (reference §1.5). The session and its datasets come from
sessions_app (the HTTP layer is the one place codeexec meets another app)."""

from __future__ import annotations

import json

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from chats.selectors import message_get_for_caller
from codeexec import serializers as s
from codeexec.blocks import clean_code
from codeexec.client import caller_key
from codeexec.selectors import code_execution_latest_for
from codeexec.services import ExecutionContext, code_execution_record, code_run, code_validate
from sessions_app.apis import SESSION_PARAMETERS, SessionAPIView, validated
from sessions_app.services import datasets_save_from_sandbox, session_dataset_inputs, session_message_info_set


class CodeExecuteApi(SessionAPIView):
    @extend_schema(
        parameters=SESSION_PARAMETERS,
        request=s.ExecuteIn,
        responses={200: s.ExecuteOut, **{status: s.CodeErrorOut for status in (400, 404, 413, 429, 503)}},
        tags=["code"],
    )
    def post(self, request: Request) -> Response:
        data = validated(s.ExecuteIn, request.data)
        code_validate(data["code"])
        session = self.analysis_session()
        message_id = data.get("message_id")
        if message_id is not None:
            # Only a message of the caller's own chats (404 otherwise, as for any message).
            message = message_get_for_caller(message_id=message_id, user=request.user, session_id=session.pk)
            session_message_info_set(session=session, chat_id=message.chat_id, message_id=message.pk)
        else:
            message_id = session.current_message_id
        caller = caller_key(user=request.user, session_id=session.pk)
        result = code_run(code=data["code"], datasets=session_dataset_inputs(session=session), caller=caller)
        saved = datasets_save_from_sandbox(session=session, saved=result.saved)
        execution = code_execution_record(
            code=data["code"],
            result=result,
            context=ExecutionContext(
                user=request.user,
                session_id=session.pk,
                chat_id=session.current_chat_id,
                message_id=message_id,
                model_provider=session.model_provider,
                model_name=session.model_name,
                temperature=session.temperature,
                max_tokens=session.max_tokens,
            ),
        )
        return Response(
            {
                "output": result.output,
                "plotly_outputs": result.plotly_outputs,
                "matplotlib_outputs": result.matplotlib_outputs,
                "is_successful": result.is_successful,
                "failed_agents": json.dumps(result.failed_agents) if result.failed_agents else None,
                "saved_datasets": [dataset.name for dataset in saved],
                "execution_id": execution.pk,
            }
        )


class CleanCodeApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.CleanCodeIn, responses=s.CleanCodeOut, tags=["code"])
    def post(self, request: Request) -> Response:
        data = validated(s.CleanCodeIn, request.data)
        code_validate(data["code"])
        self.analysis_session()
        return Response({"cleaned_code": clean_code(data["code"])})


class LatestCodeApi(SessionAPIView):
    @extend_schema(parameters=SESSION_PARAMETERS, request=s.LatestCodeIn, responses=s.LatestCodeOut, tags=["code"])
    def post(self, request: Request) -> Response:
        data = validated(s.LatestCodeIn, request.data)
        session = self.analysis_session()
        execution = code_execution_latest_for(message_id=data["message_id"], user=request.user, session_id=session.pk)
        if execution is None:
            return Response({"found": False, "message_id": data["message_id"]})
        return Response(
            {
                "found": True,
                "message_id": data["message_id"],
                "latest_code": execution.latest_code,
                "initial_code": execution.initial_code,
                "is_successful": execution.is_successful,
                "failed_agents": json.dumps(execution.failed_agents) if execution.failed_agents else None,
            }
        )
