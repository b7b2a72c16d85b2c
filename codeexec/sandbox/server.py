"""The sandbox server: ``python -m codeexec.sandbox.server --socket PATH``.

It imports the data stack once, then keeps a small pool of warm children forked from
itself (already in their own namespaces where the host allows). For each connection it
hands the socket and the write end of a fresh pipe to a warm child. The child reads the
request, closes the socket, sends its plan (the blocks, in order) down the pipe, and only
then locks itself down and runs the user's code, whose results go down the pipe too. The
server reads the pipe and validates every frame (``relay.RunRelay``: sizes, counts,
names, types) before forwarding it on the connection, so what the user's code writes can
never reach the web process unchecked. The child's stdout and stderr are /dev/null. The
server enforces the wall-clock limit, and after the child ends writes a status frame
(exit code, signal, whether it timed out, a protocol violation) on the connection.

At the ``userns`` level a warm child is three processes (see ``_enter_pid_namespace``):
the warm child itself, outside the pid namespace it created, which the server waits for
and kills and which exits as the run did; the namespace's init (pid 1); and the runner
(pid 2), which receives the connection and runs the request.

The server is single-threaded and never runs user code itself. It starts with an empty
environment apart from a few fixed variables, so no secret is there to inherit.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import resource
import selectors
import shutil
import signal
import socket
import struct
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

# Before numpy/OpenBLAS load: one thread each, and no interactive matplotlib backend.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_name] = "1"
os.environ["MPLBACKEND"] = "Agg"

import pyarrow  # noqa: E402

from codeexec.sandbox import audit, isolation, protocol, relay, runner  # noqa: E402

pyarrow.set_cpu_count(1)
pyarrow.set_io_thread_count(1)

SEND_TIMEOUT_SECONDS = 10.0
DEVICES = ("/dev/null", "/dev/zero", "/dev/random", "/dev/urandom")
RELAY_CHUNK = 1 << 20

UID_BASE = 200_000
UID_SPAN = 50_000


@dataclass
class Config:
    socket_path: Path
    root_dir: Path
    level: str
    wall_seconds: float
    limits: isolation.Limits
    scratch_bytes: int
    pool_size: int
    parent_pid: int | None = None
    landlock_abi: int = 0  # 0: the kernel has no Landlock
    seccomp: bool = False


@dataclass
class Warm:
    pid: int
    channel: socket.socket
    uid: int


@dataclass
class Active:
    pid: int
    connection: socket.socket
    output: int  # the read end of the child's pipe, or -1 once closed
    deadline: float
    started: float
    relay: relay.RunRelay = field(default_factory=relay.RunRelay)
    timed_out: bool = False
    violation: str | None = None


@dataclass
class ServerState:
    warm: list[Warm] = field(default_factory=list)
    active: dict[int, Active] = field(default_factory=dict)
    next_uid: int = 0


def _close_fds_except(keep: set[int]) -> None:
    # Every descriptor up to the limit, not only below 1024: another run's connection or
    # pipe above it must not stay open to user code.
    limit = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    if limit == resource.RLIM_INFINITY or limit <= 0:
        limit = 1 << 20
    low = 3
    for fd in sorted(keep | {limit}):
        if fd >= low:
            os.closerange(low, fd)
            low = fd + 1


def _child_main(config: Config, channel: socket.socket, uid: int, server_pid: int) -> None:
    """A warm child: wait for a connection, then serve exactly one request and exit."""
    isolation.die_with_parent()
    signal.set_wakeup_fd(-1)
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    _close_fds_except({channel.fileno()})
    # The expensive part of isolation happens while warm, off the request's path.
    if config.level == "namespaces":
        isolation.unshare_namespaces()
        isolation.build_root(root=config.root_dir, scratch_bytes=config.scratch_bytes, uid=uid)
    elif config.level == "userns":
        isolation.enter_user_namespace()
        isolation.build_root(root=config.root_dir, scratch_bytes=config.scratch_bytes, uid=os.getuid())
        _enter_pid_namespace(channel)  # returns only in the runner, pid 2 of the new namespace
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    _, fds, _, _ = socket.recv_fds(channel, 16, 2)
    channel.close()
    if len(fds) != 2:
        os._exit(0)
    connection, output = socket.socket(fileno=fds[0]), fds[1]
    try:
        _serve_one(config, connection, output, uid, server_pid)
    except BaseException as error:  # report what we can; the server adds the status
        with contextlib.suppress(OSError):
            protocol.write_frame(output, b"R", json.dumps({"fatal": f"{type(error).__name__}: {error}"}).encode())
    os._exit(0)


def _enter_pid_namespace(channel: socket.socket) -> None:
    """Split into the three processes of the ``userns`` level; only the runner returns.

    The pid namespace that ``enter_user_namespace`` unshared holds only our children. Its
    first one is its init, and the kernel shields an init from every signal it has no
    handler for, even the CPU limit's SIGXCPU and a kill(getpid(), SIGKILL) of its own;
    so the init only waits, and the run happens in its child, pid 2, where signals act as
    at the other levels.

    This process stays outside, as the pid the server waits for, and kills at the wall
    clock limit: the init dies with it (parent-death signal) and takes the namespace, the
    runner included, down with it. Once the runner ends, the init writes its exit status
    (a negative number for a signal) to a pipe the runner has closed, and this process
    exits the same way, so the server reports the run's own status (-24 for SIGXCPU).

    Only the runner keeps the channel: it receives the connection itself, and if it dies
    while warm the channel is closed, so the server's send fails and it tries the next
    warm child. If this process dies before the init's parent-death signal is set, the
    runner is left waiting on a channel whose server end is gone (the server is stopping
    or dead), and the end of stream ends it.
    """
    status_read, status_write = os.pipe()
    init_pid = os.fork()
    if init_pid == 0:
        os.close(status_read)
        _namespace_init(channel, status_write)
        return
    channel.close()
    os.close(status_write)
    _, status = os.waitpid(init_pid, 0)
    report = os.read(status_read, 32)
    _exit_as(int(report) if report else os.waitstatus_to_exitcode(status))


def _namespace_init(channel: socket.socket, status_write: int) -> None:
    """Pid 1 of the run's pid namespace: fork the runner (which returns) and wait for it."""
    isolation.die_with_parent()
    runner_pid = os.fork()
    if runner_pid == 0:
        os.close(status_write)
        return
    channel.close()
    _, status = os.waitpid(runner_pid, 0)
    os.write(status_write, str(os.waitstatus_to_exitcode(status)).encode())
    os._exit(0)


