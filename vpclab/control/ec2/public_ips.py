"""Public IPv4 addresses: the pool they come from, and who holds one.

There is one internet, so an address is unique across the whole store (every account
and region): it is held by an ENI's `association` (the one record both planes read) or
allocated as an `ElasticIp`, never both to two holders. The pool hands out random
addresses of `model.internet`'s range (`assignable`), as EC2's look random.

An ENI's address is EC2's own (`ip_owner_id` "amazon", an instance's auto-assigned
address; "amazon-elb", an internet-facing NLB node's) or an Elastic IP's, whose
allocation and association ids it then carries. An Elastic IP's own record repeats the
association while it lasts; `holder` is what decides whether it does, from the ENI.
"""
from __future__ import annotations

import ipaddress
import random

from ...model.ec2 import ElasticIp, Instance, NetworkInterface, PublicIpAssociation
from ...model.internet import PUBLIC_RANGE, assignable
from ...protocol.errors import AwsError
from ...store import Transaction
from ..common.ids import new_id

#: EC2's owner of an auto-assigned instance address, and ELB's of an NLB node's.
AMAZON = "amazon"
AMAZON_ELB = "amazon-elb"

_FIRST = int(PUBLIC_RANGE.network_address)
_LAST = int(PUBLIC_RANGE.broadcast_address)


def addresses_in_use(tx: Transaction) -> set[str]:
    """Every public address held anywhere: on an ENI, or allocated as an Elastic IP."""
    held = {e.association.public_ip for e in tx.list(NetworkInterface, where=lambda e: e.association is not None)
            if e.association is not None}
    return held | {eip.public_ip for eip in tx.list(ElasticIp)}


def allocate_public_ip(tx: Transaction, avoid: frozenset[str] = frozenset()) -> str:
    """A free public address, at random (and not one of `avoid` if it can: the address a
    restarted instance just gave up)."""
    used = addresses_in_use(tx)
    for _ in range(64):
        candidate = ipaddress.IPv4Address(random.randint(_FIRST, _LAST))
        text = str(candidate)
        if assignable(candidate) and text not in used and text not in avoid:
            return text
    for value in range(_FIRST, _LAST + 1):
        candidate = ipaddress.IPv4Address(value)
        if assignable(candidate) and str(candidate) not in used:
            return str(candidate)
    raise AwsError("There are no free public IPv4 addresses left.", code="InsufficientAddressCapacity")


def assign_amazon_address(tx: Transaction, eni: NetworkInterface, owner: str = AMAZON,
                          avoid: frozenset[str] = frozenset()) -> None:
    """Give `eni` (a copy from `tx`, stored by the caller) an address of EC2's own."""
    eni.association = PublicIpAssociation(public_ip=allocate_public_ip(tx, avoid), ip_owner_id=owner)


def release_amazon_address(eni: NetworkInterface) -> str | None:
    """Take back `eni`'s address if it is EC2's own (an Elastic IP stays); the address
    given up, or None."""
    association = eni.association
    if association is None or association.allocation_id is not None:
        return None
    eni.association = None
    return association.public_ip


def holder(tx: Transaction, eip: ElasticIp) -> NetworkInterface | None:
    """The ENI `eip` is associated with, if it is: the ENI's association says so."""
    if not eip.network_interface_id:
        return None
    eni = tx.get(NetworkInterface, eip.network_interface_id)
    if eni is None or eni.association is None or eni.association.allocation_id != eip.id:
        return None
    return eni


def instance_of(eni: NetworkInterface) -> str | None:
    """The instance `eni` is attached to, if any."""
    return (eni.attachment or {}).get("instance_id")


def associate(tx: Transaction, eip: ElasticIp, eni: NetworkInterface) -> str:
    """Put `eip` on `eni` (both copies from `tx`; both stored here): the ENI gives up the
    address it had (EC2's own is released, another Elastic IP is disassociated and stays
    allocated), and `eip` leaves the ENI it was on. Returns the association id."""
    current = holder(tx, eip)
    if current is not None and current.id == eni.id and eip.association_id:
        return eip.association_id
    if current is not None:
        dissociate(tx, eip, renew=True)
    if eni.association is not None and eni.association.allocation_id:
        other = tx.get(ElasticIp, eni.association.allocation_id)
        if other is not None:
            _forget(other)
            tx.put(other)
    association_id = new_id("eipassoc")
    eni.association = PublicIpAssociation(public_ip=eip.public_ip, ip_owner_id=eip.account,
                                          allocation_id=eip.id, association_id=association_id)
    tx.put(eni)
    eip.association_id = association_id
    eip.network_interface_id = eni.id
    eip.private_ip = eni.private_ip
    eip.instance_id = instance_of(eni)
    tx.put(eip)
    return association_id


def dissociate(tx: Transaction, eip: ElasticIp, renew: bool = True) -> None:
    """Take `eip` (a copy from `tx`, stored here) off its ENI. With `renew`, an instance
    ENI that had an address of EC2's own before gets a new one while its instance runs,
    as EC2 does after DisassociateAddress."""
    eni = holder(tx, eip)
    if eni is not None:
        eni.association = None
        if renew and eni.auto_public_ip and _runs(tx, instance_of(eni)):
            assign_amazon_address(tx, eni, avoid=frozenset({eip.public_ip}))
        tx.put(eni)
    _forget(eip)
    tx.put(eip)


def forget_eni(tx: Transaction, eni: NetworkInterface) -> None:
    """Before `eni` is deleted: the Elastic IP on it (if any) becomes unassociated; an
    address of EC2's own simply goes with the ENI."""
    association = eni.association
    if association is not None and association.allocation_id:
        eip = tx.get(ElasticIp, association.allocation_id)
        if eip is not None and eip.network_interface_id == eni.id:
            _forget(eip)
            tx.put(eip)
    eni.association = None


def _forget(eip: ElasticIp) -> None:
    eip.association_id = None
    eip.network_interface_id = None
    eip.private_ip = None
    eip.instance_id = None


def _runs(tx: Transaction, instance_id: str | None) -> bool:
    if not instance_id:
        return False
    inst = tx.get(Instance, instance_id)
    return inst is not None and inst.desired_state == "running" and inst.state in ("pending", "running")
