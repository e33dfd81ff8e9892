"""The console's VPC pages in a real browser: Your VPCs and Subnets show what boto3
describes; the seed's PrivateLink steps (endpoint service, allow principals, Verify
service, endpoint, accept / reject, deletes) done by clicking as the two accounts, each
checked with boto3; states move on screen without a reload; each account sees only its own."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, shot, sign_in
from tests.helpers.elbv2 import default_subnets, nlb, unique, wait_active

pytestmark = needs_chromium

CONSUMER_ROOT = f"arn:aws:iam::{ACCOUNT_2}:root"


@pytest.fixture
def provider_nlb(console_server) -> dict:
    """An active NLB of account 1 in all three default subnets (Step 1.10–1.13, by boto3)."""
    elb = console_server.client("elbv2", ACCOUNT_1)
    subnets = [s["SubnetId"] for s in default_subnets(console_server.client("ec2", ACCOUNT_1))]
    lb = nlb(elb, subnets, name=unique("demo-service-nlb"))
    wait_active(elb, lb["LoadBalancerArn"])
    return lb


@pytest.fixture
def pages(browser, console_server):
    """One page per account, both open at once (separate sessions, as two browser windows)."""
    from playwright.sync_api import Page

    opened: list[Page] = []

    def open_as(account: str) -> Page:
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        sign_in(page, console_server, account)
        opened.append(page)
        return page

    yield open_as
    for p in opened:
        p.close()


def test_your_vpcs_and_subnets_list_what_boto3_describes(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers.console import open_nav

    ec2 = console_server.client("ec2", ACCOUNT_1)
    vpc = ec2.create_vpc(CidrBlock="10.7.0.0/16", TagSpecifications=[
        {"ResourceType": "vpc", "Tags": [{"Key": "Name", "Value": "lab-vpc"}]}])["Vpc"]
    subnet = ec2.create_subnet(VpcId=vpc["VpcId"], CidrBlock="10.7.1.0/24", AvailabilityZone="ap-south-1b")["Subnet"]
    vpcs = ec2.describe_vpcs()["Vpcs"]
    subnets = ec2.describe_subnets()["Subnets"]
    other_vpc = console_server.client("ec2", ACCOUNT_2).describe_vpcs()["Vpcs"][0]["VpcId"]

    page = pages(ACCOUNT_1)
    open_nav(page, "Your VPCs")
    table = page.get_by_role("table", name="Your VPCs")
    expect(page.get_by_role("heading", name=f"Your VPCs ({len(vpcs)})")).to_be_visible()
    for v in vpcs:
        row = table.get_by_role("row").filter(has_text=v["VpcId"])
        expect(row).to_contain_text(v["CidrBlock"])
        expect(row).to_contain_text("Yes" if v["IsDefault"] else "No")
        expect(row).to_contain_text(ACCOUNT_1)
    expect(table.get_by_role("row").filter(has_text=vpc["VpcId"])).to_contain_text("lab-vpc")
    expect(table).not_to_contain_text(other_vpc)
    shot(page, "vpc-your-vpcs")

    open_nav(page, "Subnets")
    table = page.get_by_role("table", name="Subnets")
    expect(page.get_by_role("heading", name=f"Subnets ({len(subnets)})")).to_be_visible()
    for s in subnets:
        row = table.get_by_role("row").filter(has_text=s["SubnetId"])
        for text in (s["VpcId"], s["CidrBlock"], str(s["AvailableIpAddressCount"]), s["AvailabilityZone"],
                     s["AvailabilityZoneId"]):
            expect(row).to_contain_text(text)
    row = table.get_by_role("row").filter(has_text=subnet["SubnetId"])
    expect(row).to_contain_text("aps1-az3")
    shot(page, "vpc-subnets")

    row.get_by_role("link", name=subnet["SubnetId"]).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(subnet["SubnetId"])
    expect(page.get_by_role("region", name="Details")).to_contain_text("10.7.1.0/24")
    page.get_by_role("link", name=vpc["VpcId"]).first.click()
    expect(page.get_by_role("heading", level=1)).to_have_text(f"{vpc['VpcId']} / lab-vpc")
    expect(page.get_by_role("region", name="Details")).to_contain_text("10.7.0.0/16")
    expect(page.get_by_role("table", name="Subnets")).to_contain_text(subnet["SubnetId"])


def test_the_seed_privatelink_steps_in_the_console(console_server, pages, provider_nlb):
    from playwright.sync_api import expect

    from tests.helpers import console_vpc as steps

    ec2_1 = console_server.client("ec2", ACCOUNT_1)
    ec2_2 = console_server.client("ec2", ACCOUNT_2)
    provider = pages(ACCOUNT_1)
    consumer = pages(ACCOUNT_2)

    # Step 1.14–1.18: the endpoint service, acceptance required (checked by default).
    steps.open_nav(provider, "Endpoint services")
    provider.get_by_role("button", name="Create endpoint service").click()
    expect(provider.get_by_label("Acceptance required")).to_be_checked()
    expect(provider.get_by_role("table", name="Available load balancers")).to_contain_text("aps1-az1")
    shot(provider, "vpc-create-endpoint-service")
    service_id, service_name = steps.create_endpoint_service(provider, "demo-service-provider",
                                                             provider_nlb["LoadBalancerName"])
    [svc] = ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"]
    assert svc["NetworkLoadBalancerArns"] == [provider_nlb["LoadBalancerArn"]]
    assert svc["AcceptanceRequired"] is True
    assert svc["ServiceName"] == service_name
    assert {"Key": "Name", "Value": "demo-service-provider"} in svc["Tags"]
    details = provider.get_by_role("region", name="Details")
    expect(details).to_contain_text(provider_nlb["LoadBalancerArn"])
    expect(details).to_contain_text("Available")
    expect(details).to_contain_text("ap-south-1b (aps1-az3)")
    lbs = provider.get_by_role("table", name="Load balancers")
    expect(lbs.get_by_role("row").filter(has_text="ap-south-1c (aps1-az2)")).to_contain_text(provider_nlb["LoadBalancerName"])
    shot(provider, "vpc-endpoint-service")

    # Step 2.5: not allowed yet, so the name cannot be verified.
    assert steps.verify_service(consumer, service_name) is False
    expect(consumer.get_by_text("Service name could not be verified.")).to_be_visible()
    shot(consumer, "vpc-verify-service-failed")

    # Step 2.6–2.7: account 1 allows account 2.
    steps.allow_principal(provider, service_id, CONSUMER_ROOT)
    allowed = ec2_1.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"]
    assert [(p["Principal"], p["PrincipalType"]) for p in allowed] == [(CONSUMER_ROOT, "Account")]
    shot(provider, "vpc-allow-principals")

    # Account 1 keeps its Endpoint connections open while account 2 works.
    steps.open_service(provider, service_id)
    provider.get_by_role("tab", name="Endpoint connections").click()
    expect(provider.get_by_role("heading", name="Endpoint connections (0)")).to_be_visible()

    # Step 2.8–2.10: now verified; the endpoint in all three default subnets, pending acceptance.
    assert steps.verify_service(consumer, service_name) is True
    shot(consumer, "vpc-verify-service-verified")
    endpoint_id = steps.create_endpoint(consumer, "demo-endpoint", service_name)
    [ep] = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert ep["State"] == "pendingAcceptance"
    assert ep["VpcEndpointType"] == "Interface"
    assert sorted(ep["SubnetIds"]) == sorted(s["SubnetId"] for s in default_subnets(ec2_2))
    assert {"Key": "Name", "Value": "demo-endpoint"} in ep["Tags"]
    consumer_details = consumer.get_by_role("region", name="Details")
    expect(consumer_details).to_contain_text("Pending acceptance")
    shot(consumer, "vpc-endpoint-pending-acceptance")

    # Step 2.11: account 1's open tab shows the request without a reload; it accepts (typed "accept").
    row = provider.get_by_role("table", name="Endpoint connections").get_by_role("row").filter(has_text=endpoint_id)
    expect(row).to_contain_text("Pending acceptance")
    expect(row).to_contain_text(ACCOUNT_2)
    shot(provider, "vpc-endpoint-connections")
    consumer.evaluate("() => { window.notReloaded = true; }")
    steps.accept_connection(provider, service_id, endpoint_id)

    # Step 2.12: account 2's open details page moves to Available by itself.
    expect(consumer_details).to_contain_text("Available", timeout=steps.LIVE_MS)
    assert consumer.evaluate("() => window.notReloaded") is True
    dns_names = steps.wait_endpoint_available(consumer, endpoint_id)
    [ep] = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert ep["State"] == "available"
    assert dns_names == [d["DnsName"] for d in ep["DnsEntries"]]
    assert len(dns_names) == 4  # the regional name and one per zone
    consumer.get_by_role("tab", name="Subnets").click()
    subnets = consumer.get_by_role("table", name="Subnets")
    for eni in ec2_2.describe_network_interfaces(NetworkInterfaceIds=ep["NetworkInterfaceIds"])["NetworkInterfaces"]:
        erow = subnets.get_by_role("row").filter(has_text=eni["NetworkInterfaceId"])
        expect(erow).to_contain_text(eni["PrivateIpAddress"])
        expect(erow).to_contain_text(eni["SubnetId"])
    shot(consumer, "vpc-endpoint-available")

    # Each account sees only its own endpoints (account 1's own, made by boto3, included).
    vpc_1 = ec2_1.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    own = ec2_1.create_vpc_endpoint(VpcEndpointType="Interface", VpcId=vpc_1, ServiceName=service_name,
                                    SubnetIds=[default_subnets(ec2_1)[0]["SubnetId"]])["VpcEndpoint"]["VpcEndpointId"]
    steps.open_nav(provider, "Endpoints")
    expect(provider.get_by_role("heading", name="Endpoints (1)")).to_be_visible()
    expect(provider.get_by_role("table", name="Endpoints")).to_contain_text(own)
    expect(provider.get_by_role("table", name="Endpoints")).not_to_contain_text(endpoint_id)
    steps.open_nav(consumer, "Endpoints")
    expect(consumer.get_by_role("heading", name="Endpoints (1)")).to_be_visible()
    expect(consumer.get_by_role("table", name="Endpoints").get_by_role("row").filter(
        has_text=endpoint_id)).to_contain_text("Available")
    expect(consumer.get_by_role("table", name="Endpoints")).not_to_contain_text(own)
    shot(consumer, "vpc-endpoints")
    steps.open_nav(consumer, "Endpoint services")
    expect(consumer.get_by_role("table", name="Endpoint services")).not_to_contain_text(service_id)
    ec2_1.delete_vpc_endpoints(VpcEndpointIds=[own])

    # Step 3.1–3.2: the endpoint, then the service.
    steps.delete_endpoint(consumer, endpoint_id)
    assert ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] in ("deleting", "deleted")
    steps.delete_endpoint_service(provider, service_id)
    assert ec2_1.describe_vpc_endpoint_service_configurations()["ServiceConfigurations"] == []


def test_reject_a_connection_and_a_malformed_principal(console_server, pages, provider_nlb):
    from playwright.sync_api import expect

    from tests.helpers import console_vpc as steps

    ec2_1 = console_server.client("ec2", ACCOUNT_1)
    ec2_2 = console_server.client("ec2", ACCOUNT_2)
    provider = pages(ACCOUNT_1)
    service_id, service_name = steps.create_endpoint_service(provider, "reject-me", provider_nlb["LoadBalancerName"])

    # A malformed principal is AWS's error, in the red banner; nothing is added.
    steps.open_allow_principals(provider, service_id)
    provider.get_by_label("ARN", exact=True).fill("arn:aws:iam::2222:root")
    provider.get_by_role("button", name="Allow principals").click()
    banner = provider.get_by_role("alert")
    expect(banner).to_contain_text("InvalidPrincipal")
    expect(banner).to_contain_text("arn:aws:iam::2222:root")
    shot(provider, "vpc-allow-principals-error")
    assert ec2_1.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"] == []

    # A connection notification made in the console is what boto3 describes.
    topic = f"arn:aws:sns:ap-south-1:{ACCOUNT_1}:endpoint-events"
    steps.create_notification(provider, service_id, topic)
    [note] = ec2_1.describe_vpc_endpoint_connection_notifications()["ConnectionNotificationSet"]
    assert (note["ServiceId"], note["ConnectionNotificationArn"]) == (service_id, topic)
    assert sorted(note["ConnectionEvents"]) == ["Accept", "Connect", "Delete", "Reject"]

    # An endpoint made by boto3 appears in the provider's connections; the console rejects it.
    ec2_1.modify_vpc_endpoint_service_permissions(ServiceId=service_id, AddAllowedPrincipals=[CONSUMER_ROOT])
    vpc_2 = ec2_2.describe_vpcs(Filters=[{"Name": "is-default", "Values": ["true"]}])["Vpcs"][0]["VpcId"]
    endpoint_id = ec2_2.create_vpc_endpoint(
        VpcEndpointType="Interface", VpcId=vpc_2, ServiceName=service_name,
        SubnetIds=[s["SubnetId"] for s in default_subnets(ec2_2)])["VpcEndpoint"]["VpcEndpointId"]
    steps.reject_connection(provider, service_id, endpoint_id)
    assert ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] == "rejected"

    # The consumer sees it rejected; the provider removes the principal again.
    consumer = pages(ACCOUNT_2)
    steps.open_endpoint(consumer, endpoint_id)
    expect(consumer.get_by_role("region", name="Details")).to_contain_text("Rejected")
    steps.remove_principal(provider, service_id, CONSUMER_ROOT)
    assert ec2_1.describe_vpc_endpoint_service_permissions(ServiceId=service_id)["AllowedPrincipals"] == []

    # A service with a rejected connection can go; the endpoint stays the consumer's.
    steps.delete_endpoint(consumer, endpoint_id)
    steps.delete_endpoint_service(provider, service_id)


def test_private_dns_security_group_and_a_service_with_a_live_connection(console_server, pages, provider_nlb):
    from playwright.sync_api import expect

    from tests.helpers import console_vpc as steps
    from tests.helpers.elbv2 import security_group

    ec2_1 = console_server.client("ec2", ACCOUNT_1)
    ec2_2 = console_server.client("ec2", ACCOUNT_2)
    provider = pages(ACCOUNT_1)
    service_id, service_name = steps.create_endpoint_service(provider, "busy", provider_nlb["LoadBalancerName"],
                                                             acceptance=False, private_dns_name="demo.example.com")
    [svc] = ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])["ServiceConfigurations"]
    assert svc["AcceptanceRequired"] is False
    assert svc["PrivateDnsName"] == "demo.example.com"
    details = provider.get_by_role("region", name="Details")
    expect(details).to_contain_text("pendingVerification")
    expect(details).to_contain_text(svc["PrivateDnsNameConfiguration"]["Value"])
    steps.verify_domain(provider, service_id)
    assert ec2_1.describe_vpc_endpoint_service_configurations(ServiceIds=[service_id])[
        "ServiceConfigurations"][0]["PrivateDnsNameConfiguration"]["State"] == "verified"
    steps.allow_principal(provider, service_id, CONSUMER_ROOT)

    group_id = security_group(ec2_2)
    group_name = ec2_2.describe_security_groups(GroupIds=[group_id])["SecurityGroups"][0]["GroupName"]
    consumer = pages(ACCOUNT_2)
    endpoint_id = steps.create_endpoint(consumer, "no-acceptance", service_name, security_group=group_name)
    dns_names = steps.wait_endpoint_available(consumer, endpoint_id)
    [ep] = ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert ep["PrivateDnsEnabled"] is True
    assert "demo.example.com" in dns_names
    assert [g["GroupId"] for g in ep["Groups"]] == [group_id]
    expect(consumer.get_by_role("region", name="Details")).to_contain_text("Yes")  # Private DNS names enabled
    consumer.get_by_role("tab", name="Security Groups").click()
    expect(consumer.get_by_role("table", name="Security Groups")).to_contain_text(group_id)

    steps.open_service(provider, service_id)
    provider.get_by_role("button", name="Actions").click()
    provider.get_by_role("menuitem", name="Delete endpoint service").click()
    steps.confirm(provider, "delete", "Delete")
    expect(provider.get_by_role("alert")).to_contain_text("ExistingVpcEndpointConnections")
    assert console_server.client("ec2", ACCOUNT_1).describe_vpc_endpoint_service_configurations(
        ServiceIds=[service_id])["ServiceConfigurations"]
    steps.delete_endpoint(consumer, endpoint_id)
    assert ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["State"] in ("deleting", "deleted")


def test_an_endpoint_to_an_aws_service_from_the_aws_services_category(console_server, pages):
    """Create endpoint, "AWS services": the Region's Interface services are listed; picking
    com.amazonaws.ap-south-1.ec2 and a subnet makes an endpoint with private DNS on."""
    import re

    from playwright.sync_api import expect

    from tests.helpers.console import open_nav

    ec2 = console_server.client("ec2", ACCOUNT_1)
    page = pages(ACCOUNT_1)
    open_nav(page, "Endpoints")
    page.get_by_role("button", name="Create endpoint").click()
    page.get_by_label("Name tag - optional").fill("to-ec2")
    page.get_by_label("AWS services", exact=True).check()
    services = page.get_by_role("table", name="Services")
    expect(services).to_contain_text("com.amazonaws.ap-south-1.ec2")
    expect(services).to_contain_text("com.amazonaws.ap-south-1.s3")  # its Interface entry
    expect(services).not_to_contain_text("Gateway")
    page.get_by_role("radio", name="Select com.amazonaws.ap-south-1.ec2", exact=True).check()
    network = page.get_by_role("region", name="Network settings")
    zones = network.get_by_role("checkbox", name=re.compile(r"\([a-z]+\d-az\d\)$"))
    expect(zones.first).to_be_enabled()
    zones.first.check()
    expect(network.get_by_label("Enable DNS name")).to_be_checked()
    shot(page, "endpoint-aws-service")
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("Successfully created VPC endpoint")
    endpoint_id = page.get_by_role("heading", level=1).inner_text().split(" / ")[0].strip()
    [ep] = ec2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"]
    assert ep["ServiceName"] == "com.amazonaws.ap-south-1.ec2" and ep["VpcEndpointType"] == "Interface"
    assert ep["PrivateDnsEnabled"] is True and len(ep["SubnetIds"]) == 1
    assert "ec2.ap-south-1.amazonaws.com" in [e["DnsName"] for e in ep["DnsEntries"]]
    ec2.delete_vpc_endpoints(VpcEndpointIds=[endpoint_id])
