"""The seed's "open the public IP in a new tab", from the host, through the APIs: a public
instance's nginx answers at 127.A.B.C exactly when AWS would let it (security group,
route table, gateway, instance running), internet-facing NLBs answer at their nodes'
addresses, and a consumer reaches a provider's public address over the internet path.

The host sends only to 127.0.0.0/8; instances' requests are made inside their namespaces.
"""
from __future__ import annotations

import socket
from pathlib import Path

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.dataplane_server import dataplane_server_in
from tests.helpers.instances import NGINX, describe, launch, vexec, wait_state
from tests.helpers.waiting import wait_for
from vpclab.model.internet import HOST_ADDRESS, host_address

PAGE = "Welcome to nginx"
#: nginx that comes back after a stop and start (user data runs at first boot only).
ENABLED_NGINX = "#!/bin/sh\nsystemctl enable --now nginx\n"


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
