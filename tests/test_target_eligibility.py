"""One rule decides which registered targets receive new flows (`model.targets`): the
NLB's forwarding set (and so its nft maps), the health checks and DescribeTargetHealth
agree, for every instance state. Plan level (no root) over a hand-built World, and
DescribeTargetHealth over a real store holding that World."""
from __future__ import annotations

import pytest

from tests.helpers.worlds import LB_ARN, PREFIX, TG_ARN, plan_of, provider_world, set_health
from vpclab.control.elbv2.target_health import describe
from vpclab.dataplane.agents import health
from vpclab.dataplane.areas import nodes
from vpclab.kernel import naming
from vpclab.model import KINDS, targets
from vpclab.model.elbv2 import RegisteredTarget
from vpclab.store import open_store

ROUTER = naming.namespace_name(PREFIX, "vpc-p")
STATES = ["pending", "running", "stopping", "stopped", "shutting-down", "terminated"]


def world_with_b(state: str):
    """Both targets healthy, cross-zone on (each node may send to both); i-b in `state`."""
    w = provider_world(cross_zone=True)
    set_health(w, "i-a", "healthy")
    set_health(w, "i-b", "healthy")
    w.instances["i-b"].state = state
    return w


def mapped_addresses(w) -> set[str]:
    """Target addresses of every node's bucket map in the router's nlb table."""
    table = {t.name: t for t in plan_of(w).namespace(ROUTER).nft}[f"{PREFIX}-nlb"]
    return {v.split(" . ")[0] for s in table.sets if s.name.startswith("be_") for v in s.elements.values()}


def reported(tmp_path, w) -> dict[str, tuple[str, str | None]]:
    """DescribeTargetHealth's (State, Reason) per target id, from a store holding `w`."""
    store = open_store(tmp_path / "state", KINDS)
    try:
        with store.write() as tx:
            for table in (w.vpcs, w.subnets, w.instances, w.enis, w.load_balancers, w.target_groups,
                          w.listeners, w.target_health):
                for obj in table.values():
                    tx.put(obj)
        with store.read() as tx:
            tg = tx.get(type(w.target_groups[TG_ARN]), TG_ARN)
            return {d["Target"]["Id"]: (d["TargetHealth"]["State"], d["TargetHealth"].get("Reason"))
                    for d in describe(tx, tg)}
    finally:
        store.close()


@pytest.mark.parametrize("state", STATES)
def test_only_running_instances_receive_flows_and_checks(tmp_path, state):
    w = world_with_b(state)
    w.load_balancers[LB_ARN].state = "active"
    lb, tg = w.load_balancers[LB_ARN], w.target_groups[TG_ARN]
    b_ip = "172.31.0.20"
    flows = any(b_ip in {ip for ip, _ in nodes.forwarding_set(w, lb, m, tg)} for m in lb.mappings)
    mapped = b_ip in mapped_addresses(w)
    checked = any(key[1] == "i-b" for key in health.desired_checks(w, PREFIX))
    shown, reason = reported(tmp_path, w)["i-b"]
    running = state == "running"
    assert (flows, mapped, checked) == (running, running, running)
    if running:
        assert shown == "healthy"
    elif state in ("shutting-down", "terminated"):
        # ELB deregisters a terminating instance itself: it drains.
        assert (shown, reason) == ("draining", "Target.DeregistrationInProgress")
    else:
        assert (shown, reason) == ("unused", "Target.InvalidState")
    # i-a is untouched by i-b's state.
    assert "172.31.32.20" in mapped_addresses(w)
    assert reported(tmp_path / "a", w)["i-a"] == ("healthy", None)


def test_a_draining_target_gets_no_new_flows_nor_checks(tmp_path):
    w = world_with_b("running")
    w.load_balancers[LB_ARN].state = "active"
    w.target_groups[TG_ARN].targets[1].deregistering_since = 30.0
    assert "172.31.0.20" not in mapped_addresses(w)
    assert not any(key[1] == "i-b" for key in health.desired_checks(w, PREFIX))
    assert reported(tmp_path, w)["i-b"][0] == "draining"


def test_the_rule_itself():
    w = world_with_b("pending")
    tg = w.target_groups[TG_ARN]
    a, b = tg.targets
    assert targets.flow_address(tg, a, w.instances.get) == "172.31.32.20"
    assert targets.exclusion(tg, a, w.instances.get) is None
    assert targets.flow_address(tg, b, w.instances.get) is None
    assert targets.exclusion(tg, b, w.instances.get) == targets.NOT_RUNNING
    # An instance gone altogether was terminated: ELB deregisters it, so it drains (then leaves).
    assert targets.exclusion(tg, RegisteredTarget(id="i-gone", port=80), w.instances.get) == targets.DRAINING
    tg.target_type = "ip"
    assert targets.flow_address(tg, RegisteredTarget(id="10.0.0.5", port=80), w.instances.get) == "10.0.0.5"
    tg.target_type = "alb"
    assert targets.exclusion(tg, a, w.instances.get) == targets.NO_ADDRESS
