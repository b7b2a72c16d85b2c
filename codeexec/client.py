"""The web process's side of the sandbox: send blocks and dataset paths, get results.

Every sandbox failure becomes an ApplicationError: a 503 when the sandbox is not there
or died mid-request (it is restarted), and an in-band error (not an HTTP error) when the
user's code hit a limit, since that is an answer about the code.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.conf import settings
from django.core.cache import cache

from codeexec import supervisor
from codeexec.sandbox import names, protocol, relay
from config.errors import ApplicationError

CONNECT_WAIT_SECONDS = 45.0  # a sandbox starting on a loaded machine can take 20 s and more
# What the sandbox server forwards (it validated every frame; these bound the reading
# again, so no frame is ever buffered beyond its cap here).
FRAME_CAPS = {kind: cap for kind, cap in relay.CLIENT_FRAME_CAPS.items() if kind != b"P"}


class SandboxUnavailableError(ApplicationError):
    status_code = 503
    code = "sandbox_unavailable"


class SandboxBusyError(ApplicationError):
    """Every run slot (global or the caller's) stayed taken for SANDBOX_QUEUE_SECONDS."""

    status_code = 429
    code = "sandbox_busy"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, extra={"retry_after": retry_after})
        self.retry_after = retry_after


SLOT_POLL_SECONDS = 0.05


def _slots_prefix() -> str:
    # Slots protect one sandbox server (each worker machine has its own), so its counters
    # are named after that server's socket: processes sharing a cache but not a sandbox
    # (other machines, other test runs on one Redis) never take each other's slots.
    server = f"{socket.gethostname()}:{settings.SANDBOX_SOCKET}"
    return "codeexec:runs:" + hashlib.sha256(server.encode()).hexdigest()[:16]


def _slot_ttl() -> int:
    # A slot whose holder died is freed when its counter expires; every run ends within
    # the wall limit plus the time to report, well inside this.
    return int(settings.SANDBOX_WALL_SECONDS + 60)


def _take(key: str, limit: int) -> bool:
    """Take one of ``limit`` slots counted under ``key`` in the cache (atomic with Redis)."""
    for _ in range(3):
        cache.add(key, 0, _slot_ttl())
        try:
            taken = cache.incr(key)
        except ValueError:  # expired between add and incr
            continue
        if taken <= limit:
            cache.touch(key, _slot_ttl())
            return True
        _give(key)
        return False
    return False


def _give(key: str) -> None:
    with contextlib.suppress(ValueError):
        if cache.decr(key) < 0:
            cache.set(key, 0, _slot_ttl())


def caller_key(*, user: object, session_id: str) -> str:
    """Whom the per-caller cap counts: a signed-in user across sessions, else the session."""
    if getattr(user, "is_authenticated", False):
        return f"user:{user.pk}"
    return f"session:{session_id}"


@contextlib.contextmanager
def run_slot(caller: str | None) -> Iterator[None]:
    """Hold a global run slot and one of the caller's for the block; wait briefly for
    them, then refuse with 429 (``Retry-After``) rather than pile runs onto the machine."""
    caller_key = f"{_slots_prefix()}:caller:{caller}" if caller else None
    global_key = f"{_slots_prefix()}:global"
    deadline = time.monotonic() + settings.SANDBOX_QUEUE_SECONDS
    while True:
        if caller_key is None or _take(caller_key, settings.SANDBOX_MAX_RUNS_PER_CALLER):
            if _take(global_key, settings.SANDBOX_MAX_CONCURRENT_RUNS):
                break
            if caller_key is not None:
                _give(caller_key)
        if time.monotonic() >= deadline:
            retry_after = max(1, math.ceil(settings.SANDBOX_WALL_SECONDS / 4))
            raise SandboxBusyError(
                "Too many code runs are in progress (at most "
                f"{settings.SANDBOX_MAX_RUNS_PER_CALLER} per caller and {settings.SANDBOX_MAX_CONCURRENT_RUNS} "
                f"in all). Try again in {retry_after} s.",
                retry_after=retry_after,
            )
        time.sleep(SLOT_POLL_SECONDS)
    try:
        yield
    finally:
        _give(global_key)
        if caller_key is not None:
            _give(caller_key)


