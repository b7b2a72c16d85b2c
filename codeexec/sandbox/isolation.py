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
import struct
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


def choose_level(wanted: str, available: Sequence[str], *, allow_weak: bool = False) -> str:
    """The level to run at: the strongest available for ``auto``, else ``wanted`` when the
    host allows it. Raises IsolationRefusedError rather than run with less, and for
    ``auto`` when only ``process`` is available unless the operator allowed it
    (SANDBOX_ALLOW_WEAK_ISOLATION); asking for ``process`` by name is an explicit choice."""
    if wanted == "auto":
        best = max(available, key=LEVELS.index)
        if best == "process" and not allow_weak:
            raise IsolationRefusedError(
                "only the 'process' isolation level is available on this host (no namespaces); "
                "set SANDBOX_ALLOW_WEAK_ISOLATION=true to run at that level anyway"
            )
        return best
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


# --- kernel walls applied at every level, right before the user's code ---------------

SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1
# Filesystem rights by the ABI that introduced them (v1: bits 0-12, v2: REFER,
# v3: TRUNCATE, v5: IOCTL_DEV); v4 adds TCP bind/connect, v6 scopes signals and
# abstract Unix sockets to the sandboxed process.
_FS_RIGHTS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 5: (1 << 16) - 1}
_FS_EXECUTE, _FS_WRITE_FILE, _FS_READ_FILE, _FS_READ_DIR = 1, 2, 4, 8
_FS_TRUNCATE, _FS_IOCTL_DEV = 1 << 14, 1 << 15
_FILE_RIGHTS = _FS_EXECUTE | _FS_WRITE_FILE | _FS_READ_FILE | _FS_TRUNCATE | _FS_IOCTL_DEV


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0 when it has none)."""
    version = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(version, 0)


def apply_landlock(*, read_roots: Sequence[str], write_roots: Sequence[str], devices: Sequence[str]) -> int:
    """Confine this process's file access, in the kernel, to reading ``read_roots``,
    reading and writing ``write_roots`` and ``devices``; no TCP (ABI 4+), no signals or
    abstract Unix sockets outside itself (ABI 6+). Covers native code too (pyarrow's
    C++ file systems, cffi), which no audit hook sees. Returns the ABI applied, 0 if none.
    """
    abi = landlock_abi()
    if abi < 1:
        return 0
    fs_rights = _FS_RIGHTS_BY_ABI[max(v for v in _FS_RIGHTS_BY_ABI if v <= abi)]
    attr = struct.pack(
        "QQQ", fs_rights, 3 if abi >= 4 else 0, 3 if abi >= 6 else 0
    )  # handled fs, handled net (bind|connect TCP), scoped (abstract unix | signal)
    size = 24 if abi >= 6 else 16 if abi >= 4 else 8
    buffer = ctypes.create_string_buffer(attr[:size], size)
    ruleset = _libc.syscall(SYS_LANDLOCK_CREATE_RULESET, buffer, ctypes.c_size_t(size), 0)
    if ruleset < 0:
        raise IsolationError(f"landlock_create_ruleset failed: {os.strerror(ctypes.get_errno())}")
    try:
        read = _FS_EXECUTE | _FS_READ_FILE | _FS_READ_DIR
        for paths, rights in ((read_roots, read), (write_roots, fs_rights), (devices, _FS_READ_FILE | _FS_WRITE_FILE)):
            for path in paths:
                try:
                    fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
                except OSError:
                    continue
                try:
                    allowed = rights & fs_rights
                    if not os.path.isdir(path):
                        allowed &= _FILE_RIGHTS
                    rule = ctypes.create_string_buffer(struct.pack("=Qi", allowed, fd), 12)
                    if _libc.syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH, rule, 0) != 0:
                        raise IsolationError(f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
                finally:
                    os.close(fd)
        if _libc.syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0) != 0:
            raise IsolationError(f"landlock_restrict_self failed: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


# System calls refused (EPERM) to the user's code: networking, other processes' memory and
# descriptors (ptrace, process_vm_*, pidfd_*), new namespaces and mounts, exec, kernel
# interfaces with a history of escapes (io_uring, bpf, userfaultfd, perf, keys). clone3
# answers ENOSYS so the C library falls back to clone, which RLIMIT_NPROC bounds.
_SECCOMP_DENIED = {
    "x86_64": {
        "socket": 41, "connect": 42, "accept": 43, "sendto": 44, "bind": 49, "listen": 50, "socketpair": 53,
        "fork": 57, "vfork": 58, "execve": 59, "ptrace": 101, "pivot_root": 155, "chroot": 161, "mount": 165,
        "umount2": 166, "init_module": 175, "add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272,
        "accept4": 288, "perf_event_open": 298, "name_to_handle_at": 303, "open_by_handle_at": 304,
        "setns": 308, "process_vm_readv": 310, "process_vm_writev": 311, "kcmp": 312, "finit_module": 313,
        "bpf": 321, "execveat": 322, "userfaultfd": 323, "pidfd_send_signal": 424, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434, "pidfd_getfd": 438,
    },
    "aarch64": {
        "umount2": 39, "mount": 40, "pivot_root": 41, "chroot": 51, "unshare": 97, "init_module": 105,
        "ptrace": 117, "socket": 198, "socketpair": 199, "bind": 200, "listen": 201, "accept": 202,
        "connect": 203, "sendto": 206, "add_key": 217, "request_key": 218, "keyctl": 219, "execve": 221,
        "perf_event_open": 241, "accept4": 242, "name_to_handle_at": 264, "open_by_handle_at": 265,
        "setns": 268, "process_vm_readv": 270, "process_vm_writev": 271, "kcmp": 272, "finit_module": 273,
        "bpf": 280, "execveat": 281, "userfaultfd": 282, "pidfd_send_signal": 424, "io_uring_setup": 425,
        "io_uring_enter": 426, "io_uring_register": 427, "pidfd_open": 434, "pidfd_getfd": 438,
    },
}  # fmt: skip
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SYS_CLONE3 = 435
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8), ("k", ctypes.c_uint32)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_uint16), ("filter", ctypes.POINTER(_SockFilter))]


def seccomp_supported() -> bool:
    return os.uname().machine in _SECCOMP_DENIED


def apply_seccomp() -> bool:
    """Install the system call filter (needs no_new_privs). False on an unknown architecture."""
    machine = os.uname().machine
    if machine not in _SECCOMP_DENIED:
        return False
    ld_abs, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06
    allow, kill, eperm, enosys = 0x7FFF0000, 0x80000000, 0x00050000 | errno.EPERM, 0x00050000 | errno.ENOSYS
    denied = sorted(set(_SECCOMP_DENIED[machine].values()))
    program = [
        (ld_abs, 0, 0, 4),  # architecture
        (jeq, 1, 0, _AUDIT_ARCH[machine]),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # system call number
    ]
    tail = len(denied) + 3  # instructions after the x32 check: the compares, clone3, allow
    program.append((jge, tail, 0, 0x40000000))  # x32 numbers on x86_64: refused
    for index, number in enumerate(denied):
        program.append((jeq, len(denied) - index + 1, 0, number))
    program.append((jeq, 1, 0, _SYS_CLONE3))
    program += [(ret, 0, 0, allow), (ret, 0, 0, enosys), (ret, 0, 0, eperm)]
    # Fix the jumps: each compare jumps to the last instruction (EPERM), clone3 to ENOSYS.
    last = len(program) - 1
    fixed = []
    for position, (code, jt, jf, k) in enumerate(program):
        if code in (jeq, jge) and position >= 4 and k != _SYS_CLONE3 and position != 1:
            jt = last - position - 1
        fixed.append(_SockFilter(code, jt, jf, k))
    filters = (_SockFilter * len(fixed))(*fixed)
    prog = _SockFprog(len(fixed), filters)
    _check(_libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0), "prctl(SET_SECCOMP)")
    return True
