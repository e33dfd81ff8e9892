"""Hand-built `World`s for plan-level tests of the NLB, endpoint and security group areas.

No server, no root: the areas' `contribute` functions are pure over a World.
"""
from __future__ import annotations

from vpclab.dataplane.areas import endpoints as desired_endpoints
from vpclab.dataplane.areas import internet as desired_internet
from vpclab.dataplane.areas import load_balancers as desired_load_balancers
from vpclab.dataplane.areas import network as desired_network
from vpclab.dataplane.areas import security_groups as desired_security_groups
from vpclab.dataplane.areas import service_endpoints as desired_service_endpoints
from vpclab.dataplane.planner import build_plan
from vpclab.dataplane.world import World
from vpclab.model.dataplane import TransitLink
from vpclab.model.ec2 import Instance, NetworkInterface, SecurityGroup, SecurityGroupRule, Subnet, Vpc
from vpclab.model.elbv2 import (
    Listener,
    LoadBalancer,
    RegisteredTarget,
    SubnetMapping,
    TargetGroup,
    TargetHealth,
)
from vpclab.model.privatelink import Endpoint, EndpointService

PREFIX = "vl0abcd"
A1, A2 = "111111111111", "222222222222"
R = "ap-south-1"
ZONES = [("ap-south-1a", "aps1-az1", "172.31.32.0/20"), ("ap-south-1b", "aps1-az3", "172.31.0.0/20")]
LB_ARN = f"arn:aws:elasticloadbalancing:{R}:{A1}:loadbalancer/net/web/0123456789abcdef"
TG_ARN = f"arn:aws:elasticloadbalancing:{R}:{A1}:targetgroup/web/0123456789abcdef"


def add_vpc(w: World, account: str, vpc_id: str) -> list[Subnet]:
    w.vpcs[vpc_id] = Vpc(id=vpc_id, account=account, region=R, cidr_block="172.31.0.0/16", is_default=True)
    subnets = []
    for i, (zone, zone_id, cidr) in enumerate(ZONES):
        s = Subnet(id=f"subnet-{vpc_id[4:]}{i}", account=account, region=R, vpc_id=vpc_id, cidr_block=cidr,
                   availability_zone=zone, availability_zone_id=zone_id)
        w.subnets[s.id] = s
        subnets.append(s)
    return subnets


def add_instance(w: World, iid: str, subnet: Subnet, ip: str, groups=("sg-web",)) -> Instance:
    inst = Instance(id=iid, account=subnet.account, region=R, vpc_id=subnet.vpc_id, subnet_id=subnet.id,
                    availability_zone=subnet.availability_zone, private_ip=ip, network_interface_id=f"eni-{iid}",
                    security_group_ids=list(groups), state="running")
    w.instances[iid] = inst
    w.enis[inst.network_interface_id] = NetworkInterface(
        id=inst.network_interface_id, account=subnet.account, region=R, vpc_id=subnet.vpc_id,
        subnet_id=subnet.id, private_ip=ip, security_group_ids=list(groups), owner_kind="instance", owner_id=iid)
    return inst


