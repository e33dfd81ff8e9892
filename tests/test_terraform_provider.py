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

#: The longest a replayed waiter's initial Delay really lasts (the provider's are 5 to
#: 30 s; vpclab's transitions take `lifecycle.SETTLE_DELAY`, 0.5 s, without a data plane).
MAX_DELAY = 1.0

ZONES = [f"{REGION}a", f"{REGION}b", f"{REGION}c"]


# --- The provider's machinery -------------------------------------------------------------

class NotFound(Exception):
    """What the provider's finders return for a resource that is gone (tfresource.NotFound)."""


def code(err: ClientError) -> str:
    return err.response["Error"]["Code"]


def poll_until(refresh: Callable[[], tuple[object, str]], pending: list[str], target: list[str],
               timeout: float, what: str, delay: float = 0.0) -> object:
    """The provider's `retry.StateChangeConf.WaitForStateContext`: call `refresh` until its
    state is in `target`; a state in neither list is an error; with an empty `target`, a
    NotFound ends the wait (a delete's waiter), and otherwise NotFound is an error after
    the provider's 20 tries (`NotFoundChecks`). The first look comes after `delay` (the
    provider's Delay, capped at MAX_DELAY): a state the waiter does not list is an error
    only if it is still there then, as on AWS."""
    time.sleep(min(delay, MAX_DELAY))
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


# --- aws_security_group (+ aws_vpc_security_group_ingress_rule / egress_rule) -------------

def find_group(ec2, group_id: str) -> dict:
    # find.go findSecurityGroupByID: DescribeSecurityGroups(GroupIds).
    return single(not_found_on("InvalidGroup.NotFound", "InvalidSecurityGroupID.NotFound")(
        lambda: ec2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"])(), group_id)


#: vpc_security_group.go: the allow-all egress rule AWS gives every new group, which the
#: provider revokes at create so that the configuration alone decides egress.
DEFAULT_EGRESS = {"IpProtocol": "-1", "FromPort": 0, "ToPort": 0, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}


def security_group_create(c: Clients, vpc_id: str, name: str, ingress: list[dict], egress: list[dict]) -> dict:
    # vpc_security_group.go resourceSecurityGroupCreate: CreateSecurityGroup(GroupName,
    # Description "Managed by Terraform", VpcId, TagSpecifications); findSecurityGroupByID
    # retried while new (RetryWhenNewResourceNotFound); RevokeSecurityGroupEgress of the
    # default allow-all rule; then resourceSecurityGroupUpdate authorizes the inline rules
    # (AuthorizeSecurityGroupIngress / Egress, one call per direction).
    out = c.ec2.create_security_group(GroupName=name, Description="Managed by Terraform", VpcId=vpc_id,
                                      TagSpecifications=tag_specs("security-group", name))
    group_id = out["GroupId"]
    group = find_group(c.ec2, group_id)
    assert group["IpPermissionsEgress"] == [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
                                             "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": []}]
    c.ec2.revoke_security_group_egress(GroupId=group_id, IpPermissions=[DEFAULT_EGRESS])
    if ingress:
        c.ec2.authorize_security_group_ingress(GroupId=group_id, IpPermissions=ingress)
    if egress:
        c.ec2.authorize_security_group_egress(GroupId=group_id, IpPermissions=egress)
    return security_group_read(c, group_id)


def security_group_read(c: Clients, group_id: str) -> dict:
    # vpc_security_group.go resourceSecurityGroupRead: arn (SecurityGroupArn form),
    # description, name, owner_id, vpc_id, and ingress / egress flattened from
    # IpPermissions (flattenIPPermissions: FromPort, ToPort, IpProtocol, IpRanges…).
    g = find_group(c.ec2, group_id)
    assert g["OwnerId"] == c.account and g["Description"] == "Managed by Terraform"
    for perm in g["IpPermissions"] + g["IpPermissionsEgress"]:
        assert {"IpProtocol", "IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"} <= set(perm)
    return g


def security_group_delete(c: Clients, group_id: str) -> None:
    # vpc_security_group.go resourceSecurityGroupDelete: DeleteSecurityGroup retried on
    # DependencyViolation and InvalidGroup.InUse (delete timeout, 15 min), then
    # RetryUntilNotFound on findSecurityGroupByID.
    try:
        retry_while_code(lambda: c.ec2.delete_security_group(GroupId=group_id),
                         {"DependencyViolation", "InvalidGroup.InUse"}, 900)
    except ClientError as err:
        if code(err) != "InvalidGroup.NotFound":
            raise
    retry_until_not_found(lambda: find_group(c.ec2, group_id), 900, "security group deleted")


def find_rule(ec2, rule_id: str) -> dict:
    # find.go findSecurityGroupRuleByID: DescribeSecurityGroupRules(SecurityGroupRuleIds).
    return single(not_found_on("InvalidSecurityGroupRuleId.NotFound")(
        lambda: ec2.describe_security_group_rules(SecurityGroupRuleIds=[rule_id])["SecurityGroupRules"])(), rule_id)


def rule_create(c: Clients, group_id: str, egress: bool, perm: dict) -> str:
    # vpc_security_group_ingress_rule.go / _egress_rule.go create: Authorize…(GroupId,
    # IpPermissions [one], TagSpecifications security-group-rule); the id is
    # SecurityGroupRules[0].SecurityGroupRuleId of the answer.
    call = c.ec2.authorize_security_group_egress if egress else c.ec2.authorize_security_group_ingress
    out = call(GroupId=group_id, IpPermissions=[perm], TagSpecifications=tag_specs("security-group-rule", "tf-rule"))
    assert out["Return"] is True and len(out["SecurityGroupRules"]) == 1
    return out["SecurityGroupRules"][0]["SecurityGroupRuleId"]


def test_aws_security_group_and_rules(provider):
    vpc = vpc_create(provider, next_cidr())
    http = {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}
    group = security_group_create(provider, vpc.id, "tf-inline", ingress=[http], egress=[DEFAULT_EGRESS])
    assert group["SecurityGroupArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:security-group/{group['GroupId']}"
    assert [(p["IpProtocol"], p.get("FromPort"), p["IpRanges"]) for p in group["IpPermissions"]] == [
        ("tcp", 80, [{"CidrIp": "10.0.0.0/8"}])]
    assert [p["IpProtocol"] for p in group["IpPermissionsEgress"]] == ["-1"]
    # Update: an inline rule removed (RevokeSecurityGroupIngress of the old permission).
    provider.ec2.revoke_security_group_ingress(GroupId=group["GroupId"], IpPermissions=[http])
    assert security_group_read(provider, group["GroupId"])["IpPermissions"] == []

    # The standalone rule resources on a group without inline rules.
    bare = security_group_create(provider, vpc.id, "tf-bare", ingress=[], egress=[])
    assert bare["IpPermissionsEgress"] == []
    ingress_id = rule_create(provider, bare["GroupId"], False, {
        "IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.1.0.0/16", "Description": "https"}]})
    egress_id = rule_create(provider, bare["GroupId"], True, DEFAULT_EGRESS | {"FromPort": -1, "ToPort": -1})
    # Read (vpc_security_group_ingress_rule.go Read): arn, cidr_ipv4, description,
    # from_port, ip_protocol, security_group_id, security_group_rule_id, to_port, tags.
    rule = find_rule(provider.ec2, ingress_id)
    assert (rule["GroupId"], rule["IsEgress"], rule["IpProtocol"], rule["FromPort"], rule["ToPort"],
            rule["CidrIpv4"], rule["Description"]) == (bare["GroupId"], False, "tcp", 443, 443, "10.1.0.0/16", "https")
    assert rule["GroupOwnerId"] == ACCOUNT_1
    assert {"Key": "Name", "Value": "tf-rule"} in rule["Tags"]
    assert find_rule(provider.ec2, egress_id)["IsEgress"] is True
    # Update (… Update): ModifySecurityGroupRules with the whole new rule.
    provider.ec2.modify_security_group_rules(GroupId=bare["GroupId"], SecurityGroupRules=[{
        "SecurityGroupRuleId": ingress_id, "SecurityGroupRule": {
            "IpProtocol": "tcp", "FromPort": 8443, "ToPort": 8443, "CidrIpv4": "10.1.0.0/16", "Description": "alt"}}])
    assert (find_rule(provider.ec2, ingress_id)["FromPort"], find_rule(provider.ec2, ingress_id)["Description"]) == (8443, "alt")
    # Delete (… Delete): Revoke…(GroupId, SecurityGroupRuleIds).
    provider.ec2.revoke_security_group_ingress(GroupId=bare["GroupId"], SecurityGroupRuleIds=[ingress_id])
    provider.ec2.revoke_security_group_egress(GroupId=bare["GroupId"], SecurityGroupRuleIds=[egress_id])
    with pytest.raises(NotFound):
        find_rule(provider.ec2, ingress_id)

    for g in (group, bare):
        security_group_delete(provider, g["GroupId"])
    vpc_delete(provider, vpc.id)


def test_get_security_groups_for_vpc(provider):
    """What aws_ec2 data sources and the console call to list a VPC's usable groups."""
    vpc = vpc_create(provider, next_cidr())
    group = security_group_create(provider, vpc.id, "tf-listed", ingress=[], egress=[])
    out = provider.ec2.get_security_groups_for_vpc(VpcId=vpc.id)
    assert sorted((g["GroupName"], g["PrimaryVpcId"], g["OwnerId"]) for g in out["SecurityGroupForVpcs"]) == [
        ("default", vpc.id, ACCOUNT_1), ("tf-listed", vpc.id, ACCOUNT_1)]
    named = provider.ec2.get_security_groups_for_vpc(VpcId=vpc.id, Filters=filters(group_name="tf-listed"))
    assert [(g["GroupId"], g["Description"], g["Tags"]) for g in named["SecurityGroupForVpcs"]] == [
        (group["GroupId"], "Managed by Terraform", [{"Key": "Name", "Value": "tf-listed"}])]
    with pytest.raises(ClientError) as err:
        provider.ec2.get_security_groups_for_vpc(VpcId="vpc-0123456789abcdef0")
    assert code(err.value) == "InvalidVpcID.NotFound"
    security_group_delete(provider, group["GroupId"])
    vpc_delete(provider, vpc.id)


# --- aws_instance -------------------------------------------------------------------------

def an_image(ec2) -> str:
    images = ec2.describe_images(Owners=["amazon"], Filters=filters(architecture="x86_64"))["Images"]
    return next(i["ImageId"] for i in images if i["Name"].startswith("al2023"))


def find_instance(ec2, instance_id: str) -> dict:
    # find.go FindInstanceByID: DescribeInstances(InstanceIds); a terminated instance is
    # NotFound to the provider.
    reservations = not_found_on("InvalidInstanceID.NotFound")(
        lambda: ec2.describe_instances(InstanceIds=[instance_id])["Reservations"])()
    inst = single([i for r in reservations for i in r["Instances"]], instance_id)
    if inst["State"]["Name"] == "terminated":
        raise NotFound(instance_id)
    return inst


