"""AWS::EC2::VPCEndpoint to AWS services, made by CloudFormation's provider against a
control plane of the test's own: CloudFormation's PrivateDnsEnabled default (false,
where the API's for AWS services is true) and a Gateway endpoint's routes."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.cfn_resources import ControlPlane, stack_ref
from vpclab.control.cloudformation import resources


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    cp = ControlPlane(tmp_path_factory.mktemp("state"))
    try:
        yield cp
    finally:
        cp.stop()


def create(plane, type_name, logical_id, props):
    return resources.provider(type_name).create(plane.api(ACCOUNT_1), logical_id, props, stack_ref(logical_id))


def delete(plane, type_name, physical_id, props):
    resources.provider(type_name).delete(plane.api(ACCOUNT_1), physical_id, props, stack_ref("X"))


def test_an_interface_endpoint_without_private_dns_enabled_gets_cloudformations_default(plane):
    # A new VPC: DNS hostnames off, so the API's own default (private DNS on) would fail.
    vpc_id = plane.call("CreateVpc", {"CidrBlock": "10.50.0.0/16"})["Vpc"]["VpcId"]
    subnet = plane.call("CreateSubnet", {"VpcId": vpc_id, "CidrBlock": "10.50.1.0/24",
                                         "AvailabilityZone": f"{REGION}a"})["Subnet"]["SubnetId"]
    props = {"VpcId": vpc_id, "ServiceName": f"com.amazonaws.{REGION}.ec2", "VpcEndpointType": "Interface",
             "SubnetIds": [subnet]}
    endpoint = create(plane, "AWS::EC2::VPCEndpoint", "Ec2Endpoint", props)
    [described] = plane.call("DescribeVpcEndpoints", {"VpcEndpointIds": [endpoint.physical_id]})["VpcEndpoints"]
    assert described["State"] == "available" and described["PrivateDnsEnabled"] is False
    delete(plane, "AWS::EC2::VPCEndpoint", endpoint.physical_id, props)


def test_a_gateway_endpoint_routes_its_prefix_list(plane):
    vpc_id = plane.call("CreateVpc", {"CidrBlock": "10.51.0.0/16"})["Vpc"]["VpcId"]
    table = plane.call("CreateRouteTable", {"VpcId": vpc_id})["RouteTable"]["RouteTableId"]
    props = {"VpcId": vpc_id, "ServiceName": f"com.amazonaws.{REGION}.s3", "RouteTableIds": [table]}
    endpoint = create(plane, "AWS::EC2::VPCEndpoint", "S3Endpoint", props)
    [pl] = plane.call("DescribePrefixLists", {"Filters": [{"Name": "prefix-list-name",
                                                           "Values": [f"com.amazonaws.{REGION}.s3"]}]})["PrefixLists"]
    [rt] = plane.call("DescribeRouteTables", {"RouteTableIds": [table]})["RouteTables"]
    assert {"DestinationPrefixListId": pl["PrefixListId"], "GatewayId": endpoint.physical_id,
            "Origin": "CreateRoute", "State": "active"} in rt["Routes"]
    delete(plane, "AWS::EC2::VPCEndpoint", endpoint.physical_id, props)
    [rt] = plane.call("DescribeRouteTables", {"RouteTableIds": [table]})["RouteTables"]
    assert all(r.get("GatewayId") != endpoint.physical_id for r in rt["Routes"])
