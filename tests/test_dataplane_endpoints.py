"""Interface endpoints: plan-level tests (no root), the observe step on a real store, and
real traffic from account 2 through an endpoint to an NLB target in account 1."""
from __future__ import annotations

from functools import partial
from types import SimpleNamespace

import pytest

from tests.helpers.traffic import (
    available_endpoint,
    curl,
    endpoint_state,
    make_endpoint,
    run_instances,
    service_and_consumer,
    wait_state,
    web_group,
)
from tests.helpers.waiting import wait_for as _wait_for
from tests.helpers.worlds import PREFIX, add_endpoint, add_service, plan_of, provider_world
from vpclab.dataplane.areas import endpoints as desired_endpoints
from vpclab.dataplane.areas import transit
from vpclab.dataplane.world import World
from vpclab.kernel import naming, netns
from vpclab.kernel.topology import ProxyNeighbour, Route, Rule
from vpclab.model import KINDS
from vpclab.model.dataplane import TransitLink
from vpclab.store import open_store

wait_for = partial(_wait_for, timeout=30.0, interval=0.2)

VPC_NS = naming.namespace_name(PREFIX, "vpc-c")
NODE_NS = naming.namespace_name(PREFIX, "vpc-p")  # the provider's router: the node is an address there
ENI_IP = "172.31.32.6"


def consumer(plan):
    return plan.namespace(VPC_NS)


def node(plan):
    return plan.namespace(NODE_NS)


def tables(ns) -> dict:
    return {t.name: t for t in ns.nft}


def forwarding_of(plan) -> set[str]:
    return set(forwarding_map(plan))


def forwarding_map(plan) -> dict[str, str]:
    return dict(tables(node(plan))[f"{PREFIX}-nlb"].set("eni_forwarding").elements)


def links_of(plan) -> list:
    return [v for v in consumer(plan).veths if v.peer_namespace == NODE_NS]


def world_with(state: str, link: int | None = 0) -> World:
    w = provider_world()
    add_service(w)
    add_endpoint(w, 1, state, link=link)
    return w


# Plan level -------------------------------------------------------------------------------

def test_link_numbers():
    assert (transit.mark(7), transit.zone(7), transit.table(7), transit.rule_priority(7)) == (
        0x40000007, 8, 0x10007, 1007)
    assert transit.index_of_mark(0x40000007) == 7
    assert transit.index_of_mark(5) is None  # an NLB flow-hash bucket, not a link
    assert transit.rule_priority(transit.CAPACITY - 1) < transit.MAIN_RULE
    with pytest.raises(ValueError):
        transit.mark(transit.CAPACITY)


@pytest.mark.parametrize("state", ["rejected", "deleting"])
def test_not_forwarding_states_have_no_link(state):
    plan = plan_of(world_with(state))
    assert links_of(plan) == []
    assert forwarding_of(plan) == set()
    assert node(plan).proxy_neighbours == ()
    # Nothing of the endpoint is in the consumer's router: no address, no table.
    bridges = " ".join(a for b in consumer(plan).bridges for a in b.addresses)
    assert ENI_IP not in bridges
    assert consumer(plan).nft == ()


def test_pending_acceptance_has_its_link_ready_but_forwards_nothing():
    """The link is made before acceptance (accepting is then one element update): the
    node answers ARP for the ENI address on it, but no listener takes its traffic."""
    w = world_with("pendingAcceptance", link=7)
    plan = plan_of(w)
    [veth] = links_of(plan)
    assert veth.local.master == naming.bridge_name(PREFIX, "subnet-c0")  # a port of the ENI's subnet
    assert veth.local.addresses == ()
    assert veth.peer.addresses == (f"{desired_endpoints.LINK_ADDRESS}/32",)
    # The MAC the ENI address answers with follows the address, not the link: an endpoint
    # made again with this address answers with the MAC consumers still have cached.
    assert veth.peer.mac == "02:ee:ac:1f:20:06"
    peer = veth.peer.name
    assert node(plan).proxy_neighbours == (ProxyNeighbour(ENI_IP, peer),)
    assert forwarding_of(plan) == set()
    assert desired_endpoints.link_endpoints(w) == {}
    # Accepting changes elements only: same links, same routing, no table replaced.
    from vpclab.kernel.nft import render_update
    w.endpoints["vpce-0001"].state = "pending"
    after = plan_of(w)
    assert links_of(after) == links_of(plan)
    assert (node(after).routes, node(after).rules) == (node(plan).routes, node(plan).rules)
    before_t, after_t = tables(node(plan)), tables(node(after))
    for name in before_t:
        assert "delete table" not in render_update(before_t[name], after_t[name]), name
    assert forwarding_of(after) == {f'"{peer}" . {ENI_IP}'}
    assert desired_endpoints.link_endpoints(w) == {7: "vpce-0001"}


