"""The internet edge in the kernel: gateways' one-to-one NAT, route tables, the internet
namespace and the host relay, on hand-built worlds (no server: the areas are pure over a
World, the relay is the agent itself). Root only; everything made is removed."""
from __future__ import annotations

import socket
import time

import pytest

from vpclab.dataplane.agents.host_relay import HostRelay
from vpclab.dataplane.areas.internet import internet_namespace
from vpclab.dataplane.areas.network import instance_namespace
from vpclab.dataplane.world import World
from vpclab.model.ec2 import (
    InternetGateway,
    PublicIpAssociation,
    RouteEntry,
    RouteTable,
    RouteTableAssociation,
    SecurityGroupRule,
)
from vpclab.model.internet import HOST_ADDRESS

from tests.helpers.netns_lab import EchoServer, tcp_ask
from tests.helpers.server import is_root
from tests.helpers.worlds import A1, A2, R, add_instance, add_vpc, plan_of, provider_world

pytestmark = pytest.mark.skipif(not is_root(), reason="the data plane needs root")

A_PUBLIC, C_PUBLIC, NODE_PUBLIC = "198.18.1.7", "198.18.1.9", "198.18.1.20"


def gateway(w: World, vpc_id: str, account: str, igw_id: str) -> None:
    w.internet_gateways[igw_id] = InternetGateway(id=igw_id, account=account, region=R, vpc_id=vpc_id)
    w.route_tables[f"rtb-{vpc_id}"] = RouteTable(
        id=f"rtb-{vpc_id}", account=account, region=R, vpc_id=vpc_id,
        routes=[RouteEntry("172.31.0.0/16", gateway_id="local", origin="CreateRouteTable"),
                RouteEntry("0.0.0.0/0", gateway_id=igw_id, origin="CreateRoute")],
        associations=[RouteTableAssociation(id=f"rtbassoc-{vpc_id}", main=True)])


def public(w: World, eni_id: str, ip: str, owner: str = "amazon") -> None:
    w.enis[eni_id].association = PublicIpAssociation(public_ip=ip, ip_owner_id=owner)


def edge_world() -> World:
    """The provider (two web instances, an NLB) with a gateway; i-a and the NLB's first
    node have public addresses; a consumer VPC with the same CIDR has i-c, public too."""
    w = provider_world()
    gateway(w, "vpc-p", A1, "igw-p")
    public(w, "eni-i-a", A_PUBLIC)
    public(w, "eni-node0", NODE_PUBLIC, "amazon-elb")
    subnets = add_vpc(w, A2, "vpc-c")
    add_instance(w, "i-c", subnets[0], "172.31.32.30", groups=("sg-any",))
    from vpclab.model.ec2 import SecurityGroup
    w.security_groups["sg-any"] = SecurityGroup(id="sg-any", account=A2, region=R, vpc_id="vpc-c", rules=[
        SecurityGroupRule(id="sgr-9", egress=True, protocol="-1", cidr_ipv4="0.0.0.0/0")])
    gateway(w, "vpc-c", A2, "igw-c")
    public(w, "eni-i-c", C_PUBLIC)
    return w


class _Host:
    def __init__(self, prefix: str):
        self.prefix = prefix


@pytest.fixture
def edge(backend, prefix):
    w = edge_world()
    backend.apply(plan_of(w, prefix))
    servers = [EchoServer(instance_namespace(prefix, "i-a"), "172.31.32.20", 80, "a"),
               EchoServer(instance_namespace(prefix, "i-b"), "172.31.0.20", 80, "b")]
    try:
        yield w
    finally:
        for s in servers:
            s.close()


def from_internet(prefix: str, ip: str, port: int = 80, timeout: float = 1.5) -> str | None:
    """What `ip`:`port` answers the user's machine (a socket in the internet namespace)."""
    def make() -> socket.socket:
        s = socket.socket()
        s.bind((HOST_ADDRESS, 0))
        return s
    from vpclab.kernel import netns
    sock = netns.run_in(internet_namespace(prefix), make)
    with sock:
        sock.settimeout(timeout)
        try:
            sock.connect((ip, port))
            return sock.recv(256).decode()
        except OSError:
            return None


def test_public_instance_answers_the_internet_with_the_real_source(edge, prefix):
    assert from_internet(prefix, A_PUBLIC) == f"a {HOST_ADDRESS}"


def test_instance_without_public_address_is_not_reachable(edge, prefix):
    assert from_internet(prefix, "172.31.0.20") is None


def test_internet_facing_node_serves_its_listener_and_targets_see_the_node(edge, prefix):
    answers = {from_internet(prefix, NODE_PUBLIC) for _ in range(12)}
    assert answers <= {"a 172.31.32.100", "b 172.31.32.100"} and answers


def test_consumer_reaches_provider_public_address_through_the_internet(edge, prefix):
    assert tcp_ask(instance_namespace(prefix, "i-c"), A_PUBLIC, 80) == f"a {C_PUBLIC}"


