"""Instances cannot reach the host, and none of their processes outlives them.

What runs in an instance (user data, `vpclab exec`) holds only Docker's default
capabilities (without MKNOD), sits in a PID namespace under the instance's init, and
in the instance's cgroup, which outlives a namespace deleted by hand.
Traffic stays inside namespaces vpclab made: every curl runs through `vpclab exec`.
"""
from __future__ import annotations

import os
import subprocess
import sys
from functools import partial
from pathlib import Path

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
    vexec,
    vpclab,
    wait_state,
)
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.dataplane.agents.instances import cgroup_of, find_init
from vpclab.kernel import cgroups, confinement, naming, netns

wait_for = partial(_wait_for, timeout=15.0, interval=0.05)

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists() and not Path("/usr/bin/nginx").exists(),
                                reason="needs Debian's nginx")

#: linux/capability.h: what Docker keeps (MKNOD aside), and what must never be held.
DOCKER = {"chown": 0, "dac_override": 1, "fowner": 3, "fsetid": 4, "kill": 5, "setgid": 6,
          "setuid": 7, "setpcap": 8, "net_bind_service": 10, "net_raw": 13, "sys_chroot": 18,
          "audit_write": 29, "setfcap": 31}
FORBIDDEN = {"dac_read_search": 2, "net_admin": 12, "sys_module": 16, "sys_rawio": 17,
             "sys_ptrace": 19, "sys_admin": 21, "sys_boot": 22, "mknod": 27, "bpf": 39}

#: Each write below writes back what is there already, so that on a build that fails the
#: test it changes nothing on the host.
PROBE = """#!/bin/sh
grep -E '^(Cap(Inh|Prm|Eff|Bnd|Amb)|NoNewPrivs|NSpid):' /proc/self/status
nsenter --net=/proc/{server}/ns/net ip addr >/dev/null 2>&1; echo "nsenter-server=$?"
nsenter --net=/proc/1/ns/net true >/dev/null 2>&1; echo "nsenter-init=$?"
kill -0 {server} 2>/dev/null; echo "kill-server=$?"
echo "netns=[$(ls /run/netns 2>/dev/null | tr '\\n' ' ')]"
ip link add vlprobe0 type dummy >/dev/null 2>&1; echo "ip-link-add=$?"
mount -t tmpfs none /mnt >/dev/null 2>&1; echo "mount=$?"
pattern=$(cat /proc/sys/kernel/core_pattern)
(printf '%s\n' "$pattern" > /proc/sys/kernel/core_pattern) 2>/dev/null; echo "core-pattern=$?"
touch /sys/kernel/profiling 2>/dev/null; echo "sysfs-write=$?"
touch /proc/sysrq-trigger 2>/dev/null; echo "sysrq=$?"
hostname "$(hostname)" >/dev/null 2>&1; echo "hostname=$?"
echo "pidns=$(readlink /proc/self/ns/pid)"
echo "procs=$(ls /proc | grep -c '^[0-9]')"
echo probe-done
"""


