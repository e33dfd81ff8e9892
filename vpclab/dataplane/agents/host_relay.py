"""The user's machine on vpclab's internet: public address 198.18.x.y served at 127.18.x.y.

vpclab adds no address or route to the host's namespace, so the host reaches the
internet namespace (`areas/internet.py`) only through this relay: for every public
address, on the TCP ports that matter (`internet.exposed_ports`), it listens on the
address's host mapping (`model.internet.host_address`, always in 127.0.0.0/8) in the
host's namespace, and carries each connection to the public address from a socket made
in the internet namespace, whose source is the user's machine there
(`model.internet.HOST_ADDRESS`). What happens to the connection from there is the data
plane's: the gateway's NAT, the route tables, the security groups.

As on the internet, nothing that is not there answers: while the relay's connection to
the public address is not accepted (a security group drops it, the subnet has no route,
the instance is stopped), the host's connection is held open without data until the
client gives up or `CONNECT_TIMEOUT` passes, so a client times out as it would on AWS;
a refused connection (nothing listens on the instance's port) is refused to the client
too (a reset).

The relay runs on its own event loop thread. Bytes are copied by the loop's transports
with flow control on both sides (a slow reader pauses the other side's reads), so memory
stays bounded per connection.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
import struct
import threading
from dataclasses import dataclass

from ...kernel import netns
from ...model import internet
from ..areas.internet import exposed_ports, internet_namespace, public_enis
from ..world import AgentHost, World

log = logging.getLogger("vpclab.dataplane.host_relay")

#: How long the relay tries to reach a public address before it gives up on a held
#: client (Linux gives a connect about two minutes; browsers and curl give up sooner).
CONNECT_TIMEOUT = 75.0
BACKLOG = 512
#: Connections carried at once; more are refused (a client that opens thousands is
#: not a person at a browser).
MAX_CONNECTIONS = 4096

Key = tuple[str, int]  # (host address, port)


@dataclass(frozen=True)
class Exposure:
    """One listening socket: host address and port, and the public address it stands for."""

    host_ip: str
    port: int
    public_ip: str


def desired_exposures(world: World) -> dict[Key, Exposure]:
    out: dict[Key, Exposure] = {}
    for eni in public_enis(world):
        assert eni.association is not None
        public = eni.association.public_ip
        host = internet.host_address(public)
        for port in exposed_ports(world, eni):
            out[(host, port)] = Exposure(host, port, public)
    return out


def _host_listener(address: str, port: int) -> socket.socket:
    """A listener in the host namespace (the relay's thread never leaves it), on loopback only."""
    if not address.startswith("127."):
        raise ValueError(f"the host relay listens on 127.0.0.0/8 only, not {address}")
    return netns.listening_socket(address, port, BACKLOG)


class _Side(asyncio.Protocol):
    """One end of a relayed connection; `peer` is the other end's."""

    def __init__(self, relay: HostRelay):
        self.relay = relay
        self.transport: asyncio.Transport | None = None
        self.peer: _Side | None = None
        self.eof = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def data_received(self, data: bytes) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.write(data)

    def eof_received(self) -> bool:
        self.eof = True
        peer = self.peer
        if peer is None or peer.transport is None or peer.eof:
            return False  # both ways are done: close
        if peer.transport.can_write_eof():
            peer.transport.write_eof()
        return True  # keep the other direction open (a half-close)

    def pause_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.pause_reading()

    def resume_writing(self) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.resume_reading()

    def connection_lost(self, exc: Exception | None) -> None:
        if self.peer is not None and self.peer.transport is not None:
            self.peer.transport.close()
        self.peer = None


class _HostSide(_Side):
    """The host's end: held (not read) until the relay reached the public address."""

    def __init__(self, relay: HostRelay, exposure: Exposure):
        super().__init__(relay)
        self.exposure = exposure
        self.task: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        assert self.transport is not None
        if len(self.relay.connections) >= MAX_CONNECTIONS:
            self.reset()
            return
        self.relay.connections.add(self)
        self.transport.pause_reading()
        self.task = asyncio.get_running_loop().create_task(self.relay.connect(self))

    def connection_lost(self, exc: Exception | None) -> None:
        self.relay.connections.discard(self)
        if self.task is not None and not self.task.done():
            self.task.cancel()
        super().connection_lost(exc)

    def reset(self) -> None:
        """Close with a reset, as a refused connection is."""
        if self.transport is None:
            return
        sock = self.transport.get_extra_info("socket")
        if sock is not None:
            try:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            except OSError:
                pass
        self.transport.abort()


class HostRelay:
    """Listens on the host mappings of every public address and carries connections."""

    def __init__(self, dp: AgentHost, connect_timeout: float = CONNECT_TIMEOUT):
        self.prefix = dp.prefix
        self.connect_timeout = connect_timeout
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vpclab-host-relay", daemon=True)
        self._thread.start()
        self.servers: dict[Key, tuple[Exposure, asyncio.base_events.Server]] = {}
        self.connections: set[_HostSide] = set()
        self._refused: set[Key] = set()  # listeners the host would not let us open (logged once)
        self._internet: netns.NamespaceThread | None = None
        self._lock = threading.Lock()

    # Called by the data plane loop after each apply.
    def sync(self, world: World) -> None:
        self._check_internet()
        desired = desired_exposures(world)
        asyncio.run_coroutine_threadsafe(self._sync(desired), self.loop).result(timeout=30)

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._shutdown(), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            with self._lock:
                if self._internet is not None:
                    self._internet.close()
                    self._internet = None

    def listening(self) -> list[Exposure]:
        """What the relay serves now (for `vpclab` output and tests)."""
        return sorted((e for e, _ in list(self.servers.values())), key=lambda e: (e.host_ip, e.port))

    # The internet namespace's thread -------------------------------------------------------

    def _check_internet(self) -> None:
        """Keep one thread in the internet namespace (it makes the relay's sockets there);
        a namespace made again (after a repair) gets a new one."""
        name = internet_namespace(self.prefix)
        inode = netns.inode_of(name)
        with self._lock:
            current = self._internet
            if current is not None and current.alive and current.inode == inode:
                return
            if current is not None:
                current.close()
                self._internet = None
            if inode is not None:
                try:
                    self._internet = netns.NamespaceThread(name)
                except OSError as exc:
                    log.warning("cannot enter %s: %s", name, exc)

    def _make_inner(self) -> socket.socket | None:
        with self._lock:
            thread = self._internet
        if thread is None:
            return None
        try:
            # From the user's machine; TCP_NODELAY comes with the transport (`_Side`).
            return thread.call(netns.client_socket, internet.HOST_ADDRESS)
        except OSError as exc:
            log.debug("no socket in the internet namespace: %s", exc)
            return None

    # On the loop -----------------------------------------------------------------------

    async def _sync(self, desired: dict[Key, Exposure]) -> None:
        for key in [k for k in self.servers if desired.get(k) != self.servers[k][0]]:
            _exposure, server = self.servers.pop(key)
            server.close()
        loop = asyncio.get_running_loop()
        for key, exposure in desired.items():
            if key in self.servers:
                continue
            try:
                sock = _host_listener(exposure.host_ip, exposure.port)
            except OSError as exc:
                if key not in self._refused:
                    self._refused.add(key)
                    reason = ("another program on this machine holds the port on every address"
                              if exc.errno == errno.EADDRINUSE else str(exc))
                    log.warning("cannot serve %s (public %s) on %s:%d: %s",
                                exposure.public_ip, exposure.public_ip, exposure.host_ip, exposure.port, reason)
                continue
            self._refused.discard(key)
            server = await loop.create_server(lambda e=exposure: _HostSide(self, e), sock=sock,  # type: ignore[misc]
                                             backlog=BACKLOG)
            self.servers[key] = (exposure, server)
        self._refused &= set(desired)

    async def _shutdown(self) -> None:
        await self._sync({})
        for conn in list(self.connections):
            if conn.transport is not None:
                conn.transport.abort()
        self.connections.clear()

    async def connect(self, client: _HostSide) -> None:
        """Reach the public address for `client`; then relay, reset or hold (module doc)."""
        loop = asyncio.get_running_loop()
        exposure = client.exposure
        deadline = loop.time() + self.connect_timeout
        sock = self._make_inner()
        try:
            if sock is None:
                raise TimeoutError
            await asyncio.wait_for(loop.sock_connect(sock, (exposure.public_ip, exposure.port)),
                                   self.connect_timeout)
        except ConnectionRefusedError:
            if sock is not None:
                sock.close()
            client.reset()
            return
        except (OSError, TimeoutError):
            # Unreachable or unanswered: as the internet, say nothing; hold the client
            # until it gives up or the relay's own connect would have.
            if sock is not None:
                sock.close()
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            if client.transport is not None:
                client.transport.abort()
            return
        except asyncio.CancelledError:
            if sock is not None:
                sock.close()
            raise
        if client.transport is None or client.transport.is_closing():
            sock.close()
            return
        inner = _Side(self)
        await loop.create_connection(lambda: inner, sock=sock)
        inner.peer, client.peer = client, inner
        client.transport.resume_reading()


def make_agent(dp: AgentHost) -> HostRelay:
    return HostRelay(dp)
