"""One cgroup per machine: the record of its processes that outlives its namespace, and
the limits of its CPU and memory.

A process cannot leave a cgroup it is put in unless it can write another cgroup's
`cgroup.procs`, and instances cannot: their mount namespace has a fresh /sys (from
`ip netns exec`) with no cgroup file system under it, read-only, and they hold no
CAP_SYS_ADMIN to mount one. So the cgroup lists every process of an instance, and
every process its processes started, even after someone deleted the instance's network
namespace by hand (its processes then sit in an orphaned namespace that no name leads
to any more).

A machine's cgroup is one directory `vpclab-<prefix>/<id>` in each hierarchy vpclab
uses (`Layout`), nothing else in `vpclab-<prefix>` (so `vpclab down` ends exactly one
state directory's machines):

- tracking (`pids()`, `kill()`): the cgroup2 mount when there is one (/sys/fs/cgroup on
  a unified host, /sys/fs/cgroup/unified on a hybrid one), else a v1 hierarchy (`pids`,
  then `name=systemd`, then any);
- memory: cgroup2 when its root offers the `memory` controller (vpclab enables it in
  the root's and `vpclab-<prefix>`'s `cgroup.subtree_control`; `memory.max`, and
  `memory.swap.max` 0 so swap does not dodge the limit), else the v1 `memory` hierarchy
  (`memory.limit_in_bytes`, and `memory.memsw.limit_in_bytes` where swap accounting is
  on; `memory.swappiness` 0 where it is off);
- CPU: cgroup2's `cpu` controller (`cpu.max`), else the v1 `cpu` hierarchy
  (`cpu.cfs_quota_us` / `cpu.cfs_period_us`): a quota of `vcpus` full cores per period.

A process joins every hierarchy, tracking first, before it execs the machine's program
(`join`, `join_argv`). Without a tracking hierarchy no machine can be made
(`unavailable_reason`); without a memory or CPU controller machines run without that
limit (`limits_unavailable_reason`, logged once).
"""
from __future__ import annotations

import errno
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from .naming import check_prefix

log = logging.getLogger(__name__)

#: The CPU period, in microseconds (the kernel's default): the quota is `vcpus` of it.
CPU_PERIOD_US = 100_000


class CgroupUnavailable(OSError):
    """No cgroup hierarchy vpclab can track processes in is mounted on this host."""


@dataclass(frozen=True)
class Limits:
    """What a machine may use: CPU time worth `vcpus` full cores, memory (swap
    included) of `memory_mib` MiB."""

    vcpus: float
    memory_mib: int

    @property
    def memory_bytes(self) -> int:
        return self.memory_mib * 1024 * 1024

    @property
    def cpu_quota_us(self) -> int:
        return max(1000, round(self.vcpus * CPU_PERIOD_US))


@dataclass(frozen=True)
class Hierarchy:
    """One mounted cgroup hierarchy: cgroup2 (`version` 2; `controllers`, those its root
    offers) or a v1 one (the controllers and `name=` it was mounted with)."""

    mount: Path
    version: int
    controllers: frozenset[str]


@dataclass(frozen=True)
class Layout:
    """Which hierarchy does what on this host (module docstring)."""

    track: Hierarchy
    memory: Hierarchy | None
    cpu: Hierarchy | None

    @property
    def hierarchies(self) -> tuple[Hierarchy, ...]:
        """Every hierarchy a machine's cgroup has a directory in, tracking first."""
        out = [self.track]
        for h in (self.memory, self.cpu):
            if h is not None and h not in out:
                out.append(h)
        return tuple(out)

    def missing_controllers(self) -> list[str]:
        return [name for name, h in (("memory", self.memory), ("cpu", self.cpu)) if h is None]


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def read_layout(mounts: str, v1_controllers: set[str]) -> Layout:
    """The layout that the mount table `mounts` (/proc/self/mounts) gives, with
    `v1_controllers` the controller names the kernel has (/proc/cgroups); the first
    mount of each hierarchy counts. CgroupUnavailable if none can track."""
    v2: Hierarchy | None = None
    v1: list[Hierarchy] = []
    for line in mounts.splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        mount = Path(_unescape(fields[1]))
        if fields[2] == "cgroup2" and v2 is None:
            try:
                offered = frozenset((mount / "cgroup.controllers").read_text().split())
            except OSError:
                offered = frozenset()
            v2 = Hierarchy(mount, 2, offered)
        elif fields[2] == "cgroup":
            names = frozenset(o for o in fields[3].split(",") if o in v1_controllers or o.startswith("name="))
            if names and all(h.controllers != names for h in v1):
                v1.append(Hierarchy(mount, 1, names))

    def v1_with(name: str) -> Hierarchy | None:
        return next((h for h in v1 if name in h.controllers), None)

    track = v2 or v1_with("pids") or v1_with("name=systemd") or (v1[0] if v1 else None)
    if track is None:
        raise CgroupUnavailable(errno.ENOENT, "no cgroup file system is mounted "
                                "(mount -t cgroup2 none /sys/fs/cgroup)")
    memory = v2 if v2 is not None and "memory" in v2.controllers else v1_with("memory")
    cpu = v2 if v2 is not None and "cpu" in v2.controllers else v1_with("cpu")
    return Layout(track, memory, cpu)


