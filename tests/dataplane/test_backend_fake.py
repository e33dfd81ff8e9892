"""Convergence logic through the FakeBackend: no root, no kernel."""

import pytest

from dp_lab import two_vpcs
from vpclab.dataplane import FakeBackend, Plan, PlanError
from vpclab.dataplane.kernel import AddBridge, AddVeth, CreateNamespace, DeleteLink, DeleteNamespace, ApplyTable
from vpclab.dataplane.nft import NftSet, NftTable, with_elements
from vpclab.dataplane.topology import Interface, Namespace, Route, VethPair

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
