"""The data plane counts the traffic of each endpoint and NLB listener (table ``ip
<p>-count`` in the provider's router): new connections, packets and bytes, read through
the console's topology graph; a reconcile, even one that replaces the nlb table, does not
reset them. Unit checks of the count table's shape run without root."""
from __future__ import annotations

from tests.helpers.console_topology import endpoint_of, listener_of, topology_of
from tests.helpers.traffic import available_endpoint, curl, make_endpoint, service_and_consumer
from tests.helpers.waiting import wait_for
from tests.helpers.worlds import LB_ARN, PREFIX, add_endpoint, add_service, plan_of, provider_world
from vpclab.dataplane.areas.endpoints import endpoint_counters
from vpclab.dataplane.areas.nodes import listener_counters
from vpclab.kernel import naming, netns
from vpclab.kernel.nft import NftChain, NftSet, NftTable, parse_counters, render_table, render_update

N = 4


def count_table(plan, prefix: str) -> NftTable:
    return next(t for ns in plan for t in ns.nft if t.name == naming.table_name(prefix, "count"))


def test_counters_are_added_and_removed_without_replacing_the_table():
    base = NftTable("ip", "vlx-count", (NftSet.map("m", "mark", "counter", {}),),
                    (NftChain("c", ("counter name ct mark map @m",)),))
    one = NftTable(base.family, base.name, (NftSet.map("m", "mark", "counter", {"0x1": '"a"'}),), base.chains, ("a",))
    assert "counter a { }" in render_table(one)
    script = render_update(base, one)
    assert script.startswith("add counter ip vlx-count a\n") and "add element ip vlx-count m" in script
    assert "delete table" not in script
    script = render_update(one, base)  # the element goes before its counter
    assert script.index("delete element") < script.index("delete counter ip vlx-count a")


def test_the_count_table_names_each_forwarding_endpoint_and_listener():
    w = provider_world(zones=1)
    add_service(w)
    add_endpoint(w, 0, "available", link=0)
    add_endpoint(w, 1, "pendingAcceptance", link=1)
    prefix = PREFIX
    table = count_table(plan_of(w, prefix), prefix)
    listener = next(l for l in w.listeners.values() if l.load_balancer_arn == LB_ARN)
    available = next(e for e in w.endpoints.values() if e.state == "available")
    pending = next(e for e in w.endpoints.values() if e.state == "pendingAcceptance")
    assert set(listener_counters(listener.id)) <= set(table.counters)
    assert set(endpoint_counters(available.id)) <= set(table.counters)
    assert not set(endpoint_counters(pending.id)) & set(table.counters)  # it forwards nothing
    # Flows from the VPC to the node (mark 0) and through the available endpoint's link.
    keys = table.set("listener_all").elements
    assert any(k.startswith("0x0 . ") for k in keys) and any(not k.startswith("0x0 . ") for k in keys)


def test_parse_counters():
    text = ('{"nftables": [{"metainfo": {}}, {"counter": {"family": "ip", "name": "a", "table": "t",'
            ' "handle": 2, "packets": 3, "bytes": 180}}]}')
    assert parse_counters(text) == {"a": parse_counters(text)["a"]}
    assert (parse_counters(text)["a"].packets, parse_counters(text)["a"].bytes) == (3, 180)


def curl_ok(prefix: str, instance: str, url: str) -> None:
    assert curl(prefix, instance, url) is not None, url


def test_endpoint_and_listener_counters_rise_and_survive_reconciles(dataplane_server):
    srv = dataplane_server
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    c = service_and_consumer(srv)
    endpoint_id, url = available_endpoint(c)
    listener = c.p["elb"].describe_listeners(LoadBalancerArn=c.p["lb"]["LoadBalancerArn"])["Listeners"][0]
    wait_for(lambda: curl(prefix, c.client, url, timeout=1) is not None, timeout=20, what="the endpoint answers")

    before = topology_of(srv)
    assert before["counters"] is True
    ep0, ls0 = endpoint_of(before, endpoint_id)["traffic"], listener_of(before, listener["ListenerArn"])["traffic"]
    for _ in range(N // 2):
        curl_ok(prefix, c.client, url)

    # A reconcile that changes the nlb table's structure (a second listener: a full
    # replace of that table) and full passes in between: the counters keep counting.
    c.p["elb"].create_listener(LoadBalancerArn=c.p["lb"]["LoadBalancerArn"], Protocol="TCP", Port=8080,
                               DefaultActions=[{"Type": "forward", "TargetGroupArn": c.p["tg"]["TargetGroupArn"]}])
    srv.wait_for_passes()
    srv.wait_for_passes(1, full=True)
    middle = topology_of(srv)
    assert endpoint_of(middle, endpoint_id)["traffic"]["connections"] == ep0["connections"] + N // 2
    for _ in range(N - N // 2):
        curl_ok(prefix, c.client, url)

    after = topology_of(srv)
    ep1, ls1 = endpoint_of(after, endpoint_id)["traffic"], listener_of(after, listener["ListenerArn"])["traffic"]
    assert ep1["connections"] == ep0["connections"] + N
    assert ls1["connections"] == ls0["connections"] + N
    # Each request is a few packets each way, and at least the response's bytes.
    assert ep1["packets"] >= ep0["packets"] + 6 * N and ep1["bytes"] > ep0["bytes"] + 100 * N
    assert ls1["bytes"] > ls0["bytes"] + 100 * N
    # The kernel's own listing agrees (the counters live in the provider's router).
    router = naming.namespace_name(prefix, c.p["vpc"])
    listed = netns.run(router, ["nft", "list", "counters", "table", "ip", naming.table_name(prefix, "count")],
                       check=True).stdout
    assert endpoint_counters(endpoint_id)[0] in listed


def test_a_pending_endpoint_counts_nothing(dataplane_server):
    srv = dataplane_server
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    c = service_and_consumer(srv)
    endpoint_id, eni_ip = make_endpoint(c)
    srv.wait_for_passes()
    assert curl(prefix, c.client, f"http://{eni_ip}/", timeout=1) is None
    graph = topology_of(srv)
    assert endpoint_of(graph, endpoint_id)["state"] == "pendingAcceptance"
    assert endpoint_of(graph, endpoint_id)["traffic"] == {"connections": 0, "packets": 0, "bytes": 0}
