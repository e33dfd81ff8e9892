"""A full pass repairs nft tables edited by hand; a change pass trusts what it applied.

The plan is the real one (the four areas over a hand-built World, tests/helpers/worlds.py)
so every table kind vpclab makes is here: an instance's security groups (``inet sg``), and
in the provider VPC's router the NLB nodes' DNAT (``ip nlb``), the NLB's groups (``inet
sg``), the endpoint ENIs' groups (``inet sgep``), the links' zones and marks (``ip
links``), the links' ARP mark (``arp linkarp``), the traffic counters (``ip count``) and
the internet gateway (``ip igw``), and the internet namespace's filter (``ip internet``).
Each is damaged by hand with the nft
command line inside its namespace, as an operator would; no packet is sent.
"""

from __future__ import annotations

import json

import pytest

from tests.helpers.worlds import LB_ARN, add_endpoint, add_service, plan_of, provider_world
from vpclab.kernel import FakeBackend, netns
from vpclab.kernel.nft import Listing, NftSet, canonical_elements, with_elements
from vpclab.kernel.seam import ApplyTable
from vpclab.model.ec2 import (
    InternetGateway,
    PublicIpAssociation,
    RouteEntry,
    RouteTable,
    RouteTableAssociation,
    SecurityGroup,
    SecurityGroupRule,
)


def lab_world():
    """Provider NLB with groups (enforced on PrivateLink), three endpoints linked to its node."""
    w = provider_world(zones=1)
    w.load_balancers[LB_ARN].security_group_ids = ["sg-lb"]
    w.load_balancers[LB_ARN].enforce_sg_inbound_on_privatelink = True
    w.security_groups["sg-lb"] = SecurityGroup(id="sg-lb", account="1", region="r", rules=[
        SecurityGroupRule(id="a", egress=False, protocol="tcp", from_port=80, to_port=80, cidr_ipv4="0.0.0.0/0")])
    w.security_groups["sg-ep"] = SecurityGroup(id="sg-ep", account="2", region="r", rules=[
        SecurityGroupRule(id="b", egress=False, protocol="tcp", from_port=80, to_port=80, group_id="sg-web")])
    add_service(w)
    for n in range(3):
        add_endpoint(w, n, "available", link=n)
    # The internet edge: a gateway, and a public address on the target and the node.
    w.internet_gateways["igw-p"] = InternetGateway(id="igw-p", account="1", region="r", vpc_id="vpc-p")
    w.route_tables["rtb-p"] = RouteTable(id="rtb-p", account="1", region="r", vpc_id="vpc-p", routes=[
        RouteEntry("0.0.0.0/0", gateway_id="igw-p")], associations=[RouteTableAssociation(id="a", main=True)])
    w.enis["eni-i-a"].association = PublicIpAssociation(public_ip="198.18.1.7")
    w.enis["eni-node0"].association = PublicIpAssociation(public_ip="198.18.1.20", ip_owner_id="amazon-elb")
    return w


def table_kinds(plan) -> list[tuple[str, str, str]]:
    """(namespace, family, table) of every table of the plan, one per (kind of namespace, table)."""
    out, seen = [], set()
    for ns in plan:
        kind = "instance" if "-i-" in ns.name else "router"
        for t in ns.nft:
            if (kind, t.key) not in seen:
                seen.add((kind, t.key))
                out.append((ns.name, t.family, t.name))
    return out


def table_of(plan, ns: str, family: str, name: str):
    return next(t for t in plan.namespace(ns).nft if t.key == (family, name))


def nft(ns: str, *args: str) -> str:
    return netns.run(ns, ["nft", *args], check=True).stdout


def listing(ns: str, family: str, name: str) -> list:
    """The table as the kernel lists it (JSON): no handles, elements sorted, named
    counters without their values (what they counted is traffic, not the table)."""
    items = []
    for item in json.loads(nft(ns, "-j", "list", "table", family, name))["nftables"]:
        (kind, body), = item.items()
        if kind == "metainfo":
            continue
        body = {k: v for k, v in body.items() if k != "handle" and not (kind == "counter" and k in ("packets", "bytes"))}
        if "elem" in body:
            body["elem"] = sorted(body["elem"], key=json.dumps)
        items.append({kind: body})
    # Named counters in name order (the kernel lists them in the order they were made).
    return sorted((i for i in items if "counter" in i), key=json.dumps) + [i for i in items if "counter" not in i]


@pytest.mark.netns
def test_every_table_kind_flushed_by_hand_is_replaced_by_the_next_full_pass(backend, owned):
    plan = plan_of(lab_world(), owned)
    kinds = table_kinds(plan)
    assert {(f, n.removeprefix(owned)) for _, f, n in kinds} == {
        ("inet", "-sg"), ("ip", "-nlb"), ("inet", "-sgep"), ("ip", "-links"), ("arp", "-linkarp"), ("ip", "-count"),
        ("ip", "-igw"), ("ip", "-internet")}
    assert len(kinds) == 9  # `inet sg` twice: an instance's groups, the NLB's groups in the router
    backend.apply(plan)
    # Converged: a full pass reads every table back and finds each as applied (every
    # element syntax vpclab writes compares equal to the kernel's listing of it).
    assert backend.apply(plan) == []
    for ns, family, name in kinds:
        before = listing(ns, family, name)
        nft(ns, "flush", "table", family, name)
        assert listing(ns, family, name) != before
        assert backend.apply(plan, full=False) == []  # a change pass trusts what it applied
        assert backend.apply(plan) == [ApplyTable(ns, table_of(plan, ns, family, name), None)], (ns, family, name)
        assert listing(ns, family, name) == before, (ns, family, name)
        assert backend.apply(plan) == []


