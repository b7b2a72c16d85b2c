"""Keeps one sandbox server running beside the web process (the embedded setup).

A thread in the web process starts ``python -m codeexec.sandbox.server`` and restarts it
whenever it exits. Several web processes on one machine share one sandbox: a file lock
beside the socket decides which of them supervises it, and the others take over when
that one goes away. With SANDBOX_AUTOSTART=false the sandbox is started separately
(``manage.py run_sandbox``, the scale-out setup) and nothing here runs.
"""

from __future__ import annotations

import fcntl
import logging
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from django.conf import settings

logger = logging.getLogger(__name__)

_lock = threading.Lock()
_thread: threading.Thread | None = None


def sandbox_command() -> list[str]:
    return [
        sys.executable,
        "-m",
        "codeexec.sandbox.server",
        "--socket",
        str(settings.SANDBOX_SOCKET),
        "--isolation",
        settings.SANDBOX_ISOLATION,
        "--wall-seconds",
        str(settings.SANDBOX_WALL_SECONDS),
        "--cpu-seconds",
        str(settings.SANDBOX_CPU_SECONDS),
        "--memory-mb",
        str(settings.SANDBOX_MEMORY_MB),
        "--file-mb",
        str(settings.SANDBOX_FILE_MB),
        "--pool-size",
        str(settings.SANDBOX_POOL_SIZE),
        *(["--allow-weak-isolation"] if settings.SANDBOX_ALLOW_WEAK_ISOLATION else []),
    ]


def sandbox_environment() -> dict[str, str]:
    """Only what Python needs: no keys, no database URL, nothing from our environment."""
    return {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": str(settings.BASE_DIR)}


def _supervise(socket_path: Path) -> None:
    lock_path = socket_path.with_suffix(".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    with open(lock_path, "w") as lock_file:
        fcntl.flock(lock_file, fcntl.LOCK_EX)  # wait until no other process supervises
        backoff = 0.5
        while True:
            started = time.monotonic()
            process = subprocess.Popen(
                [*sandbox_command(), "--parent-pid", str(os.getpid())],
                cwd=settings.BASE_DIR,
                env=sandbox_environment(),
                stdin=subprocess.DEVNULL,
            )
            code = process.wait()
            logger.error("sandbox server exited with %s; restarting", code)
            backoff = 0.5 if time.monotonic() - started > 30 else min(backoff * 2, 10)
            time.sleep(backoff)


def ensure_started() -> None:
    """Start the supervising thread once per process (no-op when autostart is off)."""
    global _thread
    if not settings.SANDBOX_AUTOSTART:
        return
    with _lock:
        if _thread is not None and _thread.is_alive():
            return
        _thread = threading.Thread(
            target=_supervise, args=(Path(settings.SANDBOX_SOCKET),), name="sandbox-supervisor", daemon=True
        )
        _thread.start()
