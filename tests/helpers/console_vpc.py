"""The seed's VPC steps (1.14–1.18, 2.2–2.12, 3.1–3.2) done in the console as a person does
them: by the navigation, buttons, fields and menus they see. Each waits for its outcome
and returns what later steps need; the caller signs the page in as the right account."""
from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from .console import open_nav

#: The console moves a state on screen within a few polls; a step waits this long for it.
LIVE_MS = 15_000


def detail(page: Page, label: str) -> str:
    """The value next to `label` in the page's Details panel."""
    panel = page.get_by_role("region", name="Details")
    return panel.locator("dt", has_text=re.compile(f"^{re.escape(label)}$")).locator(
        "xpath=following-sibling::dd[1]").inner_text().strip()


def confirm(page: Page, word: str, button: str) -> None:
    """The console's typed confirmation: type `word`, then press `button`."""
    dialog = page.get_by_role("dialog")
    dialog.get_by_label(f"To confirm, type {word} in the field.").fill(word)
    dialog.get_by_role("button", name=button, exact=True).click()
    expect(dialog).to_have_count(0)


def open_service(page: Page, service_id: str) -> None:
    open_nav(page, "Endpoint services")
    page.get_by_role("table", name="Endpoint services").get_by_role("link", name=service_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(service_id)


def open_endpoint(page: Page, endpoint_id: str) -> None:
    open_nav(page, "Endpoints")
    page.get_by_role("table", name="Endpoints").get_by_role("link", name=endpoint_id).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(endpoint_id)


# Step 1.14–1.18: the provider's endpoint service -----------------------------------------

def create_endpoint_service(page: Page, name: str, nlb_name: str, acceptance: bool = True,
                            private_dns_name: str | None = None) -> tuple[str, str]:
    """VPC > Endpoint services > Create endpoint service with the NLB; (service id, service name)."""
    open_nav(page, "Endpoint services")
    page.get_by_role("button", name="Create endpoint service").click()
    page.get_by_label("Name tag - optional").fill(name)
    page.get_by_label("Network", exact=True).check()
    page.get_by_role("table", name="Available load balancers").get_by_role(
        "checkbox", name=nlb_name, exact=True).check()
    page.get_by_label("Acceptance required").set_checked(acceptance)
    if private_dns_name:
        page.get_by_label("Associate a private DNS name with the service").check()
        page.get_by_label("Private DNS name", exact=True).fill(private_dns_name)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("status")).to_contain_text("Successfully created endpoint service")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"/ {name}")
    service_id = heading.inner_text().split(" / ")[0].strip()
    return service_id, detail(page, "Service name")


def verify_domain(page: Page, service_id: str) -> None:
    """Actions > Verify domain ownership for private DNS name; the status becomes verified."""
    open_service(page, service_id)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Verify domain ownership for private DNS name").click()
    expect(page.get_by_role("region", name="Details")).to_contain_text("verified", timeout=LIVE_MS)


# Step 2.6–2.7: allow the consumer -------------------------------------------------------

def open_allow_principals(page: Page, service_id: str) -> None:
    open_service(page, service_id)
    page.get_by_role("tab", name="Allow principals").click()
    page.get_by_role("tabpanel").get_by_role("button", name="Allow principals").click()
    expect(page.get_by_role("heading", name="Allow principals", level=1)).to_be_visible()


def allow_principal(page: Page, service_id: str, arn: str) -> None:
    """Endpoint service > Allow principals > Allow principals, one ARN; it is then listed."""
    open_allow_principals(page, service_id)
    page.get_by_label("ARN", exact=True).fill(arn)
    page.get_by_role("button", name="Allow principals").click()
    expect(page.get_by_role("table", name="Allow principals").get_by_role("row").filter(has_text=arn)).to_be_visible()


def remove_principal(page: Page, service_id: str, arn: str) -> None:
    open_service(page, service_id)
    page.get_by_role("tab", name="Allow principals").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_role("radio", name=f"Select {arn}").check()
    panel.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog").get_by_role("button", name="Delete", exact=True).click()
    expect(panel.get_by_role("table", name="Allow principals")).not_to_contain_text(arn)


def create_notification(page: Page, service_id: str, topic_arn: str) -> None:
    """Endpoint service > Notifications > Create notification for every event; it is then listed."""
    open_service(page, service_id)
    page.get_by_role("tab", name="Notifications").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_role("button", name="Create notification").click()
    panel.get_by_label("SNS topic ARN").fill(topic_arn)
    panel.get_by_role("region", name="Create notification").get_by_role("button", name="Create notification").click()
    expect(page.get_by_role("table", name="Notifications")).to_contain_text(topic_arn)


# Step 2.2–2.9: the consumer's endpoint ---------------------------------------------------

