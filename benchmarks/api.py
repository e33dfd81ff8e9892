"""API throughput: vpclab against moto, the same fixed mix of boto3 calls on each.

    python benchmarks/api.py [--iterations 60] [--warmup 5]

Starts a vpclab server and a moto server (subprocesses, free ports, temporary state
directory), runs one client sequentially against each, prints calls/s, median and p99
latency per server and the vpclab/moto ratio, then stops exactly the processes it started.

The mix is fixed per iteration (printed before the run). A step is used only if vpclab
implements the operation (read from the operation registry) and moto answers it in a
probe; whatever is left out is printed too. Every vpclab write is durable (SQLite WAL,
synchronous=FULL) before its response is sent; moto keeps state in memory only.
"""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import boto3
import botocore.exceptions
from _harness import free_port  # benchmarks/_harness.py
from botocore.config import Config

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import vpclab.control  # noqa: E402,F401  (registers every operation handler)
from vpclab.protocol.dispatch import implemented  # noqa: E402

REGION = "us-east-1"
ACCOUNT = "111111111111"


# Servers ------------------------------------------------------------------------------
@dataclass
class Server:
    name: str
    argv: list[str]
    port: int
    ready: Callable[["Server"], bool]
    env: dict = field(default_factory=dict)
    proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> "Server":
        self.proc = subprocess.Popen(self.argv, cwd=ROOT, env={**os.environ, **self.env},
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}")
            if self.ready(self):
                return self
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not become ready in {timeout}s")

    def stop(self) -> None:
        """Stop the process this object started (by its pid), and nothing else."""
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def client(self, service: str):
        return boto3.client(service, endpoint_url=self.url, region_name=REGION,
                            aws_access_key_id=ACCOUNT, aws_secret_access_key="x",
                            config=Config(retries={"max_attempts": 1}))


def _http_ok(path: str) -> Callable[[Server], bool]:
    def ready(srv: Server) -> bool:
        try:
            with urllib.request.urlopen(srv.url + path, timeout=1) as resp:
                return resp.status < 500
        except urllib.error.HTTPError as err:
            return err.code < 500
        except OSError:
            return False
    return ready


def vpclab_server(state_dir: Path, dataplane: bool = False) -> Server:
    port = free_port()
    return Server("vpclab", [sys.executable, "-m", "vpclab.cli", "server", "--port", str(port),
                             "--state-dir", str(state_dir),
                             "--dataplane" if dataplane else "--no-dataplane"],
                  port, _http_ok("/_vpclab/health"))


def moto_server() -> Server:
    port = free_port()
    return Server("moto", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                  port, _http_ok("/moto-api/"))


# The mix ------------------------------------------------------------------------------
@dataclass
class Step:
    service: str
    op: str
    mutating: bool
    build: Callable[[dict], dict]  # iteration state -> params
    keep: Callable[[dict, dict], None] = lambda st, out: None  # record ids from the output
    alt: "Step | None" = None  # used when this step is not available on both servers


def _sg_name(st):
    return f"bench-{st['i']}"


