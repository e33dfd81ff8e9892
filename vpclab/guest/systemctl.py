#!/usr/bin/python3 -I
"""systemctl inside a vpclab instance, which has no systemd: it reads the image's unit
files and runs their Exec lines itself, keeping each unit's state under
/run/vpclab-systemd/ (a tmpfs: gone at reboot, as systemd's is).

One file, standard library only: it is copied into the instance alone and runs under the
image's python3. The instance's init (`init.py`) calls it at boot (`vpclab-boot`: start
every enabled service) and at shutdown (`vpclab-shutdown`: stop every active one).

What stands in for what systemd has:
- A unit's processes are those whose environment holds the unit's INVOCATION_ID (systemd
  sets it too), and their descendants; there are no cgroups inside an instance.
- The main PID is the process of Type=simple/exec/notify started here, PIDFile= or the
  first process left for Type=forking. A recorded pid counts only while its start time
  in /proc matches, so a reused pid is not the unit.
- Output of every Exec line goes to /var/log/<unit>.log; there is no journal.
- Nothing restarts a unit that dies (Restart= is not honoured) and nothing is ordered by
  After=/Requires=; targets, sockets and timers are not started.
"""
from __future__ import annotations

import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system",
             "/usr/lib/systemd/system")
ENABLE_DIR = "/etc/systemd/system"
STATE_DIR = "/run/vpclab-systemd"
LOG_DIR = "/var/log"
UNIT_TYPES = ("service", "socket", "target", "timer", "path", "mount", "slice", "scope",
              "device", "swap", "automount")
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#: Cap on TimeoutStartSec=/TimeoutStopSec= (systemd's default is 90 s).
MAX_TIMEOUT = 90.0


