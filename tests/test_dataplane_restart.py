"""The data plane survives its server: kill -9, restart, hand damage, `vpclab down`.

Sets the lab up with `--keep`, then: kill -9 the server and start another on the same
state directory (the curl through the endpoint still works); delete namespaces by hand
(one reconcile brings them back and the curl works again); finally `--cleanup` and
`vpclab down` leave no namespace, link or process of the state directory.
"""
import json
import os
import signal
import subprocess
import sys
from functools import partial
from pathlib import Path

import pytest

from tests.helpers.lab import processes_of, run_lab
from tests.helpers.server import ServerProcess, free_port
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.kernel import naming, netns

pytestmark = pytest.mark.netns


def vpclab(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vpclab.cli", *args], capture_output=True, text=True,
                          timeout=timeout)


def curl_through_endpoint(state_dir: Path, lab: dict) -> str:
    out = vpclab("exec", "--state-dir", str(state_dir), lab["consumer_instance"], "--",
                 "curl", "-s", "--max-time", "2", f"http://{lab['endpoint_dns']}/")
    return out.stdout


wait_for = partial(_wait_for, timeout=20.0, interval=0.1)


def test_kill9_restart_hand_damage_and_down(tmp_path):
    state_dir = tmp_path / "lab"
    prefix = naming.prefix_for_state_dir(state_dir)
    srv = None
    try:
        result = run_lab(state_dir, "--keep", "--json")
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr
        lab = json.loads((state_dir / "lab-privatelink.json").read_text())
        assert "Welcome to nginx!" in curl_through_endpoint(state_dir, lab)

        # kill -9 the server: the kernel keeps forwarding, and a new server adopts it all.
        info = json.loads((state_dir / "server.json").read_text())
        os.kill(info["pid"], signal.SIGKILL)
        wait_for(lambda: not Path(f"/proc/{info['pid']}").exists())
        # (The VPC resolvers live in the server process: names resolve again once it is back.)
        before = sorted(netns.list_namespaces(prefix))
        srv = ServerProcess(state_dir, free_port(), dataplane=True,
                            env={"VPCLAB_HEALTH_CHECK_SCALE": "0.05"}).start()
        ec2 = srv.client("ec2", "222222222222")
        endpoint = ec2.describe_vpc_endpoints(VpcEndpointIds=[lab["endpoint_id"]])["VpcEndpoints"][0]
        assert endpoint["State"] == "available"
        srv.wait_for_passes()  # a whole reconcile pass of the new server
        assert sorted(netns.list_namespaces(prefix)) == before
        assert "Welcome to nginx!" in curl_through_endpoint(state_dir, lab)

        # Hand damage: delete both VPCs' routers (the provider's holds the NLB nodes and the
        # endpoint's link end); one pass repairs them.
        consumer_vpc = endpoint["VpcId"]
        lb = srv.client("elbv2", "111111111111").describe_load_balancers(
            LoadBalancerArns=[lab["load_balancer"]])["LoadBalancers"][0]
        victims = [naming.namespace_name(prefix, consumer_vpc), naming.namespace_name(prefix, lb["VpcId"])]
        for name in victims:
            assert name in before
            subprocess.run(["ip", "netns", "del", name], check=True)
        wait_for(lambda: all(netns.exists(n) for n in victims), timeout=30)
        wait_for(lambda: "Welcome to nginx!" in curl_through_endpoint(state_dir, lab), timeout=30)
    finally:
        if srv is not None:
            srv.stop()
        cleanup = run_lab(state_dir, "--cleanup", "--json")
        from vpclab.commands.down import tear_down

        tear_down(state_dir)
    assert cleanup.returncode == 0, cleanup.stdout[-3000:] + cleanup.stderr
    assert netns.list_namespaces(prefix) == []
    assert processes_of(state_dir) == []
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    assert prefix not in links
