"""Terraform's AWS provider, replayed call by call against a real vpclab server.

Terraform cannot run here, so each replay makes, with boto3, the calls that
terraform-provider-aws makes to create, read (refresh), update and delete one resource,
in its order, with its waiters: each polls with the provider's pending and target states
and fails on any other state, as the provider's `StateChangeConf` does (`poll_until`).
The comment above each replay names the provider's file and function it follows; the
assertions are the fields that function's `d.Set(...)` calls and flatteners read. The
provider's own delays (Delay 10 s, MinTimeout 3 s…) are not kept: the sequence matters
here, not the pace; its timeouts are, capped at `MAX_WAIT`.

Data plane off: states settle by the lifecycle timer, as they do without one. The last
tests run the whole PrivateLink lab (provider account, then consumer) in the order
Terraform's dependency graph gives, and destroy it in reverse.
"""
from __future__ import annotations

import base64
import hashlib
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import pytest
from botocore.exceptions import ClientError

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION

#: The longest a replayed waiter really waits (the provider's own timeouts are minutes).
MAX_WAIT = 30.0

ZONES = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]


# --- The provider's machinery -------------------------------------------------------------

class NotFound(Exception):
    """What the provider's finders return for a resource that is gone (tfresource.NotFound)."""


def code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


def poll_until(refresh: Callable[[], tuple[object, str]], pending: list[str], target: list[str],
               timeout: float, what: str) -> object:
    """The provider's `retry.StateChangeConf.WaitForStateContext`: call `refresh` until its
    state is in `target`; a state in neither list is an error; with an empty `target`, a
    NotFound ends the wait (a delete's waiter), and otherwise NotFound is an error after
    the provider's 20 tries (`NotFoundChecks`)."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT)
    not_found = 0
    seen: list[str] = []
    while True:
        try:
            obj, state = refresh()
        except NotFound:
            if not target:
                return None
            not_found += 1
            if not_found > 20:
                raise AssertionError(f"{what}: not found after 20 tries (states seen: {seen})")
        else:
            if not seen or seen[-1] != state:
                seen.append(state)
            if state in target:
                return obj
            if state not in pending:
                raise AssertionError(f"{what}: unexpected state '{state}', wanted {target} (seen {seen})")
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: timeout waiting for {target} (seen {seen})")
        time.sleep(0.1)


def retry_while_code(call: Callable[[], object], codes: set[str], timeout: float) -> object:
    """tfresource.RetryWhenAWSErrCodeEquals: the call again while it fails with `codes`."""
    deadline = time.monotonic() + min(timeout, MAX_WAIT)
    while True:
        try:
            return call()
        except ClientError as err:
            if code(err) not in codes or time.monotonic() > deadline:
                raise
        time.sleep(0.2)


def retry_until_not_found(find: Callable[[], object], timeout: float, what: str) -> None:
    """tfresource.RetryUntilNotFound."""
    poll_until(lambda: (find(), "exists"), ["exists"], [], timeout, what)


def not_found_on(*codes: str) -> Callable[[Callable[[], object]], Callable[[], object]]:
    """A finder that raises NotFound where the API answers one of `codes`."""
    def wrap(fn: Callable[[], object]) -> Callable[[], object]:
        def call() -> object:
            try:
                return fn()
            except ClientError as err:
                if code(err) in codes:
                    raise NotFound(code(err)) from err
                raise
        return call
    return wrap


def single(items: list, what: str) -> object:
    """tfresource.AssertSingleValueResult: exactly one result, or the provider fails."""
    if not items:
        raise NotFound(what)
    assert len(items) == 1, f"{what}: expected 1 result, got {len(items)}"
    return items[0]


def filters(**values: str) -> list[dict]:
    """The provider's newAttributeFilterList: one filter per name, one value each."""
    return [{"Name": k.replace("_", "-").replace("--", "."), "Values": [v]} for k, v in values.items()]


def tag_specs(resource_type: str, name: str) -> list[dict]:
    return [{"ResourceType": resource_type, "Tags": [{"Key": "Name", "Value": name}]}]


def client_token() -> str:
    """id.UniqueId(): the `terraform-` prefix and a timestamp-and-counter suffix."""
    return "terraform-" + uuid.uuid4().hex[:26]


# --- Fixtures ---------------------------------------------------------------------------

