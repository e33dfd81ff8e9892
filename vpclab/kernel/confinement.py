"""What keeps an instance's root from reaching the host: namespaces, capabilities, mounts.

Every instance has one long-lived init (`instance_init.py`), PID 1 of a PID namespace
of its own, started by `init_argv` as this chain of execs:

    sh (joins the instance's cgroup) -> ip netns exec <ns> (network namespace, a mount
    namespace with a fresh /sys) -> sh (bind mounts, `netns.command`) -> unshare --pid
    --fork --kill-child --mount-proc --uts --ipc -> sh (HARDEN: read-only /sys and
    /proc/sys..., host name) -> setpriv (capabilities, no_new_privs) -> python init

Everything else that runs in the instance (user data, `vpclab exec`, `vpclab ssh`)
joins that init's namespaces with `nsenter --target <init>` and goes through the same
`setpriv` (`enter_argv`), after moving into the instance's cgroup (`cgroups.py`).

Why util-linux tools and not ctypes: the server is multi-threaded, so nothing may run
between fork and exec in its children (no preexec_fn); each step here is one exec of a
standard tool, readable in `ps` and testable by hand. `setpriv` sets the bounding,
inheritable and ambient sets and no_new_privs in one place.

What an instance keeps (`KEPT_CAPABILITIES`): Docker's default set without MKNOD (Docker
pairs MKNOD with a device cgroup; vpclab has none). As root in the initial user
namespace, its processes get exactly this set, effective and permitted, after every
exec. Without CAP_SYS_ADMIN no mount, setns (so no `nsenter` into the server's
namespaces), sethostname or unmounting of the binds that hide /run/netns; without
CAP_NET_ADMIN no change to its own interfaces, routes or nftables; without
CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_BPF, CAP_SYS_BOOT, CAP_DAC_READ_SEARCH
none of what those allow. The PID namespace hides the server's and the host's processes
(root without CAP_KILL may still signal processes of its own uid that it can see).
/proc/sys, /proc/sysrq-trigger, /proc/bus, /proc/fs, /proc/irq and /sys are read-only:
root needs no capability to write kernel.core_pattern, sysrq-trigger or PCI config
space, only file permissions. The instance's cgroup cannot be left: no cgroup file
system is mounted in its view.

What it does not stop (instances get their own file system in a later issue): the
processes are uid 0 on the host's file system with CAP_DAC_OVERRIDE, so they can write
any host file outside their private directories (which is how `apt-get install` in user
data works), and so still become root on the host by writing a file the host runs
(cron, /usr/bin, vpclab itself); /dev is the host's (block devices included); there is
no seccomp filter (keyctl reaches root's user keyring). The capabilities close the
direct routes only: setns, mounts, kernel knobs, ptrace, signals to the host.
"""
from __future__ import annotations

import os
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from . import cgroups, dependencies

#: Capabilities an instance's processes hold (bounding = permitted = effective).
KEPT_CAPABILITIES = (
    "chown", "dac_override", "fsetid", "fowner", "net_raw", "setgid", "setuid", "setfcap",
    "setpcap", "net_bind_service", "sys_chroot", "kill", "audit_write",
)

#: Bit numbers (linux/capability.h) of KEPT_CAPABILITIES.
_CAP_BITS = {
    "chown": 0, "dac_override": 1, "fowner": 3, "fsetid": 4, "kill": 5, "setgid": 6,
    "setuid": 7, "setpcap": 8, "net_bind_service": 10, "net_raw": 13, "sys_chroot": 18,
    "audit_write": 29, "setfcap": 31,
}

#: The capability mask of a confined process (CapBnd/CapEff in /proc/<pid>/status).
KEPT_MASK = sum(1 << _CAP_BITS[c] for c in KEPT_CAPABILITIES)

INIT_PROGRAM = Path(__file__).with_name("instance_init.py")

#: Where an instance runs its init's program from: its own /run, where `prepare` copies
#: INIT_PROGRAM at every boot. vpclab's own files may sit under a directory the instance
#: has a private copy of (a clone in /tmp or /home), so the instance may not see them.
INIT_PATH = "/run/vpclab/init.py"
INIT_SOURCE = INIT_PROGRAM.read_text()

