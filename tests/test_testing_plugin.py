"""vpclab's pytest plugin, run as a user's project runs it: a pytest subprocess in a
directory of its own (no conftest; the fixtures come from the `pytest11` entry point of
the installed package), then a look at what the run left on the machine."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers.server import is_root
from vpclab.kernel import netns

UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")

ISOLATION = '''
import json, os
from pathlib import Path

import pytest
from vpclab.kernel import netns

RECORD = Path(os.environ["RECORD"])
NGINX = "#!/bin/sh\\nsystemctl start nginx\\n"


def make_the_same_names(vpclab, account):
    ec2, elbv2 = vpclab.client("ec2", account), vpclab.client("elbv2", account)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    group = ec2.create_security_group(GroupName="web", Description="web")["GroupId"]
    elbv2.create_target_group(Name="web-tg", Protocol="TCP", Port=80, VpcId=vpc)
    groups = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["web"]}])["SecurityGroups"]
    assert [g["GroupId"] for g in groups] == [group]
    assert [t["TargetGroupName"] for t in elbv2.describe_target_groups()["TargetGroups"]] == ["web-tg"]


def test_one(vpclab, vpclab_account):
    RECORD.write_text(json.dumps({"state_dir": str(vpclab.state_dir), "prefix": vpclab.prefix,
                                  "dataplane": vpclab.dataplane, "accounts": [vpclab_account]}))
    make_the_same_names(vpclab, vpclab_account)


def test_two(vpclab, vpclab_account):
    record = json.loads(RECORD.read_text())
    assert vpclab_account not in record["accounts"]
    record["accounts"].append(vpclab_account)
    RECORD.write_text(json.dumps(record))
    make_the_same_names(vpclab, vpclab_account)


def test_environ_set(vpclab, vpclab_account, aws_environ):
    assert os.environ["AWS_ENDPOINT_URL"] == vpclab.endpoint_url
    assert os.environ["AWS_ACCESS_KEY_ID"] == vpclab_account
    assert "AWS_PROFILE" not in os.environ
    import boto3
    assert boto3.client("sts").get_caller_identity()["Account"] == vpclab_account


def test_environ_restored():
    assert "AWS_ENDPOINT_URL" not in os.environ
    assert os.environ["AWS_ACCESS_KEY_ID"] == "outside"
    assert os.environ["AWS_PROFILE"] == "developer"


def test_fails_after_making_things(vpclab, vpclab_account):
    """Leaves an instance (with nginx running, where the data plane runs) and fails."""
    ec2 = vpclab.client("ec2", vpclab_account)
    ec2.run_instances(ImageId=ec2.describe_images()["Images"][0]["ImageId"], MinCount=1, MaxCount=1,
                      InstanceType="t2.micro", UserData=NGINX,
                      TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "web"}]}])
    pids = []
    if vpclab.dataplane:
        assert "Welcome to nginx!" in vpclab.wait_until_reachable("web", "http://127.0.0.1/", timeout=60)
        for name in netns.list_namespaces(vpclab.prefix):
            inode = netns.inode_of(name)
            pids += [p for p in (netns.tasks_in(inode) if inode else ()) if p != os.getpid()]
    record = json.loads(RECORD.read_text())
    record.update(pids=pids, namespaces=netns.list_namespaces(vpclab.prefix) if vpclab.dataplane else [])
    RECORD.write_text(json.dumps(record))
    assert False, "this test fails on purpose"
'''

MARKED = '''
import pytest


def test_control_plane(vpclab, vpclab_account):
    assert vpclab.client("ec2", vpclab_account).describe_vpcs()["Vpcs"][0]["CidrBlock"] == "172.31.0.0/16"
    print("DATAPLANE", vpclab.dataplane, vpclab.dataplane_off)


@pytest.mark.dataplane
def test_traffic(vpclab):
    assert vpclab.dataplane
'''


def run_project(tmp_path: Path, source: str, *args: str, launcher: tuple[str, ...] = (),
                env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """pytest on a project of one test module, from its own directory, as a user runs it."""
    project = tmp_path / "project"
    project.mkdir()
    (project / "pytest.ini").write_text("[pytest]\n")
    (project / "test_project.py").write_text(source)
    return subprocess.run([*launcher, sys.executable, "-m", "pytest", "-q", "-rs", "-s", "-p", "no:cacheprovider",
                           *args], cwd=project, capture_output=True, text=True, timeout=240,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", **(env or {})})


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_tests_are_isolated_by_account_and_a_failing_test_leaves_nothing_behind(tmp_path):
    record = tmp_path / "record.json"
    config = tmp_path / "aws-config"  # a developer's own profile, which the tests must not use
    config.write_text("[profile developer]\nregion = eu-west-1\n")
    run = run_project(tmp_path, ISOLATION, env={"RECORD": str(record), "AWS_ACCESS_KEY_ID": "outside",
                                                 "AWS_CONFIG_FILE": str(config), "AWS_PROFILE": "developer"})
    out = run.stdout + run.stderr
    assert re.search(r"\b1 failed, 4 passed\b", out), out
    assert "this test fails on purpose" in out
    made = json.loads(record.read_text())
    assert len(set(made["accounts"])) == 2
    # The session's lab is gone: its directory, its namespaces, its instances' processes.
    assert not Path(made["state_dir"]).exists()
    assert netns.list_namespaces(made["prefix"]) == []
    assert made["dataplane"] == is_root()
    if is_root():
        assert made["namespaces"] and made["pids"]
    assert [pid for pid in made["pids"] if _alive(pid)] == []


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_without_root_the_dataplane_marker_skips_with_the_reason(tmp_path):
    """As an unprivileged user (a user namespace): the control plane serves, and the
    marked test is skipped, saying why."""
    run = run_project(tmp_path, MARKED, launcher=UNPRIVILEGED)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert re.search(r"\b1 passed, 1 skipped\b", out), out
    assert "needs vpclab's data plane, which cannot run here: not running as root" in out
    assert "DATAPLANE False not running as root" in out


def test_the_data_plane_can_be_turned_off_for_a_run(tmp_path):
    run = run_project(tmp_path, MARKED, "--vpclab-dataplane=off")
    out = run.stdout + run.stderr
    assert re.search(r"\b1 passed, 1 skipped\b", out), out
    assert "vpclab's data plane is off (--vpclab-dataplane=off)" in out
    assert "DATAPLANE False --no-dataplane" in out


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_a_run_that_requires_the_data_plane_fails_where_it_cannot_run(tmp_path):
    run = run_project(tmp_path, MARKED, "--vpclab-dataplane=on", launcher=UNPRIVILEGED)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert re.search(r"\b1 skipped, 1 error\b", out), out
    assert "LabError: the data plane cannot run here: not running as root" in out
