"""The seed's "open the public IP in a new tab", from the host, through the APIs: a public
instance's nginx answers at 127.A.B.C exactly when AWS would let it (security group,
route table, gateway, instance running), internet-facing NLBs answer at their nodes'
addresses, and a consumer reaches a provider's public address over the internet path.

The host sends only to 127.0.0.0/8; instances' requests are made inside their namespaces.
"""
from __future__ import annotations

import socket
import subprocess
from pathlib import Path

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.dataplane_server import dataplane_server_in
from tests.helpers.instances import NGINX, describe, launch, vexec, wait_state
from tests.helpers.traffic import user_data as whoami_user_data
from tests.helpers.waiting import wait_for
from vpclab.model.internet import HOST_ADDRESS, host_address

PAGE = "Welcome to nginx"
#: nginx that comes back after a stop and start (user data runs at first boot only).
ENABLED_NGINX = "#!/bin/sh\nsystemctl enable --now nginx\n"
#: A server that answers "<its address> <the client's address>".
WHOAMI = whoami_user_data()


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    yield from dataplane_server_in(Path(tmp_path_factory.mktemp("edge")) / "state",
                                   {"VPCLAB_HEALTH_CHECK_SCALE": "0.05"})


def host_get(ip: str, port: int = 80, timeout: float = 2.0) -> str:
    """GET / from the host at `ip` (127.x only): the page, "timeout" or "refused"."""
    assert ip.startswith("127."), ip
    try:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := s.recv(65536):
                data += chunk
            return data.decode(errors="replace") or "closed"
    except (TimeoutError, socket.timeout):
        return "timeout"
    except ConnectionRefusedError:
        return "refused"
    except ConnectionResetError:
        return "reset"


def serves(ip: str, port: int = 80) -> bool:
    return PAGE in host_get(ip, port)


def wait_serving(ip: str, port: int = 80) -> None:
    wait_for(lambda: serves(ip, port), timeout=30, interval=0.3, what=f"nginx at {ip}:{port}")


def wait_not_serving(ip: str, expect: tuple[str, ...] = ("timeout",)) -> str:
    return wait_for(lambda: (lambda r: r if r in expect else None)(host_get(ip, timeout=1.5)),
                    timeout=20, interval=0.2, what=f"{ip} {'/'.join(expect)}")


def web_group(ec2, vpc_id: str, name: str, cidr: str = "0.0.0.0/0") -> str:
    gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": cidr}]}])
    return gid


def default_vpc(ec2) -> str:
    return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


def public_web(ec2, name: str, **kw) -> dict:
    vpc = kw.pop("vpc", None) or default_vpc(ec2)
    group = kw.pop("group", None) or web_group(ec2, vpc, name)
    inst = launch(ec2, name, kw.pop("user_data", NGINX), SecurityGroupIds=[group], **kw)
    return wait_state(ec2, inst["InstanceId"], "running")


def test_public_instance_answers_the_host_only_while_its_security_group_allows(srv):
    ec2 = srv.client("ec2", ACCOUNT_1)
    inst = public_web(ec2, "edge-sg")
    public = inst["PublicIpAddress"]
    assert public.startswith("198.1") and inst["PublicDnsName"].startswith("ec2-" + public.replace(".", "-"))
    host = host_address(public)
    wait_serving(host)
    group = inst["SecurityGroups"][0]["GroupId"]
    rule = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
    ec2.revoke_security_group_ingress(GroupId=group, IpPermissions=[rule])
    assert wait_not_serving(host) == "timeout"
    # "My IP": the host is 198.18.0.1 to the VPCs.
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{**rule, "IpRanges": [
        {"CidrIp": f"{HOST_ADDRESS}/32"}]}])
    wait_serving(host)
    # A port nothing listens on in the instance is refused, as a real host refuses it.
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    assert wait_for(lambda: (lambda r: r if r in ("refused", "reset") else None)(host_get(host, 8080)),
                    timeout=10, what="8080 refused")


def test_subnet_without_a_route_to_the_gateway_does_not_answer(srv):
    ec2 = srv.client("ec2", ACCOUNT_1)
    inst = public_web(ec2, "edge-route")
    host = host_address(inst["PublicIpAddress"])
    wait_serving(host)
    table = ec2.create_route_table(VpcId=inst["VpcId"])["RouteTable"]["RouteTableId"]
    assoc = ec2.associate_route_table(RouteTableId=table, SubnetId=inst["SubnetId"])["AssociationId"]
    try:
        assert wait_not_serving(host) == "timeout"
        # A route to the gateway makes the subnet public again.
        igw = ec2.describe_internet_gateways(Filters=[{"Name": "attachment.vpc-id", "Values": [inst["VpcId"]]}]
                                             )["InternetGateways"][0]["InternetGatewayId"]
        ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
        wait_serving(host)
        ec2.delete_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0")
        assert wait_not_serving(host) == "timeout"
    finally:
        ec2.disassociate_route_table(AssociationId=assoc)
    wait_serving(host)


