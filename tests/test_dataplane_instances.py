"""Instances run as namespaces with real processes: user data, exec/ssh, stop/start/terminate.

Traffic stays inside namespaces vpclab made: every curl runs through `vpclab exec`.
"""
from __future__ import annotations

import os
import pty
import select
import shutil
import sys
import time
from functools import partial

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.instances import (
    alive,
    console_text,
    curl_ok,
    describe,
    launch,
    namespace,
    processes,
    program_names,
    vexec,
    wait_state,
)
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.kernel import confinement, netns

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("curl") is None,
                                reason="needs Debian's nginx and curl")

NGINX = "#!/bin/sh\necho user-data-ran-here\nnginx\n"


wait_for = partial(_wait_for, timeout=15.0, interval=0.05)


def test_user_data_runs_nginx_and_exec_enters_the_instance(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    launched = launch(ec2, "web-1")
    iid = launched["InstanceId"]
    assert launched["State"]["Name"] == "pending"
    assert describe(ec2, iid)["State"]["Name"] in ("pending", "running")
    inst = wait_state(ec2, iid, "running")
    ip = inst["PrivateIpAddress"]

    # The user data ran, once, and its output is on the console.
    console = wait_for(lambda: (lambda t: t if "user-data-ran-here" in t else None)(console_text(ec2, iid)),
                       what="user data output on the console")
    assert f"booting {iid}" in console
    assert "Cloud-init v." in console and "running 'modules:final'" in console
    assert console.count("user-data-ran-here") == 1

    page = curl_ok(srv, iid, "http://127.0.0.1/")
    assert "Welcome to nginx!" in page

    # Name tag lookup, host name from the private IP, resolver of the VPC.
    r = vexec(srv, "web-1", "hostname")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ip-" + ip.replace(".", "-")
    r = vexec(srv, "web-1", "cat", "/etc/resolv.conf")
    assert "nameserver 172.31.0.2" in r.stdout and "search ap-south-1.compute.internal" in r.stdout
    r = vexec(srv, "web-1", "ip", "-4", "-br", "addr", "show", "eth0")
    assert ip in r.stdout

    # Exit codes and stdin pass through.
    assert vexec(srv, iid, "sh", "-c", "exit 7").returncode == 7
    r = vexec(srv, iid, "sh", "-c", "tr a-z A-Z; exit 3", input="hello instance\n")
    assert (r.returncode, r.stdout) == (3, "HELLO INSTANCE\n")
    assert vexec(srv, iid, "definitely-not-a-command").returncode == 127

    # nginx keeps its pid file in the instance's own /run (a tmpfs) and its log on the
    # instance's disk (the upper layer of its root file system).
    pid = int(vexec(srv, iid, "cat", "/run/nginx.pid").stdout)
    assert pid in [confinement.namespace_pid(p) for p in processes(srv, iid)]
    assert "GET /" in (srv.state_dir / "instances" / iid / "disk/upper/var/log/nginx/access.log").read_text()


def test_two_nginx_side_by_side_reached_from_a_third_instance(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    a = launch(ec2, "web-a")["InstanceId"]
    b = launch(ec2, "web-b")["InstanceId"]
    c = launch(ec2, "client", user_data=None)["InstanceId"]
    ips = {iid: wait_state(ec2, iid, "running")["PrivateIpAddress"] for iid in (a, b, c)}
    for iid in (a, b):
        assert "Welcome to nginx!" in curl_ok(srv, "client", f"http://{ips[iid]}/")
    # Two nginx masters, each in its own namespace, each with its own pid file.
    pids = [int(vexec(srv, iid, "cat", "/run/nginx.pid").stdout) for iid in (a, b)]
    assert pids[0] in [confinement.namespace_pid(p) for p in processes(srv, a)]
    assert pids[1] in [confinement.namespace_pid(p) for p in processes(srv, b)]
    assert "nginx" not in program_names(srv, c)
    # Each access log saw the client's address.
    for iid in (a, b):
        assert ips[c] in (srv.state_dir / "instances" / iid / "disk/upper/var/log/nginx/access.log").read_text()
    # An instance without user data says so on its console.
    # An instance without user data boots as EC2's do: cloud-init's lines, and no script.
    console = wait_for(lambda: (lambda t: t if "Datasource DataSourceEc2" in t else None)(console_text(ec2, c)))
    assert "user-data-ran-here" not in console


def test_stop_start_terminate(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "web-1")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    before = processes(srv, iid)
    assert before  # nginx master and workers
    ns = namespace(srv, iid)

    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    assert not any(alive(p) for p in before)
    wait_for(lambda: not netns.exists(ns), what="namespace removed after stop")
    r = vexec(srv, iid, "true")
    assert r.returncode == 1 and "stopped" in r.stderr and "Traceback" not in r.stderr

    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    assert netns.exists(ns)
    # User data ran at first boot only; nginx was started, not enabled: it is not back
    # (as on EC2), sshd (enabled in the image) is.
    console = wait_for(lambda: (lambda t: t if t.count("Datasource DataSourceEc2") == 2 else None)(
        console_text(ec2, iid)), what="the second boot's cloud-init")
    assert console.count("user-data-ran-here") == 1
    assert "nginx" not in program_names(srv, iid)
    assert "sshd" in program_names(srv, iid)
    r = vexec(srv, iid, "curl", "-sS", "-m", "3", "http://127.0.0.1/")
    assert r.returncode == 7  # connection refused
    # Start nginx by hand, as one would over ssh.
    assert vexec(srv, iid, "nginx").returncode == 0
    curl_ok(srv, iid, "http://127.0.0.1/")
    running = processes(srv, iid)
    eni = describe(ec2, iid)["NetworkInterfaces"][0]["NetworkInterfaceId"]

    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    assert not any(alive(p) for p in running)
    wait_for(lambda: not netns.exists(ns), what="namespace removed after terminate")
    assert ec2.describe_network_interfaces(Filters=[
        {"Name": "network-interface-id", "Values": [eni]}])["NetworkInterfaces"] == []
    # The instance's directory (console log included) went with it.
    wait_for(lambda: not (srv.state_dir / "instances" / iid).exists(), what="instance directory removed")
    assert console_text(ec2, iid) == ""


def test_server_restart_keeps_instances_and_runs_user_data_once(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "web-1")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    # `running` comes before cloud-init has finished (as on EC2): its boot child, the host
    # keys and the user data come and go until then.
    wait_for(lambda: "Datasource DataSourceEc2" in console_text(ec2, iid), what="cloud-init finished")
    pids = sorted(processes(srv, iid))

    assert srv.stop() == 0
    # The instance's processes outlive the server.
    assert pids and all(alive(p) for p in pids)
    # `vpclab exec` reads the store itself: it works while no server runs.
    r = vexec(srv, "web-1", "curl", "-sS", "-m", "3", "http://127.0.0.1/")
    assert r.returncode == 0 and "Welcome to nginx!" in r.stdout, r.stderr
    srv.start()
    ec2 = srv.client("ec2")
    assert describe(ec2, iid)["State"]["Name"] == "running"
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")
    # A pass of the new server's data plane happened; the user data did not run again.
    other = launch(ec2, "web-2", user_data=None)["InstanceId"]
    wait_state(ec2, other, "running")
    assert console_text(ec2, iid).count("user-data-ran-here") == 1
    assert sorted(processes(srv, iid)) == sorted(pids)


def test_systemctl_in_user_data_starts_and_stops_a_unit(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "web-1", user_data="#!/bin/bash\nsystemctl start nginx\n")["InstanceId"]
    wait_state(ec2, iid, "running")
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")
    r = vexec(srv, iid, "systemctl", "is-active", "nginx")
    assert (r.returncode, r.stdout.strip()) == (0, "active")
    assert vexec(srv, iid, "/usr/bin/systemctl", "stop", "nginx").returncode == 0
    r = vexec(srv, iid, "systemctl", "is-active", "nginx")
    assert (r.returncode, r.stdout.strip()) == (3, "inactive")
    assert vexec(srv, iid, "curl", "-sS", "-m", "3", "http://127.0.0.1/").returncode == 7
    assert vexec(srv, iid, "systemctl", "start", "no-such-unit").returncode == 5


def test_exec_errors_are_one_line(dataplane_server):
    srv = dataplane_server
    one = launch(srv.client("ec2", ACCOUNT_1), "same-name", user_data=None)["InstanceId"]
    two = launch(srv.client("ec2", ACCOUNT_2), "same-name", user_data=None)["InstanceId"]
    wait_state(srv.client("ec2", ACCOUNT_1), one, "running")
    wait_state(srv.client("ec2", ACCOUNT_2), two, "running")

    r = vexec(srv, "same-name", "true")
    assert r.returncode == 1 and one in r.stderr and two in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    r = vexec(srv, "same-name", "hostname", account=ACCOUNT_2)
    assert r.returncode == 0, r.stderr
    r = vexec(srv, "no-such-name", "true")
    assert r.returncode == 1 and "no instance" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = vexec(srv, "i-0123456789abcdef0", "true")
    assert r.returncode == 1 and "Traceback" not in r.stderr


def test_ssh_shows_the_ec2_prompt(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "box", user_data=None)["InstanceId"]
    ip = wait_state(ec2, iid, "running")["PrivateIpAddress"]
    host = "ip-" + ip.replace(".", "-")
    prompt = f"[ec2-user@{host} ~]$ "

    pid, fd = pty.fork()
    if pid == 0:  # child: the CLI on the pty
        os.environ["TERM"] = "dumb"
        os.execv(sys.executable, [sys.executable, "-m", "vpclab.cli", "ssh", "--state-dir",
                                  str(srv.state_dir), "box"])
    output = b""

    def read_until(marker: bytes, timeout=20.0) -> bytes:
        nonlocal output
        deadline = time.monotonic() + timeout
        while marker not in output:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{marker!r} not seen; got {output[-500:]!r}")
            ready, _, _ = select.select([fd], [], [], left)
            if ready:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:
                    break
                if not chunk:
                    break
                output += chunk
        return output

    try:
        read_until(prompt.encode())
        os.write(fd, b"echo \"$HOME:$(pwd):$(hostname)\"\n")
        read_until(f"/home/ec2-user:/home/ec2-user:{host}".encode())
        os.write(fd, b"exit 5\n")
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 5
        pid = 0
    finally:
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        os.close(fd)
