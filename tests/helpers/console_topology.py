"""The topology view: reading its graph as the page does, and the seed's look at it."""
from __future__ import annotations

import json
import re
import urllib.request

from .accounts import REGION
from .console import open_nav


def console_token(srv) -> str:
    """The token the console page carries (what its own requests send)."""
    with urllib.request.urlopen(srv.url + "/console/", timeout=5) as resp:
        html = resp.read().decode()
    found = re.search(r'name="vpclab-console-token" content="([^"]+)"', html)
    assert found, "the console page carries no token"
    return found.group(1)


def topology_of(srv, region: str = REGION, token: str | None = None) -> dict:
    """GET /console/api/topology as the console page sends it."""
    request = urllib.request.Request(srv.url + f"/console/api/topology?region={region}", headers={
        "Content-Type": "application/json", "X-Vpclab-Console-Token": token or console_token(srv)})
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.load(resp)


def endpoint_of(graph: dict, endpoint_id: str) -> dict:
    return next(e for a in graph["accounts"] for e in a["endpoints"] if e["id"] == endpoint_id)


def listener_of(graph: dict, listener_arn: str) -> dict:
    return next(l for a in graph["accounts"] for lb in a["loadBalancers"] for l in lb["listeners"]
                if l["arn"] == listener_arn)


def open_topology(page) -> None:
    """vpclab > Topology in the navigation: both accounts drawn."""
    from playwright.sync_api import expect

    open_nav(page, "Topology")
    expect(page.get_by_role("heading", name="Topology")).to_be_visible()
    expect(page.get_by_role("group", name="Topology of both accounts")).to_be_visible()
