"""Data-plane figures of a real vpclab: PrivateLink throughput, latency and time to forward.

Run as root:  python benchmarks/dataplane.py [--json] [--trials 20] [--requests 500]

One run makes its own state directory (a temp dir), its own server (data plane on,
VPCLAB_HEALTH_CHECK_SCALE=0.05 as the lab uses) and, through boto3 with the lab's two
accounts in ap-south-1:

- account 1 (provider), default VPC, zone a: `server` (nginx and `iperf3 -s -D` from its
  user data) and `pclient` (the direct-path client, same subnet); an NLB in every default
  subnet with TCP:80 and TCP:5201 listeners, each to a target group holding `server`
  alone (one target: iperf3's control and data connections hash independently); an
  endpoint service (acceptance required) allowing account 2;
- account 2 (consumer), default VPC, zone a: `cclient` and an interface endpoint in the
  zone-a subnet (security group: 80 and 5201 from 172.31.0.0/16).

Then it measures, every client running inside an instance through `vpclab exec`:

1. TCP throughput, `iperf3 -c ADDR -t 5 -J` (end.sum_received.bits_per_second):
   cclient -> endpoint ENI IP -> NLB -> server, beside pclient -> server (direct); also
   pclient -> NLB DNS name -> server (informative). Target: endpoint/direct >= 0.8.
2. Connection + request latency, a Python loop (connect, `GET / HTTP/1.0`, read to close,
   time.perf_counter per request) to nginx: cclient -> ENI IP:80 vs pclient -> server's
   private IP:80 (the consumer cannot reach the provider directly), also pclient -> NLB
   (informative). One client process per path runs in its instance for the whole
   measurement, and the paths take turns of 5 requests (order reversed every round), so
   that drift of the machine (other load, frequency) hits every path alike. Every client
   is pinned to the same CPU (`--latency-cpu`, default the last): unpinned, the scheduler
   places the clients of the two instances differently relative to nginx, which moved
   one path's p50 by up to 30 % between runs (the same topology measured 1.39 and 1.44
   unpinned, 1.26-1.29 pinned to either CPU). p50 and p99 per path over `--requests`
   each.
   Target: endpoint/direct <= 1.3 at p50.
3. Accept -> first forwarded request, `--trials` times: CreateVpcEndpoint (pendingAcceptance),
   wait for a data-plane pass to finish, start a poller in cclient (it first checks once
   that the ENI does *not* forward yet, prints `ready` and blocks on stdin), call
   AcceptVpcEndpointConnections, write `go` to the poller as soon as it returns; the poller
   opens a non-blocking connect to ENI IP:80 every 2 ms (each SYN sent while nothing
   forwards is dropped, so every attempt is a fresh socket) and reports the time from `go`
   to the first completed HTTP response. Then DeleteVpcEndpoints and wait for `deleted`.
   Target: p99 < 200 ms.

Where the time of (3) goes: the server is started through a small bootstrap (in this file,
not in the server code) that wraps the reconcile loop's pieces and writes wall-clock
events to `<state>/trace.log` (store commits with the kinds they change, pass start/end,
Backend.apply, each agent's sync, each area's observe). The namespaces share the host's
clock, so the poller's time.time() lines up with them; the benchmark prints, per trial
median, accept -> accept's commit -> passes -> first response.

Safety: nothing is sent from the host's namespace; only the benchmark's instances talk, to
addresses the benchmark's server made. At the end (also on error, ^C, SIGTERM or the
`--timeout` alarm) the server is stopped and `tear_down` ends every process in the
instances' namespaces and removes every namespace, link and table with the state dir's
prefix; the benchmark then checks that no namespace with that prefix remains.
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from _harness import free_port, start_as_root  # benchmarks/_harness.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402
from botocore.exceptions import ClientError  # noqa: E402

REGION = "ap-south-1"
PROVIDER = "111111111111"
CONSUMER = "222222222222"
HEALTH_SCALE = "0.05"
IPERF_PORT = 5201
PY = sys.executable  # the same file system inside instances: a real interpreter, no shim
REPO = Path(__file__).resolve().parent.parent

TARGETS = {
    "throughput_ratio": ">= 0.8",
    "latency_p50_ratio": "<= 1.3",
    "accept_p99_ms": "< 200",
}

# --- The server, with timing wrappers (benchmark-only) -------------------------------------

BOOTSTRAP = r'''
import logging, sys, time
trace_path = sys.argv.pop(1)
log = logging.getLogger("bench.trace")
handler = logging.FileHandler(trace_path)
handler.setFormatter(logging.Formatter("%(created).6f %(message)s"))
log.addHandler(handler); log.setLevel(logging.DEBUG); log.propagate = False

from vpclab.dataplane import runtime
from vpclab.kernel.backend import Backend

def timed(name, fn):
    def wrapper(*a, **kw):
        t = time.time()
        try:
            return fn(*a, **kw)
        finally:
            log.debug("%s %.6f %.6f", name, t, time.time())
    return wrapper

_apply = Backend.apply
import os
if os.environ.get("VPCLAB_BENCH_PROFILE"):  # --profile: cProfile of every Backend.apply, dumped after each
    import cProfile
    profile = cProfile.Profile()
    _plain_apply = _apply
    def _apply(self, *a, **kw):
        profile.enable()
        try:
            return _plain_apply(self, *a, **kw)
        finally:
            profile.disable()
            profile.dump_stats(os.environ["VPCLAB_BENCH_PROFILE"])
def apply(self, *a, **kw):
    return timed("apply" if kw.get("full", True) else "apply-change", _apply)(self, *a, **kw)
Backend.apply = apply

_once = runtime.DataPlane.reconcile_once
def reconcile_once(self):
    t = time.time()
    try:
        return _once(self)
    finally:
        log.debug("pass %.6f %.6f", t, time.time())
runtime.DataPlane.reconcile_once = reconcile_once

_init = runtime.DataPlane.__init__
def __init__(self, *a, **kw):
    _init(self, *a, **kw)
    for area in self.areas:
        if area.observe is not None:
            area.observe = timed("observe:" + area.name, area.observe)
runtime.DataPlane.__init__ = __init__

_start = runtime.DataPlane.start
def start(self):
    self.store.subscribe(lambda changed: log.debug(
        "commit %s", ",".join(sorted({k for k, _ in changed}))))
    _start(self)
    for agent in self.agents:
        agent.sync = timed("sync:" + type(agent).__name__, agent.sync)
runtime.DataPlane.start = start

from vpclab.cli import main
sys.argv[0] = "vpclab"
main()
'''


class Server:
    def __init__(self, state_dir: Path, profile: bool = False):
        self.state_dir = state_dir
        self.profile = state_dir.parent / "apply.prof" if profile else None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.trace = state_dir / "trace.log"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 30) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / "server.log"
        with open(log_path, "ab") as out:
            env = {**os.environ, "VPCLAB_HEALTH_CHECK_SCALE": HEALTH_SCALE,
                   "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
            if self.profile:
                env["VPCLAB_BENCH_PROFILE"] = str(self.profile)
            self.proc = subprocess.Popen(
                [PY, "-c", BOOTSTRAP, str(self.trace), "server", "--port", str(self.port),
                 "--state-dir", str(self.state_dir), "--dataplane"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=str(REPO))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log_path.read_text(errors="replace")
            if "vpclab ready" in text:
                if "data plane off" in text:
                    raise RuntimeError(f"the server runs without its data plane: {text[-500:]}")
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the vpclab server did not start: {log_path.read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def events(self, since: float = 0.0) -> list[tuple[str, list[str]]]:
        """Trace lines after `since`: (name, fields) with the logging timestamp first in fields."""
        out = []
        try:
            lines = self.trace.read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            parts = line.split()
            if len(parts) >= 2 and float(parts[0]) >= since:
                out.append((parts[1], [parts[0], *parts[2:]]))
        return out

    def wait_pass_after(self, t: float, timeout: float = 15) -> None:
        """Wait until a reconcile pass that started after `t` has ended."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(name == "pass" and float(f[1]) > t for name, f in self.events(t)):
                return
            time.sleep(0.02)
        raise TimeoutError("no data-plane pass")


