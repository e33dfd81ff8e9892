"""What the PrivateLink areas share: principals and who may see a service, zones, DNS names.

Endpoint services belong to the provider's account; endpoints to the consumer's. The only
way an account learns of another's resource is an endpoint service it is an allowed
principal of (and, for the provider, the endpoints connected to its service).
"""
from __future__ import annotations

import re
import secrets
import string

from ...model.ec2 import Subnet
from ...model.elbv2 import LoadBalancer
from ...model.privatelink import Endpoint, EndpointService
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError
from ...store import Transaction
from ..ec2.regions import zone_by_id, zone_by_name


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
    """The endpoint service called `name`, if the caller may see it; else InvalidServiceName.

    Only endpoint services made in vpclab have names here: AWS's own service names
    (`com.amazonaws.<region>.s3`, …) are unknown to vpclab.
    """
    for service in tx.list(EndpointService, region=ctx.region, service_name=name):
        if is_allowed(service, ctx.account):
            return service
    raise service_not_found_by_name(name)


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
