"""Elastic Load Balancing v2 resources (Network Load Balancers).

ELBv2 resources are keyed by ARN (their id is the ARN).
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..store import Resource, resource


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
    # One mapping per enabled zone: {"zone": name, "zone_id": id, "subnet_id": …,
    # "network_interface_id": eni-…, "private_ip": …, "allocation_id": None}
    mappings: list[dict] = field(default_factory=list)
    security_group_ids: list[str] = field(default_factory=list)
    enforce_sg_inbound_on_privatelink: bool = True
    # provisioning | active | failed; the data plane (or a timer where there is none)
    # moves it to active.
    state: str = "provisioning"
    attributes: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    created: float = 0.0


@resource("target-group")
@dataclass
class TargetGroup(Resource):
    name: str = ""
    protocol: str = "TCP"
    port: int | None = None
    vpc_id: str | None = None
    target_type: str = "instance"
    ip_address_type: str = "ipv4"
    health_check: dict = field(default_factory=dict)  # AWS member names: HealthCheckProtocol, …
    attributes: dict[str, str] = field(default_factory=dict)
    # Registered targets: {"id": instance id or IP, "port": int, "availability_zone": str|None,
    # "registered": float, "deregistering_since": float|None}
    targets: list[dict] = field(default_factory=list)
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
    """What the data plane observed of one target; id is `<tg-arn>|<target id>|<port>`.

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
