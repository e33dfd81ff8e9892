"""What the PrivateLink areas share: principals and who may see a service, zones, DNS names.

Endpoint services belong to the provider's account; endpoints to the consumer's. The only
way an account learns of another's resource is an endpoint service it is an allowed
principal of (and, for the provider, the endpoints connected to its service).
"""
from __future__ import annotations

import re
import secrets
import string
from dataclasses import dataclass

from ...model import aws_services
from ...model.ec2 import Subnet
from ...model.elbv2 import LoadBalancer
from ...model.privatelink import Endpoint, EndpointService
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError, InvalidParameter
from ...store import Transaction
from ..ec2.regions import zone_by_id, zone_by_name, zones

#: The account AWS names as RequesterId of endpoint ENIs (a service account, not the caller).
ENDPOINT_REQUESTER_ID = "727180483921"

#: HostedZoneId of the `*.vpce.amazonaws.com` names, per region. vpclab serves no public DNS
#: zone, so these are fixed, plausible values (one per region, as AWS has), not AWS's own.
VPCE_HOSTED_ZONES = {
    "us-east-1": "Z7HUB22UULQXV",
    "us-west-2": "Z1YSA3EXCYUU9Z",
    "eu-west-1": "Z38GZ743OKFT7T",
    "ap-south-1": "Z2KVTB3ZLFM7JR",
}


def hosted_zone_id(region: str) -> str:
    return VPCE_HOSTED_ZONES.get(region, "Z7HUB22UULQXV")


def random_lower_alnum(n: int) -> str:
    alphabet = string.ascii_lowercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(n))


def service_name_for(region: str, service_id: str) -> str:
    return f"com.amazonaws.vpce.{region}.{service_id}"


def base_dns_name(region: str, service_id: str) -> str:
    return f"{service_id}.{region}.vpce.amazonaws.com"


# Principals ----------------------------------------------------------------------------

_PRINCIPAL = re.compile(r"arn:aws:iam::(\d{12}):(root|user/[\w+=,.@-]{1,64}|role/[\w+=,.@-]{1,64})")


class InvalidPrincipal(AwsError):
    code = "InvalidPrincipal"


def principal_type(arn: str) -> str:
    """`All`, `Account`, `User` or `Role`; InvalidPrincipal for anything else.

    AWS takes `*` and the root, user and role ARNs of an account, without paths; an STS
    assumed-role ARN, a path or any other text is refused.
    """
    if arn == "*":
        return "All"
    match = _PRINCIPAL.fullmatch(arn)
    if match is None:
        raise InvalidPrincipal(f"Invalid Principal: '{arn}'")
    kind = match.group(2)
    if kind == "root":
        return "Account"
    return "User" if kind.startswith("user/") else "Role"


def principal_account(arn: str) -> str | None:
    match = _PRINCIPAL.fullmatch(arn)
    return match.group(1) if match else None


def is_allowed(service: EndpointService, account: str) -> bool:
    """May `account` see the service and create endpoints to it?

    The provider always may; others when `*`, their root ARN, or any user or role ARN of
    their account is an allowed principal. vpclab callers are accounts (the access key
    names the account, there are no IAM identities), so a user/role principal admits the
    whole account it belongs to: the most a caller of that account could be allowed.
    """
    if service.account == account:
        return True
    for entry in service.allowed_principals:
        principal = entry["principal"]
        if principal == "*" or principal_account(principal) == account:
            return True
    return False


class InvalidServiceName(AwsError):
    code = "InvalidServiceName"


def service_not_found_by_name(name: str) -> AwsError:
    return InvalidServiceName(f"The Vpc Endpoint Service '{name}' does not exist")


def visible_service(tx: Transaction, ctx: RequestContext, name: str) -> EndpointService:
    """The endpoint service of an account called `name`, if the caller may see it; else
    InvalidServiceName. (AWS's own services are `endpoint_target`'s.)"""
    for service in tx.list(EndpointService, region=ctx.region, service_name=name):
        if is_allowed(service, ctx.account):
            return service
    raise service_not_found_by_name(name)


# What an endpoint connects to ------------------------------------------------------------

@dataclass(frozen=True)
class Target:
    """The service an endpoint connects to, as the endpoint code reads it: an endpoint
    service of an account (stored) or an AWS service of the catalog (`aws` is its entry;
    nothing stored, no provider sees the endpoint).

    `dns_tail` is what follows an endpoint's own label in its DNS names (the service id's
    or the AWS service's `vpce` name) and `dns_stem` what precedes it (`*.` for S3).
    `default_private_dns` is PrivateDnsEnabled when the request leaves it out.
    """

    service_name: str
    service_id: str
    types: tuple[str, ...]
    account: str
    acceptance_required: bool
    private_dns_name: str | None
    private_dns_verified: bool
    supported_ip_address_types: list[str]
    zone_ids: list[str]
    dns_tail: str
    dns_stem: str = ""
    default_private_dns: bool | None = None
    aws: aws_services.AwsService | None = None


