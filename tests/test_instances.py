"""Instances through real boto3: the seed lab's launches, states, waiters, filters, errors."""
from __future__ import annotations

import base64
import ipaddress
import time

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.errors import code_of, message_of

NGINX = "#!/bin/bash\napt-get install -y nginx || dnf install -y nginx\nsystemctl start nginx\n"
FAST = {"Delay": 1, "MaxAttempts": 30}



def image_id(ec2, name="al2023-ami-2023*", arch="x86_64", owner="amazon") -> str:
    images = ec2.describe_images(Owners=[owner], Filters=[
        {"Name": "name", "Values": [name]}, {"Name": "architecture", "Values": [arch]}])["Images"]
    return images[0]["ImageId"]


def launch(ec2, **kw) -> dict:
    args = {"ImageId": image_id(ec2), "InstanceType": "t2.micro", "MinCount": 1, "MaxCount": 1}
    args.update(kw)
    return ec2.run_instances(**args)


def one(ec2, instance_id) -> dict:
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def wait_state(ec2, instance_id, name, timeout=10.0) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        inst = one(ec2, instance_id)
        if inst["State"]["Name"] == name or time.monotonic() > deadline:
            assert inst["State"]["Name"] == name
            return inst
        time.sleep(0.1)


def web_group(ec2, vpc_id, name) -> str:
    gid = ec2.create_security_group(GroupName=name, Description="web", VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


def default_vpc(ec2) -> str:
    return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]


@pytest.mark.parametrize("account", [ACCOUNT_1, ACCOUNT_2])
def test_seed_lab_instance(shared_server, account):
    """Each account launches the lab's web server in its default VPC and terminates it."""
    ec2 = shared_server.client("ec2", account)
    vpc_id = default_vpc(ec2)
    sg = web_group(ec2, vpc_id, f"launch-wizard-{account[:1]}")
    subnet = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["ap-south-1a"]},
                                           {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    res = ec2.run_instances(
        ImageId=image_id(ec2, "ubuntu/images/hvm-ssd-gp3/ubuntu-noble-24.04-amd64-*", owner="099720109477"),
        InstanceType="t2.micro", MinCount=1, MaxCount=1, SecurityGroupIds=[sg],
        SubnetId=subnet["SubnetId"], UserData=NGINX,
        TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": "demo-server-instance"}]}],
    )
    assert res["ReservationId"].startswith("r-") and res["OwnerId"] == account
    inst = res["Instances"][0]
    iid = inst["InstanceId"]
    assert iid.startswith("i-") and len(iid) == 19
    assert inst["State"] == {"Code": 0, "Name": "pending"}
    assert inst["InstanceType"] == "t2.micro"
    assert inst["Placement"]["AvailabilityZone"] == "ap-south-1a"
    assert inst["Tags"] == [{"Key": "Name", "Value": "demo-server-instance"}]
    assert inst["SecurityGroups"] == [{"GroupId": sg, "GroupName": f"launch-wizard-{account[:1]}"}]
    assert "PublicIpAddress" not in inst
    ip = ipaddress.IPv4Address(inst["PrivateIpAddress"])
    net = ipaddress.IPv4Network(subnet["CidrBlock"])
    assert ip in net
    assert int(ip) - int(net.network_address) >= 4 and ip != net.broadcast_address
    assert inst["PrivateDnsName"] == f"ip-{str(ip).replace('.', '-')}.ap-south-1.compute.internal"
    eni = inst["NetworkInterfaces"][0]
    assert eni["NetworkInterfaceId"].startswith("eni-")
    assert eni["Attachment"]["DeviceIndex"] == 0 and eni["Attachment"]["Status"] == "attached"
    assert eni["Attachment"]["AttachmentId"].startswith("eni-attach-")
    assert eni["PrivateIpAddress"] == str(ip)

    running = wait_state(ec2, iid, "running")
    assert running["State"]["Code"] == 16
    assert running["VpcId"] == vpc_id and running["SubnetId"] == subnet["SubnetId"]
    attr = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert base64.b64decode(attr).decode() == NGINX

    statuses = ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"]
    assert statuses[0]["InstanceState"]["Name"] == "running"
    assert statuses[0]["InstanceStatus"]["Status"] == "ok" and statuses[0]["SystemStatus"]["Status"] == "ok"
    assert statuses[0]["AvailabilityZone"] == "ap-south-1a"

    enis = ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"]
    assert [e["NetworkInterfaceId"] for e in enis] == [eni["NetworkInterfaceId"]]

    term = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert term["PreviousState"]["Name"] == "running"
    assert term["CurrentState"] == {"Code": 32, "Name": "shutting-down"}
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=FAST)
    gone = one(ec2, iid)
    assert gone["State"] == {"Code": 48, "Name": "terminated"}
    assert gone["StateReason"]["Code"] == "Client.UserInitiatedShutdown"
    assert gone["NetworkInterfaces"] == [] and "PrivateIpAddress" not in gone
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"] == []
    ec2.delete_security_group(GroupId=sg)


