"""An nft table flushed by hand is repaired by the runtime's next full pass (real traffic).

The server runs with ``VPCLAB_FULL_PERIOD=4``: a full pass every 4 s. Just after one
has repaired a table there are some 3 s before the next, so a table flushed then stays
flushed long enough for one curl to show the damage; the next full pass must repair it.
Each kind of table on the path of a PrivateLink or NLB flow is flushed in turn with the nft
command line inside its namespace; everything runs inside namespaces the server made.
"""
from __future__ import annotations

import json
import time
from types import SimpleNamespace

import pytest

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.dataplane_server import dataplane_server_in
from tests.helpers.traffic import (
    curl,
    make_endpoint,
    run_instances,
    service_and_consumer,
    user_data,
    wait_state,
    web_group,
)
from tests.helpers.waiting import wait_for
from vpclab.kernel import naming, netns

pytestmark = pytest.mark.netns

FULL_PERIOD = 4.0


@pytest.fixture
def repairing_server(tmp_path):
    yield from dataplane_server_in(tmp_path / "state", {"VPCLAB_FULL_PERIOD": str(FULL_PERIOD),
                                                      "VPCLAB_HEALTH_CHECK_SCALE": "0.05"})


def listing(ns: str, family: str, name: str) -> list:
    """The table as the kernel lists it (JSON): no handles, elements sorted, named
    counters without their values (what they counted is traffic, not the table)."""
    out = netns.run(ns, ["nft", "-j", "list", "table", family, name], check=True).stdout
    items = []
    for item in json.loads(out)["nftables"]:
        (kind, body), = item.items()
        if kind != "metainfo":
            body = {k: v for k, v in body.items()
                    if k != "handle" and not (kind == "counter" and k in ("packets", "bytes"))}
            if "elem" in body:
                body["elem"] = sorted(body["elem"], key=json.dumps)
            items.append({kind: body})
    # Named counters in name order (the kernel lists them in the order they were made).
    return sorted((i for i in items if "counter" in i), key=json.dumps) + [i for i in items if "counter" not in i]


def owned_tables(ns: str, prefix: str) -> list[tuple[str, str]]:
    out = netns.run(ns, ["nft", "list", "tables"], check=True).stdout
    return sorted((f, n) for _, f, n in (line.split() for line in out.splitlines()) if n.startswith(prefix))


class Tables:
    """Flush a table by hand; wait until the runtime has put back exactly what it was."""

    def __init__(self, prefix: str):
        self.prefix = prefix

    def flush(self, ns: str, purpose: str) -> tuple:
        family = next(f for f, n in owned_tables(ns, self.prefix) if n == naming.table_name(self.prefix, purpose))
        name = naming.table_name(self.prefix, purpose)
        before = listing(ns, family, name)
        # A full pass may repair the table between the flush and the listing (the period is
        # short here, and on a loaded machine a pass can take most of it): flush again
        # then, a little later each time, ten times at most.
        for attempt in range(10):
            netns.run(ns, ["nft", "flush", "table", family, name], check=True)
            if listing(ns, family, name) != before:
                break
            time.sleep(0.1 * attempt)
        assert listing(ns, family, name) != before
        return ns, family, name, before

    def wait_repaired(self, flushed: tuple) -> None:
        ns, family, name, before = flushed
        wait_for(lambda: listing(ns, family, name) == before, timeout=3 * FULL_PERIOD, interval=0.05,
                 what=f"{family} {name} in {ns} repaired")


