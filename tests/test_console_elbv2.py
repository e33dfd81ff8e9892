"""The console's Target groups and Load balancers in a real browser: what the console
creates is what boto3 then describes, in that account only; states move on screen
without a reload; AWS's errors are the red banner."""
from __future__ import annotations

import re

import pytest

from tests.helpers import console_elbv2 as steps
from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, shot, sign_in
from tests.helpers.elbv2 import default_subnets, security_group
from tests.helpers.instances import launch, vexec, wait_state

pytestmark = needs_chromium


def _instance(srv, name: str, account: str = ACCOUNT_1, **kw) -> str:
    ec2 = srv.client("ec2", account)
    iid = launch(ec2, name, user_data=None, **kw)["InstanceId"]
    wait_state(ec2, iid, "running")
    return iid


@pytest.fixture
def page(browser, console_server):
    p = browser.new_page()
    sign_in(p, console_server, ACCOUNT_1)
    try:
        yield p
    finally:
        p.close()


def test_create_target_group_through_both_steps(page, console_server):
    from playwright.sync_api import expect

    iid = _instance(console_server, "demo-server-instance")
    steps.fill_target_group_details(page, "demo-service-tg")
    shot(page, "target-groups-register-targets")
    steps.include_instances(page, ["demo-server-instance"])
    page.get_by_role("button", name="Create target group").click()
    expect(page.get_by_role("status")).to_contain_text("Successfully created target group: demo-service-tg")
    elb = console_server.client("elbv2", ACCOUNT_1)
    tg = elb.describe_target_groups(Names=["demo-service-tg"])["TargetGroups"][0]
    assert (tg["Protocol"], tg["Port"], tg["TargetType"], tg["HealthCheckProtocol"]) == ("TCP", 80, "instance", "TCP")
    health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
    assert [(h["Target"]["Id"], h["Target"]["Port"]) for h in health] == [(iid, 80)]
    # the details page: the console's counts and the Targets tab (unused: no listener forwards to it)
    expect(page.get_by_role("region", name="Details")).to_contain_text(tg["TargetGroupArn"])
    row = page.get_by_role("table", name="Registered targets").get_by_role("row").filter(has_text="demo-server-instance")
    expect(row).to_contain_text(iid)
    expect(row).to_contain_text("unused")
    expect(row).to_contain_text("Target group is not configured to receive traffic from the load balancer")
    expect(page.get_by_role("region", name="Targets")).to_contain_text("Unused")
    shot(page, "target-group-details")
    page.get_by_role("tab", name="Health checks").click()
    expect(page.get_by_role("tabpanel")).to_contain_text("5 consecutive health check successes")
    # the list shows it, with the console's columns
    steps.open_target_groups(page)
    listed = page.get_by_role("table", name="Target groups").get_by_role("row").filter(has_text="demo-service-tg")
    expect(listed).to_contain_text("TCP")
    expect(listed).to_contain_text("Instance")
    expect(listed).to_contain_text(tg["VpcId"])
    shot(page, "target-groups")


def test_a_bad_target_group_name_is_aws_error_and_nothing_is_made(page, console_server):
    from playwright.sync_api import expect

    steps.fill_target_group_details(page, "-bad-name")
    page.get_by_role("button", name="Create target group").click()
    banner = page.get_by_role("alert")
    expect(banner).to_contain_text("ValidationError")
    expect(banner).to_contain_text("cannot begin or end with '-'")
    assert console_server.client("elbv2", ACCOUNT_1).describe_target_groups()["TargetGroups"] == []