def test_stop_releases_the_address_and_an_elastic_ip_stays(srv):
    ec2 = srv.client("ec2", ACCOUNT_1)
    inst = public_web(ec2, "edge-stop", user_data=ENABLED_NGINX)
    iid, first = inst["InstanceId"], inst["PublicIpAddress"]
    wait_serving(host_address(first))
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped", timeout=30)
    assert "PublicIpAddress" not in describe(ec2, iid)
    # The address is gone from the host too (nothing listens for it any more).
    wait_not_serving(host_address(first), ("refused",))
    ec2.start_instances(InstanceIds=[iid])
    second = wait_state(ec2, iid, "running", timeout=30)["PublicIpAddress"]
    assert second != first
    wait_serving(host_address(second))
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    elastic = host_address(eip["PublicIp"])
    wait_serving(elastic)
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped", timeout=30)
    assert describe(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    # Kept, and nothing answers: the host's connection times out, as on AWS.
    assert wait_not_serving(elastic) == "timeout"
    ec2.start_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "running", timeout=30)
    wait_serving(elastic)


def test_a_vpc_without_an_attached_gateway_is_cut_off(srv):
    ec2 = srv.client("ec2", ACCOUNT_1)
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.1.0/24", AvailabilityZone=zone)["Subnet"]["SubnetId"]
    group = web_group(ec2, vpc, "edge-igw")
    iid = launch(ec2, "edge-igw", ENABLED_NGINX, NetworkInterfaces=[{
        "DeviceIndex": 0, "SubnetId": subnet, "Groups": [group], "AssociatePublicIpAddress": True}])["InstanceId"]
    host = host_address(wait_state(ec2, iid, "running")["PublicIpAddress"])
    wait_for(lambda: PAGE in vexec(srv, iid, "curl", "-s", "-m", "2", "http://127.0.0.1/").stdout,
             timeout=30, what="nginx up")
    assert host_get(host, timeout=1.5) == "timeout"  # no gateway at all
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    main = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [vpc]},
                                              {"Name": "association.main", "Values": ["true"]}]
                                     )["RouteTables"][0]["RouteTableId"]
    assert host_get(host, timeout=1.5) == "timeout"  # attached, but no route to it yet
    ec2.create_route(RouteTableId=main, DestinationCidrBlock="0.0.0.0/0", GatewayId=igw)
    wait_serving(host)
    with pytest.raises(ec2.exceptions.ClientError) as e:
        ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    assert e.value.response["Error"]["Code"] == "DependencyViolation"
    ec2.stop_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "stopped", timeout=30)
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    ec2.start_instances(InstanceIds=[iid])
    host = host_address(wait_state(ec2, iid, "running", timeout=30)["PublicIpAddress"])
    wait_for(lambda: PAGE in vexec(srv, iid, "curl", "-s", "-m", "2", "http://127.0.0.1/").stdout,
             timeout=30, what="nginx up again")
    assert host_get(host, timeout=1.5) == "timeout"  # the route is a blackhole now


def node_addresses(ec2, lb: dict) -> list[dict]:
    """The ENIs of an NLB's nodes, as DescribeNetworkInterfaces shows them."""
    suffix = lb["LoadBalancerArn"].split("/", 1)[1]  # net/<name>/<id>
    return ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"ELB {suffix}"]}]
                                           )["NetworkInterfaces"]


def test_internet_facing_nlb_answers_the_host_and_an_internal_one_has_no_address(srv):
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = default_vpc(ec2)
    subnet = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"],
                    key=lambda s: s["AvailabilityZone"])[0]["SubnetId"]
    web = public_web(ec2, "edge-nlb-target", SubnetId=subnet)
    tg = elb.create_target_group(Name="edge", Protocol="TCP", Port=80, VpcId=vpc, HealthCheckIntervalSeconds=5,
                                 HealthCheckTimeoutSeconds=2)["TargetGroups"][0]["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": web["InstanceId"]}])
    made = {}
    for scheme in ("internet-facing", "internal"):
        lb = elb.create_load_balancer(Name=f"edge-{scheme}", Type="network", Scheme=scheme,
                                      Subnets=[subnet])["LoadBalancers"][0]
        made[scheme] = lb
    elb.create_listener(LoadBalancerArn=made["internet-facing"]["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"] for lb in made.values()],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    internal = node_addresses(ec2, made["internal"])
    assert len(internal) == 1 and "Association" not in internal[0]
    facing = node_addresses(ec2, made["internet-facing"])
    assert len(facing) == 1 and facing[0]["Association"]["IpOwnerId"] == "amazon-elb"
    public = facing[0]["Association"]["PublicIp"]
    wait_serving(host_address(public))
    # The NLB's name resolves to its public address inside a VPC too, as on AWS, and a
    # VPC instance with a public address reaches it over the internet.
    name = made["internet-facing"]["DNSName"]
    out = vexec(srv, web["InstanceId"], "getent", "hosts", name)
    assert out.stdout.split()[0] == public
    assert PAGE in wait_for(lambda: vexec(srv, web["InstanceId"], "curl", "-s", "-m", "2", f"http://{name}/").stdout,
                            timeout=20, what="the NLB by name from the VPC")


