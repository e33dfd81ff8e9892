"""The console's EC2 pages in a real browser: Launch instances, the live Instances list and
its Instance state menu, an instance's details, Security Groups and Edit inbound rules.
Every console action is checked with boto3 (the API describes what the console did)."""
from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, open_nav, shot, sign_in
from tests.helpers.console_ec2 import (
    edit_inbound,
    instance_row,
    instance_state_action,
    launch_instance,
    open_security_group,
    terminate,
    wait_running,
    wait_state,
)
from tests.helpers.instances import NGINX, curl_ok
from tests.helpers.instances import launch as boto3_launch
from tests.helpers.instances import wait_state as boto3_wait_state

pytestmark = needs_chromium

#: User data with what a textarea can carry: quotes, a heredoc, unicode, a trailing newline.
SCRIPT = "#!/bin/bash\necho \"hello from $(hostname)\" > /tmp/hello\ncat <<'EOF'\nnaïve ✓\nEOF\n"


def ingress(ec2, gid: str) -> set[tuple]:
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    return {(r["IpProtocol"], r["FromPort"], r["ToPort"], r.get("CidrIpv4")) for r in rules if not r["IsEgress"]}


def group(ec2, name: str, *ports: int) -> str:
    """A group in the default VPC allowing `ports` over TCP from anywhere."""
    gid = ec2.create_security_group(GroupName=name, Description=f"{name} group")["GroupId"]
    if ports:
        ec2.authorize_security_group_ingress(GroupId=gid, IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": p, "ToPort": p, "IpRanges": [{"CidrIp": "0.0.0.0/0"}]} for p in ports])
    return gid


def test_launch_from_the_wizard_with_a_new_group_allowing_http(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    expect(page.get_by_label("Instance type")).to_have_value("t2.micro")
    expect(page.get_by_label("Subnet")).to_contain_text("No preference")
    expect(page.get_by_label("Security group name")).to_have_value("launch-wizard-1")
    vpc = ec2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    expect(page.get_by_label("VPC", exact=True)).to_have_value(vpc)
    shot(page, "ec2-launch-instances")

    iid = launch_instance(page, "demo-server-instance", user_data=SCRIPT, allow_http=True)
    shot(page, "ec2-launch-success")

    inst = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]
    assert {"Key": "Name", "Value": "demo-server-instance"} in inst["Tags"]
    assert inst["InstanceType"] == "t2.micro"
    assert inst["VpcId"] == vpc
    [sg] = inst["SecurityGroups"]
    assert sg["GroupName"] == "launch-wizard-1"
    assert ingress(ec2, sg["GroupId"]) == {("tcp", 80, 80, "0.0.0.0/0")}
    data = ec2.describe_instance_attribute(InstanceId=iid, Attribute="userData")["UserData"]["Value"]
    assert base64.b64decode(data).decode() == SCRIPT  # encoded once, exactly what was typed

    # The success banner's link leads to the instance.
    page.get_by_role("region", name="Success").get_by_role("link", name=iid).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Instance summary for {iid}")
    page.close()


def test_the_wizard_numbers_groups_and_uses_an_existing_one(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    web = group(ec2, "web-sg", 80)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    first = launch_instance(page, "one", allow_http=False, allow_ssh=True)
    second = launch_instance(page, "two", security_group="web-sg")
    groups = {i["InstanceId"]: i["SecurityGroups"] for r in ec2.describe_instances()["Reservations"]
              for i in r["Instances"]}
    assert [g["GroupName"] for g in groups[first]] == ["launch-wizard-1"]
    assert ingress(ec2, groups[first][0]["GroupId"]) == {("tcp", 22, 22, "0.0.0.0/0")}
    assert [g["GroupId"] for g in groups[second]] == [web]
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    expect(page.get_by_label("Security group name")).to_have_value("launch-wizard-2")
    page.close()


def test_the_wizard_creates_a_key_pair_downloads_it_and_launches_with_it(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    ec2.create_key_pair(KeyName="taken")
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    page.get_by_role("button", name="Create new key pair").click()
    dialog = page.get_by_role("dialog", name="Create key pair")
    dialog.get_by_label("Key pair name").fill("taken")  # AWS's error shows in the dialog
    dialog.get_by_role("button", name="Create key pair").click()
    expect(dialog.get_by_role("alert")).to_contain_text("InvalidKeyPair.Duplicate")
    dialog.get_by_label("Key pair name").fill("lab-key")
    shot(page, "ec2-create-key-pair")
    with page.expect_download() as download:
        dialog.get_by_role("button", name="Create key pair").click()
    assert download.value.suggested_filename == "lab-key.pem"
    assert open(download.value.path()).read().startswith("-----BEGIN")
    expect(page.get_by_label("Key pair (login)")).to_have_value("lab-key")
    page.get_by_label("Name", exact=True).fill("keyed")
    page.get_by_role("button", name="Launch instance", exact=True).click()
    iid = page.get_by_role("region", name="Success").get_by_role("link").first.inner_text()
    assert ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["KeyName"] == "lab-key"
    assert "lab-key" in {k["KeyName"] for k in ec2.describe_key_pairs()["KeyPairs"]}
    page.close()


def test_a_launch_error_is_the_red_banner(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    page.get_by_label("Number of instances").fill("0")
    page.get_by_label("Create security group").check()
    page.get_by_role("button", name="Launch instance", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("InvalidParameterValue")
    assert ec2.describe_instances()["Reservations"] == []
    page.close()


def test_the_list_is_live_and_the_instance_state_menu_stops_starts_and_terminates(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Instances")
    expect(page.get_by_role("heading", name="Instances (0)")).to_be_visible()
    page.evaluate("() => { window.notReloaded = true; }")

    iid = boto3_launch(ec2, "web", user_data=None)["InstanceId"]  # made elsewhere, while the list is open
    row = instance_row(page, "web")
    expect(row).to_contain_text(iid)
    wait_running(page, "web")
    expect(row).to_contain_text("2/2 checks passed")
    expect(page.get_by_role("heading", name="Instances (1)")).to_be_visible()
    shot(page, "ec2-instances")

    instance_state_action(page, "web", "Stop instance", confirm="Stop")
    wait_state(page, "web", "stopped")
    assert boto3_wait_state(ec2, iid, "stopped")
    expect(row.get_by_role("radio")).to_be_checked()  # the selection survives the refreshes

    page.get_by_role("button", name="Instance state").click()
    expect(page.get_by_role("menuitem", name="Stop instance")).to_be_disabled()
    shot(page, "ec2-instance-state-menu")
    page.get_by_role("menuitem", name="Start instance").click()
    wait_state(page, "web", "running")
    assert boto3_wait_state(ec2, iid, "running")

    # Terminate asks first; Cancel keeps the instance.
    page.get_by_role("button", name="Instance state").click()
    page.get_by_role("menuitem", name="Terminate instance").click()
    dialog = page.get_by_role("dialog", name="Terminate instance?")
    expect(dialog).to_contain_text(iid)
    shot(page, "ec2-terminate-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_have_count(0)
    assert boto3_wait_state(ec2, iid, "running")
    terminate(page, "web")
    assert boto3_wait_state(ec2, iid, "terminated")
    assert page.evaluate("() => window.notReloaded") is True

    # Connect leads to the instance's Connect page.
    row.get_by_role("radio").check()
    page.get_by_role("button", name="Connect").click()
    assert page.url.endswith(f"#/ec2/instances/{iid}/connect")
    page.close()


def test_instance_details_show_the_security_groups_their_rules_and_the_network(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    gid = group(ec2, "web-sg", 80, 22)
    iid = boto3_launch(ec2, "demo-server-instance", user_data=None, SecurityGroupIds=[gid])["InstanceId"]
    inst = boto3_wait_state(ec2, iid, "running")
    eni = inst["NetworkInterfaces"][0]
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Instances")
    instance_row(page, iid).get_by_role("link", name=iid).click()
    summary = page.get_by_role("region", name="Instance summary")
    for text in (iid, inst["PrivateIpAddress"], "running", "t3.micro", inst["VpcId"], inst["SubnetId"]):
        expect(summary).to_contain_text(text)
    expect(page.get_by_role("tabpanel", name="Details")).to_contain_text(inst["ImageId"])

    page.get_by_role("tab", name="Security").click()
    panel = page.get_by_role("tabpanel", name="Security")
    expect(panel).to_contain_text(gid)
    expect(panel).to_contain_text("web-sg")
    inbound = panel.get_by_role("table", name="Inbound rules")
    expect(inbound.get_by_role("row").filter(has_text="HTTP")).to_contain_text("0.0.0.0/0")
    expect(inbound.get_by_role("row").filter(has_text="SSH")).to_contain_text("22")
    expect(panel.get_by_role("table", name="Outbound rules")).to_contain_text("All traffic")
    shot(page, "ec2-instance-security")

    page.get_by_role("tab", name="Networking").click()
    enis = page.get_by_role("tabpanel", name="Networking").get_by_role("table", name="Network interfaces")
    for text in (eni["NetworkInterfaceId"], inst["PrivateIpAddress"], inst["SubnetId"], inst["Placement"]["AvailabilityZone"]):
        expect(enis).to_contain_text(text)
    shot(page, "ec2-instance-networking")

    page.get_by_role("tab", name="Tags").click()
    expect(page.get_by_role("tabpanel", name="Tags").get_by_role("row").filter(has_text="Name")).to_contain_text(
        "demo-server-instance")

    # The summary follows the state: a stop made elsewhere shows without a reload.
    ec2.stop_instances(InstanceIds=[iid])
    expect(summary).to_contain_text("stopped", timeout=10_000)
    page.close()


def test_edit_inbound_rules_adds_http_and_removes_ssh(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    gid = group(ec2, "web-sg", 22)
    egress_before = ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissionsEgress"]
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Security Groups")
    row = page.get_by_role("table", name="Security Groups").get_by_role("row").filter(has_text=gid)
    for text in ("web-sg", "web-sg group", ACCOUNT_1, "1 Permission entry"):
        expect(row).to_contain_text(text)
    shot(page, "ec2-security-groups")

    assert edit_inbound(page, "web-sg", add=[("HTTP", "0.0.0.0/0"), ("Custom TCP", "8000-8080", "10.0.0.0/8")],
                        remove=[("SSH", "0.0.0.0/0")]) == gid
    assert ingress(ec2, gid) == {("tcp", 80, 80, "0.0.0.0/0"), ("tcp", 8000, 8080, "10.0.0.0/8")}
    assert ec2.describe_security_groups(GroupIds=[gid])["SecurityGroups"][0]["IpPermissionsEgress"] == egress_before

    # The details page shows what boto3 describes.
    inbound = page.get_by_role("tabpanel", name="Inbound rules").get_by_role("table", name="Inbound rules")
    expect(inbound.get_by_role("row")).to_have_count(3)  # the header and two rules
    expect(inbound.get_by_role("row").filter(has_text="HTTP")).to_contain_text("0.0.0.0/0")
    expect(inbound.get_by_role("row").filter(has_text="Custom TCP")).to_contain_text("8000 - 8080")
    expect(inbound).not_to_contain_text("SSH")
    shot(page, "ec2-security-group-inbound")

    # A description change of a kept rule is one ModifySecurityGroupRules; the rule keeps its id.
    ids = {r["SecurityGroupRuleId"] for r in ec2.describe_security_group_rules(
        Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]}
    page.get_by_role("button", name="Edit inbound rules").click()
    http = page.get_by_role("group", name="Inbound rule 1")
    http.get_by_label("Description - optional").fill("web")
    shot(page, "ec2-edit-inbound-rules")
    page.get_by_role("button", name="Save rules").click()
    expect(page.get_by_role("status")).to_contain_text("successfully modified")
    rules = ec2.describe_security_group_rules(Filters=[{"Name": "group-id", "Values": [gid]}])["SecurityGroupRules"]
    assert {r["SecurityGroupRuleId"] for r in rules} == ids
    assert [r.get("Description") for r in rules if r["FromPort"] == 80 and not r["IsEgress"]] == ["web"]
    page.close()


def test_a_bad_rule_is_aws_error_in_the_red_banner_and_changes_nothing(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    gid = group(ec2, "web-sg", 22)
    before = ingress(ec2, gid)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    edit_inbound(page, "web-sg", add=[("HTTP", "10.0.0.0/33")], remove=[("SSH", "0.0.0.0/0")],
                 expect_error="InvalidParameterValue")
    expect(page.get_by_role("alert")).to_contain_text("10.0.0.0/33")
    shot(page, "ec2-edit-inbound-error")
    assert ingress(ec2, gid) == before
    # The editor is still open with what was typed.
    expect(page.get_by_role("heading", name="Edit inbound rules")).to_be_visible()
    page.close()


def test_create_security_group_page(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    open_nav(page, "Security Groups")
    page.get_by_role("button", name="Create security group").click()
    page.get_by_label("Security group name").fill("endpoint-sg")
    page.get_by_label("Description").fill("allows port 80")
    page.get_by_role("button", name="Create security group").click()
    expect(page.get_by_role("status")).to_contain_text("was created successfully")
    [g] = ec2.describe_security_groups(GroupNames=["endpoint-sg"])["SecurityGroups"]
    assert g["Description"] == "allows port 80"
    expect(page.get_by_role("heading", level=1)).to_contain_text(g["GroupId"])
    page.close()


def test_account_2_does_not_see_account_1s_groups(browser, console_server):
    ec2 = console_server.client("ec2", ACCOUNT_1)
    gid = group(ec2, "provider-only", 80)
    mine = console_server.client("ec2", ACCOUNT_2).create_security_group(
        GroupName="consumer-sg", Description="consumer")["GroupId"]
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_2)
    open_nav(page, "Security Groups")
    groups = page.get_by_role("table", name="Security Groups")
    expect(groups).to_contain_text(mine)
    expect(groups).not_to_contain_text("provider-only")
    expect(groups).not_to_contain_text(gid)
    # Its id typed into the address is AWS's not-found, as boto3 gets it.
    page.goto(console_server.url + f"/console/#/ec2/security-groups/{gid}")
    expect(page.get_by_role("alert")).to_contain_text("InvalidGroup.NotFound")
    page.close()
    page = browser.new_page()
    sign_in(page, console_server, ACCOUNT_1)
    assert open_security_group(page, "provider-only") == gid
    page.close()


@pytest.mark.timeout(240)
def test_launched_from_the_wizard_nginx_serves_inside_the_vpc(browser, dataplane_server):
    """The data plane runs what the wizard launched: pending, then running on screen, and its
    user data's nginx answers a client instance of the same VPC through the new group."""
    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    page = browser.new_page()
    sign_in(page, srv, ACCOUNT_1)
    iid = launch_instance(page, "demo-server-instance", user_data=NGINX, allow_http=True)
    open_nav(page, "Instances")
    wait_state(page, iid, "pending")
    wait_running(page, "demo-server-instance")
    shot(page, "ec2-instances-running-dataplane")
    ip = ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]["PrivateIpAddress"]
    client = boto3_launch(ec2, "client", user_data=None)["InstanceId"]
    boto3_wait_state(ec2, client, "running", timeout=60)
    assert "Welcome to nginx!" in curl_ok(srv, client, f"http://{ip}/")
    terminate(page, "demo-server-instance")
    page.close()
