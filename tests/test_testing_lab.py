"""`vpclab.testing.lab()`: a server on a thread of this process, isolated, and gone after
the block (also when it raised): its port, its thread, its state directory, and as root
its namespaces, links and instance processes."""
from __future__ import annotations

import os
import re
import socket
import subprocess
import threading
from pathlib import Path
from urllib.parse import urlparse

import boto3
import pytest
from botocore.exceptions import ClientError

from tests.helpers.waiting import wait_for
from vpclab.kernel import netns
from vpclab.testing import CurlFailed, LabError, lab
from vpclab.testing.accounts import RESERVED

NGINX = "#!/bin/sh\nsystemctl start nginx\n"


def _listening(url: str) -> bool:
    parts = urlparse(url)
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex((parts.hostname, parts.port)) == 0


def _server_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "vpclab-embedded-server"]


def test_a_lab_serves_on_a_free_loopback_port_and_leaves_nothing():
    before = len(_server_threads())
    with lab(dataplane=False) as running:
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+", running.endpoint_url)
        assert running.state_dir.is_dir() and re.fullmatch(r"vl[0-9a-f]{5}", running.prefix)
        assert (running.dataplane, running.dataplane_off) == (False, "--no-dataplane")
        account = running.new_account()
        assert running.client("sts", account).get_caller_identity()["Account"] == account
        assert running.client("ec2", account).describe_vpcs()["Vpcs"][0]["CidrBlock"] == "172.31.0.0/16"
        assert len(_server_threads()) == before + 1
    assert not running.state_dir.exists()
    assert not _listening(running.endpoint_url)
    assert len(_server_threads()) == before


def test_a_block_that_raises_still_removes_its_lab():
    with pytest.raises(ZeroDivisionError):
        with lab(dataplane=False) as running:
            running.client("ec2").create_security_group(GroupName="web", Description="web")
            1 / 0
    assert not running.state_dir.exists()
    assert not _listening(running.endpoint_url)


def test_two_labs_at_once_are_two_worlds():
    with lab(dataplane=False) as one, lab(dataplane=False) as two:
        assert one.endpoint_url != two.endpoint_url and one.prefix != two.prefix
        one.client("ec2").create_security_group(GroupName="only-in-one", Description="x")
        names = [g["GroupName"] for g in two.client("ec2").describe_security_groups()["SecurityGroups"]]
        assert names == ["default"]


