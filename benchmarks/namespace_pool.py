"""What a full pass costs with N instance namespaces, for several numbers of namespace threads kept.

Run as root:  python3 benchmarks/namespace_pool.py [--count 500] [--sizes 100000,64] [--passes 3]

In-process, without the server: one VPC router namespace with a subnet bridge and
`--count` instance namespaces, each with an `eth0` veth to the bridge, a default route
and a security-group table whose set holds every instance's address (as the default
group admits its own members). The plan is applied once to make it all; then, per entry
of `--sizes` (`LinuxKernel(max_threads=...)`; 100000 = one thread per namespace, the
design before issue 10), a new kernel runs `--passes` full passes with nothing to do
and the run prints their durations and the process's files and threads. A new kernel's
first pass replaces every table once (what it applied is per process): it is printed
apart. With one thread per namespace, libnftables needs a low descriptor per namespace:
the run takes `--count` + 100 placeholders (`lowfd.RESERVE`) first. Everything is
removed at the end (`Backend.destroy`), also on error, ^C or SIGTERM. No packet is sent.
"""
from __future__ import annotations

import argparse
import os
import signal
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import start_as_root  # benchmarks/_harness.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from vpclab.kernel import Backend, lowfd, naming, netns  # noqa: E402
from vpclab.kernel.linux import LinuxKernel  # noqa: E402
from vpclab.kernel.nft import NftChain, NftSet, NftTable  # noqa: E402
from vpclab.kernel.topology import Bridge, Interface, Namespace, Plan, Route, VethPair  # noqa: E402


def plan_of(prefix: str, count: int) -> Plan:
    ips = [f"172.31.{k // 250}.{k % 250 + 4}" for k in range(count)]
    table = NftTable("inet", naming.table_name(prefix, "sg"), (NftSet.of("members", "ipv4_addr", ips),), (
        NftChain("input", ("ip saddr @members accept",), "filter", "input", 0, "drop"),
    ))
    bridge = naming.bridge_name(prefix, "subnet-bench")
    veths, instances = [], []
    for k, ip in enumerate(ips):
        iid = f"i-{k:05d}"
        name = naming.namespace_name(prefix, iid)
        veths.append(VethPair(Interface(naming.veth_name(prefix, iid), master=bridge), name,
                              Interface("eth0", (f"{ip}/20",))))
        instances.append(Namespace(name, routes=(Route("default", via="172.31.0.1"),), nft=(table,)))
    router = Namespace(naming.namespace_name(prefix, "vpc-bench"), bridges=(Bridge(bridge, ("172.31.0.1/20",)),),
                       veths=tuple(veths), sysctls={"net.ipv4.ip_forward": "1"})
    return Plan(prefix, (router, *instances))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500, help="instance namespaces")
    parser.add_argument("--sizes", default="100000,64", help="max_threads values, comma-separated")
    parser.add_argument("--passes", type=int, default=3, help="timed full passes per size")
    args = parser.parse_args()
    if not start_as_root("namespace_pool.py"):
        return 2
    lowfd.RESERVE = max(lowfd.RESERVE, args.count + 100)
    lowfd.reserve()
    tmp = tempfile.mkdtemp(prefix="vpclab-bench-pool-")  # names the prefix; nothing is written there
    prefix = naming.prefix_for_state_dir(tmp + "/state")
    plan = plan_of(prefix, args.count)
    code = 0
    print(f"prefix {prefix}: 1 router + {args.count} instance namespaces; load {os.getloadavg()[0]:.1f}")
    try:
        with Backend(LinuxKernel(prefix, max_threads=100000)) as b:
            t = time.perf_counter()
            b.apply(plan)
            print(f"made in {time.perf_counter() - t:.2f} s")
        for size in (int(s) for s in args.sizes.split(",")):
            with Backend(LinuxKernel(prefix, max_threads=size)) as b:
                t = time.perf_counter()
                first = b.apply(plan)
                first_s = time.perf_counter() - t
                times = []
                for _ in range(args.passes):
                    t = time.perf_counter()
                    done = b.apply(plan)
                    times.append(time.perf_counter() - t)
                    if done:
                        raise AssertionError(f"a full pass with nothing to do did {len(done)} actions")
                files = len(os.listdir("/proc/self/fd"))
                threads = sum(1 for th in threading.enumerate() if th.name.startswith("netns-"))
                print(f"max_threads {size:>6}: full passes {', '.join(f'{x:.2f}' for x in times)} s "
                      f"(first {first_s:.2f} s, {len(first)} tables replaced); {files} files "
                      f"({len(lowfd._reserve)} placeholders), {threads} namespace threads")
    except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        code = 143 if isinstance(exc, SystemExit) else 1
        print(f"FAILED: {type(exc).__name__}: {exc}", file=sys.stderr)
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        with Backend(LinuxKernel(prefix)) as b:
            b.destroy()
        os.rmdir(tmp)
        left = netns.list_namespaces(prefix)
        print(f"cleanup: namespaces left {len(left)}")
        code = code or (1 if left else 0)
    return code


if __name__ == "__main__":
    sys.exit(main())
