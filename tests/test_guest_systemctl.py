"""systemctl inside a machine (tests/helpers/guest_root.py): real units of the image
(Debian's nginx.service and ssh.service) and one of the tests' own, real processes."""
from __future__ import annotations

import os

import pytest

from tests.helpers.guest_root import HELLO_UNIT, booted
from tests.helpers.server import is_root
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.skipif(not is_root(), reason="needs root (namespaces, mounts)")

HOST_WANTS = "/etc/systemd/system/multi-user.target.wants"


@pytest.fixture
def guest(tmp_path):
    for g in booted(tmp_path):
        g.boot(first_boot=False)
        g.wait_console("finished at")
        yield g


def nginx_pids(guest) -> list[str]:
    return guest.run("pgrep -x nginx").stdout.split()


def test_start_status_stop_nginx(guest):
    guest.run("systemctl stop nginx", check=True)
    assert nginx_pids(guest) == []
    r = guest.run("systemctl status nginx --no-pager")
    assert r.returncode == 3
    assert "\u25cb nginx.service - A high performance web server" in r.stdout
    assert "Active: inactive (dead)" in r.stdout
    assert guest.run("systemctl is-active nginx").stdout == "inactive\n"

    guest.run("systemctl start nginx", check=True)
    assert "Welcome to nginx" in guest.run("curl -s http://127.0.0.1/").stdout
    r = guest.run("systemctl status nginx")
    assert r.returncode == 0, r.stdout
    lines = r.stdout.splitlines()
    assert lines[0] == "\u25cf nginx.service - A high performance web server and a reverse proxy server"
    assert lines[1] == ("     Loaded: loaded (/lib/systemd/system/nginx.service; enabled; "
                        "preset: enabled)")
    assert lines[2].startswith("     Active: active (running) since ")
    master = guest.run("cat /run/nginx.pid").stdout.strip()
    assert f"   Main PID: {master} (nginx)" in lines
    assert "nginx: worker process" in r.stdout  # the CGroup tree lists the workers
    r = guest.run("systemctl show -p MainPID,ActiveState,SubState nginx")
    assert r.stdout == f"MainPID={master}\nActiveState=active\nSubState=running\n"

    guest.run("systemctl restart nginx", check=True)
    new_master = guest.run("cat /run/nginx.pid").stdout.strip()
    assert new_master != master
    guest.run("systemctl reload nginx", check=True)
    assert guest.run("cat /run/nginx.pid").stdout.strip() == new_master

    guest.run("systemctl stop nginx", check=True)
    wait_for(lambda: nginx_pids(guest) == [], timeout=10, what="nginx gone")
    assert guest.run("curl -s -m 2 http://127.0.0.1/").returncode != 0


def test_ssh_unit_and_its_sshd_alias(guest):
    if not os.path.exists("/lib/systemd/system/ssh.service"):
        pytest.skip("openssh-server is not installed on this machine")
    r = guest.run("systemctl status sshd")
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.startswith("\u25cf ssh.service - OpenBSD Secure Shell server")
    assert guest.run("systemctl is-active ssh.service").stdout == "active\n"
    assert guest.run("test -d /run/sshd").returncode == 0  # RuntimeDirectory=
    listening = guest.run("cat /proc/net/tcp /proc/net/tcp6").stdout
    assert ":0016 " in listening  # port 22
    pid = guest.run("systemctl show -p MainPID --value ssh").stdout.strip()
    guest.run("systemctl reload ssh", check=True)  # sshd -t, then kill -HUP $MAINPID
    guest.run("systemctl restart sshd", check=True)
    assert guest.run("systemctl show -p MainPID --value ssh").stdout.strip() != pid
    guest.run("systemctl stop ssh", check=True)
    assert guest.run("test -d /run/sshd").returncode != 0


def test_enable_disable_write_the_machines_disk_only(guest):
    guest.run(f"mkdir -p /var/lib/hello && echo EXTRA=from-file > /etc/default/hello && "
              f"cat > /etc/systemd/system/hello.service <<'X'\n{HELLO_UNIT}X", check=True)
    assert guest.run("systemctl is-enabled hello").stdout == "disabled\n"
    r = guest.run("systemctl enable --now hello")
    assert r.returncode == 0, r.stderr
    link = "/etc/systemd/system/multi-user.target.wants/hello.service"
    assert r.stderr == f"Created symlink {link} \u2192 /etc/systemd/system/hello.service.\n"
    assert guest.run("systemctl is-enabled hello").stdout == "enabled\n"
    assert (guest.upper / link.lstrip("/")).is_symlink()
    assert not os.path.lexists(f"{HOST_WANTS}/hello.service")
    assert guest.run("systemctl is-active hello").returncode == 0
    log = wait_for(lambda: guest.run("cat /var/log/hello.service.log").stdout, timeout=5)
    assert log == "hello there world from-file /var/lib/hello root\n"
    assert guest.run("cat /run/hello/pre").stdout == "pre hello there world\n"

    r = guest.run("systemctl disable --now hello")
    assert r.stderr == f'Removed "{link}".\n'
    main = guest.run("cat /var/lib/hello/stopped").stdout.split()
    assert main[0] == "stopping" and main[1].isdigit()  # ExecStop saw $MAINPID
    assert guest.run("pgrep -x sleep").stdout == ""
    assert guest.run("test -e /run/hello").returncode != 0  # RuntimeDirectory removed
    assert guest.run("systemctl is-enabled hello").returncode == 1

    # The image's own enablement: nginx is enabled on the host; disabling it in the
    # machine hides the link there and nowhere else.
    guest.run("systemctl disable nginx", check=True)
    assert guest.run("systemctl is-enabled nginx").stdout == "disabled\n"
    assert os.path.lexists(f"{HOST_WANTS}/nginx.service")


def test_unknown_and_failing_units(guest):
    r = guest.run("systemctl start foo")
    assert (r.returncode, r.stderr) == (5, "Failed to start foo.service: Unit foo.service not found.\n")
    r = guest.run("systemctl status foo")
    assert (r.returncode, r.stderr) == (4, "Unit foo.service could not be found.\n")
    assert guest.run("systemctl is-active foo").returncode == 3
    guest.run("printf '[Unit]\\nDescription=Broken\\n[Service]\\nExecStartPre=/bin/false\\n"
              "ExecStart=/bin/sleep 100\\n' > /etc/systemd/system/broken.service", check=True)
    r = guest.run("systemctl start broken")
    assert r.returncode == 1
    assert r.stderr.startswith("Job for broken.service failed because the control process "
                               "exited with error code.\n")
    assert guest.run("systemctl is-failed broken").stdout == "failed\n"
    r = guest.run("systemctl status broken")
    assert r.returncode == 3
    assert "Active: failed (Result: exit-code)" in r.stdout
    assert "ExecStartPre=/bin/false (code=exited, status=1/FAILURE)" in r.stdout
    guest.run("printf '[Service]\\nType=oneshot\\nRemainAfterExit=yes\\nUser=nobody\\n"
              "ExecStart=/bin/sh -c \"id -un > /tmp/who\"\\n' > /etc/systemd/system/once.service",
              check=True)
    guest.run("systemctl start once", check=True)
    assert guest.run("cat /tmp/who").stdout == "nobody\n"
    assert guest.run("systemctl is-active once").stdout == "active\n"
    r = guest.run("systemctl list-units --type=service --no-pager")
    assert "once.service" in r.stdout and "nginx.service" in r.stdout