_layout: Layout | None = None


def layout() -> Layout:
    """This host's layout (read once); CgroupUnavailable if no hierarchy can track."""
    global _layout
    if _layout is None:
        with open("/proc/self/mounts") as f:
            mounts = f.read()
        try:
            with open("/proc/cgroups") as f:
                known = {line.split()[0] for line in f if line.strip() and not line.startswith("#")}
        except OSError:
            known = set()
        _layout = read_layout(mounts, known)
    return _layout


def unavailable_reason() -> str | None:
    """Why machine cgroups cannot be made here, or None if they can."""
    try:
        top = layout().track.mount
    except CgroupUnavailable as exc:
        return exc.strerror
    probe = top / f"vpclab-probe-{os.getpid()}"
    try:
        probe.mkdir()
        probe.rmdir()
    except OSError as exc:
        return f"cannot make a cgroup under {top} ({exc.strerror})"
    return None


#: Controllers found unusable when tried (a cgroup2 controller that would not be
#: enabled), with why: no machine gets that limit any more (`limits_unavailable_reason`).
_disabled: dict[str, str] = {}
_limits_logged = False


def limits_unavailable_reason() -> str | None:
    """Why machines here run without a CPU or memory limit, or None if they have both."""
    try:
        lay = layout()
    except CgroupUnavailable as exc:
        return exc.strerror
    reasons = list(_disabled.values())
    missing = lay.missing_controllers()
    if missing:
        reasons.insert(0, f"no {' or '.join(missing)} cgroup controller (neither in cgroup v2's "
                          f"cgroup.controllers nor a v1 hierarchy): instances run without "
                          f"{' or '.join(missing)} limits")
    return "; ".join(reasons) or None


def _log_limits_once() -> None:
    global _limits_logged
    reason = limits_unavailable_reason()
    if reason and not _limits_logged:
        _limits_logged = True
        log.warning("cgroup limits: %s", reason)


def prefix_dir(prefix: str) -> Path:
    """`<tracking hierarchy>/vpclab-<prefix>`: the parent of one state directory's
    machine cgroups there."""
    return layout().track.mount / f"vpclab-{check_prefix(prefix)}"


def prefix_dirs(prefix: str) -> list[Path]:
    """`vpclab-<prefix>` in every hierarchy vpclab uses, tracking first."""
    name = f"vpclab-{check_prefix(prefix)}"
    return [h.mount / name for h in layout().hierarchies]


