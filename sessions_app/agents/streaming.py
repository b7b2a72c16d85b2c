"""Running an answer off the event loop: the work (ORM, language models, the sandbox) is
blocking, so it runs in a worker thread, and an async generator hands its events to the
response as they come. The server keeps serving other requests meanwhile, the first
line goes out as soon as it exists, and a client that disconnects stops the work at the
next step.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterator, Callable

from django.db import connections

from config.errors import ApplicationError

logger = logging.getLogger(__name__)

Work = Callable[[Callable[[dict], None], threading.Event], None]


def _in_worker(work: Callable[[], None]) -> None:
    try:
        work()
    finally:
        connections.close_all()  # this thread's connections only


async def ndjson_events(work: Work, *, on_error: Callable[[Exception], dict]) -> AsyncIterator[bytes]:
    """Run ``work(emit, cancelled)`` in a thread and yield each emitted event as a line."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[dict | None] = asyncio.Queue()
    cancelled = threading.Event()

    def emit(event: dict) -> None:
        loop.call_soon_threadsafe(queue.put_nowait, event)

    def run() -> None:
        try:
            work(emit, cancelled)
        except Exception as error:  # the stream has started: report in-band, never a traceback
            if not isinstance(error, ApplicationError):
                logger.exception("answer stream failed")
            emit(on_error(error))
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, None)

    threading.Thread(target=_in_worker, args=(run,), name="answer-stream", daemon=True).start()
    try:
        while (event := await queue.get()) is not None:
            yield (json.dumps(event, ensure_ascii=False) + "\n").encode()
    finally:
        cancelled.set()


class WorkTimeoutError(ApplicationError):
    status_code = 504
    code = "timeout"


def run_with_timeout(work: Callable[[threading.Event], object], *, seconds: float, message: str) -> object:
    """Run ``work(cancelled)`` in a thread; a 504 when it is not done in time.

    The thread cannot be killed; it is told to stop at its next step and its result is
    dropped.
    """
    cancelled = threading.Event()
    outcome: dict = {}
    done = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = work(cancelled)
        except BaseException as error:
            outcome["error"] = error
        finally:
            done.set()

    threading.Thread(target=_in_worker, args=(run,), name="answer", daemon=True).start()
    if not done.wait(seconds):
        cancelled.set()
        raise WorkTimeoutError(message)
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")
