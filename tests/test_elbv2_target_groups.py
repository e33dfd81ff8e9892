"""Target groups, targets and target health through real boto3."""
from __future__ import annotations

import time

import pytest

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.elbv2 import default_subnets, default_vpc, nlb, run_instance, tcp_group, unique, wait_active
from tests.helpers.errors import error_of


@pytest.fixture
def elb(shared_server):
    return shared_server.client("elbv2")


@pytest.fixture
def elb_2(shared_server):
    return shared_server.client("elbv2", ACCOUNT_2)


@pytest.fixture
def raw_elb(shared_server):
    """A client that does not check parameters itself, so that the server's checks show."""
    import boto3
    from botocore.config import Config
    return boto3.client("elbv2", endpoint_url=shared_server.url, region_name="ap-south-1",
                        aws_access_key_id="111111111111", aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, parameter_validation=False))


@pytest.fixture(scope="module")
def vpc_id(shared_server):
    return default_vpc(shared_server.client("ec2"))


def _health(elb, tg_arn, **kwargs):
    return elb.describe_target_health(TargetGroupArn=tg_arn, **kwargs)["TargetHealthDescriptions"]


def _attrs(elb, tg_arn):
    return {a["Key"]: a["Value"] for a in elb.describe_target_group_attributes(TargetGroupArn=tg_arn)["Attributes"]}


def _ip_in(subnet: dict, host: int) -> str:
    first, second, third, _ = subnet["CidrBlock"].split("/")[0].split(".")
    return f"{first}.{second}.{int(third) + 1}.{host}"


# Create ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a" * 33, "bad_name", "-lead", "trail-", ""])
def test_invalid_target_group_names(elb, vpc_id, name):
    assert error_of(elb.create_target_group, Name=name, Protocol="TCP", Port=80, VpcId=vpc_id)["Code"] == "ValidationError"


def test_required_settings(elb, raw_elb, vpc_id):
    assert error_of(elb.create_target_group, Name=unique("t"), Port=80, VpcId=vpc_id)["Code"] == "ValidationError"
    assert error_of(elb.create_target_group, Name=unique("t"), Protocol="TCP", VpcId=vpc_id)["Code"] == "ValidationError"
    assert error_of(elb.create_target_group, Name=unique("t"), Protocol="TCP", Port=80)["Code"] == "ValidationError"
    assert error_of(elb.create_target_group, Name=unique("t"), Protocol="TCP", Port=80,
                    VpcId="vpc-0123456789abcdef0")["Code"] == "ValidationError"
    assert error_of(raw_elb.create_target_group, Name=unique("t"), Protocol="TCP", Port=0,
                    VpcId=vpc_id)["Code"] == "ValidationError"
    assert error_of(elb.create_target_group, Name=unique("t"), Protocol="GENEVE", Port=6081,
                    VpcId=vpc_id)["Code"] == "ValidationError"


def test_defaults_and_http_health_check(elb, vpc_id):
    tg = tcp_group(elb, vpc_id)
    assert "HealthCheckPath" not in tg and "Matcher" not in tg
    assert tg["TargetType"] == "instance" and tg["IpAddressType"] == "ipv4"
    assert tg["LoadBalancerArns"] == []
    http = tcp_group(elb, vpc_id, HealthCheckProtocol="HTTP")
    assert http["HealthCheckPath"] == "/" and http["Matcher"] == {"HttpCode": "200-399"}
    assert http["HealthCheckTimeoutSeconds"] == 6
    udp = elb.create_target_group(Name=unique("udp"), Protocol="UDP", Port=53, VpcId=vpc_id)["TargetGroups"][0]
    assert udp["HealthCheckProtocol"] == "TCP"


