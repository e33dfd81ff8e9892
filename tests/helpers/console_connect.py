"""The Connect page's seed steps as a person does them: open an instance's Connect page,
press Connect, type into the terminal and read what it shows (seed steps 1.3 and 2.14
happen there). And what the attack tests need: the console's token as the page has it,
and the shells a server spawned."""
from __future__ import annotations

import re
import time
import urllib.request
from pathlib import Path

from .console import open_nav

#: Reads the terminal's whole buffer (scrollback too), wrapped rows joined back into lines,
#: trailing blanks trimmed (the empty rows below the cursor are not text yet).
BUFFER_TEXT = """(box) => {
  const b = box.vpclabTerminal.buffer.active;
  const lines = [];
  for (let i = 0; i < b.length; i++) {
    const line = b.getLine(i);
    const text = line.translateToString(true);
    if (line.isWrapped && lines.length) { lines[lines.length - 1] += text; } else { lines.push(text); }
  }
  return lines.join("\\n").trimEnd();
}"""

INSTANCE_ID = re.compile(r"i-[0-9a-f]{8,17}")


def terminal(page):
    """The terminal region of the page, as a person (and a screen reader) finds it."""
    return page.get_by_role("region", name="Terminal")


def open_connect_page(page, instance_name_or_id: str) -> str:
    """EC2 > Instances > the instance > Connect: the Connect to instance page; returns its id."""
    from playwright.sync_api import expect

    if not page.url.endswith("#/ec2/instances"):
        open_nav(page, "Instances")
    row = page.get_by_role("table", name="Instances").get_by_role("row").filter(has_text=instance_name_or_id)
    expect(row.first).to_contain_text(INSTANCE_ID)
    instance_id = INSTANCE_ID.search(row.first.inner_text()).group(0)
    # The instances list's own Connect button is another page's; the Connect page is its route.
    page.goto(page.url.split("#")[0] + f"#/ec2/instances/{instance_id}/connect")
    expect(page.get_by_role("heading", name="Connect to instance")).to_be_visible()
    return instance_id


def open_terminal(page, instance_name_or_id: str, timeout: float = 20.0) -> str:
    """Open the instance's Connect page, keep "EC2 Instance Connect", press Connect and wait
    for the shell's prompt; returns the instance id."""
    from playwright.sync_api import expect

    instance_id = open_connect_page(page, instance_name_or_id)
    page.get_by_role("tab", name="EC2 Instance Connect").click()
    expect(page.get_by_label("Connect using EC2 Instance Connect", exact=True)).to_be_checked()
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(terminal(page)).to_be_visible()
    wait_for_text(page, "]$", timeout)
    return instance_id


def terminal_text(page) -> str:
    return terminal(page).evaluate(BUFFER_TEXT)


def wait_for_text(page, expect_text: str, timeout: float = 20.0, after: int = 0) -> str:
    """The terminal's text once `expect_text` shows in it (past character `after`)."""
    deadline = time.monotonic() + timeout
    while True:
        text = terminal_text(page)
        if expect_text in text[after:]:
            return text
        if time.monotonic() > deadline:
            raise AssertionError(f"{expect_text!r} not in the terminal after {timeout}s; it shows:\n{text[-1500:]}")
        time.sleep(0.1)


def run_in_terminal(page, command: str, expect_text: str, timeout: float = 20.0) -> str:
    """Type `command` and Enter into the terminal, as a person does, and wait for
    `expect_text` in what follows; returns the terminal's text from the command on."""
    before = len(terminal_text(page))
    terminal(page).click()
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    text = wait_for_text(page, expect_text, timeout, after=before)
    return text[before:]


# ---- the seed's steps in the terminal ------------------------------------------------------

def start_nginx(page, instance_name_or_id: str, timeout: float = 30.0) -> str:
    """Step 1.3: connect to the instance and start nginx in it, then check it answers
    there. (vpclab's instances run the host's programs, so nginx is installed already;
    the shell is root's in fact, so no sudo.) Returns the instance id."""
    instance_id = open_terminal(page, instance_name_or_id)
    run_in_terminal(page, "sudo systemctl start nginx && curl -s http://127.0.0.1/ | grep -o 'Welcome to nginx'",
                    "\nWelcome to nginx", timeout)
    return instance_id


def curl_in_instance(page, instance_name_or_id: str, url: str, expect_text: str = "Welcome to nginx!",
                     timeout: float = 30.0) -> str:
    """Step 2.14 (and 1.4 from inside the VPC): connect to the instance and `curl` the
    URL or DNS name; returns what the terminal showed from the command on."""
    open_terminal(page, instance_name_or_id)
    return run_in_terminal(page, f"curl -s {url}", expect_text, timeout)


# ---- what the attack tests need ----------------------------------------------------------

def console_token(srv) -> str:
    """The token the console page carries (what only a page this server served knows)."""
    with urllib.request.urlopen(srv.url + "/console/") as resp:
        html = resp.read().decode()
    return re.search(r'name="vpclab-console-token" content="([^"]+)"', html).group(1)


def shells(srv) -> list[int]:
    """The server's children that run on a terminal: the shells the Connect page spawned
    (nothing else the server starts has a controlling terminal)."""
    pid = srv.proc.pid
    children: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            children |= {int(c) for c in (task / "children").read_text().split()}
        except OSError:
            continue
    found = []
    for child in sorted(children):
        try:
            stat = Path(f"/proc/{child}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z" and int(fields[4]) != 0:  # state, then ppid, pgrp, session, tty_nr
            found.append(child)
    return found
