"""Instances behave like small EC2 machines: Amazon Linux user data with yum and
systemctl works, enabled services come back after a stop/start (and the NLB sees the
target healthy again), SSH with the launch key works from another instance (sudo gives
root) and the wrong key is refused, and each image has its own default user.

Every command runs inside an instance (`vpclab exec`); SSH goes between two instances of
the test's own VPC.
"""
from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest

from tests.helpers.instances import console_text, curl_ok, launch, vexec, vpclab, wait_state
from tests.helpers.traffic import provider_nlb
from tests.helpers.waiting import wait_for as _wait_for

wait_for = partial(_wait_for, timeout=30.0, interval=0.2)

pytestmark = pytest.mark.skipif(not Path("/usr/sbin/nginx").exists() or not Path("/usr/sbin/sshd").exists(),
                                reason="needs Debian's nginx and openssh-server")

AMAZON_LINUX_WEB = """#!/bin/bash
yum install -y nginx
systemctl enable --now nginx
echo "written before the stop" > /var/lib/before-stop.txt
"""


def booted(ec2, iid: str, boots: int = 1) -> str:
    """The console once cloud-init has finished `boots` times."""
    return wait_for(lambda: (lambda t: t if t.count("Datasource DataSourceEc2") >= boots else None)(
        console_text(ec2, iid)), what=f"{iid}: cloud-init finished {boots} time(s)")


def health(elb, tg_arn: str, iid: str) -> str:
    for d in elb.describe_target_health(TargetGroupArn=tg_arn)["TargetHealthDescriptions"]:
        if d["Target"]["Id"] == iid:
            return d["TargetHealth"]["State"]
    return "absent"


def test_yum_and_enabled_nginx_survive_a_stop_start_and_the_target_is_healthy_again(dataplane_server):
    srv = dataplane_server
    p = provider_nlb(srv, data=[AMAZON_LINUX_WEB])
    ec2, elb, tg = p["ec2"], p["elb"], p["tg"]["TargetGroupArn"]
    iid = p["webs"][0]["InstanceId"]
    console = booted(ec2, iid)
    assert "is already installed" in console  # yum answers from the image's packages
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")
    wait_for(lambda: health(elb, tg, iid) == "healthy", timeout=60, what="target healthy")
    assert vexec(srv, iid, "systemctl", "is-enabled", "nginx").stdout.strip() == "enabled"

    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped")
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running")
    booted(ec2, iid, boots=2)
    assert "Welcome to nginx!" in curl_ok(srv, iid, "http://127.0.0.1/")
    assert vexec(srv, iid, "systemctl", "is-active", "nginx").stdout.strip() == "active"
    assert vexec(srv, iid, "cat", "/var/lib/before-stop.txt").stdout == "written before the stop\n"
    assert console_text(ec2, iid).count("is already installed") == 1  # user data ran once
    wait_for(lambda: health(elb, tg, iid) == "healthy", timeout=60, what="target healthy after start")


def test_a_package_not_in_the_image_fails_as_offline_yum_does(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "offline", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    r = vexec(srv, iid, "yum", "install", "-y", "definitely-not-a-package-vpclab")
    assert r.returncode == 1
    assert "Failed to download metadata for repo" in r.stdout + r.stderr


def test_ssh_with_the_launch_key_and_sudo_from_another_instance(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    key = ec2.create_key_pair(KeyName="lab-key")["KeyMaterial"]
    wrong = ec2.create_key_pair(KeyName="other-key")["KeyMaterial"]
    server = launch(ec2, "ssh-server", user_data=None, KeyName="lab-key")["InstanceId"]
    client = launch(ec2, "ssh-client", user_data=None)["InstanceId"]
    ip = wait_state(ec2, server, "running")["PrivateIpAddress"]
    wait_state(ec2, client, "running")
    console = booted(ec2, server)
    assert "-----BEGIN SSH HOST KEY FINGERPRINTS-----" in console
    script = (f"umask 077; printf '%s\\n' \"$KEY\" > /tmp/k.pem; printf '%s\\n' \"$WRONG\" > /tmp/w.pem; "
              f"o='-o StrictHostKeyChecking=accept-new -o BatchMode=yes -o ConnectTimeout=5'; "
              f"ssh $o -i /tmp/k.pem ec2-user@{ip} 'whoami; sudo whoami'; echo rc=$?; "
              f"ssh $o -i /tmp/w.pem ec2-user@{ip} true; echo rc=$?")
    r = wait_for(lambda: (lambda r: r if "rc=0" in r.stdout else None)(
        vexec(srv, client, "env", f"KEY={key}", f"WRONG={wrong}", "sh", "-c", script)),
        what="ssh with the launch key")
    lines = r.stdout.split()
    assert lines[:3] == ["ec2-user", "root", "rc=0"], r.stdout + r.stderr
    assert lines[3] == "rc=255" and "Permission denied (publickey)" in r.stderr


def test_exec_as_the_default_user_and_sudo_su(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2")
    iid = launch(ec2, "users", user_data=None)["InstanceId"]
    wait_state(ec2, iid, "running")
    r = vpclab(srv, "exec", "--state-dir", str(srv.state_dir), "--user", "ec2-user", iid, "--",
               "sh", "-c", "id -un; sudo -n whoami; sudo su - -c 'id -un; pwd'")
    assert r.stdout.split() == ["ec2-user", "root", "root", "/root"], r.stdout + r.stderr
    assert vexec(srv, iid, "id", "-un").stdout.strip() == "root"  # exec is root by default

    debian = next(i["ImageId"] for i in ec2.describe_images(Owners=["136693071363"])["Images"]
                  if i["Architecture"] == "x86_64")
    deb = ec2.run_instances(ImageId=debian, InstanceType="t3.micro", MinCount=1, MaxCount=1)["Instances"][0]
    wait_state(ec2, deb["InstanceId"], "running")
    r = vexec(srv, deb["InstanceId"], "sh", "-c", "ls /home; grep -c '^admin:' /etc/passwd")
    assert r.stdout.split() == ["admin", "1"], r.stdout
