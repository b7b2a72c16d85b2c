"""A report's events as an NDJSON stream: what is stored after a sequence number, then
new events as the run stores them, until its final line. The stream reads the event
table, so it works from any web process, and a client that goes away stops only its
stream, never the run."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from deep_analysis.models import DeepAnalysisReport
from deep_analysis.selectors import report_events_after

POLL_SECONDS = 0.1
ORPHAN_CHECK_SECONDS = 5.0


def is_final(event: dict) -> bool:
    return event.get("type") == "error" or event.get("step") == "completed"


def _read(report_id: int, after: int) -> tuple[list[dict], bool]:
    try:
        events = report_events_after(report_id=report_id, sequence=after)
        exists = not events and DeepAnalysisReport.objects.filter(pk=report_id).exists()
        return events, bool(events) or exists
    finally:
        close_old_connections()


def _sweep() -> None:
    from deep_analysis.services import report_orphans_fail

    try:
        report_orphans_fail()
    finally:
        close_old_connections()


async def report_event_lines(*, report_id: int, after: int = 0) -> AsyncIterator[bytes]:
    last = after
    waited = 0.0
    while True:
        events, alive = await sync_to_async(_read, thread_sensitive=False)(report_id, last)
        if not alive:
            deleted = {"type": "error", "error": "The report was deleted.", "message": "The report was deleted."}
            yield (json.dumps(deleted) + "\n").encode()
            return
        for event in events:
            last = event["sequence"]
            yield (json.dumps(event, ensure_ascii=False) + "\n").encode()
            if is_final(event):
                return
        if not events:
            await asyncio.sleep(POLL_SECONDS)
            waited += POLL_SECONDS
            if waited >= ORPHAN_CHECK_SECONDS:  # a run whose process died gets its final line
                waited = 0.0
                await sync_to_async(_sweep, thread_sensitive=False)()
