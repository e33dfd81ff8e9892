"""EC2 > Instances > Connect: EC2 Instance Connect's terminal in the page, a real shell in
the instance (`vpclab ssh` on a pty behind /console/api/terminal), and the attacks on a
root shell driven by a web page: each forged upgrade is refused before anything is
spawned, and a page can reach only a running instance of its own account and region."""
from __future__ import annotations

import asyncio
import json
import re
from concurrent.futures import ThreadPoolExecutor

import aiohttp

from tests.helpers.accounts import ACCOUNT_1, ACCOUNT_2, REGION
from tests.helpers.console import needs_chromium, shot, sign_in
from tests.helpers.console_connect import (
    console_token,
    open_connect_page,
    open_terminal,
    run_in_terminal,
    shells,
    start_nginx,
    terminal,
)
from tests.helpers.instances import curl_ok, launch, vexec, wait_state
from tests.helpers.server import ServerProcess, free_port
from tests.helpers.waiting import wait_for

pytestmark = needs_chromium

PATH = "/console/api/terminal"


def _command_output(text: str, command: str) -> str:
    """The line the shell printed right after the line where `command` was typed."""
    lines = text.splitlines()
    at = next(i for i, line in enumerate(lines) if line.rstrip().endswith(command))
    return lines[at + 1].strip()


def test_connect_opens_a_shell_in_the_instance(browser, dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    web = launch(ec2, "demo-web", user_data=None)["InstanceId"]
    box = launch(ec2, "demo-server-instance", user_data=None)["InstanceId"]
    web_ip = wait_state(ec2, web, "running")["PrivateIpAddress"]
    box_ip = wait_state(ec2, box, "running")["PrivateIpAddress"]

    page = browser.new_page(viewport={"width": 1280, "height": 900})
    sign_in(page, srv, ACCOUNT_1)
    assert start_nginx(page, "demo-web") == web  # seed step 1.3, in the terminal
    assert curl_ok(srv, box, f"http://{web_ip}/")  # nginx answers across the VPC

    assert open_terminal(page, "demo-server-instance") == box
    assert "hello-42" in run_in_terminal(page, "echo hello-$((6*7))", "hello-42")
    host = "ip-" + box_ip.replace(".", "-")
    out = run_in_terminal(page, "hostname", f"\n{host}")
    assert _command_output(out, "hostname") == host

    # The pty's size is the page's, also after the window changes.
    def size_agrees() -> None:
        want = terminal(page).evaluate("(box) => `${box.vpclabTerminal.rows} ${box.vpclabTerminal.cols}`")
        out = run_in_terminal(page, "stty size", "\n" + want.split()[0] + " ")
        assert _command_output(out, "stty size") == want
    size_agrees()
    page.set_viewport_size({"width": 1000, "height": 700})
    wait_for(lambda: terminal(page).evaluate("(box) => box.vpclabTerminal.cols") < 100, what="the terminal refits")
    size_agrees()
    page.set_viewport_size({"width": 1280, "height": 900})

    # The other instance of the VPC serves a page; curl in the terminal shows it.
    out = run_in_terminal(page, f"curl -s http://{web_ip}/ | head -n 14", "Welcome to nginx!")
    assert "Welcome to nginx!" in out
    shot(page, "connect-terminal")

    # The quotes keep the typed command from matching: only the output says shell-pid=.
    out = run_in_terminal(page, 'echo "shell""-pid=$$"', "shell-pid=")
    shell_pid = int(re.search(r"shell-pid=(\d+)", out).group(1))
    assert vexec(srv, box, "test", "-e", f"/proc/{shell_pid}").returncode == 0
    # demo-web's session ended when its page was left: one shell is left, this one.
    wait_for(lambda: len(shells(srv)) == 1, timeout=10, what="one shell")
    page.close()  # the page goes: its shell ends
    wait_for(lambda: not shells(srv), timeout=10, what="the shell's processes end")
    wait_for(lambda: vexec(srv, box, "test", "-e", f"/proc/{shell_pid}").returncode != 0, timeout=10,
             what=f"pid {shell_pid} in the instance ends")
    assert "Welcome to nginx!" in curl_ok(srv, box, f"http://{web_ip}/")  # nginx outlives its session


def test_exiting_the_shell_closes_the_terminal(browser, dataplane_server):
    """Also with a job left running in the background that holds the pty open."""
    from playwright.sync_api import expect

    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "box", user_data=None)["InstanceId"]
    wait_state(ec2, box, "running")
    page = browser.new_page()
    sign_in(page, srv, ACCOUNT_1)
    open_terminal(page, box)
    terminal(page).click()
    page.keyboard.type("sleep 300 & exit 3")
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("The session ended (exit code 3).")
    wait_for(lambda: not shells(srv), timeout=10, what="no shell left")
    page.close()


