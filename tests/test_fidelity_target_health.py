"""DescribeTargetHealth as AWS answers it, through real boto3: a target that is not
registered, a registered instance that is terminated, AdministrativeOverride, Include."""
from __future__ import annotations

import pytest

from tests.helpers.elbv2 import (
    default_subnets,
    default_vpc,
    nlb,
    run_instance,
    tcp_group,
    wait_active,
)
from tests.helpers.errors import error_of
from tests.helpers.waiting import wait_for

NO_OVERRIDE = {"State": "no_override", "Reason": "AdministrativeOverride.NoOverride",
               "Description": "No override is currently active on target"}


@pytest.fixture
def elb(shared_server):
    return shared_server.client("elbv2")


@pytest.fixture(scope="module")
def vpc_id(shared_server):
    return default_vpc(shared_server.client("ec2"))


def _health(elb, arn, **kwargs):
    return elb.describe_target_health(TargetGroupArn=arn, **kwargs)["TargetHealthDescriptions"]


def test_a_target_that_is_not_registered_is_unused_not_registered(elb, ec2, vpc_id):
    arn = tcp_group(elb, vpc_id)["TargetGroupArn"]
    # An instance id nothing knows, and a real instance that is not registered: the same answer.
    instance = run_instance(ec2, default_subnets(ec2)[0]["SubnetId"])
    for tid in ("i-0123456789abcdef0", instance):
        health = _health(elb, arn, Targets=[{"Id": tid, "Port": 80}])
        assert health == [{
            "Target": {"Id": tid, "Port": 80}, "HealthCheckPort": "80",
            "TargetHealth": {"State": "unused", "Reason": "Target.NotRegistered",
                             "Description": "Target is not registered to the target group"},
            "AdministrativeOverride": NO_OVERRIDE,
        }]
    # Not an instance id at all is still InvalidTarget.
    err = error_of(elb.describe_target_health, TargetGroupArn=arn, Targets=[{"Id": "web-1"}])
    assert (err["Code"], err["Message"]) == ("InvalidTarget", "The following targets are not valid: 'web-1'")
    ec2.terminate_instances(InstanceIds=[instance])


def test_every_description_has_administrative_override(elb, ec2, vpc_id):
    arn = tcp_group(elb, vpc_id)["TargetGroupArn"]
    instance = run_instance(ec2, default_subnets(ec2)[0]["SubnetId"])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
    for kwargs in ({}, {"Include": ["All"]}, {"Include": ["AnomalyDetection"]}):
        health = _health(elb, arn, **kwargs)
        assert [d["AdministrativeOverride"] for d in health] == [NO_OVERRIDE]
        # Anomaly detection is an Application Load Balancer feature: NLB targets have none.
        assert "AnomalyDetection" not in health[0]
    err = error_of(elb.describe_target_health, TargetGroupArn=arn, Include=["Everything"])
    assert err["Code"] == "ValidationError"
    ec2.terminate_instances(InstanceIds=[instance])


def test_a_terminated_registered_instance_drains_then_leaves(elb, ec2, vpc_id):
    subnets = default_subnets(ec2)
    arn = tcp_group(elb, vpc_id)["TargetGroupArn"]
    elb.modify_target_group_attributes(TargetGroupArn=arn, Attributes=[
        {"Key": "deregistration_delay.timeout_seconds", "Value": "2"}])
    lb = nlb(elb, [subnets[0]["SubnetId"]])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": arn}])
    wait_active(elb, lb["LoadBalancerArn"])
    instance = run_instance(ec2, subnets[0]["SubnetId"])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
    ec2.terminate_instances(InstanceIds=[instance])
    health = _health(elb, arn)
    assert len(health) == 1 and health[0]["Target"]["Id"] == instance
    assert health[0]["TargetHealth"] == {"State": "draining", "Reason": "Target.DeregistrationInProgress",
                                         "Description": "Target deregistration is in progress"}
    # After the deregistration delay the registration is gone, as Terraform's read expects.
    wait_for(lambda: _health(elb, arn) == [], timeout=15, interval=0.2, what="the drained target leaves")
    asked = _health(elb, arn, Targets=[{"Id": instance}])
    assert asked[0]["TargetHealth"]["Reason"] == "Target.NotRegistered"
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])


def test_a_terminated_instance_in_a_group_no_listener_uses_leaves_at_once(elb, ec2, vpc_id):
    arn = tcp_group(elb, vpc_id)["TargetGroupArn"]
    instance = run_instance(ec2, default_subnets(ec2)[0]["SubnetId"])
    elb.register_targets(TargetGroupArn=arn, Targets=[{"Id": instance}])
    ec2.terminate_instances(InstanceIds=[instance])
    wait_for(lambda: _health(elb, arn) == [], timeout=10, interval=0.1, what="the target leaves")
