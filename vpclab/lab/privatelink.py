"""The PrivateLink lab of `shared/seed/vpc-endpoint-services-lab.txt`, through boto3.

Two accounts in ap-south-1: account 1 serves nginx behind an NLB and publishes it as an
endpoint service; account 2 connects to it through an interface endpoint once allowed and
accepted, and curls the endpoint's DNS name from its own instance. Step numbers are the
seed's. Each step is one or a few AWS calls; waits poll at a short interval (AWS's
waiters poll every 15 s; the same calls, only faster). Everything a run makes carries the
lab's tags (tagged.py), and a name something else already has gets a number, so a run
works next to whatever else the accounts hold and its cleanup touches only its own.
"""
from __future__ import annotations

import json
import secrets
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, overload

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from ..model.internet import host_address, is_public
from . import tagged
from .steps import Recorder

if TYPE_CHECKING:
    from mypy_boto3_ec2 import EC2Client
    from mypy_boto3_ec2.literals import ResourceTypeType
    from mypy_boto3_ec2.type_defs import TagSpecificationTypeDef, UnsuccessfulItemTypeDef
    from mypy_boto3_elbv2 import ElasticLoadBalancingv2Client
    from mypy_boto3_elbv2.type_defs import TagTypeDef

REGION = "ap-south-1"
PROVIDER = "111111111111"
CONSUMER = "222222222222"
USER_DATA = "#!/bin/sh\n# The image has nginx; start it as `systemctl start nginx` would.\nnginx\n"
RECORD_FILE = "lab-privatelink.json"
LAB = "privatelink"  # the value of the vpclab:lab tag on everything this lab makes


def new_run_id() -> str:
    """The value of the vpclab:lab-run tag of one run: when it started, and 4 hex digits."""
    return time.strftime("%Y%m%d-%H%M%S") + "-" + secrets.token_hex(2)


def free_name(stem: str, taken: set[str], numbered: bool = False) -> str:
    """`stem` if free, else `stem-2`, `stem-3`, …; `numbered` always adds the number
    (`launch-wizard-1`, `-2`, … as the console names its groups)."""
    if not numbered and stem not in taken:
        return stem
    n = 1 if numbered else 2
    while f"{stem}-{n}" in taken:
        n += 1
    return f"{stem}-{n}"


@dataclass
class LabState:
    """Ids the latest run made, saved as it goes (`lab-privatelink.json`: what a kept run
    holds, for scripts and tests). Cleanup does not read it: it goes by the tags."""

    endpoint_url: str = ""
    state_dir: str = ""
    run_id: str = ""
    provider_sg: str = ""
    provider_instance: str = ""
    provider_ip: str = ""
    provider_public_ip: str = ""
    provider_url: str = ""  # where this machine opens the instance's public address
    target_group: str = ""
    load_balancer: str = ""
    load_balancer_dns: str = ""
    load_balancer_url: str = ""  # where this machine opened the NLB (one node's public address)
    listener: str = ""
    service_id: str = ""
    service_name: str = ""
    consumer_sg: str = ""
    consumer_instance: str = ""
    endpoint_id: str = ""
    endpoint_dns: str = ""
    curl_output: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def save(self, state_dir: Path) -> None:
        (state_dir / RECORD_FILE).write_text(json.dumps(self.__dict__, indent=2))


@overload
def client(service: Literal["ec2"], account: str, endpoint_url: str) -> EC2Client: ...
@overload
def client(service: Literal["elbv2"], account: str, endpoint_url: str) -> ElasticLoadBalancingv2Client: ...
def client(service: Literal["ec2", "elbv2"], account: str,
           endpoint_url: str) -> EC2Client | ElasticLoadBalancingv2Client:
    return boto3.client(service, endpoint_url=endpoint_url, region_name=REGION,
                        aws_access_key_id=account, aws_secret_access_key="vpclab",
                        config=Config(retries={"max_attempts": 2}))


def poll(fn: Callable[[], Any], timeout: float, interval: float = 0.1, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")


#: What the seed's browser tab shows once nginx answers.
NGINX_PAGE = "Welcome to nginx!"


def fetch_from_host(url: str, timeout: float = 2) -> str:
    """GET `url` from this machine, as the seed's browser tab does (never through a proxy:
    the address is on loopback). The page, or raises OSError."""
    import urllib.request

    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=timeout) as resp:
        return resp.read(65536).decode("utf-8", "replace")


