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
