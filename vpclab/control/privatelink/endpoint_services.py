"""Endpoint services (the provider's side of PrivateLink) and who may use them.

CreateVpcEndpointServiceConfiguration, Describe/Modify/DeleteVpcEndpointServiceConfiguration[s],
StartVpcEndpointServicePrivateDnsVerification, Describe/ModifyVpcEndpointServicePermissions,
and the consumer's DescribeVpcEndpointServices.

A service fronts the caller's Network Load Balancers; its zones are theirs (matched by
zone id). It is `Available` at once, as on AWS. Other accounts see it only once one of
their principals is allowed. DescribeVpcEndpointServices lists, with them, AWS's own
services of the region (`model.aws_services`), owned by `amazon`, one entry per endpoint
type each offers.
"""
from __future__ import annotations

from ...model import aws_services
from ...model.elbv2 import LoadBalancer
from ...model.privatelink import CONNECTED_STATES, EndpointService
from ...protocol.dispatch import RequestContext, operation
from ...protocol.errors import (
    InvalidParameter,
    InvalidParameterCombination,
    InvalidParameterValue,
)
from ...store import Transaction
from ..common.filters import filter_and_page
from ..common.ids import new_id
from ..common.lookup import SERVICE, find_owned, get_owned
from ..common.tags import tag_list, tags_from_specs
from . import connection_notifications
from .common import (
    aws_target,
    base_dns_name,
    connections_of,
    is_allowed,
    principal_type,
    random_lower_alnum,
    service_name_for,
    service_not_found_by_name,
    service_zone_ids,
    zone_name,
)

IP_TYPES = ("ipv4", "ipv6")


# Rendering -----------------------------------------------------------------------------

def render_configuration(tx: Transaction, svc: EndpointService) -> dict:
    zone_ids = service_zone_ids(tx, svc)
    return {
        "ServiceType": [{"ServiceType": svc.service_type}],
        "ServiceId": svc.id,
        "ServiceName": svc.service_name,
        "ServiceState": svc.state,
        "AvailabilityZoneIds": zone_ids,
        "AvailabilityZones": [zone_name(svc.region, z) for z in zone_ids],
        "AcceptanceRequired": svc.acceptance_required,
        "ManagesVpcEndpoints": False,
        "NetworkLoadBalancerArns": svc.network_load_balancer_arns or None,
        "GatewayLoadBalancerArns": svc.gateway_load_balancer_arns or None,
        "SupportedIpAddressTypes": svc.supported_ip_address_types,
        "BaseEndpointDnsNames": [base_dns_name(svc.region, svc.id)],
        "PrivateDnsName": svc.private_dns_name,
        "PrivateDnsNameConfiguration": svc.private_dns_name_configuration,
        "PayerResponsibility": svc.payer_responsibility,
        "Tags": tag_list(svc.tags) or [],
    }


def render_detail(tx: Transaction, svc: EndpointService, caller: str) -> dict:
    """The consumer's view (DescribeVpcEndpointServices)."""
    zone_ids = service_zone_ids(tx, svc)
    dns_state = (svc.private_dns_name_configuration or {}).get("State")
    return {
        "ServiceName": svc.service_name,
        "ServiceId": svc.id,
        "ServiceType": [{"ServiceType": svc.service_type}],
        "ServiceRegion": svc.region,
        "AvailabilityZoneIds": zone_ids,
        "AvailabilityZones": [zone_name(svc.region, z) for z in zone_ids],
        "Owner": svc.account,
        "BaseEndpointDnsNames": [base_dns_name(svc.region, svc.id)],
        "PrivateDnsName": svc.private_dns_name,
        "PrivateDnsNames": [{"PrivateDnsName": svc.private_dns_name}] if svc.private_dns_name else None,
        "VpcEndpointPolicySupported": False,
        "AcceptanceRequired": svc.acceptance_required,
        "ManagesVpcEndpoints": False,
        "PayerResponsibility": svc.payer_responsibility,
        # Tags are the owner's; other accounts do not see them.
        "Tags": (tag_list(svc.tags) if caller == svc.account else None) or [],
        "PrivateDnsNameVerificationState": dns_state,
        "SupportedIpAddressTypes": svc.supported_ip_address_types,
    }