@dataclass(frozen=True)
class DatasetInput:
    name: str
    path: str


@dataclass
class SavedDataset:
    name: str
    description: str
    data: bytes


@dataclass
class BlockOutcome:
    name: str
    ok: bool
    stdout: str
    error: str | None
    plotly: list[str]
    matplotlib: list[str]


@dataclass
class SandboxOutcome:
    blocks: list[BlockOutcome] = field(default_factory=list)
    saved: list[SavedDataset] = field(default_factory=list)
    duration_ms: float = 0.0
    wall_ms: float = 0.0
    # Set when the run as a whole was stopped (time or memory limit, crash).
    failure: str | None = None


def _connect() -> socket.socket:
    path = str(settings.SANDBOX_SOCKET)
    deadline = time.monotonic() + CONNECT_WAIT_SECONDS
    started_supervisor = False
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.connect(path)
            return sock
        except OSError:
            sock.close()
            if not started_supervisor:
                supervisor.ensure_started()
                started_supervisor = True
            if time.monotonic() > deadline or not settings.SANDBOX_AUTOSTART:
                raise SandboxUnavailableError(
                    "The code sandbox is not running. It restarts by itself in the embedded setup; "
                    "in the scale-out setup start it with `manage.py run_sandbox`."
                ) from None
            time.sleep(0.1)


def _complete(result: dict | None, attachments: list[bytes]) -> bool:
    if not isinstance(result, dict) or "fatal" in result:
        return False
    saved = result.get("saved")
    return len(attachments) >= (len(saved) if isinstance(saved, list) else 0)


def _exchange(request: dict) -> tuple[list[dict], dict | None, list[bytes], dict]:
    sock = _connect()
    sock.settimeout(settings.SANDBOX_WALL_SECONDS + 15)
    blocks: list[dict] = []
    result: dict | None = None
    attachments: list[bytes] = []
    status: dict | None = None
    received = 0
    try:
        protocol.send_json(sock, b"Q", request)
        while True:
            frame = protocol.recv_frame(sock, caps=FRAME_CAPS)
            if frame is None:
                break
            kind, payload = frame
            received += len(payload)
            if received > relay.MAX_RUN_BYTES:
                raise protocol.ProtocolError("the run's output is over its total size limit")
            if kind == b"B":
                blocks.append(json.loads(payload))
            elif kind == b"R" and result is None:
                result = json.loads(payload)
            elif kind == b"A":
                attachments.append(payload)
            elif kind == b"S":
                status = json.loads(payload)
                break
            if _complete(result, attachments):
                # The child finished its run; its exit status adds nothing, so do not
                # wait for the server to reap it.
                status = {"exit_code": 0, "timed_out": False}
                break
    except (OSError, protocol.ProtocolError, ValueError) as error:
        if status is None and result is None and not blocks:
            raise SandboxUnavailableError(
                f"The sandbox stopped while running this code ({type(error).__name__}); it is being restarted. "
                "Try again."
            ) from None
    finally:
        sock.close()
    if status is None:
        raise SandboxUnavailableError("The sandbox stopped while running this code; it is being restarted. Try again.")
    return blocks, (result if isinstance(result, dict) else None), attachments, status


def _failure_message(status: dict) -> str:
    code = status.get("exit_code")
    if status.get("violation"):
        return f"Execution stopped: {_text(status['violation'])[:500]}."
    if status.get("timed_out"):
        return f"Execution stopped: it ran longer than the {settings.SANDBOX_WALL_SECONDS:g} s time limit."
    if code == -24:  # SIGXCPU
        return f"Execution stopped: it used more than {settings.SANDBOX_CPU_SECONDS} s of CPU time."
    if code == -25:  # SIGXFSZ
        return f"Execution stopped: it wrote a file larger than {settings.SANDBOX_FILE_MB} MB."
    if code == -9:
        return "Execution stopped: it was killed (most likely it ran out of memory)."
    if code == 0:
        return "Execution ended without reporting a result (the code exited the interpreter)."
    return f"Execution crashed (exit status {code})."


def _text(value: object) -> str:
    """Text the child sent, made valid Unicode: code can print lone surrogates (for example
    from ``errors="surrogateescape"`` decoding), which JSON carries but nothing later can encode."""
    return str(value).encode("utf-8", "replace").decode("utf-8")