@dataclass
class Clients:
    ec2: object
    elb: object
    account: str


@pytest.fixture(scope="module")
def provider(shared_server) -> Clients:
    return Clients(shared_server.client("ec2", ACCOUNT_1), shared_server.client("elbv2", ACCOUNT_1), ACCOUNT_1)


@pytest.fixture(scope="module")
def consumer(shared_server) -> Clients:
    return Clients(shared_server.client("ec2", ACCOUNT_2), shared_server.client("elbv2", ACCOUNT_2), ACCOUNT_2)


_cidrs = iter(range(1, 200))


def next_cidr() -> str:
    return f"10.{next(_cidrs)}.0.0/16"


# --- aws_vpc ------------------------------------------------------------------------------

@dataclass
class VpcState:
    id: str
    cidr_block: str
    default_network_acl_id: str = ""
    default_route_table_id: str = ""
    default_security_group_id: str = ""
    enable_dns_hostnames: bool = False
    enable_dns_support: bool = True
    attrs: dict = field(default_factory=dict)


def find_vpc(ec2, vpc_id: str) -> dict:
    # find.go findVPCByID: DescribeVpcs(VpcIds), NotFound on InvalidVpcID.NotFound.
    return single(not_found_on("InvalidVpcID.NotFound")(
        lambda: ec2.describe_vpcs(VpcIds=[vpc_id])["Vpcs"])(), vpc_id)


def vpc_create(c: Clients, cidr: str, enable_dns_hostnames: bool = False) -> VpcState:
    # vpc_.go resourceVPCCreate: CreateVpc with AmazonProvidedIpv6CidrBlock false and the
    # default tenancy, then waitVPCCreated (wait.go: Pending [pending], Target [available],
    # 10 min), then modifyVPCAttributesOnCreate (ModifyVpcAttribute for each attribute
    # that differs from AWS's defaults, each followed by waitVPCAttributeUpdated).
    out = c.ec2.create_vpc(CidrBlock=cidr, AmazonProvidedIpv6CidrBlock=False, InstanceTenancy="default",
                           TagSpecifications=tag_specs("vpc", "tf-vpc"))
    vpc_id = out["Vpc"]["VpcId"]
    poll_until(lambda: (v := find_vpc(c.ec2, vpc_id), v["State"]), ["pending"], ["available"], 600, "vpc created")
    if enable_dns_hostnames:
        vpc_modify_dns_hostnames(c, vpc_id, True)
    return vpc_read(c, vpc_id)


def vpc_modify_dns_hostnames(c: Clients, vpc_id: str, value: bool) -> None:
    # vpc_.go modifyVPCDNSHostnames: ModifyVpcAttribute(EnableDnsHostnames), then
    # waitVPCAttributeUpdated polls DescribeVpcAttribute until the value is the new one.
    c.ec2.modify_vpc_attribute(VpcId=vpc_id, EnableDnsHostnames={"Value": value})
    poll_until(lambda: (None, str(c.ec2.describe_vpc_attribute(
        VpcId=vpc_id, Attribute="enableDnsHostnames")["EnableDnsHostnames"]["Value"]).lower()),
        [str(not value).lower()], [str(value).lower()], 600, "vpc attribute updated")


