"""Proxy protocol v2: the header, and the relay an NLB node runs for target groups that want it.

Header (haproxy's doc/proxy-protocol.txt, section 2.2)
------------------------------------------------------
16 fixed bytes, then the address block, then TLVs:

    sig[12]  0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A
    ver_cmd  0x21: version 2 (high nibble), command PROXY (low nibble; LOCAL is 0x20)
    fam      0x11: AF_INET (high nibble) + STREAM (low nibble); 0x00 = UNSPEC (LOCAL)
    len      u16 big-endian: the number of bytes after these 16 — the address block
             (12 for TCP over IPv4: src addr, dst addr, src port, dst port) *and* every TLV
    TLV      type u8, length u16 big-endian (of the value only), value

AWS adds, for traffic that came through an interface endpoint, the TLV type 0xEA
(PP2_TYPE_AWS, in the spec's 0xE0-0xEF application range) whose value is the subtype
0x01 (PP2_SUBTYPE_AWS_VPCE_ID) followed by the endpoint id in ASCII. AWS also sends the
header on health check connections, with no client information: that is a LOCAL header
(`build_local_header`).

Relay
-----
For a target group with proxy protocol v2 on, each node of each NLB whose listeners
forward to it runs a TCP listener on ``<node address>:<nodes.relay_port(...)>`` inside
the router namespace the node is an address of; the NLB area DNATs the listener's
traffic there. The relay reads the address the client meant (SO_ORIGINAL_DST, i.e.
before that DNAT) and the client's address, picks a target from the node's forwarding
set (`nodes.forwarding_set`, as the kernel path does) by flow hash, connects to it from
the node's private IP, sends the header, and splices both ways. It names the endpoint a
PrivateLink connection came through from the link mark its socket inherited.

The relays run on the health agent's event loop (`health.py` owns them).
"""
from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import socket
import struct
from dataclasses import dataclass, field

from ...kernel import netns
from ...model.elbv2 import LoadBalancer, SubnetMapping, TargetGroup
from ..areas import endpoints, transit
from ..areas.nodes import forwarding_set, node_namespace, relay_ports
from ..world import World

log = logging.getLogger("vpclab.dataplane.proxy_v2")

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
assert SIGNATURE == bytes.fromhex("0D0A0D0A000D0A515549540A")
VERSION_2 = 0x20
CMD_LOCAL = 0x00
CMD_PROXY = 0x01
AF_UNSPEC = 0x00
AF_INET = 0x10
PROTO_STREAM = 0x01
HEADER_FIXED = 16
IPV4_ADDRESS_BLOCK = 12

PP2_TYPE_AWS = 0xEA
PP2_SUBTYPE_AWS_VPCE_ID = 0x01

Address = tuple[str, int]


class HeaderError(ValueError):
    """Bytes that are not a (complete, valid) proxy protocol v2 header."""


@dataclass(frozen=True)
class ProxyHeader:
    command: int  # CMD_PROXY | CMD_LOCAL
    family: int  # the fam byte: 0x11 TCP over IPv4, 0x00 UNSPEC, ...
    source: Address | None
    destination: Address | None
    tlvs: tuple[tuple[int, bytes], ...]
    size: int  # bytes the header takes on the wire (16 + len)

    @property
    def endpoint_id(self) -> str | None:
        """The VPC endpoint id of AWS's TLV 0xEA / subtype 0x01, if present."""
        for kind, value in self.tlvs:
            if kind == PP2_TYPE_AWS and value[:1] == bytes([PP2_SUBTYPE_AWS_VPCE_ID]):
                return value[1:].decode("ascii")
        return None


def tlv(kind: int, value: bytes) -> bytes:
    if not 0 <= kind <= 0xFF or len(value) > 0xFFFF:
        raise ValueError("TLV type must be a byte and its value at most 65535 bytes")
    return struct.pack("!BH", kind, len(value)) + value


def build_header(src: Address, dst: Address, endpoint_id: str | None = None) -> bytes:
    """A PROXY (command) header for a TCP over IPv4 connection from `src` to `dst`.

    With `endpoint_id`, AWS's TLV 0xEA (subtype 0x01 + the id in ASCII) follows the
    addresses; the length field counts it.
    """
    body = (ipaddress.IPv4Address(src[0]).packed + ipaddress.IPv4Address(dst[0]).packed
            + struct.pack("!HH", src[1], dst[1]))
    if endpoint_id is not None:
        body += tlv(PP2_TYPE_AWS, bytes([PP2_SUBTYPE_AWS_VPCE_ID]) + endpoint_id.encode("ascii"))
    return SIGNATURE + bytes([VERSION_2 | CMD_PROXY, AF_INET | PROTO_STREAM]) + struct.pack("!H", len(body)) + body


def build_local_header() -> bytes:
    """A LOCAL header (what AWS sends on health check connections: no client information)."""
    return SIGNATURE + bytes([VERSION_2 | CMD_LOCAL, AF_UNSPEC]) + struct.pack("!H", 0)


