"""The seed's public-address steps and the internet edge's pages in the console, as a
person does them (by role and visible label): Step 1.4 (open the instance's public IPv4
address in a new tab) and Step 1.13 (open the internet-facing NLB in a new tab), launching
with "Auto-assign public IP", Elastic IPs, internet gateways and route tables. Each waits
for its outcome on screen and returns what later steps need. The page must be signed in
(`tests.helpers.console.sign_in`)."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .console import open_nav

#: A state or a page in a new tab may take this long (the pages poll; nginx boots).
LIVE_MS = 30_000
NGINX = "Welcome to nginx!"


def detail(page: Page, region: str, label: str):
    """The value (a locator) next to `label` in the details panel named `region`."""
    panel = page.get_by_role("region", name=region)
    return panel.locator("dt", has_text=re.compile(f"^{re.escape(label)}$")).locator("xpath=following-sibling::dd[1]")


def confirm(page: Page, button: str, word: str | None = None) -> None:
    """The console's confirmation dialog: type `word` when it asks, then press `button`."""
    dialog = page.get_by_role("dialog")
    if word:
        dialog.get_by_label(f"To confirm, type {word} in the field.").fill(word)
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)


def open_in_new_tab(page: Page, link) -> Page:
    """Follow a link that opens a new tab; the new tab once it has loaded, showing nginx."""
    with page.context.expect_page() as opened:
        link.click()
    tab = opened.value
    expect(tab.get_by_role("heading", name=NGINX)).to_be_visible(timeout=LIVE_MS)
    return tab


# Launch with Auto-assign public IP ------------------------------------------------------------

def launch_instance(page: Page, name: str, *, auto_assign: str | None = None, subnet: str | None = None,
                    allow_http: bool = True, user_data: str | None = None) -> str:
    """EC2 > Instances > Launch instances: name, Network settings (the subnet whose option
    contains `subnet`, "Auto-assign public IP" Enable / Disable), a new launch-wizard group
    allowing HTTP from the internet; Launch instance. The new instance's id."""
    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    page.get_by_label("Name", exact=True).fill(name)
    if subnet:
        choice = page.get_by_label("Subnet", exact=True).locator("option").filter(has_text=subnet).first
        page.get_by_label("Subnet", exact=True).select_option(label=choice.text_content())
    if auto_assign:
        page.get_by_label("Auto-assign public IP").select_option(label=auto_assign)
    page.get_by_label("Create security group").check()
    page.get_by_label("Allow SSH traffic from").set_checked(False)
    page.get_by_label("Allow HTTP traffic from the internet").set_checked(allow_http)
    if user_data is not None:
        page.get_by_role("button", name="Advanced details").click()
        page.get_by_label("User data").fill(user_data)
    page.get_by_role("button", name="Launch instance", exact=True).click()
    success = page.get_by_role("region", name="Success")
    expect(success).to_contain_text("Successfully initiated launch of instance")
    return success.get_by_role("link").first.inner_text()


# Step 1.4 and 1.13: open the public address in a new tab ------------------------------------------

def open_instance(page: Page, instance_id: str) -> None:
    open_nav(page, "Instances")
    page.get_by_role("table", name="Instances").get_by_role("link", name=instance_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(instance_id)


def public_address_link(page: Page, instance_id: str):
    """The instance summary's "Public IPv4 address … — open address" link (waits for the address)."""
    open_instance(page, instance_id)
    cell = detail(page, "Instance summary", "Public IPv4 address")
    link = cell.get_by_role("link", name="open address")
    expect(link).to_be_visible(timeout=LIVE_MS)
    return link


def open_public_address(page: Page, instance_id: str) -> tuple[str, Page]:
    """Step 1.4: the instance's Public IPv4 address, "open address" in a new tab, nginx's
    page there. (the public address, the new tab)."""
    link = public_address_link(page, instance_id)
    address = detail(page, "Instance summary", "Public IPv4 address").inner_text().split(" ")[0].strip()
    return address, open_in_new_tab(page, link)


def open_load_balancer(page: Page, name: str) -> None:
    open_nav(page, "Load Balancers")
    page.get_by_role("link", name=name, exact=True).click()
    expect(page.get_by_role("heading", level=1, name=name, exact=True)).to_be_visible()


def open_nlb(page: Page, name: str) -> Page:
    """Step 1.13: the NLB's DNS name, its "open" link in a new tab, nginx's page there."""
    open_load_balancer(page, name)
    link = detail(page, "Details", "DNS name").get_by_role("link", name="open")
    expect(link).to_be_visible(timeout=LIVE_MS)
    return open_in_new_tab(page, link)


# EC2 > Elastic IPs -----------------------------------------------------------------------------

def eip_row(page: Page, public_ip: str):
    return page.get_by_role("table", name="Elastic IP addresses").get_by_role("row").filter(has_text=public_ip)


def allocate_elastic_ip(page: Page) -> str:
    """Elastic IPs > Allocate Elastic IP address > Allocate: the new address."""
    open_nav(page, "Elastic IPs")
    page.get_by_role("button", name="Allocate Elastic IP address").click()
    page.get_by_role("button", name="Allocate", exact=True).click()
    status = page.get_by_role("status")
    expect(status).to_contain_text("Elastic IP address allocated successfully")
    return status.inner_text().rsplit(" ", 1)[-1].strip()


def select_elastic_ip(page: Page, public_ip: str, action: str) -> None:
    open_nav(page, "Elastic IPs")
    eip_row(page, public_ip).get_by_role("radio").check()
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name=action, exact=True).click()


