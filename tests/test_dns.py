from functools import partial

"""The VPC resolver: names it answers, from a pure table and for real inside a VPC."""
import subprocess
import sys

from dnslib import RCODE, DNSRecord

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.instances import wait_state
from tests.helpers.waiting import wait_for as _wait_for
from vpclab.aws_names import private_dns_name
from vpclab.dataplane.agents.dns import Zone, answer
from vpclab.kernel import naming

wait_for = partial(_wait_for, timeout=10.0, interval=0.05)


def ask(zone: Zone, name: str, qtype: str = "A") -> DNSRecord:
    return DNSRecord.parse(answer(zone, DNSRecord.question(name, qtype).pack()))


def test_answers_known_names_and_nxdomain_for_the_rest():
    zone = Zone()
    zone.add("vpce-1-abc.vpce-svc-1.ap-south-1.vpce.amazonaws.com", "172.31.5.6")
    zone.add("vpce-1-abc.vpce-svc-1.ap-south-1.vpce.amazonaws.com", "172.31.20.7")
    reply = ask(zone, "VPCE-1-abc.vpce-svc-1.ap-south-1.vpce.amazonaws.com.")
    assert sorted(str(r.rdata) for r in reply.rr) == ["172.31.20.7", "172.31.5.6"]
    assert ask(zone, "example.com").header.rcode == RCODE.NXDOMAIN
    aaaa = ask(zone, "vpce-1-abc.vpce-svc-1.ap-south-1.vpce.amazonaws.com", "AAAA")
    assert aaaa.header.rcode == RCODE.NOERROR and not aaaa.rr
    assert answer(zone, b"garbage") is None


def test_a_wildcard_name_answers_one_label_below_it():
    zone = Zone()
    zone.add("*.vpce-1-abc.s3.ap-south-1.vpce.amazonaws.com", "172.31.5.6")
    reply = ask(zone, "my-bucket.vpce-1-abc.s3.ap-south-1.vpce.amazonaws.com")
    assert [str(r.rdata) for r in reply.rr] == ["172.31.5.6"]
    assert ask(zone, "a.b.vpce-1-abc.s3.ap-south-1.vpce.amazonaws.com").header.rcode == RCODE.NXDOMAIN
    assert ask(zone, "vpce-1-abc.s3.ap-south-1.vpce.amazonaws.com").header.rcode == RCODE.NXDOMAIN


def test_host_names_follow_aws():
    assert private_dns_name("ap-south-1", "172.31.37.136") == "ip-172-31-37-136.ap-south-1.compute.internal"
    assert private_dns_name("us-east-1", "10.0.0.5") == "ip-10-0-0-5.ec2.internal"


def resolve_in(namespace: str, name: str, server: str) -> list[str]:
    code = ("import sys; from dnslib import DNSRecord; "
            "r = DNSRecord.parse(DNSRecord.question(sys.argv[1]).send(sys.argv[2], 53, timeout=2)); "
            "print(' '.join(str(a.rdata) for a in r.rr) or 'rcode=%d' % r.header.rcode)")
    out = subprocess.run(["ip", "netns", "exec", namespace, sys.executable, "-c", code, name, server],
                         capture_output=True, text=True, timeout=10)
    return out.stdout.split()


def test_resolver_answers_inside_the_vpc(dataplane_server):
    ec2 = dataplane_server.client("ec2", ACCOUNT_2)
    image = ec2.describe_images()["Images"][0]["ImageId"]
    inst = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
    # Queries are made from inside the instance once it booted: its boot ends whatever
    # already ran in its namespace (a query sent earlier would be killed with it).
    wait_state(ec2, inst["InstanceId"], "running")
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    ns = naming.namespace_name(prefix, inst["InstanceId"])
    me = private_dns_name("ap-south-1", inst["PrivateIpAddress"])
    for server in ("172.31.0.2", "169.254.169.253"):
        got = wait_for(lambda: (lambda r: r if r and not r[0].startswith("rcode") else None)(
            resolve_in(ns, me, server)), timeout=15)
        assert got == [inst["PrivateIpAddress"]]
    assert resolve_in(ns, "example.com", "172.31.0.2") == [f"rcode={RCODE.NXDOMAIN}"]
    # Another account's instance names are not in this VPC's resolver.
    other = dataplane_server.client("ec2", ACCOUNT_1).run_instances(
        ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
    assert resolve_in(ns, private_dns_name("ap-south-1", other["PrivateIpAddress"]), "172.31.0.2") == \
        [f"rcode={RCODE.NXDOMAIN}"] or other["PrivateIpAddress"] == inst["PrivateIpAddress"]


def test_private_dns_name_resolves_only_where_the_endpoint_enables_it(dataplane_server):
    provider = dataplane_server.client("ec2", ACCOUNT_1)
    consumer = dataplane_server.client("ec2", ACCOUNT_2)
    elb = dataplane_server.client("elbv2", ACCOUNT_1)
    subnets = [s["SubnetId"] for s in provider.describe_subnets()["Subnets"]]
    lb = elb.create_load_balancer(Name="dns-nlb", Type="network", Scheme="internal", Subnets=subnets)
    svc = provider.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb["LoadBalancers"][0]["LoadBalancerArn"]], AcceptanceRequired=False,
        PrivateDnsName="api.partner.example")["ServiceConfiguration"]
    provider.start_vpc_endpoint_service_private_dns_verification(ServiceId=svc["ServiceId"])
    provider.modify_vpc_endpoint_service_permissions(
        ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    vpc = consumer.describe_vpcs()["Vpcs"][0]["VpcId"]
    ep = consumer.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc, ServiceName=svc["ServiceName"], PrivateDnsEnabled=True,
        SubnetIds=[s["SubnetId"] for s in consumer.describe_subnets()["Subnets"]])["VpcEndpoint"]
    image = consumer.describe_images()["Images"][0]["ImageId"]
    inst = consumer.run_instances(ImageId=image, MinCount=1, MaxCount=1, InstanceType="t2.micro")["Instances"][0]
    wait_state(consumer, inst["InstanceId"], "running")  # booted: see test_resolver_answers_inside_the_vpc
    enis = consumer.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]
    eni_ips = sorted(e["PrivateIpAddress"] for e in enis)
    prefix = naming.prefix_for_state_dir(dataplane_server.state_dir)
    ns = naming.namespace_name(prefix, inst["InstanceId"])
    got = wait_for(lambda: (lambda r: r if r and not r[0].startswith("rcode") else None)(
        resolve_in(ns, "api.partner.example", "172.31.0.2")), timeout=15)
    assert sorted(got) == eni_ips
    # The regional endpoint name resolves to the same ENIs; the provider's VPC has no
    # endpoint with private DNS, so the private name is unknown there.
    assert sorted(resolve_in(ns, ep["DnsEntries"][0]["DnsName"], "172.31.0.2")) == eni_ips
    provider_inst = provider.run_instances(ImageId=image, MinCount=1, MaxCount=1,
                                           InstanceType="t2.micro")["Instances"][0]
    wait_state(provider, provider_inst["InstanceId"], "running")
    pns = naming.namespace_name(prefix, provider_inst["InstanceId"])
    wait_for(lambda: resolve_in(pns, private_dns_name("ap-south-1", provider_inst["PrivateIpAddress"]), "172.31.0.2"),
             timeout=15)
    assert resolve_in(pns, "api.partner.example", "172.31.0.2") == [f"rcode={RCODE.NXDOMAIN}"]
