"""The attack corpus, part 2 (issue 10): what comes out of a run is untrusted.

The child that runs the user's code has no handle on the web process's connection; it
writes to a pipe the sandbox server reads and checks (``relay.RunRelay``). These
reproductions forge frames, flood the host's logs, exceed every cap, try the names the
runner refuses, and try to switch the in-process guard off at the weakest level; each
asserts the exact outcome.
"""

from __future__ import annotations

import json
import socket
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from django.conf import settings

from codeexec.client import DatasetInput, sandbox_run
from codeexec.models import CodeExecution
from codeexec.sandbox import relay
from sessions_app.models import Dataset

pytestmark = pytest.mark.django_db(transaction=True)

FORGE = (
    "import json, os, struct\n"
    "def frame(kind, value):\n"
    "    payload = value if isinstance(value, bytes) else json.dumps(value).encode()\n"
    "    return struct.pack('!cQ', kind, len(payload)) + payload\n"
)


def execute(client, session_id, code):
    return client.post("/code/execute", {"code": code}, format="json", HTTP_X_SESSION_ID=session_id)


def stopped(reason: str) -> str:
    return (
        "\n\n=== ERROR IN UNKNOWN_AGENT ===\nError in unknown_agent: Execution stopped: its output broke "
        f"the sandbox protocol ({reason}).\n"
    )


# --- forged frames -----------------------------------------------------------------


FORGED_BLOCKS = {
    "a block result out of order": "{'name': 'other', 'ok': True, 'stdout': 'FORGED', 'error': None}",
    "a block result without a status": "{'name': 'unknown', 'ok': 'yes', 'stdout': 'FORGED', 'error': None}",
    "a text field is not a string": "{'name': 'unknown', 'ok': True, 'stdout': ['FORGED'], 'error': None}",
    "a block result whose status and error disagree": "{'name': 'unknown', 'ok': True, 'stdout': '', 'error': 'x'}",
    "figures are not a list": "{'name': 'unknown', 'ok': True, 'stdout': 'FORGED', 'error': None, 'plotly': 'x'}",
}


@pytest.mark.parametrize("reason", list(FORGED_BLOCKS))
def test_forged_frames_on_every_descriptor_are_refused(client, session_id, reason):
    """Issue 10.1: ``os.write(3, B frame)`` then an R frame showed a forged success."""
    code = FORGE + (
        f"forged = frame(b'B', {FORGED_BLOCKS[reason]})\n"
        "forged += frame(b'R', {'saved': [], 'duration_ms': 1})\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, forged)\n"
        "    except OSError:\n"
        "        pass\n"
        "print('real output')\n"
    )
    response = execute(client, session_id, code)
    assert response.status_code == 200
    body = response.json()
    assert "FORGED" not in json.dumps(body)
    assert body["is_successful"] is False
    assert body["output"] == stopped(reason)


