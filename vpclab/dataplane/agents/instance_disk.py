"""What vpclab writes on an instance's disk (`kernel.rootfs.Disk`), as an AMI's build
and cloud-init would have: once, when the disk is new (`personalise`), and before every
boot (`refresh`).

Once: the image's users (the host's system accounts, and the default user of the
image's distribution, `aws_names.default_user`, uid 1000, in the sudo groups) in the
instance's own /etc/passwd, group, shadow and gshadow (no password anywhere: the host's
hashes never enter an instance); passwordless sudo for the default user, as cloud-init
writes it (/etc/sudoers.d/90-cloud-init-users); the launch key's public half in its
`~/.ssh/authorized_keys`; an sshd that takes keys only; the enabled units: sshd alone
(the host's own enabled units do not show through); /etc/machine-id; /etc/os-release of
the image (Amazon Linux, Debian or Ubuntu by name, over the host's Debian userland).

Every boot (after `Disk.hide`, which the caller runs first, with the state directory): the
files EC2's DHCP and cloud-init rewrite (/etc/hostname, /etc/hosts, /etc/resolv.conf),
and the guest programs the image answers commands with (`/usr/bin/systemctl`, and
yum/dnf on Amazon Linux).
"""
from __future__ import annotations

import os
import secrets
from pathlib import Path

from ...aws_names import default_user, private_dns_domain, private_host_name, uses_yum
from ...kernel.rootfs import Disk
from ...model.ec2 import Instance
from ..world import resolver_of

#: uid and gid of the default user, as on the AMIs.
DEFAULT_UID = 1000

#: Groups the default user is in (those of them the image has).
USER_GROUPS = ("adm", "wheel", "sudo", "systemd-journal")

OS_RELEASE = {
    "amazon-linux-2023": ('NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\n'
                          'VERSION_ID="2023"\nPLATFORM_ID="platform:al2023"\n'
                          'PRETTY_NAME="Amazon Linux 2023.6.20241121"\nANSI_COLOR="0;33"\n'
                          'HOME_URL="https://aws.amazon.com/linux/amazon-linux-2023/"\n',
                          "Amazon Linux release 2023.6.20241121 (Amazon Linux)\n"),
    "amazon-linux-2": ('NAME="Amazon Linux"\nVERSION="2"\nID="amzn"\nID_LIKE="centos rhel fedora"\n'
                       'VERSION_ID="2"\nPRETTY_NAME="Amazon Linux 2"\nANSI_COLOR="0;33"\n'
                       'HOME_URL="https://amazonlinux.com/"\n',
                       "Amazon Linux release 2 (Karoo)\n"),
    "ubuntu-24.04": ('PRETTY_NAME="Ubuntu 24.04.1 LTS"\nNAME="Ubuntu"\nVERSION_ID="24.04"\n'
                     'VERSION="24.04.1 LTS (Noble Numbat)"\nVERSION_CODENAME=noble\nID=ubuntu\n'
                     'ID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n', None),
    "ubuntu-22.04": ('PRETTY_NAME="Ubuntu 22.04.5 LTS"\nNAME="Ubuntu"\nVERSION_ID="22.04"\n'
                     'VERSION="22.04.5 LTS (Jammy Jellyfish)"\nVERSION_CODENAME=jammy\nID=ubuntu\n'
                     'ID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n', None),
}

SSHD_CONFIG = """# Written by vpclab, as an AMI's build would: keys only.
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
"""

AMAZON_BASHRC = """# .bashrc
[ -f /etc/bash.bashrc ] && . /etc/bash.bashrc
PS1='[\\u@\\h \\W]\\$ '
"""

SUDOERS = """Defaults\tenv_reset
Defaults\tsecure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
root\tALL=(ALL:ALL) ALL
%sudo\tALL=(ALL:ALL) ALL
@includedir /etc/sudoers.d
"""


def _system_lines(path: str, id_field: int) -> list[list[str]]:
    """The host's entries of a passwd-style file whose id is a system one (< 1000, or
    nobody's 65534): the image's accounts, not the host's people."""
    out = []
    with open(path) as f:
        for line in f:
            fields = line.rstrip("\n").split(":")
            if len(fields) <= id_field or not fields[id_field].isdigit():
                continue
            n = int(fields[id_field])
            if n < DEFAULT_UID or n == 65534:
                out.append(fields)
    return out


