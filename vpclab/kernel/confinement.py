"""What keeps an instance's root from reaching the host: its own root file system,
namespaces, capabilities.

Every instance has one long-lived init, PID 1 of a PID namespace of its own, started by
`init_argv` as this chain of execs:

    sh (joins the instance's cgroup) -> ip netns exec <ns> (network namespace, a mount
    namespace with the namespace's /sys) -> unshare --mount --pid --fork --kill-child
    --uts --ipc -> sh (`rootfs.BOOT`: mount the instance's disk and its /proc, /dev,
    /run, /tmp, read-only /sys and /proc/sys..., host name, pivot_root) -> setpriv
    (capabilities) -> the image's python3 running the init from /run/vpclab

Everything else that runs in the instance (`vpclab exec`, `vpclab ssh`) joins that
init's namespaces and root with `nsenter --target <init>` and goes through the same
`setpriv` (`enter_argv`), after moving into the instance's cgroup (`cgroups.py`).

Why util-linux tools and not ctypes: the server is multi-threaded, so nothing may run
between fork and exec in its children (no preexec_fn); each step here is one exec of a
standard tool, readable in `ps` and testable by hand.

What an instance can reach: its own disk (`rootfs.py`: the host's image read-only below
its own layer, the host's private files hidden), its own /proc, /dev (no block device),
tmpfs /run and /tmp, /sys read-only, and `/run/vpclab` (read-only: the guest programs).
After pivot_root no path leads to the host's mounts. What it keeps
(`KEPT_CAPABILITIES`): Docker's default set without MKNOD. Without CAP_SYS_ADMIN no
mount, unmount, setns (so no `nsenter` into the server's namespaces) or sethostname;
without CAP_NET_ADMIN no change to its own interfaces, routes or nftables; without
CAP_SYS_PTRACE, CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_BPF, CAP_SYS_BOOT,
CAP_DAC_READ_SEARCH none of what those allow. The PID namespace hides the server's,
the host's and other instances' processes. /proc/sys, /proc/sysrq-trigger, /proc/bus,
/proc/fs, /proc/irq and /sys are read-only: root needs no capability to write
kernel.core_pattern, sysrq-trigger or PCI config space, only file permissions. The
instance's cgroup cannot be left: no cgroup file system is mounted in its view. There is
no no_new_privs: setuid programs of the image (sudo, su) work as on a machine, and gain
nothing beyond the bounding set.

What it does not stop: there is no seccomp filter (keyctl reaches root's user keyring,
which the instance shares with the host's root); the instance reads the host's image
files that every user may read.
"""
from __future__ import annotations

import os
from pathlib import Path

from . import cgroups, dependencies, rootfs
from .rootfs import Disk

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

#: Where an instance's init program is, as the instance sees it: its /run/vpclab, a
#: read-only bind of the directory the data plane fills before each boot.
GUEST_DIR = "/run/vpclab"

#: The interpreter the init runs on: the image's (the init needs only the standard library).
INTERPRETER = "/usr/bin/python3"


def unavailable_reason() -> str | None:
    """Why instances cannot be confined here (a missing tool, cgroup2, overlayfs), or None."""
    missing = dependencies.missing(dependencies.CONFINEMENT)
    if missing:
        return "; ".join(missing)
    return cgroups.unavailable_reason() or rootfs.unavailable_reason()


def drop_argv(*extra: str) -> list[str]:
    """setpriv: bounding set = KEPT_CAPABILITIES, no inheritable or ambient ones."""
    keep = ",".join(f"+{c}" for c in KEPT_CAPABILITIES)
    return ["setpriv", f"--bounding-set=-all,{keep}", "--inh-caps=-all", "--ambient-caps=-all",
            *extra, "--"]


def init_argv(host_name: str, disk: Disk, guest: Path, program: str) -> list[str]:
    """What runs inside the network namespace to become the instance's init: new
    mount, PID, UTS and IPC namespaces, then `rootfs.BOOT` (the disk becomes the root;
    `guest` is bound read-only at GUEST_DIR), then setpriv, then `program` (a file name
    in `guest`) on the image's python3."""
    return ["unshare", "--mount", "--propagation=private", "--pid", "--fork", "--kill-child",
            "--uts", "--ipc", "sh", "-c", rootfs.BOOT, host_name,
            str(disk.upper), str(disk.work), str(disk.mountpoint), str(guest),
            *drop_argv(), INTERPRETER, "-I", "-S", f"{GUEST_DIR}/{program}"]


def enter_argv(init_pid: int, argv: list[str], user: str | None = None) -> list[str]:
    """The argv that runs `argv` confined, in the namespaces and root of the init
    `init_pid` (host pid), as root or as `user` (a name in the instance's own
    /etc/passwd, with its groups). nsenter forks once inside the PID namespace and
    waits, passing the exit code on; the command gets SIGKILL if that nsenter dies (a
    `vpclab exec` killed on a timeout ends its command, as when it was the command
    itself). What the command starts is not affected: the parent-death signal is not
    inherited."""
    who = [f"--reuid={user}", f"--regid={user}", "--init-groups"] if user and user != "root" else []
    return ["nsenter", f"--target={init_pid}", "--net", "--mount", "--uts", "--ipc", "--pid",
            "--root", "--wd", *drop_argv("--pdeathsig=KILL", *who), *argv]


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