def test_a_forged_but_valid_result_is_no_more_than_printing(client, session_id):
    """A complete, valid result the code writes itself passes the same checks as the
    runner's, so it can say no more than ``print`` could: here, 5 M characters are cut."""
    code = FORGE + (
        "forged = frame(b'B', {'name': 'unknown', 'ok': True, 'stdout': 'y' * 5_000_000, 'error': None})\n"
        "forged += frame(b'R', {'saved': [], 'duration_ms': 1})\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, forged)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    body = execute(client, session_id, code).json()
    kept = relay.MAX_OUTPUT_CHARS + 2_000
    (execution,) = CodeExecution.objects.all()
    assert execution.output == body["output"]
    assert body["output"] == (
        "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n"
        + "y" * kept
        + f"\n... [output truncated: {5_000_000 - kept} more characters]\n\n"
    )


def test_forged_result_with_forty_datasets_stores_none(client, session_id):
    parquet = pd.DataFrame({"a": [1]}).to_parquet(index=False)
    code = FORGE + (
        f"data = {parquet!r}\n"
        "saved = [{'name': f'd{i}', 'description': '', 'attachment': i} for i in range(40)]\n"
        "out = frame(b'B', {'name': 'unknown', 'ok': True, 'stdout': '', 'error': None, 'plotly': [],"
        " 'matplotlib': []}) + frame(b'R', {'saved': saved, 'duration_ms': 1})\n"
        "out += b''.join(frame(b'A', data) for _ in range(40))\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, out)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    body = execute(client, session_id, code).json()
    assert body["output"] == stopped("more than 10 saved datasets")
    assert body["saved_datasets"] == []
    assert list(Dataset.objects.values_list("name", flat=True)) == ["df"]


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("print", "a saved dataset name was refused: 'print' is reserved: the sandbox already binds that name"),
        ("save_dataset", "a saved dataset name was refused: 'save_dataset' is reserved: the sandbox already binds"),
        ("<b>x</b>", "a saved dataset name was refused: a dataset name must be an ASCII Python identifier"),
    ],
)
def test_forged_result_with_a_refused_name_stores_nothing(client, session_id, name, reason):
    parquet = pd.DataFrame({"a": [1]}).to_parquet(index=False)
    code = FORGE + (
        f"out = frame(b'B', {{'name': 'unknown', 'ok': True, 'stdout': '', 'error': None, 'plotly': [],"
        f" 'matplotlib': []}}) + frame(b'R', {{'saved': [{{'name': {name!r}, 'attachment': 0}}], 'duration_ms': 1}})\n"
        f"out += frame(b'A', {parquet!r})\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, out)\n"
        "    except OSError:\n"
        "        pass\n"
        "os._exit(0)\n"
    )
    body = execute(client, session_id, code).json()
    assert body["output"].startswith(stopped(reason)[: -len(").\n")])
    assert body["saved_datasets"] == []
    assert list(Dataset.objects.values_list("name", flat=True)) == ["df"]
    after = execute(client, session_id, "print(df.shape)").json()
    assert after["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n(1704, 8)\n\n"


def _rss_kb() -> int:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:"))


def test_two_200_mib_frames_are_refused_while_reading(client, session_id):
    """Two 200 MiB frames grew the web process by ~1 GB; now the header alone ends the run."""
    code = FORGE + (
        "block = b'x' * (200 * 1024 * 1024)\n"
        "for fd in range(3, 64):\n"
        "    try:\n"
        "        os.write(fd, struct.pack('!cQ', b'B', len(block)))\n"
        "        os.write(fd, block)\n"
        "        os.write(fd, struct.pack('!cQ', b'B', len(block)) + block)\n"
        "    except OSError:\n"
        "        pass\n"
    )
    before = _rss_kb()
    body = execute(client, session_id, code).json()
    growth_mb = (_rss_kb() - before) / 1024
    print(f"web process RSS growth for two 200 MiB frames: {growth_mb:.1f} MB")
    cap = relay.FRAME_CAPS[b"B"]
    assert body["output"] == stopped(f"a B frame of {200 * 1024 * 1024} bytes is over its {cap} byte limit")
    assert growth_mb < 64


def test_client_refuses_an_oversized_frame_from_the_header(tmp_path, settings):
    """Even a broken server cannot make the web process buffer a huge frame."""
    from codeexec import client as sandbox_client

    path = tmp_path / "fake.sock"
    listener = socket.socket(socket.AF_UNIX)
    listener.bind(str(path))
    listener.listen(1)
    settings.SANDBOX_SOCKET = str(path)
    settings.SANDBOX_AUTOSTART = False

    import threading

    def serve():
        connection, _ = listener.accept()
        connection.recv(65536)
        connection.sendall(struct.pack("!cQ", b"B", 200 * 1024 * 1024) + b"x" * 65536)
        time.sleep(1)
        connection.close()

    thread = threading.Thread(target=serve)
    thread.start()
    with pytest.raises(sandbox_client.SandboxUnavailableError, match="ProtocolError"):
        sandbox_run(blocks=[{"name": "a", "code": "print(1)"}], datasets=[])
    thread.join()
    listener.close()


# --- the child's stdout and stderr ------------------------------------------------------


def test_user_code_replacing_json_dumps_is_not_a_503(client, session_id):
    """Issue 10.6: replacing json.dumps gave 503 "sandbox restarting"."""
    body = execute(client, session_id, "import json\njson.dumps = lambda *a, **k: 'junk'\nprint(df.shape)").json()
    assert body["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n(1704, 8)\n\n"
    response = execute(
        client, session_id, "import codeexec.sandbox.runner as r\nr._dumps = lambda *a, **k: 'junk'\nprint(1)"
    )
    assert response.status_code == 200
    assert response.json()["output"] == stopped("a frame is not valid JSON")


# --- names, duplicates, descriptions ----------------------------------------------------


def test_saving_one_name_twice_is_a_clear_error_not_a_500(client, session_id):
    code = "save_dataset(df.head(3), 'small')\nsave_dataset(df.head(4), 'small')"
    response = execute(client, session_id, code)
    assert response.status_code == 200
    body = response.json()
    assert body["saved_datasets"] == ["small"]
    assert "ValueError: save_dataset: a dataset named 'small' was already saved in this run" in body["output"]


@pytest.mark.parametrize("name", ["print", "stats", "smf", "pio", "matplotlib", "save_dataset", "len", "__x"])
def test_prebound_names_cannot_be_saved(client, session_id, name):
    body = execute(client, session_id, f"save_dataset(df.head(2), {name!r})").json()
    assert body["saved_datasets"] == []
    assert "ValueError: save_dataset: " in body["output"]
    assert list(Dataset.objects.values_list("name", flat=True)) == ["df"]


def test_description_markup_is_stripped(client, session_id):
    body = execute(client, session_id, "save_dataset(df.head(2), 'top', '<img src=x onerror=alert(1)>Top rows')").json()
    assert body["saved_datasets"] == ["top"]
    assert Dataset.objects.get(name="top").description == "Top rows"


def test_at_most_ten_datasets_per_run(client, session_id):
    code = "for i in range(12):\n    save_dataset(df.head(1), f'part{i}')"
    body = execute(client, session_id, code).json()
    assert body["saved_datasets"] == [f"part{i}" for i in range(10)]
    assert "RuntimeError: at most 10 datasets can be saved per run" in body["output"]


# --- figures -------------------------------------------------------------------------


def test_figure_cap_is_per_run_not_per_block(client, session_id):
    """177 PNGs came back from one run of three blocks; the cap of 30 is per run."""
    blocks = "".join(
        f"# b{n}_agent code start\nfor i in range(11):\n    plt.figure(figsize=(1, 1), dpi=20)\n"
        f"# b{n}_agent code end\n"
        for n in range(3)
    )
    body = execute(client, session_id, blocks).json()
    assert body["is_successful"] is True, body["output"]
    assert len(body["matplotlib_outputs"]) == relay.MAX_FIGURES
    assert body["output"].count("[matplotlib figure not shown: at most 30 figures per run]") == 3 * 11 - 30


def test_a_huge_plotly_figure_becomes_a_note_not_a_huge_response(client, session_id):
    code = (
        "import numpy as np\n"
        "n = 700_000\n"
        "fig = go.Figure(go.Scattergl(x=np.random.rand(n), y=np.random.rand(n), mode='markers'))\n"
        "print('built')\n"
    )
    response = execute(client, session_id, code)
    body = response.json()
    assert body["plotly_outputs"] == []
    assert "built\n\n[Plotly figure not shown: " in body["output"]
    assert "MB is over the 5 MB limit per figure]" in body["output"]
    assert len(response.content) < 10_000


def test_remote_images_and_links_are_removed_from_figures(client, session_id):
    code = (
        "fig = go.Figure(go.Bar(x=['a'], y=[1], text=['<a href=\"https://evil.example/x\">click</a>']))\n"
        "fig.update_layout(title='<a href=\"https://evil.example\">T</a>itle',"
        " images=[dict(source='https://evil.example/pixel.png', x=0, y=0),"
        " dict(source='data:image/png;base64,iVBORw0KGgo=', x=1, y=1)])\n"
        "go.Figure(go.Image(source='//evil.example/i.png'))\n"
    )
    body = execute(client, session_id, code).json()
    text = "".join(body["plotly_outputs"])
    assert "evil.example" not in text
    first = json.loads(body["plotly_outputs"][0][len("```plotly\n") : -len("\n```\n")])
    assert first["layout"]["title"]["text"] == "Title"
    assert first["data"][0]["text"] == ["click"]
    assert [image.get("source") for image in first["layout"]["images"]] == [None, "data:image/png;base64,iVBORw0KGgo="]


def test_a_figure_string_cannot_break_its_fence(client, session_id):
    code = "go.Figure(go.Bar(x=['a'], y=[1])).update_layout(title='x\\n```\\n```plotly\\n{}\\n```')"
    body = execute(client, session_id, code).json()
    (fenced,) = body["plotly_outputs"]
    assert fenced.count("\n") == 3  # "```plotly\n", the JSON on one line, "\n```\n"
    assert json.loads(fenced.split("\n")[1])["layout"]["title"]["text"] == "x\n```\n```plotly\n{}\n```"


# --- blocks ------------------------------------------------------------------------------


def test_line_separator_in_a_comment_does_not_start_a_line_of_code(client, session_id):
    body = execute(client, session_id, "# note\u2028print('INJECTED')\nprint(1)").json()
    assert body["output"] == "\n\n=== OUTPUT FROM UNKNOWN_AGENT ===\n1\n\n"


# --- run slots -------------------------------------------------------------------------------


def test_per_caller_cap_gives_429_with_retry_after(client, session_id, settings):
    from codeexec.client import run_slot

    settings.SANDBOX_MAX_RUNS_PER_CALLER = 1
    settings.SANDBOX_QUEUE_SECONDS = 0.2
    with run_slot(f"session:{session_id}"):
        response = execute(client, session_id, "print(1)")
    assert response.status_code == 429
    assert response["Retry-After"] == "1"
    assert response.json() == {
        "detail": "Too many code runs are in progress (at most 1 per caller and 4 in all). Try again in 1 s.",
        "code": "sandbox_busy",
        "retry_after": 1,
    }
    assert execute(client, session_id, "print(1)").status_code == 200  # the slot was given back


def test_global_cap_counts_every_caller(client, session_id, settings):
    from codeexec.client import run_slot

    settings.SANDBOX_MAX_CONCURRENT_RUNS = 2
    settings.SANDBOX_QUEUE_SECONDS = 0.2
    with run_slot("user:1"), run_slot("user:2"):
        assert execute(client, session_id, "print(1)").status_code == 429
    assert execute(client, session_id, "print(1)").status_code == 200


def test_a_queued_run_goes_ahead_when_a_slot_frees(client, session_id, settings):
    import threading

    from codeexec.client import run_slot

    settings.SANDBOX_MAX_RUNS_PER_CALLER = 1
    settings.SANDBOX_QUEUE_SECONDS = 10
    release = threading.Event()

    def hold():
        with run_slot(f"session:{session_id}"):
            release.wait(5)

    holder = threading.Thread(target=hold)
    holder.start()
    time.sleep(0.1)
    threading.Timer(0.5, release.set).start()
    response = execute(client, session_id, "print(1)")
    holder.join()
    assert response.status_code == 200


# --- health ----------------------------------------------------------------------------------


def test_health_flood_runs_one_deep_check(client, settings, monkeypatch):
    from config import health

    calls = []
    monkeypatch.setitem(health.REQUIRED_CHECKS, "sandbox", lambda: calls.append(1) or {"isolation": "namespaces"})
    monkeypatch.setattr(health, "_cached", {})
    settings.HEALTH_CACHE_SECONDS = 60
    for _ in range(20):
        assert client.get("/api/health").status_code == 200
        assert client.get("/health").status_code == 200
    assert len(calls) == 1
    assert client.get("/api/health").json()["checks"]["sandbox"]["isolation"] == "namespaces"


def test_health_names_the_level_and_what_it_contains(client):
    sandbox = client.get("/api/health").json()["checks"]["sandbox"]
    assert sandbox["isolation"] in ("namespaces", "userns", "process")
    assert sandbox["weak"] is (sandbox["isolation"] == "process")
    assert sandbox["contains"] and sandbox["does_not_contain"]


# --- the weakest level: the guard cannot be switched off ------------------------------------


@pytest.fixture(scope="module")
def process_server():
    """A sandbox server at the ``process`` level (no namespaces), logs to files."""
    directory = Path(tempfile.mkdtemp(prefix="analyst-process-"))
    socket_path = directory / "s.sock"
    stdout = (directory / "stdout.log").open("w")
    stderr = (directory / "stderr.log").open("w")
    data = directory / "data"
    data.mkdir()
    pd.DataFrame({"a": [1, 2, 3]}).to_parquet(data / "df.parquet", index=False)
    command = [
        sys.executable, "-m", "codeexec.sandbox.server", "--socket", str(socket_path), "--isolation", "process",
        "--wall-seconds", "8", "--cpu-seconds", "4", "--memory-mb", "1024", "--file-mb", "20", "--pool-size", "1",
    ]  # fmt: skip
    env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "PYTHONPATH": str(settings.BASE_DIR), "SECRET_X": "sk-proc"}
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=stdout, stderr=stderr)
    deadline = time.monotonic() + 90
    while not socket_path.exists() and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.1)
    if not socket_path.exists():
        process.kill()
        pytest.fail(f"the process-level server did not start: {(directory / 'stderr.log').read_text()[-2000:]}")
    yield {"socket": socket_path, "dir": directory, "data": data, "pid": process.pid}
    process.terminate()
    process.wait(timeout=10)
    stdout.close()
    stderr.close()