def header_size(data: bytes) -> int | None:
    """Total size of the header `data` starts with, or None if fewer than 16 bytes came yet."""
    if len(data) < HEADER_FIXED:
        return None
    if data[:12] != SIGNATURE:
        raise HeaderError("no proxy protocol v2 signature")
    return HEADER_FIXED + struct.unpack("!H", data[14:16])[0]


def parse_header(data: bytes) -> ProxyHeader:
    """Parse the v2 header at the start of `data` (bytes after it are ignored)."""
    size = header_size(data)
    if size is None or len(data) < size:
        raise HeaderError("incomplete proxy protocol v2 header")
    ver_cmd, fam = data[12], data[13]
    if ver_cmd & 0xF0 != VERSION_2:
        raise HeaderError(f"version {ver_cmd >> 4} is not 2")
    command = ver_cmd & 0x0F
    if command not in (CMD_LOCAL, CMD_PROXY):
        raise HeaderError(f"unknown command {command}")
    body = data[HEADER_FIXED:size]
    source = destination = None
    rest = body
    if fam >> 4 == AF_INET >> 4:
        if len(body) < IPV4_ADDRESS_BLOCK:
            raise HeaderError("address block shorter than 12 bytes for AF_INET")
        src_port, dst_port = struct.unpack("!HH", body[8:12])
        source = (str(ipaddress.IPv4Address(body[0:4])), src_port)
        destination = (str(ipaddress.IPv4Address(body[4:8])), dst_port)
        rest = body[IPV4_ADDRESS_BLOCK:]
    elif fam != 0x00:
        raise HeaderError(f"unsupported family/protocol byte {fam:#04x}")
    else:
        rest = b""  # UNSPEC: the receiver skips the whole block
    tlvs = []
    while rest:
        if len(rest) < 3:
            raise HeaderError("truncated TLV")
        kind, length = struct.unpack("!BH", rest[:3])
        if len(rest) < 3 + length:
            raise HeaderError("TLV longer than the header")
        tlvs.append((kind, bytes(rest[3:3 + length])))
        rest = rest[3 + length:]
    return ProxyHeader(command, fam, source, destination, tuple(tlvs), size)


# Which endpoint a connection came through ----------------------------------------------------

def endpoint_for_mark(world: World, mark: int) -> str | None:
    """The VPC endpoint id whose link delivered a connection whose socket carries `mark`,
    or None (traffic from inside the provider VPC, mark 0).

    A PrivateLink flow DNATed to a relay carries its link's mark (`transit.mark`), and the
    accepted socket inherits it (``tcp_fwmark_accept``); the endpoint area knows which
    endpoint each link index serves (`endpoints.link_endpoints`).
    """
    index = transit.index_of_mark(mark)
    if index is None:
        return None
    cached = _links_cache.get("last")
    if cached is None or cached[0] is not world:
        cached = (world, endpoints.link_endpoints(world))
        _links_cache["last"] = cached  # one world at a time: computed once per pass
    return cached[1].get(index)


_links_cache: dict[str, tuple[World, dict[int, str]]] = {}


# Target choice -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Upstream:
    target_id: str  # the registered id (the address where only that is known)
    address: str
    port: int


def flow_hash(src: Address, dst: Address) -> int:
    key = f"{src[0]}:{src[1]}>{dst[0]}:{dst[1]}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big")


def pick_target(world: World, lb: LoadBalancer, mapping: SubnetMapping, tg: TargetGroup,
                src: Address, dst: Address) -> Upstream | None:
    """The target a new flow from `src` to `dst` arriving at node `mapping` goes to.

    The forwarding set is the nodes' own (`nodes.forwarding_set`), so the relay and the
    kernel path follow one policy.
    """
    candidates = [Upstream(ip, ip, port) for ip, port in forwarding_set(world, lb, mapping, tg)]
    if not candidates:
        return None
    return candidates[flow_hash(src, dst) % len(candidates)]


# The relay -------------------------------------------------------------------------------------

SO_ORIGINAL_DST = 80  # linux/netfilter_ipv4.h


def original_destination(sock: socket.socket) -> Address:
    """The destination the client connected to before the node's DNAT (conntrack)."""
    raw = sock.getsockopt(socket.SOL_IP, SO_ORIGINAL_DST, 16)
    port = struct.unpack("!H", raw[2:4])[0]
    return str(ipaddress.IPv4Address(raw[4:8])), port


def client_socket(namespace: str, source_ip: str | None = None) -> socket.socket:
    """A non-blocking TCP socket that belongs to `namespace` (bound to `source_ip`)."""
    return netns.run_in(namespace, netns.client_socket, source_ip)


@dataclass(frozen=True)
class RelaySpec:
    """One relay: (node, target group), where it listens and who it is."""

    namespace: str  # the router namespace the node is an address of
    port: int
    lb_arn: str
    tg_arn: str
    node_ip: str
    zone: str


#: A relay's key: (namespace, node address, target group arn).
RelayKey = tuple[str, str, str]


