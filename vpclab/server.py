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
from dataclasses import dataclass, replace
from pathlib import Path

from aiohttp import web

from . import control  # noqa: F401  (registers every operation handler)
from . import state_lock
from .control import lifecycle
from .protocol.gateway import Gateway
from .store import Store, open_store

log = logging.getLogger("vpclab.server")

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 4566


def default_state_dir() -> Path:
    return Path(os.environ.get("VPCLAB_STATE_DIR", ".vpclab")).absolute()


def default_port() -> int:
    return int(os.environ.get("VPCLAB_PORT", DEFAULT_PORT))


@dataclass
class ServerConfig:
    state_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    dataplane: bool = True


def make_app(store: Store, state_dir: Path, dataplane: bool = False) -> web.Application:
    """The AWS endpoint; `dataplane` tells handlers whether states settle by observation."""
    from .control.regions import REGIONS

    gateway = Gateway(store, dataplane, extras={"state_dir": state_dir}, regions=set(REGIONS))

    async def aws(request: web.Request) -> web.Response:
        body = await request.read()
        result = gateway.handle(request.headers, request.query_string, body)
        return web.Response(
            status=result.status,
            body=result.body,
            headers={"Content-Type": result.content_type, "x-amzn-RequestId": result.request_id},
        )

    async def health(_request: web.Request) -> web.Response:
        return web.json_response({"status": "running", "services": ["ec2", "elbv2", "sts"]})

    app = web.Application(client_max_size=16 * 1024 * 1024)
    app.router.add_get("/_vpclab/health", health)
    app.router.add_route("*", "/{tail:.*}", aws)
    return app


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
        store = open_store(config.state_dir)
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
        runner = web.AppRunner(make_app(store, config.state_dir, dataplane is not None), access_log=None,
                               handle_signals=False, shutdown_timeout=1.0)
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


def _start_dataplane(store: Store, config: ServerConfig):
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
            lifecycle.settle(store, time.time(), dataplane)
        except Exception:  # a bug in one step must not stop the server
            log.exception("lifecycle step failed")


def run(config: ServerConfig) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(message)s")
    asyncio.run(serve(config))