def instance_state(ec2, instance_id: str) -> tuple[dict, str]:
    # status.go StatusInstanceState: DescribeInstances, with terminated instances
    # included (the delete waiter's target).
    reservations = not_found_on("InvalidInstanceID.NotFound")(
        lambda: ec2.describe_instances(InstanceIds=[instance_id])["Reservations"])()
    inst = single([i for r in reservations for i in r["Instances"]], instance_id)
    return inst, inst["State"]["Name"]


def instance_create(c: Clients, subnet_id: str, group_ids: list[str], instance_type: str = "t3.micro",
                    user_data: str | None = None, disable_api_termination: bool = False,
                    name: str = "tf-instance") -> dict:
    # ec2_instance.go resourceInstanceCreate / buildInstanceOpts: RunInstances with a
    # ClientToken, CreditSpecification unlimited for t3 types, DisableApiTermination,
    # EbsOptimized false, Monitoring disabled, a NetworkInterfaces entry (device 0, the
    # subnet, the groups) because subnet_id is set, UserData base64, TagSpecifications;
    # WaitInstanceCreated (wait.go: Pending [pending], Target [running], 10 min); then
    # resourceInstanceUpdate for a new resource, which changes nothing unless configured;
    # then resourceInstanceRead. (The provider also sends Placement.AvailabilityZone ""
    # when no zone is configured: test_run_instances_with_an_empty_placement_zone.)
    kwargs: dict = {}
    if instance_type.startswith("t3"):
        kwargs["CreditSpecification"] = {"CpuCredits": "unlimited"}
    if user_data is not None:
        # The provider sends base64 (verify.Base64Encode); boto3 encodes the text itself,
        # so the wire carries the same value.
        kwargs["UserData"] = user_data
    out = c.ec2.run_instances(
        ClientToken=client_token(), ImageId=an_image(c.ec2), InstanceType=instance_type, MinCount=1, MaxCount=1,
        DisableApiTermination=disable_api_termination, EbsOptimized=False, Monitoring={"Enabled": False},
        NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": subnet_id, "Groups": group_ids}],
        TagSpecifications=tag_specs("instance", name), **kwargs)
    instance_id = out["Instances"][0]["InstanceId"]
    poll_until(lambda: instance_state(c.ec2, instance_id), ["pending"], ["running"], 600, "instance created")
    return instance_read(c, instance_id)


def user_data_hash(value: str) -> str:
    # ec2_instance.go userDataHashSum: sha1 of the base64-decoded user data.
    return hashlib.sha1(base64.b64decode(value)).hexdigest()


def instance_read(c: Clients, instance_id: str) -> dict:
    # ec2_instance.go resourceInstanceRead, in its order: FindInstanceByID;
    # FindInstanceTypeByName (DescribeInstanceTypes: BurstablePerformanceSupported);
    # flattenInstanceLaunchTemplate (DescribeTags, filters resource-id and key
    # aws:ec2launchtemplate:id); readSecurityGroups (DescribeVpcs: IsDefault);
    # readInstanceShutdownBehavior (DescribeInstanceAttribute); readBlockDevices
    # (DescribeVolumes of every EBS volume in BlockDeviceMappings: an error is fatal);
    # DescribeInstanceAttribute disableApiStop, disableApiTermination and userData;
    # FindInstanceCreditSpecificationByID (DescribeInstanceCreditSpecifications) for a
    # burstable type.
    ec2 = c.ec2
    inst = find_instance(ec2, instance_id)
    state: dict = {"id": instance_id, "instance_state": inst["State"]["Name"]}
    itype = single(ec2.describe_instance_types(InstanceTypes=[inst["InstanceType"]])["InstanceTypes"], "type")
    burstable = itype["BurstablePerformanceSupported"]
    placement = inst["Placement"]
    state.update(availability_zone=placement["AvailabilityZone"], placement_group=placement["GroupName"],
                 tenancy=placement["Tenancy"], cpu_core_count=inst["CpuOptions"]["CoreCount"],
                 cpu_threads_per_core=inst["CpuOptions"]["ThreadsPerCore"],
                 hibernation=inst["HibernationOptions"]["Configured"], enclave=inst["EnclaveOptions"]["Enabled"],
                 auto_recovery=inst["MaintenanceOptions"]["AutoRecovery"],
                 ami=inst["ImageId"], instance_type=inst["InstanceType"], private_ip=inst["PrivateIpAddress"],
                 private_dns=inst["PrivateDnsName"], public_ip=inst.get("PublicIpAddress"),
                 public_dns=inst["PublicDnsName"], ebs_optimized=inst["EbsOptimized"],
                 monitoring=inst["Monitoring"]["State"] in ("enabled", "pending"),
                 tags={t["Key"]: t["Value"] for t in inst["Tags"]})
    # flattenInstanceMetadataOptions
    meta = inst["MetadataOptions"]
    state["metadata_options"] = {k: meta[k] for k in ("HttpEndpoint", "HttpPutResponseHopLimit", "HttpTokens",
                                                       "InstanceMetadataTags")}
    state["private_dns_name_options"] = inst["PrivateDnsNameOptions"]
    # No launch template: the tag lookup finds nothing.
    assert ec2.describe_tags(Filters=filters(resource_id=instance_id, key="aws:ec2launchtemplate:id"))["Tags"] == []
    # The primary network interface (Attachment.DeviceIndex 0).
    primary = single([n for n in inst["NetworkInterfaces"] if n["Attachment"]["DeviceIndex"] == 0], "primary ENI")
    state.update(subnet_id=primary["SubnetId"], primary_network_interface_id=primary["NetworkInterfaceId"],
                 ipv6_address_count=len(primary["Ipv6Addresses"]), source_dest_check=primary["SourceDestCheck"],
                 associate_public_ip_address=primary.get("Association") is not None,
                 secondary_private_ips=[a["PrivateIpAddress"] for a in primary["PrivateIpAddresses"]
                                        if not a["Primary"]])
    vpc = single(ec2.describe_vpcs(VpcIds=[inst["VpcId"]])["Vpcs"], "vpc")
    state["vpc_security_group_ids"] = sorted(g["GroupId"] for g in inst["SecurityGroups"])
    state["security_groups"] = sorted(g["GroupName"] for g in inst["SecurityGroups"]) if vpc["IsDefault"] else []
    state["instance_initiated_shutdown_behavior"] = ec2.describe_instance_attribute(
        InstanceId=instance_id, Attribute="instanceInitiatedShutdownBehavior")["InstanceInitiatedShutdownBehavior"]["Value"]
    # readBlockDevicesFromInstance: the root block device is the one at RootDeviceName.
    by_volume = {m["Ebs"]["VolumeId"]: m for m in inst["BlockDeviceMappings"] if "Ebs" in m}
    volumes = ec2.describe_volumes(VolumeIds=list(by_volume))["Volumes"]
    assert sorted(v["VolumeId"] for v in volumes) == sorted(by_volume)
    state["ebs_block_device"] = []
    for vol in volumes:
        mapping = by_volume[vol["VolumeId"]]
        device = {"volume_id": vol["VolumeId"], "delete_on_termination": mapping["Ebs"]["DeleteOnTermination"],
                  "volume_size": vol["Size"], "volume_type": vol["VolumeType"], "iops": vol.get("Iops"),
                  "encrypted": vol["Encrypted"], "throughput": vol.get("Throughput"),
                  "device_name": mapping["DeviceName"], "tags": {t["Key"]: t["Value"] for t in vol.get("Tags", [])}}
        if mapping["DeviceName"] == inst["RootDeviceName"]:
            state["root_block_device"] = device
        else:
            state["ebs_block_device"].append(device | {"snapshot_id": vol["SnapshotId"]})
    state["disable_api_stop"] = ec2.describe_instance_attribute(
        InstanceId=instance_id, Attribute="disableApiStop")["DisableApiStop"]["Value"]
    state["disable_api_termination"] = ec2.describe_instance_attribute(
        InstanceId=instance_id, Attribute="disableApiTermination")["DisableApiTermination"]["Value"]
    user_data = ec2.describe_instance_attribute(InstanceId=instance_id, Attribute="userData")["UserData"]
    state["user_data"] = user_data_hash(user_data["Value"]) if user_data.get("Value") is not None else None
    if burstable:
        spec = single(ec2.describe_instance_credit_specifications(InstanceIds=[instance_id])[
            "InstanceCreditSpecifications"], "credit specification")
        state["credit_specification"] = {"cpu_credits": spec["CpuCredits"]}
    return state


def instance_stop_modify_start(c: Clients, instance_id: str, **attribute: dict) -> None:
    # ec2_instance.go modifyInstanceAttributeWithStopStart: StopInstance (StopInstances,
    # WaitInstanceStopped: Pending [pending running shutting-down stopped stopping],
    # Target [stopped], 10 min), ModifyInstanceAttribute, StartInstances,
    # WaitInstanceStarted (Pending [pending stopped], Target [running], 10 min).
    c.ec2.stop_instances(InstanceIds=[instance_id])
    poll_until(lambda: instance_state(c.ec2, instance_id), ["pending", "running", "shutting-down", "stopping"],
               ["stopped"], 600, "instance stopped")
    c.ec2.modify_instance_attribute(InstanceId=instance_id, **attribute)
    c.ec2.start_instances(InstanceIds=[instance_id])
    poll_until(lambda: instance_state(c.ec2, instance_id), ["pending", "stopped"], ["running"], 600,
               "instance started")


def instance_delete(c: Clients, instance_id: str) -> None:
    # ec2_instance.go resourceInstanceDelete: disableInstanceAPITermination(false)
    # (ModifyInstanceAttribute DisableApiTermination), then terminateInstance:
    # TerminateInstances (InvalidInstanceID.NotFound is success) and WaitInstanceDeleted
    # (Pending [pending running shutting-down stopping stopped], Target [terminated], 20 min).
    c.ec2.modify_instance_attribute(InstanceId=instance_id, DisableApiTermination={"Value": False})
    c.ec2.terminate_instances(InstanceIds=[instance_id])
    poll_until(lambda: instance_state(c.ec2, instance_id),
               ["pending", "running", "shutting-down", "stopping", "stopped"], ["terminated"], 1200,
               "instance deleted")


@pytest.fixture(scope="module")
def network(provider):
    """A VPC with a subnet and a group that allows port 80, for the resources that need one."""
    vpc = vpc_create(provider, next_cidr())
    subnets = [subnet_create(provider, vpc.id, vpc.cidr_block.replace("0.0/16", f"{i + 1}.0/24"), zone)
               for i, zone in enumerate(ZONES)]
    group = security_group_create(provider, vpc.id, "tf-web", ingress=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        egress=[DEFAULT_EGRESS])
    return {"vpc": vpc, "subnets": [s["SubnetId"] for s in subnets], "group": group["GroupId"]}


