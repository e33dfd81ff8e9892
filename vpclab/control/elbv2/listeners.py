"""NLB listeners: Create/Describe/Modify/DeleteListener, listener attributes.

A Network Load Balancer listener takes TCP, UDP, TCP_UDP or TLS on a port and forwards to
one target group: TCP to a TCP or TCP_UDP group, UDP to UDP or TCP_UDP, TCP_UDP to
TCP_UDP, TLS to TCP or TLS. A target group serves one load balancer only. vpclab has no
ACM: a TLS listener's certificate ARNs are kept as given, not checked.
"""
from __future__ import annotations

from ...model.elbv2 import Listener, LoadBalancer, forwarded_target_groups
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import ValidationError
from ...store import Transaction
from .common import (
    err,
    find_listener,
    get_lb,
    get_listener,
    get_tg,
    invalid_config,
    key_values,
    lbs_of_tg,
    listener_not_found,
    new_listener_arn,
    page,
    parse_int,
    tag_dict,
)
from .load_balancers import clear_unused_health

NLB_LISTENER_PROTOCOLS = ("TCP", "TLS", "UDP", "TCP_UDP")
COMPATIBLE = {
    "TCP": ("TCP", "TCP_UDP"),
    "UDP": ("UDP", "TCP_UDP"),
    "TCP_UDP": ("TCP_UDP",),
    "TLS": ("TCP", "TLS"),
}
DEFAULT_TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-2021-06"
ALPN_POLICIES = ("HTTP1Only", "HTTP2Only", "HTTP2Optional", "HTTP2Preferred", "None")
MAX_LISTENERS = 50


def default_attributes(listener: Listener) -> dict[str, str]:
    if listener.protocol == "UDP":
        return {}
    return {"tcp.idle_timeout.seconds": "350"}


def attributes(listener: Listener) -> dict[str, str]:
    return {**default_attributes(listener), **listener.attributes}


def render(listener: Listener) -> dict:
    out = {
        "ListenerArn": listener.id,
        "LoadBalancerArn": listener.load_balancer_arn,
        "Port": listener.port,
        "Protocol": listener.protocol,
        "DefaultActions": listener.default_actions,
    }
    if listener.protocol == "TLS":
        out["Certificates"] = listener.certificates
        out["SslPolicy"] = listener.ssl_policy
        out["AlpnPolicy"] = listener.alpn_policy or ["None"]
    return out


# Validation ------------------------------------------------------------------------------------

def _forward_action(tx: Transaction, ctx: RequestContext, lb: LoadBalancer, protocol: str,
                    actions: list[dict] | None) -> list[dict]:
    """The normalized DefaultActions of an NLB listener, or AWS's error."""
    if not actions:
        raise ValidationError("A default action must be specified")
    if len(actions) != 1:
        raise ValidationError("Network Load Balancer listeners support exactly one default action")
    action = actions[0]
    if action.get("Type") != "forward":
        raise ValidationError(f"Action type '{action.get('Type')}' must be one of 'forward'")
    arns = forwarded_target_groups([action])
    if not arns:
        raise ValidationError("A target group ARN must be specified for a forward action")
    if len(arns) != 1:
        raise ValidationError("You can specify only one target group for a forward action of a Network Load Balancer")
    arn = arns[0]
    tg = get_tg(tx, ctx, arn)
    if tg.protocol not in COMPATIBLE[protocol] or tg.target_type == "lambda" or (
            tg.target_type == "alb" and protocol != "TCP"):
        raise err("IncompatibleProtocols",
                  f"The listener and its associated target group '{arn}' have incompatible protocols "
                  f"(listener '{protocol}', target group '{tg.protocol}')")
    if tg.vpc_id != lb.vpc_id:
        raise invalid_config(
            f"Target group '{arn}' is in VPC '{tg.vpc_id}' but load balancer '{lb.id}' is in VPC '{lb.vpc_id}'")
    others = [a for a in lbs_of_tg(tx, tg) if a != lb.id]
    if others:
        raise err("TargetGroupAssociationLimit",
                  f"The following target groups cannot be associated with more than one load balancer: '{arn}'")
    return [{
        "Type": "forward",
        "TargetGroupArn": arn,
        "ForwardConfig": {
            "TargetGroups": [{"TargetGroupArn": arn, "Weight": 1}],
            "TargetGroupStickinessConfig": {"Enabled": False},
        },
    }]


