"""Finding a caller's own resource by id, with AWS's `.Malformed` / `.NotFound` errors.

Another account's resource is reported exactly as a missing one: accounts never learn
of each other's resources except where AWS lets them (an endpoint service's principals).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import TypeVar

from ...protocol.dispatch import RequestContext
from ...protocol.errors import AwsError
from ...store import Resource, Transaction
from .filters import by_ids
from .ids import is_well_formed

T = TypeVar("T", bound=Resource)
Item = TypeVar("Item")


class IdKind:
    """How AWS names one kind of id in its errors."""

    def __init__(self, prefix: str, stem: str, label: str, malformed_stem: str | None = None,
                 expecting: bool = False):
        self.prefix = prefix
        self.stem = stem  # e.g. InvalidVpcID
        self.label = label  # e.g. "vpc ID"
        # Security groups and their rules: a code stem of its own for a bad form, and the
        # message names the form expected.
        self.malformed_stem = malformed_stem or stem
        self.expecting = expecting

    def malformed(self, value: str) -> AwsError:
        hint = f' (expecting "{self.prefix}-...")' if self.expecting else ""
        return AwsError(f'Invalid id: "{value}"{hint}', code=f"{self.malformed_stem}.Malformed")

    def not_found(self, values: list[str] | str) -> AwsError:
        if isinstance(values, str):
            values = [values]
        shown = ", ".join(f"'{v}'" for v in values)
        noun = self.label if len(values) == 1 else self.label + "s"
        verb = "does" if len(values) == 1 else "do"
        return AwsError(f"The {noun} {shown} {verb} not exist", code=f"{self.stem}.NotFound")

    def check(self, value: str) -> None:
        if not is_well_formed(value, self.prefix):
            raise self.malformed(value)

    def select(self, items: Iterable[Item], ids: list[str] | None,
               id_of: Callable[[Item], str] | None = None) -> list[Item]:
        """The `items` a Describe call's ids name (all of them when it names none):
        `.Malformed` for an id not of this kind's form, then `.NotFound` naming every id
        that is not among `items`. `id_of`: an item's id (a resource's `id` by default;
        a rendered row's id member for kinds vpclab derives rather than stores)."""
        for rid in ids or ():
            self.check(rid)
        return by_ids(items, ids, id_of or attrgetter("id"), self.not_found)


VPC = IdKind("vpc", "InvalidVpcID", "vpc ID")
SUBNET = IdKind("subnet", "InvalidSubnetID", "subnet ID")
GROUP = IdKind("sg", "InvalidGroup", "security group", malformed_stem="InvalidGroupId", expecting=True)
GROUP_RULE = IdKind("sgr", "InvalidSecurityGroupRuleId", "security group rule ID", expecting=True)
INSTANCE = IdKind("i", "InvalidInstanceID", "instance ID")
ENI = IdKind("eni", "InvalidNetworkInterfaceID", "network interface")
KEY_PAIR = IdKind("key", "InvalidKeyPair", "key pair")
ENDPOINT = IdKind("vpce", "InvalidVpcEndpointId", "VpcEndpoint Id")
SERVICE = IdKind("vpce-svc", "InvalidVpcEndpointServiceId", "VpcEndpointService Id")
IMAGE = IdKind("ami", "InvalidAMIID", "image id")
INTERNET_GATEWAY = IdKind("igw", "InvalidInternetGatewayID", "internetGateway ID", malformed_stem="InvalidInternetGatewayId")
ROUTE_TABLE = IdKind("rtb", "InvalidRouteTableID", "routeTable ID", malformed_stem="InvalidRouteTableId")
ROUTE_TABLE_ASSOCIATION = IdKind("rtbassoc", "InvalidAssociationID", "association ID")
ALLOCATION = IdKind("eipalloc", "InvalidAllocationID", "allocation ID")
VOLUME = IdKind("vol", "InvalidVolume", "volume", malformed_stem="InvalidVolumeID")


def find_owned(tx: Transaction, ctx: RequestContext, cls: type[T], rid: str) -> T | None:
    """The caller's resource `rid`, or None: another account's (or region's) is as missing."""
    obj = tx.get(cls, rid)
    if obj is None or obj.account != ctx.account or obj.region != ctx.region:
        return None
    return obj


def get_owned(tx: Transaction, ctx: RequestContext, cls: type[T], rid: str, kind: IdKind) -> T:
    """The caller's resource `rid`, or AWS's error for a bad or unknown id."""
    kind.check(rid)
    obj = find_owned(tx, ctx, cls, rid)
    if obj is None:
        raise kind.not_found(rid)
    return obj


def get_all_owned(tx: Transaction, ctx: RequestContext, cls: type[T], ids: list[str], kind: IdKind) -> list[T]:
    """Each named resource; an error naming every missing id, as AWS lists them."""
    for rid in ids:
        kind.check(rid)
    found, missing = [], []
    for rid in ids:
        obj = find_owned(tx, ctx, cls, rid)
        if obj is None:
            missing.append(rid)
        else:
            found.append(obj)
    if missing:
        raise kind.not_found(missing)
    return found
