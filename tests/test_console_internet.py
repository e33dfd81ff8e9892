"""The console's public addresses and internet edge in a real browser: instances' Public
IPv4 address and DNS with "open address" at the host mapping, the launch wizard's
Auto-assign public IP, Elastic IPs, internet gateways, route tables, and an internet-facing
NLB's "open" link — each console action checked with boto3, each boto3 action checked on
screen, and each account seeing only its own."""
from __future__ import annotations

import pytest

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, open_nav, shot, sign_in
from vpclab.model.internet import host_address

pytestmark = needs_chromium


@pytest.fixture
def pages(browser, console_server):
    """Open a signed-in page as an account (separate sessions, as two browser windows)."""
    from playwright.sync_api import Page

    opened: list[Page] = []

    def open_as(account: str) -> Page:
        context = browser.new_context(viewport={"width": 1400, "height": 900})
        page = context.new_page()
        sign_in(page, console_server, account)
        opened.append(page)
        return page

    yield open_as
    for p in opened:
        p.context.close()


def js_host_addresses(page, ips: list[str]) -> list[str | None]:
    """lib.js's hostAddress for each address, as the pages call it."""
    return page.evaluate("""async (ips) => {
        const lib = await import('/console/static/lib.js');
        return ips.map((ip) => lib.hostAddress(ip));
    }""", ips)


def python_host_address(ip: str) -> str | None:
    try:
        return host_address(ip)
    except ValueError:
        return None


def test_the_page_maps_public_addresses_as_the_server_does(pages):
    ips = ["198.18.1.7", "198.19.3.4", "198.18.0.1", "198.19.255.254", "198.18.0.0", "198.17.1.1",
           "198.20.0.1", "10.0.0.7", "127.18.1.7", "172.31.5.9", "198.18.300.1", "198.18.01.7", "", "x"]
    page = pages(ACCOUNT_1)
    assert js_host_addresses(page, ips) == [python_host_address(ip) for ip in ips]
    assert js_host_addresses(page, ["198.18.1.7"]) == ["127.18.1.7"]


def instance_of(ec2, iid: str) -> dict:
    return ec2.describe_instances(InstanceIds=[iid])["Reservations"][0]["Instances"][0]


