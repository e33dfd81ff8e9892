"""The whole seed lab (`../shared/seed/vpc-endpoint-services-lab.txt`) done in the console
alone, in a real browser, as its learner does it: account 1 builds the service, account 2
the endpoint, switching accounts from the top bar; the `curl` of the endpoint's DNS name
runs in account2-ec2's Connect terminal and shows "Welcome to nginx!"; then the deletes in
the seed's order. Every step is a person's clicks and typing, found by role and visible
label (the step functions in tests/helpers/console_*.py); boto3 checks what each account's
API then describes.

Two variants: as root with the data plane (real instances, health checks, traffic), and
control-plane-only with the server running as an unprivileged user (states settle by
timer, targets stay `initial`, Connect says it cannot connect).
"""
from __future__ import annotations

import shutil

import pytest

from tests.helpers import console_connect as connect
from tests.helpers import console_ec2 as ec2_steps
from tests.helpers import console_elbv2 as elb_steps
from tests.helpers import console_internet as internet_steps
from tests.helpers import console_vpc as vpc_steps
from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, sign_in
from tests.helpers.console import shot as take_shot
from tests.helpers.server import ServerProcess, free_port
from tests.helpers.waiting import wait_for

pytestmark = needs_chromium

#: The seed's user data for demo-server-instance (nginx is in the catalogue's images).
USER_DATA = "#!/bin/bash\nsystemctl start nginx\n"
UNPRIVILEGED = ("unshare", "--user", "--map-user=1000", "--map-group=1000")


def switch_account(page, account: str) -> None:
    """The top bar's account menu: Switch account, then sign in as `account`."""
    from playwright.sync_api import expect

    page.get_by_role("button", name="Switch account").click()
    page.get_by_label("Account ID").fill(account)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text(f"Account {account}")).to_be_visible()


