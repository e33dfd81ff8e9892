"""Instances' public IPv4 addresses through real boto3: where they come from, their
forms, how DescribeInstances and DescribeNetworkInterfaces show them, stop/start,
termination, filters, accounts, uniqueness and durability."""
from __future__ import annotations

import ipaddress

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.errors import code_of, message_of
from tests.helpers.server import ServerProcess, free_port
from tests.test_instances import default_vpc, launch, one, wait_state

POOL = ipaddress.IPv4Network("198.18.0.0/15")
RESERVED = ipaddress.IPv4Network("198.18.0.0/24")


def assert_public(ip: str) -> None:
    address = ipaddress.IPv4Address(ip)
    assert address in POOL and address not in RESERVED, ip
    assert int(address) & 0xFF not in (0, 255)


def dns_of(ip: str, region: str = "ap-south-1") -> str:
    domain = "compute-1.amazonaws.com" if region == "us-east-1" else f"{region}.compute.amazonaws.com"
    return f"ec2-{ip.replace('.', '-')}.{domain}"


def default_subnet(ec2, zone: str = "ap-south-1a") -> str:
    return ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [zone]},
                                         {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]


def eni_of(ec2, eni_id: str) -> dict:
    return ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]


def own_vpc(ec2, cidr: str = "10.20.0.0/16", dns_hostnames: bool = True) -> tuple[str, str]:
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    if dns_hostnames:
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
    return vpc, subnet


def test_default_subnet_instance_gets_a_public_address(ec2):
    """The seed's Step 1.4: a default-subnet instance has a public address and name, in
    DescribeInstances (not yet in RunInstances' answer, as on EC2) and on its ENI."""
    launched = launch(ec2, SubnetId=default_subnet(ec2))["Instances"][0]
    assert "PublicIpAddress" not in launched and launched["PublicDnsName"] == ""
    inst = one(ec2, launched["InstanceId"])
    ip = inst["PublicIpAddress"]
    assert_public(ip)
    assert inst["PublicDnsName"] == dns_of(ip)
    nic = inst["NetworkInterfaces"][0]
    assert nic["Association"] == {"IpOwnerId": "amazon", "PublicDnsName": dns_of(ip), "PublicIp": ip}
    assert nic["PrivateIpAddresses"][0]["Association"] == nic["Association"]
    eni = eni_of(ec2, nic["NetworkInterfaceId"])
    assert eni["Association"] == {"IpOwnerId": "amazon", "PublicDnsName": dns_of(ip), "PublicIp": ip}
    assert eni["PrivateIpAddresses"][0]["Association"]["PublicIp"] == ip
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_us_east_1_names(shared_server):
    ec2 = shared_server.client("ec2", region="us-east-1")
    inst = one(ec2, launch(ec2)["Instances"][0]["InstanceId"])
    ip = inst["PublicIpAddress"]
    assert inst["PublicDnsName"] == f"ec2-{ip.replace('.', '-')}.compute-1.amazonaws.com"
    assert inst["PrivateDnsName"].endswith(".ec2.internal")
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_subnet_and_request_decide(ec2):
    """MapPublicIpOnLaunch decides unless AssociatePublicIpAddress says otherwise; the
    name is "" where the VPC's enableDnsHostnames is off."""
    vpc, subnet = own_vpc(ec2, "10.21.0.0/16", dns_hostnames=False)
    plain = one(ec2, launch(ec2, SubnetId=subnet)["Instances"][0]["InstanceId"])
    assert "PublicIpAddress" not in plain and plain["PublicDnsName"] == ""
    assert "Association" not in plain["NetworkInterfaces"][0]
    asked = one(ec2, launch(ec2, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True}])["Instances"][0]["InstanceId"])
    assert_public(asked["PublicIpAddress"])
    assert asked["PublicDnsName"] == ""
    assert asked["NetworkInterfaces"][0]["Association"]["PublicDnsName"] == ""
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    assert one(ec2, asked["InstanceId"])["PublicDnsName"] == dns_of(asked["PublicIpAddress"])
    declined = one(ec2, launch(ec2, NetworkInterfaces=[
        {"DeviceIndex": 0, "SubnetId": default_subnet(ec2, "ap-south-1b"),
         "AssociatePublicIpAddress": False}])["Instances"][0]["InstanceId"])
    assert "PublicIpAddress" not in declined
    ec2.terminate_instances(InstanceIds=[plain["InstanceId"], asked["InstanceId"], declined["InstanceId"]])