def test_aws_instance(provider, network):
    script = "#!/bin/bash\necho hello > /tmp/hello\n"
    state = instance_create(provider, network["subnets"][0], [network["group"]], user_data=script)
    assert state["instance_state"] == "running" and state["instance_type"] == "t3.micro"
    assert (state["availability_zone"], state["subnet_id"], state["tenancy"], state["placement_group"]) == (
        ZONES[0], network["subnets"][0], "default", "")
    assert state["vpc_security_group_ids"] == [network["group"]] and state["security_groups"] == []
    assert state["primary_network_interface_id"].startswith("eni-") and state["ipv6_address_count"] == 0
    assert state["source_dest_check"] is True and state["associate_public_ip_address"] is False
    assert state["secondary_private_ips"] == [] and state["ebs_optimized"] is False and state["monitoring"] is False
    assert (state["cpu_core_count"], state["cpu_threads_per_core"]) == (1, 2)
    assert state["hibernation"] is False and state["enclave"] is False and state["auto_recovery"] == "default"
    assert state["metadata_options"]["HttpEndpoint"] == "enabled"
    assert state["metadata_options"]["HttpPutResponseHopLimit"] >= 1
    assert state["tags"] == {"Name": "tf-instance"}
    root = state["root_block_device"]
    assert root["volume_id"].startswith("vol-") and root["delete_on_termination"] is True
    assert (root["device_name"], root["volume_size"], root["volume_type"], root["encrypted"]) == (
        "/dev/xvda", 8, "gp3", False)
    assert (root["iops"], root["throughput"]) == (3000, 125)
    assert state["ebs_block_device"] == []
    assert state["instance_initiated_shutdown_behavior"] == "stop"
    assert state["disable_api_stop"] is False and state["disable_api_termination"] is False
    assert state["user_data"] == hashlib.sha1(script.encode()).hexdigest()
    assert state["credit_specification"] == {"cpu_credits": "unlimited"}

    # Refresh finds the same root volume (its id is stable).
    assert instance_read(provider, state["id"])["root_block_device"]["volume_id"] == root["volume_id"]
    # The volume's own filters, as aws_instance's volume_tags and aws_ebs_volume data sources use them.
    found = provider.ec2.describe_volumes(Filters=filters(attachment__instance_id=state["id"],
                                                         attachment__device="/dev/xvda"))["Volumes"]
    assert [v["VolumeId"] for v in found] == [root["volume_id"]]

    # Update: instance_type (stop, modify, start), then disable_api_termination and
    # disable_api_stop (ModifyInstanceAttribute, no restart).
    instance_stop_modify_start(provider, state["id"], InstanceType={"Value": "t3.small"})
    provider.ec2.modify_instance_attribute(InstanceId=state["id"], DisableApiTermination={"Value": True})
    provider.ec2.modify_instance_attribute(InstanceId=state["id"], DisableApiStop={"Value": True})
    state = instance_read(provider, state["id"])
    assert state["instance_type"] == "t3.small" and state["instance_state"] == "running"
    assert state["disable_api_termination"] is True and state["disable_api_stop"] is True
    # What the attributes protect, with AWS's code.
    for call in (provider.ec2.terminate_instances, provider.ec2.stop_instances):
        with pytest.raises(ClientError) as err:
            call(InstanceIds=[state["id"]])
        assert code(err.value) == "OperationNotPermitted"
    provider.ec2.modify_instance_attribute(InstanceId=state["id"], DisableApiStop={"Value": False})

    instance_delete(provider, state["id"])
    # The root volume goes with the terminated instance.
    with pytest.raises(ClientError) as err:
        provider.ec2.describe_volumes(VolumeIds=[root["volume_id"]])
    assert code(err.value) == "InvalidVolume.NotFound"


def test_aws_instance_t2_credits_and_no_user_data(provider, network):
    state = instance_create(provider, network["subnets"][1], [network["group"]], instance_type="t2.micro")
    assert state["credit_specification"] == {"cpu_credits": "standard"}
    assert state["user_data"] is None  # userData answered without a Value when there is none
    # Update: credit_specification (ModifyInstanceCreditSpecification, no restart).
    out = provider.ec2.modify_instance_credit_specification(
        InstanceCreditSpecifications=[{"InstanceId": state["id"], "CpuCredits": "unlimited"}])
    assert out["SuccessfulInstanceCreditSpecifications"] == [{"InstanceId": state["id"]}]
    assert out["UnsuccessfulInstanceCreditSpecifications"] == []
    assert instance_read(provider, state["id"])["credit_specification"] == {"cpu_credits": "unlimited"}
    # Without InstanceIds, AWS lists the instances whose option is unlimited.
    listed = provider.ec2.describe_instance_credit_specifications()["InstanceCreditSpecifications"]
    assert {"InstanceId": state["id"], "CpuCredits": "unlimited"} in listed
    assert all(x["CpuCredits"] == "unlimited" for x in listed)
    instance_delete(provider, state["id"])


def test_credit_specifications_of_types_that_are_not_burstable(provider, network):
    state = instance_create(provider, network["subnets"][0], [network["group"]], instance_type="m5.large")
    assert "credit_specification" not in state  # the provider asks only when the type is burstable
    with pytest.raises(ClientError) as err:
        provider.ec2.describe_instance_credit_specifications(InstanceIds=[state["id"]])
    assert code(err.value) == "InstanceCreditSpecification.NotSupported"
    out = provider.ec2.modify_instance_credit_specification(
        InstanceCreditSpecifications=[{"InstanceId": state["id"], "CpuCredits": "unlimited"}])
    assert [u["Error"]["Code"] for u in out["UnsuccessfulInstanceCreditSpecifications"]] == [
        "InstanceCreditSpecification.NotSupported"]
    instance_delete(provider, state["id"])


def test_run_instances_with_an_empty_placement_zone(provider, network):
    out = provider.ec2.run_instances(ImageId=an_image(provider.ec2), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                     Placement={"AvailabilityZone": ""},
                                     NetworkInterfaces=[{"DeviceIndex": 0, "SubnetId": network["subnets"][0],
                                                         "Groups": [network["group"]]}])
    instance_delete(provider, out["Instances"][0]["InstanceId"])


# --- aws_ebs_volume and aws_volume_attachment ------------------------------------------------

