"""Convergence logic through the FakeBackend: no root, no kernel."""

from dataclasses import replace

import pytest

from tests.helpers.netns_lab import two_vpcs
from vpclab.kernel import FakeBackend, Plan, PlanError
from vpclab.kernel.nft import NftSet, NftTable, with_elements
from vpclab.kernel.seam import (
    AddAddress,
    AddBridge,
    AddProxyNeighbour,
    AddRoute,
    AddRule,
    AddVeth,
    ApplyTable,
    CreateNamespace,
    DeleteLink,
    DeleteNamespace,
    DeleteProxyNeighbour,
    DeleteRoute,
    DeleteRule,
    SetUp,
)
from vpclab.kernel.topology import Bridge, Interface, Namespace, ProxyNeighbour, Route, Rule, VethPair

P = "vl0a1b2"


def test_first_apply_builds_everything_second_does_nothing():
    b = FakeBackend(P)
    plan = two_vpcs(P).plan()
    first = b.apply(plan)
    assert sum(isinstance(a, CreateNamespace) for a in first) == 7
    assert sum(isinstance(a, AddVeth) for a in first) == 5
    assert b.apply(plan) == []


def test_links_in_place_with_addresses_and_routes():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    b.apply(lab.plan())
    inst = b.kernel.ns[lab.ns("i-a1")]
    assert inst.links["eth0"].addresses == {"172.31.0.10/20"}
    assert inst.links["eth0"].up and inst.links["lo"].up
    assert {r.dst for r in inst.routes} == {"0.0.0.0/0"}
    vpc = b.kernel.ns[lab.ns("vpc-a")]
    assert vpc.sysctls["net.ipv4.ip_forward"] == "1"


def test_removed_namespace_is_recreated_by_one_apply():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    b.kernel.remove_namespace_by_hand(lab.ns("i-a2"))
    actions = b.apply(plan)
    assert CreateNamespace(lab.ns("i-a2")) in actions
    assert any(isinstance(a, AddVeth) and a.peer_ns == lab.ns("i-a2") for a in actions)
    assert b.apply(plan) == []


def test_cleanup_removes_only_the_prefix():
    b = FakeBackend(P)
    b.kernel.add_foreign_namespace("vl9999a-vpc-x")
    b.kernel.add_foreign_namespace("docker-thing")
    b.apply(two_vpcs(P).plan())
    actions = b.destroy()
    assert all(isinstance(a, DeleteNamespace) for a in actions)
    assert set(b.kernel.ns) == {"vl9999a-vpc-x", "docker-thing"}


def test_dropping_an_instance_deletes_its_namespace_and_vpc_side_link():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    b.apply(lab.plan())
    smaller = Plan(P, tuple(ns for ns in lab.plan() if ns.name != lab.ns("i-b2")))
    smaller = Plan(
        P,
        tuple(
            Namespace(ns.name, ns.bridges, tuple(v for v in ns.veths if v.peer_namespace != lab.ns("i-b2")), ns.routes, ns.sysctls)
            for ns in smaller
        ),
    )
    actions = b.apply(smaller)
    assert DeleteNamespace(lab.ns("i-b2")) in actions
    assert b.apply(smaller) == []
    assert len([n for n in b.kernel.ns[lab.ns("vpc-b")].links if n.startswith(P)]) == 2


def test_stray_owned_link_is_removed_but_foreign_link_kept():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    vpc = lab.ns("vpc-a")
    b.kernel.execute(AddBridge(vpc, P + "bstray00"))
    b.kernel.execute(AddBridge(vpc, "mybr"))
    assert b.apply(plan) == [DeleteLink(vpc, P + "bstray00")]


def test_nft_element_change_is_an_incremental_apply():
    t = NftTable("ip", f"{P}-nat", sets=(NftSet.of("allowed", "ipv4_addr", ["10.0.0.1"]),))
    lab = two_vpcs(P)
    plan = lab.plan()
    with_t = Plan(P, tuple(Namespace(ns.name, ns.bridges, ns.veths, ns.routes, ns.sysctls, (t,) if ns.name == lab.ns("i-a1") else ()) for ns in plan))
    b = FakeBackend(P)
    b.apply(with_t)
    t2 = with_elements(t, "allowed", {"10.0.0.1": None, "10.0.0.2": None})
    plan2 = Plan(P, tuple(Namespace(ns.name, ns.bridges, ns.veths, ns.routes, ns.sysctls, (t2,) if ns.nft else ()) for ns in with_t))
    assert b.apply(plan2) == [ApplyTable(lab.ns("i-a1"), t2, t)]