@pytest.mark.parametrize("setting", [
    {"HealthCheckIntervalSeconds": 4}, {"HealthCheckIntervalSeconds": 301},
    {"HealthCheckTimeoutSeconds": 1}, {"HealthCheckTimeoutSeconds": 121},
    {"HealthyThresholdCount": 1}, {"HealthyThresholdCount": 11},
    {"UnhealthyThresholdCount": 1}, {"UnhealthyThresholdCount": 11},
    {"HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 10},
    {"HealthCheckPort": "0"}, {"HealthCheckPort": "http"},
    {"HealthCheckProtocol": "UDP"}, {"HealthCheckPath": "/health"},
    {"HealthCheckEnabled": False},
])
def test_health_check_ranges(raw_elb, vpc_id, setting):
    assert error_of(raw_elb.create_target_group, Name=unique("t"), Protocol="TCP", Port=80, VpcId=vpc_id,
                    **setting)["Code"] == "ValidationError"


def test_create_is_idempotent_and_duplicate_differs(elb, vpc_id):
    name = unique("idem")
    first = tcp_group(elb, vpc_id, name=name)
    again = tcp_group(elb, vpc_id, name=name)
    assert again["TargetGroupArn"] == first["TargetGroupArn"]
    error = error_of(elb.create_target_group, Name=name, Protocol="TCP", Port=81, VpcId=vpc_id)
    code, message = error["Code"], error["Message"]
    assert code == "DuplicateTargetGroupName"
    assert message == f"A target group with the same name '{name}' exists, but with different settings"
    assert error_of(elb.create_target_group, Name=name, Protocol="TCP", Port=80, VpcId=vpc_id,
                    HealthCheckIntervalSeconds=20)["Code"] == "DuplicateTargetGroupName"


# Describe / modify / delete -------------------------------------------------------------------------

def test_describe_target_groups(elb, elb_2, ec2, vpc_id):
    a, b = tcp_group(elb, vpc_id), tcp_group(elb, vpc_id)
    got = elb.describe_target_groups(Names=[a["TargetGroupName"], b["TargetGroupName"]])["TargetGroups"]
    assert {g["TargetGroupArn"] for g in got} == {a["TargetGroupArn"], b["TargetGroupArn"]}
    assert elb.describe_target_groups(TargetGroupArns=[a["TargetGroupArn"]])["TargetGroups"][0] == a
    assert error_of(elb.describe_target_groups, Names=["nope-nope"])["Code"] == "TargetGroupNotFound"
    assert error_of(elb_2.describe_target_groups, TargetGroupArns=[a["TargetGroupArn"]])["Code"] == "TargetGroupNotFound"
    assert error_of(elb.describe_target_groups, TargetGroupArns=["arn:nope"])["Code"] == "ValidationError"
    first = elb.describe_target_groups(PageSize=1)
    assert len(first["TargetGroups"]) == 1 and first["NextMarker"]

    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    assert elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"] == []
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": a["TargetGroupArn"]}])
    got = elb.describe_target_groups(LoadBalancerArn=lb["LoadBalancerArn"])["TargetGroups"]
    assert [g["TargetGroupArn"] for g in got] == [a["TargetGroupArn"]]
    assert got[0]["LoadBalancerArns"] == [lb["LoadBalancerArn"]]
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    assert elb.describe_target_groups(TargetGroupArns=[a["TargetGroupArn"]])["TargetGroups"][0]["LoadBalancerArns"] == []


def test_modify_target_group(elb, vpc_id):
    tg = tcp_group(elb, vpc_id)
    out = elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckIntervalSeconds=10,
                                  HealthCheckTimeoutSeconds=5, HealthyThresholdCount=3,
                                  HealthCheckPort="8080")["TargetGroups"][0]
    assert (out["HealthCheckIntervalSeconds"], out["HealthCheckTimeoutSeconds"],
            out["HealthyThresholdCount"], out["HealthCheckPort"]) == (10, 5, 3, "8080")
    out = elb.modify_target_group(TargetGroupArn=tg["TargetGroupArn"], HealthCheckProtocol="HTTP",
                                  HealthCheckPath="/ping")["TargetGroups"][0]
    assert out["HealthCheckPath"] == "/ping" and out["Matcher"] == {"HttpCode": "200-399"}
    assert error_of(elb.modify_target_group, TargetGroupArn=tg["TargetGroupArn"],
                    HealthCheckIntervalSeconds=400)["Code"] == "ValidationError"


def test_delete_target_group_in_use(elb, ec2, vpc_id):
    tg = tcp_group(elb, vpc_id)
    lb = nlb(elb, [default_subnets(ec2)[0]["SubnetId"]])
    listener = elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                                   DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]
                                   )["Listeners"][0]
    error = error_of(elb.delete_target_group, TargetGroupArn=tg["TargetGroupArn"])
    code, message = error["Code"], error["Message"]
    assert code == "ResourceInUse"
    assert message == f"Target group '{tg['TargetGroupArn']}' is currently in use by a listener or a rule"
    elb.delete_listener(ListenerArn=listener["ListenerArn"])
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])
    assert error_of(elb.describe_target_groups, TargetGroupArns=[tg["TargetGroupArn"]])["Code"] == "TargetGroupNotFound"
    elb.delete_target_group(TargetGroupArn=tg["TargetGroupArn"])  # missing: succeeds
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


