"""Work that must not hold up a request (naming a chat): in-process worker threads in the
embedded setup. ``BACKGROUND_TASKS_EAGER`` runs it inline (the tests)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)
_executor = ThreadPoolExecutor(max_workers=2, thread_name_prefix="background")


def _run(work: Callable[[], None]) -> None:
    try:
        work()
    except Exception:
        logger.exception("background task failed")
    finally:
        if not settings.BACKGROUND_TASKS_EAGER:
            connections.close_all()


def run_in_background(work: Callable[[], None]) -> None:
    if settings.BACKGROUND_TASKS_EAGER:
        _run(work)
    else:
        _executor.submit(_run, work)