def test_plan_validation():
    with pytest.raises(PlanError):  # not owned
        Plan(P, (Namespace("other-ns"),)).validate()
    with pytest.raises(PlanError):  # peer namespace missing
        Plan(P, (Namespace(f"{P}-a", veths=(VethPair(Interface("x"), f"{P}-b", Interface("eth0")),)),)).validate()
    with pytest.raises(PlanError):  # global sysctl
        Plan(P, (Namespace(f"{P}-a", sysctls={"kernel.panic": "1"}),)).validate()
    with pytest.raises(PlanError):  # route via a missing device
        Plan(P, (Namespace(f"{P}-a", routes=(Route("10.0.0.0/8", dev="nope"),)),)).validate()


# -- change passes (apply(plan, full=False)): read only what changed -------------------


def _with_addresses(plan: Plan, ns_name: str, extra: str) -> Plan:
    """`plan` with `extra` added to the first veth's peer end declared in `ns_name`."""
    out = []
    for ns in plan:
        if ns.name == ns_name:
            v = ns.veths[0]
            v = VethPair(v.local, v.peer_namespace, Interface(v.peer.name, v.peer.addresses + (extra,), v.peer.master, v.peer.mtu))
            ns = Namespace(ns.name, ns.bridges, (v,) + ns.veths[1:], ns.routes, ns.sysctls, ns.nft)
        out.append(ns)
    return Plan(plan.prefix, tuple(out))


def test_change_pass_with_nothing_changed_reads_nothing():
    b = FakeBackend(P)
    plan = two_vpcs(P).plan()
    b.apply(plan)
    b.kernel.observed.clear()
    assert b.apply(plan, full=False) == []
    assert b.kernel.observed == [] and b.last_scope == {}


def test_change_pass_reads_only_the_changed_link_and_its_partner():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    vpc = lab.ns("vpc-a")
    changed = _with_addresses(plan, vpc, "10.9.9.9/32")
    v = changed.namespace(vpc).veths[0]
    b.kernel.observed.clear()
    actions = b.apply(changed, full=False)
    assert [type(a).__name__ for a in actions] == ["AddAddress"]
    assert set(b.last_scope) == {vpc, v.peer_namespace}
    assert b.last_scope[vpc].links == {v.local.name}
    assert b.last_scope[v.peer_namespace].links == {v.peer.name}
    assert all(links is not None for _, links in b.kernel.observed)  # no full read
    assert b.apply(changed, full=False) == [] and b.apply(changed) == []


def test_change_pass_misses_hand_damage_inside_unchanged_namespace_full_pass_repairs():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    inst = lab.ns("i-a1")
    b.kernel.ns[inst].routes.clear()  # `ip route flush` by hand
    assert b.apply(plan, full=False) == []
    assert any(isinstance(a, AddRoute) for a in b.apply(plan))
    assert b.apply(plan) == []


def test_change_pass_recreates_a_namespace_removed_by_hand_and_its_peers():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    b.kernel.remove_namespace_by_hand(lab.ns("i-a2"))
    actions = b.apply(plan, full=False)
    assert CreateNamespace(lab.ns("i-a2")) in actions
    assert any(isinstance(a, AddVeth) and a.peer_ns == lab.ns("i-a2") for a in actions)
    assert b.apply(plan) == []


def test_change_pass_after_recreation_behind_our_back_reads_namespace_in_full():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    name = lab.ns("i-b1")
    b.kernel.remove_namespace_by_hand(name)
    b.kernel.execute(CreateNamespace(name))  # made again (new identity) before our pass
    actions = b.apply(plan, full=False)
    assert b.last_scope[name].links is None
    assert any(isinstance(a, AddVeth) and a.peer_ns == name for a in actions)
    assert b.apply(plan) == []


def test_failed_change_pass_is_read_in_full_next_time():
    b = FakeBackend(P)
    lab = two_vpcs(P)
    plan = lab.plan()
    b.apply(plan)
    vpc = lab.ns("vpc-a")
    changed = _with_addresses(plan, vpc, "10.9.9.9/32")
    real = b.kernel.execute

    def boom(action):
        if isinstance(action, AddAddress):
            raise OSError("injected")
        real(action)

    b.kernel.execute = boom
    with pytest.raises(OSError):
        b.apply(changed, full=False)
    b.kernel.execute = real
    b.apply(changed, full=False)
    assert b.last_scope[vpc].links is None
    assert b.apply(changed) == []


