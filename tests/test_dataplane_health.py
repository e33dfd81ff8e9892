"""NLB health checks: the state machine, what gets checked, real probes between namespaces,
and (with the NLB and instance areas) the whole path through boto3."""
from __future__ import annotations

import asyncio
import os
import socket
import sys
import time

import pytest

from tests.helpers.accounts import ACCOUNT_2
from tests.helpers.elbv2 import an_image, default_subnets, unique
from tests.helpers.netns_lab import Lab, RecordingServer
from vpclab.dataplane.agents import health, proxy_v2
from vpclab.dataplane.agents.health import CheckSpec, Outcome, Tracker, desired_checks, matches, time_scale
from vpclab.dataplane.world import World
from vpclab.kernel import naming, netns
from vpclab.model.ec2 import Instance, Subnet
from vpclab.model.elbv2 import Listener, LoadBalancer, RegisteredTarget, SubnetMapping, TargetGroup, TargetHealth

ACCT, REGION = "111111111111", "ap-south-1"
OK = Outcome(True)
REFUSED = Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
TIMED_OUT = Outcome(False, "Target.Timeout", "Request timed out")


# The state machine ---------------------------------------------------------------------------

def test_new_target_is_healthy_after_one_passed_check():
    t = Tracker()
    assert t.observe(OK, 5, 2) == ("healthy", None, None)
    assert t.observe(OK, 5, 2) is None


def test_unhealthy_after_threshold_failures_then_healthy_after_threshold_successes():
    t = Tracker()
    assert t.observe(REFUSED, 3, 2) is None  # initial, one failure
    assert t.observe(REFUSED, 3, 2) == ("unhealthy", "Target.FailedHealthChecks", "Health checks failed")
    assert t.observe(REFUSED, 3, 2) is None  # no change, no write
    assert t.observe(TIMED_OUT, 3, 2) == ("unhealthy", "Target.Timeout", "Request timed out")  # reason moves
    assert t.observe(OK, 3, 2) is None
    assert t.observe(OK, 3, 2) is None
    assert t.observe(OK, 3, 2) == ("healthy", None, None)


def test_healthy_target_survives_fewer_failures_than_the_threshold():
    t = Tracker("healthy")
    assert t.observe(TIMED_OUT, 2, 3) is None
    assert t.observe(TIMED_OUT, 2, 3) is None
    assert t.observe(OK, 2, 3) is None  # the run of failures is broken
    assert t.observe(TIMED_OUT, 2, 3) is None
    assert t.observe(TIMED_OUT, 2, 3) is None
    assert t.observe(TIMED_OUT, 2, 3) == ("unhealthy", "Target.Timeout", "Request timed out")


def test_success_run_is_consecutive():
    t = Tracker("unhealthy", "Target.Timeout", "Request timed out")
    assert t.observe(OK, 2, 2) is None
    assert t.observe(TIMED_OUT, 2, 2) is None
    assert t.observe(OK, 2, 2) is None
    assert t.observe(OK, 2, 2) == ("healthy", None, None)


def test_matcher_and_scale():
    assert matches("200-399", 302) and not matches("200-399", 404)
    assert matches("200,202", 202) and not matches("200,202", 201)
    assert matches("200", 200)
    assert time_scale({}) == 1.0
    assert time_scale({"VPCLAB_HEALTH_CHECK_SCALE": "0.05"}) == 0.05
    assert time_scale({"VPCLAB_HEALTH_CHECK_SCALE": "nonsense"}) == 1.0
    assert time_scale({"VPCLAB_HEALTH_CHECK_SCALE": "-1"}) == 1.0


# What is checked -----------------------------------------------------------------------------

