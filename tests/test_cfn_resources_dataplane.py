"""The seed lab's provider side made by CloudFormation's providers on a server with its
data plane: an instance whose user data starts nginx, a target group with it as target,
an NLB, a listener and an endpoint service; then `curl` of the NLB's DNS name from inside
a client instance prints nginx's page. Every request is sent from an instance's namespace."""
from __future__ import annotations

import base64

from tests.helpers.accounts import ACCOUNT_1, REGION
from tests.helpers.cfn_resources import ServerCalls, stack_ref
from tests.helpers.instances import NGINX, vexec
from tests.helpers.waiting import wait_for
from vpclab.control.cloudformation import resources
from vpclab.control.cloudformation.resources import Api


def test_the_provider_side_carries_traffic(fast_dataplane_server):
    srv = fast_dataplane_server
    api = Api(ServerCalls(srv), ACCOUNT_1, REGION)
    made: list[tuple[str, str, dict]] = []

    def create(type_name: str, logical_id: str, props: dict):
        out = resources.provider(type_name).create(api, logical_id, props, stack_ref(logical_id))
        made.append((type_name, out.physical_id, props))
        return out

    ec2 = srv.client("ec2")
    subnet = sorted(ec2.describe_subnets()["Subnets"], key=lambda s: s["AvailabilityZone"])[0]
    vpc = subnet["VpcId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    try:
        group = create("AWS::EC2::SecurityGroup", "WebSg", {
            "GroupDescription": "web", "VpcId": vpc,
            "SecurityGroupIngress": [{"IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "CidrIp": "0.0.0.0/0"}]})
        web = create("AWS::EC2::Instance", "Web", {
            "ImageId": image, "InstanceType": "t3.micro", "SubnetId": subnet["SubnetId"],
            "SecurityGroupIds": [group.physical_id], "UserData": base64.b64encode(NGINX.encode()).decode()})
        tg = create("AWS::ElasticLoadBalancingV2::TargetGroup", "Tg", {
            "Protocol": "TCP", "Port": 80, "VpcId": vpc, "HealthCheckIntervalSeconds": 5,
            "HealthCheckTimeoutSeconds": 2, "Targets": [{"Id": web.physical_id}]})
        nlb = create("AWS::ElasticLoadBalancingV2::LoadBalancer", "Nlb", {
            "Type": "network", "Scheme": "internal", "Subnets": [subnet["SubnetId"]]})
        create("AWS::ElasticLoadBalancingV2::Listener", "Listener", {
            "LoadBalancerArn": nlb.physical_id, "Port": 80, "Protocol": "TCP",
            "DefaultActions": [{"Type": "forward", "TargetGroupArn": tg.physical_id}]})
        service = create("AWS::EC2::VPCEndpointService", "Service", {
            "AcceptanceRequired": True, "NetworkLoadBalancerArns": [nlb.physical_id]})
        assert service.physical_id.startswith("vpce-svc-")
        client = create("AWS::EC2::Instance", "Client", {
            "ImageId": image, "InstanceType": "t3.micro", "SubnetId": subnet["SubnetId"]})

        # Inside the client instance (its resolv.conf: the VPC resolver answers the NLB's name).
        url = f"http://{nlb.attributes['DNSName']}/"
        page = wait_for(lambda: _curl(srv, client.physical_id, url), timeout=60, interval=0.5,
                        what="nginx through the NLB")
        assert "Welcome to nginx!" in page
    finally:
        for type_name, physical_id, props in reversed(made):
            resources.provider(type_name).delete(api, physical_id, props, stack_ref("X"))
    assert ec2.describe_instances(InstanceIds=[web.physical_id])["Reservations"][0]["Instances"][0]["State"][
        "Name"] == "terminated"


def _curl(srv, instance_id: str, url: str) -> str | None:
    out = vexec(srv, instance_id, "curl", "-s", "-m", "2", url)
    return out.stdout if out.returncode == 0 else None