def test_instances_show_their_public_address_and_open_it_at_the_host_mapping(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import default_subnets, run_instance

    ec2 = console_server.client("ec2", ACCOUNT_1)
    public_id = run_instance(ec2)
    subnet = default_subnets(ec2)[0]["SubnetId"]
    private_id = ec2.run_instances(ImageId=instance_of(ec2, public_id)["ImageId"], InstanceType="t2.micro",
                                   MinCount=1, MaxCount=1, NetworkInterfaces=[
                                       {"DeviceIndex": 0, "SubnetId": subnet, "AssociatePublicIpAddress": False}],
                                   )["Instances"][0]["InstanceId"]
    other_id = run_instance(console_server.client("ec2", ACCOUNT_2), wait=False)
    inst = instance_of(ec2, public_id)
    ip, dns = inst["PublicIpAddress"], inst["PublicDnsName"]
    assert ip.startswith("198.1") and dns == f"ec2-{ip.replace('.', '-')}.ap-south-1.compute.amazonaws.com"
    assert "PublicIpAddress" not in instance_of(ec2, private_id)

    page = pages(ACCOUNT_1)
    open_nav(page, "Instances")
    table = page.get_by_role("table", name="Instances")
    expect(table.get_by_role("columnheader", name="Public IPv4 DNS")).to_be_visible()
    row = table.get_by_role("row").filter(has_text=public_id)
    expect(row).to_contain_text(ip)
    expect(row).to_contain_text(dns)
    expect(table.get_by_role("row").filter(has_text=private_id)).not_to_contain_text("198.1")
    expect(table).not_to_contain_text(other_id)
    shot(page, "internet-instances")

    link = steps.public_address_link(page, public_id)
    host = f"http://{host_address(ip)}/"
    expect(link).to_have_attribute("href", host)
    expect(link).to_have_attribute("target", "_blank")
    expect(steps.detail(page, "Instance summary", "Public IPv4 address")).to_contain_text(f"{ip} — open address")
    dns_cell = steps.detail(page, "Instance summary", "Public IPv4 DNS")
    expect(dns_cell).to_contain_text(dns)
    expect(dns_cell.get_by_role("link", name="open address")).to_have_attribute("href", host)
    shot(page, "internet-instance-public-address")

    steps.open_instance(page, private_id)
    expect(steps.detail(page, "Instance summary", "Public IPv4 address")).to_have_text("–")
    expect(page.get_by_role("region", name="Instance summary").get_by_role("link", name="open address")).to_have_count(0)

    # Stopped, the instance gives its address back: the page follows without a reload.
    ec2.stop_instances(InstanceIds=[public_id])
    steps.open_instance(page, public_id)
    expect(steps.detail(page, "Instance summary", "Public IPv4 address")).to_have_text("–", timeout=steps.LIVE_MS)


def test_the_launch_wizard_auto_assigns_a_public_ip_or_not(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps

    ec2 = console_server.client("ec2", ACCOUNT_1)
    vpc = ec2.create_vpc(CidrBlock="10.9.0.0/16")["Vpc"]["VpcId"]
    ec2.create_subnet(VpcId=vpc, CidrBlock="10.9.1.0/24", AvailabilityZone="ap-south-1a", TagSpecifications=[
        {"ResourceType": "subnet", "Tags": [{"Key": "Name", "Value": "no-auto-ip"}]}])
    page = pages(ACCOUNT_1)
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    # The default VPC's default subnet maps public addresses on launch: Enable is the default.
    expect(page.get_by_label("Auto-assign public IP")).to_have_value("enable")
    shot(page, "internet-launch-auto-assign")

    off = steps.launch_instance(page, "web-private", auto_assign="Disable")
    on = steps.launch_instance(page, "web-public")
    assert "PublicIpAddress" not in instance_of(ec2, off)
    assert instance_of(ec2, on)["PublicIpAddress"].startswith("198.1")

    # A subnet that does not map them: Disable is proposed; Enable asks for one (AssociatePublicIpAddress).
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    vpc_select = page.get_by_label("VPC", exact=True)
    vpc_select.select_option(label=vpc_select.locator("option").filter(has_text=vpc).first.text_content())
    expect(page.get_by_label("Auto-assign public IP")).to_have_value("disable")
    page.get_by_label("Auto-assign public IP").select_option(label="Enable")
    page.get_by_label("Allow SSH traffic from").set_checked(False)
    page.get_by_role("button", name="Launch instance", exact=True).click()
    success = page.get_by_role("region", name="Success")
    expect(success).to_contain_text("Successfully initiated launch of instance")
    chosen = instance_of(ec2, success.get_by_role("link").first.inner_text())
    assert chosen["VpcId"] == vpc and chosen["PublicIpAddress"].startswith("198.1")


def test_elastic_ips_allocate_associate_disassociate_release(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import run_instance

    ec2 = console_server.client("ec2", ACCOUNT_1)
    iid = run_instance(ec2)
    before = instance_of(ec2, iid)["PublicIpAddress"]
    eni = instance_of(ec2, iid)["NetworkInterfaces"][0]["NetworkInterfaceId"]
    theirs = console_server.client("ec2", ACCOUNT_2).allocate_address(Domain="vpc")["PublicIp"]
    page = pages(ACCOUNT_1)

    ip = steps.allocate_elastic_ip(page)
    [addr] = ec2.describe_addresses(PublicIps=[ip])["Addresses"]
    assert addr["Domain"] == "vpc" and addr["AllocationId"].startswith("eipalloc-") and ip.startswith("198.1")
    row = steps.eip_row(page, ip)
    expect(row).to_contain_text(addr["AllocationId"])
    expect(page.get_by_role("table", name="Elastic IP addresses")).not_to_contain_text(theirs)

    steps.associate_elastic_ip(page, ip, instance_id=iid)
    [addr] = ec2.describe_addresses(PublicIps=[ip])["Addresses"]
    assert addr["InstanceId"] == iid and addr["AssociationId"].startswith("eipassoc-")
    assert instance_of(ec2, iid)["PublicIpAddress"] == ip != before
    summary = page.get_by_role("region", name="Summary")
    expect(summary).to_contain_text(iid)
    expect(summary.get_by_role("link", name="open address")).to_have_attribute("href", f"http://{host_address(ip)}/")
    shot(page, "internet-elastic-ip")

    # Another address on the same network interface takes the place of the first.
    second = ec2.allocate_address(Domain="vpc")["PublicIp"]
    steps.associate_elastic_ip(page, second, network_interface_id=eni)
    [addr] = ec2.describe_addresses(PublicIps=[second])["Addresses"]
    assert addr["NetworkInterfaceId"] == eni and addr["InstanceId"] == iid
    assert not ec2.describe_addresses(PublicIps=[ip])["Addresses"][0].get("AssociationId")

    # Moved to another instance without "Allow reassociation": EC2's error is the red banner.
    iid2 = run_instance(ec2)
    steps.select_elastic_ip(page, second, "Associate Elastic IP address")
    select = page.get_by_label("Instance", exact=True).and_(page.get_by_role("combobox"))
    select.select_option(label=select.locator("option").filter(has_text=iid2).first.text_content())
    page.get_by_role("button", name="Associate", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("Resource.AlreadyAssociated")
    steps.associate_elastic_ip(page, second, instance_id=iid2, reassociate=True)
    assert ec2.describe_addresses(PublicIps=[second])["Addresses"][0]["InstanceId"] == iid2

    steps.open_nav(page, "Elastic IPs")
    expect(steps.eip_row(page, second)).to_contain_text(iid2)
    shot(page, "internet-elastic-ips")
    steps.disassociate_elastic_ip(page, second)
    assert not ec2.describe_addresses(PublicIps=[second])["Addresses"][0].get("AssociationId")
    steps.release_elastic_ip(page, second)
    steps.release_elastic_ip(page, ip)
    assert ec2.describe_addresses()["Addresses"] == []


def test_internet_gateways_create_attach_detach_delete(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import default_vpc

    ec2 = console_server.client("ec2", ACCOUNT_1)
    vpc = ec2.create_vpc(CidrBlock="10.8.0.0/16")["Vpc"]["VpcId"]
    [default_igw] = ec2.describe_internet_gateways(
        Filters=[{"Name": "attachment.vpc-id", "Values": [default_vpc(ec2)]}])["InternetGateways"]
    theirs = console_server.client("ec2", ACCOUNT_2).describe_internet_gateways()["InternetGateways"][0]
    page = pages(ACCOUNT_1)

    steps.open_nav(page, "Internet gateways")
    row = steps.igw_row(page, default_igw["InternetGatewayId"])
    expect(row).to_contain_text("Attached")
    expect(row).to_contain_text(default_vpc(ec2))
    expect(page.get_by_role("table", name="Internet gateways")).not_to_contain_text(theirs["InternetGatewayId"])

    igw = steps.create_internet_gateway(page, "lab-igw")
    [made] = ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"]
    assert made["Attachments"] == [] and {"Key": "Name", "Value": "lab-igw"} in made["Tags"]
    expect(steps.detail(page, "Details", "State")).to_have_text("Detached")

    # The default VPC has its gateway already: AWS says so in the banner.
    steps.internet_gateway_action(page, igw, "Attach to VPC")
    expect(page.get_by_label("Available VPCs").locator("option").filter(has_text=default_vpc(ec2))).to_have_count(0)
    steps.attach_internet_gateway(page, igw, vpc)
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"] == [
        {"State": "available", "VpcId": vpc}]
    shot(page, "internet-internet-gateway")

    # Attached, it cannot be deleted: AWS's DependencyViolation is the red banner.
    steps.internet_gateway_action(page, igw, "Delete internet gateway")
    steps.confirm(page, "Delete internet gateway", "delete")
    expect(page.get_by_role("alert")).to_contain_text("DependencyViolation")

    steps.detach_internet_gateway(page, igw)
    expect(page.get_by_role("status")).to_contain_text(f"successfully detached from {vpc}")
    assert ec2.describe_internet_gateways(InternetGatewayIds=[igw])["InternetGateways"][0]["Attachments"] == []
    expect(steps.igw_row(page, igw)).to_contain_text("Detached")
    shot(page, "internet-internet-gateways")
    steps.delete_internet_gateway(page, igw)
    expect(steps.igw_row(page, igw)).to_have_count(0)
    assert igw not in {g["InternetGatewayId"] for g in ec2.describe_internet_gateways()["InternetGateways"]}


def test_route_tables_routes_and_subnet_associations(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import default_vpc

    ec2 = console_server.client("ec2", ACCOUNT_1)
    dvpc = default_vpc(ec2)
    [main] = ec2.describe_route_tables(Filters=[{"Name": "vpc-id", "Values": [dvpc]},
                                                {"Name": "association.main", "Values": ["true"]}])["RouteTables"]
    vpc = ec2.create_vpc(CidrBlock="10.6.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.6.1.0/24")["Subnet"]["SubnetId"]
    igw = ec2.create_internet_gateway()["InternetGateway"]["InternetGatewayId"]
    ec2.attach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    page = pages(ACCOUNT_1)

    # The default VPC's main table: local and 0.0.0.0/0 to its gateway, both active.
    steps.open_route_table(page, main["RouteTableId"])
    expect(steps.detail(page, "Details", "Main")).to_have_text("Yes")
    routes = page.get_by_role("table", name="Routes")
    expect(routes.get_by_role("row").filter(has_text="local")).to_contain_text("Active")
    default_route = routes.get_by_role("row").filter(has_text="0.0.0.0/0")
    expect(default_route).to_contain_text("igw-")
    expect(default_route).to_contain_text("Active")
    shot(page, "internet-route-table")

    rtb = steps.create_route_table(page, "public-rt", vpc)
    [made] = ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"]
    assert made["VpcId"] == vpc and [r["GatewayId"] for r in made["Routes"]] == ["local"]
    steps.add_route(page, rtb, "0.0.0.0/0", igw)
    [route] = [r for r in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]
               if r.get("DestinationCidrBlock") == "0.0.0.0/0"]
    assert route["GatewayId"] == igw and route["State"] == "active"
    expect(page.get_by_role("table", name="Routes").get_by_role("row").filter(has_text="0.0.0.0/0")).to_contain_text(igw)

    steps.edit_subnet_associations(page, rtb, [subnet])
    [assoc] = [a for a in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Associations"]]
    assert assoc["SubnetId"] == subnet and not assoc["Main"]
    page.get_by_role("tab", name="Subnet associations").click()
    expect(page.get_by_role("table", name="Explicit subnet associations")).to_contain_text(subnet)
    shot(page, "internet-route-table-subnets")
    steps.open_nav(page, "Route tables")
    expect(page.get_by_role("table", name="Route tables").get_by_role("row").filter(has_text=rtb)).to_contain_text(subnet)
    shot(page, "internet-route-tables")

    # Detached, the gateway's route is a blackhole, as the API says.
    ec2.detach_internet_gateway(InternetGatewayId=igw, VpcId=vpc)
    steps.open_route_table(page, rtb)
    expect(page.get_by_role("table", name="Routes").get_by_role("row").filter(has_text="0.0.0.0/0")).to_contain_text(
        "Blackhole")

    # A table with subnets cannot go: DependencyViolation, then it can once they are off it.
    steps.delete_route_table(page, rtb)
    expect(page.get_by_role("alert")).to_contain_text("DependencyViolation")
    steps.edit_subnet_associations(page, rtb, [])
    assert ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Associations"] == []
    steps.remove_route(page, rtb, "0.0.0.0/0")
    assert [r["GatewayId"] for r in ec2.describe_route_tables(RouteTableIds=[rtb])["RouteTables"][0]["Routes"]] == [
        "local"]
    steps.delete_route_table(page, rtb)
    expect(page.get_by_role("status")).to_contain_text(f"Route table {rtb} was deleted successfully")
    assert rtb not in {t["RouteTableId"] for t in ec2.describe_route_tables()["RouteTables"]}


def test_step_1_4_the_public_address_opens_nginx_in_a_new_tab(browser, dataplane_server):
    """The seed's Step 1.2–1.4 in the browser with the data plane: launch with user data
    starting nginx and HTTP allowed from the internet, then "open address" shows nginx's page
    in a new tab, served from the instance's public address at its host mapping."""
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.instances import NGINX

    srv = dataplane_server
    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, srv, ACCOUNT_1)
        iid = steps.launch_instance(page, "demo-server-instance", user_data=NGINX)
        address, tab = steps.open_public_address(page, iid)
        assert address == instance_of(srv.client("ec2", ACCOUNT_1), iid)["PublicIpAddress"]
        assert tab.url == f"http://{host_address(address)}/"
        expect(tab).to_have_title("Welcome to nginx!")
        shot(tab, "internet-step-1-4-nginx-tab")
    finally:
        context.close()


def node_addresses(ec2, lb: dict) -> dict[str, str]:
    """{zone: public address} of an NLB's nodes, from their network interfaces (as on AWS)."""
    suffix = lb["LoadBalancerArn"].split(":loadbalancer/")[1]
    enis = ec2.describe_network_interfaces(Filters=[{"Name": "description", "Values": [f"ELB {suffix}"]}])
    return {n["AvailabilityZone"]: n["Association"]["PublicIp"] for n in enis["NetworkInterfaces"]
            if n.get("Association")}


def test_an_internet_facing_nlb_opens_at_a_node_address_and_an_internal_one_has_none(console_server, pages):
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import default_subnets, nlb, unique

    ec2, elb = console_server.client("ec2", ACCOUNT_1), console_server.client("elbv2", ACCOUNT_1)
    subnets = [s["SubnetId"] for s in default_subnets(ec2)]
    outside = nlb(elb, subnets, name=unique("outside"))
    inside = nlb(elb, subnets, name=unique("inside"), Scheme="internal")
    nodes = node_addresses(ec2, outside)
    assert len(nodes) == 3 and node_addresses(ec2, inside) == {}
    page = pages(ACCOUNT_1)

    steps.open_load_balancer(page, outside["LoadBalancerName"])
    dns = steps.detail(page, "Details", "DNS name")
    expect(dns).to_contain_text(outside["DNSName"])
    href = dns.get_by_role("link", name="open").get_attribute("href")
    assert href in {f"http://{host_address(ip)}/" for ip in nodes.values()}
    page.get_by_role("tab", name="Network mapping").click()
    mappings = page.get_by_role("table", name="Mappings")
    for zone, ip in nodes.items():
        expect(mappings.get_by_role("row").filter(has_text=zone)).to_contain_text(ip)
    shot(page, "internet-nlb-open")

    steps.open_load_balancer(page, inside["LoadBalancerName"])
    expect(steps.detail(page, "Details", "DNS name")).to_contain_text(inside["DNSName"])
    expect(steps.detail(page, "Details", "DNS name").get_by_role("link")).to_have_count(0)


def test_step_1_13_the_nlb_opens_nginx_in_a_new_tab(browser, fast_dataplane_server):
    """The seed's Step 1.13 with the data plane: the NLB (boto3, Steps 1.7–1.12) is active and
    its target healthy; the DNS name's "open" link shows nginx in a new tab."""
    from playwright.sync_api import expect

    from tests.helpers import console_internet as steps
    from tests.helpers.elbv2 import default_subnets, default_vpc, security_group, tcp_group, unique, wait_active
    from tests.helpers.instances import launch, wait_state
    from tests.helpers.waiting import wait_for

    srv = fast_dataplane_server
    ec2, elb = srv.client("ec2", ACCOUNT_1), srv.client("elbv2", ACCOUNT_1)
    group = security_group(ec2, default_vpc(ec2))
    iid = launch(ec2, "demo-server-instance", SecurityGroupIds=[group],
                 Placement={"AvailabilityZone": "ap-south-1a"})["InstanceId"]
    wait_state(ec2, iid, "running")
    tg = tcp_group(elb, default_vpc(ec2), name=unique("demo-service-tg"))["TargetGroupArn"]
    elb.register_targets(TargetGroupArn=tg, Targets=[{"Id": iid, "Port": 80}])
    lb = elb.create_load_balancer(Name=unique("demo-service-nlb"), Type="network", Scheme="internet-facing",
                                  Subnets=[s["SubnetId"] for s in default_subnets(ec2)],
                                  SecurityGroups=[group])["LoadBalancers"][0]
    elb.create_listener(LoadBalancerArn=lb["LoadBalancerArn"], Protocol="TCP", Port=80,
                        DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])
    wait_active(elb, lb["LoadBalancerArn"])
    wait_for(lambda: elb.describe_target_health(TargetGroupArn=tg)["TargetHealthDescriptions"][0]["TargetHealth"][
        "State"] == "healthy", timeout=60, interval=0.3, what="the target healthy")

    context = browser.new_context(viewport={"width": 1400, "height": 900})
    try:
        page = context.new_page()
        sign_in(page, srv, ACCOUNT_1)
        tab = steps.open_nlb(page, lb["LoadBalancerName"])
        assert tab.url in {f"http://{host_address(ip)}/" for ip in node_addresses(ec2, lb).values()}
        expect(tab).to_have_title("Welcome to nginx!")
        shot(tab, "internet-step-1-13-nginx-tab")
    finally:
        context.close()