def find_volume(ec2, volume_id: str) -> dict:
    # find.go findEBSVolumeByID: DescribeVolumes(VolumeIds).
    return single(not_found_on("InvalidVolume.NotFound")(
        lambda: ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"])(), volume_id)


def attachment_state(ec2, volume_id: str, instance_id: str, device: str) -> tuple[dict, str]:
    # status.go statusVolumeAttachment / find.go findVolumeAttachment: DescribeVolumes
    # with filters attachment.device, attachment.instance-id and volume-id.
    volumes = ec2.describe_volumes(Filters=filters(attachment__device=device, attachment__instance_id=instance_id,
                                                   volume_id=volume_id))["Volumes"]
    for vol in volumes:
        for att in vol["Attachments"]:
            if (att["Device"], att["InstanceId"]) == (device, instance_id):
                return att, att["State"]
    raise NotFound(volume_id)


def test_aws_ebs_volume_and_attachment(provider, network):
    inst = instance_create(provider, network["subnets"][0], [network["group"]])
    # ebs_volume.go resourceEBSVolumeCreate: CreateVolume(AvailabilityZone, Size, VolumeType,
    # TagSpecifications volume); waitVolumeCreated (Pending [creating], Target [available], 5 min).
    vol = provider.ec2.create_volume(AvailabilityZone=ZONES[0], Size=10, VolumeType="gp3",
                                     TagSpecifications=tag_specs("volume", "tf-data"))
    assert vol["State"] == "creating" and vol["Attachments"] == []
    vid = vol["VolumeId"]
    poll_until(lambda: (v := find_volume(provider.ec2, vid), v["State"]), ["creating"], ["available"], 300,
               "volume created")
    # Read (resourceEBSVolumeRead): arn, availability_zone, encrypted, iops, kms_key_id,
    # multi_attach_enabled, outpost_arn, size, snapshot_id, throughput, type, tags.
    v = find_volume(provider.ec2, vid)
    assert (v["AvailabilityZone"], v["Size"], v["VolumeType"], v["Iops"], v["Throughput"], v["Encrypted"],
            v["MultiAttachEnabled"], v["SnapshotId"]) == (ZONES[0], 10, "gp3", 3000, 125, False, False, "")
    assert v["VolumeArn"] == f"arn:aws:ec2:{REGION}:{ACCOUNT_1}:volume/{vid}"
    assert {"Key": "Name", "Value": "tf-data"} in v["Tags"]
    # ebs_volume_attachment.go resourceVolumeAttachmentCreate: AttachVolume(Device,
    # InstanceId, VolumeId), waitVolumeAttachmentCreated (Pending [attaching], Target
    # [attached], 5 min).
    att = provider.ec2.attach_volume(Device="/dev/sdf", InstanceId=inst["id"], VolumeId=vid)
    assert att["State"] == "attaching"
    poll_until(lambda: attachment_state(provider.ec2, vid, inst["id"], "/dev/sdf"), ["attaching"], ["attached"],
               300, "volume attached")
    assert find_volume(provider.ec2, vid)["State"] == "in-use"
    assert [d["device_name"] for d in instance_read(provider, inst["id"])["ebs_block_device"]] == ["/dev/sdf"]
    # AWS's errors for what the attachment forbids.
    with pytest.raises(ClientError) as err:
        provider.ec2.delete_volume(VolumeId=vid)
    assert code(err.value) == "VolumeInUse"
    other = provider.ec2.create_volume(AvailabilityZone=ZONES[1], Size=1)
    poll_until(lambda: (v := find_volume(provider.ec2, other["VolumeId"]), v["State"]), ["creating"], ["available"],
               300, "volume created")
    with pytest.raises(ClientError) as err:
        provider.ec2.attach_volume(Device="/dev/sdg", InstanceId=inst["id"], VolumeId=other["VolumeId"])
    assert code(err.value) == "InvalidVolume.ZoneMismatch"
    # resourceVolumeAttachmentDelete: DetachVolume(Device, InstanceId, VolumeId),
    # wait.go waitVolumeAttachmentDeleted (Pending [detaching], Target []: gone is done).
    assert provider.ec2.detach_volume(Device="/dev/sdf", InstanceId=inst["id"], VolumeId=vid)["State"] == "detaching"
    poll_until(lambda: attachment_state(provider.ec2, vid, inst["id"], "/dev/sdf"), ["detaching"], [],
               300, "volume detached")
    assert find_volume(provider.ec2, vid)["State"] == "available"
    with pytest.raises(ClientError) as err:
        provider.ec2.detach_volume(VolumeId=vid)
    assert code(err.value) == "IncorrectState"
    # resourceEBSVolumeDelete: DeleteVolume, waitVolumeDeleted (Pending [deleting], Target []).
    for volume_id in (vid, other["VolumeId"]):
        provider.ec2.delete_volume(VolumeId=volume_id)
        poll_until(lambda vid=volume_id: (v := find_volume(provider.ec2, vid), v["State"]), ["deleting"], [], 300,
                   "volume deleted")
    instance_delete(provider, inst["id"])


# --- aws_lb (network) ---------------------------------------------------------------------

def find_load_balancer(elb, arn: str) -> dict:
    # elbv2 find: findLoadBalancerByARN, DescribeLoadBalancers(LoadBalancerArns).
    return single(not_found_on("LoadBalancerNotFound")(
        lambda: elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"])(), arn)


def lb_name_from_arn(arn: str) -> str:
    # load_balancer.go loadBalancerNameFromARN: the last three parts of the resource.
    return "/".join(arn.split(":", 5)[5].split("/")[-3:])


def lb_create(c: Clients, name: str, subnets: list[str], cross_zone: bool = True) -> dict:
    # elbv2/load_balancer.go resourceLoadBalancerCreate: findLoadBalancer(Names [name]),
    # which must be NotFound ("already exists" otherwise); CreateLoadBalancer(Name, Type
    # network, Scheme internal, Subnets, IpAddressType ipv4, Tags); waitLoadBalancerActive
    # (Pending [provisioning failed], Target [active], 10 min); then
    # modifyLoadBalancerAttributes: ModifyLoadBalancerAttributes with the configured
    # attributes (here load_balancing.cross_zone.enabled).
    with pytest.raises(NotFound):
        single(not_found_on("LoadBalancerNotFound")(
            lambda: c.elb.describe_load_balancers(Names=[name])["LoadBalancers"])(), name)
    out = c.elb.create_load_balancer(Name=name, Type="network", Scheme="internal", Subnets=subnets,
                                     IpAddressType="ipv4", Tags=[{"Key": "Name", "Value": name}])
    arn = out["LoadBalancers"][0]["LoadBalancerArn"]
    poll_until(lambda: (lb := find_load_balancer(c.elb, arn), lb["State"]["Code"]), ["provisioning", "failed"],
               ["active"], 600, "load balancer active")
    c.elb.modify_load_balancer_attributes(LoadBalancerArn=arn, Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": str(cross_zone).lower()}])
    return lb_read(c, arn)


def lb_read(c: Clients, arn: str) -> dict:
    # resourceLoadBalancerRead: findLoadBalancerByARN, DescribeLoadBalancerAttributes, and
    # the tags (DescribeTags, ResourceArns). Sets arn, arn_suffix, dns_name, internal,
    # ip_address_type, load_balancer_type, name, security_groups, subnet_mapping
    # (flattenSubnetMappingsFromAvailabilityZones), subnets, vpc_id, zone_id, and the
    # attribute-backed arguments.
    lb = find_load_balancer(c.elb, arn)
    attrs = {a["Key"]: a["Value"] for a in c.elb.describe_load_balancer_attributes(LoadBalancerArn=arn)["Attributes"]}
    tags = single(c.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"], "tags")["Tags"]
    assert lb["DNSName"].endswith(f".elb.{REGION}.amazonaws.com") and lb["CanonicalHostedZoneId"]
    return {
        "arn": arn, "arn_suffix": lb_name_from_arn(arn), "dns_name": lb["DNSName"],
        "internal": lb["Scheme"] == "internal", "ip_address_type": lb["IpAddressType"],
        "load_balancer_type": lb["Type"], "name": lb["LoadBalancerName"],
        "security_groups": lb.get("SecurityGroups", []), "vpc_id": lb["VpcId"], "zone_id": lb["CanonicalHostedZoneId"],
        "subnets": sorted(z["SubnetId"] for z in lb["AvailabilityZones"]),
        "subnet_mapping": sorted((z["SubnetId"], z["ZoneName"]) for z in lb["AvailabilityZones"]),
        "enable_cross_zone_load_balancing": attrs["load_balancing.cross_zone.enabled"] == "true",
        "enable_deletion_protection": attrs["deletion_protection.enabled"] == "true",
        "access_logs_enabled": attrs["access_logs.s3.enabled"] == "true",
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def nlb_enis(ec2, arn: str) -> list[dict]:
    # tfec2.FindNetworkInterfacesByAttachmentInstanceOwnerIDAndDescription: filters
    # attachment.instance-owner-id = amazon-aws and description = "ELB <arn suffix>".
    return ec2.describe_network_interfaces(Filters=[
        {"Name": "attachment.instance-owner-id", "Values": ["amazon-aws"]},
        {"Name": "description", "Values": ["ELB " + lb_name_from_arn(arn)]}])["NetworkInterfaces"]


def lb_delete(c: Clients, arn: str) -> None:
    # resourceLoadBalancerDelete: DeleteLoadBalancer, then for a network load balancer
    # waitForNLBNetworkInterfacesToDetach: RetryUntilEqual(0) over nlb_enis, 5 min.
    c.elb.delete_load_balancer(LoadBalancerArn=arn)
    poll_until(lambda: (None, str(len(nlb_enis(c.ec2, arn)))), [str(n) for n in range(1, 10)], ["0"], 300,
               "NLB network interfaces detached")


def test_aws_lb_network(provider, network):
    state = lb_create(provider, "tf-nlb", network["subnets"][:2])
    assert state["load_balancer_type"] == "network" and state["internal"] is True
    assert state["ip_address_type"] == "ipv4" and state["vpc_id"] == network["vpc"].id
    assert state["arn_suffix"].startswith("net/tf-nlb/")
    assert state["subnets"] == sorted(network["subnets"][:2])
    assert state["enable_cross_zone_load_balancing"] is True and state["enable_deletion_protection"] is False
    assert state["tags"] == {"Name": "tf-nlb"}
    # Before the delete, the NLB's ENIs are there, one per zone, found the provider's way.
    enis = nlb_enis(provider.ec2, state["arn"])
    assert len(enis) == 2 and all(e["InterfaceType"] == "network_load_balancer" for e in enis)
    # Update: subnets (SetSubnets), ip_address_type (SetIpAddressType), attributes.
    provider.elb.set_subnets(LoadBalancerArn=state["arn"], Subnets=network["subnets"])
    assert provider.elb.set_ip_address_type(LoadBalancerArn=state["arn"], IpAddressType="ipv4")["IpAddressType"] == "ipv4"
    provider.elb.modify_load_balancer_attributes(LoadBalancerArn=state["arn"], Attributes=[
        {"Key": "load_balancing.cross_zone.enabled", "Value": "false"}])
    state = lb_read(provider, state["arn"])
    assert state["subnets"] == sorted(network["subnets"]) and state["enable_cross_zone_load_balancing"] is False
    lb_delete(provider, state["arn"])
    with pytest.raises(NotFound):
        find_load_balancer(provider.elb, state["arn"])


# --- aws_lb_target_group ------------------------------------------------------------------

def find_target_group(elb, arn: str) -> dict:
    # elbv2 findTargetGroupByARN: DescribeTargetGroups(TargetGroupArns).
    return single(not_found_on("TargetGroupNotFound")(
        lambda: elb.describe_target_groups(TargetGroupArns=[arn])["TargetGroups"])(), arn)


def tg_create(c: Clients, name: str, vpc_id: str, port: int = 80) -> dict:
    # elbv2/target_group.go resourceTargetGroupCreate: findTargetGroupByName
    # (DescribeTargetGroups Names), which must be NotFound; CreateTargetGroup(Name, Port,
    # Protocol TCP, VpcId, TargetType instance, the HealthCheck* arguments, Tags);
    # findTargetGroupByARN retried while new; ModifyTargetGroupAttributes with the
    # network target group's attributes (targetGroupAttributes.expand).
    with pytest.raises(NotFound):
        single(not_found_on("TargetGroupNotFound")(
            lambda: c.elb.describe_target_groups(Names=[name])["TargetGroups"])(), name)
    out = c.elb.create_target_group(
        Name=name, Port=port, Protocol="TCP", VpcId=vpc_id, TargetType="instance", IpAddressType="ipv4",
        HealthCheckEnabled=True, HealthCheckIntervalSeconds=30, HealthCheckPort="traffic-port",
        HealthCheckProtocol="TCP", HealthCheckTimeoutSeconds=10, HealthyThresholdCount=3, UnhealthyThresholdCount=3,
        Tags=[{"Key": "Name", "Value": name}])
    arn = out["TargetGroups"][0]["TargetGroupArn"]
    find_target_group(c.elb, arn)
    c.elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "300"},
        {"Key": "deregistration_delay.connection_termination.enabled", "Value": "false"},
        {"Key": "preserve_client_ip.enabled", "Value": "true"},
        {"Key": "proxy_protocol_v2.enabled", "Value": "false"},
        {"Key": "stickiness.enabled", "Value": "false"},
        {"Key": "stickiness.type", "Value": "source_ip"},
    ])
    return tg_read(c, arn)


def tg_read(c: Clients, arn: str) -> dict:
    # resourceTargetGroupRead: DescribeTargetGroups, DescribeTargetGroupAttributes, tags.
    # Sets arn, arn_suffix, health_check (flattenTargetGroupHealthCheck: enabled,
    # healthy_threshold, interval, port, protocol, timeout, unhealthy_threshold; matcher
    # and path only for HTTP(S)), ip_address_type, load_balancer_arns, name, port,
    # protocol, target_type, vpc_id, and the attribute-backed arguments.
    tg = find_target_group(c.elb, arn)
    attrs = {a["Key"]: a["Value"] for a in c.elb.describe_target_group_attributes(TargetGroupArn=arn)["Attributes"]}
    tags = single(c.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"], "tags")["Tags"]
    return {
        "arn": arn, "arn_suffix": arn.split(":", 5)[5], "name": tg["TargetGroupName"], "port": tg["Port"],
        "protocol": tg["Protocol"], "vpc_id": tg["VpcId"], "target_type": tg["TargetType"],
        "ip_address_type": tg["IpAddressType"], "load_balancer_arns": tg["LoadBalancerArns"],
        "health_check": {"enabled": tg["HealthCheckEnabled"], "healthy_threshold": tg["HealthyThresholdCount"],
                         "interval": tg["HealthCheckIntervalSeconds"], "port": tg["HealthCheckPort"],
                         "protocol": tg["HealthCheckProtocol"], "timeout": tg["HealthCheckTimeoutSeconds"],
                         "unhealthy_threshold": tg["UnhealthyThresholdCount"]},
        "deregistration_delay": attrs["deregistration_delay.timeout_seconds"],
        "proxy_protocol_v2": attrs["proxy_protocol_v2.enabled"] == "true",
        "preserve_client_ip": attrs["preserve_client_ip.enabled"],
        "connection_termination": attrs["deregistration_delay.connection_termination.enabled"] == "true",
        "stickiness": {"enabled": attrs["stickiness.enabled"] == "true", "type": attrs["stickiness.type"]},
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def tg_delete(c: Clients, arn: str) -> None:
    # resourceTargetGroupDelete: DeleteTargetGroup retried on ResourceInUse ("is currently
    # in use by a listener or a rule", 2 min), then RetryUntilNotFound on findTargetGroupByARN.
    retry_while_code(lambda: c.elb.delete_target_group(TargetGroupArn=arn), {"ResourceInUse"}, 120)
    retry_until_not_found(lambda: find_target_group(c.elb, arn), 120, "target group deleted")


def test_aws_lb_target_group(provider, network):
    state = tg_create(provider, "tf-tg", network["vpc"].id)
    assert (state["name"], state["port"], state["protocol"], state["target_type"], state["vpc_id"]) == (
        "tf-tg", 80, "TCP", "instance", network["vpc"].id)
    assert state["ip_address_type"] == "ipv4" and state["load_balancer_arns"] == []
    assert state["health_check"] == {"enabled": True, "healthy_threshold": 3, "interval": 30, "port": "traffic-port",
                                     "protocol": "TCP", "timeout": 10, "unhealthy_threshold": 3}
    assert state["deregistration_delay"] == "300" and state["proxy_protocol_v2"] is False
    assert state["preserve_client_ip"] == "true" and state["connection_termination"] is False
    assert state["stickiness"] == {"enabled": False, "type": "source_ip"}
    assert state["tags"] == {"Name": "tf-tg"}
    # Update: health_check (ModifyTargetGroup with every health check argument) and
    # deregistration_delay / proxy_protocol_v2 (ModifyTargetGroupAttributes).
    out = provider.elb.modify_target_group(
        TargetGroupArn=state["arn"], HealthCheckEnabled=True, HealthCheckIntervalSeconds=10,
        HealthCheckPort="traffic-port", HealthCheckProtocol="TCP", HealthCheckTimeoutSeconds=6,
        HealthyThresholdCount=2, UnhealthyThresholdCount=2)
    assert out["TargetGroups"][0]["HealthCheckIntervalSeconds"] == 10
    provider.elb.modify_target_group_attributes(TargetGroupArn=state["arn"], Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "30"},
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    state = tg_read(provider, state["arn"])
    assert state["health_check"] | {} == {"enabled": True, "healthy_threshold": 2, "interval": 10,
                                         "port": "traffic-port", "protocol": "TCP", "timeout": 6,
                                         "unhealthy_threshold": 2}
    assert state["deregistration_delay"] == "30" and state["proxy_protocol_v2"] is True
    tg_delete(provider, state["arn"])


# --- aws_lb_listener and aws_lb_target_group_attachment -------------------------------------

def find_listener(elb, arn: str) -> dict:
    # elbv2 findListenerByARN: DescribeListeners(ListenerArns).
    return single(not_found_on("ListenerNotFound")(
        lambda: elb.describe_listeners(ListenerArns=[arn])["Listeners"])(), arn)


def listener_create(c: Clients, lb_arn: str, tg_arn: str, port: int = 80) -> dict:
    # elbv2/listener.go resourceListenerCreate: CreateListener(LoadBalancerArn, Port,
    # Protocol TCP, DefaultActions [forward to the target group], Tags); then
    # resourceListenerRead (findListenerByARN retried while new).
    out = c.elb.create_listener(LoadBalancerArn=lb_arn, Port=port, Protocol="TCP",
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg_arn}],
                                Tags=[{"Key": "Name", "Value": "tf-listener"}])
    return listener_read(c, out["Listeners"][0]["ListenerArn"])


def listener_read(c: Clients, arn: str) -> dict:
    # resourceListenerRead: arn, load_balancer_arn, port, protocol, ssl_policy,
    # alpn_policy, default_action (flattenLbListenerActions: type, order, target_group_arn,
    # forward.target_group [arn, weight] and forward.stickiness), tags; and
    # DescribeListenerAttributes for tcp_idle_timeout_seconds of a TCP listener.
    listener = find_listener(c.elb, arn)
    action = single(listener["DefaultActions"], "default action")
    attrs = {a["Key"]: a["Value"] for a in c.elb.describe_listener_attributes(ListenerArn=arn)["Attributes"]}
    tags = single(c.elb.describe_tags(ResourceArns=[arn])["TagDescriptions"], "tags")["Tags"]
    return {
        "arn": arn, "load_balancer_arn": listener["LoadBalancerArn"], "port": listener["Port"],
        "protocol": listener["Protocol"], "ssl_policy": listener.get("SslPolicy"),
        "alpn_policy": listener.get("AlpnPolicy"),
        "default_action": {"type": action["Type"], "target_group_arn": action.get("TargetGroupArn"),
                           "forward": [(t["TargetGroupArn"], t.get("Weight"))
                                       for t in action.get("ForwardConfig", {}).get("TargetGroups", [])]},
        "tcp_idle_timeout_seconds": attrs.get("tcp.idle_timeout.seconds"),
        "tags": {t["Key"]: t["Value"] for t in tags},
    }


def listener_delete(c: Clients, arn: str) -> None:
    # resourceListenerDelete: DeleteListener (ListenerNotFound is success).
    try:
        c.elb.delete_listener(ListenerArn=arn)
    except ClientError as err:
        if code(err) != "ListenerNotFound":
            raise


def attachment_create(c: Clients, tg_arn: str, instance_id: str, port: int = 80) -> None:
    # elbv2/target_group_attachment.go resourceAttachmentCreate: RegisterTargets
    # (TargetGroupArn, Targets [{Id, Port}]) retried on InvalidTarget (10 min).
    retry_while_code(lambda: c.elb.register_targets(TargetGroupArn=tg_arn, Targets=[{"Id": instance_id, "Port": port}]),
                     {"InvalidTarget"}, 600)


def attachment_read(c: Clients, tg_arn: str, instance_id: str, port: int = 80) -> dict:
    # resourceAttachmentRead / findTargetHealthDescription: DescribeTargetHealth
    # (TargetGroupArn, Targets [{Id, Port}]); a description whose reason is
    # Target.NotRegistered or Target.DeregistrationInProgress is NotFound.
    out = c.elb.describe_target_health(TargetGroupArn=tg_arn, Targets=[{"Id": instance_id, "Port": port}])
    desc = single(out["TargetHealthDescriptions"], "target health")
    if desc["TargetHealth"].get("Reason") in ("Target.NotRegistered", "Target.DeregistrationInProgress"):
        raise NotFound(instance_id)
    return desc


def attachment_delete(c: Clients, tg_arn: str, instance_id: str, port: int = 80) -> None:
    # resourceAttachmentDelete: DeregisterTargets (TargetGroupNotFound is success).
    c.elb.deregister_targets(TargetGroupArn=tg_arn, Targets=[{"Id": instance_id, "Port": port}])


def test_aws_lb_listener_and_target_group_attachment(provider, network):
    inst = instance_create(provider, network["subnets"][0], [network["group"]], name="tf-target")
    tg = tg_create(provider, "tf-tg-l", network["vpc"].id)
    lb = lb_create(provider, "tf-nlb-l", network["subnets"])
    listener = listener_create(provider, lb["arn"], tg["arn"])
    assert (listener["load_balancer_arn"], listener["port"], listener["protocol"]) == (lb["arn"], 80, "TCP")
    assert listener["default_action"]["type"] == "forward"
    assert listener["default_action"]["target_group_arn"] == tg["arn"]
    assert listener["ssl_policy"] is None and listener["tcp_idle_timeout_seconds"] == "350"
    assert listener["tags"] == {"Name": "tf-listener"}
    assert tg_read(provider, tg["arn"])["load_balancer_arns"] == [lb["arn"]]
    # The target group cannot go while the listener uses it: the provider's delete retries.
    with pytest.raises(ClientError) as err:
        provider.elb.delete_target_group(TargetGroupArn=tg["arn"])
    assert code(err.value) == "ResourceInUse"

    attachment_create(provider, tg["arn"], inst["id"])
    desc = attachment_read(provider, tg["arn"], inst["id"])
    assert desc["Target"] == {"Id": inst["id"], "Port": 80, "AvailabilityZone": ZONES[0]}
    assert desc["TargetHealth"]["State"] in ("initial", "healthy", "unhealthy")

    # Update: port (ModifyListener) and tcp_idle_timeout_seconds (ModifyListenerAttributes).
    provider.elb.modify_listener(ListenerArn=listener["arn"], Port=8080, Protocol="TCP",
                                 DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["arn"]}])
    provider.elb.modify_listener_attributes(ListenerArn=listener["arn"], Attributes=[
        {"Key": "tcp.idle_timeout.seconds", "Value": "600"}])
    listener = listener_read(provider, listener["arn"])
    assert (listener["port"], listener["tcp_idle_timeout_seconds"]) == (8080, "600")

    # Destroy, in Terraform's reverse order.
    attachment_delete(provider, tg["arn"], inst["id"])
    with pytest.raises(NotFound):  # draining (Target.DeregistrationInProgress) reads as gone
        attachment_read(provider, tg["arn"], inst["id"])
    listener_delete(provider, listener["arn"])
    with pytest.raises(NotFound):
        find_listener(provider.elb, listener["arn"])
    lb_delete(provider, lb["arn"])
    tg_delete(provider, tg["arn"])
    instance_delete(provider, inst["id"])


# --- aws_vpc_endpoint_service and aws_vpc_endpoint_service_allowed_principal ------------------

def find_service(ec2, service_id: str) -> dict:
    # find.go findVPCEndpointServiceConfigurationByID: DescribeVpcEndpointServiceConfigurations
    # (ServiceIds); a configuration in state Deleted is NotFound.
    found = not_found_on("InvalidVpcEndpointServiceId.NotFound")(
        lambda: ec2.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"])()
    config = single(found, service_id)
    if config["ServiceState"] == "Deleted":
        raise NotFound(service_id)
    return config


def service_create(c: Clients, nlb_arns: list[str], acceptance_required: bool = True,
                   allowed_principals: list[str] = ()) -> dict:
    # vpc_endpoint_service.go resourceVPCEndpointServiceCreate:
    # CreateVpcEndpointServiceConfiguration(AcceptanceRequired, ClientToken,
    # NetworkLoadBalancerArns, TagSpecifications vpc-endpoint-service);
    # waitVPCEndpointServiceAvailable (Pending [Pending], Target [Available], 10 min, Delay
    # 5 s); then ModifyVpcEndpointServicePermissions(AddAllowedPrincipals) if configured.
    out = c.ec2.create_vpc_endpoint_service_configuration(
        AcceptanceRequired=acceptance_required, ClientToken=client_token(), NetworkLoadBalancerArns=nlb_arns,
        TagSpecifications=tag_specs("vpc-endpoint-service", "tf-service"))
    service_id = out["ServiceConfiguration"]["ServiceId"]
    poll_until(lambda: (s := find_service(c.ec2, service_id), s["ServiceState"]), ["Pending"], ["Available"], 600,
               "endpoint service available", delay=5)
    if allowed_principals:
        c.ec2.modify_vpc_endpoint_service_permissions(ServiceId=service_id, AddAllowedPrincipals=list(allowed_principals))
    return service_read(c, service_id)


def service_read(c: Clients, service_id: str) -> dict:
    # resourceVPCEndpointServiceRead: acceptance_required, arn, availability_zones,
    # base_endpoint_dns_names, gateway_load_balancer_arns, manages_vpc_endpoints,
    # network_load_balancer_arns, private_dns_name, private_dns_name_configuration,
    # service_name, service_type (ServiceType[0]), state, supported_ip_address_types, tags;
    # then findVPCEndpointServicePermissions (DescribeVpcEndpointServicePermissions) for
    # allowed_principals.
    s = find_service(c.ec2, service_id)
    perms = c.ec2.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"]
    return {
        "id": service_id, "acceptance_required": s["AcceptanceRequired"],
        "arn": f"arn:aws:ec2:{REGION}:{c.account}:vpc-endpoint-service/{service_id}",
        "availability_zones": sorted(s["AvailabilityZones"]), "base_endpoint_dns_names": s["BaseEndpointDnsNames"],
        "gateway_load_balancer_arns": s.get("GatewayLoadBalancerArns", []),
        "manages_vpc_endpoints": s["ManagesVpcEndpoints"],
        "network_load_balancer_arns": s.get("NetworkLoadBalancerArns", []),
        "private_dns_name": s.get("PrivateDnsName"), "service_name": s["ServiceName"],
        "service_type": s["ServiceType"][0]["ServiceType"], "state": s["ServiceState"],
        "supported_ip_address_types": s["SupportedIpAddressTypes"],
        "tags": {t["Key"]: t["Value"] for t in s.get("Tags", [])},
        "allowed_principals": sorted(p["Principal"] for p in perms),
    }


def service_delete(c: Clients, service_id: str) -> None:
    # resourceVPCEndpointServiceDelete: DeleteVpcEndpointServiceConfigurations(ServiceIds),
    # its Unsuccessful items an error (InvalidVpcEndpointServiceId.NotFound is success);
    # waitVPCEndpointServiceDeleted (Pending [Available Deleting], Target [], 10 min).
    out = c.ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service_id])
    failed = [u["Error"]["Code"] for u in out["Unsuccessful"]]
    assert failed in ([], ["InvalidVpcEndpointServiceId.NotFound"]), out["Unsuccessful"]
    poll_until(lambda: (s := find_service(c.ec2, service_id), s["ServiceState"]), ["Available", "Deleting"], [], 600,
               "endpoint service deleted", delay=5)


def find_service_permission(ec2, service_id: str, principal: str) -> dict:
    # vpc_endpoint_service_allowed_principal.go findVPCEndpointServicePermission:
    # DescribeVpcEndpointServicePermissions(ServiceId), matched by principal on the client
    # side (the API has no principal filter).
    perms = ec2.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"]
    return single([p for p in perms if p["Principal"] == principal], principal)


def allowed_principal_create(c: Clients, service_id: str, principal: str) -> str:
    # resourceVPCEndpointServiceAllowedPrincipalCreate: ModifyVpcEndpointServicePermissions
    # (ServiceId, AddAllowedPrincipals [arn]); the id is the permission's
    # ServicePermissionId, read back through findVPCEndpointServicePermission.
    out = c.ec2.modify_vpc_endpoint_service_permissions(ServiceId=service_id, AddAllowedPrincipals=[principal])
    assert out["ReturnValue"] is True
    perm = find_service_permission(c.ec2, service_id, principal)
    assert perm["ServicePermissionId"].startswith("vpce-svc-perm-")
    assert [(p["Principal"], p["ServicePermissionId"]) for p in out.get("AddedPrincipals", [])] in (
        [], [(principal, perm["ServicePermissionId"])])
    return perm["ServicePermissionId"]


def allowed_principal_delete(c: Clients, service_id: str, principal: str) -> None:
    # resourceVPCEndpointServiceAllowedPrincipalDelete: RemoveAllowedPrincipals.
    c.ec2.modify_vpc_endpoint_service_permissions(ServiceId=service_id, RemoveAllowedPrincipals=[principal])


@pytest.fixture(scope="module")
def service_nlb(provider, network):
    """An active NLB in all three subnets of the provider's network, for endpoint services."""
    lb = lb_create(provider, "tf-svc-nlb", network["subnets"], cross_zone=False)
    yield lb
    lb_delete(provider, lb["arn"])


CONSUMER_ROOT = f"arn:aws:iam::{ACCOUNT_2}:root"


def test_aws_vpc_endpoint_service_and_allowed_principal(provider, service_nlb):
    state = service_create(provider, [service_nlb["arn"]])
    assert state["acceptance_required"] is True and state["state"] == "Available"
    assert state["service_type"] == "Interface" and state["manages_vpc_endpoints"] is False
    assert state["service_name"] == f"com.amazonaws.vpce.{REGION}.{state['id']}"
    assert state["base_endpoint_dns_names"] == [f"{state['id']}.{REGION}.vpce.amazonaws.com"]
    assert state["availability_zones"] == ZONES and state["network_load_balancer_arns"] == [service_nlb["arn"]]
    assert state["gateway_load_balancer_arns"] == [] and state["supported_ip_address_types"] == ["ipv4"]
    assert state["tags"] == {"Name": "tf-service"} and state["allowed_principals"] == []

    perm_id = allowed_principal_create(provider, state["id"], CONSUMER_ROOT)
    assert find_service_permission(provider.ec2, state["id"], CONSUMER_ROOT)["ServicePermissionId"] == perm_id
    assert service_read(provider, state["id"])["allowed_principals"] == [CONSUMER_ROOT]
    # Update: acceptance_required (ModifyVpcEndpointServiceConfiguration, then the
    # Available waiter again).
    provider.ec2.modify_vpc_endpoint_service_configuration(ServiceId=state["id"], AcceptanceRequired=False)
    poll_until(lambda: (s := find_service(provider.ec2, state["id"]), s["ServiceState"]), ["Pending"], ["Available"],
               600, "endpoint service available", delay=5)
    assert service_read(provider, state["id"])["acceptance_required"] is False

    allowed_principal_delete(provider, state["id"], CONSUMER_ROOT)
    with pytest.raises(NotFound):
        find_service_permission(provider.ec2, state["id"], CONSUMER_ROOT)
    service_delete(provider, state["id"])
    with pytest.raises(NotFound):
        find_service(provider.ec2, state["id"])


# --- aws_vpc_endpoint (Interface) and aws_vpc_endpoint_connection_accepter ------------------

def find_endpoint(ec2, endpoint_id: str) -> dict:
    # find.go findVPCEndpointByID: DescribeVpcEndpoints(VpcEndpointIds); state deleted is NotFound.
    found = not_found_on("InvalidVpcEndpointId.NotFound")(
        lambda: ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"])()
    vpce = single(found, endpoint_id)
    if vpce["State"] == "deleted":
        raise NotFound(endpoint_id)
    return vpce


def find_service_by_name(ec2, service_name: str) -> dict:
    # find.go findVPCEndpointServiceConfigurationByServiceName:
    # DescribeVpcEndpointServiceConfigurations, filter service-name; exactly one.
    return single(ec2.describe_vpc_endpoint_service_configurations(
        Filters=filters(service_name=service_name))["ServiceConfigurations"], service_name)


def endpoint_create(c: Clients, vpc_id: str, service_name: str, subnet_ids: list[str], group_ids: list[str],
                    auto_accept: bool = False) -> dict:
    # vpc_endpoint.go resourceVPCEndpointCreate: CreateVpcEndpoint(VpcEndpointType
    # Interface, VpcId, ServiceName, SubnetIds, SecurityGroupIds, PrivateDnsEnabled false,
    # IpAddressType ipv4, DnsOptions {DnsRecordIpType ipv4}, ClientToken,
    # TagSpecifications vpc-endpoint). With auto_accept and a pendingAcceptance answer,
    # vpcEndpointAccept: findVPCEndpointServiceConfigurationByServiceName (the caller's
    # own service), AcceptVpcEndpointConnections, waitVPCEndpointAccepted (Pending
    # [pendingAcceptance], Target [available], Delay 5 s). Then waitVPCEndpointAvailable
    # (Pending [pending], Target [available pendingAcceptance], 10 min, Delay 5 s).
    out = c.ec2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=service_name, SubnetIds=subnet_ids,
        SecurityGroupIds=group_ids, PrivateDnsEnabled=False, IpAddressType="ipv4",
        DnsOptions={"DnsRecordIpType": "ipv4"}, ClientToken=client_token(),
        TagSpecifications=tag_specs("vpc-endpoint", "tf-endpoint"))
    vpce = out["VpcEndpoint"]
    endpoint_id = vpce["VpcEndpointId"]
    if auto_accept and vpce["State"] == "pendingAcceptance":
        config = find_service_by_name(c.ec2, vpce["ServiceName"])
        accepted = c.ec2.accept_vpc_endpoint_connections(ServiceId=config["ServiceId"], VpcEndpointIds=[endpoint_id])
        assert accepted["Unsuccessful"] == []
        poll_until(lambda: (e := find_endpoint(c.ec2, endpoint_id), e["State"]), ["pendingAcceptance"], ["available"],
                   600, "endpoint accepted", delay=5)
    poll_until(lambda: (e := find_endpoint(c.ec2, endpoint_id), e["State"]), ["pending"],
               ["available", "pendingAcceptance"], 600, "endpoint available", delay=5)
    return endpoint_read(c, endpoint_id)


def endpoint_read(c: Clients, endpoint_id: str) -> dict:
    # resourceVPCEndpointRead: arn, dns_entry (flattenDNSEntries: dns_name,
    # hosted_zone_id), dns_options, ip_address_type, network_interface_ids, owner_id,
    # private_dns_enabled, requester_managed, route_table_ids, security_group_ids,
    # service_name, state, subnet_ids, vpc_endpoint_type, vpc_id, policy, tags;
    # findPrefixListByName(service name) (DescribePrefixLists, filter prefix-list-name:
    # none for an endpoint service's name); findSubnetConfigurationsByNetworkInterfaceIDs
    # (DescribeNetworkInterfaces of each ENI: PrivateIpAddress, Ipv6Address, SubnetId).
    e = find_endpoint(c.ec2, endpoint_id)
    assert prefix_lists_named(c.ec2, e["ServiceName"]) == []
    subnet_configuration = []
    for eni_id in e["NetworkInterfaceIds"]:
        eni = single(c.ec2.describe_network_interfaces(NetworkInterfaceIds=[eni_id])["NetworkInterfaces"], eni_id)
        subnet_configuration.append((eni["SubnetId"], eni["PrivateIpAddress"], eni.get("Ipv6Address")))
    return {
        "id": endpoint_id, "arn": f"arn:aws:ec2:{REGION}:{e['OwnerId']}:vpc-endpoint/{endpoint_id}",
        "dns_entry": [(d["DnsName"], d["HostedZoneId"]) for d in e["DnsEntries"]],
        "dns_options": e["DnsOptions"], "ip_address_type": e["IpAddressType"],
        "network_interface_ids": e["NetworkInterfaceIds"], "owner_id": e["OwnerId"],
        "private_dns_enabled": e["PrivateDnsEnabled"], "requester_managed": e["RequesterManaged"],
        "route_table_ids": e.get("RouteTableIds", []), "security_group_ids": [g["GroupId"] for g in e["Groups"]],
        "service_name": e["ServiceName"], "state": e["State"], "subnet_ids": sorted(e["SubnetIds"]),
        "vpc_endpoint_type": e["VpcEndpointType"] or "Gateway", "vpc_id": e["VpcId"],
        "policy": e.get("PolicyDocument"), "tags": {t["Key"]: t["Value"] for t in e.get("Tags", [])},
        "subnet_configuration": sorted(subnet_configuration),
    }


def prefix_lists_named(ec2, name: str) -> list[dict]:
    """find.go findPrefixListByName: DescribePrefixLists, filter prefix-list-name (any
    error is the provider's error)."""
    return ec2.describe_prefix_lists(Filters=filters(prefix_list_name=name))["PrefixLists"]


def endpoint_delete(c: Clients, endpoint_id: str) -> None:
    # resourceVPCEndpointDelete: DeleteVpcEndpoints, its Unsuccessful items an error
    # (InvalidVpcEndpoint.NotFound is success); waitVPCEndpointDeleted (Pending [deleting
    # deleted], Target [], 10 min, Delay 5 s).
    out = c.ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
    assert out["Unsuccessful"] == []
    poll_until(lambda: (e := find_endpoint(c.ec2, endpoint_id), e["State"]), ["deleting", "deleted"], [], 600,
               "endpoint deleted", delay=5)


def find_connection(ec2, service_id: str, endpoint_id: str) -> dict:
    # find.go findVPCEndpointConnectionByServiceIDAndVPCEndpointID:
    # DescribeVpcEndpointConnections, filter service-id, matched by VpcEndpointId on the
    # client side; a connection in state deleted is NotFound.
    conns = ec2.describe_vpc_endpoint_connections(Filters=filters(service_id=service_id))["VpcEndpointConnections"]
    conn = single([x for x in conns if x["VpcEndpointId"] == endpoint_id], endpoint_id)
    if conn["VpcEndpointState"] == "deleted":
        raise NotFound(endpoint_id)
    return conn


def accepter_create(c: Clients, service_id: str, endpoint_id: str) -> dict:
    # vpc_endpoint_connection_accepter.go resourceVPCEndpointConnectionAccepterCreate:
    # AcceptVpcEndpointConnections(ServiceId, VpcEndpointIds); the id is
    # "<service id>_<endpoint id>"; waitVPCEndpointConnectionAccepted (Pending
    # [pendingAcceptance pending], Target [available], 10 min, Delay 5 s).
    out = c.ec2.accept_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[endpoint_id])
    assert out["Unsuccessful"] == []
    poll_until(lambda: (x := find_connection(c.ec2, service_id, endpoint_id), x["VpcEndpointState"]),
               ["pendingAcceptance", "pending"], ["available"], 600, "connection accepted", delay=5)
    return accepter_read(c, f"{service_id}_{endpoint_id}")


