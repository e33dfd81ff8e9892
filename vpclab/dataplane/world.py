"""A consistent snapshot of the store, as the data plane needs it.

Reconcilers are pure functions of a `World`: it is taken in one read transaction, so a
plan never mixes two versions of the store. Objects are the store's shared ones: never
mutate them (write observed facts through a store transaction instead).

`Reporter` and `AgentHost` say what the areas and agents get of the running data plane;
they live here because those modules cannot import `runtime`, which imports them.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from ..model.dataplane import TransitLink
from ..model.ec2 import Instance, InternetGateway, NetworkInterface, RouteTable, SecurityGroup, Subnet, Vpc
from ..model.elbv2 import Listener, LoadBalancer, TargetGroup, TargetHealth
from ..model.privatelink import Endpoint, EndpointService
from ..store import Store


@dataclass
class World:
    vpcs: dict[str, Vpc] = field(default_factory=dict)
    subnets: dict[str, Subnet] = field(default_factory=dict)
    instances: dict[str, Instance] = field(default_factory=dict)
    enis: dict[str, NetworkInterface] = field(default_factory=dict)
    security_groups: dict[str, SecurityGroup] = field(default_factory=dict)
    load_balancers: dict[str, LoadBalancer] = field(default_factory=dict)
    target_groups: dict[str, TargetGroup] = field(default_factory=dict)
    listeners: dict[str, Listener] = field(default_factory=dict)
    target_health: dict[str, TargetHealth] = field(default_factory=dict)
    services: dict[str, EndpointService] = field(default_factory=dict)
    endpoints: dict[str, Endpoint] = field(default_factory=dict)
    transit_links: dict[str, TransitLink] = field(default_factory=dict)  # by endpoint ENI id
    internet_gateways: dict[str, InternetGateway] = field(default_factory=dict)
    route_tables: dict[str, RouteTable] = field(default_factory=dict)

    @classmethod
    def snapshot(cls, store: Store) -> "World":
        with store.read() as tx:
            return cls(
                vpcs={o.id: o for o in tx.list(Vpc)},
                subnets={o.id: o for o in tx.list(Subnet)},
                instances={o.id: o for o in tx.list(Instance)},
                enis={o.id: o for o in tx.list(NetworkInterface)},
                security_groups={o.id: o for o in tx.list(SecurityGroup)},
                load_balancers={o.id: o for o in tx.list(LoadBalancer)},
                target_groups={o.id: o for o in tx.list(TargetGroup)},
                listeners={o.id: o for o in tx.list(Listener)},
                target_health={o.id: o for o in tx.list(TargetHealth)},
                services={o.id: o for o in tx.list(EndpointService)},
                endpoints={o.id: o for o in tx.list(Endpoint)},
                transit_links={o.id: o for o in tx.list(TransitLink)},
                internet_gateways={o.id: o for o in tx.list(InternetGateway)},
                route_tables={o.id: o for o in tx.list(RouteTable)},
            )

    # Small queries every reconciler needs ---------------------------------------------
    def subnets_of(self, vpc_id: str) -> list[Subnet]:
        return [s for s in self.subnets.values() if s.vpc_id == vpc_id]

    def enis_of(self, owner_kind: str, owner_id: str) -> list[NetworkInterface]:
        return [e for e in self.enis.values() if e.owner_kind == owner_kind and e.owner_id == owner_id]

    def live_instances(self) -> list[Instance]:
        """Instances that should have a namespace: booting, running, or on their way down.

        A `stopping` or `shutting-down` instance keeps its namespace until the instance
        agent has ended its processes and recorded `stopped` / `terminated`; only then does
        the plan drop it (deleting a namespace that still has processes would fail).
        """
        return [i for i in self.instances.values()
                if i.state in ("pending", "running", "stopping", "shutting-down")]


class Reporter(Protocol):
    """What an area's `observe` gets of the running data plane (`runtime.DataPlane`): the
    store it writes observed facts to."""

    store: Store


class AgentHost(Reporter, Protocol):
    """What an agent (`make_agent(dp)`) gets of the running data plane: the store, the
    ownership prefix and state directory it works under, and `poke` to ask for a pass."""

    prefix: str
    state_dir: Path

    def poke(self) -> None: ...


def gateway_of(cidr: str) -> str:
    """The subnet router: the subnet's base + 1, as on AWS."""
    return str(ipaddress.IPv4Network(cidr).network_address + 1)


def resolver_of(vpc_cidr: str) -> str:
    """The Amazon-provided DNS server: the VPC's base + 2."""
    return str(ipaddress.IPv4Network(vpc_cidr).network_address + 2)


#: The other address of the VPC resolver, reachable from every VPC.
LINK_LOCAL_RESOLVER = "169.254.169.253"

#: The instance metadata service's address, reachable from every instance.
METADATA_ADDRESS = "169.254.169.254"


def prefix_len(cidr: str) -> int:
    return ipaddress.IPv4Network(cidr).prefixlen
