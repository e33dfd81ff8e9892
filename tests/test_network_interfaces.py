"""Network interfaces through real boto3: create, describe (every kind, filters, paging), delete."""
from __future__ import annotations

import ipaddress

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.errors import code_of, message_of


def default_subnet(ec2, zone="ap-south-1a") -> dict:
    return ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": [zone]},
                                         {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]


def ami(ec2) -> str:
    return ec2.describe_images(Owners=["amazon"], Filters=[
        {"Name": "name", "Values": ["al2023-*"]}, {"Name": "architecture", "Values": ["x86_64"]}])["Images"][0]["ImageId"]


def test_create_describe_delete(ec2):
    subnet = default_subnet(ec2, "ap-south-1b")
    created = ec2.create_network_interface(
        SubnetId=subnet["SubnetId"], Description="my eni",
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "Name", "Value": "x"}]}],
    )["NetworkInterface"]
    eid = created["NetworkInterfaceId"]
    assert eid.startswith("eni-") and len(eid) == 21
    assert created["Status"] == "pending"
    got = ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])["NetworkInterfaces"][0]
    assert got["Status"] == "available"
    assert got["Description"] == "my eni"
    assert got["InterfaceType"] == "interface"
    assert got["RequesterManaged"] is False
    assert got["OwnerId"] == ACCOUNT_1
    assert got["AvailabilityZone"] == "ap-south-1b" and got["AvailabilityZoneId"] == "aps1-az3"
    assert got["VpcId"] == subnet["VpcId"] and got["SubnetId"] == subnet["SubnetId"]
    assert got["TagSet"] == [{"Key": "Name", "Value": "x"}]
    assert got["Groups"][0]["GroupName"] == "default"
    assert len(got["MacAddress"].split(":")) == 6
    ip = got["PrivateIpAddress"]
    assert ipaddress.IPv4Address(ip) in ipaddress.IPv4Network(subnet["CidrBlock"])
    assert got["PrivateIpAddresses"] == [{"Primary": True, "PrivateIpAddress": ip,
                                          "PrivateDnsName": f"ip-{ip.replace('.', '-')}.ap-south-1.compute.internal"}]
    assert "Attachment" not in got
    ec2.delete_network_interface(NetworkInterfaceId=eid)
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])
    assert code_of(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=eid)
    assert code_of(err) == "InvalidNetworkInterfaceID.NotFound"


def test_create_errors(ec2):
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId="subnet-12345678")
    assert code_of(err) == "InvalidSubnetID.NotFound"
    subnet = default_subnet(ec2)
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId=subnet["SubnetId"], Groups=["sg-12345678"])
    assert code_of(err) == "InvalidGroup.NotFound"
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId=subnet["SubnetId"], PrivateIpAddress="10.0.0.5")
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.create_network_interface(SubnetId=subnet["SubnetId"], DryRun=True)
    assert code_of(err) == "DryRunOperation"
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(NetworkInterfaceIds=["eni-nothex"])
    assert code_of(err) == "InvalidNetworkInterfaceID.Malformed"


