"""The VPC resolvers: one thread answers DNS for every VPC, from sockets in each VPC.

AWS's resolver sits at the VPC's base+2 and at 169.254.169.253. vpclab opens a UDP and a
TCP socket on port 53 *inside* each VPC router namespace (the router holds both
addresses), so instances query it as they would on AWS, and one selector thread serves
them all. It answers only what vpclab knows and nothing leaves the machine:

- endpoint DNS names (public names, so every VPC of the region resolves them): the
  regional name gives all of the endpoint's ENI IPs, each zonal name the IP in its zone;
- an NLB's DNS name: an internet-facing NLB's nodes' public addresses (in every VPC, as
  on AWS: the name is public), an internal NLB's nodes' private IPs;
- `ip-a-b-c-d.<region>.compute.internal` (`ec2.internal` in us-east-1) for the private
  IPs of ENIs in the asking VPC;
- an instance's public DNS name (`ec2-a-b-c-d.…`, where its VPC has enableDnsHostnames):
  its private IP inside its own VPC and its public address in every other, as Amazon's
  resolver answers;
- an endpoint service's private DNS name, inside a consumer VPC whose endpoint to it has
  PrivateDnsEnabled: that endpoint's ENI IPs.

Everything else is NXDOMAIN (REFUSED for non-IN classes). dnslib does the wire format.
"""
from __future__ import annotations

import logging
import selectors
import socket
import struct
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import cast

from dnslib import QTYPE, RCODE, RR, A, DNSRecord

from ...aws_names import private_dns_name, public_dns_name
from ...kernel import netns
from ..areas.network import vpc_namespace
from ..world import LINK_LOCAL_RESOLVER, AgentHost, World, resolver_of

log = logging.getLogger("vpclab.dns")

TTL = 60
PORT = 53


@dataclass
class Zone:
    """Names one VPC's resolver answers: lower-case name without the final dot -> IPs."""

    records: dict[str, list[str]] = field(default_factory=dict)

    def add(self, name: str, ip: str) -> None:
        ips = self.records.setdefault(name.lower().rstrip("."), [])
        if ip not in ips:
            ips.append(ip)


def zones_for(world: World) -> dict[str, Zone]:
    """What each VPC's resolver answers, keyed by VPC id: a pure function of the world."""
    public: dict[str, Zone] = defaultdict(Zone)  # per region: names every VPC resolves
    for ep in world.endpoints.values():
        if ep.endpoint_type != "Interface" or ep.state in ("deleted", "deleting", "failed"):
            continue
        enis = [world.enis[e] for e in ep.network_interface_ids if e in world.enis]
        for entry in ep.dns_entries:
            name = entry.get("DnsName", "")
            if not name or name == ep.private_dns_name:
                continue
            # A zonal name's first label ends with its zone (`vpce-…-us-east-1a.<service>…`).
            label = name.partition(".")[0]
            zonal = [e for e in enis if label.endswith(f"-{e.availability_zone}")]
            for eni in zonal or enis:
                public[ep.region].add(name, eni.private_ip)
    for lb in world.load_balancers.values():
        for mapping in lb.mappings:
            node = world.enis.get(mapping.network_interface_id)
            if lb.scheme != "internal":
                if lb.dns_name and node is not None and node.association is not None:
                    public[lb.region].add(lb.dns_name, node.association.public_ip)
            elif lb.dns_name and mapping.private_ip:
                public[lb.region].add(lb.dns_name, mapping.private_ip)
    # Public host names of ENIs with a public address: (name, its VPC, private, public).
    hosts: list[tuple[str, str, str, str]] = []
    for eni in world.enis.values():
        vpc_of = world.vpcs.get(eni.vpc_id)
        if (eni.association is not None and eni.interface_type == "interface" and eni.private_ip
                and vpc_of is not None and vpc_of.enable_dns_hostnames):
            hosts.append((public_dns_name(eni.region, eni.association.public_ip), eni.vpc_id,
                          eni.private_ip, eni.association.public_ip))

    zones: dict[str, Zone] = {}
    for vpc in world.vpcs.values():
        zone = Zone({k: list(v) for k, v in public[vpc.region].records.items()})
        for eni in world.enis.values():
            if eni.vpc_id == vpc.id and eni.private_ip:
                zone.add(private_dns_name(vpc.region, eni.private_ip), eni.private_ip)
        for name, home, private_ip, public_ip in hosts:
            zone.add(name, private_ip if home == vpc.id else public_ip)
        zones[vpc.id] = zone
    for ep in world.endpoints.values():
        if (ep.private_dns_enabled and ep.private_dns_name and ep.vpc_id in zones
                and ep.state not in ("deleted", "deleting", "rejected", "failed")):
            for eni_id in ep.network_interface_ids:
                ep_eni = world.enis.get(eni_id)
                if ep_eni is not None:
                    zones[ep.vpc_id].add(ep.private_dns_name, ep_eni.private_ip)
    return zones