def accepter_read(c: Clients, accepter_id: str) -> dict:
    # resourceVPCEndpointConnectionAccepterRead: the id split at "_";
    # vpc_endpoint_service_id, vpc_endpoint_id, vpc_endpoint_state.
    service_id, endpoint_id = accepter_id.split("_")
    conn = find_connection(c.ec2, service_id, endpoint_id)
    return {"id": accepter_id, "vpc_endpoint_service_id": conn["ServiceId"], "vpc_endpoint_id": conn["VpcEndpointId"],
            "vpc_endpoint_state": conn["VpcEndpointState"]}


def accepter_delete(c: Clients, accepter_id: str) -> None:
    # resourceVPCEndpointConnectionAccepterDelete: RejectVpcEndpointConnections.
    service_id, endpoint_id = accepter_id.split("_")
    out = c.ec2.reject_vpc_endpoint_connections(ServiceId=service_id, VpcEndpointIds=[endpoint_id])
    assert out["Unsuccessful"] == []


def test_aws_vpc_endpoint_auto_accept_in_the_service_account(provider, network, service_nlb):
    """auto_accept accepts with the endpoint owner's own credentials: a service of the same account."""
    service = service_create(provider, [service_nlb["arn"]])
    vpce = endpoint_create(provider, network["vpc"].id, service["service_name"], network["subnets"],
                           [network["group"]], auto_accept=True)
    assert vpce["state"] == "available" and vpce["vpc_endpoint_type"] == "Interface"
    assert vpce["owner_id"] == ACCOUNT_1 and vpce["requester_managed"] is False
    assert vpce["private_dns_enabled"] is False and vpce["ip_address_type"] == "ipv4"
    assert vpce["dns_options"]["DnsRecordIpType"] == "ipv4"
    assert vpce["subnet_ids"] == sorted(network["subnets"]) and len(vpce["network_interface_ids"]) == 3
    assert vpce["security_group_ids"] == [network["group"]] and vpce["route_table_ids"] == []
    assert vpce["dns_entry"][0][0].startswith(vpce["id"] + "-") and len(vpce["dns_entry"]) == 4
    assert [s for s, _ip, _v6 in vpce["subnet_configuration"]] == sorted(network["subnets"])
    assert vpce["tags"] == {"Name": "tf-endpoint"}
    # Update: security_group_ids (ModifyVpcEndpoint Add/RemoveSecurityGroupIds, then the
    # Available waiter).
    extra = security_group_create(provider, network["vpc"].id, "tf-vpce-extra", ingress=[], egress=[])
    provider.ec2.modify_vpc_endpoint(VpcEndpointId=vpce["id"], AddSecurityGroupIds=[extra["GroupId"]])
    poll_until(lambda: (e := find_endpoint(provider.ec2, vpce["id"]), e["State"]), ["pending"],
               ["available", "pendingAcceptance"], 600, "endpoint available", delay=5)
    assert sorted(endpoint_read(provider, vpce["id"])["security_group_ids"]) == sorted([network["group"],
                                                                                        extra["GroupId"]])
    endpoint_delete(provider, vpce["id"])
    service_delete(provider, service["id"])
    security_group_delete(provider, extra["GroupId"])