def render_aws_detail(service: aws_services.AwsService, region: str, endpoint_type: str) -> dict:
    """An AWS service of the region as DescribeVpcEndpointServices shows it (one entry per
    endpoint type): owned by `amazon`, in every zone, no acceptance, a verified private DNS
    name for the Interface entries that have one, full-access policies supported."""
    target = aws_target(service, region, endpoint_type)
    detail = {
        "ServiceName": target.service_name,
        "ServiceId": target.service_id,
        "ServiceType": [{"ServiceType": endpoint_type}],
        "ServiceRegion": region,
        "AvailabilityZoneIds": target.zone_ids,
        "AvailabilityZones": [zone_name(region, z) for z in target.zone_ids],
        "Owner": aws_services.OWNER,
        "BaseEndpointDnsNames": [service.base_dns_name(region, endpoint_type)],
        "VpcEndpointPolicySupported": True,
        "AcceptanceRequired": False,
        "ManagesVpcEndpoints": False,
        "Tags": [],
        "SupportedIpAddressTypes": ["ipv4"],
    }
    if target.private_dns_name:
        detail["PrivateDnsName"] = target.private_dns_name
        detail["PrivateDnsNames"] = [{"PrivateDnsName": target.private_dns_name}]
        detail["PrivateDnsNameVerificationState"] = "verified"
    return detail


def aws_details(region: str) -> list[dict]:
    return [render_aws_detail(s, region, t) for s in aws_services.SERVICES for t in s.types]


# Validation ----------------------------------------------------------------------------

def check_load_balancers(tx: Transaction, ctx: RequestContext, arns: list[str],
                         service_id: str | None = None) -> list[LoadBalancer]:
    """The caller's Network Load Balancers named by `arns`, not used by another service."""
    found = []
    for arn in arns:
        lb = find_owned(tx, ctx, LoadBalancer, arn)
        if lb is None:
            # AWS's exact text is unconfirmed; the code is InvalidParameter.
            raise InvalidParameter(f"Network load balancer '{arn}' does not exist.")
        if lb.type != "network":
            raise InvalidParameter(f"Load balancer '{arn}' is not a Network Load Balancer.")
        for other in tx.list(EndpointService, region=ctx.region):
            if other.id != service_id and arn in other.network_load_balancer_arns:
                raise InvalidParameter(
                    f"Network load balancer '{arn}' is already associated with another VPC Endpoint Service."
                )
        found.append(lb)
    return found


def check_ip_types(types: list[str], lbs: list[LoadBalancer]) -> list[str]:
    for t in types:
        if t not in IP_TYPES:
            raise InvalidParameter(f"Invalid supported IP address type '{t}'. Valid types: ipv4, ipv6.")
    if not types:
        raise InvalidParameter("At least one supported IP address type is required.")
    if "ipv6" in types:
        for lb in lbs:
            if lb.ip_address_type != "dualstack":
                raise InvalidParameter(
                    f"Load balancer '{lb.id}' must be dualstack to support the IP address type ipv6."
                )
    return list(dict.fromkeys(types))


def dns_configuration(name: str) -> dict:
    """A new private DNS name: to be verified by a TXT record (see StartVpcEndpointServicePrivateDnsVerification)."""
    return {
        "State": "pendingVerification",
        "Type": "TXT",
        "Name": "_" + random_lower_alnum(20),
        "Value": "vpce:" + random_lower_alnum(20),
    }


def check_dns_name(name: str) -> str:
    labels = name.rstrip(".").split(".")
    if len(labels) < 2 or any(not l or len(l) > 63 for l in labels) or len(name) > 255:
        raise InvalidParameter(f"Invalid private DNS name '{name}'.")
    return name.rstrip(".").lower()