def _checked_protocol_port(protocol: str | None, port: int | None) -> tuple[str, int]:
    """A listener's protocol and port as a request gives them, or AWS's error."""
    if not protocol:
        raise ValidationError("A listener protocol must be specified")
    if protocol not in NLB_LISTENER_PROTOCOLS:
        raise ValidationError(f"Listener protocol '{protocol}' must be one of '{', '.join(NLB_LISTENER_PROTOCOLS)}'")
    if port is None:
        raise ValidationError("A listener port must be specified")
    if not 1 <= port <= 65535:
        raise ValidationError(
            f"1 validation error detected: Value '{port}' at 'port' failed to satisfy constraint: "
            f"Member must have value {'greater than or equal to 1' if port < 1 else 'less than or equal to 65535'}")
    return protocol, port


def _tls_settings(protocol: str, certificates: list[dict] | None, ssl_policy: str | None, alpn: list[str] | None,
                  current: Listener | None = None) -> tuple[list[dict], str | None, list[str]]:
    """(certificates, ssl_policy, alpn) of a listener with `protocol`."""
    if protocol != "TLS":
        if certificates or ssl_policy or alpn:
            raise ValidationError("Certificates, an SSL policy and an ALPN policy can only be specified for TLS listeners")
        return [], None, []
    if current is not None and current.protocol == "TLS":
        certificates = certificates if certificates is not None else current.certificates
        ssl_policy = ssl_policy or current.ssl_policy
        alpn = alpn if alpn is not None else current.alpn_policy
    if not certificates:
        raise ValidationError("A certificate must be specified for TLS listeners")
    for cert in certificates:
        if not cert.get("CertificateArn"):
            raise ValidationError("A certificate ARN must be specified")
    certs = [{"CertificateArn": c["CertificateArn"]} for c in certificates]
    for policy in alpn or ():
        if policy not in ALPN_POLICIES:
            raise ValidationError(f"ALPN policy '{policy}' must be one of '{', '.join(ALPN_POLICIES)}'")
    if alpn and len(alpn) > 1:
        raise ValidationError("You can specify only one ALPN policy")
    return certs, ssl_policy or DEFAULT_TLS_POLICY, list(alpn or [])


# Operations ----------------------------------------------------------------------------------------

@operation("elbv2", "CreateListener")
def create_listener(ctx: RequestContext, req: dict) -> dict:
    tags = tag_dict(req.get("Tags"))
    with ctx.write() as tx:
        lb = get_lb(tx, ctx, req["LoadBalancerArn"])
        protocol, port = _checked_protocol_port(req.get("Protocol"), req.get("Port"))
        certs, policy, alpn = _tls_settings(protocol, req.get("Certificates"), req.get("SslPolicy"),
                                            req.get("AlpnPolicy"))
        actions = _forward_action(tx, ctx, lb, protocol, req.get("DefaultActions"))
        existing = tx.list(Listener, load_balancer_arn=lb.id)
        same_port = next((l for l in existing if l.port == port), None)
        if same_port is not None:
            if (same_port.protocol, same_port.default_actions, same_port.certificates, same_port.ssl_policy,
                    same_port.alpn_policy) == (protocol, actions, certs, policy, alpn):
                return {"Listeners": [render(same_port)]}
            raise err("DuplicateListener", "A listener already exists on this port for this load balancer")
        if len(existing) >= MAX_LISTENERS:
            raise err("TooManyListeners", "You've reached the limit on the number of listeners per load balancer")
        listener = Listener(
            id=new_listener_arn(lb), account=ctx.account, region=ctx.region, load_balancer_arn=lb.id,
            protocol=protocol, port=port, default_actions=actions, ssl_policy=policy,
            certificates=certs, alpn_policy=alpn, tags=tags, created=ctx.now.timestamp(),
        )
        tx.put(listener)
    return {"Listeners": [render(listener)]}


