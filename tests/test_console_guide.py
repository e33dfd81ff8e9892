"""The guided lab panel ticks the seed's steps from what the accounts' APIs answer: here
boto3 does the lab (as a learner using the CLI or a script would) and the guide follows."""
from __future__ import annotations

import re

import pytest
import requests

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.console import needs_chromium, shot, sign_in
from tests.helpers.elbv2 import default_subnets, default_vpc, run_instance, unique
from tests.helpers.instances import launch, wait_state
from tests.helpers.waiting import wait_for

SETUP = ["1.2", "1.4", "1.7", "1.10", "1.12", "1.13", "1.17", "2.1", "2.7", "2.9", "2.11", "2.13"]
CLEANUP = ["3.1", "3.2", "3.3", "3.4", "3.5"]


def token_of(srv) -> str:
    page = requests.get(srv.url + "/console/", timeout=10)
    return re.search(r'name="vpclab-console-token" content="([^"]+)"', page.text).group(1)


def guide(srv, token: str, **extra) -> dict:
    resp = requests.post(srv.url + "/console/api/guide", json={"region": REGION, **extra}, timeout=10,
                         headers={"X-Vpclab-Console-Token": token})
    assert resp.status_code == 200, resp.text
    return resp.json()


def ticked(progress: dict) -> list[str]:
    return [s["id"] for s in progress["steps"] if s["done"]]


def web_group(ec2, vpc_id: str, name: str) -> str:
    gid = ec2.create_security_group(GroupName=unique(name), Description=name, VpcId=vpc_id)["GroupId"]
    ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    return gid


@pytest.fixture
def srv(console_server):
    return console_server


def test_the_guide_follows_the_lab_done_with_boto3(fast_dataplane_server):
    """With the data plane: the target is healthy only once nginx answers its health checks."""
    srv = fast_dataplane_server
    token = token_of(srv)
    ec2, elb, ec2_2 = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)
    start = guide(srv, token)
    assert ticked(start) == [] and start["current"] == "1.2"
    assert start["provider"] == ACCOUNT_1 and start["consumer"] == ACCOUNT_2
    assert [s["account"] for s in start["steps"][:2]] == ["Account 1", "Account 1"]

    vpc = default_vpc(ec2)
    bare = run_instance(ec2)  # its default group does not allow port 80: not the seed's instance yet
    assert guide(srv, token)["current"] == "1.2"
    ec2.terminate_instances(InstanceIds=[bare])
    web = web_group(ec2, vpc, "launch-wizard")
    iid = launch(ec2, "demo-server-instance", SecurityGroupIds=[web])["InstanceId"]
    wait_state(ec2, iid, "running")
    # Running in a default subnet, it has a public address: Step 1.4 can be opened in a tab.
    assert ticked(guide(srv, token)) == ["1.2", "1.4"]

    tg = elb.create_target_group(Name="demo-service-tg", Protocol="TCP", Port=80, VpcId=vpc,
                                 TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    assert guide(srv, token)["current"] == "1.7"  # a target group with no target is not the step
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid}])
    nlb_group = ec2.create_security_group(GroupName=unique("nlb"), Description="nlb", VpcId=vpc)["GroupId"]
    lb = elb.create_load_balancer(Name="demo-service-nlb", Type="network", SecurityGroups=[nlb_group],
                                  Subnets=[s["SubnetId"] for s in default_subnets(ec2)])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    progress = guide(srv, token)
    assert ticked(progress) == ["1.2", "1.4", "1.7", "1.10"] and progress["current"] == "1.12"
    ec2.authorize_security_group_ingress(GroupId=nlb_group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    # Active and healthy come by themselves (here by the control plane's timers).
    wait_for(lambda: "1.13" in ticked(guide(srv, token)), timeout=60, interval=0.5,
             what="NLB active, target healthy")

    svc = ec2.create_vpc_endpoint_service_configuration(
        NetworkLoadBalancerArns=[lb["LoadBalancerArn"]], AcceptanceRequired=True)["ServiceConfiguration"]
    run_instance(ec2_2, wait=False)
    assert ticked(guide(srv, token)) == SETUP[:8]
    ec2.modify_vpc_endpoint_service_permissions(ServiceId=svc["ServiceId"],
                                                AddAllowedPrincipals=[f"arn:aws:iam::{ACCOUNT_2}:root"])
    vpc_2 = default_vpc(ec2_2)
    ep_group = ec2_2.create_security_group(GroupName=unique("ep"), Description="ep", VpcId=vpc_2)["GroupId"]
    ep = ec2_2.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_2, ServiceName=svc["ServiceName"],
                                   SubnetIds=[default_subnets(ec2_2)[0]["SubnetId"]],
                                   SecurityGroupIds=[ep_group])["VpcEndpoint"]["VpcEndpointId"]
    progress = guide(srv, token)
    assert ticked(progress) == SETUP[:10] and progress["current"] == "2.11"
    ec2.accept_vpc_endpoint_connections(ServiceId=svc["ServiceId"], VpcEndpointIds=[ep])
    wait_for(lambda: "2.11" in ticked(guide(srv, token)), timeout=30, interval=0.3, what="endpoint available")
    assert guide(srv, token)["current"] == "2.13"
    ec2_2.authorize_security_group_ingress(GroupId=ep_group, IpPermissions=[{
        "IpProtocol": "tcp", "FromPort": 80, "ToPort": 80, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}])
    progress = guide(srv, token)
    assert ticked(progress) == SETUP and progress["current"] == "3.1"

    # Clean-up in the seed's order; the set-up stays ticked while it is taken apart.
    ec2_2.delete_vpc_endpoints(VpcEndpointIds=[ep])
    wait_for(lambda: "3.1" in ticked(guide(srv, token)), timeout=30, interval=0.3, what="endpoint deleted")
    ec2.delete_vpc_endpoint_service_configurations(ServiceIds=[svc["ServiceId"]])
    elb.delete_load_balancer(LoadBalancerArn=lb["LoadBalancerArn"])
    ec2.terminate_instances(InstanceIds=[iid])
    wait_for(lambda: "3.4" in ticked(guide(srv, token)), timeout=30, interval=0.3, what="instance terminated")
    assert guide(srv, token)["current"] == "3.5"
    elb.delete_target_group(TargetGroupArn=tg)
    done = guide(srv, token)
    assert ticked(done) == SETUP + CLEANUP and done["current"] is None