def start_endpoint(page: Page, service_name: str, name: str = "") -> bool:
    """Endpoints > Create endpoint, category "Endpoint services that use NLBs and GWLBs",
    the service name, Verify service; True when "Service name verified"."""
    open_nav(page, "Endpoints")
    page.get_by_role("button", name="Create endpoint").click()
    if name:
        page.get_by_label("Name tag - optional").fill(name)
    page.get_by_label("Endpoint services that use NLBs and GWLBs").check()
    page.get_by_label("Service name", exact=True).fill(service_name)
    page.get_by_role("button", name="Verify service").click()
    verdict = page.get_by_role("status").filter(has_text=re.compile("Service name (verified|could not be verified)"))
    expect(verdict).to_be_visible()
    return verdict.inner_text().strip() == "Service name verified."


def verify_service(page: Page, service_name: str) -> bool:
    """Step 2.5 / 2.8: what Verify service says for `service_name` (True: "Service name verified")."""
    return start_endpoint(page, service_name)


def create_endpoint(page: Page, name: str, service_name: str, security_group: str | None = None) -> str:
    """Step 2.9: the endpoint in the default VPC, one subnet in every zone the service is in; its id."""
    assert start_endpoint(page, service_name, name), f"{service_name} could not be verified"
    network = page.get_by_role("region", name="Network settings")
    zones = network.get_by_role("checkbox", name=re.compile(r"\([a-z]+\d-az\d\)$"))
    expect(zones.first).to_be_visible()
    for i in range(zones.count()):
        if zones.nth(i).is_enabled():
            zones.nth(i).check()
    if security_group:
        network.get_by_role("checkbox", name=security_group).check()
    dns = network.get_by_label("Enable DNS name")
    if dns.count():
        dns.check()
    page.get_by_role("button", name="Create endpoint").click()
    expect(page.get_by_role("status")).to_contain_text("Successfully created VPC endpoint")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text(f"/ {name}")
    return heading.inner_text().split(" / ")[0].strip()


# Step 2.11: the provider decides -------------------------------------------------------

def _decide(page: Page, service_id: str, endpoint_id: str, verb: str) -> None:
    open_service(page, service_id)
    page.get_by_role("tab", name="Endpoint connections").click()
    panel = page.get_by_role("tabpanel")
    panel.get_by_role("radio", name=f"Select {endpoint_id}").check()
    panel.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name=f"{verb} endpoint connection request").click()
    confirm(page, verb.lower(), verb)
    expect(page.get_by_role("status")).to_contain_text(f"Successfully {verb.lower()}ed")


def accept_connection(page: Page, service_id: str, endpoint_id: str) -> None:
    """Endpoint connections: select the request, Actions > Accept endpoint connection request."""
    _decide(page, service_id, endpoint_id, "Accept")
    row = page.get_by_role("table", name="Endpoint connections").get_by_role("row").filter(has_text=endpoint_id)
    expect(row).not_to_contain_text("Pending acceptance")


def reject_connection(page: Page, service_id: str, endpoint_id: str) -> None:
    """Endpoint connections: select the request, Actions > Reject endpoint connection request."""
    _decide(page, service_id, endpoint_id, "Reject")
    row = page.get_by_role("table", name="Endpoint connections").get_by_role("row").filter(has_text=endpoint_id)
    expect(row).to_contain_text("Rejected", timeout=LIVE_MS)


# Step 2.12: the endpoint is available ---------------------------------------------------

def wait_endpoint_available(page: Page, endpoint_id: str) -> list[str]:
    """The endpoint's details until Status is Available (live, no reload); its DNS names."""
    if not page.url.endswith(f"#/vpc/endpoints/{endpoint_id}"):
        open_endpoint(page, endpoint_id)
    panel = page.get_by_role("region", name="Details")
    expect(panel).to_contain_text("Available", timeout=LIVE_MS)
    return [n.strip() for n in panel.get_by_role("list", name="DNS names").get_by_role("listitem").all_inner_texts()]


# Step 3.1–3.2: deletes in the seed's order ----------------------------------------------

def delete_endpoint(page: Page, endpoint_id: str) -> None:
    """Endpoint > Actions > Delete VPC endpoint, typed "delete"; the list shows it going."""
    open_endpoint(page, endpoint_id)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete VPC endpoint").click()
    confirm(page, "delete", "Delete")
    expect(page.get_by_role("status")).to_contain_text(f"Successfully deleted VPC endpoint {endpoint_id}")
    row = page.get_by_role("table", name="Endpoints").get_by_role("row").filter(has_text=endpoint_id)
    expect(row).to_contain_text(re.compile("Deleting|Deleted"))


def delete_endpoint_service(page: Page, service_id: str) -> None:
    """Endpoint service > Actions > Delete endpoint service, typed "delete"; gone from the list."""
    open_service(page, service_id)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete endpoint service").click()
    confirm(page, "delete", "Delete")
    expect(page.get_by_role("status")).to_contain_text(f"Successfully deleted endpoint service {service_id}")
    expect(page.get_by_role("table", name="Endpoint services")).not_to_contain_text(service_id)
