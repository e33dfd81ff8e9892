"""VPCs and instances become namespaces; two VPCs with one CIDR stay apart."""
import subprocess
from functools import partial

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.kernel import naming, netns

wait_for = partial(_wait_for, timeout=10.0, interval=0.05)


def test_default_vpcs_of_two_accounts_are_separate_namespaces(dataplane_server):
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    vpc1 = dataplane_server.client("ec2", ACCOUNT_1).describe_vpcs()["Vpcs"][0]["VpcId"]
    vpc2 = dataplane_server.client("ec2", ACCOUNT_2).describe_vpcs()["Vpcs"][0]["VpcId"]
    routers = {naming.namespace_name(prefix, vpc1), naming.namespace_name(prefix, vpc2)}
    names = wait_for(lambda: (lambda n: n if routers <= set(n) else None)(netns.list_namespaces(prefix)))
    assert routers <= set(names) and len(routers) == 2
    # Both routers hold the same gateway address, each in its own world.
    def addresses(vpc):
        return subprocess.run(["ip", "netns", "exec", naming.namespace_name(prefix, vpc), "ip", "-4", "-br", "addr"],
                              capture_output=True, text=True).stdout

    for vpc in (vpc1, vpc2):
        wait_for(lambda: "172.31.32.1/20" in addresses(vpc) and "172.31.0.2/32" in addresses(vpc))