def test_clean_up_steps_do_not_tick_before_the_set_up(srv):
    progress = guide(srv, token_of(srv))
    assert not any(s["done"] for s in progress["steps"] if s["id"] in CLEANUP)


def test_the_guide_reads_the_accounts_it_is_given_and_refuses_bad_ones(srv):
    token = token_of(srv)
    other = "333333333333"
    run_instance(srv.client("ec2", ACCOUNT_2), wait=False)
    assert "2.1" in ticked(guide(srv, token))
    assert "2.1" not in ticked(guide(srv, token, consumer=other))
    resp = requests.post(srv.url + "/console/api/guide", json={"region": REGION, "consumer": "12"}, timeout=10,
                         headers={"X-Vpclab-Console-Token": token})
    assert resp.status_code == 400 and resp.json()["error"]["Code"] == "ValidationError"
    assert requests.post(srv.url + "/console/api/guide", json={"region": REGION}, timeout=10).status_code == 403


@needs_chromium
def test_the_panel_shows_the_next_step_and_switches_to_its_account(browser, srv):
    from playwright.sync_api import expect

    page = browser.new_page()
    sign_in(page, srv, ACCOUNT_2)
    panel = page.get_by_role("complementary", name="Guided lab")
    expect(panel.get_by_label(re.compile(r"^Step 1\.2 .*: next$"))).to_be_visible()
    panel.get_by_role("button", name=f"Switch to Account 1 ({ACCOUNT_1})").click()
    expect(page.get_by_text(f"Account {ACCOUNT_1}")).to_be_visible()
    expect(panel.get_by_text("You are in Account 1.")).to_be_visible()
    # boto3 does the step; the panel ticks it without a reload.
    ec2 = srv.client("ec2", ACCOUNT_1)
    gid = web_group(ec2, default_vpc(ec2), "launch-wizard")
    ec2.run_instances(ImageId=ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"],
                      InstanceType="t2.micro", MinCount=1, MaxCount=1, SecurityGroupIds=[gid])
    expect(panel.get_by_label(re.compile(r"^Step 1\.2 .*: done$"))).to_be_visible(timeout=10000)
    expect(panel.get_by_label(re.compile(r"^Step 1\.7 .*: next$"))).to_be_visible()
    shot(page, "guide-panel")
    panel.get_by_role("button", name="Hide").click()
    expect(panel.get_by_role("list", name="Lab steps")).to_have_count(0)
    page.close()
