"""The seed's ELBv2 steps (1.5-1.13 and the cleanup) done in the console as a person does
them: by the navigation, buttons and labels they see. Each waits for its outcome and
returns what later steps need. The page must be signed in (`tests.helpers.console.sign_in`)."""
from __future__ import annotations

import re

from .console import open_nav

#: How long a step waits for the console to show its outcome, ms.
TIMEOUT = 20_000

_TG_ARN = re.compile(r"^arn:aws:elasticloadbalancing:[^:]+:\d{12}:targetgroup/")
_DNS_NAME = re.compile(r"\.elb\.[a-z0-9-]+\.amazonaws\.com")


def open_target_groups(page) -> None:
    open_nav(page, "Target Groups")
    page.get_by_role("heading", name=re.compile(r"^Target groups \(\d+\)$")).wait_for()


def open_load_balancers(page) -> None:
    open_nav(page, "Load Balancers")
    page.get_by_role("heading", name=re.compile(r"^Load balancers \(\d+\)$")).wait_for()


def open_target_group(page, name: str) -> None:
    open_target_groups(page)
    page.get_by_role("table", name="Target groups").get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for()


def open_load_balancer(page, name: str) -> None:
    open_load_balancers(page)
    page.get_by_role("table", name="Load balancers").get_by_role("link", name=name, exact=True).click()
    page.get_by_role("heading", name=name, exact=True).wait_for()


def fill_target_group_details(page, name: str, port: int = 80, unhealthy_threshold: int | None = None) -> None:
    """Step 1 of Create target group: Instances, the name, TCP : port, the default VPC
    (and, when given, the Unhealthy threshold under Advanced health check settings)."""
    open_target_groups(page)
    page.get_by_role("button", name="Create target group").click()
    page.get_by_role("radio", name="Instances").check()
    page.get_by_label("Target group name").fill(name)
    page.get_by_label("Protocol", exact=True).select_option("TCP")
    page.get_by_label("Port", exact=True).fill(str(port))
    if unhealthy_threshold is not None:
        page.get_by_text("Advanced health check settings").click()
        page.get_by_label("Unhealthy threshold").fill(str(unhealthy_threshold))
    page.get_by_role("button", name="Next").click()
    page.get_by_role("heading", name="Register targets").wait_for()


def include_instances(page, instance_names: list[str], port: int = 80) -> None:
    """Step 2: tick the instances by name, set their port, "Include as pending below"."""
    from playwright.sync_api import expect

    available = page.get_by_role("table", name="Available instances")
    for name in instance_names:
        available.get_by_role("row").filter(has_text=name).get_by_role("checkbox").check()
    page.get_by_label("Ports for the selected instances").fill(str(port))
    page.get_by_role("button", name="Include as pending below").click()
    review = page.get_by_role("table", name="Review targets")
    for name in instance_names:
        expect(review.get_by_role("row").filter(has_text=name)).to_contain_text(str(port))


def create_target_group(page, name: str, instance_names: list[str], port: int = 80) -> str:
    """Seed steps 1.6-1.8: a TCP target group of instances with the named instances
    registered; returns its ARN (as the details page shows it)."""
    from playwright.sync_api import expect

    fill_target_group_details(page, name, port)
    include_instances(page, instance_names, port)
    page.get_by_role("button", name="Create target group").click()
    expect(page.get_by_role("status")).to_contain_text(f"Successfully created target group: {name}", timeout=TIMEOUT)
    expect(page.get_by_role("heading", name=name, exact=True)).to_be_visible()
    return page.get_by_role("region", name="Details").get_by_text(_TG_ARN).inner_text().strip()