#: Run as PID 1 of the new namespaces while it still holds every capability: make the
#: kernel's global knobs read-only, set the host name ($0), exec the rest.
HARDEN = (
    'mount -o remount,bind,ro /sys || exit 125; '
    'for p in /proc/sys /proc/sysrq-trigger /proc/bus /proc/fs /proc/irq; do '
    '[ -e "$p" ] || continue; '
    'mount --bind -o ro "$p" "$p" '
    '|| { echo "vpclab: cannot make $p read-only" >&2; exit 125; }; done; '
    'hostname "$0" || exit 125; exec "$@"'
)


def unavailable_reason() -> str | None:
    """Why instances cannot be confined here (a missing tool or cgroup2), or None."""
    missing = dependencies.missing(dependencies.CONFINEMENT)
    if missing:
        return "; ".join(missing)
    return cgroups.unavailable_reason()


def drop_argv(*extra: str) -> list[str]:
    """setpriv: bounding set = KEPT_CAPABILITIES, no inheritable or ambient ones, and
    no_new_privs (setuid programs gain nothing; root keeps its set)."""
    keep = ",".join(f"+{c}" for c in KEPT_CAPABILITIES)
    return ["setpriv", f"--bounding-set=-all,{keep}", "--inh-caps=-all", "--ambient-caps=-all",
            "--nnp", *extra, "--"]


def init_argv(host_name: str, hidden: Iterable[str] = ()) -> list[str]:
    """What runs inside the network namespace (after its bind mounts, whose targets are
    `hidden`) to become the instance's init: new PID, mount, UTS and IPC namespaces, then
    HARDEN, then setpriv."""
    return ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc", "--uts", "--ipc",
            "sh", "-c", HARDEN, host_name, *drop_argv(),
            interpreter(hidden), "-I", "-S", INIT_PATH]


def interpreter(hidden: Iterable[str]) -> str:
    """A Python the instance can see (the init needs only the standard library): the
    binary behind this one (a venv's python is a link to it), unless it lies under a
    directory the instance has its own copy of; then the system's python3."""
    real = os.path.realpath(sys.executable)
    if not any(os.path.commonpath([real, top]) == top for top in hidden):
        return real
    return shutil.which("python3", path="/usr/bin:/bin") or real


def enter_argv(init_pid: int, argv: list[str]) -> list[str]:
    """The argv that runs `argv` confined, in the namespaces of the init `init_pid`
    (host pid). nsenter forks once inside the PID namespace and waits, passing the exit
    code on; the command gets SIGKILL if that nsenter dies (a `vpclab exec` killed on a
    timeout ends its command, as when it was the command itself). What the command
    starts is not affected: the parent-death signal is not inherited."""
    return ["nsenter", f"--target={init_pid}", "--net", "--mount", "--uts", "--ipc", "--pid",
            *drop_argv("--pdeathsig=KILL"), *argv]


# --- Reading processes from the host ----------------------------------------------------------

def _status(pid: int) -> dict[str, str]:
    out: dict[str, str] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key, _, value = line.partition(":")
                out[key] = value.strip()
    except OSError:
        pass
    return out


def is_namespace_init(pid: int) -> bool:
    """True if `pid` is PID 1 of a PID namespace one level below this process's."""
    ids = _status(pid).get("NSpid", "").split()
    return len(ids) == 2 and ids[1] == "1"


def namespace_pid(pid: int) -> int | None:
    """The pid that process `pid` has inside its own (innermost) PID namespace."""
    ids = _status(pid).get("NSpid", "").split()
    return int(ids[-1]) if ids else None


def is_confined(pid: int) -> bool:
    """True if `pid` holds no capability beyond KEPT_CAPABILITIES (it passed setpriv)."""
    status = _status(pid)
    try:
        return (int(status["CapBnd"], 16) | int(status["CapEff"], 16)) & ~KEPT_MASK == 0
    except (KeyError, ValueError):
        return False


def net_inode(pid: int) -> int | None:
    """Inode of the network namespace of process `pid`, or None if it is gone."""
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None