@pytest.fixture
def weak(process_server, settings):
    settings.SANDBOX_SOCKET = str(process_server["socket"])
    settings.SANDBOX_AUTOSTART = False
    settings.SANDBOX_WALL_SECONDS = 8
    return process_server


def run_weak(server, code: str) -> str:
    outcome = sandbox_run(
        blocks=[{"name": "attack", "code": code}],
        datasets=[DatasetInput(name="df", path=str(server["data"] / "df.parquet"))],
    )
    (block,) = outcome.blocks
    return block.error or block.stdout


SWITCH_OFF = {
    "module globals": (
        "import codeexec.sandbox.audit as a\na.ALWAYS_BLOCKED = a.PATH_EVENTS = frozenset()\n"
        "a.BLOCKED_IMPORTS = frozenset()\n"
    ),
    "sys.modules": (
        "import sys\nfor name in list(sys.modules):\n"
        "    if name.startswith('codeexec'):\n        del sys.modules[name]\n"
    ),
    "builtins": (
        "import builtins\nf = frozenset\nbuiltins.any = lambda *a: False\nbuiltins.frozenset = lambda *a: f()\n"
    ),
    "posixpath": "import posixpath, os\nposixpath.realpath = os.path.realpath = lambda p, **k: '/usr/x'\n",
    "gc referrers": "import gc\n[o for o in gc.get_objects() if callable(o)]\n",
}