def do_the_lab(page, srv, dataplane: bool) -> None:
    from playwright.sync_api import expect

    def shot(page, name: str) -> None:  # the data-plane run's screenshots are the README's
        take_shot(page, name if dataplane else f"control-plane-{name}")

    ec2_1, elb_1, ec2_2 = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1), srv.client("ec2", ACCOUNT_2)

    # Step 1: account 1 ---------------------------------------------------------------
    sign_in(page, srv, ACCOUNT_1)
    server = ec2_steps.launch_instance(page, "demo-server-instance", user_data=USER_DATA, allow_http=True,
                                       allow_ssh=True)
    ec2_steps.wait_running(page, "demo-server-instance")
    shot(page, "seed-1.2-instance-running")
    if dataplane:  # Step 1.3-1.4: nginx answers, seen from inside the VPC
        private_ip = ec2_1.describe_instances(InstanceIds=[server])["Reservations"][0]["Instances"][0][
            "PrivateIpAddress"]
        connect.curl_in_instance(page, "demo-server-instance", f"http://{private_ip}/")
        internet_steps.open_public_address(page, server)[1].close()  # Step 1.4: the public address, in a new tab
    tg_arn = elb_steps.create_target_group(page, "demo-service-tg", ["demo-server-instance"])
    elb_steps.create_nlb(page, "demo-service-nlb", "demo-service-tg", security_group="default")
    ec2_steps.edit_inbound(page, "default", add=[("HTTP", "0.0.0.0/0")])  # Step 1.12
    elb_steps.wait_nlb_active(page, "demo-service-nlb")
    shot(page, "seed-1.13-nlb-active")
    if dataplane:
        elb_steps.wait_target_healthy(page, "demo-service-tg", "demo-server-instance")
        internet_steps.open_nlb(page, "demo-service-nlb").close()  # Step 1.13: the DNS name, in a new tab
    service_id, service_name = vpc_steps.create_endpoint_service(page, "demo-service-provider", "demo-service-nlb")
    shot(page, "seed-1.18-endpoint-service")
    assert ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])[
        "ServiceConfigurations"][0]["AcceptanceRequired"] is True

    # Step 2: account 2 ---------------------------------------------------------------
    switch_account(page, ACCOUNT_2)
    client = ec2_steps.launch_instance(page, "account2-ec2", allow_http=False, allow_ssh=True)
    ec2_steps.wait_running(page, "account2-ec2")
    assert vpc_steps.verify_service(page, service_name) is False  # Step 2.5: not allowed yet
    shot(page, "seed-2.5-could-not-be-verified")

    switch_account(page, ACCOUNT_1)  # Step 2.6-2.7
    vpc_steps.allow_principal(page, service_id, f"arn:aws:iam::{ACCOUNT_2}:root")

    switch_account(page, ACCOUNT_2)  # Step 2.8-2.10
    endpoint_id = vpc_steps.create_endpoint(page, "demo-endpoint", service_name, security_group="default")
    assert ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] == \
        "pendingAcceptance"
    shot(page, "seed-2.10-pending-acceptance")

    switch_account(page, ACCOUNT_1)  # Step 2.11
    vpc_steps.accept_connection(page, service_id, endpoint_id)
    shot(page, "seed-2.11-accepted")

    switch_account(page, ACCOUNT_2)  # Step 2.12-2.13
    dns_names = vpc_steps.wait_endpoint_available(page, endpoint_id)
    assert dns_names and all(n.endswith(".vpce.amazonaws.com") for n in dns_names)
    shot(page, "seed-2.12-endpoint-available")
    ec2_steps.edit_inbound(page, "default", add=[("HTTP", "0.0.0.0/0")])
    if dataplane:  # Step 2.14-2.15, in account2-ec2's Connect terminal
        shown = connect.curl_in_instance(page, "account2-ec2", f"http://{dns_names[0]}/")
        assert "Welcome to nginx!" in shown
        shot(page, "seed-2.14-curl-through-the-endpoint")
    else:
        connect.open_connect_page(page, "account2-ec2")
        page.get_by_role("button", name="Connect", exact=True).click()
        expect(page.get_by_role("alert")).to_contain_text("Failed to connect to your instance")

    # Step 3: the deletes, in the seed's order ----------------------------------------
    vpc_steps.delete_endpoint(page, endpoint_id)
    wait_for(lambda: not ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
             or ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] == "deleted",
             timeout=30, what="the endpoint deleted")
    switch_account(page, ACCOUNT_1)
    vpc_steps.delete_endpoint_service(page, service_id)
    elb_steps.delete_nlb(page, "demo-service-nlb")
    ec2_steps.terminate(page, "demo-server-instance")
    elb_steps.delete_target_group(page, "demo-service-tg")

    assert ec2_1.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []
    assert elb_1.describe_load_balancers()["LoadBalancers"] == []
    assert [tg for tg in elb_1.describe_target_groups()["TargetGroups"] if tg["TargetGroupArn"] == tg_arn] == []
    assert ec2_1.describe_instances(InstanceIds=[server])["Reservations"][0]["Instances"][0]["State"]["Name"] in (
        "shutting-down", "terminated")
    assert ec2_2.describe_instances(InstanceIds=[client])["Reservations"][0]["Instances"][0]["State"]["Name"] == \
        "running"
    # The guided lab followed every step (it ticks from the APIs, not from clicks); without
    # the data plane no target becomes healthy, so step 1.13 stays open.
    panel = page.get_by_role("complementary", name="Guided lab")
    if dataplane:
        expect(panel.get_by_role("status")).to_contain_text("Lab complete", timeout=20000)
    else:
        expect(panel.get_by_label("Step 1.13", exact=False)).to_contain_text("1.13")
    shot(page, "seed-3-cleaned-up")


def test_the_seed_lab_in_the_console_with_the_data_plane(browser, fast_dataplane_server):
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        do_the_lab(page, fast_dataplane_server, dataplane=True)
    finally:
        page.close()


@pytest.mark.skipif(shutil.which("unshare") is None, reason="needs util-linux unshare")
def test_the_seed_lab_in_the_console_control_plane_only(browser, tmp_path):
    """The server as an unprivileged user (no namespaces): the console still does every
    API step of the seed."""
    srv = ServerProcess(tmp_path / "state", free_port(), dataplane=True, launcher=UNPRIVILEGED).start()
    page = browser.new_page(viewport={"width": 1440, "height": 1000})
    try:
        assert any("data plane off" in line for line in srv.output)
        do_the_lab(page, srv, dataplane=False)
    finally:
        page.close()
        srv.stop()