def test_gso_max_size_is_set_once_and_on_bridges_only_once_they_have_ports():
    from vpclab.kernel import Bridge, Interface, Namespace, Plan, VethPair
    from vpclab.kernel.backend import FakeBackend
    from vpclab.kernel.seam import SetGsoMaxSize, SetMaster

    b = FakeBackend("vl00000")
    ns_a, ns_b = "vl00000-a", "vl00000-b"
    plan = Plan("vl00000", (
        Namespace(ns_a, veths=(VethPair(Interface("x", gso_max_size=196608), ns_b, Interface("y", gso_max_size=196608)),)),
        Namespace(ns_b),
    ))
    done = b.apply(plan)
    assert sorted(a.name for a in done if isinstance(a, SetGsoMaxSize)) == ["x", "y"]
    assert b.apply(plan) == []
    # The kernel caps a bridge's GSO size by its ports: none, nothing above 64 KiB. The
    # backend sets a bridge's size after attaching its ports, and leaves a port-less one.
    br = Bridge("vl00000b", gso_max_size=196608)
    lonely = Plan("vl00000", (Namespace(ns_a, bridges=(br,)),))
    assert not [a for a in b.apply(lonely) if isinstance(a, SetGsoMaxSize)]
    with_port = Plan("vl00000", (
        Namespace(ns_a, bridges=(br,), veths=(VethPair(Interface("x", master=br.name, gso_max_size=196608), ns_b,
                                                       Interface("y", gso_max_size=196608)),)),
        Namespace(ns_b),
    ))
    done = b.apply(with_port)
    steps = [(type(a).__name__, a.name) for a in done if isinstance(a, (SetGsoMaxSize, SetMaster))]
    assert steps.index(("SetGsoMaxSize", br.name)) > steps.index(("SetMaster", "x"))
    assert b.apply(with_port) == []


# -- routes in other tables, ip rules, proxy neighbours --------------------------------


def _policy_plan(prefix: str, *, rules: bool = True, table_route: bool = True, proxy: bool = True) -> Plan:
    """One namespace with one bridge, plus (optionally) a table-1001 default route, two
    fwmark rules (a lookup and an inverted goto) and a proxy ARP entry on the bridge."""
    br = prefix + "bx"
    return Plan(prefix, (Namespace(
        f"{prefix}-r",
        bridges=(Bridge(br, ("172.31.33.1/24",)),),
        routes=(Route("10.0.0.0/8", dev=br),) + ((Route("default", dev=br, table=1001),) if table_route else ()),
        rules=(Rule(100, fwmark=0x40000001, table=1001),
               Rule(50, fwmark=0x40000000, mask=0x40000000, invert=True, goto=32766)) if rules else (),
        proxy_neighbours=(ProxyNeighbour("172.31.33.77", br),) if proxy else (),
    ),))


def test_rules_table_routes_and_proxy_neighbours_are_added_once_and_removed():
    b = FakeBackend(P)
    plan = _policy_plan(P)
    ns, br = f"{P}-r", P + "bx"
    routing = (AddRoute, DeleteRoute, AddRule, DeleteRule, AddProxyNeighbour, DeleteProxyNeighbour)
    done = b.apply(plan)
    # after the links are configured: routes, then rules (in priority order), then proxy entries
    assert [a for a in done if isinstance(a, routing)] == [
        AddRoute(ns, Route("10.0.0.0/8", dev=br)),
        AddRoute(ns, Route("0.0.0.0/0", dev=br, table=1001)),
        AddRule(ns, Rule(50, fwmark=0x40000000, mask=0x40000000, invert=True, goto=32766)),
        AddRule(ns, Rule(100, fwmark=0x40000001, table=1001)),
        AddProxyNeighbour(ns, ProxyNeighbour("172.31.33.77", br)),
    ]
    assert done.index(SetUp(ns, br, True)) < done.index(AddRoute(ns, Route("10.0.0.0/8", dev=br)))
    assert b.apply(plan) == [] and b.apply(plan, full=False) == []

    bare = _policy_plan(P, rules=False, table_route=False, proxy=False)
    assert b.apply(bare) == [
        DeleteRule(ns, Rule(50, fwmark=0x40000000, mask=0x40000000, invert=True, goto=32766)),
        DeleteRule(ns, Rule(100, fwmark=0x40000001, table=1001)),
        DeleteRoute(ns, Route("0.0.0.0/0", dev=br, table=1001)),
        DeleteProxyNeighbour(ns, ProxyNeighbour("172.31.33.77", br)),
    ]
    n = b.kernel.ns[ns]
    assert n.rules == set() and n.proxy_neighbours == set() and n.routes == {Route("10.0.0.0/8", dev=br)}
    assert b.apply(bare) == []