def aws_target(service: aws_services.AwsService, region: str, endpoint_type: str) -> Target:
    """An AWS service as an endpoint's target: every zone of the region, IPv4, no
    acceptance; its private DNS name (if it offers one) is AWS's, always verified, and on
    unless the request says otherwise."""
    private_name = service.offered_private_dns_name(region) if endpoint_type == "Interface" else None
    return Target(
        service_name=service.service_name(region),
        service_id=service.service_id(region, endpoint_type),
        types=service.types,
        account=aws_services.OWNER,
        acceptance_required=False,
        private_dns_name=private_name,
        private_dns_verified=True,
        supported_ip_address_types=["ipv4"],
        zone_ids=[z.zone_id for z in sorted(zones(region), key=lambda z: z.name)],
        dns_tail=service.base_dns_name(region, "Interface"),
        dns_stem=service.endpoint_dns_stem(),
        default_private_dns=private_name is not None,
        aws=service,
    )


def service_target(tx: Transaction, service: EndpointService) -> Target:
    config = service.private_dns_name_configuration or {}
    return Target(
        service_name=service.service_name,
        service_id=service.id,
        types=(service.service_type,),
        account=service.account,
        acceptance_required=service.acceptance_required,
        private_dns_name=service.private_dns_name,
        private_dns_verified=config.get("State") == "verified",
        supported_ip_address_types=service.supported_ip_address_types,
        zone_ids=service_zone_ids(tx, service),
        dns_tail=base_dns_name(service.region, service.id),
    )


def endpoint_target(tx: Transaction, ctx: RequestContext, name: str, endpoint_type: str) -> Target:
    """What CreateVpcEndpoint's ServiceName names for the caller, of the type asked for.

    An AWS service of another region, or one the catalog lacks, is InvalidServiceName,
    as a service the caller may not see; a type the service does not offer is AWS's
    InvalidParameter naming the types it does."""
    found = aws_services.lookup(name)
    if found is not None and found[1] == ctx.region:
        service, region = found
        if endpoint_type not in service.types:
            raise type_mismatch(endpoint_type, service.types)
        return aws_target(service, region, endpoint_type)
    if name.startswith(aws_services.PREFIX) and not name.startswith(aws_services.PREFIX + "vpce."):
        raise service_not_found_by_name(name)
    target = service_target(tx, visible_service(tx, ctx, name))
    if endpoint_type not in target.types:
        raise type_mismatch(endpoint_type, target.types)
    return target


def type_mismatch(endpoint_type: str, types: tuple[str, ...]) -> AwsError:
    return InvalidParameter(
        f"Endpoint type ({endpoint_type}) does not match available service types ([{', '.join(types)}])."
    )


def target_of(tx: Transaction, ep: Endpoint) -> Target | None:
    """The target an existing endpoint connects to (None: its endpoint service is gone)."""
    found = aws_services.lookup(ep.service_name)
    if found is not None and ep.service_account == aws_services.OWNER:
        return aws_target(found[0], found[1], ep.endpoint_type)
    service = tx.get(EndpointService, ep.service_id)
    return service_target(tx, service) if service is not None else None


# Zones ---------------------------------------------------------------------------------

def service_zone_ids(tx: Transaction, service: EndpointService) -> list[str]:
    """The zone ids the service has: those of its load balancers' mappings."""
    ids: set[str] = set()
    for arn in service.network_load_balancer_arns:
        lb = tx.get(LoadBalancer, arn)
        if lb is None:
            continue
        for mapping in lb.mappings:
            zid: str | None = mapping.zone_id
            if not zid and mapping.zone:
                zone = zone_by_name(service.region, mapping.zone)
                zid = zone.zone_id if zone else None
            if zid:
                ids.add(zid)
    return sorted(ids, key=lambda z: zone_name(service.region, z))


def zone_name(region: str, zone_id: str) -> str:
    """The zone name of a zone id in `region` (names are the same for every vpclab account)."""
    zone = zone_by_id(region, zone_id)
    return zone.name if zone else zone_id


def subnet_zone_id(subnet: Subnet) -> str:
    if subnet.availability_zone_id:
        return subnet.availability_zone_id
    zone = zone_by_name(subnet.region, subnet.availability_zone)
    return zone.zone_id if zone else ""


def connections_of(tx: Transaction, service: EndpointService) -> list[Endpoint]:
    """Every endpoint (of any account) that connects to the service, deleted ones included."""
    return tx.list(Endpoint, region=service.region, service_id=service.id)