class Failure(Exception):
    """A command that cannot go on: `message` for stderr, `code` for the exit status."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# --- Unit files -------------------------------------------------------------------------------

@dataclass
class Unit:
    name: str
    path: str
    sections: dict[str, dict[str, list[str]]] = field(default_factory=dict)
    instance: str = ""
    masked: bool = False

    def values(self, section: str, key: str) -> list[str]:
        return self.sections.get(section, {}).get(key, [])

    def value(self, section: str, key: str, default: str = "") -> str:
        found = self.values(section, key)
        return found[-1] if found else default

    def service(self, key: str, default: str = "") -> str:
        return self.value("Service", key, default)

    def flag(self, key: str, default: bool = False) -> bool:
        raw = self.service(key)
        return default if not raw else raw.lower() in ("1", "yes", "true", "on")

    @property
    def description(self) -> str:
        return self.specifiers(self.value("Unit", "Description", self.name))

    @property
    def type(self) -> str:
        default = "oneshot" if not self.values("Service", "ExecStart") else "simple"
        return self.service("Type", default)

    @property
    def has_install(self) -> bool:
        return any(self.values("Install", k) for k in ("WantedBy", "RequiredBy", "Alias", "Also"))

    def specifiers(self, text: str) -> str:
        prefix = self.name.rsplit(".", 1)[0].split("@", 1)[0]
        table = {"n": self.name, "N": self.name.rsplit(".", 1)[0], "p": prefix,
                 "i": self.instance, "I": self.instance, "t": "/run", "f": "/" + self.instance,
                 "h": "/root", "u": "root", "H": socket.gethostname(), "%": "%"}
        return re.sub(r"%(.)", lambda m: table.get(m.group(1), m.group(0)), text)


def parse(path: str, into: dict[str, dict[str, list[str]]]) -> None:
    """Read one unit file or drop-in into `into`; an empty assignment resets a list."""
    section = ""
    with open(path, errors="replace") as f:
        lines = f.read().splitlines()
    i = 0
    while i < len(lines):
        line = lines[i].strip()
        i += 1
        while line.endswith("\\") and i < len(lines):
            line = line[:-1] + " " + lines[i].strip()
            i += 1
        if not line or line[0] in "#;":
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            into.setdefault(section, {})
            continue
        key, sep, value = line.partition("=")
        if not sep:
            continue
        key, value = key.strip(), value.strip()
        entries = into.setdefault(section, {}).setdefault(key, [])
        if value:
            entries.append(value)
        else:
            entries.clear()


def canonical(name: str) -> str:
    """`nginx` -> `nginx.service`; names with a unit type keep it."""
    if "." in name and name.rsplit(".", 1)[1] in UNIT_TYPES:
        return name
    return name + ".service"


def load(name: str) -> Unit | None:
    """The unit `name` names (an alias link leads to its target), or None."""
    name = canonical(name)
    for directory in UNIT_DIRS:
        path = os.path.join(directory, name)
        if not os.path.lexists(path):
            continue
        real = _follow(path)
        if real == "/dev/null":
            return Unit(name, path, masked=True)
        if not os.path.isfile(real):
            continue
        return _read(os.path.basename(real), real)
    if "@" in name:
        base, _, rest = name.partition("@")
        instance, _, kind = rest.rpartition(".")
        template = load(f"{base}@.{kind}") if instance else None
        if template is not None and not template.masked:
            unit = _read(name, template.path)
            unit.instance = instance
            return unit
    for candidate in _all_unit_files():  # Alias= of a unit not enabled yet (`sshd` -> ssh)
        unit = _read(os.path.basename(candidate), candidate)
        if name in unit.values("Install", "Alias") or any(
                name in v.split() for v in unit.values("Install", "Alias")):
            return unit
    return None


def _follow(path: str) -> str:
    """Where a chain of unit links ends, spelled as the links spell it (systemd shows
    /lib/systemd/system/..., not the /usr/lib the /lib link leads to)."""
    for _ in range(8):
        if not os.path.islink(path):
            return path
        target = os.readlink(path)
        path = os.path.normpath(os.path.join(os.path.dirname(path), target))
    return path


def _read(name: str, path: str) -> Unit:
    unit = Unit(name, path)
    parse(path, unit.sections)
    for directory in reversed(UNIT_DIRS):  # drop-ins: /etc overrides the others
        dropins = os.path.join(directory, name + ".d")
        if os.path.isdir(dropins):
            for conf in sorted(os.listdir(dropins)):
                if conf.endswith(".conf"):
                    parse(os.path.join(dropins, conf), unit.sections)
    return unit


def _all_unit_files(kind: str = "service") -> Iterator[str]:
    seen: set[str] = set()
    for directory in UNIT_DIRS:
        try:
            names = sorted(os.listdir(directory))
        except OSError:
            continue
        for fname in names:
            path = os.path.join(directory, fname)
            if fname.endswith("." + kind) and fname not in seen and "@." not in fname \
                    and not os.path.islink(path) and os.path.isfile(path):
                seen.add(fname)
                yield path


def require(name: str) -> Unit:
    unit = load(name)
    if unit is None:
        raise Failure(f"Unit {canonical(name)} not found.", 5)
    return unit


# --- Enablement -------------------------------------------------------------------------------

def wants_links(unit: Unit) -> list[str]:
    """Links under /etc/systemd/system that enable `unit` (`*.wants/`, `*.requires/`)."""
    found = []
    try:
        dirs = sorted(os.listdir(ENABLE_DIR))
    except OSError:
        return []
    for d in dirs:
        if not (d.endswith(".wants") or d.endswith(".requires")):
            continue
        link = os.path.join(ENABLE_DIR, d, unit.name)
        if os.path.lexists(link):
            found.append(link)
    return found


def alias_links(unit: Unit) -> list[str]:
    out = []
    for alias in " ".join(unit.values("Install", "Alias")).split():
        link = os.path.join(ENABLE_DIR, alias)
        if os.path.islink(link) and _follow(link) == unit.path:
            out.append(link)
    return out


def enabled_state(unit: Unit) -> str:
    if unit.masked:
        return "masked"
    if wants_links(unit) or alias_links(unit):
        return "enabled"
    if not unit.has_install:
        return "static"
    return "disabled"


def enabled_services() -> list[str]:
    """Services enabled in /etc/systemd/system (`*.wants/` links), in name order."""
    names: set[str] = set()
    try:
        dirs = os.listdir(ENABLE_DIR)
    except OSError:
        return []
    for d in dirs:
        if d.endswith(".wants") or d.endswith(".requires"):
            try:
                names.update(n for n in os.listdir(os.path.join(ENABLE_DIR, d))
                             if n.endswith(".service"))
            except OSError:
                pass
    return sorted(names)


def enable(unit: Unit, out: list[str]) -> None:
    if unit.masked:
        raise Failure(f"Failed to enable unit: Unit file {unit.name} is masked.")
    if not unit.has_install:
        out.append("The unit files have no installation config (WantedBy=, RequiredBy=, "
                   "Also=, Alias= settings in the [Install] section, and DefaultInstance= "
                   "for template units). This means they are not meant to be enabled or "
                   "disabled using systemctl.")
        return
    targets = [(f"{t}.wants", t) for v in unit.values("Install", "WantedBy") for t in v.split()]
    targets += [(f"{t}.requires", t) for v in unit.values("Install", "RequiredBy")
                for t in v.split()]
    links = [os.path.join(ENABLE_DIR, d, unit.name) for d, _ in targets]
    links += [os.path.join(ENABLE_DIR, a)
              for v in unit.values("Install", "Alias") for a in v.split()]
    for link in links:
        if os.path.islink(link) and _follow(link) == unit.path:
            continue
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.unlink(link)
        os.symlink(unit.path, link)
        out.append(f"Created symlink {link} \u2192 {unit.path}.")
    for also in " ".join(unit.values("Install", "Also")).split():
        other = load(also)
        if other is not None:
            enable(other, out)


def disable(unit: Unit, out: list[str]) -> None:
    for link in wants_links(unit) + alias_links(unit):
        os.unlink(link)
        out.append(f'Removed "{link}".')
    for also in " ".join(unit.values("Install", "Also")).split():
        other = load(also)
        if other is not None:
            disable(other, out)


# --- Processes --------------------------------------------------------------------------------

@dataclass
class Proc:
    pid: int
    ppid: int
    state: str
    start: int
    comm: str


def read_proc(pid: int) -> Proc | None:
    try:
        with open(f"/proc/{pid}/stat") as f:
            raw = f.read()
    except OSError:
        return None
    comm = raw[raw.index("(") + 1:raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2:].split()
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]), comm)


def alive(pid: int | None, start: int | None = None) -> bool:
    if not pid:
        return False
    p = read_proc(pid)
    return p is not None and p.state not in ("Z", "X") and (start is None or p.start == start)


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            parts = f.read().rstrip(b"\0").split(b"\0")
    except OSError:
        return ""
    return " ".join(p.decode(errors="replace") for p in parts)


def unit_processes(invocation: str, main: int | None = None) -> list[int]:
    """Live processes that carry INVOCATION_ID=`invocation` (daemons that rewrite their
    title lose it: nginx, sshd), the main process, and their descendants."""
    tag = f"INVOCATION_ID={invocation}".encode()
    procs: dict[int, Proc] = {}
    members: set[int] = {main} if main else set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        p = read_proc(int(entry))
        if p is None or p.state in ("Z", "X") or p.pid == os.getpid():
            continue
        procs[p.pid] = p
        try:
            with open(f"/proc/{p.pid}/environ", "rb") as f:
                if tag in f.read().split(b"\0"):
                    members.add(p.pid)
        except OSError:
            pass
    grew = True
    while grew:
        grew = False
        for p in procs.values():
            if p.pid not in members and p.ppid in members:
                members.add(p.pid)
                grew = True
    return sorted(members)


def signal_all(pids: list[int], sig: int) -> None:
    for pid in pids:
        try:
            os.kill(pid, sig)
        except OSError:
            pass


# --- State ------------------------------------------------------------------------------------

def state_path(unit: Unit) -> str:
    return os.path.join(STATE_DIR, unit.name + ".json")


def read_state(unit: Unit) -> dict[str, object]:
    try:
        with open(state_path(unit)) as f:
            data = json.load(f)
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}


def write_state(unit: Unit, data: dict[str, object]) -> None:
    os.makedirs(STATE_DIR, exist_ok=True)
    tmp = state_path(unit) + ".new"
    with open(tmp, "w") as f:
        json.dump(data, f)
    os.replace(tmp, state_path(unit))


def _int(value: object) -> int | None:
    return value if isinstance(value, int) else None


def main_pid(unit: Unit, state: dict[str, object]) -> int | None:
    pid = _int(state.get("main_pid"))
    return pid if alive(pid, _int(state.get("main_start"))) else None


def active_state(unit: Unit) -> tuple[str, str]:
    """(ActiveState, SubState) as systemd names them."""
    state = read_state(unit)
    recorded = state.get("active")
    if recorded == "failed":
        return "failed", "failed"
    if recorded != "active":
        return "inactive", "dead"
    if unit.type == "oneshot":
        return "active", "exited"
    if main_pid(unit, state):
        return "active", "running"
    if unit.flag("RemainAfterExit"):
        return "active", "exited"
    return "inactive", "dead"


# --- Running Exec lines -----------------------------------------------------------------------

@dataclass
class Command:
    argv: list[str]
    argv0: str
    ignore_failure: bool = False
    privileged: bool = False
    text: str = ""


def expand(word: str, env: dict[str, str]) -> str:
    """${VAR} inside a word; `$$` is a literal `$`."""
    return re.sub(r"\$\$|\$\{(\w+)\}",
                  lambda m: "$" if m.group(0) == "$$" else env.get(m.group(1), ""), word)


def command(unit: Unit, line: str, env: dict[str, str]) -> Command:
    """systemd's command line: prefixes, specifiers, quoting, $VAR and ${VAR}."""
    ignore = privileged = at = no_expand = False
    while line and line[0] in "-@+!:|":
        c, line = line[0], line[1:]
        ignore |= c == "-"
        at |= c == "@"
        privileged |= c in "+!"
        no_expand |= c == ":"
    text = unit.specifiers(line)
    argv: list[str] = []
    for word in shlex.split(text, posix=True):
        if no_expand:
            argv.append(word)
        elif re.fullmatch(r"\$(\w+)", word):
            argv.extend(env.get(word[1:], "").split())
        else:
            argv.append(expand(word, env))
    if not argv:
        raise Failure(f"{unit.name}: empty command line")
    argv0 = argv[0]
    if at and len(argv) > 1:
        argv = argv[1:]
    return Command(argv, argv0, ignore, privileged, " ".join([argv0] + argv[1:]))


