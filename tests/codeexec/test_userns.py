"""The ``userns`` level: a sandbox server started as an unprivileged user (nobody), which
isolates its children in user, mount, network and pid namespaces, must contain the
attack corpus of test_security.py as the root level does.

Starting a server as another user needs root; without it these tests skip, and the rest
of the suite already exercises the best level the host allows (``userns`` on a host
that allows unprivileged user namespaces). The level choice itself is tested in-process.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings

from codeexec.client import DatasetInput, SandboxOutcome, sandbox_info, sandbox_run
from codeexec.sandbox import isolation
from tests.codeexec.test_security import ATTACKS, CANARY_ENV, CANARY_FILE, SUCCEED_HARMLESSLY, outside_paths

UNPRIVILEGED_ID = 65534  # nobody
POOL_SIZE = 2
READY_SECONDS = 120
# Above the suite's 4 s: the CPU-limit test must spend its 2 s of CPU before the wall
# clock ends it, even when other work shares the machine's CPUs.
WALL_SECONDS = 6.0

# The corpus entries run here: every kind of wall (files, network, processes, signals,
# limits); the full corpus runs through the regular suite's server.
CORPUS_SUBSET = [
    "read /etc/passwd",
    "read project settings",
    "read canary file",
    "proc parent environ",
    "write /tmp",
    "write project dir",
    "write data dir",
    "socket to postgres",
    "socket to internet",
    "os system",
    "os fork",
    "fork bomb",
    "ctypes libc",
    "thread outlives run",
    "kill parent",
    "kill self",
    "setuid root",
    "raise own limits",
    "infinite loop",
    "sleep forever",
    "memory bomb",
    "huge scratch file",
    "signal handler for cpu limit",
]

# What only this level has to prove: its capabilities are gone, the server and the
# namespace's init are out of reach, and a directory anyone may write to on the host
# does not exist inside.
USERNS_ATTACKS = {
    "chroot escape": (
        "import os\nos.mkdir('x')\nos.chroot('x')\nos.chdir('../../../../..')\nos.chroot('.')\n"
        "print(open('{canary}').read())"
    ),
    "kill server pid": "import os, signal; os.kill({server_pid}, signal.SIGKILL)",
    "kill pid 1": "import os, signal; os.kill(1, signal.SIGKILL)",
    "write world-writable host dir": "open('{shared}/pwned-{tag}', 'w').write('x')",
}

NORMAL_RUN = "print(df.shape)"
NORMAL_OUTPUT = "(3, 2)\n"


@dataclass
class UserNamespaceServer:
    process: subprocess.Popen
    ready: dict
    socket_path: Path
    shared_dir: Path  # world-writable: the socket and the children's mount point
    data_dir: Path  # world-readable: the dataset and a canary only the chroot hides
    canary: Path


def _first_closed_directory(path: Path) -> Path | None:
    """The first directory on ``path`` that other users may not enter (pyenv's /root)."""
    for parent in reversed(path.parents):
        if not parent.stat().st_mode & 0o001:
            return parent
    return None


def _as_unprivileged(command: list[str], stage: Path) -> list[str]:
    """``command`` run as nobody, with no capabilities.

    When the interpreter lives in a directory nobody cannot enter (pyenv under /root),
    the command runs in a private mount namespace where that directory is a tmpfs
    holding only the interpreter's tree: our mounts stay out of the host's view.
    """
    setpriv = [
        "setpriv",
        f"--reuid={UNPRIVILEGED_ID}",
        f"--regid={UNPRIVILEGED_ID}",
        "--clear-groups",
        "--inh-caps=-all",
    ]
    interpreter = Path(sys.base_prefix).resolve()
    closed = _first_closed_directory(interpreter)
    if closed is None:
        return [*setpriv, *command]
    opening = (
        'set -e; mount --bind "$1/$2" "$3"; mount -t tmpfs -o mode=0755 tmpfs "$1"; '
        'mkdir "$1/$2"; mount --bind "$3" "$1/$2"; shift 3; exec "$@"'
    )
    step = interpreter.relative_to(closed).parts[0]
    stage.mkdir(exist_ok=True)
    unshare = ["unshare", "--mount", "--propagation", "private"]
    return [*unshare, "sh", "-c", opening, "sh", str(closed), step, str(stage), *setpriv, *command]


def _environment(shared_dir: Path) -> dict[str, str]:
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONPATH": str(settings.BASE_DIR),
        "PYTHONDONTWRITEBYTECODE": "1",  # the project is not nobody's to write
        "MPLCONFIGDIR": str(shared_dir / "matplotlib"),  # nobody's home does not exist
    }