def test_same_destination_in_two_tables_are_two_routes():
    b = FakeBackend(P)
    br = P + "bx"
    plan = Plan(P, (Namespace(f"{P}-r", bridges=(Bridge(br),), routes=(
        Route("default", dev=br), Route("default", dev=br, table=1001), Route("default", dev=br, table=1002))),))
    assert sum(isinstance(a, AddRoute) for a in b.apply(plan)) == 3
    assert b.apply(plan) == []


def test_change_pass_changes_the_routing_part_by_difference_and_a_full_pass_repairs():
    """A change pass does not read a thousand routes to add one: it sends the difference
    to what the last pass applied. Damage by hand is for the full pass to see."""
    b = FakeBackend(P)
    plan = _policy_plan(P)
    b.apply(plan)
    ns = f"{P}-r"
    spec = plan.namespace(ns)
    extra = Rule(101, fwmark=0x40000002, table=1001)
    more = Plan(P, (replace(spec, rules=spec.rules + (extra,)),))
    lost = next(iter(b.kernel.ns[ns].routes))
    b.kernel.ns[ns].routes.discard(lost)  # by hand, unseen
    b.kernel.routing_reads.clear()
    assert b.apply(more, full=False) == [AddRule(ns, extra)]
    assert b.kernel.routing_reads == []
    assert b.apply(more) == [AddRoute(ns, lost)]
    assert ns in b.kernel.routing_reads


def test_change_pass_that_changes_only_a_rule_converges_the_routing_part():
    b = FakeBackend(P)
    plan = _policy_plan(P)
    b.apply(plan)
    ns = f"{P}-r"
    old = Rule(100, fwmark=0x40000001, table=1001)
    new = Rule(100, fwmark=0x40000002, table=1001)
    spec = plan.namespace(ns)
    changed = Plan(P, (replace(spec, rules=tuple(new if r == old else r for r in spec.rules)),))
    b.kernel.observed.clear()
    assert b.apply(changed, full=False) == [DeleteRule(ns, old), AddRule(ns, new)]
    assert b.last_scope[ns].links == set() and b.last_scope[ns].routes
    assert not b.last_scope[ns].tables and not b.last_scope[ns].sysctls
    assert b.kernel.observed and all(links == frozenset() for _, links in b.kernel.observed)  # no link read
    assert b.apply(changed, full=False) == [] and b.apply(changed) == []
    # a change of proxy neighbours alone is a change of the routing part too
    fewer = Plan(P, (replace(changed.namespace(ns), proxy_neighbours=()),))
    assert b.apply(fewer, full=False) == [DeleteProxyNeighbour(ns, ProxyNeighbour("172.31.33.77", P + "bx"))]


def test_link_deleted_by_hand_takes_its_routes_and_proxy_entries_and_apply_restores_them():
    b = FakeBackend(P)
    plan = _policy_plan(P)
    b.apply(plan)
    ns, br = f"{P}-r", P + "bx"
    b.kernel.execute(DeleteLink(ns, br))
    n = b.kernel.ns[ns]
    assert n.routes == set() and n.proxy_neighbours == set() and len(n.rules) == 2  # rules stay
    done = b.apply(plan)
    assert AddBridge(ns, br) in done
    assert AddRoute(ns, Route("0.0.0.0/0", dev=br, table=1001)) in done
    assert AddProxyNeighbour(ns, ProxyNeighbour("172.31.33.77", br)) in done
    assert not any(isinstance(a, (AddRule, DeleteRule)) for a in done)
    assert b.apply(plan) == []


def test_removing_a_link_and_its_routing_in_one_pass_does_not_fail():
    """The kernel drops the link's routes and proxy entries itself; what was observed
    before the link went must not be deleted again (the pass reads after link changes)."""
    b = FakeBackend(P)
    b.apply(_policy_plan(P))
    ns = f"{P}-r"
    done = b.apply(Plan(P, (Namespace(ns),)))
    assert done[0] == DeleteLink(ns, P + "bx")
    assert not any(isinstance(a, (DeleteRoute, DeleteProxyNeighbour)) for a in done)
    assert sorted(a.rule.priority for a in done if isinstance(a, DeleteRule)) == [50, 100]
    assert b.apply(Plan(P, (Namespace(ns),))) == []


