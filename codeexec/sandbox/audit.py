"""An audit hook (PEP 578) refusing what sandboxed code has no business doing.

Installed in the child right before the user's code; audit hooks cannot be removed from
Python. With namespace isolation it is a second wall; at the ``process`` level it is the
main one, so it also confines file access to scratch and the library directories.
"""

from __future__ import annotations

import os
import sys

ALWAYS_BLOCKED = frozenset(
    {
        "socket.__new__",
        "socket.connect",
        "socket.bind",
        "socket.getaddrinfo",
        "socket.gethostbyname",
        "socket.sendto",
        "subprocess.Popen",
        "os.system",
        "os.exec",
        "os.posix_spawn",
        "os.spawn",
        "os.fork",
        "os.forkpty",
        "os.killpg",
        "pty.spawn",
        "ctypes.dlopen",
        "ctypes.dlsym",
        "ctypes.call_function",
        "ctypes.cdata",
        "ctypes.addressof",
        "ctypes.string_at",
        "ctypes.wstring_at",
        "ctypes.create_string_buffer",
        "sys.setrecursionlimit",
        "_thread.start_new_thread",
        "urllib.Request",
        "http.client.connect",
        "sqlite3.connect",
        "webbrowser.open",
        "sys.remote_exec",
    }
)
PATH_EVENTS = frozenset(
    {
        "open",
        "os.listdir",
        "os.scandir",
        "os.remove",
        "os.rename",
        "os.rmdir",
        "os.mkdir",
        "os.chmod",
        "os.chown",
        "os.link",
        "os.symlink",
        "os.truncate",
        "os.utime",
        "shutil.rmtree",
        "shutil.copyfile",
        "shutil.move",
    }
)


class SandboxViolationError(PermissionError):
    pass


def install(*, read_roots: list[str], write_root: str, confine_files: bool) -> None:
    own_pid = os.getpid()
    read_prefixes = tuple(os.path.realpath(root).rstrip("/") + "/" for root in read_roots)
    write_prefix = os.path.realpath(write_root).rstrip("/") + "/"
    realpath = os.path.realpath
    fspath = os.fspath

    def allowed_path(path: object, writing: bool) -> bool:
        if isinstance(path, int):
            return True  # an already open descriptor
        try:
            resolved = realpath(fspath(path)) + "/"
        except (TypeError, ValueError):
            return False
        if resolved.startswith(write_prefix) or resolved in ("/dev/null/", "/dev/urandom/"):
            return True
        return not writing and resolved.startswith(read_prefixes)

    def hook(event: str, args: tuple) -> None:
        if event in ALWAYS_BLOCKED:
            raise SandboxViolationError(f"{event} is not allowed in the sandbox")
        if event == "os.kill" and args and args[0] != own_pid:
            raise SandboxViolationError("signals to other processes are not allowed in the sandbox")
        if confine_files and event in PATH_EVENTS and args:
            writing = event != "open" or (
                len(args) > 1 and isinstance(args[1], str) and any(c in args[1] for c in "wax+")
            )
            if event == "open" and len(args) > 2 and isinstance(args[2], int) and args[2] & (os.O_WRONLY | os.O_RDWR):
                writing = True
            if event in ("os.listdir", "os.scandir"):
                writing = False
            if not allowed_path(args[0], writing):
                raise SandboxViolationError(f"{event} of {args[0]!r} is outside the sandbox")

    sys.addaudithook(hook)
