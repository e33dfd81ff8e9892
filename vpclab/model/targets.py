"""Which registered targets of a target group receive new flows, and which are healthy.

Three places ask and must agree: the NLB's forwarding set (`dataplane.areas.nodes`), the
health checks (`dataplane.agents.health`: only a target that could receive flows is
checked) and DescribeTargetHealth (`control.elbv2.target_health`: a target that cannot is
reported `draining` or `unused`, never `healthy`).

A registered target receives new flows when it is not draining and has an address: an
`ip` target its id; an `instance` target its instance's private IP, and only while the
instance is `running` (AWS: a `pending`, `stopping` or `stopped` instance is `unused` /
`Target.InvalidState` and gets no flows). `alb` and `lambda` targets have no address
vpclab can forward to.

A target drains (`drain_started`) from DeregisterTargets, or from when its instance began
terminating: ELB deregisters a terminating instance itself, so it is reported `draining`
/ `Target.DeregistrationInProgress` for the deregistration delay and then leaves the group.
"""
from __future__ import annotations

from collections.abc import Callable

from .ec2 import Instance
from .elbv2 import RegisteredTarget, TargetGroup, TargetHealth, health_id

#: Why a registered target receives no new flows (`exclusion`).
DRAINING = "draining"
NOT_RUNNING = "not-running"  # an instance target whose instance is pending, stopping or stopped
NO_ADDRESS = "no-address"  # a target type vpclab cannot forward to

#: The one instance state in which an instance target receives flows and health checks.
FLOW_INSTANCE_STATE = "running"

#: Instance states in which ELB deregisters the instance's registrations itself.
TERMINATING_STATES = ("shutting-down", "terminated")


def drain_started(tg: TargetGroup, target: RegisteredTarget,
                  instance: Callable[[str], Instance | None]) -> float | None:
    """When registered `target` began draining, or None while it is registered: the time
    of DeregisterTargets, else for an instance target the time its instance began
    terminating (0.0 when the instance is gone altogether)."""
    if target.deregistering_since is not None:
        return target.deregistering_since
    if tg.target_type != "instance":
        return None
    inst = instance(target.id)
    if inst is None:
        return 0.0
    if inst.state == "shutting-down":
        return inst.state_since
    if inst.state == "terminated":
        return inst.terminated_at if inst.terminated_at is not None else inst.state_since
    return None


def _judge(tg: TargetGroup, target: RegisteredTarget,
           instance: Callable[[str], Instance | None]) -> tuple[str | None, str | None]:
    """(why no flows or None, address when flows)."""
    if drain_started(tg, target, instance) is not None:
        return DRAINING, None
    if tg.target_type == "instance":
        inst = instance(target.id)
        if inst is None or inst.state != FLOW_INSTANCE_STATE or not inst.private_ip:
            return NOT_RUNNING, None
        return None, inst.private_ip
    if tg.target_type == "ip":
        return None, target.id
    return NO_ADDRESS, None


def exclusion(tg: TargetGroup, target: RegisteredTarget, instance: Callable[[str], Instance | None]) -> str | None:
    """Why registered `target` of `tg` gets no new flows, or None when it gets them.

    `instance` looks an instance up by id (the world's dict or a store transaction); it
    is called for instance targets only."""
    return _judge(tg, target, instance)[0]


def flow_address(tg: TargetGroup, target: RegisteredTarget, instance: Callable[[str], Instance | None]) -> str | None:
    """The address new flows and health checks of `target` go to; None when it gets none."""
    return _judge(tg, target, instance)[1]


def observation(record: Callable[[str], TargetHealth | None], tg_arn: str,
                target: RegisteredTarget) -> TargetHealth | None:
    """The health record of registered `target` of `tg_arn` made since it was registered
    (a record from before belongs to an earlier registration), or None. `record` looks a
    record up by id (the world's dict or a store transaction)."""
    rec = record(health_id(tg_arn, target.id, target.port))
    if rec is None or rec.observed < target.registered:
        return None
    return rec


def healthy(record: Callable[[str], TargetHealth | None], tg_arn: str, target: RegisteredTarget) -> bool:
    """True when a check passed since `target` was registered (`observation` is `healthy`)."""
    rec = observation(record, tg_arn, target)
    return rec is not None and rec.state == "healthy"