def desired_relays(world: World, prefix: str) -> dict[RelayKey, RelaySpec]:
    out: dict[RelayKey, RelaySpec] = {}
    for lb in world.load_balancers.values():
        ports = relay_ports(world, lb.id)
        if not ports:
            continue
        for mapping in lb.mappings:
            ns = node_namespace(world, prefix, mapping)
            node_ip = mapping.private_ip
            if ns is None or not mapping.network_interface_id or not node_ip:
                continue
            for tg_arn, port in ports.items():
                out[(ns, node_ip, tg_arn)] = RelaySpec(ns, port, lb.id, tg_arn, node_ip, mapping.zone)
    return out


@dataclass
class _Running:
    spec: RelaySpec
    inode: int
    sock: socket.socket
    task: asyncio.Task
    connections: set[asyncio.Task] = field(default_factory=set)


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (OSError, RuntimeError):
            pass


class Relay:
    """The proxy protocol relays of every NLB node; runs on `loop` (in another thread).

    `sync(world)` is called from the data plane thread; everything else runs on the loop.
    """

    def __init__(self, prefix: str, loop: asyncio.AbstractEventLoop, connect_timeout: float = 10.0):
        self.prefix = prefix
        self.loop = loop
        self.connect_timeout = connect_timeout
        self.world = World()
        self._running: dict[RelayKey, _Running] = {}

    # Called from the data plane thread.
    def sync(self, world: World) -> None:
        desired = desired_relays(world, self.prefix)
        inodes = {ns: netns.inode_of(ns) for ns in {s.namespace for s in desired.values()}}
        asyncio.run_coroutine_threadsafe(self._sync(world, desired, inodes), self.loop).result(timeout=30)

    def close(self) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self._sync(World(), {}, {}), self.loop).result(timeout=10)

    # On the loop.
    async def _sync(self, world: World, desired: dict[RelayKey, RelaySpec],
                    inodes: dict[str, int | None]) -> None:
        self.world = world
        for key, running in list(self._running.items()):
            spec = desired.get(key)
            if spec != running.spec or inodes.get(running.spec.namespace) != running.inode:
                self._stop(key)
        for key, spec in desired.items():
            inode = inodes.get(spec.namespace)
            if key in self._running or inode is None:
                continue
            try:
                sock = await self.loop.run_in_executor(None, netns.run_in, spec.namespace,
                                                       netns.listening_socket, spec.node_ip, spec.port, 512)
            except OSError as exc:
                log.warning("relay %s:%d in %s: %s", spec.tg_arn, spec.port, spec.namespace, exc)
                continue
            task = self.loop.create_task(self._accept_loop(key, spec, sock))
            self._running[key] = _Running(spec, inode, sock, task)

    def _stop(self, key: RelayKey) -> None:
        running = self._running.pop(key)
        running.task.cancel()
        running.sock.close()
        # Open connections keep going (as an NLB keeps existing flows) until they end.

    async def _accept_loop(self, key: RelayKey, spec: RelaySpec, sock: socket.socket) -> None:
        while True:
            try:
                conn, peer = await self.loop.sock_accept(sock)
            except asyncio.CancelledError:
                raise
            except OSError as exc:
                log.warning("relay accept in %s: %s", spec.namespace, exc)
                await asyncio.sleep(0.1)
                continue
            task = self.loop.create_task(self._serve(spec, conn, peer))
            running = self._running.get(key)
            if running is not None:
                running.connections.add(task)
                task.add_done_callback(running.connections.discard)

    async def _serve(self, spec: RelaySpec, conn: socket.socket, peer: Address) -> None:
        upstream_writer = None
        try:
            conn.setblocking(False)
            try:
                dst = original_destination(conn)
            except OSError:
                dst = conn.getsockname()[:2]
            world = self.world
            lb = world.load_balancers.get(spec.lb_arn)
            tg = world.target_groups.get(spec.tg_arn)
            mapping = next((m for m in (lb.mappings if lb else []) if m.private_ip == spec.node_ip), None)
            if lb is None or tg is None or mapping is None:
                return
            target = pick_target(world, lb, mapping, tg, peer, dst)
            if target is None:
                return
            endpoint_id = endpoint_for_mark(world, conn.getsockopt(socket.SOL_SOCKET, socket.SO_MARK))
            out = await self.loop.run_in_executor(None, client_socket, spec.namespace, spec.node_ip)
            try:
                await asyncio.wait_for(self.loop.sock_connect(out, (target.address, target.port)),
                                       self.connect_timeout)
            except (OSError, asyncio.TimeoutError):
                out.close()
                return
            await self.loop.sock_sendall(out, build_header(peer, dst, endpoint_id))
            client_reader, client_writer = await asyncio.open_connection(sock=conn)
            upstream_reader, upstream_writer = await asyncio.open_connection(sock=out)
            await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
            client_writer.close()
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - one connection must not end the relay
            log.exception("relay connection in %s", spec.namespace)
        finally:
            if upstream_writer is not None:
                upstream_writer.close()
            conn.close()

    def listening(self) -> list[RelaySpec]:
        return [r.spec for r in self._running.values()]

