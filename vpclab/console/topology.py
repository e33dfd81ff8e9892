"""What the topology view (`#/vpclab/topology`) draws: both accounts' networks in one region
and the PrivateLink path between them, as one JSON graph read from the store.

Per account: its VPCs and subnets, and in each subnet what has an address there
(instances, NLB nodes, endpoint ENIs); its NLBs with their listeners, its target groups'
targets, its endpoint services and its interface endpoints. `paths` are the hops of the
PrivateLink path: an endpoint ENI to the provider NLB's node in the same zone id (as
AWS links them, and the data plane does), and a node to each target of its listeners.
Each carries a `tone` (ok / busy / bad / off) that says how to colour it: the one place
that decides which state counts as what (`tone_of_endpoint`, `tone_of_health`), from the
model's rules (`CONNECTED_STATES`, `model.targets`).

Traffic (connections, packets, bytes per endpoint and listener) comes from the data
plane's counters through `traffic`, a callable the server passes in (the console does
not import the data plane); None when the data plane is off.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..model import targets
from ..model.ec2 import Instance, NetworkInterface, Subnet, Vpc
from ..model.elbv2 import Listener, LoadBalancer, TargetGroup, TargetHealth, forwarded_target_groups
from ..model.privatelink import CONNECTED_STATES, Endpoint, EndpointService
from ..store import Store, Transaction

#: The data plane's counters: {"endpoints": {id: counts}, "listeners": {arn: counts}},
#: counts being {"connections", "packets", "bytes"}.
Traffic = Callable[[], dict[str, dict[str, dict[str, int]]]]

#: Instance states not drawn (the instance is gone).
GONE_INSTANCE_STATES = ("terminated",)
#: Endpoint states not drawn.
GONE_ENDPOINT_STATES = ("deleted",)
#: Endpoint states drawn as refused.
REFUSED_ENDPOINT_STATES = ("rejected", "failed", "expired")


def tone_of_endpoint(state: str) -> str:
    """available: ok; the other connected states (pendingAcceptance, pending): busy;
    rejected / failed / expired: bad; anything else (deleting): off."""
    if state == "available":
        return "ok"
    if state in CONNECTED_STATES:
        return "busy"
    return "bad" if state in REFUSED_ENDPOINT_STATES else "off"


def tone_of_health(state: str) -> str:
    return {"healthy": "ok", "initial": "busy", "unhealthy": "bad"}.get(state, "off")


def tone_of(state: str) -> str:
    """Instances, NLBs, services: running / active / Available ok, moving ones busy."""
    if state in ("running", "active", "Available", "available"):
        return "ok"
    if state in ("pending", "provisioning", "Pending", "stopping", "shutting-down"):
        return "busy"
    return "bad" if state in ("failed", "Failed") else "off"


def target_health(tx: Transaction, tg: TargetGroup, target: Any) -> str:
    """What the view says of one registered target: draining / unused when it gets no
    flows (`model.targets.exclusion`), else the health the data plane observed since it
    was registered (`model.targets.observation`), else initial."""
    why = targets.exclusion(tg, target, lambda iid: tx.get(Instance, iid))
    if why == targets.DRAINING:
        return "draining"
    if why is not None:
        return "unused"
    record = targets.observation(lambda rid: tx.get(TargetHealth, rid), tg.id, target)
    return record.state if record is not None else "initial"


@dataclass
class _Place:
    """Where an address sits: its subnet's item list."""

    items: list[dict[str, Any]]


def accounts_of(tx: Transaction, region: str, lab: dict[str, str]) -> list[str]:
    """Accounts with VPCs in `region`, the lab's first (provider, consumer); the lab's two
    when no account has any."""
    found = {v.account for v in tx.list(Vpc, region=region)}
    order = [a for a in lab if a in found] + sorted(found - set(lab))
    return order or list(lab)


def build(store: Store, region: str, lab: dict[str, str], traffic: Traffic | None) -> dict[str, Any]:
    counts = traffic() if traffic is not None else None
    with store.read() as tx:
        accounts = [_account(tx, account, region, lab.get(account, ""), counts)
                    for account in accounts_of(tx, region, lab)]
        paths = _paths(tx, region)
    return {"region": region, "accounts": accounts, "paths": paths, "counters": counts is not None}


def _name(tags: dict[str, str]) -> str:
    return tags.get("Name", "")


def _count(counts: dict[str, dict[str, dict[str, int]]] | None, kind: str, key: str) -> dict[str, int] | None:
    if counts is None:
        return None
    return counts.get(kind, {}).get(key, {"connections": 0, "packets": 0, "bytes": 0})