def test_create_nlb_listener_live_state_and_cleanup(page, console_server):
    from playwright.sync_api import expect

    ec2, elb = console_server.client("ec2", ACCOUNT_1), console_server.client("elbv2", ACCOUNT_1)
    group = ec2.describe_security_groups(GroupIds=[security_group(ec2)])["SecurityGroups"][0]
    _instance(console_server, "demo-server-instance", SecurityGroupIds=[group["GroupId"]])
    tg_arn = steps.create_target_group(page, "demo-service-tg", ["demo-server-instance"])
    page.evaluate("() => { window.vpclabNoReload = true; }")
    dns = steps.create_nlb(page, "demo-service-nlb", "demo-service-tg", security_group=group["GroupName"])
    status = page.get_by_role("status", name="Load balancer status")
    expect(status).to_have_text(re.compile("Provisioning|Active"))
    shot(page, "load-balancer-details")
    steps.wait_nlb_active(page, "demo-service-nlb")
    assert page.evaluate("() => window.vpclabNoReload") is True  # the state moved without a reload

    lb = elb.describe_load_balancers(Names=["demo-service-nlb"])["LoadBalancers"][0]
    assert lb["DNSName"] == dns and lb["Scheme"] == "internet-facing" and lb["Type"] == "network"
    subnets = default_subnets(ec2)
    assert sorted(z["SubnetId"] for z in lb["AvailabilityZones"]) == sorted(s["SubnetId"] for s in subnets)
    assert lb["SecurityGroups"] == [group["GroupId"]]
    (listener,) = elb.describe_listeners(LoadBalancerArn=lb["LoadBalancerArn"])["Listeners"]
    assert (listener["Protocol"], listener["Port"]) == ("TCP", 80)
    assert [(a["Type"], a["TargetGroupArn"]) for a in listener["DefaultActions"]] == [("forward", tg_arn)]

    # the details tabs: zones with their ids, the listener, the security group
    details = page.get_by_role("region", name="Details")
    zones = {z["ZoneName"]: z["ZoneId"] for z in ec2.describe_availability_zones()["AvailabilityZones"]}
    for name, zone_id in zones.items():
        expect(details).to_contain_text(f"{name} ({zone_id})")
    expect(page.get_by_role("table", name="Listeners")).to_contain_text("TCP:80")
    expect(page.get_by_role("table", name="Listeners")).to_contain_text("Forward to target group demo-service-tg")
    page.get_by_role("tab", name="Network mapping").click()
    expect(page.get_by_role("table", name="Mappings").get_by_role("row")).to_have_count(len(zones) + 1)
    page.get_by_role("tab", name="Security").click()
    expect(page.get_by_role("table", name="Security groups")).to_contain_text(group["GroupId"])

    # the list: live, with the console's columns
    steps.open_load_balancers(page)
    row = page.get_by_role("table", name="Load balancers").get_by_role("row").filter(has_text="demo-service-nlb")
    expect(row).to_contain_text(dns)
    expect(row).to_contain_text("Active")
    expect(row).to_contain_text(f"{len(zones)} Availability Zones")
    shot(page, "load-balancers")

    # a target group a listener uses cannot be deleted: AWS's ResourceInUse
    steps.start_delete_target_group(page, "demo-service-tg")
    expect(page.get_by_role("alert")).to_contain_text("ResourceInUse")
    assert elb.describe_target_groups(Names=["demo-service-tg"])["TargetGroups"]

    steps.delete_nlb(page, "demo-service-nlb")
    assert elb.describe_load_balancers()["LoadBalancers"] == []
    steps.delete_target_group(page, "demo-service-tg")
    assert elb.describe_target_groups()["TargetGroups"] == []


def test_create_nlb_chooser_and_form(page, console_server):
    from playwright.sync_api import expect

    steps.open_load_balancers(page)
    page.get_by_role("button", name="Create load balancer").click()
    expect(page.get_by_role("region", name="Application Load Balancer").get_by_role("button", name="Create")).to_be_disabled()
    shot(page, "load-balancer-types")
    page.get_by_role("region", name="Network Load Balancer").get_by_role("button", name="Create").click()
    ec2 = console_server.client("ec2", ACCOUNT_1)
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]
    expect(page.get_by_role("region", name="Network mapping")).to_contain_text(f"IPv4 VPC CIDR: {vpc['CidrBlock']}")
    expect(page.get_by_role("listbox", name="Security groups")).to_have_values([
        ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["default"]},
                                              {"Name": "vpc-id", "Values": [vpc["VpcId"]]}])["SecurityGroups"][0]["GroupId"]])
    for zone in ec2.describe_availability_zones()["AvailabilityZones"]:
        expect(page.get_by_role("group", name=f"{zone['ZoneName']} ({zone['ZoneId']})")).to_be_visible()
    page.get_by_role("group", name="Mappings").get_by_role("checkbox").first.check()
    shot(page, "load-balancer-create")
    # no name: AWS decides, and says so
    page.get_by_role("button", name="Create load balancer").click()
    expect(page.get_by_role("alert")).to_contain_text("ValidationError")
    assert console_server.client("elbv2", ACCOUNT_1).describe_load_balancers()["LoadBalancers"] == []


