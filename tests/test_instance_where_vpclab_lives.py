"""Instances boot wherever vpclab is installed, even under a directory they hide.

An instance has its own root file system, where the host's /tmp and /home are empty, so
a clone in /tmp or /home is out of its sight: its init is copied into the instance's
/run/vpclab and runs on the image's python3. This
test runs a server from a copy of the package under the test's /tmp directory (found
first on sys.path, as a clone's own venv would find it) and boots an instance with user
data through it.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

import vpclab
from tests.helpers.server import ServerProcess, free_port
from tests.helpers.waiting import wait_for

pytestmark = pytest.mark.netns


@pytest.fixture
def server_from_tmp(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("the data plane needs root")
    from vpclab.commands.down import tear_down
    from vpclab.kernel import naming, netns

    clone = tmp_path / "clone"
    shutil.copytree(Path(vpclab.__file__).parent, clone / "vpclab",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert str(clone).startswith("/tmp/")
    srv = ServerProcess(tmp_path / "state", free_port(), dataplane=True, cwd=clone)
    try:
        srv.start()
        yield srv, clone
    finally:
        srv.stop()
        tear_down(srv.state_dir)
        assert netns.list_namespaces(naming.prefix_for_state_dir(srv.state_dir)) == []


def test_an_instance_boots_when_vpclab_lives_under_tmp(server_from_tmp):
    srv, clone = server_from_tmp
    ec2 = srv.client("ec2")
    ami = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    user_data = "#!/bin/sh\necho booted-from-anywhere\n"  # boto3 base64-encodes it
    iid = ec2.run_instances(ImageId=ami, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                            UserData=user_data)["Instances"][0]["InstanceId"]
    wait_for(lambda: ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
             ["State"]["Name"] == "running", 60, what="the instance to run")
    wait_for(lambda: "booted-from-anywhere" in ec2.get_console_output(InstanceId=iid).get("Output", ""),
             30, what="the user data's output")
    assert "failed to execute" not in srv.log()
    assert (clone / "vpclab" / "server.py").exists()  # the server really ran from the copy
    assert str(clone) in Path(f"/proc/{srv.proc.pid}/cwd").resolve().as_posix()
