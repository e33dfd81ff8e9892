from functools import partial

"""A UDP listener forwards UDP datagrams to its targets, with the node as the source."""
from tests.helpers.accounts import ACCOUNT_1
from tests.helpers.instances import vpclab_exec
from tests.helpers.waiting import wait_for as _wait_for

wait = partial(_wait_for, timeout=30.0, interval=0.2)

UDP_ECHO = r'''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 5353))
while True:
    data, peer = s.recvfrom(2048)
    s.sendto(data + b" from " + peer[0].encode(), peer)
'''

ASK = r'''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.0)
for _ in range(10):
    s.sendto(b"ping", (sys.argv[1], 5353))
    try:
        print(s.recvfrom(2048)[0].decode()); break
    except OSError:
        pass
'''


def test_udp_listener_forwards_datagrams(fast_dataplane_server):
    srv = fast_dataplane_server
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    vpc = ec2.describe_vpcs()["Vpcs"][0]["VpcId"]
    sg = ec2.create_security_group(GroupName="udp", Description="udp", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=sg, IpPermissions=[
        {"IpProtocol": "udp", "FromPort": 5353, "ToPort": 5353, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]},
        {"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "IpRanges": [{"CidrIp": "172.31.0.0/16"}]}])
    image = ec2.describe_images()["Images"][0]["ImageId"]
    user_data = ("#!/bin/sh\ncat > /tmp/echo.py <<'EOF'\n" + UDP_ECHO + "EOF\n"
                 "(nohup python3 /tmp/echo.py >/dev/null 2>&1 &)\n"
                 "(cd /tmp && nohup python3 -m http.server 8080 >/dev/null 2>&1 &)\n")

    def launch(name, data):
        return ec2.run_instances(ImageId=image, InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 SecurityGroupIds=[sg], UserData=data,
                                 Placement={"AvailabilityZone": "ap-south-1a"},
                                 TagSpecifications=[{"ResourceType": "instance",
                                                     "Tags": [{"Key": "Name", "Value": name}]}])["Instances"][0]

    target = launch("udp-target", user_data)
    launch("udp-client", "")
    subnet = ec2.describe_subnets(Filters=[{"Name": "availability-zone", "Values": ["ap-south-1a"]}])
    tg = elb.create_target_group(Name="udp", Protocol="UDP", Port=5353, VpcId=vpc, HealthCheckProtocol="TCP",
                                 HealthCheckPort="8080")["TargetGroups"][0]["TargetGroupArn"]
    wait(lambda: ec2.describe_instances(InstanceIds=[target["InstanceId"]])["Reservations"][0]["Instances"][0]
         ["State"]["Name"] == "running")
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": target["InstanceId"]}])
    lb = elb.create_load_balancer(Name="udp", Type="network", Scheme="internal", SecurityGroups=[sg],
                                  Subnets=[subnet["Subnets"][0]["SubnetId"]])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="UDP", Port=5353,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    node_ip = lb["AvailabilityZones"][0]["LoadBalancerAddresses"][0]["PrivateIPv4Address"]
    wait(lambda: elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]
         ["TargetHealth"]["State"] == "healthy")
    wait(lambda: ec2.describe_instances(Filters=[{"Name": "tag:Name", "Values": ["udp-client"]}])
         ["Reservations"][0]["Instances"][0]["State"]["Name"] == "running")
    reply = wait(lambda: vpclab_exec(srv, "udp-client", f"python3 -c '{ASK}' {node_ip}").strip(), timeout=20)
    # The target answered the datagram, and saw the NLB node as its source.
    assert reply == f"ping from {node_ip}"
