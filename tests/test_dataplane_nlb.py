"""NLB nodes: plan-level tests of the forwarding policy (no root), and real traffic."""
from __future__ import annotations

from functools import partial

from tests.helpers.traffic import curl, provider_nlb, run_instances
from tests.helpers.waiting import wait_for as _wait_for
from tests.helpers.worlds import LB_ARN, PREFIX, TG_ARN, plan_of, provider_world, set_health
from vpclab.dataplane.areas import load_balancers as nlb
from vpclab.dataplane.areas import nodes
from vpclab.dataplane.areas.network import router_mac
from vpclab.dataplane.world import gateway_of
from vpclab.kernel import naming
from vpclab.kernel.nft import render_update

wait_for = partial(_wait_for, timeout=30.0, interval=0.2)


def node_set(w, zone: int = 0):
    lb = w.load_balancers[LB_ARN]
    return nodes.forwarding_set(w, lb, lb.mappings[zone], w.target_groups[TG_ARN])


ROUTER = naming.namespace_name(PREFIX, "vpc-p")


def node_nft(plan):
    """The nlb table of the provider VPC's router, where the nodes are addresses."""
    return {t.name: t for t in plan.namespace(ROUTER).nft}[f"{PREFIX}-nlb"]


def chain(table, name):
    return next(c for c in table.chains if c.name == name)


# Plan level -------------------------------------------------------------------------------

def test_cross_zone_off_keeps_flows_in_zone():
    w = provider_world()
    assert node_set(w, 0) == [("172.31.32.20", 80)]
    assert node_set(w, 1) == [("172.31.0.20", 80)]


def test_cross_zone_on_uses_all_targets():
    w = provider_world(cross_zone=True)
    assert node_set(w, 0) == [("172.31.0.20", 80), ("172.31.32.20", 80)]
    # The target group attribute overrides the NLB's.
    w.target_groups[TG_ARN].attributes["load_balancing.cross_zone.enabled"] = "false"
    assert node_set(w, 0) == [("172.31.32.20", 80)]


def test_zone_without_targets_forwards_to_all():
    w = provider_world()
    w.target_groups[TG_ARN].targets = [t for t in w.target_groups[TG_ARN].targets if t.id == "i-b"]
    assert node_set(w, 0) == [("172.31.0.20", 80)]


def test_healthy_targets_only_and_fail_open():
    w = provider_world(cross_zone=True)
    set_health(w, "i-a", "healthy")
    set_health(w, "i-b", "unhealthy")
    assert node_set(w) == [("172.31.32.20", 80)]
    set_health(w, "i-a", "unhealthy")
    assert node_set(w) == [("172.31.0.20", 80), ("172.31.32.20", 80)]  # none healthy: all
    # A record older than the registration does not count.
    set_health(w, "i-b", "healthy", observed=5.0)
    assert len(node_set(w)) == 2


def test_draining_targets_get_no_new_flows():
    w = provider_world(cross_zone=True)
    w.target_groups[TG_ARN].targets[0].deregistering_since = 30.0
    assert node_set(w) == [("172.31.0.20", 80)]


def test_stopped_instance_is_not_a_target():
    w = provider_world(cross_zone=True)
    w.instances["i-a"].state = "stopped"
    assert node_set(w) == [("172.31.0.20", 80)]


def test_node_table_hashes_into_fixed_buckets():
    w = provider_world(cross_zone=True)
    table = node_nft(plan_of(w))
    be = table.set("be_node0_tcp_80")
    assert len(be.elements) == nlb.BUCKETS
    assert set(be.elements.values()) == {"172.31.0.20 . 80", "172.31.32.20 . 80"}
    rules = chain(table, "node_node0").rules
    assert any("jhash" in r and f"mod {nlb.BUCKETS}" in r and "@be_node0_tcp_80" in r for r in rules)
    # Each node's flows leave with its own address; a new flow from the VPC finds its
    # node by the address it was sent to.
    post = chain(table, "postrouting").rules
    assert "ct status dnat ct original ip daddr 172.31.32.100 snat ip to 172.31.32.100" in post
    assert table.set("nodes").elements["172.31.32.100"] == "jump node_node0"
    assert "ip daddr @nodes drop" in chain(table, "prerouting").rules  # other ports: nothing


