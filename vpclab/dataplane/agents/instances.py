"""Instances as machines: boot (user data), stop and terminate, and how to enter one
(docs/DATAPLANE.md, "VPCs and instances").

An instance is the namespace `areas.network` makes (`<prefix>-<instance id>`), an init
(confined as `kernel/confinement.py` says), a cgroup (`kernel/cgroups.py`) and a
directory `<state_dir>/instances/<id>/`: `disk/` (its root volume, `kernel/rootfs.py`,
written as `instance_disk.py` says), `guest/` (its read-only /run/vpclab: the init's
program and the user data, filled before each boot by `prepare`), `console.log`
(GetConsoleOutput) and `first-boot-done`, the marker that makes user data run once per
instance, ever. The directory, disk included, is removed once the instance is
terminated; a stopped instance keeps it.

The init is started at boot; everything else that runs "in" the instance (user data,
`vpclab exec`, `vpclab ssh`) joins the init's namespaces and root through
`enter_command`. The instance's init is found from the host as the process of its cgroup
that is PID 1 of a child PID namespace, confined, and inside the instance's current
network namespace (`find_init`), so no pid file is trusted.

The agent moves states on when they really happen:

- `pending` -> `running`: the namespace exists (the plan was applied before `sync`) and
  the init is up. The init boots the machine itself (`vpclab/guest/init.py`: cloud-init's
  console, host keys, enabled units, and the user data when `boot.json` says first
  boot), its output going to console.log; once it is up the first-boot marker is
  written, so no later boot runs the user data again.
- `running`: if the init is gone or sits in another network namespace than the
  instance's (someone deleted the namespace by hand and the plan made a new one), every
  process left in the cgroup is killed and a new init starts, as after a reboot.
- `stopping` -> `stopped`, `shutting-down` -> `terminated`: every process of the
  instance (its cgroup, and anything else inside its network namespace) gets SIGTERM,
  then SIGKILL after `STOP_GRACE` seconds; once none is left the cgroup is removed, the
  state is written and the next plan drops the namespace. Terminated also removes the
  primary ENI (`model.observed.set_instance_state`) and the instance's directory.

There is no systemd: the image's /usr/bin/systemctl is `vpclab/guest/systemctl.py`,
written at each boot, and the init starts the enabled units at every boot.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from ...aws_names import default_user, private_host_name
from ...kernel import confinement, naming, netns
from ...guest import PROGRAMS
from ...kernel.rootfs import Disk
from . import instance_disk
from .instance_limits import limits_for
from ...kernel.cgroups import Cgroup
from ...model.ec2 import Instance
from ...model.observed import set_instance_state
from ...store.certificate_authority import CertificateAuthority
from ..world import AgentHost, World

log = logging.getLogger("vpclab.dataplane.instances")

#: Seconds between SIGTERM and SIGKILL when an instance stops.
STOP_GRACE = 3.0

#: Seconds a pass waits for a new init to be up before leaving it to the next pass.
INIT_WAIT = 5.0

#: Seconds before an init that failed to start is tried again.
INIT_RETRY = 10.0

#: Where the user data script is, as seen inside the instance (its guest directory).
USER_DATA_PATH = f"{confinement.GUEST_DIR}/user-data"

#: The init's program, as a file of the guest directory.
INIT_PROGRAM = "init.py"
INIT_SOURCE = PROGRAMS["init"].read_text()

#: The PATH user data and `vpclab exec` see.
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

FIRST_BOOT_MARKER = "first-boot-done"



# --- Layout, shared with `vpclab exec` / `vpclab ssh` ---------------------------------------

def instance_dir(state_dir: str | os.PathLike[str], instance_id: str) -> Path:
    """`<state_dir>/instances/<id>/` (GetConsoleOutput reads `console.log` there)."""
    return Path(state_dir) / "instances" / instance_id


def host_name(inst: Instance) -> str:
    return private_host_name(inst.private_ip)


def namespace_of(prefix: str, instance_id: str) -> str:
    return naming.namespace_name(prefix, instance_id)


def disk_of(state_dir: str | os.PathLike[str], instance_id: str) -> Disk:
    """The instance's root volume: `<instance dir>/disk/`."""
    return Disk(instance_dir(state_dir, instance_id) / "disk")


