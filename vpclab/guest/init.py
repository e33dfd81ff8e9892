"""PID 1 of a vpclab instance: it boots the machine as cloud-init and systemd would on
EC2, then reaps orphans until the instance stops.

Run as `python3 -I -S /run/vpclab/init.py` (standard library only, one file: it is copied
into the instance alone). Two processes, so that PID 1 stays small for the instance's
whole life:

- PID 1 (`main`) only reaps, and on SIGTERM (the instance stops) stops the units
  (`systemctl vpclab-shutdown`: their ExecStop), sends SIGTERM to every process and exits
  once none is left. A PID namespace lives as long as its PID 1, so daemons that units
  and user data start keep running; orphans are re-parented here and reaped, so no zombie
  keeps a pid that `kill -0` still finds.
- A boot child (`boot`, the same file with `--boot`) writes what an EC2 console shows
  (cloud-init's stages, `ci-info:` tables, the host keys' fingerprints), makes the SSH
  host keys at first boot, starts every enabled unit (`systemctl vpclab-boot`), runs the
  user data script at first boot, then exits. Nothing it meets (a bad unit, bad user
  data, a missing tool) ends PID 1.

`/run/vpclab/boot.json` says who the machine is: instance_id, hostname, default_user,
distribution, first_boot, user_data (a path or null).
"""
import os
import signal
import sys

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
HERE = os.path.dirname(os.path.abspath(__file__))
BOOT_JSON = os.path.join(HERE, "boot.json")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def _reap() -> bool:
    """Collect every exited child; False once no child is left."""
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return False
        if pid == 0:
            return True


def _others() -> bool:
    """True while a process other than this one is in the namespace (its /proc)."""
    return any(name.isdigit() and name != "1" for name in os.listdir("/proc"))


#: Where the image's trust bundle is, with the state directory's CA in it (vpclab's
#: `instance_disk.TRUST_BUNDLE`): SDKs in user data verify vpclab's endpoints with it.
TRUST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"


def _env() -> dict[str, str]:
    return {"PATH": PATH, "HOME": "/root", "LANG": "C.UTF-8", "TERM": "linux", "AWS_CA_BUNDLE": TRUST_BUNDLE}


def spawn(argv: list[str], stdout: int | None = None) -> int:
    """Start `argv` with a clean signal mask (this process blocks the ones it waits for);
    stdout/stderr are the console unless `stdout` is given."""
    actions = []
    if stdout is not None:
        actions.append((os.POSIX_SPAWN_DUP2, stdout, 1))
    return os.posix_spawn(_which(argv[0]), argv, _env(), file_actions=actions, setsigmask=(),
                          setsigdef=tuple(SIGNALS))


def _which(program: str) -> str:
    if "/" in program:
        return program
    for directory in PATH.split(":"):
        path = os.path.join(directory, program)
        if os.access(path, os.X_OK):
            return path
    return program


def systemctl_argv(*args: str) -> list[str]:
    """The guest systemctl beside this file, else the one on the image."""
    own = os.path.join(HERE, "systemctl.py")
    if os.path.exists(own):
        return [sys.executable, "-I", "-S", own, *args]
    return ["/usr/bin/systemctl", *args]


def main() -> int:
    # Signals stay blocked and are taken with sigwait. Handlers are installed too: the
    # kernel delivers a signal to a namespace's PID 1 only if it has a handler for it.
    for signum in SIGNALS:
        signal.signal(signum, lambda *_: None)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    booting: int | None = None
    try:
        booting = spawn([sys.executable, "-I", "-S", os.path.abspath(__file__), "--boot"])
    except OSError as e:
        print(f"vpclab init: cannot boot: {e}", flush=True)
    stopping = False
    while True:
        children = _reap()
        if stopping:
            # Commands entered by `vpclab exec` are not this process's children: wait
            # for them too, polling (their exit sends no SIGCHLD here).
            if not children and not _others():
                return 0
            signal.sigtimedwait(SIGNALS, 0.1)  # a signal or 0.1 s, then reap and look again
            continue
        sig = signal.sigwait(SIGNALS)
        if sig in (signal.SIGTERM, signal.SIGINT):
            stopping = True
            if booting is not None:
                _kill(booting)
            _stop_units()
            try:
                os.kill(-1, signal.SIGTERM)  # every process of the namespace but this one
            except ProcessLookupError:
                pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _stop_units() -> None:
    """Run `systemctl vpclab-shutdown` to its end, reaping whatever else exits meanwhile."""
    try:
        pid = spawn(systemctl_argv("vpclab-shutdown"))
    except OSError:
        return
    while True:
        try:
            done, _ = os.waitpid(-1, 0)
        except ChildProcessError:
            return
        except InterruptedError:
            continue
        if done == pid:
            return