def _exit_as(code: int) -> NoReturn:
    """Exit with ``code`` as os.waitstatus_to_exitcode gives it: below 0, by that signal."""
    if code >= 0:
        os._exit(code)
    number = -code
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # SIGXCPU and others would dump core
    if number not in (signal.SIGKILL, signal.SIGSTOP):
        signal.signal(number, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {number})
    os.kill(os.getpid(), number)
    os._exit(128 + number)  # a signal whose default action is not to end the process


def _detach_output() -> None:
    """Point stdout and stderr at /dev/null: nothing the run writes reaches the host's logs."""
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    os.close(devnull)


def _serve_one(config: Config, connection: socket.socket, output: int, uid: int, server_pid: int) -> None:
    try:
        frame = protocol.recv_frame(connection, max_bytes=64 * 1024 * 1024)
    finally:
        # The only handle this process had on the web process's connection: from here on
        # it can write only to its pipe, which the server reads and checks.
        connection.close()
    _detach_output()
    if frame is None or frame[0] != b"Q":
        return
    request = json.loads(frame[1])
    if not isinstance(request, dict):
        return
    send = functools.partial(protocol.write_frame, output)
    if request.get("kind") == "info":
        send(b"P", json.dumps({"kind": "info", "blocks": []}).encode())
        info = {"level": config.level, "pid": server_pid, "landlock": config.landlock_abi, "seccomp": config.seccomp}
        send(b"R", json.dumps(info).encode())
        return
    blocks = request.get("blocks") or []
    send(b"P", json.dumps({"kind": "run", "blocks": [block["name"] for block in blocks]}).encode())
    limits = config.limits
    cpu = min(int(request.get("cpu_seconds") or limits.cpu_seconds), limits.cpu_seconds)
    limits = isolation.Limits(cpu_seconds=cpu, memory_bytes=limits.memory_bytes, file_bytes=limits.file_bytes)
    base = isolation.current_address_space()
    isolation.limit_address_space(limits, address_space_base=base)
    datasets = runner.load_datasets(request.get("datasets") or [])
    scratch = "/scratch"
    if config.level == "namespaces":
        isolation.enter_root(config.root_dir)
        isolation.drop_privileges(uid)
        isolation.die_with_parent()  # a uid change clears the parent-death signal
        if os.getppid() != server_pid:  # the server died before the signal was re-armed
            os._exit(1)
    elif config.level == "userns":
        isolation.enter_root(config.root_dir)
        # No uid to change to (only ours is mapped), so dropping capabilities is what
        # makes the runner unprivileged. Nothing clears a parent-death signal here, and
        # none is needed, nor a getppid() check (its parent is the namespace's init, pid
        # 1): when the init dies, the kernel kills the whole namespace.
        isolation.drop_capabilities()
    else:
        scratch = _private_scratch(config)
        os.chdir(scratch)
    isolation.set_no_new_privs()
    isolation.apply_limits(limits, address_space_base=base)
    os.environ.clear()
    os.environ.update({"HOME": scratch, "TMPDIR": scratch, "MPLCONFIGDIR": scratch, "PATH": "/usr/bin:/bin"})
    # The kernel's walls, at every level: Landlock confines files (and TCP, signals) for
    # native code too; seccomp refuses sockets, exec, ptrace, pidfds and namespaces.
    if config.landlock_abi:
        # Inside a private root everything readable is already only libraries, so the
        # whole root may be read; at the process level only the libraries.
        read_roots = isolation.library_roots() + (["/"] if config.level != "process" else [])
        isolation.apply_landlock(read_roots=read_roots, write_roots=[scratch], devices=DEVICES)
    if config.seccomp:
        isolation.apply_seccomp()
    # Inside a private root the chroot is the file wall; the hook confines files only at
    # the process level.
    audit.install(read_roots=isolation.library_roots(), write_root=scratch, confine_files=config.level == "process")
    result = runner.run_blocks(blocks, datasets, on_block=lambda block: send(b"B", runner.encode_result(block)))
    attachments = runner.result_attachments(result)
    send(b"R", runner.encode_result(result))
    for attachment in attachments:
        send(b"A", attachment)


