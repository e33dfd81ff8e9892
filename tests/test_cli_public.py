"""`vpclab status` shows where this machine reaches each public address: one line per
instance ("Public IPv4 address 198.18.1.7 — open http://127.18.1.7/" and the SSH command)
and per internet-facing NLB node; nothing for private instances, terminated ones or
internal NLBs; `--json` carries the same."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from vpclab.model import KINDS
from vpclab.model.ec2 import Instance, NetworkInterface, PublicIpAssociation
from vpclab.model.elbv2 import LoadBalancer, SubnetMapping
from vpclab.store import open_store

VPCLAB = [sys.executable, "-m", "vpclab.cli"]


def status(state_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*VPCLAB, "status", "--state-dir", str(state_dir), *args],
                          capture_output=True, text=True, timeout=60, env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"})


def instance(store, iid: str, eni: str, *, account: str = ACCOUNT_1, name: str = "", public_ip: str | None = None,
             state: str = "running", key: str | None = "demo-key", distribution: str = "amazon-linux-2023") -> None:
    with store.write() as tx:
        tx.put(NetworkInterface(id=eni, account=account, region=REGION, private_ip="172.31.0.10",
                                association=PublicIpAssociation(public_ip=public_ip) if public_ip else None))
        tx.put(Instance(id=iid, account=account, region=REGION, network_interface_id=eni, state=state,
                        key_name=key, distribution=distribution, tags={"Name": name} if name else {}))


def nlb(store, name: str, scheme: str, nodes: list[tuple[str, str, str | None]]) -> None:
    """An NLB with a node per (zone, ENI id, public address or None)."""
    with store.write() as tx:
        for _, eni, ip in nodes:
            tx.put(NetworkInterface(id=eni, account=ACCOUNT_1, region=REGION, interface_type="network_load_balancer",
                                    association=PublicIpAssociation(public_ip=ip, ip_owner_id="amazon-elb") if ip else None))
        tx.put(LoadBalancer(id=f"arn:{name}", account=ACCOUNT_1, region=REGION, name=name, scheme=scheme,
                            dns_name=f"{name}-1234.elb.{REGION}.amazonaws.com",
                            mappings=[SubnetMapping(zone=z, network_interface_id=e) for z, e, _ in nodes]))


def test_status_shows_each_public_address_with_its_host_mapping_and_ssh(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    store = open_store(state_dir, KINDS)
    instance(store, "i-0public", "eni-1", name="demo-server-instance", public_ip="198.18.1.7")
    instance(store, "i-0debian", "eni-2", account=ACCOUNT_2, public_ip="198.19.3.4", distribution="debian-12")
    instance(store, "i-0nokey", "eni-3", public_ip="198.18.2.9", key=None, state="stopped")
    instance(store, "i-0private", "eni-4", name="private-one")
    instance(store, "i-0gone", "eni-5", public_ip="198.18.4.4", state="terminated")
    nlb(store, "demo-service-nlb", "internet-facing",
        [("ap-south-1a", "eni-n1", "198.18.5.1"), ("ap-south-1b", "eni-n2", "198.18.5.2")])
    nlb(store, "inside-nlb", "internal", [("ap-south-1a", "eni-n3", None)])
    store.close()

    out = status(state_dir)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert "instances see it as 198.18.0.1" in out.stdout
    public = next(line for line in lines if "i-0public" in line)
    assert "demo-server-instance" in public
    assert "Public IPv4 address 198.18.1.7 — open http://127.18.1.7/" in public
    assert "ssh -i demo-key.pem ec2-user@127.18.1.7" in public
    debian = next(line for line in lines if "i-0debian" in line)
    assert ACCOUNT_2 in debian and "open http://127.19.3.4/" in debian and "admin@127.19.3.4" in debian
    nokey = next(line for line in lines if "i-0nokey" in line)
    assert "[stopped]" in nokey and "ssh" not in nokey
    for node, zone in (("198.18.5.1", "ap-south-1a"), ("198.18.5.2", "ap-south-1b")):
        line = next(line for line in lines if node in line)
        assert "NLB demo-service-nlb" in line and zone in line
        assert f"open http://127.{node.split('.', 1)[1]}/" in line
        assert "demo-service-nlb-1234.elb.ap-south-1.amazonaws.com" in line
    for absent in ("i-0private", "i-0gone", "inside-nlb"):
        assert absent not in out.stdout

    data = json.loads(status(state_dir, "--json").stdout)
    by_id = {(a["id"], a["name"]): a for a in data["public_addresses"]}
    assert by_id[("i-0public", "demo-server-instance")]["url"] == "http://127.18.1.7/"
    assert by_id[("demo-service-nlb", "ap-south-1b")]["host_ip"] == "127.18.5.2"
    assert len(data["public_addresses"]) == 5


def test_status_without_public_addresses_says_nothing_of_them(tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir()
    store = open_store(state_dir, KINDS)
    instance(store, "i-0private", "eni-4")
    store.close()
    out = status(state_dir)
    assert out.returncode == 0, out.stderr
    assert "public addresses" not in out.stdout
    assert json.loads(status(state_dir, "--json").stdout)["public_addresses"] == []