def create_nlb(page, name: str, target_group: str, security_group: str | None = None) -> str:
    """Seed steps 1.9-1.11: an internet-facing NLB in the default VPC, every zone with its
    default subnet, the security group (by name; the default group when None) and a
    TCP:80 listener forwarding to `target_group`; returns its DNS name."""
    from playwright.sync_api import expect

    open_load_balancers(page)
    page.get_by_role("button", name="Create load balancer").click()
    page.get_by_role("region", name="Network Load Balancer").get_by_role("button", name="Create").click()
    page.get_by_role("heading", name="Create Network Load Balancer").wait_for()
    page.get_by_label("Load balancer name").fill(name)
    page.get_by_role("radio", name="Internet-facing").check()
    page.get_by_role("radio", name="IPv4").check()
    mappings = page.get_by_role("group", name="Mappings")
    for box in mappings.get_by_role("checkbox").all():
        box.check()
    if security_group is not None:
        page.get_by_role("listbox", name="Security groups").select_option(label=security_group)
    listener = page.get_by_role("region", name="Listeners and routing")
    listener.get_by_label("Protocol", exact=True).select_option("TCP")
    listener.get_by_label("Port", exact=True).fill("80")
    listener.get_by_role("combobox", name="Default action").select_option(label=target_group)
    page.get_by_role("button", name="Create load balancer").click()
    expect(page.get_by_role("status").filter(has_text="Successfully created load balancer")).to_contain_text(
        name, timeout=TIMEOUT)
    dns = page.get_by_role("region", name="Details").get_by_text(_DNS_NAME).inner_text()
    return dns.replace("(A Record)", "").strip()


def wait_nlb_active(page, name: str) -> None:
    """Seed step 1.12-1.13: the details page shows Status Active (it polls; no reload)."""
    from playwright.sync_api import expect

    if not page.get_by_role("heading", name=name, exact=True).is_visible():
        open_load_balancer(page, name)
    expect(page.get_by_role("status", name="Load balancer status")).to_have_text(
        re.compile(r"Active"), timeout=TIMEOUT)


def target_health_cell(page, instance_name: str):
    """The Health status cell of the instance's row in the Targets tab."""
    row = page.get_by_role("table", name="Registered targets").get_by_role("row").filter(has_text=instance_name)
    return row.get_by_role("cell").nth(5)


def wait_target_healthy(page, tg_name: str, instance_name: str, timeout: float = 60_000) -> None:
    """The Targets tab of `tg_name` shows the instance healthy (it polls; no reload)."""
    from playwright.sync_api import expect

    if not page.get_by_role("heading", name=tg_name, exact=True).is_visible():
        open_target_group(page, tg_name)
    page.get_by_role("tab", name="Targets").click()
    expect(target_health_cell(page, instance_name)).to_have_text(re.compile(r"^\W*healthy$"), timeout=timeout)


def delete_nlb(page, name: str) -> None:
    """Cleanup: Actions > Delete load balancer, typing "confirm" as the console asks."""
    from playwright.sync_api import expect

    open_load_balancer(page, name)
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete load balancer").click()
    dialog = page.get_by_role("dialog", name="Delete load balancer?")
    dialog.get_by_role("textbox").fill("confirm")
    dialog.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text(f"Successfully deleted load balancer: {name}", timeout=TIMEOUT)
    expect(page.get_by_role("table", name="Load balancers").get_by_role("link", name=name, exact=True)).to_have_count(0)


def delete_target_group(page, name: str) -> None:
    """Cleanup: select the target group, Actions > Delete, "Yes, delete"."""
    from playwright.sync_api import expect

    start_delete_target_group(page, name)
    expect(page.get_by_role("status")).to_contain_text(f"Successfully deleted target group: {name}", timeout=TIMEOUT)
    expect(page.get_by_role("table", name="Target groups").get_by_role("link", name=name, exact=True)).to_have_count(0)


def start_delete_target_group(page, name: str) -> None:
    """Select the target group in the list and confirm Actions > Delete (the outcome is the caller's)."""
    open_target_groups(page)
    page.get_by_role("radio", name=f"Select {name}", exact=True).check()
    page.get_by_role("button", name="Actions").click()
    page.get_by_role("menuitem", name="Delete").click()
    page.get_by_role("dialog", name="Delete target group").get_by_role("button", name="Yes, delete").click()
