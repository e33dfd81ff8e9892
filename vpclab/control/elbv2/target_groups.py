"""Target groups: Create/Describe/Modify/DeleteTargetGroup, attributes, Register/
DeregisterTargets, DescribeTargetHealth.

Target groups of the TCP family (TCP, UDP, TCP_UDP, TLS) are what NLB listeners forward
to. HTTP/HTTPS target groups are accepted (they are valid ELBv2 resources) but no vpclab
load balancer can use them. Health is described in `target_health.py`; deregistered
targets drain for `deregistration_delay.timeout_seconds` while a listener uses the group,
and a lifecycle step removes them afterwards (with or without a data plane: it is a
timer on AWS too).
"""
from __future__ import annotations

import ipaddress

from ...model import targets as target_rules
from ...model.ec2 import Instance, Subnet, Vpc
from ...model.elbv2 import CROSS_ZONE, PROXY_PROTOCOL_V2, USE_LOAD_BALANCER, RegisteredTarget, TargetGroup
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import AwsError, ValidationError
from ...store import Transaction
from ..common.lookup import find_owned
from ..ec2.default_vpc import ensure_default_vpc
from .common import (
    TARGET_GROUP,
    check_ipv4,
    check_tg_name,
    err,
    find_tg,
    get_lb,
    get_tg,
    invalid_config,
    key_values,
    lbs_of_tg,
    listeners_of_tg,
    new_tg_arn,
    page,
    parse_bool,
    parse_int,
    tag_dict,
    tg_not_found,
)
from .target_health import forget_health, health_descriptions

NLB_PROTOCOLS = ("TCP", "UDP", "TCP_UDP", "TLS")
ALB_PROTOCOLS = ("HTTP", "HTTPS")
TARGET_TYPES = ("instance", "ip", "lambda", "alb")


# Health check settings ------------------------------------------------------------------------

def _hc_defaults(protocol: str | None, hc_protocol: str) -> dict:
    nlb = protocol in NLB_PROTOCOLS
    out = {
        "HealthCheckProtocol": hc_protocol,
        "HealthCheckPort": "traffic-port",
        "HealthCheckEnabled": True,
        "HealthCheckIntervalSeconds": 30,
        "HealthCheckTimeoutSeconds": (6 if hc_protocol == "HTTP" else 10) if nlb else 5,
        "HealthyThresholdCount": 5,
        "UnhealthyThresholdCount": 2,
    }
    if hc_protocol in ALB_PROTOCOLS:
        out["HealthCheckPath"] = "/"
        out["Matcher"] = {"HttpCode": "200-399" if nlb else "200"}
    return out


_HC_KEYS = ("HealthCheckProtocol", "HealthCheckPort", "HealthCheckEnabled", "HealthCheckIntervalSeconds",
            "HealthCheckTimeoutSeconds", "HealthyThresholdCount", "UnhealthyThresholdCount",
            "HealthCheckPath", "Matcher")