@dataclass(frozen=True)
class Cgroup:
    """The cgroup of one machine (it may not exist yet, or any more): the directory
    `name` (`vpclab-<prefix>/<id>`) in every hierarchy of `layout`."""

    name: str
    layout: Layout

    @classmethod
    def of_instance(cls, prefix: str, instance_id: str) -> Cgroup:
        if not instance_id or "/" in instance_id or instance_id.startswith("."):
            raise ValueError(f"bad instance id {instance_id!r}")
        return cls(f"vpclab-{check_prefix(prefix)}/{instance_id}", layout())

    @property
    def path(self) -> Path:
        """The directory in the tracking hierarchy."""
        return self.layout.track.mount / self.name

    @property
    def paths(self) -> list[Path]:
        """The directory in every hierarchy, tracking first."""
        return [h.mount / self.name for h in self.layout.hierarchies]

    @property
    def procs(self) -> Path:
        """The tracking hierarchy's `cgroup.procs`: the machine's processes."""
        return self.path / "cgroup.procs"

    def create(self) -> Cgroup:
        for path in self.paths:
            for attempt in range(3):
                try:
                    path.mkdir(parents=True, exist_ok=True)
                    break
                except FileNotFoundError:  # a parent removed meanwhile (`remove`)
                    if attempt == 2:
                        raise
        return self

    def exists(self) -> bool:
        """Whether its directory is left in any hierarchy."""
        return any(p.is_dir() for p in self.paths)

    def pids(self) -> list[int]:
        """Processes in the cgroup (zombies are not listed); [] when it does not exist."""
        try:
            text = self.procs.read_text()
        except FileNotFoundError:
            return []
        return [int(p) for p in text.split()]

    def join(self, pid: int = 0) -> None:
        """Move process `pid` (0: the caller) into the cgroup in every hierarchy, tracking
        first, creating it if needed."""
        self.create()
        for path in self.paths:
            (path / "cgroup.procs").write_text(f"{pid or os.getpid()}\n")

    def join_argv(self, argv: list[str]) -> list[str]:
        """The argv that moves itself into the cgroup in every hierarchy (tracking first;
        it stops at the first that fails), then execs `argv` (for Popen, where no code
        runs between fork and exec)."""
        self.create()
        procs = [str(p / "cgroup.procs") for p in self.paths]
        script = 'echo $$ > "$0"' + ' && echo $$ > "$1" && shift' * (len(procs) - 1) + ' && exec "$@"'
        return ["sh", "-c", script, *procs, *argv]

    def apply_limits(self, limits: Limits | None) -> bool:
        """Give the cgroup `limits` (None: none), creating it if needed; call before its
        first process joins. False if a limit could not be set (the controller is
        missing on this host, logged once; or a write failed, logged)."""
        self.create()
        if limits is None:
            return True
        ok = True
        for what, hierarchy, apply in (("memory", self.layout.memory, self._limit_memory),
                                       ("cpu", self.layout.cpu, self._limit_cpu)):
            if hierarchy is None or what in _disabled:
                ok = False
                continue
            path = hierarchy.mount / self.name
            try:
                if hierarchy.version == 2 and not self._enable_v2(hierarchy, what):
                    ok = False
                    continue
                apply(path, hierarchy.version, limits)
            except OSError as exc:
                log.warning("cgroup %s: cannot set its %s limit: %s", path, what, exc)
                ok = False
        _log_limits_once()
        return ok

    def _enable_v2(self, hierarchy: Hierarchy, controller: str) -> bool:
        """Enable `controller` in the subtree_control of every cgroup2 ancestor of the
        cgroup (the root and `vpclab-<prefix>`), so its files exist in it; False (and
        the controller disabled for good) if the kernel refuses, as in a container whose
        root cgroup holds processes."""
        parts = self.name.split("/")[:-1]
        for depth in range(len(parts) + 1):
            control = hierarchy.mount.joinpath(*parts[:depth]) / "cgroup.subtree_control"
            try:
                if controller not in control.read_text().split():
                    control.write_text(f"+{controller}\n")
            except OSError as exc:
                _disabled[controller] = (f"cannot enable the cgroup v2 {controller} controller in "
                                         f"{control} ({exc.strerror}): instances run without "
                                         f"{controller} limits")
                return False
        return True

    @staticmethod
    def _limit_memory(path: Path, version: int, limits: Limits) -> None:
        if version == 2:
            (path / "memory.max").write_text(f"{limits.memory_bytes}\n")
            swap = path / "memory.swap.max"
            if swap.exists():
                swap.write_text("0\n")
            return
        memory = path / "memory.limit_in_bytes"
        memsw = path / "memory.memsw.limit_in_bytes"
        if not memsw.exists():
            memory.write_text(f"{limits.memory_bytes}\n")
            (path / "memory.swappiness").write_text("0\n")
            return
        # memsw may never be below the memory limit: lower memory first, raise memsw first.
        order = [memory, memsw]
        if limits.memory_bytes > int(memory.read_text()):
            order.reverse()
        for f in order:
            f.write_text(f"{limits.memory_bytes}\n")

    @staticmethod
    def _limit_cpu(path: Path, version: int, limits: Limits) -> None:
        if version == 2:
            (path / "cpu.max").write_text(f"{limits.cpu_quota_us} {CPU_PERIOD_US}\n")
            return
        (path / "cpu.cfs_period_us").write_text(f"{CPU_PERIOD_US}\n")
        (path / "cpu.cfs_quota_us").write_text(f"{limits.cpu_quota_us}\n")

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
        """rmdir the cgroup in every hierarchy once it is empty (an exiting process holds
        it for a moment), then `vpclab-<prefix>` where nothing else is left in it; True
        if the cgroup is gone everywhere."""
        deadline = time.monotonic() + timeout
        left = list(reversed(self.paths))  # tracking last: its pids stay visible until then
        while True:
            for path in list(left):
                try:
                    path.rmdir()
                    left.remove(path)
                except FileNotFoundError:
                    left.remove(path)
                except OSError as exc:
                    if exc.errno != errno.EBUSY:
                        return False
            if not left:
                break
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.02)
        for path in self.paths:
            try:
                path.parent.rmdir()
            except OSError:
                pass  # other machines' cgroups are in it
        return True


def instance_cgroups(prefix: str) -> list[Cgroup]:
    """Every machine cgroup of `prefix` that exists in any hierarchy."""
    try:
        lay = layout()
        tops = prefix_dirs(prefix)
    except CgroupUnavailable:
        return []
    names: set[str] = set()
    for top in tops:
        try:
            names.update(n for n in os.listdir(top) if (top / n).is_dir())
        except FileNotFoundError:
            pass
    return [Cgroup(f"vpclab-{prefix}/{n}", lay) for n in sorted(names)]


def remove_prefix_dir(prefix: str) -> None:
    """rmdir `vpclab-<prefix>` in every hierarchy where nothing is left in it."""
    try:
        tops = prefix_dirs(prefix)
    except CgroupUnavailable:
        return
    for top in tops:
        try:
            top.rmdir()
        except OSError:
            pass
