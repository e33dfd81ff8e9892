"""The vpclab server: the AWS endpoint over HTTP, the store, and (later) the data plane.

aiohttp serves HTTP/1.1 with keep-alive and writes each response in one segment; the
handlers are synchronous and fast (in-memory reads, one fsync per write), so they run on
the event loop without a thread hop.
"""
from __future__ import annotations

import asyncio
import errno
import json
import logging
import os
import signal
import socket
import sqlite3
import time
from collections.abc import Callable, Collection, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from aiohttp import http_exceptions, web

from . import (
    control,  # noqa: F401  (registers every operation handler)
    model,
    state_lock,
)
from .console import routes as console_routes
from .control.common import lifecycle
from .protocol.errors import AwsError, InvalidQueryParameter
from .protocol.gateway import Gateway
from .protocol.identity import EndpointArrival
from .protocol.in_process import InProcessClient
from .protocol.request_guard import HttpRequest, RequestGuard
from .store import Store, open_store
from .store.credentials import Credentials

if TYPE_CHECKING:
    from .dataplane.agents import service_api
    from .dataplane.runtime import DataPlane

log = logging.getLogger("vpclab.server")


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())[:200] or type(exc).__name__


class _OneLineLogger(logging.LoggerAdapter):
    """aiohttp's protocol errors (a malformed request line, a broken body) as one line
    each: a client's bad request is not a server fault and gets no traceback."""

    def exception(self, msg: object, *args: object, exc_info: object = True, **kwargs: object) -> None:
        error = exc_info if isinstance(exc_info, BaseException) else None
        detail = f": {type(error).__name__}: {_one_line(error)}" if error is not None else ""
        self.warning(str(msg) + detail, *args)


DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566

#: The longest request URL and body served; longer ones get AWS-shaped 414 / 413 errors.
MAX_URL_BYTES = 8192
MAX_BODY_BYTES = 16 * 1024 * 1024

#: aiohttp's own limits sit above ours, so that a long URL or header reaches the handler
#: and gets an AWS error document instead of aiohttp's plain-text 400; what still trips
#: them (a 1 MiB request line) is logged as one line. Bodies arrive as sent: their
#: Content-Encoding is the protocol layer's to undo (protocol/content_coding.py).
HTTP_LIMITS = {"max_line_size": 1024 * 1024, "max_field_size": 64 * 1024, "auto_decompress": False,
               "logger": _OneLineLogger(logging.getLogger("vpclab.http"), {})}


def default_state_dir() -> Path:
    return Path(os.environ.get("VPCLAB_STATE_DIR", ".vpclab")).absolute()


def default_port() -> int:
    return int(os.environ.get("VPCLAB_PORT", DEFAULT_PORT))


def strict_auth_default() -> bool:
    return os.environ.get("VPCLAB_STRICT_AUTH", "").lower() in ("1", "true", "yes", "on")


@dataclass
class ServerConfig:
    state_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    dataplane: bool = True
    # Verify SigV4 signatures against the keys `vpclab accounts create` issued.
    strict_auth: bool = False
    # Host names accepted in the Host header besides loopback and the listening address.
    allowed_hosts: tuple[str, ...] = ()