# Attributes ------------------------------------------------------------------------------------------

def test_target_group_attributes(elb, vpc_id):
    tg = tcp_group(elb, vpc_id)
    arn = tg["TargetGroupArn"]
    attrs = _attrs(elb, arn)
    assert attrs["deregistration_delay.timeout_seconds"] == "300"
    assert attrs["proxy_protocol_v2.enabled"] == "false"
    assert attrs["stickiness.enabled"] == "false" and attrs["stickiness.type"] == "source_ip"
    assert attrs["preserve_client_ip.enabled"] == "true"
    assert attrs["deregistration_delay.connection_termination.enabled"] == "false"
    assert attrs["load_balancing.cross_zone.enabled"] == "use_load_balancer_configuration"
    assert attrs["target_health_state.unhealthy.connection_termination.enabled"] == "true"
    out = elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"},
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])["Attributes"]
    assert {a["Key"]: a["Value"] for a in out}["proxy_protocol_v2.enabled"] == "true"
    assert _attrs(elb, arn)["deregistration_delay.timeout_seconds"] == "0"
    for key, value in [("deregistration_delay.timeout_seconds", "3601"),
                       ("deregistration_delay.timeout_seconds", "-1"),
                       ("proxy_protocol_v2.enabled", "maybe"),
                       ("stickiness.type", "lb_cookie"),
                       ("load_balancing.cross_zone.enabled", "sometimes"),
                       ("no.such.attribute", "1")]:
        assert error_of(elb.modify_target_group_attributes, TargetGroupArn=arn,
                        Attributes=[{"Key": key, "Value": value}])["Code"] == "ValidationError", key
    ip_tg = tcp_group(elb, vpc_id, TargetType="ip")
    assert _attrs(elb, ip_tg["TargetGroupArn"])["preserve_client_ip.enabled"] == "false"
    udp = elb.create_target_group(Name=unique("udp"), Protocol="UDP", Port=53, VpcId=vpc_id,
                                  TargetType="ip")["TargetGroups"][0]
    assert _attrs(elb, udp["TargetGroupArn"])["preserve_client_ip.enabled"] == "true"
    assert error_of(elb.modify_target_group_attributes, TargetGroupArn=udp["TargetGroupArn"],
                    Attributes=[{"Key": "preserve_client_ip.enabled", "Value": "false"}])["Code"] == \
        "InvalidConfigurationRequest"


# Targets ------------------------------------------------------------------------------------------------

def test_ip_targets(elb, ec2, vpc_id):
    subnet = default_subnets(ec2)[0]
    tg = tcp_group(elb, vpc_id, TargetType="ip")
    arn = tg["TargetGroupArn"]
    ip = _ip_in(subnet, 10)
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip}, {"Id": ip, "Port": 8080}])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip}])  # again: no duplicate
    health = _health(elb, arn)
    assert sorted((h["Target"]["Id"], h["Target"]["Port"]) for h in health) == [(ip, 80), (ip, 8080)]
    assert {h["Target"]["AvailabilityZone"] for h in health} == {subnet["AvailabilityZone"]}
    # No listener uses the group: unused / Target.NotInUse.
    assert {(h["TargetHealth"]["State"], h["TargetHealth"]["Reason"]) for h in health} == {("unused", "Target.NotInUse")}
    error = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "10.99.0.1"}])
    code, message = error["Code"], error["Message"]
    assert code == "InvalidTarget"
    assert message == f"The following targets are not in the target group VPC '{vpc_id}': '10.99.0.1'"
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": "10.99.0.1", "AvailabilityZone": "all"}])
    assert error_of(elb.register_targets, TargetGroupArn=arn,
                    Targets=[{"Id": "8.8.8.8", "AvailabilityZone": "all"}])["Code"] == "InvalidTarget"
    assert error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "not-an-ip"}])["Code"] == "ValidationError"
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": ip, "Port": 8080}, {"Id": "10.99.0.1"}])
    assert [(h["Target"]["Id"], h["Target"]["Port"]) for h in _health(elb, arn)] == [(ip, 80)]


