"""Instance types mean something: a machine's cgroup limits its memory and CPU to its
type's, in whichever cgroup hierarchies the host has (`kernel/cgroups.py`).

Real processes in real cgroups of a per-test prefix (removed after each test, in every
hierarchy, even when it fails): a t2.micro (1 GiB) process allocating 1.5 GiB is
OOM-killed and one allocating 200 MiB lives, a t3.nano (0.5 GiB) one dies at 600 MiB,
two busy loops in a 1-vCPU cgroup get at most about one core, the limits read back from
the kernel's files; and an instance launched through the API as t3.nano has its limits
in place and loses a process that allocates past them, not its init. The layout choice
(unified, hybrid, v1 only) is checked on mount tables; this machine is hybrid, so v1 only
also runs for real with tracking in the v1 `pids` hierarchy.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.instances import launch, vexec, wait_state
from tests.helpers.server import is_root
from tests.helpers.waiting import wait_for
from vpclab.dataplane.agents.instance_limits import limits_for
from vpclab.dataplane.agents.instances import cgroup_of, find_init
from vpclab.kernel import cgroups, naming
from vpclab.kernel.cgroups import Cgroup, Hierarchy, Limits

needs_root = pytest.mark.skipif(not is_root() or cgroups.unavailable_reason() is not None,
                                reason="needs root and a cgroup hierarchy")
needs_limits = pytest.mark.skipif(not is_root() or cgroups.limits_unavailable_reason() is not None,
                                  reason="needs root and the memory and cpu cgroup controllers")

#: Allocates (and writes every page of) argv[1] MiB, then says so.
ALLOCATE = "import sys; x = bytearray(b'\\x01') * (int(sys.argv[1]) << 20); print('alive', len(x) >> 20)"

MIB = 1024 * 1024


def _clean(groups: list[Cgroup], prefix: str) -> None:
    for group in groups:
        group.kill()
        group.wait_empty(5.0)
        group.remove(timeout=5.0)
    cgroups.remove_prefix_dir(prefix)


@pytest.fixture
def machine(prefix: str) -> Iterator[Cgroup]:
    """An empty machine cgroup of the test's prefix; gone from every hierarchy after."""
    group = Cgroup.of_instance(prefix, "i-limits0000000001")
    try:
        yield group
    finally:
        _clean([group], prefix)
        assert not any(p.exists() for p in cgroups.prefix_dirs(prefix))