def environment(unit: Unit, invocation: str) -> dict[str, str]:
    env = {"PATH": DEFAULT_PATH, "LANG": os.environ.get("LANG", "C.UTF-8"),
           "INVOCATION_ID": invocation}
    user = unit.service("User")
    if user:
        try:
            pw = pwd.getpwnam(user)
            env.update(HOME=pw.pw_dir, USER=user, LOGNAME=user, SHELL=pw.pw_shell)
        except KeyError:
            pass
    for value in unit.values("Service", "Environment"):
        for item in shlex.split(unit.specifiers(value)):
            k, sep, v = item.partition("=")
            if sep:
                env[k] = v
    for value in unit.values("Service", "EnvironmentFile"):
        optional = value.startswith("-")
        path = unit.specifiers(value.lstrip("-"))
        try:
            with open(path) as f:
                text = f.read()
        except OSError:
            if optional:
                continue
            raise Failure(f"{unit.name}: Failed to load environment files: {path}")
        for line in text.splitlines():
            line = line.strip()
            if not line or line[0] in "#;":
                continue
            k, sep, v = line.removeprefix("export ").partition("=")
            if sep:
                v = v.strip()
                if len(v) >= 2 and v[0] == v[-1] and v[0] in "'\"":
                    v = v[1:-1]
                env[k.strip()] = v
    return env


