"""The vpclab server: the AWS endpoint over HTTP, the store, and (later) the data plane.

aiohttp serves HTTP/1.1 with keep-alive and writes each response in one segment; the
handlers are synchronous and fast (in-memory reads, one fsync per write), so they run on
the event loop without a thread hop.
"""
from __future__ import annotations

import asyncio
import json
import logging
import os
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

from . import control  # noqa: F401  (registers every operation handler)
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


async def serve(config: ServerConfig, ready_line: bool = True) -> None:
    """Serve until SIGINT/SIGTERM, then close the store cleanly."""
    store = open_store(config.state_dir)
    # Recorded before the data plane starts making namespaces, so that `vpclab down`
    # finds a server that is still starting.
    _write_server_info(config, dataplane=None, ready=False)
    dataplane = _start_dataplane(store, config)
    runner = web.AppRunner(make_app(store, config.state_dir, dataplane is not None), access_log=None, handle_signals=False,
                             shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, config.host, config.port, reuse_address=True)
    await site.start()
    _write_server_info(config, dataplane=dataplane is not None, ready=True)
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
        await runner.cleanup()
        if dataplane is not None:
            await asyncio.to_thread(dataplane.stop)
        store.close()
        info = read_server_info(config.state_dir, ready_only=False)
        if info is not None and info["pid"] == os.getpid():
            (config.state_dir / "server.json").unlink(missing_ok=True)


def _write_server_info(config: ServerConfig, dataplane: bool | None, ready: bool) -> None:
    """Which process serves this state directory and where, for `vpclab status`, `lab`
    and `down`: the one record of a running server."""
    info = {"pid": os.getpid(), "host": config.host, "port": config.port,
            "url": f"http://{config.host}:{config.port}", "dataplane": dataplane, "ready": ready}
    tmp = config.state_dir / "server.json.tmp"
    tmp.write_text(json.dumps(info))
    tmp.replace(config.state_dir / "server.json")


def read_server_info(state_dir: Path, ready_only: bool = True) -> dict | None:
    """The running server of `state_dir` (its pid alive and a vpclab; listening unless
    `ready_only` is False), or None."""
    try:
        info = json.loads((state_dir / "server.json").read_text())
        cmdline = Path(f"/proc/{int(info['pid'])}/cmdline").read_bytes()
    except (OSError, ValueError, KeyError):
        return None
    if b"vpclab" not in cmdline or (ready_only and not info.get("ready")):
        return None
    return info


def _start_dataplane(store: Store, config: ServerConfig):
    """The data plane, or None (said once, with the reason) when it cannot run here."""
    if not config.dataplane:
        print("vpclab: data plane off (--no-dataplane): control plane only", flush=True)
        return None
    from .dataplane.runtime import DataPlane, unavailable_reason

    reason = unavailable_reason()
    if reason is not None:
        print(f"vpclab: data plane off: {reason}; serving the control plane only "
              "(no traffic; targets stay 'initial')", flush=True)
        return None
    dataplane = DataPlane(store, config.state_dir)
    dataplane.start()
    return dataplane


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