def _world() -> World:
    w = World()
    lb = LoadBalancer(id="arn:lb/net/a/1", account=ACCT, region=REGION, name="a", mappings=[
        SubnetMapping(zone="ap-south-1a", network_interface_id="eni-a", private_ip="172.31.0.50", subnet_id="sa"),
        SubnetMapping(zone="ap-south-1b", network_interface_id="eni-b", private_ip="172.31.16.50", subnet_id="sb")])
    w.load_balancers[lb.id] = lb
    for sid in ("sa", "sb"):
        w.subnets[sid] = Subnet(id=sid, account=ACCT, region=REGION, vpc_id="vpc-h")
    hc = {"HealthCheckProtocol": "TCP", "HealthCheckPort": "traffic-port", "HealthCheckEnabled": True,
          "HealthCheckIntervalSeconds": 10, "HealthCheckTimeoutSeconds": 5,
          "HealthyThresholdCount": 3, "UnhealthyThresholdCount": 2}
    tg = TargetGroup(id="arn:tg/web/1", account=ACCT, region=REGION, name="web", port=80, health_check=hc,
                     targets=[RegisteredTarget(id="i-1", port=80, availability_zone="ap-south-1b", registered=5.0),
                              RegisteredTarget(id="i-2", port=80, availability_zone="ap-south-1a", registered=5.0),
                              RegisteredTarget(id="i-3", port=80, availability_zone="ap-south-1a", registered=5.0,
                                               deregistering_since=9.0),
                              RegisteredTarget(id="i-4", port=80, availability_zone="ap-south-1a", registered=5.0)])
    w.target_groups[tg.id] = tg
    for iid, ip, state, zone in (("i-1", "172.31.16.10", "running", "ap-south-1b"),
                                 ("i-2", "172.31.0.10", "running", "ap-south-1a"),
                                 ("i-3", "172.31.0.11", "running", "ap-south-1a"),
                                 ("i-4", "172.31.0.12", "stopped", "ap-south-1a")):
        w.instances[iid] = Instance(id=iid, account=ACCT, region=REGION, private_ip=ip, state=state,
                                    availability_zone=zone)
    unused = TargetGroup(id="arn:tg/unused/2", account=ACCT, region=REGION, name="unused", port=80,
                         health_check=hc, targets=[RegisteredTarget(id="i-2", port=80, registered=5.0)])
    w.target_groups[unused.id] = unused
    lst = Listener(id="arn:listener/1", account=ACCT, region=REGION, load_balancer_arn=lb.id, port=443,
                   default_actions=[{"Type": "forward", "TargetGroupArn": tg.id}])
    w.listeners[lst.id] = lst
    return w


def test_desired_checks_cover_forwarded_running_targets_from_their_zone_node():
    checks = desired_checks(_world(), "vl00000")
    assert sorted(checks) == [("arn:tg/web/1", "i-1", 80), ("arn:tg/web/1", "i-2", 80)]
    one = checks[("arn:tg/web/1", "i-1", 80)]
    # From the node of the target's zone: its address, in the router of the NLB's VPC.
    assert one.namespace == "vl00000-vpc-h" and one.source_ip == "172.31.16.50"
    assert (one.address, one.check_port, one.protocol) == ("172.31.16.10", 80, "TCP")
    assert (one.interval, one.timeout, one.healthy_threshold, one.unhealthy_threshold) == (10, 5, 3, 2)
    assert one.host == "172.31.16.50:443" and not one.proxy_protocol
    assert checks[("arn:tg/web/1", "i-2", 80)].source_ip == "172.31.0.50"


def test_health_check_port_and_proxy_protocol_follow_the_target_group():
    w = _world()
    tg = w.target_groups["arn:tg/web/1"]
    tg.health_check = {**tg.health_check, "HealthCheckPort": "8081", "HealthCheckProtocol": "HTTP",
                       "HealthCheckPath": "/ping", "Matcher": {"HttpCode": "200"}}
    tg.attributes = {"proxy_protocol_v2.enabled": "true"}
    spec = desired_checks(w, "vl00000")[("arn:tg/web/1", "i-2", 80)]
    assert (spec.check_port, spec.protocol, spec.path, spec.matcher, spec.proxy_protocol) == (
        8081, "HTTP", "/ping", "200", True)


# Real probes between namespaces this test makes ------------------------------------------------

@pytest.fixture
def lab(tmp_path):
    if os.geteuid() != 0:
        pytest.skip("needs root (creates network namespaces)")

    from vpclab.kernel import Backend

    prefix = naming.prefix_for_state_dir(tmp_path / "health-state")
    backend = Backend.linux(prefix)
    lab = (Lab(prefix).vpc("vpc-h").subnet("vpc-h", "subnet-h", "10.78.0.0/24")
           .instance("vpc-h", "subnet-h", "eni-node", "10.78.0.20")
           .instance("vpc-h", "subnet-h", "i-target", "10.78.0.30"))
    backend.apply(lab.plan())
    _wait_reachable(lab.ns("eni-node"), "10.78.0.30")
    try:
        yield lab
    finally:
        try:
            backend.destroy()
        finally:
            backend.close()
        for name in netns.list_namespaces(prefix):
            netns.delete(name, timeout=10)
        assert netns.list_namespaces(prefix) == []


