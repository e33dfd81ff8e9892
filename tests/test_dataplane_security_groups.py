"""Security groups as nft filters: plan-level tests (no root) and real traffic through an endpoint."""
from __future__ import annotations

import hashlib
from functools import partial

import pytest

from tests.helpers.traffic import available_endpoint, curl, service_and_consumer
from tests.helpers.waiting import wait_for as _wait_for
from tests.helpers.worlds import LB_ARN, PREFIX, add_endpoint, add_service, plan_of, provider_world
from vpclab.dataplane.areas import endpoints as desired_endpoints
from vpclab.dataplane.areas import security_groups as sgs
from vpclab.kernel import naming
from vpclab.kernel.nft import render_update
from vpclab.model.ec2 import SecurityGroup, SecurityGroupRule

wait_for = partial(_wait_for, timeout=30.0, interval=0.2)


def tables(plan, owner: str) -> dict:
    return {t.name: t for t in plan.namespace(naming.namespace_name(PREFIX, owner)).nft}


def rule(**kw) -> SecurityGroupRule:
    base = {"id": "sgr-x", "egress": False, "protocol": "tcp", "from_port": 80, "to_port": 80}
    return SecurityGroupRule(**{**base, **kw})


@pytest.mark.parametrize("r, expected", [
    (rule(cidr_ipv4="10.0.0.0/8"), "ip saddr 10.0.0.0/8 tcp dport 80 accept"),
    (rule(cidr_ipv4="0.0.0.0/0", from_port=1000, to_port=2000), "meta nfproto ipv4 tcp dport 1000-2000 accept"),
    (rule(protocol="udp", cidr_ipv4="172.31.0.0/16", from_port=53, to_port=53), "ip saddr 172.31.0.0/16 udp dport 53 accept"),
    (rule(protocol="-1", from_port=-1, to_port=-1, cidr_ipv4="0.0.0.0/0"), "meta nfproto ipv4 accept"),
    (rule(protocol="icmp", from_port=8, to_port=-1, cidr_ipv4="0.0.0.0/0"), "meta nfproto ipv4 meta l4proto icmp icmp type 8 accept"),
    (rule(group_id="sg-web"), "ip saddr @g_sg_web tcp dport 80 accept"),
    (rule(cidr_ipv6="::/0"), "meta nfproto ipv6 tcp dport 80 accept"),
    (rule(egress=True, cidr_ipv4="10.1.0.0/16"), "ip daddr 10.1.0.0/16 tcp dport 80 accept"),
])
def test_rule_rendering(r, expected):
    w = provider_world()
    w.security_groups["sg-t"] = SecurityGroup(id="sg-t", account="1", region="r", rules=[r])
    assert sgs.rule_statements(w, ["sg-t"], r.egress, set()) == [expected]


def test_prefix_list_rules_match_nothing():
    w = provider_world()
    w.security_groups["sg-t"] = SecurityGroup(id="sg-t", account="1", region="r", rules=[rule(prefix_list_id="pl-1")])
    assert sgs.rule_statements(w, ["sg-t"], False, set()) == []


def test_instance_table_default_deny_and_stateful():
    table = tables(plan_of(provider_world()), "i-a")[f"{PREFIX}-sg"]
    inp, out = table.chains
    assert (inp.hook, inp.policy, out.hook, out.policy) == ("input", "drop", "output", "drop")
    assert inp.rules[0] == "ct state established,related accept"
    assert "meta nfproto ipv4 tcp dport 80 accept" in inp.rules
    assert "meta nfproto ipv4 accept" in out.rules


def test_referenced_group_is_a_member_set():
    w = provider_world()
    w.security_groups["sg-web"].rules.append(rule(id="sgr-9", protocol="-1", group_id="sg-web"))
    table = tables(plan_of(w), "i-a")[f"{PREFIX}-sg"]
    assert set(table.set("g_sg_web").elements) == {"172.31.32.20", "172.31.0.20"}


def test_rule_change_touches_only_namespaces_of_the_group():
    w = provider_world()
    w.instances["i-b"].security_group_ids = ["sg-other"]
    w.enis["eni-i-b"].security_group_ids = ["sg-other"]
    w.security_groups["sg-other"] = SecurityGroup(id="sg-other", account="1", region="r", rules=[])
    before = plan_of(w)
    w.security_groups["sg-web"].rules.append(rule(id="sgr-9", from_port=443, to_port=443, cidr_ipv4="0.0.0.0/0"))
    after = plan_of(w)
    changed = {a.name for a, b in zip(after, before, strict=True) if a.nft != b.nft}
    assert changed == {naming.namespace_name(PREFIX, "i-a")}