def test_running_waiter_and_status(ec2):
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=FAST)
    ec2.get_waiter("instance_status_ok").wait(InstanceIds=[iid], WaiterConfig=FAST)
    ec2.terminate_instances(InstanceIds=[iid])


def test_stop_start_terminate(ec2):
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    stop = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert stop["PreviousState"] == {"Code": 16, "Name": "running"}
    assert stop["CurrentState"] == {"Code": 64, "Name": "stopping"}
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=FAST)
    stopped = one(ec2, iid)
    assert stopped["State"]["Code"] == 80
    assert stopped["StateTransitionReason"].startswith("User initiated (")
    # Stopped instances are not in DescribeInstanceStatus unless asked for.
    assert ec2.describe_instance_status(InstanceIds=[iid])["InstanceStatuses"] == []
    every = ec2.describe_instance_status(InstanceIds=[iid], IncludeAllInstances=True)["InstanceStatuses"]
    assert every[0]["InstanceState"]["Name"] == "stopped"
    assert every[0]["InstanceStatus"]["Status"] == "not-applicable"
    # Stopping again reports the same state.
    again = ec2.stop_instances(InstanceIds=[iid])["StoppingInstances"][0]
    assert again["CurrentState"]["Name"] == again["PreviousState"]["Name"] == "stopped"
    # The ENI stays while stopped.
    assert ec2.describe_network_interfaces(
        Filters=[{"Name": "attachment.instance-id", "Values": [iid]}])["NetworkInterfaces"]
    ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.small"})
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="instanceType")["InstanceType"]["Value"] == "t3.small"
    start = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert start["PreviousState"]["Name"] == "stopped" and start["CurrentState"] == {"Code": 0, "Name": "pending"}
    ec2.get_waiter("instance_running").wait(InstanceIds=[iid], WaiterConfig=FAST)
    assert one(ec2, iid)["InstanceType"] == "t3.small"
    again = ec2.start_instances(InstanceIds=[iid])["StartingInstances"][0]
    assert again["CurrentState"]["Name"] == "running"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=FAST)
    with pytest.raises(ClientError) as err:
        ec2.start_instances(InstanceIds=[iid])
    assert code_of(err) == "IncorrectInstanceState"
    assert message_of(err) == f"The instance '{iid}' is not in a state from which it can be started."
    with pytest.raises(ClientError) as err:
        ec2.stop_instances(InstanceIds=[iid])
    assert code_of(err) == "IncorrectInstanceState"
    again = ec2.terminate_instances(InstanceIds=[iid])["TerminatingInstances"][0]
    assert again["CurrentState"]["Name"] == again["PreviousState"]["Name"] == "terminated"


def test_start_while_stopping_is_refused(ec2):
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    wait_state(ec2, iid, "running")
    ec2.stop_instances(InstanceIds=[iid])
    with pytest.raises(ClientError) as err:
        ec2.start_instances(InstanceIds=[iid])
    assert code_of(err) == "IncorrectInstanceState"
    ec2.terminate_instances(InstanceIds=[iid])


