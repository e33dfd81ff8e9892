"""One server per state directory: a lock file its server holds for its whole life.

Two servers on one state directory would each keep their own in-memory view of the store
and their own data plane (on different ports they diverge; on the same port the second
overwrites `server.json`), so the server takes an exclusive `flock` on
`<state dir>/server.lock` before it writes anything there, and keeps the descriptor open
until it exits. The kernel drops the lock when the process ends, however it ends
(`kill -9` too), so a lock is never stale. The descriptor is close-on-exec, so the
instance processes a server starts never hold it.

The holder writes its pid and URL into the lock file, so that a second server can name
the running one in its one-line refusal.
"""
from __future__ import annotations

import errno
import fcntl
import json
import os
from dataclasses import dataclass
from pathlib import Path

LOCK_FILE = "server.lock"


class StateDirError(Exception):
    """A state directory the server cannot use; `str()` is the one line a user sees."""


class StateDirBusy(StateDirError):
    """Another server holds the state directory's lock."""

    def __init__(self, state_dir: Path, holder: dict):
        self.state_dir = state_dir
        self.holder = holder
        who = "another vpclab server"
        if holder.get("pid"):
            who = f"the vpclab server pid {holder['pid']}"
            if holder.get("url"):
                who += f" at {holder['url']}"
        super().__init__(f"state directory {state_dir} is in use by {who}; stop it with "
                         f"`vpclab down --state-dir {state_dir}`, or use another --state-dir")


def unusable(state_dir: Path, exc: OSError, doing: str) -> StateDirError:
    """The one line for an OSError met while preparing `state_dir`."""
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOTDIR, errno.EEXIST) and not state_dir.is_dir():
        reason = "it is not a directory"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        reason = f"{doing}: {exc.strerror} (not writable by uid {os.geteuid()})"
    elif exc.filename is not None:
        reason = f"{doing}: {exc.strerror}"
    return StateDirError(f"cannot use {state_dir} as a state directory: {reason}")


#: File systems the kernel makes up (no files of ours can live there).
KERNEL_FILE_SYSTEMS = {"proc", "sysfs", "cgroup", "cgroup2", "devpts", "debugfs", "tracefs",
                       "securityfs", "configfs", "bpf", "pstore", "mqueue", "fusectl"}


def file_system_type(path: Path) -> str | None:
    """The type of the file system holding `path` (or its nearest existing parent), from
    /proc/self/mountinfo: the longest mount point that contains it."""
    path = path.absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    try:
        real = os.path.realpath(path)
        lines = Path("/proc/self/mountinfo").read_text().splitlines()
    except OSError:
        return None
    best, fstype = "", None
    for line in lines:
        left, _, right = line.partition(" - ")
        fields = left.split()
        if len(fields) < 5 or not right:
            continue
        mount_point = fields[4].replace("\\040", " ")
        inside = real == mount_point or real.startswith(mount_point.rstrip("/") + "/")
        if inside and len(mount_point) >= len(best):
            best, fstype = mount_point, right.split()[0]
    return fstype


def prepare(state_dir: Path) -> None:
    """Make `state_dir` if needed and check it is a directory this process can write
    (a file of its own in it, made and removed), or raise StateDirError."""
    fstype = file_system_type(state_dir)
    if fstype in KERNEL_FILE_SYSTEMS:
        raise StateDirError(f"cannot use {state_dir} as a state directory: it is on {fstype}, a file "
                            "system the kernel makes up; choose a directory on a disk")
    try:
        state_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise unusable(state_dir, exc, f"cannot make {state_dir}") from None
    if not state_dir.is_dir():
        raise StateDirError(f"cannot use {state_dir} as a state directory: it is not a directory")
    probe = state_dir / f".write-test-{os.getpid()}"
    try:
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise unusable(state_dir, exc, f"cannot write in {state_dir}") from None


def holder(state_dir: Path) -> dict:
    """What the lock file says about its holder ({} if nothing readable)."""
    try:
        data = json.loads((state_dir / LOCK_FILE).read_text() or "{}")
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class StateLock:
    """The held lock of one state directory; `release()` (or process exit) drops it."""

    state_dir: Path
    fd: int

    def record(self, info: dict) -> None:
        """Say who holds the lock (pid, url), for a second server's refusal."""
        data = json.dumps(info).encode()
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def release(self) -> None:
        if self.fd < 0:
            return
        os.ftruncate(self.fd, 0)
        os.close(self.fd)  # closing the last descriptor drops the flock
        self.fd = -1


def acquire(state_dir: Path, info: dict) -> StateLock:
    """Lock `state_dir` for this process and record `info` in the lock file; raise
    StateDirBusy (naming the holder) or StateDirError. Writes nothing else."""
    prepare(state_dir)
    path = state_dir / LOCK_FILE
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    except OSError as exc:
        raise unusable(state_dir, exc, f"cannot open {path}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        raise StateDirBusy(state_dir, holder(state_dir)) from None
    except OSError as exc:
        os.close(fd)
        raise unusable(state_dir, exc, f"cannot lock {path}") from None
    lock = StateLock(state_dir, fd)
    lock.record(info)
    return lock