def test_instance_targets(elb, ec2, vpc_id):
    subnet = default_subnets(ec2)[0]
    instance = run_instance(ec2, subnet["SubnetId"])
    tg = tcp_group(elb, vpc_id)
    arn = tg["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])  # idempotent
    health = _health(elb, arn)
    assert len(health) == 1 and health[0]["Target"]["Port"] == 80

    error = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": "i-0123456789abcdef0"}])
    code, message = error["Code"], error["Message"]
    assert code == "InvalidTarget" and "'i-0123456789abcdef0'" in message

    # An instance of another VPC.
    vpc = ec2.create_vpc(CidrBlock="10.30.0.0/16")["Vpc"]["VpcId"]
    other_subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.30.1.0/24",
                                     AvailabilityZone="ap-south-1a")["Subnet"]["SubnetId"]
    stranger = run_instance(ec2, other_subnet)
    error = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": stranger}])
    code, message = error["Code"], error["Message"]
    assert code == "InvalidTarget"
    assert message == f"The following targets are not in the target group VPC '{vpc_id}': '{stranger}'"

    # A stopped instance cannot be registered; a registered one that stops is unused / InvalidState.
    stopped = run_instance(ec2, subnet["SubnetId"])
    ec2.stop_instances(InstanceIds=[stopped])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[stopped], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    error = error_of(elb.register_targets, TargetGroupArn=arn, Targets=[{"Id": stopped}])
    code, message = error["Code"], error["Message"]
    assert code == "InvalidTarget"
    assert message == f"The following targets are not in a running state and cannot be registered: '{stopped}'"
    ec2.stop_instances(InstanceIds=[instance])
    ec2.get_waiter("instance_stopped").wait(InstanceIds=[instance], WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    state = _health(elb, arn)[0]["TargetHealth"]
    assert (state["State"], state["Reason"]) == ("unused", "Target.InvalidState")

    # Asked about a target that is not registered: unused / Target.NotRegistered.
    health = _health(elb, arn, Targets=[{"Id": stopped}])
    assert (health[0]["TargetHealth"]["State"], health[0]["TargetHealth"]["Reason"]) == ("unused", "Target.NotRegistered")
    # An instance vpclab does not know is not registered either (not InvalidTarget).
    health = _health(elb, arn, Targets=[{"Id": "i-0123456789abcdef0"}])
    assert health[0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
    assert _health(elb, arn) == []
    ec2.terminate_instances(InstanceIds=[instance, stopped, stranger])


def test_health_states_through_a_listener(elb, ec2, vpc_id):
    subnets = default_subnets(ec2)
    tg = tcp_group(elb, vpc_id, TargetType="ip")
    arn = tg["TargetGroupArn"]
    ip = _ip_in(subnets[1], 20)
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": ip}])
    lb = nlb(elb, [subnets[0]["SubnetId"]])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
    wait_active(elb, lb["LoadBalancerArn"])
    # The target's zone is not enabled on the NLB.
    state = _health(elb, arn)[0]["TargetHealth"]
    assert (state["State"], state["Reason"]) == ("unused", "Target.NotInUse")
    elb.set_subnets(LoadBalancerArn=lb["LoadBalancerArn"], Subnets=[subnets[0]["SubnetId"], subnets[1]["SubnetId"]])
    state = _health(elb, arn)[0]["TargetHealth"]
    # Nothing checks targets without a data plane: initial, never healthy.
    assert (state["State"], state["Reason"]) == ("initial", "Elb.RegistrationInProgress")
    time.sleep(0.5)  # five ticks of the control plane's settle timer (0.1 s): it never makes it healthy
    assert _health(elb, arn)[0]["TargetHealth"]["State"] == "initial"

    # Deregistering drains for the deregistration delay, then the target is gone.
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
    elb.deregister_targets(TargetGroupArn=arn, Targets=[{"Id": ip}])
    state = _health(elb, arn)[0]["TargetHealth"]
    assert (state["State"], state["Reason"]) == ("draining", "Target.DeregistrationInProgress")
    elb.get_waiter("target_deregistered").wait(TargetGroupArn=arn, Targets=[{"Id": ip}],
                                               WaiterConfig={"Delay": 1, "MaxAttempts": 10})
    assert _health(elb, arn) == []
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_target_group_not_found(elb, elb_2, vpc_id):
    tg = tcp_group(elb, vpc_id)
    arn = tg["TargetGroupArn"]
    for call, kwargs in [(elb_2.describe_target_health, {}), (elb_2.register_targets, {"Targets": [{"Id": "i-0123456789abcdef0"}]}),
                         (elb_2.describe_target_group_attributes, {}), (elb_2.modify_target_group, {"HealthCheckIntervalSeconds": 10})]:
        assert error_of(call, TargetGroupArn=arn, **kwargs)["Code"] == "TargetGroupNotFound"