@pytest.mark.netns
@pytest.mark.parametrize("damage", [
    "delete element ip {t}-links link_mark {{ \"{link}\" }}",
    "add element ip {t}-links link_mark {{ \"rogue0\" : 0x1 }}",
    "flush map ip {t}-nlb nodes",
    "add rule ip {t}-nlb prerouting accept",
    "insert rule ip {t}-nlb prerouting drop",
    "delete chain ip {t}-links mangle",
    "add chain ip {t}-nlb rogue",
    "chain ip {t}-nlb prerouting {{ policy drop ; }}",
    "add set ip {t}-nlb rogue {{ type ipv4_addr ; }}",
])
def test_a_rule_chain_or_element_changed_by_hand_is_repaired(backend, owned, damage):
    plan = plan_of(lab_world(), owned)
    backend.apply(plan)
    router = next(ns for ns in plan if any(t.name == f"{owned}-nlb" for t in ns.nft))
    link = f"{owned}t000000n"
    script = damage.format(t=owned, link=link)
    family, name = "ip", next(w for w in script.split() if w.startswith(f"{owned}-"))
    before = listing(router.name, family, name)
    netns.run(router.name, ["nft", script], check=True)
    assert listing(router.name, family, name) != before
    done = backend.apply(plan)
    assert [(a.ns, a.table.name, a.current) for a in done] == [(router.name, name, None)]
    assert listing(router.name, family, name) == before
    assert backend.apply(plan) == []


def test_canonical_elements_of_each_syntax_vpclab_writes():
    """The forms `Listing.parse` gives for the kernel's JSON of the same elements."""
    assert canonical_elements(NftSet.map("m", "typeof iifname", "ct zone", {'"vlxt000001n"': "5"})) == {
        ("vlxt000001n", 5)}
    assert canonical_elements(NftSet.map("m", "ifname", "mark", {'"a"': "0x1000"})) == {("a", 4096)}
    assert canonical_elements(NftSet.map("m", "ifname . ipv4_addr", "verdict", {'"a" . 10.0.0.5': "jump c"})) == {
        (("a", "10.0.0.5"), ("jump", "c"))}
    assert canonical_elements(NftSet.map("m", "mark", "ipv4_addr . inet_service", {"0": "172.31.0.1 . 80"})) == {
        (0, ("172.31.0.1", 80))}
    assert canonical_elements(NftSet.of("s", "ipv4_addr", ["10.0.0.1"])) == {"10.0.0.1"}
    kernel = json.dumps({"nftables": [
        {"map": {"family": "ip", "name": "m", "table": "t", "type": ["ifname", "ipv4_addr"], "handle": 3,
                 "map": "verdict", "elem": [[{"concat": ["a", "10.0.0.5"]}, {"jump": {"target": "c"}}]]}},
        {"set": {"family": "ip", "name": "s", "table": "t", "type": "ipv4_addr", "handle": 4, "elem": ["10.0.0.1"]}},
        {"chain": {"family": "ip", "table": "t", "name": "c", "handle": 1}},
    ]})
    seen = Listing.parse(kernel)
    assert seen.elements == {"m": {(("a", "10.0.0.5"), ("jump", "c"))}, "s": {"10.0.0.1"}}
    # Handles and elements are not part of the shape.
    assert seen.shape == Listing.parse(kernel.replace('"handle": 4', '"handle": 9')
                                       .replace('"10.0.0.1"]', '"10.0.0.2"]')).shape
    assert seen.shape != Listing.parse(kernel.replace('"name": "c"', '"name": "d"')).shape


# Fake kernel (no root) ----------------------------------------------------------------

def test_fake_kernel_models_a_hand_flush_that_only_a_full_pass_repairs(prefix):
    b = FakeBackend(prefix)
    plan = plan_of(lab_world(), prefix)
    b.apply(plan)
    for ns, family, name in table_kinds(plan):
        table = table_of(plan, ns, family, name)
        b.kernel.flush_table_by_hand(ns, family, name)
        assert b.kernel.ns[ns].tables[(family, name)] != table
        assert b.apply(plan, full=False) == []
        assert b.apply(plan) == [ApplyTable(ns, table, None)]
        assert b.kernel.ns[ns].tables[(family, name)] == table
    # An element removed by hand, likewise.
    ns, family, name = next(k for k in table_kinds(plan) if k[2].endswith("-links"))
    table = b.kernel.ns[ns].tables[(family, name)]
    marks = dict(table.set("link_mark").elements)
    marks.pop(next(iter(marks)))
    b.kernel.edit_table_by_hand(ns, with_elements(table, "link_mark", marks))
    assert b.apply(plan) == [ApplyTable(ns, table, None)]
    assert b.apply(plan) == []


def test_full_period_from_the_environment():
    from vpclab.dataplane.runtime import FULL_PERIOD, full_period

    assert full_period({}) == FULL_PERIOD == 15.0
    assert full_period({"VPCLAB_FULL_PERIOD": "2.5"}) == 2.5
    assert full_period({"VPCLAB_FULL_PERIOD": "soon"}) == FULL_PERIOD
    assert full_period({"VPCLAB_FULL_PERIOD": "0"}) == FULL_PERIOD
