"""The internet edge: where public addresses come from, how the host reaches them, and
which routes lead to the internet. Both planes apply these rules: the API shows what they
say (a route's state, a subnet's public addresses), the data plane realizes it.

- Public addresses come from 198.18.0.0/15 (RFC 2544's benchmarking range, never routed
  on the internet), so nothing vpclab hands out can be a real internet host.
  198.18.0.0/24 is vpclab's own: `HOST_ADDRESS` is the user's machine as the VPCs see
  it; EC2 and ELB addresses come from the rest (`POOL`).
- The user's machine reaches public address 198.18.x.y at 127.18.x.y, and 198.19.x.y
  at 127.19.x.y (`host_address`): a mapping a person can read, on loopback only.
- A route is `active` when its target exists (the local route, an internet gateway
  attached to the route table's VPC) and `blackhole` otherwise; a subnet uses its
  explicitly associated route table, else its VPC's main one; the internet is reached
  through the destinations its table routes to an attached internet gateway.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from .ec2 import InternetGateway, RouteEntry, RouteTable

#: Every public address vpclab hands out is in here.
PUBLIC_RANGE = ipaddress.IPv4Network("198.18.0.0/15")
#: vpclab's own part of the range: no EC2 or ELB address comes from it.
RESERVED = ipaddress.IPv4Network("198.18.0.0/24")
#: The user's machine, as instances and security groups see it ("My IP").
HOST_ADDRESS = "198.18.0.1"


def is_public(ip: str) -> bool:
    """True for an address of the public range."""
    try:
        return ipaddress.IPv4Address(ip) in PUBLIC_RANGE
    except ValueError:
        return False


def assignable(ip: ipaddress.IPv4Address) -> bool:
    """Addresses the pool hands out: in the range, outside `RESERVED`, and not the .0 or
    .255 of a /24 (which some clients refuse to open)."""
    last = int(ip) & 0xFF
    return ip in PUBLIC_RANGE and ip not in RESERVED and last not in (0, 255)


def host_address(public_ip: str) -> str:
    """Where the user's machine reaches `public_ip`: 198.18.1.7 -> 127.18.1.7."""
    ip = ipaddress.IPv4Address(public_ip)
    if ip not in PUBLIC_RANGE:
        raise ValueError(f"{public_ip} is not a vpclab public address")
    return "127." + public_ip.split(".", 1)[1]


def public_address(host_ip: str) -> str | None:
    """The public address the host address `host_ip` stands for, None if it is none."""
    parts = host_ip.split(".")
    if len(parts) != 4 or parts[0] != "127":
        return None
    candidate = "198." + host_ip.split(".", 1)[1]
    return candidate if is_public(candidate) else None


# Route tables ---------------------------------------------------------------------------------

LOCAL = "local"


def main_table(tables: Iterable[RouteTable], vpc_id: str) -> RouteTable | None:
    """The main route table of `vpc_id`."""
    for table in tables:
        if table.vpc_id == vpc_id and any(a.main for a in table.associations):
            return table
    return None


def table_of_subnet(tables: Iterable[RouteTable], subnet_id: str, vpc_id: str) -> RouteTable | None:
    """The route table `subnet_id` uses: its explicit association, else the VPC's main."""
    tables = list(tables)
    for table in tables:
        if any(a.subnet_id == subnet_id for a in table.associations):
            return table
    return main_table(tables, vpc_id)


def attached_gateway(gateways: Iterable[InternetGateway], vpc_id: str) -> InternetGateway | None:
    """The internet gateway attached to `vpc_id`, if any (a VPC has at most one)."""
    for igw in gateways:
        if igw.vpc_id == vpc_id:
            return igw
    return None


def route_active(route: RouteEntry, vpc_id: str, gateways: dict[str, InternetGateway]) -> bool:
    """A route's state: active (True) or blackhole. Targets vpclab does not realize
    (network interfaces, instances, endpoints) are shown active while they exist; only
    gateways are judged here."""
    gw = route.gateway_id
    if gw is None or gw == LOCAL:
        return True
    if gw.startswith("igw-"):
        igw = gateways.get(gw)
        return igw is not None and igw.vpc_id == vpc_id
    return True


def internet_destinations(table: RouteTable | None, gateways: dict[str, InternetGateway]) -> list[str]:
    """The destination CIDRs `table` sends to an internet gateway attached to its VPC,
    sorted: where a subnet using it reaches the internet (empty: a private subnet)."""
    if table is None:
        return []
    out = {r.destination_cidr for r in table.routes
           if r.gateway_id and r.gateway_id.startswith("igw-") and r.destination_cidr
           and route_active(r, table.vpc_id, gateways)}
    return sorted(out, key=lambda c: (ipaddress.IPv4Network(c).prefixlen, c))


def reaches(destinations: Iterable[str], ip: str) -> bool:
    """True if `ip` is inside one of `destinations` (`internet_destinations`)."""
    address = ipaddress.IPv4Address(ip)
    return any(address in ipaddress.IPv4Network(c) for c in destinations)
