"""How long does a one-element change to an nft map take, in-process vs `nft -f`?

Run as root: ``python benchmarks/nft_apply.py``. For maps holding 1, 100 and 1000
entries, measures (a) an element update through libnftables on a thread inside the
namespace (what `NftContext.apply` sends when only elements change), (b) the same
update by forking ``nft -f`` (``ip netns exec`` + nft), and (c) an in-process full table
replace, to show why element updates matter as tables grow.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from vpclab.kernel import naming, netns  # noqa: E402
from vpclab.kernel.nft import NftChain, NftContext, NftSet, NftTable, render_replace, render_update

ROUNDS = 50


def table(prefix: str, n: int) -> NftTable:
    elems = {f"10.{i // 65536}.{i // 256 % 256}.{i % 256} . 80": "172.31.0.10 . 8080" for i in range(n)}
    return NftTable(
        "ip",
        f"{prefix}-bench",
        sets=(NftSet.map("backends", "ipv4_addr . inet_service", "ipv4_addr . inet_service", elems),),
        chains=(
            NftChain("prerouting", ("dnat ip to ip daddr . tcp dport map @backends",), "nat", "prerouting", "dstnat", "accept"),
        ),
    )


def toggle_scripts(base: NftTable) -> tuple[str, str]:
    """Script adding one extra element, and script removing it again."""
    s = base.sets[0]
    more = NftTable(base.family, base.name, (NftSet.map(s.name, s.type, s.map_type or "", {**s.elements, "192.0.2.1 . 80": "172.31.0.11 . 8080"}),), base.chains)
    return render_update(base, more), render_update(more, base)


def ms(samples: list[float]) -> str:
    return f"median {statistics.median(samples) * 1e3:7.3f} ms  p90 {sorted(samples)[int(len(samples) * 0.9)] * 1e3:7.3f} ms"


def main() -> None:
    if os.geteuid() != 0:
        sys.exit("run as root: it creates a network namespace")
    prefix = naming.prefix_for_state_dir(tempfile.mkdtemp(prefix="vpclab-bench-"))
    ns = f"{prefix}-bench"
    netns.create(ns)
    worker = netns.NamespaceThread(ns)
    try:
        ctx = worker.call(NftContext, ns)
        print(f"one-element map change, {ROUNDS} rounds each (namespace {ns})")
        for n in (1, 100, 1000):
            base = table(prefix, n)
            worker.call(ctx.run, render_replace(base))
            add, remove = toggle_scripts(base)

            inproc = []
            for i in range(ROUNDS):
                script = add if i % 2 == 0 else remove
                t = time.perf_counter()
                worker.call(ctx.run, script)
                inproc.append(time.perf_counter() - t)
            if ROUNDS % 2:
                worker.call(ctx.run, remove)

            sub = []
            for i in range(ROUNDS):
                script = add if i % 2 == 0 else remove
                with tempfile.NamedTemporaryFile("w", suffix=".nft") as f:
                    f.write(script)
                    f.flush()
                    t = time.perf_counter()
                    subprocess.run(["ip", "netns", "exec", ns, "nft", "-f", f.name], check=True)
                    sub.append(time.perf_counter() - t)

            full = []
            full_script = render_replace(base)
            for _ in range(min(ROUNDS, 20)):
                t = time.perf_counter()
                worker.call(ctx.run, full_script)
                full.append(time.perf_counter() - t)

            print(f"  {n:5d} entries  libnftables in-process element update: {ms(inproc)}")
            print(f"  {n:5d} entries  nft -f subprocess element update:      {ms(sub)}")
            print(f"  {n:5d} entries  libnftables in-process full replace:   {ms(full)}")
    finally:
        worker.close()
        netns.delete(ns)


if __name__ == "__main__":
    main()