def test_consumer_reaches_the_provider_public_address_over_the_internet_only(srv):
    provider, consumer = srv.client("ec2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)
    web = public_web(provider, "edge-provider", user_data=WHOAMI)
    client = wait_state(consumer, launch(consumer, "edge-consumer", None)["InstanceId"], "running")
    answer = wait_for(lambda: vexec(srv, client["InstanceId"], "curl", "-s", "-m", "2",
                                    f"http://{web['PublicIpAddress']}/", account=ACCOUNT_2).stdout,
                      timeout=30, what="the provider's public address from the consumer")
    # The provider sees the consumer's public address: the path went out through the
    # consumer's gateway and in through the provider's.
    assert answer.split() == [web["PrivateIpAddress"], client["PublicIpAddress"]]
    # The private path is closed: the provider's private address is the consumer's own
    # (overlapping) VPC space, where nothing answers it.
    private = vexec(srv, client["InstanceId"], "curl", "-s", "-m", "2", f"http://{web['PrivateIpAddress']}/",
                    account=ACCOUNT_2)
    assert private.returncode != 0 and web["PrivateIpAddress"] not in private.stdout


def listening_on(addresses: set[str]) -> set[tuple[str, int]]:
    """TCP listeners of the host's namespace on any of `addresses` (from /proc/net/tcp)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        if state != "0A":  # TCP_LISTEN
            continue
        hex_ip, hex_port = local.split(":")
        ip = socket.inet_ntoa(bytes.fromhex(hex_ip)[::-1])
        if ip in addresses:
            found.add((ip, int(hex_port, 16)))
    return found


def test_down_leaves_no_namespace_link_or_listener(tmp_path):
    from tests.helpers.instances import vpclab
    from tests.helpers.server import ServerProcess, free_port, is_root
    from vpclab.commands.down import tear_down
    from vpclab.kernel import naming, netns

    if not is_root():
        pytest.skip("the data plane needs root")
    server = ServerProcess(tmp_path / "state", free_port(), dataplane=True)
    try:
        server.start()
        ec2 = server.client("ec2", ACCOUNT_1)
        inst = public_web(ec2, "edge-down")
        host = host_address(inst["PublicIpAddress"])
        wait_serving(host)
        assert {p for _, p in listening_on({host})} >= {22, 80, 443}
        prefix = naming.prefix_for_state_dir(server.state_dir)
        assert naming.namespace_name(prefix, "internet") in netns.list_namespaces(prefix)
        result = vpclab(server, "down", "--state-dir", str(server.state_dir))
        assert result.returncode == 0, result.stderr
        assert netns.list_namespaces(prefix) == []
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        assert prefix not in links  # none was ever in the host's namespace; none is left anywhere
        assert listening_on({host}) == set()
        assert host_get(host, timeout=1) == "refused"
    finally:
        server.stop()
        tear_down(server.state_dir)


def test_ssh_from_the_host_to_the_public_address(srv, tmp_path):
    """The seed's SSH step from the user's own machine: `ssh -i key.pem ec2-user@127.A.B.C`."""
    ec2 = srv.client("ec2", ACCOUNT_1)
    vpc = default_vpc(ec2)
    key = tmp_path / "edge.pem"
    key.write_text(ec2.create_key_pair(KeyName="edge-ssh")["KeyMaterial"] + "\n")
    key.chmod(0o600)
    group = ec2.create_security_group(GroupName="edge-ssh", Description="ssh", VpcId=vpc)["GroupId"]
    inst = launch(ec2, "edge-ssh", None, KeyName="edge-ssh", SecurityGroupIds=[group])
    host = host_address(wait_state(ec2, inst["InstanceId"], "running")["PublicIpAddress"])
    ssh = ["ssh", "-i", str(key), "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
           "-o", "BatchMode=yes", "-o", "ConnectTimeout=3", f"ec2-user@{host}", "whoami; hostname"]
    # No rule for SSH yet: the connection gets nowhere.
    assert subprocess.run(ssh, capture_output=True, text=True, timeout=30).returncode == 255
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 22, "ToPort": 22, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    r = wait_for(lambda: (lambda r: r if r.returncode == 0 else None)(
        subprocess.run(ssh, capture_output=True, text=True, timeout=30)), timeout=40, interval=0.5,
        what="ssh through the public address")
    assert r.stdout.split() == ["ec2-user", "ip-" + inst["PrivateIpAddress"].replace(".", "-")]