# Configurations -----------------------------------------------------------------------

@operation("ec2", "CreateVpcEndpointServiceConfiguration")
def create_service(ctx: RequestContext, req: dict) -> dict:
    if req.get("GatewayLoadBalancerArns"):
        raise InvalidParameter("vpclab does not support Gateway Load Balancer endpoint services.")
    arns = list(dict.fromkeys(req.get("NetworkLoadBalancerArns") or []))
    if not arns:
        raise InvalidParameter("At least one Network Load Balancer ARN or Gateway Load Balancer ARN is required.")
    token = req.get("ClientToken")
    with ctx.write() as tx:
        if token:
            for old in tx.list(EndpointService, ctx.account, ctx.region, client_token=token):
                return {"ServiceConfiguration": render_configuration(tx, old), "ClientToken": token}
        lbs = check_load_balancers(tx, ctx, arns)
        ip_types = check_ip_types(req.get("SupportedIpAddressTypes") or ["ipv4"], lbs)
        service_id = new_id("vpce-svc")
        dns_name = req.get("PrivateDnsName")
        svc = EndpointService(
            id=service_id,
            account=ctx.account,
            region=ctx.region,
            created=ctx.now.timestamp(),
            tags=tags_from_specs(req.get("TagSpecifications"), "vpc-endpoint-service"),
            service_name=service_name_for(ctx.region, service_id),
            state="Available",
            acceptance_required=bool(req.get("AcceptanceRequired", False)),
            network_load_balancer_arns=arns,
            supported_ip_address_types=ip_types,
            private_dns_name=check_dns_name(dns_name) if dns_name else None,
            private_dns_name_configuration=dns_configuration(dns_name) if dns_name else None,
            client_token=token or "",
        )
        tx.put(svc)
        out = render_configuration(tx, svc)
    return {"ServiceConfiguration": out, "ClientToken": token}


CONFIG_FILTERS = {
    "service-name": lambda s: s.service_name,
    "service-id": lambda s: s.id,
    "service-state": lambda s: s.state,
    "supported-ip-address-types": lambda s: s.supported_ip_address_types,
}