def test_only_public_addresses_reach_the_internet_even_their_own_vpcs(edge, backend, prefix):
    w = edge
    # i-b has no public address: nothing it sends leaves for the internet.
    assert tcp_ask(instance_namespace(prefix, "i-b"), A_PUBLIC, 80, timeout=1) is None
    public(w, "eni-i-b", "198.18.1.8")
    backend.apply(plan_of(w, prefix))
    # With one, it reaches i-a's public address out through the gateway and back in.
    assert tcp_ask(instance_namespace(prefix, "i-b"), A_PUBLIC, 80) == "a 198.18.1.8"


def test_private_subnet_does_not_answer(edge, backend, prefix):
    w = edge
    w.route_tables["rtb-private"] = RouteTable(
        id="rtb-private", account=A1, region=R, vpc_id="vpc-p",
        routes=[RouteEntry("172.31.0.0/16", gateway_id="local", origin="CreateRouteTable")],
        associations=[RouteTableAssociation(id="rtbassoc-x", subnet_id=w.instances["i-a"].subnet_id)])
    backend.apply(plan_of(w, prefix))
    assert from_internet(prefix, A_PUBLIC) is None


def test_rule_removed_times_out(edge, backend, prefix):
    w = edge
    w.security_groups["sg-web"].rules = [r for r in w.security_groups["sg-web"].rules if r.egress]
    backend.apply(plan_of(w, prefix))
    assert from_internet(prefix, A_PUBLIC) is None


def test_gateway_detached_cuts_the_vpc_off(edge, backend, prefix):
    w = edge
    w.internet_gateways["igw-p"].vpc_id = None
    backend.apply(plan_of(w, prefix))
    assert from_internet(prefix, A_PUBLIC) is None
    assert tcp_ask(instance_namespace(prefix, "i-c"), A_PUBLIC, 80, timeout=1) is None


def test_host_relay_serves_the_mapping_on_loopback(edge, prefix):
    relay = HostRelay(_Host(prefix), connect_timeout=2)  # type: ignore[arg-type]
    try:
        relay.sync(edge)
        served = {(e.host_ip, e.port) for e in relay.listening()}
        assert ("127.18.1.7", 80) in served and ("127.18.1.20", 80) in served
        with socket.create_connection(("127.18.1.7", 80), timeout=3) as s:
            assert s.recv(256).decode() == f"a {HOST_ADDRESS}"
        # A port nothing allows: accepted on the host, then nothing comes (a time-out).
        with socket.create_connection(("127.18.1.7", 443), timeout=3) as s:
            s.settimeout(1)
            started = time.monotonic()
            with pytest.raises((TimeoutError, socket.timeout)):
                s.recv(16)
            assert time.monotonic() - started >= 0.9
    finally:
        relay.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.18.1.7", 80), timeout=1)


def udp_from(prefix: str, ns: str, source: str | None, to: str, port: int) -> None:
    """Send one datagram from namespace `ns`, from `source` (any address: IP_TRANSPARENT,
    as an instance's raw socket would forge it) or the namespace's own."""
    from vpclab.kernel import netns

    def send() -> None:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            if source is not None:
                s.setsockopt(socket.SOL_IP, 19, 1)  # IP_TRANSPARENT
                s.bind((source, 0))
            s.sendto(b"hello", (to, port))
    netns.run_in(ns, send)


def test_an_instance_cannot_forge_another_public_source(edge, backend, prefix):
    from vpclab.kernel import netns
    w = edge
    w.security_groups["sg-any"].rules.append(
        SecurityGroupRule(id="sgr-10", egress=False, protocol="udp", from_port=9999, to_port=9999,
                          cidr_ipv4="0.0.0.0/0"))
    backend.apply(plan_of(w, prefix))
    receiver = netns.run_in(instance_namespace(prefix, "i-c"), socket.socket, socket.AF_INET, socket.SOCK_DGRAM)
    with receiver:
        receiver.bind(("172.31.32.30", 9999))
        receiver.settimeout(1.5)
        a = instance_namespace(prefix, "i-a")
        udp_from(prefix, a, None, C_PUBLIC, 9999)
        assert receiver.recvfrom(64)[1][0] == A_PUBLIC  # its own, translated: arrives
        udp_from(prefix, a, NODE_PUBLIC, C_PUBLIC, 9999)  # the NLB's address, forged
        udp_from(prefix, a, "198.18.77.77", C_PUBLIC, 9999)  # nobody's
        with pytest.raises((TimeoutError, socket.timeout)):
            receiver.recvfrom(64)


def test_an_instance_cannot_open_a_connection_to_the_users_machine(edge, prefix):
    from vpclab.kernel import netns
    # Something listening on the user's machine in the internet namespace: the relay's
    # own sockets never listen there, but if anything did, an instance must not reach it.
    with EchoServer(internet_namespace(prefix), HOST_ADDRESS, 8081, "host"):
        assert netns.run_in(internet_namespace(prefix), lambda: tcp_ask(internet_namespace(prefix),
                                                                         HOST_ADDRESS, 8081)) is not None
        assert tcp_ask(instance_namespace(prefix, "i-a"), HOST_ADDRESS, 8081, timeout=1) is None
