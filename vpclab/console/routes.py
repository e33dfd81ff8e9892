"""The console's HTTP routes on the API's port, under `/console/` (no AWS API uses it).

`GET /console/` serves the page with this server's token in it; `/console/static/…` its
assets (all served by vpclab: no CDN); `/console/api/…` the calls, each checked by
`guard.refusal`; `/console/api/terminal` the Connect page's WebSocket (`terminal.py`). A
browser's `GET /` (no signature, no query) is sent to the console.
"""
from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from botocore.exceptions import BotoCoreError
from botocore.model import OperationNotFoundError

from ..lab.privatelink import CONSUMER, PROVIDER
from ..model.ec2 import AccountRegion
from ..protocol.gateway import Gateway
from ..protocol.identity import is_account_id
from ..protocol.request_guard import RequestGuard
from ..store import Store
from ..store.credentials import Credentials
from .calls import SERVICES, ConsoleCalls, to_json
from . import topology
from .guard import new_token, refusal
from .guide import Guide
from .paths import PREFIX
from .terminal import handler as terminal_handler

#: The content type of an asset, by its suffix; files of other kinds under static/ are not served.
CONTENT_TYPES = {".js": "text/javascript", ".mjs": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
                 ".png": "image/png"}
#: What the page may load and where it may send: this server only, no frames of it elsewhere.
PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
    "X-Frame-Options": "DENY",
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}
#: Names of the lab's accounts, offered at sign-in.
LAB_NAMES = {PROVIDER: "provider", CONSUMER: "consumer"}


def _static(name: str) -> bytes:
    return resources.files(__package__).joinpath("static", name).read_bytes()


def assets() -> dict[str, str]:
    """Every servable file under static/ (by its path there, e.g. `pages/instances.js`) and
    its content type: the allow-list the asset route serves from, so no request path is
    ever joined onto the file system."""
    found: dict[str, str] = {}

    def walk(folder: Any, prefix: str) -> None:
        for entry in folder.iterdir():
            if entry.is_dir():
                walk(entry, f"{prefix}{entry.name}/")
            else:
                kind = CONTENT_TYPES.get("." + entry.name.rsplit(".", 1)[-1])
                if kind is not None:
                    found[prefix + entry.name] = kind
    walk(resources.files(__package__).joinpath("static"), "")
    return found


def add_routes(app: web.Application, store: Store, gateway: Gateway, api_guard: RequestGuard,
               credentials: Credentials, regions: list[str], traffic: topology.Traffic | None = None) -> None:
    """`traffic`: the data plane's counters for the topology view (None: data plane off)."""
    token = new_token()
    calls = ConsoleCalls(gateway)
    served = assets()
    guide = Guide(calls)

    def headers_of(request: web.Request) -> dict[str, str]:
        return {name.lower(): value for name, value in request.headers.items()}

    async def page(request: web.Request) -> web.Response:
        if not api_guard.host_allowed(request.headers.get("Host", "")):
            raise web.HTTPForbidden(text="this Host is not an address of this vpclab server")
        html = _static("console.html").decode().replace("{{TOKEN}}", token)
        return web.Response(text=html, content_type="text/html", headers=PAGE_HEADERS)

    async def asset(request: web.Request) -> web.Response:
        name = request.match_info["name"]
        if name not in served:
            raise web.HTTPNotFound()
        return web.Response(body=_static(name), content_type=served[name], headers={"Cache-Control": "no-store"})

    def checked(request: web.Request) -> None:
        why = refusal(headers_of(request), token, api_guard)
        if why is not None:
            raise web.HTTPForbidden(text=json.dumps({"Code": "AccessDenied", "Message": why}),
                                    content_type="application/json")

    async def session(request: web.Request) -> web.Response:
        checked(request)
        with store.read() as tx:
            seen = {r.account for r in tx.list(AccountRegion)}
        names = {k.account: k.name for k in _keys(credentials) if k.name}
        accounts = [{"id": a, "name": names.get(a) or LAB_NAMES.get(a, "")}
                    for a in sorted(seen | set(LAB_NAMES))]
        return web.json_response({"accounts": accounts, "regions": regions})

    async def checked_body(request: web.Request, bad: Callable[[Any], str | None]) -> Any:
        """The request's JSON body, once the guard let it through and `bad` found nothing
        wrong with it (otherwise the console's ValidationError, as an HTTPException)."""
        checked(request)
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        why = bad(body)
        if why is not None:
            raise web.HTTPBadRequest(text=json.dumps({"error": {"Code": "ValidationError", "Message": why}}),
                                     content_type="application/json")
        return body

    async def call(request: web.Request) -> web.Response:
        body = await checked_body(request, _bad_call)
        try:
            result = calls.call(body["account"], body["region"], body["service"], body["operation"],
                                body.get("params") or {})
        except (BotoCoreError, OperationNotFoundError, KeyError, TypeError, ValueError) as err:
            # an unknown operation, input botocore cannot serialize
            return web.json_response({"error": {"Code": "ValidationError", "Message": str(err)}}, status=400)
        if result.error is not None:
            return web.Response(text=to_json({"error": result.error}), status=result.status,
                                content_type="application/json")
        # The output is JSON already (BotoOutputSerializer's): wrapped, not parsed and written again.
        return web.Response(body=b'{"output": ' + result.output_json + b"}", status=result.status,
                            content_type="application/json")

    async def lab_guide(request: web.Request) -> web.Response:
        body = await checked_body(request, _bad_guide)
        return web.json_response(guide.progress(body["region"], body.get("provider") or PROVIDER,
                                                body.get("consumer") or CONSUMER))

    async def topology_graph(request: web.Request) -> web.Response:
        checked(request)
        region = request.query.get("region", "")
        if region not in regions:
            return web.json_response({"error": {"Code": "ValidationError", "Message": "region is not served"}},
                                     status=400)
        graph = await asyncio.to_thread(topology.build, store, region, LAB_NAMES, traffic)
        return web.json_response(graph)

    app.router.add_get(PREFIX, page)
    app.router.add_get(PREFIX + "api/topology", topology_graph)
    app.router.add_get(PREFIX + "static/{name:.+}", asset)
    app.router.add_get(PREFIX + "api/session", session)
    app.router.add_post(PREFIX + "api/call", call)
    app.router.add_post(PREFIX + "api/guide", lab_guide)
    app.router.add_get(PREFIX + "api/terminal", terminal_handler(
        calls, token, api_guard, Path(gateway.extras["state_dir"]), gateway.dataplane))


def _bad_guide(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    if not isinstance(body.get("region"), str) or not body["region"]:
        return "region is required"
    for role in ("provider", "consumer"):
        if body.get(role) not in (None, "") and not is_account_id(body[role]):
            return f"{role} must be a 12-digit account id"
    return None


def _bad_call(body: Any) -> str | None:
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    account, region, service = body.get("account"), body.get("region"), body.get("service")
    if not is_account_id(account):
        return "account must be a 12-digit account id"
    if not isinstance(region, str) or not region:
        return "region is required"
    if service not in SERVICES:
        return f"service must be one of {', '.join(SERVICES)}"
    if not isinstance(body.get("operation"), str) or not isinstance(body.get("params", {}), dict):
        return "operation (a string) and params (an object) are required"
    return None


def _keys(credentials: Credentials) -> list[Any]:
    try:
        return list(credentials.all())
    except (OSError, ValueError):
        return []


def is_browser_root(request: web.Request) -> bool:
    """A browser opening the server's root: `GET /`, no query, no signature."""
    return (request.method == "GET" and request.path == "/" and not request.query_string
            and "Authorization" not in request.headers)