def test_instance_eni_listed_and_protected(ec2):
    res = ec2.run_instances(ImageId=ami(ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1)
    inst = res["Instances"][0]
    eid = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[eid])["NetworkInterfaces"][0]
    assert eni["Status"] == "in-use"
    assert eni["Attachment"]["InstanceId"] == inst["InstanceId"]
    assert eni["Attachment"]["InstanceOwnerId"] == ACCOUNT_1
    assert eni["Attachment"]["DeviceIndex"] == 0
    assert eni["Attachment"]["Status"] == "attached"
    assert eni["Attachment"]["DeleteOnTermination"] is True
    assert eni["PrivateIpAddress"] == inst["PrivateIpAddress"]
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=eid)
    assert code_of(err) == "InvalidNetworkInterface.InUse"
    assert message_of(err) == f"The network interface '{eid}' is currently in use."
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_filters_and_paging(ec2):
    subnet = default_subnet(ec2, "ap-south-1c")
    sg = ec2.create_security_group(GroupName="eni-filters", Description="d", VpcId=subnet["VpcId"])["GroupId"]
    ids = [ec2.create_network_interface(SubnetId=subnet["SubnetId"], Description=f"paged {n}",
                                        Groups=[sg])["NetworkInterface"]["NetworkInterfaceId"] for n in range(7)]
    inst = ec2.run_instances(ImageId=ami(ec2), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                             SubnetId=subnet["SubnetId"])["Instances"][0]

    def found(filters):
        out = ec2.describe_network_interfaces(Filters=filters)["NetworkInterfaces"]
        return sorted(e["NetworkInterfaceId"] for e in out)

    assert found([{"Name": "group-id", "Values": [sg]}]) == sorted(ids)
    assert found([{"Name": "group-name", "Values": ["eni-filters"]}]) == sorted(ids)
    assert found([{"Name": "description", "Values": ["paged *"]}]) == sorted(ids)
    assert found([{"Name": "description", "Values": ["paged 3"]}]) == [ids[3]]
    assert found([{"Name": "status", "Values": ["available"]}, {"Name": "subnet-id", "Values": [subnet["SubnetId"]]}]) \
        == sorted(ids)
    eni0 = ec2.describe_network_interfaces(NetworkInterfaceIds=[ids[0]])["NetworkInterfaces"][0]
    assert found([{"Name": "private-ip-address", "Values": [eni0["PrivateIpAddress"]]}]) == [ids[0]]
    assert found([{"Name": "addresses.private-ip-address", "Values": [eni0["PrivateIpAddress"]]}]) == [ids[0]]
    inst_eni = inst["NetworkInterfaces"][0]["NetworkInterfaceId"]
    assert found([{"Name": "attachment.instance-id", "Values": [inst["InstanceId"]]}]) == [inst_eni]
    assert inst_eni in found([{"Name": "attachment.status", "Values": ["attached"]}])
    assert inst_eni in found([{"Name": "interface-type", "Values": ["interface"]},
                              {"Name": "requester-managed", "Values": ["false"]},
                              {"Name": "owner-id", "Values": [ACCOUNT_1]},
                              {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
                              {"Name": "availability-zone", "Values": ["ap-south-1c"]}])
    assert found([{"Name": "network-interface-id", "Values": ids[:2]}]) == sorted(ids[:2])
    with pytest.raises(ClientError) as err:
        ec2.describe_network_interfaces(Filters=[{"Name": "nope", "Values": ["x"]}])
    assert code_of(err) == "InvalidParameterValue"

    pages = list(ec2.get_paginator("describe_network_interfaces").paginate(
        Filters=[{"Name": "group-id", "Values": [sg]}], PaginationConfig={"PageSize": 5}))
    assert [len(p["NetworkInterfaces"]) for p in pages] == [5, 2]
    assert sorted(e["NetworkInterfaceId"] for p in pages for e in p["NetworkInterfaces"]) == sorted(ids)

    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])
    for eid in ids:
        ec2.delete_network_interface(NetworkInterfaceId=eid)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[inst["InstanceId"]],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    ec2.delete_security_group(GroupId=sg)


def test_cross_account(ec2, ec2_2):
    eid = ec2.create_network_interface(SubnetId=default_subnet(ec2)["SubnetId"])["NetworkInterface"]["NetworkInterfaceId"]
    theirs = [e["NetworkInterfaceId"] for e in ec2_2.describe_network_interfaces()["NetworkInterfaces"]]
    assert eid not in theirs
    with pytest.raises(ClientError) as err:
        ec2_2.delete_network_interface(NetworkInterfaceId=eid)
    assert code_of(err) == "InvalidNetworkInterfaceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.create_network_interface(SubnetId=default_subnet(ec2)["SubnetId"])
    assert code_of(err) == "InvalidSubnetID.NotFound"
    ec2.delete_network_interface(NetworkInterfaceId=eid)