def make_app(store: Store, state_dir: Path, dataplane: bool = False, *, strict_auth: bool = False,
             allowed_hosts: Collection[str] = (),
             dataplane_counters: Callable[[], dict[str, int]] | None = None,
             traffic: Callable[[], dict[str, dict[str, dict[str, int]]]] | None = None) -> web.Application:
    """The AWS endpoint; `dataplane` tells handlers whether states settle by observation.
    `dataplane_counters` (the data plane's pass counters) is shown by the health endpoint;
    `traffic` (its endpoints' and listeners' counters) by the console's topology view."""
    from .control.ec2.regions import REGIONS

    credentials = Credentials(state_dir)

    def issued_account(key_id: str) -> str | None:
        key = credentials.get(key_id) if key_id.startswith("AKIA") else None
        return key.account if key is not None else None

    def issued_secret(key_id: str) -> str | None:
        key = credentials.get(key_id)
        return key.secret_access_key if key is not None else None

    guard = RequestGuard(allowed_hosts, issued_secret if strict_auth else None)
    gateway = Gateway(store, dataplane, extras={"state_dir": state_dir}, regions=set(REGIONS),
                      guard=guard, issued=issued_account, max_body=MAX_BODY_BYTES)
    # Handlers that act through other operations (CloudFormation's resources) call them
    # in-process, as any client would: the same parser, handlers and errors.
    gateway.extras["calls"] = InProcessClient(gateway)
    # How long a stack operation's request waits for the operation to end (`stack_wait`).
    gateway.extras["stack_wait"] = stack_wait(os.environ)
    # Requests run on threads, never on the event loop: a request that waits (a stack
    # operation) holds up neither other requests nor the lifecycle timer on the loop.
    requests = ThreadPoolExecutor(max_workers=REQUEST_THREADS, thread_name_prefix="vpclab-api")

    async def aws(request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization", "")
        try:
            if len(request.raw_path) > MAX_URL_BYTES:
                raise AwsError(f"The request URL is longer than {MAX_URL_BYTES} bytes", code="RequestURITooLong",
                               status=414)
            body = await request.read()
        except AwsError as err:
            result = gateway.refuse(request.query_string, authorization, err)
        except web.HTTPRequestEntityTooLarge:
            result = gateway.refuse(request.query_string, authorization, AwsError(
                f"The request body is larger than {MAX_BODY_BYTES} bytes", code="RequestEntityTooLarge",
                status=413))
        except (web.RequestPayloadError, http_exceptions.HttpProcessingError) as exc:
            result = gateway.refuse(request.query_string, authorization, InvalidQueryParameter(
                f"The request body could not be read ({_one_line(exc)})"))
        else:
            result = await asyncio.get_running_loop().run_in_executor(requests, gateway.handle, HttpRequest(
                request.method, request.raw_path.partition("?")[0], request.query_string,
                {name.lower(): request.headers.getall(name) for name in request.headers}, body))
        return web.Response(
            status=result.status,
            body=result.body,
            headers={"Content-Type": result.content_type, "x-amzn-RequestId": result.request_id},
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "running", "services": ["ec2", "elbv2", "sts", "cloudformation"],
                                  "dataplane": dataplane_counters() if dataplane_counters else None})

    async def root(request: web.Request) -> web.StreamResponse:
        if console_routes.is_browser_root(request):
            raise web.HTTPFound(console_routes.PREFIX)
        return await aws(request)

    app = web.Application(client_max_size=MAX_BODY_BYTES, handler_args=HTTP_LIMITS)
    app[GATEWAY] = gateway
    app.router.add_get("/_vpclab/health", health)
    if not strict_auth:
        # The console signs in without keys; where only issued keys may drive the API
        # (strict mode), it would be a way round them, so it is not served.
        console_routes.add_routes(app, store, gateway, guard, credentials, sorted(REGIONS), traffic)
    app.router.add_get("/", root)
    app.router.add_route("*", "/{tail:.*}", aws)
    return app


#: The application's gateway: the data plane hands it requests through endpoints.
GATEWAY = web.AppKey("gateway", Gateway)

#: Threads that run API requests (`make_app`).
REQUEST_THREADS = 16

#: Seconds a CreateStack, UpdateStack, DeleteStack or ExecuteChangeSet request waits for
#: its operation to end before it answers (`VPCLAB_STACK_WAIT` overrides; 0: answer at
#: once, as AWS does). AWS answers at once because its operations take minutes, and the
#: AWS CLI's waiters then look every 30 s; vpclab's take seconds, so answering when done
#: lets `aws cloudformation deploy` find its stack complete at the first look.
STACK_WAIT = 20.0
STACK_WAIT_ENV = "VPCLAB_STACK_WAIT"


def stack_wait(environ: Mapping[str, str]) -> float:
    raw = environ.get(STACK_WAIT_ENV, "").strip()
    try:
        value = float(raw) if raw else STACK_WAIT
    except ValueError:
        log.warning("ignoring %s=%r (not a number)", STACK_WAIT_ENV, raw)
        return STACK_WAIT
    return max(0.0, value)


class CannotServe(Exception):
    """The server cannot start here (port in use, store unreadable); `str()` is the one
    line the CLI prints. A state directory's own problems are `state_lock.StateDirError`."""


async def serve(config: ServerConfig, ready_line: bool = True) -> None:
    """Serve until SIGINT/SIGTERM, then close the store cleanly.

    The state directory's lock comes first, before anything is written there: a second
    server on the same state directory stops at once, naming the running one
    (state_lock.py). The port is bound next, so a port in use is one line too, before
    the store opens or the data plane starts.
    """
    lock = state_lock.acquire(config.state_dir, {"pid": os.getpid()})
    try:
        sock = _bind(config)
        config = replace(config, port=sock.getsockname()[1])
        lock.record({"pid": os.getpid(), "url": f"http://{_url_host(config.host)}:{config.port}"})
        await _serve_bound(config, sock, ready_line)
    finally:
        lock.release()


