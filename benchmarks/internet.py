"""The internet edge's cost: an HTTP request from the host to an instance's public
address (127.x mapping -> host relay -> internet namespace -> gateway NAT -> instance)
against the same request made inside the VPC (another instance -> private address).

    python benchmarks/internet.py                   # 2000 requests each way
    python benchmarks/internet.py --requests 500 --concurrency 8

One command, as root: it starts a vpclab server with the data plane (temporary state
directory, free port), launches two instances in account 1's default VPC — nginx on
one, with a security group allowing HTTP from 0.0.0.0/0, as the seed's launch wizard
makes it — and times GET / on a new TCP connection per request (as curl and a new
browser tab do), sequentially and with `--concurrency` clients, and on one kept-alive connection, from the host to
http://127.A.B.C/ and from the second instance's namespace to the first's private
address. It prints requests/s, median and p99 latency of each, and the added latency;
then it stops the server it started (by pid) and removes everything it made.
"""
from __future__ import annotations

import argparse
import socket
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

from _harness import free_port, start_as_root

from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.instances import NGINX
from tests.helpers.server import ServerProcess
from vpclab.commands.down import tear_down
from vpclab.kernel import naming, netns
from vpclab.model.internet import host_address

REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n"


def fetch(sock: socket.socket, address: tuple[str, int]) -> float:
    """Seconds for connect + one request + the whole answer; `sock` is fresh."""
    started = time.perf_counter()
    with sock:
        sock.settimeout(10)
        sock.connect(address)
        sock.sendall(REQUEST)
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    if not data.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"unexpected answer from {address}: {data[:80]!r}")
    return time.perf_counter() - started


KEEPALIVE_REQUEST = b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n"


def keepalive(sock: socket.socket, address: tuple[str, int], requests: int) -> dict:
    """One connection, `requests` GETs one after another (as a browser tab reuses it)."""
    latencies = []
    with sock:
        sock.settimeout(10)
        sock.connect(address)
        buffer = b""
        for _ in range(requests):
            started = time.perf_counter()
            sock.sendall(KEEPALIVE_REQUEST)
            while b"\r\n\r\n" not in buffer:
                buffer += sock.recv(65536)
            head, buffer = buffer.split(b"\r\n\r\n", 1)
            length = int(next(line.split(b":", 1)[1] for line in head.split(b"\r\n")
                              if line.lower().startswith(b"content-length:")))
            while len(buffer) < length:
                buffer += sock.recv(65536)
            buffer = buffer[length:]
            latencies.append(time.perf_counter() - started)
    latencies.sort()
    total = sum(latencies)
    return {"requests": requests, "rps": requests / total, "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def run(make_socket, address: tuple[str, int], requests: int, concurrency: int) -> dict:
    latencies: list[float] = []
    lock = threading.Lock()
    per_client = max(1, requests // concurrency)

    def client() -> None:
        mine = [fetch(make_socket(), address) for _ in range(per_client)]
        with lock:
            latencies.extend(mine)

    for _ in range(min(50, requests)):  # warm-up: neighbour entries, conntrack, nginx workers
        fetch(make_socket(), address)
    started = time.perf_counter()
    threads = [threading.Thread(target=client) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    return {"requests": len(latencies), "rps": len(latencies) / elapsed,
            "median_ms": statistics.median(latencies) * 1000,
            "p99_ms": latencies[int(len(latencies) * 0.99) - 1] * 1000}


def wait(what: str, fn, timeout: float = 90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value:
            return value
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()
    if not start_as_root("internet.py", timeout=900):
        return 2
    state_dir = Path(tempfile.mkdtemp(prefix="vpclab-bench-internet-"))
    srv = ServerProcess(state_dir, free_port(), dataplane=True)
    try:
        srv.start()
        ec2 = srv.client("ec2", ACCOUNT_1)
        vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
        group = ec2.create_security_group(GroupName="bench-web", Description="web", VpcId=vpc)["GroupId"]
        ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
        web, client = (ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                         SecurityGroupIds=[group], **({"UserData": NGINX} if i == 0 else {})
                                         )["Instances"][0]["InstanceId"] for i in range(2))
        ec2.get_waiter("instance_running").wait(InstanceIds=[web, client], WaiterConfig={"Delay": 1, "MaxAttempts": 90})
        inst = ec2.describe_instances(InstanceIds=[web])["Reservations"][0]["Instances"][0]
        public, private = inst["PublicIpAddress"], inst["PrivateIpAddress"]
        host = host_address(public)
        prefix = naming.prefix_for_state_dir(state_dir)
        inside = netns.NamespaceThread(naming.namespace_name(prefix, client))

        def host_socket() -> socket.socket:
            return socket.socket()

        def inside_socket() -> socket.socket:
            return inside.call(socket.socket)

        def serving() -> bool:
            try:
                fetch(host_socket(), (host, 80))
                return True
            except (OSError, RuntimeError):
                return False

        wait("nginx through the public address", serving)
        print(f"web instance {web}: public {public} (host {host}), private {private}")
        rows = []
        for concurrency in (1, args.concurrency):
            a = run(inside_socket, (private, 80), args.requests, concurrency)
            b = run(host_socket, (host, 80), args.requests, concurrency)
            rows.append((concurrency, a, b))
        reused = (keepalive(inside_socket(), (private, 80), args.requests),
                  keepalive(host_socket(), (host, 80), args.requests))
        inside.close()
        print(f"\nGET /, {args.requests} requests per row")
        print("| connection | clients | path | requests/s | median ms | p99 ms |")
        print("|---|---|---|---|---|---|")
        table = [("new each", c, a, b) for c, a, b in rows] + [("one, kept alive", 1, *reused)]
        for kind, concurrency, a, b in table:
            print(f"| {kind} | {concurrency} | inside the VPC (instance -> {private}) | {a['rps']:.0f} | "
                  f"{a['median_ms']:.2f} | {a['p99_ms']:.2f} |")
            print(f"| {kind} | {concurrency} | host -> {host} -> {public} | {b['rps']:.0f} | "
                  f"{b['median_ms']:.2f} | {b['p99_ms']:.2f} |")
        for kind, concurrency, a, b in table:
            print(f"added latency, {kind}, {concurrency} client(s): median +{b['median_ms'] - a['median_ms']:.2f} ms, "
                  f"p99 +{b['p99_ms'] - a['p99_ms']:.2f} ms; requests/s x{b['rps'] / a['rps']:.2f}")
        return 0
    finally:
        srv.stop()
        tear_down(state_dir)


if __name__ == "__main__":
    sys.exit(main())
