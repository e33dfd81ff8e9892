"""The seed's EC2 steps in the console, as a person does them (by role and visible label):
launch an instance from the wizard, wait for it to run, edit a security group's inbound
rules, terminate. Each waits for its outcome on screen and returns what later steps need.
The page must be signed in (`tests.helpers.console.sign_in`).
"""
from __future__ import annotations

import re
from collections.abc import Sequence

from .console import open_nav

#: How long a state may take to move on screen (the pages poll; the data plane boots instances).
STATE_TIMEOUT_MS = 60_000

#: An inbound rule as a person enters it: (Type, Source) or (Type, Port range, Source).
Rule = tuple[str, str] | tuple[str, str, str]


def instance_row(page, name_or_id: str):
    return page.get_by_role("table", name="Instances").get_by_role("row").filter(has_text=name_or_id)


def launch_instance(page, name: str, *, user_data: str | None = None, allow_http: bool = True,
                    allow_ssh: bool = False, security_group: str | None = None,
                    instance_type: str | None = None) -> str:
    """EC2 > Instances > Launch instances: name, (a new launch-wizard group allowing HTTP and/or
    SSH, or `security_group` by name or id), user data; Launch instance. The new instance's id."""
    from playwright.sync_api import expect

    open_nav(page, "Instances")
    page.get_by_role("button", name="Launch instances").click()
    page.get_by_label("Name", exact=True).fill(name)
    if instance_type:
        page.get_by_label("Instance type").select_option(instance_type)
    if security_group:
        page.get_by_label("Select existing security group").check()
        groups = page.get_by_label("Common security groups")
        label = groups.locator("option").filter(has_text=security_group).first.text_content()
        groups.select_option(label=label)
    else:
        page.get_by_label("Create security group").check()
        page.get_by_label("Allow SSH traffic from").set_checked(allow_ssh)
        page.get_by_label("Allow HTTP traffic from the internet").set_checked(allow_http)
    if user_data is not None:
        page.get_by_role("button", name="Advanced details").click()
        page.get_by_label("User data").fill(user_data)
    page.get_by_role("button", name="Launch instance", exact=True).click()
    success = page.get_by_role("region", name="Success")
    expect(success).to_contain_text("Successfully initiated launch of instance")
    return success.get_by_role("link").first.inner_text()


def wait_state(page, name_or_id: str, state: str) -> None:
    """On the Instances list, wait (without reloading) until the instance shows `state`."""
    from playwright.sync_api import expect

    if not page.get_by_role("table", name="Instances").is_visible():
        open_nav(page, "Instances")
    expect(instance_row(page, name_or_id)).to_contain_text(state, timeout=STATE_TIMEOUT_MS)


def wait_running(page, name: str) -> None:
    wait_state(page, name, "running")


def instance_state_action(page, name_or_id: str, action: str, confirm: str | None = None) -> None:
    """Select the instance on the list, choose Instance state > `action` ("Stop instance",
    "Start instance", "Terminate instance") and confirm with the dialog's `confirm` button."""
    from playwright.sync_api import expect

    if not page.get_by_role("table", name="Instances").is_visible():
        open_nav(page, "Instances")
    instance_row(page, name_or_id).get_by_role("radio").check()
    page.get_by_role("button", name="Instance state").click()
    page.get_by_role("menuitem", name=action).click()
    if confirm:
        page.get_by_role("dialog").get_by_role("button", name=confirm, exact=True).click()
    done = {"Stop instance": "stopped", "Start instance": "started", "Terminate instance": "terminated"}[action]
    iid = instance_row(page, name_or_id).get_by_role("link").first.inner_text()
    expect(page.get_by_role("status")).to_contain_text(f"Successfully {done} {iid}")


def terminate(page, name: str) -> None:
    """Instance state > Terminate instance, confirmed; waits until the list shows terminated."""
    instance_state_action(page, name, "Terminate instance", confirm="Terminate")
    wait_state(page, name, "terminated")


def open_security_group(page, group_name_or_id: str) -> str:
    """EC2 > Security Groups, then the group's details; its id."""
    from playwright.sync_api import expect

    open_nav(page, "Security Groups")
    row = page.get_by_role("table", name="Security Groups").get_by_role("row").filter(
        has=page.get_by_role("cell", name=group_name_or_id, exact=True))
    expect(row).to_have_count(1)
    row.get_by_role("link").first.click()
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_contain_text("sg-")
    return heading.inner_text().split(" ")[0]


def _rule_of(group) -> tuple[str, str]:
    kind = group.get_by_label("Type", exact=True).evaluate("s => s.selectedOptions[0].textContent")
    return kind, group.get_by_label("Source", exact=True).input_value()


def edit_inbound(page, group_name_or_id: str, add: Sequence[Rule] = (("HTTP", "0.0.0.0/0"),),
                 remove: Sequence[tuple[str, str]] = (), expect_error: str | None = None) -> str:
    """Security group > Edit inbound rules: delete the rows of `remove` ((Type, Source)), add
    the rows of `add`, Save rules. Waits for the green banner, or with `expect_error` for the
    red one carrying that code. The group's id."""
    from playwright.sync_api import expect

    gid = open_security_group(page, group_name_or_id)
    page.get_by_role("tab", name="Inbound rules").click()
    page.get_by_role("button", name="Edit inbound rules").click()
    expect(page.get_by_role("heading", name="Edit inbound rules")).to_be_visible()
    rows = page.get_by_role("group", name=re.compile(r"^Inbound rule \d+$"))
    for gone in remove:
        for i in range(rows.count()):
            if _rule_of(rows.nth(i)) == tuple(gone):
                rows.nth(i).get_by_role("button", name="Delete").click()
                break
        else:
            raise AssertionError(f"no inbound rule {gone} to delete")
    for rule in add:
        kind, source = rule[0], rule[-1]
        page.get_by_role("button", name="Add rule").click()
        row = rows.last
        row.get_by_label("Type", exact=True).select_option(label=kind)
        if len(rule) == 3:
            row.get_by_label("Port range").fill(rule[1])
        if source == "0.0.0.0/0":
            row.get_by_label("Source type").select_option(label="Anywhere-IPv4")
        else:
            row.get_by_label("Source type").select_option(label="Custom")
            row.get_by_label("Source", exact=True).fill(source)
    page.get_by_role("button", name="Save rules").click()
    if expect_error:
        expect(page.get_by_role("alert")).to_contain_text(expect_error)
    else:
        expect(page.get_by_role("status")).to_contain_text("Inbound security group rules successfully modified")
    return gid
