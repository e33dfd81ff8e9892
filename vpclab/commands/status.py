"""`vpclab status`: what runs for a state directory, where its state is, what it holds,
and where this machine reaches its public addresses (one line per instance and per
internet-facing NLB node: "Public IPv4 address 198.18.1.7 — open http://127.18.1.7/")."""
from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
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
    "internet-gateway": "internet gateways", "route-table": "route tables", "elastic-ip": "Elastic IPs",
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


@dataclass
class PublicAddress:
    """One public address of a state directory, and where this machine reaches it."""

    account: str
    kind: str  # "instance" | "load-balancer"
    id: str  # the instance id, or the NLB's name
    name: str  # the instance's Name tag; the NLB node's zone
    public_ip: str
    host_ip: str  # `model.internet.host_address(public_ip)`
    state: str = ""  # the instance's state
    user: str = ""  # the instance image's login user
    key_name: str = ""  # the instance's launch key pair
    dns_name: str = ""  # the NLB's DNS name

    @property
    def url(self) -> str:
        return f"http://{self.host_ip}/"

    def line(self) -> str:
        """The person's line: what it is, the address, and how to open it from here."""
        opened = f"Public IPv4 address {self.public_ip} — open {self.url}"
        if self.kind == "instance":
            what = f"{self.id} ({self.name})" if self.name else self.id
            if self.state and self.state != "running":
                what += f" [{self.state}]"
            ssh = f"   ssh -i {self.key_name}.pem {self.user}@{self.host_ip}" if self.key_name else ""
            return f"{self.account}  instance {what}  {opened}{ssh}"
        return f"{self.account}  NLB {self.id} ({self.name})  {opened}   DNS name {self.dns_name}"


def public_addresses(state_dir: Path) -> list[PublicAddress]:
    """Instances' and internet-facing NLB nodes' public addresses, read from the store file
    (read-only): an ENI's `association` is the record (an instance's is its primary ENI's)."""
    import sqlite3

    from ..aws_names import default_user
    from ..model.ec2 import Instance, NetworkInterface
    from ..model.elbv2 import LoadBalancer
    from ..model.internet import host_address, is_public

    db = state_dir / "state.db"
    if not db.exists():
        return []
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    try:
        rows = conn.execute("SELECT kind, body FROM resources WHERE kind IN (?, ?, ?)",
                            (Instance.kind, NetworkInterface.kind, LoadBalancer.kind)).fetchall()
    finally:
        conn.close()
    enis = {e.id: e for e in (NetworkInterface.from_json(b) for k, b in rows if k == NetworkInterface.kind)}

    def public_ip_of(eni_id: str) -> str:
        eni = enis.get(eni_id)
        ip = eni.association.public_ip if eni is not None and eni.association is not None else ""
        return ip if is_public(ip) else ""

    out: list[PublicAddress] = []
    for kind, body in rows:
        if kind == Instance.kind:
            inst = Instance.from_json(body)
            ip = public_ip_of(inst.network_interface_id)
            if ip and inst.state != "terminated":
                out.append(PublicAddress(inst.account, "instance", inst.id, inst.tags.get("Name", ""), ip,
                                         host_address(ip), state=inst.state,
                                         user=default_user(inst.distribution), key_name=inst.key_name or ""))
        elif kind == LoadBalancer.kind:
            lb = LoadBalancer.from_json(body)
            if lb.scheme != "internet-facing":
                continue
            for m in lb.mappings:
                ip = public_ip_of(m.network_interface_id)
                if ip:
                    out.append(PublicAddress(lb.account, "load-balancer", lb.name, m.zone, ip, host_address(ip),
                                             dns_name=lb.dns_name))
    return sorted(out, key=lambda a: (a.account, a.kind != "instance", a.id, a.name))


def print_public_addresses(console: Console, addresses: list[PublicAddress]) -> None:
    """One line per address, and the address instances see this machine at ("My IP")."""
    from ..model.internet import HOST_ADDRESS

    if not addresses:
        return
    console.print(f"public addresses (from this machine; instances see it as {HOST_ADDRESS}):",
                  highlight=False)
    for a in addresses:
        console.print(f"  {a.line()}", soft_wrap=True, highlight=False, markup=False)


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
        addresses = public_addresses_or_fail(sd)
        data = {"state_dir": str(sd), "server": info, "prefix": prefix, "namespaces": len(namespaces),
                "accounts": {a: dict(c) for a, c in counts.items()},
                "public_addresses": [dict(asdict(a), url=a.url) for a in addresses]}
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
        print_public_addresses(console, addresses)


def counts_or_fail(state_dir: Path) -> dict[str, Counter]:
    """`resource_counts`, or one line when the store cannot be read."""
    import sqlite3

    try:
        return resource_counts(state_dir)
    except sqlite3.Error as exc:
        fail(f"cannot read {state_dir / 'state.db'}: {exc}")


def public_addresses_or_fail(state_dir: Path) -> list[PublicAddress]:
    """`public_addresses`, or one line when the store cannot be read."""
    import sqlite3

    try:
        return public_addresses(state_dir)
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
