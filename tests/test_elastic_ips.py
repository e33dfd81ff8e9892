"""Elastic IP addresses through real boto3: allocate, associate (instances and ENIs),
disassociate, release, describe, with EC2's errors, and how they live with stop, start,
termination, other accounts and a restart."""
from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.errors import code_of, message_of
from tests.helpers.server import ServerProcess, free_port
from tests.test_instances import launch, one, wait_state
from tests.test_public_addresses import assert_public, dns_of


def public_vpc(ec2, cidr: str) -> tuple[str, str]:
    """A VPC with an attached internet gateway and a subnet that maps public addresses."""
    vpc = ec2.create_vpc(CidrBlock=cidr)["Vpc"]["VpcId"]
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr.replace("0.0/16", "1.0/24"))["Subnet"]["SubnetId"]
    ec2.modify_subnet_attribute(SubnetId=subnet, MapPublicIpOnLaunch={"Value": True})
    return vpc, subnet


def running(ec2, subnet: str) -> str:
    iid = launch(ec2, SubnetId=subnet)["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    return iid


def address(ec2, allocation_id: str) -> dict:
    return ec2.describe_addresses(AllocationIds=[allocation_id])["Addresses"][0]


def test_allocate_describe_release(ec2):
    got = ec2.allocate_address(Domain="vpc", TagSpecifications=[
        {"ResourceType": "elastic-ip", "Tags": [{"Key": "Name", "Value": "web"}]}])
    assert got["AllocationId"].startswith("eipalloc-") and len(got["AllocationId"]) == 26
    assert_public(got["PublicIp"])
    assert got["Domain"] == "vpc" and got["PublicIpv4Pool"] == "amazon"
    assert got["NetworkBorderGroup"] == "ap-south-1"
    shown = address(ec2, got["AllocationId"])
    assert shown == {"AllocationId": got["AllocationId"], "PublicIp": got["PublicIp"], "Domain": "vpc",
                     "PublicIpv4Pool": "amazon", "NetworkBorderGroup": "ap-south-1",
                     "Tags": [{"Key": "Name", "Value": "web"}]}
    assert ec2.describe_addresses(PublicIps=[got["PublicIp"]])["Addresses"] == [shown]
    assert ec2.describe_addresses(Filters=[{"Name": "tag:Name", "Values": ["web"]}])["Addresses"] == [shown]
    assert ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [got["PublicIp"]]},
                                           {"Name": "domain", "Values": ["vpc"]}])["Addresses"] == [shown]
    ec2.create_tags(Resources=[got["AllocationId"]], Tags=[{"Key": "team", "Value": "a"}])
    assert {"Key": "team", "Value": "a"} in address(ec2, got["AllocationId"])["Tags"]
    ec2.release_address(AllocationId=got["AllocationId"])
    with pytest.raises(ClientError) as err:
        address(ec2, got["AllocationId"])
    assert code_of(err) == "InvalidAllocationID.NotFound"
    assert message_of(err) == f"The allocation ID '{got['AllocationId']}' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.release_address(AllocationId=got["AllocationId"])
    assert code_of(err) == "InvalidAllocationID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_addresses(PublicIps=["198.18.0.1"])
    assert code_of(err) == "InvalidAddress.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.describe_addresses(AllocationIds=["eipalloc-nope"])
    assert code_of(err) == "InvalidAllocationID.Malformed"


def test_address_limit(shared_server):
    ec2 = shared_server.client("ec2", region="eu-west-1")
    limit = ec2.describe_account_attributes(AttributeNames=["vpc-max-elastic-ips"])["AccountAttributes"]
    assert limit[0]["AttributeValues"] == [{"AttributeValue": "5"}]
    ids = [ec2.allocate_address(Domain="vpc")["AllocationId"] for _ in range(5)]
    with pytest.raises(ClientError) as err:
        ec2.allocate_address(Domain="vpc")
    assert code_of(err) == "AddressLimitExceeded"
    assert message_of(err) == "The maximum number of addresses has been reached."
    ips = {a["PublicIp"] for a in ec2.describe_addresses()["Addresses"]}
    assert len(ips) == 5
    ec2.release_address(AllocationId=ids[0])
    ids[0] = ec2.allocate_address()["AllocationId"]
    for allocation_id in ids:
        ec2.release_address(AllocationId=allocation_id)
    assert ec2.describe_addresses()["Addresses"] == []