def _account(tx: Transaction, account: str, region: str, name: str,
             counts: dict[str, dict[str, dict[str, int]]] | None) -> dict[str, Any]:
    places: dict[str, _Place] = {}
    vpcs = []
    for vpc in sorted(tx.list(Vpc, account, region), key=lambda v: v.id):
        subnets = []
        for s in sorted(tx.list(Subnet, account, region, vpc_id=vpc.id), key=lambda s: (s.availability_zone, s.id)):
            items: list[dict[str, Any]] = []
            places[s.id] = _Place(items)
            subnets.append({"id": s.id, "name": _name(s.tags), "zone": s.availability_zone,
                            "zoneId": s.availability_zone_id, "cidr": s.cidr_block, "items": items})
        vpcs.append({"id": vpc.id, "name": _name(vpc.tags), "cidr": vpc.cidr_block, "subnets": subnets})

    def place(subnet_id: str, item: dict[str, Any]) -> None:
        if subnet_id in places:
            places[subnet_id].items.append(item)

    for inst in sorted(tx.list(Instance, account, region), key=lambda i: i.id):
        if inst.state in GONE_INSTANCE_STATES:
            continue
        place(inst.subnet_id, {"kind": "instance", "id": inst.id, "name": _name(inst.tags) or inst.id,
                               "ip": inst.private_ip, "state": inst.state, "tone": tone_of(inst.state)})
    lbs = []
    for lb in sorted(tx.list(LoadBalancer, account, region), key=lambda b: b.name):
        for m in lb.mappings:
            place(m.subnet_id, {"kind": "node", "id": m.network_interface_id, "name": lb.name, "ip": m.private_ip,
                                "zone": m.zone, "state": lb.state, "tone": tone_of(lb.state)})
        listeners = [{"arn": l.id, "protocol": l.protocol, "port": l.port,
                      "traffic": _count(counts, "listeners", l.id)}
                     for l in sorted(tx.list(Listener, account, region, load_balancer_arn=lb.id),
                                     key=lambda l: (l.port, l.protocol))]
        lbs.append({"arn": lb.id, "name": lb.name, "state": lb.state, "tone": tone_of(lb.state),
                    "dnsName": lb.dns_name, "listeners": listeners,
                    "nodes": [{"id": m.network_interface_id, "zone": m.zone, "ip": m.private_ip} for m in lb.mappings]})
    groups = []
    for tg in sorted(tx.list(TargetGroup, account, region), key=lambda g: g.name):
        shown = []
        for t in tg.targets:
            health = target_health(tx, tg, t)
            shown.append({"id": t.id, "port": t.port, "health": health, "tone": tone_of_health(health)})
        groups.append({"arn": tg.id, "name": tg.name, "protocol": tg.protocol, "port": tg.port, "targets": shown})
    services = [{"id": s.id, "name": s.service_name, "state": s.state, "tone": tone_of(s.state),
                 "acceptanceRequired": s.acceptance_required, "nlbs": list(s.network_load_balancer_arns)}
                for s in sorted(tx.list(EndpointService, account, region), key=lambda s: s.id)
                if s.state not in ("Deleted",)]
    endpoints = []
    for ep in sorted(tx.list(Endpoint, account, region), key=lambda e: e.id):
        if ep.state in GONE_ENDPOINT_STATES or ep.endpoint_type != "Interface":
            continue
        enis = []
        for eni_id in ep.network_interface_ids:
            eni = tx.get(NetworkInterface, eni_id)
            if eni is None:
                continue
            enis.append({"id": eni.id, "subnet": eni.subnet_id, "ip": eni.private_ip})
            place(eni.subnet_id, {"kind": "eni", "id": eni.id, "name": _name(ep.tags) or ep.id, "endpoint": ep.id,
                                  "ip": eni.private_ip, "state": ep.state, "tone": tone_of_endpoint(ep.state)})
        endpoints.append({"id": ep.id, "name": _name(ep.tags), "service": ep.service_id, "serviceName": ep.service_name,
                          "state": ep.state, "tone": tone_of_endpoint(ep.state), "enis": enis,
                          "traffic": _count(counts, "endpoints", ep.id)})
    return {"id": account, "name": name, "vpcs": vpcs, "loadBalancers": lbs, "targetGroups": groups,
            "services": services, "endpoints": endpoints}


def _paths(tx: Transaction, region: str) -> list[dict[str, Any]]:
    """The hops of every PrivateLink path in the region (module doc), endpoint by endpoint."""
    out: list[dict[str, Any]] = []
    served: set[str] = set()  # nodes whose hops to targets are listed
    for ep in sorted(tx.list(Endpoint, region=region), key=lambda e: e.id):
        if ep.state in GONE_ENDPOINT_STATES or ep.endpoint_type != "Interface":
            continue
        service = tx.get(EndpointService, ep.service_id)
        if service is None:
            continue
        for eni_id in ep.network_interface_ids:
            eni = tx.get(NetworkInterface, eni_id)
            subnet = tx.get(Subnet, eni.subnet_id) if eni is not None else None
            if eni is None or subnet is None:
                continue
            node = _serving_node(tx, service, subnet.availability_zone_id)
            if node is None:
                continue
            lb, node_eni = node
            out.append({"from": eni.id, "to": node_eni, "kind": "endpoint", "endpoint": ep.id, "state": ep.state,
                        "tone": tone_of_endpoint(ep.state)})
            if node_eni not in served:
                served.add(node_eni)
                out.extend(_node_hops(tx, lb, node_eni))
    return out


def _serving_node(tx: Transaction, service: EndpointService, zone_id: str) -> tuple[LoadBalancer, str] | None:
    """The node an ENI in zone id `zone_id` reaches: the first NLB of the service with a
    node in that zone id (the data plane's `endpoints.serving_node` links them so)."""
    for arn in service.network_load_balancer_arns:
        lb = tx.get(LoadBalancer, arn)
        if lb is None:
            continue
        for m in lb.mappings:
            if m.zone_id == zone_id and m.network_interface_id:
                return lb, m.network_interface_id
    return None


def _node_hops(tx: Transaction, lb: LoadBalancer, node_eni: str) -> list[dict[str, Any]]:
    hops = []
    arns = {a for l in tx.list(Listener, load_balancer_arn=lb.id) for a in forwarded_target_groups(l.default_actions)}
    for arn in sorted(arns):
        tg = tx.get(TargetGroup, arn)
        if tg is None:
            continue
        for t in tg.targets:
            health = target_health(tx, tg, t)
            hops.append({"from": node_eni, "to": t.id, "kind": "target", "targetGroup": tg.name, "health": health,
                         "tone": tone_of_health(health)})
    return hops