def provider_world(zones: int = 2, cross_zone: bool = False) -> World:
    """Account 1: two targets (one per zone), an NLB with a node per zone, TCP:80 -> TG."""
    w = World()
    subnets = add_vpc(w, A1, "vpc-p")
    w.security_groups["sg-web"] = SecurityGroup(id="sg-web", account=A1, region=R, vpc_id="vpc-p", rules=[
        SecurityGroupRule(id="sgr-1", egress=False, protocol="tcp", from_port=80, to_port=80, cidr_ipv4="0.0.0.0/0"),
        SecurityGroupRule(id="sgr-2", egress=True, protocol="-1", from_port=-1, to_port=-1, cidr_ipv4="0.0.0.0/0"),
    ])
    add_instance(w, "i-a", subnets[0], "172.31.32.20")
    add_instance(w, "i-b", subnets[1], "172.31.0.20")
    mappings = []
    for i, s in enumerate(subnets[:zones]):
        eni = f"eni-node{i}"
        ip = "172.31.32.100" if i == 0 else "172.31.0.100"
        mappings.append(SubnetMapping(zone=s.availability_zone, zone_id=s.availability_zone_id, subnet_id=s.id,
                                      network_interface_id=eni, private_ip=ip))
        w.enis[eni] = NetworkInterface(id=eni, account=A1, region=R, vpc_id="vpc-p", subnet_id=s.id,
                                       private_ip=ip, owner_kind="load-balancer", owner_id=LB_ARN,
                                       interface_type="network_load_balancer")
    w.load_balancers[LB_ARN] = LoadBalancer(
        id=LB_ARN, account=A1, region=R, name="web", vpc_id="vpc-p", mappings=mappings,
        attributes={"load_balancing.cross_zone.enabled": "true" if cross_zone else "false"})
    w.target_groups[TG_ARN] = TargetGroup(id=TG_ARN, account=A1, region=R, name="web", port=80, vpc_id="vpc-p",
                                          targets=[
        RegisteredTarget(id="i-a", port=80, availability_zone="ap-south-1a", registered=10.0),
        RegisteredTarget(id="i-b", port=80, availability_zone="ap-south-1b", registered=10.0),
    ])
    w.listeners["lst"] = Listener(id="lst", account=A1, region=R, load_balancer_arn=LB_ARN, protocol="TCP",
                                  port=80, default_actions=[{"Type": "forward", "TargetGroupArn": TG_ARN}])
    return w


def set_health(w: World, target_id: str, state: str, observed: float = 20.0) -> None:
    rid = f"{TG_ARN}|{target_id}|80"
    w.target_health[rid] = TargetHealth(id=rid, account=A1, region=R, target_group_arn=TG_ARN,
                                        target_id=target_id, port=80, state=state, observed=observed)


def add_service(w: World) -> EndpointService:
    svc = EndpointService(id="vpce-svc-1", account=A1, region=R, service_name=f"com.amazonaws.vpce.{R}.vpce-svc-1",
                          network_load_balancer_arns=[LB_ARN])
    w.services[svc.id] = svc
    return svc


def add_endpoint(w: World, n: int, state: str, vpc_id: str = "vpc-c", zone: int = 0, groups=("sg-ep",),
                 link: int | None = None) -> Endpoint:
    """Consumer endpoint number `n` with one ENI at 172.31.<32+zone*?>.(n+10); `link` = transit index."""
    if vpc_id not in w.vpcs:
        add_vpc(w, A2, vpc_id)
    subnet = [s for s in w.subnets.values() if s.vpc_id == vpc_id][zone]
    base = subnet.cidr_block.split(".")
    ip = f"{base[0]}.{base[1]}.{int(base[2]) + n // 250}.{n % 250 + 5}"
    eid, eni_id = f"vpce-{n:04d}", f"eni-ep{vpc_id}{n:04d}"
    w.endpoints[eid] = Endpoint(id=eid, account=A2, region=R, vpc_id=vpc_id, service_id="vpce-svc-1",
                                state=state, subnet_ids=[subnet.id], network_interface_ids=[eni_id],
                                security_group_ids=list(groups))
    w.enis[eni_id] = NetworkInterface(id=eni_id, account=A2, region=R, vpc_id=vpc_id, subnet_id=subnet.id,
                                      private_ip=ip, security_group_ids=list(groups), owner_kind="vpc-endpoint",
                                      owner_id=eid, interface_type="vpc_endpoint")
    if link is not None:
        w.transit_links[eni_id] = TransitLink(id=eni_id, account=A2, region=R, index=link, endpoint_id=eid)
    return w.endpoints[eid]


AREAS = [desired_network.contribute, desired_internet.contribute, desired_security_groups.contribute,
         desired_load_balancers.contribute, desired_endpoints.contribute, desired_service_endpoints.contribute]


def plan_of(w: World, prefix: str = PREFIX):
    return build_plan(w, prefix, AREAS)