def _server_command(socket_path: Path, isolation_level: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "codeexec.sandbox.server",
        "--socket",
        str(socket_path),
        "--isolation",
        isolation_level,
        "--wall-seconds",
        str(WALL_SECONDS),
        "--cpu-seconds",
        str(settings.SANDBOX_CPU_SECONDS),
        "--memory-mb",
        str(settings.SANDBOX_MEMORY_MB),
        "--file-mb",
        str(settings.SANDBOX_FILE_MB),
        "--pool-size",
        str(POOL_SIZE),
        "--parent-pid",
        str(os.getpid()),
    ]


def _require_root_and_tools() -> None:
    if os.geteuid() != 0:
        pytest.skip(
            "starting a sandbox server as another (unprivileged) user needs root; the rest of the "
            "suite already runs the best isolation level this host allows"
        )
    missing = [tool for tool in ("setpriv", "unshare") if shutil.which(tool) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} (util-linux) is not installed")


@pytest.fixture(scope="module")
def shared_dir():
    _require_root_and_tools()
    path = Path(tempfile.mkdtemp(prefix="analyst-userns-"))
    path.chmod(0o777)
    trial = subprocess.run(
        _as_unprivileged([sys.executable, "-c", "import pandas, codeexec.sandbox"], path / "stage"),
        cwd=settings.BASE_DIR,
        env=_environment(path),
        capture_output=True,
        text=True,
        timeout=READY_SECONDS,
    )
    if trial.returncode != 0:
        shutil.rmtree(path, ignore_errors=True)
        pytest.skip(f"the project's Python cannot run as nobody here: {trial.stderr.strip()[-500:]}")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def _read_line(process: subprocess.Popen, timeout: float) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline() if ready else ""


