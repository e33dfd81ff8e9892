"""The guest init as PID 1 of a machine (tests/helpers/guest_root.py): the console an EC2
boot shows, host keys, enabled units at every boot, user data once, reaping, SIGTERM."""
from __future__ import annotations

import os

import pytest

from tests.helpers.guest_root import HELLO_UNIT, booted
from tests.helpers.server import is_root
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root (namespaces, mounts)")

USER_DATA = """#!/bin/bash
echo "user data as $(id -un) in $(pwd)"
mkdir -p /var/lib/hello
cat > /etc/systemd/system/hello.service <<'X'
""" + HELLO_UNIT + """X
systemctl enable --now hello
echo ran >> /root/user-data-runs
"""


@pytest.fixture
def machine(tmp_path):
    yield from booted(tmp_path)


def test_first_boot_console_keys_units_user_data(machine):
    machine.boot(first_boot=True, user_data=USER_DATA)
    console = machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    lines = console.splitlines()
    assert lines[0].startswith("Cloud-init v. 22.4.2 running 'init-local' at ")
    assert any(line.startswith("Cloud-init v. 22.4.2 running 'init' at ") for line in lines)
    assert any(line.startswith("ci-info: |   lo   | True | 127.0.0.1 |") for line in lines)
    assert "[  OK  ] Started nginx.service - A high performance web server and a reverse proxy server." in lines
    assert "user data as root in /" in lines
    assert lines.index("user data as root in /") > lines.index(
        next(x for x in lines if "running 'modules:final'" in x))
    if os.path.exists("/usr/bin/ssh-keygen"):
        start = lines.index("ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----")
        end = lines.index("ec2: -----END SSH HOST KEY FINGERPRINTS-----")
        kinds = sorted(x.rsplit("(", 1)[1] for x in lines[start + 1:end])
        assert kinds == ["ECDSA)", "ED25519)", "RSA)"]
        assert all(x.split()[2].startswith("SHA256:") and "root@ip-172-31-1-5" in x
                   for x in lines[start + 1:end])
        keys = lines[lines.index("-----BEGIN SSH HOST KEY KEYS-----") + 1:
                     lines.index("-----END SSH HOST KEY KEYS-----")]
        assert sorted(k.split()[0] for k in keys) == ["ecdsa-sha2-nistp256", "ssh-ed25519", "ssh-rsa"]
        # The machine's own keys, not the image's (the host's).
        host_keys = "".join(open(f"/etc/ssh/{f}").read() for f in os.listdir("/etc/ssh")
                            if f.startswith("ssh_host_") and f.endswith(".pub"))
        assert not any(k.split()[1] in host_keys for k in keys)
        assert (machine.upper / "etc/ssh/ssh_host_ed25519_key").exists()
    assert lines[-1].startswith("Cloud-init v. 22.4.2 finished at ")
    assert machine.run("systemctl is-active hello nginx").stdout == "active\nactive\n"
    assert machine.run("cat /root/user-data-runs").stdout == "ran\n"
    assert not os.path.exists("/root/user-data-runs")


def test_enabled_units_come_back_and_user_data_runs_once(machine):
    machine.boot(first_boot=True, user_data=USER_DATA)
    machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    keys = (machine.upper / "etc/ssh/ssh_host_ed25519_key.pub").read_bytes() \
        if os.path.exists("/usr/bin/ssh-keygen") else b""
    assert machine.stop() == 0
    assert "[  OK  ] Stopped hello.service - Hello test service." in machine.console_text()
    machine.console.write_text("")
    machine.boot(first_boot=False, user_data=USER_DATA)
    console = machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    assert "[  OK  ] Started hello.service - Hello test service." in console
    assert "user data as root" not in console
    assert machine.run("cat /root/user-data-runs").stdout == "ran\n"
    assert machine.run("systemctl is-active hello").stdout == "active\n"
    assert "Welcome to nginx" in machine.run("curl -s http://127.0.0.1/").stdout
    if keys:
        assert (machine.upper / "etc/ssh/ssh_host_ed25519_key.pub").read_bytes() == keys
        assert "ec2: -----BEGIN SSH HOST KEY FINGERPRINTS-----" in console  # every boot


def test_bad_units_and_bad_user_data_never_end_init(machine):
    machine.upper.joinpath("etc/systemd/system/multi-user.target.wants").mkdir(parents=True)
    unit = machine.upper / "etc/systemd/system/bad.service"
    unit.write_text("[Service]\nExecStart=/no/such/program\n[Install]\nWantedBy=multi-user.target\n")
    os.symlink("/etc/systemd/system/bad.service",
               machine.upper / "etc/systemd/system/multi-user.target.wants/bad.service")
    machine.boot(first_boot=True, user_data="#!/bin/sh\necho failing\nexit 3\n")
    console = machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    assert "[FAILED] Failed to start bad.service" in console
    assert "cc_scripts_user.py[WARNING]: Failed to run module scripts_user" in console
    assert machine.run("true").returncode == 0  # PID 1 is still there
    assert machine.stop() == 0


def test_cloud_config_is_named_not_run(machine):
    machine.boot(first_boot=True, user_data="#cloud-config\npackages: [nginx]\n")
    console = machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    assert "vpclab: the user data (#cloud-config) was not applied: vpclab runs only user data " \
           "scripts (starting with #!)" in console


def test_init_reaps_orphans_and_ends_every_process_on_sigterm(machine):
    machine.boot(first_boot=False)
    machine.wait_console("Datasource DataSourceEc2.", timeout=30)
    machine.run("for i in 1 2 3 4 5; do (sleep 0.1 &) ; done; setsid sleep 1000 >/dev/null 2>&1 &")
    def no_zombies():
        states = machine.run("ps -eo stat=,comm=").stdout.splitlines()
        return not any(s.split()[0].startswith("Z") for s in states if s.strip())
    wait_for(no_zombies, timeout=5, what="no zombies")
    assert machine.run("pgrep -x sleep").stdout.strip()
    assert machine.stop(timeout=15) == 0
    assert machine.proc is None
