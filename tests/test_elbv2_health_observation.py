"""The observation interface the data plane uses: `model.observed.record_health`.

In-process: handlers are called with a RequestContext over a real SQLite store, and the
"data plane" is this test writing observations through the store, as the real one will.
"""
from __future__ import annotations

import pytest

import vpclab.control
from vpclab.control.common import lifecycle
from vpclab.control.ec2.default_vpc import ensure_default_vpc
from vpclab.control.elbv2 import listeners, load_balancers, target_groups
from vpclab.model import KINDS
from vpclab.model.ec2 import Subnet
from vpclab.model.elbv2 import LoadBalancer
from vpclab.model.observed import record_health
from vpclab.protocol.dispatch import RequestContext
from vpclab.store import open_store

ACCOUNT = "111111111111"
REGION = "ap-south-1"


@pytest.fixture
def store(tmp_path):
    s = open_store(tmp_path / "state", KINDS)
    yield s
    s.close()


def _ctx(store, dataplane=False) -> RequestContext:
    return RequestContext(ACCOUNT, REGION, store, service="elbv2", dataplane=dataplane)


def _lab(store, dataplane=False):
    ctx = _ctx(store, dataplane)
    vpc_id = ensure_default_vpc(ctx)
    with store.read() as tx:
        subnet = sorted(tx.list(Subnet, ACCOUNT, REGION, vpc_id=vpc_id), key=lambda s: s.availability_zone)[0]
    tg = target_groups.create_target_group(ctx, {"Name": "obs-tg", "Protocol": "TCP", "Port": 80, "VpcId": vpc_id,
                                                 "TargetType": "ip"})["TargetGroups"][0]
    base = subnet.cidr_block.split("/")[0].rsplit(".", 1)[0]
    ip = f"{base}.50"
    target_groups.register_targets(ctx, {"TargetGroupArn": tg["TargetGroupArn"], "Targets": [{"Id": ip}]})
    lb = load_balancers.create_load_balancer(ctx, {"Name": "obs-nlb", "Type": "network",
                                                   "Subnets": [subnet.id]})["LoadBalancers"][0]
    listeners.create_listener(ctx, {"LoadBalancerArn": lb["LoadBalancerArn"], "Protocol": "TCP", "Port": 80,
                                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}]})
    return ctx, tg["TargetGroupArn"], lb["LoadBalancerArn"], ip


def _state(ctx, tg_arn):
    health = target_groups.describe_target_health(ctx, {"TargetGroupArn": tg_arn})["TargetHealthDescriptions"]
    return [(h["TargetHealth"]["State"], h["TargetHealth"].get("Reason")) for h in health]


def test_observations_drive_target_health(store):
    ctx, tg_arn, lb_arn, ip = _lab(store)
    # Provisioning NLB: registration in progress.
    assert _state(ctx, tg_arn) == [("initial", "Elb.RegistrationInProgress")]
    lifecycle.settle(store, ctx.now.timestamp() + lifecycle.SETTLE_DELAY + 1, vpclab.control.LIFECYCLE_STEPS)
    with store.read() as tx:
        assert tx.get(LoadBalancer, lb_arn).state == "active"
    # Nothing observed: still initial, never healthy.
    assert _state(ctx, tg_arn) == [("initial", "Elb.RegistrationInProgress")]

    now = ctx.now.timestamp() + 5
    with store.write() as tx:
        record_health(tx, tg_arn, ip, 80, "initial", "Elb.InitialHealthChecking", "Initial health checks in progress", now)
    assert _state(ctx, tg_arn) == [("initial", "Elb.InitialHealthChecking")]
    with store.write() as tx:
        record_health(tx, tg_arn, ip, 80, "healthy", None, None, now + 1)
    assert _state(ctx, tg_arn) == [("healthy", None)]
    with store.write() as tx:
        record_health(tx, tg_arn, ip, 80, "unhealthy", "Target.Timeout", "Request timed out", now + 2)
    assert _state(ctx, tg_arn) == [("unhealthy", "Target.Timeout")]

    # An observation of an unregistered target is ignored.
    with store.write() as tx:
        assert record_health(tx, tg_arn, "10.9.9.9", 80, "healthy", None, None, now) is None
    with pytest.raises(ValueError):
        with store.write() as tx:
            record_health(tx, tg_arn, ip, 80, "great", None, None, now)

    # Deleting the listener makes the group unused and forgets the observations.
    lis = listeners.describe_listeners(ctx, {"LoadBalancerArn": lb_arn})["Listeners"][0]
    listeners.delete_listener(ctx, {"ListenerArn": lis["ListenerArn"]})
    assert _state(ctx, tg_arn) == [("unused", "Target.NotInUse")]
    listeners.create_listener(ctx, {"LoadBalancerArn": lb_arn, "Protocol": "TCP", "Port": 80,
                                    "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg_arn}]})
    assert _state(ctx, tg_arn) == [("initial", "Elb.RegistrationInProgress")]


def test_with_a_data_plane_the_timer_leaves_the_nlb_alone(store):
    ctx, tg_arn, lb_arn, ip = _lab(store, dataplane=True)
    lifecycle.settle(store, ctx.now.timestamp() + 3600, vpclab.control.LIFECYCLE_STEPS, dataplane=True)
    with store.read() as tx:
        assert tx.get(LoadBalancer, lb_arn).state == "provisioning"
    # The data plane makes it active, then reports health.
    with store.write() as tx:
        lb = tx.get(LoadBalancer, lb_arn)
        lb.state = "active"
        tx.put(lb)
        record_health(tx, tg_arn, ip, 80, "healthy", None, None, ctx.now.timestamp() + 1)
    assert _state(ctx, tg_arn) == [("healthy", None)]


def test_stale_observation_does_not_survive_reregistration(store):
    ctx, tg_arn, lb_arn, ip = _lab(store)
    lifecycle.settle(store, ctx.now.timestamp() + lifecycle.SETTLE_DELAY + 1, vpclab.control.LIFECYCLE_STEPS)
    with store.write() as tx:
        record_health(tx, tg_arn, ip, 80, "healthy", None, None, ctx.now.timestamp() + 1)
    target_groups.modify_target_group_attributes(ctx, {"TargetGroupArn": tg_arn, "Attributes": [
        {"Key": "deregistration_delay.timeout_seconds", "Value": "0"}]})
    target_groups.deregister_targets(ctx, {"TargetGroupArn": tg_arn, "Targets": [{"Id": ip}]})
    assert _state(ctx, tg_arn) == []
    target_groups.register_targets(ctx, {"TargetGroupArn": tg_arn, "Targets": [{"Id": ip}]})
    assert _state(ctx, tg_arn) == [("initial", "Elb.RegistrationInProgress")]
