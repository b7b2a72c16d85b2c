"""An audit hook (PEP 578) refusing what sandboxed code has no business doing.

Installed in the child right before the user's code; audit hooks cannot be removed from
Python. It is the third wall: the private root (``namespaces``/``userns``) and the
kernel's Landlock and seccomp filters (every level, see ``isolation``) come first, and
they also cover native code, which raises no audit event (pyarrow's C++ file systems,
cffi, anything ctypes loaded before the hook).

The user's code cannot switch it off. ``install`` copies everything the hook uses into
its closure (the event sets, ``os.lstat``, ``os.readlink``, even ``isinstance``), so
the hook looks up no global or builtin name: replacing this module's attributes,
``builtins``, ``os.path`` or ``posixpath`` changes nothing it does. The only way to its
closure cells is the hook function object, which is referenced nowhere but in the
interpreter's list of hooks; the garbage collector's introspection (``gc.get_objects``,
``gc.get_referrers``, ``gc.get_referents``), tracing (which could write frame locals
back) and ctypes memory access, the ways to find or change it, are refused.

Python 3.11 raises no event for ``sys.setrecursionlimit`` or ``os.pidfd_open``; the first
is harmless beyond a crash of the run's own process, the second is refused by seccomp.
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
        "ctypes.create_unicode_buffer",
        "ctypes.get_errno",
        "ctypes.set_errno",
        "_thread.start_new_thread",
        "urllib.Request",
        "http.client.connect",
        "sqlite3.connect",
        "webbrowser.open",
        "sys.remote_exec",
        # The ways to reach the hook function or rewrite a running frame.
        "gc.get_objects",
        "gc.get_referrers",
        "gc.get_referents",
        "sys.settrace",
        "sys.setprofile",
        "sys._current_frames",
        "sys._current_exceptions",
        "sys.addaudithook",
    }
)
# Native extensions that call C directly; pyarrow's file systems are imported before
# the hook (by the Parquet reader), so they are contained by Landlock/seccomp instead.
BLOCKED_IMPORTS = frozenset({"cffi", "_cffi_backend", "_ctypes_test", "_posixsubprocess"})
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
    """Add the hook; its whole state is frozen in this call's closure."""
    blocked = frozenset(ALWAYS_BLOCKED)
    blocked_imports = frozenset(BLOCKED_IMPORTS)
    path_events = frozenset(PATH_EVENTS)
    read_prefixes = tuple(os.path.realpath(root).rstrip("/") + "/" for root in read_roots)
    write_prefix = os.path.realpath(write_root).rstrip("/") + "/"
    devices = ("/dev/null/", "/dev/urandom/")
    own_pid = os.getpid()
    writing_modes = frozenset("wax+")
    write_flags = os.O_WRONLY | os.O_RDWR
    lstat, readlink, getcwd, fspath = os.lstat, os.readlink, os.getcwd, os.fspath
    is_link = 0o120000
    _isinstance, _int, _str, _bytes, _len, _any = isinstance, int, str, bytes, len, any
    _oserror, _error = OSError, SandboxViolationError
    _type_error, _value_error = TypeError, ValueError

    def resolve(path: str) -> str | None:
        """``os.path.realpath`` from captured primitives (no module lookups)."""
        if not path.startswith("/"):
            path = getcwd() + "/" + path
        parts = [part for part in path.split("/") if part and part != "."]
        resolved: list[str] = []
        hops = 0
        while parts:
            part = parts.pop(0)
            if part == "..":
                if resolved:
                    resolved.pop()
                continue
            candidate = "/" + "/".join([*resolved, part])
            try:
                mode = lstat(candidate).st_mode
            except _oserror:
                resolved.append(part)
                continue
            if mode & 0o170000 == is_link:
                hops += 1
                if hops > 40:
                    return None
                target = readlink(candidate)
                if target.startswith("/"):
                    resolved = []
                parts = [p for p in target.split("/") if p and p != "."] + parts
                continue
            resolved.append(part)
        return "/" + "/".join(resolved)

    def allowed_path(path: object, writing: bool) -> bool:
        if _isinstance(path, _int):
            return True  # an already open descriptor
        try:
            raw = fspath(path)
            if _isinstance(raw, _bytes):
                raw = raw.decode("utf-8", "surrogateescape")
            if not _isinstance(raw, _str) or "\x00" in raw:
                return False
            resolved = resolve(raw)
        except (_type_error, _value_error, _oserror):
            return False
        if resolved is None:
            return False
        resolved += "/"
        if resolved.startswith(write_prefix) or resolved in devices:
            return True
        return not writing and resolved.startswith(read_prefixes)

    def hook(event: str, args: tuple) -> None:
        if event in blocked:
            raise _error(f"{event} is not allowed in the sandbox")
        if event == "import" and args:
            name = args[0]
            if _isinstance(name, _str) and (name in blocked_imports or name.split(".")[0] in blocked_imports):
                raise _error(f"importing {name} is not allowed in the sandbox")
            return
        if event == "os.kill" and args and args[0] != own_pid:
            raise _error("signals to other processes are not allowed in the sandbox")
        if event == "object.__setattr__" and _len(args) > 1 and args[1] in ("__code__", "__closure__"):
            raise _error("replacing a function's code is not allowed in the sandbox")
        if confine_files and event in path_events and args:
            writing = event != "open" or (
                _len(args) > 1 and _isinstance(args[1], _str) and _any(c in writing_modes for c in args[1])
            )
            if event == "open" and _len(args) > 2 and _isinstance(args[2], _int) and args[2] & write_flags:
                writing = True
            if event in ("os.listdir", "os.scandir"):
                writing = False
            if not allowed_path(args[0], writing):
                raise _error(f"{event} of {args[0]!r} is outside the sandbox")

    sys.addaudithook(hook)