def health_check(tg_protocol: str | None, target_type: str, req: dict, current: dict | None = None) -> dict:
    """The health check settings a create (current None) or modify request gives."""
    if current is None:
        default_proto = tg_protocol if tg_protocol in ALB_PROTOCOLS else "TCP"
        hc_protocol = req.get("HealthCheckProtocol") or default_proto
        hc = _hc_defaults(tg_protocol, hc_protocol)
        if target_type == "lambda":
            hc.update(HealthCheckProtocol="HTTP", HealthCheckPath="/", Matcher={"HttpCode": "200"},
                      HealthCheckEnabled=False, HealthCheckIntervalSeconds=35, HealthCheckTimeoutSeconds=30)
    else:
        hc = dict(current)
        hc_protocol = req.get("HealthCheckProtocol") or hc["HealthCheckProtocol"]
        if hc_protocol != hc["HealthCheckProtocol"]:
            fresh = _hc_defaults(tg_protocol, hc_protocol)
            hc["HealthCheckProtocol"] = hc_protocol
            for key in ("HealthCheckPath", "Matcher"):
                hc.pop(key, None)
                if key in fresh:
                    hc[key] = fresh[key]
    allowed = ("HTTP", "HTTPS") if tg_protocol in ALB_PROTOCOLS else ("TCP", "HTTP", "HTTPS")
    if hc_protocol not in allowed:
        raise ValidationError(
            f"Health check protocol '{hc_protocol}' is not supported for target groups with the "
            f"'{tg_protocol}' protocol; it must be one of '{', '.join(allowed)}'")
    for key in _HC_KEYS:
        if key in req and key != "HealthCheckProtocol":
            hc[key] = req[key]
    if ("HealthCheckPath" in req or "Matcher" in req) and hc_protocol not in ALB_PROTOCOLS:
        raise ValidationError("Health check path and matcher are only supported for HTTP and HTTPS health checks")
    port = str(hc["HealthCheckPort"])
    if port != "traffic-port":
        if not port.isdigit() or not 1 <= int(port) <= 65535:
            raise ValidationError(f"Health check port '{port}' must be 'traffic-port' or a port from 1 to 65535")
    hc["HealthCheckPort"] = port
    for key, low, high in (("HealthCheckIntervalSeconds", 5, 300), ("HealthCheckTimeoutSeconds", 2, 120),
                           ("HealthyThresholdCount", 2, 10), ("UnhealthyThresholdCount", 2, 10)):
        value = hc[key]
        if not low <= value <= high:
            member = key[0].lower() + key[1:]
            raise ValidationError(
                f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: "
                f"Member must have value {'greater than or equal to ' + str(low) if value < low else 'less than or equal to ' + str(high)}"
            )
    if hc["HealthCheckTimeoutSeconds"] >= hc["HealthCheckIntervalSeconds"]:
        raise ValidationError(
            f"Health check timeout '{hc['HealthCheckTimeoutSeconds']}' must be smaller than the interval "
            f"'{hc['HealthCheckIntervalSeconds']}'")
    if not hc["HealthCheckEnabled"] and target_type != "lambda":
        raise ValidationError(
            f"Health checks cannot be disabled for target groups with target type '{target_type}'")
    if "HealthCheckPath" in hc:
        path = hc["HealthCheckPath"]
        if not path.startswith("/") or len(path) > 1024:
            raise ValidationError(f"Health check path '{path}' must begin with '/' and be at most 1024 characters")
    return hc


# Attributes ----------------------------------------------------------------------------------------------

def default_attributes(tg: TargetGroup) -> dict[str, str]:
    if tg.protocol in ALB_PROTOCOLS or tg.target_type == "lambda":
        return {
            "deregistration_delay.timeout_seconds": "300",
            "stickiness.enabled": "false",
            "stickiness.type": "lb_cookie",
            "stickiness.lb_cookie.duration_seconds": "86400",
            "slow_start.duration_seconds": "0",
            "load_balancing.algorithm.type": "round_robin",
            CROSS_ZONE: USE_LOAD_BALANCER,
        }
    preserve = not (tg.target_type == "ip" and tg.protocol in ("TCP", "TLS"))
    return {
        "deregistration_delay.timeout_seconds": "300",
        "deregistration_delay.connection_termination.enabled": "false",
        PROXY_PROTOCOL_V2: "false",
        "preserve_client_ip.enabled": "true" if preserve else "false",
        "stickiness.enabled": "false",
        "stickiness.type": "source_ip",
        CROSS_ZONE: USE_LOAD_BALANCER,
        "target_health_state.unhealthy.connection_termination.enabled": "true",
        "target_health_state.unhealthy.draining_interval_seconds": "0",
        "target_group_health.dns_failover.minimum_healthy_targets.count": "1",
        "target_group_health.dns_failover.minimum_healthy_targets.percentage": "off",
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.count": "1",
        "target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage": "off",
    }


def attributes(tg: TargetGroup) -> dict[str, str]:
    return {**default_attributes(tg), **tg.attributes}


def deregistration_delay(tg: TargetGroup) -> int:
    return int(attributes(tg)["deregistration_delay.timeout_seconds"])


def _check_attribute(tg: TargetGroup, key: str, value: str) -> None:
    noun = "Target group"
    if key not in default_attributes(tg):
        raise ValidationError(f"Target group attribute key '{key}' is not recognized")
    if key.endswith(".enabled") and key != CROSS_ZONE:
        parse_bool(value, key, noun)
    if key == "deregistration_delay.timeout_seconds":
        parse_int(value, key, noun, 0, 3600)
    elif key == "target_health_state.unhealthy.draining_interval_seconds":
        parse_int(value, key, noun, 0, 360000)
    elif key.endswith("minimum_healthy_targets.count"):
        parse_int(value, key, noun, 1, 1000000)
    elif key.endswith("minimum_healthy_targets.percentage"):
        if value != "off":
            parse_int(value, key, noun, 1, 100)
    elif key == CROSS_ZONE:
        options = ("true", "false", USE_LOAD_BALANCER)
        if value not in options:
            raise ValidationError(f"{noun} attribute '{key}' value '{value}' must be one of '{', '.join(options)}'")
    elif key == "stickiness.type" and tg.protocol in NLB_PROTOCOLS and value != "source_ip":
        raise ValidationError(
            f"Stickiness type '{value}' is not supported for target groups with the {tg.protocol} protocol")
    elif key == "preserve_client_ip.enabled" and value == "false" and tg.protocol in ("UDP", "TCP_UDP"):
        raise invalid_config("Client IP preservation cannot be disabled for UDP and TCP_UDP target groups")


