"""How long one change takes to reach the kernel with 1, 100 and 1,000 endpoints on one service.

Run as root:  python3 benchmarks/endpoint_scale.py [--sizes 1,100,1000] [--repeat 3]

In-process, the reconciler's own path without the server: a Store in a temp directory
filled directly with model objects (provider VPC, one NLB node, a TCP:80 listener, an
endpoint service; consumer VPCs of 50 endpoints each, the AWS quota), then
`World.snapshot` -> `build_plan` (the four areas) -> `Backend.apply` -> the areas'
`observe`, on a Backend with a prefix of its own. Per size it times:

- `accept`: one more endpoint becomes forwarding (a veth pair from its subnet bridge into
  the provider router holding the node, its proxy neighbour entry, routing table and ip
  rule, and elements: its forwarding pair, SNAT source, zone, mark, SG verdict);
- `rule`: one rule added to the endpoints' security group (the router's endpoint SG
  table replaced: the group chains of every link ending there live in it);
- `idle`: a change pass with nothing to do (the fixed cost every change pays too);
- `full`: a full pass with nothing to do (every namespace read; the runtime runs one
  every `runtime.FULL_PERIOD` seconds so hand-made damage is repaired);
- `tables`: what a full pass pays to read every owned nft table back from the kernel
  (`NftContext.verified`: one JSON listing per table, compared with what was applied)
  against trusting what it applied (`NftContext.known`), over all namespaces.

`accept`, `rule` and `idle` are change passes (``Backend.apply(plan, full=False)``), as
the runtime runs them after a store change. The first `accept` per size also makes a new
consumer VPC namespace (the extra endpoints go to VPC 2000+); the later ones are one
endpoint more in that VPC. After each size a full pass must find nothing to do (the
change passes missed nothing).

Each figure is split into snapshot+plan and apply. Sizes grow in place (1 -> 100 ->
1000); growth stops once a full pass exceeds `--budget` seconds. Everything is removed
at the end (`Backend.destroy`), also on error, ^C or SIGTERM. No packet is sent.

History: before change passes, `LinuxKernel.veth_connects` dumped all links of both
namespaces for every declared veth on every pass, O(veths x links): an idle pass took
~0.03 s at 1 endpoint, ~1 s at 10, ~5.5 s at 25, ~17 s at 50. Now pairing is judged from
the one dump per namespace (nsids cached), each namespace is read once per pass, and a
change pass reads only what changed (see `vpclab/kernel/backend.py`, "Cost").
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import signal
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpclab.dataplane.areas import (
    endpoints as desired_endpoints,
)
from vpclab.dataplane.areas import (
    load_balancers as desired_load_balancers,
)
from vpclab.dataplane.areas import (
    network as desired_network,
)
from vpclab.dataplane.areas import (
    security_groups as desired_security_groups,
)
from vpclab.dataplane.planner import build_plan  # noqa: E402
from vpclab.dataplane.world import World  # noqa: E402
from vpclab.kernel import naming, netns
from vpclab.kernel.backend import Backend  # noqa: E402
from vpclab.model import KINDS
from vpclab.model.dataplane import TransitLink  # noqa: E402
from vpclab.model.ec2 import NetworkInterface, SecurityGroup, SecurityGroupRule, Subnet, Vpc  # noqa: E402
from vpclab.model.elbv2 import (  # noqa: E402
    Listener,
    LoadBalancer,
    RegisteredTarget,
    SubnetMapping,
    TargetGroup,
)
from vpclab.model.privatelink import Endpoint, EndpointService  # noqa: E402
from vpclab.store import open_store  # noqa: E402

R, A1, A2 = "ap-south-1", "111111111111", "222222222222"
LB = f"arn:aws:elasticloadbalancing:{R}:{A1}:loadbalancer/net/bench/0123456789abcdef"
TG = f"arn:aws:elasticloadbalancing:{R}:{A1}:targetgroup/bench/0123456789abcdef"
PER_VPC = 50
CONTRIBUTORS = [desired_network.contribute, desired_security_groups.contribute,
                desired_load_balancers.contribute, desired_endpoints.contribute]


def provider(tx) -> None:
    tx.put(Vpc(id="vpc-provider", account=A1, region=R, cidr_block="172.31.0.0/16"))
    tx.put(Subnet(id="subnet-provider", account=A1, region=R, vpc_id="vpc-provider", cidr_block="172.31.32.0/20",
                  availability_zone="ap-south-1a", availability_zone_id="aps1-az1"))
    tx.put(NetworkInterface(id="eni-node", account=A1, region=R, vpc_id="vpc-provider", subnet_id="subnet-provider",
                            private_ip="172.31.32.100", owner_kind="load-balancer", owner_id=LB))
    tx.put(LoadBalancer(id=LB, account=A1, region=R, name="bench", vpc_id="vpc-provider", state="active", mappings=[
        SubnetMapping(zone="ap-south-1a", zone_id="aps1-az1", subnet_id="subnet-provider",
                      network_interface_id="eni-node", private_ip="172.31.32.100")]))
    tx.put(TargetGroup(id=TG, account=A1, region=R, name="bench", port=80, vpc_id="vpc-provider", target_type="ip",
                       targets=[RegisteredTarget(id="172.31.32.20", port=80, availability_zone="ap-south-1a")]))
    tx.put(Listener(id="lst", account=A1, region=R, load_balancer_arn=LB, protocol="TCP", port=80,
                    default_actions=[{"Type": "forward", "TargetGroupArn": TG}]))
    tx.put(EndpointService(id="vpce-svc-bench", account=A1, region=R, network_load_balancer_arns=[LB]))


def add_endpoint(tx, n: int, index: int | None = None) -> None:
    """Endpoint n, available, its ENI in consumer VPC n // 50, its link numbered `index`
    (by default n)."""
    vpc = f"vpc-c{n // PER_VPC:04d}"
    if tx.get(Vpc, vpc) is None:
        tx.put(Vpc(id=vpc, account=A2, region=R, cidr_block="172.31.0.0/16"))
        tx.put(Subnet(id=f"subnet-{vpc}", account=A2, region=R, vpc_id=vpc, cidr_block="172.31.32.0/20",
                      availability_zone="ap-south-1a", availability_zone_id="aps1-az1"))
        tx.put(SecurityGroup(id=f"sg-{vpc}", account=A2, region=R, vpc_id=vpc, rules=[
            SecurityGroupRule(id="sgr-80", egress=False, protocol="tcp", from_port=80, to_port=80,
                              cidr_ipv4="172.31.0.0/16")]))
    eid, eni = f"vpce-{n:05d}", f"eni-ep{n:05d}"
    tx.put(NetworkInterface(id=eni, account=A2, region=R, vpc_id=vpc, subnet_id=f"subnet-{vpc}",
                            private_ip=f"172.31.40.{n % PER_VPC + 10}", security_group_ids=[f"sg-{vpc}"],
                            owner_kind="vpc-endpoint", owner_id=eid))
    tx.put(Endpoint(id=eid, account=A2, region=R, vpc_id=vpc, service_id="vpce-svc-bench", state="available",
                    subnet_ids=[f"subnet-{vpc}"], network_interface_ids=[eni], security_group_ids=[f"sg-{vpc}"]))
    tx.put(TransitLink(id=eni, account=A2, region=R, index=n if index is None else index, endpoint_id=eid))


class Loop:
    def __init__(self, store, backend: Backend):
        self.store, self.backend = store, backend
        self.dp = SimpleNamespace(store=store, prefix=backend.prefix)

    def once(self, full: bool = False) -> tuple[float, float, int]:
        """(snapshot+plan seconds, apply seconds, actions) of one pass: a change pass (what
        the runtime runs after a store change) or a full one (its periodic resync)."""
        t0 = time.perf_counter()
        world = World.snapshot(self.store)
        plan = build_plan(world, self.backend.prefix, CONTRIBUTORS)
        t1 = time.perf_counter()
        actions = self.backend.apply(plan, full=full)
        t2 = time.perf_counter()
        desired_endpoints.observe(world, self.dp, time.time())
        desired_load_balancers.observe(world, self.dp, time.time())
        return t1 - t0, t2 - t1, len(actions)


def table_reads(backend: Backend) -> str:
    """The owned tables of every namespace listed trusting the cache, then read back."""
    kernel, prefix = backend.kernel, backend.prefix

    def owns(name: str) -> bool:
        return naming.owns_table(prefix, name)

    trusted = read = 0.0
    tables = elements = 0
    for ns in sorted(kernel.namespaces()):
        t0 = time.perf_counter()
        kernel.nft_call(ns, lambda ctx: ctx.owned_tables(owns))
        t1 = time.perf_counter()
        found = kernel.nft_call(ns, lambda ctx: ctx.owned_tables(owns, verify=True))
        read += time.perf_counter() - t1
        trusted += t1 - t0
        assert all(t is not None for t in found.values()), "a table differs from what was applied"
        tables += len(found)
        elements += sum(len(s.elements) for t in found.values() for s in t.sets)
    return (f"trusted {trusted * 1e3:7.1f} ms, read back {read * 1e3:7.1f} ms "
            f"({tables} tables, {elements} elements)")


def fmt(plan_s: float, apply_s: float, actions: int) -> str:
    return f"{(plan_s + apply_s) * 1e3:9.1f} ms  (plan {plan_s * 1e3:7.1f}, apply {apply_s * 1e3:8.1f}, {actions} actions)"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="1,100,1000")
    parser.add_argument("--budget", type=float, default=20.0,
                        help="stop growing once a full pass takes longer than this many seconds")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the top of a profile of the largest 'accept'")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # so `finally` cleans up
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory(prefix="vpclab-bench-") as tmp:
        prefix = naming.prefix_for_state_dir(Path(tmp) / "state")
        store = open_store(Path(tmp) / "state", KINDS)
        backend = Backend.linux(prefix)
        loop = Loop(store, backend)
        try:
            with store.write() as tx:
                provider(tx)
            have = 0
            print(f"prefix {prefix}; one NLB node, endpoints in consumer VPCs of {PER_VPC}")
            for size in sizes:
                t0 = time.perf_counter()
                with store.write() as tx:
                    for n in range(have, size):
                        add_endpoint(tx, n)
                have = size
                while loop.once()[2]:
                    pass
                print(f"\n{size} endpoints (set up in {time.perf_counter() - t0:.1f} s, "
                      f"{len(netns.list_namespaces(prefix))} namespaces)")
                for _ in range(args.repeat):
                    print("  idle  ", fmt(*loop.once()))
                fulls = []
                for _ in range(args.repeat):
                    fulls.append(loop.once(full=True))
                    print("  full  ", fmt(*fulls[-1]))
                for _ in range(args.repeat):
                    print("  tables", table_reads(backend))
                if fulls[-1][1] > args.budget:
                    print(f"  a full pass takes > {args.budget:.0f} s: not growing further")
                    break
                for i in range(args.repeat):
                    with store.write() as tx:
                        # one more: accept (its link takes the next free number)
                        add_endpoint(tx, 100_000 + size * 10 + i, index=size + i)
                    profiler = cProfile.Profile() if args.profile and size == sizes[-1] and i == 0 else None
                    if profiler:
                        profiler.enable()
                    print("  accept", fmt(*loop.once()))
                    if profiler:
                        profiler.disable()
                        out = io.StringIO()
                        pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(18)
                        print(out.getvalue())
                for i in range(args.repeat):
                    with store.write() as tx:
                        g = tx.get(SecurityGroup, "sg-vpc-c0000")
                        port = 8000 + len(g.rules)
                        g.rules.append(SecurityGroupRule(id=f"sgr-{size}-{i}", egress=False, protocol="tcp",
                                                         from_port=port, to_port=port, cidr_ipv4="10.0.0.0/8"))
                        tx.put(g)
                    print("  rule  ", fmt(*loop.once()))
                with store.write() as tx:  # the extra endpoints leave again
                    for i in range(args.repeat):
                        n = 100_000 + size * 10 + i
                        tx.delete(tx.get(Endpoint, f"vpce-{n:05d}"))
                        tx.delete(tx.get(NetworkInterface, f"eni-ep{n:05d}"))
                        tx.delete(tx.get(TransitLink, f"eni-ep{n:05d}"))
                while loop.once()[2]:
                    pass
                assert loop.once(full=True)[2] == 0, "a full pass found something the change passes missed"
        finally:
            t0 = time.perf_counter()
            backend.destroy()
            backend.close()
            store.close()
            left = netns.list_namespaces(prefix)
            print(f"\ncleaned up in {time.perf_counter() - t0:.1f} s; namespaces left: {len(left)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