def answer(zone: Zone, query: bytes) -> bytes | None:
    """The reply to one query packet, or None for garbage (dropped, as a resolver does)."""
    try:
        request = DNSRecord.parse(query)
    except Exception:
        return None
    reply = request.reply()
    reply.header.ra = 1
    if len(request.questions) != 1:
        reply.header.rcode = RCODE.FORMERR
        return reply.pack()
    question = request.q
    name = str(question.qname).lower().rstrip(".")
    if question.qclass != 1:
        reply.header.rcode = RCODE.REFUSED
        return reply.pack()
    ips = zone.records.get(name)
    if ips is None:
        reply.header.rcode = RCODE.NXDOMAIN
    elif question.qtype in (QTYPE.A, QTYPE.ANY):
        for ip in ips:
            reply.add_answer(RR(question.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
    # Known name, other type (AAAA…): NOERROR with no answer, as Route 53 does.
    return reply.pack()


@dataclass
class _Listener:
    vpc_id: str
    namespace: str
    inode: int
    sockets: list[tuple[str, socket.socket]]  # ("udp" | "tcp", socket)


class Resolver:
    """The agent: keeps one listener per VPC namespace and answers from `zones`."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.zones: dict[str, Zone] = {}
        self._cidrs: dict[str, str] = {}
        self._listeners: dict[str, _Listener] = {}
        self._selector = selectors.DefaultSelector()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = socket.socketpair()
        self._selector.register(self._wake_r, selectors.EVENT_READ, ("wake", None))
        self._closed = False
        self._thread = threading.Thread(target=self._serve, name="vpclab-dns", daemon=True)
        self._thread.start()

    # Agent ----------------------------------------------------------------------------
    def sync(self, world: World) -> None:
        zones = zones_for(world)
        with self._lock:
            self.zones = zones
            self._cidrs = {v.id: v.cidr_block for v in world.vpcs.values()}
            for vpc_id in list(self._listeners):
                listener = self._listeners[vpc_id]
                if vpc_id not in world.vpcs or netns.inode_of(listener.namespace) != listener.inode:
                    self._drop(vpc_id)
            for vpc_id in world.vpcs:
                if vpc_id not in self._listeners:
                    self._open(vpc_id)

    def close(self) -> None:
        self._closed = True
        self._wake_w.send(b"x")
        self._thread.join(timeout=5)
        with self._lock:
            for vpc_id in list(self._listeners):
                self._drop(vpc_id)

    # Sockets --------------------------------------------------------------------------
    def _open(self, vpc_id: str) -> None:
        name = vpc_namespace(self.prefix, vpc_id)
        inode = netns.inode_of(name)
        if inode is None:
            return
        addresses = (resolver_of(self._cidrs[vpc_id]), LINK_LOCAL_RESOLVER)
        try:
            sockets = netns.run_in(name, _bind_all, addresses)
        except OSError as exc:  # the router's addresses are not up yet: next pass
            log.debug("DNS for %s not served yet: %s", vpc_id, exc)
            return
        self._listeners[vpc_id] = _Listener(vpc_id, name, inode, sockets)
        for kind, sock in sockets:
            self._selector.register(sock, selectors.EVENT_READ, (kind, vpc_id))
        self._wake_w.send(b"x")

    def _drop(self, vpc_id: str) -> None:
        listener = self._listeners.pop(vpc_id)
        for _kind, sock in listener.sockets:
            try:
                self._selector.unregister(sock)
            except (KeyError, ValueError):
                pass
            sock.close()

    # Serving --------------------------------------------------------------------------
    def _serve(self) -> None:
        while not self._closed:
            for key, _events in self._selector.select(timeout=1.0):
                kind, vpc_id = key.data
                if kind == "wake":
                    self._wake_r.recv(4096)
                    continue
                sock = cast(socket.socket, key.fileobj)  # only sockets are registered
                try:
                    if kind == "udp":
                        self._serve_udp(sock, vpc_id)
                    else:
                        self._serve_tcp(sock, vpc_id)
                except OSError:
                    continue
                except Exception:
                    log.exception("DNS query failed")

    def _zone(self, vpc_id: str) -> Zone:
        with self._lock:
            return self.zones.get(vpc_id, Zone())

    def _serve_udp(self, sock: socket.socket, vpc_id: str) -> None:
        data, peer = sock.recvfrom(4096)
        reply = answer(self._zone(vpc_id), data)
        if reply is not None:
            sock.sendto(reply, peer)

    def _serve_tcp(self, sock: socket.socket, vpc_id: str) -> None:
        conn, _peer = sock.accept()
        with conn:
            conn.settimeout(2.0)
            head = _recv_exact(conn, 2)
            if head is None:
                return
            data = _recv_exact(conn, struct.unpack("!H", head)[0])
            if data is None:
                return
            reply = answer(self._zone(vpc_id), data)
            if reply is not None:
                conn.sendall(struct.pack("!H", len(reply)) + reply)


def _bind_all(addresses: tuple[str, ...]) -> list[tuple[str, socket.socket]]:
    """UDP and TCP sockets on port 53 of each resolver address, made in the calling
    thread's (the VPC router's) namespace.

    Bound to the addresses themselves, not 0.0.0.0: a wildcard socket would answer from
    the route's source (the subnet gateway), and the instance's stateful filter would
    drop a reply that does not come from the address it asked.
    """
    out: list[tuple[str, socket.socket]] = []
    try:
        for address in addresses:
            udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            out.append(("udp", udp))
            udp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            udp.bind((address, PORT))
            udp.setblocking(False)
            tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            out.append(("tcp", tcp))
            tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            tcp.bind((address, PORT))
            tcp.listen(16)
            tcp.setblocking(False)
    except OSError:
        for _kind, sock in out:
            sock.close()
        raise
    return out


def _recv_exact(conn: socket.socket, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = conn.recv(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def make_agent(dp: AgentHost) -> Resolver:
    return Resolver(dp.prefix)
