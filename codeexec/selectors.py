"""Reads of code executions, always scoped to the caller."""

from __future__ import annotations

from django.db.models import QuerySet

from codeexec.models import CodeExecution


def code_executions_for(*, user, session_id: str) -> QuerySet[CodeExecution]:
    """The caller's executions: by user when authenticated, else by the (anonymous) session."""
    if getattr(user, "is_authenticated", False):
        return CodeExecution.objects.filter(user=user)
    return CodeExecution.objects.filter(user__isnull=True, session_id=session_id)


def code_execution_latest_for(*, message_id: int, user, session_id: str) -> CodeExecution | None:
    return code_executions_for(user=user, session_id=session_id).filter(message_id=message_id).first()
