"""Endpoint links: one number per endpoint ENI link, and the kernel names it gives.

Every endpoint ENI that forwards, or waits for acceptance, gets one veth pair between its
subnet's bridge in the consumer VPC and the provider NLB node in the same zone id
(`endpoints.py`). Many links from VPCs with overlapping addresses meet in one
node, so each is told apart by its *index*, which numbers everything of the link:

- its two ends' names (`endpoints.consumer_link_name` / `node_link_name`);
- its connection-tracking zone (`zone`): flows from two consumer VPCs with the same
  addresses are two flows, not a clash;
- its packet mark (`mark`): set on the link's flows, so their replies (addressed to the
  consumer's address, which may equal any provider address) are routed by mark;
- its routing table (`table`) and the ip rule that selects it (`rule_priority`).

Indexes are persisted (`model.dataplane.TransitLink`, keyed by ENI id) so that a restart
plans exactly the links that exist; they are made and freed only by
`endpoints.observe`, i.e. after a pass:

- allocate: an ENI that wants a link and has no record gets the lowest free index; its
  link appears in the next pass's plan;
- free: a record whose ENI no longer wants a link is deleted only after a pass applied a
  plan without that link, so an index is reused only once its link is gone, and a live
  link is never renumbered.
"""
from __future__ import annotations

from ...kernel.topology import RULE_PRIORITY_MAIN
from ...model.dataplane import TransitLink
from ...store import Transaction

#: Bit that marks a packet (and its flow's ct mark) as an endpoint link's; the low bits
#: are the index. NLB flow-hash buckets (the other use of the mark) stay far below it.
MARK_BIT = 0x40000000
#: ip rule priorities: RULE_BASE - 1 sends every packet without MARK_BIT straight to the
#: main table (`goto MAIN_RULE`, the kernel's own rule), so that only link replies walk
#: the per-link rules RULE_BASE + index.
RULE_BASE = 1000
SKIP_RULE = RULE_BASE - 1
MAIN_RULE = RULE_PRIORITY_MAIN
#: Routing table of link `index`: TABLE_BASE + index (clear of the kernel's 253-255).
TABLE_BASE = 0x10000
#: ARP requests arriving on links carry ARP_MARK (never set on an IP packet), and rule
#: ARP_RULE sends their route check to ARP_TABLE, whose default route lets the kernel
#: answer a proxy entry for any address (`endpoints`).
ARP_MARK = 0x20000000
ARP_RULE = RULE_BASE - 2
ARP_TABLE = TABLE_BASE - 1
#: Links that can be live at once (rule priorities must stay below the main rule).
CAPACITY = MAIN_RULE - RULE_BASE


def _check(index: int) -> int:
    if not 0 <= index < CAPACITY:
        raise ValueError(f"link index {index} outside 0..{CAPACITY - 1}")
    return index


def mark(index: int) -> int:
    return MARK_BIT | _check(index)


def zone(index: int) -> int:
    """Conntrack zone of the link's flows (original direction only; 0 is everyone's)."""
    return _check(index) + 1


def table(index: int) -> int:
    return TABLE_BASE + _check(index)


def rule_priority(index: int) -> int:
    return RULE_BASE + _check(index)


def index_of_mark(value: int) -> int | None:
    """The link index a packet or socket mark carries, None if it is not a link's."""
    if not value & MARK_BIT:
        return None
    index = value & ~MARK_BIT
    return index if index < CAPACITY else None


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
            raise RuntimeError(f"endpoint links exhausted: {CAPACITY} can be live at once")
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
