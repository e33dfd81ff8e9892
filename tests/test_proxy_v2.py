"""Proxy protocol v2: header bytes against haproxy's doc/proxy-protocol.txt, relay ports,
and (root) the relay between namespaces this test makes."""
from __future__ import annotations

import asyncio
import os
import socket
import threading

import pytest

from tests.helpers.netns_lab import Lab, RecordingServer
from vpclab.dataplane.agents import proxy_v2
from vpclab.dataplane.agents.proxy_v2 import HeaderError, build_header, build_local_header, parse_header
from vpclab.dataplane.areas import endpoints as desired_endpoints
from vpclab.dataplane.areas import nodes
from vpclab.dataplane.areas import transit
from vpclab.dataplane.world import World
from vpclab.kernel import naming, netns
from vpclab.model.ec2 import Subnet
from vpclab.model.elbv2 import Listener, LoadBalancer, RegisteredTarget, SubnetMapping, TargetGroup, TargetHealth

ACCT, REGION = "111111111111", "ap-south-1"
SIG = bytes.fromhex("0D0A0D0A000D0A515549540A")


# The header, byte by byte ----------------------------------------------------------------

def test_header_without_tlv_is_28_bytes_as_the_spec_lays_it_out():
    h = build_header(("10.0.1.5", 50000), ("172.31.0.20", 80))
    assert h[:12] == SIG
    assert h[12] == 0x21  # version 2, command PROXY
    assert h[13] == 0x11  # AF_INET, STREAM
    assert h[14:16] == (12).to_bytes(2, "big")  # 2*4 addresses + 2*2 ports
    assert h[16:20] == bytes([10, 0, 1, 5])
    assert h[20:24] == bytes([172, 31, 0, 20])
    assert h[24:26] == (50000).to_bytes(2, "big")
    assert h[26:28] == (80).to_bytes(2, "big")
    assert len(h) == 28


def test_length_counts_the_aws_endpoint_tlv():
    vpce = "vpce-0123456789abcdef0"
    h = build_header(("100.64.0.1", 40000), ("100.64.0.2", 80), vpce)
    tlv = bytes([0xEA]) + (1 + len(vpce)).to_bytes(2, "big") + b"\x01" + vpce.encode("ascii")
    assert h[28:] == tlv
    assert int.from_bytes(h[14:16], "big") == 12 + len(tlv) == len(h) - 16
    parsed = parse_header(h + b"GET / HTTP/1.1\r\n")
    assert parsed.size == len(h)
    assert parsed.command == proxy_v2.CMD_PROXY
    assert parsed.source == ("100.64.0.1", 40000)
    assert parsed.destination == ("100.64.0.2", 80)
    assert parsed.tlvs == ((0xEA, b"\x01" + vpce.encode()),)
    assert parsed.endpoint_id == vpce


def test_local_header_has_no_addresses():
    h = build_local_header()
    assert h == SIG + b"\x20\x00\x00\x00"
    parsed = parse_header(h)
    assert parsed.command == proxy_v2.CMD_LOCAL and parsed.source is None and parsed.endpoint_id is None


def test_parser_skips_unknown_tlvs_and_rejects_bad_input():
    h = build_header(("1.2.3.4", 1), ("5.6.7.8", 2))
    noop = bytes([0x04, 0x00, 0x02, 0xAA, 0xBB])
    body = h[16:] + noop
    extended = h[:14] + len(body).to_bytes(2, "big") + body
    assert parse_header(extended).tlvs == ((0x04, b"\xaa\xbb"),)
    assert parse_header(extended).endpoint_id is None
    with pytest.raises(HeaderError):
        parse_header(h[:20])  # partial header
    with pytest.raises(HeaderError):
        parse_header(b"PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n")  # version 1 is not v2
    with pytest.raises(HeaderError):
        parse_header(h[:12] + b"\x31" + h[13:])  # version 3


# Relay ports (the NLB area's contract) ------------------------------------------------------