STEPS: list[Step] = [
    Step("ec2", "CreateVpc", True, lambda st: {"CidrBlock": "10.0.0.0/16"},
         lambda st, out: st.update(vpc=out["Vpc"]["VpcId"])),
    Step("ec2", "DescribeVpcs", False, lambda st: {"VpcIds": [st["vpc"]]}),
    Step("ec2", "CreateSubnet", True,
         lambda st: {"VpcId": st["vpc"], "CidrBlock": "10.0.1.0/24", "AvailabilityZone": REGION + "a"},
         lambda st, out: st.update(subnet=out["Subnet"]["SubnetId"]),
         alt=Step("ec2", "CreateTags", True,
                  lambda st: {"Resources": [st["vpc"]], "Tags": [{"Key": "n", "Value": str(st["i"])}]})),
    Step("ec2", "DescribeSubnets", False, lambda st: {"SubnetIds": [st["subnet"]]},
         alt=Step("ec2", "DescribeTags", False,
                  lambda st: {"Filters": [{"Name": "resource-id", "Values": [st["vpc"]]}]})),
    Step("ec2", "CreateTags", True,
         lambda st: {"Resources": [st["vpc"]], "Tags": [{"Key": "Name", "Value": f"bench-{st['i']}"}]}),
    Step("ec2", "CreateSecurityGroup", True,
         lambda st: {"GroupName": _sg_name(st), "Description": "bench", "VpcId": st["vpc"]},
         lambda st, out: st.update(sg=out["GroupId"])),
    Step("ec2", "AuthorizeSecurityGroupIngress", True,
         lambda st: {"GroupId": st["sg"], "IpPermissions": [
             {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]}]}),
    Step("ec2", "DescribeSecurityGroups", False, lambda st: {"GroupIds": [st["sg"]]}),
    Step("ec2", "DescribeAvailabilityZones", False, lambda st: {}),
    Step("ec2", "RunInstances", True,
         lambda st: {"ImageId": st["ami"], "InstanceType": "t3.micro", "MinCount": 1, "MaxCount": 1,
                     "SubnetId": st["subnet"], "SecurityGroupIds": [st["sg"]]},
         lambda st, out: st.update(instance=out["Instances"][0]["InstanceId"])),
    Step("ec2", "DescribeInstances", False, lambda st: {"InstanceIds": [st["instance"]]}),
    Step("ec2", "TerminateInstances", True, lambda st: {"InstanceIds": [st["instance"]]}),
    Step("elbv2", "CreateTargetGroup", True,
         lambda st: {"Name": f"bench-{st['i']}", "Protocol": "HTTP", "Port": 80, "VpcId": st["vpc"],
                     "TargetType": "ip"},
         lambda st, out: st.update(tg=out["TargetGroups"][0]["TargetGroupArn"])),
    Step("elbv2", "DescribeTargetGroups", False, lambda st: {"TargetGroupArns": [st["tg"]]}),
    Step("elbv2", "DeleteTargetGroup", True, lambda st: {"TargetGroupArn": st["tg"]}),
    # NLB and PrivateLink (issue 3): one NLB, its endpoint service, an endpoint to it.
    Step("elbv2", "CreateLoadBalancer", True,
         lambda st: {"Name": f"bench-{st['i']}", "Type": "network", "Scheme": "internal",
                     "Subnets": [st["subnet"]]},
         lambda st, out: st.update(lb=out["LoadBalancers"][0]["LoadBalancerArn"])),
    Step("elbv2", "DescribeLoadBalancers", False, lambda st: {"LoadBalancerArns": [st["lb"]]}),
    Step("ec2", "CreateVpcEndpointServiceConfiguration", True,
         lambda st: {"NetworkLoadBalancerArns": [st["lb"]], "AcceptanceRequired": True},
         lambda st, out: st.update(svc=out["ServiceConfiguration"]["ServiceId"],
                                   svc_name=out["ServiceConfiguration"]["ServiceName"])),
    Step("ec2", "ModifyVpcEndpointServicePermissions", True,
         lambda st: {"ServiceId": st["svc"], "AddAllowedPrincipals": ["arn:aws:iam::111111111111:root"]}),
    Step("ec2", "DescribeVpcEndpointServices", False, lambda st: {"ServiceNames": [st["svc_name"]]}),
    Step("ec2", "CreateVpcEndpoint", True,
         lambda st: {"VpcEndpointType": "Interface", "VpcId": st["vpc"], "ServiceName": st["svc_name"],
                     "SubnetIds": [st["subnet"]]},
         lambda st, out: st.update(vpce=out["VpcEndpoint"]["VpcEndpointId"])),
    Step("ec2", "AcceptVpcEndpointConnections", True,
         lambda st: {"ServiceId": st["svc"], "VpcEndpointIds": [st["vpce"]]}),
    Step("ec2", "DescribeVpcEndpoints", False, lambda st: {"VpcEndpointIds": [st["vpce"]]}),
    Step("ec2", "DeleteVpcEndpoints", True, lambda st: {"VpcEndpointIds": [st["vpce"]]}),
    Step("ec2", "DeleteVpcEndpointServiceConfigurations", True, lambda st: {"ServiceIds": [st["svc"]]}),
    Step("elbv2", "DeleteLoadBalancer", True, lambda st: {"LoadBalancerArn": st["lb"]}),
    Step("ec2", "DescribeVpcs", False, lambda st: {"Filters": [{"Name": "tag:Name", "Values": [f"bench-{st['i']}"]}]}),
]


def pick_ami(srv: Server) -> str | None:
    ec2 = srv.client("ec2")
    try:
        images = ec2.describe_images(Owners=["amazon"])["Images"] or ec2.describe_images()["Images"]
    except botocore.exceptions.ClientError:
        return None
    x86 = [i for i in images if i.get("Architecture", "x86_64") == "x86_64"]
    return (x86 or images or [{}])[0].get("ImageId")


