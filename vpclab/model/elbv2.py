"""Elastic Load Balancing v2 resources (Network Load Balancers).

ELBv2 resources are keyed by ARN (their id is the ARN).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..store import Resource, resource

#: Attribute keys both planes read: the API validates and shows them, the data plane obeys them.
CROSS_ZONE = "load_balancing.cross_zone.enabled"
PROXY_PROTOCOL_V2 = "proxy_protocol_v2.enabled"
#: A target group's cross-zone value that defers to its load balancer's.
USE_LOAD_BALANCER = "use_load_balancer_configuration"


@dataclass
class SubnetMapping:
    """One enabled zone of an NLB: its subnet, and the node's ENI and address there."""

    zone: str = ""  # the zone's name
    zone_id: str = ""
    subnet_id: str = ""
    network_interface_id: str = ""  # eni-…
    private_ip: str = ""
    # An Elastic IP of an internet-facing node; vpclab allocates none yet.
    allocation_id: str | None = None
    public_ip: str | None = None


@resource("load-balancer")
@dataclass
class LoadBalancer(Resource):
    name: str = ""
    type: str = "network"
    scheme: str = "internet-facing"
    vpc_id: str = ""
    ip_address_type: str = "ipv4"
    dns_name: str = ""
    canonical_hosted_zone_id: str = ""
    mappings: list[SubnetMapping] = field(default_factory=list)  # one per enabled zone
    security_group_ids: list[str] = field(default_factory=list)
    enforce_sg_inbound_on_privatelink: bool = True
    # provisioning | active | failed; `observed.mark_load_balancer_active` moves it on.
    state: str = "provisioning"
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@dataclass
class RegisteredTarget:
    """One registration of a target (id and port) in a target group."""

    id: str = ""  # an instance id or an IP address
    port: int = 0
    availability_zone: str | None = None  # a zone's name; None or "all": any zone
    registered: float = 0.0
    # When DeregisterTargets started its drain; None while registered.
    deregistering_since: float | None = None


@resource("target-group")
@dataclass
class TargetGroup(Resource):
    name: str = ""
    # A lambda target group has no protocol, port or VPC.
    protocol: str | None = "TCP"
    port: int | None = None
    vpc_id: str | None = None
    target_type: str = "instance"
    ip_address_type: str = "ipv4"
    health_check: dict = field(default_factory=dict)  # AWS member names: HealthCheckProtocol, …
    attributes: dict[str, str] = field(default_factory=dict)
    targets: list[RegisteredTarget] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@resource("listener")
@dataclass
class Listener(Resource):
    load_balancer_arn: str = ""
    protocol: str = "TCP"
    port: int = 0
    default_actions: list[dict] = field(default_factory=list)  # AWS's Action dicts
    ssl_policy: str | None = None
    certificates: list[dict] = field(default_factory=list)
    alpn_policy: list[str] = field(default_factory=list)
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@resource("target-health")
@dataclass
class TargetHealth(Resource):
    """What the data plane observed of one target; id is `health_id(tg_arn, target_id, port)`.

    Written only by whoever checked the target. With no observation, DescribeTargetHealth
    reports `initial` — never `healthy` for a target nothing checked.
    """

    target_group_arn: str = ""
    target_id: str = ""
    port: int = 0
    state: str = "initial"  # initial | healthy | unhealthy | unused | draining | unavailable
    reason: str | None = None
    description: str | None = None
    observed: float = 0.0


#: What a `TargetHealth` record may say (`observed.record_health` refuses anything else).
TARGET_HEALTH_STATES = ("initial", "healthy", "unhealthy", "unavailable", "unused", "draining")


def health_id(tg_arn: str, target_id: str, port: int) -> str:
    """The id of the `TargetHealth` record of one registered target (`target id`, `port`)."""
    return f"{tg_arn}|{target_id}|{port}"


def forwarded_target_groups(actions: list[dict]) -> list[str]:
    """Target group ARNs a listener's (normalized or raw) actions forward to, in order, once each."""
    arns: list[str] = []
    for action in actions or ():
        if action.get("TargetGroupArn"):
            arns.append(action["TargetGroupArn"])
        for item in (action.get("ForwardConfig") or {}).get("TargetGroups") or ():
            if item.get("TargetGroupArn"):
                arns.append(item["TargetGroupArn"])
    return list(dict.fromkeys(arns))


def cross_zone(lb: LoadBalancer, tg: TargetGroup) -> bool:
    """Whether `lb`'s nodes send `tg`'s flows to targets in every zone: the target group's
    attribute, or the load balancer's when it says `use_load_balancer_configuration`
    (an NLB's default is off)."""
    value = tg.attributes.get(CROSS_ZONE, USE_LOAD_BALANCER)
    if value == USE_LOAD_BALANCER:
        value = lb.attributes.get(CROSS_ZONE, "false")
    return str(value).lower() == "true"


def proxy_protocol_v2(tg: TargetGroup) -> bool:
    """Whether `tg` wants the proxy protocol v2 header on its connections."""
    return str(tg.attributes.get(PROXY_PROTOCOL_V2, "false")).lower() == "true"
