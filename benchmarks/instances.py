"""Boot time of real instances (RunInstances -> nginx answering) for 1, 10 and 50 at once,
and the memory of an idle instance with its sshd and nginx.

Run as root:  python3 benchmarks/instances.py [--sizes 1,10,50] [--timeout 120] [--json]

One command. It starts its own server (temporary state directory, free port, data plane
on) and, in the default VPC, one client instance. Then per size: one RunInstances call
for that many instances with the user data an Amazon Linux user writes
(`systemctl enable --now nginx`), in a security group that admits HTTP from the VPC; the
clock runs from the call until every new instance's nginx has answered a curl sent from
inside the client instance (`ip netns exec`, never from the host). The instances of the
largest size are then left idle for `--settle` seconds and measured: the proportional
set size (PSS, /proc/<pid>/smaps_rollup) of every process in each instance's cgroup,
summed per instance — what an instance costs the machine, shared pages shared out. The
instances of each size are terminated before the next (and waited for).

Target (issue 13): 50 instances all serving within 30 s on this machine (2 cores).
At the end, also on error, the server is stopped (by its pid) and `vpclab down` removes
every namespace, process and cgroup of the state directory.
"""
from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from _harness import free_port  # benchmarks/_harness.py (puts the repository on sys.path)

from tests.helpers.server import ServerProcess
from vpclab.kernel import naming, netns
from vpclab.kernel.cgroups import Cgroup

TARGET_50 = 30.0
USER_DATA = "#!/bin/bash\nsystemctl enable --now nginx\n"


def pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def wait_running(ec2, ids: list[str], timeout: float) -> None:
    ec2.get_waiter("instance_running").wait(
        InstanceIds=ids, WaiterConfig={"Delay": 0.2, "MaxAttempts": int(timeout / 0.2)})


def serving(prefix: str, client: str, ips: list[str], timeout: float) -> float:
    """Seconds until every ip answered HTTP 200 to a curl from inside `client`."""
    start = time.monotonic()
    left = set(ips)
    ns = naming.namespace_name(prefix, client)
    script = 'for ip in "$@"; do c=$(curl -s -o /dev/null -m 1 -w "%{http_code}" "http://$ip/"); ' \
             '[ "$c" = 200 ] && echo "$ip"; done; true'
    while left:
        if time.monotonic() - start > timeout:
            raise SystemExit(f"instances.py: {len(left)} of {len(ips)} instances not serving after {timeout:.0f} s")
        out = netns.run(ns, ["sh", "-c", script, "probe", *sorted(left)], timeout=timeout)
        left -= set(out.stdout.split())
        if left:
            time.sleep(0.05)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", default="1,10,50")
    ap.add_argument("--timeout", type=float, default=120.0)
    ap.add_argument("--settle", type=float, default=5.0)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-instances-"))
    srv = ServerProcess(tmp / "state", free_port(), dataplane=True)
    results: dict[str, object] = {"sizes": {}}
    try:
        srv.start()
        prefix = naming.prefix_for_state_dir(srv.state_dir)
        ec2 = srv.client("ec2")
        vpc = ec2.describe_vpcs()["Vpcs"][0]
        subnet = sorted(ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["Subnets"],
                        key=lambda s: s["AvailabilityZone"])[0]["SubnetId"]
        group = ec2.create_security_group(GroupName="web", Description="web", VpcId=vpc["VpcId"])["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": vpc["CidrBlock"]}]}])
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        client = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                   SubnetId=subnet)["Instances"][0]["InstanceId"]
        wait_running(ec2, [client], args.timeout)
        for n in sizes:
            t0 = time.monotonic()
            insts = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=n, MaxCount=n,
                                      SubnetId=subnet, SecurityGroupIds=[group], UserData=USER_DATA)["Instances"]
            ids = [i["InstanceId"] for i in insts]
            ips = [i["PrivateIpAddress"] for i in insts]
            wait_running(ec2, ids, args.timeout)
            running = time.monotonic() - t0
            serving(prefix, client, ips, args.timeout - running)
            total = time.monotonic() - t0
            figures: dict[str, float] = {"running_s": round(running, 2), "serving_s": round(total, 2)}
            if n == max(sizes):
                time.sleep(args.settle)
                per = []
                for iid in ids:
                    pids = Cgroup.of_instance(prefix, iid).pids()
                    per.append(sum(pss_kib(p) for p in pids) / 1024)
                figures["idle_pss_mib_median"] = round(statistics.median(per), 1)
                figures["idle_pss_mib_max"] = round(max(per), 1)
                figures["processes_per_instance"] = round(
                    statistics.mean(len(Cgroup.of_instance(prefix, i).pids()) for i in ids), 1)
            results["sizes"][str(n)] = figures  # type: ignore[index]
            if not args.json:
                extra = ""
                if "idle_pss_mib_median" in figures:
                    extra = (f"; idle instance: {figures['idle_pss_mib_median']} MiB PSS median "
                             f"(max {figures['idle_pss_mib_max']}), {figures['processes_per_instance']} processes")
                print(f"{n:3d} instance(s): all running in {running:5.2f} s, all serving in {total:5.2f} s{extra}",
                      flush=True)
            ec2.terminate_instances(InstanceIds=ids)
            ec2.get_waiter("instance_terminated").wait(InstanceIds=ids,
                                                       WaiterConfig={"Delay": 0.5, "MaxAttempts": 240})
        if str(50) in results["sizes"]:  # type: ignore[operator]
            took = results["sizes"]["50"]["serving_s"]  # type: ignore[index]
            results["target_50_s"] = TARGET_50
            results["met"] = took <= TARGET_50
            if not args.json:
                print(f"target: 50 serving within {TARGET_50:.0f} s: {'met' if took <= TARGET_50 else 'MISSED'} "
                      f"({took:.2f} s)")
        if args.json:
            print(json.dumps(results, indent=2))
        return 0
    finally:
        srv.stop()
        from vpclab.commands.down import tear_down
        tear_down(srv.state_dir)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