def _block(item: object) -> BlockOutcome | None:
    if not isinstance(item, dict):
        return None
    return BlockOutcome(
        name=_text(item.get("name")),
        ok=item.get("ok") is True,
        stdout=_text(item.get("stdout") or ""),
        error=_text(item["error"]) if item.get("error") else None,
        plotly=[_text(f) for f in item.get("plotly") or [] if isinstance(f, str)],
        matplotlib=[f for f in item.get("matplotlib") or [] if isinstance(f, str)],
    )


def sandbox_run(*, blocks: list[dict], datasets: list[DatasetInput], caller: str | None = None) -> SandboxOutcome:
    """Run ``blocks`` ([{name, code}]) with ``datasets`` loaded under their names, within
    the global and ``caller``'s concurrency caps (``run_slot``)."""
    request = {"blocks": blocks, "datasets": [{"name": d.name, "path": d.path} for d in datasets]}
    with run_slot(caller):
        block_items, result, attachments, status = _exchange(request)
    outcome = SandboxOutcome(
        blocks=[b for b in map(_block, block_items) if b is not None], wall_ms=float(status.get("wall_ms") or 0)
    )
    if status.get("violation"):
        # The run broke the protocol: none of what it sent counts, not even blocks that
        # passed the checks before the violation (the user's code may have forged them).
        outcome.blocks, outcome.failure = [], _failure_message(status)
        return outcome
    if result is None or "fatal" in result:
        if result and "fatal" in result:
            outcome.failure = f"The sandbox could not run the code: {result['fatal']}"
        else:
            outcome.failure = _failure_message(status)
        return outcome
    outcome.duration_ms = float(result.get("duration_ms") or 0)
    names_seen: set[str] = set()
    for item in (result.get("saved") or [])[: relay.MAX_SAVED_DATASETS]:
        index = item.get("attachment") if isinstance(item, dict) else None
        name = item.get("name") if isinstance(item, dict) else None
        if names.dataset_name_problem(name) or name in names_seen:
            continue  # the server refuses these; never store one
        if isinstance(index, int) and 0 <= index < len(attachments):
            names_seen.add(name)
            outcome.saved.append(
                SavedDataset(
                    name=name, description=relay.plain_description(item.get("description")), data=attachments[index]
                )
            )
    if status.get("exit_code") not in (0, None) or status.get("timed_out") or status.get("violation"):
        outcome.failure = _failure_message(status)
    return outcome


# What each level contains, for /api/health and the README (which say the same).
CONTAINMENT = {
    "namespaces": {
        "contains": [
            "files: a private read-only root with only Python and system libraries, plus a size-limited scratch",
            "network: none (own network namespace, loopback down)",
            "other processes: a unique unprivileged uid per run, no capabilities",
        ],
        "does_not_contain": ["CPU and memory pressure beyond the per-run limits (bounded by the run caps)"],
    },
    "userns": {
        "contains": [
            "files: a private read-only root, as at 'namespaces'",
            "network: none (own network namespace)",
            "other processes: an own pid namespace, no capabilities",
        ],
        "does_not_contain": ["runs share the server's uid (kept apart by the pid namespace and Landlock)"],
    },
    "process": {
        "contains": [
            "files: Landlock (when the kernel has it) and the audit hook allow only the libraries and scratch",
            "network, exec, ptrace, pidfds: refused by seccomp and the audit hook",
        ],
        "does_not_contain": [
            "no private root: without Landlock, native code (C extensions) can read any file the server's user can",
            "no network namespace: without Landlock/seccomp, native code could reach local services",
            "runs share the server's uid and see its other processes",
        ],
    },
}


def sandbox_info() -> dict:
    """A round trip through a real child: proves the sandbox works and names its level."""
    _, result, _, _ = _exchange({"kind": "info"})
    if not result or result.get("level") not in CONTAINMENT:
        raise SandboxUnavailableError("The sandbox did not answer.")
    level = result["level"]
    return {
        "isolation": level,
        "weak": level == "process",
        "landlock_abi": result.get("landlock", 0),
        "seccomp": result.get("seccomp") is True,
        **CONTAINMENT[level],
        "server_pid": result.get("pid"),
    }