def test_associate_with_an_instance_keeps_through_stop_and_start(ec2):
    vpc, subnet = public_vpc(ec2, "10.31.0.0/16")
    iid = running(ec2, subnet)
    before = one(ec2, iid)
    auto = before["PublicIpAddress"]
    eni_id = before["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eip = ec2.allocate_address(Domain="vpc")
    assoc = ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)["AssociationId"]
    assert assoc.startswith("eipassoc-")
    inst = one(ec2, iid)
    assert inst["PublicIpAddress"] == eip["PublicIp"] != auto
    assert inst["PublicDnsName"] == dns_of(eip["PublicIp"])
    assert inst["NetworkInterfaces"][0]["Association"] == {
        "IpOwnerId": ACCOUNT_1, "PublicDnsName": dns_of(eip["PublicIp"]), "PublicIp": eip["PublicIp"]}
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"][0]
    assert eni["Association"] == {"AllocationId": eip["AllocationId"], "AssociationId": assoc,
                                  "IpOwnerId": ACCOUNT_1, "PublicDnsName": dns_of(eip["PublicIp"]),
                                  "PublicIp": eip["PublicIp"]}
    shown = address(ec2, eip["AllocationId"])
    assert shown["AssociationId"] == assoc and shown["InstanceId"] == iid
    assert shown["NetworkInterfaceId"] == eni_id and shown["NetworkInterfaceOwnerId"] == ACCOUNT_1
    assert shown["PrivateIpAddress"] == inst["PrivateIpAddress"]
    for name, value in [("instance-id", iid), ("association-id", assoc), ("network-interface-id", eni_id),
                        ("private-ip-address", inst["PrivateIpAddress"]), ("allocation-id", eip["AllocationId"])]:
        assert ec2.describe_addresses(Filters=[{"Name": name, "Values": [value]}])["Addresses"] == [shown]
    found = ec2.describe_network_interfaces(
        Filters=[{"Name": "association.allocation-id", "Values": [eip["AllocationId"]]}])["NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in found] == [eni_id]
    # The auto-assigned address went back to the pool.
    assert ec2.describe_instances(Filters=[{"Name": "ip-address", "Values": [auto]}])["Reservations"] == []
    # The same association again is the same association.
    assert ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)["AssociationId"] == assoc

    ec2.stop_instances(InstanceIds=[iid])
    assert one(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    wait_state(ec2, iid, "stopped")
    ec2.start_instances(InstanceIds=[iid])
    assert one(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    wait_state(ec2, iid, "running")
    assert address(ec2, eip["AllocationId"])["AssociationId"] == assoc

    with pytest.raises(ClientError) as err:
        ec2.release_address(AllocationId=eip["AllocationId"])
    assert code_of(err) == "InvalidIPAddress.InUse"
    ec2.disassociate_address(AssociationId=assoc)
    # An instance launched with an address of EC2's own gets a new one back.
    after = one(ec2, iid)["PublicIpAddress"]
    assert_public(after)
    assert after != eip["PublicIp"]
    assert "AssociationId" not in address(ec2, eip["AllocationId"])
    with pytest.raises(ClientError) as err:
        ec2.disassociate_address(AssociationId=assoc)
    assert code_of(err) == "InvalidAssociationID.NotFound"
    assert message_of(err) == f"The association ID '{assoc}' does not exist"
    ec2.release_address(AllocationId=eip["AllocationId"])
    ec2.terminate_instances(InstanceIds=[iid])


def test_reassociation(ec2):
    vpc, subnet = public_vpc(ec2, "10.32.0.0/16")
    first, second = running(ec2, subnet), running(ec2, subnet)
    eip = ec2.allocate_address(Domain="vpc")
    assoc = ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=first)["AssociationId"]
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=second)
    assert code_of(err) == "Resource.AlreadyAssociated"
    assert message_of(err) == f"resource {eip['AllocationId']} is already associated with associate-id {assoc}"
    moved = ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=second,
                                  AllowReassociation=True)["AssociationId"]
    assert moved != assoc
    assert one(ec2, second)["PublicIpAddress"] == eip["PublicIp"]
    left = one(ec2, first)["PublicIpAddress"]
    assert_public(left)
    assert left != eip["PublicIp"]
    assert address(ec2, eip["AllocationId"])["InstanceId"] == second
    # A second Elastic IP on the same instance replaces the first, which stays allocated.
    other = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=other["AllocationId"], InstanceId=second)
    assert one(ec2, second)["PublicIpAddress"] == other["PublicIp"]
    assert "AssociationId" not in address(ec2, eip["AllocationId"])
    ec2.terminate_instances(InstanceIds=[first, second])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[first, second],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    for allocation_id in (eip["AllocationId"], other["AllocationId"]):
        ec2.release_address(AllocationId=allocation_id)