@operation("ec2", "DescribeVpcEndpointServiceConfigurations")
def describe_services(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        services = SERVICE.select(tx.list(EndpointService, ctx.account, ctx.region), req.get("ServiceIds"))
        page, token = filter_and_page(services, req.get("Filters"), CONFIG_FILTERS, tags=lambda s: s.tags,
                                      max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
        out = [render_configuration(tx, s) for s in page]
    return {"ServiceConfigurations": out, "NextToken": token}


@operation("ec2", "ModifyVpcEndpointServiceConfiguration")
def modify_service(ctx: RequestContext, req: dict) -> dict:
    if req.get("AddGatewayLoadBalancerArns") or req.get("RemoveGatewayLoadBalancerArns"):
        raise InvalidParameter("vpclab does not support Gateway Load Balancer endpoint services.")
    if req.get("PrivateDnsName") and req.get("RemovePrivateDnsName"):
        raise InvalidParameterCombination("PrivateDnsName and RemovePrivateDnsName cannot both be specified.")
    with ctx.write() as tx:
        svc = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        if "AcceptanceRequired" in req:
            svc.acceptance_required = bool(req["AcceptanceRequired"])
        arns = list(svc.network_load_balancer_arns)
        added = [a for a in req.get("AddNetworkLoadBalancerArns") or () if a not in arns]
        check_load_balancers(tx, ctx, added, svc.id)
        arns += list(dict.fromkeys(added))
        for arn in req.get("RemoveNetworkLoadBalancerArns") or ():
            if arn not in arns:
                raise InvalidParameter(f"Network load balancer '{arn}' is not associated with the service {svc.id}.")
            arns.remove(arn)
        if not arns:
            raise InvalidParameter("An endpoint service must have at least one Network Load Balancer.")
        svc.network_load_balancer_arns = arns
        types = list(svc.supported_ip_address_types)
        types += [t for t in req.get("AddSupportedIpAddressTypes") or () if t not in types]
        types = [t for t in types if t not in (req.get("RemoveSupportedIpAddressTypes") or ())]
        lbs = [tx.get(LoadBalancer, a) for a in arns]
        svc.supported_ip_address_types = check_ip_types(types, [lb for lb in lbs if lb is not None])
        if req.get("PrivateDnsName"):
            name = check_dns_name(req["PrivateDnsName"])
            if name != svc.private_dns_name:
                svc.private_dns_name = name
                svc.private_dns_name_configuration = dns_configuration(name)
        if req.get("RemovePrivateDnsName"):
            svc.private_dns_name = None
            svc.private_dns_name_configuration = None
        tx.put(svc)
    return {"Return": True}


def _unsuccessful(resource_id: str, code: str, message: str) -> dict:
    return {"ResourceId": resource_id, "Error": {"Code": code, "Message": message}}


@operation("ec2", "DeleteVpcEndpointServiceConfigurations")
def delete_services(ctx: RequestContext, req: dict) -> dict:
    """Deletes at once (AWS passes through `Deleting`); refuses services with live connections.

    A service with connections `pendingAcceptance`, `pending` or `available` stays, reported
    as an Unsuccessful item. Rejected connections do not hold it: their endpoints stay with
    their consumers (as `rejected`); deleted ones are forgotten with the service.
    """
    unsuccessful = []
    with ctx.write() as tx:
        for sid in req["ServiceIds"]:
            svc = find_owned(tx, ctx, EndpointService, sid)
            if svc is None:
                unsuccessful.append(_unsuccessful(
                    sid, "InvalidVpcEndpointService.NotFound",
                    f"The VpcEndpointService Id '{sid}' does not exist"))
                continue
            connections = connections_of(tx, svc)
            if any(ep.state in CONNECTED_STATES for ep in connections):
                unsuccessful.append(_unsuccessful(
                    sid, "ExistingVpcEndpointConnections",
                    "Service has existing active VPC Endpoint connections!"))
                continue
            for ep in connections:
                if ep.state == "deleted":
                    tx.delete(ep)
            connection_notifications.delete_attached(tx, service_id=svc.id)
            tx.delete(svc)
    return {"Unsuccessful": unsuccessful}


@operation("ec2", "StartVpcEndpointServicePrivateDnsVerification")
def start_private_dns_verification(ctx: RequestContext, req: dict) -> dict:
    """Marks the service's private DNS name `verified` at once.

    AWS looks up the TXT record (`Name` = `Value` of PrivateDnsNameConfiguration) in the
    public DNS of the domain. vpclab has no public DNS to check, so it takes the
    provider's word for it.
    """
    with ctx.write() as tx:
        svc = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        if not svc.private_dns_name:
            raise InvalidParameter(f"The service {svc.id} does not have a private DNS name.")
        config = dict(svc.private_dns_name_configuration or dns_configuration(svc.private_dns_name))
        config["State"] = "verified"
        svc.private_dns_name_configuration = config
        tx.put(svc)
    return {"ReturnValue": True}


# Permissions ---------------------------------------------------------------------------

def render_principal(svc: EndpointService, entry: dict) -> dict:
    return {
        "PrincipalType": entry["type"],
        "Principal": entry["principal"],
        "ServicePermissionId": entry["permission_id"],
        "ServiceId": svc.id,
    }


PRINCIPAL_FILTERS = {
    "principal": lambda p: p["Principal"],
    "principal-type": lambda p: p["PrincipalType"],
}


@operation("ec2", "DescribeVpcEndpointServicePermissions")
def describe_permissions(ctx: RequestContext, req: dict) -> dict:
    with ctx.read() as tx:
        svc = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        items = [render_principal(svc, e) for e in svc.allowed_principals]
    page, token = filter_and_page(items, req.get("Filters"), PRINCIPAL_FILTERS,
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    return {"AllowedPrincipals": page, "NextToken": token}


@operation("ec2", "ModifyVpcEndpointServicePermissions")
def modify_permissions(ctx: RequestContext, req: dict) -> dict:
    """Adds and removes allowed principals. Removing one leaves its endpoints connected."""
    add = list(dict.fromkeys(req.get("AddAllowedPrincipals") or []))
    remove = set(req.get("RemoveAllowedPrincipals") or [])
    types = {arn: principal_type(arn) for arn in add}
    with ctx.write() as tx:
        svc = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        entries = [e for e in svc.allowed_principals if e["principal"] not in remove]
        known = {e["principal"]: e for e in entries}
        added = []
        for arn in add:
            entry = known.get(arn)
            if entry is None:
                entry = {"principal": arn, "permission_id": new_id("vpce-svc-perm"), "type": types[arn]}
                entries.append(entry)
                known[arn] = entry
            added.append(render_principal(svc, entry))
        svc.allowed_principals = entries
        tx.put(svc)
    return {"AddedPrincipals": added or None, "ReturnValue": True}


# The consumer's view -------------------------------------------------------------------

DETAIL_FILTERS = {
    "service-name": lambda d: d["ServiceName"],
    "service-type": lambda d: [t["ServiceType"] for t in d["ServiceType"]],
    "service-region": lambda d: d["ServiceRegion"],
    "owner": lambda d: d["Owner"],
    "supported-ip-address-types": lambda d: d["SupportedIpAddressTypes"],
}


@operation("ec2", "DescribeVpcEndpointServices")
def describe_endpoint_services(ctx: RequestContext, req: dict) -> dict:
    """The endpoint services the caller may use: its own and those that allow it.

    Naming one it may not see is InvalidServiceName (the console's "Service name could
    not be verified").
    """
    regions = req.get("ServiceRegions")
    with ctx.read() as tx:
        visible = [s for s in tx.list(EndpointService, region=ctx.region) if is_allowed(s, ctx.account)]
        details = [render_detail(tx, s, ctx.account) for s in visible]
    # AWS's order: by service name (an AWS service's Gateway entry before its Interface one).
    details = sorted(aws_details(ctx.region) + details, key=lambda d: d["ServiceName"])
    names = req.get("ServiceNames")
    if names:
        known = {d["ServiceName"] for d in details}
        for name in names:
            if name not in known:
                raise service_not_found_by_name(name)
        details = [d for d in details if d["ServiceName"] in set(names)]
    if regions:
        details = [d for d in details if d["ServiceRegion"] in regions]
    tags = {d["ServiceId"]: {t["Key"]: t["Value"] for t in d["Tags"]} for d in details}
    page, token = filter_and_page(details, req.get("Filters"), DETAIL_FILTERS,
                                  tags=lambda d: tags[d["ServiceId"]],
                                  max_results=req.get("MaxResults"), next_token=req.get("NextToken"))
    # One name per service, though S3 and DynamoDB have two entries (unconfirmed: AWS's
    # examples list each name once).
    names_out = list(dict.fromkeys(d["ServiceName"] for d in page))
    return {"ServiceNames": names_out, "ServiceDetails": page, "NextToken": token}


@operation("ec2", "ModifyVpcEndpointServicePayerResponsibility")
def modify_payer_responsibility(ctx: RequestContext, req: dict) -> dict:
    """Only `ServiceOwner` exists (the service's owner pays for its endpoints), so this
    only confirms it; any other value is AWS's InvalidParameterValue."""
    value = req.get("PayerResponsibility")
    if value != "ServiceOwner":
        # Unconfirmed wording; AWS's form for a value outside a parameter's enum.
        raise InvalidParameterValue(f"Value ({value}) for parameter PayerResponsibility is invalid.")
    with ctx.write() as tx:
        svc = get_owned(tx, ctx, EndpointService, req["ServiceId"], SERVICE)
        svc.payer_responsibility = value
        tx.put(svc)
    return {"ReturnValue": True}
