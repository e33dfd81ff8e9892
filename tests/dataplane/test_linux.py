"""Real namespaces, veths, bridges, routes and nftables; real packets between them.

Every packet here is sent from a socket created inside a namespace this test made; the
host namespace gets no address, route or link. Each test has its own prefix (`owned`),
and the fixture deletes whatever carries it, even if the test failed.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import replace

import pytest

from tests.helpers.netns_lab import EchoServer, ping, tcp_ask, two_vpcs
from vpclab.kernel import Backend, Plan, naming, netns
from vpclab.kernel.nft import NftChain, NftSet, NftTable
from vpclab.kernel.seam import (
    AddProxyNeighbour,
    AddRoute,
    AddRule,
    AddVeth,
    ApplyTable,
    CreateNamespace,
    DeleteLink,
    DeleteProxyNeighbour,
    DeleteRoute,
    DeleteRule,
)
from vpclab.kernel.topology import Interface, Namespace, ProxyNeighbour, Route, Rule, VethPair

pytestmark = pytest.mark.netns


def snapshot(ns_names: list[str]) -> dict[str, str]:
    """Links, addresses, routes and ruleset of each namespace, as iproute2/nft print them."""
    out = {}
    for ns in ns_names:
        parts = []
        for argv in (["ip", "-o", "link"], ["ip", "-o", "addr"], ["ip", "route"], ["nft", "list", "ruleset"]):
            parts.append(netns.run(ns, argv, check=True).stdout)
        # operstate (UNKNOWN -> UP as a bridge port starts forwarding) is the kernel's, not ours
        out[ns] = re.sub(r" state \S+", "", "\n".join(parts))
    return out


def test_two_vpcs_same_cidr_connected_and_isolated(backend: Backend) -> None:
    lab = two_vpcs(backend.prefix)
    backend.apply(lab.plan())
    a1, a2, a3, b1, b2 = (lab.ns(i) for i in ("i-a1", "i-a2", "i-a3", "i-b1", "i-b2"))

    # same subnet, through the bridge; other subnet, through the VPC router (3 s each: a
    # first echo waits for ARP, and on a loaded machine 1 s was sometimes not enough)
    assert ping(a1, "172.31.0.11", timeout=3)
    assert ping(a1, "172.31.16.10", timeout=3)
    assert ping(a1, "172.31.0.1", timeout=3)
    # VPC B reuses A's addresses, and works on its own
    assert ping(b1, "172.31.0.20", timeout=3)
    assert ping(b2, "172.31.0.10", timeout=3)

    with EchoServer(a2, "0.0.0.0", 7000, "a2"), EchoServer(a3, "0.0.0.0", 7000, "a3"), EchoServer(b2, "0.0.0.0", 7000, "b2"), EchoServer(b1, "0.0.0.0", 7000, "b1"):
        assert tcp_ask(a1, "172.31.0.11", 7000) == "a2 172.31.0.10"
        assert tcp_ask(a1, "172.31.16.10", 7000) == "a3 172.31.0.10"
        # 172.31.0.10 is a1 in VPC A and b1 in VPC B: each VPC reaches its own
        assert tcp_ask(b2, "172.31.0.10", 7000) == "b1 172.31.0.20"
        assert tcp_ask(a2, "172.31.0.10", 7000) is None  # a1 runs no server; b1 is not reachable
        # isolation: nothing of VPC B is reachable from VPC A
        assert tcp_ask(a1, "172.31.0.20", 7000, timeout=1) is None
        assert not ping(a1, "172.31.0.20")


def test_apply_twice_changes_nothing(backend: Backend) -> None:
    lab = two_vpcs(backend.prefix)
    plan = lab.plan()
    assert backend.apply(plan)
    before = snapshot([ns.name for ns in plan])
    assert backend.apply(plan) == []
    assert snapshot([ns.name for ns in plan]) == before
    # and a fresh backend (a restarted server) sees nothing to do either, except nft
    # content it cannot know; there is none here
    with Backend.linux(backend.prefix) as again:
        assert again.apply(plan) == []


def test_destroy_removes_everything_with_the_prefix_and_nothing_else(backend: Backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from vpclab.kernel import naming

    other = naming.prefix_for_state_dir(tmp_path / "other-state")
    foreign = f"{other}-vpc-foreign"
    netns.create(foreign)
    try:
        backend.apply(two_vpcs(backend.prefix).plan())
        assert len(netns.list_namespaces(backend.prefix)) == 7
        host_links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
        assert backend.prefix not in host_links  # nothing of ours in the host namespace
        backend.destroy()
        assert netns.list_namespaces(backend.prefix) == []
        assert netns.exists(foreign)
    finally:
        netns.delete(foreign)


def test_namespace_removed_by_hand_is_recreated_by_one_apply(backend: Backend) -> None:
    lab = two_vpcs(backend.prefix)
    plan = lab.plan()
    backend.apply(plan)
    a2 = lab.ns("i-a2")
    subprocess.run(["ip", "netns", "del", a2], check=True)
    actions = backend.apply(plan)
    assert CreateNamespace(a2) in actions
    assert any(isinstance(a, AddVeth) and a.peer_ns == a2 for a in actions)
    assert ping(lab.ns("i-a1"), "172.31.0.11")
    assert backend.apply(plan) == []


def nlb_table(prefix: str, backends: dict[str, str]) -> NftTable:
    """NLB-node style: DNAT by (vip, port) map, then SNAT to the node (masquerade)."""
    return NftTable(
        "ip",
        f"{prefix}-nlb",
        sets=(NftSet.map("listeners", "ipv4_addr . inet_service", "ipv4_addr . inet_service", backends),),
        chains=(
            NftChain("prerouting", ("dnat ip to ip daddr . tcp dport map @listeners",), "nat", "prerouting", "dstnat", "accept"),
            NftChain("postrouting", ("ct status dnat masquerade",), "nat", "postrouting", "srcnat", "accept"),
        ),
    )


def test_nft_dnat_redirects_tcp_and_updates_incrementally(backend: Backend) -> None:
    p = backend.prefix
    lab = two_vpcs(p)

    def plan_with(backends: dict[str, str]) -> Plan:
        lab2 = two_vpcs(p).instance(
            "vpc-a", "subnet-a1", "i-node", "172.31.0.50",
            nft=(nlb_table(p, backends),), sysctls={"net.ipv4.ip_forward": "1"},
        )
        return lab2.plan()

    node = lab.ns("i-node")
    backend.apply(plan_with({"172.31.0.50 . 80": "172.31.0.11 . 7000"}))
    with EchoServer(lab.ns("i-a2"), "0.0.0.0", 7000, "a2"), EchoServer(lab.ns("i-a3"), "0.0.0.0", 7000, "a3"):
        # the client asks the node's port 80 and lands on a2:7000, which sees the node
        assert tcp_ask(lab.ns("i-a1"), "172.31.0.50", 80) == "a2 172.31.0.50"
        assert tcp_ask(lab.ns("i-a1"), "172.31.0.50", 81, timeout=1) is None

        new = {"172.31.0.50 . 80": "172.31.16.10 . 7000", "172.31.0.50 . 81": "172.31.0.11 . 7000"}
        actions = backend.apply(plan_with(new))
        applied = [a for a in actions if isinstance(a, ApplyTable)]
        assert actions == applied and len(applied) == 1 and applied[0].current is not None  # element update
        assert tcp_ask(lab.ns("i-a1"), "172.31.0.50", 80) == "a3 172.31.0.50"
        assert tcp_ask(lab.ns("i-a1"), "172.31.0.50", 81) == "a2 172.31.0.50"
        assert backend.apply(plan_with(new)) == []

    listing = netns.run(node, ["nft", "list", "map", "ip", f"{p}-nlb", "listeners"], check=True).stdout
    assert "172.31.16.10 . 7000" in listing


def test_nft_table_removed_by_hand_is_restored(backend: Backend) -> None:
    p = backend.prefix
    lab = two_vpcs(p).instance("vpc-a", "subnet-a1", "i-node", "172.31.0.50", nft=(nlb_table(p, {}),))
    backend.apply(lab.plan())
    node = lab.ns("i-node")
    netns.run(node, ["nft", "delete", "table", "ip", f"{p}-nlb"], check=True)
    actions = backend.apply(lab.plan())
    assert [type(a) for a in actions] == [ApplyTable] and actions[0].current is None
    assert f"{p}-nlb" in netns.run(node, ["nft", "list", "tables"], check=True).stdout


def test_sysctls_are_per_namespace(backend: Backend) -> None:
    lab = two_vpcs(backend.prefix)
    host_before = open("/proc/sys/net/ipv4/ip_forward").read()
    backend.apply(lab.plan())
    assert netns.run(lab.ns("vpc-a"), ["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "1" or netns.run_in(
        lab.ns("vpc-a"), lambda: open("/proc/sys/net/ipv4/ip_forward").read().strip()
    ) == "1"
    assert netns.run_in(lab.ns("i-a1"), lambda: open("/proc/sys/net/ipv4/ip_forward").read().strip()) == "0"
    assert open("/proc/sys/net/ipv4/ip_forward").read() == host_before


def test_run_in_never_moves_the_calling_thread(owned: str) -> None:
    name = f"{owned}-probe"
    netns.create(name)
    before = netns.current_inode()
    inside = netns.run_in(name, netns.current_inode)
    assert inside != before and inside == netns.inode_of(name)
    assert netns.current_inode() == before
    netns.delete(name)
    assert not netns.exists(name)


def test_delete_waits_for_tasks_and_reports_busy(owned: str) -> None:
    name = f"{owned}-busy"
    netns.create(name)
    ino = netns.inode_of(name)
    proc = netns.spawn(name, ["sleep", "30"])
    try:
        for _ in range(200):  # until `ip netns exec` has entered the namespace
            if proc.pid in netns.tasks_in(ino):
                break
            time.sleep(0.01)
        with pytest.raises(netns.NamespaceBusy) as err:
            netns.delete(name, timeout=0.3)
        assert proc.pid in err.value.pids
    finally:
        proc.kill()
        proc.wait()
    assert netns.tasks_in(netns.current_inode()) != []  # sanity: the scan works at all


def test_two_nginx_with_default_config(backend: Backend, tmp_path) -> None:  # type: ignore[no-untyped-def]
    import shutil
    import time

    if shutil.which("nginx") is None or shutil.which("curl") is None:
        pytest.skip("needs nginx and curl")
    lab = two_vpcs(backend.prefix)
    backend.apply(lab.plan())
    procs = []
    try:
        for inst in ("i-a2", "i-a3"):
            mounts = netns.private_mounts(tmp_path / inst)
            (mounts["/run"] / "marker").write_text(inst)
            procs.append(
                netns.spawn(lab.ns(inst), ["nginx", "-g", "daemon off;"], binds=mounts,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            )
        for ip in ("172.31.0.11", "172.31.16.10"):
            for _ in range(50):
                r = netns.run(lab.ns("i-a1"), ["curl", "-sS", "-m", "2", f"http://{ip}/"])
                if r.returncode == 0:
                    break
                time.sleep(0.1)
            assert r.returncode == 0 and "nginx" in r.stdout, r.stderr
        # each nginx wrote its pid into its own private /run, not the host's
        for inst, proc in zip(("i-a2", "i-a3"), procs):
            assert (tmp_path / inst / "run" / "nginx.pid").read_text().strip() == str(proc.pid)
            assert (tmp_path / inst / "var/log/nginx/access.log").read_text().count("GET /") >= 1
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def test_change_passes_converge_like_full_ones(backend: Backend) -> None:
    """A change pass applies a changed address and recreates a namespace deleted by hand
    (with its veth peers); a full pass afterwards finds nothing to do."""
    lab = two_vpcs(backend.prefix)
    plan = lab.plan()
    backend.apply(plan)
    assert backend.apply(plan, full=False) == [] and backend.last_scope == {}
    vpc = lab.ns("vpc-a")
    ns = plan.namespace(vpc)
    v = ns.veths[0]
    peer = Interface(v.peer.name, v.peer.addresses + ("10.9.9.9/32",), v.peer.master, v.peer.mtu)
    changed = Plan(plan.prefix, tuple(
        Namespace(n.name, n.bridges, (VethPair(v.local, v.peer_namespace, peer),) + n.veths[1:], n.routes, n.sysctls, n.nft)
        if n.name == vpc else n for n in plan))
    actions = backend.apply(changed, full=False)
    assert [type(a).__name__ for a in actions] == ["AddAddress"]
    assert backend.last_scope[v.peer_namespace].links == {v.peer.name}
    subprocess.run(["ip", "netns", "del", lab.ns("i-a2")], check=True)  # by hand (our thread pins it)
    actions = backend.apply(changed, full=False)
    assert CreateNamespace(lab.ns("i-a2")) in actions
    assert any(isinstance(a, AddVeth) and a.peer_ns == lab.ns("i-a2") for a in actions)
    assert backend.apply(changed) == []
    assert ping(lab.ns("i-a1"), "172.31.0.11")


# -- routes in other tables, ip rules, proxy neighbours (proto 118) --------------------

MARKED_LOOKUP = Rule(100, fwmark=0x40000001, table=1001)
UNMARKED_TO_MAIN = Rule(50, fwmark=0x40000000, mask=0x40000000, invert=True, goto=32766)
KERNEL_RULES = ("0:\tfrom all lookup local", "32766:\tfrom all lookup main", "32767:\tfrom all lookup default")


def policy_plan(prefix: str, routing: bool = True) -> Plan:
    """A router namespace with one veth to a peer namespace and, if `routing`, a default
    route in table 1001 on it, two fwmark rules and a proxy ARP entry on it."""
    rt, peer = f"{prefix}-rt", f"{prefix}-peer"
    x = naming.veth_name(prefix, "policy")
    extra: dict = {}
    if routing:
        extra = dict(
            routes=(Route("default", dev=x, table=1001),),
            rules=(MARKED_LOOKUP, UNMARKED_TO_MAIN),
            proxy_neighbours=(ProxyNeighbour("172.31.33.77", x),),
        )
    return Plan(prefix, (
        Namespace(rt, veths=(VethPair(Interface(x, ("172.31.33.1/24",)), peer, Interface("eth0", ("172.31.33.10/24",))),),
                  **extra),
        Namespace(peer),
    ))


def ip(ns: str, *argv: str) -> str:
    return netns.run(ns, ["ip", *argv], check=True).stdout


def assert_policy_routing_in_place(ns: str, x: str) -> None:
    rules = ip(ns, "rule").splitlines()
    assert "50:\tnot from all fwmark 0x40000000/0x40000000 goto 32766 proto 118" in rules
    assert "100:\tfrom all fwmark 0x40000001 lookup 1001 proto 118" in rules
    assert all(k in rules for k in KERNEL_RULES)
    # a device route gets scope link, as `ip route add` gives it
    assert ip(ns, "route", "show", "table", "1001").split() == ["default", "dev", x, "proto", "118", "scope", "link"]
    assert ip(ns, "neigh", "show", "proxy").split() == ["172.31.33.77", "dev", x, "proxy", "proto", "118"]
    # and the kernel routes by them: a marked packet finds table 1001
    assert "table 1001" in ip(ns, "route", "get", "192.0.2.1", "mark", "0x40000001")


def test_rules_table_routes_and_proxy_neighbours_converge(backend: Backend) -> None:
    p = backend.prefix
    plan = policy_plan(p)
    rt, x = f"{p}-rt", naming.veth_name(p, "policy")
    done = backend.apply(plan)
    assert [a for a in done if isinstance(a, (AddRoute, AddRule, AddProxyNeighbour))] == [
        AddRoute(rt, Route("default", dev=x, table=1001)),
        AddRule(rt, UNMARKED_TO_MAIN),
        AddRule(rt, MARKED_LOOKUP),
        AddProxyNeighbour(rt, ProxyNeighbour("172.31.33.77", x)),
    ]
    assert_policy_routing_in_place(rt, x)
    assert backend.apply(plan) == []
    with Backend.linux(p) as again:  # what the kernel reports reads back equal to the plan
        assert again.apply(plan) == []

    # someone else's rule and proxy entry (no proto 118) are not vpclab's to remove
    ip(rt, "rule", "add", "pref", "200", "fwmark", "7", "lookup", "1002")
    ip(rt, "neigh", "add", "proxy", "172.31.33.88", "dev", x)
    bare = policy_plan(p, routing=False)
    done = backend.apply(bare)
    assert [type(a) for a in done] == [DeleteRule, DeleteRule, DeleteRoute, DeleteProxyNeighbour]
    rules = ip(rt, "rule").splitlines()
    assert [r for r in rules if "proto 118" in r] == []
    assert all(k in rules for k in KERNEL_RULES) and "200:\tfrom all fwmark 0x7 lookup 1002" in rules
    assert ip(rt, "route", "show", "table", "1001") == ""
    assert ip(rt, "neigh", "show", "proxy").split() == ["172.31.33.88", "dev", x, "proxy"]
    assert backend.apply(bare) == []


def test_link_deleted_by_hand_is_restored_with_its_table_route_and_proxy_entry(backend: Backend) -> None:
    p = backend.prefix
    plan = policy_plan(p)
    rt, x = f"{p}-rt", naming.veth_name(p, "policy")
    backend.apply(plan)
    ip(rt, "link", "del", x)  # the kernel drops its routes and proxy entries with it
    assert ip(rt, "route", "show", "table", "1001") == "" and ip(rt, "neigh", "show", "proxy") == ""
    done = backend.apply(plan)
    assert AddVeth(rt, x, f"{p}-peer", "eth0") in done
    assert AddRoute(rt, Route("default", dev=x, table=1001)) in done
    assert AddProxyNeighbour(rt, ProxyNeighbour("172.31.33.77", x)) in done
    assert not any(isinstance(a, (AddRule, DeleteRule, DeleteRoute, DeleteProxyNeighbour)) for a in done)
    assert_policy_routing_in_place(rt, x)
    assert backend.apply(plan) == []
    # a link the plan drops goes with its routing in the same pass, without errors
    done = backend.apply(Plan(p, (Namespace(rt), Namespace(f"{p}-peer"))))
    assert DeleteLink(rt, x) in done
    assert ip(rt, "route", "show", "table", "1001") == "" and ip(rt, "neigh", "show", "proxy") == ""
    assert [r for r in ip(rt, "rule").splitlines() if "proto 118" in r] == []


def test_change_pass_converges_a_changed_rule(backend: Backend) -> None:
    p = backend.prefix
    plan = policy_plan(p)
    rt = f"{p}-rt"
    backend.apply(plan)
    moved = Rule(100, fwmark=0x40000002, table=1001)
    ns = plan.namespace(rt)
    changed = Plan(p, (replace(ns, rules=(moved, UNMARKED_TO_MAIN)), plan.namespace(f"{p}-peer")))
    assert backend.apply(changed, full=False) == [DeleteRule(rt, MARKED_LOOKUP), AddRule(rt, moved)]
    assert backend.last_scope[rt].links == set()
    assert "100:\tfrom all fwmark 0x40000002 lookup 1001 proto 118" in ip(rt, "rule").splitlines()
    assert backend.apply(changed) == []


def test_table_with_its_own_subnet_and_a_gateway_default(backend: Backend) -> None:
    """A table holding ``SUBNET dev X`` then ``default via GW`` where only that table reaches
    GW: the kernel accepts the gateway only if the device route has scope link."""
    p = backend.prefix
    base = policy_plan(p, routing=False)
    rt, x = f"{p}-rt", naming.veth_name(p, "policy")
    routes = (Route("10.9.0.0/24", dev=x, table=1002), Route("default", via="10.9.0.1", dev=x, table=1002))
    plan = Plan(p, (replace(base.namespace(rt), routes=routes), base.namespace(f"{p}-peer")))
    done = backend.apply(plan)
    assert [a for a in done if isinstance(a, AddRoute)] == [AddRoute(rt, r) for r in routes]
    assert ip(rt, "route", "show", "table", "1002").splitlines() == [
        "default via 10.9.0.1 dev %s proto 118 " % x, "10.9.0.0/24 dev %s proto 118 scope link " % x]
    assert backend.apply(plan) == []
    assert [type(a) for a in backend.apply(base)] == [DeleteRoute, DeleteRoute]
    assert ip(rt, "route", "show", "table", "1002") == ""