@pytest.fixture(scope="module")
def consumer_network(consumer):
    vpc = vpc_create(consumer, "172.31.0.0/16")
    subnets = [subnet_create(consumer, vpc.id, f"172.31.{16 * i}.0/20", zone) for i, zone in enumerate(ZONES)]
    group = security_group_create(consumer, vpc.id, "tf-endpoint-sg", ingress=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}],
        egress=[DEFAULT_EGRESS])
    return {"vpc": vpc, "subnets": [s["SubnetId"] for s in subnets], "group": group["GroupId"]}


def test_aws_vpc_endpoint_and_connection_accepter_across_accounts(provider, consumer, service_nlb, consumer_network):
    service = service_create(provider, [service_nlb["arn"]], allowed_principals=[CONSUMER_ROOT])
    # Without auto_accept the endpoint waits in pendingAcceptance (a target of the waiter).
    vpce = endpoint_create(consumer, consumer_network["vpc"].id, service["service_name"],
                           consumer_network["subnets"], [consumer_network["group"]])
    assert vpce["state"] == "pendingAcceptance" and vpce["owner_id"] == ACCOUNT_2
    # With auto_accept, the consumer cannot find another account's service configuration:
    # the provider would fail there (no result for the service-name filter).
    with pytest.raises(NotFound):
        find_service_by_name(consumer.ec2, service["service_name"])
    accepter = accepter_create(provider, service["id"], vpce["id"])
    assert accepter == {"id": f"{service['id']}_{vpce['id']}", "vpc_endpoint_service_id": service["id"],
                        "vpc_endpoint_id": vpce["id"], "vpc_endpoint_state": "available"}
    # The consumer's refresh sees the endpoint available.
    assert endpoint_read(consumer, vpce["id"])["state"] == "available"
    # The service cannot go while the connection is there: DeleteVpcEndpointServiceConfigurations
    # answers an Unsuccessful item, which the provider reports.
    out = provider.ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[service["id"]])
    assert [u["Error"]["Code"] for u in out["Unsuccessful"]] == ["ExistingVpcEndpointConnections"]
    # Destroy: the accepter (reject), the endpoint (consumer), the service.
    accepter_delete(provider, accepter["id"])
    assert find_connection(provider.ec2, service["id"], vpce["id"])["VpcEndpointState"] == "rejected"
    endpoint_delete(consumer, vpce["id"])
    service_delete(provider, service["id"])