@pytest.fixture(scope="module")
def userns_server(shared_dir):
    data_dir = shared_dir / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    pd.DataFrame({"a": [1, 2, 3], "b": ["x", "y", "z"]}).to_parquet(data_dir / "df.parquet", index=False)
    canary = data_dir / "canary.txt"
    canary.write_text(CANARY_FILE)
    for file in data_dir.iterdir():
        file.chmod(0o644)  # nobody could read them: only the chroot keeps the runs out
    socket_path = shared_dir / "sandbox.sock"
    log = (shared_dir / "server.log").open("w")
    process = subprocess.Popen(
        _as_unprivileged(_server_command(socket_path, "userns"), shared_dir / "stage"),
        cwd=settings.BASE_DIR,
        env=_environment(shared_dir),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    line = _read_line(process, READY_SECONDS)
    if not line:
        process.kill()
        process.wait()
        log.close()
        pytest.fail(f"the userns sandbox server did not start: {(shared_dir / 'server.log').read_text()[-2000:]}")
    ready = json.loads(line)
    if ready.get("event") == "refused":
        process.wait()
        log.close()
        pytest.skip(f"this host does not allow unprivileged user namespaces (best level: {ready['available']})")
    yield UserNamespaceServer(process, ready, socket_path, shared_dir, data_dir, canary)
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    log.close()


@pytest.fixture
def server(userns_server, settings) -> UserNamespaceServer:
    """The client (sandbox_run, sandbox_info) talks to the userns server in this test."""
    settings.SANDBOX_SOCKET = str(userns_server.socket_path)
    settings.SANDBOX_AUTOSTART = False
    settings.SANDBOX_WALL_SECONDS = WALL_SECONDS  # the client's messages name the limit
    return userns_server


def run(server: UserNamespaceServer, code: str) -> SandboxOutcome:
    dataset = DatasetInput(name="df", path=str(server.data_dir / "df.parquet"))
    return sandbox_run(blocks=[{"name": "attack", "code": code}], datasets=[dataset])


def outcome_text(outcome: SandboxOutcome) -> str:
    parts = [outcome.failure or ""]
    for block in outcome.blocks:
        parts += [block.stdout, block.error or ""]
    return "\n".join(parts)


def test_server_and_children_report_the_userns_level(server):
    assert server.ready["level"] == "userns"
    info = sandbox_info()
    from codeexec.client import CONTAINMENT

    assert info == {
        "isolation": "userns",
        "weak": False,
        "landlock_abi": info["landlock_abi"],
        "seccomp": True,
        **CONTAINMENT["userns"],
        "server_pid": server.ready["pid"],
    }


def test_normal_run_works(server):
    outcome = run(server, NORMAL_RUN + "\nimport os\nprint(os.getuid(), os.getpid(), sorted(os.listdir('/')))")
    assert outcome.failure is None
    (block,) = outcome.blocks
    assert block.ok, block.error
    shape, identity = block.stdout.splitlines()
    assert shape + "\n" == NORMAL_OUTPUT
    # The server's uid, mapped to itself; pid 2 of the run's own pid namespace; a root
    # holding only the libraries, /dev basics and scratch.
    uid, pid, listing = identity.split(" ", 2)
    assert (int(uid), int(pid)) == (UNPRIVILEGED_ID, 2)
    assert "etc" not in listing and "proc" not in listing and "scratch" in listing


@pytest.mark.parametrize("name", CORPUS_SUBSET + list(USERNS_ATTACKS))
def test_attack_is_contained(server, name):
    tag = name.replace(" ", "-")
    template = ATTACKS.get(name) or USERNS_ATTACKS[name]
    code = template.format(
        tag=tag,
        base=settings.BASE_DIR,
        data=server.data_dir,
        canary=server.canary,
        shared=server.shared_dir,
        server_pid=server.ready["pid"],
    )
    started = time.monotonic()
    outcome = run(server, code)
    elapsed = time.monotonic() - started
    text = outcome_text(outcome)
    assert CANARY_ENV not in text
    assert CANARY_FILE not in text
    assert "root:x:0:0" not in text  # /etc/passwd
    for path in [*outside_paths(tag), server.data_dir / f"pwned-{tag}", server.shared_dir / f"pwned-{tag}"]:
        assert not path.exists(), f"{path} was written"
    assert elapsed < settings.SANDBOX_WALL_SECONDS + 10
    if name not in SUCCEED_HARMLESSLY:
        assert outcome.failure or not all(block.ok for block in outcome.blocks), text[:500]
    assert server.process.poll() is None, "the sandbox server died"
    after = run(server, NORMAL_RUN)
    assert after.failure is None
    assert [block.stdout for block in after.blocks] == [NORMAL_OUTPUT]


@pytest.mark.parametrize(
    ("code", "message"),
    [
        # SIGXCPU ends the runner, pid 2; its status passes through the namespace's init
        # and the warm child to the server.
        ("while True:\n    pass", "Execution stopped: it used more than 2 s of CPU time."),
        ("import time; time.sleep(600)", f"Execution stopped: it ran longer than the {WALL_SECONDS:g} s time limit."),
        ("import os, signal; os.kill(os.getpid(), signal.SIGKILL)", "Execution stopped: it was killed"),
        ("import os; os._exit(7)", "Execution crashed (exit status 7)."),
    ],
)
def test_limits_and_exits_keep_their_cause(server, code, message):
    assert run(server, code).failure.startswith(message)


def _parents() -> dict[int, int]:
    """pid -> parent pid of every live process (zombies count as gone)."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if state != "Z":
            parents[int(entry.name)] = int(parent)
    return parents


def _warm_chains(server_pid: int) -> dict[int, tuple[int, int]] | None:
    """Each warm child -> (its namespace's init, the runner), or None while one is not
    complete (being replaced)."""
    parents = _parents()
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    chains = {}
    for warm in children.get(server_pid, []):
        inits = children.get(warm, [])
        runners = children.get(inits[0], []) if len(inits) == 1 else []
        if len(runners) != 1:
            return None
        chains[warm] = (inits[0], runners[0])
    return chains if len(chains) == POOL_SIZE else None


def _wait_for(condition, seconds: float = 10.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.05)
    return condition()


def test_wall_clock_kill_takes_the_whole_namespace_down(server):
    server_pid = server.ready["pid"]
    before = _wait_for(lambda: _warm_chains(server_pid))
    assert before, "the pool of warm children did not fill"
    outcome = run(server, "import time; time.sleep(600)")
    assert outcome.failure.startswith("Execution stopped: it ran longer than")
    (used,) = [warm for warm in before if warm not in _parents()]
    init, runner = before[used]
    # The server killed only the warm child; its init follows by the parent-death signal
    # and the runner with the namespace.
    assert _wait_for(lambda: not {init, runner} & _parents().keys()), "the run outlived its warm child"


def test_unprivileged_server_refuses_namespaces(shared_dir):
    result = subprocess.run(
        _as_unprivileged(_server_command(shared_dir / "refused.sock", "namespaces"), shared_dir / "stage"),
        cwd=settings.BASE_DIR,
        env=_environment(shared_dir),
        capture_output=True,
        text=True,
        timeout=READY_SECONDS,
    )
    assert result.returncode != 0
    event = json.loads(result.stdout.splitlines()[0])
    assert (event["event"], event["wanted"]) == ("refused", "namespaces")
    assert event["available"] in ("process", "userns")
    assert f"isolation 'namespaces' is not available on this host (best: '{event['available']}')" in result.stderr


ALL_LEVELS = ("process", "userns", "namespaces")


@pytest.mark.parametrize(
    ("wanted", "available", "chosen"),
    [
        ("auto", ("process", "userns"), "userns"),
        ("auto", ALL_LEVELS, "namespaces"),
        ("process", ALL_LEVELS, "process"),
        ("userns", ("process", "userns"), "userns"),
        ("userns", ALL_LEVELS, "userns"),
        ("namespaces", ALL_LEVELS, "namespaces"),
    ],
)
def test_choose_level(wanted, available, chosen):
    assert isolation.choose_level(wanted, available) == chosen


@pytest.mark.parametrize(
    ("wanted", "available", "best"),
    [
        ("userns", ("process",), "process"),
        ("namespaces", ("process",), "process"),
        ("namespaces", ("process", "userns"), "userns"),
    ],
)
def test_choose_level_refuses_less_than_wanted(wanted, available, best):
    with pytest.raises(isolation.IsolationRefusedError, match=f"best: '{best}'"):
        isolation.choose_level(wanted, available)


def test_auto_refuses_the_process_level_unless_allowed():
    with pytest.raises(isolation.IsolationRefusedError, match="SANDBOX_ALLOW_WEAK_ISOLATION=true"):
        isolation.choose_level("auto", ("process",))
    assert isolation.choose_level("auto", ("process",), allow_weak=True) == "process"
    assert isolation.choose_level("process", ("process",)) == "process"  # asked for by name


def test_levels_are_ordered_weakest_first():
    assert isolation.LEVELS == ALL_LEVELS