@dataclass
class Run:
    """One unit start or stop in progress: its environment, log and what ran."""
    unit: Unit
    env: dict[str, str]
    log: int
    processes: list[list[object]] = field(default_factory=list)

    def credentials(self, cmd: Command) -> dict[str, object]:
        kw: dict[str, object] = {}
        user, group = self.unit.service("User"), self.unit.service("Group")
        if cmd.privileged or not (user or group):
            return kw
        try:
            if user:
                pw = pwd.getpwnam(user)
                kw["user"] = pw.pw_uid
                kw["group"] = pw.pw_gid
                kw["extra_groups"] = [g.gr_gid for g in grp.getgrall() if user in g.gr_mem]
            if group:
                kw["group"] = grp.getgrnam(group).gr_gid
        except KeyError as e:
            raise Failure(f"{self.unit.name}: Failed to determine user credentials: {e}")
        return kw

    def cwd(self) -> str:
        wd = self.unit.service("WorkingDirectory")
        optional = wd.startswith("-")
        wd = wd.lstrip("-")
        if wd == "~":
            wd = self.env.get("HOME", "/root")
        if wd and not os.path.isdir(wd):
            if optional:
                return "/"
            raise Failure(f"{self.unit.name}: Changing to the requested working directory "
                          f"failed: {wd}")
        return wd or "/"

    def spawn(self, cmd: Command, extra: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
        env = dict(self.env, **(extra or {}))
        kw = self.credentials(cmd)
        return subprocess.Popen(  # type: ignore[call-overload]
            cmd.argv, executable=cmd.argv0, env=env, cwd=self.cwd(), stdin=subprocess.DEVNULL,
            stdout=self.log, stderr=self.log, start_new_session=True, **kw)

    def run(self, key: str, timeout: float, extra: dict[str, str] | None = None) -> bool:
        """Run every `key` line in order; False at the first failure not marked `-`."""
        for line in self.unit.values("Service", key):
            cmd = command(self.unit, line, dict(self.env, **(extra or {})))
            try:
                proc = self.spawn(cmd, extra)
            except OSError as e:
                self.processes.append([0, f"{key}={cmd.text}", "exited", f"203/EXEC ({e.strerror})"])
                if cmd.ignore_failure:
                    continue
                return False
            try:
                code = proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                self.processes.append([proc.pid, f"{key}={cmd.text}", "killed", "9/KILL"])
                return False
            self.processes.append([proc.pid, f"{key}={cmd.text}", *describe(code)])
            if code != 0 and not cmd.ignore_failure:
                return False
        return True


def describe(code: int) -> tuple[str, str]:
    if code < 0:
        name = signal.Signals(-code).name.removeprefix("SIG")
        return "killed", f"{-code}/{name}"
    return "exited", f"{code}/{'SUCCESS' if code == 0 else 'FAILURE'}"


def timeout_of(unit: Unit, key: str) -> float:
    raw = unit.service(key) or unit.service("TimeoutSec")
    seconds = parse_seconds(raw) if raw else MAX_TIMEOUT
    return min(seconds, MAX_TIMEOUT) if seconds > 0 else MAX_TIMEOUT


def parse_seconds(raw: str) -> float:
    if raw in ("infinity", "0"):
        return 0.0
    total = 0.0
    for number, suffix in re.findall(r"([\d.]+)\s*([a-z]*)", raw):
        scale = {"": 1, "s": 1, "sec": 1, "ms": 0.001, "m": 60, "min": 60, "h": 3600}.get(suffix, 1)
        total += float(number) * scale
    return total


def conditions_met(unit: Unit) -> bool:
    """The Condition*= checks an instance can answer; the others pass."""
    for key, values in unit.sections.get("Unit", {}).items():
        if not key.startswith("Condition"):
            continue
        for value in values:
            negate = value.startswith("!")
            arg = value.lstrip("!|")
            met = _condition(key[len("Condition"):], arg)
            if met is not None and met == negate:
                return False
    return True


def _condition(kind: str, arg: str) -> bool | None:
    if kind == "PathExists":
        return os.path.exists(arg)
    if kind == "PathIsDirectory":
        return os.path.isdir(arg)
    if kind == "FileNotEmpty":
        return os.path.isfile(arg) and os.path.getsize(arg) > 0
    if kind == "FileIsExecutable":
        return os.path.isfile(arg) and os.access(arg, os.X_OK)
    if kind == "DirectoryNotEmpty":
        return os.path.isdir(arg) and bool(os.listdir(arg))
    if kind == "Virtualization":  # an instance is a container
        return arg in ("yes", "container", "1", "true")
    if kind == "Capability":
        return _has_capability(arg)
    if kind in ("KernelCommandLine", "Security", "FirstBoot"):
        return False
    return None


CAPABILITIES = {"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_KILL": 5, "CAP_SETUID": 7,
                "CAP_NET_BIND_SERVICE": 10, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
                "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17, "CAP_SYS_CHROOT": 18,
                "CAP_SYS_PTRACE": 19, "CAP_SYS_ADMIN": 21, "CAP_SYS_BOOT": 22,
                "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
                "CAP_MKNOD": 27, "CAP_AUDIT_WRITE": 29, "CAP_SYSLOG": 34, "CAP_BPF": 39}


def _has_capability(name: str) -> bool | None:
    bit = CAPABILITIES.get(name)
    if bit is None:
        return None
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("CapBnd:"):
                    return bool(int(line.split()[1], 16) >> bit & 1)
    except OSError:
        pass
    return None


# --- Start, stop, reload ----------------------------------------------------------------------

def open_log(unit: Unit) -> int:
    os.makedirs(LOG_DIR, exist_ok=True)
    return os.open(os.path.join(LOG_DIR, unit.name + ".log"),
                   os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)


def runtime_dirs(unit: Unit) -> list[str]:
    return [os.path.join("/run", d) for v in unit.values("Service", "RuntimeDirectory")
            for d in unit.specifiers(v).split()]


def make_runtime_dirs(unit: Unit) -> None:
    mode = int(unit.service("RuntimeDirectoryMode", "0755"), 8)
    uid = gid = -1
    try:
        if unit.service("User"):
            pw = pwd.getpwnam(unit.service("User"))
            uid, gid = pw.pw_uid, pw.pw_gid
        if unit.service("Group"):
            gid = grp.getgrnam(unit.service("Group")).gr_gid
    except KeyError:
        pass
    for d in runtime_dirs(unit):
        os.makedirs(d, exist_ok=True)
        os.chmod(d, mode)
        if uid != -1 or gid != -1:
            os.chown(d, uid, gid)


def remove_runtime_dirs(unit: Unit) -> None:
    if unit.flag("RuntimeDirectoryPreserve"):
        return
    for d in runtime_dirs(unit):
        shutil.rmtree(d, ignore_errors=True)


def read_pidfile(path: str) -> int | None:
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def start(unit: Unit) -> None:
    """Start `unit` unless active; Failure (systemd's job message) if it fails."""
    if unit.masked:
        raise Failure(f"Failed to start {unit.name}: Unit {unit.name} is masked.")
    if active_state(unit)[0] == "active":
        return
    if not conditions_met(unit):
        write_state(unit, {"active": "inactive", "since": time.time(), "condition": False})
        return
    invocation = uuid.uuid4().hex
    env = environment(unit, invocation)
    log = open_log(unit)
    run = Run(unit, env, log)
    state: dict[str, object] = {"invocation": invocation, "since": time.time(),
                                "processes": run.processes}
    try:
        make_runtime_dirs(unit)
        ok = run.run("ExecStartPre", timeout_of(unit, "TimeoutStartSec"))
        if ok:
            ok = _start_main(unit, run, state)
        if ok:
            pid = _int(state.get("main_pid"))
            run.run("ExecStartPost", timeout_of(unit, "TimeoutStartSec"),
                    {"MAINPID": str(pid)} if pid else None)
    except Failure:
        ok = False
        raise
    finally:
        os.close(log)
        if not ok:
            signal_all(unit_processes(invocation, _int(state.get("main_pid"))), signal.SIGKILL)
            remove_runtime_dirs(unit)
            state.update(active="failed", result="exit-code", since=time.time())
        elif unit.type == "oneshot" and not unit.flag("RemainAfterExit"):
            state.update(active="inactive", result="success", since=time.time())
        else:
            state.update(active="active", result="success")
        write_state(unit, state)
    if not ok:
        raise Failure(f"Job for {unit.name} failed because the control process exited with "
                      f"error code.\nSee \"systemctl status {unit.name}\" and "
                      f"\"journalctl -xeu {unit.name}\" for details.")


def _start_main(unit: Unit, run: Run, state: dict[str, object]) -> bool:
    kind = unit.type
    timeout = timeout_of(unit, "TimeoutStartSec")
    if kind in ("oneshot", "forking"):
        if not run.run("ExecStart", timeout):
            return False
        if kind == "forking":
            pid = _forking_main_pid(unit, str(state["invocation"]))
            if pid:
                found = read_proc(pid)
                state.update(main_pid=pid, main_start=found.start if found else None)
        return True
    lines = unit.values("Service", "ExecStart")
    cmd = command(unit, lines[-1], run.env)
    extra: dict[str, str] = {}
    sock = None
    if kind == "notify":
        sock, extra["NOTIFY_SOCKET"] = _notify_socket(unit)
    try:
        try:
            proc = run.spawn(cmd, extra)
        except OSError as e:
            run.processes.append([0, f"ExecStart={cmd.text}", "exited", f"203/EXEC ({e.strerror})"])
            return False
        pstat = read_proc(proc.pid)
        state.update(main_pid=proc.pid, main_start=pstat.start if pstat else None,
                     exec_main=f"ExecStart={cmd.text}")
        if sock is not None:
            return _wait_ready(sock, proc, timeout, state)
        return True
    finally:
        if sock is not None:
            sock.close()
            try:
                os.unlink(extra["NOTIFY_SOCKET"])
            except OSError:
                pass


def _forking_main_pid(unit: Unit, invocation: str) -> int | None:
    pidfile = unit.specifiers(unit.service("PIDFile"))
    deadline = time.monotonic() + 2.0
    while True:
        if pidfile:
            pid = read_pidfile(pidfile)
            if alive(pid):
                return pid
        else:
            procs = [p for p in unit_processes(invocation)]
            if procs:
                return procs[0]
        if time.monotonic() > deadline:
            return None
        time.sleep(0.05)


def _notify_socket(unit: Unit) -> tuple[socket.socket, str]:
    os.makedirs(STATE_DIR, exist_ok=True)
    path = os.path.join(STATE_DIR, f"notify-{unit.name}-{os.getpid()}")
    try:
        os.unlink(path)
    except OSError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(path)
    os.chmod(path, 0o777)
    sock.settimeout(0.1)
    return sock, path


def _wait_ready(sock: socket.socket, proc: subprocess.Popen[bytes], timeout: float,
                state: dict[str, object]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            message = sock.recv(4096).decode(errors="replace")
        except TimeoutError:
            message = ""
        for line in message.splitlines():
            if line.startswith("MAINPID=") and line[8:].isdigit():
                pstat = read_proc(int(line[8:]))
                state.update(main_pid=int(line[8:]), main_start=pstat.start if pstat else None)
            if line == "READY=1":
                return True
        code = proc.poll()
        if code is not None:
            run_record = state["processes"]
            if isinstance(run_record, list):
                run_record.append([proc.pid, str(state.get("exec_main")), *describe(code)])
            return False
    proc.kill()
    return False


def stop(unit: Unit) -> None:
    state = read_state(unit)
    invocation = state.get("invocation")
    if not isinstance(invocation, str):
        return
    pid = main_pid(unit, state)
    log = open_log(unit)
    run = Run(unit, environment(unit, invocation), log)
    timeout = timeout_of(unit, "TimeoutStopSec")
    try:
        if active_state(unit)[0] == "active":
            run.run("ExecStop", timeout, {"MAINPID": str(pid)} if pid else None)
        mode = unit.service("KillMode", "control-group")
        sig = getattr(signal, unit.service("KillSignal", "SIGTERM"), signal.SIGTERM)
        left = unit_processes(invocation, pid)
        if mode == "control-group":
            signal_all(left, sig)
        elif mode in ("mixed", "process") and pid:
            signal_all([pid], sig)
        deadline = time.monotonic() + timeout
        watch = left if mode == "control-group" else ([pid] if pid else [])
        while any(alive(p) for p in watch) and time.monotonic() < deadline:
            time.sleep(0.05)
        if mode in ("control-group", "mixed") and unit.flag("SendSIGKILL", True):
            signal_all(unit_processes(invocation, pid), signal.SIGKILL)
        elif pid and alive(pid):
            signal_all([pid], signal.SIGKILL)
        run.run("ExecStopPost", timeout)
    finally:
        os.close(log)
    remove_runtime_dirs(unit)
    write_state(unit, {"active": "inactive", "since": time.time(), "result": "success"})


def reload(unit: Unit) -> None:
    if active_state(unit)[0] != "active":
        raise Failure(f"{unit.name} is not active, cannot reload.")
    if not unit.values("Service", "ExecReload"):
        raise Failure(f"Failed to reload {unit.name}: Job type reload is not applicable for "
                      f"unit {unit.name}.")
    state = read_state(unit)
    pid = main_pid(unit, state)
    log = open_log(unit)
    try:
        run = Run(unit, environment(unit, str(state.get("invocation", ""))), log)
        if not run.run("ExecReload", timeout_of(unit, "TimeoutStartSec"),
                       {"MAINPID": str(pid)} if pid else None):
            raise Failure(f"Job for {unit.name} failed because the control process exited with "
                          f"error code.\nSee \"systemctl status {unit.name}\" and "
                          f"\"journalctl -xeu {unit.name}\" for details.")
    finally:
        os.close(log)


# --- Showing ----------------------------------------------------------------------------------

def since_text(since: float) -> str:
    stamp = time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(since))
    return f"{stamp}; {ago(time.time() - since)} ago"


def ago(seconds: float) -> str:
    s = int(max(seconds, 0))
    if s < 60:
        return f"{s}s" if s else f"{int(max(seconds, 0) * 1000)}ms"
    if s < 3600:
        return f"{s // 60}min {s % 60}s" if s % 60 else f"{s // 60}min"
    if s < 86400:
        return f"{s // 3600}h {s % 3600 // 60}min"
    return f"{s // 86400} day{'s' if s >= 172800 else ''} {s % 86400 // 3600}h"


def status(unit: Unit, lines: int) -> tuple[str, int]:
    if unit.masked:
        return (f"\u25cb {unit.name}\n     Loaded: masked ({unit.path}; masked)\n"
                f"     Active: inactive (dead)\n", 3)
    state = read_state(unit)
    active, sub = active_state(unit)
    dot = {"active": "\u25cf", "failed": "\u00d7"}.get(active, "\u25cb")
    enabled = enabled_state(unit)
    preset = "; preset: enabled" if unit.has_install else ""
    out = [f"{dot} {unit.name} - {unit.description}",
           f"{'Loaded':>11}: loaded ({unit.path}; {enabled}{preset})"]
    since = state.get("since")
    when = f" since {since_text(since)}" if isinstance(since, float) and active != "inactive" \
        else ""
    if active == "failed":
        out.append(f"{'Active':>11}: failed (Result: {state.get('result', 'exit-code')}){when}")
    elif state.get("condition") is False:
        out.append(f"{'Active':>11}: inactive (dead)")
        out.append(f"{'Condition':>11}: start condition unmet")
    else:
        out.append(f"{'Active':>11}: {active} ({sub}){when}")
    for doc in unit.values("Unit", "Documentation"):
        out.append(f"{'Docs':>11}: {doc}")
    processes = state.get("processes")
    if isinstance(processes, list) and active != "inactive":
        for item in processes:
            if isinstance(item, list) and len(item) == 4:
                pid, text, code, st = item
                out.append(f"{'Process':>11}: {pid} {text} (code={code}, status={st})")
    pid = main_pid(unit, state)
    if pid:
        proc = read_proc(pid)
        out.append(f"{'Main PID':>11}: {pid} ({proc.comm if proc else '?'})")
    invocation = state.get("invocation")
    members = unit_processes(invocation, pid) \
        if isinstance(invocation, str) and active == "active" else []
    if members:
        out.append(f"{'Tasks':>11}: {len(members)}")
        out.append(f"{'CGroup':>11}: /system.slice/{unit.name}")
        for i, p in enumerate(members):
            branch = "\u2514\u2500" if i == len(members) - 1 else "\u251c\u2500"
            out.append(f"{'':>13}{branch}{p} \"{cmdline(p)}\"" if " " in cmdline(p)
                       else f"{'':>13}{branch}{p} {cmdline(p)}")
    tail = log_tail(unit, lines)
    if tail:
        out.append("")
        out.extend(tail)
    return "\n".join(out) + "\n", 0 if active == "active" else 3


def log_tail(unit: Unit, lines: int) -> list[str]:
    if lines <= 0:
        return []
    try:
        with open(os.path.join(LOG_DIR, unit.name + ".log"), errors="replace") as f:
            return f.read().splitlines()[-lines:]
    except OSError:
        return []


def show(unit: Unit, props: list[str], value_only: bool) -> str:
    state = read_state(unit)
    active, sub = active_state(unit)
    pid = main_pid(unit, state) or 0
    since = state.get("since")
    table = {
        "Id": unit.name, "Names": unit.name, "Description": unit.description,
        "LoadState": "masked" if unit.masked else "loaded", "ActiveState": active,
        "SubState": sub, "MainPID": str(pid), "ExecMainPID": str(pid),
        "UnitFileState": enabled_state(unit), "FragmentPath": unit.path,
        "Type": unit.type, "Result": str(state.get("result", "success")),
        "User": unit.service("User"), "Group": unit.service("Group"),
        "Restart": unit.service("Restart", "no"),
        "ActiveEnterTimestamp": time.strftime("%a %Y-%m-%d %H:%M:%S %Z", time.localtime(since))
        if isinstance(since, float) and active == "active" else "",
        "WantedBy": " ".join(unit.values("Install", "WantedBy")),
    }
    keys = props or list(table)
    out = []
    for key in keys:
        value = table.get(key, "")
        out.append(value if value_only else f"{key}={value}")
    return "\n".join(out) + "\n"


def list_units(all_units: bool, states: set[str]) -> str:
    names = set(enabled_services())
    try:
        names.update(f[:-5] for f in os.listdir(STATE_DIR) if f.endswith(".service.json"))
    except OSError:
        pass
    if all_units:
        names.update(os.path.basename(p) for p in _all_unit_files())
    rows = []
    for name in sorted(names):
        unit = load(name)
        if unit is None:
            continue
        active, sub = active_state(unit)
        if not all_units and active == "inactive":
            continue
        if states and active not in states and sub not in states:
            continue
        rows.append((unit.name, "masked" if unit.masked else "loaded", active, sub,
                     unit.description))
    width = max([len(r[0]) for r in rows] + [4]) + 1
    out = [f"  {'UNIT':<{width}} LOAD   ACTIVE   SUB     DESCRIPTION"]
    for name, loaded, active, sub, desc in rows:
        mark = "\u25cf" if active == "failed" else " "
        out.append(f"{mark} {name:<{width}} {loaded:<6} {active:<8} {sub:<7} {desc}")
    out += ["", "LOAD   = Reflects whether the unit definition was properly loaded.",
            "ACTIVE = The high-level unit activation state, i.e. generalization of SUB.",
            "SUB    = The low-level unit activation state, values depend on unit type.",
            f"{len(rows)} loaded units listed."
            + ("" if all_units else " Pass --all to see loaded but inactive units, too."),
            "To show all installed unit files use 'systemctl list-unit-files'."]
    return "\n".join(out) + "\n"


def list_unit_files() -> str:
    rows = []
    for path in _all_unit_files():
        unit = load(os.path.basename(path))
        if unit is not None:
            state = enabled_state(unit)
            rows.append((unit.name, state, "enabled" if unit.has_install else "-"))
    width = max([len(r[0]) for r in rows] + [9]) + 1
    out = [f"{'UNIT FILE':<{width}} STATE    PRESET"]
    out += [f"{n:<{width}} {s:<8} {p}" for n, s, p in rows]
    out += ["", f"{len(rows)} unit files listed."]
    return "\n".join(out) + "\n"


# --- Boot and shutdown (called by init.py) ----------------------------------------------------

def boot() -> int:
    """Start every enabled service, printing systemd's console lines."""
    for name in enabled_services():
        try:
            unit = load(name)
            if unit is None or unit.masked:
                continue
            start(unit)
            if active_state(unit)[0] == "active":
                print(f"[  OK  ] Started {unit.name} - {unit.description}.", flush=True)
        except Exception:  # a bad unit never stops the boot
            print(f"[FAILED] Failed to start {name}.", flush=True)
            print(f"See 'systemctl status {name}' for details.", flush=True)
    return 0


def shutdown() -> int:
    """Stop every active unit (their ExecStop), printing systemd's console lines."""
    try:
        names = sorted(f[:-5] for f in os.listdir(STATE_DIR) if f.endswith(".json"))
    except OSError:
        return 0
    for name in names:
        try:
            unit = load(name)
            if unit is None or active_state(unit)[0] != "active":
                continue
            stop(unit)
            print(f"[  OK  ] Stopped {unit.name} - {unit.description}.", flush=True)
        except Exception:
            pass
    return 0


# --- Command line -----------------------------------------------------------------------------

@dataclass
class Options:
    verb: str = ""
    units: list[str] = field(default_factory=list)
    now: bool = False
    quiet: bool = False
    all: bool = False
    value: bool = False
    props: list[str] = field(default_factory=list)
    states: set[str] = field(default_factory=set)
    lines: int = 10


FLAGS = {"--no-pager", "--no-block", "--system", "--full", "-l", "--no-legend", "--plain",
         "--no-ask-password", "--force", "-f", "--runtime", "--no-reload"}


def parse_args(args: list[str]) -> Options:
    o = Options()
    it = iter(args)
    for a in it:
        if a in FLAGS:
            continue
        if a == "--now":
            o.now = True
        elif a in ("-q", "--quiet"):
            o.quiet = True
        elif a in ("-a", "--all"):
            o.all = True
        elif a == "--value":
            o.value = True
        elif a in ("-t", "-p", "-n", "--type", "--property", "--state", "--lines"):
            _option(o, a, next(it, ""))
        elif a.startswith("--") and "=" in a:
            _option(o, *a.split("=", 1))
        elif a.startswith("-") and a != "-":
            raise Failure(f"systemctl: unrecognized option '{a}'")
        elif not o.verb:
            o.verb = a
        else:
            o.units.append(a)
    return o


def _option(o: Options, key: str, value: str) -> None:
    if key in ("-p", "--property"):
        o.props += [p for p in value.split(",") if p]
    elif key == "--state":
        o.states.update(s for s in value.split(",") if s)
    elif key in ("-n", "--lines"):
        o.lines = int(value or 10)
    elif key in ("-t", "--type"):
        pass
    else:
        raise Failure(f"systemctl: unrecognized option '{key}'")


UNIT_VERBS = {"start", "stop", "restart", "try-restart", "reload", "reload-or-restart",
              "try-reload-or-restart", "status", "enable", "disable", "is-active", "is-enabled",
              "is-failed", "show", "cat", "mask", "unmask", "reenable"}


def main(argv: list[str]) -> int:
    try:
        o = parse_args(argv)
        return dispatch(o)
    except Failure as e:
        sys.stderr.write(f"{e}\n")
        return e.code
    except BrokenPipeError:
        return 0


def dispatch(o: Options) -> int:
    if o.verb in ("", "list-units"):
        sys.stdout.write(list_units(o.all, o.states))
        return 0
    if o.verb == "list-unit-files":
        sys.stdout.write(list_unit_files())
        return 0
    if o.verb in ("daemon-reload", "daemon-reexec", "reset-failed"):
        if o.verb == "reset-failed":
            for name in o.units:
                unit = load(name)
                if unit is not None and active_state(unit)[0] == "failed":
                    write_state(unit, {"active": "inactive", "since": time.time()})
        return 0
    if o.verb == "is-system-running":
        print("running")
        return 0
    if o.verb == "vpclab-boot":
        return boot()
    if o.verb == "vpclab-shutdown":
        return shutdown()
    if o.verb not in UNIT_VERBS:
        raise Failure(f"Unknown command verb {o.verb}.")
    if not o.units:
        if o.verb == "status":
            sys.stdout.write(list_units(False, set()))
            return 0
        raise Failure("Too few arguments.")
    code = 0
    for name in o.units:
        try:
            rc = one(o, name)
        except Failure as e:
            sys.stderr.write(f"{e}\n")
            rc = e.code
        code = code or rc
    return code


def one(o: Options, name: str) -> int:
    verb = o.verb
    unit = load(name)
    if verb in ("is-active", "is-failed"):
        active = active_state(unit)[0] if unit is not None else "inactive"
        if not o.quiet:
            print(active)
        wanted = "active" if verb == "is-active" else "failed"
        return 0 if active == wanted else (3 if verb == "is-active" else 1)
    if verb == "status":
        if unit is None:
            sys.stderr.write(f"Unit {canonical(name)} could not be found.\n")
            return 4
        text, code = status(unit, o.lines)
        sys.stdout.write(text)
        return code
    if unit is None:
        if verb == "is-enabled":
            sys.stderr.write(f"Failed to get unit file state for {canonical(name)}: "
                             "No such file or directory\n")
            return 1
        if verb in ("stop", "try-restart"):
            if verb == "stop":
                sys.stderr.write(f"Failed to stop {canonical(name)}: Unit {canonical(name)} "
                                 "not loaded.\n")
            return 5
        verb_word = {"enable": "enable unit", "disable": "disable unit"}.get(verb)
        if verb_word:
            sys.stderr.write(f"Failed to {verb_word}: Unit file {canonical(name)} does not "
                             "exist.\n")
            return 1
        sys.stderr.write(f"Failed to {verb.replace('-', ' ')} {canonical(name)}: Unit "
                         f"{canonical(name)} not found.\n")
        return 5
    out: list[str] = []
    try:
        if verb == "start":
            start(unit)
        elif verb == "stop":
            stop(unit)
        elif verb in ("restart", "try-restart"):
            if verb == "restart" or active_state(unit)[0] == "active":
                stop(unit)
                start(unit)
        elif verb in ("reload-or-restart", "try-reload-or-restart"):
            running = active_state(unit)[0] == "active"
            if running and unit.values("Service", "ExecReload"):
                reload(unit)
            elif running or verb == "reload-or-restart":
                stop(unit)
                start(unit)
        elif verb == "reload":
            reload(unit)
        elif verb in ("enable", "reenable"):
            if verb == "reenable":
                disable(unit, out)
            enable(unit, out)
            if o.now:
                start(unit)
        elif verb == "disable":
            disable(unit, out)
            if o.now:
                stop(unit)
        elif verb == "mask":
            link = os.path.join(ENABLE_DIR, unit.name)
            if not os.path.lexists(link):
                os.symlink("/dev/null", link)
                out.append(f"Created symlink {link} \u2192 /dev/null.")
        elif verb == "unmask":
            link = os.path.join(ENABLE_DIR, unit.name)
            if os.path.islink(link) and os.readlink(link) == "/dev/null":
                os.unlink(link)
                out.append(f'Removed "{link}".')
        elif verb == "is-enabled":
            state = enabled_state(unit)
            if not o.quiet:
                print(state)
            return 0 if state in ("enabled", "static", "alias", "indirect") else 1
        elif verb == "show":
            sys.stdout.write(show(unit, o.props, o.value))
        elif verb == "cat":
            with open(unit.path, errors="replace") as f:
                sys.stdout.write(f"# {unit.path}\n{f.read()}")
    finally:
        if out and not o.quiet:
            sys.stderr.write("\n".join(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