def vpc_read(c: Clients, vpc_id: str) -> VpcState:
    # vpc_.go resourceVPCRead: DescribeVpcs; DescribeVpcAttribute for enableDnsHostnames,
    # enableDnsSupport and enableNetworkAddressUsageMetrics; findVPCDefaultNetworkACL
    # (DescribeNetworkAcls, filters default=true and vpc-id), findVPCMainRouteTable
    # (DescribeRouteTables, association.main=true and vpc-id), findVPCDefaultSecurityGroup
    # (DescribeSecurityGroups, group-name=default and vpc-id).
    vpc = find_vpc(c.ec2, vpc_id)
    assert vpc["OwnerId"] == c.account and vpc["InstanceTenancy"] == "default"
    assert vpc["DhcpOptionsId"]
    # defaultIPv6CIDRBlockAssociation: none (the provider ranges over the list; an absent one
    # reads as empty in Go).
    assert vpc.get("Ipv6CidrBlockAssociationSet", []) == []
    state = VpcState(vpc_id, vpc["CidrBlock"])
    for attr, key in (("enableDnsHostnames", "EnableDnsHostnames"), ("enableDnsSupport", "EnableDnsSupport"),
                      ("enableNetworkAddressUsageMetrics", "EnableNetworkAddressUsageMetrics")):
        state.attrs[attr] = c.ec2.describe_vpc_attribute(VpcId=vpc_id, Attribute=attr)[key]["Value"]
    state.enable_dns_hostnames = state.attrs["enableDnsHostnames"]
    state.enable_dns_support = state.attrs["enableDnsSupport"]
    acl = single(c.ec2.describe_network_acls(Filters=filters(default="true", vpc_id=vpc_id))["NetworkAcls"], "nacl")
    state.default_network_acl_id = acl["NetworkAclId"]
    rtb = single(c.ec2.describe_route_tables(
        Filters=[{"Name": "association.main", "Values": ["true"]}, {"Name": "vpc-id", "Values": [vpc_id]}]
    )["RouteTables"], "main route table")
    state.default_route_table_id = rtb["RouteTableId"]
    sg = single(c.ec2.describe_security_groups(Filters=filters(group_name="default", vpc_id=vpc_id))["SecurityGroups"],
                "default security group")
    state.default_security_group_id = sg["GroupId"]
    return state


def vpc_delete(c: Clients, vpc_id: str) -> None:
    # vpc_.go resourceVPCDelete: DeleteVpc retried on DependencyViolation (vpcDeletedTimeout,
    # 5 min), InvalidVpcID.NotFound is success; then RetryUntilNotFound on findVPCByID.
    try:
        retry_while_code(lambda: c.ec2.delete_vpc(VpcId=vpc_id), {"DependencyViolation"}, 300)
    except ClientError as err:
        if code(err) != "InvalidVpcID.NotFound":
            raise
    retry_until_not_found(lambda: find_vpc(c.ec2, vpc_id), 300, "vpc deleted")


def test_aws_vpc(provider):
    vpc = vpc_create(provider, "10.250.0.0/16")
    assert vpc.cidr_block == "10.250.0.0/16"
    assert vpc.default_network_acl_id.startswith("acl-")
    assert vpc.attrs == {"enableDnsHostnames": False, "enableDnsSupport": True,
                         "enableNetworkAddressUsageMetrics": False}
    # Refresh: the same answer, the same default NACL id.
    again = vpc_read(provider, vpc.id)
    assert again.default_network_acl_id == vpc.default_network_acl_id
    # Update: enable_dns_hostnames = true.
    vpc_modify_dns_hostnames(provider, vpc.id, True)
    assert vpc_read(provider, vpc.id).enable_dns_hostnames is True
    vpc_delete(provider, vpc.id)
    assert provider.ec2.describe_network_acls(Filters=filters(vpc_id=vpc.id))["NetworkAcls"] == []


# --- aws_subnet ---------------------------------------------------------------------------

