"""vpclab's API inside VPCs: HTTPS at the ENIs of interface endpoints to its services.

For every ENI of an endpoint to a service vpclab serves (`areas/service_endpoints.py`)
this agent listens on the ENI's address, port 443, in the VPC's router namespace (a
socket made there keeps to it), speaks TLS with a certificate of the state directory's
CA (`store/certificate_authority.py`) for the service's names, and hands each request
to the API (`DataPlane.api`, the server's gateway) as a request through that endpoint:
the service it is for, the names it answers to and the account it acts as are the
endpoint's (`protocol.identity.EndpointArrival`), never what the request claims.

There is no other way from a VPC to the API: the router has no route to the host, and
nothing else listens for it. An endpoint deleted (or its ENI) closes its listener at the
next pass, and connections in flight with it.

One event loop thread serves every listener (aiohttp, one small application per ENI, so
a request is known by the listener it came in on, even where overlapping VPCs reuse an
address); requests run on a few threads of their own.
"""
from __future__ import annotations

import asyncio
import errno
import logging
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from aiohttp import web

from ...kernel import netns
from ...store.certificate_authority import CertificateAuthority
from ..areas.service_endpoints import PORT, ServiceEni, router_of, service_enis
from ..world import AgentHost, World

log = logging.getLogger("vpclab.dataplane.service_api")

BACKLOG = 128
REQUEST_THREADS = 4
#: The largest request body accepted through an endpoint (the server's own limit).
MAX_BODY = 16 * 1024 * 1024

Key = tuple[str, str]  # (router namespace, ENI address)


@dataclass(frozen=True)
class Arrival:
    """What the API is told of a request through an endpoint (the protocol layer's
    `identity.EndpointArrival`): the endpoint, the vpclab service it is to (ec2, elbv2,
    sts, cloudformation), its owner and region, and the names it answers to."""

    endpoint_id: str
    service: str
    account: str
    region: str
    host_names: frozenset[str]


#: The API as the server hands it to the data plane (the data plane knows no protocol):
#: (method, raw path, raw query, headers by lower-case name, body, arrival) ->
#: (status, body, response headers).
Api = Callable[[str, str, str, dict[str, list[str]], bytes, Arrival], tuple[int, bytes, dict[str, str]]]


@dataclass(frozen=True)
class Listener:
    namespace: str
    address: str
    arrival: Arrival
    certificate_names: tuple[str, ...]


def desired_listeners(world: World, prefix: str) -> dict[Key, Listener]:
    out: dict[Key, Listener] = {}
    for e in service_enis(world):
        ns = router_of(prefix, e)
        out[(ns, e.eni.private_ip)] = Listener(ns, e.eni.private_ip, _arrival(e), e.certificate_names())
    return out


def _arrival(e: ServiceEni) -> Arrival:
    assert e.service.served is not None
    return Arrival(e.endpoint.id, e.service.served, e.endpoint.account, e.region, e.host_names())


class ServiceApi:
    """Every listener of the API in VPCs."""

    def __init__(self, dp: AgentHost):
        self.dp = dp
        self.prefix = dp.prefix
        self.authority = CertificateAuthority(dp.state_dir)
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="vpclab-service-api", daemon=True)
        self._thread.start()
        self._requests = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="vpclab-vpce-api")
        self.sites: dict[Key, tuple[Listener, web.AppRunner]] = {}
        self._threads: dict[str, netns.NamespaceThread] = {}
        self._failed: set[Key] = set()

    # Called by the data plane loop after each apply.
    def sync(self, world: World) -> None:
        # The server sets `api` once its gateway exists, after the data plane started.
        api: Api | None = getattr(self.dp, "api", None)
        desired = desired_listeners(world, self.prefix) if api is not None else {}
        asyncio.run_coroutine_threadsafe(self._sync(desired, api), self.loop).result(timeout=30)

    def close(self) -> None:
        if not self.loop.is_running():
            return
        try:
            asyncio.run_coroutine_threadsafe(self._sync({}, None), self.loop).result(timeout=10)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self._requests.shutdown(wait=False, cancel_futures=True)
            for thread in self._threads.values():
                thread.close()
            self._threads.clear()

    def listening(self) -> list[Listener]:
        return sorted((listener for listener, _ in list(self.sites.values())),
                      key=lambda listener: (listener.namespace, listener.address))

    # Sockets in router namespaces --------------------------------------------------------

    def _socket(self, listener: Listener) -> socket.socket | None:
        """A listening socket in the listener's router, or None (the namespace or the
        address is not there yet: the next pass tries again)."""
        inode = netns.inode_of(listener.namespace)
        thread = self._threads.get(listener.namespace)
        if thread is not None and (not thread.alive or thread.inode != inode):
            thread.close()
            thread = None
            del self._threads[listener.namespace]
        if inode is None:
            return None
        if thread is None:
            thread = self._threads[listener.namespace] = netns.NamespaceThread(listener.namespace)
        return thread.call(netns.listening_socket, listener.address, PORT, BACKLOG)

    # On the loop -------------------------------------------------------------------------

    async def _sync(self, desired: dict[Key, Listener], api: Api | None) -> None:
        for key in [k for k in self.sites if desired.get(k) != self.sites[k][0]]:
            _listener, runner = self.sites.pop(key)
            await runner.cleanup()
        for key, listener in desired.items():
            if key in self.sites or api is None:
                continue
            try:
                sock = self._socket(listener)
            except OSError as exc:
                if key not in self._failed and exc.errno != errno.EADDRNOTAVAIL:
                    log.warning("cannot serve the API at %s in %s: %s", listener.address, listener.namespace, exc)
                self._failed.add(key)
                self.dp.poke()
                continue
            if sock is None:
                continue
            self._failed.discard(key)
            context = self.authority.server_context(listener.certificate_names)
            runner = web.AppRunner(self._app(listener, api), access_log=None, handle_signals=False,
                                   shutdown_timeout=0.5)
            await runner.setup()
            await web.SockSite(runner, sock, ssl_context=context).start()
            self.sites[key] = (listener, runner)
        for namespace in [n for n in self._threads if n not in {k[0] for k in self.sites}]:
            self._threads.pop(namespace).close()
        self._failed &= set(desired)

    def _app(self, listener: Listener, api: Api) -> web.Application:
        arrival = listener.arrival
        requests = self._requests

        async def handle(request: web.Request) -> web.Response:
            try:
                body = await request.read()
            except web.HTTPRequestEntityTooLarge:
                return web.Response(status=413, text="Request body too large")
            headers = {name.lower(): request.headers.getall(name) for name in request.headers}
            status, payload, response_headers = await asyncio.get_running_loop().run_in_executor(
                requests, api, request.method, request.raw_path.partition("?")[0], request.query_string,
                headers, body, arrival)
            return web.Response(status=status, body=payload, headers=response_headers)

        app = web.Application(client_max_size=MAX_BODY)
        app.router.add_route("*", "/{tail:.*}", handle)
        return app


def make_agent(dp: AgentHost) -> ServiceApi:
    return ServiceApi(dp)


