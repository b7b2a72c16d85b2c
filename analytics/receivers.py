"""Signal receivers that turn committed rows into realtime events.

Other apps do not import analytics: usage rows announce themselves through
``analytics.signals.model_usage_created`` (sent after commit by the usage service), and
code executions and feedback are watched with ``post_save``, deferred to after their
transaction commits. A rolled-back save sends nothing. Failures are logged, never raised
into the request that saved the row.
"""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from analytics import realtime
from analytics.signals import model_usage_created
from chats.models import MessageFeedback
from codeexec.models import CodeExecution

logger = logging.getLogger(__name__)


def _safely(build, *args, **kwargs) -> None:
    try:
        realtime.broadcast(build(*args, **kwargs))
    except Exception:
        logger.exception("Could not build an analytics event")


@receiver(model_usage_created, dispatch_uid="analytics.usage_broadcast")
def usage_committed(sender, usage, **kwargs) -> None:
    _safely(realtime.usage_events, usage)
    if usage.user_id is not None:
        try:
            realtime.user_feed_schedule(usage)
        except Exception:
            logger.exception("Could not schedule the users feed")


@receiver(post_save, sender=CodeExecution, dispatch_uid="analytics.execution_broadcast")
def execution_saved(sender, instance: CodeExecution, created: bool, **kwargs) -> None:
    transaction.on_commit(lambda: _safely(realtime.code_execution_event, instance, created=created))


@receiver(post_save, sender=MessageFeedback, dispatch_uid="analytics.feedback_broadcast")
def feedback_saved(sender, instance: MessageFeedback, **kwargs) -> None:
    if instance.rating is not None:
        transaction.on_commit(lambda: _safely(realtime.feedback_event, instance))
