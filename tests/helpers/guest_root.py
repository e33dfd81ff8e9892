"""A stand-in machine for the guest programs (`vpclab/guest/`), without the data plane: an
overlay whose lower layer is the host's / (read-only) and whose upper layer lives in the
test's directory, in fresh mount, PID, network (loopback only), UTS and IPC namespaces,
with its own /proc, /run and /tmp, chrooted into, and `init.py` as PID 1.

Nothing outlives `stop()`: the namespaces hold the mounts, and PID 1's end takes every
process with it. What the guest writes lands in `upper` (the host's files stay as they
are), and `upper` is kept between boots, as an instance's disk is between stop and start.
"""
from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from vpclab.guest import PROGRAMS

from .waiting import wait_for

# Run as PID 1 of the new PID namespace, before it becomes the init.
_SETUP = r"""
set -e
M=$1 U=$2 W=$3 G=$4 HOST=$5
mount --make-rprivate /
mount -t overlay overlay -o "lowerdir=/,upperdir=$U,workdir=$W" "$M"
mount -t proc proc "$M/proc"
mount -t sysfs -o ro sysfs "$M/sys"
mount -t tmpfs -o mode=755,nosuid tmpfs "$M/dev"
for d in null zero full random urandom tty; do
  touch "$M/dev/$d"; mount --bind "/dev/$d" "$M/dev/$d"
done
mkdir -p "$M/dev/pts" "$M/dev/shm"
mount -t devpts -o newinstance,ptmxmode=0666 devpts "$M/dev/pts"
ln -s pts/ptmx "$M/dev/ptmx"
mount -t tmpfs -o mode=1777 tmpfs "$M/dev/shm"
mount -t tmpfs -o mode=755 tmpfs "$M/run"
mount -t tmpfs -o mode=1777 tmpfs "$M/tmp"
mkdir -p "$M/run/vpclab"
cp -a "$G/." "$M/run/vpclab/"
mount --bind -o ro "$M/run/vpclab" "$M/run/vpclab" 2>/dev/null || true
hostname "$HOST"
ip link set lo up
exec chroot "$M" /usr/bin/python3 -I -S /run/vpclab/init.py
"""


@dataclass
class GuestRoot:
    base: Path
    distribution: str = "debian-12"
    default_user: str = "admin"
    hostname: str = "ip-172-31-1-5"
    proc: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    init_pid: int = 0

    @property
    def upper(self) -> Path:
        return self.base / "upper"

    @property
    def console(self) -> Path:
        return self.base / "console.log"

    def console_text(self) -> str:
        return self.console.read_text(errors="replace")

    def boot(self, first_boot: bool = True, user_data: str | None = None) -> GuestRoot:
        for d in ("upper", "work", "root", "guest"):
            (self.base / d).mkdir(parents=True, exist_ok=True)
        guest = self.base / "guest"
        for name, path in PROGRAMS.items():
            (guest / f"{name}.py").write_text(path.read_text())
        user_data_path = None
        if user_data is not None:
            (guest / "user-data").write_text(user_data)
            user_data_path = "/run/vpclab/user-data"
        (guest / "boot.json").write_text(json.dumps({
            "instance_id": "i-0123456789abcdef0", "hostname": self.hostname,
            "default_user": self.default_user, "distribution": self.distribution,
            "first_boot": first_boot, "user_data": user_data_path}))
        # The image's /usr/bin/systemctl (and yum/dnf) are the guest programs, as the data
        # plane writes them into an instance's upper layer.
        bins = {"systemctl": "systemctl"}
        if self.distribution.startswith("amazon"):
            bins.update(yum="yum", dnf="yum")
        for target, program in bins.items():
            path = self.upper / "usr" / "bin" / target
            path.parent.mkdir(parents=True, exist_ok=True)
            body = PROGRAMS[program].read_text().split("\n", 1)[1]
            path.write_text("#!/usr/bin/python3 -I\n" + body)
            path.chmod(0o755)
        console = open(self.console, "ab")
        try:
            self.proc = subprocess.Popen(
                ["unshare", "--mount", "--pid", "--fork", "--kill-child", "--net", "--uts",
                 "--ipc", "sh", "-c", _SETUP, "setup", str(self.base / "root"), str(self.upper),
                 str(self.base / "work"), str(guest), self.hostname],
                stdout=console, stderr=console, stdin=subprocess.DEVNULL)
        finally:
            console.close()
        self.init_pid = wait_for(self._find_init, timeout=10, interval=0.05, what="guest init")
        return self

    def _find_init(self) -> int | None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            raise AssertionError(f"guest ended at boot: {self.console_text()[-2000:]}")
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return None
        for pid in children.split():
            try:
                comm = Path(f"/proc/{pid}/comm").read_text().strip()
            except OSError:
                continue
            if comm.startswith("python"):
                return int(pid)
        return None

    def run(self, command: str, timeout: float = 30.0, check: bool = False
            ) -> subprocess.CompletedProcess[str]:
        """Run a shell command inside the machine, as root, with cwd /."""
        argv = ["nsenter", f"--target={self.init_pid}", "--mount", "--pid", "--net", "--uts",
                "--ipc", "--root", "--wd", "/usr/bin/env", "-i",
                "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
                "HOME=/root", "/bin/sh", "-c", command]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise AssertionError(f"{command!r} -> {done.returncode}\n{done.stdout}{done.stderr}")
        return done

    def pids(self) -> list[int]:
        """Pids (as the machine sees them) of its processes."""
        out = self.run("ls /proc").stdout.split()
        return sorted(int(p) for p in out if p.isdigit())

    def wait_console(self, text: str, timeout: float = 20.0) -> str:
        return wait_for(lambda: self.console_text() if text in self.console_text() else None,
                        timeout=timeout, interval=0.05, what=f"console: {text!r}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM to its init, as the data plane stops an instance; its exit status."""
        if self.proc is None:
            return None
        try:
            os.kill(self.init_pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()  # --kill-child: SIGKILL to the init, then the namespace ends
            code = self.proc.wait()
        self.proc = None
        return code

    def kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


def shell(*words: str) -> str:
    return " ".join(shlex.quote(w) for w in words)


def wait_gone(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        time.sleep(0.05)


def booted(base: Path, **kw: object):
    """A fixture body: a booted GuestRoot, stopped (or killed) at the end."""
    guest = GuestRoot(base, **kw)  # type: ignore[arg-type]
    try:
        yield guest
    finally:
        try:
            guest.stop()
        finally:
            guest.kill()


#: A unit of the tests' own (not on the host), written into a guest's /etc/systemd/system.
HELLO_UNIT = """[Unit]
Description=Hello test service

[Service]
Type=simple
Environment="GREETING=hello there" NAME=world
EnvironmentFile=-/etc/default/hello
EnvironmentFile=-/etc/default/missing
RuntimeDirectory=hello
WorkingDirectory=/var/lib/hello
ExecStartPre=/bin/sh -c 'echo pre $$GREETING ${NAME} > /run/hello/pre'
ExecStart=/bin/sh -c 'echo "$GREETING $NAME $EXTRA $(pwd) $(id -un)"; exec sleep infinity'
ExecStop=/bin/sh -c 'echo stopping $MAINPID > /var/lib/hello/stopped'

[Install]
WantedBy=multi-user.target
"""