# --- The boot child ---------------------------------------------------------------------------
# What follows runs only in the boot child. Its imports are made there, not at the top, so
# that PID 1 never loads them (json alone brings re): PID 1's memory is paid per instance
# for the instance's whole life.

def boot() -> int:
    import time
    try:
        console = Console(time.time())
        console.boot()
    except Exception as e:  # never a traceback wall on the console
        print(f"vpclab init: boot stopped: {type(e).__name__}: {e}", flush=True)
        return 1
    return 0


class Console:
    """cloud-init's part of an EC2 boot, written to the console (stdout)."""

    def __init__(self, started: float) -> None:
        import json
        self.started = started
        try:
            with open(BOOT_JSON) as f:
                self.info = json.load(f)
        except (OSError, ValueError) as e:
            print(f"vpclab init: {BOOT_JSON}: {e}", flush=True)
            self.info = {}
        distribution = str(self.info.get("distribution") or "")
        self.version = CLOUD_INIT_VERSIONS.get(distribution.split("-")[0], "23.1.2")
        self.amazon = distribution.startswith("amazon")

    def boot(self) -> None:
        self.stage("init-local")
        self.stage("init")
        self.net_info()
        if self.info.get("first_boot"):
            _delete_host_keys()  # cloud-init's ssh_deletekeys: an image's keys never serve
            self.host_keys(FAST_KEY_TYPES)
        self.stage("modules:config")
        run(systemctl_argv("vpclab-boot"))
        self.stage("modules:final")
        if self.info.get("first_boot") and self.info.get("user_data"):
            self.user_data(str(self.info["user_data"]))
        if self.info.get("first_boot") and not self.amazon:
            # RSA keys take 0.2-1 s of CPU each: made after the services are up, then sshd
            # is told to load them (sshd starts without a missing host key).
            if self.host_keys(("rsa",)):
                run(systemctl_argv("try-reload-or-restart", "ssh.service"))
        self.authorized_keys()
        self.fingerprints()
        print(f"Cloud-init v. {self.version} finished at {self.stamp()}. Datasource "
              f"DataSourceEc2.  Up {self.up():.2f} seconds", flush=True)

    def up(self) -> float:
        """Seconds since PID 1 started (the instance's boot)."""
        try:
            with open("/proc/1/stat") as f:
                start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
            with open("/proc/uptime") as f:
                uptime = float(f.read().split()[0])
            return max(uptime - start_ticks / os.sysconf("SC_CLK_TCK"), 0.0)
        except (OSError, ValueError, IndexError):
            return 0.0

    def stamp(self) -> str:
        import time
        return time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())

    def stage(self, name: str) -> None:
        print(f"Cloud-init v. {self.version} running '{name}' at {self.stamp()}. "
              f"Up {self.up():.2f} seconds.", flush=True)

    def net_info(self) -> None:
        rows: list[list[str]] = []
        for line in capture(["ip", "-o", "addr", "show"]).splitlines():
            parts = line.split()
            if len(parts) < 4:
                continue
            dev, family, cidr = parts[1], parts[2], parts[3]
            scope = parts[parts.index("scope") + 1] if "scope" in parts else "."
            mac = _read(f"/sys/class/net/{dev}/address").strip() or "."
            up = "True" if _read(f"/sys/class/net/{dev}/operstate").strip() in ("up", "unknown") \
                else "False"
            if family == "inet":
                address, _, bits = cidr.partition("/")
                rows.append([dev, up, address, _mask(int(bits or 32)), scope,
                             "." if dev == "lo" else mac])
            else:
                rows.append([dev, up, cidr, ".", scope, "." if dev == "lo" else mac])
        table("Net device info", ["Device", "Up", "Address", "Mask", "Scope", "Hw-Address"], rows)
        routes: list[list[str]] = []
        for line in capture(["ip", "-4", "route", "show"]).splitlines():
            parts = line.split()
            if not parts or "dev" not in parts:
                continue
            dest, _, bits = ("0.0.0.0/0" if parts[0] == "default" else parts[0]).partition("/")
            gateway = parts[parts.index("via") + 1] if "via" in parts else "0.0.0.0"
            flags = "UG" if "via" in parts else "U"
            routes.append([str(len(routes)), dest, gateway, _mask(int(bits or 32)),
                           parts[parts.index("dev") + 1], flags])
        if routes:
            table("Route IPv4 info", ["Route", "Destination", "Gateway", "Genmask", "Interface",
                                      "Flags"], routes)

    def host_keys(self, types: tuple[str, ...]) -> bool:
        """Make the host keys of `types`; False without ssh-keygen."""
        if not os.path.exists(SSH_KEYGEN) or not os.path.isdir("/etc/ssh"):
            return False
        host = str(self.info.get("hostname") or os.uname().nodename)
        for kind in types:
            key = f"/etc/ssh/ssh_host_{kind}_key"
            for path in (key, key + ".pub"):
                try:
                    os.unlink(path)
                except OSError:
                    pass
            devnull = os.open(os.devnull, os.O_WRONLY)
            try:
                run([SSH_KEYGEN, "-q", "-t", kind, "-N", "", "-C", f"root@{host}", "-f", key],
                    devnull)
            finally:
                os.close(devnull)
        return True

    def user_data(self, path: str) -> None:
        """Run a `#!` script once, as cloud-init's scripts_user does; say so for the rest."""
        try:
            with open(path, "rb") as f:
                data = f.read()
        except OSError as e:
            print(f"vpclab init: user data: {e}", flush=True)
            return
        if not data.strip():
            return
        if not data.startswith(b"#!"):
            kind = data.split(b"\n", 1)[0].strip()[:40].decode(errors="replace")
            if data[:2] == b"\x1f\x8b":
                kind = "gzip"
            print(f"vpclab: the user data ({kind}) was not applied: vpclab runs only user "
                  f"data scripts (starting with #!)", flush=True)
            return
        scripts = "/var/lib/cloud/instance/scripts"
        script = os.path.join(scripts, "part-001")
        try:
            os.makedirs(scripts, exist_ok=True)
            with open(script, "wb") as f:
                f.write(data)
            os.chmod(script, 0o700)
            code = run([script], cwd="/")
        except OSError as e:
            print(f"vpclab init: user data: {e}", flush=True)
            code = 1
        if code != 0:
            print(f"{self.stamp()} - cc_scripts_user.py[WARNING]: Failed to run module "
                  f"scripts_user (scripts in {scripts})", flush=True)

    def authorized_keys(self) -> None:
        import binascii
        import hashlib
        user = str(self.info.get("default_user") or "")
        if not user:
            return
        home = _home(user)
        path = f"{home}/.ssh/authorized_keys"
        rows = []
        for line in _read(path).splitlines():
            parts = line.split()
            if len(parts) < 2 or line.startswith("#"):
                continue
            try:
                digest = hashlib.sha256(binascii.a2b_base64(parts[1])).hexdigest()
            except (binascii.Error, ValueError):
                continue
            fp = ":".join(digest[i:i + 2] for i in range(0, len(digest), 2))
            rows.append([parts[0], fp, "-", " ".join(parts[2:]) or "-"])
        if rows:
            table(f"Authorized keys from {path} for user {user}",
                  ["Keytype", "Fingerprint (sha256)", "Options", "Comment"], rows)
        else:
            print(f"ci-info: no authorized SSH keys fingerprints found for user {user}.",
                  flush=True)

    def fingerprints(self) -> None:
        """The host keys, as cloud-init's write-ssh-key-fingerprints prints them."""
        try:
            pubs = sorted(f for f in os.listdir("/etc/ssh")
                          if f.startswith("ssh_host_") and f.endswith("_key.pub"))
        except OSError:
            return
        if not pubs or not os.path.exists(SSH_KEYGEN):
            return
        lines = ["", "#" * 61, "-----BEGIN SSH HOST KEY FINGERPRINTS-----"]
        for pub in pubs:
            lines += capture([SSH_KEYGEN, "-l", "-f", f"/etc/ssh/{pub}"]).splitlines()
        lines += ["-----END SSH HOST KEY FINGERPRINTS-----", "#" * 61]
        print("\n".join(f"ec2: {line}" for line in lines), flush=True)
        keys = [" ".join(_read(f"/etc/ssh/{pub}").split()[:3]) for pub in pubs]
        print("\n".join(["-----BEGIN SSH HOST KEY KEYS-----", *keys,
                         "-----END SSH HOST KEY KEYS-----"]), flush=True)