@pytest.mark.parametrize("state", ["pending", "available"])
def test_forwarding_states_link_to_the_node_in_the_same_zone_id(state):
    plan = plan_of(world_with(state, link=7))
    [veth] = links_of(plan)
    peer = veth.peer.name
    assert forwarding_map(plan) == {f'"{peer}" . {ENI_IP}': "jump node_node0"}  # the zone's node
    assert tables(node(plan))[f"{PREFIX}-nlb"].set("link_snat").elements == {f'"{peer}"': "172.31.32.100"}
    # Replies (marked with the link's mark) are routed by the link's table: the consumer
    # subnet on the link, the rest via the consumer subnet's gateway.
    assert Rule(1007, fwmark=0x40000007, table=0x10007) in node(plan).rules
    assert Rule(transit.SKIP_RULE, fwmark=transit.MARK_BIT, mask=transit.MARK_BIT, invert=True,
                goto=transit.MAIN_RULE) in node(plan).rules
    routes = [r for r in node(plan).routes if r.table == 0x10007]
    assert routes == [Route("172.31.32.0/20", dev=peer, table=0x10007),
                      Route("default", via="172.31.32.1", dev=peer, table=0x10007)]
    links = tables(node(plan))[f"{PREFIX}-links"]
    assert links.set("link_zone").elements == {f'"{peer}"': "8"}
    assert links.set("link_mark").elements == {f'"{peer}"': "0x40000007"}
    assert node(plan).sysctls["net.ipv4.tcp_fwmark_accept"] == "1"
    assert node(plan).sysctls[f"net.ipv4.neigh.{peer}.proxy_delay"] == "0"
    # ARP from links is marked, and marked route checks find a default route: the router
    # answers for an ENI address its own VPC has no route to.
    arp = tables(node(plan))[f"{PREFIX}-linkarp"]
    assert arp.family == "arp" and f"meta mark set {hex(transit.ARP_MARK)}" in arp.chains[0].rules[0]
    assert Rule(transit.ARP_RULE, fwmark=transit.ARP_MARK, mask=transit.ARP_MARK,
                table=transit.ARP_TABLE) in node(plan).rules
    assert Route("default", dev="lo", table=transit.ARP_TABLE) in node(plan).routes


def test_no_link_without_an_allocation():
    plan = plan_of(world_with("available", link=None))
    assert links_of(plan) == []
    assert forwarding_of(plan) == set()


def test_zone_without_a_node_forwards_nothing():
    w = provider_world(zones=1)  # node only in zone 0 (aps1-az1)
    add_service(w)
    add_endpoint(w, 1, "available", zone=1, link=0)  # ENI in aps1-az3
    plan = plan_of(w)
    assert links_of(plan) == []
    assert forwarding_of(plan) == set()


def test_more_endpoints_are_element_updates():
    from vpclab.kernel.nft import render_update

    w = world_with("available", link=0)
    before = tables(node(plan_of(w)))
    add_endpoint(w, 2, "available", link=1)
    after = tables(node(plan_of(w)))
    assert set(before) == set(after)
    for name in before:
        script = render_update(before[name], after[name])
        assert "delete table" not in script, name


def test_listener_ports_follow_the_nlb():
    w = world_with("available", link=0)
    w.listeners["lst"].protocol = "TCP_UDP"
    chains = {c.name: c for c in tables(node(plan_of(w)))[f"{PREFIX}-nlb"].chains}
    assert "iifname . ip daddr vmap @eni_forwarding" in chains["prerouting"].rules
    rules = " | ".join(chains["node_node0"].rules)
    for proto in ("tcp", "udp"):
        assert f"{proto} dport 80 " in rules


