"""vpclab's API behind an interface endpoint to `com.amazonaws.<region>.ec2`, in the kernel:
a hand-built world applied by the real backend, the `service_api` agent itself, and the
real gateway over a real store. Requests are made from an instance's namespace (a thread
in it makes the sockets), signed by botocore and checked against the state directory's
CA, as an SDK in the instance does. Root only; everything made is removed."""
from __future__ import annotations

import http.client
import subprocess
import os
import socket
import ssl
import stat
from pathlib import Path
from urllib.parse import urlencode

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from vpclab import model
from vpclab.dataplane.agents.service_api import ServiceApi
from vpclab.dataplane.areas.network import instance_namespace, vpc_namespace
from vpclab.dataplane.world import World
from vpclab.kernel import netns
from vpclab.model.aws_services import lookup
from vpclab.model.ec2 import NetworkInterface, SecurityGroup, SecurityGroupRule
from vpclab.model.privatelink import Endpoint
from vpclab.protocol.gateway import Gateway
from vpclab.protocol.request_guard import RequestGuard
from vpclab.server import _through_endpoint
from vpclab.store import open_store
from vpclab.store.certificate_authority import ca_cert_path

from tests.helpers.server import is_root
from tests.helpers.worlds import A1, A2, R, add_instance, add_vpc, plan_of

pytestmark = pytest.mark.skipif(not is_root(), reason="the data plane needs root")

ENI_IP = "172.31.0.50"
EC2_NAME = f"ec2.{R}.amazonaws.com"


def service_world() -> World:
    """Account 1's VPC: instance i-c, and an endpoint to the region's EC2 whose ENI
    (172.31.0.50, group sg-ep: HTTPS from the VPC) is in the other subnet."""
    w = World()
    subnets = add_vpc(w, A1, "vpc-c")
    add_instance(w, "i-c", subnets[0], "172.31.32.30", groups=("sg-out",))
    w.security_groups["sg-out"] = SecurityGroup(id="sg-out", account=A1, region=R, vpc_id="vpc-c", rules=[
        SecurityGroupRule(id="sgr-1", egress=True, protocol="-1", cidr_ipv4="0.0.0.0/0")])
    w.security_groups["sg-ep"] = SecurityGroup(id="sg-ep", account=A1, region=R, vpc_id="vpc-c", rules=[
        SecurityGroupRule(id="sgr-2", egress=False, protocol="tcp", from_port=443, to_port=443,
                          cidr_ipv4="172.31.0.0/16")])
    service, _region = lookup(f"com.amazonaws.{R}.ec2") or (None, None)
    assert service is not None
    w.endpoints["vpce-ec2"] = Endpoint(
        id="vpce-ec2", account=A1, region=R, vpc_id="vpc-c", service_name=service.service_name(R),
        service_id=service.service_id(R, "Interface"), service_account="amazon", state="available",
        subnet_ids=[subnets[1].id], network_interface_ids=["eni-vpce"], security_group_ids=["sg-ep"],
        private_dns_enabled=True, private_dns_name=EC2_NAME,
        dns_entries=[{"DnsName": f"vpce-ec2-abcdefgh.ec2.{R}.vpce.amazonaws.com"}, {"DnsName": EC2_NAME}])
    w.enis["eni-vpce"] = NetworkInterface(
        id="eni-vpce", account=A1, region=R, vpc_id="vpc-c", subnet_id=subnets[1].id, private_ip=ENI_IP,
        security_group_ids=["sg-ep"], owner_kind="vpc-endpoint", owner_id="vpce-ec2", interface_type="vpc_endpoint")
    return w


class _Host:
    """What the agent gets of a data plane: the prefix, the state directory, the API."""

    def __init__(self, prefix: str, state_dir: Path, gateway: Gateway):
        self.prefix = prefix
        self.state_dir = state_dir
        self.api = _through_endpoint(gateway)
        self.store = gateway.store

    def poke(self) -> None:
        pass


#: Strict mode's issued key (account 2's) and its secret.
ISSUED_KEY, ISSUED_SECRET = "AKIAVPCLABTESTKEY222", "issued-secret"