# ---- attacks: a plain WebSocket client -------------------------------------------------------

async def _connect(srv, *, protocols=None, origin="same", host=None, headers=None,
                   **query) -> tuple[str, object]:
    """("refused", HTTP status) when the upgrade is refused; ("error", {Code, Message}) when
    the socket opened and the server refused the connection on it; ("open", first bytes)."""
    host = host or f"127.0.0.1:{srv.port}"
    headers = {"Host": host, **(headers or {})}
    origin = f"http://{host}" if origin == "same" else origin
    params = {"account": ACCOUNT_1, "region": REGION, "cols": "80", "rows": "24", **query}
    async with aiohttp.ClientSession() as session:
        try:
            ws = await session.ws_connect(srv.url + PATH, params=params, headers=headers, origin=origin,
                                          protocols=protocols or ())
        except aiohttp.WSServerHandshakeError as err:
            return "refused", err.status
        async with ws:
            msg = await ws.receive(timeout=20)
            if msg.type == aiohttp.WSMsgType.TEXT:
                body = json.loads(msg.data)
                return ("error", body["error"]) if "error" in body else ("text", body)
            if msg.type == aiohttp.WSMsgType.BINARY:
                return "open", msg.data
            return "closed", msg.type


def connect(srv, **kw) -> tuple[str, object]:
    # On a thread of its own: the module's browser (playwright) holds this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, _connect(srv, **kw)).result()


def test_forged_upgrades_are_refused_before_anything_is_spawned(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "box", user_data=None)["InstanceId"]
    wait_state(ec2, box, "running")
    token = console_token(srv)
    good = ("vpclab-console", token)
    other_port = srv.port + 1 if srv.port < 65535 else srv.port - 1

    forged = {
        "no token": {"protocols": ("vpclab-console",)},
        "no subprotocol": {"protocols": ()},
        "the token alone": {"protocols": (token,)},
        "a wrong token": {"protocols": ("vpclab-console", token[:-1] + ("A" if token[-1] != "A" else "B"))},
        "a non-ASCII token": {"protocols": ("vpclab-console", "é" * 10)},
        "a foreign Origin": {"protocols": good, "origin": "http://evil.example"},
        "another port's Origin": {"protocols": good, "origin": f"http://127.0.0.1:{other_port}"},
        "https Origin": {"protocols": good, "origin": f"https://127.0.0.1:{srv.port}"},
        "no Origin": {"protocols": good, "origin": None},
        "a rebound Host": {"protocols": good, "host": f"evil.example:{srv.port}"},
        "a cross-site fetch": {"protocols": good, "headers": {"Sec-Fetch-Site": "cross-site"}},
    }
    for what, kw in forged.items():
        assert connect(srv, instance=box, **kw) == ("refused", 403), what
        assert shells(srv) == [], what

    # The genuine one connects (so the refusals above are the checks, not a broken route).
    kind, data = connect(srv, instance=box, protocols=good)
    assert kind == "open", (kind, data)
    wait_for(lambda: not shells(srv), timeout=10, what="the shell ends with its socket")