def test_network_interface_and_termination(ec2):
    vpc, subnet = public_vpc(ec2, "10.33.0.0/16")
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]
    eip = ec2.allocate_address(Domain="vpc")
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"],
                              PrivateIpAddress="10.33.1.250" if eni["PrivateIpAddress"] != "10.33.1.250"
                              else "10.33.1.251")
    assert code_of(err) == "InvalidParameterValue"
    assoc = ec2.associate_address(AllocationId=eip["AllocationId"], NetworkInterfaceId=eni["NetworkInterfaceId"],
                                  PrivateIpAddress=eni["PrivateIpAddress"])["AssociationId"]
    shown = address(ec2, eip["AllocationId"])
    assert shown["NetworkInterfaceId"] == eni["NetworkInterfaceId"] and "InstanceId" not in shown
    assert shown["AssociationId"] == assoc
    # The ENI becomes an instance's eth0: the instance shows the Elastic IP.
    iid = launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni["NetworkInterfaceId"]}]
                 )["Instances"][0]["InstanceId"]
    assert one(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    assert address(ec2, eip["AllocationId"])["InstanceId"] == iid
    ec2.terminate_instances(InstanceIds=[iid])
    wait_state(ec2, iid, "terminated")
    # That ENI outlives the instance (DeleteOnTermination false) and keeps its address.
    kept = address(ec2, eip["AllocationId"])
    assert kept["NetworkInterfaceId"] == eni["NetworkInterfaceId"] and "InstanceId" not in kept
    ec2.delete_network_interface(NetworkInterfaceId=eni["NetworkInterfaceId"])
    assert "AssociationId" not in address(ec2, eip["AllocationId"])

    # An instance's own ENI goes with it: its Elastic IP is disassociated, not released.
    iid = running(ec2, subnet)
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    ec2.terminate_instances(InstanceIds=[iid])
    gone = address(ec2, eip["AllocationId"])
    assert "AssociationId" not in gone and "InstanceId" not in gone
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    assert code_of(err) == "IncorrectInstanceState"
    ec2.release_address(AllocationId=eip["AllocationId"])


def test_association_errors(ec2, ec2_2):
    vpc = ec2.create_vpc(CidrBlock="10.34.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.34.1.0/24")["Subnet"]["SubnetId"]
    iid = launch(ec2, SubnetId=subnet)["Instances"][0]["InstanceId"]
    eip = ec2.allocate_address(Domain="vpc")
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    assert code_of(err) == "Gateway.NotAttached"
    assert message_of(err) == f"Network {vpc} is not attached to any internet gateway"
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId="eipalloc-0123456789abcdef0", InstanceId=iid)
    assert code_of(err) == "InvalidAllocationID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId="i-0123456789abcdef0")
    assert code_of(err) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.associate_address(AllocationId=eip["AllocationId"])
    assert code_of(err) == "MissingParameter"
    with pytest.raises(ClientError) as err:
        ec2.disassociate_address(AssociationId="eipassoc-0123456789abcdef0")
    assert code_of(err) == "InvalidAssociationID.NotFound"
    # Another account sees nothing of it and cannot use it.
    assert ec2_2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [eip["PublicIp"]]}])["Addresses"] == []
    for call in (lambda: ec2_2.describe_addresses(AllocationIds=[eip["AllocationId"]]),
                 lambda: ec2_2.release_address(AllocationId=eip["AllocationId"])):
        with pytest.raises(ClientError) as err:
            call()
        assert code_of(err) == "InvalidAllocationID.NotFound"
    ec2.release_address(AllocationId=eip["AllocationId"])
    ec2.terminate_instances(InstanceIds=[iid])


def test_elastic_ips_survive_a_restart(tmp_path):
    state = tmp_path / "state"
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        vpc, subnet = public_vpc(ec2, "10.35.0.0/16")
        iid = running(ec2, subnet)
        eip = ec2.allocate_address(Domain="vpc")
        ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
        before = address(ec2, eip["AllocationId"])
    finally:
        srv.stop()
    srv = ServerProcess(state, free_port()).start()
    try:
        ec2 = srv.client("ec2")
        assert address(ec2, eip["AllocationId"]) == before
        assert one(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    finally:
        srv.stop()


def test_release_in_the_default_vpc_disassociates(ec2):
    """EC2's rule for the default VPC: releasing an associated address disassociates it
    (elsewhere it is InvalidIPAddress.InUse); the instance gets an address of EC2's own."""
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    eip = ec2.allocate_address(Domain="vpc")
    ec2.associate_address(AllocationId=eip["AllocationId"], InstanceId=iid)
    assert one(ec2, iid)["PublicIpAddress"] == eip["PublicIp"]
    ec2.release_address(AllocationId=eip["AllocationId"])
    now = one(ec2, iid)["PublicIpAddress"]
    assert_public(now)
    assert now != eip["PublicIp"]
    assert ec2.describe_addresses(Filters=[{"Name": "public-ip", "Values": [eip["PublicIp"]]}])["Addresses"] == []
    ec2.terminate_instances(InstanceIds=[iid])