def associate_elastic_ip(page: Page, public_ip: str, *, instance_id: str | None = None,
                         network_interface_id: str | None = None, reassociate: bool = False) -> None:
    """Actions > Associate Elastic IP address with an instance or a network interface."""
    select_elastic_ip(page, public_ip, "Associate Elastic IP address")
    expect(page.get_by_role("heading", name="Associate Elastic IP address")).to_be_visible()
    if instance_id:
        page.get_by_label("Instance", exact=True).and_(page.get_by_role("radio")).check()
        chosen = page.get_by_label("Instance", exact=True).and_(page.get_by_role("combobox"))
        chosen.select_option(label=chosen.locator("option").filter(has_text=instance_id).first.text_content())
    else:
        page.get_by_label("Network interface", exact=True).and_(page.get_by_role("radio")).check()
        chosen = page.get_by_label("Network interface", exact=True).and_(page.get_by_role("combobox"))
        chosen.select_option(label=chosen.locator("option").filter(has_text=network_interface_id).first.text_content())
    if reassociate:
        page.get_by_label("Allow this Elastic IP address to be reassociated").check()
    page.get_by_role("button", name="Associate", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Elastic IP address associated successfully")


def disassociate_elastic_ip(page: Page, public_ip: str) -> None:
    select_elastic_ip(page, public_ip, "Disassociate Elastic IP address")
    confirm(page, "Disassociate")
    expect(page.get_by_role("status")).to_contain_text("Elastic IP address disassociated successfully")


def release_elastic_ip(page: Page, public_ip: str) -> None:
    select_elastic_ip(page, public_ip, "Release Elastic IP addresses")
    confirm(page, "Release")
    expect(page.get_by_role("status")).to_contain_text("Elastic IP addresses released successfully")
    expect(eip_row(page, public_ip)).to_have_count(0)


# VPC > Internet gateways -----------------------------------------------------------------------

def igw_row(page: Page, igw_id: str):
    return page.get_by_role("table", name="Internet gateways").get_by_role("row").filter(has_text=igw_id)


def create_internet_gateway(page: Page, name: str) -> str:
    """Internet gateways > Create internet gateway with a Name tag: its id."""
    open_nav(page, "Internet gateways")
    page.get_by_role("button", name="Create internet gateway").click()
    page.get_by_label("Name tag", exact=True).fill(name)
    page.get_by_role("button", name="Create internet gateway").click()
    expect(page.get_by_role("status")).to_contain_text("The following internet gateway was created")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"/ {name}")
    return heading.inner_text().split(" / ")[0].strip()


def internet_gateway_action(page: Page, igw_id: str, action: str) -> None:
    open_nav(page, "Internet gateways")
    igw_row(page, igw_id).get_by_role("radio").check()
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name=action, exact=True).click()


