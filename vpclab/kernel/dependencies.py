"""The host programs and libraries vpclab needs, each checked by really using it.

A check answers in one line what is missing and how to install it (the Debian package,
as `run.sh` installs them), so a server without libnftables says so at start instead of
failing every pass, and the lab stops at once without nginx or curl instead of waiting
for a page that cannot come. A file that exists but does not work (a broken or hidden
library, a program that cannot execute) counts as missing: libraries are loaded and
programs are run (`--version`).
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Dependency:
    """One thing vpclab uses from the host: `name` as users know it, the Debian package
    that provides it, and a probe that returns why it cannot be used (or None)."""

    name: str
    package: str
    probe: Callable[[], str | None]
    install: str = ""  # the install command, when it is not `apt-get install <package>`

    def missing(self) -> str | None:
        """One line saying what is missing and how to install it, or None if it works."""
        why = self.probe()
        if why is None:
            return None
        how = self.install or f"apt-get install {self.package}"
        return f"{self.name} is missing ({why}); install it with `{how}`"


def _program(command: str, *args: str) -> Callable[[], str | None]:
    """A probe that finds `command` on PATH and runs it with `args` (exit 0 wanted)."""

    def probe() -> str | None:
        path = shutil.which(command)
        if path is None:
            return f"no `{command}` on PATH"
        try:
            result = subprocess.run([path, *args], stdin=subprocess.DEVNULL, capture_output=True,
                                    timeout=10)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return f"{path} does not run: {getattr(exc, 'strerror', None) or exc}"
        if result.returncode != 0:
            return f"`{path} {' '.join(args)}` exited with {result.returncode}"
        return None

    return probe


#: The shared object pip-nftables' `Nftables()` loads by default.
LIBNFTABLES_SO = "libnftables.so.1"


def _libnftables() -> str | None:
    """Import pip-nftables and load the shared object it loads (its default name); a
    context is only made later, inside the probe namespace (runtime.py)."""
    try:
        import nftables  # noqa: F401
    except ImportError as exc:
        return f"the Python module nftables: {exc}"
    try:
        ctypes.CDLL(LIBNFTABLES_SO)
    except OSError as exc:  # the shared object is absent, hidden or broken
        return str(exc)
    return None


def _python_module(module: str) -> Callable[[], str | None]:
    def probe() -> str | None:
        try:
            __import__(module)
        except ImportError as exc:
            return str(exc)
        return None

    return probe


LIBNFTABLES = Dependency("libnftables", "libnftables1", _libnftables)
PYROUTE2 = Dependency("pyroute2", "python3-pyroute2", _python_module("pyroute2"),
                      install="pip install pyroute2 (or reinstall vpclab)")
IPROUTE2 = Dependency("ip (iproute2)", "iproute2", _program("ip", "-V"))
NGINX = Dependency("nginx", "nginx", _program("nginx", "-v"))
CURL = Dependency("curl", "curl", _program("curl", "--version"))

#: What confines an instance's processes and boots its disk (confinement.py, rootfs.py):
#: util-linux's namespace, capability and mount tools, and `hostname`.
CONFINEMENT = tuple(Dependency(tool, package, _program(tool, "--version"))
                    for tool, package in (("unshare", "util-linux"), ("nsenter", "util-linux"),
                                          ("setpriv", "util-linux"), ("mount", "mount"),
                                          ("pivot_root", "util-linux"), ("hostname", "hostname")))

#: What the data plane itself needs: nftables rule sets in-process, netlink, and
#: `ip netns exec` to start instance processes (confining them needs CONFINEMENT too).
DATA_PLANE = (LIBNFTABLES, PYROUTE2, IPROUTE2)

#: What the PrivateLink lab's instances run: nginx behind the NLB, curl through the endpoint.
LAB = (NGINX, CURL)


def missing(dependencies: tuple[Dependency, ...]) -> list[str]:
    """A line for each dependency that does not work (none if all do)."""
    return [line for line in (d.missing() for d in dependencies) if line is not None]