def open_in_browser_tab(urls: Sequence[str], timeout: float, what: str) -> str:
    """The first of `urls` that serves nginx's page from this machine, trying each again
    until `timeout`; a clear RuntimeError naming the addresses and the last error if none does."""
    deadline = time.monotonic() + timeout
    last = ""
    while True:
        for url in urls:
            try:
                if NGINX_PAGE in fetch_from_host(url):
                    return url
                last = f"{url} answered without nginx's page"
            except OSError as exc:
                last = f"{url}: {exc}"
        if time.monotonic() >= deadline:
            raise RuntimeError(f"no nginx page from this machine at {', '.join(urls)} ({what}) after "
                               f"{timeout:.0f}s; last: {last}")
        time.sleep(0.2)


def exec_in(state_dir: Path, instance: str, argv: list[str],
            timeout: float = 30) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "vpclab.cli", "exec", "--state-dir", str(state_dir),
                           instance, "--", *argv], capture_output=True, text=True, timeout=timeout)


class PrivateLinkLab:
    def __init__(self, endpoint_url: str, state_dir: Path, rec: Recorder):
        self.url = endpoint_url
        self.state_dir = state_dir
        self.rec = rec
        self.s = LabState(endpoint_url=endpoint_url, state_dir=str(state_dir), run_id=new_run_id())
        self.ec2_1 = client("ec2", PROVIDER, endpoint_url)
        self.elb_1 = client("elbv2", PROVIDER, endpoint_url)
        self.ec2_2 = client("ec2", CONSUMER, endpoint_url)

    def save(self) -> None:
        self.s.save(self.state_dir)

    def made_something(self) -> bool:
        s = self.s
        return any((s.provider_sg, s.provider_instance, s.target_group, s.load_balancer, s.service_id,
                    s.consumer_sg, s.consumer_instance, s.endpoint_id))

    def _tags(self) -> list[TagTypeDef]:
        return tagged.tags(LAB, self.s.run_id)

    def _spec(self, resource_type: ResourceTypeType, name: str | None = None) -> TagSpecificationTypeDef:
        return tagged.tag_specification(resource_type, LAB, self.s.run_id, name)

    @staticmethod
    def _default_vpc(ec2: EC2Client) -> str:
        return ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]

    @staticmethod
    def _group_names(ec2: EC2Client, vpc_id: str) -> set[str]:
        return {g["GroupName"] for page in ec2.get_paginator("describe_security_groups").paginate(
            Filters=[{"Name": "vpc-id", "Values": [vpc_id]}]) for g in page["SecurityGroups"]}

    # Step 1: account 1 ------------------------------------------------------------------
    def provider(self) -> None:
        rec, ec2, elb, s = self.rec, self.ec2_1, self.elb_1, self.s
        with rec.step("Step 1.2", "Launch demo-server-instance allowing port 80 (account 1)",
                      "CreateSecurityGroup, AuthorizeSecurityGroupIngress, RunInstances") as r:
            vpc_id = self._default_vpc(ec2)
            group = free_name("launch-wizard", self._group_names(ec2, vpc_id), numbered=True)
            s.provider_sg = ec2.create_security_group(
                GroupName=group, Description=f"{group} created by the vpclab lab", VpcId=vpc_id,
                TagSpecifications=[self._spec("security-group")])["GroupId"]
            self.save()
            ec2.authorize_security_group_ingress(GroupId=s.provider_sg, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}
                for p in (22, 80)])
            inst = ec2.run_instances(
                ImageId=self._image(ec2), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                SecurityGroupIds=[s.provider_sg], UserData=USER_DATA,
                Placement={"AvailabilityZone": f"{REGION}a"},
                TagSpecifications=[self._spec("instance", "demo-server-instance")],
            )["Instances"][0]
            s.provider_instance, s.provider_ip = inst["InstanceId"], inst["PrivateIpAddress"]
            self.save()
            rec.wait("waiting for demo-server-instance to run", lambda: self._running(ec2, s.provider_instance))
            r.ids = {"sg": s.provider_sg, "group": group, "instance": s.provider_instance,
                     "ip": s.provider_ip}
        with rec.step("Step 1.3", "nginx started by the instance's user data",
                      "vpclab exec … curl 127.0.0.1, GetConsoleOutput") as r:
            rec.wait("waiting for nginx", lambda: poll(
                lambda: exec_in(self.state_dir, s.provider_instance,
                                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "http://127.0.0.1/"]
                                ).stdout == "200", 20, 0.1, "nginx on the instance"))
            # botocore decodes the base64 Output of GetConsoleOutput for its callers.
            console = ec2.get_console_output(InstanceId=s.provider_instance).get("Output", "")
            r.detail = next((line for line in console.splitlines()
                             if "user data" in line.lower() or "user-data" in line.lower()), "")
            # The page from inside the VPC, at the instance's private address.
            page = exec_in(self.state_dir, s.provider_instance, ["curl", "-s", f"http://{s.provider_ip}/"]).stdout
            if NGINX_PAGE not in page:
                raise RuntimeError(f"no nginx page at {s.provider_ip} inside the VPC: {page[:200]!r}")
        with rec.step("Step 1.4", "Open the instance's public IPv4 address in a browser tab (from this machine)",
                      "DescribeInstances, GET http://127.x.y.z/") as r:
            s.provider_public_ip = rec.wait("waiting for the public IPv4 address", lambda: poll(
                lambda: self._public_ip(ec2, s.provider_instance), 20, 0.1, "the instance's public IPv4 address"))
            s.provider_url = f"http://{host_address(s.provider_public_ip)}/"
            self.save()
            rec.wait(f"opening {s.provider_url}", lambda: open_in_browser_tab(
                [s.provider_url], 20, f"the public address {s.provider_public_ip} of {s.provider_instance}"))
            r.ids = {"public_ip": s.provider_public_ip, "url": s.provider_url}
            r.detail = f"Public IPv4 address {s.provider_public_ip} — open {s.provider_url}: {NGINX_PAGE}"
        with rec.step("Step 1.7", "Create target group demo-service-tg (TCP:80, instances)",
                      "CreateTargetGroup") as r:
            vpc_id = self._default_vpc(ec2)
            # A name taken by a target group that is not this run's (the README's walk-through,
            # a kept run) gets a number: CreateTargetGroup would hand back that group.
            name = free_name("demo-service-tg", {tg["TargetGroupName"] for page in elb.get_paginator(
                "describe_target_groups").paginate() for tg in page["TargetGroups"]})
            s.target_group = elb.create_target_group(
                Name=name, Protocol="TCP", Port=80, VpcId=vpc_id, TargetType="instance", Tags=self._tags(),
            )["TargetGroups"][0]["TargetGroupArn"]
            self.save()
            r.ids = {"target_group": s.target_group.rsplit(":", 1)[-1]}
        with rec.step("Step 1.8", "Include the instance in the target group", "RegisterTargets") as r:
            elb.register_targets(TargetGroupArn=s.target_group, Targets=[{"Id": s.provider_instance, "Port": 80}])
            r.ids = {"target": s.provider_instance}
        with rec.step("Step 1.10", "Create NLB demo-service-nlb in all zones of the default VPC",
                      "DescribeSubnets, CreateLoadBalancer") as r:
            subnets = [sn["SubnetId"] for sn in ec2.describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
            name = free_name("demo-service-nlb", {lb["LoadBalancerName"] for page in elb.get_paginator(
                "describe_load_balancers").paginate() for lb in page["LoadBalancers"]})
            lb = elb.create_load_balancer(Name=name, Type="network", Scheme="internet-facing",
                                          Subnets=subnets, SecurityGroups=[s.provider_sg],
                                          Tags=self._tags())["LoadBalancers"][0]
            s.load_balancer, s.load_balancer_dns = lb["LoadBalancerArn"], lb["DNSName"]
            self.save()
            r.ids = {"nlb": s.load_balancer.rsplit("/", 2)[-2] + "/" + s.load_balancer.rsplit("/", 1)[-1],
                     "state": lb["State"]["Code"]}
        with rec.step("Step 1.11", "Listener TCP:80 forwarding to demo-service-tg", "CreateListener") as r:
            s.listener = elb.create_listener(
                LoadBalancerArn=s.load_balancer, Protocol="TCP", Port=80,
                DefaultActions=[{"Type": "forward", "TargetGroupArn": s.target_group}],
                Tags=self._tags())["Listeners"][0]["ListenerArn"]
            self.save()
            r.ids = {"listener": s.listener.rsplit("/", 1)[-1]}
        with rec.step("Step 1.12", "Wait for the NLB: provisioning → active", "DescribeLoadBalancers") as r:
            rec.wait("NLB provisioning", lambda: poll(lambda: elb.describe_load_balancers(
                LoadBalancerArns=[s.load_balancer])["LoadBalancers"][0]["State"]["Code"] == "active",
                60, 0.1, "the NLB to be active"))
            r.ids = {"state": "active"}
        with rec.step("Step 1.13", "Target healthy; the NLB's DNS name opened in a browser tab (from this machine)",
                      "DescribeTargetHealth, DescribeNetworkInterfaces, GET http://127.x.y.z/") as r:
            rec.wait("health checks", lambda: poll(lambda: elb.describe_target_health(
                TargetGroupArn=s.target_group)["TargetHealthDescriptions"][0]["TargetHealth"]["State"] == "healthy",
                60, 0.1, "the target to be healthy"))
            # The seed pastes the DNS name in a browser tab: it resolves to the nodes' public
            # addresses (everywhere, as on AWS), which this machine reaches at their host
            # mapping. (Not from the instance itself: an NLB keeps the client's address, so
            # a target cannot reach itself through its own NLB, as on AWS.)
            # The nodes' addresses are their network interfaces' ("ELB net/<name>/<id>"), as on AWS.
            nodes = sorted(n["Association"]["PublicIp"] for n in ec2.describe_network_interfaces(Filters=[
                {"Name": "description", "Values": [f"ELB {s.load_balancer.split(':loadbalancer/', 1)[1]}"]}],
            )["NetworkInterfaces"] if is_public(n.get("Association", {}).get("PublicIp", "")))
            if not nodes:
                raise RuntimeError(f"the internet-facing NLB {s.load_balancer_dns} has no public address")
            s.load_balancer_url = rec.wait("opening the NLB", lambda: open_in_browser_tab(
                [f"http://{host_address(ip)}/" for ip in nodes], 20,
                f"the public addresses {', '.join(nodes)} of {s.load_balancer_dns}"))
            self.save()
            r.ids = {"target": "healthy", "dns": s.load_balancer_dns, "url": s.load_balancer_url}
            r.detail = f"{s.load_balancer_dns} — open {s.load_balancer_url}: {NGINX_PAGE}"
        with rec.step("Step 1.17", "Create endpoint service (acceptance required)",
                      "CreateVpcEndpointServiceConfiguration") as r:
            svc = ec2.create_vpc_endpoint_service_configuration(
                NetworkLoadBalancerArns=[s.load_balancer], AcceptanceRequired=True,
                TagSpecifications=[self._spec("vpc-endpoint-service", "demo-service-provider")],
            )["ServiceConfiguration"]
            s.service_id, s.service_name = svc["ServiceId"], svc["ServiceName"]
            self.save()
            r.ids = {"service": s.service_id, "name": s.service_name, "state": svc["ServiceState"]}

    # Step 2: account 2 ------------------------------------------------------------------
    def consumer(self) -> None:
        rec, ec2, s = self.rec, self.ec2_2, self.s
        with rec.step("Step 2.1", "Launch account2-ec2 (account 2)", "RunInstances") as r:
            inst = ec2.run_instances(
                ImageId=self._image(ec2), InstanceType="t2.micro", MinCount=1, MaxCount=1,
                Placement={"AvailabilityZone": f"{REGION}a"},
                TagSpecifications=[self._spec("instance", "account2-ec2")],
            )["Instances"][0]
            s.consumer_instance = inst["InstanceId"]
            self.save()
            rec.wait("waiting for account2-ec2 to run", lambda: self._running(ec2, s.consumer_instance))
            r.ids = {"instance": s.consumer_instance, "ip": inst["PrivateIpAddress"]}
        with rec.step("Step 2.5", "Verify the service name before being allowed",
                      "DescribeVpcEndpointServices") as r:
            try:
                ec2.describe_vpc_endpoint_services(ServiceNames=[s.service_name])
            except ClientError as err:
                if err.response["Error"]["Code"] != "InvalidServiceName":
                    raise
                r.outcome = "expected-error"
                r.detail = f"InvalidServiceName: {err.response['Error']['Message']}"
            else:
                raise RuntimeError("account 2 saw the service before it was allowed")
        with rec.step("Step 2.7", "Account 1 allows arn:aws:iam::222222222222:root",
                      "ModifyVpcEndpointServicePermissions") as r:
            self.ec2_1.modify_vpc_endpoint_service_permissions(
                ServiceId=s.service_id, AddAllowedPrincipals=[f"arn:aws:iam::{CONSUMER}:root"])
            r.ids = {"principal": f"arn:aws:iam::{CONSUMER}:root"}
        with rec.step("Step 2.8", "Verify the service name again", "DescribeVpcEndpointServices") as r:
            detail = ec2.describe_vpc_endpoint_services(ServiceNames=[s.service_name])["ServiceDetails"][0]
            r.ids = {"owner": detail["Owner"], "zones": ",".join(detail["AvailabilityZones"])}
            r.detail = "Service name verified."
        with rec.step("Step 2.9", "Create interface endpoint demo-endpoint in all three subnets",
                      "CreateSecurityGroup, AuthorizeSecurityGroupIngress, CreateVpcEndpoint") as r:
            vpc_id = self._default_vpc(ec2)
            subnets = [sn["SubnetId"] for sn in ec2.describe_subnets(
                Filters=[{"Name": "default-for-az", "Values": ["true"]}])["Subnets"]]
            s.consumer_sg = ec2.create_security_group(
                GroupName=free_name("demo-endpoint-sg", self._group_names(ec2, vpc_id)),
                Description="port 80 to the endpoint", VpcId=vpc_id,
                TagSpecifications=[self._spec("security-group")])["GroupId"]
            self.save()
            # Step 2.13: the endpoint's security group needs an inbound rule for port 80.
            ec2.authorize_security_group_ingress(GroupId=s.consumer_sg, IpPermissions=[
                {"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}])
            ep = ec2.create_vpc_endpoint(
                VpcEndpointType="Interface", VpcId=vpc_id, ServiceName=s.service_name, SubnetIds=subnets,
                SecurityGroupIds=[s.consumer_sg],
                TagSpecifications=[self._spec("vpc-endpoint", "demo-endpoint")],
            )["VpcEndpoint"]
            s.endpoint_id, s.endpoint_dns = ep["VpcEndpointId"], ep["DnsEntries"][0]["DnsName"]
            self.save()
            r.ids = {"endpoint": s.endpoint_id, "sg": s.consumer_sg}
        with rec.step("Step 2.10", "The endpoint is pending acceptance", "DescribeVpcEndpoints") as r:
            state = self._endpoint_state()
            if state != "pendingAcceptance":
                raise RuntimeError(f"endpoint state {state}, expected pendingAcceptance")
            r.ids = {"state": state}
        with rec.step("Step 2.11", "Account 1 sees the request and accepts it",
                      "DescribeVpcEndpointConnections, AcceptVpcEndpointConnections") as r:
            conns = self.ec2_1.describe_vpc_endpoint_connections(
                Filters=[{"Name": "service-id", "Values": [s.service_id]}])["VpcEndpointConnections"]
            conn = next(c for c in conns if c["VpcEndpointId"] == s.endpoint_id)
            result = self.ec2_1.accept_vpc_endpoint_connections(ServiceId=s.service_id, VpcEndpointIds=[s.endpoint_id])
            if result.get("Unsuccessful"):
                raise RuntimeError(f"accept failed: {result['Unsuccessful']}")
            r.ids = {"owner": conn["VpcEndpointOwner"], "was": conn["VpcEndpointState"]}
        with rec.step("Step 2.12", "The endpoint becomes available", "DescribeVpcEndpoints") as r:
            rec.wait("endpoint pending → available", lambda: poll(
                lambda: self._endpoint_state() == "available", 60, 0.05, "the endpoint to be available"))
            r.ids = {"state": "available", "dns": s.endpoint_dns}
        with rec.step("Step 2.15", "curl the endpoint's DNS name from account2-ec2",
                      f"vpclab exec account2-ec2 -- curl {s.endpoint_dns}") as r:
            def fetch() -> str | None:
                out = exec_in(self.state_dir, s.consumer_instance,
                              ["curl", "-s", "--max-time", "3", f"http://{s.endpoint_dns}/"])
                return out.stdout if "Welcome to nginx!" in out.stdout else None
            s.curl_output = rec.wait("curl through PrivateLink", lambda: poll(fetch, 20, 0.2, "nginx through the endpoint"))
            self.save()
            r.detail = "Welcome to nginx!"

    # Step 3: cleanup --------------------------------------------------------------------
    def cleanup(self, run_id: str | None) -> None:
        """Delete, in the seed's order, what carries this lab's tags: one run's (`run_id`)
        or, for `--cleanup`, every run's. Nothing else in the accounts is touched."""
        rec = self.rec
        clients = {PROVIDER: (self.ec2_1, self.elb_1), CONSUMER: (self.ec2_2, client("elbv2", CONSUMER, self.url))}
        with rec.step("Step 3.0", "Find what the lab made (by its tags)", "Describe*, DescribeTags") as r:
            made = {a: tagged.find(ec2, elb, a, LAB, run_id) for a, (ec2, elb) in clients.items()}
            r.ids = {f"{a}:{k}": str(len(v)) for a, m in made.items() for k, v in m.kinds().items()}
            if not r.ids:
                r.detail = "nothing of the lab's is left"
        everything = [(clients[a][0], clients[a][1], m) for a, m in made.items()]
        if any(m.endpoints for _, _, m in everything):
            with rec.step("Step 3.1", "Delete the endpoint (account 2)", "DeleteVpcEndpoints") as r:
                for ec2, _, m in everything:
                    if m.endpoints:
                        out = ec2.delete_vpc_endpoints(VpcEndpointIds=m.endpoints)
                        _unsuccessful(out.get("Unsuccessful", []), ok_codes=("InvalidVpcEndpoint.NotFound",))
                for ec2, _, m in everything:
                    for eid in m.endpoints:
                        rec.wait("endpoint deleting → deleted", lambda: poll(
                            lambda: _endpoint_state(ec2, eid) in ("deleted", None), 60, 0.1,
                            "the endpoint to be deleted"))
                r.ids = {"endpoints": ",".join(e for _, _, m in everything for e in m.endpoints)}
        if any(m.services for _, _, m in everything):
            with rec.step("Step 3.2", "Delete the endpoint service (account 1)",
                          "DeleteVpcEndpointServiceConfigurations") as r:
                for ec2, _, m in everything:
                    if m.services:
                        out_services = ec2.delete_vpc_endpoint_service_configurations(ServiceIds=m.services)
                        _unsuccessful(out_services.get("Unsuccessful", []),
                                      ok_codes=("InvalidVpcEndpointService.NotFound",))
                r.ids = {"services": ",".join(x for _, _, m in everything for x in m.services)}
        if any(m.load_balancers for _, _, m in everything):
            with rec.step("Step 3.3", "Delete the NLB", "DeleteLoadBalancer") as r:
                for _, elb, m in everything:
                    for arn in m.load_balancers:
                        elb.delete_load_balancer(LoadBalancerArn=arn)
                for _, elb, m in everything:
                    for arn in m.load_balancers:
                        rec.wait("NLB deleting", lambda: poll(lambda: not _exists(
                            lambda: elb.describe_load_balancers(LoadBalancerArns=[arn])), 60, 0.1, "the NLB to go"))
                r.ids = {"nlbs": str(sum(len(m.load_balancers) for _, _, m in everything))}
        if any(m.instances for _, _, m in everything):
            with rec.step("Step 3.4", "Terminate the instances", "TerminateInstances") as r:
                for ec2, _, m in everything:
                    if m.instances:
                        ec2.terminate_instances(InstanceIds=m.instances)
                for ec2, _, m in everything:
                    for iid in m.instances:
                        rec.wait(f"{iid} shutting down", lambda: poll(
                            lambda: self._instance_state(ec2, iid) in ("terminated", None), 60, 0.1,
                            f"{iid} to terminate"))
                r.ids = {"instances": ",".join(i for _, _, m in everything for i in m.instances)}
        if any(m.target_groups for _, _, m in everything):
            with rec.step("Step 3.5", "Delete the target group", "DeleteTargetGroup") as r:
                for _, elb, m in everything:
                    for arn in m.target_groups:
                        elb.delete_target_group(TargetGroupArn=arn)
                r.ids = {"target_groups": str(sum(len(m.target_groups) for _, _, m in everything))}
        if any(m.security_groups for _, _, m in everything):
            with rec.step("Step 3.6", "Delete the lab's security groups", "DeleteSecurityGroup") as r:
                for ec2, _, m in everything:
                    for gid in m.security_groups:
                        try:
                            ec2.delete_security_group(GroupId=gid)
                        except ClientError as err:
                            if err.response["Error"]["Code"] != "InvalidGroup.NotFound":
                                raise
                r.ids = {"groups": ",".join(g for _, _, m in everything for g in m.security_groups)}
        with rec.step("Step 3.7", "Check that nothing of the lab's is left", "Describe* in both accounts") as r:
            left = self.leftovers(made, run_id)
            if left:
                raise RuntimeError(f"left behind: {left}")
            r.detail = "no endpoint, service, NLB, target group, instance, ENI or security group of the lab left"

    def leftovers(self, made: dict[str, tagged.Made], run_id: str | None) -> dict[str, list[str]]:
        """What still carries the lab's tags, and ENIs of what `made` held."""
        left: dict[str, list[str]] = {}
        for account, ec2 in ((PROVIDER, self.ec2_1), (CONSUMER, self.ec2_2)):
            now = tagged.find(ec2, client("elbv2", account, self.url), account, LAB, run_id)
            for kind, ids in now.kinds().items():
                left[f"{account}:{kind}"] = ids
            enis = tagged.network_interfaces_of(ec2, made[account])
            if enis:
                left[f"{account}:network_interfaces"] = enis
        return left

    # Helpers ----------------------------------------------------------------------------
    @staticmethod
    def _image(ec2: EC2Client) -> str:
        images = ec2.describe_images(Owners=["amazon"], Filters=[{"Name": "name", "Values": ["al2023-ami-*x86_64"]}])
        found = images["Images"] or ec2.describe_images()["Images"]
        return found[0]["ImageId"]

    @staticmethod
    def _instance_state(ec2: EC2Client, iid: str) -> str | None:
        try:
            res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        except ClientError:
            return None
        return res[0]["Instances"][0]["State"]["Name"] if res else None

    @staticmethod
    def _public_ip(ec2: EC2Client, iid: str) -> str:
        """The instance's public IPv4 address ("" while it has none)."""
        res = ec2.describe_instances(InstanceIds=[iid])["Reservations"]
        return res[0]["Instances"][0].get("PublicIpAddress", "") if res else ""

    def _running(self, ec2: EC2Client, iid: str) -> bool:
        return poll(lambda: self._instance_state(ec2, iid) == "running", 60, 0.05, f"{iid} to run")

    def _endpoint_state(self) -> str | None:
        return _endpoint_state(self.ec2_2, self.s.endpoint_id)


def _endpoint_state(ec2: EC2Client, endpoint_id: str) -> str | None:
    try:
        eps = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    except ClientError as err:
        if err.response["Error"]["Code"] == "InvalidVpcEndpointId.NotFound":
            return None
        raise
    return eps[0]["State"] if eps else None


def _unsuccessful(unsuccessful: Sequence[UnsuccessfulItemTypeDef], ok_codes: tuple[str, ...]) -> None:
    bad = [u for u in unsuccessful if u.get("Error", {}).get("Code") not in ok_codes]
    if bad:
        err = bad[0]["Error"]
        raise RuntimeError(f"{err.get('Code')}: {err.get('Message')}")


def _exists(describe: Callable[[], Any]) -> bool:
    try:
        describe()
    except ClientError:
        return False
    return True