def attach_internet_gateway(page: Page, igw_id: str, vpc_id: str) -> None:
    """Actions > Attach to VPC: the VPC, Attach internet gateway; the gateway shows Attached."""
    internet_gateway_action(page, igw_id, "Attach to VPC")
    choice = page.get_by_label("Available VPCs").locator("option").filter(has_text=vpc_id).first
    page.get_by_label("Available VPCs").select_option(label=choice.text_content())
    page.get_by_role("button", name="Attach internet gateway").click()
    expect(page.get_by_role("status")).to_contain_text(f"successfully attached to {vpc_id}")
    expect(detail(page, "Details", "State")).to_have_text("Attached")


def detach_internet_gateway(page: Page, igw_id: str) -> None:
    """Actions > Detach from VPC, typed confirmation ("detach")."""
    internet_gateway_action(page, igw_id, "Detach from VPC")
    confirm(page, "Detach internet gateway", "detach")


def delete_internet_gateway(page: Page, igw_id: str) -> None:
    internet_gateway_action(page, igw_id, "Delete internet gateway")
    confirm(page, "Delete internet gateway", "delete")


# VPC > Route tables --------------------------------------------------------------------------------

def open_route_table(page: Page, rtb_id: str) -> None:
    open_nav(page, "Route tables")
    page.get_by_role("table", name="Route tables").get_by_role("link", name=rtb_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(rtb_id)


def create_route_table(page: Page, name: str, vpc_id: str) -> str:
    """Route tables > Create route table: Name, VPC; its id."""
    open_nav(page, "Route tables")
    page.get_by_role("button", name="Create route table").click()
    page.get_by_label("Name - optional").fill(name)
    choice = page.get_by_label("VPC", exact=True).locator("option").filter(has_text=vpc_id).first
    page.get_by_label("VPC", exact=True).select_option(label=choice.text_content())
    page.get_by_role("button", name="Create route table").click()
    expect(page.get_by_role("status")).to_contain_text("was created successfully")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"/ {name}")
    return heading.inner_text().split(" / ")[0].strip()


def add_route(page: Page, rtb_id: str, destination: str, target: str, target_type: str = "Internet Gateway") -> None:
    """The table's Routes tab > Edit routes > Add route: destination and target; Save changes."""
    open_route_table(page, rtb_id)
    page.get_by_role("tabpanel").get_by_role("button", name="Edit routes").click()
    expect(page.get_by_role("heading", name="Edit routes")).to_be_visible()
    page.get_by_role("button", name="Add route").click()
    row = page.get_by_role("group", name=re.compile(r"^Route \d+$")).last
    row.get_by_label("Destination").fill(destination)
    row.get_by_label("Target", exact=True).select_option(label=target_type)
    ids = row.get_by_label("Target ID")
    ids.select_option(label=ids.locator("option").filter(has_text=target).first.text_content())
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text(f"Updated routes for {rtb_id} successfully")


def remove_route(page: Page, rtb_id: str, destination: str) -> None:
    """Edit routes: Remove the route to `destination`; Save changes."""
    open_route_table(page, rtb_id)
    page.get_by_role("tabpanel").get_by_role("button", name="Edit routes").click()
    expect(page.get_by_role("button", name="Add route")).to_be_visible()
    groups = page.get_by_role("group", name=re.compile(r"^Route \d+$"))
    for i in range(groups.count()):
        g = groups.nth(i)
        box = g.get_by_label("Destination")
        if box.count() and box.input_value() == destination:
            g.get_by_role("button", name="Remove").click()
            break
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status")).to_contain_text(f"Updated routes for {rtb_id} successfully")


def edit_subnet_associations(page: Page, rtb_id: str, subnet_ids: list[str]) -> None:
    """Subnet associations tab > Edit subnet associations: exactly `subnet_ids` checked; Save associations."""
    open_route_table(page, rtb_id)
    page.get_by_role("tab", name="Subnet associations").click()
    page.get_by_role("tabpanel").get_by_role("button", name="Edit subnet associations").click()
    available = page.get_by_role("table", name="Available subnets")
    expect(available).to_be_visible()
    for box in available.get_by_role("checkbox").all():
        box.set_checked(box.get_attribute("aria-label") in subnet_ids)
    page.get_by_role("button", name="Save associations").click()
    expect(page.get_by_role("status")).to_contain_text(f"You have successfully updated subnet associations for {rtb_id}")


def delete_route_table(page: Page, rtb_id: str) -> None:
    open_route_table(page, rtb_id)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete route table").click()
    confirm(page, "Delete", "delete")