def _wait_reachable(ns: str, address: str, timeout: float = 10.0) -> None:
    """Until a connect from `ns` is refused (not lost while the new bridge ports settle)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock = netns.run_in(ns, socket.socket)
        with sock:
            sock.settimeout(0.3)
            try:
                sock.connect((address, 9))
            except ConnectionRefusedError:
                return
            except OSError:
                pass
    raise AssertionError(f"{address} not reachable from {ns}")


def _spec(lab, **kw) -> CheckSpec:
    base = dict(tg_arn="arn:tg", target_id="i-target", port=8080, registered=0.0,
                namespace=lab.ns("eni-node"), source_ip="10.78.0.20", address="10.78.0.30", check_port=8080,
                protocol="TCP", path="/", matcher="200-399", host="10.78.0.20:80", interval=10, timeout=1,
                healthy_threshold=2, unhealthy_threshold=2, enabled=True, proxy_protocol=False)
    base.update(kw)
    return CheckSpec(**base)


def _http_answer(status: int) -> bytes:
    return f"HTTP/1.1 {status} X\r\nContent-Length: 0\r\n\r\n".encode()


def _http(ns: str, port: int, status: int):
    """An HTTP server inside `ns` answering `status` (its `.answer` can change); `.requests`
    are the first bytes of each request."""

    return RecordingServer(  # (a proxy protocol signature starts with CRLF CRLF too)
        ns, port, lambda data: b"GET" in data and data.endswith(b"\r\n\r\n"), _http_answer(status))


def test_probe_outcomes(lab):
    run = lambda spec: asyncio.run(health.probe(spec, spec.timeout))  # noqa: E731
    # nothing listens: refused -> FailedHealthChecks
    assert run(_spec(lab)) == Outcome(False, "Target.FailedHealthChecks", "Health checks failed")
    # nobody has the address: no answer -> Timeout
    assert run(_spec(lab, address="10.78.0.99", timeout=0.5)).reason == "Target.Timeout"
    # no node namespace: the probe does not run at all
    assert run(_spec(lab, namespace=naming.namespace_name(lab.prefix, "eni-gone"))) is None
    server = _http(lab.ns("i-target"), 8080, 200)
    try:
        assert run(_spec(lab)) == Outcome(True)
        assert run(_spec(lab, protocol="HTTP", path="/health")) == Outcome(True)
        request = server.requests[-1]
        assert request.startswith(b"GET /health HTTP/1.1\r\n") and b"Host: 10.78.0.20:80\r\n" in request
        # proxy protocol target groups: a LOCAL header first
        assert run(_spec(lab, protocol="HTTP", proxy_protocol=True)) == Outcome(True)
        assert server.requests[-1].startswith(proxy_v2.build_local_header() + b"GET / HTTP/1.1")
        server.answer = _http_answer(404)
        assert run(_spec(lab, protocol="HTTP")) == Outcome(
            False, "Target.ResponseCodeMismatch", "Health checks failed with these codes: [404]")
    finally:
        server.close()


class _FakeStore:
    def __init__(self):
        self.records = []

    def write(self):
        store = self

        class Tx:
            def __enter__(self):
                return self

            def __exit__(self, *exc):
                return False

        store._tx = Tx()
        return store._tx


class _FakeDataPlane:
    def __init__(self, prefix):
        self.prefix = prefix
        self.store = _FakeStore()
        self.pokes = 0

    def poke(self):
        self.pokes += 1


def test_agent_runs_checks_at_once_and_writes_only_changes(lab, monkeypatch):
    written = []
    monkeypatch.setattr("vpclab.model.observed.record_health",
                        lambda tx, tg, tid, port, state, reason, desc, now: written.append((tid, state, reason)))
    w = World()
    lb = LoadBalancer(id="arn:lb/net/h/1", account=ACCT, region=REGION, name="h", mappings=[
        SubnetMapping(zone="z", network_interface_id="eni-node", private_ip="10.78.0.20", subnet_id="s")])
    # The namespace holding the node's address (a VPC router in vpclab) is, in this lab, a
    # namespace of its own named like that router would be.
    w.subnets["s"] = Subnet(id="s", account=ACCT, region=REGION, vpc_id="eni-node")
    hc = {"HealthCheckProtocol": "TCP", "HealthCheckPort": "traffic-port", "HealthCheckEnabled": True,
          "HealthCheckIntervalSeconds": 30, "HealthCheckTimeoutSeconds": 10,
          "HealthyThresholdCount": 2, "UnhealthyThresholdCount": 2}
    tg = TargetGroup(id="arn:tg/h/1", account=ACCT, region=REGION, name="h", port=8080, target_type="ip",
                     health_check=hc, targets=[RegisteredTarget(id="10.78.0.30", port=8080, availability_zone="z",
                                                                registered=time.time())])
    w.load_balancers[lb.id], w.target_groups[tg.id] = lb, tg
    w.listeners["l"] = Listener(id="l", account=ACCT, region=REGION, load_balancer_arn=lb.id, port=80,
                                default_actions=[{"Type": "forward", "TargetGroupArn": tg.id}])
    dp = _FakeDataPlane(lab.prefix)
    agent = health.HealthAgent(dp, scale=0.01)  # 30 s -> 0.3 s, timeout 10 s -> 0.1 s
    server = None
    try:
        agent.sync(w)

        def wait(pred, timeout=5.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                if pred():
                    return True
                time.sleep(0.02)
            raise AssertionError(f"not reached; written {written}")

        # refused twice -> initial (InitialHealthChecking) then unhealthy
        wait(lambda: ("10.78.0.30", "unhealthy", "Target.FailedHealthChecks") in written)
        assert written[0] == ("10.78.0.30", "initial", "Elb.InitialHealthChecking")
        server = _http(lab.ns("i-target"), 8080, 200)
        wait(lambda: written[-1] == ("10.78.0.30", "healthy", None))
        count = len(written)
        time.sleep(0.8)  # more passing checks: no more writes
        assert len(written) == count and dp.pokes == count
        # a later pass that shows the record: nothing to do
        rec = TargetHealth(id=f"{tg.id}|10.78.0.30|8080", account=ACCT, region=REGION, target_group_arn=tg.id,
                           target_id="10.78.0.30", port=8080, state="healthy", observed=time.time())
        w.target_health[rec.id] = rec
        monkeypatch.setattr(health, "LOST_RECORD_AFTER", 0.0)
        agent.sync(w)
        time.sleep(0.5)  # more checks (every 0.3 s at this scale) with the record shown: still no writes
        assert len(written) == count
        # the control plane dropped the record (group unused and used again between passes):
        # the target starts over, and its first passed check records it healthy again
        del w.target_health[rec.id]
        agent.sync(w)
        wait(lambda: len(written) == count + 1)
        assert written[-1] == ("10.78.0.30", "healthy", None)
    finally:
        if server is not None:
            server.close()
        agent.close()


# The whole path: boto3 -> server -> NLB nodes -> health agent -> DescribeTargetHealth ---------

TARGET_SERVER = r"""
import socket, sys
out = sys.argv[2] if len(sys.argv) > 2 else None
srv = socket.create_server(("0.0.0.0", int(sys.argv[1])))
while True:
    conn, _ = srv.accept()
    with conn:
        conn.settimeout(2)
        data = b""
        try:
            while out and b"hello" not in data:
                chunk = conn.recv(4096)
                if not chunk:
                    break
                data += chunk
            if out:
                open(out, "ab").write(data.hex().encode() + b"\n")
                conn.sendall(b"ok")
        except OSError:
            pass
