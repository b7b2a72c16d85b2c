"""Locking a forked child down before untrusted code runs in it.

Levels, strongest first (``available_levels`` probes which this host allows,
``choose_level`` picks one):

``namespaces``  the host lets us (as root) create mount and network namespaces. The
                child gets no network (a fresh network namespace with loopback down), a
                private root filesystem holding only read-only Python and system
                libraries plus a size-limited writable ``/scratch``, a unique unprivileged
                uid (so it cannot signal or read other runs), no capabilities and
                ``no_new_privs``.
``userns``      not root, but the kernel lets anyone create a user namespace: inside one
                (the server's uid mapped to itself, setgroups denied) the child gets the
                same network and mount namespaces and the same private root, plus a pid
                namespace of its own. What it cannot get is a uid of its own: every run
                shares the server's uid, and it is the pid namespace (other runs and the
                server are not visible to signal) and the audit hook that keep runs apart.
                The capabilities the user namespace granted (what let it mount its root)
                are dropped before the user's code.
``process``     no namespaces: resource limits plus the in-process audit hook, which
                refuses sockets, subprocesses, exec, fork, ctypes, signals to other
                processes and file access outside scratch and the libraries. Weaker:
                reported as such on /api/health, and refused when SANDBOX_ISOLATION
                demands more.

Every level applies the resource limits (CPU time, address space, no new processes or
threads, file size, open files) and the audit hook.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import resource
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REMOUNT = 32
MS_NOATIME = 1024
MS_NODIRATIME = 2048
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
MS_RELATIME = 1 << 21
PR_SET_NO_NEW_PRIVS = 38
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
PR_CAPBSET_DROP = 24
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
LINUX_CAPABILITY_VERSION_3 = 0x20080522

# A bind mount's flags that a user namespace may not clear (the kernel locks them when it
# copies the host's mounts), as statvfs reports them and as mount(2) takes them.
LOCKED_MOUNT_FLAGS = {
    os.ST_NOSUID: MS_NOSUID,
    os.ST_NODEV: MS_NODEV,
    os.ST_NOEXEC: MS_NOEXEC,
    os.ST_NOATIME: MS_NOATIME,
    os.ST_NODIRATIME: MS_NODIRATIME,
    os.ST_RELATIME: MS_RELATIME,
}

LEVELS = ("process", "userns", "namespaces")  # weakest first

_libc = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


class IsolationError(RuntimeError):
    pass


class IsolationRefusedError(IsolationError):
    """The level asked for is stronger than what this host allows."""


def _check(result: int, what: str) -> None:
    if result != 0:
        raise IsolationError(f"{what} failed: {os.strerror(ctypes.get_errno())}")


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


def _probe(setup: Callable[[], None]) -> bool:
    """Whether ``setup`` succeeds in a throwaway child (its namespaces die with it)."""
    pid = os.fork()
    if pid == 0:
        try:
            setup()
            os._exit(0)
        except BaseException:
            os._exit(1)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status) == 0


def _probe_user_namespace(root: Path) -> None:
    """What a warm child does at the ``userns`` level, up to and including its pid 1."""
    enter_user_namespace()
    build_root(root=root, scratch_bytes=1024 * 1024, uid=os.getuid())
    pid = os.fork()
    if pid == 0:
        os._exit(0 if os.getpid() == 1 else 1)
    _, status = os.waitpid(pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        raise IsolationError("the first child is not pid 1 of the new pid namespace")


def available_levels(probe_root: Path) -> tuple[str, ...]:
    """The levels this host allows, weakest first; ``probe_root`` is an empty directory
    the probes mount over inside their own mount namespaces (the host never sees it)."""
    levels = ["process"]
    if _probe(lambda: _probe_user_namespace(probe_root)):
        levels.append("userns")
    if os.geteuid() == 0 and _probe(unshare_namespaces):
        levels.append("namespaces")
    return tuple(levels)


def choose_level(wanted: str, available: Sequence[str]) -> str:
    """The level to run at: the strongest available for ``auto``, else ``wanted`` when the
    host allows it. Raises IsolationRefusedError rather than run with less."""
    if wanted == "auto":
        return max(available, key=LEVELS.index)
    if wanted not in LEVELS:
        raise ValueError(f"unknown isolation level {wanted!r}")
    if wanted not in available:
        best = max(available, key=LEVELS.index)
        raise IsolationRefusedError(f"isolation {wanted!r} is not available on this host (best: {best!r})")
    return wanted


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


def enter_user_namespace() -> None:
    """New user, mount, network and pid namespaces for this process (the ``userns`` level).

    Our uid and gid are mapped to themselves, not to root: the process keeps every
    capability the new namespace grants (enough to mount its root and chroot), yet is not
    uid 0, so once those capabilities are dropped nothing inside (``setuid(0)``, files
    owned by root) treats it as root. The pid namespace applies to children only.
    """
    uid, gid = os.geteuid(), os.getegid()
    _check(_libc.unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID), "unshare")
    for name, content in (("setgroups", "deny"), ("uid_map", f"{uid} {uid} 1"), ("gid_map", f"{gid} {gid} 1")):
        # setgroups must be denied before an unprivileged process may write its gid_map.
        with open(f"/proc/self/{name}", "w") as handle:
            handle.write(content)
    _mount(None, "/", None, MS_REC | MS_PRIVATE)


def library_roots() -> list[str]:
    """Directories the child must read to import Python and its native libraries."""
    roots = {sys.base_prefix, sys.prefix, "/usr"}
    # A virtualenv reached through a symlink: libraries (matplotlib's font cache) may
    # record the real path, so it must exist inside the private root too.
    roots |= {os.path.realpath(root) for root in roots}
    return sorted(root for root in roots if os.path.isdir(root))


def locked_mount_flags(source: str) -> int:
    """The flags of the mount holding ``source`` that a remount must repeat.

    In a user namespace the kernel refuses (EPERM) to remount a bind mount without the
    nosuid, nodev, noexec and atime flags the host's mount has; as root, repeating them
    only keeps what the host already imposes on those files.
    """
    flags = os.statvfs(source).f_flag
    return sum(mount_flag for statvfs_flag, mount_flag in LOCKED_MOUNT_FLAGS.items() if flags & statvfs_flag)


def build_root(*, root: Path, scratch_bytes: int, uid: int) -> None:
    """Mount a private root at ``root``: read-only libraries, /dev basics, tmpfs /scratch
    owned by ``uid`` (the run's uid; at the ``userns`` level the server's, mapped to itself)."""
    _mount("tmpfs", str(root), "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755")
    for source in library_roots():
        target = root / source.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        _mount(source, str(target), None, MS_BIND | MS_REC)
        readonly = MS_BIND | MS_REC | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
        _mount(None, str(target), None, readonly | locked_mount_flags(source))
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


class _CapabilityHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapabilityData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_capabilities() -> None:
    """Give up every capability for good: the bounding and ambient sets, then our own.

    At the ``userns`` level the child holds all capabilities within its user namespace.
    Kept, CAP_SYS_CHROOT alone would let code leave its root (mkdir, chroot, chdir(".."))
    and see the host's files as the server's uid. With the bounding set empty, not even
    an exec could bring any back.
    """
    for capability in range(64):
        if _libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0) != 0:
            if ctypes.get_errno() == errno.EINVAL:  # past the last capability this kernel has
                break
            _check(-1, f"prctl(CAPBSET_DROP, {capability})")
    _check(_libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "prctl(CAP_AMBIENT_CLEAR_ALL)")
    header = _CapabilityHeader(LINUX_CAPABILITY_VERSION_3, 0)
    sets = (_CapabilityData * 2)()  # version 3 takes 64-bit sets as two 32-bit halves
    _check(_libc.capset(ctypes.byref(header), sets), "capset")
    _check(_libc.capget(ctypes.byref(header), sets), "capget")
    if any(half.effective or half.permitted or half.inheritable for half in sets):
        raise IsolationError("capabilities left after capset")


def die_with_parent() -> None:
    """SIGKILL this process when the server that forked it dies."""
    import signal

    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl(PDEATHSIG)")


def become_subreaper() -> None:
    """Have orphaned descendants reparented to this process, which reaps them.

    At the ``userns`` level the init of a run's pid namespace is the server's grandchild;
    when the server kills its parent, it would otherwise be left to the host's init.
    """
    _check(_libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(CHILD_SUBREAPER)")


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