def test_invalid_combinations(ec2):
    subnet = default_subnet(ec2)
    with pytest.raises(ClientError) as err:
        launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": True},
                                       {"DeviceIndex": 1, "SubnetId": subnet}])
    assert code_of(err) == "InvalidParameterCombination"
    assert message_of(err) == ("The associatePublicIPAddress parameter cannot be specified when launching "
                               "with multiple network interfaces.")
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    with pytest.raises(ClientError) as err:
        launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni,
                                        "AssociatePublicIpAddress": True}])
    assert code_of(err) == "InvalidParameterCombination"
    assert message_of(err) == ("The associatePublicIPAddress parameter cannot be specified for a network "
                               "interface with an ID.")
    # An existing ENI launches without an address of EC2's own.
    inst = one(ec2, launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni}])
               ["Instances"][0]["InstanceId"])
    assert "PublicIpAddress" not in inst
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_stop_releases_start_renews_terminate_releases(ec2):
    iid = launch(ec2, SubnetId=default_subnet(ec2))["Instances"][0]["InstanceId"]
    first = wait_state(ec2, iid, "running")["PublicIpAddress"]
    eni_id = one(ec2, iid)["NetworkInterfaces"][0]["NetworkInterfaceId"]
    ec2.stop_instances(InstanceIds=[iid])
    stopping = one(ec2, iid)  # released at the call, while the instance is still stopping
    assert "PublicIpAddress" not in stopping and stopping["PublicDnsName"] == ""
    assert "Association" not in eni_of(ec2, eni_id)
    wait_state(ec2, iid, "stopped")
    hits = ec2.describe_instances(Filters=[{"Name": "ip-address", "Values": [first]}])["Reservations"]
    assert hits == []
    ec2.start_instances(InstanceIds=[iid])
    second = one(ec2, iid)["PublicIpAddress"]
    assert_public(second)
    assert second != first
    assert eni_of(ec2, eni_id)["Association"]["PublicIp"] == second
    wait_state(ec2, iid, "running")
    ec2.terminate_instances(InstanceIds=[iid])
    assert "PublicIpAddress" not in one(ec2, iid)
    wait_state(ec2, iid, "terminated")


def test_filters(ec2):
    iid = launch(ec2, SubnetId=default_subnet(ec2))["Instances"][0]["InstanceId"]
    inst = one(ec2, iid)
    ip, name = inst["PublicIpAddress"], inst["PublicDnsName"]
    eni_id = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]

    def instances(name_, value):
        res = ec2.describe_instances(Filters=[{"Name": name_, "Values": [value]}])["Reservations"]
        return [i["InstanceId"] for r in res for i in r["Instances"]]

    def enis(name_, value):
        return [e["NetworkInterfaceId"] for e in ec2.describe_network_interfaces(
            Filters=[{"Name": name_, "Values": [value]}])["NetworkInterfaces"]]

    assert instances("ip-address", ip) == [iid]
    assert instances("dns-name", name) == [iid]
    assert instances("network-interface.addresses.association.public-ip", ip) == [iid]
    assert instances("network-interface.association.public-ip", ip) == [iid]
    assert iid in instances("network-interface.association.ip-owner-id", "amazon")
    assert instances("ip-address", "198.18.0.1") == []
    assert enis("association.public-ip", ip) == [eni_id]
    assert enis("addresses.association.public-ip", ip) == [eni_id]
    assert eni_id in enis("association.ip-owner-id", "amazon")
    assert enis("association.public-dns-name", name) == [eni_id]
    ec2.terminate_instances(InstanceIds=[iid])


def test_another_account_sees_nothing(ec2, ec2_2):
    iid = launch(ec2, SubnetId=default_subnet(ec2))["Instances"][0]["InstanceId"]
    ip = one(ec2, iid)["PublicIpAddress"]
    assert ec2_2.describe_instances(Filters=[{"Name": "ip-address", "Values": [ip]}])["Reservations"] == []
    assert ec2_2.describe_network_interfaces(
        Filters=[{"Name": "association.public-ip", "Values": [ip]}])["NetworkInterfaces"] == []
    ec2.terminate_instances(InstanceIds=[iid])