def resolve_mix(servers: list[Server]) -> tuple[list[Step], list[str]]:
    """The steps both servers can run, probed once on each (one iteration, in order)."""
    states = {s.name: {"i": 0, "ami": pick_ami(s)} for s in servers}
    chosen: list[Step] = []
    dropped: list[str] = []
    for step in STEPS:
        for candidate in (step, step.alt):
            if candidate is None:
                continue
            if candidate.op not in implemented(candidate.service):
                dropped.append(f"{candidate.service}:{candidate.op} (not in vpclab)")
                continue
            ok = True
            for srv in servers:
                st = states[srv.name]
                try:
                    params = candidate.build(st)
                    if any(v is None for v in params.values()):
                        raise KeyError("missing input")
                    out = srv.client(candidate.service)._make_api_call(candidate.op, params)
                    candidate.keep(st, out)
                except Exception as exc:  # a probe: any failure (moto answers some with a 500 page)
                    dropped.append(f"{candidate.service}:{candidate.op} ({srv.name}: {exc})"[:140])
                    ok = False
                    break
            if ok:
                chosen.append(candidate)
                break
    return chosen, dropped


# Running ------------------------------------------------------------------------------
@dataclass
class Result:
    name: str
    latencies: list[float]
    elapsed: float
    mutating: int

    @property
    def calls(self) -> int:
        return len(self.latencies)

    @property
    def rate(self) -> float:
        return self.calls / self.elapsed

    def pct(self, p: float) -> float:
        data = sorted(self.latencies)
        return data[min(len(data) - 1, int(round(p / 100 * (len(data) - 1))))] * 1000


def run_mix(srv: Server, mix: list[Step], iterations: int, warmup: int, offset: int) -> Result:
    clients = {svc: srv.client(svc) for svc in {s.service for s in mix}}
    st = {"ami": pick_ami(srv)}
    latencies: list[float] = []
    mutating = 0
    start = 0.0
    for i in range(-warmup, iterations):
        if i == 0:
            latencies.clear()
            mutating = 0
            start = time.perf_counter()
        st["i"] = offset + i + warmup
        for step in mix:
            params = step.build(st)
            t0 = time.perf_counter()
            out = clients[step.service]._make_api_call(step.op, params)
            latencies.append(time.perf_counter() - t0)
            mutating += step.mutating
            step.keep(st, out)
    return Result(srv.name, latencies, time.perf_counter() - start, mutating)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--iterations", type=int, default=60)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--dataplane", action="store_true",
                    help="run vpclab with its data plane (network namespaces; needs root). Off by "
                         "default: moto has none, so the comparison is control plane to control plane.")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-"))
    servers = [vpclab_server(tmp / "state", args.dataplane), moto_server()]
    try:
        for srv in servers:
            srv.start()
        mix, dropped = resolve_mix(servers)
        n_mut = sum(s.mutating for s in mix)
        print(f"Mix per iteration ({len(mix)} calls, {n_mut} mutating = {n_mut / len(mix):.0%}):")
        for s in mix:
            print(f"  {'W' if s.mutating else 'R'} {s.service}:{s.op}")
        if dropped:
            print("Left out (not available on both servers):")
            for d in dropped:
                print(f"  - {d}")
        print(f"{args.warmup} warm-up + {args.iterations} timed iterations per server, one sequential "
              f"boto3 client; vpclab fsyncs every write; vpclab data plane "
              f"{'ON' if args.dataplane else 'off'}.\n")
        results = [run_mix(srv, mix, args.iterations, args.warmup, offset=1000) for srv in servers]
    finally:
        for srv in servers:
            srv.stop()
        if args.dataplane:
            # Stopping a server leaves its data plane up (by design); remove what it made.
            from vpclab.commands.down import tear_down

            tear_down(tmp / "state")
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"{'server':<8} {'calls':>6} {'seconds':>8} {'calls/s':>9} {'median ms':>10} {'p99 ms':>8}"
          f" {'mutating':>9}")
    for r in results:
        print(f"{r.name:<8} {r.calls:>6} {r.elapsed:>8.2f} {r.rate:>9.1f} {r.pct(50):>10.2f} "
              f"{r.pct(99):>8.2f} {r.mutating / r.calls:>9.0%}")
    v, m = results
    ratio = v.rate / m.rate
    print(f"\nvpclab/moto calls/s ratio: {ratio:.2f}x (target >= 1.5x) "
          f"{'OK' if ratio >= 1.5 else 'BELOW TARGET'}")
    per_op: dict[str, list[list[float]]] = {}
    for r in results:
        for idx, lat in enumerate(r.latencies):
            step = mix[idx % len(mix)]
            per_op.setdefault(f"{step.service}:{step.op}", [[], []])[results.index(r)].append(lat)
    print(f"\n{'operation':<42} {'vpclab ms':>10} {'moto ms':>8}   (median)")
    for op, (a, b) in per_op.items():
        print(f"{op:<42} {statistics.median(a) * 1000:>10.2f} {statistics.median(b) * 1000:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
