"""Plans built by hand for kernel tests: VPCs, subnets and instances the way the reconciler
lays them out (`Lab`), and leaf namespaces each holding one table (`leaf_plan`).

Also traffic helpers that only ever send from inside a namespace the test made: sockets are
created on a thread that entered the namespace (`netns.run_in`), and keep it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from vpclab.kernel import naming, netns
from vpclab.kernel.nft import NftChain, NftSet, NftTable
from vpclab.kernel.topology import Bridge, Interface, Namespace, Plan, Route, VethPair


@dataclass
class _Vpc:
    bridges: list[Bridge] = field(default_factory=list)
    veths: list[VethPair] = field(default_factory=list)
    gateways: dict[str, str] = field(default_factory=dict)  # subnet -> "172.31.0.1"
    prefixlen: dict[str, int] = field(default_factory=dict)


class Lab:
    """Builds a Plan the way the reconciler will: VPC = router namespace with one bridge per
    subnet; instance = namespace whose eth0 is a veth to its subnet's bridge."""

    def __init__(self, prefix: str):
        self.prefix = prefix
        self.vpcs: dict[str, _Vpc] = {}
        self.instances: list[Namespace] = []

    def ns(self, object_id: str) -> str:
        return naming.namespace_name(self.prefix, object_id)

    def vpc(self, vpc_id: str) -> Lab:
        self.vpcs[vpc_id] = _Vpc()
        return self

    def subnet(self, vpc_id: str, subnet_id: str, cidr: str) -> Lab:
        net = ipaddress.ip_network(cidr)
        gw = str(net.network_address + 1)
        v = self.vpcs[vpc_id]
        v.bridges.append(Bridge(naming.bridge_name(self.prefix, subnet_id), (f"{gw}/{net.prefixlen}",)))
        v.gateways[subnet_id] = gw
        v.prefixlen[subnet_id] = net.prefixlen
        return self

    def instance(
        self,
        vpc_id: str,
        subnet_id: str,
        instance_id: str,
        ip: str,
        *,
        nft: tuple[NftTable, ...] = (),
        sysctls: dict[str, str] | None = None,
    ) -> Lab:
        v = self.vpcs[vpc_id]
        name = self.ns(instance_id)
        v.veths.append(
            VethPair(
                Interface(naming.veth_name(self.prefix, instance_id), master=naming.bridge_name(self.prefix, subnet_id)),
                name,
                Interface("eth0", (f"{ip}/{v.prefixlen[subnet_id]}",)),
            )
        )
        self.instances.append(
            Namespace(name, routes=(Route("default", via=v.gateways[subnet_id]),), sysctls=sysctls or {}, nft=nft)
        )
        return self

    def plan(self) -> Plan:
        vpcs = [
            Namespace(
                self.ns(vpc_id),
                bridges=tuple(v.bridges),
                veths=tuple(v.veths),
                sysctls={"net.ipv4.ip_forward": "1"},
            )
            for vpc_id, v in self.vpcs.items()
        ]
        return Plan(self.prefix, tuple(vpcs + self.instances))


def two_vpcs(prefix: str) -> Lab:
    """Two VPCs that BOTH use 172.31.0.0/16: A with two subnets and three instances, B with
    one subnet and an instance whose address equals A's first instance's."""
    return (
        Lab(prefix)
        .vpc("vpc-a")
        .subnet("vpc-a", "subnet-a1", "172.31.0.0/20")
        .subnet("vpc-a", "subnet-a2", "172.31.16.0/20")
        .instance("vpc-a", "subnet-a1", "i-a1", "172.31.0.10")
        .instance("vpc-a", "subnet-a1", "i-a2", "172.31.0.11")
        .instance("vpc-a", "subnet-a2", "i-a3", "172.31.16.10")
        .vpc("vpc-b")
        .subnet("vpc-b", "subnet-b1", "172.31.0.0/20")
        .instance("vpc-b", "subnet-b1", "i-b1", "172.31.0.10")
        .instance("vpc-b", "subnet-b1", "i-b2", "172.31.0.20")
    )


# -- traffic, always from inside a namespace ---------------------------------------------


def _checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    s = (s >> 16) + (s & 0xFFFF)
    s += s >> 16
    return ~s & 0xFFFF


def ping(ns: str, dst: str, timeout: float = 1.0) -> bool:
    """One ICMP echo from inside namespace `ns` (a raw socket made there); True on reply."""
    sock = netns.run_in(ns, socket.socket, socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
    with sock:
        ident = os.getpid() & 0xFFFF
        payload = b"vpclab-ping"
        hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
        pkt = struct.pack("!BBHHH", 8, 0, _checksum(hdr + payload), ident, 1) + payload
        sock.settimeout(timeout)
        sock.sendto(pkt, (dst, 0))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data, addr = sock.recvfrom(2048)
            except (TimeoutError, socket.timeout):
                return False
            ihl = (data[0] & 0x0F) * 4
            typ, _, _, rid, _ = struct.unpack("!BBHHH", data[ihl : ihl + 8])
            if typ == 0 and rid == ident and addr[0] == dst:
                return True
        return False


class EchoServer:
    """TCP server inside namespace `ns`: answers each connection with ``<tag> <peer ip>``."""

    def __init__(self, ns: str, ip: str, port: int, tag: str):
        self.tag = tag
        self.sock = netns.run_in(ns, socket.create_server, (ip, port))
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except (TimeoutError, socket.timeout, OSError):
                continue
            with conn:
                conn.sendall(f"{self.tag} {peer[0]}".encode())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()

    def __enter__(self) -> EchoServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class RecordingServer:
    """TCP server inside namespace `ns` on every address: reads each connection until
    `complete(data)` (or the peer closes), records ``(peer, data)``, then sends `answer`."""

    def __init__(self, ns: str, port: int, complete: Callable[[bytes], bool], answer: bytes):
        self.complete, self.answer = complete, answer
        self.sock = netns.run_in(ns, socket.create_server, ("0.0.0.0", port))
        self.sock.settimeout(0.2)
        self.received: list[tuple[tuple[str, int], bytes]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    @property
    def requests(self) -> list[bytes]:
        return [data for _, data in self.received]

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(2)
                data = b""
                try:
                    while not self.complete(data):
                        chunk = conn.recv(4096)
                        if not chunk:
                            break
                        data += chunk
                    self.received.append((peer, data))
                    conn.sendall(self.answer)
                except OSError:
                    pass

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


def tcp_ask(ns: str, ip: str, port: int, timeout: float = 2.0) -> str | None:
    """Connect from inside `ns` and return what the server says (None if unreachable)."""
    sock = netns.run_in(ns, socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
            return sock.recv(256).decode()
        except OSError:
            return None


def leaf_plan(prefix: str, count: int, members: list[str]) -> Plan:
    """`count` namespaces, each with one table holding a set of `members` (like an
    instance's security-group table and the group's member addresses)."""
    table = NftTable("inet", f"{prefix}-sg", (NftSet.of("members", "ipv4_addr", members),), (
        NftChain("input", ("ip saddr @members accept",), "filter", "input", 0, "drop"),
    ))
    return Plan(prefix, tuple(Namespace(f"{prefix}-i-{k:03d}", nft=(table,)) for k in range(count)))
