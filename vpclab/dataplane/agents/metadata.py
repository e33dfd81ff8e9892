"""The instance metadata service: one thread serves 169.254.169.254:80 in every VPC.

As the DNS agent does for the resolver, it opens a listening socket *inside* each VPC
router namespace (the router's service bridge holds 169.254.169.254, `areas/network.py`)
and serves them all from one selector loop. A connection belongs to the instance whose ENI
has the connection's source address in that VPC (`metadata_answers.views_for`); from an
address no instance has, the connection is closed at once. What a request gets is
`metadata_answers.respond`; this module is sockets and HTTP/1.x framing.

Nothing a client does can hold the loop or grow memory without bound: sockets are
non-blocking; a request's head is at most `MAX_HEAD` bytes and its body `MAX_BODY`; a
request must arrive whole within `REQUEST_TIMEOUT` seconds of its first byte being
awaited (a slow sender is cut off when it is due, however it trickles), an idle
keep-alive connection is closed after `IDLE_TIMEOUT`; there are at most
`MAX_CONNECTIONS` connections, `MAX_PER_SOURCE` from one address.

A connection that came over an endpoint link (it carries the link's mark, which an
accepted socket inherits where the router has `tcp_fwmark_accept`) is from another VPC,
whose addresses may be this VPC's too: it is closed, never answered as a local instance.
"""
from __future__ import annotations

import logging
import queue
import selectors
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from typing import cast

from ...kernel import netns
from ..areas.network import vpc_namespace
from ..world import METADATA_ADDRESS, AgentHost, World
from .metadata_answers import (
    REASONS,
    InstanceView,
    Reply,
    Request,
    Tokens,
    error,
    respond,
    views_for,
)

log = logging.getLogger("vpclab.metadata")

PORT = 80
MAX_HEAD = 8192
MAX_BODY = 4096
REQUEST_TIMEOUT = 5.0
IDLE_TIMEOUT = 5.0
LINGER = 2.0
MAX_CONNECTIONS = 512
MAX_PER_SOURCE = 32
SERVER = "EC2ws"


@dataclass
class _Listener:
    vpc_id: str
    namespace: str
    inode: int
    sock: socket.socket


@dataclass
class _Connection:
    sock: socket.socket
    vpc_id: str
    peer: str
    instance_id: str
    deadline: float
    inbuf: bytearray = field(default_factory=bytearray)
    outbuf: bytearray = field(default_factory=bytearray)
    close_after: bool = False
    closed: bool = False


class _BadRequest(Exception):
    """The bytes are no HTTP request (or one larger than the bounds)."""


