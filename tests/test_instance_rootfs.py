"""An instance is a machine with its own disk: what it writes stays in it, the host's
files are not written and its private ones not seen, stop keeps the disk, terminate
removes it.

Every command in an instance runs through `vpclab exec` (inside its namespaces); curls
go between instances of the test's own VPC.
"""
from __future__ import annotations

import hashlib
import os
import subprocess
from functools import partial
from pathlib import Path

import pytest

from tests.helpers.instances import curl_ok, launch, processes, vexec, vpclab, wait_state
from tests.helpers.traffic import available_endpoint, curl, service_and_consumer
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.kernel import cgroups, confinement, naming

wait_for = partial(_wait_for, timeout=20.0, interval=0.1)

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists(), reason="needs Debian's nginx")

WEB_ROOT = Path("/var/www/html")


def page_user_data(text: str) -> str:
    return ("#!/bin/bash\n"
            f"echo '{text}' > /var/www/html/index.html\n"
            "systemctl start nginx\n")


def _tree_digest(top: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(top.rglob("*")):
        h.update(str(path).encode())
        if path.is_file() and not path.is_symlink():
            h.update(path.read_bytes())
    return h.hexdigest()


def test_two_instances_serve_their_own_pages_and_the_host_keeps_its_own(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    before = _tree_digest(WEB_ROOT)
    a = launch(ec2, "web-a", user_data=page_user_data("hello from A"))["InstanceId"]
    b = launch(ec2, "web-b", user_data=page_user_data("hello from B"))["InstanceId"]
    c = launch(ec2, "client", user_data=None)["InstanceId"]
    ips = {i: wait_state(ec2, i, "running")["PrivateIpAddress"] for i in (a, b, c)}
    assert curl_ok(srv, "client", f"http://{ips[a]}/").strip() == "hello from A"
    assert curl_ok(srv, "client", f"http://{ips[b]}/").strip() == "hello from B"
    assert _tree_digest(WEB_ROOT) == before
    # The page is on A's disk only.
    assert (srv.state_dir / "instances" / a / "disk/upper/var/www/html/index.html").read_text() == "hello from A\n"
    assert "hello from" not in vexec(srv, c, "sh", "-c", "cat /var/www/html/index.html 2>&1").stdout


def test_both_pages_behind_one_nlb_through_an_endpoint(dataplane_server):
    """The issue's check: A and B behind one NLB, seen through an interface endpoint
    from another account's instance; the host's web root is unchanged."""
    before = _tree_digest(WEB_ROOT)
    c = service_and_consumer(dataplane_server, data=[page_user_data("hello from A"), page_user_data("hello from B")])
    _, url = available_endpoint(c)
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    seen: set[str] = set()

    def both() -> bool:
        page = curl(prefix, c.client, url)
        if page:
            seen.add(page)
        return seen == {"hello from A", "hello from B"}

    wait_for(both, timeout=60, what=f"both pages through the endpoint (seen {seen})")
    assert _tree_digest(WEB_ROOT) == before


def test_deleting_the_image_s_files_leaves_the_host_s(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "wrecker", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    before = sorted(os.listdir("/usr/share/doc"))
    assert before
    r = vexec(srv, iid, "sh", "-c", "rm -rf /usr/share/doc && ls /usr/share/doc; echo rc=$?")
    assert "rc=2" in r.stdout, r.stdout + r.stderr
    assert sorted(os.listdir("/usr/share/doc")) == before
    # A file written anywhere in the instance is not on the host.
    marker = f"/usr/local/vpclab-probe-{iid}"
    assert vexec(srv, iid, "sh", "-c", f"echo mine > {marker} && cat {marker}").stdout == "mine\n"
    assert not os.path.exists(marker)


def test_ps_shows_only_the_instance_and_kill_minus_one_stays_inside(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    a = launch(ec2, "killer")["InstanceId"]
    b = launch(ec2, "bystander")["InstanceId"]
    ip_b = wait_state(ec2, b, "running")["PrivateIpAddress"]
    wait_state(ec2, a, "running")
    curl_ok(srv, a, "http://127.0.0.1/")
    r = vexec(srv, a, "ps", "-e", "-o", "pid=,comm=")
    listed = [line.split() for line in r.stdout.splitlines()]
    names = {name for _, name in listed}
    assert "nginx" in names and "python3" in names, r.stdout  # its nginx and its init
    # Every process listed is one of the instance's (by its pid in the instance's PID
    # namespace), but the ps itself and the nsenter that started it.
    own = {1} | {confinement.namespace_pid(p) for p in processes(srv, a)}
    others = [(pid, name) for pid, name in listed if int(pid) not in own and name not in ("ps", "nsenter")]
    assert others == [], r.stdout
    assert len(listed) < 12
    b_before = processes(srv, b)
    vexec(srv, a, "sh", "-c", "kill -9 -1")
    assert os.path.exists(f"/proc/{srv.proc.pid}")  # the server lives on
    assert all(os.path.exists(f"/proc/{p}") for p in b_before)
    assert "Welcome to nginx!" in curl_ok(srv, a, f"http://{ip_b}/")  # b still serves (a's init lives)


def test_the_host_s_private_files_are_not_in_the_image(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "snoop", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    script = (
        "cat /etc/shadow; echo ---; "
        "ls /etc/ssh/ | grep -c ssh_host_ || true; echo ---; "
        "echo; echo ---; ls -A /home; echo ---; "
        f"ls {srv.state_dir} 2>&1; echo ---; ls /tmp | wc -l; echo ---; ls /"
    )
    out = vexec(srv, iid, "sh", "-c", script).stdout.split("---\n")
    shadow, _, _, homes, state, tmp, top = out
    host_hashes = {line.split(":")[1] for line in Path("/etc/shadow").read_text().splitlines()
                   if line.count(":") > 2 and len(line.split(":")[1]) > 2}
    assert shadow.strip() and not any(h in shadow for h in host_hashes)
    assert all(line.split(":")[1] == "*" for line in shadow.splitlines())
    # Its own host keys are made at first boot; none of the host's is there before that
    # (the file names match, the keys must not).
    for key in Path("/etc/ssh").glob("ssh_host_*_key"):
        r = vexec(srv, iid, "cat", str(key))
        assert r.stdout != key.read_text()
    assert set(vexec(srv, iid, "ls", "-A", "/root").stdout.split()) <= {".bashrc", ".bash_profile"}
    assert homes.split() == ["ec2-user"]
    assert "No such file or directory" in state
    assert tmp.strip() == "0"
    assert "work" not in top.split() and "boot" not in top.split()
    assert set(top.split()) >= {"bin", "etc", "usr", "var", "proc", "dev", "run", "tmp", "home", "root"}


def test_stop_keeps_the_disk_and_terminate_removes_it(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "keeper", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    assert vexec(srv, iid, "sh", "-c", "echo kept > /var/lib/kept.txt && echo gone > /tmp/gone.txt").returncode == 0
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    assert vexec(srv, iid, "cat", "/var/lib/kept.txt").stdout == "kept\n"
    assert vexec(srv, iid, "ls", "/tmp/gone.txt").returncode != 0  # /tmp is a tmpfs
    disk = srv.state_dir / "instances" / iid / "disk"
    assert (disk / "upper/var/lib/kept.txt").exists()
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    wait_for(lambda: not disk.exists(), what="the disk removed at terminate")


def test_a_symlink_left_on_the_disk_does_not_lead_the_host_s_writes_out(dataplane_server, tmp_path):
    """Before each boot vpclab rewrites /etc/hostname and friends on the instance's disk:
    a symlink the instance put there is replaced, never followed onto the host."""
    srv = dataplane_server
    ec2 = srv.client("ec2")
    outside = tmp_path / "outside"
    outside.mkdir()
    victim = outside / "victim"
    victim.write_text("untouched\n")
    iid = launch(ec2, "linker", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    r = vexec(srv, iid, "sh", "-c", f"ln -sf {victim} /etc/hostname && ln -sf {victim} /etc/hosts "
                                    f"&& rm -rf /etc/sudoers.d && ln -s {outside} /etc/sudoers.d")
    assert r.returncode == 0, r.stderr
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    assert victim.read_text() == "untouched\n"
    assert sorted(p.name for p in outside.iterdir()) == ["victim"]
    assert vexec(srv, iid, "hostname").returncode == 0


def test_no_mount_or_cgroup_is_left_after_terminate(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "mounts")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    # The namespace's own mount (/run/netns/<p>-<id>) goes with the next data-plane pass.
    wait_for(lambda: iid not in Path("/proc/self/mountinfo").read_text(), what="no mount naming the instance")
    assert str(srv.state_dir) not in Path("/proc/self/mountinfo").read_text()
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    assert not (cgroups.prefix_dir(prefix) / iid).exists()


def _mounts_of_state_dir(state_dir: Path) -> list[str]:
    """Mount lines, in any process's mount namespace, that name the state directory."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            text = Path(f"/proc/{pid}/mountinfo").read_text()
        except OSError:
            continue
        found += [line for line in text.splitlines() if str(state_dir) in line]
    return found


def test_down_leaves_no_mount_and_no_instance_process(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "downed")["InstanceId"]
    wait_state(ec2, iid, "running")
    curl_ok(srv, iid, "http://127.0.0.1/")
    pids = processes(srv, iid)
    assert _mounts_of_state_dir(srv.state_dir)  # the instance's overlay, in its own namespace
    assert vpclab(srv, "down", "--state-dir", str(srv.state_dir)).returncode == 0
    assert not any(os.path.exists(f"/proc/{p}") for p in pids)
    assert _mounts_of_state_dir(srv.state_dir) == []


def test_a_setuid_program_left_on_the_disk_is_out_of_reach_of_host_users(dataplane_server):
    """Root in an instance may make a setuid-root program on its disk; the disk's
    directory is root's alone, so no other user of the host can run it."""
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "setuid", user_data="#!/bin/sh\ncp /bin/sh /usr/local/bin/rootsh && chmod 4755 /usr/local/bin/rootsh\n")["InstanceId"]
    wait_state(ec2, iid, "running")
    disk = srv.state_dir / "instances" / iid / "disk"
    planted = disk / "upper/usr/local/bin/rootsh"
    wait_for(planted.exists, what="the setuid program on the disk")
    assert planted.stat().st_mode & 0o4000
    st = disk.stat()
    assert (st.st_uid, st.st_mode & 0o777) == (0, 0o700)
    r = subprocess.run(["su", "-s", "/bin/sh", "nobody", "-c", f"{planted} -c 'id -u'"],
                       capture_output=True, text=True)
    assert r.returncode != 0 and "Permission denied" in r.stderr, (r.stdout, r.stderr)
    assert oct((srv.state_dir / "instances" / iid / "guest").stat().st_mode & 0o777) == "0o700"