def test_target_change_is_an_element_update():
    w = provider_world(cross_zone=True)
    before = node_nft(plan_of(w))
    set_health(w, "i-a", "healthy")
    after = node_nft(plan_of(w))
    script = render_update(before, after)
    assert script and "delete table" not in script and "element" in script
    assert set(after.set("be_node0_tcp_80").elements.values()) == {"172.31.32.20 . 80"}


def test_udp_and_tcp_udp_listeners():
    w = provider_world()
    w.listeners["lst"].protocol = "TCP_UDP"
    rules = " ".join(chain(node_nft(plan_of(w)), "node_node0").rules)
    assert "tcp dport 80" in rules and "udp dport 80" in rules
    w.listeners["lst"].protocol = "UDP"
    table = node_nft(plan_of(w))
    assert {s.name for s in table.sets} == {"eni_forwarding", "link_snat", "nodes", "public_nodes", "be_node0_udp_80",
                                            "be_node1_udp_80"}


def test_no_targets_means_an_empty_map():
    w = provider_world()
    w.target_groups[TG_ARN].targets = []
    assert node_nft(plan_of(w)).set("be_node0_tcp_80").elements == {}


def test_nodes_are_addresses_of_the_vpc_router():
    w = provider_world(zones=2)
    plan = plan_of(w)
    assert {ns.name for ns in plan} == ({ROUTER, naming.namespace_name(PREFIX, "internet")}
                                        | {naming.namespace_name(PREFIX, i) for i in w.instances})
    router = plan.namespace(ROUTER)
    for m in w.load_balancers[LB_ARN].mappings:
        bridge = next(b for b in router.bridges if b.name == naming.bridge_name(PREFIX, m.subnet_id))
        assert f"{m.private_ip}/32" in bridge.addresses  # beside the gateway, no prefix route
        # A fixed MAC: instances' cached entries for the node (and the gateway) stay valid
        # when ports join; no ICMP redirects sending a client past the node.
        assert bridge.mac == router_mac(gateway_of(w.subnets[m.subnet_id].cidr_block))
        assert router.sysctls[f"net.ipv4.conf.{bridge.name}.send_redirects"] == "0"
    assert router.sysctls["net.ipv4.conf.all.send_redirects"] == "0"
    assert router.sysctls["net.ipv4.conf.all.arp_ignore"] == "1"
    assert router.sysctls["net.bridge.bridge-nf-call-iptables"] == "0"


# Real traffic ---------------------------------------------------------------------------

def test_nlb_balances_two_targets_and_snats_to_the_node(dataplane_server):
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    p = provider_nlb(dataplane_server)
    client = run_instances(p["ec2"], p["subnet"], [p["group"]], 1)[0]["InstanceId"]
    web_ips = {i["PrivateIpAddress"] for i in p["webs"]}
    # Both in service first: while only one is healthy it gets every new flow (a target
    # whose web server was not listening yet at the first check waits for the next one).
    tg_arn = p["tg"]["TargetGroupArn"]
    wait_for(lambda: {d["TargetHealth"]["State"] for d in p["elb"].describe_target_health(
        TargetGroupArn=tg_arn)["TargetHealthDescriptions"]} == {"healthy"}, timeout=30)
    wait_for(lambda: curl(prefix, client, f"http://{p['node_ip']}/"), timeout=30)
    seen, sources = set(), set()
    for _ in range(30):
        out = curl(prefix, client, f"http://{p['node_ip']}/")
        assert out is not None
        me, peer = out.split()
        seen.add(me)
        sources.add(peer)
        if seen == web_ips:
            break
    assert seen == web_ips  # both targets get flows
    assert sources == {p["node_ip"]}  # targets see the NLB node as the source
    # The client cannot reach a port the NLB has no listener on.
    assert curl(prefix, client, f"http://{p['node_ip']}:8080/", timeout=1) is None