def test_default_subnet_group_and_zone(ec2):
    res = launch(ec2)
    inst = res["Instances"][0]
    a = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["ap-south-1a"]},
                                      {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]
    assert inst["SubnetId"] == a["SubnetId"]
    default_sg = ec2.describe_security_groups(Filters=[
        {"Name": "vpc-id", "Values": [a["VpcId"]]}, {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    assert inst["SecurityGroups"] == [{"GroupId": default_sg["GroupId"], "GroupName": "default"}]
    b = launch(ec2, Placement={"AvailabilityZone": "ap-south-1b"})["Instances"][0]
    assert b["Placement"]["AvailabilityZone"] == "ap-south-1b"
    assert ipaddress.IPv4Address(b["PrivateIpAddress"]) in ipaddress.IPv4Network("172.31.0.0/20")
    named = launch(ec2, SecurityGroups=["default"])["Instances"][0]
    assert named["SecurityGroups"][0]["GroupName"] == "default"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"], b["InstanceId"], named["InstanceId"]])


def test_custom_vpc_launch_and_private_ip(ec2):
    vpc = ec2.create_vpc(CidrBlock="10.20.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.20.1.0/28", AvailabilityZone="ap-south-1c")["Subnet"]["SubnetId"]
    inst = launch(ec2, SubnetId=subnet, PrivateIpAddress="10.20.1.7",
                  TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "k", "Value": "v"}]}],
                  )["Instances"][0]
    assert inst["PrivateIpAddress"] == "10.20.1.7" and inst["VpcId"] == vpc
    eni = ec2.describe_network_interfaces(NetworkInterfaceIds=[inst["NetworkInterfaces"][0]["NetworkInterfaceId"]])
    assert eni["NetworkInterfaces"][0]["TagSet"] == [{"Key": "k", "Value": "v"}]
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet, PrivateIpAddress="10.20.1.7")
    assert code_of(err) == "InvalidIPAddress.InUse"
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet, PrivateIpAddress="10.20.1.2")
    assert code_of(err) == "InvalidParameterValue"
    # Names of groups only work in the default VPC.
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet, SecurityGroups=["default"])
    assert code_of(err) == "InvalidParameterCombination"
    # A group of another VPC.
    other = ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [default_vpc(ec2)]},
                                                  {"Name": "group-name", "Values": ["default"]}])["SecurityGroups"][0]
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet, SecurityGroupIds=[other["GroupId"]])
    assert code_of(err) == "InvalidParameter"
    assert message_of(err) == f"Security group {other['GroupId']} and subnet {subnet} belong to different networks."
    # A /28 has 11 usable addresses: MaxCount beyond them launches as many as fit.
    res = launch(ec2, SubnetId=subnet, MinCount=2, MaxCount=20)
    assert len(res["Instances"]) == 10
    assert sorted(i["AmiLaunchIndex"] for i in res["Instances"]) == list(range(10))
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet)
    assert code_of(err) == "InsufficientFreeAddressesInSubnet"
    ids = [i["InstanceId"] for i in res["Instances"]] + [inst["InstanceId"]]
    ec2.terminate_instances(InstanceIds=ids)
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids, WaiterConfig=FAST)
    ec2.delete_subnet(SubnetId=subnet)
    ec2.delete_vpc(VpcId=vpc)


def test_network_interfaces_spec(ec2):
    subnet = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["ap-south-1c"]},
                                           {"Name": "default-for-az", "Values": ["true"]}])["Subnets"][0]["SubnetId"]
    inst = launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet, "Description": "primary",
                                           "AssociatePublicIpAddress": True}])["Instances"][0]
    assert inst["SubnetId"] == subnet and "PublicIpAddress" not in inst
    assert inst["NetworkInterfaces"][0]["Description"] == "primary"
    with pytest.raises(ClientError) as err:
        launch(ec2, SubnetId=subnet, NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet}])
    assert code_of(err) == "InvalidParameterCombination"
    # An existing ENI becomes the instance's eth0 and survives its termination.
    eni = ec2.create_network_interface(SubnetId=subnet)["NetworkInterface"]["NetworkInterfaceId"]
    with_eni = launch(ec2, NetworkInterfaces=[{"DeviceIndex": 0, "NetworkInterfaceId": eni}])["Instances"][0]
    assert with_eni["NetworkInterfaces"][0]["NetworkInterfaceId"] == eni
    with pytest.raises(ClientError) as err:
        ec2.delete_network_interface(NetworkInterfaceId=eni)
    assert code_of(err) == "InvalidNetworkInterface.InUse"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"], with_eni["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[with_eni["InstanceId"]], WaiterConfig=FAST)
    left = ec2.describe_network_interfaces(NetworkInterfaceIds=[eni])["NetworkInterfaces"][0]
    assert left["Status"] == "available" and "Attachment" not in left
    ec2.delete_network_interface(NetworkInterfaceId=eni)


