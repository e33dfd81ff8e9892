"""Target health: what DescribeTargetHealth reports.

The data plane runs the health checks and is the only writer of observations
(`model.observed.record_health`, one `TargetHealth` record per registered target, id
`model.elbv2.health_id`). `forget_health` drops records; the control plane calls it when
a target is deregistered, re-registered or its target group stops being used.

What DescribeTargetHealth reports, in order (`describe`):
1. draining (`Target.DeregistrationInProgress`) while a deregistered target drains, or
   one whose instance is terminating (ELB deregisters it itself);
2. an instance target whose instance is pending, stopping or stopped: `unused` /
   `Target.InvalidState` (1 and 2 by `model.targets.exclusion`, the rule the forwarding
   set and the health checks use too: what is reported draining or unused gets no flows);
3. a target group no listener forwards to: `unused` / `Target.NotInUse`; a target in a
   zone the load balancer does not enable: `unused` / `Target.NotInUse`;
4. the load balancer still provisioning: `initial` / `Elb.RegistrationInProgress`;
5. the data plane's observation made since the target was registered;
6. otherwise `initial` / `Elb.RegistrationInProgress` — never `healthy` for a target
   nothing checked. Without a data plane targets therefore stay `initial`, and the
   `target_in_service` waiter only succeeds when a data plane runs.

A target a request names that is not registered is `unused` / `Target.NotRegistered`,
whether or not such an instance exists (Terraform reads a gone attachment so). Every
description carries `AdministrativeOverride` (vpclab has no zonal shift: `no_override`).
`Include` `AnomalyDetection` / `All` adds nothing: anomaly detection is an Application
Load Balancer feature, and vpclab's load balancers are Network Load Balancers.
"""
from __future__ import annotations

from ...model import targets
from ...model.ec2 import Instance
from ...model.elbv2 import LoadBalancer, RegisteredTarget, TargetGroup, TargetHealth
from ...protocol.errors import ValidationError
from ...store import Transaction
from ..common.ids import is_well_formed
from .common import err, listeners_of_tg

REGISTRATION_IN_PROGRESS = ("initial", "Elb.RegistrationInProgress", "Target registration is in progress")
NOT_IN_USE = ("unused", "Target.NotInUse", "Target group is not configured to receive traffic from the load balancer")
ZONE_NOT_ENABLED = ("unused", "Target.NotInUse",
                    "Target is in an Availability Zone that is not enabled for the load balancer")
NOT_REGISTERED = ("unused", "Target.NotRegistered", "Target is not registered to the target group")
DRAINING = ("draining", "Target.DeregistrationInProgress", "Target deregistration is in progress")

#: Every TargetHealthDescription's AdministrativeOverride: no zonal shift in vpclab.
NO_OVERRIDE = {"State": "no_override", "Reason": "AdministrativeOverride.NoOverride",
               "Description": "No override is currently active on target"}

#: DescribeTargetHealth's `Include` values (DescribeTargetHealthInputIncludeEnum).
INCLUDE_VALUES = ("AnomalyDetection", "All")


def forget_health(tx: Transaction, tg_arn: str, target_id: str | None = None, port: int | None = None) -> None:
    for rec in tx.list(TargetHealth, target_group_arn=tg_arn):
        if (target_id is None or rec.target_id == target_id) and (port is None or rec.port == port):
            tx.delete(rec)


def target_state(tx: Transaction, tg: TargetGroup, target: RegisteredTarget) -> tuple[str, str | None, str | None]:
    """(State, Reason, Description) of one registered target, as AWS reports it."""
    why = targets.exclusion(tg, target, lambda instance_id: tx.get(Instance, instance_id))
    if why == targets.DRAINING:
        return DRAINING
    if why == targets.NOT_RUNNING:
        inst = tx.get(Instance, target.id)
        word = inst.state if inst is not None else "terminated"
        return ("unused", "Target.InvalidState", f"Target is in the {word} state")
    listeners = listeners_of_tg(tx, tg)
    if not listeners:
        return NOT_IN_USE
    lbs = [lb for lb in (tx.get(LoadBalancer, l.load_balancer_arn) for l in listeners) if lb is not None]
    if not lbs:
        return NOT_IN_USE
    zone = target.availability_zone
    if zone and zone != "all" and not any(zone in {m.zone for m in lb.mappings} for lb in lbs):
        return ZONE_NOT_ENABLED
    if all(lb.state == "provisioning" for lb in lbs):
        return REGISTRATION_IN_PROGRESS
    rec = targets.observation(lambda record_id: tx.get(TargetHealth, record_id), tg.id, target)
    if rec is not None:
        if rec.state == "healthy":
            return ("healthy", None, None)
        return (rec.state, rec.reason, rec.description)
    return REGISTRATION_IN_PROGRESS


def health_check_port(tg: TargetGroup, port: int | None) -> str | None:
    hc_port = tg.health_check.get("HealthCheckPort", "traffic-port")
    if hc_port == "traffic-port":
        return str(port) if port is not None else None
    return hc_port


def description(tg: TargetGroup, target_id: str, port: int | None, zone: str | None,
                state: tuple[str, str | None, str | None]) -> dict:
    """One TargetHealthDescription: of a registered target, or of one a request names."""
    shown: dict[str, str | int | None] = {"Id": target_id, "Port": port}
    if zone:
        shown["AvailabilityZone"] = zone
    code, reason, text = state
    health = {"State": code}
    if reason:
        health["Reason"] = reason
    if text:
        health["Description"] = text
    return {"Target": shown, "HealthCheckPort": health_check_port(tg, port), "TargetHealth": health,
            "AdministrativeOverride": dict(NO_OVERRIDE)}


def describe(tx: Transaction, tg: TargetGroup) -> list[dict]:
    """TargetHealthDescriptions of every registered target."""
    return [description(tg, t.id, t.port, t.availability_zone, target_state(tx, tg, t)) for t in tg.targets]


def health_descriptions(tx: Transaction, tg: TargetGroup, asked: list[dict] | None,
                        include: list[str] | None = None) -> list[dict]:
    """DescribeTargetHealth's TargetHealthDescriptions: of every registered target, or of
    the targets `asked` (each registration of one named without a port)."""
    for value in include or ():
        if value not in INCLUDE_VALUES:
            raise ValidationError(
                f"1 validation error detected: Value '[{value}]' at 'include' failed to satisfy constraint: "
                "Member must satisfy constraint: [Member must satisfy enum value set: [AnomalyDetection, All]]")
    if not asked:
        return describe(tx, tg)
    invalid = [t["Id"] for t in asked if tg.target_type == "instance" and not is_well_formed(t["Id"], "i")]
    if invalid:
        raise err("InvalidTarget", "The following targets are not valid: " + ", ".join(f"'{i}'" for i in invalid))
    out = []
    for t in asked:
        tid, port = t["Id"], t.get("Port")
        matches = [r for r in tg.targets if r.id == tid and (port is None or r.port == port)]
        if not matches:
            out.append(description(tg, tid, port if port is not None else tg.port,
                                   t.get("AvailabilityZone"), NOT_REGISTERED))
        for r in matches:
            out.append(description(tg, r.id, r.port, r.availability_zone, target_state(tx, tg, r)))
    return out
