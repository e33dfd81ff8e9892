"""Observed facts: the one way either plane records that something really happened.

The data plane calls these writers when it sees a fact (an instance's processes are up
or gone, an NLB's nodes exist, a health check's result, an endpoint's links forward or
are torn down); the control plane's lifecycle steps call the same writers where no data
plane runs, after a settle delay. Each takes an open store `Transaction` and changes only
the resources it names, so the outcome (states, timestamps, what is deleted with them)
is the same whoever observed it. They trigger nothing else: none of these transitions
sends a connection notification (those go out with the API calls that accept, reject,
connect or delete).
"""
from __future__ import annotations

from ..store import Transaction
from .ec2 import INSTANCE_STATE_CODES, Instance, NetworkInterface
from .elbv2 import TARGET_HEALTH_STATES, LoadBalancer, TargetGroup, TargetHealth, health_id
from .privatelink import Endpoint

_SHUTDOWN_REASON = {"Code": "Client.UserInitiatedShutdown",
                    "Message": "Client.UserInitiatedShutdown: User initiated shutdown"}


def set_instance_state(tx: Transaction, inst: Instance, state: str, now: float) -> None:
    """Record that `inst` (a copy from `tx`) reached `state`, and store it.

    Reaching `terminated` deletes the instance's primary ENI (or detaches one that was
    not to be deleted on termination)."""
    if state not in INSTANCE_STATE_CODES:
        raise ValueError(f"unknown instance state {state!r}")
    if inst.state == state:
        return
    inst.state = state
    inst.state_since = now
    if state == "running":
        inst.state_transition_reason = ""
        inst.state_reason = None
    elif state == "stopped":
        inst.state_reason = dict(_SHUTDOWN_REASON)
    elif state == "terminated":
        inst.terminated_at = now
        inst.state_reason = dict(_SHUTDOWN_REASON)
        eni = tx.get(NetworkInterface, inst.network_interface_id) if inst.network_interface_id else None
        if eni is not None:
            if (eni.attachment or {}).get("delete_on_termination", True):
                tx.delete(eni)
            else:
                eni.attachment = None
                eni.status = "available"
                eni.owner_kind = ""
                eni.owner_id = ""
                tx.put(eni)
    tx.put(inst)


def mark_load_balancer_active(tx: Transaction, lb_arn: str) -> bool:
    """`provisioning` -> `active`: the NLB's nodes exist. True if it changed."""
    lb = tx.get(LoadBalancer, lb_arn)
    if lb is None or lb.state != "provisioning":
        return False
    lb.state = "active"
    tx.put(lb)
    return True


def record_health(tx: Transaction, tg_arn: str, target_id: str, port: int, state: str,
                  reason: str | None, description: str | None, now: float) -> TargetHealth | None:
    """Store what a health check of one registered target observed, in the target group's
    account and region, and return the record.

    `state` is one of `TARGET_HEALTH_STATES` (a check observes `initial | healthy |
    unhealthy | unavailable`); `reason` and `description` are AWS's
    (`Elb.InitialHealthChecking`, `Target.Timeout`, …; None for healthy). A result for a
    target that is not registered (any more) is ignored and returns None, so a late check
    cannot bring a deregistered target back."""
    if state not in TARGET_HEALTH_STATES:
        raise ValueError(f"unknown target health state {state!r}")
    tg = tx.get(TargetGroup, tg_arn)
    if tg is None or not any(t.id == target_id and t.port == port for t in tg.targets):
        return None
    rec = TargetHealth(
        id=health_id(tg_arn, target_id, port), account=tg.account, region=tg.region,
        target_group_arn=tg_arn, target_id=target_id, port=port, state=state,
        reason=reason, description=description, observed=now,
    )
    tx.put(rec)
    return rec


def mark_endpoint_available(tx: Transaction, endpoint_id: str, now: float) -> bool:
    """`pending` -> `available`: the endpoint's ENIs forward. True if it changed; nothing
    in any other state (a rejection or deletion won)."""
    ep = tx.get(Endpoint, endpoint_id)
    if ep is None or ep.state != "pending":
        return False
    ep.state = "available"
    ep.state_changed = now
    tx.put(ep)
    return True


def mark_endpoint_deleted(tx: Transaction, endpoint_id: str, now: float) -> bool:
    """`deleting` -> `deleted`: the endpoint's forwarding is torn down; its ENIs are
    removed. True if it changed."""
    ep = tx.get(Endpoint, endpoint_id)
    if ep is None or ep.state != "deleting":
        return False
    for eni in tx.list(NetworkInterface, owner_kind="vpc-endpoint", owner_id=ep.id):
        tx.delete(eni)
    ep.network_interface_ids = []
    ep.state = "deleted"
    ep.state_changed = now
    tx.put(ep)
    return True