def test_run_instances_errors(ec2):
    ami = image_id(ec2)
    cases = [
        (dict(ImageId="ami-12345678"), "InvalidAMIID.NotFound", "The image id '[ami-12345678]' does not exist"),
        (dict(ImageId="ami-xyz"), "InvalidAMIID.Malformed", None),
        (dict(ImageId=ami, InstanceType="t9.huge"), "InvalidParameterValue", "Invalid value 't9.huge' for InstanceType."),
        (dict(ImageId=ami, InstanceType="t4g.micro"), "InvalidParameterValue", None),
        (dict(ImageId=ami, KeyName="nope"), "InvalidKeyPair.NotFound", "The key pair 'nope' does not exist"),
        (dict(ImageId=ami, SubnetId="subnet-12345678"), "InvalidSubnetID.NotFound", None),
        (dict(ImageId=ami, SubnetId="subnet-zz"), "InvalidSubnetID.Malformed", None),
        (dict(ImageId=ami, SecurityGroupIds=["sg-12345678"]), "InvalidGroup.NotFound", None),
        (dict(ImageId=ami, SecurityGroups=["nope"]), "InvalidGroup.NotFound", None),
        (dict(ImageId=ami, MinCount=2, MaxCount=1), "InvalidParameterValue", None),
        (dict(ImageId=ami, MinCount=0, MaxCount=0), "InvalidParameterValue", None),
        (dict(ImageId=ami, Placement={"AvailabilityZone": "ap-south-1z"}), "InvalidParameterValue", None),
        (dict(ImageId=ami, UserData="x" * 20000), "InvalidParameterValue", None),
        (dict(ImageId=ami, MaxCount=2, PrivateIpAddress="172.31.32.10"), "InvalidParameterCombination", None),
        (dict(ImageId=ami, TagSpecifications=[{"ResourceType": "vpc", "Tags": [{"Key": "a", "Value": "b"}]}]),
         "InvalidParameterValue", None),
    ]
    for kwargs, code, message in cases:
        args = {"InstanceType": "t2.micro", "MinCount": 1, "MaxCount": 1, **kwargs}
        with pytest.raises(ClientError) as err:
            ec2.run_instances(**args)
        assert code_of(err) == code, kwargs
        if message:
            assert message_of(err) == message
    with pytest.raises(ClientError) as err:
        ec2.run_instances(MinCount=1, MaxCount=1, InstanceType="t2.micro")
    assert code_of(err) == "MissingParameter"


def test_dry_run(ec2):
    before = ec2.describe_instances()["Reservations"]
    with pytest.raises(ClientError) as err:
        launch(ec2, DryRun=True)
    assert code_of(err) == "DryRunOperation"
    assert ec2.describe_instances()["Reservations"] == before
    with pytest.raises(ClientError) as err:
        launch(ec2, DryRun=True, InstanceType="bogus")
    assert code_of(err) == "InvalidParameterValue"
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    for call in (ec2.describe_instances, ec2.stop_instances, ec2.terminate_instances, ec2.describe_instance_status):
        with pytest.raises(ClientError) as err:
            call(InstanceIds=[iid], DryRun=True)
        assert code_of(err) == "DryRunOperation"
    assert one(ec2, iid)["State"]["Name"] == "running"
    ec2.terminate_instances(InstanceIds=[iid])


def test_client_token_idempotency(ec2):
    first = launch(ec2, ClientToken="token-1")
    again = launch(ec2, ClientToken="token-1")
    assert again["ReservationId"] == first["ReservationId"]
    assert [i["InstanceId"] for i in again["Instances"]] == [i["InstanceId"] for i in first["Instances"]]
    assert again["Instances"][0]["ClientToken"] == "token-1"
    with pytest.raises(ClientError) as err:
        launch(ec2, ClientToken="token-1", InstanceType="t3.micro")
    assert code_of(err) == "IdempotentParameterMismatch"
    ec2.terminate_instances(InstanceIds=[first["Instances"][0]["InstanceId"]])