async def _serve_bound(config: ServerConfig, sock: socket.socket, ready_line: bool) -> None:
    try:
        store = open_store(config.state_dir, model.KINDS)
    except (OSError, sqlite3.Error) as exc:
        sock.close()
        raise CannotServe(f"cannot open the store in {config.state_dir}: {exc}") from None
    runner: web.AppRunner | None = None
    dataplane = None
    try:
        # Recorded before the data plane starts making namespaces, so that `vpclab down`
        # finds a server that is still starting.
        _write_server_info(config, dataplane=None, ready=False)
        dataplane, off_reason = _start_dataplane(store, config)
        app = make_app(store, config.state_dir, dataplane is not None, strict_auth=config.strict_auth,
                       allowed_hosts=(*config.allowed_hosts, config.host),
                       dataplane_counters=dataplane.counters if dataplane is not None else None,
                       traffic=dataplane.traffic if dataplane is not None else None)
        if dataplane is not None:
            dataplane.api = _through_endpoint(app[GATEWAY])
            dataplane.poke()
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)
        await runner.setup()
        site = web.SockSite(runner, sock)
        try:
            await site.start()
        except OSError as exc:
            raise _port_error(config, exc) from None
        _write_server_info(config, dataplane=dataplane is not None, ready=True, dataplane_off=off_reason)
        settler = asyncio.create_task(_settle_forever(store, dataplane is not None))
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        if ready_line:
            print(
                f"vpclab ready on http://{config.host}:{config.port} (state: {config.state_dir})",
                flush=True,
            )
        try:
            await stop.wait()
        finally:
            settler.cancel()
    finally:
        if runner is not None:
            await runner.cleanup()
        sock.close()
        if dataplane is not None:
            await asyncio.to_thread(dataplane.stop)
        store.close()
        info = read_server_info(config.state_dir, ready_only=False)
        if info is not None and info["pid"] == os.getpid():
            (config.state_dir / "server.json").unlink(missing_ok=True)


def _through_endpoint(gateway: Gateway) -> service_api.Api:
    """The gateway as the data plane calls it for a request through an endpoint."""
    def handle(method: str, path: str, query: str, headers: dict[str, list[str]], body: bytes,
               arrival: EndpointArrival) -> tuple[int, bytes, dict[str, str]]:
        result = gateway.handle(HttpRequest(method, path, query, headers, body), arrival)
        return result.status, result.body, {"Content-Type": result.content_type,
                                            "x-amzn-RequestId": result.request_id}
    return handle


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _bind(config: ServerConfig) -> socket.socket:
    """A socket bound (not yet listening) to the configured address, or CannotServe.

    SO_REUSEADDR lets a restarted server bind while old connections sit in TIME_WAIT; it
    still refuses a port some program listens on."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            config.host, config.port, type=socket.SOCK_STREAM)[0]
    except socket.gaierror as exc:
        raise CannotServe(f"cannot listen on {config.host}: {exc.strerror}") from None
    sock = socket.socket(family, kind, proto)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind(address)
    except OSError as exc:
        sock.close()
        raise _port_error(config, exc) from None
    return sock


def _port_error(config: ServerConfig, exc: OSError) -> CannotServe:
    where = f"{_url_host(config.host)}:{config.port}"
    if exc.errno == errno.EADDRINUSE:
        return CannotServe(f"port {config.port} is in use on {config.host} (another program listens "
                           f"there); choose another with --port or VPCLAB_PORT")
    if exc.errno == errno.EADDRNOTAVAIL:
        return CannotServe(f"cannot listen on {where}: {config.host} is not an address of this machine")
    if exc.errno == errno.EACCES:
        return CannotServe(f"cannot listen on {where}: ports below 1024 need root")
    return CannotServe(f"cannot listen on {where}: {exc.strerror or exc}")


def _write_server_info(config: ServerConfig, dataplane: bool | None, ready: bool,
                       dataplane_off: str | None = None) -> None:
    """Which process serves this state directory and where, for `vpclab status`, `lab`
    and `down`: the one record of a running server. `dataplane_off` is why there is no
    data plane (the line the server printed at start), for `status` and the lab."""
    info = {"pid": os.getpid(), "host": config.host, "port": config.port,
            "url": f"http://{_url_host(config.host)}:{config.port}", "dataplane": dataplane, "ready": ready,
            "dataplane_off": dataplane_off}
    tmp = config.state_dir / "server.json.tmp"
    tmp.write_text(json.dumps(info))
    tmp.replace(config.state_dir / "server.json")


def read_server_info(state_dir: Path, ready_only: bool = True) -> dict | None:
    """The running server of `state_dir` (its pid alive and a vpclab; listening unless
    `ready_only` is False), or None."""
    try:
        info = json.loads((state_dir / "server.json").read_text())
        cmdline = Path(f"/proc/{int(info['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if b"vpclab" not in cmdline or (ready_only and not info.get("ready")):
        return None
    return info


def _start_dataplane(store: Store, config: ServerConfig) -> tuple[DataPlane | None, str | None]:
    """The data plane and None, or None and why not (said once, in one line, when it
    cannot run here)."""
    if not config.dataplane:
        print("vpclab: data plane off (--no-dataplane): control plane only", flush=True)
        return None, "--no-dataplane"
    from .dataplane.runtime import DataPlane, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"vpclab: data plane off: {reason}; serving the control plane only "
              "(no traffic; targets stay 'initial')", flush=True)
        return None, reason
    dataplane = DataPlane(store, config.state_dir)
    dataplane.start()
    return dataplane, None


async def _settle_forever(store: Store, dataplane: bool, period: float = 0.1) -> None:
    """Move transitional states on by time where nothing observes them (control/lifecycle.py)."""
    while True:
        await asyncio.sleep(period)
        try:
            lifecycle.settle(store, time.time(), control.LIFECYCLE_STEPS, dataplane)
        except Exception:  # a bug in one step must not stop the server
            log.exception("lifecycle step failed")


def run(config: ServerConfig) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(config))