def _private_scratch(config: Config) -> str:
    path = config.root_dir / f"scratch-{os.getpid()}"
    path.mkdir(mode=0o700)
    return str(path)


class SandboxServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.state = ServerState()
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.selector = selectors.DefaultSelector()
        self.stopping = False

    def _next_uid(self) -> int:
        self.state.next_uid = (self.state.next_uid + 1) % UID_SPAN
        return UID_BASE + self.state.next_uid

    def _spawn_warm(self) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        uid = self._next_uid()
        server_pid = os.getpid()
        pid = os.fork()
        if pid == 0:
            try:
                parent_end.close()
                self.listener.close()
                _child_main(self.config, child_end, uid, server_pid)
            finally:
                os._exit(1)
        child_end.close()
        self.state.warm.append(Warm(pid=pid, channel=parent_end, uid=uid))

    def _dispatch(self, connection: socket.socket) -> None:
        # A web process that stops reading must not stall the server's loop for long. A
        # kernel send timeout, not settimeout(): that would make the socket non-blocking
        # for the child too, which shares it until it has read its request.
        connection.setsockopt(
            socket.SOL_SOCKET, socket.SO_SNDTIMEO, struct.pack("ll", int(SEND_TIMEOUT_SECONDS), 0)
        )
        while self.state.warm:
            warm = self.state.warm.pop(0)
            output_read, output_write = os.pipe()
            try:
                socket.send_fds(warm.channel, [b"x"], [connection.fileno(), output_write])
            except OSError:
                warm.channel.close()
                os.close(output_read)
                continue
            finally:
                os.close(output_write)
            warm.channel.close()
            os.set_blocking(output_read, False)
            now = time.monotonic()
            self.state.active[warm.pid] = Active(
                pid=warm.pid,
                connection=connection,
                output=output_read,
                deadline=now + self.config.wall_seconds,
                started=now,
            )
            self.selector.register(output_read, selectors.EVENT_READ, warm.pid)
            return
        protocol.send_json(connection, b"S", {"error": "no sandbox worker could be started"})
        connection.close()

    def _reap(self) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            shutil.rmtree(self.config.root_dir / f"scratch-{pid}", ignore_errors=True)
            active = self.state.active.pop(pid, None)
            if active is None:
                self.state.warm = [w for w in self.state.warm if w.pid != pid]
                continue
            self._relay(active)  # what the child wrote before it ended
            self._close_output(active)
            report = {
                "exit_code": os.waitstatus_to_exitcode(status),
                "timed_out": active.timed_out,
                "wall_ms": round((time.monotonic() - active.started) * 1000, 2),
            }
            if active.violation:
                report["violation"] = active.violation
            with contextlib.suppress(OSError):
                protocol.send_json(active.connection, b"S", report)
            active.connection.close()

    def _relay(self, active: Active) -> None:
        """Read what the child wrote so far, check it, forward what passes. A violation,
        or a web process that went away, ends the run: the child is killed."""
        while active.output >= 0:
            try:
                data = os.read(active.output, RELAY_CHUNK)
            except BlockingIOError:
                return
            except OSError:
                data = b""
            if not data:
                self._close_output(active)
                return
            try:
                frames = active.relay.feed(data)
                for frame in frames:
                    active.connection.sendall(frame)
            except relay.ProtocolViolationError as error:
                active.violation = f"its output broke the sandbox protocol ({error})"
            except OSError:
                active.violation = "the web process stopped reading its output"
            if active.violation:
                self._close_output(active)
                with contextlib.suppress(ProcessLookupError):
                    os.kill(active.pid, signal.SIGKILL)
                return

    def _close_output(self, active: Active) -> None:
        if active.output >= 0:
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(active.output)
            os.close(active.output)
            active.output = -1

    def _enforce_deadlines(self) -> None:
        now = time.monotonic()
        for active in self.state.active.values():
            if not active.timed_out and now >= active.deadline:
                active.timed_out = True
                with contextlib.suppress(ProcessLookupError):
                    os.kill(active.pid, signal.SIGKILL)

    def serve_forever(self) -> None:
        path = self.config.socket_path
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            path.unlink()
        self.listener.bind(str(path))
        os.chmod(path, 0o600)
        self.listener.listen(64)
        isolation.become_subreaper()
        self.selector.register(self.listener, selectors.EVENT_READ, "accept")
        # SIGCHLD wakes the loop at once, so the status frame follows a child's exit
        # without waiting for the select timeout.
        wake_read, wake_write = socket.socketpair()
        wake_read.setblocking(False)
        wake_write.setblocking(False)
        signal.set_wakeup_fd(wake_write.fileno(), warn_on_full_buffer=False)
        signal.signal(signal.SIGCHLD, lambda *_: None)
        self.selector.register(wake_read, selectors.EVENT_READ, "wake")
        signal.signal(signal.SIGTERM, lambda *_: setattr(self, "stopping", True))
        signal.signal(signal.SIGINT, lambda *_: setattr(self, "stopping", True))
        while len(self.state.warm) < self.config.pool_size:
            self._spawn_warm()
        print(json.dumps({"event": "ready", "level": self.config.level, "pid": os.getpid()}), flush=True)
        while not self.stopping:
            for key, _mask in self.selector.select(timeout=0.05):
                if key.data == "wake":
                    try:
                        while key.fileobj.recv(4096):
                            pass
                    except BlockingIOError:
                        pass
                    continue
                if key.data != "accept":
                    active = self.state.active.get(key.data)
                    if active is not None:
                        self._relay(active)
                    continue
                try:
                    connection, _ = self.listener.accept()
                except OSError:
                    continue
                self._dispatch(connection)
            self._reap()
            self._enforce_deadlines()
            if self.config.parent_pid and os.getppid() != self.config.parent_pid:
                self.stopping = True
            while len(self.state.warm) < self.config.pool_size and not self.stopping:
                self._spawn_warm()
        for pid in [w.pid for w in self.state.warm] + list(self.state.active):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        path.unlink(missing_ok=True)