def test_describe_filters_and_errors(ec2):
    vpc = default_vpc(ec2)
    sg = web_group(ec2, vpc, "filters-web")
    ec2.create_key_pair(KeyName="filters-key")
    res = launch(ec2, MinCount=2, MaxCount=2, KeyName="filters-key", SecurityGroupIds=[sg],
                 TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "team", "Value": "blue"}]}])
    ids = sorted(i["InstanceId"] for i in res["Instances"])
    other = launch(ec2, InstanceType="t3.micro")["Instances"][0]
    inst = res["Instances"][0]

    def found(filters):
        out = ec2.describe_instances(Filters=filters)["Reservations"]
        return sorted(i["InstanceId"] for r in out for i in r["Instances"])

    assert found([{"Name": "reservation-id", "Values": [res["ReservationId"]]}]) == ids
    assert found([{"Name": "tag:team", "Values": ["blue"]}]) == ids
    assert found([{"Name": "tag-key", "Values": ["team"]}]) == ids
    assert found([{"Name": "key-name", "Values": ["filters-key"]}]) == ids
    assert found([{"Name": "instance.group-id", "Values": [sg]}]) == ids
    assert found([{"Name": "instance.group-name", "Values": ["filters-web"]}]) == ids
    assert found([{"Name": "instance-id", "Values": [other["InstanceId"]]}]) == [other["InstanceId"]]
    assert other["InstanceId"] in found([{"Name": "instance-type", "Values": ["t3.micro"]}])
    assert found([{"Name": "private-ip-address", "Values": [inst["PrivateIpAddress"]]}]) == [inst["InstanceId"]]
    assert found([{"Name": "private-dns-name", "Values": [inst["PrivateDnsName"]]}]) == [inst["InstanceId"]]
    assert found([{"Name": "network-interface.network-interface-id",
                   "Values": [inst["NetworkInterfaces"][0]["NetworkInterfaceId"]]}]) == [inst["InstanceId"]]
    both = found([{"Name": "instance-id", "Values": ids + [other["InstanceId"]]},
                  {"Name": "instance-state-name", "Values": ["running"]},
                  {"Name": "instance-state-code", "Values": ["16"]},
                  {"Name": "vpc-id", "Values": [vpc]},
                  {"Name": "availability-zone", "Values": ["ap-south-1a"]},
                  {"Name": "image-id", "Values": [inst["ImageId"]]},
                  {"Name": "owner-id", "Values": [ACCOUNT_1]},
                  {"Name": "subnet-id", "Values": [inst["SubnetId"]]}])
    assert both == sorted(ids + [other["InstanceId"]])
    assert found([{"Name": "tag:team", "Values": ["red"]}]) == []
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(Filters=[{"Name": "bogus", "Values": ["x"]}])
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=["i-12345678901234567"])
    assert code_of(err) == "InvalidInstanceID.NotFound"
    assert message_of(err) == "The instance ID 'i-12345678901234567' does not exist"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=["i-bad"])
    assert code_of(err) == "InvalidInstanceID.Malformed"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(InstanceIds=ids, MaxResults=5)
    assert code_of(err) == "InvalidParameterCombination"
    for op in (ec2.stop_instances, ec2.start_instances, ec2.terminate_instances):
        with pytest.raises(ClientError) as err:
            op(InstanceIds=["i-12345678901234567"])
        assert code_of(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=ids + [other["InstanceId"]])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=ids + [other["InstanceId"]], WaiterConfig=FAST)
    assert found([{"Name": "instance-id", "Values": ids}, {"Name": "vpc-id", "Values": [vpc]}]) == []
    ec2.delete_security_group(GroupId=sg)
    ec2.delete_key_pair(KeyName="filters-key")


def test_pagination_groups_reservations(server):
    ec2 = server.client("ec2")
    r1 = launch(ec2, MinCount=3, MaxCount=3)
    r2 = launch(ec2, MinCount=4, MaxCount=4)
    seen, pages, token = [], 0, None
    while True:
        kw = {"MaxResults": 5}
        if token:
            kw["NextToken"] = token
        out = ec2.describe_instances(**kw)
        pages += 1
        for r in out["Reservations"]:
            assert len({i["InstanceId"] for i in r["Instances"]}) == len(r["Instances"])
            seen += [(r["ReservationId"], i["InstanceId"]) for i in r["Instances"]]
        token = out.get("NextToken")
        if not token:
            break
    assert pages == 2 and len(seen) == 7
    by_res = {}
    for rid, iid in seen:
        by_res.setdefault(rid, set()).add(iid)
    assert by_res == {r1["ReservationId"]: {i["InstanceId"] for i in r1["Instances"]},
                      r2["ReservationId"]: {i["InstanceId"] for i in r2["Instances"]}}
    paginated = ec2.get_paginator("describe_instances").paginate(PaginationConfig={"PageSize": 5})
    assert sum(len(r["Instances"]) for p in paginated for r in p["Reservations"]) == 7
    statuses = ec2.get_paginator("describe_instance_status").paginate(PaginationConfig={"PageSize": 5})
    assert sum(len(p["InstanceStatuses"]) for p in statuses) == 7
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(MaxResults=2)
    assert code_of(err) == "InvalidParameterValue"
    with pytest.raises(ClientError) as err:
        ec2.describe_instances(NextToken="garbage")
    assert code_of(err) == "InvalidNextToken"