# Rendering -----------------------------------------------------------------------------------------

def render(tx: Transaction, tg: TargetGroup) -> dict:
    out = {
        "TargetGroupArn": tg.id,
        "TargetGroupName": tg.name,
        "Protocol": tg.protocol,
        "Port": tg.port,
        "VpcId": tg.vpc_id,
        **tg.health_check,
        "LoadBalancerArns": lbs_of_tg(tx, tg),
        "TargetType": tg.target_type,
        "IpAddressType": tg.ip_address_type if tg.target_type != "lambda" else None,
    }
    return out


# Operations ----------------------------------------------------------------------------------------

@operation("elbv2", "CreateTargetGroup")
def create_target_group(ctx: RequestContext, req: dict) -> dict:
    name = req.get("Name", "")
    check_tg_name(name)
    target_type = req.get("TargetType", "instance")
    if target_type not in TARGET_TYPES:
        raise ValidationError(f"Target type '{target_type}' must be one of '{', '.join(TARGET_TYPES)}'")
    protocol, port, vpc_id = req.get("Protocol"), req.get("Port"), req.get("VpcId")
    if target_type == "lambda":
        if protocol or port is not None or vpc_id:
            raise ValidationError(
                "Protocol, port, and VPC ID cannot be specified for target groups with target type 'lambda'")
    else:
        if not protocol:
            raise ValidationError("A protocol must be specified")
        if protocol not in NLB_PROTOCOLS + ALB_PROTOCOLS:
            raise ValidationError(
                f"Target group protocol '{protocol}' is not supported by vpclab; use one of "
                f"'{', '.join(NLB_PROTOCOLS + ALB_PROTOCOLS)}'")
        if port is None:
            raise ValidationError("A port must be specified")
        if not 1 <= port <= 65535:
            raise ValidationError(
                f"1 validation error detected: Value '{port}' at 'port' failed to satisfy constraint: "
                f"Member must have value {'greater than or equal to 1' if port < 1 else 'less than or equal to 65535'}")
        if not vpc_id:
            raise ValidationError("A VPC ID must be specified")
        if target_type == "alb" and protocol != "TCP":
            raise ValidationError("Target groups with target type 'alb' must use the TCP protocol")
    ip_type = check_ipv4(req.get("IpAddressType"))
    if req.get("ProtocolVersion") and protocol not in ALB_PROTOCOLS:
        raise ValidationError("A protocol version can only be specified for HTTP and HTTPS target groups")
    hc = health_check(protocol, target_type, req)
    tags = tag_dict(req.get("Tags"))
    ensure_default_vpc(ctx)
    with ctx.write() as tx:
        if vpc_id:
            vpc = find_owned(tx, ctx, Vpc, vpc_id)
            if vpc is None:
                raise ValidationError(f"The VPC ID '{vpc_id}' is not found")
        existing = tx.list(TargetGroup, ctx.account, ctx.region, name=name)
        if existing:
            tg = existing[0]
            same = (tg.protocol == protocol and tg.port == port and tg.vpc_id == vpc_id
                    and tg.target_type == target_type and tg.ip_address_type == ip_type
                    and tg.health_check == hc)
            if not same:
                raise err("DuplicateTargetGroupName",
                          f"A target group with the same name '{name}' exists, but with different settings")
            return {"TargetGroups": [render(tx, tg)]}
        tg = TargetGroup(
            id=new_tg_arn(ctx, name), account=ctx.account, region=ctx.region, name=name,
            protocol=protocol, port=port, vpc_id=vpc_id, target_type=target_type,
            ip_address_type=ip_type, health_check=hc, tags=tags, created=ctx.now.timestamp(),
        )
        tx.put(tg)
        return {"TargetGroups": [render(tx, tg)]}