def guest_programs() -> dict[str, bytes]:
    """What the image answers `systemctl`, `yum` and `dnf` with (file name in /usr/bin ->
    content; `instance_disk.refresh` writes yum and dnf on Amazon Linux images only)."""
    yum = PROGRAMS["yum"].read_bytes()
    return {"systemctl": PROGRAMS["systemctl"].read_bytes(), "yum": yum, "dnf": yum}


def prepare(state_dir: Path, inst: Instance, vpc_cidr: str | None) -> tuple[Disk, Path]:
    """Make the instance's disk ready for a boot (new: personalised once) and fill its
    guest directory (`<instance dir>/guest`, the instance's read-only /run/vpclab): the
    init program and the user data. Run only while no process of the instance is left."""
    directory = instance_dir(state_dir, inst.id)
    disk = disk_of(state_dir, inst.id)
    new = disk.create()
    disk.hide([str(Path(state_dir).resolve())])  # first: what personalise writes is then on top
    if new:
        instance_disk.personalise(disk, inst)
    instance_disk.refresh(disk, inst, vpc_cidr, guest_programs(),
                          CertificateAuthority(state_dir).certificate_pem())
    guest = directory / "guest"
    guest.mkdir(parents=True, exist_ok=True)
    guest.chmod(0o700)  # the user data is the instance's and root's (the instance is root)
    (guest / INIT_PROGRAM).write_text(INIT_SOURCE)
    (guest / "systemctl.py").write_bytes(PROGRAMS["systemctl"].read_bytes())
    data = decode_user_data(inst.user_data)
    script = guest / USER_DATA_PATH.rsplit("/", 1)[1]
    if data:
        script.write_bytes(data)
        script.chmod(0o700)
    else:
        script.unlink(missing_ok=True)
    boot = {"instance_id": inst.id, "hostname": host_name(inst), "default_user": default_user(inst.distribution),
            "distribution": inst.distribution, "first_boot": not (directory / FIRST_BOOT_MARKER).exists(),
            "user_data": USER_DATA_PATH if data else None}
    (guest / "boot.json").write_text(json.dumps(boot))
    return disk, guest


def cgroup_of(prefix: str, instance_id: str) -> Cgroup:
    return Cgroup.of_instance(prefix, instance_id)


def find_init(prefix: str, instance_id: str) -> int | None:
    """Host pid of the instance's init: in its cgroup, PID 1 of a PID namespace,
    confined, and inside the instance's network namespace as it is now; else None."""
    inode = netns.inode_of(namespace_of(prefix, instance_id))
    if inode is None:
        return None
    for pid in cgroup_of(prefix, instance_id).pids():
        if (confinement.is_namespace_init(pid) and confinement.is_confined(pid)
                and confinement.net_inode(pid) == inode):
            return pid
    return None


class NoInit(RuntimeError):
    """The instance has no init running in its namespace (not booted, or being restarted)."""


def enter_command(prefix: str, instance_id: str, argv: list[str], user: str | None = None) -> list[str]:
    """The argv that runs `argv` inside the instance, confined: the namespaces and root
    of its init (network, mounts, host name, IPC, PIDs), as root or `user`. The caller
    puts the process in the instance's cgroup first (`Cgroup.join` or `join_argv`).
    Raises NoInit."""
    init = find_init(prefix, instance_id)
    if init is None:
        raise NoInit(f"instance {instance_id} has no init running")
    return confinement.enter_argv(init, argv, user)


def instance_env(home: str = "/root", user: str = "root") -> dict[str, str]:
    env = {"PATH": PATH, "HOME": home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
           "SHELL": "/bin/bash", "AWS_CA_BUNDLE": instance_disk.TRUST_BUNDLE}
    if os.environ.get("TERM"):
        env["TERM"] = os.environ["TERM"]
    return env


