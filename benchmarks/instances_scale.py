"""500 instances on one server: open files and threads per instance, time to running, a full pass.

Run as root:  python3 benchmarks/instances_scale.py [--count 500] [--batch 50] [--timeout 1800]

One command. It makes a temp state directory and its own server (data plane on), then:

1. waits for the first data-plane pass with the default VPC in place and records the
   server's open files (`/proc/<pid>/fd`) and threads (`/proc/<pid>/task`): the figures
   at 0 instances;
2. launches `--count` instances (no user data: only their namespaces, `eth0` and
   security-group tables; in the default VPC's default security group, which admits its
   own members, so every launch changes every member's table) with RunInstances in
   calls of `--batch` (MaxCount = MinCount = batch), one call after the other, checking
   between calls that the server is alive and sampling its files and threads;
3. waits until DescribeInstances says all are `running` (the instance agent moves them
   once their namespace is programmed) and records files and threads again, and the
   duration of the next full data-plane pass (`Backend.apply(plan, full=True)`, every
   namespace read; timed by a wrapper in the server's bootstrap, the server code is
   unchanged);
4. restarts the server on the same state directory (SIGTERM, then a new server) and
   checks it comes up, runs its first pass (a full one, every namespace cold) and is
   still alive and answering a few seconds later;
5. terminates every instance (TerminateInstances in calls of up to 1,000 ids), waits
   until all are `terminated` and their namespaces are gone, and checks the server still
   answers and what it holds afterwards.

At the end, also on error, ^C, SIGTERM or the timeout, the server is stopped, `tear_down`
(`vpclab down`) ends any process in the prefix's namespaces and removes every namespace,
link and table of the prefix, and the run checks none is left. No packet is sent.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import free_port, start_as_root  # benchmarks/_harness.py

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import boto3  # noqa: E402
from botocore.config import Config  # noqa: E402

REGION = "ap-south-1"
ACCOUNT = "111111111111"
PY = sys.executable
REPO = Path(__file__).resolve().parent.parent

# The server with a wrapper that writes each Backend.apply's kind and duration to a trace
# file (benchmark-only; no server code changed).
BOOTSTRAP = r'''
import os, sys, time
trace = open(sys.argv.pop(1), "a", buffering=1)
from vpclab.kernel import linux
from vpclab.kernel.backend import Backend
if os.environ.get("VPCLAB_BENCH_MAX_THREADS"):
    linux.MAX_THREADS = int(os.environ["VPCLAB_BENCH_MAX_THREADS"])
profile = None
if os.environ.get("VPCLAB_BENCH_PROFILE"):  # --profile: cProfile of the full passes, dumped after each
    import cProfile
    profile = cProfile.Profile()
_apply = Backend.apply
def apply(self, plan, full=True):
    t = time.time()
    actions = []
    if full and profile is not None:
        profile.enable()
    try:
        actions = _apply(self, plan, full=full)
        return actions
    finally:
        if full and profile is not None:
            profile.disable()
            profile.dump_stats(os.environ["VPCLAB_BENCH_PROFILE"])
        trace.write(f"{'full' if full else 'change'} {t:.6f} {time.time() - t:.6f} {len(plan.namespaces)} "
                    f"{len(actions)}\n")
Backend.apply = apply
from vpclab.cli import main
sys.argv[0] = "vpclab"
main()
'''


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class Server:
    """`vpclab server --dataplane` on a free port, started through BOOTSTRAP."""

    def __init__(self, state_dir: Path, env: dict[str, str]):
        self.state_dir = state_dir
        self.env = env
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.trace = state_dir.parent / "apply.trace"
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 120) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.state_dir / "server.log"
        offset = log_path.stat().st_size if log_path.exists() else 0
        env = {**os.environ, **self.env, "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
        with open(log_path, "ab") as out:
            self.proc = subprocess.Popen(
                [PY, "-c", BOOTSTRAP, str(self.trace), "server", "--port", str(self.port),
                 "--state-dir", str(self.state_dir), "--dataplane"],
                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env, cwd=str(REPO))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = log_path.read_bytes()[offset:].decode(errors="replace")
            if "vpclab ready" in text:
                if "data plane off" in text:
                    raise RuntimeError(f"the server runs without its data plane: {text[-500:]}")
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"the vpclab server did not start: {self.log_tail()}")

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self, what: str) -> None:
        if not self.alive():
            code = self.proc.returncode if self.proc is not None else None
            raise RuntimeError(f"the server died {what} (exit {code}): {self.log_tail()}")

    def log_tail(self, chars: int = 1500) -> str:
        try:
            return (self.state_dir / "server.log").read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def files_threads(self) -> tuple[int, int]:
        return len(os.listdir(f"/proc/{self.pid}/fd")), len(os.listdir(f"/proc/{self.pid}/task"))

    def applies(self, since: float = 0.0) -> list[tuple[str, float, float, int, int]]:
        """(kind, start, seconds, namespaces, actions) of every Backend.apply started after `since`."""
        out = []
        try:
            lines = self.trace.read_text().splitlines()
        except OSError:
            return out
        for line in lines:
            kind, start, secs, n, actions = line.split()
            if float(start) >= since:
                out.append((kind, float(start), float(secs), int(n), int(actions)))
        return out

    def wait_apply(self, kind: str, since: float, timeout: float) -> tuple[str, float, float, int, int]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive(f"waiting for a {kind} pass")
            found = [a for a in self.applies(since) if a[0] == kind]
            if found:
                return found[0]
            time.sleep(0.1)
        raise TimeoutError(f"no {kind} pass in {timeout} s")

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


def ec2_client(server: Server):
    return boto3.client("ec2", endpoint_url=server.url, region_name=REGION, aws_access_key_id=ACCOUNT,
                        aws_secret_access_key="test",
                        config=Config(retries={"max_attempts": 1}, read_timeout=300, connect_timeout=10))


def states(ec2, ids: list[str]) -> dict[str, str]:
    out = {}
    for page in ec2.get_paginator("describe_instances").paginate(
            Filters=[{"Name": "instance-id", "Values": ids}] if len(ids) <= 200 else [],
            PaginationConfig={"PageSize": 1000}):
        for r in page["Reservations"]:
            for i in r["Instances"]:
                out[i["InstanceId"]] = i["State"]["Name"]
    return {i: out.get(i, "missing") for i in ids}


def wait_states(server: Server, ec2, ids: list[str], want: str, timeout: float) -> float:
    t0 = time.monotonic()
    deadline = t0 + timeout
    last = ""
    while True:
        server.check_alive(f"waiting for {want}")
        counts: dict[str, int] = {}
        for s in states(ec2, ids).values():
            counts[s] = counts.get(s, 0) + 1
        text = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()))
        if text != last:
            files, threads = server.files_threads()
            log(f"  {text} (server: {files} files, {threads} threads)")
            last = text
        if counts.get(want, 0) == len(ids):
            return time.monotonic() - t0
        if time.monotonic() > deadline:
            raise TimeoutError(f"not all {want} after {timeout} s: {text}")
        time.sleep(1.0)


def settle(server: Server, seconds: float = 3.0) -> tuple[int, int]:
    """Files and threads after the server has been quiet for a moment."""
    time.sleep(seconds)
    server.check_alive("while settling")
    return server.files_threads()


def run(args, server: Server, res: dict) -> None:
    from vpclab.kernel import naming, netns

    prefix = naming.prefix_for_state_dir(server.state_dir)
    server.start()
    log(f"server pid {server.pid} on {server.url}")
    ec2 = ec2_client(server)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    vpcs = ec2.describe_vpcs()["Vpcs"]  # makes the default VPC
    t = time.time()
    server.wait_apply("change", t, 60)
    server.wait_apply("full", time.time(), 60)
    res["at_0"] = dict(zip(("files", "threads"), settle(server)))
    res["at_0"]["namespaces"] = len(netns.list_namespaces(prefix))
    log(f"0 instances ({len(vpcs)} VPC): {res['at_0']}")

    ids: list[str] = []
    peak = [0, 0]
    t_launch = time.monotonic()
    while len(ids) < args.count:
        n = min(args.batch, args.count - len(ids))
        t0 = time.monotonic()
        out = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=n, MaxCount=n)
        ids += [i["InstanceId"] for i in out["Instances"]]
        server.check_alive(f"after RunInstances #{len(ids) // args.batch}")
        files, threads = server.files_threads()
        peak = [max(peak[0], files), max(peak[1], threads)]
        log(f"{len(ids)} launched (call {time.monotonic() - t0:.2f} s); server {files} files, {threads} threads")
    res["launch_calls_s"] = round(time.monotonic() - t_launch, 1)
    log(f"waiting for {len(ids)} running")
    wait_states(server, ec2, ids, "running", args.timeout)
    res["to_running_s"] = round(time.monotonic() - t_launch, 1)
    t = time.time()
    full = server.wait_apply("full", t, 120)
    files, threads = settle(server)
    peak = [max(peak[0], files), max(peak[1], threads)]
    res[f"at_{args.count}"] = {"files": files, "threads": threads,
                               "namespaces": len(netns.list_namespaces(prefix))}
    res["per_instance"] = {"files": round((files - res["at_0"]["files"]) / args.count, 3),
                           "threads": round((threads - res["at_0"]["threads"]) / args.count, 3)}
    res["full_pass_s"] = round(full[2], 2)
    res["full_pass_actions"] = full[4]
    changes = [a[2] for a in server.applies(0) if a[0] == "change"]
    res["change_pass_max_s"] = round(max(changes), 2) if changes else None
    log(f"{args.count} running: {res[f'at_{args.count}']}, per instance {res['per_instance']}, "
        f"full pass {full[2]:.2f} s ({full[3]} namespaces)")

    if not args.no_restart:
        log("restarting the server on the same state directory")
        server.stop()
        restart_from = time.time()
        server.start()
        first = server.wait_apply("full", restart_from, 300)
        files, threads = settle(server, 5.0)
        ec2 = ec2_client(server)
        running = sum(1 for s in states(ec2, ids).values() if s == "running")
        res["restart"] = {"first_full_pass_s": round(first[2], 2), "files": files, "threads": threads,
                          "running": running}
        log(f"restarted: {res['restart']}")

    log(f"terminating {len(ids)}")
    t0 = time.monotonic()
    for k in range(0, len(ids), 1000):
        ec2.terminate_instances(InstanceIds=ids[k:k + 1000])
    wait_states(server, ec2, ids, "terminated", args.timeout)
    deadline = time.monotonic() + 120
    while any(n.endswith(tuple(ids)) for n in netns.list_namespaces(prefix)):
        server.check_alive("waiting for the instance namespaces to go")
        if time.monotonic() > deadline:
            raise TimeoutError("instance namespaces still there 120 s after terminated")
        time.sleep(0.5)
    res["terminate_s"] = round(time.monotonic() - t0, 1)
    ec2.describe_vpcs()
    files, threads = settle(server)
    res["after_terminate"] = {"files": files, "threads": threads,
                              "namespaces": len(netns.list_namespaces(prefix))}
    log(f"all terminated, namespaces gone: {res['after_terminate']}")
    res["peak"] = {"files": peak[0], "threads": peak[1]}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--batch", type=int, default=50, help="instances per RunInstances call")
    parser.add_argument("--timeout", type=int, default=1800, help="abort (and clean up) after this many seconds")
    parser.add_argument("--no-restart", action="store_true", help="skip the restart at --count instances")
    parser.add_argument("--json", action="store_true", help="JSON on stdout")
    parser.add_argument("--max-threads", type=int, help="namespace threads the server keeps "
                        "(linux.MAX_THREADS; for comparisons, e.g. 100000: one per namespace)")
    parser.add_argument("--profile", action="store_true",
                        help="cProfile the server's full passes; print the last one's top functions")
    args = parser.parse_args()
    if not start_as_root("instances_scale.py", args.timeout):
        return 2
    from vpclab.commands.down import tear_down
    from vpclab.kernel import naming, netns
    tmp = Path(tempfile.mkdtemp(prefix="vpclab-bench-scale-"))
    state_dir = tmp / "state"
    prefix = naming.prefix_for_state_dir(state_dir)
    env = {}
    if args.max_threads is not None:
        env["VPCLAB_BENCH_MAX_THREADS"] = str(args.max_threads)
    if args.profile:
        env["VPCLAB_BENCH_PROFILE"] = str(tmp / "full.prof")
    server = Server(state_dir, env)
    res: dict = {"count": args.count, "batch": args.batch}
    code = 0
    started = time.monotonic()
    log(f"state {state_dir} (prefix {prefix})")
    try:
        run(args, server, res)
    except BaseException as exc:  # noqa: BLE001 - report, clean up, exit non-zero
        code = 143 if isinstance(exc, SystemExit) else 130 if isinstance(exc, KeyboardInterrupt) else 1
        res["error"] = f"{type(exc).__name__}: {exc}"
        log(f"FAILED: {res['error']}")
    finally:
        signal.alarm(0)
        old_int = signal.signal(signal.SIGINT, signal.SIG_IGN)  # cleanup must finish
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        try:
            server.stop()
            if args.profile and (tmp / "full.prof").exists():
                import pstats
                pstats.Stats(str(tmp / "full.prof"), stream=sys.stderr).sort_stats("cumulative").print_stats(40)
            down = tear_down(state_dir)
            left = netns.list_namespaces(prefix)
            res["cleanup"] = {"namespaces_removed": down["namespaces"], "processes_ended": down["processes"],
                              "namespaces_left": len(left)}
            log(f"cleanup: removed {down['namespaces']} namespaces; left: {len(left)}")
            if left:
                code = code or 1
            shutil.rmtree(tmp, ignore_errors=True)
        finally:
            signal.signal(signal.SIGINT, old_int)
    res["elapsed_s"] = round(time.monotonic() - started, 1)
    if args.json:
        print(json.dumps(res, indent=2))
    else:
        for key, value in res.items():
            print(f"{key:18} {value}")
    return code


if __name__ == "__main__":
    sys.exit(main())