def test_endpoint_enis_share_a_group_chain_through_a_verdict_map():
    w = provider_world()
    add_service(w)
    w.security_groups["sg-ep"] = SecurityGroup(id="sg-ep", account="2", region="r", rules=[
        rule(cidr_ipv4="172.31.0.0/16")])
    for n in range(3):
        add_endpoint(w, n, "available", link=n)
    # In the provider router where the ENIs' links end, keyed by link, checked before the DNAT.
    before = tables(plan_of(w), "vpc-p")[f"{PREFIX}-sgep"]
    chains = [c.name for c in before.chains if c.name.startswith("gs_")]
    assert len(chains) == 1
    links = {f'"{desired_endpoints.node_link_name(PREFIX, n)}"' for n in range(3)}
    assert before.set("eni_groups").elements == {link: f"goto {chains[0]}" for link in links}
    [gs] = [c for c in before.chains if c.name.startswith("gs_")]
    assert gs.rules == ("ip saddr 172.31.0.0/16 tcp dport 80 accept", "drop")
    pre = before.chains[-1]
    assert (pre.hook, pre.priority) == ("prerouting", sgs.PRE_DNAT)
    add_endpoint(w, 3, "available", link=3)  # one more endpoint: an element update
    after = tables(plan_of(w), "vpc-p")[f"{PREFIX}-sgep"]
    assert "delete table" not in render_update(before, after)
    assert f"{PREFIX}-sgep" not in tables(plan_of(w), "vpc-c")  # nothing in the consumer's router


def test_nlb_node_groups_and_privatelink_enforcement():
    w = provider_world()
    lb = w.load_balancers[LB_ARN]
    lb.security_group_ids = ["sg-lb"]
    w.security_groups["sg-lb"] = SecurityGroup(id="sg-lb", account="1", region="r", rules=[
        rule(id="a", cidr_ipv4="0.0.0.0/0"), rule(id="b", from_port=81, to_port=81, cidr_ipv4="172.31.0.0/16")])
    add_service(w)
    add_endpoint(w, 0, "available", link=0)
    tag = hashlib.sha256(LB_ARN.encode()).hexdigest()[:12]
    table = tables(plan_of(w), "vpc-p")[f"{PREFIX}-sg"]  # the router: the nodes are its addresses
    chains = {c.name: c for c in table.chains}
    assert chains[f"vpc_{tag}"].rules == ("meta nfproto ipv4 tcp dport 80 accept",
                                          "ip saddr 172.31.0.0/16 tcp dport 81 accept", "drop")
    assert chains[f"pl_{tag}"].rules == ("meta nfproto ipv4 tcp dport 80 accept", "drop")
    # New flows to a node's address take its NLB's chain; those from a link into it, the
    # PrivateLink chain.
    nodes = {m.private_ip for m in lb.mappings}
    assert table.set("nodes").elements == {ip: f"jump vpc_{tag}" for ip in nodes}
    link = f'"{desired_endpoints.node_link_name(PREFIX, 0)}"'
    assert table.set("privatelink").elements == {link: f"jump pl_{tag}"}
    pre = chains["prerouting"]  # first packets only: nothing on the per-packet path
    assert (pre.type, pre.hook, pre.priority) == ("nat", "prerouting", sgs.PRE_DNAT)
    lb.enforce_sg_inbound_on_privatelink = False
    table = tables(plan_of(w), "vpc-p")[f"{PREFIX}-sg"]
    assert f"pl_{tag}" not in {c.name for c in table.chains}
    assert table.set("privatelink").elements == {}


def test_nlb_without_groups_has_no_filter():
    assert f"{PREFIX}-sg" not in tables(plan_of(provider_world()), "vpc-p")


# Real traffic ---------------------------------------------------------------------------

def test_endpoint_group_rule_opens_and_closes_port_80(dataplane_server):
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    c = service_and_consumer(dataplane_server, groups_rule=False)  # endpoint group without port 80
    # The client needs a group of its own that lets it out (the endpoint group has no rules).
    client_group = c.ec2_2.create_security_group(GroupName="client", Description="client", VpcId=c.vpc_2)["GroupId"]
    c.ec2_2.modify_instance_attribute(InstanceId=c.client, Groups=[client_group])
    endpoint_id, url = available_endpoint(c)
    assert curl(prefix, c.client, url, timeout=1) is None  # no rule for port 80: times out

    perm = [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
    c.ec2_2.authorize_security_group_ingress(GroupId=c.group_2, IpPermissions=perm)
    web = c.p["webs"][0]["PrivateIpAddress"]
    assert wait_for(lambda: curl(prefix, c.client, url, timeout=1), timeout=10) == f"{web} {c.p['node_ip']}"

    c.ec2_2.revoke_security_group_ingress(GroupId=c.group_2, IpPermissions=perm)
    wait_for(lambda: curl(prefix, c.client, url, timeout=1) is None, timeout=10)
