"""Without the privilege to make namespaces, the server says so once and serves the
control plane alone; targets then stay `initial`."""
import os
import shutil

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.server import ServerProcess, free_port
from vpclab.dataplane import runtime


def test_unavailable_reason_names_the_missing_privilege(monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    assert "root" in runtime.unavailable_reason()


UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_server_as_an_unprivileged_user_runs_the_control_plane_alone(tmp_path):
    """Run the real server as uid 1000 in a user namespace (no capabilities on the host):
    one line says why the data plane is off, and the APIs work."""
    srv = ServerProcess(tmp_path / "state", free_port(), dataplane=True, launcher=UNPRIVILEGED).start()
    try:
        lines = srv.output
        off = [line for line in lines if "data plane off" in line]
        assert len(off) == 1 and "root" in off[0], lines
        ec2 = srv.client("ec2", ACCOUNT_1)
        assert ec2.describe_vpcs()["Vpcs"][0]["CidrBlock"] == "172.31.0.0/16"
        image = ec2.describe_images()["Images"][0]["ImageId"]
        inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
        # At once where there is no data plane.
        assert ec2.describe_instances(InstanceIds=[inst["InstanceId"]])["Reservations"][0]["Instances"][0][
            "State"]["Name"] == "running"
    finally:
        srv.stop()
