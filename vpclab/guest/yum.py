#!/usr/bin/python3 -I
"""yum and dnf on a vpclab Amazon Linux instance, whose packages are Debian's: names are
mapped (`NAMES`), the instance's own dpkg answers what is installed, and its own apt-get
installs and removes. One file, standard library only (copied into the instance alone).

An instance has no internet unless it was given a path: apt-get then cannot download,
and this prints what dnf (or AL2's yum) prints when its repository cannot be reached.
With nothing to download, `update`, `upgrade` and `check-update` find nothing to do, as
on an up-to-date machine whose metadata is cached.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass

#: Amazon Linux package names whose Debian package is named otherwise.
NAMES = {
    "httpd": "apache2", "httpd-tools": "apache2-utils", "mod_ssl": "apache2",
    "bind-utils": "dnsutils", "iproute": "iproute2", "procps-ng": "procps",
    "nmap-ncat": "netcat-openbsd", "nc": "netcat-openbsd", "cronie": "cron",
    "vim-enhanced": "vim", "vim-minimal": "vim-tiny", "which": "debianutils",
    "curl-minimal": "curl", "gcc-c++": "g++", "openssl-devel": "libssl-dev",
    "python3-devel": "python3-dev", "mariadb105-server": "mariadb-server",
    "mariadb105": "mariadb-client", "postgresql15": "postgresql-client",
    "postgresql15-server": "postgresql", "java-17-amazon-corretto": "openjdk-17-jre",
    "java-17-amazon-corretto-devel": "openjdk-17-jdk", "docker": "docker.io",
    "shadow-utils": "passwd", "util-linux-core": "util-linux", "xz": "xz-utils",
}

ARCHES = {"amd64": "x86_64", "arm64": "aarch64", "all": "noarch", "i386": "i686"}
BOOT_JSON = "/run/vpclab/boot.json"


@dataclass
class Installed:
    name: str       # the Amazon Linux name asked for
    package: str    # the Debian package behind it
    version: str
    arch: str

    @property
    def nevra(self) -> str:
        return f"{self.name}-{self.version}.{self.arch}"


def debian_name(name: str) -> str:
    return NAMES.get(name, name)


def installed(name: str) -> Installed | None:
    """`name` as dpkg knows it, if installed."""
    package = debian_name(name)
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\t${Version}\t${Architecture}\n", package],
            capture_output=True, text=True).stdout
    except OSError:
        return None
    for line in out.splitlines():
        status, _, rest = line.partition("\t")
        version, _, arch = rest.partition("\t")
        if status.endswith(" installed"):
            return Installed(name, package, rpm_version(version), ARCHES.get(arch, arch))
    return None


def rpm_version(debian: str) -> str:
    """Debian's `1:1.22.1-9+deb12u1` without its epoch, as yum's messages show versions."""
    return debian.split(":", 1)[-1]


def all_installed() -> list[Installed]:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Status}\t${Package}\t${Version}\t${Architecture}\n"],
            capture_output=True, text=True).stdout
    except OSError:
        return []
    found = []
    for line in out.splitlines():
        parts = line.split("\t")
        if len(parts) == 4 and parts[0].endswith(" installed"):
            found.append(Installed(parts[1], parts[1], rpm_version(parts[2]),
                                   ARCHES.get(parts[3], parts[3])))
    return found


def distribution() -> str:
    try:
        with open(BOOT_JSON) as f:
            return str(json.load(f).get("distribution") or "amazon-linux-2023")
    except (OSError, ValueError, AttributeError):
        return "amazon-linux-2023"


def region() -> str:
    """The instance's region, from its resolv.conf search domain (`<region>.compute.internal`)."""
    try:
        with open("/etc/resolv.conf") as f:
            for line in f:
                parts = line.split()
                if parts and parts[0] == "search":
                    for domain in parts[1:]:
                        if domain == "ec2.internal":
                            return "us-east-1"
                        if domain.endswith(".compute.internal"):
                            return domain.removesuffix(".compute.internal")
    except OSError:
        pass
    return "us-east-1"


def unreachable() -> str:
    """What the package manager prints when its repository cannot be reached."""
    r = region()
    if distribution() == "amazon-linux-2":
        host = f"amazonlinux-2-repos-{r}.s3.dualstack.{r}.amazonaws.com"
        url = f"https://{host}/2/core/latest/x86_64/mirror.list"
        return (f"Could not retrieve mirrorlist {url} error was\n"
                f"14: curl#6 - \"Could not resolve host: {host}; Unknown error\"\n\n\n"
                " One of the configured repositories failed (Unknown),\n"
                " and yum doesn't have enough cached data to continue. At this point the only\n"
                " safe thing yum can do is fail.\n\n"
                "Cannot find a valid baseurl for repo: amzn2-core/2/x86_64\n")
    host = f"al2023-repos-{r}-de612dc2.s3.dualstack.{r}.amazonaws.com"
    url = f"https://{host}/core/mirrors/latest/x86_64/mirror.list"
    return ("Amazon Linux 2023 repository                    0.0  B/s |   0  B     00:00\n"
            "Errors during downloading metadata for repository 'amazonlinux':\n"
            f"  - Curl error (6): Couldn't resolve host name for {url} "
            f"[Could not resolve host: {host}]\n"
            "Error: Failed to download metadata for repo 'amazonlinux': Cannot download "
            "repomd.xml: Cannot download repodata/repomd.xml: All mirrors were tried\n")


def apt(*args: str) -> bool:
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        done = subprocess.run(["apt-get", "-y", "-q", *args], env=env, capture_output=True,
                              text=True, stdin=subprocess.DEVNULL)
    except OSError:
        return False
    return done.returncode == 0