class MetadataService:
    """The agent: one listener per VPC namespace, one selector thread for all of them."""

    def __init__(self, prefix: str, clock: Callable[[], float] = time.monotonic):
        self.prefix = prefix
        self.clock = clock
        self.tokens = Tokens()
        self._views: dict[tuple[str, str], InstanceView] = {}
        self._listeners: dict[str, _Listener] = {}  # by VPC id; touched by `sync` only
        self._connections: dict[int, _Connection] = {}  # by fd; touched by the loop only
        self._commands: queue.SimpleQueue[tuple[str, _Listener]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._views_changed = False
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="vpclab-metadata", daemon=True)
        self._thread.start()

    # Agent ----------------------------------------------------------------------------
    def sync(self, world: World) -> None:
        views = views_for(world)
        with self._lock:
            self._views = views
            self._views_changed = True
        for vpc_id in list(self._listeners):
            listener = self._listeners[vpc_id]
            if vpc_id not in world.vpcs or (
                    listener.namespace and netns.inode_of(listener.namespace) != listener.inode):
                self._command("drop", self._listeners.pop(vpc_id))
        for vpc_id in world.vpcs:
            if vpc_id not in self._listeners:
                self._open(vpc_id)

    def close(self) -> None:
        self._closed.set()
        self._wake()
        self._thread.join(timeout=5)
        for listener in self._listeners.values():
            listener.sock.close()
        self._listeners.clear()
        if not self._thread.is_alive():
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def view(self, vpc_id: str, ip: str) -> InstanceView | None:
        with self._lock:
            return self._views.get((vpc_id, ip))

    # Listeners (sync's thread) ----------------------------------------------------------
    def _open(self, vpc_id: str) -> None:
        name = vpc_namespace(self.prefix, vpc_id)
        inode = netns.inode_of(name)
        if inode is None:
            return
        try:
            sock = netns.run_in(name, netns.listening_socket, METADATA_ADDRESS, PORT, 128)
        except OSError as exc:  # the service address is not up yet: next pass
            log.debug("metadata for %s not served yet: %s", vpc_id, exc)
            return
        self.adopt(vpc_id, sock, name, inode)

    def adopt(self, vpc_id: str, sock: socket.socket, namespace: str = "", inode: int = 0) -> None:
        """Serve the listening socket `sock` as VPC `vpc_id`'s service (a test serves one
        on 127.0.0.1 this way: `sync` keeps it while the World has the VPC)."""
        sock.setblocking(False)
        listener = _Listener(vpc_id, namespace, inode, sock)
        self._listeners[vpc_id] = listener
        self._command("add", listener)

    def _command(self, what: str, listener: _Listener) -> None:
        self._commands.put((what, listener))
        self._wake()

    def _wake(self) -> None:
        try:
            self._wake_w.send(b"x")
        except OSError:
            pass

    # The loop ---------------------------------------------------------------------------
    def _serve(self) -> None:
        try:
            while not self._closed.is_set():
                timeout = self._next_timeout()
                for key, events in self._selector.select(timeout):
                    try:
                        self._dispatch(key, events)
                    except Exception:
                        log.exception("metadata request failed")
                self._expire()
        finally:
            for conn in list(self._connections.values()):
                self._close(conn)

    def _next_timeout(self) -> float:
        now = self.clock()
        due = min((c.deadline for c in self._connections.values()), default=now + 1.0)
        return max(0.0, min(1.0, due - now))

    def _dispatch(self, key: selectors.SelectorKey, events: int) -> None:
        data = key.data
        if data is None:
            self._drain_wake()
        elif isinstance(data, _Listener):
            self._accept(data)
        else:
            conn = cast(_Connection, data)
            if events & selectors.EVENT_READ:
                self._read(conn)
            if events & selectors.EVENT_WRITE and not conn.closed:
                self._flush(conn)
                if not conn.closed and not conn.outbuf:
                    self._handle(conn)  # requests that came in while the answer was sent

    def _drain_wake(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        while True:
            try:
                what, listener = self._commands.get_nowait()
            except queue.Empty:
                return
            if what == "add":
                self._selector.register(listener.sock, selectors.EVENT_READ, listener)
            else:
                for conn in [c for c in self._connections.values() if c.vpc_id == listener.vpc_id]:
                    self._close(conn)
                try:
                    self._selector.unregister(listener.sock)
                except (KeyError, ValueError):
                    pass
                listener.sock.close()

    def _expire(self) -> None:
        """Close connections that are due; forget tokens of instances no longer served."""
        with self._lock:
            live = {v.instance_id for v in self._views.values()} if self._views_changed else None
            self._views_changed = False
        if live is not None:
            self.tokens.keep_only(live)
        now = self.clock()
        for conn in [c for c in self._connections.values() if c.deadline <= now]:
            self._close(conn)

    # Connections ------------------------------------------------------------------------
    def _accept(self, listener: _Listener) -> None:
        for _ in range(64):
            try:
                sock, (peer, _port) = listener.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. out of descriptors: try again on the next event
                log.debug("accept in %s: %s", listener.vpc_id, exc)
                return
            view = self.view(listener.vpc_id, peer)
            if (view is None or sock.getsockopt(socket.SOL_SOCKET, socket.SO_MARK) != 0
                    or len(self._connections) >= MAX_CONNECTIONS
                    or sum(1 for c in self._connections.values()
                           if c.vpc_id == listener.vpc_id and c.peer == peer) >= MAX_PER_SOURCE):
                sock.close()
                continue
            sock.setblocking(False)
            conn = _Connection(sock, listener.vpc_id, peer, view.instance_id,
                               deadline=self.clock() + REQUEST_TIMEOUT)
            self._connections[sock.fileno()] = conn
            self._selector.register(sock, selectors.EVENT_READ, conn)

    def _read(self, conn: _Connection) -> None:
        try:
            chunk = conn.sock.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self._close(conn)
            return
        if not chunk:
            self._close(conn)
            return
        if conn.close_after:  # answered for good: drop what follows
            return
        conn.inbuf += chunk
        self._handle(conn)

    def _handle(self, conn: _Connection) -> None:
        """Answer the whole requests in the buffer, in order, one at a time: the next only
        once the last answer is sent (a client that pipelines without reading is not read
        from, so neither buffer grows)."""
        while conn.inbuf and not conn.close_after and not conn.outbuf and not conn.closed:
            try:
                parsed = _parse(conn.inbuf)
            except _BadRequest:
                conn.inbuf.clear()
                self._send(conn, error(400), head_only=False, keep_alive=False)
                break
            if parsed is None:
                break
            request, version, used = parsed
            del conn.inbuf[:used]
            view = self.view(conn.vpc_id, conn.peer)
            if view is None or view.instance_id != conn.instance_id:
                self._close(conn)  # the instance is gone, or the address is another's now
                return
            reply = respond(view, request, self.tokens, self.clock())
            keep = version == "HTTP/1.1" and request.headers.get("connection", "").lower() != "close"
            self._send(conn, reply, head_only=request.method == "HEAD", keep_alive=keep)
            conn.deadline = self.clock() + (IDLE_TIMEOUT if not conn.inbuf else REQUEST_TIMEOUT)

    def _send(self, conn: _Connection, reply: Reply, head_only: bool, keep_alive: bool) -> None:
        if reply.ip_ttl is not None:
            try:
                conn.sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, reply.ip_ttl)
            except OSError:
                pass
        conn.outbuf += _render(reply, head_only, keep_alive)
        conn.close_after = not keep_alive
        self._flush(conn)

    def _flush(self, conn: _Connection) -> None:
        if conn.closed:
            return
        try:
            while conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._close(conn)
            return
        if conn.outbuf:
            self._selector.modify(conn.sock, selectors.EVENT_WRITE, conn)
            return
        if conn.close_after:
            # A lingering close: what the client still sends is read and dropped until it
            # closes too (or `LINGER` passes), so that unread input does not turn the close
            # into a reset that destroys the answer before the client read it.
            try:
                conn.sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._close(conn)
                return
            conn.deadline = min(conn.deadline, self.clock() + LINGER)
        self._selector.modify(conn.sock, selectors.EVENT_READ, conn)

    def _close(self, conn: _Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        self._connections.pop(conn.sock.fileno(), None)
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def connection_count(self) -> int:
        """Open client connections (for tests of the bounds)."""
        return len(self._connections)

    def buffered(self) -> int:
        """Bytes held for all connections, read and not yet answered or answered and not
        yet sent (for tests of the bounds)."""
        return sum(len(c.inbuf) + len(c.outbuf) for c in list(self._connections.values()))


def _parse(buf: bytearray) -> tuple[Request, str, int] | None:
    """(request, HTTP version, bytes used) once `buf` holds a whole request, None while
    more is needed; `_BadRequest` for what is no request or exceeds the bounds."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > MAX_HEAD:
            raise _BadRequest()
        return None
    if end > MAX_HEAD:
        raise _BadRequest()
    try:
        head = bytes(buf[:end]).decode("ascii")
    except UnicodeDecodeError:
        raise _BadRequest() from None
    lines = head.split("\r\n")
    fields = lines[0].split(" ")
    if len(fields) != 3 or not fields[0].isalpha() or not fields[0].isupper():
        raise _BadRequest()
    method, target, version = fields
    if version not in ("HTTP/1.0", "HTTP/1.1") or not target.startswith("/"):
        raise _BadRequest()
    headers: dict[str, str] = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if not sep or not name or name != name.strip() or any(c in name for c in " \t"):
            raise _BadRequest()
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise _BadRequest()
    length = headers.get("content-length", "0")
    if not length.isdigit() or int(length) > MAX_BODY:
        raise _BadRequest()
    used = end + 4 + int(length)
    if len(buf) < used:
        return None
    return Request(method, target.split("?", 1)[0], headers), version, used


def _render(reply: Reply, head_only: bool, keep_alive: bool) -> bytes:
    lines = [f"HTTP/1.1 {reply.status} {REASONS[reply.status]}",
             f"Content-Type: {reply.content_type}",
             "Accept-Ranges: none",
             f"Content-Length: {len(reply.body)}",
             f"Date: {formatdate(usegmt=True)}",
             f"Server: {SERVER}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{name}: {value}" for name, value in reply.headers]
    head = ("\r\n".join(lines) + "\r\n\r\n").encode()
    return head if head_only else head + reply.body


def make_agent(dp: AgentHost) -> MetadataService:
    return MetadataService(dp.prefix)