def test_each_table_kind_flushed_by_hand_is_repaired_and_enforced_again(repairing_server):
    srv = repairing_server
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    c = service_and_consumer(srv)  # the endpoint group allows port 80
    open_id, open_ip = make_endpoint(c)
    closed_group = c.ec2_2.create_security_group(GroupName="closed", Description="no rules",
                                                 VpcId=c.vpc_2)["GroupId"]
    closed_id, closed_ip = make_endpoint(SimpleNamespace(**{**vars(c), "group_2": closed_group}))
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[open_id, closed_id])
    wait_state(c.ec2_2, open_id, "available")
    wait_state(c.ec2_2, closed_id, "available")
    web = c.p["webs"][0]
    answer = f"{web['PrivateIpAddress']} {c.p['node_ip']}"
    works = f"http://{open_ip}/"
    closed = f"http://{closed_ip}/"
    assert wait_for(lambda: curl(prefix, c.client, works), timeout=30) == answer
    assert curl(prefix, c.client, closed, timeout=1) is None  # its group has no rule for port 80

    router = naming.namespace_name(prefix, c.p["vpc"])  # the NLB node and the endpoint links end here
    assert {n.removeprefix(prefix) for _, n in owned_tables(router, prefix)} == {
        "-nlb", "-links", "-linkarp", "-sgep", "-count", "-igw"}
    t = Tables(prefix)

    # The internet gateway's NAT and route check (no public address on this path).
    t.wait_repaired(t.flush(router, "igw"))

    # The traffic counters: flushed, traffic still flows (uncounted); repaired.
    flushed = t.flush(router, "count")
    assert curl(prefix, c.client, works) == answer
    t.wait_repaired(flushed)

    # In step with the full passes: just after this repair the next is ~FULL_PERIOD away.
    t.wait_repaired(t.flush(router, "linkarp"))
    assert curl(prefix, c.client, works) == answer

    # The endpoint ENIs' groups: flushed, the closed endpoint answers (not enforced)...
    flushed = t.flush(router, "sgep")
    assert curl(prefix, c.client, closed, timeout=1) == answer
    t.wait_repaired(flushed)
    assert curl(prefix, c.client, closed, timeout=1) is None  # ...and is enforced again

    # The NLB node's DNAT, the links' zones and marks: flushed, PrivateLink is broken.
    for purpose in ("nlb", "links"):
        flushed = t.flush(router, purpose)
        assert curl(prefix, c.client, works, timeout=1) is None, purpose
        t.wait_repaired(flushed)
        assert wait_for(lambda: curl(prefix, c.client, works), timeout=10) == answer

    # An instance's groups (the target's, the client's): flushed, its chains drop all.
    for instance in (web["InstanceId"], c.client):
        flushed = t.flush(naming.namespace_name(prefix, instance), "sg")
        assert curl(prefix, c.client, works, timeout=1) is None, instance
        t.wait_repaired(flushed)
        assert wait_for(lambda: curl(prefix, c.client, works), timeout=10) == answer

    assert "edited by hand" in srv.log()
    srv.wait_for_passes(full=True)  # the last repair's pass has ended
    repairs = srv.log().count("edited by hand")
    srv.wait_for_passes(full=True)  # a whole full pass with nothing to repair: nothing is replaced again
    assert srv.log().count("edited by hand") == repairs


def test_nlb_groups_flushed_by_hand_are_enforced_again(repairing_server):
    """The router's ``inet sg`` table holds the groups of the NLB nodes that are its
    addresses: flushed, a client the groups refuse gets through until the next full pass."""
    srv = repairing_server
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])[0]["SubnetId"]
    web_gid = web_group(ec2, vpc, "web")
    web = run_instances(ec2, subnet, [web_gid], 1, user_data())[0]
    client = run_instances(ec2, subnet, [web_gid], 1)[0]["InstanceId"]
    lb_gid = ec2.create_security_group(GroupName="nlb", Description="nlb", VpcId=vpc)["GroupId"]
    from_vpc = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}]
    ec2.authorize_security_group_ingress(GroupId=lb_gid, IpPermissions=from_vpc)
    tg = elb.create_target_group(Name="web", Protocol="TCP", Port=80, VpcId=vpc, HealthCheckIntervalSeconds=5,
                                 HealthCheckTimeoutSeconds=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": web["InstanceId"]}])
    lb = elb.create_load_balancer(Name="web", Type="network", Scheme="internal", SecurityGroups=[lb_gid],
                                  Subnets=[subnet])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    node_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
    url = f"http://{node_ip}/"
    answer = f"{web['PrivateIpAddress']} {node_ip}"
    assert wait_for(lambda: curl(prefix, client, url), timeout=30) == answer
    ec2.revoke_security_group_ingress(GroupId=lb_gid, IpPermissions=from_vpc)
    wait_for(lambda: curl(prefix, client, url, timeout=1) is None, timeout=10)

    router = naming.namespace_name(prefix, vpc)
    t = Tables(prefix)
    t.wait_repaired(t.flush(router, "nlb"))  # in step with the full passes
    assert curl(prefix, client, url, timeout=1) is None
    flushed = t.flush(router, "sg")
    assert curl(prefix, client, url, timeout=1) == answer  # the NLB's groups not enforced
    t.wait_repaired(flushed)
    assert curl(prefix, client, url, timeout=1) is None  # enforced again