def test_describe_prefix_lists_by_endpoint_service_name(provider):
    """aws_vpc_endpoint's read looks a prefix list up by the service's name for every
    endpoint: none for an endpoint service, one (pl-…) for a Gateway service."""
    assert prefix_lists_named(provider.ec2, f"com.amazonaws.vpce.{REGION}.vpce-svc-0123456789abcdef0") == []
    s3 = prefix_lists_named(provider.ec2, f"com.amazonaws.{REGION}.s3")
    assert [p["PrefixListId"][:3] for p in s3] == ["pl-"] and s3[0]["Cidrs"]


# --- The whole lab, in Terraform's order ----------------------------------------------------

def test_the_privatelink_lab_as_terraform_applies_and_destroys_it(provider, consumer):
    """Both configurations of the seed lab (account 1 provides, account 2 consumes), applied
    in the order of Terraform's dependency graph, refreshed (a plan reads every resource and
    finds nothing changed), then destroyed in reverse, leaving nothing of the lab behind."""
    # terraform apply, provider configuration.
    vpc = vpc_create(provider, "172.31.0.0/16", enable_dns_hostnames=True)
    subnets = [subnet_create(provider, vpc.id, f"172.31.{16 * i}.0/20", zone, map_public_ip_on_launch=True)
               for i, zone in enumerate(ZONES)]
    subnet_ids = [s["SubnetId"] for s in subnets]
    web = security_group_create(provider, vpc.id, "demo-server-sg", ingress=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}],
        egress=[DEFAULT_EGRESS])
    instance = instance_create(provider, subnet_ids[0], [web["GroupId"]], name="demo-server-instance",
                               user_data="#!/bin/bash\ndnf install -y nginx && systemctl enable --now nginx\n")
    tg = tg_create(provider, "demo-service-tg", vpc.id)
    lb = lb_create(provider, "demo-service-nlb", subnet_ids, cross_zone=False)
    listener = listener_create(provider, lb["arn"], tg["arn"])
    attachment_create(provider, tg["arn"], instance["id"])
    service = service_create(provider, [lb["arn"]], acceptance_required=True)
    perm_id = allowed_principal_create(provider, service["id"], CONSUMER_ROOT)

    # terraform apply, consumer configuration (the service name is the provider's output).
    cvpc = vpc_create(consumer, "172.31.0.0/16", enable_dns_hostnames=True)
    csubnets = [subnet_create(consumer, cvpc.id, f"172.31.{16 * i}.0/20", zone)["SubnetId"]
                for i, zone in enumerate(ZONES)]
    cgroup = security_group_create(consumer, cvpc.id, "demo-endpoint-sg", ingress=[
        {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}],
        egress=[DEFAULT_EGRESS])
    vpce = endpoint_create(consumer, cvpc.id, service["service_name"], csubnets, [cgroup["GroupId"]])
    assert vpce["state"] == "pendingAcceptance"
    # Provider configuration again: the accepter, with the endpoint id the consumer output.
    accepter = accepter_create(provider, service["id"], vpce["id"])
    assert accepter["vpc_endpoint_state"] == "available"

    # terraform plan: every resource refreshed; nothing differs from what apply recorded.
    assert vpc_read(provider, vpc.id) == vpc and vpc.enable_dns_hostnames is True
    assert [subnet_read(provider, s)["MapPublicIpOnLaunch"] for s in subnet_ids] == [True, True, True]
    assert security_group_read(provider, web["GroupId"])["IpPermissions"] == web["IpPermissions"]
    again = instance_read(provider, instance["id"])
    assert {k: again[k] for k in ("root_block_device", "user_data", "credit_specification", "private_ip",
                                  "vpc_security_group_ids", "disable_api_termination")} == \
        {k: instance[k] for k in ("root_block_device", "user_data", "credit_specification", "private_ip",
                                  "vpc_security_group_ids", "disable_api_termination")}
    assert tg_read(provider, tg["arn"])["load_balancer_arns"] == [lb["arn"]]
    assert lb_read(provider, lb["arn"]) == lb
    assert listener_read(provider, listener["arn"]) == listener
    assert attachment_read(provider, tg["arn"], instance["id"])["Target"]["Id"] == instance["id"]
    assert service_read(provider, service["id"])["allowed_principals"] == [CONSUMER_ROOT]
    assert find_service_permission(provider.ec2, service["id"], CONSUMER_ROOT)["ServicePermissionId"] == perm_id
    assert endpoint_read(consumer, vpce["id"]) | {"state": "pendingAcceptance"} == vpce
    assert accepter_read(provider, accepter["id"]) == accepter

    # terraform destroy, consumer configuration first (its endpoint holds the service).
    endpoint_delete(consumer, vpce["id"])
    security_group_delete(consumer, cgroup["GroupId"])
    for s in csubnets:
        subnet_delete(consumer, s)
    vpc_delete(consumer, cvpc.id)
    # Then the provider configuration, in reverse order of creation. Destroy refreshes
    # first: the accepter of an endpoint that is gone (its connection deleted, or no longer
    # listed) reads as NotFound and leaves the state without a delete call.
    with pytest.raises(NotFound):
        accepter_read(provider, accepter["id"])
    allowed_principal_delete(provider, service["id"], CONSUMER_ROOT)
    service_delete(provider, service["id"])
    attachment_delete(provider, tg["arn"], instance["id"])
    listener_delete(provider, listener["arn"])
    lb_delete(provider, lb["arn"])
    tg_delete(provider, tg["arn"])
    instance_delete(provider, instance["id"])
    security_group_delete(provider, web["GroupId"])
    for s in subnet_ids:
        subnet_delete(provider, s)
    vpc_delete(provider, vpc.id)

    # Nothing of the lab is left in either account.
    for c, vpc_id in ((provider, vpc.id), (consumer, cvpc.id)):
        assert c.ec2.describe_network_interfaces(Filters=filters(vpc_id=vpc_id))["NetworkInterfaces"] == []
        assert c.ec2.describe_network_acls(Filters=filters(vpc_id=vpc_id))["NetworkAcls"] == []
        assert c.ec2.describe_vpcs(Filters=filters(vpc_id=vpc_id))["Vpcs"] == []
    assert [e for e in consumer.ec2.describe_vpc_endpoints()["VpcEndpoints"] if e["VpcEndpointId"] == vpce["id"]
            and e["State"] != "deleted"] == []
    assert provider.ec2.describe_volumes(Filters=filters(attachment__instance_id=instance["id"]))["Volumes"] == []


