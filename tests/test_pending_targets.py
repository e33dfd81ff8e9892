"""A target whose instance is `pending` is not in service (AWS: only running instances
are): no new flows, not even through fail-open, no relay choice, no health check, and
DescribeTargetHealth does not say healthy, even with a healthy record from before.
Plan level (no root) over a hand-built World, and DescribeTargetHealth over a real store."""
from __future__ import annotations

from vpclab.control.elbv2.target_health import describe
from vpclab.dataplane.agents import health, proxy_v2
from vpclab.dataplane.areas import load_balancers, network, nodes
from vpclab.dataplane.planner import build_plan
from vpclab.dataplane.world import World
from vpclab.kernel import naming
from vpclab.model import KINDS
from vpclab.model.ec2 import Instance, Subnet, Vpc
from vpclab.model.elbv2 import (
    Listener,
    LoadBalancer,
    RegisteredTarget,
    SubnetMapping,
    TargetGroup,
    TargetHealth,
    health_id,
)
from vpclab.store import open_store

PREFIX = "vl0beef"
ACCOUNT, REGION, ZONE = "111111111111", "ap-south-1", "ap-south-1a"
LB_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/net/p/0123456789abcdef"
TG_ARN = f"arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:targetgroup/p/0123456789abcdef"
A_IP, B_IP, NODE_IP = "10.5.0.10", "10.5.0.20", "10.5.0.100"


def world(b_state: str) -> World:
    """i-a running but unhealthy (so the node fails open), i-b in `b_state` with a
    `healthy` record observed after its registration."""
    w = World()
    w.vpcs["vpc-p"] = Vpc(id="vpc-p", account=ACCOUNT, region=REGION, cidr_block="10.5.0.0/16")
    w.subnets["subnet-p"] = Subnet(id="subnet-p", account=ACCOUNT, region=REGION, vpc_id="vpc-p",
                                   cidr_block="10.5.0.0/24", availability_zone=ZONE,
                                   availability_zone_id="aps1-az1")
    for iid, ip, state in (("i-a", A_IP, "running"), ("i-b", B_IP, b_state)):
        w.instances[iid] = Instance(id=iid, account=ACCOUNT, region=REGION, vpc_id="vpc-p", subnet_id="subnet-p",
                                    availability_zone=ZONE, private_ip=ip, network_interface_id=f"eni-{iid}",
                                    state=state)
    w.load_balancers[LB_ARN] = LoadBalancer(
        id=LB_ARN, account=ACCOUNT, region=REGION, name="p", vpc_id="vpc-p", state="active",
        mappings=[SubnetMapping(zone=ZONE, zone_id="aps1-az1", subnet_id="subnet-p",
                                network_interface_id="eni-node", private_ip=NODE_IP)])
    w.target_groups[TG_ARN] = TargetGroup(id=TG_ARN, account=ACCOUNT, region=REGION, name="p", port=80,
                                          vpc_id="vpc-p", targets=[
        RegisteredTarget(id=iid, port=80, availability_zone=ZONE, registered=10.0) for iid in ("i-a", "i-b")])
    w.listeners["lst"] = Listener(id="lst", account=ACCOUNT, region=REGION, load_balancer_arn=LB_ARN,
                                  protocol="TCP", port=80,
                                  default_actions=[{"Type": "forward", "TargetGroupArn": TG_ARN}])
    for iid, state in (("i-a", "unhealthy"), ("i-b", "healthy")):
        rid = health_id(TG_ARN, iid, 80)
        w.target_health[rid] = TargetHealth(id=rid, account=ACCOUNT, region=REGION, target_group_arn=TG_ARN,
                                            target_id=iid, port=80, state=state, observed=20.0)
    return w


def mapped(w: World) -> set[str]:
    """Target addresses in the node's bucket maps of the router's nlb table."""
    plan = build_plan(w, PREFIX, [network.contribute, load_balancers.contribute])
    router = plan.namespace(naming.namespace_name(PREFIX, "vpc-p"))
    table = {t.name: t for t in router.nft}[naming.table_name(PREFIX, "nlb")]
    return {v.split(" . ")[0] for s in table.sets if s.name.startswith("be_") for v in s.elements.values()}


def chosen_by_relay(w: World) -> set[str]:
    lb, tg = w.load_balancers[LB_ARN], w.target_groups[TG_ARN]
    picks = (proxy_v2.pick_target(w, lb, lb.mappings[0], tg, ("10.9.0.1", port), (NODE_IP, 80))
             for port in range(40000, 40200))
    return {p.address for p in picks if p is not None}


def reported(tmp_path, w: World) -> dict[str, tuple[str, str | None, str | None]]:
    store = open_store(tmp_path / "state", KINDS)
    try:
        with store.write() as tx:
            for table in (w.vpcs, w.subnets, w.instances, w.load_balancers, w.target_groups, w.listeners,
                          w.target_health):
                for obj in table.values():
                    tx.put(obj)
        with store.read() as tx:
            tg = tx.get(TargetGroup, TG_ARN)
            return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"),
                                        d["TargetHealth"].get("Description")) for d in describe(tx, tg)}
    finally:
        store.close()


def test_a_pending_instance_target_gets_no_flows_no_checks_and_is_not_reported_healthy(tmp_path):
    w = world("pending")
    lb, tg = w.load_balancers[LB_ARN], w.target_groups[TG_ARN]
    # Its healthy record does not bring it in; the node fails open to i-a alone.
    assert nodes.forwarding_set(w, lb, lb.mappings[0], tg) == [(A_IP, 80)]
    assert mapped(w) == {A_IP}
    assert chosen_by_relay(w) == {A_IP}
    assert {key[1] for key in health.desired_checks(w, PREFIX)} == {"i-a"}
    assert reported(tmp_path, w)["i-b"] == ("unused", "Target.InvalidState", "Target is in the pending state")


def test_the_same_target_once_running_is_in_service(tmp_path):
    w = world("running")
    lb, tg = w.load_balancers[LB_ARN], w.target_groups[TG_ARN]
    # Healthy now counts: only i-b is healthy, so the node sends to it alone.
    assert nodes.forwarding_set(w, lb, lb.mappings[0], tg) == [(B_IP, 80)]
    assert mapped(w) == {B_IP}
    assert chosen_by_relay(w) == {B_IP}
    assert {key[1] for key in health.desired_checks(w, PREFIX)} == {"i-a", "i-b"}
    assert reported(tmp_path, w)["i-b"] == ("healthy", None, None)
