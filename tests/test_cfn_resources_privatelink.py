"""The seed lab's provider and consumer sides made by CloudFormation's providers (ELBv2,
PrivateLink, and the rest of EC2) against a control plane of the test's own: Ref and
GetAtt values, updates in place, the delete AWS refuses and the order that works."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.cfn_resources import ControlPlane, stack_ref
from vpclab.control.cloudformation import resources
from vpclab.control.cloudformation.resources import ResourceFailed


@pytest.fixture(scope="module")
def plane(tmp_path_factory):
    cp = ControlPlane(tmp_path_factory.mktemp("state"))
    try:
        yield cp
    finally:
        cp.stop()


def create(plane, type_name, logical_id, props, account=ACCOUNT_1):
    return resources.provider(type_name).create(plane.api(account), logical_id, props,
                                                stack_ref(logical_id, account=account))


def update(plane, type_name, physical_id, old, new, account=ACCOUNT_1):
    p = resources.provider(type_name)
    assert p.replaces(old, new) is False
    return p.update(plane.api(account), physical_id, old, new, stack_ref("X", account=account))


def delete(plane, type_name, physical_id, props, account=ACCOUNT_1):
    resources.provider(type_name).delete(plane.api(account), physical_id, props, stack_ref("X", account=account))


def default_subnets(plane, account):
    subnets = plane.call("DescribeSubnets", {"Filters": [{"Name": "default-for-az", "Values": ["true"]}]},
                         account=account)["Subnets"]
    return sorted(subnets, key=lambda s: s["AvailabilityZone"])


def test_provider_and_consumer_sides_of_the_lab(plane):
    subnets = default_subnets(plane, ACCOUNT_1)
    vpc = subnets[0]["VpcId"]
    image = plane.call("DescribeImages", {"Owners": ["amazon"]})["Images"][0]["ImageId"]
    web = create(plane, "AWS::EC2::Instance", "Web", {"ImageId": image, "InstanceType": "t3.micro",
                                                       "SubnetId": subnets[0]["SubnetId"]}).physical_id

    tg_props = {"Protocol": "TCP", "Port": "80", "VpcId": vpc, "TargetType": "instance",
                "Targets": [{"Id": web, "Port": 80}],
                "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]}
    tg = create(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", "Tg", tg_props)
    assert tg.physical_id.startswith(f"arn:aws:elasticloadbalancing:ap-south-1:{ACCOUNT_1}:targetgroup/labstack-Tg-")
    assert tg.attributes["TargetGroupFullName"] == "targetgroup/" + tg.physical_id.split(":targetgroup/")[1]
    assert tg.attributes["TargetGroupName"] == tg.physical_id.split("/")[1]
    assert len(tg.attributes["TargetGroupName"]) <= 32
    health = plane.call("DescribeTargetHealth", {"TargetGroupArn": tg.physical_id}, service="elbv2")
    assert [d["Target"]["Id"] for d in health["TargetHealthDescriptions"]] == [web]
    attrs = plane.call("DescribeTargetGroupAttributes", {"TargetGroupArn": tg.physical_id}, service="elbv2")
    assert {"Key": "deregistration_delay.timeout_seconds", "Value": "0"} in attrs["Attributes"]

    nlb_props = {"Name": "demo-service-nlb", "Type": "network", "Scheme": "internal",
                 "Subnets": [s["SubnetId"] for s in subnets]}
    nlb = create(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", "Nlb", nlb_props)
    [lb] = plane.call("DescribeLoadBalancers", {"LoadBalancerArns": [nlb.physical_id]}, service="elbv2")[
        "LoadBalancers"]
    assert lb["State"]["Code"] == "active"  # create waited for it
    assert nlb.attributes["DNSName"] == lb["DNSName"]
    assert nlb.attributes["CanonicalHostedZoneID"] == lb["CanonicalHostedZoneId"]
    assert nlb.attributes["LoadBalancerFullName"] == "net/demo-service-nlb/" + nlb.physical_id.rsplit("/", 1)[1]
    assert nlb.attributes["LoadBalancerName"] == "demo-service-nlb"
    tags = plane.call("DescribeTags", {"ResourceArns": [nlb.physical_id]}, service="elbv2")["TagDescriptions"][0]
    assert {"Key": "aws:cloudformation:logical-id", "Value": "Nlb"} in tags["Tags"]

    listener_props = {"LoadBalancerArn": nlb.physical_id, "Port": 80, "Protocol": "TCP",
                      "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg.physical_id}]}
    listener = create(plane, "AWS::ElasticLoadBalancingV2::Listener", "Listener", listener_props)
    assert listener.physical_id.startswith(
        f"arn:aws:elasticloadbalancing:ap-south-1:{ACCOUNT_1}:listener/net/demo-service-nlb/")
    assert listener.attributes == {"ListenerArn": listener.physical_id}
    assert resources.provider("AWS::ElasticLoadBalancingV2::Listener").replaces(
        listener_props, {**listener_props, "LoadBalancerArn": "arn:other"})

    # Target group: health check and attributes change in place (same ARN); the port replaces.
    new_tg = {**tg_props, "HealthCheckIntervalSeconds": 20,
              "TargetGroupAttributes": [{"Key": "deregistration_delay.timeout_seconds", "Value": "30"}]}
    assert update(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", tg.physical_id, tg_props, new_tg
                  ).physical_id == tg.physical_id
    [group] = plane.call("DescribeTargetGroups", {"TargetGroupArns": [tg.physical_id]}, service="elbv2")[
        "TargetGroups"]
    assert group["HealthCheckIntervalSeconds"] == 20
    assert group["LoadBalancerArns"] == [nlb.physical_id]
    assert resources.provider("AWS::ElasticLoadBalancingV2::TargetGroup").replaces(tg_props, {**tg_props, "Port": 81})

    service_props = {"AcceptanceRequired": True, "NetworkLoadBalancerArns": [nlb.physical_id]}
    service = create(plane, "AWS::EC2::VPCEndpointService", "Service", service_props)
    service_id = service.physical_id
    assert service_id.startswith("vpce-svc-") and service.attributes["ServiceId"] == service_id
    service_name = f"com.amazonaws.vpce.ap-south-1.{service_id}"
    assert service.attributes["ServiceName"] == service_name
    principal = f"arn:aws:iam::{ACCOUNT_2}:root"
    perms = create(plane, "AWS::EC2::VPCEndpointServicePermissions", "Perms",
                   {"ServiceId": service_id, "AllowedPrincipals": [principal]})
    assert perms.physical_id == service_id
    allowed = plane.call("DescribeVpcEndpointServicePermissions", {"ServiceId": service_id})["AllowedPrincipals"]
    assert [p["Principal"] for p in allowed] == [principal]

    # The consumer's endpoint waits for pendingAcceptance: accepting is the provider's call.
    consumer = default_subnets(plane, ACCOUNT_2)
    sg = create(plane, "AWS::EC2::SecurityGroup", "EndpointSg", {
        "GroupDescription": "endpoint", "VpcId": consumer[0]["VpcId"],
        "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "172.31.0.0/16"}]},
        ACCOUNT_2).physical_id
    endpoint_props = {"VpcId": consumer[0]["VpcId"], "ServiceName": service_name, "VpcEndpointType": "Interface",
                      "SubnetIds": [s["SubnetId"] for s in consumer], "SecurityGroupIds": [sg]}
    endpoint = create(plane, "AWS::EC2::VPCEndpoint", "Endpoint", endpoint_props, ACCOUNT_2)
    [described] = plane.call("DescribeVpcEndpoints", {"VpcEndpointIds": [endpoint.physical_id]},
                             account=ACCOUNT_2)["VpcEndpoints"]
    assert described["State"] == "pendingAcceptance"
    assert endpoint.attributes["Id"] == endpoint.physical_id
    assert endpoint.attributes["DnsEntries"] == [f"{e['HostedZoneId']}:{e['DnsName']}"
                                                 for e in described["DnsEntries"]]
    assert endpoint.attributes["DnsEntries"][0].split(":")[1].startswith(endpoint.physical_id + "-")
    assert sorted(endpoint.attributes["NetworkInterfaceIds"]) == sorted(described["NetworkInterfaceIds"])
    assert len(endpoint.attributes["NetworkInterfaceIds"]) == 3
    assert endpoint.attributes["CreationTimestamp"] == described["CreationTimestamp"]

    # The endpoint service with a connection: AWS refuses, and the reason says why.
    with pytest.raises(ResourceFailed) as err:
        delete(plane, "AWS::EC2::VPCEndpointService", service_id, service_props)
    assert "Service has existing active VPC Endpoint connections!" in err.value.reason
    assert "HandlerErrorCode: ResourceConflict" in err.value.reason

    # Acceptance and permissions change in place.
    update(plane, "AWS::EC2::VPCEndpointService", service_id, service_props,
           {**service_props, "AcceptanceRequired": "false"})
    [config] = plane.call("DescribeVpcEndpointServiceConfigurations", {"ServiceIds": [service_id]})[
        "ServiceConfigurations"]
    assert config["AcceptanceRequired"] is False
    update(plane, "AWS::EC2::VPCEndpointServicePermissions", service_id,
           {"ServiceId": service_id, "AllowedPrincipals": [principal]}, {"ServiceId": service_id,
                                                                         "AllowedPrincipals": []})
    assert plane.call("DescribeVpcEndpointServicePermissions", {"ServiceId": service_id})["AllowedPrincipals"] == []

    # The listener's default action changes in place.
    other_tg = create(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", "Tg2",
                      {"Protocol": "TCP", "Port": 80, "VpcId": vpc})
    new_listener = {**listener_props, "DefaultActions": [{"Type": "forward", "TargetGroupArn": other_tg.physical_id}]}
    assert update(plane, "AWS::ElasticLoadBalancingV2::Listener", listener.physical_id, listener_props,
                  new_listener).physical_id == listener.physical_id
    [described_listener] = plane.call("DescribeListeners", {"ListenerArns": [listener.physical_id]},
                                      service="elbv2")["Listeners"]
    assert described_listener["DefaultActions"][0]["TargetGroupArn"] == other_tg.physical_id

    # Deleting in reverse order works: the consumer first, then the provider.
    delete(plane, "AWS::EC2::VPCEndpoint", endpoint.physical_id, endpoint_props, ACCOUNT_2)
    left = plane.call("DescribeVpcEndpoints", {"Filters": [{"Name": "vpc-endpoint-id", "Values": [
        endpoint.physical_id]}]}, account=ACCOUNT_2)["VpcEndpoints"]
    assert [e["State"] for e in left] in ([], ["deleted"])  # the delete waited for it
    delete(plane, "AWS::EC2::SecurityGroup", sg, {"VpcId": consumer[0]["VpcId"]}, ACCOUNT_2)
    delete(plane, "AWS::EC2::VPCEndpointServicePermissions", service_id, {"ServiceId": service_id})
    delete(plane, "AWS::EC2::VPCEndpointService", service_id, service_props)
    delete(plane, "AWS::EC2::VPCEndpointService", service_id, service_props)  # gone already
    delete(plane, "AWS::ElasticLoadBalancingV2::Listener", listener.physical_id, new_listener)
    delete(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", nlb.physical_id, nlb_props)
    assert plane.call("DescribeNetworkInterfaces", {"Filters": [{"Name": "description", "Values": [
        f"ELB {nlb.attributes['LoadBalancerFullName']}"]}]})["NetworkInterfaces"] == []
    for arn in (tg.physical_id, other_tg.physical_id):
        delete(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", arn, {})
    delete(plane, "AWS::EC2::Instance", web, {})
    delete(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", nlb.physical_id, nlb_props)  # gone already


def test_target_group_in_use_fails_to_delete_with_the_aws_reason(plane):
    subnets = default_subnets(plane, ACCOUNT_1)
    tg = create(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", "Used",
                {"Protocol": "TCP", "Port": 80, "VpcId": subnets[0]["VpcId"]}).physical_id
    nlb = create(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", "UsedNlb", {
        "Type": "network", "Subnets": [subnets[0]["SubnetId"]]}).physical_id
    listener = create(plane, "AWS::ElasticLoadBalancingV2::Listener", "L", {
        "LoadBalancerArn": nlb, "Port": 81, "Protocol": "TCP",
        "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg}]}).physical_id
    with pytest.raises(ResourceFailed) as err:
        delete(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", tg, {})
    assert f"Target group '{tg}' is currently in use by a listener or a rule" in err.value.reason
    assert "(Service: ElasticLoadBalancingV2, Status Code: 400" in err.value.reason
    delete(plane, "AWS::ElasticLoadBalancingV2::Listener", listener, {})
    delete(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", nlb, {})
    delete(plane, "AWS::ElasticLoadBalancingV2::TargetGroup", tg, {})


def test_internet_gateway_route_table_route_association_and_elastic_ip(plane):
    vpc = create(plane, "AWS::EC2::VPC", "V", {"CidrBlock": "10.60.0.0/16"}).physical_id
    subnet = create(plane, "AWS::EC2::Subnet", "S", {"VpcId": vpc, "CidrBlock": "10.60.1.0/24"}).physical_id
    igw = create(plane, "AWS::EC2::InternetGateway", "Igw", {}).physical_id
    assert igw.startswith("igw-")
    attach_props = {"VpcId": vpc, "InternetGatewayId": igw}
    attachment = create(plane, "AWS::EC2::VPCGatewayAttachment", "Attach", attach_props)
    assert attachment.physical_id == f"IGW|{vpc}"
    table = create(plane, "AWS::EC2::RouteTable", "Rt", {"VpcId": vpc}).physical_id
    route_props = {"RouteTableId": table, "DestinationCidrBlock": "0.0.0.0/0", "GatewayId": igw}
    route = create(plane, "AWS::EC2::Route", "Default", route_props)
    assert route.physical_id == f"{table}|0.0.0.0/0" and route.attributes["CidrBlock"] == "0.0.0.0/0"
    assert resources.provider("AWS::EC2::Route").replaces(route_props, {**route_props,
                                                                        "DestinationCidrBlock": "10.0.0.0/8"})
    assoc = create(plane, "AWS::EC2::SubnetRouteTableAssociation", "Assoc",
                   {"SubnetId": subnet, "RouteTableId": table}).physical_id
    assert assoc.startswith("rtbassoc-")
    [described] = plane.call("DescribeRouteTables", {"RouteTableIds": [table]})["RouteTables"]
    assert {"0.0.0.0/0": igw}.items() <= {r["DestinationCidrBlock"]: r.get("GatewayId") for r in
                                          described["Routes"]}.items()
    assert [a["SubnetId"] for a in described["Associations"]] == [subnet]

    eip = create(plane, "AWS::EC2::EIP", "Ip", {"Domain": "vpc"})
    assert eip.physical_id == eip.attributes["PublicIp"] and eip.attributes["AllocationId"].startswith("eipalloc-")
    eni = create(plane, "AWS::EC2::NetworkInterface", "Eni", {"SubnetId": subnet, "Description": "cfn"})
    assert eni.physical_id.startswith("eni-") and eni.attributes["PrimaryPrivateIpAddress"].startswith("10.60.1.")
    association = create(plane, "AWS::EC2::EIPAssociation", "IpAssoc", {
        "AllocationId": eip.attributes["AllocationId"], "NetworkInterfaceId": eni.physical_id}).physical_id
    assert association.startswith("eipassoc-")
    [address] = plane.call("DescribeAddresses", {"PublicIps": [eip.physical_id]})["Addresses"]
    assert address["NetworkInterfaceId"] == eni.physical_id

    delete(plane, "AWS::EC2::EIPAssociation", association, {})
    delete(plane, "AWS::EC2::EIP", eip.physical_id, {})
    assert plane.call("DescribeAddresses", {"Filters": [{"Name": "public-ip", "Values": [eip.physical_id]}]})[
        "Addresses"] == []
    delete(plane, "AWS::EC2::NetworkInterface", eni.physical_id, {})
    delete(plane, "AWS::EC2::SubnetRouteTableAssociation", assoc, {})
    delete(plane, "AWS::EC2::Route", route.physical_id, route_props)
    delete(plane, "AWS::EC2::RouteTable", table, {})
    delete(plane, "AWS::EC2::VPCGatewayAttachment", attachment.physical_id, attach_props)
    delete(plane, "AWS::EC2::VPCGatewayAttachment", attachment.physical_id, attach_props)  # detached already
    delete(plane, "AWS::EC2::InternetGateway", igw, {})
    delete(plane, "AWS::EC2::Subnet", subnet, {})
    delete(plane, "AWS::EC2::VPC", vpc, {})


def test_key_pair_and_connection_notification(plane):
    key = create(plane, "AWS::EC2::KeyPair", "Key", {"KeyName": "cfn-key"})
    assert key.physical_id == "cfn-key" and key.attributes["KeyPairId"].startswith("key-")
    assert key.attributes["KeyFingerprint"]
    delete(plane, "AWS::EC2::KeyPair", "cfn-key", {})
    assert plane.call("DescribeKeyPairs", {"Filters": [{"Name": "key-name", "Values": ["cfn-key"]}]})[
        "KeyPairs"] == []

    subnets = default_subnets(plane, ACCOUNT_1)
    nlb = create(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", "NfnNlb", {
        "Type": "network", "Subnets": [subnets[1]["SubnetId"]]}).physical_id
    service = create(plane, "AWS::EC2::VPCEndpointService", "NfnService",
                     {"NetworkLoadBalancerArns": [nlb]}).physical_id
    topic = f"arn:aws:sns:ap-south-1:{ACCOUNT_1}:endpoint-events"
    props = {"ServiceId": service, "ConnectionNotificationArn": topic, "ConnectionEvents": ["Connect", "Accept"]}
    notification = create(plane, "AWS::EC2::VPCEndpointConnectionNotification", "Nfn", props).physical_id
    assert notification.startswith("vpce-nfn-")
    update(plane, "AWS::EC2::VPCEndpointConnectionNotification", notification, props,
           {**props, "ConnectionEvents": ["Reject"]})
    [described] = plane.call("DescribeVpcEndpointConnectionNotifications", {
        "ConnectionNotificationId": notification})["ConnectionNotificationSet"]
    assert described["ConnectionEvents"] == ["Reject"]
    delete(plane, "AWS::EC2::VPCEndpointConnectionNotification", notification, props)
    delete(plane, "AWS::EC2::VPCEndpointService", service, {})
    delete(plane, "AWS::ElasticLoadBalancingV2::LoadBalancer", nlb, {})