def personalise(disk: Disk, inst: Instance) -> None:
    """What a new disk gets once (see the module's docstring)."""
    user = default_user(inst.distribution)
    users = _system_lines("/etc/passwd", 2)
    groups = _system_lines("/etc/group", 2)
    home = f"/home/{user}"
    users.append([user, "x", str(DEFAULT_UID), str(DEFAULT_UID), "", home, "/bin/bash"])
    for g in groups:
        if g[0] in USER_GROUPS:
            g[3] = ",".join([*filter(None, g[3].split(",")), user])
    groups.append([user, "x", str(DEFAULT_UID), ""])
    shadow_gid = next((int(g[2]) for g in groups if g[0] == "shadow"), 0)
    disk.write("/etc/passwd", "".join(":".join(u) + "\n" for u in users))
    disk.write("/etc/group", "".join(":".join(g) + "\n" for g in groups))
    # "*": no password can match, and the account is not locked (sshd refuses a login to
    # a locked one, "!").
    disk.write("/etc/shadow", "".join(f"{u[0]}:*:20000:0:99999:7:::\n" for u in users), 0o640, 0, shadow_gid)
    disk.write("/etc/gshadow", "".join(f"{g[0]}:*::{g[3]}\n" for g in groups), 0o640, 0, shadow_gid)
    disk.write("/etc/sudoers", SUDOERS, 0o440)
    disk.write("/etc/sudoers.d/90-cloud-init-users",
               f"# Created by cloud-init v. vpclab\n\n# User rules for {user}\n{user} ALL=(ALL) NOPASSWD:ALL\n",
               0o440)
    disk.mkdir(home, 0o700, DEFAULT_UID, DEFAULT_UID, opaque=True)
    disk.mkdir(f"{home}/.ssh", 0o700, DEFAULT_UID, DEFAULT_UID)
    disk.write(f"{home}/.ssh/authorized_keys", (inst.key_public + "\n") if inst.key_public else "",
               0o600, DEFAULT_UID, DEFAULT_UID)
    for dotfile in (".bashrc", ".profile", ".bash_logout"):
        skel = Path("/etc/skel") / dotfile
        if skel.is_file():
            disk.write(f"{home}/{dotfile}", skel.read_bytes(), 0o644, DEFAULT_UID, DEFAULT_UID)
    if uses_yum(inst.distribution):  # Amazon Linux's prompt: [ec2-user@ip-172-31-0-5 ~]$
        disk.write(f"{home}/.bashrc", AMAZON_BASHRC, 0o644, DEFAULT_UID, DEFAULT_UID)
        disk.write("/root/.bashrc", AMAZON_BASHRC, 0o644)
        disk.write("/root/.bash_profile", "[ -f ~/.bashrc ] && . ~/.bashrc\n", 0o644)
    disk.write("/etc/ssh/sshd_config.d/50-vpclab.conf", SSHD_CONFIG)
    _sshd_pam(disk)
    _enabled_units(disk)
    disk.write("/etc/machine-id", secrets.token_hex(16) + "\n", 0o444)
    release = OS_RELEASE.get(inst.distribution)
    if release is not None:
        disk.write("/etc/os-release", release[0])
        if release[1] is not None:
            disk.write("/etc/system-release", release[1])


def _sshd_pam(disk: Disk) -> None:
    """Debian's sshd PAM stack requires pam_loginuid, which needs CAP_AUDIT_CONTROL (an
    instance has none): optional in the instance's copy, as container images do."""
    try:
        text = Path("/etc/pam.d/sshd").read_text()
    except OSError:
        return
    disk.write("/etc/pam.d/sshd", text.replace("required     pam_loginuid.so", "optional     pam_loginuid.so")
               .replace("required\tpam_loginuid.so", "optional\tpam_loginuid.so"))


def _enabled_units(disk: Disk) -> None:
    """The image's enabled units: sshd, and none of the host's."""
    system = "/etc/systemd/system"
    if os.path.isdir(system):
        for name in os.listdir(system):
            if name.endswith(".wants") and os.path.isdir(os.path.join(system, name)):
                disk.mkdir(f"{system}/{name}", opaque=True)
    wants = f"{system}/multi-user.target.wants"
    disk.mkdir(wants, opaque=True)
    for unit in ("/lib/systemd/system/ssh.service", "/usr/lib/systemd/system/ssh.service"):
        if os.path.exists(unit):
            disk.symlink(f"{wants}/ssh.service", unit)
            disk.symlink(f"{system}/sshd.service", unit)
            break


#: The system trust bundle, where Debian and Ubuntu keep it (and `AWS_CA_BUNDLE` points);
#: Amazon Linux's path is written too, on its images.
TRUST_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
AMAZON_TRUST_BUNDLE = "/etc/pki/tls/certs/ca-bundle.crt"
#: The CA as `update-ca-certificates` finds local ones.
LOCAL_CA = "/usr/local/share/ca-certificates/vpclab-ca.crt"


def trust(disk: Disk, inst: Instance, ca_pem: bytes) -> None:
    """Make the instance trust `ca_pem` (see the module's docstring)."""
    try:
        host_bundle = Path(TRUST_BUNDLE).read_bytes()
    except OSError:
        host_bundle = b""
    bundle = host_bundle.rstrip(b"\n") + (b"\n" if host_bundle else b"") + ca_pem
    disk.write(TRUST_BUNDLE, bundle)
    if uses_yum(inst.distribution):
        disk.write(AMAZON_TRUST_BUNDLE, bundle)
    disk.write(LOCAL_CA, ca_pem)
    try:
        environment = Path("/etc/environment").read_text()
    except OSError:
        environment = ""
    lines = [line for line in environment.splitlines() if not line.startswith("AWS_CA_BUNDLE=")]
    disk.write("/etc/environment", "\n".join([*lines, f"AWS_CA_BUNDLE={TRUST_BUNDLE}"]) + "\n")


def refresh(disk: Disk, inst: Instance, vpc_cidr: str | None, programs: dict[str, bytes],
            ca_pem: bytes | None = None) -> None:
    """What every boot writes (see the module's docstring), after `Disk.hide`.
    `programs`: file name in /usr/bin -> content; `ca_pem`: the CA to trust."""
    name = private_host_name(inst.private_ip)
    fqdn = f"{name}.{private_dns_domain(inst.region)}"
    disk.write("/etc/hostname", f"{name}\n")
    disk.write("/etc/hosts", f"127.0.0.1 localhost\n{inst.private_ip} {fqdn} {name}\n"
                             "::1 localhost ip6-localhost ip6-loopback\n")
    if vpc_cidr:
        disk.write("/etc/resolv.conf", f"nameserver {resolver_of(vpc_cidr)}\n"
                                       f"search {private_dns_domain(inst.region)}\n"
                                       "options timeout:2 attempts:5\n")
    for fname, content in programs.items():
        if fname in ("yum", "dnf") and not uses_yum(inst.distribution):
            continue
        disk.write(f"/usr/bin/{fname}", content, 0o755)
    if ca_pem is not None:
        trust(disk, inst, ca_pem)