def test_no_address_is_handed_out_twice(shared_server):
    """Many launches in two accounts and two regions: every public address differs."""
    seen: list[str] = []
    ids: dict = {}
    for account, region in [("111111111111", "ap-south-1"), (ACCOUNT_2, "ap-south-1"),
                            (ACCOUNT_2, "eu-west-1")]:
        ec2 = shared_server.client("ec2", account, region)
        res = launch(ec2, MinCount=25, MaxCount=25)
        ids[ec2] = [i["InstanceId"] for i in res["Instances"]]
        got = ec2.describe_instances(InstanceIds=ids[ec2])["Reservations"]
        seen += [i["PublicIpAddress"] for r in got for i in r["Instances"]]
    assert len(seen) == 75 and len(set(seen)) == 75
    for ip in seen:
        assert_public(ip)
    for ec2, instance_ids in ids.items():
        ec2.terminate_instances(InstanceIds=instance_ids)


def test_addresses_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        iid = launch(ec2)["Instances"][0]["InstanceId"]
        before = one(ec2, iid)
    finally:
        srv.stop()
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        after = one(ec2, iid)
        assert after["PublicIpAddress"] == before["PublicIpAddress"]
        assert after["PublicDnsName"] == before["PublicDnsName"]
        assert after["NetworkInterfaces"][0]["Association"] == before["NetworkInterfaces"][0]["Association"]
        assert default_vpc(ec2) == before["VpcId"]
    finally:
        srv.stop()


# --- What the data plane's agents answer (pure functions of a World) ------------------------

def _world_with_public_instance():
    from tests.helpers.worlds import A1, A2, add_instance, add_vpc
    from vpclab.dataplane.world import World
    from vpclab.model.ec2 import PublicIpAssociation

    w = World()
    web = add_vpc(w, A1, "vpc-p")
    other = add_vpc(w, A2, "vpc-c")
    w.vpcs["vpc-p"].enable_dns_hostnames = True
    inst = add_instance(w, "i-web", web[0], "172.31.32.10")
    w.enis[inst.network_interface_id].association = PublicIpAssociation(public_ip="198.18.7.9")
    w.enis[inst.network_interface_id].mac_address = "02:00:00:00:00:01"
    client = add_instance(w, "i-client", other[0], "172.31.32.10")
    w.enis[client.network_interface_id].mac_address = "02:00:00:00:00:02"
    return w


def test_public_dns_name_resolves_private_at_home_and_public_elsewhere():
    from vpclab.dataplane.agents.dns import zones_for

    w = _world_with_public_instance()
    zones = zones_for(w)
    name = dns_of("198.18.7.9")
    assert zones["vpc-p"].records[name] == ["172.31.32.10"]
    assert zones["vpc-c"].records[name] == ["198.18.7.9"]
    # No public name where the VPC gives none.
    w.vpcs["vpc-p"].enable_dns_hostnames = False
    assert name not in zones_for(w)["vpc-c"].records


def test_metadata_serves_public_addresses_only_when_there_is_one():
    from dataclasses import replace

    from vpclab.dataplane.agents.metadata_answers import Request, Tokens, respond, views_for

    w = _world_with_public_instance()
    views = views_for(w)
    view = views[("vpc-p", "172.31.32.10")]

    def get(v, path):
        return respond(v, Request("GET", path, {}), Tokens(), 0.0)

    assert get(view, "/latest/meta-data/public-ipv4").body == b"198.18.7.9"
    assert get(view, "/latest/meta-data/public-hostname").body == dns_of("198.18.7.9").encode()
    listing = get(view, "/latest/meta-data/").body.decode().split("\n")
    assert listing == sorted(listing) and "public-ipv4" in listing and "public-hostname" in listing
    mac = f"/latest/meta-data/network/interfaces/macs/{view.mac}/"
    assert get(view, mac + "public-ipv4s").body == b"198.18.7.9"
    assert get(view, mac + "public-hostname").body == dns_of("198.18.7.9").encode()
    assert get(view, mac + "ipv4-associations/").body == b"198.18.7.9"
    assert get(view, mac + "ipv4-associations/198.18.7.9").body == b"172.31.32.10"
    client = views[("vpc-c", "172.31.32.10")]
    for path in ("/latest/meta-data/public-ipv4", "/latest/meta-data/public-hostname", mac + "public-ipv4s",
                 mac + "ipv4-associations/"):
        assert get(client, path.replace(view.mac, client.mac)).status == 404
    nameless = replace(view, public_hostname=None)
    assert get(nameless, "/latest/meta-data/public-ipv4").body == b"198.18.7.9"
    assert get(nameless, "/latest/meta-data/public-hostname").status == 404