def summary(title: str, verb: str, packages: list[Installed]) -> str:
    rule = "=" * 80
    lines = ["Dependencies resolved.", rule,
             f" {'Package':<24} {'Architecture':<14} {'Version':<26} {'Repository':<12}",
             rule, f"{title}:"]
    lines += [f" {p.name:<24} {p.arch:<14} {p.version:<26} {'amazonlinux':<12}" for p in packages]
    plural = "Package" if len(packages) == 1 else "Packages"
    lines += ["", "Transaction Summary", rule, f"{verb}  {len(packages)} {plural}", ""]
    return "\n".join(lines) + "\n"


def install(names: list[str], quiet: bool) -> int:
    have = {n: installed(n) for n in names}
    missing = [n for n, p in have.items() if p is None]
    out: list[str] = []
    for n in names:
        p = have[n]
        if p is not None:
            out.append(f"Package {p.nevra} is already installed.")
    if not missing:
        if not quiet:
            print("\n".join(out + ["Dependencies resolved.", "Nothing to do.", "Complete!"]))
        return 0
    if not apt("install", "--no-install-recommends", *[debian_name(n) for n in missing]):
        sys.stderr.write(unreachable())
        return 1
    done = [p for p in (installed(n) for n in missing) if p is not None]
    if not quiet:
        print("\n".join(out))
        sys.stdout.write(summary("Installing", "Install", done))
        print("Installed:")
        print("\n".join(f"  {p.nevra}" for p in done))
        print("\nComplete!")
    return 0


def remove(names: list[str], quiet: bool) -> int:
    have = [p for p in (installed(n) for n in names) if p is not None]
    if not have:
        for n in names:
            print(f"No match for argument: {n}")
        print("No packages marked for removal.\nDependencies resolved.\nNothing to do.\n"
              "Complete!")
        return 0
    if not apt("remove", *[p.package for p in have]):
        sys.stderr.write("Error: Transaction test error\n")
        return 1
    if not quiet:
        sys.stdout.write(summary("Removing", "Remove", have))
        print("Removed:")
        print("\n".join(f"  {p.nevra}" for p in have))
        print("\nComplete!")
    return 0


def list_installed(names: list[str]) -> int:
    if names:
        found = [p for p in (installed(n) for n in names) if p is not None]
        if not found:
            sys.stderr.write("Error: No matching Packages to list\n")
            return 1
    else:
        found = all_installed()
    print("Installed Packages")
    for p in found:
        print(f"{p.name + '.' + p.arch:<40} {p.version:<30} @System")
    return 0


def info(names: list[str]) -> int:
    found = [(n, installed(n)) for n in names]
    if not any(p for _, p in found):
        sys.stderr.write("Error: No matching Packages to list\n")
        return 1
    print("Installed Packages")
    for name, p in found:
        if p is None:
            continue
        fields = {"Description": "", "Homepage": "", "Installed-Size": "0"}
        try:
            out = subprocess.run(["dpkg-query", "-W",
                                  "-f=${Description}\t${Homepage}\t${Installed-Size}",
                                  p.package], capture_output=True, text=True).stdout
            desc, home, size = (out.split("\t") + ["", "", ""])[:3]
            fields.update({"Description": desc, "Homepage": home, "Installed-Size": size})
        except OSError:
            pass
        summary_line, _, rest = fields["Description"].partition("\n")
        version, _, release = p.version.rpartition("-")
        print(f"Name         : {name}\nVersion      : {version or p.version}\n"
              f"Release      : {release if version else '0'}\nArchitecture : {p.arch}\n"
              f"Size         : {int(fields['Installed-Size'] or 0) * 1024}\n"
              f"Source       : {p.package}\nRepository   : @System\n"
              f"Summary      : {summary_line}\nURL          : {fields['Homepage']}\n"
              f"Description  : {' '.join(rest.split()) or summary_line}\n")
    return 0


def metadata_line() -> str:
    return (f"Last metadata expiration check: 0:00:00 ago on "
            f"{time.strftime('%a %d %b %Y %I:%M:%S %p %Z')}.")


def main(argv: list[str]) -> int:
    quiet = False
    words: list[str] = []
    for a in argv:
        if a in ("-y", "--assumeyes", "--nogpgcheck", "--best", "--allowerasing",
                 "--skip-broken", "--refresh", "-C", "--cacheonly"):
            continue
        if a in ("-q", "--quiet"):
            quiet = True
        elif a.startswith("-"):
            continue
        else:
            words.append(a)
    if not words:
        sys.stderr.write("usage: dnf [options] COMMAND\n")
        return 1
    cmd, args = words[0], words[1:]
    if cmd in ("install", "reinstall", "localinstall"):
        if not args:
            sys.stderr.write("Error: Need to pass a list of pkgs to install\n")
            return 1
        return install(args, quiet)
    if cmd in ("remove", "erase", "autoremove") and (args or cmd == "autoremove"):
        if not args:
            print("Dependencies resolved.\nNothing to do.\nComplete!")
            return 0
        return remove(args, quiet)
    if cmd == "list":
        return list_installed([a for a in args if a not in ("installed", "all")])
    if cmd == "info":
        return info(args)
    if cmd == "check-update":
        if not quiet:
            print(metadata_line())
        return 0
    if cmd in ("update", "upgrade", "distro-sync", "upgrade-minimal"):
        if not quiet:
            print(metadata_line())
            print("Dependencies resolved.\nNothing to do.\nComplete!")
        return 0
    if cmd == "makecache":
        if not quiet:
            print("Metadata cache created.")
        return 0
    if cmd == "clean":
        if not quiet:
            print("0 files removed")
        return 0
    sys.stderr.write(f"No such command: {cmd}. Please use {os.path.basename(sys.argv[0])} "
                     "--help\n")
    return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