def test_requester_managed_kinds_render(server):
    """ENIs of endpoints and NLBs (made by their areas) render with AWS's fields."""
    from vpclab.control.ec2.addresses import create_network_interface
    from vpclab.model import KINDS
    from vpclab.model.ec2 import Subnet
    from vpclab.protocol.dispatch import RequestContext
    from vpclab.store import open_store

    ec2 = server.client("ec2")
    subnet_id = default_subnet(ec2)["SubnetId"]
    server.stop()
    store = open_store(server.state_dir, KINDS)
    try:
        ctx = RequestContext(ACCOUNT_1, "ap-south-1", store)
        with store.write() as tx:
            subnet = tx.get(Subnet, subnet_id)
            create_network_interface(tx, ctx, subnet, description="VPC Endpoint Interface vpce-0123456789abcdef0",
                                     interface_type="vpc_endpoint", requester_managed=True,
                                     requester_id="727180483921", owner_kind="vpc-endpoint",
                                     owner_id="vpce-0123456789abcdef0")
            create_network_interface(tx, ctx, subnet, description="ELB net/demo/0123456789abcdef",
                                     interface_type="network_load_balancer", requester_managed=True,
                                     requester_id="amazon-elb", owner_kind="load-balancer", owner_id="x",
                                     attachment={"attachment_id": "ela-attach-01234567", "device_index": 1,
                                                 "status": "attached", "instance_owner_id": "amazon-elb",
                                                 "attach_time": 0.0})
    finally:
        store.close()
    server.start()
    ec2 = server.client("ec2")
    vpce = ec2.describe_network_interfaces(Filters=[{"Name": "interface-type", "Values": ["vpc_endpoint"]}])
    vpce = vpce["NetworkInterfaces"][0]
    assert vpce["RequesterManaged"] is True and vpce["RequesterId"] == "727180483921"
    assert vpce["Status"] == "in-use" and vpce["Description"].startswith("VPC Endpoint Interface")
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=vpce["NetworkInterfaceId"])
    assert code_of(err) == "InvalidParameterValue"
    nlb = ec2.describe_network_interfaces(Filters=[{"Name": "requester-id", "Values": ["amazon-elb"]}])
    nlb = nlb["NetworkInterfaces"][0]
    assert nlb["InterfaceType"] == "network_load_balancer"
    assert nlb["Attachment"]["InstanceOwnerId"] == "amazon-elb" and "InstanceId" not in nlb["Attachment"]
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=nlb["NetworkInterfaceId"])
    assert code_of(err) == "InvalidNetworkInterface.InUse"
    assert len(ec2.describe_network_interfaces(
        Filters=[{"Name": "requester-managed", "Values": ["true"]}])["NetworkInterfaces"]) == 2


def test_allocation_avoids_addresses_it_is_told_to(tmp_path):
    """Endpoint ENIs avoid their service's NLB node addresses (the node's own address
    cannot also stand for an ENI there); with one other free address, that one is taken."""
    from vpclab.control.ec2.addresses import allocate_ip, usable_range
    from vpclab.model import KINDS
    from vpclab.model.ec2 import Subnet
    from vpclab.store import open_store

    store = open_store(tmp_path / "state", KINDS)
    subnet = Subnet(id="subnet-1", account=ACCOUNT_1, region="ap-south-1", vpc_id="vpc-1", cidr_block="10.9.0.0/28")
    first, last = usable_range(subnet.cidr_block)
    usable = [str(ipaddress.IPv4Address(v)) for v in range(first, last + 1)]
    with store.read() as tx:
        picks = {allocate_ip(tx, subnet, avoid=set(usable) - {usable[3]}) for _ in range(20)}
    assert picks == {usable[3]}
    store.close()
