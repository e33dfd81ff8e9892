"""Private IP addresses in subnets, and the network interfaces that hold them.

Every address in use in a subnet belongs to a network interface (an instance's eth0, an
NLB node, an endpoint ENI), so the ENIs of a subnet are the allocation table: there is no
second list to drift. AWS never hands out a subnet's first four addresses or its last.
"""
from __future__ import annotations

import ipaddress
import random
import secrets
from collections.abc import Collection

from ...model.ec2 import NetworkInterface, Subnet
from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError, InvalidParameterValue
from ...store import Transaction
from ..common.ids import new_id

RESERVED_AT_START = 4
RESERVED_AT_END = 1


class InsufficientFreeAddresses(AwsError):
    code = "InsufficientFreeAddressesInSubnet"


def usable_range(cidr: str) -> tuple[int, int]:
    """First and last assignable address of a subnet, as integers."""
    net = ipaddress.IPv4Network(cidr)
    return int(net.network_address) + RESERVED_AT_START, int(net.broadcast_address) - RESERVED_AT_END


def used_addresses(tx: Transaction, subnet: Subnet) -> set[str]:
    return {eni.private_ip for eni in tx.list(NetworkInterface, subnet_id=subnet.id)}


def available_count(tx: Transaction, subnet: Subnet) -> int:
    first, last = usable_range(subnet.cidr_block)
    return (last - first + 1) - len(used_addresses(tx, subnet))


def allocate_ip(tx: Transaction, subnet: Subnet, requested: str | None = None,
                avoid: Collection[str] = ()) -> str:
    """A free address of `subnet` (the requested one, if given and free), other than
    those in `avoid` if it can (addresses of another VPC that vpclab's data plane must
    tell apart from this one; AWS never shows which addresses it picks, so skipping a
    few is invisible)."""
    first, last = usable_range(subnet.cidr_block)
    used = used_addresses(tx, subnet)
    if requested is not None:
        try:
            value = int(ipaddress.IPv4Address(requested))
        except ValueError:
            raise InvalidParameterValue(f"Invalid private IP address '{requested}'") from None
        if not first <= value <= last:
            raise InvalidParameterValue(
                f"Address {requested} does not fall within the subnet's address range"
            )
        if requested in used:
            raise AwsError(f"Address {requested} is in use.", code="InvalidIPAddress.InUse")
        return requested
    size = last - first + 1
    if len(used) >= size:
        raise InsufficientFreeAddresses(
            f"There are not enough free addresses in subnet '{subnet.id}' to satisfy the requested number of instances."
        )
    # AWS picks addresses spread over the subnet; a few random probes find one fast
    # even in a nearly full subnet, and a scan settles the rest.
    for _ in range(32):
        candidate = str(ipaddress.IPv4Address(random.randint(first, last)))
        if candidate not in used and candidate not in avoid:
            return candidate
    for allowed in (lambda a: a not in avoid, lambda a: True):
        for value in range(first, last + 1):
            candidate = str(ipaddress.IPv4Address(value))
            if candidate not in used and allowed(candidate):
                return candidate
    raise InsufficientFreeAddresses(f"There are not enough free addresses in subnet '{subnet.id}'.")


def new_mac() -> str:
    return "02:" + ":".join(secrets.token_hex(1) for _ in range(5))


def create_network_interface(
    tx: Transaction,
    ctx: RequestContext,
    subnet: Subnet,
    *,
    description: str = "",
    interface_type: str = "interface",
    security_group_ids: list[str] | None = None,
    requester_managed: bool = False,
    requester_id: str | None = None,
    owner_kind: str = "",
    owner_id: str = "",
    private_ip: str | None = None,
    attachment: dict | None = None,
    account: str | None = None,
    avoid: Collection[str] = (),
) -> NetworkInterface:
    """Make and store an ENI with an address from `subnet` (not in `avoid`, if it can)."""
    eni = NetworkInterface(
        id=new_id("eni"),
        account=account or ctx.account,
        region=ctx.region,
        created=ctx.now.timestamp(),
        vpc_id=subnet.vpc_id,
        subnet_id=subnet.id,
        availability_zone=subnet.availability_zone,
        private_ip=allocate_ip(tx, subnet, private_ip, avoid),
        mac_address=new_mac(),
        description=description,
        interface_type=interface_type,
        security_group_ids=list(security_group_ids or []),
        requester_managed=requester_managed,
        requester_id=requester_id,
        status="in-use" if (attachment or requester_managed) else "available",
        attachment=attachment,
        owner_kind=owner_kind,
        owner_id=owner_id,
    )
    tx.put(eni)
    return eni