def test_boto3_resources_show_in_their_account_only(browser, console_server):
    from playwright.sync_api import expect

    ec2, elb = console_server.client("ec2", ACCOUNT_1), console_server.client("elbv2", ACCOUNT_1)
    subnets = [s["SubnetId"] for s in default_subnets(ec2)]
    vpc = default_subnets(ec2)[0]["VpcId"]
    elb.create_target_group(Name="boto3-tg", Protocol="TCP", Port=80, VpcId=vpc)
    elb.create_load_balancer(Name="boto3-nlb", Type="network", Subnets=subnets)
    page = browser.new_page()
    try:
        sign_in(page, console_server, ACCOUNT_1)
        steps.open_load_balancers(page)
        expect(page.get_by_role("table", name="Load balancers")).to_contain_text("boto3-nlb")
        steps.open_target_groups(page)
        expect(page.get_by_role("table", name="Target groups")).to_contain_text("boto3-tg")
        page.get_by_role("button", name="Switch account").click()
        page.get_by_label("Account ID").fill(ACCOUNT_2)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_text(f"Account {ACCOUNT_2}")).to_be_visible()
        steps.open_target_groups(page)
        expect(page.get_by_role("heading", name="Target groups (0)")).to_be_visible()
        expect(page.get_by_role("table", name="Target groups")).not_to_contain_text("boto3-tg")
        steps.open_load_balancers(page)
        expect(page.get_by_role("heading", name="Load balancers (0)")).to_be_visible()
        # what appears later in the account shows up live, without a reload
        elb2 = console_server.client("elbv2", ACCOUNT_2)
        elb2.create_load_balancer(Name="late-nlb", Type="network",
                                  Subnets=[s["SubnetId"] for s in default_subnets(console_server.client("ec2", ACCOUNT_2))])
        expect(page.get_by_role("table", name="Load balancers")).to_contain_text("late-nlb")
        expect(page.get_by_role("table", name="Load balancers")).not_to_contain_text("boto3-nlb")
    finally:
        page.close()


def test_target_becomes_healthy_live(browser, fast_dataplane_server):
    """Data plane: a boto3-launched instance whose nginx starts only once the console shows
    the target initial (its failed checks stay under the Unhealthy threshold of 10); the
    Targets tab then shows it healthy without a reload. The NLB is made in the console."""
    from playwright.sync_api import expect

    srv = fast_dataplane_server
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    group = ec2.describe_security_groups(GroupIds=[security_group(ec2)])["SecurityGroups"][0]
    iid = launch(ec2, "demo-server-instance", user_data=None, SecurityGroupIds=[group["GroupId"]])["InstanceId"]
    wait_state(ec2, iid, "running", timeout=60)
    page = browser.new_page()
    try:
        sign_in(page, srv, ACCOUNT_1)
        steps.fill_target_group_details(page, "demo-service-tg", unhealthy_threshold=10)
        steps.include_instances(page, ["demo-server-instance"])
        page.get_by_role("button", name="Create target group").click()
        expect(page.get_by_role("status")).to_contain_text("Successfully created target group")
        steps.create_nlb(page, "demo-service-nlb", "demo-service-tg", security_group=group["GroupName"])
        steps.wait_nlb_active(page, "demo-service-nlb")
        steps.open_target_group(page, "demo-service-tg")
        page.evaluate("() => { window.vpclabNoReload = true; }")
        cell = steps.target_health_cell(page, "demo-server-instance")
        expect(cell).to_have_text(re.compile(r"^\W*initial$"))
        expect(page.get_by_role("table", name="Registered targets")).to_contain_text("Initial health checks in progress")
        started = vexec(srv, iid, "nginx")
        assert started.returncode == 0, started.stderr
        steps.wait_target_healthy(page, "demo-service-tg", "demo-server-instance")
        assert page.evaluate("() => window.vpclabNoReload") is True
        tg = elb.describe_target_groups(Names=["demo-service-tg"])["TargetGroups"][0]
        health = elb.describe_target_health(TargetGroupArn=tg["TargetGroupArn"])["TargetHealthDescriptions"]
        assert [h["TargetHealth"]["State"] for h in health] == ["healthy"]
        shot(page, "target-group-healthy")
        steps.delete_nlb(page, "demo-service-nlb")
        steps.delete_target_group(page, "demo-service-tg")
    finally:
        page.close()


def test_security_tab_edit_and_tags(page, console_server):
    ec2, elb = console_server.client("ec2", ACCOUNT_1), console_server.client("elbv2", ACCOUNT_1)
    from playwright.sync_api import expect

    first, second = security_group(ec2), security_group(ec2)
    second_name = ec2.describe_security_groups(GroupIds=[second])["SecurityGroups"][0]["GroupName"]
    arn = elb.create_load_balancer(Name="edit-nlb", Type="network", Subnets=[s["SubnetId"] for s in default_subnets(ec2)],
                                   SecurityGroups=[first], Tags=[{"Key": "team", "Value": "platform"}]
                                   )["LoadBalancers"][0]["LoadBalancerArn"]
    steps.open_load_balancer(page, "edit-nlb")
    page.get_by_role("tab", name="Tags").click()
    expect(page.get_by_role("table", name="Tags").get_by_role("row").filter(has_text="team")).to_contain_text("platform")
    page.get_by_role("tab", name="Security").click()
    expect(page.get_by_role("table", name="Security groups")).to_contain_text(first)
    page.get_by_role("button", name="Edit").click()
    page.get_by_role("listbox", name="Security groups").select_option(label=second_name)
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Successfully updated security groups")).to_be_visible()
    expect(page.get_by_role("table", name="Security groups")).to_contain_text(second)
    assert elb.describe_load_balancers(LoadBalancerArns=[arn])["LoadBalancers"][0]["SecurityGroups"] == [second]