def _run(group: Cgroup, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(group.join_argv(argv), capture_output=True, text=True, timeout=timeout, check=False)


def _memory_dir(group: Cgroup) -> Path:
    assert group.layout.memory is not None
    return group.layout.memory.mount / group.name


def _cpu_dir(group: Cgroup) -> Path:
    assert group.layout.cpu is not None
    return group.layout.cpu.mount / group.name


def _oom_kills(group: Cgroup) -> int:
    """OOM kills the kernel counted in the cgroup (v1 memory.oom_control, v2 memory.events)."""
    assert group.layout.memory is not None
    name = "memory.events" if group.layout.memory.version == 2 else "memory.oom_control"
    for line in (_memory_dir(group) / name).read_text().splitlines():
        key, _, value = line.partition(" ")
        if key == "oom_kill":
            return int(value)
    raise AssertionError(f"no oom_kill line in {name}")


def _started(proc: subprocess.Popen, program: str) -> subprocess.Popen:
    """`proc` once its shell has joined every hierarchy and exec'd `program`."""
    wait_for(lambda: Path(f"/proc/{proc.pid}/comm").read_text().strip() == program,
             timeout=5, interval=0.01, what=f"{program} started")
    return proc


def _cgroup_of_pid(pid: int, hierarchy: Hierarchy) -> str:
    """The cgroup `pid` is in within `hierarchy` (/proc/<pid>/cgroup)."""
    for line in Path(f"/proc/{pid}/cgroup").read_text().splitlines():
        number, controllers, path = line.split(":", 2)
        if hierarchy.version == 2 and number == "0":
            return path
        if hierarchy.version == 1 and frozenset(controllers.split(",")) == hierarchy.controllers:
            return path
    raise AssertionError(f"{hierarchy} not in /proc/{pid}/cgroup")


# --- the numbers -----------------------------------------------------------------------

def test_limits_come_from_the_instance_type():
    assert limits_for("t2.micro") == Limits(vcpus=1, memory_mib=1024)
    assert limits_for("t3.nano") == Limits(vcpus=2, memory_mib=512)
    assert limits_for("m5.large") == Limits(vcpus=2, memory_mib=8192)
    assert limits_for("t9.huge") is None
    assert Limits(1, 1024).cpu_quota_us == 100_000 and Limits(1, 1024).memory_bytes == 1 << 30


# --- which hierarchy does what ---------------------------------------------------------

V1_KNOWN = {"cpu", "cpuacct", "cpuset", "memory", "pids", "devices", "freezer", "blkio", "hugetlb"}


def _v2_root(tmp_path: Path, controllers: str) -> Path:
    root = tmp_path / "unified"
    root.mkdir()
    (root / "cgroup.controllers").write_text(controllers + "\n")
    return root


def test_a_unified_host_does_everything_in_cgroup2(tmp_path):
    root = _v2_root(tmp_path, "cpuset cpu io memory hugetlb pids")
    lay = cgroups.read_layout(f"cgroup2 {root} cgroup2 rw,nosuid,nodev,noexec,relatime 0 0\n", V1_KNOWN)
    assert lay.track == lay.memory == lay.cpu and lay.track.version == 2
    assert lay.hierarchies == (lay.track,) and lay.missing_controllers() == []


def test_a_hybrid_host_tracks_in_cgroup2_and_limits_in_v1(tmp_path):
    root = _v2_root(tmp_path, "hugetlb")
    mounts = (f"cgroup /sys/fs/cgroup/cpu cgroup rw,relatime,cpu 0 0\n"
              f"cgroup /sys/fs/cgroup/memory cgroup rw,relatime,memory 0 0\n"
              f"cgroup /sys/fs/cgroup/pids cgroup rw,relatime,pids 0 0\n"
              f"cgroup2 {root} cgroup2 rw,relatime 0 0\n")
    lay = cgroups.read_layout(mounts, V1_KNOWN)
    assert (lay.track.mount, lay.track.version) == (root, 2)
    assert lay.memory == Hierarchy(Path("/sys/fs/cgroup/memory"), 1, frozenset({"memory"}))
    assert lay.cpu == Hierarchy(Path("/sys/fs/cgroup/cpu"), 1, frozenset({"cpu"}))
    assert [h.mount.name for h in lay.hierarchies] == ["unified", "memory", "cpu"]


def test_a_v1_only_host_tracks_in_pids_or_a_named_hierarchy():
    mounts = ("cgroup /c/cpu,cpuacct cgroup rw,cpu,cpuacct 0 0\n"
              "cgroup /c/memory cgroup rw,memory 0 0\n"
              "cgroup /c/systemd cgroup rw,xattr,name=systemd 0 0\n")
    lay = cgroups.read_layout(mounts + "cgroup /c/pids cgroup rw,pids 0 0\n", V1_KNOWN)
    assert lay.track.mount == Path("/c/pids") and lay.cpu.controllers == {"cpu", "cpuacct"}
    lay = cgroups.read_layout(mounts, V1_KNOWN)
    assert lay.track.mount == Path("/c/systemd") and lay.memory.mount == Path("/c/memory")


def test_no_controller_only_disables_limits_and_no_cgroup_disables_machines(tmp_path):
    root = _v2_root(tmp_path, "pids")
    lay = cgroups.read_layout(f"cgroup2 {root} cgroup2 rw 0 0\n", V1_KNOWN)
    assert lay.track.mount == root and lay.missing_controllers() == ["memory", "cpu"]
    with pytest.raises(cgroups.CgroupUnavailable):
        cgroups.read_layout("proc /proc proc rw 0 0\n", V1_KNOWN)


def test_cgroup2_limits_are_written_where_the_kernel_reads_them(tmp_path):
    """The cgroup2 files (this machine's controllers are bound to v1, so a directory tree
    stands in for the hierarchy): the controllers enabled in every ancestor, memory.max,
    memory.swap.max 0, cpu.max."""
    root = _v2_root(tmp_path, "cpu memory pids")
    lay = cgroups.read_layout(f"cgroup2 {root} cgroup2 rw 0 0\n", V1_KNOWN)
    group = Cgroup("vpclab-vl00000/i-1", lay)
    group.create()
    for d in (root, root / "vpclab-vl00000"):
        (d / "cgroup.subtree_control").write_text("")
    (group.path / "memory.swap.max").write_text("max\n")
    assert group.apply_limits(Limits(vcpus=2, memory_mib=512))
    assert (group.path / "memory.max").read_text() == f"{512 * MIB}\n"
    assert (group.path / "memory.swap.max").read_text() == "0\n"
    assert (group.path / "cpu.max").read_text() == "200000 100000\n"
    assert (root / "vpclab-vl00000" / "cgroup.subtree_control").read_text() == "+cpu\n"  # the last one written
    assert (root / "cgroup.subtree_control").read_text() == "+cpu\n"


def test_a_cgroup2_controller_the_kernel_will_not_enable_disables_that_limit(tmp_path, monkeypatch, caplog):
    monkeypatch.setattr(cgroups, "_disabled", {})
    monkeypatch.setattr(cgroups, "_limits_logged", False)
    root = _v2_root(tmp_path, "cpu memory")
    lay = cgroups.read_layout(f"cgroup2 {root} cgroup2 rw 0 0\n", V1_KNOWN)
    group = Cgroup("vpclab-vl00000/i-1", lay).create()
    (root / "cgroup.subtree_control").mkdir()  # writing it fails, as EBUSY would
    with caplog.at_level("WARNING", logger="vpclab.kernel.cgroups"):
        assert not group.apply_limits(Limits(vcpus=1, memory_mib=512))
        assert not Cgroup("vpclab-vl00000/i-2", lay).apply_limits(Limits(vcpus=1, memory_mib=512))
    reason = cgroups.limits_unavailable_reason()
    assert reason and "cannot enable the cgroup v2 memory controller" in reason and "cpu controller" in reason
    assert [r.getMessage() for r in caplog.records] == [f"cgroup limits: {reason}"]  # said once
    assert not (group.path / "memory.max").exists()


# --- real cgroups on this host ---------------------------------------------------------

@needs_limits
def test_a_t2_micro_process_past_1_gib_is_oom_killed_and_one_of_200_mib_lives(machine):
    assert machine.apply_limits(limits_for("t2.micro"))
    small = _run(machine, [sys.executable, "-c", ALLOCATE, "200"])
    assert small.returncode == 0 and small.stdout.split() == ["alive", "200"], small.stderr
    assert _oom_kills(machine) == 0
    big = _run(machine, [sys.executable, "-c", ALLOCATE, "1536"])
    assert big.returncode == -9 and "alive" not in big.stdout, (big.returncode, big.stderr)
    assert _oom_kills(machine) >= 1


@needs_limits
def test_a_t3_nano_process_dies_at_600_mib(machine):
    assert machine.apply_limits(limits_for("t3.nano"))
    r = _run(machine, [sys.executable, "-c", ALLOCATE, "600"])
    assert r.returncode == -9 and "alive" not in r.stdout, (r.returncode, r.stderr)
    assert _oom_kills(machine) >= 1


def _cpu_seconds(pids: list[int]) -> float:
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


def _throttled(group: Cgroup) -> int:
    stat = dict(line.split() for line in (_cpu_dir(group) / "cpu.stat").read_text().splitlines())
    return int(stat["nr_throttled"])


def _cores_used(pids: list[int], seconds: float = 1.0) -> float:
    before, start = _cpu_seconds(pids), time.monotonic()
    time.sleep(seconds)
    return (_cpu_seconds(pids) - before) / (time.monotonic() - start)


@needs_limits
def test_two_busy_loops_in_a_1_vcpu_cgroup_get_at_most_one_core(machine):
    """On this 2-core machine (shared with other work, so the loops may get less than
    two cores anyway), then with a fifth of a core, where the quota must bite."""
    assert machine.apply_limits(Limits(vcpus=1, memory_mib=256))
    busy = [subprocess.Popen(machine.join_argv([sys.executable, "-c", "while True: pass"])) for _ in range(2)]
    try:
        time.sleep(0.3)  # both past the shell and the interpreter's start
        pids = [p.pid for p in busy]
        used = _cores_used(pids)
        assert used <= 1.2, f"{used:.2f} cores used by a 1-vCPU cgroup"
        assert machine.apply_limits(Limits(vcpus=0.2, memory_mib=256))
        time.sleep(0.2)
        throttled = _throttled(machine)
        used = _cores_used(pids)
        assert used <= 0.3, f"{used:.2f} cores used by a 0.2-vCPU cgroup"
        assert _throttled(machine) > throttled  # the quota held them back, not the machine's load
    finally:
        for p in busy:
            p.kill()
            p.wait()


@needs_limits
def test_limits_read_back_from_the_kernel_files(machine):
    assert machine.apply_limits(limits_for("t2.micro"))
    memory, cpu = _memory_dir(machine), _cpu_dir(machine)
    if machine.layout.memory.version == 2:
        assert (memory / "memory.max").read_text() == f"{1024 * MIB}\n"
        assert (cpu / "cpu.max").read_text() == "100000 100000\n"
    else:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 1024 * MIB
        if (memory / "memory.memsw.limit_in_bytes").exists():
            assert int((memory / "memory.memsw.limit_in_bytes").read_text()) == 1024 * MIB
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 100_000
        assert int((cpu / "cpu.cfs_period_us").read_text()) == 100_000
    # A type with more of both (a stopped instance's type was modified) raises them in place.
    assert machine.apply_limits(limits_for("m5.large"))
    if machine.layout.memory.version == 1:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 8192 * MIB
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 200_000
    assert machine.apply_limits(limits_for("t3.nano"))
    if machine.layout.memory.version == 1:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 512 * MIB


@needs_root
def test_join_and_join_argv_put_a_process_in_every_hierarchy(machine):
    machine.apply_limits(limits_for("t2.micro"))
    sleeper = _started(subprocess.Popen(machine.join_argv(["sleep", "30"])), "sleep")
    joined = subprocess.Popen(["sleep", "30"])
    try:
        machine.join(joined.pid)
        for proc in (sleeper, joined):
            for h in machine.layout.hierarchies:
                assert _cgroup_of_pid(proc.pid, h) == f"/{machine.name}", h
        assert sorted(machine.pids()) == sorted([sleeper.pid, joined.pid])
    finally:
        for proc in (sleeper, joined):
            proc.kill()
            proc.wait()


@needs_root
def test_remove_leaves_nothing_in_any_hierarchy(prefix):
    groups = [Cgroup.of_instance(prefix, f"i-limits00000000000{n}") for n in (1, 2)]
    try:
        procs = [_started(subprocess.Popen(g.join_argv(["sleep", "30"])), "sleep") for g in groups]
        for g in groups:
            g.apply_limits(Limits(1, 256))
        assert {g.name for g in cgroups.instance_cgroups(prefix)} == {g.name for g in groups}
        assert not groups[0].remove(timeout=0.1)  # a process is in it
        groups[0].kill()
        procs[0].wait()
        assert groups[0].remove()
        assert not groups[0].exists()
        assert all(p.is_dir() for p in cgroups.prefix_dirs(prefix))  # the other one's is left
        groups[1].kill()
        procs[1].wait()
        assert groups[1].remove()
        assert not any(p.exists() for p in cgroups.prefix_dirs(prefix))
    finally:
        _clean(groups, prefix)


@needs_limits
def test_a_v1_only_layout_tracks_and_limits_in_v1(prefix):
    """What a host without cgroup2 gets, for real: tracking in the v1 `pids` hierarchy
    (no cgroup.kill there: `kill` signals one by one)."""
    here = cgroups.layout()
    lay = cgroups.read_layout(Path("/proc/self/mounts").read_text().replace(" cgroup2 ", " none "),
                              {line.split()[0] for line in Path("/proc/cgroups").read_text().splitlines()[1:]})
    if lay.track.version != 1 or lay.track == here.track:
        pytest.skip("needs v1 hierarchies beside cgroup2")
    group = Cgroup(f"vpclab-{naming.check_prefix(prefix)}/i-limitsv100000001", lay)
    try:
        assert group.apply_limits(limits_for("t3.nano"))
        sleeper = _started(subprocess.Popen(group.join_argv(["sleep", "30"])), "sleep")
        for h in lay.hierarchies:
            assert h.version == 1
            assert _cgroup_of_pid(sleeper.pid, h) == f"/{group.name}"
        assert group.pids() == [sleeper.pid]
        r = _run(group, [sys.executable, "-c", ALLOCATE, "600"])
        assert r.returncode == -9
        group.kill()
        assert sleeper.wait(5) == -9
        assert group.wait_empty(2.0) and group.remove()
        assert not any((h.mount / group.name).parent.exists() for h in lay.hierarchies)
    finally:
        _clean([group], prefix)


# --- through the API -------------------------------------------------------------------

@needs_limits
def test_an_instance_launched_as_t3_nano_has_its_limits(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    iid = launch(ec2, "nano", user_data=None, InstanceType="t3.nano")["InstanceId"]
    wait_state(ec2, iid, "running")
    group = cgroup_of(prefix, iid)
    memory, cpu = _memory_dir(group), _cpu_dir(group)
    if group.layout.memory.version == 2:
        assert (memory / "memory.max").read_text() == f"{512 * MIB}\n"
        assert (cpu / "cpu.max").read_text() == "200000 100000\n"
    else:
        assert int((memory / "memory.limit_in_bytes").read_text()) == 512 * MIB
        assert int((cpu / "cpu.cfs_quota_us").read_text()) == 200_000
    init = find_init(prefix, iid)
    assert init is not None
    for h in group.layout.hierarchies:
        assert _cgroup_of_pid(init, h) == f"/{group.name}"
    small = vexec(srv, iid, "python3", "-c", ALLOCATE, "100")
    assert small.returncode == 0 and "alive 100" in small.stdout, small.stderr
    big = vexec(srv, iid, "python3", "-c", ALLOCATE, "600")
    assert big.returncode in (-9, 137) and "alive" not in big.stdout, (big.returncode, big.stderr)
    assert find_init(prefix, iid) == init  # the allocation died, not the machine
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    assert not group.exists()