@pytest.fixture(params=["open"])
def lab(request, backend, prefix, tmp_path):
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    store = open_store(state_dir, model.KINDS)
    strict = request.param == "strict"
    guard = RequestGuard(secret_of=lambda k: ISSUED_SECRET if k == ISSUED_KEY else None) if strict else RequestGuard()
    gateway = Gateway(store, guard=guard, issued=lambda k: A2 if k == ISSUED_KEY else None)
    for account, cidr in ((A1, "10.1.0.0/16"), (A2, "10.2.0.0/16")):
        assert gateway.call("ec2", {"Action": "CreateVpc", "CidrBlock": cidr}, account, R).status == 200
    w = service_world()
    backend.apply(plan_of(w, prefix))
    agent = ServiceApi(_Host(prefix, state_dir, gateway))
    agent.sync(w)
    try:
        yield w, agent, state_dir
    finally:
        agent.close()
        store.close()


def ask(prefix: str, state_dir: Path, *, host: str = EC2_NAME, key: str = A1, secret: str = "secret",
        service: str = "ec2",
        action: str = "DescribeVpcs", server_name: str = EC2_NAME, timeout: float = 3.0) -> tuple[int, str]:
    """An SDK's request from instance i-c to the endpoint's ENI: signed for `service` with
    access key `key`, naming `host`, verifying the certificate for `server_name`."""
    body = urlencode({"Action": action, "Version": "2016-11-15" if service == "ec2" else "2011-06-15"})
    request = AWSRequest("POST", f"https://{host}/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded; charset=utf-8"})
    SigV4Auth(Credentials(key, secret), service, R).add_auth(request)
    context = ssl.create_default_context(cafile=str(ca_cert_path(state_dir)))
    sock = netns.run_in(instance_namespace(prefix, "i-c"), socket.socket, socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.connect((ENI_IP, 443))
    tls = context.wrap_socket(sock, server_hostname=server_name)
    conn = http.client.HTTPSConnection(host, timeout=timeout)
    conn.sock = tls
    conn.request("POST", "/", body=body, headers=dict(request.headers.items()))
    response = conn.getresponse()
    text = response.read().decode()
    conn.close()
    return response.status, text


def test_describe_vpcs_through_the_endpoint_answers_the_owners_vpcs(lab, prefix):
    _w, _agent, state_dir = lab
    status, text = ask(prefix, state_dir)
    assert status == 200, text
    assert "10.1.0.0/16" in text and "10.2.0.0/16" not in text


def test_another_accounts_id_as_key_still_acts_as_the_endpoints_owner(lab, prefix):
    _w, _agent, state_dir = lab
    status, text = ask(prefix, state_dir, key=A2)
    assert status == 200, text
    assert "10.1.0.0/16" in text and "10.2.0.0/16" not in text


@pytest.mark.parametrize("lab", ["strict"], indirect=True)
def test_in_strict_mode_a_verified_key_acts_as_its_account_and_others_are_refused(lab, prefix):
    _w, _agent, state_dir = lab
    status, text = ask(prefix, state_dir, key=ISSUED_KEY, secret=ISSUED_SECRET)
    assert status == 200, text
    assert "10.2.0.0/16" in text and "10.1.0.0/16" not in text
    status, text = ask(prefix, state_dir, key=ISSUED_KEY, secret="wrong")
    assert status == 401 and "AuthFailure" in text
    status, text = ask(prefix, state_dir, key=A1)
    assert status == 401 and "AuthFailure" in text


def test_the_endpoints_own_dns_name_is_served_too(lab, prefix):
    _w, _agent, state_dir = lab
    name = f"vpce-ec2-abcdefgh.ec2.{R}.vpce.amazonaws.com"
    status, text = ask(prefix, state_dir, host=name, server_name=name)
    assert status == 200, text


def test_a_foreign_host_name_is_refused(lab, prefix):
    _w, _agent, state_dir = lab
    status, text = ask(prefix, state_dir, host="evil.example")
    assert status == 403 and "AccessDenied" in text and "evil.example" in text


def test_a_request_for_another_service_is_refused(lab, prefix):
    _w, _agent, state_dir = lab
    status, text = ask(prefix, state_dir, service="sts", action="GetCallerIdentity")
    assert status == 401 and "AuthFailure" in text and "scoped to correct service: 'ec2'" in text


def test_the_certificate_is_the_state_directorys_ca_and_names_the_service(lab, prefix):
    _w, _agent, state_dir = lab
    with pytest.raises(ssl.SSLCertVerificationError):
        ask(prefix, state_dir, server_name="sts.amazonaws.com")
    key = state_dir / "tls" / "ca.key"
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca_cert_path(state_dir)).st_mode) == 0o644


def test_security_group_without_https_times_out(lab, backend, prefix):
    w, agent, state_dir = lab
    w.security_groups["sg-ep"].rules = []
    backend.apply(plan_of(w, prefix))
    with pytest.raises(OSError):  # dropped: the connect times out
        ask(prefix, state_dir, timeout=1.0)