@operation("elbv2", "DescribeTargetGroups")
def describe_target_groups(ctx: RequestContext, req: dict) -> dict:
    arns, names, lb_arn = req.get("TargetGroupArns"), req.get("Names"), req.get("LoadBalancerArn")
    if sum(1 for x in (arns, names, lb_arn) if x) > 1:
        raise ValidationError(
            "Target group ARNs, target group names and a load balancer ARN cannot be specified at the same time")
    with ctx.read() as tx:
        tgs = tx.list(TargetGroup, ctx.account, ctx.region)
        if arns:
            for arn in arns:
                TARGET_GROUP.check(arn)
            known = {tg.id for tg in tgs}
            if any(a not in known for a in arns):
                raise tg_not_found()
            tgs = [tg for tg in tgs if tg.id in set(arns)]
        elif names:
            known = {tg.name for tg in tgs}
            if any(n not in known for n in names):
                raise tg_not_found()
            tgs = [tg for tg in tgs if tg.name in set(names)]
        elif lb_arn:
            get_lb(tx, ctx, lb_arn)
            tgs = [tg for tg in tgs if lb_arn in lbs_of_tg(tx, tg)]
        tgs.sort(key=lambda tg: tg.created)
        items, marker = page(tgs, req.get("Marker"), req.get("PageSize"))
        return {"TargetGroups": [render(tx, tg) for tg in items], "NextMarker": marker}