# --- What the replays rely on, answered as AWS does -------------------------------------------

def test_default_network_acl_is_stable_across_a_restart_and_follows_the_vpc_subnets(server):
    ec2 = server.client("ec2")
    vpc_id = ec2.create_vpc(CidrBlock="10.42.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc_id, CidrBlock=f"10.42.{i}.0/24", AvailabilityZone=z)["Subnet"]["SubnetId"]
               for i, z in enumerate(ZONES[:2])]
    acl = single(ec2.describe_network_acls(Filters=filters(vpc_id=vpc_id))["NetworkAcls"], "acl")
    assert acl["IsDefault"] is True and acl["OwnerId"] == ACCOUNT_1 and acl["Tags"] == []
    assert acl["Entries"] == [
        {"CidrBlock": "0.0.0.0/0", "Egress": True, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
        {"CidrBlock": "0.0.0.0/0", "Egress": True, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767},
        {"CidrBlock": "0.0.0.0/0", "Egress": False, "Protocol": "-1", "RuleAction": "allow", "RuleNumber": 100},
        {"CidrBlock": "0.0.0.0/0", "Egress": False, "Protocol": "-1", "RuleAction": "deny", "RuleNumber": 32767}]
    assert sorted(a["SubnetId"] for a in acl["Associations"]) == sorted(subnets)
    assert all(a["NetworkAclId"] == acl["NetworkAclId"] and a["NetworkAclAssociationId"].startswith("aclassoc-")
               for a in acl["Associations"])
    # The default VPC has its own; the filters AWS documents select among them.
    everything = ec2.describe_network_acls()["NetworkAcls"]
    assert len(everything) == 2 and all(a["IsDefault"] for a in everything)
    assert [a["NetworkAclId"] for a in ec2.describe_network_acls(
        NetworkAclIds=[acl["NetworkAclId"]])["NetworkAcls"]] == [acl["NetworkAclId"]]
    assert [a["VpcId"] for a in ec2.describe_network_acls(Filters=filters(
        association__subnet_id=subnets[1]))["NetworkAcls"]] == [vpc_id]
    assert ec2.describe_network_acls(Filters=filters(default="false"))["NetworkAcls"] == []
    for bad, wanted in (("acl-0123456789abcdef0", "InvalidNetworkAclID.NotFound"), ("acl-x", "InvalidNetworkAclID.Malformed")):
        with pytest.raises(ClientError) as err:
            ec2.describe_network_acls(NetworkAclIds=[bad])
        assert code(err.value) == wanted
    server.stop()
    server.start()
    ec2 = server.client("ec2")
    assert single(ec2.describe_network_acls(Filters=filters(vpc_id=vpc_id))["NetworkAcls"], "acl") == acl
    ec2.delete_subnet(SubnetId=subnets[0])
    after = single(ec2.describe_network_acls(Filters=filters(vpc_id=vpc_id))["NetworkAcls"], "acl")
    assert [a["SubnetId"] for a in after["Associations"]] == [subnets[1]]


def test_volumes_answer_aws_errors(provider, consumer, network):
    inst = instance_create(provider, network["subnets"][0], [network["group"]])
    root = inst["root_block_device"]["volume_id"]
    with pytest.raises(ClientError) as err:  # another account's volume is as missing
        consumer.ec2.describe_volumes(VolumeIds=[root])
    assert code(err.value) == "InvalidVolume.NotFound"
    with pytest.raises(ClientError) as err:
        provider.ec2.delete_volume(VolumeId=root)
    assert code(err.value) == "VolumeInUse"
    for bad, wanted in (("vol-0123456789abcdef0", "InvalidVolume.NotFound"), ("vol-nope", "InvalidVolumeID.Malformed")):
        with pytest.raises(ClientError) as err:
            provider.ec2.describe_volumes(VolumeIds=[bad])
        assert code(err.value) == wanted
    vol = provider.ec2.create_volume(AvailabilityZone=ZONES[0], Size=4, VolumeType="gp2")
    assert (vol["Iops"], vol.get("Throughput")) == (100, None)  # gp2: 3 IOPS a GiB, at least 100
    with pytest.raises(ClientError) as err:  # still creating
        provider.ec2.attach_volume(Device="/dev/sdh", InstanceId=inst["id"], VolumeId=vol["VolumeId"])
    assert code(err.value) == "IncorrectState"
    poll_until(lambda: (v := find_volume(provider.ec2, vol["VolumeId"]), v["State"]), ["creating"], ["available"],
               300, "volume created")
    with pytest.raises(ClientError) as err:  # the root device's name
        provider.ec2.attach_volume(Device="/dev/xvda", InstanceId=inst["id"], VolumeId=vol["VolumeId"])
    assert code(err.value) == "InvalidParameterValue"
    provider.ec2.attach_volume(Device="/dev/sdh", InstanceId=inst["id"], VolumeId=vol["VolumeId"])
    with pytest.raises(ClientError) as err:
        provider.ec2.attach_volume(Device="/dev/sdi", InstanceId=inst["id"], VolumeId=vol["VolumeId"])
    assert code(err.value) == "VolumeInUse"
    by_status = provider.ec2.describe_volumes(Filters=filters(status="in-use", attachment__instance_id=inst["id"]))
    assert sorted(v["VolumeId"] for v in by_status["Volumes"]) == sorted([root, vol["VolumeId"]])
    # Terminated, the instance takes its root volume; the attached one (DeleteOnTermination
    # false, AttachVolume's default) is available again.
    instance_delete(provider, inst["id"])
    assert find_volume(provider.ec2, vol["VolumeId"])["State"] == "available"
    assert find_volume(provider.ec2, vol["VolumeId"])["Attachments"] == []
    provider.ec2.delete_volume(VolumeId=vol["VolumeId"])


def test_instance_types_say_what_the_provider_reads(provider):
    out = provider.ec2.describe_instance_types(InstanceTypes=["t2.micro", "t3.micro", "t4g.micro", "m5.large"])
    info = {t["InstanceType"]: t for t in out["InstanceTypes"]}
    assert {n: t["BurstablePerformanceSupported"] for n, t in info.items()} == {
        "t2.micro": True, "t3.micro": True, "t4g.micro": True, "m5.large": False}
    t3 = info["t3.micro"]
    assert t3["ProcessorInfo"]["SupportedArchitectures"] == ["x86_64"]
    assert t3["VCpuInfo"] == {"DefaultVCpus": 2, "DefaultCores": 1, "DefaultThreadsPerCore": 2}
    assert t3["EbsInfo"]["EbsOptimizedSupport"] == "default" and t3["NetworkInfo"]["EnaSupport"] == "required"
    assert info["t2.micro"]["NetworkInfo"]["EnaSupport"] == "unsupported"
    burstable = provider.ec2.describe_instance_types(Filters=filters(burstable_performance_supported="true"),
                                                     MaxResults=100)["InstanceTypes"]
    assert burstable and all(t["InstanceType"].startswith(("t2.", "t3.", "t3a.", "t4g.")) for t in burstable)


def test_tags_of_a_volume(provider):
    vol = provider.ec2.create_volume(AvailabilityZone=ZONES[0], Size=1)
    try:
        provider.ec2.create_tags(Resources=[vol["VolumeId"]], Tags=[{"Key": "Name", "Value": "tf-data"}])
        tags = provider.ec2.describe_tags(Filters=filters(resource_id=vol["VolumeId"]))["Tags"]
        assert [(t["Key"], t["ResourceType"]) for t in tags] == [("Name", "volume")]
    finally:
        poll_until(lambda: (v := find_volume(provider.ec2, vol["VolumeId"]), v["State"]), ["creating"], ["available"],
                   300, "volume created")
        provider.ec2.delete_volume(VolumeId=vol["VolumeId"])


def test_run_instances_credit_specification(provider, network):
    out = provider.ec2.run_instances(ImageId=an_image(provider.ec2), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                                     CreditSpecification={"CpuCredits": "unlimited"}, SubnetId=network["subnets"][0])
    instance_id = out["Instances"][0]["InstanceId"]
    try:
        specs = provider.ec2.describe_instance_credit_specifications(InstanceIds=[instance_id])
        assert specs["InstanceCreditSpecifications"] == [{"InstanceId": instance_id, "CpuCredits": "unlimited"}]
    finally:
        provider.ec2.terminate_instances(InstanceIds=[instance_id])