def _fields(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        line = line.split("] ", 1)[-1]  # console lines carry an uptime stamp
        for sep in (":\t", "="):
            if sep in line:
                key, _, value = line.partition(sep)
                out.setdefault(key.strip(), value.strip())
                break
    return out


def _check_confined(fields: dict[str, str], server_pid: int, host_namespaces: list[str]) -> None:
    docker = sum(1 << b for b in DOCKER.values())
    for key in ("CapEff", "CapPrm", "CapBnd"):
        mask = int(fields[key], 16)
        assert mask == docker, (key, hex(mask))
        for name, bit in FORBIDDEN.items():
            assert not mask & (1 << bit), (key, name)
    assert int(fields["CapInh"], 16) == 0 and int(fields["CapAmb"], 16) == 0
    # No no_new_privs: setuid sudo works, and gains nothing beyond the bounding set above.
    assert fields["NoNewPrivs"] == "0"
    assert fields["pidns"] != os.readlink("/proc/self/ns/pid")  # a PID namespace of its own
    assert fields["nsenter-server"] != "0"  # /proc/<server> is not even there
    assert fields["nsenter-init"] != "0"  # setns needs CAP_SYS_ADMIN, even into itself
    assert fields["kill-server"] != "0"
    assert not any(ns in fields["netns"] for ns in host_namespaces), fields["netns"]
    for key in ("ip-link-add", "mount", "core-pattern", "sysfs-write", "sysrq", "hostname"):
        assert fields[key] != "0", key
    assert int(fields["procs"]) < 10  # the init, the probe and its children


def test_user_data_and_exec_cannot_reach_the_host(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    server = srv.proc.pid
    probe = PROBE.format(server=server)
    iid = launch(ec2, "probe", user_data=probe)["InstanceId"]
    wait_state(ec2, iid, "running")
    text = wait_for(lambda: (lambda t: t if "probe-done" in t else None)(console_text(ec2, iid)),
                    what="the probe's output on the console")
    hosts = netns.list_namespaces(naming.prefix_for_state_dir(srv.state_dir))
    assert namespace(srv, iid) in hosts
    _check_confined(_fields(text), server, hosts)

    # `vpclab exec` enters the same instance, as confined.
    r = vexec(srv, iid, "sh", "-c", probe)
    assert r.returncode == 0, r.stderr
    _check_confined(_fields(r.stdout), server, hosts)
    # One PID namespace per instance: exec sees the init as PID 1.
    r = vexec(srv, iid, "cat", "/proc/1/cmdline")
    assert f"{confinement.GUEST_DIR}/init.py" in r.stdout
    init = find_init(naming.prefix_for_state_dir(srv.state_dir), iid)
    assert init is not None and confinement.net_inode(init) == netns.inode_of(namespace(srv, iid))


def test_services_outlive_user_data_and_end_with_the_instance(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "web", user_data="#!/bin/bash\nsystemctl start nginx\necho started\n")["InstanceId"]
    wait_state(ec2, iid, "running")
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")
    wait_for(lambda: "Datasource DataSourceEc2" in console_text(ec2, iid), what="cloud-init finished")
    # A daemon started by exec belongs to the instance too.
    r = vexec(srv, iid, "sh", "-c", "setsid sleep 1000 </dev/null >/dev/null 2>&1 &")
    assert r.returncode == 0, r.stderr
    group = cgroup_of(naming.prefix_for_state_dir(srv.state_dir), iid)
    every = group.pids()
    programs = processes(srv, iid)
    assert len(programs) >= 3  # nginx master, a worker, sleep
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")

    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    assert not any(alive(p) for p in every)
    assert not group.exists()


def _delete_by_hand(ns: str) -> None:
    subprocess.run(["ip", "netns", "delete", ns], check=True)


def test_hand_deleted_namespace_reboots_the_instance_and_systemctl_really_starts(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    iid = launch(ec2, "web", user_data="#!/bin/bash\nsystemctl start nginx\n")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    old = cgroup_of(prefix, iid).pids()
    old_init = find_init(prefix, iid)
    assert old_init in old

    _delete_by_hand(namespace(srv, iid))
    # The data plane makes the namespace again; the agent ends what sat in the orphaned
    # one and boots a new init in the new one.
    wait_for(lambda: not any(alive(p) for p in old), what="old processes ended")
    new_init = wait_for(lambda: find_init(prefix, iid), what="a new init")
    assert new_init != old_init
    assert confinement.net_inode(new_init) == netns.inode_of(namespace(srv, iid))
    assert describe(ec2, iid)["State"]["Name"] == "running"
    assert "network namespace was replaced" in console_text(ec2, iid)
    # nginx is not running any more; systemctl start really starts it.
    assert vexec(srv, iid, "curl", "-sS", "-m", "3", "http://127.0.0.1/").returncode == 7
    r = vexec(srv, iid, "systemctl", "start", "nginx")
    assert r.returncode == 0, r.stderr
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")


def test_hand_deleted_namespace_then_terminate_ends_everything(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    iid = launch(ec2, "web")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    old = cgroup_of(prefix, iid).pids()
    _delete_by_hand(namespace(srv, iid))
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    assert not any(alive(p) for p in old)
    assert not cgroup_of(prefix, iid).exists()
    wait_for(lambda: not (srv.state_dir / "instances" / iid).exists(), what="directory removed")


def test_down_ends_processes_of_a_hand_deleted_namespace(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    iid = launch(ec2, "web")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    old = cgroup_of(prefix, iid).pids()
    assert srv.stop() == 0
    assert old and all(alive(p) for p in old)  # instances outlive their server
    _delete_by_hand(namespace(srv, iid))
    assert all(alive(p) for p in old)  # now in an orphaned namespace no name leads to

    r = vpclab(srv, "down", "--state-dir", str(srv.state_dir))
    assert r.returncode == 0, r.stderr
    assert not any(alive(p) for p in old)
    assert not cgroups.prefix_dir(prefix).exists()


def test_directories_of_terminated_and_unknown_instances_are_removed(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "short-lived", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    directory = srv.state_dir / "instances" / iid
    assert (directory / "console.log").exists()
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    wait_for(lambda: not directory.exists(), what="directory removed at terminate")
    assert console_text(ec2, iid) == ""

    # One left by an earlier server (terminated while no data plane ran) goes at start.
    srv.stop()
    stray = srv.state_dir / "instances" / "i-0123456789abcdef0"
    (stray / "run").mkdir(parents=True)
    (stray / "console.log").write_text("old\n")
    srv.start()
    wait_for(lambda: not stray.exists(), what="stray directory removed")


def test_exec_options_after_the_instance_and_account(dataplane_server):
    srv = dataplane_server
    one = launch(srv.client("ec2", ACCOUNT_1), "same", user_data=None)["InstanceId"]
    two = launch(srv.client("ec2", ACCOUNT_2), "same", user_data=None)["InstanceId"]
    ip_two = wait_state(srv.client("ec2", ACCOUNT_2), two, "running")["PrivateIpAddress"]
    wait_state(srv.client("ec2", ACCOUNT_1), one, "running")
    sd = str(srv.state_dir)
    host_two = "ip-" + ip_two.replace(".", "-")

    # The form the lab prints: options after the instance.
    r = vpclab(srv, "exec", one, "--state-dir", sd, "--", "hostname")
    assert r.returncode == 0, r.stderr
    r = vpclab(srv, "exec", "--account", ACCOUNT_2, "same", "--state-dir", sd, "--", "hostname")
    assert (r.returncode, r.stdout.strip()) == (0, host_two), r.stderr
    r = vpclab(srv, "exec", "same", f"--account={ACCOUNT_2}", f"--state-dir={sd}", "hostname")
    assert (r.returncode, r.stdout.strip()) == (0, host_two), r.stderr
    # An option-looking word after the command belongs to the command.
    r = vpclab(srv, "exec", two, "--state-dir", sd, "sh", "-c", "echo $0", "--account")
    assert (r.returncode, r.stdout.strip()) == (0, "--account"), r.stderr
    # Errors are one line.
    for argv in (["exec", "no-such", "--state-dir", sd, "--", "true"],
                 ["exec", "same", "--state-dir", sd, "--", "true"],
                 ["exec", one, "--bogus", "--state-dir", sd, "--", "true"],
                 ["exec", one, "--state-dir", sd],
                 ["exec", "--account", "000000000000", one, "--state-dir", sd, "--", "true"]):
        r = vpclab(srv, *argv)
        assert r.returncode != 0 and "Traceback" not in r.stderr, argv
        assert len(r.stderr.strip().splitlines()) == 1, (argv, r.stderr)


def test_start_up_check_names_what_confinement_lacks(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no util-linux on this PATH
    reason = confinement.unavailable_reason()
    assert reason is not None
    for tool in ("unshare", "nsenter", "setpriv"):
        assert f"{tool} is missing (no `{tool}` on PATH); install it with `apt-get install util-linux`" in reason
    monkeypatch.undo()
    if os.geteuid() == 0:
        assert confinement.unavailable_reason() is None


def test_a_killed_exec_ends_its_command(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "box", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    cli = subprocess.Popen([sys.executable, "-m", "vpclab.cli", "exec", iid, "--state-dir",
                            str(srv.state_dir), "--", "sleep", "1000"])
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    sleeper = wait_for(lambda: [p for p in processes(srv, iid)
                                if Path(f"/proc/{p}/comm").read_text().strip() == "sleep"], what="sleep runs")
    cli.kill()
    cli.wait()
    wait_for(lambda: not any(alive(p) for p in sleeper), what="sleep ended with its vpclab exec")
    assert find_init(prefix, iid) is not None  # the instance itself lives on