@operation("elbv2", "ModifyTargetGroup")
def modify_target_group(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
        tg.health_check = health_check(tg.protocol, tg.target_type, req, tg.health_check)
        tx.put(tg)
        return {"TargetGroups": [render(tx, tg)]}


@operation("elbv2", "DeleteTargetGroup")
def delete_target_group(ctx: RequestContext, req: dict) -> dict:
    arn = req["TargetGroupArn"]
    with ctx.write() as tx:
        tg = find_tg(tx, ctx, arn)
        if tg is None:
            return {}  # AWS: deleting a missing target group succeeds
        if listeners_of_tg(tx, tg):
            raise err("ResourceInUse", f"Target group '{arn}' is currently in use by a listener or a rule")
        forget_health(tx, arn)
        tx.delete(tg)
    return {}


@operation("elbv2", "DescribeTargetGroupAttributes")
def describe_target_group_attributes(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
    return {"Attributes": key_values(attributes(tg))}


@operation("elbv2", "ModifyTargetGroupAttributes")
def modify_target_group_attributes(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
        changes: dict[str, str] = {}
        for attr in req.get("Attributes") or ():
            key, value = attr.get("Key") or "", attr.get("Value") or ""
            _check_attribute(tg, key, value)
            changes[key] = value
        tg.attributes = {**tg.attributes, **changes}
        tx.put(tg)
    return {"Attributes": key_values(attributes(tg))}


# Targets ----------------------------------------------------------------------------------------------

def _quoted(ids: list[str]) -> str:
    return ", ".join(f"'{i}'" for i in ids)


def _invalid_target(message: str, ids: list[str]) -> AwsError:
    return err("InvalidTarget", f"{message}: {_quoted(ids)}")


def _target_port(tg: TargetGroup, target: dict) -> int | None:
    port = target.get("Port", tg.port)
    if port is not None and not 1 <= port <= 65535:
        raise ValidationError(
            f"1 validation error detected: Value '{port}' at 'targets.member.port' failed to satisfy "
            "constraint: Member must have value between 1 and 65535")
    return port


def _check_targets(tx: Transaction, ctx: RequestContext, tg: TargetGroup,
                   targets: list[dict]) -> list[RegisteredTarget]:
    """Registrations (id, port, availability_zone) for RegisterTargets, or AWS's error."""
    out: list[RegisteredTarget] = []
    unknown, other_vpc, not_running = [], [], []
    for t in targets:
        tid = t["Id"]
        port = _target_port(tg, t)
        zone = t.get("AvailabilityZone")
        if tg.target_type == "instance":
            if zone:
                raise ValidationError(
                    "An Availability Zone cannot be specified for targets of target groups with target type 'instance'")
            inst = find_owned(tx, ctx, Instance, tid)
            if inst is None:
                unknown.append(tid)
                continue
            if inst.vpc_id != tg.vpc_id:
                other_vpc.append(tid)
                continue
            if inst.state != "running":
                not_running.append(tid)
                continue
            zone = inst.availability_zone
        elif tg.target_type == "ip":
            zone = _check_ip_target(tx, tg, tid, zone, other_vpc)
            if zone is None:
                continue
        else:
            # vpclab has no Application Load Balancers nor Lambda functions to register.
            unknown.append(tid)
            continue
        if port is None:
            # Only a lambda target group has no port, and its targets end above as unknown.
            unknown.append(tid)
            continue
        out.append(RegisteredTarget(id=tid, port=port, availability_zone=zone))
    if unknown:
        raise _invalid_target("The following targets are not valid", unknown)
    if other_vpc:
        raise _invalid_target(f"The following targets are not in the target group VPC '{tg.vpc_id}'", other_vpc)
    if not_running:
        raise _invalid_target("The following targets are not in a running state and cannot be registered",
                              not_running)
    return out


_PRIVATE = [ipaddress.IPv4Network(n) for n in ("10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10")]


def _check_ip_target(tx: Transaction, tg: TargetGroup, tid: str, zone: str | None,
                     other_vpc: list[str]) -> str | None:
    """The zone of IP target `tid`; None, with `tid` added to `other_vpc`, for an address
    outside the target group's VPC that is not registered for zone `all`."""
    try:
        ip = ipaddress.IPv4Address(tid)
    except ValueError:
        raise ValidationError(f"The IP address '{tid}' is not a valid IPv4 address") from None
    vpc = tx.get(Vpc, tg.vpc_id) if tg.vpc_id else None
    if vpc is not None and any(ip in ipaddress.IPv4Network(block) for block in vpc.ipv4_cidr_blocks()):
        subnet = next((s for s in tx.list(Subnet, vpc_id=vpc.id)
                       if ip in ipaddress.IPv4Network(s.cidr_block)), None)
        if zone == "all":
            raise ValidationError(
                "Availability Zone 'all' can only be specified for IP targets outside the target group VPC")
        if subnet is None:
            raise err("InvalidTarget", f"The IP address '{tid}' is not in a subnet of VPC '{tg.vpc_id}'")
        if zone and zone != subnet.availability_zone:
            raise ValidationError(
                f"The Availability Zone '{zone}' does not match the zone of IP address '{tid}'")
        return subnet.availability_zone
    if zone != "all":
        other_vpc.append(tid)
        return None
    if not any(ip in net for net in _PRIVATE):
        raise err("InvalidTarget", f"The IP address '{tid}' is not within a private address range")
    return "all"


@operation("elbv2", "RegisterTargets")
def register_targets(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
        now = ctx.now.timestamp()
        for reg in _check_targets(tx, ctx, tg, req.get("Targets") or []):
            current = next((t for t in tg.targets if t.id == reg.id and t.port == reg.port), None)
            if current is None:
                forget_health(tx, tg.id, reg.id, reg.port)
                reg.registered = now
                tg.targets.append(reg)
            elif current.deregistering_since is not None:
                # Registered again while draining: a fresh registration.
                forget_health(tx, tg.id, reg.id, reg.port)
                current.registered = now
                current.deregistering_since = None
        tx.put(tg)
    return {}


@operation("elbv2", "DeregisterTargets")
def deregister_targets(ctx: RequestContext, req: dict) -> dict:
    """A target named without a port deregisters all its registrations (vpclab's choice).
    Deregistering a target that is not registered succeeds; a target that does not exist
    at all is AWS's InvalidTarget."""
    with ctx.write() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
        now = ctx.now.timestamp()
        in_use = bool(listeners_of_tg(tx, tg))
        delay = deregistration_delay(tg)
        missing = []
        for t in req.get("Targets") or ():
            tid, port = t["Id"], t.get("Port")
            matches = [r for r in tg.targets if r.id == tid and (port is None or r.port == port)]
            if not matches and tg.target_type == "instance":
                inst = find_owned(tx, ctx, Instance, tid)
                if inst is None:
                    missing.append(tid)
            for r in matches:
                if in_use and delay > 0:
                    if r.deregistering_since is None:
                        r.deregistering_since = now
                else:
                    tg.targets.remove(r)
                    forget_health(tx, tg.id, r.id, r.port)
        if missing:
            raise _invalid_target("The following targets are not valid", missing)
        tx.put(tg)
    return {}


def finish_draining(tx: Transaction, now: float, dataplane: bool) -> None:
    """Drained targets leave their group (`model.targets.drain_started`: deregistered ones,
    and those whose instance is terminating, as AWS deregisters them); in a group no
    listener uses, at once."""
    for tg in tx.list(TargetGroup, where=lambda g: bool(g.targets)):
        delay = deregistration_delay(tg)
        keep = []
        for t in tg.targets:
            since = target_rules.drain_started(tg, t, lambda instance_id: tx.get(Instance, instance_id))
            gone = since is not None and (since + delay <= now or not listeners_of_tg(tx, tg))
            if gone:
                forget_health(tx, tg.id, t.id, t.port)
            else:
                keep.append(t)
        if len(keep) != len(tg.targets):
            tg.targets = keep
            tx.put(tg)


@operation("elbv2", "DescribeTargetHealth")
def describe_target_health(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        tg = get_tg(tx, ctx, req["TargetGroupArn"])
        return {"TargetHealthDescriptions": health_descriptions(tx, tg, req.get("Targets"), req.get("Include"))}