def find_subnet(ec2, subnet_id: str) -> dict:
    # find.go findSubnetByID: DescribeSubnets(SubnetIds).
    return single(not_found_on("InvalidSubnetID.NotFound")(
        lambda: ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"])(), subnet_id)


def subnet_create(c: Clients, vpc_id: str, cidr: str, zone: str, map_public_ip_on_launch: bool = False) -> dict:
    # vpc_subnet.go resourceSubnetCreate: CreateSubnet(AvailabilityZone, CidrBlock, VpcId,
    # TagSpecifications), waitSubnetAvailable (Pending [pending], Target [available],
    # 10 min), then modifySubnetAttributesOnCreate: ModifySubnetAttribute for each
    # attribute that differs from the new subnet's, e.g. MapPublicIpOnLaunch, each
    # followed by its waitSubnet…Updated polling DescribeSubnets.
    out = c.ec2.create_subnet(VpcId=vpc_id, CidrBlock=cidr, AvailabilityZone=zone,
                              TagSpecifications=tag_specs("subnet", "tf-subnet"))
    subnet_id = out["Subnet"]["SubnetId"]
    subnet = poll_until(lambda: (s := find_subnet(c.ec2, subnet_id), s["State"]), ["pending"], ["available"],
                        600, "subnet available")
    if subnet["MapPublicIpOnLaunch"] != map_public_ip_on_launch:
        subnet_modify_map_public_ip(c, subnet_id, map_public_ip_on_launch)
    return subnet_read(c, subnet_id)


def subnet_modify_map_public_ip(c: Clients, subnet_id: str, value: bool) -> None:
    # vpc_subnet.go modifySubnetMapPublicIPOnLaunch + wait.go waitSubnetMapPublicIPOnLaunchUpdated.
    c.ec2.modify_subnet_attribute(SubnetId=subnet_id, MapPublicIpOnLaunch={"Value": value})
    poll_until(lambda: (None, str(find_subnet(c.ec2, subnet_id)["MapPublicIpOnLaunch"]).lower()),
               [str(not value).lower()], [str(value).lower()], 600, "subnet attribute updated")


def subnet_read(c: Clients, subnet_id: str) -> dict:
    # vpc_subnet.go resourceSubnetRead / resourceSubnetFlatten: SubnetArn,
    # AssignIpv6AddressOnCreation, AvailabilityZone(Id), CidrBlock, EnableDns64,
    # EnableLniAtDeviceIndex, Ipv6Native, MapCustomerOwnedIpOnLaunch, MapPublicIpOnLaunch,
    # OwnerId, VpcId, PrivateDnsNameOptionsOnLaunch, Ipv6CidrBlockAssociationSet.
    s = find_subnet(c.ec2, subnet_id)
    assert s["SubnetArn"] == f"arn:aws:ec2:{REGION}:{c.account}:subnet/{subnet_id}"
    assert s["OwnerId"] == c.account
    assert s["AssignIpv6AddressOnCreation"] is False and s["EnableDns64"] is False
    assert s["Ipv6Native"] is False and s["MapCustomerOwnedIpOnLaunch"] is False
    assert s["Ipv6CidrBlockAssociationSet"] == []
    assert s["AvailabilityZoneId"].startswith("aps1-az")
    assert s["PrivateDnsNameOptionsOnLaunch"] == {"HostnameType": "ip-name", "EnableResourceNameDnsARecord": False,
                                                  "EnableResourceNameDnsAAAARecord": False}
    return s


def subnet_delete(c: Clients, subnet_id: str) -> None:
    # vpc_subnet.go resourceSubnetDelete: deleteLingeringENIs (DescribeNetworkInterfaces,
    # filter subnet-id: detaches and deletes the Lambda/ELB leftovers it finds), then
    # DeleteSubnet, InvalidSubnetID.NotFound being success, retried on DependencyViolation.
    enis = c.ec2.describe_network_interfaces(Filters=filters(subnet_id=subnet_id))["NetworkInterfaces"]
    assert [e for e in enis if e["Description"].startswith(("AWS Lambda VPC ENI", "ELB "))] == []
    try:
        retry_while_code(lambda: c.ec2.delete_subnet(SubnetId=subnet_id), {"DependencyViolation"}, 1200)
    except ClientError as err:
        if code(err) != "InvalidSubnetID.NotFound":
            raise


def test_aws_subnet(provider):
    vpc = vpc_create(provider, next_cidr())
    cidr = vpc.cidr_block.replace("0.0/16", "1.0/24")
    subnet = subnet_create(provider, vpc.id, cidr, ZONES[0], map_public_ip_on_launch=True)
    assert subnet["CidrBlock"] == cidr and subnet["VpcId"] == vpc.id and subnet["AvailabilityZone"] == ZONES[0]
    assert subnet["MapPublicIpOnLaunch"] is True
    # The VPC's default network ACL is associated with the new subnet (aws_default_network_acl,
    # aws_network_acl_association read it through association.subnet-id).
    acl = single(provider.ec2.describe_network_acls(
        Filters=filters(association__subnet_id=subnet["SubnetId"]))["NetworkAcls"], "nacl of subnet")
    assert acl["NetworkAclId"] == vpc.default_network_acl_id and acl["IsDefault"] is True
    # Update: map_public_ip_on_launch = false.
    subnet_modify_map_public_ip(provider, subnet["SubnetId"], False)
    assert subnet_read(provider, subnet["SubnetId"])["MapPublicIpOnLaunch"] is False
    subnet_delete(provider, subnet["SubnetId"])
    with pytest.raises(NotFound):
        find_subnet(provider.ec2, subnet["SubnetId"])
    vpc_delete(provider, vpc.id)
