"""`vpclab status`: what runs for a state directory, where its state is, what it holds."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from .options import fail, resolve_state_dir, state_dir_option

#: Kinds shown per account, with the names people know them by.
KINDS = {
    "vpc": "VPCs", "subnet": "subnets", "security-group": "security groups", "instance": "instances",
    "network-interface": "ENIs", "load-balancer": "NLBs", "target-group": "target groups",
    "listener": "listeners", "vpc-endpoint-service": "endpoint services", "vpc-endpoint": "endpoints",
}


def resource_counts(state_dir: Path) -> dict[str, Counter]:
    """Counts per account and kind, read straight from the store file (read-only)."""
    import sqlite3

    db = state_dir / "state.db"
    if not db.exists():
        return {}
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT account, kind, body FROM resources").fetchall()
    finally:
        conn.close()
    out: dict[str, Counter] = defaultdict(Counter)
    for account, kind, body in rows:
        if kind not in KINDS:
            continue
        if kind == "instance" and json.loads(body).get("state") == "terminated":
            continue
        out[account][kind] += 1
    return dict(out)


def register(app: typer.Typer) -> None:
    @app.command()
    def status(state_dir: Optional[Path] = state_dir_option(),
               as_json: bool = typer.Option(False, "--json")) -> None:
        """What runs for a state directory: server, data plane, namespaces, resources."""
        from ..kernel import naming, netns
        from ..server import read_server_info

        sd = resolve_state_dir(state_dir)
        if not sd.exists():
            fail(f"no state directory at {sd}")
        if not sd.is_dir():
            fail(f"{sd} is not a state directory (not a directory)")
        info = read_server_info(sd)
        prefix = naming.prefix_for_state_dir(sd)
        try:
            namespaces = netns.list_namespaces(prefix)
        except OSError:
            namespaces = []
        counts = counts_or_fail(sd)
        data = {"state_dir": str(sd), "server": info, "prefix": prefix, "namespaces": len(namespaces),
                "accounts": {a: dict(c) for a, c in counts.items()}}
        if as_json:
            print(json.dumps(data, indent=2))
            return
        console = Console()
        if info:
            plane = ("data plane on" if info.get("dataplane")
                     else f"data plane off: {info.get('dataplane_off') or 'unknown reason'}")
            console.print(f"server: [green]running[/] pid {info['pid']} at {info['url']} ({plane})",
                          soft_wrap=True, highlight=False)
        else:
            console.print("server: [yellow]not running[/]")
        console.print(f"state: {sd}   prefix: {prefix}   namespaces: {len(namespaces)}")
        print_counts(console, counts)


def counts_or_fail(state_dir: Path) -> dict[str, Counter]:
    """`resource_counts`, or one line when the store cannot be read."""
    import sqlite3

    try:
        return resource_counts(state_dir)
    except sqlite3.Error as exc:
        fail(f"cannot read {state_dir / 'state.db'}: {exc}")


def print_counts(console: Console, counts: dict[str, Counter]) -> None:
    """Kinds down, accounts across: a few accounts fit a terminal, ten kinds would not."""
    if not counts:
        console.print("no resources yet")
        return
    accounts = sorted(counts)
    table = Table(title="resources per account")
    table.add_column("resource")
    for account in accounts:
        table.add_column(account, justify="right")
    for kind, name in KINDS.items():
        table.add_row(name, *(str(counts[a].get(kind, 0)) for a in accounts))
    console.print(table)