def _world(pp2: dict[str, bool]) -> World:
    w = World()
    lb = LoadBalancer(id="arn:lb/net/a/1", account=ACCT, region=REGION, name="a", mappings=[
        SubnetMapping(zone="ap-south-1a", network_interface_id="eni-aaaa", private_ip="172.31.0.50", subnet_id="s")])
    w.load_balancers[lb.id] = lb
    w.subnets["s"] = Subnet(id="s", account=ACCT, region=REGION, vpc_id="vpc-a")
    for i, (name, on) in enumerate(pp2.items()):
        tg = TargetGroup(id=f"arn:targetgroup/{name}/{i}", account=ACCT, region=REGION, name=name,
                         attributes={"proxy_protocol_v2.enabled": "true" if on else "false"})
        w.target_groups[tg.id] = tg
        lst = Listener(id=f"arn:listener/{i}", account=ACCT, region=REGION, load_balancer_arn=lb.id, port=80 + i,
                       default_actions=[{"Type": "forward", "TargetGroupArn": tg.id}])
        w.listeners[lst.id] = lst
    return w


def test_relay_ports_are_stable_distinct_and_only_for_proxy_protocol_groups():
    w = _world({"one": True, "two": True, "plain": False})
    ports = nodes.relay_ports(w, "arn:lb/net/a/1")
    assert set(ports) == {"arn:targetgroup/one/0", "arn:targetgroup/two/1"}
    assert len(set(ports.values())) == 2
    assert all(61000 <= p < 65000 for p in ports.values())
    assert nodes.relay_port(w, "arn:lb/net/a/1", "arn:targetgroup/plain/2") is None
    # adding another group does not move the others
    w2 = _world({"one": True, "two": True, "plain": False, "three": True})
    assert {k: v for k, v in nodes.relay_ports(w2, "arn:lb/net/a/1").items() if k in ports} == ports


def test_desired_relays_one_per_node_and_group():
    w = _world({"one": True})
    relays = proxy_v2.desired_relays(w, "vl00000")
    # In the router of the NLB's VPC, on the node's address.
    key = ("vl00000-vpc-a", "172.31.0.50", "arn:targetgroup/one/0")
    assert list(relays) == [key]
    spec = relays[key]
    assert spec.node_ip == "172.31.0.50" and spec.port == nodes.relay_port(w, spec.lb_arn, spec.tg_arn)


def test_pick_target_prefers_healthy_and_fails_open():
    w = _world({"one": True})
    tg = w.target_groups["arn:targetgroup/one/0"]
    tg.target_type = "ip"
    tg.targets = [RegisteredTarget(id="172.31.0.60", port=8080, availability_zone="ap-south-1a", registered=1.0),
                  RegisteredTarget(id="172.31.0.61", port=8080, availability_zone="ap-south-1a", registered=1.0)]
    lb = w.load_balancers["arn:lb/net/a/1"]
    flows = [(("10.0.0.1", p), ("172.31.0.50", 80)) for p in range(40000, 40040)]
    # nothing healthy: fail-open over both
    chosen = {proxy_v2.pick_target(w, lb, lb.mappings[0], tg, s, d).address for s, d in flows}
    assert chosen == {"172.31.0.60", "172.31.0.61"}
    rec = TargetHealth(id=f"{tg.id}|172.31.0.61|8080", account=ACCT, region=REGION, target_group_arn=tg.id, target_id="172.31.0.61",
                       port=8080, state="healthy", observed=2.0)
    w.target_health[rec.id] = rec
    chosen = {proxy_v2.pick_target(w, lb, lb.mappings[0], tg, s, d).address for s, d in flows}
    assert chosen == {"172.31.0.61"}


# The relay for real, between namespaces this test makes ------------------------------------

def _needs_root():
    if os.geteuid() != 0:
        pytest.skip("needs root (creates network namespaces)")