@pytest.mark.parametrize("trick", list(SWITCH_OFF))
def test_guard_cannot_be_switched_off(weak, trick):
    code = SWITCH_OFF[trick] + "import socket\nsocket.socket()\n"
    text = run_weak(weak, code)
    if trick == "gc referrers":
        assert text.startswith("SandboxViolationError: gc.get_objects is not allowed in the sandbox")
    else:
        assert text.startswith("SandboxViolationError: socket.__new__ is not allowed in the sandbox")
    text = run_weak(weak, SWITCH_OFF[trick] + "print(open('/etc/hostname').read())\n")
    assert "is outside the sandbox" in text or "not allowed" in text


def test_pyarrow_local_file_system_cannot_read_another_process(weak):
    code = (
        "import pyarrow.fs as fs\n"
        f"print(fs.LocalFileSystem().open_input_stream('/proc/{weak['pid']}/environ').read())\n"
    )
    text = run_weak(weak, code)
    assert "sk-proc" not in text
    assert text.startswith("PermissionError: [Errno 13] Failed to open local file")


def test_pyarrow_s3_cannot_reach_a_local_port(weak):
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.5)
    port = listener.getsockname()[1]
    code = (
        "import pyarrow.fs as fs\n"
        f"s3 = fs.S3FileSystem(endpoint_override='127.0.0.1:{port}', scheme='http', anonymous=True,"
        " connect_timeout=1, request_timeout=1, retry_strategy=fs.AwsStandardS3RetryStrategy(max_attempts=1))\n"
        "print(s3.get_file_info('bucket/key'))\n"
    )
    run_weak(weak, code)
    with pytest.raises(TimeoutError):
        listener.accept()
    listener.close()


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("import cffi", "SandboxViolationError: importing cffi is not allowed in the sandbox"),
        ("import _cffi_backend", "SandboxViolationError: importing _cffi_backend is not allowed in the sandbox"),
        ("import ctypes\nctypes.CDLL(None).getpid()", "SandboxViolationError: ctypes.dlopen is not allowed"),
        ("import os\nos.pidfd_open(os.getppid())", "PermissionError: [Errno 1] Operation not permitted"),
        ("import os\nos.kill(os.getppid(), 0)", "SandboxViolationError: signals to other processes are not"),
        ("import sys\nsys.settrace(lambda *a: None)", "SandboxViolationError: sys.settrace is not allowed"),
    ],
)
def test_native_escapes_are_closed(weak, code, expected):
    assert run_weak(weak, code).startswith(expected)


def test_child_output_never_reaches_the_server_log(weak):
    code = (
        "import os\nos.write(1, b'FORGED-LOG-LINE\\n' * 100_000)\nos.write(2, b'FORGED-ERR\\n')\n"
        "os.ftruncate(1, 0)\nos.ftruncate(2, 0)\n"
    )
    run_weak(weak, code)
    log = (weak["dir"] / "stdout.log").read_text() + (weak["dir"] / "stderr.log").read_text()
    assert "FORGED" not in log
    assert '"event": "ready"' in log  # the server's own line is still there: nothing was truncated


def test_weak_level_info_says_what_is_not_contained(weak):
    from codeexec.client import sandbox_info

    info = sandbox_info()
    assert (info["isolation"], info["weak"]) == ("process", True)
    assert info["seccomp"] is True
    assert info["landlock_abi"] >= 1
    assert any("native code" in item for item in info["does_not_contain"])