#: cloud-init's version on each image family (what its console lines name).
CLOUD_INIT_VERSIONS = {"amazon": "22.2.2", "debian": "22.4.2", "ubuntu": "24.1.3"}

#: Host keys made before the services start: cheap ones (milliseconds). Amazon Linux 2023
#: makes only these (its ssh_genkeytypes); the others add RSA after the services are up.
FAST_KEY_TYPES = ("ecdsa", "ed25519")

SSH_KEYGEN = "/usr/bin/ssh-keygen"


def run(argv: list[str], stdout: int | None = None, cwd: str | None = None) -> int:
    """Run `argv` to its end (output to the console); its exit status, 127 if it cannot."""
    try:
        if cwd is not None:
            os.chdir(cwd)
        pid = spawn(argv, stdout)
    except OSError as e:
        print(f"vpclab init: {argv[0]}: {e.strerror}", flush=True)
        return 127
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def capture(argv: list[str]) -> str:
    """`argv`'s standard output ('' if it cannot run)."""
    read, write = os.pipe()
    try:
        pid = spawn(argv, write)
    except OSError:
        os.close(read)
        os.close(write)
        return ""
    os.close(write)
    chunks = []
    while True:
        chunk = os.read(read, 65536)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode(errors="replace")


def table(title: str, header: list[str], rows: list[list[str]]) -> None:
    """A `ci-info:` table as cloud-init prints them (prettytable, centred cells)."""
    widths = [max(len(str(r[i])) for r in [header, *rows]) + 2 for i in range(len(header))]
    rule = "+" + "+".join("-" * w for w in widths) + "+"
    out = [f"{title}".center(len(rule), "+"), rule,
           "|" + "|".join(h.center(w) for h, w in zip(header, widths)) + "|", rule]
    out += ["|" + "|".join(str(c).center(w) for c, w in zip(r, widths)) + "|" for r in rows]
    out.append(rule)
    print("\n".join(f"ci-info: {line}" for line in out), flush=True)


def _delete_host_keys() -> None:
    try:
        names = os.listdir("/etc/ssh")
    except OSError:
        return
    for name in names:
        if name.startswith("ssh_host_") and "_key" in name:
            try:
                os.unlink(os.path.join("/etc/ssh", name))
            except OSError:
                pass


def _mask(bits: int) -> str:
    value = (0xFFFFFFFF << (32 - bits)) & 0xFFFFFFFF if bits else 0
    return ".".join(str(value >> s & 255) for s in (24, 16, 8, 0))


def _read(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _home(user: str) -> str:
    for line in _read("/etc/passwd").splitlines():
        parts = line.split(":")
        if len(parts) > 5 and parts[0] == user:
            return parts[5]
    return f"/home/{user}"


if __name__ == "__main__":
    if sys.argv[1:] == ["--boot"]:
        sys.exit(boot())
    if os.getpid() != 1:
        sys.stderr.write("init: not PID 1 of a PID namespace\n")
        sys.exit(2)
    sys.exit(main())