def _probe_landlock(root_dir: Path) -> int:
    """The Landlock ABI a child can apply (0 when the kernel refuses it)."""
    abi = isolation.landlock_abi()
    def attempt() -> None:
        isolation.set_no_new_privs()
        isolation.apply_landlock(read_roots=isolation.library_roots(), write_roots=[str(root_dir)], devices=DEVICES)

    return abi if abi and isolation._probe(attempt) else 0


def _probe_seccomp() -> None:
    isolation.set_no_new_privs()
    isolation.apply_seccomp()
    try:
        socket.socket()
    except PermissionError:
        return
    raise isolation.IsolationError("the seccomp filter did not refuse socket()")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Run the code sandbox server.")
    parser.add_argument("--socket", required=True, type=Path)
    parser.add_argument("--root-dir", type=Path, help="empty directory used as the children's mount point")
    parser.add_argument("--isolation", choices=["auto", *isolation.LEVELS], default="auto")
    parser.add_argument("--wall-seconds", type=float, default=30.0)
    parser.add_argument("--cpu-seconds", type=int, default=30)
    parser.add_argument("--memory-mb", type=int, default=2048)
    parser.add_argument("--file-mb", type=int, default=100)
    parser.add_argument("--pool-size", type=int, default=2)
    parser.add_argument("--parent-pid", type=int, help="exit when this process (the supervisor) is gone")
    parser.add_argument(
        "--allow-weak-isolation",
        action="store_true",
        help="let --isolation auto run at the 'process' level when no namespace is available",
    )
    args = parser.parse_args(argv)

    root_dir = args.root_dir or args.socket.parent / "sandbox-root"
    root_dir.mkdir(parents=True, exist_ok=True)
    available = isolation.available_levels(root_dir)
    try:
        level = isolation.choose_level(args.isolation, available, allow_weak=args.allow_weak_isolation)
    except isolation.IsolationRefusedError as error:
        print(json.dumps({"event": "refused", "wanted": args.isolation, "available": available[-1]}), flush=True)
        raise SystemExit(str(error)) from None
    runner.warm_up()
    config = Config(
        socket_path=args.socket,
        root_dir=root_dir,
        level=level,
        wall_seconds=args.wall_seconds,
        limits=isolation.Limits(
            cpu_seconds=args.cpu_seconds,
            memory_bytes=args.memory_mb * 1024 * 1024,
            file_bytes=args.file_mb * 1024 * 1024,
        ),
        scratch_bytes=args.file_mb * 1024 * 1024 * 2,
        pool_size=args.pool_size,
        parent_pid=args.parent_pid,
        landlock_abi=_probe_landlock(root_dir),
        seccomp=isolation.seccomp_supported() and isolation._probe(_probe_seccomp),
    )
    SandboxServer(config).serve_forever()


if __name__ == "__main__":
    sys.exit(main())
