"""Real traffic through NLBs and interface endpoints: web targets, a client instance, an NLB,
an endpoint service with its consumer. Every request is sent from inside an instance's
namespace (`curl`), never from the host.
"""
from __future__ import annotations

from types import SimpleNamespace

from vpclab.kernel import naming, netns

from .accounts import ACCOUNT_1, ACCOUNT_2
from .waiting import wait_for

SERVER = """#!/bin/sh
cat > /tmp/whoami.py <<'PY'
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        me, peer = self.connection.getsockname()[0], self.client_address[0]
        body = f"{me} {peer}\\n".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.ThreadingHTTPServer(("0.0.0.0", PORT), H).serve_forever()
PY
nohup python3 /tmp/whoami.py >/tmp/whoami.log 2>&1 &
"""


def user_data(port: int = 80) -> str:
    """The script as text: boto3 base64-encodes RunInstances' UserData itself."""
    return SERVER.replace("PORT", str(port))


def run_instances(ec2, subnet_id: str, groups: list[str], count: int, data: str | None = None) -> list[dict]:
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    kwargs = {"UserData": data} if data else {}
    insts = ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=count, MaxCount=count,
                              SubnetId=subnet_id, SecurityGroupIds=groups, **kwargs)["Instances"]
    ids = [i["InstanceId"] for i in insts]
    ec2.get_waiter("instance_running").wait(InstanceIds=ids, WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    return insts


def web_group(ec2, vpc_id: str, name: str) -> str:
    gid = ec2.create_security_group(GroupName=name, Description=name, VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


def curl(prefix: str, instance_id: str, url: str, timeout: float = 2) -> str | None:
    ns = naming.namespace_name(prefix, instance_id)
    out = netns.run(ns, ["curl", "-s", "-m", str(timeout), url], timeout=timeout + 5)
    return out.stdout.strip() if out.returncode == 0 else None


def provider_nlb(srv, account: str = ACCOUNT_1, targets: int = 2, data: list[str] | None = None):
    """Default VPC of `account`: `targets` web instances (the whoami server, or one
    instance per user data of `data`), an NLB TCP:80 in one subnet."""
    ec2, elb = srv.client("ec2", account), srv.client("elbv2", account)
    vpc_id = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    subnet = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])[0]
    gid = web_group(ec2, vpc_id, "web")
    if data is None:
        webs = run_instances(ec2, subnet["SubnetId"], [gid], targets, user_data())
    else:
        webs = [w for d in data for w in run_instances(ec2, subnet["SubnetId"], [gid], 1, d)]
    lb = elb.create_load_balancer(Name="web", Type="network", Scheme="internal",
                                  Subnets=[subnet["SubnetId"]])["LoadBalancers"][0]
    tg = elb.create_target_group(Name="web", Protocol="TCP", Port=80, VpcId=vpc_id,
                                 HealthCheckIntervalSeconds=5, HealthCheckTimeoutSeconds=2)["TargetGroups"][0]
    elb.register_targets(TargetGroupArn=tg["TargetGroupArn"], Targets=[{"Id": i["InstanceId"]} for i in webs])
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg["TargetGroupArn"]}])
    elb.get_waiter("load_balancer_available").wait(LoadBalancerArns=[lb["LoadBalancerArn"]],
                                                   WaiterConfig={"Delay": 1, "MaxAttempts": 30})
    lb = elb.describe_load_balancers(LoadBalancerArns=[lb["LoadBalancerArn"]])["LoadBalancers"][0]
    node_ip = next(a["PrivateIPv4Address"] for z in lb["AvailabilityZones"] for a in z["LoadBalancerAddresses"])
    return {"ec2": ec2, "elb": elb, "vpc": vpc_id, "subnet": subnet["SubnetId"], "group": gid, "webs": webs,
            "lb": lb, "tg": tg, "node_ip": node_ip}


# Interface endpoints ----------------------------------------------------------------

def endpoint_state(ec2, endpoint_id: str) -> str:
    eps = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    return eps[0]["State"] if eps else "gone"


def wait_state(ec2, endpoint_id: str, state: str, timeout: float = 30) -> None:
    wait_for(lambda: endpoint_state(ec2, endpoint_id) == state, timeout=timeout, interval=0.2,
             what=f"{endpoint_id} {state}")


def service_and_consumer(srv, groups_rule: bool = True, data: list[str] | None = None):
    """Account 1: NLB + one web target + an endpoint service (acceptance required) that
    account 2 may use (or one per user data of `data`). Account 2: a client instance and an endpoint group in its default VPC."""
    p = provider_nlb(srv, targets=1, data=data)
    ec2_1 = p["ec2"]
    svc = ec2_1.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[p["lb"]["LoadBalancerArn"]], AcceptanceRequired=True)["ServiceConfiguration"]
    ec2_1.modify_vpc_endpoint_service_permissions(
        ServiceId=svc["ServiceId"], AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    ec2_2 = srv.client("ec2", ACCOUNT_2)
    vpc_2 = ec2_2.describe_vpcs()["Vpcs"][0]["VpcId"]
    zone = ec2_1.describe_subnets(SubnetIds=[p["subnet"]])["Subnets"][0]["AvailabilityZoneId"]
    subnet_2 = next(s for s in ec2_2.describe_subnets()["Subnets"] if s["AvailabilityZoneId"] == zone)
    if groups_rule:
        group_2 = web_group(ec2_2, vpc_2, "endpoint")
    else:
        group_2 = ec2_2.create_security_group(GroupName="endpoint", Description="no rules", VpcId=vpc_2)["GroupId"]
    client = run_instances(ec2_2, subnet_2["SubnetId"], [group_2], 1)[0]["InstanceId"]
    return SimpleNamespace(p=p, ec2_1=ec2_1, ec2_2=ec2_2, svc=svc, vpc_2=vpc_2, subnet_2=subnet_2["SubnetId"],
                           group_2=group_2, client=client)


def make_endpoint(c) -> tuple[str, str]:
    ep = c.ec2_2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=c.vpc_2, ServiceName=c.svc["ServiceName"],
                                     SubnetIds=[c.subnet_2], SecurityGroupIds=[c.group_2])["VpcEndpoint"]
    eni = c.ec2_2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"][0]
    return ep["VpcEndpointId"], eni["PrivateIpAddress"]


def available_endpoint(c) -> tuple[str, str]:
    """`make_endpoint`, accepted by the provider and reported available: its id and the
    URL of its ENI."""
    endpoint_id, eni_ip = make_endpoint(c)
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[endpoint_id])
    wait_state(c.ec2_2, endpoint_id, "available")
    return endpoint_id, f"http://{eni_ip}/"