# --- The console --------------------------------------------------------------------------

def console(directory: Path, inst: Instance, text: str) -> None:
    """Append kernel-style lines (`[  uptime] text`) to the instance's console.log."""
    uptime = max(0.0, time.time() - inst.launch_time) if inst.launch_time else 0.0
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / "console.log", "a") as f:
        for line in text.splitlines():
            f.write(f"[{uptime:12.6f}] {line}\n")


def decode_user_data(value: str) -> bytes:
    if not value:
        return b""
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return b""


# --- The agent ----------------------------------------------------------------------------

@dataclass
class _Stopping:
    term_sent: float
    pids: set[int] = field(default_factory=set)
    killed: bool = False


class InstanceAgent:
    def __init__(self, dp: AgentHost) -> None:
        self.dp = dp
        self.state_dir = Path(dp.state_dir)
        self.prefix = dp.prefix
        # The unshare of each init this server started, and the namespace it was for.
        self._inits: dict[str, tuple[subprocess.Popen, int | None]] = {}
        self._init_failed: dict[str, float] = {}  # instance id -> monotonic time
        self._stopping: dict[str, _Stopping] = {}
        self._swept = False
        self._tasks: dict[int, set[int]] | None = None  # one /proc scan per pass

    # Agent protocol ----------------------------------------------------------------------
    def sync(self, world: World) -> None:
        self._reap()
        self._tasks = None
        # Inits of booting instances start side by side; `_boot` then waits for each.
        for inst in list(world.instances.values()):
            if (inst.state == "pending" and inst.desired_state == "running"
                    and netns.exists(namespace_of(self.prefix, inst.id))
                    and find_init(self.prefix, inst.id) is None):
                try:
                    self._start_init(world, inst, wait=False)
                except Exception:
                    log.exception("instance %s", inst.id)
            # Likewise every instance stopping gets its SIGTERM before any is waited for.
            elif inst.state in ("stopping", "shutting-down") and inst.id not in self._stopping:
                try:
                    self._shut_down(inst, wait=False)
                except Exception:
                    log.exception("instance %s", inst.id)
        for inst in list(world.instances.values()):
            try:
                if inst.state == "pending" and inst.desired_state == "running":
                    self._boot(world, inst)
                elif inst.state == "running":
                    self._keep(world, inst)
                elif inst.state in ("stopping", "shutting-down"):
                    self._shut_down(inst)
            except Exception:
                log.exception("instance %s", inst.id)
        for iid in list(self._stopping):
            if iid not in world.instances or world.instances[iid].state not in ("stopping", "shutting-down"):
                self._stopping.pop(iid, None)
        if not self._swept:
            self._swept = True
            self._sweep(world)

    def close(self) -> None:
        """Leave instance processes running (a restarted server picks them up)."""
        self._reap()

    # Boot --------------------------------------------------------------------------------
    def _vpc_cidr(self, world: World, inst: Instance) -> str | None:
        vpc = world.vpcs.get(inst.vpc_id)
        return vpc.cidr_block if vpc is not None else None

    def _keep(self, world: World, inst: Instance) -> None:
        if not netns.exists(namespace_of(self.prefix, inst.id)):
            return
        if find_init(self.prefix, inst.id) is None:
            self._start_init(world, inst, reason="its init is gone or its network namespace was replaced")

    def _boot(self, world: World, inst: Instance) -> None:
        ns = namespace_of(self.prefix, inst.id)
        if not netns.exists(ns):
            return  # not in the plan yet (e.g. its subnet is unknown): stays pending
        directory = instance_dir(self.state_dir, inst.id)
        if find_init(self.prefix, inst.id) is None and self._start_init(world, inst) is None:
            return  # stays pending; the next pass looks again
        marker = directory / FIRST_BOOT_MARKER
        if not marker.exists():
            # The init runs the user data of a first boot (boot.json): once it is up,
            # every later boot is not a first one, even if the server dies now.
            marker.write_text(f"{time.time()}\n")
        self._write_state(inst.id, "pending", "running")

    def _start_init(self, world: World, inst: Instance, reason: str | None = None,
                    wait: bool = True) -> int | None:
        """Start the instance's init (ending what is left of an earlier one) and, if
        `wait`, wait up to INIT_WAIT for it; its host pid, or None if it is not up yet."""
        ns = namespace_of(self.prefix, inst.id)
        inode = netns.inode_of(ns)
        starting, started_for = self._inits.get(inst.id, (None, None))
        if starting is not None and starting.poll() is None and started_for == inode:
            return self._wait_init(inst, starting, INIT_WAIT if wait else 0)  # started earlier
        failed = self._init_failed.get(inst.id)
        if failed is not None and time.monotonic() - failed < INIT_RETRY:
            return None
        directory = instance_dir(self.state_dir, inst.id)
        group = cgroup_of(self.prefix, inst.id)
        # What is left of an earlier life (its cgroup, or anything else in the namespace,
        # such as processes of a vpclab that had no cgroups) would keep ports busy.
        left = self._processes(group, inode)
        if left:
            console(directory, inst, f"vpclab: {inst.id}: {reason or 'processes of an earlier boot are left'}: "
                                     f"ending {len(left)} process(es) and booting again")
            group.kill()
            self._signal(left, signal.SIGKILL)
            if starting is not None:
                starting.poll()
            if self._wait_gone(group, inode, 2.0):
                return None
        try:
            disk, guest = prepare(self.state_dir, inst, self._vpc_cidr(world, inst))
        except OSError as exc:
            console(directory, inst, f"vpclab: cannot prepare the disk of {inst.id}: {exc}")
            log.warning("instance %s: cannot prepare its disk: %s", inst.id, exc)
            self._init_failed[inst.id] = time.monotonic()
            return None
        console(directory, inst, f"vpclab: booting {inst.id} ({inst.image_id}, {inst.instance_type}) "
                                 f"in namespace {ns}\n"
                                 f"vpclab: eth0 {inst.private_ip} hostname {host_name(inst)}")
        group.apply_limits(limits_for(inst.instance_type))
        argv = group.join_argv(netns.command(ns, confinement.init_argv(host_name(inst), disk, guest, INIT_PROGRAM)))
        with open(directory / "console.log", "ab") as out:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    cwd="/", env=instance_env(), start_new_session=True)
        self._inits[inst.id] = (proc, inode)
        return self._wait_init(inst, proc, INIT_WAIT) if wait else None

    def _wait_init(self, inst: Instance, proc: subprocess.Popen, timeout: float) -> int | None:
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            pid = find_init(self.prefix, inst.id)
            if pid is not None:
                self._init_failed.pop(inst.id, None)
                return pid
            if proc.poll() is not None:
                console(instance_dir(self.state_dir, inst.id), inst,
                        f"vpclab: the init of {inst.id} failed (exit code {proc.returncode}); "
                        f"trying again in {INIT_RETRY:.0f} s")
                log.warning("instance %s: init failed (exit code %s)", inst.id, proc.returncode)
                self._inits.pop(inst.id, None)
                self._init_failed[inst.id] = time.monotonic()
                return None
            if time.monotonic() >= deadline:
                return None
            time.sleep(delay)
            delay = min(delay * 2, 0.05)

    def _reap(self) -> None:
        for iid, (proc, _) in list(self._inits.items()):
            if proc.poll() is not None:
                del self._inits[iid]

    # Stop / terminate ----------------------------------------------------------------------
    def _shut_down(self, inst: Instance, wait: bool = True) -> None:
        """SIGTERM the instance's processes, SIGKILL them after STOP_GRACE, and move the
        state on once none is left (`wait=False`: only send the first SIGTERM)."""
        final = "stopped" if inst.state == "stopping" else "terminated"
        directory = instance_dir(self.state_dir, inst.id)
        group = cgroup_of(self.prefix, inst.id)
        inode = netns.inode_of(namespace_of(self.prefix, inst.id))
        pids = self._processes(group, inode)
        now = time.monotonic()
        progress = self._stopping.get(inst.id)
        if pids and progress is None:
            console(directory, inst, f"vpclab: {inst.state} {inst.id}: sending SIGTERM to "
                                     f"{len(pids)} process(es)")
            progress = self._stopping[inst.id] = _Stopping(now, set(pids))
            self._signal(pids, signal.SIGTERM)
            if not wait:
                return
        if pids and progress is not None and wait:
            # A moment for them to exit (every stopping instance got its SIGTERM together).
            pids = self._wait_gone(group, inode, max(0.0, 0.5 - (now - progress.term_sent)))
        if pids and progress is not None:
            new = [p for p in pids if p not in progress.pids]
            if new:  # started after the SIGTERM (e.g. by a dying parent)
                progress.pids.update(new)
                self._signal(new, signal.SIGTERM)
            if now - progress.term_sent >= STOP_GRACE:
                if not progress.killed:
                    console(directory, inst, f"vpclab: sending SIGKILL to {len(pids)} process(es)")
                progress.killed = True
                group.kill()
                self._signal(pids, signal.SIGKILL)
                pids = self._wait_gone(group, inode, 0.5)
        if pids:
            return  # next pass (the loop runs at least once a second)
        if not group.remove():
            return
        self._stopping.pop(inst.id, None)
        init = self._inits.pop(inst.id, None)
        if init is not None:
            init[0].poll()
        console(directory, inst, f"vpclab: {inst.id} {final}")
        if self._write_state(inst.id, inst.state, final) and final == "terminated":
            shutil.rmtree(directory, ignore_errors=True)

    def _sweep(self, world: World) -> None:
        """Remove directories of instances that are terminated or unknown (left by a
        server that stopped before it could), and their empty cgroups."""
        try:
            names = os.listdir(self.state_dir / "instances")
        except FileNotFoundError:
            return
        for iid in names:
            inst = world.instances.get(iid)
            if inst is not None and inst.state != "terminated":
                continue
            try:
                group = cgroup_of(self.prefix, iid)
            except ValueError:
                continue
            if group.pids() or not group.remove(timeout=0):
                continue
            shutil.rmtree(instance_dir(self.state_dir, iid), ignore_errors=True)

    def _processes(self, group: Cgroup, inode: int | None) -> list[int]:
        """Pids of the instance: its cgroup, and whatever else has a task in its network
        namespace, except this server itself (whose namespace threads sit there to
        program it). The namespace's tasks come from one scan of /proc per pass (those
        still alive): the cgroup holds everything vpclab started, the scan only catches
        what was entered by other means (`ip netns exec` by hand)."""
        pids = set(group.pids())
        if inode is not None:
            if self._tasks is None:
                self._tasks = netns.tasks_by_inode()
            pids.update(p for p in self._tasks.get(inode, ()) if os.path.exists(f"/proc/{p}"))
        pids.discard(os.getpid())
        return sorted(pids)

    def _wait_gone(self, group: Cgroup, inode: int | None, timeout: float) -> list[int]:
        deadline = time.monotonic() + timeout
        while True:
            self._reap()
            pids = self._processes(group, inode)
            if not pids or time.monotonic() >= deadline:
                return pids
            time.sleep(0.02)

    @staticmethod
    def _signal(pids: list[int], sig: int) -> None:
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass

    # Store ---------------------------------------------------------------------------------
    def _write_state(self, instance_id: str, expected: str, state: str) -> bool:
        """Move the instance from `expected` to `state`; False if the API moved it meanwhile."""
        with self.dp.store.write() as tx:
            inst = tx.get(Instance, instance_id)
            if inst is None or inst.state != expected:
                return False  # the next pass sees the new state
            set_instance_state(tx, inst, state, time.time())
        return True


def make_agent(dp: AgentHost) -> InstanceAgent:
    return InstanceAgent(dp)