def test_cross_account_invisible(ec2, ec2_2):
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    mine = [i["InstanceId"] for r in ec2_2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert iid not in mine
    for call in (ec2_2.describe_instances, ec2_2.terminate_instances, ec2_2.stop_instances):
        with pytest.raises(ClientError) as err:
            call(InstanceIds=[iid])
        assert code_of(err) == "InvalidInstanceID.NotFound"
    with pytest.raises(ClientError) as err:
        ec2_2.describe_instance_attribute(InstanceId=iid, Attribute="userData")
    assert code_of(err) == "InvalidInstanceID.NotFound"
    eni = one(ec2, iid)["NetworkInterfaces"][0]["NetworkInterfaceId"]
    with pytest.raises(ClientError) as err:
        ec2_2.describe_network_interfaces(NetworkInterfaceIds=[eni])
    assert code_of(err) == "InvalidNetworkInterfaceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_attributes(ec2):
    iid = launch(ec2, UserData="hello", DisableApiTermination=True)["Instances"][0]["InstanceId"]
    got = ec2.describe_instance_attribute(InstanceId=iid, Attribute="disableApiTermination")
    assert got["DisableApiTermination"]["Value"] is True
    with pytest.raises(ClientError) as err:
        ec2.terminate_instances(InstanceIds=[iid])
    assert code_of(err) == "OperationNotPermitted"
    ec2.modify_instance_attribute(InstanceId=iid, DisableApiTermination={"Value": False})
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.micro"})
    assert code_of(err) == "IncorrectInstanceState"
    with pytest.raises(ClientError) as err:
        ec2.modify_instance_attribute(InstanceId=iid, InstanceType={"Value": "t3.bogus"})
    assert code_of(err) in ("IncorrectInstanceState", "InvalidParameterValue")
    assert ec2.describe_instance_attribute(InstanceId=iid, Attribute="rootDeviceName")["RootDeviceName"]["Value"] == "/dev/xvda"
    groups = ec2.describe_instance_attribute(InstanceId=iid, Attribute="groupSet")["Groups"]
    assert groups[0]["GroupName"] == "default"
    sg = web_group(ec2, default_vpc(ec2), "attr-web")
    ec2.modify_instance_attribute(InstanceId=iid, Groups=[sg])
    inst = one(ec2, iid)
    assert inst["SecurityGroups"] == [{"GroupId": sg, "GroupName": "attr-web"}]
    assert inst["NetworkInterfaces"][0]["Groups"] == [{"GroupId": sg, "GroupName": "attr-web"}]
    ec2.stop_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[iid], WaiterConfig=FAST)
    ec2.modify_instance_attribute(InstanceId=iid, UserData={"Value": b"#!/bin/sh\necho new\n"})
    value = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert base64.b64decode(value) == b"#!/bin/sh\necho new\n"
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=FAST)
    ec2.delete_security_group(GroupId=sg)


def test_console_output(shared_server, ec2):
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    out = ec2.get_console_output(InstanceId=iid)
    assert out["InstanceId"] == iid and "Output" not in out
    log = shared_server.state_dir / "instances" / iid / "console.log"
    log.parent.mkdir(parents=True)
    log.write_text("Cloud-init v. 24.1 finished\n")
    out = ec2.get_console_output(InstanceId=iid)
    # The wire carries base64; botocore decodes it for the caller.
    assert out["Output"] == "Cloud-init v. 24.1 finished\n"
    with pytest.raises(ClientError) as err:
        ec2.get_console_output(InstanceId="i-12345678901234567")
    assert code_of(err) == "InvalidInstanceID.NotFound"
    ec2.terminate_instances(InstanceIds=[iid])


def test_us_east_1_dns_name(shared_server):
    ec2 = shared_server.client("ec2", region="us-east-1")
    inst = launch(ec2)["Instances"][0]
    assert inst["PrivateDnsName"].endswith(".ec2.internal")
    assert inst["Placement"]["AvailabilityZone"] == "us-east-1a"
    ec2.terminate_instances(InstanceIds=[inst["InstanceId"]])


def test_terminated_instance_forgotten_after_restart(server):
    ec2 = server.client("ec2")
    iid = launch(ec2)["Instances"][0]["InstanceId"]
    ec2.terminate_instances(InstanceIds=[iid])
    ec2.get_waiter("instance_terminated").wait(InstanceIds=[iid], WaiterConfig=FAST)
    live = launch(ec2)["Instances"][0]["InstanceId"]
    server.stop()
    server.start()
    ec2 = server.client("ec2")
    listed = [i["InstanceId"] for r in ec2.describe_instances()["Reservations"] for i in r["Instances"]]
    assert listed == [live]
    assert REGION == "ap-south-1"