def test_link_endpoints_for_the_proxy_relay():
    w = world_with("available", link=3)
    assert desired_endpoints.link_endpoints(w) == {3: "vpce-0001"}


# observe: allocation, state transitions (a real store, no kernel) ------------------------

def store_of(tmp_path, w: World):
    store = open_store(tmp_path / "state", KINDS)
    with store.write() as tx:
        for table in (w.vpcs, w.subnets, w.instances, w.enis, w.security_groups, w.load_balancers,
                      w.target_groups, w.listeners, w.services, w.endpoints, w.transit_links):
            for obj in table.values():
                tx.put(obj)
    return store


def test_observe_allocates_while_pending_acceptance(tmp_path):
    w = world_with("pendingAcceptance", link=None)
    store = store_of(tmp_path, w)
    desired_endpoints.observe(World.snapshot(store), SimpleNamespace(store=store, prefix=PREFIX), 100.0)
    snap = World.snapshot(store)
    assert [link.index for link in snap.transit_links.values()] == [0]
    assert snap.endpoints["vpce-0001"].state == "pendingAcceptance"  # observe never accepts
    store.close()


def test_observe_allocates_then_marks_available_then_frees(tmp_path):
    w = world_with("pending", link=None)
    add_endpoint(w, 2, "pending", link=None)
    store = store_of(tmp_path, w)
    dp = SimpleNamespace(store=store, prefix=PREFIX)
    desired_endpoints.observe(World.snapshot(store), dp, 100.0)
    snap = World.snapshot(store)
    assert sorted(link.index for link in snap.transit_links.values()) == [0, 1]
    assert {e.state for e in snap.endpoints.values()} == {"pending"}  # links not applied yet
    desired_endpoints.observe(snap, dp, 101.0)  # a pass applied the links
    snap = World.snapshot(store)
    assert {e.state for e in snap.endpoints.values()} == {"available"}
    # The provider rejects endpoint 1: its link leaves the plan, then its index is freed ...
    with store.write() as tx:
        ep = tx.get(type(snap.endpoints["vpce-0001"]), "vpce-0001")
        ep.state = "rejected"
        tx.put(ep)
    desired_endpoints.observe(World.snapshot(store), dp, 102.0)
    snap = World.snapshot(store)
    assert [link.index for link in snap.transit_links.values()] == [1]
    # ... and reused by the next endpoint, without renumbering the live one.
    add_endpoint(snap, 3, "pending", link=None)
    with store.write() as tx:
        tx.put(snap.endpoints["vpce-0003"])
        tx.put(snap.enis["eni-epvpc-c0003"])
    desired_endpoints.observe(World.snapshot(store), dp, 103.0)
    links = {link.endpoint_id: link.index for link in World.snapshot(store).transit_links.values()}
    assert links == {"vpce-0002": 1, "vpce-0003": 0}
    store.close()


def test_observe_deleting_becomes_deleted(tmp_path):
    w = world_with("deleting", link=0)
    store = store_of(tmp_path, w)
    desired_endpoints.observe(World.snapshot(store), SimpleNamespace(store=store, prefix=PREFIX), 100.0)
    snap = World.snapshot(store)
    assert snap.endpoints["vpce-0001"].state == "deleted"
    assert snap.transit_links == {} and "eni-epvpc-c0001" not in snap.enis
    store.close()


def test_allocator_lowest_free(tmp_path):
    store = open_store(tmp_path / "state", KINDS)
    with store.write() as tx:
        for i in (0, 1, 3):
            tx.put(TransitLink(id=f"eni-{i}", account="1", region="r", index=i))
    with store.write() as tx:
        pool = transit.Allocator(tx)
        assert pool.allocate("eni-a", "e", "1", "r", 0).index == 2
        assert pool.allocate("eni-b", "e", "1", "r", 0).index == 4
        pool.free("eni-1")
        assert pool.allocate("eni-c", "e", "1", "r", 0).index == 1
        assert pool.allocate("eni-a", "e", "1", "r", 0).index == 2  # idempotent
    store.close()