@operation("elbv2", "DescribeListeners")
def describe_listeners(ctx: RequestContext, req: dict) -> dict:
    lb_arn = req.get("LoadBalancerArn")
    arns: list[str] = req.get("ListenerArns") or []
    if not lb_arn and not arns:
        raise ValidationError("You must specify either listener ARNs or a load balancer ARN")
    if lb_arn and arns:
        raise ValidationError("Listener ARNs and a load balancer ARN cannot be specified at the same time")
    with ctx.read() as tx:
        if lb_arn:
            get_lb(tx, ctx, lb_arn)
            listeners = tx.list(Listener, load_balancer_arn=lb_arn)
        else:
            listeners = []
            for arn in arns:
                listener = find_listener(tx, ctx, arn)
                if listener is None:
                    raise listener_not_found()
                if listener not in listeners:
                    listeners.append(listener)
    listeners.sort(key=lambda l: (l.created, l.port))
    items, marker = page(listeners, req.get("Marker"), req.get("PageSize"))
    return {"Listeners": [render(l) for l in items], "NextMarker": marker}


@operation("elbv2", "ModifyListener")
def modify_listener(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        listener = get_listener(tx, ctx, req["ListenerArn"])
        # Deleting a load balancer deletes its listeners: this one's is there.
        lb = get_lb(tx, ctx, listener.load_balancer_arn)
        protocol, port = _checked_protocol_port(req.get("Protocol") or listener.protocol,
                                                req.get("Port") or listener.port)
        certs, policy, alpn = _tls_settings(protocol, req.get("Certificates"), req.get("SslPolicy"),
                                            req.get("AlpnPolicy"), listener)
        old_tgs = forwarded_target_groups(listener.default_actions)
        actions = _forward_action(tx, ctx, lb, protocol, req.get("DefaultActions") or listener.default_actions)
        if port != listener.port and any(
                l.port == port for l in tx.list(Listener, load_balancer_arn=lb.id) if l.id != listener.id):
            raise err("DuplicateListener", "A listener already exists on this port for this load balancer")
        listener.protocol, listener.port, listener.default_actions = protocol, port, actions
        listener.certificates, listener.ssl_policy, listener.alpn_policy = certs, policy, alpn
        if protocol == "UDP":
            listener.attributes = {}
        tx.put(listener)
        clear_unused_health(tx, old_tgs)
    return {"Listeners": [render(listener)]}


@operation("elbv2", "DeleteListener")
def delete_listener(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        listener = get_listener(tx, ctx, req["ListenerArn"])
        tx.delete(listener)
        clear_unused_health(tx, forwarded_target_groups(listener.default_actions))
    return {}


@operation("elbv2", "DescribeListenerAttributes")
def describe_listener_attributes(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        listener = get_listener(tx, ctx, req["ListenerArn"])
    return {"Attributes": key_values(attributes(listener))}


@operation("elbv2", "ModifyListenerAttributes")
def modify_listener_attributes(ctx: RequestContext, req: dict) -> dict:
    with ctx.write() as tx:
        listener = get_listener(tx, ctx, req["ListenerArn"])
        changes: dict[str, str] = {}
        for attr in req.get("Attributes") or ():
            key, value = attr.get("Key") or "", attr.get("Value") or ""
            if key not in default_attributes(listener):
                if key == "tcp.idle_timeout.seconds":
                    raise invalid_config(f"Listener attribute '{key}' is not supported for UDP listeners")
                raise ValidationError(f"Listener attribute key '{key}' is not recognized")
            parse_int(value, key, "Listener", 60, 6000)
            changes[key] = value
        listener.attributes = {**listener.attributes, **changes}
        tx.put(listener)
    return {"Attributes": key_values(attributes(listener))}