def test_fresh_accounts_are_twelve_digits_never_repeated_and_cannot_see_each_other():
    with lab(dataplane=False) as running:
        ids = [running.new_account() for _ in range(2000)]
        assert all(re.fullmatch(r"[1-9][0-9]{11}", a) for a in ids)
        assert len(set(ids)) == len(ids) and not set(ids) & RESERVED
        first, second = ids[:2]
        made = {}
        for account in (first, second):  # the same names in both: no conflict
            ec2, elbv2 = running.client("ec2", account), running.client("elbv2", account)
            vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
            made[account] = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
            elbv2.create_target_group(Name="web", Protocol="TCP", Port=80, VpcId=vpc)
        for account in (first, second):
            groups = running.client("ec2", account).describe_security_groups(
                Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
            assert [g["GroupId"] for g in groups] == [made[account]]
            assert len(running.client("elbv2", account).describe_target_groups()["TargetGroups"]) == 1
        with pytest.raises(ClientError) as err:
            running.client("ec2", second).describe_security_groups(GroupIds=[made[first]])
        assert err.value.response["Error"]["Code"] == "InvalidGroup.NotFound"


def test_sessions_are_each_accounts_own_and_share_one_model_loader():
    from vpclab.testing.sessions import shared_loader

    with lab(dataplane=False) as running:
        first, second = running.new_account(), running.new_account()
        running.session(first).client("ec2")
        paths = list(shared_loader().search_paths)
        sessions = [running.session(a) for a in (first, second, first, second)]
        assert shared_loader().search_paths == paths  # boto3 would add its data directory each time
        assert [s.get_credentials().access_key for s in sessions] == [first, second, first, second]
        vpcs = sessions[1].resource("ec2").vpcs.all()
        assert [v.owner_id for v in vpcs] == [second]
        assert sessions[0].client("sts").get_caller_identity()["Account"] == first
        elsewhere = sessions[0].client("ec2", endpoint_url="http://127.0.0.1:9")
        assert elsewhere.meta.endpoint_url == "http://127.0.0.1:9"


def test_patch_environ_points_code_under_test_at_the_lab_and_restores(monkeypatch):
    with lab(dataplane=False) as running:
        # A developer's shell: a profile (that boto3 could not even find here), another
        # endpoint for EC2, other keys.
        monkeypatch.setenv("AWS_PROFILE", "production")
        monkeypatch.setenv("AWS_ENDPOINT_URL_EC2", "https://ec2.example.invalid")
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAOUTSIDE")
        monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
        account = running.new_account()
        with running.patch_environ(account) as variables:
            assert variables == running.environ(account)
            assert os.environ["AWS_ENDPOINT_URL"] == running.endpoint_url
            assert "AWS_PROFILE" not in os.environ and "AWS_ENDPOINT_URL_EC2" not in os.environ
            # Code that builds its own clients, with boto3's default session.
            assert boto3.client("sts").get_caller_identity()["Account"] == account
            assert boto3.client("ec2").describe_vpcs()["Vpcs"][0]["OwnerId"] == account
            os.environ["AWS_ACCESS_KEY_ID"] = "changed-by-the-code"
        assert os.environ["AWS_PROFILE"] == "production"
        assert os.environ["AWS_ENDPOINT_URL_EC2"] == "https://ec2.example.invalid"
        assert os.environ["AWS_ACCESS_KEY_ID"] == "AKIAOUTSIDE"
        assert "AWS_ENDPOINT_URL" not in os.environ
        assert boto3.DEFAULT_SESSION is None  # it would still hold the lab's credentials


def test_where_namespaces_cannot_be_made_the_lab_says_why(monkeypatch):
    """The server's own check decides (here: not root); `dataplane=True` refuses."""
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    with pytest.raises(LabError, match="cannot run here: not running as root"):
        with lab(dataplane=True):
            pass
    with lab() as running:
        assert not running.dataplane and "not running as root" in running.dataplane_off
        with pytest.raises(LabError, match="without its data plane"):
            running.exec("web", "true")
        with pytest.raises(LabError, match="without its data plane"):
            running.wait_until_reachable("web", "http://127.0.0.1/")


def _links_with(prefix: str) -> list[str]:
    out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
    return [line for line in out.splitlines() if prefix in line]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.netns
def test_a_data_plane_lab_removes_namespaces_links_and_processes_even_when_the_block_raised():
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed"):
        with lab(dataplane=True) as running:
            assert running.dataplane
            first, second = running.new_account(), running.new_account()
            for account in (first, second):  # two instances named web, in two accounts
                ec2 = running.client("ec2", account)
                ec2.run_instances(ImageId=ec2.describe_images()["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                                  InstanceType="t2.micro", UserData=NGINX, TagSpecifications=[
                                      {"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
            page = running.wait_until_reachable("web", "http://127.0.0.1/", account=first, timeout=60)
            assert "Welcome to nginx!" in page
            with pytest.raises(LabError, match="2 instances are named 'web'"):
                running.exec("web", "true")
            assert running.exec("web", "hostname", account=second).stdout.startswith("ip-172-31-")
            with pytest.raises(CurlFailed) as refused:
                running.curl("web", "http://127.0.0.1:81/", account=first, timeout=2)
            assert refused.value.exit_code == 7
            wait_for(lambda: running.exec("web", "true", account=second).returncode == 0, timeout=30)
            names = netns.list_namespaces(running.prefix)
            assert len(names) >= 4  # the internet, two VPCs, two instances
            for name in names:
                inode = netns.inode_of(name)
                pids.extend(p for p in (netns.tasks_in(inode) if inode else ()) if p != os.getpid())
            assert pids
            raise RuntimeError("the test failed")
    assert netns.list_namespaces(running.prefix) == []
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    assert running.prefix not in listed
    assert _links_with(running.prefix) == []
    assert [pid for pid in pids if _alive(pid)] == []
    assert not running.state_dir.exists()