def test_deleting_what_is_already_gone_is_no_error():
    k = FakeBackend(P).kernel
    k.execute(CreateNamespace(f"{P}-r"))
    k.execute(DeleteRule(f"{P}-r", Rule(100, table=1001)))
    k.execute(DeleteRoute(f"{P}-r", Route("default", dev="x", table=1001)))
    k.execute(DeleteProxyNeighbour(f"{P}-r", ProxyNeighbour("10.0.0.1", "x")))
    # Each was taken as done, and the namespace is as it was made: nothing of it removed.
    assert [type(a) for a in k.actions[-3:]] == [DeleteRule, DeleteRoute, DeleteProxyNeighbour]
    ns = k.ns[f"{P}-r"]
    assert (ns.rules, ns.routes, ns.proxy_neighbours) == (set(), set(), set())
    assert k.namespaces() == {f"{P}-r"}


def test_rule_and_proxy_validation():
    for bad in (
        dict(priority=100),  # neither table nor goto
        dict(priority=100, table=1, goto=200),  # both
        dict(priority=0, table=1),  # the kernel's local rule
        dict(priority=32766, table=1),  # the kernel's main rule
        dict(priority=100, goto=100),  # backward goto
        dict(priority=100, table=0),
        dict(priority=100, table=1, fwmark=1 << 32),
        dict(priority=100, table=1, fwmark=1, mask=0),  # matches everything, reads back as no selector
    ):
        with pytest.raises(ValueError):
            Rule(**bad)
    assert Rule(100, table=1, mask=0xFF) == Rule(100, table=1)  # no fwmark: the mask means nothing
    with pytest.raises(ValueError):
        ProxyNeighbour("fd00::1", "eth0")  # IPv4 only
    with pytest.raises(ValueError):
        Route("default", dev="x", table=0)
    ns = f"{P}-a"
    with pytest.raises(PlanError):  # two rules, one priority
        Plan(P, (Namespace(ns, rules=(Rule(100, table=1), Rule(100, table=2))),)).validate()
    with pytest.raises(PlanError):  # proxy entry on a missing device
        Plan(P, (Namespace(ns, proxy_neighbours=(ProxyNeighbour("10.0.0.1", "nope"),)),)).validate()
    with pytest.raises(PlanError):  # table route on a missing device
        Plan(P, (Namespace(ns, routes=(Route("default", dev="nope", table=1001),)),)).validate()


def test_namespace_draft_emits_rules_and_proxy_neighbours_sorted():
    from vpclab.dataplane.planner import NamespaceDraft

    d = NamespaceDraft(f"{P}-a")
    d.rules[200] = Rule(200, table=2)
    d.rules[100] = Rule(100, table=1)
    d.proxy_neighbours[("10.0.0.2", "b")] = ProxyNeighbour("10.0.0.2", "b")
    d.proxy_neighbours[("10.0.0.1", "b")] = ProxyNeighbour("10.0.0.1", "b")
    built = d.build()
    assert [r.priority for r in built.rules] == [100, 200]
    assert [p.address for p in built.proxy_neighbours] == ["10.0.0.1", "10.0.0.2"]


def test_a_gateway_must_be_reachable_in_its_table_first():
    from vpclab.kernel.links import LinkError

    b = FakeBackend(P)
    br = P + "bx"
    subnet, default = Route("10.9.0.0/24", dev=br, table=7), Route("default", via="10.9.0.1", dev=br, table=7)

    def plan(*routes: Route) -> Plan:
        return Plan(P, (Namespace(f"{P}-r", bridges=(Bridge(br, ("172.31.33.1/24",)),), routes=routes),))

    with pytest.raises(LinkError):  # like the kernel: ENETUNREACH, the table does not reach 10.9.0.1 yet
        b.apply(plan(default, subnet))
    assert [type(a) for a in b.apply(plan(subnet, default)) if isinstance(a, AddRoute)] == [AddRoute, AddRoute]
    assert b.apply(plan(subnet, default)) == []
    b.kernel.execute(DeleteRoute(f"{P}-r", subnet))
    assert b.kernel.ns[f"{P}-r"].routes == {default}  # (the kernel keeps it too)


def test_mac_is_set_once_on_the_declared_end():
    from vpclab.kernel import Interface, Namespace, Plan, VethPair
    from vpclab.kernel.backend import FakeBackend
    from vpclab.kernel.seam import SetMac

    b = FakeBackend("vl00000")
    plan = Plan("vl00000", (
        Namespace("vl00000-a", veths=(VethPair(Interface("x"), "vl00000-b", Interface("y", mac="02:ee:ac:1f:20:06")),)),
        Namespace("vl00000-b"),
    ))
    assert [a for a in b.apply(plan) if isinstance(a, SetMac)] == [SetMac("vl00000-b", "y", "02:ee:ac:1f:20:06")]
    assert b.apply(plan) == []
