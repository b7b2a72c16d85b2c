"""Writes for usage accounting. Callers compute the cost (they own the price catalogue);
this module owns the rows and tells listeners about each one after it commits."""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction

from analytics.models import ModelUsage
from analytics.signals import model_usage_created


def model_usage_record(
    *,
    user,
    session_id: str,
    purpose: str,
    provider: str,
    model_name: str,
    prompt_tokens: int,
    completion_tokens: int,
    tokens_estimated: bool,
    cost: Decimal,
    request_time_ms: int,
    query_size: int = 0,
    response_size: int = 0,
    is_streaming: bool = False,
    agent_name: str = "",
    chat_id: int | None = None,
) -> ModelUsage:
    with transaction.atomic():
        usage = ModelUsage.objects.create(
            user=user if getattr(user, "is_authenticated", False) else None,
            chat_id=chat_id,
            session_id=session_id,
            purpose=purpose,
            agent_name=agent_name[:100],
            provider=provider,
            model_name=model_name,
            prompt_tokens=prompt_tokens,
            completion_tokens=completion_tokens,
            total_tokens=prompt_tokens + completion_tokens,
            tokens_estimated=tokens_estimated,
            cost=cost,
            request_time_ms=request_time_ms,
            query_size=query_size,
            response_size=response_size,
            is_streaming=is_streaming,
        )
        transaction.on_commit(lambda: model_usage_created.send(sender=ModelUsage, usage=usage))
    return usage


def model_usage_attach_message(*, usage_ids: list[int], message_id: int) -> None:
    """Link the usage of one answer to the message that holds it (known only at the end)."""
    if usage_ids:
        ModelUsage.objects.filter(pk__in=usage_ids, message__isnull=True).update(message_id=message_id)