@pytest.fixture
def lab_backend(tmp_path):
    _needs_root()
    from vpclab.kernel import Backend

    prefix = naming.prefix_for_state_dir(tmp_path / "relay-state")
    backend = Backend.linux(prefix)
    try:
        yield backend
    finally:
        try:
            backend.destroy()
        finally:
            backend.close()
        for name in netns.list_namespaces(prefix):
            netns.delete(name, timeout=10)
        assert netns.list_namespaces(prefix) == []


def test_relay_prepends_header_with_endpoint_id_and_splices(lab_backend, monkeypatch):

    from vpclab.kernel.nft import NftChain, NftTable

    prefix = lab_backend.prefix
    node_ip, target_ip, client_ip = "10.77.0.20", "10.77.0.30", "10.77.0.10"
    w = _world({"one": True})
    lb = w.load_balancers["arn:lb/net/a/1"]
    lb.mappings[0].private_ip, lb.mappings[0].network_interface_id = node_ip, "eni-node"
    # The namespace holding the node's address (a VPC router in vpclab) is, in this lab, a
    # namespace of its own named like that router would be.
    w.subnets["s"].vpc_id = "eni-node"
    tg = w.target_groups["arn:targetgroup/one/0"]
    tg.target_type = "ip"
    tg.targets = [RegisteredTarget(id=target_ip, port=8080, availability_zone="ap-south-1a", registered=1.0)]
    port = nodes.relay_port(w, lb.id, tg.id)
    node_ns = naming.namespace_name(prefix, "eni-node")
    # The NLB area's part of the contract: DNAT the listener to the node's own IP at the
    # relay port; PrivateLink flows carry their link's mark (here: link 5, as if the client
    # came through an endpoint link).
    table = NftTable("ip", naming.table_name(prefix, "nlb"), chains=(
        NftChain("prerouting", (f"tcp dport 80 meta mark set {transit.mark(5):#x} dnat to {node_ip}:{port}",),
                 "nat", "prerouting", "dstnat", "accept"),))
    lab = (Lab(prefix).vpc("vpc-r").subnet("vpc-r", "subnet-r", "10.77.0.0/24")
           .instance("vpc-r", "subnet-r", "i-client", client_ip)
           .instance("vpc-r", "subnet-r", "eni-node", node_ip, nft=(table,))
           .instance("vpc-r", "subnet-r", "i-target", target_ip))
    lab_backend.apply(lab.plan())
    # Accepted sockets inherit their SYN's mark (the endpoint area sets this in nodes).
    netns.run(node_ns, ["sysctl", "-qw", "net.ipv4.tcp_fwmark_accept=1"], check=True)
    # Which endpoint link 5 serves: the endpoint area's mapping, stubbed here.
    monkeypatch.setattr(desired_endpoints, "link_endpoints", lambda world: {5: "vpce-0aaaabbbbccccdddd"})

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    relay = proxy_v2.Relay(prefix, loop, connect_timeout=2)
    server = RecordingServer(lab.ns("i-target"), 8080, lambda data: b"hello" in data, b"ok")
    try:
        relay.sync(w)
        assert [(r.namespace, r.port) for r in relay.listening()] == [(node_ns, port)]
        sock = netns.run_in(lab.ns("i-client"), socket.socket, socket.AF_INET, socket.SOCK_STREAM)
        with sock:
            sock.settimeout(5)
            sock.connect((node_ip, 80))
            client_port = sock.getsockname()[1]
            sock.sendall(b"hello")
            assert sock.recv(16) == b"ok"
        peer, data = server.received[0]
        assert peer[0] == node_ip  # the target sees the node
        header = parse_header(data)
        assert header.source == (client_ip, client_port)
        assert header.destination == (node_ip, 80)  # what the client dialled, before the DNAT
        assert header.endpoint_id == "vpce-0aaaabbbbccccdddd"
        assert data[header.size:] == b"hello"
    finally:
        server.close()
        relay.close()
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=5)
    assert relay.listening() == []