def test_only_a_running_instance_of_the_account_and_region(dataplane_server):
    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "box", user_data=None)["InstanceId"]
    wait_state(ec2, box, "running")
    theirs = launch(srv.client("ec2", ACCOUNT_2), "theirs", user_data=None)["InstanceId"]
    wait_state(srv.client("ec2", ACCOUNT_2), theirs, "running")
    good = ("vpclab-console", console_token(srv))

    kind, err = connect(srv, instance=theirs, protocols=good)  # signed in as account 1
    assert (kind, err["Code"]) == ("error", "InvalidInstanceID.NotFound"), err
    kind, err = connect(srv, instance=box, protocols=good, region="eu-west-1")
    assert (kind, err["Code"]) == ("error", "InvalidInstanceID.NotFound"), err
    kind, err = connect(srv, instance="i-0123456789abcdef0", protocols=good)
    assert (kind, err["Code"]) == ("error", "InvalidInstanceID.NotFound"), err
    for bad in ("box", "i-1; rm -rf /", "--help"):
        kind, err = connect(srv, instance=bad, protocols=good)
        assert (kind, err["Code"]) == ("error", "InvalidArgsException"), (bad, err)
    kind, err = connect(srv, instance=box, protocols=good, account="12345")
    assert (kind, err["Code"]) == ("error", "InvalidArgsException"), err
    kind, err = connect(srv, instance=box, protocols=good, cols="100000")
    assert (kind, err["Code"]) == ("error", "InvalidArgsException"), err
    assert shells(srv) == []

    ec2.stop_instances(InstanceIds=[box])
    wait_state(ec2, box, "stopped")
    kind, err = connect(srv, instance=box, protocols=good)
    assert (kind, err["Code"]) == ("error", "EC2InstanceStateInvalidException"), err
    assert "not in a valid state" in err["Message"]
    assert shells(srv) == []


def test_a_stopped_instance_shows_the_console_error(browser, dataplane_server):
    from playwright.sync_api import expect

    srv = dataplane_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "box", user_data=None)["InstanceId"]
    wait_state(ec2, box, "running")
    ec2.stop_instances(InstanceIds=[box])
    wait_state(ec2, box, "stopped")
    page = browser.new_page()
    sign_in(page, srv, ACCOUNT_1)
    open_connect_page(page, box)
    page.get_by_role("button", name="Connect", exact=True).click()
    expect(page.get_by_role("alert")).to_contain_text("EC2InstanceStateInvalidException")
    assert shells(srv) == []
    page.close()


# ---- without the data plane --------------------------------------------------------------------

def test_without_the_data_plane_connect_says_it_cannot_connect(browser, console_server):
    from playwright.sync_api import expect

    srv = console_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "demo-server-instance", user_data=None)["InstanceId"]
    wait_state(ec2, box, "running")
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    sign_in(page, srv, ACCOUNT_1)
    assert open_connect_page(page, "demo-server-instance") == box
    expect(page.get_by_role("tab", name="EC2 Instance Connect")).to_have_attribute("aria-selected", "true")
    details = page.get_by_role("region", name="Instance")
    expect(details).to_contain_text(box)
    expect(page.get_by_label("Username")).to_have_value("ec2-user")
    expect(page.get_by_label("Connect using EC2 Instance Connect", exact=True)).to_be_checked()
    shot(page, "connect-page")

    page.get_by_role("tab", name="SSH client").click()
    expect(page.get_by_role("tabpanel")).to_contain_text(f"vpclab ssh --account {ACCOUNT_1} {box}")

    page.get_by_role("tab", name="EC2 Instance Connect").click()
    page.get_by_role("button", name="Connect", exact=True).click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("Failed to connect to your instance")
    expect(alert).to_contain_text("Error establishing SSH connection to your instance. Try again later.")
    assert "Traceback" not in srv.log()
    page.close()


def test_the_connect_page_of_another_accounts_instance_is_aws_error(browser, console_server):
    from playwright.sync_api import expect

    srv = console_server
    ec2 = srv.client("ec2", ACCOUNT_1)
    box = launch(ec2, "demo-server-instance", user_data=None)["InstanceId"]
    page = browser.new_page()
    sign_in(page, srv, ACCOUNT_2)
    page.goto(srv.url + f"/console/#/ec2/instances/{box}/connect")
    expect(page.get_by_role("alert")).to_contain_text("InvalidInstanceID.NotFound")
    page.close()


def test_a_strict_server_has_no_terminal(tmp_path):
    """A strict-mode server serves no console (it signs in without keys), so no terminal either."""
    srv = ServerProcess(tmp_path / "state", free_port(), env={"VPCLAB_STRICT_AUTH": "1"}).start()
    try:
        for origin in ("same", None):
            kind, status = connect(srv, instance="i-0123456789abcdef0", origin=origin,
                                   protocols=("vpclab-console", "any-token"))
            assert kind == "refused" and status != 101
    finally:
        srv.stop()
