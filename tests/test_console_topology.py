"""vpclab > Topology in a real browser: both accounts' VPCs, the instance, the NLB, the
endpoint service, the endpoint and the PrivateLink path, each state in its colour's
label; with the data plane, the live traffic of the endpoint and the listener."""
from __future__ import annotations

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2
from tests.helpers.console import needs_chromium, shot, sign_in
from tests.helpers.console_topology import open_topology
from tests.helpers.traffic import available_endpoint, curl, make_endpoint, service_and_consumer, wait_state
from tests.helpers.waiting import wait_for
from vpclab.kernel import naming

pytestmark = needs_chromium


def group(page, label: str):
    return page.get_by_role("group", name=label)


def test_topology_shows_both_accounts_and_the_path(browser, console_server):
    from playwright.sync_api import expect

    c = service_and_consumer(console_server)
    endpoint_id, eni_ip = make_endpoint(c)
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[endpoint_id])
    wait_state(c.ec2_2, endpoint_id, "available")
    eni_id = c.ec2_2.describe_vpc_endpoints(VpcEndpointIds=[endpoint_id])["VpcEndpoints"][0]["NetworkInterfaceIds"][0]
    node = c.p["lb"]["AvailabilityZones"][0]
    web = c.p["webs"][0]

    page = browser.new_page(viewport={"width": 1500, "height": 900})
    sign_in(page, console_server, ACCOUNT_2)
    open_topology(page)
    vpc_2 = c.ec2_2.describe_vpcs(VpcIds=[c.vpc_2])["Vpcs"][0]
    expect(group(page, f"Account {ACCOUNT_1} (provider)")).to_be_visible()
    expect(group(page, f"Account {ACCOUNT_2} (consumer)")).to_be_visible()
    expect(group(page, f"VPC {c.p['vpc']} 172.31.0.0/16")).to_be_visible()
    expect(group(page, f"VPC {vpc_2['VpcId']} {vpc_2['CidrBlock']}")).to_be_visible()
    expect(group(page, f"Instance {web['InstanceId']} {web['PrivateIpAddress']} running")).to_be_visible()
    expect(group(page, "Load balancer web active")).to_be_visible()
    expect(group(page, f"NLB node web {node['LoadBalancerAddresses'][0]['PrivateIPv4Address']}")).to_be_visible()
    expect(group(page, f"Endpoint service {c.svc['ServiceId']} Available")).to_be_visible()
    expect(group(page, f"Endpoint {endpoint_id} available")).to_be_visible()
    expect(group(page, f"Endpoint ENI {endpoint_id} {eni_ip} available")).to_be_visible()
    # The path: endpoint ENI -> the NLB node in its zone -> the target.
    path = group(page, "PrivateLink path")
    expect(path.get_by_role("group", name=f"Path {eni_id} to ")).to_contain_text("available")
    expect(path.get_by_role("group", name=f"to {web['InstanceId']}")).to_have_count(1)
    expect(page.get_by_role("note")).to_have_text("Traffic counters need the data plane.")
    shot(page, "topology")
    page.close()


def test_pending_and_rejected_endpoints_are_drawn_in_their_state_live(browser, console_server):
    from playwright.sync_api import expect

    c = service_and_consumer(console_server)
    pending, _ = make_endpoint(c)
    rejected, _ = make_endpoint(c)
    c.ec2_1.reject_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[rejected])
    wait_state(c.ec2_2, rejected, "rejected")

    page = browser.new_page(viewport={"width": 1500, "height": 900})
    sign_in(page, console_server, ACCOUNT_1)
    open_topology(page)
    expect(group(page, f"Endpoint {pending} pendingAcceptance")).to_have_class("box card tone-busy")
    expect(group(page, f"Endpoint {rejected} rejected")).to_have_class("box card tone-bad")
    # Accepted while the page is open: it moves to available without a reload.
    c.ec2_1.accept_vpc_endpoint_connections(ServiceId=c.svc["ServiceId"], VpcEndpointIds=[pending])
    expect(group(page, f"Endpoint {pending} available")).to_have_class("box card tone-ok", timeout=15000)
    shot(page, "topology-states")
    page.close()


def test_the_live_counters_show_requests_through_the_endpoint(browser, dataplane_server):
    from playwright.sync_api import expect

    srv = dataplane_server
    prefix = naming.prefix_for_state_dir(srv.state_dir)
    c = service_and_consumer(srv)
    endpoint_id, url = available_endpoint(c)
    wait_for(lambda: curl(prefix, c.client, url, timeout=1) is not None, timeout=20, what="the endpoint answers")

    page = browser.new_page(viewport={"width": 1500, "height": 900})
    sign_in(page, srv, ACCOUNT_2)
    open_topology(page)
    traffic = page.get_by_role("table", name="Traffic")
    row = traffic.get_by_role("row").filter(has_text=f"Endpoint {endpoint_id}")
    expect(row).to_be_visible()
    before = int(row.get_by_role("cell").nth(2).inner_text())
    for _ in range(3):
        assert curl(prefix, c.client, url) is not None
    expect(row.get_by_role("cell").nth(2)).to_have_text(str(before + 3), timeout=10000)  # live, no reload
    listener = traffic.get_by_role("row").filter(has_text="Listener web TCP:80")
    expect(listener.get_by_role("cell").nth(2)).not_to_have_text("0")
    expect(group(page, f"Endpoint {endpoint_id} available")).to_contain_text(f"{before + 3} connections")
    shot(page, "topology-traffic")
    page.close()