def test_deleted_endpoint_leaves_nothing_answering(lab, backend, prefix):
    w, agent, state_dir = lab
    w.endpoints["vpce-ec2"].state = "deleted"
    backend.apply(plan_of(w, prefix))
    agent.sync(w)
    assert agent.listening() == []
    with pytest.raises(OSError):
        ask(prefix, state_dir, timeout=1.0)


def tcp_segments_in(namespace: str) -> int:
    """The TCP segments `namespace`'s own stack has taken in (/proc/thread-self/net/snmp, read from a thread in it)."""
    lines = netns.run_in(namespace, lambda: open("/proc/thread-self/net/snmp").read()).splitlines()
    names, values = [line.split() for line in lines if line.startswith("Tcp:")]
    return int(values[names.index("InSegs")])


def test_a_consumer_cannot_reach_the_providers_api_endpoint_over_a_privatelink_link(backend, prefix, tmp_path):
    """The provider's VPC holds an endpoint to EC2 (its ENI an address of the provider's
    router) and an NLB a consumer reaches over PrivateLink. The consumer's root sends to
    that ENI address through its own endpoint's link (a host route via its endpoint ENI,
    which the provider's router answers ARP for): nothing of the API may answer, or the
    consumer would act as the provider's account."""
    from tests.helpers.worlds import add_endpoint, add_service, provider_world

    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    store = open_store(state_dir, model.KINDS)
    gateway = Gateway(store, guard=RequestGuard())
    w = provider_world()
    add_service(w)
    consumer_ep = add_endpoint(w, 1, "available", link=0)
    consumer_eni = w.enis[consumer_ep.network_interface_ids[0]]
    subnets = [s for s in w.subnets.values() if s.vpc_id == "vpc-c"]
    add_instance(w, "i-c", subnets[0], "172.31.32.30", groups=("sg-out",))
    everything = [SecurityGroupRule(id="sgr-all-in", egress=False, protocol="-1", cidr_ipv4="0.0.0.0/0"),
                  SecurityGroupRule(id="sgr-all-out", egress=True, protocol="-1", cidr_ipv4="0.0.0.0/0")]
    w.security_groups["sg-out"] = SecurityGroup(id="sg-out", account=A2, region=R, vpc_id="vpc-c", rules=everything)
    w.security_groups["sg-ep"] = SecurityGroup(id="sg-ep", account=A2, region=R, vpc_id="vpc-c", rules=everything)
    w.security_groups["sg-api"] = SecurityGroup(id="sg-api", account=A1, region=R, vpc_id="vpc-p", rules=everything)
    provider_subnet = next(s for s in w.subnets.values() if s.vpc_id == "vpc-p" and s.cidr_block == "172.31.0.0/20")
    service, _region = lookup(f"com.amazonaws.{R}.ec2") or (None, None)
    assert service is not None
    w.endpoints["vpce-ec2"] = Endpoint(
        id="vpce-ec2", account=A1, region=R, vpc_id="vpc-p", service_name=service.service_name(R),
        service_id=service.service_id(R, "Interface"), service_account="amazon", state="available",
        subnet_ids=[provider_subnet.id], network_interface_ids=["eni-vpce"], security_group_ids=["sg-api"],
        private_dns_enabled=True, private_dns_name=EC2_NAME, dns_entries=[{"DnsName": EC2_NAME}])
    w.enis["eni-vpce"] = NetworkInterface(
        id="eni-vpce", account=A1, region=R, vpc_id="vpc-p", subnet_id=provider_subnet.id, private_ip=ENI_IP,
        security_group_ids=["sg-api"], owner_kind="vpc-endpoint", owner_id="vpce-ec2", interface_type="vpc_endpoint")
    backend.apply(plan_of(w, prefix))
    agent = ServiceApi(_Host(prefix, state_dir, gateway))
    agent.sync(w)
    try:
        assert [listener.address for listener in agent.listening()] == [ENI_IP]
        consumer_ns = instance_namespace(prefix, "i-c")
        subprocess.run(["ip", "-n", consumer_ns, "route", "add", f"{ENI_IP}/32", "via", consumer_eni.private_ip,
                        "dev", "eth0"], check=True)
        router = vpc_namespace(prefix, "vpc-p")
        before = tcp_segments_in(router)
        with pytest.raises(OSError):  # dropped at the provider's router: the connect times out
            ask(prefix, state_dir, timeout=1.5)
        assert tcp_segments_in(router) == before  # not one SYN reached the router's TCP
    finally:
        agent.close()
        store.close()
