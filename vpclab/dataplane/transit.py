"""Transit /30s: point-to-point links between a consumer VPC and a provider's NLB node.

Every endpoint ENI that forwards, or waits for acceptance, gets one veth pair, consumer VPC namespace <-> the NLB
node in the same zone id, numbered with a /30 out of 100.64.0.0/10 (RFC 6598 shared
address space: never a VPC's or the host's own): network ``100.64.0.0 + 4*index``, the
consumer side ``.1``, the node side ``.2``. One pool serves the whole vpclab instance, so
the /30s of endpoints from many VPCs can meet in one node without clashing.

Allocations are persisted (`model.dataplane.TransitLink`, keyed by ENI id) so that a
restart plans exactly the links that exist; they are made and freed only by
`desired_endpoints.observe`, i.e. after a pass:

- allocate: an ENI that wants a link and has no record gets the lowest free index; its
  link appears in the next pass's plan;
- free: a record whose ENI no longer wants a link is deleted only after a pass applied a
  plan without that link, so an index is reused only once its link is gone, and a live
  link is never renumbered.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from ..model.dataplane import TransitLink
from ..store import Transaction

POOL = ipaddress.IPv4Network("100.64.0.0/10")
CAPACITY = POOL.num_addresses // 4  # 2**20 links


def network_of(index: int) -> ipaddress.IPv4Network:
    if not 0 <= index < CAPACITY:
        raise ValueError(f"transit index {index} outside 0..{CAPACITY - 1}")
    return ipaddress.IPv4Network((int(POOL.network_address) + 4 * index, 30))


def consumer_address(index: int) -> str:
    """The consumer VPC's end of link `index` (the source its SNAT gives)."""
    return str(network_of(index).network_address + 1)


def node_address(index: int) -> str:
    """The NLB node's end of link `index` (what the consumer DNATs to)."""
    return str(network_of(index).network_address + 2)


def lowest_free(used: Iterable[int]) -> int:
    taken = set(used)
    for i in range(len(taken) + 1):
        if i not in taken:
            return i
    raise AssertionError("unreachable")


class Allocator:
    """Allocates and frees transit indexes inside one store transaction."""

    def __init__(self, tx: Transaction):
        self.tx = tx
        self._links = {link.id: link for link in tx.list(TransitLink)}
        self._free: list[int] | None = None
        self._next = 0

    def get(self, eni_id: str) -> TransitLink | None:
        return self._links.get(eni_id)

    def _take(self) -> int:
        # Lowest free index; one sweep per transaction, then counting upwards.
        if self._free is None:
            used = {link.index for link in self._links.values()}
            top = max(used, default=-1)
            self._free = sorted(set(range(top + 1)) - used, reverse=True)
            self._next = top + 1
        if self._free:
            return self._free.pop()
        index = self._next
        self._next += 1
        if index >= CAPACITY:
            raise RuntimeError("transit address pool 100.64.0.0/10 exhausted")
        return index

    def allocate(self, eni_id: str, endpoint_id: str, account: str, region: str, now: float) -> TransitLink:
        link = self._links.get(eni_id)
        if link is not None:
            return link
        link = TransitLink(id=eni_id, account=account, region=region, index=self._take(),
                           endpoint_id=endpoint_id, created=now)
        self.tx.put(link)
        self._links[eni_id] = link
        return link

    def free(self, eni_id: str) -> None:
        link = self._links.pop(eni_id, None)
        if link is not None:
            self.tx.delete(link)
            if self._free is not None:
                self._free.append(link.index)
                self._free.sort(reverse=True)