"""


@pytest.fixture
def fast_server(fast_dataplane_server):
    """The conftest's data-plane server with health checks 20x faster."""
    return fast_dataplane_server


def _lab(srv, port=8080, **tg_kwargs):
    """Two running instances (port open in their group), a TCP target group with fast
    settings and both registered, an NLB in their subnet with a listener on 80."""

    ec2, elb = srv.client("ec2"), srv.client("elbv2")
    subnet = default_subnets(ec2)[0]
    vpc = subnet["VpcId"]
    group = ec2.create_security_group(GroupName=unique("hc"), Description="hc", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 0, "ToPort": 65535, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    ids = [i["InstanceId"] for i in ec2.run_instances(
        ImageId=an_image(ec2), InstanceType="t3.micro", MinCount=3, MaxCount=3, SubnetId=subnet["SubnetId"],
        SecurityGroupIds=[group])["Instances"]]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    tg = elb.create_target_group(Name=unique("hc"), Protocol="TCP", Port=port, VpcId=vpc,
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=4,
                                 HealthyThresholdCount=2, UnhealthyThresholdCount=2,
                                 **tg_kwargs)["TargetGroups"][0]["TargetGroupArn"]
    lb = elb.create_load_balancer(Name=unique("hc"), Type="network", Scheme="internal",
                                  Subnets=[subnet["SubnetId"]])["LoadBalancers"][0]["LoadBalancerArn"]
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    elb.create_listener(LoadBalancerArn=lb, Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    return ec2, elb, ids, tg, lb


def _health(elb, tg) -> dict[str, dict]:
    return {d["Target"]["Id"]: d["TargetHealth"] for d in elb.describe_target_health(TargetGroupArn=tg)[
        "TargetHealthDescriptions"]}


def _wait_health(elb, tg, want: dict[str, str], timeout=30.0) -> dict[str, dict]:
    deadline = time.monotonic() + timeout
    while True:
        seen = _health(elb, tg)
        if all(seen.get(k, {}).get("State") == v for k, v in want.items()):
            return seen
        if time.monotonic() > deadline:
            raise AssertionError(f"wanted {want}, target health is {seen}")
        time.sleep(0.1)


def _spawn(prefix, instance_id, *args):
    return netns.spawn(naming.namespace_name(prefix, instance_id),
                       [sys.executable, "-c", TARGET_SERVER, *map(str, args)])


def _stop(proc):
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait(timeout=10)


def test_targets_become_healthy_and_unhealthy_for_real(fast_server):
    prefix = naming.prefix_for_state_dir(fast_server.state_dir)
    ec2, elb, (up, down, _), tg, lb = _lab(fast_server)
    server = _spawn(prefix, up, 8080)
    try:
        time.sleep(0.3)  # the server binds before the first checks
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": up}, {"Id": down}])
        seen = _wait_health(elb, tg, {up: "healthy", down: "unhealthy"})
        assert seen[down] == {"State": "unhealthy", "Reason": "Target.FailedHealthChecks",
                              "Description": "Health checks failed"}
        elb.get_waiter("target_in_service").wait(TargetGroupArn=tg, Targets=[{"Id": up}],
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        # DescribeTargetGroups still reports the configured (unscaled) settings
        group = elb.describe_target_groups(TargetGroupArns=[tg])["TargetGroups"][0]
        assert (group["HealthCheckIntervalSeconds"], group["HealthCheckTimeoutSeconds"]) == (5, 4)
        _stop(server)
        seen = _wait_health(elb, tg, {up: "unhealthy"})
        assert seen[up]["Reason"] == "Target.FailedHealthChecks"
        # back: HealthyThresholdCount (2) passes in a row
        server = _spawn(prefix, up, 8080)
        _wait_health(elb, tg, {up: "healthy"})
    finally:
        _stop(server)


def test_proxy_protocol_v2_through_the_nlb(fast_server, tmp_path):
    prefix = naming.prefix_for_state_dir(fast_server.state_dir)
    ec2, elb, (target, _, client), tg, lb = _lab(fast_server)
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    record = tmp_path / "received.txt"
    server = _spawn(prefix, target, 8080, record)
    try:
        time.sleep(0.3)  # the server binds before the first checks
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": target}])
        _wait_health(elb, tg, {target: "healthy"})
        node = ec2.describe_network_interfaces(Filters=[
            {"Name": "description", "Values": [f"ELB {lb.split(':loadbalancer/')[1]}"]}])["NetworkInterfaces"][0]
        node_ip = node["PrivateIpAddress"]
        client_ip = ec2.describe_instances(InstanceIds=[client])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
        deadline = time.monotonic() + 10
        while True:
            sock = netns.run_in(naming.namespace_name(prefix, client), socket.socket)
            with sock:
                sock.settimeout(3)
                try:
                    sock.connect((node_ip, 80))
                    client_port = sock.getsockname()[1]
                    sock.sendall(b"hello")
                    answer = sock.recv(16)
                except OSError:
                    answer = b""
            if answer == b"ok" or time.monotonic() > deadline:
                break
            time.sleep(0.2)  # the relay listens once the agent synced after the attribute change
        assert answer == b"ok"
        received = [bytes.fromhex(line) for line in record.read_text().split()]
        data = next(d for d in received if d.endswith(b"hello"))
        # health checks of a proxy protocol group sent LOCAL headers
        assert proxy_v2.build_local_header() in received
        header = proxy_v2.parse_header(data)
        assert header.command == proxy_v2.CMD_PROXY
        assert header.source == (client_ip, client_port)
        assert header.destination == (node_ip, 80)
        assert header.endpoint_id is None  # not PrivateLink traffic
        assert data[header.size:] == b"hello"
    finally:
        _stop(server)


def test_proxy_protocol_v2_carries_the_endpoint_id_for_privatelink(fast_server, tmp_path):

    prefix = naming.prefix_for_state_dir(fast_server.state_dir)
    ec2, elb, (target, _, _), tg, lb = _lab(fast_server)
    elb.modify_target_group_attributes(TargetGroupArn=tg, Attributes=[
        {"Key": "proxy_protocol_v2.enabled", "Value": "true"}])
    record = tmp_path / "received.txt"
    server = _spawn(prefix, target, 8080, record)
    try:
        elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": target}])
        service = ec2.create_vpc_endpoint_service_configuration(
            NetworkLoadBalancerArns=[lb], AcceptanceRequired=False)["ServiceConfiguration"]
        ec2.modify_vpc_endpoint_service_permissions(
            ServiceId=service["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
        # The consumer: an instance and an endpoint in the zone of the NLB's node.
        ec2_2 = fast_server.client("ec2", ACCOUNT_2)
        subnet = default_subnets(ec2_2)[0]
        group = ec2_2.create_security_group(GroupName=unique("pp"), Description="pp", VpcId=subnet["VpcId"])["GroupId"]
        ec2_2.authorize_security_group_ingress(GroupId=group, IpPermissions=[{
            "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
        client = ec2_2.run_instances(ImageId=an_image(ec2_2), InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                     SubnetId=subnet["SubnetId"], SecurityGroupIds=[group])["Instances"][0]["InstanceId"]
        endpoint = ec2_2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=subnet["VpcId"],
                                             ServiceName=service["ServiceName"], SubnetIds=[subnet["SubnetId"]],
                                             SecurityGroupIds=[group])["VpcEndpoint"]
        endpoint_id = endpoint["VpcEndpointId"]
        eni_ip = ec2_2.describe_network_interfaces(NetworkInterfaceIds=endpoint["NetworkInterfaceIds"])[
            "NetworkInterfaces"][0]["PrivateIpAddress"]
        ec2_2.get_waiter("instance_running").wait(InstanceIds=[client], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
        _wait_health(elb, tg, {target: "healthy"})
        deadline = time.monotonic() + 20
        answer = b""
        while answer != b"ok" and time.monotonic() < deadline:
            state = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"]
            if state == "available":
                sock = netns.run_in(naming.namespace_name(prefix, client), socket.socket)
                with sock:
                    sock.settimeout(3)
                    try:
                        sock.connect((eni_ip, 80))
                        sock.sendall(b"hello")
                        answer = sock.recv(16)
                    except OSError:
                        answer = b""
            if answer != b"ok":
                time.sleep(0.2)
        assert answer == b"ok"
        received = [bytes.fromhex(line) for line in record.read_text().split()]
        header = proxy_v2.parse_header(next(d for d in received if d.endswith(b"hello")))
        assert header.endpoint_id == endpoint_id
        # The consumer's own address and the ENI address it dialled, as the node saw them
        # (the endpoint's link carries them unchanged).
        client_ip = ec2_2.describe_instances(InstanceIds=[client])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
        assert header.source[0] == client_ip and header.destination == (eni_ip, 80)
    finally:
        _stop(server)
