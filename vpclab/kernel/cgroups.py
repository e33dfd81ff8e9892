"""One cgroup (v2) per instance: the record of its processes that outlives its namespace.

A process cannot leave a cgroup it is put in unless it can write another cgroup's
`cgroup.procs`, and instances cannot: their mount namespace has a fresh /sys (from
`ip netns exec`) with no cgroup file system under it, read-only, and they hold no
CAP_SYS_ADMIN to mount one. So the cgroup lists every process of an instance, and
every process its processes started, even after someone deleted the instance's network
namespace by hand (its processes then sit in an orphaned namespace that no name leads
to any more).

Layout: `<cgroup2 mount>/vpclab-<prefix>/<instance id>`, nothing else in
`vpclab-<prefix>` (so `vpclab down` ends exactly one state directory's instances). No
controller is enabled: the cgroups only track. The cgroup2 mount is found in
/proc/self/mounts (/sys/fs/cgroup on a unified host, /sys/fs/cgroup/unified on a hybrid
one).
"""
from __future__ import annotations

import errno
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .naming import check_prefix

_root: Path | None = None


class CgroupUnavailable(OSError):
    """No cgroup2 file system is mounted on this host."""


def mount_point() -> Path:
    """The cgroup2 mount (the first in /proc/self/mounts); CgroupUnavailable if none."""
    global _root
    if _root is None:
        with open("/proc/self/mounts") as f:
            for line in f:
                fields = line.split()
                if len(fields) > 2 and fields[2] == "cgroup2":
                    _root = Path(fields[1].replace("\\040", " "))
                    break
        if _root is None:
            raise CgroupUnavailable(errno.ENOENT, "no cgroup2 file system is mounted "
                                    "(mount -t cgroup2 none /sys/fs/cgroup/unified)")
    return _root


def unavailable_reason() -> str | None:
    """Why instance cgroups cannot be made here, or None if they can."""
    try:
        top = mount_point()
    except CgroupUnavailable as exc:
        return exc.strerror
    probe = top / f"vpclab-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"cannot make a cgroup under {top} ({exc.strerror})"
    return None


def prefix_dir(prefix: str) -> Path:
    """`<cgroup2>/vpclab-<prefix>`: the parent of one state directory's instance cgroups."""
    return mount_point() / f"vpclab-{check_prefix(prefix)}"


@dataclass(frozen=True)
class Cgroup:
    """The cgroup of one instance (it may not exist yet, or any more)."""

    path: Path

    @classmethod
    def of_instance(cls, prefix: str, instance_id: str) -> Cgroup:
        if not instance_id or "/" in instance_id or instance_id.startswith("."):
            raise ValueError(f"bad instance id {instance_id!r}")
        return cls(prefix_dir(prefix) / instance_id)

    @property
    def procs(self) -> Path:
        """Write a pid here to move that process (and its future children) in."""
        return self.path / "cgroup.procs"

    def create(self) -> Cgroup:
        self.path.mkdir(parents=True, exist_ok=True)
        return self

    def exists(self) -> bool:
        return self.path.is_dir()

    def pids(self) -> list[int]:
        """Processes in the cgroup (zombies are not listed); [] when it does not exist."""
        try:
            text = self.procs.read_text()
        except FileNotFoundError:
            return []
        return [int(p) for p in text.split()]

    def join(self, pid: int = 0) -> None:
        """Move process `pid` (0: the caller) into the cgroup, creating it if needed."""
        self.create()
        self.procs.write_text(f"{pid or os.getpid()}\n")

    def join_argv(self, argv: list[str]) -> list[str]:
        """The argv that moves itself into the cgroup, then execs `argv` (for Popen,
        where no code runs between fork and exec)."""
        self.create()
        return ["sh", "-c", 'echo $$ > "$0" && exec "$@"', str(self.procs), *argv]

    def signal(self, sig: int) -> list[int]:
        """Send `sig` to every process in the cgroup; the pids signalled."""
        pids = self.pids()
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        return pids

    def kill(self) -> None:
        """SIGKILL every process, including ones forked meanwhile (cgroup.kill, else one
        by one)."""
        try:
            (self.path / "cgroup.kill").write_text("1\n")
        except FileNotFoundError:
            if self.exists():
                self.signal(signal.SIGKILL)
        except OSError:
            self.signal(signal.SIGKILL)

    def wait_empty(self, timeout: float) -> bool:
        """Wait until no process is left; True if none is."""
        deadline = time.monotonic() + timeout
        while self.pids():
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        return True

    def remove(self, timeout: float = 2.0) -> bool:
        """rmdir the cgroup once it is empty (an exiting process holds it for a moment);
        True if it is gone."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.path.rmdir()
                return True
            except FileNotFoundError:
                return True
            except OSError as exc:
                if exc.errno != errno.EBUSY or time.monotonic() >= deadline:
                    return False
            time.sleep(0.02)


def instance_cgroups(prefix: str) -> list[Cgroup]:
    """Every instance cgroup of `prefix` that exists."""
    try:
        top = prefix_dir(prefix)
        names = sorted(os.listdir(top))
    except (FileNotFoundError, CgroupUnavailable):
        return []
    return [Cgroup(top / n) for n in names if (top / n).is_dir()]


def remove_prefix_dir(prefix: str) -> None:
    """rmdir `vpclab-<prefix>` if nothing is left in it."""
    try:
        prefix_dir(prefix).rmdir()
    except (OSError, CgroupUnavailable):
        pass