# --- Scripts run inside instances ---------------------------------------------------------

LATENCY_CLIENT = r'''
import json, socket, sys, time
# One client per path, kept running: each line on stdin is a number of requests to time
# now; the answer is one JSON line. The benchmark gives the paths turns of a few requests,
# so that whatever else the machine does hits every path alike.
host, port, warm = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ip = socket.gethostbyname(host)
req = b"GET / HTTP/1.0\r\nHost: " + host.encode() + b"\r\n\r\n"

def one():
    t0 = time.perf_counter()
    s = socket.create_connection((ip, port), timeout=5)
    t1 = time.perf_counter()
    s.sendall(req)
    got = 0
    while True:
        b = s.recv(65536)
        if not b:
            break
        got += len(b)
    s.close()
    t2 = time.perf_counter()
    if got == 0:
        raise SystemExit("empty response")
    return t2 - t0, t1 - t0

for _ in range(warm):
    one()
print("ready", flush=True)
for line in sys.stdin:
    got = [one() for _ in range(int(line))]
    print(json.dumps({"total": [g[0] for g in got], "connect": [g[1] for g in got]}), flush=True)
'''

ACCEPT_POLLER = r'''
import errno, json, select, socket, sys, time
ip, port, interval = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
# Before `go`: the endpoint is pendingAcceptance and must not forward.
s = socket.socket(); s.settimeout(0.2)
try:
    s.connect((ip, port)); early = True
except OSError:
    early = False
s.close()
print("ready", flush=True)
sys.stdin.readline()
t0 = time.perf_counter(); w0 = time.time()
pending = {}  # fd -> (socket, start)
errors, first_error = {}, {}
poller = select.poll()
attempts = 0
result = None
next_try = t0
while result is None and time.perf_counter() - t0 < 10:
    now = time.perf_counter()
    if now >= next_try:
        c = socket.socket(); c.setblocking(False)
        err = c.connect_ex((ip, port))
        attempts += 1
        pending[c.fileno()] = (c, now)
        poller.register(c.fileno(), select.POLLOUT)
        next_try = now + interval
        for fd, (old, started) in list(pending.items()):
            if now - started > 0.5:  # its SYN was dropped; the kernel would retry in 1 s
                poller.unregister(fd); old.close(); del pending[fd]
    for fd, ev in poller.poll(max(0, (next_try - time.perf_counter()) * 1000)):
        c, started = pending.pop(fd)
        poller.unregister(fd)
        soerr = c.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if soerr:
            errors[errno.errorcode.get(soerr, str(soerr))] = errors.get(errno.errorcode.get(soerr, str(soerr)), 0) + 1
            first_error.setdefault(errno.errorcode.get(soerr, str(soerr)), (time.perf_counter() - t0) * 1e3)
        if soerr == 0:
            t_conn = time.perf_counter()
            c.setblocking(True); c.settimeout(5)
            try:
                c.sendall(b"GET / HTTP/1.0\r\n\r\n")
                data = b""
                while True:
                    b = c.recv(65536)
                    if not b:
                        break
                    data += b
            except OSError:
                data = b""
            if data.startswith(b"HTTP/1.1 200") or data.startswith(b"HTTP/1.0 200"):
                t1 = time.perf_counter()
                result = {"connected_ms": (t_conn - t0) * 1e3, "response_ms": (t1 - t0) * 1e3,
                          "go_wall": w0, "connected_wall": w0 + (t_conn - t0), "response_wall": w0 + (t1 - t0),
                          "syn_sent_ms": (started - t0) * 1e3}
                c.close()
                break
        c.close()
for c, _ in pending.values():
    c.close()
print(json.dumps({"early": early, "attempts": attempts, "result": result, "errors": errors,
                  "first_error_ms": first_error}), flush=True)
'''


