"""Locking a forked child down before untrusted code runs in it.

Levels, strongest first (``detect_level`` says which this host allows):

``namespaces``  the host lets us (as root) create mount and network namespaces. The
                child gets no network (a fresh network namespace with loopback down), a
                private root filesystem holding only read-only Python and system
                libraries plus a size-limited writable ``/scratch``, a unique unprivileged
                uid (so it cannot signal or read other runs), no capabilities and
                ``no_new_privs``.
``process``     no namespaces (not root): resource limits plus the in-process audit
                hook, which refuses sockets, subprocesses, exec, fork, ctypes, signals to
                other processes and file access outside scratch and the libraries. Weaker:
                reported as such on /api/health, and refused when SANDBOX_ISOLATION
                demands ``namespaces``.

Both levels always apply the resource limits (CPU time, address space, no new
processes or threads, file size, open files) and the audit hook.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import resource
import sys
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1

LEVELS = ("process", "namespaces")

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class IsolationError(RuntimeError):
    pass


def _check(result: int, what: str) -> None:
    if result != 0:
        errno = ctypes.get_errno()
        raise IsolationError(f"{what} failed: {os.strerror(errno)}")


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(
        _libc.mount(
            source.encode() if source else None,
            target.encode(),
            fstype.encode() if fstype else None,
            flags,
            data.encode() if data else None,
        ),
        f"mount {target}",
    )


def detect_level() -> str:
    """The strongest level this host allows, probed in a throwaway child."""
    if os.geteuid() != 0:
        return "process"
    pid = os.fork()
    if pid == 0:
        try:
            _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
            _mount(None, "/", None, MS_REC | MS_PRIVATE)
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return "namespaces" if os.waitstatus_to_exitcode(status) == 0 else "process"


@dataclass(frozen=True)
class Limits:
    cpu_seconds: int
    memory_bytes: int  # address space on top of what the preloaded libraries map
    file_bytes: int
    open_files: int = 64


def unshare_namespaces() -> None:
    """New mount and network namespaces for this process (call while still root)."""
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWNET), "unshare")
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def library_roots() -> list[str]:
    """Directories the child must read to import Python and its native libraries."""
    roots = {sys.base_prefix, sys.prefix, "/usr"}
    return sorted(root for root in roots if os.path.isdir(root))


def build_root(*, root: Path, scratch_bytes: int, uid: int) -> None:
    """Mount a private root at ``root``: read-only libraries, /dev basics, tmpfs /scratch."""
    _mount("tmpfs", str(root), "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for source in library_roots():
        target = root / source.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        _mount(source, str(target), None, MS_BIND | MS_REC)
        _mount(None, str(target), None, MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)
    for link in ("bin", "lib", "lib64", "sbin"):
        if os.path.islink(f"/{link}"):
            os.symlink(os.readlink(f"/{link}"), root / link)
    (root / "dev").mkdir()
    for device in ("null", "zero", "random", "urandom"):
        target = root / "dev" / device
        target.touch()
        _mount(f"/dev/{device}", str(target), None, MS_BIND)
    scratch = root / "scratch"
    scratch.mkdir()
    _mount("tmpfs", str(scratch), "tmpfs", MS_NOSUID | MS_NODEV, f"size={scratch_bytes},mode=0700,uid={uid},gid={uid}")
    if not (root / "tmp").exists():  # it exists when the project itself lives under /tmp
        (root / "tmp").symlink_to("/scratch")
    _mount(None, str(root), None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def enter_root(root: Path) -> None:
    os.chroot(root)
    os.chdir("/scratch")


def drop_privileges(uid: int) -> None:
    """Become an unprivileged uid of our own: no capabilities, no way back."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    if os.getuid() == 0 or os.geteuid() == 0:
        raise IsolationError("still root after setuid")


def die_with_parent() -> None:
    """SIGKILL this process when the server that forked it dies."""
    import signal

    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def set_no_new_privs() -> None:
    _check(_libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "prctl(NO_NEW_PRIVS)")


def current_address_space() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")


def limit_address_space(limits: Limits, *, address_space_base: int) -> None:
    address_space = address_space_base + limits.memory_bytes
    resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))


def apply_limits(limits: Limits, *, address_space_base: int) -> None:
    limit_address_space(limits, address_space_base=address_space_base)
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
    # One process for this uid: no fork, no threads. Only effective for a non-root uid.
    resource.setrlimit(resource.RLIMIT_NPROC, (1, 1))