# Real traffic ---------------------------------------------------------------------------

def test_endpoint_forwards_only_while_available(dataplane_server):
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    c = service_and_consumer(dataplane_server)
    web = c.p["webs"][0]["PrivateIpAddress"]
    endpoint_id, eni_ip = make_endpoint(c)
    url = f"http://{eni_ip}/"

    # pendingAcceptance: the ENI address exists, nothing answers.
    assert endpoint_state(c.ec2_2, endpoint_id) == "pendingAcceptance"
    dataplane_server.wait_for_passes()  # the plan for pendingAcceptance is applied
    assert curl(prefix, c.client, url, timeout=1) is None

    # Accepted -> available: the provider target answers, and sees the NLB node as source.
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[endpoint_id])
    wait_state(c.ec2_2, endpoint_id, "available")
    out = curl(prefix, c.client, url)
    assert out == f"{web} {c.p['node_ip']}"

    # The consumer cannot reach the provider's instance directly (same CIDR, other world).
    assert curl(prefix, c.client, f"http://{web}/", timeout=1) is None

    # Rejected: nothing forwards any more.
    c.ec2_1.reject_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[endpoint_id])
    wait_state(c.ec2_2, endpoint_id, "rejected")
    wait_for(lambda: curl(prefix, c.client, url, timeout=1) is None, timeout=10)

    # A second endpoint: accepted, available, then deleted.
    endpoint_id, url = available_endpoint(c)
    assert curl(prefix, c.client, url) == f"{web} {c.p['node_ip']}"
    c.ec2_2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    wait_state(c.ec2_2, endpoint_id, "deleted")
    assert curl(prefix, c.client, url, timeout=1) is None
    # Its transit link is gone from the consumer VPC namespace.
    out = netns.run(naming.namespace_name(prefix, c.vpc_2), ["ip", "-br", "link"]).stdout
    assert not [line for line in out.splitlines() if line.startswith(prefix + naming.TAG_TRANSIT)]


def test_consumers_in_any_address_space_and_in_the_provider_vpc_reach_the_endpoint(dataplane_server):
    """The provider's router answers ARP for an ENI address its own VPC has no route to
    (a consumer VPC in 10.20.0.0/16), and for one in its own VPC (the provider's own
    endpoint: both ends of the link in one router)."""
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    c = service_and_consumer(dataplane_server)
    web = c.p["webs"][0]["PrivateIpAddress"]
    vpc = c.ec2_2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    zone = c.ec2_2.describe_subnets(SubnetIds=[c.subnet_2])["Subnets"][0]["AvailabilityZone"]
    subnet = c.ec2_2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    group = web_group(c.ec2_2, vpc, "far")
    client = run_instances(c.ec2_2, subnet, [group], 1)[0]["InstanceId"]
    far = SimpleNamespace(**{**vars(c), "vpc_2": vpc, "subnet_2": subnet, "group_2": group})
    far_endpoint, far_ip = make_endpoint(far)
    assert far_ip.startswith("10.20.1.")

    # The provider's own endpoint, in the NLB's subnet of its own VPC.
    own = SimpleNamespace(ec2_2=c.ec2_1, vpc_2=c.p["vpc"], subnet_2=c.p["subnet"], svc=c.svc,
                          group_2=web_group(c.ec2_1, c.p["vpc"], "own-endpoint"))
    own_endpoint, own_ip = make_endpoint(own)
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[far_endpoint, own_endpoint])
    wait_state(c.ec2_2, far_endpoint, "available")
    wait_state(c.ec2_1, own_endpoint, "available")
    assert wait_for(lambda: curl(prefix, client, f"http://{far_ip}/"), timeout=10) == f"{web} {c.p['node_ip']}"
    provider_client = run_instances(c.ec2_1, c.p["subnet"], [c.p["group"]], 1)[0]["InstanceId"]
    assert wait_for(lambda: curl(prefix, provider_client, f"http://{own_ip}/"), timeout=10) == \
        f"{web} {c.p['node_ip']}"