# --- Helpers --------------------------------------------------------------------------------

def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def client(service: str, account: str, url: str):
    return boto3.client(service, endpoint_url=url, region_name=REGION, aws_access_key_id=account,
                        aws_secret_access_key="vpclab", config=Config(retries={"max_attempts": 2}))


def poll(fn, timeout: float, interval: float = 0.05, what: str = ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got:
            return got
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


def pct(values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    s = sorted(values)
    k = max(0, min(len(s) - 1, int(round(p / 100 * len(s) + 0.5)) - 1))
    return s[k]


@dataclass
class Topology:
    image: str = ""
    provider_sg: str = ""
    server: str = ""
    server_ip: str = ""
    pclient: str = ""
    cclient: str = ""
    consumer_vpc: str = ""
    consumer_subnet: str = ""
    endpoint_sg: str = ""
    tg80: str = ""
    tg5201: str = ""
    nlb: str = ""
    nlb_dns: str = ""
    service_id: str = ""
    service_name: str = ""
    endpoint: str = ""
    endpoint_ip: str = ""
    endpoint_dns: str = ""
    extra: dict = field(default_factory=dict)


class Bench:
    def __init__(self, server: Server):
        self.srv = server
        self.state_dir = server.state_dir
        self.ec2_1 = client("ec2", PROVIDER, server.url)
        self.elb_1 = client("elbv2", PROVIDER, server.url)
        self.ec2_2 = client("ec2", CONSUMER, server.url)
        self.t = Topology()
        self.children: list[subprocess.Popen] = []
        self.diagnose = False

    # exec ------------------------------------------------------------------------------
    def exec_argv(self, instance: str, argv: list[str]) -> list[str]:
        return [PY, "-m", "vpclab.cli", "exec", "--state-dir", str(self.state_dir), instance, "--", *argv]

    def run(self, instance: str, argv: list[str], timeout: float = 60) -> subprocess.CompletedProcess:
        return subprocess.run(self.exec_argv(instance, argv), capture_output=True, text=True,
                              timeout=timeout, cwd=str(REPO))

    def run_ok(self, instance: str, argv: list[str], timeout: float = 60) -> str:
        out = self.run(instance, argv, timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{instance}: {argv[:3]}… exited {out.returncode}: {out.stderr[-1000:]}")
        return out.stdout

    # setup -----------------------------------------------------------------------------
    def _state(self, ec2, iid: str) -> str | None:
        res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        return res[0]["Instances"][0]["State"]["Name"] if res else None

    def launch(self, ec2, name: str, sgs: list[str] | None, user_data: str | None) -> dict:
        kw = dict(ImageId=self.t.image, InstanceType="t2.micro", MinCount=1, MaxCount=1,
                  TagSpecifications=[{"ResourceType": "instance", "Tags": [{"Key": "Name", "Value": name}]}])
        kw["Placement"] = {"AvailabilityZone": f"{REGION}a"}
        if sgs:
            kw["SecurityGroupIds"] = sgs
        if user_data:
            kw["UserData"] = user_data
        return ec2.run_instances(**kw)["Instances"][0]

    def setup(self) -> None:
        t, ec2, elb = self.t, self.ec2_1, self.elb_1
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-*x86_64"]}])
        t.image = (images["Images"] or ec2.describe_images()["Images"])[0]["ImageId"]
        t.provider_sg = ec2.create_security_group(GroupName="bench-provider", Description="vpclab data-plane bench")["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=t.provider_sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
            for p in (22, 80, IPERF_PORT)])
        srv = self.launch(ec2, "bench-server", [t.provider_sg], f"#!/bin/sh\nnginx\niperf3 -s -D -p {IPERF_PORT}\n")
        t.server, t.server_ip = srv["InstanceId"], srv["PrivateIpAddress"]
        t.pclient = self.launch(ec2, "bench-pclient", [t.provider_sg], None)["InstanceId"]
        t.cclient = self.launch(self.ec2_2, "bench-cclient", None, None)["InstanceId"]
        for e, iid in ((ec2, t.server), (ec2, t.pclient), (self.ec2_2, t.cclient)):
            poll(lambda: self._state(e, iid) == "running", 60, 0.05, f"{iid} to run")
        vpc_1 = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        subnets_1 = [s["SubnetId"] for s in ec2.describe_subnets(
            Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
        t.tg80 = elb.create_target_group(Name="bench-http", Protocol="TCP", Port=80, VpcId=vpc_1,
                                         TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        t.tg5201 = elb.create_target_group(Name="bench-iperf", Protocol="TCP", Port=IPERF_PORT, VpcId=vpc_1,
                                           TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        for tg in (t.tg80, t.tg5201):
            elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": t.server}])
        lb = elb.create_load_balancer(Name="bench-nlb", Type="network", Scheme="internal", Subnets=subnets_1,
                                      SecurityGroups=[t.provider_sg])["LoadBalancers"][0]
        t.nlb, t.nlb_dns = lb["LoadBalancerArn"], lb["DNSName"]
        for port, tg in ((80, t.tg80), (IPERF_PORT, t.tg5201)):
            elb.create_listener(LoadBalancerArn=t.nlb, Protocol="TCP", Port=port,
                                DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
        svc = ec2.create_vpc_endpoint_service_configuration(NetworkLoadBalancerArns=[t.nlb],
                                                            AcceptanceRequired=True)["ServiceConfiguration"]
        t.service_id, t.service_name = svc["ServiceId"], svc["ServiceName"]
        ec2.modify_vpc_endpoint_service_permissions(ServiceId=t.service_id,
                                                    AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER}:root"])
        ec2_2 = self.ec2_2
        t.consumer_vpc = ec2_2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        t.consumer_subnet = ec2_2.describe_subnets(Filters=[
            {"Name": "default-for-az", "Values": ["true"]},
            {"Name": "availability-zone", "Values": [f"{REGION}a"]}])["Subnets"][0]["SubnetId"]
        t.endpoint_sg = ec2_2.create_security_group(GroupName="bench-endpoint", Description="80 and 5201",
                                                    VpcId=t.consumer_vpc)["GroupId"]
        ec2_2.authorize_security_group_ingress(GroupId=t.endpoint_sg, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}
            for p in (80, IPERF_PORT)])

        log("waiting for the NLB and target health")
        poll(lambda: elb.describe_load_balancers(LoadBalancerArns=[t.nlb])["LoadBalancers"][0]["State"]["Code"]
             == "active", 60, 0.1, "the NLB to be active")
        for tg in (t.tg80, t.tg5201):
            poll(lambda: elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]
                 ["TargetHealth"]["State"] == "healthy", 90, 0.1, f"{tg.rsplit('/', 2)[-2]} target healthy")

        # The long-lived endpoint for (1) and (2).
        t.endpoint, t.endpoint_ip, t.endpoint_dns = self.create_endpoint()
        self.accept(t.endpoint)
        poll(lambda: self.endpoint_state(t.endpoint) == "available", 60, 0.05, "the endpoint to be available")
        # Sanity: nginx on every path, the endpoint by its DNS name too.
        checks = ((t.pclient, f"http://{t.server_ip}/"), (t.pclient, f"http://{t.nlb_dns}/"),
                  (t.cclient, f"http://{t.endpoint_dns}/"), (t.cclient, f"http://{t.endpoint_ip}/"))
        for inst, url in checks:
            poll(lambda: "Welcome to nginx!" in self.run(inst, ["curl", "-s", "--max-time", "2", url]).stdout,
                 30, 0.2, f"nginx at {url} from {inst}")
        log(f"ready: server {t.server} ({t.server_ip}), endpoint {t.endpoint} ({t.endpoint_ip}, {t.endpoint_dns})")

    def create_endpoint(self) -> tuple[str, str, str]:
        t = self.t
        ep = self.ec2_2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=t.consumer_vpc,
                                            ServiceName=t.service_name, SubnetIds=[t.consumer_subnet],
                                            SecurityGroupIds=[t.endpoint_sg])["VpcEndpoint"]
        if ep["State"] != "pendingAcceptance":
            raise RuntimeError(f"new endpoint is {ep['State']}, expected pendingAcceptance")
        eni = self.ec2_2.describe_network_interfaces(
            NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"][0]
        return ep["VpcEndpointId"], eni["PrivateIpAddress"], ep["DnsEntries"][0]["DnsName"]

    def accept(self, endpoint_id: str) -> None:
        out = self.ec2_1.accept_vpc_endpoint_connections(ServiceId=self.t.service_id, VpcEndpointIds=[endpoint_id])
        if out.get("Unsuccessful"):
            raise RuntimeError(f"accept failed: {out['Unsuccessful']}")

    def endpoint_state(self, endpoint_id: str) -> str | None:
        try:
            eps = self.ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
        except ClientError as err:
            if err.response["Error"]["Code"] == "InvalidVpcEndpointId.NotFound":
                return None
            raise
        return eps[0]["State"] if eps else None

    def delete_endpoint(self, endpoint_id: str) -> None:
        self.ec2_2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
        poll(lambda: self.endpoint_state(endpoint_id) in ("deleted", None), 30, 0.05, f"{endpoint_id} deleted")

    # 1. throughput -----------------------------------------------------------------------
    def iperf(self, instance: str, addr: str, seconds: int) -> float:
        out = self.run(instance, ["iperf3", "-c", addr, "-p", str(IPERF_PORT), "-t", str(seconds), "-J"],
                       timeout=seconds + 30)
        try:
            data = json.loads(out.stdout)
        except ValueError:
            raise RuntimeError(f"iperf3 from {instance} to {addr}: {out.stdout[-500:]} {out.stderr[-500:]}")
        if "error" in data:
            raise RuntimeError(f"iperf3 from {instance} to {addr}: {data['error']}")
        return data["end"]["sum_received"]["bits_per_second"] / 1e9

    def throughput(self, seconds: int, rounds: int) -> dict:
        t = self.t
        paths = {"direct": (t.pclient, t.server_ip), "endpoint": (t.cclient, t.endpoint_ip),
                 "nlb": (t.pclient, t.nlb_dns)}
        got: dict[str, list[float]] = {k: [] for k in paths}
        for r in range(rounds):
            for name, (inst, addr) in paths.items():
                gbps = self.iperf(inst, addr, seconds)
                got[name].append(gbps)
                log(f"iperf3 {name:8s} round {r + 1}: {gbps:.2f} Gbit/s")
        res = {k: statistics.median(v) for k, v in got.items()}
        res["ratio"] = res["endpoint"] / res["direct"]
        res["runs"] = got
        return res

    # 2. latency --------------------------------------------------------------------------
    def latency(self, requests: int, turn: int = 5, pin: str | None = None) -> dict:
        t = self.t
        paths = {"direct": (t.pclient, t.server_ip), "endpoint": (t.cclient, t.endpoint_ip),
                 "nlb": (t.pclient, t.nlb_dns)}
        total: dict[str, list[float]] = {k: [] for k in paths}
        conn: dict[str, list[float]] = {k: [] for k in paths}
        clients: dict[str, subprocess.Popen] = {}
        try:
            for name, (inst, addr) in paths.items():
                argv = [PY, "-c", LATENCY_CLIENT, addr, "80", "20"]
                if pin is not None:
                    argv = ["taskset", "-c", pin, *argv]
                proc = subprocess.Popen(self.exec_argv(inst, argv),
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=str(REPO))
                self.children.append(proc)
                clients[name] = proc
            for name, proc in clients.items():
                if proc.stdout.readline().strip() != "ready":
                    raise RuntimeError(f"latency client for {name} did not start: exit {proc.poll()}")
            order = list(paths)
            rounds = 0
            while min(len(v) for v in total.values()) < requests:
                # Turns of `turn` requests, the order reversed every round.
                for name in (order if rounds % 2 == 0 else order[::-1]):
                    proc = clients[name]
                    proc.stdin.write(f"{turn}\n")
                    proc.stdin.flush()
                    line = proc.stdout.readline()
                    if not line:
                        raise RuntimeError(f"latency client for {name} ended: exit {proc.wait()}")
                    out = json.loads(line)
                    total[name] += [x * 1e3 for x in out["total"]]
                    conn[name] += [x * 1e3 for x in out["connect"]]
                rounds += 1
        finally:
            for proc in clients.values():
                if proc.stdin:
                    proc.stdin.close()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        res: dict = {}
        for name in paths:
            res[name] = {"n": len(total[name]), "p50_ms": pct(total[name], 50), "p99_ms": pct(total[name], 99),
                         "connect_p50_ms": pct(conn[name], 50), "connect_p99_ms": pct(conn[name], 99)}
            log(f"latency {name:8s}: p50 {res[name]['p50_ms']:.3f} ms  p99 {res[name]['p99_ms']:.3f} ms "
                f"(connect p50 {res[name]['connect_p50_ms']:.3f} ms)")
        res["p50_ratio"] = res["endpoint"]["p50_ms"] / res["direct"]["p50_ms"]
        res["p99_ratio"] = res["endpoint"]["p99_ms"] / res["direct"]["p99_ms"]
        return res

    # 3. accept -> first request ------------------------------------------------------------
    def accept_trial(self, n: int, interval_ms: float) -> dict:
        t = self.t
        ep, ip, _dns = self.create_endpoint()
        try:
            created = time.time()
            self.srv.wait_pass_after(created)  # the ENI address exists; nothing forwards yet
            proc = subprocess.Popen(self.exec_argv(t.cclient, [PY, "-c", ACCEPT_POLLER, ip, "80",
                                                               str(interval_ms / 1e3)]),
                                    stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    text=True, cwd=str(REPO))
            self.children.append(proc)
            line = proc.stdout.readline()
            if line.strip() != "ready":
                raise RuntimeError(f"poller did not start: {line!r} {proc.stderr.read()[-1000:]}")
            t_call = time.time()
            self.accept(ep)
            t_ret = time.time()
            proc.stdin.write("go\n")
            proc.stdin.flush()
            t_go = time.time()
            snapshot = None
            if self.diagnose:  # a slow first connection: what do the routers' neighbour tables say?
                try:
                    proc.wait(timeout=0.15)
                except subprocess.TimeoutExpired:
                    snapshot = self.kernel_snapshot()
            out, err = proc.communicate(timeout=15)
            self.children.remove(proc)
            try:
                report = json.loads(out.strip().splitlines()[-1])
            except (ValueError, IndexError):
                raise RuntimeError(f"poller: {out[-500:]} {err[-1000:]}")
            # The API must say available too (when it did is taken from the trace: polling the
            # API during the trial would load the server being measured).
            poll(lambda: self.endpoint_state(ep) == "available", 10, 0.05, f"{ep} available")
            if report["result"] is None:
                raise RuntimeError(f"trial {n}: no response through {ep} within 10 s ({report['attempts']} tries)")
            r = report["result"]
            trial = {"endpoint": ep, "early": report["early"], "attempts": report["attempts"],
                     "errors": report["errors"], "first_error_ms": report["first_error_ms"],
                     "syn_sent_ms": r["syn_sent_ms"],
                     "first_response_ms": r["response_ms"], "first_connect_ms": r["connected_ms"],
                     "accept_call_ms": (t_ret - t_call) * 1e3, "go_after_return_ms": (t_go - t_ret) * 1e3,
                     "walls": {"call": t_call, "return": t_ret, "go": t_go, "poller_go": r["go_wall"],
                               "connected": r["connected_wall"], "response": r["response_wall"]}}
            trial["trace"] = self.explain(t_call, r["connected_wall"])
            if snapshot is not None:
                trial["kernel_at_150ms"] = snapshot
            avail = trial["trace"].get("available_commit_ms")
            trial["available_after_go_ms"] = avail - (t_go - t_call) * 1e3 if avail is not None else None
            return trial
        finally:
            self.delete_endpoint(ep)

    def explain(self, t_call: float, t_connected: float) -> dict:
        """Where the time between Accept being called and the first connection went (ms after the call)."""
        ev = self.srv.events(t_call - 5)
        ms = lambda x: (x - t_call) * 1e3  # noqa: E731
        commits = [(float(f[0]), f[1] if len(f) > 1 else "") for name, f in ev if name == "commit"
                   and float(f[0]) >= t_call]
        passes = sorted((float(f[1]), float(f[2])) for name, f in ev if name == "pass")
        applies = sorted((float(f[1]), float(f[2])) for name, f in ev if name in ("apply", "apply-change"))
        full = {float(f[1]) for name, f in ev if name == "apply"}
        out: dict = {}
        accept = next((c for c in commits if "vpc-endpoint" in c[1]), None)
        if accept is None:
            return out
        out["accept_commit_ms"] = ms(accept[0])
        busy = [p for p in passes if p[0] <= accept[0] < p[1]]
        out["busy_pass_left_ms"] = (busy[0][1] - accept[0]) * 1e3 if busy else 0.0
        # Passes that could see the accept, up to the one during which the first connection came.
        seen = [p for p in passes if p[0] >= accept[0] and p[0] <= t_connected]
        out["passes"] = []
        for s0, s1 in seen:
            a = next((a for a in applies if s0 <= a[0] <= s1), None)
            out["passes"].append({"start_ms": ms(s0), "end_ms": ms(s1), "full": bool(a and a[0] in full),
                                  "plan_ms": (a[0] - s0) * 1e3 if a else None,
                                  "apply_ms": (a[1] - a[0]) * 1e3 if a else None})
        out["passes_until_connected"] = len(seen)
        if seen:
            last = seen[-1]
            a = next((a for a in applies if last[0] <= a[0] <= last[1]), None)
            out["connected_in_apply"] = bool(a and a[0] <= t_connected <= a[1] + 0.002)
            out["first_pass_start_ms"] = ms(seen[0][0])
            out["last_pass_start_ms"] = ms(last[0])
            out["connected_after_last_pass_start_ms"] = (t_connected - last[0]) * 1e3
        out["commits"] = [f"{ms(c[0]):.1f}:{c[1]}" for c in commits if c[0] <= t_connected + 1]
        # accept (vpc-endpoint) -> [observe allocates the link index (transit-link), only if
        # the endpoint had none: links are made while it is pendingAcceptance] -> observe marks it
        # available (vpc-endpoint): the store commit that makes DescribeVpcEndpoints say so.
        link = next((c for c in commits if c[0] > accept[0] and "transit-link" in c[1]), None)
        out["allocated_after_accept"] = link is not None
        after = link or accept
        avail = next((c for c in commits if c[0] > after[0] and "vpc-endpoint" in c[1]), None)
        out["available_commit_ms"] = ms(avail[0]) if avail else None
        phases: dict[str, float] = {}
        for name, f in ev:
            if name.startswith(("sync:", "observe:")) and float(f[1]) >= accept[0] and float(f[2]) <= t_connected:
                phases[name] = phases.get(name, 0.0) + (float(f[2]) - float(f[1])) * 1e3
        out["phase_ms"] = dict(sorted(phases.items()))
        return out

    def accept_latency(self, trials: int, interval_ms: float) -> dict:
        rows = []
        for n in range(trials):
            row = self.accept_trial(n, interval_ms)
            rows.append(row)
            tr = row["trace"]
            log(f"accept trial {n + 1:2d}: first response {row['first_response_ms']:7.1f} ms "
                f"(connect {row['first_connect_ms']:.1f}; accept call {row['accept_call_ms']:.1f}; "
                f"'available' at {row['available_after_go_ms'] or float('nan'):.1f}; "
                f"commit {tr.get('accept_commit_ms', float('nan')):.1f}; passes " + ", ".join(
                    f"{p['start_ms']:.0f}-{p['end_ms']:.0f}" for p in tr.get("passes", [])) + " ms"
                f"{'; FORWARDED BEFORE ACCEPT' if row['early'] else ''}"
                + (f"; answered SYN sent at {row['syn_sent_ms']:.1f}; errors {row['errors']} first at "
                   f"{row['first_error_ms']}" if row["first_response_ms"] > 700 or row["errors"] else "") + ")")
        first = [r["first_response_ms"] for r in rows]
        res = {"trials": len(rows), "p50_ms": pct(first, 50), "p99_ms": pct(first, 99), "max_ms": max(first),
               "min_ms": min(first), "forwarded_before_accept": sum(1 for r in rows if r["early"])}

        def med(key):
            vals = [r["trace"].get(key) for r in rows if r["trace"].get(key) is not None]
            return statistics.median(vals) if vals else None
        pass_all = [p["end_ms"] - p["start_ms"] for r in rows for p in r["trace"].get("passes", [])]
        apply_all = [p["apply_ms"] for r in rows for p in r["trace"].get("passes", []) if p["apply_ms"] is not None]
        plan_all = [p["plan_ms"] for r in rows for p in r["trace"].get("passes", []) if p.get("plan_ms") is not None]
        phase_keys = sorted({k for r in rows for k in r["trace"].get("phase_ms", {})})
        res["breakdown"] = {
            "accept_call_ms_p50": statistics.median(r["accept_call_ms"] for r in rows),
            "accept_commit_ms_p50": med("accept_commit_ms"),
            "busy_pass_left_ms_p50": med("busy_pass_left_ms"),
            "first_pass_start_ms_p50": med("first_pass_start_ms"),
            "passes_until_connected_p50": med("passes_until_connected"),
            "last_pass_start_ms_p50": med("last_pass_start_ms"),
            "connected_after_last_pass_start_ms_p50": med("connected_after_last_pass_start_ms"),
            "connected_in_apply": sum(1 for r in rows if r["trace"].get("connected_in_apply")),
            "allocated_after_accept": sum(1 for r in rows if r["trace"].get("allocated_after_accept")),
            "pass_ms_p50": statistics.median(pass_all) if pass_all else None,
            "pass_ms_max": max(pass_all) if pass_all else None,
            "apply_ms_p50": statistics.median(apply_all) if apply_all else None,
            "snapshot_plan_ms_p50": statistics.median(plan_all) if plan_all else None,
            "available_after_go_ms_p50": statistics.median(
                [r["available_after_go_ms"] for r in rows if r["available_after_go_ms"] is not None] or [float("nan")]),
            "phase_ms_per_trial_p50": {k: statistics.median(r["trace"].get("phase_ms", {}).get(k, 0.0) for r in rows)
                                       for k in phase_keys},
        }
        res["rows"] = rows
        return res

    def kernel_snapshot(self) -> dict[str, list[str]]:
        """Neighbour entries and transit links of every namespace of the run (read-only)."""
        from vpclab.kernel import naming, netns
        out = {}
        for ns in netns.list_namespaces(naming.prefix_for_state_dir(self.state_dir)):
            lines = []
            for cmd in (["ip", "-s", "neigh", "show"], ["ip", "-br", "link", "show"], ["ip", "-br", "addr", "show"]):
                got = subprocess.run(["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, timeout=5)
                lines += [f"{cmd[-2]}: {l}" for l in got.stdout.splitlines() if "100.64." in l or "t0" in l]
            if lines:
                out[ns] = lines
        return out

    def kill_children(self) -> None:
        for proc in self.children:
            if proc.poll() is None:
                proc.kill()
                try:
                    proc.wait(timeout=5)
                except subprocess.TimeoutExpired:
                    pass


# --- Output ---------------------------------------------------------------------------------

def table(res: dict) -> str:
    tp, lat, acc = res.get("throughput"), res.get("latency"), res.get("accept")
    rows: list[tuple[str, str, str, str]] = []

    def ok(cond: bool) -> str:
        return "ok" if cond else "MISSED"
    if tp:
        rows += [("throughput direct (same subnet)", f"{tp['direct']:.2f} Gbit/s", "", ""),
                 ("throughput via endpoint -> NLB", f"{tp['endpoint']:.2f} Gbit/s", "", ""),
                 ("throughput via NLB only (info)", f"{tp['nlb']:.2f} Gbit/s", "", ""),
                 ("throughput endpoint / direct", f"{tp['ratio']:.2f}", TARGETS["throughput_ratio"],
                  ok(tp["ratio"] >= 0.8))]
    if lat:
        for name, label in (("direct", "latency direct"), ("endpoint", "latency via endpoint"),
                            ("nlb", "latency via NLB only (info)")):
            rows.append((f"{label} p50 / p99", f"{lat[name]['p50_ms']:.3f} / {lat[name]['p99_ms']:.3f} ms", "", ""))
        rows += [("latency endpoint / direct p50", f"{lat['p50_ratio']:.2f}", TARGETS["latency_p50_ratio"],
                  ok(lat["p50_ratio"] <= 1.3)),
                 ("latency endpoint / direct p99", f"{lat['p99_ratio']:.2f}", "(reported)", "")]
    if acc:
        rows += [(f"accept -> first response p50 ({acc['trials']} trials)", f"{acc['p50_ms']:.1f} ms", "", ""),
                 ("accept -> first response p99", f"{acc['p99_ms']:.1f} ms", TARGETS["accept_p99_ms"] + " ms",
                  ok(acc["p99_ms"] < 200)),
                 ("accept -> first response max", f"{acc['max_ms']:.1f} ms", "", ""),
                 ("forwarded before accept", str(acc["forwarded_before_accept"]), "0",
                  ok(acc["forwarded_before_accept"] == 0))]
    w = [max(len(r[i]) for r in rows + [("figure", "value", "target", "")]) for i in range(4)]
    lines = [f"{'figure':<{w[0]}}  {'value':>{w[1]}}  {'target':<{w[2]}}  ", "-" * (sum(w) + 8)]
    lines += [f"{a:<{w[0]}}  {b:>{w[1]}}  {c:<{w[2]}}  {d}" for a, b, c, d in rows]
    if acc:
        b = acc["breakdown"]

        def f(v):
            return "-" if v is None else f"{v:.1f}"
        lines += ["", "accept -> first response, where the time goes (medians over trials, ms after Accept was called):",
                  f"  AcceptVpcEndpointConnections returns at {f(b['accept_call_ms_p50'])} (store commit at "
                  f"{f(b['accept_commit_ms_p50'])}); the pass running then had {f(b['busy_pass_left_ms_p50'])} ms left",
                  f"  {f(b['passes_until_connected_p50'])} passes until traffic flows (link index allocated "
                  f"after Accept in {b['allocated_after_accept']}/{acc['trials']} trials; otherwise the link "
                  f"exists since pendingAcceptance and one pass adds its forwarding element): the first starts at "
                  f"{f(b['first_pass_start_ms_p50'])}, the last at "
                  f"{f(b['last_pass_start_ms_p50'])}; first connection "
                  f"{f(b['connected_after_last_pass_start_ms_p50'])} ms into it "
                  f"({b['connected_in_apply']}/{acc['trials']} trials: during Backend.apply)",
                  f"  a pass takes p50 {f(b['pass_ms_p50'])} (max {f(b['pass_ms_max'])}): snapshot+plan p50 "
                  f"{f(b['snapshot_plan_ms_p50'])}, Backend.apply p50 {f(b['apply_ms_p50'])}; agents and observe "
                  "per trial: " + ", ".join(
                      f"{k} {v:.1f}" for k, v in b["phase_ms_per_trial_p50"].items()),
                  f"  the store commit that makes DescribeVpcEndpoints report 'available' comes "
                  f"{f(b['available_after_go_ms_p50'])} ms after go"]
    if "elapsed_s" in res:
        lines += ["", f"benchmark wall time {res['elapsed_s']:.0f} s (setup {res.get('setup_s', 0):.0f} s)"]
    return "\n".join(lines)


# --- Main -----------------------------------------------------------------------------------

def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--json", action="store_true", help="JSON on stdout (the table goes to stderr)")
    parser.add_argument("--trials", type=int, default=20, help="accept -> first request trials")
    parser.add_argument("--requests", type=int, default=2000, help="latency requests per path")
    parser.add_argument("--latency-cpu", default="last",
                        help="CPU every latency client is pinned to (taskset), 'last' or a number; 'none': unpinned")
    parser.add_argument("--iperf-seconds", type=int, default=5)
    parser.add_argument("--iperf-rounds", type=int, default=3, help="alternating rounds per path (median)")
    parser.add_argument("--poll-ms", type=float, default=2.0, help="poller connect interval")
    parser.add_argument("--only", default="throughput,latency,accept", help="which parts to run")
    parser.add_argument("--timeout", type=int, default=290, help="abort (and clean up) after this many seconds")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the server's Backend.apply; print its top functions at the end")
    parser.add_argument("--diagnose", action="store_true",
                        help="when a trial has no answer 150 ms after go, record the routers' neighbour tables")
    parser.add_argument("--keep-logs", action="store_true", help="copy server.log and trace.log to ./ at the end")
    args = parser.parse_args()
    if not start_as_root("dataplane.py", args.timeout):
        return 2
    from vpclab.commands.down import tear_down
    from vpclab.kernel import naming, netns
    only = set(args.only.split(","))
    started = time.monotonic()
    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-dp-"))
    state_dir = tmp / "state"
    prefix = naming.prefix_for_state_dir(state_dir)
    server = Server(state_dir, profile=args.profile)
    bench: Bench | None = None
    res: dict = {}
    code = 0
    try:
        log(f"state {state_dir} (prefix {prefix}); starting the server")
        server.start()
        bench = Bench(server)
        bench.diagnose = args.diagnose
        bench.setup()
        res["setup_s"] = time.monotonic() - started
        if "throughput" in only:
            res["throughput"] = bench.throughput(args.iperf_seconds, args.iperf_rounds)
        if "latency" in only:
            cpu = None if args.latency_cpu == "none" else args.latency_cpu
            if cpu == "last":
                cpu = str((os.cpu_count() or 1) - 1)
            res["latency"] = bench.latency(args.requests, pin=cpu)
        if "accept" in only:
            res["accept"] = bench.accept_latency(args.trials, args.poll_ms)
    except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        code = 143 if isinstance(exc, SystemExit) else 130 if isinstance(exc, KeyboardInterrupt) else 1
        log(f"FAILED: {type(exc).__name__}: {exc}")
        res["error"] = f"{type(exc).__name__}: {exc}"
    finally:
        signal.alarm(0)
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup must finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            if bench is not None:
                bench.kill_children()
            server.stop()
            if server.profile and server.profile.exists():
                import io
                import pstats
                buf = io.StringIO()
                pstats.Stats(str(server.profile), stream=buf).sort_stats("cumulative").print_stats(35)
                res["profile"] = buf.getvalue()
            if args.keep_logs:
                for name in ("server.log", "trace.log"):
                    if (state_dir / name).exists():
                        Path(f"dataplane-bench-{name}").write_bytes((state_dir / name).read_bytes())
            down = tear_down(state_dir)
            left = netns.list_namespaces(prefix)
            res["cleanup"] = {"namespaces_removed": down["namespaces"], "processes_ended": down["processes"],
                              "namespaces_left": left}
            log(f"cleanup: removed {down['namespaces']} namespaces, ended {down['processes']} processes; "
                f"left: {left or 'none'}")
            if left:
                code = code or 1
            import shutil
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, old_int)
    res["elapsed_s"] = time.monotonic() - started
    text = table(res) if any(k in res for k in ("throughput", "latency", "accept")) else res.get("error", "")
    if res.get("profile"):
        print(res["profile"], file=sys.stderr)
    if args.json:
        print(text, file=sys.stderr)
        print(json.dumps(res, indent=2, default=str))
    else:
        print(text)
    return code


if __name__ == "__main__":
    sys.exit(main())
